/* prims.c: the media primitives' commands (collect, record, say, bridge, hold, quality),
   sent from the owner's thread straight to the media thread holding the call (route.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static struct media_cmd *cmd_new(uint64_t call)
{
	struct media_cmd *m = vx_zalloc(sizeof(*m));
	m->call = call;
	m->fd = m->fd_rtcp = -1;
	return m;
}

static int send_cmd(struct voice_engine *e, int type, struct media_cmd *m)
{
	int r = route_push(e, m->call, type, m);
	if (r < 0) {
		voice_audio_unref(m->audio);
		vx_free(m->obj);
		vx_free(m);
	}
	return r;
}

int voice_call_collect(struct voice_engine *e, uint64_t call, const struct voice_collect *c)
{
	if (!c || c->max_digits > 32 || (c->finish_key && voice_dtmf_event(c->finish_key) < 0))
		return -EINVAL;
	struct media_cmd *m = cmd_new(call);
	m->collect = *c;
	if (!m->collect.max_digits)
		m->collect.max_digits = 32;
	if (!m->collect.first_ms)
		m->collect.first_ms = 5000;
	if (!m->collect.inter_ms)
		m->collect.inter_ms = 3000;
	return send_cmd(e, MEDIA_COLLECT, m);
}

int voice_call_record(struct voice_engine *e, uint64_t call, const struct voice_record *r)
{
	if (!r || !r->path || !*r->path || strlen(r->path) >= 512 || r->silence_dbm0 > 0 ||
	    r->silence_dbm0 < -90 || (r->finish_key && voice_dtmf_event(r->finish_key) < 0))
		return -EINVAL;
	struct media_cmd *m = cmd_new(call);
	m->record = *r;
	m->record.path = NULL;
	if (!m->record.max_ms)
		m->record.max_ms = 3600u * 1000;
	if (!m->record.silence_dbm0)
		m->record.silence_dbm0 = -40;
	size_t n = strlen(r->path) + 1;
	m->obj = vx_zalloc(n);
	memcpy(m->obj, r->path, n);
	return send_cmd(e, MEDIA_RECORD, m);
}

int voice_call_stop_record(struct voice_engine *e, uint64_t call)
{
	return send_cmd(e, MEDIA_STOP_RECORD, cmd_new(call));
}

int voice_call_say(struct voice_engine *e, uint64_t call, const char *text, const char *lang,
		   unsigned loops)
{
	struct voice_quality q;
	if (route_quality(e, call, &q) < 0)
		return -ENOENT;
	return tts_say(e, call, text, lang, loops);
}

int voice_call_bridge(struct voice_engine *e, uint64_t a, uint64_t b)
{
	if (a == b)
		return -EINVAL;
	struct media_cmd *m = cmd_new(a);
	m->peer = b;
	int r = route_bridge(e, m);
	if (r < 0)
		vx_free(m);
	return r;
}

int voice_call_unbridge(struct voice_engine *e, uint64_t call)
{
	return send_cmd(e, MEDIA_UNBRIDGE, cmd_new(call));
}

int voice_call_hold(struct voice_engine *e, uint64_t call, struct voice_audio *music)
{
	struct media_cmd *m = cmd_new(call);
	m->audio = voice_audio_ref(music);
	return send_cmd(e, MEDIA_HOLD, m);
}

int voice_call_unhold(struct voice_engine *e, uint64_t call)
{
	return send_cmd(e, MEDIA_UNHOLD, cmd_new(call));
}

int voice_call_quality(struct voice_engine *e, uint64_t call, struct voice_quality *ret)
{
	return route_quality(e, call, ret);
}
