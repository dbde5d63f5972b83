/* trunk.c: carrier trunks on the signalling thread: outbound REGISTER through libre's sipreg
   (refreshed before it expires) and OPTIONS health pings with up/down events. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sigx.h"

struct trunk {
	struct le le;
	struct sigx *x;
	uint64_t id;
	char uri[256], aor[320], user[64], password[128];
	struct sipreg *reg;
	struct sip_request *ping;
	struct tmr tmr;
	unsigned ping_ms, down_after, missed, cseq;
	bool up, reported;
};

static void emit_trunk(struct trunk *t, enum voice_event_type type, int code)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.call = t->id;
	ev.code = code;
	snprintf(ev.to, sizeof(ev.to), "%.127s", t->uri);
	engine_emit(t->x->e, &ev);
}

static void set_state(struct trunk *t, bool up, int code)
{
	if (t->reported && t->up == up)
		return;
	t->reported = true;
	t->up = up;
	emit_trunk(t, up ? VOICE_EV_TRUNK_UP : VOICE_EV_TRUNK_DOWN, code);
}

/* arg: the REGISTER credentials, "user\0password\0" in a libre mbuf that the sipreg's digest
   state holds a reference to, because the un-REGISTER sent when the trunk is freed may be
   challenged after the trunk is gone. (An mbuf, since libre's mem_zalloc is not reachable by
   name here: core's shadows it, see docs/voice.md "Symbol clash".) */
static int auth_h(char **user, char **pass, const char *realm, void *arg)
{
	const char *cred = (const char *)((struct mbuf *)arg)->buf;
	int err = str_dup(user, cred);
	return err ? err : str_dup(pass, cred + strlen(cred) + 1);
}

static void reg_resp_h(int err, const struct sip_msg *msg, void *arg)
{
	struct trunk *t = arg;
	int code = msg ? msg->scode : err == ETIMEDOUT ? 408 : 503;
	if (msg && msg->scode < 200)
		return;
	emit_trunk(t, VOICE_EV_TRUNK_REG, code);
}

static void ping_resp_h(int err, const struct sip_msg *msg, void *arg)
{
	struct trunk *t = arg;
	if (msg && msg->scode < 200)
		return;
	/* any final answer shows the trunk is alive, except a 503 (overloaded or down) */
	if (msg && msg->scode != 503) {
		t->missed = 0;
		set_state(t, true, msg->scode);
	} else if (++t->missed >= t->down_after) {
		set_state(t, false, msg ? msg->scode : 408);
	}
}

static void ping_tmr(void *arg)
{
	struct trunk *t = arg;
	if (t->ping) {
		/* the previous ping is still unanswered: it counts as missed */
		t->ping = mem_deref(t->ping);
		if (++t->missed >= t->down_after)
			set_state(t, false, 408);
	}
	struct sa laddr;
	(void)sip_transp_laddr(t->x->sip, &laddr, SIP_TRANSP_UDP, NULL);
	int err = sip_requestf(
	    &t->ping, t->x->sip, true, "OPTIONS", t->uri, NULL, NULL, NULL, ping_resp_h, t,
	    "Max-Forwards: 70\r\nTo: <%s>\r\nFrom: <sip:irisx@%j>;tag=%016llx\r\n"
	    "Call-ID: %016llx@irisx\r\nCSeq: %u OPTIONS\r\nUser-Agent: %s\r\n"
	    "Content-Length: 0\r\n\r\n",
	    t->uri, &laddr, rand_u64(), rand_u64(), ++t->cseq, t->x->e->user_agent);
	if (err && ++t->missed >= t->down_after)
		set_state(t, false, 503);
	tmr_start(&t->tmr, t->ping_ms, ping_tmr, t);
}

static void trunk_free(struct trunk *t)
{
	tmr_cancel(&t->tmr);
	list_unlink(&t->le);
	t->ping = mem_deref(t->ping);
	t->reg = mem_deref(t->reg); /* un-REGISTERs */
	vx_free(t);
}

/* sip:[user@]host[:port][;params] -> sip:USER@host[:port] for To and From */
static int make_aor(struct trunk *t)
{
	const char *h = t->uri + 4;
	const char *at = strchr(h, '@');
	if (at)
		h = at + 1;
	size_t hl = strcspn(h, ";?>");
	int n = snprintf(t->aor, sizeof(t->aor), "sip:%s@%.*s", t->user, (int)hl, h);
	return n > 0 && (size_t)n < sizeof(t->aor) ? 0 : -E2BIG;
}

static int trunk_register(struct trunk *t, unsigned expires)
{
	if (make_aor(t) < 0)
		return EINVAL;
	struct mbuf *cr = mbuf_alloc(sizeof(t->user) + sizeof(t->password));
	if (!cr)
		return ENOMEM;
	int err = mbuf_write_mem(cr, (const uint8_t *)t->user, strlen(t->user) + 1);
	err |= mbuf_write_mem(cr, (const uint8_t *)t->password, strlen(t->password) + 1);
	if (!err)
		err = sipreg_register(&t->reg, t->x->sip, t->uri, t->aor, NULL, t->aor, expires,
				      t->user, NULL, 0, 0, auth_h, cr, true, reg_resp_h, t, NULL,
				      NULL);
	mem_deref(cr);
	return err;
}

void trunk_add(struct sigx *x, struct sigx_trunk_cmd *cmd)
{
	struct trunk *t = vx_zalloc(sizeof(*t));
	t->x = x;
	t->id = cmd->id;
	snprintf(t->uri, sizeof(t->uri), "%s", cmd->uri);
	snprintf(t->user, sizeof(t->user), "%s", cmd->user);
	snprintf(t->password, sizeof(t->password), "%s", cmd->password);
	t->ping_ms = cmd->ping_ms;
	t->down_after = cmd->down_after;
	tmr_init(&t->tmr);
	list_append(&x->trunks, &t->le, t);
	if (cmd->register_expires && trunk_register(t, cmd->register_expires) != 0)
		emit_trunk(t, VOICE_EV_TRUNK_REG, 0);
	if (t->ping_ms)
		tmr_start(&t->tmr, 0, ping_tmr, t);
}

static struct trunk *find(struct sigx *x, uint64_t id)
{
	for (struct le *le = x->trunks.head; le; le = le->next) {
		struct trunk *t = le->data;
		if (t->id == id)
			return t;
	}
	return NULL;
}

void trunk_del(struct sigx *x, uint64_t id)
{
	struct trunk *t = find(x, id);
	if (t)
		trunk_free(t);
}

void trunk_close_all(struct sigx *x)
{
	while (x->trunks.head)
		trunk_free(x->trunks.head->data);
}
