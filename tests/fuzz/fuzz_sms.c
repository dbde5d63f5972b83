/* fuzz_sms: SMS inputs from outside (received short_message bytes with any data_coding and
   UDH flag, provider webhooks) and the plan/split/decode/reassemble round trip on any valid
   UTF-8, each with the invariants that must hold. The first byte picks the target. */
#include <stdlib.h>
#include <string.h>

#include "messaging/sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True if s is UTF-8 (jansson refuses anything else). */
static bool utf8_ok(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

static void decode(const uint8_t *p, size_t n)
{
	static const uint8_t codings[] = {0, 3, 8};
	if (n < 1)
		return;
	uint8_t dc = p[0] & 0x80 ? p[0] : codings[p[0] % 3];
	bool udhi = p[0] & 0x40;
	struct sms_part part;
	int r = sms_decode(dc, udhi, p + 1, n - 1, &part);
	if (r != 0 && r != -EINVAL && r != -ENOTSUP && r != -E2BIG)
		abort();
	if (r != 0)
		return;
	if (!part.text || !utf8_ok(part.text))
		abort();
	if (part.concatenated && (part.seq == 0 || part.seq > part.total))
		abort();
	/* the same part twice: the second is a duplicate unless the first completed */
	struct sms_reasm *ra = sms_reasm_new(1000, 4);
	struct sms_part again = part;
	again.text = mem_strdup(part.text);
	char *out = NULL;
	int a = sms_reasm_add(ra, "+1", "+2", &part, 0, &out);
	if (a == 1) {
		if (strcmp(out, again.text) != 0)
			abort();
		mem_free(out);
	}
	int b = sms_reasm_add(ra, "+1", "+2", &again, 1, &out);
	if (a == 0 && b != 0)
		abort();
	if (b == 1)
		mem_free(out);
	sms_reasm_free(ra);
}

static void round_trip(const uint8_t *p, size_t n)
{
	const char *s = (const char *)p;
	struct sms_plan plan;
	int r = sms_plan(s, n, &plan);
	if (r != 0 && r != -EINVAL && r != -E2BIG)
		abort();
	if (r != 0)
		return;
	struct sms_segment *seg = NULL;
	size_t nseg = 0;
	if (sms_split(s, n, &plan, (uint8_t)n, &seg, &nseg) != 0 || nseg != (size_t)plan.segments)
		abort();
	struct sms_reasm *ra = sms_reasm_new(1000, 1);
	char *out = NULL;
	int done = 0;
	for (size_t i = nseg; i-- > 0;) { /* last part first */
		struct sms_part part;
		if (seg[i].len > 160 || (plan.coding == SMS_UCS2 && seg[i].len > 140))
			abort();
		if (sms_decode((uint8_t)plan.coding, seg[i].udhi, seg[i].data, seg[i].len, &part))
			abort();
		int a = sms_reasm_add(ra, "a", "b", &part, 0, &out);
		if (a != (i == 0 ? 1 : 0))
			abort();
		done += a;
	}
	if (done != 1 || strlen(out) != n || memcmp(out, s, n) != 0)
		abort();
	mem_free(out);
	mem_free(seg);
	sms_reasm_free(ra);
}

static void webhook(enum sms_http_kind kind, const uint8_t *p, size_t n)
{
	json_t *j = NULL;
	int r = sms_http_parse_webhook(kind, NULL, (const char *)p, n, &j);
	if (r != 0 && r != -EINVAL && r != -E2BIG)
		abort();
	if (r != 0)
		return;
	const char *kd = json_str(j, "kind");
	if (!kd || (strcmp(kd, "receipt") != 0 && strcmp(kd, "inbound") != 0))
		abort();
	if (!json_str(j, "provider_id"))
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	switch (data[0] % 4) {
	case 0:
		decode(data + 1, size - 1);
		break;
	case 1:
		round_trip(data + 1, size - 1);
		break;
	case 2:
		webhook(SMS_HTTP_TWILIO, data + 1, size - 1);
		break;
	default:
		webhook(SMS_HTTP_TELNYX, data + 1, size - 1);
	}
	return 0;
}
