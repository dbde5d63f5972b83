/* smtp.c: SMTP submission through libcurl, one blocking transaction per call. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "email.h"

#define SMTP_TIMEOUT_MS_DEFAULT 30000
#define SMTP_CONNECT_MS_MAX 10000

struct reader {
	const char *p;
	size_t len, off;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct reader *rd = arg;
	size_t n = size * nmemb, left = rd->len - rd->off;
	if (n > left)
		n = left;
	memcpy(dst, rd->p + rd->off, n);
	rd->off += n;
	return n;
}

/* The server's last reply line and its last 4xx/5xx line (QUIT's 221 follows a refusal):
   libcurl reports the code, not the text. */
struct replies {
	char last[256], fail[256];
};

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t n, void *arg)
{
	struct replies *rp = arg;
	if (type != CURLINFO_HEADER_IN || n < 3)
		return 0;
	char *line = data[0] == '4' || data[0] == '5' ? rp->fail : rp->last;
	size_t k = 0;
	for (; k < n && k + 1 < 256 && data[k] != '\r' && data[k] != '\n'; k++)
		line[k] =
		    (unsigned char)data[k] < 0x20 || (unsigned char)data[k] >= 0x7f ? '?' : data[k];
	line[k] = '\0';
	return 0;
}

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* An envelope address as libcurl puts it between <>: printable ASCII, no <>, spaces or
   control characters ("" is the null reverse-path). */
static bool envelope_valid(const char *a, bool empty_ok)
{
	size_t n = a ? strlen(a) : 0;
	if (!a || (n == 0 && !empty_ok) || n > 254 || (n && !strchr(a, '@')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (a[i] <= ' ' || a[i] >= 0x7f || a[i] == '<' || a[i] == '>')
			return false;
	return true;
}

/* Host name or IP literal: nothing that could change the meaning of the URL. */
static bool host_valid(const char *h)
{
	size_t n = h ? strlen(h) : 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		      (h[i] >= '0' && h[i] <= '9') || h[i] == '.' || h[i] == '-' || h[i] == ':'))
			return false;
	return true;
}

static bool has_ctl_credentials(const struct smtp_config *c)
{
	const char *s[] = {c->username, c->password};
	for (size_t i = 0; i < 2; i++)
		for (const char *p = s[i]; p && *p; p++)
			if ((unsigned char)*p < 0x20)
				return true;
	return false;
}

static void set_text(struct smtp_result *ret, const char *s)
{
	snprintf(ret->text, sizeof(ret->text), "%s", s);
}

/* The EHLO name is the URL's path (else libcurl sends its own host name): the envelope
   sender's domain, which the receiving server sees as ours. */
static void make_url(const struct smtp_config *c, const char *from, char *url, size_t n)
{
	const char *at = strrchr(from, '@');
	const char *helo = at && at[1] && at[1] != '[' ? at + 1 : "localhost";
	bool v6 = strchr(c->host, ':') != NULL;
	int port = c->port > 0 ? c->port : c->tls == SMTP_TLS_IMPLICIT ? 465 : 25;
	snprintf(url, n, "%s://%s%s%s:%d/%s", c->tls == SMTP_TLS_IMPLICIT ? "smtps" : "smtp",
		 v6 ? "[" : "", c->host, v6 ? "]" : "", port, helo);
}

static void classify(CURL *h, CURLcode rc, const struct replies *rp, const char *err,
		     struct smtp_result *ret)
{
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK) {
		ret->code = (int)code;
		set_text(ret, rp->last);
		return;
	}
	/* a code below 400 is the last good step (EHLO, 354), not the failure */
	ret->code = code >= 400 && code < 600 ? (int)code : 0;
	ret->permanent = code >= 500 && code < 600;
	if (ret->code && rp->fail[0])
		set_text(ret, rp->fail);
	else
		snprintf(ret->text, sizeof(ret->text), "%s", err[0] ? err : curl_easy_strerror(rc));
}

int smtp_send(const struct smtp_config *c, const char *envelope_from, const char *const *rcpts,
	      size_t nrcpts, const char *mime, size_t mime_len, struct smtp_result *ret)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct smtp_result local;
	if (!ret)
		ret = &local;
	memset(ret, 0, sizeof(*ret));
	if (!c || !host_valid(c->host) || c->port < 0 || c->port > 65535 ||
	    !envelope_valid(envelope_from, true) || nrcpts == 0 || nrcpts > EMAIL_RCPT_MAX ||
	    !mime || has_ctl_credentials(c)) {
		set_text(ret, "invalid arguments");
		return -EINVAL;
	}
	for (size_t i = 0; i < nrcpts; i++) {
		if (!envelope_valid(rcpts[i], false)) {
			set_text(ret, "invalid recipient");
			return -EINVAL;
		}
	}
	pthread_once(&once, global_init);
	CURL *h = curl_easy_init();
	if (!h) {
		set_text(ret, "curl_easy_init failed");
		return -ENOMEM;
	}
	struct curl_slist *to = NULL;
	for (size_t i = 0; i < nrcpts; i++)
		to = curl_slist_append(to, rcpts[i]);
	char url[400], from[260], err[CURL_ERROR_SIZE] = "";
	struct replies rp = {"", ""};
	make_url(c, envelope_from, url, sizeof(url));
	snprintf(from, sizeof(from), "<%s>", envelope_from);
	struct reader rd = {.p = mime, .len = mime_len};
	int timeout = c->timeout_ms > 0 ? c->timeout_ms : SMTP_TIMEOUT_MS_DEFAULT;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &rd);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)mime_len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout < SMTP_CONNECT_MS_MAX ? timeout : SMTP_CONNECT_MS_MAX));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* only for debug_cb: nothing is printed */
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &rp);
	if (c->tls == SMTP_TLS_STARTTLS)
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify_peer ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify_peer ? 2L : 0L);
	if (c->username) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
	}

	CURLcode rc = curl_easy_perform(h);
	classify(h, rc, &rp, err, ret);
	curl_slist_free_all(to);
	curl_easy_cleanup(h);
	return rc == CURLE_OK ? 0 : -EIO;
}
