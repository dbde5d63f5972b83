/* doc_json.c: the JSON form of call-control documents (jansson) into the same verb list as
   TwiML: the same attribute names, ranges and defaults (docs/calls.md). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "doc_int.h"

struct jp {
	struct cdoc_error *err;
	size_t nverbs;
};

/* Nesting of [ and { outside strings, checked before jansson builds anything. */
static int depth_scan(const char *s, size_t n, struct cdoc_error *err)
{
	int depth = 0;
	bool str = false, esc = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
		} else if (c == '"') {
			str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > CDOC_MAX_DEPTH)
				return cdoc_fail(err, -E2BIG, 0, "JSON nested deeper than %d",
						 CDOC_MAX_DEPTH);
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 0;
}

/* A JSON value as attribute text; 1 for null (absent). */
static int jval(const json_t *j, char *tmp, size_t cap, const char **ret, enum cdoc_vsrc *src)
{
	*src = V_STR;
	if (json_is_string(j)) {
		*ret = json_string_value(j);
	} else if (json_is_integer(j)) {
		snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		*ret = tmp;
		*src = V_NUM;
	} else if (json_is_boolean(j)) {
		*ret = json_is_true(j) ? "true" : "false";
		*src = V_BOOL;
	} else if (json_is_null(j)) {
		return 1;
	} else {
		*ret = "";
		*src = V_OTHER;
	}
	return 0;
}

static int str_field(const json_t *j, const char *ctx, const char *key, const char **ret,
		     struct cdoc_error *err)
{
	if (!json_is_string(j))
		return cdoc_fail(err, -EINVAL, 0, "%s: %s must be a string", ctx, key);
	*ret = json_string_value(j);
	return 0;
}

static int json_target(const json_t *t, struct cdoc_verb *v, struct cdoc_error *err)
{
	static const char *const types[] = {"number", "sip", "client"};
	static const char *const keys[] = {"number", "uri", "identity"};
	const char *type = json_string_value(json_object_get(t, "type"));
	size_t k = 0;
	while (type && k < 3 && strcmp(type, types[k]))
		k++;
	if (!json_is_object(t) || !type || k == 3)
		return cdoc_fail(err, -EINVAL, 0,
				 "Dial: a target needs \"type\": number, sip or client");
	struct cdoc_noun o;
	cdoc_noun_init(&o, (enum cdoc_noun_kind)k);
	const json_t *tv = json_object_get(t, keys[k]);
	const char *target = "", *key;
	int r = tv ? str_field(tv, "Dial", keys[k], &target, err) : 0;
	if (r == 0)
		r = cdoc_noun_target(&o, target, strlen(target), 0, err);
	json_t *val;
	json_object_foreach ((json_t *)t, key, val) {
		char tmp[32];
		const char *s;
		enum cdoc_vsrc src;
		if (r < 0)
			break;
		if (!strcmp(key, "type") || !strcmp(key, keys[k]) || jval(val, tmp, 32, &s, &src))
			continue;
		r = cdoc_noun_attr(&o, key, s, src, 0, err);
	}
	if (r == 0)
		r = cdoc_verb_add_noun(v, &o, 0, err);
	cdoc_noun_clear(&o);
	return r;
}

static int json_verb(struct jp *x, const json_t *o, bool nested, struct cdoc_verb *v);

/* The keys that are bodies in TwiML: Say text, Play/Redirect url, Gather nested, Dial
   number/targets. 1 if key is not one of v's. */
static int json_body(struct jp *x, struct cdoc_verb *v, const char *key, const json_t *val)
{
	const char *ctx = cdoc_kind_name(v->kind), *s = NULL;
	enum cdoc_kind k = v->kind;
	int r;
	if ((k == CDOC_SAY && !strcmp(key, "text")) ||
	    ((k == CDOC_PLAY || k == CDOC_REDIRECT) && !strcmp(key, "url"))) {
		r = str_field(val, ctx, key, &s, x->err);
		return r < 0 ? r : cdoc_verb_body(v, s, strlen(s), 0, x->err);
	}
	if (k == CDOC_GATHER && !strcmp(key, "nested")) {
		if (!json_is_array(val))
			return cdoc_fail(x->err, -EINVAL, 0, "Gather: nested must be an array");
		for (size_t i = 0; i < json_array_size(val); i++) {
			struct cdoc_verb c;
			r = json_verb(x, json_array_get(val, i), true, &c);
			if (r < 0)
				return r;
			cdoc_verb_add_child(v, &c);
		}
		return 0;
	}
	if (k == CDOC_DIAL && (!strcmp(key, "number") || !strcmp(key, "targets")) && v->nnouns)
		return cdoc_fail(x->err, -EINVAL, 0, "Dial: number and targets are exclusive");
	if (k == CDOC_DIAL && !strcmp(key, "number")) {
		r = str_field(val, ctx, key, &s, x->err);
		struct cdoc_noun o;
		cdoc_noun_init(&o, CDOC_NUMBER);
		if (r == 0)
			r = cdoc_noun_target(&o, s, strlen(s), 0, x->err);
		if (r == 0)
			r = cdoc_verb_add_noun(v, &o, 0, x->err);
		cdoc_noun_clear(&o);
		return r;
	}
	if (k == CDOC_DIAL && !strcmp(key, "targets")) {
		if (!json_is_array(val) || !json_array_size(val))
			return cdoc_fail(x->err, -EINVAL, 0,
					 "Dial: targets must be a non-empty array");
		for (size_t i = 0; i < json_array_size(val); i++) {
			r = json_target(json_array_get(val, i), v, x->err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	return 1;
}

static int json_verb(struct jp *x, const json_t *o, bool nested, struct cdoc_verb *v)
{
	enum cdoc_kind k;
	const char *name = json_string_value(json_object_get(o, "verb"));
	if (!json_is_object(o) || !name)
		return cdoc_fail(x->err, -EINVAL, 0, "each verb must be an object with \"verb\"");
	if (cdoc_kind_of(name, true, &k) < 0)
		return cdoc_fail(x->err, -EINVAL, 0, "unsupported verb \"%.40s\"", name);
	if (nested && !cdoc_kind_nestable(k))
		return cdoc_fail(x->err, -EINVAL, 0, "Gather: %s is not allowed inside Gather",
				 name);
	if (++x->nverbs > CDOC_MAX_VERBS)
		return cdoc_fail(x->err, -E2BIG, 0, "more than %d verbs", CDOC_MAX_VERBS);
	cdoc_verb_init(v, k);
	const char *key;
	json_t *val;
	int r = 0;
	json_object_foreach ((json_t *)o, key, val) {
		char tmp[32];
		const char *s;
		enum cdoc_vsrc src;
		if (!strcmp(key, "verb"))
			continue;
		r = json_body(x, v, key, val);
		if (r == 1)
			r = jval(val, tmp, sizeof(tmp), &s, &src)
				? 0
				: cdoc_verb_attr(v, key, s, src, 0, x->err);
		if (r < 0)
			break;
	}
	if (r == 0)
		r = cdoc_verb_finish(v, 0, x->err);
	if (r < 0)
		cdoc_verb_clear(v);
	return r;
}

int cdoc_parse_json(const char *s, size_t n, struct cdoc **ret, struct cdoc_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	if (n > CDOC_MAX_BYTES)
		return cdoc_fail(err, -E2BIG, 0, "document is larger than %d bytes",
				 CDOC_MAX_BYTES);
	int r = depth_scan(s, n, err);
	if (r < 0)
		return r;
	json_error_t je;
	json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return cdoc_fail(err, -EINVAL, je.line > 0 ? je.line : 0, "JSON: %.140s", je.text);
	const json_t *verbs = json_is_array(root) ? root : json_object_get(root, "verbs");
	if (!json_is_array(verbs)) {
		json_decref(root);
		return cdoc_fail(err, -EINVAL, 0,
				 "expected an array of verbs or {\"verbs\": [...]}");
	}
	struct cdoc *d = mem_zalloc(sizeof(*d));
	struct jp x = {.err = err};
	for (size_t i = 0; i < json_array_size(verbs) && r == 0; i++) {
		struct cdoc_verb v;
		r = json_verb(&x, json_array_get(verbs, i), false, &v);
		if (r == 0)
			cdoc_add_verb(d, &v);
	}
	json_decref(root);
	if (r < 0) {
		cdoc_free(d);
		return r;
	}
	*ret = d;
	return 0;
}
