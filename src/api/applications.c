/* applications.c: stored call-control applications: a TwiML XML or JSON document, or an
   IVR-menu form compiled to TwiML, that a number or a dialplan rule runs without a webhook.
   Documents are parsed at write time so a broken one is refused here, not mid-call. */
#include "calls/doc.h"
#include "internal.h"

#define APP_DOC_MAX (256 * 1024)

struct actx {
	struct http_req *req;
	const char *id, *cursor;
	int limit;
	json_t *rows;
	struct store_application a;
	char new_id[ID_LEN + 1];
	char *source, *document;
};

json_t *present_application(json_t *row)
{
	static const char *const omit[] = {"source", NULL};
	json_t *o = present(row, omit);
	const char *src = json_str(row, "source") ?: "";
	if (!strcmp(json_str(row, "kind") ?: "", "ivr"))
		json_object_set_new(o, "form", json_loads(src, 0, NULL) ?: json_object());
	else
		json_object_set_new(o, "source", json_string(src));
	return o;
}

/* The document parses as TwiML XML or the JSON form (cdoc_parse sniffs which). */
static int validate_document(const char *src, size_t n, struct cdoc_error *err)
{
	struct cdoc *d = NULL;
	int r = cdoc_parse(src, n, NULL, &d, err);
	cdoc_free(d);
	return r;
}

static int refuse_doc(struct http_req *req, const char *field, const struct cdoc_error *err)
{
	char msg[200];
	if (err->line > 0)
		snprintf(msg, sizeof(msg), "line %d: %s", err->line,
			 err->message[0] ? err->message : "invalid document");
	else
		snprintf(msg, sizeof(msg), "%s",
			 err->message[0] ? err->message : "invalid document");
	http_error(req, 400, "invalid_document", msg, field);
	return -EINVAL;
}

/* Fills c->source and c->document from the body's document (kind document) or form (kind
   ivr). id: the application's id (the IVR menu's Gather action points back to it). */
static int build(struct actx *c, const char *kind, const char *id)
{
	struct http_req *req = c->req;
	json_t *doc = json_object_get(req->json, "document"),
	       *form = json_object_get(req->json, "form");
	struct cdoc_error err = {{0}, 0};
	if (!strcmp(kind, "document")) {
		if (form)
			return http_error(req, 400, "invalid_field", "form goes with kind ivr",
					  "form"),
			       -EINVAL;
		if (!doc)
			return http_error(req, 400, "missing_field", "document is required",
					  "document"),
			       -EINVAL;
		if (json_is_string(doc))
			c->source = mem_strdup(json_string_value(doc));
		else if (json_is_array(doc) || json_is_object(doc))
			c->source = json_dumps(doc, JSON_COMPACT);
		else
			return http_error(req, 400, "invalid_type",
					  "TwiML XML (a string) or JSON verbs (an array)",
					  "document"),
			       -EINVAL;
		if (strlen(c->source) > APP_DOC_MAX)
			return http_error(req, 400, "too_long", "at most 256 KiB", "document"),
			       -EINVAL;
		if (validate_document(c->source, strlen(c->source), &err) < 0)
			return refuse_doc(req, "document", &err);
		c->document = mem_strdup(c->source);
		return 0;
	}
	if (doc)
		return http_error(req, 400, "invalid_field", "document goes with kind document",
				  "document"),
		       -EINVAL;
	if (!json_is_object(form))
		return http_error(req, 400, form ? "invalid_type" : "missing_field",
				  "form (the IVR menu object) is required", "form"),
		       -EINVAL;
	if (cdoc_ivr_check(form, &err) < 0)
		return refuse_doc(req, "form", &err);
	c->source = json_dumps(form, JSON_COMPACT | JSON_SORT_KEYS);
	if (strlen(c->source) > APP_DOC_MAX)
		return http_error(req, 400, "too_long", "at most 256 KiB", "form"), -EINVAL;
	if (cdoc_ivr_compile(form, id, NULL, &c->document, &err) < 0)
		return refuse_doc(req, "form", &err);
	return 0;
}

/* name, kind, document (string, array or object) and form: checked by hand because
   document takes more than one JSON type. */
static int check_fields(struct http_req *req)
{
	static const char *const known[] = {"name", "kind", "document", "form", NULL};
	const char *k;
	json_t *v;
	json_object_foreach (req->json, k, v) {
		int i = 0;
		while (known[i] && strcmp(known[i], k))
			i++;
		if (!known[i])
			return http_error(req, 400, "unknown_field", "unknown field", k), -EINVAL;
	}
	json_t *name = json_object_get(req->json, "name"),
	       *kind = json_object_get(req->json, "kind");
	if (name &&
	    (!json_is_string(name) || !json_string_length(name) || json_string_length(name) > 200))
		return http_error(req, 400, "invalid_field", "name is 1 to 200 characters", "name"),
		       -EINVAL;
	if (kind && (!json_is_string(kind) || (strcmp(json_string_value(kind), "document") &&
					       strcmp(json_string_value(kind), "ivr"))))
		return http_error(req, 400, "invalid_field", "document or ivr", "kind"), -EINVAL;
	return 0;
}

static void actx_free(struct actx *c)
{
	mem_free(c->source);
	mem_free(c->document);
}

static int acreate_fn(struct store_tx *tx, void *arg)
{
	struct actx *c = arg;
	json_t *row;
	int r = store_application_insert(tx, &c->a);
	if (r < 0 || (r = store_application_get(tx, c->a.tenant_id, c->a.id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->a.id);
	http_reply(c->req, 201, present_application(row));
	json_decref(row);
	return 0;
}

int h_applications_create(struct http_req *req)
{
	if (check_fields(req) < 0)
		return 0;
	const char *name = json_str(req->json, "name"), *kind = json_str(req->json, "kind");
	if (!name)
		return http_error(req, 400, "missing_field", "name is required", "name");
	if (!kind)
		return http_error(req, 400, "missing_field", "kind is required", "kind");
	struct actx c = {.req = req};
	id_new("AP", c.new_id);
	int r = 0;
	if (build(&c, kind, c.new_id) == 0) {
		c.a = (struct store_application){c.new_id, req->who.tenant_id, name,
						 kind,	   c.source,	       c.document};
		r = http_write(req, req->who.tenant_id, acreate_fn, &c);
	}
	actx_free(&c);
	return r;
}

int h_applications_list(struct http_req *req)
{
	return api_list(req, req->who.tenant_id, store_application_list, present_application);
}

static int aget_fn(struct store_tx *tx, void *arg)
{
	struct actx *c = arg;
	return store_application_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_applications_get(struct http_req *req)
{
	struct actx c = {.req = req, .id = path_id(req, 0, "AP")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, aget_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_application(c.rows));
	json_decref(c.rows);
	return 0;
}

static int apatch_fn(struct store_tx *tx, void *arg)
{
	struct actx *c = arg;
	const char *tenant = store_tx_tenant(tx);
	json_t *row;
	int r = store_application_get(tx, tenant, c->id, &row);
	if (r < 0)
		return r;
	const char *kind = json_str(c->req->json, "kind");
	bool body =
	    json_object_get(c->req->json, "document") || json_object_get(c->req->json, "form");
	if (kind && strcmp(kind, json_str(row, "kind")) && !body) {
		json_decref(row);
		return http_error(c->req, 400, "invalid_field",
				  "changing kind needs the new document or form", "kind");
	}
	if (!kind)
		kind = json_str(row, "kind");
	r = body ? build(c, kind, c->id) : 0;
	json_decref(row);
	if (r < 0)
		return 0; /* answered */
	c->a = (struct store_application){.name = json_str(c->req->json, "name"),
					  .kind = body ? kind : NULL,
					  .source = c->source,
					  .document = c->document};
	if ((r = store_application_update(tx, tenant, c->id, &c->a)) < 0 ||
	    (r = store_application_get(tx, tenant, c->id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	http_reply(c->req, 200, present_application(row));
	json_decref(row);
	return 0;
}

int h_applications_patch(struct http_req *req)
{
	struct actx c = {.req = req, .id = path_id(req, 0, "AP")};
	if (!c.id)
		return not_found(req);
	if (check_fields(req) < 0)
		return 0;
	int r = http_write(req, req->who.tenant_id, apatch_fn, &c);
	actx_free(&c);
	return r;
}

static int adelete_fn(struct store_tx *tx, void *arg)
{
	struct actx *c = arg;
	int r = store_application_delete(tx, store_tx_tenant(tx), c->id);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 204, NULL);
}

int h_applications_delete(struct http_req *req)
{
	struct actx c = {.req = req, .id = path_id(req, 0, "AP")};
	if (!c.id)
		return not_found(req);
	return http_write(req, req->who.tenant_id, adelete_fn, &c);
}
