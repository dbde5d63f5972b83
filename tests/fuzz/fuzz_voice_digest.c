/* fuzz_voice_digest.c: libFuzzer target for the voice engine's digest credentials parser,
   the response computation on what it accepts, and the nonce checker. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "voice/voice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct voice_digest d;
	if (voice_digest_parse((const char *)data, size, &d) == 0) {
		char out[65];
		(void)voice_digest_expected(&d, "00000000000000000000000000000000", "REGISTER",
					    out);
		static const uint8_t key[32] = {7};
		(void)voice_nonce_check(key, d.realm, d.nonce, 1000, 300);
	}
	/* the scanner matcher reads exactly size bytes */
	(void)voice_ua_listed(VOICE_SCANNER_AGENTS, (const char *)data, size);
	return 0;
}
