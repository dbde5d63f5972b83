/* providers.c: messaging providers (operator-wide under /v1/admin, a tenant's own under
   /v1/messaging-providers) with their rate decks, phone numbers (the operator adds and
   assigns, the tenant sets sms_url), approved sender ids, and the webhook endpoint HTTP
   providers post receipts and inbound messages to. */
#include <stdlib.h>

#include "internal.h"
#include "messaging/messaging.h"
#include "webhooks/webhooks.h"

struct pctx {
	struct http_req *req;
	const char *id, *cursor, *scope; /* scope: tenant id, or NULL for the operator's */
	int limit;
	json_t *rows;
	struct store_provider p;
	char new_id[ID_LEN + 1];
	char *config;
	json_t *rates;
};

static const char *scope_of(struct http_req *req)
{
	return !strncmp(req->route->path, "/v1/admin/", 10) ? NULL : req->who.tenant_id;
}

json_t *present_provider(json_t *row)
{
	static const char *const omit[] = {"config", "enabled", NULL};
	json_t *o = present(row, omit);
	json_t *c = json_loads(json_str(row, "config") ?: "{}", 0, NULL);
	static const char *const secret[] = {"password", "token", NULL};
	for (int i = 0; secret[i]; i++)
		if (json_object_get(c, secret[i]))
			json_object_set_new(c, secret[i], json_string("********"));
	json_object_set_new(o, "config", c ? c : json_object());
	json_object_set_new(o, "enabled", json_boolean(json_int(row, "enabled", 0) == 1));
	return o;
}

static const struct json_field prov_fields[] = {{"name", JF_STRING, false, 200},
						{"kind", JF_STRING, false, 16},
						{"config", JF_OBJECT, false, 0},
						{"priority", JF_INT, false, 0},
						{"weight", JF_INT, false, 0},
						{"enabled", JF_BOOL, false, 0},
						{0}};

static int check_ints(struct http_req *req)
{
	int64_t pr = json_int(req->json, "priority", 10), w = json_int(req->json, "weight", 100);
	if (pr < 0 || pr > 1000)
		return http_error(req, 400, "invalid_field", "priority is 0 to 1000", "priority"),
		       -EINVAL;
	if (w < 0 || w > 1000)
		return http_error(req, 400, "invalid_field", "weight is 0 to 1000", "weight"),
		       -EINVAL;
	return 0;
}

static int pcreate_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	int r = store_provider_insert(tx, &c->p);
	json_t *row;
	if (r < 0 || (r = store_provider_get(tx, c->scope, false, c->p.id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->p.id);
	http_reply(c->req, 201, present_provider(row));
	json_decref(row);
	return 0;
}

int h_providers_create(struct http_req *req)
{
	if (http_check_body(req, prov_fields) < 0)
		return 0;
	struct pctx c = {.req = req, .scope = scope_of(req)};
	const char *name = json_str(req->json, "name"), *kind = json_str(req->json, "kind");
	json_t *cfg = json_object_get(req->json, "config");
	if (!name || !*name)
		return http_error(req, 400, "missing_field", "name is required", "name");
	if (!kind)
		return http_error(req, 400, "missing_field", "kind is required", "kind");
	if (!cfg)
		return http_error(req, 400, "missing_field", "config is required", "config");
	struct messaging_refusal w;
	if (messaging_provider_check(kind, cfg, req->app->cfg->outbound_allow_private, &w) < 0)
		return http_error(req, w.status, w.code, w.message, w.field);
	if (check_ints(req) < 0)
		return 0;
	id_new("MP", c.new_id);
	c.config = json_dumps(cfg, JSON_COMPACT);
	json_t *en = json_object_get(req->json, "enabled");
	c.p = (struct store_provider){c.new_id,
				      c.scope,
				      name,
				      kind,
				      c.config,
				      (int)json_int(req->json, "priority", 10),
				      (int)json_int(req->json, "weight", 100),
				      en && !json_is_null(en) ? json_is_true(en) : 1};
	int r = http_write(req, c.scope, pcreate_fn, &c);
	free(c.config);
	if (req->status == 201)
		messaging_forget_provider(req->app->messaging, c.new_id);
	return r;
}

int h_providers_list(struct http_req *req)
{
	return api_list(req, scope_of(req), store_provider_list, present_provider);
}

static int pget_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	return store_provider_get(tx, c->scope, false, c->id, &c->rows);
}

int h_providers_get(struct http_req *req)
{
	struct pctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "MP")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, c.scope, STORE_READ, pget_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_provider(c.rows));
	json_decref(c.rows);
	return 0;
}

static int ppatch_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	json_t *row;
	int r = store_provider_get(tx, c->scope, false, c->id, &row);
	if (r < 0)
		return r;
	json_t *cfg = json_object_get(c->req->json, "config");
	if (cfg) {
		/* secrets left as "********" (as shown) keep their stored value */
		json_t *old = json_loads(json_str(row, "config"), 0, NULL);
		json_t *merged = json_deep_copy(cfg);
		static const char *const secret[] = {"password", "token", NULL};
		for (int i = 0; secret[i]; i++) {
			const char *v = json_str(merged, secret[i]);
			if (v && !strcmp(v, "********"))
				json_object_set(merged, secret[i], json_object_get(old, secret[i]));
		}
		struct messaging_refusal w;
		r = messaging_provider_check(json_str(row, "kind"), merged,
					     c->req->app->cfg->outbound_allow_private, &w);
		if (r < 0) {
			json_decref(old);
			json_decref(merged);
			json_decref(row);
			return http_error(c->req, w.status, w.code, w.message, w.field);
		}
		c->config = json_dumps(merged, JSON_COMPACT);
		c->p.config = c->config;
		json_decref(old);
		json_decref(merged);
	}
	json_decref(row);
	if ((r = store_provider_update(tx, c->scope, c->id, &c->p)) < 0 ||
	    (r = store_provider_get(tx, c->scope, false, c->id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	http_reply(c->req, 200, present_provider(row));
	json_decref(row);
	return 0;
}

int h_providers_patch(struct http_req *req)
{
	struct pctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "MP")};
	if (!c.id)
		return not_found(req);
	if (http_check_body(req, prov_fields) < 0)
		return 0;
	if (json_object_get(req->json, "kind"))
		return http_error(req, 400, "invalid_field", "kind cannot change", "kind");
	if (check_ints(req) < 0)
		return 0;
	json_t *en = json_object_get(req->json, "enabled");
	c.p = (struct store_provider){.name = json_str(req->json, "name"),
				      .priority = (int)json_int(req->json, "priority", -1),
				      .weight = (int)json_int(req->json, "weight", -1),
				      .enabled = en && !json_is_null(en) ? json_is_true(en) : -1};
	int r = http_write(req, c.scope, ppatch_fn, &c);
	free(c.config);
	messaging_forget_provider(req->app->messaging, c.id);
	return r;
}

static int pdelete_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	int r = store_provider_delete(tx, c->scope, c->id);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 204, NULL);
}

int h_providers_delete(struct http_req *req)
{
	struct pctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "MP")};
	if (!c.id)
		return not_found(req);
	int r = http_write(req, c.scope, pdelete_fn, &c);
	messaging_forget_provider(req->app->messaging, c.id);
	return r;
}

static int rates_put_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	json_t *row;
	int r = store_provider_get(tx, c->scope, false, c->id, &row);
	if (r < 0)
		return r;
	json_decref(row);
	size_t n = json_array_size(c->rates);
	struct store_rate *rt = mem_alloc((n ? n : 1) * sizeof(*rt));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(c->rates, i);
		rt[i] = (struct store_rate){json_str(e, "prefix"), json_int(e, "cost_micros", 0)};
	}
	r = store_rates_replace(tx, c->id, c->scope, rt, n);
	mem_free(rt);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 200,
			  json_pack("{s:s,s:i}", "provider_id", c->id, "rates", (int)n));
}

int h_rates_put(struct http_req *req)
{
	static const struct json_field f[] = {{"csv", JF_STRING, true, 4 << 20}, {0}};
	struct pctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "MP")};
	if (!c.id)
		return not_found(req);
	if (http_check_body(req, f) < 0)
		return 0;
	struct messaging_refusal w;
	if (messaging_rates_parse_csv(json_str(req->json, "csv"), &c.rates, &w) < 0)
		return http_error(req, w.status, w.code, w.message, w.field);
	int r = http_write(req, c.scope, rates_put_fn, &c);
	json_decref(c.rates);
	return r;
}

static int rates_get_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	json_t *row;
	int r = store_provider_get(tx, c->scope, false, c->id, &row);
	if (r < 0)
		return r;
	json_decref(row);
	return store_rates_list(tx, c->id, &c->rows);
}

int h_rates_get(struct http_req *req)
{
	struct pctx c = {.req = req, .scope = scope_of(req), .id = path_id(req, 0, "MP")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, c.scope, STORE_READ, rates_get_fn, &c);
	if (r < 0)
		return r;
	size_t i;
	json_t *e;
	json_array_foreach (c.rows, i, e)
		json_object_set_new(e, "cost",
				    json_real((double)json_int(e, "cost_micros", 0) / 1e6));
	return http_reply(req, 200, json_pack("{s:o}", "data", c.rows));
}

/* ---- phone numbers and sender ids ---- */

/* 0 if tenant exists; else answers 400 unknown_tenant (returns 1) or returns the error. */
static int tenant_known(struct store_tx *tx, struct http_req *req, const char *tenant)
{
	json_t *row;
	int r = store_tenant_get(tx, tenant, &row);
	if (r == -ENOENT)
		return http_error(req, 400, "unknown_tenant", "no such tenant", "tenant_id") ?: 1;
	json_decref(row);
	return r;
}

json_t *present_number(json_t *row)
{
	return present(row, NULL);
}

/* 0 if carrier_id names a carrier the number may use (the operator's, or the tenant's own
   when the number is that tenant's); else answers 400 (returns 1) or returns the error. */
static int carrier_usable(struct store_tx *tx, struct http_req *req, const char *carrier_id,
			  const char *tenant)
{
	json_t *row;
	if (!carrier_id || !*carrier_id)
		return 0;
	int r = id_valid(carrier_id, "TK") ? store_carrier_get(tx, NULL, true, carrier_id, &row)
					   : -ENOENT;
	if (r == -ENOENT)
		return http_error(req, 400, "unknown_carrier", "no such carrier", "carrier_id")
			   ?: 1;
	if (r < 0)
		return r;
	const char *owner = json_str(row, "tenant_id");
	bool ok = !owner || (tenant && !strcmp(owner, tenant));
	json_decref(row);
	if (!ok)
		return http_error(req, 400, "unknown_carrier",
				  "the carrier belongs to another tenant", "carrier_id")
			   ?: 1;
	return 0;
}

/* "+15550100" + i, keeping the number of digits; false past the end of the range. */
static bool number_at(const char *start, int i, char out[24])
{
	const char *d = start + 1;
	size_t n = strlen(d);
	unsigned long long v = strtoull(d, NULL, 10) + (unsigned long long)i;
	snprintf(out, 24, "+%0*llu", (int)n, v);
	return strlen(out) == n + 1;
}

static int ncreate_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	const char *tenant = json_str(c->req->json, "tenant_id"),
		   *num = json_str(c->req->json, "number"),
		   *start = json_str(c->req->json, "range_start"),
		   *carrier = json_str(c->req->json, "carrier_id");
	json_t *row;
	int r = tenant ? tenant_known(tx, c->req, tenant) : 0;
	if (r == 0)
		r = carrier_usable(tx, c->req, carrier, tenant);
	if (r != 0)
		return r < 0 ? r : 0;
	int count = start ? (int)json_int(c->req->json, "count", 1) : 1;
	json_t *made = json_array();
	for (int i = 0; i < count && r >= 0; i++) {
		char e164[24], id[ID_LEN + 1];
		if (start)
			number_at(start, i, e164);
		else
			snprintf(e164, sizeof(e164), "%s", num);
		if (i == 0)
			snprintf(id, sizeof(id), "%s", c->new_id);
		else
			id_new("PN", id);
		r = store_number_insert(tx, id, tenant, e164);
		if (r == -EEXIST) {
			json_decref(made);
			char msg[64];
			snprintf(msg, sizeof(msg), "%s exists", e164);
			return http_error(c->req, 409, "conflict", msg,
					  start ? "range_start" : "number");
		}
		if (r >= 0 && carrier && *carrier)
			r = store_number_set_carrier(tx, id, carrier);
		if (r >= 0 && (r = store_number_get(tx, NULL, id, &row)) >= 0)
			json_array_append_new(made, present_number(row)), json_decref(row);
	}
	if (r < 0) {
		json_decref(made);
		return r;
	}
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->new_id);
	if (start)
		return http_reply(c->req, 201, json_pack("{s:o}", "data", made));
	http_reply(c->req, 201, json_incref(json_array_get(made, 0)));
	json_decref(made);
	return 0;
}

int h_admin_numbers_create(struct http_req *req)
{
	static const struct json_field f[] = {
	    {"number", JF_STRING, false, 32},	  {"range_start", JF_STRING, false, 32},
	    {"count", JF_INT, false, 0},	  {"tenant_id", JF_STRING, false, 64},
	    {"carrier_id", JF_STRING, false, 64}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	const char *num = json_str(req->json, "number"),
		   *start = json_str(req->json, "range_start");
	if (num && start)
		return http_error(req, 400, "invalid_field", "number or range_start, not both",
				  "range_start");
	if (!num && !start)
		return http_error(req, 400, "missing_field", "number (or range_start and count)",
				  "number");
	if (!e164_valid(num ? num : start))
		return http_error(req, 400, "invalid_number", "an E.164 number (+15551234567)",
				  num ? "number" : "range_start");
	json_t *cnt = json_object_get(req->json, "count");
	if (cnt && !start)
		return http_error(req, 400, "invalid_field", "count goes with range_start",
				  "count");
	char last[24];
	int64_t n = json_int(req->json, "count", 1);
	if (start && (n < 1 || n > 1000))
		return http_error(req, 400, "invalid_field", "count is 1 to 1000", "count");
	if (start && !number_at(start, (int)n - 1, last))
		return http_error(req, 400, "invalid_field", "the range runs past the last number",
				  "count");
	struct pctx c = {.req = req};
	id_new("PN", c.new_id);
	return http_write(req, NULL, ncreate_fn, &c);
}

int h_numbers_list(struct http_req *req)
{
	return api_list(req, scope_of(req), store_number_list, present_number);
}

static int nassign_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	json_t *t = json_object_get(c->req->json, "tenant_id"), *row;
	json_t *k = json_object_get(c->req->json, "carrier_id");
	const char *tenant = json_string_value(t), *carrier = json_string_value(k);
	int r = tenant ? tenant_known(tx, c->req, tenant) : 0;
	if (r != 0)
		return r < 0 ? r : 0;
	if (t && (r = store_number_assign(tx, c->id, tenant)) < 0)
		return r;
	if ((r = store_number_get(tx, NULL, c->id, &row)) < 0)
		return r;
	r = carrier ? carrier_usable(tx, c->req, carrier, json_str(row, "tenant_id")) : 0;
	json_decref(row);
	if (r != 0)
		return r < 0 ? r : 0;
	if (k && (r = store_number_set_carrier(tx, c->id, carrier ? carrier : "")) < 0)
		return r;
	if ((r = store_number_get(tx, NULL, c->id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	http_reply(c->req, 200, present_number(row));
	json_decref(row);
	return 0;
}

int h_admin_numbers_patch(struct http_req *req)
{
	struct pctx c = {.req = req, .id = path_id(req, 0, "PN")};
	if (!c.id)
		return not_found(req);
	json_t *t = json_object_get(req->json, "tenant_id"),
	       *k = json_object_get(req->json, "carrier_id");
	if (t && !(json_is_string(t) || json_is_null(t)))
		return http_error(req, 400, "invalid_field", "tenant_id (a tenant id or null)",
				  "tenant_id");
	if (k && !(json_is_string(k) || json_is_null(k)))
		return http_error(req, 400, "invalid_field", "carrier_id (a carrier id or null)",
				  "carrier_id");
	if (json_object_size(req->json) != (size_t)(!!t + !!k) || (!t && !k))
		return http_error(req, 400, "invalid_field", "tenant_id and/or carrier_id",
				  t || k ? NULL : "tenant_id");
	return http_write(req, NULL, nassign_fn, &c);
}

static int ndelete_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	int r = store_number_delete(tx, c->id);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 204, NULL);
}

int h_admin_numbers_delete(struct http_req *req)
{
	struct pctx c = {.req = req, .id = path_id(req, 0, "PN")};
	if (!c.id)
		return not_found(req);
	return http_write(req, NULL, ndelete_fn, &c);
}

static int nget_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	return store_number_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_numbers_get(struct http_req *req)
{
	struct pctx c = {.req = req, .id = path_id(req, 0, "PN")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, nget_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_number(c.rows));
	json_decref(c.rows);
	return 0;
}

static int nsms_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	json_t *b = c->req->json;
	const char *url = json_str(b, "sms_url"), *method = json_str(b, "sms_method"),
		   *app = json_str(b, "voice_application_id"), *tenant = store_tx_tenant(tx);
	int r = 0;
	if (json_object_get(b, "sms_url") || json_object_get(b, "sms_method"))
		r = store_number_set_sms(tx, tenant, c->id, url, method ? method : "POST");
	json_t *row;
	if (r < 0)
		return r;
	if (app && *app) {
		r = id_valid(app, "AP") ? store_application_get(tx, tenant, app, &row) : -ENOENT;
		if (r == -ENOENT)
			return http_error(c->req, 400, "invalid_field", "no such application",
					  "voice_application_id");
		if (r < 0)
			return r;
		json_decref(row);
	}
	struct store_number_voice v = {json_str(b, "voice_url"),
				       json_str(b, "voice_method"),
				       json_str(b, "voice_fallback_url"),
				       json_str(b, "voice_fallback_method"),
				       json_str(b, "voice_status_callback"),
				       app};
	if ((r = store_number_set_voice(tx, tenant, c->id, &v)) < 0 ||
	    (r = store_number_get(tx, tenant, c->id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	http_reply(c->req, 200, present_number(row));
	json_decref(row);
	return 0;
}

int h_numbers_patch(struct http_req *req)
{
	static const struct json_field f[] = {{"sms_url", JF_STRING, false, 2048},
					      {"sms_method", JF_STRING, false, 8},
					      {"voice_url", JF_STRING, false, 2048},
					      {"voice_method", JF_STRING, false, 8},
					      {"voice_fallback_url", JF_STRING, false, 2048},
					      {"voice_fallback_method", JF_STRING, false, 8},
					      {"voice_status_callback", JF_STRING, false, 2048},
					      {"voice_application_id", JF_STRING, false, 64},
					      {0}};
	struct pctx c = {.req = req, .id = path_id(req, 0, "PN")};
	if (!c.id)
		return not_found(req);
	if (http_check_body(req, f) < 0)
		return 0;
	/* URLs go through the SSRF guard ("" clears a voice one); methods are GET or POST */
	static const char *const urls[] = {"sms_url", "voice_url", "voice_fallback_url",
					   "voice_status_callback", NULL};
	static const char *const methods[] = {"sms_method", "voice_method", "voice_fallback_method",
					      NULL};
	for (int i = 0; urls[i]; i++) {
		const char *url = json_str(req->json, urls[i]), *why = NULL;
		if (url && (i == 0 || *url) &&
		    webhooks_check_url(url, req->app->cfg->outbound_allow_private, &why) < 0)
			return http_error(req, 400, "invalid_url", why ? why : "url not allowed",
					  urls[i]);
	}
	for (int i = 0; methods[i]; i++) {
		const char *m = json_str(req->json, methods[i]);
		if (m && strcmp(m, "GET") && strcmp(m, "POST") && (i == 0 || *m))
			return http_error(req, 400, "invalid_field", "GET or POST", methods[i]);
	}
	return http_write(req, req->who.tenant_id, nsms_fn, &c);
}

static int screate_fn(struct store_tx *tx, void *arg)
{
	struct pctx *c = arg;
	const char *tenant = json_str(c->req->json, "tenant_id");
	int r = tenant_known(tx, c->req, tenant);
	if (r != 0)
		return r < 0 ? r : 0;
	r = store_sender_insert(tx, c->new_id, tenant, json_str(c->req->json, "sender"));
	if (r == -EEXIST)
		return http_error(c->req, 409, "conflict", "already approved", "sender");
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->new_id);
	return http_reply(c->req, 201,
			  json_pack("{s:s,s:s,s:s}", "id", c->new_id, "tenant_id", tenant, "sender",
				    json_str(c->req->json, "sender")));
}

int h_admin_senders_create(struct http_req *req)
{
	static const struct json_field f[] = {
	    {"tenant_id", JF_STRING, true, 64}, {"sender", JF_STRING, true, 16}, {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	if (!messaging_alnum_sender_valid(json_str(req->json, "sender")))
		return http_error(req, 400, "invalid_field",
				  "1 to 11 letters, digits or spaces, at least one letter",
				  "sender");
	struct pctx c = {.req = req};
	id_new("SI", c.new_id);
	return http_write(req, NULL, screate_fn, &c);
}

/* ---- providers' webhooks (no authentication: the provider id is the capability) ---- */

int h_inbound_provider(struct http_req *req)
{
	const char *id = path_id(req, 0, "MP");
	if (!id || !req->app->messaging)
		return not_found(req);
	int r =
	    messaging_http_webhook(req->app->messaging, id, http_get_header(req, "Content-Type"),
				   req->body ? req->body : "", req->body_len);
	if (r == -ENOENT)
		return not_found(req);
	if (r == -EINVAL || r == -E2BIG)
		return http_error(req, 400, "invalid_body",
				  "not a receipt or message we understand", NULL);
	if (r < 0)
		return r;
	/* recorded as the messages and receipts it carries: an audit row per receipt would
	   double the writes of every delivery report */
	req->audited = true;
	return http_reply(req, 200, json_pack("{s:b}", "ok", 1));
}
