/* fuzz_apikey: apikey_well_formed on arbitrary strings; a well-formed key stops being one when
   any single character changes (CRC-32 catches every one-character error), and keys made by
   apikey_new for fuzzed kinds are well formed. */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mutate_each(const char *s)
{
	size_t n = strlen(s);
	char *m = mem_strdup(s);
	for (size_t i = 0; i < n; i++) {
		char was = m[i];
		m[i] = was == 'z' ? 'y' : (was == '_' ? 'x' : 'z');
		if (apikey_well_formed(m))
			abort();
		m[i] = was;
	}
	mem_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4 * APIKEY_MAX_LEN)
		return 0;
	char *s = mem_strndup((const char *)data, size);
	if (apikey_well_formed(s)) {
		char h[65];
		apikey_hash(s, h);
		if (strlen(h) != 64 || strlen(s) >= APIKEY_MAX_LEN)
			abort();
		mutate_each(s);
	}

	/* the input as a key kind */
	char key[APIKEY_MAX_LEN], prefix[APIKEY_PREFIX_LEN + 1];
	if (apikey_new(s, key, prefix) == 0) {
		if (!apikey_well_formed(key) || strncmp(key, prefix, strlen(prefix)) != 0 ||
		    strlen(prefix) > APIKEY_PREFIX_LEN)
			abort();
	}
	mem_free(s);
	return 0;
}
