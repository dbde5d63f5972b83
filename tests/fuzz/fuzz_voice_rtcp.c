/* fuzz_voice_rtcp: compound RTCP packets through voice_rtcp_parse (our SR/RR report-block
   reader) and the MOS estimate on what it returns; counts and value ranges are checked. */
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
	}
	return 0;
}
