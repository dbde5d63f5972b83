/* misc.c: e-mail outbox, idempotency records, audit log and JWT signing keys. */
#include <string.h>

#include "internal.h"

int store_outbox_insert(struct store_tx *tx, const char *tenant_id, const char *to,
			const char *kind, const char *subject, const char *body)
{
	char id[ID_LEN + 1];
	id_new("EM", id);
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO email_outbox (id, tenant_id, to_addr, kind, subject, body, "
		     "created_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
		     "ssssssi", id, tenant_id, to, kind, subject, body, (int64_t)time_now_us()));
}

int store_outbox_list(struct store_tx *tx, const char *cursor, int limit, json_t **ret)
{
	return store_list_page(tx, ret,
			       "SELECT id, tenant_id, to_addr, kind, subject, body, status, "
			       "created_us FROM email_outbox WHERE 1 = 1",
			       0, NULL, cursor, limit);
}

int store_idem_get(struct store_tx *tx, const char *tenant_id, const char *key, json_t **ret)
{
	return stx_query_one(tx, ret,
			     "SELECT request_hash, status, body FROM idempotency_keys WHERE "
			     "tenant_id = ? AND key = ?",
			     "ss", tenant_id, key);
}

int store_idem_put(struct store_tx *tx, const char *tenant_id, const char *key,
		   const char *request_hash, int status, const char *body)
{
	return insert_done(stx_exec(
	    tx,
	    "INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, "
	    "body, created_us) VALUES (?, ?, ?, ?, ?, ?)",
	    "sssisi", tenant_id, key, request_hash, (int64_t)status, body, (int64_t)time_now_us()));
}

int store_audit_insert(struct store_tx *tx, const struct audit_entry *e)
{
	char id[ID_LEN + 1];
	id_new("AL", id);
	return insert_done(stx_exec(
	    tx,
	    "INSERT INTO audit_logs (id, tenant_id, actor_id, actor_type, action, "
	    "resource_id, ip, request_id, status, outcome, created_us) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    "ssssssssisi", id, e->tenant_id, e->actor_id, e->actor_type, e->action, e->resource_id,
	    e->ip, e->request_id, (int64_t)e->status, e->outcome, (int64_t)time_now_us()));
}

static void add_cond(struct buf *sql, struct store_val *v, size_t *n, const char *cond,
		     const char *s)
{
	if (!s)
		return;
	buf_puts(sql, cond);
	v[(*n)++] = (struct store_val){.type = SV_TEXT, .s = s};
}

int store_audit_list(struct store_tx *tx, const char *tenant_id, const struct audit_filter *f,
		     json_t **ret)
{
	struct store_val v[STORE_MAX_PARAMS];
	size_t n = 0;
	struct buf sql;
	buf_init(&sql, 0);
	buf_puts(&sql, "SELECT id, tenant_id, actor_id, actor_type, action, resource_id, ip, "
		       "request_id, status, outcome, created_us FROM audit_logs WHERE ");
	if (tenant_id) {
		buf_puts(&sql, "tenant_id = ?");
		v[n++] = (struct store_val){.type = SV_TEXT, .s = tenant_id};
	} else {
		buf_puts(&sql, "1 = 1");
	}
	add_cond(&sql, v, &n, " AND actor_id = ?", f->actor_id);
	add_cond(&sql, v, &n, " AND action = ?", f->action);
	add_cond(&sql, v, &n, " AND resource_id = ?", f->resource_id);
	add_cond(&sql, v, &n, " AND outcome = ?", f->outcome);
	if (f->since_us) {
		buf_puts(&sql, " AND created_us >= ?");
		v[n++] = (struct store_val){.type = SV_INT, .i = (int64_t)f->since_us};
	}
	if (f->until_us) {
		buf_puts(&sql, " AND created_us < ?");
		v[n++] = (struct store_val){.type = SV_INT, .i = (int64_t)f->until_us};
	}
	int r = store_list_page(tx, ret, sql.p, n, v, f->cursor, f->limit);
	buf_free(&sql);
	return r;
}

int store_jwt_keys(struct store_tx *tx, json_t **ret)
{
	return stx_query(tx, ret,
			 "SELECT kid, secret, created_us FROM jwt_keys WHERE retired_us IS NULL "
			 "ORDER BY created_us DESC",
			 "");
}

int store_jwt_key_insert(struct store_tx *tx, const char *kid, const char *secret_hex)
{
	return insert_done(
	    stx_exec(tx, "INSERT INTO jwt_keys (kid, secret, created_us) VALUES (?, ?, ?)", "ssi",
		     kid, secret_hex, (int64_t)time_now_us()));
}
