/* audit.c: /v1/audit-logs (a tenant's trail) and /v1/admin/audit-logs (all tenants). */
#include "internal.h"

struct aq {
	struct audit_filter f;
	const char *tenant_id;
	json_t *rows;
};

static int list_fn(struct store_tx *tx, void *arg)
{
	struct aq *q = arg;
	return store_audit_list(tx, q->tenant_id, &q->f, &q->rows);
}

static int time_param(struct http_req *req, const char *name, uint64_t *ret)
{
	const char *v = http_get_query(req, name);
	if (v && time_parse(v, ret) < 0) {
		http_error(req, 400, "invalid_parameter", "expected an RFC 3339 timestamp", name);
		return -EINVAL;
	}
	return 0;
}

static int list(struct http_req *req, const char *tenant_id)
{
	struct aq q = {.tenant_id = tenant_id};
	if (http_page_params(req, &q.f.limit, &q.f.cursor) < 0 ||
	    time_param(req, "since", &q.f.since_us) < 0 ||
	    time_param(req, "until", &q.f.until_us) < 0)
		return 0;
	q.f.actor_id = http_get_query(req, "actor_id");
	q.f.action = http_get_query(req, "action");
	q.f.resource_id = http_get_query(req, "resource_id");
	q.f.outcome = http_get_query(req, "outcome");
	if (q.f.outcome && strcmp(q.f.outcome, "success") != 0 &&
	    strcmp(q.f.outcome, "failure") != 0 && strcmp(q.f.outcome, "denied") != 0)
		return http_error(req, 400, "invalid_parameter",
				  "outcome is success, failure or denied", "outcome");
	int r = store_tx(req->app->st, tenant_id, STORE_READ, list_fn, &q);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(q.rows, q.f.limit, present_plain));
}

int h_audit_list(struct http_req *req)
{
	return list(req, req->who.tenant_id);
}

int h_admin_audit_list(struct http_req *req)
{
	const char *t = http_get_query(req, "tenant_id");
	if (t && !id_valid(t, "AC"))
		return http_error(req, 400, "invalid_parameter", "not a tenant id", "tenant_id");
	return list(req, t); /* NULL: every tenant, platform entries included */
}
