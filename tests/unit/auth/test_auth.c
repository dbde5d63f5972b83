/* test_auth.c: unit tests for roles, argon2id passwords, HS256 JWTs, API keys and tokens. */
#include <errno.h>

#include "auth/auth.h"
#include "core/core.h"
#include "../test.h"

#define NOW 1800000000
#define LEEWAY 60

static const struct pw_params fast = {.t_cost = 1, .m_kib = 1024, .parallelism = 1};
static const unsigned char secret0[] = "old-secret-old-secret-old-secret-0";
static const unsigned char secret1[] = "new-secret-new-secret-new-secret-1";
static const unsigned char secret_bad[] = "bad-secret-bad-secret-bad-secret-x";
static const struct jwt_key key0 = {"k0", secret0, sizeof(secret0) - 1};
static const struct jwt_key key1 = {"k1", secret1, sizeof(secret1) - 1};

static void test_roles(void)
{
	CHECK_STR(role_name(ROLE_VIEWER), "viewer");
	CHECK_STR(role_name(ROLE_PLATFORM_ADMIN), "platform_admin");
	CHECK_STR(role_name(ROLE_NONE), "none");
	CHECK_STR(role_name((enum role)99), "none");
	CHECK_EQ_INT(role_parse("agent"), ROLE_AGENT);
	CHECK_EQ_INT(role_parse("developer"), ROLE_DEVELOPER);
	CHECK_EQ_INT(role_parse("admin"), ROLE_ADMIN);
	CHECK_EQ_INT(role_parse("owner"), ROLE_OWNER);
	CHECK_EQ_INT(role_parse("platform_admin"), ROLE_PLATFORM_ADMIN);
	CHECK_EQ_INT(role_parse("Admin"), ROLE_NONE);
	CHECK_EQ_INT(role_parse("none"), ROLE_NONE);
	CHECK_EQ_INT(role_parse(""), ROLE_NONE);
	CHECK_EQ_INT(role_parse(NULL), ROLE_NONE);
	for (int r = ROLE_VIEWER; r <= ROLE_PLATFORM_ADMIN; r++)
		CHECK_EQ_INT(role_parse(role_name((enum role)r)), r);
	CHECK(role_allows(ROLE_ADMIN, ROLE_DEVELOPER));
	CHECK(role_allows(ROLE_ADMIN, ROLE_ADMIN));
	CHECK(!role_allows(ROLE_AGENT, ROLE_ADMIN));
	CHECK(role_allows(ROLE_PLATFORM_ADMIN, ROLE_OWNER));
	CHECK(!role_allows(ROLE_OWNER, ROLE_PLATFORM_ADMIN));
	CHECK(!role_allows(ROLE_NONE, ROLE_VIEWER));
	CHECK(!role_allows(ROLE_NONE, ROLE_NONE));
	CHECK(!role_allows((enum role)99, ROLE_VIEWER));
}

static void test_pw_hash_verify(void)
{
	static const char phc_head[] = "$argon2id$v=19$m=1024,t=1,p=1$";
	struct pw_params more = fast;
	char *h = NULL, *h2 = NULL;
	bool rehash = true;

	CHECK_EQ_INT(pw_hash("correct horse battery", &fast, &h), 0);
	CHECK(h && strncmp(h, phc_head, strlen(phc_head)) == 0);
	CHECK_EQ_INT(pw_hash("correct horse battery", &fast, &h2), 0);
	CHECK(h && h2 && strcmp(h, h2) != 0); /* random salt */
	CHECK_EQ_INT(pw_verify(h, "correct horse battery", &fast, &rehash), 0);
	CHECK(!rehash);
	CHECK_EQ_INT(pw_verify(h, "correct horse batterY", &fast, &rehash), -EACCES);
	CHECK_EQ_INT(pw_verify(h, "", &fast, &rehash), -EACCES);
	more.m_kib = 2048;
	CHECK_EQ_INT(pw_verify(h, "correct horse battery", &more, &rehash), 0);
	CHECK(rehash);
	more = fast;
	more.t_cost = 2;
	rehash = false;
	CHECK_EQ_INT(pw_verify(h, "correct horse battery", &more, &rehash), 0);
	CHECK(rehash);
	more = fast;
	more.parallelism = 2;
	rehash = false;
	CHECK_EQ_INT(pw_verify(h, "correct horse battery", &more, &rehash), 0);
	CHECK(rehash);
	CHECK_EQ_INT(pw_verify(h, "correct horse battery", &fast, NULL), 0);
	mem_free(h);
	mem_free(h2);
}

static void test_pw_malformed(void)
{
	struct pw_params bad = {.t_cost = 0, .m_kib = 1024, .parallelism = 1};
	char *h = NULL, *cut;
	bool rehash = false;

	CHECK_EQ_INT(pw_hash("whatever password", &bad, &h), -EINVAL);
	CHECK_EQ_INT(pw_verify("", "x", &fast, &rehash), -EINVAL);
	CHECK_EQ_INT(pw_verify("not a hash", "x", &fast, &rehash), -EINVAL);
	CHECK_EQ_INT(
	    pw_verify("$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA", "x", &fast, &rehash),
	    -EINVAL);
	CHECK_EQ_INT(
	    pw_verify("$argon2id$v=19$m=1024,t=1$c2FsdHNhbHRzYWx0$aGFzaA", "x", &fast, &rehash),
	    -EINVAL);
	CHECK_EQ_INT(
	    pw_verify("$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA", "x", &fast, &rehash),
	    -EINVAL);
	CHECK_EQ_INT(pw_verify("$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA", "x",
			       &fast, &rehash),
		     -EINVAL);
	CHECK_EQ_INT(pw_verify("$argon2id$v=19$m=1024,t=1,p=1$!!!$aGFzaA", "x", &fast, &rehash),
		     -EINVAL);
	CHECK_EQ_INT(pw_verify(NULL, "x", &fast, &rehash), -EINVAL);
	CHECK_EQ_INT(pw_hash("correct horse battery", &fast, &h), 0);
	if (!h)
		return;
	cut = mem_strndup(h, strlen(h) - 42); /* tag cut to one base64 character */
	CHECK_EQ_INT(pw_verify(cut, "correct horse battery", &fast, &rehash), -EINVAL);
	CHECK(!rehash); /* untouched on failure */
	CHECK_EQ_INT(pw_verify(h, NULL, &fast, &rehash), -EINVAL);
	mem_free(cut);
	mem_free(h);
}

static void test_pw_policy(void)
{
	char big[PW_MAX_LEN + 2];
	const char *why = NULL;

	CHECK_EQ_INT(pw_policy("short", &why), -EINVAL);
	CHECK(why && strstr(why, "at least"));
	why = NULL;
	CHECK_EQ_INT(pw_policy("123456789", &why), -EINVAL);
	CHECK(why != NULL);
	CHECK_EQ_INT(pw_policy("1234567890", &why), 0);
	memset(big, 'a', sizeof(big));
	big[PW_MAX_LEN] = '\0';
	CHECK_EQ_INT(pw_policy(big, &why), 0);
	big[PW_MAX_LEN] = 'a';
	big[PW_MAX_LEN + 1] = '\0';
	why = NULL;
	CHECK_EQ_INT(pw_policy(big, &why), -EINVAL);
	CHECK(why && strstr(why, "at most"));
	why = NULL;
	CHECK_EQ_INT(pw_policy(NULL, &why), -EINVAL);
	CHECK(why != NULL);
	CHECK_EQ_INT(pw_policy("", NULL), -EINVAL);
}

static void claims_init(struct jwt_claims *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sub, sizeof(c->sub), "us_0123");
	snprintf(c->tid, sizeof(c->tid), "tn_4567");
	snprintf(c->sid, sizeof(c->sid), "ss_89ab");
	snprintf(c->role, sizeof(c->role), "admin");
	snprintf(c->iss, sizeof(c->iss), "https://irisx.test");
	snprintf(c->aud, sizeof(c->aud), "irisx-api");
	c->iat = NOW;
	c->nbf = NOW;
	c->exp = NOW + 900;
}

/* Builds head.body.sig from raw JSON texts, signed with key (NULL: empty signature). */
static char *make_token(const char *head, const char *body, const struct jwt_key *key)
{
	char *h = b64_encode(head, strlen(head), true), *b = b64_encode(body, strlen(body), true);
	size_t n = strlen(h) + 1 + strlen(b) + 1;
	char *input = mem_alloc(n), *sig = mem_strdup(""), *tok;
	unsigned char mac[32];

	snprintf(input, n, "%s.%s", h, b);
	if (key) {
		mem_free(sig);
		hmac_sha256(key->secret, key->secret_len, input, strlen(input), mac);
		sig = b64_encode(mac, sizeof(mac), true);
	}
	n = strlen(input) + 1 + strlen(sig) + 1;
	tok = mem_alloc(n);
	snprintf(tok, n, "%s.%s", input, sig);
	mem_free(input);
	mem_free(h);
	mem_free(b);
	mem_free(sig);
	return tok;
}

static int verify1(const char *tok, const struct jwt_key *k, struct jwt_claims *out)
{
	return jwt_verify(tok, k, 1, "https://irisx.test", "irisx-api", NOW, LEEWAY, out);
}

static const char good_body[] = "{\"sub\":\"us_1\",\"iss\":\"https://irisx.test\","
				"\"aud\":\"irisx-api\",\"iat\":1800000000,\"exp\":1800000900}";

static void test_jwt_roundtrip(void)
{
	struct jwt_claims c, out;
	char *tok = NULL;

	claims_init(&c);
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), 0);
	if (!tok)
		return;
	CHECK(strncmp(tok, "eyJ", 3) == 0);
	CHECK(strchr(tok, '=') == NULL);
	memset(&out, 0, sizeof(out));
	CHECK_EQ_INT(verify1(tok, &key1, &out), 0);
	CHECK_STR(out.sub, "us_0123");
	CHECK_STR(out.tid, "tn_4567");
	CHECK_STR(out.sid, "ss_89ab");
	CHECK_STR(out.role, "admin");
	CHECK_STR(out.iss, "https://irisx.test");
	CHECK_STR(out.aud, "irisx-api");
	CHECK_EQ_INT(out.iat, NOW);
	CHECK_EQ_INT(out.nbf, NOW);
	CHECK_EQ_INT(out.exp, NOW + 900);
	/* Minimal hand-built token: optional claims default. */
	mem_free(tok);
	tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), 0);
	CHECK_STR(out.sub, "us_1");
	CHECK_STR(out.tid, "");
	CHECK_EQ_INT(out.nbf, 0);
	mem_free(tok);
}

static void test_jwt_tampered(void)
{
	const struct jwt_key wrong = {"k1", secret_bad, sizeof(secret_bad) - 1};
	struct jwt_claims c, out;
	char *tok = NULL, *evil, *forged;
	const char *d1, *d2;
	size_t n;

	claims_init(&c);
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), 0);
	if (!tok)
		return;
	/* Same header and signature around a payload that says "owner". */
	snprintf(c.role, sizeof(c.role), "owner");
	CHECK_EQ_INT(jwt_sign(&c, &key1, &evil), 0);
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');
	n = strlen(tok) + strlen(evil);
	forged = mem_alloc(n);
	snprintf(forged, n, "%.*s%.*s%s", (int)(d1 - tok), tok,
		 (int)(strrchr(evil, '.') - strchr(evil, '.')), strchr(evil, '.'), d2);
	CHECK_EQ_INT(verify1(forged, &key1, &out), -EACCES);
	/* One flipped signature character. */
	snprintf(forged, n, "%s", tok);
	forged[strlen(forged) - 2] = forged[strlen(forged) - 2] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(verify1(forged, &key1, &out), -EACCES);
	/* Wrong secret under the right kid. */
	CHECK_EQ_INT(verify1(tok, &wrong, &out), -EACCES);
	mem_free(forged);
	mem_free(evil);
	mem_free(tok);
}

static void test_jwt_header(void)
{
	struct jwt_claims c, out;
	char *tok = NULL, *body64, *t;
	const char *d1;
	size_t n;

	claims_init(&c);
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), 0);
	if (!tok)
		return;
	d1 = strchr(tok, '.');
	body64 = mem_strndup(d1 + 1, (size_t)(strrchr(tok, '.') - d1 - 1));
	n = strlen(tok) + 128;
	t = mem_alloc(n);
	/* alg none, {"alg":"none","typ":"JWT","kid":"k1"}, empty signature. */
	snprintf(t, n, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoiazEifQ.%s.", body64);
	CHECK(verify1(t, &key1, &out) < 0);
	/* {"alg":"none"} with no kid at all. */
	snprintf(t, n, "eyJhbGciOiJub25lIn0.%s.", body64);
	CHECK(verify1(t, &key1, &out) < 0);
	mem_free(t);
	mem_free(body64);
	mem_free(tok);

	/* Correct HMAC-SHA256, but the header claims another algorithm. */
	tok = make_token("{\"alg\":\"HS512\",\"kid\":\"k1\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EACCES);
	mem_free(tok);
	tok = make_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EACCES);
	mem_free(tok);
	tok = make_token("{\"alg\":\"hs256\",\"kid\":\"k1\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EACCES);
	mem_free(tok);
	tok = make_token("{\"kid\":\"k1\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	tok = make_token("{\"alg\":256,\"kid\":\"k1\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	tok = make_token("{\"alg\":\"HS256\",\"alg\":\"HS256\",\"kid\":\"k1\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[\"x\"]}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	tok = make_token("[\"HS256\"]", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	/* kid: required, must be a string, must name a given key. */
	tok = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	tok = make_token("{\"alg\":\"HS256\",\"kid\":1}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k9\"}", good_body, &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EACCES);
	mem_free(tok);
}

static void test_jwt_claims(void)
{
	const struct jwt_key weak = {"k1", (const unsigned char *)"short", 5};
	struct jwt_claims c, out;
	char *tok = NULL;

	claims_init(&c);
	c.exp = NOW - LEEWAY - 1;
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), 0);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EACCES);
	mem_free(tok);
	c.exp = NOW - LEEWAY + 1; /* expired, but within leeway */
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), 0);
	CHECK_EQ_INT(verify1(tok, &key1, &out), 0);
	mem_free(tok);
	claims_init(&c);
	c.nbf = NOW + LEEWAY + 1;
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), 0);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EACCES);
	mem_free(tok);
	claims_init(&c);
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), 0);
	CHECK_EQ_INT(
	    jwt_verify(tok, &key1, 1, "https://irisx.test", "other-api", NOW, LEEWAY, &out),
	    -EACCES);
	CHECK_EQ_INT(jwt_verify(tok, &key1, 1, "https://evil.test", "irisx-api", NOW, LEEWAY, &out),
		     -EACCES);
	mem_free(tok);
	/* Types and sizes. */
	tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
			 "{\"sub\":\"us_1\",\"iss\":\"https://irisx.test\",\"aud\":[\"irisx-api\"],"
			 "\"exp\":1800000900}",
			 &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
			 "{\"sub\":\"us_1\",\"iss\":\"https://irisx.test\",\"aud\":\"irisx-api\","
			 "\"exp\":\"1800000900\"}",
			 &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL);
	mem_free(tok);
	tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
			 "{\"sub\":\"us_1\",\"iss\":\"https://irisx.test\",\"aud\":\"irisx-api\"}",
			 &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL); /* no exp */
	mem_free(tok);
	tok = make_token(
	    "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
	    "{\"sub\":\"0123456789012345678901234567890123456789012345678901234567890123\","
	    "\"iss\":\"https://irisx.test\",\"aud\":\"irisx-api\",\"exp\":1800000900}",
	    &key1);
	CHECK_EQ_INT(verify1(tok, &key1, &out), -EINVAL); /* sub of 64 bytes */
	mem_free(tok);
	/* Signing refuses unterminated fields and short secrets. */
	claims_init(&c);
	memset(c.role, 'r', sizeof(c.role));
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), -EINVAL);
	claims_init(&c);
	CHECK_EQ_INT(jwt_sign(&c, &weak, &tok), -EINVAL);
}

static void test_jwt_rotation(void)
{
	struct jwt_key both[2] = {key1, key0};
	struct jwt_claims c, out;
	char *tok = NULL;

	claims_init(&c);
	CHECK_EQ_INT(jwt_sign(&c, &key0, &tok), 0);
	if (!tok)
		return;
	CHECK_EQ_INT(jwt_verify(tok, both, 2, "https://irisx.test", "irisx-api", NOW, LEEWAY, &out),
		     0);
	CHECK_STR(out.sub, "us_0123");
	CHECK_EQ_INT(jwt_verify(tok, both, 1, "https://irisx.test", "irisx-api", NOW, LEEWAY, &out),
		     -EACCES);
	CHECK_EQ_INT(jwt_verify(tok, NULL, 0, "https://irisx.test", "irisx-api", NOW, LEEWAY, &out),
		     -EACCES);
	mem_free(tok);
}

/* Verifies a correctly signed token whose payload carries a pad claim of n bytes. */
static int verify_padded(size_t n)
{
	char *body = mem_alloc(n + 256), *tok;
	struct jwt_claims out;
	int r;

	snprintf(body, n + 256,
		 "{\"sub\":\"us_1\",\"iss\":\"https://irisx.test\",\"aud\":\"irisx-api\","
		 "\"exp\":1800000900,\"pad\":\"%0*d\"}",
		 (int)n, 0);
	tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", body, &key1);
	r = verify1(tok, &key1, &out);
	mem_free(tok);
	mem_free(body);
	return r;
}

static void test_jwt_malformed(void)
{
	struct jwt_claims c, out;
	char *tok = NULL, *t, big[JWT_MAX_LEN + 2];
	size_t n;

	claims_init(&c);
	CHECK_EQ_INT(jwt_sign(&c, &key1, &tok), 0);
	if (!tok)
		return;
	n = strlen(tok) + 8;
	t = mem_alloc(n);
	snprintf(t, n, "%.*s", (int)(strrchr(tok, '.') - tok), tok); /* 2 segments */
	CHECK_EQ_INT(verify1(t, &key1, &out), -EINVAL);
	snprintf(t, n, "%s.", tok); /* 4 segments */
	CHECK_EQ_INT(verify1(t, &key1, &out), -EINVAL);
	snprintf(t, n, "%s=", tok); /* padding */
	CHECK_EQ_INT(verify1(t, &key1, &out), -EINVAL);
	snprintf(t, n, "%s", tok);
	*strchr(t, '.') = '*'; /* garbage in the header */
	CHECK_EQ_INT(verify1(t, &key1, &out), -EINVAL);
	snprintf(t, n, "%s", tok);
	t[strlen(t) - 1] = '+'; /* standard alphabet */
	CHECK_EQ_INT(verify1(t, &key1, &out), -EINVAL);
	CHECK_EQ_INT(verify1("..", &key1, &out), -EINVAL);
	CHECK_EQ_INT(verify1("", &key1, &out), -EINVAL);
	CHECK_EQ_INT(verify1(NULL, &key1, &out), -EINVAL);
	/* Unknown claims are ignored, but the whole token is capped. */
	CHECK_EQ_INT(verify_padded(2900), 0);
	CHECK_EQ_INT(verify_padded(3100), -EINVAL);
	memset(big, 'A', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	big[10] = '.';
	big[20] = '.';
	CHECK_EQ_INT(verify1(big, &key1, &out), -EINVAL);
	mem_free(t);
	mem_free(tok);
}

static void test_apikey(void)
{
	char key[APIKEY_MAX_LEN], key2[APIKEY_MAX_LEN], prefix[APIKEY_PREFIX_LEN + 1];
	char h[65], h2[65];
	size_t i;

	CHECK_EQ_INT(apikey_new("live", key, prefix), 0);
	CHECK_EQ_INT(strlen(key), 4 + 4 + 1 + 43 + 1 + 6);
	CHECK(strncmp(key, "irx_live_", 9) == 0);
	CHECK_EQ_INT(strlen(prefix), APIKEY_PREFIX_LEN);
	CHECK(strncmp(key, prefix, strlen(prefix)) == 0);
	CHECK(apikey_well_formed(key));
	for (i = 9; i < 9 + 43; i++)
		CHECK(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
			     key[i]) != NULL);
	CHECK_EQ_INT(key[9 + 43], '_');
	CHECK_EQ_INT(apikey_new("live", key2, prefix), 0);
	CHECK(strcmp(key, key2) != 0);
	/* One changed character anywhere before the checksum, or in it, is caught. */
	for (i = 9; i < strlen(key); i++) {
		if (key[i] == '_')
			continue;
		snprintf(key2, sizeof(key2), "%s", key);
		key2[i] = key2[i] == 'a' ? 'b' : 'a';
		CHECK(!apikey_well_formed(key2));
	}
	snprintf(key2, sizeof(key2), "%s", key);
	key2[4] = 'x'; /* kind live -> xive */
	CHECK(!apikey_well_formed(key2));
	/* Known answers (CRC-32 IEEE, base62 fixed width), computed with zlib. */
	CHECK(apikey_well_formed("irx_live_0000000000000000000000000000000000000000000_1vvL4k"));
	CHECK(apikey_well_formed("irx_test_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ_4Kxb3X"));
	CHECK(!apikey_well_formed("irx_test_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ_4Kxb3Y"));
	CHECK(!apikey_well_formed("irx_live_0000000000000000000000000000000000000000000_1vvL4k_"));
	CHECK(!apikey_well_formed("irx_live_000000000000000000000000000000000000000000_1vvL4k"));
	CHECK(!apikey_well_formed("irx_Live_0000000000000000000000000000000000000000000_1vvL4k"));
	CHECK(!apikey_well_formed("irx__0000000000000000000000000000000000000000000_1vvL4k"));
	CHECK(!apikey_well_formed("irx_live_000000000000000000000-000000000000000000000_1vvL4k"));
	CHECK(!apikey_well_formed(""));
	CHECK(!apikey_well_formed(NULL));
	CHECK(!apikey_well_formed("sk_live_abc"));
	/* Kinds. */
	CHECK_EQ_INT(apikey_new("test", key, prefix), 0);
	CHECK(strncmp(prefix, "irx_test_", 9) == 0 && apikey_well_formed(key));
	CHECK_EQ_INT(apikey_new("abcdefgh", key, prefix), 0);
	CHECK(apikey_well_formed(key));
	CHECK_EQ_INT(strlen(prefix), APIKEY_PREFIX_LEN);
	CHECK(strncmp(prefix, "irx_abcdefgh_", 13) == 0);
	CHECK_EQ_INT(apikey_new("abcdefghi", key, prefix), -EINVAL);
	CHECK_EQ_INT(apikey_new("Live", key, prefix), -EINVAL);
	CHECK_EQ_INT(apikey_new("", key, prefix), -EINVAL);
	CHECK_EQ_INT(apikey_new("li_ve", key, prefix), -EINVAL);
	/* Hash. */
	apikey_hash("irx_live_0000000000000000000000000000000000000000000_1vvL4k", h);
	sha256_hex("irx_live_0000000000000000000000000000000000000000000_1vvL4k", 59, h2);
	CHECK_EQ_INT(strlen(h), 64);
	CHECK_STR(h, h2);
}

static void test_tokens(void)
{
	char a[TOKEN_LEN], b[TOKEN_LEN], ha[65], hb[65];

	token_new(a);
	token_new(b);
	CHECK_EQ_INT(strlen(a), 43);
	CHECK_EQ_INT(strlen(b), 43);
	CHECK(strcmp(a, b) != 0);
	CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
	token_hash(a, ha);
	token_hash(a, hb);
	CHECK_EQ_INT(strlen(ha), 64);
	CHECK_STR(ha, hb);
	token_hash(b, hb);
	CHECK(strcmp(ha, hb) != 0);
	/* SHA-256("abc") known answer. */
	token_hash("abc", ha);
	CHECK_STR(ha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	test_roles();
	test_pw_hash_verify();
	test_pw_malformed();
	test_pw_policy();
	test_jwt_roundtrip();
	test_jwt_tampered();
	test_jwt_header();
	test_jwt_claims();
	test_jwt_rotation();
	test_jwt_malformed();
	test_apikey();
	test_tokens();
	return test_done("auth");
}
