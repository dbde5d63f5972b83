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
