/* webhooks.c: events, webhook endpoints, the delivery log and tenant auth tokens: the SQL
   behind src/webhooks and the /v1/webhooks routes. */
#include <string.h>

#include "internal.h"

#define EP_COLS                                                                                    \
	"id, tenant_id, url, description, event_types, enabled, disabled_reason, secret, "         \
	"old_secret, old_secret_expires_us, failing_since_us, created_us, updated_us"
#define DL_COLS                                                                                    \
	"id, tenant_id, endpoint_id, event_id, job_id, event_type, url, attempt, status_code, "    \
	"error, latency_us, response, outcome, created_us"

/* ---- events ---- */

int store_event_insert(struct store_tx *tx, const char *tenant_id, const char *id, const char *type,
		       const char *data, uint64_t created_us)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO events (id, tenant_id, type, data, created_us) "
				    "VALUES (?, ?, ?, ?, ?)",
				    "ssssi", id, tenant_id, type, data, (int64_t)created_us));
}

int store_event_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	return stx_query_one(
	    tx, ret,
	    "SELECT id, tenant_id, type, data, created_us FROM events WHERE id = ? "
	    "AND tenant_id = ?",
	    "ss", id, tenant_id);
}

/* ---- endpoints ---- */

int store_endpoint_insert(struct store_tx *tx, const struct store_endpoint *e)
{
	int64_t now = (int64_t)time_now_us();
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO webhook_endpoints (id, tenant_id, url, description, "
		     "event_types, enabled, secret, created_us, updated_us) VALUES "
		     "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
		     "sssssisii", e->id, e->tenant_id, e->url, e->description, e->event_types,
		     (int64_t)e->enabled, e->secret, now, now));
}

int store_endpoint_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	if (!tenant_id)
		return stx_query_one(
		    tx, ret, "SELECT " EP_COLS " FROM webhook_endpoints WHERE id = ?", "s", id);
	return stx_query_one(
	    tx, ret, "SELECT " EP_COLS " FROM webhook_endpoints WHERE id = ? AND tenant_id = ?",
	    "ss", id, tenant_id);
}

int store_endpoint_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
			json_t **ret)
{
	struct store_val p = {.type = SV_TEXT, .s = tenant_id};
	return store_list_page(tx, ret,
			       "SELECT " EP_COLS " FROM webhook_endpoints WHERE tenant_id = ?", 1,
			       &p, cursor, limit);
}

int store_endpoints_enabled(struct store_tx *tx, const char *tenant_id, json_t **ret)
{
	return stx_query(tx, ret,
			 "SELECT id, event_types FROM webhook_endpoints WHERE tenant_id = ? AND "
			 "enabled = 1 ORDER BY id",
			 "s", tenant_id);
}

int store_endpoint_update(struct store_tx *tx, const char *tenant_id, const char *id,
			  const struct store_endpoint *e)
{
	int64_t now = (int64_t)time_now_us();
	int r = 0;
	if (e->url)
		r = stx_exec(tx,
			     "UPDATE webhook_endpoints SET url = ? WHERE id = ? AND tenant_id = ?",
			     "sss", e->url, id, tenant_id);
	if (r >= 0 && e->description)
		r = stx_exec(tx,
			     "UPDATE webhook_endpoints SET description = ? WHERE id = ? AND "
			     "tenant_id = ?",
			     "sss", e->description, id, tenant_id);
	if (r >= 0 && e->event_types)
		r = stx_exec(tx,
			     "UPDATE webhook_endpoints SET event_types = ? WHERE id = ? AND "
			     "tenant_id = ?",
			     "sss", e->event_types, id, tenant_id);
	if (r >= 0 && e->enabled >= 0)
		r = stx_exec(
		    tx,
		    "UPDATE webhook_endpoints SET enabled = ?, disabled_reason = CASE WHEN ? "
		    "= 1 THEN NULL ELSE 'disabled by the tenant' END, failing_since_us = "
		    "NULL WHERE id = ? AND tenant_id = ?",
		    "iiss", (int64_t)e->enabled, (int64_t)e->enabled, id, tenant_id);
	if (r < 0)
		return r;
	return store_changed(
	    stx_exec(tx,
		     "UPDATE webhook_endpoints SET updated_us = ? WHERE id = ? AND "
		     "tenant_id = ?",
		     "iss", now, id, tenant_id));
}

int store_endpoint_rotate(struct store_tx *tx, const char *tenant_id, const char *id,
			  const char *secret, uint64_t old_expires_us)
{
	return store_changed(stx_exec(
	    tx,
	    "UPDATE webhook_endpoints SET old_secret = secret, "
	    "old_secret_expires_us = ?, secret = ?, updated_us = ? WHERE id = ? "
	    "AND tenant_id = ?",
	    "isiss", (int64_t)old_expires_us, secret, (int64_t)time_now_us(), id, tenant_id));
}

int store_endpoint_delete(struct store_tx *tx, const char *tenant_id, const char *id)
{
	int r = store_changed(
	    stx_exec(tx, "DELETE FROM webhook_endpoints WHERE id = ? AND tenant_id = ?", "ss", id,
		     tenant_id));
	if (r == 0)
		r = stx_exec(tx,
			     "DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND "
			     "tenant_id = ?",
			     "ss", id, tenant_id);
	return r < 0 ? r : 0;
}

int store_endpoint_disable(struct store_tx *tx, const char *id, const char *reason)
{
	return stx_exec(
	    tx,
	    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_us = ? "
	    "WHERE id = ? AND enabled = 1",
	    "sis", reason, (int64_t)time_now_us(), id);
}

int store_endpoint_failing(struct store_tx *tx, const char *id, uint64_t now_us, bool failing,
			   uint64_t *ret_since_us)
{
	if (!failing)
		return stx_exec(
		    tx,
		    "UPDATE webhook_endpoints SET failing_since_us = NULL WHERE id = ? AND "
		    "failing_since_us IS NOT NULL",
		    "s", id);
	int r = stx_exec(tx,
			 "UPDATE webhook_endpoints SET failing_since_us = ? WHERE id = ? AND "
			 "failing_since_us IS NULL",
			 "is", (int64_t)now_us, id);
	json_t *row;
	if (r < 0 || (r = stx_query_one(
			  tx, &row, "SELECT failing_since_us FROM webhook_endpoints WHERE id = ?",
			  "s", id)) < 0)
		return r;
	*ret_since_us = (uint64_t)json_int(row, "failing_since_us", (int64_t)now_us);
	json_decref(row);
	return 0;
}

/* ---- deliveries ---- */

int store_delivery_insert(struct store_tx *tx, const struct store_delivery *d)
{
	struct store_val v[] = {
	    {SV_TEXT, d->id, 0},
	    {SV_TEXT, d->tenant_id, 0},
	    {d->endpoint_id ? SV_TEXT : SV_NULL, d->endpoint_id, 0},
	    {d->event_id ? SV_TEXT : SV_NULL, d->event_id, 0},
	    {SV_TEXT, d->job_id, 0},
	    {d->event_type ? SV_TEXT : SV_NULL, d->event_type, 0},
	    {SV_TEXT, d->url, 0},
	    {SV_INT, NULL, d->attempt},
	    {SV_INT, NULL, d->status_code},
	    {d->error ? SV_TEXT : SV_NULL, d->error, 0},
	    {SV_INT, NULL, (int64_t)d->latency_us},
	    {d->response ? SV_TEXT : SV_NULL, d->response, 0},
	    {SV_TEXT, d->outcome, 0},
	    {SV_INT, NULL, (int64_t)d->created_us},
	};
	return insert_done(tx->st->be->exec(tx,
					    "INSERT INTO webhook_deliveries (" DL_COLS ") VALUES "
					    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
					    sizeof(v) / sizeof(v[0]), v));
}

int store_delivery_list(struct store_tx *tx, const char *tenant_id, const char *endpoint_id,
			const char *cursor, int limit, json_t **ret)
{
	struct store_val p[2] = {{SV_TEXT, tenant_id, 0}, {SV_TEXT, endpoint_id, 0}};
	return store_list_page(tx, ret,
			       "SELECT " DL_COLS " FROM webhook_deliveries WHERE tenant_id = ? AND "
			       "endpoint_id = ?",
			       2, p, cursor, limit);
}

int store_delivery_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	return stx_query_one(tx, ret,
			     "SELECT " DL_COLS " FROM webhook_deliveries WHERE id = ? AND "
			     "tenant_id = ?",
			     "ss", id, tenant_id);
}

int store_deliveries_failed(struct store_tx *tx, const char *tenant_id, const char *endpoint_id,
			    uint64_t since_us, int limit, json_t **ret)
{
	return stx_query(tx, ret,
			 "SELECT DISTINCT d.event_id AS event_id FROM webhook_deliveries d WHERE "
			 "d.tenant_id = ? AND d.endpoint_id = ? AND d.created_us >= ? AND "
			 "d.outcome IN ('exhausted', 'disabled') AND NOT EXISTS (SELECT 1 FROM "
			 "webhook_deliveries s WHERE s.tenant_id = d.tenant_id AND s.endpoint_id = "
			 "d.endpoint_id AND s.event_id = d.event_id AND s.outcome = 'delivered') "
			 "ORDER BY d.event_id LIMIT ?",
			 "ssii", tenant_id, endpoint_id, (int64_t)since_us, (int64_t)limit);
}

/* ---- tenant auth token ---- */

int store_tenant_auth_token(struct store_tx *tx, const char *tenant_id, const char *candidate,
			    bool replace, json_t **ret)
{
	int r = 0;
	if (candidate)
		r = stx_exec(tx,
			     replace
				 ? "UPDATE tenants SET auth_token = ? WHERE id = ?"
				 : "UPDATE tenants SET auth_token = ? WHERE id = ? AND auth_token "
				   "IS NULL",
			     "ss", candidate, tenant_id);
	if (r < 0)
		return r;
	return stx_query_one(tx, ret, "SELECT id, auth_token FROM tenants WHERE id = ?", "s",
			     tenant_id);
}
