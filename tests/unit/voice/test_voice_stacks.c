/* test_voice_stacks.c: unit tests for an engine with several signalling stacks (sig_threads):
   calls taken on every port, dials spread over the stacks, a bridge across stacks, the
   engine-wide max_calls, stats summed, stop with calls on both, and a device registered
   through one stack dialled through the other's address. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "voice/voice.h"
#include "../test.h"

/* ---- events kept per engine, so a wait for one type never loses another ---- */

enum { LOG_MAX = 512 };

struct evlog {
	struct voice_engine *e;
	struct voice_event ev[LOG_MAX];
	bool used[LOG_MAX];
	size_t n;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pump(struct evlog *l, int ms)
{
	struct voice_event ev;
	uint64_t until = mono_ms() + (uint64_t)ms;
	while (voice_engine_next_event(l->e, &ev, ms) == 1) {
		if (l->n < LOG_MAX)
			l->ev[l->n++] = ev;
		if (mono_ms() >= until)
			break;
	}
}

/* The next unconsumed event of type (for call, or any call if 0) within 5 s; NULL if none. */
static const struct voice_event *await(struct evlog *l, enum voice_event_type type, uint64_t call)
{
	uint64_t until = mono_ms() + 5000;
	do {
		for (size_t i = 0; i < l->n; i++) {
			if (l->used[i] || l->ev[i].type != type || (call && l->ev[i].call != call))
				continue;
			l->used[i] = true;
			return &l->ev[i];
		}
		pump(l, 50);
	} while (mono_ms() < until);
	return NULL;
}

static struct voice_engine *start(unsigned stacks, uint16_t rtp_min, unsigned max_calls,
				  unsigned media_threads)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	cfg.sip_port = 0;
	cfg.sig_threads = stacks;
	cfg.rtp_port_min = rtp_min;
	cfg.rtp_port_max = (uint16_t)(rtp_min + 99);
	cfg.media_threads = media_threads;
	cfg.max_calls = max_calls;
	cfg.reg_min_expires = 1;
	struct voice_engine *e = NULL;
	int r = voice_engine_start(&cfg, &e);
	CHECK_EQ_INT(r, 0);
	return r == 0 ? e : NULL;
}

static uint64_t dial_port(struct voice_engine *from, const char *user, uint16_t port)
{
	char uri[128];
	snprintf(uri, sizeof(uri), "sip:%s@127.0.0.1:%u", user, port);
	struct voice_dial d = {.uri = uri, .timeout_ms = 5000};
	uint64_t id = 0;
	CHECK_EQ_INT(voice_call_dial(from, &d, &id), 0);
	return id;
}

static void test_config(void)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	struct voice_engine *e = NULL;
	cfg.sig_threads = 17;
	CHECK_EQ_INT(voice_engine_start(&cfg, &e), -EINVAL);
	voice_config_default(&cfg);
	cfg.sig_threads = 2;
	cfg.sip_port = 65535; /* stack 1 would need 65536 */
	CHECK_EQ_INT(voice_engine_start(&cfg, &e), -EINVAL);
	/* 0 is one stack, as before */
	e = start(0, 34000, 4, 1);
	if (!e)
		return;
	CHECK_EQ_INT(voice_engine_sig_threads(e), 1);
	CHECK(voice_engine_sip_port_n(e, 0) != 0);
	CHECK_EQ_INT(voice_engine_sip_port_n(e, 0), voice_engine_sip_port(e));
	CHECK_EQ_INT(voice_engine_sip_port_n(e, 1), 0);
	/* an id no stack of this engine could own */
	CHECK_EQ_INT(voice_call_hangup(e, (uint64_t)3 << 48 | 1), -ENOENT);
	voice_engine_stop(e);
}

/* A raw UDP socket that sends one OPTIONS with Max-Forwards 0 to port: 483 back. */
static int options_483(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	socklen_t al = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	char msg[512], resp[2048];
	snprintf(msg, sizeof(msg),
		 "OPTIONS sip:probe@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKst%u\r\n"
		 "Max-Forwards: 0\r\nFrom: <sip:t@127.0.0.1>;tag=s%u\r\n"
		 "To: <sip:probe@127.0.0.1>\r\nCall-ID: st%u@t\r\nCSeq: 1 OPTIONS\r\n"
		 "Content-Length: 0\r\n\r\n",
		 port, ntohs(a.sin_port), port, port, port);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof(to));
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	int code = 0;
	if (poll(&pf, 1, 2000) == 1) {
		ssize_t n = recv(fd, resp, sizeof(resp) - 1, 0);
		if (n > 12) {
			resp[n] = '\0';
			code = atoi(resp + 8);
		}
	}
	close(fd);
	return code;
}

/* S has two stacks (and two media threads); C is an ordinary one-stack engine. */
static void test_two_stacks(void)
{
	static struct evlog ls, lc;
	memset(&ls, 0, sizeof(ls));
	memset(&lc, 0, sizeof(lc));
	struct voice_engine *s = start(2, 34100, 20, 2), *c = start(1, 34200, 20, 1);
	ls.e = s;
	lc.e = c;
	if (!s || !c)
		goto out;
	CHECK_EQ_INT(voice_engine_sig_threads(s), 2);
	uint16_t p0 = voice_engine_sip_port_n(s, 0), p1 = voice_engine_sip_port_n(s, 1);
	CHECK(p0 != 0 && p1 != 0 && p0 != p1);
	CHECK_EQ_INT(voice_engine_sip_port_n(s, 2), 0);

	/* inbound on both ports: each call belongs to the stack that received it */
	uint64_t c0 = dial_port(c, "svc", p0), c1 = dial_port(c, "svc", p1);
	const struct voice_event *ev;
	uint64_t in[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		CHECK((ev = await(&ls, VOICE_EV_INCOMING, 0)) != NULL);
		if (!ev)
			goto out;
		unsigned k = voice_call_stack(ev->call);
		CHECK(k < 2);
		if (k < 2)
			in[k] = ev->call;
		CHECK_EQ_INT(voice_call_answer(s, ev->call), 0);
	}
	CHECK(in[0] && in[1]);
	CHECK(await(&lc, VOICE_EV_ANSWERED, c0) != NULL);
	CHECK(await(&lc, VOICE_EV_ANSWERED, c1) != NULL);
	CHECK(await(&ls, VOICE_EV_ANSWERED, in[0]) != NULL);
	CHECK(await(&ls, VOICE_EV_ANSWERED, in[1]) != NULL);

	/* dials spread over the stacks */
	uint64_t out_ids[4];
	unsigned per[2] = {0, 0};
	for (int i = 0; i < 4; i++) {
		out_ids[i] = dial_port(s, "ring", voice_engine_sip_port(c));
		per[voice_call_stack(out_ids[i]) & 1]++;
	}
	CHECK_EQ_INT(per[0], 2);
	CHECK_EQ_INT(per[1], 2);
	for (int i = 0; i < 4; i++) {
		CHECK((ev = await(&ls, VOICE_EV_PROGRESS, out_ids[i])) != NULL);
		CHECK(ev && ev->code == 180);
	}
	for (int i = 0; i < 4; i++)
		CHECK(await(&lc, VOICE_EV_INCOMING, 0) != NULL);

	/* stats: calls over both stacks; an edge counter from each stack, summed */
	struct voice_stats st;
	voice_engine_stats(s, &st);
	CHECK_EQ_INT(st.calls, 6);
	CHECK_EQ_INT(options_483(p0), 483);
	CHECK_EQ_INT(options_483(p1), 483);
	voice_engine_stats(s, &st);
	CHECK_EQ_INT(st.sip_too_many_hops, 2);

	/* a bridge across the stacks (and the media threads): C's digit on its leg to stack 0
	   comes out on its leg to stack 1 */
	CHECK_EQ_INT(voice_call_bridge(s, in[0], in[1]), 0);
	CHECK((ev = await(&ls, VOICE_EV_BRIDGE, in[0])) != NULL);
	CHECK(ev && ev->code == 1 && ev->peer == in[1]);
	CHECK((ev = await(&ls, VOICE_EV_BRIDGE, in[1])) != NULL);
	CHECK(ev && ev->code == 1);
	const uint64_t cin[2] = {c0, c1};
	uint64_t from_leg = cin[0], to_leg = cin[1];
	CHECK_EQ_INT(voice_call_send_dtmf(c, from_leg, "7"), 0);
	CHECK((ev = await(&ls, VOICE_EV_DTMF, in[0])) != NULL);
	CHECK((ev = await(&lc, VOICE_EV_DTMF, to_leg)) != NULL);
	CHECK(ev && ev->digit == '7');
	/* hang up the stack-0 leg: its peer on stack 1 is unbridged and told */
	CHECK_EQ_INT(voice_call_hangup(s, in[0]), 0);
	CHECK((ev = await(&ls, VOICE_EV_HANGUP, in[0])) != NULL);
	CHECK((ev = await(&ls, VOICE_EV_BRIDGE, in[1])) != NULL);
	CHECK(ev && ev->code == 0);
	CHECK((ev = await(&lc, VOICE_EV_HANGUP, c0)) != NULL);
	CHECK(ev && ev->cause == VOICE_END_REMOTE);

	/* stop with calls on both stacks: the answered one gets a BYE, the ringing ones a
	   CANCEL, whichever stack holds them */
	voice_engine_stop(s);
	s = NULL;
	CHECK((ev = await(&lc, VOICE_EV_HANGUP, c1)) != NULL);
	CHECK(ev && ev->cause == VOICE_END_REMOTE);
	for (int i = 0; i < 4; i++) {
		CHECK((ev = await(&lc, VOICE_EV_HANGUP, 0)) != NULL);
		CHECK(ev && ev->cause == VOICE_END_CANCEL);
	}
	voice_engine_stats(c, &st);
	CHECK_EQ_INT(st.calls, 0);
out:
	voice_engine_stop(s);
	voice_engine_stop(c);
}

/* max_calls counts the calls of all stacks together. */
static void test_capacity(void)
{
	static struct evlog ls, lc;
	memset(&ls, 0, sizeof(ls));
	memset(&lc, 0, sizeof(lc));
	struct voice_engine *s = start(2, 34300, 2, 1), *c = start(1, 34400, 10, 1);
	ls.e = s;
	lc.e = c;
	if (!s || !c)
		goto out;
	uint16_t p0 = voice_engine_sip_port_n(s, 0), p1 = voice_engine_sip_port_n(s, 1);
	dial_port(c, "ring", p0);
	CHECK(await(&ls, VOICE_EV_INCOMING, 0) != NULL);
	dial_port(c, "ring", p1);
	CHECK(await(&ls, VOICE_EV_INCOMING, 0) != NULL);
	/* stack 1 holds one call, the engine two: full */
	uint64_t third = dial_port(c, "ring", p1);
	const struct voice_event *ev = await(&lc, VOICE_EV_HANGUP, third);
	CHECK(ev && ev->code == 503);
	/* a dial from the full engine fails too, on whichever stack it lands */
	uint64_t d = dial_port(s, "ring", voice_engine_sip_port(c));
	ev = await(&ls, VOICE_EV_HANGUP, d);
	CHECK(ev && ev->code == 503);
out:
	voice_engine_stop(s);
	voice_engine_stop(c);
}

static void add_user(struct voice_engine *e, const char *user, const char *password)
{
	char md5[65];
	CHECK_EQ_INT(voice_digest_ha1(VOICE_DIGEST_MD5, user, "127.0.0.1", password, md5), 0);
	CHECK_EQ_INT(voice_engine_add_user(e, user, NULL, md5, NULL), 0);
}

/* Waits for a REGISTER answered 200 on trunk id. */
static bool registered(struct evlog *l, uint64_t id)
{
	const struct voice_event *ev;
	while ((ev = await(l, VOICE_EV_TRUNK_REG, id)) != NULL)
		if (ev->code == 200)
			return true;
	return false;
}

/* Device D (two stacks: its trunks register from stack 0) registers alice through S's
   stack 1 and bob through S's stack 0; S's dials follow the bindings, whatever address the
   dial names. */
static void test_registrar(void)
{
	static struct evlog ls, ld;
	memset(&ls, 0, sizeof(ls));
	memset(&ld, 0, sizeof(ld));
	struct voice_engine *s = start(2, 34500, 10, 1), *d = start(2, 34600, 10, 1);
	ls.e = s;
	ld.e = d;
	if (!s || !d)
		goto out;
	add_user(s, "alice", "a-secret");
	add_user(s, "bob", "b-secret");
	uint16_t p0 = voice_engine_sip_port_n(s, 0), p1 = voice_engine_sip_port_n(s, 1);
	char uri0[64], uri1[64];
	snprintf(uri0, sizeof(uri0), "sip:127.0.0.1:%u", p0);
	snprintf(uri1, sizeof(uri1), "sip:127.0.0.1:%u", p1);
	struct voice_trunk ta = {
	    .uri = uri1, .user = "alice", .password = "a-secret", .register_expires = 60};
	struct voice_trunk tb = {
	    .uri = uri0, .user = "bob", .password = "b-secret", .register_expires = 60};
	uint64_t ida, idb;
	CHECK_EQ_INT(voice_trunk_add(d, &ta, &ida), 0);
	CHECK_EQ_INT(voice_trunk_add(d, &tb, &idb), 0);
	CHECK_EQ_INT(voice_call_stack(ida), 0); /* trunks live on stack 0 */
	CHECK(registered(&ld, ida));
	CHECK(registered(&ld, idb));
	struct voice_stats st;
	voice_engine_stats(s, &st);
	CHECK_EQ_INT(st.reg_bindings, 2);
	CHECK(st.reg_ok >= 2);	       /* summed: one on each stack */
	CHECK(st.reg_challenged >= 2); /* the first REGISTER of each */

	/* device:alice, twice: both from stack 1 (round robin alone would alternate), and
	   alice's address of record on stack 0's port: still stack 1, which holds the binding */
	char aor[96];
	snprintf(aor, sizeof(aor), "sip:alice@127.0.0.1:%u", p0);
	const char *targets[] = {"device:alice", "device:alice", aor, "device:bob"};
	const unsigned want[] = {1, 1, 1, 0};
	for (int i = 0; i < 4; i++) {
		struct voice_dial dl = {.uri = targets[i], .timeout_ms = 5000};
		uint64_t id = 0;
		CHECK_EQ_INT(voice_call_dial(s, &dl, &id), 0);
		CHECK_EQ_INT(voice_call_stack(id), want[i]);
		const struct voice_event *ev = await(&ld, VOICE_EV_INCOMING, 0);
		CHECK(ev != NULL);
		if (!ev)
			break;
		CHECK_STR(ev->ruser, i == 3 ? "bob" : "alice");
		CHECK_EQ_INT(voice_call_stack(ev->call), 0); /* the contact is D's stack 0 */
		CHECK_EQ_INT(voice_call_answer(d, ev->call), 0);
		CHECK(await(&ls, VOICE_EV_ANSWERED, id) != NULL);
		CHECK_EQ_INT(voice_call_hangup(s, id), 0);
		CHECK(await(&ld, VOICE_EV_HANGUP, ev->call) != NULL);
	}
	/* unregistered through stack 1: gone for every stack */
	CHECK_EQ_INT(voice_trunk_remove(d, ida), 0);
	char contact[256];
	int r = -1;
	for (int i = 0; i < 40 && r != -ENOENT; i++) {
		usleep(50 * 1000);
		r = voice_engine_device_contact(s, "alice", contact, sizeof(contact));
	}
	CHECK_EQ_INT(r, -ENOENT);
	struct voice_dial dl = {.uri = "device:alice", .timeout_ms = 3000};
	uint64_t id;
	CHECK_EQ_INT(voice_call_dial(s, &dl, &id), 0);
	const struct voice_event *ev = await(&ls, VOICE_EV_HANGUP, id);
	CHECK(ev && ev->code == 480);
out:
	voice_engine_stop(s);
	voice_engine_stop(d);
}

int main(void)
{
	test_config();
	test_two_stacks();
	test_capacity();
	test_registrar();
	return test_done("test_voice_stacks");
}
