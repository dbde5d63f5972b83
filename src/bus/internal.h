/* internal.h: the contract between bus.c (shared consumer machinery) and its backends
   (store_backend.c, nats.c). Private to src/bus. */
#ifndef IRISX_BUS_INTERNAL_H
#define IRISX_BUS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "bus.h"

enum bus_settle { SETTLE_ACK, SETTLE_NAK, SETTLE_TERM, SETTLE_RELEASE };

struct bus_backend {
	const char *name;
	int (*open)(struct bus *b);
	void (*close)(struct bus *b); /* after every consumer has stopped */
	/* Publishes n messages outside any caller transaction. */
	int (*publish)(struct bus *b, const struct bus_pub *p, size_t n);
	/* Inside the caller's transaction (the transactional outbox). */
	int (*publish_tx)(struct bus *b, struct store_tx *tx, const struct bus_pub *p,
			  char ret_id[ID_LEN + 1]);
	/* Starts delivering to c (threads of the backend's own); c->cb gets each message. */
	int (*subscribe)(struct bus *b, struct bus_consumer *c);
	/* Stops c's threads; messages handed out and not settled are left for redelivery. */
	void (*unsubscribe)(struct bus_consumer *c);
	/* Applies a settlement (may queue it and apply it in a batch later); frees nothing. */
	void (*settle)(struct bus_msg *m, enum bus_settle how, int64_t delay_us, const char *error);
	/* Dead letter back to delivery (see bus_retry). */
	int (*retry)(struct bus *b, const char *tenant_id, const char *id);
	/* Wakes idle consumers (new work may be ready). May be NULL. */
	void (*kick)(struct bus *b);
};

struct bus {
	const struct bus_backend *be;
	const struct config *cfg;
	struct store *st;
	void *impl;
	pthread_mutex_t lock;
	struct bus_consumer *consumers; /* list, under lock */
	atomic_ulong published, delivered, acked, naked, dead, redelivered;
};

struct bus_consumer {
	struct bus *bus;
	struct bus_consumer_opts o; /* defaults filled in; strings owned */
	bus_msg_cb *cb;
	void *arg;
	atomic_int inflight; /* handed out, not settled */
	void *impl;
	struct bus_consumer *next;
};

extern const struct bus_backend bus_store_backend;
extern const struct bus_backend bus_nats_backend;

/* A new message for c from the backend's fields (copied); freed by bus_msg_free. */
struct bus_msg *bus_msg_new(struct bus_consumer *c, const char *id, const char *tenant_id,
			    const char *subject, const char *payload, size_t payload_len,
			    const char *order_key, int attempt, int max_attempts,
			    uint64_t created_us);
void bus_msg_free(struct bus_msg *m);
/* Hands m to the consumer's callback (counts it). */
void bus_deliver(struct bus_msg *m);

/* A new message id (JB...): time-ordered, and in creation order within a process. */
void bus_id_new(char out[ID_LEN + 1]);

/* An absolute CLOCK_MONOTONIC time ms from now (for condition waits on that clock). */
void bus_deadline(int ms, struct timespec *ret);

/* Subject syntax: [a-z0-9_.-]{1,64}. */
bool bus_subject_valid(const char *s);

#endif
