/* sqlite.c: SQLite backend. WAL + synchronous=FULL; one writer thread group-commits queued
   write transactions (one fsync per batch; a savepoint per job, or per run of jobs flagged
   STORE_REPLAY), waking each caller or calling its completion (store_tx_async); a pool of
   query_only readers serves reads. */
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

#define READERS 64 /* opened on demand, kept open */
#define BATCH_MAX 512

struct sq_conn {
	sqlite3 *db;
	struct stmt_lru cache; /* statement i is stmt[i] */
	sqlite3_stmt *stmt[STMT_SLOTS];
};

struct sq_job {
	const char *tenant_id;
	int flags;
	store_tx_fn *fn;
	void *arg;
	int result;
	sem_t done_sem;	     /* posted alone, outside the queue lock: no herd, no lock convoy */
	store_done_cb *done; /* queued with store_tx_async: called instead, then the job freed */
	void *done_arg;
	struct sq_job *next;
};

struct sq {
	char *path;
	struct sq_conn writer;
	pthread_t thread, ckpt_thread;
	bool thread_started, ckpt_started, stop;
	struct sq_conn ckpt; /* checkpoints run here, off the writer's commit path */
	int wal_frames;	     /* after the writer's last commit (its WAL hook) */
	pthread_cond_t ckpt_wake;
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct sq_job *head, *tail;
	/* completions (store_tx_async) run on their own thread, off the writer's path: the
	   writer hands each committed batch's over and begins the next */
	pthread_t done_thread;
	bool done_started, done_stop;
	pthread_mutex_t done_lock;
	pthread_cond_t done_wake;
	struct sq_job *done_head, *done_tail;
	struct sq_conn readers[READERS];
	bool reader_busy[READERS];
	int nreaders; /* opened so far */
	pthread_mutex_t rlock;
	pthread_cond_t rfree;
};

static int map_rc(struct store *st, int rc, int ext)
{
	if (rc == SQLITE_CONSTRAINT) {
		if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -EEXIST;
		if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
			return -ENOENT;
		return -EINVAL;
	}
	atomic_fetch_add(&st->errors, 1);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return -EBUSY;
	if (rc == SQLITE_FULL)
		return -ENOSPC;
	return -EIO;
}

/* Before SQLite initializes: no global memory statistics, whose mutex every allocation of
   every connection would otherwise take (it showed as the top lock under load). */
static pthread_once_t sq_once = PTHREAD_ONCE_INIT;
static void sq_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int conn_open(struct sq *s, struct sq_conn *c, bool reader)
{
	pthread_once(&sq_once, sq_configure);
	memset(c, 0, sizeof(*c));
	int rc =
	    sqlite3_open_v2(s->path, &c->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_busy_timeout(c->db, 5000);
	sqlite3_extended_result_codes(c->db, 1);
	/* the writer keeps a larger page cache: index pages of random keys (API key hashes)
	   stay in memory instead of being read back for every insert. No memory map: the file
	   grows with every batch, and each reader would unmap and map it again at its next
	   transaction (a TLB shootdown each time). Savepoint journals stay in memory. */
	const char *pragmas = reader ? "PRAGMA foreign_keys=ON; PRAGMA query_only=1; "
				       "PRAGMA cache_size=-8192;"
				     : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
				       "PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0; "
				       "PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;";
	if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	return 0;
}

static void conn_close(struct sq_conn *c)
{
	for (int i = 0; i < STMT_SLOTS; i++) {
		sqlite3_finalize(c->stmt[i]);
		mem_free(c->cache.sql[i]);
	}
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

/* Prepared statements are cached per connection by the text of the SQL (stmt_slot). */
static int prepare(struct sq_conn *c, const char *sql, sqlite3_stmt **ret)
{
	bool hit;
	size_t i = stmt_slot(&c->cache, sql, &hit);
	if (hit) {
		sqlite3_reset(c->stmt[i]);
		sqlite3_clear_bindings(c->stmt[i]);
		*ret = c->stmt[i];
		return SQLITE_OK;
	}
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		c->cache.used[i] = 0; /* the slot keeps what it held */
		return rc;
	}
	sqlite3_finalize(c->stmt[i]);
	mem_free(c->cache.sql[i]);
	c->cache.sql[i] = mem_strdup(sql);
	c->stmt[i] = stmt;
	*ret = stmt;
	return SQLITE_OK;
}

static int bind(sqlite3_stmt *stmt, size_t n, const struct store_val *v)
{
	if ((int)n != sqlite3_bind_parameter_count(stmt))
		return SQLITE_RANGE;
	for (size_t i = 0; i < n; i++) {
		int rc, idx = (int)i + 1;
		if (v[i].type == SV_TEXT)
			rc = sqlite3_bind_text(stmt, idx, v[i].s, -1, SQLITE_STATIC);
		else if (v[i].type == SV_INT)
			rc = sqlite3_bind_int64(stmt, idx, v[i].i);
		else
			rc = sqlite3_bind_null(stmt, idx);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static json_t *row_json(sqlite3_stmt *stmt)
{
	json_t *o = json_object();
	int nc = sqlite3_column_count(stmt);
	for (int i = 0; i < nc; i++) {
		json_t *v;
		switch (sqlite3_column_type(stmt, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(stmt, i));
			break;
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(stmt, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			v = json_stringn((const char *)sqlite3_column_text(stmt, i),
					 (size_t)sqlite3_column_bytes(stmt, i));
			if (!v) /* not UTF-8: never expected from our own writes */
				v = json_null();
		}
		json_object_set_new(o, sqlite3_column_name(stmt, i), v);
	}
	return o;
}

static int run_stmt(struct store_tx *tx, const char *sql, size_t n, const struct store_val *v,
		    json_t **ret)
{
	struct sq_conn *c = tx->conn;
	sqlite3_stmt *stmt;
	int rc = prepare(c, sql, &stmt);
	if (rc == SQLITE_OK)
		rc = bind(stmt, n, v);
	if (rc != SQLITE_OK)
		return map_rc(tx->st, rc & 0xff, rc);
	json_t *rows = ret ? json_array() : NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		if (rows)
			json_array_append_new(rows, row_json(stmt));
	int ext = sqlite3_extended_errcode(c->db);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return map_rc(tx->st, rc & 0xff, ext);
	}
	if (ret)
		*ret = rows;
	return sqlite3_changes(c->db);
}

static int sq_exec(struct store_tx *tx, const char *sql, size_t n, const struct store_val *v)
{
	return run_stmt(tx, sql, n, v, NULL);
}

static int sq_query(struct store_tx *tx, const char *sql, size_t n, const struct store_val *v,
		    json_t **ret)
{
	int r = run_stmt(tx, sql, n, v, ret);
	return r < 0 ? r : 0;
}

static int sq_script(struct store_tx *tx, const char *sql)
{
	struct sq_conn *c = tx->conn;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return map_rc(tx->st, rc & 0xff, sqlite3_extended_errcode(c->db));
	return 0;
}

/* One fixed statement (BEGIN, SAVEPOINT, COMMIT, ...), prepared once per connection. */
static int simple(struct sq_conn *c, const char *sql)
{
	sqlite3_stmt *stmt;
	int rc = prepare(c, sql, &stmt);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Records the WAL size after each of the writer's commits. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sq *s = arg;
	(void)db;
	(void)name;
	s->wal_frames = frames;
	return SQLITE_OK;
}

/* ---- writer thread: group commit ---- */

/* One job in a savepoint of its own: a failure rolls back only what it did. */
static void run_job(struct sq *s, struct store_tx *tx, struct sq_job *j)
{
	tx->tenant_id = j->tenant_id;
	tx->flags = j->flags;
	simple(&s->writer, "SAVEPOINT job");
	j->result = j->fn(tx, j->arg);
	if (j->result < 0)
		simple(&s->writer, "ROLLBACK TO job");
	simple(&s->writer, "RELEASE job");
}

/* Jobs flagged STORE_REPLAY run in runs without a savepoint per job (which copies every
   page the job touches): a run that starts the batch has none at all, a later run one
   ("seg"). A job that fails having changed rows rolls its run back (the whole transaction
   for the first run, begun again), and the run is done again up to it with a savepoint per
   job; a job that fails having changed nothing (a refusal) needs nothing undone. */
static void run_batch(struct store *st, struct sq *s, struct sq_job *jobs)
{
	struct store_tx tx = {.st = st, .conn = &s->writer};
	int rc = simple(&s->writer, "BEGIN IMMEDIATE");
	struct sq_job *run = NULL; /* the first job of the open run */
	bool seg = false;	   /* the open run has its savepoint (it did not start the batch) */
	for (struct sq_job *j = jobs; j; j = j->next) {
		if (rc != SQLITE_OK) {
			j->result = map_rc(st, rc & 0xff, rc);
			continue;
		}
		if (!(j->flags & STORE_REPLAY)) {
			if (seg)
				simple(&s->writer, "RELEASE seg");
			run = NULL;
			seg = false;
			run_job(s, &tx, j);
			continue;
		}
		if (!run) {
			if (j != jobs && simple(&s->writer, "SAVEPOINT seg") != SQLITE_OK) {
				run_job(s, &tx, j);
				continue;
			}
			run = j;
			seg = j != jobs;
		}
		tx.tenant_id = j->tenant_id;
		tx.flags = j->flags;
		int64_t before = sqlite3_total_changes64(s->writer.db);
		j->result = j->fn(&tx, j->arg);
		if (j->result >= 0 || sqlite3_total_changes64(s->writer.db) == before)
			continue;
		if (seg) {
			simple(&s->writer, "ROLLBACK TO seg");
			simple(&s->writer, "RELEASE seg");
		} else {
			simple(&s->writer, "ROLLBACK");
			rc = simple(&s->writer, "BEGIN IMMEDIATE");
		}
		for (struct sq_job *k = run;; k = k->next) {
			if (rc == SQLITE_OK)
				run_job(s, &tx, k);
			else
				k->result = map_rc(st, rc & 0xff, rc);
			if (k == j)
				break;
		}
		run = NULL;
		seg = false;
	}
	if (seg)
		simple(&s->writer, "RELEASE seg");
	if (rc != SQLITE_OK)
		return;
	rc = simple(&s->writer, "COMMIT");
	if (rc == SQLITE_OK) {
		/* readers that never pause starve the WAL of a reset and it grows without bound
		   (and so does every lookup in it); past 16 MiB the writer, between batches,
		   restarts it: the checkpointer has already copied nearly all of it back. The
		   file keeps its size, so new frames overwrite blocks instead of allocating. */
		if (s->wal_frames > 4096) {
			sqlite3_wal_checkpoint_v2(s->writer.db, NULL, SQLITE_CHECKPOINT_RESTART,
						  NULL, NULL);
			s->wal_frames = 0;
		}
		return;
	}
	int err = map_rc(st, rc & 0xff, rc);
	simple(&s->writer, "ROLLBACK");
	for (struct sq_job *j = jobs; j; j = j->next)
		if (j->result >= 0)
			j->result = err; /* nothing of the batch was acknowledged */
}

/* The batch is over: its waiting callers wake at once, its completions are handed to the
   completion thread, in queue order. */
static void batch_finished(struct sq *s, struct sq_job *jobs)
{
	struct sq_job *head = NULL, *last = NULL;
	for (struct sq_job *j = jobs, *nx; j; j = nx) {
		nx = j->next; /* j is gone once posted */
		if (!j->done) {
			sem_post(&j->done_sem);
			continue;
		}
		j->next = NULL;
		if (last)
			last->next = j;
		else
			head = j;
		last = j;
	}
	if (!head)
		return;
	pthread_mutex_lock(&s->done_lock);
	if (s->done_tail)
		s->done_tail->next = head;
	else
		s->done_head = head;
	s->done_tail = last;
	pthread_cond_signal(&s->done_wake);
	pthread_mutex_unlock(&s->done_lock);
}

static void *done_main(void *arg)
{
	struct sq *s = arg;
	pthread_setname_np(pthread_self(), "sq-done");
	pthread_mutex_lock(&s->done_lock);
	for (;;) {
		while (!s->done_head && !s->done_stop)
			pthread_cond_wait(&s->done_wake, &s->done_lock);
		struct sq_job *j = s->done_head;
		if (!j)
			break; /* stopping, and nothing left */
		s->done_head = s->done_tail = NULL;
		pthread_mutex_unlock(&s->done_lock);
		for (struct sq_job *nx; j; j = nx) {
			nx = j->next;
			j->done(j->done_arg, j->result);
			mem_free(j);
		}
		pthread_mutex_lock(&s->done_lock);
	}
	pthread_mutex_unlock(&s->done_lock);
	return NULL;
}

static void *writer_main(void *arg)
{
	struct store *st = arg;
	struct sq *s = st->impl;
	pthread_setname_np(pthread_self(), "sq-writer");
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stop)
			pthread_cond_wait(&s->work, &s->lock);
		if (!s->head)
			break;
		struct sq_job *batch = s->head, *last = batch;
		for (int n = 1; last->next && n < BATCH_MAX; n++)
			last = last->next;
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->lock);
		run_batch(st, s, batch);
		batch_finished(s, batch);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Hands job to the writer thread; -EBUSY once the store is closing. */
static int enqueue(struct sq *s, struct sq_job *job)
{
	pthread_mutex_lock(&s->lock);
	if (s->stop) {
		pthread_mutex_unlock(&s->lock);
		return -EBUSY;
	}
	if (s->tail)
		s->tail->next = job;
	else
		s->head = job;
	s->tail = job;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int run_write(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg)
{
	struct sq *s = st->impl;
	if (pthread_equal(pthread_self(), s->thread) ||
	    (s->done_started && pthread_equal(pthread_self(), s->done_thread)))
		return -EDEADLK; /* a write job, or a completion, waiting for a write */
	struct sq_job job = {.tenant_id = tenant_id, .flags = flags, .fn = fn, .arg = arg};
	sem_init(&job.done_sem, 0, 0);
	int r = enqueue(s, &job);
	if (r == 0) {
		while (sem_wait(&job.done_sem) < 0 && errno == EINTR)
			;
		r = job.result;
	}
	sem_destroy(&job.done_sem);
	return r;
}

static int sq_run_async(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn,
			void *arg, store_done_cb *done, void *done_arg)
{
	struct sq_job *job = mem_zalloc(sizeof(*job));
	*job = (struct sq_job){.tenant_id = tenant_id,
			       .flags = flags,
			       .fn = fn,
			       .arg = arg,
			       .done = done,
			       .done_arg = done_arg};
	int r = enqueue(st->impl, job);
	if (r < 0)
		mem_free(job);
	return r;
}

/* Copies the WAL back into the database every 250 ms (PASSIVE: never blocks the writer or
   readers), so commits don't pay for checkpoints. */
static void *ckpt_main(void *arg)
{
	struct sq *s = arg;
	pthread_setname_np(pthread_self(), "sq-checkpoint");
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->ckpt_wake, &s->lock, &ts);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->lock);
		sqlite3_wal_checkpoint_v2(s->ckpt.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- readers ---- */

static int run_read(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg)
{
	struct sq *s = st->impl;
	int i;
	pthread_mutex_lock(&s->rlock);
	for (;;) {
		for (i = 0; i < s->nreaders && s->reader_busy[i]; i++)
			;
		if (i < s->nreaders)
			break;
		if (s->nreaders < READERS && conn_open(s, &s->readers[i], true) == 0) {
			s->nreaders++;
			break;
		}
		if (s->nreaders == 0) {
			pthread_mutex_unlock(&s->rlock);
			return map_rc(st, SQLITE_CANTOPEN, SQLITE_CANTOPEN);
		}
		pthread_cond_wait(&s->rfree, &s->rlock);
	}
	s->reader_busy[i] = true;
	pthread_mutex_unlock(&s->rlock);

	struct store_tx tx = {
	    .st = st, .conn = &s->readers[i], .tenant_id = tenant_id, .flags = flags};
	int r;
	int rc = simple(&s->readers[i], "BEGIN");
	if (rc != SQLITE_OK) {
		r = map_rc(st, rc & 0xff, rc);
	} else {
		r = fn(&tx, arg);
		simple(&s->readers[i], r < 0 ? "ROLLBACK" : "COMMIT");
	}
	pthread_mutex_lock(&s->rlock);
	s->reader_busy[i] = false;
	pthread_cond_signal(&s->rfree);
	pthread_mutex_unlock(&s->rlock);
	return r;
}

static int sq_run(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg)
{
	if (flags & STORE_WRITE)
		return run_write(st, tenant_id, flags, fn, arg);
	return run_read(st, tenant_id, flags, fn, arg);
}

/* ---- lifecycle ---- */

static char *db_path(const struct config *cfg)
{
	const char *url = cfg->database_url;
	if (url && !strncmp(url, "sqlite:", 7))
		return mem_strdup(url + 7);
	mkdir(cfg->data_dir, 0750);
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s/irisx.db", cfg->data_dir);
	return buf_detach(&b);
}

static void sq_close(struct store *st)
{
	struct sq *s = st->impl;
	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->work);
		pthread_cond_signal(&s->ckpt_wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	if (s->done_started) { /* after the writer: every completion it handed over runs */
		pthread_mutex_lock(&s->done_lock);
		s->done_stop = true;
		pthread_cond_signal(&s->done_wake);
		pthread_mutex_unlock(&s->done_lock);
		pthread_join(s->done_thread, NULL);
	}
	if (s->ckpt_started)
		pthread_join(s->ckpt_thread, NULL);
	if (s->ckpt.db)
		sqlite3_wal_checkpoint_v2(s->ckpt.db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
	conn_close(&s->ckpt);
	conn_close(&s->writer);
	for (int i = 0; i < READERS; i++)
		conn_close(&s->readers[i]);
	mem_free(s->path);
	mem_free(s);
	st->impl = NULL;
}

static int sq_open(struct store *st)
{
	struct sq *s = mem_zalloc(sizeof(*s));
	st->impl = s;
	s->path = db_path(st->cfg);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	pthread_cond_init(&s->rfree, NULL);
	pthread_cond_init(&s->ckpt_wake, NULL);
	pthread_mutex_init(&s->done_lock, NULL);
	pthread_cond_init(&s->done_wake, NULL);
	int r = conn_open(s, &s->writer, false);
	if (r == 0)
		sqlite3_wal_hook(s->writer.db, wal_hook, s);
	if (r == 0)
		r = conn_open(s, &s->ckpt, false);
	if (r == 0 && pthread_create(&s->done_thread, NULL, done_main, s) == 0)
		s->done_started = true;
	else
		r = r ? r : -EIO;
	if (r == 0 && pthread_create(&s->thread, NULL, writer_main, st) == 0)
		s->thread_started = true;
	else
		r = r ? r : -EIO;
	if (r == 0 && pthread_create(&s->ckpt_thread, NULL, ckpt_main, s) == 0)
		s->ckpt_started = true;
	else
		r = r ? r : -EIO;
	if (r < 0)
		sq_close(st);
	return r;
}

static int ping_fn(struct store_tx *tx, void *arg)
{
	json_t *rows;
	int r = sq_query(tx, "SELECT 1 AS ok", 0, NULL, &rows);
	json_decref(rows);
	return r;
}

static int sq_ping(struct store *st)
{
	return run_read(st, NULL, STORE_READ, ping_fn, NULL);
}

static int integrity_fn(struct store_tx *tx, void *arg)
{
	json_t *rows;
	int r = sq_query(tx, "PRAGMA integrity_check", 0, NULL, &rows);
	if (r < 0)
		return r;
	const char *v =
	    json_string_value(json_object_get(json_array_get(rows, 0), "integrity_check"));
	r = (json_array_size(rows) == 1 && v && !strcmp(v, "ok")) ? 0 : -EIO;
	json_decref(rows);
	return r;
}

static int sq_integrity(struct store *st)
{
	return run_read(st, NULL, STORE_READ, integrity_fn, NULL);
}

const struct backend store_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .run = sq_run,
    .run_async = sq_run_async,
    .exec = sq_exec,
    .query = sq_query,
    .script = sq_script,
    .ping = sq_ping,
    .integrity = sq_integrity,
};
