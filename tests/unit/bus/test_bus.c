/* test_bus.c: the bus contract, run on every backend available: the store on SQLite
   (always), the store on PostgreSQL (IRISX_TEST_PG_URL) and NATS JetStream
   (IRISX_TEST_NATS_URL, with a SQLite store for the outbox and dead letters). Delivery
   and ack counts, nak with delay, backoff, dead letters and retry, visibility timeout,
   per-key order, dedupe, delayed delivery, the transactional outbox (rollback publishes
   nothing); on NATS also nats-server restarts under load. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"
#include "../test.h"

#define MAXSEEN 20000

/* What a test consumer does with each message. */
enum policy { P_ACK, P_NAK_ONCE, P_NAK_ALWAYS, P_TERM, P_HOLD, P_NAK_RANDOM };

struct sink {
	pthread_mutex_t lock;
	enum policy policy;
	int64_t nak_delay_us;
	int n;			       /* deliveries */
	char ids[MAXSEEN][ID_LEN + 1]; /* in delivery order */
	char payloads[MAXSEEN][48];
	int attempts[MAXSEEN];
	uint64_t at_us[MAXSEEN];
	int acked;
	struct bus_msg *held[64];
	int nheld;
};

static void sink_init(struct sink *s, enum policy p)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->policy = p;
	s->nak_delay_us = 100000;
}

static void on_msg(struct bus_msg *m, void *arg)
{
	struct sink *s = arg;
	pthread_mutex_lock(&s->lock);
	int i = s->n < MAXSEEN ? s->n++ : MAXSEEN - 1;
	memcpy(s->ids[i], m->id, sizeof(m->id));
	snprintf(s->payloads[i], sizeof(s->payloads[i]), "%.*s", (int)m->payload_len, m->payload);
	s->attempts[i] = m->attempt;
	s->at_us[i] = time_mono_us();
	enum policy p = s->policy;
	bool hold = p == P_HOLD && s->nheld < 64;
	if (hold)
		s->held[s->nheld++] = m;
	unsigned rnd = (unsigned)rand();
	pthread_mutex_unlock(&s->lock);
	if (hold)
		return;
	if (p == P_ACK || (p == P_NAK_ONCE && m->attempt > 1) ||
	    (p == P_NAK_RANDOM && (m->attempt > 1 || rnd % 3))) {
		pthread_mutex_lock(&s->lock);
		s->acked++;
		pthread_mutex_unlock(&s->lock);
		bus_ack(m);
	} else if (p == P_TERM) {
		bus_term(m, "test: refused");
	} else if (p == P_HOLD) {
		bus_ack(m);
	} else {
		bus_nak(m, p == P_NAK_RANDOM ? 1000 : s->nak_delay_us, "test: try again");
	}
}

static int sink_count(struct sink *s, int *acked)
{
	pthread_mutex_lock(&s->lock);
	int n = s->n;
	if (acked)
		*acked = s->acked;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Waits until pred-like condition: at least want deliveries (or acks). */
static bool wait_for(struct sink *s, int want, bool acks, int ms)
{
	for (int t = 0; t < ms; t += 5) {
		int a, n = sink_count(s, &a);
		if ((acks ? a : n) >= want)
			return true;
		usleep(5000);
	}
	return false;
}

/* ---- fixture ---- */

static struct config cfg;
static struct store *st;
static struct bus *bus;
static char tenant[ID_LEN + 1];
static char subj_prefix[24];
static int subj_seq;

static void subject(char *out, size_t n, const char *tag)
{
	snprintf(out, n, "%s.%s.%d", subj_prefix, tag, subj_seq++);
}

static struct bus_consumer_opts opts(const char *name, const char *subject)
{
	struct bus_consumer_opts o = {.name = name,
				      .subject = subject,
				      .batch = 128,
				      .max_inflight = 4096,
				      .visibility_us = 5 * 1000000ull,
				      .max_attempts = 3,
				      .backoff_base_us = 50000,
				      .backoff_max_us = 200000};
	return o;
}

static struct bus_pub pub(const char *subject, const char *payload)
{
	struct bus_pub p = {.subject = subject, .tenant_id = tenant, .payload = payload};
	return p;
}

/* state of a job row (store backend: every job; NATS: outbox and dead letters) */
struct jobq {
	const char *id;
	json_t *row;
};

static int job_fn(struct store_tx *tx, void *arg)
{
	struct jobq *q = arg;
	return store_job_get(tx, NULL, q->id, &q->row);
}

static char *job_state(const char *id)
{
	struct jobq q = {.id = id};
	if (store_tx(st, NULL, STORE_READ, job_fn, &q) < 0)
		return NULL;
	char *s = mem_strdup(json_str(q.row, "state"));
	json_decref(q.row);
	return s;
}

static int tenant_fn(struct store_tx *tx, void *arg)
{
	return store_tenant_insert(tx, arg, "Bus test", false);
}

/* ---- tests ---- */

static void test_publish_consume(void)
{
	char s[64];
	subject(s, sizeof(s), "basic");
	enum { N = 2000 };
	static struct sink k;
	sink_init(&k, P_ACK);
	struct bus_consumer *c;
	CHECK_EQ_INT(bus_subscribe(bus, &(struct bus_consumer_opts){0}, on_msg, &k, &c), -EINVAL);
	struct bus_consumer_opts o = opts("basic", s);
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &k, &c), 0);
	static struct bus_pub p[N];
	static char payloads[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(payloads[i], sizeof(payloads[i]), "{\"i\":%d}", i);
		p[i] = pub(s, payloads[i]);
	}
	uint64_t t0 = time_mono_us();
	for (int i = 0; i < N; i += 500)
		CHECK_EQ_INT(bus_publish(bus, p + i, 500), 0);
	uint64_t t1 = time_mono_us();
	CHECK(wait_for(&k, N, true, 20000));
	printf("  %d published in %llu ms, all acked after %llu ms\n", N,
	       (unsigned long long)(t1 - t0) / 1000,
	       (unsigned long long)(time_mono_us() - t0) / 1000);
	usleep(300000); /* nothing more may come */
	int acked, n = sink_count(&k, &acked);
	CHECK_EQ_INT(n, N);
	CHECK_EQ_INT(acked, N);
	/* each payload exactly once */
	static bool seen[N];
	memset(seen, 0, sizeof(seen));
	int dup = 0;
	for (int i = 0; i < n; i++) {
		int v = atoi(k.payloads[i] + 5);
		if (v >= 0 && v < N) {
			dup += seen[v];
			seen[v] = true;
		}
		CHECK_EQ_INT(k.attempts[i], 1);
	}
	CHECK_EQ_INT(dup, 0);
	/* bad subjects are refused */
	struct bus_pub bad = pub("Bad Subject", "{}");
	CHECK_EQ_INT(bus_publish(bus, &bad, 1), -EINVAL);
}

static void test_nak_backoff_dead_retry(void)
{
	char s[64];
	subject(s, sizeof(s), "nak");
	static struct sink k;
	sink_init(&k, P_NAK_ONCE);
	k.nak_delay_us = 300000;
	struct bus_consumer_opts o = opts("nak", s);
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &k, NULL), 0);
	struct bus_pub p = pub(s, "{\"nak\":1}");
	CHECK_EQ_INT(bus_publish(bus, &p, 1), 0);
	CHECK(wait_for(&k, 2, false, 10000));
	CHECK_EQ_INT(k.attempts[0], 1);
	CHECK_EQ_INT(k.attempts[1], 2);
	CHECK_STR(k.ids[0], k.ids[1]);
	uint64_t gap = k.at_us[1] - k.at_us[0];
	CHECK(gap >= 290000); /* the delay was honoured */
	CHECK(gap < 3000000);

	/* always failing: attempts 1..3 then dead; backoff (delay < 0) grows */
	char s2[64];
	subject(s2, sizeof(s2), "dead");
	static struct sink d;
	sink_init(&d, P_NAK_ALWAYS);
	d.nak_delay_us = -1;
	struct bus_consumer_opts o2 = opts("dead", s2);
	CHECK_EQ_INT(bus_subscribe(bus, &o2, on_msg, &d, NULL), 0);
	struct bus_pub p2 = pub(s2, "{\"dead\":1}");
	CHECK_EQ_INT(bus_publish(bus, &p2, 1), 0);
	CHECK(wait_for(&d, 3, false, 10000));
	usleep(800000);
	CHECK_EQ_INT(sink_count(&d, NULL), 3);
	CHECK_EQ_INT(d.attempts[2], 3);
	char *state = NULL;
	for (int i = 0; i < 100; i++) { /* the settlement lands in a batch */
		mem_free(state);
		state = job_state(d.ids[0]);
		if (state && !strcmp(state, "dead"))
			break;
		usleep(20000);
	}
	CHECK_STR(state, "dead");
	mem_free(state);
	/* retry through the jobs API path: delivered again from attempt 1 */
	CHECK_EQ_INT(bus_retry(bus, "AC00000000000000000000000000000000", d.ids[0]), -ENOENT);
	d.policy = P_ACK;
	CHECK(bus_retry(bus, tenant, d.ids[0]) >= 0);
	CHECK(wait_for(&d, 1, true, 10000));
	CHECK_EQ_INT(d.attempts[3], 1);
	CHECK_EQ_INT(bus_retry(bus, tenant, d.ids[0]), -EBUSY); /* not dead any more */

	/* term: dead at once */
	char s3[64];
	subject(s3, sizeof(s3), "term");
	static struct sink t;
	sink_init(&t, P_TERM);
	struct bus_consumer_opts o3 = opts("term", s3);
	CHECK_EQ_INT(bus_subscribe(bus, &o3, on_msg, &t, NULL), 0);
	struct bus_pub p3 = pub(s3, "{}");
	CHECK_EQ_INT(bus_publish(bus, &p3, 1), 0);
	CHECK(wait_for(&t, 1, false, 10000));
	usleep(500000);
	CHECK_EQ_INT(sink_count(&t, NULL), 1);
}

static void test_visibility_timeout(void)
{
	char s[64];
	subject(s, sizeof(s), "lease");
	static struct sink a, b;
	sink_init(&a, P_HOLD);
	sink_init(&b, P_ACK);
	struct bus_consumer_opts o = opts("lease", s);
	o.visibility_us = 700000;
	o.max_inflight = 1; /* a, holding one, claims no more */
	struct bus_consumer *ca;
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &a, &ca), 0);
	struct bus_pub p = pub(s, "{\"lease\":1}");
	CHECK_EQ_INT(bus_publish(bus, &p, 1), 0);
	CHECK(wait_for(&a, 1, false, 10000));
	/* a holds it without settling (as if its process hung); b, a second member of the
	   same durable consumer, gets it once the lease runs out */
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &b, NULL), 0);
	CHECK(wait_for(&b, 1, true, 10000));
	CHECK_STR(b.ids[0], a.ids[0]);
	CHECK_EQ_INT(b.attempts[0], 2);
	/* a settles late: harmless */
	pthread_mutex_lock(&a.lock);
	int nh = a.nheld;
	a.nheld = 0;
	pthread_mutex_unlock(&a.lock);
	for (int i = 0; i < nh; i++)
		bus_ack(a.held[i]);
}

static void test_ordering(void)
{
	char s[64];
	subject(s, sizeof(s), "order");
	enum { KEYS = 4, PER = 60 };
	static struct sink k;
	sink_init(&k, P_NAK_RANDOM);
	struct bus_consumer_opts o = opts("order", s);
	o.ordered = true;
	o.max_attempts = 5;
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &k, NULL), 0);
	static struct bus_pub p[KEYS * PER];
	static char pl[KEYS * PER][24], keys[KEYS][8];
	for (int key = 0; key < KEYS; key++)
		snprintf(keys[key], sizeof(keys[key]), "k%d", key);
	for (int i = 0; i < KEYS * PER; i++) {
		snprintf(pl[i], sizeof(pl[i]), "%d:%d", i % KEYS, i / KEYS);
		p[i] = pub(s, pl[i]);
		p[i].order_key = keys[i % KEYS];
	}
	CHECK_EQ_INT(bus_publish(bus, p, KEYS * PER), 0);
	CHECK(wait_for(&k, KEYS * PER, true, 30000));
	/* per key, acknowledged sequence numbers must be 0,1,2,... in order, and a message is
	   never delivered while an earlier one of its key is unsettled */
	int next[KEYS] = {0}, bad = 0;
	pthread_mutex_lock(&k.lock);
	/* rebuild the ack order: a delivery is acked when it is the last one of its id */
	for (int i = 0; i < k.n; i++) {
		bool last = true;
		for (int j = i + 1; j < k.n && last; j++)
			if (!strcmp(k.ids[j], k.ids[i]))
				last = false;
		if (!last)
			continue;
		int key, seq;
		if (sscanf(k.payloads[i], "%d:%d", &key, &seq) == 2 && key >= 0 && key < KEYS) {
			if (seq != next[key])
				bad++;
			next[key] = seq + 1;
		}
	}
	/* and no delivery of seq happened before the last delivery (the ack) of seq - 1 */
	static int last_at[KEYS][PER];
	for (int i = 0; i < k.n; i++) {
		int key, seq;
		if (sscanf(k.payloads[i], "%d:%d", &key, &seq) == 2 && key >= 0 && key < KEYS &&
		    seq >= 0 && seq < PER)
			last_at[key][seq] = i;
	}
	for (int i = 0; i < k.n; i++) {
		int key, seq;
		if (sscanf(k.payloads[i], "%d:%d", &key, &seq) == 2 && key >= 0 && key < KEYS &&
		    seq > 0 && seq < PER && last_at[key][seq - 1] > i)
			bad++;
	}
	pthread_mutex_unlock(&k.lock);
	CHECK_EQ_INT(bad, 0);
	for (int key = 0; key < KEYS; key++)
		CHECK_EQ_INT(next[key], PER);
}

static void test_dedupe(void)
{
	char s[64];
	subject(s, sizeof(s), "dedupe");
	static struct sink k;
	sink_init(&k, P_ACK);
	struct bus_consumer_opts o = opts("dedupe", s);
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &k, NULL), 0);
	struct bus_pub p[3] = {pub(s, "{\"n\":1}"), pub(s, "{\"n\":2}"), pub(s, "{\"n\":3}")};
	p[0].dedupe_key = p[1].dedupe_key = "same-key";
	CHECK_EQ_INT(bus_publish(bus, p, 3), 0);
	CHECK_EQ_INT(bus_publish(bus, p, 1), 0); /* again, later */
	CHECK(wait_for(&k, 2, true, 10000));
	usleep(500000);
	CHECK_EQ_INT(sink_count(&k, NULL), 2);
}

static void test_delay(void)
{
	char s[64];
	subject(s, sizeof(s), "delay");
	static struct sink k;
	sink_init(&k, P_NAK_ONCE);
	struct bus_consumer_opts o = opts("delay", s);
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &k, NULL), 0);
	struct bus_pub p = pub(s, "{\"later\":1}");
	p.delay_us = 400000;
	uint64_t t0 = time_mono_us();
	CHECK_EQ_INT(bus_publish(bus, &p, 1), 0);
	CHECK(wait_for(&k, 1, true, 10000));
	CHECK(k.at_us[0] - t0 >= 390000); /* not before its time */
	CHECK_EQ_INT(k.attempts[0], 1);	  /* waiting is not an attempt */
	CHECK_EQ_INT(k.attempts[1], 2);
}

struct txpub {
	const char *subject;
	bool fail;
	char id[ID_LEN + 1];
};

static int txpub_fn(struct store_tx *tx, void *arg)
{
	struct txpub *t = arg;
	struct bus_pub p = pub(t->subject, t->fail ? "{\"rolled\":\"back\"}" : "{\"ok\":1}");
	int r = bus_publish_tx(bus, tx, &p, t->id);
	if (r < 0)
		return r;
	return t->fail ? -EIO : 0; /* the business write failed: all of it rolls back */
}

static void test_outbox(void)
{
	char s[64];
	subject(s, sizeof(s), "outbox");
	static struct sink k;
	sink_init(&k, P_ACK);
	struct bus_consumer_opts o = opts("outbox", s);
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &k, NULL), 0);
	struct txpub bad = {.subject = s, .fail = true}, good = {.subject = s};
	CHECK_EQ_INT(store_tx(st, tenant, STORE_WRITE, txpub_fn, &bad), -EIO);
	CHECK_EQ_INT(store_tx(st, tenant, STORE_WRITE, txpub_fn, &good), 0);
	bus_kick(bus);
	CHECK(wait_for(&k, 1, true, 10000));
	usleep(500000);
	CHECK_EQ_INT(sink_count(&k, NULL), 1);
	CHECK_STR(k.payloads[0], "{\"ok\":1}");
	CHECK_STR(k.ids[0], good.id);
	char *state = job_state(bad.id);
	CHECK(state == NULL);
	mem_free(state);
}

static void test_backoff(void)
{
	for (int a = 1; a <= 12; a++) {
		uint64_t d = bus_backoff_us(1000, 100000, a);
		uint64_t base = 1000ull << (a - 1);
		if (base > 100000)
			base = 100000;
		CHECK(d >= base * 8 / 10);
		CHECK(d <= base * 12 / 10);
	}
	/* jitter: not all equal */
	uint64_t x = bus_backoff_us(1000000, 1000000, 1), y = x;
	for (int i = 0; i < 20 && y == x; i++)
		y = bus_backoff_us(1000000, 1000000, 1);
	CHECK(x != y);
}

/* ---- NATS only: nats-server restarts under load lose no acknowledged message ---- */

enum { RN = 5000 };

struct rpub {
	const char *subject;
	atomic_int next; /* messages attempted so far */
	bool ok[RN];	 /* its publish call returned success */
	char pl[RN][16];
};

/* Chunks of 10, alternately one call per message and one batch of 10, paced over ~2 s. */
static void *restart_pub(void *arg)
{
	struct rpub *rp = arg;
	for (int i = 0; i < RN; i += 10) {
		struct bus_pub p[10];
		for (int j = 0; j < 10; j++) {
			snprintf(rp->pl[i + j], sizeof(rp->pl[i + j]), "r:%d", i + j);
			p[j] = pub(rp->subject, rp->pl[i + j]);
		}
		if ((i / 10) % 2) {
			bool ok = bus_publish(bus, p, 10) == 0;
			for (int j = 0; j < 10; j++)
				rp->ok[i + j] = ok;
		} else {
			for (int j = 0; j < 10; j++)
				rp->ok[i + j] = bus_publish(bus, &p[j], 1) == 0;
		}
		atomic_store(&rp->next, i + 10);
		usleep(4000);
	}
	return NULL;
}

/* delivered counts per message; returns how many published-ok ones were never seen */
static int restart_tally(struct sink *k, const struct rpub *rp, int *ret_dup, int *ret_seen)
{
	static int seen[RN];
	memset(seen, 0, sizeof(seen));
	pthread_mutex_lock(&k->lock);
	for (int i = 0; i < k->n; i++) {
		int v;
		if (sscanf(k->payloads[i], "r:%d", &v) == 1 && v >= 0 && v < RN)
			seen[v]++;
	}
	pthread_mutex_unlock(&k->lock);
	int lost = 0, dup = 0, n = 0;
	for (int i = 0; i < RN; i++) {
		lost += rp->ok[i] && !seen[i];
		dup += seen[i] > 1 ? seen[i] - 1 : 0;
		n += seen[i] > 0;
	}
	*ret_dup = dup;
	*ret_seen = n;
	return lost;
}

static int nats_script(const char *verb, const char *dir, int port)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "scripts/nats-test.sh %s %s %d >/dev/null", verb, dir, port);
	return system(cmd);
}

static void test_nats_restart(void)
{
	if (access("scripts/nats-test.sh", X_OK) != 0) {
		printf("  nats restart: skipped (run from the source tree)\n");
		return;
	}
	/* a server of its own, so the shared one is not disturbed */
	char dir[] = "/tmp/irisx-natsr-XXXXXX";
	if (!mkdtemp(dir))
		return;
	int port = 0;
	for (int i = 0; i < 5 && !port; i++) {
		int p = 30000 + rand() % 20000;
		if (nats_script("start", dir, p) == 0)
			port = p;
	}
	CHECK(port != 0);
	if (!port)
		return;
	char url[64], *saved = cfg.bus_url;
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	cfg.bus_url = url;
	int r = bus_open(&cfg, st, &bus);
	cfg.bus_url = saved;
	CHECK_EQ_INT(r, 0);
	if (r < 0) {
		nats_script("stop", dir, 0);
		return;
	}
	char s[64];
	subject(s, sizeof(s), "restart");
	static struct sink k;
	sink_init(&k, P_ACK);
	struct bus_consumer_opts o = opts("restart", s);
	o.visibility_us = 2000000; /* acks lost in the restart come back soon */
	o.max_attempts = 20;
	CHECK_EQ_INT(bus_subscribe(bus, &o, on_msg, &k, NULL), 0);
	static struct rpub rp;
	memset(&rp, 0, sizeof(rp));
	rp.subject = s;
	pthread_t th;
	CHECK_EQ_INT(pthread_create(&th, NULL, restart_pub, &rp), 0);
	/* at 30%: a clean stop (SIGTERM, the script); at 65%: SIGKILL by PID */
	uint64_t down_ms[2];
	int at[2];
	for (int round = 0; round < 2; round++) {
		while (atomic_load(&rp.next) < RN * (round ? 65 : 30) / 100)
			usleep(1000);
		at[round] = atomic_load(&rp.next);
		uint64_t t0 = time_mono_us();
		if (round == 0) {
			CHECK_EQ_INT(nats_script("stop", dir, 0), 0);
		} else {
			char kill9[128];
			snprintf(kill9, sizeof(kill9), "kill -9 $(cat %s/pid) && rm %s/pid", dir,
				 dir);
			CHECK_EQ_INT(system(kill9), 0);
		}
		usleep(300000);
		CHECK_EQ_INT(nats_script("start", dir, port), 0);
		down_ms[round] = (time_mono_us() - t0) / 1000;
	}
	pthread_join(th, NULL);
	int okn = 0;
	for (int i = 0; i < RN; i++)
		okn += rp.ok[i];
	int lost = RN, dup = 0, seen = 0;
	for (int t = 0; t < 60000 && lost; t += 100) {
		lost = restart_tally(&k, &rp, &dup, &seen);
		if (lost)
			usleep(100000);
	}
	usleep(2500000); /* redeliveries of acks lost in the restart */
	lost = restart_tally(&k, &rp, &dup, &seen);
	printf(
	    "  nats restarts (TERM: down %llu ms at message %d, KILL: down %llu ms at message %d): "
	    "published ok %d of %d, delivered %d, duplicates %d, lost %d\n",
	    (unsigned long long)down_ms[0], at[0], (unsigned long long)down_ms[1], at[1], okn, RN,
	    seen, dup, lost);
	CHECK_EQ_INT(lost, 0);
	CHECK(okn > 0);
	bus_close(bus);
	bus = NULL;
	nats_script("stop", dir, 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static int run_suite(const char *name)
{
	int before = test_failures;
	snprintf(subj_prefix, sizeof(subj_prefix), "t%08x", (unsigned)rand());
	int r = bus_open(&cfg, st, &bus);
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		return 1;
	printf("bus backend %s on %s\n", bus_backend_name(bus), name);
	test_publish_consume();
	test_nak_backoff_dead_retry();
	test_visibility_timeout();
	test_ordering();
	test_dedupe();
	test_delay();
	test_outbox();
	bus_close(bus);
	bus = NULL;
	printf("  %s: %s\n", name, test_failures == before ? "ok" : "FAILED");
	return 0;
}

static int open_store(const char *dburl, const char *migrate_url, char *dir)
{
	char *err = NULL;
	if (config_load(&cfg, "/dev/null", &err) < 0) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	mem_free(cfg.data_dir);
	cfg.data_dir = mem_strdup(dir);
	if (dburl) {
		mem_free(cfg.database_url);
		cfg.database_url = mem_strdup(dburl);
		mem_free(cfg.database_migrate_url);
		cfg.database_migrate_url = mem_strdup(migrate_url ? migrate_url : "");
		mem_free(cfg.database_app_role);
		cfg.database_app_role = mem_strdup("irisx_app");
	}
	cfg.bus_poll_ms = 5;
	int r = store_open(&cfg, &st);
	if (r < 0)
		return r;
	if ((r = store_migrate(st, NULL)) < 0)
		return r;
	id_new("AC", tenant);
	return store_tx(st, NULL, STORE_WRITE, tenant_fn, tenant);
}

static void close_store(void)
{
	store_close(st);
	st = NULL;
	config_free(&cfg);
}

int main(void)
{
	srand((unsigned)time_now_us());
	test_backoff();

	char dir[] = "/tmp/irisx-bus-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	CHECK_EQ_INT(open_store(NULL, NULL, dir), 0);
	run_suite("sqlite");
	close_store();

	const char *pg = getenv("IRISX_TEST_PG_URL");
	if (pg && *pg) {
		CHECK_EQ_INT(open_store(pg, getenv("IRISX_TEST_PG_MIGRATE_URL"), dir), 0);
		run_suite("postgres");
		close_store();
	} else {
		printf("bus on postgres: skipped (IRISX_TEST_PG_URL not set)\n");
	}

	const char *nats = getenv("IRISX_TEST_NATS_URL");
	if (nats && *nats) {
		CHECK_EQ_INT(open_store(NULL, NULL, dir), 0);
		mem_free(cfg.bus_url);
		cfg.bus_url = mem_strdup(nats);
		run_suite("nats");
		test_nats_restart();
		close_store();
	} else {
		printf("bus on nats: skipped (IRISX_TEST_NATS_URL not set)\n");
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_done("bus");
}
