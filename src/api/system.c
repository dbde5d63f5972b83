/* system.c: health and readiness probes, metrics, and the OpenAPI document. */
#include "internal.h"

int h_healthz(struct http_req *req)
{
	return http_reply(req, 200, json_pack("{s:s}", "status", "ok"));
}

int h_readyz(struct http_req *req)
{
	const char *be = store_backend_name(req->app->st);
	if (store_ping(req->app->st) < 0)
		return http_reply(req, 503,
				  json_pack("{s:s,s:s}", "status", "unavailable", "database", be));
	return http_reply(req, 200, json_pack("{s:s,s:s}", "status", "ready", "database", be));
}

int h_metrics(struct http_req *req)
{
	struct buf b;
	buf_init(&b, 0);
	metrics_render(req->app->metrics, req->app->routes, req->app->nroutes,
		       store_error_count(req->app->st), &b);
	req->raw = buf_detach(&b);
	req->raw_type = "text/plain; version=0.0.4; charset=utf-8";
	req->status = 200;
	return 0;
}

int h_openapi(struct http_req *req)
{
	req->raw = mem_strdup(api_openapi_json);
	req->raw_type = "application/json";
	req->status = 200;
	return 0;
}
