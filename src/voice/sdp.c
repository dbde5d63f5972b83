/* sdp.c: SDP offer/answer for one G.711 audio stream (RFC 4566, RFC 3264), parsed and written
   by us so that every byte from the network goes through one bounded, fuzzed parser. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "voice/voice.h"

enum { SDP_MAX_LINES = 512, TE_OFFER_PT = 101 };

/* A view of one line's value (after "x="). */
struct span {
	const char *p;
	size_t n;
};

/* Copies a token into a fixed buffer; -E2BIG if it does not fit. */
static int copy_tok(char *dst, size_t cap, struct span s)
{
	if (s.n >= cap)
		return -E2BIG;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

/* Next space-separated token of *s (advancing *s); n == 0 when none is left. */
static struct span next_tok(struct span *s)
{
	while (s->n && *s->p == ' ') {
		s->p++;
		s->n--;
	}
	struct span t = {s->p, 0};
	while (t.n < s->n && s->p[t.n] != ' ')
		t.n++;
	s->p += t.n;
	s->n -= t.n;
	return t;
}

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_caseeq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	if (s.n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s.p[i], b = lit[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

/* A decimal number up to max; -EINVAL otherwise. */
static int span_uint(struct span s, unsigned long max, unsigned long *ret)
{
	if (s.n == 0 || s.n > 10)
		return -EINVAL;
	unsigned long v = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s.p[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* c=IN IP4 <addr>: the address, which must look like an IPv4 or IPv6 literal. */
static int parse_conn(struct span v, char *addr, size_t cap)
{
	struct span nettype = next_tok(&v), atype = next_tok(&v), a = next_tok(&v);
	if (!span_eq(nettype, "IN") || !(span_eq(atype, "IP4") || span_eq(atype, "IP6")))
		return -EINVAL;
	for (size_t i = 0; i < a.n; i++) {
		char c = a.p[i];
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			  (c >= 'A' && c <= 'F') || c == '.' || c == ':';
		if (!ok) {
			a.n = i; /* drops a "/ttl" suffix; a hostname fails below */
			break;
		}
	}
	if (a.n == 0)
		return -EINVAL;
	return copy_tok(addr, cap, a);
}

/* Static payload types that may come without a=rtpmap (trap 5 of the study). */
static void static_fmt(struct voice_sdp_fmt *f)
{
	if (f->pt == 0)
		snprintf(f->name, sizeof(f->name), "PCMU");
	else if (f->pt == 8)
		snprintf(f->name, sizeof(f->name), "PCMA");
	else
		return;
	f->rate = 8000;
}

/* m=<media> <port>[/<n>] <proto> <fmt> ... */
static int parse_media(struct voice_sdp *sdp, struct span v, bool *ret_is_audio)
{
	if (sdp->nmedia >= VOICE_SDP_MAX_MEDIA)
		return -E2BIG;
	size_t idx = sdp->nmedia++;
	struct span name = next_tok(&v), port = next_tok(&v), proto = next_tok(&v);
	struct span fmt0 = next_tok(&v), rest = v;
	for (size_t i = 0; i < port.n; i++)
		if (port.p[i] == '/')
			port.n = i;
	unsigned long portv;
	int r = span_uint(port, 65535, &portv);
	if (r < 0 || name.n == 0 || proto.n == 0 || fmt0.n == 0)
		return -EINVAL;
	if ((r = copy_tok(sdp->media[idx].name, sizeof(sdp->media[idx].name), name)) < 0 ||
	    (r = copy_tok(sdp->media[idx].proto, sizeof(sdp->media[idx].proto), proto)) < 0 ||
	    (r = copy_tok(sdp->media[idx].fmt, sizeof(sdp->media[idx].fmt), fmt0)) < 0)
		return r;
	*ret_is_audio =
	    sdp->audio < 0 && span_eq(name, "audio") && span_eq(proto, "RTP/AVP") && portv != 0;
	if (!*ret_is_audio)
		return 0;
	sdp->audio = (int)idx;
	sdp->port = (uint16_t)portv;
	for (struct span f = fmt0; f.n; f = next_tok(&rest)) {
		unsigned long pt;
		if (span_uint(f, 127, &pt) < 0)
			return -EINVAL;
		if (sdp->nfmts >= VOICE_SDP_MAX_FMTS)
			return -E2BIG;
		struct voice_sdp_fmt *fmt = &sdp->fmts[sdp->nfmts++];
		memset(fmt, 0, sizeof(*fmt));
		fmt->pt = (int)pt;
		static_fmt(fmt);
	}
	return 0;
}

/* a=rtpmap:<pt> <name>/<rate>[/<channels>] of the audio stream. */
static int parse_rtpmap(struct voice_sdp *sdp, struct span v)
{
	struct span pt = next_tok(&v), enc = next_tok(&v);
	unsigned long ptv, rate;
	if (span_uint(pt, 127, &ptv) < 0)
		return -EINVAL;
	size_t slash = 0;
	while (slash < enc.n && enc.p[slash] != '/')
		slash++;
	if (slash == 0 || slash == enc.n)
		return -EINVAL;
	struct span name = {enc.p, slash}, rs = {enc.p + slash + 1, enc.n - slash - 1};
	for (size_t i = 0; i < rs.n; i++)
		if (rs.p[i] == '/')
			rs.n = i;
	if (span_uint(rs, 1000000, &rate) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sdp->nfmts; i++) {
		struct voice_sdp_fmt *f = &sdp->fmts[i];
		if (f->pt != (int)ptv)
			continue;
		int r = copy_tok(f->name, sizeof(f->name), name);
		if (r < 0)
			return r;
		f->rate = (uint32_t)rate;
	}
	return 0;
}

static bool parse_dir(struct span v, enum voice_sdp_dir *dir)
{
	if (span_eq(v, "sendrecv"))
		*dir = VOICE_SDP_SENDRECV;
	else if (span_eq(v, "sendonly"))
		*dir = VOICE_SDP_SENDONLY;
	else if (span_eq(v, "recvonly"))
		*dir = VOICE_SDP_RECVONLY;
	else if (span_eq(v, "inactive"))
		*dir = VOICE_SDP_INACTIVE;
	else
		return false;
	return true;
}

/* Where a line belongs: the session part, the audio stream, or another stream. */
enum section { SEC_SESSION, SEC_AUDIO, SEC_OTHER };

static int parse_line(struct voice_sdp *sdp, char type, struct span v, enum section *sec,
		      char *sess_addr, enum voice_sdp_dir *sess_dir)
{
	if (type == 'm') {
		bool audio = false;
		int r = parse_media(sdp, v, &audio);
		*sec = audio ? SEC_AUDIO : SEC_OTHER;
		if (audio)
			sdp->dir = *sess_dir;
		return r;
	}
	if (*sec == SEC_OTHER)
		return 0;
	if (type == 'c')
		return parse_conn(v, *sec == SEC_SESSION ? sess_addr : sdp->addr,
				  sizeof(sdp->addr));
	if (type != 'a')
		return 0;
	if (*sec == SEC_SESSION) {
		parse_dir(v, sess_dir);
		return 0;
	}
	if (parse_dir(v, &sdp->dir))
		return 0;
	if (v.n > 7 && memcmp(v.p, "rtpmap:", 7) == 0)
		return parse_rtpmap(sdp, (struct span){v.p + 7, v.n - 7});
	return 0;
}

int voice_sdp_parse(const char *s, size_t n, struct voice_sdp *ret)
{
	struct voice_sdp sdp;
	memset(&sdp, 0, sizeof(sdp));
	sdp.audio = -1;
	char sess_addr[sizeof(sdp.addr)] = "";
	enum voice_sdp_dir sess_dir = VOICE_SDP_SENDRECV;
	enum section sec = SEC_SESSION;
	size_t pos = 0, lines = 0;
	bool saw_v = false;
	while (pos < n) {
		size_t end = pos;
		while (end < n && s[end] != '\n')
			end++;
		size_t len = end - pos;
		if (len && s[pos + len - 1] == '\r')
			len--;
		if (len) {
			if (++lines > SDP_MAX_LINES)
				return -E2BIG;
			if (len < 2 || s[pos + 1] != '=' || s[pos] < 'a' || s[pos] > 'z')
				return -EINVAL;
			for (size_t i = pos; i < pos + len; i++)
				if (s[i] == '\0')
					return -EINVAL;
			if (lines == 1 && s[pos] != 'v')
				return -EINVAL;
			saw_v = true;
			int r = parse_line(&sdp, s[pos], (struct span){s + pos + 2, len - 2}, &sec,
					   sess_addr, &sess_dir);
			if (r < 0)
				return r;
		}
		pos = end + 1;
	}
	if (!saw_v)
		return -EINVAL;
	if (sdp.audio >= 0 && !sdp.addr[0]) {
		if (!sess_addr[0])
			return -EINVAL; /* RFC 4566 5.7: c= in the session or in every stream */
		memcpy(sdp.addr, sess_addr, sizeof(sdp.addr));
	}
	*ret = sdp;
	return 0;
}

int voice_sdp_negotiate(const struct voice_sdp *peer, struct voice_sdp_choice *ret)
{
	if (!peer || peer->audio < 0 || peer->port == 0)
		return -ENOTSUP;
	int pt = -1, te = -1;
	for (size_t i = 0; i < peer->nfmts; i++) {
		const struct voice_sdp_fmt *f = &peer->fmts[i];
		struct span name = {f->name, strlen(f->name)};
		if (pt < 0 && f->pt == 0 && f->rate == 8000 && span_caseeq(name, "PCMU"))
			pt = 0;
		else if (pt < 0 && f->pt == 8 && f->rate == 8000 && span_caseeq(name, "PCMA"))
			pt = 8;
		else if (te < 0 && f->pt >= 96 && f->rate == 8000 &&
			 span_caseeq(name, "telephone-event"))
			te = f->pt;
	}
	if (pt < 0)
		return -ENOTSUP;
	ret->pt = pt;
	ret->te_pt = te;
	return 0;
}

static const char *dir_name(enum voice_sdp_dir d)
{
	switch (d) {
	case VOICE_SDP_SENDONLY:
		return "sendonly";
	case VOICE_SDP_RECVONLY:
		return "recvonly";
	case VOICE_SDP_INACTIVE:
		return "inactive";
	case VOICE_SDP_SENDRECV:
		break;
	}
	return "sendrecv";
}

/* Appends to out at *len; -E2BIG once it no longer fits. */
__attribute__((format(printf, 4, 5))) static int put(char *out, size_t cap, size_t *len,
						     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -E2BIG;
	*len += (size_t)n;
	return 0;
}

static int put_head(char *out, size_t cap, size_t *len, const struct voice_sdp_local *l)
{
	const char *ip = strchr(l->addr, ':') ? "IP6" : "IP4";
	return put(out, cap, len,
		   "v=0\r\no=irisx %llu %llu IN %s %s\r\ns=irisx\r\nc=IN %s %s\r\nt=0 0\r\n",
		   (unsigned long long)l->sess_id, (unsigned long long)l->version, ip, l->addr, ip,
		   l->addr);
}

static int put_fmt(char *out, size_t cap, size_t *len, int pt)
{
	return put(out, cap, len, "a=rtpmap:%d %s/8000\r\n", pt, pt == 0 ? "PCMU" : "PCMA");
}

static int put_te(char *out, size_t cap, size_t *len, int te_pt)
{
	return put(out, cap, len, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n", te_pt,
		   te_pt);
}

int voice_sdp_write_offer(char *out, size_t cap, const struct voice_sdp_local *l)
{
	size_t len = 0;
	int r = put_head(out, cap, &len, l);
	if (r == 0)
		r = put(out, cap, &len, "m=audio %u RTP/AVP 0 8 %d\r\n", l->port, TE_OFFER_PT);
	if (r == 0)
		r = put_fmt(out, cap, &len, 0);
	if (r == 0)
		r = put_fmt(out, cap, &len, 8);
	if (r == 0)
		r = put_te(out, cap, &len, TE_OFFER_PT);
	if (r == 0)
		r = put(out, cap, &len, "a=ptime:20\r\na=%s\r\n", dir_name(l->dir));
	return r < 0 ? r : (int)len;
}

static enum voice_sdp_dir mirror(enum voice_sdp_dir d)
{
	if (d == VOICE_SDP_SENDONLY)
		return VOICE_SDP_RECVONLY;
	if (d == VOICE_SDP_RECVONLY)
		return VOICE_SDP_SENDONLY;
	return d;
}

int voice_sdp_write_answer(char *out, size_t cap, const struct voice_sdp_local *l,
			   const struct voice_sdp *offer)
{
	size_t len = 0;
	int r = put_head(out, cap, &len, l);
	for (size_t i = 0; r == 0 && i < offer->nmedia; i++) {
		if ((int)i != offer->audio) {
			r = put(out, cap, &len, "m=%s 0 %s %s\r\n", offer->media[i].name,
				offer->media[i].proto, offer->media[i].fmt);
			continue;
		}
		const struct voice_sdp_choice *c = &l->choice;
		if (c->te_pt >= 0)
			r = put(out, cap, &len, "m=audio %u RTP/AVP %d %d\r\n", l->port, c->pt,
				c->te_pt);
		else
			r = put(out, cap, &len, "m=audio %u RTP/AVP %d\r\n", l->port, c->pt);
		if (r == 0)
			r = put_fmt(out, cap, &len, c->pt);
		if (r == 0 && c->te_pt >= 0)
			r = put_te(out, cap, &len, c->te_pt);
		if (r == 0)
			r = put(out, cap, &len, "a=ptime:20\r\na=%s\r\n",
				dir_name(mirror(offer->dir)));
	}
	return r < 0 ? r : (int)len;
}
