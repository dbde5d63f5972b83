/* nats.c: the bus on NATS JetStream: one stream (IRISX, subjects irisx.>), durable pull
   consumers, Nats-Msg-Id dedupe, a relay from the store's outbox rows, and dead letters
   kept in the store's jobs table so the jobs API lists and retries them. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "internal.h"

/* bus.nats_stream names the stream; its subjects are the lower-cased name + "." + the bus
   subject, so several deployments (or test servers) can share one NATS. Set at open. */
static char g_stream[40] = "IRISX", g_prefix[48] = "irisx.";
#define STREAM g_stream
#define PREFIX_MAX 48
#define PUB_WAIT_MS 2000	  /* one publish round trip */
#define PUB_BUDGET_US 30000000ull /* retries of one publish (same Nats-Msg-Id) */
#define ASYNC_WAIT_MS 5000	  /* acks of an asynchronous batch */
#define RELAY_BATCH 256
#define RELAY_IDLE_MS 100
#define FETCH_WAIT_MS 500
#define DUP_WINDOW_NS (120 * 1000000000ll)
#define MSGID_MAX (64 + 1 + 200 + 1)

/* headers that rebuild a bus_msg on the consumer side */
#define H_ID "Irisx-Id"
#define H_TENANT "Irisx-Tenant"
#define H_ORDER "Irisx-Order-Key"
#define H_MAX "Irisx-Max-Attempts"
#define H_CREATED "Irisx-Created-Us"
#define H_RUN_AT "Irisx-Run-At-Us"

struct nconsumer;

struct nbus {
	natsConnection *nc;
	jsCtx *js;
	pthread_t relay;
	bool relay_started, stop, kicked;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct nconsumer *leaked; /* unsubscribed with messages still out (under lock) */
	atomic_uint reconnects;
};

struct nconsumer {
	struct bus_consumer *c;
	struct nbus *nb;
	natsSubscription *sub;
	pthread_t thread;
	bool started;
	atomic_bool stop, closed; /* closed: the connection is gone, settle only frees */
	struct nconsumer *next;
};

/* A message to publish, from a bus_pub, an outbox row or a dead letter. */
struct nspec {
	char id[ID_LEN + 1];
	const char *tenant_id, *subject, *payload, *order_key;
	size_t payload_len;
	int max_attempts;
	uint64_t created_us, run_at_us; /* run_at_us 0: no delay */
	char msg_id[MSGID_MAX];
};

/* libnats keeps global state: closed (so LeakSanitizer sees nothing) when the last bus
   closes, unless a subscription had to outlive its bus */
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static int lib_users;
static bool lib_pinned;

static int nats_err(natsStatus s)
{
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_TIMEOUT:
		return -ETIMEDOUT;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	case NATS_INVALID_ARG:
	case NATS_INVALID_SUBJECT:
	case NATS_ADDRESS_MISSING:
		return -EINVAL;
	case NATS_NO_SERVER:
	case NATS_NOT_YET_CONNECTED:
		return -ECONNREFUSED;
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_STALE_CONNECTION:
		return -ENOTCONN;
	case NATS_NO_RESPONDERS:
		return -EAGAIN;
	case NATS_MAX_PAYLOAD:
		return -EMSGSIZE;
	case NATS_CONNECTION_AUTH_FAILED:
	case NATS_NOT_PERMITTED:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* Worth another try with the same Nats-Msg-Id (the server drops a duplicate). */
static bool transient(natsStatus s)
{
	return s == NATS_TIMEOUT || s == NATS_NO_SERVER || s == NATS_NO_RESPONDERS ||
	       s == NATS_CONNECTION_DISCONNECTED || s == NATS_NOT_YET_CONNECTED ||
	       s == NATS_STALE_CONNECTION || s == NATS_INSUFFICIENT_BUFFER || s == NATS_IO_ERROR;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Header values are single lines: keys with control characters are refused. */
static bool header_safe(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int check_pub(const struct bus_pub *p)
{
	return header_safe(p->order_key) && header_safe(p->dedupe_key) && header_safe(p->tenant_id)
		   ? 0
		   : -EINVAL;
}

/* Nats-Msg-Id: subject + dedupe key (dedupe is per subject), else the message id. */
static void spec_msg_id(struct nspec *sp, const char *dedupe_key)
{
	if (dedupe_key)
		snprintf(sp->msg_id, sizeof(sp->msg_id), "%s:%s", sp->subject, dedupe_key);
	else
		snprintf(sp->msg_id, sizeof(sp->msg_id), "%s", sp->id);
}

static void spec_from_pub(struct nspec *sp, const struct bus_pub *p, uint64_t now)
{
	bus_id_new(sp->id);
	sp->tenant_id = p->tenant_id;
	sp->subject = p->subject;
	sp->payload = p->payload;
	sp->payload_len = p->payload_len ? p->payload_len : strlen(p->payload);
	sp->order_key = p->order_key;
	sp->max_attempts = p->max_attempts > 0 ? p->max_attempts : 0;
	sp->created_us = now;
	sp->run_at_us = p->delay_us ? now + p->delay_us : 0;
	spec_msg_id(sp, p->dedupe_key);
}

/* From a jobs row (outbox or dead letter). */
static void spec_from_row(struct nspec *sp, const json_t *row)
{
	snprintf(sp->id, sizeof(sp->id), "%s", json_str(row, "id") ? json_str(row, "id") : "");
	sp->tenant_id = json_str(row, "tenant_id");
	sp->subject = json_str(row, "subject");
	sp->payload = json_str(row, "payload") ? json_str(row, "payload") : "";
	sp->payload_len = strlen(sp->payload);
	sp->order_key = json_str(row, "order_key");
	sp->max_attempts = (int)json_int(row, "max_attempts", 0);
	sp->created_us = (uint64_t)json_int(row, "created_us", 0);
	sp->run_at_us = (uint64_t)json_int(row, "run_at_us", 0);
	spec_msg_id(sp, json_str(row, "dedupe_key"));
}

static natsStatus set_num(natsMsg *m, const char *key, uint64_t v)
{
	char num[24];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return natsMsgHeader_Set(m, key, num);
}

static natsStatus make_msg(const struct nspec *sp, natsMsg **ret)
{
	char subj[PREFIX_MAX + 64];
	snprintf(subj, sizeof(subj), "%s%s", g_prefix, sp->subject ? sp->subject : "");
	natsMsg *m = NULL;
	natsStatus s = natsMsg_Create(&m, subj, NULL, sp->payload, (int)sp->payload_len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, H_ID, sp->id);
	if (s == NATS_OK && sp->tenant_id && *sp->tenant_id)
		s = natsMsgHeader_Set(m, H_TENANT, sp->tenant_id);
	if (s == NATS_OK && sp->order_key)
		s = natsMsgHeader_Set(m, H_ORDER, sp->order_key);
	if (s == NATS_OK && sp->max_attempts > 0)
		s = set_num(m, H_MAX, (uint64_t)sp->max_attempts);
	if (s == NATS_OK)
		s = set_num(m, H_CREATED, sp->created_us);
	if (s == NATS_OK && sp->run_at_us)
		s = set_num(m, H_RUN_AT, sp->run_at_us);
	/* the header itself rather than jsPubOptions.MsgId: a resend carries it too */
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", sp->msg_id);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		return s;
	}
	*ret = m;
	return NATS_OK;
}

/* Publishes m and waits for the stream's ack, retrying transient failures (a server
   restart, a lost reply) with the same Nats-Msg-Id. */
static int pub_sync(struct nbus *nb, natsMsg *m)
{
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = PUB_WAIT_MS;
	uint64_t until = time_mono_us() + PUB_BUDGET_US;
	natsStatus s;
	for (int i = 0;; i++) {
		jsPubAck *pa = NULL;
		jsErrCode jerr = 0;
		s = js_PublishMsg(&pa, nb->js, m, &po, &jerr);
		jsPubAck_Destroy(pa);
		if (s == NATS_OK || !transient(s) || time_mono_us() > until)
			break;
		sleep_ms(i < 10 ? 20 * (i + 1) : 250);
	}
	return nats_err(s);
}

/* Messages an asynchronous batch got back (error acks), to resend one by one. */
struct abatch {
	pthread_mutex_t lock;
	natsMsg **msgs;
	size_t n, cap;
};

static void abatch_add(struct abatch *ab, natsMsg *m)
{
	pthread_mutex_lock(&ab->lock);
	if (ab->n == ab->cap) {
		ab->cap = ab->cap ? ab->cap * 2 : 16;
		ab->msgs = mem_realloc(ab->msgs, ab->cap * sizeof(*ab->msgs));
	}
	ab->msgs[ab->n++] = m;
	pthread_mutex_unlock(&ab->lock);
}

static void on_pub_err(jsCtx *js, jsPubAckErr *pae, void *arg)
{
	(void)js;
	abatch_add(arg, pae->Msg);
	pae->Msg = NULL; /* ours now */
}

/* Publishes n messages pipelined on a context of their own (its error handler is this
   batch's); whatever is not acked in time or acked with an error is resent synchronously:
   the ones the stream did store are dropped as duplicates. */
static int pub_batch(struct nbus *nb, const struct nspec *sp, size_t n)
{
	struct abatch ab = {0};
	pthread_mutex_init(&ab.lock, NULL);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = PUB_WAIT_MS;
	jo.PublishAsync.MaxPending = 4096;
	jo.PublishAsync.ErrHandler = on_pub_err;
	jo.PublishAsync.ErrHandlerClosure = &ab;
	jsCtx *js = NULL;
	natsStatus s = natsConnection_JetStream(&js, nb->nc, &jo);
	int r = nats_err(s);
	for (size_t i = 0; i < n && r == 0; i++) {
		natsMsg *m = NULL;
		s = make_msg(&sp[i], &m);
		if (s == NATS_OK)
			s = js_PublishMsgAsync(js, &m, NULL);
		if (s != NATS_OK && m && transient(s))
			abatch_add(&ab, m); /* still ours: resent below */
		else if (s != NATS_OK) {
			natsMsg_Destroy(m);
			r = nats_err(s);
		}
	}
	if (js) {
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = 250;
		/* acks of what was sent before a reconnect never come: after one more slice
		   (for what waited in the reconnect buffer) the rest is resent */
		unsigned epoch = atomic_load(&nb->reconnects);
		uint64_t until = time_mono_us() + ASYNC_WAIT_MS * 1000ull;
		bool reconnected = false;
		while (js_PublishAsyncComplete(js, &po) != NATS_OK && time_mono_us() < until) {
			if (reconnected)
				break;
			reconnected = atomic_load(&nb->reconnects) != epoch;
		}
		natsMsgList pend = {0};
		if (js_PublishAsyncGetPendingList(&pend, js) == NATS_OK) {
			for (int i = 0; i < pend.Count; i++) {
				abatch_add(&ab, pend.Msgs[i]);
				pend.Msgs[i] = NULL;
			}
			natsMsgList_Destroy(&pend);
		}
		/* wait for an error handler that may still be running */
		po.MaxWait = 1000;
		js_PublishAsyncComplete(js, &po);
		jsCtx_Destroy(js);
	}
	for (size_t i = 0; i < ab.n; i++) {
		if (r == 0)
			r = pub_sync(nb, ab.msgs[i]);
		natsMsg_Destroy(ab.msgs[i]);
	}
	mem_free(ab.msgs);
	pthread_mutex_destroy(&ab.lock);
	return r;
}

static int pub_specs(struct nbus *nb, const struct nspec *sp, size_t n)
{
	if (n > 1)
		return pub_batch(nb, sp, n);
	natsMsg *m = NULL;
	natsStatus s = make_msg(sp, &m);
	if (s != NATS_OK)
		return nats_err(s);
	int r = pub_sync(nb, m);
	natsMsg_Destroy(m);
	return r;
}

static int na_publish(struct bus *b, const struct bus_pub *p, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (check_pub(&p[i]) < 0)
			return -EINVAL;
	struct nspec *sp = mem_zalloc(n * sizeof(*sp));
	uint64_t now = time_now_us();
	for (size_t i = 0; i < n; i++)
		spec_from_pub(&sp[i], &p[i], now);
	int r = pub_specs(b->impl, sp, n);
	mem_free(sp);
	return r;
}

/* The transactional outbox: a jobs row in state outbox, relayed after the commit. */
static int na_publish_tx(struct bus *b, struct store_tx *tx, const struct bus_pub *p,
			 char ret_id[ID_LEN + 1])
{
	(void)b;
	if (check_pub(p) < 0)
		return -EINVAL;
	char id[ID_LEN + 1];
	bus_id_new(id);
	char *payload = p->payload_len ? mem_strndup(p->payload, p->payload_len) : NULL;
	struct store_job j = {
	    .id = id,
	    .tenant_id = p->tenant_id,
	    .subject = p->subject,
	    .payload = payload ? payload : p->payload,
	    .dedupe_key = p->dedupe_key,
	    .order_key = p->order_key,
	    .state = "outbox",
	    .max_attempts = p->max_attempts > 0 ? p->max_attempts : 0,
	    .run_at_us = p->delay_us ? time_now_us() + p->delay_us : 0,
	};
	int r = store_job_insert(tx, &j);
	mem_free(payload);
	if (r >= 0 && ret_id)
		memcpy(ret_id, id, ID_LEN + 1);
	return r;
}

/* ---- the outbox relay ---- */

static int outbox_fn(struct store_tx *tx, void *arg)
{
	return store_job_outbox(tx, RELAY_BATCH, arg);
}

static int delete_fn(struct store_tx *tx, void *arg)
{
	json_t *rows = arg;
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		int r = store_job_delete(tx, json_str(row, "id"));
		if (r < 0)
			return r;
	}
	return 0;
}

static int prune_fn(struct store_tx *tx, void *arg)
{
	const struct bus *b = arg;
	uint64_t keep = (uint64_t)b->cfg->bus_retention_s * 1000000ull;
	return store_job_prune(tx, time_now_us() - keep, 5000);
}

/* Publishes the rows (Nats-Msg-Id = their id or dedupe key, so a crash between the
   publish and the delete only costs a duplicate the stream drops) and deletes them. */
static int relay_rows(struct bus *b, json_t *rows)
{
	size_t n = json_array_size(rows);
	struct nspec *sp = mem_zalloc(n * sizeof(*sp));
	for (size_t i = 0; i < n; i++)
		spec_from_row(&sp[i], json_array_get(rows, i));
	int r = pub_specs(b->impl, sp, n);
	mem_free(sp);
	if (r < 0)
		return r;
	return store_tx(b->st, NULL, STORE_WRITE, delete_fn, rows);
}

static void relay_wait(struct nbus *nb, int ms)
{
	struct timespec ts;
	bus_deadline(ms, &ts);
	pthread_mutex_lock(&nb->lock);
	while (!nb->stop && !nb->kicked)
		if (pthread_cond_timedwait(&nb->wake, &nb->lock, &ts))
			break;
	nb->kicked = false;
	pthread_mutex_unlock(&nb->lock);
}

static void *relay_main(void *arg)
{
	struct bus *b = arg;
	struct nbus *nb = b->impl;
	uint64_t prune_at = time_mono_us() + 60 * 1000000ull;
	for (;;) {
		pthread_mutex_lock(&nb->lock);
		bool stop = nb->stop;
		pthread_mutex_unlock(&nb->lock);
		if (stop)
			break;
		json_t *rows = NULL;
		int r = store_tx(b->st, NULL, STORE_READ, outbox_fn, &rows);
		size_t n = r >= 0 ? json_array_size(rows) : 0;
		if (n)
			r = relay_rows(b, rows);
		json_decref(rows);
		if (time_mono_us() > prune_at) {
			/* retried dead letters are kept as done rows: pruned like the store's */
			store_tx(b->st, NULL, STORE_WRITE, prune_fn, b);
			prune_at = time_mono_us() + 60 * 1000000ull;
		}
		if (r >= 0 && n == RELAY_BATCH)
			continue;
		relay_wait(nb, r < 0 ? 1000 : RELAY_IDLE_MS);
	}
	nats_ReleaseThreadMemory();
	return NULL;
}

static void na_kick(struct bus *b)
{
	struct nbus *nb = b->impl;
	pthread_mutex_lock(&nb->lock);
	nb->kicked = true;
	pthread_cond_signal(&nb->wake);
	pthread_mutex_unlock(&nb->lock);
}

/* ---- dead letters ---- */

struct dead {
	const struct bus_msg *m;
	const char *error;
};

static int dead_fn(struct store_tx *tx, void *arg)
{
	struct dead *d = arg;
	const struct bus_msg *m = d->m;
	/* replaces a row of an earlier life (a retried dead letter, kept as done) */
	int r = store_job_delete(tx, m->id);
	if (r < 0)
		return r;
	struct store_job j = {
	    .id = m->id,
	    .tenant_id = *m->tenant_id ? m->tenant_id : NULL,
	    .subject = m->subject,
	    .payload = m->payload,
	    .order_key = m->order_key,
	    .state = "dead",
	    .attempts = m->attempt,
	    .max_attempts = m->max_attempts,
	    .run_at_us = time_now_us(),
	    .last_error = d->error,
	};
	return store_job_insert(tx, &j);
}

static int dead_letter(struct bus *b, const struct bus_msg *m, const char *error)
{
	char *e = error ? mem_strndup(error, strnlen(error, 1000)) : NULL;
	struct dead d = {m, e};
	int r = store_tx(b->st, NULL, STORE_WRITE, dead_fn, &d);
	mem_free(e);
	return r;
}

struct nretry {
	const char *tenant_id, *id;
	json_t *row;
};

static int retry_get_fn(struct store_tx *tx, void *arg)
{
	struct nretry *rt = arg;
	return store_job_get(tx, rt->tenant_id, rt->id, &rt->row);
}

static int retry_done_fn(struct store_tx *tx, void *arg)
{
	struct nretry *rt = arg;
	return store_job_ack(tx, rt->id);
}

/* The dead row goes back to JetStream as a new message (attempt 1); the row stays as
   done, so a second retry is -EBUSY as on the store, until it is pruned. */
static int na_retry(struct bus *b, const char *tenant_id, const char *id)
{
	struct nretry rt = {tenant_id, id, NULL};
	int r = store_tx(b->st, tenant_id, STORE_READ, retry_get_fn, &rt);
	if (r < 0)
		return r;
	const char *state = json_str(rt.row, "state");
	if (!state || strcmp(state, "dead")) {
		json_decref(rt.row);
		return -EBUSY;
	}
	struct nspec sp;
	memset(&sp, 0, sizeof(sp));
	spec_from_row(&sp, rt.row);
	sp.run_at_us = 0;
	/* the dead letter's time: two concurrent retries of it are one message */
	snprintf(sp.msg_id, sizeof(sp.msg_id), "%s.retry.%lld", sp.id,
		 (long long)json_int(rt.row, "updated_us", 0));
	r = pub_specs(b->impl, &sp, 1);
	json_decref(rt.row);
	if (r < 0)
		return r;
	return store_tx(b->st, tenant_id, STORE_WRITE, retry_done_fn, &rt);
}

/* ---- consumers ---- */

/* Durable name from (name, subject): JetStream names have no dots, and one durable binds
   one filter subject. */
static void durable_name(const struct bus_consumer_opts *o, char *out, size_t size)
{
	uint32_t h = 2166136261u;
	for (const char *p = o->name;; p++) {
		h = (h ^ (unsigned char)*p) * 16777619u;
		if (!*p)
			break;
	}
	for (const char *p = o->subject; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	size_t n = 0;
	for (const char *p = o->name; *p && n < 60; p++)
		out[n++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '-')
			       ? *p
			       : '_';
	out[n++] = '_';
	for (const char *p = o->subject; *p && n < 130; p++)
		out[n++] = *p == '.' ? '_' : *p;
	snprintf(out + n, size - n, "_%08x", h);
}

static int ensure_consumer(struct nbus *nb, const struct bus_consumer *c, const char *durable,
			   const char *filter)
{
	jsConsumerConfig cc;
	jsConsumerConfig_Init(&cc);
	cc.Durable = durable;
	cc.FilterSubject = filter;
	cc.DeliverPolicy = js_DeliverAll;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = (int64_t)c->o.visibility_us * 1000;
	/* unlimited: max attempts is per message, and the last step (a dead letter in the
	   store) is ours, so the server never drops a message silently */
	cc.MaxDeliver = -1;
	/* ordered: one message at a time (JetStream keeps no per-key order across parallel
	   acks; one at a time in stream order implies it) */
	cc.MaxAckPending = c->o.ordered ? 1 : c->o.max_inflight;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_AddConsumer(&ci, nb->js, STREAM, &cc, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s != NATS_OK && jerr) {
		/* exists with other settings (say a new visibility timeout) */
		s = js_UpdateConsumer(&ci, nb->js, STREAM, &cc, NULL, &jerr);
		jsConsumerInfo_Destroy(ci);
	}
	return nats_err(s);
}

static const char *hdr(natsMsg *m, const char *key)
{
	const char *v = NULL;
	return natsMsgHeader_Get(m, key, &v) == NATS_OK ? v : NULL;
}

static void deliver_one(struct nconsumer *ncs, natsMsg *nm)
{
	struct bus_consumer *c = ncs->c;
	jsMsgMetaData *md = NULL;
	int delivered = 1;
	if (natsMsg_GetMetaData(&md, nm) == NATS_OK) {
		delivered = (int)md->NumDelivered;
		jsMsgMetaData_Destroy(md);
	}
	const char *id = hdr(nm, H_ID), *subj = natsMsg_GetSubject(nm);
	size_t pl = strlen(g_prefix);
	if (!id || !subj || strncmp(subj, g_prefix, pl)) {
		natsMsg_Term(nm, NULL); /* not a bus message */
		natsMsg_Destroy(nm);
		return;
	}
	const char *v = hdr(nm, H_RUN_AT);
	uint64_t run_at = v ? strtoull(v, NULL, 10) : 0;
	int attempt = delivered;
	if (run_at) {
		/* delayed: the first delivery only waits (JetStream 2.9 has no scheduled
		   messages), so attempts count from the second */
		if (delivered == 1) {
			uint64_t now = time_now_us();
			if (run_at > now)
				natsMsg_NakWithDelay(nm, (int64_t)((run_at - now + 999) / 1000),
						     NULL);
			else
				natsMsg_Nak(nm, NULL);
			natsMsg_Destroy(nm);
			return;
		}
		attempt = delivered - 1;
	}
	v = hdr(nm, H_MAX);
	int max = v ? atoi(v) : 0;
	if (max <= 0)
		max = c->o.max_attempts;
	v = hdr(nm, H_CREATED);
	const char *data = natsMsg_GetData(nm);
	struct bus_msg *m =
	    bus_msg_new(c, id, hdr(nm, H_TENANT), subj + pl, data ? data : "",
			data ? (size_t)natsMsg_GetDataLength(nm) : 0, hdr(nm, H_ORDER), attempt,
			max, v ? strtoull(v, NULL, 10) : 0);
	m->impl = nm;
	if (attempt > max) {
		/* its last attempt's lease ran out (the consumer died): stop here */
		atomic_fetch_add(&c->inflight, 1);
		m->attempt = max;
		bus_term(m, "lease expired on the last attempt");
		return;
	}
	bus_deliver(m);
}

/* Up to n messages: what is ready now, else a long poll for one (Fetch alone would wait
   for a whole batch). */
static natsStatus fetch(struct nconsumer *ncs, int n, natsMsgList *list)
{
	jsFetchRequest req;
	jsFetchRequest_Init(&req);
	req.Batch = n;
	req.NoWait = true;
	req.Expires = (int64_t)FETCH_WAIT_MS * 1000000;
	natsStatus s = natsSubscription_FetchRequest(list, ncs->sub, &req);
	if (s != NATS_NOT_FOUND || atomic_load(&ncs->stop))
		return s;
	jsFetchRequest_Init(&req);
	req.Batch = 1;
	req.Expires = (int64_t)FETCH_WAIT_MS * 1000000;
	return natsSubscription_FetchRequest(list, ncs->sub, &req);
}

static void *fetch_main(void *arg)
{
	struct nconsumer *ncs = arg;
	struct bus_consumer *c = ncs->c;
	int cap = c->o.ordered ? 1 : c->o.max_inflight;
	int poll_ms = c->bus->cfg->bus_poll_ms > 0 ? c->bus->cfg->bus_poll_ms : 5;
	while (!atomic_load(&ncs->stop)) {
		int room = cap - atomic_load(&c->inflight);
		if (room <= 0) {
			sleep_ms(poll_ms);
			continue;
		}
		natsMsgList list = {0};
		natsStatus s = fetch(ncs, room < c->o.batch ? room : c->o.batch, &list);
		if (s == NATS_OK) {
			for (int i = 0; i < list.Count; i++) {
				natsMsg *nm = list.Msgs[i];
				list.Msgs[i] = NULL;
				deliver_one(ncs, nm);
			}
			natsMsgList_Destroy(&list);
		} else if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND) {
			/* disconnected (reconnecting), or 409 while naked messages wait */
			sleep_ms(s == NATS_ERR ? poll_ms : 50);
		}
	}
	nats_ReleaseThreadMemory();
	return NULL;
}

static void nconsumer_free(struct nconsumer *ncs)
{
	natsSubscription_Destroy(ncs->sub);
	mem_free(ncs);
}

static int na_subscribe(struct bus *b, struct bus_consumer *c)
{
	struct nbus *nb = b->impl;
	char durable[200], filter[PREFIX_MAX + 64];
	durable_name(&c->o, durable, sizeof(durable));
	snprintf(filter, sizeof(filter), "%s%s", g_prefix, c->o.subject);
	int r = ensure_consumer(nb, c, durable, filter);
	if (r < 0)
		return r;
	struct nconsumer *ncs = mem_zalloc(sizeof(*ncs));
	ncs->c = c;
	ncs->nb = nb;
	/* bound to the consumer made above: the library did not create it, so it never
	   deletes it (durable state stays on the server) */
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = STREAM;
	so.Consumer = durable;
	jsErrCode jerr = 0;
	natsStatus s = js_PullSubscribe(&ncs->sub, nb->js, filter, NULL, NULL, &so, &jerr);
	if (s != NATS_OK) {
		mem_free(ncs);
		return nats_err(s);
	}
	c->impl = ncs;
	if (pthread_create(&ncs->thread, NULL, fetch_main, ncs)) {
		c->impl = NULL;
		nconsumer_free(ncs);
		return -EAGAIN;
	}
	ncs->started = true;
	return 0;
}

static void na_unsubscribe(struct bus_consumer *c)
{
	struct nconsumer *ncs = c->impl;
	if (!ncs)
		return;
	/* give handlers a moment to settle what they hold, so it is not redelivered */
	for (int i = 0; i < 500 && atomic_load(&c->inflight) > 0; i++)
		sleep_ms(10);
	atomic_store(&ncs->stop, true);
	/* wakes a waiting fetch; unfetched and unacked messages come back after AckWait */
	natsSubscription_Unsubscribe(ncs->sub);
	if (ncs->started)
		pthread_join(ncs->thread, NULL);
	if (atomic_load(&c->inflight) == 0) {
		nconsumer_free(ncs);
		c->impl = NULL;
		return;
	}
	/* the messages still out point at the subscription: it stays, settled until close */
	pthread_mutex_lock(&ncs->nb->lock);
	ncs->next = ncs->nb->leaked;
	ncs->nb->leaked = ncs;
	pthread_mutex_unlock(&ncs->nb->lock);
}

static void na_settle(struct bus_msg *m, enum bus_settle how, int64_t delay_us, const char *error)
{
	natsMsg *nm = m->impl;
	struct nconsumer *ncs = m->consumer->impl;
	m->impl = NULL;
	if (!nm)
		return;
	if (!ncs || atomic_load(&ncs->closed)) {
		natsMsg_Destroy(nm); /* connection gone: redelivered after AckWait */
		return;
	}
	if (how == SETTLE_ACK) {
		natsMsg_Ack(nm, NULL);
	} else if (how == SETTLE_RELEASE) {
		/* JetStream cannot un-count a delivery: the next one has NumDelivered + 1 */
		natsMsg_Nak(nm, NULL);
	} else if (how == SETTLE_NAK) {
		if (delay_us > 0)
			natsMsg_NakWithDelay(nm, (delay_us + 999) / 1000, NULL);
		else
			natsMsg_Nak(nm, NULL);
	} else if (dead_letter(m->consumer->bus, m, error) >= 0) {
		natsMsg_Term(nm, NULL); /* the dead letter is in the store first */
	} else {
		natsMsg_NakWithDelay(nm, 5000, NULL); /* store unavailable: dead-letter later */
	}
	natsMsg_Destroy(nm);
}

/* ---- open / close ---- */

static int ensure_stream(struct nbus *nb, const struct config *cfg)
{
	char all[PREFIX_MAX + 2];
	snprintf(all, sizeof(all), "%s>", g_prefix);
	const char *subjects[] = {all};
	jsStreamConfig sc;
	jsStreamConfig_Init(&sc);
	sc.Name = STREAM;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Retention = js_LimitsPolicy;
	/* acked messages stay until bus.retention_s, like the store's done jobs */
	sc.MaxAge = (int64_t)cfg->bus_retention_s * 1000000000ll;
	sc.Duplicates = sc.MaxAge > 0 && sc.MaxAge < DUP_WINDOW_NS ? sc.MaxAge : DUP_WINDOW_NS;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_AddStream(&si, nb->js, &sc, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	if (s != NATS_OK && jerr == JSStreamNameExistErr)
		s = NATS_OK; /* made earlier, perhaps with an operator's settings: kept */
	return nats_err(s);
}

static void on_reconnected(natsConnection *nc, void *arg)
{
	(void)nc;
	struct nbus *nb = arg;
	atomic_fetch_add(&nb->reconnects, 1);
}

static int na_connect(struct nbus *nb, const char *url)
{
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, "irisx");
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 100);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectJitter(o, 50, 200);
	if (s == NATS_OK) /* publishes and acks made while reconnecting wait here */
		s = natsOptions_SetReconnectBufSize(o, 64 * 1024 * 1024);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, nb);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(o, 10000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(o, 3);
	if (s == NATS_OK)
		s = natsConnection_Connect(&nb->nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK)
		return nats_err(s);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = PUB_WAIT_MS;
	return nats_err(natsConnection_JetStream(&nb->js, nb->nc, &jo));
}

static void lib_release(bool pin)
{
	pthread_mutex_lock(&lib_lock);
	lib_pinned |= pin;
	if (--lib_users == 0 && !lib_pinned)
		nats_CloseAndWait(5000);
	pthread_mutex_unlock(&lib_lock);
}

static void nbus_free(struct nbus *nb, bool pin)
{
	jsCtx_Destroy(nb->js);
	natsConnection_Destroy(nb->nc);
	pthread_mutex_destroy(&nb->lock);
	pthread_cond_destroy(&nb->wake);
	mem_free(nb);
	lib_release(pin);
}

static int na_open(struct bus *b)
{
	const char *name =
	    b->cfg->bus_nats_stream && *b->cfg->bus_nats_stream ? b->cfg->bus_nats_stream : "IRISX";
	size_t n = strlen(name);
	if (n > 32)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return -EINVAL;
	pthread_mutex_lock(&lib_lock);
	lib_users++;
	snprintf(g_stream, sizeof(g_stream), "%s", name);
	for (size_t i = 0; i <= n; i++)
		g_prefix[i] = (char)tolower((unsigned char)name[i]);
	snprintf(g_prefix + n, sizeof(g_prefix) - n, ".");
	pthread_mutex_unlock(&lib_lock);
	struct nbus *nb = mem_zalloc(sizeof(*nb));
	pthread_mutex_init(&nb->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nb->wake, &ca);
	pthread_condattr_destroy(&ca);
	int r = na_connect(nb, b->cfg->bus_url);
	if (r >= 0)
		r = ensure_stream(nb, b->cfg);
	if (r < 0) {
		nbus_free(nb, false);
		return r;
	}
	b->impl = nb;
	if (pthread_create(&nb->relay, NULL, relay_main, b)) {
		b->impl = NULL;
		nbus_free(nb, false);
		return -EAGAIN;
	}
	nb->relay_started = true;
	return 0;
}

static void na_close(struct bus *b)
{
	struct nbus *nb = b->impl;
	pthread_mutex_lock(&nb->lock);
	nb->stop = true;
	pthread_cond_signal(&nb->wake);
	struct nconsumer *leaked = nb->leaked;
	pthread_mutex_unlock(&nb->lock);
	if (nb->relay_started)
		pthread_join(nb->relay, NULL);
	/* the last acks reach the server before the connection goes */
	natsConnection_FlushTimeout(nb->nc, 2000);
	for (struct nconsumer *ncs = leaked; ncs; ncs = ncs->next)
		atomic_store(&ncs->closed, true);
	nbus_free(nb, leaked != NULL);
}

const struct bus_backend bus_nats_backend = {
    .name = "nats",
    .open = na_open,
    .close = na_close,
    .publish = na_publish,
    .publish_tx = na_publish_tx,
    .subscribe = na_subscribe,
    .unsubscribe = na_unsubscribe,
    .settle = na_settle,
    .retry = na_retry,
    .kick = na_kick,
};
