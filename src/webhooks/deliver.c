/* deliver.c: the deliverer. Two bus consumers (endpoint webhooks and per-request
   callbacks) hand each job to the curl-multi client, signed; a flusher thread writes each
   attempt to the delivery log in batches, applies the endpoint rules (410 disables,
   failing too long disables) and settles the job: ack, nak with the retry schedule (or
   the receiver's Retry-After), or dead once the schedule is exhausted. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "webhooks.h"

#define CACHE_BUCKETS 1024
#define CACHE_TTL_US 1000000
#define FLUSH_MAX 1024

/* What the deliverer needs of an endpoint or a tenant, cached for a second. */
struct centry {
	char id[ID_LEN + 1];
	bool found, enabled;
	char *url, *secret, *old_secret;
	uint64_t old_expires_us, fetched_us;
	struct centry *next;
};

struct delivery {
	struct webhooks *w;
	struct bus_msg *m;
	bool callback;
	char endpoint_id[ID_LEN + 1], event_id[ID_LEN + 1];
	char type[64];
	char *url;
	/* result */
	int status;
	const char *error;
	uint64_t latency_us;
	char *resp;
	int64_t retry_after_s;
	bool aborted; /* cut off by shutdown: released, not counted as a failure */
	struct delivery *next;
};

struct webhooks {
	const struct config *cfg;
	struct store *st;
	struct bus *bus;
	struct whc *client;
	struct bus_consumer *cw, *cc;
	pthread_mutex_t clock; /* cache */
	struct centry *eps[CACHE_BUCKETS], *tokens[CACHE_BUCKETS];
	pthread_mutex_t rlock; /* results */
	pthread_cond_t rwake;
	struct delivery *rhead, *rtail;
	pthread_t flusher;
	bool flusher_started, stop;
	pthread_rwlock_t gate; /* on_msg reads; stopping is set under the write lock */
	bool stopping;	       /* new messages are released, not sent */
	atomic_bool aborting;  /* results now are the client's shutdown aborts */
	atomic_ulong sent, delivered, failed, in_flight;
};

/* ---- cache ---- */

static size_t bucket(const char *id)
{
	size_t h = 5381;
	for (; *id; id++)
		h = h * 33 + (unsigned char)*id;
	return h % CACHE_BUCKETS;
}

static void centry_free(struct centry *e)
{
	mem_free(e->url);
	mem_free(e->secret);
	mem_free(e->old_secret);
	mem_free(e);
}

/* Copies the fresh cached entry for id into out (strings duplicated); false if none. */
static bool cache_get(struct webhooks *w, struct centry **tab, const char *id, struct centry *out)
{
	bool hit = false;
	uint64_t now = time_mono_us();
	pthread_mutex_lock(&w->clock);
	for (struct centry *e = tab[bucket(id)]; e; e = e->next)
		if (!strcmp(e->id, id) && now - e->fetched_us < CACHE_TTL_US) {
			*out = *e;
			out->url = e->url ? mem_strdup(e->url) : NULL;
			out->secret = e->secret ? mem_strdup(e->secret) : NULL;
			out->old_secret = e->old_secret ? mem_strdup(e->old_secret) : NULL;
			hit = true;
			break;
		}
	pthread_mutex_unlock(&w->clock);
	return hit;
}

static void cache_put(struct webhooks *w, struct centry **tab, const struct centry *in)
{
	struct centry *n = mem_zalloc(sizeof(*n));
	*n = *in;
	n->url = in->url ? mem_strdup(in->url) : NULL;
	n->secret = in->secret ? mem_strdup(in->secret) : NULL;
	n->old_secret = in->old_secret ? mem_strdup(in->old_secret) : NULL;
	n->fetched_us = time_mono_us();
	size_t b = bucket(in->id);
	pthread_mutex_lock(&w->clock);
	struct centry **pp = &tab[b];
	while (*pp && strcmp((*pp)->id, in->id))
		pp = &(*pp)->next;
	if (*pp) {
		struct centry *old = *pp;
		n->next = old->next;
		*pp = n;
		centry_free(old);
	} else {
		n->next = tab[b];
		tab[b] = n;
	}
	pthread_mutex_unlock(&w->clock);
}

void webhooks_forget_endpoint(struct webhooks *w, const char *id)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->clock);
	for (struct centry *e = w->eps[bucket(id)]; e; e = e->next)
		if (!strcmp(e->id, id))
			e->fetched_us = 0;
	pthread_mutex_unlock(&w->clock);
}

static void centry_clear(struct centry *e)
{
	mem_free(e->url);
	mem_free(e->secret);
	mem_free(e->old_secret);
}

struct lookup {
	const char *id, *tenant_id;
	json_t *row;
};

static int ep_fn(struct store_tx *tx, void *arg)
{
	struct lookup *l = arg;
	return store_endpoint_get(tx, NULL, l->id, &l->row);
}

static int endpoint(struct webhooks *w, const char *id, struct centry *out)
{
	if (cache_get(w, w->eps, id, out))
		return 0;
	struct lookup l = {.id = id};
	int r = store_tx(w->st, NULL, STORE_READ, ep_fn, &l);
	if (r < 0 && r != -ENOENT)
		return r;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", id);
	if (r == 0) {
		out->found = true;
		out->enabled = json_int(l.row, "enabled", 0) == 1;
		out->url = mem_strdup(json_str(l.row, "url"));
		out->secret = mem_strdup(json_str(l.row, "secret"));
		const char *old = json_str(l.row, "old_secret");
		out->old_secret = old ? mem_strdup(old) : NULL;
		out->old_expires_us = (uint64_t)json_int(l.row, "old_secret_expires_us", 0);
		json_decref(l.row);
	}
	cache_put(w, w->eps, out);
	return 0;
}

static int token_fn(struct store_tx *tx, void *arg)
{
	struct lookup *l = arg;
	char tok[33];
	webhooks_auth_token_new(tok);
	return store_tenant_auth_token(tx, l->tenant_id, tok, false, &l->row);
}

static int auth_token(struct webhooks *w, const char *tenant_id, struct centry *out)
{
	if (cache_get(w, w->tokens, tenant_id, out))
		return 0;
	struct lookup l = {.tenant_id = tenant_id};
	int r = store_tx(w->st, NULL, STORE_WRITE, token_fn, &l);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", tenant_id);
	out->found = true;
	out->secret = mem_strdup(json_str(l.row, "auth_token"));
	json_decref(l.row);
	cache_put(w, w->tokens, out);
	return 0;
}

/* ---- results: from the client thread to the flusher ---- */

static void on_done(const struct whc_result *res, void *arg)
{
	struct delivery *d = arg;
	struct webhooks *w = d->w;
	d->status = res->status;
	d->error = res->error;
	d->latency_us = res->latency_us;
	d->resp =
	    res->body ? mem_strndup(res->body, res->body_len < 1024 ? res->body_len : 1024) : NULL;
	d->retry_after_s = res->retry_after_s;
	d->aborted = atomic_load(&w->aborting);
	pthread_mutex_lock(&w->rlock);
	if (w->rtail)
		w->rtail->next = d;
	else
		w->rhead = d;
	w->rtail = d;
	pthread_cond_signal(&w->rwake);
	pthread_mutex_unlock(&w->rlock);
}

static void delivery_free(struct delivery *d)
{
	mem_free(d->url);
	mem_free(d->resp);
	mem_free(d);
}

/* A delivery that never reached the network (bad job, disabled endpoint): logged and
   settled by the flusher like the others. */
static void finish_local(struct delivery *d, const char *error)
{
	struct whc_result r = {.error = error, .retry_after_s = -1};
	on_done(&r, d);
}

/* ---- sending ---- */

static void send_webhook(struct webhooks *w, struct delivery *d, json_t *pl)
{
	const char *ep_id = json_str(pl, "endpoint_id"), *ev = json_str(pl, "event_id"),
		   *type = json_str(pl, "type"), *body = json_str(pl, "body");
	if (!ep_id || !ev || !type || !body) {
		d->url = mem_strdup("");
		return finish_local(d, "malformed job");
	}
	snprintf(d->endpoint_id, sizeof(d->endpoint_id), "%s", ep_id);
	snprintf(d->event_id, sizeof(d->event_id), "%s", ev);
	snprintf(d->type, sizeof(d->type), "%s", type);
	struct centry e;
	if (endpoint(w, ep_id, &e) < 0) {
		d->url = mem_strdup("");
		return finish_local(d, "store unavailable");
	}
	d->url = mem_strdup(e.url ? e.url : "");
	if (!e.found || !e.enabled) {
		centry_clear(&e);
		return finish_local(d, e.found ? "endpoint disabled" : "endpoint deleted");
	}
	int64_t ts = (int64_t)(time_now_us() / 1000000);
	struct buf sig;
	buf_init(&sig, 0);
	buf_puts(&sig, "webhook-signature: ");
	size_t blen = strlen(body);
	int r = whsig_sign(e.secret, ev, ts, body, blen, &sig);
	if (r >= 0 && e.old_secret && e.old_expires_us > time_now_us()) {
		buf_puts(&sig, " ");
		r = whsig_sign(e.old_secret, ev, ts, body, blen, &sig);
	}
	char h_id[64], h_ts[48];
	snprintf(h_id, sizeof(h_id), "webhook-id: %s", ev);
	snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", (long long)ts);
	const char *headers[] = {h_id,
				 h_ts,
				 sig.p,
				 "Content-Type: application/json",
				 "User-Agent: IRISX-Webhooks/" IRISX_VERSION,
				 NULL};
	struct whc_req req = {.url = e.url,
			      .method = "POST",
			      .headers = headers,
			      .body = body,
			      .body_len = blen,
			      .connect_timeout_ms = w->cfg->webhooks_connect_timeout_ms,
			      .timeout_ms = w->cfg->webhooks_timeout_ms,
			      .allow_private = w->cfg->outbound_allow_private,
			      .cb = on_done,
			      .arg = d};
	if (r >= 0)
		r = whc_submit(w->client, &req);
	buf_free(&sig);
	centry_clear(&e);
	if (r < 0)
		return finish_local(d, "invalid url");
	atomic_fetch_add(&w->sent, 1);
}

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

static void send_callback(struct webhooks *w, struct delivery *d, json_t *pl)
{
	const char *url = json_str(pl, "url"), *method = json_str(pl, "method");
	json_t *params = json_object_get(pl, "params");
	d->callback = true;
	d->url = mem_strdup(url ? url : "");
	if (!url || !json_is_object(params) || json_object_size(params) > 256)
		return finish_local(d, "malformed job");
	bool get = method && !strcmp(method, "GET");
	size_t n = 0;
	struct kv *kv = mem_alloc((json_object_size(params) + 1) * sizeof(*kv));
	const char *k;
	json_t *v;
	json_object_foreach (params, k, v) {
		if (json_is_string(v))
			kv[n++] = (struct kv){k, json_string_value(v)};
	}
	qsort(kv, n, sizeof(*kv), cmp_kv);
	struct centry tok;
	if (auth_token(w, d->m->tenant_id, &tok) < 0) {
		mem_free(kv);
		return finish_local(d, "store unavailable");
	}
	struct buf form, full;
	buf_init(&form, 0);
	buf_init(&full, 0);
	form_encode(kv, n, &form);
	buf_puts(&full, url);
	if (get && form.len)
		buf_printf(&full, "%s%s", strchr(url, '?') ? "&" : "?", form.p);
	char sig[32], hsig[64];
	/* GET: the whole URL (query included) is signed, with no body parameters */
	twsig_sign(tok.secret, full.p, kv, get ? 0 : n, sig);
	snprintf(hsig, sizeof(hsig), "X-Twilio-Signature: %s", sig);
	const char *headers[] = {hsig, "Content-Type: application/x-www-form-urlencoded",
				 "User-Agent: TwilioProxy/1.1 (IRISX " IRISX_VERSION ")", NULL};
	struct whc_req req = {.url = full.p,
			      .method = get ? "GET" : "POST",
			      .headers = headers,
			      .body = get ? NULL : form.p,
			      .body_len = get ? 0 : form.len,
			      .connect_timeout_ms = w->cfg->webhooks_connect_timeout_ms,
			      .timeout_ms = w->cfg->webhooks_timeout_ms,
			      .allow_private = w->cfg->outbound_allow_private,
			      .cb = on_done,
			      .arg = d};
	int r = whc_submit(w->client, &req);
	buf_free(&form);
	buf_free(&full);
	centry_clear(&tok);
	mem_free(kv);
	if (r < 0)
		return finish_local(d, "invalid url");
	atomic_fetch_add(&w->sent, 1);
}

static void on_msg(struct bus_msg *m, void *arg)
{
	struct webhooks *w = arg;
	pthread_rwlock_rdlock(&w->gate);
	if (w->stopping) {
		pthread_rwlock_unlock(&w->gate);
		return bus_release(m);
	}
	struct delivery *d = mem_zalloc(sizeof(*d));
	d->w = w;
	d->m = m;
	d->retry_after_s = -1;
	atomic_fetch_add(&w->in_flight, 1);
	json_t *pl = json_loadb(m->payload, m->payload_len, 0, NULL);
	if (!strcmp(m->subject, CALLBACK_SUBJECT))
		send_callback(w, d, pl);
	else
		send_webhook(w, d, pl);
	json_decref(pl);
	pthread_rwlock_unlock(&w->gate);
}

/* ---- the flusher: log, endpoint rules, settlement ---- */

enum verdict { V_ACK, V_NAK, V_TERM };

struct outcome {
	struct delivery *d;
	enum verdict v;
	int64_t delay_us;
	char error[160];
	const char *outcome;
};

struct batch {
	struct webhooks *w;
	struct outcome *o;
	size_t n;
};

static void disable_tx(struct webhooks *w, struct store_tx *tx, struct delivery *d,
		       const char *reason)
{
	if (store_endpoint_disable(tx, d->endpoint_id, reason) == 1) {
		json_t *data = json_pack("{s:s,s:s,s:s}", "endpoint_id", d->endpoint_id, "url",
					 d->url, "reason", reason);
		webhooks_emit_tx(w->bus, tx, d->m->tenant_id, "webhook.endpoint_disabled", data,
				 NULL, NULL);
		json_decref(data);
	}
}

static void judge(struct webhooks *w, struct store_tx *tx, struct outcome *o)
{
	struct delivery *d = o->d;
	const struct config *cfg = w->cfg;
	uint64_t unit = (uint64_t)cfg->webhooks_retry_unit_us;
	bool ok = d->status >= 200 && d->status < 300;
	if (d->error)
		snprintf(o->error, sizeof(o->error), "%s", d->error);
	else if (!ok)
		snprintf(o->error, sizeof(o->error), "HTTP %d", d->status);
	bool local =
	    d->error &&
	    (!strcmp(d->error, "endpoint disabled") || !strcmp(d->error, "endpoint deleted") ||
	     !strcmp(d->error, "malformed job") || !strcmp(d->error, "invalid url"));
	if (ok) {
		o->v = V_ACK;
		o->outcome = "delivered";
		if (!d->callback)
			store_endpoint_failing(tx, d->endpoint_id, 0, false, NULL);
		return;
	}
	if (local) {
		/* not sent: dead at once, replayable once the cause is fixed */
		o->v = V_TERM;
		o->outcome = !strcmp(d->error, "endpoint disabled") ? "disabled" : "dropped";
		return;
	}
	if (!d->callback && d->status == 410) {
		disable_tx(w, tx, d, "the receiver answered 410 Gone");
		o->v = V_TERM;
		o->outcome = "disabled";
		return;
	}
	if (!d->callback) {
		uint64_t now = time_now_us(), since = now;
		if (store_endpoint_failing(tx, d->endpoint_id, now, true, &since) >= 0 &&
		    now - since >= (uint64_t)cfg->webhooks_disable_after_s * unit) {
			disable_tx(w, tx, d, "failing without a success for too long");
			o->v = V_TERM;
			o->outcome = "disabled";
			return;
		}
	}
	if (d->m->attempt >= d->m->max_attempts) {
		o->v = V_TERM;
		o->outcome = "exhausted";
		return;
	}
	int64_t delay_s = webhooks_retry_delay_s(d->m->attempt);
	if ((d->status == 429 || d->status == 503) && d->retry_after_s >= 0)
		delay_s = d->retry_after_s; /* the receiver's word wins */
	o->v = V_NAK;
	o->delay_us = delay_s * (int64_t)unit;
	o->outcome = "retrying";
}

static int flush_fn(struct store_tx *tx, void *arg)
{
	struct batch *b = arg;
	uint64_t now = time_now_us();
	for (size_t i = 0; i < b->n; i++) {
		struct outcome *o = &b->o[i];
		struct delivery *d = o->d;
		judge(b->w, tx, o);
		char id[ID_LEN + 1];
		id_new("WD", id);
		struct store_delivery row = {
		    .id = id,
		    .tenant_id = d->m->tenant_id,
		    .endpoint_id = d->callback ? NULL : d->endpoint_id,
		    .event_id = d->callback || !*d->event_id ? NULL : d->event_id,
		    .job_id = d->m->id,
		    .event_type = d->callback ? NULL : d->type,
		    .url = d->url ? d->url : "",
		    .attempt = d->m->attempt,
		    .status_code = d->status,
		    .error = o->error[0] ? o->error : NULL,
		    .response = d->resp,
		    .outcome = o->outcome,
		    .latency_us = d->latency_us,
		    .created_us = now,
		};
		if (!*d->m->tenant_id)
			continue; /* system callbacks are not logged per tenant */
		int r = store_delivery_insert(tx, &row);
		if (r < 0)
			return r;
	}
	return 0;
}

static void settle(struct webhooks *w, struct outcome *o)
{
	struct delivery *d = o->d;
	if (d->aborted && o->v != V_ACK) {
		bus_release(d->m);
	} else if (o->v == V_ACK) {
		atomic_fetch_add(&w->delivered, 1);
		bus_ack(d->m);
	} else {
		atomic_fetch_add(&w->failed, 1);
		if (o->v == V_NAK)
			bus_nak(d->m, o->delay_us, o->error);
		else
			bus_term(d->m, o->error);
	}
	atomic_fetch_sub(&w->in_flight, 1);
	delivery_free(d);
}

static void flush_batch(struct webhooks *w, struct delivery *list)
{
	while (list) {
		struct outcome o[FLUSH_MAX];
		struct batch b = {.w = w, .o = o};
		for (; list && b.n < FLUSH_MAX; list = list->next)
			o[b.n++] = (struct outcome){.d = list};
		for (size_t i = 0; i < b.n; i++)
			o[i].d->next = NULL;
		int r = store_tx(w->st, NULL, STORE_WRITE, flush_fn, &b);
		for (size_t i = 0; i < b.n; i++) {
			if (r < 0) { /* the log could not be written: try the whole thing again */
				o[i].v = V_NAK;
				o[i].delay_us = (int64_t)w->cfg->webhooks_retry_unit_us;
				snprintf(o[i].error, sizeof(o[i].error),
					 "delivery log unavailable");
			}
			settle(w, &o[i]);
		}
		bus_kick(w->bus); /* endpoint-disabled events */
	}
}

static void *flusher_main(void *arg)
{
	struct webhooks *w = arg;
	pthread_mutex_lock(&w->rlock);
	for (;;) {
		while (!w->rhead && !w->stop)
			pthread_cond_wait(&w->rwake, &w->rlock);
		struct delivery *list = w->rhead;
		w->rhead = w->rtail = NULL;
		bool stop = w->stop;
		pthread_mutex_unlock(&w->rlock);
		if (list)
			flush_batch(w, list);
		pthread_mutex_lock(&w->rlock);
		if (stop && !w->rhead)
			break;
	}
	pthread_mutex_unlock(&w->rlock);
	return NULL;
}

/* ---- lifecycle ---- */

int webhooks_start(const struct config *cfg, struct store *st, struct bus *bus,
		   struct webhooks **ret)
{
	struct webhooks *w = mem_zalloc(sizeof(*w));
	w->cfg = cfg;
	w->st = st;
	w->bus = bus;
	pthread_mutex_init(&w->clock, NULL);
	pthread_rwlock_init(&w->gate, NULL);
	pthread_mutex_init(&w->rlock, NULL);
	pthread_cond_init(&w->rwake, NULL);
	int r = whc_new(cfg->webhooks_max_inflight, &w->client);
	if (r < 0)
		goto fail;
	if (pthread_create(&w->flusher, NULL, flusher_main, w)) {
		r = -EAGAIN;
		goto fail;
	}
	w->flusher_started = true;
	/* a lease outlives the longest attempt (connect + transfer) twice over, so only a
	   dead process's jobs come back */
	uint64_t vis =
	    (uint64_t)(cfg->webhooks_timeout_ms + cfg->webhooks_connect_timeout_ms) * 2000ull +
	    5 * 1000000ull;
	struct bus_consumer_opts o = {.name = "webhooks",
				      .subject = WEBHOOK_SUBJECT,
				      .batch = 256,
				      .max_inflight = cfg->webhooks_max_inflight * 2,
				      .visibility_us = vis,
				      .max_attempts = WEBHOOK_ATTEMPTS};
	if ((r = bus_subscribe(bus, &o, on_msg, w, &w->cw)) < 0)
		goto fail;
	o.name = "callbacks";
	o.subject = CALLBACK_SUBJECT;
	if ((r = bus_subscribe(bus, &o, on_msg, w, &w->cc)) < 0)
		goto fail;
	*ret = w;
	return 0;
fail:
	webhooks_stop(w);
	return r;
}

void webhooks_stop(struct webhooks *w)
{
	if (!w)
		return;
	/* 1. no new sends; 2. the client reports every unfinished transfer, which the
	   flusher releases back to the queue; 3. the flusher drains; 4. the consumers stop
	   (messages arriving meanwhile are released at once) */
	pthread_rwlock_wrlock(&w->gate);
	w->stopping = true;
	pthread_rwlock_unlock(&w->gate);
	atomic_store(&w->aborting, true);
	whc_free(w->client);
	w->client = NULL;
	pthread_mutex_lock(&w->rlock);
	w->stop = true;
	pthread_cond_signal(&w->rwake);
	pthread_mutex_unlock(&w->rlock);
	if (w->flusher_started)
		pthread_join(w->flusher, NULL);
	bus_unsubscribe(w->cw);
	bus_unsubscribe(w->cc);
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		for (struct centry *e = w->eps[i], *n; e; e = n) {
			n = e->next;
			centry_free(e);
		}
		for (struct centry *e = w->tokens[i], *n; e; e = n) {
			n = e->next;
			centry_free(e);
		}
	}
	pthread_mutex_destroy(&w->clock);
	pthread_rwlock_destroy(&w->gate);
	pthread_mutex_destroy(&w->rlock);
	pthread_cond_destroy(&w->rwake);
	mem_free(w);
}

void webhooks_stats(struct webhooks *w, struct webhooks_stats *ret)
{
	ret->sent = atomic_load(&w->sent);
	ret->delivered = atomic_load(&w->delivered);
	ret->failed = atomic_load(&w->failed);
	ret->in_flight = atomic_load(&w->in_flight);
}
