/* tts.c: text to speech: flite cmu_us_kal (8 kHz, English) or espeak-ng (other languages,
   22.05 kHz resampled to 8 kHz), a process-wide cache of ready-to-send clips keyed by text,
   voice and language under a byte cap (LRU), and the worker thread behind voice_call_say. */
#include <errno.h>
#include <espeak-ng/speak_lib.h>
#include <flite/flite.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "internal.h"

cst_voice *register_cmu_us_kal(const char *voxdir); /* flite ships no prototype (trap 15) */

enum { BUCKETS = 1024, TEXT_MAX = 4096, QUEUE_MAX = 1024 };

/* ---- cache ---- */

struct entry {
	struct entry *next; /* bucket chain */
	struct entry *prev_lru, *next_lru;
	uint64_t hash;
	char *key;
	struct voice_audio *clip;
	size_t bytes;
};

static struct {
	pthread_mutex_t lock;
	struct entry *b[BUCKETS];
	struct entry *lru_head, *lru_tail; /* head: most recent */
	struct voice_tts_stats st;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER, .st = {.limit = 32u << 20}};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static void lru_unlink(struct entry *x)
{
	if (x->prev_lru)
		x->prev_lru->next_lru = x->next_lru;
	else
		cache.lru_head = x->next_lru;
	if (x->next_lru)
		x->next_lru->prev_lru = x->prev_lru;
	else
		cache.lru_tail = x->prev_lru;
	x->prev_lru = x->next_lru = NULL;
}

static void lru_front(struct entry *x)
{
	x->next_lru = cache.lru_head;
	if (cache.lru_head)
		cache.lru_head->prev_lru = x;
	cache.lru_head = x;
	if (!cache.lru_tail)
		cache.lru_tail = x;
}

static void evict_to(size_t limit)
{
	while (cache.st.bytes > limit && cache.lru_tail) {
		struct entry *x = cache.lru_tail;
		lru_unlink(x);
		struct entry **pp = &cache.b[x->hash % BUCKETS];
		while (*pp != x)
			pp = &(*pp)->next;
		*pp = x->next;
		cache.st.bytes -= x->bytes;
		cache.st.entries--;
		cache.st.evictions++;
		voice_audio_unref(x->clip);
		mem_free(x->key);
		mem_free(x);
	}
}

static struct voice_audio *cache_get(const char *key, uint64_t h)
{
	pthread_mutex_lock(&cache.lock);
	struct entry *x = cache.b[h % BUCKETS];
	while (x && (x->hash != h || strcmp(x->key, key) != 0))
		x = x->next;
	struct voice_audio *a = NULL;
	if (x) {
		lru_unlink(x);
		lru_front(x);
		a = voice_audio_ref(x->clip);
		cache.st.hits++;
	} else {
		cache.st.misses++;
	}
	pthread_mutex_unlock(&cache.lock);
	return a;
}

static void cache_put(const char *key, uint64_t h, struct voice_audio *a)
{
	size_t bytes = voice_audio_samples(a) * 2 + strlen(key);
	pthread_mutex_lock(&cache.lock);
	struct entry *x = cache.b[h % BUCKETS];
	while (x && (x->hash != h || strcmp(x->key, key) != 0))
		x = x->next;
	if (!x && bytes <= cache.st.limit) { /* another thread may have raced us here */
		x = mem_zalloc(sizeof(*x));
		x->hash = h;
		x->key = mem_strdup(key);
		x->clip = voice_audio_ref(a);
		x->bytes = bytes;
		x->next = cache.b[h % BUCKETS];
		cache.b[h % BUCKETS] = x;
		lru_front(x);
		cache.st.bytes += bytes;
		cache.st.entries++;
		evict_to(cache.st.limit);
	}
	pthread_mutex_unlock(&cache.lock);
}

void voice_tts_stats(struct voice_tts_stats *ret)
{
	pthread_mutex_lock(&cache.lock);
	*ret = cache.st;
	pthread_mutex_unlock(&cache.lock);
}

void voice_tts_cache_limit(size_t bytes)
{
	pthread_mutex_lock(&cache.lock);
	cache.st.limit = bytes;
	evict_to(bytes);
	pthread_mutex_unlock(&cache.lock);
}

/* ---- synthesis (each engine is process-global and not re-entrant: one lock each) ---- */

static pthread_mutex_t flite_lock = PTHREAD_MUTEX_INITIALIZER;
static cst_voice *kal;

static int synth_flite(const char *text, struct voice_audio **ret)
{
	pthread_mutex_lock(&flite_lock);
	if (!kal) {
		flite_init();
		kal = register_cmu_us_kal(NULL);
	}
	cst_wave *w = kal ? flite_text_to_wave(text, kal) : NULL;
	int r = -EIO;
	if (w && w->num_samples > 0)
		r = voice_audio_from_pcm(w->samples, (size_t)w->num_samples,
					 (unsigned)w->sample_rate, ret);
	if (w)
		delete_wave(w);
	pthread_mutex_unlock(&flite_lock);
	return r;
}

static pthread_mutex_t espeak_lock = PTHREAD_MUTEX_INITIALIZER;
static int espeak_rate; /* 0: not initialised, < 0: failed */

struct pcm_buf {
	int16_t *p;
	size_t n, cap;
	bool too_long;
};

static int espeak_cb(short *wav, int n, espeak_EVENT *events)
{
	struct pcm_buf *b = events ? events->user_data : NULL;
	if (!b || !wav || n <= 0)
		return 0;
	if (b->n + (size_t)n > 22050u * 600) { /* ten minutes */
		b->too_long = true;
		return 1;
	}
	if (b->n + (size_t)n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 65536;
		while (cap < b->n + (size_t)n)
			cap *= 2;
		b->p = mem_realloc(b->p, cap * sizeof(*b->p));
		b->cap = cap;
	}
	memcpy(b->p + b->n, wav, (size_t)n * sizeof(*wav));
	b->n += (size_t)n;
	return 0;
}

static int synth_espeak(const char *text, const char *lang, struct voice_audio **ret)
{
	pthread_mutex_lock(&espeak_lock);
	if (espeak_rate == 0) {
		espeak_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, 0);
		if (espeak_rate > 0)
			espeak_SetSynthCallback(espeak_cb);
		else
			espeak_rate = -1;
	}
	int r = -EIO;
	if (espeak_rate < 0)
		goto out;
	if (espeak_SetVoiceByName(lang) != EE_OK) {
		r = -ENOTSUP;
		goto out;
	}
	struct pcm_buf b = {0};
	if (espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, &b) ==
		EE_OK &&
	    !b.too_long && b.n > 0)
		r = voice_audio_from_pcm(b.p, b.n, (unsigned)espeak_rate, ret);
	mem_free(b.p);
out:
	pthread_mutex_unlock(&espeak_lock);
	return r;
}

static bool lang_ok(const char *lang)
{
	size_t n = strlen(lang);
	if (n == 0 || n > 16)
		return false;
	for (const char *p = lang; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-'))
			return false;
	return true;
}

int voice_tts_synth(const char *text, const char *lang, struct voice_audio **ret)
{
	if (!text || !*text || strlen(text) > TEXT_MAX)
		return -EINVAL;
	bool english = !lang || !strcmp(lang, "en") || !strcmp(lang, "en-us");
	if (!english && !lang_ok(lang))
		return -ENOTSUP;
	const char *voice = english ? "flite/kal" : "espeak";
	size_t klen = strlen(voice) + (english ? 2 : strlen(lang)) + strlen(text) + 3;
	char *key = mem_alloc(klen);
	snprintf(key, klen, "%s\x1f%s\x1f%s", voice, english ? "en" : lang, text);
	uint64_t h = fnv(key);
	struct voice_audio *a = cache_get(key, h);
	int r = 0;
	if (!a) {
		r = english ? synth_flite(text, &a) : synth_espeak(text, lang, &a);
		if (r == 0)
			cache_put(key, h, a);
	}
	mem_free(key);
	if (r == 0)
		*ret = a;
	return r;
}

/* ---- the worker behind voice_call_say ---- */

struct job {
	struct job *next;
	uint64_t call;
	unsigned loops;
	char lang[17];
	char *text;
};

struct tts_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	unsigned n;
	bool quit;
};

static void emit_failed(struct voice_engine *e, uint64_t call)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = VOICE_EV_PLAY_DONE;
	ev.call = call;
	ev.code = 2;
	engine_emit(e, &ev);
}

static void run_job(struct voice_engine *e, struct job *j)
{
	struct voice_audio *a = NULL;
	if (voice_tts_synth(j->text, j->lang[0] ? j->lang : NULL, &a) < 0) {
		emit_failed(e, j->call);
		return;
	}
	struct media_cmd *m = vx_zalloc(sizeof(*m));
	m->call = j->call;
	m->fd = m->fd_rtcp = -1;
	m->audio = a;
	m->loops = j->loops;
	if (route_push(e, j->call, MEDIA_PLAY, m) < 0) {
		voice_audio_unref(a);
		vx_free(m); /* the call ended meanwhile */
	}
}

static void *tts_main(void *arg)
{
	struct voice_engine *e = arg;
	struct tts_worker *w = e->ttsw;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->quit)
			break;
		struct job *j = w->head;
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->n--;
		pthread_mutex_unlock(&w->lock);
		run_job(e, j);
		mem_free(j->text);
		mem_free(j);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int tts_say(struct voice_engine *e, uint64_t call, const char *text, const char *lang,
	    unsigned loops)
{
	struct tts_worker *w = e->ttsw;
	if (!w || !text || !*text || strlen(text) > TEXT_MAX || (lang && strlen(lang) > 16))
		return -EINVAL;
	struct job *j = mem_zalloc(sizeof(*j));
	j->call = call;
	j->loops = loops;
	if (lang)
		snprintf(j->lang, sizeof(j->lang), "%s", lang);
	j->text = mem_strdup(text);
	pthread_mutex_lock(&w->lock);
	int r = 0;
	if (w->n >= QUEUE_MAX) {
		r = -EAGAIN;
	} else {
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		w->n++;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	if (r < 0) {
		mem_free(j->text);
		mem_free(j);
	}
	return r;
}

int tts_worker_start(struct voice_engine *e)
{
	struct tts_worker *w = mem_zalloc(sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	e->ttsw = w;
	if (pthread_create(&w->thread, NULL, tts_main, e) != 0) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		mem_free(w);
		e->ttsw = NULL;
		return -EAGAIN;
	}
	return 0;
}

void tts_worker_stop(struct voice_engine *e)
{
	struct tts_worker *w = e->ttsw;
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	while (w->head) {
		struct job *j = w->head;
		w->head = j->next;
		mem_free(j->text);
		mem_free(j);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	mem_free(w);
	e->ttsw = NULL;
}
