/* doc.c: the verb model of call-control documents: one attribute table (names, types,
   ranges, Twilio defaults) shared by the XML and JSON front ends, content-type dispatch. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doc_int.h"

int cdoc_fail(struct cdoc_error *err, int rc, int line, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
		err->line = line;
	}
	return rc;
}

/* ---- verbs by name ---- */

static const char *const kind_names[] = {
    [CDOC_SAY] = "Say",	      [CDOC_PLAY] = "Play",	    [CDOC_PAUSE] = "Pause",
    [CDOC_GATHER] = "Gather", [CDOC_RECORD] = "Record",	    [CDOC_DIAL] = "Dial",
    [CDOC_HANGUP] = "Hangup", [CDOC_REDIRECT] = "Redirect", [CDOC_REJECT] = "Reject",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

int cdoc_kind_of(const char *name, bool json, enum cdoc_kind *ret)
{
	for (size_t i = 0; i < NKINDS; i++) {
		const char *k = kind_names[i];
		bool eq = json ? name[0] == tolower((unsigned char)k[0]) && !strcmp(name + 1, k + 1)
			       : !strcmp(name, k);
		if (eq) {
			*ret = (enum cdoc_kind)i;
			return 0;
		}
	}
	return -ENOENT;
}

const char *cdoc_kind_name(enum cdoc_kind k)
{
	return (size_t)k < NKINDS ? kind_names[k] : "?";
}

bool cdoc_kind_nestable(enum cdoc_kind k)
{
	return k == CDOC_SAY || k == CDOC_PLAY || k == CDOC_PAUSE;
}

/* ---- attribute tables ---- */

enum atype {
	A_STR,	  /* char *, NULL when empty */
	A_UINT,	  /* unsigned in [min, max] */
	A_BOOL,	  /* true | false, any case */
	A_METHOD, /* GET | POST, stored upper case */
	A_KEYS,	  /* char[16] of 0-9 * # (may be empty) */
	A_INPUT,  /* Gather input: dtmf and/or speech */
	A_SPEECH, /* Gather speechTimeout: auto or seconds */
	A_DIGITS, /* DTMF to send: 0-9 * # A-D w */
	A_RECORD, /* Dial record */
	A_TRIM,	  /* trim-silence | do-not-trim */
	A_REASON, /* Reject reason: rejected | busy */
	A_EVENTS, /* statusCallbackEvent bits */
};

struct attr {
	unsigned kinds; /* bits of enum cdoc_kind (verbs) or enum cdoc_noun_kind (nouns) */
	const char *name;
	enum atype type;
	size_t off;
	unsigned min, max;
};

#define K(x) (1u << CDOC_##x)
#define VF(f) offsetof(struct cdoc_verb, f)
static const struct attr verb_attrs[] = {
    {K(SAY), "voice", A_STR, VF(voice), 0, 0},
    {K(SAY) | K(GATHER), "language", A_STR, VF(language), 0, 0},
    {K(SAY) | K(PLAY), "loop", A_UINT, VF(loop), 0, 1000},
    {K(PLAY), "digits", A_DIGITS, VF(digits), 0, 0},
    {K(PAUSE), "length", A_UINT, VF(length_s), 0, 600},
    {K(GATHER) | K(RECORD) | K(DIAL), "action", A_STR, VF(action), 0, 0},
    {K(GATHER) | K(RECORD) | K(DIAL) | K(REDIRECT), "method", A_METHOD, VF(method), 0, 0},
    {K(GATHER) | K(RECORD), "timeout", A_UINT, VF(timeout_s), 0, 600},
    {K(DIAL), "timeout", A_UINT, VF(timeout_s), 5, 600},
    {K(GATHER) | K(RECORD), "finishOnKey", A_KEYS, VF(finish_on_key), 0, 0},
    {K(GATHER), "numDigits", A_UINT, VF(num_digits), 1, 32},
    {K(GATHER), "actionOnEmptyResult", A_BOOL, VF(action_on_empty), 0, 0},
    {K(GATHER), "input", A_INPUT, 0, 0, 0},
    {K(GATHER), "hints", A_STR, VF(hints), 0, 0},
    {K(GATHER), "speechTimeout", A_SPEECH, VF(speech_timeout), 0, 600},
    {K(GATHER), "bargeIn", A_BOOL, VF(barge_in), 0, 0},
    {K(RECORD), "maxLength", A_UINT, VF(max_length_s), 1, 14400},
    {K(RECORD), "playBeep", A_BOOL, VF(play_beep), 0, 0},
    {K(RECORD) | K(DIAL), "trim", A_TRIM, VF(trim), 0, 0},
    {K(RECORD) | K(DIAL), "recordingStatusCallback", A_STR, VF(recording_status_callback), 0, 0},
    {K(RECORD) | K(DIAL), "recordingStatusCallbackMethod", A_METHOD,
     VF(recording_status_callback_method), 0, 0},
    {K(DIAL), "timeLimit", A_UINT, VF(time_limit_s), 1, 86400},
    {K(DIAL), "callerId", A_STR, VF(caller_id), 0, 0},
    {K(DIAL), "record", A_RECORD, VF(record), 0, 0},
    {K(DIAL), "answerOnBridge", A_BOOL, VF(answer_on_bridge), 0, 0},
    {K(DIAL), "sequential", A_BOOL, VF(sequential), 0, 0},
    {K(DIAL), "hangupOnStar", A_BOOL, VF(hangup_on_star), 0, 0},
    {K(REJECT), "reason", A_REASON, VF(text), 0, 0},
};

#define N(x) (1u << CDOC_##x)
#define NALL (N(NUMBER) | N(SIP) | N(CLIENT))
#define NF(f) offsetof(struct cdoc_noun, f)
static const struct attr noun_attrs[] = {
    {N(NUMBER), "sendDigits", A_DIGITS, NF(send_digits), 0, 0},
    {NALL, "url", A_STR, NF(url), 0, 0},
    {NALL, "method", A_METHOD, NF(method), 0, 0},
    {NALL, "statusCallback", A_STR, NF(status_callback), 0, 0},
    {NALL, "statusCallbackMethod", A_METHOD, NF(status_callback_method), 0, 0},
    {NALL, "statusCallbackEvent", A_EVENTS, NF(status_events), 0, 0},
    {N(SIP), "username", A_STR, NF(username), 0, 0},
    {N(SIP), "password", A_STR, NF(password), 0, 0},
};

static const char *const noun_names[] = {"Number", "Sip", "Client"};

/* ---- value parsers (s is trimmed and NUL-terminated) ---- */

static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	unsigned long long v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 10 || strspn(s, "0123456789") != n)
		return false;
	v = strtoull(s, NULL, 10);
	if (v < min || v > max)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* Space-separated words of s, each one of words[] (bit i); false on any other word. */
static bool parse_words(const char *s, const char *const *words, size_t nwords, unsigned *ret)
{
	unsigned bits = 0;
	while (*s) {
		size_t n = strcspn(s, " \t\r\n");
		if (n) {
			size_t i = 0;
			while (i < nwords && (strlen(words[i]) != n || strncasecmp(s, words[i], n)))
				i++;
			if (i == nwords)
				return false;
			bits |= 1u << i;
		}
		s += n;
		s += strspn(s, " \t\r\n");
	}
	*ret = bits;
	return true;
}

static bool has_ctl(const char *s, size_t n, bool text)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && !(text && (c == '\t' || c == '\n' || c == '\r'))) || c == 0x7f)
			return true;
	}
	return false;
}

static const char *trim(const char *s, size_t *n)
{
	while (*n && isspace((unsigned char)s[0])) {
		s++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)s[*n - 1]))
		(*n)--;
	return s;
}

static const char *src_name(enum atype t)
{
	return t == A_UINT ? "a number" : t == A_BOOL ? "a boolean" : "a string";
}

static bool src_ok(enum atype t, enum cdoc_vsrc src)
{
	if (src == V_STR)
		return true;
	if (src == V_NUM)
		return t == A_UINT || t == A_SPEECH;
	return src == V_BOOL && t == A_BOOL;
}

static int bad(const char *ctx, const struct attr *a, const char *what, int line,
	       struct cdoc_error *err)
{
	return cdoc_fail(err, -EINVAL, line, "%s: %s must be %s", ctx, a->name, what);
}

static int set_typed(void *obj, const struct attr *a, const char *ctx, const char *s, int line,
		     struct cdoc_error *err)
{
	char *f = (char *)obj + a->off;
	unsigned u;
	switch (a->type) {
	case A_STR:
		mem_free(*(char **)f);
		*(char **)f = *s ? mem_strdup(s) : NULL;
		return 0;
	case A_UINT:
		if (!parse_uint(s, a->min, a->max, &u)) {
			char what[32];
			snprintf(what, sizeof(what), "%u-%u", a->min, a->max);
			return bad(ctx, a, what, line, err);
		}
		*(unsigned *)f = u;
		return 0;
	case A_BOOL:
		if (strcasecmp(s, "true") && strcasecmp(s, "false"))
			return bad(ctx, a, "true or false", line, err);
		*(bool *)f = !strcasecmp(s, "true");
		return 0;
	case A_METHOD:
		if (strcasecmp(s, "GET") && strcasecmp(s, "POST"))
			return bad(ctx, a, "GET or POST", line, err);
		mem_free(*(char **)f);
		*(char **)f = mem_strdup(strcasecmp(s, "GET") ? "POST" : "GET");
		return 0;
	case A_KEYS:
		if (strlen(s) > 12 || strspn(s, "0123456789*#") != strlen(s))
			return bad(ctx, a, "keys from 0-9 * #", line, err);
		memcpy(f, s, strlen(s) + 1);
		return 0;
	case A_INPUT: {
		static const char *const words[] = {"dtmf", "speech"};
		struct cdoc_verb *v = obj;
		if (!parse_words(s, words, 2, &u) || !u)
			return bad(ctx, a, "dtmf, speech or \"dtmf speech\"", line, err);
		v->input_dtmf = u & 1;
		v->input_speech = u & 2;
		return 0;
	}
	case A_SPEECH:
		if (strcasecmp(s, "auto") && !parse_uint(s, a->min, a->max, &u))
			return bad(ctx, a, "auto or 0-600", line, err);
		mem_free(*(char **)f);
		*(char **)f = mem_strdup(strcasecmp(s, "auto") ? s : "auto");
		return 0;
	case A_DIGITS:
		if (!*s || strspn(s, "0123456789*#ABCDabcdw") != strlen(s))
			return bad(ctx, a, "digits 0-9 * # A-D w", line, err);
		mem_free(*(char **)f);
		*(char **)f = mem_strdup(s);
		return 0;
	case A_RECORD: {
		static const struct {
			const char *s;
			enum cdoc_dial_record r;
		} rec[] = {
		    {"do-not-record", CDOC_REC_NONE},
		    {"false", CDOC_REC_NONE},
		    {"record-from-answer", CDOC_REC_FROM_ANSWER},
		    {"record-from-answer-dual", CDOC_REC_FROM_ANSWER},
		    {"true", CDOC_REC_FROM_ANSWER},
		    {"record-from-ringing", CDOC_REC_FROM_RINGING},
		    {"record-from-ringing-dual", CDOC_REC_FROM_RINGING},
		};
		for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++)
			if (!strcasecmp(s, rec[i].s)) {
				*(enum cdoc_dial_record *)f = rec[i].r;
				return 0;
			}
		return bad(ctx, a, "do-not-record, record-from-answer or record-from-ringing", line,
			   err);
	}
	case A_TRIM:
		if (strcasecmp(s, "trim-silence") && strcasecmp(s, "do-not-trim"))
			return bad(ctx, a, "trim-silence or do-not-trim", line, err);
		*(bool *)f = !strcasecmp(s, "trim-silence");
		return 0;
	case A_REASON:
		if (strcasecmp(s, "rejected") && strcasecmp(s, "busy"))
			return bad(ctx, a, "rejected or busy", line, err);
		mem_free(*(char **)f);
		*(char **)f = mem_strdup(strcasecmp(s, "busy") ? "rejected" : "busy");
		return 0;
	case A_EVENTS: {
		static const char *const words[] = {"initiated", "ringing", "answered",
						    "completed"};
		if (!parse_words(s, words, 4, &u))
			return bad(ctx, a, "initiated, ringing, answered or completed", line, err);
		*(unsigned *)f = u; /* bit i of words[] is CDOC_EV_* */
		return 0;
	}
	}
	return -EINVAL;
}

static int set_attr(void *obj, const struct attr *tab, size_t ntab, unsigned kind_bit,
		    const char *ctx, const char *name, const char *val, enum cdoc_vsrc src,
		    int line, struct cdoc_error *err)
{
	const struct attr *a = NULL;
	for (size_t i = 0; i < ntab && !a; i++)
		if ((tab[i].kinds & kind_bit) && !strcmp(tab[i].name, name))
			a = &tab[i];
	if (!a)
		return 0; /* unknown attributes are ignored, as Twilio does */
	if (!src_ok(a->type, src))
		return bad(ctx, a, src_name(a->type), line, err);
	size_t n = strlen(val);
	const char *s = trim(val, &n);
	if (n > CDOC_MAX_TEXT)
		return cdoc_fail(err, -E2BIG, line, "%s: %s is longer than %d bytes", ctx, a->name,
				 CDOC_MAX_TEXT);
	if (has_ctl(s, n, false))
		return cdoc_fail(err, -EINVAL, line, "%s: %s has a control character", ctx,
				 a->name);
	char *t = mem_strndup(s, n);
	int r = set_typed(obj, a, ctx, t, line, err);
	mem_free(t);
	return r;
}

/* ---- verbs ---- */

void cdoc_verb_init(struct cdoc_verb *v, enum cdoc_kind k)
{
	memset(v, 0, sizeof(*v));
	v->kind = k;
	v->loop = 1;
	v->length_s = 1;
	v->input_dtmf = true;
	v->barge_in = true;
	v->max_length_s = 3600;
	v->play_beep = true;
	v->time_limit_s = 14400;
	if (k == CDOC_GATHER) {
		v->timeout_s = 5;
		memcpy(v->finish_on_key, "#", 2);
	} else if (k == CDOC_RECORD) {
		v->timeout_s = 5;
		v->trim = true;
		memcpy(v->finish_on_key, "1234567890*#", 13);
	} else if (k == CDOC_DIAL) {
		v->timeout_s = 30;
	}
}

void cdoc_verb_clear(struct cdoc_verb *v)
{
	char **strs[] = {&v->text,
			 &v->voice,
			 &v->language,
			 &v->digits,
			 &v->action,
			 &v->method,
			 &v->hints,
			 &v->speech_timeout,
			 &v->caller_id,
			 &v->recording_status_callback,
			 &v->recording_status_callback_method};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		mem_free(*strs[i]);
	for (size_t i = 0; i < v->nchildren; i++)
		cdoc_verb_clear(&v->children[i]);
	mem_free(v->children);
	for (size_t i = 0; i < v->nnouns; i++)
		cdoc_noun_clear(&v->nouns[i]);
	mem_free(v->nouns);
	memset(v, 0, sizeof(*v));
}

int cdoc_verb_attr(struct cdoc_verb *v, const char *name, const char *val, enum cdoc_vsrc src,
		   int line, struct cdoc_error *err)
{
	return set_attr(v, verb_attrs, sizeof(verb_attrs) / sizeof(verb_attrs[0]), 1u << v->kind,
			cdoc_kind_name(v->kind), name, val, src, line, err);
}

int cdoc_verb_body(struct cdoc_verb *v, const char *s, size_t n, int line, struct cdoc_error *err)
{
	const char *name = cdoc_kind_name(v->kind);
	const char *what = v->kind == CDOC_SAY ? "text" : "URL";
	s = trim(s, &n);
	if (n > CDOC_MAX_TEXT)
		return cdoc_fail(err, -E2BIG, line, "%s: %s is longer than %d bytes", name, what,
				 CDOC_MAX_TEXT);
	if (has_ctl(s, n, v->kind == CDOC_SAY))
		return cdoc_fail(err, -EINVAL, line, "%s: %s has a control character", name, what);
	mem_free(v->text);
	v->text = mem_strndup(s, n);
	return 0;
}

int cdoc_verb_finish(struct cdoc_verb *v, int line, struct cdoc_error *err)
{
	switch (v->kind) {
	case CDOC_SAY:
		if (!v->text)
			v->text = mem_strdup(""); /* <Say/>: says nothing */
		break;
	case CDOC_PLAY:
		if ((!v->text || !*v->text) && !v->digits)
			return cdoc_fail(err, -EINVAL, line, "Play: a URL or digits is required");
		break;
	case CDOC_REDIRECT:
		if (!v->text || !*v->text)
			return cdoc_fail(err, -EINVAL, line, "Redirect: a URL is required");
		break;
	case CDOC_DIAL:
		if (!v->nnouns)
			return cdoc_fail(err, -EINVAL, line,
					 "Dial: a number, <Sip> or <Client> is required");
		break;
	default:
		break;
	}
	return 0;
}

void cdoc_verb_add_child(struct cdoc_verb *v, struct cdoc_verb *c)
{
	v->children = mem_realloc(v->children, (v->nchildren + 1) * sizeof(*c));
	v->children[v->nchildren++] = *c;
	memset(c, 0, sizeof(*c));
}

void cdoc_add_verb(struct cdoc *d, struct cdoc_verb *v)
{
	d->verbs = mem_realloc(d->verbs, (d->nverbs + 1) * sizeof(*v));
	d->verbs[d->nverbs++] = *v;
	memset(v, 0, sizeof(*v));
}

/* ---- Dial nouns ---- */

void cdoc_noun_init(struct cdoc_noun *n, enum cdoc_noun_kind k)
{
	memset(n, 0, sizeof(*n));
	n->kind = k;
}

void cdoc_noun_clear(struct cdoc_noun *n)
{
	char **strs[] = {&n->target,   &n->send_digits,	    &n->url,
			 &n->method,   &n->status_callback, &n->status_callback_method,
			 &n->username, &n->password};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		mem_free(*strs[i]);
	memset(n, 0, sizeof(*n));
}

int cdoc_noun_attr(struct cdoc_noun *n, const char *name, const char *val, enum cdoc_vsrc src,
		   int line, struct cdoc_error *err)
{
	return set_attr(n, noun_attrs, sizeof(noun_attrs) / sizeof(noun_attrs[0]), 1u << n->kind,
			noun_names[n->kind], name, val, src, line, err);
}

int cdoc_noun_target(struct cdoc_noun *n, const char *s, size_t len, int line,
		     struct cdoc_error *err)
{
	static const char *const what[] = {"a number", "a sip: URI", "an identity"};
	const char *name = noun_names[n->kind];
	s = trim(s, &len);
	if (!len)
		return cdoc_fail(err, -EINVAL, line, "%s: %s is required", name, what[n->kind]);
	if (len > CDOC_MAX_TEXT)
		return cdoc_fail(err, -E2BIG, line, "%s: %s is longer than %d bytes", name,
				 what[n->kind], CDOC_MAX_TEXT);
	if (has_ctl(s, len, false))
		return cdoc_fail(err, -EINVAL, line, "%s: %s has a control character", name,
				 what[n->kind]);
	if (n->kind == CDOC_SIP && strncasecmp(s, "sip:", 4) && strncasecmp(s, "sips:", 5))
		return cdoc_fail(err, -EINVAL, line, "Sip: the URI must start with sip: or sips:");
	mem_free(n->target);
	n->target = mem_strndup(s, len);
	return 0;
}

int cdoc_verb_add_noun(struct cdoc_verb *v, struct cdoc_noun *n, int line, struct cdoc_error *err)
{
	if (v->nnouns >= CDOC_MAX_NOUNS)
		return cdoc_fail(err, -E2BIG, line, "Dial: more than %d nouns", CDOC_MAX_NOUNS);
	v->nouns = mem_realloc(v->nouns, (v->nnouns + 1) * sizeof(*n));
	v->nouns[v->nnouns++] = *n;
	memset(n, 0, sizeof(*n));
	return 0;
}

/* ---- documents ---- */

void cdoc_free(struct cdoc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nverbs; i++)
		cdoc_verb_clear(&d->verbs[i]);
	mem_free(d->verbs);
	mem_free(d);
}

/* media type of ctype (parameters dropped) equals t, case-insensitively */
static bool ctype_is(const char *ctype, size_t n, const char *t)
{
	return strlen(t) == n && !strncasecmp(ctype, t, n);
}

int cdoc_parse(const char *s, size_t n, const char *ctype, struct cdoc **ret,
	       struct cdoc_error *err)
{
	size_t tl = 0;
	if (ctype) {
		while (isspace((unsigned char)*ctype))
			ctype++;
		tl = strcspn(ctype, "; \t");
	}
	bool sniff = !ctype || !tl || ctype_is(ctype, tl, "text/plain") ||
		     ctype_is(ctype, tl, "application/octet-stream");
	bool json = ctype && (ctype_is(ctype, tl, "application/json") ||
			      (tl > 5 && !strncasecmp(ctype + tl - 5, "+json", 5)));
	if (sniff) {
		size_t i = 0;
		if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
			i = 3;
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		json = i < n && (s[i] == '[' || s[i] == '{');
	}
	return json ? cdoc_parse_json(s, n, ret, err) : cdoc_parse_xml(s, n, ret, err);
}
