/* smpp.c: the SMPP 3.4 ESME client: one bind on a thread of its own (poll loop,
   non-blocking TCP), submit window, token bucket, enquire_link, rebind with backoff and
   jitter, resend of the unacknowledged window, deliver_sm and receipts. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smpp.h"

#define IN_CAP 65536	       /* input buffer: always room for a whole PDU after compaction */
#define OUT_HIGH 65536	       /* stop filling the window while this much waits to be written */
#define THROTTLE_MIN_MS 100    /* first back-off after ESME_RTHROTTLED / ESME_RMSGQFUL */
#define THROTTLE_MAX_MS 5000   /* ... doubling up to this */
#define UNBIND_TIMEOUT_MS 1000 /* smpp_client_free waits this long for unbind_resp */
#define ENQUIRE_TIMEOUT_MS                                                                         \
	10000 /* enquire_link unanswered this long (or the resp timeout): rebind */

struct msg {
	struct msg *next;
	uint8_t *pdu; /* the encoded submit_sm; its sequence is set at each send */
	size_t len;
	void *arg;
	uint32_t seq;
	uint64_t sent_us;
};

struct mq {
	struct msg *head, *tail;
};

enum state { ST_IDLE, ST_CONNECTING, ST_BINDING, ST_BOUND, ST_UNBINDING };

struct smpp_client {
	char *host, *system_id, *password, *system_type;
	int port, window, tps, queue_max;
	uint32_t bind_cmd; /* bind_transceiver, bind_transmitter or bind_receiver */
	uint64_t enquire_us, enquire_timeout_us, rto_us;
	int rebind_min_ms, rebind_max_ms;
	struct smpp_callbacks cb;

	pthread_t thread;
	pthread_mutex_t lock; /* intake and closed */
	struct mq intake;
	bool closed;
	int wake_fd;
	atomic_bool stop, bound;
	atomic_int queued, in_window;
	_Atomic uint64_t n_submitted, n_resp_ok, n_resp_error, n_throttled, n_resent, n_rebinds,
	    n_delivered, n_generic_nacks;

	/* the client thread's own */
	struct mq queue;
	struct msg **win;
	int in_win;
	int fd;
	enum state st;
	bool ever_bound, done;
	struct buf out;
	size_t out_off;
	uint8_t *in;
	size_t in_len;
	uint32_t seq, bind_seq, enquire_seq;
	uint64_t deadline_us, reconnect_us, last_rx_us, enquire_sent_us, throttle_until_us;
	int attempts, backoff_ms;
	double tokens;
	uint64_t tokens_us;
};

#define STAT_ADD(c, f, v) atomic_fetch_add_explicit(&(c)->f, (v), memory_order_relaxed)

static void mq_push_tail(struct mq *q, struct msg *m)
{
	m->next = NULL;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
}

static void mq_push_head(struct mq *q, struct msg *m)
{
	m->next = q->head;
	q->head = m;
	if (!q->tail)
		q->tail = m;
}

static struct msg *mq_pop(struct mq *q)
{
	struct msg *m = q->head;
	if (m) {
		q->head = m->next;
		if (!q->head)
			q->tail = NULL;
	}
	return m;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t next_seq(struct smpp_client *c)
{
	c->seq = c->seq >= 0x7FFFFFFF ? 1 : c->seq + 1;
	return c->seq;
}

static void msg_free(struct msg *m)
{
	if (m) {
		mem_free(m->pdu);
		mem_free(m);
	}
}

/* Reports the one result of m and frees it. */
static void report(struct smpp_client *c, struct msg *m, uint32_t status, const char *id)
{
	struct smpp_submit_result r = {.arg = m->arg, .status = status, .message_id = id};
	msg_free(m);
	if (c->cb.submitted)
		c->cb.submitted(&r, c->cb.arg);
}

/* ---- output ---- */

static void send_pdu(struct smpp_client *c, uint32_t cmd, uint32_t status, uint32_t seq)
{
	struct smpp_pdu p = {.command_id = cmd, .command_status = status, .sequence = seq};
	if (smpp_pdu_encode(&p, &c->out) < 0)
		abort(); /* header-only PDUs always encode */
}

static void send_bind(struct smpp_client *c)
{
	struct smpp_pdu p = {.command_id = c->bind_cmd, .interface_version = 0x34};
	p.sequence = c->bind_seq = next_seq(c);
	snprintf(p.system_id, sizeof(p.system_id), "%s", c->system_id);
	snprintf(p.password, sizeof(p.password), "%s", c->password);
	snprintf(p.system_type, sizeof(p.system_type), "%s", c->system_type);
	if (smpp_pdu_encode(&p, &c->out) < 0)
		abort(); /* lengths were checked by smpp_client_new */
	c->st = ST_BINDING;
	c->deadline_us = time_mono_us() + c->rto_us;
}

static void lost(struct smpp_client *c, const char *why);

static int flush(struct smpp_client *c)
{
	while (c->fd >= 0 && c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0) {
			lost(c, "send failed");
			return -EIO;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len)
		c->out.len = c->out_off = 0;
	return 0;
}

/* ---- connection ---- */

static void schedule_reconnect(struct smpp_client *c)
{
	uint64_t d = (uint64_t)c->rebind_min_ms << (c->attempts < 16 ? c->attempts : 16);
	if (d > (uint64_t)c->rebind_max_ms)
		d = (uint64_t)c->rebind_max_ms;
	uint32_t r;
	rand_bytes(&r, sizeof(r));
	d = d / 2 + r % (d / 2 + 1); /* jitter: half to all of the delay */
	c->attempts++;
	c->reconnect_us = time_mono_us() + d * 1000;
}

/* The bind is gone: close, put the unacknowledged window back in front of the queue. */
static void lost(struct smpp_client *c, const char *why)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->out.len = c->out_off = 0;
	c->in_len = 0;
	for (int i = c->in_win - 1; i >= 0; i--) {
		mq_push_head(&c->queue, c->win[i]);
		atomic_fetch_add(&c->queued, 1);
		if (!atomic_load(&c->stop))
			STAT_ADD(c, n_resent, 1);
	}
	c->in_win = 0;
	atomic_store(&c->in_window, 0);
	c->enquire_sent_us = 0;
	bool was = c->st == ST_BOUND || c->st == ST_UNBINDING;
	if (c->st == ST_UNBINDING)
		c->done = true;
	c->st = ST_IDLE;
	schedule_reconnect(c);
	if (was) {
		atomic_store(&c->bound, false);
		if (c->cb.bound)
			c->cb.bound(false, why, c->cb.arg);
	}
}

static void start_connect(struct smpp_client *c)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%d", c->port);
	if (getaddrinfo(c->host, port, &hints, &ai) != 0 || !ai) {
		lost(c, "cannot resolve host");
		return;
	}
	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		freeaddrinfo(ai);
		lost(c, "socket failed");
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int r = connect(c->fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0 && errno != EINPROGRESS) {
		lost(c, "connect failed");
		return;
	}
	c->st = ST_CONNECTING;
	c->deadline_us = time_mono_us() + c->rto_us;
	if (r == 0)
		send_bind(c);
}

static void on_connected(struct smpp_client *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		lost(c, "connect refused");
		return;
	}
	send_bind(c);
}

/* ---- incoming PDUs ---- */

static void on_bind_resp(struct smpp_client *c, const struct smpp_pdu *p)
{
	if (p->command_status != SMPP_ESME_ROK) {
		char why[64];
		snprintf(why, sizeof(why), "bind refused: 0x%08x", p->command_status);
		lost(c, why);
		return;
	}
	c->st = ST_BOUND;
	c->attempts = 0;
	c->enquire_sent_us = 0;
	if (c->ever_bound)
		STAT_ADD(c, n_rebinds, 1);
	c->ever_bound = true;
	atomic_store(&c->bound, true);
	if (c->cb.bound)
		c->cb.bound(true, "bound", c->cb.arg);
}

static int win_find(struct smpp_client *c, uint32_t seq)
{
	for (int i = 0; i < c->in_win; i++)
		if (c->win[i]->seq == seq)
			return i;
	return -1;
}

static struct msg *win_take(struct smpp_client *c, int i)
{
	struct msg *m = c->win[i];
	memmove(c->win + i, c->win + i + 1, (size_t)(c->in_win - i - 1) * sizeof(*c->win));
	c->in_win--;
	atomic_store(&c->in_window, c->in_win);
	return m;
}

static void requeue_front(struct smpp_client *c, struct msg *m)
{
	mq_push_head(&c->queue, m);
	atomic_fetch_add(&c->queued, 1);
}

static void on_submit_resp(struct smpp_client *c, uint32_t seq, uint32_t status, const char *id)
{
	int i = win_find(c, seq);
	if (i < 0)
		return; /* a late answer to a submit already resent */
	struct msg *m = win_take(c, i);
	if (status == SMPP_ESME_RTHROTTLED || status == SMPP_ESME_RMSGQFUL) {
		STAT_ADD(c, n_throttled, 1);
		requeue_front(c, m);
		c->throttle_until_us = time_mono_us() + (uint64_t)c->backoff_ms * 1000;
		c->backoff_ms =
		    c->backoff_ms * 2 > THROTTLE_MAX_MS ? THROTTLE_MAX_MS : c->backoff_ms * 2;
		return;
	}
	c->backoff_ms = THROTTLE_MIN_MS;
	if (status == SMPP_ESME_ROK)
		STAT_ADD(c, n_resp_ok, 1);
	else
		STAT_ADD(c, n_resp_error, 1);
	report(c, m, status, status == SMPP_ESME_ROK ? id : NULL);
}

static const char *state_name(int st)
{
	static const char *const names[] = {"SCHEDULED", "ENROUTE", "DELIVRD", "EXPIRED", "DELETED",
					    "UNDELIV",	 "ACCEPTD", "UNKNOWN", "REJECTD"};
	return st >= 0 && st <= 8 ? names[st] : "UNKNOWN";
}

static void on_deliver(struct smpp_client *c, const struct smpp_pdu *p)
{
	struct smpp_deliver d = {.pdu = p};
	uint8_t type = p->esm_class & 0x3C;
	STAT_ADD(c, n_delivered, 1);
	d.is_receipt = type == 0x04 || type == 0x08;
	if (d.is_receipt) {
		if (smpp_receipt_parse((const char *)p->short_message, p->sm_length, &d.receipt) <
		    0)
			memset(&d.receipt, 0, sizeof(d.receipt));
		/* the TLVs are the standard form (the text is an appendix): they win */
		if (p->receipted_message_id[0])
			snprintf(d.receipt.id, sizeof(d.receipt.id), "%s", p->receipted_message_id);
		if (p->message_state >= 0 && (!d.receipt.stat[0] || !p->sm_length))
			snprintf(d.receipt.stat, sizeof(d.receipt.stat), "%s",
				 state_name(p->message_state));
		if (!d.receipt.id[0])
			memset(&d.receipt, 0, sizeof(d.receipt));
	}
	uint32_t status = c->cb.delivered ? c->cb.delivered(&d, c->cb.arg) : SMPP_ESME_ROK;
	send_pdu(c, SMPP_DELIVER_SM_RESP, status, p->sequence);
}

static void nack(struct smpp_client *c, uint32_t status, uint32_t seq)
{
	send_pdu(c, SMPP_GENERIC_NACK, status, seq);
	STAT_ADD(c, n_generic_nacks, 1);
}

/* Handles one whole PDU; < 0 if the connection went away meanwhile. */
static int handle_pdu(struct smpp_client *c, const uint8_t *raw, size_t len)
{
	struct smpp_pdu p;
	int r = smpp_pdu_decode(raw, len, &p);
	c->last_rx_us = time_mono_us();
	if (r < 0) {
		nack(c, r == -ENOTSUP ? SMPP_ESME_RINVCMDID : SMPP_ESME_RINVCMDLEN,
		     get32(raw + 12));
		return 0;
	}
	switch (p.command_id) {
	case SMPP_BIND_TRANSCEIVER_RESP:
	case SMPP_BIND_TRANSMITTER_RESP:
	case SMPP_BIND_RECEIVER_RESP:
		/* the resp of another bind type is no answer: the bind times out */
		if (c->st == ST_BINDING && p.sequence == c->bind_seq &&
		    p.command_id == (c->bind_cmd | 0x80000000u))
			on_bind_resp(c, &p);
		break;
	case SMPP_SUBMIT_SM_RESP:
		on_submit_resp(c, p.sequence, p.command_status, p.message_id);
		break;
	case SMPP_GENERIC_NACK:
		if (c->st == ST_BINDING && p.sequence == c->bind_seq)
			lost(c, "bind answered with generic_nack");
		else if (c->enquire_sent_us && p.sequence == c->enquire_seq)
			c->enquire_sent_us = 0;
		else
			on_submit_resp(c, p.sequence,
				       p.command_status ? p.command_status : SMPP_ESME_RINVCMDID,
				       NULL);
		break;
	case SMPP_DELIVER_SM:
		on_deliver(c, &p);
		break;
	case SMPP_ENQUIRE_LINK:
		send_pdu(c, SMPP_ENQUIRE_LINK_RESP, SMPP_ESME_ROK, p.sequence);
		break;
	case SMPP_ENQUIRE_LINK_RESP:
		c->enquire_sent_us = 0;
		break;
	case SMPP_UNBIND:
		send_pdu(c, SMPP_UNBIND_RESP, SMPP_ESME_ROK, p.sequence);
		flush(c);
		lost(c, "unbound by the SMSC");
		break;
	case SMPP_UNBIND_RESP:
		if (c->st == ST_UNBINDING)
			lost(c, "unbound");
		break;
	case SMPP_DELIVER_SM_RESP:
		break;
	default: /* a request an ESME does not serve (bind, submit_sm) */
		nack(c, SMPP_ESME_RINVCMDID, p.sequence);
	}
	return c->fd >= 0 ? 0 : -EIO;
}

static void process_input(struct smpp_client *c)
{
	size_t off = 0, plen = 0;
	for (;;) {
		int need = smpp_pdu_need(c->in + off, c->in_len - off, &plen);
		if (need > 0)
			break;
		if (need < 0) { /* no way to find the next PDU: answer, then start over */
			nack(c, SMPP_ESME_RINVCMDLEN,
			     c->in_len - off >= 16 ? get32(c->in + off + 12) : 0);
			flush(c);
			lost(c, "invalid command_length");
			return;
		}
		if (handle_pdu(c, c->in + off, plen) < 0)
			return;
		off += plen;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void on_readable(struct smpp_client *c)
{
	for (int i = 0; i < 16 && c->fd >= 0; i++) {
		ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			lost(c, n == 0 ? "connection closed by the SMSC" : "receive failed");
			return;
		}
		c->in_len += (size_t)n;
		process_input(c);
	}
}

/* ---- timers and the window ---- */

static bool take_token(struct smpp_client *c, uint64_t now)
{
	if (c->tps <= 0)
		return true;
	double cap = c->tps >= 10 ? c->tps / 10.0 : 1.0;
	c->tokens += (double)(now - c->tokens_us) * c->tps / 1e6;
	c->tokens_us = now;
	if (c->tokens > cap)
		c->tokens = cap;
	if (c->tokens < 1.0)
		return false;
	c->tokens -= 1.0;
	return true;
}

static void fill_window(struct smpp_client *c, uint64_t now)
{
	while (c->in_win < c->window && c->queue.head && now >= c->throttle_until_us &&
	       c->out.len - c->out_off < OUT_HIGH && take_token(c, now)) {
		struct msg *m = mq_pop(&c->queue);
		atomic_fetch_sub(&c->queued, 1);
		m->seq = next_seq(c);
		put32(m->pdu + 12, m->seq);
		if (buf_append(&c->out, m->pdu, m->len) < 0)
			abort(); /* the output buffer has no maximum */
		m->sent_us = now;
		c->win[c->in_win++] = m;
		STAT_ADD(c, n_submitted, 1);
	}
	atomic_store(&c->in_window, c->in_win);
}

static void tick_bound(struct smpp_client *c, uint64_t now)
{
	/* the window is in send order: the oldest first */
	while (c->in_win > 0 && now - c->win[0]->sent_us >= c->rto_us) {
		requeue_front(c, win_take(c, 0));
		STAT_ADD(c, n_resent, 1);
	}
	if (c->enquire_sent_us && now - c->enquire_sent_us >= c->enquire_timeout_us) {
		lost(c, "enquire_link unanswered");
		return;
	}
	if (!c->enquire_sent_us && now - c->last_rx_us >= c->enquire_us) {
		c->enquire_seq = next_seq(c);
		send_pdu(c, SMPP_ENQUIRE_LINK, SMPP_ESME_ROK, c->enquire_seq);
		c->enquire_sent_us = now;
	}
	if (!atomic_load(&c->stop))
		fill_window(c, now);
}

static void tick(struct smpp_client *c, uint64_t now)
{
	switch (c->st) {
	case ST_IDLE:
		if (atomic_load(&c->stop))
			c->done = true;
		else if (now >= c->reconnect_us)
			start_connect(c);
		break;
	case ST_CONNECTING:
	case ST_BINDING:
		if (atomic_load(&c->stop)) {
			lost(c, "stopped");
			c->done = true;
		} else if (now >= c->deadline_us) {
			lost(c, c->st == ST_CONNECTING ? "connect timeout" : "bind timeout");
		}
		break;
	case ST_BOUND:
		if (atomic_load(&c->stop)) {
			send_pdu(c, SMPP_UNBIND, SMPP_ESME_ROK, next_seq(c));
			c->st = ST_UNBINDING;
			c->deadline_us = now + UNBIND_TIMEOUT_MS * 1000;
		} else {
			tick_bound(c, now);
		}
		break;
	case ST_UNBINDING:
		if (now >= c->deadline_us)
			lost(c, "unbind timeout");
		break;
	}
}

/* Microseconds until something is due (capped at 1 s). */
static uint64_t next_due(struct smpp_client *c, uint64_t now)
{
	uint64_t due = now + 1000000;
#define DUE(t) (due = (t) < due ? (t) : due)
	if (c->st == ST_IDLE)
		DUE(c->reconnect_us);
	else if (c->st != ST_BOUND)
		DUE(c->deadline_us);
	else {
		if (c->in_win > 0)
			DUE(c->win[0]->sent_us + c->rto_us);
		DUE(c->enquire_sent_us ? c->enquire_sent_us + c->enquire_timeout_us
				       : c->last_rx_us + c->enquire_us);
		if (c->queue.head && c->in_win < c->window) {
			DUE(c->throttle_until_us);
			if (c->tps > 0)
				DUE(now + 1000000 / (uint64_t)c->tps);
		}
	}
#undef DUE
	return due > now ? due - now : 0;
}

static void take_intake(struct smpp_client *c)
{
	pthread_mutex_lock(&c->lock);
	struct msg *h = c->intake.head, *t = c->intake.tail;
	c->intake.head = c->intake.tail = NULL;
	pthread_mutex_unlock(&c->lock);
	if (!h)
		return;
	if (c->queue.tail)
		c->queue.tail->next = h;
	else
		c->queue.head = h;
	c->queue.tail = t;
}

static void poll_once(struct smpp_client *c, uint64_t now)
{
	struct pollfd pf[2] = {{.fd = c->wake_fd, .events = POLLIN}, {.fd = c->fd}};
	if (c->fd >= 0)
		pf[1].events =
		    c->st == ST_CONNECTING || c->out_off < c->out.len ? POLLIN | POLLOUT : POLLIN;
	int timeout = (int)((next_due(c, now) + 999) / 1000);
	if (poll(pf, c->fd >= 0 ? 2 : 1, timeout) <= 0)
		return;
	if (pf[0].revents & POLLIN) {
		uint64_t v;
		if (read(c->wake_fd, &v, sizeof(v)) < 0)
			(void)0; /* EAGAIN: already drained */
	}
	if (c->fd < 0 || !pf[1].revents)
		return;
	if (c->st == ST_CONNECTING) {
		on_connected(c);
		return;
	}
	if (pf[1].revents & (POLLIN | POLLHUP | POLLERR))
		on_readable(c);
	if (c->fd >= 0 && (pf[1].revents & POLLOUT))
		flush(c);
}

static void drain_all(struct smpp_client *c)
{
	for (;;) {
		pthread_mutex_lock(&c->lock);
		c->closed = true;
		pthread_mutex_unlock(&c->lock);
		take_intake(c);
		for (int i = 0; i < c->in_win; i++)
			report(c, c->win[i], SMPP_ESME_RSYSERR, NULL);
		c->in_win = 0;
		struct msg *m;
		int n = 0;
		while ((m = mq_pop(&c->queue))) {
			report(c, m, SMPP_ESME_RSYSERR, NULL);
			n++;
		}
		if (!n)
			break;
	}
	atomic_store(&c->queued, 0);
	atomic_store(&c->in_window, 0);
}

static void *run(void *arg)
{
	struct smpp_client *c = arg;
	while (!c->done) {
		take_intake(c);
		tick(c, time_mono_us());
		if (c->done)
			break;
		flush(c);
		poll_once(c, time_mono_us());
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	drain_all(c);
	return NULL;
}

/* ---- public ---- */

int smpp_client_new(const struct smpp_config *cfg, const struct smpp_callbacks *cb,
		    struct smpp_client **ret)
{
	const char *sid = cfg->system_id ? cfg->system_id : "";
	const char *pw = cfg->password ? cfg->password : "";
	const char *st = cfg->system_type ? cfg->system_type : "";
	if (!cfg->host || cfg->port <= 0 || cfg->port > 65535 || strlen(sid) > 15 ||
	    strlen(pw) > 8 || strlen(st) > 12 || cfg->window < 0 || cfg->window > 1000 ||
	    (unsigned)cfg->bind_type > SMPP_RECEIVER)
		return -EINVAL;
	struct smpp_client *c = mem_zalloc(sizeof(*c));
	c->host = mem_strdup(cfg->host);
	c->system_id = mem_strdup(sid);
	c->password = mem_strdup(pw);
	c->system_type = mem_strdup(st);
	c->port = cfg->port;
	static const uint32_t bind_cmds[] = {SMPP_BIND_TRANSCEIVER, SMPP_BIND_TRANSMITTER,
					     SMPP_BIND_RECEIVER};
	c->bind_cmd = bind_cmds[cfg->bind_type];
	c->window = cfg->window > 0 ? cfg->window : 10;
	c->tps = cfg->tps > 0 ? cfg->tps : 0;
	c->queue_max = cfg->queue_max > 0 ? cfg->queue_max : 10000;
	c->enquire_us = (uint64_t)(cfg->enquire_link_s > 0 ? cfg->enquire_link_s : 30) * 1000000;
	c->rto_us =
	    (uint64_t)(cfg->response_timeout_ms > 0 ? cfg->response_timeout_ms : 10000) * 1000;
	c->enquire_timeout_us =
	    c->rto_us < ENQUIRE_TIMEOUT_MS * 1000 ? c->rto_us : ENQUIRE_TIMEOUT_MS * 1000;
	c->rebind_min_ms = cfg->rebind_min_ms > 0 ? cfg->rebind_min_ms : 500;
	c->rebind_max_ms = cfg->rebind_max_ms > 0 ? cfg->rebind_max_ms : 30000;
	if (c->rebind_max_ms < c->rebind_min_ms)
		c->rebind_max_ms = c->rebind_min_ms;
	if (cb)
		c->cb = *cb;
	c->win = mem_zalloc((size_t)c->window * sizeof(*c->win));
	c->in = mem_alloc(IN_CAP);
	buf_init(&c->out, 0);
	c->fd = -1;
	c->backoff_ms = THROTTLE_MIN_MS;
	c->tokens_us = time_mono_us();
	c->tokens = 1.0;
	pthread_mutex_init(&c->lock, NULL);
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->wake_fd < 0 || pthread_create(&c->thread, NULL, run, c) != 0) {
		int e = c->wake_fd < 0 ? -errno : -EAGAIN;
		if (c->wake_fd >= 0)
			close(c->wake_fd);
		c->done = true;
		pthread_mutex_destroy(&c->lock);
		buf_free(&c->out);
		mem_free(c->in);
		mem_free(c->win);
		mem_free(c->host);
		mem_free(c->system_id);
		mem_free(c->password);
		mem_free(c->system_type);
		mem_free(c);
		return e;
	}
	*ret = c;
	return 0;
}

static int copy_addr(char *dst, size_t max, const char *s)
{
	s = s ? s : "";
	if (strlen(s) >= max)
		return -EINVAL;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int smpp_submit(struct smpp_client *c, const struct smpp_submit *s)
{
	struct smpp_pdu p = {.command_id = SMPP_SUBMIT_SM, .message_state = -1};
	if (c->bind_cmd == SMPP_BIND_RECEIVER)
		return -ENOTSUP; /* a receiver bind cannot submit (SMPP 3.4 section 2.2.1) */
	if (s->sm_length > SMPP_SM_MAX ||
	    copy_addr(p.source_addr, sizeof(p.source_addr), s->source_addr) < 0 ||
	    copy_addr(p.destination_addr, sizeof(p.destination_addr), s->destination_addr) < 0 ||
	    copy_addr(p.validity_period, sizeof(p.validity_period), s->validity_period) < 0)
		return -EINVAL;
	p.source_addr_ton = s->source_addr_ton;
	p.source_addr_npi = s->source_addr_npi;
	p.dest_addr_ton = s->dest_addr_ton;
	p.dest_addr_npi = s->dest_addr_npi;
	p.esm_class = s->esm_class;
	p.data_coding = s->data_coding;
	p.registered_delivery = s->registered_delivery;
	p.sm_length = (uint8_t)s->sm_length;
	if (s->sm_length)
		memcpy(p.short_message, s->short_message, s->sm_length);
	if (atomic_load(&c->queued) >= c->queue_max)
		return -EAGAIN;
	struct buf b;
	buf_init(&b, 0);
	int r = smpp_pdu_encode(&p, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	struct msg *m = mem_zalloc(sizeof(*m));
	m->len = b.len;
	m->pdu = (uint8_t *)buf_detach(&b);
	m->arg = s->arg;
	pthread_mutex_lock(&c->lock);
	if (c->closed) {
		pthread_mutex_unlock(&c->lock);
		msg_free(m);
		return -EAGAIN;
	}
	bool wake = !c->intake.head;
	mq_push_tail(&c->intake, m);
	atomic_fetch_add(&c->queued, 1);
	pthread_mutex_unlock(&c->lock);
	if (wake) {
		uint64_t one = 1;
		if (write(c->wake_fd, &one, sizeof(one)) < 0)
			(void)0; /* the counter is full: the thread is awake anyway */
	}
	return 0;
}

bool smpp_client_bound(struct smpp_client *c)
{
	return atomic_load(&c->bound);
}

void smpp_client_stats(struct smpp_client *c, struct smpp_stats *ret)
{
	struct smpp_stats s = {
	    .submitted = atomic_load(&c->n_submitted),
	    .resp_ok = atomic_load(&c->n_resp_ok),
	    .resp_error = atomic_load(&c->n_resp_error),
	    .throttled = atomic_load(&c->n_throttled),
	    .resent = atomic_load(&c->n_resent),
	    .rebinds = atomic_load(&c->n_rebinds),
	    .delivered = atomic_load(&c->n_delivered),
	    .generic_nacks = atomic_load(&c->n_generic_nacks),
	    .in_window = atomic_load(&c->in_window),
	    .queued = atomic_load(&c->queued),
	};
	*ret = s;
}

void smpp_client_free(struct smpp_client *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	uint64_t one = 1;
	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		(void)0;
	pthread_join(c->thread, NULL);
	close(c->wake_fd);
	pthread_mutex_destroy(&c->lock);
	buf_free(&c->out);
	mem_free(c->in);
	mem_free(c->win);
	mem_free(c->host);
	mem_free(c->system_id);
	mem_free(c->password);
	mem_free(c->system_type);
	mem_free(c);
}
