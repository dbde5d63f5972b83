/* jobs.c: the jobs table behind the store-backed bus: insert with dedupe, batched claims
   (FOR UPDATE SKIP LOCKED on PostgreSQL), settlement, dead letters, listing, pruning. */
#include <string.h>

#include "internal.h"

#define JOB_COLS                                                                                   \
	"id, tenant_id, subject, payload, dedupe_key, order_key, state, attempts, max_attempts, "  \
	"run_at_us, last_error, created_us, updated_us"

static bool is_pg(struct store_tx *tx)
{
	return tx->st->be == &store_pg_backend;
}

int store_job_insert(struct store_tx *tx, const struct store_job *j)
{
	int64_t now = (int64_t)time_now_us();
	struct store_val v[] = {
	    {SV_TEXT, j->id, 0},
	    {j->tenant_id ? SV_TEXT : SV_NULL, j->tenant_id, 0},
	    {SV_TEXT, j->subject, 0},
	    {SV_TEXT, j->payload, 0},
	    {j->dedupe_key ? SV_TEXT : SV_NULL, j->dedupe_key, 0},
	    {j->order_key ? SV_TEXT : SV_NULL, j->order_key, 0},
	    {SV_TEXT, j->state, 0},
	    {SV_INT, NULL, j->attempts},
	    {SV_INT, NULL, j->max_attempts},
	    {SV_INT, NULL, (int64_t)j->run_at_us},
	    {j->last_error ? SV_TEXT : SV_NULL, j->last_error, 0},
	    {SV_INT, NULL, now},
	    {SV_INT, NULL, now},
	};
	int r = tx->st->be->exec(tx,
				 "INSERT INTO jobs (" JOB_COLS ") VALUES "
				 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
				 sizeof(v) / sizeof(v[0]), v);
	return r < 0 ? r : (r > 0 ? 1 : 0);
}

int store_job_claim(struct store_tx *tx, const char *subject, bool ordered, uint64_t now_us,
		    uint64_t lease_until_us, int limit, json_t **ret)
{
	char sql[1024];
	snprintf(sql, sizeof(sql),
		 "UPDATE jobs SET state = 'running', attempts = attempts + 1, run_at_us = ?, "
		 "updated_us = ? WHERE id IN (SELECT j.id FROM jobs j WHERE j.subject = ? AND "
		 "j.state IN ('queued', 'running') AND j.run_at_us <= ?%s ORDER BY %s LIMIT ?%s) "
		 "RETURNING id, tenant_id, subject, payload, order_key, attempts, max_attempts, "
		 "created_us",
		 ordered ? " AND (j.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs p WHERE "
			   "p.order_key = j.order_key AND p.state IN ('queued', 'running') AND "
			   "p.id < j.id))"
			 : "",
		 ordered ? "j.id" : "j.run_at_us", is_pg(tx) ? " FOR UPDATE SKIP LOCKED" : "");
	return stx_query(tx, ret, sql, "iisii", (int64_t)lease_until_us, (int64_t)now_us, subject,
			 (int64_t)now_us, (int64_t)limit);
}

int store_job_ready(struct store_tx *tx, const char *subject, uint64_t now_us)
{
	json_t *rows;
	int r = stx_query(tx, &rows,
			  "SELECT 1 AS x FROM jobs WHERE subject = ? AND state IN ('queued', "
			  "'running') AND run_at_us <= ? LIMIT 1",
			  "si", subject, (int64_t)now_us);
	if (r < 0)
		return r;
	r = json_array_size(rows) > 0;
	json_decref(rows);
	return r;
}

int store_job_next_at(struct store_tx *tx, const char *subject, uint64_t *ret_us)
{
	json_t *row;
	int r = stx_query_one(tx, &row,
			      "SELECT MIN(run_at_us) AS t FROM jobs WHERE subject = ? AND state IN "
			      "('queued', 'running')",
			      "s", subject);
	if (r < 0)
		return r;
	json_t *t = json_object_get(row, "t");
	r = json_is_integer(t) ? 0 : -ENOENT;
	if (!r)
		*ret_us = (uint64_t)json_integer_value(t);
	json_decref(row);
	return r;
}

int store_job_ack(struct store_tx *tx, const char *id)
{
	return stx_exec(tx, "UPDATE jobs SET state = 'done', updated_us = ? WHERE id = ?", "is",
			(int64_t)time_now_us(), id);
}

int store_job_ack_many(struct store_tx *tx, const char *const *ids, size_t n)
{
	if (!n)
		return 0;
	/* one statement for the batch: the ids as a JSON array (they are [A-Za-z0-9]) */
	struct buf a;
	buf_init(&a, 0);
	buf_puts(&a, "[");
	for (size_t i = 0; i < n; i++)
		buf_printf(&a, "%s\"%s\"", i ? "," : "", ids[i]);
	buf_puts(&a, "]");
	int r = stx_exec(tx,
			 is_pg(tx) ? "UPDATE jobs SET state = 'done', updated_us = ? WHERE id IN "
				     "(SELECT json_array_elements_text(?::json))"
				   : "UPDATE jobs SET state = 'done', updated_us = ? WHERE id IN "
				     "(SELECT value FROM json_each(?))",
			 "is", (int64_t)time_now_us(), a.p);
	buf_free(&a);
	return r;
}

int store_job_nak(struct store_tx *tx, const char *id, uint64_t run_at_us, const char *error)
{
	return stx_exec(
	    tx,
	    "UPDATE jobs SET state = 'queued', run_at_us = ?, last_error = ?, updated_us = ? "
	    "WHERE id = ?",
	    "isis", (int64_t)run_at_us, error, (int64_t)time_now_us(), id);
}

int store_job_release(struct store_tx *tx, const char *id)
{
	return stx_exec(tx,
			"UPDATE jobs SET state = 'queued', attempts = CASE WHEN attempts > 0 THEN "
			"attempts - 1 ELSE 0 END, run_at_us = ?, updated_us = ? WHERE id = ?",
			"iis", (int64_t)time_now_us(), (int64_t)time_now_us(), id);
}

int store_job_dead(struct store_tx *tx, const char *id, const char *error)
{
	return stx_exec(
	    tx, "UPDATE jobs SET state = 'dead', last_error = ?, updated_us = ? WHERE id = ?",
	    "sis", error, (int64_t)time_now_us(), id);
}

int store_job_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	if (!tenant_id)
		return stx_query_one(tx, ret, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", "s",
				     id);
	return stx_query_one(tx, ret,
			     "SELECT " JOB_COLS " FROM jobs WHERE id = ? AND tenant_id = ?", "ss",
			     id, tenant_id);
}

int store_job_requeue(struct store_tx *tx, const char *tenant_id, const char *id)
{
	json_t *row;
	int r = store_job_get(tx, tenant_id, id, &row);
	if (r < 0)
		return r;
	bool dead = !strcmp(json_string_value(json_object_get(row, "state")), "dead");
	json_decref(row);
	if (!dead)
		return -EBUSY;
	return stx_exec(tx,
			"UPDATE jobs SET state = 'queued', attempts = 0, run_at_us = ?, "
			"updated_us = ? WHERE id = ? AND state = 'dead'",
			"iis", (int64_t)time_now_us(), (int64_t)time_now_us(), id);
}

int store_job_list(struct store_tx *tx, const char *tenant_id, const struct store_job_filter *f,
		   json_t **ret)
{
	struct store_val v[4];
	size_t n = 0;
	struct buf sql;
	buf_init(&sql, 0);
	buf_puts(&sql, "SELECT " JOB_COLS " FROM jobs WHERE 1 = 1");
	if (tenant_id) {
		buf_puts(&sql, " AND tenant_id = ?");
		v[n++] = (struct store_val){SV_TEXT, tenant_id, 0};
	}
	if (f->state) {
		buf_puts(&sql, " AND state = ?");
		v[n++] = (struct store_val){SV_TEXT, f->state, 0};
	}
	if (f->subject) {
		buf_puts(&sql, " AND subject = ?");
		v[n++] = (struct store_val){SV_TEXT, f->subject, 0};
	}
	int r = store_list_page(tx, ret, sql.p, n, v, f->cursor, f->limit);
	buf_free(&sql);
	return r;
}

int store_job_outbox(struct store_tx *tx, int limit, json_t **ret)
{
	return stx_query(tx, ret,
			 "SELECT " JOB_COLS
			 " FROM jobs WHERE state = 'outbox' ORDER BY created_us, "
			 "id LIMIT ?",
			 "i", (int64_t)limit);
}

int store_job_delete(struct store_tx *tx, const char *id)
{
	return stx_exec(tx, "DELETE FROM jobs WHERE id = ?", "s", id);
}

int store_job_prune(struct store_tx *tx, uint64_t before_us, int limit)
{
	return stx_exec(
	    tx,
	    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'done' AND "
	    "updated_us < ? LIMIT ?)",
	    "ii", (int64_t)before_us, (int64_t)limit);
}
