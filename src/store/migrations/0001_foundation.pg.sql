-- 0001 foundation, PostgreSQL part: row-level security on every tenant-owned table,
-- enabled and FORCED (so the owner role is bound too), and data access for the
-- application role, which owns nothing. app.tenant_id and app.scope are set per
-- transaction by the store (SET LOCAL semantics through set_config(..., true)).
-- A row is visible to its own tenant, or in system scope (auth lookups and the operator's
-- routes); platform-level audit entries (tenant_id NULL) only in system scope.
DO $$
DECLARE
  t record;
  cond text;
BEGIN
  FOR t IN SELECT * FROM (VALUES
      ('tenants', 'id'), ('users', 'tenant_id'), ('api_keys', 'tenant_id'),
      ('sessions', 'tenant_id'), ('refresh_tokens', 'tenant_id'),
      ('one_time_tokens', 'tenant_id'), ('email_outbox', 'tenant_id'),
      ('idempotency_keys', 'tenant_id'), ('audit_logs', 'tenant_id')) AS v(tbl, col)
  LOOP
    cond := format('%I = current_setting(''app.tenant_id'', true) OR '
                   'current_setting(''app.scope'', true) = ''system''', t.col);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.tbl);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.tbl);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%s) WITH CHECK (%s)',
                   t.tbl, cond, cond);
  END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public TO :app_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :app_role;
