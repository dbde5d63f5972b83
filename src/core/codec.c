/* codec.c: hex and base64 (standard and url-safe) encoding and strict decoding; form bodies. */
#include <ctype.h>
#include <string.h>

#include "core.h"

void hex_encode(const void *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *p = in;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

char *b64_encode(const void *in, size_t n, bool url)
{
	const char *tab = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			      : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	char *out = mem_alloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		if (i + 1 < n)
			*o++ = tab[(v >> 6) & 63];
		else if (!url)
			*o++ = '=';
		if (!url)
			*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int b64_decode(const char *in, size_t n, unsigned char **ret, size_t *ret_len)
{
	size_t pad = 0;
	while (n > 0 && in[n - 1] == '=') {
		n--;
		pad++;
	}
	/* padding is optional, but when present it must complete the last quantum */
	if (n % 4 == 1 || pad > 2 || (pad && (n + pad) % 4 != 0))
		return -EINVAL;
	unsigned char *out = mem_alloc(n / 4 * 3 + 3), *o = out;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(in[i]);
		if (v < 0) {
			mem_free(out);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (unsigned char)(acc >> bits);
		}
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) { /* non-canonical trailing bits */
		mem_free(out);
		return -EINVAL;
	}
	*o = '\0';
	*ret_len = (size_t)(o - out);
	*ret = out;
	return 0;
}

/* ---- application/x-www-form-urlencoded ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) into a new JSON string, or NULL on a bad escape, a NUL or bad UTF-8. */
static json_t *form_string(const char *s, size_t n)
{
	char *out = mem_alloc(n + 1);
	size_t o = 0;
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			ok = lo >= 0;
			c = ok ? (char)(hi << 4 | lo) : '\0';
			i += 2;
		}
		ok = ok && c != '\0';
		out[o++] = c;
	}
	json_t *v = ok ? json_stringn(out, o) : NULL; /* NULL for bad UTF-8 too */
	mem_free(out);
	return v;
}

static void form_add(json_t *o, const char *key, json_t *v)
{
	json_t *old = json_object_get(o, key);
	if (!old) {
		json_object_set_new(o, key, v);
	} else if (json_is_array(old)) {
		json_array_append_new(old, v);
	} else {
		json_t *a = json_pack("[O]", old);
		json_array_append_new(a, v);
		json_object_set_new(o, key, a);
	}
}

int form_parse(const char *body, size_t len, json_t **ret)
{
	json_t *o = json_object();
	size_t fields = 0;
	for (size_t i = 0; i < len;) {
		const char *amp = memchr(body + i, '&', len - i);
		size_t end = amp ? (size_t)(amp - body) : len;
		const char *eq = memchr(body + i, '=', end - i);
		size_t kend = eq ? (size_t)(eq - body) : end;
		if (end > i) { /* "a=1&&b=2": an empty pair is nothing */
			json_t *k = form_string(body + i, kend - i);
			json_t *v = eq ? form_string(eq + 1, end - kend - 1) : json_string("");
			int r = !k || !v ? -EINVAL : ++fields > FORM_MAX_FIELDS ? -E2BIG : 0;
			if (r == 0)
				form_add(o, json_string_value(k), json_incref(v));
			json_decref(k);
			json_decref(v);
			if (r < 0) {
				json_decref(o);
				return r;
			}
		}
		i = end + 1;
	}
	*ret = o;
	return 0;
}

bool e164_valid(const char *s)
{
	if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	size_t n = strlen(s + 1);
	if (n < 8 || n > 15)
		return false;
	for (size_t i = 1; i <= n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}
