/* fuzz_twiml_reply.c: libFuzzer target for the messaging TwiML answer parser (a tenant's
   sms_url answer is outside input). */
#include <stddef.h>
#include <stdint.h>

#include <libxml/xmlerror.h>

#include "messaging/messaging.h"

static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once) {
		xmlSetGenericErrorFunc(NULL, quiet);
		once = 1;
	}
	json_t *out = NULL;
	if (messaging_twiml_replies((const char *)data, size, &out) == 0)
		json_decref(out);
	return 0;
}
