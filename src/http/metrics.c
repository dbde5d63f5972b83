/* metrics.c: request counters by route and status, latency histograms, rendered as
   Prometheus text. */
#include <stdatomic.h>
#include <string.h>

#include "http.h"

static const int statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
			       409, 413, 415, 422, 429, 431, 500, 503, 0};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0])) /* last: any other */
static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				0.05,	0.1,   0.25,   0.5,   1,    2.5};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct route_metrics {
	atomic_ulong count[NSTATUS];
	atomic_ulong hist[NBOUNDS + 1];
	atomic_ulong sum_us;
};

struct metrics {
	size_t n; /* routes + 1 for unmatched */
	struct route_metrics *r;
};

struct metrics *metrics_new(size_t nroutes)
{
	struct metrics *m = mem_zalloc(sizeof(*m));
	m->n = nroutes + 1;
	m->r = mem_zalloc(m->n * sizeof(*m->r));
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	mem_free(m->r);
	mem_free(m);
}

void metrics_observe(struct metrics *m, size_t idx, int status, uint64_t dur_us)
{
	if (idx >= m->n)
		idx = m->n - 1;
	struct route_metrics *rm = &m->r[idx];
	size_t s = 0;
	while (statuses[s] && statuses[s] != status)
		s++;
	atomic_fetch_add(&rm->count[s], 1);
	double secs = (double)dur_us / 1e6;
	size_t b = 0;
	while (b < NBOUNDS && secs > bounds[b])
		b++;
	atomic_fetch_add(&rm->hist[b], 1);
	atomic_fetch_add(&rm->sum_us, dur_us);
}

static void labels(struct buf *out, const struct route *routes, size_t i, size_t nroutes)
{
	if (i < nroutes)
		buf_printf(out, "method=\"%s\",route=\"%s\"", routes[i].method, routes[i].path);
	else
		buf_puts(out, "method=\"\",route=\"unmatched\"");
}

void metrics_render(struct metrics *m, const struct route *routes, size_t nroutes,
		    uint64_t store_errors, struct buf *out)
{
	buf_puts(out, "# HELP irisx_http_requests_total HTTP requests by route and status.\n"
		      "# TYPE irisx_http_requests_total counter\n");
	for (size_t i = 0; i < m->n; i++)
		for (size_t s = 0; s < NSTATUS; s++) {
			unsigned long c = atomic_load(&m->r[i].count[s]);
			if (!c)
				continue;
			buf_puts(out, "irisx_http_requests_total{");
			labels(out, routes, i, nroutes);
			if (statuses[s])
				buf_printf(out, ",status=\"%d\"} %lu\n", statuses[s], c);
			else
				buf_printf(out, ",status=\"other\"} %lu\n", c);
		}
	buf_puts(out, "# HELP irisx_http_request_duration_seconds Request latency.\n"
		      "# TYPE irisx_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < m->n; i++) {
		unsigned long cum = 0;
		for (size_t b = 0; b <= NBOUNDS; b++)
			cum += atomic_load(&m->r[i].hist[b]);
		if (!cum)
			continue;
		unsigned long acc = 0;
		for (size_t b = 0; b <= NBOUNDS; b++) {
			acc += atomic_load(&m->r[i].hist[b]);
			buf_puts(out, "irisx_http_request_duration_seconds_bucket{");
			labels(out, routes, i, nroutes);
			if (b < NBOUNDS)
				buf_printf(out, ",le=\"%g\"} %lu\n", bounds[b], acc);
			else
				buf_printf(out, ",le=\"+Inf\"} %lu\n", acc);
		}
		buf_puts(out, "irisx_http_request_duration_seconds_sum{");
		labels(out, routes, i, nroutes);
		buf_printf(out, "} %.6f\n", (double)atomic_load(&m->r[i].sum_us) / 1e6);
		buf_puts(out, "irisx_http_request_duration_seconds_count{");
		labels(out, routes, i, nroutes);
		buf_printf(out, "} %lu\n", acc);
	}
	buf_printf(out,
		   "# HELP irisx_store_errors_total Database errors.\n"
		   "# TYPE irisx_store_errors_total counter\nirisx_store_errors_total %llu\n",
		   (unsigned long long)store_errors);
}
