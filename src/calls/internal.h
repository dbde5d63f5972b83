/* internal.h (private to src/calls): the call service's shared state. One control thread
   owns every call (struct ccall) and the engine's commands; blocking work (store reads,
   document and audio fetches, LCR lookups) runs on the worker pool and comes back as a
   task; store writes go through the persist thread in batches (docs/calls.md "Runtime"). */
#ifndef IRISX_CALLS_INTERNAL_H
#define IRISX_CALLS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "calls.h"
#include "doc.h"
#include "policy.h"
#include "voice/voice.h"

/* What a call waits for before its program goes on. */
enum cwait {
	W_NONE,	  /* running (or idle between verbs) */
	W_FETCH,  /* a document fetch */
	W_ANSWER, /* the engine's ANSWERED (inbound answer sent, or outbound ringing) */
	W_PLAY,	  /* PLAY_DONE of a Say/Play (or a Gather child) */
	W_AUDIO,  /* a Play's audio being loaded */
	W_PAUSE,  /* a timer */
	W_GATHER, /* COLLECTED, after the children played */
	W_RECORD, /* RECORD_DONE */
	W_DIAL,	  /* the Dial's child leg */
	W_HOLD,	  /* attended transfer: on hold while the consult leg rings */
	W_ENDED,  /* over; waiting for the record to be written */
};

/* One leg. Owned by the control thread; other threads refer to it by lid. */
struct ccall {
	uint64_t lid; /* our key (never reused) */
	uint64_t eid; /* the engine's call id, 0 until dialled / while queued */
	char id[ID_LEN + 1], tenant[ID_LEN + 1], parent[ID_LEN + 1];
	char direction[16]; /* inbound | outbound-api | outbound-dial */
	char from[130], to[130];
	char status[16];
	char *auth_token; /* the tenant's (signs document requests) */
	char *status_callback, *status_callback_method;
	unsigned sc_events; /* CDOC_EV_* bits */
	char *fallback_url, *fallback_method;
	bool fallback_tried;
	bool record_call; /* POST /v1/calls record: the whole call */

	/* the program */
	char *doc_url;	    /* the current document's URL (base of relative URLs); NULL inline */
	char doc_method[8]; /* of an outbound-api call's first request */
	char *sip_user, *sip_pass; /* Dial <Sip username password> */
	struct cdoc *doc;
	size_t pc;		     /* next verb */
	const struct cdoc_verb *cur; /* running verb (points into doc) */
	enum cwait wait;
	unsigned gen; /* bumped when the program changes: stale results are dropped */
	size_t child; /* Gather: next child to run */
	bool collect_done;
	char digits[33];
	int collect_end;
	unsigned loops_left;

	/* state */
	bool answered, ended, hangup_sent, error_prompt;
	uint64_t created_us, ring_us, answer_us;
	int sip_code;
	int end_cause;	      /* enum voice_end */
	uint64_t deadline_us; /* time limit */

	/* legs: a Dial parent and its child, or a bridged pair */
	uint64_t peer_lid;   /* bridged with */
	uint64_t dial_lid;   /* parent: the Dial's child leg being dialled / bridged */
	uint64_t parent_lid; /* child: its parent */
	uint64_t xfer_lid;   /* a transfer's consult leg */
	bool xfer_attended;
	size_t noun; /* Dial: next noun to try */
	char dial_status[16];
	uint64_t dial_answer_us;

	/* outbound routing of this leg */
	json_t *routes;	  /* ranked carrier rows */
	size_t route_i;	  /* next to try */
	json_t *attempts; /* [{carrier_id, code, ...}] */
	char carrier_id[ID_LEN + 1];
	int64_t rate_micros; /* per minute of the carrier that answered, < 0 unpriced */
	int min_s, incr_s;
	char target[300]; /* number / URI being dialled */
	char send_digits[40];
	unsigned dial_timeout_s;
	uint64_t job_lid; /* an outbound-api call's bus message, acked once dialled */
	struct bus_msg *job;

	/* recording in progress */
	char rec_id[ID_LEN + 1];
	char *rec_cb, *rec_cb_method;
	bool rec_whole; /* record_call / Dial record: no action after */

	struct voice_quality q;
	bool have_q;
	json_t *recordings;		   /* ids */
	struct ccall *next_lid, *next_eid; /* hash chains */
};

/* A result coming back to the control thread. */
enum task_kind {
	T_INBOUND, /* an INCOMING call resolved: doc or error */
	T_DOC,	   /* a document fetched and parsed */
	T_AUDIO,   /* a Play's audio loaded */
	T_DIAL,	   /* an outbound-api call to place (from the call.dial consumer) */
	T_ROUTES,  /* a leg's carriers ranked */
	T_CONTROL, /* a call.control command */
	T_REFUSED, /* an outbound-api call refused before dialling (settled by the consumer) */
};

struct task {
	enum task_kind kind;
	uint64_t lid;
	unsigned gen;
	int err;
	char *error;	  /* why a fetch failed (malloc'd) */
	struct cdoc *doc; /* T_DOC, T_INBOUND */
	char *url;	  /* the document's URL */
	json_t *row;	  /* T_INBOUND: the resolved setup; T_DIAL: the call row;
			     T_ROUTES: ranked carriers; T_CONTROL: the command */
	struct voice_audio *audio;
	struct bus_msg *msg;
	uint64_t eid;
	struct task *next;
};

struct calls {
	const struct config *cfg;
	struct store *st;
	struct bus *bus;
	struct voice_engine *engine;
	char run[ID_LEN + 1]; /* this process's run id (calls.engine_run) */
	struct policy_pacer *pacer;

	/* control thread */
	pthread_t ctl;
	int wake[2]; /* pipe: tasks queued */
	pthread_mutex_t tlock;
	struct task *thead, **ttail;
	volatile int stopping;

	/* calls, by lid and by eid */
	struct ccall *by_lid[4096], *by_eid[4096];
	uint64_t next_lid;
	size_t ncalls;
	struct ctimer *timers;
	size_t ntimers, captimers;

	/* worker pool */
	pthread_t *workers;
	size_t nworkers;
	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	struct work *whead, **wtail;
	bool wstop;

	/* persist thread */
	pthread_t persister;
	pthread_mutex_t plock;
	pthread_cond_t pcond;
	struct pjob *phead, **ptail;
	size_t pqueued;
	bool pstop;

	/* audio cache (Play URLs), worker side */
	pthread_mutex_t alock;
	struct acache *audio;
	size_t naudio;

	/* carriers as trunks; channels in use per carrier */
	json_t *trunks;	   /* {carrier_id: {trunk, updated_us}} (control thread) */
	json_t *trunk_ids; /* {"<trunk id>": carrier_id} */
	json_t *channels;  /* {carrier_id: n} */
	json_t *held_off;  /* {carrier_id: until_us}: a Retry-After from the carrier */
	uint64_t trunks_at_us, beat_at_us;

	struct bus_consumer *dial_consumer, *control_consumer;
	struct voice_audio *hold_music, *error_audio;
	char rec_dir[512];
};

/* ---- service.c: queues, timers, call table ---- */
void calls_post(struct calls *c, struct task *t); /* any thread */
typedef void(work_fn)(struct calls *c, void *arg);
void calls_work(struct calls *c, work_fn *fn, void *arg); /* runs fn on a worker */
/* A store write run on the persist thread, batched with others in one transaction. fn's
   arg is freed with free_fn after it ran (NULL: free()). */
void calls_persist(struct calls *c, store_tx_fn *fn, void *arg, void (*free_fn)(void *));
void calls_timer(struct calls *c, struct ccall *k, uint64_t due_us, int what);
struct ccall *ccall_new(struct calls *c);
struct ccall *ccall_by_lid(struct calls *c, uint64_t lid);
struct ccall *ccall_by_eid(struct calls *c, uint64_t eid);
struct ccall *ccall_by_id(struct calls *c, const char *id);
void ccall_set_eid(struct calls *c, struct ccall *k, uint64_t eid);
void ccall_free(struct calls *c, struct ccall *k);

enum { TM_PAUSE = 1, TM_LIMIT, TM_DIAL_CPS, TM_DIGITS };

/* ---- trunks.c: carriers as engine trunks ---- */
void trunks_work(struct calls *c, void *arg);	 /* worker: loads the carriers */
void trunks_sync(struct calls *c, json_t *rows); /* control: adds, changes, removes */
void trunks_on_event(struct calls *c, const struct voice_event *ev); /* TRUNK_* events */

/* ---- interp.c: the document interpreter (inbound.c: an INVITE to a number) ---- */
/* Starts (or replaces) a call's program with doc fetched from url (NULL: inline). */
void interp_run(struct calls *c, struct ccall *k, struct cdoc *doc, const char *url);
/* Runs verbs until one has to wait. */
void interp_step(struct calls *c, struct ccall *k);
/* A document request (action, Redirect, the first fetch): params added to the common
   ones; url resolved against the current document. */
void interp_fetch(struct calls *c, struct ccall *k, const char *url, const char *method,
		  json_t *extra);
/* A document failed (fetch or parse): fallback URL, else the error prompt; call.error. */
void interp_doc_failed(struct calls *c, struct ccall *k, const char *url, const char *why);
void interp_on_event(struct calls *c, struct ccall *k, const struct voice_event *ev);
void interp_on_timer(struct calls *c, struct ccall *k, int what);
void interp_on_audio(struct calls *c, struct ccall *k, struct voice_audio *a, const char *err);
/* The common request parameters of a call (CallSid, AccountSid, From, To, ...). */
json_t *interp_params(const struct ccall *k);
/* url made absolute against the current document (malloc'd; NULL for NULL or ""). */
char *interp_abs_url(const struct ccall *k, const char *url);
/* Worker: fetches and parses a document (irisx: applications resolved locally). */
struct fetch_req {
	uint64_t lid;
	unsigned gen;
	char tenant[ID_LEN + 1];
	char *url, *method, *auth_token;
	json_t *params;
};
void interp_fetch_work(struct calls *c, void *arg);
/* The document a request names (worker); NULL with *ret_err (malloc'd) on failure. */
struct cdoc *interp_fetch_doc(struct calls *c, struct fetch_req *f, char **ret_err);
void interp_on_incoming(struct calls *c, const struct voice_event *ev); /* INCOMING */
void interp_on_inbound(struct calls *c, struct task *t);		/* T_INBOUND */
/* audio.c: a Play's audio (worker; arg is a fetch_req with url), the cache */
void interp_audio_work(struct calls *c, void *arg);
void interp_audio_cache_free(struct calls *c);

/* ---- legs.c: dialling, LCR failover, Dial, bridges; guard.c: checks and the consumers;
   xfer.c: live-call commands and transfers ---- */
/* A leg's checks and carriers (guard.c, on a worker): msg for a call.dial job, else lid. */
struct leg_prep {
	struct bus_msg *msg;
	uint64_t lid; /* Dial children: the leg asking */
	char tenant[ID_LEN + 1];
	char to[300];
};
/* worker: a leg to a number gets its guardrails checked and its carriers ranked (T_ROUTES) */
void legs_routes_work(struct calls *c, void *arg);
/* the next attempt of a leg: the next carrier (numbers) or the URI itself */
void legs_place(struct calls *c, struct ccall *k);
void legs_on_dial_task(struct calls *c, struct task *t); /* T_DIAL */
void legs_on_routes(struct calls *c, struct task *t);	 /* T_ROUTES */
void legs_on_control(struct calls *c, struct task *t);	 /* T_CONTROL */
/* Verb Dial on parent k: starts its first noun. */
void legs_dial_verb(struct calls *c, struct ccall *k);
/* Engine events of a leg that is a child or being dialled. */
bool legs_on_event(struct calls *c, struct ccall *k, const struct voice_event *ev);
/* k ended: tell its parent, peer, child. */
void legs_on_hangup(struct calls *c, struct ccall *k);
void legs_on_timer(struct calls *c, struct ccall *k, int what);
/* Transfers k's far party to `to` (E.164 through LCR, sip:, client:): blind, or attended
   (xfer.c). */
void legs_transfer(struct calls *c, struct ccall *k, const char *to, bool attended);
/* a transfer's new far party answered */
void legs_xfer_answered(struct calls *c, struct ccall *x);
void legs_dial_consumer(struct bus_msg *m, void *arg);
void legs_control_consumer(struct bus_msg *m, void *arg);

/* ---- records.c: the store side ---- */
/* Status change of a live call: row update, call.* event and status callback. */
void rec_status(struct calls *c, struct ccall *k, const char *status);
/* The call record at hangup (and the completed callback and event). */
void rec_finish(struct calls *c, struct ccall *k, const struct voice_event *ev, const char *reason);
void rec_insert_leg(struct calls *c, struct ccall *k); /* a Dial child's row */
void rec_error(struct calls *c, struct ccall *k, const char *url, const char *why);
/* the far end sent REFER: a call.transferred event (the transfer itself is legs_transfer) */
void rec_refer(struct calls *c, struct ccall *k, const char *to);
void rec_recording_start(struct calls *c, struct ccall *k, const char *source);
void rec_recording_done(struct calls *c, struct ccall *k, const struct voice_event *ev);
void rec_carrier_health(struct calls *c, const char *carrier_id, const char *health,
			const char *reg);
/* System-scope recovery of calls a dead run left open. Worker. */
void rec_recover(struct calls *c, void *arg);
void rec_heartbeat(struct calls *c);
/* "+" digits of a URI's user part, a tel/E.164 string, or "" */
void rec_e164(const char *uri, char *out, size_t cap);
char *xstrdup(const char *s); /* NULL-safe strdup */
/* Logs msg with "component": "calls" and NULL-terminated key, value string pairs. */
void calls_log(enum log_level lvl, const char *msg, ...);

#endif
