/* twilio.c: the Twilio 2010-04-01 REST surface for voice (Calls, Recordings) on the /v1
   implementation: form fields become the /v1 body, rows become Twilio's resources, pages
   Twilio's envelope (docs/calls.md "Twilio-compatible REST"). Errors take Twilio's shape in
   http_error (HTTP_TWILIO_PREFIX). */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define API_VERSION "2010-04-01"
#define PAGE_DEFAULT 50

/* ---- resources ---- */

/* RFC 2822 as Twilio writes it ("Tue, 01 Dec 2026 10:00:00 +0000"), or null. */
static json_t *rfc2822(const json_t *row, const char *col)
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	json_t *v = json_object_get(row, col);
	if (!json_is_integer(v))
		return json_null();
	time_t t = (time_t)(json_integer_value(v) / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char s[40];
	snprintf(s, sizeof(s), "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday], tm.tm_mday,
		 mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return json_string(s);
}

static json_t *num_string(const json_t *v)
{
	char s[24];
	snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(v));
	return json_string(s);
}

/* Twilio's price: what the account paid, negative, 5 decimals ("-0.01200"), or null. */
static json_t *price(const json_t *row)
{
	json_t *v = json_object_get(row, "cost_micros");
	if (!json_is_integer(v))
		return json_null();
	long long m = (long long)json_integer_value(v), u = (llabs(m) + 5) / 10;
	char s[32];
	snprintf(s, sizeof(s), "%s%lld.%05lld", m > 0 ? "-" : "", u / 100000, u % 100000);
	return json_string(s);
}

/* "/2010-04-01/Accounts/<acc>/<coll>/<sid><tail>" */
static json_t *uri(const char *acc, const char *coll, const char *sid, const char *tail)
{
	char s[160];
	snprintf(s, sizeof(s), "/" API_VERSION "/Accounts/%s/%s/%s%s", acc, coll, sid, tail);
	return json_string(s);
}

json_t *present_twilio_call(json_t *row)
{
	const char *id = json_str(row, "id"), *acc = json_str(row, "tenant_id");
	json_t *d = json_object_get(row, "duration_s");
	bool ended = json_is_integer(json_object_get(row, "end_us"));
	json_t *o = json_pack(
	    "{s:s,s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:o,s:o,s:o,s:o,s:o,s:o,s:O,s:s,s:n,s:n,s:s,s:n,"
	    "s:n,s:n,s:s,s:n,s:n,s:o,s:o}",
	    "sid", id, "account_sid", acc, "parent_call_sid", json_object_get(row, "parent_id"),
	    "to", json_object_get(row, "to_addr"), "to_formatted", json_object_get(row, "to_addr"),
	    "from", json_object_get(row, "from_addr"), "from_formatted",
	    json_object_get(row, "from_addr"), "status", json_object_get(row, "status"),
	    "date_created", rfc2822(row, "created_us"), "date_updated", rfc2822(row, "updated_us"),
	    "start_time", rfc2822(row, "answer_us"), "end_time", rfc2822(row, "end_us"), "duration",
	    ended && json_is_integer(d) ? num_string(d) : json_null(), "price", price(row),
	    "direction", json_object_get(row, "direction"), "price_unit", "USD", "answered_by",
	    "annotation", "api_version", API_VERSION, "forwarded_from", "group_sid", "caller_name",
	    "queue_time", "0", "trunk_sid", "phone_number_sid", "uri",
	    uri(acc, "Calls", id, ".json"), "subresource_uris",
	    json_pack("{s:o}", "recordings", uri(acc, "Calls", id, "/Recordings.json")));
	return o;
}

json_t *present_twilio_recording(json_t *row)
{
	const char *id = json_str(row, "id"), *acc = json_str(row, "tenant_id");
	json_t *ms = json_object_get(row, "duration_ms");
	json_t *dur = json_null();
	if (json_is_integer(ms)) {
		json_t *sec = json_integer((json_integer_value(ms) + 500) / 1000);
		dur = num_string(sec);
		json_decref(sec);
	}
	return json_pack(
	    "{s:s,s:s,s:O,s:n,s:o,s:o,s:o,s:o,s:i,s:O,s:O,s:n,s:s,s:s,s:n,s:n,s:o,s:o,s:o}", "sid",
	    id, "account_sid", acc, "call_sid", json_object_get(row, "call_id"), "conference_sid",
	    "date_created", rfc2822(row, "created_us"), "date_updated", rfc2822(row, "updated_us"),
	    "start_time", rfc2822(row, "created_us"), "duration", dur, "channels", 1, "source",
	    json_object_get(row, "source"), "status", json_object_get(row, "status"), "price",
	    "price_unit", "USD", "api_version", API_VERSION, "error_code", "encryption_details",
	    "uri", uri(acc, "Recordings", id, ".json"), "media_url",
	    uri(acc, "Recordings", id, ".wav"), "subresource_uris", json_object());
}

/* ---- requests ---- */

/* The path's {AccountSid} must be the caller's own account: another one is "not found"
   (20404), as Twilio answers for an account the credentials do not reach. */
static bool account_ok(struct http_req *req)
{
	if (!strcmp(req->params[0], req->who.tenant_id))
		return true;
	not_found(req);
	return false;
}

enum tw_type { TW_STR, TW_INT, TW_BOOL, TW_LIST };
struct tw_field {
	const char *form, *name;
	enum tw_type type;
};

/* The form (req->json: strings, repeated keys arrays) as the /v1 body, into req->json. 0, or
   answered 400 (unknown or repeated field, not a number / boolean). */
static int translate(struct http_req *req, const struct tw_field *fields)
{
	json_t *body = json_object();
	const char *k;
	json_t *v;
	json_object_foreach (req->json, k, v) {
		const struct tw_field *f = fields;
		while (f->form && strcmp(f->form, k))
			f++;
		const char *s = json_string_value(v), *bad = NULL;
		if (!f->form) {
			bad = "unknown parameter";
		} else if (f->type == TW_LIST) {
			json_object_set(body, f->name, v); /* /v1 takes a string or an array */
		} else if (!s) {
			bad = "parameter given more than once";
		} else if (f->type == TW_INT) {
			char *end;
			long n = strtol(s, &end, 10);
			if (!*s || *end)
				bad = "parameter must be an integer";
			else
				json_object_set_new(body, f->name, json_integer(n));
		} else if (f->type == TW_BOOL) {
			if (strcasecmp(s, "true") && strcasecmp(s, "false"))
				bad = "parameter must be true or false";
			else
				json_object_set_new(body, f->name,
						    json_boolean(!strcasecmp(s, "true")));
		} else {
			json_object_set(body, f->name, v);
		}
		if (bad) {
			http_error(req, 400, "invalid_parameter", bad, k);
			json_decref(body);
			return -EINVAL;
		}
	}
	json_decref(req->json);
	req->json = body;
	return 0;
}

int h_tw_calls_create(struct http_req *req)
{
	static const struct tw_field f[] = {
	    {"From", "from", TW_STR},
	    {"To", "to", TW_STR},
	    {"Url", "url", TW_STR},
	    {"Method", "method", TW_STR},
	    {"Twiml", "twiml", TW_STR},
	    {"ApplicationSid", "application_id", TW_STR},
	    {"FallbackUrl", "fallback_url", TW_STR},
	    {"FallbackMethod", "fallback_method", TW_STR},
	    {"StatusCallback", "status_callback", TW_STR},
	    {"StatusCallbackMethod", "status_callback_method", TW_STR},
	    {"StatusCallbackEvent", "status_callback_events", TW_LIST},
	    {"Timeout", "timeout", TW_INT},
	    {"TimeLimit", "time_limit", TW_INT},
	    {"Record", "record", TW_BOOL},
	    {0}};
	if (!account_ok(req) || translate(req, f) < 0)
		return 0;
	return api_calls_create(req, present_twilio_call);
}

int h_tw_calls_update(struct http_req *req)
{
	static const struct tw_field f[] = {{"Url", "url", TW_STR},
					    {"Method", "method", TW_STR},
					    {"Twiml", "twiml", TW_STR},
					    {"Status", "status", TW_STR},
					    {0}};
	if (!account_ok(req) || translate(req, f) < 0)
		return 0;
	const char *id = path_id(req, 1, "CA");
	/* Twilio answers 200 for a command the call will carry out */
	return id ? api_calls_update(req, id, present_twilio_call, 200) : not_found(req);
}

struct twctx {
	struct http_req *req;
	const char *id, *call_id;
	struct store_call_filter f;
	json_t *rows;
};

static int call_get_fn(struct store_tx *tx, void *arg)
{
	struct twctx *c = arg;
	return store_call_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_tw_calls_get(struct http_req *req)
{
	if (!account_ok(req))
		return 0;
	struct twctx c = {.req = req, .id = path_id(req, 1, "CA")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, call_get_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_twilio_call(c.rows));
	json_decref(c.rows);
	return 0;
}

/* Appends "&name=value" (value percent-encoded, RFC 3986 unreserved kept). */
static void query_add(struct buf *b, const char *name, const char *value)
{
	static const char hx[] = "0123456789ABCDEF";
	if (!value)
		return;
	buf_printf(b, "%s%s=", b->len ? "&" : "", name);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hx[*p >> 4], hx[*p & 15]};
			buf_append(b, e, 3);
		}
	}
}

/* Query argument name as a number in lo..hi (def when absent); -EINVAL answered 400. */
static int long_arg(struct http_req *req, const char *name, long lo, long hi, long def, long *ret)
{
	const char *v = http_get_query(req, name);
	char *end = NULL;
	long n = v ? strtol(v, &end, 10) : def;
	if (v && (!*v || *end || n < lo || n > hi)) {
		http_error(req, 400, "invalid_parameter", "not a number in range", name);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

/* PageSize (1..1000, at most STORE_LIST_MAX shown, default 50), Page (shown back),
   PageToken (the id after which the page starts). 0, or answered 400. */
static int page_params(struct http_req *req, int *ret_size, long *ret_page, const char **ret_tok)
{
	long size;
	const char *t = http_get_query(req, "PageToken");
	if (long_arg(req, "PageSize", 1, 1000, PAGE_DEFAULT, &size) < 0 ||
	    long_arg(req, "Page", 0, 1000000, 0, ret_page) < 0)
		return -EINVAL;
	if (t && !id_valid(t, t)) {
		http_error(req, 400, "invalid_parameter", "PageToken is not valid", "PageToken");
		return -EINVAL;
	}
	*ret_size = size > STORE_LIST_MAX ? STORE_LIST_MAX : (int)size;
	*ret_tok = t;
	return 0;
}

/* Twilio's list envelope over rows (limit + 1 fetched: one more means a next page). */
static json_t *envelope(struct http_req *req, const char *key, json_t *rows, int size, long page,
			const char *tok, const struct buf *filters, api_present_fn *show)
{
	json_t *items = json_array();
	size_t n = json_array_size(rows);
	for (size_t i = 0; i < n && i < (size_t)size; i++)
		json_array_append_new(items, show(json_array_get(rows, i)));
	size_t shown = json_array_size(items);
	const char *fs = filters->len ? filters->p : "";
	const char *amp = filters->len ? "&" : "";
	struct buf u;
	buf_init(&u, 0);
	buf_printf(&u, "%s?%s%sPageSize=%d&Page=0", req->path, fs, amp, size);
	json_t *first = json_string(u.p);
	u.len = 0;
	buf_printf(&u, "%s?%s%sPageSize=%d&Page=%ld", req->path, fs, amp, size, page);
	if (tok)
		buf_printf(&u, "&PageToken=%s", tok);
	json_t *self = json_string(u.p);
	json_t *next = json_null();
	if (n > (size_t)size) {
		u.len = 0;
		buf_printf(&u, "%s?%s%sPageSize=%d&Page=%ld&PageToken=%s", req->path, fs, amp, size,
			   page + 1, json_str(json_array_get(rows, (size_t)size - 1), "id"));
		json_decref(next);
		next = json_string(u.p);
	}
	buf_free(&u);
	json_decref(rows);
	long start = page * size;
	return json_pack("{s:o,s:I,s:i,s:I,s:I,s:o,s:o,s:n,s:o}", key, items, "page",
			 (json_int_t)page, "page_size", size, "start", (json_int_t)start, "end",
			 (json_int_t)(shown ? start + (long)shown - 1 : start), "first_page_uri",
			 first, "next_page_uri", next, "previous_page_uri", "uri", self);
}

/* StartTime>= / StartTime<= (and Twilio's StartTime> / StartTime<): RFC 3339 or a date, on
   the creation time as /v1's start_time_after / _before. */
static int time_arg(struct http_req *req, const char *a, const char *b, uint64_t *ret,
		    struct buf *filters)
{
	const char *v = http_get_query(req, a), *name = a;
	if (!v) {
		v = http_get_query(req, b);
		name = b;
	}
	if (!v)
		return 0;
	char t[40];
	snprintf(t, sizeof(t), strlen(v) == 10 ? "%sT00:00:00Z" : "%s", v);
	if (time_parse(t, ret) < 0) {
		http_error(req, 400, "invalid_parameter", "an RFC 3339 time or a date", name);
		return -EINVAL;
	}
	query_add(filters, name, v);
	return 0;
}

static int call_list_fn(struct store_tx *tx, void *arg)
{
	struct twctx *c = arg;
	return store_call_list(tx, store_tx_tenant(tx), &c->f, &c->rows);
}

int h_tw_calls_list(struct http_req *req)
{
	if (!account_ok(req))
		return 0;
	struct twctx c = {.req = req};
	long page;
	if (page_params(req, &c.f.limit, &page, &c.f.cursor) < 0)
		return 0;
	struct buf filters;
	buf_init(&filters, 0);
	static const char *const args[] = {"To", "From", "Status", "ParentCallSid"};
	const char **dst[] = {&c.f.to, &c.f.from, &c.f.status, &c.f.parent_id};
	for (size_t i = 0; i < 4; i++) {
		*dst[i] = http_get_query(req, args[i]);
		query_add(&filters, args[i], *dst[i]);
	}
	int r = 0;
	if (time_arg(req, "StartTime>", "StartTime>=", &c.f.since_us, &filters) < 0 ||
	    time_arg(req, "StartTime<", "StartTime<=", &c.f.until_us, &filters) < 0)
		goto out;
	int size = c.f.limit;
	if ((r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, call_list_fn, &c)) < 0)
		goto out;
	http_reply(
	    req, 200,
	    envelope(req, "calls", c.rows, size, page, c.f.cursor, &filters, present_twilio_call));
out:
	buf_free(&filters);
	return r;
}

/* ---- recordings ---- */

static int rec_list_fn(struct store_tx *tx, void *arg)
{
	struct twctx *c = arg;
	return store_recording_list(tx, store_tx_tenant(tx), c->call_id, c->f.cursor, c->f.limit,
				    &c->rows);
}

static int recordings_list(struct http_req *req, const char *call_id)
{
	struct twctx c = {.req = req, .call_id = call_id};
	long page;
	if (page_params(req, &c.f.limit, &page, &c.f.cursor) < 0)
		return 0;
	struct buf filters;
	buf_init(&filters, 0);
	if (!call_id) {
		c.call_id = http_get_query(req, "CallSid");
		query_add(&filters, "CallSid", c.call_id);
	}
	int size = c.f.limit;
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, rec_list_fn, &c);
	if (r == 0)
		http_reply(req, 200,
			   envelope(req, "recordings", c.rows, size, page, c.f.cursor, &filters,
				    present_twilio_recording));
	buf_free(&filters);
	return r;
}

int h_tw_recordings_list(struct http_req *req)
{
	return account_ok(req) ? recordings_list(req, NULL) : 0;
}

int h_tw_call_recordings(struct http_req *req)
{
	if (!account_ok(req))
		return 0;
	const char *id = path_id(req, 1, "CA");
	return id ? recordings_list(req, id) : not_found(req);
}

static int rec_get_fn(struct store_tx *tx, void *arg)
{
	struct twctx *c = arg;
	return store_recording_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_tw_recordings_get(struct http_req *req)
{
	if (!account_ok(req))
		return 0;
	struct twctx c = {.req = req, .id = path_id(req, 1, "RE")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, rec_get_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_twilio_recording(c.rows));
	json_decref(c.rows);
	return 0;
}

int h_tw_recordings_audio(struct http_req *req)
{
	if (!account_ok(req))
		return 0;
	const char *id = path_id(req, 1, "RE");
	return id ? api_recording_audio(req, id) : not_found(req);
}

int h_tw_recordings_delete(struct http_req *req)
{
	if (!account_ok(req))
		return 0;
	/* the /v1 delete reads the id from the first parameter */
	req->params[0] = req->params[1];
	return h_recordings_delete(req);
}
