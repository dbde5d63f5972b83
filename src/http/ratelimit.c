/* ratelimit.c: token buckets keyed by string, in a striped hash table with idle eviction. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "http.h"

#define STRIPES 64
#define MAX_PER_STRIPE 4096

struct bucket {
	double tokens;
	uint64_t last_us;
	struct bucket *next;
	char key[]; /* the whole key: a truncated one would never match again */
};

struct stripe {
	pthread_mutex_t lock;
	struct bucket *head;
	size_t n;
};

struct ratelimit {
	struct stripe s[STRIPES];
};

struct ratelimit *ratelimit_new(void)
{
	struct ratelimit *rl = mem_zalloc(sizeof(*rl));
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&rl->s[i].lock, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (int i = 0; i < STRIPES; i++) {
		struct bucket *b = rl->s[i].head;
		while (b) {
			struct bucket *nx = b->next;
			mem_free(b);
			b = nx;
		}
		pthread_mutex_destroy(&rl->s[i].lock);
	}
	mem_free(rl);
}

static unsigned hash(const char *k)
{
	unsigned h = 2166136261u;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h;
}

/* Drops buckets idle long enough to be full again (they hold no information). */
static void evict(struct stripe *s, uint64_t now)
{
	struct bucket **pp = &s->head;
	while (*pp) {
		if (now > (*pp)->last_us && now - (*pp)->last_us > 600u * 1000000u) {
			struct bucket *dead = *pp;
			*pp = dead->next;
			mem_free(dead);
			s->n--;
		} else {
			pp = &(*pp)->next;
		}
	}
}

static struct bucket *get(struct stripe *s, const char *key, int burst, uint64_t now)
{
	struct bucket *b;
	for (b = s->head; b; b = b->next)
		if (!strcmp(b->key, key))
			return b;
	if (s->n >= MAX_PER_STRIPE)
		evict(s, now);
	size_t kl = strlen(key);
	b = mem_zalloc(sizeof(*b) + kl + 1);
	memcpy(b->key, key, kl + 1);
	b->tokens = burst;
	b->last_us = now;
	b->next = s->head;
	s->head = b;
	s->n++;
	return b;
}

static void refill(struct bucket *b, double rate, int burst, uint64_t now)
{
	if (now > b->last_us) /* the clock is read under the lock, but stay safe */
		b->tokens += (double)(now - b->last_us) / 1e6 * rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last_us = now;
}

void ratelimit_take(struct ratelimit *rl, const char *key, double rate, int burst, double cost,
		    struct rl_result *ret)
{
	struct stripe *s = &rl->s[hash(key) % STRIPES];
	pthread_mutex_lock(&s->lock);
	uint64_t now = time_mono_us(); /* under the lock: buckets only move forward */
	struct bucket *b = get(s, key, burst, now);
	refill(b, rate, burst, now);
	ret->allowed = b->tokens >= cost;
	if (ret->allowed)
		b->tokens -= cost;
	ret->limit = burst;
	ret->remaining = (int)floor(b->tokens);
	ret->reset_s = (int)ceil((burst - b->tokens) / rate);
	ret->retry_after_s = ret->allowed ? 0 : (int)ceil((cost - b->tokens) / rate);
	if (!ret->allowed && ret->retry_after_s < 1)
		ret->retry_after_s = 1;
	pthread_mutex_unlock(&s->lock);
}

bool ratelimit_check(struct ratelimit *rl, const char *key, double rate, int burst)
{
	struct stripe *s = &rl->s[hash(key) % STRIPES];
	pthread_mutex_lock(&s->lock);
	uint64_t now = time_mono_us(); /* under the lock: buckets only move forward */
	struct bucket *b = get(s, key, burst, now);
	refill(b, rate, burst, now);
	bool ok = b->tokens >= 1;
	pthread_mutex_unlock(&s->lock);
	return ok;
}
