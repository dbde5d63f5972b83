/* api: the REST resources. Handlers only: they validate input, authorize, call store/auth
   through their public headers and shape responses. No SQL, no sockets. */
#ifndef IRISX_API_H
#define IRISX_API_H

#include "http/http.h"

extern const struct route api_routes[];
extern const size_t api_routes_len;

/* The OpenAPI 3.1 document served at /v1/openapi.json (docs/openapi.json, embedded). */
extern const char api_openapi_json[];

/* Creates a tenant and its owner in one transaction (used by register, the platform admin
   and the CLI). pw_hash NULL makes an invited owner. */
struct tenant_new {
	const char *name, *email, *user_name, *pw_hash, *role;
	bool platform;
	char tenant_id[ID_LEN + 1], user_id[ID_LEN + 1];
};
int api_tenant_create_tx(struct store_tx *tx, struct tenant_new *tn);

/* A carrier rate deck: `prefix,cost_per_min[,min_s,incr_s]` lines (header skipped when
   header is true, '#' comments and blank lines ignored) -> [{prefix (digits), cost_micros,
   min_s, incr_s}]. -EINVAL / -E2BIG (past 4 MiB or 200000 rows) with err naming the line
   ("<what> 3: ..."). */
int api_rates_csv_parse(const char *s, size_t n, bool header, const char *what, json_t **ret,
			char err[160]);

#endif
