/* fuzz_webhook_input: the webhook inputs that come from outside: a tenant's URL
   (ssrf_check_url), a receiver's Retry-After, a webhook-signature header and a whsec_
   secret (whsig_verify), each with the invariants that must hold for any input. */
#include <stdlib.h>
#include <string.h>

#include "webhooks/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MSG_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS 1614265330
#define BODY "{\"test\": 2432232314}"

static void url(const char *s)
{
	const char *why_strict = NULL, *why_open = NULL;
	int strict = ssrf_check_url(s, false, &why_strict);
	int open = ssrf_check_url(s, true, &why_open);
	if ((strict != 0 && strict != -EINVAL) || (open != 0 && open != -EINVAL))
		abort();
	if ((strict && !why_strict) || (open && !why_open))
		abort();
	if (strict == 0 && open != 0) /* allow_private only ever lets more through */
		abort();
}

static void retry_after(const char *s)
{
	static const int64_t nows[] = {NOW, 0, INT64_MIN, INT64_MAX};
	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		int64_t r = retry_after_parse(s, nows[i]);
		if (r != -EINVAL && (r < 0 || r > 86400))
			abort();
	}
}

static void signature_header(const char *s)
{
	int r = whsig_verify(SECRET, MSG_ID, TS, BODY, strlen(BODY), s);
	if (r != 0 && r != -EPERM)
		abort();
	struct buf sig, hdr;
	buf_init(&sig, 0);
	buf_init(&hdr, 0);
	if (whsig_sign(SECRET, MSG_ID, TS, BODY, strlen(BODY), &sig) != 0)
		abort();
	if (r == 0 && !strstr(s, sig.p)) /* a match needs the real signature */
		abort();
	buf_printf(&hdr, "%s %s", s, sig.p); /* whatever else the header holds, it matches */
	if (whsig_verify(SECRET, MSG_ID, TS, BODY, strlen(BODY), hdr.p) != 0)
		abort();
	buf_free(&sig);
	buf_free(&hdr);
}

static void secret(const char *s)
{
	struct buf sig;
	buf_init(&sig, 0);
	int r = whsig_sign(s, MSG_ID, TS, BODY, strlen(BODY), &sig);
	if (r != 0 && r != -EINVAL)
		abort();
	int v = whsig_verify(s, MSG_ID, TS, BODY, strlen(BODY), r == 0 ? sig.p : "v1,x");
	if (r == 0 && v != 0) /* what a secret signs, it verifies */
		abort();
	if (r != 0 && v != -EINVAL)
		abort();
	buf_free(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = mem_strndup((const char *)data, size);
	url(s);
	retry_after(s);
	signature_header(s);
	secret(s);
	mem_free(s);
	return 0;
}
