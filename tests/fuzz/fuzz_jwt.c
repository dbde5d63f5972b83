/* fuzz_jwt: jwt_verify with fixed keys, three ways per input: as a whole token, as a signed
   "header.payload", and as a payload JSON under a valid header. Accepted claims re-sign and
   verify to the same claims. */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000
#define LEEWAY 60
#define ISS "irisx"
#define AUD "irisx-api"

static const unsigned char secret1[] = "fuzz-secret-k1-0123456789abcdef0123";
static const unsigned char secret0[] = "fuzz-secret-k0-0123456789abcdef0123";
static const struct jwt_key keys[] = {
    {"k1", secret1, sizeof(secret1) - 1},
    {"k0", secret0, sizeof(secret0) - 1},
};

static bool terminated(const char *s, size_t cap)
{
	return strnlen(s, cap) < cap;
}

static void verify(const char *tok)
{
	struct jwt_claims c;
	memset(&c, 0xa5, sizeof(c));
	int r = jwt_verify(tok, keys, 2, ISS, AUD, NOW, LEEWAY, &c);
	if (r != 0) {
		if (r != -EINVAL && r != -EACCES)
			abort();
		return;
	}
	if (!terminated(c.sub, sizeof(c.sub)) || !terminated(c.tid, sizeof(c.tid)) ||
	    !terminated(c.sid, sizeof(c.sid)) || !terminated(c.role, sizeof(c.role)) ||
	    strcmp(c.iss, ISS) != 0 || strcmp(c.aud, AUD) != 0 || c.exp <= NOW - LEEWAY ||
	    c.nbf > NOW + LEEWAY)
		abort();
	/* what verifies, signs again and verifies to the same claims */
	char *again = NULL;
	struct jwt_claims c2;
	if (jwt_sign(&c, &keys[0], &again) != 0)
		abort();
	if (jwt_verify(again, keys, 2, ISS, AUD, NOW, LEEWAY, &c2) != 0 ||
	    strcmp(c.sub, c2.sub) != 0 || strcmp(c.tid, c2.tid) != 0 ||
	    strcmp(c.sid, c2.sid) != 0 || strcmp(c.role, c2.role) != 0 || c.iat != c2.iat ||
	    c.nbf != c2.nbf || c.exp != c2.exp)
		abort();
	mem_free(again);
}

/* signing_input + "." + base64url(HMAC-SHA256(k1, signing_input)) */
static char *sign_input(const char *in, size_t n)
{
	unsigned char mac[32];
	hmac_sha256(keys[0].secret, keys[0].secret_len, in, n, mac);
	char *sig = b64_encode(mac, sizeof(mac), true);
	size_t sn = strlen(sig);
	char *tok = mem_alloc(n + 1 + sn + 1);
	memcpy(tok, in, n);
	tok[n] = '.';
	memcpy(tok + n + 1, sig, sn + 1);
	mem_free(sig);
	return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * JWT_MAX_LEN)
		return 0;
	char *s = mem_strndup((const char *)data, size); /* stops at an embedded NUL */
	size_t n = strlen(s);
	verify(s);

	char *tok = sign_input(s, n);
	verify(tok);
	mem_free(tok);

	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";
	char *head = b64_encode(hdr, sizeof(hdr) - 1, true);
	char *body = b64_encode(data, size, true);
	struct buf in;
	buf_init(&in, 0);
	buf_printf(&in, "%s.%s", head, body);
	tok = sign_input(in.p, in.len);
	verify(tok);
	mem_free(tok);
	buf_free(&in);
	mem_free(head);
	mem_free(body);
	mem_free(s);
	return 0;
}
