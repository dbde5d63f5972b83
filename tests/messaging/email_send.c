/* email_send: builds a message from a JSON description on stdin (email_mime_build) and
   sends it (smtp_send), printing the smtp_result as JSON; --mime prints the message only,
   --count N --threads T sends it N times over T threads and prints the rate. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging/email.h"

struct job {
	json_t *in;
	const char **to, **cc, **rcpts;
	size_t nrcpts;
	struct email_attachment *att;
	size_t natt;
	char envelope_from[256];
	struct smtp_config smtp;
	long count, sent, failed;
	struct smtp_result first_err;
	bool have_err;
	pthread_mutex_t mu;
};

/* NULL-terminated list of the strings in arr (borrowed from the JSON). */
static const char **str_list(const json_t *arr)
{
	size_t n = json_array_size(arr), i;
	const char **l = mem_zalloc((n + 1) * sizeof(*l));
	json_t *v;
	json_array_foreach (arr, i, v)
		l[i] = json_string_value(v);
	return l;
}

/* "Name <a@b>" -> "a@b" */
static void bare_addr(const char *s, char *out, size_t n)
{
	const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		snprintf(out, n, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, n, "%s", s);
}

static void add_rcpts(struct job *j, const json_t *arr)
{
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		char a[256];
		bare_addr(json_string_value(v), a, sizeof(a));
		j->rcpts = mem_realloc(j->rcpts, (j->nrcpts + 1) * sizeof(*j->rcpts));
		j->rcpts[j->nrcpts++] = mem_strdup(a);
	}
}

static int build(struct job *j, struct buf *out)
{
	json_t *in = j->in;
	struct email_msg m = {
	    .from = json_str(in, "from"),
	    .reply_to = json_str(in, "reply_to"),
	    .subject = json_str(in, "subject"),
	    .text = json_str(in, "text"),
	    .html = json_str(in, "html"),
	    .to = j->to,
	    .cc = j->cc,
	    .attachments = j->att,
	    .nattachments = j->natt,
	    .message_id = json_str(in, "message_id"),
	};
	return email_mime_build(&m, (uint64_t)json_int(in, "date_us", 0), out);
}

static void *sender(void *arg)
{
	struct job *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->mu);
		bool more = j->count > 0;
		j->count--;
		pthread_mutex_unlock(&j->mu);
		if (!more)
			break;
		struct buf mime;
		buf_init(&mime, 0);
		struct smtp_result res;
		int r = build(j, &mime);
		if (r == 0)
			r = smtp_send(&j->smtp, j->envelope_from, j->rcpts, j->nrcpts, mime.p,
				      mime.len, &res);
		buf_free(&mime);
		pthread_mutex_lock(&j->mu);
		if (r == 0) {
			j->sent++;
		} else {
			j->failed++;
			if (!j->have_err)
				j->first_err = res, j->have_err = true;
		}
		pthread_mutex_unlock(&j->mu);
	}
	return NULL;
}

static void load(struct job *j)
{
	json_t *in = j->in, *s = json_object_get(in, "smtp");
	j->to = str_list(json_object_get(in, "to"));
	j->cc = str_list(json_object_get(in, "cc"));
	j->natt = json_array_size(json_object_get(in, "attachments"));
	j->att = mem_zalloc((j->natt + 1) * sizeof(*j->att));
	for (size_t i = 0; i < j->natt; i++) {
		json_t *a = json_array_get(json_object_get(in, "attachments"), i);
		const char *d = json_str(a, "data_b64");
		unsigned char *data = NULL;
		size_t len = 0;
		if (d && b64_decode(d, strlen(d), &data, &len) < 0) {
			fprintf(stderr, "email_send: bad data_b64\n");
			exit(2);
		}
		j->att[i] = (struct email_attachment){json_str(a, "filename"),
						      json_str(a, "content_type"), data, len};
	}
	const char *tls = json_str(s, "tls");
	j->smtp = (struct smtp_config){
	    .host = json_str(s, "host") ? json_str(s, "host") : "127.0.0.1",
	    .port = (int)json_int(s, "port", 25),
	    .tls = tls && !strcmp(tls, "starttls")   ? SMTP_TLS_STARTTLS
		   : tls && !strcmp(tls, "implicit") ? SMTP_TLS_IMPLICIT
						     : SMTP_TLS_NONE,
	    .username = json_str(s, "username"),
	    .password = json_str(s, "password"),
	    .timeout_ms = (int)json_int(s, "timeout_ms", 10000),
	    .verify_peer = json_is_true(json_object_get(s, "verify_peer")),
	};
	if (json_str(in, "envelope_from"))
		snprintf(j->envelope_from, sizeof(j->envelope_from), "%s",
			 json_str(in, "envelope_from"));
	else if (json_str(in, "from"))
		bare_addr(json_str(in, "from"), j->envelope_from, sizeof(j->envelope_from));
	if (json_object_get(in, "rcpts")) {
		add_rcpts(j, json_object_get(in, "rcpts"));
	} else {
		add_rcpts(j, json_object_get(in, "to"));
		add_rcpts(j, json_object_get(in, "cc"));
		add_rcpts(j, json_object_get(in, "bcc"));
	}
}

static void print_result(int r, const struct smtp_result *res, size_t mime_len)
{
	json_t *o =
	    json_pack("{s:i, s:i, s:b, s:s, s:I}", "rc", r, "code", res->code, "permanent",
		      res->permanent, "text", res->text, "mime_bytes", (json_int_t)mime_len);
	char *s = json_dumps(o, JSON_COMPACT);
	puts(s);
	free(s);
	json_decref(o);
}

int main(int argc, char **argv)
{
	bool mime_only = false;
	long count = 0, threads = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mime"))
			mime_only = true;
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = atol(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atol(argv[++i]);
		else {
			fprintf(stderr,
				"usage: email_send [--mime] [--count N --threads T] < msg.json\n");
			return 2;
		}
	}
	json_error_t jerr;
	struct job j = {.mu = PTHREAD_MUTEX_INITIALIZER};
	j.in = json_loadf(stdin, 0, &jerr);
	if (!json_is_object(j.in)) {
		fprintf(stderr, "email_send: stdin: %s\n", jerr.text);
		return 2;
	}
	load(&j);
	int rc = 0;
	if (count > 0) {
		j.count = count;
		pthread_t t[64];
		threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
		uint64_t t0 = time_mono_us();
		for (long i = 0; i < threads; i++)
			pthread_create(&t[i], NULL, sender, &j);
		for (long i = 0; i < threads; i++)
			pthread_join(t[i], NULL);
		double s = (double)(time_mono_us() - t0) / 1e6;
		printf("{\"sent\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"per_s\":%.1f,\"first_"
		       "error\":\"%s\"}\n",
		       j.sent, j.failed, s, (double)j.sent / s, j.have_err ? j.first_err.text : "");
		rc = j.failed ? 1 : 0;
	} else {
		struct buf mime;
		buf_init(&mime, 0);
		int r = build(&j, &mime);
		if (r < 0) {
			printf("{\"build\":%d}\n", r);
			rc = 2;
		} else if (mime_only) {
			fwrite(mime.p, 1, mime.len, stdout);
		} else {
			struct smtp_result res;
			r = smtp_send(&j.smtp, j.envelope_from, j.rcpts, j.nrcpts, mime.p, mime.len,
				      &res);
			print_result(r, &res, mime.len);
			rc = r == 0 ? 0 : 1;
		}
		buf_free(&mime);
	}
	for (size_t i = 0; i < j.natt; i++)
		free((void *)j.att[i].data);
	for (size_t i = 0; i < j.nrcpts; i++)
		mem_free((void *)j.rcpts[i]);
	mem_free(j.rcpts);
	mem_free(j.att);
	mem_free(j.to);
	mem_free(j.cc);
	json_decref(j.in);
	return rc;
}
