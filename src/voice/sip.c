/* sip.c: a signalling thread: libre's SIP stack on UDP and TCP, inbound and outbound INVITE
   sessions with SDP offer/answer, OPTIONS, the message size cap, and the calls' SIP state.
   There are cfg.sig_threads of them, each with its own stack on sip_port + idx; a call
   belongs to the one that received or dialled it. */
#include <errno.h>
#include <openssl/ssl.h>
#include <re.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sigx.h"

#define ALLOW_HDR "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, REFER, NOTIFY\r\n"

enum { SDP_MAX = 2048, QUIT_GRACE_MS = 300 };

struct sig {
	struct voice_engine *e;
	struct sig_thread *t; /* this stack, as the other threads see it */
	struct sip *sip;
	struct sipsess_sock *sock;
	struct sip_lsnr *lsnr_cap_req, *lsnr_cap_resp, *lsnr_opt;
	struct sip_lsnr *lsnr_edge_req, *lsnr_edge_resp, *lsnr_reg;
	struct sipevent_sock *evsock;
	struct dnsc *dnsc;
	struct tls *tls; /* the TLS listener's context, NULL without one */
	struct sigx *x;
	struct hash *calls;
	struct mqueue *mq;
	struct tmr quit_tmr;
	unsigned ncalls, next_media;
	bool quitting;
};

struct scall {
	struct le he;
	struct sig *s;
	uint64_t id;
	struct sipsess *sess;
	bool outbound, answered, established, media_on;
	bool counted; /* holds one of the engine's max_calls */
	int fd, fd_rtcp;
	uint16_t port;
	unsigned media;
	struct voice_sdp_choice choice;
	struct voice_sdp remote; /* the latest description from the far end */
	uint64_t sdp_version;
	struct tmr tmr;		     /* outbound: no-answer timeout */
	struct voice_audio *pending; /* played once media runs */
	unsigned pending_loops;
	bool early;		  /* 183 with our SDP sent, media runs before the 200 */
	struct sipnot *refer_not; /* the implicit subscription of a REFER we accepted */
	char auth_user[64], auth_pass[128];
};

static void refer_h(struct sip *sip, const struct sip_msg *msg, void *arg);

static bool call_cmp(struct le *le, void *arg)
{
	const struct scall *c = le->data;
	return c->id == *(const uint64_t *)arg;
}

static struct scall *find(struct sig *s, uint64_t id)
{
	struct le *le = hash_lookup(s->calls, (uint32_t)id, call_cmp, &id);
	return le ? le->data : NULL;
}

static void emit_call(struct scall *c, enum voice_event_type type, int code, enum voice_end cause)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.call = c->id;
	ev.code = code;
	ev.cause = cause;
	engine_emit(c->s->e, &ev);
}

static struct media_cmd *mcmd(uint64_t call)
{
	struct media_cmd *m = vx_zalloc(sizeof(*m));
	m->call = call;
	m->fd = m->fd_rtcp = -1;
	return m;
}

static void media_push(struct scall *c, int type, struct media_cmd *m)
{
	if (engine_media_push(c->s->e, c->media, type, m) < 0) {
		voice_audio_unref(m->audio);
		if (type == MEDIA_ADD) {
			close(m->fd);
			close(m->fd_rtcp);
		}
		vx_free(m);
	}
}

/* Frees the call; hangs up on the far end if the session still exists. */
static void call_free(struct scall *c)
{
	struct sig *s = c->s;
	tmr_cancel(&c->tmr);
	hash_unlink(&c->he);
	c->refer_not = mem_deref(c->refer_not);
	c->sess = mem_deref(c->sess);
	if (c->media_on) {
		media_push(c, MEDIA_DEL, mcmd(c->id));
	} else {
		if (c->fd >= 0)
			close(c->fd);
		if (c->fd_rtcp >= 0)
			close(c->fd_rtcp);
	}
	voice_audio_unref(c->pending);
	s->ncalls--;
	atomic_fetch_sub(&s->t->calls, 1);
	if (c->counted)
		atomic_fetch_sub(&s->e->calls, 1);
	vx_free(c);
}

static struct scall *call_new(struct sig *s, uint64_t id)
{
	struct scall *c = vx_zalloc(sizeof(*c));
	c->s = s;
	c->id = id;
	c->fd = c->fd_rtcp = -1;
	c->media = (s->next_media + s->t->idx) % s->e->nmedia; /* stacks start apart */
	s->next_media = (s->next_media + 1) % s->e->nmedia;
	vx_rand(&c->sdp_version, sizeof(c->sdp_version));
	c->sdp_version &= 0x3fffffffffffffffULL;
	tmr_init(&c->tmr);
	hash_append(s->calls, (uint32_t)id, &c->he, c);
	s->ncalls++;
	atomic_fetch_add(&s->t->calls, 1);
	c->counted = engine_call_reserve(s->e); /* max_calls is engine-wide, over all stacks */
	return c;
}

/* ---- SDP ---- */

static int body_sdp(const struct sip_msg *msg, struct voice_sdp *ret)
{
	size_t n = mbuf_get_left(msg->mb);
	if (n == 0)
		return -ENODATA;
	if (n > SDP_MAX)
		return -E2BIG;
	return voice_sdp_parse((const char *)mbuf_buf(msg->mb), n, ret);
}

static int remote_sockaddr(const struct voice_sdp *sdp, struct media_cmd *m)
{
	struct sa sa;
	if (sa_set_str(&sa, sdp->addr, sdp->port) != 0)
		return -EINVAL;
	memset(&m->raddr, 0, sizeof(m->raddr));
	memcpy(&m->raddr, &sa.u, sa.len);
	m->rlen = sa.len;
	return 0;
}

static struct mbuf *sdp_mbuf(const char *text, int len)
{
	struct mbuf *mb = mbuf_alloc((size_t)len);
	if (!mb)
		return NULL;
	(void)mbuf_write_mem(mb, (const uint8_t *)text, (size_t)len);
	mb->pos = 0;
	return mb;
}

static struct mbuf *local_sdp(struct scall *c, bool offer)
{
	struct voice_sdp_local l = {
	    .addr = c->s->e->media_addr,
	    .port = c->port,
	    .sess_id = c->id,
	    .version = c->sdp_version++,
	    .choice = c->choice,
	};
	char text[SDP_MAX];
	int len = offer ? voice_sdp_write_offer(text, sizeof(text), &l)
			: voice_sdp_write_answer(text, sizeof(text), &l, &c->remote);
	return len < 0 ? NULL : sdp_mbuf(text, len);
}

/* Starts media on the negotiated stream (or updates it after a re-INVITE). */
static int media_start(struct scall *c, int type)
{
	struct media_cmd *m = mcmd(c->id);
	if (remote_sockaddr(&c->remote, m) < 0) {
		vx_free(m);
		return -EINVAL;
	}
	m->latch = c->s->e->cfg.rtp_latch;
	m->pt = c->choice.pt;
	m->te_pt = c->choice.te_pt;
	m->send = c->remote.dir == VOICE_SDP_SENDRECV || c->remote.dir == VOICE_SDP_RECVONLY;
	if (type == MEDIA_ADD) {
		m->fd = c->fd;
		m->fd_rtcp = c->fd_rtcp;
		c->fd = c->fd_rtcp = -1;
		c->media_on = true;
	}
	media_push(c, type, m);
	if (type == MEDIA_ADD && c->pending) {
		struct media_cmd *p = mcmd(c->id);
		p->audio = c->pending;
		p->loops = c->pending_loops;
		c->pending = NULL;
		media_push(c, MEDIA_PLAY, p);
	}
	return 0;
}

/* ---- session handlers ---- */

/* A re-INVITE (or UPDATE-less offer): hold, unhold, a new address or codec. */
static int offer_h(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	struct scall *c = arg;
	struct voice_sdp sdp;
	struct voice_sdp_choice ch;
	if (body_sdp(msg, &sdp) < 0 || voice_sdp_negotiate(&sdp, &ch) < 0)
		return EPROTO;
	c->remote = sdp;
	c->choice = ch;
	if (c->media_on && media_start(c, MEDIA_UPDATE) < 0)
		return EPROTO;
	*descp = local_sdp(c, false);
	return *descp ? 0 : ENOMEM;
}

/* Outbound: the SDP answer in the 200. */
static int answer_h(const struct sip_msg *msg, void *arg)
{
	struct scall *c = arg;
	struct voice_sdp sdp;
	struct voice_sdp_choice ch;
	if (body_sdp(msg, &sdp) < 0 || voice_sdp_negotiate(&sdp, &ch) < 0)
		return EPROTO;
	c->remote = sdp;
	c->choice = ch;
	/* the answer to our re-INVITE (hold, resume): media follows it */
	if (c->media_on && media_start(c, MEDIA_UPDATE) < 0)
		return EPROTO;
	return 0;
}

static void progr_h(const struct sip_msg *msg, void *arg)
{
	struct scall *c = arg;
	struct voice_sdp sdp;
	struct voice_sdp_choice ch;
	/* 183 with SDP: early media, so the caller hears the far end's prompts before any 200 */
	if (!c->media_on && msg->scode == 183 && body_sdp(msg, &sdp) == 0 &&
	    voice_sdp_negotiate(&sdp, &ch) == 0) {
		c->remote = sdp;
		c->choice = ch;
		c->early = true;
		(void)media_start(c, MEDIA_ADD);
	}
	emit_call(c, VOICE_EV_PROGRESS, msg->scode, VOICE_END_LOCAL);
}

static void estab_h(const struct sip_msg *msg, void *arg)
{
	struct scall *c = arg;
	c->established = true;
	tmr_cancel(&c->tmr);
	if (c->outbound && media_start(c, c->media_on ? MEDIA_UPDATE : MEDIA_ADD) < 0) {
		emit_call(c, VOICE_EV_HANGUP, 488, VOICE_END_ERROR);
		call_free(c);
		return;
	}
	emit_call(c, VOICE_EV_ANSWERED, 200, VOICE_END_LOCAL);
}

/* HANGUP for a final failure response: its code, reason phrase and Retry-After (RFC 3261
   20.33: delta-seconds first, an optional comment and parameters after), so the call service
   can back off from a carrier that asks it to. */
static void emit_rejected(struct scall *c, const struct sip_msg *msg)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = VOICE_EV_HANGUP;
	ev.call = c->id;
	ev.code = msg->scode;
	ev.cause = VOICE_END_REJECTED;
	size_t n = msg->reason.l < sizeof(ev.reason) - 1 ? msg->reason.l : sizeof(ev.reason) - 1;
	if (msg->reason.p)
		memcpy(ev.reason, msg->reason.p, n);
	const struct sip_hdr *ra = sip_msg_hdr(msg, SIP_HDR_RETRY_AFTER);
	uint64_t v = 0;
	for (size_t i = 0; ra && i < ra->val.l && ra->val.p[i] >= '0' && ra->val.p[i] <= '9'; i++)
		if ((v = v * 10 + (uint64_t)(ra->val.p[i] - '0')) > UINT32_MAX)
			v = UINT32_MAX;
	ev.retry_after_s = (unsigned)v;
	engine_emit(c->s->e, &ev);
}

static void close_h(int err, const struct sip_msg *msg, void *arg)
{
	struct scall *c = arg;
	int code = msg ? msg->scode : 0;
	enum voice_end cause;
	if (err == 0 && msg && msg->scode >= 300) {
		cause = VOICE_END_REJECTED;
	} else if (err == ECONNRESET && (c->answered || c->established || !c->outbound)) {
		/* a BYE, or the caller's CANCEL; before any answer to our own INVITE the reset is
		   the connection's (a failed TLS handshake, a closed TCP peer): an error, below */
		cause = c->answered || c->established ? VOICE_END_REMOTE : VOICE_END_CANCEL;
		code = cause == VOICE_END_CANCEL ? 487 : 0;
	} else if (err == ETIMEDOUT) {
		cause = VOICE_END_ERROR;
		code = 408;
	} else {
		cause = VOICE_END_ERROR;
	}
	if (cause == VOICE_END_REJECTED)
		emit_rejected(c, msg);
	else
		emit_call(c, VOICE_EV_HANGUP, code, cause);
	call_free(c);
}

/* ---- inbound ---- */

static void reply(struct sig *s, const struct sip_msg *msg, uint16_t code, const char *reason)
{
	(void)sip_treplyf(NULL, NULL, s->sip, msg, false, code, reason,
			  "Server: %s\r\nContent-Length: 0\r\n\r\n", s->e->user_agent);
}

static void copy_pl(char *dst, size_t cap, const struct pl *pl)
{
	size_t n = pl->l < cap - 1 ? pl->l : cap - 1;
	if (pl->p)
		memcpy(dst, pl->p, n);
	else
		n = 0;
	dst[n] = '\0';
}

static void emit_incoming(struct scall *c, const struct sip_msg *msg)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = VOICE_EV_INCOMING;
	ev.call = c->id;
	ev.tcp = msg->tp != SIP_TRANSP_UDP;
	copy_pl(ev.from, sizeof(ev.from), &msg->from.auri);
	copy_pl(ev.to, sizeof(ev.to), &msg->to.auri);
	copy_pl(ev.ruser, sizeof(ev.ruser), &msg->uri.user);
	engine_emit(c->s->e, &ev);
}

/* Binds the call's RTP pair and checks the offer; returns the SIP status to refuse with. */
static uint16_t prepare_inbound(struct scall *c, const struct sip_msg *msg)
{
	struct voice_config *cfg = &c->s->e->cfg;
	struct media_cmd probe;
	if (body_sdp(msg, &c->remote) < 0 || voice_sdp_negotiate(&c->remote, &c->choice) < 0 ||
	    remote_sockaddr(&c->remote, &probe) < 0)
		return 488;
	if (ports_bind_pair(cfg->media_addr, cfg->rtp_port_min, cfg->rtp_port_max,
			    &c->s->e->port_cursor, &c->fd, &c->fd_rtcp, &c->port) < 0)
		return 503;
	return 0;
}

static void conn_h(const struct sip_msg *msg, void *arg)
{
	struct sig *s = arg;
	if (s->quitting || atomic_load(&s->e->calls) >= s->e->cfg.max_calls) {
		reply(s, msg, 503, "Service Unavailable");
		return;
	}
	struct scall *c = call_new(s, engine_new_id(s->e, s->t->idx));
	uint16_t refuse = c->counted ? prepare_inbound(c, msg) : 503;
	if (refuse) {
		reply(s, msg, refuse,
		      refuse == 488 ? "Not Acceptable Here" : "Service Unavailable");
		call_free(c);
		return;
	}
	/* 100 goes out statelessly (sipsess_accept takes 101-299); the 180 creates the server
	   transaction that absorbs the INVITE's retransmissions from then on */
	(void)sip_treplyf(NULL, NULL, s->sip, msg, false, 100, "Trying",
			  "Content-Length: 0\r\n\r\n");
	int err = sipsess_accept(&c->sess, s->sock, msg, 180, "Ringing", "irisx", "application/sdp",
				 NULL, NULL, NULL, false, offer_h, answer_h, estab_h, NULL, refer_h,
				 close_h, c, ALLOW_HDR);
	if (err) {
		if (!c->sess)
			reply(s, msg, 500, "Server Internal Error");
		call_free(c);
		return;
	}
	emit_incoming(c, msg);
}

/* ---- commands ---- */

static void cmd_answer(struct scall *c)
{
	if (c->outbound || c->answered)
		return;
	if (c->early)
		c->sdp_version--; /* the 200 repeats the answer the 183 carried */
	struct mbuf *desc = local_sdp(c, false);
	int err = desc ? sipsess_answer(c->sess, 200, "OK", desc, ALLOW_HDR) : ENOMEM;
	mem_deref(desc);
	if (err || (!c->media_on && media_start(c, MEDIA_ADD) < 0)) {
		emit_call(c, VOICE_EV_HANGUP, 500, VOICE_END_ERROR);
		call_free(c);
		return;
	}
	c->answered = true;
}

static const char *reason_of(uint16_t code)
{
	switch (code) {
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 480:
		return "Temporarily Unavailable";
	case 486:
		return "Busy Here";
	case 503:
		return "Service Unavailable";
	case 603:
		return "Decline";
	default:
		return "Rejected";
	}
}

static void cmd_reject(struct scall *c, uint16_t code)
{
	if (c->outbound || c->answered)
		return;
	(void)sipsess_reject(c->sess, code, reason_of(code), NULL);
	emit_call(c, VOICE_EV_HANGUP, code, VOICE_END_LOCAL);
	call_free(c);
}

static int dial_auth_h(char **user, char **pass, const char *realm, void *arg)
{
	struct scall *c = arg;
	int err = str_dup(user, c->auth_user);
	return err ? err : str_dup(pass, c->auth_pass);
}

static void dial_timeout(void *arg)
{
	struct scall *c = arg;
	emit_call(c, VOICE_EV_HANGUP, 408, VOICE_END_TIMEOUT);
	call_free(c); /* the session's destructor sends the CANCEL */
}

static void cmd_dial(struct sig *s, struct sig_cmd *cmd)
{
	struct voice_config *cfg = &s->e->cfg;
	struct scall *c = call_new(s, cmd->call);
	atomic_fetch_sub(&s->t->calls, 1); /* voice_call_dial counted it already */
	c->outbound = true;
	if (s->quitting || !c->counted ||
	    ports_bind_pair(cfg->media_addr, cfg->rtp_port_min, cfg->rtp_port_max,
			    &s->e->port_cursor, &c->fd, &c->fd_rtcp, &c->port) < 0) {
		emit_call(c, VOICE_EV_HANGUP, 503, VOICE_END_ERROR);
		call_free(c);
		return;
	}
	char target[256];
	int rr = registrar_resolve(s->x, cmd->uri, target, sizeof(target));
	if (rr < 0 && strncmp(cmd->uri, "device:", 7) == 0) {
		emit_call(c, VOICE_EV_HANGUP, 480, VOICE_END_REJECTED);
		call_free(c);
		return;
	}
	snprintf(c->auth_user, sizeof(c->auth_user), "%s", cmd->auth_user);
	snprintf(c->auth_pass, sizeof(c->auth_pass), "%s", cmd->auth_pass);
	bool auth = *c->auth_user != '\0';
	struct mbuf *offer = local_sdp(c, true);
	int err = offer ? sipsess_connect(&c->sess, s->sock, rr == 0 ? target : cmd->uri, NULL,
					  cmd->from, "irisx", NULL, 0, "application/sdp", offer,
					  auth ? dial_auth_h : NULL, auth ? c : NULL, false,
					  offer_h, answer_h, progr_h, estab_h, NULL, refer_h,
					  close_h, c, ALLOW_HDR)
			: ENOMEM;
	mem_deref(offer);
	if (err) {
		emit_call(c, VOICE_EV_HANGUP, 0, VOICE_END_ERROR);
		call_free(c);
		return;
	}
	tmr_start(&c->tmr, cmd->timeout_ms, dial_timeout, c);
}

/* 183 with our answer: media runs before the 200 (early media). */
static void cmd_progress(struct scall *c)
{
	if (c->outbound || c->answered || c->early)
		return;
	struct mbuf *desc = local_sdp(c, false);
	int err =
	    desc ? sipsess_progress(c->sess, 183, "Session Progress", desc, ALLOW_HDR) : ENOMEM;
	mem_deref(desc);
	if (err || media_start(c, MEDIA_ADD) < 0) {
		emit_call(c, VOICE_EV_HANGUP, 500, VOICE_END_ERROR);
		call_free(c);
		return;
	}
	c->early = true;
}

/* Re-INVITE: sendonly to hold the far end, sendrecv to resume. */
static void cmd_hold(struct scall *c, bool hold)
{
	if (!c->established && !c->answered)
		return;
	struct voice_sdp_local l = {
	    .addr = c->s->e->media_addr,
	    .port = c->port,
	    .sess_id = c->id,
	    .version = c->sdp_version++,
	    .dir = hold ? VOICE_SDP_SENDONLY : VOICE_SDP_SENDRECV,
	};
	char text[SDP_MAX];
	int len = voice_sdp_write_offer(text, sizeof(text), &l);
	struct mbuf *desc = len < 0 ? NULL : sdp_mbuf(text, len);
	if (desc)
		(void)sipsess_modify(c->sess, desc);
	mem_deref(desc);
}

static void refer_not_close_h(int err, const struct sip_msg *msg, void *arg)
{
	struct scall *c = arg;
	c->refer_not = mem_deref(c->refer_not);
}

/* REFER in the dialog: 202, a NOTIFY "100 Trying" (RFC 3515), and the target to the owner. */
static void refer_h(struct sip *sip, const struct sip_msg *msg, void *arg)
{
	struct scall *c = arg;
	const struct sip_hdr *hdr = sip_msg_hdr(msg, SIP_HDR_REFER_TO);
	struct sip_addr addr;
	if (!hdr || sip_addr_decode(&addr, &hdr->val) != 0 || c->refer_not) {
		(void)sip_treplyf(NULL, NULL, sip, msg, false, c->refer_not ? 491 : 400,
				  c->refer_not ? "Request Pending" : "Bad Request",
				  "Content-Length: 0\r\n\r\n");
		return;
	}
	struct sipevent_event se = {.event = {"refer", 5}};
	int err = sipevent_accept(&c->refer_not, c->s->evsock, msg, sipsess_dialog(c->sess), &se,
				  202, "Accepted", 60, 60, 60, "irisx", "message/sipfrag", NULL,
				  NULL, false, refer_not_close_h, c, NULL);
	if (err) {
		(void)sip_treplyf(NULL, NULL, sip, msg, false, 500, "Server Internal Error",
				  "Content-Length: 0\r\n\r\n");
		return;
	}
	(void)sipevent_notifyf(c->refer_not, NULL, SIPEVENT_ACTIVE, 0, 0, "SIP/2.0 100 Trying\r\n");
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = VOICE_EV_REFER;
	ev.call = c->id;
	ev.code = 202;
	copy_pl(ev.to, sizeof(ev.to), &addr.auri);
	copy_pl(ev.from, sizeof(ev.from), &msg->from.auri);
	engine_emit(c->s->e, &ev);
}

static void cmd_media(struct scall *c, int type, struct sig_cmd *cmd)
{
	if (type == MEDIA_PLAY && !c->media_on) {
		voice_audio_unref(c->pending);
		c->pending = cmd->audio;
		c->pending_loops = cmd->loops;
		cmd->audio = NULL;
		return;
	}
	if (!c->media_on)
		return;
	struct media_cmd *m = mcmd(c->id);
	m->audio = cmd->audio;
	m->loops = cmd->loops;
	cmd->audio = NULL;
	snprintf(m->digits, sizeof(m->digits), "%s", cmd->digits);
	media_push(c, type, m);
}

static void quit_now(void *arg)
{
	re_cancel();
}

static bool any_h(struct le *le, void *arg)
{
	return true;
}

static void cmd_quit(struct sig *s)
{
	s->quitting = true;
	trunk_close_all(s->x);
	for (;;) {
		struct le *le = hash_apply(s->calls, any_h, NULL);
		if (!le)
			break;
		struct scall *c = le->data;
		emit_call(c, VOICE_EV_HANGUP, 0, VOICE_END_SHUTDOWN);
		call_free(c);
	}
	/* let the BYEs and CANCELs just sent go out before the stack closes */
	tmr_start(&s->quit_tmr, QUIT_GRACE_MS, quit_now, s);
}

/* The extras' commands (enum sigx_cmd_type); true if id was one. */
static bool on_sigx_cmd(struct sig *s, int id, void *data)
{
	struct sig_cmd *cmd = data;
	struct scall *c = NULL;
	switch (id) {
	case SIGX_PROGRESS:
	case SIGX_HOLD:
		c = find(s, cmd->call);
		if (c && id == SIGX_PROGRESS)
			cmd_progress(c);
		else if (c)
			cmd_hold(c, cmd->code != 0);
		break;
	case SIGX_TRUNK_ADD:
		if (!s->quitting)
			trunk_add(s->x, data);
		break;
	case SIGX_TRUNK_DEL:
		trunk_del(s->x, ((struct sigx_trunk_cmd *)data)->id);
		break;
	default:
		return false;
	}
	vx_free(data);
	return true;
}

static void on_cmd(int id, void *data, void *arg)
{
	struct sig *s = arg;
	if (on_sigx_cmd(s, id, data))
		return;
	struct sig_cmd *cmd = data;
	struct scall *c = cmd && id != SIG_DIAL ? find(s, cmd->call) : NULL;
	switch (id) {
	case SIG_DIAL:
		cmd_dial(s, cmd);
		break;
	case SIG_ANSWER:
		if (c)
			cmd_answer(c);
		break;
	case SIG_REJECT:
		if (c)
			cmd_reject(c, cmd->code);
		break;
	case SIG_HANGUP:
		if (c) {
			emit_call(c, VOICE_EV_HANGUP, 0, VOICE_END_LOCAL);
			call_free(c);
		}
		break;
	case SIG_PLAY:
		if (c)
			cmd_media(c, MEDIA_PLAY, cmd);
		break;
	case SIG_STOP_PLAY:
		if (c)
			cmd_media(c, MEDIA_STOP_PLAY, cmd);
		break;
	case SIG_DTMF:
		if (c)
			cmd_media(c, MEDIA_DTMF, cmd);
		break;
	case SIG_QUIT:
		cmd_quit(s);
		break;
	default:
		break;
	}
	if (cmd) {
		voice_audio_unref(cmd->audio);
		vx_free(cmd);
	}
}

/* ---- listeners ---- */

/* Edge protection: messages over the cap are refused before any other handler sees them. */
static bool cap_h(const struct sip_msg *msg, void *arg)
{
	struct sig *s = arg;
	if (msg->mb->end <= s->e->cfg.sip_max_msg)
		return false;
	atomic_fetch_add(&s->e->sip_too_big, 1);
	if (msg->req && pl_strcmp(&msg->met, "ACK") != 0)
		reply(s, msg, 513, "Message Too Large");
	return true;
}

static bool options_h(const struct sip_msg *msg, void *arg)
{
	struct sig *s = arg;
	if (pl_strcmp(&msg->met, "OPTIONS") != 0)
		return false;
	(void)sip_treplyf(NULL, NULL, s->sip, msg, false, 200, "OK",
			  ALLOW_HDR "Accept: application/sdp\r\nServer: %s\r\n"
				    "Content-Length: 0\r\n\r\n",
			  s->e->user_agent);
	return true;
}

static int add_transports_once(struct sig *s)
{
	struct voice_config *cfg = &s->e->cfg;
	struct sa laddr;
	/* stack idx listens on sip_port + idx (checked to fit at start), or on the kernel's pick */
	int err = sa_set_str(&laddr, cfg->sip_addr,
			     cfg->sip_port ? (uint16_t)(cfg->sip_port + s->t->idx) : 0);
	if (err)
		return -EINVAL;
	if (cfg->udp && (err = sip_transp_add(s->sip, SIP_TRANSP_UDP, &laddr)) != 0)
		return -err;
	if (cfg->udp && cfg->sip_port == 0) {
		/* the kernel chose the UDP port: TCP takes the same one */
		struct sa bound;
		if (sip_transp_laddr(s->sip, &bound, SIP_TRANSP_UDP, NULL) == 0)
			sa_set_port(&laddr, sa_port(&bound));
	}
	if (cfg->tcp && (err = sip_transp_add(s->sip, SIP_TRANSP_TCP, &laddr)) != 0)
		return -err;
	if (cfg->tcp && !cfg->udp && cfg->sip_port == 0) {
		struct sa bound;
		if (sip_transp_laddr(s->sip, &bound, SIP_TRANSP_TCP, NULL) == 0)
			sa_set_port(&laddr, sa_port(&bound));
	}
	s->t->sip_port = sa_port(&laddr);
	return 0;
}

/* With port 0 the TCP port may be taken where UDP's was free: try other ports a few times. */
static int add_transports(struct sig *s)
{
	int r = -EADDRINUSE;
	for (int i = 0; i < 20 && r == -EADDRINUSE; i++) {
		r = add_transports_once(s);
		if (r == -EADDRINUSE && s->e->cfg.sip_port == 0)
			sip_transp_flush(s->sip);
		else
			break;
	}
	return r;
}

/* OpenSSL's verdict on a certificate chain, for the connections we open; a client
   presenting a certificate to our listener is not judged (none is asked for). */
static int verify_server(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	return ssl && SSL_is_server(ssl) ? 1 : ok;
}

/* TLS (cfg.tls_cert): libre's OpenSSL context from the PEM, a listener on its own port;
   the same context opens our outbound TLS connections, so it carries the trust store. */
static int add_tls(struct sig *s)
{
	const struct voice_config *cfg = &s->e->cfg;
	if (!cfg->tls_cert || s->t->idx != 0) /* one TLS listener, on stack 0 */
		return 0;
	int err = tls_alloc(&s->tls, TLS_METHOD_SSLV23, cfg->tls_cert, NULL);
	if (err)
		return -err;
	SSL_CTX *ctx = tls_openssl_context(s->tls);
	if (!ctx)
		return -EINVAL;
	if (!cfg->tls_no_verify) {
		int ok = cfg->tls_ca ? SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL)
				     : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1)
			return -EINVAL;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_server);
	}
	struct sa laddr, bound;
	if (sa_set_str(&laddr, cfg->sip_addr, cfg->tls_port) != 0)
		return -EINVAL;
	if ((err = sip_transp_add(s->sip, SIP_TRANSP_TLS, &laddr, s->tls)) != 0)
		return -err;
	if ((err = sip_transp_laddr(s->sip, &bound, SIP_TRANSP_TLS, NULL)) != 0)
		return -err;
	s->e->tls_port = sa_port(&bound);
	return 0;
}

/* A DNS client for names and SRV (RFC 3263 through libre's sip_request); without one, only
   IP literals can be dialled. */
static void dns_setup(struct sig *s)
{
	struct sa srv[4];
	uint32_t n = 4;
	const char *cfg = s->e->cfg.dns_server;
	char domain[64] = "";
	if (cfg) {
		if (sa_decode(&srv[0], cfg, strlen(cfg)) != 0)
			return;
		n = 1;
	} else if (dns_srv_get(domain, sizeof(domain), srv, &n) != 0 || n == 0) {
		return;
	}
	(void)dnsc_alloc(&s->dnsc, NULL, srv, n);
}

static int sig_setup(struct sig *s)
{
	int err = re_thread_init();
	if (err)
		return -err;
	fd_setsize(engine_fd_table_size());
	if ((err = hash_alloc(&s->calls, 1024)) != 0)
		return -err;
	tmr_init(&s->quit_tmr);
	int rx = sigx_alloc(s->e, s->t->idx, &s->x);
	if (rx < 0)
		return rx;
	s->t->sx = s->x;
	dns_setup(s);
	if ((err = sip_alloc(&s->sip, s->dnsc, 1024, 1024, 1024, s->e->user_agent, NULL, NULL)) !=
	    0)
		return -err;
	s->x->sip = s->sip;
	int r = add_transports(s);
	if (r < 0 || (r = add_tls(s)) < 0)
		return r;
	/* order matters: listeners run in the order they were added */
	if ((err = sip_listen(&s->lsnr_edge_req, s->sip, true, sigx_edge_h, s->x)) != 0 ||
	    (err = sip_listen(&s->lsnr_edge_resp, s->sip, false, sigx_edge_resp_h, s->x)) != 0 ||
	    (err = sip_listen(&s->lsnr_cap_req, s->sip, true, cap_h, s)) != 0 ||
	    (err = sip_listen(&s->lsnr_cap_resp, s->sip, false, cap_h, s)) != 0 ||
	    (err = sipsess_listen(&s->sock, s->sip, 1024, conn_h, s)) != 0 ||
	    (err = sipevent_listen(&s->evsock, s->sip, 64, 64, NULL, NULL)) != 0 ||
	    (err = sip_listen(&s->lsnr_opt, s->sip, true, options_h, s)) != 0 ||
	    (err = sip_listen(&s->lsnr_reg, s->sip, true, registrar_h, s->x)) != 0)
		return -err;
	if ((err = mqueue_alloc(&s->mq, on_cmd, s)) != 0)
		return -err;
	s->t->mq = s->mq;
	return 0;
}

static void sig_teardown(struct sig *s)
{
	tmr_cancel(&s->quit_tmr);
	s->t->mq = NULL;
	s->mq = mem_deref(s->mq);
	s->lsnr_opt = mem_deref(s->lsnr_opt);
	s->lsnr_reg = mem_deref(s->lsnr_reg);
	if (s->x)
		trunk_close_all(s->x);
	s->evsock = mem_deref(s->evsock);
	if (s->sock)
		sipsess_close_all(s->sock);
	s->sock = mem_deref(s->sock);
	s->lsnr_cap_req = mem_deref(s->lsnr_cap_req);
	s->lsnr_cap_resp = mem_deref(s->lsnr_cap_resp);
	s->lsnr_edge_req = mem_deref(s->lsnr_edge_req);
	s->lsnr_edge_resp = mem_deref(s->lsnr_edge_resp);
	if (s->sip)
		sip_close(s->sip, true);
	s->sip = mem_deref(s->sip);
	s->tls = mem_deref(s->tls);
	s->dnsc = mem_deref(s->dnsc);
	s->calls = mem_deref(s->calls);
}

void *sig_main(void *arg)
{
	struct sig_thread *t = arg;
	struct sig s;
	memset(&s, 0, sizeof(s));
	s.e = t->e;
	s.t = t;
	t->err = sig_setup(&s);
	sem_post(&t->ready);
	if (t->err == 0)
		re_main(NULL);
	sig_teardown(&s);
	t->sx = NULL;
	sigx_free(s.x);
	re_thread_close();
	return NULL;
}
