/* internal.h: the contract between store.c and its backends (sqlite.c, pg.c). Private. */
#ifndef IRISX_STORE_INTERNAL_H
#define IRISX_STORE_INTERNAL_H

#include <stdatomic.h>

#include "store.h"

enum sv_type { SV_NULL, SV_TEXT, SV_INT };
struct store_val {
	enum sv_type type;
	const char *s;
	int64_t i;
};
#define STORE_MAX_PARAMS 32

/* ---- helpers of the record files ---- */
static inline int64_t store_now(void)
{
	return (int64_t)time_now_us();
}
/* An UPDATE or DELETE of one row: 0 if it changed one, -ENOENT if none matched, else r. */
static inline int store_changed(int r)
{
	return r < 0 ? r : (r == 0 ? -ENOENT : 0);
}
static inline struct store_val sv_text_or_null(const char *s)
{
	return (struct store_val){s ? SV_TEXT : SV_NULL, s, 0};
}

/* The backends' prepared-statement caches: STMT_SLOTS slots keyed by the SQL text, a
   statement living in one of the STMT_WAYS slots after its hash, so the dozens of
   statements a busy connection runs do not evict each other (a miss costs a parse, and on
   PostgreSQL a round trip). stmt_slot returns the slot holding sql (*hit true), else the
   one to fill: a free one, or the least recently used of the ways (its old statement is the
   caller's to drop). sqls[i] NULL: free; used[i]: the tick of the last use. */
#define STMT_SLOTS 512
#define STMT_WAYS 8
struct stmt_lru {
	char *sql[STMT_SLOTS];
	uint64_t used[STMT_SLOTS];
	uint64_t tick;
};
size_t stmt_slot(struct stmt_lru *c, const char *sql, bool *hit);

/* An UPDATE being built from the fields a change carries: "UPDATE <table> SET updated_us = ?"
   then ", col = ?" per value given; room for 3 more parameters is kept for the caller's
   WHERE, which it appends to sql before running it with v[0..n). */
struct sql_upd {
	struct buf sql;
	struct store_val v[STORE_MAX_PARAMS];
	size_t n;
};
void sql_upd_begin(struct sql_upd *u, const char *table);
void sql_upd_set(struct sql_upd *u, const char *col, struct store_val val);
/* NULL val: the column is left; empty_is_null: "" stores NULL */
void sql_upd_text(struct sql_upd *u, const char *col, const char *val, bool empty_is_null);
/* set false: the column is left */
void sql_upd_int(struct sql_upd *u, const char *col, int64_t val, bool set);

struct backend {
	const char *name;
	int (*open)(struct store *st);
	void (*close)(struct store *st);
	/* Begin a transaction (scoped to tenant_id; see store_tx), run fn, commit if fn >= 0. */
	int (*run)(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg);
	/* Optional: queues a write transaction and calls done once it is over (store_tx_async).
	   NULL: store.c runs it with run and calls done at once. */
	int (*run_async)(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn,
			 void *arg, store_done_cb *done, void *done_arg);
	/* One statement with '?' placeholders; returns rows changed, or -EEXIST on a unique or
	   primary-key violation, -EIO on other errors. */
	int (*exec)(struct store_tx *tx, const char *sql, size_t n, const struct store_val *v);
	/* Like exec; *ret is a json array of row objects (INTEGER/BIGINT columns as json
	   integers, NULL as json null, everything else as strings). */
	int (*query)(struct store_tx *tx, const char *sql, size_t n, const struct store_val *v,
		     json_t **ret);
	/* Several statements, no parameters (migrations). */
	int (*script)(struct store_tx *tx, const char *sql);
	int (*ping)(struct store *st);
	int (*integrity)(struct store *st);
};

struct store {
	const struct backend *be;
	const struct config *cfg;
	void *impl;
	atomic_ulong errors;
};

struct store_tx {
	struct store *st;
	void *conn;
	const char *tenant_id;
	int flags;
};

extern const struct backend store_sqlite_backend;
extern const struct backend store_pg_backend;

/* Compiled-in migrations (generated from src/store/migrations/ by CMake). */
struct migration {
	int version;
	const char *name;
	const char *common; /* both backends */
	const char *sqlite; /* may be NULL */
	const char *pg;	    /* may be NULL */
};
extern const struct migration store_migrations[];
extern const size_t store_migrations_len;

/* Typed statement helpers over the backend: types is a string of 's' (const char *, NULL
   binds NULL) and 'i' (int64_t) matching the variadic arguments. */
int stx_exec(struct store_tx *tx, const char *sql, const char *types, ...);
int stx_query(struct store_tx *tx, json_t **ret, const char *sql, const char *types, ...);
/* Like stx_query but expects one row: -ENOENT if none, *ret is that row object. */
int stx_query_one(struct store_tx *tx, json_t **ret, const char *sql, const char *types, ...);

/* An INSERT's result as the API reports it: 0 or a negative errno (not a row count). */
static inline int insert_done(int r)
{
	return r < 0 ? r : 0;
}

/* Newest-first page: base is "SELECT ... FROM t WHERE <conditions>" with nparams params;
   adds the cursor condition (id < cursor) and LIMIT limit+1 so callers see a next page. */
int store_list_page(struct store_tx *tx, json_t **ret, const char *base, size_t nparams,
		    const struct store_val *params, const char *cursor, int limit);

#endif
