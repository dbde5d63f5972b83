/* internal.h: helpers shared by the api handlers. Private to src/api. */
#ifndef IRISX_API_INTERNAL_H
#define IRISX_API_INTERNAL_H

#include <string.h>

#include "api.h"

/* Row -> resource: drops omitted keys, *_us integers become *_at RFC 3339 strings, known
   0/1 flags become booleans. Does not steal row. */
json_t *present(json_t *row, const char *const *omit);
json_t *present_tenant(json_t *row);
json_t *present_user(json_t *row);
json_t *present_key(json_t *row);
json_t *present_plain(json_t *row);
json_t *present_endpoint(json_t *row);
json_t *present_delivery(json_t *row);
json_t *present_job(json_t *row);
json_t *present_message(json_t *row);
json_t *present_email(json_t *row);
json_t *present_template(json_t *row);
json_t *present_provider(json_t *row);
json_t *present_number(json_t *row);
json_t *present_call(json_t *row);
json_t *present_carrier(json_t *row);
json_t *present_application(json_t *row);
json_t *present_rule(json_t *row);
json_t *present_recording(json_t *row);

/* Row -> resource, for handlers shared by /v1 and the Twilio-compatible routes. */
typedef json_t *(api_present_fn)(json_t *row);
json_t *present_twilio_call(json_t *row);
json_t *present_twilio_recording(json_t *row);

/* POST /v1/calls on req->json (the /v1 fields), answered with present. */
int api_calls_create(struct http_req *req, api_present_fn *show);
/* A command on call id from req->json (status | url, method | twiml); a command the engine
   will carry out is answered with status accepted. */
int api_calls_update(struct http_req *req, const char *id, api_present_fn *show, int accepted);
/* The recording's WAV (404 unless completed); the row's call/tenant are checked by the store. */
int api_recording_audio(struct http_req *req, const char *id);

/* Answers the file at path (200, or 206 for one "Range: bytes=" range, 416 past the end;
   404 if it is missing), sent from the file by the server. Returns 0. */
int api_send_file(struct http_req *req, const char *path, const char *type);

/* Normalised e-mail (lower case, trimmed) into out; -EINVAL if not plausible. */
int email_normalize(const char *in, char *out, size_t n);
#define EMAIL_MAX 254

/* Issues a session: session row + refresh token in tx, access token signed; sets
   tokens (object with access_token, refresh_token, token_type, expires_in). */
int issue_session(struct store_tx *tx, struct http_req *req, const char *tenant_id,
		  const char *user_id, const char *role, json_t **ret_tokens);

/* New refresh token in session sid plus a signed access token. */
int issue_tokens(struct store_tx *tx, struct http_req *req, const char *tenant_id,
		 const char *user_id, const char *role, const char *sid, json_t **ret_tokens);

/* A store list: the rows of tenant_id (NULL: the operator's) after cursor, newest first. */
typedef int(api_list_fn)(struct store_tx *tx, const char *tenant_id, const char *cursor, int limit,
			 json_t **ret);
/* GET of a list resource: the page parameters, list in a read transaction scoped to scope,
   each row shaped by present, the page envelope (http_page). */
int api_list(struct http_req *req, const char *scope, api_list_fn *list,
	     json_t *(*present)(json_t *row));

/* Path parameter i as an id with prefix, or NULL (caller answers 404). */
const char *path_id(struct http_req *req, int i, const char *prefix);

/* Answers 404 and returns 0. */
int not_found(struct http_req *req);

/* handlers */
http_handler_fn h_healthz, h_readyz, h_metrics, h_openapi;
http_handler_fn h_register, h_login, h_refresh, h_logout, h_me, h_change_password, h_reset_request,
    h_reset_confirm, h_verify_email, h_verify_request;
http_handler_fn h_tenant_get, h_tenant_patch;
http_handler_fn h_users_list, h_users_create, h_users_get, h_users_patch;
http_handler_fn h_keys_list, h_keys_create, h_keys_get, h_keys_revoke;
http_handler_fn h_audit_list, h_admin_audit_list;
http_handler_fn h_admin_tenants_list, h_admin_tenants_create, h_admin_tenants_get,
    h_admin_tenants_suspend, h_admin_tenants_resume, h_admin_tenants_delete, h_admin_limits_get,
    h_admin_limits_put, h_admin_outbox;
http_handler_fn h_webhooks_create, h_webhooks_list, h_webhooks_get, h_webhooks_patch,
    h_webhooks_delete, h_webhooks_rotate, h_webhooks_test, h_webhooks_deliveries, h_webhooks_replay,
    h_webhooks_event_types, h_delivery_replay, h_auth_token_get;
http_handler_fn h_jobs_list, h_jobs_get, h_jobs_retry;
http_handler_fn h_messages_create, h_messages_list, h_messages_get, h_messages_cancel,
    h_emails_create, h_emails_list, h_emails_get, h_templates_create, h_templates_list,
    h_templates_get, h_templates_patch, h_templates_delete;
http_handler_fn h_providers_create, h_providers_list, h_providers_get, h_providers_patch,
    h_providers_delete, h_rates_put, h_rates_get, h_admin_numbers_create, h_numbers_list,
    h_admin_numbers_patch, h_admin_numbers_delete, h_numbers_get, h_numbers_patch,
    h_admin_senders_create, h_inbound_provider;
http_handler_fn h_calls_create, h_calls_list, h_calls_get, h_calls_export, h_calls_update,
    h_calls_transfer;
http_handler_fn h_tw_calls_create, h_tw_calls_list, h_tw_calls_get, h_tw_calls_update,
    h_tw_recordings_list, h_tw_call_recordings, h_tw_recordings_get, h_tw_recordings_audio,
    h_tw_recordings_delete;
http_handler_fn h_voice_settings_get, h_voice_settings_patch, h_admin_voice_settings_get,
    h_admin_voice_settings_put;
http_handler_fn h_carriers_create, h_carriers_list, h_carriers_get, h_carriers_patch,
    h_carriers_delete, h_carrier_rates_put, h_carrier_rates_get;
http_handler_fn h_applications_create, h_applications_list, h_applications_get,
    h_applications_patch, h_applications_delete;
http_handler_fn h_dialplan_create, h_dialplan_list, h_dialplan_get, h_dialplan_patch,
    h_dialplan_delete, h_dialplan_match;
http_handler_fn h_recordings_list, h_recordings_get, h_recordings_audio, h_recordings_delete;
http_handler_fn h_tts_create, h_tts_get, h_tts_audio, h_tts_voices;

#endif
