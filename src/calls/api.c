/* api.c: the API side of calls: validating POST /v1/calls, the enqueue (call row + dial job
   + call.queued event in the caller's transaction) and live-call commands. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calls.h"
#include "policy.h"
#include "webhooks/webhooks.h"

#define TWIML_MAX (64 * 1024)
#define SIP_URI_MAX 256
#define FROM_MAX 64
#define NAME_MAX_LEN 64

bool calls_status_final(const char *status)
{
	static const char *const final[] = {CALL_COMPLETED, CALL_BUSY,	   CALL_FAILED,
					    CALL_NO_ANSWER, CALL_CANCELED, NULL};
	for (size_t i = 0; status && final[i]; i++)
		if (!strcmp(status, final[i]))
			return true;
	return false;
}

static int refuse(struct calls_refusal *w, int status, const char *code, const char *msg,
		  const char *field)
{
	*w = (struct calls_refusal){status, code, msg, field};
	return -EINVAL;
}

/* ---- callee forms ---- */

static bool sip_user_char(unsigned char c)
{
	return isalnum(c) || strchr("-_.!~*'()&=+$,;?/%", c);
}

/* host (name, IPv4 or [IPv6]) then optional :port; returns the end or NULL */
static const char *sip_hostport(const char *p)
{
	const char *h = p;
	if (*p == '[') {
		while (*++p && (isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
			;
		if (*p++ != ']' || p - h < 4)
			return NULL;
	} else {
		while (isalnum((unsigned char)*p) || *p == '-' || *p == '.')
			p++;
		if (p == h || *h == '.' || *h == '-' || p[-1] == '-')
			return NULL;
	}
	if (*p == ':') {
		long port = 0;
		const char *d = ++p;
		while (isdigit((unsigned char)*p) && p - d < 6)
			port = port * 10 + (*p++ - '0');
		if (p == d || port < 1 || port > 65535)
			return NULL;
	}
	return p;
}

static bool sip_uri_valid(const char *s)
{
	if (strlen(s) > SIP_URI_MAX || strncmp(s, "sip:", 4) != 0)
		return false;
	const char *p = s + 4, *u = p;
	while (*p && *p != '@' && sip_user_char((unsigned char)*p))
		p++;
	if (*p != '@' || p == u)
		return false;
	if (!(p = sip_hostport(p + 1)))
		return false;
	if (*p == '\0')
		return true;
	return !strcasecmp(p, ";transport=udp") || !strcasecmp(p, ";transport=tcp") ||
	       !strcasecmp(p, ";transport=tls");
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

int calls_check_to(const char *to, const char **ret_kind)
{
	if (!to)
		return -EINVAL;
	const char *kind = NULL;
	if (e164_valid(to))
		kind = "pstn";
	else if (!strncmp(to, "sip:", 4) && sip_uri_valid(to))
		kind = "sip";
	else if ((!strncmp(to, "client:", 7) && name_valid(to + 7)) ||
		 (!strncmp(to, "device:", 7) && name_valid(to + 7)))
		kind = "client";
	if (!kind)
		return -EINVAL;
	*ret_kind = kind;
	return 0;
}

/* A caller id shown to a SIP or device callee: printable, 1..64 bytes. */
static bool display_from_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > FROM_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '<' || s[i] == '>' ||
		    s[i] == '"')
			return false;
	return true;
}

/* ---- field checks ---- */

static int check_method(const json_t *body, const char *key, const char **ret,
			struct calls_refusal *w)
{
	const char *m = json_str(body, key);
	if (!m || !strcasecmp(m, "POST"))
		*ret = m || strcmp(key, "fallback_method") ? "POST" : NULL;
	else if (!strcasecmp(m, "GET"))
		*ret = "GET";
	else
		return refuse(w, 400, "invalid_field", "method is GET or POST", key);
	return 0;
}

static int check_url(const json_t *body, const char *key, bool allow_private, const char **ret,
		     struct calls_refusal *w)
{
	const char *u = json_str(body, key), *why = NULL;
	if (u && webhooks_check_url(u, allow_private, &why) < 0)
		return refuse(w, 400, "invalid_url", why ? why : "url not allowed", key);
	*ret = u;
	return 0;
}

static int add_event(char seen[4], const char *ev, size_t len, struct calls_refusal *w)
{
	static const char *const known[] = {"initiated", "ringing", "answered", "completed"};
	for (size_t i = 0; i < 4; i++)
		if (strlen(known[i]) == len && !strncmp(ev, known[i], len)) {
			seen[i] = 1;
			return 0;
		}
	return refuse(w, 400, "invalid_field",
		      "status_callback_events are initiated, ringing, answered, completed",
		      "status_callback_events");
}

/* An array of names or one space-separated string -> canonical "initiated ... completed" */
static int check_events(const json_t *v, char out[48], struct calls_refusal *w)
{
	static const char *const known[] = {"initiated", "ringing", "answered", "completed"};
	char seen[4] = {0};
	int r = 0;
	if (!v || json_is_null(v)) {
		seen[3] = 1;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		while (*s && r == 0) {
			size_t sp = strspn(s, " ,");
			s += sp;
			size_t len = strcspn(s, " ,");
			if (len)
				r = add_event(seen, s, len, w);
			s += len;
		}
	} else if (json_is_array(v) && json_array_size(v) <= 8) {
		size_t i;
		json_t *e;
		json_array_foreach (v, i, e) {
			if (!json_is_string(e))
				return refuse(w, 400, "invalid_type",
					      "status_callback_events is a list of names",
					      "status_callback_events");
			if ((r = add_event(seen, json_string_value(e), json_string_length(e), w)) <
			    0)
				return r;
		}
	} else {
		return refuse(w, 400, "invalid_type", "status_callback_events is a list of names",
			      "status_callback_events");
	}
	if (r < 0)
		return r;
	if (!seen[0] && !seen[1] && !seen[2] && !seen[3])
		seen[3] = 1;
	out[0] = '\0';
	for (size_t i = 0; i < 4; i++)
		if (seen[i]) {
			if (out[0])
				strncat(out, " ", 47 - strlen(out));
			strncat(out, known[i], 47 - strlen(out));
		}
	return 0;
}

/* The body's own key equal to field (or field itself: a name in the static table). */
static const char *field_name(const json_t *body, const char *field)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)body, k, v)
		if (field && !strcmp(k, field))
			return k;
	return field;
}

/* Types, lengths and unknown fields: status_callback_events is checked apart (a string or
   an array). */
static int check_shape(const json_t *body, struct calls_refusal *w)
{
	static const struct json_field f[] = {{"from", JF_STRING, true, 256},
					      {"to", JF_STRING, true, 512},
					      {"url", JF_STRING, false, 2048},
					      {"method", JF_STRING, false, 8},
					      {"fallback_url", JF_STRING, false, 2048},
					      {"fallback_method", JF_STRING, false, 8},
					      {"twiml", JF_STRING, false, TWIML_MAX},
					      {"application_id", JF_STRING, false, 64},
					      {"status_callback", JF_STRING, false, 2048},
					      {"status_callback_method", JF_STRING, false, 8},
					      {"timeout", JF_INT, false, 0},
					      {"time_limit", JF_INT, false, 0},
					      {"record", JF_BOOL, false, 0},
					      {0}};
	if (!json_is_object(body))
		return refuse(w, 400, "invalid_body", "request body must be a JSON object", NULL);
	json_t *copy = json_copy((json_t *)body); /* shallow */
	json_object_del(copy, "status_callback_events");
	const char *field = NULL, *code = NULL;
	int r = json_check(copy, f, &field, &code);
	field = field_name(body, field); /* a key of the copy would not outlive it */
	json_decref(copy);
	if (r == 0)
		return 0;
	if (!strcmp(code, "unknown_field"))
		return refuse(w, 400, "unknown_field", "unknown field", field);
	if (!strcmp(code, "missing_field"))
		return refuse(w, 400, "missing_field", "field is required", field);
	if (!strcmp(code, "too_long"))
		return refuse(w, 400, "too_long", "field is too long", field);
	return refuse(w, 400, "invalid_type", "field has the wrong type", field);
}

static int check_range(const json_t *body, const char *key, int64_t lo, int64_t hi, int64_t def,
		       int *ret, const char *msg, struct calls_refusal *w)
{
	int64_t v = json_int(body, key, def);
	if (v < lo || v > hi)
		return refuse(w, 400, "invalid_field", msg, key);
	*ret = (int)v;
	return 0;
}

static int check_from(struct store_tx *tx, const struct calls_request *r, struct calls_accepted *a,
		      struct calls_refusal *w)
{
	if (strcmp(a->kind, "pstn") != 0) {
		if (!display_from_valid(a->from))
			return refuse(w, 400, "invalid_from",
				      "from is 1 to 64 printable characters", "from");
		return 0;
	}
	/* a PSTN callee sees a caller id the tenant must own (as Twilio's verified numbers) */
	if (!e164_valid(a->from))
		return refuse(w, 400, "invalid_from",
			      "from must be an E.164 number (+15551234567) for a phone callee",
			      "from");
	int ok = store_sender_allowed(tx, r->tenant_id, a->from);
	if (ok < 0)
		return ok;
	if (!ok)
		return refuse(w, 400, "from_not_owned", "from is not a number of this account",
			      "from");
	return 0;
}

static int check_source(struct store_tx *tx, const struct calls_request *r,
			struct calls_accepted *a, struct calls_refusal *w)
{
	const json_t *b = r->body;
	int n = !!json_str(b, "url") + !!json_str(b, "twiml") + !!json_str(b, "application_id");
	if (n != 1)
		return refuse(w, 400, n ? "conflicting_fields" : "missing_field",
			      "give exactly one of url, twiml, application_id",
			      json_str(b, "url") || !n ? "url" : "twiml");
	int rr = check_url(b, "url", r->allow_private, &a->url, w);
	if (rr < 0 || (rr = check_method(b, "method", &a->method, w)) < 0)
		return rr;
	if ((rr = check_url(b, "fallback_url", r->allow_private, &a->fallback_url, w)) < 0 ||
	    (rr = check_method(b, "fallback_method", &a->fallback_method, w)) < 0)
		return rr;
	if (a->fallback_url && !a->fallback_method)
		a->fallback_method = "POST";
	a->twiml = json_str(b, "twiml");
	if (a->twiml && !*a->twiml)
		return refuse(w, 400, "invalid_field", "twiml must not be empty", "twiml");
	a->application_id = json_str(b, "application_id");
	if (a->application_id) {
		json_t *app;
		rr = store_application_get(tx, r->tenant_id, a->application_id, &app);
		if (rr == -ENOENT)
			return refuse(w, 400, "invalid_application",
				      "no application with this id in the account",
				      "application_id");
		if (rr < 0)
			return rr;
		json_decref(app);
	}
	return 0;
}

int calls_create_check_tx(struct store_tx *tx, const struct calls_request *r,
			  struct calls_accepted *ret, struct calls_refusal *w)
{
	const json_t *b = r->body;
	struct calls_accepted a = {0};
	int rr = check_shape(b, w);
	if (rr < 0)
		return rr;
	a.to = json_str(b, "to");
	a.from = json_str(b, "from");
	if (calls_check_to(a.to, &a.kind) < 0)
		return refuse(w, 400, "invalid_to",
			      "to must be an E.164 number, a sip: URI or client:NAME", "to");
	if ((rr = check_from(tx, r, &a, w)) < 0 || (rr = check_source(tx, r, &a, w)) < 0)
		return rr;
	if ((rr = check_url(b, "status_callback", r->allow_private, &a.status_callback, w)) < 0 ||
	    (rr = check_method(b, "status_callback_method", &a.status_callback_method, w)) < 0 ||
	    (rr = check_events(json_object_get(b, "status_callback_events"), a.events, w)) < 0)
		return rr;
	if ((rr = check_range(b, "timeout", 5, 600, 60, &a.timeout_s, "timeout is 5 to 600 seconds",
			      w)) < 0 ||
	    (rr = check_range(b, "time_limit", 1, 86400, 14400, &a.time_limit_s,
			      "time_limit is 1 to 86400 seconds", w)) < 0)
		return rr;
	a.record = json_is_true(json_object_get(b, "record"));
	/* destination guardrails (calls/policy.c): the tenant's countries and the premium
	   ranges, before the id is given out; concurrency, daily spend and pacing are the
	   dialler's (legs.c), when the call leaves the queue */
	if (!strcmp(a.kind, "pstn")) {
		json_t *vs = NULL;
		rr = store_voice_settings_get(tx, r->tenant_id, &vs);
		if (rr < 0 && rr != -ENOENT)
			return rr;
		const char *allowed = json_str(vs, "allowed_countries");
		const char *home = json_str(vs, "home_country");
		struct policy_refusal pr;
		rr = policy_dest_check(a.to, allowed && *allowed ? allowed : NULL,
				       home && *home ? home : r->home_country, &pr);
		json_decref(vs);
		if (rr < 0)
			return refuse(w, 403, pr.code, pr.message, "to");
	}
	id_new("CA", a.id);
	*ret = a;
	return 0;
}

/* ---- enqueue ---- */

json_t *calls_event_data(const json_t *row)
{
	char c[TIME_RFC3339_LEN], an[TIME_RFC3339_LEN], e[TIME_RFC3339_LEN];
	json_t *au = json_object_get(row, "answer_us"), *eu = json_object_get(row, "end_us");
	json_t *d = json_object_get(row, "duration_s");
	return json_pack(
	    "{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s,s:s?,s:s?,s:I}", "call_sid",
	    json_str(row, "id"), "account_sid", json_str(row, "tenant_id"), "parent_call_sid",
	    json_str(row, "parent_id"), "from", json_str(row, "from_addr"), "to",
	    json_str(row, "to_addr"), "direction", json_str(row, "direction"), "status",
	    json_str(row, "status"), "started_at",
	    time_fmt((uint64_t)json_integer_value(json_object_get(row, "created_us")), c),
	    "answered_at",
	    json_is_integer(au) ? time_fmt((uint64_t)json_integer_value(au), an) : NULL, "ended_at",
	    json_is_integer(eu) ? time_fmt((uint64_t)json_integer_value(eu), e) : NULL, "duration",
	    (json_int_t)(json_is_integer(d) ? json_integer_value(d) : 0));
}

int calls_create_enqueue_tx(struct bus *bus, struct store_tx *tx, const struct calls_request *r,
			    const struct calls_accepted *a)
{
	struct store_call c = {.id = a->id,
			       .tenant_id = r->tenant_id,
			       .direction = "outbound-api",
			       .from = a->from,
			       .to = a->to,
			       .status = CALL_QUEUED,
			       .url = a->url,
			       .method = a->url ? a->method : NULL,
			       .fallback_url = a->fallback_url,
			       .fallback_method = a->fallback_method,
			       .twiml = a->twiml,
			       .application_id = a->application_id,
			       .status_callback = a->status_callback,
			       .status_callback_method =
				   a->status_callback ? a->status_callback_method : NULL,
			       .status_callback_events = a->events,
			       .timeout_s = a->timeout_s,
			       .time_limit_s = a->time_limit_s,
			       .record = a->record};
	int rr = store_call_insert(tx, &c);
	if (rr < 0)
		return rr;
	char payload[64];
	snprintf(payload, sizeof(payload), "{\"call_id\":\"%s\"}", a->id);
	struct bus_pub p = {.subject = CALLS_DIAL_SUBJECT,
			    .tenant_id = r->tenant_id,
			    .payload = payload,
			    .dedupe_key = a->id};
	if ((rr = bus_publish_tx(bus, tx, &p, NULL)) < 0)
		return rr;
	char ts[TIME_RFC3339_LEN];
	time_fmt(time_now_us(), ts);
	json_t *data = json_pack("{s:s,s:s,s:n,s:s,s:s,s:s,s:s,s:s,s:n,s:n,s:i}", "call_sid", a->id,
				 "account_sid", r->tenant_id, "parent_call_sid", "from", a->from,
				 "to", a->to, "direction", "outbound-api", "status", CALL_QUEUED,
				 "started_at", ts, "answered_at", "ended_at", "duration", 0);
	rr = webhooks_emit_tx(bus, tx, r->tenant_id, "call.queued", data, NULL, NULL);
	json_decref(data);
	return rr < 0 ? rr : 0;
}

/* ---- live-call commands ---- */

static int check_command(const json_t *cmd, bool allow_private, const char **ret_action,
			 struct calls_refusal *w)
{
	static const struct json_field f[] = {{"action", JF_STRING, true, 16},
					      {"url", JF_STRING, false, 2048},
					      {"method", JF_STRING, false, 8},
					      {"twiml", JF_STRING, false, TWIML_MAX},
					      {"to", JF_STRING, false, 512},
					      {"mode", JF_STRING, false, 16},
					      {0}};
	const char *field = NULL, *code = NULL;
	if (json_check(cmd, f, &field, &code) < 0)
		return refuse(w, 400,
			      !strcmp(code, "unknown_field") ? "unknown_field" : "invalid_field",
			      "not a call command", field_name(cmd, field));
	const char *act = json_str(cmd, "action"), *m;
	if (!strcmp(act, "redirect")) {
		if (!!json_str(cmd, "url") + !!json_str(cmd, "twiml") != 1)
			return refuse(w, 400, "missing_field", "redirect takes url or twiml",
				      "url");
		if (check_url(cmd, "url", allow_private, &m, w) < 0 ||
		    check_method(cmd, "method", &m, w) < 0)
			return -EINVAL;
		if (json_str(cmd, "twiml") && !*json_str(cmd, "twiml"))
			return refuse(w, 400, "invalid_field", "twiml must not be empty", "twiml");
	} else if (!strcmp(act, "transfer")) {
		const char *kind, *mode = json_str(cmd, "mode");
		if (calls_check_to(json_str(cmd, "to"), &kind) < 0)
			return refuse(w, 400, "invalid_to",
				      "to must be an E.164 number, a sip: URI or client:NAME",
				      "to");
		if (mode && strcmp(mode, "blind") && strcmp(mode, "attended"))
			return refuse(w, 400, "invalid_field", "mode is blind or attended", "mode");
	} else if (strcmp(act, "hangup") && strcmp(act, "cancel")) {
		return refuse(w, 400, "invalid_field",
			      "action is redirect, hangup, cancel or transfer", "action");
	}
	*ret_action = act;
	return 0;
}

/* A queued call closed before it was dialled: canceled, and its call.completed event. */
static int cancel_queued(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			 const char *id)
{
	static const char *const queued[] = {CALL_QUEUED, NULL};
	struct store_call_update u = {.status = CALL_CANCELED, .sip_code = -1};
	int r = store_call_update(tx, id, queued, &u);
	if (r <= 0)
		return r < 0 ? r : -EAGAIN;
	struct store_call_end e = {.status = CALL_CANCELED,
				   .end_reason = "canceled by API",
				   .sip_code = -1,
				   .q850_cause = -1,
				   .cost_micros = -1};
	if ((r = store_call_finish(tx, id, &e)) < 0)
		return r;
	json_t *row;
	if ((r = store_call_get(tx, tenant_id, id, &row)) < 0)
		return r;
	json_t *data = calls_event_data(row);
	json_decref(row);
	json_object_set_new(data, "hangup_by", json_string("system"));
	json_object_set_new(data, "hangup_cause", json_null());
	json_object_set_new(data, "sip_response_code", json_null());
	json_object_set_new(data, "price", json_null());
	json_object_set_new(data, "price_unit", json_string("USD"));
	r = webhooks_emit_tx(bus, tx, tenant_id, "call.completed", data, NULL, NULL);
	json_decref(data);
	return r < 0 ? r : 1;
}

static int redirect_queued(struct store_tx *tx, const char *id, const json_t *cmd)
{
	static const char *const queued[] = {CALL_QUEUED, NULL};
	const char *m = json_str(cmd, "method");
	struct store_call_update u = {.sip_code = -1};
	if (json_str(cmd, "url")) {
		u.url = json_str(cmd, "url");
		u.method = m && !strcasecmp(m, "GET") ? "GET" : "POST";
		u.twiml = ""; /* the new source replaces the old one */
	} else {
		u.twiml = json_str(cmd, "twiml");
		u.url = "";
	}
	int r = store_call_update(tx, id, queued, &u);
	return r < 0 ? r : (r ? 1 : -EAGAIN);
}

static int publish_control(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			   const char *id, const json_t *cmd)
{
	json_t *p = json_deep_copy(cmd);
	json_object_set_new(p, "call_id", json_string(id));
	char *text = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	if (!text)
		return -ENOMEM;
	struct bus_pub pub = {.subject = CALLS_CONTROL_SUBJECT,
			      .tenant_id = tenant_id,
			      .payload = text,
			      .order_key = id};
	int r = bus_publish_tx(bus, tx, &pub, NULL);
	free(text);
	return r < 0 ? r : 0;
}

int calls_control_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
		     const char *call_id, const json_t *cmd, bool allow_private,
		     struct calls_refusal *w)
{
	const char *act;
	int r = check_command(cmd, allow_private, &act, w);
	if (r < 0)
		return r;
	json_t *row;
	if ((r = store_call_get(tx, tenant_id, call_id, &row)) < 0)
		return r;
	char status[24];
	snprintf(status, sizeof(status), "%s", json_str(row, "status") ?: "");
	bool ended = json_is_integer(json_object_get(row, "end_us"));
	json_decref(row);
	if (ended || calls_status_final(status))
		return refuse(w, 409, "call_ended", "the call has ended", NULL);
	bool queued = !strcmp(status, CALL_QUEUED), answered = !strcmp(status, CALL_IN_PROGRESS);
	if (!strcmp(act, "cancel") && answered)
		return refuse(w, 409, "call_not_cancelable",
			      "only a queued or ringing call can be canceled; hang it up instead",
			      "status");
	if (!strcmp(act, "transfer") && !answered)
		return refuse(w, 409, "call_not_in_progress",
			      "only an answered call can be transferred", NULL);
	if (queued) {
		r = !strcmp(act, "redirect") ? redirect_queued(tx, call_id, cmd)
					     : cancel_queued(bus, tx, tenant_id, call_id);
		if (r != -EAGAIN)
			return r;
		/* the dialler took it in between: it is live now, send the command */
	}
	return publish_control(bus, tx, tenant_id, call_id, cmd);
}
