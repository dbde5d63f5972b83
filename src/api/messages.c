/* messages.c: /v1/messages (send SMS, list, fetch, cancel), /v1/emails (send, list,
   fetch) and /v1/email-templates (CRUD). Validation and enqueueing are the messaging
   module's; these handlers shape requests and answers. */
#include "internal.h"
#include "messaging/messaging.h"

struct mctx {
	struct http_req *req;
	const char *id, *cursor;
	int limit;
	json_t *rows, *body; /* body: the 201 answer, made before the write */
	struct sms_request sms;
	struct sms_accepted acc;
	struct messaging_refusal why;
	struct store_msg_filter f;
	struct store_template t;
	char new_id[ID_LEN + 1];
	const char *status;
};

static int refusal(struct http_req *req, const struct messaging_refusal *w)
{
	return http_error(req, w->status ? w->status : 400, w->code, w->message, w->field);
}

json_t *present_message(json_t *row)
{
	static const char *const omit[] = {"price_micros", "attempts",	 "validity_s", "from_addr",
					   "to_addr",	   "send_at_us", NULL};
	json_t *o = present(row, omit);
	char ts[TIME_RFC3339_LEN];
	json_t *sa = json_object_get(row, "send_at_us");
	json_object_set_new(o, "send_at",
			    json_is_integer(sa)
				? json_string(time_fmt((uint64_t)json_integer_value(sa), ts))
				: json_null());
	json_object_set(o, "from", json_object_get(row, "from_addr"));
	json_object_set(o, "to", json_object_get(row, "to_addr"));
	json_t *pm = json_object_get(row, "price_micros");
	json_object_set_new(o, "price",
			    json_is_integer(pm) ? json_real((double)json_integer_value(pm) / 1e6)
						: json_null());
	json_object_set_new(o, "price_unit", json_string("USD"));
	json_t *att = json_loads(json_str(row, "attempts") ?: "[]", 0, NULL);
	json_object_set_new(o, "attempts", att ? att : json_array());
	json_object_set(o, "validity_period", json_object_get(row, "validity_s"));
	return o;
}

static int check_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	return messaging_sms_check_tx(tx, &c->sms, &c->acc, &c->why);
}

/* The 201 body, made from what will be inserted (never read back), before the write so the
   writer thread only inserts. */
static json_t *accepted_body(const struct mctx *c)
{
	char ts[TIME_RFC3339_LEN];
	time_fmt(time_now_us(), ts);
	json_t *o = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:s,s:[],s:n,s:n,s:n,s:s?,s:o,s:s,s:s,s:n,s:"
	    "n}",
	    "id", c->acc.id, "tenant_id", c->sms.tenant_id, "direction", "outbound-api", "from",
	    c->sms.from, "to", c->sms.to, "body", c->sms.body, "status", "queued", "encoding",
	    c->acc.encoding, "segments", c->acc.segments, "price",
	    c->acc.price_micros >= 0 ? json_real((double)c->acc.price_micros / 1e6) : json_null(),
	    "price_unit", "USD", "attempts", "provider_id", "error_code", "error_message",
	    "status_callback", c->sms.status_callback, "validity_period",
	    c->sms.validity_s > 0 ? json_integer(c->sms.validity_s) : json_null(), "created_at", ts,
	    "updated_at", ts, "sent_at", "done_at");
	char sa[TIME_RFC3339_LEN];
	json_object_set_new(o, "send_at",
			    c->sms.send_at_us ? json_string(time_fmt(c->sms.send_at_us, sa))
					      : json_null());
	return o;
}

/* In the write transaction (or replayed from an Idempotency-Key, which wins over a check
   that would now refuse): the refusal found by the read-side check, or the inserts. */
static int send_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	if (c->why.code)
		return refusal(c->req, &c->why);
	int r = messaging_sms_enqueue_tx(c->req->app->bus, tx, &c->sms, &c->acc);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->acc.id);
	return http_reply(c->req, 201, json_incref(c->body));
}

/* After the write (on the store's completion thread when it was queued): what the request
   held. */
static int sent(struct http_req *req, void *arg, int r)
{
	struct mctx *c = arg;
	json_decref(c->acc.event_data);
	free(c->acc.event_text);
	json_decref(c->body);
	mem_free(c);
	bus_kick(req->app->bus);
	return r;
}

/* The checks read on the request's thread, in parallel with other requests; the write is
   queued (http_write_async), so a pool thread goes on serving while it commits. */
static int sms_send(struct http_req *req, struct mctx *c)
{
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, check_fn, c);
	if (!c->why.code && r >= 0)
		r = messaging_sms_price(req->app->st, &c->sms, &c->acc);
	if (r < 0 && !(r == -EINVAL && c->why.code)) {
		mem_free(c);
		return r;
	}
	if (!c->why.code) {
		c->acc.event_data = messaging_sms_queued_data(&c->sms, &c->acc);
		c->acc.event_text = json_serialize(c->acc.event_data, JSON_COMPACT, NULL);
		c->body = accepted_body(c);
	}
	return http_write_async(req, req->who.tenant_id, send_fn, c, sent, c);
}

int h_messages_create(struct http_req *req)
{
	static const struct json_field f[] = {{"from", JF_STRING, true, 32},
					      {"to", JF_STRING, true, 32},
					      {"body", JF_STRING, true, 8000},
					      {"status_callback", JF_STRING, false, 2048},
					      {"validity_period", JF_INT, false, 0},
					      {"send_at", JF_STRING, false, 64},
					      {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	struct sms_request sms = {.tenant_id = req->who.tenant_id,
				  .from = json_str(req->json, "from"),
				  .to = json_str(req->json, "to"),
				  .body = json_str(req->json, "body"),
				  .status_callback = json_str(req->json, "status_callback"),
				  .prices = req->app->prices,
				  .allow_private = req->app->cfg->outbound_allow_private};
	int64_t vp = json_int(req->json, "validity_period", 0);
	if (vp < 0 || vp > 14400)
		return http_error(req, 400, "invalid_field",
				  "validity_period is 1 to 14400 seconds", "validity_period");
	sms.validity_s = (int)vp;
	const char *at = json_str(req->json, "send_at");
	if (at) {
		if (time_parse(at, &sms.send_at_us) < 0)
			return http_error(req, 400, "invalid_field",
					  "send_at must be an RFC 3339 time", "send_at");
		uint64_t now = time_now_us();
		if (sms.send_at_us > now + 35ull * 86400 * 1000000)
			return http_error(req, 400, "invalid_field",
					  "send_at is at most 35 days ahead", "send_at");
	}
	struct mctx *c = mem_zalloc(sizeof(*c)); /* until sent: it outlives a queued write */
	c->req = req;
	c->sms = sms;
	return sms_send(req, c);
}

static int list_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	return store_message_list(tx, store_tx_tenant(tx), &c->f, &c->rows);
}

int h_messages_list(struct http_req *req)
{
	struct mctx c = {.req = req};
	if (http_page_params(req, &c.f.limit, &c.f.cursor) < 0)
		return 0;
	c.f.status = http_get_query(req, "status");
	c.f.to = http_get_query(req, "to");
	c.f.from = http_get_query(req, "from");
	c.f.direction = http_get_query(req, "direction");
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, list_fn, &c);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(c.rows, c.f.limit, present_message));
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	return store_message_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_messages_get(struct http_req *req)
{
	struct mctx c = {.req = req, .id = path_id(req, 0, "SM")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, get_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_message(c.rows));
	json_decref(c.rows);
	return 0;
}

static int cancel_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	int r = messaging_sms_cancel_tx(tx, store_tx_tenant(tx), c->id);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	if (r == 0)
		return http_error(c->req, 409, "not_cancelable",
				  "only queued messages can be canceled", NULL);
	json_t *row;
	if ((r = store_message_get(tx, store_tx_tenant(tx), c->id, &row)) < 0)
		return r;
	http_reply(c->req, 200, present_message(row));
	json_decref(row);
	return 0;
}

int h_messages_cancel(struct http_req *req)
{
	struct mctx c = {.req = req, .id = path_id(req, 0, "SM")};
	if (!c.id)
		return not_found(req);
	return http_write(req, req->who.tenant_id, cancel_fn, &c);
}

/* ---- e-mail ---- */

json_t *present_email(json_t *row)
{
	static const char *const omit[] = {"request", "rcpt", "from_addr", NULL};
	json_t *o = present(row, omit);
	json_object_set(o, "from", json_object_get(row, "from_addr"));
	json_t *req = json_loads(json_str(row, "request") ?: "{}", 0, NULL);
	static const char *const keep[] = {"to", "cc", "bcc", "reply_to", "template_id", NULL};
	for (int i = 0; keep[i]; i++) {
		json_t *v = json_object_get(req, keep[i]);
		if (v)
			json_object_set(o, keep[i], v);
	}
	json_t *atts = json_object_get(req, "attachments");
	json_t *names = json_array();
	size_t i;
	json_t *a;
	json_array_foreach (atts, i, a)
		json_array_append(names, json_object_get(a, "filename"));
	json_object_set_new(o, "attachments", names);
	json_decref(req);
	return o;
}

static int email_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	int r =
	    messaging_email_submit_tx(c->req->app->bus, tx, store_tx_tenant(tx), c->req->json,
				      c->req->app->cfg->outbound_allow_private, c->new_id, &c->why);
	if (r == -EINVAL && c->why.code)
		return refusal(c->req, &c->why);
	json_t *row;
	if (r < 0 || (r = store_email_get(tx, store_tx_tenant(tx), c->new_id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->new_id);
	http_reply(c->req, 201, present_email(row));
	json_decref(row);
	return 0;
}

static int email_sent(struct http_req *req, void *arg, int r)
{
	mem_free(arg);
	bus_kick(req->app->bus);
	return r;
}

int h_emails_create(struct http_req *req)
{
	static const struct json_field f[] = {{"from", JF_STRING, true, 254},
					      {"to", JF_ARRAY, true, 0},
					      {"cc", JF_ARRAY, false, 0},
					      {"bcc", JF_ARRAY, false, 0},
					      {"reply_to", JF_STRING, false, 254},
					      {"subject", JF_STRING, false, 998},
					      {"text", JF_STRING, false, 1 << 20},
					      {"html", JF_STRING, false, 1 << 20},
					      {"attachments", JF_ARRAY, false, 0},
					      {"template_id", JF_STRING, false, 64},
					      {"variables", JF_OBJECT, false, 0},
					      {"status_callback", JF_STRING, false, 2048},
					      {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	struct mctx *c = mem_zalloc(sizeof(*c)); /* until email_sent */
	c->req = req;
	return http_write_async(req, req->who.tenant_id, email_fn, c, email_sent, c);
}

static int elist_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	return store_email_list(tx, store_tx_tenant(tx), c->status, c->cursor, c->limit, &c->rows);
}

int h_emails_list(struct http_req *req)
{
	struct mctx c = {.req = req, .status = http_get_query(req, "status")};
	if (http_page_params(req, &c.limit, &c.cursor) < 0)
		return 0;
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, elist_fn, &c);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(c.rows, c.limit, present_email));
}

static int eget_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	return store_email_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_emails_get(struct http_req *req)
{
	struct mctx c = {.req = req, .id = path_id(req, 0, "ML")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, eget_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_email(c.rows));
	json_decref(c.rows);
	return 0;
}

/* ---- templates ---- */

static const struct json_field tpl_fields[] = {{"name", JF_STRING, false, 200},
					       {"subject", JF_STRING, false, 998},
					       {"text", JF_STRING, false, 1 << 20},
					       {"html", JF_STRING, false, 1 << 20},
					       {0}};

json_t *present_template(json_t *row)
{
	static const char *const omit[] = {"text_body", "html_body", NULL};
	json_t *o = present(row, omit);
	json_object_set(o, "text", json_object_get(row, "text_body"));
	json_object_set(o, "html", json_object_get(row, "html_body"));
	return o;
}

static int tpl_create_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	int r = store_template_insert(tx, &c->t);
	if (r == -EEXIST)
		return http_error(c->req, 409, "conflict", "a template with this name exists",
				  "name");
	json_t *row;
	if (r < 0 || (r = store_template_get(tx, c->t.tenant_id, c->t.id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->t.id);
	http_reply(c->req, 201, present_template(row));
	json_decref(row);
	return 0;
}

int h_templates_create(struct http_req *req)
{
	if (http_check_body(req, tpl_fields) < 0)
		return 0;
	struct mctx c = {.req = req};
	const char *name = json_str(req->json, "name"), *subject = json_str(req->json, "subject");
	if (!name || !*name)
		return http_error(req, 400, "missing_field", "name is required", "name");
	if (!subject || !*subject)
		return http_error(req, 400, "missing_field", "subject is required", "subject");
	if (!json_str(req->json, "text") && !json_str(req->json, "html"))
		return http_error(req, 400, "missing_field", "text or html is required", "text");
	id_new("ET", c.new_id);
	c.t = (struct store_template){
	    c.new_id, req->who.tenant_id,	   name,
	    subject,  json_str(req->json, "text"), json_str(req->json, "html")};
	return http_write(req, req->who.tenant_id, tpl_create_fn, &c);
}

int h_templates_list(struct http_req *req)
{
	return api_list(req, req->who.tenant_id, store_template_list, present_template);
}

static int tpl_get_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	return store_template_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

int h_templates_get(struct http_req *req)
{
	struct mctx c = {.req = req, .id = path_id(req, 0, "ET")};
	if (!c.id)
		return not_found(req);
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, tpl_get_fn, &c);
	if (r < 0)
		return r;
	http_reply(req, 200, present_template(c.rows));
	json_decref(c.rows);
	return 0;
}

static int tpl_patch_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	int r = store_template_update(tx, store_tx_tenant(tx), c->id, &c->t);
	if (r == -EEXIST)
		return http_error(c->req, 409, "conflict", "a template with this name exists",
				  "name");
	json_t *row;
	if (r < 0 || (r = store_template_get(tx, store_tx_tenant(tx), c->id, &row)) < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	http_reply(c->req, 200, present_template(row));
	json_decref(row);
	return 0;
}

int h_templates_patch(struct http_req *req)
{
	struct mctx c = {.req = req, .id = path_id(req, 0, "ET")};
	if (!c.id)
		return not_found(req);
	if (http_check_body(req, tpl_fields) < 0)
		return 0;
	c.t = (struct store_template){NULL,
				      NULL,
				      json_str(req->json, "name"),
				      json_str(req->json, "subject"),
				      json_str(req->json, "text"),
				      json_str(req->json, "html")};
	return http_write(req, req->who.tenant_id, tpl_patch_fn, &c);
}

static int tpl_delete_fn(struct store_tx *tx, void *arg)
{
	struct mctx *c = arg;
	int r = store_template_delete(tx, store_tx_tenant(tx), c->id);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 204, NULL);
}

int h_templates_delete(struct http_req *req)
{
	struct mctx c = {.req = req, .id = path_id(req, 0, "ET")};
	if (!c.id)
		return not_found(req);
	return http_write(req, req->who.tenant_id, tpl_delete_fn, &c);
}
