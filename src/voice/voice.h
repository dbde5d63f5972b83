/* voice.h: the voice engine: a SIP user agent and RTP media engine on libre, driven by
   commands and reporting events, both crossing threads on queues (docs/voice.md). */
#ifndef IRISX_VOICE_H
#define IRISX_VOICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- engine ---- */

struct voice_engine;

/* Engine settings; voice_config_default() fills a safe default for every field. */
struct voice_config {
	const char *sip_addr;	  /* IP literal the SIP listeners bind to */
	uint16_t sip_port;	  /* UDP and TCP port */
	bool udp, tcp;		  /* which SIP listeners to open (at least one) */
	const char *media_addr;	  /* IP literal RTP binds to and SDP announces */
	uint16_t rtp_port_min;	  /* even; RTP on even ports, RTCP on the next odd one */
	uint16_t rtp_port_max;	  /* inclusive */
	unsigned media_threads;	  /* 0 = one per core beyond the first (at least 1) */
	unsigned max_calls;	  /* at capacity new INVITEs get 503 */
	size_t sip_max_msg;	  /* bigger SIP messages get 513 (requests) or are dropped */
	bool rtp_latch;		  /* accept RTP from the first source, not only the SDP one */
	unsigned dial_timeout_ms; /* default per-call timeout of voice_call_dial */
	const char *user_agent;	  /* User-Agent / Server header value */

	/* ---- signalling extras (edge.c, registrar.c, trunk.c; docs/voice.md "Edge") ---- */
	const char *scanner_agents; /* '|'-separated User-Agent substrings dropped unanswered;
				       NULL: VOICE_SCANNER_AGENTS, "": none */
	unsigned pike_reqs;	    /* initial requests per source IP per pike_window_ms; 0: off */
	unsigned pike_window_ms;
	unsigned ban_s;		 /* a source over a limit is dropped for this long */
	const char *trusted_ips; /* comma-separated IP literals exempt from limits and bans */
	size_t ruri_max;	 /* longer Request-URIs get 414 */
	const char *realm;	 /* registrar digest realm; NULL: sip_addr */
	unsigned nonce_ttl_s;	 /* a nonce older than this gets 401 stale=true */
	unsigned reg_min_expires, reg_max_expires, reg_default_expires;
	unsigned auth_fail_ip_max;   /* failed authentications per IP per window: then banned */
	unsigned auth_fail_user_max; /* per user name (known or not) per window: then 403 */
	unsigned auth_fail_window_s;
	/* optional HA1 lookup (signalling thread; must not block): writes the lowercase hex HA1
	   of user in realm for alg (enum voice_digest_alg) to out; -ENOENT if unknown */
	int (*auth_lookup)(void *arg, const char *user, const char *realm, int alg, char out[65]);
	void *auth_arg;
	const char *dns_server; /* "IP:port" for names and SRV; NULL: the system's resolv.conf */
	bool reg_offer_sha256;	/* a second WWW-Authenticate with SHA-256 (RFC 8760); off by
				   default: libre 1.1.0 clients (baresip 1.0) fail on it */
	int media_rt_priority;	/* SCHED_FIFO priority of media threads (0: none, else nice -10) */
	/* TLS listener on sip_addr (sip.c): a PEM file with the certificate and its private key;
	   NULL: no TLS listener */
	const char *tls_cert;
	uint16_t tls_port; /* 0: the kernel chooses (voice_engine_tls_port); stack 0 only */
	/* Outbound TLS (needs tls_cert: libre has a TLS transport only with a listener): the
	   server's certificate chain must verify against tls_ca (a PEM file of trusted CAs;
	   NULL: the system's store), else the call fails with a transport error (code 0).
	   tls_no_verify accepts any certificate (labs). The host name is not checked: libre
	   1.1.0 does not hand out its SIP connections (docs/voice.md). */
	const char *tls_ca;
	bool tls_no_verify;
	/* signalling stacks (threads), each with its own SIP stack on sip_port + i (UDP and TCP
	   as above; with sip_port 0 the kernel chooses each), so the call rate one libre timer
	   list allows is multiplied; 0 or 1: one, at most 16. Calls belong to the stack that
	   received them, dials are spread (docs/voice.md "Threads and queues") */
	unsigned sig_threads;
};

#define VOICE_SCANNER_AGENTS                                                                       \
	"friendly-scanner|sipcli|sipvicious|VaxSIPUserAgent|pplsip|sipsak-scanner"

void voice_config_default(struct voice_config *cfg);

/* Starts the signalling thread and the media threads; raises RLIMIT_NOFILE first. Fails with
   -EINVAL on a bad setting (or a port range too small for max_calls), -EADDRINUSE etc. on
   bind errors. */
int voice_engine_start(const struct voice_config *cfg, struct voice_engine **ret);
/* Hangs up every call (BYE / 486 / CANCEL), stops and joins the threads, frees. NULL-safe. */
void voice_engine_stop(struct voice_engine *e);
/* The SIP port actually bound (the configured one, or the kernel's choice for port 0). */
uint16_t voice_engine_sip_port(const struct voice_engine *e);
/* The TLS port bound; 0 without a TLS listener. */
uint16_t voice_engine_tls_port(const struct voice_engine *e);
/* How many signalling stacks run (cfg.sig_threads, at least 1). */
unsigned voice_engine_sig_threads(const struct voice_engine *e);
/* The SIP port stack i bound (0 past the last); i 0 is voice_engine_sip_port. */
uint16_t voice_engine_sip_port_n(const struct voice_engine *e, unsigned i);
/* The signalling stack that owns a call (its id carries it). */
unsigned voice_call_stack(uint64_t call);

enum voice_event_type {
	VOICE_EV_INCOMING, /* an inbound INVITE was accepted (100 and 180 sent); answer or reject */
	VOICE_EV_PROGRESS, /* outbound: the far end sent a provisional response (code) */
	VOICE_EV_ANSWERED, /* the call is answered and media runs */
	VOICE_EV_DTMF,	   /* a digit arrived (RFC 4733) */
	VOICE_EV_PLAY_DONE,   /* the current playback ended (code 0: played out, 1: stopped) */
	VOICE_EV_HANGUP,      /* the call is over; the last event of a call (but RECORD_DONE) */
	VOICE_EV_REFER,	      /* the far end asked for a transfer (202 sent); to: Refer-To URI */
	VOICE_EV_TRUNK_UP,    /* call: trunk id; OPTIONS answered (code) after being down */
	VOICE_EV_TRUNK_DOWN,  /* call: trunk id; pings unanswered (code 408) or refused */
	VOICE_EV_TRUNK_REG,   /* call: trunk id; REGISTER result (code 200 ok, else failed) */
	VOICE_EV_DEVICE,      /* a device registered (code: expires s) or left (0); from: user */
	VOICE_EV_COLLECTED,   /* voice_call_collect ended (code: enum voice_collect_end, digits) */
	VOICE_EV_RECORD_DONE, /* the recording's file is complete (code: enum voice_record_end,
				 duration_ms); may follow HANGUP when the call ends mid-recording */
	VOICE_EV_BRIDGE,      /* code 1: bridged with call peer; 0: unbridged or failed */
};

/* Why a call ended (VOICE_EV_HANGUP cause). */
enum voice_end {
	VOICE_END_LOCAL,    /* voice_call_hangup / voice_call_reject */
	VOICE_END_REMOTE,   /* the far end sent BYE */
	VOICE_END_CANCEL,   /* the caller cancelled before the answer */
	VOICE_END_REJECTED, /* outbound: final failure response from the far end (code) */
	VOICE_END_TIMEOUT,  /* outbound: no answer within the timeout (code 408) */
	VOICE_END_ERROR,    /* transport error, no ACK, bad SDP, ... (code: SIP status if any) */
	VOICE_END_SHUTDOWN, /* voice_engine_stop */
};

#define VOICE_URI_MAX 128

struct voice_event {
	enum voice_event_type type;
	uint64_t call;
	int code;		   /* SIP status (PROGRESS, HANGUP) or PLAY_DONE reason */
	enum voice_end cause;	   /* HANGUP */
	char digit;		   /* DTMF */
	bool tcp;		   /* INCOMING: arrived over TCP */
	char from[VOICE_URI_MAX];  /* INCOMING: From URI (truncated) */
	char to[VOICE_URI_MAX];	   /* INCOMING: To URI */
	char ruser[VOICE_URI_MAX]; /* INCOMING: user part of the Request-URI */
	char digits[33];	   /* COLLECTED: the digits (without the finish key) */
	unsigned duration_ms;	   /* RECORD_DONE: audio written, after trimming */
	uint64_t peer;		   /* BRIDGE: the other leg */
	unsigned retry_after_s;	   /* HANGUP (REJECTED): the final response's Retry-After, 0 none */
	char reason[64];       /* HANGUP (REJECTED): its reason phrase ("Service Unavailable") */
	struct voice_quality { /* HANGUP: the call's media quality (a snapshot, <= 1 s old) */
		uint64_t rx_packets,
		    rx_expected; /* RTP received / expected from sequence numbers */
		double loss_rx_pct, jitter_rx_ms; /* measured on what we receive */
		double loss_tx_pct, jitter_tx_ms; /* the peer's RTCP reports on what we send */
		unsigned rtcp_reports;		  /* report blocks about our stream */
		double mos; /* E-model estimate (G.711), 1.0 - 4.4; 0: no media */
	} quality;
};

/* A descriptor that is readable while events are queued (for the owner's poll loop). */
int voice_engine_event_fd(const struct voice_engine *e);
/* Takes the next event: 1 if one was stored in *ret, 0 after timeout_ms (-1: wait forever). */
int voice_engine_next_event(struct voice_engine *e, struct voice_event *ret, int timeout_ms);

/* Counters summed over the media threads and the signalling stacks (relaxed atomics: a
   snapshot, not a transaction). */
struct voice_stats {
	uint64_t calls;		   /* calls the signalling stacks hold now (all of them) */
	uint64_t media_calls;	   /* calls with media running */
	uint64_t ticks;		   /* 5 ms media ticks run (each call is served every 4th) */
	uint64_t tick_late_max_us; /* the latest any tick ran after its due time */
	uint64_t ticks_skipped;	   /* ticks dropped because a thread ran more than 1 tick late */
	uint64_t rtp_rx, rtp_tx;   /* packets */
	uint64_t rtp_rejected;	   /* from a source other than the negotiated one, or malformed */
	uint64_t sip_too_big;	   /* messages refused for size */
	uint64_t events_dropped;   /* events lost because the owner's queue was full */
	/* edge and registrar (sip.c, registrar.c) */
	uint64_t sip_scanner_dropped; /* requests from scanner User-Agents, unanswered */
	uint64_t sip_rate_dropped;    /* requests over the per-IP rate (the one that bans too) */
	uint64_t sip_banned_dropped;  /* messages from banned sources */
	uint64_t sip_bans;	      /* bans imposed (rate or authentication failures) */
	uint64_t sip_too_many_hops;   /* Max-Forwards 0 (483) or malformed (400) */
	uint64_t sip_ruri_too_long;   /* 414 */
	uint64_t reg_ok, reg_challenged, reg_failed, reg_stale, reg_locked;
	uint64_t reg_bindings;	   /* contacts bound now */
	uint64_t ticks_late_5ms;   /* ticks run more than 5 ms after their due time */
	uint64_t tick_work_max_us; /* the longest a tick's work took (receive + send of a phase) */
};

void voice_engine_stats(struct voice_engine *e, struct voice_stats *ret);

/* ---- calls: asynchronous commands; an unknown or finished call is ignored (-ENOENT for an
   id no stack of this engine could own) ---- */

int voice_call_answer(struct voice_engine *e, uint64_t call);
int voice_call_reject(struct voice_engine *e, uint64_t call, uint16_t code);
int voice_call_hangup(struct voice_engine *e, uint64_t call);

struct voice_dial {
	const char *uri;      /* sip:user@IP[:port][;transport=tcp] */
	const char *from_uri; /* NULL: sip:irisx@<sip_addr> */
	unsigned timeout_ms;  /* 0: the engine's dial_timeout_ms */
	/* appended: "device:USER" as uri dials the contact USER registered; digest credentials
	   answer a 401/407 from the far end (carriers) */
	const char *auth_user, *auth_pass;
};

/* Sends an INVITE with an SDP offer; events follow under *ret_call. With several stacks a
   registered device is dialled from the stack its REGISTER came through, anything else from
   the stack holding the fewest calls. */
int voice_call_dial(struct voice_engine *e, const struct voice_dial *d, uint64_t *ret_call);

struct voice_audio;

/* Plays audio on the call (replacing what plays), loops times (0 = forever); the engine takes
   its own reference. */
int voice_call_play(struct voice_engine *e, uint64_t call, struct voice_audio *a, unsigned loops);
int voice_call_stop_play(struct voice_engine *e, uint64_t call);
/* Sends digits as RFC 4733 events (100 ms each, 60 ms apart); needs the peer's telephone-event. */
int voice_call_send_dtmf(struct voice_engine *e, uint64_t call, const char *digits);

/* ---- media primitives: act on calls with media (after VOICE_EV_ANSWERED; -ENOENT before) ---- */

enum voice_collect_end {
	VOICE_COLLECT_COUNT,   /* max_digits reached */
	VOICE_COLLECT_FINISH,  /* the finish key was pressed */
	VOICE_COLLECT_TIMEOUT, /* first-digit or inter-digit timeout (digits may be empty) */
	VOICE_COLLECT_STOPPED, /* replaced by another collect, or the call ended */
};

struct voice_collect {
	unsigned max_digits; /* 1-32; 0 = 32 */
	char finish_key;     /* 0: none; ends the collection and is not returned */
	unsigned first_ms;   /* first-digit timeout, counted once nothing plays; 0 = 5000 */
	unsigned inter_ms;   /* inter-digit timeout; 0 = 3000 */
	bool barge_in;	     /* a digit stops the playback (PLAY_DONE code 1) */
};

/* Collects digits (RFC 4733 or in-band); ends with VOICE_EV_COLLECTED. */
int voice_call_collect(struct voice_engine *e, uint64_t call, const struct voice_collect *c);

enum voice_record_end {
	VOICE_RECORD_MAX,     /* max_ms reached */
	VOICE_RECORD_SILENCE, /* silence_ms of audio below the threshold */
	VOICE_RECORD_FINISH,  /* the finish key */
	VOICE_RECORD_STOPPED, /* voice_call_stop_record or another recording */
	VOICE_RECORD_HANGUP,  /* the call ended */
	VOICE_RECORD_ERROR,   /* the file could not be written */
};

struct voice_record {
	const char *path;    /* WAV file: 8 kHz mono 16-bit PCM, written on a worker thread */
	bool beep;	     /* play a 1 kHz beep first, record after it */
	unsigned max_ms;     /* 0 = one hour */
	unsigned silence_ms; /* stop after this much silence; 0 = never */
	int silence_dbm0;    /* what counts as silence (frame power below); 0 = -40 */
	char finish_key;     /* 0: none */
	bool trim;	     /* drop leading and trailing silence from the file */
};

/* Records what the far end sends; ends with VOICE_EV_RECORD_DONE. */
int voice_call_record(struct voice_engine *e, uint64_t call, const struct voice_record *r);
int voice_call_stop_record(struct voice_engine *e, uint64_t call);

/* Speaks text (synthesised on a worker thread, then played as voice_call_play would; ends
   with PLAY_DONE, code 2 if synthesis failed). lang NULL or "en": flite cmu_us_kal; any other
   espeak-ng language ("de", "fr", "es", ...). */
int voice_call_say(struct voice_engine *e, uint64_t call, const char *text, const char *lang,
		   unsigned loops);

/* Joins two calls' audio both ways (and RFC 4733 digits a -> b and b -> a when both sides have
   telephone-event); a leg on another media thread is moved first. VOICE_EV_BRIDGE on both. */
int voice_call_bridge(struct voice_engine *e, uint64_t a, uint64_t b);
int voice_call_unbridge(struct voice_engine *e, uint64_t call);
/* Hold: the call hears audio looped (NULL: silence) and its bridged peer hears silence. */
int voice_call_hold(struct voice_engine *e, uint64_t call, struct voice_audio *music);
int voice_call_unhold(struct voice_engine *e, uint64_t call);
/* The call's media quality so far; -ENOENT if it has no media. */
int voice_call_quality(struct voice_engine *e, uint64_t call, struct voice_quality *ret);

/* ---- audio: immutable 8 kHz mono clips, encoded once to both G.711 laws ---- */

/* Loads a WAV (any channel count is mixed down; rates other than 8 kHz, 4-96 kHz, resampled
   with speexdsp); -ENOTSUP for other rates, -EFBIG past max_seconds. Blocking I/O and CPU:
   never call it on an engine thread. */
int voice_audio_load_wav(const char *path, unsigned max_seconds, struct voice_audio **ret);
/* A tone pair (f2 may be 0) at level dBm0, on_ms on / off_ms off, for total_ms in all. */
int voice_audio_tone(unsigned f1, unsigned f2, int level_dbm0, unsigned on_ms, unsigned off_ms,
		     unsigned total_ms, struct voice_audio **ret);
/* The record beep: 1000 Hz, -10 dBm0, 250 ms. */
int voice_audio_beep(struct voice_audio **ret);
/* A clip from 16-bit samples at rate (resampled to 8 kHz with speexdsp when rate != 8000). */
int voice_audio_from_pcm(const int16_t *pcm, size_t n, unsigned rate, struct voice_audio **ret);
/* The clip's samples decoded back to linear (from its mu-law copy); NULL-safe. */
int16_t voice_audio_linear(const struct voice_audio *a, size_t i);

/* Text to speech in the caller's thread, through the cache (key: text, voice and language).
   Blocking CPU work: never call it on an engine thread. -ENOTSUP for an unknown language. */
int voice_tts_synth(const char *text, const char *lang, struct voice_audio **ret);
struct voice_tts_stats {
	uint64_t hits, misses, evictions;
	size_t bytes, entries, limit;
};
void voice_tts_stats(struct voice_tts_stats *ret);
/* Caps the cache (bytes of encoded audio; default 32 MiB); evicts at once if over. */
void voice_tts_cache_limit(size_t bytes);

struct voice_audio *voice_audio_ref(struct voice_audio *a);
struct voice_audio *voice_audio_unref(struct voice_audio *a); /* returns NULL; NULL-safe */
size_t voice_audio_samples(const struct voice_audio *a);
/* The clip encoded with payload type pt (0 PCMU, 8 PCMA); NULL for another pt. */
const uint8_t *voice_audio_data(const struct voice_audio *a, int pt);

/* ---- protocol primitives (pure; used by the engine, the unit tests and the fuzzers) ---- */

/* RFC 4733 receiver state of one RTP stream. */
struct voice_dtmf_rx {
	bool have;	      /* an event is current */
	bool ended;	      /* its end bit was seen */
	uint8_t event;	      /* its event code */
	uint16_t dur;	      /* its longest duration seen */
	uint32_t ts, ssrc;    /* its RTP timestamp; the stream's SSRC */
	uint32_t recent[8];   /* timestamps of earlier events (late packets are not new events) */
	unsigned nrecent;     /* entries used in recent */
	unsigned recent_next; /* next slot to overwrite */
};

void voice_dtmf_rx_init(struct voice_dtmf_rx *rx);
/* Feeds one telephone-event payload. Returns 1 and sets *ret_digit when a new DTMF event starts,
   0 for a continuation, retransmission or non-DTMF event, -EINVAL for a malformed payload. */
int voice_dtmf_rx_packet(struct voice_dtmf_rx *rx, uint32_t ssrc, uint32_t ts, bool marker,
			 const uint8_t *payload, size_t len, char *ret_digit);
/* '0'-'9', '*', '#', 'A'-'D' for events 0-15; 0 otherwise. */
char voice_dtmf_digit(unsigned event);
/* The event code of a digit (case-insensitive A-D); -EINVAL if it is not one. */
int voice_dtmf_event(char digit);

#define VOICE_RTP_HDR 12

struct voice_rtp_hdr {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts, ssrc;
	size_t off, len; /* payload position and length in the packet */
};

/* Parses an RTP packet (version 2, CSRCs, extension and padding checked). -EINVAL if bad. */
int voice_rtp_parse(const uint8_t *p, size_t n, struct voice_rtp_hdr *ret);
/* Writes a 12-byte RTP header. */
void voice_rtp_write_hdr(uint8_t out[VOICE_RTP_HDR], uint8_t pt, bool marker, uint16_t seq,
			 uint32_t ts, uint32_t ssrc);

enum voice_sdp_dir {
	VOICE_SDP_SENDRECV,
	VOICE_SDP_SENDONLY,
	VOICE_SDP_RECVONLY,
	VOICE_SDP_INACTIVE
};

#define VOICE_SDP_MAX_FMTS 16
#define VOICE_SDP_MAX_MEDIA 8

struct voice_sdp_fmt {
	int pt;
	char name[24]; /* from a=rtpmap, or the static name of pt 0 and 8 */
	uint32_t rate;
};

/* What we need of a session description: the first RTP/AVP audio stream, and the shape of every
   m= line so an answer can decline the others. */
struct voice_sdp {
	char addr[48]; /* connection address of the audio stream */
	uint16_t port; /* its port (0: declined) */
	enum voice_sdp_dir dir;
	struct voice_sdp_fmt fmts[VOICE_SDP_MAX_FMTS];
	size_t nfmts;
	int audio; /* index of the audio stream in media[], -1 if none */
	struct {
		char name[16], proto[24], fmt[8];
	} media[VOICE_SDP_MAX_MEDIA];
	size_t nmedia;
};

/* Parses an SDP body. -EINVAL for malformed text, -E2BIG past the limits above. */
int voice_sdp_parse(const char *s, size_t n, struct voice_sdp *ret);

/* The codec and telephone-event payload types both sides use. */
struct voice_sdp_choice {
	int pt;	   /* 0 PCMU or 8 PCMA */
	int te_pt; /* telephone-event/8000 payload type, -1 if none */
};

/* Picks the first G.711 format in the peer's order. -ENOTSUP if none (answer 488). */
int voice_sdp_negotiate(const struct voice_sdp *peer, struct voice_sdp_choice *ret);

/* Our side of a description. */
struct voice_sdp_local {
	const char *addr;
	uint16_t port;
	uint64_t sess_id, version;
	struct voice_sdp_choice choice; /* answers: the negotiated formats */
	enum voice_sdp_dir dir;		/* offers: the direction (0: sendrecv) */
};

/* Writes an offer (PCMU, PCMA, telephone-event/101) into out; returns its length or -E2BIG. */
int voice_sdp_write_offer(char *out, size_t cap, const struct voice_sdp_local *l);
/* Writes the answer to offer: the chosen formats on the audio line, the direction mirrored,
   every other m= line declined with port 0. Returns the length or -E2BIG. */
int voice_sdp_write_answer(char *out, size_t cap, const struct voice_sdp_local *l,
			   const struct voice_sdp *offer);

/* An absolute periodic schedule on CLOCK_MONOTONIC: tick n is due at start + n * period, so
   lateness never accumulates into drift. */
struct voice_ticker {
	uint64_t start_us, period_us;
	uint64_t n; /* the next tick to run */
};

void voice_ticker_init(struct voice_ticker *t, uint64_t start_us, uint64_t period_us);
uint64_t voice_ticker_due_us(const struct voice_ticker *t); /* due time of tick n */
/* At now_us: how many ticks to run now (0 if early), at most max_run; the first one's index goes
   to *ret_first. Older due ticks beyond max_run are skipped (counted in *ret_skipped), so a
   stalled thread catches up at once instead of bursting. *ret_late_us: how late the oldest due
   tick is. Advances n past every due tick. */
unsigned voice_ticker_advance(struct voice_ticker *t, uint64_t now_us, unsigned max_run,
			      uint64_t *ret_first, uint64_t *ret_late_us, uint64_t *ret_skipped);

/* ---- signalling extras: registrar users, trunks, early media (registrar.c, trunk.c) ---- */

/* Adds or replaces a device user of the registrar: the lowercase hex HA1s
   (H(user:realm:password)), never the password; either may be NULL, not both. realm NULL:
   the engine's realm. -EINVAL on a bad argument. Any thread. */
int voice_engine_add_user(struct voice_engine *e, const char *user, const char *realm,
			  const char *ha1_md5, const char *ha1_sha256);
/* Removes a user (its bindings stay until they expire). -ENOENT if unknown. */
int voice_engine_remove_user(struct voice_engine *e, const char *user, const char *realm);
/* The newest live contact a user registered, into out; -ENOENT if none. Any thread. */
int voice_engine_device_contact(struct voice_engine *e, const char *user, char *out, size_t cap);

/* Answers an inbound call with 183 and our SDP so media flows before the 200 (early media);
   voice_call_answer still sends the 200 later. */
int voice_call_progress(struct voice_engine *e, uint64_t call);
/* Re-INVITE: hold (sendonly offer) or resume (sendrecv), the SDP side of a hold (the
   media side, music on hold, is voice_call_hold). */
int voice_call_sdp_hold(struct voice_engine *e, uint64_t call, bool hold);

/* A carrier trunk: outbound REGISTER (refreshed by libre's sipreg) and OPTIONS health pings. */
struct voice_trunk {
	const char *uri;	     /* sip:host[:port][;transport=tcp] */
	const char *user, *password; /* digest credentials for REGISTER */
	unsigned register_expires;   /* 0: no REGISTER; else Expires asked for */
	unsigned ping_ms;	     /* 0: no pings; else OPTIONS every ping_ms */
	unsigned down_after;	     /* unanswered pings before DOWN (0: 2) */
};

/* Starts a trunk; events VOICE_EV_TRUNK_* carry *ret_id in their call field. */
int voice_trunk_add(struct voice_engine *e, const struct voice_trunk *t, uint64_t *ret_id);
/* Stops it (un-REGISTERs). */
int voice_trunk_remove(struct voice_engine *e, uint64_t id);

/* ---- signalling primitives (pure: edge.c, digest.c) ---- */

/* True if ua (n bytes) contains, ignoring case, one of the '|'-separated items of list. */
bool voice_ua_listed(const char *list, const char *ua, size_t n);

/* Counts events per key in fixed windows; a key over limit is banned for ban_us. Keys up to
   15 bytes are kept as they are, longer ones by a SHA-256 prefix. */
struct voice_limiter;

enum { VOICE_LIMIT_OK, VOICE_LIMIT_TRIPPED, VOICE_LIMIT_BANNED };

int voice_limiter_alloc(unsigned limit, uint64_t window_us, uint64_t ban_us, size_t cap,
			struct voice_limiter **ret);
void voice_limiter_free(struct voice_limiter *l); /* NULL-safe */
/* Counts one event for key (count false: only looks). VOICE_LIMIT_TRIPPED: this event went
   over the limit and the key is banned from now; VOICE_LIMIT_BANNED: it already was;
   -ENOSPC: the table is full of live keys (the event is not counted). */
int voice_limiter_hit(struct voice_limiter *l, const void *key, size_t n, bool count,
		      uint64_t now_us);
size_t voice_limiter_size(const struct voice_limiter *l); /* keys tracked */

enum voice_digest_alg { VOICE_DIGEST_MD5, VOICE_DIGEST_SHA256 };

/* An Authorization (or Proxy-Authorization) header value, Digest scheme (RFC 3261, 8760). */
struct voice_digest {
	char username[64], realm[64], nonce[96], uri[256], response[72];
	char cnonce[96], nc[12], qop[12], opaque[72];
	enum voice_digest_alg alg;
};

/* Parses a Digest credentials value. -EINVAL if malformed or a required field is missing,
   -E2BIG if a field is too long, -ENOTSUP for another scheme, algorithm or qop. */
int voice_digest_parse(const char *s, size_t n, struct voice_digest *ret);
/* HA1 = H(user:realm:password) in lowercase hex (32 or 64 characters). */
int voice_digest_ha1(enum voice_digest_alg alg, const char *user, const char *realm,
		     const char *password, char out[65]);
/* The response d should carry for method, given HA1 (hex). */
int voice_digest_expected(const struct voice_digest *d, const char *ha1, const char *method,
			  char out[65]);
/* A stateless nonce: issue time, randomness and an HMAC-SHA256 tag under key (64 hex). */
void voice_nonce_make(const uint8_t key[32], const char *realm, uint64_t now_s, char out[65]);
/* 0 if nonce is ours and younger than ttl_s; -ETIMEDOUT if ours but older (stale); -EINVAL
   if not ours. */
int voice_nonce_check(const uint8_t key[32], const char *realm, const char *nonce, uint64_t now_s,
		      unsigned ttl_s);
/* RTCP (RFC 3550): the report block about one of our streams, from an SR or RR. */
struct voice_rtcp_block {
	uint32_t sender_ssrc;	  /* who reports */
	uint32_t ssrc;		  /* about whom */
	uint8_t fraction_lost;	  /* lost / 256 since the previous report */
	int32_t cum_lost;	  /* 24-bit signed */
	uint32_t ext_seq, jitter; /* jitter in timestamp units */
	uint32_t lsr, dlsr;
};

/* Walks a compound RTCP packet; returns how many report blocks about ssrc (any if ssrc is 0)
   were stored in out (at most max), or -EINVAL if the packet is malformed. */
int voice_rtcp_parse(const uint8_t *p, size_t n, uint32_t ssrc, struct voice_rtcp_block *out,
		     size_t max);
/* Writes a compound RTCP packet: RR from ssrc with block b (none if NULL), then SDES CNAME.
   Returns its length, or -E2BIG if cap is too small. */
int voice_rtcp_write_rr(uint8_t *out, size_t cap, uint32_t ssrc, const struct voice_rtcp_block *b,
			const char *cname);
/* Simplified E-model (G.107) for G.711 without PLC: loss in percent, one-way delay in ms;
   1.0 (bad) to 4.41 (perfect). */
double voice_mos_estimate(double loss_pct, double delay_ms);

#endif
