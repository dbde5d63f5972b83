/* bus_bench.c: bus throughput and latency on one backend, printed as NAME VALUE UNIT lines. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"

#define PAYLOAD_MAX 4096
#define LAT_MAX 100000

struct opts {
	const char *db_url, *migrate_url, *bus_url, *label, *dir;
	long n;
	int batch, threads, consumer_batch, max_inflight, payload_bytes;
	int rate, seconds, timeout_s;
};

/* What the consumer of a phase counts; one consumer thread writes, main reads. */
struct sink {
	atomic_long acked;
	atomic_ullong last_us; /* monotonic time of the latest ack */
	bool latency;
	pthread_mutex_t lock;
	uint64_t *lat_us; /* publish-to-consume, latency phase only */
	size_t nlat;
};

struct pubjob {
	struct bus *bus;
	const struct opts *o;
	const char *subject;
	long count;
	int r;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: irisx_bench_bus [--db URL [--migrate-url URL]] [--bus nats://HOST:PORT]\n"
		"  [--label NAME] [-n N] [--batch B] [--threads T] [--consumer-batch C]\n"
		"  [--max-inflight M] [--payload-bytes P] [--rate R] [--seconds S] [--timeout S]\n"
		"  [--dir DIR]\n"
		"Store on SQLite in a temp dir unless --db names PostgreSQL; bus on the store\n"
		"unless --bus names NATS. Prints NAME VALUE UNIT lines; progress on stderr.\n");
}

/* One figure: rates as integers, milliseconds with two decimals. */
static void fig(const struct opts *o, const char *what, double v, const char *unit)
{
	printf("bus_%s_%s %.*f %s\n", o->label, what, strcmp(unit, "ms") ? 0 : 2, v, unit);
	fflush(stdout);
}

static void on_msg(struct bus_msg *m, void *arg)
{
	struct sink *s = arg;
	if (s->latency) {
		uint64_t now = time_now_us();
		const char *t = strstr(m->payload, "\"t\":");
		uint64_t sent = t ? strtoull(t + 4, NULL, 10) : now;
		pthread_mutex_lock(&s->lock);
		if (s->nlat < LAT_MAX)
			s->lat_us[s->nlat++] = now > sent ? now - sent : 0;
		pthread_mutex_unlock(&s->lock);
	}
	bus_ack(m);
	atomic_store(&s->last_us, time_mono_us());
	atomic_fetch_add(&s->acked, 1);
}

/* A payload of about o->payload_bytes: {"t":<publish time>,"pad":"xxx..."}. */
static size_t payload(char *out, const struct opts *o, uint64_t t_us)
{
	int n = snprintf(out, PAYLOAD_MAX, "{\"t\":%llu,\"pad\":\"", (unsigned long long)t_us);
	size_t len = (size_t)n;
	size_t want = (size_t)o->payload_bytes;
	while (len + 2 < want && len + 3 < PAYLOAD_MAX)
		out[len++] = 'x';
	out[len++] = '"';
	out[len++] = '}';
	out[len] = 0;
	return len;
}

static void *publisher(void *arg)
{
	struct pubjob *j = arg;
	const struct opts *o = j->o;
	struct bus_pub *p = mem_zalloc((size_t)o->batch * sizeof(*p));
	char *bodies = mem_alloc((size_t)o->batch * PAYLOAD_MAX);
	for (long done = 0; done < j->count && j->r >= 0;) {
		long k = j->count - done < o->batch ? j->count - done : o->batch;
		uint64_t now = time_now_us();
		for (long i = 0; i < k; i++) {
			char *b = bodies + i * PAYLOAD_MAX;
			p[i] = (struct bus_pub){
			    .subject = j->subject, .payload = b, .payload_len = payload(b, o, now)};
		}
		j->r = bus_publish(j->bus, p, (size_t)k);
		done += k;
	}
	mem_free(bodies);
	mem_free(p);
	return NULL;
}

/* Publishes o->n messages to subject from o->threads threads; returns seconds taken. */
static int publish_all(struct bus *bus, const struct opts *o, const char *subject, double *ret_s)
{
	pthread_t th[64];
	struct pubjob jobs[64];
	int nt = o->threads;
	uint64_t t0 = time_mono_us();
	for (int i = 0; i < nt; i++) {
		jobs[i] = (struct pubjob){bus, o, subject, o->n / nt + (i < o->n % nt), 0};
		if (pthread_create(&th[i], NULL, publisher, &jobs[i]))
			return -EAGAIN;
	}
	int r = 0;
	for (int i = 0; i < nt; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].r < 0)
			r = jobs[i].r;
	}
	*ret_s = (double)(time_mono_us() - t0) / 1e6;
	return r;
}

static struct bus_consumer_opts consumer_opts(const struct opts *o, const char *subject)
{
	return (struct bus_consumer_opts){.name = "bench",
					  .subject = subject,
					  .batch = o->consumer_batch,
					  .max_inflight = o->max_inflight,
					  .visibility_us = 60 * 1000000ull,
					  .max_attempts = 5};
}

/* Waits until s has want acks or the deadline passes; false on timeout. */
static bool wait_acks(struct sink *s, long want, uint64_t deadline_us)
{
	while (atomic_load(&s->acked) < want) {
		if (time_mono_us() > deadline_us)
			return false;
		usleep(1000);
	}
	return true;
}

static void sink_init(struct sink *s, bool latency)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->latency = latency;
	if (latency)
		s->lat_us = mem_alloc(LAT_MAX * sizeof(*s->lat_us));
}

static void sink_free(struct sink *s)
{
	mem_free(s->lat_us);
	pthread_mutex_destroy(&s->lock);
}

/* Publish only, nobody consuming that subject. */
static int phase_publish(struct bus *bus, const struct opts *o, const char *subject)
{
	double secs;
	int r = publish_all(bus, o, subject, &secs);
	if (r < 0) {
		fprintf(stderr, "bus_bench: publish: %s\n", strerror(-r));
		return r;
	}
	fprintf(stderr, "bus_bench: %s: published %ld in %.2f s\n", o->label, o->n, secs);
	fig(o, "publish_msgs_per_s", (double)o->n / secs, "msg/s");
	return 0;
}

/* One consumer acking everything; N / (first publish .. last ack). */
static int phase_end_to_end(struct bus *bus, const struct opts *o, const char *subject)
{
	struct sink s;
	sink_init(&s, false);
	struct bus_consumer_opts co = consumer_opts(o, subject);
	struct bus_consumer *c;
	int r = bus_subscribe(bus, &co, on_msg, &s, &c);
	if (r < 0) {
		fprintf(stderr, "bus_bench: subscribe: %s\n", strerror(-r));
		sink_free(&s);
		return r;
	}
	uint64_t t0 = time_mono_us();
	double pub_s;
	r = publish_all(bus, o, subject, &pub_s);
	if (r >= 0 && !wait_acks(&s, o->n, t0 + (uint64_t)o->timeout_s * 1000000ull))
		r = -ETIMEDOUT;
	long acked = atomic_load(&s.acked);
	double secs = (double)(atomic_load(&s.last_us) - t0) / 1e6;
	uint64_t u0 = time_mono_us();
	bus_unsubscribe(c); /* applies the settlements still queued */
	double unsub_s = (double)(time_mono_us() - u0) / 1e6;
	sink_free(&s);
	if (r < 0) {
		fprintf(stderr, "bus_bench: %s: end to end: %s (%ld of %ld acked)\n", o->label,
			strerror(-r), acked, o->n);
		return r;
	}
	fprintf(stderr,
		"bus_bench: %s: %ld published in %.2f s, all acked after %.2f s; "
		"unsubscribe %.3f s\n",
		o->label, o->n, pub_s, secs, unsub_s);
	fig(o, "msgs_per_s", (double)o->n / secs, "msg/s");
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/* Paced publishing: message i is due at t0 + i / rate; what is due is published at once
   (one call), each stamped with the wall clock just before the call. */
static int paced(struct bus *bus, const struct opts *o, const char *subject, long total)
{
	struct bus_pub p[256];
	static char bodies[256][PAYLOAD_MAX];
	uint64_t t0 = time_mono_us();
	long sent = 0;
	while (sent < total) {
		uint64_t el = time_mono_us() - t0;
		long due = (long)(el * (uint64_t)o->rate / 1000000ull) + 1;
		if (due > total)
			due = total;
		if (due <= sent) {
			uint64_t next = (uint64_t)sent * 1000000ull / (uint64_t)o->rate;
			if (next > el)
				usleep((useconds_t)(next - el));
			continue;
		}
		long k = due - sent < 256 ? due - sent : 256;
		uint64_t now = time_now_us();
		for (long i = 0; i < k; i++)
			p[i] = (struct bus_pub){.subject = subject,
						.payload = bodies[i],
						.payload_len = payload(bodies[i], o, now)};
		int r = bus_publish(bus, p, (size_t)k);
		if (r < 0)
			return r;
		sent += k;
	}
	return 0;
}

/* Publish-to-consume latency at o->rate msg/s for o->seconds. */
static int phase_latency(struct bus *bus, const struct opts *o, const char *subject)
{
	struct sink s;
	sink_init(&s, true);
	struct bus_consumer_opts co = consumer_opts(o, subject);
	struct bus_consumer *c;
	int r = bus_subscribe(bus, &co, on_msg, &s, &c);
	if (r < 0) {
		sink_free(&s);
		return r;
	}
	long total = (long)o->rate * o->seconds;
	if (total > LAT_MAX)
		total = LAT_MAX;
	r = paced(bus, o, subject, total);
	if (r >= 0 && !wait_acks(&s, total, time_mono_us() + 30 * 1000000ull))
		r = -ETIMEDOUT;
	bus_unsubscribe(c);
	if (r < 0) {
		fprintf(stderr, "bus_bench: %s: latency: %s (%ld of %ld acked)\n", o->label,
			strerror(-r), atomic_load(&s.acked), total);
		sink_free(&s);
		return r;
	}
	qsort(s.lat_us, s.nlat, sizeof(*s.lat_us), cmp_u64);
	char name[64];
	snprintf(name, sizeof(name), "p50_ms_at_%d_per_s", o->rate);
	fig(o, name, pct_ms(s.lat_us, s.nlat, 0.50), "ms");
	snprintf(name, sizeof(name), "p99_ms_at_%d_per_s", o->rate);
	fig(o, name, pct_ms(s.lat_us, s.nlat, 0.99), "ms");
	snprintf(name, sizeof(name), "max_ms_at_%d_per_s", o->rate);
	fig(o, name, pct_ms(s.lat_us, s.nlat, 1.0), "ms");
	sink_free(&s);
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {{"db", 1, 0, 'd'},
					   {"migrate-url", 1, 0, 'm'},
					   {"bus", 1, 0, 'b'},
					   {"label", 1, 0, 'l'},
					   {"batch", 1, 0, 'B'},
					   {"threads", 1, 0, 't'},
					   {"consumer-batch", 1, 0, 'C'},
					   {"max-inflight", 1, 0, 'I'},
					   {"payload-bytes", 1, 0, 'P'},
					   {"rate", 1, 0, 'r'},
					   {"seconds", 1, 0, 's'},
					   {"timeout", 1, 0, 'T'},
					   {"dir", 1, 0, 'D'},
					   {"help", 0, 0, 'h'},
					   {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "n:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->db_url = optarg;
			break;
		case 'm':
			o->migrate_url = optarg;
			break;
		case 'b':
			o->bus_url = optarg;
			break;
		case 'l':
			o->label = optarg;
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'n':
			o->n = atol(optarg);
			break;
		case 'B':
			o->batch = atoi(optarg);
			break;
		case 't':
			o->threads = atoi(optarg);
			break;
		case 'C':
			o->consumer_batch = atoi(optarg);
			break;
		case 'I':
			o->max_inflight = atoi(optarg);
			break;
		case 'P':
			o->payload_bytes = atoi(optarg);
			break;
		case 'r':
			o->rate = atoi(optarg);
			break;
		case 's':
			o->seconds = atoi(optarg);
			break;
		case 'T':
			o->timeout_s = atoi(optarg);
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc || o->n < 1 || o->batch < 1 || o->batch > 100000 || o->threads < 1 ||
	    o->threads > 64 || o->rate < 1 || o->seconds < 0 || o->payload_bytes < 0 ||
	    o->payload_bytes > PAYLOAD_MAX - 64 || o->timeout_s < 1)
		return -EINVAL;
	return 0;
}

/* Opens the store (migrated) and the bus named by o. */
static int open_all(const struct opts *o, struct config *cfg, struct store **st, struct bus **bus)
{
	char *err = NULL;
	if (config_load(cfg, "/dev/null", &err) < 0) {
		fprintf(stderr, "bus_bench: config: %s\n", err ? err : "?");
		return -EINVAL;
	}
	mem_free(cfg->data_dir);
	cfg->data_dir = mem_strdup(o->dir);
	if (o->db_url) {
		mem_free(cfg->database_url);
		cfg->database_url = mem_strdup(o->db_url);
		mem_free(cfg->database_migrate_url);
		cfg->database_migrate_url = mem_strdup(o->migrate_url ? o->migrate_url : "");
		mem_free(cfg->database_app_role);
		cfg->database_app_role = mem_strdup("irisx_app");
	}
	if (o->bus_url) {
		mem_free(cfg->bus_url);
		cfg->bus_url = mem_strdup(o->bus_url);
	}
	int r = store_open(cfg, st);
	if (r < 0) {
		fprintf(stderr, "bus_bench: store_open: %s\n", strerror(-r));
		return r;
	}
	if ((r = store_migrate(*st, NULL)) < 0) {
		fprintf(stderr, "bus_bench: store_migrate: %s\n", strerror(-r));
		return r;
	}
	if ((r = bus_open(cfg, *st, bus)) < 0)
		fprintf(stderr, "bus_bench: bus_open(%s): %s\n", o->bus_url ? o->bus_url : "store",
			strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	struct opts o = {.n = 200000,
			 .batch = 1000,
			 .threads = 1,
			 .consumer_batch = 256,
			 .max_inflight = 1024,
			 .payload_bytes = 256,
			 .rate = 1000,
			 .seconds = 5,
			 .timeout_s = 120};
	if (parse(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	char tmp[] = "/tmp/irisx-bench-bus-XXXXXX";
	bool own_dir = !o.dir;
	if (own_dir && !(o.dir = mkdtemp(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	struct store *st = NULL;
	struct bus *bus = NULL;
	int r = open_all(&o, &cfg, &st, &bus);
	if (!o.label)
		o.label = "x";
	char run[16], subj[64];
	snprintf(run, sizeof(run), "b%08x", (unsigned)(time_now_us() & 0xffffffff));
	if (r >= 0) {
		fprintf(stderr, "bus_bench: %s: store %s, bus %s, n %ld, batch %d, threads %d\n",
			o.label, store_backend_name(st), bus_backend_name(bus), o.n, o.batch,
			o.threads);
		/* end to end first, on an empty table: it is the figure the target is about */
		snprintf(subj, sizeof(subj), "%s.e2e", run);
		r = phase_end_to_end(bus, &o, subj);
	}
	if (r >= 0) {
		snprintf(subj, sizeof(subj), "%s.pubonly", run);
		r = phase_publish(bus, &o, subj);
	}
	if (r >= 0 && o.seconds > 0) {
		snprintf(subj, sizeof(subj), "%s.latency", run);
		r = phase_latency(bus, &o, subj);
	}
	bus_close(bus);
	store_close(st);
	config_free(&cfg);
	if (own_dir) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", o.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bus_bench: could not remove %s\n", o.dir);
	}
	return r == -ENOTSUP ? 3 : r < 0 ? 1 : 0;
}
