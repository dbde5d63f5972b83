/* write.c: a handler's write transaction, with its audit entry and idempotency record
   committed together with the change (nothing half-written), waited for or queued. */
#include <string.h>

#include "internal.h"

struct write_ctx {
	struct http_req *req;
	store_tx_fn *fn;
	void *arg;
	const char *tenant_id;
	http_after_cb *after; /* http_write_async */
	void *after_arg;
};

static const char *outcome_of(int status)
{
	if (status < 400)
		return "success";
	return (status == 401 || status == 403 || status == 429) ? "denied" : "failure";
}

static int audit_in(struct store_tx *tx, struct http_req *req, const char *tenant_id,
		    const char *actor_id)
{
	const char *rid = req->resource_id[0] ? req->resource_id : req->params[0];
	struct audit_entry e = {
	    .tenant_id = tenant_id,
	    .actor_id = actor_id,
	    .actor_type = req->authed ? req->who.actor_type : NULL,
	    .action = req->route->action,
	    .resource_id = rid,
	    .ip = req->ip,
	    .request_id = req->request_id,
	    .status = req->status,
	    .outcome = outcome_of(req->status),
	};
	return store_audit_insert(tx, &e);
}

/* Replays a stored response if the key was used; -EEXIST with another body. */
static int replay(struct http_req *req, json_t *row)
{
	const char *hash = json_string_value(json_object_get(row, "request_hash"));
	if (!hash || strcmp(hash, req->idem_hash) != 0) {
		http_error(req, 422, "idempotency_conflict",
			   "Idempotency-Key was already used with a different request",
			   "Idempotency-Key");
		return 0;
	}
	json_t *body = json_loads(json_string_value(json_object_get(row, "body")), 0, NULL);
	http_reply(req, (int)json_integer_value(json_object_get(row, "status")), body);
	http_header(req, "Idempotent-Replayed", "true");
	req->replayed = true;
	return 0;
}

static int write_fn(struct store_tx *tx, void *arg)
{
	struct write_ctx *w = arg;
	struct http_req *req = w->req;
	if (req->idem_key) {
		json_t *row;
		int r = store_idem_get(tx, w->tenant_id, req->idem_key, &row);
		if (r == 0) {
			replay(req, row);
			json_decref(row);
			return 1; /* nothing to write */
		}
		if (r != -ENOENT)
			return r;
	}
	int r = w->fn(tx, w->arg);
	if (r < 0)
		return r;
	if (req->status >= 400 && !req->commit_on_error)
		return -ECANCELED; /* roll back whatever fn did */
	int a = audit_in(tx, req, req->audit_tenant[0] ? req->audit_tenant : w->tenant_id,
			 req->authed	       ? req->who.actor_id
			 : req->audit_actor[0] ? req->audit_actor
					       : NULL);
	if (a < 0)
		return a;
	if (req->idem_key) {
		/* a replay must not hand out a secret a second time: it is stored nowhere */
		json_t *kept = json_deep_copy(req->resp);
		json_object_del(kept, "secret");
		char *body = json_dumps(kept, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(kept);
		a = store_idem_put(tx, w->tenant_id, req->idem_key, req->idem_hash, req->status,
				   body ? body : "null");
		free(body);
		if (a < 0)
			return a;
	}
	req->audited = true;
	return r;
}

static int replay_fn(struct store_tx *tx, void *arg)
{
	struct write_ctx *w = arg;
	json_t *row;
	int r = store_idem_get(tx, w->tenant_id, w->req->idem_key, &row);
	if (r < 0)
		return r;
	replay(w->req, row);
	json_decref(row);
	return 0;
}

/* What http_write returns once its transaction returned r (the response set to match). */
static int write_result(struct write_ctx *w, int r)
{
	struct http_req *req = w->req;
	const char *tenant_id = w->tenant_id;
	if (r >= 0 && (req->route->flags & ROUTE_AUTH_CHANGE))
		http_auth_invalidate(
		    req->app->keys); /* committed: no cached principal outlives it */
	if (r == -ECANCELED)
		return 0; /* fn answered with an error; its response stands */
	if (r == -EEXIST && req->idem_key && !req->audited) {
		/* a concurrent request with the same key committed first (PostgreSQL) */
		json_decref(req->resp);
		req->resp = NULL;
		req->status = 0;
		return store_tx(req->app->st, tenant_id, STORE_READ, replay_fn, w);
	}
	if (r < 0) {
		req->audited = false;
		json_decref(req->resp);
		req->resp = NULL;
		req->status = 0;
	}
	return r < 0 ? r : 0;
}

static int write_now(struct http_req *req, const char *tenant_id, int flags, store_tx_fn *fn,
		     void *arg)
{
	struct write_ctx w = {.req = req, .fn = fn, .arg = arg, .tenant_id = tenant_id};
	if (!tenant_id)
		req->idem_key = NULL; /* keys are scoped to a tenant */
	return write_result(&w, store_tx(req->app->st, tenant_id, flags, write_fn, &w));
}

int http_write(struct http_req *req, const char *tenant_id, store_tx_fn *fn, void *arg)
{
	return write_now(req, tenant_id, STORE_WRITE, fn, arg);
}

/* On the store's completion thread (or at once without one): the rest of http_write, the
   handler's after, then the request is concluded and handed back to the server. */
static void write_done(void *arg, int result)
{
	struct write_ctx *w = arg;
	struct http_req *req = w->req;
	int r = write_result(w, result);
	if (w->after)
		r = w->after(req, w->after_arg, r);
	mem_free(w);
	http_dispatch_done(req, r);
}

int http_write_async(struct http_req *req, const char *tenant_id, store_tx_fn *fn, void *arg,
		     http_after_cb *after, void *after_arg)
{
	if (req->resume) {
		struct write_ctx *w = mem_zalloc(sizeof(*w));
		*w = (struct write_ctx){req, fn, arg, tenant_id, after, after_arg};
		if (!tenant_id)
			req->idem_key = NULL;
		req->pending = true;
		if (store_tx_async(req->app->st, tenant_id, STORE_WRITE | STORE_REPLAY, write_fn, w,
				   write_done, w) == 0)
			return 0;
		req->pending = false;
		mem_free(w);
	}
	/* no server to hand it back to, or the store refused to queue it */
	int r = write_now(req, tenant_id, STORE_WRITE | STORE_REPLAY, fn, arg);
	return after ? after(req, after_arg, r) : r;
}

struct audit_ctx {
	struct http_req *req;
	const char *tenant_id, *actor_id;
};

static int audit_fn(struct store_tx *tx, void *arg)
{
	struct audit_ctx *a = arg;
	return audit_in(tx, a->req, a->tenant_id, a->actor_id);
}

void http_audit(struct http_req *req, const char *tenant_id, const char *actor_id)
{
	struct audit_ctx a = {req, tenant_id, actor_id};
	if (store_tx(req->app->st, tenant_id, STORE_WRITE, audit_fn, &a) == 0)
		req->audited = true;
}

static void audit_done(void *arg, int result)
{
	struct audit_ctx *a = arg;
	struct http_req *req = a->req;
	mem_free(a);
	if (result == 0)
		req->audited = true;
	req->resume(req);
}

int http_audit_async(struct http_req *req, const char *tenant_id, const char *actor_id)
{
	struct audit_ctx *a = mem_zalloc(sizeof(*a));
	*a = (struct audit_ctx){req, tenant_id, actor_id};
	int r = store_tx_async(req->app->st, tenant_id, STORE_WRITE | STORE_REPLAY, audit_fn, a,
			       audit_done, a);
	if (r < 0)
		mem_free(a);
	return r;
}
