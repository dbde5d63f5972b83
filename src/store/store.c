/* store.c: backend selection, migrations runner and the typed statement helpers. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int store_open(const struct config *cfg, struct store **ret)
{
	struct store *st = mem_zalloc(sizeof(*st));
	st->cfg = cfg;
	const char *url = cfg->database_url;
	if (url && (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)))
		st->be = &store_pg_backend;
	else if (!url || !*url || !strncmp(url, "sqlite:", 7))
		st->be = &store_sqlite_backend;
	else {
		mem_free(st);
		return -EINVAL;
	}
	int r = st->be->open(st);
	if (r < 0) {
		mem_free(st);
		return r;
	}
	*ret = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	st->be->close(st);
	mem_free(st);
}

const char *store_backend_name(const struct store *st)
{
	return st->be->name;
}

int store_ping(struct store *st)
{
	return st->be->ping(st);
}

int store_integrity_check(struct store *st)
{
	return st->be->integrity(st);
}

uint64_t store_error_count(const struct store *st)
{
	return atomic_load(&((struct store *)st)->errors);
}

int store_tx(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg)
{
	return st->be->run(st, tenant_id, flags, fn, arg);
}

bool store_writes_queued(const struct store *st)
{
	return st->be->run_async != NULL;
}

int store_tx_async(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg,
		   store_done_cb *done, void *done_arg)
{
	if ((flags & STORE_WRITE) && st->be->run_async)
		return st->be->run_async(st, tenant_id, flags, fn, arg, done, done_arg);
	done(done_arg, st->be->run(st, tenant_id, flags, fn, arg));
	return 0;
}

const char *store_tx_tenant(const struct store_tx *tx)
{
	return tx->tenant_id;
}

/* ---- typed helpers ---- */

static int bind_args(const char *types, va_list ap, struct store_val *v)
{
	size_t n = strlen(types);
	if (n > STORE_MAX_PARAMS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		if (types[i] == 's') {
			const char *s = va_arg(ap, const char *);
			v[i] = (struct store_val){.type = s ? SV_TEXT : SV_NULL, .s = s};
		} else if (types[i] == 'i') {
			v[i] = (struct store_val){.type = SV_INT, .i = va_arg(ap, int64_t)};
		} else {
			return -EINVAL;
		}
	}
	return (int)n;
}

int stx_exec(struct store_tx *tx, const char *sql, const char *types, ...)
{
	struct store_val v[STORE_MAX_PARAMS];
	va_list ap;
	va_start(ap, types);
	int n = bind_args(types, ap, v);
	va_end(ap);
	if (n < 0)
		return n;
	return tx->st->be->exec(tx, sql, (size_t)n, v);
}

static int vquery(struct store_tx *tx, json_t **ret, const char *sql, const char *types, va_list ap)
{
	struct store_val v[STORE_MAX_PARAMS];
	int n = bind_args(types, ap, v);
	if (n < 0)
		return n;
	return tx->st->be->query(tx, sql, (size_t)n, v, ret);
}

int stx_query(struct store_tx *tx, json_t **ret, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	int r = vquery(tx, ret, sql, types, ap);
	va_end(ap);
	return r;
}

int stx_query_one(struct store_tx *tx, json_t **ret, const char *sql, const char *types, ...)
{
	json_t *rows;
	va_list ap;
	va_start(ap, types);
	int r = vquery(tx, &rows, sql, types, ap);
	va_end(ap);
	if (r < 0)
		return r;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return -ENOENT;
	}
	*ret = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return 0;
}

/* ---- migrations ---- */

struct migrate_ctx {
	int applied;
	int db_version;
};

static int current_version(struct store_tx *tx, int *ret)
{
	json_t *row;
	int r = stx_query_one(tx, &row,
			      "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations", "");
	if (r < 0)
		return r;
	*ret = (int)json_integer_value(json_object_get(row, "v"));
	json_decref(row);
	return 0;
}

static int migrate_fn(struct store_tx *tx, void *arg)
{
	struct migrate_ctx *mc = arg;
	int r = tx->st->be->script(tx, "CREATE TABLE IF NOT EXISTS schema_migrations ("
				       "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
				       "applied_us BIGINT NOT NULL)");
	if (r < 0)
		return r;
	int have;
	r = current_version(tx, &have);
	if (r < 0)
		return r;
	bool pg = tx->st->be == &store_pg_backend;
	for (size_t i = 0; i < store_migrations_len; i++) {
		const struct migration *m = &store_migrations[i];
		if (m->version <= have)
			continue;
		const char *extra = pg ? m->pg : m->sqlite;
		if (!m->common)
			return -EINVAL;
		if ((r = tx->st->be->script(tx, m->common)) < 0 ||
		    (extra && (r = tx->st->be->script(tx, extra)) < 0))
			return r;
		r = stx_exec(
		    tx,
		    "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)",
		    "isi", (int64_t)m->version, m->name, (int64_t)time_now_us());
		if (r < 0)
			return r;
		mc->applied++;
		have = m->version;
	}
	mc->db_version = have;
	return 0;
}

int store_migrate(struct store *st, int *ret_applied)
{
	struct migrate_ctx mc = {0};
	int r = store_tx(st, NULL, STORE_WRITE | STORE_MIGRATE, migrate_fn, &mc);
	if (r < 0)
		return r;
	if (ret_applied)
		*ret_applied = mc.applied;
	return 0;
}

static int version_fn(struct store_tx *tx, void *arg)
{
	return current_version(tx, arg);
}

int store_schema_version(struct store *st, int *ret_binary, int *ret_db)
{
	*ret_binary = store_migrations_len ? store_migrations[store_migrations_len - 1].version : 0;
	*ret_db = 0;
	int r = store_tx(st, NULL, STORE_READ, version_fn, ret_db);
	return r == -ENOENT || r == -EIO ? 0 : r;
}

/* ---- UPDATE builder (internal.h) ---- */

void sql_upd_begin(struct sql_upd *u, const char *table)
{
	buf_init(&u->sql, 0);
	buf_puts(&u->sql, "UPDATE ");
	buf_puts(&u->sql, table);
	buf_puts(&u->sql, " SET updated_us = ?");
	u->v[0] = (struct store_val){SV_INT, NULL, store_now()};
	u->n = 1;
}

void sql_upd_set(struct sql_upd *u, const char *col, struct store_val val)
{
	if (u->n >= STORE_MAX_PARAMS - 3)
		return;
	buf_puts(&u->sql, ", ");
	buf_puts(&u->sql, col);
	buf_puts(&u->sql, " = ?");
	u->v[u->n++] = val;
}

void sql_upd_text(struct sql_upd *u, const char *col, const char *val, bool empty_is_null)
{
	if (val)
		sql_upd_set(u, col,
			    (struct store_val){empty_is_null && !*val ? SV_NULL : SV_TEXT, val, 0});
}

void sql_upd_int(struct sql_upd *u, const char *col, int64_t val, bool set)
{
	if (set)
		sql_upd_set(u, col, (struct store_val){SV_INT, NULL, val});
}

size_t stmt_slot(struct stmt_lru *c, const char *sql, bool *hit)
{
	size_t h = 5381;
	for (const char *p = sql; *p; p++)
		h = h * 33 + (unsigned char)*p;
	h %= STMT_SLOTS;
	size_t victim = h;
	c->tick++;
	*hit = false;
	for (size_t w = 0; w < STMT_WAYS; w++) {
		size_t i = (h + w) % STMT_SLOTS;
		if (!c->sql[i]) {
			victim = i;
			break;
		}
		if (!strcmp(c->sql[i], sql)) {
			c->used[i] = c->tick;
			*hit = true;
			return i;
		}
		if (c->used[i] < c->used[victim])
			victim = i;
	}
	c->used[victim] = c->tick;
	return victim;
}
