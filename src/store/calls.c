/* calls.c: the calls table (one row per leg, the call record once ended): the SQL behind
   src/calls and the /v1/calls routes. Portable SQL for SQLite and PostgreSQL. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CALL_COLS                                                                                  \
	"id, tenant_id, parent_id, direction, from_addr, to_addr, status, url, method, "           \
	"fallback_url, fallback_method, twiml, application_id, status_callback, "                  \
	"status_callback_method, status_callback_events, timeout_s, time_limit_s, record, "        \
	"carrier_id, attempts, sip_code, q850_cause, end_reason, created_us, ring_us, answer_us, " \
	"end_us, duration_s, billed_s, cost_micros, quality, recording_ids, engine_run, seen_us, " \
	"updated_us"

static struct store_val int_or_null(int64_t i, bool present)
{
	return (struct store_val){present ? SV_INT : SV_NULL, NULL, i};
}

int store_call_insert(struct store_tx *tx, const struct store_call *c)
{
	struct store_val v[] = {
	    sv_text_or_null(c->id),
	    sv_text_or_null(c->tenant_id),
	    sv_text_or_null(c->parent_id),
	    sv_text_or_null(c->direction),
	    sv_text_or_null(c->from),
	    sv_text_or_null(c->to),
	    sv_text_or_null(c->status ? c->status : "queued"),
	    sv_text_or_null(c->url),
	    sv_text_or_null(c->method),
	    sv_text_or_null(c->fallback_url),
	    sv_text_or_null(c->fallback_method),
	    sv_text_or_null(c->twiml),
	    sv_text_or_null(c->application_id),
	    sv_text_or_null(c->status_callback),
	    sv_text_or_null(c->status_callback_method),
	    sv_text_or_null(c->status_callback_events),
	    int_or_null(c->timeout_s, c->timeout_s > 0),
	    int_or_null(c->time_limit_s, c->time_limit_s > 0),
	    {SV_INT, NULL, c->record ? 1 : 0},
	    sv_text_or_null(c->engine_run),
	    {SV_INT, NULL, store_now()},
	    {SV_INT, NULL, store_now()},
	};
	return insert_done(tx->st->be->exec(
	    tx,
	    "INSERT INTO calls (id, tenant_id, parent_id, direction, from_addr, to_addr, status, "
	    "url, method, fallback_url, fallback_method, twiml, application_id, status_callback, "
	    "status_callback_method, status_callback_events, timeout_s, time_limit_s, record, "
	    "engine_run, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?)",
	    sizeof(v) / sizeof(v[0]), v));
}

int store_call_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	if (!tenant_id)
		return stx_query_one(tx, ret, "SELECT " CALL_COLS " FROM calls WHERE id = ?", "s",
				     id);
	return stx_query_one(tx, ret,
			     "SELECT " CALL_COLS " FROM calls WHERE id = ? AND tenant_id = ?", "ss",
			     id, tenant_id);
}

int store_call_list(struct store_tx *tx, const char *tenant_id, const struct store_call_filter *f,
		    json_t **ret)
{
	struct store_val v[8];
	size_t n = 0;
	struct buf sql;
	buf_init(&sql, 0);
	buf_puts(&sql, "SELECT " CALL_COLS " FROM calls WHERE tenant_id = ?");
	v[n++] = (struct store_val){SV_TEXT, tenant_id, 0};
	const struct {
		const char *cond, *val;
	} c[] = {{" AND status = ?", f->status},
		 {" AND direction = ?", f->direction},
		 {" AND from_addr = ?", f->from},
		 {" AND to_addr = ?", f->to},
		 {" AND parent_id = ?", f->parent_id}};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].val) {
			buf_puts(&sql, c[i].cond);
			v[n++] = (struct store_val){SV_TEXT, c[i].val, 0};
		}
	if (f->since_us) {
		buf_puts(&sql, " AND created_us >= ?");
		v[n++] = (struct store_val){SV_INT, NULL, (int64_t)f->since_us};
	}
	if (f->until_us) {
		buf_puts(&sql, " AND created_us < ?");
		v[n++] = (struct store_val){SV_INT, NULL, (int64_t)f->until_us};
	}
	int r = store_list_page(tx, ret, sql.p, n, v, f->cursor, f->limit);
	buf_free(&sql);
	return r;
}

int store_call_update(struct store_tx *tx, const char *id, const char *const *from,
		      const struct store_call_update *u)
{
	struct sql_upd q;
	sql_upd_begin(&q, "calls");
	sql_upd_text(&q, "status", u->status, false);
	sql_upd_text(&q, "carrier_id", u->carrier_id, false);
	sql_upd_text(&q, "attempts", u->attempts, false);
	sql_upd_text(&q, "engine_run", u->engine_run, false);
	sql_upd_text(&q, "url", u->url, false);
	sql_upd_text(&q, "method", u->method, false);
	sql_upd_text(&q, "twiml", u->twiml, false);
	sql_upd_int(&q, "sip_code", u->sip_code, u->sip_code >= 0);
	sql_upd_int(&q, "ring_us", (int64_t)u->ring_us, u->ring_us != 0);
	sql_upd_int(&q, "answer_us", (int64_t)u->answer_us, u->answer_us != 0);
	sql_upd_int(&q, "seen_us", (int64_t)u->seen_us, u->seen_us != 0);
	buf_puts(&q.sql, " WHERE id = ? AND end_us IS NULL");
	q.v[q.n++] = (struct store_val){SV_TEXT, id, 0};
	if (from && from[0]) {
		buf_puts(&q.sql, " AND status IN (");
		for (size_t i = 0; from[i]; i++) {
			if (q.n >= STORE_MAX_PARAMS) {
				buf_free(&q.sql);
				return -E2BIG;
			}
			buf_puts(&q.sql, i ? ", ?" : "?");
			q.v[q.n++] = (struct store_val){SV_TEXT, from[i], 0};
		}
		buf_puts(&q.sql, ")");
	}
	int r = tx->st->be->exec(tx, q.sql.p, q.n, q.v);
	buf_free(&q.sql);
	return r < 0 ? r : r > 0;
}

int store_call_finish(struct store_tx *tx, const char *id, const struct store_call_end *e)
{
	struct sql_upd q;
	sql_upd_begin(&q, "calls");
	sql_upd_int(&q, "end_us", e->end_us ? (int64_t)e->end_us : store_now(), true);
	sql_upd_int(&q, "duration_s", e->duration_s > 0 ? e->duration_s : 0, true);
	sql_upd_int(&q, "billed_s", e->billed_s > 0 ? e->billed_s : 0, true);
	sql_upd_set(&q, "cost_micros", int_or_null(e->cost_micros, e->cost_micros >= 0));
	/* NULL strings and negative codes keep what the live call already recorded */
	sql_upd_text(&q, "status", e->status, false);
	sql_upd_text(&q, "end_reason", e->end_reason, false);
	sql_upd_text(&q, "quality", e->quality, false);
	sql_upd_text(&q, "carrier_id", e->carrier_id, false);
	sql_upd_text(&q, "attempts", e->attempts, false);
	sql_upd_int(&q, "sip_code", e->sip_code, e->sip_code >= 0);
	sql_upd_int(&q, "q850_cause", e->q850_cause, e->q850_cause >= 0);
	sql_upd_int(&q, "answer_us", (int64_t)e->answer_us, e->answer_us != 0);
	buf_puts(&q.sql, " WHERE id = ? AND end_us IS NULL");
	q.v[q.n++] = (struct store_val){SV_TEXT, id, 0};
	int r = tx->st->be->exec(tx, q.sql.p, q.n, q.v);
	buf_free(&q.sql);
	return r < 0 ? r : r > 0;
}

int store_call_add_recording(struct store_tx *tx, const char *id, const char *recording_id)
{
	json_t *row;
	int r = stx_query_one(tx, &row, "SELECT recording_ids FROM calls WHERE id = ?", "s", id);
	if (r < 0)
		return r;
	json_t *ids = json_loads(json_str(row, "recording_ids") ?: "[]", 0, NULL);
	json_decref(row);
	if (!json_is_array(ids)) {
		json_decref(ids);
		ids = json_array();
	}
	json_array_append_new(ids, json_string(recording_id));
	char *text = json_dumps(ids, JSON_COMPACT);
	json_decref(ids);
	if (!text)
		return -ENOMEM;
	r = stx_exec(tx, "UPDATE calls SET recording_ids = ?, updated_us = ? WHERE id = ?", "sis",
		     text, store_now(), id);
	free(text);
	return r < 0 ? r : (r == 0 ? -ENOENT : 0);
}

int store_calls_orphaned(struct store_tx *tx, const char *run, uint64_t before_us, int limit,
			 json_t **ret)
{
	return stx_query(tx, ret,
			 "SELECT " CALL_COLS
			 " FROM calls WHERE end_us IS NULL AND engine_run IS NOT "
			 "NULL AND engine_run <> ? AND created_us < ? ORDER BY id LIMIT ?",
			 "sii", run ? run : "", (int64_t)before_us, (int64_t)limit);
}

int store_calls_live_count(struct store_tx *tx, const char *tenant_id, int *ret)
{
	json_t *row;
	int r = stx_query_one(tx, &row,
			      "SELECT COUNT(*) AS n FROM calls WHERE tenant_id = ? AND end_us IS "
			      "NULL AND status <> 'queued'",
			      "s", tenant_id);
	if (r < 0)
		return r;
	*ret = (int)json_integer_value(json_object_get(row, "n"));
	json_decref(row);
	return 0;
}

int store_calls_spend(struct store_tx *tx, const char *tenant_id, uint64_t since_us,
		      int64_t *ret_micros)
{
	json_t *row;
	int r =
	    stx_query_one(tx, &row,
			  "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS spend FROM "
			  "calls WHERE tenant_id = ? AND end_us IS NOT NULL AND end_us >= ? AND "
			  "cost_micros IS NOT NULL",
			  "si", tenant_id, (int64_t)since_us);
	if (r < 0)
		return r;
	json_t *s = json_object_get(row, "spend");
	*ret_micros = json_is_integer(s)
			  ? json_integer_value(s)
			  : (json_is_string(s) ? strtoll(json_string_value(s), NULL, 10) : 0);
	json_decref(row);
	return 0;
}
