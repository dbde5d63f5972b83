/* fuzz_rates_csv.c: libFuzzer target for the carriers' rate-deck parser (a CSV upload is
   outside input). */
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *out = NULL;
	char err[160];
	if (api_rates_csv_parse((const char *)data, size, size & 1, "line", &out, err) == 0)
		json_decref(out);
	return 0;
}
