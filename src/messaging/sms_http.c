/* sms_http.c: the HTTP SMS providers: sending through a Twilio-compatible or a Telnyx-style
   API with libcurl (blocking), and parsing their status and inbound webhooks. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "webhooks/webhooks.h"

#include "sms.h"

#define RESP_MAX (64 * 1024)	/* a provider's answer longer than this aborts the transfer */
#define WEBHOOK_MAX (64 * 1024) /* a webhook body longer than this is refused */
#define TIMEOUT_MS 15000	/* when the provider gives none */
#define CONNECT_TIMEOUT_MS 5000
#define FIELD_MAX 256 /* from, to, account, token, status_callback */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Formats the reason into ret->error, cut back to a whole UTF-8 character if too long. */
__attribute__((format(printf, 2, 3))) static void set_error(struct sms_http_result *ret,
							    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(ret->error, sizeof(ret->error), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(ret->error)) {
		size_t l = sizeof(ret->error) - 1;
		while (l > 0 && ((unsigned char)ret->error[l] & 0xc0) == 0x80)
			l--;
		ret->error[l] = '\0';
	}
}

/* True if s is short and holds no control characters (it goes into a header or a URL). */
static bool field_ok(const char *s)
{
	if (!s || strlen(s) > FIELD_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Appends s percent-encoded (RFC 3986 unreserved characters kept). */
static void pct_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			buf_append(b, e, 3);
		}
	}
}

static void form_add(struct buf *b, const char *k, const char *v)
{
	if (!v || !*v)
		return;
	if (b->len)
		buf_puts(b, "&");
	pct_encode(b, k);
	buf_puts(b, "=");
	pct_encode(b, v);
}

struct resp {
	struct buf body;
	bool too_large;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	if (buf_append(&r->body, p, size * n) < 0) {
		r->too_large = true;
		return 0;
	}
	return size * n;
}

/* The request of p's kind: URL, body and headers. -EINVAL if a field cannot be sent. */
static int build(const struct sms_http_provider *p, const char *from, const char *to,
		 const char *body, struct buf *url, struct buf *req, struct curl_slist **hdrs)
{
	size_t blen = strlen(p->base_url);
	while (blen > 0 && p->base_url[blen - 1] == '/')
		blen--;
	buf_append(url, p->base_url, blen);
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (p->kind == SMS_HTTP_TWILIO) {
		buf_puts(url, "/2010-04-01/Accounts/");
		pct_encode(url, p->account);
		buf_puts(url, "/Messages.json");
		form_add(req, "To", to);
		form_add(req, "From", from);
		if (req->len)
			buf_puts(req, "&");
		buf_puts(req, "Body="); /* an empty body is still a field */
		pct_encode(req, body);
		form_add(req, "StatusCallback", p->status_callback);
		*hdrs = curl_slist_append(*hdrs, "Content-Type: application/x-www-form-urlencoded");
		return 0;
	}
	buf_puts(url, "/v2/messages");
	json_t *o = json_pack("{s:s, s:s, s:s}", "from", from, "to", to, "text", body);
	if (!o)
		return -EINVAL; /* not UTF-8 */
	if (p->status_callback && *p->status_callback)
		json_object_set_new(o, "webhook_url", json_string(p->status_callback));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return -EINVAL;
	buf_puts(req, s);
	free(s);
	struct buf auth;
	buf_init(&auth, 0);
	buf_printf(&auth, "Authorization: Bearer %s", p->token);
	*hdrs = curl_slist_append(*hdrs, auth.p);
	buf_free(&auth);
	*hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
	return 0;
}

/* A new easy handle for the request; NULL if curl refuses an option we rely on. The URL was
   checked by webhooks_check_url; the address check at connect time is skipped because
   base_url is operator configuration, not tenant input (a tenant's own provider is the
   API's to vet before it is stored). */
static CURL *easy_new(const struct sms_http_provider *p, const char *url, const struct buf *req,
		      struct curl_slist *hdrs, struct resp *resp, char *errbuf)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	long timeout = p->timeout_ms > 0 ? p->timeout_ms : TIMEOUT_MS;
	long connect = timeout < CONNECT_TIMEOUT_MS ? timeout : CONNECT_TIMEOUT_MS;
	int r = 0; /* CURLE_OK is 0: any failed option leaves a bit set */
	r |= curl_easy_setopt(e, CURLOPT_URL, url);
	r |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	r |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	r |= curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment */
	r |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	r |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect);
	r |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
	r |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)RESP_MAX);
	r |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	r |= curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
	r |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	r |= curl_easy_setopt(e, CURLOPT_USERAGENT, "IRISX/" IRISX_VERSION);
	r |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	r |= curl_easy_setopt(e, CURLOPT_POST, 1L);
	r |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
	r |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->p ? req->p : "");
	if (p->kind == SMS_HTTP_TWILIO) {
		r |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		r |= curl_easy_setopt(e, CURLOPT_USERNAME, p->account);
		r |= curl_easy_setopt(e, CURLOPT_PASSWORD, p->token);
	}
	if (r != 0) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/* A failure before any usable answer: connection and timeout errors are worth another try
   (a timeout after the request went out may mean the provider has it: the caller's retry
   policy decides about duplicates). */
static void transport_error(CURLcode res, const char *errbuf, struct sms_http_result *ret)
{
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		ret->retryable = true;
		set_error(ret, "timeout: %s", errbuf[0] ? errbuf : curl_easy_strerror(res));
		return;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
		ret->retryable = true;
		break;
	default:
		ret->retryable = false;
	}
	set_error(ret, "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
}

/* A JSON scalar (string or integer) as text in out; "" if absent. */
static void scalar(const json_t *v, char *out, size_t n)
{
	out[0] = '\0';
	if (json_is_string(v))
		snprintf(out, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, n, "%lld", (long long)json_integer_value(v));
}

/* The provider's error from its JSON answer, else the bare status. */
static void provider_error(enum sms_http_kind kind, const json_t *root, int status,
			   struct sms_http_result *ret)
{
	char code[32];
	const char *msg = NULL, *detail = NULL;
	if (kind == SMS_HTTP_TWILIO) {
		scalar(json_object_get(root, "code"), code, sizeof(code));
		msg = json_str(root, "message");
	} else {
		const json_t *e = json_array_get(json_object_get(root, "errors"), 0);
		scalar(json_object_get(e, "code"), code, sizeof(code));
		msg = json_str(e, "title");
		detail = json_str(e, "detail");
	}
	if (!code[0] && !msg) {
		set_error(ret, "HTTP %d", status);
		return;
	}
	set_error(ret, "%s%s%s%s%s", code, code[0] && msg ? ": " : "", msg ? msg : "",
		  detail ? ": " : "", detail ? detail : "");
}

/* Judges an answer: 0 with the id on 2xx, else -EIO with the provider's reason. */
static int answer(enum sms_http_kind kind, int status, const struct buf *body,
		  struct sms_http_result *ret)
{
	json_t *root = body->len ? json_loadb(body->p, body->len, 0, NULL) : NULL;
	int r = -EIO;
	ret->http_status = status;
	if (status >= 200 && status < 300) {
		const char *id = kind == SMS_HTTP_TWILIO
				     ? json_str(root, "sid")
				     : json_str(json_object_get(root, "data"), "id");
		if (!id || !*id || !field_ok(id) || strlen(id) >= sizeof(ret->provider_id)) {
			/* accepted, maybe: sending again could duplicate, so no retry */
			set_error(ret, "HTTP %d without a usable message id", status);
		} else {
			snprintf(ret->provider_id, sizeof(ret->provider_id), "%s", id);
			r = 0;
		}
	} else {
		ret->retryable = status == 429 || status >= 500;
		provider_error(kind, root, status, ret);
	}
	json_decref(root);
	return r;
}

int sms_http_send(const struct sms_http_provider *p, const char *from, const char *to,
		  const char *body, struct sms_http_result *ret)
{
	const char *why = NULL;
	memset(ret, 0, sizeof(*ret));
	if (!p || (p->kind != SMS_HTTP_TWILIO && p->kind != SMS_HTTP_TELNYX) || !p->base_url ||
	    !field_ok(p->token) || !field_ok(from) || !field_ok(to) || !body ||
	    (p->kind == SMS_HTTP_TWILIO && (!field_ok(p->account) || !*p->account)) ||
	    (p->status_callback && !field_ok(p->status_callback))) {
		set_error(ret, "missing or malformed provider setting or argument");
		return -EINVAL;
	}
	if (strlen(body) > (size_t)SMS_BODY_MAX * 4) {
		set_error(ret, "body longer than %d characters", SMS_BODY_MAX);
		return -EINVAL;
	}
	if (webhooks_check_url(p->base_url, p->allow_private, &why) < 0 ||
	    strpbrk(p->base_url, "?#")) {
		set_error(ret, "provider base_url refused: %s", why ? why : "query or fragment");
		return -EINVAL;
	}
	pthread_once(&curl_once, curl_init);
	struct buf url, req;
	struct resp resp;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *e = NULL;
	int r;
	buf_init(&url, 0);
	buf_init(&req, 0);
	buf_init(&resp.body, RESP_MAX);
	resp.too_large = false;
	r = build(p, from, to, body, &url, &req, &hdrs);
	if (r < 0) {
		set_error(ret, "a field is not valid UTF-8");
		goto out;
	}
	e = easy_new(p, url.p, &req, hdrs, &resp, errbuf);
	if (!e) {
		r = -EIO;
		set_error(ret, "libcurl refused the request options");
		goto out;
	}
	CURLcode res = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (res == CURLE_OK) {
		r = answer(p->kind, (int)status, &resp.body, ret);
		goto out;
	}
	r = -EIO;
	ret->http_status = (int)status;
	if (resp.too_large || res == CURLE_FILESIZE_EXCEEDED) {
		ret->retryable = status == 429 || status >= 500;
		set_error(ret, "answer larger than %d bytes (HTTP %ld)", RESP_MAX, status);
	} else {
		transport_error(res, errbuf, ret);
	}
out:
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	buf_free(&url);
	buf_free(&req);
	buf_free(&resp.body);
	return r;
}

/* ---- webhooks from the providers ---- */

/* Provider status -> ours (queued, sending, sent, delivered, undelivered, failed, received);
   a status not listed leaves "status" null, with the original in "provider_status". */
static const struct {
	const char *provider, *ours;
} status_map[] = {
    {"accepted", "queued"},
    {"scheduled", "queued"},
    {"queued", "queued"},
    {"sending", "sending"},
    {"sent", "sent"},
    {"delivery_unconfirmed", "sent"},
    {"delivered", "delivered"},
    {"read", "delivered"},
    {"undelivered", "undelivered"},
    {"delivery_failed", "undelivered"},
    {"expired", "undelivered"},
    {"failed", "failed"},
    {"sending_failed", "failed"},
    {"received", "received"},
};

static const char *map_status(const char *s)
{
	for (size_t i = 0; s && i < sizeof(status_map) / sizeof(status_map[0]); i++)
		if (strcmp(s, status_map[i].provider) == 0)
			return status_map[i].ours;
	return NULL;
}

/* A JSON string, or null for NULL or "". NULL if s is not UTF-8. */
static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* The common shape; -EINVAL if a value is not UTF-8. */
static int result(const char *kind, const char *id, const char *status, const char *error_code,
		  const char *from, const char *to, const char *body, json_t **ret)
{
	const char *fields[] = {"provider_id", "provider_status", "error_code", "from", "to"};
	const char *values[] = {id, status, error_code, from, to};
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "status", str_or_null(map_status(status)));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = str_or_null(values[i]);
		if (!v || json_object_set_new(o, fields[i], v) < 0) {
			json_decref(o);
			return -EINVAL;
		}
	}
	json_t *b = body ? json_string(body) : json_null();
	if (!b || json_object_set_new(o, "body", b) < 0) {
		json_decref(o);
		return -EINVAL;
	}
	*ret = o;
	return 0;
}

enum { F_SID, F_SMSSID, F_MSTATUS, F_SSTATUS, F_ERROR, F_FROM, F_TO, F_BODY, F_N };
static const char *const form_keys[F_N] = {
    "MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "ErrorCode", "From", "To", "Body"};

/* The first value of key in a form_parse object (a repeated key is an array), or NULL. */
static const char *form_first(const json_t *form, const char *key)
{
	const json_t *v = json_object_get(form, key);
	return json_string_value(json_is_array(v) ? json_array_get(v, 0) : v);
}

/* Twilio: a status callback carries MessageStatus; an inbound message SmsStatus=received
   and a Body. */
static int parse_twilio(const char *body, size_t len, json_t **ret)
{
	json_t *form;
	if (form_parse(body, len, &form) < 0)
		return -EINVAL;
	const char *v[F_N];
	for (int f = 0; f < F_N; f++)
		v[f] = form_first(form, form_keys[f]);
	int r = -EINVAL;
	const char *id = v[F_SID] && *v[F_SID] ? v[F_SID] : v[F_SMSSID];
	const char *status = v[F_MSTATUS] && *v[F_MSTATUS] ? v[F_MSTATUS] : v[F_SSTATUS];
	bool inbound = status ? strcmp(status, "received") == 0 : v[F_BODY] != NULL;
	if (!id || !*id)
		goto out;
	if (inbound && (!v[F_FROM] || !*v[F_FROM] || !v[F_TO] || !*v[F_TO]))
		goto out;
	if (!inbound && (!status || !*status))
		goto out;
	r = result(inbound ? "inbound" : "receipt", id, inbound ? "received" : status, v[F_ERROR],
		   v[F_FROM], v[F_TO], inbound ? (v[F_BODY] ? v[F_BODY] : "") : v[F_BODY], ret);
out:
	json_decref(form);
	return r;
}

/* Telnyx: {data: {event_type, payload: {id, from: {phone_number}, to: [{phone_number,
   status}], text, errors: [{code}]}}}. */
static int parse_telnyx(const char *body, size_t len, json_t **ret)
{
	json_t *root = NULL;
	const char *why = NULL;
	if (json_parse_body(body, len, &root, &why) < 0)
		return -EINVAL;
	const json_t *data = json_object_get(root, "data");
	const json_t *pl = json_object_get(data, "payload");
	const char *type = json_str(data, "event_type"), *id = json_str(pl, "id");
	const json_t *to0 = json_array_get(json_object_get(pl, "to"), 0);
	const char *from = json_str(json_object_get(pl, "from"), "phone_number");
	const char *to = json_str(to0, "phone_number");
	char code[32];
	scalar(json_object_get(json_array_get(json_object_get(pl, "errors"), 0), "code"), code,
	       sizeof(code));
	int r = -EINVAL;
	if (!type || !id || !*id)
		goto out;
	if (strcmp(type, "message.received") == 0) {
		const char *text = json_str(pl, "text");
		if (from && *from && to && *to)
			r = result("inbound", id, "received", code, from, to, text ? text : "",
				   ret);
	} else if (strcmp(type, "message.finalized") == 0 || strcmp(type, "message.sent") == 0) {
		const char *status = json_str(to0, "status");
		if (!status && strcmp(type, "message.sent") == 0)
			status = "sent";
		if (status && *status)
			r = result("receipt", id, status, code, from, to, NULL, ret);
	}
out:
	json_decref(root);
	return r;
}

/* True if content_type (NULL: not said) names type, parameters allowed. */
static bool type_is(const char *content_type, const char *type)
{
	if (!content_type)
		return true;
	size_t n = strlen(type);
	if (strncasecmp(content_type, type, n) != 0)
		return false;
	char c = content_type[n];
	return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

int sms_http_parse_webhook(enum sms_http_kind kind, const char *content_type, const char *body,
			   size_t len, json_t **ret)
{
	if (!body && len)
		return -EINVAL;
	if (len > WEBHOOK_MAX)
		return -E2BIG;
	if (kind == SMS_HTTP_TWILIO) {
		if (!type_is(content_type, "application/x-www-form-urlencoded"))
			return -EINVAL;
		return parse_twilio(body ? body : "", len, ret);
	}
	if (kind == SMS_HTTP_TELNYX) {
		if (!type_is(content_type, "application/json"))
			return -EINVAL;
		return parse_telnyx(body ? body : "", len, ret);
	}
	return -EINVAL;
}
