/* test_api.c: the route table and the embedded OpenAPI document agree: every route is
   documented with its summary, role, path parameters and idempotency header, and nothing
   is documented that is not routed. Adding a route without documenting it fails here. */
#include <ctype.h>
#include <stdbool.h>

#include "api/api.h"
#include "../test.h"

static const char *const methods[] = {"get",  "put",   "post",	"delete", "options",
				      "head", "patch", "trace", NULL};

static void lower(const char *in, char *out, size_t n)
{
	size_t i = 0;
	for (; in[i] && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

static json_t *operation(json_t *doc, const struct route *rt)
{
	char m[16];
	lower(rt->method, m, sizeof(m));
	return json_object_get(json_object_get(json_object_get(doc, "paths"), rt->path), m);
}

/* Follows a local "#/components/<kind>/<name>" reference; other values pass through. */
static json_t *deref(json_t *doc, json_t *v)
{
	const char *r = json_string_value(json_object_get(v, "$ref"));
	if (!r || strncmp(r, "#/components/", 13) != 0)
		return v;
	char kind[64];
	const char *slash = strchr(r + 13, '/');
	if (!slash || (size_t)(slash - (r + 13)) >= sizeof(kind))
		return NULL;
	snprintf(kind, sizeof(kind), "%.*s", (int)(slash - (r + 13)), r + 13);
	return json_object_get(json_object_get(json_object_get(doc, "components"), kind),
			       slash + 1);
}

static bool str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && !strcmp(json_string_value(v), s);
}

/* The parameter of op named name in location in (path, query, header), or NULL. */
static json_t *param(json_t *doc, json_t *op, const char *name, const char *in)
{
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(op, "parameters"), i, p) {
		json_t *d = deref(doc, p);
		if (d && str_is(json_object_get(d, "name"), name) &&
		    str_is(json_object_get(d, "in"), in))
			return d;
	}
	return NULL;
}

static const struct route *find_route(const char *method, const char *path)
{
	for (size_t i = 0; i < api_routes_len; i++) {
		char m[16];
		lower(api_routes[i].method, m, sizeof(m));
		if (!strcmp(m, method) && !strcmp(api_routes[i].path, path))
			return &api_routes[i];
	}
	return NULL;
}

static void check_path_params(json_t *doc, json_t *op, const struct route *rt)
{
	for (const char *p = strchr(rt->path, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		CHECK(end != NULL);
		if (!end)
			return;
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)(end - p - 1), p + 1);
		json_t *d = param(doc, op, name, "path");
		if (!d)
			fprintf(stderr, "%s %s: path parameter {%s} not declared\n", rt->method,
				rt->path, name);
		CHECK(d != NULL);
		CHECK(json_is_true(json_object_get(d, "required")));
	}
}

static void check_security(json_t *op, const struct route *rt)
{
	json_t *sec = json_object_get(op, "security");
	CHECK(json_is_array(sec));
	if (rt->role == ROLE_NONE) {
		CHECK_EQ_INT(json_array_size(sec), 0); /* explicitly public */
		return;
	}
	bool bearer = false, basic = false;
	size_t i;
	json_t *req;
	json_array_foreach (sec, i, req) {
		bearer |= json_object_get(req, "bearerAuth") != NULL;
		basic |= json_object_get(req, "basicAuth") != NULL;
	}
	if (!bearer)
		fprintf(stderr, "%s %s: needs role %s but declares no bearerAuth\n", rt->method,
			rt->path, role_name(rt->role));
	CHECK(bearer);
	CHECK(basic);
	CHECK_STR(json_string_value(json_object_get(op, "x-irisx-role")), role_name(rt->role));
}

/* Every error status documented answers with the Error envelope. */
static void check_errors(json_t *doc, json_t *op, const struct route *rt)
{
	const char *code;
	json_t *resp;
	json_object_foreach (json_object_get(op, "responses"), code, resp) {
		if (code[0] != '4')
			continue;
		json_t *d = deref(doc, resp);
		json_t *schema = json_object_get(
		    json_object_get(json_object_get(d, "content"), "application/json"), "schema");
		const char *r = json_string_value(json_object_get(schema, "$ref"));
		/* the Twilio-compatible routes answer errors in Twilio's shape */
		const char *want = strncmp(rt->path, HTTP_TWILIO_PREFIX, strlen(HTTP_TWILIO_PREFIX))
				       ? "#/components/schemas/Error"
				       : "#/components/schemas/TwilioError";
		if (!r || strcmp(r, want) != 0)
			fprintf(stderr, "%s %s: %s is not the %s envelope\n", rt->method, rt->path,
				code, want + 21);
		CHECK_STR(r, want);
	}
}

static void check_route(json_t *doc, const struct route *rt, json_t *op_ids)
{
	json_t *op = operation(doc, rt);
	if (!op) {
		fprintf(stderr, "%s %s is routed but missing from docs/openapi.json\n", rt->method,
			rt->path);
		CHECK(op != NULL);
		return;
	}
	const char *id = json_string_value(json_object_get(op, "operationId"));
	CHECK(id != NULL);
	if (id) {
		CHECK(json_object_get(op_ids, id) == NULL); /* unique */
		json_object_set_new(op_ids, id, json_true());
	}
	const char *summary = json_string_value(json_object_get(op, "summary"));
	if (!summary || strcmp(summary, rt->summary) != 0)
		fprintf(stderr, "%s %s: summary differs from routes.c\n", rt->method, rt->path);
	CHECK_STR(summary, rt->summary);
	CHECK(json_array_size(json_object_get(op, "tags")) > 0);
	CHECK(json_object_size(json_object_get(op, "responses")) > 0);
	check_security(op, rt);
	check_path_params(doc, op, rt);
	check_errors(doc, op, rt);
	if (rt->flags & ROUTE_CREATE) {
		json_t *k = param(doc, op, "Idempotency-Key", "header");
		if (!k)
			fprintf(stderr,
				"%s %s: ROUTE_CREATE without an Idempotency-Key parameter\n",
				rt->method, rt->path);
		CHECK(k != NULL);
		CHECK(json_object_get(json_object_get(op, "responses"), "422") != NULL);
	}
	if (rt->action)
		CHECK_STR(json_string_value(json_object_get(op, "x-irisx-audit-action")),
			  rt->action);
	json_t *body = json_object_get(op, "requestBody");
	if (body) {
		const char *type = (rt->flags & ROUTE_FORM) ? "application/x-www-form-urlencoded"
							    : "application/json";
		json_t *schema = deref(
		    doc, json_object_get(json_object_get(json_object_get(body, "content"), type),
					 "schema"));
		CHECK(schema != NULL);
		/* the server rejects unknown fields; the document must say so */
		CHECK(json_is_false(json_object_get(schema, "additionalProperties")));
	}
}

/* Nothing documented that the table does not route. */
static void check_no_stale(json_t *doc)
{
	const char *path;
	json_t *item;
	json_object_foreach (json_object_get(doc, "paths"), path, item) {
		for (const char *const *m = methods; *m; m++) {
			if (!json_object_get(item, *m))
				continue;
			const struct route *rt = find_route(*m, path);
			if (!rt)
				fprintf(stderr, "%s %s is documented but not routed\n", *m, path);
			CHECK(rt != NULL);
		}
	}
}

/* The shared components the conventions promise. */
static void check_components(json_t *doc)
{
	json_t *c = json_object_get(doc, "components");
	json_t *schemas = json_object_get(c, "schemas");
	static const char *const need[] = {
	    "Error",	  "Tenant",	  "User",   "ApiKey",	  "ApiKeyWithSecret",
	    "AuditLog",	  "Tokens",	  "Limits", "TenantPage", "UserPage",
	    "ApiKeyPage", "AuditLogPage", NULL};
	for (const char *const *n = need; *n; n++) {
		if (!json_object_get(schemas, *n))
			fprintf(stderr, "components/schemas/%s missing\n", *n);
		CHECK(json_object_get(schemas, *n) != NULL);
	}
	json_t *err = json_object_get(
	    json_object_get(json_object_get(schemas, "Error"), "properties"), "error");
	json_t *props = json_object_get(err, "properties");
	CHECK(json_object_get(props, "code") && json_object_get(props, "message") &&
	      json_object_get(props, "field"));
	json_t *sec = json_object_get(c, "securitySchemes");
	CHECK_STR(json_string_value(json_object_get(json_object_get(sec, "bearerAuth"), "scheme")),
		  "bearer");
	CHECK_STR(json_string_value(json_object_get(json_object_get(sec, "basicAuth"), "scheme")),
		  "basic");
	json_t *h = json_object_get(c, "headers");
	CHECK(json_object_get(h, "RateLimit-Limit") && json_object_get(h, "RateLimit-Remaining") &&
	      json_object_get(h, "RateLimit-Reset") && json_object_get(h, "Retry-After"));
}

int main(void)
{
	json_error_t err;
	json_t *doc = json_loads(api_openapi_json, 0, &err);
	if (!doc)
		fprintf(stderr, "docs/openapi.json: line %d: %s\n", err.line, err.text);
	CHECK(doc != NULL);
	if (!doc)
		return test_done("api");
	CHECK_STR(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	CHECK(json_string_value(json_object_get(json_object_get(doc, "info"), "title")) != NULL);
	CHECK(api_routes_len > 0);

	json_t *op_ids = json_object();
	for (size_t i = 0; i < api_routes_len; i++)
		check_route(doc, &api_routes[i], op_ids);
	check_no_stale(doc);
	check_components(doc);
	/* one operation per route: no more, no fewer */
	CHECK_EQ_INT(json_object_size(op_ids), api_routes_len);

	json_decref(op_ids);
	json_decref(doc);
	return test_done("api");
}
