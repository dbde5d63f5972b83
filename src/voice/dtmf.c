/* dtmf.c: RFC 4733 telephone-event receiver of our own. One event is one RTP timestamp, so a
   repeated digit is never merged with the one before, while retransmitted end packets are. */
#include <errno.h>
#include <string.h>

#include "voice/voice.h"

enum {
	TE_END_BIT = 0x80,
	TE_MAX_DUR = 0xffff,
	TE_SEGMENT_SLACK = 1600, /* 200 ms at 8 kHz: how short of 0xffff a segment may end */
};

static const char digits[] = "0123456789*#ABCD";

char voice_dtmf_digit(unsigned event)
{
	return event < 16 ? digits[event] : 0;
}

int voice_dtmf_event(char digit)
{
	char d = digit >= 'a' && digit <= 'd' ? (char)(digit - 'a' + 'A') : digit;
	if (d == 0)
		return -EINVAL;
	const char *p = strchr(digits, d);
	return p ? (int)(p - digits) : -EINVAL;
}

void voice_dtmf_rx_init(struct voice_dtmf_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

static bool seen_recently(const struct voice_dtmf_rx *rx, uint32_t ts)
{
	for (unsigned i = 0; i < rx->nrecent; i++)
		if (rx->recent[i] == ts)
			return true;
	return false;
}

static void remember(struct voice_dtmf_rx *rx, uint32_t ts)
{
	rx->recent[rx->recent_next] = ts;
	rx->recent_next = (rx->recent_next + 1) % (sizeof(rx->recent) / sizeof(rx->recent[0]));
	if (rx->nrecent < sizeof(rx->recent) / sizeof(rx->recent[0]))
		rx->nrecent++;
}

/* RFC 4733 2.5.1.3: an event longer than 0xffff samples goes on in a new segment whose
   timestamp is the old one plus the old duration; its packets are not a new digit. */
static bool is_next_segment(const struct voice_dtmf_rx *rx, uint32_t ts, uint8_t event)
{
	if (!rx->have || rx->ended || rx->event != event)
		return false;
	if (rx->dur < TE_MAX_DUR - TE_SEGMENT_SLACK)
		return false;
	uint32_t gap = ts - rx->ts;
	return gap >= rx->dur && gap <= (uint32_t)TE_MAX_DUR + TE_SEGMENT_SLACK;
}

int voice_dtmf_rx_packet(struct voice_dtmf_rx *rx, uint32_t ssrc, uint32_t ts, bool marker,
			 const uint8_t *payload, size_t len, char *ret_digit)
{
	if (!payload || len < 4)
		return -EINVAL;
	uint8_t event = payload[0];
	bool end = (payload[1] & TE_END_BIT) != 0;
	uint16_t dur = (uint16_t)(payload[2] << 8 | payload[3]);

	if (rx->have && ssrc != rx->ssrc)
		voice_dtmf_rx_init(rx);
	if (rx->have && ts == rx->ts) {
		/* Same timestamp: an update or a retransmission, unless the event already ended and
		   this is a fresh start (marker, no end bit): a replayed capture re-uses the
		   timestamp of the digit before, and that repeat is a new press. */
		if (!(rx->ended && marker && !end)) {
			rx->ended = rx->ended || end;
			if (dur > rx->dur)
				rx->dur = dur;
			return 0;
		}
	} else if (rx->have && seen_recently(rx, ts)) {
		return 0; /* a late packet of an earlier event */
	} else if (is_next_segment(rx, ts, event)) {
		rx->ts = ts;
		rx->dur = dur;
		rx->ended = end;
		return 0;
	}
	if (rx->have)
		remember(rx, rx->ts);
	rx->have = true;
	rx->ssrc = ssrc;
	rx->ts = ts;
	rx->event = event;
	rx->dur = dur;
	rx->ended = end;
	char d = voice_dtmf_digit(event);
	if (!d)
		return 0;
	*ret_digit = d;
	return 1;
}
