/* doc.h (private to src/calls): call-control documents. TwiML-compatible XML (libxml2,
   no DTD, no entities, no network, size and depth caps) and the same verbs as JSON, both
   parsed into one verb list the interpreter runs; the IVR-menu form compiled to TwiML.
   Pure functions: no I/O, no globals; safe from any thread (docs/calls.md). */
#ifndef IRISX_CALLS_DOC_H
#define IRISX_CALLS_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CDOC_MAX_BYTES (64 * 1024) /* longer documents: -E2BIG */
#define CDOC_MAX_DEPTH 8	   /* element nesting */
#define CDOC_MAX_VERBS 64	   /* per document (nested Gather children count too) */
#define CDOC_MAX_NOUNS 10	   /* per Dial */
#define CDOC_MAX_TEXT 4096	   /* Say text and URLs longer than this: -E2BIG */

enum cdoc_kind {
	CDOC_SAY,
	CDOC_PLAY,
	CDOC_PAUSE,
	CDOC_GATHER,
	CDOC_RECORD,
	CDOC_DIAL,
	CDOC_HANGUP,
	CDOC_REDIRECT,
	CDOC_REJECT,
};

enum cdoc_noun_kind { CDOC_NUMBER, CDOC_SIP, CDOC_CLIENT };

/* Dial's record attribute */
enum cdoc_dial_record {
	CDOC_REC_NONE,	       /* do-not-record */
	CDOC_REC_FROM_ANSWER,  /* record-from-answer (and -dual) */
	CDOC_REC_FROM_RINGING, /* record-from-ringing (and -dual) */
};

/* status callback events of a noun (Number/Sip/Client statusCallbackEvent) */
enum {
	CDOC_EV_INITIATED = 1,
	CDOC_EV_RINGING = 2,
	CDOC_EV_ANSWERED = 4,
	CDOC_EV_COMPLETED = 8,
};

struct cdoc_noun {
	enum cdoc_noun_kind kind;
	char *target;	    /* E.164 number, sip: URI, or client identity */
	char *send_digits;  /* Number sendDigits (NULL if none) */
	char *url, *method; /* whisper document run on the callee before bridging */
	char *status_callback, *status_callback_method;
	unsigned status_events;	   /* CDOC_EV_* bits; 0 when absent (= completed only) */
	char *username, *password; /* Sip */
};

/* One verb. Strings are NULL when the attribute is absent (the interpreter applies the
   documented defaults listed beside each field); numbers are already defaulted. */
struct cdoc_verb {
	enum cdoc_kind kind;
	/* Say: text (the text content; SSML child tags are dropped, their text kept), voice,
	   language. Play: text is the URL (may be empty when only digits are given).
	   Redirect: text is the URL. Reject: text is the reason ("rejected" | "busy"). */
	char *text;
	char *voice, *language;
	unsigned loop;	   /* Say/Play: default 1; 0 = forever */
	char *digits;	   /* Play digits: 0-9 * # A-D w (w = 0.5 s pause) */
	unsigned length_s; /* Pause length (default 1) */

	/* Gather / Record / Dial */
	char *action, *method;	       /* method default POST (NULL here means absent) */
	unsigned timeout_s;	       /* Gather 5, Record 5 (silence), Dial 30 */
	char finish_on_key[16];	       /* Gather "#" by default ("" when set empty); Record
					  "1234567890*#" by default */
	unsigned num_digits;	       /* Gather: 0 = unlimited */
	bool action_on_empty;	       /* Gather actionOnEmptyResult */
	bool input_dtmf, input_speech; /* Gather input (default dtmf only) */
	char *hints;		       /* Gather hints */
	char *speech_timeout;	       /* Gather speechTimeout ("auto" or seconds) */
	bool barge_in;		       /* Gather bargeIn (default true) */
	struct cdoc_verb *children;    /* Gather: Say, Play, Pause only */
	size_t nchildren;

	unsigned max_length_s; /* Record maxLength (default 3600) */
	bool play_beep;	       /* Record playBeep (default true) */
	bool trim;	       /* Record trim="trim-silence" (default); Dial trim */
	char *recording_status_callback, *recording_status_callback_method;

	/* Dial */
	char *caller_id;
	unsigned time_limit_s; /* default 14400 */
	enum cdoc_dial_record record;
	bool answer_on_bridge, sequential, hangup_on_star;
	struct cdoc_noun *nouns; /* a bare <Dial>+1555</Dial> is one CDOC_NUMBER noun */
	size_t nnouns;
};

struct cdoc {
	struct cdoc_verb *verbs;
	size_t nverbs;
};

/* Where and why parsing failed, for call.error events and the API. */
struct cdoc_error {
	char message[160]; /* e.g. "Gather: numDigits must be 1-32" */
	int line;	   /* XML line, 0 if unknown */
};

/* Parses TwiML XML (<Response> root). -EINVAL (malformed, DTD or entity, unknown verb or
   attribute value out of range, nesting not allowed), -E2BIG (caps), with *err filled. */
int cdoc_parse_xml(const char *s, size_t n, struct cdoc **ret, struct cdoc_error *err);
/* Parses the JSON form: an array of verb objects, or {"verbs": [...]} (docs/calls.md). */
int cdoc_parse_json(const char *s, size_t n, struct cdoc **ret, struct cdoc_error *err);
/* XML or JSON by content type ("application/json" / "+json" is JSON, anything else XML),
   falling back to the first non-space byte ('<' XML, '[' or '{' JSON) when ctype is
   NULL or not specific (text/plain, application/octet-stream). */
int cdoc_parse(const char *s, size_t n, const char *ctype, struct cdoc **ret,
	       struct cdoc_error *err);
void cdoc_free(struct cdoc *d); /* NULL-safe */

/* Resolves ref against base (RFC 3986 section 5.2): absolute refs are returned as they
   are (but for their dot segments, removed as 5.2.2 says), relative ones ("next",
   "/ivr/next", "?x=1", "//host/p") are joined to base. -E2BIG if out is too small, -EINVAL
   if base is not absolute. */
int cdoc_url_resolve(const char *base, const char *ref, char *out, size_t cap);

/* The IVR-menu form (docs/calls.md):
   {"prompt": "For sales press 1", "voice": "...", "language": "en", "timeout": 5,
    "options": {"1": ACTION, ...}, "no_input": ACTION, "invalid": ACTION}
   where ACTION is one of {"say": text} (then the menu again), {"dial": number or sip URI,
   "caller_id"?}, {"redirect": url}, {"application_id": id}, {"hangup": true}, optionally
   with "say" before the action. cdoc_ivr_check validates it (-EINVAL with err filled).
   cdoc_ivr_compile writes the TwiML of the menu (digits NULL) or of the branch for the
   pressed digits (digits "" = no input; an unknown key = the invalid branch, or the menu
   again) into *ret (malloc'd). The menu's Gather action is "irisx:applications/<app_id>"
   (the interpreter resolves irisx: URLs itself, without HTTP). */
int cdoc_ivr_check(const json_t *form, struct cdoc_error *err);
int cdoc_ivr_compile(const json_t *form, const char *app_id, const char *digits, char **ret,
		     struct cdoc_error *err);

#endif
