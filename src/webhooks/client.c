/* client.c: outbound HTTP for deliveries: a libcurl multi handle on a thread of its own, fed
   by a queue under a mutex; every submitted request is called back exactly once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "client.h"

#define BODY_KEEP 1024		 /* bytes of the answer kept for the delivery log */
#define BODY_MAX (1024 * 1024)	 /* an answer longer than this aborts the transfer */
#define CONNECT_TIMEOUT_MS 10000 /* when the request gives none */
#define TIMEOUT_MS 30000
#define INFLIGHT_MAX 100000 /* the range of webhooks.max_inflight */
#define POLL_MS 1000

struct job {
	struct job *next, *prev;
	char *url;
	bool post;
	struct curl_slist *headers;
	char *body;
	size_t body_len;
	int connect_timeout_ms, timeout_ms;
	bool allow_private;
	whc_done_cb *cb;
	void *arg;
	uint64_t t0_us;
	CURL *easy;
	char resp[BODY_KEEP + 1];
	size_t resp_len, total;
	bool blocked, too_large; /* set by the callbacks during the transfer */
};

struct whc {
	pthread_t thread;
	pthread_mutex_t mu;
	struct job *qhead, *qtail; /* under mu */
	int pending;		   /* under mu: queued + in flight + being called back */
	bool stop;		   /* under mu */
	CURLM *multi;
	int max_inflight;
	struct job *running; /* the thread's own: transfers added to multi */
	int nrunning;
};

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void job_free(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->headers);
	mem_free(j->url);
	mem_free(j->body);
	mem_free(j);
}

/* Refuses a connection to a blocked address; curl then tries the next resolved one. This
   sees every connection curl opens, so DNS rebinding gains nothing. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct job *j = arg;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!j->allow_private && ssrf_addr_blocked(&a->addr, a->addrlen)) {
		j->blocked = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Keeps the first BODY_KEEP bytes, reads (and drops) the rest so the connection can be
   reused, and aborts past BODY_MAX. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n;
	if (len > BODY_MAX - j->total) {
		j->too_large = true;
		return 0;
	}
	j->total += len;
	size_t keep = BODY_KEEP - j->resp_len;
	if (keep > len)
		keep = len;
	memcpy(j->resp + j->resp_len, p, keep);
	j->resp_len += keep;
	return len;
}

/* A new easy handle for j; NULL if curl refuses an option we rely on for safety. */
static CURL *job_easy(struct job *j)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	int r = 0; /* CURLE_OK is 0: any failed option leaves a bit set */
	r |= curl_easy_setopt(e, CURLOPT_URL, j->url);
	r |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	r |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	r |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	r |= curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment */
	r |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	r |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j);
	r |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	r |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)j->connect_timeout_ms);
	r |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)j->timeout_ms);
	r |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BODY_MAX);
	r |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	r |= curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	r |= curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	r |= curl_easy_setopt(e, CURLOPT_USERAGENT, "IRISX/" IRISX_VERSION);
	r |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
	if (j->post) {
		r |= curl_easy_setopt(e, CURLOPT_POST, 1L);
		r |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
		r |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body ? j->body : "");
	} else {
		r |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	if (r != 0) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

static const char *error_of(const struct job *j, CURLcode res)
{
	if (res == CURLE_OK)
		return NULL;
	if (j->blocked)
		return "blocked_address";
	if (j->too_large || res == CURLE_FILESIZE_EXCEEDED)
		return "too_large";
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_COULDNT_CONNECT:
		return "connect_failed";
	case CURLE_COULDNT_RESOLVE_HOST:
		return "dns_failed";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_CLIENTCERT:
		return "tls_failed";
	default:
		return "failed";
	}
}

/* Calls j back and frees it; j is no longer in the multi handle. */
static void job_done(struct whc *c, struct job *j, const char *error)
{
	struct whc_result r = {.error = error, .retry_after_s = -1};
	if (j->easy) {
		long code = 0;
		struct curl_header *h;
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
		r.status = (int)code;
		if (curl_easy_header(j->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) ==
		    CURLHE_OK) {
			int64_t s = retry_after_parse(h->value, (int64_t)(time_now_us() / 1000000));
			r.retry_after_s = s >= 0 ? s : -1;
		}
	}
	r.latency_us = time_mono_us() - j->t0_us;
	j->resp[j->resp_len] = '\0';
	r.body = j->resp;
	r.body_len = j->resp_len;
	j->cb(&r, j->arg);
	job_free(j);
	pthread_mutex_lock(&c->mu);
	c->pending--;
	pthread_mutex_unlock(&c->mu);
}

static void running_unlink(struct whc *c, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		c->running = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->next = j->prev = NULL;
	c->nrunning--;
}

static void job_start(struct whc *c, struct job *j)
{
	j->easy = job_easy(j);
	if (!j->easy || curl_multi_add_handle(c->multi, j->easy) != CURLM_OK) {
		job_done(c, j, "failed");
		return;
	}
	j->prev = NULL;
	j->next = c->running;
	if (c->running)
		c->running->prev = j;
	c->running = j;
	c->nrunning++;
}

/* Moves queued requests into the multi handle while there is room; false once stopping. */
static bool start_queued(struct whc *c)
{
	for (;;) {
		pthread_mutex_lock(&c->mu);
		if (c->stop) {
			pthread_mutex_unlock(&c->mu);
			return false;
		}
		struct job *j = c->nrunning < c->max_inflight ? c->qhead : NULL;
		if (j) {
			c->qhead = j->next;
			if (!c->qhead)
				c->qtail = NULL;
			j->next = NULL;
		}
		pthread_mutex_unlock(&c->mu);
		if (!j)
			return true;
		job_start(c, j);
	}
}

/* Reports finished transfers; returns how many. */
static int drain_done(struct whc *c)
{
	int n = 0, left;
	CURLMsg *m;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode res = m->data.result; /* m is invalid after remove_handle */
		char *priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		struct job *j = (struct job *)priv;
		curl_multi_remove_handle(c->multi, e);
		running_unlink(c, j);
		job_done(c, j, error_of(j, res));
		n++;
	}
	return n;
}

/* Stopping: aborts what is in flight, then reports what never started. */
static void fail_all(struct whc *c)
{
	while (c->running) {
		struct job *j = c->running;
		curl_multi_remove_handle(c->multi, j->easy);
		running_unlink(c, j);
		job_done(c, j, "failed");
	}
	pthread_mutex_lock(&c->mu);
	struct job *q = c->qhead;
	c->qhead = c->qtail = NULL;
	pthread_mutex_unlock(&c->mu);
	while (q) {
		struct job *next = q->next;
		job_done(c, q, "failed");
		q = next;
	}
}

static void *client_main(void *arg)
{
	struct whc *c = arg;
	while (start_queued(c)) {
		int still;
		curl_multi_perform(c->multi, &still);
		if (drain_done(c) > 0)
			continue; /* room freed: start more before sleeping */
		curl_multi_poll(c->multi, NULL, 0, POLL_MS, NULL);
	}
	fail_all(c);
	return NULL;
}

int whc_new(int max_inflight, struct whc **ret)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (max_inflight < 1 || max_inflight > INFLIGHT_MAX)
		return -EINVAL;
	pthread_once(&once, global_init);
	struct whc *c = mem_zalloc(sizeof(*c));
	c->max_inflight = max_inflight;
	c->multi = curl_multi_init();
	if (!c->multi) {
		mem_free(c);
		return -ENOMEM;
	}
	/* the connection cache: one idle connection per transfer slot is kept for reuse */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)max_inflight);
	pthread_mutex_init(&c->mu, NULL);
	int r = pthread_create(&c->thread, NULL, client_main, c);
	if (r != 0) {
		pthread_mutex_destroy(&c->mu);
		curl_multi_cleanup(c->multi);
		mem_free(c);
		return -r;
	}
	*ret = c;
	return 0;
}

static bool header_ok(const char *h)
{
	return strchr(h, ':') && !strpbrk(h, "\r\n");
}

int whc_submit(struct whc *c, const struct whc_req *req)
{
	const char *why;
	if (!c || !req || !req->cb || ssrf_check_url(req->url, true, &why) < 0)
		return -EINVAL; /* blocked addresses are reported at connect time, by cb */
	bool post = !req->method || strcasecmp(req->method, "POST") == 0;
	if (!post && strcasecmp(req->method, "GET") != 0)
		return -EINVAL;
	for (const char *const *h = req->headers; h && *h; h++)
		if (!header_ok(*h))
			return -EINVAL;
	struct job *j = mem_zalloc(sizeof(*j));
	j->url = mem_strdup(req->url);
	j->post = post;
	for (const char *const *h = req->headers; h && *h; h++)
		if (!(j->headers = curl_slist_append(j->headers, *h)))
			abort(); /* out of memory, as mem_alloc does */
	if (post && !(j->headers = curl_slist_append(j->headers, "Expect:")))
		abort(); /* no 100-continue round trip for large bodies */
	j->body_len = req->body ? req->body_len : 0;
	j->body = mem_alloc(j->body_len + 1);
	if (j->body_len)
		memcpy(j->body, req->body, j->body_len);
	j->body[j->body_len] = '\0';
	j->connect_timeout_ms =
	    req->connect_timeout_ms > 0 ? req->connect_timeout_ms : CONNECT_TIMEOUT_MS;
	j->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : TIMEOUT_MS;
	j->allow_private = req->allow_private;
	j->cb = req->cb;
	j->arg = req->arg;
	j->t0_us = time_mono_us();
	pthread_mutex_lock(&c->mu);
	bool stopping = c->stop;
	if (!stopping) {
		if (c->qtail)
			c->qtail->next = j;
		else
			c->qhead = j;
		c->qtail = j;
		c->pending++;
	}
	pthread_mutex_unlock(&c->mu);
	if (stopping) {
		job_free(j);
		return -ESHUTDOWN;
	}
	curl_multi_wakeup(c->multi);
	return 0;
}

int whc_pending(struct whc *c)
{
	pthread_mutex_lock(&c->mu);
	int n = c->pending;
	pthread_mutex_unlock(&c->mu);
	return n;
}

void whc_free(struct whc *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_mutex_unlock(&c->mu);
	curl_multi_wakeup(c->multi);
	pthread_join(c->thread, NULL);
	curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->mu);
	mem_free(c);
}
