/* fuzz_form: form_parse on arbitrary bytes; a parsed form holds only strings or arrays of
   strings, at most FORM_MAX_FIELDS values, each no longer than the input. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *o = NULL;
	int r = form_parse((const char *)data, size, &o);
	if (r != 0) {
		if ((r != -EINVAL && r != -E2BIG) || o)
			abort();
		return 0;
	}
	size_t values = 0;
	const char *k;
	json_t *v;
	json_object_foreach (o, k, v) {
		if (strlen(k) > size)
			abort();
		json_t *one = json_is_array(v) ? json_array_get(v, 0) : v;
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		if (json_is_array(v) && n < 2)
			abort();
		for (size_t i = 0; i < n; i++, one = json_array_get(v, i)) {
			if (!json_is_string(one) || json_string_length(one) > size)
				abort();
			values++;
		}
	}
	if (values > FORM_MAX_FIELDS)
		abort();
	json_decref(o);
	return 0;
}
