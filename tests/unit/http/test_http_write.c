/* test_http_write.c: http_write_async on a real SQLite store, without sockets: the
   synchronous fallback when nothing can resume the request, and the queued path (the
   handler's after on the writer thread, then the answer concluded, audited and handed back
   through req->resume exactly once): success, refusal, store failure, Idempotency-Key
   replay, and many requests at once. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "../test.h"

#define MANY 200

static struct config cfg;
static struct app app;
static char dir[] = "/tmp/irisx-http-write-XXXXXX";
static char tenant[ID_LEN + 1];
static const struct route rt = {"POST", "/v1/things",	NULL,	      ROLE_DEVELOPER,
				0,	"thing.create", ROUTE_CREATE, "create a thing"};

/* One request and what happened to it. */
struct treq {
	struct http_req req;
	int kind; /* 0 creates, 1 refuses (400), 2 fails (-EIO) */
	char thing[ID_LEN + 1];
	int fn_calls, after_calls, after_r;
	pthread_t after_thread;
	atomic_int resumes;
	bool after_before_resume;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int resumed;

static void on_resume(struct http_req *req)
{
	struct treq *t = (struct treq *)(void *)req;
	t->after_before_resume = t->after_calls == 1;
	atomic_fetch_add(&t->resumes, 1);
	pthread_mutex_lock(&lock);
	resumed++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void wait_resumed(int n)
{
	pthread_mutex_lock(&lock);
	while (resumed < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static int thing_fn(struct store_tx *tx, void *arg)
{
	struct treq *t = arg;
	t->fn_calls++;
	if (t->kind == 2)
		return -EIO;
	int r = store_tenant_insert(tx, t->thing, "thing", false);
	if (r < 0)
		return r;
	if (t->kind == 1)
		return http_error(&t->req, 400, "invalid_field", "no", "name");
	snprintf(t->req.resource_id, sizeof(t->req.resource_id), "%s", t->thing);
	return http_reply(&t->req, 201, json_pack("{s:s}", "id", t->thing));
}

static int thing_after(struct http_req *req, void *arg, int r)
{
	struct treq *t = arg;
	t->after_calls++;
	t->after_r = r;
	t->after_thread = pthread_self();
	return r;
}

static void treq_init(struct treq *t, int kind, bool async)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	id_new("AC", t->thing);
	struct http_req *req = &t->req;
	req->app = &app;
	req->route = &rt;
	req->method = "POST";
	req->path = "/v1/things";
	req->authed = true;
	snprintf(req->who.tenant_id, sizeof(req->who.tenant_id), "%s", tenant);
	id_new("KE", req->who.actor_id);
	req->who.actor_type = "api_key";
	id_new("RQ", req->request_id);
	snprintf(req->ip, sizeof(req->ip), "127.0.0.1");
	if (async)
		req->resume = on_resume;
}

static void treq_free(struct treq *t)
{
	json_decref(t->req.resp);
	json_decref(t->req.headers);
}

static int submit(struct treq *t)
{
	return http_write_async(&t->req, tenant, thing_fn, t, thing_after, t);
}

static int exists_fn(struct store_tx *tx, void *arg)
{
	json_t *row = NULL;
	int r = store_tenant_get(tx, arg, &row);
	json_decref(row);
	return r;
}

static bool exists(const char *id)
{
	return store_tx(app.st, NULL, STORE_READ, exists_fn, (void *)id) == 0;
}

struct audit_q {
	const char *actor;
	json_t *rows;
};

static int audit_fn(struct store_tx *tx, void *arg)
{
	struct audit_q *q = arg;
	struct audit_filter f = {.actor_id = q->actor, .limit = 10};
	return store_audit_list(tx, tenant, &f, &q->rows);
}

/* The status of the request's one audit entry (-1 if it has none or several). */
static int audited_status(const struct treq *t)
{
	struct audit_q q = {t->req.who.actor_id, NULL};
	if (store_tx(app.st, tenant, STORE_READ, audit_fn, &q) < 0)
		return -1;
	int st = json_array_size(q.rows) == 1
		     ? (int)json_int(json_array_get(q.rows, 0), "status", -1)
		     : -1;
	json_decref(q.rows);
	return st;
}

static const char *err_code(const struct treq *t)
{
	return json_str(json_object_get(t->req.resp, "error"), "code");
}

static int tenant_fn(struct store_tx *tx, void *arg)
{
	return store_tenant_insert(tx, arg, "owner", false);
}

static void setup(void)
{
	test_sqlite_config(&cfg, dir);
	app.cfg = &cfg;
	CHECK_EQ_INT(store_open(&cfg, &app.st), 0);
	if (!app.st)
		exit(test_done("http_write"));
	CHECK_EQ_INT(store_migrate(app.st, NULL), 0);
	id_new("AC", tenant);
	CHECK_EQ_INT(store_tx(app.st, NULL, STORE_WRITE, tenant_fn, tenant), 0);
}

/* Nothing to resume the request: http_write and after now, on this thread. */
static void test_sync(void)
{
	struct treq t;
	treq_init(&t, 0, false);
	CHECK_EQ_INT(submit(&t), 0);
	CHECK(!t.req.pending);
	CHECK_EQ_INT(t.after_calls, 1);
	CHECK(pthread_equal(t.after_thread, pthread_self()));
	CHECK_EQ_INT(t.req.status, 201);
	CHECK(t.req.audited);
	CHECK(exists(t.thing));
	CHECK_EQ_INT(audited_status(&t), 201);
	treq_free(&t);

	treq_init(&t, 2, false);
	CHECK_EQ_INT(submit(&t), -EIO); /* the handler returns it; http_dispatch answers 500 */
	CHECK_EQ_INT(t.after_r, -EIO);
	CHECK_EQ_INT(t.req.status, 0);
	treq_free(&t);
}

/* Queued: 0 at once and pending; after on the writer thread, then one resume with the
   answer complete and audited. */
static void test_async(int kind, int status, const char *code)
{
	struct treq t;
	treq_init(&t, kind, true);
	resumed = 0;
	CHECK_EQ_INT(submit(&t), 0);
	CHECK(t.req.pending);
	wait_resumed(1);
	usleep(20000); /* a second resume would have come */
	CHECK_EQ_INT(atomic_load(&t.resumes), 1);
	CHECK(t.after_before_resume);
	/* fn is replayable (STORE_REPLAY): a refusal made after inserting is rolled back by
	   running it again in a savepoint of its own */
	CHECK_EQ_INT(t.fn_calls, kind == 1 ? 2 : 1);
	CHECK(!pthread_equal(t.after_thread, pthread_self()));
	CHECK_EQ_INT(t.req.status, status);
	if (code)
		CHECK_STR(err_code(&t), code);
	CHECK(t.req.audited);
	CHECK_EQ_INT(audited_status(&t), status);
	CHECK(exists(t.thing) == (kind == 0));
	treq_free(&t);
}

/* The second request with a key gets the first one's answer, replayed without running fn. */
static void test_replay(void)
{
	struct treq a, b;
	treq_init(&a, 0, true);
	treq_init(&b, 0, true);
	a.req.idem_key = b.req.idem_key = "key-1";
	sha256_hex("same", 4, a.req.idem_hash);
	memcpy(b.req.idem_hash, a.req.idem_hash, sizeof(b.req.idem_hash));
	resumed = 0;
	CHECK_EQ_INT(submit(&a), 0);
	CHECK_EQ_INT(submit(&b), 0);
	wait_resumed(2);
	CHECK_EQ_INT(a.req.status, 201);
	CHECK_EQ_INT(b.req.status, 201);
	CHECK_EQ_INT(b.fn_calls, 0);
	CHECK(b.req.replayed);
	CHECK_STR(json_str(b.req.headers, "Idempotent-Replayed"), "true");
	CHECK_STR(json_str(b.req.resp, "id"), a.thing);
	CHECK(!exists(b.thing));
	CHECK_EQ_INT(audited_status(&b), 201); /* the replay has its own entry */
	treq_free(&a);
	treq_free(&b);
}

struct feeder {
	struct treq *t;
	int n, not_queued;
};

static void *feeder_main(void *p)
{
	struct feeder *f = p;
	for (int i = 0; i < f->n; i++)
		f->not_queued += submit(&f->t[i]) != 0 || !f->t[i].req.pending;
	return NULL;
}

/* From two threads at once, mixed kinds: each request resumed once with its own answer. */
static void test_many(void)
{
	static struct treq t[MANY];
	for (int i = 0; i < MANY; i++)
		treq_init(&t[i], i % 3, true);
	resumed = 0;
	pthread_t th[2];
	struct feeder f[2] = {{t, MANY / 2, 0}, {t + MANY / 2, MANY - MANY / 2, 0}};
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, feeder_main, &f[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(f[i].not_queued, 0);
	}
	wait_resumed(MANY);
	usleep(20000);
	int wrong = 0;
	static const int want[] = {201, 400, 500};
	for (int i = 0; i < MANY; i++) {
		bool ok = atomic_load(&t[i].resumes) == 1 && t[i].req.status == want[i % 3] &&
			  t[i].req.audited && exists(t[i].thing) == (i % 3 == 0);
		if (!ok && wrong++ < 5)
			fprintf(stderr, "request %d: %d resumes, status %d\n", i,
				atomic_load(&t[i].resumes), t[i].req.status);
		treq_free(&t[i]);
	}
	CHECK_EQ_INT(wrong, 0);
}

int main(void)
{
	setup();
	test_sync();
	test_async(0, 201, NULL);
	test_async(1, 400, "invalid_field"); /* rolled back, then audited on its own */
	test_async(2, 500, "internal");	     /* the store's error answered as http_dispatch does */
	test_replay();
	test_many();
	store_close(app.st);
	config_free(&cfg);
	test_remove_db_dir(dir);
	return test_done("http_write");
}
