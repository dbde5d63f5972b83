/* media.c: a media thread: its own libre loop and one 5 ms ticker on CLOCK_MONOTONIC. Calls are
   spread over 4 phases; on every 4th tick a call's RTP socket is drained (recvmmsg) and its 20 ms
   frame sent, so no RTP socket is in the poll set and nothing delays a tick but the ticks. */
#include <errno.h>
#include <re.h>
#include <sched.h>
#include <spandsp.h>
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
	MAX_CATCHUP = 2, /* ticks run back to back after a stall (at most 10 ms late frames);
			    older ones are skipped, so a stall never turns into a burst */
	RX_BURST = 16,	 /* datagrams read per socket and round (legitimate: 1) */
	RX_BUF = 1500,
	MEDIA_NICE = -10, /* best effort: ticks before builds and logs on a shared core */
	DTMF_FRAMES = 5,  /* 100 ms event */
	DTMF_GAP = 3,	  /* 60 ms between digits */
	DTMF_END_COPIES = 3,
	DTMF_VOLUME = 10,	 /* -10 dBm0 */
	BRIDGE_RING = 8 * FRAME, /* samples buffered from the bridged peer */
	BRIDGE_KEEP = 2 * FRAME, /* after an overflow: the newest 40 ms */
	PCM_MAX = 1024,		 /* samples decoded from one packet */
	PUBLISH_ROUNDS = 50,	 /* quality snapshot every second */
	RR_ROUNDS = 250,	 /* our receiver report every 5 s, the first after 1 s */
	COLLECT_MAX = 32,
};

struct bridge_buf {
	int16_t s[BRIDGE_RING];
	size_t head, len;
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
	unsigned dframe;  /* frame within the current digit (event, then gap) */
	uint32_t dts;	  /* RTP timestamp of the current digit */
	uint32_t last_ts; /* of the last frame sent (a moved call continues from it) */
	/* collect */
	bool collecting;
	struct voice_collect col;
	char cdig[COLLECT_MAX + 1];
	size_t ncdig;
	uint64_t col_due_us; /* 0: the first-digit timer waits for playback to end */
	/* record */
	struct rec *rec;
	bool rec_on;		/* false while the beep plays */
	bool rec_beep;		/* the beep was asked for */
	struct voice_record rc; /* path not kept */
	uint64_t rec_start_us, rec_voiced_us;
	/* bridge and hold */
	struct mcall *peer;
	struct bridge_buf *bq; /* audio from the peer, sent on our ticks */
	bool held;
	/* in-band DTMF when the peer has no telephone-event */
	dtmf_rx_state_t *inband;
	/* receive statistics (RFC 3550 A.1, A.8) and the peer's reports on our stream */
	bool have_seq;
	uint16_t base_seq, max_seq;
	uint32_t cycles;
	uint64_t received;
	bool have_transit;
	int64_t transit;
	double jitter; /* timestamp units */
	struct voice_rtcp_block rb;
	unsigned nrb;
	uint32_t peer_ssrc;			 /* of the stream we receive */
	uint64_t expected_prior, received_prior; /* at our last report */
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
	uint8_t ctl[RX_BURST][CMSG_SPACE(sizeof(struct timespec))];
	uint64_t now_us; /* this tick's start */
	struct voice_audio *beep;
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

static void emit_ev(struct media *m, struct voice_event *ev)
{
	engine_emit(m->e, ev);
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

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
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

/* ---- digits: collect, barge-in, record finish key, bridge passthrough ---- */

static void collect_end(struct mcall *c, enum voice_collect_end why)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = VOICE_EV_COLLECTED;
	ev.call = c->id;
	ev.code = why;
	memcpy(ev.digits, c->cdig, c->ncdig);
	c->collecting = false;
	c->ncdig = 0;
	emit_ev(c->m, &ev);
}

static void record_end(struct mcall *c, enum voice_record_end why)
{
	if (!c->rec)
		return;
	rec_end(c->rec, why); /* the writer finishes the file and reports */
	c->rec = NULL;
	c->rec_on = false;
}

static void queue_digit(struct mcall *c, char d)
{
	if (c->dq_pos >= c->dq_len) {
		c->dq_len = c->dq_pos = 0;
		c->dframe = 0;
	}
	if (c->dq_len < sizeof(c->dq))
		c->dq[c->dq_len++] = d;
}

static void on_digit(struct mcall *c, char d, bool rfc4733)
{
	emit(c->m, VOICE_EV_DTMF, c->id, 0, d);
	if (c->collecting) {
		if (c->col.barge_in)
			stop_audio(c, 1, true);
		if (c->col.finish_key && d == c->col.finish_key) {
			collect_end(c, VOICE_COLLECT_FINISH);
		} else {
			c->cdig[c->ncdig++] = d;
			if (c->ncdig >= c->col.max_digits)
				collect_end(c, VOICE_COLLECT_COUNT);
			else
				c->col_due_us = c->m->now_us + (uint64_t)c->col.inter_ms * 1000;
		}
	}
	if (c->rec && c->rc.finish_key && d == c->rc.finish_key)
		record_end(c, VOICE_RECORD_FINISH);
	/* in-band digits pass through the bridge as audio already */
	if (rfc4733 && c->peer && c->peer->te_pt >= 0 && !c->held)
		queue_digit(c->peer, d);
}

static void inband_cb(void *user, const char *digits, int len)
{
	struct mcall *c = user;
	for (int i = 0; i < len; i++)
		on_digit(c, digits[i], false);
}

/* ---- receive ---- */

static void bridge_put(struct bridge_buf *b, const int16_t *pcm, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b->len == BRIDGE_RING) { /* the peer sends faster than we do: keep it short */
			b->head = (b->head + b->len - BRIDGE_KEEP) % BRIDGE_RING;
			b->len = BRIDGE_KEEP;
		}
		b->s[(b->head + b->len) % BRIDGE_RING] = pcm[i];
		b->len++;
	}
}

static void rx_stats(struct mcall *c, const struct voice_rtp_hdr *h, int64_t arrival_ts)
{
	c->received++;
	c->peer_ssrc = h->ssrc;
	if (!c->have_seq) {
		c->have_seq = true;
		c->base_seq = c->max_seq = h->seq;
	} else {
		uint16_t delta = (uint16_t)(h->seq - c->max_seq);
		if (delta > 0 && delta < 3000) {
			if (h->seq < c->max_seq)
				c->cycles += 65536;
			c->max_seq = h->seq;
		}
	}
	if (arrival_ts == INT64_MIN)
		return;
	int64_t transit = arrival_ts - (int64_t)h->ts;
	if (c->have_transit) {
		int64_t d = transit - c->transit;
		c->jitter += ((double)(d < 0 ? -d : d) - c->jitter) / 16.0;
	}
	c->transit = transit;
	c->have_transit = true;
}

static void on_audio(struct mcall *c, const uint8_t *p, size_t n)
{
	bool to_peer = c->peer && !c->held && !c->peer->held;
	/* the in-band detector (about 1.3 us a frame) runs only while a digit has a use */
	bool detect = c->inband && (c->collecting || (c->rec && c->rc.finish_key));
	if ((!c->rec_on && !to_peer && !detect) || n == 0)
		return;
	int16_t pcm[PCM_MAX] = {0}; /* (only n are used; zeroed to quiet -Wmaybe-uninitialized) */
	if (n > PCM_MAX)
		n = PCM_MAX;
	for (size_t i = 0; i < n; i++)
		pcm[i] = c->pt == 8 ? alaw_to_linear(p[i]) : ulaw_to_linear(p[i]);
	if (c->rec_on) {
		rec_push(c->rec, pcm, n);
		if (rec_dbm0(pcm, n) >= c->rc.silence_dbm0)
			c->rec_voiced_us = c->m->now_us;
	}
	if (to_peer && c->peer->bq)
		bridge_put(c->peer->bq, pcm, n);
	if (detect)
		dtmf_rx(c->inband, pcm, (int)n);
}

static void on_packet(struct mcall *c, const uint8_t *p, size_t n, int64_t arrival_ts)
{
	struct voice_rtp_hdr h;
	if (voice_rtp_parse(p, n, &h) < 0) {
		c->m->rejected++;
		return;
	}
	c->m->rx++;
	if (h.pt != c->pt && (c->te_pt < 0 || h.pt != c->te_pt))
		return;
	/* events share the stream's sequence numbers; jitter is measured on audio only */
	rx_stats(c, &h, h.pt == c->pt ? arrival_ts : INT64_MIN);
	if (h.pt == c->pt) {
		on_audio(c, p + h.off, h.len);
		return;
	}
	char d;
	if (voice_dtmf_rx_packet(&c->drx, h.ssrc, h.ts, h.marker, p + h.off, h.len, &d) == 1)
		on_digit(c, d, true);
}

/* Kernel receive time (SO_TIMESTAMPNS) in 8 kHz timestamp units; INT64_MIN if absent. */
static int64_t arrival(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			return (int64_t)ts.tv_sec * 8000 + ts.tv_nsec / 125000;
		}
	}
	return INT64_MIN;
}

/* Drains the call's RTP socket: one recvmmsg per round when the peer keeps time. */
static void call_rx(struct mcall *c)
{
	struct media *m = c->m;
	for (unsigned i = 0; i < RX_BURST; i++) {
		m->msgs[i].msg_hdr.msg_namelen = sizeof(m->src[i]);
		m->msgs[i].msg_hdr.msg_flags = 0;
		m->msgs[i].msg_hdr.msg_controllen = sizeof(m->ctl[i]);
	}
	int n = recvmmsg(c->fd, m->msgs, RX_BURST, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		if (!source_ok(c, &m->src[i], m->msgs[i].msg_hdr.msg_namelen)) {
			m->rejected++;
			continue;
		}
		on_packet(c, m->buf[i], m->msgs[i].msg_len, arrival(&m->msgs[i].msg_hdr));
	}
}

static void publish(struct mcall *c);

/* RTCP: the report blocks about our stream (SR or RR). */
static void rtcp_read(int flags, void *arg)
{
	struct mcall *c = arg;
	uint8_t buf[RX_BUF];
	for (int i = 0; i < RX_BURST; i++) {
		struct sockaddr_storage src;
		socklen_t len = sizeof(src);
		ssize_t n = recvfrom(c->fd_rtcp, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&src, &len);
		if (n < 0)
			return;
		if (!same_host(&src, &c->raddr))
			continue; /* reports only from the peer's host (its RTCP port may differ) */
		struct voice_rtcp_block b[4];
		int k = voice_rtcp_parse(buf, (size_t)n, c->ssrc, b, 4);
		if (k > 0) {
			c->rb = b[k - 1];
			c->nrb += (unsigned)k;
			publish(c);
		}
	}
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
	if (!c->audio) {
		struct bridge_buf *b = c->bq;
		if (!b || !c->peer || c->held || c->peer->held || b->len == 0)
			return;
		size_t take = b->len < FRAME ? b->len : FRAME;
		for (size_t i = 0; i < take; i++) {
			int16_t v = b->s[(b->head + i) % BRIDGE_RING];
			out[i] = c->pt == 8 ? linear_to_alaw(v) : linear_to_ulaw(v);
		}
		b->head = (b->head + take) % BRIDGE_RING;
		b->len -= take;
		return;
	}
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
		stop_audio(c, 0, c->audio != c->m->beep); /* the record beep is not the owner's */
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

/* Quality so far, published for voice_call_quality and the HANGUP event. */
static void publish(struct mcall *c)
{
	struct voice_quality q;
	memset(&q, 0, sizeof(q));
	q.rx_packets = c->received;
	if (c->have_seq)
		q.rx_expected = c->cycles + c->max_seq - c->base_seq + 1u;
	if (q.rx_expected > q.rx_packets)
		q.loss_rx_pct =
		    100.0 * (double)(q.rx_expected - q.rx_packets) / (double)q.rx_expected;
	q.jitter_rx_ms = c->jitter / 8.0;
	q.rtcp_reports = c->nrb;
	if (c->nrb) {
		q.loss_tx_pct = 100.0 * c->rb.fraction_lost / 256.0;
		q.jitter_tx_ms = c->rb.jitter / 8.0;
	}
	double loss = q.loss_rx_pct > q.loss_tx_pct ? q.loss_rx_pct : q.loss_tx_pct;
	double jit = q.jitter_rx_ms > q.jitter_tx_ms ? q.jitter_rx_ms : q.jitter_tx_ms;
	/* one-way delay: 20 ms packets + a 40 ms jitter buffer + twice the jitter */
	q.mos = c->received ? voice_mos_estimate(loss, 60 + 2 * jit) : 0;
	route_publish(c->m->e, c->id, &q);
}

/* Our receiver report (RFC 3550 6.4.2) to the peer's RTCP port, the RTP port + 1. */
static void send_rr(struct mcall *c)
{
	struct voice_rtcp_block b;
	memset(&b, 0, sizeof(b));
	b.ssrc = c->peer_ssrc;
	uint64_t expected = c->cycles + c->max_seq - c->base_seq + 1u;
	uint64_t de = expected - c->expected_prior, dr = c->received - c->received_prior;
	if (de > dr)
		b.fraction_lost =
		    (uint8_t)(((de - dr) << 8) / de > 255 ? 255 : ((de - dr) << 8) / de);
	int64_t lost = (int64_t)expected - (int64_t)c->received;
	b.cum_lost = lost > 0x7fffff ? 0x7fffff : lost < -0x800000 ? -0x800000 : (int32_t)lost;
	b.ext_seq = c->cycles + c->max_seq;
	b.jitter = (uint32_t)c->jitter;
	c->expected_prior = expected;
	c->received_prior = c->received;
	uint8_t pkt[128];
	int n = voice_rtcp_write_rr(pkt, sizeof(pkt), c->ssrc, &b, "irisx");
	struct sockaddr_storage to = c->raddr;
	if (to.ss_family == AF_INET)
		((struct sockaddr_in *)&to)->sin_port =
		    htons((uint16_t)(ntohs(((struct sockaddr_in *)&to)->sin_port) + 1));
	else
		((struct sockaddr_in6 *)&to)->sin6_port =
		    htons((uint16_t)(ntohs(((struct sockaddr_in6 *)&to)->sin6_port) + 1));
	if (n > 0)
		(void)sendto(c->fd_rtcp, pkt, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&to,
			     c->rlen);
}

/* Timers of the primitives, checked once per round (20 ms resolution). */
static void call_timers(struct mcall *c)
{
	uint64_t now = c->m->now_us;
	if (c->collecting) {
		if (c->col_due_us == 0 && !c->audio)
			c->col_due_us = now + (uint64_t)c->col.first_ms * 1000;
		else if (c->col_due_us && now >= c->col_due_us)
			collect_end(c, VOICE_COLLECT_TIMEOUT);
	}
	if (c->rec && rec_failed(c->rec)) {
		record_end(c, VOICE_RECORD_ERROR);
	} else if (c->rec && !c->rec_on && (!c->rec_beep || c->audio != c->m->beep)) {
		c->rec_on = true;
		c->rec_start_us = c->rec_voiced_us = now;
	} else if (c->rec_on && now - c->rec_start_us >= (uint64_t)c->rc.max_ms * 1000) {
		record_end(c, VOICE_RECORD_MAX);
	} else if (c->rec_on && c->rc.silence_ms &&
		   now - c->rec_voiced_us >= (uint64_t)c->rc.silence_ms * 1000) {
		record_end(c, VOICE_RECORD_SILENCE);
	}
}

static void call_frame(struct mcall *c, uint64_t round)
{
	call_timers(c);
	if ((round - c->round0) % PUBLISH_ROUNDS == 0)
		publish(c);
	if ((round - c->round0) % RR_ROUNDS == PUBLISH_ROUNDS && c->received)
		send_rr(c);
	if (!c->send)
		return;
	uint32_t ts = c->ts_base + (uint32_t)((round - c->round0) * FRAME);
	c->last_ts = ts;
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
	m->now_us = now0;
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

static void emit_bridge(struct mcall *c, int code, uint64_t peer)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = VOICE_EV_BRIDGE;
	ev.call = c->id;
	ev.code = code;
	ev.peer = peer;
	emit_ev(c->m, &ev);
}

static void unbridge(struct mcall *c, bool report_self)
{
	struct mcall *p = c->peer;
	if (!p)
		return;
	p->peer = NULL;
	c->peer = NULL;
	vx_free(p->bq);
	vx_free(c->bq);
	p->bq = c->bq = NULL;
	emit_bridge(p, 0, c->id);
	if (report_self)
		emit_bridge(c, 0, p->id);
}

/* In-band detection runs only when the peer cannot send RFC 4733 events. */
static void inband_update(struct mcall *c)
{
	if (c->te_pt < 0 && !c->inband) {
		c->inband = dtmf_rx_init(NULL, inband_cb, c);
	} else if (c->te_pt >= 0 && c->inband) {
		dtmf_rx_free(c->inband);
		c->inband = NULL;
	}
}

/* Links a call into this thread: lookups, a tick phase, its RTCP socket. */
static void attach(struct media *m, struct mcall *c)
{
	c->m = m;
	c->round0 = m->tk.n / PHASES + 1;
	hash_append(m->calls, (uint32_t)c->id, &c->he, c);
	list_append(&m->phase[m->next_phase], &c->ple, c);
	m->next_phase = (m->next_phase + 1) % PHASES;
	atomic_fetch_add_explicit(&m->t->calls, 1, memory_order_relaxed);
	if (fd_listen(c->fd_rtcp, FD_READ, rtcp_read, c) != 0)
		c->send = false; /* out of descriptor slots: the call stays silent */
}

static void detach(struct mcall *c)
{
	fd_close(c->fd_rtcp);
	hash_unlink(&c->he);
	list_unlink(&c->ple);
	atomic_fetch_sub_explicit(&c->m->t->calls, 1, memory_order_relaxed);
}

static void call_free(struct mcall *c)
{
	detach(c);
	close(c->fd);
	close(c->fd_rtcp);
	stop_audio(c, 1, false);
	record_end(c, VOICE_RECORD_HANGUP);
	unbridge(c, false);
	if (c->inband)
		dtmf_rx_free(c->inband);
	vx_free(c);
}

static void cmd_add(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = vx_zalloc(sizeof(*c));
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
	voice_dtmf_rx_init(&c->drx);
	int on = 1; /* kernel arrival times for the jitter estimate */
	(void)setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	inband_update(c);
	attach(m, c);
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
	inband_update(c);
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

static void cmd_collect(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = find(m, cmd->call);
	if (!c)
		return;
	if (c->collecting)
		collect_end(c, VOICE_COLLECT_STOPPED);
	c->col = cmd->collect;
	c->collecting = true;
	c->ncdig = 0;
	c->col_due_us = 0;
}

static void cmd_record(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = find(m, cmd->call);
	if (!c)
		return;
	record_end(c, VOICE_RECORD_STOPPED);
	c->rc = cmd->record;
	c->rc.path = NULL;
	c->rec = rec_new(m->e, c->id, cmd->obj, c->rc.trim, c->rc.silence_dbm0);
	if (!c->rec)
		return;
	c->rec_on = false; /* call_timers starts it on the next round, or after the beep */
	c->rec_beep = c->rc.beep && m->beep;
	if (c->rec_beep) {
		stop_audio(c, 1, true);
		c->audio = voice_audio_ref(m->beep);
		c->pos = 0;
		c->loops = 1;
	}
}

static void do_bridge(struct mcall *a, struct mcall *b)
{
	if (a == b || a->peer == b)
		return;
	unbridge(a, true);
	unbridge(b, true);
	a->peer = b;
	b->peer = a;
	a->bq = vx_zalloc(sizeof(*a->bq));
	b->bq = vx_zalloc(sizeof(*b->bq));
	emit_bridge(a, 1, b->id);
	emit_bridge(b, 1, a->id);
}

static void cmd_bridge(struct media *m, struct media_cmd *cmd)
{
	struct mcall *a = find(m, cmd->call), *b = find(m, cmd->peer);
	if (a && b)
		do_bridge(a, b);
	else if (a || b)
		emit_bridge(a ? a : b, 0, a ? cmd->peer : cmd->call);
}

/* Hands the call to another media thread (its bridge peer's); plain memory and descriptors
   cross, no libre object does: its list elements are unlinked and its RTCP socket leaves this
   thread's poll set first. */
static void cmd_move(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = find(m, cmd->call);
	if (!c) { /* gone (or moved by another bridge meanwhile): tell the asking leg */
		struct voice_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.type = VOICE_EV_BRIDGE;
		ev.call = cmd->peer;
		ev.peer = cmd->call;
		emit_ev(m, &ev);
		return;
	}
	unbridge(c, true);
	detach(c);
	c->ts_base = c->last_ts + FRAME; /* the timestamps go on from the last frame */
	struct media_cmd *a = vx_zalloc(sizeof(*a));
	a->call = c->id;
	a->peer = cmd->peer;
	a->fd = a->fd_rtcp = -1;
	a->obj = c;
	if (route_move(m->e, c->id, cmd->target, MEDIA_ADOPT, a) < 0) {
		vx_free(a); /* the other thread is gone (shutdown): end the call's media here */
		attach(m, c);
	}
}

static void cmd_adopt(struct media *m, struct media_cmd *cmd)
{
	struct mcall *c = cmd->obj;
	cmd->obj = NULL;
	attach(m, c);
	struct mcall *a = find(m, cmd->peer);
	if (a)
		do_bridge(a, c);
	else
		emit_bridge(c, 0, cmd->peer);
}

static void cmd_hold(struct media *m, struct media_cmd *cmd, bool on)
{
	struct mcall *c = find(m, cmd->call);
	if (!c)
		return;
	if (on) {
		stop_audio(c, 1, true);
		c->audio = cmd->audio;
		cmd->audio = NULL;
		c->pos = 0;
		c->loops = 0;
	} else if (c->held) {
		stop_audio(c, 1, true);
	}
	c->held = on;
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
	case MEDIA_COLLECT:
		cmd_collect(m, cmd);
		break;
	case MEDIA_RECORD:
		cmd_record(m, cmd);
		break;
	case MEDIA_STOP_RECORD:
		if ((c = find(m, cmd->call)))
			record_end(c, VOICE_RECORD_STOPPED);
		break;
	case MEDIA_BRIDGE:
		cmd_bridge(m, cmd);
		break;
	case MEDIA_MOVE:
		cmd_move(m, cmd);
		break;
	case MEDIA_ADOPT:
		cmd_adopt(m, cmd);
		break;
	case MEDIA_UNBRIDGE:
		if ((c = find(m, cmd->call)))
			unbridge(c, true);
		break;
	case MEDIA_HOLD:
		cmd_hold(m, cmd, true);
		break;
	case MEDIA_UNHOLD:
		cmd_hold(m, cmd, false);
		break;
	default:
		break;
	}
	if (cmd) {
		voice_audio_unref(cmd->audio);
		if (id == MEDIA_RECORD)
			vx_free(cmd->obj); /* the path */
		else if (id == MEDIA_ADOPT && cmd->obj)
			vx_free(cmd->obj);
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
	if ((r = voice_audio_beep(&m->beep)) < 0)
		return r;
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
	voice_audio_unref(m->beep);
	vx_free(m);
	re_thread_close();
	return NULL;
}
