/* internal.h: shared by the messaging worker files (private to src/messaging). */
#ifndef IRISX_MESSAGING_INTERNAL_H
#define IRISX_MESSAGING_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "email.h"
#include "messaging.h"
#include "sms.h"
#include "smpp.h"

#define POOL_THREADS 32 /* blocking store writes: more in flight, bigger group commits */
#define BINDS_MAX 16

/* What the messaging worker knows of a provider at run time. */
struct prov {
	char id[ID_LEN + 1];
	char tenant_id[ID_LEN + 1];
	char kind[8];
	json_t *config;
	struct smpp_client *binds[BINDS_MAX]; /* the ones that submit (transceivers, or the
						 transmitters of "bind": "pair") */
	int nbinds;
	struct smpp_client *rx[BINDS_MAX]; /* "pair": the receivers (deliver_sm only) */
	int nrx;
	atomic_uint rr;
	/* circuit breaker: open after BREAKER_FAILS failures in a row */
	int fails;
	uint64_t open_until_us;
	struct messaging *m;
	struct prov *next;
};

enum work_kind { W_SMS, W_EMAIL, W_SUBMITTED, W_RECEIPT, W_REPLY };

struct sms_ctx; /* one outbound SMS being routed (sms_worker.c) */

struct work {
	enum work_kind kind;
	struct bus_msg *msg; /* W_SMS, W_EMAIL */
	void *ref;	     /* W_SUBMITTED: the submit's arg (a segment of an sms_ctx) */
	uint32_t status;     /* W_SUBMITTED */
	char pmid[65];	     /* W_SUBMITTED, W_RECEIPT: the SMSC's message id */
	char provider_id[ID_LEN + 1], stat[8], err[8]; /* W_RECEIPT */
	struct work *next;
};

struct messaging {
	const struct config *cfg;
	struct store *st;
	struct bus *bus;
	struct bus_consumer *csms, *cemail, *creply;
	pthread_mutex_t qlock;
	pthread_cond_t qwake;
	struct work *qhead, *qtail;
	pthread_t threads[POOL_THREADS];
	int nthreads;
	bool stop;
	pthread_t outbox;
	bool outbox_started, stop_outbox; /* under qlock */
	pthread_mutex_t plock;		  /* providers */
	struct prov *provs;
	pthread_mutex_t rlock; /* reassembly */
	struct sms_reasm *reasm;
};

void work_push(struct messaging *m, struct work *w);

/* providers.c */
struct prov *prov_get(struct messaging *m, const char *id); /* loads and starts binds */
void prov_free_all(struct messaging *m);
bool prov_available(struct prov *p, uint64_t now_us);
void prov_result(struct prov *p, bool ok);
void prov_start_all_smpp(struct messaging *m);
/* The SMTP settings of an smtp provider (strings point into its config). */
void prov_smtp_config(const struct prov *p, struct smtp_config *ret);

/* sms_worker.c */
void sms_work(struct messaging *m, struct bus_msg *msg);
void sms_submitted(struct messaging *m, struct work *w);
uint32_t sms_on_deliver(struct prov *p, const struct smpp_deliver *d);
/* The shared end of an inbound message (SMPP or HTTP): store, keywords, event, sms_url. */
int sms_inbound(struct messaging *m, const char *provider_id, const char *from, const char *to,
		const char *text);
/* A receipt for provider message id pmid with SMPP-style stat (DELIVRD, UNDELIV, ...). */
int sms_receipt(struct messaging *m, const char *provider_id, const char *pmid, const char *stat,
		const char *err);

/* sms_url request of an inbound message, and its TwiML replies */
void reply_work(struct messaging *m, struct bus_msg *msg);

/* outbox.c: the auth outbox sender thread */
void *outbox_main(void *arg);

/* email_worker.c */
void email_work(struct messaging *m, struct bus_msg *msg);

#endif
