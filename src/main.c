/* main.c: the irisx command: serve, migrate, admin, config, version. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "api/api.h"
#include "bus/bus.h"
#include "calls/calls.h"
#include "messaging/messaging.h"
#include "webhooks/webhooks.h"

static const char usage[] =
    "usage: irisx <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve                          run the API (migrations are applied first)\n"
    "  migrate                        apply pending database migrations and exit\n"
    "  admin create-platform-admin --email E --password P\n"
    "                                 create an operator account (platform_admin)\n"
    "  admin rotate-jwt-key           add a new access-token signing key (old ones stay\n"
    "                                 valid until retired)\n"
    "  admin test-callback --tenant AC... --url URL [--method POST|GET] [--param K=V]...\n"
    "                                 queue a signed status callback (X-Twilio-Signature)\n"
    "                                 for a running server to deliver: checks a receiver\n"
    "  config example                 print every setting with its default\n"
    "  version                        print the version\n"
    "  --help                         this text\n"
    "\n"
    "options:\n"
    "  --config PATH                  configuration file (default ./irisx.conf, or\n"
    "                                 $IRISX_CONFIG); IRISX_* variables override it\n";

static int fail(const char *msg, int err)
{
	log_event(LOG_ERROR, msg, json_pack("{s:s}", "error", strerror(err < 0 ? -err : err)));
	return 1;
}

static int open_store(struct config *cfg, struct store **st)
{
	int r = store_open(cfg, st);
	if (r < 0)
		return fail("cannot open the database", r);
	int applied = 0;
	r = store_migrate(*st, &applied);
	if (r < 0) {
		store_close(*st);
		return fail("migrations failed", r);
	}
	int bin, db;
	store_schema_version(*st, &bin, &db);
	log_event(LOG_INFO, "database ready",
		  json_pack("{s:s,s:i,s:i}", "backend", store_backend_name(*st), "schema_version",
			    db, "migrations_applied", applied));
	return 0;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

enum { ROLE_API = 1, ROLE_WORKER = 2, ROLE_MEDIA = 4 };

/* roles: a comma-separated list of api, worker and media; -EINVAL on anything else. */
static int parse_roles(const char *s, unsigned *ret)
{
	static const char *const names[] = {"api", "worker", "media"};
	*ret = 0;
	while (s && *s) {
		size_t n = strcspn(s, ",");
		unsigned bit = 0;
		for (unsigned i = 0; i < 3; i++)
			if (n == strlen(names[i]) && !strncmp(s, names[i], n))
				bit = 1u << i;
		if (!bit)
			return -EINVAL;
		*ret |= bit;
		s += n + (s[n] == ',');
	}
	return *ret ? 0 : -EINVAL;
}

static int cmd_serve(struct config *cfg)
{
	/* No fastbins (the per-thread tcache still serves small blocks): glibc consolidates
	   every fastbin whenever a block of 1 KiB or more is asked for, and a request's state,
	   SQLite's pages and JSON buffers ask for those all the time; with 64 connections that
	   consolidation cost 5 % of the CPU, and turning it off gave 10-15 % more messages/s */
	mallopt(M_MXFAST, 0);
	unsigned roles;
	if (parse_roles(cfg->roles, &roles) < 0) {
		fprintf(stderr, "irisx: roles must list api, worker and/or media (got \"%s\")\n",
			cfg->roles);
		return 1;
	}
	struct store *st;
	if (open_store(cfg, &st))
		return 1;
	raise_fd_limit();
	struct app app = {
	    .cfg = cfg,
	    .st = st,
	    .keys = keyring_new(st, cfg->auth_cache_ms),
	    .rl = ratelimit_new(),
	    .logins = ratelimit_new(),
	    .metrics = metrics_new(api_routes_len),
	    .pw = {(uint32_t)cfg->argon2_t_cost, (uint32_t)cfg->argon2_m_kib,
		   (uint32_t)cfg->argon2_parallelism},
	    .routes = api_routes,
	    .nroutes = api_routes_len,
	    .prices = price_cache_new(st),
	};
	int rc = 1, r = keyring_load(app.keys);
	struct http_server *srv = NULL;
	struct calls *calls = NULL;
	if (r < 0) {
		fail("cannot load signing keys", r);
		goto out;
	}
	if ((r = bus_open(cfg, st, &app.bus)) < 0) {
		fail("cannot open the bus (bus.url)", r);
		goto out;
	}
	if ((roles & ROLE_WORKER) && (r = webhooks_start(cfg, st, app.bus, &app.webhooks)) < 0) {
		fail("cannot start the webhook deliverer", r);
		goto out;
	}
	if ((roles & ROLE_WORKER) && (r = messaging_start(cfg, st, app.bus, &app.messaging)) < 0) {
		fail("cannot start the messaging worker", r);
		goto out;
	}
	if ((roles & ROLE_MEDIA) && cfg->voice_enabled &&
	    (r = calls_start(cfg, st, app.bus, &calls)) < 0) {
		fail("cannot start the voice engine (voice.sip_addr, voice.sip_port, voice.rtp_*)",
		     r);
		goto out;
	}
	if ((roles & ROLE_API) && (r = http_server_start(&app, &srv)) < 0) {
		fail("cannot listen on http.listen", r);
		goto out;
	}
	log_event(
	    LOG_INFO, "irisx serving",
	    json_pack("{s:s,s:s,s:s,s:s}", "url", cfg->http_listen, "version", IRISX_VERSION, "bus",
		      bus_backend_name(app.bus), "first_admin",
		      "irisx admin create-platform-admin --email you@example.com --password ..."));
	if (!(roles & ROLE_API))
		printf("IRISX %s running roles %s (database: %s)\n", IRISX_VERSION, cfg->roles,
		       store_backend_name(st));
	else
		printf(
		    "IRISX %s listening on http://%s (database: %s)\n"
		    "Create the first operator: ./build/irisx admin create-platform-admin --email "
		    "you@example.com --password 'a long password'\n",
		    IRISX_VERSION, cfg->http_listen, store_backend_name(st));
	fflush(stdout);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!stop_flag)
		pause();
	log_event(LOG_INFO, "shutting down", NULL);
	rc = 0;
out:
	http_server_stop(srv);
	calls_stop(calls);
	messaging_stop(app.messaging);
	webhooks_stop(app.webhooks);
	bus_close(app.bus);
	metrics_free(app.metrics);
	ratelimit_free(app.rl);
	ratelimit_free(app.logins);
	keyring_free(app.keys);
	price_cache_free(app.prices);
	store_close(st);
	return rc;
}

static const char *opt(int argc, char **argv, const char *name)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

struct padmin {
	const char *email, *hash;
	char user_id[ID_LEN + 1];
};

static int padmin_fn(struct store_tx *tx, void *arg)
{
	struct padmin *p = arg;
	json_t *t;
	int r = store_platform_tenant(tx, &t);
	if (r == -ENOENT) {
		struct tenant_new tn = {.name = "Platform",
					.email = p->email,
					.pw_hash = p->hash,
					.role = "platform_admin",
					.platform = true};
		r = api_tenant_create_tx(tx, &tn);
		memcpy(p->user_id, tn.user_id, sizeof(p->user_id));
		return r;
	}
	if (r < 0)
		return r;
	id_new("US", p->user_id);
	r = store_user_insert(tx, json_string_value(json_object_get(t, "id")), p->user_id, p->email,
			      NULL, p->hash, "platform_admin", "active");
	json_decref(t);
	return r;
}

static int cmd_create_admin(struct config *cfg, int argc, char **argv)
{
	const char *email = opt(argc, argv, "--email"), *pw = opt(argc, argv, "--password"), *why;
	if (!email || !pw) {
		fputs("usage: irisx admin create-platform-admin --email E --password P\n", stderr);
		return 2;
	}
	char norm[256];
	size_t n = strlen(email);
	if (n >= sizeof(norm) || !strchr(email, '@')) {
		fputs("irisx: not a valid e-mail address\n", stderr);
		return 2;
	}
	for (size_t i = 0; i <= n; i++)
		norm[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
	if (pw_policy(pw, &why) < 0) {
		fprintf(stderr, "irisx: password rejected: %s\n", why);
		return 2;
	}
	struct store *st;
	if (open_store(cfg, &st))
		return 1;
	struct pw_params pp = {(uint32_t)cfg->argon2_t_cost, (uint32_t)cfg->argon2_m_kib,
			       (uint32_t)cfg->argon2_parallelism};
	char *hash;
	int r = pw_hash(pw, &pp, &hash);
	struct padmin p = {.email = norm, .hash = hash};
	if (r == 0)
		r = store_tx(st, NULL, STORE_WRITE, padmin_fn, &p);
	mem_free(hash);
	store_close(st);
	if (r == -EEXIST) {
		fputs("irisx: a user with this e-mail already exists\n", stderr);
		return 1;
	}
	if (r < 0)
		return fail("cannot create the platform admin", r);
	printf("platform admin %s created (%s)\n", norm, p.user_id);
	return 0;
}

static int cmd_rotate(struct config *cfg)
{
	struct store *st;
	if (open_store(cfg, &st))
		return 1;
	char kid[ID_LEN + 1];
	int r = keyring_rotate(st, kid);
	store_close(st);
	if (r < 0)
		return fail("cannot rotate the signing key", r);
	printf("new signing key %s; running servers pick it up for new tokens on restart\n", kid);
	return 0;
}

struct tcb {
	const char *tenant, *url, *method;
	json_t *params;
	struct bus *bus;
};

static int tcb_fn(struct store_tx *tx, void *arg)
{
	struct tcb *t = arg;
	return webhooks_callback_tx(t->bus, tx, t->tenant, t->url, t->method, t->params);
}

static int cmd_test_callback(struct config *cfg, int argc, char **argv)
{
	struct tcb t = {.tenant = opt(argc, argv, "--tenant"),
			.url = opt(argc, argv, "--url"),
			.method = opt(argc, argv, "--method"),
			.params = json_object()};
	const char *why = NULL;
	int rc = 2;
	if (!t.tenant || !id_valid(t.tenant, "AC") || !t.url) {
		fputs(
		    "usage: irisx admin test-callback --tenant AC... --url URL [--method POST|GET] "
		    "[--param K=V]...\n",
		    stderr);
		goto out;
	}
	if (t.method && strcmp(t.method, "POST") && strcmp(t.method, "GET")) {
		fputs("irisx: --method is POST or GET\n", stderr);
		goto out;
	}
	if (webhooks_check_url(t.url, cfg->outbound_allow_private, &why) < 0) {
		fprintf(stderr, "irisx: url refused: %s\n", why ? why : "invalid");
		goto out;
	}
	for (int i = 2; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--param"))
			continue;
		const char *kv = argv[++i], *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			fprintf(stderr, "irisx: --param wants K=V, got '%s'\n", kv);
			goto out;
		}
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		json_object_set_new(t.params, key, json_string(eq + 1));
	}
	struct store *st;
	rc = 1;
	if (open_store(cfg, &st))
		goto out;
	int r = bus_open(cfg, st, &t.bus);
	if (r >= 0) {
		r = store_tx(st, t.tenant, STORE_WRITE, tcb_fn, &t);
		bus_close(t.bus);
	}
	store_close(st);
	if (r < 0) {
		fail("cannot queue the callback", r);
		goto out;
	}
	printf("callback to %s queued\n", t.url);
	rc = 0;
out:
	json_decref(t.params);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("irisx %s\n", IRISX_VERSION);
		return 0;
	}
	struct config cfg;
	char *err;
	if (config_load(&cfg, opt(argc, argv, "--config"), &err) < 0) {
		fprintf(stderr, "irisx: %s\n", err);
		mem_free(err);
		return 2;
	}
	const char *lv = cfg.log_level;
	log_set_level(!strcmp(lv, "debug")   ? LOG_DEBUG
		      : !strcmp(lv, "warn")  ? LOG_WARN
		      : !strcmp(lv, "error") ? LOG_ERROR
					     : LOG_INFO);
	int rc = 2;
	const char *cmd = argv[1], *sub = argc > 2 ? argv[2] : "";
	if (!strcmp(cmd, "serve")) {
		rc = cmd_serve(&cfg);
	} else if (!strcmp(cmd, "migrate")) {
		struct store *st;
		rc = open_store(&cfg, &st);
		if (!rc)
			store_close(st);
	} else if (!strcmp(cmd, "admin") && !strcmp(sub, "create-platform-admin")) {
		rc = cmd_create_admin(&cfg, argc, argv);
	} else if (!strcmp(cmd, "admin") && !strcmp(sub, "rotate-jwt-key")) {
		rc = cmd_rotate(&cfg);
	} else if (!strcmp(cmd, "admin") && !strcmp(sub, "test-callback")) {
		rc = cmd_test_callback(&cfg, argc, argv);
	} else if (!strcmp(cmd, "config") && !strcmp(sub, "example")) {
		struct buf b;
		buf_init(&b, 0);
		config_dump_example(&b);
		fputs(b.p, stdout);
		buf_free(&b);
		rc = 0;
	} else {
		fprintf(stderr, "irisx: unknown command '%s'\n\n%s", cmd, usage);
	}
	config_free(&cfg);
	return rc;
}
