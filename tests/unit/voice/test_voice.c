/* test_voice.c: unit tests for voice: the RFC 4733 receiver, RTP headers, SDP offer/answer,
   the ticker's schedule, audio clips, and two engines calling each other on 127.0.0.1. */
#include <errno.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voice/voice.h"
#include "../test.h"

/* ---- RFC 4733 ---- */

static void te(uint8_t out[4], uint8_t event, bool end, uint16_t dur)
{
	out[0] = event;
	out[1] = (uint8_t)((end ? 0x80 : 0) | 10);
	out[2] = (uint8_t)(dur >> 8);
	out[3] = (uint8_t)dur;
}

/* One press as SIPp's dtmf_2833_*.pcap sends it: 7 updates, then 3 end packets. */
static int press(struct voice_dtmf_rx *rx, uint32_t ssrc, uint32_t ts, uint8_t event, char *out,
		 size_t *nout)
{
	int news = 0;
	for (int i = 0; i < 10; i++) {
		uint8_t p[4];
		te(p, event, i >= 7, (uint16_t)(320 * (i < 7 ? i : 7)));
		char d = 0;
		int r = voice_dtmf_rx_packet(rx, ssrc, ts, i == 0, p, sizeof(p), &d);
		if (r < 0)
			return r;
		if (r == 1) {
			news++;
			out[(*nout)++] = d;
		}
	}
	return news;
}

static void test_dtmf(void)
{
	struct voice_dtmf_rx rx;
	voice_dtmf_rx_init(&rx);
	char got[32] = "";
	size_t n = 0;
	CHECK_EQ_INT(press(&rx, 7, 13280, 1, got, &n), 1);
	/* the same capture replayed: same timestamp, marker again after the end -> a new press */
	CHECK_EQ_INT(press(&rx, 7, 13280, 1, got, &n), 1);
	CHECK_EQ_INT(press(&rx, 7, 92640, 11, got, &n), 1);
	/* a real repeat from a phone: same digit, new timestamp */
	CHECK_EQ_INT(press(&rx, 7, 93600, 11, got, &n), 1);
	got[n] = '\0';
	CHECK_STR(got, "11##");

	/* a late end packet of an earlier event is not a new press */
	uint8_t p[4];
	char d = 0;
	te(p, 1, true, 2240);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 7, 13280, false, p, 4, &d), 0);
	/* nor is a retransmitted end packet, with or without the marker */
	te(p, 11, true, 2240);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 7, 93600, true, p, 4, &d), 0);
	/* an update without the marker after the end is a straggler, not a press */
	te(p, 11, false, 960);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 7, 93600, false, p, 4, &d), 0);

	/* a first packet lost: the first one seen still starts the event, once */
	te(p, 5, false, 480);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 7, 100000, false, p, 4, &d), 1);
	CHECK_EQ_INT(d, '5');
	te(p, 5, false, 640);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 7, 100000, false, p, 4, &d), 0);

	/* a new SSRC is a new stream: same timestamp, new event */
	te(p, 5, false, 0);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 8, 100000, true, p, 4, &d), 1);

	/* RFC 4733 2.5.1.3: a long event's next segment is not a new press */
	voice_dtmf_rx_init(&rx);
	te(p, 2, false, 0);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 1, 5000, true, p, 4, &d), 1);
	te(p, 2, false, 0xffff);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 1, 5000, false, p, 4, &d), 0);
	te(p, 2, false, 160);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 1, 5000 + 0xffff, false, p, 4, &d), 0);
	te(p, 2, true, 320);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 1, 5000 + 0xffff, false, p, 4, &d), 0);

	/* not DTMF (16 = flash), malformed */
	te(p, 16, false, 0);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 1, 900000, true, p, 4, &d), 0);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 1, 900160, true, p, 3, &d), -EINVAL);
	CHECK_EQ_INT(voice_dtmf_rx_packet(&rx, 1, 900160, true, NULL, 0, &d), -EINVAL);

	CHECK_EQ_INT(voice_dtmf_digit(0), '0');
	CHECK_EQ_INT(voice_dtmf_digit(10), '*');
	CHECK_EQ_INT(voice_dtmf_digit(11), '#');
	CHECK_EQ_INT(voice_dtmf_digit(15), 'D');
	CHECK_EQ_INT(voice_dtmf_digit(16), 0);
	CHECK_EQ_INT(voice_dtmf_event('#'), 11);
	CHECK_EQ_INT(voice_dtmf_event('b'), 13);
	CHECK_EQ_INT(voice_dtmf_event('x'), -EINVAL);
	CHECK_EQ_INT(voice_dtmf_event(0), -EINVAL);
}

/* ---- RTP ---- */

static void test_rtp(void)
{
	uint8_t pkt[64];
	memset(pkt, 0xab, sizeof(pkt));
	voice_rtp_write_hdr(pkt, 101, true, 0xbeef, 0x01020304, 0xcafebabe);
	struct voice_rtp_hdr h;
	CHECK_EQ_INT(voice_rtp_parse(pkt, 12 + 4, &h), 0);
	CHECK_EQ_INT(h.pt, 101);
	CHECK(h.marker);
	CHECK_EQ_INT(h.seq, 0xbeef);
	CHECK_EQ_INT(h.ts, 0x01020304);
	CHECK_EQ_INT(h.ssrc, 0xcafebabe);
	CHECK_EQ_INT(h.off, 12);
	CHECK_EQ_INT(h.len, 4);

	pkt[0] = 0x80 | 2; /* two CSRCs */
	CHECK_EQ_INT(voice_rtp_parse(pkt, 20, &h), 0);
	CHECK_EQ_INT(h.off, 20);
	CHECK_EQ_INT(h.len, 0);
	CHECK_EQ_INT(voice_rtp_parse(pkt, 19, &h), -EINVAL);

	pkt[0] = 0x90; /* extension of one word */
	pkt[12] = 0xbe, pkt[13] = 0xde, pkt[14] = 0, pkt[15] = 1;
	CHECK_EQ_INT(voice_rtp_parse(pkt, 24, &h), 0);
	CHECK_EQ_INT(h.off, 20);
	CHECK_EQ_INT(h.len, 4);
	pkt[15] = 200; /* longer than the packet */
	CHECK_EQ_INT(voice_rtp_parse(pkt, 24, &h), -EINVAL);

	pkt[0] = 0xa0; /* padding: the last byte counts it */
	pkt[23] = 4;
	CHECK_EQ_INT(voice_rtp_parse(pkt, 24, &h), 0);
	CHECK_EQ_INT(h.len, 8);
	pkt[23] = 0;
	CHECK_EQ_INT(voice_rtp_parse(pkt, 24, &h), -EINVAL);
	pkt[23] = 13;
	CHECK_EQ_INT(voice_rtp_parse(pkt, 24, &h), -EINVAL);

	pkt[0] = 0x40; /* version 1 */
	CHECK_EQ_INT(voice_rtp_parse(pkt, 24, &h), -EINVAL);
	CHECK_EQ_INT(voice_rtp_parse(pkt, 11, &h), -EINVAL);
}

/* ---- SDP ---- */

static const char sipp_offer[] = "v=0\r\n"
				 "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
				 "s=-\r\n"
				 "c=IN IP4 127.0.0.1\r\n"
				 "t=0 0\r\n"
				 "m=audio 6000 RTP/AVP 0\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n";

static int parse_str(const char *s, struct voice_sdp *ret)
{
	return voice_sdp_parse(s, strlen(s), ret);
}

static void test_sdp_parse(void)
{
	struct voice_sdp sdp;
	struct voice_sdp_choice ch;
	CHECK_EQ_INT(parse_str(sipp_offer, &sdp), 0);
	CHECK_STR(sdp.addr, "127.0.0.1");
	CHECK_EQ_INT(sdp.port, 6000);
	CHECK_EQ_INT(sdp.nfmts, 1);
	CHECK_EQ_INT(voice_sdp_negotiate(&sdp, &ch), 0);
	CHECK_EQ_INT(ch.pt, 0);
	CHECK_EQ_INT(ch.te_pt, -1);

	/* trap 5: static types without rtpmap; the offerer's order wins; LF-only lines */
	const char *o2 = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=x\nt=0 0\n"
			 "m=audio 7078 RTP/AVP 8 0 96\nc=IN IP4 10.0.0.2\n"
			 "a=rtpmap:96 telephone-event/8000\na=sendonly\n";
	CHECK_EQ_INT(parse_str(o2, &sdp), 0);
	CHECK_STR(sdp.addr, "10.0.0.2");
	CHECK_EQ_INT(sdp.dir, VOICE_SDP_SENDONLY);
	CHECK_EQ_INT(voice_sdp_negotiate(&sdp, &ch), 0);
	CHECK_EQ_INT(ch.pt, 8);
	CHECK_EQ_INT(ch.te_pt, 96);

	/* session-level c= and direction; a dynamic type called PCMU is not pt 0 */
	const char *o3 = "v=0\r\nc=IN IP4 192.0.2.1/127\r\na=inactive\r\n"
			 "m=audio 5004 RTP/AVP 97\r\na=rtpmap:97 PCMU/8000\r\n";
	CHECK_EQ_INT(parse_str(o3, &sdp), 0);
	CHECK_STR(sdp.addr, "192.0.2.1");
	CHECK_EQ_INT(sdp.dir, VOICE_SDP_INACTIVE);
	CHECK_EQ_INT(voice_sdp_negotiate(&sdp, &ch), -ENOTSUP);

	/* no common codec, declined stream, no audio */
	CHECK_EQ_INT(parse_str("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5004 RTP/AVP 18\r\n", &sdp), 0);
	CHECK_EQ_INT(voice_sdp_negotiate(&sdp, &ch), -ENOTSUP);
	CHECK_EQ_INT(parse_str("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n", &sdp), 0);
	CHECK_EQ_INT(sdp.audio, -1);
	CHECK_EQ_INT(voice_sdp_negotiate(&sdp, &ch), -ENOTSUP);
	CHECK_EQ_INT(parse_str("v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5006 RTP/AVP 96\r\n", &sdp), 0);
	CHECK_EQ_INT(voice_sdp_negotiate(&sdp, &ch), -ENOTSUP);

	/* malformed */
	CHECK_EQ_INT(parse_str("", &sdp), -EINVAL);
	CHECK_EQ_INT(parse_str("o=x\r\nv=0\r\n", &sdp), -EINVAL);
	CHECK_EQ_INT(parse_str("v=0\r\nbogus\r\n", &sdp), -EINVAL);
	CHECK_EQ_INT(parse_str("v=0\r\nm=audio 5004 RTP/AVP 0\r\n", &sdp), -EINVAL); /* no c= */
	CHECK_EQ_INT(parse_str("v=0\r\nc=IN IP4 host.example\r\nm=audio 1 RTP/AVP 0\r\n", &sdp),
		     -EINVAL);
	CHECK_EQ_INT(parse_str("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n", &sdp),
		     -EINVAL);
	CHECK_EQ_INT(parse_str("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 0 x\r\n", &sdp),
		     -EINVAL);
	CHECK_EQ_INT(
	    parse_str("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
		      &sdp),
	    -EINVAL);
	char big[4096] = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP";
	for (int i = 0; i < 20; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), " %d", 96 + i);
	CHECK_EQ_INT(parse_str(big, &sdp), -E2BIG);
	const char nul[] = "v=0\r\ns=a\0b\r\n";
	CHECK_EQ_INT(voice_sdp_parse(nul, sizeof(nul) - 1, &sdp), -EINVAL);
}

static void test_sdp_answer(void)
{
	const char *offer =
	    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	    "m=video 5006 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
	    "m=audio 5004 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	    "a=sendonly\r\n";
	struct voice_sdp sdp, back;
	struct voice_sdp_choice ch, ch2;
	CHECK_EQ_INT(parse_str(offer, &sdp), 0);
	CHECK_EQ_INT(sdp.nmedia, 2);
	CHECK_EQ_INT(sdp.audio, 1);
	CHECK_EQ_INT(voice_sdp_negotiate(&sdp, &ch), 0);
	struct voice_sdp_local l = {.addr = "127.0.0.1", .port = 20000, .sess_id = 5, .version = 1};
	l.choice = ch;
	char out[2048];
	int n = voice_sdp_write_answer(out, sizeof(out), &l, &sdp);
	CHECK(n > 0);
	CHECK(strstr(out, "m=video 0 RTP/AVP 96\r\n") != NULL);
	CHECK(strstr(out, "m=audio 20000 RTP/AVP 0 101\r\n") != NULL);
	CHECK(strstr(out, "a=recvonly\r\n") != NULL);
	CHECK(strstr(out, "a=fmtp:101 0-15\r\n") != NULL);
	CHECK(strstr(out, "PCMA") == NULL);
	/* the answer reads back as the same choice, in the same m= order */
	CHECK_EQ_INT(voice_sdp_parse(out, (size_t)n, &back), 0);
	CHECK_EQ_INT(back.audio, 1);
	CHECK_EQ_INT(back.port, 20000);
	CHECK_EQ_INT(back.dir, VOICE_SDP_RECVONLY);
	CHECK_EQ_INT(voice_sdp_negotiate(&back, &ch2), 0);
	CHECK_EQ_INT(ch2.pt, 0);
	CHECK_EQ_INT(ch2.te_pt, 101);
	CHECK_EQ_INT(voice_sdp_write_answer(out, 40, &l, &sdp), -E2BIG);

	/* our offer: PCMU, PCMA, telephone-event, read by our own parser */
	n = voice_sdp_write_offer(out, sizeof(out), &l);
	CHECK(n > 0);
	CHECK_EQ_INT(voice_sdp_parse(out, (size_t)n, &back), 0);
	CHECK_EQ_INT(back.nfmts, 3);
	CHECK_EQ_INT(voice_sdp_negotiate(&back, &ch2), 0);
	CHECK_EQ_INT(ch2.pt, 0);
	CHECK_EQ_INT(ch2.te_pt, 101);
	CHECK_EQ_INT(voice_sdp_write_offer(out, 10, &l), -E2BIG);
}

/* ---- ticker ---- */

static void test_ticker(void)
{
	struct voice_ticker t;
	uint64_t first, late, skipped;
	voice_ticker_init(&t, 1000000, 5000);
	CHECK_EQ_INT(voice_ticker_due_us(&t), 1000000);
	CHECK_EQ_INT(voice_ticker_advance(&t, 999999, 4, &first, &late, &skipped), 0);
	CHECK_EQ_INT(t.n, 0);
	CHECK_EQ_INT(voice_ticker_advance(&t, 1000000, 4, &first, &late, &skipped), 1);
	CHECK_EQ_INT(first, 0);
	CHECK_EQ_INT(late, 0);
	/* woken 3 ms late: one tick, and the next is still due on the grid, not 5 ms from now */
	CHECK_EQ_INT(voice_ticker_advance(&t, 1008000, 4, &first, &late, &skipped), 1);
	CHECK_EQ_INT(first, 1);
	CHECK_EQ_INT(late, 3000);
	CHECK_EQ_INT(voice_ticker_due_us(&t), 1010000);
	/* 12 ms late: three ticks due, all run back to back */
	CHECK_EQ_INT(voice_ticker_advance(&t, 1022000, 4, &first, &late, &skipped), 3);
	CHECK_EQ_INT(first, 2);
	CHECK_EQ_INT(late, 12000);
	CHECK_EQ_INT(skipped, 0);
	CHECK_EQ_INT(voice_ticker_due_us(&t), 1025000);
	/* a 100 ms stall: the newest 4 run, 17 are skipped, the grid holds */
	CHECK_EQ_INT(voice_ticker_advance(&t, 1125000, 4, &first, &late, &skipped), 4);
	CHECK_EQ_INT(skipped, 17);
	CHECK_EQ_INT(first, 5 + 17);
	CHECK_EQ_INT(t.n, 26);
	CHECK_EQ_INT(voice_ticker_due_us(&t), 1130000);
	/* no drift: a million ticks each run 1 ms late stay on start + n * period */
	voice_ticker_init(&t, 0, 20000);
	for (int i = 0; i < 1000000; i++) {
		uint64_t now = voice_ticker_due_us(&t) + 1000;
		if (voice_ticker_advance(&t, now, 4, &first, &late, &skipped) != 1 || late != 1000)
			break;
	}
	CHECK_EQ_INT(t.n, 1000000);
	CHECK_EQ_INT(voice_ticker_due_us(&t), 20000ULL * 1000000);
}

/* ---- audio ---- */

static int write_wav(const char *path, int rate, int channels, int frames)
{
	SF_INFO info = {
	    .samplerate = rate, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	if (!f)
		return -1;
	short buf[2];
	for (int i = 0; i < frames; i++) {
		buf[0] = (short)(i % 2 ? 8000 : -8000);
		buf[1] = buf[0];
		sf_writef_short(f, buf, 1);
	}
	sf_close(f);
	return 0;
}

static void test_audio(void)
{
	struct voice_audio *a = NULL;
	CHECK_EQ_INT(voice_audio_tone(350, 440, -13, 1000, 0, 500, &a), 0);
	CHECK_EQ_INT(voice_audio_samples(a), 4000);
	const uint8_t *u = voice_audio_data(a, 0), *al = voice_audio_data(a, 8);
	CHECK(u && al);
	CHECK(voice_audio_data(a, 9) == NULL);
	int loud = 0;
	for (size_t i = 0; u && i < 4000; i++)
		loud += u[i] != 0xff && u[i] != 0x7f;
	CHECK(loud > 3000);
	CHECK(voice_audio_ref(a) == a);
	CHECK(voice_audio_unref(a) == NULL);
	CHECK(voice_audio_unref(a) == NULL);
	CHECK(voice_audio_unref(NULL) == NULL);
	CHECK_EQ_INT(voice_audio_tone(0, 0, -13, 100, 0, 100, &a), -EINVAL);
	CHECK_EQ_INT(voice_audio_tone(400, 0, -13, 100, 0, 0, &a), -EINVAL);

	char path[] = "/tmp/irisx-voice-XXXXXX.wav";
	int fd = mkstemps(path, 4);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(write_wav(path, 8000, 2, 1600), 0);
	CHECK_EQ_INT(voice_audio_load_wav(path, 60, &a), 0);
	CHECK_EQ_INT(voice_audio_samples(a), 1600);
	voice_audio_unref(a);
	CHECK_EQ_INT(voice_audio_load_wav(path, 0, &a), -EFBIG);
	CHECK_EQ_INT(write_wav(path, 16000, 1, 1600), 0); /* resampled: 100 ms at 8 kHz */
	CHECK_EQ_INT(voice_audio_load_wav(path, 60, &a), 0);
	CHECK(voice_audio_samples(a) > 780 && voice_audio_samples(a) <= 800);
	voice_audio_unref(a);
	CHECK_EQ_INT(write_wav(path, 200000, 1, 1600), 0);
	CHECK_EQ_INT(voice_audio_load_wav(path, 60, &a), -ENOTSUP);
	unlink(path);
	CHECK_EQ_INT(voice_audio_load_wav(path, 60, &a), -ENOENT);
}

/* ---- two engines on 127.0.0.1 ---- */

static struct voice_engine *start(uint16_t rtp_min, unsigned max_calls)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	cfg.sip_port = 0;
	cfg.rtp_port_min = rtp_min;
	cfg.rtp_port_max = (uint16_t)(rtp_min + 99);
	cfg.media_threads = 1;
	cfg.max_calls = max_calls;
	struct voice_engine *e = NULL;
	int r = voice_engine_start(&cfg, &e);
	CHECK_EQ_INT(r, 0);
	return r == 0 ? e : NULL;
}

/* Waits for an event of that type (others are skipped); 0 when none came in 5 s. */
static int wait_ev(struct voice_engine *e, enum voice_event_type type, struct voice_event *ev)
{
	for (int i = 0; i < 100; i++)
		if (voice_engine_next_event(e, ev, 50) == 1 && ev->type == type)
			return 1;
	return 0;
}

static void dial(struct voice_engine *from, struct voice_engine *to, const char *user,
		 unsigned timeout_ms, uint64_t *ret)
{
	char uri[128];
	snprintf(uri, sizeof(uri), "sip:%s@127.0.0.1:%u", user, voice_engine_sip_port(to));
	struct voice_dial d = {.uri = uri, .timeout_ms = timeout_ms};
	CHECK_EQ_INT(voice_call_dial(from, &d, ret), 0);
}

static void test_engine_config(void)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	struct voice_engine *e = NULL;
	cfg.rtp_port_min = 30000;
	cfg.rtp_port_max = 30009; /* 5 pairs for 1000 calls */
	CHECK_EQ_INT(voice_engine_start(&cfg, &e), -EINVAL);
	voice_config_default(&cfg);
	cfg.udp = cfg.tcp = false;
	CHECK_EQ_INT(voice_engine_start(&cfg, &e), -EINVAL);
	voice_config_default(&cfg);
	cfg.sip_addr = "localhost";
	CHECK_EQ_INT(voice_engine_start(&cfg, &e), -EINVAL);
	voice_engine_stop(NULL);
}

static void test_engine_calls(void)
{
	struct voice_engine *a = start(32000, 10), *b = start(32100, 10);
	if (!a || !b)
		goto out;
	CHECK(voice_engine_sip_port(a) != 0);
	struct voice_event ev;
	uint64_t call;

	/* answered call, RFC 4733 both ways through our sender and receiver, hangup by A */
	dial(a, b, "svc", 5000, &call);
	CHECK(wait_ev(b, VOICE_EV_INCOMING, &ev));
	CHECK_STR(ev.ruser, "svc");
	uint64_t bcall = ev.call;
	CHECK_EQ_INT(voice_call_answer(b, bcall), 0);
	CHECK(wait_ev(a, VOICE_EV_ANSWERED, &ev));
	CHECK_EQ_INT(ev.call, call);
	CHECK(wait_ev(b, VOICE_EV_ANSWERED, &ev));
	CHECK_EQ_INT(voice_call_send_dtmf(a, call, "1#1"), 0);
	char digits[8] = "";
	for (int i = 0; i < 3 && wait_ev(b, VOICE_EV_DTMF, &ev); i++)
		digits[i] = ev.digit;
	CHECK_STR(digits, "1#1");
	CHECK_EQ_INT(voice_call_send_dtmf(a, call, "x"), -EINVAL);
	CHECK_EQ_INT(voice_call_hangup(a, call), 0);
	CHECK(wait_ev(a, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.cause, VOICE_END_LOCAL);
	CHECK(wait_ev(b, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.cause, VOICE_END_REMOTE);
	CHECK_EQ_INT(ev.call, bcall);

	/* the far end's final code is reported */
	dial(a, b, "busy", 5000, &call);
	CHECK(wait_ev(b, VOICE_EV_INCOMING, &ev));
	CHECK_EQ_INT(voice_call_reject(b, ev.call, 486), 0);
	CHECK(wait_ev(b, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.cause, VOICE_END_LOCAL);
	CHECK(wait_ev(a, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.cause, VOICE_END_REJECTED);
	CHECK_EQ_INT(ev.code, 486);

	/* no answer: the dial timeout cancels, and the called side sees the CANCEL */
	dial(a, b, "ring", 600, &call);
	CHECK(wait_ev(a, VOICE_EV_PROGRESS, &ev));
	CHECK_EQ_INT(ev.code, 180);
	CHECK(wait_ev(a, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.cause, VOICE_END_TIMEOUT);
	CHECK_EQ_INT(ev.code, 408);
	CHECK(wait_ev(b, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.cause, VOICE_END_CANCEL);

	/* playback ends with PLAY_DONE; B hangs up, A sees the BYE */
	struct voice_audio *tone = NULL;
	CHECK_EQ_INT(voice_audio_tone(440, 0, -13, 300, 0, 300, &tone), 0);
	dial(a, b, "svc", 5000, &call);
	CHECK(wait_ev(b, VOICE_EV_INCOMING, &ev));
	bcall = ev.call;
	voice_call_answer(b, bcall);
	CHECK(wait_ev(b, VOICE_EV_ANSWERED, &ev));
	CHECK_EQ_INT(voice_call_play(b, bcall, tone, 2), 0);
	voice_audio_unref(tone);
	CHECK(wait_ev(b, VOICE_EV_PLAY_DONE, &ev));
	CHECK_EQ_INT(ev.code, 0);
	voice_call_hangup(b, bcall);
	CHECK(wait_ev(a, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.cause, VOICE_END_REMOTE);
	struct voice_stats st;
	voice_engine_stats(a, &st);
	CHECK(st.rtp_rx >= 25); /* 600 ms of tone at 50 packets/s, and more */
	CHECK(st.ticks > 0);
	CHECK_EQ_INT(st.rtp_rejected, 0);
out:
	voice_engine_stop(a);
	voice_engine_stop(b);
}

/* At capacity new calls get 503, never a crash. */
static void test_engine_capacity(void)
{
	struct voice_engine *a = start(32200, 10), *b = start(32300, 1);
	if (!a || !b)
		goto out;
	struct voice_event ev;
	uint64_t c1, c2;
	dial(a, b, "ring", 5000, &c1);
	CHECK(wait_ev(b, VOICE_EV_INCOMING, &ev));
	dial(a, b, "ring", 5000, &c2);
	CHECK(wait_ev(a, VOICE_EV_HANGUP, &ev));
	CHECK_EQ_INT(ev.call, c2);
	CHECK_EQ_INT(ev.code, 503);
out:
	voice_engine_stop(a);
	voice_engine_stop(b);
}

int main(void)
{
	test_dtmf();
	test_rtp();
	test_sdp_parse();
	test_sdp_answer();
	test_ticker();
	test_audio();
	test_engine_config();
	test_engine_calls();
	test_engine_capacity();
	return test_done("voice");
}
