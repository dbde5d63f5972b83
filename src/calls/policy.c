/* policy.c: least-cost routing, destination guardrails, billing increments, SIP cause
   mapping and the per-key call pacer (docs/calls.md "Routing and guardrails"). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "policy.h"

/* ---- numbers ---- */

/* The digits of an E.164 number ("+" optional) into out; -EINVAL unless 6 to 15 digits. */
static int digits_of(const char *e164, char out[16])
{
	if (!e164)
		return -EINVAL;
	if (*e164 == '+')
		e164++;
	size_t n = strlen(e164);
	if (n < 6 || n > 15 || *e164 == '0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (e164[i] < '0' || e164[i] > '9')
			return -EINVAL;
	memcpy(out, e164, n + 1);
	return 0;
}

/* ---- countries: ITU-T E.164 calling codes (longest prefix wins) ---- */

struct cc_row {
	const char *prefix, *cc;
};

/* NANP (+1) area codes that are not the United States. */
static const struct cc_row nanp[] = {
    {"204", "CA"}, {"226", "CA"}, {"236", "CA"}, {"249", "CA"}, {"250", "CA"}, {"263", "CA"},
    {"289", "CA"}, {"306", "CA"}, {"343", "CA"}, {"354", "CA"}, {"365", "CA"}, {"367", "CA"},
    {"368", "CA"}, {"382", "CA"}, {"403", "CA"}, {"416", "CA"}, {"418", "CA"}, {"428", "CA"},
    {"431", "CA"}, {"437", "CA"}, {"438", "CA"}, {"450", "CA"}, {"468", "CA"}, {"474", "CA"},
    {"506", "CA"}, {"514", "CA"}, {"519", "CA"}, {"548", "CA"}, {"579", "CA"}, {"581", "CA"},
    {"584", "CA"}, {"587", "CA"}, {"604", "CA"}, {"613", "CA"}, {"639", "CA"}, {"647", "CA"},
    {"672", "CA"}, {"683", "CA"}, {"705", "CA"}, {"709", "CA"}, {"742", "CA"}, {"753", "CA"},
    {"778", "CA"}, {"780", "CA"}, {"782", "CA"}, {"807", "CA"}, {"819", "CA"}, {"825", "CA"},
    {"867", "CA"}, {"873", "CA"}, {"879", "CA"}, {"902", "CA"}, {"905", "CA"}, {"942", "CA"},
    {"787", "PR"}, {"939", "PR"}, {"876", "JM"}, {"658", "JM"}, {"809", "DO"}, {"829", "DO"},
    {"849", "DO"}, {"242", "BS"}, {"246", "BB"}, {"868", "TT"}, {"264", "AI"}, {"268", "AG"},
    {"284", "VG"}, {"340", "VI"}, {"345", "KY"}, {"441", "BM"}, {"473", "GD"}, {"649", "TC"},
    {"664", "MS"}, {"670", "MP"}, {"671", "GU"}, {"684", "AS"}, {"721", "SX"}, {"758", "LC"},
    {"767", "DM"}, {"784", "VC"}, {"869", "KN"},
};

/* Every other calling code; a longer prefix refines a shorter one (+7 7 KZ inside +7 RU). */
static const struct cc_row codes[] = {
    {"7", "RU"},       {"76", "KZ"},	 {"77", "KZ"},	    {"20", "EG"},   {"211", "SS"},
    {"212", "MA"},     {"213", "DZ"},	 {"216", "TN"},	    {"218", "LY"},  {"220", "GM"},
    {"221", "SN"},     {"222", "MR"},	 {"223", "ML"},	    {"224", "GN"},  {"225", "CI"},
    {"226", "BF"},     {"227", "NE"},	 {"228", "TG"},	    {"229", "BJ"},  {"230", "MU"},
    {"231", "LR"},     {"232", "SL"},	 {"233", "GH"},	    {"234", "NG"},  {"235", "TD"},
    {"236", "CF"},     {"237", "CM"},	 {"238", "CV"},	    {"239", "ST"},  {"240", "GQ"},
    {"241", "GA"},     {"242", "CG"},	 {"243", "CD"},	    {"244", "AO"},  {"245", "GW"},
    {"246", "IO"},     {"247", "SH"},	 {"248", "SC"},	    {"249", "SD"},  {"250", "RW"},
    {"251", "ET"},     {"252", "SO"},	 {"253", "DJ"},	    {"254", "KE"},  {"255", "TZ"},
    {"256", "UG"},     {"257", "BI"},	 {"258", "MZ"},	    {"260", "ZM"},  {"261", "MG"},
    {"262", "RE"},     {"262269", "YT"}, {"262639", "YT"},  {"263", "ZW"},  {"264", "NA"},
    {"265", "MW"},     {"266", "LS"},	 {"267", "BW"},	    {"268", "SZ"},  {"269", "KM"},
    {"27", "ZA"},      {"290", "SH"},	 {"291", "ER"},	    {"297", "AW"},  {"298", "FO"},
    {"299", "GL"},     {"30", "GR"},	 {"31", "NL"},	    {"32", "BE"},   {"33", "FR"},
    {"34", "ES"},      {"350", "GI"},	 {"351", "PT"},	    {"352", "LU"},  {"353", "IE"},
    {"354", "IS"},     {"355", "AL"},	 {"356", "MT"},	    {"357", "CY"},  {"358", "FI"},
    {"35818", "AX"},   {"359", "BG"},	 {"36", "HU"},	    {"370", "LT"},  {"371", "LV"},
    {"372", "EE"},     {"373", "MD"},	 {"374", "AM"},	    {"375", "BY"},  {"376", "AD"},
    {"377", "MC"},     {"378", "SM"},	 {"379", "VA"},	    {"380", "UA"},  {"381", "RS"},
    {"382", "ME"},     {"383", "XK"},	 {"385", "HR"},	    {"386", "SI"},  {"387", "BA"},
    {"389", "MK"},     {"39", "IT"},	 {"3906698", "VA"}, {"40", "RO"},   {"41", "CH"},
    {"420", "CZ"},     {"421", "SK"},	 {"423", "LI"},	    {"43", "AT"},   {"44", "GB"},
    {"45", "DK"},      {"46", "SE"},	 {"47", "NO"},	    {"4779", "SJ"}, {"48", "PL"},
    {"49", "DE"},      {"500", "FK"},	 {"501", "BZ"},	    {"502", "GT"},  {"503", "SV"},
    {"504", "HN"},     {"505", "NI"},	 {"506", "CR"},	    {"507", "PA"},  {"508", "PM"},
    {"509", "HT"},     {"51", "PE"},	 {"52", "MX"},	    {"53", "CU"},   {"54", "AR"},
    {"55", "BR"},      {"56", "CL"},	 {"57", "CO"},	    {"58", "VE"},   {"590", "GP"},
    {"591", "BO"},     {"592", "GY"},	 {"593", "EC"},	    {"594", "GF"},  {"595", "PY"},
    {"596", "MQ"},     {"597", "SR"},	 {"598", "UY"},	    {"5993", "BQ"}, {"5994", "BQ"},
    {"5997", "BQ"},    {"5999", "CW"},	 {"60", "MY"},	    {"61", "AU"},   {"6189162", "CC"},
    {"6189164", "CX"}, {"62", "ID"},	 {"63", "PH"},	    {"64", "NZ"},   {"65", "SG"},
    {"66", "TH"},      {"670", "TL"},	 {"6721", "AQ"},    {"6723", "NF"}, {"673", "BN"},
    {"674", "NR"},     {"675", "PG"},	 {"676", "TO"},	    {"677", "SB"},  {"678", "VU"},
    {"679", "FJ"},     {"680", "PW"},	 {"681", "WF"},	    {"682", "CK"},  {"683", "NU"},
    {"685", "WS"},     {"686", "KI"},	 {"687", "NC"},	    {"688", "TV"},  {"689", "PF"},
    {"690", "TK"},     {"691", "FM"},	 {"692", "MH"},	    {"81", "JP"},   {"82", "KR"},
    {"84", "VN"},      {"850", "KP"},	 {"852", "HK"},	    {"853", "MO"},  {"855", "KH"},
    {"856", "LA"},     {"86", "CN"},	 {"880", "BD"},	    {"886", "TW"},  {"90", "TR"},
    {"91", "IN"},      {"92", "PK"},	 {"93", "AF"},	    {"94", "LK"},   {"95", "MM"},
    {"960", "MV"},     {"961", "LB"},	 {"962", "JO"},	    {"963", "SY"},  {"964", "IQ"},
    {"965", "KW"},     {"966", "SA"},	 {"967", "YE"},	    {"968", "OM"},  {"970", "PS"},
    {"971", "AE"},     {"972", "IL"},	 {"973", "BH"},	    {"974", "QA"},  {"975", "BT"},
    {"976", "MN"},     {"977", "NP"},	 {"98", "IR"},	    {"992", "TJ"},  {"993", "TM"},
    {"994", "AZ"},     {"995", "GE"},	 {"996", "KG"},	    {"998", "UZ"},
};

static const struct cc_row *longest(const struct cc_row *t, size_t n, const char *d)
{
	const struct cc_row *best = NULL;
	size_t blen = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(t[i].prefix);
		if (l > blen && !strncmp(d, t[i].prefix, l)) {
			best = &t[i];
			blen = l;
		}
	}
	return best;
}

int policy_country(const char *e164, char cc[3])
{
	char d[16];
	if (digits_of(e164, d) < 0)
		return -ENOENT;
	const struct cc_row *r;
	if (d[0] == '1')
		r = longest(nanp, sizeof(nanp) / sizeof(nanp[0]), d + 1);
	else
		r = longest(codes, sizeof(codes) / sizeof(codes[0]), d);
	if (!r && d[0] != '1')
		return -ENOENT;
	memcpy(cc, r ? r->cc : "US", 3);
	return 0;
}

bool policy_country_known(const char *cc)
{
	if (!cc || strlen(cc) != 2)
		return false;
	if (!strcasecmp(cc, "US"))
		return true;
	for (size_t i = 0; i < sizeof(nanp) / sizeof(nanp[0]); i++)
		if (!strcasecmp(nanp[i].cc, cc))
			return true;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcasecmp(codes[i].cc, cc))
			return true;
	return false;
}

/* ---- premium and revenue-share ranges (digits after "+"; docs/calls.md lists them) ---- */

static const char *const premium[] = {
    "1900",  "1976",				 /* NANP premium */
    "449",   "4470",  "44871", "44872", "44873", /* GB 09 premium, 070 personal, 087x */
    "870",   "881",   "882",   "883",	/* Inmarsat, GMSS satellite, international networks */
    "979",   "808",			/* international premium rate, shared cost */
    "3389",				/* FR 089x premium */
    "49900", "49137",			/* DE 0900 premium, 0137 televoting */
    "3989",				/* IT 89x premium */
    "34803", "34806", "34807", "34905", /* ES 80x premium, 905 televoting */
    "61190",				/* AU 190x premium */
    "31906", "31909",			/* NL 0906/0909 premium */
    "3290",				/* BE 090x premium */
    "4390",  "4393",			/* AT 090x/093x premium */
    "41900", "41901", "41906",		/* CH 090x premium */
    "4870",				/* PL 70x premium */
};

bool policy_premium(const char *e164)
{
	if (!e164)
		return false;
	if (*e164 == '+')
		e164++;
	for (size_t i = 0; i < sizeof(premium) / sizeof(premium[0]); i++)
		if (!strncmp(e164, premium[i], strlen(premium[i])))
			return true;
	return false;
}

/* True if cc is one of the comma list (spaces ignored, case-insensitive) or the list is "*". */
static bool listed(const char *list, const char *cc)
{
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ')
			e++;
		size_t n = (size_t)(e - p);
		if ((n == 1 && *p == '*') || (n == 2 && !strncasecmp(p, cc, 2)))
			return true;
		p = e;
	}
	return false;
}

int policy_dest_check(const char *e164, const char *allowed, const char *home,
		      struct policy_refusal *why)
{
	char d[16], cc[3];
	if (digits_of(e164, d) < 0) {
		*why = (struct policy_refusal){"invalid_number", "the number is not E.164"};
		return -EPERM;
	}
	if (policy_premium(d)) {
		*why = (struct policy_refusal){
		    "premium_destination", "premium-rate and revenue-share numbers are blocked"};
		return -EPERM;
	}
	bool any = allowed && *allowed && listed(allowed, "*");
	if (policy_country(d, cc) < 0) {
		if (any)
			return 0;
		*why = (struct policy_refusal){"destination_not_allowed",
					       "the number has no known country"};
		return -EPERM;
	}
	if (any || listed(allowed && *allowed ? allowed : (home ? home : "US"), cc))
		return 0;
	*why = (struct policy_refusal){"destination_not_allowed",
				       "calls to this country are not enabled for the account"};
	return -EPERM;
}

/* ---- billing ---- */

unsigned policy_billed_s(unsigned duration_s, int min_s, int incr_s)
{
	if (duration_s == 0)
		return 0;
	unsigned min = min_s > 0 ? (unsigned)min_s : 0, incr = incr_s > 0 ? (unsigned)incr_s : 1;
	if (duration_s <= min)
		return min;
	unsigned over = duration_s - min;
	return min + (over + incr - 1) / incr * incr;
}

int64_t policy_cost_micros(int64_t per_min_micros, unsigned billed_s)
{
	if (billed_s == 0)
		return 0;
	if (per_min_micros <= 0) /* credits: truncation toward zero rounds them up too */
		return per_min_micros * (int64_t)billed_s / 60;
	return (per_min_micros * (int64_t)billed_s + 59) / 60;
}

/* ---- ranking ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct cand {
	json_t *row;
	bool priced;
	int64_t cost, prio, weight;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->priced != y->priced)
		return x->priced ? -1 : 1;
	if (x->priced && x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return 0;
}

static bool skipped(const char *id, const char *const *skip, size_t nskip)
{
	for (size_t i = 0; id && i < nskip; i++)
		if (skip[i] && !strcmp(skip[i], id))
			return true;
	return false;
}

/* Orders c[0..n) (one cost+priority group) by weighted random draws without replacement;
   zero weights keep their order after the others. */
static void weighted_order(struct cand *c, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i + 1 < n; i++) {
		uint64_t sum = 0;
		for (size_t j = i; j < n; j++)
			sum += (uint64_t)c[j].weight;
		if (sum == 0)
			return;
		uint64_t pick = splitmix(rng) % sum;
		size_t j = i;
		for (; j < n; j++) {
			if (pick < (uint64_t)c[j].weight)
				break;
			pick -= (uint64_t)c[j].weight;
		}
		struct cand t = c[j];
		memmove(&c[i + 1], &c[i], (j - i) * sizeof(*c));
		c[i] = t;
	}
}

json_t *policy_rank(const json_t *routes, const char *const *skip, size_t nskip, uint64_t seed)
{
	size_t n = json_array_size(routes), k = 0;
	struct cand *c = mem_alloc((n ? n : 1) * sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_array_get(routes, i);
		const char *health = json_str(row, "health");
		if ((health && !strcmp(health, "down")) ||
		    skipped(json_str(row, "id"), skip, nskip))
			continue;
		json_t *cost = json_object_get(row, "cost_micros");
		int64_t w = json_int(row, "weight", 100);
		c[k++] = (struct cand){row, json_is_integer(cost), json_integer_value(cost),
				       json_int(row, "priority", 10), w > 0 ? w : 0};
	}
	/* insertion sort: stable, and the lists are short */
	for (size_t i = 1; i < k; i++) {
		struct cand t = c[i];
		size_t j = i;
		for (; j > 0 && cand_cmp(&c[j - 1], &t) > 0; j--)
			c[j] = c[j - 1];
		c[j] = t;
	}
	uint64_t rng = seed;
	for (size_t i = 0; i < k;) {
		size_t j = i + 1;
		while (j < k && cand_cmp(&c[i], &c[j]) == 0)
			j++;
		weighted_order(&c[i], j - i, &rng);
		i = j;
	}
	json_t *out = json_array();
	for (size_t i = 0; i < k; i++)
		json_array_append(out, c[i].row);
	mem_free(c);
	return out;
}

/* ---- outcomes ---- */

enum policy_next policy_failover(int sip_code, bool timeout)
{
	if (timeout || sip_code == 0 || sip_code == 408 || (sip_code >= 500 && sip_code < 600))
		return POLICY_FAILOVER;
	return POLICY_STOP;
}

const char *policy_fail_status(int sip_code, bool timeout, bool canceled)
{
	if (canceled)
		return "canceled";
	if (sip_code == 486 || sip_code == 600)
		return "busy";
	if (timeout || sip_code == 408 || sip_code == 480 || sip_code == 487)
		return "no-answer";
	return "failed";
}

int policy_q850(int sip_code)
{
	static const short map[][2] = {
	    {400, 41},	{401, 21},  {402, 21},	{403, 21},  {404, 1},	{405, 63}, {406, 79},
	    {407, 21},	{408, 102}, {410, 22},	{413, 127}, {414, 127}, {415, 79}, {416, 127},
	    {420, 127}, {421, 127}, {423, 127}, {480, 18},  {481, 41},	{482, 25}, {483, 25},
	    {484, 28},	{485, 1},   {486, 17},	{487, 127}, {488, 127}, {500, 41}, {501, 79},
	    {502, 38},	{503, 41},  {504, 102}, {505, 127}, {513, 127}, {600, 17}, {603, 21},
	    {604, 1},	{606, 58},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i][0] == sip_code)
			return map[i][1];
	if (sip_code == 0)
		return 38; /* no response at all: network out of order */
	if (sip_code < 300)
		return 16;
	return 31; /* normal, unspecified */
}

/* ---- carrier Request-URI ---- */

static bool uri_safe(const char *s, const char *extra)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || strchr(extra, ch)))
			return false;
	}
	return true;
}

int policy_carrier_uri(const json_t *carrier, const char *e164, char *out, size_t cap)
{
	char d[16];
	const char *host = json_str(carrier, "host"), *tp = json_str(carrier, "transport");
	const char *fmt = json_str(carrier, "number_format"),
		   *tech = json_str(carrier, "tech_prefix");
	if (!host || !*host || !uri_safe(host, ".-:[]") || digits_of(e164, d) < 0)
		return -EINVAL;
	if (tech && !uri_safe(tech, "*+.-_"))
		return -EINVAL;
	bool v6 = strchr(host, ':') && host[0] != '[';
	int64_t port = json_int(carrier, "port", 0);
	char portbuf[8] = "";
	if (port > 0 && port < 65536)
		snprintf(portbuf, sizeof(portbuf), ":%d", (int)port);
	const char *param = "";
	if (tp && !strcasecmp(tp, "tcp"))
		param = ";transport=tcp";
	else if (tp && !strcasecmp(tp, "tls"))
		param = ";transport=tls";
	bool plus = !fmt || strcmp(fmt, "digits") != 0;
	int n = snprintf(out, cap, "sip:%s%s%s@%s%s%s%s%s", tech ? tech : "", plus ? "+" : "", d,
			 v6 ? "[" : "", host, v6 ? "]" : "", portbuf, param);
	if (n < 0 || (size_t)n >= cap)
		return -E2BIG;
	return 0;
}

/* ---- pacer ---- */

#define PACER_BUCKETS 256
#define PACER_SWEEP_EVERY 1024 /* new keys between sweeps */

struct pslot {
	uint64_t next_us; /* the next free slot; an entry whose slot has passed holds nothing */
	struct pslot *next;
	char key[];
};

struct policy_pacer {
	pthread_mutex_t lock;
	struct pslot *b[PACER_BUCKETS];
	size_t n, added;
};

struct policy_pacer *policy_pacer_new(void)
{
	struct policy_pacer *p = mem_zalloc(sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void policy_pacer_free(struct policy_pacer *p)
{
	if (!p)
		return;
	for (int i = 0; i < PACER_BUCKETS; i++) {
		struct pslot *s = p->b[i];
		while (s) {
			struct pslot *nx = s->next;
			mem_free(s);
			s = nx;
		}
	}
	pthread_mutex_destroy(&p->lock);
	mem_free(p);
}

size_t policy_pacer_size(struct policy_pacer *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->n;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* Drops every key whose slot has passed: booking it again starts from now anyway. */
static void pacer_sweep(struct policy_pacer *p, uint64_t now_us)
{
	for (int i = 0; i < PACER_BUCKETS; i++) {
		struct pslot **pp = &p->b[i];
		while (*pp) {
			if ((*pp)->next_us <= now_us) {
				struct pslot *dead = *pp;
				*pp = dead->next;
				mem_free(dead);
				p->n--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

static unsigned pacer_hash(const char *k)
{
	unsigned h = 2166136261u;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h % PACER_BUCKETS;
}

uint64_t policy_pacer_reserve(struct policy_pacer *p, const char *key, unsigned rate,
			      uint64_t now_us)
{
	if (rate == 0 || !key)
		return 0;
	uint64_t interval = 1000000u / rate, wait;
	pthread_mutex_lock(&p->lock);
	unsigned h = pacer_hash(key);
	struct pslot *s = p->b[h];
	while (s && strcmp(s->key, key))
		s = s->next;
	if (!s) {
		if (++p->added % PACER_SWEEP_EVERY == 0)
			pacer_sweep(p, now_us);
		size_t kl = strlen(key);
		s = mem_alloc(sizeof(*s) + kl + 1);
		memcpy(s->key, key, kl + 1);
		s->next_us = 0;
		s->next = p->b[h];
		p->b[h] = s;
		p->n++;
	}
	uint64_t start = s->next_us > now_us ? s->next_us : now_us;
	wait = start - now_us;
	s->next_us = start + (interval ? interval : 1);
	pthread_mutex_unlock(&p->lock);
	return wait;
}
