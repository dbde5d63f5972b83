/* respond.c: responses, errors, the errno -> status table, headers, query and paging. */
#include <stdlib.h>
#include <string.h>

#include "http.h"

static const struct {
	int status;
	const char *code;
} codes[] = {
    {400, "invalid_request"},
    {401, "unauthorized"},
    {403, "forbidden"},
    {404, "not_found"},
    {405, "method_not_allowed"},
    {409, "conflict"},
    {410, "gone"},
    {413, "payload_too_large"},
    {414, "uri_too_long"},
    {415, "unsupported_media_type"},
    {422, "unprocessable"},
    {429, "rate_limited"},
    {500, "internal"},
    {503, "unavailable"},
};

const char *http_code_of(int status)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].status == status)
			return codes[i].code;
	return status >= 500 ? "internal" : "invalid_request";
}

int http_status_of(int err)
{
	switch (err) {
	case -ENOENT:
		return 404;
	case -EEXIST:
		return 409;
	case -EINVAL:
	case -ERANGE:
		return 400;
	case -EACCES:
		return 403;
	case -EPERM:
		return 401;
	case -E2BIG:
		return 413;
	case -EBUSY:
	case -ENOSPC:
	case -EAGAIN:
		return 503;
	default:
		return 500;
	}
}

int http_reply(struct http_req *req, int status, json_t *body)
{
	json_decref(req->resp);
	req->status = status;
	req->resp = body;
	return 0;
}

/* Twilio's error codes for ours (docs/calls.md "Twilio-compatible REST"): the first row
   whose code (and field, when the row names one) matches, else the row for the status. */
static const struct {
	const char *code, *field;
	int status, twilio;
} twilio_codes[] = {
    {"missing_field", "to", 0, 21201},
    {"missing_field", "from", 0, 21213},
    {"missing_field", "url", 0, 21205},
    {"conflicting_fields", "url", 0, 21205},
    {"conflicting_fields", "twiml", 0, 21205},
    {"invalid_to", NULL, 0, 21211},
    {"invalid_from", NULL, 0, 21212},
    {"from_not_owned", NULL, 0, 21210},
    {"invalid_url", NULL, 0, 21205},
    {"invalid_application", NULL, 0, 21218},
    {"destination_not_allowed", NULL, 0, 21215},
    {"premium_destination", NULL, 0, 21216},
    {"call_not_in_progress", NULL, 0, 21220},
    {"call_not_cancelable", NULL, 0, 21220},
    {"call_ended", NULL, 0, 21220},
    {"tenant_suspended", NULL, 0, 20005},
    {NULL, NULL, 401, 20003},
    {NULL, NULL, 403, 20403},
    {NULL, NULL, 404, 20404},
    {NULL, NULL, 405, 20004},
    {NULL, NULL, 429, 20429},
    {NULL, NULL, 503, 20503},
};

int http_twilio_code(int status, const char *code, const char *field)
{
	for (size_t i = 0; i < sizeof(twilio_codes) / sizeof(twilio_codes[0]); i++) {
		const char *c = twilio_codes[i].code, *f = twilio_codes[i].field;
		if (c ? (code && !strcmp(c, code) && (!f || (field && !strcmp(f, field))))
		      : twilio_codes[i].status == status)
			return twilio_codes[i].twilio;
	}
	return status >= 500 ? 20500 : 20001; /* 20001: invalid parameter */
}

/* {"code", "message", "more_info", "status"}: what Twilio's clients turn into RestException. */
static json_t *twilio_error(int status, const char *code, const char *message, const char *field)
{
	int tc = http_twilio_code(status, code, field);
	char more[64], msg[512];
	snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/%d", tc);
	if (field)
		snprintf(msg, sizeof(msg), "%s (%s)", message ? message : "", field);
	else
		snprintf(msg, sizeof(msg), "%s", message ? message : "");
	return json_pack("{s:i,s:s,s:s,s:i}", "code", tc, "message", msg, "more_info", more,
			 "status", status);
}

int http_error(struct http_req *req, int status, const char *code, const char *message,
	       const char *field)
{
	if (req->path && !strncmp(req->path, HTTP_TWILIO_PREFIX, strlen(HTTP_TWILIO_PREFIX)))
		return http_reply(req, status, twilio_error(status, code, message, field));
	json_t *e = json_pack("{s:s,s:s,s:s?}", "code", code ? code : http_code_of(status),
			      "message", message ? message : "", "field", field);
	if (!json_object_get(e, "field"))
		json_object_set_new(e, "field", json_null());
	return http_reply(req, status, json_pack("{s:o}", "error", e));
}

void http_header(struct http_req *req, const char *name, const char *value)
{
	if (!req->headers)
		req->headers = json_object();
	json_object_set_new(req->headers, name, json_string(value));
}

const char *http_get_header(struct http_req *req, const char *name)
{
	return req->lookup ? req->lookup(req, 0, name) : NULL;
}

const char *http_get_query(struct http_req *req, const char *name)
{
	return req->lookup ? req->lookup(req, 1, name) : NULL;
}

int http_check_body(struct http_req *req, const struct json_field *fields)
{
	const char *field, *code;
	if (json_check(req->json, fields, &field, &code) == 0)
		return 0;
	char msg[160];
	if (!strcmp(code, "unknown_field"))
		snprintf(msg, sizeof(msg), "unknown field");
	else if (!strcmp(code, "missing_field"))
		snprintf(msg, sizeof(msg), "field is required");
	else if (!strcmp(code, "too_long"))
		snprintf(msg, sizeof(msg), "field is too long");
	else if (!strcmp(code, "invalid_body"))
		snprintf(msg, sizeof(msg), "request body must be a JSON object");
	else
		snprintf(msg, sizeof(msg), "field has the wrong type");
	http_error(req, 400, code, msg, field);
	return -EINVAL;
}

int http_page_params(struct http_req *req, int *ret_limit, const char **ret_cursor)
{
	const char *l = http_get_query(req, "limit"), *c = http_get_query(req, "cursor");
	int limit = 50;
	if (l) {
		char *end;
		long v = strtol(l, &end, 10);
		if (*l == '\0' || *end || v < 1 || v > STORE_LIST_MAX) {
			http_error(req, 400, "invalid_parameter", "limit must be 1..200", "limit");
			return -EINVAL;
		}
		limit = (int)v;
	}
	if (c && (strlen(c) != ID_LEN || !id_valid(c, c))) {
		http_error(req, 400, "invalid_parameter", "cursor is not valid", "cursor");
		return -EINVAL;
	}
	*ret_limit = limit;
	*ret_cursor = c;
	return 0;
}

json_t *http_page(json_t *rows, int limit, json_t *(*present)(json_t *row))
{
	json_t *data = json_array();
	size_t n = json_array_size(rows);
	for (size_t i = 0; i < n && i < (size_t)limit; i++)
		json_array_append_new(data, present(json_array_get(rows, i)));
	json_t *next = json_null();
	if (n > (size_t)limit)
		next = json_incref(json_object_get(json_array_get(rows, (size_t)limit - 1), "id"));
	json_decref(rows);
	return json_pack("{s:o,s:o}", "data", data, "next_cursor", next);
}
