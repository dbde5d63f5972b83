/* apikey.c: API keys (irx_<kind>_<random>_<crc>) and opaque random tokens, plus their hashes. */
#include <string.h>

#include "core/core.h"
#include "auth.h"

#define APIKEY_RAND_BYTES 32
#define APIKEY_RAND_CHARS 43 /* 62^43 > 2^256 */
#define APIKEY_CRC_CHARS 6   /* 62^6 > 2^32 */
#define APIKEY_KIND_MAX 8
#define APIKEY_SHOWN_CHARS 7 /* of the random part, in the display prefix */

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), bitwise: keys are short. */
static uint32_t crc32_ieee(const void *in, size_t n)
{
	const unsigned char *p = in;
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* Writes the big-endian number in[0..n) as exactly width base62 digits (no NUL).
   in is consumed (divided down to the overflow, which fixed widths above make zero). */
static void b62_fixed(unsigned char *in, size_t n, char *out, size_t width)
{
	for (size_t w = width; w-- > 0;) {
		unsigned rem = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned cur = rem * 256 + in[i];
			in[i] = (unsigned char)(cur / 62);
			rem = cur % 62;
		}
		out[w] = b62[rem];
	}
}

static void crc_chars(const char *s, size_t n, char out[APIKEY_CRC_CHARS])
{
	uint32_t crc = crc32_ieee(s, n);
	unsigned char be[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
			       (unsigned char)(crc >> 8), (unsigned char)crc};

	b62_fixed(be, sizeof(be), out, APIKEY_CRC_CHARS);
}

static bool is_b62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Length of the [a-z]{1,8} kind at s, or 0 if there is none. */
static size_t kind_len(const char *s)
{
	size_t n = 0;

	while (n <= APIKEY_KIND_MAX && s[n] >= 'a' && s[n] <= 'z')
		n++;
	return n <= APIKEY_KIND_MAX ? n : 0;
}

int apikey_new(const char *kind, char out[APIKEY_MAX_LEN], char prefix[APIKEY_PREFIX_LEN + 1])
{
	unsigned char rnd[APIKEY_RAND_BYTES];
	size_t kn, n, pn;

	if (!kind || !out || !prefix)
		return -EINVAL;
	kn = kind_len(kind);
	if (kn == 0 || kind[kn] != '\0')
		return -EINVAL;
	n = 0;
	memcpy(out, "irx_", 4);
	n += 4;
	memcpy(out + n, kind, kn);
	n += kn;
	out[n++] = '_';
	rand_bytes(rnd, sizeof(rnd));
	b62_fixed(rnd, sizeof(rnd), out + n, APIKEY_RAND_CHARS);
	n += APIKEY_RAND_CHARS;
	pn = n - APIKEY_RAND_CHARS + APIKEY_SHOWN_CHARS;
	if (pn > APIKEY_PREFIX_LEN)
		pn = APIKEY_PREFIX_LEN;
	crc_chars(out, n, out + n + 1);
	out[n++] = '_';
	n += APIKEY_CRC_CHARS;
	out[n] = '\0';
	memcpy(prefix, out, pn);
	prefix[pn] = '\0';
	return 0;
}

bool apikey_well_formed(const char *s)
{
	char want[APIKEY_CRC_CHARS];
	size_t kn, n, len;

	if (!s || strncmp(s, "irx_", 4) != 0)
		return false;
	kn = kind_len(s + 4);
	if (kn == 0)
		return false;
	n = 4 + kn;
	len = strnlen(s, APIKEY_MAX_LEN);
	if (len != n + 1 + APIKEY_RAND_CHARS + 1 + APIKEY_CRC_CHARS || s[n] != '_' ||
	    s[n + 1 + APIKEY_RAND_CHARS] != '_')
		return false;
	for (size_t i = 0; i < APIKEY_RAND_CHARS; i++) {
		if (!is_b62(s[n + 1 + i]))
			return false;
	}
	n += 1 + APIKEY_RAND_CHARS;
	crc_chars(s, n, want);
	return memcmp(want, s + n + 1, APIKEY_CRC_CHARS) == 0;
}

void apikey_hash(const char *key, char out[65])
{
	sha256_hex(key, strlen(key), out);
}

void token_new(char out[TOKEN_LEN])
{
	unsigned char rnd[32];
	char *s;

	rand_bytes(rnd, sizeof(rnd));
	s = b64_encode(rnd, sizeof(rnd), true);
	memcpy(out, s, TOKEN_LEN - 1);
	out[TOKEN_LEN - 1] = '\0';
	mem_free(s);
}

void token_hash(const char *tok, char out[65])
{
	sha256_hex(tok, strlen(tok), out);
}
