/* store_backend.c: the bus on the store's jobs table. Publishing is an insert (in the
   caller's transaction: a transactional outbox); each consumer has a thread that claims
   ready jobs in batches, hands them out, and applies the settlements it collected in one
   write transaction per round. A lease (visibility timeout) brings back the jobs of a
   consumer that died. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct settlement {
	char id[ID_LEN + 1];
	enum bus_settle how;
	uint64_t run_at_us;
	char *error;
};

struct sconsumer {
	struct bus_consumer *c;
	pthread_t thread;
	bool started, stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool kicked;
	struct settlement *pending; /* under lock */
	size_t npending, cap;
};

struct sbus {
	pthread_t maint;
	bool maint_started, stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

/* id: made by the caller (outside the writer thread where it can be). */
static int insert_pub(struct store_tx *tx, const struct bus_pub *p, const char *state,
		      const char *id, char ret_id[ID_LEN + 1])
{
	char *payload = p->payload_len ? mem_strndup(p->payload, p->payload_len) : NULL;
	struct store_job j = {
	    .id = id,
	    .tenant_id = p->tenant_id,
	    .subject = p->subject,
	    .payload = payload ? payload : p->payload,
	    .dedupe_key = p->dedupe_key,
	    .order_key = p->order_key,
	    .state = state,
	    .max_attempts = p->max_attempts > 0 ? p->max_attempts : 0,
	    .run_at_us = time_now_us() + p->delay_us,
	};
	int r = store_job_insert(tx, &j);
	mem_free(payload);
	if (r >= 0 && ret_id)
		memcpy(ret_id, id, ID_LEN + 1);
	return r;
}

static int st_publish_tx(struct bus *b, struct store_tx *tx, const struct bus_pub *p,
			 char ret_id[ID_LEN + 1])
{
	(void)b;
	char id[ID_LEN + 1];
	bus_id_new(id);
	return insert_pub(tx, p, "queued", id, ret_id);
}

struct pubs {
	const struct bus_pub *p;
	size_t n;
	char (*ids)[ID_LEN + 1];
};

static int publish_fn(struct store_tx *tx, void *arg)
{
	struct pubs *ps = arg;
	for (size_t i = 0; i < ps->n; i++) {
		int r = insert_pub(tx, &ps->p[i], "queued", ps->ids[i], NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int st_publish(struct bus *b, const struct bus_pub *p, size_t n)
{
	struct pubs ps = {p, n, mem_alloc((n ? n : 1) * sizeof(*ps.ids))};
	for (size_t i = 0; i < n; i++)
		bus_id_new(ps.ids[i]);
	int r = store_tx(b->st, NULL, STORE_WRITE, publish_fn, &ps);
	mem_free(ps.ids);
	return r;
}

/* ---- consumer thread ---- */

struct claim {
	struct sconsumer *sc;
	json_t *rows;
	struct settlement *s;
	size_t ns;
	bool want; /* claim in this round */
};

static int settle_fn(struct store_tx *tx, void *arg)
{
	struct claim *cl = arg;
	const char **acks = mem_alloc((cl->ns ? cl->ns : 1) * sizeof(*acks));
	size_t na = 0;
	for (size_t i = 0; i < cl->ns; i++)
		if (cl->s[i].how == SETTLE_ACK)
			acks[na++] = cl->s[i].id;
	int ra = 0;
	for (size_t i = 0; i < na && ra >= 0; i += 500)
		ra = store_job_ack_many(tx, acks + i, na - i < 500 ? na - i : 500);
	mem_free(acks);
	if (ra < 0)
		return ra;
	for (size_t i = 0; i < cl->ns; i++) {
		struct settlement *s = &cl->s[i];
		if (s->how == SETTLE_ACK)
			continue;
		int r = s->how == SETTLE_ACK   ? store_job_ack(tx, s->id)
			: s->how == SETTLE_NAK ? store_job_nak(tx, s->id, s->run_at_us, s->error)
			: s->how == SETTLE_RELEASE ? store_job_release(tx, s->id)
						   : store_job_dead(tx, s->id, s->error);
		if (r < 0)
			return r;
	}
	return 0;
}

static int claim_fn(struct store_tx *tx, void *arg)
{
	struct claim *cl = arg;
	struct bus_consumer *c = cl->sc->c;
	int room = c->o.max_inflight - atomic_load(&c->inflight);
	int n = room < c->o.batch ? room : c->o.batch;
	uint64_t now = time_now_us();
	return store_job_claim(tx, c->o.subject, c->o.ordered, now, now + c->o.visibility_us, n,
			       &cl->rows);
}

static int ready_fn(struct store_tx *tx, void *arg)
{
	struct sconsumer *sc = arg;
	return store_job_ready(tx, sc->c->o.subject, time_now_us());
}

/* Takes the settlements collected so far (the caller applies them). */
static void take_pending(struct sconsumer *sc, struct claim *cl)
{
	pthread_mutex_lock(&sc->lock);
	cl->s = sc->pending;
	cl->ns = sc->npending;
	sc->pending = NULL;
	sc->npending = sc->cap = 0;
	pthread_mutex_unlock(&sc->lock);
}

/* After a failed transaction: the settlements go back in front of newer ones and are tried
   again next round (their jobs stay leased meanwhile). */
static void restore_pending(struct sconsumer *sc, struct claim *cl)
{
	if (!cl->ns)
		return;
	pthread_mutex_lock(&sc->lock);
	size_t n = cl->ns + sc->npending;
	struct settlement *all = mem_alloc(n * sizeof(*all));
	memcpy(all, cl->s, cl->ns * sizeof(*all));
	if (sc->npending)
		memcpy(all + cl->ns, sc->pending, sc->npending * sizeof(*all));
	mem_free(sc->pending);
	sc->pending = all;
	sc->npending = sc->cap = n;
	pthread_mutex_unlock(&sc->lock);
	mem_free(cl->s);
	cl->s = NULL;
	cl->ns = 0;
}

static void free_pending(struct claim *cl)
{
	for (size_t i = 0; i < cl->ns; i++)
		mem_free(cl->s[i].error);
	mem_free(cl->s);
	cl->s = NULL;
	cl->ns = 0;
}

/* One round, one write transaction: apply the settlements, then (if asked) claim. */
static int round_fn(struct store_tx *tx, void *arg)
{
	struct claim *cl = arg;
	int r = cl->ns ? settle_fn(tx, cl) : 0;
	if (r >= 0 && cl->want)
		r = claim_fn(tx, cl);
	return r;
}

/* Settles without claiming (shutdown). */
static void flush(struct sconsumer *sc)
{
	struct claim cl = {.sc = sc};
	take_pending(sc, &cl);
	if (cl.ns && store_tx(sc->c->bus->st, NULL, STORE_WRITE, round_fn, &cl) < 0)
		return restore_pending(sc, &cl);
	free_pending(&cl);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
		      json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

static size_t deliver_rows(struct sconsumer *sc, json_t *rows)
{
	struct bus_consumer *c = sc->c;
	size_t n = json_array_size(rows);
	json_t **v = mem_alloc((n ? n : 1) * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(rows, i);
	qsort(v, n, sizeof(*v), cmp_id); /* RETURNING has no order */
	for (size_t i = 0; i < n; i++) {
		json_t *row = v[i];
		int attempts = (int)json_integer_value(json_object_get(row, "attempts"));
		int max = (int)json_integer_value(json_object_get(row, "max_attempts"));
		if (max <= 0)
			max = c->o.max_attempts;
		const char *payload = json_string_value(json_object_get(row, "payload"));
		struct bus_msg *m =
		    bus_msg_new(c, json_string_value(json_object_get(row, "id")),
				json_string_value(json_object_get(row, "tenant_id")),
				json_string_value(json_object_get(row, "subject")),
				payload ? payload : "", payload ? strlen(payload) : 0,
				json_string_value(json_object_get(row, "order_key")), attempts, max,
				(uint64_t)json_integer_value(json_object_get(row, "created_us")));
		if (attempts > max) {
			/* its last attempt's lease ran out (the consumer died): stop here */
			atomic_fetch_add(&c->inflight, 1);
			m->attempt = max;
			bus_term(m, "lease expired on the last attempt");
			continue;
		}
		bus_deliver(m);
	}
	mem_free(v);
	return n;
}

static void wait_wake(struct sconsumer *sc, int ms)
{
	struct timespec ts;
	bus_deadline(ms, &ts);
	pthread_mutex_lock(&sc->lock);
	while (!sc->stop && !sc->kicked && !sc->npending)
		if (pthread_cond_timedwait(&sc->wake, &sc->lock, &ts))
			break;
	sc->kicked = false;
	pthread_mutex_unlock(&sc->lock);
}

static void *consumer_main(void *arg)
{
	struct sconsumer *sc = arg;
	struct bus_consumer *c = sc->c;
	struct store *st = c->bus->st;
	int poll_ms = c->bus->cfg->bus_poll_ms > 0 ? c->bus->cfg->bus_poll_ms : 5;
	bool last_full = false;
	for (;;) {
		pthread_mutex_lock(&sc->lock);
		bool stop = sc->stop;
		pthread_mutex_unlock(&sc->lock);
		if (stop)
			break;
		struct claim cl = {.sc = sc};
		take_pending(sc, &cl);
		size_t settled = cl.ns, got = 0;
		/* a cheap read first, unless the last claim was busy: an idle consumer costs no
		   write transactions */
		cl.want = atomic_load(&c->inflight) < c->o.max_inflight &&
			  (last_full || store_tx(st, NULL, STORE_READ, ready_fn, sc) > 0);
		if (cl.ns || cl.want) {
			if (store_tx(st, NULL, STORE_WRITE, round_fn, &cl) >= 0) {
				free_pending(&cl);
				got = cl.rows ? deliver_rows(sc, cl.rows) : 0;
			} else {
				restore_pending(sc, &cl);
				settled = 0;
			}
			json_decref(cl.rows);
		}
		last_full = got > 0;
		if (!got && !settled)
			wait_wake(sc, poll_ms);
	}
	flush(sc);
	return NULL;
}

static int st_subscribe(struct bus *b, struct bus_consumer *c)
{
	(void)b;
	struct sconsumer *sc = mem_zalloc(sizeof(*sc));
	sc->c = c;
	pthread_mutex_init(&sc->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sc->wake, &ca);
	pthread_condattr_destroy(&ca);
	c->impl = sc;
	if (pthread_create(&sc->thread, NULL, consumer_main, sc)) {
		pthread_mutex_destroy(&sc->lock);
		pthread_cond_destroy(&sc->wake);
		mem_free(sc);
		return -EAGAIN;
	}
	sc->started = true;
	return 0;
}

static void st_unsubscribe(struct bus_consumer *c)
{
	struct sconsumer *sc = c->impl;
	/* give handlers a moment to settle what they hold, so it is not redelivered */
	for (int i = 0; i < 500 && atomic_load(&c->inflight) > 0; i++) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&sc->lock);
	sc->stop = true;
	pthread_cond_signal(&sc->wake);
	pthread_mutex_unlock(&sc->lock);
	if (sc->started)
		pthread_join(sc->thread, NULL);
	flush(sc);
	/* sc stays allocated while messages are out: their settlements still land here */
	if (atomic_load(&c->inflight) == 0) {
		pthread_mutex_destroy(&sc->lock);
		pthread_cond_destroy(&sc->wake);
		mem_free(sc);
		c->impl = NULL;
	}
}

static void st_settle(struct bus_msg *m, enum bus_settle how, int64_t delay_us, const char *error)
{
	struct sconsumer *sc = m->consumer->impl;
	if (!sc)
		return; /* consumer gone: the lease brings the job back */
	pthread_mutex_lock(&sc->lock);
	if (sc->npending == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		sc->pending = mem_realloc(sc->pending, sc->cap * sizeof(*sc->pending));
	}
	struct settlement *s = &sc->pending[sc->npending++];
	memcpy(s->id, m->id, sizeof(s->id));
	s->how = how;
	s->run_at_us = time_now_us() + (uint64_t)(delay_us > 0 ? delay_us : 0);
	s->error = error ? mem_strndup(error, strnlen(error, 1000)) : NULL;
	pthread_cond_signal(&sc->wake);
	pthread_mutex_unlock(&sc->lock);
}

struct retry {
	const char *tenant_id, *id;
};

static int retry_fn(struct store_tx *tx, void *arg)
{
	struct retry *rt = arg;
	return store_job_requeue(tx, rt->tenant_id, rt->id);
}

static int st_retry(struct bus *b, const char *tenant_id, const char *id)
{
	struct retry rt = {tenant_id, id};
	return store_tx(b->st, tenant_id, STORE_WRITE, retry_fn, &rt);
}

static void st_kick(struct bus *b)
{
	pthread_mutex_lock(&b->lock);
	for (struct bus_consumer *c = b->consumers; c; c = c->next) {
		struct sconsumer *sc = c->impl;
		if (!sc)
			continue;
		pthread_mutex_lock(&sc->lock);
		sc->kicked = true;
		pthread_cond_signal(&sc->wake);
		pthread_mutex_unlock(&sc->lock);
	}
	pthread_mutex_unlock(&b->lock);
}

/* ---- maintenance: finished jobs are pruned after bus.retention_s ---- */

static int prune_fn(struct store_tx *tx, void *arg)
{
	struct bus *b = arg;
	uint64_t keep = (uint64_t)b->cfg->bus_retention_s * 1000000ull;
	return store_job_prune(tx, time_now_us() - keep, 5000);
}

static void *maint_main(void *arg)
{
	struct bus *b = arg;
	struct sbus *s = b->impl;
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 60;
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->lock);
		while (store_tx(b->st, NULL, STORE_WRITE, prune_fn, b) >= 5000)
			;
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int st_open(struct bus *b)
{
	struct sbus *s = mem_zalloc(sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	b->impl = s;
	s->maint_started = !pthread_create(&s->maint, NULL, maint_main, b);
	return 0;
}

static void st_close(struct bus *b)
{
	struct sbus *s = b->impl;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->maint_started)
		pthread_join(s->maint, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	mem_free(s);
}

const struct bus_backend bus_store_backend = {
    .name = "store",
    .open = st_open,
    .close = st_close,
    .publish = st_publish,
    .publish_tx = st_publish_tx,
    .subscribe = st_subscribe,
    .unsubscribe = st_unsubscribe,
    .settle = st_settle,
    .retry = st_retry,
    .kick = st_kick,
};
