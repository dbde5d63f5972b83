/* audio.c: immutable 8 kHz clips (WAV files, tones), encoded once to both G.711 laws and shared
   by calls on any thread through an atomic reference count. */
#include <errno.h>
#include <sndfile.h>
#include <spandsp.h>
#include <speex/speex_resampler.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "voice/voice.h"

struct voice_audio {
	atomic_uint refs;
	size_t n;
	uint8_t *ulaw, *alaw;
};

/* Takes ownership of nothing: encodes pcm[0..n) into a new clip. */
static struct voice_audio *audio_from_pcm(const int16_t *pcm, size_t n)
{
	struct voice_audio *a = mem_zalloc(sizeof(*a));
	atomic_init(&a->refs, 1);
	a->n = n;
	a->ulaw = mem_alloc(n ? n : 1);
	a->alaw = mem_alloc(n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		a->ulaw[i] = linear_to_ulaw(pcm[i]);
		a->alaw[i] = linear_to_alaw(pcm[i]);
	}
	return a;
}

struct voice_audio *voice_audio_ref(struct voice_audio *a)
{
	if (a)
		atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
	return a;
}

struct voice_audio *voice_audio_unref(struct voice_audio *a)
{
	if (!a || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	mem_free(a->ulaw);
	mem_free(a->alaw);
	mem_free(a);
	return NULL;
}

size_t voice_audio_samples(const struct voice_audio *a)
{
	return a ? a->n : 0;
}

const uint8_t *voice_audio_data(const struct voice_audio *a, int pt)
{
	if (!a)
		return NULL;
	return pt == 0 ? a->ulaw : pt == 8 ? a->alaw : NULL;
}

int16_t voice_audio_linear(const struct voice_audio *a, size_t i)
{
	return a && i < a->n ? ulaw_to_linear(a->ulaw[i]) : 0;
}

int voice_audio_from_pcm(const int16_t *pcm, size_t n, unsigned rate, struct voice_audio **ret)
{
	if (!pcm || rate < 4000 || rate > 96000 || n > (size_t)rate * 3600)
		return -EINVAL;
	if (rate == 8000) {
		*ret = audio_from_pcm(pcm, n);
		return 0;
	}
	int err = 0;
	SpeexResamplerState *rs = speex_resampler_init(1, rate, 8000, 3, &err);
	if (!rs)
		return -ENOMEM;
	size_t cap = (size_t)((uint64_t)n * 8000 / rate) + 64;
	int16_t *out = mem_alloc(cap * sizeof(*out));
	size_t in_done = 0, out_done = 0;
	while (in_done < n && out_done < cap) {
		spx_uint32_t in_len = (spx_uint32_t)(n - in_done > 65536 ? 65536 : n - in_done);
		spx_uint32_t out_len = (spx_uint32_t)(cap - out_done);
		speex_resampler_process_int(rs, 0, pcm + in_done, &in_len, out + out_done,
					    &out_len);
		if (in_len == 0 && out_len == 0)
			break;
		in_done += in_len;
		out_done += out_len;
	}
	speex_resampler_destroy(rs);
	*ret = audio_from_pcm(out, out_done);
	mem_free(out);
	return 0;
}

int voice_audio_beep(struct voice_audio **ret)
{
	return voice_audio_tone(1000, 0, -10, 250, 0, 250, ret);
}

/* Reads every frame, mixing channels down to one. */
static int read_mono(SNDFILE *f, const SF_INFO *info, int16_t *pcm, size_t frames)
{
	int ch = info->channels;
	int16_t buf[1024];
	size_t per = sizeof(buf) / sizeof(buf[0]) / (size_t)ch, got = 0;
	while (got < frames) {
		size_t want = frames - got < per ? frames - got : per;
		sf_count_t r = sf_readf_short(f, buf, (sf_count_t)want);
		if (r <= 0)
			break;
		for (sf_count_t i = 0; i < r; i++) {
			int sum = 0;
			for (int c = 0; c < ch; c++)
				sum += buf[i * ch + c];
			pcm[got + (size_t)i] = (int16_t)(sum / ch);
		}
		got += (size_t)r;
	}
	return got == frames ? 0 : -EIO;
}

int voice_audio_load_wav(const char *path, unsigned max_seconds, struct voice_audio **ret)
{
	SF_INFO info;
	memset(&info, 0, sizeof(info));
	SNDFILE *f = sf_open(path, SFM_READ, &info);
	if (!f)
		return -ENOENT;
	int r = 0;
	int16_t *pcm = NULL;
	if (info.samplerate < 4000 || info.samplerate > 96000 || info.channels < 1 ||
	    info.channels > 8) {
		r = -ENOTSUP;
		goto out;
	}
	if (info.frames < 0 ||
	    (uint64_t)info.frames > (uint64_t)max_seconds * (uint64_t)info.samplerate) {
		r = -EFBIG;
		goto out;
	}
	size_t frames = (size_t)info.frames;
	pcm = mem_alloc((frames ? frames : 1) * sizeof(*pcm));
	r = read_mono(f, &info, pcm, frames);
	if (r == 0) /* other rates through speexdsp */
		r = voice_audio_from_pcm(pcm, frames, (unsigned)info.samplerate, ret);
out:
	mem_free(pcm);
	sf_close(f);
	return r;
}

int voice_audio_tone(unsigned f1, unsigned f2, int level_dbm0, unsigned on_ms, unsigned off_ms,
		     unsigned total_ms, struct voice_audio **ret)
{
	if (f1 == 0 || f1 > 3900 || f2 > 3900 || on_ms == 0 || total_ms == 0 || total_ms > 600000 ||
	    level_dbm0 > 3 || level_dbm0 < -60)
		return -EINVAL;
	size_t n = (size_t)total_ms * 8;
	int16_t *pcm = mem_zalloc(n * sizeof(*pcm));
	tone_gen_descriptor_t *desc =
	    tone_gen_descriptor_init(NULL, (int)f1, level_dbm0, f2 ? (int)f2 : 0, level_dbm0,
				     (int)on_ms, (int)off_ms, 0, 0, off_ms > 0);
	tone_gen_state_t *gen = desc ? tone_gen_init(NULL, desc) : NULL;
	if (!gen) {
		if (desc)
			tone_gen_descriptor_free(desc);
		mem_free(pcm);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < n) {
		size_t want = n - got > 8000 ? 8000 : n - got;
		int r = tone_gen(gen, pcm + got, (int)want);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	tone_gen_free(gen);
	tone_gen_descriptor_free(desc);
	*ret = audio_from_pcm(pcm, n);
	mem_free(pcm);
	return 0;
}
