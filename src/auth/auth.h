/* auth: password hashing (argon2id), access tokens (JWT HS256), API keys, roles. Pure: no I/O. */
#ifndef IRISX_AUTH_H
#define IRISX_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- roles, ordered by rank ---- */
enum role {
	ROLE_NONE = 0,
	ROLE_VIEWER,
	ROLE_AGENT,
	ROLE_DEVELOPER,
	ROLE_ADMIN,
	ROLE_OWNER,
	ROLE_PLATFORM_ADMIN
};
const char *role_name(enum role r);		  /* "viewer", ..., "platform_admin"; "none" */
enum role role_parse(const char *s);		  /* ROLE_NONE if unknown or NULL */
bool role_allows(enum role have, enum role need); /* have ranks >= need */

/* ---- passwords: argon2id PHC strings ---- */
struct pw_params {
	uint32_t t_cost, m_kib, parallelism;
};
#define PW_MIN_LEN 10
#define PW_MAX_LEN 256
/* Hashes pw with a random 16-byte salt, 32-byte tag. *ret is malloc'd PHC string. */
int pw_hash(const char *pw, const struct pw_params *p, char **ret);
/* 0 on match, -EACCES on mismatch, -EINVAL on a malformed hash. Sets *ret_rehash when the
   stored parameters differ from p. */
int pw_verify(const char *phc, const char *pw, const struct pw_params *p, bool *ret_rehash);
/* 0 if acceptable as a new password, else -EINVAL with a static reason. */
int pw_policy(const char *pw, const char **ret_reason);

/* ---- JWT HS256 access tokens ---- */
#define JWT_MAX_LEN 4096
struct jwt_key {
	const char *kid;
	const unsigned char *secret;
	size_t secret_len;
};
struct jwt_claims {
	char sub[64]; /* user id */
	char tid[64]; /* tenant id */
	char sid[64]; /* session (refresh family) id */
	char role[32];
	char iss[128];
	char aud[128];
	int64_t iat, nbf, exp; /* seconds */
};
/* Signs c with key (header {"alg":"HS256","typ":"JWT","kid":...}). *ret malloc'd. */
int jwt_sign(const struct jwt_claims *c, const struct jwt_key *key, char **ret);
/* Verifies token: header alg must be exactly HS256 (none and others rejected), kid selects
   one of keys[0..nkeys) (never the header's own key material), signature compared in
   constant time, iss/aud must equal, nbf <= now + leeway, exp > now - leeway.
   0 and *ret filled, or -EACCES (bad/expired/wrong audience), -EINVAL (malformed). */
int jwt_verify(const char *token, const struct jwt_key *keys, size_t nkeys, const char *iss,
	       const char *aud, int64_t now_s, int64_t leeway_s, struct jwt_claims *ret);

/* ---- API keys: irx_<kind>_<43 base62 chars: 32 random bytes>_<6 base62 CRC32> ---- */
#define APIKEY_MAX_LEN 96
#define APIKEY_PREFIX_LEN 16 /* shown in lists: "irx_live_" + first 7 chars of the random */
/* New key of kind ("live" or "test"). out gets the full secret; prefix the display prefix. */
int apikey_new(const char *kind, char out[APIKEY_MAX_LEN], char prefix[APIKEY_PREFIX_LEN + 1]);
/* True if s has the shape and its checksum matches (cheap rejection before any lookup). */
bool apikey_well_formed(const char *s);
/* SHA-256 hex of the key, for storage and lookup. */
void apikey_hash(const char *key, char out[65]);

/* ---- opaque tokens (refresh, reset, verification): 32 random bytes, base64url ---- */
#define TOKEN_LEN 44
void token_new(char out[TOKEN_LEN]);
void token_hash(const char *tok, char out[65]); /* SHA-256 hex */

#endif
