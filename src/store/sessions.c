/* sessions.c: refresh-token families, one-time tokens, the principal lookup behind access
   tokens. */
#include "internal.h"

int store_session_insert(struct store_tx *tx, const char *tenant_id, const char *id,
			 const char *user_id, uint64_t expires_us)
{
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO sessions (id, tenant_id, user_id, created_us, expires_us) "
		     "VALUES (?, ?, ?, ?, ?)",
		     "sssii", id, tenant_id, user_id, (int64_t)time_now_us(), (int64_t)expires_us));
}

int store_session_revoke(struct store_tx *tx, const char *tenant_id, const char *id)
{
	int r = stx_exec(tx,
			 "UPDATE sessions SET revoked_us = ? WHERE tenant_id = ? AND id = ? "
			 "AND revoked_us IS NULL",
			 "iss", (int64_t)time_now_us(), tenant_id, id);
	return r < 0 ? r : 0;
}

int store_session_revoke_user(struct store_tx *tx, const char *tenant_id, const char *user_id,
			      const char *except_id)
{
	int r = stx_exec(tx,
			 "UPDATE sessions SET revoked_us = ? WHERE tenant_id = ? AND "
			 "user_id = ? AND id <> ? AND revoked_us IS NULL",
			 "isss", (int64_t)time_now_us(), tenant_id, user_id,
			 except_id ? except_id : "");
	return r < 0 ? r : 0;
}

int store_refresh_insert(struct store_tx *tx, const char *tenant_id, const char *hash,
			 const char *session_id)
{
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO refresh_tokens (hash, tenant_id, session_id, created_us) "
		     "VALUES (?, ?, ?, ?)",
		     "sssi", hash, tenant_id, session_id, (int64_t)time_now_us()));
}

int store_refresh_get(struct store_tx *tx, const char *hash, json_t **ret)
{
	return stx_query_one(
	    tx, ret,
	    "SELECT r.hash, r.tenant_id, r.session_id, r.used_us, s.user_id, "
	    "s.expires_us, s.revoked_us, u.role, u.status AS user_status, "
	    "t.status AS tenant_status FROM refresh_tokens r "
	    "JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id "
	    "JOIN tenants t ON t.id = r.tenant_id WHERE r.hash = ?",
	    "s", hash);
}

int store_refresh_use(struct store_tx *tx, const char *tenant_id, const char *hash)
{
	return stx_exec(tx,
			"UPDATE refresh_tokens SET used_us = ? WHERE tenant_id = ? AND "
			"hash = ? AND used_us IS NULL",
			"iss", (int64_t)time_now_us(), tenant_id, hash);
}

int store_principal_by_session(struct store_tx *tx, const char *session_id, const char *user_id,
			       json_t **ret)
{
	return stx_query_one(
	    tx, ret,
	    "SELECT u.id AS user_id, u.tenant_id, u.role, u.status AS user_status, "
	    "s.revoked_us, s.expires_us, t.status AS tenant_status, t.api_rps, "
	    "t.api_burst, t.key_rps, t.key_burst FROM sessions s "
	    "JOIN users u ON u.id = s.user_id JOIN tenants t ON t.id = s.tenant_id "
	    "WHERE s.id = ? AND s.user_id = ?",
	    "ss", session_id, user_id);
}

int store_otp_insert(struct store_tx *tx, const char *tenant_id, const char *hash,
		     const char *user_id, const char *kind, uint64_t expires_us)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO one_time_tokens (hash, tenant_id, user_id, kind, "
				    "created_us, expires_us) VALUES (?, ?, ?, ?, ?, ?)",
				    "ssssii", hash, tenant_id, user_id, kind,
				    (int64_t)time_now_us(), (int64_t)expires_us));
}

int store_otp_consume(struct store_tx *tx, const char *hash, const char *kind, json_t **ret)
{
	int64_t now = (int64_t)time_now_us();
	int r = stx_exec(tx,
			 "UPDATE one_time_tokens SET used_us = ? WHERE hash = ? AND kind = ? "
			 "AND used_us IS NULL AND expires_us > ?",
			 "issi", now, hash, kind, now);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	return stx_query_one(tx, ret,
			     "SELECT tenant_id, user_id, kind FROM one_time_tokens WHERE hash = ?",
			     "s", hash);
}
