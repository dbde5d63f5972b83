/* bus: durable publish / consume / ack / retry with dead letters. Two backends behind this
   header, chosen by bus.url: the store itself (default; a transactional outbox in the jobs
   table) and NATS JetStream (nats://...). At-least-once: a handler may see a message again
   after a crash, so side effects are keyed by the message id or a dedupe key. */
#ifndef IRISX_BUS_H
#define IRISX_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "store/store.h"

struct bus;
struct bus_consumer;

/* A message to publish. */
struct bus_pub {
	const char *subject;	/* e.g. "webhook.deliver"; [a-z0-9_.-], at most 64 bytes */
	const char *tenant_id;	/* owner (NULL: a system job) */
	const char *payload;	/* JSON text (or any UTF-8) */
	size_t payload_len;	/* 0: strlen(payload) */
	const char *dedupe_key; /* NULL: none; a second publish with the same subject + key is
				   dropped while the first is retained */
	const char *order_key;	/* NULL: none; on an ordered consumer, messages with the same
				   key are handled one at a time, in publish order */
	int max_attempts;	/* 0: the consumer's */
	uint64_t delay_us;	/* deliver no earlier than now + delay */
};

/* A delivered message. The handler owns it until it calls exactly one of bus_ack,
   bus_nak or bus_term (from any thread); that call frees it. */
struct bus_msg {
	char id[ID_LEN + 1];	    /* JB + 32 hex: stable across redeliveries */
	char tenant_id[ID_LEN + 1]; /* "" for system jobs */
	char *subject;
	char *payload;
	size_t payload_len;
	char *order_key;  /* NULL if none */
	int attempt;	  /* 1 on the first delivery */
	int max_attempts; /* the last attempt is attempt == max_attempts */
	uint64_t created_us;
	struct bus_consumer *consumer;
	void *impl; /* backend's handle */
};

typedef void(bus_msg_cb)(struct bus_msg *m, void *arg);

/* A durable consumer: one named group per subject; several processes or threads with the
   same name share the work. */
struct bus_consumer_opts {
	const char *name;	  /* durable name, e.g. "webhooks" */
	const char *subject;	  /* exact subject */
	int batch;		  /* messages claimed per round trip (default 256) */
	int max_inflight;	  /* handed out and not yet acked (default 1024) */
	uint64_t visibility_us;	  /* redelivered if not settled by then (default 60 s) */
	int max_attempts;	  /* default 5; then the message is dead-lettered */
	uint64_t backoff_base_us; /* nak with delay < 0: base * 2^(attempt-1), +-20% jitter */
	uint64_t backoff_max_us;  /* cap of that backoff */
	bool ordered;		  /* per order_key ordering */
};

/* Opens the backend named by cfg->bus_url ("" or "store": the store; nats://host:port). */
int bus_open(const struct config *cfg, struct store *st, struct bus **ret);
/* Stops every consumer (waits for their threads; unsettled messages are redelivered
   later), then closes. NULL-safe. */
void bus_close(struct bus *b);
const char *bus_backend_name(const struct bus *b); /* "store" | "nats" */

/* Publishes inside the caller's write transaction: the message commits (or rolls back)
   with the business write. With NATS it is relayed from the store's outbox after the
   commit. ret_id (may be NULL) gets the message id. */
int bus_publish_tx(struct bus *b, struct store_tx *tx, const struct bus_pub *p,
		   char ret_id[ID_LEN + 1]);
/* Publishes n messages in one transaction of its own (batched). */
int bus_publish(struct bus *b, const struct bus_pub *p, size_t n);
/* Tells local consumers that new messages may be ready (after a commit). */
void bus_kick(struct bus *b);

/* Starts a consumer; cb runs on the consumer's thread and must not block for long
   (hand the message to a worker and settle it later). */
int bus_subscribe(struct bus *b, const struct bus_consumer_opts *o, bus_msg_cb *cb, void *arg,
		  struct bus_consumer **ret);

/* Stops a consumer: no callbacks after it returns. Messages still unsettled after a grace
   period (5 s) are left for redelivery. */
void bus_unsubscribe(struct bus_consumer *c);

/* Done: never delivered again. */
void bus_ack(struct bus_msg *m);
/* Failed this time: redelivered after delay_us (< 0: the consumer's exponential backoff
   with jitter); past max_attempts it is dead-lettered with error. */
void bus_nak(struct bus_msg *m, int64_t delay_us, const char *error);
/* Not handled (shutting down): back to the queue at once, the attempt not counted. */
void bus_release(struct bus_msg *m);
/* Failed for good: dead-lettered now with error (retry it through the jobs API). */
void bus_term(struct bus_msg *m, const char *error);

/* Puts a dead-lettered message back for delivery, attempts reset (jobs API). tenant_id
   NULL: any tenant's. -ENOENT if unknown (or another tenant's), -EBUSY if not dead. */
int bus_retry(struct bus *b, const char *tenant_id, const char *id);

/* Counters for /metrics and benchmarks. */
struct bus_stats {
	uint64_t published, delivered, acked, naked, dead, redelivered;
};
void bus_stats(struct bus *b, struct bus_stats *ret);

/* Backoff for attempt (1-based): base * 2^(attempt-1) capped at max, with +-20% jitter. */
uint64_t bus_backoff_us(uint64_t base_us, uint64_t max_us, int attempt);

#endif
