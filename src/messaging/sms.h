/* sms.h: SMS text handling (private to src/messaging): choosing GSM-7 (with its extension
   table) or UCS-2, counting segments, splitting with a concatenation UDH, decoding what
   arrives and reassembling concatenated parts; and the HTTP provider adapters
   (Twilio-compatible and Telnyx-style JSON). */
#ifndef IRISX_MESSAGING_SMS_H
#define IRISX_MESSAGING_SMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"

#define SMS_BODY_MAX 1600   /* characters accepted in a body */
#define SMS_SEGMENTS_MAX 11 /* a 1,600-character GSM-7 body is 11 parts of 153 */

enum sms_coding { SMS_GSM7 = 0, SMS_UCS2 = 8 }; /* the values are SMPP data_coding */

/* How a body will be sent. */
struct sms_plan {
	enum sms_coding coding;
	int units;    /* GSM-7 septets (extension characters count 2) or UTF-16 code units */
	int segments; /* 1 if units fit 160 (GSM-7) / 70 (UCS-2); else parts of 153|67 filled
			 in order: ceil(units / 153|67), or one more when an escape or a
			 surrogate pair at a boundary moves to the next part (never split) */
	int chars;    /* Unicode code points */
};
/* -EINVAL if utf8 is not valid UTF-8 (or contains NUL), -E2BIG past SMS_BODY_MAX chars
   or SMS_SEGMENTS_MAX segments. */
int sms_plan(const char *utf8, size_t len, struct sms_plan *ret);

/* One part as it goes on the wire: short_message bytes (UDH first when udhi). GSM-7 is
   one septet per byte (unpacked, SMPP's data_coding 0); a GSM escape and its character
   are never split across parts, nor a UTF-16 surrogate pair. */
struct sms_segment {
	uint8_t data[160];
	size_t len;
	bool udhi;
};
/* Splits utf8 by plan; ref is the concatenation reference (8-bit). *ret has plan.segments
   entries (malloc'd). plan.coding may force UCS-2 on a GSM-7 text, not the reverse
   (-EINVAL). */
int sms_split(const char *utf8, size_t len, const struct sms_plan *plan, uint8_t ref,
	      struct sms_segment **ret, size_t *ret_n);

/* A received part, decoded to UTF-8. */
struct sms_part {
	char *text; /* malloc'd UTF-8 */
	bool concatenated;
	uint16_t ref;
	uint8_t total, seq; /* 1-based seq */
};
/* Decodes short_message (data_coding 0 GSM-7 unpacked, 1 IA5/ASCII, 3 Latin-1, 8 UCS-2; others
   -ENOTSUP) with an optional UDH (8- or 16-bit concatenation IEs; other IEs skipped).
   -EINVAL on a malformed UDH (or a concatenation IE with seq 0 or past total), -E2BIG past
   64 KB. What cannot be shown (lone surrogates, NUL, bytes past 0x7f in GSM-7) becomes
   U+FFFD. */
int sms_decode(uint8_t data_coding, bool udhi, const uint8_t *p, size_t n, struct sms_part *ret);
void sms_part_free(struct sms_part *p);

/* Reassembles concatenated parts keyed by (from, to, ref); parts time out after ttl. */
struct sms_reasm;
struct sms_reasm *sms_reasm_new(uint64_t ttl_us, size_t max_pending);
/* Takes part (its text is moved, whatever the result). Returns 1 with *ret_text (malloc'd)
   when the message is complete (at once if not concatenated), 0 while parts are missing,
   -E2BIG if too many messages are pending, -EINVAL for a seq of 0 or past total. A
   duplicate part is ignored; a part whose total differs is another message. */
int sms_reasm_add(struct sms_reasm *r, const char *from, const char *to, struct sms_part *part,
		  uint64_t now_us, char **ret_text);
void sms_reasm_free(struct sms_reasm *r);

/* ---- HTTP providers (blocking: call from worker threads) ---- */
enum sms_http_kind { SMS_HTTP_TWILIO, SMS_HTTP_TELNYX };
struct sms_http_provider {
	enum sms_http_kind kind;
	const char *base_url;	     /* e.g. https://api.twilio.com or http://127.0.0.1:port */
	const char *account, *token; /* Twilio: AccountSid + auth token; Telnyx: API key */
	const char *status_callback; /* where the provider posts receipts (may be NULL) */
	int timeout_ms;
	bool allow_private; /* SSRF rule for base_url (operator setting) */
};
struct sms_http_result {
	int http_status;      /* 0: no answer */
	bool retryable;	      /* 429, 5xx, timeouts: try again or fail over */
	char provider_id[96]; /* the provider's message id on success */
	char error[160];      /* the provider's code and message otherwise */
};
/* Sends one message (the provider does its own splitting). 0 on acceptance, else -EIO with
   the reason in *ret; -EINVAL (reason in *ret, nothing sent) for a missing or malformed
   setting or argument, or a base_url webhooks_check_url refuses. */
int sms_http_send(const struct sms_http_provider *p, const char *from, const char *to,
		  const char *body, struct sms_http_result *ret);
/* Parses a provider's webhook (Twilio: form-encoded MessageSid/MessageStatus/From/To/Body;
   Telnyx: JSON {data:{event_type, payload}}) into {kind: "receipt"|"inbound",
   provider_id, status, provider_status, error_code, from, to, body}: every key present,
   null when absent; status is ours (queued, sending, sent, delivered, undelivered, failed,
   received) or null for a provider status we do not know. content_type may be NULL.
   -EINVAL if not understood, -E2BIG past 64 KB. */
int sms_http_parse_webhook(enum sms_http_kind kind, const char *content_type, const char *body,
			   size_t len, json_t **ret);

#endif
