/* audio.c: the audio a Play verb names, loaded on a worker: IRISX text-to-speech resources
   (/v1/tts/<id>/audio, or irisx:tts/<id>) from their files, anything else fetched over
   HTTP through the SSRF guard (WAV, up to 16 MiB), decoded once and kept in a small cache
   keyed by tenant and URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "webhooks/webhooks.h"

#define AUDIO_CACHE 64
#define AUDIO_MAX_BYTES (16u << 20)

struct acache {
	char *key;
	struct voice_audio *a;
	uint64_t used_us;
};

static struct voice_audio *cache_get(struct calls *c, const char *key)
{
	struct voice_audio *a = NULL;
	pthread_mutex_lock(&c->alock);
	for (size_t i = 0; i < c->naudio; i++)
		if (!strcmp(c->audio[i].key, key)) {
			a = voice_audio_ref(c->audio[i].a);
			c->audio[i].used_us = time_now_us();
			break;
		}
	pthread_mutex_unlock(&c->alock);
	return a;
}

static void cache_put(struct calls *c, const char *key, struct voice_audio *a)
{
	pthread_mutex_lock(&c->alock);
	if (!c->audio)
		c->audio = mem_zalloc(AUDIO_CACHE * sizeof(*c->audio));
	size_t slot = c->naudio;
	if (slot == AUDIO_CACHE) { /* evict the least recently used */
		slot = 0;
		for (size_t i = 1; i < AUDIO_CACHE; i++)
			if (c->audio[i].used_us < c->audio[slot].used_us)
				slot = i;
		mem_free(c->audio[slot].key);
		voice_audio_unref(c->audio[slot].a);
	} else {
		c->naudio++;
	}
	c->audio[slot] = (struct acache){mem_strdup(key), voice_audio_ref(a), time_now_us()};
	pthread_mutex_unlock(&c->alock);
}

void interp_audio_cache_free(struct calls *c)
{
	for (size_t i = 0; i < c->naudio; i++) {
		mem_free(c->audio[i].key);
		voice_audio_unref(c->audio[i].a);
	}
	mem_free(c->audio);
	c->audio = NULL;
	c->naudio = 0;
}

/* The TT id of a text-to-speech URL, or NULL. */
static const char *tts_id(const char *url, char out[ID_LEN + 1])
{
	const char *p = strstr(url, "/v1/tts/");
	if (p)
		p += 8;
	else if (!strncmp(url, "irisx:tts/", 10))
		p = url + 10;
	else
		return NULL;
	size_t n = strcspn(p, "/?#.");
	if (n != ID_LEN || strncmp(p, "TT", 2))
		return NULL;
	memcpy(out, p, n);
	out[n] = 0;
	return out;
}

static int load_http(struct calls *c, const char *url, struct voice_audio **ret, char **ret_err)
{
	struct webhooks_fetch w = {.url = url,
				   .method = "GET",
				   .timeout_ms = 15000,
				   .max_body = AUDIO_MAX_BYTES,
				   .allow_private = c->cfg->outbound_allow_private};
	struct webhooks_fetch_result res;
	char m[300];
	int r = webhooks_fetch(&w, &res);
	if (r < 0 || res.status < 200 || res.status > 299) {
		if (r < 0)
			snprintf(m, sizeof(m), "Play %s failed: %s", url,
				 res.error ? res.error : "error");
		else
			snprintf(m, sizeof(m), "Play %s answered HTTP %d", url, res.status);
		*ret_err = mem_strdup(m);
		free(res.body);
		return -EIO;
	}
	char path[600];
	snprintf(path, sizeof(path), "%s/play-XXXXXX", c->rec_dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		free(res.body);
		*ret_err = mem_strdup("Play: no temporary file");
		return -EIO;
	}
	ssize_t wr = write(fd, res.body, res.body_len);
	close(fd);
	free(res.body);
	r = wr < 0 ? -EIO : voice_audio_load_wav(path, 3600, ret);
	unlink(path);
	if (r < 0) {
		snprintf(m, sizeof(m), "Play %s: not a playable WAV file (%s)", url, strerror(-r));
		*ret_err = mem_strdup(m);
	}
	return r;
}

void interp_audio_work(struct calls *c, void *arg)
{
	struct fetch_req *f = arg;
	struct task *t = mem_zalloc(sizeof(*t));
	t->kind = T_AUDIO;
	t->lid = f->lid;
	t->gen = f->gen;
	char key[2200], id[ID_LEN + 1];
	snprintf(key, sizeof(key), "%s|%s", f->tenant, f->url);
	t->audio = cache_get(c, key);
	if (!t->audio) {
		int r;
		if (tts_id(f->url, id)) {
			char path[600];
			r = calls_tts_path(c->cfg->data_dir, f->tenant, id, path, sizeof(path));
			if (r == 0)
				r = voice_audio_load_wav(path, 3600, &t->audio);
			if (r < 0)
				t->error = mem_strdup("Play: unknown text-to-speech resource");
		} else {
			r = load_http(c, f->url, &t->audio, &t->error);
		}
		if (r == 0)
			cache_put(c, key, t->audio);
	}
	calls_post(c, t);
	mem_free(f->url);
	mem_free(f);
}
