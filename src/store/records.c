/* records.c: tenants, users, API keys and list paging: the SQL of the identity resources. */
#include <string.h>

#include "internal.h"

#define TENANT_COLS                                                                                \
	"id, name, status, platform, api_rps, api_burst, key_rps, key_burst, "                     \
	"created_us, updated_us"
#define USER_COLS "id, tenant_id, email, name, role, status, email_verified, created_us, updated_us"
#define KEY_COLS "id, tenant_id, name, prefix, role, created_by, created_us, revoked_us"

int store_list_page(struct store_tx *tx, json_t **ret, const char *base, size_t nparams,
		    const struct store_val *params, const char *cursor, int limit)
{
	struct store_val v[STORE_MAX_PARAMS];
	if (nparams + 2 > STORE_MAX_PARAMS)
		return -E2BIG;
	if (nparams)
		memcpy(v, params, nparams * sizeof(*v));
	struct buf sql;
	buf_init(&sql, 0);
	buf_puts(&sql, base);
	if (cursor) {
		buf_puts(&sql, " AND id < ?");
		v[nparams++] = (struct store_val){.type = SV_TEXT, .s = cursor};
	}
	buf_puts(&sql, " ORDER BY id DESC LIMIT ?");
	v[nparams++] = (struct store_val){.type = SV_INT, .i = limit + 1};
	int r = tx->st->be->query(tx, sql.p, nparams, v, ret);
	buf_free(&sql);
	return r;
}

static int list_tenant_scoped(struct store_tx *tx, json_t **ret, const char *base,
			      const char *tenant_id, const char *cursor, int limit)
{
	struct store_val p = {.type = SV_TEXT, .s = tenant_id};
	return store_list_page(tx, ret, base, 1, &p, cursor, limit);
}

/* ---- tenants ---- */

int store_tenant_insert(struct store_tx *tx, const char *id, const char *name, bool platform)
{
	int64_t now = (int64_t)time_now_us();
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO tenants (id, name, platform, created_us, updated_us) "
		     "VALUES (?, ?, ?, ?, ?)",
		     "ssiii", id, name, (int64_t)platform, now, now));
}

int store_tenant_get(struct store_tx *tx, const char *id, json_t **ret)
{
	return stx_query_one(tx, ret, "SELECT " TENANT_COLS " FROM tenants WHERE id = ?", "s", id);
}

int store_tenant_list(struct store_tx *tx, const char *cursor, int limit, json_t **ret)
{
	return store_list_page(tx, ret, "SELECT " TENANT_COLS " FROM tenants WHERE 1 = 1", 0, NULL,
			       cursor, limit);
}

int store_tenant_update_name(struct store_tx *tx, const char *id, const char *name)
{
	return store_changed(stx_exec(tx,
				      "UPDATE tenants SET name = ?, updated_us = ? WHERE id = ?",
				      "sis", name, (int64_t)time_now_us(), id));
}

int store_tenant_set_status(struct store_tx *tx, const char *id, const char *status)
{
	return store_changed(stx_exec(tx,
				      "UPDATE tenants SET status = ?, updated_us = ? WHERE id = ?",
				      "sis", status, (int64_t)time_now_us(), id));
}

int store_tenant_set_limits(struct store_tx *tx, const char *id, const json_t *l)
{
	return store_changed(stx_exec(tx,
				      "UPDATE tenants SET api_rps = ?, api_burst = ?, key_rps = ?, "
				      "key_burst = ?, updated_us = ? WHERE id = ?",
				      "iiiiis", json_int(l, "tenant_rps", 0),
				      json_int(l, "tenant_burst", 0), json_int(l, "key_rps", 0),
				      json_int(l, "key_burst", 0), (int64_t)time_now_us(), id));
}

int store_tenant_delete(struct store_tx *tx, const char *id)
{
	return store_changed(
	    stx_exec(tx, "DELETE FROM tenants WHERE id = ? AND platform = 0", "s", id));
}

int store_platform_tenant(struct store_tx *tx, json_t **ret)
{
	return stx_query_one(
	    tx, ret, "SELECT " TENANT_COLS " FROM tenants WHERE platform = 1 ORDER BY id LIMIT 1",
	    "");
}

/* ---- users ---- */

int store_user_insert(struct store_tx *tx, const char *tenant_id, const char *id, const char *email,
		      const char *name, const char *pw_hash, const char *role, const char *status)
{
	int64_t now = (int64_t)time_now_us();
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO users (id, tenant_id, email, name, password_hash, role, "
		     "status, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		     "sssssssii", id, tenant_id, email, name, pw_hash, role, status, now, now));
}

int store_user_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	return stx_query_one(tx, ret,
			     "SELECT " USER_COLS
			     ", password_hash FROM users WHERE tenant_id = ? AND "
			     "id = ?",
			     "ss", tenant_id, id);
}

int store_user_by_email(struct store_tx *tx, const char *email, json_t **ret)
{
	return stx_query_one(
	    tx, ret, "SELECT " USER_COLS ", password_hash FROM users WHERE email = ?", "s", email);
}

int store_user_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
		    json_t **ret)
{
	return list_tenant_scoped(tx, ret, "SELECT " USER_COLS " FROM users WHERE tenant_id = ?",
				  tenant_id, cursor, limit);
}

int store_user_update(struct store_tx *tx, const char *tenant_id, const char *id, const char *role,
		      const char *status, const char *name)
{
	return store_changed(stx_exec(tx,
				      "UPDATE users SET role = COALESCE(?, role), "
				      "status = COALESCE(?, status), name = COALESCE(?, name), "
				      "updated_us = ? WHERE tenant_id = ? AND id = ?",
				      "sssiss", role, status, name, (int64_t)time_now_us(),
				      tenant_id, id));
}

int store_user_set_password(struct store_tx *tx, const char *tenant_id, const char *id,
			    const char *pw_hash)
{
	return store_changed(
	    stx_exec(tx,
		     "UPDATE users SET password_hash = ?, status = CASE WHEN "
		     "status = 'invited' THEN 'active' ELSE status END, updated_us = ? "
		     "WHERE tenant_id = ? AND id = ?",
		     "siss", pw_hash, (int64_t)time_now_us(), tenant_id, id));
}

int store_user_set_verified(struct store_tx *tx, const char *tenant_id, const char *id)
{
	return store_changed(stx_exec(tx,
				      "UPDATE users SET email_verified = 1, updated_us = ? "
				      "WHERE tenant_id = ? AND id = ?",
				      "iss", (int64_t)time_now_us(), tenant_id, id));
}

int store_user_count_role(struct store_tx *tx, const char *tenant_id, const char *role, int *ret)
{
	json_t *row;
	int r = stx_query_one(tx, &row,
			      "SELECT COUNT(*) AS n FROM users WHERE tenant_id = ? AND "
			      "role = ? AND status = 'active'",
			      "ss", tenant_id, role);
	if (r < 0)
		return r;
	*ret = (int)json_integer_value(json_object_get(row, "n"));
	json_decref(row);
	return 0;
}

/* ---- API keys ---- */

int store_apikey_insert(struct store_tx *tx, const char *tenant_id, const char *id,
			const char *name, const char *prefix, const char *hash, const char *role,
			const char *created_by)
{
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, role, "
		     "created_by, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		     "sssssssi", id, tenant_id, name, prefix, hash, role, created_by,
		     (int64_t)time_now_us()));
}

int store_apikey_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	return stx_query_one(tx, ret,
			     "SELECT " KEY_COLS " FROM api_keys WHERE tenant_id = ? AND id = ?",
			     "ss", tenant_id, id);
}

int store_apikey_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
		      json_t **ret)
{
	return list_tenant_scoped(tx, ret, "SELECT " KEY_COLS " FROM api_keys WHERE tenant_id = ?",
				  tenant_id, cursor, limit);
}

int store_apikey_revoke(struct store_tx *tx, const char *tenant_id, const char *id)
{
	return store_changed(stx_exec(tx,
				      "UPDATE api_keys SET revoked_us = ? WHERE tenant_id = ? AND "
				      "id = ? AND revoked_us IS NULL",
				      "iss", (int64_t)time_now_us(), tenant_id, id));
}

int store_apikey_by_hash(struct store_tx *tx, const char *hash, json_t **ret)
{
	return stx_query_one(
	    tx, ret,
	    "SELECT k.id, k.tenant_id, k.hash, k.role, k.revoked_us, t.status AS "
	    "tenant_status, t.api_rps, t.api_burst, t.key_rps, t.key_burst "
	    "FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.hash = ?",
	    "s", hash);
}

int store_tenant_principal(struct store_tx *tx, const char *tenant_id, json_t **ret)
{
	return stx_query_one(tx, ret,
			     "SELECT id, auth_token, status AS tenant_status, api_rps, api_burst, "
			     "key_rps, key_burst FROM tenants WHERE id = ?",
			     "s", tenant_id);
}
