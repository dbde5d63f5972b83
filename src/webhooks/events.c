/* events.c: the event catalogue, subscription patterns, and emitting: an event row plus
   one delivery job per subscribed endpoint, in the caller's transaction. */
#include <string.h>

#include "client.h"
#include "webhooks.h"

static const struct {
	const char *type, *description;
} catalogue[] = {
    {"call.queued", "An outbound call was accepted by the API"},
    {"call.initiated", "An outbound call was handed to a carrier"},
    {"call.ringing", "The far end is ringing"},
    {"call.answered", "The call was answered"},
    {"call.completed", "The call ended (any final status; see data.status)"},
    {"call.failed", "The call could not be placed (blocked, no route, carrier error)"},
    {"call.error", "A call-control document could not be fetched or parsed"},
    {"call.transferred", "The far end asked for a transfer (SIP REFER) and it was placed"},
    {"message.queued", "An SMS was accepted"},
    {"message.sent", "An SMS was accepted by the provider"},
    {"message.delivered", "A delivery receipt confirmed the SMS"},
    {"message.undelivered", "A delivery receipt reported failure"},
    {"message.failed", "The SMS could not be sent"},
    {"message.received", "An inbound SMS arrived"},
    {"email.queued", "An e-mail was accepted"},
    {"email.sent", "The SMTP relay accepted the e-mail"},
    {"email.failed", "The e-mail could not be sent"},
    {"recording.completed", "A recording is ready to download"},
    {"recording.failed", "A recording could not be stored"},
    {"queue.joined", "A caller entered a queue"},
    {"queue.left", "A caller left a queue (answered, hung up or timed out)"},
    {"agent.status_changed", "An agent's availability changed"},
    {"campaign.started", "A dialer campaign started"},
    {"campaign.completed", "A dialer campaign finished"},
    {"webhook.test", "Sent by POST /v1/webhooks/{id}/test"},
    {"webhook.endpoint_disabled", "An endpoint was disabled (410 Gone, or failing too long)"},
};
#define NCAT (sizeof(catalogue) / sizeof(catalogue[0]))

bool webhooks_event_known(const char *type)
{
	for (size_t i = 0; i < NCAT; i++)
		if (!strcmp(catalogue[i].type, type))
			return true;
	return false;
}

bool webhooks_pattern_valid(const char *p)
{
	if (!p || !*p)
		return false;
	if (!strcmp(p, "*"))
		return true;
	size_t n = strlen(p);
	if (n > 2 && !strcmp(p + n - 2, ".*")) {
		for (size_t i = 0; i < NCAT; i++)
			if (!strncmp(catalogue[i].type, p, n - 1))
				return true;
		return false;
	}
	return webhooks_event_known(p);
}

bool webhooks_pattern_match(const char *p, const char *type)
{
	if (!strcmp(p, "*"))
		return true;
	size_t n = strlen(p);
	if (n > 2 && !strcmp(p + n - 2, ".*"))
		return !strncmp(type, p, n - 1);
	return !strcmp(p, type);
}

json_t *webhooks_catalogue(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < NCAT; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}", "type", catalogue[i].type,
						   "description", catalogue[i].description));
	return a;
}

int64_t webhooks_retry_delay_s(int attempt)
{
	static const int64_t after[WEBHOOK_ATTEMPTS] = {5, 300, 1800, 7200, 18000, 36000, 36000, 0};
	return attempt >= 1 && attempt < WEBHOOK_ATTEMPTS ? after[attempt - 1] : 0;
}

static bool endpoint_wants(json_t *row, const char *type)
{
	json_t *pats = json_loads(json_str(row, "event_types"), 0, NULL);
	bool yes = false;
	size_t i;
	json_t *v;
	json_array_foreach (pats, i, v) {
		if (json_is_string(v) && webhooks_pattern_match(json_string_value(v), type))
			yes = true;
	}
	json_decref(pats);
	return yes;
}

static int queue_delivery(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			  const char *event_id, const char *endpoint_id, const char *type,
			  const char *body, bool dedupe, char ret_job_id[ID_LEN + 1])
{
	json_t *pl = json_pack("{s:s,s:s,s:s,s:s}", "endpoint_id", endpoint_id, "event_id",
			       event_id, "type", type, "body", body);
	char *text = json_dumps(pl, JSON_COMPACT);
	json_decref(pl);
	char key[2 * ID_LEN + 2];
	snprintf(key, sizeof(key), "%s:%s", event_id, endpoint_id);
	struct bus_pub p = {.subject = WEBHOOK_SUBJECT,
			    .tenant_id = tenant_id,
			    .payload = text,
			    .dedupe_key = dedupe ? key : NULL,
			    .max_attempts = WEBHOOK_ATTEMPTS};
	int r = bus_publish_tx(bus, tx, &p, ret_job_id);
	free(text);
	return r;
}

static char *event_body(const char *type, uint64_t created_us, json_t *data)
{
	char ts[TIME_RFC3339_LEN];
	json_t *b = json_pack("{s:s,s:s,s:O}", "type", type, "timestamp", time_fmt(created_us, ts),
			      "data", data);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

static int emit(struct bus *bus, struct store_tx *tx, const char *tenant_id, const char *type,
		json_t *data, const char *dtext, const char *only_endpoint,
		char ret_event_id[ID_LEN + 1])
{
	if (!json_is_object(data) || !webhooks_event_known(type))
		return -EINVAL;
	char id[ID_LEN + 1];
	id_new("EV", id);
	uint64_t now = time_now_us();
	char *made = dtext ? NULL : json_serialize(data, JSON_COMPACT, NULL);
	int r = store_event_insert(tx, tenant_id, id, type, dtext ? dtext : made, now);
	free(made);
	if (r < 0)
		return r;
	char *body = NULL; /* the envelope, made once an endpoint wants the event */
	json_t *eps = NULL;
	if (only_endpoint) {
		json_t *row;
		r = store_endpoint_get(tx, tenant_id, only_endpoint, &row);
		if (r >= 0) {
			eps = json_array();
			json_array_append_new(eps, row);
		}
	} else {
		r = store_endpoints_enabled(tx, tenant_id, &eps);
	}
	size_t i;
	json_t *ep;
	json_array_foreach (eps, i, ep) {
		if (r < 0)
			break;
		if (!only_endpoint && !endpoint_wants(ep, type))
			continue;
		if (!body && !(body = event_body(type, now, data))) {
			r = -ENOMEM;
			break;
		}
		r = queue_delivery(bus, tx, tenant_id, id, json_str(ep, "id"), type, body, true,
				   NULL);
	}
	json_decref(eps);
	free(body);
	if (r >= 0 && ret_event_id)
		memcpy(ret_event_id, id, sizeof(id));
	return r < 0 ? r : 0;
}

int webhooks_emit_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id, const char *type,
		     json_t *data, const char *only_endpoint, char ret_event_id[ID_LEN + 1])
{
	return emit(bus, tx, tenant_id, type, data, NULL, only_endpoint, ret_event_id);
}

int webhooks_emit_text_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			  const char *type, json_t *data, const char *dtext)
{
	return emit(bus, tx, tenant_id, type, data, dtext, NULL, NULL);
}

int webhooks_replay_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
		       const char *event_id, const char *endpoint_id, char ret_job_id[ID_LEN + 1])
{
	json_t *ev;
	int r = store_event_get(tx, tenant_id, event_id, &ev);
	if (r < 0)
		return r;
	json_t *data = json_loads(json_str(ev, "data"), 0, NULL);
	char *body = event_body(json_str(ev, "type"), (uint64_t)json_int(ev, "created_us", 0),
				data ? data : json_object());
	r = queue_delivery(bus, tx, tenant_id, event_id, endpoint_id, json_str(ev, "type"), body,
			   false, ret_job_id);
	free(body);
	json_decref(data);
	json_decref(ev);
	return r < 0 ? r : 0;
}

int webhooks_callback_tx(struct bus *bus, struct store_tx *tx, const char *tenant_id,
			 const char *url, const char *method, json_t *params)
{
	if (!json_is_object(params) || !url)
		return -EINVAL;
	json_t *pl = json_pack("{s:s,s:s,s:O}", "url", url, "method", method ? method : "POST",
			       "params", params);
	char *text = json_dumps(pl, JSON_COMPACT);
	json_decref(pl);
	struct bus_pub p = {.subject = CALLBACK_SUBJECT,
			    .tenant_id = tenant_id,
			    .payload = text,
			    .max_attempts = WEBHOOK_ATTEMPTS};
	int r = bus_publish_tx(bus, tx, &p, NULL);
	free(text);
	return r < 0 ? r : 0;
}

int webhooks_check_url(const char *url, bool allow_private, const char **ret_reason)
{
	return ssrf_check_url(url, allow_private, ret_reason);
}

void webhooks_secret_new(char out[WEBHOOK_SECRET_MAX])
{
	whsig_secret_new(out);
}

void webhooks_auth_token_new(char out[33])
{
	unsigned char b[16];
	rand_bytes(b, sizeof(b));
	hex_encode(b, sizeof(b), out);
}
