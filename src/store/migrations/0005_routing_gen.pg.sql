-- 0005, PostgreSQL part: statement-level triggers (one raise per statement, however many
-- rows it touched; cascades fire them too). routing_gen holds no tenant data: no row-level
-- security, every scope reads it. The function runs as its owner, so the application role
-- needs no UPDATE on the table.
CREATE FUNCTION routing_gen_bump() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
  UPDATE routing_gen SET gen = gen + 1 WHERE id = 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER routing_gen_provider
AFTER INSERT OR DELETE OR UPDATE OF tenant_id, kind, config, priority, weight, enabled
ON messaging_providers FOR EACH STATEMENT EXECUTE FUNCTION routing_gen_bump();
CREATE TRIGGER routing_gen_rate AFTER INSERT OR UPDATE OR DELETE ON provider_rates
FOR EACH STATEMENT EXECUTE FUNCTION routing_gen_bump();

GRANT SELECT ON routing_gen TO :app_role;
