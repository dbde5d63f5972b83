/* bus.c: what both backends share: opening by bus.url, message objects, settlement entry
   points, ids that keep publish order within a process, backoff with jitter, counters. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int bus_open(const struct config *cfg, struct store *st, struct bus **ret)
{
	const char *url = cfg->bus_url ? cfg->bus_url : "";
	const struct bus_backend *be;
	if (!*url || !strcmp(url, "store"))
		be = &bus_store_backend;
	else if (!strncmp(url, "nats://", 7) || !strncmp(url, "tls://", 6))
		be = &bus_nats_backend;
	else
		return -EINVAL;
	struct bus *b = mem_zalloc(sizeof(*b));
	b->be = be;
	b->cfg = cfg;
	b->st = st;
	pthread_mutex_init(&b->lock, NULL);
	int r = be->open(b);
	if (r < 0) {
		pthread_mutex_destroy(&b->lock);
		mem_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

static void consumer_free(struct bus_consumer *c)
{
	mem_free((char *)c->o.name);
	mem_free((char *)c->o.subject);
	mem_free(c);
}

void bus_unsubscribe(struct bus_consumer *c)
{
	if (!c)
		return;
	struct bus *b = c->bus;
	pthread_mutex_lock(&b->lock);
	struct bus_consumer **pp = &b->consumers;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	bool listed = *pp == c;
	if (listed)
		*pp = c->next;
	pthread_mutex_unlock(&b->lock);
	if (!listed)
		return;
	b->be->unsubscribe(c);
	if (atomic_load(&c->inflight) == 0)
		consumer_free(c);
}

void bus_close(struct bus *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	struct bus_consumer *list = b->consumers;
	b->consumers = NULL;
	pthread_mutex_unlock(&b->lock);
	for (struct bus_consumer *c = list; c; c = c->next)
		b->be->unsubscribe(c);
	b->be->close(b);
	for (struct bus_consumer *c = list, *n; c; c = n) {
		n = c->next;
		/* a handler still holding messages would settle into freed memory: keep it */
		if (atomic_load(&c->inflight) == 0)
			consumer_free(c);
	}
	pthread_mutex_destroy(&b->lock);
	mem_free(b);
}

const char *bus_backend_name(const struct bus *b)
{
	return b->be->name;
}

bool bus_subject_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '.' || ch == '-'))
			return false;
	}
	return s[0] != '.' && s[n - 1] != '.';
}

static int check_pub(const struct bus_pub *p)
{
	if (!bus_subject_valid(p->subject) || !p->payload)
		return -EINVAL;
	if ((p->dedupe_key && strlen(p->dedupe_key) > 200) ||
	    (p->order_key && strlen(p->order_key) > 200))
		return -EINVAL;
	return 0;
}

int bus_publish_tx(struct bus *b, struct store_tx *tx, const struct bus_pub *p,
		   char ret_id[ID_LEN + 1])
{
	int r = check_pub(p);
	if (r < 0)
		return r;
	r = b->be->publish_tx(b, tx, p, ret_id);
	if (r >= 0)
		atomic_fetch_add(&b->published, 1);
	return r;
}

int bus_publish(struct bus *b, const struct bus_pub *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = check_pub(&p[i]);
		if (r < 0)
			return r;
	}
	int r = b->be->publish(b, p, n);
	if (r >= 0) {
		atomic_fetch_add(&b->published, n);
		bus_kick(b);
	}
	return r;
}

int bus_retry(struct bus *b, const char *tenant_id, const char *id)
{
	int r = b->be->retry(b, tenant_id, id);
	if (r >= 0)
		bus_kick(b);
	return r;
}

void bus_kick(struct bus *b)
{
	if (b->be->kick)
		b->be->kick(b);
}

int bus_subscribe(struct bus *b, const struct bus_consumer_opts *o, bus_msg_cb *cb, void *arg,
		  struct bus_consumer **ret)
{
	if (!o->name || !*o->name || !bus_subject_valid(o->subject) || !cb)
		return -EINVAL;
	struct bus_consumer *c = mem_zalloc(sizeof(*c));
	c->bus = b;
	c->o = *o;
	c->o.name = mem_strdup(o->name);
	c->o.subject = mem_strdup(o->subject);
	if (c->o.batch <= 0)
		c->o.batch = 256;
	if (c->o.max_inflight <= 0)
		c->o.max_inflight = 1024;
	if (!c->o.visibility_us)
		c->o.visibility_us = 60 * 1000000ull;
	if (c->o.max_attempts <= 0)
		c->o.max_attempts = 5;
	if (!c->o.backoff_base_us)
		c->o.backoff_base_us = 1000000;
	if (!c->o.backoff_max_us)
		c->o.backoff_max_us = 3600 * 1000000ull;
	c->cb = cb;
	c->arg = arg;
	int r = b->be->subscribe(b, c);
	if (r < 0) {
		consumer_free(c);
		return r;
	}
	pthread_mutex_lock(&b->lock);
	c->next = b->consumers;
	b->consumers = c;
	pthread_mutex_unlock(&b->lock);
	if (ret)
		*ret = c;
	return 0;
}

struct bus_msg *bus_msg_new(struct bus_consumer *c, const char *id, const char *tenant_id,
			    const char *subject, const char *payload, size_t payload_len,
			    const char *order_key, int attempt, int max_attempts,
			    uint64_t created_us)
{
	struct bus_msg *m = mem_zalloc(sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id ? id : "");
	snprintf(m->tenant_id, sizeof(m->tenant_id), "%s", tenant_id ? tenant_id : "");
	m->subject = mem_strdup(subject);
	m->payload = mem_strndup(payload, payload_len);
	m->payload_len = payload_len;
	m->order_key = order_key ? mem_strdup(order_key) : NULL;
	m->attempt = attempt;
	m->max_attempts = max_attempts;
	m->created_us = created_us;
	m->consumer = c;
	return m;
}

void bus_msg_free(struct bus_msg *m)
{
	if (!m)
		return;
	mem_free(m->subject);
	mem_free(m->payload);
	mem_free(m->order_key);
	mem_free(m);
}

void bus_deliver(struct bus_msg *m)
{
	struct bus_consumer *c = m->consumer;
	atomic_fetch_add(&c->inflight, 1);
	atomic_fetch_add(&c->bus->delivered, 1);
	if (m->attempt > 1)
		atomic_fetch_add(&c->bus->redelivered, 1);
	c->cb(m, c->arg);
}

static void settle(struct bus_msg *m, enum bus_settle how, int64_t delay_us, const char *error)
{
	struct bus_consumer *c = m->consumer;
	struct bus *b = c->bus;
	if (how == SETTLE_NAK && m->attempt >= m->max_attempts)
		how = SETTLE_TERM; /* that was the last attempt */
	if (how == SETTLE_ACK)
		atomic_fetch_add(&b->acked, 1);
	else if (how == SETTLE_TERM)
		atomic_fetch_add(&b->dead, 1);
	else if (how == SETTLE_NAK)
		atomic_fetch_add(&b->naked, 1);
	if (how == SETTLE_NAK && delay_us < 0)
		delay_us =
		    (int64_t)bus_backoff_us(c->o.backoff_base_us, c->o.backoff_max_us, m->attempt);
	b->be->settle(m, how, delay_us, error);
	bus_msg_free(m);
	atomic_fetch_sub(&c->inflight, 1);
}

void bus_ack(struct bus_msg *m)
{
	settle(m, SETTLE_ACK, 0, NULL);
}

void bus_nak(struct bus_msg *m, int64_t delay_us, const char *error)
{
	settle(m, SETTLE_NAK, delay_us, error);
}

void bus_release(struct bus_msg *m)
{
	settle(m, SETTLE_RELEASE, 0, NULL);
}

void bus_term(struct bus_msg *m, const char *error)
{
	settle(m, SETTLE_TERM, 0, error);
}

void bus_stats(struct bus *b, struct bus_stats *ret)
{
	ret->published = atomic_load(&b->published);
	ret->delivered = atomic_load(&b->delivered);
	ret->acked = atomic_load(&b->acked);
	ret->naked = atomic_load(&b->naked);
	ret->dead = atomic_load(&b->dead);
	ret->redelivered = atomic_load(&b->redelivered);
}

uint64_t bus_backoff_us(uint64_t base_us, uint64_t max_us, int attempt)
{
	if (attempt < 1)
		attempt = 1;
	uint64_t d = base_us;
	for (int i = 1; i < attempt && d < max_us; i++)
		d *= 2;
	if (d > max_us)
		d = max_us;
	uint32_t rnd;
	rand_bytes(&rnd, sizeof(rnd));
	/* +-20%: d * (0.8 + 0.4 * rnd / 2^32) */
	return d * 8 / 10 + (uint64_t)((double)d * 0.4 * ((double)rnd / 4294967296.0));
}

/* xorshift64* per thread, seeded from the kernel once: ids need uniqueness, not secrecy,
   and a getrandom() per id showed in the writer's profile */
static uint64_t fast_rand(void)
{
	static _Thread_local uint64_t x;
	while (!x)
		rand_bytes(&x, sizeof(x));
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return x * 0x2545F4914F6CDD1Dull;
}

void bus_deadline(int ms, struct timespec *ret)
{
	clock_gettime(CLOCK_MONOTONIC, ret);
	ret->tv_nsec += (long)ms * 1000000L;
	ret->tv_sec += ret->tv_nsec / 1000000000L;
	ret->tv_nsec %= 1000000000L;
}

void bus_id_new(char out[ID_LEN + 1])
{
	/* JB + 12 hex ms + 8 hex process-wide sequence + 12 hex random: ids made by one process
	   sort in the order they were made, which per-key ordering relies on */
	static atomic_uint seq;
	static atomic_bool seeded;
	if (!atomic_exchange(&seeded, true))
		atomic_fetch_add(&seq, (unsigned)(fast_rand() & 0x3fffffff));
	uint64_t ms = time_now_us() / 1000;
	snprintf(out, ID_LEN + 1, "JB%012llx%08x%012llx",
		 (unsigned long long)(ms & 0xffffffffffffull), atomic_fetch_add(&seq, 1),
		 (unsigned long long)(fast_rand() & 0xffffffffffffull));
}
