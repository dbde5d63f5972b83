/* auth.c: /v1/auth: register, login (with failure limits), refresh rotation with reuse
   detection, logout, me, password change. */
#include <pthread.h>

#include "internal.h"

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char *dummy;

/* An argon2id hash of a random password, verified against when the account is unknown, so
   unknown and known e-mails take the same time. */
static const char *dummy_hash(struct app *app)
{
	pthread_mutex_lock(&dummy_lock);
	if (!dummy) {
		char pw[TOKEN_LEN];
		token_new(pw);
		if (pw_hash(pw, &app->pw, &dummy) < 0)
			dummy = NULL;
	}
	pthread_mutex_unlock(&dummy_lock);
	return dummy;
}

static int check_new_password(struct http_req *req, const char *pw, const char *field)
{
	const char *why;
	if (pw_policy(pw, &why) < 0) {
		http_error(req, 400, "weak_password", why, field);
		return -EINVAL;
	}
	return 0;
}

/* ---- register ---- */

struct reg {
	struct http_req *req;
	struct tenant_new tn;
};

static int queue_mail(struct store_tx *tx, struct http_req *req, const char *tenant_id,
		      const char *user_id, const char *to, const char *kind, uint64_t ttl_s)
{
	char tok[TOKEN_LEN], th[65];
	token_new(tok);
	token_hash(tok, th);
	const char *otp_kind = !strcmp(kind, "verify_email") ? "verify" : "reset";
	int r = store_otp_insert(tx, tenant_id, th, user_id, otp_kind,
				 time_now_us() + ttl_s * 1000000u);
	if (r < 0)
		return r;
	const char *subject = !strcmp(kind, "verify_email") ? "Confirm your e-mail address"
			      : !strcmp(kind, "invite")	    ? "You are invited to IRISX"
							    : "Reset your IRISX password";
	const char *what = !strcmp(kind, "verify_email")
			       ? "POST it to /v1/auth/verify-email"
			       : "POST it with a new password to /v1/auth/password-reset/confirm";
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s.\nUse this token within %llu minutes: %s.\ntoken: %s\n", subject,
		   (unsigned long long)(ttl_s / 60), what, tok);
	r = store_outbox_insert(tx, tenant_id, to, kind, subject, b.p);
	buf_free(&b);
	return r;
}

static int register_fn(struct store_tx *tx, void *arg)
{
	struct reg *g = arg;
	struct http_req *req = g->req;
	int r = api_tenant_create_tx(tx, &g->tn);
	if (r == -EEXIST)
		return http_error(req, 409, "email_taken", "this e-mail is already registered",
				  "email");
	json_t *tokens, *t, *u;
	if (r < 0 || (r = queue_mail(tx, req, g->tn.tenant_id, g->tn.user_id, g->tn.email,
				     "verify_email", 86400)) < 0)
		return r;
	if ((r = issue_session(tx, req, g->tn.tenant_id, g->tn.user_id, "owner", &tokens)) < 0)
		return r;
	if ((r = store_tenant_get(tx, g->tn.tenant_id, &t)) < 0) {
		json_decref(tokens);
		return r;
	}
	if ((r = store_user_get(tx, g->tn.tenant_id, g->tn.user_id, &u)) < 0) {
		json_decref(tokens);
		json_decref(t);
		return r;
	}
	json_object_set_new(tokens, "tenant", present_tenant(t));
	json_object_set_new(tokens, "user", present_user(u));
	json_decref(t);
	json_decref(u);
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", g->tn.tenant_id);
	snprintf(req->audit_tenant, sizeof(req->audit_tenant), "%s", g->tn.tenant_id);
	snprintf(req->audit_actor, sizeof(req->audit_actor), "%s", g->tn.user_id);
	return http_reply(req, 201, tokens);
}

int h_register(struct http_req *req)
{
	static const struct json_field f[] = {{"email", JF_STRING, true, EMAIL_MAX},
					      {"password", JF_STRING, true, PW_MAX_LEN},
					      {"name", JF_STRING, true, 200},
					      {"full_name", JF_STRING, false, 200},
					      {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	char email[EMAIL_MAX + 1];
	if (email_normalize(json_str(req->json, "email"), email, sizeof(email)) < 0)
		return http_error(req, 400, "invalid_field", "not a valid e-mail address", "email");
	const char *pw = json_str(req->json, "password"), *name = json_str(req->json, "name");
	if (check_new_password(req, pw, "password") < 0)
		return 0;
	if (!*name)
		return http_error(req, 400, "invalid_field", "name must not be empty", "name");
	struct reg g = {.req = req};
	char *hash;
	int r = pw_hash(pw, &req->app->pw, &hash);
	if (r < 0)
		return r;
	g.tn = (struct tenant_new){.name = name,
				   .email = email,
				   .user_name = json_str(req->json, "full_name"),
				   .pw_hash = hash};
	r = http_write(req, NULL, register_fn, &g);
	mem_free(hash);
	return r;
}

/* ---- login ---- */

struct login {
	struct http_req *req;
	json_t *user;
	bool rehash;
	const char *pw;
};

static void login_keys(struct http_req *req, const char *email, char ipk[96], char ack[300])
{
	snprintf(ipk, 96, "login-ip:%s", req->ip);
	snprintf(ack, 300, "login-acct:%s", email);
}

static int login_fn(struct store_tx *tx, void *arg)
{
	struct login *l = arg;
	struct http_req *req = l->req;
	const char *tid = json_str(l->user, "tenant_id"), *uid = json_str(l->user, "id");
	const char *role = json_str(l->user, "role");
	json_t *t, *tokens;
	int r = store_tenant_get(tx, tid, &t);
	if (r < 0)
		return r;
	snprintf(req->audit_tenant, sizeof(req->audit_tenant), "%s", tid);
	snprintf(req->audit_actor, sizeof(req->audit_actor), "%s", uid);
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", uid);
	if (strcmp(json_str(t, "status"), "active") != 0) {
		json_decref(t);
		req->commit_on_error = true; /* keep the audit entry of the refusal */
		return http_error(req, 403, "tenant_suspended", "the account is suspended", NULL);
	}
	if (l->rehash) {
		char *h;
		if (pw_hash(l->pw, &req->app->pw, &h) == 0) {
			r = store_user_set_password(tx, tid, uid, h);
			mem_free(h);
			if (r < 0) {
				json_decref(t);
				return r;
			}
		}
	}
	if ((r = issue_session(tx, req, tid, uid, role, &tokens)) < 0) {
		json_decref(t);
		return r;
	}
	json_object_set_new(tokens, "tenant", present_tenant(t));
	json_object_set_new(tokens, "user", present_user(l->user));
	json_decref(t);
	return http_reply(req, 200, tokens);
}

static int by_email_fn(struct store_tx *tx, void *arg)
{
	json_t **io = arg;
	char email[EMAIL_MAX + 1];
	snprintf(email, sizeof(email), "%s", json_string_value(*io));
	return store_user_by_email(tx, email, io);
}

/* System-scope user lookup by normalised e-mail; -ENOENT if none. */
static int user_by_email(struct http_req *req, const char *email, json_t **ret)
{
	json_t *s = json_string(email), *io = s;
	int r = store_tx(req->app->st, NULL, STORE_READ, by_email_fn, &io);
	json_decref(s);
	if (r == 0)
		*ret = io;
	return r;
}

static int login_failed(struct http_req *req, const char *ipk, const char *ack, json_t *user)
{
	const struct config *cfg = req->app->cfg;
	double rate = (double)cfg->login_max_failures / cfg->login_window_s;
	struct rl_result rr;
	ratelimit_take(req->app->logins, ipk, rate, cfg->login_max_failures, 1, &rr);
	ratelimit_take(req->app->logins, ack, rate, cfg->login_max_failures, 1, &rr);
	http_error(req, 401, "invalid_credentials", "e-mail or password is wrong", NULL);
	http_audit(req, user ? json_str(user, "tenant_id") : NULL,
		   user ? json_str(user, "id") : NULL);
	json_decref(user);
	return 0;
}

int h_login(struct http_req *req)
{
	static const struct json_field f[] = {
	    {"email", JF_STRING, true, EMAIL_MAX}, {"password", JF_STRING, true, 1024}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	const struct config *cfg = req->app->cfg;
	char email[EMAIL_MAX + 1], ipk[96], ack[300];
	if (email_normalize(json_str(req->json, "email"), email, sizeof(email)) < 0)
		snprintf(email, sizeof(email), "invalid");
	login_keys(req, email, ipk, ack);
	double rate = (double)cfg->login_max_failures / cfg->login_window_s;
	if (!ratelimit_check(req->app->logins, ipk, rate, cfg->login_max_failures) ||
	    !ratelimit_check(req->app->logins, ack, rate, cfg->login_max_failures)) {
		char v[16];
		snprintf(v, sizeof(v), "%d", (int)(1.0 / rate) + 1);
		http_header(req, "Retry-After", v);
		return http_error(req, 429, "too_many_attempts",
				  "too many failed logins; try again later", NULL);
	}
	const char *pw = json_str(req->json, "password");
	json_t *user = NULL;
	int r = user_by_email(req, email, &user);
	if (r < 0 && r != -ENOENT)
		return r;
	const char *hash = user ? json_str(user, "password_hash") : NULL;
	bool rehash = false;
	if (pw_verify(hash ? hash : dummy_hash(req->app), pw, &req->app->pw, &rehash) != 0 ||
	    !hash || strcmp(json_str(user, "status"), "active") != 0)
		return login_failed(req, ipk, ack, user);
	struct login l = {.req = req, .user = user, .rehash = rehash, .pw = pw};
	r = http_write(req, json_str(user, "tenant_id"), login_fn, &l);
	json_decref(user);
	return r;
}

/* ---- refresh ---- */

struct refresh {
	struct http_req *req;
	json_t *row;
	char hash[65];
};

static int refresh_fn(struct store_tx *tx, void *arg)
{
	struct refresh *f = arg;
	struct http_req *req = f->req;
	const char *tid = json_str(f->row, "tenant_id"), *sid = json_str(f->row, "session_id");
	const char *uid = json_str(f->row, "user_id");
	snprintf(req->audit_tenant, sizeof(req->audit_tenant), "%s", tid);
	snprintf(req->audit_actor, sizeof(req->audit_actor), "%s", uid);
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", sid);
	int r = store_refresh_use(tx, tid, f->hash);
	if (r < 0)
		return r;
	if (r == 0) { /* rotated before: a stolen copy is in use, end the whole family */
		if ((r = store_session_revoke(tx, tid, sid)) < 0)
			return r;
		req->commit_on_error = true;
		return http_error(req, 401, "refresh_reused",
				  "refresh token was already used; the session is revoked", NULL);
	}
	if (!json_is_null(json_object_get(f->row, "revoked_us")) ||
	    (uint64_t)json_int(f->row, "expires_us", 0) < time_now_us() ||
	    strcmp(json_str(f->row, "user_status"), "active") != 0)
		return http_error(req, 401, "invalid_token", "session has ended", NULL);
	if (strcmp(json_str(f->row, "tenant_status"), "active") != 0)
		return http_error(req, 403, "tenant_suspended", "the account is suspended", NULL);
	json_t *tokens;
	if ((r = issue_tokens(tx, req, tid, uid, json_str(f->row, "role"), sid, &tokens)) < 0)
		return r;
	return http_reply(req, 200, tokens);
}

static int refresh_get_fn(struct store_tx *tx, void *arg)
{
	struct refresh *f = arg;
	return store_refresh_get(tx, f->hash, &f->row);
}

int h_refresh(struct http_req *req)
{
	static const struct json_field f[] = {{"refresh_token", JF_STRING, true, 128}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	struct refresh rf = {.req = req};
	token_hash(json_str(req->json, "refresh_token"), rf.hash);
	int r = store_tx(req->app->st, NULL, STORE_READ, refresh_get_fn, &rf);
	if (r == -ENOENT)
		return http_error(req, 401, "invalid_token", "unknown refresh token", NULL);
	if (r < 0)
		return r;
	r = http_write(req, json_str(rf.row, "tenant_id"), refresh_fn, &rf);
	json_decref(rf.row);
	return r;
}

/* ---- logout, me ---- */

static int logout_fn(struct store_tx *tx, void *arg)
{
	struct http_req *req = arg;
	if (req->who.session_id[0]) {
		int r = store_session_revoke(tx, req->who.tenant_id, req->who.session_id);
		if (r < 0)
			return r;
		snprintf(req->resource_id, sizeof(req->resource_id), "%s", req->who.session_id);
	}
	return http_reply(req, 204, NULL);
}

int h_logout(struct http_req *req)
{
	static const struct json_field f[] = {{"refresh_token", JF_STRING, false, 128}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	return http_write(req, req->who.tenant_id, logout_fn, req);
}

struct me {
	struct http_req *req;
	json_t *out;
};

static int me_fn(struct store_tx *tx, void *arg)
{
	struct me *m = arg;
	struct principal *w = &m->req->who;
	json_t *t, *a;
	int r = store_tenant_get(tx, w->tenant_id, &t);
	if (r < 0)
		return r;
	bool user = !strcmp(w->actor_type, "user");
	r = user ? store_user_get(tx, w->tenant_id, w->actor_id, &a)
		 : store_apikey_get(tx, w->tenant_id, w->actor_id, &a);
	if (r < 0) {
		json_decref(t);
		return r;
	}
	m->out = json_pack("{s:o,s:o,s:s,s:s}", user ? "user" : "api_key",
			   user ? present_user(a) : present_key(a), "tenant", present_tenant(t),
			   "role", role_name(w->role), "actor_type", w->actor_type);
	json_decref(t);
	json_decref(a);
	return 0;
}

int h_me(struct http_req *req)
{
	struct me m = {.req = req};
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, me_fn, &m);
	if (r < 0)
		return r;
	return http_reply(req, 200, m.out);
}

/* ---- password change ---- */

struct pwchange {
	struct http_req *req;
	const char *hash;
};

static int pwchange_fn(struct store_tx *tx, void *arg)
{
	struct pwchange *p = arg;
	struct principal *w = &p->req->who;
	int r = store_user_set_password(tx, w->tenant_id, w->actor_id, p->hash);
	if (r < 0 ||
	    (r = store_session_revoke_user(tx, w->tenant_id, w->actor_id, w->session_id)) < 0)
		return r;
	snprintf(p->req->resource_id, sizeof(p->req->resource_id), "%s", w->actor_id);
	return http_reply(p->req, 204, NULL);
}

static int user_row_fn(struct store_tx *tx, void *arg)
{
	json_t **io = arg;
	return store_user_get(tx, store_tx_tenant(tx), json_string_value(*io), io);
}

int h_change_password(struct http_req *req)
{
	static const struct json_field f[] = {{"current_password", JF_STRING, true, 1024},
					      {"new_password", JF_STRING, true, PW_MAX_LEN},
					      {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	if (strcmp(req->who.actor_type, "user") != 0)
		return http_error(req, 403, "forbidden", "API keys have no password", NULL);
	const char *cur = json_str(req->json, "current_password");
	const char *nw = json_str(req->json, "new_password");
	if (check_new_password(req, nw, "new_password") < 0)
		return 0;
	json_t *s = json_string(req->who.actor_id), *row = s;
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, user_row_fn, &row);
	json_decref(s);
	if (r < 0)
		return r;
	r = pw_verify(json_str(row, "password_hash"), cur, &req->app->pw, NULL);
	json_decref(row);
	if (r != 0)
		return http_error(req, 403, "invalid_credentials", "current password is wrong",
				  "current_password");
	char *hash;
	if ((r = pw_hash(nw, &req->app->pw, &hash)) < 0)
		return r;
	struct pwchange p = {req, hash};
	r = http_write(req, req->who.tenant_id, pwchange_fn, &p);
	mem_free(hash);
	return r;
}

/* ---- password reset, e-mail verification ---- */

struct mailreq {
	struct http_req *req;
	json_t *user;
	const char *kind;
};

static int mail_fn(struct store_tx *tx, void *arg)
{
	struct mailreq *m = arg;
	const char *tid = json_str(m->user, "tenant_id"), *uid = json_str(m->user, "id");
	int r = queue_mail(tx, m->req, tid, uid, json_str(m->user, "email"), m->kind,
			   !strcmp(m->kind, "verify_email") ? 86400 : 3600);
	if (r < 0)
		return r;
	snprintf(m->req->resource_id, sizeof(m->req->resource_id), "%s", uid);
	snprintf(m->req->audit_tenant, sizeof(m->req->audit_tenant), "%s", tid);
	return http_reply(m->req, 202, json_pack("{s:s}", "status", "queued"));
}

int h_reset_request(struct http_req *req)
{
	static const struct json_field f[] = {{"email", JF_STRING, true, EMAIL_MAX}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	char email[EMAIL_MAX + 1];
	json_t *user = NULL;
	int r = -ENOENT;
	if (email_normalize(json_str(req->json, "email"), email, sizeof(email)) == 0)
		r = user_by_email(req, email, &user);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT || !strcmp(json_str(user, "status"), "disabled")) {
		json_decref(user); /* same answer: no account enumeration */
		return http_reply(req, 202, json_pack("{s:s}", "status", "queued"));
	}
	struct mailreq m = {req, user, "password_reset"};
	r = http_write(req, json_str(user, "tenant_id"), mail_fn, &m);
	json_decref(user);
	return r;
}

int h_verify_request(struct http_req *req)
{
	if (strcmp(req->who.actor_type, "user") != 0)
		return http_error(req, 403, "forbidden", "API keys have no e-mail", NULL);
	json_t *s = json_string(req->who.actor_id), *row = s;
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, user_row_fn, &row);
	json_decref(s);
	if (r < 0)
		return r;
	struct mailreq m = {req, row, "verify_email"};
	r = http_write(req, req->who.tenant_id, mail_fn, &m);
	json_decref(row);
	return r;
}

struct consume {
	struct http_req *req;
	char hash[65];
	const char *kind;
	const char *pw_hash; /* reset: new password */
};

static int consume_fn(struct store_tx *tx, void *arg)
{
	struct consume *c = arg;
	struct http_req *req = c->req;
	json_t *row;
	int r = store_otp_consume(tx, c->hash, c->kind, &row);
	if (r == -ENOENT)
		return http_error(req, 400, "invalid_token", "token is unknown, used or expired",
				  "token");
	if (r < 0)
		return r;
	const char *tid = json_str(row, "tenant_id"), *uid = json_str(row, "user_id");
	snprintf(req->audit_tenant, sizeof(req->audit_tenant), "%s", tid);
	snprintf(req->audit_actor, sizeof(req->audit_actor), "%s", uid);
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", uid);
	if (c->pw_hash) {
		r = store_user_set_password(tx, tid, uid, c->pw_hash);
		if (r == 0)
			r = store_session_revoke_user(tx, tid, uid, NULL);
	}
	if (r == 0)
		r = store_user_set_verified(tx, tid, uid); /* the mail reached its owner */
	json_decref(row);
	if (r < 0)
		return r;
	return http_reply(req, 204, NULL);
}

int h_reset_confirm(struct http_req *req)
{
	static const struct json_field f[] = {
	    {"token", JF_STRING, true, 128}, {"new_password", JF_STRING, true, PW_MAX_LEN}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	const char *nw = json_str(req->json, "new_password");
	if (check_new_password(req, nw, "new_password") < 0)
		return 0;
	char *hash;
	int r = pw_hash(nw, &req->app->pw, &hash);
	if (r < 0)
		return r;
	struct consume c = {.req = req, .kind = "reset", .pw_hash = hash};
	token_hash(json_str(req->json, "token"), c.hash);
	r = http_write(req, NULL, consume_fn, &c);
	mem_free(hash);
	return r;
}

int h_verify_email(struct http_req *req)
{
	static const struct json_field f[] = {{"token", JF_STRING, true, 128}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	struct consume c = {.req = req, .kind = "verify"};
	token_hash(json_str(req->json, "token"), c.hash);
	return http_write(req, NULL, consume_fn, &c);
}
