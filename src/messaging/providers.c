/* providers.c: providers at run time: SMPP binds started from the stored configuration,
   a circuit breaker per provider, and the health state written back for the API. */
#include <string.h>

#include "internal.h"

#define BREAKER_FAILS 3
#define BREAKER_OPEN_US (30 * 1000000ull)

struct pload {
	const char *id;
	json_t *row;
};

static int load_fn(struct store_tx *tx, void *arg)
{
	struct pload *l = arg;
	return store_provider_get(tx, NULL, true, l->id, &l->row);
}

struct health {
	const char *id, *state;
};

static int health_fn(struct store_tx *tx, void *arg)
{
	struct health *h = arg;
	return store_provider_health(tx, h->id, h->state);
}

static void set_health(struct messaging *m, const char *id, const char *state)
{
	struct health h = {id, state};
	store_tx(m->st, NULL, STORE_WRITE, health_fn, &h);
}

static void on_bound(bool up, const char *why, void *arg)
{
	struct prov *p = arg;
	(void)why;
	set_health(p->m, p->id, up ? "up" : "down");
}

static void on_submitted(const struct smpp_submit_result *r, void *arg)
{
	struct prov *p = arg;
	struct work *w = mem_zalloc(sizeof(*w));
	w->kind = W_SUBMITTED;
	w->ref = r->arg;
	w->status = r->status;
	snprintf(w->pmid, sizeof(w->pmid), "%s", r->message_id ? r->message_id : "");
	work_push(p->m, w);
}

static uint32_t on_delivered(const struct smpp_deliver *d, void *arg)
{
	return sms_on_deliver(arg, d);
}

static int start_binds(struct prov *p)
{
	json_t *c = p->config;
	int n = (int)json_int(c, "binds", 1);
	if (n < 1 || n > BINDS_MAX)
		n = 1;
	struct smpp_config sc = {.host = json_str(c, "host"),
				 .port = (int)json_int(c, "port", 2775),
				 .system_id = json_str(c, "system_id"),
				 .password = json_str(c, "password"),
				 .system_type = json_str(c, "system_type"),
				 .window = (int)json_int(c, "window", 10),
				 .tps = (int)json_int(c, "tps", 0)};
	struct smpp_callbacks cb = {
	    .submitted = on_submitted, .delivered = on_delivered, .bound = on_bound, .arg = p};
	/* "pair": a transmitter and a receiver per bind, for an SMSC that takes no
	   bind_transceiver (SMPP 3.3, Kannel's drive_smpp); submits go to the transmitters */
	bool pair = !strcmp(json_str(c, "bind") ?: "transceiver", "pair");
	for (int i = 0; i < n; i++) {
		sc.bind_type = pair ? SMPP_TRANSMITTER : SMPP_TRANSCEIVER;
		int r = smpp_client_new(&sc, &cb, &p->binds[p->nbinds]);
		if (r < 0)
			return r;
		p->nbinds++;
		if (!pair)
			continue;
		sc.bind_type = SMPP_RECEIVER;
		if ((r = smpp_client_new(&sc, &cb, &p->rx[p->nrx])) < 0)
			return r;
		p->nrx++;
	}
	return 0;
}

struct prov *prov_get(struct messaging *m, const char *id)
{
	pthread_mutex_lock(&m->plock);
	for (struct prov *p = m->provs; p; p = p->next)
		if (!strcmp(p->id, id)) {
			pthread_mutex_unlock(&m->plock);
			return p;
		}
	pthread_mutex_unlock(&m->plock);
	struct pload l = {.id = id};
	if (store_tx(m->st, NULL, STORE_READ, load_fn, &l) < 0)
		return NULL;
	struct prov *p = mem_zalloc(sizeof(*p));
	p->m = m;
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->tenant_id, sizeof(p->tenant_id), "%s", json_str(l.row, "tenant_id") ?: "");
	snprintf(p->kind, sizeof(p->kind), "%s", json_str(l.row, "kind") ?: "");
	p->config = json_loads(json_str(l.row, "config") ?: "{}", 0, NULL);
	if (!p->config)
		p->config = json_object();
	json_decref(l.row);
	pthread_mutex_lock(&m->plock);
	for (struct prov *q = m->provs; q; q = q->next)
		if (!strcmp(q->id, id)) { /* another thread won the race */
			pthread_mutex_unlock(&m->plock);
			json_decref(p->config);
			mem_free(p);
			return q;
		}
	p->next = m->provs;
	m->provs = p;
	if (!strcmp(p->kind, "smpp"))
		start_binds(p);
	pthread_mutex_unlock(&m->plock);
	return p;
}

static void prov_free(struct prov *p)
{
	for (int i = 0; i < p->nbinds; i++)
		smpp_client_free(p->binds[i]);
	for (int i = 0; i < p->nrx; i++)
		smpp_client_free(p->rx[i]);
	json_decref(p->config);
	mem_free(p);
}

void prov_free_all(struct messaging *m)
{
	pthread_mutex_lock(&m->plock);
	struct prov *list = m->provs;
	m->provs = NULL;
	pthread_mutex_unlock(&m->plock);
	for (struct prov *p = list, *n; p; p = n) {
		n = p->next;
		prov_free(p);
	}
}

void messaging_forget_provider(struct messaging *m, const char *id)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->plock);
	struct prov **pp = &m->provs, *gone = NULL;
	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->id, id)) {
			gone = *pp;
			*pp = gone->next;
			break;
		}
	pthread_mutex_unlock(&m->plock);
	/* submits in flight on its binds are reported (SMPP_ESME_RSYSERR) and routed again */
	if (gone)
		prov_free(gone);
	/* an enabled SMPP provider binds again at once (inbound and receipts flow) */
	struct pload l = {.id = id};
	if (store_tx(m->st, NULL, STORE_READ, load_fn, &l) < 0)
		return;
	bool smpp = !strcmp(json_str(l.row, "kind") ?: "", "smpp") && json_int(l.row, "enabled", 0);
	json_decref(l.row);
	if (smpp)
		prov_get(m, id);
}

bool prov_available(struct prov *p, uint64_t now_us)
{
	pthread_mutex_lock(&p->m->plock);
	bool ok = p->open_until_us <= now_us;
	pthread_mutex_unlock(&p->m->plock);
	if (ok && !strcmp(p->kind, "smpp")) {
		ok = false;
		for (int i = 0; i < p->nbinds && !ok; i++)
			ok = smpp_client_bound(p->binds[i]);
	}
	return ok;
}

void prov_result(struct prov *p, bool ok)
{
	bool opened = false, closed = false;
	pthread_mutex_lock(&p->m->plock);
	if (ok) {
		closed = p->fails >= BREAKER_FAILS;
		p->fails = 0;
		p->open_until_us = 0;
	} else if (++p->fails == BREAKER_FAILS) {
		p->open_until_us = time_now_us() + BREAKER_OPEN_US;
		opened = true;
	} else if (p->fails > BREAKER_FAILS) {
		p->open_until_us = time_now_us() + BREAKER_OPEN_US; /* half-open try failed */
	}
	pthread_mutex_unlock(&p->m->plock);
	if (opened || closed)
		set_health(p->m, p->id, opened ? "down" : "up");
}

static int smpp_ids_fn(struct store_tx *tx, void *arg)
{
	json_t **rows = arg;
	return store_provider_list(tx, NULL, NULL, STORE_LIST_MAX, rows);
}

void prov_start_all_smpp(struct messaging *m)
{
	/* binds of the operator's SMPP providers come up at start so inbound messages and
	   receipts flow before anything is sent */
	json_t *rows = NULL;
	if (store_tx(m->st, NULL, STORE_READ, smpp_ids_fn, &rows) < 0)
		return;
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		if (!strcmp(json_str(r, "kind") ?: "", "smpp") && json_int(r, "enabled", 0) == 1)
			prov_get(m, json_str(r, "id"));
	}
	json_decref(rows);
}

void prov_smtp_config(const struct prov *p, struct smtp_config *ret)
{
	json_t *c = p->config;
	const char *tls = json_str(c, "tls");
	*ret =
	    (struct smtp_config){.host = json_str(c, "host"),
				 .port = (int)json_int(c, "port", 25),
				 .tls = !tls || !strcmp(tls, "none") ? SMTP_TLS_NONE
					: !strcmp(tls, "tls")	     ? SMTP_TLS_IMPLICIT
								     : SMTP_TLS_STARTTLS,
				 .username = json_str(c, "username"),
				 .password = json_str(c, "password"),
				 .timeout_ms = (int)json_int(c, "timeout_ms", 30000),
				 .verify_peer = !json_is_false(json_object_get(c, "verify_peer"))};
}
