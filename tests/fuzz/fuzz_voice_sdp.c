/* fuzz_voice_sdp: voice_sdp_parse on arbitrary bytes; whatever parses and negotiates must give
   an answer that our parser reads back with the same choice. */
#include <stdlib.h>
#include <string.h>

#include "voice/voice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct voice_sdp sdp, back;
	struct voice_sdp_choice ch, ch2;
	if (voice_sdp_parse((const char *)data, size, &sdp) < 0)
		return 0;
	if (sdp.nfmts > VOICE_SDP_MAX_FMTS || sdp.nmedia > VOICE_SDP_MAX_MEDIA ||
	    memchr(sdp.addr, '\0', sizeof(sdp.addr)) == NULL)
		abort();
	if (voice_sdp_negotiate(&sdp, &ch) < 0)
		return 0;
	if ((ch.pt != 0 && ch.pt != 8) || ch.te_pt > 127)
		abort();
	struct voice_sdp_local l = {.addr = "127.0.0.1", .port = 20000, .choice = ch};
	char out[4096];
	int n = voice_sdp_write_answer(out, sizeof(out), &l, &sdp);
	if (n < 0)
		return 0; /* echoed m= lines can outgrow the buffer: refused, never truncated */
	if (voice_sdp_parse(out, (size_t)n, &back) < 0 || voice_sdp_negotiate(&back, &ch2) < 0 ||
	    ch2.pt != ch.pt || ch2.te_pt != ch.te_pt || back.audio != sdp.audio)
		abort();
	return 0;
}
