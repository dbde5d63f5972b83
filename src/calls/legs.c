/* legs.c: outbound legs. An outbound-api call comes off the call.dial queue paced by the
   tenant's calls per second and checked against its guardrails (destination countries,
   premium ranges, concurrent calls, daily spend) before any INVITE leaves. Each leg to a
   number goes to the cheapest healthy carrier for its longest matching prefix and fails over
   on 408, 5xx and timeouts, never on the callee's own answers. Dial bridges its child leg
   with the parent; transfers replace or consult the far party. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "webhooks/webhooks.h"

/* ---- placing a leg ---- */

static int channels(struct calls *c, const char *carrier, int delta)
{
	json_t *v = json_object_get(c->channels, carrier);
	int n = (v ? (int)json_integer_value(v) : 0) + delta;
	if (delta)
		json_object_set_new(c->channels, carrier, json_integer(n < 0 ? 0 : n));
	return n;
}

static void leg_failed(struct calls *c, struct ccall *k, int code, bool timeout, const char *why);

/* The next attempt of k: the next carrier (numbers) or the URI itself. */
void legs_place(struct calls *c, struct ccall *k)
{
	char uri[400], from_uri[300];
	const char *user = NULL, *pass = NULL, *caller = k->from;
	json_t *carrier = NULL;
	if (k->routes) {
		for (;;) {
			carrier = json_array_get(k->routes, k->route_i);
			if (!carrier) {
				leg_failed(c, k, k->sip_code ? k->sip_code : 503, false,
					   "every carrier failed or is busy");
				return;
			}
			k->route_i++;
			const char *cid = json_str(carrier, "id");
			int64_t maxch = json_int(carrier, "max_channels", 0);
			if (maxch > 0 && channels(c, cid, 0) >= maxch)
				continue; /* full: the next carrier */
			json_t *until = json_object_get(c->held_off, cid);
			if (until && (uint64_t)json_integer_value(until) > time_now_us())
				continue; /* it asked for a pause (503 with Retry-After) */
			int64_t cps = json_int(carrier, "cps_limit", 0);
			uint64_t wait = cps > 0 ? policy_pacer_reserve(c->pacer, cid, (unsigned)cps,
								       time_now_us())
						: 0;
			if (wait > 2000000)
				continue;
			if (wait) { /* this carrier's calls per second: a little later */
				k->route_i--;
				calls_timer(c, k, time_now_us() + wait, TM_DIAL_CPS);
				return;
			}
			break;
		}
		if (policy_carrier_uri(carrier, k->to, uri, sizeof(uri)) < 0) {
			leg_failed(c, k, 0, false, "carrier address too long");
			return;
		}
		user = json_str(carrier, "username");
		pass = json_str(carrier, "password");
		const char *cid = json_str(carrier, "caller_id");
		if (cid && *cid)
			caller = cid;
		snprintf(k->carrier_id, sizeof(k->carrier_id), "%s", json_str(carrier, "id"));
		json_t *cost = json_object_get(carrier, "cost_micros");
		k->rate_micros = json_is_integer(cost) ? json_integer_value(cost) : -1;
		k->min_s = (int)json_int(carrier, "min_s", 60);
		k->incr_s = (int)json_int(carrier, "incr_s", 60);
	} else if (!strncmp(k->to, "client:", 7) || !strncmp(k->to, "device:", 7)) {
		snprintf(uri, sizeof(uri), "device:%s", k->to + 7);
	} else {
		snprintf(uri, sizeof(uri), "%s", k->to);
		user = k->sip_user;
		pass = k->sip_pass;
	}
	snprintf(from_uri, sizeof(from_uri), "sip:%s@%s", caller, c->cfg->voice_sip_addr);
	struct voice_dial d = {.uri = uri,
			       .from_uri = from_uri,
			       .timeout_ms = k->dial_timeout_s * 1000,
			       .auth_user = user,
			       .auth_pass = pass};
	uint64_t eid;
	int r = voice_call_dial(c->engine, &d, &eid);
	json_array_append_new(k->attempts, json_pack("{s:s?,s:s,s:I}", "carrier_id",
						     carrier ? k->carrier_id : NULL, "uri", uri,
						     "started_us", (json_int_t)time_now_us()));
	if (r < 0) {
		json_object_set_new(json_array_get(k->attempts, json_array_size(k->attempts) - 1),
				    "error", json_string("engine refused the call"));
		if (k->routes) {
			legs_place(c, k);
			return;
		}
		leg_failed(c, k, 503, false, "the engine is at capacity");
		return;
	}
	ccall_set_eid(c, k, eid);
	if (carrier)
		channels(c, k->carrier_id, +1);
	if (strcmp(k->status, CALL_INITIATED)) {
		rec_status(c, k, CALL_INITIATED);
	}
	if (k->job) { /* the call is the engine's now: the queue is done with it */
		bus_ack(k->job);
		k->job = NULL;
	}
}

void legs_on_dial_task(struct calls *c, struct task *t)
{
	json_t *row = json_object_get(t->row, "call");
	struct ccall *k = ccall_new(c);
	snprintf(k->id, sizeof(k->id), "%s", json_str(row, "id"));
	snprintf(k->tenant, sizeof(k->tenant), "%s", json_str(row, "tenant_id"));
	snprintf(k->direction, sizeof(k->direction), "outbound-api");
	snprintf(k->status, sizeof(k->status), CALL_QUEUED);
	snprintf(k->from, sizeof(k->from), "%s", json_str(row, "from_addr"));
	snprintf(k->to, sizeof(k->to), "%s", json_str(row, "to_addr"));
	k->created_us = (uint64_t)json_int(row, "created_us", (int64_t)time_now_us());
	k->auth_token = xstrdup(json_str(t->row, "auth_token"));
	k->status_callback = xstrdup(json_str(row, "status_callback"));
	k->status_callback_method = xstrdup(json_str(row, "status_callback_method"));
	const char *ev = json_str(row, "status_callback_events");
	k->sc_events = CDOC_EV_COMPLETED;
	if (ev) {
		k->sc_events = 0;
		if (strstr(ev, "initiated"))
			k->sc_events |= CDOC_EV_INITIATED;
		if (strstr(ev, "ringing"))
			k->sc_events |= CDOC_EV_RINGING;
		if (strstr(ev, "answered"))
			k->sc_events |= CDOC_EV_ANSWERED;
		if (strstr(ev, "completed"))
			k->sc_events |= CDOC_EV_COMPLETED;
	}
	k->fallback_url = xstrdup(json_str(row, "fallback_url"));
	k->fallback_method = xstrdup(json_str(row, "fallback_method"));
	k->dial_timeout_s = (unsigned)json_int(row, "timeout_s", 60);
	k->deadline_us = (uint64_t)json_int(row, "time_limit_s", 14400) * 1000000;
	k->record_call = json_int(row, "record", 0) != 0;
	const char *twiml = json_str(row, "twiml"), *app = json_str(row, "application_id");
	if (twiml) {
		struct cdoc_error err;
		if (cdoc_parse(twiml, strlen(twiml), NULL, &k->doc, &err) < 0)
			k->doc = NULL; /* answered, then the error path says so */
	} else if (app) {
		char u[128];
		snprintf(u, sizeof(u), "irisx:applications/%s", app);
		k->doc_url = mem_strdup(u);
	} else {
		k->doc_url = xstrdup(json_str(row, "url"));
		snprintf(k->doc_method, sizeof(k->doc_method), "%s",
			 json_str(row, "method") ? json_str(row, "method") : "POST");
	}
	json_t *routes = json_object_get(t->row, "routes");
	if (json_is_array(routes))
		k->routes = json_incref(routes);
	k->job = t->msg;
	t->msg = NULL;
	uint64_t wait = (uint64_t)json_int(t->row, "wait_us", 0);
	if (wait)
		calls_timer(c, k, time_now_us() + wait, TM_DIAL_CPS);
	else
		legs_place(c, k);
}

/* ---- Dial ---- */

static void dial_done(struct calls *c, struct ccall *k, const char *status, unsigned dur_s,
		      const char *child_id);

static void start_noun(struct calls *c, struct ccall *k)
{
	const struct cdoc_verb *v = k->cur;
	if (!v || k->noun >= v->nnouns) {
		dial_done(c, k, k->dial_status[0] ? k->dial_status : CALL_FAILED, 0, NULL);
		return;
	}
	const struct cdoc_noun *n = &v->nouns[k->noun++];
	struct ccall *x = ccall_new(c);
	id_new("CA", x->id);
	memcpy(x->tenant, k->tenant, sizeof(x->tenant));
	memcpy(x->parent, k->id, sizeof(x->parent));
	snprintf(x->direction, sizeof(x->direction), "outbound-dial");
	snprintf(x->status, sizeof(x->status), CALL_QUEUED);
	const char *caller = v->caller_id ? v->caller_id : k->from;
	snprintf(x->from, sizeof(x->from), "%s", caller);
	if (n->kind == CDOC_CLIENT)
		snprintf(x->to, sizeof(x->to), "client:%s", n->target);
	else
		snprintf(x->to, sizeof(x->to), "%s", n->target);
	x->auth_token = xstrdup(k->auth_token);
	x->status_callback = interp_abs_url(k, n->status_callback);
	x->status_callback_method = xstrdup(n->status_callback_method);
	x->sc_events = n->status_events ? n->status_events : CDOC_EV_COMPLETED;
	x->dial_timeout_s = v->timeout_s;
	x->deadline_us = (uint64_t)v->time_limit_s * 1000000;
	snprintf(x->send_digits, sizeof(x->send_digits), "%s",
		 n->send_digits ? n->send_digits : "");
	x->parent_lid = k->lid;
	k->dial_lid = x->lid;
	rec_insert_leg(c, x);
	if (n->kind == CDOC_NUMBER) {
		struct leg_prep *p = mem_zalloc(sizeof(*p));
		p->lid = x->lid;
		memcpy(p->tenant, x->tenant, sizeof(p->tenant));
		snprintf(p->to, sizeof(p->to), "%s", x->to);
		calls_work(c, legs_routes_work, p);
	} else {
		x->sip_user = xstrdup(n->username); /* for the far end's challenge */
		x->sip_pass = xstrdup(n->password);
		legs_place(c, x);
	}
}

void legs_on_routes(struct calls *c, struct task *t)
{
	struct ccall *x = ccall_by_lid(c, t->lid);
	if (!x || x->ended)
		return;
	if (!t->row || !json_array_size(t->row)) {
		leg_failed(c, x, 0, false,
			   t->error ? t->error : "no healthy carrier routes this number");
		return;
	}
	x->routes = json_incref(t->row);
	legs_place(c, x);
}

void legs_dial_verb(struct calls *c, struct ccall *k)
{
	k->noun = 0;
	k->dial_status[0] = 0;
	k->wait = W_DIAL;
	if (!c->hold_music)
		voice_audio_tone(440, 480, -19, 2000, 4000, 6000, &c->hold_music);
	voice_call_play(c->engine, k->eid, c->hold_music, 0); /* ringback while it rings */
	start_noun(c, k);
}

static void dial_done(struct calls *c, struct ccall *k, const char *status, unsigned dur_s,
		      const char *child_id)
{
	k->dial_lid = 0;
	if (k->ended || k->wait != W_DIAL)
		return;
	voice_call_stop_play(c->engine, k->eid);
	const struct cdoc_verb *v = k->cur;
	if (k->rec_id[0] && k->rec_whole)
		voice_call_stop_record(c->engine, k->eid);
	k->wait = W_NONE;
	if (v && v->action) {
		char d[16];
		snprintf(d, sizeof(d), "%u", dur_s);
		json_t *x = json_pack("{s:s,s:s,s:s}", "DialCallStatus", status, "DialCallSid",
				      child_id ? child_id : "", "DialCallDuration", d);
		interp_fetch(c, k, v->action, v->method, x);
		return;
	}
	interp_step(c, k);
}

/* A leg that could not be completed: its parent (Dial) or its record. */
static void leg_failed(struct calls *c, struct ccall *k, int code, bool timeout, const char *why)
{
	k->sip_code = code;
	k->end_cause = timeout ? VOICE_END_TIMEOUT : VOICE_END_REJECTED;
	k->ended = true;
	if (k->eid) {
		voice_call_hangup(c->engine, k->eid);
	}
	legs_on_hangup(c, k);
	rec_finish(c, k, NULL, why);
	ccall_free(c, k);
}

/* ---- events of legs we dial ---- */

static void on_answered(struct calls *c, struct ccall *k)
{
	k->answered = true;
	k->answer_us = time_now_us();
	json_t *a = json_array_get(k->attempts, json_array_size(k->attempts) - 1);
	json_object_set_new(a, "code", json_integer(200));
	rec_status(c, k, CALL_IN_PROGRESS);
	if (k->deadline_us)
		calls_timer(c, k, k->answer_us + k->deadline_us, TM_LIMIT);
	struct ccall *p = ccall_by_lid(c, k->parent_lid);
	if (p && !p->ended) { /* a Dial child: join it with the caller */
		voice_call_stop_play(c->engine, p->eid);
		voice_call_bridge(c->engine, p->eid, k->eid);
		p->dial_answer_us = k->answer_us;
		if (k->send_digits[0])
			voice_call_send_dtmf(c->engine, k->eid, k->send_digits);
		const struct cdoc_verb *v = p->cur;
		if (v && v->record != CDOC_REC_NONE) {
			mem_free(p->rec_cb);
			mem_free(p->rec_cb_method);
			p->rec_cb = interp_abs_url(p, v->recording_status_callback);
			p->rec_cb_method = xstrdup(v->recording_status_callback_method);
			rec_recording_start(c, p, "Dial");
			p->rec_whole = true;
			char path[640];
			snprintf(path, sizeof(path), "%s/%s.wav", c->rec_dir, p->rec_id);
			struct voice_record r = {.path = path, .trim = v->trim};
			if (voice_call_record(c->engine, p->eid, &r) < 0)
				p->rec_id[0] = 0;
		}
		return;
	}
	if (p) { /* its parent left meanwhile */
		voice_call_hangup(c->engine, k->eid);
		return;
	}
	struct ccall *o = ccall_by_lid(c, k->xfer_lid);
	if (o && o->xfer_lid == k->lid) { /* a transfer's new far party */
		legs_xfer_answered(c, k);
		return;
	}
	if (!strcmp(k->direction, "outbound-api")) { /* its document runs now */
		if (k->record_call) {
			rec_recording_start(c, k, "Call");
			k->rec_whole = true;
			char path[640];
			snprintf(path, sizeof(path), "%s/%s.wav", c->rec_dir, k->rec_id);
			struct voice_record r = {.path = path};
			if (voice_call_record(c->engine, k->eid, &r) < 0)
				k->rec_id[0] = 0;
		}
		if (k->doc) {
			struct cdoc *d = k->doc;
			k->doc = NULL;
			interp_run(c, k, d, NULL);
		} else if (k->doc_url) {
			interp_fetch(c, k, k->doc_url, k->doc_method, NULL);
		} else {
			interp_doc_failed(c, k, NULL, "the call's TwiML is invalid");
		}
	}
}

bool legs_on_event(struct calls *c, struct ccall *k, const struct voice_event *ev)
{
	if (ev->type == VOICE_EV_DTMF && ev->digit == '*' && k->dial_lid && k->cur &&
	    k->cur->kind == CDOC_DIAL && k->cur->hangup_on_star) {
		struct ccall *x = ccall_by_lid(c, k->dial_lid);
		if (x && x->answered)
			voice_call_hangup(c->engine, x->eid);
		return true;
	}
	bool dialled = !strcmp(k->direction, "outbound-api") || k->parent_lid || k->xfer_lid;
	if (!dialled || k->answered) {
		if (ev->type == VOICE_EV_ANSWERED && dialled)
			return true;
		return false;
	}
	switch (ev->type) {
	case VOICE_EV_PROGRESS:
		if ((ev->code == 180 || ev->code == 183) && strcmp(k->status, CALL_RINGING)) {
			k->ring_us = time_now_us();
			rec_status(c, k, CALL_RINGING);
		}
		return true;
	case VOICE_EV_ANSWERED:
		on_answered(c, k);
		return true;
	case VOICE_EV_HANGUP: {
		json_t *a = json_array_get(k->attempts, json_array_size(k->attempts) - 1);
		json_object_set_new(a, "code", json_integer(ev->code));
		if (ev->retry_after_s) {
			json_object_set_new(a, "retry_after_s", json_integer(ev->retry_after_s));
			unsigned s = ev->retry_after_s > 3600 ? 3600 : ev->retry_after_s;
			if (k->carrier_id[0]) /* honoured: no new calls to it until then */
				json_object_set_new(
				    c->held_off, k->carrier_id,
				    json_integer(
					(json_int_t)(time_now_us() + (uint64_t)s * 1000000)));
		}
		if (k->carrier_id[0] && k->routes)
			channels(c, k->carrier_id, -1);
		bool timeout = ev->cause == VOICE_END_TIMEOUT;
		k->sip_code = ev->code;
		if (k->routes && ev->cause != VOICE_END_LOCAL && ev->cause != VOICE_END_SHUTDOWN &&
		    policy_failover(ev->code, timeout) == POLICY_FAILOVER &&
		    k->route_i < json_array_size(k->routes)) {
			ccall_set_eid(c, k, 0); /* unlinks: the next attempt is a new engine call */
			legs_place(c, k);
			return true;
		}
		return false; /* final: interp's hangup path writes the record */
	}
	default:
		return false;
	}
}

void legs_on_hangup(struct calls *c, struct ccall *k)
{
	struct ccall *x = ccall_by_lid(c, k->dial_lid);
	if (x && !x->ended) { /* the caller left: so does the Dial's leg */
		x->parent_lid = 0;
		voice_call_hangup(c->engine, x->eid);
	}
	struct ccall *peer = ccall_by_lid(c, k->peer_lid);
	if (peer && !peer->ended && peer->peer_lid == k->lid) {
		peer->peer_lid = 0;
		voice_call_hangup(c->engine, peer->eid);
	}
	struct ccall *o = ccall_by_lid(c, k->xfer_lid); /* k was a transfer's consult leg */
	if (o && !o->ended && o->xfer_lid == k->lid && !k->answered) {
		o->xfer_lid = 0;
		voice_call_unhold(c->engine, o->eid);
		voice_call_hangup(c->engine, o->eid);
	}
	struct ccall *p = ccall_by_lid(c, k->parent_lid);
	if (p && p->dial_lid == k->lid) {
		if (k->answered) {
			unsigned d = (unsigned)((time_now_us() - k->answer_us) / 1000000);
			dial_done(c, p, CALL_COMPLETED, d, k->id);
		} else {
			snprintf(p->dial_status, sizeof(p->dial_status), "%s",
				 policy_fail_status(k->sip_code, k->end_cause == VOICE_END_TIMEOUT,
						    k->end_cause == VOICE_END_CANCEL));
			p->dial_lid = 0;
			if (p->cur && p->noun < p->cur->nnouns && p->wait == W_DIAL)
				start_noun(c, p);
			else
				dial_done(c, p, p->dial_status, 0, k->id);
		}
	}
	/* attended transfer: the agent left, so the caller meets the consulted party */
	for (size_t i = 0; i < 4096; i++)
		for (struct ccall *o2 = c->by_lid[i]; o2; o2 = o2->next_lid)
			if (o2->xfer_attended && o2->peer_lid == k->lid && !o2->ended) {
				struct ccall *xx = ccall_by_lid(c, o2->xfer_lid);
				o2->peer_lid = 0;
				o2->xfer_attended = false;
				if (xx && xx->answered) {
					voice_call_unhold(c->engine, o2->eid);
					voice_call_bridge(c->engine, o2->eid, xx->eid);
					o2->peer_lid = xx->lid;
					xx->peer_lid = o2->lid;
				}
			}
}

void legs_on_timer(struct calls *c, struct ccall *k, int what)
{
	if (what == TM_LIMIT) {
		if (k->answered && !k->ended)
			voice_call_hangup(c->engine, k->eid);
	} else if (what == TM_DIAL_CPS && !k->answered && !k->eid) {
		legs_place(c, k);
	}
}
