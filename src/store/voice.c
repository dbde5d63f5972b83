/* voice.c: carriers and their rate decks, the numbers' voice settings, call-control
   applications, inbound dialplan rules (and their matching) and recordings: the SQL behind
   the voice resources. Calls are in calls.c, guardrails in their own file. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define CARRIER_COLS                                                                               \
	"id, tenant_id, name, host, port, transport, username, password, register_expires, "       \
	"number_format, tech_prefix, caller_id, max_channels, cps_limit, priority, weight, "       \
	"enabled, ping_ms, health, reg_status, created_us, updated_us"
#define APP_COLS "id, tenant_id, name, kind, source, document, created_us, updated_us"
#define RULE_COLS                                                                                  \
	"id, tenant_id, name, priority, match_number, match_prefix, match_caller, days, "          \
	"time_start, time_end, utc_offset_min, application_id, enabled, created_us, updated_us"
#define REC_COLS                                                                                   \
	"id, tenant_id, call_id, source, status, path, duration_ms, bytes, status_callback, "      \
	"status_callback_method, created_us, updated_us, completed_us"

/* tenant_id NULL: tenant_id IS NULL (the operator's rows) unless any. */
static int upd_run(struct store_tx *tx, struct sql_upd *u, const char *id, const char *tenant_id,
		   bool any)
{
	buf_puts(&u->sql, " WHERE id = ?");
	u->v[u->n++] = (struct store_val){SV_TEXT, id, 0};
	if (tenant_id) {
		buf_puts(&u->sql, " AND tenant_id = ?");
		u->v[u->n++] = (struct store_val){SV_TEXT, tenant_id, 0};
	} else if (!any) {
		buf_puts(&u->sql, " AND tenant_id IS NULL");
	}
	int r = tx->st->be->exec(tx, u->sql.p, u->n, u->v);
	buf_free(&u->sql);
	return store_changed(r);
}

static const char *digits_of(const char *s)
{
	return s && s[0] == '+' ? s + 1 : (s ? s : "");
}

/* ---- carriers ---- */

int store_carrier_insert(struct store_tx *tx, const struct store_carrier *c)
{
	struct store_val v[] = {
	    {SV_TEXT, c->id, 0},
	    {c->tenant_id ? SV_TEXT : SV_NULL, c->tenant_id, 0},
	    {SV_TEXT, c->name, 0},
	    {SV_TEXT, c->host, 0},
	    {SV_INT, NULL, c->port},
	    {SV_TEXT, c->transport, 0},
	    {c->username && *c->username ? SV_TEXT : SV_NULL, c->username, 0},
	    {c->password && *c->password ? SV_TEXT : SV_NULL, c->password, 0},
	    {SV_INT, NULL, c->register_expires},
	    {SV_TEXT, c->number_format, 0},
	    {SV_TEXT, c->tech_prefix ? c->tech_prefix : "", 0},
	    {SV_TEXT, c->caller_id ? c->caller_id : "", 0},
	    {SV_INT, NULL, c->max_channels},
	    {SV_INT, NULL, c->cps_limit},
	    {SV_INT, NULL, c->priority},
	    {SV_INT, NULL, c->weight},
	    {SV_INT, NULL, c->enabled},
	    {SV_INT, NULL, c->ping_ms},
	    {SV_INT, NULL, store_now()},
	    {SV_INT, NULL, store_now()},
	};
	return insert_done(tx->st->be->exec(
	    tx,
	    "INSERT INTO carriers (id, tenant_id, name, host, port, transport, username, "
	    "password, register_expires, number_format, tech_prefix, caller_id, max_channels, "
	    "cps_limit, priority, weight, enabled, ping_ms, created_us, updated_us) VALUES (?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    sizeof(v) / sizeof(v[0]), v));
}

int store_carrier_get(struct store_tx *tx, const char *tenant_id, bool any, const char *id,
		      json_t **ret)
{
	if (any)
		return stx_query_one(tx, ret, "SELECT " CARRIER_COLS " FROM carriers WHERE id = ?",
				     "s", id);
	if (!tenant_id)
		return stx_query_one(tx, ret,
				     "SELECT " CARRIER_COLS
				     " FROM carriers WHERE id = ? AND tenant_id IS NULL",
				     "s", id);
	return stx_query_one(tx, ret,
			     "SELECT " CARRIER_COLS " FROM carriers WHERE id = ? AND tenant_id = ?",
			     "ss", id, tenant_id);
}

int store_carrier_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
		       json_t **ret)
{
	if (!tenant_id)
		return store_list_page(
		    tx, ret, "SELECT " CARRIER_COLS " FROM carriers WHERE tenant_id IS NULL", 0,
		    NULL, cursor, limit);
	struct store_val p = {SV_TEXT, tenant_id, 0};
	return store_list_page(tx, ret, "SELECT " CARRIER_COLS " FROM carriers WHERE tenant_id = ?",
			       1, &p, cursor, limit);
}

int store_carrier_update(struct store_tx *tx, const char *tenant_id, const char *id,
			 const struct store_carrier *c)
{
	struct sql_upd u;
	sql_upd_begin(&u, "carriers");
	sql_upd_text(&u, "name", c->name, false);
	sql_upd_text(&u, "host", c->host, false);
	sql_upd_text(&u, "transport", c->transport, false);
	sql_upd_text(&u, "username", c->username, true);
	sql_upd_text(&u, "password", c->password, true);
	sql_upd_text(&u, "number_format", c->number_format, false);
	sql_upd_text(&u, "tech_prefix", c->tech_prefix, false);
	sql_upd_text(&u, "caller_id", c->caller_id, false);
	const struct {
		const char *col;
		int val;
	} ints[] = {{"port", c->port},
		    {"register_expires", c->register_expires},
		    {"max_channels", c->max_channels},
		    {"cps_limit", c->cps_limit},
		    {"priority", c->priority},
		    {"weight", c->weight},
		    {"enabled", c->enabled},
		    {"ping_ms", c->ping_ms}};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		sql_upd_int(&u, ints[i].col, ints[i].val, ints[i].val >= 0);
	return upd_run(tx, &u, id, tenant_id, false);
}

int store_carrier_delete(struct store_tx *tx, const char *tenant_id, const char *id)
{
	if (!tenant_id)
		return store_changed(stx_exec(
		    tx, "DELETE FROM carriers WHERE id = ? AND tenant_id IS NULL", "s", id));
	return store_changed(stx_exec(tx, "DELETE FROM carriers WHERE id = ? AND tenant_id = ?",
				      "ss", id, tenant_id));
}

int store_carrier_health(struct store_tx *tx, const char *id, const char *health,
			 const char *reg_status)
{
	if (reg_status)
		return store_changed(
		    stx_exec(tx, "UPDATE carriers SET health = ?, reg_status = ? WHERE id = ?",
			     "sss", health, reg_status, id));
	return store_changed(
	    stx_exec(tx, "UPDATE carriers SET health = ? WHERE id = ?", "ss", health, id));
}

int store_carriers_enabled(struct store_tx *tx, json_t **ret)
{
	return stx_query(tx, ret,
			 "SELECT " CARRIER_COLS " FROM carriers WHERE enabled = 1 ORDER BY id", "");
}

int store_carrier_rates_replace(struct store_tx *tx, const char *carrier_id, const char *tenant_id,
				const struct store_carrier_rate *rates, size_t n)
{
	int r = stx_exec(tx, "DELETE FROM carrier_rates WHERE carrier_id = ?", "s", carrier_id);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = stx_exec(tx,
			     "INSERT INTO carrier_rates (carrier_id, tenant_id, prefix, "
			     "cost_micros, min_s, incr_s) VALUES (?, ?, ?, ?, ?, ?)",
			     "sssiii", carrier_id, tenant_id, digits_of(rates[i].prefix),
			     rates[i].cost_micros, (int64_t)rates[i].min_s,
			     (int64_t)rates[i].incr_s);
	return r < 0 ? r : 0;
}

int store_carrier_rates_list(struct store_tx *tx, const char *carrier_id, json_t **ret)
{
	return stx_query(tx, ret,
			 "SELECT prefix, cost_micros, min_s, incr_s FROM carrier_rates WHERE "
			 "carrier_id = ? ORDER BY prefix",
			 "s", carrier_id);
}

int store_carrier_routes(struct store_tx *tx, const char *tenant_id, const char *dest, json_t **ret)
{
	/* each enabled carrier with the rate of its longest prefix matching dest (one
	   correlated lookup: the longest prefix wins, its row gives the four columns) */
#define BEST(col)                                                                                  \
	"(SELECT r." col " FROM carrier_rates r WHERE r.carrier_id = c.id AND ? LIKE "             \
	"r.prefix || '%' ORDER BY LENGTH(r.prefix) DESC LIMIT 1) AS " col
	const char *sql =
	    "SELECT c.id, c.tenant_id, c.name, c.host, c.port, c.transport, "
	    "c.username, c.password, c.number_format, c.tech_prefix, c.caller_id, "
	    "c.max_channels, c.cps_limit, c.priority, c.weight, c.health, " BEST(
		"prefix") ", " BEST("cost_micros") ", " BEST("min_s") ", " BEST("incr_s") " FROM "
											  "carriers"
											  " c "
											  "WHERE "
											  "c."
											  "enabled "
											  "= 1 AND "
											  "(c."
											  "tenant_"
											  "id "
											  "= ? OR "
											  "(c."
											  "tenant_"
											  "id IS "
											  "NULL "
											  "AND NOT "
											  "EXISTS "
											  "(SELECT "
											  "1 FROM "
											  "carriers"
											  " o "
											  "WHERE "
											  "o."
											  "tenant_"
											  "id = ? "
											  "AND "
											  "o."
											  "enabled "
											  "= 1))) "
											  "ORDER "
											  "BY c.id";
#undef BEST
	const char *d = digits_of(dest);
	return stx_query(tx, ret, sql, "ssssss", d, d, d, d, tenant_id, tenant_id);
}

/* ---- numbers ---- */

int store_number_set_voice(struct store_tx *tx, const char *tenant_id, const char *id,
			   const struct store_number_voice *v)
{
	struct sql_upd u;
	sql_upd_begin(&u, "phone_numbers");
	sql_upd_text(&u, "voice_url", v->voice_url, true);
	sql_upd_text(&u, "voice_method", v->voice_method, true);
	sql_upd_text(&u, "voice_fallback_url", v->fallback_url, true);
	sql_upd_text(&u, "voice_fallback_method", v->fallback_method, true);
	sql_upd_text(&u, "voice_status_callback", v->status_callback, true);
	sql_upd_text(&u, "voice_application_id", v->application_id, true);
	return upd_run(tx, &u, id, tenant_id, true);
}

int store_number_set_carrier(struct store_tx *tx, const char *id, const char *carrier_id)
{
	struct sql_upd u;
	sql_upd_begin(&u, "phone_numbers");
	sql_upd_text(&u, "carrier_id", carrier_id ? carrier_id : "", true);
	return upd_run(tx, &u, id, NULL, true);
}

/* ---- applications ---- */

int store_application_insert(struct store_tx *tx, const struct store_application *a)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO applications (id, tenant_id, name, kind, source, "
				    "document, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, "
				    "?, ?)",
				    "ssssssii", a->id, a->tenant_id, a->name, a->kind, a->source,
				    a->document, store_now(), store_now()));
}

int store_application_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	if (!tenant_id)
		return stx_query_one(tx, ret, "SELECT " APP_COLS " FROM applications WHERE id = ?",
				     "s", id);
	return stx_query_one(tx, ret,
			     "SELECT " APP_COLS " FROM applications WHERE id = ? AND tenant_id = ?",
			     "ss", id, tenant_id);
}

int store_application_list(struct store_tx *tx, const char *tenant_id, const char *cursor,
			   int limit, json_t **ret)
{
	struct store_val p = {SV_TEXT, tenant_id, 0};
	return store_list_page(tx, ret, "SELECT " APP_COLS " FROM applications WHERE tenant_id = ?",
			       1, &p, cursor, limit);
}

int store_application_update(struct store_tx *tx, const char *tenant_id, const char *id,
			     const struct store_application *a)
{
	struct sql_upd u;
	sql_upd_begin(&u, "applications");
	sql_upd_text(&u, "name", a->name, false);
	sql_upd_text(&u, "kind", a->kind, false);
	sql_upd_text(&u, "source", a->source, false);
	sql_upd_text(&u, "document", a->document, false);
	return upd_run(tx, &u, id, tenant_id, true);
}

int store_application_delete(struct store_tx *tx, const char *tenant_id, const char *id)
{
	return store_changed(stx_exec(tx, "DELETE FROM applications WHERE id = ? AND tenant_id = ?",
				      "ss", id, tenant_id));
}

/* ---- dialplan ---- */

int store_dialplan_insert(struct store_tx *tx, const struct store_dialplan_rule *r)
{
	struct store_val v[] = {
	    {SV_TEXT, r->id, 0},
	    {SV_TEXT, r->tenant_id, 0},
	    {SV_TEXT, r->name ? r->name : "", 0},
	    {SV_INT, NULL, r->priority},
	    {SV_TEXT, r->match_number ? r->match_number : "", 0},
	    {SV_TEXT, r->match_prefix ? r->match_prefix : "", 0},
	    {SV_TEXT, r->match_caller ? r->match_caller : "", 0},
	    {SV_TEXT, r->days ? r->days : "", 0},
	    {SV_TEXT, r->time_start ? r->time_start : "", 0},
	    {SV_TEXT, r->time_end ? r->time_end : "", 0},
	    {SV_INT, NULL, r->utc_offset_min},
	    {SV_TEXT, r->application_id, 0},
	    {SV_INT, NULL, r->enabled},
	    {SV_INT, NULL, store_now()},
	    {SV_INT, NULL, store_now()},
	};
	return insert_done(tx->st->be->exec(
	    tx,
	    "INSERT INTO dialplan_rules (id, tenant_id, name, priority, match_number, "
	    "match_prefix, match_caller, days, time_start, time_end, utc_offset_min, "
	    "application_id, enabled, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?)",
	    sizeof(v) / sizeof(v[0]), v));
}

int store_dialplan_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	return stx_query_one(
	    tx, ret, "SELECT " RULE_COLS " FROM dialplan_rules WHERE id = ? AND tenant_id = ?",
	    "ss", id, tenant_id);
}

int store_dialplan_list(struct store_tx *tx, const char *tenant_id, json_t **ret)
{
	return stx_query(tx, ret,
			 "SELECT " RULE_COLS
			 " FROM dialplan_rules WHERE tenant_id = ? ORDER BY priority, id",
			 "s", tenant_id);
}

int store_dialplan_update(struct store_tx *tx, const char *tenant_id, const char *id,
			  const struct store_dialplan_rule *r)
{
	struct sql_upd u;
	sql_upd_begin(&u, "dialplan_rules");
	sql_upd_text(&u, "name", r->name, false);
	sql_upd_text(&u, "match_number", r->match_number, false);
	sql_upd_text(&u, "match_prefix", r->match_prefix, false);
	sql_upd_text(&u, "match_caller", r->match_caller, false);
	sql_upd_text(&u, "days", r->days, false);
	sql_upd_text(&u, "time_start", r->time_start, false);
	sql_upd_text(&u, "time_end", r->time_end, false);
	sql_upd_text(&u, "application_id", r->application_id, false);
	sql_upd_int(&u, "priority", r->priority, r->priority != INT_MIN);
	sql_upd_int(&u, "utc_offset_min", r->utc_offset_min, r->utc_offset_min != INT_MIN);
	sql_upd_int(&u, "enabled", r->enabled, r->enabled != INT_MIN);
	return upd_run(tx, &u, id, tenant_id, true);
}

int store_dialplan_delete(struct store_tx *tx, const char *tenant_id, const char *id)
{
	return store_changed(stx_exec(
	    tx, "DELETE FROM dialplan_rules WHERE id = ? AND tenant_id = ?", "ss", id, tenant_id));
}

/* "HH:MM" -> minutes of the day, or -1 */
static int hhmm(const char *s)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	return h < 24 && m < 60 ? h * 60 + m : -1;
}

static bool day_listed(const char *days, int wday)
{
	static const char *const names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	for (const char *p = days; *p;) {
		size_t n = strcspn(p, ",");
		if (n == 3 && !strncmp(p, names[wday], 3))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

static bool time_ok(const char *start, const char *end, int minute)
{
	int s = *start ? hhmm(start) : 0, e = *end ? hhmm(end) : 24 * 60;
	if (s < 0 || e < 0)
		return false;
	if (s <= e)
		return minute >= s && minute < e;
	return minute >= s || minute < e; /* past midnight: 22:00-06:00 */
}

static bool prefix_of(const char *prefix, const char *s)
{
	const char *p = digits_of(prefix);
	return !strncmp(digits_of(s), p, strlen(p));
}

static bool rule_matches(const json_t *rule, const char *to, const char *from, uint64_t now_us)
{
	const char *num = json_str(rule, "match_number") ?: "",
		   *pre = json_str(rule, "match_prefix") ?: "",
		   *caller = json_str(rule, "match_caller") ?: "",
		   *days = json_str(rule, "days") ?: "", *ts = json_str(rule, "time_start") ?: "",
		   *te = json_str(rule, "time_end") ?: "";
	if (*num && strcmp(digits_of(num), digits_of(to)))
		return false;
	if (*pre && !prefix_of(pre, to))
		return false;
	if (*caller && !prefix_of(caller, from))
		return false;
	if (!*days && !*ts && !*te)
		return true;
	int64_t local_s = (int64_t)(now_us / 1000000u) + json_int(rule, "utc_offset_min", 0) * 60;
	int64_t day = local_s >= 0 ? local_s / 86400 : (local_s - 86399) / 86400;
	int minute = (int)((local_s - day * 86400) / 60);
	int wday = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
	if (*days && !day_listed(days, wday))
		return false;
	return (!*ts && !*te) || time_ok(ts, te, minute);
}

int store_dialplan_match(struct store_tx *tx, const char *tenant_id, const char *to,
			 const char *from, uint64_t now_us, json_t **ret)
{
	json_t *rows;
	int r =
	    stx_query(tx, &rows,
		      "SELECT " RULE_COLS " FROM dialplan_rules WHERE tenant_id = ? AND enabled "
		      "= 1 ORDER BY priority, id",
		      "s", tenant_id);
	if (r < 0)
		return r;
	size_t i;
	json_t *row;
	r = -ENOENT;
	json_array_foreach (rows, i, row)
		if (rule_matches(row, to ? to : "", from ? from : "", now_us)) {
			*ret = json_incref(row);
			r = 0;
			break;
		}
	json_decref(rows);
	return r;
}

/* ---- recordings ---- */

int store_recording_insert(struct store_tx *tx, const struct store_recording *r)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO recordings (id, tenant_id, call_id, source, "
				    "status, path, status_callback, status_callback_method, "
				    "created_us, updated_us) VALUES (?, ?, ?, ?, 'in-progress', ?, "
				    "?, ?, ?, ?)",
				    "sssssssii", r->id, r->tenant_id, r->call_id, r->source,
				    r->path, r->status_callback, r->status_callback_method,
				    store_now(), store_now()));
}

int store_recording_done(struct store_tx *tx, const char *id, const char *status, int duration_ms,
			 int64_t bytes)
{
	return store_changed(
	    stx_exec(tx,
		     "UPDATE recordings SET status = ?, duration_ms = ?, bytes = ?, "
		     "completed_us = ?, updated_us = ? WHERE id = ? AND status = "
		     "'in-progress'",
		     "siiiis", status, (int64_t)duration_ms, bytes, store_now(), store_now(), id));
}

int store_recording_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	if (!tenant_id)
		return stx_query_one(tx, ret, "SELECT " REC_COLS " FROM recordings WHERE id = ?",
				     "s", id);
	return stx_query_one(tx, ret,
			     "SELECT " REC_COLS " FROM recordings WHERE id = ? AND tenant_id = ?",
			     "ss", id, tenant_id);
}

int store_recording_list(struct store_tx *tx, const char *tenant_id, const char *call_id,
			 const char *cursor, int limit, json_t **ret)
{
	struct store_val v[2] = {{SV_TEXT, tenant_id, 0}, {SV_TEXT, call_id, 0}};
	return store_list_page(tx, ret,
			       call_id ? "SELECT " REC_COLS " FROM recordings WHERE tenant_id = ? "
					 "AND status <> 'deleted' AND call_id = ?"
				       : "SELECT " REC_COLS " FROM recordings WHERE tenant_id = ? "
					 "AND status <> 'deleted'",
			       call_id ? 2 : 1, v, cursor, limit);
}

int store_recording_delete(struct store_tx *tx, const char *tenant_id, const char *id,
			   char **ret_path)
{
	json_t *row;
	int r = store_recording_get(tx, tenant_id, id, &row);
	if (r < 0)
		return r;
	if (!strcmp(json_str(row, "status") ?: "", "deleted")) {
		json_decref(row);
		return -ENOENT;
	}
	r = store_changed(
	    stx_exec(tx,
		     "UPDATE recordings SET status = 'deleted', updated_us = ? WHERE id = ? "
		     "AND tenant_id = ?",
		     "iss", store_now(), id, json_str(row, "tenant_id")));
	if (r == 0)
		*ret_path = mem_strdup(json_str(row, "path") ?: "");
	json_decref(row);
	return r;
}
