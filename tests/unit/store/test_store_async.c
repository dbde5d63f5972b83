/* test_store_async.c: store_tx_async on the SQLite backend: every completion called exactly
   once with its own result, a failing job rolled back alone inside its batch (also among jobs
   flagged STORE_REPLAY, which share a savepoint), completions on the store's completion
   thread, not the writer's (they may queue more but not wait), and queued jobs finished at
   close. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "store/store.h"
#include "../test.h"

#define THREADS 4
#define PER_THREAD 250
#define SYNC_WRITES 100
#define BATCH_JOBS 24

static struct config cfg;
static struct store *st;
static char dir[] = "/tmp/irisx-store-async-XXXXXX";
static char existing[ID_LEN + 1]; /* a tenant every kind-2 job collides with */

/* One queued transaction and what its completion saw. */
struct ajob {
	/* 0 commits, 1 fn fails after inserting, 2 unique violation after inserting, 3 fn fails
	   before writing anything */
	int kind;
	char id[ID_LEN + 1];
	atomic_int runs;     /* of ajob_fn */
	pthread_t fn_thread; /* the one fn ran on (the writer, for a write) */
	int result;
	atomic_int calls;
	pthread_t thread; /* the one done ran on */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int finished;

static int insert_tenant_fn(struct store_tx *tx, void *arg)
{
	return store_tenant_insert(tx, arg, "t", false);
}

static int tenant_exists_fn(struct store_tx *tx, void *arg)
{
	json_t *t;
	int r = store_tenant_get(tx, arg, &t);
	if (r == 0)
		json_decref(t);
	return r;
}

static bool tenant_exists(const char *id)
{
	return store_tx(st, NULL, STORE_READ, tenant_exists_fn, (void *)id) == 0;
}

static int ajob_fn(struct store_tx *tx, void *arg)
{
	struct ajob *j = arg;
	atomic_fetch_add(&j->runs, 1);
	j->fn_thread = pthread_self();
	if (j->kind == 3)
		return -EPERM;
	int r = store_tenant_insert(tx, j->id, "async", false);
	if (r < 0)
		return r;
	if (j->kind == 1)
		return -ECANCELED;
	if (j->kind == 2)
		return store_tenant_insert(tx, existing, "dup", false);
	return 0;
}

static void ajob_done(void *arg, int result)
{
	struct ajob *j = arg;
	j->result = result;
	j->thread = pthread_self();
	atomic_fetch_add(&j->calls, 1);
	pthread_mutex_lock(&lock);
	finished++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void wait_finished(int n)
{
	pthread_mutex_lock(&lock);
	while (finished < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void ajob_init(struct ajob *j, int kind)
{
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->result = 1; /* never a result of ajob_fn */
	id_new("AC", j->id);
}

static int expected(const struct ajob *j)
{
	static const int results[] = {0, -ECANCELED, -EEXIST, -EPERM};
	return results[j->kind];
}

/* Each job's completion came once with its result; only kind 0 left its row. */
static void check_jobs(const struct ajob *jobs, int n)
{
	int wrong = 0;
	for (int i = 0; i < n; i++) {
		const struct ajob *j = &jobs[i];
		bool ok = atomic_load(&j->calls) == 1 && j->result == expected(j) &&
			  tenant_exists(j->id) == (j->kind == 0);
		if (!ok && wrong++ < 5)
			fprintf(stderr, "job %d kind %d: %d calls, result %d\n", i, j->kind,
				atomic_load(&j->calls), j->result);
	}
	CHECK_EQ_INT(wrong, 0);
}

static void test_open(void)
{
	test_sqlite_config(&cfg, dir);
	CHECK_EQ_INT(store_open(&cfg, &st), 0);
	if (!st) {
		fprintf(stderr, "store_open failed; cannot continue\n");
		exit(test_done("store_async"));
	}
	CHECK_EQ_INT(store_migrate(st, NULL), 0);
	id_new("AC", existing);
	CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, insert_tenant_fn, existing), 0);
}

static int seven_fn(struct store_tx *tx, void *arg)
{
	CHECK_STR(store_tx_tenant(tx), (const char *)arg);
	return 7;
}

/* One write and one read: the write's completion comes from the completion thread (neither
   this one nor the writer), after this returned; a read runs at once and completes before
   store_tx_async returns. */
static void test_single(void)
{
	struct ajob j;
	ajob_init(&j, 0);
	finished = 0;
	CHECK_EQ_INT(store_tx_async(st, NULL, STORE_WRITE, ajob_fn, &j, ajob_done, &j), 0);
	wait_finished(1);
	CHECK_EQ_INT(j.result, 0);
	CHECK(!pthread_equal(j.thread, pthread_self()));
	CHECK(!pthread_equal(j.fn_thread, pthread_self()));
	CHECK(!pthread_equal(j.thread, j.fn_thread));
	CHECK(tenant_exists(j.id));

	struct ajob r;
	ajob_init(&r, 0);
	char tenant[] = "ACsometenant";
	CHECK_EQ_INT(store_tx_async(st, tenant, STORE_READ, seven_fn, tenant, ajob_done, &r), 0);
	CHECK_EQ_INT(atomic_load(&r.calls), 1); /* before returning */
	CHECK_EQ_INT(r.result, 7);
	CHECK(pthread_equal(r.thread, pthread_self()));
	CHECK_EQ_INT(finished, 2);
}

/* ---- many at once ---- */

struct feeder {
	struct ajob *jobs;
	int n, refused;
};

static void *feeder_main(void *p)
{
	struct feeder *f = p;
	for (int i = 0; i < f->n; i++)
		if (store_tx_async(st, NULL, STORE_WRITE, ajob_fn, &f->jobs[i], ajob_done,
				   &f->jobs[i]) < 0)
			f->refused++;
	return NULL;
}

static void *sync_main(void *p)
{
	int *failures = p;
	for (int i = 0; i < SYNC_WRITES; i++) {
		char id[ID_LEN + 1];
		id_new("AC", id);
		if (store_tx(st, NULL, STORE_WRITE, insert_tenant_fn, id) != 0 ||
		    !tenant_exists(id))
			(*failures)++;
	}
	return NULL;
}

/* THREADS feeders queue jobs of every kind while another thread makes synchronous writes
   through the same writer. */
static void test_concurrent(void)
{
	static struct ajob jobs[THREADS * PER_THREAD];
	struct feeder f[THREADS];
	pthread_t th[THREADS], sth;
	int sync_failures = 0;
	for (int i = 0; i < THREADS * PER_THREAD; i++)
		ajob_init(&jobs[i], i % 3);
	finished = 0;
	uint64_t t0 = time_mono_us();
	pthread_create(&sth, NULL, sync_main, &sync_failures);
	for (int i = 0; i < THREADS; i++) {
		f[i] = (struct feeder){.jobs = jobs + i * PER_THREAD, .n = PER_THREAD};
		pthread_create(&th[i], NULL, feeder_main, &f[i]);
	}
	int refused = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		refused += f[i].refused;
	}
	CHECK_EQ_INT(refused, 0);
	wait_finished(THREADS * PER_THREAD);
	pthread_join(sth, NULL);
	uint64_t dt = time_mono_us() - t0;
	CHECK_EQ_INT(sync_failures, 0);
	usleep(50000); /* a second completion would have come by now */
	check_jobs(jobs, THREADS * PER_THREAD);
	printf("async: %d queued writes from %d threads (+%d synchronous) in %.2f s\n",
	       THREADS * PER_THREAD, THREADS, SYNC_WRITES, (double)dt / 1e6);
}

/* ---- one batch ---- */

static pthread_mutex_t bl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bl_cond = PTHREAD_COND_INITIALIZER;
static bool bl_running, bl_release;

/* Holds the writer until the test has queued the whole batch behind it. */
static int blocker_fn(struct store_tx *tx, void *arg)
{
	pthread_mutex_lock(&bl_lock);
	bl_running = true;
	pthread_cond_broadcast(&bl_cond);
	while (!bl_release)
		pthread_cond_wait(&bl_cond, &bl_lock);
	pthread_mutex_unlock(&bl_lock);
	return 0;
}

static void *blocker_main(void *arg)
{
	*(int *)arg = store_tx(st, NULL, STORE_WRITE, blocker_fn, NULL);
	return NULL;
}

/* Starts the blocker and returns once the writer is held by it. */
static void blocker_start(pthread_t *t, int *result)
{
	bl_running = bl_release = false;
	pthread_create(t, NULL, blocker_main, result);
	pthread_mutex_lock(&bl_lock);
	while (!bl_running)
		pthread_cond_wait(&bl_cond, &bl_lock);
	pthread_mutex_unlock(&bl_lock);
}

/* Lets the writer go on (with the batch queued behind the blocker), and joins it. */
static void blocker_release(pthread_t t, const int *result)
{
	pthread_mutex_lock(&bl_lock);
	bl_release = true;
	pthread_cond_broadcast(&bl_cond);
	pthread_mutex_unlock(&bl_lock);
	pthread_join(t, NULL);
	CHECK_EQ_INT(*result, 0);
}

/* Jobs queued while the writer is busy commit as one batch: each completion gets its own
   result, and the failing ones roll back only their own inserts. */
static void test_batch(void)
{
	struct ajob jobs[BATCH_JOBS];
	pthread_t blocker;
	int blocker_result = -1;
	blocker_start(&blocker, &blocker_result);
	finished = 0;
	for (int i = 0; i < BATCH_JOBS; i++) {
		ajob_init(&jobs[i], (i * 7) % 3);
		CHECK_EQ_INT(
		    store_tx_async(st, NULL, STORE_WRITE, ajob_fn, &jobs[i], ajob_done, &jobs[i]),
		    0);
	}
	CHECK_EQ_INT(finished, 0); /* nothing completes while the batch waits */
	blocker_release(blocker, &blocker_result);
	wait_finished(BATCH_JOBS);
	check_jobs(jobs, BATCH_JOBS);
}

/* A batch of STORE_REPLAY jobs, with plain ones among them: a replayable job that fails
   having inserted rolls back its run, which is done again (its neighbours' fn runs twice,
   their rows committed once); one that fails having changed nothing costs no replay; plain
   jobs run once. The first run starts the transaction (rolled back and begun again), the
   later ones have a savepoint. */
static void test_replay(void)
{
	/* kind, and whether it is replayable */
	static const int plan[][2] = {{0, 1}, {0, 1}, {1, 1}, {0, 1}, {0, 0}, {0, 1}, {3, 1},
				      {0, 1}, {2, 1}, {0, 1}, {1, 0}, {0, 1}, {3, 0}, {0, 1}};
	enum { N = sizeof(plan) / sizeof(plan[0]) };
	struct ajob jobs[N];
	pthread_t blocker;
	int blocker_result = -1;
	blocker_start(&blocker, &blocker_result);
	finished = 0;
	for (int i = 0; i < N; i++) {
		ajob_init(&jobs[i], plan[i][0]);
		int flags = STORE_WRITE | (plan[i][1] ? STORE_REPLAY : 0);
		CHECK_EQ_INT(
		    store_tx_async(st, NULL, flags, ajob_fn, &jobs[i], ajob_done, &jobs[i]), 0);
	}
	blocker_release(blocker, &blocker_result);
	wait_finished(N);
	check_jobs(jobs, N);
	/* the first run (jobs 0-2) was replayed, from the transaction's start; so was the run
	   after the plain job 4 up to the unique violation (5-8); the refusals (6, 12) replayed
	   nothing; plain jobs ran once */
	static const int runs[N] = {2, 2, 2, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1};
	int wrong = 0;
	for (int i = 0; i < N; i++)
		if (atomic_load(&jobs[i].runs) != runs[i] && wrong++ < 5)
			fprintf(stderr, "job %d ran %d times, not %d\n", i,
				atomic_load(&jobs[i].runs), runs[i]);
	CHECK_EQ_INT(wrong, 0);
}

/* ---- completions that write ---- */

struct chain {
	struct ajob first, second;
	int sync_write, sync_read, queued;
};

static void chain_done(void *arg, int result)
{
	struct chain *c = arg;
	c->first.result = result;
	atomic_fetch_add(&c->first.calls, 1);
	char id[ID_LEN + 1];
	id_new("AC", id);
	c->sync_write = store_tx(st, NULL, STORE_WRITE, insert_tenant_fn, id);
	c->sync_read = store_tx(st, NULL, STORE_READ, tenant_exists_fn, c->first.id);
	c->queued =
	    store_tx_async(st, NULL, STORE_WRITE, ajob_fn, &c->second, ajob_done, &c->second);
}

/* A completion must not wait for a write (-EDEADLK: it would hold up every completion
   behind it); reading works and so does queueing the next write. */
static void test_chain(void)
{
	struct chain c = {0};
	ajob_init(&c.first, 0);
	ajob_init(&c.second, 1);
	finished = 0;
	CHECK_EQ_INT(store_tx_async(st, NULL, STORE_WRITE, ajob_fn, &c.first, chain_done, &c), 0);
	wait_finished(1); /* the second job's completion */
	CHECK_EQ_INT(c.first.result, 0);
	CHECK_EQ_INT(c.sync_write, -EDEADLK);
	CHECK_EQ_INT(c.sync_read, 0); /* its own write is committed */
	CHECK_EQ_INT(c.queued, 0);
	CHECK_EQ_INT(atomic_load(&c.second.calls), 1);
	CHECK_EQ_INT(c.second.result, -ECANCELED);
	CHECK(!tenant_exists(c.second.id));
}

/* ---- close ---- */

#define CLOSE_JOBS 200

struct relay {
	struct ajob job, next;
	int queued; /* store_tx_async of next from job's completion */
};

static void relay_done(void *arg, int result)
{
	struct relay *r = arg;
	ajob_done(&r->job, result);
	r->queued = store_tx_async(st, NULL, STORE_WRITE, ajob_fn, &r->next, ajob_done, &r->next);
}

/* store_close with jobs still queued: every one is committed and completed before it
   returns; a completion that queues more while the store closes gets 0 (and its completion
   later) or -EBUSY (and none), never a lost one. */
static void test_close(void)
{
	static struct relay rel[CLOSE_JOBS];
	for (int i = 0; i < CLOSE_JOBS; i++) {
		ajob_init(&rel[i].job, 0);
		ajob_init(&rel[i].next, 0);
		CHECK_EQ_INT(store_tx_async(st, NULL, STORE_WRITE, ajob_fn, &rel[i].job, relay_done,
					    &rel[i]),
			     0);
	}
	store_close(st);
	st = NULL;
	int lost = 0, busy = 0;
	for (int i = 0; i < CLOSE_JOBS; i++) {
		const struct relay *r = &rel[i];
		int next_calls = atomic_load(&r->next.calls);
		if (atomic_load(&r->job.calls) != 1 || r->job.result != 0 ||
		    next_calls != (r->queued == 0 ? 1 : 0) || (r->queued && r->queued != -EBUSY))
			lost++;
		busy += r->queued == -EBUSY;
	}
	CHECK_EQ_INT(lost, 0);
	printf("close: %d jobs completed, %d follow-ups refused as the store closed\n", CLOSE_JOBS,
	       busy);
	CHECK_EQ_INT(store_open(&cfg, &st), 0);
	if (!st)
		return;
	int missing = 0;
	for (int i = 0; i < CLOSE_JOBS; i++)
		missing += !tenant_exists(rel[i].job.id) ||
			   (rel[i].queued == 0) != tenant_exists(rel[i].next.id);
	CHECK_EQ_INT(missing, 0);
}

int main(void)
{
	test_clear_irisx_env();
	test_open();
	test_single();
	test_concurrent();
	test_batch();
	test_replay();
	test_chain();
	test_close();
	store_close(st);
	config_free(&cfg);
	test_remove_db_dir(dir);
	return test_done("store_async");
}
