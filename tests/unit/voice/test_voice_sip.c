/* test_voice_sip.c: unit tests for the voice engine's signalling extras: scanner agents and
   the rate limiter, digest parsing and nonces, the edge checks, the registrar (challenges,
   replays, stale nonces, no user enumeration), trunks, 183 early media, hold. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "voice/voice.h"
#include "../test.h"

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- pure primitives ---- */

static void test_ua(void)
{
	CHECK(voice_ua_listed(VOICE_SCANNER_AGENTS, "friendly-scanner", 16));
	CHECK(voice_ua_listed(VOICE_SCANNER_AGENTS, "SIPVicious 0.3", 14));
	CHECK(voice_ua_listed(VOICE_SCANNER_AGENTS, "x sipsak-scanner/1", 18));
	CHECK(!voice_ua_listed(VOICE_SCANNER_AGENTS, "baresip 1.0", 11));
	CHECK(!voice_ua_listed(VOICE_SCANNER_AGENTS, "sipsak 0.9", 10));
	CHECK(!voice_ua_listed("", "friendly-scanner", 16));
	CHECK(!voice_ua_listed("a||b", "zzz", 3)); /* empty items match nothing */
	/* the length bounds the match: no reading past n */
	CHECK(!voice_ua_listed("pplsip", "pplsip", 5));
}

static void test_limiter(void)
{
	struct voice_limiter *l = NULL;
	CHECK_EQ_INT(voice_limiter_alloc(16, 2000000, 300000000, 64, &l), 0);
	uint8_t ip[4] = {10, 0, 0, 1}, other[4] = {10, 0, 0, 2};
	uint64_t t = 1000000;
	for (int i = 0; i < 16; i++)
		CHECK_EQ_INT(voice_limiter_hit(l, ip, 4, true, t + (uint64_t)i), VOICE_LIMIT_OK);
	CHECK_EQ_INT(voice_limiter_hit(l, ip, 4, true, t + 20), VOICE_LIMIT_TRIPPED);
	CHECK_EQ_INT(voice_limiter_hit(l, ip, 4, false, t + 30), VOICE_LIMIT_BANNED);
	CHECK_EQ_INT(voice_limiter_hit(l, ip, 4, true, t + 299000000), VOICE_LIMIT_BANNED);
	CHECK_EQ_INT(voice_limiter_hit(l, other, 4, true, t + 40), VOICE_LIMIT_OK);
	/* the ban ends; a fresh window starts */
	CHECK_EQ_INT(voice_limiter_hit(l, ip, 4, true, t + 301000000), VOICE_LIMIT_OK);
	/* a new window resets the count: 16 per 2 s is fine forever */
	for (int w = 0; w < 5; w++)
		for (int i = 0; i < 16; i++)
			CHECK_EQ_INT(
			    voice_limiter_hit(l, other, 4, true,
					      t + 400000000 + (uint64_t)w * 2000000 + (uint64_t)i),
			    VOICE_LIMIT_OK);
	/* looking does not insert */
	size_t n = voice_limiter_size(l);
	CHECK_EQ_INT(voice_limiter_hit(l, "nobody", 6, false, t), VOICE_LIMIT_OK);
	CHECK_EQ_INT(voice_limiter_size(l), n);
	/* long keys are hashed; distinct long keys stay distinct */
	const char *k1 = "a-user-name-longer-than-fifteen-1",
		   *k2 = "a-user-name-longer-than-fifteen-2";
	voice_limiter_free(l);
	CHECK_EQ_INT(voice_limiter_alloc(1, 1000000, 1000000, 16, &l), 0);
	CHECK_EQ_INT(voice_limiter_hit(l, k1, strlen(k1), true, 5), VOICE_LIMIT_OK);
	CHECK_EQ_INT(voice_limiter_hit(l, k2, strlen(k2), true, 5), VOICE_LIMIT_OK);
	CHECK_EQ_INT(voice_limiter_hit(l, k1, strlen(k1), true, 6), VOICE_LIMIT_TRIPPED);
	/* full of live keys: -ENOSPC, never an unbounded table */
	int full = 0;
	for (unsigned i = 0; i < 64; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%u", i);
		if (voice_limiter_hit(l, k, strlen(k), true, 10) == -ENOSPC)
			full++;
	}
	CHECK(full > 0);
	CHECK(voice_limiter_size(l) <= 12);
	/* once the window is over, the dead keys make room */
	CHECK_EQ_INT(voice_limiter_hit(l, "late", 4, true, 5000000), VOICE_LIMIT_OK);
	voice_limiter_free(l);
	voice_limiter_free(NULL);
	CHECK_EQ_INT(voice_limiter_alloc(1, 0, 1, 16, &l), -EINVAL);
}

static int parse_s(const char *s, struct voice_digest *d)
{
	return voice_digest_parse(s, strlen(s), d);
}

static void test_digest(void)
{
	struct voice_digest d;
	/* RFC 2617 3.5 */
	const char *h = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
			"nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
			"qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
			"response=\"6629fae49393a05397450978507c4ef1\", "
			"opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
	CHECK_EQ_INT(parse_s(h, &d), 0);
	CHECK_STR(d.username, "Mufasa");
	CHECK_STR(d.nc, "00000001");
	CHECK_EQ_INT(d.alg, VOICE_DIGEST_MD5);
	char ha1[65], want[65];
	CHECK_EQ_INT(voice_digest_ha1(VOICE_DIGEST_MD5, "Mufasa", "testrealm@host.com",
				      "Circle Of Life", ha1),
		     0);
	CHECK_EQ_INT(voice_digest_expected(&d, ha1, "GET", want), 0);
	CHECK_STR(want, d.response);
	/* RFC 7616 3.9.1, SHA-256 */
	h = "Digest username=\"Mufasa\",realm=\"http-auth@example.org\",uri=\"/dir/index.html\","
	    "algorithm=SHA-256,nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",nc=00000001,"
	    "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",qop=auth,"
	    "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\","
	    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	CHECK_EQ_INT(parse_s(h, &d), 0);
	CHECK_EQ_INT(d.alg, VOICE_DIGEST_SHA256);
	CHECK_EQ_INT(voice_digest_ha1(VOICE_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
				      "Circle of Life", ha1),
		     0);
	CHECK_EQ_INT(voice_digest_expected(&d, ha1, "GET", want), 0);
	CHECK_STR(want, d.response);
	/* escapes, odd spacing, no qop */
	CHECK_EQ_INT(parse_s("digest  username = \"a\\\"b\" ,realm=r,nonce=n,uri=\"sip:x\","
			     "response=ff, foo=\"bar, baz\"",
			     &d),
		     0);
	CHECK_STR(d.username, "a\"b");
	CHECK_STR(d.realm, "r");
	/* refusals */
	CHECK_EQ_INT(parse_s("Basic dXNlcjpwYXNz", &d), -ENOTSUP);
	CHECK_EQ_INT(parse_s("Digest realm=r,nonce=n,uri=u,response=f", &d), -EINVAL);
	CHECK_EQ_INT(parse_s("Digest username=a,username=b,realm=r,nonce=n,uri=u,response=f", &d),
		     -EINVAL);
	CHECK_EQ_INT(
	    parse_s("Digest username=a,realm=r,nonce=n,uri=u,response=f,algorithm=SHA1", &d),
	    -ENOTSUP);
	CHECK_EQ_INT(parse_s("Digest username=a,realm=r,nonce=n,uri=u,response=f,qop=auth-int,"
			     "nc=00000001,cnonce=c",
			     &d),
		     -ENOTSUP);
	CHECK_EQ_INT(parse_s("Digest username=a,realm=r,nonce=n,uri=u,response=f,qop=auth", &d),
		     -EINVAL);
	CHECK_EQ_INT(parse_s("Digest username=\"unterminated", &d), -EINVAL);
	CHECK_EQ_INT(parse_s("Digest username=a realm=b", &d), -EINVAL);
	char big[400];
	snprintf(big, sizeof(big), "Digest username=\"%0300d\",realm=r,nonce=n,uri=u,response=f",
		 0);
	CHECK_EQ_INT(parse_s(big, &d), -E2BIG);
}

static void test_nonce(void)
{
	uint8_t key[32] = {1, 2, 3}, other[32] = {9};
	char n[65];
	voice_nonce_make(key, "r", 1000, n);
	CHECK_EQ_INT(strlen(n), 64);
	CHECK_EQ_INT(voice_nonce_check(key, "r", n, 1000, 300), 0);
	CHECK_EQ_INT(voice_nonce_check(key, "r", n, 1300, 300), 0);
	CHECK_EQ_INT(voice_nonce_check(key, "r", n, 1301, 300), -ETIMEDOUT);
	CHECK_EQ_INT(voice_nonce_check(other, "r", n, 1000, 300), -EINVAL);
	CHECK_EQ_INT(voice_nonce_check(key, "other-realm", n, 1000, 300), -EINVAL);
	char m[65];
	memcpy(m, n, 65);
	m[15] = m[15] == '0' ? '1' : '0'; /* a forged issue time */
	CHECK_EQ_INT(voice_nonce_check(key, "r", m, 1000, 300), -EINVAL);
	CHECK_EQ_INT(voice_nonce_check(key, "r", "short", 1000, 300), -EINVAL);
	char n2[65];
	voice_nonce_make(key, "r", 1000, n2);
	CHECK(strcmp(n, n2) != 0);
}

/* ---- a raw UDP peer ---- */

struct peer {
	int fd;
	uint16_t port, target;
	unsigned seq;
};

static int peer_open(struct peer *p, uint16_t target)
{
	memset(p, 0, sizeof(*p));
	p->fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	socklen_t l = sizeof(a);
	getsockname(p->fd, (struct sockaddr *)&a, &l);
	p->port = ntohs(a.sin_port);
	p->target = target;
	return 0;
}

static void peer_send(struct peer *p, const char *msg)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p->target)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)sendto(p->fd, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a));
}

/* The next datagram within ms into out; 0 on timeout. Skips 100 Trying. */
static int peer_recv(struct peer *p, char *out, size_t cap, int ms)
{
	for (;;) {
		struct pollfd pf = {.fd = p->fd, .events = POLLIN};
		if (poll(&pf, 1, ms) <= 0)
			return 0;
		ssize_t n = recv(p->fd, out, cap - 1, 0);
		if (n <= 0)
			return 0;
		out[n] = '\0';
		if (strncmp(out, "SIP/2.0 100 ", 12) != 0)
			return (int)n;
	}
}

static void options_msg(struct peer *p, char *out, size_t cap, const char *ua, const char *mf,
			size_t ruri_pad)
{
	char pad[1024];
	memset(pad, 'a', ruri_pad < sizeof(pad) ? ruri_pad : sizeof(pad) - 1);
	pad[ruri_pad < sizeof(pad) ? ruri_pad : sizeof(pad) - 1] = '\0';
	p->seq++;
	snprintf(out, cap,
		 "OPTIONS sip:probe%s@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKo%u\r\n"
		 "Max-Forwards: %s\r\nFrom: <sip:t@127.0.0.1>;tag=o%u\r\n"
		 "To: <sip:probe@127.0.0.1>\r\nCall-ID: o%u-%u@t\r\nCSeq: 1 OPTIONS\r\n"
		 "User-Agent: %s\r\nContent-Length: 0\r\n\r\n",
		 pad, p->target, p->port, p->seq, mf, p->seq, p->seq, p->port, ua);
}

static struct voice_engine *start_cfg(struct voice_config *cfg, uint16_t rtp_min)
{
	cfg->sip_port = 0;
	cfg->rtp_port_min = rtp_min;
	cfg->rtp_port_max = (uint16_t)(rtp_min + 99);
	cfg->media_threads = 1;
	cfg->max_calls = 10;
	struct voice_engine *e = NULL;
	int r = voice_engine_start(cfg, &e);
	CHECK_EQ_INT(r, 0);
	return r == 0 ? e : NULL;
}

static void test_edge(void)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	cfg.pike_reqs = 5;
	cfg.ban_s = 60;
	struct voice_engine *e = start_cfg(&cfg, 33000);
	if (!e)
		return;
	struct peer p, q;
	CHECK_EQ_INT(peer_open(&p, voice_engine_sip_port(e)), 0);
	char msg[2048], resp[4096];
	/* a scanner gets nothing, and is not even counted against its address */
	options_msg(&p, msg, sizeof(msg), "friendly-scanner", "70", 0);
	peer_send(&p, msg);
	CHECK_EQ_INT(peer_recv(&p, resp, sizeof(resp), 300), 0);
	/* Max-Forwards 0 -> 483, junk -> 400, a long R-URI -> 414 */
	options_msg(&p, msg, sizeof(msg), "t", "0", 0);
	peer_send(&p, msg);
	CHECK(peer_recv(&p, resp, sizeof(resp), 1000) && !strncmp(resp, "SIP/2.0 483", 11));
	options_msg(&p, msg, sizeof(msg), "t", "x1", 0);
	peer_send(&p, msg);
	CHECK(peer_recv(&p, resp, sizeof(resp), 1000) && !strncmp(resp, "SIP/2.0 400", 11));
	options_msg(&p, msg, sizeof(msg), "t", "70", 600);
	peer_send(&p, msg);
	CHECK(peer_recv(&p, resp, sizeof(resp), 1000) && !strncmp(resp, "SIP/2.0 414", 11));
	/* 5 initial requests per 2 s are answered (3 used above); the 6th bans the source */
	int answered = 0;
	for (int i = 0; i < 4; i++) {
		options_msg(&p, msg, sizeof(msg), "t", "70", 0);
		peer_send(&p, msg);
		if (peer_recv(&p, resp, sizeof(resp), 500) && !strncmp(resp, "SIP/2.0 200", 11))
			answered++;
	}
	CHECK_EQ_INT(answered, 2);
	/* banned: every further message is dropped, even after the window */
	usleep(2100 * 1000);
	options_msg(&p, msg, sizeof(msg), "t", "70", 0);
	peer_send(&p, msg);
	CHECK_EQ_INT(peer_recv(&p, resp, sizeof(resp), 300), 0);
	(void)q;
	struct voice_stats st;
	voice_engine_stats(e, &st);
	CHECK_EQ_INT(st.sip_scanner_dropped, 1);
	CHECK_EQ_INT(st.sip_too_many_hops, 2);
	CHECK_EQ_INT(st.sip_ruri_too_long, 1);
	CHECK_EQ_INT(st.sip_bans, 1);
	CHECK_EQ_INT(st.sip_rate_dropped, 1);	/* the request that tripped the limit */
	CHECK_EQ_INT(st.sip_banned_dropped, 2); /* the ones after it */
	close(p.fd);
	voice_engine_stop(e);

	/* a trusted address is never limited */
	voice_config_default(&cfg);
	cfg.pike_reqs = 2;
	cfg.trusted_ips = "192.0.2.1, 127.0.0.1";
	e = start_cfg(&cfg, 33100);
	if (!e)
		return;
	CHECK_EQ_INT(peer_open(&p, voice_engine_sip_port(e)), 0);
	answered = 0;
	for (int i = 0; i < 6; i++) {
		options_msg(&p, msg, sizeof(msg), "t", "70", 0);
		peer_send(&p, msg);
		if (peer_recv(&p, resp, sizeof(resp), 500) && !strncmp(resp, "SIP/2.0 200", 11))
			answered++;
	}
	CHECK_EQ_INT(answered, 6);
	close(p.fd);
	voice_engine_stop(e);
	voice_config_default(&cfg);
	cfg.trusted_ips = "not-an-ip";
	struct voice_engine *bad = NULL;
	CHECK_EQ_INT(voice_engine_start(&cfg, &bad), -EINVAL);
}

/* ---- registrar over raw UDP ---- */

/* A REGISTER for user; contact: NULL none, else the Contact value; auth: NULL or the
   Authorization value. */
static void reg_msg(struct peer *p, char *out, size_t cap, const char *user, const char *contact,
		    const char *auth)
{
	p->seq++;
	char ch[512] = "", ah[1024] = "";
	if (contact)
		snprintf(ch, sizeof(ch), "Contact: %s\r\n", contact);
	if (auth)
		snprintf(ah, sizeof(ah), "Authorization: %s\r\n", auth);
	snprintf(out, cap,
		 "REGISTER sip:127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKr%u\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:%s@127.0.0.1>;tag=r%u\r\n"
		 "To: <sip:%s@127.0.0.1>\r\nCall-ID: reg%u-%s@t\r\nCSeq: %u REGISTER\r\n"
		 "%s%sContent-Length: 0\r\n\r\n",
		 p->target, p->port, p->seq, user, p->seq, user, p->port, user, p->seq, ch, ah);
}

/* The nonce of the challenge for alg in a 401 into out. */
static bool nonce_of(const char *resp, const char *alg, char *out, size_t cap)
{
	char want[32];
	snprintf(want, sizeof(want), "algorithm=%s,", alg);
	for (const char *h = strstr(resp, "WWW-Authenticate: "); h;
	     h = strstr(h + 1, "WWW-Authenticate: ")) {
		const char *eol = strstr(h, "\r\n");
		const char *a = strstr(h, want);
		const char *n = strstr(h, "nonce=\"");
		if (!eol || !a || a > eol || !n || n > eol)
			continue;
		n += 7;
		size_t len = strcspn(n, "\"");
		if (len >= cap)
			return false;
		memcpy(out, n, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

static void auth_value(char *out, size_t cap, enum voice_digest_alg alg, const char *user,
		       const char *realm, const char *password, const char *nonce, const char *uri)
{
	struct voice_digest d;
	memset(&d, 0, sizeof(d));
	d.alg = alg;
	snprintf(d.nonce, sizeof(d.nonce), "%s", nonce);
	snprintf(d.uri, sizeof(d.uri), "%s", uri);
	snprintf(d.nc, sizeof(d.nc), "00000001");
	snprintf(d.cnonce, sizeof(d.cnonce), "c0ffee");
	snprintf(d.qop, sizeof(d.qop), "auth");
	char ha1[65], resp[65];
	voice_digest_ha1(alg, user, realm, password, ha1);
	voice_digest_expected(&d, ha1, "REGISTER", resp);
	snprintf(out, cap,
		 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
		 "response=\"%s\", algorithm=%s, qop=auth, nc=00000001, cnonce=\"c0ffee\"",
		 user, realm, nonce, uri, resp, alg == VOICE_DIGEST_MD5 ? "MD5" : "SHA-256");
}

/* One REGISTER exchange; returns the status code (0: no answer). */
static int reg_once(struct peer *p, const char *user, const char *contact, const char *auth,
		    char *resp, size_t cap)
{
	char msg[2048];
	reg_msg(p, msg, sizeof(msg), user, contact, auth);
	peer_send(p, msg);
	if (!peer_recv(p, resp, cap, 1000))
		return 0;
	return atoi(resp + 8);
}

/* Challenge, then answer it with password; returns the final status. */
static int reg_auth(struct peer *p, const char *user, const char *password, const char *contact,
		    enum voice_digest_alg alg, char *resp, size_t cap)
{
	char nonce[128], auth[1024], uri[64];
	if (reg_once(p, user, contact, NULL, resp, cap) != 401 ||
	    !nonce_of(resp, alg == VOICE_DIGEST_MD5 ? "MD5" : "SHA-256", nonce, sizeof(nonce)))
		return -1;
	snprintf(uri, sizeof(uri), "sip:127.0.0.1:%u", p->target);
	auth_value(auth, sizeof(auth), alg, user, "127.0.0.1", password, nonce, uri);
	return reg_once(p, user, contact, auth, resp, cap);
}

/* A response with everything that varies per message removed: tags, nonces, branches,
   Call-IDs and CSeqs (they come from the request), so two answers can be compared. */
static void normalize(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *l = in; *l && o + 1 < cap;) {
		const char *eol = strstr(l, "\r\n");
		size_t len = eol ? (size_t)(eol - l) : strlen(l);
		bool skip = !strncmp(l, "Via:", 4) || !strncmp(l, "From:", 5) ||
			    !strncmp(l, "Call-ID:", 8) || !strncmp(l, "CSeq:", 5);
		if (!skip) {
			for (size_t i = 0; i < len && o + 1 < cap; i++) {
				/* blank out the nonce and the To header's user and tag */
				if (!strncmp(l + i, "nonce=\"", 7)) {
					i += 7 + strcspn(l + i + 7, "\"");
					out[o++] = 'N';
				} else if (!strncmp(l, "To:", 3)) {
					out[o++] = 'T';
					break;
				} else {
					out[o++] = l[i];
				}
			}
			if (o + 1 < cap)
				out[o++] = '\n';
		}
		l += len + (eol ? 2 : 0);
		if (!eol)
			break;
	}
	out[o] = '\0';
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void add_user(struct voice_engine *e, const char *user, const char *password)
{
	char md5[65], sha[65];
	voice_digest_ha1(VOICE_DIGEST_MD5, user, "127.0.0.1", password, md5);
	voice_digest_ha1(VOICE_DIGEST_SHA256, user, "127.0.0.1", password, sha);
	CHECK_EQ_INT(voice_engine_add_user(e, user, NULL, md5, sha), 0);
}

static void test_registrar(void)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	cfg.pike_reqs = 0;
	cfg.auth_fail_user_max = 1000;
	cfg.auth_fail_ip_max = 1000;
	cfg.nonce_ttl_s = 1;
	cfg.reg_offer_sha256 = true;
	struct voice_engine *e = start_cfg(&cfg, 33200);
	if (!e)
		return;
	add_user(e, "alice", "secret");
	CHECK_EQ_INT(voice_engine_add_user(e, "x", NULL, "nothex", NULL), -EINVAL);
	CHECK_EQ_INT(voice_engine_add_user(e, "x", NULL, NULL, NULL), -EINVAL);
	struct peer p;
	CHECK_EQ_INT(peer_open(&p, voice_engine_sip_port(e)), 0);
	char resp[4096], contact[128], got[256];
	snprintf(contact, sizeof(contact), "<sip:alice@127.0.0.1:%u>;expires=120", p.port);

	/* the challenge offers MD5 and SHA-256 with an opaque */
	CHECK_EQ_INT(reg_once(&p, "alice", contact, NULL, resp, sizeof(resp)), 401);
	CHECK(strstr(resp, "algorithm=MD5, qop=\"auth\"") != NULL);
	CHECK(strstr(resp, "algorithm=SHA-256, qop=\"auth\"") != NULL);
	CHECK(strstr(resp, "opaque=\"") != NULL);
	CHECK(strstr(resp, "stale") == NULL);
	CHECK_EQ_INT(voice_engine_device_contact(e, "alice", got, sizeof(got)), -ENOENT);
	const char *first = strstr(resp, "WWW-Authenticate: "),
		   *md5 = strstr(resp, "algorithm=MD5");
	CHECK(first && md5 && md5 < strstr(first + 1, "WWW-Authenticate: ")); /* MD5 first */

	/* MD5 succeeds: bound, with the expiry granted */
	CHECK_EQ_INT(reg_auth(&p, "alice", "secret", contact, VOICE_DIGEST_MD5, resp, sizeof(resp)),
		     200);
	CHECK(strstr(resp, ";expires=1") != NULL);
	CHECK_EQ_INT(voice_engine_device_contact(e, "alice", got, sizeof(got)), 0);
	char want[96];
	snprintf(want, sizeof(want), "sip:alice@127.0.0.1:%u", p.port);
	CHECK_STR(got, want);
	struct voice_event ev;
	bool dev = false;
	while (voice_engine_next_event(e, &ev, 200) == 1)
		if (ev.type == VOICE_EV_DEVICE && !strcmp(ev.from, "alice") && ev.code == 120)
			dev = true;
	CHECK(dev);

	/* the very same request again: the nonce was used, 401 stale=true */
	char msg[2048];
	reg_msg(&p, msg, sizeof(msg), "alice", contact, NULL);
	char nonce[128], auth[1024], uri[64];
	snprintf(uri, sizeof(uri), "sip:127.0.0.1:%u", p.target);
	CHECK_EQ_INT(reg_once(&p, "alice", contact, NULL, resp, sizeof(resp)), 401);
	CHECK(nonce_of(resp, "MD5", nonce, sizeof(nonce)));
	auth_value(auth, sizeof(auth), VOICE_DIGEST_MD5, "alice", "127.0.0.1", "secret", nonce,
		   uri);
	CHECK_EQ_INT(reg_once(&p, "alice", contact, auth, resp, sizeof(resp)), 200);
	CHECK_EQ_INT(reg_once(&p, "alice", contact, auth, resp, sizeof(resp)), 401);
	CHECK(strstr(resp, "stale=true") != NULL);

	/* SHA-256 (RFC 8760) */
	CHECK_EQ_INT(
	    reg_auth(&p, "alice", "secret", contact, VOICE_DIGEST_SHA256, resp, sizeof(resp)), 200);
	/* too short an expiry: 423 with Min-Expires */
	char shortc[128];
	snprintf(shortc, sizeof(shortc), "<sip:alice@127.0.0.1:%u>;expires=10", p.port);
	CHECK_EQ_INT(reg_auth(&p, "alice", "secret", shortc, VOICE_DIGEST_MD5, resp, sizeof(resp)),
		     423);
	CHECK(strstr(resp, "Min-Expires: 60") != NULL);
	/* a query lists the binding */
	CHECK_EQ_INT(reg_auth(&p, "alice", "secret", NULL, VOICE_DIGEST_MD5, resp, sizeof(resp)),
		     200);
	CHECK(strstr(resp, "Contact: <sip:alice@127.0.0.1:") != NULL);

	/* no enumeration: a wrong password for alice and any password for a user that does not
	   exist get the same answer, in about the same time */
	uint64_t tk[15], tu[15];
	char nk[4096], nu[4096], rk[4096];
	bool same = true;
	for (int i = 0; i < 15; i++) {
		uint64_t t0 = mono_us();
		CHECK_EQ_INT(
		    reg_auth(&p, "alice", "wrong", contact, VOICE_DIGEST_MD5, rk, sizeof(rk)), 401);
		uint64_t t1 = mono_us();
		CHECK_EQ_INT(
		    reg_auth(&p, "mallory", "wrong", contact, VOICE_DIGEST_MD5, resp, sizeof(resp)),
		    401);
		uint64_t t2 = mono_us();
		tk[i] = t1 - t0;
		tu[i] = t2 - t1;
		normalize(rk, nk, sizeof(nk));
		normalize(resp, nu, sizeof(nu));
		if (strcmp(nk, nu) != 0)
			same = false;
	}
	CHECK(same);
	if (!same)
		fprintf(stderr, "known:\n%s\nunknown:\n%s\n", nk, nu);
	qsort(tk, 15, sizeof(tk[0]), cmp_u64);
	qsort(tu, 15, sizeof(tu[0]), cmp_u64);
	uint64_t mk = tk[7], mu = tu[7];
	printf("registrar timing: median exchange known %llu us, unknown %llu us\n",
	       (unsigned long long)mk, (unsigned long long)mu);
	CHECK((mk > mu ? mk - mu : mu - mk) < 1000 + (mk + mu) / 4);

	/* a stale nonce: older than nonce_ttl_s -> 401 stale=true */
	CHECK_EQ_INT(reg_once(&p, "alice", contact, NULL, resp, sizeof(resp)), 401);
	CHECK(nonce_of(resp, "MD5", nonce, sizeof(nonce)));
	usleep(2200 * 1000);
	auth_value(auth, sizeof(auth), VOICE_DIGEST_MD5, "alice", "127.0.0.1", "secret", nonce,
		   uri);
	CHECK_EQ_INT(reg_once(&p, "alice", contact, auth, resp, sizeof(resp)), 401);
	CHECK(strstr(resp, "stale=true") != NULL);
	/* a forged nonce is a failure, not stale */
	nonce[40] = nonce[40] == 'a' ? 'b' : 'a';
	auth_value(auth, sizeof(auth), VOICE_DIGEST_MD5, "alice", "127.0.0.1", "secret", nonce,
		   uri);
	CHECK_EQ_INT(reg_once(&p, "alice", contact, auth, resp, sizeof(resp)), 401);
	CHECK(strstr(resp, "stale=true") == NULL);

	/* unregister with Expires: 0 */
	char zero[128];
	snprintf(zero, sizeof(zero), "<sip:alice@127.0.0.1:%u>;expires=0", p.port);
	CHECK_EQ_INT(reg_auth(&p, "alice", "secret", zero, VOICE_DIGEST_MD5, resp, sizeof(resp)),
		     200);
	CHECK(strstr(resp, "Contact:") == NULL);
	CHECK_EQ_INT(voice_engine_device_contact(e, "alice", got, sizeof(got)), -ENOENT);
	struct voice_stats st;
	voice_engine_stats(e, &st);
	CHECK_EQ_INT(st.reg_bindings, 0);
	CHECK(st.reg_ok >= 5);
	CHECK(st.reg_stale >= 2);
	CHECK(st.reg_failed >= 31);
	close(p.fd);
	voice_engine_stop(e);
}

/* Failure limits: per user name (known or not) -> 403 for a while; per IP -> banned. */
static void test_registrar_limits(void)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	cfg.pike_reqs = 0;
	cfg.auth_fail_user_max = 2;
	cfg.auth_fail_ip_max = 6;
	struct voice_engine *e = start_cfg(&cfg, 33300);
	if (!e)
		return;
	add_user(e, "bob", "pw");
	struct peer p;
	CHECK_EQ_INT(peer_open(&p, voice_engine_sip_port(e)), 0);
	char resp[4096];
	const char *names[] = {"bob", "nobody"};
	for (int n = 0; n < 2; n++) {
		CHECK_EQ_INT(
		    reg_auth(&p, names[n], "bad", NULL, VOICE_DIGEST_MD5, resp, sizeof(resp)), 401);
		CHECK_EQ_INT(
		    reg_auth(&p, names[n], "bad", NULL, VOICE_DIGEST_MD5, resp, sizeof(resp)), 401);
		/* the third failure trips the lock; then even the right password gets 403 */
		CHECK_EQ_INT(
		    reg_auth(&p, names[n], "bad", NULL, VOICE_DIGEST_MD5, resp, sizeof(resp)), 401);
		CHECK_EQ_INT(reg_once(&p, names[n], NULL, NULL, resp, sizeof(resp)), 403);
	}
	/* the 7th failure from this address bans it: nothing answers any more */
	CHECK_EQ_INT(reg_auth(&p, "carol", "bad", NULL, VOICE_DIGEST_MD5, resp, sizeof(resp)), 401);
	CHECK_EQ_INT(reg_once(&p, "carol", NULL, NULL, resp, sizeof(resp)), 0);
	struct voice_stats st;
	voice_engine_stats(e, &st);
	CHECK_EQ_INT(st.reg_locked, 2);
	CHECK_EQ_INT(st.sip_bans, 1);
	CHECK(st.sip_banned_dropped >= 1);
	close(p.fd);
	voice_engine_stop(e);
}

/* Waits for an event of that type (others are skipped); 0 when none came in 5 s. */
static int wait_ev(struct voice_engine *e, enum voice_event_type type, struct voice_event *ev)
{
	for (int i = 0; i < 100; i++)
		if (voice_engine_next_event(e, ev, 50) == 1 && ev->type == type)
			return 1;
	return 0;
}

/* Engine A registers to engine B as alice (a trunk with REGISTER and pings); B dials
   device:alice and reaches A; then early media, hold and resume on that call. */
static void test_trunk_device(void)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	cfg.reg_min_expires = 1;
	struct voice_engine *b = start_cfg(&cfg, 33400);
	voice_config_default(&cfg);
	struct voice_engine *a = start_cfg(&cfg, 33500);
	if (!a || !b)
		goto out;
	add_user(b, "alice", "s3cret");
	char uri[64];
	snprintf(uri, sizeof(uri), "sip:127.0.0.1:%u", voice_engine_sip_port(b));
	struct voice_event ev;
	uint64_t bad_id, id, call;
	/* wrong credentials: the REGISTER fails and says so (libre retries until the user is
	   locked out: 403) */
	struct voice_trunk bad = {
	    .uri = uri, .user = "eve", .password = "nope", .register_expires = 60};
	CHECK_EQ_INT(voice_trunk_add(a, &bad, &bad_id), 0);
	CHECK(wait_ev(a, VOICE_EV_TRUNK_REG, &ev));
	CHECK_EQ_INT(ev.call, bad_id);
	CHECK(ev.code == 401 || ev.code == 403);
	CHECK_EQ_INT(voice_trunk_remove(a, bad_id), 0);
	/* dialling a device that is not registered */
	struct voice_dial d = {.uri = "device:alice", .timeout_ms = 3000};
	CHECK_EQ_INT(voice_call_dial(b, &d, &call), 0);
	CHECK(wait_ev(b, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.code, 480);

	struct voice_trunk t = {.uri = uri,
				.user = "alice",
				.password = "s3cret",
				.register_expires = 2,
				.ping_ms = 300};
	CHECK_EQ_INT(voice_trunk_add(a, &t, &id), 0);
	int regs = 0;
	bool up = false;
	uint64_t until = mono_us() + 4000000;
	while (mono_us() < until && (regs < 2 || !up))
		if (voice_engine_next_event(a, &ev, 50) == 1 && ev.call == id) {
			if (ev.type == VOICE_EV_TRUNK_REG && ev.code == 200)
				regs++;
			if (ev.type == VOICE_EV_TRUNK_UP)
				up = true;
		}
	CHECK(regs >= 2); /* registered, then refreshed before the 2 s ran out */
	CHECK(up);
	char contact[256];
	CHECK_EQ_INT(voice_engine_device_contact(b, "alice", contact, sizeof(contact)), 0);

	/* B calls the device; A answers first with 183 and early media */
	CHECK_EQ_INT(voice_call_dial(b, &d, &call), 0);
	CHECK(wait_ev(a, VOICE_EV_INCOMING, &ev));
	CHECK_STR(ev.ruser, "alice");
	uint64_t acall = ev.call;
	CHECK_EQ_INT(voice_call_progress(a, acall), 0);
	bool p183 = false;
	for (int i = 0; i < 3 && !p183 && wait_ev(b, VOICE_EV_PROGRESS, &ev); i++)
		p183 = ev.code == 183;
	CHECK(p183);
	usleep(300 * 1000);
	struct voice_stats sa0, sb0, sa1, sb1;
	voice_engine_stats(b, &sb0);
	CHECK(sb0.rtp_rx >= 5); /* A's media reached B before any 200 */
	CHECK_EQ_INT(voice_call_answer(a, acall), 0);
	CHECK(wait_ev(b, VOICE_EV_ANSWERED, &ev));
	CHECK(wait_ev(a, VOICE_EV_ANSWERED, &ev));

	/* B holds A: A stops sending; B resumes: A sends again */
	usleep(200 * 1000);
	CHECK_EQ_INT(voice_call_sdp_hold(b, call, true), 0);
	usleep(300 * 1000);
	voice_engine_stats(a, &sa0);
	usleep(300 * 1000);
	voice_engine_stats(a, &sa1);
	CHECK(sa1.rtp_tx - sa0.rtp_tx <= 1);
	CHECK_EQ_INT(voice_call_sdp_hold(b, call, false), 0);
	usleep(300 * 1000);
	voice_engine_stats(a, &sa0);
	usleep(300 * 1000);
	voice_engine_stats(a, &sa1);
	CHECK(sa1.rtp_tx - sa0.rtp_tx >= 10);
	voice_engine_stats(b, &sb1);
	CHECK(sb1.rtp_tx > sb0.rtp_tx);
	CHECK_EQ_INT(voice_call_hangup(b, call), 0);
	CHECK(wait_ev(a, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.cause, VOICE_END_REMOTE);

	/* the trunk is removed: A un-REGISTERs, B drops the binding */
	CHECK_EQ_INT(voice_trunk_remove(a, id), 0);
	usleep(300 * 1000);
	CHECK_EQ_INT(voice_engine_device_contact(b, "alice", contact, sizeof(contact)), -ENOENT);
out:
	voice_engine_stop(a);
	voice_engine_stop(b);
}

/* A trunk that does not answer its pings goes DOWN. */
static void test_trunk_down(void)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	struct voice_engine *a = start_cfg(&cfg, 33600);
	if (!a)
		return;
	struct peer silent;
	CHECK_EQ_INT(peer_open(&silent, 0), 0);
	char uri[64];
	snprintf(uri, sizeof(uri), "sip:127.0.0.1:%u", silent.port);
	struct voice_trunk t = {.uri = uri, .ping_ms = 200, .down_after = 2};
	uint64_t id;
	CHECK_EQ_INT(voice_trunk_add(a, &t, &id), 0);
	struct voice_event ev;
	CHECK(wait_ev(a, VOICE_EV_TRUNK_DOWN, &ev));
	CHECK_EQ_INT(ev.call, id);
	CHECK_EQ_INT(ev.code, 408);
	close(silent.fd);
	voice_engine_stop(a);
}

int main(void)
{
	test_ua();
	test_limiter();
	test_digest();
	test_nonce();
	test_edge();
	test_registrar();
	test_registrar_limits();
	test_trunk_device();
	test_trunk_down();
	return test_done("voice_sip");
}
