/* registrar.c: REGISTER for devices: digest challenges (MD5 and SHA-256) with stateless,
   single-use nonces, HA1 checks that take the same path for unknown users, failure limits
   per IP and per user name, and contact bindings with expiry. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigx.h"

enum { MAX_CONTACTS = 8, REPLY_MAX = 4096 };

static uint64_t now_s(void)
{
	return sigx_now_us() / 1000000;
}

static int copy_pl(char *dst, size_t cap, const struct pl *pl)
{
	if (!pl->p || pl->l >= cap)
		return -E2BIG;
	memcpy(dst, pl->p, pl->l);
	dst[pl->l] = '\0';
	return 0;
}

static bool ct_eq(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (n != strlen(b))
		return false;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* ---- bindings (under x->lock) ---- */

static unsigned bucket(const char *s)
{
	unsigned h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h % SX_BUCKETS;
}

static void emit_device(struct sigx *x, const char *user, const char *contact, uint32_t expires)
{
	struct voice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = VOICE_EV_DEVICE;
	ev.code = (int)expires;
	snprintf(ev.from, sizeof(ev.from), "%s", user);
	snprintf(ev.to, sizeof(ev.to), "%s", contact);
	engine_emit(x->e, &ev);
}

/* Unlinks the expired bindings of a bucket. */
static void sweep(struct sigx_shared *x, unsigned b, uint64_t now)
{
	for (struct sx_binding **p = &x->bindings[b]; *p;) {
		struct sx_binding *bd = *p;
		if (bd->expires_us > now) {
			p = &bd->next;
			continue;
		}
		*p = bd->next;
		x->nbindings--;
		vx_free(bd);
	}
}

static void unbind(struct sigx_shared *x, const char *user, const char *contact)
{
	for (struct sx_binding **p = &x->bindings[bucket(user)]; *p;) {
		struct sx_binding *bd = *p;
		if (strcmp(bd->user, user) != 0 || (contact && strcmp(bd->contact, contact) != 0)) {
			p = &bd->next;
			continue;
		}
		*p = bd->next;
		x->nbindings--;
		vx_free(bd);
	}
}

static int bind_contact(struct sigx_shared *x, unsigned stack, const char *user,
			const char *contact, uint32_t expires, uint64_t now)
{
	unsigned b = bucket(user);
	struct sx_binding *oldest = NULL;
	unsigned mine = 0;
	for (struct sx_binding *bd = x->bindings[b]; bd; bd = bd->next) {
		if (strcmp(bd->user, user) != 0)
			continue;
		if (strcmp(bd->contact, contact) == 0) {
			bd->expires_us = now + (uint64_t)expires * 1000000;
			bd->stack = stack;
			return 0;
		}
		mine++;
		if (!oldest || bd->bound_us < oldest->bound_us)
			oldest = bd;
	}
	if (mine >= SX_CONTACTS_PER_USER && oldest) {
		unbind(x, user, oldest->contact);
	} else if (x->nbindings >= SX_BINDINGS_MAX) {
		return -ENOSPC;
	}
	struct sx_binding *bd = vx_zalloc(sizeof(*bd));
	snprintf(bd->user, sizeof(bd->user), "%s", user);
	snprintf(bd->contact, sizeof(bd->contact), "%s", contact);
	bd->bound_us = now;
	bd->expires_us = now + (uint64_t)expires * 1000000;
	bd->stack = stack;
	bd->next = x->bindings[b];
	x->bindings[b] = bd;
	x->nbindings++;
	return 0;
}

static const struct sx_binding *newest(struct sigx_shared *x, const char *user, uint64_t now)
{
	const struct sx_binding *best = NULL;
	for (const struct sx_binding *bd = x->bindings[bucket(user)]; bd; bd = bd->next)
		if (strcmp(bd->user, user) == 0 && bd->expires_us > now &&
		    (!best || bd->bound_us > best->bound_us))
			best = bd;
	return best;
}

/* The newest live contact of user into out (may be NULL) and the stack it came through. */
static int contact_of(struct sigx_shared *x, const char *user, char *out, size_t cap,
		      unsigned *ret_stack)
{
	int r = -ENOENT;
	pthread_mutex_lock(&x->lock);
	const struct sx_binding *bd = newest(x, user, sigx_now_us());
	if (bd && (!out || strlen(bd->contact) < cap)) {
		if (out)
			snprintf(out, cap, "%s", bd->contact);
		if (ret_stack)
			*ret_stack = bd->stack;
		r = 0;
	} else if (bd) {
		r = -E2BIG;
	}
	pthread_mutex_unlock(&x->lock);
	return r;
}

int voice_engine_device_contact(struct voice_engine *e, const char *user, char *out, size_t cap)
{
	if (!e || !e->sxs || !user || !out)
		return -EINVAL;
	return contact_of(e->sxs, user, out, cap, NULL);
}

static bool our_port(const struct voice_engine *e, unsigned port)
{
	for (unsigned i = 0; i < e->nsig; i++)
		if (port == e->sig[i].sip_port)
			return true;
	return false;
}

/* The registered user a dial goes to: "device:user", or sip:user@realm with no port or one
   of our stacks' ports (a device may have registered through any of them). */
static int aor_user(const struct voice_engine *e, const char *uri, char user[64])
{
	if (strncmp(uri, "device:", 7) == 0) {
		if (strlen(uri + 7) >= 64)
			return -ENOENT;
		snprintf(user, 64, "%s", uri + 7);
		return 0;
	}
	const char *at = strchr(uri + 4, '@');
	if (!at || (size_t)(at - uri - 4) >= 64)
		return -ENOENT;
	memcpy(user, uri + 4, (size_t)(at - uri - 4));
	user[at - uri - 4] = '\0';
	const char *host = at + 1, *realm = e->sxs->realm;
	size_t hl = strcspn(host, ":;?>");
	if (hl != strlen(realm) || strncmp(host, realm, hl) != 0)
		return -ENOENT;
	if (host[hl] == ':' && !our_port(e, (unsigned)atoi(host + hl + 1)))
		return -ENOENT;
	return 0;
}

int registrar_resolve(struct sigx *x, const char *uri, char *out, size_t cap)
{
	char user[64];
	int r = aor_user(x->e, uri, user);
	return r < 0 ? r : contact_of(x->sh, user, out, cap, NULL);
}

int registrar_stack(struct voice_engine *e, const char *uri, unsigned *ret_idx)
{
	char user[64];
	int r = aor_user(e, uri, user);
	return r < 0 ? r : contact_of(e->sxs, user, NULL, 0, ret_idx);
}

/* ---- digest ---- */

static void challenge(struct sigx *x, const struct sip_msg *msg, bool stale)
{
	char nonce[65], sha[384] = "";
	voice_nonce_make(x->sh->nonce_key, x->sh->realm, now_s(), nonce);
	const char *st = stale ? ", stale=true" : "";
	/* off by default: libre 1.1.0's client (so baresip 1.0) fails on any non-MD5 challenge */
	if (x->e->cfg.reg_offer_sha256)
		snprintf(sha, sizeof(sha),
			 "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", opaque=\"%s\", "
			 "algorithm=SHA-256, qop=\"auth\"%s\r\n",
			 x->sh->realm, nonce, x->sh->opaque, st);
	(void)sip_treplyf(NULL, NULL, x->sip, msg, false, 401, "Unauthorized",
			  "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", opaque=\"%s\", "
			  "algorithm=MD5, qop=\"auth\"%s\r\n%s"
			  "Server: %s\r\nContent-Length: 0\r\n\r\n",
			  x->sh->realm, nonce, x->sh->opaque, st, sha, x->e->user_agent);
}

struct auth_find {
	struct sigx *x;
	struct voice_digest d;
	bool found, bad;
};

static bool auth_hdr_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct auth_find *f = arg;
	int r = voice_digest_parse(hdr->val.p, hdr->val.l, &f->d);
	if (r == -EINVAL || r == -E2BIG)
		f->bad = true;
	if (r < 0 || strcmp(f->d.realm, f->x->sh->realm) != 0)
		return false;
	f->found = true;
	return true;
}

/* The user's HA1, or the engine's dummy one (the same work follows, and never matches). */
static bool lookup_ha1(struct sigx *x, const char *user, enum voice_digest_alg alg, char out[65])
{
	struct sigx_shared *sh = x->sh;
	bool found = false;
	pthread_mutex_lock(&sh->lock);
	for (const struct sx_user *u = sh->users[bucket(user)]; u; u = u->next) {
		if (strcmp(u->user, user) != 0 || strcmp(u->realm, sh->realm) != 0)
			continue;
		const char *h = alg == VOICE_DIGEST_SHA256 ? u->ha1_sha256 : u->ha1_md5;
		if (*h) {
			snprintf(out, 65, "%s", h);
			found = true;
		}
		break;
	}
	pthread_mutex_unlock(&sh->lock);
	if (!found && x->e->cfg.auth_lookup)
		found =
		    x->e->cfg.auth_lookup(x->e->cfg.auth_arg, user, sh->realm, (int)alg, out) == 0;
	if (!found)
		snprintf(out, 65, "%s",
			 alg == VOICE_DIGEST_SHA256 ? sh->dummy_sha256 : sh->dummy_md5);
	return found;
}

static void auth_failed(struct sigx *x, const struct sip_msg *msg, const char *user)
{
	uint8_t k[16];
	size_t kn;
	if (sa_af(&msg->src) == AF_INET) {
		memcpy(k, &msg->src.u.in.sin_addr, 4);
		kn = 4;
	} else {
		memcpy(k, &msg->src.u.in6.sin6_addr, 16);
		kn = 16;
	}
	if (sigx_auth_hit(x, x->sh->fail_ip, k, kn, true) == VOICE_LIMIT_TRIPPED)
		atomic_fetch_add(&x->bans, 1);
	(void)sigx_auth_hit(x, x->sh->fail_user, user, strlen(user), true);
	atomic_fetch_add(&x->reg_failed, 1);
	challenge(x, msg, false);
}

enum verdict { AUTH_OK, AUTH_REPLIED };

/* Checks the credentials; on anything but success the reply has been sent. */
static enum verdict authenticate(struct sigx *x, const struct sip_msg *msg, const char *user)
{
	struct auth_find f = {.x = x};
	(void)sip_msg_hdr_apply(msg, true, SIP_HDR_AUTHORIZATION, auth_hdr_h, &f);
	if (!f.found) {
		if (f.bad) {
			sigx_reply(x, msg, 400, "Bad Request");
		} else {
			atomic_fetch_add(&x->reg_challenged, 1);
			challenge(x, msg, false);
		}
		return AUTH_REPLIED;
	}
	struct voice_digest *d = &f.d;
	int nr = voice_nonce_check(x->sh->nonce_key, x->sh->realm, d->nonce, now_s(),
				   x->e->cfg.nonce_ttl_s ? x->e->cfg.nonce_ttl_s : 300);
	if (nr == -EINVAL || (*d->opaque && strcmp(d->opaque, x->sh->opaque) != 0)) {
		auth_failed(x, msg, user);
		return AUTH_REPLIED;
	}
	/* stale depends on the nonce alone, never on the user: expired, or used before */
	if (nr == -ETIMEDOUT ||
	    sigx_auth_hit(x, x->sh->nonces, d->nonce, strlen(d->nonce), true) != VOICE_LIMIT_OK) {
		atomic_fetch_add(&x->reg_stale, 1);
		challenge(x, msg, true);
		return AUTH_REPLIED;
	}
	char ha1[65], want[65];
	bool known = lookup_ha1(x, d->username, d->alg, ha1);
	for (char *p = d->response; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	bool ok = voice_digest_expected(d, ha1, "REGISTER", want) == 0 && ct_eq(want, d->response);
	if (!ok || !known || strcmp(d->username, user) != 0) {
		auth_failed(x, msg, user);
		return AUTH_REPLIED;
	}
	return AUTH_OK;
}

/* ---- contacts ---- */

struct contacts {
	struct {
		char uri[256];
		uint32_t expires;
	} c[MAX_CONTACTS];
	size_t n;
	bool star;
	uint16_t err;
	const struct voice_config *cfg;
};

static bool contact_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct contacts *cl = arg;
	if (pl_strcmp(&hdr->val, "*") == 0) {
		cl->star = true;
		return false;
	}
	struct sip_addr a;
	struct pl v;
	if (cl->n == MAX_CONTACTS || sip_addr_decode(&a, &hdr->val) != 0 ||
	    copy_pl(cl->c[cl->n].uri, sizeof(cl->c[0].uri), &a.auri) < 0 ||
	    strchr(cl->c[cl->n].uri, '"')) {
		cl->err = 400;
		return true;
	}
	uint32_t exp = cl->cfg->reg_default_expires;
	if (msg_param_decode(&a.params, "expires", &v) == 0)
		exp = pl_u32(&v);
	else if (pl_isset(&msg->expires))
		exp = pl_u32(&msg->expires);
	if (exp && exp < cl->cfg->reg_min_expires) {
		cl->err = 423;
		return true;
	}
	if (exp > cl->cfg->reg_max_expires)
		exp = cl->cfg->reg_max_expires;
	cl->c[cl->n++].expires = exp;
	return false;
}

static void reply_ok(struct sigx *x, const struct sip_msg *msg, const char *user)
{
	char hdrs[REPLY_MAX];
	size_t o = 0;
	uint64_t now = sigx_now_us();
	pthread_mutex_lock(&x->sh->lock);
	sweep(x->sh, bucket(user), now);
	for (const struct sx_binding *bd = x->sh->bindings[bucket(user)]; bd; bd = bd->next) {
		if (strcmp(bd->user, user) != 0 || o + 300 >= sizeof(hdrs))
			continue;
		int n =
		    snprintf(hdrs + o, sizeof(hdrs) - o, "Contact: <%s>;expires=%llu\r\n",
			     bd->contact, (unsigned long long)((bd->expires_us - now) / 1000000));
		if (n > 0 && (size_t)n < sizeof(hdrs) - o)
			o += (size_t)n;
	}
	pthread_mutex_unlock(&x->sh->lock);
	hdrs[o] = '\0';
	atomic_fetch_add(&x->reg_ok, 1);
	(void)sip_treplyf(NULL, NULL, x->sip, msg, false, 200, "OK",
			  "%sServer: %s\r\nContent-Length: 0\r\n\r\n", hdrs, x->e->user_agent);
}

static uint16_t apply(struct sigx *x, const struct sip_msg *msg, const char *user)
{
	struct contacts cl;
	memset(&cl, 0, sizeof(cl));
	cl.cfg = &x->e->cfg;
	(void)sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_h, &cl);
	if (cl.err)
		return cl.err;
	if (cl.star && (cl.n || !pl_isset(&msg->expires) || pl_u32(&msg->expires) != 0))
		return 400;
	uint64_t now = sigx_now_us();
	int r = 0;
	pthread_mutex_lock(&x->sh->lock);
	if (cl.star)
		unbind(x->sh, user, NULL);
	for (size_t i = 0; i < cl.n && r == 0; i++)
		r = cl.c[i].expires
			? bind_contact(x->sh, x->idx, user, cl.c[i].uri, cl.c[i].expires, now)
			: (unbind(x->sh, user, cl.c[i].uri), 0);
	pthread_mutex_unlock(&x->sh->lock);
	if (cl.star)
		emit_device(x, user, "*", 0);
	for (size_t i = 0; i < cl.n; i++)
		emit_device(x, user, cl.c[i].uri, cl.c[i].expires);
	return r < 0 ? 503 : 0;
}

bool registrar_h(const struct sip_msg *msg, void *arg)
{
	struct sigx *x = arg;
	if (pl_strcmp(&msg->met, "REGISTER") != 0)
		return false;
	char user[64];
	if (copy_pl(user, sizeof(user), &msg->to.uri.user) < 0 || !*user) {
		sigx_reply(x, msg, 400, "Bad Request");
		return true;
	}
	/* a user name (known or not) with too many failures is refused for a while */
	if (sigx_auth_hit(x, x->sh->fail_user, user, strlen(user), false) == VOICE_LIMIT_BANNED) {
		atomic_fetch_add(&x->reg_locked, 1);
		sigx_reply(x, msg, 403, "Forbidden");
		return true;
	}
	if (authenticate(x, msg, user) != AUTH_OK)
		return true;
	uint16_t err = apply(x, msg, user);
	if (err == 423) {
		(void)sip_treplyf(NULL, NULL, x->sip, msg, false, 423, "Interval Too Brief",
				  "Min-Expires: %u\r\nServer: %s\r\nContent-Length: 0\r\n\r\n",
				  x->e->cfg.reg_min_expires, x->e->user_agent);
	} else if (err) {
		sigx_reply(x, msg, err, err == 400 ? "Bad Request" : "Service Unavailable");
	} else {
		reply_ok(x, msg, user);
	}
	return true;
}
