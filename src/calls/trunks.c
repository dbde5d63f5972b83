/* trunks.c: every enabled carrier that registers or is pinged becomes an engine trunk
   (voice_trunk_add), resynchronised from the store every 15 s; OPTIONS and REGISTER results
   are written back as the carrier's health. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- trunks: every enabled carrier that registers or is pinged ---- */

static int carriers_fn(struct store_tx *tx, void *arg)
{
	return store_carriers_enabled(tx, (json_t **)arg);
}

struct trunk_work {
	json_t *rows;
};

void trunks_sync(struct calls *c, json_t *rows)
{
	json_t *seen = json_object();
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		const char *id = json_str(row, "id");
		int64_t upd = json_int(row, "updated_us", 0);
		json_object_set_new(seen, id, json_true());
		json_t *have = json_object_get(c->trunks, id);
		if (have && json_int(have, "updated_us", 0) == upd)
			continue;
		if (have) {
			voice_trunk_remove(c->engine, (uint64_t)json_int(have, "trunk", 0));
			json_object_del(c->trunks, id);
		}
		int64_t reg = json_int(row, "register_expires", 0),
			ping = json_int(row, "ping_ms", 0);
		if (!reg && !ping)
			continue;
		char uri[300];
		const char *tr = json_str(row, "transport");
		snprintf(uri, sizeof(uri), "sip:%s:%d%s%s", json_str(row, "host"),
			 (int)json_int(row, "port", 5060),
			 tr && strcmp(tr, "udp") ? ";transport=" : "",
			 tr && strcmp(tr, "udp") ? tr : "");
		struct voice_trunk t = {.uri = uri,
					.user = json_str(row, "username"),
					.password = json_str(row, "password"),
					.register_expires = (unsigned)reg,
					.ping_ms = (unsigned)ping};
		uint64_t tid;
		if (voice_trunk_add(c->engine, &t, &tid) < 0) {
			calls_log(LOG_WARN, "carrier trunk not started", "carrier", id, NULL);
			continue;
		}
		json_object_set_new(c->trunks, id,
				    json_pack("{s:I,s:I}", "trunk", (json_int_t)tid, "updated_us",
					      (json_int_t)upd));
		char tk[24];
		snprintf(tk, sizeof(tk), "%llu", (unsigned long long)tid);
		json_object_set_new(c->trunk_ids, tk, json_string(id));
	}
	const char *id;
	json_t *v, *tmp;
	json_object_foreach_safe(c->trunks, tmp, id, v)
	{
		if (!json_object_get(seen, id)) {
			voice_trunk_remove(c->engine, (uint64_t)json_int(v, "trunk", 0));
			json_object_del(c->trunks, id);
		}
	}
	json_decref(seen);
}

void trunks_work(struct calls *c, void *arg)
{
	(void)arg;
	json_t *rows = NULL;
	if (store_tx(c->st, NULL, STORE_READ, carriers_fn, &rows) < 0)
		return;
	struct task *t = mem_zalloc(sizeof(*t));
	t->kind = T_REFUSED; /* carried as a row set; handled below */
	t->row = json_pack("{s:o}", "trunks", rows);
	calls_post(c, t);
}

void trunks_on_event(struct calls *c, const struct voice_event *ev)
{
	char tk[24];
	snprintf(tk, sizeof(tk), "%llu", (unsigned long long)ev->call);
	const char *carrier = json_string_value(json_object_get(c->trunk_ids, tk));
	if (!carrier)
		return;
	if (ev->type == VOICE_EV_TRUNK_REG)
		rec_carrier_health(c, carrier, NULL, ev->code == 200 ? "registered" : "failed");
	else
		rec_carrier_health(c, carrier, ev->type == VOICE_EV_TRUNK_UP ? "up" : "down", NULL);
}
