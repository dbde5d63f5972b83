/* fuzz_b64: b64_decode on arbitrary bytes; decoded data re-encodes (both alphabets) and decodes
   back to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const unsigned char *d, size_t n, bool url)
{
	char *e = b64_encode(d, n, url);
	unsigned char *d2 = NULL;
	size_t n2 = 0;
	if (b64_decode(e, strlen(e), &d2, &n2) != 0 || n2 != n || memcmp(d, d2, n) != 0 ||
	    d2[n2] != '\0')
		abort();
	mem_free(d2);
	mem_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *d = NULL;
	size_t n = 0;
	int r = b64_decode((const char *)data, size, &d, &n);
	if (r != 0) {
		if (r != -EINVAL)
			abort();
		return 0;
	}
	if (n > size || d[n] != '\0')
		abort();
	roundtrip(d, n, false);
	roundtrip(d, n, true);
	mem_free(d);
	return 0;
}
