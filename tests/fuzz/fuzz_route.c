/* fuzz_route: http_route_match against the real route table (api_routes). The first byte picks
   the method, the rest is the path. A match must be the requested method and its parameters
   must rebuild the path; a miss is 404 or 405. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {"GET",	"POST", "PATCH",   "PUT",
				      "DELETE", "HEAD", "OPTIONS", "get"};

/* Substitutes params into the route pattern; NULL if they do not fit its shape. */
static char *rebuild(const char *pattern, const char *const *params)
{
	struct buf b;
	buf_init(&b, 0);
	int i = 0;
	for (const char *p = pattern; *p;) {
		if (*p == '{') {
			const char *v = params[i++];
			if (!v || !*v || strchr(v, '/'))
				abort();
			buf_puts(&b, v);
			const char *close = strchr(p, '}');
			p = close ? close + 1 : p + strlen(p);
		} else {
			buf_append(&b, p++, 1);
		}
	}
	return buf_detach(&b);
}

static void match(const char *method, const char *path, size_t bufsz)
{
	const char *params[HTTP_MAX_PARAMS] = {0};
	char *buf = mem_alloc(bufsz);
	int status = -1;
	const struct route *r =
	    http_route_match(api_routes, api_routes_len, method, path, params, buf, bufsz, &status);
	if (!r) {
		if (status != 404 && status != 405 && status != 414)
			abort();
	} else {
		if (r < api_routes || r >= api_routes + api_routes_len ||
		    strcmp(r->method, method) != 0)
			abort();
		char *again = rebuild(r->path, params);
		if (strcmp(again, path) != 0)
			abort();
		mem_free(again);
	}
	mem_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	const char *method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	char *path = mem_strndup((const char *)data + 1, size - 1);
	match(method, path, 1024); /* the server's parameter buffer */
	match(method, path, 8);	   /* a tight one */
	mem_free(path);
	return 0;
}
