/* rtcp.c: our own RTCP report reader (SR/RR report blocks, RFC 3550 6.4) and a simplified
   E-model (ITU-T G.107) turning loss and delay into an estimated MOS. Pure functions. */
#include <errno.h>
#include <string.h>

#include "voice/voice.h"

enum { RTCP_SR = 200, RTCP_RR = 201, BLOCK = 24 };

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void read_block(const uint8_t *b, uint32_t sender, struct voice_rtcp_block *r)
{
	r->sender_ssrc = sender;
	r->ssrc = be32(b);
	r->fraction_lost = b[4];
	uint32_t cum = (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	r->cum_lost = cum & 0x800000u ? (int32_t)cum - 0x1000000 : (int32_t)cum;
	r->ext_seq = be32(b + 8);
	r->jitter = be32(b + 12);
	r->lsr = be32(b + 16);
	r->dlsr = be32(b + 20);
}

int voice_rtcp_parse(const uint8_t *p, size_t n, uint32_t ssrc, struct voice_rtcp_block *out,
		     size_t max)
{
	size_t off = 0, got = 0;
	if (n < 4)
		return -EINVAL;
	while (off < n) {
		if (n - off < 4 || p[off] >> 6 != 2)
			return -EINVAL;
		unsigned rc = p[off] & 0x1f, pt = p[off + 1];
		size_t len = ((size_t)p[off + 2] << 8 | p[off + 3]) * 4 + 4;
		if (len > n - off)
			return -EINVAL;
		const uint8_t *q = p + off;
		if (pt == RTCP_SR || pt == RTCP_RR) {
			size_t head = pt == RTCP_SR ? 28 : 8; /* header + SSRC (+ sender info) */
			if (len < head + (size_t)rc * BLOCK)
				return -EINVAL;
			uint32_t sender = be32(q + 4);
			for (unsigned i = 0; i < rc; i++) {
				const uint8_t *b = q + head + (size_t)i * BLOCK;
				if ((ssrc == 0 || be32(b) == ssrc) && got < max)
					read_block(b, sender, &out[got++]);
			}
		}
		off += len;
	}
	return (int)got;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int voice_rtcp_write_rr(uint8_t *out, size_t cap, uint32_t ssrc, const struct voice_rtcp_block *b,
			const char *cname)
{
	size_t cn = cname ? strlen(cname) : 0;
	if (cn > 255)
		return -EINVAL;
	size_t rr = 8 + (b ? BLOCK : 0);
	size_t sdes = (8 + 2 + cn + 1 + 3) & ~(size_t)3; /* items end with a zero octet, padded */
	if (cap < rr + sdes)
		return -E2BIG;
	memset(out, 0, rr + sdes);
	out[0] = (uint8_t)(0x80 | (b ? 1 : 0));
	out[1] = RTCP_RR;
	out[3] = (uint8_t)(rr / 4 - 1);
	put32(out + 4, ssrc);
	if (b) {
		uint8_t *q = out + 8;
		uint32_t cum = (uint32_t)b->cum_lost & 0xffffffu;
		put32(q, b->ssrc);
		q[4] = b->fraction_lost;
		q[5] = (uint8_t)(cum >> 16);
		q[6] = (uint8_t)(cum >> 8);
		q[7] = (uint8_t)cum;
		put32(q + 8, b->ext_seq);
		put32(q + 12, b->jitter);
		put32(q + 16, b->lsr);
		put32(q + 20, b->dlsr);
	}
	uint8_t *s = out + rr;
	s[0] = 0x81;
	s[1] = 202; /* SDES */
	s[3] = (uint8_t)(sdes / 4 - 1);
	put32(s + 4, ssrc);
	s[8] = 1; /* CNAME */
	s[9] = (uint8_t)cn;
	if (cn)
		memcpy(s + 10, cname, cn);
	return (int)(rr + sdes);
}

double voice_mos_estimate(double loss_pct, double delay_ms)
{
	if (loss_pct < 0 || loss_pct != loss_pct)
		loss_pct = 0;
	if (loss_pct > 100)
		loss_pct = 100;
	if (delay_ms < 0 || delay_ms != delay_ms)
		delay_ms = 0;
	/* G.113 for G.711 without packet loss concealment: Ie = 0, Bpl = 4.3 */
	double ie_eff = 95.0 * loss_pct / (loss_pct + 4.3);
	double id = 0.024 * delay_ms + (delay_ms > 177.3 ? 0.11 * (delay_ms - 177.3) : 0);
	double r = 93.2 - id - ie_eff;
	if (r <= 0)
		return 1.0;
	if (r >= 100)
		return 4.5;
	double mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
	return mos < 1.0 ? 1.0 : mos;
}
