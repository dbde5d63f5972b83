/* voice_settings.c: a tenant's voice guardrails. The tenant reads its effective settings
   and chooses its allowed destination countries; the operator sets everything (home
   country, calls per second, concurrent calls, daily spend cap) under /v1/admin
   (docs/calls.md "Routing and guardrails"). */
#include <math.h>
#include <strings.h>

#include "calls/policy.h"
#include "internal.h"

#define MAX_COUNTRIES 300
#define SPEND_CAP_MAX 1e9 /* currency units */

/* The fields a request changes (bits of set), validated before the transaction. */
enum { SET_HOME = 1, SET_ALLOWED = 2, SET_CPS = 4, SET_MAX = 8, SET_CAP = 16 };

struct vsctx {
	struct http_req *req;
	const char *tenant;
	bool admin;
	json_t *row;			  /* stored settings, NULL: none */
	struct store_voice_settings s, p; /* s: what is written; p: the request's values */
	unsigned set;
	char home[3], *allowed;
};

/* ---- presentation: stored value, else the operator's default ---- */

static json_t *countries_array(const char *list)
{
	json_t *a = json_array();
	for (const char *p = list; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ')
			e++;
		if (e > p)
			json_array_append_new(a, json_stringn(p, (size_t)(e - p)));
		p = e;
	}
	return a;
}

static json_t *present_voice_settings(struct http_req *req, const char *tenant, json_t *row)
{
	const struct config *cfg = req->app->cfg;
	json_t *defaults = json_array();
	const char *home = json_str(row, "home_country"),
		   *allowed = json_str(row, "allowed_countries");
	if (!home) {
		home = cfg->voice_home_country && *cfg->voice_home_country ? cfg->voice_home_country
									   : "US";
		json_array_append_new(defaults, json_string("home_country"));
	}
	if (!allowed) {
		allowed = home;
		json_array_append_new(defaults, json_string("allowed_countries"));
	}
	json_t *o = json_pack("{s:s,s:s,s:o}", "tenant_id", tenant, "home_country", home,
			      "allowed_countries", countries_array(allowed));
	static const char *const ints[] = {"calls_per_second", "max_concurrent_calls"};
	const int defs[] = {cfg->voice_cps, cfg->voice_max_concurrent};
	for (int i = 0; i < 2; i++) {
		json_t *v = json_object_get(row, ints[i]);
		if (!json_is_integer(v))
			json_array_append_new(defaults, json_string(ints[i]));
		json_object_set_new(
		    o, ints[i], json_integer(json_is_integer(v) ? json_integer_value(v) : defs[i]));
	}
	json_t *cap = json_object_get(row, "daily_spend_cap_micros");
	if (!json_is_integer(cap))
		json_array_append_new(defaults, json_string("daily_spend_cap"));
	double units = json_is_integer(cap) ? (double)json_integer_value(cap) / 1e6
					    : (double)cfg->voice_daily_spend_cap;
	json_object_set_new(o, "daily_spend_cap", json_real(units));
	json_object_set_new(o, "defaults", defaults);
	json_t *up = json_object_get(row, "updated_us");
	char ts[TIME_RFC3339_LEN];
	json_object_set_new(o, "updated_at",
			    json_is_integer(up)
				? json_string(time_fmt((uint64_t)json_integer_value(up), ts))
				: json_null());
	return o;
}

/* ---- validation (answers 400 and returns -EINVAL) ---- */

static int bad(struct http_req *req, const char *code, const char *msg, const char *field)
{
	http_error(req, 400, code, msg, field);
	return -EINVAL;
}

/* allowed_countries: a non-empty array of known alpha-2 codes, or ["*"]; *ret a comma list
   (upper case, duplicates dropped; malloc'd), NULL for null (the default). */
static int parse_allowed(struct http_req *req, json_t *v, char **ret)
{
	static const char f[] = "allowed_countries";
	*ret = NULL;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return bad(req, "invalid_type", "allowed_countries is an array of country codes",
			   f);
	size_t n = json_array_size(v);
	if (n == 0 || n > MAX_COUNTRIES)
		return bad(req, "invalid_field",
			   "allowed_countries holds 1 to 300 codes (null: the home country)", f);
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		const char *cc = json_string_value(json_array_get(v, i));
		if (cc && !strcmp(cc, "*") && n == 1)
			break;
		if (!cc || !policy_country_known(cc)) {
			buf_free(&b);
			return bad(req, "invalid_country",
				   "not an ISO 3166 alpha-2 country code we route to (\"*\" alone: "
				   "any country)",
				   f);
		}
		char up[3] = {(char)(cc[0] & ~0x20), (char)(cc[1] & ~0x20), 0};
		bool dup = false;
		for (size_t j = 0; b.p && j + 2 <= b.len; j += 3)
			if (!strncmp(b.p + j, up, 2))
				dup = true;
		if (!dup)
			buf_printf(&b, "%s%s", b.len ? "," : "", up);
	}
	*ret = b.len ? buf_detach(&b) : mem_strdup("*");
	buf_free(&b);
	return 0;
}

/* An integer field in [lo, hi]; null stores the default, absent leaves it. */
static int parse_int(struct vsctx *c, const char *name, int64_t lo, int64_t hi, unsigned bit,
		     int *slot)
{
	struct http_req *req = c->req;
	json_t *v = json_object_get(req->json, name);
	if (!v)
		return 0;
	c->set |= bit;
	if (json_is_null(v)) {
		*slot = -1;
		return 0;
	}
	if (!json_is_integer(v))
		return bad(req, "invalid_type", "must be an integer", name);
	int64_t i = json_integer_value(v);
	if (i < lo || i > hi) {
		char msg[64];
		snprintf(msg, sizeof(msg), "must be %lld to %lld", (long long)lo, (long long)hi);
		return bad(req, "invalid_field", msg, name);
	}
	*slot = (int)i;
	return 0;
}

static int parse_admin(struct vsctx *c)
{
	struct http_req *req = c->req;
	json_t *v = json_object_get(req->json, "home_country");
	if (v)
		c->set |= SET_HOME;
	if (v && json_is_null(v)) {
		c->p.home_country = NULL;
	} else if (v) {
		const char *cc = json_string_value(v);
		if (!cc || !policy_country_known(cc))
			return bad(req, "invalid_country", "not an ISO 3166 alpha-2 country code",
				   "home_country");
		c->home[0] = (char)(cc[0] & ~0x20);
		c->home[1] = (char)(cc[1] & ~0x20);
		c->p.home_country = c->home;
	}
	if (parse_int(c, "calls_per_second", 1, 1000, SET_CPS, &c->p.calls_per_second) < 0 ||
	    parse_int(c, "max_concurrent_calls", 1, 100000, SET_MAX, &c->p.max_concurrent_calls) <
		0)
		return -EINVAL;
	v = json_object_get(req->json, "daily_spend_cap");
	if (v)
		c->set |= SET_CAP;
	if (v && json_is_null(v)) {
		c->p.daily_spend_cap_micros = -1;
	} else if (v) {
		if (!json_is_number(v))
			return bad(req, "invalid_type", "must be a number", "daily_spend_cap");
		double d = json_number_value(v);
		if (!(d >= 0 && d <= SPEND_CAP_MAX))
			return bad(req, "invalid_field", "must be 0 (no cap) to 1000000000",
				   "daily_spend_cap");
		c->p.daily_spend_cap_micros = llround(d * 1e6);
	}
	return 0;
}

static int parse_request(struct vsctx *c)
{
	if (c->admin && parse_admin(c) < 0)
		return -EINVAL;
	json_t *allowed = json_object_get(c->req->json, "allowed_countries");
	if (!allowed)
		return 0;
	c->set |= SET_ALLOWED;
	if (parse_allowed(c->req, allowed, &c->allowed) < 0)
		return -EINVAL;
	c->p.allowed_countries = c->allowed;
	return 0;
}

/* Unknown fields are refused; known ones are checked by the parsers. */
static int check_fields(struct http_req *req)
{
	static const char *const known[] = {"home_country",	"allowed_countries",
					    "calls_per_second", "max_concurrent_calls",
					    "daily_spend_cap",	NULL};
	const char *key;
	json_t *v;
	json_object_foreach (req->json, key, v) {
		int i = 0;
		while (known[i] && strcmp(known[i], key))
			i++;
		if (!known[i])
			return bad(req, "unknown_field", "unknown field", key);
	}
	return 0;
}

/* ---- transactions ---- */

/* Loads the stored row into c->s (so a change keeps the other fields). */
static int load(struct store_tx *tx, struct vsctx *c)
{
	int r = store_voice_settings_get(tx, c->tenant, &c->row);
	if (r == -ENOENT) {
		c->row = NULL;
		c->s = (struct store_voice_settings){NULL, NULL, -1, -1, -1};
		return 0;
	}
	if (r < 0)
		return r;
	c->s = (struct store_voice_settings){json_str(c->row, "home_country"),
					     json_str(c->row, "allowed_countries"),
					     (int)json_int(c->row, "calls_per_second", -1),
					     (int)json_int(c->row, "max_concurrent_calls", -1),
					     json_int(c->row, "daily_spend_cap_micros", -1)};
	return 0;
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct vsctx *c = arg;
	if (c->admin) {
		json_t *t;
		int r = store_tenant_get(tx, c->tenant, &t);
		if (r < 0)
			return r;
		json_decref(t);
	}
	int r = store_voice_settings_get(tx, c->tenant, &c->row);
	if (r == -ENOENT)
		c->row = NULL;
	return r == -ENOENT ? 0 : r;
}

static int put_fn(struct store_tx *tx, void *arg)
{
	struct vsctx *c = arg;
	struct http_req *req = c->req;
	int r;
	if (c->admin) {
		json_t *t;
		if ((r = store_tenant_get(tx, c->tenant, &t)) < 0)
			return r;
		json_decref(t);
	}
	if ((r = load(tx, c)) < 0)
		return r;
	if (c->set & SET_HOME)
		c->s.home_country = c->p.home_country;
	if (c->set & SET_ALLOWED)
		c->s.allowed_countries = c->p.allowed_countries;
	if (c->set & SET_CPS)
		c->s.calls_per_second = c->p.calls_per_second;
	if (c->set & SET_MAX)
		c->s.max_concurrent_calls = c->p.max_concurrent_calls;
	if (c->set & SET_CAP)
		c->s.daily_spend_cap_micros = c->p.daily_spend_cap_micros;
	if ((r = store_voice_settings_put(tx, c->tenant, &c->s)) < 0)
		return r;
	json_decref(c->row);
	if ((r = store_voice_settings_get(tx, c->tenant, &c->row)) < 0)
		return r;
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", c->tenant);
	http_reply(req, 200, present_voice_settings(req, c->tenant, c->row));
	return 0;
}

static int reply_get(struct vsctx *c)
{
	int r = store_tx(c->req->app->st, c->tenant, STORE_READ, get_fn, c);
	if (r < 0)
		return r;
	http_reply(c->req, 200, present_voice_settings(c->req, c->tenant, c->row));
	json_decref(c->row);
	return 0;
}

static int vs_write(struct vsctx *c)
{
	int r = parse_request(c) < 0 ? 0 : http_write(c->req, c->tenant, put_fn, c);
	json_decref(c->row);
	mem_free(c->allowed);
	return r;
}

/* ---- handlers ---- */

int h_voice_settings_get(struct http_req *req)
{
	struct vsctx c = {.req = req, .tenant = req->who.tenant_id};
	return reply_get(&c);
}

int h_voice_settings_patch(struct http_req *req)
{
	if (check_fields(req) < 0)
		return 0;
	static const char *const operator_only[] = {
	    "home_country", "calls_per_second", "max_concurrent_calls", "daily_spend_cap", NULL};
	for (int i = 0; operator_only[i]; i++)
		if (json_object_get(req->json, operator_only[i]))
			return http_error(req, 403, "operator_only",
					  "only the operator changes this setting; a tenant sets "
					  "allowed_countries",
					  operator_only[i]);
	struct vsctx c = {.req = req, .tenant = req->who.tenant_id};
	return vs_write(&c);
}

int h_admin_voice_settings_get(struct http_req *req)
{
	struct vsctx c = {.req = req, .tenant = path_id(req, 0, "AC"), .admin = true};
	if (!c.tenant)
		return not_found(req);
	return reply_get(&c);
}

int h_admin_voice_settings_put(struct http_req *req)
{
	struct vsctx c = {.req = req, .tenant = path_id(req, 0, "AC"), .admin = true};
	if (!c.tenant)
		return not_found(req);
	if (check_fields(req) < 0)
		return 0;
	return vs_write(&c);
}
