/* doc_xml.c: TwiML XML to the verb list. libxml2 without network access, DTDs or entity
   declarations (refused before and after parsing: nothing is ever expanded), capped in
   size, nesting and count. */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "doc_int.h"

struct xp {
	struct cdoc_error *err;
	size_t nverbs; /* nested Gather children included */
};

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser(); /* once, before any thread parses */
}

static int lineof(const xmlNode *n)
{
	long l = xmlGetLineNo(n);
	return l > 0 && l < INT_MAX ? (int)l : 0;
}

static const char *nm(const xmlNode *n)
{
	return (const char *)n->name;
}

/* Refuses entity and DTD nodes, and elements nested deeper than CDOC_MAX_DEPTH. */
static int check_tree(const xmlNode *n, int depth, struct cdoc_error *err)
{
	for (; n; n = n->next) {
		switch (n->type) {
		case XML_ELEMENT_NODE:
			if (depth > CDOC_MAX_DEPTH)
				return cdoc_fail(err, -E2BIG, lineof(n),
						 "elements nested deeper than %d", CDOC_MAX_DEPTH);
			int r = check_tree(n->children, depth + 1, err);
			if (r < 0)
				return r;
			break;
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
		case XML_COMMENT_NODE:
		case XML_PI_NODE:
			break;
		default:
			return cdoc_fail(err, -EINVAL, lineof(n),
					 "entities and DTDs are not allowed");
		}
	}
	return 0;
}

typedef int attr_fn(void *obj, const char *name, const char *val, enum cdoc_vsrc src, int line,
		    struct cdoc_error *err);

static int verb_attr(void *obj, const char *name, const char *val, enum cdoc_vsrc src, int line,
		     struct cdoc_error *err)
{
	return cdoc_verb_attr(obj, name, val, src, line, err);
}

static int noun_attr(void *obj, const char *name, const char *val, enum cdoc_vsrc src, int line,
		     struct cdoc_error *err)
{
	return cdoc_noun_attr(obj, name, val, src, line, err);
}

/* Feeds every attribute of n (namespaced ones are not TwiML's: skipped) to set. */
static int attrs(const xmlNode *n, attr_fn *set, void *obj, struct cdoc_error *err)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (a->ns)
			continue;
		xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
		int r = set(obj, (const char *)a->name, v ? (const char *)v : "", V_STR, lineof(n),
			    err);
		xmlFree(v);
		if (r < 0)
			return r;
	}
	return 0;
}

static int append(struct buf *b, const xmlNode *n, const char *ctx, struct cdoc_error *err)
{
	if (n->content && buf_puts(b, (const char *)n->content) < 0)
		return cdoc_fail(err, -E2BIG, lineof(n), "%s: text is longer than %d bytes", ctx,
				 CDOC_MAX_TEXT);
	return 0;
}

/* The text of a URL-like body: text and CDATA only, no child elements. */
static int plain_text(const xmlNode *n, const char *ctx, struct buf *b, struct cdoc_error *err)
{
	for (const xmlNode *c = n->children; c; c = c->next) {
		int r = 0;
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
			r = append(b, c, ctx, err);
		else if (c->type == XML_ELEMENT_NODE)
			r = cdoc_fail(err, -EINVAL, lineof(c), "%s: unexpected element <%.40s>",
				      ctx, nm(c));
		if (r < 0)
			return r;
	}
	return 0;
}

static int sep(struct buf *b)
{
	return b->len && !strchr(" \t\r\n", b->p[b->len - 1]) ? buf_puts(b, " ") : 0;
}

/* Say text: SSML tags are dropped and their text kept. */
static int say_text(const xmlNode *n, struct buf *b, struct cdoc_error *err)
{
	static const char *const ssml[] = {"break",   "emphasis", "lang",   "p",   "phoneme",
					   "prosody", "s",	  "say-as", "sub", "w"};
	for (const xmlNode *c = n->children; c; c = c->next) {
		int r = 0;
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			r = append(b, c, "Say", err);
		} else if (c->type == XML_ELEMENT_NODE) {
			size_t i = 0;
			while (i < sizeof(ssml) / sizeof(ssml[0]) && strcmp(nm(c), ssml[i]))
				i++;
			if (i == sizeof(ssml) / sizeof(ssml[0]))
				return cdoc_fail(err, -EINVAL, lineof(c),
						 "Say: unsupported element <%.40s>", nm(c));
			/* tags separate words: "Hi<break/>there" is said as "Hi there" */
			r = sep(b);
			if (r == 0)
				r = say_text(c, b, err);
			if (r == 0)
				r = sep(b);
			if (r == -E2BIG)
				r = cdoc_fail(err, r, lineof(c),
					      "Say: text is longer than %d bytes", CDOC_MAX_TEXT);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* A Client's identity: the identity attribute, an <Identity> child, or the body text. */
static int client_identity(const xmlNode *n, struct cdoc_noun *o, struct cdoc_error *err)
{
	int line = lineof(n), r;
	xmlChar *id = xmlGetProp(n, (const xmlChar *)"identity");
	if (id) {
		r = cdoc_noun_target(o, (const char *)id, strlen((const char *)id), line, err);
		xmlFree(id);
		return r;
	}
	/* <Parameter> children (custom parameters) are accepted and not kept */
	struct buf b;
	buf_init(&b, CDOC_MAX_BYTES);
	const xmlNode *ident = NULL;
	r = 0;
	for (const xmlNode *c = n->children; c && r == 0; c = c->next) {
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
			r = append(&b, c, "Client", err);
		else if (c->type == XML_ELEMENT_NODE && !strcmp(nm(c), "Identity"))
			ident = c;
		else if (c->type == XML_ELEMENT_NODE && strcmp(nm(c), "Parameter"))
			r = cdoc_fail(err, -EINVAL, lineof(c), "Client: unexpected element <%.40s>",
				      nm(c));
	}
	if (r == 0 && ident) {
		b.len = 0;
		r = plain_text(ident, "Identity", &b, err);
	}
	if (r == 0)
		r = cdoc_noun_target(o, b.p ? b.p : "", b.len, line, err);
	buf_free(&b);
	return r;
}

static int dial_noun(const xmlNode *c, struct cdoc_verb *v, struct cdoc_error *err)
{
	static const char *const names[] = {"Number", "Sip", "Client"};
	int line = lineof(c), r;
	size_t k = 0;
	while (k < 3 && strcmp(nm(c), names[k]))
		k++;
	if (k == 3)
		return cdoc_fail(err, -EINVAL, line, "Dial: unsupported noun <%.40s>", nm(c));
	struct cdoc_noun o;
	cdoc_noun_init(&o, (enum cdoc_noun_kind)k);
	r = attrs(c, noun_attr, &o, err);
	if (r == 0 && o.kind == CDOC_CLIENT) {
		r = client_identity(c, &o, err);
	} else if (r == 0) {
		struct buf b;
		buf_init(&b, CDOC_MAX_BYTES);
		r = plain_text(c, names[k], &b, err);
		if (r == 0)
			r = cdoc_noun_target(&o, b.p ? b.p : "", b.len, line, err);
		buf_free(&b);
	}
	if (r == 0)
		r = cdoc_verb_add_noun(v, &o, line, err);
	cdoc_noun_clear(&o);
	return r;
}

/* Dial's nouns, or its bare text as one Number. */
static int dial_body(const xmlNode *n, struct cdoc_verb *v, struct cdoc_error *err)
{
	bool nouns = false;
	struct buf b;
	buf_init(&b, CDOC_MAX_BYTES);
	int r = 0;
	for (const xmlNode *c = n->children; c && r == 0; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			nouns = true;
			r = dial_noun(c, v, err);
		} else if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			r = append(&b, c, "Dial", err);
		}
	}
	size_t len = b.len;
	const char *s = b.p ? b.p : "";
	while (len && strchr(" \t\r\n", s[0])) {
		s++;
		len--;
	}
	if (r == 0 && !nouns && len) {
		struct cdoc_noun o;
		cdoc_noun_init(&o, CDOC_NUMBER);
		r = cdoc_noun_target(&o, s, len, lineof(n), err);
		if (r == 0)
			r = cdoc_verb_add_noun(v, &o, lineof(n), err);
		cdoc_noun_clear(&o);
	}
	buf_free(&b);
	return r;
}

static int parse_verb(struct xp *x, const xmlNode *n, bool nested, struct cdoc_verb *v);

static int gather_body(struct xp *x, const xmlNode *n, struct cdoc_verb *v)
{
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		struct cdoc_verb child;
		int r = parse_verb(x, c, true, &child);
		if (r < 0)
			return r;
		cdoc_verb_add_child(v, &child);
	}
	return 0;
}

static int verb_body(struct xp *x, const xmlNode *n, struct cdoc_verb *v)
{
	struct buf b;
	int r = 0;
	buf_init(&b, CDOC_MAX_BYTES);
	switch (v->kind) {
	case CDOC_SAY:
		r = say_text(n, &b, x->err);
		break;
	case CDOC_PLAY:
	case CDOC_REDIRECT:
		r = plain_text(n, cdoc_kind_name(v->kind), &b, x->err);
		break;
	case CDOC_GATHER:
		r = gather_body(x, n, v);
		break;
	case CDOC_DIAL:
		r = dial_body(n, v, x->err);
		break;
	default:
		break; /* Pause, Record, Hangup, Reject: no body */
	}
	if (r == 0 && (v->kind == CDOC_SAY || v->kind == CDOC_PLAY || v->kind == CDOC_REDIRECT))
		r = cdoc_verb_body(v, b.p ? b.p : "", b.len, lineof(n), x->err);
	buf_free(&b);
	return r;
}

static int parse_verb(struct xp *x, const xmlNode *n, bool nested, struct cdoc_verb *v)
{
	enum cdoc_kind k;
	int line = lineof(n);
	if (cdoc_kind_of(nm(n), false, &k) < 0)
		return cdoc_fail(x->err, -EINVAL, line, "unsupported verb <%.40s>", nm(n));
	if (nested && !cdoc_kind_nestable(k))
		return cdoc_fail(x->err, -EINVAL, line, "Gather: <%s> is not allowed inside Gather",
				 nm(n));
	if (++x->nverbs > CDOC_MAX_VERBS)
		return cdoc_fail(x->err, -E2BIG, line, "more than %d verbs", CDOC_MAX_VERBS);
	cdoc_verb_init(v, k);
	int r = attrs(n, verb_attr, v, x->err);
	if (r == 0)
		r = verb_body(x, n, v);
	if (r == 0)
		r = cdoc_verb_finish(v, line, x->err);
	if (r < 0)
		cdoc_verb_clear(v);
	return r;
}

static int parse_doc(xmlDoc *doc, struct cdoc *d, struct cdoc_error *err)
{
	xmlNode *root = xmlDocGetRootElement(doc);
	if (doc->intSubset || doc->extSubset)
		return cdoc_fail(err, -EINVAL, 0, "DTDs are not allowed");
	if (!root || strcmp(nm(root), "Response"))
		return cdoc_fail(err, -EINVAL, root ? lineof(root) : 0,
				 "the root element must be <Response>");
	int r = check_tree(root, 1, err);
	if (r < 0)
		return r;
	struct xp x = {.err = err};
	for (const xmlNode *n = root->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue; /* text between verbs is ignored */
		struct cdoc_verb v;
		r = parse_verb(&x, n, false, &v);
		if (r < 0)
			return r;
		cdoc_add_verb(d, &v);
	}
	return 0;
}

/* libxml2's last error as ours ("XML: ..." without its newline). */
static int xml_error(xmlParserCtxt *ctxt, struct cdoc_error *err)
{
	const xmlError *e = xmlCtxtGetLastError(ctxt);
	const char *m = e && e->message ? e->message : "malformed document";
	size_t len = strcspn(m, "\n");
	return cdoc_fail(err, -EINVAL, e ? e->line : 0, "XML: %.*s", (int)(len > 140 ? 140 : len),
			 m);
}

int cdoc_parse_xml(const char *s, size_t n, struct cdoc **ret, struct cdoc_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	if (n > CDOC_MAX_BYTES)
		return cdoc_fail(err, -E2BIG, 0, "document is larger than %d bytes",
				 CDOC_MAX_BYTES);
	if (n == 0)
		return cdoc_fail(err, -EINVAL, 0, "empty document");
	/* refused before libxml2 sees them: no entity is ever declared, so none is expanded */
	if (memmem(s, n, "<!DOCTYPE", 9) || memmem(s, n, "<!ENTITY", 8))
		return cdoc_fail(err, -EINVAL, 0, "DTDs and entity declarations are not allowed");
	pthread_once(&xml_once, xml_init);
	xmlParserCtxt *ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return cdoc_fail(err, -ENOMEM, 0, "out of memory");
	xmlDoc *doc = xmlCtxtReadMemory(ctxt, s, (int)n, NULL, "UTF-8",
					XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	int r;
	if (!doc) {
		r = xml_error(ctxt, err);
		xmlFreeParserCtxt(ctxt);
		return r;
	}
	struct cdoc *d = mem_zalloc(sizeof(*d));
	r = parse_doc(doc, d, err);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	if (r < 0) {
		cdoc_free(d);
		return r;
	}
	*ret = d;
	return 0;
}
