/* voice_apps_tmp.c: TEMPORARY store_application_get so the calls API links before
   store/voice.c (the voice resources) lands; delete this file (and its CMake entry) when
   merging that branch: the two definitions are the same query. */
#include "internal.h"

int store_application_get(struct store_tx *tx, const char *tenant_id, const char *id, json_t **ret)
{
	return stx_query_one(tx, ret,
			     "SELECT id, tenant_id, name, kind, source, document, created_us, "
			     "updated_us FROM applications WHERE id = ? AND tenant_id = ?",
			     "ss", id, tenant_id);
}
