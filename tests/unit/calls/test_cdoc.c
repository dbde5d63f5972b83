/* test_cdoc.c: unit tests for call-control documents (doc.h): every TwiML verb, attribute
   and default, the refusals (DTDs, entities, caps, bad values), the JSON form against the
   XML one, RFC 3986 reference resolution, the IVR-menu form, twilio-SDK fixtures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "doc.h"
#include "../test.h"

/* ---- helpers ---- */

static struct cdoc *px(const char *xml)
{
	struct cdoc *d = NULL;
	struct cdoc_error e;
	int r = cdoc_parse_xml(xml, strlen(xml), &d, &e);
	if (r < 0)
		fprintf(stderr, "parse failed (%d): %s (line %d)\n", r, e.message, e.line);
	CHECK_EQ_INT(r, 0);
	return d;
}

static struct cdoc *pj(const char *json)
{
	struct cdoc *d = NULL;
	struct cdoc_error e;
	int r = cdoc_parse_json(json, strlen(json), &d, &e);
	if (r < 0)
		fprintf(stderr, "json parse failed (%d): %s\n", r, e.message);
	CHECK_EQ_INT(r, 0);
	return d;
}

/* Expects parsing to fail with rc and a message containing want. */
static void xml_fails(const char *xml, int rc, const char *want)
{
	struct cdoc *d = NULL;
	struct cdoc_error e;
	int r = cdoc_parse_xml(xml, strlen(xml), &d, &e);
	CHECK_EQ_INT(r, rc);
	CHECK(d == NULL);
	if (want && !strstr(e.message, want)) {
		fprintf(stderr, "message \"%s\" lacks \"%s\" (doc %.60s)\n", e.message, want, xml);
		CHECK(0);
	}
	if (r == 0)
		cdoc_free(d);
}

static void json_fails(const char *json, int rc, const char *want)
{
	struct cdoc *d = NULL;
	struct cdoc_error e;
	int r = cdoc_parse_json(json, strlen(json), &d, &e);
	CHECK_EQ_INT(r, rc);
	if (want && !strstr(e.message, want)) {
		fprintf(stderr, "message \"%s\" lacks \"%s\" (doc %.60s)\n", e.message, want, json);
		CHECK(0);
	}
	if (r == 0)
		cdoc_free(d);
}

static char *repeat(const char *unit, int n)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < n; i++)
		buf_puts(&b, unit);
	return buf_detach(&b);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	return buf_detach(&b);
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool noun_eq(const struct cdoc_noun *a, const struct cdoc_noun *b)
{
	return a->kind == b->kind && str_eq(a->target, b->target) &&
	       str_eq(a->send_digits, b->send_digits) && str_eq(a->url, b->url) &&
	       str_eq(a->method, b->method) && str_eq(a->status_callback, b->status_callback) &&
	       str_eq(a->status_callback_method, b->status_callback_method) &&
	       a->status_events == b->status_events && str_eq(a->username, b->username) &&
	       str_eq(a->password, b->password);
}

static bool verb_eq(const struct cdoc_verb *a, const struct cdoc_verb *b)
{
	if (a->kind != b->kind || !str_eq(a->text, b->text) || !str_eq(a->voice, b->voice) ||
	    !str_eq(a->language, b->language) || a->loop != b->loop ||
	    !str_eq(a->digits, b->digits) || a->length_s != b->length_s ||
	    !str_eq(a->action, b->action) || !str_eq(a->method, b->method) ||
	    a->timeout_s != b->timeout_s || strcmp(a->finish_on_key, b->finish_on_key) ||
	    a->num_digits != b->num_digits || a->action_on_empty != b->action_on_empty ||
	    a->input_dtmf != b->input_dtmf || a->input_speech != b->input_speech ||
	    !str_eq(a->hints, b->hints) || !str_eq(a->speech_timeout, b->speech_timeout) ||
	    a->barge_in != b->barge_in || a->nchildren != b->nchildren ||
	    a->max_length_s != b->max_length_s || a->play_beep != b->play_beep ||
	    a->trim != b->trim ||
	    !str_eq(a->recording_status_callback, b->recording_status_callback) ||
	    !str_eq(a->recording_status_callback_method, b->recording_status_callback_method) ||
	    !str_eq(a->caller_id, b->caller_id) || a->time_limit_s != b->time_limit_s ||
	    a->record != b->record || a->answer_on_bridge != b->answer_on_bridge ||
	    a->sequential != b->sequential || a->hangup_on_star != b->hangup_on_star ||
	    a->nnouns != b->nnouns)
		return false;
	for (size_t i = 0; i < a->nchildren; i++)
		if (!verb_eq(&a->children[i], &b->children[i]))
			return false;
	for (size_t i = 0; i < a->nnouns; i++)
		if (!noun_eq(&a->nouns[i], &b->nouns[i]))
			return false;
	return true;
}

static bool doc_eq(const struct cdoc *a, const struct cdoc *b)
{
	if (!a || !b || a->nverbs != b->nverbs)
		return false;
	for (size_t i = 0; i < a->nverbs; i++)
		if (!verb_eq(&a->verbs[i], &b->verbs[i]))
			return false;
	return true;
}

#define R(body) "<?xml version=\"1.0\"?><Response>" body "</Response>"

/* ---- verbs ---- */

static void test_say_play_pause(void)
{
	struct cdoc *d = px(R("<Say>Hello</Say><Say voice=\"Polly.Amy\" language=\"en-GB\" "
			      "loop=\"0\" unknownAttr=\"x\">  Hi &amp; bye  </Say>"
			      "<Play>https://e.x/a.wav</Play><Play loop=\"5\" digits=\"1w2#*A\"/>"
			      "<Pause/><Pause length=\"10\"/>"));
	if (!d)
		return;
	CHECK_EQ_INT(d->nverbs, 6);
	const struct cdoc_verb *v = d->verbs;
	CHECK_EQ_INT(v[0].kind, CDOC_SAY);
	CHECK_STR(v[0].text, "Hello");
	CHECK(v[0].voice == NULL && v[0].language == NULL);
	CHECK_EQ_INT(v[0].loop, 1);
	CHECK_STR(v[1].text, "Hi & bye");
	CHECK_STR(v[1].voice, "Polly.Amy");
	CHECK_STR(v[1].language, "en-GB");
	CHECK_EQ_INT(v[1].loop, 0);
	CHECK_EQ_INT(v[2].kind, CDOC_PLAY);
	CHECK_STR(v[2].text, "https://e.x/a.wav");
	CHECK_EQ_INT(v[2].loop, 1);
	CHECK(v[2].digits == NULL);
	CHECK_STR(v[3].text, "");
	CHECK_STR(v[3].digits, "1w2#*A");
	CHECK_EQ_INT(v[3].loop, 5);
	CHECK_EQ_INT(v[4].kind, CDOC_PAUSE);
	CHECK_EQ_INT(v[4].length_s, 1);
	CHECK_EQ_INT(v[5].length_s, 10);
	cdoc_free(d);

	/* SSML: the tags go, their text stays, words stay apart */
	d = px(R("<Say>Hi<break time=\"1s\"/>there <emphasis level=\"strong\">now</emphasis>"
		 "<say-as interpret-as=\"digits\">123</say-as><prosody rate=\"slow\">slow"
		 "</prosody><p><s>One.</s><s>Two.</s></p><w role=\"x\">word</w>"
		 "<sub alias=\"World Wide Web\">WWW</sub><lang xml:lang=\"fr-FR\">bonjour</lang>"
		 "<phoneme alphabet=\"ipa\" ph=\"x\">tomato</phoneme><![CDATA[ <raw> ]]></Say>"));
	if (d) {
		CHECK_STR(d->verbs[0].text, "Hi there now 123 slow One. Two. word WWW bonjour "
					    "tomato  <raw>");
		cdoc_free(d);
	}
	xml_fails(R("<Say>a<b>bold</b></Say>"), -EINVAL, "Say: unsupported element <b>");
	xml_fails(R("<Play/>"), -EINVAL, "Play: a URL or digits is required");
	xml_fails(R("<Play><x/></Play>"), -EINVAL, "Play: unexpected element <x>");
	d = px(R("<Say/>"));
	if (d) {
		CHECK_STR(d->verbs[0].text, "");
		cdoc_free(d);
	}
}

static void test_gather(void)
{
	struct cdoc *d = px(R("<Gather/>"));
	if (!d)
		return;
	const struct cdoc_verb *g = &d->verbs[0];
	CHECK_EQ_INT(g->kind, CDOC_GATHER);
	CHECK(g->action == NULL && g->method == NULL);
	CHECK_EQ_INT(g->timeout_s, 5);
	CHECK_STR(g->finish_on_key, "#");
	CHECK_EQ_INT(g->num_digits, 0);
	CHECK(!g->action_on_empty);
	CHECK(g->input_dtmf && !g->input_speech);
	CHECK(g->barge_in);
	CHECK(g->hints == NULL && g->speech_timeout == NULL);
	CHECK_EQ_INT(g->nchildren, 0);
	cdoc_free(d);

	d = px(R("<Gather input=\"speech dtmf\" action=\"/next\" method=\"get\" timeout=\"12\" "
		 "finishOnKey=\"\" numDigits=\"32\" actionOnEmptyResult=\"TRUE\" hints=\"a, b\" "
		 "speechTimeout=\"3\" bargeIn=\"False\" language=\"es-ES\">\n"
		 "  <Say>one</Say>\n  <Play>https://e.x/b.mp3</Play>\n  <Pause length=\"2\"/>\n"
		 "</Gather><Gather input=\"speech\" speechTimeout=\"AUTO\"/>"));
	if (!d)
		return;
	g = &d->verbs[0];
	CHECK(g->input_dtmf && g->input_speech);
	CHECK_STR(g->action, "/next");
	CHECK_STR(g->method, "GET");
	CHECK_EQ_INT(g->timeout_s, 12);
	CHECK_STR(g->finish_on_key, "");
	CHECK_EQ_INT(g->num_digits, 32);
	CHECK(g->action_on_empty);
	CHECK_STR(g->hints, "a, b");
	CHECK_STR(g->speech_timeout, "3");
	CHECK(!g->barge_in);
	CHECK_STR(g->language, "es-ES");
	CHECK_EQ_INT(g->nchildren, 3);
	if (g->nchildren == 3) {
		CHECK_EQ_INT(g->children[0].kind, CDOC_SAY);
		CHECK_STR(g->children[0].text, "one");
		CHECK_EQ_INT(g->children[1].kind, CDOC_PLAY);
		CHECK_EQ_INT(g->children[2].kind, CDOC_PAUSE);
		CHECK_EQ_INT(g->children[2].length_s, 2);
	}
	CHECK(!d->verbs[1].input_dtmf && d->verbs[1].input_speech);
	CHECK_STR(d->verbs[1].speech_timeout, "auto");
	cdoc_free(d);

	xml_fails(R("<Gather><Dial>+1555</Dial></Gather>"), -EINVAL,
		  "Gather: <Dial> is not allowed inside Gather");
	xml_fails(R("<Gather><Gather/></Gather>"), -EINVAL, "not allowed inside Gather");
	xml_fails(R("<Gather><Enqueue>q</Enqueue></Gather>"), -EINVAL,
		  "unsupported verb <Enqueue>");
}

static void test_record(void)
{
	struct cdoc *d = px(R("<Record/><Record action=\"r\" method=\"POST\" timeout=\"0\" "
			      "finishOnKey=\"*\" maxLength=\"14400\" playBeep=\"false\" "
			      "trim=\"do-not-trim\" recordingStatusCallback=\"/rs\" "
			      "recordingStatusCallbackMethod=\"GET\"/>"));
	if (!d)
		return;
	const struct cdoc_verb *r = &d->verbs[0];
	CHECK_EQ_INT(r->kind, CDOC_RECORD);
	CHECK_EQ_INT(r->timeout_s, 5);
	CHECK_STR(r->finish_on_key, "1234567890*#");
	CHECK_EQ_INT(r->max_length_s, 3600);
	CHECK(r->play_beep);
	CHECK(r->trim);
	CHECK(r->action == NULL && r->recording_status_callback == NULL);
	r = &d->verbs[1];
	CHECK_STR(r->action, "r");
	CHECK_STR(r->method, "POST");
	CHECK_EQ_INT(r->timeout_s, 0);
	CHECK_STR(r->finish_on_key, "*");
	CHECK_EQ_INT(r->max_length_s, 14400);
	CHECK(!r->play_beep);
	CHECK(!r->trim);
	CHECK_STR(r->recording_status_callback, "/rs");
	CHECK_STR(r->recording_status_callback_method, "GET");
	cdoc_free(d);
}

static void test_dial(void)
{
	struct cdoc *d = px(R("<Dial> +15551234567 </Dial>"));
	if (!d)
		return;
	const struct cdoc_verb *v = &d->verbs[0];
	CHECK_EQ_INT(v->kind, CDOC_DIAL);
	CHECK_EQ_INT(v->timeout_s, 30);
	CHECK_EQ_INT(v->time_limit_s, 14400);
	CHECK_EQ_INT(v->record, CDOC_REC_NONE);
	CHECK(!v->trim && !v->answer_on_bridge && !v->sequential && !v->hangup_on_star);
	CHECK(v->caller_id == NULL && v->action == NULL);
	CHECK_EQ_INT(v->nnouns, 1);
	CHECK_EQ_INT(v->nouns[0].kind, CDOC_NUMBER);
	CHECK_STR(v->nouns[0].target, "+15551234567");
	CHECK_EQ_INT(v->nouns[0].status_events, 0);
	cdoc_free(d);

	d = px(R(
	    "<Dial action=\"/d\" method=\"GET\" timeout=\"5\" timeLimit=\"86400\" "
	    "callerId=\"+15550000000\" record=\"record-from-ringing-dual\" trim=\"trim-silence\" "
	    "answerOnBridge=\"true\" sequential=\"true\" hangupOnStar=\"true\" "
	    "recordingStatusCallback=\"/drs\" recordingStatusCallbackMethod=\"GET\">"
	    "<Number sendDigits=\"ww12\" url=\"/whisper\" method=\"GET\" statusCallback=\"/sc\" "
	    "statusCallbackMethod=\"GET\" statusCallbackEvent=\"initiated  ringing answered "
	    "completed\">+15551110000</Number>"
	    "<Sip username=\"u\" password=\"p\" url=\"/sw\" method=\"POST\" statusCallback=\"/ss\" "
	    "statusCallbackEvent=\"answered\">sip:bob@example.com</Sip>"
	    "<Client identity=\"alice\" url=\"/cw\" statusCallbackEvent=\"ringing\"/>"
	    "<Client>bob</Client>"
	    "<Client><Identity> carol </Identity><Parameter name=\"a\" value=\"b\"/></Client>"
	    "</Dial>"));
	if (!d)
		return;
	v = &d->verbs[0];
	CHECK_STR(v->action, "/d");
	CHECK_STR(v->method, "GET");
	CHECK_EQ_INT(v->timeout_s, 5);
	CHECK_EQ_INT(v->time_limit_s, 86400);
	CHECK_STR(v->caller_id, "+15550000000");
	CHECK_EQ_INT(v->record, CDOC_REC_FROM_RINGING);
	CHECK(v->trim && v->answer_on_bridge && v->sequential && v->hangup_on_star);
	CHECK_STR(v->recording_status_callback, "/drs");
	CHECK_STR(v->recording_status_callback_method, "GET");
	CHECK_EQ_INT(v->nnouns, 5);
	if (v->nnouns == 5) {
		const struct cdoc_noun *n = v->nouns;
		CHECK_EQ_INT(n[0].kind, CDOC_NUMBER);
		CHECK_STR(n[0].target, "+15551110000");
		CHECK_STR(n[0].send_digits, "ww12");
		CHECK_STR(n[0].url, "/whisper");
		CHECK_STR(n[0].method, "GET");
		CHECK_STR(n[0].status_callback, "/sc");
		CHECK_STR(n[0].status_callback_method, "GET");
		CHECK_EQ_INT(n[0].status_events, CDOC_EV_INITIATED | CDOC_EV_RINGING |
						     CDOC_EV_ANSWERED | CDOC_EV_COMPLETED);
		CHECK_EQ_INT(n[1].kind, CDOC_SIP);
		CHECK_STR(n[1].target, "sip:bob@example.com");
		CHECK_STR(n[1].username, "u");
		CHECK_STR(n[1].password, "p");
		CHECK_STR(n[1].url, "/sw");
		CHECK_STR(n[1].status_callback, "/ss");
		CHECK_EQ_INT(n[1].status_events, CDOC_EV_ANSWERED);
		CHECK_EQ_INT(n[2].kind, CDOC_CLIENT);
		CHECK_STR(n[2].target, "alice");
		CHECK_STR(n[2].url, "/cw");
		CHECK_EQ_INT(n[2].status_events, CDOC_EV_RINGING);
		CHECK_STR(n[3].target, "bob");
		CHECK_STR(n[4].target, "carol");
	}
	cdoc_free(d);

	d = px(R("<Dial record=\"record-from-answer\">+1<!-- c -->555</Dial>"));
	if (d) {
		CHECK_EQ_INT(d->verbs[0].record, CDOC_REC_FROM_ANSWER);
		CHECK_STR(d->verbs[0].nouns[0].target, "+1555");
		cdoc_free(d);
	}
	xml_fails(R("<Dial/>"), -EINVAL, "Dial: a number, <Sip> or <Client> is required");
	xml_fails(R("<Dial><Sip>bob@example.com</Sip></Dial>"), -EINVAL,
		  "Sip: the URI must start with sip: or sips:");
	xml_fails(R("<Dial><Conference>room</Conference></Dial>"), -EINVAL,
		  "Dial: unsupported noun <Conference>");
	xml_fails(R("<Dial><Number> </Number></Dial>"), -EINVAL, "Number: a number is required");
	xml_fails(R("<Dial><Client><Parameter name=\"a\"/></Client></Dial>"), -EINVAL,
		  "Client: an identity is required");
	xml_fails(R("<Dial><Number statusCallbackEvent=\"hold\">1</Number></Dial>"), -EINVAL,
		  "Number: statusCallbackEvent must be");
	xml_fails(R("<Dial><Number sendDigits=\"12x\">1</Number></Dial>"), -EINVAL,
		  "Number: sendDigits must be");
	xml_fails(R("<Dial><Client>a<b/></Client></Dial>"), -EINVAL,
		  "Client: unexpected element <b>");
}

static void test_other_verbs(void)
{
	struct cdoc *d = px(R("<Hangup/><Redirect>../next?x=1</Redirect>"
			      "<Redirect method=\"GET\">https://e.x/n</Redirect><Reject/>"
			      "<Reject reason=\"busy\"/><Reject reason=\"Rejected\"/>"));
	if (!d)
		return;
	CHECK_EQ_INT(d->nverbs, 6);
	CHECK_EQ_INT(d->verbs[0].kind, CDOC_HANGUP);
	CHECK_EQ_INT(d->verbs[1].kind, CDOC_REDIRECT);
	CHECK_STR(d->verbs[1].text, "../next?x=1");
	CHECK(d->verbs[1].method == NULL);
	CHECK_STR(d->verbs[2].method, "GET");
	CHECK_EQ_INT(d->verbs[3].kind, CDOC_REJECT);
	CHECK(d->verbs[3].text == NULL);
	CHECK_STR(d->verbs[4].text, "busy");
	CHECK_STR(d->verbs[5].text, "rejected");
	cdoc_free(d);

	d = px("<Response/>");
	if (d) {
		CHECK_EQ_INT(d->nverbs, 0);
		cdoc_free(d);
	}
	d = px("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n<Response>\n"
	       "  text between verbs is ignored <?pi x?>\n  <Hangup/>\n</Response>\n");
	if (d) {
		CHECK_EQ_INT(d->nverbs, 1);
		cdoc_free(d);
	}
	xml_fails(R("<Redirect/>"), -EINVAL, "Redirect: a URL is required");
	xml_fails(R("<Say>a</Say><Enqueue>support</Enqueue>"), -EINVAL,
		  "unsupported verb <Enqueue>");
	xml_fails("<Reply><Say>a</Say></Reply>", -EINVAL, "the root element must be <Response>");
	xml_fails("", -EINVAL, "empty document");
	xml_fails("not xml", -EINVAL, "XML:");

	struct cdoc_error e;
	struct cdoc *x = NULL;
	const char *bad = "<Response>\n<Say>a</Say>\n<Pause length=\"601\"/>\n</Response>";
	CHECK_EQ_INT(cdoc_parse_xml(bad, strlen(bad), &x, &e), -EINVAL);
	CHECK_EQ_INT(e.line, 3);
	CHECK_STR(e.message, "Pause: length must be 0-600");
	const char *broken = "<Response>\n<Say>a</Say>\n<Hangup>\n</Response>";
	CHECK_EQ_INT(cdoc_parse_xml(broken, strlen(broken), &x, &e), -EINVAL);
	CHECK(e.line >= 3);
	CHECK(strncmp(e.message, "XML: ", 5) == 0);
	CHECK_EQ_INT(cdoc_parse_xml(R("<Enqueue/>"), strlen(R("<Enqueue/>")), &x, &e), -EINVAL);
	CHECK_STR(e.message, "unsupported verb <Enqueue>");
}

/* Every bad value names the verb and the attribute. */
static void test_bad_values(void)
{
	static const struct {
		const char *xml, *msg;
	} cases[] = {
	    {R("<Say loop=\"1001\">a</Say>"), "Say: loop must be 0-1000"},
	    {R("<Say loop=\"-1\">a</Say>"), "Say: loop must be 0-1000"},
	    {R("<Say loop=\"two\">a</Say>"), "Say: loop must be 0-1000"},
	    {R("<Play loop=\"99999999999\">u</Play>"), "Play: loop must be 0-1000"},
	    {R("<Play digits=\"12x\"/>"), "Play: digits must be digits 0-9 * # A-D w"},
	    {R("<Pause length=\"601\"/>"), "Pause: length must be 0-600"},
	    {R("<Gather numDigits=\"33\"/>"), "Gather: numDigits must be 1-32"},
	    {R("<Gather numDigits=\"0\"/>"), "Gather: numDigits must be 1-32"},
	    {R("<Gather timeout=\"601\"/>"), "Gather: timeout must be 0-600"},
	    {R("<Gather finishOnKey=\"x\"/>"), "Gather: finishOnKey must be keys from 0-9 * #"},
	    {R("<Gather input=\"voice\"/>"), "Gather: input must be"},
	    {R("<Gather input=\"\"/>"), "Gather: input must be"},
	    {R("<Gather bargeIn=\"yes\"/>"), "Gather: bargeIn must be true or false"},
	    {R("<Gather actionOnEmptyResult=\"1\"/>"), "Gather: actionOnEmptyResult must be"},
	    {R("<Gather speechTimeout=\"soon\"/>"), "Gather: speechTimeout must be auto or"},
	    {R("<Gather method=\"PUT\"/>"), "Gather: method must be GET or POST"},
	    {R("<Record maxLength=\"14401\"/>"), "Record: maxLength must be 1-14400"},
	    {R("<Record timeout=\"601\"/>"), "Record: timeout must be 0-600"},
	    {R("<Record playBeep=\"no\"/>"), "Record: playBeep must be true or false"},
	    {R("<Record trim=\"yes\"/>"), "Record: trim must be trim-silence or do-not-trim"},
	    {R("<Record recordingStatusCallbackMethod=\"X\"/>"),
	     "Record: recordingStatusCallbackMethod must be GET or POST"},
	    {R("<Dial timeout=\"4\">1</Dial>"), "Dial: timeout must be 5-600"},
	    {R("<Dial timeout=\"601\">1</Dial>"), "Dial: timeout must be 5-600"},
	    {R("<Dial timeLimit=\"86401\">1</Dial>"), "Dial: timeLimit must be 1-86400"},
	    {R("<Dial record=\"always\">1</Dial>"), "Dial: record must be"},
	    {R("<Dial hangupOnStar=\"maybe\">1</Dial>"), "Dial: hangupOnStar must be"},
	    {R("<Redirect method=\"DELETE\">u</Redirect>"), "Redirect: method must be GET or POST"},
	    {R("<Reject reason=\"later\"/>"), "Reject: reason must be rejected or busy"},
	    {R("<Gather action=\"a&#1;b\"/>"), NULL}, /* XML 1.0 refuses &#1; itself */
	    {R("<Gather action=\"a&#9;b\"/>"), "Gather: action has a control character"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		xml_fails(cases[i].xml, -EINVAL, cases[i].msg);
	/* in range at the edges */
	struct cdoc *d = px(R("<Say loop=\"1000\">a</Say><Pause length=\"600\"/>"
			      "<Gather numDigits=\"1\" timeout=\"600\"/><Record maxLength=\"1\"/>"
			      "<Dial timeout=\"600\" timeLimit=\"1\">1</Dial>"));
	if (d) {
		CHECK_EQ_INT(d->verbs[0].loop, 1000);
		CHECK_EQ_INT(d->verbs[4].timeout_s, 600);
		cdoc_free(d);
	}
}

/* ---- refusals: DTDs and entities are never expanded ---- */

static void test_dtd_entities(void)
{
	const char *laughs =
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    "]>\n<Response><Say>&lol9;</Say></Response>";
	xml_fails(laughs, -EINVAL, "DTDs and entity declarations are not allowed");
	xml_fails("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		  "<Response><Say>&x;</Say></Response>",
		  -EINVAL, "not allowed");
	xml_fails("<!DOCTYPE Response SYSTEM \"http://127.0.0.1:1/x.dtd\"><Response/>", -EINVAL,
		  "not allowed");
	xml_fails("<!DOCTYPE Response [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>"
		  "<Response/>",
		  -EINVAL, "not allowed");
	xml_fails("<!DOCTYPE Response><Response/>", -EINVAL, "not allowed");
	/* an entity reference without a declaration is malformed, never looked up */
	xml_fails(R("<Say>&x;</Say>"), -EINVAL, "XML:");
	xml_fails(R("<Play>file:///etc/passwd&xxe;</Play>"), -EINVAL, "XML:");
	/* XInclude is not processed: an unknown verb */
	xml_fails(R("<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
		    "href=\"file:///etc/passwd\" parse=\"text\"/>"),
		  -EINVAL, "unsupported verb <include>");
	/* the predefined entities and character references are plain text */
	struct cdoc *d =
	    px(R("<Say>&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos; &#65;&#x42;</Say>"));
	if (d) {
		CHECK_STR(d->verbs[0].text, "<a> & \"b\" 'c' AB");
		cdoc_free(d);
	}
	/* a document in another encoding cannot smuggle a DOCTYPE past the check */
	const char utf16[] = "\xff\xfe<\0!\0D\0O\0C\0T\0Y\0P\0E\0 \0r\0>\0<\0R\0/\0>\0";
	struct cdoc *x = NULL;
	struct cdoc_error e;
	CHECK_EQ_INT(cdoc_parse_xml(utf16, sizeof(utf16) - 1, &x, &e), -EINVAL);
}

static void test_caps(void)
{
	/* size */
	char *big = repeat(" ", CDOC_MAX_BYTES);
	struct cdoc *d = NULL;
	struct cdoc_error e;
	CHECK_EQ_INT(cdoc_parse_xml(big, strlen(big) + 1, &d, &e), -E2BIG);
	CHECK(strstr(e.message, "larger than") != NULL);
	CHECK_EQ_INT(cdoc_parse_json(big, strlen(big) + 1, &d, &e), -E2BIG);
	mem_free(big);

	/* depth: Response > Gather > Say > 6 SSML levels = 9 */
	xml_fails(R("<Gather><Say><p><s><emphasis><prosody><w><sub>deep</sub></w></prosody>"
		    "</emphasis></s></p></Say></Gather>"),
		  -E2BIG, "nested deeper than 8");
	d = px(R("<Gather><Say><p><s><emphasis><prosody><w>ok</w></prosody></emphasis></s></p>"
		 "</Say></Gather>"));
	cdoc_free(d);
	char *deep = repeat("<a>", 5000);
	xml_fails(deep, -EINVAL, NULL); /* not even well-formed; and never recursed into */
	mem_free(deep);

	/* verbs: 64 in all (Gather children count) */
	char *v64 = repeat("<Hangup/>", CDOC_MAX_VERBS);
	char *v65 = repeat("<Hangup/>", CDOC_MAX_VERBS + 1);
	char *n63 = repeat("<Pause/>", CDOC_MAX_VERBS - 1);
	char doc[4096];
	snprintf(doc, sizeof(doc), "<Response>%s</Response>", v64);
	d = px(doc);
	if (d) {
		CHECK_EQ_INT(d->nverbs, CDOC_MAX_VERBS);
		cdoc_free(d);
	}
	snprintf(doc, sizeof(doc), "<Response>%s</Response>", v65);
	xml_fails(doc, -E2BIG, "more than 64 verbs");
	snprintf(doc, sizeof(doc), "<Response><Gather>%s<Say>x</Say></Gather></Response>", n63);
	xml_fails(doc, -E2BIG, "more than 64 verbs");
	mem_free(v64);
	mem_free(v65);
	mem_free(n63);

	/* nouns */
	char *nouns = repeat("<Number>+1555</Number>", CDOC_MAX_NOUNS + 1);
	snprintf(doc, sizeof(doc), "<Response><Dial>%s</Dial></Response>", nouns);
	xml_fails(doc, -E2BIG, "Dial: more than 10 nouns");
	mem_free(nouns);

	/* text and URLs */
	char *t = repeat("a", CDOC_MAX_TEXT), *t1 = repeat("a", CDOC_MAX_TEXT + 1);
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "<Response><Say>%s</Say></Response>", t);
	d = px(b.p);
	cdoc_free(d);
	b.len = 0;
	buf_printf(&b, "<Response><Say>%s</Say></Response>", t1);
	xml_fails(b.p, -E2BIG, "Say: text is longer than 4096 bytes");
	b.len = 0;
	buf_printf(&b, "<Response><Say><emphasis>%s</emphasis>b</Say></Response>", t);
	xml_fails(b.p, -E2BIG, "Say: text is longer than 4096 bytes");
	b.len = 0;
	buf_printf(&b, "<Response><Redirect>%s</Redirect></Response>", t1);
	xml_fails(b.p, -E2BIG, "Redirect: URL is longer than 4096 bytes");
	b.len = 0;
	buf_printf(&b, "<Response><Gather action=\"%s\"/></Response>", t1);
	xml_fails(b.p, -E2BIG, "Gather: action is longer than 4096 bytes");
	b.len = 0;
	buf_printf(&b, "<Response><Dial><Number>%s</Number></Dial></Response>", t1);
	xml_fails(b.p, -E2BIG, "Number: a number is longer than");
	b.len = 0;
	buf_printf(&b, "[{\"verb\":\"say\",\"text\":\"%s\"}]", t1);
	json_fails(b.p, -E2BIG, "Say: text is longer than 4096 bytes");
	buf_free(&b);
	mem_free(t);
	mem_free(t1);
}

/* ---- the JSON form ---- */

static void same(const char *xml, const char *json)
{
	struct cdoc *a = px(xml), *b = pj(json);
	bool eq = doc_eq(a, b);
	if (!eq)
		fprintf(stderr, "XML and JSON differ:\n  %s\n  %s\n", xml, json);
	CHECK(eq);
	cdoc_free(a);
	cdoc_free(b);
}

static void test_json(void)
{
	same(R("<Say voice=\"alice\" language=\"en-US\" loop=\"3\">Hello</Say><Play loop=\"2\" "
	       "digits=\"12w\">https://e.x/a.wav</Play><Pause length=\"4\"/><Hangup/>"),
	     "[{\"verb\":\"say\",\"text\":\"Hello\",\"voice\":\"alice\",\"language\":\"en-US\","
	     "\"loop\":3},{\"verb\":\"play\",\"url\":\"https://e.x/a.wav\",\"loop\":\"2\","
	     "\"digits\":\"12w\"},{\"verb\":\"pause\",\"length\":4},{\"verb\":\"hangup\"}]");
	same(R("<Gather input=\"dtmf speech\" action=\"/n\" method=\"GET\" timeout=\"7\" "
	       "finishOnKey=\"*\" numDigits=\"3\" actionOnEmptyResult=\"true\" hints=\"x\" "
	       "speechTimeout=\"auto\" bargeIn=\"false\"><Say>a</Say><Play>u</Play>"
	       "<Pause/></Gather>"),
	     "{\"verbs\":[{\"verb\":\"gather\",\"input\":\"dtmf speech\",\"action\":\"/n\","
	     "\"method\":\"GET\",\"timeout\":7,\"finishOnKey\":\"*\",\"numDigits\":3,"
	     "\"actionOnEmptyResult\":true,\"hints\":\"x\",\"speechTimeout\":\"auto\","
	     "\"bargeIn\":\"false\",\"nested\":[{\"verb\":\"say\",\"text\":\"a\"},"
	     "{\"verb\":\"play\",\"url\":\"u\"},{\"verb\":\"pause\"}]}]}");
	same(R("<Record action=\"/r\" timeout=\"3\" finishOnKey=\"#\" maxLength=\"60\" "
	       "playBeep=\"false\" trim=\"do-not-trim\" recordingStatusCallback=\"/rs\" "
	       "recordingStatusCallbackMethod=\"GET\"/>"),
	     "[{\"verb\":\"record\",\"action\":\"/r\",\"timeout\":3,\"finishOnKey\":\"#\","
	     "\"maxLength\":60,\"playBeep\":false,\"trim\":\"do-not-trim\","
	     "\"recordingStatusCallback\":\"/rs\",\"recordingStatusCallbackMethod\":\"GET\"}]");
	same(R("<Dial>+15551234567</Dial>"), "[{\"verb\":\"dial\",\"number\":\"+15551234567\"}]");
	same(R("<Dial action=\"/d\" timeout=\"20\" timeLimit=\"60\" callerId=\"+1555\" "
	       "record=\"record-from-answer\" trim=\"trim-silence\" answerOnBridge=\"true\" "
	       "sequential=\"true\" hangupOnStar=\"true\" recordingStatusCallback=\"/x\">"
	       "<Number sendDigits=\"1w\" url=\"/w\" statusCallback=\"/s\" "
	       "statusCallbackEvent=\"ringing answered\">+1666</Number>"
	       "<Sip username=\"u\" password=\"p\" method=\"GET\">sip:a@b</Sip>"
	       "<Client statusCallbackMethod=\"GET\">alice</Client></Dial>"),
	     "[{\"verb\":\"dial\",\"action\":\"/d\",\"timeout\":\"20\",\"timeLimit\":60,"
	     "\"callerId\":\"+1555\",\"record\":\"record-from-answer\",\"trim\":\"trim-silence\","
	     "\"answerOnBridge\":true,\"sequential\":\"TRUE\",\"hangupOnStar\":true,"
	     "\"recordingStatusCallback\":\"/x\",\"targets\":["
	     "{\"type\":\"number\",\"number\":\"+1666\",\"sendDigits\":\"1w\",\"url\":\"/w\","
	     "\"statusCallback\":\"/s\",\"statusCallbackEvent\":\"ringing answered\"},"
	     "{\"type\":\"sip\",\"uri\":\"sip:a@b\",\"username\":\"u\",\"password\":\"p\","
	     "\"method\":\"GET\"},"
	     "{\"type\":\"client\",\"identity\":\"alice\",\"statusCallbackMethod\":\"GET\"}]}]");
	same(R("<Redirect method=\"GET\">/next</Redirect><Reject reason=\"busy\"/><Reject/>"),
	     "[{\"verb\":\"redirect\",\"url\":\"/next\",\"method\":\"GET\"},"
	     "{\"verb\":\"reject\",\"reason\":\"busy\"},{\"verb\":\"reject\"}]");
	/* unknown keys and nulls are ignored, as unknown XML attributes are */
	same(R("<Say>a</Say>"), "[{\"verb\":\"say\",\"text\":\"a\",\"voice\":null,\"x\":[1]}]");

	json_fails("[{\"verb\":\"enqueue\"}]", -EINVAL, "unsupported verb \"enqueue\"");
	json_fails("[{\"verb\":\"Say\",\"text\":\"a\"}]", -EINVAL, "unsupported verb \"Say\"");
	json_fails("[{\"text\":\"a\"}]", -EINVAL, "with \"verb\"");
	json_fails("[\"say\"]", -EINVAL, "with \"verb\"");
	json_fails("{\"other\":[]}", -EINVAL, "expected an array of verbs");
	json_fails("[{\"verb\":\"say\",\"text\":\"a\",\"text\":\"b\"}]", -EINVAL, "JSON:");
	json_fails("[{\"verb\":\"say\",\"text\":1}]", -EINVAL, "Say: text must be a string");
	json_fails("[{\"verb\":\"say\",\"text\":\"a\",\"loop\":1.5}]", -EINVAL,
		   "Say: loop must be a number");
	json_fails("[{\"verb\":\"say\",\"text\":\"a\",\"loop\":true}]", -EINVAL,
		   "Say: loop must be a number");
	json_fails("[{\"verb\":\"say\",\"text\":\"a\",\"loop\":1001}]", -EINVAL,
		   "Say: loop must be 0-1000");
	json_fails("[{\"verb\":\"say\",\"text\":\"a\",\"loop\":-1}]", -EINVAL,
		   "Say: loop must be 0-1000");
	json_fails("[{\"verb\":\"gather\",\"numDigits\":33}]", -EINVAL,
		   "Gather: numDigits must be 1-32");
	json_fails("[{\"verb\":\"gather\",\"bargeIn\":1}]", -EINVAL,
		   "Gather: bargeIn must be a boolean");
	json_fails("[{\"verb\":\"gather\",\"action\":5}]", -EINVAL,
		   "Gather: action must be a string");
	json_fails("[{\"verb\":\"gather\",\"nested\":[{\"verb\":\"dial\",\"number\":\"1\"}]}]",
		   -EINVAL, "Gather: dial is not allowed inside Gather");
	json_fails("[{\"verb\":\"gather\",\"nested\":{}}]", -EINVAL, "nested must be an array");
	json_fails("[{\"verb\":\"dial\",\"timeout\":4,\"number\":\"1\"}]", -EINVAL,
		   "Dial: timeout must be 5-600");
	json_fails("[{\"verb\":\"dial\"}]", -EINVAL, "Dial: a number");
	json_fails("[{\"verb\":\"dial\",\"number\":\"1\",\"targets\":[{\"type\":\"number\","
		   "\"number\":\"2\"}]}]",
		   -EINVAL, "exclusive");
	json_fails("[{\"verb\":\"dial\",\"targets\":[{\"type\":\"queue\"}]}]", -EINVAL,
		   "\"type\": number, sip or client");
	json_fails("[{\"verb\":\"dial\",\"targets\":[{\"type\":\"sip\",\"uri\":\"x@y\"}]}]",
		   -EINVAL, "Sip: the URI must start");
	json_fails("[{\"verb\":\"dial\",\"targets\":[{\"type\":\"client\"}]}]", -EINVAL,
		   "Client: an identity is required");
	json_fails("[{\"verb\":\"dial\",\"targets\":[]}]", -EINVAL, "non-empty array");
	json_fails("[{\"verb\":\"say\",\"text\":\"a\\u0001\"}]", -EINVAL, "control character");
	json_fails("[{\"verb\":\"play\"}]", -EINVAL, "Play: a URL or digits");
	json_fails("[{\"verb\":\"redirect\"}]", -EINVAL, "Redirect: a URL is required");
	json_fails("[{\"verb\":\"say\"", -EINVAL, "JSON:");
	json_fails("[[[[[[[[[1]]]]]]]]]", -E2BIG, "nested deeper than 8");
	json_fails("[{\"verb\":\"say\",\"text\":\"[[[[[[[[[[\"}] x", -EINVAL, "JSON:");

	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "[");
	for (int i = 0; i <= CDOC_MAX_VERBS; i++)
		buf_printf(&b, "%s{\"verb\":\"hangup\"}", i ? "," : "");
	buf_puts(&b, "]");
	json_fails(b.p, -E2BIG, "more than 64 verbs");
	b.len = 0;
	buf_puts(&b, "[{\"verb\":\"dial\",\"targets\":[");
	for (int i = 0; i <= CDOC_MAX_NOUNS; i++)
		buf_printf(&b, "%s{\"type\":\"number\",\"number\":\"1\"}", i ? "," : "");
	buf_puts(&b, "]}]");
	json_fails(b.p, -E2BIG, "Dial: more than 10 nouns");
	buf_free(&b);

	struct cdoc *d = pj("[{\"verb\":\"say\",\"text\":\"[not] {nested}\"}]");
	if (d) {
		CHECK_STR(d->verbs[0].text, "[not] {nested}");
		CHECK_EQ_INT(d->verbs[0].loop, 1);
		cdoc_free(d);
	}
}

static void test_dispatch(void)
{
	static const struct {
		const char *ctype, *body;
		int rc;
	} cases[] = {
	    {"application/json", "[{\"verb\":\"hangup\"}]", 0},
	    {"application/json; charset=utf-8", "[{\"verb\":\"hangup\"}]", 0},
	    {"application/vnd.irisx+json", "{\"verbs\":[{\"verb\":\"hangup\"}]}", 0},
	    {"text/xml", "<Response><Hangup/></Response>", 0},
	    {"application/xml", "<Response><Hangup/></Response>", 0},
	    {"text/xml", "[{\"verb\":\"hangup\"}]", -EINVAL},
	    {"application/json", "<Response><Hangup/></Response>", -EINVAL},
	    {NULL, "  \n[{\"verb\":\"hangup\"}]", 0},
	    {NULL, "<Response><Hangup/></Response>", 0},
	    {"text/plain", "{\"verbs\":[{\"verb\":\"hangup\"}]}", 0},
	    {"application/octet-stream", "\xef\xbb\xbf<Response><Hangup/></Response>", 0},
	    {"text/html", "[{\"verb\":\"hangup\"}]", -EINVAL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cdoc *d = NULL;
		struct cdoc_error e;
		int r = cdoc_parse(cases[i].body, strlen(cases[i].body), cases[i].ctype, &d, &e);
		if (r != cases[i].rc)
			fprintf(stderr, "dispatch case %zu: %d (%s)\n", i, r, e.message);
		CHECK_EQ_INT(r, cases[i].rc);
		if (r == 0) {
			CHECK_EQ_INT(d->nverbs, 1);
			CHECK_EQ_INT(d->verbs[0].kind, CDOC_HANGUP);
		}
		cdoc_free(r == 0 ? d : NULL);
	}
	cdoc_free(NULL);
}

/* ---- RFC 3986 section 5.4 ---- */

static void test_url(void)
{
	static const char *const cases[][2] = {
	    /* 5.4.1 normal */
	    {"g:h", "g:h"},
	    {"g", "http://a/b/c/g"},
	    {"./g", "http://a/b/c/g"},
	    {"g/", "http://a/b/c/g/"},
	    {"/g", "http://a/g"},
	    {"//g", "http://g"},
	    {"?y", "http://a/b/c/d;p?y"},
	    {"g?y", "http://a/b/c/g?y"},
	    {"#s", "http://a/b/c/d;p?q#s"},
	    {"g#s", "http://a/b/c/g#s"},
	    {"g?y#s", "http://a/b/c/g?y#s"},
	    {";x", "http://a/b/c/;x"},
	    {"g;x", "http://a/b/c/g;x"},
	    {"g;x?y#s", "http://a/b/c/g;x?y#s"},
	    {"", "http://a/b/c/d;p?q"},
	    {".", "http://a/b/c/"},
	    {"./", "http://a/b/c/"},
	    {"..", "http://a/b/"},
	    {"../", "http://a/b/"},
	    {"../g", "http://a/b/g"},
	    {"../..", "http://a/"},
	    {"../../", "http://a/"},
	    {"../../g", "http://a/g"},
	    /* 5.4.2 abnormal */
	    {"../../../g", "http://a/g"},
	    {"../../../../g", "http://a/g"},
	    {"/./g", "http://a/g"},
	    {"/../g", "http://a/g"},
	    {"g.", "http://a/b/c/g."},
	    {".g", "http://a/b/c/.g"},
	    {"g..", "http://a/b/c/g.."},
	    {"..g", "http://a/b/c/..g"},
	    {"./../g", "http://a/b/g"},
	    {"./g/.", "http://a/b/c/g/"},
	    {"g/./h", "http://a/b/c/g/h"},
	    {"g/../h", "http://a/b/c/h"},
	    {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
	    {"g;x=1/../y", "http://a/b/c/y"},
	    {"g?y/./x", "http://a/b/c/g?y/./x"},
	    {"g?y/../x", "http://a/b/c/g?y/../x"},
	    {"g#s/./x", "http://a/b/c/g#s/./x"},
	    {"g#s/../x", "http://a/b/c/g#s/../x"},
	    {"http:g", "http:g"}, /* strict parser */
	};
	char out[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = cdoc_url_resolve("http://a/b/c/d;p?q", cases[i][0], out, sizeof(out));
		CHECK_EQ_INT(r, 0);
		if (strcmp(out, cases[i][1]))
			fprintf(stderr, "resolve \"%s\": got \"%s\"\n", cases[i][0], out);
		CHECK_STR(out, cases[i][1]);
	}
	/* the documents' own cases */
	CHECK_EQ_INT(cdoc_url_resolve("https://h.example/ivr/start.xml", "next", out, 256), 0);
	CHECK_STR(out, "https://h.example/ivr/next");
	CHECK_EQ_INT(cdoc_url_resolve("https://h.example/ivr/start.xml", "/menu?x=1", out, 256), 0);
	CHECK_STR(out, "https://h.example/menu?x=1");
	CHECK_EQ_INT(cdoc_url_resolve("https://h.example", "a", out, 256), 0);
	CHECK_STR(out, "https://h.example/a");
	CHECK_EQ_INT(cdoc_url_resolve("irisx:applications/ap1", "?Digits=1", out, 256), 0);
	CHECK_STR(out, "irisx:applications/ap1?Digits=1");
	CHECK_EQ_INT(
	    cdoc_url_resolve("https://h.example/a#frag", "https://o.example/../x", out, 256), 0);
	CHECK_STR(out, "https://o.example/x");
	/* errors */
	CHECK_EQ_INT(cdoc_url_resolve("/relative/base", "x", out, 256), -EINVAL);
	CHECK_EQ_INT(cdoc_url_resolve("", "x", out, 256), -EINVAL);
	CHECK_EQ_INT(cdoc_url_resolve("http://a/b/c/d;p?q", "g", out, 14), -E2BIG);
	CHECK_STR(out, "");
	CHECK_EQ_INT(cdoc_url_resolve("http://a/b/c/d;p?q", "g", out, 15), 0);
	CHECK_STR(out, "http://a/b/c/g");
	CHECK_EQ_INT(cdoc_url_resolve("http://a/", "g", out, 0), -E2BIG);
}

/* ---- the IVR-menu form ---- */

static json_t *form_of(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		fprintf(stderr, "bad test form: %s\n", je.text);
	CHECK(j != NULL);
	return j;
}

/* Compiles, parses the result as TwiML (every branch must), returns the document. */
static struct cdoc *compile(const json_t *form, const char *digits, char **ret_xml)
{
	char *xml = NULL;
	struct cdoc_error e;
	int r = cdoc_ivr_compile(form, "ap_menu1", digits, &xml, &e);
	if (r < 0)
		fprintf(stderr, "compile %s: %s\n", digits ? digits : "(menu)", e.message);
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		return NULL;
	struct cdoc *d = px(xml);
	if (ret_xml)
		*ret_xml = xml;
	else
		mem_free(xml);
	return d;
}

static void test_ivr(void)
{
	json_t *form =
	    form_of("{\"prompt\": \"For sales press 1, <support> & \\\"help\\\" press 2\","
		    " \"voice\": \"Polly.Amy\", \"language\": \"en-GB\", \"timeout\": 7,"
		    " \"options\": {"
		    "  \"1\": {\"say\": \"Connecting you to sales\", \"dial\": \"+15551234567\","
		    "         \"caller_id\": \"+15550000000\"},"
		    "  \"2\": {\"dial\": \"sip:support@pbx.example\"},"
		    "  \"3\": {\"redirect\": \"https://h.example/ivr?a=1&b=2\"},"
		    "  \"4\": {\"say\": \"Goodbye\", \"application_id\": \"ap_other\"},"
		    "  \"5\": {\"say\": \"Our hours are\\n9 to 5\"},"
		    "  \"#\": {\"hangup\": true},"
		    "  \"0\": {\"say\": \"bye\", \"hangup\": true}},"
		    " \"no_input\": {\"say\": \"We did not hear you\"},"
		    " \"invalid\": {\"say\": \"That is not an option\"}}");
	if (!form)
		return;
	CHECK_EQ_INT(cdoc_ivr_check(form, NULL), 0);

	/* the menu */
	struct cdoc *d = compile(form, NULL, NULL);
	if (d) {
		CHECK_EQ_INT(d->nverbs, 2);
		const struct cdoc_verb *g = &d->verbs[0];
		CHECK_EQ_INT(g->kind, CDOC_GATHER);
		CHECK_EQ_INT(g->num_digits, 1);
		CHECK_STR(g->finish_on_key, ""); /* "#" is an option, not a terminator */
		CHECK_EQ_INT(g->timeout_s, 7);
		CHECK_STR(g->action, "irisx:applications/ap_menu1");
		CHECK_STR(g->method, "POST");
		CHECK(g->input_dtmf && !g->input_speech);
		CHECK_EQ_INT(g->nchildren, 1);
		if (g->nchildren) {
			CHECK_STR(g->children[0].text,
				  "For sales press 1, <support> & \"help\" press 2");
			CHECK_STR(g->children[0].voice, "Polly.Amy");
			CHECK_STR(g->children[0].language, "en-GB");
		}
		CHECK_EQ_INT(d->verbs[1].kind, CDOC_REDIRECT);
		CHECK_STR(d->verbs[1].text, "irisx:applications/ap_menu1?Digits=");
		cdoc_free(d);
	}
	/* 1: say, then dial a number with a caller id */
	d = compile(form, "1", NULL);
	if (d) {
		CHECK_EQ_INT(d->nverbs, 2);
		CHECK_STR(d->verbs[0].text, "Connecting you to sales");
		CHECK_STR(d->verbs[0].voice, "Polly.Amy");
		CHECK_EQ_INT(d->verbs[1].kind, CDOC_DIAL);
		CHECK_STR(d->verbs[1].caller_id, "+15550000000");
		CHECK_EQ_INT(d->verbs[1].nouns[0].kind, CDOC_NUMBER);
		CHECK_STR(d->verbs[1].nouns[0].target, "+15551234567");
		cdoc_free(d);
	}
	/* 2: dial a SIP URI */
	d = compile(form, "2", NULL);
	if (d) {
		CHECK_EQ_INT(d->nverbs, 1);
		CHECK_EQ_INT(d->verbs[0].nouns[0].kind, CDOC_SIP);
		CHECK_STR(d->verbs[0].nouns[0].target, "sip:support@pbx.example");
		cdoc_free(d);
	}
	/* 3: redirect, the & escaped and read back */
	char *xml = NULL;
	d = compile(form, "3", &xml);
	if (d) {
		CHECK(strstr(xml, "a=1&amp;b=2") != NULL);
		CHECK_EQ_INT(d->verbs[0].kind, CDOC_REDIRECT);
		CHECK_STR(d->verbs[0].text, "https://h.example/ivr?a=1&b=2");
		CHECK_STR(d->verbs[0].method, "POST");
		cdoc_free(d);
	}
	mem_free(xml);
	/* 4: another application */
	d = compile(form, "4", NULL);
	if (d) {
		CHECK_EQ_INT(d->nverbs, 2);
		CHECK_STR(d->verbs[1].text, "irisx:applications/ap_other");
		cdoc_free(d);
	}
	/* 5: say only, then the menu again (the newline survives) */
	d = compile(form, "5", NULL);
	if (d) {
		CHECK_STR(d->verbs[0].text, "Our hours are\n9 to 5");
		CHECK_EQ_INT(d->verbs[1].kind, CDOC_REDIRECT);
		CHECK_STR(d->verbs[1].text, "irisx:applications/ap_menu1");
		cdoc_free(d);
	}
	/* #, 0: hang up (with and without a goodbye) */
	d = compile(form, "#", NULL);
	if (d) {
		CHECK_EQ_INT(d->nverbs, 1);
		CHECK_EQ_INT(d->verbs[0].kind, CDOC_HANGUP);
		cdoc_free(d);
	}
	d = compile(form, "0", NULL);
	if (d) {
		CHECK_EQ_INT(d->nverbs, 2);
		CHECK_EQ_INT(d->verbs[1].kind, CDOC_HANGUP);
		cdoc_free(d);
	}
	/* no input, an invalid key, several keys: their branches */
	d = compile(form, "", NULL);
	if (d) {
		CHECK_STR(d->verbs[0].text, "We did not hear you");
		CHECK_STR(d->verbs[1].text, "irisx:applications/ap_menu1");
		cdoc_free(d);
	}
	const char *invalid[] = {"9", "12", "*"};
	for (size_t i = 0; i < 3; i++) {
		d = compile(form, invalid[i], NULL);
		if (d) {
			CHECK_EQ_INT(d->nverbs, 2);
			CHECK_STR(d->verbs[0].text, "That is not an option");
			CHECK_STR(d->verbs[1].text, "irisx:applications/ap_menu1");
			cdoc_free(d);
		}
	}
	json_decref(form);

	/* without no_input / invalid: the call ends on silence, the menu repeats on a bad key */
	form = form_of("{\"prompt\": \"Press 1\", \"options\": {\"1\": {\"hangup\": true}}}");
	d = compile(form, "", NULL);
	if (d) {
		CHECK_EQ_INT(d->nverbs, 1);
		CHECK_EQ_INT(d->verbs[0].kind, CDOC_HANGUP);
		cdoc_free(d);
	}
	d = compile(form, "7", NULL);
	if (d) {
		CHECK_EQ_INT(d->nverbs, 1);
		CHECK_STR(d->verbs[0].text, "irisx:applications/ap_menu1");
		cdoc_free(d);
	}
	d = compile(form, NULL, NULL);
	if (d) {
		CHECK_EQ_INT(d->verbs[0].timeout_s, 5);
		CHECK(d->verbs[0].children[0].voice == NULL);
		cdoc_free(d);
	}
	char *out = NULL;
	struct cdoc_error e;
	CHECK_EQ_INT(cdoc_ivr_compile(form, "bad/id", NULL, &out, &e), -EINVAL);
	CHECK_EQ_INT(cdoc_ivr_compile(form, "", NULL, &out, &e), -EINVAL);
	json_decref(form);

	/* what the check refuses */
	static const struct {
		const char *form, *msg;
	} bad[] = {
	    {"[]", "the form must be an object"},
	    {"{\"options\": {\"1\": {\"hangup\": true}}}", "prompt must be a string"},
	    {"{\"prompt\": \" \", \"options\": {\"1\": {\"hangup\": true}}}", "prompt must not"},
	    {"{\"prompt\": \"p\"}", "options must be a non-empty object"},
	    {"{\"prompt\": \"p\", \"options\": {}}", "options must be a non-empty object"},
	    {"{\"prompt\": \"p\", \"options\": {\"12\": {\"hangup\": true}}}", "options keys"},
	    {"{\"prompt\": \"p\", \"options\": {\"x\": {\"hangup\": true}}}", "options keys"},
	    {"{\"prompt\": \"p\", \"extra\": 1, \"options\": {\"1\": {\"hangup\": true}}}",
	     "unknown field \"extra\""},
	    {"{\"prompt\": \"p\", \"timeout\": 0, \"options\": {\"1\": {\"hangup\": true}}}",
	     "timeout must be 1-600"},
	    {"{\"prompt\": \"p\", \"timeout\": \"5\", \"options\": {\"1\": {\"hangup\": true}}}",
	     "timeout must be 1-600"},
	    {"{\"prompt\": \"p\", \"voice\": 3, \"options\": {\"1\": {\"hangup\": true}}}",
	     "voice must be a string"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": \"hangup\"}}",
	     "options.1 must be an object"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {}}}", "options.1 needs say or an action"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"hangup\": false}}}",
	     "hangup must be true"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"dial\": \"+1\", \"hangup\": true}}}",
	     "one of dial, redirect"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"dial\": \"call bob\"}}}",
	     "options.1.dial must be a phone number or a sip: URI"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"dial\": \"+\"}}}",
	     "options.1.dial must be a phone number"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"dial\": \"1+2\"}}}",
	     "options.1.dial must be a phone number"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"say\": \"x\", \"caller_id\": \"+1\"}}}",
	     "caller_id needs dial"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"application_id\": \"a b\"}}}",
	     "application_id is not an id"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"redirect\": \"\"}}}",
	     "options.1.redirect must not be empty"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"goto\": \"x\"}}}",
	     "unknown field \"goto\""},
	    {"{\"prompt\": \"a\\u0007b\", \"options\": {\"1\": {\"hangup\": true}}}",
	     "prompt has a control character"},
	    {"{\"prompt\": \"a\\uFFFEb\", \"options\": {\"1\": {\"hangup\": true}}}",
	     "prompt has a control character"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"redirect\": \"a\\nb\"}}}",
	     "options.1.redirect has a control character"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"hangup\": true}}, \"no_input\": 1}",
	     "no_input must be an object"},
	    {"{\"prompt\": \"p\", \"options\": {\"1\": {\"hangup\": true}}, \"invalid\": {}}",
	     "invalid needs say or an action"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *f = form_of(bad[i].form);
		int r = cdoc_ivr_check(f, &e);
		CHECK_EQ_INT(r, -EINVAL);
		if (!strstr(e.message, bad[i].msg)) {
			fprintf(stderr, "ivr message \"%s\" lacks \"%s\"\n", e.message, bad[i].msg);
			CHECK(0);
		}
		CHECK_EQ_INT(cdoc_ivr_compile(f, "ap1", NULL, &out, &e), -EINVAL);
		json_decref(f);
	}
	char *longp = repeat("a", CDOC_MAX_TEXT + 1);
	json_t *f = json_pack("{s:s,s:{s:{s:b}}}", "prompt", longp, "options", "1", "hangup", 1);
	CHECK_EQ_INT(cdoc_ivr_check(f, &e), -E2BIG);
	json_decref(f);
	mem_free(longp);
}

/* ---- documents written by the twilio SDK (twiml/gen.js) ---- */

static struct cdoc *fixture(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "tests/unit/calls/twiml/%s.xml", name);
	char *s = slurp(path);
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "cannot read %s (run from the source tree)\n", path);
		return NULL;
	}
	struct cdoc *d = px(s);
	mem_free(s);
	return d;
}

static void test_fixtures(void)
{
	struct cdoc *d = fixture("basic");
	if (d && d->nverbs == 5) {
		CHECK_STR(d->verbs[0].text, "Hello & welcome <caller>");
		CHECK_STR(d->verbs[0].voice, "Polly.Joanna");
		CHECK_STR(d->verbs[0].language, "en-US");
		CHECK_EQ_INT(d->verbs[0].loop, 2);
		CHECK_STR(d->verbs[1].text, "https://example.com/a.mp3");
		CHECK_EQ_INT(d->verbs[1].loop, 3);
		CHECK_STR(d->verbs[2].digits, "ww1234#");
		CHECK_EQ_INT(d->verbs[3].length_s, 7);
		CHECK_EQ_INT(d->verbs[4].kind, CDOC_HANGUP);
	}
	CHECK(d && d->nverbs == 5);
	cdoc_free(d);

	d = fixture("gather");
	if (d && d->nverbs == 2) {
		const struct cdoc_verb *g = &d->verbs[0];
		CHECK(g->input_dtmf && g->input_speech);
		CHECK_STR(g->action, "/ivr/next");
		CHECK_STR(g->method, "GET");
		CHECK_EQ_INT(g->timeout_s, 9);
		CHECK_STR(g->finish_on_key, "*");
		CHECK_EQ_INT(g->num_digits, 4);
		CHECK(g->action_on_empty);
		CHECK_STR(g->hints, "sales, support");
		CHECK_STR(g->speech_timeout, "auto");
		CHECK(!g->barge_in);
		CHECK_EQ_INT(g->nchildren, 3);
		CHECK_STR(d->verbs[1].text, "https://example.com/again");
		CHECK_STR(d->verbs[1].method, "GET");
	}
	CHECK(d && d->nverbs == 2);
	cdoc_free(d);

	d = fixture("record");
	if (d && d->nverbs == 2) {
		const struct cdoc_verb *r = &d->verbs[0];
		CHECK_STR(r->action, "/rec/done");
		CHECK_EQ_INT(r->timeout_s, 10);
		CHECK_STR(r->finish_on_key, "#");
		CHECK_EQ_INT(r->max_length_s, 120);
		CHECK(!r->play_beep && !r->trim);
		CHECK_STR(r->recording_status_callback, "https://example.com/rs");
		CHECK_STR(r->recording_status_callback_method, "GET");
		CHECK_STR(d->verbs[1].text, "busy");
	}
	CHECK(d && d->nverbs == 2);
	cdoc_free(d);

	d = fixture("dial");
	if (d && d->nverbs == 1 && d->verbs[0].nnouns == 4) {
		const struct cdoc_verb *v = &d->verbs[0];
		CHECK_STR(v->action, "/dial/done");
		CHECK_EQ_INT(v->timeout_s, 20);
		CHECK_EQ_INT(v->time_limit_s, 600);
		CHECK_STR(v->caller_id, "+15550001111");
		CHECK_EQ_INT(v->record, CDOC_REC_FROM_ANSWER);
		CHECK(v->trim && v->answer_on_bridge && v->sequential && v->hangup_on_star);
		CHECK_STR(v->recording_status_callback, "https://example.com/drs");
		CHECK_STR(v->nouns[0].target, "+15551234567");
		CHECK_STR(v->nouns[0].send_digits, "wwww1928");
		CHECK_STR(v->nouns[0].method, "GET");
		CHECK_EQ_INT(v->nouns[0].status_events, 15);
		CHECK_EQ_INT(v->nouns[1].kind, CDOC_SIP);
		CHECK_STR(v->nouns[1].target, "sip:bob@example.com;transport=tcp");
		CHECK_STR(v->nouns[1].username, "alice");
		CHECK_STR(v->nouns[1].password, "s3cret");
		CHECK_EQ_INT(v->nouns[1].status_events, CDOC_EV_ANSWERED);
		CHECK_STR(v->nouns[2].target, "carol");
		CHECK_STR(v->nouns[2].url, "https://example.com/cw");
		CHECK_STR(v->nouns[3].target, "dave");
	}
	CHECK(d && d->nverbs == 1 && d->verbs[0].nnouns == 4);
	cdoc_free(d);

	d = fixture("ssml");
	if (d && d->nverbs == 2) {
		CHECK_STR(d->verbs[0].nouns[0].target, "+15559876543");
		CHECK_STR(d->verbs[1].text, "Hi there 123 slowly");
		CHECK_STR(d->verbs[1].voice, "alice");
	}
	CHECK(d && d->nverbs == 2);
	cdoc_free(d);
}

int main(void)
{
	test_say_play_pause();
	test_gather();
	test_record();
	test_dial();
	test_other_verbs();
	test_bad_values();
	test_dtd_entities();
	test_caps();
	test_json();
	test_dispatch();
	test_url();
	test_ivr();
	test_fixtures();
	return test_done("cdoc");
}
