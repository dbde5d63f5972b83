/* doc_stub.c: TEMPORARY stand-in for calls/doc.c (another helper's) so the API links and
   its tests run: parses with libxml2 (no DTD or entities, <Response> root) or jansson, and
   compiles the IVR form to a minimal menu. The integrator drops this file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

#include "doc.h"

static int fail(struct cdoc_error *err, int line, const char *msg)
{
	if (err) {
		snprintf(err->message, sizeof(err->message), "%s", msg);
		err->line = line;
	}
	return -EINVAL;
}

int cdoc_parse_xml(const char *s, size_t n, struct cdoc **ret, struct cdoc_error *err)
{
	if (memmem(s, n, "<!DOCTYPE", 9) || memmem(s, n, "<!ENTITY", 8))
		return fail(err, 0, "DTDs and entities are not allowed");
	xmlDocPtr d = xmlReadMemory(s, (int)n, NULL, NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!d) {
		const xmlError *e = xmlGetLastError();
		return fail(err, e ? e->line : 0, "malformed XML");
	}
	xmlNodePtr root = xmlDocGetRootElement(d);
	bool ok = root && !strcmp((const char *)root->name, "Response");
	xmlFreeDoc(d);
	if (!ok)
		return fail(err, 1, "the root element must be <Response>");
	*ret = calloc(1, sizeof(**ret));
	return 0;
}

int cdoc_parse_json(const char *s, size_t n, struct cdoc **ret, struct cdoc_error *err)
{
	json_t *j = json_loadb(s, n, 0, NULL);
	json_t *v = json_is_object(j) ? json_object_get(j, "verbs") : j;
	bool ok = json_is_array(v);
	json_decref(j);
	if (!ok)
		return fail(err, 0, "JSON documents are an array of verbs or {\"verbs\": [...]}");
	*ret = calloc(1, sizeof(**ret));
	return 0;
}

int cdoc_parse(const char *s, size_t n, const char *ctype, struct cdoc **ret,
	       struct cdoc_error *err)
{
	size_t i = 0;
	while (i < n && strchr(" \t\r\n", s[i]))
		i++;
	if (i < n && (s[i] == '[' || s[i] == '{'))
		return cdoc_parse_json(s, n, ret, err);
	return cdoc_parse_xml(s, n, ret, err);
}

void cdoc_free(struct cdoc *d)
{
	free(d);
}

int cdoc_ivr_check(const json_t *form, struct cdoc_error *err)
{
	if (!json_is_string(json_object_get(form, "prompt")))
		return fail(err, 0, "prompt is required");
	if (!json_is_object(json_object_get(form, "options")))
		return fail(err, 0, "options is required");
	return 0;
}

int cdoc_ivr_compile(const json_t *form, const char *app_id, const char *digits, char **ret,
		     struct cdoc_error *err)
{
	const char *prompt = json_string_value(json_object_get(form, "prompt"));
	size_t n = strlen(prompt) + strlen(app_id) + 200;
	*ret = malloc(n);
	snprintf(*ret, n,
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather numDigits=\"1\" "
		 "action=\"irisx:applications/%s\"><Say>%s</Say></Gather></Response>",
		 app_id, prompt);
	return 0;
}
