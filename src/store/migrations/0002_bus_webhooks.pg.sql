-- 0002, PostgreSQL part: row-level security on the new tenant tables (as in 0001), and
-- data access for the application role. Jobs with tenant_id NULL (system jobs) are
-- visible in system scope only.
DO $$
DECLARE
  t text;
  cond text := 'tenant_id = current_setting(''app.tenant_id'', true) OR '
               'current_setting(''app.scope'', true) = ''system''';
BEGIN
  FOREACH t IN ARRAY ARRAY['jobs', 'events', 'webhook_endpoints', 'webhook_deliveries']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%s) WITH CHECK (%s)',
                   t, cond, cond);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :app_role;

-- the jobs table is a queue: every message is inserted, claimed, settled and pruned, so dead
-- row versions pile up in its indexes fast; vacuum it far more often than the default
-- (otherwise claims slow down as they step over dead index entries)
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 2000,
                      autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.02);
