/* email.c: MIME building (RFC 5322, 2045-2047, 2231) and {{name}} template rendering. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "email.h"

#define LINE_SOFT 76	  /* header lines are folded to stay at or under this (RFC 5322: 78) */
#define PHRASE_PLAIN 60	  /* longer words and quoted names are encoded so that they can fold */
#define ADDR_MAX 254	  /* RFC 5321 path limit */
#define NAME_MAX_ 256	  /* display names and file names, bytes */
#define B64_LINE_IN 57	  /* 57 input bytes = one 76-character base64 line */
#define QP_LINE 75	  /* quoted-printable: 75 characters + "=" soft break = 76 */
#define TPL_NAME_MAX 128  /* {{ name }} */
#define FILENAME_PLAIN 60 /* longer file names use RFC 2231 continuations */

/* Sticky-error writer: once a write fails, the rest are skipped and w->r says why. col
   and tok track the current header line for folding. */
struct w {
	struct buf *b;
	size_t col;
	bool tok; /* the current header line already holds a token after its name */
	int r;
};

static void w_put(struct w *w, const void *s, size_t n)
{
	if (w->r < 0)
		return;
	int r = buf_append(w->b, s, n);
	if (r < 0)
		w->r = r;
}

static void w_puts(struct w *w, const char *s)
{
	w_put(w, s, strlen(s));
}

static const char b64_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes n <= 57 bytes into out (76 + 1 bytes); returns the length. */
static size_t b64_chunk(const unsigned char *p, size_t n, char *out)
{
	char *o = out;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64_tab[v >> 18];
		*o++ = b64_tab[(v >> 12) & 63];
		*o++ = b64_tab[(v >> 6) & 63];
		*o++ = b64_tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = b64_tab[v >> 18];
		*o++ = b64_tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64_tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return (size_t)(o - out);
}

/* ---- validation ---- */

static bool has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

/* Length of the UTF-8 sequence at s (validated: no overlongs, surrogates or > U+10FFFF),
   0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t k = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (k == 0 || s[0] > 0xf4 || k > n)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return k;
}

static bool utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len((const unsigned char *)s + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* Needs RFC 2047 encoding: non-ASCII, control characters, or text that a reader would
   take for an encoded-word. */
static bool needs_encoding(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || (c == '=' && i + 1 < n && s[i + 1] == '?'))
			return true;
	}
	return false;
}

static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* addr-spec with a dot-atom local part and a host name or [literal] domain; ASCII only
   (no SMTPUTF8). */
static bool addr_valid(const char *a, size_t n)
{
	const char *at = memrchr(a, '@', n);
	if (!at || n > ADDR_MAX || at == a || at - a > 64 || at + 1 == a + n)
		return false;
	for (const char *p = a; p < at; p++)
		if (!(is_atext((unsigned char)*p) ||
		      (*p == '.' && p != a && p + 1 != at && p[1] != '.')))
			return false;
	const char *d = at + 1, *e = a + n;
	if (*d == '[') {
		if (e[-1] != ']' || e - d < 3)
			return false;
		for (const char *p = d + 1; p < e - 1; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
			      (*p >= 'A' && *p <= 'F') || *p == '.' || *p == ':'))
				return false;
		return true;
	}
	for (const char *p = d; p < e; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9');
		bool dot_ok = *p == '.' && p != d && p + 1 != e && p[1] != '.' && p[-1] != '-';
		bool dash_ok = *p == '-' && p != d && p[-1] != '.' && p + 1 != e && p[1] != '.';
		if (!alnum && !dot_ok && !dash_ok)
			return false;
	}
	return true;
}

struct mailbox {
	char name[NAME_MAX_ + 1];
	char addr[ADDR_MAX + 1];
};

static bool is_sp(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses "addr", "<addr>", "Name <addr>" or "\"Name\" <addr>". */
static int mailbox_parse(const char *s, struct mailbox *mb)
{
	if (!s || has_crlf(s))
		return -EINVAL;
	size_t n = strlen(s);
	while (n && is_sp(s[n - 1]))
		n--;
	while (n && is_sp(*s))
		s++, n--;
	const char *lt = n && s[n - 1] == '>' ? memrchr(s, '<', n) : NULL;
	const char *a = lt ? lt + 1 : s, *name = s;
	size_t alen = lt ? (size_t)(s + n - 1 - a) : n, nlen = lt ? (size_t)(lt - s) : 0;
	if (!addr_valid(a, alen))
		return -EINVAL;
	memcpy(mb->addr, a, alen);
	mb->addr[alen] = '\0';
	while (nlen && is_sp(name[nlen - 1]))
		nlen--;
	bool quoted = nlen >= 2 && name[0] == '"' && name[nlen - 1] == '"';
	if (quoted)
		name++, nlen -= 2;
	if (nlen > NAME_MAX_ || !utf8_valid(name, nlen))
		return -EINVAL;
	size_t o = 0;
	for (size_t i = 0; i < nlen; i++) {
		if (quoted && name[i] == '\\' && i + 1 < nlen)
			i++;
		mb->name[o++] = name[i];
	}
	mb->name[o] = '\0';
	return 0;
}

/* ---- headers ---- */

static void hdr_start(struct w *w, const char *name)
{
	w_puts(w, name);
	w_puts(w, ":");
	w->col = strlen(name) + 1;
	w->tok = false;
}

static void hdr_end(struct w *w)
{
	w_puts(w, "\r\n");
}

/* Appends " token", folding before it when the line would grow past LINE_SOFT. Empty
   tokens never fold (a folded line must not be only white space). */
static void hdr_tok(struct w *w, const char *s, size_t n)
{
	if (n && w->tok && w->col + 1 + n > LINE_SOFT) {
		w_puts(w, "\r\n");
		w->col = 0;
	}
	w_put(w, " ", 1);
	w_put(w, s, n);
	w->col += 1 + n;
	w->tok = true;
}

/* RFC 2047 B encoded-words sized to the room left on each line, never splitting a UTF-8
   sequence (s is valid UTF-8). */
static void hdr_encoded(struct w *w, const char *s, size_t n, const char *suffix)
{
	const size_t over = strlen("=?UTF-8?B?"
				   "?=") +
			    strlen(suffix);
	size_t i = 0;
	do {
		size_t room = w->col + 1 < LINE_SOFT ? LINE_SOFT - w->col - 1 : 0;
		if (w->tok && room < over + 8) {
			w_puts(w, "\r\n");
			w->col = 0;
			w->tok = false;
			room = LINE_SOFT - 1;
		}
		size_t max = room > over ? (room - over) / 4 * 3 : 0, k = 0;
		if (max < 4)
			max = 4;
		while (i + k < n) {
			size_t c = utf8_len((const unsigned char *)s + i + k, n - i - k);
			if (k + c > max)
				break;
			k += c;
		}
		char word[96] = "=?UTF-8?B?";
		size_t len = 10;
		for (size_t j = 0; j < k; j += B64_LINE_IN) {
			size_t m = k - j < B64_LINE_IN ? k - j : B64_LINE_IN;
			len += b64_chunk((const unsigned char *)s + i + j, m, word + len);
		}
		memcpy(word + len, "?=", 2);
		len += 2;
		i += k;
		if (i >= n) {
			memcpy(word + len, suffix, strlen(suffix));
			len += strlen(suffix);
		}
		hdr_tok(w, word, len);
	} while (i < n);
}

/* A display name: atoms as they are, a quoted-string when it has specials, encoded-words
   when it is not plain ASCII or too long to fold. */
static void hdr_phrase(struct w *w, const char *s)
{
	size_t n = strlen(s), quoted = 2, word = 0, longest = 0;
	bool atoms = true;
	for (size_t i = 0; i < n; i++) {
		atoms = atoms && (is_atext((unsigned char)s[i]) || s[i] == ' ');
		quoted += 1 + (s[i] == '"' || s[i] == '\\');
		word = s[i] == ' ' ? 0 : word + 1;
		longest = word > longest ? word : longest;
	}
	if (needs_encoding(s, n) || (atoms ? longest : quoted) > PHRASE_PLAIN) {
		hdr_encoded(w, s, n, "");
	} else if (atoms) {
		for (const char *p = s; *p;) {
			size_t k = strcspn(p, " ");
			if (k)
				hdr_tok(w, p, k);
			p += k;
			p += *p == ' ';
		}
	} else {
		char q[PHRASE_PLAIN + 1];
		size_t o = 0;
		q[o++] = '"';
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '"' || s[i] == '\\')
				q[o++] = '\\';
			q[o++] = s[i];
		}
		q[o++] = '"';
		hdr_tok(w, q, o);
	}
}

static void hdr_mailbox(struct w *w, const struct mailbox *mb, bool last)
{
	char a[ADDR_MAX + 4];
	const char *sep = last ? "" : ",";
	if (mb->name[0]) {
		hdr_phrase(w, mb->name);
		hdr_tok(w, a, (size_t)snprintf(a, sizeof(a), "<%s>%s", mb->addr, sep));
	} else {
		hdr_tok(w, a, (size_t)snprintf(a, sizeof(a), "%s%s", mb->addr, sep));
	}
}

static size_t list_len(const char *const *l)
{
	size_t n = 0;
	while (l && l[n])
		n++;
	return n;
}

static int hdr_address_list(struct w *w, const char *name, const char *const *l)
{
	size_t n = list_len(l);
	if (n == 0)
		return 0;
	hdr_start(w, name);
	for (size_t i = 0; i < n; i++) {
		struct mailbox mb;
		int r = mailbox_parse(l[i], &mb);
		if (r < 0)
			return r;
		hdr_mailbox(w, &mb, i + 1 == n);
	}
	hdr_end(w);
	return 0;
}

/* Length of the subject's token at p: the spaces after the separating one, then a word. */
static size_t subject_tok(const char *p)
{
	size_t k = strspn(p, " ");
	return k + strcspn(p + k, " ");
}

static void hdr_subject(struct w *w, const char *s)
{
	size_t n = strlen(s), longest = 0;
	for (const char *p = s;;) {
		size_t k = subject_tok(p);
		longest = k > longest ? k : longest;
		if (!p[k])
			break;
		p += k + 1;
	}
	hdr_start(w, "Subject");
	if (needs_encoding(s, n) || longest > PHRASE_PLAIN || s[0] == ' ' ||
	    (n && s[n - 1] == ' ')) {
		hdr_encoded(w, s, n, "");
	} else {
		/* every space kept: a fold goes before a separating space, so unfolding gives
		   the subject back exactly and no line is only white space */
		for (const char *p = s;;) {
			size_t k = subject_tok(p);
			hdr_tok(w, p, k);
			if (!p[k])
				break;
			p += k + 1;
		}
	}
	hdr_end(w);
}

static void hdr_date(struct w *w, uint64_t date_us)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(date_us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	if (w->r >= 0)
		w->r = buf_printf(w->b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
				  days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900,
				  tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool msgid_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 5 || n > 250 || s[0] != '<' || s[n - 1] != '>' || !memchr(s, '@', n))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '<' || s[i] == '>')
			return false;
	return true;
}

/* ---- bodies ---- */

/* Quoted-printable (RFC 2045 6.7) with every line break of the input (LF, CRLF or CR)
   written as CRLF, lines at most 76 characters, trailing white space encoded, and a
   leading "." encoded so that no relay's dot handling can touch it. */
static void qp_encode(struct w *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char line[QP_LINE + 8];
	size_t ll = 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : 0;
		if (i == n || c == '\n' || c == '\r') {
			if (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t')) {
				char sp = line[--ll];
				if (ll + 3 > QP_LINE + 1) {
					w_put(w, line, ll);
					w_puts(w, "=\r\n");
					ll = 0;
				}
				line[ll++] = '=';
				line[ll++] = '2';
				line[ll++] = sp == ' ' ? '0' : '9';
			}
			w_put(w, line, ll);
			ll = 0;
			if (i == n)
				break;
			w_puts(w, "\r\n");
			if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			continue;
		}
		bool lit = ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t') &&
			   !(c == '.' && ll == 0);
		size_t k = lit ? 1 : 3;
		if (ll + k > QP_LINE) {
			w_put(w, line, ll);
			w_puts(w, "=\r\n");
			ll = 0;
		}
		if (lit) {
			line[ll++] = (char)c;
		} else {
			line[ll++] = '=';
			line[ll++] = hex[c >> 4];
			line[ll++] = hex[c & 15];
		}
	}
}

static void b64_lines(struct w *w, const unsigned char *p, size_t n)
{
	char line[80];
	for (size_t i = 0; i < n; i += B64_LINE_IN) {
		size_t k = b64_chunk(p + i, n - i < B64_LINE_IN ? n - i : B64_LINE_IN, line);
		if (i)
			w_puts(w, "\r\n");
		w_put(w, line, k);
	}
}

/* Quoted-printable keeps mostly-ASCII text readable and small; when more than a fifth of
   the bytes would need escaping (CJK, emoji), base64 is smaller (4/3 against up to 3). */
static bool text_wants_b64(const char *s)
{
	size_t n = 0, esc = 0;
	for (; s[n]; n++)
		esc += (unsigned char)s[n] >= 0x80;
	return esc * 5 > n;
}

static void part_text(struct w *w, const char *subtype, const char *s)
{
	bool b64 = text_wants_b64(s);
	w_puts(w, "Content-Type: text/");
	w_puts(w, subtype);
	w_puts(w, "; charset=utf-8\r\nContent-Transfer-Encoding: ");
	w_puts(w, b64 ? "base64\r\n\r\n" : "quoted-printable\r\n\r\n");
	if (!b64) {
		qp_encode(w, s, strlen(s));
		return;
	}
	/* canonical form first: CRLF line ends inside the encoded text too */
	struct buf canon;
	buf_init(&canon, 0);
	for (const char *p = s; *p; p++) {
		if (*p == '\n' || *p == '\r') {
			buf_append(&canon, "\r\n", 2);
			p += p[0] == '\r' && p[1] == '\n';
		} else {
			buf_append(&canon, p, 1);
		}
	}
	b64_lines(w, (const unsigned char *)canon.p, canon.len);
	buf_free(&canon);
}

static bool is_token(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* type/subtype made of RFC 2045 tokens, then optional printable parameters */
static bool content_type_valid(const char *s)
{
	size_t n = strlen(s), i = 0, t = 0;
	if (n > 255)
		return false;
	while (i < n && is_token((unsigned char)s[i]))
		i++;
	if (i == 0 || i == n || s[i] != '/')
		return false;
	for (t = ++i; i < n && is_token((unsigned char)s[i]);)
		i++;
	if (i == t || (i < n && s[i] != ';' && s[i] != ' '))
		return false;
	for (; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool fn_attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$&+-.^_`|~", c));
}

/* filename="..." for short plain ASCII, else RFC 2231 filename*=UTF-8''%XX..., continued
   (filename*0*=, filename*1*=...) over lines of about 60 characters when long. */
static void disposition_filename(struct w *w, const char *f)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(f), enc = 0;
	bool plain = n <= FILENAME_PLAIN;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)f[i];
		plain = plain && c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%';
		enc += fn_attr_char(c) ? 1 : 3;
	}
	if (plain) {
		w_puts(w, ";\r\n filename=\"");
		w_put(w, f, n);
		w_puts(w, "\"\r\n");
		return;
	}
	char seg[96];
	size_t sl = 0;
	int idx = 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)f[i] : 0;
		size_t need = i < n && !fn_attr_char(c) ? 3 : 1;
		if (i == n || sl + need > (idx ? FILENAME_PLAIN : FILENAME_PLAIN - 8)) {
			char head[48];
			if (enc <= FILENAME_PLAIN - 8)
				snprintf(head, sizeof(head), ";\r\n filename*=UTF-8''");
			else
				snprintf(head, sizeof(head), ";\r\n filename*%d*=%s", idx,
					 idx ? "" : "UTF-8''");
			w_puts(w, head);
			w_put(w, seg, sl);
			sl = 0;
			idx++;
			if (i == n)
				break;
		}
		if (fn_attr_char(c)) {
			seg[sl++] = (char)c;
		} else {
			seg[sl++] = '%';
			seg[sl++] = hex[c >> 4];
			seg[sl++] = hex[c & 15];
		}
	}
	w_puts(w, "\r\n");
}

static int part_attachment(struct w *w, const struct email_attachment *a)
{
	const char *ct = a->content_type ? a->content_type : "application/octet-stream";
	const char *f = a->filename && a->filename[0] ? a->filename : "attachment";
	if (has_crlf(ct) || has_crlf(f))
		return -EINVAL;
	if (!content_type_valid(ct) || strlen(f) > NAME_MAX_ || !utf8_valid(f, strlen(f)) ||
	    (a->len && !a->data))
		return -EINVAL;
	w_puts(w, "Content-Type: ");
	w_puts(w, ct);
	w_puts(w, "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment");
	disposition_filename(w, f);
	w_puts(w, "\r\n");
	b64_lines(w, a->data, a->len);
	return 0;
}

static void new_boundary(char out[40])
{
	unsigned char r[12];
	rand_bytes(r, sizeof(r));
	memcpy(out, "=_irx_", 6);
	hex_encode(r, sizeof(r), out + 6); /* "=_" never occurs in base64 or quoted-printable */
}

static void boundary_line(struct w *w, const char *b, bool close)
{
	w_puts(w, "\r\n--");
	w_puts(w, b);
	if (close)
		w_puts(w, "--");
}

/* The body's own Content-* headers, a blank line and the body; no final CRLF. */
static void body_content(struct w *w, const struct email_msg *m, const char *alt)
{
	const char *text = m->text, *html = m->html;
	if (text && html) {
		w_puts(w, "Content-Type: multipart/alternative;\r\n boundary=\"");
		w_puts(w, alt);
		w_puts(w, "\"\r\n\r\n--");
		w_puts(w, alt);
		w_puts(w, "\r\n");
		part_text(w, "plain", text);
		boundary_line(w, alt, false);
		w_puts(w, "\r\n");
		part_text(w, "html", html);
		boundary_line(w, alt, true);
	} else if (html) {
		part_text(w, "html", html);
	} else {
		part_text(w, "plain", text ? text : "");
	}
}

static int headers(struct w *w, const struct email_msg *m, uint64_t date_us)
{
	struct mailbox from;
	int r = mailbox_parse(m->from, &from);
	if (r < 0)
		return r;
	hdr_date(w, date_us ? date_us : time_now_us());
	hdr_start(w, "From");
	hdr_mailbox(w, &from, true);
	hdr_end(w);
	if (m->reply_to) {
		const char *l[] = {m->reply_to, NULL};
		if ((r = hdr_address_list(w, "Reply-To", l)) < 0)
			return r;
	}
	if ((r = hdr_address_list(w, "To", m->to)) < 0 ||
	    (r = hdr_address_list(w, "Cc", m->cc)) < 0)
		return r;
	if (m->subject)
		hdr_subject(w, m->subject);
	if (m->message_id) {
		w_puts(w, "Message-ID: ");
		w_puts(w, m->message_id);
	} else {
		char id[ID_LEN + 1];
		id_new("em", id);
		w_puts(w, "Message-ID: <");
		w_puts(w, id);
		w_puts(w, strrchr(from.addr, '@'));
		w_puts(w, ">");
	}
	w_puts(w, "\r\nMIME-Version: 1.0\r\n");
	return 0;
}

static int check_msg(const struct email_msg *m)
{
	if (!m || !m->from)
		return -EINVAL;
	const char *single[] = {m->from, m->reply_to, m->subject, m->message_id};
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
		if (has_crlf(single[i]))
			return -EINVAL;
	for (const char *const *l = m->to; l && *l; l++)
		if (has_crlf(*l))
			return -EINVAL;
	for (const char *const *l = m->cc; l && *l; l++)
		if (has_crlf(*l))
			return -EINVAL;
	if (list_len(m->to) + list_len(m->cc) > EMAIL_RCPT_MAX)
		return -E2BIG;
	if (m->subject && strlen(m->subject) > EMAIL_SUBJECT_MAX)
		return -E2BIG;
	if (m->subject && !utf8_valid(m->subject, strlen(m->subject)))
		return -EINVAL;
	if (m->message_id && !msgid_valid(m->message_id))
		return -EINVAL;
	if (m->nattachments && !m->attachments)
		return -EINVAL;
	size_t total = 0;
	for (size_t i = 0; i < m->nattachments; i++) {
		if (m->attachments[i].len > EMAIL_ATTACH_MAX - total)
			return -E2BIG;
		total += m->attachments[i].len;
	}
	return 0;
}

static size_t count_of(const char *hay, size_t n, const char *needle)
{
	size_t c = 0, k = strlen(needle);
	for (const char *p = hay, *e = hay + n; (p = memmem(p, (size_t)(e - p), needle, k)); p += k)
		c++;
	return c;
}

static int build_once(const struct email_msg *m, uint64_t date_us, struct buf *out,
		      const char *mixed, const char *alt)
{
	struct w w = {.b = out};
	int r = headers(&w, m, date_us);
	if (r < 0)
		return r;
	if (m->nattachments) {
		w_puts(&w, "Content-Type: multipart/mixed;\r\n boundary=\"");
		w_puts(&w, mixed);
		w_puts(&w, "\"\r\n\r\n--");
		w_puts(&w, mixed);
		w_puts(&w, "\r\n");
		body_content(&w, m, alt);
		for (size_t i = 0; i < m->nattachments && r == 0; i++) {
			boundary_line(&w, mixed, false);
			w_puts(&w, "\r\n");
			r = part_attachment(&w, &m->attachments[i]);
		}
		boundary_line(&w, mixed, true);
		w_puts(&w, "\r\n");
	} else {
		/* a single part's last line break is its own: one is added only when missing */
		body_content(&w, m, alt);
		if (w.r >= 0 && (out->len < 2 || memcmp(out->p + out->len - 2, "\r\n", 2)))
			w_puts(&w, "\r\n");
	}
	return r < 0 ? r : w.r;
}

int email_mime_build(const struct email_msg *m, uint64_t date_us, struct buf *out)
{
	int r = check_msg(m);
	if (r < 0)
		return r;
	size_t start = out->len;
	for (int attempt = 0; attempt < 4; attempt++) {
		char mixed[40], alt[40];
		new_boundary(mixed);
		new_boundary(alt);
		out->len = start;
		if (out->p)
			out->p[start] = '\0';
		r = build_once(m, date_us, out, mixed, alt);
		if (r < 0)
			break;
		/* the encodings cannot produce "=_"; a header value (a quoted file name or a
		   content type) could still hold the boundary, so count and retry */
		size_t n = out->len - start;
		bool alt_used = m->text && m->html;
		if (count_of(out->p + start, n, mixed) ==
			(m->nattachments ? m->nattachments + 3 : 0) &&
		    count_of(out->p + start, n, alt) == (alt_used ? 4 : 0))
			return 0;
		r = -EIO;
	}
	out->len = start;
	if (out->p)
		out->p[start] = '\0';
	return r;
}

/* ---- templates ---- */

static int put_escaped(struct buf *out, const char *s, size_t n, bool html)
{
	if (!html)
		return buf_append(out, s, n);
	int r = 0;
	size_t run = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *e = s[i] == '&'    ? "&amp;"
				: s[i] == '<'  ? "&lt;"
				: s[i] == '>'  ? "&gt;"
				: s[i] == '"'  ? "&quot;"
				: s[i] == '\'' ? "&#39;"
					       : NULL;
		if (!e)
			continue;
		r = buf_append(out, s + run, i - run);
		if (r == 0)
			r = buf_puts(out, e);
		run = i + 1;
	}
	return r < 0 ? r : buf_append(out, s + run, n - run);
}

static bool tpl_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Writes the value of one variable; a name that is absent, or whose value is an object or
   an array, renders as "" and is listed once in missing (seen is the set). */
static int tpl_value(const json_t *vars, const char *name, size_t n, bool html, struct buf *out,
		     json_t *missing, json_t *seen)
{
	const json_t *v = json_is_object(vars) ? json_object_getn(vars, name, n) : NULL;
	char num[64];
	if (json_is_string(v))
		return put_escaped(out, json_string_value(v), json_string_length(v), html);
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf_puts(out, num);
	}
	if (json_is_real(v)) {
		snprintf(num, sizeof(num), "%.15g", json_real_value(v));
		return buf_puts(out, num);
	}
	if (json_is_boolean(v))
		return buf_puts(out, json_is_true(v) ? "true" : "false");
	if (json_is_null(v))
		return 0;
	if (!json_object_getn(seen, name, n)) {
		json_object_setn_new(seen, name, n, json_true());
		json_array_append_new(missing, json_stringn(name, n));
	}
	return 0;
}

int email_template_render(const char *tpl, const json_t *vars, bool html, struct buf *out,
			  json_t **ret_missing)
{
	json_t *missing = json_array(), *seen = json_object();
	int r = 0;
	const char *p = tpl;
	while (r == 0 && *p) {
		const char *o = strstr(p, "{{");
		if (!o) {
			r = buf_puts(out, p);
			break;
		}
		if ((r = buf_append(out, p, (size_t)(o - p))) < 0)
			break;
		const char *c = strstr(o + 2, "}}");
		if (!c) {
			r = -EINVAL;
			break;
		}
		const char *s = o + 2, *e = c;
		while (s < e && is_sp(*s))
			s++;
		while (e > s && is_sp(e[-1]))
			e--;
		size_t n = (size_t)(e - s);
		bool ok = n > 0 && n <= TPL_NAME_MAX;
		for (size_t i = 0; i < n && ok; i++)
			ok = tpl_name_char(s[i]);
		r = ok ? tpl_value(vars, s, n, html, out, missing, seen) : -EINVAL;
		p = c + 2;
	}
	json_decref(seen);
	if (r < 0 || !ret_missing)
		json_decref(missing);
	else
		*ret_missing = missing;
	return r;
}
