/* service.c: the messaging worker's lifecycle: a pool of threads for blocking work (store,
   HTTP providers, SMTP), the bus consumers that feed it, and HTTP providers' webhooks. */
#include <string.h>

#include "internal.h"

void work_push(struct messaging *m, struct work *w)
{
	pthread_mutex_lock(&m->qlock);
	if (m->qtail)
		m->qtail->next = w;
	else
		m->qhead = w;
	m->qtail = w;
	pthread_cond_signal(&m->qwake);
	pthread_mutex_unlock(&m->qlock);
}

static void *pool_main(void *arg)
{
	struct messaging *m = arg;
	pthread_mutex_lock(&m->qlock);
	for (;;) {
		while (!m->qhead && !m->stop)
			pthread_cond_wait(&m->qwake, &m->qlock);
		struct work *w = m->qhead;
		if (!w)
			break; /* stopping, nothing left */
		m->qhead = w->next;
		if (!m->qhead)
			m->qtail = NULL;
		pthread_mutex_unlock(&m->qlock);
		if (w->kind == W_SMS)
			sms_work(m, w->msg);
		else if (w->kind == W_EMAIL)
			email_work(m, w->msg);
		else if (w->kind == W_REPLY)
			reply_work(m, w->msg);
		else if (w->kind == W_RECEIPT)
			sms_receipt(m, w->provider_id, w->pmid, w->stat, w->err);
		else
			sms_submitted(m, w);
		mem_free(w);
		pthread_mutex_lock(&m->qlock);
	}
	pthread_mutex_unlock(&m->qlock);
	return NULL;
}

static void on_msg(struct bus_msg *msg, void *arg)
{
	struct messaging *m = arg;
	struct work *w = mem_zalloc(sizeof(*w));
	w->kind = !strcmp(msg->subject, EMAIL_SUBJECT)	 ? W_EMAIL
		  : !strcmp(msg->subject, REPLY_SUBJECT) ? W_REPLY
							 : W_SMS;
	w->msg = msg;
	work_push(m, w);
}

int messaging_start(const struct config *cfg, struct store *st, struct bus *bus,
		    struct messaging **ret)
{
	struct messaging *m = mem_zalloc(sizeof(*m));
	m->cfg = cfg;
	m->st = st;
	m->bus = bus;
	pthread_mutex_init(&m->qlock, NULL);
	pthread_cond_init(&m->qwake, NULL);
	pthread_mutex_init(&m->plock, NULL);
	pthread_mutex_init(&m->rlock, NULL);
	m->reasm = sms_reasm_new(3600ull * 1000000, 10000);
	for (int i = 0; i < POOL_THREADS; i++)
		if (!pthread_create(&m->threads[i], NULL, pool_main, m))
			m->nthreads++;
	int r = m->nthreads ? 0 : -EAGAIN;
	/* jobs outlive their slowest attempt: an SMTP transfer or an HTTP provider call */
	struct bus_consumer_opts o = {.name = "messaging",
				      .subject = SMS_SUBJECT,
				      .batch = 64,
				      .max_inflight = 256,
				      .visibility_us =
					  (uint64_t)cfg->messaging_lease_s * 1000000ull,
				      .max_attempts = 10,
				      .backoff_base_us = 2 * 1000000ull,
				      .backoff_max_us = 600 * 1000000ull};
	if (r >= 0)
		r = bus_subscribe(bus, &o, on_msg, m, &m->csms);
	o.subject = EMAIL_SUBJECT;
	o.max_attempts = 8;
	o.batch = 16;
	o.max_inflight = 32;
	if (r >= 0)
		r = bus_subscribe(bus, &o, on_msg, m, &m->cemail);
	o.subject = REPLY_SUBJECT;
	o.max_attempts = 4;
	if (r >= 0)
		r = bus_subscribe(bus, &o, on_msg, m, &m->creply);
	if (r < 0) {
		messaging_stop(m);
		return r;
	}
	prov_start_all_smpp(m);
	m->outbox_started = !pthread_create(&m->outbox, NULL, outbox_main, m);
	*ret = m;
	return 0;
}

void messaging_stop(struct messaging *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->qlock);
	m->stop_outbox = true;
	pthread_mutex_unlock(&m->qlock);
	if (m->outbox_started)
		pthread_join(m->outbox, NULL);
	bus_unsubscribe(m->csms);
	bus_unsubscribe(m->cemail);
	bus_unsubscribe(m->creply);
	/* binds report what they hold (routed again after a restart), then the pool drains */
	prov_free_all(m);
	pthread_mutex_lock(&m->qlock);
	m->stop = true;
	pthread_cond_broadcast(&m->qwake);
	pthread_mutex_unlock(&m->qlock);
	for (int i = 0; i < m->nthreads; i++)
		pthread_join(m->threads[i], NULL);
	sms_reasm_free(m->reasm);
	pthread_mutex_destroy(&m->qlock);
	pthread_cond_destroy(&m->qwake);
	pthread_mutex_destroy(&m->plock);
	pthread_mutex_destroy(&m->rlock);
	mem_free(m);
}

int messaging_http_webhook(struct messaging *m, const char *provider_id, const char *content_type,
			   const char *body, size_t len)
{
	struct prov *p = prov_get(m, provider_id);
	if (!p)
		return -ENOENT;
	enum sms_http_kind kind;
	if (!strcmp(p->kind, "twilio"))
		kind = SMS_HTTP_TWILIO;
	else if (!strcmp(p->kind, "telnyx"))
		kind = SMS_HTTP_TELNYX;
	else
		return -ENOENT;
	json_t *ev;
	int r = sms_http_parse_webhook(kind, content_type, body, len, &ev);
	if (r < 0)
		return r;
	const char *k = json_str(ev, "kind"), *status = json_str(ev, "status");
	if (k && !strcmp(k, "inbound")) {
		r = sms_inbound(m, p->id, json_str(ev, "from") ?: "", json_str(ev, "to") ?: "",
				json_str(ev, "body") ?: "");
	} else if (k && !strcmp(k, "receipt") && status && json_str(ev, "provider_id")) {
		const char *stat = !strcmp(status, "delivered") ? "DELIVRD"
				   : !strcmp(status, "undelivered") || !strcmp(status, "failed")
				       ? "UNDELIV"
				       : NULL;
		r = stat ? sms_receipt(m, p->id, json_str(ev, "provider_id"), stat,
				       json_str(ev, "error_code"))
			 : 0;
	}
	json_decref(ev);
	return r == -ENOENT ? 0 : r;
}
