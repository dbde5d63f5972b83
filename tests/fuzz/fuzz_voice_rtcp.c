/* fuzz_voice_rtcp: compound RTCP packets through voice_rtcp_parse (our SR/RR report-block
   reader), the MOS estimate and a write/read round trip of every block returned. */
#include <stdlib.h>
#include <string.h>

#include "voice/voice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	/* the first 4 bytes pick the SSRC the reports must be about (0: any) */
	uint32_t ssrc =
	    (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
	struct voice_rtcp_block b[8];
	memset(b, 0, sizeof(b));
	int n = voice_rtcp_parse(data + 4, size - 4, ssrc, b, 8);
	if (n > 8)
		abort();
	for (int i = 0; i < n; i++) {
		if (ssrc && b[i].ssrc != ssrc)
			abort();
		if (b[i].cum_lost < -0x800000 || b[i].cum_lost > 0x7fffff)
			abort();
		double m =
		    voice_mos_estimate(100.0 * b[i].fraction_lost / 256.0, b[i].jitter / 8.0);
		if (!(m >= 1.0 && m <= 4.5))
			abort();
		/* our writer's packet reads back to the same block */
		uint8_t out[128];
		struct voice_rtcp_block r;
		memset(&r, 0, sizeof(r));
		int len = voice_rtcp_write_rr(out, sizeof(out), b[i].sender_ssrc, &b[i], "fuzz");
		if (len <= 0 || voice_rtcp_parse(out, (size_t)len, b[i].ssrc, &r, 1) != 1 ||
		    memcmp(&r, &b[i], sizeof(r)) != 0)
			abort();
	}
	return 0;
}
