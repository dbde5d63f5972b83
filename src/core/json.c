/* json.c: strict request-body parsing and field validation (unknown fields rejected). */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int depth_of(const json_t *v, int d)
{
	if (d > JSON_MAX_DEPTH)
		return d;
	int max = d;
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach ((json_t *)v, k, c) {
			int cd = depth_of(c, d + 1);
			if (cd > max)
				max = cd;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *c;
		json_array_foreach (v, i, c) {
			int cd = depth_of(c, d + 1);
			if (cd > max)
				max = cd;
		}
	}
	return max;
}

int json_parse_body(const char *data, size_t len, json_t **ret, const char **ret_err)
{
	json_error_t err;
	if (memchr(data, '\0', len)) { /* raw NUL is never valid JSON; jansson would stop there */
		*ret_err = "request body is not valid JSON";
		return -EINVAL;
	}
	/* RFC 8259: any value at top level; NUL escapes are valid JSON (y_string_null_escape). */
	json_t *v = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (!v && json_error_code(&err) == json_error_null_byte_in_key) {
		/* valid JSON, but no API field name can hold U+0000: an unknown field */
		*ret_err = "object key contains U+0000";
		return -ENOTSUP;
	}
	if (!v) {
		*ret_err = "request body is not valid JSON";
		return -EINVAL;
	}
	if (depth_of(v, 1) > JSON_MAX_DEPTH) {
		json_decref(v);
		*ret_err = "request body nests too deeply";
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

char *json_serialize(const json_t *v, size_t flags, size_t *ret_len)
{
	size_t cap = 1024;
	char *out = malloc(cap);
	size_t n = out ? json_dumpb(v, out, cap - 1, flags) : 0;
	if (out && n >= cap) { /* json_dumpb told the size it needs: once more, exactly */
		char *big = realloc(out, n + 1);
		if (big && json_dumpb(v, big, n, flags) == n) {
			out = big;
		} else {
			free(big ? big : out);
			return NULL;
		}
	}
	if (!out || (n == 0 && v)) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	if (ret_len)
		*ret_len = n;
	return out;
}

static bool type_ok(const json_t *v, enum jf_type t)
{
	switch (t) {
	case JF_STRING:
		return json_is_string(v);
	case JF_INT:
		return json_is_integer(v);
	case JF_BOOL:
		return json_is_boolean(v);
	case JF_OBJECT:
		return json_is_object(v);
	case JF_ARRAY:
		return json_is_array(v);
	}
	return false;
}

int json_check(const json_t *obj, const struct json_field *fields, const char **ret_field,
	       const char **ret_code)
{
	*ret_field = NULL;
	if (!json_is_object(obj)) {
		*ret_code = "invalid_body";
		return -EINVAL;
	}
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)obj, key, v) {
		const struct json_field *f = fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			*ret_field = key;
			*ret_code = "unknown_field";
			return -EINVAL;
		}
		if (json_is_null(v) && !f->required)
			continue;
		if (!type_ok(v, f->type)) {
			*ret_field = f->name;
			*ret_code = "invalid_type";
			return -EINVAL;
		}
		if (f->type == JF_STRING) {
			size_t max = f->max_len ? f->max_len : 1024;
			if (json_string_length(v) > max ||
			    strlen(json_string_value(v)) != json_string_length(v)) {
				*ret_field = f->name;
				*ret_code =
				    json_string_length(v) > max ? "too_long" : "invalid_type";
				return -EINVAL;
			}
		}
	}
	for (const struct json_field *f = fields; f->name; f++) {
		json_t *fv = json_object_get(obj, f->name);
		if (f->required && (!fv || json_is_null(fv))) {
			*ret_field = f->name;
			*ret_code = "missing_field";
			return -EINVAL;
		}
	}
	return 0;
}

const char *json_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t json_int(const json_t *obj, const char *key, int64_t def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}
