/* authn.c: who is calling. JWT access tokens (keys by kid from the store), API keys as
   Bearer or as HTTP Basic <AccountSid|KeySid>:<secret>, the tenant's auth token as HTTP
   Basic <AccountSid>:<AuthToken> (Twilio's account credentials), checked against the live
   state of the key, session, user and tenant on every request. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "http.h"

#define MAX_KEYS 8
#define CACHE_STRIPES 64
#define CACHE_PER_STRIPE 1024

/* Principal rows (API key or session lookups) kept for auth.cache_ms, so a busy key costs
   no database read per request. Any committed change that can affect who may do what
   (revocation, suspension, logout, role change: routes flagged ROUTE_AUTH_CHANGE) bumps
   the generation and so drops every entry; other nodes see it within the TTL. */
struct cache_entry {
	json_t *row;
	uint64_t expires_us;
	unsigned gen;
	struct cache_entry *next;
	char key[];
};

struct cache_stripe {
	pthread_mutex_t lock;
	struct cache_entry *head;
	size_t n;
};

struct keyring {
	struct store *st;
	uint64_t cache_us;
	atomic_uint gen;
	struct cache_stripe cache[CACHE_STRIPES];
	pthread_rwlock_t lock;
	size_t n;
	char kid[MAX_KEYS][ID_LEN + 1];
	unsigned char secret[MAX_KEYS][32];
	uint64_t loaded_us;
};

struct keyring *keyring_new(struct store *st, int cache_ms)
{
	struct keyring *k = mem_zalloc(sizeof(*k));
	k->st = st;
	k->cache_us = (uint64_t)(cache_ms > 0 ? cache_ms : 0) * 1000u;
	pthread_rwlock_init(&k->lock, NULL);
	for (int i = 0; i < CACHE_STRIPES; i++)
		pthread_mutex_init(&k->cache[i].lock, NULL);
	return k;
}

static void entry_free(struct cache_entry *e)
{
	json_decref(e->row);
	mem_free(e);
}

void keyring_free(struct keyring *k)
{
	if (!k)
		return;
	for (int i = 0; i < CACHE_STRIPES; i++) {
		for (struct cache_entry *e = k->cache[i].head, *nx; e; e = nx) {
			nx = e->next;
			entry_free(e);
		}
		pthread_mutex_destroy(&k->cache[i].lock);
	}
	pthread_rwlock_destroy(&k->lock);
	memset(k->secret, 0, sizeof(k->secret));
	mem_free(k);
}

static int keys_fn(struct store_tx *tx, void *arg)
{
	return store_jwt_keys(tx, arg);
}

static int insert_key_fn(struct store_tx *tx, void *arg)
{
	char *kid = arg;
	unsigned char secret[32];
	char hex[65];
	rand_bytes(secret, sizeof(secret));
	hex_encode(secret, sizeof(secret), hex);
	id_new("JK", kid);
	return store_jwt_key_insert(tx, kid, hex);
}

int keyring_rotate(struct store *st, char kid_out[ID_LEN + 1])
{
	return store_tx(st, NULL, STORE_WRITE, insert_key_fn, kid_out);
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	if (!s || strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (unsigned char)v;
	}
	return 0;
}

int keyring_load(struct keyring *k)
{
	json_t *rows;
	int r = store_tx(k->st, NULL, STORE_READ, keys_fn, &rows);
	if (r < 0)
		return r;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		char kid[ID_LEN + 1];
		if ((r = keyring_rotate(k->st, kid)) < 0)
			return r;
		if ((r = store_tx(k->st, NULL, STORE_READ, keys_fn, &rows)) < 0)
			return r;
	}
	pthread_rwlock_wrlock(&k->lock);
	k->n = 0;
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		if (k->n == MAX_KEYS)
			break;
		const char *kid = json_string_value(json_object_get(row, "kid"));
		if (!kid || strlen(kid) > ID_LEN ||
		    unhex(json_string_value(json_object_get(row, "secret")), k->secret[k->n], 32))
			continue;
		memcpy(k->kid[k->n], kid, strlen(kid) + 1);
		k->n++;
	}
	k->loaded_us = time_mono_us();
	pthread_rwlock_unlock(&k->lock);
	json_decref(rows);
	return k->n ? 0 : -EIO;
}

int keyring_sign(struct keyring *k, const struct jwt_claims *c, char **ret)
{
	pthread_rwlock_rdlock(&k->lock);
	struct jwt_key key = {k->kid[0], k->secret[0], 32}; /* newest signs */
	int r = k->n ? jwt_sign(c, &key, ret) : -EIO;
	pthread_rwlock_unlock(&k->lock);
	return r;
}

static int verify_locked(struct keyring *k, const char *token, const char *iss, const char *aud,
			 struct jwt_claims *ret)
{
	struct jwt_key keys[MAX_KEYS];
	pthread_rwlock_rdlock(&k->lock);
	for (size_t i = 0; i < k->n; i++)
		keys[i] = (struct jwt_key){k->kid[i], k->secret[i], 32};
	int r =
	    jwt_verify(token, keys, k->n, iss, aud, (int64_t)(time_now_us() / 1000000u), 30, ret);
	pthread_rwlock_unlock(&k->lock);
	return r;
}

int keyring_verify(struct keyring *k, const char *token, const char *iss, const char *aud,
		   struct jwt_claims *ret)
{
	int r = verify_locked(k, token, iss, aud, ret);
	/* a key rotated by another process: reload at most once a second, then retry */
	if (r == -EACCES && time_mono_us() - k->loaded_us > 1000000u && keyring_load(k) == 0)
		r = verify_locked(k, token, iss, aud, ret);
	return r;
}

void http_auth_invalidate(struct keyring *k)
{
	atomic_fetch_add(&k->gen, 1);
}

static struct cache_stripe *stripe_of(struct keyring *k, const char *key)
{
	unsigned h = 2166136261u;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &k->cache[h % CACHE_STRIPES];
}

/* The cached row for key (a new reference), or NULL. */
static json_t *cache_get(struct keyring *k, const char *key)
{
	if (!k->cache_us)
		return NULL;
	struct cache_stripe *s = stripe_of(k, key);
	uint64_t now = time_mono_us();
	unsigned gen = atomic_load(&k->gen);
	json_t *row = NULL;
	pthread_mutex_lock(&s->lock);
	for (struct cache_entry *e = s->head; e; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			if (e->gen == gen && e->expires_us > now)
				row = json_incref(e->row);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return row;
}

static void cache_put(struct keyring *k, const char *key, json_t *row, unsigned gen)
{
	if (!k->cache_us)
		return;
	struct cache_stripe *s = stripe_of(k, key);
	uint64_t now = time_mono_us();
	pthread_mutex_lock(&s->lock);
	struct cache_entry **pp = &s->head;
	while (*pp) { /* drop this key's old entry and anything stale */
		struct cache_entry *e = *pp;
		if (strcmp(e->key, key) == 0 || e->expires_us <= now || e->gen != gen) {
			*pp = e->next;
			entry_free(e);
			s->n--;
		} else {
			pp = &e->next;
		}
	}
	if (s->n < CACHE_PER_STRIPE) {
		size_t kl = strlen(key);
		struct cache_entry *e = mem_zalloc(sizeof(*e) + kl + 1);
		memcpy(e->key, key, kl + 1);
		e->row = json_incref(row);
		e->expires_us = now + k->cache_us;
		e->gen = gen;
		e->next = s->head;
		s->head = e;
		s->n++;
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- the middleware ---- */

static int deny(struct http_req *req, int status, const char *code, const char *msg)
{
	if (status == 401)
		http_header(req, "WWW-Authenticate",
			    "Bearer realm=\"irisx\", Basic realm=\"irisx\"");
	http_error(req, status, code, msg, NULL);
	return -EACCES;
}

static void limits_from(struct http_req *req, const json_t *row)
{
	const struct config *cfg = req->app->cfg;
	struct principal *w = &req->who;
	w->tenant_rps = (int)json_int(row, "api_rps", 0);
	w->tenant_burst = (int)json_int(row, "api_burst", 0);
	w->key_rps = (int)json_int(row, "key_rps", 0);
	w->key_burst = (int)json_int(row, "key_burst", 0);
	if (w->tenant_rps <= 0)
		w->tenant_rps = cfg->rate_tenant_rps;
	if (w->tenant_burst <= 0)
		w->tenant_burst = cfg->rate_tenant_burst;
	if (w->key_rps <= 0)
		w->key_rps = cfg->rate_key_rps;
	if (w->key_burst <= 0)
		w->key_burst = cfg->rate_key_burst;
}

static void copy_id(char dst[ID_LEN + 1], const char *src)
{
	snprintf(dst, ID_LEN + 1, "%.*s", ID_LEN, src ? src : "");
}

static int by_hash_fn(struct store_tx *tx, void *arg)
{
	json_t **io = arg;
	const char *hash = json_string_value(*io);
	return store_apikey_by_hash(tx, hash, io);
}

/* account: the Basic user name (AC tenant sid or KE key sid), or NULL for Bearer. */
static int auth_apikey(struct http_req *req, const char *secret, const char *account)
{
	if (!apikey_well_formed(secret))
		return deny(req, 401, "unauthorized", "invalid credentials");
	char hash[65];
	apikey_hash(secret, hash);
	char ckey[70];
	snprintf(ckey, sizeof(ckey), "k:%s", hash);
	struct keyring *kr = req->app->keys;
	unsigned gen = atomic_load(&kr->gen); /* before the read: a change after it wins */
	json_t *row = cache_get(kr, ckey);
	int r = 0;
	if (!row) {
		json_t *hs = json_string(hash);
		row = hs;
		r = store_tx(req->app->st, NULL, STORE_READ, by_hash_fn, &row);
		json_decref(hs);
		if (r == 0)
			cache_put(kr, ckey, row, gen);
	}
	if (r == -ENOENT)
		return deny(req, 401, "unauthorized", "invalid credentials");
	if (r < 0)
		return deny(req, 503, "unavailable", "authentication is unavailable");
	int ret = 0;
	const char *stored = json_string_value(json_object_get(row, "hash"));
	if (!stored || strlen(stored) != 64 || !ct_equal(stored, hash, 64)) {
		json_decref(row);
		return deny(req, 401, "unauthorized", "invalid credentials");
	}
	const char *tid = json_string_value(json_object_get(row, "tenant_id"));
	const char *kid = json_string_value(json_object_get(row, "id"));
	if (account && strcmp(account, tid) != 0 && strcmp(account, kid) != 0)
		ret = deny(req, 401, "unauthorized", "invalid credentials");
	else if (!json_is_null(json_object_get(row, "revoked_us")))
		ret = deny(req, 401, "unauthorized", "API key revoked");
	else if (strcmp(json_string_value(json_object_get(row, "tenant_status")), "active") != 0)
		ret = deny(req, 403, "tenant_suspended", "the account is suspended");
	if (ret == 0) {
		copy_id(req->who.tenant_id, tid);
		copy_id(req->who.actor_id, kid);
		req->who.actor_type = "api_key";
		req->who.role = role_parse(json_string_value(json_object_get(row, "role")));
		limits_from(req, row);
		req->authed = true;
	}
	json_decref(row);
	return ret;
}

static int tenant_fn(struct store_tx *tx, void *arg)
{
	json_t **io = arg;
	const char *tid = json_string_value(*io);
	return store_tenant_principal(tx, tid, io);
}

/* Basic AC...:<auth token>: the tenant itself, with the admin role (Twilio's auth token is
   the account's master credential; rotating it stays with the owner). */
static int auth_token(struct http_req *req, const char *account, const char *token)
{
	if (!id_valid(account, "AC"))
		return deny(req, 401, "unauthorized", "invalid credentials");
	char ckey[ID_LEN + 3];
	snprintf(ckey, sizeof(ckey), "t:%s", account);
	struct keyring *kr = req->app->keys;
	unsigned gen = atomic_load(&kr->gen); /* before the read: a change after it wins */
	json_t *row = cache_get(kr, ckey);
	int r = 0;
	if (!row) {
		json_t *ts = json_string(account);
		row = ts;
		r = store_tx(req->app->st, NULL, STORE_READ, tenant_fn, &row);
		json_decref(ts);
		/* a tenant without a token yet is not cached: the first GET of the token (or a
		   signed callback) makes one, and it must work at once */
		if (r == 0 && json_string_value(json_object_get(row, "auth_token")))
			cache_put(kr, ckey, row, gen);
	}
	if (r == -ENOENT)
		return deny(req, 401, "unauthorized", "invalid credentials");
	if (r < 0)
		return deny(req, 503, "unavailable", "authentication is unavailable");
	const char *stored = json_string_value(json_object_get(row, "auth_token"));
	size_t n = strlen(token);
	int ret = 0;
	if (!stored || strlen(stored) != n || n == 0 || !ct_equal(stored, token, n))
		ret = deny(req, 401, "unauthorized", "invalid credentials");
	else if (strcmp(json_string_value(json_object_get(row, "tenant_status")), "active") != 0)
		ret = deny(req, 403, "tenant_suspended", "the account is suspended");
	if (ret == 0) {
		copy_id(req->who.tenant_id, account);
		copy_id(req->who.actor_id, account);
		req->who.actor_type = "auth_token";
		req->who.role = ROLE_ADMIN;
		limits_from(req, row);
		req->authed = true;
	}
	json_decref(row);
	return ret;
}

struct sess_q {
	const struct jwt_claims *c;
	json_t *row;
};

static int session_fn(struct store_tx *tx, void *arg)
{
	struct sess_q *q = arg;
	return store_principal_by_session(tx, q->c->sid, q->c->sub, &q->row);
}

static int auth_jwt(struct http_req *req, const char *token)
{
	struct jwt_claims c;
	const struct config *cfg = req->app->cfg;
	if (keyring_verify(req->app->keys, token, cfg->jwt_issuer, cfg->jwt_audience, &c) < 0)
		return deny(req, 401, "unauthorized", "invalid or expired access token");
	struct sess_q q = {.c = &c};
	char ckey[160];
	snprintf(ckey, sizeof(ckey), "s:%s:%s", c.sid, c.sub);
	struct keyring *kr = req->app->keys;
	unsigned gen = atomic_load(&kr->gen);
	q.row = cache_get(kr, ckey);
	int r = 0;
	if (!q.row) {
		r = store_tx(req->app->st, NULL, STORE_READ, session_fn, &q);
		if (r == 0)
			cache_put(kr, ckey, q.row, gen);
	}
	if (r == -ENOENT)
		return deny(req, 401, "unauthorized", "session not found");
	if (r < 0)
		return deny(req, 503, "unavailable", "authentication is unavailable");
	int ret = 0;
	if (!json_is_null(json_object_get(q.row, "revoked_us")))
		ret = deny(req, 401, "unauthorized", "session ended");
	else if (strcmp(json_string_value(json_object_get(q.row, "user_status")), "active") != 0)
		ret = deny(req, 401, "unauthorized", "user is disabled");
	else if (strcmp(json_string_value(json_object_get(q.row, "tenant_status")), "active") != 0)
		ret = deny(req, 403, "tenant_suspended", "the account is suspended");
	if (ret == 0) {
		copy_id(req->who.tenant_id, json_string_value(json_object_get(q.row, "tenant_id")));
		copy_id(req->who.actor_id, c.sub);
		copy_id(req->who.session_id, c.sid);
		req->who.actor_type = "user";
		req->who.role = role_parse(json_string_value(json_object_get(q.row, "role")));
		limits_from(req, q.row);
		req->authed = true;
	}
	json_decref(q.row);
	return ret;
}

static int auth_basic(struct http_req *req, const char *b64)
{
	unsigned char *dec;
	size_t n;
	if (strlen(b64) > 512 || b64_decode(b64, strlen(b64), &dec, &n) < 0)
		return deny(req, 401, "unauthorized", "malformed Basic credentials");
	char *colon = memchr(dec, ':', n);
	int r;
	if (!colon || memchr(dec, '\0', n)) {
		r = deny(req, 401, "unauthorized", "malformed Basic credentials");
	} else {
		*colon = '\0';
		const char *user = (const char *)dec, *secret = colon + 1;
		/* AC...:irx_... is an API key for that account; AC...:anything else its token */
		r = !strncmp(user, "AC", 2) && strncmp(secret, "irx_", 4)
			? auth_token(req, user, secret)
			: auth_apikey(req, secret, user);
	}
	memset(dec, 0, n);
	mem_free(dec);
	return r;
}

int http_authenticate(struct http_req *req)
{
	const char *h = http_get_header(req, "Authorization");
	if (!h)
		return deny(req, 401, "unauthorized", "authentication required");
	if (strlen(h) > JWT_MAX_LEN + 16)
		return deny(req, 401, "unauthorized", "credentials too long");
	int r;
	if (!strncasecmp(h, "Bearer ", 7))
		r = !strncmp(h + 7, "irx_", 4) ? auth_apikey(req, h + 7, NULL)
					       : auth_jwt(req, h + 7);
	else if (!strncasecmp(h, "Basic ", 6))
		r = auth_basic(req, h + 6);
	else
		r = deny(req, 401, "unauthorized", "unsupported authorization scheme");
	if (r == 0)
		req->who.platform_admin = req->who.role == ROLE_PLATFORM_ADMIN;
	return r;
}
