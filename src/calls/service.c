/* service.c: the call service's threads. The control thread owns the calls and is the only
   one that commands the engine; it waits on the engine's event descriptor, its own task
   pipe and the next timer. Workers run blocking work; the persist thread writes what the
   control thread decided, many changes per transaction. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct ctimer {
	uint64_t due_us, lid;
	unsigned gen;
	int what;
};

struct work {
	work_fn *fn;
	void *arg;
	struct work *next;
};

struct pjob {
	store_tx_fn *fn;
	void *arg;
	void (*free_fn)(void *);
	struct pjob *next;
};

void calls_log(enum log_level lvl, const char *msg, ...)
{
	json_t *f = json_pack("{s:s}", "component", "calls");
	va_list ap;
	va_start(ap, msg);
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		json_object_set_new(f, k, json_string(v ? v : ""));
	}
	va_end(ap);
	log_event(lvl, msg, f);
}

char *xstrdup(const char *s)
{
	return s ? mem_strdup(s) : NULL;
}

/* ---- the call table ---- */

#define HSLOT(x) ((size_t)((x)*0x9E3779B97F4A7C15ull >> 52) & 4095)

struct ccall *ccall_new(struct calls *c)
{
	struct ccall *k = mem_zalloc(sizeof(*k));
	k->lid = ++c->next_lid;
	k->created_us = time_now_us();
	k->rate_micros = -1;
	k->attempts = json_array();
	k->recordings = json_array();
	size_t h = HSLOT(k->lid);
	k->next_lid = c->by_lid[h];
	c->by_lid[h] = k;
	c->ncalls++;
	return k;
}

struct ccall *ccall_by_lid(struct calls *c, uint64_t lid)
{
	if (!lid)
		return NULL;
	for (struct ccall *k = c->by_lid[HSLOT(lid)]; k; k = k->next_lid)
		if (k->lid == lid)
			return k;
	return NULL;
}

struct ccall *ccall_by_eid(struct calls *c, uint64_t eid)
{
	if (!eid)
		return NULL;
	for (struct ccall *k = c->by_eid[HSLOT(eid)]; k; k = k->next_eid)
		if (k->eid == eid)
			return k;
	return NULL;
}

struct ccall *ccall_by_id(struct calls *c, const char *id)
{
	for (size_t i = 0; i < 4096; i++)
		for (struct ccall *k = c->by_lid[i]; k; k = k->next_lid)
			if (!strcmp(k->id, id))
				return k;
	return NULL;
}

static void unlink_eid(struct calls *c, struct ccall *k)
{
	if (!k->eid)
		return;
	for (struct ccall **p = &c->by_eid[HSLOT(k->eid)]; *p; p = &(*p)->next_eid)
		if (*p == k) {
			*p = k->next_eid;
			break;
		}
	k->eid = 0;
}

void ccall_set_eid(struct calls *c, struct ccall *k, uint64_t eid)
{
	unlink_eid(c, k);
	if (!eid)
		return;
	k->eid = eid;
	size_t h = HSLOT(eid);
	k->next_eid = c->by_eid[h];
	c->by_eid[h] = k;
}

void ccall_free(struct calls *c, struct ccall *k)
{
	unlink_eid(c, k);
	for (struct ccall **p = &c->by_lid[HSLOT(k->lid)]; *p; p = &(*p)->next_lid)
		if (*p == k) {
			*p = k->next_lid;
			break;
		}
	c->ncalls--;
	cdoc_free(k->doc);
	json_decref(k->routes);
	json_decref(k->attempts);
	json_decref(k->recordings);
	mem_free(k->auth_token);
	mem_free(k->status_callback);
	mem_free(k->status_callback_method);
	mem_free(k->fallback_url);
	mem_free(k->fallback_method);
	mem_free(k->doc_url);
	mem_free(k->rec_cb);
	mem_free(k->rec_cb_method);
	mem_free(k->sip_user);
	mem_free(k->sip_pass);
	if (k->job)
		bus_release(k->job);
	mem_free(k);
}

/* ---- timers: a binary heap by due time; a fired timer of a changed call is ignored ---- */

void calls_timer(struct calls *c, struct ccall *k, uint64_t due_us, int what)
{
	if (c->ntimers == c->captimers) {
		c->captimers = c->captimers ? c->captimers * 2 : 256;
		c->timers = mem_realloc(c->timers, c->captimers * sizeof(*c->timers));
	}
	size_t i = c->ntimers++;
	struct ctimer t = {due_us, k->lid, k->gen, what};
	while (i && c->timers[(i - 1) / 2].due_us > due_us) {
		c->timers[i] = c->timers[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	c->timers[i] = t;
}

static void timer_pop(struct calls *c)
{
	struct ctimer last = c->timers[--c->ntimers];
	size_t i = 0, n = c->ntimers;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && c->timers[l].due_us < last.due_us)
			m = l;
		if (l + 1 < n &&
		    c->timers[l + 1].due_us < (m == i ? last.due_us : c->timers[m].due_us))
			m = l + 1;
		if (m == i)
			break;
		c->timers[i] = c->timers[m];
		i = m;
	}
	if (n)
		c->timers[i] = last;
}

static void run_timers(struct calls *c, uint64_t now)
{
	while (c->ntimers && c->timers[0].due_us <= now) {
		struct ctimer t = c->timers[0];
		timer_pop(c);
		struct ccall *k = ccall_by_lid(c, t.lid);
		if (!k || k->ended)
			continue;
		if (t.what == TM_LIMIT || t.what == TM_DIAL_CPS)
			legs_on_timer(c, k, t.what);
		else if (t.gen == k->gen)
			interp_on_timer(c, k, t.what);
	}
}

/* ---- tasks to the control thread ---- */

void calls_post(struct calls *c, struct task *t)
{
	t->next = NULL;
	pthread_mutex_lock(&c->tlock);
	bool was_empty = !c->thead;
	*c->ttail = t;
	c->ttail = &t->next;
	pthread_mutex_unlock(&c->tlock);
	if (was_empty) {
		char b = 1;
		ssize_t w = write(c->wake[1], &b, 1);
		(void)w;
	}
}

static void task_free(struct task *t)
{
	cdoc_free(t->doc);
	mem_free(t->error);
	mem_free(t->url);
	json_decref(t->row);
	voice_audio_unref(t->audio);
	mem_free(t);
}

static void run_task(struct calls *c, struct task *t)
{
	struct ccall *k = ccall_by_lid(c, t->lid);
	switch (t->kind) {
	case T_INBOUND:
		if (k)
			interp_on_inbound(c, t);
		break;
	case T_DOC:
		if (k && !k->ended && t->gen == k->gen) {
			if (t->doc) {
				struct cdoc *d = t->doc;
				t->doc = NULL;
				interp_run(c, k, d, t->url);
			} else {
				interp_doc_failed(c, k, t->url,
						  t->error ? t->error : "fetch failed");
			}
		}
		break;
	case T_AUDIO:
		if (k && !k->ended && t->gen == k->gen)
			interp_on_audio(c, k, t->audio, t->error);
		break;
	case T_DIAL:
		legs_on_dial_task(c, t);
		break;
	case T_ROUTES:
		legs_on_routes(c, t);
		break;
	case T_CONTROL:
		legs_on_control(c, t);
		break;
	case T_REFUSED:
		break;
	}
	if (t->msg) /* not taken by the handler: settle it so nothing is left leased */
		bus_ack(t->msg);
	task_free(t);
}

/* ---- worker pool ---- */

void calls_work(struct calls *c, work_fn *fn, void *arg)
{
	struct work *w = mem_zalloc(sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&c->wlock);
	*c->wtail = w;
	c->wtail = &w->next;
	pthread_cond_signal(&c->wcond);
	pthread_mutex_unlock(&c->wlock);
}

static void *worker_main(void *arg)
{
	struct calls *c = arg;
	for (;;) {
		pthread_mutex_lock(&c->wlock);
		while (!c->whead && !c->wstop)
			pthread_cond_wait(&c->wcond, &c->wlock);
		struct work *w = c->whead;
		if (!w) {
			pthread_mutex_unlock(&c->wlock);
			return NULL;
		}
		c->whead = w->next;
		if (!c->whead)
			c->wtail = &c->whead;
		pthread_mutex_unlock(&c->wlock);
		w->fn(c, w->arg);
		mem_free(w);
	}
}

/* ---- persist thread: FIFO, batches of up to 256 writes in one transaction ---- */

void calls_persist(struct calls *c, store_tx_fn *fn, void *arg, void (*free_fn)(void *))
{
	struct pjob *p = mem_zalloc(sizeof(*p));
	p->fn = fn;
	p->arg = arg;
	p->free_fn = free_fn ? free_fn : free;
	pthread_mutex_lock(&c->plock);
	*c->ptail = p;
	c->ptail = &p->next;
	c->pqueued++;
	pthread_cond_signal(&c->pcond);
	pthread_mutex_unlock(&c->plock);
}

struct pbatch {
	struct pjob *first;
	size_t n;
};

static int batch_fn(struct store_tx *tx, void *arg)
{
	struct pbatch *b = arg;
	size_t i = 0;
	for (struct pjob *p = b->first; p && i < b->n; p = p->next, i++) {
		int r = p->fn(tx, p->arg);
		if (r == -EIO)
			return r;
	}
	return 0;
}

static int one_fn(struct store_tx *tx, void *arg)
{
	struct pjob *p = arg;
	return p->fn(tx, p->arg);
}

static void *persist_main(void *arg)
{
	struct calls *c = arg;
	for (;;) {
		pthread_mutex_lock(&c->plock);
		while (!c->phead && !c->pstop)
			pthread_cond_wait(&c->pcond, &c->plock);
		if (!c->phead) {
			pthread_mutex_unlock(&c->plock);
			return NULL;
		}
		struct pjob *first = c->phead, *last = first;
		size_t n = 1;
		while (last->next && n < 256) {
			last = last->next;
			n++;
		}
		c->phead = last->next;
		if (!c->phead)
			c->ptail = &c->phead;
		c->pqueued -= n;
		last->next = NULL;
		pthread_mutex_unlock(&c->plock);
		struct pbatch b = {first, n};
		int r = store_tx(c->st, NULL, STORE_WRITE, batch_fn, &b);
		if (r < 0 && n > 1) /* one bad write must not lose the others */
			for (struct pjob *p = first; p; p = p->next)
				if ((r = store_tx(c->st, NULL, STORE_WRITE, one_fn, p)) < 0)
					calls_log(LOG_ERROR, "call record write failed", "error",
						  strerror(-r), NULL);
		bus_kick(c->bus);
		while (first) {
			struct pjob *nx = first->next;
			first->free_fn(first->arg);
			mem_free(first);
			first = nx;
		}
	}
}

/* ---- the control loop ---- */

static void on_event(struct calls *c, const struct voice_event *ev)
{
	if (ev->type == VOICE_EV_TRUNK_UP || ev->type == VOICE_EV_TRUNK_DOWN ||
	    ev->type == VOICE_EV_TRUNK_REG) {
		trunks_on_event(c, ev);
		return;
	}
	if (ev->type == VOICE_EV_DEVICE)
		return;
	struct ccall *k = ccall_by_eid(c, ev->call);
	if (ev->type == VOICE_EV_INCOMING) {
		interp_on_incoming(c, ev);
		return;
	}
	if (!k)
		return;
	if (legs_on_event(c, k, ev))
		return;
	interp_on_event(c, k, ev);
}

static void *ctl_main(void *arg)
{
	struct calls *c = arg;
	int efd = voice_engine_event_fd(c->engine);
	while (!c->stopping) {
		uint64_t now = time_now_us();
		run_timers(c, now);
		if (now >= c->trunks_at_us) {
			c->trunks_at_us = now + 15000000;
			calls_work(c, trunks_work, NULL);
		}
		if (now >= c->beat_at_us) {
			c->beat_at_us = now + 5000000;
			rec_heartbeat(c);
		}
		int timeout = 1000;
		if (c->ntimers) {
			uint64_t due = c->timers[0].due_us;
			timeout = due <= now ? 0 : (int)((due - now) / 1000 + 1);
			if (timeout > 1000)
				timeout = 1000;
		}
		struct pollfd p[2] = {{.fd = efd, .events = POLLIN},
				      {.fd = c->wake[0], .events = POLLIN}};
		poll(p, 2, timeout);
		if (p[1].revents & POLLIN) {
			char b[256];
			while (read(c->wake[0], b, sizeof(b)) > 0)
				;
		}
		pthread_mutex_lock(&c->tlock);
		struct task *t = c->thead;
		c->thead = NULL;
		c->ttail = &c->thead;
		pthread_mutex_unlock(&c->tlock);
		while (t) {
			struct task *nx = t->next;
			if (t->kind == T_REFUSED && json_object_get(t->row, "trunks")) {
				trunks_sync(c, json_object_get(t->row, "trunks"));
				task_free(t);
			} else {
				run_task(c, t);
			}
			t = nx;
		}
		struct voice_event ev;
		for (int i = 0; i < 512 && voice_engine_next_event(c->engine, &ev, 0) == 1; i++)
			on_event(c, &ev);
	}
	return NULL;
}

/* ---- start and stop ---- */

static int mkdirs(const char *path)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(tmp, 0700);
			*p = '/';
		}
	return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

int calls_start(const struct config *cfg, struct store *st, struct bus *bus, struct calls **ret)
{
	struct calls *c = mem_zalloc(sizeof(*c));
	c->cfg = cfg;
	c->st = st;
	c->bus = bus;
	id_new("RN", c->run);
	c->ttail = &c->thead;
	c->wtail = &c->whead;
	c->ptail = &c->phead;
	pthread_mutex_init(&c->tlock, NULL);
	pthread_mutex_init(&c->wlock, NULL);
	pthread_cond_init(&c->wcond, NULL);
	pthread_mutex_init(&c->plock, NULL);
	pthread_cond_init(&c->pcond, NULL);
	pthread_mutex_init(&c->alock, NULL);
	c->trunks = json_object();
	c->trunk_ids = json_object();
	c->channels = json_object();
	c->held_off = json_object();
	c->pacer = policy_pacer_new();
	snprintf(c->rec_dir, sizeof(c->rec_dir), "%s/recordings", cfg->data_dir);
	int r = mkdirs(c->rec_dir);
	if (r < 0 || pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		r = r < 0 ? r : -errno;
		goto fail_early;
	}
	struct voice_config vc;
	voice_config_default(&vc);
	vc.sip_addr = cfg->voice_sip_addr;
	vc.sip_port = (uint16_t)cfg->voice_sip_port;
	vc.sig_threads = (unsigned)cfg->voice_sig_threads;
	vc.media_addr = cfg->voice_media_addr;
	vc.rtp_port_min = (uint16_t)cfg->voice_rtp_port_min;
	vc.rtp_port_max = (uint16_t)cfg->voice_rtp_port_max;
	vc.max_calls = (unsigned)cfg->voice_max_calls;
	vc.trusted_ips =
	    cfg->voice_trusted_ips && *cfg->voice_trusted_ips ? cfg->voice_trusted_ips : NULL;
	vc.pike_reqs = (unsigned)cfg->voice_pike_reqs;
	vc.pike_window_ms = (unsigned)cfg->voice_pike_window_ms;
	vc.tls_cert = cfg->voice_tls_cert && *cfg->voice_tls_cert ? cfg->voice_tls_cert : NULL;
	vc.tls_port = (uint16_t)cfg->voice_tls_port;
	vc.tls_ca = cfg->voice_tls_ca && *cfg->voice_tls_ca ? cfg->voice_tls_ca : NULL;
	vc.tls_no_verify = !cfg->voice_tls_verify;
	if ((r = voice_engine_start(&vc, &c->engine)) < 0)
		goto fail_early;
	voice_audio_tone(440, 480, -16, 2000, 4000, 6000, &c->hold_music);
	c->nworkers = (size_t)cfg->voice_doc_workers;
	c->workers = mem_zalloc(c->nworkers * sizeof(*c->workers));
	for (size_t i = 0; i < c->nworkers; i++)
		pthread_create(&c->workers[i], NULL, worker_main, c);
	pthread_create(&c->persister, NULL, persist_main, c);
	pthread_create(&c->ctl, NULL, ctl_main, c);
	calls_work(c, rec_recover, NULL);
	struct bus_consumer_opts dial = {.name = "calls",
					 .subject = CALLS_DIAL_SUBJECT,
					 .batch = 64,
					 .max_inflight = 2048,
					 .visibility_us =
					     30000000, /* a crashed run's jobs return soon */
					 .max_attempts = 1000,
					 .backoff_base_us = 1000000,
					 .backoff_max_us = 30000000};
	struct bus_consumer_opts ctl = {.name = "calls",
					.subject = CALLS_CONTROL_SUBJECT,
					.batch = 64,
					.visibility_us = 30000000,
					.max_attempts = 5};
	if ((r = bus_subscribe(bus, &dial, legs_dial_consumer, c, &c->dial_consumer)) < 0 ||
	    (r = bus_subscribe(bus, &ctl, legs_control_consumer, c, &c->control_consumer)) < 0) {
		calls_stop(c);
		return r;
	}
	char port[8], ports[16 * 6 + 1] = "";
	snprintf(port, sizeof(port), "%u", voice_engine_sip_port(c->engine));
	/* every signalling stack's port (voice.sig_threads), comma-separated */
	for (unsigned i = 0, o = 0; i < voice_engine_sig_threads(c->engine) && o < 90; i++)
		o += (unsigned)snprintf(ports + o, sizeof(ports) - o, "%s%u", i ? "," : "",
					voice_engine_sip_port_n(c->engine, i));
	char tls[8];
	snprintf(tls, sizeof(tls), "%u", voice_engine_tls_port(c->engine));
	calls_log(LOG_INFO, "voice engine started", "sip_addr", cfg->voice_sip_addr, "sip_port",
		  port, "sip_ports", ports, "tls_port", tls, "run", c->run, NULL);
	*ret = c;
	return 0;
fail_early:
	policy_pacer_free(c->pacer);
	json_decref(c->trunks);
	json_decref(c->trunk_ids);
	json_decref(c->channels);
	json_decref(c->held_off);
	mem_free(c);
	return r;
}

uint16_t calls_sip_port(const struct calls *c)
{
	return c ? voice_engine_sip_port(c->engine) : 0;
}

void calls_stop(struct calls *c)
{
	if (!c)
		return;
	bus_unsubscribe(c->dial_consumer);
	bus_unsubscribe(c->control_consumer);
	c->stopping = 1;
	char b = 1;
	ssize_t w = write(c->wake[1], &b, 1);
	(void)w;
	pthread_join(c->ctl, NULL);
	/* every live leg is closed: the engine hangs up, the records say so */
	for (size_t i = 0; i < 4096; i++)
		for (struct ccall *k = c->by_lid[i]; k; k = k->next_lid)
			if (!k->ended && k->id[0])
				rec_finish(c, k, NULL, "service shutdown");
	voice_engine_stop(c->engine);
	pthread_mutex_lock(&c->wlock);
	c->wstop = true;
	pthread_cond_broadcast(&c->wcond);
	pthread_mutex_unlock(&c->wlock);
	for (size_t i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	pthread_mutex_lock(&c->plock);
	c->pstop = true;
	pthread_cond_signal(&c->pcond);
	pthread_mutex_unlock(&c->plock);
	pthread_join(c->persister, NULL);
	for (size_t i = 0; i < 4096; i++)
		while (c->by_lid[i])
			ccall_free(c, c->by_lid[i]);
	struct task *t = c->thead;
	while (t) {
		struct task *nx = t->next;
		if (t->msg)
			bus_release(t->msg);
		t->msg = NULL;
		task_free(t);
		t = nx;
	}
	interp_audio_cache_free(c);
	voice_audio_unref(c->hold_music);
	voice_audio_unref(c->error_audio);
	policy_pacer_free(c->pacer);
	json_decref(c->trunks);
	json_decref(c->trunk_ids);
	json_decref(c->channels);
	json_decref(c->held_off);
	close(c->wake[0]);
	close(c->wake[1]);
	mem_free(c->timers);
	mem_free(c->workers);
	mem_free(c);
}
