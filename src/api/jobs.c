/* jobs.c: /v1/jobs: background jobs and dead letters of the bus; a tenant sees its own,
   a platform admin every tenant's; dead-lettered jobs can be retried. */
#include "internal.h"
#include "bus/bus.h"

struct jctx {
	struct http_req *req;
	const char *id;
	struct store_job_filter f;
	json_t *rows;
};

/* Platform admins work in system scope (NULL): every tenant's jobs. */
static const char *scope(struct http_req *req)
{
	return req->who.platform_admin ? NULL : req->who.tenant_id;
}

json_t *present_job(json_t *row)
{
	static const char *const omit[] = {"payload", "run_at_us", NULL};
	json_t *o = present(row, omit);
	char ts[TIME_RFC3339_LEN];
	json_object_set_new(o, "run_at",
			    json_string(time_fmt((uint64_t)json_int(row, "run_at_us", 0), ts)));
	const char *p = json_str(row, "payload");
	json_t *pj = p ? json_loads(p, JSON_DECODE_ANY, NULL) : NULL;
	json_object_set_new(o, "payload", pj ? pj : json_string(p ? p : ""));
	return o;
}

static int list_fn(struct store_tx *tx, void *arg)
{
	struct jctx *c = arg;
	return store_job_list(tx, scope(c->req), &c->f, &c->rows);
}

int h_jobs_list(struct http_req *req)
{
	struct jctx c = {.req = req};
	if (http_page_params(req, &c.f.limit, &c.f.cursor) < 0)
		return 0;
	c.f.state = http_get_query(req, "state");
	c.f.subject = http_get_query(req, "subject");
	static const char *const states[] = {"outbox", "queued", "running", "done", "dead", NULL};
	if (c.f.state) {
		bool ok = false;
		for (int i = 0; states[i]; i++)
			ok |= !strcmp(states[i], c.f.state);
		if (!ok)
			return http_error(req, 400, "invalid_query",
					  "state must be outbox, queued, running, done or dead",
					  "state");
	}
	if (c.f.subject && strlen(c.f.subject) > 64)
		return http_error(req, 400, "invalid_query", "subject too long", "subject");
	int r = store_tx(req->app->st, scope(req), STORE_READ, list_fn, &c);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(c.rows, c.f.limit, present_job));
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct jctx *c = arg;
	return store_job_get(tx, scope(c->req), c->id, &c->rows);
}

int h_jobs_get(struct http_req *req)
{
	struct jctx c = {.req = req, .id = path_id(req, 0, "JB")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, scope(req), STORE_READ, get_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_job(c.rows));
	json_decref(c.rows);
	return 0;
}

int h_jobs_retry(struct http_req *req)
{
	const char *id = path_id(req, 0, "JB");
	if (!id)
		return not_found(req);
	int r = bus_retry(req->app->bus, scope(req), id);
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", id);
	if (r == -EBUSY)
		r = http_error(req, 409, "job_not_dead", "only dead-lettered jobs can be retried",
			       NULL);
	else if (r >= 0)
		r = http_reply(req, 202, json_pack("{s:s,s:s}", "id", id, "state", "queued"));
	return r; /* audited by the dispatcher, with the final status */
}
