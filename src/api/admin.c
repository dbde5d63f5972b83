/* admin.c: /v1/admin: the platform operator's tenants (create, list, fetch, suspend,
   resume, delete, rate limits) and the e-mail outbox. */
#include "internal.h"

struct tq {
	struct http_req *req;
	const char *id, *cursor;
	int limit;
	json_t *rows;
};

static int list_fn(struct store_tx *tx, void *arg)
{
	struct tq *q = arg;
	return store_tenant_list(tx, q->cursor, q->limit, &q->rows);
}

int h_admin_tenants_list(struct http_req *req)
{
	struct tq q = {.req = req};
	if (http_page_params(req, &q.limit, &q.cursor) < 0)
		return 0;
	int r = store_tx(req->app->st, NULL, STORE_READ, list_fn, &q);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(q.rows, q.limit, present_tenant));
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct tq *q = arg;
	return store_tenant_get(tx, q->id, &q->rows);
}

int h_admin_tenants_get(struct http_req *req)
{
	struct tq q = {.req = req, .id = path_id(req, 0, "AC")};
	if (!q.id)
		return not_found(req);
	int r = store_tx(req->app->st, q.id, STORE_READ, get_fn, &q);
	if (r < 0)
		return r;
	http_reply(req, 200, present_tenant(q.rows));
	json_decref(q.rows);
	return 0;
}

struct tnew {
	struct http_req *req;
	struct tenant_new tn;
};

static int create_fn(struct store_tx *tx, void *arg)
{
	struct tnew *t = arg;
	struct http_req *req = t->req;
	int r = api_tenant_create_tx(tx, &t->tn);
	if (r == -EEXIST)
		return http_error(req, 409, "email_taken", "this e-mail is already registered",
				  "owner_email");
	json_t *tr, *ur;
	if (r < 0 || (r = store_tenant_get(tx, t->tn.tenant_id, &tr)) < 0)
		return r;
	if ((r = store_user_get(tx, t->tn.tenant_id, t->tn.user_id, &ur)) < 0) {
		json_decref(tr);
		return r;
	}
	if (!t->tn.pw_hash) {
		char tok[TOKEN_LEN], th[65];
		token_new(tok);
		token_hash(tok, th);
		r = store_otp_insert(tx, t->tn.tenant_id, th, t->tn.user_id, "reset",
				     time_now_us() + 7 * 86400 * 1000000ull);
		struct buf b;
		buf_init(&b, 0);
		buf_printf(&b,
			   "You are invited to IRISX as the owner of %s.\nSet your password "
			   "within 7 days: POST it with a new password to "
			   "/v1/auth/password-reset/confirm.\ntoken: %s\n",
			   t->tn.name, tok);
		if (r == 0)
			r = store_outbox_insert(tx, t->tn.tenant_id, t->tn.email, "invite",
						"You are invited to IRISX", b.p);
		buf_free(&b);
	}
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", t->tn.tenant_id);
	if (r == 0)
		http_reply(req, 201,
			   json_pack("{s:o,s:o}", "tenant", present_tenant(tr), "owner",
				     present_user(ur)));
	json_decref(tr);
	json_decref(ur);
	return r;
}

int h_admin_tenants_create(struct http_req *req)
{
	static const struct json_field f[] = {{"name", JF_STRING, true, 200},
					      {"owner_email", JF_STRING, true, EMAIL_MAX},
					      {"owner_password", JF_STRING, false, PW_MAX_LEN},
					      {"owner_name", JF_STRING, false, 200},
					      {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	char email[EMAIL_MAX + 1];
	if (email_normalize(json_str(req->json, "owner_email"), email, sizeof(email)) < 0)
		return http_error(req, 400, "invalid_field", "not a valid e-mail address",
				  "owner_email");
	const char *name = json_str(req->json, "name"), *pw = json_str(req->json, "owner_password");
	const char *why;
	if (!*name)
		return http_error(req, 400, "invalid_field", "name must not be empty", "name");
	if (pw && pw_policy(pw, &why) < 0)
		return http_error(req, 400, "weak_password", why, "owner_password");
	char *hash = NULL;
	int r;
	if (pw && (r = pw_hash(pw, &req->app->pw, &hash)) < 0)
		return r;
	struct tnew t = {.req = req};
	t.tn = (struct tenant_new){.name = name,
				   .email = email,
				   .user_name = json_str(req->json, "owner_name"),
				   .pw_hash = hash};
	/* the admin's own tenant scopes the idempotency key; RLS scope is system */
	r = http_write(req, req->who.tenant_id, create_fn, &t);
	mem_free(hash);
	return r;
}

struct tstatus {
	struct http_req *req;
	const char *id, *status;
};

static int status_fn(struct store_tx *tx, void *arg)
{
	struct tstatus *s = arg;
	json_t *row;
	int r = store_tenant_get(tx, s->id, &row);
	if (r < 0)
		return r;
	bool platform =
	    json_is_true(json_object_get(row, "platform")) || json_int(row, "platform", 0) == 1;
	json_decref(row);
	snprintf(s->req->resource_id, sizeof(s->req->resource_id), "%s", s->id);
	if (platform)
		return http_error(s->req, 409, "platform_tenant",
				  "the platform tenant cannot be suspended or deleted", NULL);
	if (!s->status) {
		if ((r = store_tenant_delete(tx, s->id)) < 0)
			return r;
		return http_reply(s->req, 204, NULL);
	}
	if ((r = store_tenant_set_status(tx, s->id, s->status)) < 0 ||
	    (r = store_tenant_get(tx, s->id, &row)) < 0)
		return r;
	http_reply(s->req, 200, present_tenant(row));
	json_decref(row);
	return 0;
}

static int set_status(struct http_req *req, const char *status)
{
	struct tstatus s = {req, path_id(req, 0, "AC"), status};
	if (!s.id)
		return not_found(req);
	return http_write(req, s.id, status_fn, &s);
}

int h_admin_tenants_suspend(struct http_req *req)
{
	return set_status(req, "suspended");
}

int h_admin_tenants_resume(struct http_req *req)
{
	return set_status(req, "active");
}

int h_admin_tenants_delete(struct http_req *req)
{
	return set_status(req, NULL);
}

static json_t *effective_limits(struct http_req *req, json_t *row)
{
	const struct config *cfg = req->app->cfg;
	int64_t v[4] = {json_int(row, "api_rps", 0), json_int(row, "api_burst", 0),
			json_int(row, "key_rps", 0), json_int(row, "key_burst", 0)};
	int64_t d[4] = {cfg->rate_tenant_rps, cfg->rate_tenant_burst, cfg->rate_key_rps,
			cfg->rate_key_burst};
	for (int i = 0; i < 4; i++)
		if (v[i] <= 0)
			v[i] = d[i];
	return json_pack("{s:s,s:I,s:I,s:I,s:I}", "tenant_id", json_str(row, "id"), "tenant_rps",
			 (json_int_t)v[0], "tenant_burst", (json_int_t)v[1], "key_rps",
			 (json_int_t)v[2], "key_burst", (json_int_t)v[3]);
}

int h_admin_limits_get(struct http_req *req)
{
	struct tq q = {.req = req, .id = path_id(req, 0, "AC")};
	if (!q.id)
		return not_found(req);
	int r = store_tx(req->app->st, q.id, STORE_READ, get_fn, &q);
	if (r < 0)
		return r;
	http_reply(req, 200, effective_limits(req, q.rows));
	json_decref(q.rows);
	return 0;
}

struct tlimits {
	struct http_req *req;
	const char *id;
};

static int limits_fn(struct store_tx *tx, void *arg)
{
	struct tlimits *l = arg;
	json_t *row;
	int r = store_tenant_set_limits(tx, l->id, l->req->json);
	if (r < 0 || (r = store_tenant_get(tx, l->id, &row)) < 0)
		return r;
	snprintf(l->req->resource_id, sizeof(l->req->resource_id), "%s", l->id);
	http_reply(l->req, 200, effective_limits(l->req, row));
	json_decref(row);
	return 0;
}

int h_admin_limits_put(struct http_req *req)
{
	static const struct json_field f[] = {{"tenant_rps", JF_INT, false, 0},
					      {"tenant_burst", JF_INT, false, 0},
					      {"key_rps", JF_INT, false, 0},
					      {"key_burst", JF_INT, false, 0},
					      {0}};
	struct tlimits l = {req, path_id(req, 0, "AC")};
	if (!l.id)
		return not_found(req);
	if (http_check_body(req, f) < 0)
		return 0;
	const char *names[] = {"tenant_rps", "tenant_burst", "key_rps", "key_burst"};
	for (int i = 0; i < 4; i++) {
		int64_t v = json_int(req->json, names[i], 0);
		if (v < 0 || v > 10000000)
			return http_error(req, 400, "invalid_field",
					  "must be 0..10000000 (0: default)", names[i]);
	}
	return http_write(req, l.id, limits_fn, &l);
}

struct oq {
	const char *cursor;
	int limit;
	json_t *rows;
};

static int outbox_fn(struct store_tx *tx, void *arg)
{
	struct oq *q = arg;
	return store_outbox_list(tx, q->cursor, q->limit, &q->rows);
}

int h_admin_outbox(struct http_req *req)
{
	struct oq q = {0};
	if (http_page_params(req, &q.limit, &q.cursor) < 0)
		return 0;
	int r = store_tx(req->app->st, NULL, STORE_READ, outbox_fn, &q);
	if (r < 0)
		return r;
	json_t *page = http_page(q.rows, q.limit, present_plain);
	if (!req->app->cfg->outbox_reveal) {
		size_t i;
		json_t *m;
		json_array_foreach (json_object_get(page, "data"), i, m) {
			json_object_set_new(m, "body",
					    json_string("[redacted: holds a one-time token]"));
		}
	}
	return http_reply(req, 200, page);
}
