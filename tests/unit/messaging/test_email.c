/* test_email.c: MIME building, templates and smtp_send (argument checks, and a scripted SMTP
   server on 127.0.0.1 for replies after DATA) through src/messaging/email.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "messaging/email.h"
#include "../test.h"

/* ---- helpers: a small reader for what we build ---- */

static int build(const struct email_msg *m, struct buf *out)
{
	buf_init(out, 0);
	return email_mime_build(m, 1700000000ull * 1000000, out);
}

/* The unfolded value of header name in the top-level header block, malloc'd, or NULL. */
static char *header(const char *mime, const char *name)
{
	const char *end = strstr(mime, "\r\n\r\n");
	size_t n = strlen(name);
	for (const char *p = mime; p && p < end; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, name, n) || p[n] != ':')
			continue;
		struct buf v;
		buf_init(&v, 0);
		const char *s = p + n + 1;
		for (;;) {
			const char *e = strstr(s, "\r\n");
			buf_append(&v, s, (size_t)(e - s));
			if (e[2] != ' ' && e[2] != '\t')
				break;
			s = e + 2;
		}
		char *r = buf_detach(&v);
		char *t = r;
		while (*t == ' ')
			t++;
		memmove(r, t, strlen(t) + 1);
		return r;
	}
	return NULL;
}

/* Decodes RFC 2047 B and Q encoded-words (white space between adjacent words dropped). */
static char *decode_words(const char *v)
{
	struct buf o;
	buf_init(&o, 0);
	bool prev_word = false;
	for (const char *p = v; *p;) {
		const char *ws = p;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "=?UTF-8?", 8) && (p[8] == 'B' || p[8] == 'Q') && p[9] == '?') {
			const char *s = p + 10, *e = strstr(s, "?=");
			if (!e)
				break;
			if (!prev_word)
				buf_append(&o, ws, (size_t)(p - ws));
			if (p[8] == 'B') {
				unsigned char *d;
				size_t dl;
				if (b64_decode(s, (size_t)(e - s), &d, &dl) == 0) {
					buf_append(&o, d, dl);
					free(d);
				}
			} else {
				for (const char *q = s; q < e; q++) {
					char c = *q == '_' ? ' ' : *q;
					if (*q == '=' && q + 2 < e) {
						unsigned x;
						sscanf(q + 1, "%2x", &x);
						c = (char)x;
						q += 2;
					}
					buf_append(&o, &c, 1);
				}
			}
			p = e + 2;
			prev_word = true;
		} else {
			buf_append(&o, ws, (size_t)(p - ws));
			const char *e = p + strcspn(p, " \t");
			buf_append(&o, p, (size_t)(e - p));
			p = e;
			prev_word = false;
		}
	}
	return buf_detach(&o);
}

static char *qp_decode(const char *s, size_t n)
{
	struct buf o;
	buf_init(&o, 0);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
		} else if (s[i] == '=' && i + 2 < n) {
			unsigned x;
			sscanf(s + i + 1, "%2x", &x);
			char c = (char)x;
			buf_append(&o, &c, 1);
			i += 2;
		} else {
			buf_append(&o, s + i, 1);
		}
	}
	return buf_detach(&o);
}

static bool all_crlf(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) ||
		    (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n')))
			return false;
	return true;
}

static size_t longest_line(const char *s, bool header_only)
{
	size_t best = 0;
	const char *end = header_only ? strstr(s, "\r\n\r\n") : s + strlen(s);
	for (const char *p = s; p && p < end;) {
		const char *e = strstr(p, "\r\n");
		if (!e)
			e = p + strlen(p);
		best = (size_t)(e - p) > best ? (size_t)(e - p) : best;
		p = *e ? e + 2 : NULL;
	}
	return best;
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The body of the part whose headers contain marker (up to the next "\r\n--"). */
static char *part_body(const char *mime, const char *marker, size_t *ret_len)
{
	const char *h = strstr(mime, marker);
	if (!h)
		return NULL;
	const char *b = strstr(h, "\r\n\r\n") + 4, *e = strstr(b, "\r\n--");
	if (!e)
		e = b + strlen(b);
	*ret_len = (size_t)(e - b);
	return mem_strndup(b, *ret_len);
}

/* ---- MIME ---- */

static const char *const to1[] = {"Alice <alice@example.test>", NULL};

static void test_text_only(void)
{
	struct email_msg m = {.from = "IRISX <noreply@example.test>",
			      .to = to1,
			      .subject = "Hello",
			      .text = "Line 1\nLine 2 \r\nA = B\n.leading dot\n"};
	struct buf b;
	CHECK_EQ_INT(build(&m, &b), 0);
	char *mime = b.p;
	CHECK(all_crlf(mime, b.len));
	char *v = header(mime, "Date");
	CHECK_STR(v, "Tue, 14 Nov 2023 22:13:20 +0000");
	free(v);
	v = header(mime, "MIME-Version");
	CHECK_STR(v, "1.0");
	free(v);
	v = header(mime, "From");
	CHECK_STR(v, "IRISX <noreply@example.test>");
	free(v);
	v = header(mime, "To");
	CHECK_STR(v, "Alice <alice@example.test>");
	free(v);
	v = header(mime, "Message-ID");
	CHECK(v && v[0] == '<' && strstr(v, "@example.test>") && strlen(v) > 20);
	free(v);
	v = header(mime, "Content-Type");
	CHECK_STR(v, "text/plain; charset=utf-8");
	free(v);
	v = header(mime, "Content-Transfer-Encoding");
	CHECK_STR(v, "quoted-printable");
	free(v);
	CHECK(!strstr(mime, "multipart"));
	CHECK(!header(mime, "Cc") && !header(mime, "Reply-To") && !header(mime, "Bcc"));
	const char *body = strstr(mime, "\r\n\r\n") + 4;
	/* trailing space encoded, '=' escaped, leading dot escaped, CRLF line ends */
	CHECK_STR(body, "Line 1\r\nLine 2=20\r\nA =3D B\r\n=2Eleading dot\r\n");
	char *d = qp_decode(body, strlen(body));
	CHECK_STR(d, "Line 1\r\nLine 2 \r\nA = B\r\n.leading dot\r\n");
	free(d);
	buf_free(&b);

	/* two builds: different Message-IDs */
	struct buf b2, b3;
	build(&m, &b2);
	build(&m, &b3);
	char *id2 = header(b2.p, "Message-ID"), *id3 = header(b3.p, "Message-ID");
	CHECK(id2 && id3 && strcmp(id2, id3) != 0);
	free(id2);
	free(id3);
	buf_free(&b2);
	buf_free(&b3);

	/* a given Message-ID is used as it is; a bad one is refused */
	m.message_id = "<abc.123@mail.example.test>";
	CHECK_EQ_INT(build(&m, &b), 0);
	v = header(b.p, "Message-ID");
	CHECK_STR(v, "<abc.123@mail.example.test>");
	free(v);
	buf_free(&b);
	m.message_id = "abc@x";
	CHECK_EQ_INT(build(&m, &b), -EINVAL);
	buf_free(&b);
}

static void test_html_only_and_alternative(void)
{
	struct email_msg m = {.from = "a@example.test", .to = to1, .html = "<p>Hi</p>"};
	struct buf b;
	CHECK_EQ_INT(build(&m, &b), 0);
	char *v = header(b.p, "Content-Type");
	CHECK_STR(v, "text/html; charset=utf-8");
	free(v);
	CHECK(strstr(b.p, "\r\n\r\n<p>Hi</p>\r\n") != NULL);
	buf_free(&b);

	m.text = "Hi";
	CHECK_EQ_INT(build(&m, &b), 0);
	CHECK(all_crlf(b.p, b.len));
	v = header(b.p, "Content-Type");
	CHECK(v && !strncmp(v, "multipart/alternative; boundary=\"=_irx_", 39));
	char bound[64] = "--";
	if (v)
		snprintf(bound + 2, sizeof(bound) - 2, "%.30s", v + 33);
	free(v);
	CHECK_EQ_INT(count(b.p, bound + 2), 4); /* parameter + open + between + close */
	char close[80];
	snprintf(close, sizeof(close), "%s--\r\n", bound);
	CHECK(strstr(b.p, close) != NULL);
	const char *tp = strstr(b.p, "Content-Type: text/plain"),
		   *hp = strstr(b.p, "Content-Type: text/html");
	CHECK(tp && hp && tp < hp);
	size_t n;
	char *t = part_body(b.p, "Content-Type: text/plain", &n);
	CHECK_STR(t, "Hi");
	mem_free(t);
	buf_free(&b);

	/* no body at all: an empty text/plain part */
	m.text = m.html = NULL;
	CHECK_EQ_INT(build(&m, &b), 0);
	v = header(b.p, "Content-Type");
	CHECK_STR(v, "text/plain; charset=utf-8");
	free(v);
	buf_free(&b);
}

static void test_attachments(void)
{
	unsigned char bin[5000];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i % 7 == 0 ? 0 : i * 31);
	struct email_attachment att[] = {
	    {"data.bin", "application/octet-stream", bin, sizeof(bin)},
	    {"r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac.pdf", "application/pdf",
	     (const unsigned char *)"%PDF", 4},
	    {NULL, NULL, NULL, 0},
	};
	struct email_msg m = {.from = "a@example.test",
			      .to = to1,
			      .text = "see attached",
			      .html = "<p>see attached</p>",
			      .attachments = att,
			      .nattachments = 3};
	struct buf b;
	CHECK_EQ_INT(build(&m, &b), 0);
	CHECK(all_crlf(b.p, b.len));
	CHECK(longest_line(b.p, false) <= 76);
	char *v = header(b.p, "Content-Type");
	CHECK(v && !strncmp(v, "multipart/mixed; boundary=\"=_irx_", 33));
	char bound[64] = "--";
	if (v)
		snprintf(bound + 2, sizeof(bound) - 2, "%.30s", v + 27);
	free(v);
	CHECK_EQ_INT(count(b.p, bound + 2), 3 + 3);
	CHECK(strstr(b.p, "multipart/alternative") != NULL);
	CHECK_EQ_INT(count(b.p, "Content-Disposition: attachment;"), 3);
	CHECK(strstr(b.p, "filename=\"data.bin\"") != NULL);
	CHECK(strstr(b.p, "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf") != NULL);
	CHECK(strstr(b.p, "filename=\"attachment\"") != NULL);
	/* the binary part decodes back, NULs included; its lines are 76 characters */
	size_t n;
	char *enc = part_body(b.p, "filename=\"data.bin\"", &n);
	CHECK(enc && strlen(enc) > 76 && enc[76] == '\r' && enc[77] == '\n');
	struct buf joined;
	buf_init(&joined, 0);
	for (char *p = enc; p && *p;) {
		size_t k = strcspn(p, "\r");
		buf_append(&joined, p, k);
		p += k + (p[k] ? 2 : 0);
	}
	unsigned char *dec = NULL;
	size_t dl = 0;
	CHECK_EQ_INT(b64_decode(joined.p, joined.len, &dec, &dl), 0);
	CHECK(dl == sizeof(bin) && dec && !memcmp(dec, bin, sizeof(bin)));
	free(dec);
	buf_free(&joined);
	mem_free(enc);
	buf_free(&b);

	/* a long non-ASCII file name: RFC 2231 continuations, lines under 78 */
	char longname[200] = "";
	for (int i = 0; i < 20; i++)
		snprintf(longname + strlen(longname), sizeof(longname) - strlen(longname),
			 "\xc3\xa9t\xc3\xa9");
	struct email_attachment one = {longname, "text/plain; charset=utf-8",
				       (const unsigned char *)"x", 1};
	struct email_msg m2 = {.from = "a@example.test",
			       .to = to1,
			       .text = "t",
			       .attachments = &one,
			       .nattachments = 1};
	CHECK_EQ_INT(build(&m2, &b), 0);
	CHECK(strstr(b.p, "filename*0*=UTF-8''%C3%A9t%C3%A9") && strstr(b.p, "filename*1*="));
	CHECK(strstr(b.p, "Content-Type: text/plain; charset=utf-8\r\n") != NULL);
	CHECK(longest_line(b.p, false) <= 78);
	buf_free(&b);

	/* bad content types and file names */
	const char *bad_ct[] = {"nope",		  "/x",	       "text/", "te xt/plain",
				"text/plain\x01", "text/pl@in"};
	for (size_t i = 0; i < sizeof(bad_ct) / sizeof(*bad_ct); i++) {
		one.content_type = bad_ct[i];
		CHECK_EQ_INT(build(&m2, &b), -EINVAL);
		CHECK_EQ_INT(b.len, 0);
		buf_free(&b);
	}
	one.content_type = NULL;
	one.filename = "bad\xff.txt";
	CHECK_EQ_INT(build(&m2, &b), -EINVAL);
	buf_free(&b);
}

static void test_utf8_headers(void)
{
	const char *subj =
	    "H\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
	    "\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d, a long one that must fold "
	    "\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89 over several lines of "
	    "encoded words";
	const char *to[] = {"Z\xc3\xb6\xc3\xab M\xc3\xbcller <zoe@example.test>",
			    "\"Doe, John\" <john@example.test>", "Plain Name <plain@example.test>",
			    "bare@example.test", NULL};
	const char *cc[] = {"\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e <taro@example.test>",
			    NULL};
	struct email_msg m = {.from = "Caf\xc3\xa9 <cafe@example.test>",
			      .reply_to = "Support D\xc3\xa9sk <s@example.test>",
			      .to = to,
			      .cc = cc,
			      .subject = subj,
			      .text = "x"};
	struct buf b;
	CHECK_EQ_INT(build(&m, &b), 0);
	CHECK(longest_line(b.p, true) <= 78);
	char *v = header(b.p, "Subject"), *d = v ? decode_words(v) : NULL;
	CHECK(v && !strncmp(v, "=?UTF-8?B?", 10));
	CHECK_STR(d, subj);
	free(v);
	free(d);
	CHECK(count(b.p, "\r\n =?UTF-8?B?") >= 2); /* folded */
	v = header(b.p, "To");
	d = v ? decode_words(v) : NULL;
	CHECK_STR(d, "Z\xc3\xb6\xc3\xab M\xc3\xbcller <zoe@example.test>, \"Doe, John\" "
		     "<john@example.test>, Plain Name <plain@example.test>, bare@example.test");
	free(v);
	free(d);
	v = header(b.p, "Cc");
	d = v ? decode_words(v) : NULL;
	CHECK_STR(d, "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e <taro@example.test>");
	free(v);
	free(d);
	v = header(b.p, "From");
	d = v ? decode_words(v) : NULL;
	CHECK_STR(d, "Caf\xc3\xa9 <cafe@example.test>");
	free(v);
	free(d);
	v = header(b.p, "Reply-To");
	d = v ? decode_words(v) : NULL;
	CHECK_STR(d, "Support D\xc3\xa9sk <s@example.test>");
	free(v);
	free(d);
	buf_free(&b);

	/* a long ASCII subject folds at spaces and unfolds back exactly (double spaces too) */
	char ascii[600] = "";
	for (int i = 0; i < 40; i++)
		snprintf(ascii + strlen(ascii), sizeof(ascii) - strlen(ascii), "word%02d%s", i,
			 i == 10 ? "  " : " ");
	ascii[strlen(ascii) - 1] = '\0';
	m.subject = ascii;
	CHECK_EQ_INT(build(&m, &b), 0);
	CHECK(longest_line(b.p, true) <= 78);
	v = header(b.p, "Subject");
	CHECK_STR(v, ascii);
	free(v);
	buf_free(&b);

	/* text that looks like an encoded-word, a tab, or a word too long to fold: encoded */
	const char *enc_cases[] = {
	    "=?UTF-8?B?SGk=?= fake", "tab\there",
	    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaa")};
	for (size_t i = 0; i < 3; i++) {
		m.subject = enc_cases[i];
		CHECK_EQ_INT(build(&m, &b), 0);
		v = header(b.p, "Subject");
		d = v ? decode_words(v) : NULL;
		CHECK(v && !strncmp(v, "=?UTF-8?B?", 10));
		CHECK_STR(d, enc_cases[i]);
		CHECK(longest_line(b.p, true) <= 78);
		free(v);
		free(d);
		buf_free(&b);
	}

	/* the cap: 998 bytes of subject is fine and every line stays short; 999 is not */
	char big[1000];
	for (int i = 0; i < 998; i++)
		big[i] = i % 3 == 2 ? '\xa9' : i % 3 == 1 ? '\xc2' : 'x';
	big[998] = '\0';
	for (int i = 0; i + 2 < 996; i += 3)
		big[i] = 'x', big[i + 1] = '\xc2', big[i + 2] = '\xa9';
	big[996] = 'y';
	big[997] = 'z';
	m.subject = big;
	CHECK_EQ_INT(build(&m, &b), 0);
	CHECK(longest_line(b.p, true) <= 78);
	v = header(b.p, "Subject");
	d = v ? decode_words(v) : NULL;
	CHECK_STR(d, big);
	free(v);
	free(d);
	buf_free(&b);
	char over[1001];
	memset(over, 'a', 999);
	over[999] = '\0';
	m.subject = over;
	CHECK_EQ_INT(build(&m, &b), -E2BIG);
	buf_free(&b);
	m.subject = "bad \xc3\x28 utf-8";
	CHECK_EQ_INT(build(&m, &b), -EINVAL);
	buf_free(&b);
}

static void test_long_lines_and_b64_text(void)
{
	struct buf text;
	buf_init(&text, 0);
	for (int i = 0; i < 5000; i++)
		buf_append(&text, i % 50 == 49 ? " " : "a", 1);
	buf_puts(&text, "\n\xc3\xa9\xc3\xa9\xc3\xa9 end \n");
	char *t = buf_detach(&text);
	struct email_msg m = {.from = "a@example.test", .to = to1, .text = t};
	struct buf b;
	CHECK_EQ_INT(build(&m, &b), 0);
	CHECK(longest_line(b.p, false) <= 76);
	const char *body = strstr(b.p, "\r\n\r\n") + 4;
	char *d = qp_decode(body, strlen(body));
	struct buf want;
	buf_init(&want, 0);
	buf_append(&want, t, 5000);
	buf_puts(&want, "\r\n\xc3\xa9\xc3\xa9\xc3\xa9 end \r\n");
	CHECK_STR(d, want.p);
	free(d);
	buf_free(&want);
	buf_free(&b);
	mem_free(t);

	/* mostly non-ASCII text goes out as base64, in CRLF canonical form */
	const char *jp = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n\xe6\x97\xa5\xe6\x9c\xac";
	m.text = jp;
	CHECK_EQ_INT(build(&m, &b), 0);
	char *v = header(b.p, "Content-Transfer-Encoding");
	CHECK_STR(v, "base64");
	free(v);
	body = strstr(b.p, "\r\n\r\n") + 4;
	unsigned char *dec = NULL;
	size_t dl = 0;
	CHECK_EQ_INT(b64_decode(body, strcspn(body, "\r"), &dec, &dl), 0);
	CHECK_STR((char *)dec, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\r\n\xe6\x97\xa5\xe6\x9c\xac");
	free(dec);
	buf_free(&b);

	/* content holding boundary-like text: the real boundaries still occur only as such */
	m.text = "--=_irx_000000000000000000000000\n=_irx_ --=_ =_";
	m.html = "<p>--=_irx_</p>";
	CHECK_EQ_INT(build(&m, &b), 0);
	v = header(b.p, "Content-Type");
	char bound[64] = "--";
	if (v)
		snprintf(bound + 2, sizeof(bound) - 2, "%.30s", v + 33);
	CHECK_EQ_INT(count(b.p, bound + 2), 4);
	free(v);
	buf_free(&b);

	/* the output buffer's own cap */
	m.text = "a longer body than eight bytes";
	m.html = NULL;
	buf_init(&b, 64);
	CHECK_EQ_INT(email_mime_build(&m, 0, &b), -E2BIG);
	CHECK_EQ_INT(b.len, 0);
	buf_free(&b);
}

static void test_injection_and_addresses(void)
{
	struct email_attachment att = {"a.txt", "text/plain", (const unsigned char *)"x", 1};
	const char *bad_to[] = {"a@example.test\r\nBcc: victim@example.test", NULL};
	const char *ok_to[] = {"a@example.test", NULL};
	struct email_msg base = {
	    .from = "a@example.test", .to = ok_to, .subject = "s", .text = "t"};
	struct email_msg m;
	struct buf b;

	const char *inj[] = {"x\r\nBcc: v@example.test", "x\nX: y", "x\r", "\n"};
	for (size_t i = 0; i < 4; i++) {
		m = base;
		m.subject = inj[i];
		CHECK_EQ_INT(build(&m, &b), -EINVAL);
		CHECK_EQ_INT(b.len, 0);
		buf_free(&b);
		m = base;
		m.from = inj[i];
		CHECK_EQ_INT(build(&m, &b), -EINVAL);
		buf_free(&b);
		m = base;
		m.reply_to = inj[i];
		CHECK_EQ_INT(build(&m, &b), -EINVAL);
		buf_free(&b);
		m = base;
		m.message_id = inj[i];
		CHECK_EQ_INT(build(&m, &b), -EINVAL);
		buf_free(&b);
		m = base;
		att.filename = inj[i];
		m.attachments = &att;
		m.nattachments = 1;
		CHECK_EQ_INT(build(&m, &b), -EINVAL);
		CHECK_EQ_INT(b.len, 0);
		buf_free(&b);
		att.filename = "a.txt";
		att.content_type = inj[i];
		CHECK_EQ_INT(build(&m, &b), -EINVAL);
		buf_free(&b);
		att.content_type = "text/plain";
	}
	m = base;
	m.to = bad_to;
	CHECK_EQ_INT(build(&m, &b), -EINVAL);
	buf_free(&b);
	m = base;
	m.cc = bad_to;
	CHECK_EQ_INT(build(&m, &b), -EINVAL);
	buf_free(&b);
	m = base;
	m.from = "Name <a@example.test>\r\n";
	CHECK_EQ_INT(build(&m, &b), -EINVAL);
	buf_free(&b);

	const char *bad_addr[] = {
	    "not an address", "a@",	     "@b.test",		 "a b@c.test",
	    "a@b..test",      "a..b@c.test", ".a@c.test",	 "a@-b.test",
	    "Name <a@b.test", "<>",	     "a\xc3\xa9@b.test", "a@b.test>",
	    "a@[1.2.3.4",     "a@b_c.test",  "a(b)@c.test",	 "Name <a@b.test> trailing"};
	for (size_t i = 0; i < sizeof(bad_addr) / sizeof(*bad_addr); i++) {
		const char *l[] = {bad_addr[i], NULL};
		m = base;
		m.to = l;
		int r = build(&m, &b);
		if (r != -EINVAL)
			fprintf(stderr, "accepted bad address %s\n", bad_addr[i]);
		CHECK_EQ_INT(r, -EINVAL);
		buf_free(&b);
	}
	const char *good_addr[] = {
	    "a@b.test",	     "<a@b.test>",	    "  Name   <a.b+c@x-y.b.test>  ",
	    "a@[192.0.2.1]", "o'neil@example.test", "\"Q \\\"x\\\"\" <q@b.test>"};
	for (size_t i = 0; i < sizeof(good_addr) / sizeof(*good_addr); i++) {
		const char *l[] = {good_addr[i], NULL};
		m = base;
		m.to = l;
		int r = build(&m, &b);
		if (r != 0)
			fprintf(stderr, "refused good address %s\n", good_addr[i]);
		CHECK_EQ_INT(r, 0);
		buf_free(&b);
	}
	m = base;
	m.from = NULL;
	CHECK_EQ_INT(build(&m, &b), -EINVAL);
	buf_free(&b);
	CHECK_EQ_INT(build(NULL, &b), -EINVAL);
	buf_free(&b);
}

static void test_caps(void)
{
	static char addrs[EMAIL_RCPT_MAX + 2][32];
	const char *to[EMAIL_RCPT_MAX + 2] = {0};
	for (int i = 0; i < EMAIL_RCPT_MAX + 1; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "r%d@example.test", i);
		to[i] = addrs[i];
	}
	struct email_msg m = {.from = "a@example.test", .to = to, .text = "t"};
	struct buf b;
	CHECK_EQ_INT(build(&m, &b), -E2BIG); /* 51 */
	buf_free(&b);
	to[EMAIL_RCPT_MAX] = NULL;
	CHECK_EQ_INT(build(&m, &b), 0); /* 50 in To, folded */
	CHECK(longest_line(b.p, true) <= 78);
	buf_free(&b);
	const char *cc[] = {"c@example.test", NULL};
	m.cc = cc;
	CHECK_EQ_INT(build(&m, &b), -E2BIG); /* 50 + 1 */
	buf_free(&b);

	/* attachments: the cap is on the sum, checked before anything is read */
	static const unsigned char one[1] = {0};
	struct email_attachment att[2] = {
	    {"a", NULL, one, EMAIL_ATTACH_MAX / 2 + 1},
	    {"b", NULL, one, EMAIL_ATTACH_MAX / 2},
	};
	struct email_msg m2 = {
	    .from = "a@example.test", .to = to1, .attachments = att, .nattachments = 2};
	CHECK_EQ_INT(build(&m2, &b), -E2BIG);
	buf_free(&b);
	att[0].len = EMAIL_ATTACH_MAX + 1;
	m2.nattachments = 1;
	CHECK_EQ_INT(build(&m2, &b), -E2BIG);
	buf_free(&b);
	att[0].len = (size_t)-1;
	att[1].len = 2;
	m2.nattachments = 2;
	CHECK_EQ_INT(build(&m2, &b), -E2BIG);
	buf_free(&b);
	m2.attachments = NULL;
	CHECK_EQ_INT(build(&m2, &b), -EINVAL);
	buf_free(&b);
	/* exactly at the cap: built */
	unsigned char *big = mem_zalloc(EMAIL_ATTACH_MAX);
	struct email_attachment full = {"full.bin", NULL, big, EMAIL_ATTACH_MAX};
	m2.attachments = &full;
	m2.nattachments = 1;
	CHECK_EQ_INT(build(&m2, &b), 0);
	CHECK(b.len > EMAIL_ATTACH_MAX / 3 * 4);
	buf_free(&b);
	mem_free(big);
}

/* ---- templates ---- */

static char *render(const char *tpl, const char *vars_json, bool html, int *ret_r,
		    char **ret_missing)
{
	json_t *vars = vars_json ? json_loads(vars_json, 0, NULL) : NULL, *missing = NULL;
	struct buf b;
	buf_init(&b, 0);
	*ret_r = email_template_render(tpl, vars, html, &b, ret_missing ? &missing : NULL);
	if (ret_missing)
		*ret_missing = missing ? json_dumps(missing, JSON_COMPACT) : NULL;
	json_decref(missing);
	json_decref(vars);
	return buf_detach(&b);
}

static void test_templates(void)
{
	int r;
	char *miss, *s;
	s = render("Hi {{name}}, code {{ code }}{{  n\t}}!",
		   "{\"name\":\"Zo\xc3\xab\",\"code\":123456,\"n\":1.5}", false, &r, &miss);
	CHECK_EQ_INT(r, 0);
	CHECK_STR(s, "Hi Zo\xc3\xab, code 123456"
		     "1.5!");
	CHECK_STR(miss, "[]");
	free(s);
	free(miss);

	const char *vars = "{\"x\":\"<a href=\\\"x\\\">Tom & 'Jerry'</a>\"}";
	s = render("<p>{{x}}</p>", vars, true, &r, NULL);
	CHECK_EQ_INT(r, 0);
	CHECK_STR(s, "<p>&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;</p>");
	free(s);
	s = render("{{x}}", vars, false, &r, NULL);
	CHECK_STR(s, "<a href=\"x\">Tom & 'Jerry'</a>");
	free(s);

	s = render("[{{a}}|{{b}}|{{t}}|{{f}}|{{z}}|{{o}}|{{a}}|{{b}}]",
		   "{\"t\":true,\"f\":false,\"z\":null,\"o\":{\"k\":1},\"i\":-7}", true, &r, &miss);
	CHECK_EQ_INT(r, 0);
	CHECK_STR(s, "[||true|false||||]");
	CHECK_STR(miss, "[\"a\",\"b\",\"o\"]"); /* each once, in order */
	free(s);
	free(miss);

	s = render("no vars {{who}}", NULL, false, &r, &miss);
	CHECK_EQ_INT(r, 0);
	CHECK_STR(s, "no vars ");
	CHECK_STR(miss, "[\"who\"]");
	free(s);
	free(miss);

	/* literal braces that are not placeholders stay */
	s = render("a { b } }} {x} c", "{}", false, &r, &miss);
	CHECK_EQ_INT(r, 0);
	CHECK_STR(s, "a { b } }} {x} c");
	free(s);
	free(miss);
	/* substituted values are not templates themselves */
	s = render("{{v}}", "{\"v\":\"{{v}}\"}", false, &r, NULL);
	CHECK_STR(s, "{{v}}");
	free(s);

	const char *bad[] = {"open {{name", "{{}}",	     "{{ }}",	    "{{a b}}",
			     "{{a}",	    "x {{ {{y}} }}", "{{\xc3\xa9}}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		s = render(bad[i], "{}", false, &r, &miss);
		CHECK_EQ_INT(r, -EINVAL);
		CHECK(miss == NULL); /* ret_missing set only on success */
		free(s);
	}
	/* the output buffer's cap */
	json_t *v = json_pack("{s:s}", "x", "0123456789");
	struct buf b;
	buf_init(&b, 16);
	CHECK_EQ_INT(email_template_render("{{x}}{{x}}", v, false, &b, NULL), -E2BIG);
	buf_free(&b);
	json_decref(v);
}

/* ---- smtp_send ---- */

/* A scripted SMTP server for one connection: answers each command from the script by its
   first word; collects the DATA. */
struct scripted {
	int lfd, port;
	const char *rcpt_reply, *data_end_reply;
	char data[4096];
	size_t dlen;
	pthread_t th;
};

static void say(int fd, const char *s)
{
	ssize_t w = write(fd, s, strlen(s));
	(void)w;
}

static void *scripted_run(void *arg)
{
	struct scripted *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	say(fd, "220 scripted ESMTP\r\n");
	char buf[8192];
	size_t len = 0;
	bool in_data = false;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *eol;
		while ((eol = strstr(buf, "\r\n"))) {
			size_t l = (size_t)(eol - buf);
			if (in_data) {
				if (l == 1 && buf[0] == '.') {
					in_data = false;
					say(fd, s->data_end_reply);
				} else if (s->dlen + l + 2 < sizeof(s->data)) {
					memcpy(s->data + s->dlen, buf, l);
					memcpy(s->data + s->dlen + l, "\r\n", 2);
					s->dlen += l + 2;
				}
			} else if (!strncasecmp(buf, "EHLO", 4)) {
				say(fd, "250-scripted\r\n250 8BITMIME\r\n");
			} else if (!strncasecmp(buf, "MAIL", 4)) {
				say(fd, "250 ok\r\n");
			} else if (!strncasecmp(buf, "RCPT", 4)) {
				say(fd, s->rcpt_reply);
			} else if (!strncasecmp(buf, "DATA", 4)) {
				in_data = true;
				say(fd, "354 go ahead\r\n");
			} else if (!strncasecmp(buf, "QUIT", 4)) {
				say(fd, "221 bye\r\n");
				close(fd);
				return NULL;
			} else {
				say(fd, "502 no\r\n");
			}
			memmove(buf, eol + 2, len - l - 2 + 1);
			len -= l + 2;
		}
	}
	close(fd);
	return NULL;
}

static void scripted_start(struct scripted *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	bind(s->lfd, (struct sockaddr *)&a, sizeof(a));
	listen(s->lfd, 4);
	getsockname(s->lfd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->th, NULL, scripted_run, s);
}

static void scripted_stop(struct scripted *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static void test_smtp(void)
{
	struct smtp_config c = {.host = "127.0.0.1", .port = 1, .timeout_ms = 3000};
	const char *rc1[] = {"a@example.test"};
	struct smtp_result res;
	const char *mime = "Subject: x\r\n\r\n.dot\r\nbody\r\n";

	CHECK_EQ_INT(smtp_send(&c, "f@example.test", rc1, 0, mime, strlen(mime), &res), -EINVAL);
	const char *bad_rcpt[] = {"a@example.test>\r\nRCPT TO:<b@x>"};
	CHECK_EQ_INT(smtp_send(&c, "f@example.test", bad_rcpt, 1, mime, strlen(mime), &res),
		     -EINVAL);
	CHECK_EQ_INT(smtp_send(&c, "f@x\r\n", rc1, 1, mime, strlen(mime), &res), -EINVAL);
	struct smtp_config bad_host = c;
	bad_host.host = "evil.test/path?x";
	CHECK_EQ_INT(smtp_send(&bad_host, "f@example.test", rc1, 1, mime, strlen(mime), &res),
		     -EINVAL);
	bad_host.host = "user@evil.test";
	CHECK_EQ_INT(smtp_send(&bad_host, "f@example.test", rc1, 1, mime, strlen(mime), &res),
		     -EINVAL);
	CHECK_EQ_INT(
	    smtp_send(&c, "f@example.test", rc1, EMAIL_RCPT_MAX + 1, mime, strlen(mime), &res),
	    -EINVAL);

	/* nothing listens on port 1: a temporary transport error */
	CHECK_EQ_INT(smtp_send(&c, "f@example.test", rc1, 1, mime, strlen(mime), &res), -EIO);
	CHECK_EQ_INT(res.code, 0);
	CHECK(!res.permanent && res.text[0]);

	/* accepted: 250, the message arrives byte for byte (dot-stuffed on the wire) */
	struct scripted s = {.rcpt_reply = "250 ok\r\n",
			     .data_end_reply = "250 2.0.0 queued as X1\r\n"};
	scripted_start(&s);
	c.port = s.port;
	CHECK_EQ_INT(smtp_send(&c, "f@example.test", rc1, 1, mime, strlen(mime), &res), 0);
	CHECK_EQ_INT(res.code, 250);
	CHECK_STR(res.text, "250 2.0.0 queued as X1");
	scripted_stop(&s);
	CHECK(s.dlen == strlen(mime) + 1 && !memcmp(s.data, "Subject: x\r\n\r\n..dot\r\n", 21));

	/* refused after DATA: permanent with the server's text */
	struct scripted s2 = {.rcpt_reply = "250 ok\r\n", .data_end_reply = "554 5.7.1 spam\r\n"};
	scripted_start(&s2);
	c.port = s2.port;
	CHECK_EQ_INT(smtp_send(&c, "", rc1, 1, mime, strlen(mime), &res), -EIO);
	CHECK_EQ_INT(res.code, 554);
	CHECK(res.permanent);
	CHECK_STR(res.text, "554 5.7.1 spam");
	scripted_stop(&s2);

	/* 452 at RCPT: temporary */
	struct scripted s3 = {.rcpt_reply = "452 4.2.2 full\r\n", .data_end_reply = "250 ok\r\n"};
	scripted_start(&s3);
	c.port = s3.port;
	CHECK_EQ_INT(smtp_send(&c, "f@example.test", rc1, 1, mime, strlen(mime), NULL), -EIO);
	scripted_stop(&s3);
	CHECK_EQ_INT(s3.dlen, 0);
}

int main(void)
{
	test_text_only();
	test_html_only_and_alternative();
	test_attachments();
	test_utf8_headers();
	test_long_lines_and_b64_text();
	test_injection_and_addresses();
	test_caps();
	test_templates();
	test_smtp();
	return test_done("email");
}
