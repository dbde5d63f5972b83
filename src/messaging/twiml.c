/* twiml.c: the replies in a messaging TwiML answer (<Response><Message>text</Message>...):
   libxml2 without network access, entity substitution or DTDs, capped in size. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#include "internal.h"

#define TWIML_MAX (64 * 1024)
#define REPLIES_MAX 10

static bool named(xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

int messaging_twiml_replies(const char *xml, size_t len, json_t **ret)
{
	if (len == 0) {
		*ret = json_array(); /* an empty answer: no reply */
		return 0;
	}
	if (len > TWIML_MAX)
		return -E2BIG;
	xmlDoc *doc = xmlReadMemory(xml, (int)len, NULL, "UTF-8",
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EINVAL;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (doc->intSubset || doc->extSubset || !root || !named(root, "Response")) {
		xmlFreeDoc(doc); /* a DTD (entities) or not TwiML: refused */
		return -EINVAL;
	}
	json_t *out = json_array();
	for (xmlNode *n = root->children; n; n = n->next) {
		if (!named(n, "Message") || json_array_size(out) >= REPLIES_MAX)
			continue;
		/* the text is the element's own text, or that of a <Body> child */
		xmlNode *body = NULL;
		for (xmlNode *c = n->children; c; c = c->next)
			if (named(c, "Body"))
				body = c;
		xmlChar *text = xmlNodeGetContent(body ? body : n);
		xmlChar *to = xmlGetProp(n, (const xmlChar *)"to");
		xmlChar *from = xmlGetProp(n, (const xmlChar *)"from");
		json_t *m = json_pack("{s:s}", "body", text ? (const char *)text : "");
		if (to)
			json_object_set_new(m, "to", json_string((const char *)to));
		if (from)
			json_object_set_new(m, "from", json_string((const char *)from));
		if (json_object_get(m, "body") && json_string_length(json_object_get(m, "body")))
			json_array_append(out, m);
		json_decref(m);
		xmlFree(text);
		xmlFree(to);
		xmlFree(from);
	}
	xmlFreeDoc(doc);
	*ret = out;
	return 0;
}
