/* webhooks.c: /v1/webhooks (endpoints: create with a secret shown once, list, fetch,
   update, delete, rotate the secret, send a test event), their delivery log and replay,
   the event catalogue, and the tenant's auth token (signs status callbacks). */
#include "internal.h"
#include "webhooks/webhooks.h"

#define ROTATE_GRACE_US (24ull * 3600 * 1000000)
#define EVENTS_MAX 64
#define REPLAY_MAX 10000

struct wctx {
	struct http_req *req;
	const char *id, *cursor;
	int limit;
	json_t *rows;
	struct store_endpoint e;
	char new_id[ID_LEN + 1], secret[WEBHOOK_SECRET_MAX], event_id[ID_LEN + 1];
	uint64_t since_us;
	int count;
};

json_t *present_endpoint(json_t *row)
{
	static const char *const omit[] = {
	    "secret", "old_secret", "event_types", "enabled", "old_secret_expires_us", NULL};
	json_t *o = present(row, omit);
	json_t *ev = json_loads(json_str(row, "event_types"), 0, NULL);
	json_object_set_new(o, "events", ev ? ev : json_array());
	json_object_set_new(o, "enabled", json_boolean(json_int(row, "enabled", 0) == 1));
	int64_t exp = json_int(row, "old_secret_expires_us", 0);
	char ts[TIME_RFC3339_LEN];
	json_object_set_new(o, "previous_secret_expires_at",
			    exp > (int64_t)time_now_us() ? json_string(time_fmt((uint64_t)exp, ts))
							 : json_null());
	return o;
}

json_t *present_delivery(json_t *row)
{
	static const char *const omit[] = {"latency_us", NULL};
	json_t *o = present(row, omit);
	json_object_set_new(o, "latency_ms",
			    json_real((double)json_int(row, "latency_us", 0) / 1000.0));
	return o;
}

/* events: array of valid patterns -> JSON text (caller frees); answers 400 on error. */
static char *events_text(struct http_req *req, json_t *ev)
{
	if (!ev)
		return mem_strdup("[\"*\"]");
	if (!json_is_array(ev) || json_array_size(ev) == 0 || json_array_size(ev) > EVENTS_MAX) {
		http_error(req, 400, "invalid_field",
			   "events must be a list of 1 to 64 event types", "events");
		return NULL;
	}
	size_t i;
	json_t *v;
	json_array_foreach (ev, i, v) {
		if (!json_is_string(v) || !webhooks_pattern_valid(json_string_value(v))) {
			http_error(req, 400, "invalid_field",
				   "unknown event type (see GET /v1/webhooks/event-types)",
				   "events");
			return NULL;
		}
	}
	char *s = json_dumps(ev, JSON_COMPACT);
	char *out = mem_strdup(s);
	free(s);
	return out;
}

static int check_url(struct http_req *req, const char *url)
{
	const char *why = NULL;
	if (webhooks_check_url(url, req->app->cfg->outbound_allow_private, &why) < 0) {
		http_error(req, 400, "invalid_url", why ? why : "url not allowed", "url");
		return -EINVAL;
	}
	return 0;
}

static const struct json_field endpoint_fields[] = {{"url", JF_STRING, false, 2048},
						    {"events", JF_ARRAY, false, 0},
						    {"description", JF_STRING, false, 500},
						    {"enabled", JF_BOOL, false, 0},
						    {0}};

static int create_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	int r = store_endpoint_insert(tx, &c->e);
	json_t *row;
	if (r < 0 || (r = store_endpoint_get(tx, c->e.tenant_id, c->e.id, &row)) < 0)
		return r;
	json_t *out = present_endpoint(row);
	json_decref(row);
	json_object_set_new(out, "secret", json_string(c->secret));
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->e.id);
	return http_reply(c->req, 201, out);
}

int h_webhooks_create(struct http_req *req)
{
	if (http_check_body(req, endpoint_fields) < 0)
		return 0;
	const char *url = json_str(req->json, "url");
	if (!url)
		return http_error(req, 400, "missing_field", "url is required", "url");
	if (check_url(req, url) < 0)
		return 0;
	char *events = events_text(req, json_object_get(req->json, "events"));
	if (!events)
		return 0;
	struct wctx c = {.req = req};
	id_new("WH", c.new_id);
	webhooks_secret_new(c.secret);
	json_t *en = json_object_get(req->json, "enabled");
	c.e = (struct store_endpoint){.id = c.new_id,
				      .tenant_id = req->who.tenant_id,
				      .url = url,
				      .description = json_str(req->json, "description"),
				      .event_types = events,
				      .secret = c.secret,
				      .enabled = en ? json_is_true(en) : 1};
	int r = http_write(req, req->who.tenant_id, create_fn, &c);
	mem_free(events);
	memset(c.secret, 0, sizeof(c.secret));
	return r;
}

int h_webhooks_list(struct http_req *req)
{
	return api_list(req, req->who.tenant_id, store_endpoint_list, present_endpoint);
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	return store_endpoint_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_webhooks_get(struct http_req *req)
{
	struct wctx c = {.req = req, .id = path_id(req, 0, "WH")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, get_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_endpoint(c.rows));
	json_decref(c.rows);
	return 0;
}

static int patch_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	int r = store_endpoint_update(tx, store_tx_tenant(tx), c->id, &c->e);
	json_t *row;
	if (r < 0 || (r = store_endpoint_get(tx, store_tx_tenant(tx), c->id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	http_reply(c->req, 200, present_endpoint(row));
	json_decref(row);
	return 0;
}

int h_webhooks_patch(struct http_req *req)
{
	struct wctx c = {.req = req, .id = path_id(req, 0, "WH")};
	if (!c.id)
		return not_found(req);
	if (http_check_body(req, endpoint_fields) < 0)
		return 0;
	const char *url = json_str(req->json, "url");
	if (url && check_url(req, url) < 0)
		return 0;
	json_t *ev = json_object_get(req->json, "events");
	char *events = NULL;
	if (ev && !(events = events_text(req, ev)))
		return 0;
	json_t *en = json_object_get(req->json, "enabled");
	c.e = (struct store_endpoint){.url = url,
				      .description = json_str(req->json, "description"),
				      .event_types = events,
				      .enabled = en ? json_is_true(en) : -1};
	int r = http_write(req, req->who.tenant_id, patch_fn, &c);
	mem_free(events);
	webhooks_forget_endpoint(req->app->webhooks, c.id);
	return r;
}

static int delete_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	int r = store_endpoint_delete(tx, store_tx_tenant(tx), c->id);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 204, NULL);
}

int h_webhooks_delete(struct http_req *req)
{
	struct wctx c = {.req = req, .id = path_id(req, 0, "WH")};
	if (!c.id)
		return not_found(req);
	int r = http_write(req, req->who.tenant_id, delete_fn, &c);
	webhooks_forget_endpoint(req->app->webhooks, c.id);
	return r;
}

static int rotate_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	int r = store_endpoint_rotate(tx, store_tx_tenant(tx), c->id, c->secret,
				      time_now_us() + ROTATE_GRACE_US);
	json_t *row;
	if (r < 0 || (r = store_endpoint_get(tx, store_tx_tenant(tx), c->id, &row)) < 0)
		return r;
	json_t *out = present_endpoint(row);
	json_decref(row);
	json_object_set_new(out, "secret", json_string(c->secret));
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 200, out);
}

int h_webhooks_rotate(struct http_req *req)
{
	struct wctx c = {.req = req, .id = path_id(req, 0, "WH")};
	if (!c.id)
		return not_found(req);
	webhooks_secret_new(c.secret);
	int r = http_write(req, req->who.tenant_id, rotate_fn, &c);
	memset(c.secret, 0, sizeof(c.secret));
	webhooks_forget_endpoint(req->app->webhooks, c.id);
	return r;
}

static int test_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	struct http_req *req = c->req;
	json_t *row;
	int r = store_endpoint_get(tx, store_tx_tenant(tx), c->id, &row);
	if (r < 0)
		return r;
	bool enabled = json_int(row, "enabled", 0) == 1;
	json_decref(row);
	if (!enabled)
		return http_error(req, 409, "endpoint_disabled",
				  "the endpoint is disabled; enable it first", NULL);
	json_t *data = json_pack("{s:s,s:s}", "endpoint_id", c->id, "message",
				 "This is a test event from IRISX");
	r = webhooks_emit_tx(req->app->bus, tx, store_tx_tenant(tx), "webhook.test", data, c->id,
			     c->event_id);
	json_decref(data);
	if (r < 0)
		return r;
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", c->id);
	return http_reply(req, 202,
			  json_pack("{s:s,s:s}", "event_id", c->event_id, "type", "webhook.test"));
}

int h_webhooks_test(struct http_req *req)
{
	struct wctx c = {.req = req, .id = path_id(req, 0, "WH")};
	if (!c.id)
		return not_found(req);
	int r = http_write(req, req->who.tenant_id, test_fn, &c);
	bus_kick(req->app->bus);
	return r;
}

static int deliveries_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	json_t *row;
	int r = store_endpoint_get(tx, store_tx_tenant(tx), c->id, &row);
	if (r < 0)
		return r;
	json_decref(row);
	return store_delivery_list(tx, store_tx_tenant(tx), c->id, c->cursor, c->limit, &c->rows);
}

int h_webhooks_deliveries(struct http_req *req)
{
	struct wctx c = {.req = req, .id = path_id(req, 0, "WH")};
	if (!c.id)
		return not_found(req);
	if (http_page_params(req, &c.limit, &c.cursor) < 0)
		return 0;
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, deliveries_fn, &c);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(c.rows, c.limit, present_delivery));
}

static int replay_one_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	struct http_req *req = c->req;
	const char *tenant = store_tx_tenant(tx);
	json_t *d, *ep = NULL;
	int r = store_delivery_get(tx, tenant, c->id, &d);
	if (r < 0)
		return r;
	const char *ev = json_str(d, "event_id"), *epid = json_str(d, "endpoint_id");
	if (!ev || !epid) {
		json_decref(d);
		return http_error(req, 409, "not_replayable",
				  "only webhook deliveries can be replayed; retry a callback's job "
				  "with POST /v1/jobs/{id}/retry",
				  NULL);
	}
	r = store_endpoint_get(tx, tenant, epid, &ep);
	if (r == 0 && json_int(ep, "enabled", 0) != 1)
		r = http_error(req, 409, "endpoint_disabled",
			       "the endpoint is disabled; enable it first", NULL)
			?: 1;
	char job[ID_LEN + 1];
	if (r == 0 && (r = webhooks_replay_tx(req->app->bus, tx, tenant, ev, epid, job)) == 0) {
		snprintf(req->resource_id, sizeof(req->resource_id), "%s", c->id);
		http_reply(
		    req, 202,
		    json_pack("{s:s,s:s,s:s}", "job_id", job, "event_id", ev, "endpoint_id", epid));
	}
	json_decref(ep);
	json_decref(d);
	return r < 0 ? r : 0;
}

int h_delivery_replay(struct http_req *req)
{
	struct wctx c = {.req = req, .id = path_id(req, 0, "WD")};
	if (!c.id)
		return not_found(req);
	int r = http_write(req, req->who.tenant_id, replay_one_fn, &c);
	bus_kick(req->app->bus);
	return r;
}

static int replay_all_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	struct http_req *req = c->req;
	const char *tenant = store_tx_tenant(tx);
	json_t *ep;
	int r = store_endpoint_get(tx, tenant, c->id, &ep);
	if (r < 0)
		return r;
	bool enabled = json_int(ep, "enabled", 0) == 1;
	json_decref(ep);
	if (!enabled)
		return http_error(req, 409, "endpoint_disabled",
				  "the endpoint is disabled; enable it first", NULL);
	json_t *rows;
	if ((r = store_deliveries_failed(tx, tenant, c->id, c->since_us, REPLAY_MAX, &rows)) < 0)
		return r;
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		if ((r = webhooks_replay_tx(req->app->bus, tx, tenant, json_str(row, "event_id"),
					    c->id, NULL)) < 0)
			break;
		c->count++;
	}
	json_decref(rows);
	if (r < 0)
		return r;
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", c->id);
	return http_reply(req, 202, json_pack("{s:i}", "replayed", c->count));
}

int h_webhooks_replay(struct http_req *req)
{
	static const struct json_field f[] = {{"since", JF_STRING, true, 64}, {0}};
	struct wctx c = {.req = req, .id = path_id(req, 0, "WH")};
	if (!c.id)
		return not_found(req);
	if (http_check_body(req, f) < 0)
		return 0;
	if (time_parse(json_str(req->json, "since"), &c.since_us) < 0)
		return http_error(req, 400, "invalid_field", "since must be an RFC 3339 time",
				  "since");
	int r = http_write(req, req->who.tenant_id, replay_all_fn, &c);
	bus_kick(req->app->bus);
	return r;
}

int h_webhooks_event_types(struct http_req *req)
{
	return http_reply(req, 200, json_pack("{s:o}", "data", webhooks_catalogue()));
}

/* ---- the tenant's auth token ---- */

static int token_fn(struct store_tx *tx, void *arg)
{
	struct wctx *c = arg;
	char tok[33];
	webhooks_auth_token_new(tok);
	bool rotate = !strcmp(c->req->method, "POST");
	json_t *row;
	int r = store_tenant_auth_token(tx, store_tx_tenant(tx), tok, rotate, &row);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", store_tx_tenant(tx));
	http_reply(c->req, 200,
		   json_pack("{s:s,s:s}", "account_sid", store_tx_tenant(tx), "auth_token",
			     json_str(row, "auth_token")));
	json_decref(row);
	return 0;
}

int h_auth_token_get(struct http_req *req)
{
	struct wctx c = {.req = req};
	return http_write(req, req->who.tenant_id, token_fn, &c);
}
