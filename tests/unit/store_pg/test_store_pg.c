/* test_store_pg.c: the PostgreSQL backend against a live server (IRISX_TEST_PG_URL and
   IRISX_TEST_PG_MIGRATE_URL, set by scripts/test.sh): migrations are idempotent, and
   row-level security keeps a tenant's transaction to its own rows even when the SQL names
   another tenant. Skipped (77) without a server. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "../test.h"

struct ids {
	char ta[ID_LEN + 1], tb[ID_LEN + 1], ub[ID_LEN + 1], kb[ID_LEN + 1];
	char email[64];
	char ca[ID_LEN + 1];
};

static int seed_fn(struct store_tx *tx, void *arg)
{
	struct ids *x = arg;
	char ua[ID_LEN + 1], ea[80];
	id_new("US", ua);
	snprintf(ea, sizeof(ea), "a-%s", x->email);
	int r = store_tenant_insert(tx, x->ta, "A", false);
	if (r == 0)
		r = store_tenant_insert(tx, x->tb, "B", false);
	if (r == 0)
		r = store_user_insert(tx, x->ta, ua, ea, NULL, "h", "owner", "active");
	if (r == 0)
		r = store_user_insert(tx, x->tb, x->ub, x->email, NULL, "h", "owner", "active");
	if (r == 0)
		r = store_apikey_insert(tx, x->tb, x->kb, "k", "irx_live_x", x->kb, "admin", NULL);
	return r;
}

/* In tenant A's scope, ask for B's rows by naming B in the query itself. */
static int cross_read_fn(struct store_tx *tx, void *arg)
{
	struct ids *x = arg;
	json_t *row = NULL;
	int r1 = store_user_get(tx, x->tb, x->ub, &row);
	json_decref(row);
	row = NULL;
	int r2 = store_apikey_get(tx, x->tb, x->kb, &row);
	json_decref(row);
	row = NULL;
	int r3 = store_tenant_get(tx, x->tb, &row);
	json_decref(row);
	CHECK_EQ_INT(r1, -ENOENT);
	CHECK_EQ_INT(r2, -ENOENT);
	CHECK_EQ_INT(r3, -ENOENT);
	return 0;
}

static int cross_write_fn(struct store_tx *tx, void *arg)
{
	struct ids *x = arg;
	CHECK_EQ_INT(store_user_update(tx, x->tb, x->ub, "viewer", NULL, NULL), -ENOENT);
	CHECK_EQ_INT(store_apikey_revoke(tx, x->tb, x->kb), -ENOENT);
	CHECK_EQ_INT(store_tenant_delete(tx, x->tb), -ENOENT);
	/* inserting a row for another tenant violates the policy's WITH CHECK */
	char id[ID_LEN + 1];
	id_new("KE", id);
	CHECK(store_apikey_insert(tx, x->tb, id, "k", "p", id, "admin", NULL) < 0);
	return -ECANCELED;
}

static int own_read_fn(struct store_tx *tx, void *arg)
{
	struct ids *x = arg;
	json_t *row = NULL;
	CHECK_EQ_INT(store_user_get(tx, x->tb, x->ub, &row), 0);
	json_decref(row);
	row = NULL;
	CHECK_EQ_INT(store_apikey_get(tx, x->tb, x->kb, &row), 0);
	CHECK_STR(json_string_value(json_object_get(row, "role")), "admin");
	json_decref(row);
	return 0;
}

/* calls: A's call is invisible to B's scope; the spend and live counts run on PostgreSQL */
static int call_insert_fn(struct store_tx *tx, void *arg)
{
	struct ids *x = arg;
	struct store_call c = {.id = x->ca,
			       .tenant_id = x->ta,
			       .direction = "outbound-api",
			       .from = "+15550001000",
			       .to = "+15550002000",
			       .status = "ringing"};
	CHECK_EQ_INT(store_call_insert(tx, &c), 0);
	struct store_call_end e = {.status = "completed",
				   .sip_code = -1,
				   .q850_cause = 16,
				   .duration_s = 5,
				   .billed_s = 60,
				   .cost_micros = 7000};
	CHECK_EQ_INT(store_call_finish(tx, x->ca, &e), 1);
	CHECK_EQ_INT(store_call_finish(tx, x->ca, &e), 0);
	CHECK_EQ_INT(store_call_add_recording(tx, x->ca, "RE1"), 0);
	return 0;
}

static int call_cross_fn(struct store_tx *tx, void *arg)
{
	struct ids *x = arg;
	json_t *row = NULL, *rows = NULL;
	CHECK_EQ_INT(store_call_get(tx, x->ta, x->ca, &row), -ENOENT);
	json_decref(row);
	struct store_call_filter f = {.limit = 10};
	CHECK_EQ_INT(store_call_list(tx, x->ta, &f, &rows), 0);
	CHECK_EQ_INT(json_array_size(rows), 0);
	json_decref(rows);
	return 0;
}

static int call_own_fn(struct store_tx *tx, void *arg)
{
	struct ids *x = arg;
	json_t *rows = NULL;
	struct store_call_filter f = {.limit = 10, .status = "completed", .since_us = 1};
	CHECK_EQ_INT(store_call_list(tx, x->ta, &f, &rows), 0);
	CHECK_EQ_INT(json_array_size(rows), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(rows, 0), "recording_ids")),
		  "[\"RE1\"]");
	json_decref(rows);
	int64_t spend = -1;
	CHECK_EQ_INT(store_calls_spend(tx, x->ta, 0, &spend), 0);
	CHECK_EQ_INT(spend, 7000);
	int live = -1;
	CHECK_EQ_INT(store_calls_live_count(tx, x->ta, &live), 0);
	CHECK_EQ_INT(live, 0);
	return 0;
}

/* No writer thread on PostgreSQL: store_tx_async runs the transaction and completes it
   before returning, with the result store_tx would have given. */
struct async_seen {
	int calls, result;
};

static void async_done(void *arg, int result)
{
	struct async_seen *a = arg;
	a->calls++;
	a->result = result;
}

static void test_async(struct store *st, struct ids *x)
{
	struct async_seen a = {0, 1}, b = {0, 1};
	CHECK_EQ_INT(store_tx_async(st, x->tb, STORE_READ, own_read_fn, x, async_done, &a), 0);
	CHECK_EQ_INT(a.calls, 1);
	CHECK_EQ_INT(a.result, 0);
	CHECK_EQ_INT(store_tx_async(st, x->ta, STORE_WRITE, cross_write_fn, x, async_done, &b), 0);
	CHECK_EQ_INT(b.calls, 1);
	CHECK_EQ_INT(b.result, -ECANCELED);
}

int main(void)
{
	const char *url = getenv("IRISX_TEST_PG_URL"), *murl = getenv("IRISX_TEST_PG_MIGRATE_URL");
	if (!url || !murl) {
		printf("store_pg: 0 checks, skipped (no IRISX_TEST_PG_URL)\n");
		return 77;
	}
	struct config cfg;
	char *err;
	CHECK_EQ_INT(config_load(&cfg, "/dev/null", &err), 0);
	mem_free(cfg.database_url);
	mem_free(cfg.database_migrate_url);
	mem_free(cfg.database_app_role);
	cfg.database_url = mem_strdup(url);
	cfg.database_migrate_url = mem_strdup(murl);
	cfg.database_app_role = mem_strdup("irisx_app");
	struct store *st;
	CHECK_EQ_INT(store_open(&cfg, &st), 0);
	CHECK_STR(store_backend_name(st), "postgres");
	int applied = -1;
	CHECK_EQ_INT(store_migrate(st, &applied), 0);
	CHECK_EQ_INT(store_migrate(st, &applied), 0);
	CHECK_EQ_INT(applied, 0); /* the second run finds nothing to do */
	int bin, db;
	CHECK_EQ_INT(store_schema_version(st, &bin, &db), 0);
	CHECK_EQ_INT(bin, db);
	CHECK_EQ_INT(store_ping(st), 0);

	struct ids x;
	id_new("AC", x.ta);
	id_new("AC", x.tb);
	id_new("US", x.ub);
	id_new("KE", x.kb);
	snprintf(x.email, sizeof(x.email), "%s@pg.test", x.ub);
	CHECK_EQ_INT(store_tx(st, NULL, STORE_WRITE, seed_fn, &x), 0);
	CHECK_EQ_INT(store_tx(st, x.ta, STORE_READ, cross_read_fn, &x), 0);
	CHECK_EQ_INT(store_tx(st, x.ta, STORE_WRITE, cross_write_fn, &x), -ECANCELED);
	CHECK_EQ_INT(store_tx(st, x.tb, STORE_READ, own_read_fn, &x), 0);
	CHECK_EQ_INT(store_tx(st, NULL, STORE_READ, own_read_fn, &x), 0); /* system scope */
	test_async(st, &x);
	id_new("CA", x.ca);
	CHECK_EQ_INT(store_tx(st, x.ta, STORE_WRITE, call_insert_fn, &x), 0);
	CHECK_EQ_INT(store_tx(st, x.tb, STORE_READ, call_cross_fn, &x), 0);
	CHECK_EQ_INT(store_tx(st, x.ta, STORE_READ, call_own_fn, &x), 0);
	store_close(st);
	config_free(&cfg);
	return test_done("store_pg");
}
