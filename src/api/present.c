/* present.c: store rows -> API resources (times as RFC 3339, flags as booleans), and small
   helpers shared by the handlers. */
#include <ctype.h>

#include "internal.h"

static const char *const bool_cols[] = {"platform", "email_verified", NULL};

static bool in(const char *k, const char *const *list)
{
	for (; list && *list; list++)
		if (!strcmp(*list, k))
			return true;
	return false;
}

json_t *present(json_t *row, const char *const *omit)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach (row, k, v) {
		if (in(k, omit))
			continue;
		size_t kl = strlen(k);
		if (kl > 3 && !strcmp(k + kl - 3, "_us")) {
			char name[64], ts[TIME_RFC3339_LEN];
			snprintf(name, sizeof(name), "%.*s_at", (int)(kl - 3), k);
			json_object_set_new(
			    o, name,
			    json_is_integer(v)
				? json_string(time_fmt((uint64_t)json_integer_value(v), ts))
				: json_null());
		} else if (in(k, bool_cols)) {
			json_object_set_new(o, k, json_boolean(json_integer_value(v) != 0));
		} else {
			json_object_set(o, k, v);
		}
	}
	return o;
}

json_t *present_tenant(json_t *row)
{
	static const char *const omit[] = {"api_rps", "api_burst", "key_rps", "key_burst", NULL};
	return present(row, omit);
}

json_t *present_user(json_t *row)
{
	static const char *const omit[] = {"password_hash", NULL};
	return present(row, omit);
}

json_t *present_key(json_t *row)
{
	static const char *const omit[] = {"hash", NULL};
	return present(row, omit);
}

json_t *present_plain(json_t *row)
{
	return present(row, NULL);
}

int email_normalize(const char *in, char *out, size_t n)
{
	size_t len = strlen(in);
	if (len < 3 || len > EMAIL_MAX || len >= n)
		return -EINVAL;
	const char *at = strchr(in, '@');
	if (!at || at == in || !at[1] || strchr(at + 1, '@') || !strchr(at + 1, '.'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"')
			return -EINVAL;
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return 0;
}

const char *path_id(struct http_req *req, int i, const char *prefix)
{
	const char *p = req->params[i];
	return id_valid(p, prefix) ? p : NULL;
}

int not_found(struct http_req *req)
{
	return http_error(req, 404, "not_found", "resource not found", NULL);
}

int issue_session(struct store_tx *tx, struct http_req *req, const char *tenant_id,
		  const char *user_id, const char *role, json_t **ret_tokens)
{
	char sid[ID_LEN + 1];
	id_new("SE", sid);
	uint64_t exp = time_now_us() + (uint64_t)req->app->cfg->refresh_ttl_s * 1000000u;
	int r = store_session_insert(tx, tenant_id, sid, user_id, exp);
	if (r < 0)
		return r;
	return issue_tokens(tx, req, tenant_id, user_id, role, sid, ret_tokens);
}

int issue_tokens(struct store_tx *tx, struct http_req *req, const char *tenant_id,
		 const char *user_id, const char *role, const char *sid, json_t **ret_tokens)
{
	const struct config *cfg = req->app->cfg;
	char rt[TOKEN_LEN], rth[65];
	uint64_t now = time_now_us();
	token_new(rt);
	token_hash(rt, rth);
	int r = store_refresh_insert(tx, tenant_id, rth, sid);
	if (r < 0)
		return r;
	struct jwt_claims c = {0};
	snprintf(c.sub, sizeof(c.sub), "%s", user_id);
	snprintf(c.tid, sizeof(c.tid), "%s", tenant_id);
	snprintf(c.sid, sizeof(c.sid), "%s", sid);
	snprintf(c.role, sizeof(c.role), "%s", role);
	snprintf(c.iss, sizeof(c.iss), "%s", cfg->jwt_issuer);
	snprintf(c.aud, sizeof(c.aud), "%s", cfg->jwt_audience);
	c.iat = c.nbf = (int64_t)(now / 1000000u);
	c.exp = c.iat + cfg->access_ttl_s;
	char *jwt;
	if ((r = keyring_sign(req->app->keys, &c, &jwt)) < 0)
		return r;
	*ret_tokens = json_pack("{s:s,s:s,s:s,s:i}", "access_token", jwt, "refresh_token", rt,
				"token_type", "Bearer", "expires_in", cfg->access_ttl_s);
	mem_free(jwt);
	return 0;
}

struct list_q {
	api_list_fn *list;
	const char *cursor;
	int limit;
	json_t *rows;
};

static int list_fn(struct store_tx *tx, void *arg)
{
	struct list_q *q = arg;
	return q->list(tx, store_tx_tenant(tx), q->cursor, q->limit, &q->rows);
}

int api_list(struct http_req *req, const char *scope, api_list_fn *list,
	     json_t *(*shape)(json_t *row))
{
	struct list_q q = {.list = list};
	if (http_page_params(req, &q.limit, &q.cursor) < 0)
		return 0;
	int r = store_tx(req->app->st, scope, STORE_READ, list_fn, &q);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(q.rows, q.limit, shape));
}
