/* core: memory, time, ids, encodings, buffers, crypto helpers, config, logging, JSON input. */
#ifndef IRISX_CORE_H
#define IRISX_CORE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define IRISX_VERSION "0.1.0"

/* ---- memory: wrappers abort on out-of-memory; sizes from outside are capped first ---- */
void *mem_alloc(size_t n);
void *mem_zalloc(size_t n);
void *mem_realloc(void *p, size_t n);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *p);

/* ---- time: microseconds ---- */
uint64_t time_now_us(void);  /* wall clock, UTC */
uint64_t time_mono_us(void); /* CLOCK_MONOTONIC */
#define TIME_RFC3339_LEN 32
/* Formats us as 2026-11-23T22:34:14.123456Z; returns buf. */
char *time_fmt(uint64_t us, char buf[TIME_RFC3339_LEN]);
/* Parses an RFC 3339 timestamp (Z or +hh:mm offset); 0 or -EINVAL. */
int time_parse(const char *s, uint64_t *ret_us);

/* ---- randomness and ids ---- */
int rand_bytes(void *buf, size_t n); /* getrandom(); aborts if the kernel fails */
#define ID_LEN 34		     /* 2-letter prefix + 32 lowercase hex */
/* New time-ordered id: prefix + 12 hex ms timestamp + 20 hex random. */
void id_new(const char *prefix, char out[ID_LEN + 1]);
/* True if s is prefix + 32 lowercase hex. */
bool id_valid(const char *s, const char *prefix);
/* True for an E.164 number: + then [1-9] and 7 to 14 more digits. */
bool e164_valid(const char *s);

/* ---- encodings ---- */
void hex_encode(const void *in, size_t n, char *out); /* out has 2n+1 bytes */
/* base64 (url=false: standard with padding; url=true: url-safe, no padding). Returns
   malloc'd string. */
char *b64_encode(const void *in, size_t n, bool url);
/* Decodes standard or url-safe base64 (padding optional); -EINVAL on bad input.
 *ret is malloc'd, NUL-terminated (not counted in *ret_len). */
int b64_decode(const char *in, size_t n, unsigned char **ret, size_t *ret_len);

/* application/x-www-form-urlencoded: "+" is a space, %XX escapes (a bad escape or a decoded
   NUL is -EINVAL), a key without "=" has the value "". *ret is an object of strings; a key
   given more than once is an array of its values in order. At most FORM_MAX_FIELDS pairs
   (-E2BIG); the caller caps len (the route's body limit). */
#define FORM_MAX_FIELDS 256
int form_parse(const char *body, size_t len, json_t **ret);

/* ---- crypto (OpenSSL libcrypto) ---- */
void sha256(const void *in, size_t n, unsigned char out[32]);
void sha256_hex(const void *in, size_t n, char out[65]);
void hmac_sha256(const void *key, size_t klen, const void *in, size_t n, unsigned char out[32]);
bool ct_equal(const void *a, const void *b, size_t n); /* constant time */

/* ---- growable buffer with a hard maximum ---- */
struct buf {
	char *p;
	size_t len, cap, max; /* max 0 = unlimited (for internally generated data) */
};
void buf_init(struct buf *b, size_t max);
int buf_append(struct buf *b, const void *data, size_t n); /* -E2BIG past max */
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *buf_detach(struct buf *b); /* NUL-terminated; b is reset */
void buf_free(struct buf *b);

/* ---- logging: one JSON object per line to stderr; the edge logs, libraries return codes ---- */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_set_level(enum log_level lvl);
bool log_enabled(enum log_level lvl); /* whether log_event at lvl writes a line */
/* Logs msg with the fields of obj (may be NULL; reference is stolen). */
void log_event(enum log_level lvl, const char *msg, json_t *fields);
/* Replaces secrets in s (Bearer/Basic credentials, irx_ keys, JWTs) in place with ***. */
void log_redact(char *s);

/* ---- configuration: irisx.conf "key = value" lines + IRISX_* overrides ---- */
struct config {
	char *http_listen;	    /* http.listen, "127.0.0.1:8080" */
	int http_max_connections;   /* http.max_connections */
	int http_threads;	    /* http.threads: N epoll threads; 0 = a thread per connection */
	int http_workers;	    /* http.workers: pool mode's threads for blocking handlers */
	int http_timeout_s;	    /* http.timeout_s: idle connection timeout */
	int http_max_header_bytes;  /* http.max_header_bytes */
	int http_max_body_bytes;    /* http.max_body_bytes: default route body limit */
	char *data_dir;		    /* data_dir, "./var" */
	char *database_url;	    /* database.url: "" = sqlite at data_dir/irisx.db */
	char *database_migrate_url; /* database.migrate_url: owner role for PostgreSQL migrations */
	char *database_app_role;    /* database.app_role: role granted access by migrations */
	int database_pool;	    /* database.pool */
	char *jwt_issuer;	    /* auth.jwt_issuer */
	char *jwt_audience;	    /* auth.jwt_audience */
	int access_ttl_s;	    /* auth.access_ttl_s (900) */
	int refresh_ttl_s;	    /* auth.refresh_ttl_s */
	int argon2_t_cost;	    /* auth.argon2_t_cost */
	int argon2_m_kib;	    /* auth.argon2_m_kib */
	int argon2_parallelism;	    /* auth.argon2_parallelism */
	int login_max_failures;	    /* auth.login_max_failures per window, per IP and per account */
	int login_window_s;	    /* auth.login_window_s */
	int rate_tenant_rps;	    /* ratelimit.tenant_rps default */
	int rate_tenant_burst;	    /* ratelimit.tenant_burst */
	int rate_key_rps;	    /* ratelimit.key_rps */
	int rate_key_burst;	    /* ratelimit.key_burst */
	char *log_level;	    /* log.level */
	char *roles;		    /* roles: "api,worker,media" or a part of it */
	bool trust_proxy;	    /* http.trust_proxy: take client IP from X-Forwarded-For */
	int auth_cache_ms;	    /* auth.cache_ms: reuse of a looked-up principal */
	bool outbox_reveal;	    /* auth.outbox_reveal: show tokens at /v1/admin/email-outbox */
	char *bus_url;		    /* bus.url: "" = the store; nats://host:port = JetStream */
	char *bus_nats_stream;	    /* bus.nats_stream: JetStream stream (and subject prefix) */
	int bus_retention_s;	    /* bus.retention_s: settled jobs kept this long */
	int bus_poll_ms;	    /* bus.poll_ms: idle consumers look for work this often */
	bool outbound_allow_private; /* outbound.allow_private: tenant URLs may reach loopback */
	int webhooks_retry_unit_us;  /* webhooks.retry_unit_us: one second of the retry schedule */
	int webhooks_max_inflight;   /* webhooks.max_inflight: deliveries in flight at once */
	int webhooks_connect_timeout_ms; /* webhooks.connect_timeout_ms */
	int webhooks_timeout_ms;	 /* webhooks.timeout_ms: whole delivery */
	int webhooks_disable_after_s;	 /* webhooks.disable_after_s: failing this long disables */
	char *email_from;		 /* email.from: sender of the auth outbox's mails */
	char *messaging_help_text;	 /* messaging.help_text: the HELP/INFO auto-reply */
	int messaging_lease_s;		 /* messaging.lease_s: a send job's visibility timeout */
	bool voice_enabled;		 /* voice.enabled: run the engine and the call service */
	char *voice_sip_addr;		 /* voice.sip_addr */
	int voice_sip_port;		 /* voice.sip_port */
	char *voice_tls_cert, *voice_tls_ca; /* voice.tls_*: "" none / the system's store */
	int voice_tls_port;
	bool voice_tls_verify;
	int voice_sig_threads;	/* voice.sig_threads: SIP stacks, ports sip_port + i */
	char *voice_media_addr; /* voice.media_addr */
	int voice_rtp_port_min, voice_rtp_port_max;
	int voice_max_calls;	 /* voice.max_calls: engine capacity */
	char *voice_trusted_ips; /* voice.trusted_ips: exempt from the SIP edge limits */
	int voice_pike_reqs, voice_pike_window_ms; /* voice.pike_*: per-source request rate */
	char *voice_home_country;  /* voice.home_country: default allowed destination */
	int voice_cps;		   /* voice.calls_per_second: default per tenant */
	int voice_max_concurrent;  /* voice.max_concurrent_calls: default per tenant */
	int voice_daily_spend_cap; /* voice.daily_spend_cap: currency units, 0 none */
	int voice_doc_workers;	   /* voice.document_workers */
};
/* Loads defaults, then path (NULL: IRISX_CONFIG or ./irisx.conf if present), then env.
   On error *ret_err names the bad key (static or malloc'd; caller prints). */
int config_load(struct config *cfg, const char *path, char **ret_err);
void config_free(struct config *cfg);
/* Writes every key with its default and description, as a commented example file. */
void config_dump_example(struct buf *out);

/* ---- JSON request bodies (strict) ---- */
#define JSON_MAX_DEPTH 64
/* Parses a request body: RFC 8259 (JSONTestSuite y_ accepted, n_ rejected), depth capped.
   0, -EINVAL (not JSON) or -ENOTSUP (valid JSON with a U+0000 object key, which no API
   field can match); on error *ret_err is a static message. */
int json_parse_body(const char *data, size_t len, json_t **ret, const char **ret_err);

/* Field spec for validating an object: unknown fields and wrong types are rejected. */
enum jf_type { JF_STRING, JF_INT, JF_BOOL, JF_OBJECT, JF_ARRAY };
struct json_field {
	const char *name;
	enum jf_type type;
	bool required;
	size_t max_len; /* strings: max bytes (0 = 1024) */
};
/* Checks obj against fields (terminated by name == NULL). On failure returns -EINVAL and
   sets *ret_field to the offending field name and *ret_code to
   "missing_field" | "unknown_field" | "invalid_type" | "too_long" | "invalid_body". */
int json_check(const json_t *obj, const struct json_field *fields, const char **ret_field,
	       const char **ret_code);
/* json_dumps into one buffer sized by a first try at 1 KiB (json_dumps grows its buffer
   from 16 bytes, a realloc per doubling); *ret_len its length. NULL on no memory. */
char *json_serialize(const json_t *v, size_t flags, size_t *ret_len);
/* Convenience getters: NULL / def when absent. */
const char *json_str(const json_t *obj, const char *key);
int64_t json_int(const json_t *obj, const char *key, int64_t def);

#endif
