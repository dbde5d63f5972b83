/* guard.c: an outbound leg's checks before any INVITE, on the workers: the tenant's
   destination countries and premium ranges, its concurrent-call cap and daily spend cap,
   the carriers ranked for the number (store_carrier_routes + policy_rank), and the
   tenant's calls-per-second slot. Also the bus consumers of call.dial and call.control. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "webhooks/webhooks.h"

/* ---- guardrails and routes (workers) ---- */

struct settings_q {
	const char *tenant, *to;
	json_t *settings, *routes, *call, *token;
	int live;
	int64_t spent;
	const char *call_id;
	bool outbound_api;
};

static int routes_fn(struct store_tx *tx, void *arg)
{
	struct settings_q *q = arg;
	int r = store_voice_settings_get(tx, q->tenant, &q->settings);
	if (r < 0 && r != -ENOENT)
		return r;
	if (q->outbound_api) {
		if ((r = store_calls_live_count(tx, q->tenant, &q->live)) < 0)
			return r;
		time_t now = (time_t)(time_now_us() / 1000000);
		uint64_t midnight = (uint64_t)(now - now % 86400) * 1000000;
		if ((r = store_calls_spend(tx, q->tenant, midnight, &q->spent)) < 0)
			return r;
		if ((r = store_tenant_auth_token(tx, q->tenant, NULL, false, &q->token)) < 0 &&
		    r != -ENOENT)
			return r;
	}
	if (q->to[0] == '+')
		return store_carrier_routes(tx, q->tenant, q->to + 1, &q->routes);
	return 0;
}

static const char *setting_str(const struct calls *c, json_t *s, const char *k, const char *def)
{
	const char *v = json_str(s, k);
	(void)c;
	return v && *v ? v : def;
}

static int64_t setting_int(json_t *s, const char *k, int64_t def)
{
	json_t *v = json_object_get(s, k);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* Guardrails for a leg to q->to; 0 or -EPERM with code and message. */
static int guard(struct calls *c, struct settings_q *q, struct policy_refusal *why)
{
	if (q->to[0] == '+') {
		const char *allowed = setting_str(c, q->settings, "allowed_countries", NULL);
		const char *home =
		    setting_str(c, q->settings, "home_country", c->cfg->voice_home_country);
		if (policy_dest_check(q->to, allowed, home, why) < 0)
			return -EPERM;
	}
	if (!q->outbound_api)
		return 0;
	int64_t max =
	    setting_int(q->settings, "max_concurrent_calls", c->cfg->voice_max_concurrent);
	if (q->live >= max) {
		*why = (struct policy_refusal){"concurrent_call_limit",
					       "the tenant's concurrent-call cap is reached"};
		return -EPERM;
	}
	int64_t cap = setting_int(q->settings, "daily_spend_cap_micros",
				  (int64_t)c->cfg->voice_daily_spend_cap * 1000000);
	if (cap > 0 && q->spent >= cap) {
		*why = (struct policy_refusal){"daily_spend_cap_reached",
					       "the tenant's daily voice spend cap is reached"};
		return -EPERM;
	}
	return 0;
}

static json_t *ranked(struct settings_q *q)
{
	if (!q->routes)
		return NULL;
	return policy_rank(q->routes, NULL, 0, time_now_us());
}

struct fail_w {
	struct bus *bus;
	char *id, *tenant, *code, *message, *status_callback, *method, *from, *to;
};

static int fail_fn(struct store_tx *tx, void *arg)
{
	struct fail_w *f = arg;
	struct store_call_end e = {.status = CALL_FAILED,
				   .end_reason = f->message,
				   .sip_code = 0,
				   .cost_micros = -1,
				   .end_us = time_now_us()};
	int r = store_call_finish(tx, f->id, &e);
	if (r != 1)
		return r;
	json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s}", "call_id", f->id, "status", CALL_FAILED,
			      "error_code", f->code, "error_message", f->message, "to", f->to);
	webhooks_emit_tx(f->bus, tx, f->tenant, "call.failed", d, NULL, NULL);
	json_decref(d);
	return 0;
}

static void fail_free(void *arg)
{
	struct fail_w *f = arg;
	mem_free(f->id);
	mem_free(f->tenant);
	mem_free(f->code);
	mem_free(f->message);
	mem_free(f->to);
	mem_free(f);
}

/* Fails an outbound-api call before anything was sent (a guardrail, no route). */
static void fail_queued(struct calls *c, json_t *call, const struct policy_refusal *why)
{
	struct fail_w *f = mem_zalloc(sizeof(*f));
	f->bus = c->bus;
	f->id = mem_strdup(json_str(call, "id"));
	f->tenant = mem_strdup(json_str(call, "tenant_id"));
	f->code = mem_strdup(why->code);
	char m[200];
	snprintf(m, sizeof(m), "%s: %s", why->code, why->message);
	f->message = mem_strdup(m);
	f->to = mem_strdup(json_str(call, "to_addr") ? json_str(call, "to_addr") : "");
	calls_persist(c, fail_fn, f, fail_free);
}

static int call_get_fn(struct store_tx *tx, void *arg)
{
	struct settings_q *q = arg;
	return store_call_get(tx, NULL, q->call_id, &q->call);
}

static void dial_prep_work(struct calls *c, void *arg)
{
	struct leg_prep *p = arg;
	json_t *pl = json_loadb(p->msg->payload, p->msg->payload_len, 0, NULL);
	struct settings_q q = {.call_id = json_str(pl, "call_id"), .outbound_api = true};
	if (!q.call_id || store_tx(c->st, NULL, STORE_READ, call_get_fn, &q) < 0 || !q.call ||
	    strcmp(json_str(q.call, "status"), CALL_QUEUED) || json_str(q.call, "engine_run")) {
		bus_ack(p->msg); /* canceled, gone, or already taken (recovery closes it) */
		goto out;
	}
	q.tenant = json_str(q.call, "tenant_id");
	q.to = json_str(q.call, "to_addr");
	if (store_tx(c->st, q.tenant, STORE_READ, routes_fn, &q) < 0) {
		bus_nak(p->msg, -1, "store unavailable");
		goto out;
	}
	struct policy_refusal why;
	json_t *routes = NULL;
	if (guard(c, &q, &why) < 0) {
		fail_queued(c, q.call, &why);
		bus_ack(p->msg);
		goto out;
	}
	if (q.to[0] == '+' && (!(routes = ranked(&q)) || !json_array_size(routes))) {
		why = (struct policy_refusal){"no_route", "no healthy carrier routes this number"};
		fail_queued(c, q.call, &why);
		bus_ack(p->msg);
		json_decref(routes);
		goto out;
	}
	unsigned cps = (unsigned)setting_int(q.settings, "calls_per_second", c->cfg->voice_cps);
	uint64_t wait = policy_pacer_reserve(c->pacer, q.tenant, cps, time_now_us());
	if (wait > 20000000) { /* far down the queue: back to the bus, not held past its lease */
		bus_nak(p->msg, (int64_t)wait - 10000000, "paced (calls per second)");
		json_decref(routes);
		goto out;
	}
	struct task *t = mem_zalloc(sizeof(*t));
	t->kind = T_DIAL;
	t->msg = p->msg;
	t->row =
	    json_pack("{s:O,s:o,s:I,s:s?}", "call", q.call, "routes", routes ? routes : json_null(),
		      "wait_us", (json_int_t)wait, "auth_token", json_str(q.token, "auth_token"));
	calls_post(c, t);
out:
	json_decref(pl);
	json_decref(q.call);
	json_decref(q.settings);
	json_decref(q.routes);
	json_decref(q.token);
	mem_free(p);
}

void legs_dial_consumer(struct bus_msg *m, void *arg)
{
	struct calls *c = arg;
	struct leg_prep *p = mem_zalloc(sizeof(*p));
	p->msg = m;
	calls_work(c, dial_prep_work, p);
}

void legs_control_consumer(struct bus_msg *m, void *arg)
{
	struct calls *c = arg;
	struct task *t = mem_zalloc(sizeof(*t));
	t->kind = T_CONTROL;
	t->row = json_loadb(m->payload, m->payload_len, 0, NULL);
	t->msg = m; /* acked once applied (run_task acks what the handler leaves) */
	calls_post(c, t);
}

/* Dial children to numbers: guardrails and carriers on a worker */
void legs_routes_work(struct calls *c, void *arg)
{
	struct leg_prep *p = arg;
	struct settings_q q = {.tenant = p->tenant, .to = p->to};
	struct task *t = mem_zalloc(sizeof(*t));
	t->kind = T_ROUTES;
	t->lid = p->lid;
	struct policy_refusal why;
	if (store_tx(c->st, q.tenant, STORE_READ, routes_fn, &q) < 0) {
		t->error = mem_strdup("store unavailable");
	} else if (guard(c, &q, &why) < 0) {
		char m[200];
		snprintf(m, sizeof(m), "%s: %s", why.code, why.message);
		t->error = mem_strdup(m);
	} else {
		t->row = ranked(&q);
	}
	calls_post(c, t);
	json_decref(q.settings);
	json_decref(q.routes);
	mem_free(p);
}
