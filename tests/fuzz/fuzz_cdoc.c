/* fuzz_cdoc.c: libFuzzer target for call-control documents (a tenant's webhook answer is
   outside input): TwiML or JSON by the first byte, the IVR form (every compiled branch must
   parse as TwiML), and RFC 3986 resolution of "base\nref" inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlerror.h>

#include "calls/doc.h"
#include "core/core.h"

static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Every compiled branch is a document our own parser accepts. */
static void ivr(const char *s, size_t n)
{
	json_t *form = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
	if (!form)
		return;
	static const char *const digits[] = {NULL, "", "1", "2", "#", "*", "9", "12"};
	for (size_t i = 0; i < sizeof(digits) / sizeof(digits[0]); i++) {
		char *xml = NULL;
		struct cdoc_error e;
		if (cdoc_ivr_compile(form, "ap_fuzz", digits[i], &xml, &e) < 0)
			break;
		struct cdoc *d = NULL;
		if (cdoc_parse_xml(xml, strlen(xml), &d, &e) < 0)
			abort(); /* the IVR compiler wrote TwiML we refuse */
		cdoc_free(d);
		mem_free(xml);
	}
	json_decref(form);
}

static void resolve(const char *base, const char *ref)
{
	char out[512];
	if (cdoc_url_resolve(base, ref, out, sizeof(out)) == 0 && strlen(out) >= sizeof(out))
		abort();
	char tiny[8];
	(void)cdoc_url_resolve(base, ref, tiny, sizeof(tiny));
}

/* The URLs of a parsed document, resolved the way the interpreter will. */
static void resolve_doc(const struct cdoc *d)
{
	for (size_t i = 0; i < d->nverbs; i++) {
		const struct cdoc_verb *v = &d->verbs[i];
		if (v->action)
			resolve("https://h.example/ivr/a.xml?x=1", v->action);
		if (v->text && (v->kind == CDOC_PLAY || v->kind == CDOC_REDIRECT))
			resolve("https://h.example/ivr/a.xml?x=1", v->text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once) {
		xmlSetGenericErrorFunc(NULL, quiet);
		once = 1;
	}
	const char *s = (const char *)data;
	struct cdoc *d = NULL;
	struct cdoc_error e;
	if (size && (s[0] == '[' || s[0] == '{')) {
		if (cdoc_parse_json(s, size, &d, &e) == 0) {
			resolve_doc(d);
			cdoc_free(d);
		}
		ivr(s, size);
	} else if (size && s[0] == '<') {
		if (cdoc_parse_xml(s, size, &d, &e) == 0) {
			resolve_doc(d);
			cdoc_free(d);
		}
	} else {
		/* "base\nref": both NUL-terminated copies */
		char *buf = mem_strndup(s, size);
		char *nl = memchr(buf, '\n', size);
		if (nl) {
			*nl = '\0';
			resolve(buf, nl + 1);
		}
		mem_free(buf);
	}
	return 0;
}
