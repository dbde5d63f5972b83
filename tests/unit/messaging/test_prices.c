/* test_prices.c: the price cache (price_cache.c) against store_routes on a SQLite store:
   random decks and numbers give the same cheapest rate both ways; every change to a rate or
   a provider raises the routing generation and the next lookup sees it; a tenant with
   providers of its own is priced from its own deck only; store_sms_facts in one statement;
   the least recently used tenant forgotten past 2,048; readers on several threads while the
   decks change. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "messaging/messaging.h"
#include "store/store.h"
#include "../test.h"

static struct config cfg;
static struct store *st;
static struct price_cache *pc;
static char dir[] = "/tmp/irisx-prices-XXXXXX";
static char ta[ID_LEN + 1], tb[ID_LEN + 1], p1[ID_LEN + 1], p2[ID_LEN + 1], pown[ID_LEN + 1];

static int setup_fn(struct store_tx *tx, void *arg)
{
	(void)arg;
	CHECK(store_tenant_insert(tx, ta, "A", false) >= 0);
	CHECK(store_tenant_insert(tx, tb, "B", false) >= 0);
	struct store_provider a = {p1, NULL, "op1", "smpp", "{}", 10, 100, 1};
	struct store_provider b = {p2, NULL, "op2", "twilio", "{}", 10, 100, 1};
	CHECK_EQ_INT(store_provider_insert(tx, &a), 0);
	CHECK_EQ_INT(store_provider_insert(tx, &b), 0);
	char nid[ID_LEN + 1];
	id_new("PN", nid);
	CHECK_EQ_INT(store_number_insert(tx, nid, ta, "+15550001111"), 0);
	id_new("SI", nid);
	CHECK_EQ_INT(store_sender_insert(tx, nid, ta, "ACME"), 0);
	CHECK(store_optout_set(tx, ta, "+15550001111", "+15550002222", true) >= 0);
	return 0;
}

struct deck_arg {
	const char *prov;
	struct store_rate *rates;
	size_t n;
};

static int replace_fn(struct store_tx *tx, void *arg)
{
	struct deck_arg *d = arg;
	return store_rates_replace(tx, d->prov, NULL, d->rates, d->n);
}

/* What store_routes says: the cheapest priced candidate, or -1. */
struct sql_arg {
	const char *tenant, *dest;
	int64_t cost, gen;
};

static int sql_fn(struct store_tx *tx, void *arg)
{
	struct sql_arg *a = arg;
	json_t *rows, *r;
	size_t i;
	int rc = store_routes(tx, a->tenant, "sms", a->dest, &rows);
	if (rc < 0)
		return rc;
	a->cost = -1;
	json_array_foreach (rows, i, r) {
		json_t *c = json_object_get(r, "cost_micros");
		if (json_is_integer(c) && (a->cost < 0 || json_integer_value(c) < a->cost))
			a->cost = json_integer_value(c);
	}
	json_decref(rows);
	return store_routing_gen(tx, &a->gen);
}

static int64_t sql_cost(const char *tenant, const char *dest, int64_t *ret_gen)
{
	struct sql_arg a = {tenant, dest, -2, -1};
	CHECK_EQ_INT(store_tx(st, NULL, STORE_READ, sql_fn, &a), 0);
	if (ret_gen)
		*ret_gen = a.gen;
	return a.cost;
}

static int64_t cached_cost(const char *tenant, const char *dest)
{
	int64_t gen = -1, c = -2;
	sql_cost(tenant, dest, &gen);
	CHECK_EQ_INT(price_cache_cost(pc, gen, tenant, "sms", dest, &c), 0);
	return c;
}

static int gen_fn(struct store_tx *tx, void *arg)
{
	return store_routing_gen(tx, arg);
}

static int64_t gen_now(void)
{
	int64_t g = -1;
	CHECK_EQ_INT(store_tx(st, NULL, STORE_READ, gen_fn, &g), 0);
	return g;
}

/* Random decks of short digit prefixes (and sometimes ""), random numbers sharing them. */
static void random_prefix(char *out, size_t maxlen)
{
	size_t n = (size_t)(rand() % (int)(maxlen + 1));
	out[0] = '1' + (char)(rand() % 3);
	for (size_t i = 1; i < n; i++)
		out[i] = '0' + (char)(rand() % 3);
	out[n] = '\0';
}

static void test_differential(void)
{
	static char pre[2][200][8];
	struct store_rate rates[2][200];
	for (int round = 0; round < 20; round++) {
		for (int p = 0; p < 2; p++) {
			size_t n = (size_t)(rand() % 200);
			size_t k = 0;
			for (size_t i = 0; i < n; i++) {
				random_prefix(pre[p][k], 6);
				bool dup = false;
				for (size_t j = 0; j < k; j++)
					dup |= !strcmp(pre[p][j], pre[p][k]);
				if (dup)
					continue;
				rates[p][k] = (struct store_rate){pre[p][k], 1000 + rand() % 50000};
				k++;
			}
			struct deck_arg d = {p ? p2 : p1, rates[p], k};
			int64_t g0 = gen_now();
			CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, replace_fn, &d), 0);
			CHECK(gen_now() > g0); /* the triggers raised it */
		}
		for (int i = 0; i < 200; i++) {
			char num[20] = "+";
			random_prefix(num + 1, 12);
			const char *t = i % 2 ? tb : ta;
			int64_t want = sql_cost(t, num, NULL), got = cached_cost(t, num);
			if (got != want)
				fprintf(stderr, "round %d %s: sql %lld cache %lld\n", round, num,
					(long long)want, (long long)got);
			CHECK(got == want);
		}
	}
}

static int own_fn(struct store_tx *tx, void *arg)
{
	(void)arg;
	struct store_provider o = {pown, ta, "own", "smpp", "{}", 10, 100, 1};
	CHECK_EQ_INT(store_provider_insert(tx, &o), 0);
	struct store_rate r[] = {{"1", 111}};
	return store_rates_replace(tx, pown, ta, r, 1);
}

static int disable_own_fn(struct store_tx *tx, void *arg)
{
	(void)arg;
	struct store_provider u = {.priority = -1, .weight = -1, .enabled = 0};
	return store_provider_update(tx, ta, pown, &u);
}

static int health_fn(struct store_tx *tx, void *arg)
{
	(void)arg;
	return store_provider_health(tx, p1, "down") == 1 ? 0 : -1;
}

static void test_generations(void)
{
	struct store_rate r1[] = {{"1", 7000}, {"1555", 5000}};
	struct store_rate r2[] = {{"", 9000}};
	struct deck_arg d1 = {p1, r1, 2}, d2 = {p2, r2, 1};
	CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, replace_fn, &d1), 0);
	CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, replace_fn, &d2), 0);
	CHECK_EQ_INT(cached_cost(tb, "+15551234567"), 5000);
	CHECK_EQ_INT(cached_cost(tb, "+4420123"), 9000);
	/* a stale generation is still answered from the (newer) copy */
	int64_t c = -2;
	CHECK_EQ_INT(price_cache_cost(pc, 0, tb, "sms", "+15551234567", &c), 0);
	CHECK_EQ_INT(c, 5000);
	/* a cheaper rate: the next lookup at the new generation sees it */
	struct store_rate r1b[] = {{"1", 7000}, {"1555", 5000}, {"15551", 4000}};
	d1 = (struct deck_arg){p1, r1b, 3};
	CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, replace_fn, &d1), 0);
	CHECK_EQ_INT(cached_cost(tb, "+15551234567"), 4000);
	/* a tenant with a provider of its own: only its deck */
	CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, own_fn, NULL), 0);
	CHECK_EQ_INT(cached_cost(ta, "+15551234567"), 111);
	CHECK_EQ_INT(cached_cost(ta, "+4420123"), -1);
	CHECK_EQ_INT(cached_cost(tb, "+15551234567"), 4000);
	/* disabled: back to the operator's */
	CHECK_EQ_INT(store_tx(st, ta, STORE_WRITE, disable_own_fn, NULL), 0);
	CHECK_EQ_INT(cached_cost(ta, "+15551234567"), 4000);
	/* health is not routing: the generation stays */
	int64_t g = gen_now();
	CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, health_fn, NULL), 0);
	CHECK_EQ_INT(gen_now(), g);
	/* many tenants: the cache forgets and reloads, answers stay right */
	for (int i = 0; i < 5000; i++) {
		char t[ID_LEN + 1];
		id_new("TN", t); /* no such tenant: no providers of its own */
		c = -2;
		CHECK_EQ_INT(price_cache_cost(pc, g, t, "sms", "+15551234567", &c), 0);
		if (c != 4000)
			CHECK_EQ_INT(c, 4000);
	}
	CHECK_EQ_INT(cached_cost(ta, "+15551234567"), 4000);
}

/* Past 2,048 tenants the least recently used one is forgotten: the 2,000 most recent of
   3,000 are all still there (no read), and a tenant looked up between every newcomer's
   first lookup is never read again; the answers stay right throughout. */
static void test_lru(void)
{
	enum { N = 3000, RECENT = 2000, NEWCOMERS = 5000 };
	static char t[N][ID_LEN + 1];
	int64_t g = gen_now(), c;
	int wrong = 0;
	CHECK_EQ_INT(cached_cost(tb, "+15551234567"), 4000);
	for (int i = 0; i < N; i++) {
		id_new("TN", t[i]);
		c = -2;
		if (price_cache_cost(pc, g, t[i], "sms", "+15551234567", &c) < 0 || c != 4000)
			wrong++;
	}
	uint64_t loads = price_cache_loads(pc);
	for (int i = N - RECENT; i < N; i++) {
		c = -2;
		if (price_cache_cost(pc, g, t[i], "sms", "+15551234567", &c) < 0 || c != 4000)
			wrong++;
	}
	CHECK_EQ_INT((int)(price_cache_loads(pc) - loads), 0);
	CHECK_EQ_INT(cached_cost(tb, "+15551234567"), 4000); /* read again: it was the oldest */
	loads = price_cache_loads(pc);
	for (int i = 0; i < NEWCOMERS; i++) {
		char n[ID_LEN + 1];
		id_new("TN", n);
		c = -2;
		if (price_cache_cost(pc, g, n, "sms", "+15551234567", &c) < 0 || c != 4000)
			wrong++;
		c = -2;
		if (price_cache_cost(pc, g, tb, "sms", "+15551234567", &c) < 0 || c != 4000)
			wrong++;
	}
	CHECK_EQ_INT((int)(price_cache_loads(pc) - loads), NEWCOMERS);
	CHECK_EQ_INT(wrong, 0);
}

struct facts_arg {
	const char *from, *to;
	struct store_sms_facts f;
};

static int facts_fn(struct store_tx *tx, void *arg)
{
	struct facts_arg *a = arg;
	return store_sms_facts(tx, ta, a->from, a->to, &a->f);
}

static void test_facts(void)
{
	struct facts_arg a = {.from = "+15550001111", .to = "+15550002222"};
	CHECK_EQ_INT(store_tx(st, ta, STORE_READ, facts_fn, &a), 0);
	CHECK(a.f.sender_ok && a.f.opted_out);
	CHECK_EQ_INT(a.f.routing_gen, gen_now());
	a = (struct facts_arg){.from = "ACME", .to = "+15550002222"};
	CHECK_EQ_INT(store_tx(st, ta, STORE_READ, facts_fn, &a), 0);
	CHECK(a.f.sender_ok && !a.f.opted_out);
	a = (struct facts_arg){.from = "+15550009999", .to = "+15550003333"};
	CHECK_EQ_INT(store_tx(st, ta, STORE_READ, facts_fn, &a), 0);
	CHECK(!a.f.sender_ok && !a.f.opted_out);
}

/* Readers on 4 threads while the writer flips p1's "1555" between two costs; every answer
   is one of the two, and once a flip is committed a reader at its generation sees it. */
static atomic_int stop_readers, bad_answers, lookups;

static void *reader_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_readers)) {
		int64_t c = -2;
		if (price_cache_cost(pc, 0, tb, "sms", "+15559990000", &c) < 0 ||
		    (c != 5000 && c != 3000))
			atomic_fetch_add(&bad_answers, 1);
		atomic_fetch_add(&lookups, 1);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, reader_main, NULL);
	for (int i = 0; i < 40; i++) {
		struct store_rate r[] = {{"1", 7000}, {"1555", i % 2 ? 5000 : 3000}};
		struct deck_arg d = {p1, r, 2};
		CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, replace_fn, &d), 0);
		CHECK_EQ_INT(cached_cost(tb, "+15559990000"), i % 2 ? 5000 : 3000);
		usleep(2000);
	}
	atomic_store(&stop_readers, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(atomic_load(&bad_answers), 0);
	CHECK(atomic_load(&lookups) > 100);
}

int main(void)
{
	srand(7);
	test_sqlite_config(&cfg, dir);
	CHECK_EQ_INT(store_open(&cfg, &st), 0);
	if (!st)
		return test_done("prices");
	int applied = 0;
	CHECK_EQ_INT(store_migrate(st, &applied), 0);
	CHECK(pc = price_cache_new(st));
	id_new("TN", ta);
	id_new("TN", tb);
	id_new("MP", p1);
	usleep(1100);
	id_new("MP", p2);
	id_new("MP", pown);
	CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, setup_fn, NULL), 0);
	test_facts();
	test_differential();
	test_generations();
	test_lru();
	test_threads();
	price_cache_free(pc);
	store_close(st);
	config_free(&cfg);
	test_remove_db_dir(dir);
	return test_done("prices");
}
