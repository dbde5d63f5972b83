/* test_http.c: unit tests for the HTTP layer without sockets: route matching (and the real
   route table), token-bucket rate limits, Prometheus metrics, error mapping and paging. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "http/http.h"
#include "../test.h"

/* ---- routing ---- */

static const struct route table[] = {
    {"GET", "/", NULL, ROLE_NONE, 0, NULL, 0, "root"},
    {"GET", "/v1/users", NULL, ROLE_ADMIN, 0, NULL, 0, "list"},
    {"POST", "/v1/users", NULL, ROLE_ADMIN, 0, "user.create", ROUTE_CREATE, "create"},
    {"GET", "/v1/users/{id}", NULL, ROLE_ADMIN, 0, NULL, 0, "get"},
    {"PATCH", "/v1/users/{id}", NULL, ROLE_ADMIN, 0, "user.update", 0, "patch"},
    {"GET", "/v1/a/{x}/b/{y}", NULL, ROLE_NONE, 0, NULL, 0, "two params"},
    {"GET", "/v1/p/{a}/{b}/{c}/{d}", NULL, ROLE_NONE, 0, NULL, 0, "four params"},
    {"GET", "/v1/q/{a}/{b}/{c}/{d}/{e}", NULL, ROLE_NONE, 0, NULL, 0, "five params"},
    {"GET", "/t/{acc}/Calls.json", NULL, ROLE_NONE, 0, NULL, 0, "literal with a dot"},
    {"GET", "/t/{acc}/Calls/{sid}.json", NULL, ROLE_NONE, 0, NULL, 0, "suffixed param"},
    {"GET", "/t/{acc}/Calls/{sid}.wav", NULL, ROLE_NONE, 0, NULL, 0, "other suffix"},
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

struct match {
	const struct route *r;
	int status;
	const char *params[HTTP_MAX_PARAMS];
	char buf[256];
};

static const struct route *route(struct match *m, const char *method, const char *path)
{
	memset(m, 0, sizeof(*m));
	m->status = -1;
	m->r = http_route_match(table, NTABLE, method, path, m->params, m->buf, sizeof(m->buf),
				&m->status);
	return m->r;
}

/* Expects method + path to miss with status. */
static void check_miss(const char *method, const char *path, int status)
{
	struct match m;
	CHECK(route(&m, method, path) == NULL);
	if (m.status != status)
		fprintf(stderr, "%s %s: status %d, expected %d\n", method, path, m.status, status);
	CHECK_EQ_INT(m.status, status);
}

static void test_route_match(void)
{
	struct match m;
	CHECK(route(&m, "GET", "/v1/users") == &table[1]);
	CHECK(route(&m, "POST", "/v1/users") == &table[2]);
	CHECK(route(&m, "GET", "/") == &table[0]);

	CHECK(route(&m, "GET", "/v1/users/US0123") == &table[3]);
	CHECK_STR(m.params[0], "US0123");
	CHECK(route(&m, "PATCH", "/v1/users/x") == &table[4]);
	CHECK_STR(m.params[0], "x");
	CHECK(route(&m, "GET", "/v1/a/one/b/two") == &table[5]);
	CHECK_STR(m.params[0], "one");
	CHECK_STR(m.params[1], "two");
	CHECK(route(&m, "GET", "/v1/p/1/22/333/4444") == &table[6]);
	CHECK_STR(m.params[0], "1");
	CHECK_STR(m.params[3], "4444");
	CHECK(m.params[0] >= m.buf && m.params[3] < m.buf + sizeof(m.buf)); /* copies */

	/* "{name}.json": the segment must end in the suffix, the parameter is what precedes */
	CHECK(route(&m, "GET", "/t/AC1/Calls.json") == &table[8]);
	CHECK_STR(m.params[0], "AC1");
	CHECK(route(&m, "GET", "/t/AC1/Calls/CA9.json") == &table[9]);
	CHECK_STR(m.params[0], "AC1");
	CHECK_STR(m.params[1], "CA9");
	CHECK(route(&m, "GET", "/t/AC1/Calls/CA9.wav") == &table[10]);
	CHECK_STR(m.params[1], "CA9");
	CHECK(route(&m, "GET", "/t/AC1/Calls/a.b.json") == &table[9]);
	CHECK_STR(m.params[1], "a.b");
	check_miss("GET", "/t/AC1/Calls/.json", 404); /* an empty parameter */
	check_miss("GET", "/t/AC1/Calls/json", 404);
	check_miss("GET", "/t/AC1/Calls/CA9", 404);
	check_miss("GET", "/t/AC1/Calls/CA9.jso", 404);
	check_miss("GET", "/t/AC1/Calls/CA9.json/x", 404);
	check_miss("GET", "/t/AC1/Calls.jsonx", 404);
	check_miss("POST", "/t/AC1/Calls/CA9.json", 405);

	/* known path, other method: 405; unknown path: 404 */
	check_miss("DELETE", "/v1/users", 405);
	check_miss("PUT", "/v1/users/US0123", 405);
	check_miss("get", "/v1/users", 405); /* methods are case-sensitive */
	check_miss("GET", "/v1/nope", 404);
	check_miss("GET", "/v1", 404);
	check_miss("GET", "", 404);
	check_miss("GET", "v1/users", 404);
	check_miss("GET", "/V1/users", 404);
	/* trailing slash and empty segments are not the route */
	check_miss("GET", "/v1/users/", 404);
	check_miss("GET", "/v1/users//", 404);
	check_miss("GET", "//v1/users", 404);
	check_miss("GET", "/v1//users", 404);
	check_miss("GET", "/v1/a//b/two", 404);
	/* too many or too few segments */
	check_miss("GET", "/v1/users/US0123/extra", 404);
	check_miss("GET", "/v1/a/one/b", 404);
	check_miss("GET", "/v1/a/one/b/two/three", 404);
	/* more parameters than HTTP_MAX_PARAMS: never matches */
	check_miss("GET", "/v1/q/1/2/3/4/5", 404);
	/* a parameter is one segment only */
	check_miss("GET", "/v1/users/a/b", 404);

	/* a parameter larger than the caller's buffer is not found (never "405" for a path
	   whose only route has this very method) */
	char big[400];
	memset(big, 'x', sizeof(big));
	memcpy(big, "/v1/users/", 10);
	big[sizeof(big) - 1] = '\0';
	struct match m2;
	CHECK(route(&m2, "GET", big) == NULL);
	CHECK(m2.status == 404 || m2.status == 414);
	if (m2.status != 404 && m2.status != 414)
		fprintf(stderr, "GET /v1/users/<389 x>: status %d, expected 404 or 414\n",
			m2.status);
}

/* Replaces each "{name}" of pattern with "X<i>" to make a concrete path. */
static void concrete(const char *pattern, char *out, size_t n)
{
	size_t o = 0;
	int i = 0;
	for (const char *p = pattern; *p && o + 4 < n;) {
		if (*p == '{') {
			o += (size_t)snprintf(out + o, n - o, "X%d", i++);
			const char *close = strchr(p, '}');
			p = close ? close + 1 : p + strlen(p);
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

static void test_api_routes(void)
{
	CHECK(api_routes_len > 10);
	for (size_t i = 0; i < api_routes_len; i++) {
		const struct route *r = &api_routes[i];
		CHECK(r->method && r->path && r->handler && r->summary && r->summary[0]);
		CHECK(r->path[0] == '/');
		int params = 0;
		for (const char *p = r->path; (p = strchr(p, '{')) != NULL; p++)
			params++;
		CHECK(params <= HTTP_MAX_PARAMS);
		bool mutating = strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0;
		if (mutating && !r->action)
			fprintf(stderr, "%s %s: mutating route without an audit action\n",
				r->method, r->path);
		CHECK(!mutating || r->action != NULL);
		CHECK(!(r->flags & ROUTE_CREATE) || strcmp(r->method, "POST") == 0);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(api_routes[j].method, r->method) != 0 ||
			      strcmp(api_routes[j].path, r->path) != 0);

		/* each route is reachable: a concrete path finds this very row */
		char path[256], buf[1024];
		const char *pv[HTTP_MAX_PARAMS];
		int st = 0;
		concrete(r->path, path, sizeof(path));
		const struct route *got = http_route_match(api_routes, api_routes_len, r->method,
							   path, pv, buf, sizeof(buf), &st);
		if (got != r)
			fprintf(stderr, "%s %s (as %s) matched %s\n", r->method, r->path, path,
				got ? got->path : "nothing");
		CHECK(got == r);
		if (got == r && params > 0)
			CHECK_STR(pv[0], "X0");
	}
}

/* ---- rate limiting ---- */

static void test_ratelimit_basic(void)
{
	struct ratelimit *rl = ratelimit_new();
	struct rl_result rr;
	/* burst 3, one token a second: 3 pass, the 4th waits about a second */
	for (int i = 0; i < 3; i++) {
		ratelimit_take(rl, "k:one", 1, 3, 1, &rr);
		CHECK(rr.allowed);
		CHECK_EQ_INT(rr.limit, 3);
		CHECK_EQ_INT(rr.remaining, 2 - i);
		CHECK_EQ_INT(rr.retry_after_s, 0);
	}
	ratelimit_take(rl, "k:one", 1, 3, 1, &rr);
	CHECK(!rr.allowed);
	CHECK_EQ_INT(rr.remaining, 0);
	CHECK(rr.retry_after_s >= 1 && rr.retry_after_s <= 2);
	CHECK(rr.reset_s >= 2 && rr.reset_s <= 3);
	CHECK(!ratelimit_check(rl, "k:one", 1, 3));

	/* another key has its own bucket */
	ratelimit_take(rl, "k:two", 1, 3, 1, &rr);
	CHECK(rr.allowed);
	CHECK(ratelimit_check(rl, "k:three", 1, 3)); /* a new key starts full */

	/* check peeks: it never takes */
	for (int i = 0; i < 10; i++)
		CHECK(ratelimit_check(rl, "k:peek", 1, 1));
	ratelimit_take(rl, "k:peek", 1, 1, 1, &rr);
	CHECK(rr.allowed);
	CHECK(!ratelimit_check(rl, "k:peek", 1, 1));

	/* slow rate: the wait is whole seconds, at least 1 */
	for (int i = 0; i < 2; i++)
		ratelimit_take(rl, "k:slow", 0.1, 2, 1, &rr);
	ratelimit_take(rl, "k:slow", 0.1, 2, 1, &rr);
	CHECK(!rr.allowed);
	CHECK(rr.retry_after_s >= 9 && rr.retry_after_s <= 10);

	/* fast rate: a denial still says at least 1 second */
	for (int i = 0; i < 5; i++)
		ratelimit_take(rl, "k:fast", 1000, 5, 1, &rr);
	ratelimit_take(rl, "k:fast", 1000, 5, 3, &rr);
	CHECK(rr.allowed || rr.retry_after_s >= 1);

	/* cost larger than the burst can never pass */
	ratelimit_take(rl, "k:big", 1, 3, 4, &rr);
	CHECK(!rr.allowed);
	CHECK(rr.retry_after_s >= 1);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

static void test_ratelimit_refill(void)
{
	struct ratelimit *rl = ratelimit_new();
	struct rl_result rr;
	/* 20 tokens/s, burst 2 */
	ratelimit_take(rl, "refill", 20, 2, 1, &rr);
	ratelimit_take(rl, "refill", 20, 2, 1, &rr);
	CHECK(rr.allowed);
	ratelimit_take(rl, "refill", 20, 2, 1, &rr);
	CHECK(!rr.allowed);
	usleep(70000); /* ~1.4 tokens */
	ratelimit_take(rl, "refill", 20, 2, 1, &rr);
	CHECK(rr.allowed);
	ratelimit_take(rl, "refill", 20, 2, 1, &rr);
	CHECK(!rr.allowed);
	usleep(250000); /* ~5 tokens, capped at the burst of 2 */
	CHECK(ratelimit_check(rl, "refill", 20, 2));
	ratelimit_take(rl, "refill", 20, 2, 1, &rr);
	CHECK(rr.allowed);
	CHECK_EQ_INT(rr.remaining, 1);
	ratelimit_take(rl, "refill", 20, 2, 1, &rr);
	CHECK(rr.allowed);
	ratelimit_take(rl, "refill", 20, 2, 1, &rr);
	CHECK(!rr.allowed);
	ratelimit_free(rl);
}

/* Keys are caller-built strings ("login-acct:<e-mail>" can be ~265 bytes): a long key must
   be limited like a short one. */
static void test_ratelimit_long_key(void)
{
	struct ratelimit *rl = ratelimit_new();
	struct rl_result rr;
	char key[300];
	snprintf(key, sizeof(key), "login-acct:%s@example.com",
		 "a-rather-long-mailbox-name.with.dots-and-more-dots.and.even.more");
	int allowed = 0;
	for (int i = 0; i < 10; i++) {
		ratelimit_take(rl, key, 0.01, 3, 1, &rr);
		allowed += rr.allowed;
	}
	if (allowed != 3)
		fprintf(stderr, "ratelimit: %zu-byte key allowed %d of 10 (burst 3)\n", strlen(key),
			allowed);
	CHECK_EQ_INT(allowed, 3);
	CHECK(!ratelimit_check(rl, key, 0.01, 3));

	/* two long keys that share a long prefix are still different buckets */
	char k1[200], k2[200];
	memset(k1, 'p', sizeof(k1));
	k1[sizeof(k1) - 1] = '\0';
	memcpy(k2, k1, sizeof(k2));
	k2[sizeof(k2) - 2] = 'q';
	ratelimit_take(rl, k1, 0.01, 1, 1, &rr);
	ratelimit_take(rl, k2, 0.01, 1, 1, &rr);
	CHECK(rr.allowed);
	ratelimit_free(rl);
}

struct rl_thread {
	struct ratelimit *rl;
	int allowed;
};

static void *rl_worker(void *p)
{
	struct rl_thread *t = p;
	struct rl_result rr;
	for (int i = 0; i < 2000; i++) {
		ratelimit_take(t->rl, "shared", 0.001, 1000, 1, &rr);
		t->allowed += rr.allowed;
		char own[32];
		snprintf(own, sizeof(own), "own-%d", i % 50);
		ratelimit_take(t->rl, own, 1, 10, 1, &rr);
	}
	return NULL;
}

static void test_ratelimit_threads(void)
{
	struct ratelimit *rl = ratelimit_new();
	struct rl_thread t[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		t[i] = (struct rl_thread){rl, 0};
		pthread_create(&th[i], NULL, rl_worker, &t[i]);
	}
	int total = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		total += t[i].allowed;
	}
	CHECK_EQ_INT(total, 1000); /* exactly the burst, never more */

	/* many distinct keys: memory stays owned, nothing crashes */
	struct rl_result rr;
	int fresh = 0;
	for (int i = 0; i < 20000; i++) {
		char k[32];
		snprintf(k, sizeof(k), "many-%d", i);
		ratelimit_take(rl, k, 1, 1, 1, &rr);
		fresh += rr.allowed;
	}
	CHECK_EQ_INT(fresh, 20000);
	ratelimit_free(rl);
}

/* ---- metrics ---- */

static const struct route mroutes[] = {
    {"GET", "/v1/users", NULL, ROLE_ADMIN, 0, NULL, 0, "list"},
    {"POST", "/v1/users/{id}", NULL, ROLE_ADMIN, 0, NULL, 0, "x"},
};

static bool has(const char *text, const char *line)
{
	bool ok = strstr(text, line) != NULL;
	if (!ok)
		fprintf(stderr, "metrics output lacks: %s", line);
	return ok;
}

static void test_metrics(void)
{
	struct metrics *m = metrics_new(2);
	metrics_observe(m, 0, 200, 1500);     /* 1.5 ms */
	metrics_observe(m, 0, 200, 3000);     /* 3 ms */
	metrics_observe(m, 0, 404, 100);      /* 0.1 ms */
	metrics_observe(m, 1, 418, 30000000); /* an unlisted status, 30 s */
	metrics_observe(m, 2, 404, 200);      /* unmatched */
	metrics_observe(m, 99, 405, 200);     /* out of range counts as unmatched */
	struct buf out;
	buf_init(&out, 0);
	metrics_render(m, mroutes, 2, 7, &out);
	const char *t = out.p;
	CHECK(has(t, "# TYPE irisx_http_requests_total counter\n"));
	CHECK(has(t, "irisx_http_requests_total{method=\"GET\",route=\"/v1/users\",status=\"200\"}"
		     " 2\n"));
	CHECK(has(t, "irisx_http_requests_total{method=\"GET\",route=\"/v1/users\",status=\"404\"}"
		     " 1\n"));
	CHECK(has(t, "irisx_http_requests_total{method=\"POST\",route=\"/v1/users/{id}\","
		     "status=\"other\"} 1\n"));
	CHECK(has(t, "irisx_http_requests_total{method=\"\",route=\"unmatched\",status=\"404\"} "
		     "1\n"));
	CHECK(has(t, "irisx_http_requests_total{method=\"\",route=\"unmatched\",status=\"405\"} "
		     "1\n"));
	CHECK(has(t, "# TYPE irisx_http_request_duration_seconds histogram\n"));
	const char *pre = "irisx_http_request_duration_seconds_bucket{method=\"GET\","
			  "route=\"/v1/users\",le=";
	char line[256];
	static const struct {
		const char *le;
		int n;
	} want[] = {{"0.0005", 1}, {"0.001", 1}, {"0.0025", 2}, {"0.005", 3},
		    {"1", 3},	   {"2.5", 3},	 {"+Inf", 3}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(line, sizeof(line), "%s\"%s\"} %d\n", pre, want[i].le, want[i].n);
		CHECK(has(t, line));
	}
	CHECK(has(t, "irisx_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/users\"}"
		     " 3\n"));
	CHECK(has(t, "irisx_http_request_duration_seconds_sum{method=\"GET\",route=\"/v1/users\"}"
		     " 0.004600\n"));
	/* the 30 s request lands only in +Inf */
	CHECK(has(t, "irisx_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/users/"
		     "{id}\",le=\"2.5\"} 0\n"));
	CHECK(has(t, "irisx_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/users/"
		     "{id}\",le=\"+Inf\"} 1\n"));
	CHECK(has(t, "irisx_store_errors_total 7\n"));

	/* bucket counts never decrease along a series */
	int prev = -1, ok = 1;
	for (const char *p = strstr(t, pre); p; p = strstr(p + 1, pre)) {
		const char *sp = strchr(p, ' ');
		int n = sp ? atoi(sp + 1) : -1;
		ok &= n >= prev;
		prev = n;
	}
	CHECK(ok);
	buf_free(&out);
	metrics_free(m);

	/* nothing observed: only the store counter and headers */
	m = metrics_new(2);
	buf_init(&out, 0);
	metrics_render(m, mroutes, 2, 0, &out);
	CHECK(strstr(out.p, "irisx_http_requests_total{") == NULL);
	CHECK(strstr(out.p, "_bucket{") == NULL);
	CHECK(has(out.p, "irisx_store_errors_total 0\n"));
	buf_free(&out);
	metrics_free(m);
	metrics_free(NULL);
}

/* ---- responses ---- */

static void test_status(void)
{
	CHECK_EQ_INT(http_status_of(-ENOENT), 404);
	CHECK_EQ_INT(http_status_of(-EEXIST), 409);
	CHECK_EQ_INT(http_status_of(-EINVAL), 400);
	CHECK_EQ_INT(http_status_of(-ERANGE), 400);
	CHECK_EQ_INT(http_status_of(-EACCES), 403);
	CHECK_EQ_INT(http_status_of(-EPERM), 401);
	CHECK_EQ_INT(http_status_of(-E2BIG), 413);
	CHECK_EQ_INT(http_status_of(-EBUSY), 503);
	CHECK_EQ_INT(http_status_of(-ENOSPC), 503);
	CHECK_EQ_INT(http_status_of(-EAGAIN), 503);
	CHECK_EQ_INT(http_status_of(-EIO), 500);
	CHECK_EQ_INT(http_status_of(-12345), 500);
	CHECK_EQ_INT(http_status_of(0), 500);

	CHECK_STR(http_code_of(404), "not_found");
	CHECK_STR(http_code_of(405), "method_not_allowed");
	CHECK_STR(http_code_of(409), "conflict");
	CHECK_STR(http_code_of(413), "payload_too_large");
	CHECK_STR(http_code_of(429), "rate_limited");
	CHECK_STR(http_code_of(503), "unavailable");
	CHECK_STR(http_code_of(418), "invalid_request");
	CHECK_STR(http_code_of(599), "internal");
}

static json_t *present_id(json_t *row)
{
	return json_pack("{s:O}", "id", json_object_get(row, "id"));
}

static json_t *rows_of(int n)
{
	json_t *rows = json_array();
	for (int i = 0; i < n; i++) {
		char id[ID_LEN + 1];
		snprintf(id, sizeof(id), "US%032d", 100 - i);
		json_array_append_new(rows, json_pack("{s:s,s:s}", "id", id, "secret", "x"));
	}
	return rows;
}

static void test_page(void)
{
	/* limit + 1 rows fetched: a next page, its cursor is the last row shown */
	json_t *p = http_page(rows_of(3), 2, present_id);
	json_t *data = json_object_get(p, "data");
	CHECK_EQ_INT(json_array_size(data), 2);
	CHECK(json_object_get(json_array_get(data, 0), "secret") == NULL); /* presented */
	CHECK_STR(json_string_value(json_object_get(p, "next_cursor")),
		  "US00000000000000000000000000000099");
	json_decref(p);

	/* exactly limit rows: last page, next_cursor is JSON null (present, not absent) */
	p = http_page(rows_of(2), 2, present_id);
	CHECK_EQ_INT(json_array_size(json_object_get(p, "data")), 2);
	CHECK(json_is_null(json_object_get(p, "next_cursor")));
	json_decref(p);

	p = http_page(rows_of(0), 50, present_id);
	CHECK(json_is_array(json_object_get(p, "data")));
	CHECK_EQ_INT(json_array_size(json_object_get(p, "data")), 0);
	CHECK(json_is_null(json_object_get(p, "next_cursor")));
	char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(s, "{\"data\":[],\"next_cursor\":null}");
	free(s);
	json_decref(p);
}

/* Query and header lookup for requests built in tests: "name=value" pairs. */
static const char *fake_query[8];
static const char *fake_lookup(struct http_req *req, int kind, const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; kind == 1 && fake_query[i]; i++)
		if (!strncmp(fake_query[i], name, n) && fake_query[i][n] == '=')
			return fake_query[i] + n + 1;
	return NULL;
}

static void reset_req(struct http_req *req)
{
	json_decref(req->resp);
	json_decref(req->json);
	json_decref(req->headers);
	memset(req, 0, sizeof(*req));
	req->lookup = fake_lookup;
}

static const char *err_field(struct http_req *req, const char *name)
{
	return json_str(json_object_get(req->resp, "error"), name);
}

static int page_params(const char *q1, const char *q2, int *limit, const char **cursor)
{
	struct http_req req = {0};
	reset_req(&req);
	fake_query[0] = q1;
	fake_query[1] = q1 ? q2 : NULL;
	fake_query[2] = NULL;
	int r = http_page_params(&req, limit, cursor);
	if (r < 0) {
		CHECK_EQ_INT(req.status, 400);
		CHECK_STR(err_field(&req, "code"), "invalid_parameter");
	}
	reset_req(&req);
	return r;
}

static void test_request_helpers(void)
{
	int limit = 0;
	const char *cursor = "junk";
	CHECK_EQ_INT(page_params(NULL, NULL, &limit, &cursor), 0);
	CHECK_EQ_INT(limit, 50);
	CHECK(cursor == NULL);
	CHECK_EQ_INT(page_params("limit=200", NULL, &limit, &cursor), 0);
	CHECK_EQ_INT(limit, 200);
	CHECK_EQ_INT(
	    page_params("limit=1", "cursor=US0123456789abcdef0123456789abcdef", &limit, &cursor),
	    0);
	CHECK_EQ_INT(limit, 1);
	CHECK_STR(cursor, "US0123456789abcdef0123456789abcdef");
	CHECK_EQ_INT(page_params("limit=0", NULL, &limit, &cursor), -EINVAL);
	CHECK_EQ_INT(page_params("limit=201", NULL, &limit, &cursor), -EINVAL);
	CHECK_EQ_INT(page_params("limit=-1", NULL, &limit, &cursor), -EINVAL);
	CHECK_EQ_INT(page_params("limit=ten", NULL, &limit, &cursor), -EINVAL);
	CHECK_EQ_INT(page_params("limit=", NULL, &limit, &cursor), -EINVAL);
	CHECK_EQ_INT(page_params("limit=5x", NULL, &limit, &cursor), -EINVAL);
	CHECK_EQ_INT(page_params("cursor=US0123", NULL, &limit, &cursor), -EINVAL);
	CHECK_EQ_INT(
	    page_params("cursor=US0123456789ABCDEF0123456789abcdef", NULL, &limit, &cursor),
	    -EINVAL);
	CHECK_EQ_INT(
	    page_params("cursor=' OR 1=1 --xxxxxxxxxxxxxxxxxxxxxxx", NULL, &limit, &cursor),
	    -EINVAL);

	/* the error envelope: code, message, field (null when none) */
	struct http_req req = {0};
	reset_req(&req);
	CHECK_EQ_INT(http_error(&req, 409, NULL, "taken", "email"), 0);
	CHECK_EQ_INT(req.status, 409);
	CHECK_STR(err_field(&req, "code"), "conflict");
	CHECK_STR(err_field(&req, "message"), "taken");
	CHECK_STR(err_field(&req, "field"), "email");
	http_error(&req, 404, NULL, NULL, NULL);
	CHECK_STR(err_field(&req, "code"), "not_found");
	CHECK_STR(err_field(&req, "message"), "");
	CHECK(json_is_null(json_object_get(json_object_get(req.resp, "error"), "field")));
	http_reply(&req, 201, json_pack("{s:i}", "ok", 1));
	CHECK_EQ_INT(req.status, 201);
	CHECK_EQ_INT(json_int(req.resp, "ok", 0), 1);
	http_header(&req, "Retry-After", "3");
	CHECK_STR(json_str(req.headers, "Retry-After"), "3");
	CHECK(http_get_header(&req, "Authorization") == NULL);

	/* body validation answers 400 naming the field */
	static const struct json_field f[] = {{"name", JF_STRING, true, 4}, {0}};
	const char *perr;
	CHECK_EQ_INT(json_parse_body("{\"name\":\"abc\"}", 14, &req.json, &perr), 0);
	CHECK_EQ_INT(http_check_body(&req, f), 0);
	json_decref(req.json);
	CHECK_EQ_INT(json_parse_body("{\"name\":\"abcde\"}", 16, &req.json, &perr), 0);
	CHECK_EQ_INT(http_check_body(&req, f), -EINVAL);
	CHECK_EQ_INT(req.status, 400);
	CHECK_STR(err_field(&req, "code"), "too_long");
	CHECK_STR(err_field(&req, "field"), "name");
	json_decref(req.json);
	CHECK_EQ_INT(json_parse_body("[1]", 3, &req.json, &perr), 0);
	CHECK_EQ_INT(http_check_body(&req, f), -EINVAL);
	CHECK_STR(err_field(&req, "code"), "invalid_body");
	reset_req(&req);
	fake_query[0] = NULL;
}

int main(void)
{
	test_route_match();
	test_api_routes();
	test_ratelimit_basic();
	test_ratelimit_refill();
	test_ratelimit_long_key();
	test_ratelimit_threads();
	test_metrics();
	test_status();
	test_page();
	test_request_helpers();
	return test_done("http");
}
