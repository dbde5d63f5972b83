/* doc_ivr.c: the IVR-menu form (a prompt, keys and what each does) checked and compiled to
   TwiML: the menu is one Gather whose action comes back here with the Digits pressed. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "doc_int.h"

#define IVR_URL "irisx:applications/"
#define IVR_MAX_ID 64

/* Text XML 1.0 can carry (jansson strings are valid UTF-8 already): no control character
   but tab and newlines (none at all when !text), no U+FFFE or U+FFFF. */
static bool xml_safe(const char *s, bool text)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && !(text && (*p == '\t' || *p == '\n' || *p == '\r'))) ||
		    *p == 0x7f)
			return false;
		if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
			return false;
	}
	return true;
}

static int check_str(const json_t *j, const char *where, const char *key, bool text,
		     struct cdoc_error *err)
{
	const char *s = json_string_value(j);
	if (!s)
		return cdoc_fail(err, -EINVAL, 0, "ivr: %s%s must be a string", where, key);
	size_t n = strlen(s), i = 0;
	while (i < n && strchr(" \t\r\n", s[i]))
		i++;
	if (i == n)
		return cdoc_fail(err, -EINVAL, 0, "ivr: %s%s must not be empty", where, key);
	if (n > CDOC_MAX_TEXT)
		return cdoc_fail(err, -E2BIG, 0, "ivr: %s%s is longer than %d bytes", where, key,
				 CDOC_MAX_TEXT);
	if (!xml_safe(s, text))
		return cdoc_fail(err, -EINVAL, 0, "ivr: %s%s has a control character", where, key);
	return 0;
}

static bool app_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n && n <= IVR_MAX_ID &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static bool is_sip(const char *s)
{
	return !strncasecmp(s, "sip:", 4) || !strncasecmp(s, "sips:", 5);
}

static int check_action(const json_t *a, const char *where, struct cdoc_error *err)
{
	static const char *const keys[] = {"say",      "dial",	 "caller_id",
					   "redirect", "hangup", "application_id"};
	if (!json_is_object(a))
		return cdoc_fail(err, -EINVAL, 0, "ivr: %s must be an object", where);
	const char *key;
	json_t *val;
	int actions = 0, r = 0;
	json_object_foreach ((json_t *)a, key, val) {
		size_t i = 0;
		while (i < 6 && strcmp(key, keys[i]))
			i++;
		if (i == 6)
			return cdoc_fail(err, -EINVAL, 0, "ivr: %s: unknown field \"%.40s\"", where,
					 key);
		actions += i == 1 || i >= 3;
		if (i == 4 && !json_is_true(val))
			return cdoc_fail(err, -EINVAL, 0, "ivr: %s.hangup must be true", where);
		char w[32];
		snprintf(w, sizeof(w), "%s.", where);
		if (i != 4 && (r = check_str(val, w, key, i == 0, err)) < 0)
			return r;
	}
	const char *dial = json_string_value(json_object_get(a, "dial"));
	const char *app = json_string_value(json_object_get(a, "application_id"));
	if (actions > 1)
		return cdoc_fail(err, -EINVAL, 0,
				 "ivr: %s: one of dial, redirect, application_id, hangup", where);
	if (!actions && !json_object_get(a, "say"))
		return cdoc_fail(err, -EINVAL, 0, "ivr: %s needs say or an action", where);
	if (json_object_get(a, "caller_id") && !dial)
		return cdoc_fail(err, -EINVAL, 0, "ivr: %s.caller_id needs dial", where);
	size_t plus = dial && dial[0] == '+';
	if (dial && !is_sip(dial) &&
	    (strlen(dial) > 32 || strlen(dial) == plus ||
	     strspn(dial + plus, "0123456789") != strlen(dial + plus)))
		return cdoc_fail(err, -EINVAL, 0,
				 "ivr: %s.dial must be a phone number or a sip: URI", where);
	if (json_object_get(a, "application_id") && !app_id_ok(app))
		return cdoc_fail(err, -EINVAL, 0, "ivr: %s.application_id is not an id", where);
	return 0;
}

static int check_options(const json_t *opts, struct cdoc_error *err)
{
	if (!json_is_object(opts) || !json_object_size(opts))
		return cdoc_fail(err, -EINVAL, 0, "ivr: options must be a non-empty object");
	const char *key;
	json_t *val;
	json_object_foreach ((json_t *)opts, key, val) {
		if (strlen(key) != 1 || !strchr("0123456789*#", key[0]))
			return cdoc_fail(err, -EINVAL, 0,
					 "ivr: options keys must be one of 0-9 * # (not \"%.20s\")",
					 key);
		char where[16] = "options.";
		where[8] = key[0];
		int r = check_action(val, where, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cdoc_ivr_check(const json_t *form, struct cdoc_error *err)
{
	static const char *const keys[] = {"prompt",  "voice",	  "language", "timeout",
					   "options", "no_input", "invalid"};
	if (err)
		memset(err, 0, sizeof(*err));
	if (!json_is_object(form))
		return cdoc_fail(err, -EINVAL, 0, "ivr: the form must be an object");
	const char *key;
	json_t *val;
	json_object_foreach ((json_t *)form, key, val) {
		size_t i = 0;
		while (i < 7 && strcmp(key, keys[i]))
			i++;
		if (i == 7)
			return cdoc_fail(err, -EINVAL, 0, "ivr: unknown field \"%.40s\"", key);
	}
	int r = check_str(json_object_get(form, "prompt"), "", "prompt", true, err);
	for (int i = 1; i <= 2 && r == 0; i++)
		if (json_object_get(form, keys[i]))
			r = check_str(json_object_get(form, keys[i]), "", keys[i], false, err);
	if (r < 0)
		return r;
	const json_t *t = json_object_get(form, "timeout");
	if (t && (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 600))
		return cdoc_fail(err, -EINVAL, 0, "ivr: timeout must be 1-600");
	r = check_options(json_object_get(form, "options"), err);
	if (r == 0 && json_object_get(form, "no_input"))
		r = check_action(json_object_get(form, "no_input"), "no_input", err);
	if (r == 0 && json_object_get(form, "invalid"))
		r = check_action(json_object_get(form, "invalid"), "invalid", err);
	return r;
}

/* ---- compiling ---- */

static void esc(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&apos;");
			break;
		case '\t':
			buf_puts(b, "&#9;");
			break;
		case '\n':
			buf_puts(b, "&#10;");
			break;
		case '\r':
			buf_puts(b, "&#13;");
			break;
		default:
			buf_append(b, s, 1);
			break;
		}
	}
}

static void say(struct buf *b, const json_t *form, const char *text)
{
	const char *voice = json_string_value(json_object_get(form, "voice"));
	const char *lang = json_string_value(json_object_get(form, "language"));
	buf_puts(b, "<Say");
	if (voice) {
		buf_puts(b, " voice=\"");
		esc(b, voice);
		buf_puts(b, "\"");
	}
	if (lang) {
		buf_puts(b, " language=\"");
		esc(b, lang);
		buf_puts(b, "\"");
	}
	buf_puts(b, ">");
	esc(b, text);
	buf_puts(b, "</Say>");
}

static void redirect(struct buf *b, const char *url, const char *app_id)
{
	buf_puts(b, "<Redirect method=\"POST\">");
	esc(b, url);
	if (app_id)
		esc(b, app_id);
	buf_puts(b, "</Redirect>");
}

static void menu(struct buf *b, const json_t *form, const char *app_id)
{
	const json_t *t = json_object_get(form, "timeout");
	buf_printf(b,
		   "<Gather input=\"dtmf\" numDigits=\"1\" finishOnKey=\"\" timeout=\"%d\" "
		   "method=\"POST\" action=\"" IVR_URL "%s\">",
		   t ? (int)json_integer_value(t) : 5, app_id);
	say(b, form, json_string_value(json_object_get(form, "prompt")));
	buf_puts(b, "</Gather>");
	/* no key before the timeout: the Gather falls through to the no-input branch */
	buf_printf(b, "<Redirect method=\"POST\">" IVR_URL "%s?Digits=</Redirect>", app_id);
}

static void action(struct buf *b, const json_t *form, const json_t *a, const char *app_id)
{
	const char *text = json_string_value(json_object_get(a, "say"));
	const char *dial = json_string_value(json_object_get(a, "dial"));
	const char *caller = json_string_value(json_object_get(a, "caller_id"));
	const char *url = json_string_value(json_object_get(a, "redirect"));
	const char *app = json_string_value(json_object_get(a, "application_id"));
	if (text)
		say(b, form, text);
	if (dial) {
		const char *noun = is_sip(dial) ? "Sip" : "Number";
		buf_puts(b, "<Dial");
		if (caller) {
			buf_puts(b, " callerId=\"");
			esc(b, caller);
			buf_puts(b, "\"");
		}
		buf_printf(b, "><%s>", noun);
		esc(b, dial);
		buf_printf(b, "</%s></Dial>", noun);
	} else if (url) {
		redirect(b, url, NULL);
	} else if (app) {
		redirect(b, IVR_URL, app);
	} else if (json_is_true(json_object_get(a, "hangup"))) {
		buf_puts(b, "<Hangup/>");
	} else {
		redirect(b, IVR_URL, app_id); /* say only: the menu again */
	}
}

int cdoc_ivr_compile(const json_t *form, const char *app_id, const char *digits, char **ret,
		     struct cdoc_error *err)
{
	int r = cdoc_ivr_check(form, err);
	if (r < 0)
		return r;
	if (!app_id_ok(app_id))
		return cdoc_fail(err, -EINVAL, 0, "ivr: the application id is not an id");
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>");
	const json_t *opt =
	    digits && *digits ? json_object_get(json_object_get(form, "options"), digits) : NULL;
	if (!digits)
		menu(&b, form, app_id);
	else if (!*digits && json_object_get(form, "no_input"))
		action(&b, form, json_object_get(form, "no_input"), app_id);
	else if (!*digits)
		buf_puts(&b, "<Hangup/>"); /* no key and no no_input branch: the call ends */
	else if (opt)
		action(&b, form, opt, app_id);
	else if (json_object_get(form, "invalid"))
		action(&b, form, json_object_get(form, "invalid"), app_id);
	else
		redirect(&b, IVR_URL, app_id); /* an unknown key: the menu again */
	buf_puts(&b, "</Response>\n");
	*ret = buf_detach(&b);
	return 0;
}
