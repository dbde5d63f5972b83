/* rtp.c: RTP header parsing and writing of our own (RFC 3550 5.1), bounded by the packet. */
#include <errno.h>

#include "voice/voice.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int voice_rtp_parse(const uint8_t *p, size_t n, struct voice_rtp_hdr *ret)
{
	if (!p || n < VOICE_RTP_HDR || (p[0] >> 6) != 2)
		return -EINVAL;
	bool padding = (p[0] & 0x20) != 0, ext = (p[0] & 0x10) != 0;
	size_t off = VOICE_RTP_HDR + 4u * (p[0] & 0x0f);
	if (off > n)
		return -EINVAL;
	if (ext) {
		if (n - off < 4)
			return -EINVAL;
		size_t xlen = 4u * rd16(p + off + 2);
		off += 4;
		if (xlen > n - off)
			return -EINVAL;
		off += xlen;
	}
	size_t end = n;
	if (padding) {
		uint8_t pad = p[n - 1];
		if (pad == 0 || pad > end - off)
			return -EINVAL;
		end -= pad;
	}
	ret->pt = p[1] & 0x7f;
	ret->marker = (p[1] & 0x80) != 0;
	ret->seq = rd16(p + 2);
	ret->ts = rd32(p + 4);
	ret->ssrc = rd32(p + 8);
	ret->off = off;
	ret->len = end - off;
	return 0;
}

void voice_rtp_write_hdr(uint8_t out[VOICE_RTP_HDR], uint8_t pt, bool marker, uint16_t seq,
			 uint32_t ts, uint32_t ssrc)
{
	out[0] = 0x80;
	out[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	out[2] = (uint8_t)(seq >> 8);
	out[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		out[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		out[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
}
