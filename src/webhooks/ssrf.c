/* ssrf.c: the SSRF guard: which peer addresses outbound HTTP may reach, and which URLs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "client.h"

struct v4_range {
	uint32_t net;
	int bits;
};

/* RELIABILITY.md SSRF row plus the documentation and benchmarking nets (RFC 5737, 2544). */
static const struct v4_range v4_blocked[] = {
    {0x00000000, 8},  /* 0/8 "this network" */
    {0x0a000000, 8},  /* 10/8 */
    {0x64400000, 10}, /* 100.64/10 carrier-grade NAT */
    {0x7f000000, 8},  /* 127/8 loopback */
    {0xa9fe0000, 16}, /* 169.254/16 link local, cloud metadata */
    {0xac100000, 12}, /* 172.16/12 */
    {0xc0000000, 24}, /* 192.0.0/24 IETF protocol assignments */
    {0xc0000200, 24}, /* 192.0.2/24 TEST-NET-1 */
    {0xc0a80000, 16}, /* 192.168/16 */
    {0xc6120000, 15}, /* 198.18/15 benchmarking */
    {0xc6336400, 24}, /* 198.51.100/24 TEST-NET-2 */
    {0xcb007100, 24}, /* 203.0.113/24 TEST-NET-3 */
    {0xe0000000, 4},  /* 224/4 multicast */
    {0xf0000000, 4},  /* 240/4 reserved, includes 255.255.255.255 */
};

static bool v4_blocked_addr(uint32_t a)
{
	for (size_t i = 0; i < sizeof(v4_blocked) / sizeof(v4_blocked[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - v4_blocked[i].bits);
		if ((a & mask) == v4_blocked[i].net)
			return true;
	}
	return false;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *p, int bits)
{
	int bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, p, (size_t)bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (p[bytes] & mask);
}

static bool v6_blocked_addr(const uint8_t a[16])
{
	static const uint8_t v4mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[16] = {0, 0x64, 0xff, 0x9b};
	static const uint8_t zero[16] = {0};
	static const uint8_t ula[16] = {0xfc}, linklocal[16] = {0xfe, 0x80};
	static const uint8_t mcast[16] = {0xff}, doc[16] = {0x20, 0x01, 0x0d, 0xb8};
	/* ::/96 (::, ::1, the old v4-compatible form), v4-mapped and NAT64 carry an IPv4
	   address that a dual-stack kernel or a NAT64 gateway will reach: judge that one. */
	if (prefix_eq(a, v4mapped, 96) || prefix_eq(a, nat64, 96) || prefix_eq(a, zero, 96)) {
		uint32_t v4 =
		    (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
		return v4_blocked_addr(v4);
	}
	return prefix_eq(a, ula, 7) || prefix_eq(a, linklocal, 10) || prefix_eq(a, mcast, 8) ||
	       prefix_eq(a, doc, 32);
}

bool ssrf_addr_blocked(const struct sockaddr *sa, socklen_t len)
{
	if (!sa)
		return true;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return v4_blocked_addr(ntohl(s4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		return v6_blocked_addr(s6->sin6_addr.s6_addr);
	}
	return true; /* unix sockets and anything unknown */
}

/* ---- URL check ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One part of a WHATWG / inet_aton IPv4 host: decimal, 0-prefixed octal or 0x hex. */
static int v4_part(const char *s, size_t n, uint64_t *ret)
{
	int base = 10;
	uint64_t v = 0;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		s++;
		n--;
	}
	if (n == 0 && base != 16)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int d = hex_val(s[i]);
		if (d < 0 || d >= base)
			return -EINVAL;
		v = v * (uint64_t)base + (uint64_t)d;
		if (v > 0xffffffffu)
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* True if the last label of host is a number: such a host is an IPv4 address to curl and
   getaddrinfo (inet_aton forms: 2130706433, 0x7f000001, 0177.0.0.1, 127.1). */
static bool ends_in_number(const char *h, size_t n)
{
	size_t start = n;
	while (start > 0 && h[start - 1] != '.')
		start--;
	const char *l = h + start;
	size_t ln = n - start;
	if (ln == 0)
		return false;
	if (ln >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X')) {
		for (size_t i = 2; i < ln; i++)
			if (hex_val(l[i]) < 0)
				return false;
		return true;
	}
	for (size_t i = 0; i < ln; i++)
		if (!is_digit(l[i]))
			return false;
	return true;
}

/* Parses an IPv4 host in any inet_aton form; -EINVAL if it is not a valid one. */
static int v4_parse(const char *h, size_t n, uint32_t *ret)
{
	uint64_t part[4];
	int np = 0;
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && h[j] != '.')
			j++;
		if (np == 4 || v4_part(h + i, j - i, &part[np]) < 0)
			return -EINVAL;
		np++;
		i = j + 1;
	}
	uint64_t v = part[np - 1];
	for (int k = 0; k < np - 1; k++) {
		if (part[k] > 255)
			return -EINVAL;
		v |= part[k] << (8 * (3 - k));
	}
	if (part[np - 1] >= (1ull << (8 * (5 - np))))
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static bool host_char_ok(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
	       c == '.' || c == '_';
}

static bool label_eq_ci(const char *s, size_t n, const char *lit)
{
	size_t ln = strlen(lit);
	if (n != ln)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* True if the host name is localhost or under .localhost (RFC 6761: always loopback). */
static bool is_localhost(const char *h, size_t n)
{
	if (label_eq_ci(h, n, "localhost"))
		return true;
	return n > 10 && label_eq_ci(h + n - 10, 10, ".localhost");
}

static int check_ipv6_host(const char *h, size_t n, bool allow_private, const char **ret_reason)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	if (n >= sizeof(tmp)) {
		*ret_reason = "bad IPv6 address";
		return -EINVAL;
	}
	memcpy(tmp, h, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET6, tmp, &s6.sin6_addr) != 1) { /* zone ids ("%eth0") end here */
		*ret_reason = "bad IPv6 address";
		return -EINVAL;
	}
	if (!allow_private && ssrf_addr_blocked((struct sockaddr *)&s6, sizeof(s6))) {
		*ret_reason = "private or reserved address";
		return -EINVAL;
	}
	return 0;
}

static int check_name_host(const char *h, size_t n, bool allow_private, const char **ret_reason)
{
	for (size_t i = 0; i < n; i++) {
		if (!host_char_ok(h[i])) {
			*ret_reason = "bad character in host (use punycode for IDN)";
			return -EINVAL;
		}
	}
	if (n > 0 && h[n - 1] == '.') /* "127.0.0.1." and "localhost." are the same hosts */
		n--;
	if (n == 0 || n > 253) {
		*ret_reason = "bad host";
		return -EINVAL;
	}
	if (ends_in_number(h, n)) {
		uint32_t a;
		if (v4_parse(h, n, &a) < 0) {
			*ret_reason = "bad IPv4 address";
			return -EINVAL;
		}
		struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(a)};
		if (!allow_private && ssrf_addr_blocked((struct sockaddr *)&s4, sizeof(s4))) {
			*ret_reason = "private or reserved address";
			return -EINVAL;
		}
		return 0;
	}
	if (!allow_private && is_localhost(h, n)) {
		*ret_reason = "private or reserved address";
		return -EINVAL;
	}
	return 0;
}

static int check_port(const char *p, size_t n, const char **ret_reason)
{
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]) || (v = v * 10 + (unsigned long)(p[i] - '0')) > 65535) {
			*ret_reason = "bad port";
			return -EINVAL;
		}
	}
	if (n > 0 && v == 0) {
		*ret_reason = "bad port";
		return -EINVAL;
	}
	return 0;
}

/* Splits authority into host and port and checks both. */
static int check_authority(const char *a, size_t n, bool allow_private, const char **ret_reason)
{
	if (memchr(a, '@', n)) {
		*ret_reason = "credentials in URL";
		return -EINVAL;
	}
	if (memchr(a, '\\', n)) {
		*ret_reason = "bad character in host";
		return -EINVAL;
	}
	const char *host = a, *port = NULL;
	size_t hn, pn = 0;
	bool v6 = false;
	if (n > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', n);
		if (!close) {
			*ret_reason = "bad IPv6 address";
			return -EINVAL;
		}
		host = a + 1;
		hn = (size_t)(close - host);
		v6 = true;
		size_t used = (size_t)(close - a) + 1;
		if (used < n && a[used] != ':') {
			*ret_reason = "bad host";
			return -EINVAL;
		}
		if (used < n) {
			port = a + used + 1;
			pn = n - used - 1;
		}
	} else {
		const char *colon = memchr(a, ':', n);
		hn = colon ? (size_t)(colon - a) : n;
		if (colon) {
			port = colon + 1;
			pn = n - hn - 1;
		}
	}
	if (hn == 0) {
		*ret_reason = "missing host";
		return -EINVAL;
	}
	int r = port ? check_port(port, pn, ret_reason) : 0;
	if (r < 0)
		return r;
	if (v6)
		return check_ipv6_host(host, hn, allow_private, ret_reason);
	return check_name_host(host, hn, allow_private, ret_reason);
}

int ssrf_check_url(const char *url, bool allow_private, const char **ret_reason)
{
	const char *reason_unused;
	if (!ret_reason)
		ret_reason = &reason_unused;
	if (!url) {
		*ret_reason = "missing URL";
		return -EINVAL;
	}
	size_t len = strnlen(url, URL_MAX + 1);
	if (len > URL_MAX) {
		*ret_reason = "URL too long";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c == 0x7f) {
			*ret_reason = "whitespace or control character in URL";
			return -EINVAL;
		}
	}
	size_t skip;
	if (len >= 7 && strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else if (len >= 8 && strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else {
		*ret_reason = "scheme must be http or https";
		return -EINVAL;
	}
	const char *a = url + skip;
	size_t an = strcspn(a, "/?#");
	return check_authority(a, an, allow_private, ret_reason);
}
