/* edge.c: edge protection primitives: scanner User-Agent matching and a keyed event counter
   with fixed windows and temporary bans (Kamailio's pike + ipban); pure, one thread each. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "core/core.h"
#include "voice/voice.h"

enum { KEY_LEN = 16 };

struct entry {
	uint8_t key[KEY_LEN];
	bool used;
	uint32_t count;
	uint64_t window_start_us, banned_until_us;
};

struct voice_limiter {
	unsigned limit;
	uint64_t window_us, ban_us;
	size_t cap, used; /* cap is a power of two */
	struct entry *tab;
	uint64_t next_compact_us;
};

static bool ieq_at(const char *hay, size_t hn, const char *needle, size_t nn)
{
	if (nn == 0 || nn > hn)
		return false;
	for (size_t i = 0; i + nn <= hn; i++) {
		size_t j = 0;
		while (j < nn &&
		       tolower((unsigned char)hay[i + j]) == tolower((unsigned char)needle[j]))
			j++;
		if (j == nn)
			return true;
	}
	return false;
}

bool voice_ua_listed(const char *list, const char *ua, size_t n)
{
	if (!list || !ua)
		return false;
	for (const char *p = list; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (ieq_at(ua, n, p, len))
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

int voice_limiter_alloc(unsigned limit, uint64_t window_us, uint64_t ban_us, size_t cap,
			struct voice_limiter **ret)
{
	if (window_us == 0 || cap < 16 || cap > (1u << 24))
		return -EINVAL;
	size_t c = 16;
	while (c < cap)
		c <<= 1;
	struct voice_limiter *l = mem_zalloc(sizeof(*l));
	l->limit = limit;
	l->window_us = window_us;
	l->ban_us = ban_us;
	l->cap = c;
	l->tab = mem_zalloc(c * sizeof(*l->tab));
	*ret = l;
	return 0;
}

void voice_limiter_free(struct voice_limiter *l)
{
	if (!l)
		return;
	mem_free(l->tab);
	mem_free(l);
}

size_t voice_limiter_size(const struct voice_limiter *l)
{
	return l->used;
}

static void make_key(const void *key, size_t n, uint8_t out[KEY_LEN])
{
	memset(out, 0, KEY_LEN);
	if (n < KEY_LEN) {
		out[0] = (uint8_t)n;
		memcpy(out + 1, key, n);
		return;
	}
	unsigned char h[32];
	sha256(key, n, h);
	memcpy(out, h, KEY_LEN);
	out[0] = 0xff; /* never a length */
}

static size_t slot_of(const uint8_t key[KEY_LEN], size_t cap)
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < KEY_LEN; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return (size_t)(h & (cap - 1));
}

static struct entry *probe(struct entry *tab, size_t cap, const uint8_t key[KEY_LEN])
{
	for (size_t i = slot_of(key, cap), k = 0; k < cap; k++, i = (i + 1) & (cap - 1))
		if (!tab[i].used || memcmp(tab[i].key, key, KEY_LEN) == 0)
			return &tab[i];
	return NULL;
}

static bool live(const struct voice_limiter *l, const struct entry *e, uint64_t now_us)
{
	return e->banned_until_us > now_us || now_us - e->window_start_us < l->window_us;
}

/* Rebuilds the table without keys whose window and ban are over. */
static void compact(struct voice_limiter *l, uint64_t now_us)
{
	struct entry *n = mem_zalloc(l->cap * sizeof(*n));
	size_t used = 0;
	for (size_t i = 0; i < l->cap; i++) {
		struct entry *e = &l->tab[i];
		if (!e->used || !live(l, e, now_us))
			continue;
		*probe(n, l->cap, e->key) = *e;
		used++;
	}
	mem_free(l->tab);
	l->tab = n;
	l->used = used;
	l->next_compact_us = now_us + l->window_us;
}

int voice_limiter_hit(struct voice_limiter *l, const void *key, size_t n, bool count,
		      uint64_t now_us)
{
	uint8_t k[KEY_LEN];
	make_key(key, n, k);
	struct entry *e = probe(l->tab, l->cap, k);
	if ((!e || !e->used) && !count)
		return VOICE_LIMIT_OK;
	if (!e || (!e->used && l->used + 1 > l->cap * 3 / 4)) {
		if (now_us < l->next_compact_us && e)
			return -ENOSPC;
		compact(l, now_us);
		e = probe(l->tab, l->cap, k);
		if (!e || (!e->used && l->used + 1 > l->cap * 3 / 4))
			return -ENOSPC;
	}
	if (!e->used) {
		memset(e, 0, sizeof(*e));
		memcpy(e->key, k, KEY_LEN);
		e->used = true;
		e->window_start_us = now_us;
		l->used++;
	}
	if (e->banned_until_us > now_us)
		return VOICE_LIMIT_BANNED;
	if (!count)
		return VOICE_LIMIT_OK;
	if (now_us - e->window_start_us >= l->window_us) {
		e->window_start_us = now_us;
		e->count = 0;
	}
	if (++e->count <= l->limit)
		return VOICE_LIMIT_OK;
	e->banned_until_us = now_us + l->ban_us;
	e->count = 0;
	return VOICE_LIMIT_TRIPPED;
}
