/* email.h: e-mail (private to src/messaging): MIME building (multipart/alternative for
   text + html, multipart/mixed for attachments, RFC 2047 encoded UTF-8 headers, base64 and
   quoted-printable bodies, 998-octet line limits), template rendering with HTML escaping,
   and SMTP submission through libcurl (blocking: call from worker threads). */
#ifndef IRISX_MESSAGING_EMAIL_H
#define IRISX_MESSAGING_EMAIL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/core.h"

#define EMAIL_RCPT_MAX 50	    /* to + cc + bcc */
#define EMAIL_ATTACH_MAX (10 << 20) /* decoded bytes, all attachments together */
#define EMAIL_SUBJECT_MAX 998

struct email_attachment {
	const char *filename, *content_type;
	const unsigned char *data;
	size_t len;
};

struct email_msg {
	const char *from, *reply_to, *subject, *text, *html; /* text and/or html */
	const char *const *to, *const *cc; /* NULL-terminated lists; bcc is never a header */
	const struct email_attachment *attachments;
	size_t nattachments;
	const char *message_id; /* "<...@host>" */
};

/* Builds the whole message (headers + body, CRLF line ends) into out. -EINVAL for a header
   value with CR/LF or an address that does not parse, -E2BIG past the caps. */
int email_mime_build(const struct email_msg *m, uint64_t date_us, struct buf *out);

/* Replaces {{name}} (optional spaces inside the braces) with vars[name] (strings, numbers,
   booleans); html escapes & < > " ' in substituted values. Unknown names become "" and are
   listed in *ret_missing (a JSON array, may be NULL). -EINVAL for an unclosed "{{". */
int email_template_render(const char *tpl, const json_t *vars, bool html, struct buf *out,
			  json_t **ret_missing);

enum smtp_tls { SMTP_TLS_NONE, SMTP_TLS_STARTTLS, SMTP_TLS_IMPLICIT };
struct smtp_config {
	const char *host;
	int port;
	enum smtp_tls tls;
	const char *username, *password; /* NULL: no AUTH */
	int timeout_ms;
	bool verify_peer; /* TLS certificate check (default true; tests with self-signed off) */
};
struct smtp_result {
	int code;	/* the server's final reply code (250, 451, 550...), 0 if none */
	bool permanent; /* 5xx: do not retry */
	char text[256]; /* the server's text or the transport error */
};
/* Sends mime (as built above) from envelope_from to every rcpt. 0 if the server accepted
   it (2xx after DATA); else -EIO with *ret saying why (4xx and transport errors are
   temporary). */
int smtp_send(const struct smtp_config *c, const char *envelope_from, const char *const *rcpts,
	      size_t nrcpts, const char *mime, size_t mime_len, struct smtp_result *ret);

#endif
