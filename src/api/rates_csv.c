/* rates_csv.c: the carriers' rate-deck parser: `prefix,cost_per_min[,min_s,incr_s]` lines
   (a header line skipped), costs as exact decimals into micros, errors naming the line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

#define RATES_MAX_BYTES ((size_t)4 << 20)
#define RATES_MAX_ROWS 200000
#define LINE_MAX_BYTES 256
#define PREFIX_MAX 15

/* s[0..n) trimmed of blanks and one pair of double quotes. */
static void trim(const char **s, size_t *n)
{
	while (*n && isblank((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n && isblank((unsigned char)(*s)[*n - 1]))
		(*n)--;
	if (*n >= 2 && (*s)[0] == '"' && (*s)[*n - 1] == '"')
		(*s)++, *n -= 2;
}

static bool digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "0.0123" -> 12300 micros; at most 6 decimals, at most 1000 per minute. */
static int cost_micros(const char *s, size_t n, int64_t *ret)
{
	size_t dot = 0;
	while (dot < n && s[dot] != '.')
		dot++;
	size_t frac = dot < n ? n - dot - 1 : 0;
	if ((dot == 0 && frac == 0) || dot > 4 || frac > 6 || (dot && !digits(s, dot)) ||
	    (frac && !digits(s + dot + 1, frac)) || (dot < n && frac == 0))
		return -EINVAL;
	int64_t v = 0;
	for (size_t i = 0; i < dot; i++)
		v = v * 10 + (s[i] - '0');
	int64_t f = 0;
	for (size_t i = 0; i < 6; i++)
		f = f * 10 + (i < frac ? s[dot + 1 + i] - '0' : 0);
	v = v * 1000000 + f;
	if (v > 1000 * 1000000ll)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int small_int(const char *s, size_t n, int lo, int hi, int *ret)
{
	if (!digits(s, n) || n > 5)
		return -EINVAL;
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	if (v < lo || v > hi)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* One line's fields (at most 4) -> a rate row; *ret_msg says what is wrong. */
static int parse_line(const char *p, size_t len, json_t **ret, const char **ret_msg)
{
	const char *f[5];
	size_t fl[5], nf = 0;
	for (size_t i = 0, start = 0; i <= len; i++) {
		if (i < len && p[i] != ',')
			continue;
		if (nf == 5)
			break;
		f[nf] = p + start;
		fl[nf] = i - start;
		trim(&f[nf], &fl[nf]);
		nf++;
		start = i + 1;
	}
	if (nf != 2 && nf != 4)
		return *ret_msg = "expected prefix,cost_per_min[,min_s,incr_s]", -EINVAL;
	const char *pre = f[0];
	size_t pl = fl[0];
	if (pl && pre[0] == '+')
		pre++, pl--;
	if (!digits(pre, pl) || pl > PREFIX_MAX)
		return *ret_msg = "prefix is 1 to 15 digits (an optional leading +)", -EINVAL;
	int64_t cost;
	if (cost_micros(f[1], fl[1], &cost) < 0)
		return *ret_msg = "cost_per_min is a decimal 0 to 1000 (at most 6 decimals)",
		       -EINVAL;
	int min_s = 60, incr_s = 60;
	if (nf == 4 && small_int(f[2], fl[2], 0, 3600, &min_s) < 0)
		return *ret_msg = "min_s is 0 to 3600 seconds", -EINVAL;
	if (nf == 4 && small_int(f[3], fl[3], 1, 3600, &incr_s) < 0)
		return *ret_msg = "incr_s is 1 to 3600 seconds", -EINVAL;
	*ret = json_pack("{s:s%,s:I,s:i,s:i}", "prefix", pre, pl, "cost_micros", (json_int_t)cost,
			 "min_s", min_s, "incr_s", incr_s);
	return 0;
}

int api_rates_csv_parse(const char *s, size_t n, bool header, const char *what, json_t **ret,
			char err[160])
{
	if (n > RATES_MAX_BYTES) {
		snprintf(err, 160, "the rate deck is larger than 4 MiB");
		return -E2BIG;
	}
	json_t *out = json_array();
	int line = 0;
	bool first = true;
	for (size_t i = 0; i < n;) {
		const char *p = s + i;
		const char *e = memchr(p, '\n', n - i);
		size_t len = e ? (size_t)(e - p) : n - i;
		i += len + 1;
		line++;
		if (len && p[len - 1] == '\r')
			len--;
		const char *t = p;
		size_t tl = len;
		trim(&t, &tl);
		if (tl == 0 || t[0] == '#')
			continue;
		const char *msg = NULL;
		json_t *row = NULL;
		if (len > LINE_MAX_BYTES || memchr(p, '\0', len))
			msg = "line too long or not text";
		else if (json_array_size(out) >= RATES_MAX_ROWS)
			msg = "more than 200000 rates";
		else if (parse_line(p, len, &row, &msg) == 0)
			json_array_append_new(out, row);
		bool was_first = first;
		first = false;
		size_t w = t[0] == '"'; /* the first character of a word, after a quote */
		if (!msg || (header && was_first && tl > w && isalpha((unsigned char)t[w])))
			continue; /* the header: a first line that starts with a word */
		snprintf(err, 160, "%s %d: %s", what, line, msg);
		json_decref(out);
		return -EINVAL;
	}
	*ret = out;
	return 0;
}
