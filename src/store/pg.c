/* pg.c: PostgreSQL backend (libpq). A connection pool; each transaction sets app.tenant_id
   and app.scope for the row-level-security policies; migrations run on the owner role's
   connection under an advisory lock. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A connection and the statements prepared on it (named s<slot>, keyed by SQL text). */
struct pgc {
	PGconn *c;
	struct stmt_lru cache; /* statement i is prepared as s<i> */
};

struct pg {
	pthread_mutex_t lock;
	pthread_cond_t free_cond;
	int n;
	struct pgc *conns;
	bool *busy;
	struct pgc migrate;
	pthread_mutex_t mlock;
};

static void forget_statements(struct pgc *pc)
{
	for (int i = 0; i < STMT_SLOTS; i++) {
		mem_free(pc->cache.sql[i]);
		pc->cache.sql[i] = NULL;
	}
}

static void pgc_close(struct pgc *pc)
{
	PQfinish(pc->c);
	pc->c = NULL;
	forget_statements(pc);
}

static PGconn *connect_url(const char *url)
{
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	PQsetClientEncoding(c, "UTF8");
	PGresult *r = PQexec(c, "SET synchronous_commit = on");
	PQclear(r);
	return c;
}

static int pg_open(struct store *st)
{
	struct pg *p = mem_zalloc(sizeof(*p));
	p->n = st->cfg->database_pool;
	p->conns = mem_zalloc((size_t)p->n * sizeof(*p->conns));
	p->busy = mem_zalloc((size_t)p->n * sizeof(*p->busy));
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->mlock, NULL);
	pthread_cond_init(&p->free_cond, NULL);
	st->impl = p;
	p->conns[0].c = connect_url(st->cfg->database_url); /* fail fast on a bad URL */
	if (!p->conns[0].c) {
		mem_free(p->conns);
		mem_free(p->busy);
		mem_free(p);
		st->impl = NULL;
		return -ECONNREFUSED;
	}
	return 0;
}

static void pg_close(struct store *st)
{
	struct pg *p = st->impl;
	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		pgc_close(&p->conns[i]);
	pgc_close(&p->migrate);
	mem_free(p->conns);
	mem_free(p->busy);
	mem_free(p);
	st->impl = NULL;
}

/* Takes a pooled connection (connecting lazily, resetting a broken one). */
static int acquire(struct store *st, int *ret_i)
{
	struct pg *p = st->impl;
	int i;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		for (i = 0; i < p->n && p->busy[i]; i++)
			;
		if (i < p->n)
			break;
		pthread_cond_wait(&p->free_cond, &p->lock);
	}
	p->busy[i] = true;
	pthread_mutex_unlock(&p->lock);
	struct pgc *pc = &p->conns[i];
	if (!pc->c) {
		pc->c = connect_url(st->cfg->database_url);
	} else if (PQstatus(pc->c) != CONNECTION_OK) {
		PQreset(pc->c); /* a new session: its prepared statements are gone */
		forget_statements(pc);
	}
	if (!pc->c || PQstatus(pc->c) != CONNECTION_OK) {
		atomic_fetch_add(&st->errors, 1);
		pthread_mutex_lock(&p->lock);
		p->busy[i] = false;
		pthread_cond_signal(&p->free_cond);
		pthread_mutex_unlock(&p->lock);
		return -EBUSY;
	}
	*ret_i = i;
	return 0;
}

static void release(struct store *st, int i)
{
	struct pg *p = st->impl;
	pthread_mutex_lock(&p->lock);
	p->busy[i] = false;
	pthread_cond_signal(&p->free_cond);
	pthread_mutex_unlock(&p->lock);
}

static int map_result(struct store *st, PGconn *c, PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return 0;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && !strcmp(state, "23505"))
		return -EEXIST;
	if (state && !strcmp(state, "23503"))
		return -ENOENT;
	atomic_fetch_add(&st->errors, 1);
	if (PQstatus(c) != CONNECTION_OK || (state && !strncmp(state, "08", 2)))
		return -EBUSY;
	return -EIO;
}

static int simple(struct store *st, PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int r = map_result(st, c, res);
	PQclear(res);
	return r;
}

/* BEGIN and the row-level-security scope in one round trip. */
static int begin_scoped(struct store *st, PGconn *c, const char *tenant_id, int flags)
{
	const char *t = tenant_id ? tenant_id : "";
	char *lit = PQescapeLiteral(c, t, strlen(t));
	if (!lit)
		return -EIO;
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b,
		   "BEGIN; SELECT set_config('app.tenant_id', %s, true), "
		   "set_config('app.scope', '%s', true)%s",
		   lit, tenant_id ? "tenant" : "system",
		   (flags & STORE_MIGRATE) ? "; SELECT pg_advisory_xact_lock(7274790001)" : "");
	PQfreemem(lit);
	int r = 0;
	if (!PQsendQuery(c, b.p)) {
		r = -EBUSY;
	} else {
		PGresult *res;
		while ((res = PQgetResult(c)) != NULL) {
			int rr = map_result(st, c, res);
			if (r == 0)
				r = rr;
			PQclear(res);
		}
	}
	buf_free(&b);
	return r;
}

static int run_on(struct store *st, struct pgc *pc, const char *tenant_id, int flags,
		  store_tx_fn *fn, void *arg)
{
	PGconn *c = pc->c;
	int r = begin_scoped(st, c, tenant_id, flags);
	if (r < 0) {
		simple(st, c, "ROLLBACK");
		return r;
	}
	struct store_tx tx = {.st = st, .conn = pc, .tenant_id = tenant_id, .flags = flags};
	r = fn(&tx, arg);
	if (r < 0) {
		simple(st, c, "ROLLBACK");
		return r;
	}
	int cr = simple(st, c, "COMMIT");
	return cr < 0 ? cr : r;
}

static int pg_run(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg)
{
	struct pg *p = st->impl;
	if (flags & STORE_MIGRATE) {
		const char *url = st->cfg->database_migrate_url && *st->cfg->database_migrate_url
				      ? st->cfg->database_migrate_url
				      : st->cfg->database_url;
		pthread_mutex_lock(&p->mlock);
		if (!p->migrate.c)
			p->migrate.c = connect_url(url);
		int r = p->migrate.c ? run_on(st, &p->migrate, tenant_id, flags, fn, arg) : -EBUSY;
		pthread_mutex_unlock(&p->mlock);
		return r;
	}
	int i, r = acquire(st, &i);
	if (r < 0)
		return r;
	r = run_on(st, &p->conns[i], tenant_id, flags, fn, arg);
	release(st, i);
	return r;
}

/* '?' placeholders (outside single-quoted literals) become $1..$n. */
static char *number_params(const char *sql)
{
	struct buf b;
	buf_init(&b, 0);
	bool quoted = false;
	int n = 0;
	for (const char *s = sql; *s; s++) {
		if (*s == '\'')
			quoted = !quoted;
		if (*s == '?' && !quoted)
			buf_printf(&b, "$%d", ++n);
		else
			buf_append(&b, s, 1);
	}
	return buf_detach(&b);
}

static PGresult *exec_params(struct store_tx *tx, const char *sql, size_t n,
			     const struct store_val *v)
{
	char ints[STORE_MAX_PARAMS][24];
	const char *vals[STORE_MAX_PARAMS];
	for (size_t i = 0; i < n && i < STORE_MAX_PARAMS; i++) {
		if (v[i].type == SV_INT) {
			snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)v[i].i);
			vals[i] = ints[i];
		} else {
			vals[i] = v[i].type == SV_TEXT ? v[i].s : NULL;
		}
	}
	struct pgc *pc = tx->conn;
	bool hit;
	size_t h = stmt_slot(&pc->cache, sql, &hit);
	char name[16];
	snprintf(name, sizeof(name), "s%zu", h);
	if (!hit) {
		/* prepared once per connection: PostgreSQL parses and plans it only then */
		if (pc->cache.sql[h]) {
			char dealloc[40];
			snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", name);
			PQclear(PQexec(pc->c, dealloc));
			mem_free(pc->cache.sql[h]);
			pc->cache.sql[h] = NULL;
		}
		char *q = number_params(sql);
		PGresult *prep = PQprepare(pc->c, name, q, (int)n, NULL);
		mem_free(q);
		if (PQresultStatus(prep) != PGRES_COMMAND_OK)
			return prep; /* the caller maps the error */
		PQclear(prep);
		pc->cache.sql[h] = mem_strdup(sql);
	}
	return PQexecPrepared(pc->c, name, (int)n, vals, NULL, NULL, 0);
}

static int pg_exec(struct store_tx *tx, const char *sql, size_t n, const struct store_val *v)
{
	PGresult *res = exec_params(tx, sql, n, v);
	int r = map_result(tx->st, ((struct pgc *)tx->conn)->c, res);
	if (r == 0)
		r = atoi(PQcmdTuples(res));
	PQclear(res);
	return r;
}

static json_t *cell(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	const char *s = PQgetvalue(res, row, col);
	switch (PQftype(res, col)) {
	case 20: /* int8 */
	case 21: /* int2 */
	case 23: /* int4 */
		return json_integer(strtoll(s, NULL, 10));
	case 16: /* bool */
		return json_boolean(s[0] == 't');
	default: {
		json_t *j = json_string(s);
		return j ? j : json_null();
	}
	}
}

static int pg_query(struct store_tx *tx, const char *sql, size_t n, const struct store_val *v,
		    json_t **ret)
{
	PGresult *res = exec_params(tx, sql, n, v);
	int r = map_result(tx->st, ((struct pgc *)tx->conn)->c, res);
	if (r < 0) {
		PQclear(res);
		return r;
	}
	json_t *rows = json_array();
	int nr = PQntuples(res), nf = PQnfields(res);
	for (int i = 0; i < nr; i++) {
		json_t *o = json_object();
		for (int c = 0; c < nf; c++)
			json_object_set_new(o, PQfname(res, c), cell(res, i, c));
		json_array_append_new(rows, o);
	}
	PQclear(res);
	*ret = rows;
	return 0;
}

/* Migration scripts name the application role as :app_role; with none configured the
   lines that mention it are dropped. */
static char *with_app_role(struct store_tx *tx, const char *sql)
{
	const char *role = tx->st->cfg->database_app_role;
	char *quoted = NULL;
	if (role && *role)
		quoted = PQescapeIdentifier(((struct pgc *)tx->conn)->c, role, strlen(role));
	struct buf b;
	buf_init(&b, 0);
	for (const char *line = sql; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line + 1) : strlen(line);
		const char *tok = memmem(line, len, ":app_role", 9);
		if (!tok) {
			buf_append(&b, line, len);
		} else if (quoted) {
			buf_append(&b, line, (size_t)(tok - line));
			buf_puts(&b, quoted);
			buf_append(&b, tok + 9, len - (size_t)(tok - line) - 9);
		}
		line += len;
	}
	PQfreemem(quoted);
	return buf_detach(&b);
}

static int pg_script(struct store_tx *tx, const char *sql)
{
	char *s = with_app_role(tx, sql);
	int r = simple(tx->st, ((struct pgc *)tx->conn)->c, s);
	mem_free(s);
	return r;
}

static int ping_fn(struct store_tx *tx, void *arg)
{
	(void)arg;
	return simple(tx->st, ((struct pgc *)tx->conn)->c, "SELECT 1");
}

static int pg_ping(struct store *st)
{
	return pg_run(st, NULL, STORE_READ, ping_fn, NULL);
}

static int integrity_fn(struct store_tx *tx, void *arg)
{
	(void)arg;
	return simple(tx->st, ((struct pgc *)tx->conn)->c,
		      "SELECT count(*) FROM schema_migrations");
}

static int pg_integrity(struct store *st)
{
	return pg_run(st, NULL, STORE_READ, integrity_fn, NULL);
}

const struct backend store_pg_backend = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .run = pg_run,
    .exec = pg_exec,
    .query = pg_query,
    .script = pg_script,
    .ping = pg_ping,
    .integrity = pg_integrity,
};
