/* outbox.c: sends the auth outbox (password resets, e-mail verifications, invitations)
   through the same SMTP relays as tenant e-mail; a sent mail's body, which holds a one-time
   token, is purged. With no relay configured the mails wait (and stay visible to operators
   with auth.outbox_reveal). */
#include <string.h>
#include <time.h>

#include "internal.h"

#define OUTBOX_BATCH 20
#define OUTBOX_ATTEMPTS 8

struct due {
	json_t *rows;
};

static int due_fn(struct store_tx *tx, void *arg)
{
	struct due *d = arg;
	return store_outbox_due(tx, time_now_us(), OUTBOX_BATCH, &d->rows);
}

struct oroute {
	const char *tenant;
	json_t *rows;
};

static int oroute_fn(struct store_tx *tx, void *arg)
{
	struct oroute *o = arg;
	return store_routes(tx, o->tenant, "email", NULL, &o->rows);
}

struct ores {
	const char *id, *status, *error;
	uint64_t next_us;
};

static int ores_fn(struct store_tx *tx, void *arg)
{
	struct ores *o = arg;
	return store_outbox_result(tx, o->id, o->status, o->error, o->next_us);
}

/* 1 sent, 0 no relay (left waiting), -1 failed this time (recorded). */
static int send_one(struct messaging *m, json_t *row)
{
	struct oroute o = {.tenant = json_str(row, "tenant_id")};
	if (store_tx(m->st, NULL, STORE_READ, oroute_fn, &o) < 0)
		return -1;
	size_t n = json_array_size(o.rows);
	if (!n) {
		json_decref(o.rows);
		return 0;
	}
	const char *to[] = {json_str(row, "to_addr"), NULL};
	char mid[ID_LEN + 32];
	snprintf(mid, sizeof(mid), "<%s@irisx>", json_str(row, "id"));
	struct email_msg msg = {.from = m->cfg->email_from,
				.subject = json_str(row, "subject"),
				.text = json_str(row, "body"),
				.to = to,
				.message_id = mid};
	struct buf mime;
	buf_init(&mime, 0);
	struct smtp_result res = {0};
	int r = email_mime_build(&msg, time_now_us(), &mime);
	bool sent = false, permanent = r < 0;
	for (size_t i = 0; i < n && r >= 0 && !sent && !permanent; i++) {
		struct prov *p = prov_get(m, json_str(json_array_get(o.rows, i), "id"));
		if (!p || !prov_available(p, time_now_us()))
			continue;
		struct smtp_config sc;
		prov_smtp_config(p, &sc);
		sent = smtp_send(&sc, m->cfg->email_from, to, 1, mime.p, mime.len, &res) == 0;
		permanent = !sent && res.permanent;
	}
	buf_free(&mime);
	json_decref(o.rows);
	int attempts = (int)json_int(row, "attempts", 0) + 1;
	struct ores out = {.id = json_str(row, "id")};
	if (sent) {
		out.status = "sent";
	} else if (permanent || attempts >= OUTBOX_ATTEMPTS) {
		out.status = "failed";
		out.error = res.text[0] ? res.text : "the message could not be built";
	} else {
		out.status = "queued";
		out.error = res.text[0] ? res.text : "every relay failed or was unavailable";
		out.next_us =
		    time_now_us() + bus_backoff_us(30 * 1000000ull, 3600 * 1000000ull, attempts);
	}
	store_tx(m->st, NULL, STORE_WRITE, ores_fn, &out);
	return sent ? 1 : -1;
}

void *outbox_main(void *arg)
{
	struct messaging *m = arg;
	for (;;) {
		pthread_mutex_lock(&m->qlock);
		bool stop = m->stop_outbox;
		pthread_mutex_unlock(&m->qlock);
		if (stop)
			break;
		struct due d = {0};
		if (store_tx(m->st, NULL, STORE_READ, due_fn, &d) >= 0) {
			size_t i;
			json_t *row;
			json_array_foreach (d.rows, i, row)
				send_one(m, row);
			json_decref(d.rows);
		}
		struct timespec ts = {0, 500 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return NULL;
}
