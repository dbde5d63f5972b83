/* sms.c: SMS text handling: GSM 03.38 or UCS-2 and segment counts, splitting with a
   concatenation UDH, decoding received parts, and reassembling concatenated messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sms.h"

#define GSM_ESC 0x1b
#define GSM_SINGLE 160 /* septets in a message of one part */
#define GSM_PART 153   /* septets per part after the 6-octet UDH (7 septets with fill) */
#define UCS2_SINGLE 70
#define UCS2_PART 67
#define UDH_CONCAT_LEN 6 /* 05 00 03 ref total seq */
#define DECODE_MAX 65536 /* a short_message or message_payload is never longer */
#define REPLACEMENT 0xfffd
#define NONE 0xffff /* no character: the escape slot of the default table */

/* GSM 03.38 default alphabet: septet -> Unicode. */
static const uint16_t gsm_basic[128] = {
    0x0040, 0x00a3, 0x0024, 0x00a5, 0x00e8, 0x00e9, 0x00f9, 0x00ec, /* @ £ $ ¥ è é ù ì */
    0x00f2, 0x00c7, 0x000a, 0x00d8, 0x00f8, 0x000d, 0x00c5, 0x00e5, /* ò Ç LF Ø ø CR Å å */
    0x0394, 0x005f, 0x03a6, 0x0393, 0x039b, 0x03a9, 0x03a0, 0x03a8, /* Δ _ Φ Γ Λ Ω Π Ψ */
    0x03a3, 0x0398, 0x039e, NONE,   0x00c6, 0x00e6, 0x00df, 0x00c9, /* Σ Θ Ξ ESC Æ æ ß É */
    ' ',    '!',    '"',    '#',    0x00a4, '%',    '&',    '\'',   /* ¤ where ASCII has $ */
    '(',    ')',    '*',    '+',    ',',    '-',    '.',    '/',    '0',    '1',    '2',
    '3',    '4',    '5',    '6',    '7',    '8',    '9',    ':',    ';',    '<',    '=',
    '>',    '?',    0x00a1, 'A',    'B',    'C',    'D',    'E',    'F',    'G',    'H',
    'I',    'J',    'K',    'L',    'M',    'N',    'O',    'P',    'Q',    'R',    'S',
    'T',    'U',    'V',    'W',    'X',    'Y',    'Z',    0x00c4, 0x00d6, 0x00d1, 0x00dc,
    0x00a7, 0x00bf, 'a',    'b',    'c',    'd',    'e',    'f',    'g',    'h',    'i',
    'j',    'k',    'l',    'm',    'n',    'o',    'p',    'q',    'r',    's',    't',
    'u',    'v',    'w',    'x',    'y',    'z',    0x00e4, 0x00f6, 0x00f1, 0x00fc, 0x00e0,
};

/* The extension table, reached by ESC: each character costs two septets. */
static const struct {
	uint8_t septet;
	uint16_t cp;
} gsm_ext[] = {
    {0x0a, 0x000c}, /* form feed */
    {0x14, '^'},    {0x28, '{'}, {0x29, '}'}, {0x2f, '\\'},   {0x3c, '['},
    {0x3d, '~'},    {0x3e, ']'}, {0x40, '|'}, {0x65, 0x20ac}, /* € */
};
#define GSM_EXT_N (sizeof(gsm_ext) / sizeof(gsm_ext[0]))

/* The septets of cp in out (1, or 2 with ESC); 0 if cp is not in GSM 03.38. */
static int gsm_encode(uint32_t cp, uint8_t out[2])
{
	for (int s = 0; s < 128; s++) {
		if (gsm_basic[s] == cp && cp != NONE) {
			out[0] = (uint8_t)s;
			return 1;
		}
	}
	for (size_t i = 0; i < GSM_EXT_N; i++) {
		if (gsm_ext[i].cp == cp) {
			out[0] = GSM_ESC;
			out[1] = gsm_ext[i].septet;
			return 2;
		}
	}
	return 0;
}

static uint32_t gsm_ext_decode(uint8_t septet)
{
	for (size_t i = 0; i < GSM_EXT_N; i++)
		if (gsm_ext[i].septet == septet)
			return gsm_ext[i].cp;
	/* 3GPP 23.038: an unknown extension shows the default table's character (and the
	   reserved ESC ESC a space) */
	if (septet > 0x7f)
		return REPLACEMENT;
	return septet == GSM_ESC ? ' ' : gsm_basic[septet];
}

/* The next code point of s (at *i, advanced); -1 unless strict UTF-8 (no overlong forms,
   surrogates, values past U+10FFFF or NUL). */
static int32_t utf8_next(const uint8_t *s, size_t n, size_t *i)
{
	uint8_t c = s[*i];
	int more;
	uint32_t cp, min;
	if (c == 0)
		return -1;
	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		more = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		more = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		more = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (n - *i <= (size_t)more)
		return -1;
	for (int k = 1; k <= more; k++) {
		uint8_t d = s[*i + (size_t)k];
		if ((d & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (d & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += (size_t)more + 1;
	return (int32_t)cp;
}

/* Writes cp as UTF-8 at out; returns the bytes written (1-4). */
static size_t utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Units cp takes in coding: septets, or UTF-16 code units; 0 if GSM-7 cannot carry it. */
static int width(uint32_t cp, enum sms_coding coding)
{
	uint8_t tmp[2];
	if (coding == SMS_GSM7)
		return gsm_encode(cp, tmp);
	return cp > 0xffff ? 2 : 1;
}

/* Parts needed for a text that does not fit one part: greedy filling that never splits a
   character, so an escape or a surrogate pair at a boundary opens the next part early. */
static int count_parts(const uint8_t *s, size_t n, enum sms_coding coding)
{
	int cap = coding == SMS_GSM7 ? GSM_PART : UCS2_PART, parts = 1, used = 0;
	size_t i = 0;
	while (i < n) {
		int w = width((uint32_t)utf8_next(s, n, &i), coding);
		if (used + w > cap) {
			parts++;
			used = 0;
		}
		used += w;
	}
	return parts;
}

int sms_plan(const char *utf8, size_t len, struct sms_plan *ret)
{
	const uint8_t *s = (const uint8_t *)utf8;
	int chars = 0, gsm_units = 0, ucs2_units = 0;
	bool gsm = true;
	if (!s && len)
		return -EINVAL;
	if (len > (size_t)SMS_BODY_MAX * 4)
		return -E2BIG;
	for (size_t i = 0; i < len;) {
		int32_t cp = utf8_next(s, len, &i);
		if (cp < 0)
			return -EINVAL;
		if (++chars > SMS_BODY_MAX)
			return -E2BIG;
		int w = width((uint32_t)cp, SMS_GSM7);
		gsm = gsm && w > 0;
		gsm_units += w;
		ucs2_units += cp > 0xffff ? 2 : 1;
	}
	struct sms_plan p = {.coding = gsm ? SMS_GSM7 : SMS_UCS2, .chars = chars};
	p.units = gsm ? gsm_units : ucs2_units;
	p.segments = 1;
	if (p.units > (gsm ? GSM_SINGLE : UCS2_SINGLE))
		p.segments = count_parts(s, len, p.coding);
	if (p.segments > SMS_SEGMENTS_MAX)
		return -E2BIG;
	*ret = p;
	return 0;
}

/* Appends cp to seg in coding (the caller has checked that it fits). */
static void seg_put(struct sms_segment *seg, uint32_t cp, enum sms_coding coding)
{
	uint8_t *d = seg->data + seg->len;
	if (coding == SMS_GSM7) {
		seg->len += (size_t)gsm_encode(cp, d);
		return;
	}
	if (cp > 0xffff) {
		uint32_t v = cp - 0x10000, hi = 0xd800 | v >> 10, lo = 0xdc00 | (v & 0x3ff);
		d[0] = (uint8_t)(hi >> 8), d[1] = (uint8_t)hi;
		d[2] = (uint8_t)(lo >> 8), d[3] = (uint8_t)lo;
		seg->len += 4;
		return;
	}
	d[0] = (uint8_t)(cp >> 8), d[1] = (uint8_t)cp;
	seg->len += 2;
}

static void seg_start(struct sms_segment *seg, uint8_t ref, int total, int seq)
{
	const uint8_t udh[UDH_CONCAT_LEN] = {5, 0, 3, ref, (uint8_t)total, (uint8_t)seq};
	memcpy(seg->data, udh, sizeof(udh));
	seg->len = sizeof(udh);
	seg->udhi = true;
}

int sms_split(const char *utf8, size_t len, const struct sms_plan *plan, uint8_t ref,
	      struct sms_segment **ret, size_t *ret_n)
{
	const uint8_t *s = (const uint8_t *)utf8;
	struct sms_plan check;
	int r = sms_plan(utf8, len, &check);
	if (r < 0)
		return r;
	if (plan->coding != SMS_GSM7 && plan->coding != SMS_UCS2)
		return -EINVAL;
	if (plan->coding == SMS_GSM7 && check.coding != SMS_GSM7)
		return -EINVAL; /* a character GSM-7 cannot carry; UCS-2 may be forced, not GSM */
	enum sms_coding coding = plan->coding;
	int units = coding == check.coding ? check.units : 0;
	if (coding != check.coding)
		for (size_t i = 0; i < len;)
			units += width((uint32_t)utf8_next(s, len, &i), coding);
	int total = 1;
	if (units > (coding == SMS_GSM7 ? GSM_SINGLE : UCS2_SINGLE))
		total = count_parts(s, len, coding);
	if (total > SMS_SEGMENTS_MAX)
		return -E2BIG;
	struct sms_segment *segs = mem_zalloc((size_t)total * sizeof(*segs));
	int cap = coding == SMS_GSM7 ? GSM_PART : UCS2_PART, part = 0, used = 0;
	if (total > 1)
		seg_start(&segs[0], ref, total, 1);
	for (size_t i = 0; i < len;) {
		uint32_t cp = (uint32_t)utf8_next(s, len, &i);
		int w = width(cp, coding);
		if (total > 1 && used + w > cap) {
			part++;
			seg_start(&segs[part], ref, total, part + 1);
			used = 0;
		}
		seg_put(&segs[part], cp, coding);
		used += w;
	}
	*ret = segs;
	*ret_n = (size_t)total;
	return 0;
}

/* Reads the UDH at p into part and sets *ret_off past it; -EINVAL if malformed. */
static int parse_udh(const uint8_t *p, size_t n, struct sms_part *part, size_t *ret_off)
{
	if (n < 1 || (size_t)p[0] + 1 > n)
		return -EINVAL;
	size_t end = (size_t)p[0] + 1;
	for (size_t i = 1; i < end;) {
		if (end - i < 2 || end - i - 2 < p[i + 1])
			return -EINVAL;
		uint8_t iei = p[i], l = p[i + 1];
		const uint8_t *d = p + i + 2;
		uint16_t ref;
		uint8_t total, seq;
		if (iei == 0x00 || iei == 0x08) {
			if (l != (iei == 0x00 ? 3 : 4))
				return -EINVAL;
			ref = iei == 0x00 ? d[0] : (uint16_t)(d[0] << 8 | d[1]);
			total = d[l - 2], seq = d[l - 1];
			if (total == 0 || seq == 0 || seq > total)
				return -EINVAL;
			/* 3GPP 23.040: a repeated IE, the last one counts */
			part->concatenated = true;
			part->ref = ref, part->total = total, part->seq = seq;
		}
		i += 2 + (size_t)l;
	}
	*ret_off = end;
	return 0;
}

/* Decodes text of coding dc to UTF-8 at out (room for 3 bytes per input byte + NUL). */
static size_t decode_text(uint8_t dc, const uint8_t *p, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp;
		if (dc == 3) {
			cp = p[i] ? p[i] : REPLACEMENT;
		} else if (dc == 1) { /* IA5 (ASCII), as many SMSCs and the npm smpp package send */
			cp = p[i] && p[i] < 0x80 ? p[i] : REPLACEMENT;
		} else if (dc == 0) {
			if (p[i] == GSM_ESC)
				cp = i + 1 < n ? gsm_ext_decode(p[++i]) : REPLACEMENT;
			else
				cp = p[i] < 0x80 ? gsm_basic[p[i]] : REPLACEMENT;
		} else {
			if (i + 1 >= n) {
				cp = REPLACEMENT; /* an odd byte at the end */
			} else {
				cp = (uint32_t)p[i] << 8 | p[i + 1];
				i++;
				if (cp >= 0xd800 && cp <= 0xdbff && i + 2 < n) {
					uint32_t lo = (uint32_t)p[i + 1] << 8 | p[i + 2];
					if (lo >= 0xdc00 && lo <= 0xdfff) {
						cp =
						    0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						i += 2;
					}
				}
				if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
					cp = REPLACEMENT; /* a lone surrogate, or NUL */
			}
		}
		o += utf8_put(cp, out + o);
	}
	out[o] = '\0';
	return o;
}

int sms_decode(uint8_t data_coding, bool udhi, const uint8_t *p, size_t n, struct sms_part *ret)
{
	struct sms_part part = {0};
	size_t off = 0;
	if (data_coding != 0 && data_coding != 1 && data_coding != 3 && data_coding != 8)
		return -ENOTSUP;
	if (!p && n)
		return -EINVAL;
	if (n > DECODE_MAX)
		return -E2BIG;
	if (udhi) {
		int r = parse_udh(p, n, &part, &off);
		if (r < 0)
			return r;
	}
	part.text = mem_alloc((n - off) * 3 + 1);
	decode_text(data_coding, p + off, n - off, part.text);
	*ret = part;
	return 0;
}

void sms_part_free(struct sms_part *p)
{
	if (!p)
		return;
	mem_free(p->text);
	p->text = NULL;
}

/* ---- reassembly ---- */

struct pending {
	struct pending *next;
	char *from, *to;
	uint16_t ref;
	uint8_t total, have;
	uint64_t first_us;
	char *texts[]; /* total entries, by seq - 1 */
};

struct sms_reasm {
	uint64_t ttl_us;
	size_t max_pending, n;
	struct pending *head;
};

struct sms_reasm *sms_reasm_new(uint64_t ttl_us, size_t max_pending)
{
	struct sms_reasm *r = mem_zalloc(sizeof(*r));
	r->ttl_us = ttl_us;
	r->max_pending = max_pending;
	return r;
}

static void pending_free(struct pending *m)
{
	for (int i = 0; i < m->total; i++)
		mem_free(m->texts[i]);
	mem_free(m->from);
	mem_free(m->to);
	mem_free(m);
}

/* Unlinks *link (the pointer that points at a pending message) and returns the message. */
static struct pending *pending_unlink(struct sms_reasm *r, struct pending **link)
{
	struct pending *m = *link;
	*link = m->next;
	r->n--;
	return m;
}

/* Drops messages whose first part came ttl ago or more; their parts are lost. */
static void expire(struct sms_reasm *r, uint64_t now_us)
{
	for (struct pending **l = &r->head; *l;) {
		if (now_us >= (*l)->first_us && now_us - (*l)->first_us >= r->ttl_us)
			pending_free(pending_unlink(r, l));
		else
			l = &(*l)->next;
	}
}

static struct pending **find(struct sms_reasm *r, const char *from, const char *to,
			     const struct sms_part *part)
{
	for (struct pending **l = &r->head; *l; l = &(*l)->next) {
		struct pending *m = *l;
		if (m->ref == part->ref && m->total == part->total && strcmp(m->from, from) == 0 &&
		    strcmp(m->to, to) == 0)
			return l;
	}
	return NULL;
}

static char *join(const struct pending *m)
{
	size_t len = 0, o = 0;
	for (int i = 0; i < m->total; i++)
		len += strlen(m->texts[i]);
	char *out = mem_alloc(len + 1);
	for (int i = 0; i < m->total; i++) {
		size_t l = strlen(m->texts[i]);
		memcpy(out + o, m->texts[i], l);
		o += l;
	}
	out[o] = '\0';
	return out;
}

int sms_reasm_add(struct sms_reasm *r, const char *from, const char *to, struct sms_part *part,
		  uint64_t now_us, char **ret_text)
{
	char *text = part->text ? part->text : mem_strdup("");
	part->text = NULL;
	from = from ? from : "";
	to = to ? to : "";
	expire(r, now_us);
	if (!part->concatenated || part->total == 1) {
		*ret_text = text;
		return 1;
	}
	if (part->seq == 0 || part->seq > part->total) {
		mem_free(text);
		return -EINVAL;
	}
	struct pending **l = find(r, from, to, part);
	if (!l) {
		if (r->n >= r->max_pending) {
			mem_free(text);
			return -E2BIG;
		}
		struct pending *m = mem_zalloc(sizeof(*m) + part->total * sizeof(char *));
		m->from = mem_strdup(from);
		m->to = mem_strdup(to);
		m->ref = part->ref;
		m->total = part->total;
		m->first_us = now_us;
		m->next = r->head;
		r->head = m;
		r->n++;
		l = &r->head;
	}
	struct pending *m = *l;
	if (m->texts[part->seq - 1]) {
		mem_free(text); /* a duplicate */
		return 0;
	}
	m->texts[part->seq - 1] = text;
	if (++m->have < m->total)
		return 0;
	*ret_text = join(m);
	pending_free(pending_unlink(r, l));
	return 1;
}

void sms_reasm_free(struct sms_reasm *r)
{
	if (!r)
		return;
	while (r->head)
		pending_free(pending_unlink(r, &r->head));
	mem_free(r);
}
