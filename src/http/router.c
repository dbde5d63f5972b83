/* router.c: matches method + path against the route table ("{name}" = one segment,
   "{name}.json" = one segment ending in ".json", the parameter without it). */
#include <string.h>

#include "http.h"

/* Matches one pattern; fills params (pointers into path copy segments) on success. */
static bool match(const char *pat, const char *path, const char *params[HTTP_MAX_PARAMS],
		  char *scratch, size_t scratch_sz)
{
	int np = 0;
	size_t used = 0;
	while (*pat && *path) {
		if (*pat != '/' || *path != '/')
			return false;
		pat++;
		path++;
		size_t pl = strcspn(pat, "/"), sl = strcspn(path, "/");
		if (pat[0] == '{') {
			const char *close = memchr(pat, '}', pl);
			size_t xl = close ? pl - (size_t)(close + 1 - pat) : 0; /* literal suffix */
			if (sl <= xl || np >= HTTP_MAX_PARAMS ||
			    memcmp(path + sl - xl, close + 1, xl) != 0)
				return false;
			sl -= xl; /* the parameter is the segment before the suffix */
			if (scratch) {
				if (used + sl + 1 > scratch_sz)
					return false;
				memcpy(scratch + used, path, sl);
				scratch[used + sl] = '\0';
				params[np] = scratch + used;
				used += sl + 1;
			}
			np++;
			sl += xl;
		} else if (pl != sl || memcmp(pat, path, pl) != 0) {
			return false;
		}
		pat += pl;
		path += sl;
	}
	return *pat == '\0' && *path == '\0';
}

void http_route_allow(const struct route *routes, size_t n, const char *path, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (!match(routes[i].path, path, NULL, NULL, 0))
			continue;
		if (out->len)
			buf_puts(out, ", ");
		buf_puts(out, routes[i].method);
	}
}

const struct route *http_route_match(const struct route *routes, size_t n, const char *method,
				     const char *path, const char *params[HTTP_MAX_PARAMS],
				     char *buf, size_t bufsz, int *ret_status)
{
	bool path_known = false;
	for (size_t i = 0; i < n; i++) {
		if (!match(routes[i].path, path, params, NULL, 0))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, method) == 0) {
			if (!match(routes[i].path, path, params, buf, bufsz)) {
				*ret_status = 414; /* a parameter longer than any id */
				return NULL;
			}
			return &routes[i];
		}
	}
	*ret_status = path_known ? 405 : 404;
	return NULL;
}
