/* route.c: which media thread holds each call with media, so the owner and the workers can
   send media commands straight there and a bridged leg can move threads; also keeps the
   calls' latest quality snapshot for the HANGUP event. One mutex; pushes happen under it, so
   commands for a call keep their order across a move. */
#include <errno.h>
#include <re.h>
#include <string.h>

#include "internal.h"

enum { ROUTE_BUCKETS = 4096 };

struct route {
	struct route *next;
	uint64_t call;
	unsigned idx;
	struct voice_quality q;
};

struct route_tab {
	struct route *b[ROUTE_BUCKETS];
};

static struct route **slot(struct voice_engine *e, uint64_t call)
{
	struct route **pp = &e->routes->b[(call * 0x9e3779b97f4a7c15ULL) >> 52];
	while (*pp && (*pp)->call != call)
		pp = &(*pp)->next;
	return pp;
}

void engine_mutex_init_pi(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	(void)pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

int route_init(struct voice_engine *e)
{
	engine_mutex_init_pi(&e->route_lock);
	e->routes = vx_zalloc(sizeof(*e->routes));
	return 0;
}

void route_free(struct voice_engine *e)
{
	if (!e->routes)
		return;
	for (size_t i = 0; i < ROUTE_BUCKETS; i++) {
		while (e->routes->b[i]) {
			struct route *r = e->routes->b[i];
			e->routes->b[i] = r->next;
			vx_free(r);
		}
	}
	vx_free(e->routes);
	e->routes = NULL;
	pthread_mutex_destroy(&e->route_lock);
}

static int push(struct voice_engine *e, unsigned idx, int type, struct media_cmd *cmd)
{
	int r = mqueue_push(e->media[idx].mq, type, cmd);
	return r ? -r : 0;
}

int route_media_push(struct voice_engine *e, unsigned idx, int type, struct media_cmd *cmd)
{
	pthread_mutex_lock(&e->route_lock);
	struct route **pp = slot(e, cmd->call);
	if (type == MEDIA_ADD && !*pp) {
		struct route *r = vx_zalloc(sizeof(*r));
		r->call = cmd->call;
		r->idx = idx;
		*pp = r;
	} else if (*pp) {
		idx = (*pp)->idx; /* the call may have moved to its bridge peer's thread */
	}
	int err = push(e, idx, type, cmd);
	if ((type == MEDIA_DEL || (type == MEDIA_ADD && err < 0)) && *pp) {
		struct route *r = *pp;
		*pp = r->next;
		vx_free(r);
	}
	pthread_mutex_unlock(&e->route_lock);
	return err;
}

int route_push(struct voice_engine *e, uint64_t call, int type, struct media_cmd *cmd)
{
	pthread_mutex_lock(&e->route_lock);
	struct route *r = *slot(e, call);
	int err = r ? push(e, r->idx, type, cmd) : -ENOENT;
	pthread_mutex_unlock(&e->route_lock);
	return err;
}

int route_move(struct voice_engine *e, uint64_t call, unsigned idx, int type, struct media_cmd *cmd)
{
	pthread_mutex_lock(&e->route_lock);
	struct route *r = *slot(e, call);
	int err = push(e, idx, type, cmd);
	if (r && err == 0)
		r->idx = idx;
	pthread_mutex_unlock(&e->route_lock);
	return err;
}

int route_bridge(struct voice_engine *e, struct media_cmd *cmd)
{
	pthread_mutex_lock(&e->route_lock);
	struct route *ra = *slot(e, cmd->call), *rb = *slot(e, cmd->peer);
	int err = -ENOENT;
	if (ra && rb && ra->idx == rb->idx) {
		err = push(e, ra->idx, MEDIA_BRIDGE, cmd);
	} else if (ra && rb) {
		/* b's thread detaches it and hands it to a's thread, which then bridges */
		uint64_t a = cmd->call;
		cmd->call = cmd->peer;
		cmd->peer = a;
		cmd->target = ra->idx;
		err = push(e, rb->idx, MEDIA_MOVE, cmd);
	}
	pthread_mutex_unlock(&e->route_lock);
	return err;
}

void route_publish(struct voice_engine *e, uint64_t call, const struct voice_quality *q)
{
	if (pthread_mutex_trylock(&e->route_lock) != 0)
		return; /* a media thread never waits for a snapshot: the next one comes in 1 s */
	struct route *r = *slot(e, call);
	if (r)
		r->q = *q;
	pthread_mutex_unlock(&e->route_lock);
}

int route_quality(struct voice_engine *e, uint64_t call, struct voice_quality *ret)
{
	pthread_mutex_lock(&e->route_lock);
	struct route *r = *slot(e, call);
	if (r)
		*ret = r->q;
	pthread_mutex_unlock(&e->route_lock);
	return r ? 0 : -ENOENT;
}
