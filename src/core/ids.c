/* ids.c: kernel randomness and time-ordered resource ids (prefix + 32 hex, like Twilio SIDs). */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core.h"

int rand_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			abort(); /* no entropy means no safe ids or secrets: stop */
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Ids are not secrets: their random part comes from a per-thread buffer refilled from the
   kernel 4 KiB at a time, which keeps a syscall off every insert. */
static void id_random(unsigned char *out, size_t n)
{
	static _Thread_local unsigned char pool[4096];
	static _Thread_local size_t left;
	if (left < n) {
		rand_bytes(pool, sizeof(pool));
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	memset(pool + sizeof(pool) - left, 0, n);
	left -= n;
}

void id_new(const char *prefix, char out[ID_LEN + 1])
{
	unsigned char raw[16];
	uint64_t ms = time_now_us() / 1000u;
	for (int i = 0; i < 6; i++)
		raw[i] = (unsigned char)(ms >> (8 * (5 - i)));
	id_random(raw + 6, 10);
	out[0] = prefix[0];
	out[1] = prefix[1];
	hex_encode(raw, sizeof(raw), out + 2);
}

bool id_valid(const char *s, const char *prefix)
{
	if (!s || strlen(s) != ID_LEN || s[0] != prefix[0] || s[1] != prefix[1])
		return false;
	for (int i = 2; i < ID_LEN; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}
