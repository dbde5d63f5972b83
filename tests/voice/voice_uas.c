/* voice_uas.c: test helper running the voice engine: answers calls (or dials them), plays a
   tone or a WAV file, and prints one line per event on stdout for the e2e tests to read. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voice/voice.h"

struct opts {
	struct voice_config cfg;
	const char *wav, *send_dtmf;
	const char *dials[8]; /* --dial URI, repeatable: dialled in order at start */
	size_t ndials;
	const char *ivr, *record_dir; /* --ivr TEXT: say, collect to '#', record, hang up */
	bool collect;		      /* --collect: collect to '#' while playing, then hang up */
	unsigned record_ms;
	unsigned answer_delay_ms, hangup_ms, dial_count, dial_timeout_ms;
	bool hangup_on_pound;
	bool hangup_after_play; /* --hangup-after-play: hang up when the prompt ends */
	unsigned prompt_ms;	/* --prompt-ms: the tone's length, default 1000 */
	/* signalling extras */
	const char *users[8], *auth_user, *auth_pass;
	size_t nusers;
	bool progress, dial_on_register;
	struct voice_trunk trunk;
};

/* Calls waiting for a delayed answer or a timed hangup. */
struct timer {
	uint64_t call, due_ms;
	bool hangup; /* else answer */
};

static struct timer timers[4096];
static size_t ntimers;
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void add_timer(uint64_t call, unsigned ms, bool hangup)
{
	if (ntimers < sizeof(timers) / sizeof(timers[0]))
		timers[ntimers++] = (struct timer){call, now_ms() + ms, hangup};
}

static void drop_timers(uint64_t call)
{
	for (size_t i = 0; i < ntimers;)
		if (timers[i].call == call)
			timers[i] = timers[--ntimers];
		else
			i++;
}

static void run_timers(struct voice_engine *e)
{
	uint64_t now = now_ms();
	for (size_t i = 0; i < ntimers;) {
		if (timers[i].due_ms > now) {
			i++;
			continue;
		}
		struct timer t = timers[i];
		timers[i] = timers[--ntimers];
		if (t.hangup)
			voice_call_hangup(e, t.call);
		else
			voice_call_answer(e, t.call);
	}
}

static const char *cause_name(enum voice_end c)
{
	static const char *names[] = {"local",	 "remote", "cancel",  "rejected",
				      "timeout", "error",  "shutdown"};
	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

static void on_incoming(struct voice_engine *e, const struct opts *o, const struct voice_event *ev)
{
	printf("INCOMING call=%llu from=%s to=%s ruser=%s transport=%s\n",
	       (unsigned long long)ev->call, ev->from, ev->to, ev->ruser, ev->tcp ? "tcp" : "udp");
	if (strcmp(ev->ruser, "ring") == 0)
		return; /* rings until the caller cancels */
	if (strcmp(ev->ruser, "busy") == 0) {
		voice_call_reject(e, ev->call, 486);
		return;
	}
	if (o->progress)
		voice_call_progress(e, ev->call);
	if (o->answer_delay_ms)
		add_timer(ev->call, o->answer_delay_ms, false);
	else
		voice_call_answer(e, ev->call);
}

static void on_answered(struct voice_engine *e, const struct opts *o, struct voice_audio *a,
			const struct voice_event *ev)
{
	printf("ANSWERED call=%llu\n", (unsigned long long)ev->call);
	if (o->ivr) {
		struct voice_collect c = {.max_digits = 8,
					  .finish_key = '#',
					  .first_ms = 8000,
					  .inter_ms = 3000,
					  .barge_in = true};
		voice_call_say(e, ev->call, o->ivr, NULL, 1);
		voice_call_collect(e, ev->call, &c);
	} else {
		voice_call_play(e, ev->call, a, o->hangup_after_play ? 1 : 0);
	}
	if (o->collect) {
		struct voice_collect c = {.max_digits = 16, .finish_key = '#', .first_ms = 20000};
		voice_call_collect(e, ev->call, &c);
	}
	if (o->send_dtmf)
		voice_call_send_dtmf(e, ev->call, o->send_dtmf);
	if (o->hangup_ms)
		add_timer(ev->call, o->hangup_ms, true);
}

static void dial_one(struct voice_engine *e, const struct opts *o, const char *uri)
{
	uint64_t id;
	struct voice_dial d = {.uri = uri,
			       .timeout_ms = o->dial_timeout_ms,
			       .auth_user = o->auth_user,
			       .auth_pass = o->auth_pass};
	if (voice_call_dial(e, &d, &id) == 0)
		printf("DIALING call=%llu uri=%s\n", (unsigned long long)id, uri);
}

static void on_extra_event(struct voice_engine *e, const struct opts *o,
			   const struct voice_event *ev)
{
	unsigned long long id = (unsigned long long)ev->call;
	switch (ev->type) {
	case VOICE_EV_REFER:
		printf("REFER call=%llu to=%s\n", id, ev->to);
		break;
	case VOICE_EV_TRUNK_UP:
		printf("TRUNK_UP id=%llu code=%d\n", id, ev->code);
		break;
	case VOICE_EV_TRUNK_DOWN:
		printf("TRUNK_DOWN id=%llu code=%d\n", id, ev->code);
		break;
	case VOICE_EV_TRUNK_REG:
		printf("TRUNK_REG id=%llu code=%d\n", id, ev->code);
		break;
	case VOICE_EV_DEVICE:
		printf("DEVICE user=%s contact=%s expires=%d\n", ev->from, ev->to, ev->code);
		if (o->dial_on_register && ev->code > 0) {
			char uri[160];
			snprintf(uri, sizeof(uri), "device:%s", ev->from);
			dial_one(e, o, uri);
		}
		break;
	default:
		break;
	}
}

static void on_event(struct voice_engine *e, const struct opts *o, struct voice_audio *a,
		     const struct voice_event *ev)
{
	unsigned long long id = (unsigned long long)ev->call;
	switch (ev->type) {
	case VOICE_EV_INCOMING:
		on_incoming(e, o, ev);
		break;
	case VOICE_EV_PROGRESS:
		printf("PROGRESS call=%llu code=%d\n", id, ev->code);
		break;
	case VOICE_EV_ANSWERED:
		on_answered(e, o, a, ev);
		break;
	case VOICE_EV_DTMF:
		printf("DTMF call=%llu digit=%c\n", id, ev->digit);
		if (o->hangup_on_pound && ev->digit == '#')
			voice_call_hangup(e, ev->call);
		break;
	case VOICE_EV_PLAY_DONE:
		printf("PLAY_DONE call=%llu code=%d\n", id, ev->code);
		if (o->hangup_after_play)
			voice_call_hangup(e, ev->call);
		break;
	case VOICE_EV_COLLECTED:
		printf("COLLECTED call=%llu code=%d digits=%s\n", id, ev->code, ev->digits);
		if (o->collect)
			voice_call_hangup(e, ev->call);
		if (o->ivr) {
			char path[600];
			snprintf(path, sizeof(path), "%s/call-%llu.wav",
				 o->record_dir ? o->record_dir : "/tmp", id);
			struct voice_record r = {.path = path,
						 .beep = true,
						 .max_ms = o->record_ms ? o->record_ms : 3000};
			voice_call_record(e, ev->call, &r);
		}
		break;
	case VOICE_EV_RECORD_DONE:
		printf("RECORD_DONE call=%llu code=%d duration_ms=%u\n", id, ev->code,
		       ev->duration_ms);
		if (o->ivr)
			voice_call_hangup(e, ev->call);
		break;
	case VOICE_EV_BRIDGE:
		printf("BRIDGE call=%llu code=%d peer=%llu\n", id, ev->code,
		       (unsigned long long)ev->peer);
		break;
	case VOICE_EV_HANGUP:
		printf("QUALITY call=%llu rx=%llu expected=%llu loss_rx=%.2f jitter_rx=%.2f "
		       "loss_tx=%.2f jitter_tx=%.2f reports=%u mos=%.2f\n",
		       id, (unsigned long long)ev->quality.rx_packets,
		       (unsigned long long)ev->quality.rx_expected, ev->quality.loss_rx_pct,
		       ev->quality.jitter_rx_ms, ev->quality.loss_tx_pct, ev->quality.jitter_tx_ms,
		       ev->quality.rtcp_reports, ev->quality.mos);
		drop_timers(ev->call);
		if (ev->cause == VOICE_END_REJECTED && ev->retry_after_s)
			printf("HANGUP call=%llu code=%d cause=%s reason=\"%s\" retry_after=%u\n",
			       id, ev->code, cause_name(ev->cause), ev->reason, ev->retry_after_s);
		else if (ev->cause == VOICE_END_REJECTED)
			printf("HANGUP call=%llu code=%d cause=%s reason=\"%s\"\n", id, ev->code,
			       cause_name(ev->cause), ev->reason);
		else
			printf("HANGUP call=%llu code=%d cause=%s\n", id, ev->code,
			       cause_name(ev->cause));
		break;
	default:
		on_extra_event(e, o, ev);
		break;
	}
}

/* Flags of the signalling extras (edge, registrar, trunks); -EINVAL if k is none of them. */
static int parse_extra(struct opts *o, const char *k, const char *v, unsigned long n)
{
	if (!strcmp(k, "--pike"))
		o->cfg.pike_reqs = (unsigned)n;
	else if (!strcmp(k, "--pike-window"))
		o->cfg.pike_window_ms = (unsigned)n;
	else if (!strcmp(k, "--ban"))
		o->cfg.ban_s = (unsigned)n;
	else if (!strcmp(k, "--scanners"))
		o->cfg.scanner_agents = v;
	else if (!strcmp(k, "--trusted"))
		o->cfg.trusted_ips = v;
	else if (!strcmp(k, "--realm"))
		o->cfg.realm = v;
	else if (!strcmp(k, "--nonce-ttl"))
		o->cfg.nonce_ttl_s = (unsigned)n;
	else if (!strcmp(k, "--reg-min"))
		o->cfg.reg_min_expires = (unsigned)n;
	else if (!strcmp(k, "--fail-ip"))
		o->cfg.auth_fail_ip_max = (unsigned)n;
	else if (!strcmp(k, "--fail-user"))
		o->cfg.auth_fail_user_max = (unsigned)n;
	else if (!strcmp(k, "--user") && o->nusers < 8)
		o->users[o->nusers++] = v; /* name:password */
	else if (!strcmp(k, "--auth-user"))
		o->auth_user = v;
	else if (!strcmp(k, "--auth-pass"))
		o->auth_pass = v;
	else if (!strcmp(k, "--trunk"))
		o->trunk.uri = v;
	else if (!strcmp(k, "--trunk-user"))
		o->trunk.user = v;
	else if (!strcmp(k, "--trunk-pass"))
		o->trunk.password = v;
	else if (!strcmp(k, "--trunk-register"))
		o->trunk.register_expires = (unsigned)n;
	else if (!strcmp(k, "--trunk-ping"))
		o->trunk.ping_ms = (unsigned)n;
	else if (!strcmp(k, "--sha256"))
		o->cfg.reg_offer_sha256 = n != 0;
	else if (!strcmp(k, "--dns"))
		o->cfg.dns_server = v;
	else if (!strcmp(k, "--tls-cert"))
		o->cfg.tls_cert = v;
	else if (!strcmp(k, "--tls-port"))
		o->cfg.tls_port = (uint16_t)n;
	else if (!strcmp(k, "--tls-ca"))
		o->cfg.tls_ca = v;
	else if (!strcmp(k, "--tls-no-verify"))
		o->cfg.tls_no_verify = n != 0;
	else
		return -EINVAL;
	return 0;
}

/* Users given as name:password become HA1s here; the engine never sees the password. */
static int add_users(struct voice_engine *e, const struct opts *o)
{
	const char *realm = o->cfg.realm ? o->cfg.realm : o->cfg.sip_addr;
	for (size_t i = 0; i < o->nusers; i++) {
		char name[64], md5[65], sha[65];
		const char *colon = strchr(o->users[i], ':');
		if (!colon || (size_t)(colon - o->users[i]) >= sizeof(name))
			return -EINVAL;
		snprintf(name, sizeof(name), "%.*s", (int)(colon - o->users[i]), o->users[i]);
		if (voice_digest_ha1(VOICE_DIGEST_MD5, name, realm, colon + 1, md5) < 0 ||
		    voice_digest_ha1(VOICE_DIGEST_SHA256, name, realm, colon + 1, sha) < 0)
			return -EINVAL;
		int r = voice_engine_add_user(e, name, NULL, md5, sha);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	voice_config_default(&o->cfg);
	o->cfg.media_threads = 1;
	o->cfg.pike_reqs =
	    0; /* off unless --pike: the e2e tests and the bench all come from 127.0.0.1 */
	o->dial_count = 1;
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool flag = true;
		if (!strcmp(k, "--latch"))
			o->cfg.rtp_latch = true;
		else if (!strcmp(k, "--hangup-on-pound"))
			o->hangup_on_pound = true;
		else if (!strcmp(k, "--collect"))
			o->collect = true;
		else if (!strcmp(k, "--no-tcp"))
			o->cfg.tcp = false;
		else if (!strcmp(k, "--hangup-after-play"))
			o->hangup_after_play = true;
		else if (!strcmp(k, "--progress"))
			o->progress = true;
		else if (!strcmp(k, "--dial-on-register"))
			o->dial_on_register = true;
		else
			flag = false;
		if (flag)
			continue;
		if (!v)
			return -EINVAL;
		i++;
		unsigned long n = strtoul(v, NULL, 10);
		if (!strcmp(k, "--port"))
			o->cfg.sip_port = (uint16_t)n;
		else if (!strcmp(k, "--rtp-min"))
			o->cfg.rtp_port_min = (uint16_t)n;
		else if (!strcmp(k, "--rtp-max"))
			o->cfg.rtp_port_max = (uint16_t)n;
		else if (!strcmp(k, "--max-calls"))
			o->cfg.max_calls = (unsigned)n;
		else if (!strcmp(k, "--max-msg"))
			o->cfg.sip_max_msg = n;
		else if (!strcmp(k, "--media-threads"))
			o->cfg.media_threads = (unsigned)n;
		else if (!strcmp(k, "--sig-threads"))
			o->cfg.sig_threads = (unsigned)n;
		else if (!strcmp(k, "--wav"))
			o->wav = v;
		else if (!strcmp(k, "--prompt-ms"))
			o->prompt_ms = (unsigned)n;
		else if (!strcmp(k, "--answer-delay"))
			o->answer_delay_ms = (unsigned)n;
		else if (!strcmp(k, "--hangup-after"))
			o->hangup_ms = (unsigned)n;
		else if (!strcmp(k, "--dial") && o->ndials < 8)
			o->dials[o->ndials++] = v;
		else if (!strcmp(k, "--dial-count"))
			o->dial_count = (unsigned)n;
		else if (!strcmp(k, "--dial-timeout"))
			o->dial_timeout_ms = (unsigned)n;
		else if (!strcmp(k, "--send-dtmf"))
			o->send_dtmf = v;
		else if (!strcmp(k, "--ivr"))
			o->ivr = v;
		else if (!strcmp(k, "--record-dir"))
			o->record_dir = v;
		else if (!strcmp(k, "--record-ms"))
			o->record_ms = (unsigned)n;
		else if (parse_extra(o, k, v, n) < 0)
			return -EINVAL;
	}
	return 0;
}

static void print_stats(struct voice_engine *e)
{
	struct voice_stats st;
	voice_engine_stats(e, &st);
	printf("SIGSTATS scanner=%llu rate=%llu banned=%llu bans=%llu hops=%llu ruri=%llu "
	       "reg_ok=%llu reg_challenged=%llu reg_failed=%llu reg_stale=%llu reg_locked=%llu "
	       "bindings=%llu\n",
	       (unsigned long long)st.sip_scanner_dropped, (unsigned long long)st.sip_rate_dropped,
	       (unsigned long long)st.sip_banned_dropped, (unsigned long long)st.sip_bans,
	       (unsigned long long)st.sip_too_many_hops, (unsigned long long)st.sip_ruri_too_long,
	       (unsigned long long)st.reg_ok, (unsigned long long)st.reg_challenged,
	       (unsigned long long)st.reg_failed, (unsigned long long)st.reg_stale,
	       (unsigned long long)st.reg_locked, (unsigned long long)st.reg_bindings);
	printf("STATS calls=%llu media_calls=%llu rx=%llu tx=%llu rejected=%llu ticks=%llu "
	       "late_max_us=%llu skipped=%llu too_big=%llu dropped=%llu\n",
	       (unsigned long long)st.calls, (unsigned long long)st.media_calls,
	       (unsigned long long)st.rtp_rx, (unsigned long long)st.rtp_tx,
	       (unsigned long long)st.rtp_rejected, (unsigned long long)st.ticks,
	       (unsigned long long)st.tick_late_max_us, (unsigned long long)st.ticks_skipped,
	       (unsigned long long)st.sip_too_big, (unsigned long long)st.events_dropped);
	printf("STATS2 late_5ms=%llu work_max_us=%llu\n", (unsigned long long)st.ticks_late_5ms,
	       (unsigned long long)st.tick_work_max_us);
}

int main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof(o));
	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr,
			"usage: voice_uas --port N [--rtp-min N --rtp-max N] [--wav F] ...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	struct voice_audio *a = NULL;
	int r = o.wav ? voice_audio_load_wav(o.wav, 600, &a)
		      : voice_audio_tone(350, 440, -13, o.prompt_ms ? o.prompt_ms : 1000, 0,
					 o.prompt_ms ? o.prompt_ms : 1000, &a);
	if (r < 0) {
		fprintf(stderr, "voice_uas: audio: %s\n", strerror(-r));
		return 1;
	}
	struct voice_engine *e;
	if ((r = voice_engine_start(&o.cfg, &e)) < 0) {
		fprintf(stderr, "voice_uas: start: %s\n", strerror(-r));
		voice_audio_unref(a);
		return 1;
	}
	if ((r = add_users(e, &o)) < 0) {
		fprintf(stderr, "voice_uas: --user: %s\n", strerror(-r));
		voice_engine_stop(e);
		voice_audio_unref(a);
		return 1;
	}
	uint64_t trunk_id;
	if (o.trunk.uri && voice_trunk_add(e, &o.trunk, &trunk_id) == 0)
		printf("TRUNK id=%llu\n", (unsigned long long)trunk_id);
	if (voice_engine_tls_port(e))
		printf("TLS port=%u\n", voice_engine_tls_port(e));
	/* every stack's port (stack i is sip_port + i, or the kernel's choice with --port 0) */
	printf("PORTS");
	for (unsigned i = 0; i < voice_engine_sig_threads(e); i++)
		printf(" %u", voice_engine_sip_port_n(e, i));
	printf("\n");
	printf("READY port=%u\n", voice_engine_sip_port(e));
	for (size_t d = 0; d < o.ndials; d++)
		for (unsigned i = 0; i < o.dial_count; i++)
			dial_one(e, &o, o.dials[d]);
	while (!stop_flag) {
		struct voice_event ev;
		if (voice_engine_next_event(e, &ev, 20) == 1)
			on_event(e, &o, a, &ev);
		run_timers(e);
	}
	print_stats(e);
	voice_engine_stop(e);
	voice_audio_unref(a);
	printf("STOPPED\n");
	return 0;
}
