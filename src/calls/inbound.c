/* inbound.c: an INVITE to one of the platform's numbers. The Request-URI user is looked up
   (unknown numbers get 404), the tenant's dialplan may pick an application, else the
   number's application or voice_url; the call row is written and the first document
   fetched on a worker, then the call runs (interp.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "webhooks/webhooks.h"

/* ---- inbound calls ---- */

struct inbound_req {
	uint64_t lid;
	char from[130], to[130];
};

struct inbound_q {
	const char *number;
	json_t *num, *rule, *token;
	struct store_call *call;
	const char *candidate;
};

static int num_fn(struct store_tx *tx, void *arg)
{
	struct inbound_q *q = arg;
	return store_number_by_e164(tx, q->number, &q->num);
}

static int tenant_fn(struct store_tx *tx, void *arg)
{
	struct inbound_q *q = arg;
	const char *t = store_tx_tenant(tx);
	int r = store_dialplan_match(tx, t, q->number, q->call->from, time_now_us(), &q->rule);
	if (r < 0 && r != -ENOENT)
		return r;
	r = store_tenant_auth_token(tx, t, q->candidate, false, &q->token);
	if (r < 0)
		return r;
	return store_call_insert(tx, q->call);
}

static void inbound_work(struct calls *c, void *arg)
{
	struct inbound_req *in = arg;
	struct task *t = mem_zalloc(sizeof(*t));
	t->kind = T_INBOUND;
	t->lid = in->lid;
	struct inbound_q q = {.number = in->to};
	int r = store_tx(c->st, NULL, STORE_READ, num_fn, &q);
	const char *tenant = q.num ? json_str(q.num, "tenant_id") : NULL;
	if (r < 0 || !tenant) {
		t->err = -ENOENT;
		calls_post(c, t);
		json_decref(q.num);
		mem_free(in);
		return;
	}
	char id[ID_LEN + 1], tok[33];
	id_new("CA", id);
	webhooks_auth_token_new(tok);
	q.candidate = tok;
	struct store_call sc = {.id = id,
				.tenant_id = tenant,
				.direction = "inbound",
				.from = in->from,
				.to = in->to,
				.status = CALL_RINGING,
				.url = json_str(q.num, "voice_url"),
				.method = json_str(q.num, "voice_method"),
				.fallback_url = json_str(q.num, "voice_fallback_url"),
				.fallback_method = json_str(q.num, "voice_fallback_method"),
				.status_callback = json_str(q.num, "voice_status_callback"),
				.engine_run = c->run};
	q.call = &sc;
	const char *app = q.num ? json_str(q.num, "voice_application_id") : NULL;
	r = store_tx(c->st, tenant, STORE_WRITE, tenant_fn, &q);
	if (q.rule)
		app = json_str(q.rule, "application_id");
	char url[128];
	if (app) {
		snprintf(url, sizeof(url), "irisx:applications/%s", app);
		sc.url = url;
		sc.method = "POST";
	}
	t->row = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s?}", "id", id, "tenant", tenant,
			   "auth_token", json_str(q.token, "auth_token"), "status_callback",
			   sc.status_callback, "fallback_url", sc.fallback_url, "fallback_method",
			   sc.fallback_method, "url", sc.url);
	if (r < 0) {
		t->err = r;
	} else if (!sc.url) {
		t->error = mem_strdup("the number has no voice_url or application");
	} else {
		struct ccall tmp = {0};
		memcpy(tmp.id, id, sizeof(tmp.id));
		memcpy(tmp.tenant, tenant, strlen(tenant) + 1);
		snprintf(tmp.from, sizeof(tmp.from), "%s", in->from);
		snprintf(tmp.to, sizeof(tmp.to), "%s", in->to);
		snprintf(tmp.status, sizeof(tmp.status), CALL_RINGING);
		snprintf(tmp.direction, sizeof(tmp.direction), "inbound");
		struct fetch_req f = {.url = (char *)sc.url,
				      .method = (char *)(sc.method ? sc.method : "POST"),
				      .auth_token = (char *)json_str(q.token, "auth_token"),
				      .params = interp_params(&tmp)};
		memcpy(f.tenant, tenant, strlen(tenant) + 1);
		t->url = mem_strdup(sc.url);
		t->doc = interp_fetch_doc(c, &f, &t->error);
		json_decref(f.params);
	}
	calls_post(c, t);
	json_decref(q.num);
	json_decref(q.rule);
	json_decref(q.token);
	mem_free(in);
}

void interp_on_incoming(struct calls *c, const struct voice_event *ev)
{
	struct ccall *k = ccall_new(c);
	ccall_set_eid(c, k, ev->call);
	snprintf(k->direction, sizeof(k->direction), "inbound");
	snprintf(k->status, sizeof(k->status), CALL_RINGING);
	rec_e164(ev->from, k->from, sizeof(k->from));
	char to[130];
	rec_e164(ev->ruser[0] ? ev->ruser : ev->to, to, sizeof(to));
	snprintf(k->to, sizeof(k->to), "%s", to);
	k->ring_us = k->created_us;
	struct inbound_req *in = mem_zalloc(sizeof(*in));
	in->lid = k->lid;
	memcpy(in->from, k->from, sizeof(in->from));
	memcpy(in->to, k->to, sizeof(in->to));
	k->wait = W_FETCH;
	calls_work(c, inbound_work, in);
}

void interp_on_inbound(struct calls *c, struct task *t)
{
	struct ccall *k = ccall_by_lid(c, t->lid);
	if (k->ended) { /* the caller left while we looked the number up */
		if (t->row && !t->err) {
			snprintf(k->id, sizeof(k->id), "%s", json_str(t->row, "id"));
			snprintf(k->tenant, sizeof(k->tenant), "%s", json_str(t->row, "tenant"));
			rec_finish(c, k, NULL, "caller hung up before the answer");
		}
		ccall_free(c, k);
		return;
	}
	if (t->err == -ENOENT || !t->row) {
		voice_call_reject(c->engine, k->eid, 404);
		k->wait = W_ENDED;
		return;
	}
	snprintf(k->id, sizeof(k->id), "%s", json_str(t->row, "id"));
	snprintf(k->tenant, sizeof(k->tenant), "%s", json_str(t->row, "tenant"));
	k->auth_token = xstrdup(json_str(t->row, "auth_token"));
	k->status_callback = xstrdup(json_str(t->row, "status_callback"));
	k->fallback_url = xstrdup(json_str(t->row, "fallback_url"));
	k->fallback_method = xstrdup(json_str(t->row, "fallback_method"));
	k->sc_events = CDOC_EV_INITIATED | CDOC_EV_RINGING | CDOC_EV_ANSWERED | CDOC_EV_COMPLETED;
	if (t->err < 0) {
		voice_call_reject(c->engine, k->eid, 503);
		k->wait = W_ENDED;
		return;
	}
	mem_free(k->doc_url);
	k->doc_url = xstrdup(t->url);
	if (!t->doc) {
		interp_doc_failed(c, k, t->url, t->error ? t->error : "no document");
		return;
	}
	struct cdoc *d = t->doc;
	t->doc = NULL;
	interp_run(c, k, d, t->url);
}
