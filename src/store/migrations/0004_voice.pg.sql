-- 0004, PostgreSQL part: row-level security on the new tenant tables. Rows with tenant_id
-- NULL (operator carriers and their rates) are visible in system
-- scope only.
DO $$
DECLARE
  t text;
  cond text := 'tenant_id = current_setting(''app.tenant_id'', true) OR '
               'current_setting(''app.scope'', true) = ''system''';
BEGIN
  FOREACH t IN ARRAY ARRAY['carriers', 'carrier_rates', 'applications', 'dialplan_rules',
                           'voice_settings', 'calls', 'recordings']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%s) WITH CHECK (%s)',
                   t, cond, cond);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :app_role;
