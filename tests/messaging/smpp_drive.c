/* smpp_drive.c: drives the SMPP client for the e2e tests and bench/smpp.sh: binds to an SMSC
   (one transceiver, or a transmitter + receiver pair with --bind pair), submits N messages
   ("m<i>"), waits for their results, receipts and MO messages, and prints everything as
   JSON lines; --fake-smsc runs a minimal C SMSC in-process instead. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "messaging/smpp.h"

struct opts {
	const char *host, *system_id, *password, *bind;
	int port, n, window, tps, receipts, mos, timeout_ms, el_s, rto_ms, hold_ms;
	bool quiet, fake;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int results, ok_unique, receipts, mos, ups;
static atomic_int *ok_count;
static uint64_t first_us;
static _Atomic uint64_t last_us;
static bool quiet;

static void emit(const char *line)
{
	pthread_mutex_lock(&out_lock);
	fputs(line, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void on_submitted(const struct smpp_submit_result *r, void *arg)
{
	int i = (int)(intptr_t)r->arg;
	if (r->status == SMPP_ESME_ROK && atomic_fetch_add(&ok_count[i], 1) == 0)
		atomic_fetch_add(&ok_unique, 1);
	atomic_store(&last_us, time_mono_us());
	atomic_fetch_add(&results, 1);
	if (quiet)
		return;
	char line[256];
	snprintf(line, sizeof(line),
		 "{\"event\":\"submitted\",\"bind\":\"%s\",\"i\":%d,\"status\":%u,"
		 "\"message_id\":\"%s\"}",
		 (const char *)arg, i, r->status, r->message_id ? r->message_id : "");
	emit(line);
}

static uint32_t on_delivered(const struct smpp_deliver *d, void *arg)
{
	const struct smpp_pdu *p = d->pdu;
	atomic_fetch_add(d->is_receipt ? &receipts : &mos, 1);
	if (quiet)
		return SMPP_ESME_ROK;
	char hex[2 * SMPP_SM_MAX + 1], line[1024];
	hex_encode(p->short_message, p->sm_length, hex);
	snprintf(line, sizeof(line),
		 "{\"event\":\"deliver\",\"bind\":\"%s\",\"seq\":%u,\"receipt\":%s,\"id\":\"%s\","
		 "\"stat\":\"%s\",\"err\":\"%s\","
		 "\"source_addr\":\"%s\",\"destination_addr\":\"%s\",\"esm_class\":%u,"
		 "\"data_coding\":%u,\"short_message\":\"%s\"}",
		 (const char *)arg, p->sequence, d->is_receipt ? "true" : "false", d->receipt.id,
		 d->receipt.stat, d->receipt.err, p->source_addr, p->destination_addr, p->esm_class,
		 p->data_coding, hex);
	emit(line);
	return SMPP_ESME_ROK;
}

static void on_bound(bool up, const char *why, void *arg)
{
	if (up)
		atomic_fetch_add(&ups, 1);
	char line[192];
	snprintf(line, sizeof(line),
		 "{\"event\":\"bound\",\"bind\":\"%s\",\"up\":%s,\"why\":\"%s\"}",
		 (const char *)arg, up ? "true" : "false", why);
	emit(line);
}

/* ---- --fake-smsc: answers bind, submit_sm, enquire_link and unbind, nothing more ---- */

static void fake_reply(struct buf *out, const struct smpp_pdu *p, uint32_t *next_id)
{
	struct smpp_pdu r = {.command_id = p->command_id | 0x80000000u, .sequence = p->sequence};
	if (p->command_id == SMPP_SUBMIT_SM)
		snprintf(r.message_id, sizeof(r.message_id), "%08x", (*next_id)++);
	if (p->command_id == SMPP_BIND_TRANSCEIVER || p->command_id == SMPP_BIND_TRANSMITTER ||
	    p->command_id == SMPP_BIND_RECEIVER || p->command_id == SMPP_SUBMIT_SM ||
	    p->command_id == SMPP_ENQUIRE_LINK || p->command_id == SMPP_UNBIND)
		smpp_pdu_encode(&r, out);
}

static void *fake_serve(void *arg)
{
	int fd = (int)(intptr_t)arg, one = 1;
	uint8_t in[65536];
	size_t len = 0, plen;
	uint32_t next_id = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		ssize_t n = recv(fd, in + len, sizeof(in) - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		struct buf out;
		buf_init(&out, 0);
		size_t off = 0;
		while (smpp_pdu_need(in + off, len - off, &plen) == 0) {
			struct smpp_pdu p;
			if (smpp_pdu_decode(in + off, plen, &p) == 0)
				fake_reply(&out, &p, &next_id);
			off += plen;
		}
		memmove(in, in + off, len - off);
		len -= off;
		bool failed = out.len && send(fd, out.p, out.len, MSG_NOSIGNAL) < 0;
		buf_free(&out);
		if (failed)
			break;
	}
	close(fd);
	return NULL;
}

static int fake_lfd, fake_conns; /* one connection per bind */

/* Accepts one connection per bind, serves each on a thread, returns when all are closed. */
static void *fake_run(void *arg)
{
	pthread_t th[2];
	(void)arg;
	for (int i = 0; i < fake_conns; i++)
		pthread_create(&th[i], NULL, fake_serve,
			       (void *)(intptr_t)accept(fake_lfd, NULL, NULL));
	for (int i = 0; i < fake_conns; i++)
		pthread_join(th[i], NULL);
	close(fake_lfd);
	return NULL;
}

static int fake_start(pthread_t *th, int conns)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 2) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	fake_lfd = lfd;
	fake_conns = conns;
	pthread_create(th, NULL, fake_run, NULL);
	return ntohs(a.sin_port);
}

/* ---- main ---- */

static int parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.host = "127.0.0.1",
			   .system_id = "esme1",
			   .password = "pw",
			   .bind = "trx",
			   .n = 10,
			   .window = 10,
			   .timeout_ms = 30000,
			   .el_s = 30,
			   .rto_ms = 5000};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool used = true;
		if (!strcmp(a, "--quiet"))
			o->quiet = true, used = false;
		else if (!strcmp(a, "--fake-smsc"))
			o->fake = true, used = false;
		else if (!v)
			return -1;
		else if (!strcmp(a, "--host"))
			o->host = v;
		else if (!strcmp(a, "--port"))
			o->port = atoi(v);
		else if (!strcmp(a, "--system-id"))
			o->system_id = v;
		else if (!strcmp(a, "--password"))
			o->password = v;
		else if (!strcmp(a, "--n"))
			o->n = atoi(v);
		else if (!strcmp(a, "--window"))
			o->window = atoi(v);
		else if (!strcmp(a, "--tps"))
			o->tps = atoi(v);
		else if (!strcmp(a, "--receipts"))
			o->receipts = atoi(v);
		else if (!strcmp(a, "--mos"))
			o->mos = atoi(v);
		else if (!strcmp(a, "--timeout-ms"))
			o->timeout_ms = atoi(v);
		else if (!strcmp(a, "--enquire-link-s"))
			o->el_s = atoi(v);
		else if (!strcmp(a, "--response-timeout-ms"))
			o->rto_ms = atoi(v);
		else if (!strcmp(a, "--hold-ms"))
			o->hold_ms = atoi(v);
		else if (!strcmp(a, "--bind"))
			o->bind = v;
		else
			return -1;
		i += used;
	}
	bool bind_ok = !strcmp(o->bind, "trx") || !strcmp(o->bind, "tx") ||
		       !strcmp(o->bind, "rx") || !strcmp(o->bind, "pair");
	return o->n >= 0 && bind_ok && (o->port > 0 || o->fake) ? 0 : -1;
}

/* The binds --bind asks for: one client (trx, tx, rx) or a transmitter + receiver pair. */
static int start_clients(const struct opts *o, struct smpp_client *c[2])
{
	bool pair = !strcmp(o->bind, "pair");
	static const char *const labels[] = {"trx", "tx", "rx"};
	enum smpp_bind_type types[2] = {SMPP_TRANSMITTER, SMPP_RECEIVER};
	if (!pair)
		types[0] = !strcmp(o->bind, "tx")   ? SMPP_TRANSMITTER
			   : !strcmp(o->bind, "rx") ? SMPP_RECEIVER
						    : SMPP_TRANSCEIVER;
	int n = pair ? 2 : 1;
	for (int i = 0; i < n; i++) {
		struct smpp_config cfg = {.host = o->host,
					  .port = o->port,
					  .system_id = o->system_id,
					  .password = o->password,
					  .window = o->window,
					  .tps = o->tps,
					  .enquire_link_s = o->el_s,
					  .response_timeout_ms = o->rto_ms,
					  .rebind_min_ms = 100,
					  .rebind_max_ms = 2000,
					  .queue_max = o->n + 1,
					  .bind_type = types[i]};
		struct smpp_callbacks cb = {on_submitted, on_delivered, on_bound,
					    (void *)labels[types[i]]};
		if (smpp_client_new(&cfg, &cb, &c[i]) < 0)
			return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct opts o;
	pthread_t fake_th;
	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: smpp_drive --port P [--n N] [--window W] [--tps T] "
				"[--receipts R] [--mos M] [--timeout-ms T] [--enquire-link-s S] "
				"[--response-timeout-ms T] [--system-id S] [--password P] "
				"[--bind trx|tx|rx|pair] [--hold-ms H] [--quiet] [--fake-smsc]\n");
		return 2;
	}
	quiet = o.quiet;
	int nc = !strcmp(o.bind, "pair") ? 2 : 1;
	if (o.fake && (o.port = fake_start(&fake_th, nc)) < 0)
		return 1;
	ok_count = mem_zalloc(((size_t)o.n + 1) * sizeof(*ok_count));
	struct smpp_client *c[2] = {NULL, NULL};
	if (start_clients(&o, c) < 0)
		return 1;
	uint64_t deadline = time_mono_us() + (uint64_t)o.timeout_ms * 1000;
	while (atomic_load(&ups) < nc && time_mono_us() < deadline)
		usleep(1000);
	first_us = time_mono_us();
	for (int i = 0; i < o.n; i++) {
		char text[16];
		int len = snprintf(text, sizeof(text), "m%d", i);
		struct smpp_submit s = {.source_addr = "12345",
					.destination_addr = "15550001111",
					.source_addr_ton = 1,
					.source_addr_npi = 1,
					.dest_addr_ton = 1,
					.dest_addr_npi = 1,
					.registered_delivery = o.receipts > 0,
					.short_message = (uint8_t *)text,
					.sm_length = (size_t)len,
					.arg = (void *)(intptr_t)i};
		if (smpp_submit(c[0], &s) < 0)
			return 1;
	}
	while (time_mono_us() < deadline &&
	       (atomic_load(&results) < o.n || atomic_load(&receipts) < o.receipts ||
		atomic_load(&mos) < o.mos))
		usleep(1000);
	if (o.hold_ms > 0) /* idle and bound: enquire_link time */
		usleep((useconds_t)o.hold_ms * 1000);
	struct smpp_stats st = {0};
	for (int i = 0; i < nc; i++) {
		struct smpp_stats one;
		smpp_client_stats(c[i], &one);
		st.submitted += one.submitted, st.resp_ok += one.resp_ok;
		st.resp_error += one.resp_error, st.throttled += one.throttled;
		st.resent += one.resent, st.rebinds += one.rebinds;
		st.delivered += one.delivered, st.generic_nacks += one.generic_nacks;
	}
	/* the transmitter first: an SMSC that ends the session with it (drive_smpp) then closes
	   the receiver */
	for (int i = 0; i < nc; i++)
		smpp_client_free(c[i]);
	uint64_t span = atomic_load(&last_us) > first_us ? atomic_load(&last_us) - first_us : 1;
	char line[512];
	snprintf(line, sizeof(line),
		 "{\"event\":\"stats\",\"n\":%d,\"ok_unique\":%d,\"results\":%d,\"receipts\":%d,"
		 "\"mos\":%d,\"submitted\":%llu,\"resp_ok\":%llu,\"resp_error\":%llu,"
		 "\"throttled\":%llu,\"resent\":%llu,\"rebinds\":%llu,\"delivered\":%llu,"
		 "\"generic_nacks\":%llu,\"elapsed_ms\":%.1f,\"per_s\":%.0f}",
		 o.n, atomic_load(&ok_unique), atomic_load(&results), atomic_load(&receipts),
		 atomic_load(&mos), (unsigned long long)st.submitted,
		 (unsigned long long)st.resp_ok, (unsigned long long)st.resp_error,
		 (unsigned long long)st.throttled, (unsigned long long)st.resent,
		 (unsigned long long)st.rebinds, (unsigned long long)st.delivered,
		 (unsigned long long)st.generic_nacks, (double)span / 1000.0,
		 (double)o.n * 1e6 / (double)span);
	emit(line);
	if (o.fake)
		pthread_join(fake_th, NULL);
	mem_free(ok_count);
	return atomic_load(&ok_unique) == o.n ? 0 : 1;
}
