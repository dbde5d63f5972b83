/* fuzz_email_template: tenant e-mail templates (email_template_render) with fuzzed
   variables, and the rendered text fed to email_mime_build as subject and bodies, with the
   invariants that must hold for any input. Input: flags byte, template, NUL, vars JSON. */
#include <stdlib.h>
#include <string.h>

#include "messaging/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const to[] = {"Alice <alice@example.test>", NULL};

/* Every line ends in CRLF, none is over 998, header lines stay at or under 78. */
static void check_mime(const char *p, size_t n)
{
	const char *end = memmem(p, n, "\r\n\r\n", 4);
	size_t col = 0;
	bool head = true;
	if (!end)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (p + i == end)
			head = false;
		if (p[i] == '\r') {
			if (i + 1 == n || p[i + 1] != '\n')
				abort();
			col = 0;
			i++;
			continue;
		}
		if (p[i] == '\n' || ++col > (head ? 78 : 998))
			abort();
	}
}

static void mime(const char *s, size_t len, bool html)
{
	char subject[EMAIL_SUBJECT_MAX + 1];
	size_t sl = len < EMAIL_SUBJECT_MAX ? len : EMAIL_SUBJECT_MAX;
	memcpy(subject, s, sl);
	subject[sl] = '\0';
	struct email_msg m = {.from = "IRISX <noreply@example.test>", .to = to, .subject = subject};
	if (html)
		m.html = s;
	else
		m.text = s;
	struct buf out;
	buf_init(&out, 0);
	int r = email_mime_build(&m, 1, &out);
	if (r == 0)
		check_mime(out.p, out.len);
	else if (r != -EINVAL) /* CR/LF or bad UTF-8 in the subject */
		abort();
	if (r == -EINVAL && !strpbrk(subject, "\r\n") && out.len)
		abort();
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 64 * 1024)
		return 0;
	bool html = data[0] & 1;
	char *in = mem_strndup((const char *)data + 1, size - 1);
	size_t tl = strlen(in);
	json_t *vars = NULL;
	if (tl + 1 < size - 1) /* after the template's NUL: the variables */
		vars = json_loadb((const char *)data + 2 + tl, size - 2 - tl, 0, NULL);
	struct buf out;
	buf_init(&out, 1 << 20);
	json_t *missing = NULL;
	int r = email_template_render(in, vars, html, &out, &missing);
	if (r == 0) {
		if (!json_is_array(missing))
			abort();
		/* every missing name is listed once */
		for (size_t i = 0; i < json_array_size(missing); i++)
			for (size_t j = i + 1; j < json_array_size(missing); j++)
				if (json_equal(json_array_get(missing, i),
					       json_array_get(missing, j)))
					abort();
		/* with no variables the output is the template less its placeholders */
		if (!vars && out.len > tl)
			abort();
		mime(out.p ? out.p : "", out.len, html);
	} else if (r != -EINVAL && r != -E2BIG) {
		abort();
	} else if (missing) {
		abort();
	}
	json_decref(missing);
	buf_free(&out);
	json_decref(vars);
	mem_free(in);
	return 0;
}
