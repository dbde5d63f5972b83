/* records.c: what the call service writes. Every change is an operation (a JSON object
   owning its strings) run on the persist thread: call rows and their record at hangup,
   recordings, carrier health, call.* events and status callbacks, all in the same
   transaction as the change they report. A call is closed once (store_call_finish
   only acts while end_us is NULL), so it is never billed twice. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "webhooks/webhooks.h"

struct op {
	struct calls *c;
	json_t *o;
};

static void op_free(void *arg)
{
	struct op *p = arg;
	json_decref(p->o);
	mem_free(p);
}

static const char *s_(json_t *o, const char *k)
{
	return json_str(o, k);
}

static void emit_all(struct calls *c, struct store_tx *tx, const char *tenant, json_t *o)
{
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(o, "events"), i, e)
		webhooks_emit_tx(c->bus, tx, tenant, s_(e, "type"), json_object_get(e, "data"),
				 NULL, NULL);
	json_array_foreach (json_object_get(o, "callbacks"), i, e)
		webhooks_callback_tx(c->bus, tx, tenant, s_(e, "url"), s_(e, "method"),
				     json_object_get(e, "params"));
}

static int op_fn(struct store_tx *tx, void *arg)
{
	struct op *p = arg;
	json_t *o = p->o, *x;
	const char *tenant = s_(o, "tenant");
	int r = 0;
	if ((x = json_object_get(o, "insert"))) {
		struct store_call sc = {.id = s_(x, "id"),
					.tenant_id = tenant,
					.parent_id = s_(x, "parent_id"),
					.direction = s_(x, "direction"),
					.from = s_(x, "from"),
					.to = s_(x, "to"),
					.status = s_(x, "status"),
					.status_callback = s_(x, "status_callback"),
					.status_callback_method = s_(x, "status_callback_method"),
					.engine_run = p->c->run};
		if ((r = store_call_insert(tx, &sc)) < 0)
			return r;
	}
	if ((x = json_object_get(o, "update"))) {
		struct store_call_update u = {.status = s_(x, "status"),
					      .carrier_id = s_(x, "carrier_id"),
					      .attempts = s_(x, "attempts"),
					      .engine_run = p->c->run,
					      .sip_code = -1,
					      .ring_us = (uint64_t)json_int(x, "ring_us", 0),
					      .answer_us = (uint64_t)json_int(x, "answer_us", 0),
					      .seen_us = time_now_us()};
		if ((r = store_call_update(tx, s_(o, "id"), NULL, &u)) < 0)
			return r;
		if (r == 0)
			return 0; /* ended meanwhile: no event for a stale change */
	}
	if ((x = json_object_get(o, "finish"))) {
		struct store_call_end e = {.status = s_(x, "status"),
					   .end_reason = s_(x, "end_reason"),
					   .quality = s_(x, "quality"),
					   .carrier_id = s_(x, "carrier_id"),
					   .attempts = s_(x, "attempts"),
					   .sip_code = (int)json_int(x, "sip_code", 0),
					   .q850_cause = (int)json_int(x, "q850_cause", 16),
					   .duration_s = (int)json_int(x, "duration_s", 0),
					   .billed_s = (int)json_int(x, "billed_s", 0),
					   .cost_micros = json_int(x, "cost_micros", -1),
					   .end_us = (uint64_t)json_int(x, "end_us", 0),
					   .answer_us = (uint64_t)json_int(x, "answer_us", 0)};
		if ((r = store_call_finish(tx, s_(o, "id"), &e)) < 0)
			return r;
		if (r == 0)
			return 0; /* closed already (recovery, or twice): nothing more */
	}
	if ((x = json_object_get(o, "recording"))) {
		struct store_recording rr = {.id = s_(x, "id"),
					     .tenant_id = tenant,
					     .call_id = s_(o, "id"),
					     .source = s_(x, "source"),
					     .path = s_(x, "path"),
					     .status_callback = s_(x, "status_callback"),
					     .status_callback_method =
						 s_(x, "status_callback_method")};
		if ((r = store_recording_insert(tx, &rr)) < 0 ||
		    (r = store_call_add_recording(tx, s_(o, "id"), rr.id)) < 0)
			return r;
	}
	if ((x = json_object_get(o, "recording_done"))) {
		if ((r = store_recording_done(tx, s_(x, "id"), s_(x, "status"),
					      (int)json_int(x, "duration_ms", 0),
					      json_int(x, "bytes", 0))) < 0)
			return r;
	}
	if ((x = json_object_get(o, "health")))
		if ((r = store_carrier_health(tx, s_(x, "id"), s_(x, "health"), s_(x, "reg"))) < 0)
			return r;
	emit_all(p->c, tx, tenant, o);
	return 0;
}

static void submit(struct calls *c, json_t *o)
{
	struct op *p = mem_zalloc(sizeof(*p));
	p->c = c;
	p->o = o;
	calls_persist(c, op_fn, p, op_free);
}

static json_t *new_op(const struct ccall *k)
{
	return json_pack("{s:s,s:s,s:[],s:[]}", "id", k->id, "tenant", k->tenant, "events",
			 "callbacks");
}

static void add_event(json_t *o, const char *type, json_t *data)
{
	json_array_append_new(json_object_get(o, "events"),
			      json_pack("{s:s,s:o}", "type", type, "data", data));
}

static json_t *event_data(const struct ccall *k)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?}", "call_id", k->id, "status", k->status,
			 "direction", k->direction, "from", k->from, "to", k->to, "parent_call_id",
			 k->parent[0] ? k->parent : NULL);
}

static void add_callback(const struct ccall *k, json_t *o, unsigned bit, json_t *extra)
{
	if (!k->status_callback || !*k->status_callback || !(k->sc_events & bit)) {
		json_decref(extra);
		return;
	}
	json_t *p = interp_params(k);
	json_object_set_new(p, "CallbackSource", json_string("call-progress-events"));
	char ts[TIME_RFC3339_LEN];
	json_object_set_new(p, "Timestamp", json_string(time_fmt(time_now_us(), ts)));
	if (k->parent[0])
		json_object_set_new(p, "ParentCallSid", json_string(k->parent));
	if (extra) {
		json_object_update(p, extra);
		json_decref(extra);
	}
	json_array_append_new(
	    json_object_get(o, "callbacks"),
	    json_pack("{s:s,s:s,s:o}", "url", k->status_callback, "method",
		      k->status_callback_method ? k->status_callback_method : "POST", "params", p));
}

void rec_status(struct calls *c, struct ccall *k, const char *status)
{
	snprintf(k->status, sizeof(k->status), "%s", status);
	if (!k->id[0])
		return;
	json_t *o = new_op(k);
	char *att = json_dumps(k->attempts, JSON_COMPACT);
	json_object_set_new(o, "update",
			    json_pack("{s:s,s:s?,s:s,s:I,s:I}", "status", status, "carrier_id",
				      k->carrier_id[0] ? k->carrier_id : NULL, "attempts", att,
				      "ring_us", (json_int_t)k->ring_us, "answer_us",
				      (json_int_t)k->answer_us));
	free(att);
	unsigned bit = 0;
	const char *type = NULL;
	if (!strcmp(status, CALL_INITIATED))
		bit = CDOC_EV_INITIATED, type = "call.initiated";
	else if (!strcmp(status, CALL_RINGING))
		bit = CDOC_EV_RINGING, type = "call.ringing";
	else if (!strcmp(status, CALL_IN_PROGRESS))
		bit = CDOC_EV_ANSWERED, type = "call.answered";
	if (type)
		add_event(o, type, event_data(k));
	add_callback(k, o, bit, NULL);
	submit(c, o);
}

void rec_insert_leg(struct calls *c, struct ccall *k)
{
	json_t *o = new_op(k);
	json_object_set_new(o, "insert",
			    json_pack("{s:s,s:s?,s:s,s:s,s:s,s:s,s:s?,s:s?}", "id", k->id,
				      "parent_id", k->parent[0] ? k->parent : NULL, "direction",
				      k->direction, "from", k->from, "to", k->to, "status",
				      CALL_QUEUED, "status_callback", k->status_callback,
				      "status_callback_method", k->status_callback_method));
	submit(c, o);
}

/* the final status of a leg that ended */
static const char *final_status(const struct ccall *k)
{
	if (k->answered)
		return CALL_COMPLETED;
	if (k->end_cause == VOICE_END_CANCEL)
		return CALL_CANCELED;
	if (k->end_cause == VOICE_END_LOCAL && !strcmp(k->direction, "inbound"))
		return k->sip_code == 486 ? CALL_BUSY : CALL_FAILED;
	if (k->end_cause == VOICE_END_LOCAL || k->end_cause == VOICE_END_SHUTDOWN)
		return k->eid || strcmp(k->direction, "inbound") ? CALL_CANCELED : CALL_FAILED;
	return policy_fail_status(k->sip_code, k->end_cause == VOICE_END_TIMEOUT, false);
}

void rec_finish(struct calls *c, struct ccall *k, const struct voice_event *ev, const char *reason)
{
	if (!k->id[0])
		return;
	if (ev) {
		k->sip_code = ev->code;
		k->end_cause = (int)ev->cause;
		if (ev->quality.rx_packets || ev->quality.mos > 0) {
			k->q = ev->quality;
			k->have_q = true;
		}
	}
	uint64_t now = time_now_us();
	const char *status = final_status(k);
	snprintf(k->status, sizeof(k->status), "%s", status);
	unsigned dur = k->answered ? (unsigned)((now - k->answer_us + 500000) / 1000000) : 0;
	unsigned billed = 0;
	int64_t cost = -1;
	if (k->answered && k->rate_micros >= 0) {
		billed = policy_billed_s(dur, k->min_s, k->incr_s);
		cost = policy_cost_micros(k->rate_micros, billed);
	} else if (k->answered) {
		billed = dur;
	}
	static const char *const causes[] = {"hung up by IRISX",
					     "hung up by the far end",
					     "canceled by the caller",
					     "rejected by the far end",
					     "no answer",
					     "error",
					     "service shutdown"};
	const char *why =
	    reason ? reason : causes[k->end_cause >= 0 && k->end_cause <= 6 ? k->end_cause : 5];
	int code = k->sip_code ? k->sip_code : (k->answered ? 200 : 0);
	json_t *q = NULL;
	if (k->have_q)
		q = json_pack("{s:f,s:f,s:f,s:f,s:f,s:I,s:I}", "mos", k->q.mos, "loss_rx_pct",
			      k->q.loss_rx_pct, "jitter_rx_ms", k->q.jitter_rx_ms, "loss_tx_pct",
			      k->q.loss_tx_pct, "jitter_tx_ms", k->q.jitter_tx_ms, "rx_packets",
			      (json_int_t)k->q.rx_packets, "rx_expected",
			      (json_int_t)k->q.rx_expected);
	char *qs = q ? json_dumps(q, JSON_COMPACT) : NULL;
	char *att = json_dumps(k->attempts, JSON_COMPACT);
	json_t *o = new_op(k);
	json_object_set_new(
	    o, "finish",
	    json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:i,s:i,s:i,s:i,s:I,s:I,s:I}", "status", status,
		      "end_reason", why, "quality", qs, "carrier_id",
		      k->carrier_id[0] ? k->carrier_id : NULL, "attempts", att, "sip_code", code,
		      "q850_cause", policy_q850(code ? code : 200), "duration_s", (int)dur,
		      "billed_s", (int)billed, "cost_micros", (json_int_t)cost, "end_us",
		      (json_int_t)now, "answer_us", (json_int_t)k->answer_us));
	free(att);
	free(qs);
	json_t *d = event_data(k);
	json_object_set_new(d, "duration", json_integer(dur));
	json_object_set_new(d, "sip_code", json_integer(code));
	json_object_set_new(d, "end_reason", json_string(why));
	if (q)
		json_object_set_new(d, "quality", q);
	if (cost >= 0)
		json_object_set_new(d, "price_micros", json_integer(cost));
	add_event(o,
		  strcmp(status, CALL_COMPLETED) && strcmp(status, CALL_CANCELED) &&
			  strcmp(status, CALL_BUSY) && strcmp(status, CALL_NO_ANSWER)
		      ? "call.failed"
		      : "call.completed",
		  d);
	char ds[16];
	snprintf(ds, sizeof(ds), "%u", dur);
	add_callback(k, o, CDOC_EV_COMPLETED,
		     json_pack("{s:s,s:s,s:s}", "CallDuration", ds, "Duration", ds,
			       "SipResponseCode",
			       code ? (snprintf(ds, sizeof(ds), "%d", code), ds) : "0"));
	submit(c, o);
}

void rec_error(struct calls *c, struct ccall *k, const char *url, const char *why)
{
	if (!k->id[0])
		return;
	json_t *o = new_op(k);
	add_event(o, "call.error",
		  json_pack("{s:s,s:s,s:s?}", "call_id", k->id, "reason", why, "url", url));
	submit(c, o);
}

void rec_refer(struct calls *c, struct ccall *k, const char *to)
{
	json_t *o = new_op(k);
	json_t *d = event_data(k);
	json_object_set_new(d, "refer_to", json_string(to));
	add_event(o, "call.transferred", d);
	submit(c, o);
}

void rec_recording_start(struct calls *c, struct ccall *k, const char *source)
{
	id_new("RE", k->rec_id);
	char path[640];
	snprintf(path, sizeof(path), "%s/%s.wav", c->rec_dir, k->rec_id);
	json_t *o = new_op(k);
	json_object_set_new(o, "recording",
			    json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "id", k->rec_id, "source", source,
				      "path", path, "status_callback", k->rec_cb,
				      "status_callback_method", k->rec_cb_method));
	json_array_append_new(k->recordings, json_string(k->rec_id));
	submit(c, o);
}

void rec_recording_done(struct calls *c, struct ccall *k, const struct voice_event *ev)
{
	if (!k->rec_id[0])
		return;
	char path[640];
	snprintf(path, sizeof(path), "%s/%s.wav", c->rec_dir, k->rec_id);
	struct stat sb;
	bool ok = ev->code != VOICE_RECORD_ERROR && stat(path, &sb) == 0;
	json_t *o = new_op(k);
	json_object_set_new(o, "recording_done",
			    json_pack("{s:s,s:s,s:i,s:I}", "id", k->rec_id, "status",
				      ok ? "completed" : "failed", "duration_ms",
				      (int)ev->duration_ms, "bytes",
				      (json_int_t)(ok ? sb.st_size : 0)));
	char url[512], dur[16];
	snprintf(url, sizeof(url), "http://%s/v1/recordings/%s/audio", c->cfg->http_listen,
		 k->rec_id);
	snprintf(dur, sizeof(dur), "%u", (ev->duration_ms + 500) / 1000);
	if (ok)
		add_event(o, "recording.completed",
			  json_pack("{s:s,s:s,s:i,s:s}", "recording_id", k->rec_id, "call_id",
				    k->id, "duration_ms", (int)ev->duration_ms, "url", url));
	if (k->rec_cb && *k->rec_cb) {
		json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "AccountSid", k->tenant,
				      "CallSid", k->id, "RecordingSid", k->rec_id, "RecordingUrl",
				      url, "RecordingStatus", ok ? "completed" : "failed",
				      "RecordingDuration", dur, "RecordingChannels", "1");
		json_array_append_new(json_object_get(o, "callbacks"),
				      json_pack("{s:s,s:s,s:o}", "url", k->rec_cb, "method",
						k->rec_cb_method ? k->rec_cb_method : "POST",
						"params", p));
	}
	submit(c, o);
	if (k->wait != W_RECORD || k->ended)
		k->rec_id[0] = 0; /* a Dial's or the call's recording: no action follows */
}

void rec_carrier_health(struct calls *c, const char *carrier_id, const char *health,
			const char *reg)
{
	json_t *o = json_pack("{s:s,s:[],s:[],s:{s:s,s:s?,s:s?}}", "id", "", "events", "callbacks",
			      "health", "id", carrier_id, "health", health, "reg", reg);
	submit(c, o);
}

/* ---- liveness and recovery ---- */

static int beat_fn(struct store_tx *tx, void *arg)
{
	struct op *p = arg;
	size_t i;
	json_t *id;
	struct store_call_update u = {.sip_code = -1, .seen_us = time_now_us()};
	json_array_foreach (p->o, i, id)
		store_call_update(tx, json_string_value(id), NULL, &u);
	return 0;
}

/* Every 5 s the live calls' seen_us moves on: after a crash, that is where billing ends. */
void rec_heartbeat(struct calls *c)
{
	json_t *ids = json_array();
	for (size_t i = 0; i < 4096; i++)
		for (struct ccall *k = c->by_lid[i]; k; k = k->next_lid)
			if (k->id[0] && !k->ended && k->eid)
				json_array_append_new(ids, json_string(k->id));
	if (!json_array_size(ids)) {
		json_decref(ids);
		return;
	}
	struct op *p = mem_zalloc(sizeof(*p));
	p->c = c;
	p->o = ids;
	calls_persist(c, beat_fn, p, op_free);
}

struct recover_q {
	const char *run;
	json_t *rows;
};

static int orphans_fn(struct store_tx *tx, void *arg)
{
	struct recover_q *q = arg;
	return store_calls_orphaned(tx, q->run, time_now_us(), 500, &q->rows);
}

struct rate_q {
	const char *tenant, *to, *carrier;
	int64_t per_min;
	int min_s, incr_s;
};

static int rate_fn(struct store_tx *tx, void *arg)
{
	struct rate_q *q = arg;
	json_t *rows = NULL, *row;
	size_t i;
	int r = store_carrier_routes(tx, q->tenant, q->to + (q->to[0] == '+'), &rows);
	json_array_foreach (rows, i, row) {
		json_t *cost = json_object_get(row, "cost_micros");
		if (!strcmp(json_str(row, "id"), q->carrier) && json_is_integer(cost)) {
			q->per_min = json_integer_value(cost);
			q->min_s = (int)json_int(row, "min_s", 60);
			q->incr_s = (int)json_int(row, "incr_s", 60);
		}
	}
	json_decref(rows);
	return r;
}

/* The price of a recovered call from its carrier's deck today (-1: unpriced). */
static int64_t recovered_cost(struct calls *c, const json_t *row, unsigned dur, unsigned *billed)
{
	struct rate_q q = {json_str(row, "tenant_id"),
			   json_str(row, "to_addr"),
			   json_str(row, "carrier_id"),
			   -1,
			   60,
			   60};
	*billed = dur;
	if (!q.carrier || !q.to || q.to[0] != '+' ||
	    store_tx(c->st, q.tenant, STORE_READ, rate_fn, &q) < 0 || q.per_min < 0)
		return -1;
	*billed = policy_billed_s(dur, q.min_s, q.incr_s);
	return policy_cost_micros(q.per_min, *billed);
}

/* Calls a dead run left open: closed with a record saying so, billed up to the last time
   they were seen alive, once. */
void rec_recover(struct calls *c, void *arg)
{
	(void)arg;
	for (int round = 0; round < 100; round++) {
		struct recover_q q = {c->run, NULL};
		if (store_tx(c->st, NULL, STORE_READ, orphans_fn, &q) < 0 || !q.rows)
			return;
		size_t n = json_array_size(q.rows), i;
		json_t *row;
		json_array_foreach (q.rows, i, row) {
			struct ccall k = {0};
			snprintf(k.id, sizeof(k.id), "%s", json_str(row, "id"));
			snprintf(k.tenant, sizeof(k.tenant), "%s", json_str(row, "tenant_id"));
			snprintf(k.direction, sizeof(k.direction), "%s",
				 json_str(row, "direction"));
			snprintf(k.from, sizeof(k.from), "%s", json_str(row, "from_addr"));
			snprintf(k.to, sizeof(k.to), "%s", json_str(row, "to_addr"));
			k.status_callback = (char *)json_str(row, "status_callback");
			k.status_callback_method = (char *)json_str(row, "status_callback_method");
			k.sc_events = CDOC_EV_COMPLETED;
			uint64_t ans = (uint64_t)json_int(row, "answer_us", 0);
			uint64_t seen = (uint64_t)json_int(row, "seen_us", 0);
			uint64_t end = seen > ans ? seen
				       : ans	  ? ans
						  : (uint64_t)json_int(row, "created_us", 0);
			const char *status = ans ? CALL_COMPLETED : CALL_FAILED;
			snprintf(k.status, sizeof(k.status), "%s", status);
			unsigned dur = ans ? (unsigned)((end - ans + 500000) / 1000000) : 0,
				 billed = 0;
			int64_t cost = ans ? recovered_cost(c, row, dur, &billed) : -1;
			json_t *o = new_op(&k);
			json_object_set_new(
			    o, "finish",
			    json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:I,s:I}", "status", status,
				      "end_reason",
				      "media process restarted: the call was lost and is closed at "
				      "its last sign of life",
				      "sip_code", 0, "q850_cause", 41, "duration_s", (int)dur,
				      "billed_s", (int)billed, "cost_micros", (json_int_t)cost,
				      "end_us", (json_int_t)end));
			json_t *d = event_data(&k);
			json_object_set_new(d, "end_reason", json_string("media_restart"));
			add_event(o, ans ? "call.completed" : "call.failed", d);
			char ds[16];
			snprintf(ds, sizeof(ds), "%u", dur);
			add_callback(&k, o, CDOC_EV_COMPLETED,
				     json_pack("{s:s,s:s}", "CallDuration", ds, "Duration", ds));
			/* run now, not batched behind live traffic: this is the restart path */
			struct op p = {c, o};
			store_tx(c->st, NULL, STORE_WRITE, op_fn, &p);
			json_decref(o);
		}
		json_decref(q.rows);
		if (n < 500)
			break;
	}
	calls_log(LOG_INFO, "open calls of earlier runs closed", NULL);
}

void rec_e164(const char *uri, char *out, size_t cap)
{
	const char *p = uri;
	if (!strncmp(p, "sip:", 4))
		p += 4;
	else if (!strncmp(p, "sips:", 5))
		p += 5;
	else if (!strncmp(p, "tel:", 4))
		p += 4;
	size_t n = strcspn(p, "@;>?");
	bool digits = n > 0;
	for (size_t i = (p[0] == '+'); i < n; i++)
		if (!isdigit((unsigned char)p[i]))
			digits = false;
	if (digits && p[0] != '+' && n >= 8)
		snprintf(out, cap, "+%.*s", (int)n, p);
	else
		snprintf(out, cap, "%.*s", (int)n, p);
}
