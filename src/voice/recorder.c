/* recorder.c: the recording writer thread. Media threads put received samples into a
   single-producer single-consumer ring per recording and never block; this thread opens the
   WAV file (libsndfile), writes, trims leading and trailing silence, closes, and reports. */
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "internal.h"

enum {
	RING = 16384, /* samples: 2 s of slack for a slow disk */
	CHUNK = 160,  /* the writer judges silence 20 ms at a time */
	POLL_MS = 10,
};

struct rec {
	struct rec *next;
	struct voice_engine *e;
	uint64_t call;
	char path[512];
	bool trim;
	double silence_dbm0;
	int16_t ring[RING];
	atomic_size_t head, tail; /* head: producer (media thread), tail: consumer (writer) */
	atomic_bool ended, failed;
	atomic_int reason;
	atomic_uint_fast64_t dropped;
	/* writer only */
	SNDFILE *f;
	bool opened, voiced; /* voiced: a frame above the threshold was written */
	int16_t *held;	     /* trailing silence not yet written (trim) */
	size_t nheld, capheld;
	int16_t part[CHUNK]; /* a partial 20 ms chunk */
	size_t npart;
	uint64_t written; /* samples in the file */
};

struct rec_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rec *list;
	bool quit;
};

double rec_dbm0(const int16_t *pcm, size_t n)
{
	if (n == 0)
		return -100;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)pcm[i] * pcm[i];
	if (sum == 0)
		return -100;
	/* dBov of the mean square against full scale, plus 6.15: a full-scale sine is +3.14 dBm0 */
	return 10 * log10(sum / (double)n / (32768.0 * 32768.0)) + 6.15;
}

struct rec *rec_new(struct voice_engine *e, uint64_t call, const char *path, bool trim,
		    int silence_dbm0)
{
	struct rec_worker *w = e->recw;
	if (!w || !path || strlen(path) >= sizeof(((struct rec *)0)->path))
		return NULL;
	struct rec *r = mem_zalloc(sizeof(*r));
	r->e = e;
	r->call = call;
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->trim = trim;
	r->silence_dbm0 = silence_dbm0 ? silence_dbm0 : -40;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	pthread_mutex_lock(&w->lock);
	r->next = w->list;
	w->list = r;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return r;
}

void rec_push(struct rec *r, const int16_t *pcm, size_t n)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (RING - (head - tail) < n) {
		atomic_fetch_add_explicit(&r->dropped, n, memory_order_relaxed);
		return;
	}
	for (size_t i = 0; i < n; i++)
		r->ring[(head + i) % RING] = pcm[i];
	atomic_store_explicit(&r->head, head + n, memory_order_release);
}

bool rec_failed(const struct rec *r)
{
	return atomic_load_explicit(&r->failed, memory_order_relaxed);
}

void rec_end(struct rec *r, int reason)
{
	atomic_store(&r->reason, reason);
	atomic_store_explicit(&r->ended, true, memory_order_release);
}

/* ---- writer ---- */

static void put(struct rec *r, const int16_t *pcm, size_t n)
{
	if (!r->f || n == 0)
		return;
	if (sf_write_short(r->f, pcm, (sf_count_t)n) != (sf_count_t)n)
		atomic_store(&r->failed, true);
	r->written += n;
}

static void hold(struct rec *r, const int16_t *pcm, size_t n)
{
	if (r->nheld + n > r->capheld) {
		size_t cap = r->capheld ? r->capheld * 2 : 8000;
		while (cap < r->nheld + n)
			cap *= 2;
		r->held = mem_realloc(r->held, cap * sizeof(*r->held));
		r->capheld = cap;
	}
	memcpy(r->held + r->nheld, pcm, n * sizeof(*pcm));
	r->nheld += n;
}

/* One 20 ms chunk: silence before the first voiced chunk is dropped, silence after it waits
   in held until voice follows (then it is written) or the recording ends (then it is not). */
static void chunk(struct rec *r, const int16_t *pcm, size_t n)
{
	if (!r->trim) {
		put(r, pcm, n);
		return;
	}
	bool voiced = rec_dbm0(pcm, n) >= r->silence_dbm0;
	if (!voiced) {
		if (r->voiced)
			hold(r, pcm, n);
		return;
	}
	r->voiced = true;
	put(r, r->held, r->nheld);
	r->nheld = 0;
	put(r, pcm, n);
}

static void drain(struct rec *r)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	while (tail != head) {
		r->part[r->npart++] = r->ring[tail % RING];
		tail++;
		if (r->npart == CHUNK) {
			chunk(r, r->part, CHUNK);
			r->npart = 0;
		}
	}
	atomic_store_explicit(&r->tail, tail, memory_order_release);
}

static void open_file(struct rec *r)
{
	r->opened = true;
	SF_INFO info;
	memset(&info, 0, sizeof(info));
	info.samplerate = 8000;
	info.channels = 1;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	r->f = sf_open(r->path, SFM_WRITE, &info);
	if (!r->f)
		atomic_store(&r->failed, true);
}

static void finish(struct rec *r)
{
	drain(r);
	if (r->npart)
		chunk(r, r->part, r->npart);
	/* trailing silence still held is dropped */
	if (r->f && sf_close(r->f) != 0)
		atomic_store(&r->failed, true);
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = VOICE_EV_RECORD_DONE;
	ev.call = r->call;
	ev.code = rec_failed(r) ? VOICE_RECORD_ERROR : atomic_load(&r->reason);
	ev.duration_ms = (unsigned)(r->written / 8);
	engine_emit(r->e, &ev);
	mem_free(r->held);
	mem_free(r);
}

/* One pass: open new files, drain every ring, finish the ended recordings. */
static void pass(struct rec_worker *w, bool all)
{
	pthread_mutex_lock(&w->lock);
	struct rec **pp = &w->list;
	while (*pp) {
		struct rec *r = *pp;
		bool ended = atomic_load_explicit(&r->ended, memory_order_acquire);
		pthread_mutex_unlock(&w->lock);
		if (!r->opened)
			open_file(r);
		drain(r);
		pthread_mutex_lock(&w->lock);
		pp = &w->list; /* rec_new may have put a recording in front meanwhile */
		while (*pp != r)
			pp = &(*pp)->next;
		if (ended || all) {
			*pp = r->next;
			if (!ended)
				atomic_store(&r->reason, VOICE_RECORD_HANGUP);
			pthread_mutex_unlock(&w->lock);
			finish(r);
			pthread_mutex_lock(&w->lock);
		} else {
			pp = &r->next;
		}
	}
	pthread_mutex_unlock(&w->lock);
}

static void *rec_main(void *arg)
{
	struct rec_worker *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		bool quit = w->quit, idle = !w->list;
		if (idle && !quit)
			pthread_cond_wait(&w->cond, &w->lock);
		pthread_mutex_unlock(&w->lock);
		if (quit)
			break;
		pass(w, false);
		struct timespec ts = {0, POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	pass(w, true);
	return NULL;
}

int rec_worker_start(struct voice_engine *e)
{
	struct rec_worker *w = mem_zalloc(sizeof(*w));
	engine_mutex_init_pi(&w->lock);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, rec_main, w) != 0) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		mem_free(w);
		return -EAGAIN;
	}
	e->recw = w;
	return 0;
}

/* After the media threads are joined: every recording is ended or abandoned. */
void rec_worker_stop(struct voice_engine *e)
{
	struct rec_worker *w = e->recw;
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	mem_free(w);
	e->recw = NULL;
}
