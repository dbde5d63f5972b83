/* doc_url.c: RFC 3986 section 5.2 reference resolution (action, Redirect and Play URLs are
   relative to the document that named them). */
#include <ctype.h>
#include <string.h>

#include "doc_int.h"

struct part {
	const char *p;
	size_t n;
	bool has; /* defined (an empty query "?" is defined, an absent one is not) */
};

struct uri {
	struct part scheme, auth, path, query, frag;
};

/* Splits s by the regular expression of RFC 3986 appendix B. */
static void split(const char *s, struct uri *u)
{
	memset(u, 0, sizeof(*u));
	size_t n = strcspn(s, ":/?#");
	if (s[n] == ':' && n > 0 && isalpha((unsigned char)s[0])) {
		size_t i = 1;
		while (i < n && (isalnum((unsigned char)s[i]) || strchr("+-.", s[i])))
			i++;
		if (i == n) {
			u->scheme = (struct part){s, n, true};
			s += n + 1;
		}
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		n = strcspn(s, "/?#");
		u->auth = (struct part){s, n, true};
		s += n;
	}
	n = strcspn(s, "?#");
	u->path = (struct part){s, n, true};
	s += n;
	if (*s == '?') {
		s++;
		n = strcspn(s, "#");
		u->query = (struct part){s, n, true};
		s += n;
	}
	if (*s == '#')
		u->frag = (struct part){s + 1, strlen(s + 1), true};
}

static bool starts(const char *in, size_t n, const char *pre)
{
	size_t l = strlen(pre);
	return n >= l && !memcmp(in, pre, l);
}

static bool is(const char *in, size_t n, const char *s)
{
	return n == strlen(s) && !memcmp(in, s, n);
}

/* Section 5.2.4, from in[0..n) to out (at least n + 1 bytes); returns the output length. */
static size_t remove_dots(const char *in, size_t n, char *out)
{
	size_t o = 0;
	char *tmp = mem_strndup(in, n), *p = tmp;
	while (n) {
		if (starts(p, n, "../")) {
			p += 3, n -= 3;
		} else if (starts(p, n, "./")) {
			p += 2, n -= 2;
		} else if (starts(p, n, "/./")) {
			p += 2, n -= 2;
		} else if (is(p, n, "/.")) {
			p[1] = '/', p += 1, n -= 1;
		} else if (starts(p, n, "/../") || is(p, n, "/..")) {
			if (n == 3)
				p[2] = '/', p += 2, n -= 2;
			else
				p += 3, n -= 3;
			while (o && out[o - 1] != '/')
				o--;
			if (o)
				o--; /* the segment and the "/" before it */
		} else if (is(p, n, ".") || is(p, n, "..")) {
			n = 0;
		} else {
			/* p is NUL-terminated at n: the segment ends at the next "/" or there */
			size_t seg = p[0] == '/' ? 1 + strcspn(p + 1, "/") : strcspn(p, "/");
			memcpy(out + o, p, seg);
			o += seg, p += seg, n -= seg;
		}
	}
	mem_free(tmp);
	return o;
}

struct out {
	char *p;
	size_t len, cap;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

int cdoc_url_resolve(const char *base, const char *ref, char *out, size_t cap)
{
	if (!cap)
		return -E2BIG;
	out[0] = '\0';
	size_t lb = strlen(base), lr = strlen(ref);
	if (lb > CDOC_MAX_BYTES || lr > CDOC_MAX_BYTES)
		return -E2BIG;
	struct uri b, r, t;
	split(base, &b);
	split(ref, &r);
	if (!b.scheme.has)
		return -EINVAL;
	char *path = mem_alloc(lb + lr + 2), *merged = NULL;
	memset(&t, 0, sizeof(t));
	t.scheme = r.scheme.has ? r.scheme : b.scheme;
	t.frag = r.frag;
	if (r.scheme.has || r.auth.has) {
		t.auth = r.auth;
		t.path = (struct part){path, remove_dots(r.path.p, r.path.n, path), true};
		t.query = r.query;
	} else {
		t.auth = b.auth;
		if (!r.path.n) {
			t.path = b.path;
			t.query = r.query.has ? r.query : b.query;
		} else {
			const char *src = r.path.p;
			size_t n = r.path.n;
			if (r.path.p[0] != '/') { /* merge (5.2.3) */
				merged = mem_alloc(lb + lr + 2);
				size_t keep = 0;
				if (b.auth.has && !b.path.n) {
					merged[keep++] = '/';
				} else {
					for (size_t i = 0; i < b.path.n; i++)
						if (b.path.p[i] == '/')
							keep = i + 1;
					memcpy(merged, b.path.p, keep);
				}
				memcpy(merged + keep, r.path.p, r.path.n);
				src = merged;
				n = keep + r.path.n;
			}
			t.path = (struct part){path, remove_dots(src, n, path), true};
			t.query = r.query;
		}
	}
	struct out o = {out, 0, cap, false};
	put(&o, t.scheme.p, t.scheme.n);
	put(&o, ":", 1);
	if (t.auth.has) {
		put(&o, "//", 2);
		put(&o, t.auth.p, t.auth.n);
	}
	put(&o, t.path.p, t.path.n);
	if (t.query.has) {
		put(&o, "?", 1);
		put(&o, t.query.p, t.query.n);
	}
	if (t.frag.has) {
		put(&o, "#", 1);
		put(&o, t.frag.p, t.frag.n);
	}
	mem_free(path);
	mem_free(merged);
	if (o.full) {
		out[0] = '\0';
		return -E2BIG;
	}
	return 0;
}
