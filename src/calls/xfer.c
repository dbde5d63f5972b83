/* xfer.c: live-call commands from the call.control queue: redirect, hang up, cancel, and
   transfers (blind: the far party leaves and the call is bridged to the new leg; attended:
   the agent talks to the new leg while the caller holds, and the caller joins it when the
   agent hangs up). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "webhooks/webhooks.h"

/* ---- live-call commands ---- */

void legs_transfer(struct calls *c, struct ccall *k, const char *to, bool attended)
{
	struct ccall *old = ccall_by_lid(c, k->dial_lid);
	if (!old)
		old = ccall_by_lid(c, k->peer_lid);
	k->gen++;
	k->wait = W_HOLD;
	k->cur = NULL;
	struct ccall *x = ccall_new(c);
	id_new("CA", x->id);
	memcpy(x->tenant, k->tenant, sizeof(x->tenant));
	memcpy(x->parent, k->id, sizeof(x->parent));
	snprintf(x->direction, sizeof(x->direction), "outbound-dial");
	snprintf(x->status, sizeof(x->status), CALL_QUEUED);
	snprintf(x->from, sizeof(x->from), "%s", k->from);
	snprintf(x->to, sizeof(x->to), "%s", to);
	x->auth_token = xstrdup(k->auth_token);
	x->sc_events = CDOC_EV_COMPLETED;
	x->dial_timeout_s = 30;
	x->xfer_lid = k->lid;
	k->xfer_lid = x->lid;
	rec_insert_leg(c, x);
	if (!c->hold_music)
		voice_audio_tone(440, 480, -19, 2000, 4000, 6000, &c->hold_music);
	voice_call_hold(c->engine, k->eid, c->hold_music);
	if (old && !attended) { /* blind: the old far party leaves now */
		old->parent_lid = 0;
		old->peer_lid = 0;
		k->dial_lid = 0;
		k->peer_lid = 0;
		voice_call_hangup(c->engine, old->eid);
	} else if (old) {
		k->xfer_attended = true;
		k->dial_lid = 0;
		old->parent_lid = 0;
		k->peer_lid = old->lid;
		old->peer_lid = 0; /* its end must not end k */
	}
	if (to[0] == '+') {
		struct leg_prep *p = mem_zalloc(sizeof(*p));
		p->lid = x->lid;
		memcpy(p->tenant, x->tenant, sizeof(p->tenant));
		snprintf(p->to, sizeof(p->to), "%s", to);
		calls_work(c, legs_routes_work, p);
	} else {
		legs_place(c, x);
	}
}

/* the transfer leg answered: join it (blind) or let the agent talk to it (attended) */
void legs_xfer_answered(struct calls *c, struct ccall *x)
{
	struct ccall *k = ccall_by_lid(c, x->xfer_lid);
	if (!k || k->ended) {
		voice_call_hangup(c->engine, x->eid);
		return;
	}
	struct ccall *agent = k->xfer_attended ? ccall_by_lid(c, k->peer_lid) : NULL;
	if (agent && !agent->ended) {
		voice_call_bridge(c->engine, agent->eid, x->eid);
		return;
	}
	k->xfer_attended = false;
	voice_call_unhold(c->engine, k->eid);
	voice_call_bridge(c->engine, k->eid, x->eid);
	k->peer_lid = x->lid;
	x->peer_lid = k->lid;
}

void legs_on_control(struct calls *c, struct task *t)
{
	const char *id = json_str(t->row, "call_id"), *action = json_str(t->row, "action");
	struct ccall *k = id ? ccall_by_id(c, id) : NULL;
	if (!k || k->ended || !action)
		return; /* not live here: nothing to do (acked) */
	if (!strcmp(action, "hangup") || !strcmp(action, "cancel")) {
		voice_call_hangup(c->engine, k->eid);
		return;
	}
	if (!k->answered)
		return;
	if (!strcmp(action, "redirect")) {
		struct ccall *x = ccall_by_lid(c, k->dial_lid);
		if (x) {
			x->parent_lid = 0;
			k->dial_lid = 0;
			voice_call_hangup(c->engine, x->eid);
		}
		voice_call_stop_play(c->engine, k->eid);
		if (k->rec_id[0])
			voice_call_stop_record(c->engine, k->eid);
		const char *twiml = json_str(t->row, "twiml");
		if (twiml) {
			struct cdoc *d = NULL;
			struct cdoc_error err;
			if (cdoc_parse(twiml, strlen(twiml), NULL, &d, &err) < 0)
				interp_doc_failed(c, k, NULL, err.message);
			else
				interp_run(c, k, d, k->doc_url);
			return;
		}
		k->gen++;
		interp_fetch(c, k, json_str(t->row, "url"), json_str(t->row, "method"), NULL);
		return;
	}
	if (!strcmp(action, "transfer")) {
		const char *to = json_str(t->row, "to"), *mode = json_str(t->row, "mode");
		if (to)
			legs_transfer(c, k, to, mode && !strcmp(mode, "attended"));
	}
}
