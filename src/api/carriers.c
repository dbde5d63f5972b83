/* carriers.c: SIP carriers (trunks), operator-wide under /v1/admin/carriers and a tenant's
   own under /v1/carriers (bring your own), with their per-prefix rate decks (CSV or JSON).
   The password is stored for the trunk's digest and registration, never shown back. */
#include <ctype.h>

#include "internal.h"
#include "webhooks/webhooks.h"

struct cctx {
	struct http_req *req;
	const char *id, *cursor, *scope; /* scope: tenant id, or NULL for the operator's */
	int limit;
	json_t *rows;
	struct store_carrier c;
	char new_id[ID_LEN + 1];
	json_t *rates;
};

static const char *scope_of(struct http_req *req)
{
	return !strncmp(req->route->path, "/v1/admin/", 10) ? NULL : req->who.tenant_id;
}

json_t *present_carrier(json_t *row)
{
	static const char *const omit[] = {"password", "enabled", NULL};
	json_t *o = present(row, omit);
	json_object_set_new(o, "has_password", json_boolean(json_str(row, "password") != NULL));
	json_object_set_new(o, "register", json_boolean(json_int(row, "register_expires", 0) > 0));
	json_object_set_new(o, "enabled", json_boolean(json_int(row, "enabled", 0) == 1));
	return o;
}

static const struct json_field carrier_fields[] = {{"name", JF_STRING, false, 100},
						   {"host", JF_STRING, false, 253},
						   {"port", JF_INT, false, 0},
						   {"transport", JF_STRING, false, 8},
						   {"username", JF_STRING, false, 128},
						   {"password", JF_STRING, false, 128},
						   {"register", JF_BOOL, false, 0},
						   {"register_expires", JF_INT, false, 0},
						   {"number_format", JF_STRING, false, 8},
						   {"tech_prefix", JF_STRING, false, 10},
						   {"caller_id", JF_STRING, false, 16},
						   {"max_channels", JF_INT, false, 0},
						   {"cps_limit", JF_INT, false, 0},
						   {"priority", JF_INT, false, 0},
						   {"weight", JF_INT, false, 0},
						   {"enabled", JF_BOOL, false, 0},
						   {"ping_ms", JF_INT, false, 0},
						   {0}};

static bool printable(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* A hostname or IP literal, no credentials, port or path; tenant carriers may not point at
   loopback or private addresses unless outbound.allow_private. */
static int check_host(struct http_req *req, const char *host, bool tenant)
{
	size_t n = strlen(host);
	bool v6 = strchr(host, ':') != NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)host[i];
		if (!(isalnum(ch) || ch == '.' || ch == '-' || (v6 && ch == ':')))
			return http_error(
				   req, 400, "invalid_field",
				   "a hostname or IP address (no scheme, user, port or path)",
				   "host"),
			       -EINVAL;
	}
	if (n == 0 || n > 253)
		return http_error(req, 400, "invalid_field", "host is 1 to 253 characters", "host"),
		       -EINVAL;
	char url[300];
	snprintf(url, sizeof(url), v6 ? "http://[%s]/" : "http://%s/", host);
	const char *why = NULL;
	bool allow = !tenant || req->app->cfg->outbound_allow_private;
	if (webhooks_check_url(url, allow, &why) < 0)
		return http_error(req, 400, "invalid_field", why ? why : "host not allowed",
				  "host"),
		       -EINVAL;
	return 0;
}

static int bad(struct http_req *req, const char *msg, const char *field)
{
	http_error(req, 400, "invalid_field", msg, field);
	return -EINVAL;
}

/* An integer field in [lo, hi]; *out = def when absent. -EINVAL (answered) if out of range. */
static int int_field(struct http_req *req, const char *name, int64_t lo, int64_t hi, int def,
		     const char *msg, int *out)
{
	json_t *v = json_object_get(req->json, name);
	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	int64_t x = json_integer_value(v);
	if (x < lo || x > hi)
		return bad(req, msg, name);
	*out = (int)x;
	return 0;
}

static int bool_field(struct http_req *req, const char *name, int def)
{
	json_t *v = json_object_get(req->json, name);
	return v && !json_is_null(v) ? json_is_true(v) : def;
}

/* The body as a carrier: create fills defaults, a patch leaves absent fields (NULL, -1). */
static int carrier_of(struct http_req *req, bool create, bool tenant, struct store_carrier *c)
{
	int keep = create ? 0 : -1;
	const char *name = json_str(req->json, "name"), *host = json_str(req->json, "host"),
		   *tr = json_str(req->json, "transport"),
		   *nf = json_str(req->json, "number_format"),
		   *tp = json_str(req->json, "tech_prefix"),
		   *cid = json_str(req->json, "caller_id"), *user = json_str(req->json, "username"),
		   *pw = json_str(req->json, "password");
	if (create && (!name || !*name))
		return http_error(req, 400, "missing_field", "name is required", "name"), -EINVAL;
	if (name && (!*name || !printable(name)))
		return bad(req, "name is 1 to 100 printable characters", "name");
	if (create && !host)
		return http_error(req, 400, "missing_field", "host is required", "host"), -EINVAL;
	if (host && check_host(req, host, tenant) < 0)
		return -EINVAL;
	if (tr && strcmp(tr, "udp") && strcmp(tr, "tcp") && strcmp(tr, "tls"))
		return bad(req, "udp, tcp or tls", "transport");
	if (nf && strcmp(nf, "e164") && strcmp(nf, "digits"))
		return bad(req, "e164 or digits", "number_format");
	if (tp && !all_digits(tp))
		return bad(req, "digits only, at most 10", "tech_prefix");
	if (cid && *cid && !e164_valid(cid))
		return bad(req, "an E.164 number (+15551234567) or \"\"", "caller_id");
	if (!printable(user) || (user && strchr(user, ':')))
		return bad(req, "printable characters, no ':'", "username");
	if (!printable(pw))
		return bad(req, "printable characters", "password");
	*c = (struct store_carrier){.name = name,
				    .host = host,
				    .transport = tr ? tr : (create ? "udp" : NULL),
				    .username = user,
				    .password = pw,
				    .number_format = nf ? nf : (create ? "e164" : NULL),
				    .tech_prefix = tp ? tp : (create ? "" : NULL),
				    .caller_id = cid ? cid : (create ? "" : NULL)};
	if (int_field(req, "port", 1, 65535, create ? 5060 : -1, "port is 1 to 65535", &c->port) <
		0 ||
	    int_field(req, "max_channels", 0, 100000, keep, "max_channels is 0 (no limit) or more",
		      &c->max_channels) < 0 ||
	    int_field(req, "cps_limit", 0, 10000, keep, "cps_limit is 0 (no limit) or more",
		      &c->cps_limit) < 0 ||
	    int_field(req, "priority", 0, 1000, create ? 10 : -1, "priority is 0 to 1000",
		      &c->priority) < 0 ||
	    int_field(req, "weight", 1, 1000, create ? 100 : -1, "weight is 1 to 1000",
		      &c->weight) < 0 ||
	    int_field(req, "ping_ms", 0, 3600000, create ? 30000 : -1,
		      "ping_ms is 0 (off) or 1000 to 3600000", &c->ping_ms) < 0)
		return -EINVAL;
	if (c->ping_ms > 0 && c->ping_ms < 1000)
		return bad(req, "ping_ms is 0 (off) or 1000 to 3600000", "ping_ms");
	c->enabled = bool_field(req, "enabled", create ? 1 : -1);
	/* registration: register true -> register_expires (default 3600); false -> 0 */
	int reg = bool_field(req, "register", -1), exp;
	if (int_field(req, "register_expires", 60, 86400, -1, "register_expires is 60 to 86400",
		      &exp) < 0)
		return -EINVAL;
	if (reg == 0 && exp > 0)
		return bad(req, "register_expires needs register true", "register_expires");
	c->register_expires = reg == 0 ? 0 : exp > 0 ? exp : reg == 1 ? 3600 : keep;
	if (reg == 1 && create && (!user || !*user))
		return bad(req, "registering needs a username", "username");
	return 0;
}

static int ccreate_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	json_t *row;
	int r = store_carrier_insert(tx, &c->c);
	if (r < 0 || (r = store_carrier_get(tx, c->scope, false, c->c.id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->c.id);
	http_reply(c->req, 201, present_carrier(row));
	json_decref(row);
	return 0;
}

int h_carriers_create(struct http_req *req)
{
	if (http_check_body(req, carrier_fields) < 0)
		return 0;
	struct cctx c = {.req = req, .scope = scope_of(req)};
	if (carrier_of(req, true, c.scope != NULL, &c.c) < 0)
		return 0;
	id_new("TK", c.new_id);
	c.c.id = c.new_id;
	c.c.tenant_id = c.scope;
	return http_write(req, c.scope, ccreate_fn, &c);
}

int h_carriers_list(struct http_req *req)
{
	return api_list(req, scope_of(req), store_carrier_list, present_carrier);
}

static int cget_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	return store_carrier_get(tx, c->scope, false, c->id, &c->rows);
}

int h_carriers_get(struct http_req *req)
{
	struct cctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "TK")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, c.scope, STORE_READ, cget_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_carrier(c.rows));
	json_decref(c.rows);
	return 0;
}

static int cpatch_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	json_t *row;
	int r = store_carrier_update(tx, c->scope, c->id, &c->c);
	if (r < 0 || (r = store_carrier_get(tx, c->scope, false, c->id, &row)) < 0)
		return r;
	if (json_int(row, "register_expires", 0) > 0 && !json_str(row, "username")) {
		json_decref(row);
		return http_error(c->req, 400, "invalid_field", "registering needs a username",
				  "username");
	}
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	http_reply(c->req, 200, present_carrier(row));
	json_decref(row);
	return 0;
}

int h_carriers_patch(struct http_req *req)
{
	struct cctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "TK")};
	if (!c.id)
		return not_found(req);
	if (http_check_body(req, carrier_fields) < 0)
		return 0;
	if (carrier_of(req, false, c.scope != NULL, &c.c) < 0)
		return 0;
	return http_write(req, c.scope, cpatch_fn, &c);
}

static int cdelete_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	int r = store_carrier_delete(tx, c->scope, c->id);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 204, NULL);
}

int h_carriers_delete(struct http_req *req)
{
	struct cctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "TK")};
	if (!c.id)
		return not_found(req);
	return http_write(req, c.scope, cdelete_fn, &c);
}

/* ---- rate decks ---- */

static int crates_put_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	json_t *row;
	int r = store_carrier_get(tx, c->scope, false, c->id, &row);
	if (r < 0)
		return r;
	json_decref(row);
	size_t n = json_array_size(c->rates);
	struct store_carrier_rate *rt = mem_alloc((n ? n : 1) * sizeof(*rt));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(c->rates, i);
		rt[i] = (struct store_carrier_rate){
		    json_str(e, "prefix"), json_int(e, "cost_micros", 0),
		    (int)json_int(e, "min_s", 60), (int)json_int(e, "incr_s", 60)};
	}
	r = store_carrier_rates_replace(tx, c->id, c->scope, rt, n);
	mem_free(rt);
	if (r == -EEXIST)
		return http_error(c->req, 400, "invalid_rates", "a prefix appears twice", "rates");
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 200,
			  json_pack("{s:s,s:i}", "carrier_id", c->id, "rates", (int)n));
}

/* {"rates": [{prefix, cost_per_min, min_s?, incr_s?}]} -> the parser's rows */
static int rates_of_json(struct http_req *req, json_t **ret)
{
	json_error_t je;
	json_t *doc =
	    json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &je);
	json_t *arr = json_object_get(doc, "rates");
	if (!json_is_array(arr) || json_object_size(doc) != 1) {
		json_decref(doc);
		return http_error(req, 400, "invalid_rates", "a JSON body is {\"rates\": [...]}",
				  "rates"),
		       -EINVAL;
	}
	/* the same checks as CSV: write each row as a CSV line and parse that */
	struct buf csv;
	buf_init(&csv, 0);
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e) {
		json_t *cost = json_object_get(e, "cost_per_min");
		const char *pre = json_str(e, "prefix");
		double v = json_number_value(cost);
		if (!json_is_object(e) || !pre || !json_is_number(cost) || v < 0 || v > 1000 ||
		    strlen(pre) > 16 || strpbrk(pre, ",\r\n")) {
			buf_free(&csv);
			json_decref(doc);
			char msg[96];
			snprintf(msg, sizeof(msg),
				 "rates[%zu]: prefix (string) and cost_per_min (0 to 1000)", i);
			return http_error(req, 400, "invalid_rates", msg, "rates"), -EINVAL;
		}
		char line[128];
		snprintf(line, sizeof(line), "%s,%.6f,%lld,%lld\n", pre, v,
			 (long long)json_int(e, "min_s", 60), (long long)json_int(e, "incr_s", 60));
		buf_puts(&csv, line);
	}
	json_decref(doc);
	char err[160];
	int r = api_rates_csv_parse(csv.p ? csv.p : "", csv.len, false, "rates item", ret, err);
	buf_free(&csv);
	if (r < 0)
		return http_error(req, 400, "invalid_rates", err, "rates"), r;
	return 0;
}

int h_carrier_rates_put(struct http_req *req)
{
	struct cctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "TK")};
	if (!c.id)
		return not_found(req);
	const char *ct = http_get_header(req, "Content-Type");
	if (ct && !strncasecmp(ct, "application/json", 16)) {
		if (rates_of_json(req, &c.rates) < 0)
			return 0;
	} else {
		char err[160];
		if (api_rates_csv_parse(req->body ? req->body : "", req->body_len, true, "line",
					&c.rates, err) < 0)
			return http_error(req, 400, "invalid_csv", err, "csv");
	}
	int r = http_write(req, c.scope, crates_put_fn, &c);
	json_decref(c.rates);
	return r;
}

static int crates_get_fn(struct store_tx *tx, void *arg)
{
	struct cctx *c = arg;
	json_t *row;
	int r = store_carrier_get(tx, c->scope, false, c->id, &row);
	if (r < 0)
		return r;
	json_decref(row);
	return store_carrier_rates_list(tx, c->id, &c->rows);
}

int h_carrier_rates_get(struct http_req *req)
{
	struct cctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "TK")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, c.scope, STORE_READ, crates_get_fn, &c);
	if (r < 0)
		return r;
	size_t i;
	json_t *e;
	json_array_foreach (c.rows, i, e)
		json_object_set_new(e, "cost_per_min",
				    json_real((double)json_int(e, "cost_micros", 0) / 1e6));
	return http_reply(req, 200, json_pack("{s:o}", "data", c.rows));
}
