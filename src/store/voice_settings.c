/* voice_settings.c: per-tenant voice guardrails (home country, allowed destinations, calls
   per second, concurrent calls, daily spend cap); a missing row or NULL column means the
   operator's default (voice.* settings). */
#include <string.h>

#include "internal.h"

int store_voice_settings_get(struct store_tx *tx, const char *tenant_id, json_t **ret)
{
	return stx_query_one(tx, ret,
			     "SELECT tenant_id, home_country, allowed_countries, calls_per_second, "
			     "max_concurrent_calls, daily_spend_cap_micros, updated_us FROM "
			     "voice_settings WHERE tenant_id = ?",
			     "s", tenant_id);
}

static struct store_val int_or_null(int64_t i)
{
	return i >= 0 ? (struct store_val){SV_INT, NULL, i} : (struct store_val){SV_NULL, NULL, 0};
}

int store_voice_settings_put(struct store_tx *tx, const char *tenant_id,
			     const struct store_voice_settings *s)
{
	/* ON CONFLICT ... DO UPDATE: SQLite >= 3.24 and PostgreSQL >= 9.5 both take it */
	static const char sql[] =
	    "INSERT INTO voice_settings (tenant_id, home_country, allowed_countries, "
	    "calls_per_second, max_concurrent_calls, daily_spend_cap_micros, updated_us) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET home_country = "
	    "excluded.home_country, allowed_countries = excluded.allowed_countries, "
	    "calls_per_second = excluded.calls_per_second, max_concurrent_calls = "
	    "excluded.max_concurrent_calls, daily_spend_cap_micros = "
	    "excluded.daily_spend_cap_micros, updated_us = excluded.updated_us";
	struct store_val v[] = {
	    {SV_TEXT, tenant_id, 0},
	    sv_text_or_null(s->home_country),
	    sv_text_or_null(s->allowed_countries),
	    int_or_null(s->calls_per_second),
	    int_or_null(s->max_concurrent_calls),
	    int_or_null(s->daily_spend_cap_micros),
	    {SV_INT, NULL, (int64_t)time_now_us()},
	};
	int r = tx->st->be->exec(tx, sql, sizeof(v) / sizeof(v[0]), v);
	return r < 0 ? r : 0;
}
