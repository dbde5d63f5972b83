/* internal.h: what the voice engine's files share; private to src/voice. Threads: the
   signalling threads (sip.c, one SIP stack each), the media threads (media.c), and the owner
   (engine.c API). */
#ifndef IRISX_VOICE_INTERNAL_H
#define IRISX_VOICE_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "voice/voice.h"

struct mqueue;
struct sig;
struct sigx;
struct sigx_shared;
struct media;

/* A media thread as the other threads see it: its queue and its counters. */
struct media_thread {
	struct voice_engine *e;
	unsigned idx;
	pthread_t thread;
	bool started;
	struct mqueue *mq; /* set by the thread before it posts ready */
	sem_t ready;
	int err;
	atomic_uint_fast64_t calls, ticks, late_max_us, skipped, rx, tx, rejected;
	atomic_uint_fast64_t late_5ms, work_max_us;
};

/* Signalling stacks: at most SIG_MAX; a call id carries its owner's index in the bits from
   SIG_ID_SHIFT up (below 2^53, so ids stay exact as JSON numbers) and an engine-wide counter
   below, so stack 0's ids are what one stack always gave and the hash tables, keyed on the
   low 32 bits, stay spread. */
enum { SIG_MAX = 16, SIG_ID_SHIFT = 48 };

/* A signalling thread as the other threads see it: its queue, port and load. Each has its
   own libre loop, sip stack, sipsess socket, dnsc and listeners (sip_port + idx). */
struct sig_thread {
	struct voice_engine *e;
	unsigned idx;
	pthread_t thread;
	bool started;
	struct mqueue *mq; /* set by the thread before it posts ready */
	sem_t ready;
	int err;
	uint16_t sip_port;	    /* bound, set before ready */
	atomic_uint_fast64_t calls; /* calls this stack holds (voice_call_dial's choice) */
	struct sigx *sx;	    /* its extras (limiters, counters), set before ready */
};

struct voice_engine {
	struct voice_config cfg; /* strings point into the buffers below */
	char sip_addr[64], media_addr[64], user_agent[64];
	char tls_cert[512], tls_ca[512];
	uint16_t tls_port; /* bound by stack 0; 0: no TLS listener */

	struct sig_thread *sig;
	unsigned nsig;

	struct media_thread *media;
	unsigned nmedia;

	/* calls: held by all stacks together (max_calls is engine-wide); port_cursor: the next
	   RTP pair slot, shared so the stacks start from different pairs (ports.c) */
	atomic_uint_fast64_t next_call, calls, sip_too_big, events_dropped, next_dial;
	atomic_uint port_cursor;

	pthread_mutex_t ev_lock;
	pthread_cond_t ev_cond;
	struct voice_event *ev_ring;
	size_t ev_cap, ev_head, ev_len;
	int ev_fd; /* eventfd: readable while events are queued */

	struct sigx_shared *sxs;    /* what the stacks' extras share: users, bindings (sigx.h) */
	pthread_mutex_t route_lock; /* route.c: call -> media thread, quality snapshots */
	struct route_tab *routes;
	struct rec_worker *recw; /* recorder.c */
	struct tts_worker *ttsw; /* tts.c */
};

/* Commands to the signalling thread (mqueue id) */
enum sig_cmd_type {
	SIG_ANSWER,
	SIG_REJECT,
	SIG_HANGUP,
	SIG_DIAL,
	SIG_PLAY,
	SIG_STOP_PLAY,
	SIG_DTMF,
	SIG_QUIT,
};

struct sig_cmd {
	uint64_t call;
	uint16_t code;
	unsigned loops, timeout_ms;
	struct voice_audio *audio; /* a reference the command owns */
	char digits[32];
	char uri[256], from[256];
	char auth_user[64], auth_pass[128]; /* SIG_DIAL: answer 401/407 with these */
};

/* Commands to a media thread (mqueue id) */
enum media_cmd_type {
	MEDIA_ADD,
	MEDIA_UPDATE,
	MEDIA_DEL,
	MEDIA_PLAY,
	MEDIA_STOP_PLAY,
	MEDIA_DTMF,
	MEDIA_QUIT,
	MEDIA_COLLECT,
	MEDIA_RECORD,
	MEDIA_STOP_RECORD,
	MEDIA_BRIDGE, /* call and peer on this thread */
	MEDIA_MOVE,   /* detach call, hand it to thread target, then bridge it with peer */
	MEDIA_ADOPT,  /* obj: a struct mcall from another thread */
	MEDIA_UNBRIDGE,
	MEDIA_HOLD,
	MEDIA_UNHOLD,
};

struct media_cmd {
	uint64_t call;
	int fd, fd_rtcp; /* MEDIA_ADD: the thread owns and closes them from then on */
	struct sockaddr_storage raddr;
	socklen_t rlen;
	bool latch, send;
	int pt, te_pt;
	unsigned loops;
	struct voice_audio *audio; /* a reference the command owns */
	char digits[32];
	uint64_t peer;		      /* BRIDGE, MOVE, ADOPT */
	unsigned target;	      /* MOVE */
	struct voice_collect collect; /* COLLECT */
	struct voice_record record;   /* RECORD (path points into obj) */
	void *obj;		      /* RECORD: struct rec; ADOPT: struct mcall */
};

/* util.c: core's helpers under names that do not clash with libre's */
void *vx_zalloc(size_t n); /* aborts on out-of-memory */
void vx_free(void *p);
void vx_rand(void *p, size_t n);
uint64_t vx_mono_us(void);

/* engine.c */
void engine_emit(struct voice_engine *e, const struct voice_event *ev);
/* A new call (or trunk) id owned by stack idx. */
uint64_t engine_new_id(struct voice_engine *e, unsigned idx);
/* Counts a call against max_calls (engine-wide); false at capacity. */
bool engine_call_reserve(struct voice_engine *e);
/* Pushes a command to the stack owning call; -ENOENT if no stack could own it. The command
   is not freed on failure. */
int engine_sig_push(struct voice_engine *e, uint64_t call, int type, void *cmd);
/* Trap 2: the size of every thread's libre descriptor table; fd numbers are process-wide. */
int engine_fd_table_size(void);
int engine_media_push(struct voice_engine *e, unsigned idx, int type, struct media_cmd *cmd);

/* sigx.c: the signalling extras' settings, shared state and counters */
void sigx_config_default(struct voice_config *cfg);
int sigx_shared_alloc(struct voice_engine *e, struct sigx_shared **ret);
void sigx_shared_free(struct sigx_shared *sh);
void sigx_stats(struct voice_engine *e, struct voice_stats *ret); /* summed over the stacks */
/* registrar.c: the stack holding the binding uri dials ("device:user", or an AOR on our realm
   and ports); -ENOENT if there is none. Any thread. */
int registrar_stack(struct voice_engine *e, const char *uri, unsigned *ret_idx);
/* route.c */
/* Priority inheritance: a SCHED_FIFO media thread waiting on a lock lends its priority to the
   holder, so a preempted signalling or owner thread cannot stall the ticks. */
void engine_mutex_init_pi(pthread_mutex_t *m);
int route_init(struct voice_engine *e);
void route_free(struct voice_engine *e);
int route_media_push(struct voice_engine *e, unsigned idx, int type, struct media_cmd *cmd);
/* Pushes to the thread holding call; -ENOENT if it has no media. */
int route_push(struct voice_engine *e, uint64_t call, int type, struct media_cmd *cmd);
/* Pushes to thread idx and records that the call now lives there. */
int route_move(struct voice_engine *e, uint64_t call, unsigned idx, int type,
	       struct media_cmd *cmd);
/* cmd->call and cmd->peer: a BRIDGE when they share a thread, else a MOVE of peer. */
int route_bridge(struct voice_engine *e, struct media_cmd *cmd);
void route_publish(struct voice_engine *e, uint64_t call, const struct voice_quality *q);
int route_quality(struct voice_engine *e, uint64_t call, struct voice_quality *ret);

/* recorder.c: the recording writer thread; struct rec crosses from a media thread to it */
struct rec;
int rec_worker_start(struct voice_engine *e);
void rec_worker_stop(struct voice_engine *e);
/* A recording to be written to path; the writer opens the file. NULL if no memory. */
struct rec *rec_new(struct voice_engine *e, uint64_t call, const char *path, bool trim,
		    int silence_dbm0);
/* Media thread: samples received (dropped and counted if the writer falls 2 s behind). */
void rec_push(struct rec *r, const int16_t *pcm, size_t n);
bool rec_failed(const struct rec *r);
/* Media thread: no more samples; the writer finishes the file, emits RECORD_DONE, frees. */
void rec_end(struct rec *r, int reason);
/* Frame power in dBm0 of n samples (-100 for digital silence). */
double rec_dbm0(const int16_t *pcm, size_t n);

/* tts.c: the synthesis worker */
int tts_worker_start(struct voice_engine *e);
void tts_worker_stop(struct voice_engine *e);
int tts_say(struct voice_engine *e, uint64_t call, const char *text, const char *lang,
	    unsigned loops);

/* sip.c: a signalling thread's body (arg: its struct sig_thread) */
void *sig_main(void *arg);

/* media.c: a media thread's body */
void *media_main(void *arg);

/* rtp port pairs, bound by the signalling threads (ports.c); cursor is shared by them */
int ports_bind_pair(const char *addr, uint16_t min, uint16_t max, atomic_uint *cursor, int *ret_fd,
		    int *ret_fd_rtcp, uint16_t *ret_port);

#endif
