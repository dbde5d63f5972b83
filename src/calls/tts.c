/* tts.c: text-to-speech resources: a tenant's text rendered once (voice_tts_synth) to an
   8 kHz mono 16-bit WAV under data_dir/tts/<tenant>/<id>.wav with a JSON sidecar, the id
   being a digest of tenant, voice, language and text so the same request is the same file.
   The API serves them and the interpreter plays them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calls.h"
#include "voice/voice.h"

#define TTS_TEXT_MAX 4000

/* espeak-ng languages offered (espeak-ng-data ships these); English is flite's kal. */
static const char *const espeak_langs[] = {
    "af", "ar", "bg", "bs", "ca", "cmn", "cs", "cy", "da", "de", "el",	  "en-gb", "eo", "es", "et",
    "eu", "fa", "fi", "fr", "ga", "hi",	 "hr", "hu", "hy", "id", "is",	  "it",	   "ja", "ka", "kn",
    "ko", "lt", "lv", "mk", "ml", "ms",	 "nb", "nl", "pl", "pt", "pt-br", "ro",	   "ru", "sk", "sl",
    "sq", "sr", "sv", "sw", "ta", "te",	 "tr", "uk", "ur", "vi", "yue",	  NULL};

json_t *calls_tts_voices(void)
{
	json_t *a = json_array();
	json_array_append_new(
	    a, json_pack("{s:s,s:s,s:s}", "voice", "kal", "language", "en", "engine", "flite"));
	for (int i = 0; espeak_langs[i]; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "voice", espeak_langs[i],
						   "language", espeak_langs[i], "engine",
						   "espeak-ng"));
	return a;
}

static bool safe_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

int calls_tts_path(const char *data_dir, const char *tenant_id, const char *id, char *out,
		   size_t cap)
{
	if (!safe_name(tenant_id) || !id_valid(id, "TT"))
		return -EINVAL;
	int n = snprintf(out, cap, "%s/tts/%s/%s.wav", data_dir, tenant_id, id);
	return n < 0 || (size_t)n >= cap ? -E2BIG : 0;
}

static void le16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

/* 8 kHz mono 16-bit PCM WAV of clip a, written to path.tmp then renamed. */
static int write_wav(const char *path, const struct voice_audio *a, int64_t *ret_bytes)
{
	size_t n = voice_audio_samples(a);
	uint8_t h[44];
	memcpy(h, "RIFF", 4);
	le32(h + 4, (uint32_t)(36 + n * 2));
	memcpy(h + 8, "WAVEfmt ", 8);
	le32(h + 16, 16);
	le16(h + 20, 1);	/* PCM */
	le16(h + 22, 1);	/* mono */
	le32(h + 24, 8000);	/* rate */
	le32(h + 28, 8000 * 2); /* bytes per second */
	le16(h + 32, 2);	/* block align */
	le16(h + 34, 16);	/* bits */
	memcpy(h + 36, "data", 4);
	le32(h + 40, (uint32_t)(n * 2));
	uint8_t *pcm = mem_alloc(n * 2 + 1);
	for (size_t i = 0; i < n; i++)
		le16(pcm + 2 * i, (uint16_t)voice_audio_linear(a, i));
	char tmp[4200];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -E2BIG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r = 0;
	if (fd < 0 || write(fd, h, 44) != 44 || write(fd, pcm, n * 2) != (ssize_t)(n * 2))
		r = -EIO;
	if (fd >= 0 && close(fd) < 0)
		r = -EIO;
	mem_free(pcm);
	if (r == 0 && rename(tmp, path) < 0)
		r = -EIO;
	if (r < 0)
		unlink(tmp);
	else
		*ret_bytes = (int64_t)(44 + n * 2);
	return r;
}

static int mkdir_0700(const char *p)
{
	return mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

static int write_text(const char *path, const char *s)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -E2BIG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r = 0;
	size_t n = strlen(s);
	if (fd < 0 || write(fd, s, n) != (ssize_t)n)
		r = -EIO;
	if (fd >= 0 && close(fd) < 0)
		r = -EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -EIO;
	if (r < 0)
		unlink(tmp);
	return r;
}

int calls_tts_render(const char *data_dir, const char *tenant_id, const char *text,
		     const char *voice, const char *language, json_t **ret_meta)
{
	const char *lang = language && *language ? language : "en";
	bool en = !strcmp(lang, "en") || !strcmp(lang, "en-us");
	if (!text || !*text || strlen(text) > TTS_TEXT_MAX)
		return -EINVAL;
	if (!en) {
		int i = 0;
		while (espeak_langs[i] && strcmp(espeak_langs[i], lang))
			i++;
		if (!espeak_langs[i])
			return -ENOTSUP;
	}
	const char *v = voice && *voice ? voice : (en ? "kal" : lang);
	if (en ? strcmp(v, "kal") != 0 : strcmp(v, lang) != 0)
		return -EBADMSG; /* a voice the language does not have */
	/* the id: a digest of who asked for what */
	size_t kl = strlen(tenant_id) + strlen(v) + strlen(lang) + strlen(text) + 4;
	char *key = mem_alloc(kl), hex[65], id[ID_LEN + 1], path[4096], meta_path[4096];
	snprintf(key, kl, "%s|%s|%s|%s", tenant_id, v, lang, text);
	sha256_hex(key, strlen(key), hex);
	mem_free(key);
	snprintf(id, sizeof(id), "TT%.32s", hex);
	int r = calls_tts_path(data_dir, tenant_id, id, path, sizeof(path));
	if (r < 0)
		return r;
	snprintf(meta_path, sizeof(meta_path), "%.*s.json", (int)(strlen(path) - 4), path);
	json_t *meta = json_load_file(meta_path, 0, NULL);
	struct stat sb;
	if (meta && stat(path, &sb) == 0) { /* rendered before */
		*ret_meta = meta;
		return 0;
	}
	json_decref(meta);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tts", data_dir);
	if ((r = mkdir_0700(data_dir)) < 0 || (r = mkdir_0700(dir)) < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s/tts/%s", data_dir, tenant_id);
	if ((r = mkdir_0700(dir)) < 0)
		return r;
	struct voice_audio *a = NULL;
	if ((r = voice_tts_synth(text, en ? NULL : lang, &a)) < 0)
		return r;
	int64_t bytes = 0;
	size_t samples = voice_audio_samples(a);
	r = write_wav(path, a, &bytes);
	voice_audio_unref(a);
	if (r < 0)
		return r;
	char ts[TIME_RFC3339_LEN];
	meta = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "id", id, "text", text, "voice", v,
			 "language", lang, "duration_ms", (json_int_t)(samples / 8), "bytes",
			 (json_int_t)bytes, "created_at", time_fmt(time_now_us(), ts));
	char *s = json_dumps(meta, JSON_COMPACT);
	r = write_text(meta_path, s);
	free(s);
	if (r < 0) {
		json_decref(meta);
		return r;
	}
	*ret_meta = meta;
	return 0;
}
