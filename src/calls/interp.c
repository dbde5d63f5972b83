/* interp.c: runs call-control documents. Verbs run top to bottom on the control thread;
   each one that takes time (speech, audio, a digit collection, a recording, a Dial) starts
   an engine primitive and waits for its event. Documents are fetched on the workers, with
   the Twilio request parameters, signed, through the SSRF guard; a failed fetch or parse
   tries the fallback URL, then the caller hears a short error prompt, and the tenant gets a
   call.error event. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "webhooks/webhooks.h"

#define ERROR_PROMPT "An application error has occurred. Goodbye."

json_t *interp_params(const struct ccall *k)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "CallSid", k->id, "AccountSid",
			 k->tenant, "From", k->from, "To", k->to, "Caller", k->from, "Called",
			 k->to, "CallStatus", k->status, "Direction", k->direction, "ApiVersion",
			 "2010-04-01");
}

/* ---- fetching documents (workers) ---- */

struct app_q {
	const char *id;
	json_t *row;
};

static int app_fn(struct store_tx *tx, void *arg)
{
	struct app_q *q = arg;
	return store_application_get(tx, store_tx_tenant(tx), q->id, &q->row);
}

/* irisx:applications/<id>[?Digits=...]: the stored document, or the IVR branch */
static struct cdoc *app_doc(struct calls *c, struct fetch_req *f, char **ret_err)
{
	char id[ID_LEN + 1] = "";
	const char *p = f->url + strlen("irisx:applications/");
	size_t n = strcspn(p, "?/");
	if (n != ID_LEN) {
		*ret_err = mem_strdup("unknown application");
		return NULL;
	}
	memcpy(id, p, n);
	const char *digits = NULL;
	const char *q = strstr(p, "?Digits=");
	if (q)
		digits = q + 8;
	else if (json_is_string(json_object_get(f->params, "Digits")))
		digits = json_str(f->params, "Digits");
	struct app_q aq = {id, NULL};
	if (store_tx(c->st, f->tenant, STORE_READ, app_fn, &aq) < 0 || !aq.row) {
		*ret_err = mem_strdup("application not found");
		return NULL;
	}
	struct cdoc *d = NULL;
	struct cdoc_error err = {0};
	const char *kind = json_str(aq.row, "kind");
	if (kind && !strcmp(kind, "ivr")) {
		json_t *form = json_loads(json_str(aq.row, "source"), 0, NULL);
		char *xml = NULL;
		if (form && cdoc_ivr_compile(form, id, digits, &xml, &err) == 0)
			cdoc_parse_xml(xml, strlen(xml), &d, &err);
		mem_free(xml);
		json_decref(form);
	} else {
		const char *doc = json_str(aq.row, "document");
		if (doc)
			cdoc_parse(doc, strlen(doc), NULL, &d, &err);
	}
	json_decref(aq.row);
	if (!d) {
		char m[220];
		snprintf(m, sizeof(m), "application document invalid: %s", err.message);
		*ret_err = mem_strdup(m);
	}
	return d;
}

struct cdoc *interp_fetch_doc(struct calls *c, struct fetch_req *f, char **ret_err)
{
	if (!strncmp(f->url, "irisx:applications/", 19))
		return app_doc(c, f, ret_err);
	struct webhooks_fetch w = {.url = f->url,
				   .method = f->method,
				   .auth_token = f->auth_token,
				   .params = f->params,
				   .timeout_ms = 15000,
				   .max_body = CDOC_MAX_BYTES,
				   .allow_private = c->cfg->outbound_allow_private};
	struct webhooks_fetch_result res;
	int r = webhooks_fetch(&w, &res);
	char m[256];
	if (r < 0) {
		snprintf(m, sizeof(m), "fetch of %s failed: %s", f->url,
			 res.error ? res.error : "error");
		*ret_err = mem_strdup(m);
		free(res.body);
		return NULL;
	}
	if (res.status < 200 || res.status > 299) {
		snprintf(m, sizeof(m), "fetch of %s answered HTTP %d", f->url, res.status);
		*ret_err = mem_strdup(m);
		free(res.body);
		return NULL;
	}
	struct cdoc *d = NULL;
	struct cdoc_error err = {0};
	if (cdoc_parse(res.body ? res.body : "", res.body_len, res.content_type, &d, &err) < 0) {
		snprintf(m, sizeof(m), "document from %s invalid (line %d): %s", f->url, err.line,
			 err.message);
		*ret_err = mem_strdup(m);
	}
	free(res.body);
	return d;
}

void interp_fetch_work(struct calls *c, void *arg)
{
	struct fetch_req *f = arg;
	struct task *t = mem_zalloc(sizeof(*t));
	t->kind = T_DOC;
	t->lid = f->lid;
	t->gen = f->gen;
	t->url = mem_strdup(f->url);
	t->doc = interp_fetch_doc(c, f, &t->error);
	calls_post(c, t);
	mem_free(f->url);
	mem_free(f->method);
	mem_free(f->auth_token);
	json_decref(f->params);
	mem_free(f);
}

char *interp_abs_url(const struct ccall *k, const char *url)
{
	char abs[2048];
	if (!url || !*url)
		return NULL;
	if (k->doc_url && strncmp(k->doc_url, "irisx:", 6) &&
	    cdoc_url_resolve(k->doc_url, url, abs, sizeof(abs)) == 0)
		return mem_strdup(abs);
	return mem_strdup(url);
}

void interp_fetch(struct calls *c, struct ccall *k, const char *url, const char *method,
		  json_t *extra)
{
	char abs[2048];
	if (!url || !*url)
		url = k->doc_url;
	if (!url) {
		json_decref(extra);
		interp_doc_failed(c, k, NULL, "no URL to request (inline document without action)");
		return;
	}
	if (strncmp(url, "irisx:", 6) && k->doc_url && strncmp(k->doc_url, "irisx:", 6) &&
	    cdoc_url_resolve(k->doc_url, url, abs, sizeof(abs)) == 0)
		url = abs;
	struct fetch_req *f = mem_zalloc(sizeof(*f));
	f->lid = k->lid;
	f->gen = ++k->gen;
	memcpy(f->tenant, k->tenant, sizeof(f->tenant));
	f->url = mem_strdup(url);
	f->method = mem_strdup(method && !strcasecmp(method, "GET") ? "GET" : "POST");
	f->auth_token = xstrdup(k->auth_token);
	f->params = interp_params(k);
	if (extra) {
		json_object_update(f->params, extra);
		json_decref(extra);
	}
	k->wait = W_FETCH;
	calls_work(c, interp_fetch_work, f);
}

void interp_doc_failed(struct calls *c, struct ccall *k, const char *url, const char *why)
{
	calls_log(LOG_WARN, "call document failed", "call", k->id, "reason", why, NULL);
	rec_error(c, k, url, why);
	if (k->fallback_url && !k->fallback_tried) {
		k->fallback_tried = true;
		interp_fetch(c, k, k->fallback_url, k->fallback_method, NULL);
		return;
	}
	/* the caller hears why the call ends; failures are never silent */
	static const char xml[] = "<Response><Say>" ERROR_PROMPT "</Say><Hangup/></Response>";
	struct cdoc *d = NULL;
	struct cdoc_error err;
	if (cdoc_parse_xml(xml, sizeof(xml) - 1, &d, &err) < 0) {
		voice_call_hangup(c->engine, k->eid);
		return;
	}
	k->error_prompt = true;
	interp_run(c, k, d, k->doc_url);
}

/* ---- running verbs ---- */

void interp_run(struct calls *c, struct ccall *k, struct cdoc *doc, const char *url)
{
	cdoc_free(k->doc);
	k->doc = doc;
	if (url != k->doc_url) {
		char *u = xstrdup(url);
		mem_free(k->doc_url);
		k->doc_url = u;
	}
	k->pc = 0;
	k->cur = NULL;
	k->gen++;
	k->wait = W_NONE;
	interp_step(c, k);
}

/* "en-US" -> "en"; Twilio voices (alice, man, Polly.*) pick no engine here */
static void say_lang(const struct cdoc_verb *v, char out[16])
{
	const char *l = v->language ? v->language : "en";
	size_t i = 0;
	for (; l[i] && l[i] != '-' && l[i] != '_' && i < 15; i++)
		out[i] = (char)tolower((unsigned char)l[i]);
	out[i] = 0;
}

static void start_say(struct calls *c, struct ccall *k, const struct cdoc_verb *v)
{
	char lang[16];
	say_lang(v, lang);
	if (voice_call_say(c->engine, k->eid, v->text ? v->text : "", lang, v->loop) < 0) {
		k->wait = W_NONE;
		return;
	}
	k->wait = W_PLAY;
}

static void start_play(struct calls *c, struct ccall *k, const struct cdoc_verb *v)
{
	if (v->digits && *v->digits) {
		char d[64];
		size_t n = 0;
		for (const char *p = v->digits; *p && n < sizeof(d) - 1; p++)
			if (*p != 'w' && *p != 'W')
				d[n++] = *p;
		d[n] = 0;
		voice_call_send_dtmf(c->engine, k->eid, d);
	}
	if (!v->text || !*v->text) {
		k->wait = W_NONE;
		return;
	}
	struct fetch_req *f = mem_zalloc(sizeof(*f));
	f->lid = k->lid;
	f->gen = k->gen;
	memcpy(f->tenant, k->tenant, sizeof(f->tenant));
	char abs[2048];
	const char *url = v->text;
	if (k->doc_url && strncmp(k->doc_url, "irisx:", 6) &&
	    cdoc_url_resolve(k->doc_url, url, abs, sizeof(abs)) == 0)
		url = abs;
	f->url = mem_strdup(url);
	k->loops_left = v->loop;
	k->wait = W_AUDIO;
	calls_work(c, interp_audio_work, f);
}

static void gather_next(struct calls *c, struct ccall *k);

static void go_on(struct calls *c, struct ccall *k)
{
	k->wait = W_NONE;
	if (k->cur && k->cur->kind == CDOC_GATHER)
		gather_next(c, k);
	else
		interp_step(c, k);
}

void interp_on_audio(struct calls *c, struct ccall *k, struct voice_audio *a, const char *err)
{
	if (!a) {
		rec_error(c, k, NULL, err ? err : "audio not loaded");
		go_on(c, k); /* Twilio goes on with the next verb */
		return;
	}
	if (voice_call_play(c->engine, k->eid, a, k->loops_left) < 0) {
		go_on(c, k);
		return;
	}
	k->wait = W_PLAY;
}

/* Gather: the next child (Say, Play, Pause), or wait for the digits */
static void gather_next(struct calls *c, struct ccall *k)
{
	const struct cdoc_verb *g = k->cur;
	while (!k->collect_done && k->child < g->nchildren) {
		const struct cdoc_verb *ch = &g->children[k->child++];
		if (ch->kind == CDOC_SAY) {
			char lang[16];
			say_lang(ch, lang);
			if (voice_call_say(c->engine, k->eid, ch->text ? ch->text : "", lang,
					   ch->loop) == 0) {
				k->wait = W_PLAY;
				return;
			}
		} else if (ch->kind == CDOC_PLAY && ch->text && *ch->text) {
			const struct cdoc_verb *save = k->cur;
			k->cur = ch;
			start_play(c, k, ch);
			k->cur = save;
			if (k->wait == W_AUDIO)
				return;
		} else if (ch->kind == CDOC_PAUSE) {
			k->wait = W_PAUSE;
			calls_timer(c, k, time_now_us() + (uint64_t)ch->length_s * 1000000,
				    TM_PAUSE);
			return;
		}
	}
	k->wait = W_GATHER;
	if (k->collect_done) {
		/* digits are in: the action gets them, or the next verb runs */
		k->wait = W_NONE;
		if (k->digits[0] || g->action_on_empty) {
			json_t *x = json_pack("{s:s}", "Digits", k->digits);
			if (g->action || k->doc_url) {
				interp_fetch(c, k, g->action, g->method, x);
				return;
			}
			json_decref(x);
		}
		interp_step(c, k);
	}
}

static void start_gather(struct calls *c, struct ccall *k, const struct cdoc_verb *v)
{
	struct voice_collect col = {.max_digits = v->num_digits ? v->num_digits : 32,
				    .finish_key = v->finish_on_key[0],
				    .first_ms = v->timeout_s * 1000,
				    .inter_ms = v->timeout_s * 1000,
				    .barge_in = v->barge_in};
	k->child = 0;
	k->collect_done = false;
	k->digits[0] = 0;
	if (voice_call_collect(c->engine, k->eid, &col) < 0) {
		k->wait = W_NONE;
		return;
	}
	gather_next(c, k);
}

static void start_record(struct calls *c, struct ccall *k, const struct cdoc_verb *v)
{
	mem_free(k->rec_cb);
	mem_free(k->rec_cb_method);
	k->rec_cb = interp_abs_url(k, v->recording_status_callback);
	k->rec_cb_method = xstrdup(v->recording_status_callback_method);
	rec_recording_start(c, k, "Record");
	k->rec_whole = false;
	char path[640];
	snprintf(path, sizeof(path), "%s/%s.wav", c->rec_dir, k->rec_id);
	char fk = 0;
	if (strchr(v->finish_on_key, '#'))
		fk = '#';
	else if (v->finish_on_key[0])
		fk = v->finish_on_key[0];
	struct voice_record r = {.path = path,
				 .beep = v->play_beep,
				 .max_ms = v->max_length_s * 1000,
				 .silence_ms = v->timeout_s * 1000,
				 .finish_key = fk,
				 .trim = v->trim};
	if (voice_call_record(c->engine, k->eid, &r) < 0) {
		k->rec_id[0] = 0;
		k->wait = W_NONE;
		return;
	}
	k->wait = W_RECORD;
}

void interp_step(struct calls *c, struct ccall *k)
{
	while (k->wait == W_NONE && !k->ended) {
		if (!k->answered) { /* inbound: answer when the first verb that needs media runs */
			const struct cdoc_verb *v =
			    k->doc && k->pc < k->doc->nverbs ? &k->doc->verbs[k->pc] : NULL;
			if (v && v->kind == CDOC_REJECT) {
				voice_call_reject(c->engine, k->eid,
						  v->text && !strcmp(v->text, "busy") ? 486 : 603);
				k->wait = W_ENDED;
				return;
			}
			if (!v || v->kind == CDOC_HANGUP) {
				voice_call_reject(c->engine, k->eid, 603);
				k->wait = W_ENDED;
				return;
			}
			voice_call_answer(c->engine, k->eid);
			k->wait = W_ANSWER;
			return;
		}
		if (!k->doc || k->pc >= k->doc->nverbs) { /* the document ended: hang up */
			voice_call_hangup(c->engine, k->eid);
			k->hangup_sent = true;
			k->wait = W_ENDED;
			return;
		}
		const struct cdoc_verb *v = &k->doc->verbs[k->pc++];
		k->cur = v;
		switch (v->kind) {
		case CDOC_SAY:
			start_say(c, k, v);
			break;
		case CDOC_PLAY:
			start_play(c, k, v);
			break;
		case CDOC_PAUSE:
			k->wait = W_PAUSE;
			calls_timer(c, k, time_now_us() + (uint64_t)v->length_s * 1000000,
				    TM_PAUSE);
			break;
		case CDOC_GATHER:
			start_gather(c, k, v);
			break;
		case CDOC_RECORD:
			start_record(c, k, v);
			break;
		case CDOC_DIAL:
			legs_dial_verb(c, k);
			break;
		case CDOC_HANGUP:
		case CDOC_REJECT:
			voice_call_hangup(c->engine, k->eid);
			k->hangup_sent = true;
			k->wait = W_ENDED;
			break;
		case CDOC_REDIRECT:
			interp_fetch(c, k, v->text, v->method, NULL);
			break;
		}
	}
}

static void record_action(struct calls *c, struct ccall *k, const struct voice_event *ev)
{
	const struct cdoc_verb *v = k->cur;
	char url[512], dur[16];
	snprintf(url, sizeof(url), "http://%s/v1/recordings/%s/audio", c->cfg->http_listen,
		 ev ? k->rec_id : "");
	snprintf(dur, sizeof(dur), "%u", ev ? (ev->duration_ms + 500) / 1000 : 0);
	json_t *x = json_pack("{s:s,s:s,s:s,s:s}", "RecordingUrl", url, "RecordingSid", k->rec_id,
			      "RecordingDuration", dur, "Digits",
			      ev && ev->code == VOICE_RECORD_FINISH ? "#" : "");
	k->rec_id[0] = 0;
	if (v && (v->action || k->doc_url))
		interp_fetch(c, k, v->action, v->method, x);
	else {
		json_decref(x);
		k->wait = W_NONE;
		interp_step(c, k);
	}
}

void interp_on_event(struct calls *c, struct ccall *k, const struct voice_event *ev)
{
	switch (ev->type) {
	case VOICE_EV_ANSWERED:
		if (!k->answered) {
			k->answered = true;
			k->answer_us = time_now_us();
			rec_status(c, k, CALL_IN_PROGRESS);
		}
		if (k->wait == W_ANSWER) {
			k->wait = W_NONE;
			interp_step(c, k);
		}
		break;
	case VOICE_EV_PLAY_DONE:
		if (k->wait != W_PLAY)
			break;
		k->wait = W_NONE;
		if (k->cur && k->cur->kind == CDOC_GATHER)
			gather_next(c, k);
		else
			interp_step(c, k);
		break;
	case VOICE_EV_COLLECTED:
		if (!k->cur || k->cur->kind != CDOC_GATHER || ev->code == VOICE_COLLECT_STOPPED)
			break;
		k->collect_done = true;
		snprintf(k->digits, sizeof(k->digits), "%s", ev->digits);
		if (k->wait == W_GATHER) {
			gather_next(c, k);
		} else if (k->wait == W_PLAY || k->wait == W_AUDIO || k->wait == W_PAUSE) {
			voice_call_stop_play(c->engine, k->eid);
			if (k->wait != W_PLAY) { /* nothing will end: evaluate now */
				k->gen++;
				k->child = k->cur->nchildren;
				gather_next(c, k);
			} else {
				k->child = k->cur->nchildren;
			}
		}
		break;
	case VOICE_EV_RECORD_DONE:
		rec_recording_done(c, k, ev);
		if (k->wait == W_RECORD && !k->ended)
			record_action(c, k, ev);
		if (k->ended && !k->rec_id[0])
			ccall_free(c, k);
		break;
	case VOICE_EV_HANGUP:
		k->ended = true;
		k->end_cause = (int)ev->cause;
		k->sip_code = ev->code;
		if (ev->quality.rx_packets || ev->quality.mos > 0) {
			k->q = ev->quality;
			k->have_q = true;
		}
		if (!k->id[0] && k->wait == W_FETCH)
			break; /* still resolving: closed when the setup comes back */
		legs_on_hangup(c, k);
		rec_finish(c, k, ev, NULL);
		if (!k->rec_id[0]) /* else freed once the recording's file is complete */
			ccall_free(c, k);
		break;
	case VOICE_EV_REFER: /* the far end asks for a blind transfer (202 and NOTIFY sent) */
		calls_log(LOG_INFO, "transfer requested by the far end", "call", k->id, "refer_to",
			  ev->to, NULL);
		if (k->answered && !k->ended && (!strncmp(ev->to, "sip:", 4) || ev->to[0] == '+')) {
			rec_refer(c, k, ev->to);
			legs_transfer(c, k, ev->to, false);
		}
		break;
	default:
		break;
	}
}

void interp_on_timer(struct calls *c, struct ccall *k, int what)
{
	if (what != TM_PAUSE || k->wait != W_PAUSE)
		return;
	k->wait = W_NONE;
	if (k->cur && k->cur->kind == CDOC_GATHER)
		gather_next(c, k);
	else
		interp_step(c, k);
}
