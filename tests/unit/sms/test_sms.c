/* test_sms.c: unit tests for SMS text handling (plans, splitting, decoding, reassembly) and
   the HTTP provider adapters against a threaded HTTP server on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "messaging/sms.h"
#include "messaging/messaging.h"
#include "../test.h"

/* ---- helpers ---- */

static char *repeat(const char *unit, int n)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < n; i++)
		buf_puts(&b, unit);
	return buf_detach(&b);
}

/* repeat() of several pieces in a row, e.g. cat3("a", 152, "{", 1, "a", 152). */
static char *cat3(const char *a, int na, const char *b, int nb, const char *c, int nc)
{
	char *x = repeat(a, na), *y = repeat(b, nb), *z = repeat(c, nc);
	struct buf out;
	buf_init(&out, 0);
	buf_puts(&out, x);
	buf_puts(&out, y);
	buf_puts(&out, z);
	mem_free(x);
	mem_free(y);
	mem_free(z);
	return buf_detach(&out);
}

static int plan_of(const char *s, struct sms_plan *p)
{
	return sms_plan(s, strlen(s), p);
}

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		unsigned v;
		sscanf(p, "%2x", &v);
		out[n++] = (uint8_t)v;
		p += 2;
	}
	return n;
}

/* ---- plans ---- */

static void check_plan(const char *s, int r, enum sms_coding coding, int units, int segments,
		       int chars, int line)
{
	struct sms_plan p = {0};
	int got = plan_of(s, &p);
	if (got != r || (r == 0 && (p.coding != coding || p.units != units ||
				    p.segments != segments || p.chars != chars)))
		fprintf(stderr, "line %d: r %d coding %d units %d segments %d chars %d\n", line,
			got, p.coding, p.units, p.segments, p.chars);
	CHECK_EQ_INT(got, r);
	if (r == 0) {
		CHECK_EQ_INT(p.coding, coding);
		CHECK_EQ_INT(p.units, units);
		CHECK_EQ_INT(p.segments, segments);
		CHECK_EQ_INT(p.chars, chars);
	}
}
#define PLAN(s, r, c, u, seg, ch) check_plan(s, r, c, u, seg, ch, __LINE__)

static void test_plan_gsm(void)
{
	char *s;
	PLAN("", 0, SMS_GSM7, 0, 1, 0);
	PLAN("hello", 0, SMS_GSM7, 5, 1, 5);
	s = repeat("a", 160);
	PLAN(s, 0, SMS_GSM7, 160, 1, 160);
	mem_free(s);
	s = repeat("a", 161);
	PLAN(s, 0, SMS_GSM7, 161, 2, 161);
	mem_free(s);
	s = repeat("a", 306);
	PLAN(s, 0, SMS_GSM7, 306, 2, 306);
	mem_free(s);
	s = repeat("a", 307);
	PLAN(s, 0, SMS_GSM7, 307, 3, 307);
	mem_free(s);
	/* every character of the default table is one septet */
	const char *basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
			    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
	PLAN(basic, 0, SMS_GSM7, 127, 1, 127);
	/* the extension table: two septets each */
	PLAN("^{}\\[~]|€\f", 0, SMS_GSM7, 20, 1, 10);
	/* extension characters at the 160 boundary */
	s = cat3("a", 158, "€", 1, "", 0);
	PLAN(s, 0, SMS_GSM7, 160, 1, 159);
	mem_free(s);
	s = cat3("a", 159, "€", 1, "", 0);
	PLAN(s, 0, SMS_GSM7, 161, 2, 160);
	mem_free(s);
	s = repeat("[", 80);
	PLAN(s, 0, SMS_GSM7, 160, 1, 80);
	mem_free(s);
	s = repeat("[", 81);
	PLAN(s, 0, SMS_GSM7, 162, 2, 81);
	mem_free(s);
	/* an escape pair straddling the 153 boundary opens the next part early: 306 septets
	   that would fill two parts take three */
	s = cat3("a", 152, "{", 1, "a", 152);
	PLAN(s, 0, SMS_GSM7, 306, 3, 305);
	mem_free(s);
	s = cat3("a", 153, "{", 1, "a", 151);
	PLAN(s, 0, SMS_GSM7, 306, 2, 305);
	mem_free(s);
	/* not in GSM 03.38: a backtick, lower-case ç, a tab, Latin Extended */
	PLAN("`", 0, SMS_UCS2, 1, 1, 1);
	PLAN("ç", 0, SMS_UCS2, 1, 1, 1);
	PLAN("a\tb", 0, SMS_UCS2, 3, 1, 3);
	PLAN("Zażółć", 0, SMS_UCS2, 6, 1, 6);
}

static void test_plan_ucs2(void)
{
	char *s;
	PLAN("😀", 0, SMS_UCS2, 2, 1, 1);
	/* one emoji switches the whole text to UCS-2: 70 / 71 units */
	s = cat3("a", 68, "😀", 1, "", 0);
	PLAN(s, 0, SMS_UCS2, 70, 1, 69);
	mem_free(s);
	s = cat3("a", 69, "😀", 1, "", 0);
	PLAN(s, 0, SMS_UCS2, 71, 2, 70);
	mem_free(s);
	s = repeat("漢", 70);
	PLAN(s, 0, SMS_UCS2, 70, 1, 70);
	mem_free(s);
	s = repeat("漢", 71);
	PLAN(s, 0, SMS_UCS2, 71, 2, 71);
	mem_free(s);
	s = repeat("漢", 134);
	PLAN(s, 0, SMS_UCS2, 134, 2, 134);
	mem_free(s);
	/* a surrogate pair at the 67 boundary moves to the next part */
	s = cat3("a", 66, "😀", 1, "b", 66);
	PLAN(s, 0, SMS_UCS2, 134, 3, 133);
	mem_free(s);
	s = cat3("a", 65, "😀", 1, "b", 67);
	PLAN(s, 0, SMS_UCS2, 134, 2, 133);
	mem_free(s);
}

static void test_plan_caps(void)
{
	char *s;
	s = repeat("a", SMS_BODY_MAX);
	PLAN(s, 0, SMS_GSM7, 1600, 11, 1600);
	mem_free(s);
	s = repeat("a", SMS_BODY_MAX + 1);
	PLAN(s, -E2BIG, SMS_GSM7, 0, 0, 0);
	mem_free(s);
	s = repeat("€", 800); /* 800 characters, 1600 septets: 11 parts */
	PLAN(s, 0, SMS_GSM7, 1600, 11, 800);
	mem_free(s);
	s = repeat("€", 900); /* 1800 septets: 12 parts, past SMS_SEGMENTS_MAX */
	PLAN(s, -E2BIG, SMS_GSM7, 0, 0, 0);
	mem_free(s);
	s = repeat("漢", 67 * 11);
	PLAN(s, 0, SMS_UCS2, 737, 11, 737);
	mem_free(s);
	s = repeat("漢", 67 * 11 + 1);
	PLAN(s, -E2BIG, SMS_UCS2, 0, 0, 0);
	mem_free(s);
	s = repeat("😀", SMS_BODY_MAX + 1);
	PLAN(s, -E2BIG, SMS_UCS2, 0, 0, 0);
	mem_free(s);
	s = repeat("a", 10000);
	PLAN(s, -E2BIG, SMS_GSM7, 0, 0, 0);
	mem_free(s);
}

static void test_plan_invalid(void)
{
	static const char *const bad[] = {
	    "\xc3",		/* cut short */
	    "a\xc3(",		/* bad continuation */
	    "\xc0\xaf",		/* overlong '/' */
	    "\xe0\x80\xaf",	/* overlong */
	    "\xed\xa0\x80",	/* a surrogate (CESU) */
	    "\xf4\x90\x80\x80", /* past U+10FFFF */
	    "\xff",
	    "\x80",
	    "\xf8\x88\x80\x80\x80",
	};
	struct sms_plan p;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(plan_of(bad[i], &p), -EINVAL);
	CHECK_EQ_INT(sms_plan("a\0b", 3, &p), -EINVAL); /* NUL */
	CHECK_EQ_INT(sms_plan("\xf0\x9f\x98", 3, &p), -EINVAL);
	CHECK_EQ_INT(sms_plan("\xf4\x8f\xbf\xbf", 4, &p), 0); /* U+10FFFF is fine */
	CHECK_EQ_INT(p.units, 2);
}

/* ---- split ---- */

static void test_split_layout(void)
{
	struct sms_plan p;
	struct sms_segment *seg = NULL;
	size_t n = 0;
	/* one part: no UDH, septets as they are */
	CHECK_EQ_INT(plan_of("@a€", &p), 0);
	CHECK_EQ_INT(sms_split("@a€", strlen("@a€"), &p, 7, &seg, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK(!seg[0].udhi);
	CHECK_EQ_INT(seg[0].len, 4);
	CHECK(memcmp(seg[0].data, "\x00\x61\x1b\x65", 4) == 0);
	mem_free(seg);
	/* the escape pair never splits: 152 + '{' */
	char *s = cat3("a", 152, "{", 1, "a", 152);
	CHECK_EQ_INT(plan_of(s, &p), 0);
	CHECK_EQ_INT(sms_split(s, strlen(s), &p, 0xab, &seg, &n), 0);
	CHECK_EQ_INT(n, 3);
	for (size_t i = 0; i < n; i++) {
		CHECK(seg[i].udhi);
		uint8_t udh[6] = {5, 0, 3, 0xab, 3, (uint8_t)(i + 1)};
		CHECK(memcmp(seg[i].data, udh, 6) == 0);
	}
	CHECK_EQ_INT(seg[0].len, 6 + 152);
	CHECK_EQ_INT(seg[1].len, 6 + 153);
	CHECK_EQ_INT(seg[1].data[6], 0x1b);
	CHECK_EQ_INT(seg[1].data[7], 0x28);
	CHECK_EQ_INT(seg[2].len, 6 + 1);
	mem_free(seg);
	mem_free(s);
	/* the surrogate pair never splits */
	s = cat3("a", 66, "😀", 1, "b", 66);
	CHECK_EQ_INT(plan_of(s, &p), 0);
	CHECK_EQ_INT(sms_split(s, strlen(s), &p, 1, &seg, &n), 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(seg[0].len, 6 + 132);
	CHECK_EQ_INT(seg[0].data[6 + 131], 'a');
	CHECK_EQ_INT(seg[1].len, 6 + 134);
	CHECK(memcmp(seg[1].data + 6, "\xd8\x3d\xde\x00\x00\x62", 6) == 0);
	CHECK_EQ_INT(seg[2].len, 6 + 2);
	mem_free(seg);
	mem_free(s);
	/* UCS-2 may be forced on a GSM text, GSM-7 not on a UCS-2 one */
	CHECK_EQ_INT(plan_of("hi", &p), 0);
	p.coding = SMS_UCS2;
	CHECK_EQ_INT(sms_split("hi", 2, &p, 0, &seg, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(seg[0].len, 4);
	CHECK(memcmp(seg[0].data, "\x00h\x00i", 4) == 0);
	mem_free(seg);
	CHECK_EQ_INT(plan_of("ç", &p), 0);
	p.coding = SMS_GSM7;
	CHECK_EQ_INT(sms_split("ç", strlen("ç"), &p, 0, &seg, &n), -EINVAL);
	CHECK_EQ_INT(sms_split("\xff", 1, &p, 0, &seg, &n), -EINVAL);
}

/* ---- decode: known vectors ---- */

static void check_decode(uint8_t dc, bool udhi, const char *hex, int r, const char *text, int line)
{
	uint8_t b[300];
	size_t n = unhex(hex, b);
	struct sms_part part = {0};
	int got = sms_decode(dc, udhi, b, n, &part);
	if (got != r)
		fprintf(stderr, "line %d: sms_decode = %d\n", line, got);
	CHECK_EQ_INT(got, r);
	if (r == 0 && text) {
		if (strcmp(part.text, text) != 0)
			fprintf(stderr, "line %d: text \"%s\"\n", line, part.text);
		CHECK_STR(part.text, text);
	}
	sms_part_free(&part);
}
#define DEC(dc, udhi, hex, r, text) check_decode(dc, udhi, hex, r, text, __LINE__)

static void test_decode_vectors(void)
{
	/* GSM-7, one septet per byte */
	DEC(0, false, "68656c6c6f", 0, "hello");
	DEC(0, false, "00 01 02 03 04 05 06 07 08 09", 0, "@£$¥èéùìòÇ");
	DEC(0, false, "10 11 12 13 14 15 16 17 18 19 1a 1c 1d 1e 1f", 0, "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ");
	DEC(0, false, "24 40 5b 5c 5d 5e 5f 60 7b 7c 7d 7e 7f", 0, "¤¡ÄÖÑÜ§¿äöñüà");
	DEC(0, false, "1b65 1b14 1b28 1b29 1b2f 1b3c 1b3d 1b3e 1b40 1b0a", 0, "€^{}\\[~]|\f");
	DEC(0, false, "1b41", 0, "A");		    /* unknown extension: the default character */
	DEC(0, false, "1b1b", 0, " ");		    /* the reserved double escape */
	DEC(0, false, "41 1b", 0, "A\xef\xbf\xbd"); /* an escape cut off */
	DEC(0, false, "41 80 ff", 0, "A\xef\xbf\xbd\xef\xbf\xbd"); /* not septets */
	DEC(0, false, "", 0, "");
	/* Latin-1 */
	DEC(3, false, "43 61 66 e9 20 a3 35", 0, "Café £5");
	DEC(3, false, "00", 0, "\xef\xbf\xbd");
	/* UCS-2 / UTF-16BE */
	DEC(8, false, "0048 0069 d83d de00", 0, "Hi😀");
	DEC(8, false, "6f22 5b57", 0, "漢字");
	DEC(8, false, "d83d 0041", 0,
	    "\xef\xbf\xbd"
	    "A"); /* lone high surrogate */
	DEC(8, false, "de00 0041", 0,
	    "\xef\xbf\xbd"
	    "A");					/* lone low surrogate */
	DEC(8, false, "0041 d83d", 0, "A\xef\xbf\xbd"); /* high at the end */
	DEC(8, false, "d83d d83d de00", 0, "\xef\xbf\xbd\xf0\x9f\x98\x80");
	DEC(8, false, "0041 00", 0, "A\xef\xbf\xbd"); /* an odd byte */
	DEC(8, false, "0000", 0, "\xef\xbf\xbd");
	/* other codings */
	DEC(4, false, "41", -ENOTSUP, NULL);
	DEC(1, false, "48 69 c8", 0, "Hi\xef\xbf\xbd"); /* IA5: ASCII, high bytes replaced */
	DEC(0xf0, false, "41", -ENOTSUP, NULL);
}

static void test_decode_udh(void)
{
	uint8_t b[64];
	struct sms_part part;
	size_t n = unhex("050003 2a 02 01 6869", b);
	CHECK_EQ_INT(sms_decode(0, true, b, n, &part), 0);
	CHECK(part.concatenated);
	CHECK_EQ_INT(part.ref, 0x2a);
	CHECK_EQ_INT(part.total, 2);
	CHECK_EQ_INT(part.seq, 1);
	CHECK_STR(part.text, "hi");
	sms_part_free(&part);
	CHECK(part.text == NULL);
	sms_part_free(&part); /* twice is harmless */
	sms_part_free(NULL);
	/* 16-bit reference */
	n = unhex("06 08 04 1234 03 02 0041", b);
	CHECK_EQ_INT(sms_decode(8, true, b, n, &part), 0);
	CHECK(part.concatenated);
	CHECK_EQ_INT(part.ref, 0x1234);
	CHECK_EQ_INT(part.total, 3);
	CHECK_EQ_INT(part.seq, 2);
	CHECK_STR(part.text, "A");
	sms_part_free(&part);
	/* another IE (text formatting) first, skipped */
	n = unhex("0a 0a03000000 0003070201 41", b);
	CHECK_EQ_INT(sms_decode(0, true, b, n, &part), 0);
	CHECK(part.concatenated);
	CHECK_EQ_INT(part.ref, 7);
	CHECK_STR(part.text, "A");
	sms_part_free(&part);
	/* a UDH without concatenation (port addressing) */
	n = unhex("06 05 04 0b84 23f0 0041", b);
	CHECK_EQ_INT(sms_decode(8, true, b, n, &part), 0);
	CHECK(!part.concatenated);
	CHECK_STR(part.text, "A");
	sms_part_free(&part);
	/* empty UDH, and a UDH with no text after it */
	DEC(0, true, "00 41", 0, "A");
	DEC(0, true, "050003010101", 0, "");
	/* malformed */
	DEC(0, true, "", -EINVAL, NULL);
	DEC(0, true, "05 00 03 01 02", -EINVAL, NULL);	  /* UDHL past the end */
	DEC(0, true, "03 00 03 01 41 41", -EINVAL, NULL); /* IE past UDHL */
	DEC(0, true, "01 00", -EINVAL, NULL);		  /* IE without its length */
	DEC(0, true, "05 00 03 01 02 00", -EINVAL, NULL); /* seq 0 */
	DEC(0, true, "05 00 03 01 02 03", -EINVAL, NULL); /* seq past total */
	DEC(0, true, "05 00 03 01 00 00", -EINVAL, NULL); /* total 0 */
	DEC(0, true, "04 00 02 01 02", -EINVAL, NULL);	  /* wrong IE length */
	DEC(8, true, "05 08 03 01 02 01", -EINVAL, NULL); /* 16-bit IE too short */
	CHECK_EQ_INT(sms_decode(0, true, NULL, 0, &part), -EINVAL);
	static uint8_t big[70000];
	CHECK_EQ_INT(sms_decode(3, false, big, sizeof(big), &part), -E2BIG);
}

/* ---- reassembly ---- */

static struct sms_part mk_part(const char *text, uint16_t ref, uint8_t total, uint8_t seq)
{
	struct sms_part p = {.text = mem_strdup(text), .ref = ref, .total = total, .seq = seq};
	p.concatenated = total > 0;
	return p;
}

static void test_reasm_rules(void)
{
	struct sms_reasm *r = sms_reasm_new(1000, 2);
	char *out = NULL;
	struct sms_part p;
	/* not concatenated: at once */
	p = mk_part("single", 0, 0, 0);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 0, &out), 1);
	CHECK(p.text == NULL);
	CHECK_STR(out, "single");
	mem_free(out);
	/* out of order, with a duplicate */
	p = mk_part("C", 5, 3, 3);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 10, &out), 0);
	p = mk_part("A", 5, 3, 1);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 11, &out), 0);
	p = mk_part("X", 5, 3, 1); /* duplicate of seq 1: ignored */
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 12, &out), 0);
	CHECK(p.text == NULL);
	/* the same ref from another sender is another message */
	p = mk_part("other", 5, 3, 2);
	CHECK_EQ_INT(sms_reasm_add(r, "+9", "+2", &p, 13, &out), 0);
	/* max_pending 2: a third message is refused */
	p = mk_part("third", 6, 2, 1);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 14, &out), -E2BIG);
	CHECK(p.text == NULL);
	p = mk_part("B", 5, 3, 2);
	out = NULL;
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 15, &out), 1);
	CHECK_STR(out, "ABC");
	mem_free(out);
	/* a part with a bad seq */
	p = mk_part("bad", 8, 2, 3);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 16, &out), -EINVAL);
	/* TTL: the +9 message (first part at 13) expires at 1013; its part 1 then starts over */
	p = mk_part("late", 5, 3, 1);
	CHECK_EQ_INT(sms_reasm_add(r, "+9", "+2", &p, 1013, &out), 0);
	p = mk_part("x", 5, 3, 3);
	CHECK_EQ_INT(sms_reasm_add(r, "+9", "+2", &p, 1014, &out), 0); /* seq 2 is gone */
	/* room again after expiry: two pending allowed */
	p = mk_part("y", 6, 2, 1);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 1015, &out), 0);
	p = mk_part("z", 7, 2, 1);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 1016, &out), -E2BIG);
	p = mk_part("z", 7, 2, 1);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 5000, &out), 0); /* both expired */
	/* a different total with the same ref is a different message */
	p = mk_part("q", 7, 3, 1);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 5001, &out), 0);
	p = mk_part("w", 7, 2, 2);
	CHECK_EQ_INT(sms_reasm_add(r, "+1", "+2", &p, 5002, &out), 1);
	CHECK_STR(out, "zw");
	mem_free(out);
	/* total 1 with concatenation: complete at once */
	p = mk_part("one", 9, 1, 1);
	CHECK_EQ_INT(sms_reasm_add(r, NULL, NULL, &p, 5003, &out), 1);
	CHECK_STR(out, "one");
	mem_free(out);
	sms_reasm_free(r); /* frees what is still pending */
	sms_reasm_free(NULL);
}

/* ---- round trips ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static const char *const pool_gsm[] = {
    "a", "b", "Z", "0", " ", "!", "?", "@",  "£",  "$", "¥",  "è", "é", "ù",
    "ì", "ò", "Ç", "Ø", "ø", "Å", "å", "Δ",  "_",  "Φ", "Γ",  "Λ", "Ω", "Π",
    "Ψ", "Σ", "Θ", "Ξ", "Æ", "æ", "ß", "É",  "Ä",  "Ö", "Ñ",  "Ü", "§", "¿",
    "ä", "ö", "ñ", "ü", "à", "¤", "¡", "\n", "\r", "'", "\"", "#", "%", "&"};
static const char *const pool_ext[] = {"^", "{", "}", "\\", "[", "~", "]", "|", "€", "\f"};
static const char *const pool_latin[] = {"ą", "ć", "ę", "ł", "ń", "ś", "ź", "ż", "ç", "ÿ",
					 "œ", "ğ", "ş", "ı", "õ", "â", "ê", "î", "ô", "`"};
static const char *const pool_cjk[] = {"漢", "字", "日", "本", "語", "中", "文",
				       "한", "국", "어", "の", "ア", "ー", "。"};
static const char *const pool_emoji[] = {"😀", "🎉", "👍", "🏽", "🚀", "𝄞", "🇫", "🇷", "💩"};

struct pool {
	const char *const *v;
	size_t n;
};
#define POOL(a)                                                                                    \
	{                                                                                          \
		a, sizeof(a) / sizeof(a[0])                                                        \
	}
static const struct pool pools[] = {POOL(pool_gsm), POOL(pool_ext), POOL(pool_latin),
				    POOL(pool_cjk), POOL(pool_emoji)};

/* A random text of one of six kinds: GSM, extension-heavy, Latin, CJK, emoji, mixed. */
static char *random_text(int kind, int chars)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < chars; i++) {
		int k;
		switch (kind) {
		case 0:
			k = 0;
			break;
		case 1:
			k = rnd(2) ? 1 : 0;
			break;
		case 2:
			k = rnd(4) ? 0 : 2;
			break;
		case 3:
			k = rnd(3) ? 3 : 0;
			break;
		case 4:
			k = rnd(3) ? 4 : 0;
			break;
		default:
			k = (int)rnd(5);
		}
		buf_puts(&b, pools[k].v[rnd((uint32_t)pools[k].n)]);
	}
	return buf_detach(&b);
}

/* Checks one split part on its own: sizes, and no character cut at its end. */
static void check_segment(const struct sms_segment *s, enum sms_coding coding, size_t total)
{
	size_t off = s->udhi ? 6 : 0;
	CHECK(s->udhi == (total > 1));
	if (coding == SMS_GSM7) {
		CHECK(s->len - off <= (total > 1 ? 153u : 160u));
		CHECK(s->len == off || s->data[s->len - 1] != 0x1b ||
		      (s->len - off >= 2 && s->data[s->len - 2] == 0x1b));
	} else {
		CHECK(s->len <= 140);
		CHECK((s->len - off) % 2 == 0);
		if (s->len > off) {
			uint8_t hi = s->data[s->len - 2];
			CHECK(hi < 0xd8 || hi > 0xdb); /* no high surrogate last */
		}
	}
}

static void round_trip(struct sms_reasm *r, const char *text, int iter)
{
	struct sms_plan p;
	struct sms_segment *seg = NULL;
	size_t n = 0;
	CHECK_EQ_INT(plan_of(text, &p), 0);
	uint8_t ref = (uint8_t)rnd(256);
	CHECK_EQ_INT(sms_split(text, strlen(text), &p, ref, &seg, &n), 0);
	CHECK_EQ_INT(n, p.segments);
	struct sms_part parts[SMS_SEGMENTS_MAX];
	size_t order[SMS_SEGMENTS_MAX];
	for (size_t i = 0; i < n; i++) {
		check_segment(&seg[i], p.coding, n);
		CHECK_EQ_INT(
		    sms_decode((uint8_t)p.coding, seg[i].udhi, seg[i].data, seg[i].len, &parts[i]),
		    0);
		CHECK(strstr(parts[i].text, "\xef\xbf\xbd") == NULL); /* nothing was cut */
		order[i] = i;
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd((uint32_t)i), t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	char from[32];
	snprintf(from, sizeof(from), "+1555%07d", iter % 7);
	char *out = NULL;
	int done = 0;
	for (size_t i = 0; i < n; i++) {
		struct sms_part *pt = &parts[order[i]];
		if (i > 0 && rnd(3) == 0) { /* a duplicate of a part already given */
			struct sms_part dup = *pt;
			dup = parts[order[rnd((uint32_t)i)]];
			dup.text = mem_strdup("duplicate");
			CHECK_EQ_INT(
			    sms_reasm_add(r, from, "+15550000000", &dup, (uint64_t)iter, &out), 0);
		}
		int got = sms_reasm_add(r, from, "+15550000000", pt, (uint64_t)iter, &out);
		CHECK_EQ_INT(got, i + 1 == n ? 1 : 0);
		done += got == 1;
	}
	CHECK_EQ_INT(done, 1);
	if (out && strcmp(out, text) != 0)
		fprintf(stderr, "round trip %d: \"%s\" came back as \"%s\"\n", iter, text, out);
	CHECK_STR(out, text);
	mem_free(out);
	mem_free(seg);
}

static void test_round_trips(void)
{
	struct sms_reasm *r = sms_reasm_new(1000000, 64);
	int tried = 0;
	for (int iter = 0; iter < 3000; iter++) {
		int kind = iter % 6;
		int chars = 1 + (int)rnd(iter % 3 == 0 ? 1600 : 400);
		char *text = random_text(kind, chars);
		struct sms_plan p;
		int pr = plan_of(text, &p);
		CHECK(pr == 0 || pr == -E2BIG);
		if (pr == 0) {
			round_trip(r, text, iter);
			tried++;
		}
		mem_free(text);
	}
	CHECK(tried > 2000);
	sms_reasm_free(r);
}

/* ---- HTTP providers against a server on 127.0.0.1 ---- */

struct srv {
	int fd, port;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	int status, delay_ms; /* the next answers */
	char answer[80000];
	const char *extra_header;
	char req[16384]; /* the last request, headers and body */
	size_t req_len;
	int nreq;
};

static void srv_handle(struct srv *s, int c)
{
	char req[16384];
	size_t len = 0, need = 0;
	for (;;) {
		struct pollfd pfd = {.fd = c, .events = POLLIN};
		if (poll(&pfd, 1, 2000) <= 0)
			break;
		ssize_t k = recv(c, req + len, sizeof(req) - 1 - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
		req[len] = '\0';
		char *end = strstr(req, "\r\n\r\n");
		if (!end)
			continue;
		if (!need) {
			const char *cl = strcasestr(req, "\r\nContent-Length:");
			need = (size_t)(end + 4 - req) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (len >= need)
			break;
	}
	struct buf out;
	buf_init(&out, 0);
	pthread_mutex_lock(&s->mu);
	memcpy(s->req, req, len);
	s->req[len] = '\0';
	s->req_len = len;
	s->nreq++;
	int delay = s->delay_ms;
	buf_printf(&out,
		   "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		   "%sConnection: close\r\n\r\n",
		   s->status, strlen(s->answer), s->extra_header ? s->extra_header : "");
	buf_puts(&out, s->answer);
	pthread_mutex_unlock(&s->mu);
	/* a slow answer; given up as soon as the client hangs up */
	for (int waited = 0; waited < delay && !s->stop; waited += 10) {
		struct pollfd pfd = {.fd = c, .events = POLLIN};
		char x;
		if (poll(&pfd, 1, 10) > 0 && recv(c, &x, 1, MSG_PEEK) <= 0)
			break;
	}
	for (size_t o = 0; o < out.len;) {
		ssize_t k = send(c, out.p + o, out.len - o, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		o += (size_t)k;
	}
	buf_free(&out);
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	while (!s->stop) {
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		srv_handle(s, c);
		close(c);
	}
	return NULL;
}

static int listen_local(int *ret_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		perror("listen_local");
		exit(1);
	}
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static void srv_start(struct srv *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->fd = listen_local(&s->port);
	pthread_create(&s->thread, NULL, srv_main, s);
}

static void srv_stop(struct srv *s)
{
	s->stop = true;
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
}

static void srv_set_header(struct srv *s, int status, const char *answer, int delay_ms,
			   const char *extra_header)
{
	pthread_mutex_lock(&s->mu);
	s->status = status;
	snprintf(s->answer, sizeof(s->answer), "%s", answer);
	s->delay_ms = delay_ms;
	s->extra_header = extra_header;
	pthread_mutex_unlock(&s->mu);
}

static void srv_set(struct srv *s, int status, const char *answer, int delay_ms)
{
	srv_set_header(s, status, answer, delay_ms, NULL);
}

/* The last request as the server recorded it (under its lock: it was written before the
   answer went out, so before the send under test returned). */
static const char *srv_req(struct srv *s)
{
	pthread_mutex_lock(&s->mu);
	pthread_mutex_unlock(&s->mu);
	return s->req;
}

static int srv_nreq(struct srv *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->nreq;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static const char *req_body(struct srv *s)
{
	const char *b = strstr(srv_req(s), "\r\n\r\n");
	return b ? b + 4 : "";
}

static bool req_has_header(struct srv *s, const char *line)
{
	char want[512];
	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return strstr(srv_req(s), want) != NULL;
}

static void test_twilio(struct srv *s, const char *base)
{
	struct sms_http_provider p = {.kind = SMS_HTTP_TWILIO,
				      .base_url = base,
				      .account = "ACtest123",
				      .token = "s3cret",
				      .status_callback = "https://example.com/cb?x=1",
				      .timeout_ms = 2000,
				      .allow_private = true};
	struct sms_http_result res;
	srv_set(s, 201, "{\"sid\":\"SM0123456789abcdef\",\"status\":\"queued\"}", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+15557654321", "+15551234567", "Hello € & ok", &res), 0);
	CHECK_EQ_INT(res.http_status, 201);
	CHECK_STR(res.provider_id, "SM0123456789abcdef");
	CHECK(strncmp(srv_req(s), "POST /2010-04-01/Accounts/ACtest123/Messages.json HTTP/1.1\r\n",
		      60) == 0);
	char *b64 = b64_encode("ACtest123:s3cret", 16, false);
	char auth[128];
	snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
	mem_free(b64);
	CHECK(req_has_header(s, auth));
	CHECK(req_has_header(s, "Content-Type: application/x-www-form-urlencoded"));
	CHECK_STR(req_body(s), "To=%2B15551234567&From=%2B15557654321&Body=Hello%20%E2%82%AC%20%26%"
			       "20ok&StatusCallback=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1");
	/* 200 is success too; no status callback: no field */
	p.status_callback = NULL;
	srv_set(s, 200, "{\"sid\":\"SMabc\"}", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "", &res), 0);
	CHECK_STR(res.provider_id, "SMabc");
	CHECK_STR(req_body(s), "To=%2B2&From=%2B1&Body=");
	/* a trailing slash on base_url */
	char slash[128];
	snprintf(slash, sizeof(slash), "%s/", base);
	p.base_url = slash;
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), 0);
	CHECK(strncmp(srv_req(s), "POST /2010-04-01/Accounts/ACtest123/Messages.json ", 50) == 0);
	p.base_url = base;
	/* 400: the provider's code, not retryable */
	srv_set(s, 400,
		"{\"code\":21211,\"message\":\"The 'To' number +2 is not a valid phone number.\","
		"\"more_info\":\"https://www.twilio.com/docs/errors/21211\",\"status\":400}",
		0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK_EQ_INT(res.http_status, 400);
	CHECK(!res.retryable);
	CHECK_STR(res.error, "21211: The 'To' number +2 is not a valid phone number.");
	CHECK_STR(res.provider_id, "");
	/* 401 without JSON */
	srv_set(s, 401, "nope", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK(!res.retryable);
	CHECK_STR(res.error, "HTTP 401");
	/* 429 and 503: retryable */
	srv_set(s, 429, "{\"code\":20429,\"message\":\"Too Many Requests\"}", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK_EQ_INT(res.http_status, 429);
	CHECK(res.retryable);
	CHECK_STR(res.error, "20429: Too Many Requests");
	srv_set(s, 503, "<html>down</html>", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK_EQ_INT(res.http_status, 503);
	CHECK(res.retryable);
	/* accepted without an id: an error, but not to be sent again */
	srv_set(s, 201, "{\"status\":\"queued\"}", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK(!res.retryable);
	/* a redirect is not followed */
	srv_set_header(s, 302, "", 0, "Location: http://127.0.0.1:1/elsewhere\r\n");
	int before = srv_nreq(s);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK_EQ_INT(res.http_status, 302);
	CHECK(!res.retryable);
	CHECK_EQ_INT(srv_nreq(s), before + 1);
	/* an answer past 64 KB */
	char *huge = repeat("x", 70000);
	srv_set(s, 200, huge, 0);
	mem_free(huge);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK_STR(res.provider_id, "");
	/* a timeout: retryable, no status */
	srv_set(s, 201, "{\"sid\":\"SMlate\"}", 1500);
	p.timeout_ms = 300;
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK_EQ_INT(res.http_status, 0);
	CHECK(res.retryable);
	CHECK(strncmp(res.error, "timeout", 7) == 0);
	srv_set(s, 201, "{\"sid\":\"SMx\"}", 0);
}

static void test_telnyx(struct srv *s, const char *base)
{
	struct sms_http_provider p = {.kind = SMS_HTTP_TELNYX,
				      .base_url = base,
				      .token = "KEY0123",
				      .status_callback = "https://example.com/dlr",
				      .timeout_ms = 2000,
				      .allow_private = true};
	struct sms_http_result res;
	srv_set(s, 200,
		"{\"data\":{\"record_type\":\"message\",\"id\":\"40385f64-5717-4562-b3fc-"
		"2c963f66afa6\",\"to\":[{\"status\":\"queued\"}]}}",
		0);
	CHECK_EQ_INT(sms_http_send(&p, "+15557654321", "+15551234567", "Grüße 😀", &res), 0);
	CHECK_STR(res.provider_id, "40385f64-5717-4562-b3fc-2c963f66afa6");
	CHECK(strncmp(srv_req(s), "POST /v2/messages HTTP/1.1\r\n", 28) == 0);
	CHECK(req_has_header(s, "Authorization: Bearer KEY0123"));
	CHECK(req_has_header(s, "Content-Type: application/json"));
	json_t *j = json_loads(req_body(s), 0, NULL);
	CHECK(j != NULL);
	CHECK_STR(json_str(j, "from"), "+15557654321");
	CHECK_STR(json_str(j, "to"), "+15551234567");
	CHECK_STR(json_str(j, "text"), "Grüße 😀");
	CHECK_STR(json_str(j, "webhook_url"), "https://example.com/dlr");
	CHECK_EQ_INT(json_object_size(j), 4);
	json_decref(j);
	/* 400 with errors[] */
	srv_set(s, 400,
		"{\"errors\":[{\"code\":\"40310\",\"title\":\"Invalid 'to' address\",\"detail\":"
		"\"The 'to' address should be E.164.\"}]}",
		0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK(!res.retryable);
	CHECK_EQ_INT(res.http_status, 400);
	CHECK_STR(res.error, "40310: Invalid 'to' address: The 'to' address should be E.164.");
	srv_set(s, 429, "{\"errors\":[{\"code\":\"10011\",\"title\":\"Too many requests\"}]}", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK(res.retryable);
	CHECK_STR(res.error, "10011: Too many requests");
	srv_set(s, 500, "", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK(res.retryable);
	CHECK_STR(res.error, "HTTP 500");
	srv_set(s, 200, "{\"data\":{}}", 0);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK(!res.retryable);
	/* text that is not UTF-8 cannot go into JSON */
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "\xff", &res), -EINVAL);
}

static void test_http_refusals(struct srv *s, const char *base)
{
	struct sms_http_provider p = {.kind = SMS_HTTP_TWILIO,
				      .base_url = base,
				      .account = "AC1",
				      .token = "t",
				      .timeout_ms = 1000};
	struct sms_http_result res;
	int before = srv_nreq(s);
	/* the SSRF rule: loopback refused unless the operator allows private addresses */
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EINVAL);
	CHECK(strstr(res.error, "base_url") != NULL);
	p.allow_private = true;
	p.base_url = "ftp://127.0.0.1/";
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EINVAL);
	p.base_url = "http://127.0.0.1:1/api?x=1";
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EINVAL);
	p.base_url = base;
	p.token = "t\r\nX-Injected: 1";
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EINVAL);
	p.token = "t";
	p.account = "";
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EINVAL);
	p.account = "AC1";
	CHECK_EQ_INT(sms_http_send(&p, NULL, "+2", "x", &res), -EINVAL);
	p.kind = (enum sms_http_kind)9;
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EINVAL);
	p.kind = SMS_HTTP_TWILIO;
	char *long_body = repeat("a", SMS_BODY_MAX * 4 + 1);
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", long_body, &res), -EINVAL);
	mem_free(long_body);
	CHECK_EQ_INT(srv_nreq(s), before); /* nothing was sent */
	/* nobody listening: a connect error, retryable */
	int port, fd = listen_local(&port);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	p.base_url = url;
	CHECK_EQ_INT(sms_http_send(&p, "+1", "+2", "x", &res), -EIO);
	CHECK_EQ_INT(res.http_status, 0);
	CHECK(res.retryable);
	CHECK(res.error[0] != '\0');
}

static void test_http(void)
{
	struct srv s;
	srv_start(&s);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", s.port);
	test_twilio(&s, base);
	test_telnyx(&s, base);
	test_http_refusals(&s, base);
	srv_stop(&s);
}

/* ---- webhooks ---- */

static json_t *hook(enum sms_http_kind kind, const char *ct, const char *body, int want)
{
	json_t *j = NULL;
	int r = sms_http_parse_webhook(kind, ct, body, strlen(body), &j);
	if (r != want)
		fprintf(stderr, "webhook \"%.60s\": %d\n", body, r);
	CHECK_EQ_INT(r, want);
	return r == 0 ? j : NULL;
}

static bool is_null(json_t *j, const char *k)
{
	return json_is_null(json_object_get(j, k));
}

static void test_webhook_twilio(void)
{
	const char *form = "application/x-www-form-urlencoded";
	json_t *j = hook(SMS_HTTP_TWILIO, form,
			 "SmsSid=SM1&SmsStatus=delivered&MessageStatus=delivered&To=%2B15551234567"
			 "&MessageSid=SM1&AccountSid=AC1&From=%2B15557654321&ApiVersion=2010-04-01",
			 0);
	CHECK_STR(json_str(j, "kind"), "receipt");
	CHECK_STR(json_str(j, "provider_id"), "SM1");
	CHECK_STR(json_str(j, "status"), "delivered");
	CHECK_STR(json_str(j, "provider_status"), "delivered");
	CHECK_STR(json_str(j, "from"), "+15557654321");
	CHECK_STR(json_str(j, "to"), "+15551234567");
	CHECK(is_null(j, "error_code"));
	CHECK(is_null(j, "body"));
	json_decref(j);
	j = hook(SMS_HTTP_TWILIO, "application/x-www-form-urlencoded; charset=utf-8",
		 "MessageSid=SM2&MessageStatus=undelivered&ErrorCode=30003&To=%2B1&From=%2B2", 0);
	CHECK_STR(json_str(j, "status"), "undelivered");
	CHECK_STR(json_str(j, "error_code"), "30003");
	json_decref(j);
	j = hook(SMS_HTTP_TWILIO, form, "MessageSid=SM3&MessageStatus=canceled", 0);
	CHECK(is_null(j, "status")); /* not one of ours */
	CHECK_STR(json_str(j, "provider_status"), "canceled");
	json_decref(j);
	/* inbound */
	j = hook(SMS_HTTP_TWILIO, NULL,
		 "ToCountry=US&SmsMessageSid=SM4&NumMedia=0&SmsSid=SM4&SmsStatus=received&"
		 "Body=Hello+w%C3%B6rld+%F0%9F%98%80%26more&To=%2B15551234567&NumSegments=1&"
		 "MessageSid=SM4&From=%2B15557654321",
		 0);
	CHECK_STR(json_str(j, "kind"), "inbound");
	CHECK_STR(json_str(j, "provider_id"), "SM4");
	CHECK_STR(json_str(j, "status"), "received");
	CHECK_STR(json_str(j, "body"), "Hello wörld 😀&more");
	CHECK_STR(json_str(j, "from"), "+15557654321");
	json_decref(j);
	j = hook(SMS_HTTP_TWILIO, form, "SmsSid=SM5&From=%2B1&To=%2B2&Body=", 0);
	CHECK_STR(json_str(j, "kind"), "inbound");
	CHECK_STR(json_str(j, "body"), "");
	json_decref(j);
	/* not understood */
	hook(SMS_HTTP_TWILIO, form, "", -EINVAL);
	hook(SMS_HTTP_TWILIO, form, "MessageSid=SM1", -EINVAL);			/* nothing to say */
	hook(SMS_HTTP_TWILIO, form, "MessageStatus=sent", -EINVAL);		/* no sid */
	hook(SMS_HTTP_TWILIO, form, "MessageSid=SM1&Body=hi&To=%2B2", -EINVAL); /* no From */
	hook(SMS_HTTP_TWILIO, form, "MessageSid=SM1&MessageStatus=sent%zz", -EINVAL);
	hook(SMS_HTTP_TWILIO, form, "MessageSid=SM1&MessageStatus=sent%4", -EINVAL);
	hook(SMS_HTTP_TWILIO, form, "MessageSid=SM1&MessageStatus=sen%00t", -EINVAL);
	hook(SMS_HTTP_TWILIO, form, "MessageSid=SM1&SmsStatus=received&From=1&To=2&Body=%FF",
	     -EINVAL);
	hook(SMS_HTTP_TWILIO, "application/json", "MessageSid=SM1&MessageStatus=sent", -EINVAL);
	char *big = repeat("a", 70000);
	json_t *none = NULL;
	CHECK_EQ_INT(sms_http_parse_webhook(SMS_HTTP_TWILIO, form, big, strlen(big), &none),
		     -E2BIG);
	mem_free(big);
	/* the length is what counts, not a NUL */
	CHECK_EQ_INT(sms_http_parse_webhook(SMS_HTTP_TWILIO, form,
					    "MessageSid=SM1&MessageStatus=sent", 14, &none),
		     -EINVAL);
}

static void test_webhook_telnyx(void)
{
	const char *ct = "application/json";
	json_t *j =
	    hook(SMS_HTTP_TELNYX, ct,
		 "{\"data\":{\"event_type\":\"message.received\",\"id\":\"ev1\",\"payload\":{"
		 "\"id\":\"msg-in-1\",\"direction\":\"inbound\",\"from\":{\"phone_number\":"
		 "\"+15557654321\"},\"to\":[{\"phone_number\":\"+15551234567\",\"status\":"
		 "\"webhook_delivered\"}],\"text\":\"Привет 👋\",\"type\":\"SMS\"}}}",
		 0);
	CHECK_STR(json_str(j, "kind"), "inbound");
	CHECK_STR(json_str(j, "provider_id"), "msg-in-1");
	CHECK_STR(json_str(j, "status"), "received");
	CHECK_STR(json_str(j, "from"), "+15557654321");
	CHECK_STR(json_str(j, "to"), "+15551234567");
	CHECK_STR(json_str(j, "body"), "Привет 👋");
	json_decref(j);
	j = hook(
	    SMS_HTTP_TELNYX, ct,
	    "{\"data\":{\"event_type\":\"message.finalized\",\"payload\":{\"id\":\"m2\","
	    "\"from\":{\"phone_number\":\"+1\"},\"to\":[{\"phone_number\":\"+2\",\"status\":"
	    "\"delivery_failed\"}],\"errors\":[{\"code\":\"40008\",\"title\":\"Undeliverable\"}"
	    "]}}}",
	    0);
	CHECK_STR(json_str(j, "kind"), "receipt");
	CHECK_STR(json_str(j, "status"), "undelivered");
	CHECK_STR(json_str(j, "provider_status"), "delivery_failed");
	CHECK_STR(json_str(j, "error_code"), "40008");
	CHECK(is_null(j, "body"));
	json_decref(j);
	j = hook(SMS_HTTP_TELNYX, ct,
		 "{\"data\":{\"event_type\":\"message.finalized\",\"payload\":{\"id\":\"m3\","
		 "\"to\":[{\"status\":\"delivered\"}],\"errors\":[]}}}",
		 0);
	CHECK_STR(json_str(j, "status"), "delivered");
	CHECK(is_null(j, "error_code"));
	CHECK(is_null(j, "from"));
	json_decref(j);
	j = hook(SMS_HTTP_TELNYX, NULL,
		 "{\"data\":{\"event_type\":\"message.sent\",\"payload\":{\"id\":\"m4\"}}}", 0);
	CHECK_STR(json_str(j, "status"), "sent");
	json_decref(j);
	j = hook(SMS_HTTP_TELNYX, ct,
		 "{\"data\":{\"event_type\":\"message.finalized\",\"payload\":{\"id\":\"m5\","
		 "\"to\":[{\"status\":\"sending_failed\"}],\"errors\":[{\"code\":40001}]}}}",
		 0);
	CHECK_STR(json_str(j, "status"), "failed");
	CHECK_STR(json_str(j, "error_code"), "40001");
	json_decref(j);
	/* not understood */
	hook(SMS_HTTP_TELNYX, ct, "", -EINVAL);
	hook(SMS_HTTP_TELNYX, ct, "{", -EINVAL);
	hook(SMS_HTTP_TELNYX, ct, "[]", -EINVAL);
	hook(SMS_HTTP_TELNYX, ct, "{\"data\":{}}", -EINVAL);
	hook(SMS_HTTP_TELNYX, ct,
	     "{\"data\":{\"event_type\":\"call.initiated\",\"payload\":{\"id\":\"c1\"}}}", -EINVAL);
	hook(SMS_HTTP_TELNYX, ct,
	     "{\"data\":{\"event_type\":\"message.finalized\",\"payload\":{\"to\":[{\"status\":"
	     "\"delivered\"}]}}}",
	     -EINVAL); /* no id */
	hook(SMS_HTTP_TELNYX, ct,
	     "{\"data\":{\"event_type\":\"message.finalized\",\"payload\":{\"id\":\"x\"}}}",
	     -EINVAL); /* no status */
	hook(SMS_HTTP_TELNYX, ct,
	     "{\"data\":{\"event_type\":\"message.received\",\"payload\":{\"id\":\"x\",\"text\":"
	     "\"hi\"}}}",
	     -EINVAL); /* no numbers */
	hook(SMS_HTTP_TELNYX, "text/plain",
	     "{\"data\":{\"event_type\":\"message.sent\",\"payload\":{\"id\":\"m4\"}}}", -EINVAL);
	char *deep = cat3("[", 5000, "", 0, "]", 5000);
	hook(SMS_HTTP_TELNYX, ct, deep, -EINVAL);
	mem_free(deep);
	json_t *none = NULL;
	CHECK_EQ_INT(sms_http_parse_webhook((enum sms_http_kind)7, ct, "{}", 2, &none), -EINVAL);
}

/* The messaging TwiML answer parser (twiml.c) refuses DTDs and non-TwiML. */
static void test_twiml_replies(void)
{
	json_t *r = NULL;
	const char *ok =
	    "<?xml version=\"1.0\"?><Response><Message>a &amp; b</Message>"
	    "<Message to=\"+15551234567\"><Body>two</Body></Message><Message/></Response>";
	CHECK_EQ_INT(messaging_twiml_replies(ok, strlen(ok), &r), 0);
	CHECK_EQ_INT(json_array_size(r), 2);
	CHECK_STR(json_str(json_array_get(r, 0), "body"), "a & b");
	CHECK_STR(json_str(json_array_get(r, 1), "to"), "+15551234567");
	CHECK_STR(json_str(json_array_get(r, 1), "body"), "two");
	json_decref(r);
	const char *dtd =
	    "<!DOCTYPE r [<!ENTITY a \"x\">]><Response><Message>&a;</Message></Response>";
	CHECK_EQ_INT(messaging_twiml_replies(dtd, strlen(dtd), &r), -EINVAL);
	const char *ext = "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><Response/>";
	CHECK_EQ_INT(messaging_twiml_replies(ext, strlen(ext), &r), -EINVAL);
	CHECK_EQ_INT(messaging_twiml_replies("<Other/>", 8, &r), -EINVAL);
	CHECK_EQ_INT(messaging_twiml_replies("<Response>", 10, &r), -EINVAL);
	CHECK_EQ_INT(messaging_twiml_replies("", 0, &r), 0);
	CHECK_EQ_INT(json_array_size(r), 0);
	json_decref(r);
}

int main(void)
{
	test_twiml_replies();
	test_plan_gsm();
	test_plan_ucs2();
	test_plan_caps();
	test_plan_invalid();
	test_split_layout();
	test_decode_vectors();
	test_decode_udh();
	test_reasm_rules();
	test_round_trips();
	test_http();
	test_webhook_twilio();
	test_webhook_telnyx();
	return test_done("sms");
}
