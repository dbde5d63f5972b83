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

static int make_limiters(struct sigx *x, const struct voice_config *c)
{
	uint64_t ban = (uint64_t)c->ban_s * 1000000;
	uint64_t fail_win =
	    (uint64_t)(c->auth_fail_window_s ? c->auth_fail_window_s : 300) * 1000000;
	uint64_t ttl = (uint64_t)(c->nonce_ttl_s ? c->nonce_ttl_s : 300) * 1000000;
	int r = voice_limiter_alloc(c->pike_reqs,
				    (uint64_t)(c->pike_window_ms ? c->pike_window_ms : 2000) * 1000,
				    ban, PIKE_CAP, &x->pike);
	if (r == 0)
		r = voice_limiter_alloc(c->auth_fail_ip_max, fail_win, ban, FAIL_CAP, &x->fail_ip);
	if (r == 0)
		r = voice_limiter_alloc(c->auth_fail_user_max, fail_win, ban, FAIL_CAP,
					&x->fail_user);
	/* a nonce is good once: the second use within its lifetime trips the limit */
	if (r == 0)
		r = voice_limiter_alloc(1, ttl, ttl, NONCE_CAP, &x->nonces);
	return r;
}

int sigx_alloc(struct voice_engine *e, struct sigx **ret)
{
	const struct voice_config *c = &e->cfg;
	struct sigx *x = vx_zalloc(sizeof(*x));
	x->e = e;
	pthread_mutex_init(&x->lock, NULL);
	list_init(&x->trunks);
	const char *realm = c->realm ? c->realm : e->sip_addr;
	const char *scanner = c->scanner_agents ? c->scanner_agents : VOICE_SCANNER_AGENTS;
	int r = -EINVAL;
	if (!*realm || strlen(realm) >= sizeof(x->realm) || strchr(realm, '"') ||
	    strlen(scanner) >= sizeof(x->scanner) || parse_trusted(x, c->trusted_ips) < 0)
		goto fail;
	snprintf(x->realm, sizeof(x->realm), "%s", realm);
	snprintf(x->scanner, sizeof(x->scanner), "%s", scanner);
	vx_rand(x->nonce_key, sizeof(x->nonce_key));
	uint8_t b[32];
	vx_rand(b, 16);
	hex(b, 16, x->opaque);
	vx_rand(b, 32);
	hex(b, 16, x->dummy_md5);
	hex(b, 32, x->dummy_sha256);
	if ((r = make_limiters(x, c)) < 0)
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
	for (size_t i = 0; i < SX_BUCKETS; i++) {
		for (struct sx_user *u = x->users[i], *n; u; u = n) {
			n = u->next;
			vx_free(u);
		}
		for (struct sx_binding *b = x->bindings[i], *n; b; b = n) {
			n = b->next;
			vx_free(b);
		}
	}
	voice_limiter_free(x->pike);
	voice_limiter_free(x->fail_ip);
	voice_limiter_free(x->fail_user);
	voice_limiter_free(x->nonces);
	pthread_mutex_destroy(&x->lock);
	vx_free(x);
}

void sigx_stats(struct voice_engine *e, struct voice_stats *ret)
{
	struct sigx *x = e->sx;
	if (!x)
		return;
	ret->sip_scanner_dropped = atomic_load(&x->scanner_dropped);
	ret->sip_rate_dropped = atomic_load(&x->rate_dropped);
	ret->sip_banned_dropped = atomic_load(&x->banned_dropped);
	ret->sip_bans = atomic_load(&x->bans);
	ret->sip_too_many_hops = atomic_load(&x->too_many_hops);
	ret->sip_ruri_too_long = atomic_load(&x->ruri_too_long);
	ret->reg_ok = atomic_load(&x->reg_ok);
	ret->reg_challenged = atomic_load(&x->reg_challenged);
	ret->reg_failed = atomic_load(&x->reg_failed);
	ret->reg_stale = atomic_load(&x->reg_stale);
	ret->reg_locked = atomic_load(&x->reg_locked);
	pthread_mutex_lock(&x->lock);
	ret->reg_bindings = x->nbindings;
	pthread_mutex_unlock(&x->lock);
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
	       voice_limiter_hit(x->fail_ip, k, kn, false, now) == VOICE_LIMIT_BANNED;
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
	struct sigx *x = e ? e->sx : NULL;
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
	struct sigx *x = e ? e->sx : NULL;
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

static int push_cmd(struct voice_engine *e, int type, void *cmd)
{
	int r = mqueue_push(e->sig_mq, type, cmd);
	if (r) {
		vx_free(cmd);
		return -r;
	}
	return 0;
}

int voice_call_progress(struct voice_engine *e, uint64_t call)
{
	struct sig_cmd *c = vx_zalloc(sizeof(*c));
	c->call = call;
	return push_cmd(e, SIGX_PROGRESS, c);
}

int voice_call_sdp_hold(struct voice_engine *e, uint64_t call, bool hold)
{
	struct sig_cmd *c = vx_zalloc(sizeof(*c));
	c->call = call;
	c->code = hold;
	return push_cmd(e, SIGX_HOLD, c);
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
	c->id = atomic_fetch_add(&e->next_call, 1);
	snprintf(c->uri, sizeof(c->uri), "%s", t->uri);
	snprintf(c->user, sizeof(c->user), "%s", t->user ? t->user : "");
	snprintf(c->password, sizeof(c->password), "%s", t->password ? t->password : "");
	c->register_expires = t->register_expires;
	c->ping_ms = t->ping_ms;
	c->down_after = t->down_after ? t->down_after : 2;
	uint64_t id = c->id;
	int r = push_cmd(e, SIGX_TRUNK_ADD, c);
	if (r == 0)
		*ret_id = id;
	return r;
}

int voice_trunk_remove(struct voice_engine *e, uint64_t id)
{
	struct sigx_trunk_cmd *c = vx_zalloc(sizeof(*c));
	c->id = id;
	return push_cmd(e, SIGX_TRUNK_DEL, c);
}
