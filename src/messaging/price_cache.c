/* price_cache.c: the rate decks in memory, for the price of a message at acceptance. A
   message's checks read the routing generation (store_sms_facts) in their own transaction;
   a copy built at that generation or a later one answers without SQL, else the decks are
   read again (in a read transaction of their own, in system scope: operator decks are not
   tenant rows). The price is the cheapest, over the candidate providers (the tenant's own
   enabled ones if it has any, else the operator's), of each one's longest prefix of the
   number: what store_routes answers, which the worker still uses for its routing. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "messaging.h"

enum {
	PREFIX_MAX = 15,   /* an E.164 number has at most 15 digits: longer never match */
	OWNERS_CAP = 4096, /* slots for the tenants remembered (whether they have providers of
			      their own): at most half are used, the least recently used one
			      making room for the next */
	CHANNELS = 2,	   /* sms, email */
};

struct rate {
	char prefix[PREFIX_MAX + 1];
	uint32_t prov; /* UINT32_MAX: an empty slot */
	int64_t cost;
};

/* One owner's deck: open addressing on (provider, prefix). */
struct deck {
	struct rate *slot;
	size_t mask;
	uint32_t nprov;
	uint32_t lens; /* bit i: some prefix has i digits (the others are not probed) */
};

struct owner {
	char tenant[ID_LEN + 1]; /* "": an empty slot */
	int channel;
	struct deck *own; /* NULL: the operator's deck */
	uint64_t used;	  /* tick of the last lookup */
};

struct price_cache {
	struct store *st;
	pthread_mutex_t lock;
	bool valid;
	int64_t gen;
	struct deck *op[CHANNELS];
	struct owner *owners;
	size_t nowners;
	uint64_t tick;
	uint64_t loads; /* read transactions made (price_cache_loads) */
};

static uint64_t hash(uint32_t prov, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ prov;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static struct rate *deck_find(const struct deck *d, uint32_t prov, const char *p, size_t n)
{
	for (size_t i = hash(prov, p, n) & d->mask;; i = (i + 1) & d->mask) {
		struct rate *r = &d->slot[i];
		if (r->prov == UINT32_MAX)
			return r;
		if (r->prov == prov && !strncmp(r->prefix, p, n) && r->prefix[n] == '\0')
			return r;
	}
}

static void deck_free(struct deck *d)
{
	if (d) {
		free(d->slot);
		free(d);
	}
}

/* From store_route_rates' rows (in provider order); NULL on no memory. */
static struct deck *deck_build(json_t *rows)
{
	struct deck *d = calloc(1, sizeof(*d));
	size_t cap = 16;
	while (cap < 2 * json_array_size(rows) + 2)
		cap *= 2;
	if (!d || !(d->slot = malloc(cap * sizeof(*d->slot)))) {
		free(d);
		return NULL;
	}
	d->mask = cap - 1;
	for (size_t i = 0; i < cap; i++)
		d->slot[i].prov = UINT32_MAX;
	const char *last = NULL;
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		const char *pid = json_str(row, "provider_id"), *pre = json_str(row, "prefix");
		if (!pid || !pre)
			continue;
		if (!last || strcmp(last, pid) != 0) {
			d->nprov++;
			last = pid;
		}
		size_t n = strlen(pre);
		if (n > PREFIX_MAX)
			continue;
		struct rate *r = deck_find(d, d->nprov - 1, pre, n);
		r->prov = d->nprov - 1;
		memcpy(r->prefix, pre, n + 1);
		r->cost = json_integer_value(json_object_get(row, "cost_micros"));
		d->lens |= 1u << n;
	}
	return d;
}

/* The cheapest of each provider's longest matching prefix, or -1. */
static int64_t deck_cost(const struct deck *d, const char *dest)
{
	const char *p = dest ? (dest[0] == '+' ? dest + 1 : dest) : "";
	size_t n = strnlen(p, PREFIX_MAX + 1);
	if (n > PREFIX_MAX)
		n = PREFIX_MAX;
	int64_t best = -1;
	for (uint32_t prov = 0; prov < d->nprov; prov++)
		for (size_t len = n + 1; len-- > 0;) {
			if (!(d->lens & (1u << len)))
				continue;
			const struct rate *r = deck_find(d, prov, p, len);
			if (r->prov != UINT32_MAX) {
				if (best < 0 || r->cost < best)
					best = r->cost;
				break;
			}
		}
	return best;
}

static size_t owner_home(const char *tenant, int ch)
{
	return hash((uint32_t)ch, tenant, strlen(tenant)) & (OWNERS_CAP - 1);
}

static struct owner *owner_find(struct price_cache *pc, const char *tenant, int ch)
{
	for (size_t i = owner_home(tenant, ch);; i = (i + 1) & (OWNERS_CAP - 1)) {
		struct owner *o = &pc->owners[i];
		if (!o->tenant[0] || (o->channel == ch && !strcmp(o->tenant, tenant)))
			return o;
	}
}

/* Forgets the least recently used owner. Linear probing: the entries after it in its run
   move back into the hole when their home slot does not lie between the hole and them. */
static void owner_evict(struct price_cache *pc)
{
	size_t i = OWNERS_CAP;
	for (size_t k = 0; k < OWNERS_CAP; k++)
		if (pc->owners[k].tenant[0] &&
		    (i == OWNERS_CAP || pc->owners[k].used < pc->owners[i].used))
			i = k;
	if (i == OWNERS_CAP)
		return;
	deck_free(pc->owners[i].own);
	for (size_t j = i;;) {
		j = (j + 1) & (OWNERS_CAP - 1);
		struct owner *o = &pc->owners[j];
		if (!o->tenant[0])
			break;
		size_t h = owner_home(o->tenant, o->channel);
		bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
		if (!stays) {
			pc->owners[i] = *o;
			i = j;
		}
	}
	pc->owners[i] = (struct owner){0};
	pc->nowners--;
}

static void clear_owners(struct price_cache *pc)
{
	for (size_t i = 0; i < OWNERS_CAP; i++) {
		deck_free(pc->owners[i].own);
		pc->owners[i] = (struct owner){0};
	}
	pc->nowners = 0;
}

static void clear_all(struct price_cache *pc)
{
	clear_owners(pc);
	for (int c = 0; c < CHANNELS; c++) {
		deck_free(pc->op[c]);
		pc->op[c] = NULL;
	}
	pc->valid = false;
}

struct price_cache *price_cache_new(struct store *st)
{
	struct price_cache *pc = calloc(1, sizeof(*pc));
	if (!pc)
		return NULL;
	pc->st = st;
	if (!(pc->owners = calloc(OWNERS_CAP, sizeof(*pc->owners)))) {
		free(pc);
		return NULL;
	}
	pthread_mutex_init(&pc->lock, NULL);
	return pc;
}

void price_cache_free(struct price_cache *pc)
{
	if (!pc)
		return;
	clear_all(pc);
	free(pc->owners);
	pthread_mutex_destroy(&pc->lock);
	free(pc);
}

/* What a miss reads, in one read transaction: the generation first, so what follows is at
   least as new as the generation it is filed under. */
struct load {
	const char *tenant, *channel;
	bool need_owner, need_op;
	int64_t gen;
	int own;	     /* the tenant has providers of its own */
	struct deck *mine;   /* the tenant's own deck (own) */
	struct deck *opdeck; /* the operator's (need_op and not own) */
};

static int load_fn(struct store_tx *tx, void *arg)
{
	struct load *l = arg;
	json_t *rows;
	int r = store_routing_gen(tx, &l->gen);
	if (r < 0)
		return r;
	if (l->need_owner && l->tenant) {
		if ((l->own = store_routes_own(tx, l->tenant, l->channel)) < 0)
			return l->own;
		if (l->own) {
			if ((r = store_route_rates(tx, l->tenant, l->channel, &rows)) < 0)
				return r;
			l->mine = deck_build(rows);
			json_decref(rows);
			return l->mine ? 0 : -ENOMEM;
		}
	}
	if (!l->need_op)
		return 0;
	if ((r = store_route_rates(tx, NULL, l->channel, &rows)) < 0)
		return r;
	l->opdeck = deck_build(rows);
	json_decref(rows);
	return l->opdeck ? 0 : -ENOMEM;
}

/* Files what was loaded (if it is not older than the copy), under the lock. */
static void install(struct price_cache *pc, struct load *l, int ch)
{
	if (pc->valid && l->gen < pc->gen)
		return; /* a newer copy was filed meanwhile: it answers on the next pass */
	if (!pc->valid || l->gen > pc->gen) {
		clear_all(pc);
		pc->gen = l->gen;
		pc->valid = true;
	}
	if (l->opdeck && !pc->op[ch]) {
		pc->op[ch] = l->opdeck;
		l->opdeck = NULL;
	}
	if (l->need_owner && l->tenant) {
		struct owner *o = owner_find(pc, l->tenant, ch);
		if (!o->tenant[0] && pc->nowners >= OWNERS_CAP / 2) {
			owner_evict(pc); /* many tenants: probes stay short */
			o = owner_find(pc, l->tenant, ch);
		}
		if (!o->tenant[0]) {
			snprintf(o->tenant, sizeof(o->tenant), "%s", l->tenant);
			o->channel = ch;
			o->used = ++pc->tick;
			o->own = l->own ? l->mine : NULL;
			if (l->own)
				l->mine = NULL;
			pc->nowners++;
		}
	}
}

int price_cache_cost(struct price_cache *pc, int64_t gen, const char *tenant_id,
		     const char *channel, const char *dest, int64_t *ret)
{
	int ch = !strcmp(channel, "email");
	for (int pass = 0; pass < 3; pass++) {
		struct load l = {.tenant = tenant_id, .channel = channel};
		pthread_mutex_lock(&pc->lock);
		if (pc->valid && pc->gen >= gen) {
			struct owner *o = tenant_id ? owner_find(pc, tenant_id, ch) : NULL;
			const struct deck *d = o && o->own ? o->own : pc->op[ch];
			if ((!tenant_id || o->tenant[0]) && d) {
				if (o)
					o->used = ++pc->tick;
				*ret = deck_cost(d, dest);
				pthread_mutex_unlock(&pc->lock);
				return 0;
			}
			l.need_owner = tenant_id && !o->tenant[0];
			l.need_op = !pc->op[ch];
		} else {
			l.need_owner = tenant_id != NULL;
			l.need_op = true;
		}
		pc->loads++;
		pthread_mutex_unlock(&pc->lock);
		int r = store_tx(pc->st, NULL, STORE_READ, load_fn, &l);
		if (r >= 0) {
			pthread_mutex_lock(&pc->lock);
			install(pc, &l, ch);
			pthread_mutex_unlock(&pc->lock);
		}
		deck_free(l.mine);
		deck_free(l.opdeck);
		if (r < 0)
			return r;
	}
	return -EAGAIN; /* the decks changed under every pass */
}

uint64_t price_cache_loads(struct price_cache *pc)
{
	pthread_mutex_lock(&pc->lock);
	uint64_t n = pc->loads;
	pthread_mutex_unlock(&pc->lock);
	return n;
}
