/* fuzz_voice_rtp: a stream of RTP packets (2-byte length prefixes) through voice_rtp_parse and,
   for payload type 101, the RFC 4733 receiver; payload bounds and digit values are checked. */
#include <stdlib.h>
#include <string.h>

#include "voice/voice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct voice_dtmf_rx rx;
	voice_dtmf_rx_init(&rx);
	size_t pos = 0;
	while (size - pos >= 2) {
		size_t n = (size_t)(data[pos] << 8 | data[pos + 1]);
		pos += 2;
		if (n > size - pos)
			n = size - pos;
		const uint8_t *p = data + pos;
		pos += n;
		struct voice_rtp_hdr h;
		if (voice_rtp_parse(p, n, &h) < 0)
			continue;
		if (h.off < VOICE_RTP_HDR || h.off > n || h.len > n - h.off)
			abort();
		if (h.pt != 101)
			continue;
		char d = 0;
		int r = voice_dtmf_rx_packet(&rx, h.ssrc, h.ts, h.marker, p + h.off, h.len, &d);
		if (r == 1 && !strchr("0123456789*#ABCD", d))
			abort();
		if (r == 1 && d == 0)
			abort();
		if (rx.nrecent > 8)
			abort();
	}
	return 0;
}
