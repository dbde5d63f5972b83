/* fetch.c: one blocking request to a tenant-given URL with the same guard as deliveries
   (http/https only, no redirects, no proxy, the SSRF address check on every connection,
   caps on time and size), form-encoded parameters signed with X-Twilio-Signature, and the
   answer returned: for documents a tenant serves (sms_url replies, later call control). */
#include <curl/curl.h>
#include <string.h>

#include "client.h"
#include "webhooks.h"

struct fjob {
	bool allow_private, blocked;
	struct buf body;
	bool too_large;
};

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fjob *j = arg;
	(void)purpose;
	if (!j->allow_private && ssrf_addr_blocked(&a->addr, a->addrlen)) {
		j->blocked = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct fjob *j = arg;
	if (buf_append(&j->body, p, size * n) < 0) {
		j->too_large = true;
		return 0;
	}
	return size * n;
}

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

int webhooks_fetch(const struct webhooks_fetch *f, struct webhooks_fetch_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	const char *why = NULL;
	if (ssrf_check_url(f->url, true, &why) < 0) { /* addresses: checked at connect */
		ret->error = why ? why : "invalid url";
		return -EINVAL;
	}
	bool get = f->method && !strcmp(f->method, "GET");
	size_t n = 0;
	struct kv kv[64];
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)f->params, k, v) {
		if (json_is_string(v) && n < 64)
			kv[n++] = (struct kv){k, json_string_value(v)};
	}
	qsort(kv, n, sizeof(*kv), cmp_kv);
	struct buf form, url;
	buf_init(&form, 0);
	buf_init(&url, 0);
	form_encode(kv, n, &form);
	buf_puts(&url, f->url);
	if (get && form.len)
		buf_printf(&url, "%s%s", strchr(f->url, '?') ? "&" : "?", form.p);
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/xml, text/xml, */*");
	char sig[32], hsig[64];
	if (f->auth_token) {
		twsig_sign(f->auth_token, url.p, kv, get ? 0 : n, sig);
		snprintf(hsig, sizeof(hsig), "X-Twilio-Signature: %s", sig);
		h = curl_slist_append(h, hsig);
	}
	if (!get)
		h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
	h = curl_slist_append(h, "Expect:");
	struct fjob j = {.allow_private = f->allow_private};
	buf_init(&j.body, f->max_body ? f->max_body : 65536);
	CURL *e = curl_easy_init();
	int r = -EIO;
	if (!e)
		goto out;
	int timeout = f->timeout_ms > 0 ? f->timeout_ms : 15000;
	curl_easy_setopt(e, CURLOPT_URL, url.p);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &j);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout < 5000 ? timeout : 5000));
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &j);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "TwilioProxy/1.1 (IRISX " IRISX_VERSION ")");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (!get) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, form.p ? form.p : "");
	}
	CURLcode cc = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	ret->status = (int)status;
	if (cc != CURLE_OK) {
		ret->error = j.blocked			      ? "blocked_address"
			     : j.too_large		      ? "too_large"
			     : cc == CURLE_OPERATION_TIMEDOUT ? "timeout"
			     : cc == CURLE_COULDNT_CONNECT    ? "connect_failed"
							      : "failed";
	} else {
		char *ct = NULL;
		curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
		if (ct)
			snprintf(ret->content_type, sizeof(ret->content_type), "%s", ct);
		ret->body_len = j.body.len;
		ret->body = buf_detach(&j.body);
		r = 0;
	}
	curl_easy_cleanup(e);
out:
	curl_slist_free_all(h);
	buf_free(&j.body);
	buf_free(&form);
	buf_free(&url);
	return r;
}
