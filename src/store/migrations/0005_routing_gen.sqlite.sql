-- 0005, SQLite part: a trigger per event (SQLite has one event per trigger). Foreign-key
-- cascades (a tenant or a provider deleted) fire them too.
CREATE TRIGGER routing_gen_provider_ins AFTER INSERT ON messaging_providers
BEGIN UPDATE routing_gen SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER routing_gen_provider_upd
AFTER UPDATE OF tenant_id, kind, config, priority, weight, enabled ON messaging_providers
BEGIN UPDATE routing_gen SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER routing_gen_provider_del AFTER DELETE ON messaging_providers
BEGIN UPDATE routing_gen SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER routing_gen_rate_ins AFTER INSERT ON provider_rates
BEGIN UPDATE routing_gen SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER routing_gen_rate_upd AFTER UPDATE ON provider_rates
BEGIN UPDATE routing_gen SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER routing_gen_rate_del AFTER DELETE ON provider_rates
BEGIN UPDATE routing_gen SET gen = gen + 1 WHERE id = 1; END;
