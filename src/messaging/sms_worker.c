/* sms_worker.c: outbound SMS through least-cost routing with failover (HTTP providers
   synchronously on the pool threads, SMPP binds asynchronously), receipts matched to the
   submitted segments (also when they arrive before the submit response), and inbound
   messages with STOP/START and HELP (an automatic answer), events and the number's sms_url. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "webhooks/webhooks.h"

#define ROUTES_MAX 16

struct route {
	char id[ID_LEN + 1];
	int64_t cost; /* -1: no rate for the destination */
	int priority, weight;
};

struct seg_ref {
	struct sms_ctx *ctx;
	int seq;
};

/* One outbound message being routed; owned by the pool until its job is settled. */
struct sms_ctx {
	struct messaging *m;
	struct bus_msg *msg;
	json_t *row; /* the message */
	struct route routes[ROUTES_MAX];
	int nroutes, next;
	json_t *attempts; /* [{provider_id, result, error}] */
	/* SMPP submission in flight */
	struct prov *prov;
	int nseg, pending, ok;
	uint32_t first_error;
	char (*pmids)[97];
	struct seg_ref *refs;
	struct sms_segment *segs;
};

static const char *row_s(const json_t *row, const char *k)
{
	return json_str(row, k);
}

/* ---- events and status callbacks ---- */

struct notify {
	struct messaging *m;
	store_tx_fn *pre; /* run first in the same transaction (may be NULL) */
	void *pre_arg;
	const char *id, *status, *error_code, *error_message;
	const char *const *from;
	struct store_msg_update u;
	int moved;
};

/* In tx: message id to status (if it is in one of from), then message.<status> to the
   tenant's webhooks and a callback to its status_callback. */
static int notify_fn(struct store_tx *tx, void *arg)
{
	struct notify *n = arg;
	json_t *row;
	int r = n->pre ? n->pre(tx, n->pre_arg) : 0;
	if (r < 0)
		return r;
	r = store_message_status(tx, n->id, n->status, n->from, &n->u);
	if (r <= 0)
		return r; /* 0: already elsewhere (canceled, or a later state) */
	n->moved = 1;
	if ((r = store_message_get(tx, NULL, n->id, &row)) < 0)
		return r;
	const char *tenant = row_s(row, "tenant_id");
	char type[48];
	snprintf(type, sizeof(type), "message.%s", n->status);
	json_t *price = json_object_get(row, "price_micros");
	json_t *data =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:s}", "message_sid", n->id, "account_sid",
		      tenant, "from", row_s(row, "from_addr"), "to", row_s(row, "to_addr"),
		      "direction", row_s(row, "direction"), "status", n->status, "segments",
		      (json_int_t)json_int(row, "segments", 1), "price",
		      json_is_integer(price) ? json_real((double)json_integer_value(price) / 1e6)
					     : json_null(),
		      "price_unit", "USD");
	if (n->error_code)
		json_object_set_new(data, "error_code", json_string(n->error_code));
	if (n->error_message)
		json_object_set_new(data, "error_message", json_string(n->error_message));
	if (row_s(row, "provider_id"))
		json_object_set_new(data, "provider_id", json_string(row_s(row, "provider_id")));
	if (webhooks_event_known(type))
		r = webhooks_emit_tx(n->m->bus, tx, tenant, type, data, NULL, NULL);
	json_decref(data);
	const char *cb = row_s(row, "status_callback");
	if (r >= 0 && cb) {
		json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "MessageSid", n->id,
				      "SmsSid", n->id, "AccountSid", tenant, "From",
				      row_s(row, "from_addr"), "To", row_s(row, "to_addr"),
				      "MessageStatus", n->status, "SmsStatus", n->status);
		if (n->error_code)
			json_object_set_new(p, "ErrorCode", json_string(n->error_code));
		r = webhooks_callback_tx(n->m->bus, tx, tenant, cb, "POST", p);
		json_decref(p);
	}
	json_decref(row);
	return r < 0 ? r : 0;
}

static int notify(struct messaging *m, struct notify *n)
{
	n->m = m;
	int r = store_tx(m->st, NULL, STORE_WRITE, notify_fn, n);
	if (r >= 0)
		bus_kick(m->bus);
	return r;
}

/* ---- routing ---- */

static int cmp_route(const void *a, const void *b)
{
	const struct route *x = a, *y = b;
	if ((x->cost < 0) != (y->cost < 0))
		return x->cost < 0 ? 1 : -1; /* priced routes first */
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return y->weight - x->weight;
}

struct rload {
	const char *tenant, *to;
	json_t *rows;
};

static int routes_fn(struct store_tx *tx, void *arg)
{
	struct rload *l = arg;
	return store_routes(tx, l->tenant, "sms", l->to, &l->rows);
}

static int load_routes(struct sms_ctx *c)
{
	struct rload l = {row_s(c->row, "tenant_id"), row_s(c->row, "to_addr"), NULL};
	int r = store_tx(c->m->st, NULL, STORE_READ, routes_fn, &l);
	if (r < 0)
		return r;
	size_t i;
	json_t *row;
	json_array_foreach (l.rows, i, row) {
		if (c->nroutes >= ROUTES_MAX)
			break;
		struct route *rt = &c->routes[c->nroutes++];
		snprintf(rt->id, sizeof(rt->id), "%s", row_s(row, "id"));
		json_t *cost = json_object_get(row, "cost_micros");
		rt->cost = json_is_integer(cost) ? json_integer_value(cost) : -1;
		rt->priority = (int)json_int(row, "priority", 10);
		rt->weight = (int)json_int(row, "weight", 100);
	}
	json_decref(l.rows);
	qsort(c->routes, (size_t)c->nroutes, sizeof(c->routes[0]), cmp_route);
	return 0;
}

static void attempt(struct sms_ctx *c, const char *provider, const char *result, const char *error)
{
	json_t *a = json_pack("{s:s,s:s}", "provider_id", provider, "result", result);
	if (error)
		json_object_set_new(a, "error", json_string(error));
	char ts[TIME_RFC3339_LEN];
	json_object_set_new(a, "at", json_string(time_fmt(time_now_us(), ts)));
	json_array_append_new(c->attempts, a);
}

static void ctx_free(struct sms_ctx *c)
{
	json_decref(c->row);
	json_decref(c->attempts);
	mem_free(c->pmids);
	mem_free(c->refs);
	mem_free(c->segs);
	mem_free(c);
}

/* The message reached a final outcome of this job: record it and settle. */
static void finish_with(struct sms_ctx *c, const char *status, const char *code, const char *why,
			const char *provider, store_tx_fn *pre, void *pre_arg)
{
	static const char *const open_states[] = {"queued", "sending", NULL};
	char *att = json_dumps(c->attempts, JSON_COMPACT);
	/* the price of the route that took it (the quote at acceptance was the cheapest's) */
	int64_t price = -1;
	for (int i = 0; provider && i < c->nroutes; i++)
		if (!strcmp(c->routes[i].id, provider) && c->routes[i].cost >= 0)
			price = c->routes[i].cost * json_int(c->row, "segments", 1);
	struct notify n = {.id = row_s(c->row, "id"),
			   .status = status,
			   .error_code = code,
			   .error_message = why,
			   .from = open_states,
			   .pre = pre,
			   .pre_arg = pre_arg,
			   .u = {.provider_id = provider,
				 .attempts = att,
				 .error_code = code,
				 .error_message = why,
				 .price_micros = price,
				 .sent = !strcmp(status, "sent"),
				 .done = strcmp(status, "sent") != 0}};
	int r = notify(c->m, &n);
	free(att);
	if (r < 0)
		bus_nak(c->msg, -1, "store unavailable");
	else
		bus_ack(c->msg);
	ctx_free(c);
}

static void finish(struct sms_ctx *c, const char *status, const char *code, const char *why,
		   const char *provider)
{
	finish_with(c, status, code, why, provider, NULL, NULL);
}

/* Parts of an accepted SMPP submission, and receipts that came before them. */
struct parts {
	struct sms_ctx *c;
	json_t *early[SMS_SEGMENTS_MAX];
};

static int parts_fn(struct store_tx *tx, void *arg)
{
	struct parts *p = arg;
	struct sms_ctx *c = p->c;
	for (int i = 0; i < c->nseg; i++) {
		int r = store_part_insert(tx, c->prov->id, c->pmids[i], row_s(c->row, "tenant_id"),
					  row_s(c->row, "id"), i + 1);
		if (r < 0)
			return r;
		r = store_early_receipt_take(tx, c->prov->id, c->pmids[i], &p->early[i]);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

static void route_next(struct sms_ctx *c);

static void submit_smpp(struct sms_ctx *c, struct prov *p)
{
	const char *body = row_s(c->row, "body");
	struct sms_plan plan;
	size_t n = 0;
	uint8_t ref;
	rand_bytes(&ref, 1);
	mem_free(c->segs);
	c->segs = NULL;
	if (sms_plan(body, strlen(body), &plan) < 0 ||
	    sms_split(body, strlen(body), &plan, ref, &c->segs, &n) < 0 || n == 0) {
		attempt(c, p->id, "failed", "cannot encode the body");
		return finish(c, "failed", "encoding", "the body could not be encoded", NULL);
	}
	c->prov = p;
	c->nseg = (int)n;
	c->pending = (int)n;
	c->ok = 0;
	c->first_error = 0;
	mem_free(c->pmids);
	mem_free(c->refs);
	c->pmids = mem_zalloc(n * sizeof(*c->pmids));
	c->refs = mem_zalloc(n * sizeof(*c->refs));
	const char *from = row_s(c->row, "from_addr"), *to = row_s(c->row, "to_addr");
	bool alnum = from[0] != '+';
	struct smpp_client *bind = p->binds[atomic_fetch_add(&p->rr, 1) % (unsigned)p->nbinds];
	for (size_t i = 0; i < n; i++) {
		c->refs[i] = (struct seg_ref){c, (int)i};
		struct smpp_submit s = {
		    .source_addr = alnum ? from : from + 1,
		    .destination_addr = to + 1,
		    .source_addr_ton = alnum ? 5 : 1,
		    .source_addr_npi = alnum ? 0 : 1,
		    .dest_addr_ton = 1,
		    .dest_addr_npi = 1,
		    .esm_class = c->segs[i].udhi ? 0x40 : 0,
		    .data_coding = (uint8_t)plan.coding,
		    .registered_delivery = 1,
		    .short_message = c->segs[i].data,
		    .sm_length = c->segs[i].len,
		    .arg = &c->refs[i],
		};
		if (smpp_submit(bind, &s) < 0) {
			/* queue full before anything was handed over: the next route */
			if (i == 0) {
				attempt(c, p->id, "failed", "bind queue full");
				return route_next(c);
			}
			uint32_t none = 0; /* responses of the sent segments may race with this */
			__atomic_compare_exchange_n(&c->first_error, &none, SMPP_ESME_RMSGQFUL,
						    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			/* the rest never went out; the thread that takes pending to 0 finishes */
			if (__atomic_sub_fetch(&c->pending, (int)(n - i), __ATOMIC_SEQ_CST) == 0) {
				attempt(c, p->id, "failed", "bind queue full mid-message");
				return finish(c, "failed", "partial",
					      "only part of the message was sent", NULL);
			}
			return;
		}
	}
}

void sms_submitted(struct messaging *m, struct work *w)
{
	struct seg_ref *ref = w->ref;
	struct sms_ctx *c = ref->ctx;
	(void)m;
	/* the segments' responses are handled by several pool threads at once: the counters
	   are atomic, and the thread that takes pending to 0 finishes the message */
	if (w->status == SMPP_ESME_ROK) {
		/* an SMSC may answer with an empty message_id (Kannel's drive_smpp does): such a
		   part gets an id of ours, so it keeps its own row ("" would be taken once per
		   provider); no receipt can name it */
		if (w->pmid[0])
			snprintf(c->pmids[ref->seq], sizeof(c->pmids[0]), "%s", w->pmid);
		else
			snprintf(c->pmids[ref->seq], sizeof(c->pmids[0]), "~%s.%d",
				 row_s(c->row, "id"), ref->seq + 1);
		__atomic_add_fetch(&c->ok, 1, __ATOMIC_SEQ_CST);
	} else {
		uint32_t none = 0;
		__atomic_compare_exchange_n(&c->first_error, &none, (uint32_t)w->status, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	if (__atomic_sub_fetch(&c->pending, 1, __ATOMIC_SEQ_CST) > 0)
		return;
	char err[32];
	snprintf(err, sizeof(err), "command_status 0x%08x", c->first_error);
	if (c->ok == c->nseg) {
		struct parts p = {.c = c};
		attempt(c, c->prov->id, "sent", NULL);
		prov_result(c->prov, true);
		char pid[ID_LEN + 1];
		snprintf(pid, sizeof(pid), "%s", c->prov->id);
		char pm[SMS_SEGMENTS_MAX][97];
		int nseg = c->nseg;
		for (int i = 0; i < nseg; i++)
			memcpy(pm[i], c->pmids[i], sizeof(pm[i]));
		/* the parts (receipts name them) and the status change commit together */
		finish_with(c, "sent", NULL, NULL, pid, parts_fn, &p);
		/* receipts that raced ahead of the submit responses, applied now */
		for (int i = 0; i < nseg; i++)
			if (p.early[i]) {
				sms_receipt(m, pid, pm[i], json_str(p.early[i], "stat"),
					    json_str(p.early[i], "err"));
				json_decref(p.early[i]);
			}
		return;
	}
	prov_result(c->prov, false);
	if (c->ok == 0 && c->first_error != SMPP_ESME_RSYSERR) {
		attempt(c, c->prov->id, "failed", err);
		return route_next(c); /* nothing went out: another provider may take it */
	}
	attempt(c, c->prov->id, c->ok ? "partial" : "failed", err);
	if (c->ok == 0) /* shutdown: the job comes back */
		return (void)(bus_release(c->msg), ctx_free(c));
	finish(c, "failed", "partial", "only part of the message was accepted", NULL);
}

static void send_http(struct sms_ctx *c, struct prov *p)
{
	json_t *cfg = p->config;
	struct sms_http_provider hp = {
	    .kind = !strcmp(p->kind, "telnyx") ? SMS_HTTP_TELNYX : SMS_HTTP_TWILIO,
	    .base_url = json_str(cfg, "base_url"),
	    .account = json_str(cfg, "account"),
	    .token = json_str(cfg, "token"),
	    .timeout_ms = (int)json_int(cfg, "timeout_ms", 10000),
	    .allow_private = c->m->cfg->outbound_allow_private,
	};
	struct sms_http_result res = {0};
	int r = sms_http_send(&hp, row_s(c->row, "from_addr"), row_s(c->row, "to_addr"),
			      row_s(c->row, "body"), &res);
	if (r == 0) {
		prov_result(p, true);
		attempt(c, p->id, "sent", NULL);
		struct sms_ctx *cc = c;
		/* one part: the provider splits; its id is what its receipts name */
		c->prov = p;
		c->nseg = 1;
		c->pmids = mem_zalloc(sizeof(*c->pmids));
		snprintf(c->pmids[0], sizeof(c->pmids[0]), "%s", res.provider_id);
		struct parts pp = {.c = cc};
		char pid[ID_LEN + 1], pm[96];
		snprintf(pid, sizeof(pid), "%s", p->id);
		snprintf(pm, sizeof(pm), "%s", res.provider_id);
		struct messaging *m = c->m;
		finish_with(c, "sent", NULL, NULL, pid, parts_fn, &pp);
		json_t *early = pp.early[0];
		if (early) {
			sms_receipt(m, pid, pm, json_str(early, "stat"), json_str(early, "err"));
			json_decref(early);
		}
		return;
	}
	prov_result(p, !res.retryable);
	attempt(c, p->id, "failed", res.error[0] ? res.error : "send failed");
	if (res.retryable)
		return route_next(c);
	finish(c, "failed", "provider_rejected", res.error[0] ? res.error : "rejected", NULL);
}

static void route_next(struct sms_ctx *c)
{
	uint64_t now = time_now_us();
	while (c->next < c->nroutes) {
		struct prov *p = prov_get(c->m, c->routes[c->next++].id);
		if (!p || !prov_available(p, now)) {
			if (p)
				attempt(c, p->id, "skipped",
					"unavailable (circuit open or not bound)");
			continue;
		}
		if (!strcmp(p->kind, "smpp"))
			return submit_smpp(c, p);
		if (!strcmp(p->kind, "twilio") || !strcmp(p->kind, "telnyx"))
			return send_http(c, p);
	}
	/* no provider took it this time */
	if (c->nroutes == 0)
		return finish(c, "failed", "no_route",
			      "no messaging provider serves this destination", NULL);
	if (c->msg->attempt >= c->msg->max_attempts)
		return finish(c, "failed", "providers_unavailable",
			      "every provider failed or was unavailable", NULL);
	/* keep the history, try again later */
	char *att = json_dumps(c->attempts, JSON_COMPACT);
	struct notify n = {.id = row_s(c->row, "id"),
			   .status = "sending",
			   .u = {.attempts = att, .price_micros = -1}};
	notify(c->m, &n);
	free(att);
	bus_nak(c->msg, -1, "every provider failed or was unavailable");
	ctx_free(c);
}

struct mload {
	const char *id;
	json_t *row;
};

static int mload_fn(struct store_tx *tx, void *arg)
{
	struct mload *l = arg;
	return store_message_get(tx, NULL, l->id, &l->row);
}

void sms_work(struct messaging *m, struct bus_msg *msg)
{
	json_t *pl = json_loadb(msg->payload, msg->payload_len, 0, NULL);
	struct mload l = {.id = json_str(pl, "message_id")};
	int r = l.id ? store_tx(m->st, NULL, STORE_READ, mload_fn, &l) : -ENOENT;
	json_decref(pl);
	if (r == -ENOENT)
		return bus_term(msg, "message not found");
	if (r < 0)
		return bus_nak(msg, -1, "store unavailable");
	const char *st = row_s(l.row, "status");
	if (strcmp(st, "queued") && strcmp(st, "sending")) {
		json_decref(l.row);
		return bus_ack(msg); /* canceled, or already sent by an earlier attempt */
	}
	struct sms_ctx *c = mem_zalloc(sizeof(*c));
	c->m = m;
	c->msg = msg;
	c->row = l.row;
	c->attempts = json_loads(row_s(l.row, "attempts") ?: "[]", 0, NULL);
	if (!c->attempts)
		c->attempts = json_array();
	int64_t validity = json_int(l.row, "validity_s", 0);
	uint64_t created = (uint64_t)json_int(l.row, "created_us", 0);
	if (validity > 0 && time_now_us() > created + (uint64_t)validity * 1000000ull)
		return finish(c, "failed", "expired", "the validity period ran out before sending",
			      NULL);
	if (load_routes(c) < 0) {
		ctx_free(c);
		return bus_nak(msg, -1, "store unavailable");
	}
	route_next(c);
}

/* ---- receipts ---- */

struct rcpt {
	struct messaging *m;
	const char *provider_id, *pmid, *status, *stat, *err;
	bool early;
};

/* One transaction: the segment's receipt, then the message's status when its parts say so. */
static int receipt_fn(struct store_tx *tx, void *arg)
{
	struct rcpt *r = arg;
	json_t *agg;
	int rr = store_part_receipt(tx, r->provider_id, r->pmid, r->status, &agg);
	if (rr == -ENOENT) {
		r->early = true; /* before its submit response: kept until that arrives */
		return store_early_receipt_put(tx, r->provider_id, r->pmid, r->stat, r->err);
	}
	if (rr < 0)
		return rr;
	int64_t parts = json_int(agg, "parts", 0), delivered = json_int(agg, "delivered", 0),
		failed = json_int(agg, "failed", 0), segs = json_int(agg, "segments", 1);
	static const char *const sent_states[] = {"sent", "sending", NULL};
	struct notify n = {.m = r->m,
			   .id = json_str(agg, "message_id"),
			   .from = sent_states,
			   .u = {.price_micros = -1, .done = true}};
	if (failed > 0) {
		n.status = "undelivered";
		n.error_code = r->stat;
		n.error_message = r->err;
		n.u.error_code = r->stat;
		n.u.error_message = r->err;
	} else if (delivered >= parts && delivered >= segs) {
		n.status = "delivered";
	}
	if (n.status && n.id)
		rr = notify_fn(tx, &n);
	json_decref(agg);
	return rr;
}

int sms_receipt(struct messaging *m, const char *provider_id, const char *pmid, const char *stat,
		const char *err)
{
	if (!stat)
		return -EINVAL;
	const char *status = !strcmp(stat, "DELIVRD")				    ? "delivered"
			     : !strcmp(stat, "ACCEPTD") || !strcmp(stat, "ENROUTE") ? NULL
										    : "undelivered";
	if (!status)
		return 0; /* intermediate */
	struct rcpt r = {m, provider_id, pmid, status, stat, err, false};
	int rr = store_tx(m->st, NULL, STORE_WRITE, receipt_fn, &r);
	if (rr >= 0 && !r.early)
		bus_kick(m->bus);
	return rr;
}

/* ---- inbound ---- */

struct inbound {
	struct messaging *m;
	const char *provider_id, *from, *to, *text;
	char id[ID_LEN + 1];
};

static bool keyword(const char *text, const char *const *words)
{
	char w[16];
	size_t n = 0;
	while (*text == ' ')
		text++;
	for (; text[n] && text[n] != ' ' && n + 1 < sizeof(w); n++)
		w[n] = (char)((text[n] >= 'a' && text[n] <= 'z') ? text[n] - 32 : text[n]);
	w[n] = '\0';
	for (const char *p = text + n; *p; p++)
		if (*p != ' ' && *p != '\r' && *p != '\n' && *p != '.' && *p != '!')
			return false; /* the keyword alone, as carriers do */
	for (; *words; words++)
		if (!strcmp(w, *words))
			return true;
	return false;
}

static int inbound_fn(struct store_tx *tx, void *arg)
{
	struct inbound *in = arg;
	json_t *num;
	int r = store_number_by_e164(tx, in->to, &num);
	if (r < 0)
		return r; /* not one of ours: dropped (-ENOENT) */
	const char *tenant = json_str(num, "tenant_id");
	if (!tenant) {
		json_decref(num);
		return -ENOENT;
	}
	static const char *const stop[] = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL",
					   "END",  "QUIT",    "STOPP",	     NULL};
	static const char *const start[] = {"START", "YES", "UNSTOP", NULL};
	static const char *const help[] = {"HELP", "INFO", NULL};
	bool want_help = keyword(in->text, help);
	if (keyword(in->text, stop))
		r = store_optout_set(tx, tenant, in->to, in->from, true);
	else if (keyword(in->text, start))
		r = store_optout_set(tx, tenant, in->to, in->from, false);
	struct sms_plan plan = {.segments = 1};
	sms_plan(in->text, strlen(in->text), &plan);
	id_new("SM", in->id);
	struct store_message msg = {.id = in->id,
				    .tenant_id = tenant,
				    .direction = "inbound",
				    .from = in->from,
				    .to = in->to,
				    .body = in->text,
				    .status = "received",
				    .encoding = plan.coding == SMS_UCS2 ? "UCS-2" : "GSM-7",
				    .segments = plan.segments,
				    .price_micros = -1,
				    .provider_id = in->provider_id};
	if (r >= 0)
		r = store_message_insert(tx, &msg);
	json_t *data =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "message_sid", in->id, "account_sid",
		      tenant, "from", in->from, "to", in->to, "direction", "inbound", "status",
		      "received", "body", in->text, "segments", plan.segments);
	if (r >= 0)
		r = webhooks_emit_tx(in->m->bus, tx, tenant, "message.received", data, NULL, NULL);
	json_decref(data);
	const char *help_text = in->m->cfg->messaging_help_text;
	if (r >= 0 && want_help && help_text && *help_text) {
		/* HELP / INFO: the automatic answer, sent like any message of the number (a
		   refusal, such as no route, leaves the inbound message stored and answered by
		   sms_url) */
		struct sms_request rq = {
		    .tenant_id = tenant, .from = in->to, .to = in->from, .body = help_text};
		struct sms_accepted acc = {0};
		struct messaging_refusal why;
		int hr = messaging_sms_submit_tx(in->m->bus, tx, &rq, &acc, &why);
		if (hr < 0 && hr != -EINVAL)
			r = hr;
	}
	if (r >= 0 && json_str(num, "sms_url")) {
		/* the sms_url request and its replies: a job, so a crash loses neither */
		char payload[64];
		snprintf(payload, sizeof(payload), "{\"message_id\":\"%s\"}", in->id);
		struct bus_pub p = {.subject = REPLY_SUBJECT,
				    .tenant_id = tenant,
				    .payload = payload,
				    .dedupe_key = in->id,
				    .max_attempts = 4};
		r = bus_publish_tx(in->m->bus, tx, &p, NULL);
	}
	json_decref(num);
	return r < 0 ? r : 0;
}

int sms_inbound(struct messaging *m, const char *provider_id, const char *from, const char *to,
		const char *text)
{
	struct inbound in = {
	    .m = m, .provider_id = provider_id, .from = from, .to = to, .text = text};
	int r = store_tx(m->st, NULL, STORE_WRITE, inbound_fn, &in);
	if (r >= 0)
		bus_kick(m->bus);
	return r;
}

static void e164(const char *addr, uint8_t ton, char out[24])
{
	(void)ton;
	snprintf(out, 24, "%s%s", addr[0] == '+' ? "" : "+", addr);
}

uint32_t sms_on_deliver(struct prov *p, const struct smpp_deliver *d)
{
	struct messaging *m = p->m;
	const struct smpp_pdu *pdu = d->pdu;
	if (d->is_receipt) {
		const char *pmid =
		    pdu->receipted_message_id[0] ? pdu->receipted_message_id : d->receipt.id;
		if (!pmid[0])
			return SMPP_ESME_ROK; /* nothing to match: acknowledged and dropped */
		/* applied on the pool, not on the bind's thread (which would stall submits for a
		   write per receipt); a crash in between leaves that message "sent", the state
		   Twilio also leaves a message in when no receipt comes */
		struct work *w = mem_zalloc(sizeof(*w));
		w->kind = W_RECEIPT;
		snprintf(w->provider_id, sizeof(w->provider_id), "%s", p->id);
		snprintf(w->pmid, sizeof(w->pmid), "%s", pmid);
		snprintf(w->stat, sizeof(w->stat), "%s", d->receipt.stat);
		snprintf(w->err, sizeof(w->err), "%s", d->receipt.err);
		work_push(m, w);
		return SMPP_ESME_ROK;
	}
	struct sms_part part = {0};
	bool udhi = (pdu->esm_class & 0x40) != 0;
	if (sms_decode(pdu->data_coding, udhi, pdu->short_message, pdu->sm_length, &part) < 0) {
		log_event(LOG_WARN, "inbound SMS undecodable, dropped",
			  json_pack("{s:s,s:i,s:i}", "provider_id", p->id, "data_coding",
				    pdu->data_coding, "length", pdu->sm_length));
		return SMPP_ESME_ROK; /* acknowledged, nothing to store */
	}
	char from[24], to[24];
	e164(pdu->source_addr, pdu->source_addr_ton, from);
	e164(pdu->destination_addr, pdu->dest_addr_ton, to);
	char *text = NULL;
	int r = 1;
	if (part.concatenated) {
		pthread_mutex_lock(&m->rlock);
		r = sms_reasm_add(m->reasm, from, to, &part, time_now_us(), &text);
		pthread_mutex_unlock(&m->rlock);
	} else {
		text = part.text;
		part.text = NULL;
	}
	sms_part_free(&part);
	if (r != 1)
		return r < 0 ? SMPP_ESME_RMSGQFUL : SMPP_ESME_ROK; /* waiting for more parts */
	r = sms_inbound(m, p->id, from, to, text);
	if (r < 0)
		log_event(r == -ENOENT ? LOG_INFO : LOG_ERROR,
			  r == -ENOENT ? "inbound SMS to a number no tenant has, dropped"
				       : "inbound SMS not stored",
			  json_pack("{s:s,s:s,s:s,s:i}", "provider_id", p->id, "from", from, "to",
				    to, "error", r));
	mem_free(text);
	return r < 0 && r != -ENOENT ? SMPP_ESME_RSYSERR : SMPP_ESME_ROK;
}

/* ---- the number's sms_url and its TwiML replies ---- */

struct rload2 {
	const char *id;
	json_t *msg, *num, *tok;
};

static int reply_load_fn(struct store_tx *tx, void *arg)
{
	struct rload2 *l = arg;
	int r = store_message_get(tx, NULL, l->id, &l->msg);
	if (r < 0 || (r = store_number_by_e164(tx, json_str(l->msg, "to_addr"), &l->num)) < 0)
		return r;
	char cand[33];
	webhooks_auth_token_new(cand);
	return store_tenant_auth_token(tx, json_str(l->msg, "tenant_id"), cand, false, &l->tok);
}

struct rsend {
	struct messaging *m;
	json_t *msg, *replies;
	int sent;
};

static int reply_send_fn(struct store_tx *tx, void *arg)
{
	struct rsend *s = arg;
	size_t i;
	json_t *rep;
	json_array_foreach (s->replies, i, rep) {
		struct sms_request req = {
		    .tenant_id = json_str(s->msg, "tenant_id"),
		    .from = json_str(rep, "from") ?: json_str(s->msg, "to_addr"),
		    .to = json_str(rep, "to") ?: json_str(s->msg, "from_addr"),
		    .body = json_str(rep, "body"),
		};
		struct sms_accepted acc = {0};
		struct messaging_refusal why;
		int r = messaging_sms_submit_tx(s->m->bus, tx, &req, &acc, &why);
		if (r == -EINVAL && why.code) {
			log_event(LOG_WARN, "sms_url reply refused",
				  json_pack("{s:s,s:s,s:s}", "message_sid", json_str(s->msg, "id"),
					    "code", why.code, "reason", why.message));
			continue; /* the others still go */
		}
		if (r < 0)
			return r;
		s->sent++;
	}
	return 0;
}

void reply_work(struct messaging *m, struct bus_msg *msg)
{
	json_t *pl = json_loadb(msg->payload, msg->payload_len, 0, NULL);
	struct rload2 l = {.id = json_str(pl, "message_id")};
	int r = l.id ? store_tx(m->st, NULL, STORE_WRITE, reply_load_fn, &l) : -ENOENT;
	json_decref(pl);
	const char *url = r >= 0 ? json_str(l.num, "sms_url") : NULL;
	if (r == -ENOENT || (r >= 0 && !url)) {
		bus_ack(msg); /* the number is gone or has no sms_url any more */
		goto out;
	}
	if (r < 0) {
		bus_nak(msg, -1, "store unavailable");
		goto out;
	}
	const char *tenant = json_str(l.msg, "tenant_id");
	char segs[8];
	snprintf(segs, sizeof(segs), "%d", (int)json_int(l.msg, "segments", 1));
	json_t *params = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "MessageSid", json_str(l.msg, "id"), "SmsSid",
	    json_str(l.msg, "id"), "SmsMessageSid", json_str(l.msg, "id"), "AccountSid", tenant,
	    "From", json_str(l.msg, "from_addr"), "To", json_str(l.msg, "to_addr"), "Body",
	    json_str(l.msg, "body"), "NumSegments", segs, "ApiVersion", "2010-04-01");
	const char *method = json_str(l.num, "sms_method");
	struct webhooks_fetch f = {.url = url,
				   .method = method && !strcmp(method, "GET") ? "GET" : "POST",
				   .auth_token = json_str(l.tok, "auth_token"),
				   .params = params,
				   .allow_private = m->cfg->outbound_allow_private};
	struct webhooks_fetch_result res;
	r = webhooks_fetch(&f, &res);
	json_decref(params);
	if (r < 0 || res.status >= 500 || res.status == 429) {
		bus_nak(msg, -1, res.error ? res.error : "the sms_url answered 5xx");
	} else if (res.status < 200 || res.status >= 300) {
		bus_term(msg, "the sms_url did not answer 2xx");
	} else {
		json_t *replies = NULL;
		if (messaging_twiml_replies(res.body, res.body_len, &replies) < 0) {
			bus_term(msg, "the sms_url answer is not messaging TwiML");
		} else {
			struct rsend s = {m, l.msg, replies, 0};
			if (store_tx(m->st, tenant, STORE_WRITE, reply_send_fn, &s) < 0)
				bus_nak(msg, -1, "store unavailable");
			else
				bus_ack(msg);
			bus_kick(m->bus);
			json_decref(replies);
		}
	}
	mem_free(res.body);
out:
	json_decref(l.msg);
	json_decref(l.num);
	json_decref(l.tok);
}
