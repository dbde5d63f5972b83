/* test_webhooks.c: unit tests for the webhook client layer: SSRF guard, signatures, form
   bodies, Retry-After, and the curl multi client against real servers on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "webhooks/client.h"
#include "../test.h"

/* ---- SSRF: addresses ---- */

static bool blocked(const char *ip)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1)
		return ssrf_addr_blocked((struct sockaddr *)&s4, sizeof(s4));
	if (inet_pton(AF_INET6, ip, &s6.sin6_addr) == 1)
		return ssrf_addr_blocked((struct sockaddr *)&s6, sizeof(s6));
	fprintf(stderr, "bad test address %s\n", ip);
	abort();
}

static void test_addr_ranges(void)
{
	/* each blocked range: its first and last address (and a typical one) */
	static const char *const v4_in[] = {
	    "0.0.0.0",	       "0.255.255.255",	  "10.0.0.0",	     "10.0.0.1",
	    "10.255.255.255",  "100.64.0.0",	  "100.127.255.255", "127.0.0.1",
	    "127.0.0.0",       "127.255.255.255", "169.254.0.0",     "169.254.169.254",
	    "169.254.255.255", "172.16.0.0",	  "172.31.255.255",  "192.0.0.0",
	    "192.0.0.255",     "192.0.2.0",	  "192.0.2.255",     "192.168.0.0",
	    "192.168.255.255", "198.18.0.0",	  "198.19.255.255",  "198.51.100.0",
	    "198.51.100.255",  "203.0.113.0",	  "203.0.113.255",   "224.0.0.0",
	    "239.255.255.255", "240.0.0.0",	  "254.255.255.255", "255.255.255.255",
	};
	/* public, including the neighbours just outside each blocked range */
	static const char *const v4_out[] = {
	    "8.8.8.8",	       "1.1.1.1",	  "1.0.0.0",	    "9.255.255.255",
	    "11.0.0.0",	       "100.63.255.255",  "100.128.0.0",    "126.255.255.255",
	    "128.0.0.0",       "169.253.255.255", "169.255.0.0",    "172.15.255.255",
	    "172.32.0.0",      "191.255.255.255", "192.0.1.0",	    "192.0.3.0",
	    "192.167.255.255", "192.169.0.0",	  "198.17.255.255", "198.20.0.0",
	    "198.51.99.255",   "198.51.101.0",	  "203.0.112.255",  "203.0.114.0",
	    "223.255.255.255",
	};
	static const char *const v6_in[] = {
	    "::",
	    "::1",
	    "fc00::",
	    "fc00::1",
	    "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "fe80::",
	    "fe80::1",
	    "febf:ffff::1",
	    "ff00::",
	    "ff02::1",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "2001:db8::",
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
	    "::ffff:127.0.0.1",
	    "::ffff:10.0.0.1",
	    "::ffff:169.254.169.254",
	    "::ffff:0.0.0.0",
	    "::ffff:255.255.255.255",
	    "64:ff9b::a00:1", /* NAT64 of 10.0.0.1 */
	    "64:ff9b::7f00:1",
	    "64:ff9b::a9fe:a9fe",
	    "::127.0.0.1", /* the deprecated v4-compatible form */
	    "::10.0.0.1",
	};
	static const char *const v6_out[] = {
	    "2606:4700::1111",
	    "2001:4860:4860::8888",
	    "::ffff:8.8.8.8",
	    "::ffff:1.1.1.1",
	    "64:ff9b::808:808",
	    "::8.8.8.8",
	    "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "fec0::1",
	    "2001:db7:ffff::1",
	    "2001:db9::1",
	    "feff::1",
	    "::1:0:0:1", /* outside ::/96 */
	    "::fffe:7f00:1",
	    "64:ff9c::a00:1",
	};
	for (size_t i = 0; i < sizeof(v4_in) / sizeof(v4_in[0]); i++) {
		if (!blocked(v4_in[i]))
			fprintf(stderr, "not blocked: %s\n", v4_in[i]);
		CHECK(blocked(v4_in[i]));
	}
	for (size_t i = 0; i < sizeof(v4_out) / sizeof(v4_out[0]); i++) {
		if (blocked(v4_out[i]))
			fprintf(stderr, "blocked: %s\n", v4_out[i]);
		CHECK(!blocked(v4_out[i]));
	}
	for (size_t i = 0; i < sizeof(v6_in) / sizeof(v6_in[0]); i++) {
		if (!blocked(v6_in[i]))
			fprintf(stderr, "not blocked: %s\n", v6_in[i]);
		CHECK(blocked(v6_in[i]));
	}
	for (size_t i = 0; i < sizeof(v6_out) / sizeof(v6_out[0]); i++) {
		if (blocked(v6_out[i]))
			fprintf(stderr, "blocked: %s\n", v6_out[i]);
		CHECK(!blocked(v6_out[i]));
	}
	/* what is not an IP socket address, or is cut short, is refused */
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	CHECK(ssrf_addr_blocked((struct sockaddr *)&su, sizeof(su)));
	CHECK(ssrf_addr_blocked(NULL, 0));
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	inet_pton(AF_INET, "8.8.8.8", &s4.sin_addr);
	CHECK(!ssrf_addr_blocked((struct sockaddr *)&s4, sizeof(s4)));
	CHECK(ssrf_addr_blocked((struct sockaddr *)&s4, 4));
}

/* ---- SSRF: URLs ---- */

struct url_case {
	const char *url;
	bool allow_private, ok;
};

static void test_url_check(void)
{
	static const struct url_case cases[] = {
	    {"http://example.com/hook", false, true},
	    {"https://example.com:8443/a/b?c=d&e=f#frag", false, true},
	    {"HTTPS://EXAMPLE.COM/", false, true},
	    {"http://example.com", false, true},
	    {"http://example.com:/x", false, true},
	    {"http://example.com?x=1", false, true},
	    {"http://a_b.example.com/", false, true},
	    {"http://example.com./", false, true},
	    {"http://8.8.8.8/", false, true},
	    {"http://1.1.1.1:8080/x", false, true},
	    {"http://[2606:4700::1111]/", false, true},
	    {"https://[2606:4700::1111]:443/x", false, true},
	    {"http://134744072/", false, true}, /* 8.8.8.8 in decimal: allowed as what it is */
	    {"http://0x08080808/", false, true},
	    {"http://xn--bcher-kva.example/", false, true},
	    {"http://0x1g/", false, true}, /* not a number, so a name (WHATWG "ends in a number") */
	    {"http://example.com/path with/", false, false},
	    /* schemes */
	    {"ftp://example.com/", false, false},
	    {"file:///etc/passwd", false, false},
	    {"gopher://example.com:70/_x", false, false},
	    {"dict://example.com/", false, false},
	    {"javascript:alert(1)", false, false},
	    {"example.com/hook", false, false},
	    {"//example.com/hook", false, false},
	    {"http:/example.com/", false, false},
	    {"ftp://127.0.0.1/", true, false},
	    /* credentials */
	    {"http://user:pw@example.com/", false, false},
	    {"http://user@example.com/", false, false},
	    {"http://example.com@127.0.0.1/", false, false},
	    {"http://user:pw@example.com/", true, false},
	    {"http://example.com\\@127.0.0.1/", false, false},
	    /* structure */
	    {"http://", false, false},
	    {"http:///x", false, false},
	    {"http://:80/", false, false},
	    {"http://example.com:0/", false, false},
	    {"http://example.com:65536/", false, false},
	    {"http://example.com:99999999999999999999/", false, false},
	    {"http://example.com:8a/", false, false},
	    {"http://[::1/", false, false},
	    {"http://[::1]x/", false, false},
	    {"http://[127.0.0.1]/", false, false},
	    {"http://[fe80::1%25eth0]/", true, false},
	    {"http://ex%61mple.com/", false, false},
	    {"http://\xc3\xa9xample.com/", false, false},
	    {"http://exa mple.com/", false, false},
	    {"http://example.com/\n", false, false},
	    {"http://example.com/\tx", false, false},
	    {"http://example.com/\x7f", false, false},
	    /* literal private addresses */
	    {"http://127.0.0.1/", false, false},
	    {"http://127.0.0.1:8080/", false, false},
	    {"http://10.0.0.1/", false, false},
	    {"http://169.254.169.254/latest/meta-data/", false, false},
	    {"http://192.168.1.1/", false, false},
	    {"http://0.0.0.0/", false, false},
	    {"http://[::1]/", false, false},
	    {"http://[::]/", false, false},
	    {"http://[::ffff:127.0.0.1]/", false, false},
	    {"http://[::ffff:7f00:1]/", false, false},
	    {"http://[64:ff9b::a00:1]/", false, false},
	    {"http://[fd00::1]:8080/", false, false},
	    {"http://localhost/", false, false},
	    {"http://LOCALHOST:8080/", false, false},
	    {"http://localhost./", false, false},
	    {"http://foo.localhost/", false, false},
	    /* numeric tricks curl and getaddrinfo accept as 127.0.0.1 */
	    {"http://2130706433/", false, false},
	    {"http://0x7f000001/", false, false},
	    {"http://0X7F000001/", false, false},
	    {"http://0177.0.0.1/", false, false},
	    {"http://0177.0000.0000.0001/", false, false},
	    {"http://017700000001/", false, false},
	    {"http://127.1/", false, false},
	    {"http://127.0.1/", false, false},
	    {"http://0x7f.1/", false, false},
	    {"http://0x7f.0.0.1/", false, false},
	    {"http://127.0.0.1./", false, false},
	    {"http://0/", false, false},
	    {"http://167772161/", false, false}, /* 10.0.0.1 */
	    {"http://0xa9.254.169.254/", false, false},
	    /* numbers that are not a valid IPv4 are not names either */
	    {"http://1.2.3.4.5/", false, false},
	    {"http://08.0.0.1/", false, false},
	    {"http://256.0.0.1/", false, false},
	    {"http://4294967296/", false, false},
	    {"http://1.2.65536/", false, false},
	    {"http://1..2/", false, false},
	    {"http://example.123/", false, false},
	    /* allow_private lifts the address rule only */
	    {"http://127.0.0.1:8080/", true, true},
	    {"http://localhost:3000/x", true, true},
	    {"http://2130706433/", true, true},
	    {"http://0x7f000001/", true, true},
	    {"http://[::1]:8080/", true, true},
	    {"http://10.0.0.1/", true, true},
	    {"http://256.0.0.1/", true, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		int r = ssrf_check_url(cases[i].url, cases[i].allow_private, &why);
		if ((r == 0) != cases[i].ok)
			fprintf(stderr, "url %s (allow_private=%d): %d %s\n", cases[i].url,
				cases[i].allow_private, r, why ? why : "");
		CHECK_EQ_INT(r, cases[i].ok ? 0 : -EINVAL);
		if (!cases[i].ok)
			CHECK(why && *why);
	}
	/* length: URL_MAX bytes pass, one more does not */
	char *u = mem_alloc(URL_MAX + 2);
	memset(u, 'a', URL_MAX + 1);
	memcpy(u, "http://example.com/", 19);
	u[URL_MAX] = '\0';
	CHECK_EQ_INT(ssrf_check_url(u, false, NULL), 0);
	u[URL_MAX] = 'a';
	u[URL_MAX + 1] = '\0';
	const char *why = NULL;
	CHECK_EQ_INT(ssrf_check_url(u, false, &why), -EINVAL);
	CHECK(why != NULL);
	mem_free(u);
	CHECK_EQ_INT(ssrf_check_url(NULL, true, &why), -EINVAL);
}

/* ---- Standard Webhooks ---- */

/* The Standard Webhooks spec's example; the expected value was computed independently:
   printf 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
   openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of the base64 key> -binary | base64 */
#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS 1614265330
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static int verify(const char *secret, const char *header)
{
	return whsig_verify(secret, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), header);
}

static void test_standard_webhooks(void)
{
	struct buf b;
	buf_init(&b, 0);
	CHECK_EQ_INT(whsig_sign(SW_SECRET, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), &b), 0);
	CHECK_STR(b.p, SW_SIG);
	buf_free(&b);

	CHECK_EQ_INT(verify(SW_SECRET, SW_SIG), 0);
	/* tampering: body, timestamp, id, secret */
	CHECK_EQ_INT(whsig_verify(SW_SECRET, SW_ID, SW_TS, "{\"test\": 2432232315}",
				  strlen(SW_BODY), SW_SIG),
		     -EPERM);
	CHECK_EQ_INT(whsig_verify(SW_SECRET, SW_ID, SW_TS + 1, SW_BODY, strlen(SW_BODY), SW_SIG),
		     -EPERM);
	CHECK_EQ_INT(whsig_verify(SW_SECRET, "msg_other", SW_TS, SW_BODY, strlen(SW_BODY), SW_SIG),
		     -EPERM);
	CHECK_EQ_INT(whsig_verify(SW_SECRET, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY) - 1, SW_SIG),
		     -EPERM);
	CHECK_EQ_INT(verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", SW_SIG), -EPERM);
	CHECK_EQ_INT(verify(SW_SECRET, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"), -EPERM);
	CHECK_EQ_INT(verify(SW_SECRET, "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), -EPERM);
	CHECK_EQ_INT(verify(SW_SECRET, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), -EPERM);
	CHECK_EQ_INT(verify(SW_SECRET, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), -EPERM);
	CHECK_EQ_INT(verify(SW_SECRET, ""), -EPERM);
	CHECK_EQ_INT(verify(SW_SECRET, NULL), -EPERM);
	/* several signatures (key rotation): any one matching is enough */
	CHECK_EQ_INT(verify(SW_SECRET, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " SW_SIG),
		     0);
	CHECK_EQ_INT(verify(SW_SECRET, SW_SIG " v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
		     0);
	CHECK_EQ_INT(verify(SW_SECRET, "v1a,abc  v2,xyz   " SW_SIG "  "), 0);
	CHECK_EQ_INT(verify(SW_SECRET, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,bad"),
		     -EPERM);
	/* malformed secrets */
	static const char *const bad[] = {
	    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!!", "whsec_a",
	    "WHSEC_MfKQ9r8GKYqrTwjU",		NULL};
	for (int i = 0; i < 6; i++) {
		struct buf o;
		buf_init(&o, 0);
		CHECK_EQ_INT(whsig_sign(bad[i], SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), &o),
			     -EINVAL);
		CHECK_EQ_INT(verify(bad[i], SW_SIG), -EINVAL);
		buf_free(&o);
	}

	/* fresh secrets: shape, uniqueness, round trip */
	char s1[WHSEC_MAX], s2[WHSEC_MAX];
	whsig_secret_new(s1);
	whsig_secret_new(s2);
	CHECK(strncmp(s1, "whsec_", 6) == 0);
	CHECK_EQ_INT(strlen(s1), 6 + 32);
	CHECK(strcmp(s1, s2) != 0);
	unsigned char *key;
	size_t klen = 0;
	CHECK_EQ_INT(b64_decode(s1 + 6, strlen(s1 + 6), &key, &klen), 0);
	CHECK_EQ_INT(klen, 24);
	mem_free(key);
	const char body[] = "{\"event\":\"message.delivered\",\"n\":\"\xe2\x82\xac\"}";
	buf_init(&b, 0);
	CHECK_EQ_INT(whsig_sign(s1, "msg_1", 1700000000, body, strlen(body), &b), 0);
	CHECK_EQ_INT(strlen(b.p), 3 + 44);
	CHECK_EQ_INT(whsig_verify(s1, "msg_1", 1700000000, body, strlen(body), b.p), 0);
	CHECK_EQ_INT(whsig_verify(s2, "msg_1", 1700000000, body, strlen(body), b.p), -EPERM);
	char *flip = mem_strdup(body);
	flip[3] ^= 1;
	CHECK_EQ_INT(whsig_verify(s1, "msg_1", 1700000000, flip, strlen(flip), b.p), -EPERM);
	mem_free(flip);
	buf_free(&b);
	/* binary body with a NUL: the length is what counts */
	buf_init(&b, 0);
	CHECK_EQ_INT(whsig_sign(s1, "m", 1, "a\0b", 3, &b), 0);
	CHECK_EQ_INT(whsig_verify(s1, "m", 1, "a\0b", 3, b.p), 0);
	CHECK_EQ_INT(whsig_verify(s1, "m", 1, "a\0c", 3, b.p), -EPERM);
	buf_free(&b);
}

/* ---- X-Twilio-Signature ---- */

static void test_twilio_signature(void)
{
	char sig[32];
	/* Twilio's documented example (security/signature_validation, both SDK versions) */
	struct kv doc[] = {{"CallSid", "CA1234567890ABCDE"},
			   {"Caller", "+14158675310"},
			   {"Digits", "1234"},
			   {"From", "+14158675310"},
			   {"To", "+18005551212"}};
	twsig_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", doc, 5, sig);
	CHECK_STR(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
	struct kv doc2[] = {{"To", "+18005551212"},
			    {"From", "+14158675309"},
			    {"Digits", "1234"},
			    {"Caller", "+14158675309"},
			    {"CallSid", "CA1234567890ABCDE"}}; /* order of input does not matter */
	twsig_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", doc2, 5, sig);
	CHECK_STR(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
	/* arrays (a repeated key): distinct values, sorted; UTF-8 values. Expected values from
	   node: crypto.createHmac("sha1", tok).update(url + sorted key+value).digest("base64") */
	struct kv arr[] = {{"To", "+15550001111"},
			   {"MediaUrl", "https://b.example/2"},
			   {"MediaUrl", "https://a.example/1"},
			   {"MediaUrl", "https://b.example/2"},
			   {"Body", "h\xc3\xa9llo w\xc3\xb6rld \xf0\x9f\x98\x80"},
			   {"From", "+15550002222"}};
	twsig_sign("tok_abc", "https://example.com/hook?x=1", arr, 6, sig);
	CHECK_STR(sig, "ghUtezOawSrN6j6yaZ+cEWBjGHE=");
	/* JavaScript sorts by UTF-16 units: U+1F600 (a surrogate pair) before U+FFFF */
	struct kv u16[] = {{"K", "\xef\xbf\xbf"}, {"K", "\xf0\x9f\x98\x80"}};
	twsig_sign("tok_abc", "https://example.com/hook", u16, 2, sig);
	CHECK_STR(sig, "damOOiKdXMIdZy/Wn5U/tsw+GhY=");
	twsig_sign("tok_abc", "https://example.com/hook", NULL, 0, sig);
	CHECK_STR(sig, "cQEXfEMchW/ZHHUpPONXsN0Xfbc=");
	/* one changed value changes the signature */
	doc[2].v = "1235";
	twsig_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", doc, 5, sig);
	CHECK(strcmp(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=") != 0);
}

/* ---- form bodies ---- */

static void test_form_encode(void)
{
	struct kv p[] = {{"Body", "hello world"},
			 {"To", "+1 555"},
			 {"Emoji", "\xc3\xa9\xf0\x9f\x98\x80"},
			 {"R", "a&b=c/d?e#f%g~h.i_j-k*'!()+"},
			 {"Empty", ""},
			 {"a b", "x\r\ny"}};
	struct buf b;
	buf_init(&b, 0);
	form_encode(p, 6, &b);
	CHECK_STR(b.p, "Body=hello%20world&To=%2B1%20555&Emoji=%C3%A9%F0%9F%98%80"
		       "&R=a%26b%3Dc%2Fd%3Fe%23f%25g~h.i_j-k%2A%27%21%28%29%2B&Empty="
		       "&a%20b=x%0D%0Ay");
	buf_free(&b);
	buf_init(&b, 0);
	form_encode(p, 0, &b);
	CHECK_EQ_INT(b.len, 0);
	buf_free(&b);
}

/* ---- Retry-After ---- */

#define T1994 784111777	 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define T2026 1767225600 /* Thu, 01 Jan 2026 00:00:00 GMT */

static void test_retry_after(void)
{
	CHECK_EQ_INT(retry_after_parse("120", 0), 120);
	CHECK_EQ_INT(retry_after_parse("0", 0), 0);
	CHECK_EQ_INT(retry_after_parse(" 5\t", 0), 5);
	CHECK_EQ_INT(retry_after_parse("007", 0), 7);
	CHECK_EQ_INT(retry_after_parse("86400", 0), 86400);
	CHECK_EQ_INT(retry_after_parse("86401", 0), 86400);
	CHECK_EQ_INT(retry_after_parse("99999999999999999999999999", 0), 86400);
	/* the three HTTP-date forms of the same instant, 30 s ahead */
	CHECK_EQ_INT(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", T1994 - 30), 30);
	CHECK_EQ_INT(retry_after_parse("Sunday, 06-Nov-94 08:49:37 GMT", T1994 - 30), 30);
	CHECK_EQ_INT(retry_after_parse("Sun Nov  6 08:49:37 1994", T1994 - 30), 30);
	CHECK_EQ_INT(retry_after_parse("Thu, 01 Jan 2026 00:02:00 GMT", T2026), 120);
	CHECK_EQ_INT(retry_after_parse("Thursday, 01-Jan-26 00:02:00 GMT", T2026), 120);
	CHECK_EQ_INT(retry_after_parse("Thu Jan  1 00:02:00 2026", T2026), 120);
	CHECK_EQ_INT(retry_after_parse("Tue, 29 Feb 2028 00:00:00 GMT", T2026 + 86400 * 789), 0);
	/* past dates mean now; far ones are capped */
	CHECK_EQ_INT(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", T2026), 0);
	/* RFC 850 two-digit years: more than 50 years ahead means the century before */
	CHECK_EQ_INT(retry_after_parse("Tuesday, 01-Jan-80 00:00:00 GMT", T2026), 0);
	CHECK_EQ_INT(retry_after_parse("Tuesday, 01-Jan-70 00:00:00 GMT", T2026), 86400);
	CHECK_EQ_INT(retry_after_parse("Fri, 31 Dec 9999 23:59:59 GMT", T2026), 86400);
	CHECK_EQ_INT(retry_after_parse("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN), 86400);
	CHECK_EQ_INT(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MAX), 0);
	/* garbage */
	static const char *const bad[] = {
	    "",
	    "   ",
	    "-5",
	    "+5",
	    "1.5",
	    "12abc",
	    "abc",
	    "0x10",
	    "Sun, 06 Nov 1994 08:49:37 UTC",
	    "Sun, 06 Nov 1994 08:49:37",
	    "Sun, 06 Nov 94 08:49:37 GMT",
	    "Sun, 31 Feb 1994 08:49:37 GMT",
	    "Sun, 29 Feb 1993 08:49:37 GMT",
	    "Sun, 00 Nov 1994 08:49:37 GMT",
	    "Sun, 06 Nov 1994 24:00:00 GMT",
	    "Sun, 06 Nov 1994 08:60:00 GMT",
	    "Sun, 06 Foo 1994 08:49:37 GMT",
	    "Xyz, 06 Nov 1994 08:49:37 GMT",
	    "Sun, 06 Nov 1994 08:49:37 GMT extra",
	    "Sun Nov  6 08:49:37 1994 GMT",
	    "Sun Nov  6 08:49 1994",
	    "Sunday, 06-Nov-1994 08:49:37 GMT",
	    "Sunday 06-Nov-94 08:49:37 GMT",
	    "sun, 06 nov 1994 08:49:37 gmt",
	    NULL,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t r = retry_after_parse(bad[i], T1994);
		if (r != -EINVAL)
			fprintf(stderr, "retry-after \"%s\" gave %lld\n",
				bad[i] ? bad[i] : "(null)", (long long)r);
		CHECK_EQ_INT(r, -EINVAL);
	}
}

int main(void)
{
	test_addr_ranges();
	test_url_check();
	test_standard_webhooks();
	test_twilio_signature();
	test_form_encode();
	test_retry_after();
	return test_done("webhooks");
}
