/* email_worker.c: sends queued e-mails: template rendering, MIME, the tenant's (or the
   operator's) SMTP relays in priority order; 4xx and transport failures are retried with
   backoff through the bus, 5xx fail the e-mail with the server's reason. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "webhooks/webhooks.h"

struct eload {
	const char *id, *tenant;
	json_t *row, *tpl, *routes;
};

static int eload_fn(struct store_tx *tx, void *arg)
{
	struct eload *l = arg;
	int r = store_email_get(tx, NULL, l->id, &l->row);
	if (r < 0)
		return r;
	l->tenant = json_str(l->row, "tenant_id");
	json_t *req = json_loads(json_str(l->row, "request"), 0, NULL);
	const char *tpl = json_str(req, "template_id");
	if (tpl && store_template_get(tx, l->tenant, tpl, &l->tpl) < 0)
		l->tpl = NULL;
	json_decref(req);
	return store_routes(tx, l->tenant, "email", NULL, &l->routes);
}

struct eresult {
	struct messaging *m;
	const char *id, *status, *provider, *error;
	int code;
};

static int eresult_fn(struct store_tx *tx, void *arg)
{
	struct eresult *e = arg;
	int r = store_email_result(tx, e->id, e->status, e->provider, e->code, e->error);
	if (r < 0 || !strcmp(e->status, "queued"))
		return r;
	json_t *row;
	if ((r = store_email_get(tx, NULL, e->id, &row)) < 0)
		return r;
	const char *tenant = json_str(row, "tenant_id");
	json_t *to = json_loads(json_str(row, "rcpt") ? json_str(row, "rcpt") : "[]", 0, NULL);
	json_t *data =
	    json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:i}", "email_id", e->id, "account_sid", tenant,
		      "from", json_str(row, "from_addr"), "to", to ? to : json_array(), "subject",
		      json_str(row, "subject"), "status", e->status, "message_id",
		      json_str(row, "message_id_header"), "smtp_code", e->code);
	if (e->error)
		json_object_set_new(data, "error_message", json_string(e->error));
	char type[32];
	snprintf(type, sizeof(type), "email.%s", e->status);
	r = webhooks_emit_tx(e->m->bus, tx, tenant, type, data, NULL, NULL);
	json_decref(data);
	const char *cb = json_str(row, "status_callback");
	if (r >= 0 && cb) {
		json_t *p = json_pack("{s:s,s:s,s:s}", "EmailId", e->id, "AccountSid", tenant,
				      "EmailStatus", e->status);
		r = webhooks_callback_tx(e->m->bus, tx, tenant, cb, "POST", p);
		json_decref(p);
	}
	json_decref(row);
	return r < 0 ? r : 0;
}

static void result(struct messaging *m, struct bus_msg *msg, const char *id, const char *status,
		   const char *provider, int code, const char *error)
{
	struct eresult e = {m, id, status, provider, error, code};
	if (store_tx(m->st, NULL, STORE_WRITE, eresult_fn, &e) < 0)
		return bus_nak(msg, -1, "store unavailable");
	bus_kick(m->bus);
	if (!strcmp(status, "queued"))
		return bus_nak(msg, -1, error ? error : "temporary failure");
	bus_ack(msg);
}

/* to/cc from the request as NULL-terminated lists (pointers into req) */
static const char **list(json_t *a)
{
	size_t n = json_array_size(a);
	const char **l = mem_zalloc((n + 1) * sizeof(*l));
	for (size_t i = 0; i < n; i++)
		l[i] = json_string_value(json_array_get(a, i));
	return l;
}

static char *render(const char *tpl, json_t *vars, bool html)
{
	if (!tpl)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	if (email_template_render(tpl, vars ? vars : json_object(), html, &b, NULL) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}

static int build(json_t *row, json_t *req, json_t *tpl, struct buf *mime, const char **ret_err)
{
	json_t *vars = json_object_get(req, "variables");
	const char *subject = json_str(row, "subject");
	char *text = NULL, *html = NULL, *subj = NULL;
	if (tpl) {
		text = render(json_str(tpl, "text_body"), vars, false);
		html = render(json_str(tpl, "html_body"), vars, true);
		if (!json_str(req, "subject"))
			subj = render(json_str(tpl, "subject"), vars, false);
	}
	json_t *atts = json_object_get(req, "attachments");
	size_t na = json_array_size(atts);
	struct email_attachment *a = mem_zalloc((na ? na : 1) * sizeof(*a));
	unsigned char **bins = mem_zalloc((na ? na : 1) * sizeof(*bins));
	int r = 0;
	for (size_t i = 0; i < na && r >= 0; i++) {
		json_t *at = json_array_get(atts, i);
		const char *b64 = json_str(at, "content");
		size_t blen = 0;
		r = b64_decode(b64, strlen(b64), &bins[i], &blen);
		a[i] = (struct email_attachment){json_str(at, "filename"),
						 json_str(at, "content_type"), bins[i], blen};
	}
	const char **to = list(json_object_get(req, "to")), **cc = list(json_object_get(req, "cc"));
	struct email_msg m = {.from = json_str(row, "from_addr"),
			      .reply_to = json_str(req, "reply_to"),
			      .subject = subj ? subj : subject,
			      .text = tpl ? text : json_str(req, "text"),
			      .html = tpl ? html : json_str(req, "html"),
			      .to = to,
			      .cc = cc,
			      .attachments = a,
			      .nattachments = na,
			      .message_id = json_str(row, "message_id_header")};
	if (r >= 0)
		r = email_mime_build(&m, time_now_us(), mime);
	if (r < 0)
		*ret_err = "the message could not be built (template or attachments)";
	for (size_t i = 0; i < na; i++)
		mem_free(bins[i]);
	mem_free(bins);
	mem_free(a);
	mem_free(to);
	mem_free(cc);
	mem_free(text);
	mem_free(html);
	mem_free(subj);
	return r;
}

static int cmp_prio(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return (int)(json_int(x, "priority", 10) - json_int(y, "priority", 10));
}

void email_work(struct messaging *m, struct bus_msg *msg)
{
	json_t *pl = json_loadb(msg->payload, msg->payload_len, 0, NULL);
	struct eload l = {.id = json_str(pl, "email_id")};
	int r = l.id ? store_tx(m->st, NULL, STORE_READ, eload_fn, &l) : -ENOENT;
	char id[ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", l.id ? l.id : "");
	json_decref(pl);
	if (r == -ENOENT) {
		json_decref(l.row);
		return bus_term(msg, "e-mail not found");
	}
	if (r < 0)
		return bus_nak(msg, -1, "store unavailable");
	if (strcmp(json_str(l.row, "status"), "queued")) {
		json_decref(l.row);
		json_decref(l.tpl);
		json_decref(l.routes);
		return bus_ack(msg);
	}
	json_t *req = json_loads(json_str(l.row, "request"), 0, NULL);
	struct buf mime;
	buf_init(&mime, 0);
	const char *err = NULL;
	if (!req || build(l.row, req, l.tpl, &mime, &err) < 0) {
		result(m, msg, id, "failed", NULL, 0, err ? err : "bad request");
		goto out;
	}
	/* envelope: to + cc + bcc */
	const char *rcpts[EMAIL_RCPT_MAX];
	size_t n = 0;
	static const char *const keys[] = {"to", "cc", "bcc"};
	for (int k = 0; k < 3; k++) {
		json_t *a = json_object_get(req, keys[k]);
		for (size_t i = 0; i < json_array_size(a) && n < EMAIL_RCPT_MAX; i++)
			rcpts[n++] = json_string_value(json_array_get(a, i));
	}
	size_t nr = json_array_size(l.routes);
	json_t **routes = mem_alloc((nr ? nr : 1) * sizeof(*routes));
	for (size_t i = 0; i < nr; i++)
		routes[i] = json_array_get(l.routes, i);
	qsort(routes, nr, sizeof(*routes), cmp_prio);
	struct smtp_result res = {0};
	const char *used = NULL;
	bool sent = false, permanent = false;
	uint64_t now = time_now_us();
	for (size_t i = 0; i < nr && !sent && !permanent; i++) {
		struct prov *p = prov_get(m, json_str(routes[i], "id"));
		if (!p || !prov_available(p, now))
			continue;
		struct smtp_config sc;
		prov_smtp_config(p, &sc);
		used = p->id;
		r = smtp_send(&sc, json_str(l.row, "from_addr"), rcpts, n, mime.p, mime.len, &res);
		sent = r == 0;
		permanent = !sent && res.permanent;
		prov_result(p,
			    sent || permanent); /* a 5xx is the message's fault, not the relay's */
	}
	mem_free(routes);
	if (sent)
		result(m, msg, id, "sent", used, res.code, NULL);
	else if (!nr)
		result(m, msg, id, "failed", NULL, 0, "no SMTP provider is configured");
	else if (permanent || msg->attempt >= msg->max_attempts)
		result(m, msg, id, "failed", used, res.code, res.text[0] ? res.text : "rejected");
	else
		result(m, msg, id, "queued", used, res.code,
		       res.text[0] ? res.text : "every relay failed or was unavailable");
out:
	buf_free(&mime);
	json_decref(req);
	json_decref(l.row);
	json_decref(l.tpl);
	json_decref(l.routes);
}
