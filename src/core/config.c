/* config.c: settings kept as a table; defaults, then irisx.conf, then IRISX_* environment. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

enum ckind { C_STR, C_INT, C_BOOL };

struct ckey {
	const char *name;
	enum ckind kind;
	size_t off;
	const char *def;
	int min, max; /* C_INT bounds */
	const char *help;
};

#define S(f) offsetof(struct config, f)
static const struct ckey keys[] = {
    {"roles", C_STR, S(roles), "api,worker,media", 0, 0,
     "What irisx serve runs: a comma-separated list of api (REST API), worker (webhooks, SMS, "
     "e-mail) and media (voice engine and call service; also needs voice.enabled)"},
    {"http.listen", C_STR, S(http_listen), "127.0.0.1:8080", 0, 0,
     "Address and port the API listens on (loopback by default)"},
    {"http.max_connections", C_INT, S(http_max_connections), "4096", 16, 1000000,
     "Concurrent connections accepted before new ones are refused"},
    {"http.threads", C_INT, S(http_threads), "2", 0, 1024,
     "0: a thread per connection; N: a pool of N epoll threads (about one per core) that "
     "never block: message and e-mail submissions are suspended while they commit, other "
     "writes and slow handlers run on http.workers"},
    {"http.workers", C_INT, S(http_workers), "32", 1, 1024,
     "With http.threads > 0: threads for the handlers that may block (writes waited for, "
     "password hashing, outbound requests); their requests are suspended meanwhile"},
    {"http.timeout_s", C_INT, S(http_timeout_s), "30", 1, 3600,
     "Idle connection timeout; slow clients are cut off after it"},
    {"http.max_header_bytes", C_INT, S(http_max_header_bytes), "16384", 4096, 1048576,
     "Per-connection memory for the request line and headers"},
    {"http.max_body_bytes", C_INT, S(http_max_body_bytes), "1048576", 1024, 67108864,
     "Default request body limit (routes may set lower ones); larger bodies get 413"},
    {"http.trust_proxy", C_BOOL, S(trust_proxy), "false", 0, 0,
     "Take the client address from X-Forwarded-For (only behind a trusted proxy)"},
    {"data_dir", C_STR, S(data_dir), "./var", 0, 0, "Directory for the SQLite database and files"},
    {"database.url", C_STR, S(database_url), "", 0, 0,
     "Empty: SQLite at data_dir/irisx.db; postgres://user@host:port/db for PostgreSQL"},
    {"database.migrate_url", C_STR, S(database_migrate_url), "", 0, 0,
     "PostgreSQL URL of the role that owns the tables and runs migrations (empty: database.url)"},
    {"database.app_role", C_STR, S(database_app_role), "", 0, 0,
     "PostgreSQL role the API connects as; migrations grant it data access (empty: none)"},
    {"database.pool", C_INT, S(database_pool), "8", 1, 256, "Database connections in the pool"},
    {"auth.jwt_issuer", C_STR, S(jwt_issuer), "irisx", 0, 0, "iss claim of access tokens"},
    {"auth.jwt_audience", C_STR, S(jwt_audience), "irisx-api", 0, 0, "aud claim of access tokens"},
    {"auth.access_ttl_s", C_INT, S(access_ttl_s), "900", 10, 86400, "Access token lifetime"},
    {"auth.refresh_ttl_s", C_INT, S(refresh_ttl_s), "2592000", 60, 31536000,
     "Refresh token lifetime"},
    {"auth.argon2_t_cost", C_INT, S(argon2_t_cost), "2", 1, 16, "argon2id iterations"},
    {"auth.argon2_m_kib", C_INT, S(argon2_m_kib), "19456", 256, 4194304,
     "argon2id memory in KiB (OWASP minimum 19456)"},
    {"auth.argon2_parallelism", C_INT, S(argon2_parallelism), "1", 1, 16, "argon2id lanes"},
    {"auth.login_max_failures", C_INT, S(login_max_failures), "10", 1, 10000,
     "Failed logins allowed per window, per client IP and per account"},
    {"auth.login_window_s", C_INT, S(login_window_s), "900", 1, 86400,
     "Window for counting failed logins"},
    {"ratelimit.tenant_rps", C_INT, S(rate_tenant_rps), "1000", 1, 10000000,
     "Default requests per second per tenant"},
    {"ratelimit.tenant_burst", C_INT, S(rate_tenant_burst), "2000", 1, 10000000,
     "Default burst per tenant"},
    {"ratelimit.key_rps", C_INT, S(rate_key_rps), "500", 1, 10000000,
     "Default requests per second per API key or user"},
    {"ratelimit.key_burst", C_INT, S(rate_key_burst), "1000", 1, 10000000,
     "Default burst per API key or user"},
    {"auth.cache_ms", C_INT, S(auth_cache_ms), "1000", 0, 60000,
     "How long a node reuses a looked-up API key or session (0: never); changes made on "
     "this node apply at once, other nodes see them within this time"},
    {"auth.outbox_reveal", C_BOOL, S(outbox_reveal), "false", 0, 0,
     "Show the tokens of queued mails at /v1/admin/email-outbox (development and tests only: "
     "whoever reads them can take over the accounts)"},
    {"bus.url", C_STR, S(bus_url), "", 0, 0,
     "Empty: jobs and events ride on the database (transactional outbox); "
     "nats://host:port: NATS JetStream"},
    {"bus.nats_stream", C_STR, S(bus_nats_stream), "IRISX", 0, 0,
     "JetStream stream name; its subjects are the lower-cased name + \".\" + the job subject, "
     "so deployments sharing a NATS cluster keep apart ([A-Za-z0-9_-], at most 32)"},
    {"bus.retention_s", C_INT, S(bus_retention_s), "604800", 60, 315360000,
     "How long finished jobs stay visible at /v1/jobs before they are pruned"},
    {"bus.poll_ms", C_INT, S(bus_poll_ms), "5", 1, 10000,
     "How often an idle consumer looks for new work (wake-ups in this process are immediate)"},
    {"outbound.allow_private", C_BOOL, S(outbound_allow_private), "false", 0, 0,
     "Let webhooks and other tenant-given URLs reach loopback and private addresses "
     "(development and tests only: it opens the server to SSRF)"},
    {"webhooks.retry_unit_us", C_INT, S(webhooks_retry_unit_us), "1000000", 1, 1000000,
     "Length of one second of the retry schedule (tests shrink it to run days in seconds)"},
    {"webhooks.max_inflight", C_INT, S(webhooks_max_inflight), "512", 1, 100000,
     "Webhook deliveries in flight at once"},
    {"webhooks.connect_timeout_ms", C_INT, S(webhooks_connect_timeout_ms), "5000", 100, 60000,
     "Connect timeout of a webhook delivery"},
    {"webhooks.timeout_ms", C_INT, S(webhooks_timeout_ms), "15000", 100, 300000,
     "Total time allowed for a webhook delivery"},
    {"webhooks.disable_after_s", C_INT, S(webhooks_disable_after_s), "432000", 1, 31536000,
     "An endpoint failing without a success for this long is disabled (schedule seconds)"},
    {"email.from", C_STR, S(email_from), "no-reply@irisx.invalid", 0, 0,
     "From address of password-reset, verification and invitation mails (sent through the "
     "operator's SMTP providers)"},
    {"messaging.lease_s", C_INT, S(messaging_lease_s), "120", 2, 3600,
     "How long a worker holds an SMS or e-mail job before another may take it (a worker "
     "that died: its jobs are sent again after this)"},
    {"voice.enabled", C_BOOL, S(voice_enabled), "true", 0, 0,
     "Run the voice engine (SIP and RTP) and the call service in this process"},
    {"voice.sip_addr", C_STR, S(voice_sip_addr), "127.0.0.1", 0, 0,
     "IP address the SIP listeners bind to (UDP and TCP)"},
    {"voice.sip_port", C_INT, S(voice_sip_port), "5060", 0, 65535,
     "SIP port (0: the kernel chooses; the log line names it)"},
    {"voice.sig_threads", C_INT, S(voice_sig_threads), "1", 1, 16,
     "SIP signalling stacks (threads), stack i on voice.sip_port + i (TLS on the first only); "
     "about 300 new calls/s each"},
    {"voice.tls_cert", C_STR, S(voice_tls_cert), "", 0, 0,
     "PEM file with the certificate and private key of the SIP TLS listener on "
     "voice.sip_addr:voice.tls_port (empty: no TLS listener, and no TLS to carriers)"},
    {"voice.tls_port", C_INT, S(voice_tls_port), "5061", 0, 65535,
     "SIP TLS port (with voice.tls_cert; 0: the kernel chooses)"},
    {"voice.tls_ca", C_STR, S(voice_tls_ca), "", 0, 0,
     "PEM file of the CAs trusted for TLS to carriers (empty: the system's store)"},
    {"voice.tls_verify", C_BOOL, S(voice_tls_verify), "true", 0, 0,
     "Refuse a carrier whose TLS certificate chain does not verify (the host name is not "
     "checked: see docs/voice.md)"},
    {"voice.media_addr", C_STR, S(voice_media_addr), "127.0.0.1", 0, 0,
     "IP address RTP binds to and SDP announces"},
    {"voice.rtp_port_min", C_INT, S(voice_rtp_port_min), "20000", 1024, 65534,
     "First RTP port (even)"},
    {"voice.rtp_port_max", C_INT, S(voice_rtp_port_max), "29999", 1025, 65535, "Last RTP port"},
    {"voice.max_calls", C_INT, S(voice_max_calls), "2000", 1, 100000,
     "Concurrent calls (legs) the engine takes; more get 503"},
    {"voice.trusted_ips", C_STR, S(voice_trusted_ips), "", 0, 0,
     "Comma-separated IP addresses exempt from the SIP rate limit and bans (your carriers and "
     "proxies)"},
    {"voice.pike_reqs", C_INT, S(voice_pike_reqs), "16", 0, 1000000,
     "New SIP requests allowed per source address per voice.pike_window_ms (0: no limit); "
     "a source over it is banned for 300 s"},
    {"voice.pike_window_ms", C_INT, S(voice_pike_window_ms), "2000", 100, 600000,
     "Window of voice.pike_reqs"},
    {"voice.home_country", C_STR, S(voice_home_country), "US", 0, 0,
     "Default home country (ISO alpha-2): tenants may call it until they enable more"},
    {"voice.calls_per_second", C_INT, S(voice_cps), "10", 1, 100000,
     "Default outbound calls per second per tenant (excess calls wait in the queue)"},
    {"voice.max_concurrent_calls", C_INT, S(voice_max_concurrent), "100", 1, 1000000,
     "Default concurrent calls per tenant"},
    {"voice.daily_spend_cap", C_INT, S(voice_daily_spend_cap), "100", 0, 100000000,
     "Default daily voice spend cap per tenant, in currency units (0: none)"},
    {"voice.document_workers", C_INT, S(voice_doc_workers), "16", 1, 256,
     "Threads fetching call-control documents and status work"},
    {"messaging.help_text", C_STR, S(messaging_help_text),
     "Reply STOP to unsubscribe. Msg&Data Rates May Apply.", 0, 0,
     "Automatic answer to an inbound HELP or INFO (empty: none; the number's sms_url still "
     "gets the message)"},
    {"log.level", C_STR, S(log_level), "info", 0, 0, "debug, info, warn or error"},
};
#undef S

static void env_name(const char *key, char *out, size_t n)
{
	size_t o = (size_t)snprintf(out, n, "IRISX_");
	for (const char *k = key; *k && o + 1 < n; k++)
		out[o++] = (*k == '.') ? '_' : (char)toupper((unsigned char)*k);
	out[o] = '\0';
}

static int set_value(struct config *cfg, const struct ckey *k, const char *v)
{
	char *base = (char *)cfg + k->off;
	if (k->kind == C_STR) {
		char **sp = (char **)(void *)base;
		mem_free(*sp);
		*sp = mem_strdup(v);
		return 0;
	}
	if (k->kind == C_BOOL) {
		bool *bp = (bool *)(void *)base;
		if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
			*bp = true;
		else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") ||
			 !strcmp(v, "off"))
			*bp = false;
		else
			return -EINVAL;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < k->min || n > k->max)
		return -EINVAL;
	*(int *)(void *)base = (int)n;
	return 0;
}

static const struct ckey *find_key(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(struct config *cfg, FILE *f, char **ret_err)
{
	char line[4096];
	int lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (*s == '#' || *s == '\0')
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			goto bad;
		*eq = '\0';
		char *name = trim(s), *val = trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		const struct ckey *k = find_key(name);
		if (!k || set_value(cfg, k, val) < 0)
			goto bad;
		continue;
	bad : {
		char msg[256];
		snprintf(msg, sizeof(msg), "irisx.conf line %d: unknown key or bad value", lineno);
		*ret_err = mem_strdup(msg);
		return -EINVAL;
	}
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, char **ret_err)
{
	memset(cfg, 0, sizeof(*cfg));
	*ret_err = NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		set_value(cfg, &keys[i], keys[i].def);
	if (!path)
		path = getenv("IRISX_CONFIG");
	bool explicit = path != NULL;
	if (!path)
		path = "irisx.conf";
	FILE *f = fopen(path, "r");
	if (!f && explicit) {
		char msg[512];
		snprintf(msg, sizeof(msg), "cannot open config file %s", path);
		*ret_err = mem_strdup(msg);
		return -ENOENT;
	}
	if (f) {
		int r = load_file(cfg, f, ret_err);
		fclose(f);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char env[96];
		env_name(keys[i].name, env, sizeof(env));
		const char *v = getenv(env);
		if (v && set_value(cfg, &keys[i], v) < 0) {
			char msg[256];
			snprintf(msg, sizeof(msg), "bad value in %s", env);
			*ret_err = mem_strdup(msg);
			return -EINVAL;
		}
	}
	return 0;
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].kind == C_STR) {
			char **sp = (char **)(void *)((char *)cfg + keys[i].off);
			mem_free(*sp);
			*sp = NULL;
		}
	}
}

void config_dump_example(struct buf *out)
{
	buf_puts(out,
		 "# irisx.conf: every setting with its default. Each may also be set by an\n"
		 "# environment variable: IRISX_ + the name upper-cased, dots as underscores\n"
		 "# (database.url -> IRISX_DATABASE_URL). Environment wins over this file.\n\n");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char env[96];
		env_name(keys[i].name, env, sizeof(env));
		buf_printf(out, "# %s (%s)\n# %s = %s\n\n", keys[i].help, env, keys[i].name,
			   keys[i].def);
	}
}
