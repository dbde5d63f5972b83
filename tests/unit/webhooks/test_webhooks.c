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

/* ---- a small threaded HTTP/1.1 server on 127.0.0.1 for the client tests ---- */

#define SRV_CONNS 1024
#define BIG_LEN 5000
#define HUGE_LEN (2 * 1024 * 1024)

struct srv {
	int fd, port;
	pthread_t accept_thread;
	atomic_int accepts, requests;
	atomic_bool stop;
	pthread_mutex_t mu;
	int conn_fd[SRV_CONNS];
	pthread_t conn_thread[SRV_CONNS];
	int nconns;
	char redirect_to[128];
	/* the last request, under mu */
	char last_method[8], last_head[2048], last_body[256];
};

struct conn {
	struct srv *s;
	int fd;
};

static bool send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

static bool send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* Streams n bytes of body; false once the client has gone. */
static bool send_fill(int fd, size_t n)
{
	char chunk[16384];
	memset(chunk, 'z', sizeof(chunk));
	while (n > 0) {
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
		if (!send_all(fd, chunk, k))
			return false;
		n -= k;
	}
	return true;
}

static size_t content_length(const char *head)
{
	const char *p = strcasestr(head, "\r\ncontent-length:");
	return p ? (size_t)strtoul(p + 17, NULL, 10) : 0;
}

/* Answers one request by path; false to close the connection. */
static bool srv_answer(struct srv *s, int fd, const char *path)
{
	char head[512];
	if (strncmp(path, "/ok", 3) == 0)
		return send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	if (strcmp(path, "/big") == 0) {
		char body[BIG_LEN];
		for (int i = 0; i < BIG_LEN; i++)
			body[i] = (char)('a' + i % 26);
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
			 BIG_LEN);
		return send_str(fd, head) && send_all(fd, body, BIG_LEN);
	}
	if (strcmp(path, "/redirect") == 0) {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n",
			 s->redirect_to);
		return send_str(fd, head);
	}
	if (strcmp(path, "/429") == 0)
		return send_str(fd, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
				    "Content-Length: 4\r\n\r\nslow");
	if (strcmp(path, "/503date") == 0)
		return send_str(fd, "HTTP/1.1 503 Unavailable\r\nRetry-After: Sun, 06 Nov 1994 "
				    "08:49:37 GMT\r\nContent-Length: 0\r\n\r\n");
	if (strcmp(path, "/huge") == 0) { /* announced as too large */
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
			 HUGE_LEN);
		if (send_str(fd, head))
			send_fill(fd, HUGE_LEN);
		return false;
	}
	if (strcmp(path, "/stream") == 0) { /* too large, found out while reading */
		if (send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"))
			send_fill(fd, HUGE_LEN);
		return false;
	}
	if (strcmp(path, "/silent") == 0) { /* never answers; waits for the client to go */
		char b[256];
		while (!atomic_load(&s->stop) && recv(fd, b, sizeof(b), 0) > 0)
			;
		return false;
	}
	return send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

static void *srv_conn_main(void *arg)
{
	struct conn cn = *(struct conn *)arg;
	mem_free(arg);
	struct srv *s = cn.s;
	static const size_t cap = 65536;
	char *buf = mem_alloc(cap + 1);
	size_t have = 0;
	for (;;) {
		buf[have] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		size_t hlen = end ? (size_t)(end - buf) + 4 : 0;
		size_t need = end ? hlen + content_length(buf) : 0;
		if (!end || have < need) {
			if (have == cap)
				break;
			ssize_t n = recv(cn.fd, buf + have, cap - have, 0);
			if (n <= 0)
				break;
			have += (size_t)n;
			continue;
		}
		char method[8] = "", path[256] = "";
		sscanf(buf, "%7s %255s", method, path);
		pthread_mutex_lock(&s->mu);
		snprintf(s->last_method, sizeof(s->last_method), "%s", method);
		snprintf(s->last_head, sizeof(s->last_head), "%.*s", (int)hlen, buf);
		snprintf(s->last_body, sizeof(s->last_body), "%.*s", (int)(need - hlen),
			 buf + hlen);
		pthread_mutex_unlock(&s->mu);
		atomic_fetch_add(&s->requests, 1);
		if (!srv_answer(s, cn.fd, path))
			break;
		memmove(buf, buf + need, have - need);
		have -= need;
	}
	mem_free(buf);
	shutdown(cn.fd, SHUT_RDWR);
	return NULL;
}

static void *srv_accept_main(void *arg)
{
	struct srv *s = arg;
	for (;;) {
		int fd = accept(s->fd, NULL, NULL);
		if (fd < 0) {
			if (atomic_load(&s->stop))
				return NULL;
			continue;
		}
		atomic_fetch_add(&s->accepts, 1);
		pthread_mutex_lock(&s->mu);
		if (s->nconns == SRV_CONNS) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			continue;
		}
		struct conn *cn = mem_alloc(sizeof(*cn));
		cn->s = s;
		cn->fd = fd;
		s->conn_fd[s->nconns] = fd;
		pthread_create(&s->conn_thread[s->nconns], NULL, srv_conn_main, cn);
		s->nconns++;
		pthread_mutex_unlock(&s->mu);
	}
}

static int listen_local(int *ret_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("listen_local");
		abort();
	}
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static struct srv *srv_start(void)
{
	struct srv *s = mem_zalloc(sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->fd = listen_local(&s->port);
	pthread_create(&s->accept_thread, NULL, srv_accept_main, s);
	return s;
}

static void srv_stop(struct srv *s)
{
	atomic_store(&s->stop, true);
	shutdown(s->fd, SHUT_RDWR); /* wakes accept() */
	pthread_join(s->accept_thread, NULL);
	close(s->fd);
	for (int i = 0; i < s->nconns; i++) {
		shutdown(s->conn_fd[i], SHUT_RDWR);
		pthread_join(s->conn_thread[i], NULL);
		close(s->conn_fd[i]);
	}
	pthread_mutex_destroy(&s->mu);
	mem_free(s);
}

/* ---- collecting callbacks ---- */

struct call {
	int calls, status;
	char error[32];
	char body[2048];
	size_t body_len;
	int64_t retry_after_s;
	uint64_t latency_us;
};

struct calls {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, n;
	struct call *c;
	uint64_t last_us;
};

struct call_ref {
	struct calls *all;
	int i;
};

static void calls_init(struct calls *cs, int n)
{
	memset(cs, 0, sizeof(*cs));
	pthread_mutex_init(&cs->mu, NULL);
	pthread_cond_init(&cs->cv, NULL);
	cs->n = n;
	cs->c = mem_zalloc((size_t)n * sizeof(*cs->c));
}

static void calls_free(struct calls *cs)
{
	pthread_mutex_destroy(&cs->mu);
	pthread_cond_destroy(&cs->cv);
	mem_free(cs->c);
}

static void on_done(const struct whc_result *r, void *arg)
{
	struct call_ref *ref = arg;
	struct calls *cs = ref->all;
	pthread_mutex_lock(&cs->mu);
	struct call *c = &cs->c[ref->i];
	c->calls++;
	c->status = r->status;
	snprintf(c->error, sizeof(c->error), "%s", r->error ? r->error : "");
	c->body_len = r->body_len;
	if (r->body_len < sizeof(c->body)) {
		memcpy(c->body, r->body, r->body_len);
		c->body[r->body_len] = r->body[r->body_len]; /* the NUL the result promises */
	}
	c->retry_after_s = r->retry_after_s;
	c->latency_us = r->latency_us;
	cs->done++;
	cs->last_us = time_mono_us();
	pthread_cond_broadcast(&cs->cv);
	pthread_mutex_unlock(&cs->mu);
}

/* Waits until n callbacks arrived or timeout_ms passed; true if they did. */
static bool calls_wait(struct calls *cs, int n, int timeout_ms)
{
	uint64_t until = time_mono_us() + (uint64_t)timeout_ms * 1000;
	pthread_mutex_lock(&cs->mu);
	while (cs->done < n && time_mono_us() < until) {
		pthread_mutex_unlock(&cs->mu);
		usleep(2000);
		pthread_mutex_lock(&cs->mu);
	}
	bool ok = cs->done >= n;
	pthread_mutex_unlock(&cs->mu);
	return ok;
}

/* Runs one request on its own client and returns what the callback saw. */
static struct call one(const char *url, const char *method, bool allow_private, int timeout_ms)
{
	struct whc *c = NULL;
	struct calls cs;
	calls_init(&cs, 1);
	struct call_ref ref = {&cs, 0};
	CHECK_EQ_INT(whc_new(4, &c), 0);
	struct whc_req req = {.url = url,
			      .method = method,
			      .connect_timeout_ms = timeout_ms,
			      .timeout_ms = timeout_ms,
			      .allow_private = allow_private,
			      .cb = on_done,
			      .arg = &ref};
	CHECK_EQ_INT(whc_submit(c, &req), 0);
	CHECK(calls_wait(&cs, 1, timeout_ms + 5000));
	whc_free(c);
	struct call out = cs.c[0];
	CHECK_EQ_INT(out.calls, 1);
	calls_free(&cs);
	return out;
}

static void url_of(char *out, size_t n, int port, const char *path)
{
	snprintf(out, n, "http://127.0.0.1:%d%s", port, path);
}

/* ---- client tests ---- */

static void test_client_basic(void)
{
	struct srv *s = srv_start();
	char url[128];

	/* 2xx: body kept up to 1 KB, NUL-terminated */
	url_of(url, sizeof(url), s->port, "/big");
	struct call r = one(url, NULL, true, 3000);
	CHECK_EQ_INT(r.status, 200);
	CHECK_STR(r.error, "");
	CHECK_EQ_INT(r.body_len, 1024);
	bool pattern = r.body[1024] == '\0';
	for (int i = 0; i < 1024; i++)
		pattern = pattern && r.body[i] == (char)('a' + i % 26);
	CHECK(pattern);
	CHECK_EQ_INT(r.retry_after_s, -1);
	CHECK(r.latency_us > 0 && r.latency_us < 3000000);
	pthread_mutex_lock(&s->mu);
	CHECK_STR(s->last_method, "POST");
	pthread_mutex_unlock(&s->mu);

	/* POST body and headers arrive as given; GET is a GET */
	struct whc *c = NULL;
	struct calls cs;
	calls_init(&cs, 2);
	struct call_ref ref0 = {&cs, 0}, ref1 = {&cs, 1};
	CHECK_EQ_INT(whc_new(2, &c), 0);
	const char *const hdrs[] = {"Content-Type: application/json", "X-Test: one two", NULL};
	url_of(url, sizeof(url), s->port, "/ok");
	struct whc_req req = {.url = url,
			      .method = "POST",
			      .headers = hdrs,
			      .body = "{\"a\":1}",
			      .body_len = 7,
			      .timeout_ms = 3000,
			      .allow_private = true,
			      .cb = on_done,
			      .arg = &ref0};
	CHECK_EQ_INT(whc_submit(c, &req), 0);
	CHECK(calls_wait(&cs, 1, 5000));
	CHECK_EQ_INT(cs.c[0].status, 200);
	CHECK_STR(cs.c[0].body, "ok");
	pthread_mutex_lock(&s->mu);
	CHECK_STR(s->last_method, "POST");
	CHECK_STR(s->last_body, "{\"a\":1}");
	CHECK(strstr(s->last_head, "\r\nX-Test: one two\r\n") != NULL);
	CHECK(strstr(s->last_head, "\r\nContent-Type: application/json\r\n") != NULL);
	CHECK(strstr(s->last_head, "User-Agent: IRISX/") != NULL);
	pthread_mutex_unlock(&s->mu);
	req.method = "get";
	req.headers = NULL;
	req.arg = &ref1;
	CHECK_EQ_INT(whc_submit(c, &req), 0);
	CHECK(calls_wait(&cs, 2, 5000));
	CHECK_EQ_INT(cs.c[1].status, 200);
	pthread_mutex_lock(&s->mu);
	CHECK_STR(s->last_method, "GET");
	pthread_mutex_unlock(&s->mu);
	/* refused at submit: never called back */
	req.method = "PUT";
	CHECK_EQ_INT(whc_submit(c, &req), -EINVAL);
	req.method = NULL;
	const char *const inject[] = {"X-A: 1\r\nX-B: 2", NULL};
	req.headers = inject;
	CHECK_EQ_INT(whc_submit(c, &req), -EINVAL);
	req.headers = NULL;
	req.url = "ftp://127.0.0.1/";
	CHECK_EQ_INT(whc_submit(c, &req), -EINVAL);
	req.url = "http://user:pw@127.0.0.1/";
	CHECK_EQ_INT(whc_submit(c, &req), -EINVAL);
	req.url = url;
	req.cb = NULL;
	CHECK_EQ_INT(whc_submit(c, &req), -EINVAL);
	CHECK_EQ_INT(whc_pending(c), 0);
	whc_free(c);
	CHECK_EQ_INT(cs.done, 2);
	calls_free(&cs);
	CHECK_EQ_INT(whc_new(0, &c), -EINVAL);
	CHECK_EQ_INT(whc_new(100001, &c), -EINVAL);
	CHECK_EQ_INT(whc_new(100000, &c), 0); /* the top of webhooks.max_inflight */
	whc_free(c);
	whc_free(NULL);

	/* 429 and 503 with Retry-After (delta-seconds, and a date in the past) */
	url_of(url, sizeof(url), s->port, "/429");
	r = one(url, NULL, true, 3000);
	CHECK_EQ_INT(r.status, 429);
	CHECK_STR(r.error, "");
	CHECK_EQ_INT(r.retry_after_s, 7);
	CHECK_STR(r.body, "slow");
	url_of(url, sizeof(url), s->port, "/503date");
	r = one(url, NULL, true, 3000);
	CHECK_EQ_INT(r.status, 503);
	CHECK_EQ_INT(r.retry_after_s, 0);
	CHECK_EQ_INT(r.body_len, 0);
	CHECK_STR(r.body, "");

	/* answers past 1 MiB are aborted, announced or not */
	url_of(url, sizeof(url), s->port, "/huge");
	r = one(url, NULL, true, 5000);
	CHECK_STR(r.error, "too_large");
	url_of(url, sizeof(url), s->port, "/stream");
	r = one(url, NULL, true, 5000);
	CHECK_STR(r.error, "too_large");
	CHECK_EQ_INT(r.body_len, 1024);
	srv_stop(s);
}

static void test_client_redirect(void)
{
	struct srv *a = srv_start(), *b = srv_start();
	snprintf(a->redirect_to, sizeof(a->redirect_to), "http://127.0.0.1:%d/ok", b->port);
	char url[128];
	url_of(url, sizeof(url), a->port, "/redirect");
	struct call r = one(url, NULL, true, 3000);
	CHECK_EQ_INT(r.status, 302);
	CHECK_STR(r.error, "");
	CHECK_EQ_INT(atomic_load(&a->requests), 1);
	usleep(100000);
	CHECK_EQ_INT(atomic_load(&b->accepts), 0); /* Location not followed */
	srv_stop(a);
	srv_stop(b);
}

static void test_client_failures(void)
{
	char url[128];
	/* connection refused: a port that was free a moment ago */
	int port;
	int fd = listen_local(&port);
	close(fd);
	url_of(url, sizeof(url), port, "/ok");
	struct call r = one(url, NULL, true, 3000);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.error, "connect_failed");

	/* a server that never answers: timeout, on time */
	struct srv *s = srv_start();
	url_of(url, sizeof(url), s->port, "/silent");
	r = one(url, NULL, true, 300);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.error, "timeout");
	CHECK(r.latency_us >= 250000 && r.latency_us < 2000000);
	srv_stop(s);

	/* blocked addresses: literal and resolved (localhost); no connection is made */
	s = srv_start();
	url_of(url, sizeof(url), s->port, "/ok");
	r = one(url, NULL, false, 3000);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.error, "blocked_address");
	snprintf(url, sizeof(url), "http://localhost:%d/ok", s->port);
	r = one(url, NULL, false, 3000);
	CHECK_STR(r.error, "blocked_address");
	snprintf(url, sizeof(url), "http://2130706433:%d/ok", s->port);
	r = one(url, NULL, false, 3000);
	CHECK_STR(r.error, "blocked_address");
	usleep(100000);
	CHECK_EQ_INT(atomic_load(&s->accepts), 0);
	/* the same URL with allow_private does reach the server */
	url_of(url, sizeof(url), s->port, "/ok");
	r = one(url, NULL, true, 3000);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_INT(atomic_load(&s->accepts), 1);
	srv_stop(s);
}

#define CONC_N 300
#define CONC_INFLIGHT 32

/* Submits n requests to /ok from one client; returns requests per second. */
static double run_many(struct srv *s, int n, int inflight, struct calls *cs)
{
	struct whc *c = NULL;
	CHECK_EQ_INT(whc_new(inflight, &c), 0);
	struct call_ref *refs = mem_alloc((size_t)n * sizeof(*refs));
	char url[128];
	url_of(url, sizeof(url), s->port, "/ok");
	uint64_t t0 = time_mono_us();
	int submitted = 0;
	for (int i = 0; i < n; i++) {
		refs[i] = (struct call_ref){cs, i};
		struct whc_req req = {.url = url,
				      .body = "x=1",
				      .body_len = 3,
				      .timeout_ms = 20000,
				      .allow_private = true,
				      .cb = on_done,
				      .arg = &refs[i]};
		submitted += whc_submit(c, &req) == 0;
	}
	CHECK_EQ_INT(submitted, n);
	CHECK(calls_wait(cs, n, 30000));
	double secs = (double)(cs->last_us - t0) / 1e6;
	CHECK_EQ_INT(whc_pending(c), 0);
	whc_free(c);
	mem_free(refs);
	return secs > 0 ? n / secs : 0;
}

static void test_client_concurrency(void)
{
	struct srv *s = srv_start();
	struct calls cs;
	calls_init(&cs, CONC_N);
	double rps = run_many(s, CONC_N, CONC_INFLIGHT, &cs);
	int once = 0, ok = 0;
	for (int i = 0; i < CONC_N; i++) {
		once += cs.c[i].calls == 1;
		ok += cs.c[i].status == 200 && cs.c[i].error[0] == '\0';
	}
	CHECK_EQ_INT(once, CONC_N);
	CHECK_EQ_INT(ok, CONC_N);
	CHECK_EQ_INT(cs.done, CONC_N);
	CHECK_EQ_INT(atomic_load(&s->requests), CONC_N);
	int accepts = atomic_load(&s->accepts);
	CHECK(accepts >= 1 && accepts <= CONC_INFLIGHT);
	printf("concurrency: %d requests, %d in flight, %d connections, %.0f requests/s\n", CONC_N,
	       CONC_INFLIGHT, accepts, rps);
	calls_free(&cs);
	srv_stop(s);

	/* a longer run for the throughput figure */
	s = srv_start();
	calls_init(&cs, 5000);
	rps = run_many(s, 5000, 64, &cs);
	CHECK_EQ_INT(cs.done, 5000);
	printf("throughput: 5000 requests, 64 in flight, %d connections, %.0f requests/s\n",
	       atomic_load(&s->accepts), rps);
	calls_free(&cs);
	srv_stop(s);
}

#define SHUT_N 20
#define SHUT_INFLIGHT 8

static void test_client_shutdown(void)
{
	struct srv *s = srv_start();
	struct whc *c = NULL;
	CHECK_EQ_INT(whc_new(SHUT_INFLIGHT, &c), 0);
	struct calls cs;
	calls_init(&cs, SHUT_N);
	struct call_ref refs[SHUT_N];
	char url[128];
	url_of(url, sizeof(url), s->port, "/silent");
	for (int i = 0; i < SHUT_N; i++) {
		refs[i] = (struct call_ref){&cs, i};
		struct whc_req req = {.url = url,
				      .timeout_ms = 30000,
				      .allow_private = true,
				      .cb = on_done,
				      .arg = &refs[i]};
		CHECK_EQ_INT(whc_submit(c, &req), 0);
	}
	for (int i = 0; i < 500 && atomic_load(&s->requests) < SHUT_INFLIGHT; i++)
		usleep(10000);
	CHECK_EQ_INT(atomic_load(&s->requests), SHUT_INFLIGHT); /* 8 in flight, 12 queued */
	CHECK_EQ_INT(whc_pending(c), SHUT_N);
	CHECK_EQ_INT(cs.done, 0);
	uint64_t t0 = time_mono_us();
	whc_free(c);
	CHECK(time_mono_us() - t0 < 2000000);
	CHECK_EQ_INT(cs.done, SHUT_N);
	int once = 0, failed = 0;
	for (int i = 0; i < SHUT_N; i++) {
		once += cs.c[i].calls == 1;
		failed += strcmp(cs.c[i].error, "failed") == 0;
	}
	CHECK_EQ_INT(once, SHUT_N);
	CHECK_EQ_INT(failed, SHUT_N);
	calls_free(&cs);
	srv_stop(s);
}

int main(void)
{
	test_addr_ranges();
	test_url_check();
	test_standard_webhooks();
	test_twilio_signature();
	test_form_encode();
	test_retry_after();
	test_client_basic();
	test_client_redirect();
	test_client_failures();
	test_client_concurrency();
	test_client_shutdown();
	return test_done("webhooks");
}
