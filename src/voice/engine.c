/* engine.c: the engine's public face: settings, thread start and stop, the owner's event
   queue, and commands turned into messages for the signalling stack that owns the call. */
#include <errno.h>
#include <poll.h>
#include <re.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"

enum { EV_QUEUE_MAX = 65536 };

void voice_config_default(struct voice_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sip_addr = "127.0.0.1";
	cfg->sip_port = 5060;
	cfg->udp = true;
	cfg->tcp = true;
	cfg->media_addr = "127.0.0.1";
	cfg->rtp_port_min = 20000;
	cfg->rtp_port_max = 29999;
	cfg->max_calls = 1000;
	cfg->sip_max_msg = 16384;
	cfg->dial_timeout_ms = 60000;
	cfg->user_agent = "irisx";
	sigx_config_default(cfg);
	cfg->media_rt_priority = 10;
}

static pthread_once_t libre_once = PTHREAD_ONCE_INIT;
static int libre_err;

static void libre_setup(void)
{
	libre_err = libre_init();
}

/* Trap 2: every call holds 2 RTP sockets, so lift the soft descriptor limit to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int engine_fd_table_size(void)
{
	long n = sysconf(_SC_OPEN_MAX);
	return n < 1024 ? 1024 : n > 65536 ? 65536 : (int)n;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	if (!src || !*src || strlen(src) >= cap)
		return -EINVAL;
	snprintf(dst, cap, "%s", src);
	return 0;
}

static int check_config(struct voice_engine *e, const struct voice_config *cfg)
{
	e->cfg = *cfg;
	if (copy_str(e->sip_addr, sizeof(e->sip_addr), cfg->sip_addr) < 0 ||
	    copy_str(e->media_addr, sizeof(e->media_addr), cfg->media_addr) < 0 ||
	    copy_str(e->user_agent, sizeof(e->user_agent), cfg->user_agent) < 0)
		return -EINVAL;
	struct sa sa;
	if (sa_set_str(&sa, e->sip_addr, 0) != 0 || sa_set_str(&sa, e->media_addr, 0) != 0)
		return -EINVAL;
	e->cfg.sip_addr = e->sip_addr;
	e->cfg.media_addr = e->media_addr;
	e->cfg.user_agent = e->user_agent;
	if (cfg->tls_cert) {
		if (copy_str(e->tls_cert, sizeof(e->tls_cert), cfg->tls_cert) < 0)
			return -EINVAL;
		e->cfg.tls_cert = e->tls_cert;
	}
	if (cfg->tls_ca) {
		if (copy_str(e->tls_ca, sizeof(e->tls_ca), cfg->tls_ca) < 0)
			return -EINVAL;
		e->cfg.tls_ca = e->tls_ca;
	}
	if (!cfg->udp && !cfg->tcp)
		return -EINVAL;
	if (cfg->max_calls == 0 || cfg->sip_max_msg < 1024 || cfg->rtp_port_max < cfg->rtp_port_min)
		return -EINVAL;
	/* the port range must hold a pair per call (issue 5: checked at startup) */
	unsigned first = (cfg->rtp_port_min + 1u) & ~1u;
	unsigned pairs = cfg->rtp_port_max >= first ? (cfg->rtp_port_max - first + 1u) / 2 : 0;
	if (pairs < cfg->max_calls)
		return -EINVAL;
	if (e->cfg.dial_timeout_ms == 0)
		e->cfg.dial_timeout_ms = 60000;
	if (e->cfg.media_threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		e->cfg.media_threads = n > 1 ? (unsigned)(n - 1) : 1;
	}
	if (e->cfg.media_threads > 64 || cfg->media_rt_priority < 0 || cfg->media_rt_priority > 99)
		return -EINVAL;
	if (e->cfg.sig_threads == 0)
		e->cfg.sig_threads = 1;
	if (e->cfg.sig_threads > SIG_MAX ||
	    (cfg->sip_port && cfg->sip_port + e->cfg.sig_threads - 1u > 65535u))
		return -EINVAL;
	return 0;
}

static void sem_wait_all(sem_t *s)
{
	while (sem_wait(s) != 0 && errno == EINTR)
		;
}

static int start_media(struct voice_engine *e)
{
	e->nmedia = e->cfg.media_threads;
	e->media = vx_zalloc(e->nmedia * sizeof(*e->media));
	for (unsigned i = 0; i < e->nmedia; i++) {
		struct media_thread *t = &e->media[i];
		t->e = e;
		t->idx = i;
		sem_init(&t->ready, 0, 0);
		if (pthread_create(&t->thread, NULL, media_main, t) != 0)
			return -EAGAIN;
		t->started = true;
		sem_wait_all(&t->ready);
		if (t->err)
			return t->err;
	}
	return 0;
}

/* The stacks start one after the other: each binds its ports (stack 0 also TLS) before the
   next, so a bind error stops the start. */
static int start_sig(struct voice_engine *e)
{
	e->nsig = e->cfg.sig_threads;
	e->sig = vx_zalloc(e->nsig * sizeof(*e->sig));
	for (unsigned i = 0; i < e->nsig; i++) {
		struct sig_thread *t = &e->sig[i];
		t->e = e;
		t->idx = i;
		sem_init(&t->ready, 0, 0);
		if (pthread_create(&t->thread, NULL, sig_main, t) != 0)
			return -EAGAIN;
		t->started = true;
		sem_wait_all(&t->ready);
		if (t->err)
			return t->err;
	}
	return 0;
}

/* SIG_QUIT to every stack first, so their grace periods for the last BYEs overlap. */
static void stop_sig(struct voice_engine *e)
{
	for (unsigned i = 0; e->sig && i < e->nsig; i++)
		if (e->sig[i].started && e->sig[i].mq)
			mqueue_push(e->sig[i].mq, SIG_QUIT, NULL);
	for (unsigned i = 0; e->sig && i < e->nsig; i++) {
		struct sig_thread *t = &e->sig[i];
		if (!t->started)
			continue;
		pthread_join(t->thread, NULL);
		sem_destroy(&t->ready);
	}
}

int voice_engine_start(const struct voice_config *cfg, struct voice_engine **ret)
{
	pthread_once(&libre_once, libre_setup);
	if (libre_err)
		return -libre_err;
	raise_fd_limit();
	struct voice_engine *e = vx_zalloc(sizeof(*e));
	int r = check_config(e, cfg);
	if (r < 0) {
		vx_free(e);
		return r;
	}
	engine_mutex_init_pi(&e->ev_lock);
	pthread_cond_init(&e->ev_cond, NULL);
	e->ev_cap = 256;
	e->ev_ring = vx_zalloc(e->ev_cap * sizeof(*e->ev_ring));
	e->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	atomic_init(&e->next_call, 1);
	route_init(e);
	if (e->ev_fd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = sigx_shared_alloc(e, &e->sxs)) < 0)
		goto fail;
	r = start_media(e);
	if (r < 0 || (r = rec_worker_start(e)) < 0 || (r = tts_worker_start(e)) < 0 ||
	    (r = start_sig(e)) < 0)
		goto fail;
	*ret = e;
	return 0;
fail:
	voice_engine_stop(e);
	return r;
}

void voice_engine_stop(struct voice_engine *e)
{
	if (!e)
		return;
	tts_worker_stop(e);
	stop_sig(e);
	for (unsigned i = 0; e->media && i < e->nmedia; i++) {
		struct media_thread *t = &e->media[i];
		if (!t->started)
			continue;
		if (t->mq)
			mqueue_push(t->mq, MEDIA_QUIT, NULL);
		pthread_join(t->thread, NULL);
		sem_destroy(&t->ready);
	}
	rec_worker_stop(e); /* after the media threads: they end the recordings */
	vx_free(e->media);
	vx_free(e->sig);
	sigx_shared_free(e->sxs);
	route_free(e);
	if (e->ev_fd >= 0)
		close(e->ev_fd);
	pthread_mutex_destroy(&e->ev_lock);
	pthread_cond_destroy(&e->ev_cond);
	vx_free(e->ev_ring);
	vx_free(e);
}

uint16_t voice_engine_sip_port(const struct voice_engine *e)
{
	return voice_engine_sip_port_n(e, 0);
}

uint16_t voice_engine_sip_port_n(const struct voice_engine *e, unsigned i)
{
	return i < e->nsig ? e->sig[i].sip_port : 0;
}

unsigned voice_engine_sig_threads(const struct voice_engine *e)
{
	return e->nsig;
}

unsigned voice_call_stack(uint64_t call)
{
	return (unsigned)(call >> SIG_ID_SHIFT);
}

uint64_t engine_new_id(struct voice_engine *e, unsigned idx)
{
	uint64_t n = atomic_fetch_add(&e->next_call, 1) & ((1ULL << SIG_ID_SHIFT) - 1);
	return (uint64_t)idx << SIG_ID_SHIFT | n;
}

bool engine_call_reserve(struct voice_engine *e)
{
	if (atomic_fetch_add(&e->calls, 1) < e->cfg.max_calls)
		return true;
	atomic_fetch_sub(&e->calls, 1);
	return false;
}

int engine_sig_push(struct voice_engine *e, uint64_t call, int type, void *cmd)
{
	unsigned idx = voice_call_stack(call);
	if (idx >= e->nsig || !e->sig[idx].mq)
		return -ENOENT;
	int r = mqueue_push(e->sig[idx].mq, type, cmd);
	return r ? -r : 0;
}

uint16_t voice_engine_tls_port(const struct voice_engine *e)
{
	return e->tls_port;
}

/* ---- events: a growable ring under a mutex, signalled by an eventfd and a condvar ---- */

void engine_emit(struct voice_engine *e, const struct voice_event *ev0)
{
	struct voice_event hup;
	const struct voice_event *ev = ev0;
	if (ev0->type == VOICE_EV_HANGUP) { /* the media quality goes with it */
		hup = *ev0;
		(void)route_quality(e, hup.call, &hup.quality);
		ev = &hup;
	}
	pthread_mutex_lock(&e->ev_lock);
	if (e->ev_len == e->ev_cap && e->ev_cap < EV_QUEUE_MAX) {
		struct voice_event *n = vx_zalloc(2 * e->ev_cap * sizeof(*n));
		for (size_t i = 0; i < e->ev_len; i++)
			n[i] = e->ev_ring[(e->ev_head + i) % e->ev_cap];
		vx_free(e->ev_ring);
		e->ev_ring = n;
		e->ev_head = 0;
		e->ev_cap *= 2;
	}
	if (e->ev_len == e->ev_cap) {
		atomic_fetch_add(&e->events_dropped, 1);
	} else {
		e->ev_ring[(e->ev_head + e->ev_len) % e->ev_cap] = *ev;
		e->ev_len++;
		uint64_t one = 1;
		if (write(e->ev_fd, &one, sizeof(one)) < 0) {
			/* the counter only saturates after 2^64 - 2 events; nothing to do */
		}
		pthread_cond_signal(&e->ev_cond);
	}
	pthread_mutex_unlock(&e->ev_lock);
}

int voice_engine_event_fd(const struct voice_engine *e)
{
	return e->ev_fd;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int voice_engine_next_event(struct voice_engine *e, struct voice_event *ret, int timeout_ms)
{
	struct timespec until = {0, 0};
	if (timeout_ms >= 0)
		deadline_after(&until, timeout_ms);
	pthread_mutex_lock(&e->ev_lock);
	while (e->ev_len == 0) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&e->ev_cond, &e->ev_lock);
			continue;
		}
		/* the condvar waits on CLOCK_REALTIME by default; poll the eventfd instead */
		pthread_mutex_unlock(&e->ev_lock);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left =
		    (until.tv_sec - now.tv_sec) * 1000L + (until.tv_nsec - now.tv_nsec) / 1000000L;
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = e->ev_fd, .events = POLLIN};
		(void)poll(&p, 1, (int)left);
		pthread_mutex_lock(&e->ev_lock);
	}
	*ret = e->ev_ring[e->ev_head];
	e->ev_head = (e->ev_head + 1) % e->ev_cap;
	e->ev_len--;
	if (e->ev_len == 0) {
		uint64_t v;
		if (read(e->ev_fd, &v, sizeof(v)) < 0) {
			/* already drained */
		}
	}
	pthread_mutex_unlock(&e->ev_lock);
	return 1;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

void voice_engine_stats(struct voice_engine *e, struct voice_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->calls = atomic_load(&e->calls);
	ret->sip_too_big = atomic_load(&e->sip_too_big);
	ret->events_dropped = atomic_load(&e->events_dropped);
	for (unsigned i = 0; i < e->nmedia; i++) {
		struct media_thread *t = &e->media[i];
		ret->media_calls += atomic_load(&t->calls);
		ret->ticks += atomic_load(&t->ticks);
		ret->tick_late_max_us =
		    max_u64(ret->tick_late_max_us, atomic_load(&t->late_max_us));
		ret->ticks_skipped += atomic_load(&t->skipped);
		ret->rtp_rx += atomic_load(&t->rx);
		ret->rtp_tx += atomic_load(&t->tx);
		ret->rtp_rejected += atomic_load(&t->rejected);
		ret->ticks_late_5ms += atomic_load(&t->late_5ms);
		ret->tick_work_max_us =
		    max_u64(ret->tick_work_max_us, atomic_load(&t->work_max_us));
	}
	sigx_stats(e, ret);
}

/* ---- commands ---- */

int engine_media_push(struct voice_engine *e, unsigned idx, int type, struct media_cmd *cmd)
{
	return route_media_push(e, idx, type, cmd);
}

/* To the stack that owns c->call (its id says which). */
static int push(struct voice_engine *e, enum sig_cmd_type type, struct sig_cmd *c)
{
	int r = engine_sig_push(e, c->call, (int)type, c);
	if (r < 0) {
		voice_audio_unref(c->audio);
		vx_free(c);
	}
	return r;
}

/* The stack a new dial goes to: the one holding a device's binding (its NAT pinhole or TCP
   connection), else the one with the fewest calls, ties broken round robin. */
static unsigned dial_stack(struct voice_engine *e, const char *uri)
{
	unsigned idx;
	if (e->nsig == 1 || strcasestr(uri, ";transport=tls"))
		return 0; /* the TLS transport is stack 0's */
	if (registrar_stack(e, uri, &idx) == 0 && idx < e->nsig)
		return idx;
	unsigned start = (unsigned)(atomic_fetch_add(&e->next_dial, 1) % e->nsig), best = start;
	for (unsigned i = 1; i < e->nsig; i++) {
		unsigned j = (start + i) % e->nsig;
		if (atomic_load(&e->sig[j].calls) < atomic_load(&e->sig[best].calls))
			best = j;
	}
	return best;
}

static struct sig_cmd *cmd_new(uint64_t call)
{
	struct sig_cmd *c = vx_zalloc(sizeof(*c));
	c->call = call;
	return c;
}

int voice_call_answer(struct voice_engine *e, uint64_t call)
{
	return push(e, SIG_ANSWER, cmd_new(call));
}

int voice_call_reject(struct voice_engine *e, uint64_t call, uint16_t code)
{
	if (code < 300 || code > 699)
		return -EINVAL;
	struct sig_cmd *c = cmd_new(call);
	c->code = code;
	return push(e, SIG_REJECT, c);
}

int voice_call_hangup(struct voice_engine *e, uint64_t call)
{
	return push(e, SIG_HANGUP, cmd_new(call));
}

int voice_call_dial(struct voice_engine *e, const struct voice_dial *d, uint64_t *ret_call)
{
	if (!d || !d->uri ||
	    (strncmp(d->uri, "sip:", 4) != 0 && strncmp(d->uri, "device:", 7) != 0))
		return -EINVAL;
	struct sig_cmd *c = cmd_new(engine_new_id(e, dial_stack(e, d->uri)));
	if (strlen(d->uri) >= sizeof(c->uri) ||
	    (d->from_uri && strlen(d->from_uri) >= sizeof(c->from)) ||
	    (d->auth_user && strlen(d->auth_user) >= sizeof(c->auth_user)) ||
	    (d->auth_pass && strlen(d->auth_pass) >= sizeof(c->auth_pass))) {
		vx_free(c);
		return -EINVAL;
	}
	snprintf(c->uri, sizeof(c->uri), "%s", d->uri);
	if (d->from_uri)
		snprintf(c->from, sizeof(c->from), "%s", d->from_uri);
	else
		snprintf(c->from, sizeof(c->from), "sip:irisx@%s", e->sip_addr);
	c->timeout_ms = d->timeout_ms ? d->timeout_ms : e->cfg.dial_timeout_ms;
	if (d->auth_user)
		snprintf(c->auth_user, sizeof(c->auth_user), "%s", d->auth_user);
	if (d->auth_pass)
		snprintf(c->auth_pass, sizeof(c->auth_pass), "%s", d->auth_pass);
	uint64_t id = c->call;
	/* counted now, so the next dial sees this one (the stack takes it over, cmd_dial) */
	atomic_fetch_add(&e->sig[voice_call_stack(id)].calls, 1);
	int r = push(e, SIG_DIAL, c);
	if (r == 0)
		*ret_call = id;
	else
		atomic_fetch_sub(&e->sig[voice_call_stack(id)].calls, 1);
	return r;
}

int voice_call_play(struct voice_engine *e, uint64_t call, struct voice_audio *a, unsigned loops)
{
	if (!a)
		return -EINVAL;
	struct sig_cmd *c = cmd_new(call);
	c->audio = voice_audio_ref(a);
	c->loops = loops;
	return push(e, SIG_PLAY, c);
}

int voice_call_stop_play(struct voice_engine *e, uint64_t call)
{
	return push(e, SIG_STOP_PLAY, cmd_new(call));
}

int voice_call_send_dtmf(struct voice_engine *e, uint64_t call, const char *digits)
{
	if (!digits || !*digits)
		return -EINVAL;
	struct sig_cmd *c = cmd_new(call);
	if (strlen(digits) >= sizeof(c->digits)) {
		vx_free(c);
		return -EINVAL;
	}
	for (const char *p = digits; *p; p++) {
		if (voice_dtmf_event(*p) < 0) {
			vx_free(c);
			return -EINVAL;
		}
	}
	snprintf(c->digits, sizeof(c->digits), "%s", digits);
	return push(e, SIG_DTMF, c);
}
