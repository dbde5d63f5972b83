/* client.h: outbound HTTP for webhooks and callbacks (private to src/webhooks): the SSRF
   guard, signatures (Standard Webhooks, X-Twilio-Signature), form encoding, and a libcurl
   multi client that keeps hundreds of deliveries in flight on one thread. */
#ifndef IRISX_WEBHOOKS_CLIENT_H
#define IRISX_WEBHOOKS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/core.h"

/* ---- SSRF guard ---- */
#define URL_MAX 2048
/* True if an outbound connection to sa must be refused: 0/8, 10/8, 100.64/10, 127/8,
   169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.168/16, 198.18/15, 198.51.100/24,
   203.0.113/24, 224/4, 240/4, 255.255.255.255; ::, ::1, fc00::/7, fe80::/10, ff00::/8,
   2001:db8::/32, ::ffff:0:0/96 and 64:ff9b::/96 and ::/96 (judged by the embedded IPv4). */
bool ssrf_addr_blocked(const struct sockaddr *sa, socklen_t len);
/* Checks a tenant-given URL before it is stored or fetched: http or https only, a host,
   no user:password, at most URL_MAX bytes, no whitespace or control characters; a literal
   IP host in a blocked range is refused unless allow_private. 0, or -EINVAL with
   *ret_reason a static message. (Names are checked again at connect time.) */
int ssrf_check_url(const char *url, bool allow_private, const char **ret_reason);

/* ---- signatures ---- */
#define WHSEC_MAX 64
/* A new signing secret: "whsec_" + base64 of 24 random bytes. */
void whsig_secret_new(char out[WHSEC_MAX]);
/* Standard Webhooks v1: "v1," + base64(HMAC-SHA256(key, id "." ts "." body)) where key is
   the base64-decoded part of secret after "whsec_", appended to out. -EINVAL on a malformed
   secret. */
int whsig_sign(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
	       struct buf *out);
/* Verifies a webhook-signature header value (space-separated "v1,<sig>" entries) against
   secret; 0 if one matches (constant time), -EPERM if none, -EINVAL on a malformed secret. */
int whsig_verify(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
		 const char *header);

struct kv {
	const char *k, *v;
};
/* X-Twilio-Signature: base64(HMAC-SHA1(auth_token, url + concat of key+value over the
   params sorted by key (then value), as the twilio SDK's validateRequest expects). */
void twsig_sign(const char *auth_token, const char *url, const struct kv *p, size_t n,
		char out[32]);
/* application/x-www-form-urlencoded (RFC 3986 unreserved kept, everything else %XX). */
void form_encode(const struct kv *p, size_t n, struct buf *out);

/* Parses a Retry-After value: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850, asctime)
   relative to now_s. Returns seconds (>= 0, capped at 86400), or -EINVAL. */
int64_t retry_after_parse(const char *v, int64_t now_s);

/* ---- the client: libcurl multi on a thread of its own ---- */
struct whc;
struct whc_result {
	int status;	     /* HTTP status, 0 if no response */
	const char *error;   /* NULL on any HTTP response; else a static reason: "blocked_address",
				"connect_failed", "timeout", "dns_failed", "tls_failed",
				"too_large", "failed" (status stays set if the failure came
				after the status line, e.g. too_large) */
	uint64_t latency_us; /* from submit to the end */
	char *body;	     /* first 1 KB of the answer (NUL-terminated, may be "") */
	size_t body_len;
	int64_t retry_after_s; /* -1 if the answer had none (or it did not parse) */
};
/* Called on the client's thread exactly once per submitted request; must not block. */
typedef void(whc_done_cb)(const struct whc_result *r, void *arg);
struct whc_req {
	const char *url;
	const char *method;	    /* "POST" (default when NULL) or "GET" */
	const char *const *headers; /* NULL-terminated "Name: value" list, may be NULL */
	const char *body;
	size_t body_len;
	int connect_timeout_ms, timeout_ms; /* <= 0: 10 s and 30 s */
	bool allow_private;		    /* skip the SSRF address check (operator setting) */
	whc_done_cb *cb;
	void *arg;
};
/* Starts the client thread; max_inflight transfers run at once, more wait in a queue. */
int whc_new(int max_inflight, struct whc **ret);
/* Copies everything in req; cb is called later (also with error "failed" on shutdown for
   requests never started). 0 or -EINVAL (bad url, method or header); -ESHUTDOWN once
   whc_free has begun. The URL gets ssrf_check_url's checks except the address rule: every
   resolved address, literal or not, is checked at connect time ("blocked_address"). */
int whc_submit(struct whc *c, const struct whc_req *req);
/* Requests queued or in flight. */
int whc_pending(struct whc *c);
/* Stops: in-flight transfers are aborted and reported (error "failed"). NULL-safe. */
void whc_free(struct whc *c);

#endif
