/* fuzz_smpp_pdu: a byte stream split into PDUs by smpp_pdu_need, each through smpp_pdu_decode
   (a decoded PDU must re-encode and decode to the same fields) and, as text, smpp_receipt_parse. */
#include <stdlib.h>
#include <string.h>

#include "messaging/smpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pdu(const uint8_t *p, size_t n)
{
	struct smpp_pdu a, b;
	if (smpp_pdu_decode(p, n, &a) < 0)
		return;
	if (a.sm_length > SMPP_SM_MAX || !memchr(a.message_id, 0, sizeof(a.message_id)))
		abort();
	struct smpp_receipt rc;
	if (smpp_receipt_parse((const char *)a.short_message, a.sm_length, &rc) == 0 &&
	    (!rc.id[0] || !memchr(rc.stat, 0, sizeof(rc.stat))))
		abort();
	struct buf out;
	buf_init(&out, 0);
	if (smpp_pdu_encode(&a, &out) == 0) {
		if (smpp_pdu_decode((const uint8_t *)out.p, out.len, &b) < 0)
			abort();
		if (a.message_state == 0)
			a.message_state = -1; /* message_state 0 is not encoded */
		if (strcmp(a.source_addr, b.source_addr) || a.sm_length != b.sm_length ||
		    memcmp(a.short_message, b.short_message, a.sm_length) ||
		    a.message_state != b.message_state || a.sequence != b.sequence)
			abort();
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smpp_receipt rc;
	if (smpp_receipt_parse((const char *)data, size, &rc) == 0 && !rc.id[0])
		abort();
	size_t pos = 0, len = 0;
	while (pos < size) {
		int need = smpp_pdu_need(data + pos, size - pos, &len);
		if (need != 0)
			break;
		if (len < 16 || len > size - pos)
			abort();
		check_pdu(data + pos, len);
		pos += len;
	}
	return 0;
}
