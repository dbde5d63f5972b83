/* webhooks: the event catalogue, emitting events (stored, then one delivery job per
   subscribed endpoint, in the caller's transaction), per-request callbacks
   (statusCallback URLs), and the deliverer that signs and sends them with retries. */
#ifndef IRISX_WEBHOOKS_H
#define IRISX_WEBHOOKS_H

#include <stdbool.h>

#include <jansson.h>

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"

struct webhooks;

/* Bus subjects the deliverer consumes. */
#define WEBHOOK_SUBJECT "webhook.deliver"
#define CALLBACK_SUBJECT "webhook.callback"

/* Attempts of the retry schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
#define WEBHOOK_ATTEMPTS 8
/* Seconds to wait after a failed attempt (1-based) before the next one. */
int64_t webhooks_retry_delay_s(int attempt);

/* ---- event catalogue (docs/events.md) ---- */
/* True if type is in the catalogue. */
bool webhooks_event_known(const char *type);
/* A subscription pattern: "*", a family wildcard such as "call.*", or a known type. */
bool webhooks_pattern_valid(const char *pattern);
bool webhooks_pattern_match(const char *pattern, const char *type);
/* The catalogue as a JSON array of {type, description}. */
json_t *webhooks_catalogue(void);

/* ---- emitting (any role; needs only the store and the bus) ---- */
/* Stores event (type, data: a JSON object, borrowed) of tenant_id and queues a delivery
   to each enabled endpoint whose patterns match, all in tx. only_endpoint (may be NULL)
   restricts delivery to that endpoint (test events). ret_event_id may be NULL. Call
   bus_kick after the transaction commits for the fastest delivery. */
int webhooks_emit_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id, const char *type,
		     json_t *data, const char *only_endpoint, char ret_event_id[ID_LEN + 1]);
/* webhooks_emit_tx to every matching endpoint, with data already serialized (compact) in
   dtext, made outside the transaction (NULL: serialized here). */
int webhooks_emit_text_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			  const char *type, json_t *data, const char *dtext);
/* Queues one more delivery of an already stored event to an endpoint (replay); a new job
   each time. */
int webhooks_replay_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
		       const char *event_id, const char *endpoint_id, char ret_job_id[ID_LEN + 1]);
/* Queues a per-request callback: params (a JSON object of strings, borrowed) sent
   form-encoded by POST (or in the query by GET) to url, signed with X-Twilio-Signature
   under the tenant's auth token. */
int webhooks_callback_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			 const char *url, const char *method, json_t *params);

/* ---- URLs and secrets for the API ---- */
/* 0, or -EINVAL with a static reason (scheme, host, private address, ...). */
int webhooks_check_url(const char *url, bool allow_private, const char **ret_reason);
#define WEBHOOK_SECRET_MAX 64
void webhooks_secret_new(char out[WEBHOOK_SECRET_MAX]);
/* A new tenant auth token (32 hex characters, as Twilio's). */
void webhooks_auth_token_new(char out[33]);

/* ---- a blocking fetch of a tenant's document (call from worker threads) ---- */
struct webhooks_fetch {
	const char *url, *method; /* "POST" (default) or "GET" */
	const char *auth_token;	  /* signs X-Twilio-Signature (NULL: unsigned) */
	json_t *params;		  /* strings, sent form-encoded (POST) or in the query (GET) */
	int timeout_ms;		  /* 0: 15 s */
	size_t max_body;	  /* 0: 64 KiB; a longer answer fails with "too_large" */
	bool allow_private;	  /* outbound.allow_private */
};
struct webhooks_fetch_result {
	int status;	   /* HTTP status, 0 if none */
	const char *error; /* NULL on an answer, else a static reason (blocked_address, ...) */
	char *body;	   /* the answer (malloc'd, NUL-terminated) on success */
	size_t body_len;
	char content_type[128];
};
/* 0 with *ret filled when an answer came (any status; 3xx are not followed), else -EIO
   (or -EINVAL for a bad URL) with ret->error. */
int webhooks_fetch(const struct webhooks_fetch *f, struct webhooks_fetch_result *ret);

/* ---- the deliverer (worker role) ---- */
int webhooks_start(const struct config *cfg, struct store *st, struct bus *bus,
		   struct webhooks **ret);
/* Drops what it caches about an endpoint (after an API change on this node). */
void webhooks_forget_endpoint(struct webhooks *w, const char *endpoint_id);
/* Stops consuming; in-flight deliveries are aborted and retried later. NULL-safe. */
void webhooks_stop(struct webhooks *w);

struct webhooks_stats {
	uint64_t sent, delivered, failed, in_flight;
};
void webhooks_stats(struct webhooks *w, struct webhooks_stats *ret);

#endif
