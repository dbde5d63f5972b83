/* calls.c: /v1/calls (create, list, fetch, update: redirect / hang up / cancel, transfer,
   CSV export). Validation, enqueueing and commands are the calls module's; these handlers
   shape requests and answers. */
#include "calls/calls.h"
#include "internal.h"

#define EXPORT_MAX_ROWS 100000
#define EXPORT_MAX_BYTES (64u * 1024 * 1024)
#define EXPORT_PAGE 1000

struct cctx {
	struct http_req *req;
	const char *id;
	json_t *rows, *cmd;
	struct calls_request cr;
	struct calls_accepted acc;
	struct calls_refusal why;
	struct store_call_filter f;
	struct buf csv;
	api_present_fn *present;
	int accepted; /* the status of a command the engine will carry out (202; Twilio 200) */
};

static int refusal(struct http_req *req, const struct calls_refusal *w)
{
	return http_error(req, w->status ? w->status : 400, w->code, w->message, w->field);
}

static json_t *json_text(const json_t *row, const char *key, const char *def)
{
	json_t *v = json_loads(json_str(row, key) ?: def, 0, NULL);
	return v ? v : json_loads(def, 0, NULL);
}

json_t *present_call(json_t *row)
{
	static const char *const omit[] = {"parent_id",	 "from_addr",	 "to_addr",
					   "timeout_s",	 "time_limit_s", "record",
					   "attempts",	 "quality",	 "recording_ids",
					   "engine_run", "seen_us",	 "billed_s",
					   "duration_s", "cost_micros",	 "status_callback_events",
					   "ring_us",	 "answer_us",	 "end_us",
					   NULL};
	json_t *o = present(row, omit);
	json_object_set(o, "parent_call_id", json_object_get(row, "parent_id"));
	json_object_set(o, "from", json_object_get(row, "from_addr"));
	json_object_set(o, "to", json_object_get(row, "to_addr"));
	static const struct {
		const char *col, *name;
	} times[] = {{"ring_us", "ringing_at"},
		     {"answer_us", "answered_at"},
		     {"answer_us", "start_time"},
		     {"end_us", "ended_at"}};
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char ts[TIME_RFC3339_LEN];
		json_t *v = json_object_get(row, times[i].col);
		json_object_set_new(o, times[i].name,
				    json_is_integer(v)
					? json_string(time_fmt((uint64_t)json_integer_value(v), ts))
					: json_null());
	}
	json_t *d = json_object_get(row, "duration_s"), *b = json_object_get(row, "billed_s");
	json_object_set_new(o, "duration",
			    json_integer(json_is_integer(d) ? json_integer_value(d) : 0));
	json_object_set_new(o, "billed_seconds",
			    json_integer(json_is_integer(b) ? json_integer_value(b) : 0));
	json_t *pm = json_object_get(row, "cost_micros");
	json_object_set_new(o, "price",
			    json_is_integer(pm) ? json_real((double)json_integer_value(pm) / 1e6)
						: json_null());
	json_object_set(o, "price_micros", pm);
	json_object_set_new(o, "price_unit", json_string("USD"));
	json_object_set_new(o, "attempts", json_text(row, "attempts", "[]"));
	json_object_set_new(o, "quality", json_text(row, "quality", "null"));
	json_object_set_new(o, "recording_ids", json_text(row, "recording_ids", "[]"));
	json_t *ev = json_array();
	const char *s = json_str(row, "status_callback_events") ?: "";
	while (*s) {
		size_t n = strcspn(s, " ");
		if (n)
			json_array_append_new(ev, json_stringn(s, n));
		s += n + (s[n] == ' ');
	}
	json_object_set_new(o, "status_callback_events", ev);
	json_object_set(o, "timeout", json_object_get(row, "timeout_s"));
	json_object_set(o, "time_limit", json_object_get(row, "time_limit_s"));
	json_object_set_new(o, "record",
			    json_boolean(json_integer_value(json_object_get(row, "record"))));
	return o;
}

/* ---- create ---- */

static int check_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	return calls_create_check_tx(tx, &c->cr, &c->acc, &c->why);
}

/* In the write transaction (or replayed from an Idempotency-Key): the refusal found by the
   read-side check, or the inserts. */
static int create_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	if (c->why.code)
		return refusal(c->req, &c->why);
	int r = calls_create_enqueue_tx(c->req->app->bus, tx, &c->cr, &c->acc);
	json_t *row;
	if (r < 0 || (r = store_call_get(tx, store_tx_tenant(tx), c->acc.id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->acc.id);
	http_reply(c->req, 201, c->present(row));
	json_decref(row);
	return 0;
}

int api_calls_create(struct http_req *req, api_present_fn *show)
{
	struct cctx c = {.req = req, .present = show};
	c.cr = (struct calls_request){.tenant_id = req->who.tenant_id,
				      .body = req->json,
				      .allow_private = req->app->cfg->outbound_allow_private,
				      .home_country = req->app->cfg->voice_home_country};
	/* the checks read on this connection's thread, in parallel with other requests */
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, check_fn, &c);
	if (r < 0 && !(r == -EINVAL && c.why.code))
		return r;
	r = http_write(req, req->who.tenant_id, create_fn, &c);
	bus_kick(req->app->bus);
	return r;
}

int h_calls_create(struct http_req *req)
{
	return api_calls_create(req, present_call);
}

/* ---- list, fetch, export ---- */

static int time_query(struct http_req *req, const char *name, uint64_t *ret)
{
	const char *v = http_get_query(req, name);
	if (v && time_parse(v, ret) < 0) {
		http_error(req, 400, "invalid_parameter", "an RFC 3339 time", name);
		return -EINVAL;
	}
	return 0;
}

static int filters(struct http_req *req, struct store_call_filter *f)
{
	f->status = http_get_query(req, "status");
	f->direction = http_get_query(req, "direction");
	f->from = http_get_query(req, "from");
	f->to = http_get_query(req, "to");
	f->parent_id = http_get_query(req, "parent_call_id");
	if (time_query(req, "start_time_after", &f->since_us) < 0 ||
	    time_query(req, "start_time_before", &f->until_us) < 0)
		return -EINVAL;
	return 0;
}

static int list_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	return store_call_list(tx, store_tx_tenant(tx), &c->f, &c->rows);
}

int h_calls_list(struct http_req *req)
{
	struct cctx c = {.req = req};
	if (http_page_params(req, &c.f.limit, &c.f.cursor) < 0 || filters(req, &c.f) < 0)
		return 0;
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, list_fn, &c);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(c.rows, c.f.limit, present_call));
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	return store_call_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_calls_get(struct http_req *req)
{
	struct cctx c = {.req = req, .id = path_id(req, 0, "CA")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, get_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_call(c.rows));
	json_decref(c.rows);
	return 0;
}

/* One CSV field: quoted when it holds a comma, quote, CR or LF (quotes doubled). */
static void csv_field(struct buf *b, const char *s, bool first)
{
	if (!first)
		buf_puts(b, ",");
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		buf_puts(b, s);
		return;
	}
	buf_puts(b, "\"");
	for (const char *p = s; *p; p++)
		buf_append(b, p, 1 + (*p == '"')); /* "" for a quote: the same byte twice */
	buf_puts(b, "\"");
}

static void csv_row(struct buf *b, const json_t *row)
{
	static const char *const cols[] = {"id",       "parent_id",  "direction",  "from_addr",
					   "to_addr",  "status",     "created_us", "answer_us",
					   "end_us",   "duration_s", "billed_s",   "cost_micros",
					   "sip_code", "q850_cause", "end_reason", "carrier_id"};
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		json_t *v = json_object_get(row, cols[i]);
		char tmp[TIME_RFC3339_LEN + 8];
		const char *s = json_string_value(v);
		size_t kl = strlen(cols[i]);
		if (json_is_integer(v) && !strcmp(cols[i], "cost_micros")) {
			json_int_t m = json_integer_value(v);
			snprintf(tmp, sizeof(tmp), "%s%lld.%06lld", m < 0 ? "-" : "",
				 (long long)(m < 0 ? -m : m) / 1000000,
				 (long long)(m < 0 ? -m : m) % 1000000);
			s = tmp;
		} else if (json_is_integer(v) && !strcmp(cols[i] + kl - 3, "_us")) {
			s = time_fmt((uint64_t)json_integer_value(v), tmp);
		} else if (json_is_integer(v)) {
			snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
			s = tmp;
		}
		csv_field(b, s, i == 0);
	}
	buf_puts(b, "\r\n");
}

static int export_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	buf_puts(&c->csv, "id,parent_call_id,direction,from,to,status,created_at,answered_at,"
			  "ended_at,duration,billed_seconds,price,sip_code,q850_cause,end_reason,"
			  "carrier_id\r\n");
	char cursor[ID_LEN + 1] = "";
	for (int total = 0; total < EXPORT_MAX_ROWS;) {
		c->f.cursor = cursor[0] ? cursor : NULL;
		c->f.limit = EXPORT_PAGE;
		json_t *rows;
		int r = store_call_list(tx, store_tx_tenant(tx), &c->f, &rows);
		if (r < 0)
			return r;
		size_t n = json_array_size(rows), shown = n > EXPORT_PAGE ? EXPORT_PAGE : n;
		for (size_t i = 0; i < shown && total < EXPORT_MAX_ROWS; i++, total++)
			csv_row(&c->csv, json_array_get(rows, i));
		if (shown)
			snprintf(cursor, sizeof(cursor), "%s",
				 json_str(json_array_get(rows, shown - 1), "id"));
		json_decref(rows);
		if (n <= EXPORT_PAGE)
			break;
	}
	return 0;
}

int h_calls_export(struct http_req *req)
{
	struct cctx c = {.req = req};
	if (filters(req, &c.f) < 0)
		return 0;
	buf_init(&c.csv, EXPORT_MAX_BYTES);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, export_fn, &c);
	if (r < 0) {
		buf_free(&c.csv);
		return r;
	}
	req->raw = buf_detach(&c.csv);
	req->raw_type = "text/csv; charset=utf-8";
	http_header(req, "Content-Disposition", "attachment; filename=\"calls.csv\"");
	req->status = 200;
	return 0;
}

/* ---- commands ---- */

static int command_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	int r = calls_control_tx(c->req->app->bus, tx, store_tx_tenant(tx), c->id, c->cmd,
				 c->req->app->cfg->outbound_allow_private, &c->why);
	if (r == -EINVAL && c->why.code)
		return refusal(c->req, &c->why);
	int done = r;
	json_t *row;
	if (r < 0 || (r = store_call_get(tx, store_tx_tenant(tx), c->id, &row)) < 0)
		return r;
	/* 200: a queued call changed at once; 202: the live call's engine will act on it */
	http_reply(c->req, done == 1 ? 200 : c->accepted, c->present(row));
	json_decref(row);
	return 0;
}

static int run_command(struct http_req *req, const char *id, json_t *cmd, api_present_fn *show,
		       int accepted)
{
	struct cctx c = {.req = req, .id = id, .cmd = cmd, .present = show, .accepted = accepted};
	int r = http_write(req, req->who.tenant_id, command_fn, &c);
	json_decref(cmd);
	bus_kick(req->app->bus);
	return r;
}

int api_calls_update(struct http_req *req, const char *id, api_present_fn *show, int accepted)
{
	static const struct json_field f[] = {{"url", JF_STRING, false, 2048},
					      {"method", JF_STRING, false, 8},
					      {"twiml", JF_STRING, false, 64 * 1024},
					      {"status", JF_STRING, false, 16},
					      {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	const char *status = json_str(req->json, "status");
	bool doc = json_str(req->json, "url") || json_str(req->json, "twiml");
	if (status && doc)
		return http_error(req, 400, "conflicting_fields",
				  "give status, or url / twiml to redirect, not both", "status");
	if (!status && !doc)
		return http_error(req, 400, "missing_field", "give status, url or twiml", "url");
	json_t *cmd;
	if (status) {
		if (strcmp(status, CALL_COMPLETED) && strcmp(status, CALL_CANCELED))
			return http_error(req, 400, "invalid_field",
					  "status is completed (hang up) or canceled", "status");
		cmd = json_pack("{s:s}", "action",
				!strcmp(status, CALL_COMPLETED) ? "hangup" : "cancel");
	} else {
		cmd = json_deep_copy(req->json);
		json_object_set_new(cmd, "action", json_string("redirect"));
	}
	return run_command(req, id, cmd, show, accepted);
}

int h_calls_update(struct http_req *req)
{
	const char *id = path_id(req, 0, "CA");
	return id ? api_calls_update(req, id, present_call, 202) : not_found(req);
}

int h_calls_transfer(struct http_req *req)
{
	static const struct json_field f[] = {
	    {"to", JF_STRING, true, 512}, {"mode", JF_STRING, false, 16}, {0}};
	const char *id = path_id(req, 0, "CA");
	if (!id)
		return not_found(req);
	if (http_check_body(req, f) < 0)
		return 0;
	const char *mode = json_str(req->json, "mode");
	json_t *cmd = json_pack("{s:s,s:s,s:s}", "action", "transfer", "to",
				json_str(req->json, "to"), "mode", mode ? mode : "blind");
	return run_command(req, id, cmd, present_call, 202);
}
