/* routes.c: the route table: method, path, handler, required role, body limit, audit
   action, flags, summary. Every row must also appear in docs/openapi.json (a test checks). */
#include "internal.h"

#define KB 1024

const struct route api_routes[] = {
    {"GET", "/healthz", h_healthz, ROLE_NONE, 0, NULL, ROUTE_NO_LOG, "Liveness probe"},
    {"GET", "/readyz", h_readyz, ROLE_NONE, 0, NULL, ROUTE_NO_LOG,
     "Readiness probe: the database answers"},
    {"GET", "/metrics", h_metrics, ROLE_NONE, 0, NULL, ROUTE_RAW | ROUTE_NO_LOG,
     "Prometheus metrics"},
    {"GET", "/v1/openapi.json", h_openapi, ROLE_NONE, 0, NULL, ROUTE_RAW,
     "This API's OpenAPI 3.1 document"},

    {"POST", "/v1/auth/register", h_register, ROLE_NONE, 16 * KB, "auth.register", ROUTE_BODY,
     "Create an account (tenant) and its owner"},
    {"POST", "/v1/auth/login", h_login, ROLE_NONE, 16 * KB, "auth.login", ROUTE_BODY,
     "Exchange e-mail and password for tokens"},
    {"POST", "/v1/auth/refresh", h_refresh, ROLE_NONE, 16 * KB, "auth.refresh",
     ROUTE_BODY | ROUTE_AUTH_CHANGE, "Rotate a refresh token for a new token pair"},
    {"POST", "/v1/auth/logout", h_logout, ROLE_VIEWER, 16 * KB, "auth.logout",
     ROUTE_BODY | ROUTE_AUTH_CHANGE, "End the current session"},
    {"GET", "/v1/auth/me", h_me, ROLE_VIEWER, 0, NULL, 0, "The caller, its role and tenant"},
    {"POST", "/v1/auth/change-password", h_change_password, ROLE_VIEWER, 16 * KB,
     "auth.change_password", ROUTE_BODY | ROUTE_AUTH_CHANGE, "Change the caller's password"},
    {"POST", "/v1/auth/password-reset/request", h_reset_request, ROLE_NONE, 16 * KB,
     "auth.password_reset_request", ROUTE_BODY, "Mail a password-reset token"},
    {"POST", "/v1/auth/password-reset/confirm", h_reset_confirm, ROLE_NONE, 16 * KB,
     "auth.password_reset_confirm", ROUTE_BODY | ROUTE_AUTH_CHANGE,
     "Set a new password with a reset token"},
    {"POST", "/v1/auth/verify-email", h_verify_email, ROLE_NONE, 16 * KB, "auth.verify_email",
     ROUTE_BODY, "Confirm an e-mail address with its token"},
    {"POST", "/v1/auth/verify-email/request", h_verify_request, ROLE_VIEWER, 16 * KB,
     "auth.verify_email_request", 0, "Mail a new verification token"},

    {"GET", "/v1/tenant", h_tenant_get, ROLE_VIEWER, 0, NULL, 0, "The caller's tenant"},
    {"PATCH", "/v1/tenant", h_tenant_patch, ROLE_ADMIN, 16 * KB, "tenant.update", ROUTE_BODY,
     "Rename the caller's tenant"},

    {"GET", "/v1/users", h_users_list, ROLE_ADMIN, 0, NULL, 0, "List users"},
    {"POST", "/v1/users", h_users_create, ROLE_ADMIN, 16 * KB, "user.create",
     ROUTE_CREATE | ROUTE_BODY, "Create or invite a user"},
    {"GET", "/v1/users/{id}", h_users_get, ROLE_ADMIN, 0, NULL, 0, "Fetch a user"},
    {"PATCH", "/v1/users/{id}", h_users_patch, ROLE_ADMIN, 16 * KB, "user.update",
     ROUTE_BODY | ROUTE_AUTH_CHANGE, "Change a user's role, name, or disable it"},

    {"GET", "/v1/api-keys", h_keys_list, ROLE_DEVELOPER, 0, NULL, 0, "List API keys"},
    {"POST", "/v1/api-keys", h_keys_create, ROLE_ADMIN, 16 * KB, "api_key.create",
     ROUTE_CREATE | ROUTE_BODY, "Create an API key (the secret is shown once)"},
    {"GET", "/v1/api-keys/{id}", h_keys_get, ROLE_DEVELOPER, 0, NULL, 0, "Fetch an API key"},
    {"DELETE", "/v1/api-keys/{id}", h_keys_revoke, ROLE_ADMIN, 0, "api_key.revoke",
     ROUTE_AUTH_CHANGE, "Revoke an API key"},

    {"GET", "/v1/audit-logs", h_audit_list, ROLE_ADMIN, 0, NULL, 0, "The tenant's audit trail"},

    {"GET", "/v1/admin/tenants", h_admin_tenants_list, ROLE_PLATFORM_ADMIN, 0, NULL, 0,
     "List tenants"},
    {"POST", "/v1/admin/tenants", h_admin_tenants_create, ROLE_PLATFORM_ADMIN, 16 * KB,
     "admin.tenant.create", ROUTE_CREATE | ROUTE_BODY, "Create a tenant and its owner"},
    {"GET", "/v1/admin/tenants/{id}", h_admin_tenants_get, ROLE_PLATFORM_ADMIN, 0, NULL, 0,
     "Fetch a tenant"},
    {"DELETE", "/v1/admin/tenants/{id}", h_admin_tenants_delete, ROLE_PLATFORM_ADMIN, 0,
     "admin.tenant.delete", ROUTE_AUTH_CHANGE, "Delete a tenant and its data"},
    {"POST", "/v1/admin/tenants/{id}/suspend", h_admin_tenants_suspend, ROLE_PLATFORM_ADMIN,
     16 * KB, "admin.tenant.suspend", ROUTE_AUTH_CHANGE,
     "Suspend a tenant: its keys and tokens stop working"},
    {"POST", "/v1/admin/tenants/{id}/resume", h_admin_tenants_resume, ROLE_PLATFORM_ADMIN, 16 * KB,
     "admin.tenant.resume", ROUTE_AUTH_CHANGE, "Lift a suspension"},
    {"GET", "/v1/admin/tenants/{id}/limits", h_admin_limits_get, ROLE_PLATFORM_ADMIN, 0, NULL, 0,
     "A tenant's rate limits"},
    {"PUT", "/v1/admin/tenants/{id}/limits", h_admin_limits_put, ROLE_PLATFORM_ADMIN, 16 * KB,
     "admin.tenant.limits", ROUTE_BODY | ROUTE_AUTH_CHANGE, "Set a tenant's rate limits"},
    {"GET", "/v1/admin/audit-logs", h_admin_audit_list, ROLE_PLATFORM_ADMIN, 0, NULL, 0,
     "Audit trail across tenants"},
    {"GET", "/v1/admin/email-outbox", h_admin_outbox, ROLE_PLATFORM_ADMIN, 0, NULL, 0,
     "Queued e-mails (reset, verification, invitations)"},
};

const size_t api_routes_len = sizeof(api_routes) / sizeof(api_routes[0]);
