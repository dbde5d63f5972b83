/* server.c: libmicrohttpd glue: accepts connections, enforces header and body limits,
   hands complete requests to http_dispatch, writes the response and the request log; in
   pool mode suspends a request whose write is queued, or whose handler may block (then run
   on a worker thread), and answers it once resumed. */
#include <assert.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

struct conn_state;

/* Pool mode: the threads that run handlers which may block (a write waited for, argon2id,
   outbound I/O), so that no epoll thread does. */
struct workers {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct conn_state *head, *tail;
	bool stop;
	int n;
	pthread_t *threads;
};

struct http_server {
	struct MHD_Daemon *d;
	struct app *app;
	bool pool;		/* http.threads > 0: epoll threads that must not wait on commits */
	struct workers w;	/* in pool mode */
	atomic_int open;	/* connections open (count_connection) */
	int max_open;		/* http.max_connections: accept_policy closes the ones past it */
	atomic_bool stopping;	/* no more suspended requests: stop waits for the last one */
	atomic_int suspendable; /* requests that may be or are suspended (MHD_stop_daemon with
				   one suspended is an API violation) */
};

/* A pending request's handshake between its MHD thread, which suspends it, and the thread
   its answer becomes ready on, which resumes it: whichever comes second acts. */
enum { ASYNC_RUNNING, ASYNC_SUSPENDED, ASYNC_DONE };

struct conn_state {
	struct http_req req; /* first: on_resume finds the state from it */
	atomic_int async;
	bool counted; /* in srv->suspendable */
	struct buf body;
	bool too_large;
	bool responded;	  /* answered before the body was read: ignore the rest of it */
	size_t drained;	  /* bytes of an oversized body read and dropped */
	int early_status; /* 404/405 known before the body arrives */
	char pathbuf[1024];
	char parambuf[1024];
	struct conn_state *next; /* in the workers' queue */
	atomic_int holds;	 /* a request on a worker: its answer, and the worker */
};

static const char *mhd_lookup(struct http_req *req, int kind, const char *name)
{
	return MHD_lookup_connection_value(
	    req->conn, kind == 0 ? MHD_HEADER_KIND : MHD_GET_ARGUMENT_KIND, name);
}

static void client_ip(struct MHD_Connection *c, struct http_req *req)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(req->ip, sizeof(req->ip), "unknown");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			  req->ip, sizeof(req->ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  req->ip, sizeof(req->ip));
	if (req->app->cfg->trust_proxy) {
		const char *xff =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
		if (xff && *xff) {
			size_t n = strcspn(xff, ", ");
			if (n > 0 && n < sizeof(req->ip))
				snprintf(req->ip, sizeof(req->ip), "%.*s", (int)n, xff);
		}
	}
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct http_req *req)
{
	char *text;
	const char *type = "application/json";
	struct MHD_Response *r;
	if (req->raw_fd > 0) {
		r = MHD_create_response_from_fd_at_offset64(req->raw_len, req->raw_fd,
							    req->raw_off);
		req->raw_fd = 0; /* the response owns it now */
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, "Content-Type",
					req->raw_type ? req->raw_type : "application/octet-stream");
		goto headers;
	}
	size_t raw_len = 0;
	if (req->raw) {
		text = req->raw;
		raw_len = req->raw_len;
		req->raw = NULL;
		type = req->raw_type ? req->raw_type : "text/plain; charset=utf-8";
	} else if (req->resp) {
		text = json_serialize(req->resp, JSON_COMPACT | JSON_PRESERVE_ORDER, &raw_len);
	} else {
		text = mem_strdup("");
	}
	if (!text)
		return MHD_NO;
	size_t len = raw_len ? raw_len : strlen(text);
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (len || req->status != 204)
		MHD_add_response_header(r, "Content-Type", type);
headers:
	MHD_add_response_header(r, "X-Request-Id", req->request_id);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	const char *k;
	json_t *v;
	json_object_foreach (req->headers, k, v)
		MHD_add_response_header(r, k, json_string_value(v));
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)req->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void log_request(struct http_req *req, const char *path)
{
	if ((req->route && (req->route->flags & ROUTE_NO_LOG)) ||
	    !log_enabled(req->status >= 500 ? LOG_ERROR : LOG_INFO))
		return; /* nothing built for a line that would not be written */
	json_t *f = json_object();
	json_object_set_new(f, "request_id", json_string(req->request_id));
	json_object_set_new(f, "method", json_string(req->method));
	json_object_set_new(f, "path", json_string(path)); /* no query string: may hold secrets */
	json_object_set_new(f, "route", json_string(req->route ? req->route->path : ""));
	json_object_set_new(f, "status", json_integer(req->status));
	json_object_set_new(f, "duration_us",
			    json_integer((json_int_t)(time_mono_us() - req->start_us)));
	json_object_set_new(f, "ip", json_string(req->ip));
	if (req->authed) {
		json_object_set_new(f, "tenant_id", json_string(req->who.tenant_id));
		json_object_set_new(f, "actor_id", json_string(req->who.actor_id));
	}
	log_event(req->status >= 500 ? LOG_ERROR : LOG_INFO, "request", f);
}

static void finish(struct conn_state *cs)
{
	struct http_req *req = &cs->req;
	size_t idx = req->route ? (size_t)(req->route - req->app->routes) : req->app->nroutes;
	metrics_observe(req->app->metrics, idx, req->status, time_mono_us() - req->start_us);
	log_request(req, req->path);
}

/* req->resume: on any thread, once the answer is ready. After the exchange the MHD thread
   may answer and free the state at any moment: nothing of it is touched again. */
static void on_resume(struct http_req *req)
{
	struct conn_state *cs =
	    (struct conn_state *)(void *)((char *)req - offsetof(struct conn_state, req));
	struct MHD_Connection *c = req->conn;
	if (atomic_exchange(&cs->async, ASYNC_DONE) == ASYNC_SUSPENDED)
		MHD_resume_connection(c);
}

/* In pool mode a handler may queue its write and be answered later, unless the server is
   stopping (then it waits on its thread): counted until answered, so that http_server_stop
   never stops the daemon with a request suspended. */
static void allow_async(struct http_server *srv, struct conn_state *cs)
{
	if (!srv->pool)
		return;
	atomic_fetch_add(&srv->suspendable, 1);
	if (atomic_load(&srv->stopping)) {
		atomic_fetch_sub(&srv->suspendable, 1);
		return;
	}
	cs->counted = true;
	cs->req.resume = on_resume;
}

static void uncount(struct http_server *srv, struct conn_state *cs)
{
	if (!cs->counted)
		return;
	cs->counted = false;
	atomic_fetch_sub(&srv->suspendable, 1);
}

/* The handler queued its write: suspended until on_resume. Suspending comes first, so no
   resume precedes it; an answer already there (it completed meanwhile, or at once with no
   writer thread: PostgreSQL) resumes it right away, and MHD calls again. */
static void suspend(struct conn_state *cs, struct MHD_Connection *c)
{
	MHD_suspend_connection(c);
	int running = ASYNC_RUNNING;
	if (!atomic_compare_exchange_strong(&cs->async, &running, ASYNC_SUSPENDED))
		MHD_resume_connection(c); /* it stays DONE */
}

/* ---- workers ---- */

/* req->resume of a request run on a worker: once both the answer is ready and the worker is
   done with the request, the connection resumes. */
static void held_resume(struct http_req *req)
{
	struct conn_state *cs =
	    (struct conn_state *)(void *)((char *)req - offsetof(struct conn_state, req));
	if (atomic_fetch_sub(&cs->holds, 1) == 1)
		on_resume(req);
}

static void run_on_worker(struct conn_state *cs)
{
	struct http_req *req = &cs->req;
	req->pending = false; /* the handler may queue its write: then its completion answers */
	http_dispatch(req);
	if (!req->pending) {
		req->pending = true; /* the MHD thread answers it once resumed */
		held_resume(req);
	}
	held_resume(req);
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	pthread_setname_np(pthread_self(), "http-worker");
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		struct conn_state *cs = w->head;
		if (!cs)
			break;
		w->head = cs->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);
		run_on_worker(cs);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void workers_push(struct workers *w, struct conn_state *cs)
{
	cs->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = cs;
	else
		w->head = cs;
	w->tail = cs;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

static int workers_start(struct workers *w, int n)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->threads = mem_zalloc(sizeof(*w->threads) * (size_t)n);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	for (; w->n < n; w->n++)
		if (pthread_create(&w->threads[w->n], &attr, worker_main, w) != 0)
			break;
	pthread_attr_destroy(&attr);
	return w->n == n ? 0 : -EAGAIN;
}

/* After the daemon stopped: the queue is empty (every request was answered). */
static void workers_stop(struct workers *w)
{
	if (!w->threads)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	mem_free(w->threads);
	w->threads = NULL;
}

/* Runs on the epoll thread: cannot hold it for long (ROUTE_INLINE where writes are queued,
   or a plain read). */
static bool runs_inline(const struct http_req *req)
{
	unsigned f = req->route->flags;
	if ((f & ROUTE_INLINE) && store_writes_queued(req->app->st))
		return true;
	return (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) &&
	       !(f & (ROUTE_RAW | ROUTE_WORKER));
}

/* MHD calls again once a pending request is resumed: its answer is complete. */
static enum MHD_Result answer_pending(struct http_server *srv, struct conn_state *cs,
				      struct MHD_Connection *c)
{
	assert(atomic_load(&cs->async) == ASYNC_DONE);
	cs->req.pending = false;
	uncount(srv, cs);
	finish(cs);
	return send_response(c, &cs->req);
}

static struct conn_state *state_new(struct http_server *srv, struct MHD_Connection *c,
				    const char *url, const char *method)
{
	struct conn_state *cs = mem_zalloc(sizeof(*cs));
	struct http_req *req = &cs->req;
	req->app = srv->app;
	req->conn = c;
	req->lookup = mhd_lookup;
	req->method = method;
	req->start_us = time_mono_us();
	snprintf(cs->pathbuf, sizeof(cs->pathbuf), "%s", url);
	req->path = cs->pathbuf;
	id_new("RQ", req->request_id); /* always ours: a client value could forge correlation */
	client_ip(c, req);
	int st = 0;
	req->route = http_route_match(srv->app->routes, srv->app->nroutes, method, url, req->params,
				      cs->parambuf, sizeof(cs->parambuf), &st);
	cs->early_status = req->route ? 0 : st;
	size_t limit = req->route && req->route->body_limit
			   ? req->route->body_limit
			   : (size_t)srv->app->cfg->http_max_body_bytes;
	if (!req->route)
		limit = 4096;
	buf_init(&cs->body, limit);
	return cs;
}

/* An error answered at once, before or while the body arrives; the connection closes
   after it, so nothing that follows on it is read as another request. */
static enum MHD_Result refuse(struct conn_state *cs, struct MHD_Connection *c, int status,
			      const char *code, const char *msg)
{
	cs->responded = true;
	http_error(&cs->req, status, code, msg, NULL);
	http_header(&cs->req, "Connection", "close");
	finish(cs);
	return send_response(c, &cs->req);
}

static enum MHD_Result too_large(struct conn_state *cs, struct MHD_Connection *c)
{
	cs->too_large = true;
	return refuse(cs, c, 413, "payload_too_large", "request body exceeds the limit");
}

struct framing {
	int content_length, transfer_encoding;
	bool bad_te; /* a coding other than chunked, or a malformed field name */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct framing *f = cls;
	(void)kind;
	if (strpbrk(key, " \t")) /* "Name : value" must be refused (RFC 9112 5.1) */
		f->bad_te = true;
	if (!strcasecmp(key, "Content-Length"))
		f->content_length++;
	if (!strcasecmp(key, "Transfer-Encoding")) {
		f->transfer_encoding++;
		if (strcasecmp(value, "chunked") != 0)
			f->bad_te = true;
	}
	return MHD_YES;
}

/* RFC 9112 6.1 and 6.3: a request framed two ways (Content-Length and Transfer-Encoding,
   repeated lengths, codings other than chunked) is how requests are smuggled past a proxy:
   refuse it. */
static bool ambiguous_framing(struct MHD_Connection *c)
{
	struct framing f = {0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
	return f.content_length > 1 || f.transfer_encoding > 1 || f.bad_te ||
	       (f.content_length && f.transfer_encoding);
}

/* A body past the limit is read and dropped up to this much, then answered 413: closing on
   a client still sending would reset the connection before it read the answer. Larger
   declared bodies are refused before any of it is read. */
#define DRAIN_MAX (8u << 20)

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct conn_state *cs = *con_cls;
	(void)version;
	if (!cs) {
		*con_cls = cs = state_new(srv, c, url, method);
		if (ambiguous_framing(c))
			return refuse(cs, c, 400, "bad_framing",
				      "conflicting Content-Length / Transfer-Encoding");
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
		if (len > DRAIN_MAX)
			return too_large(cs, c); /* before reading a byte of it */
		if (len > cs->body.max)
			cs->too_large = true; /* drained, then answered */
		return MHD_YES;
	}
	if (cs->req.pending)
		return answer_pending(srv, cs, c);
	if (cs->responded) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (!cs->too_large && buf_append(&cs->body, upload_data, n) < 0)
			cs->too_large = true;
		if (cs->too_large && (cs->drained += n) > DRAIN_MAX)
			return too_large(cs, c);
		return MHD_YES;
	}
	if (cs->too_large)
		return too_large(cs, c);
	struct http_req *req = &cs->req;
	if (cs->early_status == 405) {
		struct buf allow;
		buf_init(&allow, 0);
		http_route_allow(srv->app->routes, srv->app->nroutes, req->path, &allow);
		http_header(req, "Allow", allow.p ? allow.p : "");
		buf_free(&allow);
	}
	if (cs->early_status) {
		http_error(req, cs->early_status, http_code_of(cs->early_status),
			   cs->early_status == 405   ? "method not allowed on this resource"
			   : cs->early_status == 414 ? "a path parameter is too long"
						     : "no such route",
			   NULL);
	} else {
		req->body = cs->body.p ? cs->body.p : "";
		req->body_len = cs->body.len;
		allow_async(srv, cs);
		if (req->resume && !runs_inline(req)) {
			atomic_store(&cs->holds, 2);
			req->resume = held_resume;
			req->pending = true;
			workers_push(&srv->w, cs);
			suspend(cs, c);
			return MHD_YES;
		}
		http_dispatch(req);
		if (req->pending) {
			suspend(cs, c);
			return MHD_YES;
		}
		uncount(srv, cs);
	}
	finish(cs);
	return send_response(c, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;
	(void)c;
	(void)toe;
	if (!cs)
		return;
	/* a suspended request is never completed: MHD neither times it out nor notices its
	   client leaving until it is resumed, and the server is not stopped with one */
	assert(!cs->req.pending || atomic_load(&cs->async) == ASYNC_DONE);
	uncount(cls, cs); /* resumed, then closed before it was answered */
	json_decref(cs->req.json);
	json_decref(cs->req.resp);
	json_decref(cs->req.headers);
	mem_free(cs->req.raw);
	if (cs->req.raw_fd > 0)
		close(cs->req.raw_fd);
	buf_free(&cs->body);
	mem_free(cs);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_event(LOG_DEBUG, msg, json_pack("{s:s}", "component", "mhd"));
}

/* Pool mode: libmicrohttpd's epoll threads stop accepting at their connection limit and
   leave the rest waiting in the listen backlog; a thread per connection accepts and closes
   them. The pool counts connections itself and closes those over http.max_connections at
   once, as the other mode does, with the library's own limit higher. */
static void count_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			     enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	(void)c;
	(void)socket_ctx;
	atomic_fetch_add(&srv->open, code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct http_server *srv = cls;
	(void)addr;
	(void)len;
	return atomic_load(&srv->open) < srv->max_open ? MHD_YES : MHD_NO;
}

static int parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	long port = strtol(colon + 1, NULL, 10);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

int http_server_start(struct app *app, struct http_server **ret)
{
	struct sockaddr_in sa;
	if (parse_listen(app->cfg->http_listen, &sa) < 0)
		return -EINVAL;
	struct http_server *srv = mem_zalloc(sizeof(*srv));
	srv->app = app;
	/* http.threads 0: a thread per connection; N: N epoll threads sharing connections (fewer
	   context switches), which never wait: a handler whose write is queued
	   (http_write_async) suspends its request, one that may block runs on a worker */
	unsigned threads = (unsigned)app->cfg->http_threads;
	srv->pool = threads > 0;
	srv->max_open = app->cfg->http_max_connections;
	/* in the pool the library's own limit is split between its threads: twice the cap, so
	   that none of them reaches its share before the cap is reached */
	unsigned limit = (unsigned)srv->max_open * (threads ? 2 : 1);
	unsigned flags =
	    threads ? MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG
		    : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			  MHD_USE_POLL | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[] = {
	    {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL}, /* first: it logs the rest */
	    {MHD_OPTION_SOCK_ADDR, 0, &sa},
	    {MHD_OPTION_CONNECTION_LIMIT, limit, NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, app->cfg->http_timeout_s, NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, app->cfg->http_max_header_bytes, NULL},
	    {MHD_OPTION_THREAD_STACK_SIZE, 512 * 1024, NULL},
	    {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)count_connection, srv},
	    {threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};
	if (threads && workers_start(&srv->w, app->cfg->http_workers) < 0) {
		workers_stop(&srv->w);
		mem_free(srv);
		return -EAGAIN;
	}
	srv->d = MHD_start_daemon(flags, 0, threads ? accept_policy : NULL, srv, on_request, srv,
				  MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!srv->d) {
		workers_stop(&srv->w);
		mem_free(srv);
		return -EADDRINUSE;
	}
	*ret = srv;
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	/* requests from now on wait for their writes on their threads; the suspended ones are
	   answered by the writer, which runs until the store closes, after this */
	atomic_store(&srv->stopping, true);
	while (atomic_load(&srv->suspendable) > 0)
		usleep(1000);
	MHD_stop_daemon(srv->d);
	workers_stop(&srv->w);
	mem_free(srv);
}
