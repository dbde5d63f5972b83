/* system.c: health and readiness probes, metrics, and the OpenAPI document. */
#include "internal.h"
#include "bus/bus.h"
#include "webhooks/webhooks.h"

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

/* Counters of the bus and the webhook deliverer, after the HTTP ones. */
static void render_workers(struct app *app, struct buf *b)
{
	static const char *const names[] = {"published", "delivered", "acked",
					    "naked",	 "dead",      "redelivered"};
	if (app->bus) {
		struct bus_stats s;
		bus_stats(app->bus, &s);
		const uint64_t v[] = {s.published, s.delivered, s.acked,
				      s.naked,	   s.dead,	s.redelivered};
		buf_puts(b, "# HELP irisx_bus_messages_total Bus messages by what happened to them "
			    "(this process)\n# TYPE irisx_bus_messages_total counter\n");
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			buf_printf(b,
				   "irisx_bus_messages_total{event=\"%s\",backend=\"%s\"} %llu\n",
				   names[i], bus_backend_name(app->bus), (unsigned long long)v[i]);
	}
	if (app->webhooks) {
		struct webhooks_stats w;
		webhooks_stats(app->webhooks, &w);
		buf_printf(
		    b,
		    "# HELP irisx_webhook_attempts_total Webhook and callback attempts by "
		    "result\n# TYPE irisx_webhook_attempts_total counter\n"
		    "irisx_webhook_attempts_total{result=\"delivered\"} %llu\n"
		    "irisx_webhook_attempts_total{result=\"failed\"} %llu\n"
		    "# HELP irisx_webhook_in_flight Deliveries handed to the deliverer and not "
		    "settled\n# TYPE irisx_webhook_in_flight gauge\nirisx_webhook_in_flight %llu\n",
		    (unsigned long long)w.delivered, (unsigned long long)w.failed,
		    (unsigned long long)w.in_flight);
	}
}

int h_metrics(struct http_req *req)
{
	struct buf b;
	buf_init(&b, 0);
	metrics_render(req->app->metrics, req->app->routes, req->app->nroutes,
		       store_error_count(req->app->st), &b);
	render_workers(req->app, &b);
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
