/* keys.c: /v1/api-keys: create (secret shown once), list, fetch, revoke. */
#include "internal.h"

struct page {
	struct http_req *req;
	const char *cursor;
	int limit;
	json_t *rows;
	const char *id;
};

int h_keys_list(struct http_req *req)
{
	return api_list(req, req->who.tenant_id, store_apikey_list, present_key);
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct page *p = arg;
	return store_apikey_get(tx, store_tx_tenant(tx), p->id, &p->rows);
}

int h_keys_get(struct http_req *req)
{
	struct page p = {.req = req, .id = path_id(req, 0, "KE")};
	if (!p.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, get_fn, &p);
	if (r < 0)
		return r;
	http_reply(req, 200, present_key(p.rows));
	json_decref(p.rows);
	return 0;
}

struct keynew {
	struct http_req *req;
	const char *name, *role;
	char id[ID_LEN + 1], secret[APIKEY_MAX_LEN], prefix[APIKEY_PREFIX_LEN + 1], hash[65];
};

static int create_fn(struct store_tx *tx, void *arg)
{
	struct keynew *k = arg;
	struct http_req *req = k->req;
	const char *id = k->id;
	int r = store_apikey_insert(tx, req->who.tenant_id, id, k->name, k->prefix, k->hash,
				    k->role, req->who.actor_id);
	json_t *row;
	if (r < 0 || (r = store_apikey_get(tx, req->who.tenant_id, id, &row)) < 0)
		return r;
	json_t *out = present_key(row);
	json_decref(row);
	json_object_set_new(out, "secret", json_string(k->secret));
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", id);
	return http_reply(req, 201, out);
}

int h_keys_create(struct http_req *req)
{
	static const struct json_field f[] = {
	    {"name", JF_STRING, false, 200}, {"role", JF_STRING, false, 32}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	const char *role = json_str(req->json, "role");
	enum role want = role ? role_parse(role) : ROLE_DEVELOPER;
	if (want == ROLE_NONE || want == ROLE_PLATFORM_ADMIN)
		return http_error(req, 400, "invalid_field", "unknown role", "role");
	if (!role_allows(req->who.role, want))
		return http_error(req, 403, "forbidden", "cannot grant a role above your own",
				  "role");
	/* the secret is made here, not on the writer thread that runs create_fn */
	struct keynew k = {
	    .req = req, .name = json_str(req->json, "name"), .role = role_name(want)};
	id_new("KE", k.id);
	if (apikey_new("live", k.secret, k.prefix) < 0)
		return -EIO;
	apikey_hash(k.secret, k.hash);
	int r = http_write(req, req->who.tenant_id, create_fn, &k);
	memset(k.secret, 0, sizeof(k.secret));
	return r;
}

static int revoke_fn(struct store_tx *tx, void *arg)
{
	struct page *p = arg;
	int r = store_apikey_revoke(tx, store_tx_tenant(tx), p->id);
	if (r < 0)
		return r;
	snprintf(p->req->resource_id, sizeof(p->req->resource_id), "%s", p->id);
	return http_reply(p->req, 204, NULL);
}

int h_keys_revoke(struct http_req *req)
{
	struct page p = {.req = req, .id = path_id(req, 0, "KE")};
	if (!p.id)
		return not_found(req);
	return http_write(req, req->who.tenant_id, revoke_fn, &p);
}
