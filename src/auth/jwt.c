/* jwt.c: HS256 JSON Web Tokens: signing and strict verification of our access tokens. */
#include <string.h>

#include "core/core.h"
#include "auth.h"

#define JWT_MAX_KID 64
#define JWT_MIN_SECRET 32 /* RFC 7518 3.2: an HS256 key is at least as long as the hash */
#define JWT_SIG_LEN 32

/* ---- shared ---- */

static bool key_usable(const struct jwt_key *k)
{
	return k->kid && k->kid[0] && strlen(k->kid) <= JWT_MAX_KID && k->secret &&
	       k->secret_len >= JWT_MIN_SECRET;
}

static void mac(const struct jwt_key *k, const char *in, size_t n, unsigned char out[32])
{
	hmac_sha256(k->secret, k->secret_len, in, n, out);
}

/* ---- signing ---- */

static bool str_fits(const char *s, size_t cap)
{
	return strnlen(s, cap) < cap;
}

static bool claims_fit(const struct jwt_claims *c)
{
	return str_fits(c->sub, sizeof(c->sub)) && str_fits(c->tid, sizeof(c->tid)) &&
	       str_fits(c->sid, sizeof(c->sid)) && str_fits(c->role, sizeof(c->role)) &&
	       str_fits(c->iss, sizeof(c->iss)) && str_fits(c->aud, sizeof(c->aud));
}

static json_t *claims_json(const struct jwt_claims *c)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "sub", c->sub, "tid", c->tid,
			 "sid", c->sid, "role", c->role, "iss", c->iss, "aud", c->aud, "iat",
			 (json_int_t)c->iat, "nbf", (json_int_t)c->nbf, "exp", (json_int_t)c->exp);
}

/* Serializes o compactly and base64url-encodes it; steals o. NULL if o is NULL. */
static char *json_seg(json_t *o)
{
	char *txt, *seg;

	if (!o)
		return NULL;
	txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!txt)
		return NULL;
	seg = b64_encode(txt, strlen(txt), true);
	free(txt); /* jansson allocates with malloc */
	return seg;
}

/* Joins header.payload.signature into one malloc'd token. */
static char *token_join(const char *head, const char *body, const struct jwt_key *key)
{
	size_t hn = strlen(head), bn = strlen(body);
	unsigned char sig[JWT_SIG_LEN];
	char *input = mem_alloc(hn + 1 + bn + 1), *sig64, *tok;
	size_t sn;

	memcpy(input, head, hn);
	input[hn] = '.';
	memcpy(input + hn + 1, body, bn + 1);
	mac(key, input, hn + 1 + bn, sig);
	sig64 = b64_encode(sig, sizeof(sig), true);
	sn = strlen(sig64);
	tok = mem_alloc(hn + 1 + bn + 1 + sn + 1);
	memcpy(tok, input, hn + 1 + bn);
	tok[hn + 1 + bn] = '.';
	memcpy(tok + hn + 1 + bn + 1, sig64, sn + 1);
	mem_free(sig64);
	mem_free(input);
	return tok;
}

int jwt_sign(const struct jwt_claims *c, const struct jwt_key *key, char **ret)
{
	char *head, *body, *tok;
	int r = -EINVAL;

	if (!c || !key || !ret || !key_usable(key) || !claims_fit(c))
		return -EINVAL;
	head = json_seg(json_pack("{s:s,s:s,s:s}", "alg", "HS256", "typ", "JWT", "kid", key->kid));
	body = json_seg(claims_json(c));
	if (!head || !body) /* a string was not valid UTF-8 */
		goto out;
	tok = token_join(head, body, key);
	if (strlen(tok) > JWT_MAX_LEN) {
		mem_free(tok);
		r = -E2BIG;
		goto out;
	}
	*ret = tok;
	r = 0;
out:
	mem_free(head);
	mem_free(body);
	return r;
}

/* ---- verification ---- */

struct jwt_parts {
	const char *head, *body, *sig;
	size_t head_len, body_len, sig_len;
};

/* Splits into exactly three segments. */
static int token_split(const char *tok, struct jwt_parts *ret)
{
	size_t n = strnlen(tok, JWT_MAX_LEN + 1);
	const char *d1, *d2;

	if (n > JWT_MAX_LEN)
		return -EINVAL;
	d1 = memchr(tok, '.', n);
	if (!d1)
		return -EINVAL;
	d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - tok));
	if (!d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - tok)))
		return -EINVAL;
	ret->head = tok;
	ret->head_len = (size_t)(d1 - tok);
	ret->body = d1 + 1;
	ret->body_len = (size_t)(d2 - d1 - 1);
	ret->sig = d2 + 1;
	ret->sig_len = n - (size_t)(d2 + 1 - tok);
	return 0;
}

/* Base64url without padding only; core's decoder then rejects non-canonical tail bits. */
static int seg_decode(const char *s, size_t n, unsigned char **ret, size_t *ret_len)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return -EINVAL;
	}
	return b64_decode(s, n, ret, ret_len);
}

/* Decodes a segment holding one JSON object; duplicate members are rejected. */
static int seg_object(const char *s, size_t n, json_t **ret)
{
	unsigned char *raw;
	size_t len;
	json_t *o;
	int r;

	if (n == 0)
		return -EINVAL;
	r = seg_decode(s, n, &raw, &len);
	if (r < 0)
		return r;
	o = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	mem_free(raw);
	if (!json_is_object(o)) {
		json_decref(o);
		return -EINVAL;
	}
	*ret = o;
	return 0;
}

static const struct jwt_key *key_find(const char *kid, const struct jwt_key *keys, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (key_usable(&keys[i]) && strcmp(keys[i].kid, kid) == 0)
			return &keys[i];
	}
	return NULL;
}

/* Only alg, typ and kid may appear: nothing else (crit, jwk, jku, x5u, ...) is honoured. */
static int header_check(json_t *h)
{
	const char *name;
	json_t *v;

	json_object_foreach (h, name, v) {
		if (strcmp(name, "alg") != 0 && strcmp(name, "typ") != 0 &&
		    strcmp(name, "kid") != 0)
			return -EINVAL;
	}
	v = json_object_get(h, "typ");
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), "JWT") != 0))
		return -EINVAL;
	v = json_object_get(h, "alg");
	if (!json_is_string(v))
		return -EINVAL;
	if (strcmp(json_string_value(v), "HS256") != 0)
		return -EACCES; /* "none", HS512, RS256, ...: never accepted */
	if (!json_is_string(json_object_get(h, "kid")))
		return -EINVAL;
	return 0;
}

/* Parses and checks the header, then picks the key its kid names. */
static int header_key(const struct jwt_parts *p, const struct jwt_key *keys, size_t nkeys,
		      const struct jwt_key **ret)
{
	const struct jwt_key *k;
	json_t *h;
	int r;

	r = seg_object(p->head, p->head_len, &h);
	if (r < 0)
		return r;
	r = header_check(h);
	if (r < 0)
		goto out;
	k = key_find(json_string_value(json_object_get(h, "kid")), keys, nkeys);
	if (!k) {
		r = -EACCES;
		goto out;
	}
	*ret = k;
out:
	json_decref(h);
	return r;
}

static int sig_check(const struct jwt_parts *p, const struct jwt_key *k)
{
	unsigned char want[JWT_SIG_LEN], *got;
	size_t len;
	bool ok;
	int r;

	r = seg_decode(p->sig, p->sig_len, &got, &len);
	if (r < 0)
		return r;
	mac(k, p->head, p->head_len + 1 + p->body_len, want);
	ok = len == JWT_SIG_LEN && ct_equal(got, want, JWT_SIG_LEN);
	mem_free(got);
	return ok ? 0 : -EACCES;
}

/* Copies string claim name into out; absent leaves "" unless required. */
static int claim_str(const json_t *o, const char *name, bool required, char *out, size_t cap)
{
	json_t *v = json_object_get(o, name);
	size_t n;

	out[0] = '\0';
	if (!v)
		return required ? -EINVAL : 0;
	if (!json_is_string(v))
		return -EINVAL;
	n = json_string_length(v);
	if (n >= cap)
		return -EINVAL;
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

static int claim_int(const json_t *o, const char *name, bool required, int64_t *out)
{
	json_t *v = json_object_get(o, name);

	*out = 0;
	if (!v)
		return required ? -EINVAL : 0;
	if (!json_is_integer(v))
		return -EINVAL;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* sub, iss, aud and exp are required; the rest default to "" and 0. */
static int claims_parse(const json_t *o, struct jwt_claims *c)
{
	if (claim_str(o, "sub", true, c->sub, sizeof(c->sub)) < 0 ||
	    claim_str(o, "tid", false, c->tid, sizeof(c->tid)) < 0 ||
	    claim_str(o, "sid", false, c->sid, sizeof(c->sid)) < 0 ||
	    claim_str(o, "role", false, c->role, sizeof(c->role)) < 0 ||
	    claim_str(o, "iss", true, c->iss, sizeof(c->iss)) < 0 ||
	    claim_str(o, "aud", true, c->aud, sizeof(c->aud)) < 0 ||
	    claim_int(o, "iat", false, &c->iat) < 0 || claim_int(o, "nbf", false, &c->nbf) < 0 ||
	    claim_int(o, "exp", true, &c->exp) < 0)
		return -EINVAL;
	return 0;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static int claims_check(const struct jwt_claims *c, const char *iss, const char *aud, int64_t now_s,
			int64_t leeway_s)
{
	if (leeway_s < 0)
		leeway_s = 0;
	if (strcmp(c->iss, iss) != 0 || strcmp(c->aud, aud) != 0)
		return -EACCES;
	if (c->nbf > sat_add(now_s, leeway_s) || c->exp <= sat_add(now_s, -leeway_s))
		return -EACCES;
	return 0;
}

static int payload_claims(const struct jwt_parts *p, struct jwt_claims *ret)
{
	json_t *o;
	int r;

	r = seg_object(p->body, p->body_len, &o);
	if (r < 0)
		return r;
	r = claims_parse(o, ret);
	json_decref(o);
	return r;
}

int jwt_verify(const char *token, const struct jwt_key *keys, size_t nkeys, const char *iss,
	       const char *aud, int64_t now_s, int64_t leeway_s, struct jwt_claims *ret)
{
	const struct jwt_key *k;
	struct jwt_claims c;
	struct jwt_parts p;
	int r;

	if (!token || (!keys && nkeys) || !iss || !aud || !ret)
		return -EINVAL;
	r = token_split(token, &p);
	if (r < 0)
		return r;
	r = header_key(&p, keys, nkeys, &k);
	if (r < 0)
		return r;
	r = sig_check(&p, k);
	if (r < 0)
		return r;
	r = payload_claims(&p, &c);
	if (r < 0)
		return r;
	r = claims_check(&c, iss, aud, now_s, leeway_s);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}
