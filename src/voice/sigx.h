/* sigx.h: what the signalling extras share (edge checks, registrar, trunks); private to the
   libre side of src/voice. Each signalling stack has its struct sigx (its sip stack, its
   per-IP rate limiter, its counters; trunks on stack 0 only); users, bindings, the digest
   keys and the authentication limiters are one struct sigx_shared, any thread, under lock. */
#ifndef IRISX_VOICE_SIGX_H
#define IRISX_VOICE_SIGX_H

#include <pthread.h>
#include <re.h>
#include <stdatomic.h>

#include "internal.h"

enum { SX_BUCKETS = 256, SX_TRUSTED_MAX = 16, SX_CONTACTS_PER_USER = 4, SX_BINDINGS_MAX = 20000 };

/* Commands of the extras on the signalling queue (ids clear of enum sig_cmd_type). */
enum sigx_cmd_type {
	SIGX_PROGRESS = 100,
	SIGX_HOLD,
	SIGX_TRUNK_ADD,
	SIGX_TRUNK_DEL,
};

struct sx_user {
	struct sx_user *next;
	char user[64], realm[64];
	char ha1_md5[33], ha1_sha256[65];
};

struct sx_binding {
	struct sx_binding *next;
	char user[64], contact[256];
	uint64_t expires_us, bound_us;
	unsigned stack; /* the stack the REGISTER came through: dials to the device go there */
};

struct sigx_trunk_cmd {
	uint64_t id;
	char uri[256], user[64], password[128];
	unsigned register_expires, ping_ms, down_after;
};

/* One per engine, made before the stacks start: a device registered through any stack can
   be dialled from any, a nonce is good once on all ports, and authentication failures count
   across them (a guesser gains nothing by spreading over the ports). */
struct sigx_shared {
	pthread_mutex_t lock; /* users and bindings */
	struct sx_user *users[SX_BUCKETS];
	struct sx_binding *bindings[SX_BUCKETS];
	size_t nbindings;

	char realm[64];
	uint8_t nonce_key[32];
	char opaque[33];
	char dummy_md5[33], dummy_sha256[65]; /* HA1 of unknown users: same work, never matches */

	pthread_mutex_t lim_lock; /* the three limiters (never taken with lock held) */
	struct voice_limiter *fail_ip, *fail_user, *nonces;
};

struct sigx {
	struct voice_engine *e;
	struct sigx_shared *sh;
	unsigned idx; /* the stack's index */
	char scanner[512];

	/* this stack's thread only; the per-IP rate and its bans are per stack (per port) */
	struct sip *sip;
	struct voice_limiter *pike;
	struct sa trusted[SX_TRUSTED_MAX];
	size_t ntrusted;
	struct list trunks;

	atomic_uint_fast64_t scanner_dropped, rate_dropped, banned_dropped, bans, too_many_hops,
	    ruri_too_long, reg_ok, reg_challenged, reg_failed, reg_stale, reg_locked;
};

/* sigx.c */
int sigx_alloc(struct voice_engine *e, unsigned idx, struct sigx **ret);
void sigx_free(struct sigx *x);
uint64_t sigx_now_us(void);
/* voice_limiter_hit on one of the shared limiters, under its lock */
int sigx_auth_hit(struct sigx *x, struct voice_limiter *l, const void *key, size_t n, bool count);
/* edge checks on every request and response; true if the message is dropped or answered */
bool sigx_edge_h(const struct sip_msg *msg, void *arg);
bool sigx_edge_resp_h(const struct sip_msg *msg, void *arg);
void sigx_reply(struct sigx *x, const struct sip_msg *msg, uint16_t code, const char *reason);

/* registrar.c */
bool registrar_h(const struct sip_msg *msg, void *arg);
/* the contact to dial for "device:user" or for an AOR on our realm; -ENOENT if none */
int registrar_resolve(struct sigx *x, const char *uri, char *out, size_t cap);

/* trunk.c: on stack 0 only (its REGISTERs and pings leave from sip_port) */
void trunk_add(struct sigx *x, struct sigx_trunk_cmd *cmd);
void trunk_del(struct sigx *x, uint64_t id);
void trunk_close_all(struct sigx *x);

#endif
