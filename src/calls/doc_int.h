/* doc_int.h (private to src/calls/doc*.c): the verb model both front ends (XML, JSON) fill
   through one attribute table, so the two forms validate and default identically. */
#ifndef IRISX_CALLS_DOC_INT_H
#define IRISX_CALLS_DOC_INT_H

#include <stdarg.h>

#include "core/core.h"
#include "doc.h"

/* how a value arrived: an XML attribute and a JSON string are V_STR; V_OTHER (a JSON real,
   array or object) fits no attribute */
enum cdoc_vsrc { V_STR, V_NUM, V_BOOL, V_OTHER };

/* Fills err (NULL-safe) with the message and line; returns rc for "return cdoc_fail(...)". */
int cdoc_fail(struct cdoc_error *err, int rc, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Verb by name: XML "Say" (json false) or JSON "say" (json true); -ENOENT if unknown. */
int cdoc_kind_of(const char *name, bool json, enum cdoc_kind *ret);
const char *cdoc_kind_name(enum cdoc_kind k); /* "Say" */
bool cdoc_kind_nestable(enum cdoc_kind k);    /* may appear inside Gather */

void cdoc_verb_init(struct cdoc_verb *v, enum cdoc_kind k); /* zeroes and defaults */
void cdoc_verb_clear(struct cdoc_verb *v);		    /* frees what v owns */
/* Sets the attribute name of v; unknown names are ignored (0), as Twilio does. */
int cdoc_verb_attr(struct cdoc_verb *v, const char *name, const char *val, enum cdoc_vsrc src,
		   int line, struct cdoc_error *err);
/* Sets v->text from a body (trimmed; Say text, Play/Redirect URL); -E2BIG past CDOC_MAX_TEXT. */
int cdoc_verb_body(struct cdoc_verb *v, const char *s, size_t n, int line, struct cdoc_error *err);
/* Checks what only the whole verb can say (Play needs a URL or digits, Dial a target);
   an empty Say gets text "". */
int cdoc_verb_finish(struct cdoc_verb *v, int line, struct cdoc_error *err);
/* Moves *c into v's Gather children (v takes ownership, *c is zeroed). */
void cdoc_verb_add_child(struct cdoc_verb *v, struct cdoc_verb *c);

void cdoc_noun_init(struct cdoc_noun *n, enum cdoc_noun_kind k);
void cdoc_noun_clear(struct cdoc_noun *n);
int cdoc_noun_attr(struct cdoc_noun *n, const char *name, const char *val, enum cdoc_vsrc src,
		   int line, struct cdoc_error *err);
/* Sets the number, sip: URI or client identity (trimmed, non-empty, capped). */
int cdoc_noun_target(struct cdoc_noun *n, const char *s, size_t len, int line,
		     struct cdoc_error *err);
/* Moves *n into v's nouns; -E2BIG past CDOC_MAX_NOUNS (then *n is left to the caller). */
int cdoc_verb_add_noun(struct cdoc_verb *v, struct cdoc_noun *n, int line, struct cdoc_error *err);

/* Moves *v to the end of d's verbs. */
void cdoc_add_verb(struct cdoc *d, struct cdoc_verb *v);

#endif
