/* tenants.c: creating a tenant with its owner, and the tenant's own GET/PATCH. */
#include "internal.h"

int api_tenant_create_tx(struct store_tx *tx, struct tenant_new *tn)
{
	id_new("AC", tn->tenant_id);
	id_new("US", tn->user_id);
	int r = store_tenant_insert(tx, tn->tenant_id, tn->name, tn->platform);
	if (r < 0)
		return r;
	return store_user_insert(tx, tn->tenant_id, tn->user_id, tn->email, tn->user_name,
				 tn->pw_hash, tn->role ? tn->role : "owner",
				 tn->pw_hash ? "active" : "invited");
}

struct tget {
	const char *id;
	json_t *row;
};

static int tget_fn(struct store_tx *tx, void *arg)
{
	struct tget *t = arg;
	return store_tenant_get(tx, t->id, &t->row);
}

int h_tenant_get(struct http_req *req)
{
	struct tget t = {.id = req->who.tenant_id};
	int r = store_tx(req->app->st, t.id, STORE_READ, tget_fn, &t);
	if (r < 0)
		return r;
	http_reply(req, 200, present_tenant(t.row));
	json_decref(t.row);
	return 0;
}

static int tpatch_fn(struct store_tx *tx, void *arg)
{
	struct http_req *req = arg;
	const char *name = json_str(req->json, "name");
	int r = name ? store_tenant_update_name(tx, req->who.tenant_id, name) : 0;
	json_t *row;
	if (r < 0 || (r = store_tenant_get(tx, req->who.tenant_id, &row)) < 0)
		return r;
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", req->who.tenant_id);
	http_reply(req, 200, present_tenant(row));
	json_decref(row);
	return 0;
}

int h_tenant_patch(struct http_req *req)
{
	static const struct json_field f[] = {{"name", JF_STRING, false, 200}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	const char *name = json_str(req->json, "name");
	if (name && !*name)
		return http_error(req, 400, "invalid_field", "name must not be empty", "name");
	return http_write(req, req->who.tenant_id, tpatch_fn, req);
}
