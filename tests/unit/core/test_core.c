/* test_core.c: unit tests for core: memory, time, ids, encodings, crypto, buffers, redaction,
   configuration and strict JSON bodies (including the JSONTestSuite corpus, RELIABILITY B4). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "../test.h"

#define JSON_SUITE "../shared/corpora/json/JSONTestSuite"

/* ---- helpers ---- */

/* Reads a whole file; NULL if it cannot be read. */
static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*ret_len = b.len;
	return buf_detach(&b);
}

/* Writes text to a new temporary file; path is a mkstemp template that gets filled in. */
static int write_temp(char *path, const char *text)
{
	int fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w <= 0) {
			close(fd);
			return -EIO;
		}
		off += (size_t)w;
	}
	close(fd);
	return 0;
}

/* Removes every IRISX_* variable so config tests see only what they set. */

/* ---- memory ---- */

static void test_mem(void)
{
	unsigned char *z = mem_zalloc(64);
	int zero = 1;
	for (int i = 0; i < 64; i++)
		zero &= z[i] == 0;
	CHECK(zero);
	memset(z, 7, 64);
	z = mem_realloc(z, 4096);
	CHECK(z[0] == 7 && z[63] == 7);
	mem_free(z);

	void *p = mem_alloc(0); /* never NULL, even for 0 bytes */
	CHECK(p != NULL);
	mem_free(p);
	mem_free(NULL);

	char *s = mem_strdup("hello");
	CHECK_STR(s, "hello");
	mem_free(s);
	CHECK(mem_strdup(NULL) == NULL);
	s = mem_strndup("hello world", 5);
	CHECK_STR(s, "hello");
	mem_free(s);
	s = mem_strndup("ab", 0);
	CHECK_STR(s, "");
	mem_free(s);
}

/* ---- time ---- */

static void check_parse(const char *s, uint64_t want)
{
	uint64_t us = 0;
	int r = time_parse(s, &us);
	CHECK_EQ_INT(r, 0);
	if (r == 0 && us != want)
		fprintf(stderr, "time_parse(%s) = %llu, expected %llu\n", s, (unsigned long long)us,
			(unsigned long long)want);
	CHECK(us == want);
}

static void check_parse_bad(const char *s)
{
	uint64_t us = 12345;
	int r = time_parse(s, &us);
	if (r != -EINVAL)
		fprintf(stderr, "time_parse(\"%s\") accepted (us=%llu)\n", s ? s : "(null)",
			(unsigned long long)us);
	CHECK_EQ_INT(r, -EINVAL);
}

static void test_time(void)
{
	char buf[TIME_RFC3339_LEN];
	CHECK_STR(time_fmt(0, buf), "1970-01-01T00:00:00.000000Z");
	CHECK_STR(time_fmt(1700000000123456u, buf), "2023-11-14T22:13:20.123456Z");
	CHECK_STR(time_fmt(951782400000001u, buf), "2000-02-29T00:00:00.000001Z");

	check_parse("2023-11-14T22:13:20Z", 1700000000000000u);
	check_parse("2023-11-14T22:13:20.123456Z", 1700000000123456u);
	check_parse("2023-11-14T22:13:20.1Z", 1700000000100000u);
	check_parse("2023-11-14T22:13:20.1234567Z", 1700000000123456u); /* extra digits dropped */
	check_parse("2023-11-14t22:13:20z", 1700000000000000u);
	check_parse("2023-11-14T23:13:20+01:00", 1700000000000000u);
	check_parse("2023-11-14T21:43:20-00:30", 1700000000000000u);
	check_parse("2000-02-29T00:00:00Z", 951782400000000u);
	check_parse("1970-01-01T00:00:00Z", 0);

	/* round trip through the formatter */
	uint64_t now = time_now_us(), back = 0;
	CHECK_EQ_INT(time_parse(time_fmt(now, buf), &back), 0);
	CHECK(back == now);

	check_parse_bad(NULL);
	check_parse_bad("");
	check_parse_bad("2023-11-14");
	check_parse_bad("2023-11-14T22:13:20");	     /* no zone */
	check_parse_bad("2023-11-14 22:13:20Z");     /* space instead of T */
	check_parse_bad("2023-11-14T22:13:20.Z");    /* empty fraction */
	check_parse_bad("2023-11-14T22:13:20Zjunk"); /* trailing bytes */
	check_parse_bad("2023-13-01T00:00:00Z");
	check_parse_bad("2023-00-01T00:00:00Z");
	check_parse_bad("2023-01-32T00:00:00Z");
	check_parse_bad("2023-01-00T00:00:00Z");
	check_parse_bad("2023-01-01T24:00:00Z");
	check_parse_bad("2023-01-01T00:60:00Z");
	check_parse_bad("2023-01-01T00:00:61Z");
	check_parse_bad("2023-01-01T00:00:00+0100");
	check_parse_bad("2023-01-01T00:00:00+01:00x");
	check_parse_bad("2O23-01-01T00:00:00Z");
	check_parse_bad("+023-01-01T00:00:00Z");
	check_parse_bad("1969-12-31T23:59:59Z"); /* before the epoch: not representable */
	/* RFC 3339 5.7: day must exist in its month; offsets are hh 00-23, mm 00-59 */
	check_parse_bad("2023-02-29T00:00:00Z");
	check_parse_bad("2023-02-31T00:00:00Z");
	check_parse_bad("2023-04-31T00:00:00Z");
	check_parse_bad("2023-01-01T00:00:00+24:00");
	check_parse_bad("2023-01-01T00:00:00+99:99");

	uint64_t m1 = time_mono_us(), m2 = time_mono_us();
	CHECK(m2 >= m1);
	CHECK(time_now_us() > 1600000000000000u); /* after 2020 */
}

/* ---- ids ---- */

static void test_ids(void)
{
	char a[ID_LEN + 1], b[ID_LEN + 1];
	id_new("US", a);
	CHECK_EQ_INT(strlen(a), ID_LEN);
	CHECK(id_valid(a, "US"));
	CHECK(!id_valid(a, "TN"));
	CHECK(!id_valid(NULL, "US"));
	CHECK(!id_valid("", "US"));
	CHECK(!id_valid("US0123", "US"));

	char bad[ID_LEN + 2];
	snprintf(bad, sizeof(bad), "%s", a);
	bad[10] = 'A'; /* upper-case hex is not ours */
	CHECK(!id_valid(bad, "US"));
	bad[10] = 'g';
	CHECK(!id_valid(bad, "US"));
	snprintf(bad, sizeof(bad), "%s0", a); /* one char too long */
	CHECK(!id_valid(bad, "US"));

	/* time-ordered: an id made later sorts after (ms resolution) */
	usleep(2000);
	id_new("US", b);
	CHECK(strcmp(a, b) < 0);
	CHECK(strcmp(a, b) != 0);

	/* the random part differs between ids made in the same millisecond */
	id_new("AL", a);
	id_new("AL", b);
	CHECK(strcmp(a + 14, b + 14) != 0);
}

/* ---- encodings ---- */

static void check_b64(const char *plain, const char *std, const char *url)
{
	size_t n = strlen(plain);
	char *e = b64_encode(plain, n, false);
	CHECK_STR(e, std);
	mem_free(e);
	e = b64_encode(plain, n, true);
	CHECK_STR(e, url);
	mem_free(e);

	const char *forms[] = {std, url};
	for (int i = 0; i < 2; i++) {
		unsigned char *d = NULL;
		size_t dl = 0;
		CHECK_EQ_INT(b64_decode(forms[i], strlen(forms[i]), &d, &dl), 0);
		CHECK_EQ_INT(dl, n);
		CHECK(d && memcmp(d, plain, n) == 0 && d[dl] == '\0');
		mem_free(d);
	}
}

static void check_b64_bad(const char *in)
{
	unsigned char *d = NULL;
	size_t dl = 0;
	int r = b64_decode(in, strlen(in), &d, &dl);
	if (r != -EINVAL)
		fprintf(stderr, "b64_decode(\"%s\") accepted\n", in);
	CHECK_EQ_INT(r, -EINVAL);
	if (r == 0)
		mem_free(d);
}

static void test_encodings(void)
{
	char hex[2 * 5 + 1];
	hex_encode("\x00\x01\xab\xff\x10", 5, hex);
	CHECK_STR(hex, "0001abff10");
	hex_encode("", 0, hex);
	CHECK_STR(hex, "");

	/* RFC 4648 section 10 vectors */
	check_b64("", "", "");
	check_b64("f", "Zg==", "Zg");
	check_b64("fo", "Zm8=", "Zm8");
	check_b64("foo", "Zm9v", "Zm9v");
	check_b64("foob", "Zm9vYg==", "Zm9vYg");
	check_b64("fooba", "Zm9vYmE=", "Zm9vYmE");
	check_b64("foobar", "Zm9vYmFy", "Zm9vYmFy");
	check_b64("\xfb\xff\xfe", "+//+", "-__-");

	/* every byte value, every length mod 3, both alphabets */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t len = 250; len <= 256; len++) {
		for (int url = 0; url < 2; url++) {
			char *e = b64_encode(all, len, url);
			unsigned char *d = NULL;
			size_t dl = 0;
			CHECK_EQ_INT(b64_decode(e, strlen(e), &d, &dl), 0);
			CHECK(dl == len && d && memcmp(d, all, len) == 0);
			CHECK(url ? strpbrk(e, "+/=") == NULL : strpbrk(e, "-_") == NULL);
			mem_free(d);
			mem_free(e);
		}
	}

	check_b64_bad("Z");	   /* a lone sextet holds no byte */
	check_b64_bad("Zm9vY");	   /* 5 chars: 4n+1 */
	check_b64_bad("Zh==");	   /* non-canonical trailing bits */
	check_b64_bad("Zm9=");	   /* non-canonical trailing bits */
	check_b64_bad("Zm 9v");	   /* whitespace */
	check_b64_bad("Zm9v\n");   /* newline */
	check_b64_bad("Zg==Zg=="); /* padding in the middle */
	check_b64_bad("Zm9*");
	check_b64_bad("====");	/* padding only */
	check_b64_bad("Zm9v="); /* padding where none is due */
	check_b64_bad("Zg==="); /* more padding than a group holds */
}

/* ---- crypto ---- */

static void test_crypto(void)
{
	char hex[65];
	sha256_hex("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	unsigned char d[32], d2[32];
	sha256("abc", 3, d);
	hex_encode(d, 32, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	/* RFC 4231 test cases 1 and 2 */
	unsigned char key1[20];
	memset(key1, 0x0b, sizeof(key1));
	hmac_sha256(key1, sizeof(key1), "Hi There", 8, d);
	hex_encode(d, 32, hex);
	CHECK_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
	hex_encode(d, 32, hex);
	CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

	memcpy(d2, d, 32);
	CHECK(ct_equal(d, d2, 32));
	d2[31] ^= 1;
	CHECK(!ct_equal(d, d2, 32));
	CHECK(ct_equal(d, d2, 0));

	unsigned char r1[32] = {0}, r2[32] = {0};
	CHECK_EQ_INT(rand_bytes(r1, sizeof(r1)), 0);
	CHECK_EQ_INT(rand_bytes(r2, sizeof(r2)), 0);
	CHECK(memcmp(r1, r2, 32) != 0);
}

/* ---- buffers ---- */

static void test_buf(void)
{
	struct buf b;
	buf_init(&b, 10);
	CHECK_EQ_INT(buf_append(&b, "0123456789", 10), 0);
	CHECK_EQ_INT(b.len, 10);
	CHECK_EQ_INT(buf_append(&b, "x", 1), -E2BIG);
	CHECK_EQ_INT(buf_puts(&b, "y"), -E2BIG);
	CHECK_EQ_INT(buf_printf(&b, "%d", 1), -E2BIG);
	CHECK_EQ_INT(buf_append(&b, "", 0), 0);
	CHECK_EQ_INT(b.len, 10);
	CHECK_STR(b.p, "0123456789");
	char *s = buf_detach(&b);
	CHECK_STR(s, "0123456789");
	mem_free(s);
	CHECK(b.p == NULL && b.len == 0 && b.max == 10); /* reset, limit kept */
	CHECK_EQ_INT(buf_append(&b, "abc", 3), 0);
	CHECK_EQ_INT(buf_append(&b, "0123456789", 10), -E2BIG); /* would pass max */
	CHECK_EQ_INT(b.len, 3);
	CHECK_EQ_INT(buf_append(&b, NULL, SIZE_MAX), -E2BIG); /* no overflow in the check */
	buf_free(&b);
	CHECK(b.p == NULL && b.len == 0);

	/* unlimited buffer, formatted output longer than the printf fast path */
	buf_init(&b, 0);
	char big[2000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ_INT(buf_printf(&b, "<%s|%d>", big, 42), 0);
	CHECK_EQ_INT(b.len, sizeof(big) - 1 + 5);
	CHECK(b.p[0] == '<' && strcmp(b.p + b.len - 4, "|42>") == 0);
	for (int i = 0; i < 1000; i++)
		buf_puts(&b, "0123456789");
	CHECK_EQ_INT(b.len, sizeof(big) - 1 + 5 + 10000);
	CHECK(b.p[b.len] == '\0');
	buf_free(&b);

	buf_init(&b, 0);
	s = buf_detach(&b); /* never returns NULL */
	CHECK_STR(s, "");
	mem_free(s);

	buf_init(&b, 1024);
	CHECK_EQ_INT(buf_printf(&b, "%s", big), -E2BIG); /* slow path honours max too */
	CHECK_EQ_INT(b.len, 0);
	buf_free(&b);
}

/* ---- log redaction ---- */

static void check_redact(const char *in, const char *want)
{
	char s[512];
	snprintf(s, sizeof(s), "%s", in);
	log_redact(s);
	CHECK_STR(s, want);
}

/* before + secret + after must come out with the secret blanked, same length. */
static void check_redact_secret(const char *before, const char *secret, const char *after)
{
	char in[512], want[512], stars[256];
	size_t n = strlen(secret);
	memset(stars, '*', n);
	stars[n] = '\0';
	snprintf(in, sizeof(in), "%s%s%s", before, secret, after);
	snprintf(want, sizeof(want), "%s%s%s", before, stars, after);
	check_redact(in, want);
}

static void test_redact(void)
{
	check_redact_secret("Authorization: Bearer ", "abc.DEF-_=", "");
	check_redact_secret("{\"authorization\":\"Basic ", "dXNlcjpwYXNz", "\"}");
	check_redact_secret("key=", "irx_live_0123456789AbCd_xyz", " rest");
	check_redact_secret("t ", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", " end");
	check_redact_secret("secret ", "whsec_abcDEF123", " ok");
	check_redact("two irx_a irx_b", "two ***** *****");
	check_redact("nothing secret here: Bearer", "nothing secret here: Bearer");
	check_redact("", "");
	check_redact("GET /v1/users 200", "GET /v1/users 200");
	/* RFC 9110 11.1: the auth scheme is case-insensitive; a lower-case scheme is still a
	   credential */
	check_redact_secret("authorization: bearer ", "abc123", "");
	check_redact_secret("authorization: BASIC ", "dXNlcjpwYXNz", "");
}

/* ---- configuration ---- */

static void test_config_defaults(void)
{
	struct config cfg;
	char *err = NULL;
	char path[] = "/tmp/irisx-conf-XXXXXX";
	CHECK_EQ_INT(write_temp(path, "# empty\n\n   \n"), 0);
	CHECK_EQ_INT(config_load(&cfg, path, &err), 0);
	CHECK(err == NULL);
	CHECK_STR(cfg.http_listen, "127.0.0.1:8080");
	CHECK_EQ_INT(cfg.http_max_connections, 4096);
	CHECK_EQ_INT(cfg.http_timeout_s, 30);
	CHECK_EQ_INT(cfg.http_max_body_bytes, 1048576);
	CHECK_STR(cfg.data_dir, "./var");
	CHECK_STR(cfg.database_url, "");
	CHECK_EQ_INT(cfg.database_pool, 8);
	CHECK_STR(cfg.jwt_issuer, "irisx");
	CHECK_STR(cfg.jwt_audience, "irisx-api");
	CHECK_EQ_INT(cfg.access_ttl_s, 900);
	CHECK_EQ_INT(cfg.argon2_m_kib, 19456);
	CHECK_STR(cfg.log_level, "info");
	CHECK(!cfg.trust_proxy);
	config_free(&cfg);
	CHECK(cfg.http_listen == NULL);
	unlink(path);
}

static void test_config_file_env(void)
{
	struct config cfg;
	char *err = NULL;
	char path[] = "/tmp/irisx-conf-XXXXXX";
	CHECK_EQ_INT(write_temp(path, "# comment\n"
				      "  http.listen = 0.0.0.0:9000  \n"
				      "data_dir=\"/srv/irisx data\"\n"
				      "auth.access_ttl_s = 60\n"
				      "http.trust_proxy = yes\n"
				      "database.pool = 16\n"
				      "log.level = debug\n"),
		     0);
	setenv("IRISX_DATABASE_POOL", "32", 1); /* environment wins over the file */
	setenv("IRISX_AUTH_JWT_ISSUER", "iss-from-env", 1);
	CHECK_EQ_INT(config_load(&cfg, path, &err), 0);
	CHECK_STR(cfg.http_listen, "0.0.0.0:9000");
	CHECK_STR(cfg.data_dir, "/srv/irisx data");
	CHECK_EQ_INT(cfg.access_ttl_s, 60);
	CHECK(cfg.trust_proxy);
	CHECK_EQ_INT(cfg.database_pool, 32);
	CHECK_STR(cfg.jwt_issuer, "iss-from-env");
	CHECK_STR(cfg.log_level, "debug");
	config_free(&cfg);

	/* IRISX_CONFIG names the file when no path is given */
	setenv("IRISX_CONFIG", path, 1);
	CHECK_EQ_INT(config_load(&cfg, NULL, &err), 0);
	CHECK_STR(cfg.http_listen, "0.0.0.0:9000");
	config_free(&cfg);
	unsetenv("IRISX_CONFIG");

	/* a bad environment value names the variable */
	setenv("IRISX_DATABASE_POOL", "many", 1);
	CHECK_EQ_INT(config_load(&cfg, path, &err), -EINVAL);
	CHECK(err && strstr(err, "IRISX_DATABASE_POOL"));
	mem_free(err);
	config_free(&cfg);
	unsetenv("IRISX_DATABASE_POOL");
	unsetenv("IRISX_AUTH_JWT_ISSUER");
	unlink(path);
}

static void check_config_bad(const char *text, const char *want_in_err)
{
	struct config cfg;
	char *err = NULL;
	char path[] = "/tmp/irisx-conf-XXXXXX";
	CHECK_EQ_INT(write_temp(path, text), 0);
	CHECK_EQ_INT(config_load(&cfg, path, &err), -EINVAL);
	CHECK(err && strstr(err, want_in_err));
	if (err && !strstr(err, want_in_err))
		fprintf(stderr, "config error \"%s\" lacks \"%s\"\n", err, want_in_err);
	mem_free(err);
	config_free(&cfg);
	unlink(path);
}

static void test_config_errors(void)
{
	check_config_bad("no.such.key = 1\n", "line 1");
	check_config_bad("# ok\nhttp.listen = x\njust words\n", "line 3");
	check_config_bad("http.timeout_s = 0\n", "line 1");	      /* below min */
	check_config_bad("http.timeout_s = 3601\n", "line 1");	      /* above max */
	check_config_bad("http.timeout_s = 30s\n", "line 1");	      /* trailing junk */
	check_config_bad("http.timeout_s =\n", "line 1");	      /* empty int */
	check_config_bad("http.timeout_s = 99999999999\n", "line 1"); /* overflows long/int */
	check_config_bad("http.trust_proxy = maybe\n", "line 1");

	struct config cfg;
	char *err = NULL;
	CHECK_EQ_INT(config_load(&cfg, "/nonexistent/irisx.conf", &err), -ENOENT);
	CHECK(err && strstr(err, "/nonexistent/irisx.conf"));
	mem_free(err);
	config_free(&cfg);
}

/* Uncomments the "# key = value" lines of the example, as an operator would. */
static char *uncomment_example(const char *ex)
{
	struct buf out;
	buf_init(&out, 0);
	const char *line = ex;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *eq = memmem(line, len, " = ", 3);
		bool setting = len > 2 && line[0] == '#' && line[1] == ' ' && eq &&
			       memchr(line + 2, ' ', (size_t)(eq - line - 2)) == NULL;
		if (setting)
			buf_append(&out, line + 2, len - 2);
		else
			buf_append(&out, line, len);
		buf_puts(&out, "\n");
		line += len + (nl ? 1 : 0);
	}
	return buf_detach(&out);
}

static void test_config_example(void)
{
	struct buf b;
	buf_init(&b, 0);
	config_dump_example(&b);
	CHECK(strstr(b.p, "# http.listen = 127.0.0.1:8080\n") != NULL);
	CHECK(strstr(b.p, "(IRISX_DATABASE_URL)") != NULL);
	CHECK(strstr(b.p, "# auth.access_ttl_s = 900\n") != NULL);
	CHECK(strstr(b.p, "# log.level = info\n") != NULL);

	/* the committed irisx.conf.example is this output (regenerate with irisx config example) */
	size_t len = 0;
	char *committed = slurp("irisx.conf.example", &len);
	CHECK(committed != NULL);
	if (committed) {
		CHECK(len == b.len && memcmp(committed, b.p, len) == 0);
		if (len != b.len || memcmp(committed, b.p, len) != 0)
			fprintf(stderr, "irisx.conf.example differs from config_dump_example()\n");
	}
	mem_free(committed);

	/* every setting uncommented loads back to the defaults */
	char *text = uncomment_example(b.p);
	char path[] = "/tmp/irisx-conf-XXXXXX";
	CHECK_EQ_INT(write_temp(path, text), 0);
	struct config cfg, def;
	char *err = NULL;
	CHECK_EQ_INT(config_load(&cfg, path, &err), 0);
	if (err)
		fprintf(stderr, "example does not load: %s\n", err);
	mem_free(err);
	err = NULL;
	CHECK_EQ_INT(config_load(&def, "/dev/null", &err), 0);
	CHECK_STR(cfg.http_listen, def.http_listen);
	CHECK_STR(cfg.database_url, def.database_url);
	CHECK_STR(cfg.data_dir, def.data_dir);
	CHECK_EQ_INT(cfg.refresh_ttl_s, def.refresh_ttl_s);
	CHECK_EQ_INT(cfg.rate_key_burst, def.rate_key_burst);
	CHECK_EQ_INT(cfg.trust_proxy, def.trust_proxy);
	config_free(&cfg);
	config_free(&def);
	unlink(path);
	mem_free(text);
	buf_free(&b);
}

/* ---- JSON bodies ---- */

static int parse(const char *s, json_t **ret)
{
	const char *err = NULL;
	json_t *v = NULL;
	int r = json_parse_body(s, strlen(s), &v, &err);
	if (r < 0)
		CHECK(err != NULL && *err != '\0');
	if (ret)
		*ret = r == 0 ? v : NULL;
	else if (r == 0)
		json_decref(v);
	return r;
}

/* depth arrays nested around leaf: "[[[leaf]]]". */
static char *nested(int depth, const char *leaf)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < depth; i++)
		buf_puts(&b, "[");
	buf_puts(&b, leaf);
	for (int i = 0; i < depth; i++)
		buf_puts(&b, "]");
	return buf_detach(&b);
}

static void test_json_parse(void)
{
	json_t *v;
	CHECK_EQ_INT(parse("{\"a\": 1, \"b\": [true, null, \"x\"]}", &v), 0);
	CHECK_EQ_INT(json_int(v, "a", -1), 1);
	CHECK_EQ_INT(json_int(v, "missing", -1), -1);
	CHECK(json_str(v, "a") == NULL);
	json_decref(v);
	CHECK_EQ_INT(parse("\"scalar\"", NULL), 0);
	CHECK_EQ_INT(parse(" 42 ", NULL), 0);
	CHECK_EQ_INT(parse("null", NULL), 0);
	CHECK_EQ_INT(parse("", NULL), -EINVAL);
	CHECK_EQ_INT(parse("   ", NULL), -EINVAL);
	CHECK_EQ_INT(parse("{", NULL), -EINVAL);
	CHECK_EQ_INT(parse("{\"a\":1,}", NULL), -EINVAL);
	CHECK_EQ_INT(parse("{'a':1}", NULL), -EINVAL);
	CHECK_EQ_INT(parse("{\"a\":1} {}", NULL), -EINVAL);
	CHECK_EQ_INT(parse("[NaN]", NULL), -EINVAL);
	CHECK_EQ_INT(parse("\"\xff\"", NULL), -EINVAL); /* not UTF-8 */

	/* raw NUL: never JSON, even where jansson would stop reading */
	const char raw_nul[] = "{\"a\":1}\0junk";
	const char *err = NULL;
	v = NULL;
	CHECK_EQ_INT(json_parse_body(raw_nul, sizeof(raw_nul) - 1, &v, &err), -EINVAL);
	CHECK_EQ_INT(json_parse_body("{}", 2, &v, &err), 0);
	json_decref(v);

	/* U+0000 escapes: fine in values, -ENOTSUP in keys (documented) */
	CHECK_EQ_INT(parse("{\"a\":\"x\\u0000y\"}", &v), 0);
	CHECK_EQ_INT(json_string_length(json_object_get(v, "a")), 3);
	json_decref(v);
	CHECK_EQ_INT(parse("{\"a\\u0000b\":1}", NULL), -ENOTSUP);

	/* depth cap: containers nested JSON_MAX_DEPTH deep pass, one more fails */
	char *s = nested(JSON_MAX_DEPTH - 1, "1");
	CHECK_EQ_INT(parse(s, NULL), 0);
	mem_free(s);
	s = nested(JSON_MAX_DEPTH, "");
	CHECK_EQ_INT(parse(s, NULL), 0);
	mem_free(s);
	s = nested(JSON_MAX_DEPTH + 1, "");
	CHECK_EQ_INT(parse(s, NULL), -EINVAL);
	mem_free(s);
	s = nested(JSON_MAX_DEPTH + 1, "1");
	CHECK_EQ_INT(parse(s, NULL), -EINVAL);
	mem_free(s);
	s = nested(100000, "1");
	CHECK_EQ_INT(parse(s, NULL), -EINVAL);
	mem_free(s);
}

static const struct json_field fields[] = {
    {"name", JF_STRING, true, 8}, {"note", JF_STRING, false, 0}, {"count", JF_INT, false, 0},
    {"on", JF_BOOL, false, 0},	  {"meta", JF_OBJECT, false, 0}, {"tags", JF_ARRAY, false, 0},
    {NULL, 0, false, 0},
};

/* Parses body and checks it against fields; returns the result and fills field/code. */
static int check_body(const char *body, const char **ret_field, const char **ret_code)
{
	json_t *v = NULL;
	*ret_field = *ret_code = NULL;
	if (parse(body, &v) < 0)
		return -999;
	int r = json_check(v, fields, ret_field, ret_code);
	static char field_copy[64]; /* field may point into v */
	if (*ret_field) {
		snprintf(field_copy, sizeof(field_copy), "%s", *ret_field);
		*ret_field = field_copy;
	}
	json_decref(v);
	return r;
}

static void check_body_err(const char *body, const char *field, const char *code)
{
	const char *f, *c;
	CHECK_EQ_INT(check_body(body, &f, &c), -EINVAL);
	CHECK_STR(c, code);
	if (field)
		CHECK_STR(f, field);
	else
		CHECK(f == NULL);
}

static void test_json_check(void)
{
	const char *f, *c;
	CHECK_EQ_INT(check_body("{\"name\":\"abc\"}", &f, &c), 0);
	CHECK_EQ_INT(check_body("{\"name\":\"12345678\",\"note\":null,\"count\":-3,\"on\":false,"
				"\"meta\":{\"x\":1},\"tags\":[1,\"a\"]}",
				&f, &c),
		     0);
	struct buf body;
	buf_init(&body, 0);
	buf_puts(&body, "{\"name\":\"a\",\"note\":\"");
	for (int i = 0; i < 1024; i++) /* default limit: 1024 bytes */
		buf_puts(&body, "n");
	buf_puts(&body, "\"}");
	CHECK_EQ_INT(check_body(body.p, &f, &c), 0);
	body.len -= 2;
	buf_puts(&body, "n\"}"); /* 1025 bytes */
	check_body_err(body.p, "note", "too_long");
	buf_free(&body);

	check_body_err("{}", "name", "missing_field");
	/* null for a required field is refused (code: see the report on json_check) */
	CHECK_EQ_INT(check_body("{\"name\":null}", &f, &c), -EINVAL);
	CHECK_STR(f, "name");
	check_body_err("{\"name\":\"a\",\"Name\":\"b\"}", "Name", "unknown_field");
	check_body_err("{\"name\":1}", "name", "invalid_type");
	check_body_err("{\"name\":\"a\",\"count\":1.5}", "count", "invalid_type");
	check_body_err("{\"name\":\"a\",\"count\":\"1\"}", "count", "invalid_type");
	check_body_err("{\"name\":\"a\",\"on\":1}", "on", "invalid_type");
	check_body_err("{\"name\":\"a\",\"meta\":[]}", "meta", "invalid_type");
	check_body_err("{\"name\":\"a\",\"tags\":{}}", "tags", "invalid_type");
	check_body_err("{\"name\":\"123456789\"}", "name", "too_long");
	check_body_err("{\"name\":\"a\\u0000b\"}", "name", "invalid_type"); /* embedded NUL */
	check_body_err("[]", NULL, "invalid_body");
	check_body_err("\"name\"", NULL, "invalid_body");
	check_body_err("null", NULL, "invalid_body");
	/* multi-byte: the limit counts bytes */
	check_body_err("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", "name",
		       "too_long");
	CHECK_EQ_INT(check_body("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &f, &c), 0);
}

/* Runs json_parse_body over every file of the JSONTestSuite (RELIABILITY B4). */
static void test_json_suite(void)
{
	DIR *d = opendir(JSON_SUITE);
	CHECK(d != NULL);
	if (!d) {
		fprintf(stderr, "JSONTestSuite corpus missing at %s (run from the repo root)\n",
			JSON_SUITE);
		return;
	}
	int y = 0, y_ok = 0, y_nul = 0, n = 0, n_ok = 0, i = 0, i_acc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		size_t nl = strlen(name);
		if (nl < 7 || strcmp(name + nl - 5, ".json") != 0 || name[1] != '_')
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", JSON_SUITE, name);
		size_t len = 0;
		char *data = slurp(path, &len);
		CHECK(data != NULL);
		if (!data)
			continue;
		json_t *v = NULL;
		const char *err = NULL;
		int r = json_parse_body(data, len, &v, &err);
		if (r == 0)
			json_decref(v);
		if (name[0] == 'y') {
			y++;
			if (r == 0 || r == -ENOTSUP)
				y_ok++;
			else
				fprintf(stderr, "JSONTestSuite: %s rejected (%d)\n", name, r);
			y_nul += r == -ENOTSUP;
		} else if (name[0] == 'n') {
			n++;
			if (r == -EINVAL)
				n_ok++;
			else
				fprintf(stderr, "JSONTestSuite: %s not rejected (%d)\n", name, r);
		} else if (name[0] == 'i') {
			i++;
			i_acc += r == 0;
		}
		mem_free(data);
	}
	closedir(d);
	printf("JSONTestSuite: y %d/%d accepted (%d with a U+0000 key: -ENOTSUP), n %d/%d "
	       "rejected, i %d run (%d accepted)\n",
	       y_ok, y, y_nul, n_ok, n, i, i_acc);
	CHECK_EQ_INT(y, 95);
	CHECK_EQ_INT(n, 188);
	CHECK_EQ_INT(y_ok, y);
	CHECK_EQ_INT(n_ok, n);
}

static void check_form_bad(const char *in, int want)
{
	json_t *o = NULL;
	int r = form_parse(in, strlen(in), &o);
	if (r != want)
		fprintf(stderr, "form_parse(\"%s\"): %d, expected %d\n", in, r, want);
	CHECK_EQ_INT(r, want);
	CHECK(o == NULL);
}

static void test_form(void)
{
	const char *in = "To=%2B15551230000&From=%2b1555&Url=https%3A%2F%2Fa.example%2Fx%3Fa%3D1"
			 "&Twiml=%3CSay%3Ehi+there%3C%2FSay%3E&StatusCallbackEvent=initiated"
			 "&StatusCallbackEvent=ringing&StatusCallbackEvent=answered&flag&e=&&"
			 "caf%C3%A9=%E2%82%AC";
	json_t *o;
	CHECK_EQ_INT(form_parse(in, strlen(in), &o), 0);
	CHECK_STR(json_str(o, "To"), "+15551230000");
	CHECK_STR(json_str(o, "From"), "+1555");
	CHECK_STR(json_str(o, "Url"), "https://a.example/x?a=1");
	CHECK_STR(json_str(o, "Twiml"), "<Say>hi there</Say>");
	json_t *ev = json_object_get(o, "StatusCallbackEvent");
	CHECK(json_is_array(ev) && json_array_size(ev) == 3);
	CHECK_STR(json_string_value(json_array_get(ev, 2)), "answered");
	CHECK_STR(json_str(o, "flag"), "");
	CHECK_STR(json_str(o, "e"), "");
	CHECK_STR(json_str(o, "caf\xc3\xa9"), "\xe2\x82\xac");
	CHECK_EQ_INT((int)json_object_size(o), 8);
	json_decref(o);
	CHECK_EQ_INT(form_parse("", 0, &o), 0);
	CHECK_EQ_INT((int)json_object_size(o), 0);
	json_decref(o);
	/* "=" in a value is kept; only the first one splits */
	CHECK_EQ_INT(form_parse("a=b=c", 5, &o), 0);
	CHECK_STR(json_str(o, "a"), "b=c");
	json_decref(o);

	check_form_bad("a=%", -EINVAL);
	check_form_bad("a=%4", -EINVAL);
	check_form_bad("a=%zz", -EINVAL);
	check_form_bad("a=%00", -EINVAL);
	check_form_bad("%00=1", -EINVAL);
	check_form_bad("a=%ff", -EINVAL); /* not UTF-8 */
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i <= FORM_MAX_FIELDS; i++)
		buf_printf(&b, "k=%d&", i);
	json_t *big = NULL;
	CHECK_EQ_INT(form_parse(b.p, b.len, &big), -E2BIG);
	CHECK(big == NULL);
	buf_free(&b);
}

/* json_serialize: the same text as json_dumps, below and above its first 1 KiB buffer */
static void test_json_serialize(void)
{
	for (size_t n = 0; n < 3000; n += 97) {
		json_t *o = json_object();
		char *s = malloc(n + 1);
		memset(s, 'x', n);
		s[n] = '\0';
		json_object_set_new(o, "k\u00e9y\"", json_string(s));
		json_object_set_new(o, "n", json_integer((json_int_t)n));
		json_object_set_new(o, "p", json_real(0.0045));
		char *want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		size_t len = 0;
		char *got = json_serialize(o, JSON_COMPACT | JSON_PRESERVE_ORDER, &len);
		CHECK(got && want && !strcmp(got, want));
		CHECK_EQ_INT(len, strlen(want));
		free(got);
		free(want);
		free(s);
		json_decref(o);
	}
	char *t = json_serialize(json_null(), JSON_ENCODE_ANY, NULL);
	CHECK_STR(t, "null");
	free(t);
}

int main(void)
{
	test_clear_irisx_env();
	test_json_serialize();
	test_mem();
	test_time();
	test_ids();
	test_encodings();
	test_form();
	test_crypto();
	test_buf();
	test_redact();
	test_config_defaults();
	test_config_file_env();
	test_config_errors();
	test_config_example();
	test_json_parse();
	test_json_check();
	test_json_suite();
	return test_done("core");
}
