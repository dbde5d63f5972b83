/* sigx.c: the signalling extras' shared state, their settings and counters, the edge checks
   (scanner agents, per-IP rate and bans, Max-Forwards, R-URI length) and their owner API. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sigx.h"

enum { PIKE_CAP = 8192, FAIL_CAP = 4096, NONCE_CAP = 16384 };

void sigx_config_default(struct voice_config *cfg)
{
	cfg->scanner_agents = NULL;
	cfg->pike_reqs = 16;
	cfg->pike_window_ms = 2000;
	cfg->ban_s = 300;
	cfg->ruri_max = 512;
	cfg->nonce_ttl_s = 300;
	cfg->reg_min_expires = 60;
	cfg->reg_max_expires = 3600;
	cfg->reg_default_expires = 3600;
	cfg->auth_fail_ip_max = 20;
	cfg->auth_fail_user_max = 5;
	cfg->auth_fail_window_s = 300;
}

uint64_t sigx_now_us(void)
{
	return vx_mono_us();
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int parse_trusted(struct sigx *x, const char *list)
{
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char ip[64];
		while (len && *p == ' ')
			p++, len--;
		if (len == 0 || len >= sizeof(ip) || x->ntrusted == SX_TRUSTED_MAX)
			return -EINVAL;
		memcpy(ip, p, len);
		ip[len] = '\0';
		if (sa_set_str(&x->trusted[x->ntrusted++], ip, 0) != 0)
			return -EINVAL;
		p = comma ? comma + 1 : p + len;
	}
	return 0;
}

/* The authentication limiters, shared by the stacks. */
static int make_auth_limiters(struct sigx_shared *sh, const struct voice_config *c)
{
	uint64_t ban = (uint64_t)c->ban_s * 1000000;
	uint64_t fail_win =
	    (uint64_t)(c->auth_fail_window_s ? c->auth_fail_window_s : 300) * 1000000;
	uint64_t ttl = (uint64_t)(c->nonce_ttl_s ? c->nonce_ttl_s : 300) * 1000000;
	int r = voice_limiter_alloc(c->auth_fail_ip_max, fail_win, ban, FAIL_CAP, &sh->fail_ip);
	if (r == 0)
		r = voice_limiter_alloc(c->auth_fail_user_max, fail_win, ban, FAIL_CAP,
					&sh->fail_user);
	/* a nonce is good once: the second use within its lifetime trips the limit */
	if (r == 0)
		r = voice_limiter_alloc(1, ttl, ttl, NONCE_CAP, &sh->nonces);
	return r;
}

int sigx_shared_alloc(struct voice_engine *e, struct sigx_shared **ret)
{
	const struct voice_config *c = &e->cfg;
	struct sigx_shared *sh = vx_zalloc(sizeof(*sh));
	pthread_mutex_init(&sh->lock, NULL);
	pthread_mutex_init(&sh->lim_lock, NULL);
	const char *realm = c->realm ? c->realm : e->sip_addr;
	int r = -EINVAL;
	if (!*realm || strlen(realm) >= sizeof(sh->realm) || strchr(realm, '"'))
		goto fail;
	snprintf(sh->realm, sizeof(sh->realm), "%s", realm);
	vx_rand(sh->nonce_key, sizeof(sh->nonce_key));
	uint8_t b[32];
	vx_rand(b, 16);
	hex(b, 16, sh->opaque);
	vx_rand(b, 32);
	hex(b, 16, sh->dummy_md5);
	hex(b, 32, sh->dummy_sha256);
	if ((r = make_auth_limiters(sh, c)) < 0)
		goto fail;
	*ret = sh;
	return 0;
fail:
	sigx_shared_free(sh);
	return r;
}

void sigx_shared_free(struct sigx_shared *sh)
{
	if (!sh)
		return;
	for (size_t i = 0; i < SX_BUCKETS; i++) {
		for (struct sx_user *u = sh->users[i], *n; u; u = n) {
			n = u->next;
			vx_free(u);
		}
		for (struct sx_binding *b = sh->bindings[i], *n; b; b = n) {
			n = b->next;
			vx_free(b);
		}
	}
	voice_limiter_free(sh->fail_ip);
	voice_limiter_free(sh->fail_user);
	voice_limiter_free(sh->nonces);
	pthread_mutex_destroy(&sh->lock);
	pthread_mutex_destroy(&sh->lim_lock);
	vx_free(sh);
}

int sigx_alloc(struct voice_engine *e, unsigned idx, struct sigx **ret)
{
	const struct voice_config *c = &e->cfg;
	struct sigx *x = vx_zalloc(sizeof(*x));
	x->e = e;
	x->sh = e->sxs;
	x->idx = idx;
	list_init(&x->trunks);
	const char *scanner = c->scanner_agents ? c->scanner_agents : VOICE_SCANNER_AGENTS;
	int r = -EINVAL;
	if (strlen(scanner) >= sizeof(x->scanner) || parse_trusted(x, c->trusted_ips) < 0)
		goto fail;
	snprintf(x->scanner, sizeof(x->scanner), "%s", scanner);
	r = voice_limiter_alloc(c->pike_reqs,
				(uint64_t)(c->pike_window_ms ? c->pike_window_ms : 2000) * 1000,
				(uint64_t)c->ban_s * 1000000, PIKE_CAP, &x->pike);
	if (r < 0)
		goto fail;
	*ret = x;
	return 0;
fail:
	sigx_free(x);
	return r;
}

void sigx_free(struct sigx *x)
{
	if (!x)
		return;
	voice_limiter_free(x->pike);
	vx_free(x);
}

int sigx_auth_hit(struct sigx *x, struct voice_limiter *l, const void *key, size_t n, bool count)
{
	pthread_mutex_lock(&x->sh->lim_lock);
	int r = voice_limiter_hit(l, key, n, count, sigx_now_us());
	pthread_mutex_unlock(&x->sh->lim_lock);
	return r;
}

static uint64_t ld(atomic_uint_fast64_t *v)
{
	return atomic_load(v);
}

void sigx_stats(struct voice_engine *e, struct voice_stats *ret)
{
	for (unsigned i = 0; i < e->nsig; i++) {
		struct sigx *x = e->sig[i].sx;
		if (!x)
			continue;
		ret->sip_scanner_dropped += ld(&x->scanner_dropped);
		ret->sip_rate_dropped += ld(&x->rate_dropped);
		ret->sip_banned_dropped += ld(&x->banned_dropped);
		ret->sip_bans += ld(&x->bans);
		ret->sip_too_many_hops += ld(&x->too_many_hops);
		ret->sip_ruri_too_long += ld(&x->ruri_too_long);
		ret->reg_ok += ld(&x->reg_ok);
		ret->reg_challenged += ld(&x->reg_challenged);
		ret->reg_failed += ld(&x->reg_failed);
		ret->reg_stale += ld(&x->reg_stale);
		ret->reg_locked += ld(&x->reg_locked);
	}
	if (!e->sxs)
		return;
	pthread_mutex_lock(&e->sxs->lock);
	ret->reg_bindings = e->sxs->nbindings;
	pthread_mutex_unlock(&e->sxs->lock);
}

/* ---- edge ---- */

void sigx_reply(struct sigx *x, const struct sip_msg *msg, uint16_t code, const char *reason)
{
	(void)sip_treplyf(NULL, NULL, x->sip, msg, false, code, reason,
			  "Server: %s\r\nContent-Length: 0\r\n\r\n", x->e->user_agent);
}

static bool trusted(const struct sigx *x, const struct sa *src)
{
	for (size_t i = 0; i < x->ntrusted; i++)
		if (sa_cmp(&x->trusted[i], src, SA_ADDR))
			return true;
	return false;
}

/* The source address as limiter key bytes. */
static size_t ip_key(const struct sa *src, uint8_t out[16])
{
	if (sa_af(src) == AF_INET) {
		memcpy(out, &src->u.in.sin_addr, 4);
		return 4;
	}
	memcpy(out, &src->u.in6.sin6_addr, 16);
	return 16;
}

static bool banned(struct sigx *x, const uint8_t *k, size_t kn, uint64_t now)
{
	return voice_limiter_hit(x->pike, k, kn, false, now) == VOICE_LIMIT_BANNED ||
	       sigx_auth_hit(x, x->sh->fail_ip, k, kn, false) == VOICE_LIMIT_BANNED;
}

bool sigx_edge_resp_h(const struct sip_msg *msg, void *arg)
{
	struct sigx *x = arg;
	if (trusted(x, &msg->src))
		return false;
	uint8_t k[16];
	size_t kn = ip_key(&msg->src, k);
	if (!banned(x, k, kn, sigx_now_us()))
		return false;
	atomic_fetch_add(&x->banned_dropped, 1);
	return true;
}

static bool is_ack(const struct sip_msg *msg)
{
	return pl_strcmp(&msg->met, "ACK") == 0;
}

/* Max-Forwards: absent is tolerated (RFC 3261 8.1.1.6 says SHOULD), 0 gets 483, junk 400. */
static int check_maxfwd(const struct sip_msg *msg)
{
	const struct pl *mf = &msg->maxfwd;
	if (!pl_isset(mf))
		return 0;
	if (mf->l == 0 || mf->l > 3)
		return 400;
	for (size_t i = 0; i < mf->l; i++)
		if (!isdigit((unsigned char)mf->p[i]))
			return 400;
	return pl_u32(mf) == 0 ? 483 : 0;
}

static bool edge_limits(struct sigx *x, const struct sip_msg *msg)
{
	uint8_t k[16];
	size_t kn = ip_key(&msg->src, k);
	uint64_t now = sigx_now_us();
	if (banned(x, k, kn, now)) {
		atomic_fetch_add(&x->banned_dropped, 1);
		return true;
	}
	/* initial requests only: a dialog's ACK, BYE and re-INVITE are not what scanners send */
	if (x->e->cfg.pike_reqs == 0 || pl_isset(&msg->to.tag))
		return false;
	int r = voice_limiter_hit(x->pike, k, kn, true, now);
	if (r == VOICE_LIMIT_TRIPPED)
		atomic_fetch_add(&x->bans, 1);
	if (r == VOICE_LIMIT_TRIPPED || r == VOICE_LIMIT_BANNED) {
		atomic_fetch_add(&x->rate_dropped, 1);
		return true;
	}
	return false;
}

bool sigx_edge_h(const struct sip_msg *msg, void *arg)
{
	struct sigx *x = arg;
	const struct sip_hdr *ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
	if (ua && voice_ua_listed(x->scanner, ua->val.p, ua->val.l)) {
		atomic_fetch_add(&x->scanner_dropped, 1);
		return true;
	}
	if (!trusted(x, &msg->src) && edge_limits(x, msg))
		return true;
	int mf = check_maxfwd(msg);
	if (mf) {
		atomic_fetch_add(&x->too_many_hops, 1);
		if (!is_ack(msg))
			sigx_reply(x, msg, (uint16_t)mf,
				   mf == 483 ? "Too Many Hops" : "Bad Request");
		return true;
	}
	if (msg->ruri.l > x->e->cfg.ruri_max) {
		atomic_fetch_add(&x->ruri_too_long, 1);
		if (!is_ack(msg))
			sigx_reply(x, msg, 414, "Request-URI Too Long");
		return true;
	}
	return false;
}

/* ---- owner API: users ---- */

static unsigned bucket(const char *s)
{
	unsigned h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h % SX_BUCKETS;
}

static bool hex_ok(const char *h, size_t len)
{
	if (!h)
		return true;
	if (strlen(h) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)h[i]))
			return false;
	return true;
}

static bool name_ok(const char *s, size_t cap)
{
	return s && *s && strlen(s) < cap && !strpbrk(s, "\"\\\r\n");
}

int voice_engine_add_user(struct voice_engine *e, const char *user, const char *realm,
			  const char *ha1_md5, const char *ha1_sha256)
{
	struct sigx_shared *x = e ? e->sxs : NULL;
	if (!x || !name_ok(user, 64) || (realm && !name_ok(realm, 64)) ||
	    (!ha1_md5 && !ha1_sha256) || !hex_ok(ha1_md5, 32) || !hex_ok(ha1_sha256, 64))
		return -EINVAL;
	struct sx_user *u = vx_zalloc(sizeof(*u));
	snprintf(u->user, sizeof(u->user), "%s", user);
	snprintf(u->realm, sizeof(u->realm), "%s", realm ? realm : x->realm);
	for (size_t i = 0; ha1_md5 && i < 32; i++)
		u->ha1_md5[i] = (char)tolower((unsigned char)ha1_md5[i]);
	for (size_t i = 0; ha1_sha256 && i < 64; i++)
		u->ha1_sha256[i] = (char)tolower((unsigned char)ha1_sha256[i]);
	(void)voice_engine_remove_user(e, user, realm);
	pthread_mutex_lock(&x->lock);
	unsigned b = bucket(u->user);
	u->next = x->users[b];
	x->users[b] = u;
	pthread_mutex_unlock(&x->lock);
	return 0;
}

int voice_engine_remove_user(struct voice_engine *e, const char *user, const char *realm)
{
	struct sigx_shared *x = e ? e->sxs : NULL;
	if (!x || !user)
		return -EINVAL;
	int r = -ENOENT;
	pthread_mutex_lock(&x->lock);
	for (struct sx_user **p = &x->users[bucket(user)]; *p; p = &(*p)->next) {
		struct sx_user *u = *p;
		if (strcmp(u->user, user) == 0 && strcmp(u->realm, realm ? realm : x->realm) == 0) {
			*p = u->next;
			vx_free(u);
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&x->lock);
	return r;
}

/* ---- owner API: commands ---- */

/* To the stack owning id (a call, or a trunk: trunks have stack 0's ids). */
static int push_cmd(struct voice_engine *e, uint64_t id, int type, void *cmd)
{
	int r = engine_sig_push(e, id, type, cmd);
	if (r < 0)
		vx_free(cmd);
	return r;
}

int voice_call_progress(struct voice_engine *e, uint64_t call)
{
	struct sig_cmd *c = vx_zalloc(sizeof(*c));
	c->call = call;
	return push_cmd(e, call, SIGX_PROGRESS, c);
}

int voice_call_sdp_hold(struct voice_engine *e, uint64_t call, bool hold)
{
	struct sig_cmd *c = vx_zalloc(sizeof(*c));
	c->call = call;
	c->code = hold;
	return push_cmd(e, call, SIGX_HOLD, c);
}

int voice_trunk_add(struct voice_engine *e, const struct voice_trunk *t, uint64_t *ret_id)
{
	if (!t || !t->uri || strncmp(t->uri, "sip:", 4) != 0)
		return -EINVAL;
	struct sigx_trunk_cmd *c = vx_zalloc(sizeof(*c));
	if (strlen(t->uri) >= sizeof(c->uri) || (t->user && strlen(t->user) >= sizeof(c->user)) ||
	    (t->password && strlen(t->password) >= sizeof(c->password)) ||
	    (t->register_expires && !t->user)) {
		vx_free(c);
		return -EINVAL;
	}
	c->id = engine_new_id(e, 0); /* trunks live on stack 0 */
	snprintf(c->uri, sizeof(c->uri), "%s", t->uri);
	snprintf(c->user, sizeof(c->user), "%s", t->user ? t->user : "");
	snprintf(c->password, sizeof(c->password), "%s", t->password ? t->password : "");
	c->register_expires = t->register_expires;
	c->ping_ms = t->ping_ms;
	c->down_after = t->down_after ? t->down_after : 2;
	uint64_t id = c->id;
	int r = push_cmd(e, id, SIGX_TRUNK_ADD, c);
	if (r == 0)
		*ret_id = id;
	return r;
}

int voice_trunk_remove(struct voice_engine *e, uint64_t id)
{
	struct sigx_trunk_cmd *c = vx_zalloc(sizeof(*c));
	c->id = id;
	return push_cmd(e, id, SIGX_TRUNK_DEL, c);
}
