/* dialplan.c: inbound dialplan rules (which application answers a call, by called number,
   prefix, caller, weekday and time of day in the rule's UTC offset), and the match route
   operators and tests use to see which rule a call would take. */
#include <limits.h>

#include "internal.h"

struct dctx {
	struct http_req *req;
	const char *id, *to, *from;
	uint64_t at_us;
	json_t *rows;
	struct store_dialplan_rule r;
	char new_id[ID_LEN + 1];
};

json_t *present_rule(json_t *row)
{
	static const char *const omit[] = {"enabled", NULL};
	json_t *o = present(row, omit);
	json_object_set_new(o, "enabled", json_boolean(json_int(row, "enabled", 0) == 1));
	return o;
}

static const struct json_field rule_fields[] = {
    {"name", JF_STRING, false, 100},	    {"priority", JF_INT, false, 0},
    {"match_number", JF_STRING, false, 16}, {"match_prefix", JF_STRING, false, 16},
    {"match_caller", JF_STRING, false, 16}, {"days", JF_STRING, false, 27},
    {"time_start", JF_STRING, false, 5},    {"time_end", JF_STRING, false, 5},
    {"utc_offset_min", JF_INT, false, 0},   {"application_id", JF_STRING, false, 64},
    {"enabled", JF_BOOL, false, 0},	    {0}};

static int bad(struct http_req *req, const char *msg, const char *field)
{
	http_error(req, 400, "invalid_field", msg, field);
	return -EINVAL;
}

static bool prefix_ok(const char *s)
{
	if (*s == '+')
		s++;
	size_t n = strlen(s);
	if (n > 15)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool hhmm_ok(const char *s)
{
	return !*s || (strlen(s) == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' &&
		       s[1] <= '9' && (s[0] - '0') * 10 + (s[1] - '0') < 24 && s[3] >= '0' &&
		       s[3] <= '5' && s[4] >= '0' && s[4] <= '9');
}

/* "mon,tue" ... each of mon..sun at most once */
static bool days_ok(const char *s)
{
	static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	unsigned seen = 0;
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, ",");
		int i = 0;
		while (i < 7 && !(n == 3 && !strncmp(p, names[i], 3)))
			i++;
		if (i == 7 || (seen & (1u << i)))
			return false;
		seen |= 1u << i;
		p += n;
		if (*p == ',' && !*++p)
			return false;
	}
	return true;
}

/* The body as a rule: create fills defaults, a patch leaves absent fields. */
static int rule_of(struct http_req *req, bool create, struct store_dialplan_rule *r)
{
	json_t *b = req->json;
	const char *num = json_str(b, "match_number"), *pre = json_str(b, "match_prefix"),
		   *caller = json_str(b, "match_caller"), *days = json_str(b, "days"),
		   *ts = json_str(b, "time_start"), *te = json_str(b, "time_end"),
		   *app = json_str(b, "application_id");
	if (num && *num && !e164_valid(num))
		return bad(req, "an E.164 number (+15551234567) or \"\"", "match_number");
	if (pre && !prefix_ok(pre))
		return bad(req, "digits with an optional leading + (\"+1555\"), or \"\"",
			   "match_prefix");
	if (caller && !prefix_ok(caller))
		return bad(req, "digits with an optional leading + (\"+44\"), or \"\"",
			   "match_caller");
	if (days && !days_ok(days))
		return bad(req, "a comma list of mon, tue, wed, thu, fri, sat, sun (or \"\")",
			   "days");
	if (ts && !hhmm_ok(ts))
		return bad(req, "HH:MM (00:00 to 23:59) or \"\"", "time_start");
	if (te && !hhmm_ok(te))
		return bad(req, "HH:MM (00:00 to 23:59) or \"\"", "time_end");
	if (ts && te && *ts && !strcmp(ts, te))
		return bad(req, "time_end must differ from time_start", "time_end");
	if (create && !app)
		return http_error(req, 400, "missing_field", "application_id is required",
				  "application_id"),
		       -EINVAL;
	if (app && !id_valid(app, "AP"))
		return bad(req, "no such application", "application_id");
	int64_t pr = json_int(b, "priority", create ? 100 : INT_MIN),
		off = json_int(b, "utc_offset_min", create ? 0 : INT_MIN);
	if (pr != INT_MIN && (pr < 0 || pr > 1000000))
		return bad(req, "priority is 0 to 1000000 (lowest first)", "priority");
	if (off != INT_MIN && (off < -840 || off > 840))
		return bad(req, "utc_offset_min is -840 to 840", "utc_offset_min");
	json_t *en = json_object_get(b, "enabled");
	*r =
	    (struct store_dialplan_rule){.name = json_str(b, "name"),
					 .match_number = num,
					 .match_prefix = pre,
					 .match_caller = caller,
					 .days = days,
					 .time_start = ts,
					 .time_end = te,
					 .application_id = app,
					 .priority = (int)pr,
					 .utc_offset_min = (int)off,
					 .enabled = en ? json_is_true(en) : (create ? 1 : INT_MIN)};
	return 0;
}

/* 0 if app is the tenant's application; else answers 400 (returns 1) or the error. */
static int app_known(struct store_tx *tx, struct http_req *req, const char *app)
{
	json_t *row;
	if (!app)
		return 0;
	int r = store_application_get(tx, store_tx_tenant(tx), app, &row);
	if (r == -ENOENT)
		return http_error(req, 400, "invalid_field", "no such application",
				  "application_id")
			   ?: 1;
	json_decref(row);
	return r;
}

static int rule_write_fn(struct store_tx *tx, void *arg)
{
	struct dctx *c = arg;
	const char *tenant = store_tx_tenant(tx);
	int r = app_known(tx, c->req, c->r.application_id);
	if (r != 0)
		return r < 0 ? r : 0;
	bool create = c->r.id != NULL;
	if (create)
		r = store_dialplan_insert(tx, &c->r);
	else
		r = store_dialplan_update(tx, tenant, c->id, &c->r);
	json_t *row;
	if (r < 0 || (r = store_dialplan_get(tx, tenant, c->id, &row)) < 0)
		return r;
	/* a patch may leave the window's two ends equal */
	if (!create && *json_str(row, "time_start") &&
	    !strcmp(json_str(row, "time_start"), json_str(row, "time_end"))) {
		json_decref(row);
		bad(c->req, "time_end must differ from time_start", "time_end");
		return 0;
	}
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	http_reply(c->req, create ? 201 : 200, present_rule(row));
	json_decref(row);
	return 0;
}

int h_dialplan_create(struct http_req *req)
{
	if (http_check_body(req, rule_fields) < 0)
		return 0;
	struct dctx c = {.req = req};
	if (rule_of(req, true, &c.r) < 0)
		return 0;
	id_new("DR", c.new_id);
	c.id = c.r.id = c.new_id;
	c.r.tenant_id = req->who.tenant_id;
	return http_write(req, req->who.tenant_id, rule_write_fn, &c);
}

int h_dialplan_patch(struct http_req *req)
{
	struct dctx c = {.req = req, .id = path_id(req, 0, "DR")};
	if (!c.id)
		return not_found(req);
	if (http_check_body(req, rule_fields) < 0)
		return 0;
	if (rule_of(req, false, &c.r) < 0)
		return 0;
	return http_write(req, req->who.tenant_id, rule_write_fn, &c);
}

static int rlist_fn(struct store_tx *tx, void *arg)
{
	struct dctx *c = arg;
	return store_dialplan_list(tx, store_tx_tenant(tx), &c->rows);
}

int h_dialplan_list(struct http_req *req)
{
	struct dctx c = {.req = req};
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, rlist_fn, &c);
	if (r < 0)
		return r;
	json_t *data = json_array();
	size_t i;
	json_t *e;
	json_array_foreach (c.rows, i, e)
		json_array_append_new(data, present_rule(e));
	json_decref(c.rows);
	return http_reply(req, 200, json_pack("{s:o,s:n}", "data", data, "next_cursor"));
}

static int rget_fn(struct store_tx *tx, void *arg)
{
	struct dctx *c = arg;
	return store_dialplan_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_dialplan_get(struct http_req *req)
{
	struct dctx c = {.req = req, .id = path_id(req, 0, "DR")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, rget_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_rule(c.rows));
	json_decref(c.rows);
	return 0;
}

static int rdelete_fn(struct store_tx *tx, void *arg)
{
	struct dctx *c = arg;
	int r = store_dialplan_delete(tx, store_tx_tenant(tx), c->id);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 204, NULL);
}

int h_dialplan_delete(struct http_req *req)
{
	struct dctx c = {.req = req, .id = path_id(req, 0, "DR")};
	if (!c.id)
		return not_found(req);
	return http_write(req, req->who.tenant_id, rdelete_fn, &c);
}

static int rmatch_fn(struct store_tx *tx, void *arg)
{
	struct dctx *c = arg;
	return store_dialplan_match(tx, store_tx_tenant(tx), c->to, c->from, c->at_us, &c->rows);
}

int h_dialplan_match(struct http_req *req)
{
	struct dctx c = {.req = req,
			 .to = http_get_query(req, "to"),
			 .from = http_get_query(req, "from"),
			 .at_us = time_now_us()};
	const char *at = http_get_query(req, "at");
	if (!c.to || !*c.to)
		return http_error(req, 400, "missing_parameter", "to (the called number)", "to");
	if (strlen(c.to) > 32 || (c.from && strlen(c.from) > 128))
		return http_error(req, 400, "invalid_parameter", "too long", "to");
	if (at && time_parse(at, &c.at_us) < 0)
		return http_error(req, 400, "invalid_parameter", "at is an RFC 3339 time", "at");
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, rmatch_fn, &c);
	if (r == -ENOENT)
		return http_error(req, 404, "not_found", "no rule matches", NULL);
	if (r < 0)
		return r;
	http_reply(req, 200, present_rule(c.rows));
	json_decref(c.rows);
	return 0;
}
