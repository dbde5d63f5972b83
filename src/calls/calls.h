/* calls: the voice product on the engine. The API side validates and enqueues calls and
   live-call commands on the bus; the media side (calls_start, in `irisx serve`) owns the
   voice engine, runs call-control documents (TwiML XML or JSON), routes outbound legs to
   carriers by least cost with failover, and writes call records, recordings, status
   callbacks and call.* events (docs/calls.md). */
#ifndef IRISX_CALLS_H
#define IRISX_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"

/* Bus subjects the media side consumes. Payloads are JSON objects:
   call.dial     {"call_id"}   place a queued outbound-api call (paced per tenant CPS)
   call.control  {"call_id", "action": "redirect" | "hangup" | "cancel" | "transfer",
		  "url"?, "method"?, "twiml"?, "to"?, "mode"? ("blind" | "attended")} */
#define CALLS_DIAL_SUBJECT "call.dial"
#define CALLS_CONTROL_SUBJECT "call.control"

/* Twilio call statuses */
#define CALL_QUEUED "queued"
#define CALL_INITIATED "initiated"
#define CALL_RINGING "ringing"
#define CALL_IN_PROGRESS "in-progress"
#define CALL_COMPLETED "completed"
#define CALL_BUSY "busy"
#define CALL_FAILED "failed"
#define CALL_NO_ANSWER "no-answer"
#define CALL_CANCELED "canceled"

/* True for a status a call never leaves. */
bool calls_status_final(const char *status);

/* ---- the API side (calls/api.c): validation and enqueueing in the caller's transaction ---- */

/* A refusal the API shows as {"error":{code, message, field}} with this HTTP status. */
struct calls_refusal {
	int status;
	const char *code, *message, *field; /* static strings */
};

/* POST /v1/calls. body (borrowed, kept alive until the enqueue) holds the JSON fields:
   from, to, url | twiml | application_id, method, fallback_url, fallback_method,
   status_callback, status_callback_method, status_callback_events, timeout, time_limit,
   record (docs/calls.md "Calls API"). */
struct calls_request {
	const char *tenant_id;
	const json_t *body;
	bool allow_private;	  /* outbound.allow_private, for the URLs */
	const char *home_country; /* voice.home_country: the default allowed destination */
};
/* What the check accepted: strings point into the body or are static. */
struct calls_accepted {
	char id[ID_LEN + 1];	      /* CA... */
	const char *from, *to, *kind; /* kind: "pstn" | "sip" | "client" (client: and device:) */
	const char *url, *method, *fallback_url, *fallback_method, *twiml, *application_id;
	const char *status_callback, *status_callback_method;
	char events[48]; /* status_callback_events, space separated, in call order */
	int timeout_s, time_limit_s;
	bool record;
};
/* The checks alone (a read transaction will do): 0 with *ret filled, or -EINVAL with
   *ret_why filled (types, unknown fields, from not the tenant's for a PSTN callee, to not a
   number / sip: URI / client:, document source not exactly one, URLs the SSRF guard refuses,
   ranges), or another negative errno from the store. */
int calls_create_check_tx(struct store_tx *tx, const struct calls_request *r,
			  struct calls_accepted *ret, struct calls_refusal *ret_why);
/* After a successful check: the call row (queued, outbound-api), the CALLS_DIAL_SUBJECT job
   (deduplicated by the call id) and the call.queued event. */
int calls_create_enqueue_tx(struct bus *bus, struct store_tx *tx, const struct calls_request *r,
			    const struct calls_accepted *acc);
/* A command on one of the tenant's calls; cmd is {"action", ...} as CALLS_CONTROL_SUBJECT's
   payload without call_id. A queued call is changed here (redirect: its document; hangup and
   cancel: closed as canceled with a call.completed event); 1 then. A live call gets a
   CALLS_CONTROL_SUBJECT job; 0 then. -ENOENT for an unknown call; -EINVAL with *ret_why
   for a bad command, or 409 refusals: call_ended, call_not_cancelable (cancel once
   answered), call_not_in_progress (transfer before answer). */
int calls_control_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
		     const char *call_id, const json_t *cmd, bool allow_private,
		     struct calls_refusal *ret_why);
/* Validates a callee: E.164, sip:user@host[:port][;transport=udp|tcp|tls] (at most 256
   bytes) or client:NAME / device:NAME. *ret_kind as in calls_accepted. */
int calls_check_to(const char *to, const char **ret_kind);
/* The call.* event data of a calls row (docs/events.md): caller owns the result. */
json_t *calls_event_data(const json_t *row);

struct calls;

/* Starts the media side: the voice engine (voice.* settings), the event thread, the
   document workers, the consumers of call.dial and call.control, the carriers' trunks, and
   recovery of calls a dead run left open. */
int calls_start(const struct config *cfg, struct store *st, struct bus *bus, struct calls **ret);
void calls_stop(struct calls *c); /* hangs up live calls, closes their records; NULL-safe */
/* The SIP port of the engine (tests read it from the log line too). */
uint16_t calls_sip_port(const struct calls *c);

/* ---- text to speech resources (calls/tts.c) ---- */
/* Renders text once to data_dir/tts/<tenant_id>/<id>.wav (8 kHz mono 16-bit) with a JSON
   sidecar; id = "TT" + 32 hex of SHA-256(tenant|voice|language|text), so the same request
   answers the stored file. *ret_meta = {id, text, voice, language, duration_ms, bytes,
   created_at}. language NULL/"" = "en" (flite kal); voice NULL = the language's default.
   -EINVAL (text empty or over 4000 bytes), -ENOTSUP (language), -EBADMSG (voice not of that
   language), -EIO. Blocking: never on an engine thread. */
int calls_tts_render(const char *data_dir, const char *tenant_id, const char *text,
		     const char *voice, const char *language, json_t **ret_meta);
/* The WAV path of a rendered id; -EINVAL for a malformed id or tenant, -E2BIG. */
int calls_tts_path(const char *data_dir, const char *tenant_id, const char *id, char *out,
		   size_t cap);
/* [{voice, language, engine: "flite" | "espeak-ng"}] (caller owns it). */
json_t *calls_tts_voices(void);

#endif
