/* fuzz_json_body: request bodies through json_parse_body and json_check; parsed values must
   survive a dump and re-parse unchanged. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A realistic create-user style table with every field type. */
static const struct json_field fields[] = {
    {"email", JF_STRING, true, 254},
    {"name", JF_STRING, false, 200},
    {"role", JF_STRING, true, 32},
    {"password", JF_STRING, false, 1024},
    {"disabled", JF_BOOL, false, 0},
    {"limit", JF_INT, false, 0},
    {"metadata", JF_OBJECT, false, 0},
    {"tags", JF_ARRAY, false, 0},
    {NULL, 0, false, 0},
};

static const char *const codes[] = {"missing_field", "unknown_field", "invalid_type", "too_long",
				    "invalid_body"};

static void check_result(const json_t *v)
{
	const char *field = NULL, *code = NULL;
	int r = json_check(v, fields, &field, &code);
	if (r == 0)
		return;
	if (r != -EINVAL || !code)
		abort();
	bool known = false;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		known |= strcmp(code, codes[i]) == 0;
	if (!known || (strcmp(code, "invalid_body") != 0 && !field))
		abort();
	(void)json_str(v, "email");
	(void)json_int(v, "limit", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = NULL;
	const char *err = NULL;
	int r = json_parse_body((const char *)data, size, &v, &err);
	if (r < 0) {
		if ((r != -EINVAL && r != -ENOTSUP) || !err)
			abort();
		return 0;
	}
	check_result(v);

	/* what we accepted, we can write and read back as the same value */
	char *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!out)
		abort();
	json_t *again = NULL;
	if (json_parse_body(out, strlen(out), &again, &err) != 0 || !json_equal(v, again))
		abort();
	json_decref(again);
	free(out);
	json_decref(v);
	return 0;
}
