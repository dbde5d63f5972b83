/* messaging.c: phone numbers, sender ids, messaging providers and rates, SMS messages and
   their parts, early receipts, the opt-out ledger, e-mails and templates: the SQL behind
   src/messaging and its routes. */
#include <string.h>

#include "internal.h"

#define NUM_COLS                                                                                   \
	"id, tenant_id, number, sms_url, sms_method, carrier_id, voice_url, voice_method, "        \
	"voice_fallback_url, voice_fallback_method, voice_status_callback, "                       \
	"voice_application_id, created_us, updated_us"
#define PROV_COLS                                                                                  \
	"id, tenant_id, name, kind, config, priority, weight, enabled, health, created_us, "       \
	"updated_us"
#define MSG_COLS                                                                                   \
	"id, tenant_id, direction, from_addr, to_addr, body, status, encoding, segments, "         \
	"price_micros, provider_id, attempts, error_code, error_message, status_callback, "        \
	"validity_s, send_at_us, created_us, updated_us, sent_us, done_us"
#define EMAIL_COLS                                                                                 \
	"id, tenant_id, from_addr, rcpt, subject, request, status, provider_id, attempts, "        \
	"smtp_code, error_message, message_id_header, status_callback, created_us, updated_us, "   \
	"sent_us"
#define TPL_COLS "id, tenant_id, name, subject, text_body, html_body, created_us, updated_us"

/* ---- phone numbers and sender ids ---- */

int store_number_insert(struct store_tx *tx, const char *id, const char *tenant_id,
			const char *number)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO phone_numbers (id, tenant_id, number, created_us, "
				    "updated_us) VALUES (?, ?, ?, ?, ?)",
				    "sssii", id, tenant_id, number, store_now(), store_now()));
}

int store_number_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	if (!tenant_id)
		return stx_query_one(tx, ret, "SELECT " NUM_COLS " FROM phone_numbers WHERE id = ?",
				     "s", id);
	return stx_query_one(
	    tx, ret, "SELECT " NUM_COLS " FROM phone_numbers WHERE id = ? AND tenant_id = ?", "ss",
	    id, tenant_id);
}

int store_number_by_e164(struct store_tx *tx, const char *number, json_t **ret)
{
	return stx_query_one(tx, ret, "SELECT " NUM_COLS " FROM phone_numbers WHERE number = ?",
			     "s", number);
}

int store_number_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
		      json_t **ret)
{
	if (!tenant_id)
		return store_list_page(tx, ret,
				       "SELECT " NUM_COLS " FROM phone_numbers WHERE 1 = 1", 0,
				       NULL, cursor, limit);
	struct store_val p = {SV_TEXT, tenant_id, 0};
	return store_list_page(tx, ret,
			       "SELECT " NUM_COLS " FROM phone_numbers WHERE tenant_id = ?", 1, &p,
			       cursor, limit);
}

int store_number_assign(struct store_tx *tx, const char *id, const char *tenant_id)
{
	return store_changed(
	    stx_exec(tx,
		     "UPDATE phone_numbers SET tenant_id = ?, sms_url = NULL, sms_method = "
		     "NULL, voice_url = NULL, voice_method = NULL, voice_fallback_url = NULL, "
		     "voice_fallback_method = NULL, voice_status_callback = NULL, "
		     "voice_application_id = NULL, updated_us = ? WHERE id = ?",
		     "sis", tenant_id, store_now(), id));
}

int store_number_set_sms(struct store_tx *tx, const char *tenant_id, const char *id,
			 const char *url, const char *method)
{
	return store_changed(
	    stx_exec(tx,
		     "UPDATE phone_numbers SET sms_url = ?, sms_method = ?, updated_us = ? "
		     "WHERE id = ? AND tenant_id = ?",
		     "ssiss", url, method, store_now(), id, tenant_id));
}

int store_number_delete(struct store_tx *tx, const char *id)
{
	return store_changed(stx_exec(tx, "DELETE FROM phone_numbers WHERE id = ?", "s", id));
}

int store_sender_insert(struct store_tx *tx, const char *id, const char *tenant_id,
			const char *sender)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO sender_ids (id, tenant_id, sender, created_us) "
				    "VALUES (?, ?, ?, ?)",
				    "sssi", id, tenant_id, sender, store_now()));
}

int store_sender_allowed(struct store_tx *tx, const char *tenant_id, const char *from)
{
	json_t *rows;
	int r =
	    stx_query(tx, &rows,
		      "SELECT 1 AS x FROM phone_numbers WHERE tenant_id = ? AND number = ? UNION "
		      "ALL SELECT 1 AS x FROM sender_ids WHERE tenant_id = ? AND sender = ?",
		      "ssss", tenant_id, from, tenant_id, from);
	if (r < 0)
		return r;
	r = json_array_size(rows) > 0;
	json_decref(rows);
	return r;
}

int store_sms_facts(struct store_tx *tx, const char *tenant_id, const char *from, const char *to,
		    struct store_sms_facts *ret)
{
	json_t *row;
	int r = stx_query_one(
	    tx, &row,
	    "SELECT (SELECT gen FROM routing_gen WHERE id = 1) AS gen, "
	    "CASE WHEN EXISTS (SELECT 1 FROM phone_numbers WHERE tenant_id = ? AND number = ?) "
	    "OR EXISTS (SELECT 1 FROM sender_ids WHERE tenant_id = ? AND sender = ?) "
	    "THEN 1 ELSE 0 END AS sender_ok, "
	    "CASE WHEN EXISTS (SELECT 1 FROM opt_outs WHERE tenant_id = ? AND sender = ? AND "
	    "recipient = ?) THEN 1 ELSE 0 END AS opted_out",
	    "sssssss", tenant_id, from, tenant_id, from, tenant_id, from, to);
	if (r < 0)
		return r;
	*ret = (struct store_sms_facts){
	    .routing_gen = json_integer_value(json_object_get(row, "gen")),
	    .sender_ok = json_integer_value(json_object_get(row, "sender_ok")) != 0,
	    .opted_out = json_integer_value(json_object_get(row, "opted_out")) != 0,
	};
	json_decref(row);
	return 0;
}

/* ---- providers and rates ---- */

int store_provider_insert(struct store_tx *tx, const struct store_provider *p)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO messaging_providers (id, tenant_id, name, kind, "
				    "config, priority, weight, enabled, created_us, updated_us) "
				    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				    "sssssiiiii", p->id, p->tenant_id, p->name, p->kind, p->config,
				    (int64_t)p->priority, (int64_t)p->weight, (int64_t)p->enabled,
				    store_now(), store_now()));
}

/* scope: tenant_id NULL = the operator's providers; any = every provider (the worker) */
int store_provider_get(struct store_tx *tx, const char *tenant_id, bool any, const char *id,
		       json_t **ret)
{
	if (any)
		return stx_query_one(
		    tx, ret, "SELECT " PROV_COLS " FROM messaging_providers WHERE id = ?", "s", id);
	if (!tenant_id)
		return stx_query_one(tx, ret,
				     "SELECT " PROV_COLS
				     " FROM messaging_providers WHERE id = ? AND "
				     "tenant_id IS NULL",
				     "s", id);
	return stx_query_one(tx, ret,
			     "SELECT " PROV_COLS " FROM messaging_providers WHERE id = ? AND "
			     "tenant_id = ?",
			     "ss", id, tenant_id);
}

int store_provider_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
			json_t **ret)
{
	if (!tenant_id)
		return store_list_page(tx, ret,
				       "SELECT " PROV_COLS
				       " FROM messaging_providers WHERE tenant_id "
				       "IS NULL",
				       0, NULL, cursor, limit);
	struct store_val p = {SV_TEXT, tenant_id, 0};
	return store_list_page(tx, ret,
			       "SELECT " PROV_COLS " FROM messaging_providers WHERE tenant_id = ?",
			       1, &p, cursor, limit);
}

int store_provider_update(struct store_tx *tx, const char *tenant_id, const char *id,
			  const struct store_provider *p)
{
	const char *scope = tenant_id ? " AND tenant_id = ?" : " AND tenant_id IS NULL";
	char sql[256];
	int r = 0;
	struct {
		const char *col, *val;
	} text[] = {{"name", p->name}, {"config", p->config}};
	for (size_t i = 0; i < 2 && r >= 0; i++) {
		if (!text[i].val)
			continue;
		snprintf(sql, sizeof(sql), "UPDATE messaging_providers SET %s = ? WHERE id = ?%s",
			 text[i].col, scope);
		r = tenant_id ? stx_exec(tx, sql, "sss", text[i].val, id, tenant_id)
			      : stx_exec(tx, sql, "ss", text[i].val, id);
	}
	struct {
		const char *col;
		int val;
	} ints[] = {{"priority", p->priority}, {"weight", p->weight}, {"enabled", p->enabled}};
	for (size_t i = 0; i < 3 && r >= 0; i++) {
		if (ints[i].val < 0)
			continue;
		snprintf(sql, sizeof(sql), "UPDATE messaging_providers SET %s = ? WHERE id = ?%s",
			 ints[i].col, scope);
		r = tenant_id ? stx_exec(tx, sql, "iss", (int64_t)ints[i].val, id, tenant_id)
			      : stx_exec(tx, sql, "is", (int64_t)ints[i].val, id);
	}
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql), "UPDATE messaging_providers SET updated_us = ? WHERE id = ?%s",
		 scope);
	return store_changed(tenant_id ? stx_exec(tx, sql, "iss", store_now(), id, tenant_id)
				       : stx_exec(tx, sql, "is", store_now(), id));
}

int store_provider_delete(struct store_tx *tx, const char *tenant_id, const char *id)
{
	if (!tenant_id)
		return store_changed(stx_exec(
		    tx, "DELETE FROM messaging_providers WHERE id = ? AND tenant_id IS NULL", "s",
		    id));
	return store_changed(
	    stx_exec(tx, "DELETE FROM messaging_providers WHERE id = ? AND tenant_id = ?", "ss", id,
		     tenant_id));
}

int store_provider_health(struct store_tx *tx, const char *id, const char *health)
{
	return stx_exec(tx, "UPDATE messaging_providers SET health = ? WHERE id = ?", "ss", health,
			id);
}

int store_rates_replace(struct store_tx *tx, const char *provider_id, const char *tenant_id,
			const struct store_rate *rates, size_t n)
{
	int r = stx_exec(tx, "DELETE FROM provider_rates WHERE provider_id = ?", "s", provider_id);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = stx_exec(
		    tx,
		    "INSERT INTO provider_rates (provider_id, tenant_id, prefix, cost_micros) "
		    "VALUES (?, ?, ?, ?)",
		    "sssi", provider_id, tenant_id, rates[i].prefix, rates[i].cost_micros);
	return r < 0 ? r : 0;
}

int store_rates_list(struct store_tx *tx, const char *provider_id, json_t **ret)
{
	return stx_query(
	    tx, ret,
	    "SELECT prefix, cost_micros FROM provider_rates WHERE provider_id = ? ORDER "
	    "BY prefix",
	    "s", provider_id);
}

enum { ROUTE_PREFIXES = 16 }; /* every leading part of an E.164 number (15 digits), and "" */

/* "(SELECT cost_micros ... prefix = ?), " once per prefix, longest first: COALESCE stops at
   the first that has a rate, so a lookup is a few probes of the rates' key, with no
   temporary table (an IN list would build one per provider) and nothing sorted */
#define RATE_PROBE                                                                                 \
	"(SELECT r.cost_micros FROM provider_rates r WHERE r.provider_id = p.id AND r.prefix = ?)"
#define RATE_PROBE4 RATE_PROBE ", " RATE_PROBE ", " RATE_PROBE ", " RATE_PROBE

/* ORs, not IN: a constant IN list is a temporary index built at every run */
static const char *kinds_of(const char *channel)
{
	return !strcmp(channel, "email")
		   ? "p.kind = 'smtp'"
		   : "(p.kind = 'smpp' OR p.kind = 'twilio' OR p.kind = 'telnyx')";
}

int store_routing_gen(struct store_tx *tx, int64_t *ret)
{
	json_t *row;
	int r = stx_query_one(tx, &row, "SELECT gen FROM routing_gen WHERE id = 1", "");
	if (r < 0)
		return r;
	*ret = json_integer_value(json_object_get(row, "gen"));
	json_decref(row);
	return 0;
}

int store_routes_own(struct store_tx *tx, const char *tenant_id, const char *channel)
{
	json_t *rows;
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT 1 AS x FROM messaging_providers p WHERE p.tenant_id = ? AND p.enabled = 1 "
		 "AND %s LIMIT 1",
		 kinds_of(channel));
	int r = stx_query(tx, &rows, sql, "s", tenant_id);
	if (r < 0)
		return r;
	r = json_array_size(rows) > 0;
	json_decref(rows);
	return r;
}

int store_route_rates(struct store_tx *tx, const char *owner, const char *channel, json_t **ret)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT r.provider_id, r.prefix, r.cost_micros FROM messaging_providers p JOIN "
		 "provider_rates r ON r.provider_id = p.id WHERE %s AND p.enabled = 1 AND %s "
		 "ORDER BY p.id",
		 owner ? "p.tenant_id = ?" : "p.tenant_id IS NULL", kinds_of(channel));
	return owner ? stx_query(tx, ret, sql, "s", owner) : stx_query(tx, ret, sql, "");
}

int store_routes(struct store_tx *tx, const char *tenant_id, const char *channel, const char *dest,
		 json_t **ret)
{
	/* the tenant's own providers when it has any enabled for the channel, else the
	   operator's; each with the cost of its longest prefix matching dest (NULL: no rate).
	   Every step is an index probe and nothing is sorted: the owner's providers come in id
	   order from (tenant_id, id). */
	int own = tenant_id ? store_routes_own(tx, tenant_id, channel) : 0;
	if (own < 0)
		return own;
	char sql[2048];
	snprintf(sql, sizeof(sql),
		 "SELECT p.id, p.tenant_id, p.kind, p.config, p.priority, p.weight, p.health, "
		 "COALESCE(" RATE_PROBE4 ", " RATE_PROBE4 ", " RATE_PROBE4 ", " RATE_PROBE4
		 ") AS cost_micros "
		 "FROM messaging_providers p WHERE %s AND p.enabled = 1 AND %s ORDER BY p.id",
		 own ? "p.tenant_id = ?" : "p.tenant_id IS NULL", kinds_of(channel));
	const char *d = dest ? (dest[0] == '+' ? dest + 1 : dest) : ""; /* prefixes are digits */
	char pre[ROUTE_PREFIXES][ROUTE_PREFIXES];
	struct store_val v[ROUTE_PREFIXES + 1];
	size_t n = strlen(d);
	for (size_t i = 0; i < ROUTE_PREFIXES; i++) {
		size_t len = ROUTE_PREFIXES - 1 - i; /* parameter i: the prefix of this length */
		v[i] = (struct store_val){SV_NULL, NULL, 0};
		if (len <= n) {
			memcpy(pre[i], d, len);
			pre[i][len] = '\0';
			v[i] = (struct store_val){SV_TEXT, pre[i], 0};
		}
	}
	v[ROUTE_PREFIXES] = (struct store_val){SV_TEXT, tenant_id, 0};
	return tx->st->be->query(tx, sql, ROUTE_PREFIXES + (own ? 1 : 0), v, ret);
}

/* ---- messages ---- */

int store_message_insert(struct store_tx *tx, const struct store_message *m)
{
	struct store_val v[] = {
	    {SV_TEXT, m->id, 0},
	    {SV_TEXT, m->tenant_id, 0},
	    {SV_TEXT, m->direction, 0},
	    {SV_TEXT, m->from, 0},
	    {SV_TEXT, m->to, 0},
	    {SV_TEXT, m->body, 0},
	    {SV_TEXT, m->status, 0},
	    {SV_TEXT, m->encoding, 0},
	    {SV_INT, NULL, m->segments},
	    {m->price_micros >= 0 ? SV_INT : SV_NULL, NULL, m->price_micros},
	    {m->status_callback ? SV_TEXT : SV_NULL, m->status_callback, 0},
	    {m->validity_s > 0 ? SV_INT : SV_NULL, NULL, m->validity_s},
	    {m->send_at_us ? SV_INT : SV_NULL, NULL, (int64_t)m->send_at_us},
	    {SV_INT, NULL, store_now()},
	    {SV_INT, NULL, store_now()},
	    {m->provider_id ? SV_TEXT : SV_NULL, m->provider_id, 0},
	};
	return insert_done(tx->st->be->exec(
	    tx,
	    "INSERT INTO messages (id, tenant_id, direction, from_addr, to_addr, body, status, "
	    "encoding, segments, price_micros, status_callback, validity_s, send_at_us, "
	    "created_us, updated_us, provider_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?)",
	    sizeof(v) / sizeof(v[0]), v));
}

int store_message_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	if (!tenant_id)
		return stx_query_one(tx, ret, "SELECT " MSG_COLS " FROM messages WHERE id = ?", "s",
				     id);
	return stx_query_one(tx, ret,
			     "SELECT " MSG_COLS " FROM messages WHERE id = ? AND tenant_id = ?",
			     "ss", id, tenant_id);
}

int store_message_list(struct store_tx *tx, const char *tenant_id, const struct store_msg_filter *f,
		       json_t **ret)
{
	struct store_val v[5];
	size_t n = 0;
	struct buf sql;
	buf_init(&sql, 0);
	buf_puts(&sql, "SELECT " MSG_COLS " FROM messages WHERE tenant_id = ?");
	v[n++] = (struct store_val){SV_TEXT, tenant_id, 0};
	const struct {
		const char *cond, *val;
	} c[] = {{" AND status = ?", f->status},
		 {" AND to_addr = ?", f->to},
		 {" AND from_addr = ?", f->from},
		 {" AND direction = ?", f->direction}};
	for (size_t i = 0; i < 4; i++)
		if (c[i].val) {
			buf_puts(&sql, c[i].cond);
			v[n++] = (struct store_val){SV_TEXT, c[i].val, 0};
		}
	int r = store_list_page(tx, ret, sql.p, n, v, f->cursor, f->limit);
	buf_free(&sql);
	return r;
}

/* Moves a message to status only from one of the states in from (comma-free list); 1 if
   it moved, 0 if it was elsewhere. */
int store_message_status(struct store_tx *tx, const char *id, const char *status,
			 const char *const *from, const struct store_msg_update *u)
{
	struct buf sql;
	buf_init(&sql, 0);
	struct store_val v[16];
	size_t n = 0;
	buf_puts(&sql, "UPDATE messages SET status = ?, updated_us = ?");
	v[n++] = (struct store_val){SV_TEXT, status, 0};
	v[n++] = (struct store_val){SV_INT, NULL, store_now()};
	if (u && u->provider_id) {
		buf_puts(&sql, ", provider_id = ?");
		v[n++] = (struct store_val){SV_TEXT, u->provider_id, 0};
	}
	if (u && u->attempts) {
		buf_puts(&sql, ", attempts = ?");
		v[n++] = (struct store_val){SV_TEXT, u->attempts, 0};
	}
	if (u && u->error_code) {
		buf_puts(&sql, ", error_code = ?, error_message = ?");
		v[n++] = (struct store_val){SV_TEXT, u->error_code, 0};
		v[n++] =
		    (struct store_val){u->error_message ? SV_TEXT : SV_NULL, u->error_message, 0};
	}
	if (u && u->price_micros >= 0) {
		buf_puts(&sql, ", price_micros = ?");
		v[n++] = (struct store_val){SV_INT, NULL, u->price_micros};
	}
	if (u && u->sent)
		buf_puts(&sql, ", sent_us = updated_us");
	if (u && u->done)
		buf_puts(&sql, ", done_us = updated_us");
	buf_puts(&sql, " WHERE id = ?");
	v[n++] = (struct store_val){SV_TEXT, id, 0};
	if (from && from[0]) {
		buf_puts(&sql, " AND status IN (");
		for (size_t i = 0; from[i] && n < 15; i++) {
			buf_puts(&sql, i ? ", ?" : "?");
			v[n++] = (struct store_val){SV_TEXT, from[i], 0};
		}
		buf_puts(&sql, ")");
	}
	int r = tx->st->be->exec(tx, sql.p, n, v);
	buf_free(&sql);
	return r < 0 ? r : r > 0;
}

int store_part_insert(struct store_tx *tx, const char *provider_id, const char *pmid,
		      const char *tenant_id, const char *message_id, int seq)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO message_parts (provider_id, provider_message_id, "
				    "tenant_id, message_id, seq, status) VALUES (?, ?, ?, ?, ?, "
				    "'sent') ON CONFLICT DO NOTHING",
				    "ssssi", provider_id, pmid, tenant_id, message_id,
				    (int64_t)seq));
}

int store_part_receipt(struct store_tx *tx, const char *provider_id, const char *pmid,
		       const char *status, json_t **ret)
{
	int r = stx_exec(tx,
			 "UPDATE message_parts SET status = ? WHERE provider_id = ? AND "
			 "provider_message_id = ?",
			 "sss", status, provider_id, pmid);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	/* the message's parts: all delivered, any undelivered, or still open */
	return stx_query_one(
	    tx, ret,
	    "SELECT p.message_id AS message_id, p.tenant_id AS tenant_id, "
	    "SUM(CASE WHEN q.status = 'delivered' THEN 1 ELSE 0 END) AS delivered, "
	    "SUM(CASE WHEN q.status = 'undelivered' THEN 1 ELSE 0 END) AS failed, "
	    "COUNT(*) AS parts, m.segments AS segments FROM message_parts p JOIN "
	    "message_parts q ON q.message_id = p.message_id JOIN messages m ON m.id = "
	    "p.message_id WHERE p.provider_id = ? AND p.provider_message_id = ? "
	    "GROUP BY p.message_id, p.tenant_id, m.segments",
	    "ss", provider_id, pmid);
}

int store_early_receipt_put(struct store_tx *tx, const char *provider_id, const char *pmid,
			    const char *stat, const char *err)
{
	return insert_done(stx_exec(tx,
				    "INSERT INTO early_receipts (provider_id, provider_message_id, "
				    "stat, err, received_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO "
				    "NOTHING",
				    "ssssi", provider_id, pmid, stat, err, store_now()));
}

int store_early_receipt_take(struct store_tx *tx, const char *provider_id, const char *pmid,
			     json_t **ret)
{
	int r = stx_query_one(tx, ret,
			      "SELECT stat, err FROM early_receipts WHERE provider_id = ? AND "
			      "provider_message_id = ?",
			      "ss", provider_id, pmid);
	if (r < 0)
		return r;
	return stx_exec(
		   tx,
		   "DELETE FROM early_receipts WHERE provider_id = ? AND provider_message_id = ?",
		   "ss", provider_id, pmid) < 0
		   ? -EIO
		   : 0;
}

/* ---- opt-outs ---- */

int store_optout_set(struct store_tx *tx, const char *tenant_id, const char *sender,
		     const char *recipient, bool out)
{
	if (!out)
		return stx_exec(tx,
				"DELETE FROM opt_outs WHERE tenant_id = ? AND sender = ? AND "
				"recipient = ?",
				"sss", tenant_id, sender, recipient);
	return stx_exec(
	    tx,
	    "INSERT INTO opt_outs (tenant_id, sender, recipient, created_us) VALUES (?, ?, "
	    "?, ?) ON CONFLICT DO NOTHING",
	    "sssi", tenant_id, sender, recipient, store_now());
}

int store_optout_check(struct store_tx *tx, const char *tenant_id, const char *sender,
		       const char *recipient)
{
	json_t *rows;
	int r = stx_query(tx, &rows,
			  "SELECT 1 AS x FROM opt_outs WHERE tenant_id = ? AND sender = ? AND "
			  "recipient = ?",
			  "sss", tenant_id, sender, recipient);
	if (r < 0)
		return r;
	r = json_array_size(rows) > 0;
	json_decref(rows);
	return r;
}

/* ---- e-mails and templates ---- */

int store_email_insert(struct store_tx *tx, const struct store_email *e)
{
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO emails (id, tenant_id, from_addr, rcpt, subject, "
		     "request, status, status_callback, message_id_header, created_us, "
		     "updated_us) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
		     "ssssssssii", e->id, e->tenant_id, e->from, e->rcpt, e->subject, e->request,
		     e->status_callback, e->message_id_header, store_now(), store_now()));
}

int store_email_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	if (!tenant_id)
		return stx_query_one(tx, ret, "SELECT " EMAIL_COLS " FROM emails WHERE id = ?", "s",
				     id);
	return stx_query_one(tx, ret,
			     "SELECT " EMAIL_COLS " FROM emails WHERE id = ? AND tenant_id = ?",
			     "ss", id, tenant_id);
}

int store_email_list(struct store_tx *tx, const char *tenant_id, const char *status,
		     const char *cursor, int limit, json_t **ret)
{
	struct store_val v[2] = {{SV_TEXT, tenant_id, 0}, {SV_TEXT, status, 0}};
	return store_list_page(tx, ret,
			       status ? "SELECT " EMAIL_COLS
					" FROM emails WHERE tenant_id = ? AND status = ?"
				      : "SELECT " EMAIL_COLS " FROM emails WHERE tenant_id = ?",
			       status ? 2 : 1, v, cursor, limit);
}

int store_email_result(struct store_tx *tx, const char *id, const char *status,
		       const char *provider_id, int smtp_code, const char *error)
{
	return stx_exec(
	    tx,
	    "UPDATE emails SET status = ?, provider_id = ?, smtp_code = ?, error_message "
	    "= ?, attempts = attempts + 1, updated_us = ?, sent_us = CASE WHEN ? = 'sent' "
	    "THEN ? ELSE sent_us END WHERE id = ?",
	    "ssisisis", status, provider_id, (int64_t)smtp_code, error, store_now(), status,
	    store_now(), id);
}

int store_template_insert(struct store_tx *tx, const struct store_template *t)
{
	return insert_done(
	    stx_exec(tx,
		     "INSERT INTO email_templates (id, tenant_id, name, subject, "
		     "text_body, html_body, created_us, updated_us) VALUES (?, ?, ?, ?, "
		     "?, ?, ?, ?)",
		     "ssssssii", t->id, t->tenant_id, t->name, t->subject, t->text, t->html,
		     store_now(), store_now()));
}

int store_template_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	return stx_query_one(
	    tx, ret, "SELECT " TPL_COLS " FROM email_templates WHERE id = ? AND tenant_id = ?",
	    "ss", id, tenant_id);
}

int store_template_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
			json_t **ret)
{
	struct store_val p = {SV_TEXT, tenant_id, 0};
	return store_list_page(tx, ret,
			       "SELECT " TPL_COLS " FROM email_templates WHERE tenant_id = ?", 1,
			       &p, cursor, limit);
}

int store_template_update(struct store_tx *tx, const char *tenant_id, const char *id,
			  const struct store_template *t)
{
	int r = 0;
	const struct {
		const char *sql, *val;
	} f[] = {
	    {"UPDATE email_templates SET name = ? WHERE id = ? AND tenant_id = ?", t->name},
	    {"UPDATE email_templates SET subject = ? WHERE id = ? AND tenant_id = ?", t->subject},
	    {"UPDATE email_templates SET text_body = ? WHERE id = ? AND tenant_id = ?", t->text},
	    {"UPDATE email_templates SET html_body = ? WHERE id = ? AND tenant_id = ?", t->html}};
	for (size_t i = 0; i < 4 && r >= 0; i++)
		if (f[i].val)
			r = stx_exec(tx, f[i].sql, "sss", f[i].val, id, tenant_id);
	if (r < 0)
		return r;
	return store_changed(
	    stx_exec(tx,
		     "UPDATE email_templates SET updated_us = ? WHERE id = ? AND tenant_id "
		     "= ?",
		     "iss", store_now(), id, tenant_id));
}

int store_template_delete(struct store_tx *tx, const char *tenant_id, const char *id)
{
	return store_changed(stx_exec(
	    tx, "DELETE FROM email_templates WHERE id = ? AND tenant_id = ?", "ss", id, tenant_id));
}

/* ---- the auth outbox, sent by the e-mail worker ---- */

int store_outbox_due(struct store_tx *tx, uint64_t now_us, int limit, json_t **ret)
{
	return stx_query(
	    tx, ret,
	    "SELECT id, tenant_id, to_addr, kind, subject, body, attempts FROM "
	    "email_outbox WHERE status = 'queued' AND next_us <= ? ORDER BY id LIMIT ?",
	    "ii", (int64_t)now_us, (int64_t)limit);
}

int store_outbox_result(struct store_tx *tx, const char *id, const char *status, const char *error,
			uint64_t next_us)
{
	if (!strcmp(status, "sent"))
		return stx_exec(tx,
				"UPDATE email_outbox SET status = 'sent', body = '(sent; purged)', "
				"attempts = attempts + 1, last_error = NULL WHERE id = ?",
				"s", id);
	return stx_exec(
	    tx,
	    "UPDATE email_outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
	    "next_us = ? WHERE id = ?",
	    "ssis", status, error, (int64_t)next_us, id);
}
