/* log.c: one JSON object per line on stderr, with secrets redacted in one place. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

static bool tokchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == '+' || c == '/' || c == '=';
}

/* Overwrites the token that starts at p (up to the next non-token char) with '*'. */
static char *blank(char *p)
{
	while (*p && tokchar(*p))
		*p++ = '*';
	return p;
}

void log_redact(char *s)
{
	static const char *const marks[] = {"Bearer ", "Basic ", "irx_", "eyJ", "whsec_"};
	for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
		size_t ml = strlen(marks[m]);
		char *p = s;
		while ((p = strcasestr(p, marks[m])) != NULL) {
			/* keep scheme words visible, blank the credential itself */
			p = blank(p[ml - 1] == ' ' ? p + ml : p);
		}
	}
}

bool log_enabled(enum log_level lvl)
{
	return lvl >= min_level;
}

void log_event(enum log_level lvl, const char *msg, json_t *fields)
{
	if (lvl < min_level) {
		json_decref(fields);
		return;
	}
	char ts[TIME_RFC3339_LEN];
	json_t *o = json_object();
	json_object_set_new(o, "ts", json_string(time_fmt(time_now_us(), ts)));
	json_object_set_new(o, "level", json_string(level_names[lvl]));
	json_object_set_new(o, "msg", json_string(msg ? msg : ""));
	if (fields)
		json_object_update(o, fields);
	json_decref(fields);
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!line)
		return;
	log_redact(line);
	flockfile(stderr); /* lines stay whole across threads */
	fputs(line, stderr);
	fputc('\n', stderr);
	funlockfile(stderr);
	free(line);
}
