/* messaging: SMS and e-mail. The API side validates and enqueues (in the caller's
   transaction: the message row and its job commit together); the worker side routes each
   message to the cheapest healthy provider (SMPP binds, Twilio-compatible or Telnyx-style
   HTTP APIs, SMTP relays) with failover and a circuit breaker, tracks receipts, and turns
   inbound messages into stored messages, events and sms_url requests. */
#ifndef IRISX_MESSAGING_H
#define IRISX_MESSAGING_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"

struct messaging;

#define SMS_SUBJECT "sms.send"
#define EMAIL_SUBJECT "email.send"
#define REPLY_SUBJECT "sms.reply" /* fetch an inbound message's sms_url, send its replies */

/* True for an alphanumeric sender id: 1-11 of [A-Za-z0-9 ], at least one letter. */
bool messaging_alnum_sender_valid(const char *s);

/* A refusal the API shows as {"error":{code, message, field}} with this HTTP status. */
struct messaging_refusal {
	int status;
	const char *code, *message, *field;
};

/* The rate decks in memory (price_cache.c), for the price at acceptance: shared by the
   API's threads, checked against the routing generation of each message's transaction. */
struct price_cache;
struct price_cache *price_cache_new(struct store *st);
void price_cache_free(struct price_cache *pc);
/* *ret: the cheapest rate (per segment or message) of tenant_id's candidate providers for
   channel ("sms" | "email") to dest, -1 if none is priced; from the copy when it is as new
   as gen (store_sms_facts' routing_gen), else read again first. */
int price_cache_cost(struct price_cache *pc, int64_t gen, const char *tenant_id,
		     const char *channel, const char *dest, int64_t *ret);
/* Read transactions the cache has made (its misses), for tests and figures. */
uint64_t price_cache_loads(struct price_cache *pc);

struct sms_request {
	const char *tenant_id, *from, *to, *body, *status_callback;
	struct price_cache *prices; /* NULL: the check reads the price with store_routes; else
				       messaging_sms_price sets it after the check's transaction */
	int validity_s;		    /* 0: none */
	uint64_t send_at_us;	    /* 0: now */
	bool allow_private;	    /* outbound.allow_private, for status_callback */
};
struct sms_accepted {
	char id[ID_LEN + 1];
	const char *encoding; /* "GSM-7" | "UCS-2" (static) */
	int segments;
	int64_t price_micros; /* of the cheapest route, -1 if none is priced */
	int64_t routing_gen;  /* the routing generation the check read */
	json_t *event_data;   /* optional, the caller's: message.queued's data, made before the
				 write transaction (messaging_sms_queued_data) so the writer only
				 inserts; NULL: made in the transaction */
	char *event_text;     /* optional, the caller's: event_data serialized (compact) */
};
/* The checks alone (a read transaction will do: the API runs them before its write, so the
   writer thread only inserts): 0 with *ret filled (id, encoding, segments, price), or
   -EINVAL with *ret_why filled (E.164, sender not the tenant's, opted-out recipient,
   body...). */
int messaging_sms_check_tx(struct store_tx *tx, const struct sms_request *r,
			   struct sms_accepted *ret, struct messaging_refusal *ret_why);
/* With r->prices: acc->price_micros from the decks in memory, once the check's transaction
   has ended (a copy older than acc->routing_gen is read again in a transaction of its own:
   never one inside another, which could wait forever for a pooled connection). */
int messaging_sms_price(struct store *st, const struct sms_request *r, struct sms_accepted *acc);
/* The enqueue alone, after a successful check: message row, job, message.queued event. */
int messaging_sms_enqueue_tx(struct bus *bus, struct store_tx *tx, const struct sms_request *r,
			     const struct sms_accepted *acc);
/* The data of the message.queued event of an accepted message (a new reference). */
json_t *messaging_sms_queued_data(const struct sms_request *r, const struct sms_accepted *acc);
/* Both in one transaction. */
int messaging_sms_submit_tx(struct bus *bus, struct store_tx *tx, const struct sms_request *r,
			    struct sms_accepted *ret, struct messaging_refusal *ret_why);
/* queued -> canceled. 1 if canceled, 0 if it had already left the queue. */
int messaging_sms_cancel_tx(struct store_tx *tx, const char *tenant_id, const char *id);

/* E-mail: req is the API body (validated here: from, to[], cc, bcc, reply_to, subject,
   text, html, attachments [{filename, content_type, content (base64)}], template_id,
   variables, status_callback). */
int messaging_email_submit_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			      const json_t *req, bool allow_private, char ret_id[ID_LEN + 1],
			      struct messaging_refusal *ret_why);

/* Provider configuration checks for the API: kind is smpp | twilio | telnyx | smtp. */
int messaging_provider_check(const char *kind, const json_t *config, bool allow_private,
			     struct messaging_refusal *ret_why);
/* Rates from CSV text ("prefix,cost" lines; cost in currency units, e.g. 0.0075; a header
   line is skipped): *ret is a JSON array of {prefix, cost_micros}. */
int messaging_rates_parse_csv(const char *csv, json_t **ret, struct messaging_refusal *ret_why);

/* The replies of a messaging TwiML answer: a JSON array of {body, to?, from?} (at most
   10). -EINVAL if it is not <Response> XML (or has a DTD), -E2BIG past 64 KiB. */
int messaging_twiml_replies(const char *xml, size_t len, json_t **ret);

/* ---- worker ---- */
int messaging_start(const struct config *cfg, struct store *st, struct bus *bus,
		    struct messaging **ret);
void messaging_stop(struct messaging *m); /* NULL-safe */
/* A provider was added or changed (API): drop its binds and cached state; an enabled SMPP
   provider binds again at once. */
void messaging_forget_provider(struct messaging *m, const char *provider_id);
/* An HTTP provider's webhook (receipt or inbound message) for provider_id. */
int messaging_http_webhook(struct messaging *m, const char *provider_id, const char *content_type,
			   const char *body, size_t len);

#endif
