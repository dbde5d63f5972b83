/* media.c: a media thread: its own libre loop and one 5 ms ticker on CLOCK_MONOTONIC. Calls are
   spread over 4 phases; on every 4th tick a call's RTP socket is drained (recvmmsg) and its 20 ms
   frame sent, so no RTP socket is in the poll set and nothing delays a tick but the ticks. */
#include <errno.h>
#include <re.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "internal.h"

enum {
	TICK_US = 5000,
	PHASES = 4,
	FRAME = 160,	 /* samples (and G.711 bytes) per 20 ms */
	MAX_CATCHUP = 4, /* ticks run back to back after a stall; older ones are skipped */
	RX_BURST = 16,	 /* datagrams read per socket and round (legitimate: 1) */
	RX_BUF = 1500,
	MEDIA_NICE = -10, /* best effort: ticks before builds and logs on a shared core */
	DTMF_FRAMES = 5,  /* 100 ms event */
	DTMF_GAP = 3,	  /* 60 ms between digits */
	DTMF_END_COPIES = 3,
	DTMF_VOLUME = 10, /* -10 dBm0 */
};

struct mcall {
	struct le he, ple;
	struct media *m;
	uint64_t id;
	int fd, fd_rtcp;
	struct sockaddr_storage raddr;
	socklen_t rlen;
	bool latch, latched, send;
	int pt, te_pt;
	uint32_t ssrc, ts_base;
	uint16_t seq;
	uint64_t round0; /* the tick round the call started in */
	struct voice_audio *audio;
	size_t pos;
	unsigned loops; /* plays left; 0 = forever */
	struct voice_dtmf_rx drx;
	char dq[32]; /* digits to send */
	size_t dq_len, dq_pos;
	unsigned dframe; /* frame within the current digit (event, then gap) */
	uint32_t dts;	 /* RTP timestamp of the current digit */
};

struct media {
	struct media_thread *t;
	struct voice_engine *e;
	struct hash *calls;
	struct list phase[PHASES];
	unsigned next_phase;
	int tfd;
	struct voice_ticker tk;
	uint64_t rx, tx, rejected; /* this tick's counts, added to the shared atomics once */
	struct mmsghdr msgs[RX_BURST];
	struct iovec iov[RX_BURST];
	struct sockaddr_storage src[RX_BURST];
	uint8_t buf[RX_BURST][RX_BUF];
};

static bool call_cmp(struct le *le, void *arg)
{
	const struct mcall *c = le->data;
	return c->id == *(const uint64_t *)arg;
}

static struct mcall *find(struct media *m, uint64_t id)
{
	struct le *le = hash_lookup(m->calls, (uint32_t)id, call_cmp, &id);
	return le ? le->data : NULL;
}

static void emit(struct media *m, enum voice_event_type type, uint64_t call, int code, char digit)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.call = call;
	ev.code = code;
	ev.digit = digit;
	engine_emit(m->e, &ev);
}

static void stop_audio(struct mcall *c, int code, bool report)
{
	if (!c->audio)
		return;
	c->audio = voice_audio_unref(c->audio);
	if (report)
		emit(c->m, VOICE_EV_PLAY_DONE, c->id, code, 0);
}

/* ---- receive ---- */

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* RTP bleed defence: only the SDP's address and port, or (latch mode) the first source. */
static bool source_ok(struct mcall *c, const struct sockaddr_storage *src, socklen_t len)
{
	if (same_addr(src, &c->raddr))
		return true;
	if (!c->latch || c->latched)
		return false;
	c->raddr = *src;
	c->rlen = len;
	c->latched = true;
	return true;
}

static void on_packet(struct mcall *c, const uint8_t *p, size_t n)
{
	struct voice_rtp_hdr h;
	if (voice_rtp_parse(p, n, &h) < 0) {
		c->m->rejected++;
		return;
	}
	c->m->rx++;
	if (c->te_pt < 0 || h.pt != c->te_pt)
		return;
	char d;
	if (voice_dtmf_rx_packet(&c->drx, h.ssrc, h.ts, h.marker, p + h.off, h.len, &d) == 1)
		emit(c->m, VOICE_EV_DTMF, c->id, 0, d);
}

/* Drains the call's RTP socket: one recvmmsg per round when the peer keeps time. */
static void call_rx(struct mcall *c)
{
	struct media *m = c->m;
	for (unsigned i = 0; i < RX_BURST; i++) {
		m->msgs[i].msg_hdr.msg_namelen = sizeof(m->src[i]);
		m->msgs[i].msg_hdr.msg_flags = 0;
	}
	int n = recvmmsg(c->fd, m->msgs, RX_BURST, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		if (!source_ok(c, &m->src[i], m->msgs[i].msg_hdr.msg_namelen)) {
			m->rejected++;
			continue;
		}
		on_packet(c, m->buf[i], m->msgs[i].msg_len);
	}
}

/* RTCP is read and dropped for now (reports come with the RTCP work). */
static void rtcp_read(int flags, void *arg)
{
	struct mcall *c = arg;
	uint8_t buf[1500];
	for (int i = 0; i < RX_BURST; i++)
		if (recv(c->fd_rtcp, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			return;
}

/* ---- send ---- */

static void send_pkt(struct mcall *c, uint8_t *pkt, size_t len)
{
	if (sendto(c->fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&c->raddr, c->rlen) >= 0)
		c->m->tx++;
}

/* One 20 ms audio payload: the clip (padded with silence at its end), or silence. */
static void fill_audio(struct mcall *c, uint8_t *out)
{
	memset(out, c->pt == 8 ? 0xd5 : 0xff, FRAME);
	if (!c->audio)
		return;
	const uint8_t *data = voice_audio_data(c->audio, c->pt);
	size_t n = voice_audio_samples(c->audio);
	size_t take = n - c->pos < FRAME ? n - c->pos : FRAME;
	if (data && take)
		memcpy(out, data + c->pos, take);
	c->pos += take;
	if (c->pos < n)
		return;
	c->pos = 0;
	if (c->loops == 1)
		stop_audio(c, 0, true);
	else if (c->loops > 1)
		c->loops--;
}

/* The digit being sent, if any, as an RFC 4733 packet; false during the gap or when idle. */
static bool dtmf_frame(struct mcall *c, uint32_t ts, uint8_t *pkt, bool *ret_end)
{
	if (c->dq_pos >= c->dq_len || c->te_pt < 0)
		return false;
	unsigned f = c->dframe++;
	if (f >= DTMF_FRAMES) {
		if (c->dframe >= DTMF_FRAMES + DTMF_GAP) {
			c->dframe = 0;
			c->dq_pos++;
		}
		return false;
	}
	if (f == 0)
		c->dts = ts;
	bool end = f == DTMF_FRAMES - 1;
	uint16_t dur = (uint16_t)((f + 1) * FRAME);
	voice_rtp_write_hdr(pkt, (uint8_t)c->te_pt, f == 0, c->seq++, c->dts, c->ssrc);
	pkt[VOICE_RTP_HDR] = (uint8_t)voice_dtmf_event(c->dq[c->dq_pos]);
	pkt[VOICE_RTP_HDR + 1] = (uint8_t)((end ? 0x80 : 0) | DTMF_VOLUME);
	pkt[VOICE_RTP_HDR + 2] = (uint8_t)(dur >> 8);
	pkt[VOICE_RTP_HDR + 3] = (uint8_t)dur;
	*ret_end = end;
	return true;
}

static void call_frame(struct mcall *c, uint64_t round)
{
	if (!c->send)
		return;
	uint32_t ts = c->ts_base + (uint32_t)((round - c->round0) * FRAME);
	uint8_t pkt[VOICE_RTP_HDR + FRAME];
	bool end = false;
	if (dtmf_frame(c, ts, pkt, &end)) {
		for (int i = 0; i < (end ? DTMF_END_COPIES : 1); i++) {
			if (i > 0) /* retransmitted end packets keep the timestamp, not the seq */
				voice_rtp_write_hdr(pkt, (uint8_t)c->te_pt, false, c->seq++, c->dts,
						    c->ssrc);
			send_pkt(c, pkt, VOICE_RTP_HDR + 4);
		}
		return;
	}
	voice_rtp_write_hdr(pkt, (uint8_t)c->pt, round == c->round0, c->seq++, ts, c->ssrc);
	fill_audio(c, pkt + VOICE_RTP_HDR);
	send_pkt(c, pkt, sizeof(pkt));
}

/* ---- ticker ---- */

static void arm(struct media *m)
{
	uint64_t due = voice_ticker_due_us(&m->tk);
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(due / 1000000);
	its.it_value.tv_nsec = (long)(due % 1000000) * 1000;
	(void)timerfd_settime(m->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void flush_counts(struct media *m)
{
	struct media_thread *t = m->t;
	if (m->rx)
		atomic_fetch_add_explicit(&t->rx, m->rx, memory_order_relaxed);
	if (m->tx)
		atomic_fetch_add_explicit(&t->tx, m->tx, memory_order_relaxed);
	if (m->rejected)
		atomic_fetch_add_explicit(&t->rejected, m->rejected, memory_order_relaxed);
	m->rx = m->tx = m->rejected = 0;
}

static void tick(int flags, void *arg)
{
	struct media *m = arg;
	uint64_t expirations;
	if (read(m->tfd, &expirations, sizeof(expirations)) < 0) {
		/* spurious wakeup: the schedule below decides */
	}
	uint64_t first, late, skipped;
	uint64_t now0 = vx_mono_us();
	unsigned run = voice_ticker_advance(&m->tk, now0, MAX_CATCHUP, &first, &late, &skipped);
	struct media_thread *t = m->t;
	if (run) {
		atomic_fetch_add_explicit(&t->ticks, run, memory_order_relaxed);
		atomic_fetch_add_explicit(&t->skipped, skipped, memory_order_relaxed);
		if (late > TICK_US)
			atomic_fetch_add_explicit(&t->late_5ms, 1, memory_order_relaxed);
		if (late > atomic_load_explicit(&t->late_max_us, memory_order_relaxed))
			atomic_store_explicit(&t->late_max_us, late, memory_order_relaxed);
	}
	for (unsigned i = 0; i < run; i++) {
		uint64_t n = first + i;
		struct le *le = m->phase[n % PHASES].head;
		while (le) {
			struct mcall *c = le->data;
			le = le->next; /* a call may stop (PLAY_DONE) but is never freed here */
			call_rx(c);
			call_frame(c, n / PHASES);
		}
	}
	flush_counts(m);
	if (run) {
		uint64_t w = vx_mono_us() - now0;
		if (w > atomic_load_explicit(&t->work_max_us, memory_order_relaxed))
			atomic_store_explicit(&t->work_max_us, w, memory_order_relaxed);
	}
	arm(m);
}

/* ---- commands ---- */

static void call_free(struct mcall *c)
{
	fd_close(c->fd_rtcp);
	close(c->fd);
	close(c->fd_rtcp);
	hash_unlink(&c->he);
	list_unlink(&c->ple);
	stop_audio(c, 1, false);
	atomic_fetch_sub_explicit(&c->m->t->calls, 1, memory_order_relaxed);
	vx_free(c);
}

static void cmd_add(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = vx_zalloc(sizeof(*c));
	c->m = m;
	c->id = cmd->call;
	c->fd = cmd->fd;
	c->fd_rtcp = cmd->fd_rtcp;
	c->raddr = cmd->raddr;
	c->rlen = cmd->rlen;
	c->latch = cmd->latch;
	c->send = cmd->send;
	c->pt = cmd->pt;
	c->te_pt = cmd->te_pt;
	vx_rand(&c->ssrc, sizeof(c->ssrc));
	vx_rand(&c->ts_base, sizeof(c->ts_base));
	vx_rand(&c->seq, sizeof(c->seq));
	c->round0 = m->tk.n / PHASES + 1;
	voice_dtmf_rx_init(&c->drx);
	hash_append(m->calls, (uint32_t)c->id, &c->he, c);
	list_append(&m->phase[m->next_phase], &c->ple, c);
	m->next_phase = (m->next_phase + 1) % PHASES;
	atomic_fetch_add_explicit(&m->t->calls, 1, memory_order_relaxed);
	if (fd_listen(c->fd_rtcp, FD_READ, rtcp_read, c) != 0)
		c->send = false; /* out of descriptor slots: the call stays silent */
}

static void cmd_update(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = find(m, cmd->call);
	if (!c)
		return;
	c->raddr = cmd->raddr;
	c->rlen = cmd->rlen;
	c->latched = false;
	c->send = cmd->send;
	c->pt = cmd->pt;
	c->te_pt = cmd->te_pt;
}

static void cmd_play(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = find(m, cmd->call);
	if (!c)
		return;
	stop_audio(c, 1, true);
	c->audio = cmd->audio;
	cmd->audio = NULL;
	c->pos = 0;
	c->loops = cmd->loops;
}

static void cmd_dtmf(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = find(m, cmd->call);
	if (!c)
		return;
	size_t n = strlen(cmd->digits);
	if (c->dq_pos >= c->dq_len) {
		c->dq_len = c->dq_pos = 0;
		c->dframe = 0;
	}
	if (n > sizeof(c->dq) - c->dq_len)
		n = sizeof(c->dq) - c->dq_len;
	memcpy(c->dq + c->dq_len, cmd->digits, n);
	c->dq_len += n;
}

static void on_cmd(int id, void *data, void *arg)
{
	struct media *m = arg;
	struct media_cmd *cmd = data;
	struct mcall *c;
	switch (id) {
	case MEDIA_ADD:
		cmd_add(m, cmd);
		break;
	case MEDIA_UPDATE:
		cmd_update(m, cmd);
		break;
	case MEDIA_DEL:
		if ((c = find(m, cmd->call)))
			call_free(c);
		break;
	case MEDIA_PLAY:
		cmd_play(m, cmd);
		break;
	case MEDIA_STOP_PLAY:
		if ((c = find(m, cmd->call)))
			stop_audio(c, 1, true);
		break;
	case MEDIA_DTMF:
		cmd_dtmf(m, cmd);
		break;
	case MEDIA_QUIT:
		re_cancel();
		break;
	default:
		break;
	}
	if (cmd) {
		voice_audio_unref(cmd->audio);
		vx_free(cmd);
	}
}

static void free_all(struct media *m)
{
	for (unsigned p = 0; p < PHASES; p++)
		while (m->phase[p].head)
			call_free(m->phase[p].head->data);
}

/* Ticks must not wait behind builds, logs or the signalling thread on a shared core: SCHED_FIFO
   when allowed (the kernel's RT throttling still leaves the core 5 % for others), else nice. */
static void media_priority(int rt)
{
	if (rt > 0) {
		struct sched_param sp = {.sched_priority = rt};
		if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0)
			return;
	}
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), MEDIA_NICE);
}

static int media_setup(struct media *m)
{
	int r = re_thread_init();
	if (r)
		return -r;
	fd_setsize(engine_fd_table_size());
	media_priority(m->e->cfg.media_rt_priority);
	for (unsigned i = 0; i < RX_BURST; i++) {
		m->iov[i].iov_base = m->buf[i];
		m->iov[i].iov_len = RX_BUF;
		m->msgs[i].msg_hdr.msg_iov = &m->iov[i];
		m->msgs[i].msg_hdr.msg_iovlen = 1;
		m->msgs[i].msg_hdr.msg_name = &m->src[i];
	}
	if ((r = hash_alloc(&m->calls, 1024)) != 0)
		return -r;
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->tfd < 0)
		return -errno;
	voice_ticker_init(&m->tk, vx_mono_us() + TICK_US, TICK_US);
	if ((r = fd_listen(m->tfd, FD_READ, tick, m)) != 0)
		return -r;
	if ((r = mqueue_alloc(&m->t->mq, on_cmd, m)) != 0)
		return -r;
	arm(m);
	return 0;
}

void *media_main(void *arg)
{
	struct media_thread *t = arg;
	struct media *m = vx_zalloc(sizeof(*m)); /* the receive buffers make it large */
	m->t = t;
	m->e = t->e;
	m->tfd = -1;
	t->err = media_setup(m);
	sem_post(&t->ready);
	if (t->err == 0)
		re_main(NULL);
	free_all(m);
	t->mq = mem_deref(t->mq);
	if (m->tfd >= 0) {
		fd_close(m->tfd);
		close(m->tfd);
	}
	mem_deref(m->calls);
	vx_free(m);
	re_thread_close();
	return NULL;
}
