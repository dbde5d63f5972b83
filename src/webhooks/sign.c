/* sign.c: webhook signatures (Standard Webhooks v1, X-Twilio-Signature), form bodies and
   the Retry-After header. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "client.h"

#define WHSEC_PREFIX "whsec_"
#define WHSEC_KEY_MAX 256 /* decoded key bytes accepted from a secret */
#define SIG_B64_LEN 44	  /* base64 of a 32-byte HMAC-SHA256 */
#define RETRY_AFTER_MAX 86400

/* ---- Standard Webhooks ---- */

void whsig_secret_new(char out[WHSEC_MAX])
{
	unsigned char key[24];
	rand_bytes(key, sizeof(key));
	char *b = b64_encode(key, sizeof(key), false);
	snprintf(out, WHSEC_MAX, WHSEC_PREFIX "%s", b);
	mem_free(b);
}

/* Decodes the key of a whsec_ secret; -EINVAL if malformed. */
static int secret_key(const char *secret, unsigned char **ret, size_t *ret_len)
{
	size_t plen = strlen(WHSEC_PREFIX);
	if (!secret || strncmp(secret, WHSEC_PREFIX, plen) != 0)
		return -EINVAL;
	size_t n = strnlen(secret + plen, WHSEC_KEY_MAX * 2);
	unsigned char *key;
	size_t klen;
	if (n == 0 || n >= WHSEC_KEY_MAX * 2 || b64_decode(secret + plen, n, &key, &klen) < 0)
		return -EINVAL;
	if (klen == 0) {
		mem_free(key);
		return -EINVAL;
	}
	*ret = key;
	*ret_len = klen;
	return 0;
}

/* base64(HMAC-SHA256(key, id "." ts "." body)) into out (SIG_B64_LEN + 1 bytes). */
static int sig_b64(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
		   char out[SIG_B64_LEN + 1])
{
	unsigned char *key, mac[32];
	size_t klen;
	int r = secret_key(secret, &key, &klen);
	if (r < 0)
		return r;
	struct buf content;
	buf_init(&content, 0);
	buf_printf(&content, "%s.%" PRId64 ".", msg_id ? msg_id : "", ts);
	buf_append(&content, body, body ? len : 0);
	hmac_sha256(key, klen, content.p, content.len, mac);
	buf_free(&content);
	mem_free(key);
	char *b = b64_encode(mac, sizeof(mac), false);
	memcpy(out, b, SIG_B64_LEN + 1);
	mem_free(b);
	return 0;
}

int whsig_sign(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
	       struct buf *out)
{
	char sig[SIG_B64_LEN + 1];
	int r = sig_b64(secret, msg_id, ts, body, len, sig);
	if (r < 0)
		return r;
	r = buf_puts(out, "v1,");
	return r < 0 ? r : buf_puts(out, sig);
}

int whsig_verify(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
		 const char *header)
{
	char want[SIG_B64_LEN + 1];
	int r = sig_b64(secret, msg_id, ts, body, len, want);
	if (r < 0)
		return r;
	bool ok = false;
	const char *p = header ? header : "";
	while (*p) {
		size_t n = strcspn(p, " ");
		/* each entry is "<version>,<sig>"; only v1 is known, others are skipped */
		if (n == 3 + SIG_B64_LEN && memcmp(p, "v1,", 3) == 0)
			ok |= ct_equal(p + 3, want, SIG_B64_LEN);
		p += n;
		while (*p == ' ')
			p++;
	}
	return ok ? 0 : -EPERM;
}

/* ---- X-Twilio-Signature ---- */

/* Next UTF-16 code unit of a UTF-8 string, so that sorting matches JavaScript's default
   sort (the twilio SDK's Object.keys().sort()); invalid bytes stand for themselves. */
static uint32_t utf16_next(const unsigned char **s, uint32_t *low)
{
	if (*low) {
		uint32_t u = *low;
		*low = 0;
		return u;
	}
	const unsigned char *p = *s;
	uint32_t cp = p[0];
	int extra = cp >= 0xf0 && cp < 0xf5 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc2 ? 1 : 0;
	if (cp >= 0xf5)
		extra = 0;
	if (extra) {
		uint32_t v = cp & (0x3fu >> extra);
		for (int i = 1; i <= extra; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				extra = 0;
				break;
			}
			v = v << 6 | (p[i] & 0x3fu);
		}
		if (extra)
			cp = v;
	}
	*s = p + 1 + extra;
	if (cp >= 0x10000) {
		*low = 0xdc00 + ((cp - 0x10000) & 0x3ff);
		return 0xd800 + ((cp - 0x10000) >> 10);
	}
	return cp;
}

static int utf16_cmp(const char *a, const char *b)
{
	const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
	uint32_t la = 0, lb = 0;
	for (;;) {
		bool ea = !*pa && !la, eb = !*pb && !lb;
		if (ea || eb)
			return ea && eb ? 0 : ea ? -1 : 1;
		uint32_t ua = utf16_next(&pa, &la), ub = utf16_next(&pb, &lb);
		if (ua != ub)
			return ua < ub ? -1 : 1;
	}
}

static int kv_cmp(const void *x, const void *y)
{
	const struct kv *a = *(const struct kv *const *)x, *b = *(const struct kv *const *)y;
	int c = utf16_cmp(a->k, b->k);
	return c ? c : utf16_cmp(a->v ? a->v : "", b->v ? b->v : "");
}

void twsig_sign(const char *auth_token, const char *url, const struct kv *p, size_t n, char out[32])
{
	const struct kv **sorted = mem_alloc((n ? n : 1) * sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &p[i];
	qsort(sorted, n, sizeof(*sorted), kv_cmp);
	struct buf data;
	buf_init(&data, 0);
	buf_puts(&data, url);
	for (size_t i = 0; i < n; i++) {
		/* a repeated key is an array: the SDK signs its distinct values, sorted */
		if (i > 0 && kv_cmp(&sorted[i - 1], &sorted[i]) == 0)
			continue;
		buf_puts(&data, sorted[i]->k);
		buf_puts(&data, sorted[i]->v ? sorted[i]->v : "");
	}
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mlen = 0;
	const char *tok = auth_token ? auth_token : "";
	HMAC(EVP_sha1(), tok, (int)strlen(tok), (const unsigned char *)data.p, data.len, mac,
	     &mlen);
	char *b = b64_encode(mac, mlen, false);
	snprintf(out, 32, "%s", b);
	mem_free(b);
	buf_free(&data);
	mem_free(sorted);
}

/* ---- form bodies ---- */

static void form_put(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
		bool keep = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			    (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' ||
			    *c == '~';
		if (keep) {
			buf_append(out, c, 1);
		} else {
			char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
			buf_append(out, e, 3);
		}
	}
}

void form_encode(const struct kv *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append(out, "&", 1);
		form_put(out, p[i].k);
		buf_append(out, "=", 1);
		form_put(out, p[i].v);
	}
}

/* ---- Retry-After (RFC 9110 10.2.3) ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* A tiny cursor over the date string. */
struct cur {
	const char *p;
	bool bad;
};

static void lit(struct cur *c, const char *s)
{
	size_t n = strlen(s);
	if (c->bad || strncmp(c->p, s, n) != 0)
		c->bad = true;
	else
		c->p += n;
}

/* Reads between min and max digits. */
static int num(struct cur *c, int min, int max)
{
	int v = 0, n = 0;
	while (!c->bad && n < max && c->p[0] >= '0' && c->p[0] <= '9') {
		v = v * 10 + (c->p[0] - '0');
		c->p++;
		n++;
	}
	if (n < min)
		c->bad = true;
	return v;
}

/* Reads one of names (case-sensitive, as the grammar says); returns its index. */
static int word(struct cur *c, const char *const *names, int count)
{
	for (int i = 0; !c->bad && i < count; i++) {
		size_t n = strlen(names[i]);
		if (strncmp(c->p, names[i], n) == 0) {
			c->p += n;
			return i;
		}
	}
	c->bad = true;
	return 0;
}

static const char *const wkday[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const weekday[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
				      "Friday", "Saturday", "Sunday"};
static const char *const month[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct hdate {
	int64_t year;
	int mon, day, h, m, s;
};

static void hms(struct cur *c, struct hdate *d)
{
	d->h = num(c, 2, 2);
	lit(c, ":");
	d->m = num(c, 2, 2);
	lit(c, ":");
	d->s = num(c, 2, 2);
}

/* Parses the three HTTP-date forms into *d; -EINVAL if none matches. */
static int hdate_parse(const char *s, int64_t now_s, struct hdate *d)
{
	struct cur c = {s, false};
	if (strchr(s, ',') && strchr(s, '-')) { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		word(&c, weekday, 7);
		lit(&c, ", ");
		d->day = num(&c, 1, 2);
		lit(&c, "-");
		d->mon = word(&c, month, 12) + 1;
		lit(&c, "-");
		int yy = num(&c, 2, 2);
		lit(&c, " ");
		hms(&c, d);
		lit(&c, " GMT");
		/* a two-digit year more than 50 years ahead is in the past century */
		time_t now = (time_t)now_s;
		struct tm tm;
		int64_t cur_year = gmtime_r(&now, &tm) ? tm.tm_year + 1900 : 1970;
		d->year = cur_year - cur_year % 100 + yy;
		if (d->year > cur_year + 50)
			d->year -= 100;
	} else if (strchr(s, ',')) { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		word(&c, wkday, 7);
		lit(&c, ", ");
		d->day = num(&c, 1, 2);
		lit(&c, " ");
		d->mon = word(&c, month, 12) + 1;
		lit(&c, " ");
		d->year = num(&c, 4, 4);
		lit(&c, " ");
		hms(&c, d);
		lit(&c, " GMT");
	} else { /* asctime: Sun Nov  6 08:49:37 1994 */
		word(&c, wkday, 7);
		lit(&c, " ");
		d->mon = word(&c, month, 12) + 1;
		lit(&c, " ");
		if (!c.bad && c.p[0] == ' ')
			c.p++;
		d->day = num(&c, 1, 2);
		lit(&c, " ");
		hms(&c, d);
		lit(&c, " ");
		d->year = num(&c, 4, 4);
	}
	if (c.bad || *c.p || d->day < 1 || d->day > month_days(d->year, d->mon) || d->h > 23 ||
	    d->m > 59 || d->s > 60)
		return -EINVAL;
	return 0;
}

int64_t retry_after_parse(const char *v, int64_t now_s)
{
	if (!v)
		return -EINVAL;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n > 0 &&
	       (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n == 0 || n > 64)
		return -EINVAL;
	char s[65];
	memcpy(s, v, n);
	s[n] = '\0';
	if (strspn(s, "0123456789") == n) {
		int64_t secs = 0;
		for (size_t i = 0; i < n && secs <= RETRY_AFTER_MAX; i++)
			secs = secs * 10 + (s[i] - '0');
		return secs > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : secs;
	}
	struct hdate d;
	if (hdate_parse(s, now_s, &d) < 0)
		return -EINVAL;
	int64_t at = days_from_civil(d.year, d.mon, d.day) * 86400 + d.h * 3600 + d.m * 60 + d.s;
	if (now_s >= at) /* a date in the past means now */
		return 0;
	if (now_s <= at - RETRY_AFTER_MAX) /* compared this way, at - now_s cannot overflow */
		return RETRY_AFTER_MAX;
	return at - now_s;
}
