/* fuzz_time: time_parse on arbitrary strings; an accepted time formats and parses back to the
   same instant. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define YEAR_10000_US 253402300800000000ull /* time_fmt writes 4-digit years below this */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256)
		return 0;
	char *s = mem_strndup((const char *)data, size);
	uint64_t us = 0, back = 0;
	int r = time_parse(s, &us);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0 && us < YEAR_10000_US) {
		char buf[TIME_RFC3339_LEN];
		time_fmt(us, buf);
		if (strlen(buf) != 27 || time_parse(buf, &back) != 0 || back != us)
			abort();
	}
	mem_free(s);
	return 0;
}
