/* dispatch.c: the middleware chain every request passes: body parsing, authentication,
   roles, rate limits, idempotency replay, the handler, and the audit of mutating requests. */
#include <string.h>

#include "internal.h"

static bool mutating(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static int parse_body(struct http_req *req)
{
	const char *ct = http_get_header(req, "Content-Type");
	if (req->body_len == 0 || (req->route && (req->route->flags & ROUTE_ANY_BODY))) {
		req->json = json_object(); /* ROUTE_ANY_BODY: the handler reads req->body itself */
		return 0;
	}
	if (req->route && (req->route->flags & ROUTE_FORM)) {
		/* Twilio's clients post forms: fields become strings (repeated ones arrays) */
		if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
			http_error(req, 415, "unsupported_media_type",
				   "send application/x-www-form-urlencoded", NULL);
			return -EINVAL;
		}
		int r = form_parse(req->body, req->body_len, &req->json);
		if (r < 0)
			http_error(req, 400, "invalid_form",
				   r == -E2BIG ? "too many form fields" : "malformed form body",
				   NULL);
		return r;
	}
	if (ct && strncasecmp(ct, "application/json", 16) != 0) {
		http_error(req, 415, "unsupported_media_type", "send application/json", NULL);
		return -EINVAL;
	}
	const char *err;
	int r = json_parse_body(req->body, req->body_len, &req->json, &err);
	if (r == -ENOTSUP) {
		http_error(req, 400, "unknown_field", err, NULL);
		return r;
	}
	if (r < 0) {
		http_error(req, 400, "invalid_json", err, NULL);
		return r;
	}
	return 0;
}

static void rl_headers(struct http_req *req, const struct rl_result *rr)
{
	char v[32];
	snprintf(v, sizeof(v), "%d", rr->limit);
	http_header(req, "RateLimit-Limit", v);
	snprintf(v, sizeof(v), "%d", rr->remaining);
	http_header(req, "RateLimit-Remaining", v);
	snprintf(v, sizeof(v), "%d", rr->reset_s);
	http_header(req, "RateLimit-Reset", v);
}

/* Per API key (or user) and per tenant token buckets. */
static int rate_limit(struct http_req *req)
{
	struct principal *w = &req->who;
	struct rl_result kr, tr;
	char actor[ID_LEN + 4];
	/* the auth token's actor is the tenant itself: its own bucket, not the tenant's */
	snprintf(actor, sizeof(actor), "%s%s",
		 strcmp(w->actor_id, w->tenant_id) ? "" : "at:", w->actor_id);
	ratelimit_take(req->app->rl, actor, w->key_rps, w->key_burst, 1, &kr);
	ratelimit_take(req->app->rl, w->tenant_id, w->tenant_rps, w->tenant_burst, kr.allowed, &tr);
	const struct rl_result *show = (!tr.allowed || tr.remaining < kr.remaining) ? &tr : &kr;
	rl_headers(req, show);
	if (kr.allowed && tr.allowed)
		return 0;
	const struct rl_result *deny = kr.allowed ? &tr : &kr;
	char v[16];
	snprintf(v, sizeof(v), "%d", deny->retry_after_s);
	http_header(req, "Retry-After", v);
	http_error(req, 429, "rate_limited",
		   kr.allowed ? "tenant request rate exceeded" : "API key request rate exceeded",
		   NULL);
	return -EAGAIN;
}

/* Unauthenticated writes (register, login, reset requests) are limited per client IP with
   the per-key defaults. */
static int public_rate_limit(struct http_req *req)
{
	const struct config *cfg = req->app->cfg;
	char key[96];
	struct rl_result rr;
	snprintf(key, sizeof(key), "ip:%s", req->ip);
	ratelimit_take(req->app->rl, key, cfg->rate_key_rps, cfg->rate_key_burst, 1, &rr);
	rl_headers(req, &rr);
	if (rr.allowed)
		return 0;
	char v[16];
	snprintf(v, sizeof(v), "%d", rr.retry_after_s);
	http_header(req, "Retry-After", v);
	http_error(req, 429, "rate_limited", "too many requests from this address", NULL);
	return -EAGAIN;
}

/* Idempotency-Key: remembers the request's hash; a stored answer is replayed here (fast path)
   and again inside the write transaction (authoritative, see http_write). */
static int idempotency(struct http_req *req)
{
	const char *key = http_get_header(req, "Idempotency-Key");
	if (!key || !(req->route->flags & ROUTE_CREATE) || !req->authed)
		return 0;
	size_t kl = strlen(key);
	if (kl == 0 || kl > 255) {
		http_error(req, 400, "invalid_header", "Idempotency-Key must be 1..255 characters",
			   "Idempotency-Key");
		return -EINVAL;
	}
	req->idem_key = key;
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s %s\n", req->method, req->path);
	buf_append(&b, req->body, req->body_len);
	sha256_hex(b.p, b.len, req->idem_hash);
	buf_free(&b);
	return 0;
}

/* A mutating request the handler's transaction did not audit gets its own audit entry. */
static bool audit_wanted(struct http_req *req)
{
	if (req->audited || !req->route || !mutating(req->method) || !req->route->action)
		return false;
	/* anonymous refusals before any work (bad input, limits) identify nobody; writing
	   each would let a flood occupy the writer: the request log has them */
	return req->authed || req->status < 400;
}

/* A refusal's audit entry: queued when the request can be answered later (pool mode), so
   refusals (429s of a flood) never hold an epoll thread for a commit. */
static void audit_after(struct http_req *req)
{
	if (!audit_wanted(req))
		return;
	const char *tenant = req->authed ? req->who.tenant_id : NULL;
	const char *actor = req->authed ? req->who.actor_id : NULL;
	if (req->resume) {
		req->pending = true;
		if (http_audit_async(req, tenant, actor) == 0)
			return; /* resumed once written */
		req->pending = false;
	}
	http_audit(req, tenant, actor);
}

/* The handler returned r: an error answer when it set none. */
static void conclude(struct http_req *req, int r)
{
	if (r < 0 && req->status == 0) {
		int st = http_status_of(r);
		http_error(req, st, http_code_of(st),
			   st == 404   ? "resource not found"
			   : st == 409 ? "resource already exists"
			   : st >= 500 ? "the service could not complete the request"
				       : "request could not be processed",
			   NULL);
	}
	if (req->status == 0)
		http_error(req, 500, "internal", "handler produced no response", NULL);
}

void http_dispatch_done(struct http_req *req, int r)
{
	conclude(req, r);
	if (audit_wanted(req) && http_audit_async(req, req->authed ? req->who.tenant_id : NULL,
						  req->authed ? req->who.actor_id : NULL) == 0)
		return; /* resumed once written */
	req->resume(req);
}

void http_dispatch(struct http_req *req)
{
	const struct route *rt = req->route;
	if (parse_body(req) < 0)
		goto out;
	if (rt->role != ROLE_NONE) {
		if (http_authenticate(req) < 0)
			goto out;
		if (!role_allows(req->who.role, rt->role)) {
			http_error(req, 403, "forbidden", "your role does not allow this", NULL);
			goto out;
		}
		if (rate_limit(req) < 0)
			goto out;
	} else if (mutating(req->method) && public_rate_limit(req) < 0)
		goto out;
	if (idempotency(req) < 0)
		goto out;
	if (!(rt->flags & ROUTE_BODY) && json_object_size(req->json) > 0) {
		void *it = json_object_iter(req->json);
		http_error(req, 400, "unknown_field", "this route takes no body fields",
			   json_object_iter_key(it));
		goto out;
	}
	if (!json_is_object(req->json) && !(rt->flags & ROUTE_BODY)) {
		http_error(req, 400, "invalid_body", "this route takes no body", NULL);
		goto out;
	}
	int r = rt->handler(req);
	if (req->pending)
		return; /* its write is queued: http_dispatch_done concludes it */
	conclude(req, r);
out:
	audit_after(req);
}
