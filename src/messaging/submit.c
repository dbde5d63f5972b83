/* submit.c: the API side of messaging: validation, encoding and price at acceptance, and
   the enqueue (message row + job in the caller's transaction); provider config checks and
   rate decks from CSV. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "email.h"
#include "messaging.h"
#include "sms.h"
#include "webhooks/webhooks.h"

bool messaging_alnum_sender_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	bool letter = false;
	if (n < 1 || n > 11)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != ' ')
			return false;
		letter |= isalpha(c) != 0;
	}
	return letter;
}

static int refuse(struct messaging_refusal *w, int status, const char *code, const char *msg,
		  const char *field)
{
	*w = (struct messaging_refusal){status, code, msg, field};
	return -EINVAL;
}

/* The cheapest priced route's cost per segment, or -1. */
static int64_t route_cost(struct store_tx *tx, const char *tenant_id, const char *channel,
			  const char *to)
{
	json_t *rows;
	if (store_routes(tx, tenant_id, channel, to, &rows) < 0)
		return -1;
	int64_t best = -1;
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		json_t *c = json_object_get(r, "cost_micros");
		if (json_is_integer(c) && (best < 0 || json_integer_value(c) < best))
			best = json_integer_value(c);
	}
	json_decref(rows);
	return best;
}

int messaging_sms_check_tx(struct store_tx *tx, const struct sms_request *r,
			   struct sms_accepted *ret, struct messaging_refusal *w)
{
	if (!e164_valid(r->to))
		return refuse(w, 400, "invalid_to", "to must be an E.164 number (+15551234567)",
			      "to");
	bool alnum = !e164_valid(r->from);
	if (alnum && !messaging_alnum_sender_valid(r->from))
		return refuse(w, 400, "invalid_from",
			      "from must be an E.164 number or an alphanumeric sender id", "from");
	struct store_sms_facts facts;
	int fr = store_sms_facts(tx, r->tenant_id, r->from, r->to, &facts);
	if (fr < 0)
		return fr;
	if (!facts.sender_ok)
		return refuse(w, 400, "from_not_owned",
			      alnum ? "this sender id is not approved for the account"
				    : "from is not a number of this account",
			      "from");
	if (!r->body || !*r->body)
		return refuse(w, 400, "missing_body", "body must not be empty", "body");
	struct sms_plan plan;
	int pr = sms_plan(r->body, strlen(r->body), &plan);
	if (pr == -E2BIG)
		return refuse(w, 400, "body_too_long",
			      "body exceeds 1,600 characters or 10 segments", "body");
	if (pr < 0)
		return refuse(w, 400, "invalid_body", "body is not valid UTF-8 text", "body");
	if (facts.opted_out)
		return refuse(
		    w, 400, "recipient_opted_out",
		    "the recipient replied STOP to this sender; they must reply START first", "to");
	if (r->status_callback) {
		const char *why = NULL;
		if (webhooks_check_url(r->status_callback, r->allow_private, &why) < 0)
			return refuse(w, 400, "invalid_url", why ? why : "url not allowed",
				      "status_callback");
	}
	int64_t cost = r->prices ? -1 : route_cost(tx, r->tenant_id, "sms", r->to);
	id_new("SM", ret->id);
	ret->encoding = plan.coding == SMS_GSM7 ? "GSM-7" : "UCS-2";
	ret->segments = plan.segments;
	ret->price_micros = cost >= 0 ? cost * plan.segments : -1;
	ret->routing_gen = facts.routing_gen;
	return 0;
}

struct price_ctx {
	const struct sms_request *r;
	int64_t cost;
};

static int price_fn(struct store_tx *tx, void *arg)
{
	struct price_ctx *p = arg;
	p->cost = route_cost(tx, p->r->tenant_id, "sms", p->r->to);
	return 0;
}

int messaging_sms_price(struct store *st, const struct sms_request *r, struct sms_accepted *acc)
{
	struct price_ctx p = {r, -1};
	if (!r->prices)
		return 0; /* priced by the check */
	if (price_cache_cost(r->prices, acc->routing_gen, r->tenant_id, "sms", r->to, &p.cost) <
	    0) {
		/* the copy could not be made (no memory, decks changing under every try) */
		int e = store_tx(st, NULL, STORE_READ, price_fn, &p); /* operator decks: system */
		if (e < 0)
			return e;
	}
	acc->price_micros = p.cost >= 0 ? p.cost * acc->segments : -1;
	return 0;
}

json_t *messaging_sms_queued_data(const struct sms_request *r, const struct sms_accepted *ret)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:s}", "message_sid", ret->id,
			 "account_sid", r->tenant_id, "from", r->from, "to", r->to, "direction",
			 "outbound-api", "status", "queued", "segments", ret->segments, "price",
			 ret->price_micros >= 0 ? json_real((double)ret->price_micros / 1e6)
						: json_null(),
			 "price_unit", "USD");
}

int messaging_sms_enqueue_tx(struct bus *bus, struct store_tx *tx, const struct sms_request *r,
			     const struct sms_accepted *ret)
{
	struct store_message m = {.id = ret->id,
				  .tenant_id = r->tenant_id,
				  .direction = "outbound-api",
				  .from = r->from,
				  .to = r->to,
				  .body = r->body,
				  .status = "queued",
				  .encoding = ret->encoding,
				  .status_callback = r->status_callback,
				  .segments = ret->segments,
				  .validity_s = r->validity_s,
				  .price_micros = ret->price_micros,
				  .send_at_us = r->send_at_us};
	int rr = store_message_insert(tx, &m);
	if (rr < 0)
		return rr;
	char payload[64];
	snprintf(payload, sizeof(payload), "{\"message_id\":\"%s\"}", ret->id);
	uint64_t now = time_now_us();
	struct bus_pub p = {.subject = SMS_SUBJECT,
			    .tenant_id = r->tenant_id,
			    .payload = payload,
			    .dedupe_key = ret->id,
			    .max_attempts = 10,
			    .delay_us = r->send_at_us > now ? r->send_at_us - now : 0};
	if ((rr = bus_publish_tx(bus, tx, &p, NULL)) < 0)
		return rr;
	json_t *data =
	    ret->event_data ? json_incref(ret->event_data) : messaging_sms_queued_data(r, ret);
	rr = webhooks_emit_text_tx(bus, tx, r->tenant_id, "message.queued", data,
				   ret->event_data ? ret->event_text : NULL);
	json_decref(data);
	return rr < 0 ? rr : 0;
}

int messaging_sms_submit_tx(struct bus *bus, struct store_tx *tx, const struct sms_request *r,
			    struct sms_accepted *ret, struct messaging_refusal *w)
{
	int r2 = messaging_sms_check_tx(tx, r, ret, w);
	return r2 < 0 ? r2 : messaging_sms_enqueue_tx(bus, tx, r, ret);
}

int messaging_sms_cancel_tx(struct store_tx *tx, const char *tenant_id, const char *id)
{
	json_t *row;
	int r = store_message_get(tx, tenant_id, id, &row);
	if (r < 0)
		return r;
	json_decref(row);
	static const char *const from[] = {"queued", NULL};
	struct store_msg_update u = {.price_micros = -1, .done = true};
	return store_message_status(tx, id, "canceled", from, &u);
}

/* ---- e-mail ---- */

static bool addr_valid(const char *a)
{
	size_t n = a ? strlen(a) : 0;
	const char *at = n ? strchr(a, '@') : NULL;
	if (!at || at == a || n > 254 || !strchr(at, '.') || strchr(at + 1, '@'))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] <= ' ' || strchr("<>(),;:\"[]\\", a[i]))
			return false;
	return true;
}

/* A list field: absent, or an array of 0..max valid addresses; counts into *total. */
static int addr_list(const json_t *req, const char *key, bool required, size_t *total,
		     struct messaging_refusal *w)
{
	json_t *v = json_object_get(req, key);
	if (!v)
		return required ? refuse(w, 400, "missing_field", "at least one recipient", key)
				: 0;
	if (json_is_string(v))
		v = NULL; /* a single address is not a list: refuse clearly */
	if (!json_is_array(v) || (required && json_array_size(v) == 0))
		return refuse(w, 400, "invalid_field", "a list of e-mail addresses", key);
	size_t i;
	json_t *a;
	json_array_foreach (v, i, a) {
		if (!json_is_string(a) || !addr_valid(json_string_value(a)))
			return refuse(w, 400, "invalid_address", "not an e-mail address", key);
	}
	*total += json_array_size(v);
	return 0;
}

static int check_attachments(const json_t *req, struct messaging_refusal *w)
{
	json_t *atts = json_object_get(req, "attachments");
	if (!atts || json_is_null(atts))
		return 0;
	if (!json_is_array(atts) || json_array_size(atts) > 20)
		return refuse(w, 400, "invalid_field", "a list of at most 20 attachments",
			      "attachments");
	size_t total = 0, i;
	json_t *a;
	json_array_foreach (atts, i, a) {
		const char *fn = json_string_value(json_object_get(a, "filename"));
		const char *ct = json_string_value(json_object_get(a, "content_type"));
		const char *b64 = json_string_value(json_object_get(a, "content"));
		if (!json_is_object(a) || !fn || !*fn || strlen(fn) > 255 || !b64 ||
		    (ct && strlen(ct) > 127) || strpbrk(fn, "\r\n") || (ct && strpbrk(ct, "\r\n")))
			return refuse(w, 400, "invalid_attachment",
				      "each attachment needs filename and base64 content",
				      "attachments");
		size_t n = strlen(b64);
		if (n / 4 * 3 > EMAIL_ATTACH_MAX)
			return refuse(w, 413, "attachment_too_large",
				      "attachments exceed 10 MiB in total", "attachments");
		unsigned char *bin;
		size_t blen;
		if (b64_decode(b64, n, &bin, &blen) < 0)
			return refuse(w, 400, "invalid_attachment", "content is not base64",
				      "attachments");
		mem_free(bin);
		total += blen;
		if (total > EMAIL_ATTACH_MAX)
			return refuse(w, 413, "attachment_too_large",
				      "attachments exceed 10 MiB in total", "attachments");
	}
	return 0;
}

int messaging_email_submit_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			      const json_t *req, bool allow_private, char ret_id[ID_LEN + 1],
			      struct messaging_refusal *w)
{
	const char *from = json_string_value(json_object_get(req, "from"));
	if (!addr_valid(from))
		return refuse(w, 400, "invalid_address", "from must be an e-mail address", "from");
	size_t n = 0;
	int r;
	if ((r = addr_list(req, "to", true, &n, w)) < 0 ||
	    (r = addr_list(req, "cc", false, &n, w)) < 0 ||
	    (r = addr_list(req, "bcc", false, &n, w)) < 0)
		return r;
	if (n > EMAIL_RCPT_MAX)
		return refuse(w, 400, "too_many_recipients",
			      "at most 50 recipients in to, cc and bcc", "to");
	const char *reply = json_string_value(json_object_get(req, "reply_to"));
	if (reply && !addr_valid(reply))
		return refuse(w, 400, "invalid_address", "reply_to must be an e-mail address",
			      "reply_to");
	const char *tpl = json_string_value(json_object_get(req, "template_id"));
	const char *subject = json_string_value(json_object_get(req, "subject"));
	json_t *trow = NULL;
	if (tpl) {
		if (!id_valid(tpl, "ET") || store_template_get(tx, tenant_id, tpl, &trow) < 0)
			return refuse(w, 400, "unknown_template", "no such template",
				      "template_id");
		if (!subject)
			subject = json_string_value(json_object_get(trow, "subject"));
	} else if (!json_string_value(json_object_get(req, "text")) &&
		   !json_string_value(json_object_get(req, "html"))) {
		return refuse(w, 400, "missing_field", "text or html (or a template_id)", "text");
	}
	if (!subject || !*subject) {
		json_decref(trow);
		return refuse(w, 400, "missing_field", "subject is required", "subject");
	}
	if (strpbrk(subject, "\r\n")) {
		json_decref(trow);
		return refuse(w, 400, "invalid_field", "subject must be one line", "subject");
	}
	const char *cb = json_string_value(json_object_get(req, "status_callback"));
	const char *why = NULL;
	if (cb && webhooks_check_url(cb, allow_private, &why) < 0) {
		json_decref(trow);
		return refuse(w, 400, "invalid_url", why ? why : "url not allowed",
			      "status_callback");
	}
	if ((r = check_attachments(req, w)) < 0) {
		json_decref(trow);
		return r;
	}
	id_new("ML", ret_id);
	char mid[ID_LEN + 48];
	snprintf(mid, sizeof(mid), "<%s@irisx>", ret_id);
	char *text = json_dumps(req, JSON_COMPACT);
	json_t *to = json_object_get(req, "to");
	char *rcpt = json_dumps(to, JSON_COMPACT);
	struct store_email e = {.id = ret_id,
				.tenant_id = tenant_id,
				.from = from,
				.rcpt = rcpt,
				.subject = subject,
				.request = text,
				.status_callback = cb,
				.message_id_header = mid};
	r = store_email_insert(tx, &e);
	free(text);
	free(rcpt);
	char payload[64];
	snprintf(payload, sizeof(payload), "{\"email_id\":\"%s\"}", ret_id);
	struct bus_pub p = {.subject = EMAIL_SUBJECT,
			    .tenant_id = tenant_id,
			    .payload = payload,
			    .dedupe_key = ret_id,
			    .max_attempts = 8};
	if (r >= 0)
		r = bus_publish_tx(bus, tx, &p, NULL);
	/* subject may point into the template's row: freed after its last use */
	json_t *data =
	    r < 0 ? NULL
		  : json_pack("{s:s,s:s,s:s,s:O,s:s,s:s}", "email_id", ret_id, "account_sid",
			      tenant_id, "from", from, "to", json_object_get(req, "to"), "subject",
			      subject, "status", "queued");
	json_decref(trow);
	if (r < 0)
		return r;
	r = webhooks_emit_tx(bus, tx, tenant_id, "email.queued", data, NULL, NULL);
	json_decref(data);
	return r < 0 ? r : 0;
}

/* ---- providers and rates ---- */

static int cfg_str(const json_t *c, const char *k, bool req, size_t max,
		   struct messaging_refusal *w)
{
	json_t *v = json_object_get(c, k);
	if (!v)
		return req ? refuse(w, 400, "missing_field", "required in config", k) : 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strpbrk(json_string_value(v), "\r\n"))
		return refuse(w, 400, "invalid_field", "a string (too long?)", k);
	return 0;
}

static int cfg_int(const json_t *c, const char *k, bool req, int lo, int hi,
		   struct messaging_refusal *w)
{
	json_t *v = json_object_get(c, k);
	if (!v)
		return req ? refuse(w, 400, "missing_field", "required in config", k) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return refuse(w, 400, "invalid_field", "an integer out of range", k);
	return 0;
}

int messaging_provider_check(const char *kind, const json_t *c, bool allow_private,
			     struct messaging_refusal *w)
{
	if (!json_is_object(c))
		return refuse(w, 400, "invalid_field", "config must be an object", "config");
	static const char *const known[] = {
	    "host",	"port",	      "system_id",   "password", "system_type", "window",
	    "tps",	"binds",      "base_url",    "account",	 "token",	"tls",
	    "username", "timeout_ms", "verify_peer", "bind",	 NULL};
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)c, k, v) {
		bool ok = false;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(known[i], k);
		if (!ok)
			return refuse(w, 400, "unknown_field", "not a provider setting", k);
	}
	int r = 0;
	if (!strcmp(kind, "smpp")) {
		if ((r = cfg_str(c, "host", true, 253, w)) < 0 ||
		    (r = cfg_int(c, "port", true, 1, 65535, w)) < 0 ||
		    (r = cfg_str(c, "system_id", true, 15, w)) < 0 ||
		    (r = cfg_str(c, "password", false, 8, w)) < 0 ||
		    (r = cfg_str(c, "system_type", false, 12, w)) < 0 ||
		    (r = cfg_int(c, "window", false, 1, 1000, w)) < 0 ||
		    (r = cfg_int(c, "tps", false, 0, 100000, w)) < 0 ||
		    (r = cfg_int(c, "binds", false, 1, 16, w)) < 0 ||
		    (r = cfg_str(c, "bind", false, 16, w)) < 0)
			return r;
		const char *bind = json_string_value(json_object_get(c, "bind"));
		if (bind && strcmp(bind, "transceiver") && strcmp(bind, "pair"))
			return refuse(w, 400, "invalid_field",
				      "transceiver, or pair (a transmitter and a receiver)",
				      "bind");
	} else if (!strcmp(kind, "twilio") || !strcmp(kind, "telnyx")) {
		if ((r = cfg_str(c, "base_url", true, 2048, w)) < 0 ||
		    (r = cfg_str(c, "account", !strcmp(kind, "twilio"), 64, w)) < 0 ||
		    (r = cfg_str(c, "token", true, 256, w)) < 0 ||
		    (r = cfg_int(c, "timeout_ms", false, 100, 60000, w)) < 0)
			return r;
		const char *why = NULL;
		if (webhooks_check_url(json_string_value(json_object_get(c, "base_url")),
				       allow_private, &why) < 0)
			return refuse(w, 400, "invalid_url", why ? why : "url not allowed",
				      "base_url");
	} else if (!strcmp(kind, "smtp")) {
		if ((r = cfg_str(c, "host", true, 253, w)) < 0 ||
		    (r = cfg_int(c, "port", true, 1, 65535, w)) < 0 ||
		    (r = cfg_str(c, "tls", false, 16, w)) < 0 ||
		    (r = cfg_str(c, "username", false, 256, w)) < 0 ||
		    (r = cfg_str(c, "password", false, 256, w)) < 0 ||
		    (r = cfg_int(c, "timeout_ms", false, 100, 120000, w)) < 0)
			return r;
		const char *tls = json_string_value(json_object_get(c, "tls"));
		if (tls && strcmp(tls, "none") && strcmp(tls, "starttls") && strcmp(tls, "tls"))
			return refuse(w, 400, "invalid_field", "none, starttls or tls", "tls");
	} else {
		return refuse(w, 400, "invalid_field", "kind is smpp, twilio, telnyx or smtp",
			      "kind");
	}
	return 0;
}

int messaging_rates_parse_csv(const char *csv, json_t **ret, struct messaging_refusal *w)
{
	json_t *out = json_array();
	int line = 0;
	for (const char *p = csv; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char buf[128];
		line++;
		if (len >= sizeof(buf) || json_array_size(out) >= 100000) {
			json_decref(out);
			return refuse(w, 400, "invalid_csv", "line too long or too many lines",
				      "csv");
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		p = e ? e + 1 : NULL;
		char *cr = strchr(buf, '\r');
		if (cr)
			*cr = '\0';
		if (!buf[0])
			continue;
		char *comma = strchr(buf, ',');
		const char *pre = buf[0] == '+' ? buf + 1 : buf;
		bool digits = comma && comma > pre;
		for (const char *q = pre; digits && q < comma; q++)
			digits = isdigit((unsigned char)*q);
		if (!digits) {
			if (line == 1)
				continue; /* a header */
			json_decref(out);
			return refuse(w, 400, "invalid_csv", "each line is prefix,cost", "csv");
		}
		*comma = '\0';
		char *end;
		double cost = strtod(comma + 1, &end);
		while (*end == ' ')
			end++;
		if (end == comma + 1 || *end || cost < 0 || cost > 1000) {
			json_decref(out);
			return refuse(w, 400, "invalid_csv",
				      "cost must be a number (currency units)", "csv");
		}
		json_array_append_new(out, json_pack("{s:s,s:I}", "prefix", pre, "cost_micros",
						     (json_int_t)(cost * 1e6 + 0.5)));
	}
	*ret = out;
	return 0;
}
