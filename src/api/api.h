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

#endif
