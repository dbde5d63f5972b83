/* digest.c: SIP digest authentication (RFC 3261 22, RFC 8760 SHA-256): our own parser of
   credentials, HA1 and response computation, and stateless HMAC nonces. */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "voice/voice.h"

/* ---- parsing ---- */

static bool is_token(unsigned char c)
{
	return isalnum(c) || strchr("-.!%*_+`'~", c);
}

static size_t skip_lws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i;
}

struct field {
	const char *name;
	size_t off, cap;
};

#define F(nm)                                                                                      \
	{                                                                                          \
#nm, offsetof(struct voice_digest, nm), sizeof(((struct voice_digest *)0)->nm)     \
	}
static const struct field fields[] = {
    F(username), F(realm), F(nonce), F(uri), F(response), F(cnonce), F(nc), F(qop), F(opaque),
};
#undef F

enum { NFIELDS = sizeof(fields) / sizeof(fields[0]), ALG_IDX = NFIELDS };

static int find_field(const char *name, size_t n)
{
	for (int i = 0; i < NFIELDS; i++)
		if (strlen(fields[i].name) == n && strncasecmp(fields[i].name, name, n) == 0)
			return i;
	if (n == 9 && strncasecmp(name, "algorithm", 9) == 0)
		return ALG_IDX;
	return -1;
}

/* Reads a value (quoted string with escapes, or token) into out; returns the new index. */
static int read_value(const char *s, size_t i, size_t n, char *out, size_t cap, size_t *ret_i)
{
	size_t o = 0;
	if (i < n && s[i] == '"') {
		for (i++;; i++) {
			if (i >= n)
				return -EINVAL;
			if (s[i] == '"')
				break;
			if (s[i] == '\\' && ++i >= n)
				return -EINVAL;
			if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
				return -EINVAL;
			if (o + 1 >= cap)
				return -E2BIG;
			out[o++] = s[i];
		}
		i++;
	} else {
		while (i < n && is_token((unsigned char)s[i])) {
			if (o + 1 >= cap)
				return -E2BIG;
			out[o++] = s[i++];
		}
		if (o == 0)
			return -EINVAL;
	}
	out[o] = '\0';
	*ret_i = i;
	return 0;
}

static int check_fields(struct voice_digest *d, const char *alg, bool have_alg)
{
	if (!*d->username || !*d->realm || !*d->nonce || !*d->uri || !*d->response)
		return -EINVAL;
	d->alg = VOICE_DIGEST_MD5;
	if (have_alg && strcasecmp(alg, "SHA-256") == 0)
		d->alg = VOICE_DIGEST_SHA256;
	else if (have_alg && strcasecmp(alg, "MD5") != 0)
		return -ENOTSUP;
	if (*d->qop) {
		if (strcasecmp(d->qop, "auth") != 0)
			return -ENOTSUP;
		if (!*d->cnonce || strlen(d->nc) != 8)
			return -EINVAL;
	}
	return 0;
}

int voice_digest_parse(const char *s, size_t n, struct voice_digest *ret)
{
	struct voice_digest d;
	memset(&d, 0, sizeof(d));
	char alg[16] = "";
	unsigned seen = 0;
	size_t i = skip_lws(s, 0, n);
	if (n - i < 7 || strncasecmp(s + i, "Digest", 6) != 0 ||
	    (s[i + 6] != ' ' && s[i + 6] != '\t'))
		return -ENOTSUP;
	for (i += 6;;) {
		i = skip_lws(s, i, n);
		if (i >= n)
			break;
		size_t name = i;
		while (i < n && is_token((unsigned char)s[i]))
			i++;
		size_t name_len = i - name;
		i = skip_lws(s, i, n);
		if (name_len == 0 || i >= n || s[i] != '=')
			return -EINVAL;
		i = skip_lws(s, i + 1, n);
		int f = find_field(s + name, name_len);
		char scratch[256];
		char *out = f < 0 ? scratch : f == ALG_IDX ? alg : (char *)&d + fields[f].off;
		size_t cap = f < 0 ? sizeof(scratch) : f == ALG_IDX ? sizeof(alg) : fields[f].cap;
		int r = read_value(s, i, n, out, cap, &i);
		if (r < 0)
			return r;
		if (f >= 0) {
			if (seen & (1u << f))
				return -EINVAL; /* a repeated parameter */
			seen |= 1u << f;
		}
		i = skip_lws(s, i, n);
		if (i < n && s[i] != ',')
			return -EINVAL;
		i++;
	}
	int r = check_fields(&d, alg, (seen & (1u << ALG_IDX)) != 0);
	if (r < 0)
		return r;
	*ret = d;
	return 0;
}

/* ---- hashing ---- */

/* H(parts joined by ':') in lowercase hex. */
static int hash_hex(enum voice_digest_alg alg, const char *const *parts, size_t nparts,
		    char out[65])
{
	const EVP_MD *md = alg == VOICE_DIGEST_SHA256 ? EVP_sha256() : EVP_md5();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL);
	for (size_t i = 0; ok && i < nparts; i++)
		ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1)) &&
		     EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
	ok = ok && EVP_DigestFinal_ex(ctx, h, &len);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	hex_encode(h, len, out);
	return 0;
}

int voice_digest_ha1(enum voice_digest_alg alg, const char *user, const char *realm,
		     const char *password, char out[65])
{
	if (!user || !realm || !password)
		return -EINVAL;
	const char *p[] = {user, realm, password};
	return hash_hex(alg, p, 3, out);
}

int voice_digest_expected(const struct voice_digest *d, const char *ha1, const char *method,
			  char out[65])
{
	char ha2[65];
	const char *p2[] = {method, d->uri};
	int r = hash_hex(d->alg, p2, 2, ha2);
	if (r < 0)
		return r;
	if (*d->qop) {
		const char *p[] = {ha1, d->nonce, d->nc, d->cnonce, d->qop, ha2};
		return hash_hex(d->alg, p, 6, out);
	}
	const char *p[] = {ha1, d->nonce, ha2};
	return hash_hex(d->alg, p, 3, out);
}

/* ---- nonces: 16 hex issue time + 16 hex random + 32 hex HMAC tag ---- */

static void nonce_tag(const uint8_t key[32], const char *realm, const char *head, char out[33])
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "%.32s:%.64s", head, realm);
	unsigned char mac[32];
	hmac_sha256(key, 32, msg, (size_t)n, mac);
	hex_encode(mac, 16, out);
}

void voice_nonce_make(const uint8_t key[32], const char *realm, uint64_t now_s, char out[65])
{
	uint8_t rnd[8];
	rand_bytes(rnd, sizeof(rnd));
	char rhex[17];
	hex_encode(rnd, sizeof(rnd), rhex);
	char head[33];
	snprintf(head, sizeof(head), "%016llx%s", (unsigned long long)now_s, rhex);
	char tag[33];
	nonce_tag(key, realm, head, tag);
	snprintf(out, 65, "%s%s", head, tag);
}

int voice_nonce_check(const uint8_t key[32], const char *realm, const char *nonce, uint64_t now_s,
		      unsigned ttl_s)
{
	if (strlen(nonce) != 64)
		return -EINVAL;
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)nonce[i]) || isupper((unsigned char)nonce[i]))
			return -EINVAL;
	char head[33], tag[33];
	memcpy(head, nonce, 32);
	head[32] = '\0';
	nonce_tag(key, realm, head, tag);
	if (!ct_equal(tag, nonce + 32, 32))
		return -EINVAL;
	char ts[17];
	memcpy(ts, nonce, 16);
	ts[16] = '\0';
	unsigned long long t = strtoull(ts, NULL, 16);
	if (t > now_s + 5 || (t < now_s && now_s - t > ttl_s))
		return -ETIMEDOUT;
	return 0;
}
