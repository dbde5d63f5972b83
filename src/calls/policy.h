/* policy.h (private to src/calls): least-cost routing, guardrails and billing rules.
   Pure functions and one thread-safe pacer; no I/O (docs/calls.md "Routing"). */
#ifndef IRISX_CALLS_POLICY_H
#define IRISX_CALLS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The ISO 3166 alpha-2 country of an E.164 number ("+" optional) by the longest matching
   calling code ("+1" NANP: "US" unless a known non-US area code: CA, PR, JM, ...);
   -ENOENT if no calling code matches. */
int policy_country(const char *e164, char cc[3]);
/* True if cc (alpha-2, any case) is a country policy_country can answer. */
bool policy_country_known(const char *cc);
/* True for known high-risk premium / international revenue share ranges (e.g. +1900,
   +44 9, +881/+882/+883, satellite +870, known IRSF codes). */
bool policy_premium(const char *e164);

/* A refusal shown to the tenant (API error or the call's failure). */
struct policy_refusal {
	const char *code, *message; /* static strings */
};
/* Destination check: allowed (comma list of alpha-2 codes, "*" for any; NULL or "" means
   home only), home (alpha-2; NULL: "US"). 0 if allowed, else -EPERM with *why
   (code "destination_not_allowed" | "premium_destination" | "invalid_number"). sip: URIs
   and devices are not numbers: the caller does not check them. */
int policy_dest_check(const char *e164, const char *allowed, const char *home,
		      struct policy_refusal *why);

/* Billing: seconds billed for a duration (0 stays 0; else at least min_s, then rounded up
   to incr_s) and their cost at per_min_micros per minute (rounded up to a micro). */
unsigned policy_billed_s(unsigned duration_s, int min_s, int incr_s);
int64_t policy_cost_micros(int64_t per_min_micros, unsigned billed_s);

/* Ranks store_carrier_routes rows for one leg: drops carriers whose health is "down" and
   those listed in skip (ids, may be NULL); priced carriers first by cost_micros, then
   unpriced; ties by priority (lower first), then weighted random order by weight using
   seed. Returns a new array (references to the rows). */
json_t *policy_rank(const json_t *routes, const char *const *skip, size_t nskip, uint64_t seed);

/* What a failed attempt means for the leg. */
enum policy_next {
	POLICY_FAILOVER, /* try the next carrier: 408, 5xx (incl. 503), timeouts, transport */
	POLICY_STOP,	 /* the callee's answer ends the leg: 4xx other than 408, 6xx */
};
enum policy_next policy_failover(int sip_code, bool timeout);
/* Twilio's status for a leg that ended without an answer: "busy" (486, 600), "no-answer"
   (408/480/487 or timeout), "canceled", else "failed". */
const char *policy_fail_status(int sip_code, bool timeout, bool canceled);
/* Q.850 cause of a SIP final code (RFC 3398 table; 16 for 200/BYE). */
int policy_q850(int sip_code);

/* The Request-URI to send a number to a carrier row ({host, port, transport,
   number_format "e164" | "digits", tech_prefix}): sip:<tech_prefix><number>@host:port
   [;transport=tcp|tls]. -E2BIG if out is too small. */
int policy_carrier_uri(const json_t *carrier, const char *e164, char *out, size_t cap);

/* Token pacer keyed by string (tenant ids, carrier ids): rate per second, burst 1.
   policy_pacer_reserve books the next free slot for key and returns how long to wait
   (µs; 0 = now). rate 0 = unlimited (always 0). Thread-safe. */
struct policy_pacer;
struct policy_pacer *policy_pacer_new(void);
void policy_pacer_free(struct policy_pacer *p); /* NULL-safe */
uint64_t policy_pacer_reserve(struct policy_pacer *p, const char *key, unsigned rate,
			      uint64_t now_us);
/* Keys held (idle ones are dropped as new keys arrive); for tests and metrics. */
size_t policy_pacer_size(struct policy_pacer *p);

#endif
