/* store: the one data-access API. SQLite (default) and PostgreSQL backends, migrations,
   tenant-scoped transactions. Nothing outside src/store writes SQL. */
#ifndef IRISX_STORE_H
#define IRISX_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"

struct store;
struct store_tx;

/* Work run inside one transaction; return >= 0 to commit, < 0 to roll back. */
typedef int(store_tx_fn)(struct store_tx *tx, void *arg);

enum store_flags {
	STORE_READ = 0,
	STORE_WRITE = 1,   /* SQLite: queued to the writer thread and group-committed */
	STORE_MIGRATE = 2, /* PostgreSQL: runs on the owner (migration) connection */
	/* with STORE_WRITE: fn may run again from the start after what it did was rolled back,
	   and leaves arg as if it had run once (it sets its outputs, never accumulates them).
	   SQLite then runs it in its batch without a savepoint of its own (a page copied per
	   page it touches): only a failure that had changed rows replays its neighbours. */
	STORE_REPLAY = 4,
};

/* Opens the backend named by cfg->database_url (empty: SQLite under cfg->data_dir). */
int store_open(const struct config *cfg, struct store **ret);
void store_close(struct store *st);
const char *store_backend_name(const struct store *st); /* "sqlite" | "postgres" */
/* Applies pending migrations (idempotent); *ret_applied counts the new ones. */
int store_migrate(struct store *st, int *ret_applied);
/* Latest schema version known to this binary and applied in the database. */
int store_schema_version(struct store *st, int *ret_binary, int *ret_db);
int store_ping(struct store *st);	     /* 0 if the database answers */
int store_integrity_check(struct store *st); /* 0 if the database reports ok */
uint64_t store_error_count(const struct store *st);

/* Runs fn in a transaction scoped to tenant_id (NULL: system scope, for auth lookups and
   platform administration). PostgreSQL sets app.tenant_id for row-level security.
   Returns fn's result, or a negative errno if the transaction itself failed:
   -EIO (database error), -EBUSY (unavailable). */
int store_tx(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg);
/* Called once with a queued transaction's result (what store_tx would have returned). */
typedef void(store_done_cb)(void *arg, int result);
/* store_tx that returns once the transaction is queued. done(done_arg, result) follows exactly
   once; on SQLite it runs on the store's completion thread after the batch's commit (in
   queue order, while the writer goes on with the next batch), where it must be quick and
   must not wait for another write (store_tx with STORE_WRITE there returns -EDEADLK;
   queueing one with store_tx_async is fine). Reads, and backends without a writer thread
   (PostgreSQL), run the transaction now and call done before returning. fn and arg stay the
   caller's until done. Returns 0, or a negative errno (-EBUSY: the store is closing) and then done
   is never called. */
int store_tx_async(struct store *st, const char *tenant_id, int flags, store_tx_fn *fn, void *arg,
		   store_done_cb *done, void *done_arg);
/* Whether store_tx_async queues writes (SQLite's writer thread) rather than running them on
   the caller's thread (PostgreSQL). */
bool store_writes_queued(const struct store *st);
/* The tenant the transaction is scoped to (NULL in system scope). */
const char *store_tx_tenant(const struct store_tx *tx);

/* ---- records: json objects whose keys are the column names; *_us are integers ---- */

/* tenants */
int store_tenant_insert(struct store_tx *tx, const char *id, const char *name, bool platform);
int store_tenant_get(struct store_tx *tx, const char *id, json_t **ret);
int store_tenant_list(struct store_tx *tx, const char *cursor, int limit, json_t **ret);
int store_tenant_update_name(struct store_tx *tx, const char *id, const char *name);
int store_tenant_set_status(struct store_tx *tx, const char *id, const char *status);
int store_tenant_set_limits(struct store_tx *tx, const char *id, const json_t *limits);
int store_tenant_delete(struct store_tx *tx, const char *id);
int store_platform_tenant(struct store_tx *tx, json_t **ret); /* -ENOENT if none yet */

/* users */
int store_user_insert(struct store_tx *tx, const char *tenant_id, const char *id, const char *email,
		      const char *name, const char *pw_hash, const char *role, const char *status);
int store_user_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
/* System scope: by e-mail (lower-cased), any tenant. */
int store_user_by_email(struct store_tx *tx, const char *email, json_t **ret);
int store_user_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
		    json_t **ret);
int store_user_update(struct store_tx *tx, const char *tenant_id, const char *id, const char *role,
		      const char *status, const char *name);
int store_user_set_password(struct store_tx *tx, const char *tenant_id, const char *id,
			    const char *pw_hash);
int store_user_set_verified(struct store_tx *tx, const char *tenant_id, const char *id);
int store_user_count_role(struct store_tx *tx, const char *tenant_id, const char *role, int *ret);

/* api keys */
int store_apikey_insert(struct store_tx *tx, const char *tenant_id, const char *id,
			const char *name, const char *prefix, const char *hash, const char *role,
			const char *created_by);
int store_apikey_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
int store_apikey_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
		      json_t **ret);
int store_apikey_revoke(struct store_tx *tx, const char *tenant_id, const char *id);
/* System scope: the key with this hash joined with its tenant's status. */
int store_apikey_by_hash(struct store_tx *tx, const char *hash, json_t **ret);
/* The tenant as a principal for Basic AccountSid:AuthToken: id, auth_token (NULL until one is
   made), tenant_status and the rate limits; -ENOENT if there is no such tenant. */
int store_tenant_principal(struct store_tx *tx, const char *tenant_id, json_t **ret);

/* sessions (refresh-token families) and refresh tokens */
int store_session_insert(struct store_tx *tx, const char *tenant_id, const char *id,
			 const char *user_id, uint64_t expires_us);
int store_session_revoke(struct store_tx *tx, const char *tenant_id, const char *id);
int store_session_revoke_user(struct store_tx *tx, const char *tenant_id, const char *user_id,
			      const char *except_id);
int store_refresh_insert(struct store_tx *tx, const char *tenant_id, const char *hash,
			 const char *session_id);
/* System scope: refresh token row joined with its session, user and tenant. */
int store_refresh_get(struct store_tx *tx, const char *hash, json_t **ret);
/* Marks the token used; returns 1 if it was unused, 0 if already used. */
int store_refresh_use(struct store_tx *tx, const char *tenant_id, const char *hash);
/* System scope: the principal behind an access token (user, tenant, session state). */
int store_principal_by_session(struct store_tx *tx, const char *session_id, const char *user_id,
			       json_t **ret);

/* one-time tokens (password reset, e-mail verification, invitation) */
int store_otp_insert(struct store_tx *tx, const char *tenant_id, const char *hash,
		     const char *user_id, const char *kind, uint64_t expires_us);
/* System scope: marks the token used and returns its row; -ENOENT if unknown, used or
   expired. */
int store_otp_consume(struct store_tx *tx, const char *hash, const char *kind, json_t **ret);

/* e-mail outbox (sent by a later worker) */
int store_outbox_insert(struct store_tx *tx, const char *tenant_id, const char *to,
			const char *kind, const char *subject, const char *body);
int store_outbox_list(struct store_tx *tx, const char *cursor, int limit, json_t **ret);

/* idempotency */
/* Returns 0 with *ret = {request_hash, status, body} if stored, -ENOENT if not. */
int store_idem_get(struct store_tx *tx, const char *tenant_id, const char *key, json_t **ret);
int store_idem_put(struct store_tx *tx, const char *tenant_id, const char *key,
		   const char *request_hash, int status, const char *body);

/* audit log */
struct audit_entry {
	const char *tenant_id, *actor_id, *actor_type, *action, *resource_id, *ip, *request_id;
	int status;
	const char *outcome; /* "success" | "failure" | "denied" */
};
int store_audit_insert(struct store_tx *tx, const struct audit_entry *e);
struct audit_filter {
	const char *actor_id, *action, *resource_id, *outcome, *cursor;
	uint64_t since_us, until_us;
	int limit;
};
int store_audit_list(struct store_tx *tx, const char *tenant_id, const struct audit_filter *f,
		     json_t **ret);

/* JWT signing keys (system) */
int store_jwt_keys(struct store_tx *tx, json_t **ret); /* newest first, not retired */
int store_jwt_key_insert(struct store_tx *tx, const char *kid, const char *secret_hex);

/* jobs: the store-backed bus (src/bus is the only caller). Rows as in the table. */
struct store_job {
	const char *id, *tenant_id, *subject, *payload, *dedupe_key, *order_key;
	const char *state; /* "queued" | "outbox" | "dead" */
	int attempts, max_attempts;
	uint64_t run_at_us;
	const char *last_error;
};
/* 1 if inserted, 0 if dropped as a duplicate of (subject, dedupe_key). */
int store_job_insert(struct store_tx *tx, const struct store_job *j);
/* Claims up to limit ready jobs of subject (queued, or running with an expired lease):
   running, attempts + 1, leased until lease_until_us. ordered: per order_key, only the
   oldest unfinished job of a key. *ret: rows {id, tenant_id, subject, payload, order_key,
   attempts, max_attempts, created_us}. */
int store_job_claim(struct store_tx *tx, const char *subject, bool ordered, uint64_t now_us,
		    uint64_t lease_until_us, int limit, json_t **ret);
int store_job_ready(struct store_tx *tx, const char *subject, uint64_t now_us); /* 1 | 0 */
/* Earliest run_at_us of an unfinished job of subject; -ENOENT if none. */
int store_job_next_at(struct store_tx *tx, const char *subject, uint64_t *ret_us);
int store_job_ack(struct store_tx *tx, const char *id);
int store_job_ack_many(struct store_tx *tx, const char *const *ids, size_t n); /* one statement */
/* Back to queued, claimable from run_at_us. */
int store_job_nak(struct store_tx *tx, const char *id, uint64_t run_at_us, const char *error);
int store_job_dead(struct store_tx *tx, const char *id, const char *error);
/* Back to queued now, the claim's attempt not counted (shutdown). */
int store_job_release(struct store_tx *tx, const char *id);
/* tenant_id NULL: any tenant (platform admin). */
int store_job_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
/* dead -> queued with attempts reset; -ENOENT, or -EBUSY if the job is not dead. */
int store_job_requeue(struct store_tx *tx, const char *tenant_id, const char *id);
struct store_job_filter {
	const char *state, *subject, *cursor;
	int limit;
};
int store_job_list(struct store_tx *tx, const char *tenant_id, const struct store_job_filter *f,
		   json_t **ret);
int store_job_outbox(struct store_tx *tx, int limit, json_t **ret); /* oldest first */
int store_job_delete(struct store_tx *tx, const char *id);
/* Deletes up to limit done jobs created before before_us; returns the count. */
int store_job_prune(struct store_tx *tx, uint64_t before_us, int limit);

/* events (what webhooks deliver) */
int store_event_insert(struct store_tx *tx, const char *tenant_id, const char *id, const char *type,
		       const char *data, uint64_t created_us);
int store_event_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);

/* webhook endpoints; event_types is a JSON array text */
struct store_endpoint {
	const char *id, *tenant_id, *url, *description, *event_types, *secret;
	int enabled; /* update: -1 leaves it */
};
int store_endpoint_insert(struct store_tx *tx, const struct store_endpoint *e);
/* tenant_id NULL: any tenant's (the deliverer, in system scope). */
int store_endpoint_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
int store_endpoint_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
			json_t **ret);
/* The tenant's enabled endpoints: rows {id, event_types}. */
int store_endpoints_enabled(struct store_tx *tx, const char *tenant_id, json_t **ret);
/* Sets the non-NULL fields of e (and enabled unless -1); enabling clears the failure
   state. -ENOENT if not the tenant's. */
int store_endpoint_update(struct store_tx *tx, const char *tenant_id, const char *id,
			  const struct store_endpoint *e);
/* New secret; the current one stays valid until old_expires_us. */
int store_endpoint_rotate(struct store_tx *tx, const char *tenant_id, const char *id,
			  const char *secret, uint64_t old_expires_us);
int store_endpoint_delete(struct store_tx *tx, const char *tenant_id, const char *id);
/* Disables an enabled endpoint; returns 1 if this call disabled it. */
int store_endpoint_disable(struct store_tx *tx, const char *id, const char *reason);
/* failing: marks the start of a failure streak (kept if already set) and returns it in
 *ret_since_us; !failing: clears it. */
int store_endpoint_failing(struct store_tx *tx, const char *id, uint64_t now_us, bool failing,
			   uint64_t *ret_since_us);

/* delivery log: one row per attempt */
struct store_delivery {
	const char *id, *tenant_id, *endpoint_id, *event_id, *job_id, *event_type, *url;
	int attempt, status_code;
	const char *error, *response, *outcome;
	uint64_t latency_us, created_us;
};
int store_delivery_insert(struct store_tx *tx, const struct store_delivery *d);
int store_delivery_list(struct store_tx *tx, const char *tenant_id, const char *endpoint_id,
			const char *cursor, int limit, json_t **ret);
int store_delivery_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
/* Events to this endpoint that finally failed (exhausted or disabled) since since_us and
   were never delivered: rows {event_id}. */
int store_deliveries_failed(struct store_tx *tx, const char *tenant_id, const char *endpoint_id,
			    uint64_t since_us, int limit, json_t **ret);

/* The tenant's auth token (signs X-Twilio-Signature): candidate is stored if there is none
   yet (or always, with replace); *ret = {id, auth_token}. */
int store_tenant_auth_token(struct store_tx *tx, const char *tenant_id, const char *candidate,
			    bool replace, json_t **ret);

/* ---- messaging (src/messaging and its routes) ---- */

/* the auth outbox: queued mails due by now_us (system scope), oldest first */
int store_outbox_due(struct store_tx *tx, uint64_t now_us, int limit, json_t **ret);
/* status "sent" purges the body (its token); "queued" (retry from next_us) or "failed". */
int store_outbox_result(struct store_tx *tx, const char *id, const char *status, const char *error,
			uint64_t next_us);

/* phone numbers: tenant_id NULL = the operator's pool (system scope) */
int store_number_insert(struct store_tx *tx, const char *id, const char *tenant_id,
			const char *number);
int store_number_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
int store_number_by_e164(struct store_tx *tx, const char *number, json_t **ret); /* system */
int store_number_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
		      json_t **ret);
int store_number_assign(struct store_tx *tx, const char *id, const char *tenant_id);
int store_number_set_sms(struct store_tx *tx, const char *tenant_id, const char *id,
			 const char *url, const char *method);
int store_number_delete(struct store_tx *tx, const char *id);
int store_sender_insert(struct store_tx *tx, const char *id, const char *tenant_id,
			const char *sender);
/* 1 if from is one of the tenant's numbers or approved sender ids, else 0. */
int store_sender_allowed(struct store_tx *tx, const char *tenant_id, const char *from);
/* What an SMS's acceptance checks read, in one statement: the routing generation, whether
   from is the tenant's (number or approved sender id), whether to opted out from it. */
struct store_sms_facts {
	int64_t routing_gen;
	bool sender_ok, opted_out;
};
int store_sms_facts(struct store_tx *tx, const char *tenant_id, const char *from, const char *to,
		    struct store_sms_facts *ret);

/* messaging providers; tenant_id NULL = operator-wide */
struct store_provider {
	const char *id, *tenant_id, *name, *kind, *config;
	int priority, weight, enabled; /* update: -1 leaves it */
};
int store_provider_insert(struct store_tx *tx, const struct store_provider *p);
/* any: whoever owns it (the worker, system scope). */
int store_provider_get(struct store_tx *tx, const char *tenant_id, bool any, const char *id,
		       json_t **ret);
int store_provider_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
			json_t **ret);
int store_provider_update(struct store_tx *tx, const char *tenant_id, const char *id,
			  const struct store_provider *p);
int store_provider_delete(struct store_tx *tx, const char *tenant_id, const char *id);
int store_provider_health(struct store_tx *tx, const char *id, const char *health);
struct store_rate {
	const char *prefix;
	int64_t cost_micros;
};
int store_rates_replace(struct store_tx *tx, const char *provider_id, const char *tenant_id,
			const struct store_rate *rates, size_t n);
int store_rates_list(struct store_tx *tx, const char *provider_id, json_t **ret);
/* Candidate providers for a tenant's message on channel ("sms" | "email") to dest: the
   tenant's own enabled ones if it has any, else the operator's; rows {id, tenant_id, kind,
   config, priority, weight, health, cost_micros (longest matching prefix, or null)}. */
int store_routes(struct store_tx *tx, const char *tenant_id, const char *channel, const char *dest,
		 json_t **ret);
/* The routing generation: raised by every change to providers (but their health) or rates
   (migration 0005's triggers), so an in-memory copy of the decks knows it is stale. */
int store_routing_gen(struct store_tx *tx, int64_t *ret);
/* 1 if the tenant has enabled providers of its own for channel (its messages use only
   those), 0 if it uses the operator's. */
int store_routes_own(struct store_tx *tx, const char *tenant_id, const char *channel);
/* The rate rows {provider_id, prefix, cost_micros} of the enabled providers for channel of
   owner (a tenant, or NULL: the operator), in provider order. */
int store_route_rates(struct store_tx *tx, const char *owner, const char *channel, json_t **ret);

/* SMS messages */
struct store_message {
	const char *id, *tenant_id, *direction, *from, *to, *body, *status, *encoding;
	const char *status_callback, *provider_id;
	int segments, validity_s;
	int64_t price_micros; /* < 0: unknown */
	uint64_t send_at_us;
};
int store_message_insert(struct store_tx *tx, const struct store_message *m);
int store_message_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
struct store_msg_filter {
	const char *status, *to, *from, *direction, *cursor;
	int limit;
};
int store_message_list(struct store_tx *tx, const char *tenant_id, const struct store_msg_filter *f,
		       json_t **ret);
struct store_msg_update {
	const char *provider_id, *attempts, *error_code, *error_message;
	int64_t price_micros; /* < 0: leave */
	bool sent, done;      /* stamp sent_us / done_us */
};
/* status, only if the message is in one of from (NULL-terminated; NULL: any); 1 if it
   changed, 0 if not. */
int store_message_status(struct store_tx *tx, const char *id, const char *status,
			 const char *const *from, const struct store_msg_update *u);
int store_part_insert(struct store_tx *tx, const char *provider_id, const char *pmid,
		      const char *tenant_id, const char *message_id, int seq);
/* Records a segment's receipt; *ret = {message_id, tenant_id, delivered, failed, parts,
   segments}; -ENOENT if the provider's id is unknown (yet). */
int store_part_receipt(struct store_tx *tx, const char *provider_id, const char *pmid,
		       const char *status, json_t **ret);
int store_early_receipt_put(struct store_tx *tx, const char *provider_id, const char *pmid,
			    const char *stat, const char *err);
/* Takes (and deletes) a receipt that came before its submit response; -ENOENT if none. */
int store_early_receipt_take(struct store_tx *tx, const char *provider_id, const char *pmid,
			     json_t **ret);

/* opt-out ledger (STOP / START) */
int store_optout_set(struct store_tx *tx, const char *tenant_id, const char *sender,
		     const char *recipient, bool out);
int store_optout_check(struct store_tx *tx, const char *tenant_id, const char *sender,
		       const char *recipient); /* 1 if opted out */

/* e-mails; request is the whole accepted request as JSON (attachments included) */
struct store_email {
	const char *id, *tenant_id, *from, *rcpt, *subject, *request, *status_callback,
	    *message_id_header;
};
int store_email_insert(struct store_tx *tx, const struct store_email *e);
int store_email_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
int store_email_list(struct store_tx *tx, const char *tenant_id, const char *status,
		     const char *cursor, int limit, json_t **ret);
int store_email_result(struct store_tx *tx, const char *id, const char *status,
		       const char *provider_id, int smtp_code, const char *error);
struct store_template {
	const char *id, *tenant_id, *name, *subject, *text, *html;
};
int store_template_insert(struct store_tx *tx, const struct store_template *t);
int store_template_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
int store_template_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
			json_t **ret);
int store_template_update(struct store_tx *tx, const char *tenant_id, const char *id,
			  const struct store_template *t);
int store_template_delete(struct store_tx *tx, const char *tenant_id, const char *id);

/* ---- voice (store/voice.c: carriers, rates, numbers, applications, dialplan, settings,
   recordings; store/calls.c: calls) ---- */

/* carriers (SIP trunks); tenant_id NULL = operator-wide. Update: NULL strings and -1
   integers leave a field. */
struct store_carrier {
	const char *id, *tenant_id, *name, *host, *transport, *username, *password;
	const char *number_format, *tech_prefix, *caller_id;
	int port, register_expires, max_channels, cps_limit, priority, weight, enabled, ping_ms;
};
int store_carrier_insert(struct store_tx *tx, const struct store_carrier *c);
/* any: whoever owns it (the call service, system scope). */
int store_carrier_get(struct store_tx *tx, const char *tenant_id, bool any, const char *id,
		      json_t **ret);
int store_carrier_list(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
		       json_t **ret);
int store_carrier_update(struct store_tx *tx, const char *tenant_id, const char *id,
			 const struct store_carrier *c);
int store_carrier_delete(struct store_tx *tx, const char *tenant_id, const char *id);
/* health: "up" | "down" | "unknown"; reg_status NULL leaves it. System scope. */
int store_carrier_health(struct store_tx *tx, const char *id, const char *health,
			 const char *reg_status);
/* Every enabled carrier of every owner (system scope; the engine's trunks). */
int store_carriers_enabled(struct store_tx *tx, json_t **ret);
struct store_carrier_rate {
	const char *prefix;  /* digits of the E.164 number without '+' */
	int64_t cost_micros; /* per minute */
	int min_s, incr_s;   /* billing increments: 60/60, 1/1, 30/6 ... */
};
int store_carrier_rates_replace(struct store_tx *tx, const char *carrier_id, const char *tenant_id,
				const struct store_carrier_rate *rates, size_t n);
int store_carrier_rates_list(struct store_tx *tx, const char *carrier_id, json_t **ret);
/* Candidate carriers for a tenant's outbound leg to dest (E.164 digits without '+'): the
   tenant's own enabled carriers if it has any, else the operator's enabled ones; rows
   {id, tenant_id, name, host, port, transport, username, password, number_format,
   tech_prefix, caller_id, max_channels, cps_limit, priority, weight, health, prefix,
   cost_micros, min_s, incr_s} where prefix/cost_micros/min_s/incr_s are those of the
   longest matching rate prefix, or null when the carrier has no matching rate. Unordered:
   the caller ranks them. */
int store_carrier_routes(struct store_tx *tx, const char *tenant_id, const char *dest,
			 json_t **ret);

/* a number's voice settings (PATCH: NULL leaves a field, "" clears it) */
struct store_number_voice {
	const char *voice_url, *voice_method, *fallback_url, *fallback_method, *status_callback,
	    *application_id;
};
int store_number_set_voice(struct store_tx *tx, const char *tenant_id, const char *id,
			   const struct store_number_voice *v);
/* System scope: the carrier a number arrives on and is sent from ("" clears). */
int store_number_set_carrier(struct store_tx *tx, const char *id, const char *carrier_id);

/* applications: kind "document" | "ivr"; document is the TwiML XML that runs */
struct store_application {
	const char *id, *tenant_id, *name, *kind, *source, *document;
};
int store_application_insert(struct store_tx *tx, const struct store_application *a);
int store_application_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
int store_application_list(struct store_tx *tx, const char *tenant_id, const char *cursor,
			   int limit, json_t **ret);
int store_application_update(struct store_tx *tx, const char *tenant_id, const char *id,
			     const struct store_application *a);
int store_application_delete(struct store_tx *tx, const char *tenant_id, const char *id);

/* inbound dialplan rules (update: NULL strings and INT_MIN integers leave a field) */
struct store_dialplan_rule {
	const char *id, *tenant_id, *name, *match_number, *match_prefix, *match_caller, *days,
	    *time_start, *time_end, *application_id;
	int priority, utc_offset_min, enabled;
};
int store_dialplan_insert(struct store_tx *tx, const struct store_dialplan_rule *r);
int store_dialplan_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
/* ordered by priority, then id */
int store_dialplan_list(struct store_tx *tx, const char *tenant_id, json_t **ret);
int store_dialplan_update(struct store_tx *tx, const char *tenant_id, const char *id,
			  const struct store_dialplan_rule *r);
int store_dialplan_delete(struct store_tx *tx, const char *tenant_id, const char *id);
/* The winning enabled rule of tenant for a call to `to` from `from` at now_us (UTC);
   -ENOENT if none matches. */
int store_dialplan_match(struct store_tx *tx, const char *tenant_id, const char *to,
			 const char *from, uint64_t now_us, json_t **ret);

/* per-tenant voice guardrails: *ret = the row, or -ENOENT (defaults apply). Put: NULL
   strings and < 0 integers store NULL (the default). */
struct store_voice_settings {
	const char *home_country, *allowed_countries; /* ISO 3166 alpha-2; comma list */
	int calls_per_second, max_concurrent_calls;
	int64_t daily_spend_cap_micros;
};
int store_voice_settings_get(struct store_tx *tx, const char *tenant_id, json_t **ret);
int store_voice_settings_put(struct store_tx *tx, const char *tenant_id,
			     const struct store_voice_settings *s);

/* recordings */
struct store_recording {
	const char *id, *tenant_id, *call_id, *source, *path, *status_callback,
	    *status_callback_method;
};
int store_recording_insert(struct store_tx *tx, const struct store_recording *r); /* in-progress */
/* status "completed" | "failed"; tenant_id NULL: any (the call service). */
int store_recording_done(struct store_tx *tx, const char *id, const char *status, int duration_ms,
			 int64_t bytes);
int store_recording_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
/* call_id NULL: all of the tenant's; deleted ones are not listed */
int store_recording_list(struct store_tx *tx, const char *tenant_id, const char *call_id,
			 const char *cursor, int limit, json_t **ret);
/* Marks it deleted; *ret_path (malloc'd) is the file to unlink. -ENOENT if unknown. */
int store_recording_delete(struct store_tx *tx, const char *tenant_id, const char *id,
			   char **ret_path);

/* calls: one row per leg; the call record once end_us is set (store/calls.c) */
struct store_call {
	const char *id, *tenant_id, *parent_id, *direction, *from, *to, *status;
	const char *url, *method, *fallback_url, *fallback_method, *twiml, *application_id;
	const char *status_callback, *status_callback_method, *status_callback_events;
	int timeout_s, time_limit_s, record;
	const char *engine_run; /* NULL until the media side takes it */
};
int store_call_insert(struct store_tx *tx, const struct store_call *c);
/* tenant_id NULL: any tenant's (the call service, system scope). */
int store_call_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret);
struct store_call_filter {
	const char *status, *direction, *from, *to, *parent_id, *cursor;
	uint64_t since_us, until_us; /* created_us range; 0: open */
	int limit;
};
int store_call_list(struct store_tx *tx, const char *tenant_id, const struct store_call_filter *f,
		    json_t **ret);
/* A live call's progress: NULL strings, < 0 ints and 0 times leave a field. */
struct store_call_update {
	const char *status, *carrier_id, *attempts, *engine_run, *url, *method, *twiml;
	int sip_code;
	uint64_t ring_us, answer_us, seen_us;
};
/* Applies u if the call is not ended and (from == NULL or its status is one of from,
   NULL-terminated). 1 if it changed, 0 if not. */
int store_call_update(struct store_tx *tx, const char *id, const char *const *from,
		      const struct store_call_update *u);
/* The call record: sets the final fields and end_us, only if end_us is still NULL (so a
   call is closed, and billed, once). 1 if this closed it, 0 if it was already closed. */
struct store_call_end {
	const char *status, *end_reason, *quality, *carrier_id, *attempts;
	int sip_code, q850_cause, duration_s, billed_s;
	int64_t cost_micros;	    /* < 0: NULL (unpriced) */
	uint64_t end_us, answer_us; /* answer_us 0: leave */
};
int store_call_finish(struct store_tx *tx, const char *id, const struct store_call_end *e);
/* Appends a recording id to the call's recording_ids. */
int store_call_add_recording(struct store_tx *tx, const char *id, const char *recording_id);
/* System scope: unfinished calls a media run took (engine_run set) other than run, created
   before before_us (a queued call no run has taken yet waits in the bus and is not an
   orphan); rows as store_call_get. */
int store_calls_orphaned(struct store_tx *tx, const char *run, uint64_t before_us, int limit,
			 json_t **ret);
/* Live (not ended, not queued) calls of the tenant, and the cost of its calls ended since
   since_us (the daily spend). */
int store_calls_live_count(struct store_tx *tx, const char *tenant_id, int *ret);
int store_calls_spend(struct store_tx *tx, const char *tenant_id, uint64_t since_us,
		      int64_t *ret_micros);

/* Lists: cursor is the last id of the previous page; rows are newest first. The list
   functions fetch limit+1 rows so callers can tell whether there is a next page. */
#define STORE_LIST_MAX 200

#endif
