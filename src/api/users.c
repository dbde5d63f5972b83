/* users.c: /v1/users: create or invite, list, fetch, change role/name, disable. */
#include "internal.h"

struct uq {
	struct http_req *req;
	const char *cursor, *id;
	int limit;
	json_t *rows;
};

int h_users_list(struct http_req *req)
{
	return api_list(req, req->who.tenant_id, store_user_list, present_user);
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct uq *q = arg;
	return store_user_get(tx, store_tx_tenant(tx), q->id, &q->rows);
}

int h_users_get(struct http_req *req)
{
	struct uq q = {.req = req, .id = path_id(req, 0, "US")};
	if (!q.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, get_fn, &q);
	if (r < 0)
		return r;
	http_reply(req, 200, present_user(q.rows));
	json_decref(q.rows);
	return 0;
}

struct unew {
	struct http_req *req;
	const char *email, *name, *role, *hash;
};

static int create_fn(struct store_tx *tx, void *arg)
{
	struct unew *u = arg;
	struct http_req *req = u->req;
	const char *tid = req->who.tenant_id;
	char id[ID_LEN + 1];
	id_new("US", id);
	int r = store_user_insert(tx, tid, id, u->email, u->name, u->hash, u->role,
				  u->hash ? "active" : "invited");
	if (r == -EEXIST)
		return http_error(req, 409, "email_taken", "this e-mail is already registered",
				  "email");
	if (r < 0)
		return r;
	if (!u->hash) {
		char tok[TOKEN_LEN], th[65];
		token_new(tok);
		token_hash(tok, th);
		uint64_t ttl = 7 * 86400;
		r = store_otp_insert(tx, tid, th, id, "reset", time_now_us() + ttl * 1000000u);
		struct buf b;
		buf_init(&b, 0);
		buf_printf(&b,
			   "You are invited to IRISX.\nSet your password within 7 days: POST "
			   "it with a new password to /v1/auth/password-reset/confirm.\n"
			   "token: %s\n",
			   tok);
		if (r == 0)
			r = store_outbox_insert(tx, tid, u->email, "invite",
						"You are invited to IRISX", b.p);
		buf_free(&b);
		if (r < 0)
			return r;
	}
	json_t *row;
	if ((r = store_user_get(tx, tid, id, &row)) < 0)
		return r;
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", id);
	http_reply(req, 201, present_user(row));
	json_decref(row);
	return 0;
}

static int role_field(struct http_req *req, const char *s, enum role *ret)
{
	enum role r = role_parse(s);
	if (r == ROLE_NONE || r == ROLE_PLATFORM_ADMIN) {
		http_error(req, 400, "invalid_field", "unknown role", "role");
		return -EINVAL;
	}
	if (!role_allows(req->who.role, r)) {
		http_error(req, 403, "forbidden", "cannot grant a role above your own", "role");
		return -EACCES;
	}
	*ret = r;
	return 0;
}

int h_users_create(struct http_req *req)
{
	static const struct json_field f[] = {{"email", JF_STRING, true, EMAIL_MAX},
					      {"role", JF_STRING, true, 32},
					      {"name", JF_STRING, false, 200},
					      {"password", JF_STRING, false, PW_MAX_LEN},
					      {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	char email[EMAIL_MAX + 1];
	if (email_normalize(json_str(req->json, "email"), email, sizeof(email)) < 0)
		return http_error(req, 400, "invalid_field", "not a valid e-mail address", "email");
	enum role role;
	if (role_field(req, json_str(req->json, "role"), &role) < 0)
		return 0;
	const char *pw = json_str(req->json, "password"), *why;
	char *hash = NULL;
	if (pw && pw_policy(pw, &why) < 0)
		return http_error(req, 400, "weak_password", why, "password");
	int r;
	if (pw && (r = pw_hash(pw, &req->app->pw, &hash)) < 0)
		return r;
	struct unew u = {req, email, json_str(req->json, "name"), role_name(role), hash};
	r = http_write(req, req->who.tenant_id, create_fn, &u);
	mem_free(hash);
	return r;
}

struct upatch {
	struct http_req *req;
	const char *id, *role, *status, *name;
};

static int patch_fn(struct store_tx *tx, void *arg)
{
	struct upatch *p = arg;
	struct http_req *req = p->req;
	const char *tid = req->who.tenant_id;
	json_t *row;
	int r = store_user_get(tx, tid, p->id, &row);
	if (r < 0)
		return r;
	enum role cur = role_parse(json_str(row, "role"));
	if (p->status && !strcmp(p->status, "active") &&
	    !strcmp(json_str(row, "status"), "invited"))
		p->status = NULL; /* still has to accept the invitation */
	bool was_owner = cur == ROLE_OWNER && !strcmp(json_str(row, "status"), "active");
	json_decref(row);
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", p->id);
	if (!role_allows(req->who.role, cur))
		return http_error(req, 403, "forbidden", "cannot change a user above your role",
				  NULL);
	bool demote = (p->role && strcmp(p->role, "owner") != 0) ||
		      (p->status && !strcmp(p->status, "disabled"));
	int owners;
	if (was_owner && demote) {
		if ((r = store_user_count_role(tx, tid, "owner", &owners)) < 0)
			return r;
		if (owners <= 1)
			return http_error(req, 409, "last_owner",
					  "the tenant must keep an active owner", NULL);
	}
	if ((r = store_user_update(tx, tid, p->id, p->role, p->status, p->name)) < 0)
		return r;
	if (p->status && !strcmp(p->status, "disabled") &&
	    (r = store_session_revoke_user(tx, tid, p->id, NULL)) < 0)
		return r;
	if ((r = store_user_get(tx, tid, p->id, &row)) < 0)
		return r;
	http_reply(req, 200, present_user(row));
	json_decref(row);
	return 0;
}

int h_users_patch(struct http_req *req)
{
	static const struct json_field f[] = {{"role", JF_STRING, false, 32},
					      {"name", JF_STRING, false, 200},
					      {"disabled", JF_BOOL, false, 0},
					      {0}};
	struct upatch p = {.req = req, .id = path_id(req, 0, "US")};
	if (!p.id)
		return not_found(req);
	if (http_check_body(req, f) < 0)
		return 0;
	enum role role;
	const char *rs = json_str(req->json, "role");
	if (rs && role_field(req, rs, &role) < 0)
		return 0;
	if (rs && !strcmp(p.id, req->who.actor_id))
		return http_error(req, 403, "forbidden", "cannot change your own role", "role");
	json_t *d = json_object_get(req->json, "disabled");
	if (json_is_true(d) && !strcmp(p.id, req->who.actor_id))
		return http_error(req, 403, "forbidden", "cannot disable yourself", "disabled");
	p.role = rs ? role_name(role) : NULL;
	p.status = json_is_boolean(d) ? (json_is_true(d) ? "disabled" : "active") : NULL;
	p.name = json_str(req->json, "name");
	return http_write(req, req->who.tenant_id, patch_fn, &p);
}
