/* test_policy.c: unit tests for the calls routing policy: countries, premium ranges,
   destination checks, billing, carrier ranking, failover, causes, URIs and the pacer. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policy.h"
#include "../test.h"

static const char *country(const char *n)
{
	static char cc[3];
	if (policy_country(n, cc) < 0)
		return "-";
	return cc;
}

static void test_countries(void)
{
	CHECK_STR(country("+12125550123"), "US");
	CHECK_STR(country("12125550123"), "US");
	CHECK_STR(country("+14165550123"), "CA");
	CHECK_STR(country("+16045550123"), "CA");
	CHECK_STR(country("+15145550123"), "CA");
	CHECK_STR(country("+18765550123"), "JM");
	CHECK_STR(country("+17875550123"), "PR");
	CHECK_STR(country("+18095550123"), "DO");
	CHECK_STR(country("+12425550123"), "BS");
	CHECK_STR(country("+18685550123"), "TT");
	CHECK_STR(country("+442071838750"), "GB");
	CHECK_STR(country("+4930123456"), "DE");
	CHECK_STR(country("+33142685300"), "FR");
	CHECK_STR(country("+390612345678"), "IT");
	CHECK_STR(country("+74951234567"), "RU");
	CHECK_STR(country("+77172123456"), "KZ");
	CHECK_STR(country("+76012345678"), "KZ");
	CHECK_STR(country("+61291234567"), "AU");
	CHECK_STR(country("+819012345678"), "JP");
	CHECK_STR(country("+8613812345678"), "CN");
	CHECK_STR(country("+85291234567"), "HK");
	CHECK_STR(country("+5511912345678"), "BR");
	CHECK_STR(country("+27821234567"), "ZA");
	CHECK_STR(country("+2348012345678"), "NG");
	CHECK_STR(country("+971501234567"), "AE");
	CHECK_STR(country("+35818123456"), "AX");
	CHECK_STR(country("+358401234567"), "FI");
	CHECK_STR(country("+59991234567"), "CW");
	CHECK_STR(country("+2626391234"), "YT");
	CHECK_STR(country("+262262123456"), "RE");
	CHECK_STR(country("+3790123456"), "VA");
	/* global codes have no country; bad input has none either */
	CHECK_STR(country("+88212345678"), "-");
	CHECK_STR(country("+80012345678"), "-");
	CHECK_STR(country("+1abc5550123"), "-");
	CHECK_STR(country("+123"), "-");
	CHECK_STR(country("+1234567890123456"), "-");
	CHECK_STR(country(""), "-");
	CHECK_STR(country(NULL), "-");
	CHECK(policy_country_known("US"));
	CHECK(policy_country_known("ca"));
	CHECK(policy_country_known("KZ"));
	CHECK(policy_country_known("JM"));
	CHECK(!policy_country_known("ZZ"));
	CHECK(!policy_country_known("USA"));
	CHECK(!policy_country_known(""));
	CHECK(!policy_country_known(NULL));
}

static void test_premium(void)
{
	static const char *const yes[] = {
	    "+19005550123",  "+19765550123", "+449098790000",  "+447012345678", "+448712345678",
	    "+881612345678", "+88234567890", "+88312345678",   "+870772123456", "+979123456789",
	    "+80812345678",  "+33899123456", "+4990012345678", "+39899123456",	"+34806123456",
	    "+611900123456", "+31906123456", "+3290312345",    "+43900123456",	"+41900123456",
	    "+48701234567",  "1900555012"};
	static const char *const no[] = {"+12125550123",
					 "+442071838750",
					 "+447911123456",
					 "+33142685300",
					 "+4930123456",
					 "+34912345678",
					 "+61291234567",
					 "+31201234567",
					 "+18005550123",
					 "+441900123456",
					 "",
					 NULL};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!policy_premium(yes[i])) {
			fprintf(stderr, "not premium: %s\n", yes[i]);
			CHECK(0);
		}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (policy_premium(no[i])) {
			fprintf(stderr, "premium: %s\n", no[i]);
			CHECK(0);
		}
}

static void test_dest(void)
{
	struct policy_refusal w = {0};
	CHECK_EQ_INT(policy_dest_check("+12125550123", NULL, NULL, &w), 0);
	CHECK_EQ_INT(policy_dest_check("+12125550123", "", "US", &w), 0);
	CHECK_EQ_INT(policy_dest_check("+14165550123", NULL, NULL, &w), -EPERM);
	CHECK_STR(w.code, "destination_not_allowed");
	CHECK_EQ_INT(policy_dest_check("+14165550123", "US, ca", NULL, &w), 0);
	CHECK_EQ_INT(policy_dest_check("+442071838750", "US,CA", NULL, &w), -EPERM);
	CHECK_EQ_INT(policy_dest_check("+442071838750", NULL, "GB", &w), 0);
	CHECK_EQ_INT(policy_dest_check("+12125550123", NULL, "GB", &w), -EPERM);
	/* an explicit list replaces the home default */
	CHECK_EQ_INT(policy_dest_check("+12125550123", "GB", "US", &w), -EPERM);
	CHECK_EQ_INT(policy_dest_check("+442071838750", "*", NULL, &w), 0);
	CHECK_EQ_INT(policy_dest_check("+80012345678", "*", NULL, &w), 0);
	CHECK_EQ_INT(policy_dest_check("+80012345678", "US", NULL, &w), -EPERM);
	CHECK_STR(w.code, "destination_not_allowed");
	/* premium is refused even with "*" */
	CHECK_EQ_INT(policy_dest_check("+19005550123", "*", NULL, &w), -EPERM);
	CHECK_STR(w.code, "premium_destination");
	CHECK_EQ_INT(policy_dest_check("+881612345678", "*", NULL, &w), -EPERM);
	CHECK_STR(w.code, "premium_destination");
	CHECK_EQ_INT(policy_dest_check("+1 212 555", "*", NULL, &w), -EPERM);
	CHECK_STR(w.code, "invalid_number");
	CHECK_EQ_INT(policy_dest_check("sip:alice@example.com", "*", NULL, &w), -EPERM);
	CHECK_STR(w.code, "invalid_number");
	CHECK(w.message && *w.message);
	/* KZ is not RU */
	CHECK_EQ_INT(policy_dest_check("+77172123456", "RU", NULL, &w), -EPERM);
	CHECK_EQ_INT(policy_dest_check("+74951234567", "RU", NULL, &w), 0);
}

static void test_billing(void)
{
	CHECK_EQ_INT(policy_billed_s(0, 60, 60), 0);
	CHECK_EQ_INT(policy_billed_s(1, 60, 60), 60);
	CHECK_EQ_INT(policy_billed_s(60, 60, 60), 60);
	CHECK_EQ_INT(policy_billed_s(61, 60, 60), 120);
	CHECK_EQ_INT(policy_billed_s(0, 1, 1), 0);
	CHECK_EQ_INT(policy_billed_s(1, 1, 1), 1);
	CHECK_EQ_INT(policy_billed_s(37, 1, 1), 37);
	CHECK_EQ_INT(policy_billed_s(0, 30, 6), 0);
	CHECK_EQ_INT(policy_billed_s(5, 30, 6), 30);
	CHECK_EQ_INT(policy_billed_s(30, 30, 6), 30);
	CHECK_EQ_INT(policy_billed_s(31, 30, 6), 36);
	CHECK_EQ_INT(policy_billed_s(36, 30, 6), 36);
	CHECK_EQ_INT(policy_billed_s(37, 30, 6), 42);
	CHECK_EQ_INT(policy_billed_s(65, 60, 7), 67); /* increments count from the minimum */
	CHECK_EQ_INT(policy_billed_s(10, 0, 0), 10);  /* no rule: per second */
	CHECK_EQ_INT(policy_cost_micros(10000, 60), 10000);
	CHECK_EQ_INT(policy_cost_micros(10000, 120), 20000);
	CHECK_EQ_INT(policy_cost_micros(10000, 1), 167); /* 166.67 rounded up */
	CHECK_EQ_INT(policy_cost_micros(10000, 0), 0);
	CHECK_EQ_INT(policy_cost_micros(0, 60), 0);
	CHECK_EQ_INT(policy_cost_micros(6000, 36), 3600);
	CHECK_EQ_INT(policy_cost_micros(7, 1), 1);
}

static json_t *route(const char *id, json_int_t cost, int prio, int weight, const char *health)
{
	json_t *r = json_pack("{s:s,s:i,s:i,s:s}", "id", id, "priority", prio, "weight", weight,
			      "health", health);
	json_object_set_new(r, "cost_micros", cost < 0 ? json_null() : json_integer(cost));
	return r;
}

static const char *id_at(json_t *a, size_t i)
{
	return json_str(json_array_get(a, i), "id");
}

static void test_rank(void)
{
	json_t *rt = json_array();
	json_array_append_new(rt, route("unpriced", -1, 1, 100, "up"));
	json_array_append_new(rt, route("dear", 9000, 1, 100, "up"));
	json_array_append_new(rt, route("cheap", 1000, 50, 100, "unknown"));
	json_array_append_new(rt, route("down", 1, 1, 100, "down"));
	json_array_append_new(rt, route("mid-p2", 5000, 2, 100, "up"));
	json_array_append_new(rt, route("mid-p1", 5000, 1, 100, "up"));
	json_array_append_new(rt, route("unpriced-p0", -1, 0, 100, "up"));
	json_t *o = policy_rank(rt, NULL, 0, 1);
	CHECK_EQ_INT(json_array_size(o), 6);
	CHECK_STR(id_at(o, 0), "cheap");
	CHECK_STR(id_at(o, 1), "mid-p1");
	CHECK_STR(id_at(o, 2), "mid-p2");
	CHECK_STR(id_at(o, 3), "dear");
	CHECK_STR(id_at(o, 4), "unpriced-p0");
	CHECK_STR(id_at(o, 5), "unpriced");
	CHECK(json_array_get(o, 0) == json_array_get(rt, 2)); /* references, not copies */
	json_decref(o);

	const char *skip[] = {"cheap", "mid-p1"};
	o = policy_rank(rt, skip, 2, 1);
	CHECK_EQ_INT(json_array_size(o), 4);
	CHECK_STR(id_at(o, 0), "mid-p2");
	json_decref(o);
	json_decref(rt);

	o = policy_rank(NULL, NULL, 0, 1);
	CHECK_EQ_INT(json_array_size(o), 0);
	json_decref(o);
	rt = json_array();
	json_array_append_new(rt, route("d1", 10, 1, 100, "down"));
	o = policy_rank(rt, NULL, 0, 1);
	CHECK_EQ_INT(json_array_size(o), 0);
	json_decref(o);
	json_decref(rt);

	/* ties: weighted random, deterministic for a seed, roughly proportional */
	rt = json_array();
	json_array_append_new(rt, route("a", 100, 5, 100, "up"));
	json_array_append_new(rt, route("b", 100, 5, 300, "up"));
	json_array_append_new(rt, route("z", 100, 5, 0, "up"));
	json_array_append_new(rt, route("worse", 100, 6, 1000, "up"));
	int first_b = 0, n = 4000;
	bool stable = true, z_last = true, worse_last = true;
	for (int s = 0; s < n; s++) {
		json_t *x = policy_rank(rt, NULL, 0, (uint64_t)s * 7919u);
		json_t *y = policy_rank(rt, NULL, 0, (uint64_t)s * 7919u);
		if (!strcmp(id_at(x, 0), "b"))
			first_b++;
		for (size_t i = 0; i < 4; i++)
			if (strcmp(id_at(x, i), id_at(y, i)))
				stable = false;
		if (strcmp(id_at(x, 2), "z"))
			z_last = false;
		if (strcmp(id_at(x, 3), "worse"))
			worse_last = false;
		json_decref(x);
		json_decref(y);
	}
	CHECK(stable);
	CHECK(z_last);
	CHECK(worse_last);
	/* b has 3/4 of the weight */
	CHECK(first_b > n * 70 / 100 && first_b < n * 80 / 100);
	json_decref(rt);
}

static void test_outcomes(void)
{
	CHECK_EQ_INT(policy_failover(408, false), POLICY_FAILOVER);
	CHECK_EQ_INT(policy_failover(500, false), POLICY_FAILOVER);
	CHECK_EQ_INT(policy_failover(503, false), POLICY_FAILOVER);
	CHECK_EQ_INT(policy_failover(599, false), POLICY_FAILOVER);
	CHECK_EQ_INT(policy_failover(0, false), POLICY_FAILOVER);
	CHECK_EQ_INT(policy_failover(0, true), POLICY_FAILOVER);
	CHECK_EQ_INT(policy_failover(486, true), POLICY_FAILOVER);
	CHECK_EQ_INT(policy_failover(404, false), POLICY_STOP);
	CHECK_EQ_INT(policy_failover(480, false), POLICY_STOP);
	CHECK_EQ_INT(policy_failover(486, false), POLICY_STOP);
	CHECK_EQ_INT(policy_failover(487, false), POLICY_STOP);
	CHECK_EQ_INT(policy_failover(403, false), POLICY_STOP);
	CHECK_EQ_INT(policy_failover(603, false), POLICY_STOP);
	CHECK_EQ_INT(policy_failover(600, false), POLICY_STOP);

	CHECK_STR(policy_fail_status(486, false, false), "busy");
	CHECK_STR(policy_fail_status(600, false, false), "busy");
	CHECK_STR(policy_fail_status(408, false, false), "no-answer");
	CHECK_STR(policy_fail_status(480, false, false), "no-answer");
	CHECK_STR(policy_fail_status(487, false, false), "no-answer");
	CHECK_STR(policy_fail_status(0, true, false), "no-answer");
	CHECK_STR(policy_fail_status(486, false, true), "canceled");
	CHECK_STR(policy_fail_status(404, false, false), "failed");
	CHECK_STR(policy_fail_status(503, false, false), "failed");
	CHECK_STR(policy_fail_status(603, false, false), "failed");

	static const int rfc3398[][2] = {
	    {400, 41},	{401, 21},  {402, 21},	{403, 21},  {404, 1},	{405, 63}, {406, 79},
	    {407, 21},	{408, 102}, {410, 22},	{413, 127}, {414, 127}, {415, 79}, {416, 127},
	    {420, 127}, {421, 127}, {423, 127}, {480, 18},  {481, 41},	{482, 25}, {483, 25},
	    {484, 28},	{485, 1},   {486, 17},	{487, 127}, {488, 127}, {500, 41}, {501, 79},
	    {502, 38},	{503, 41},  {504, 102}, {505, 127}, {513, 127}, {600, 17}, {603, 21},
	    {604, 1},	{606, 58},  {200, 16},
	};
	for (size_t i = 0; i < sizeof(rfc3398) / sizeof(rfc3398[0]); i++)
		CHECK_EQ_INT(policy_q850(rfc3398[i][0]), rfc3398[i][1]);
	CHECK_EQ_INT(policy_q850(0), 38);
	CHECK_EQ_INT(policy_q850(499), 31);
}

static void test_uri(void)
{
	char out[128];
	json_t *c = json_pack("{s:s,s:i,s:s,s:s}", "host", "sip.carrier.example", "port", 5060,
			      "transport", "udp", "number_format", "e164");
	CHECK_EQ_INT(policy_carrier_uri(c, "+14155550123", out, sizeof(out)), 0);
	CHECK_STR(out, "sip:+14155550123@sip.carrier.example:5060");
	json_object_set_new(c, "number_format", json_string("digits"));
	json_object_set_new(c, "tech_prefix", json_string("1234#"));
	CHECK_EQ_INT(policy_carrier_uri(c, "+14155550123", out, sizeof(out)), -EINVAL);
	json_object_set_new(c, "tech_prefix", json_string("99*"));
	json_object_set_new(c, "transport", json_string("tcp"));
	CHECK_EQ_INT(policy_carrier_uri(c, "14155550123", out, sizeof(out)), 0);
	CHECK_STR(out, "sip:99*14155550123@sip.carrier.example:5060;transport=tcp");
	json_object_set_new(c, "transport", json_string("tls"));
	json_object_set_new(c, "tech_prefix", json_null());
	json_object_set_new(c, "port", json_null());
	CHECK_EQ_INT(policy_carrier_uri(c, "+14155550123", out, sizeof(out)), 0);
	CHECK_STR(out, "sip:14155550123@sip.carrier.example;transport=tls");
	json_object_set_new(c, "host", json_string("2001:db8::1"));
	json_object_set_new(c, "port", json_integer(5080));
	CHECK_EQ_INT(policy_carrier_uri(c, "+14155550123", out, sizeof(out)), 0);
	CHECK_STR(out, "sip:14155550123@[2001:db8::1]:5080;transport=tls");
	CHECK_EQ_INT(policy_carrier_uri(c, "+14155550123", out, 20), -E2BIG);
	CHECK_EQ_INT(policy_carrier_uri(c, "not-a-number", out, sizeof(out)), -EINVAL);
	json_object_set_new(c, "host", json_string("evil.example>;x"));
	CHECK_EQ_INT(policy_carrier_uri(c, "+14155550123", out, sizeof(out)), -EINVAL);
	json_decref(c);
}

struct pthr {
	struct policy_pacer *p;
	uint64_t waits[50];
};

static void *pacer_thread(void *arg)
{
	struct pthr *t = arg;
	for (int i = 0; i < 50; i++)
		t->waits[i] = policy_pacer_reserve(t->p, "shared", 100, 1000000);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_pacer(void)
{
	struct policy_pacer *p = policy_pacer_new();
	uint64_t now = 5000000;
	/* rate 10: 100 reservations at the same instant are spaced 100 ms apart */
	bool spaced = true;
	for (int i = 0; i < 100; i++)
		if (policy_pacer_reserve(p, "AC1", 10, now) != (uint64_t)i * 100000u)
			spaced = false;
	CHECK(spaced);
	/* another key is independent; rate 0 is unlimited */
	CHECK_EQ_INT(policy_pacer_reserve(p, "AC2", 10, now), 0);
	CHECK_EQ_INT(policy_pacer_reserve(p, "AC1", 0, now), 0);
	/* callers that wait their turn and come back on time wait no more */
	struct policy_pacer *q = policy_pacer_new();
	bool on_time = true;
	for (int i = 0; i < 20; i++)
		if (policy_pacer_reserve(q, "k", 5, now + (uint64_t)i * 200000u) != 0)
			on_time = false;
	CHECK(on_time);
	CHECK_EQ_INT(policy_pacer_reserve(q, "k", 5, now + 19 * 200000u + 50000u), 150000);
	/* an idle key does not bank credit: burst 1 */
	CHECK_EQ_INT(policy_pacer_reserve(q, "k", 5, now + 100000000u), 0);
	CHECK_EQ_INT(policy_pacer_reserve(q, "k", 5, now + 100000000u), 200000);
	policy_pacer_free(q);

	/* bounded memory: idle keys go away as new ones arrive */
	struct policy_pacer *m = policy_pacer_new();
	char key[32];
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		policy_pacer_reserve(m, key, 1, (uint64_t)i * 2000000u);
	}
	CHECK(policy_pacer_size(m) <= 1100);
	policy_pacer_free(m);

	/* threads: 4 x 50 reservations at once get 200 distinct 10 ms slots */
	struct policy_pacer *tp = policy_pacer_new();
	struct pthr t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		t[i].p = tp;
		pthread_create(&th[i], NULL, pacer_thread, &t[i]);
	}
	uint64_t all[200];
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		memcpy(&all[i * 50], t[i].waits, sizeof(t[i].waits));
	}
	qsort(all, 200, sizeof(all[0]), cmp_u64);
	bool slots = true;
	for (int i = 0; i < 200; i++)
		if (all[i] != (uint64_t)i * 10000u)
			slots = false;
	CHECK(slots);
	policy_pacer_free(tp);
	policy_pacer_free(p);
	policy_pacer_free(NULL);
}

int main(void)
{
	test_countries();
	test_premium();
	test_dest();
	test_billing();
	test_rank();
	test_outcomes();
	test_uri();
	test_pacer();
	return test_done("policy");
}
