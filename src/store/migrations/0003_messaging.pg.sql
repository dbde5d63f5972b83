-- 0003, PostgreSQL part: row-level security on the new tenant tables. Rows with tenant_id
-- NULL (unassigned numbers, operator providers and their rates) are visible in system
-- scope only.
DO $$
DECLARE
  t text;
  cond text := 'tenant_id = current_setting(''app.tenant_id'', true) OR '
               'current_setting(''app.scope'', true) = ''system''';
BEGIN
  FOREACH t IN ARRAY ARRAY['phone_numbers', 'sender_ids', 'messaging_providers',
                           'provider_rates', 'messages', 'message_parts', 'opt_outs',
                           'emails', 'email_templates']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%s) WITH CHECK (%s)',
                   t, cond, cond);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :app_role;
