/* http: the API server (libmicrohttpd), route table matching, request context, and the
   middleware every route passes through: auth, roles, rate limits, idempotency, audit,
   request log and metrics. */
#ifndef IRISX_HTTP_H
#define IRISX_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "auth/auth.h"
#include "core/core.h"
#include "store/store.h"

struct http_req;
struct http_server;
struct ratelimit;
struct keyring;
struct metrics;
struct bus;
struct webhooks;
struct messaging;

/* Handler: sets the response with http_reply()/http_error(), or returns a negative errno
   that the server maps to an error response (ENOENT 404, EEXIST 409, EINVAL 400, ...). */
typedef int(http_handler_fn)(struct http_req *req);

enum route_flags {
	ROUTE_CREATE = 1,	/* honours Idempotency-Key */
	ROUTE_RAW = 2,		/* handler writes a non-JSON body (metrics, openapi) */
	ROUTE_NO_LOG = 4,	/* health probes: no request log line */
	ROUTE_BODY = 8,		/* takes a JSON body (other routes refuse any field) */
	ROUTE_AUTH_CHANGE = 16, /* a success changes who may do what: drop cached principals */
	ROUTE_ANY_BODY = 32,	/* raw body of any type (providers' webhooks): not parsed */
	ROUTE_FORM = 64,	/* a form body (Twilio-compatible routes), parsed into req->json */
	/* never holds its thread for long once its write is queued (http_write_async), so in
	   pool mode on SQLite it runs on the epoll thread (so do GET and HEAD routes without
	   ROUTE_RAW or ROUTE_WORKER); every other route runs on a worker thread, suspended
	   meanwhile */
	ROUTE_INLINE = 128,
	ROUTE_WORKER = 256, /* a GET that may write (made on first use): on a worker thread */
};

struct route {
	const char *method;
	const char *path; /* segments; "{name}" matches one segment */
	http_handler_fn *handler;
	enum role role;	    /* ROLE_NONE: no authentication */
	size_t body_limit;  /* bytes; 0: http.max_body_bytes */
	const char *action; /* audit action for mutating routes, e.g. "api_key.create" */
	unsigned flags;
	const char *summary; /* one line, also in the OpenAPI document */
};

/* Shared services every handler reaches through req->app. */
struct app {
	struct config *cfg;
	struct store *st;
	struct keyring *keys;
	struct ratelimit *rl;	  /* per API key / user and per tenant */
	struct ratelimit *logins; /* failed logins per IP and per account */
	struct metrics *metrics;
	struct bus *bus;	     /* jobs and events */
	struct webhooks *webhooks;   /* the deliverer (NULL when this node does not run it) */
	struct messaging *messaging; /* the SMS / e-mail worker (NULL when not run here) */
	struct price_cache *prices;  /* the rate decks in memory, for prices at acceptance */
	struct pw_params pw;
	const struct route *routes;
	size_t nroutes;
};

#define HTTP_MAX_PARAMS 4

/* Who is calling, resolved by the auth middleware. */
struct principal {
	char tenant_id[ID_LEN + 1];
	char actor_id[ID_LEN + 1];
	const char *actor_type; /* "user" | "api_key" */
	char session_id[ID_LEN + 1];
	enum role role;
	bool platform_admin;
	int tenant_rps, tenant_burst, key_rps, key_burst;
};

struct http_req {
	struct app *app;
	const struct route *route;
	const char *method;
	const char *path;
	const char *params[HTTP_MAX_PARAMS]; /* path parameters in order */
	char *body;
	size_t body_len;
	json_t *json; /* parsed body ({} when empty) */
	char request_id[ID_LEN + 1];
	char ip[64];
	bool authed;
	struct principal who;
	void *conn; /* struct MHD_Connection *, or test data */
	/* kind 0: header, 1: query argument */
	const char *(*lookup)(struct http_req *req, int kind, const char *name);
	uint64_t start_us;

	/* response */
	int status;
	json_t *resp;
	char *raw;	      /* ROUTE_RAW body */
	const char *raw_type; /* its Content-Type */
	size_t raw_len;	      /* raw's length when it is binary (0: strlen) */
	int raw_fd;	      /* > 0: the body is this file (closed after), raw_len bytes from */
	uint64_t raw_off;     /* raw_off (audio downloads, Range answers) */
	char resource_id[ID_LEN + 1];
	char audit_tenant[ID_LEN + 1]; /* set when the actor's tenant is not the caller's */
	char audit_actor[ID_LEN + 1];  /* set when the request has no authenticated actor */
	bool audited;		       /* audit row already written in the handler's transaction */
	bool commit_on_error;	       /* http_write commits even though fn answered >= 400 */
	bool replayed;		       /* answered from a stored idempotent response */
	const char *idem_key;
	char idem_hash[65];
	json_t *headers; /* extra response headers: {"Name": "value"} */

	/* set by the server when the request may be answered later (http.threads > 0): called
	   once, from any thread, when a pending request's answer is ready */
	void (*resume)(struct http_req *req);
	bool pending; /* a handler queued its write (http_write_async): the answer comes later */
};

/* ---- server ---- */
int http_server_start(struct app *app, struct http_server **ret);
void http_server_stop(struct http_server *srv);
/* Runs a parsed request through the middleware and its handler (no sockets involved:
   headers and query come through req->lookup). */
void http_dispatch(struct http_req *req);

/* ---- routing ---- */
/* Finds the route for method + path. Returns it, or NULL with *ret_status 404 or 405. */
const struct route *http_route_match(const struct route *routes, size_t n, const char *method,
				     const char *path, const char *params[HTTP_MAX_PARAMS],
				     char *buf, size_t bufsz, int *ret_status);

/* Methods routed for path, as an Allow header value ("GET, POST"). */
void http_route_allow(const struct route *routes, size_t n, const char *path, struct buf *out);

/* ---- responses ---- */
int http_reply(struct http_req *req, int status, json_t *body); /* steals body; returns 0 */
/* Paths under this prefix are the Twilio-compatible API: http_error answers in Twilio's
   shape {code, message, more_info, status} with http_twilio_code's number. */
#define HTTP_TWILIO_PREFIX "/2010-04-01/"
int http_twilio_code(int status, const char *code, const char *field);
int http_error(struct http_req *req, int status, const char *code, const char *message,
	       const char *field); /* returns 0 so handlers can `return http_error(...)` */
int http_status_of(int err);	   /* negative errno -> HTTP status */
const char *http_code_of(int status);
void http_header(struct http_req *req, const char *name, const char *value);
const char *http_get_header(struct http_req *req, const char *name);
const char *http_get_query(struct http_req *req, const char *name);
/* Validates req->json against fields; on failure answers 400 naming the field and
   returns -EINVAL (handler then returns 0). */
int http_check_body(struct http_req *req, const struct json_field *fields);
/* Reads ?limit= and ?cursor=; on a bad value answers 400 and returns -EINVAL. */
int http_page_params(struct http_req *req, int *ret_limit, const char **ret_cursor);
/* Builds {"data": rows[0..limit), "next_cursor": id|null}; steals rows. */
json_t *http_page(json_t *rows, int limit, json_t *(*present)(json_t *row));

/* ---- writes: audit + idempotency in the same transaction as the change ---- */
/* Runs fn in a write transaction scoped to tenant_id. fn sets the response (http_reply) and
   req->resource_id. In the same transaction the audit entry is written and, for
   ROUTE_CREATE with an Idempotency-Key, the response is stored (or a stored one replayed
   and fn not run). Returns fn's result or a store error. */
int http_write(struct http_req *req, const char *tenant_id, store_tx_fn *fn, void *arg);
/* What a handler does once its write is over: r is what http_write returned; returns the
   handler's result. Runs on the store's completion thread when the write was queued. */
typedef int(http_after_cb)(struct http_req *req, void *arg, int r);
/* http_write, then after(req, after_arg, r), without holding the server's thread while the
   write commits: when the server can answer later (req->resume set), the transaction is
   queued, req->pending set and 0 returned at once; the handler returns that and touches
   neither req nor fn's argument again. When the transaction is over, after runs (on the
   store's completion thread: quick, no waiting for another write), the request is concluded as
   http_dispatch would have, and the server answers. Otherwise (a thread per connection,
   tests, a store closing) http_write and after run now and after's result is returned.
   fn must be replayable (STORE_REPLAY: it may run again after a rollback, setting the
   response and its outputs afresh). One per request. */
int http_write_async(struct http_req *req, const char *tenant_id, store_tx_fn *fn, void *arg,
		     http_after_cb *after, void *after_arg);
/* Writes the audit entry for req now (outside any handler transaction). */
void http_audit(struct http_req *req, const char *tenant_id, const char *actor_id);

/* ---- auth middleware pieces, shared with the auth handlers ---- */
/* cache_ms: how long a looked-up principal may be reused (0: never). */
struct keyring *keyring_new(struct store *st, int cache_ms);
/* Drops every cached principal (after a change to keys, sessions, users or tenants). */
void http_auth_invalidate(struct keyring *k);
void keyring_free(struct keyring *k);
int keyring_load(struct keyring *k); /* (re)reads keys; creates one if none */
int keyring_rotate(struct store *st, char kid_out[ID_LEN + 1]);
int keyring_sign(struct keyring *k, const struct jwt_claims *c, char **ret);
int keyring_verify(struct keyring *k, const char *token, const char *iss, const char *aud,
		   struct jwt_claims *ret);
int http_authenticate(struct http_req *req); /* 0, or answered 401/403 and returns -EACCES */

/* ---- rate limiting: token buckets keyed by string ---- */
struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);
struct rl_result {
	bool allowed;
	int limit, remaining, reset_s, retry_after_s;
};
/* Takes cost tokens from key's bucket (rate per second, burst capacity). */
void ratelimit_take(struct ratelimit *rl, const char *key, double rate, int burst, double cost,
		    struct rl_result *ret);
/* Peeks without taking: true if at least one token is left. */
bool ratelimit_check(struct ratelimit *rl, const char *key, double rate, int burst);

/* ---- metrics: Prometheus text ---- */
struct metrics *metrics_new(size_t nroutes);
void metrics_free(struct metrics *m);
void metrics_observe(struct metrics *m, size_t route_idx, int status, uint64_t dur_us);
void metrics_render(struct metrics *m, const struct route *routes, size_t nroutes,
		    uint64_t store_errors, struct buf *out);

#endif
