/* test_voice_media.c: the media primitives through voice.h: RTCP report vectors, the MOS
   estimate, TTS and its cache, and engines calling each other on 127.0.0.1 for digit
   collection, recording (tone frequency and level, silence trimmed), bridging across media
   threads, hold music, call quality, capacity. */
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "voice/voice.h"

/* ---- RTCP ---- */

static size_t put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

/* A report block about ssrc. */
static size_t block(uint8_t *p, uint32_t ssrc, uint8_t frac, int32_t cum, uint32_t seq,
		    uint32_t jitter)
{
	size_t n = put32(p, ssrc);
	uint32_t c = (uint32_t)cum & 0xffffffu;
	p[n++] = frac;
	p[n++] = (uint8_t)(c >> 16);
	p[n++] = (uint8_t)(c >> 8);
	p[n++] = (uint8_t)c;
	n += put32(p + n, seq);
	n += put32(p + n, jitter);
	n += put32(p + n, 0x11223344);
	n += put32(p + n, 0x00010000);
	return n;
}

static size_t header(uint8_t *p, unsigned rc, unsigned pt, size_t len)
{
	p[0] = (uint8_t)(0x80 | rc);
	p[1] = (uint8_t)pt;
	p[2] = (uint8_t)((len / 4 - 1) >> 8);
	p[3] = (uint8_t)(len / 4 - 1);
	return 4;
}

static void test_rtcp(void)
{
	uint8_t p[256];
	struct voice_rtcp_block b[4];
	/* RR from 0xaaaa with one block about us */
	size_t n = 4;
	n += put32(p + n, 0xaaaa);
	n += block(p + n, 0x1234, 64, 100, 70000, 80);
	header(p, 1, 201, n);
	CHECK_EQ_INT(voice_rtcp_parse(p, n, 0x1234, b, 4), 1);
	CHECK_EQ_INT(b[0].sender_ssrc, 0xaaaa);
	CHECK_EQ_INT(b[0].ssrc, 0x1234);
	CHECK_EQ_INT(b[0].fraction_lost, 64);
	CHECK_EQ_INT(b[0].cum_lost, 100);
	CHECK_EQ_INT(b[0].ext_seq, 70000);
	CHECK_EQ_INT(b[0].jitter, 80);
	CHECK_EQ_INT(b[0].lsr, 0x11223344);
	CHECK_EQ_INT(voice_rtcp_parse(p, n, 0x9999, b, 4), 0); /* about someone else */
	/* compound: SR with two blocks (one negative cumulative loss) + SDES */
	n = 4;
	n += put32(p + n, 0xbbbb);
	for (int i = 0; i < 5; i++) /* NTP, RTP ts, packet and octet counts */
		n += put32(p + n, (uint32_t)i);
	n += block(p + n, 0x5555, 1, 2, 3, 4);
	n += block(p + n, 0x1234, 0, -3, 500, 16);
	header(p, 2, 200, n);
	size_t sdes = n;
	n += 4;
	n += put32(p + n, 0xbbbb);
	p[n++] = 1; /* CNAME */
	p[n++] = 2;
	p[n++] = 'a';
	p[n++] = 'b';
	header(p + sdes, 1, 202, n - sdes);
	CHECK_EQ_INT(voice_rtcp_parse(p, n, 0x1234, b, 4), 1);
	CHECK_EQ_INT(b[0].cum_lost, -3);
	CHECK_EQ_INT(b[0].ext_seq, 500);
	CHECK_EQ_INT(voice_rtcp_parse(p, n, 0, b, 4), 2); /* every block */
	CHECK_EQ_INT(voice_rtcp_parse(p, n, 0, b, 1), 1); /* capped */
	/* malformed: version, length past the end, count past the length, runt */
	uint8_t q[256];
	memcpy(q, p, n);
	q[0] = 0x40 | 2;
	CHECK_EQ_INT(voice_rtcp_parse(q, n, 0, b, 4), -EINVAL);
	memcpy(q, p, n);
	q[3] = 60;
	CHECK_EQ_INT(voice_rtcp_parse(q, n, 0, b, 4), -EINVAL);
	memcpy(q, p, n);
	q[0] = 0x80 | 3;
	CHECK_EQ_INT(voice_rtcp_parse(q, n, 0, b, 4), -EINVAL);
	CHECK_EQ_INT(voice_rtcp_parse(p, 3, 0, b, 4), -EINVAL);
	CHECK_EQ_INT(voice_rtcp_parse(p, n - 1, 0, b, 4), -EINVAL);

	/* our writer, read back by our reader */
	struct voice_rtcp_block w = {
	    .ssrc = 0x4242, .fraction_lost = 12, .cum_lost = -2, .ext_seq = 0x10005, .jitter = 33};
	int len = voice_rtcp_write_rr(p, sizeof(p), 0x7777, &w, "irisx");
	CHECK(len > 0 && len % 4 == 0);
	CHECK_EQ_INT(voice_rtcp_parse(p, (size_t)len, 0x4242, b, 4), 1);
	CHECK_EQ_INT(b[0].sender_ssrc, 0x7777);
	CHECK_EQ_INT(b[0].fraction_lost, 12);
	CHECK_EQ_INT(b[0].cum_lost, -2);
	CHECK_EQ_INT(b[0].ext_seq, 0x10005);
	CHECK_EQ_INT(b[0].jitter, 33);
	CHECK_EQ_INT(voice_rtcp_write_rr(p, 20, 1, &w, "irisx"), -E2BIG);
	len = voice_rtcp_write_rr(p, sizeof(p), 1, NULL, "");
	CHECK_EQ_INT(voice_rtcp_parse(p, (size_t)len, 0, b, 4), 0);
}

static void test_mos(void)
{
	double best = voice_mos_estimate(0, 0);
	CHECK(best > 4.35 && best <= 4.5);
	CHECK(voice_mos_estimate(0, 60) > 4.3);
	CHECK(voice_mos_estimate(1, 60) < voice_mos_estimate(0, 60));
	CHECK(voice_mos_estimate(5, 60) < voice_mos_estimate(1, 60));
	CHECK(voice_mos_estimate(5, 60) < 3.0); /* G.711 without PLC suffers quickly */
	CHECK(voice_mos_estimate(0, 400) < voice_mos_estimate(0, 100));
	CHECK(voice_mos_estimate(100, 1000) == 1.0);
	CHECK(voice_mos_estimate(-5, -1) == best); /* clamped */
	for (double l = 0; l <= 100; l += 0.5) {
		double m = voice_mos_estimate(l, l * 5);
		CHECK(m >= 1.0 && m <= 4.5);
	}
}

/* ---- TTS and clips ---- */

static double clip_dbm0(const struct voice_audio *a, size_t from, size_t n)
{
	double sum = 0;
	for (size_t i = from; i < from + n; i++) {
		double v = voice_audio_linear(a, i);
		sum += v * v;
	}
	return sum > 0 ? 10 * log10(sum / (double)n / (32768.0 * 32768.0)) + 6.15 : -100;
}

static void test_tts(void)
{
	struct voice_tts_stats st0, st;
	voice_tts_stats(&st0);
	struct voice_audio *a = NULL, *b = NULL, *c = NULL;
	CHECK_EQ_INT(voice_tts_synth("Please enter your account number.", NULL, &a), 0);
	size_t n = voice_audio_samples(a);
	CHECK(n > 8000 && n < 8000 * 6); /* one to six seconds at 8 kHz */
	CHECK(clip_dbm0(a, 0, n) > -35); /* speech, not silence */
	CHECK_EQ_INT(voice_tts_synth("Please enter your account number.", "en", &b), 0);
	CHECK(a == b); /* the same cached clip */
	voice_tts_stats(&st);
	CHECK_EQ_INT(st.hits - st0.hits, 1);
	CHECK_EQ_INT(st.misses - st0.misses, 1);
	CHECK(st.bytes >= 2 * n);
	/* espeak-ng, 22.05 kHz resampled: about the same length in seconds as samples / 8000 */
	CHECK_EQ_INT(voice_tts_synth("Guten Tag, bitte geben Sie Ihre Nummer ein.", "de", &c), 0);
	CHECK(voice_audio_samples(c) > 8000 && voice_audio_samples(c) < 8000 * 8);
	CHECK(clip_dbm0(c, 0, voice_audio_samples(c)) > -35);
	CHECK_EQ_INT(voice_tts_synth("x", "no such; lang", &c), -ENOTSUP);
	CHECK_EQ_INT(voice_tts_synth("", NULL, &c), -EINVAL);
	/* the cap: a tiny limit evicts everything; clips in use stay valid (references) */
	voice_tts_cache_limit(1000);
	voice_tts_stats(&st);
	CHECK_EQ_INT(st.entries, 0);
	CHECK(st.evictions >= 2);
	CHECK(voice_audio_samples(a) == n);
	voice_tts_cache_limit(32u << 20);
	voice_audio_unref(a);
	voice_audio_unref(b);
	voice_audio_unref(c);
	/* resampling keeps the duration */
	int16_t pcm[16000];
	for (int i = 0; i < 16000; i++)
		pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 500 * i / 16000.0));
	CHECK_EQ_INT(voice_audio_from_pcm(pcm, 16000, 16000, &a), 0);
	CHECK(voice_audio_samples(a) > 7900 && voice_audio_samples(a) <= 8000);
	voice_audio_unref(a);
	CHECK_EQ_INT(voice_audio_beep(&a), 0);
	CHECK_EQ_INT(voice_audio_samples(a), 2000);
	voice_audio_unref(a);
}

/* ---- engines on 127.0.0.1 ---- */

static struct voice_engine *start(uint16_t rtp_min, unsigned max_calls, unsigned threads)
{
	struct voice_config cfg;
	voice_config_default(&cfg);
	cfg.sip_port = 0;
	cfg.rtp_port_min = rtp_min;
	cfg.rtp_port_max = (uint16_t)(rtp_min + 99);
	cfg.media_threads = threads;
	cfg.max_calls = max_calls;
	struct voice_engine *e = NULL;
	int r = voice_engine_start(&cfg, &e);
	CHECK_EQ_INT(r, 0);
	return r == 0 ? e : NULL;
}

/* Waits up to ms for an event of that type on call (0: any call); others are skipped. */
static int wait_for(struct voice_engine *e, enum voice_event_type type, uint64_t call,
		    struct voice_event *ev, int ms)
{
	for (int i = 0; i < ms / 10; i++)
		if (voice_engine_next_event(e, ev, 10) == 1 && ev->type == type &&
		    (!call || ev->call == call))
			return 1;
	return 0;
}

/* A calls B; both sides answered. */
static int connect_call(struct voice_engine *a, struct voice_engine *b, uint64_t *ra, uint64_t *rb)
{
	char uri[128];
	snprintf(uri, sizeof(uri), "sip:svc@127.0.0.1:%u", voice_engine_sip_port(b));
	struct voice_dial d = {.uri = uri, .timeout_ms = 5000};
	struct voice_event ev;
	if (voice_call_dial(a, &d, ra) < 0 || !wait_for(b, VOICE_EV_INCOMING, 0, &ev, 5000))
		return -1;
	*rb = ev.call;
	voice_call_answer(b, *rb);
	if (!wait_for(a, VOICE_EV_ANSWERED, *ra, &ev, 5000) ||
	    !wait_for(b, VOICE_EV_ANSWERED, *rb, &ev, 5000))
		return -1;
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_collect(void)
{
	struct voice_engine *a = start(33000, 10, 1), *b = start(33100, 10, 1);
	uint64_t ca, cb;
	struct voice_event ev;
	if (!a || !b || connect_call(a, b, &ca, &cb) < 0) {
		CHECK(0);
		goto out;
	}
	CHECK_EQ_INT(voice_call_collect(b, 999, &(struct voice_collect){0}), -ENOENT);
	CHECK_EQ_INT(voice_call_collect(b, cb, &(struct voice_collect){.finish_key = 'x'}),
		     -EINVAL);

	/* count */
	CHECK_EQ_INT(voice_call_collect(b, cb, &(struct voice_collect){.max_digits = 3}), 0);
	voice_call_send_dtmf(a, ca, "1234");
	CHECK(wait_for(b, VOICE_EV_COLLECTED, cb, &ev, 3000));
	CHECK_EQ_INT(ev.code, VOICE_COLLECT_COUNT);
	CHECK_STR(ev.digits, "123");
	usleep(300000); /* let the "4" pass */

	/* finish key, not returned */
	voice_call_collect(b, cb, &(struct voice_collect){.max_digits = 10, .finish_key = '#'});
	voice_call_send_dtmf(a, ca, "45#");
	CHECK(wait_for(b, VOICE_EV_COLLECTED, cb, &ev, 3000));
	CHECK_EQ_INT(ev.code, VOICE_COLLECT_FINISH);
	CHECK_STR(ev.digits, "45");

	/* first-digit timeout: nothing pressed */
	uint64_t t0 = mono_ms();
	voice_call_collect(b, cb, &(struct voice_collect){.first_ms = 300});
	CHECK(wait_for(b, VOICE_EV_COLLECTED, cb, &ev, 3000));
	uint64_t took = mono_ms() - t0;
	CHECK_EQ_INT(ev.code, VOICE_COLLECT_TIMEOUT);
	CHECK_STR(ev.digits, "");
	CHECK(took >= 280 && took < 800);

	/* inter-digit timeout after one digit */
	voice_call_collect(
	    b, cb, &(struct voice_collect){.first_ms = 3000, .inter_ms = 300, .max_digits = 5});
	voice_call_send_dtmf(a, ca, "7");
	t0 = mono_ms();
	CHECK(wait_for(b, VOICE_EV_COLLECTED, cb, &ev, 3000));
	took = mono_ms() - t0;
	CHECK_EQ_INT(ev.code, VOICE_COLLECT_TIMEOUT);
	CHECK_STR(ev.digits, "7");
	CHECK(took >= 300 && took < 1000);

	/* the first-digit timer waits for the prompt; barge-in stops it */
	struct voice_audio *tone = NULL;
	voice_audio_tone(440, 0, -13, 5000, 0, 5000, &tone);
	voice_call_play(b, cb, tone, 1);
	voice_call_collect(
	    b, cb, &(struct voice_collect){.first_ms = 200, .max_digits = 1, .barge_in = true});
	usleep(600000); /* longer than first_ms: no timeout while the prompt plays */
	voice_call_send_dtmf(a, ca, "9");
	CHECK(wait_for(b, VOICE_EV_PLAY_DONE, cb, &ev, 3000));
	CHECK_EQ_INT(ev.code, 1); /* stopped by the digit */
	CHECK(wait_for(b, VOICE_EV_COLLECTED, cb, &ev, 3000));
	CHECK_EQ_INT(ev.code, VOICE_COLLECT_COUNT);
	CHECK_STR(ev.digits, "9");
	voice_audio_unref(tone);
	voice_call_hangup(a, ca);
	CHECK(wait_for(b, VOICE_EV_HANGUP, cb, &ev, 3000));
out:
	voice_engine_stop(a);
	voice_engine_stop(b);
}

/* Reads a mono WAV: its samples (caller frees) and count. */
static int16_t *read_wav(const char *path, size_t *ret_n, int *ret_rate)
{
	SF_INFO info;
	memset(&info, 0, sizeof(info));
	SNDFILE *f = sf_open(path, SFM_READ, &info);
	if (!f)
		return NULL;
	int16_t *p = calloc((size_t)info.frames + 1, sizeof(*p));
	*ret_n = (size_t)sf_readf_short(f, p, info.frames);
	*ret_rate = info.samplerate;
	sf_close(f);
	return p;
}

/* Frequency from zero crossings, level in dBm0, over [from, from + n). */
static void analyse(const int16_t *p, size_t from, size_t n, double *hz, double *dbm0)
{
	size_t cross = 0;
	double sum = 0;
	for (size_t i = from; i < from + n; i++) {
		sum += (double)p[i] * p[i];
		if (i > from && (p[i - 1] < 0) != (p[i] < 0))
			cross++;
	}
	*hz = (double)cross / 2.0 / ((double)n / 8000.0);
	*dbm0 = sum > 0 ? 10 * log10(sum / (double)n / (32768.0 * 32768.0)) + 6.15 : -100;
}

static void test_record(void)
{
	struct voice_engine *a = start(33200, 10, 1), *b = start(33300, 10, 1);
	uint64_t ca, cb;
	struct voice_event ev;
	char path[] = "/tmp/irisx-rec-XXXXXX";
	int fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
	if (!a || !b || fd < 0 || connect_call(a, b, &ca, &cb) < 0) {
		CHECK(0);
		goto out;
	}
	/* a known tone, recorded for max_ms: its frequency and level survive */
	struct voice_audio *tone = NULL;
	voice_audio_tone(1000, 0, -13, 3000, 0, 3000, &tone);
	voice_call_play(a, ca, tone, 1);
	voice_audio_unref(tone);
	usleep(100000);
	CHECK_EQ_INT(voice_call_record(b, cb, &(struct voice_record){.path = path, .max_ms = 1000}),
		     0);
	CHECK(wait_for(b, VOICE_EV_RECORD_DONE, cb, &ev, 4000));
	CHECK_EQ_INT(ev.code, VOICE_RECORD_MAX);
	CHECK(ev.duration_ms >= 900 && ev.duration_ms <= 1100);
	size_t n = 0;
	int rate = 0;
	int16_t *p = read_wav(path, &n, &rate);
	CHECK(p != NULL);
	CHECK_EQ_INT(rate, 8000);
	CHECK(n >= 7200 && n <= 8800);
	double hz = 0, lvl = 0;
	if (p && n > 4000)
		analyse(p, 1000, 3000, &hz, &lvl);
	CHECK(hz > 980 && hz < 1020);
	CHECK(lvl > -14.5 && lvl < -11.5);
	free(p);
	voice_call_stop_play(a, ca);
	usleep(200000);

	/* trimmed: 300 ms of silence, 500 ms of tone, then silence until silence_ms ends it */
	CHECK_EQ_INT(voice_call_record(
			 b, cb,
			 &(struct voice_record){
			     .path = path, .silence_ms = 700, .trim = true, .finish_key = '#'}),
		     0);
	usleep(300000);
	voice_audio_tone(600, 0, -13, 500, 0, 500, &tone);
	voice_call_play(a, ca, tone, 1);
	voice_audio_unref(tone);
	CHECK(wait_for(b, VOICE_EV_RECORD_DONE, cb, &ev, 4000));
	CHECK_EQ_INT(ev.code, VOICE_RECORD_SILENCE);
	CHECK(ev.duration_ms >= 440 && ev.duration_ms <= 580);
	p = read_wav(path, &n, &rate);
	CHECK(p && n >= 3500 && n <= 4700);
	if (p && n > 1000) {
		analyse(p, 0, 160, &hz, &lvl); /* no leading silence */
		CHECK(lvl > -16);
		analyse(p, n - 160, 160, &hz, &lvl); /* no trailing silence */
		CHECK(lvl > -16);
	}
	free(p);

	/* the finish key, with a beep first */
	CHECK_EQ_INT(
	    voice_call_record(
		b, cb, &(struct voice_record){.path = path, .beep = true, .finish_key = '#'}),
	    0);
	usleep(500000);
	voice_call_send_dtmf(a, ca, "#");
	CHECK(wait_for(b, VOICE_EV_RECORD_DONE, cb, &ev, 4000));
	CHECK_EQ_INT(ev.code, VOICE_RECORD_FINISH);
	CHECK(ev.duration_ms > 100 && ev.duration_ms < 1000);

	/* a file that cannot be written */
	voice_call_record(b, cb, &(struct voice_record){.path = "/nonexistent/dir/x.wav"});
	CHECK(wait_for(b, VOICE_EV_RECORD_DONE, cb, &ev, 4000));
	CHECK_EQ_INT(ev.code, VOICE_RECORD_ERROR);

	/* hangup mid-recording: RECORD_DONE follows HANGUP, the file is complete */
	voice_call_record(b, cb, &(struct voice_record){.path = path});
	usleep(400000);
	voice_call_hangup(a, ca);
	CHECK(wait_for(b, VOICE_EV_RECORD_DONE, cb, &ev, 4000));
	CHECK_EQ_INT(ev.code, VOICE_RECORD_HANGUP);
	CHECK(ev.duration_ms >= 300);
out:
	unlink(path);
	voice_engine_stop(a);
	voice_engine_stop(b);
}

/* Records what call c on engine e hears for ms and returns its frequency and level. */
static void hear(struct voice_engine *e, uint64_t c, const char *path, double *hz, double *lvl)
{
	*hz = *lvl = 0;
	struct voice_event ev;
	voice_call_record(e, c, &(struct voice_record){.path = path, .max_ms = 600});
	if (!wait_for(e, VOICE_EV_RECORD_DONE, c, &ev, 4000))
		return;
	size_t n = 0;
	int rate;
	int16_t *p = read_wav(path, &n, &rate);
	if (p && n > 3000)
		analyse(p, 800, 2000, hz, lvl);
	if (getenv("VX_DEBUG"))
		fprintf(stderr, "hear: %zu samples, %.1f Hz, %.1f dBm0\n", n, *hz, *lvl);
	free(p);
}

/* Hears until the frequency is in [lo, hi] (or silence when lo is 0): play commands go through
   the signalling thread and may land late on a loaded machine. Up to 4 tries. */
static void hear_until(struct voice_engine *e, uint64_t c, const char *path, double lo, double hi,
		       double *hz, double *lvl)
{
	for (int i = 0; i < 4; i++) {
		hear(e, c, path, hz, lvl);
		if (lo == 0 ? *lvl < -50 : *hz > lo && *hz < hi)
			return;
	}
}

/* B bridges its two inbound calls (on different media threads: one is moved); A plays a
   different tone into each and hears the other's. */
static void test_bridge(void)
{
	struct voice_engine *a = start(33400, 10, 1), *b = start(33500, 10, 2);
	uint64_t a1, b1, a2, b2;
	struct voice_event ev;
	char path[] = "/tmp/irisx-bridge-XXXXXX";
	int fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
	if (!a || !b || fd < 0 || connect_call(a, b, &a1, &b1) < 0 ||
	    connect_call(a, b, &a2, &b2) < 0) {
		CHECK(0);
		goto out;
	}
	CHECK_EQ_INT(voice_call_bridge(b, b1, b1), -EINVAL);
	CHECK_EQ_INT(voice_call_bridge(b, b1, 12345), -ENOENT);
	CHECK_EQ_INT(voice_call_bridge(b, b1, b2), 0);
	CHECK(wait_for(b, VOICE_EV_BRIDGE, b1, &ev, 3000));
	CHECK_EQ_INT(ev.code, 1);
	CHECK_EQ_INT(ev.peer, b2);
	CHECK(wait_for(b, VOICE_EV_BRIDGE, b2, &ev, 3000));
	CHECK_EQ_INT(ev.code, 1);
	CHECK_EQ_INT(ev.peer, b1);
	struct voice_audio *t1 = NULL, *t2 = NULL, *music = NULL;
	voice_audio_tone(500, 0, -13, 10000, 0, 10000, &t1);
	voice_audio_tone(1200, 0, -13, 10000, 0, 10000, &t2);
	voice_call_play(a, a1, t1, 1);
	voice_call_play(a, a2, t2, 1);
	usleep(200000);
	double hz, lvl;
	hear_until(a, a2, path, 480, 520, &hz, &lvl); /* leg 1's tone arrives on leg 2 */
	CHECK(hz > 480 && hz < 520);
	CHECK(lvl > -15 && lvl < -11);
	hear_until(a, a1, path, 1170, 1230, &hz, &lvl); /* and leg 2's on leg 1 */
	CHECK(hz > 1170 && hz < 1230);
	CHECK(lvl > -15 && lvl < -11);

	/* two recordings at once on the writer thread, each with its own file */
	char p2[] = "/tmp/irisx-bridge2-XXXXXX";
	int fd2 = mkstemp(p2);
	if (fd2 >= 0)
		close(fd2);
	voice_call_record(a, a1, &(struct voice_record){.path = path, .max_ms = 400});
	voice_call_record(a, a2, &(struct voice_record){.path = p2, .max_ms = 600});
	int done = 0;
	for (int i = 0; i < 2 && wait_for(a, VOICE_EV_RECORD_DONE, 0, &ev, 4000); i++) {
		CHECK_EQ_INT(ev.code, VOICE_RECORD_MAX);
		unsigned want = ev.call == a1 ? 400 : 600;
		CHECK(ev.duration_ms + 60 >= want && ev.duration_ms <= want + 60);
		done++;
	}
	CHECK_EQ_INT(done, 2);
	unlink(p2);

	/* digits pass through */
	voice_call_send_dtmf(a, a1, "5");
	CHECK(wait_for(a, VOICE_EV_DTMF, a2, &ev, 3000));
	CHECK_EQ_INT(ev.digit, '5');

	/* hold: leg 2 hears the music, not leg 1 */
	voice_audio_tone(800, 0, -13, 10000, 0, 10000, &music);
	CHECK_EQ_INT(voice_call_hold(b, b2, music), 0);
	usleep(100000);
	hear_until(a, a2, path, 780, 820, &hz, &lvl);
	CHECK(hz > 780 && hz < 820);
	hear_until(a, a1, path, 0, 0, &hz, &lvl); /* leg 1 hears silence while the other is held */
	CHECK(lvl < -50);
	CHECK_EQ_INT(voice_call_unhold(b, b2), 0);
	usleep(100000);
	hear_until(a, a2, path, 480, 520, &hz, &lvl);
	CHECK(hz > 480 && hz < 520);

	/* unbridge: both legs told */
	CHECK_EQ_INT(voice_call_unbridge(b, b1), 0);
	CHECK(wait_for(b, VOICE_EV_BRIDGE, b2, &ev, 3000));
	CHECK_EQ_INT(ev.code, 0);

	/* quality at hangup: loopback, nothing lost */
	voice_call_hangup(b, b1);
	CHECK(wait_for(b, VOICE_EV_HANGUP, b1, &ev, 3000));
	CHECK(ev.quality.rx_packets > 50);
	CHECK(ev.quality.rx_expected >= ev.quality.rx_packets);
	CHECK(ev.quality.loss_rx_pct < 1.0);
	CHECK(ev.quality.jitter_rx_ms < 20);
	CHECK(ev.quality.mos > 4.0 && ev.quality.mos <= 4.5);
	CHECK(ev.quality.rtcp_reports >= 1); /* engine A's receiver reports about our stream */
	CHECK(ev.quality.loss_tx_pct < 1.0);
	struct voice_quality q;
	CHECK_EQ_INT(voice_call_quality(b, b2, &q), 0);
	CHECK(q.rx_packets > 50);
	voice_audio_unref(t1);
	voice_audio_unref(t2);
	voice_audio_unref(music);
out:
	unlink(path);
	voice_engine_stop(a);
	voice_engine_stop(b);
}

/* Say: synthesised on the worker, played, PLAY_DONE; the far end hears speech. */
static void test_say(void)
{
	struct voice_engine *a = start(33600, 10, 1), *b = start(33700, 10, 1);
	uint64_t ca, cb;
	struct voice_event ev;
	if (!a || !b || connect_call(a, b, &ca, &cb) < 0) {
		CHECK(0);
		goto out;
	}
	CHECK_EQ_INT(voice_call_say(b, 4242, "hello", NULL, 1), -ENOENT);
	CHECK_EQ_INT(voice_call_say(b, cb, "Thank you for calling.", NULL, 1), 0);
	CHECK(wait_for(b, VOICE_EV_PLAY_DONE, cb, &ev, 8000));
	CHECK_EQ_INT(ev.code, 0);
	CHECK_EQ_INT(voice_call_say(b, cb, "x", "zz-nope", 1), 0);
	CHECK(wait_for(b, VOICE_EV_PLAY_DONE, cb, &ev, 8000));
	CHECK_EQ_INT(ev.code, 2);
out:
	voice_engine_stop(a);
	voice_engine_stop(b);
}

/* At capacity new calls get 503. */
static void test_capacity(void)
{
	struct voice_engine *a = start(33800, 10, 1), *b = start(33900, 1, 1);
	uint64_t c1, c2;
	struct voice_event ev;
	if (!a || !b || connect_call(a, b, &c1, &c2) < 0) {
		CHECK(0);
		goto out;
	}
	char uri[128];
	snprintf(uri, sizeof(uri), "sip:svc@127.0.0.1:%u", voice_engine_sip_port(b));
	struct voice_dial d = {.uri = uri, .timeout_ms = 5000};
	CHECK_EQ_INT(voice_call_dial(a, &d, &c2), 0);
	CHECK(wait_for(a, VOICE_EV_HANGUP, c2, &ev, 5000));
	CHECK_EQ_INT(ev.code, 503);
	/* a blocking wait (condition variable on the priority-inheriting event lock) wakes up */
	voice_call_hangup(a, c1);
	int got = 0;
	while (!got && voice_engine_next_event(b, &ev, -1) == 1)
		got = ev.type == VOICE_EV_HANGUP;
	CHECK(got);
out:
	voice_engine_stop(a);
	voice_engine_stop(b);
}

int main(void)
{
	test_rtcp();
	test_mos();
	test_tts();
	test_collect();
	test_record();
	test_bridge();
	test_say();
	test_capacity();
	return test_done("voice_media");
}
