-- 0004 voice: carriers (SIP trunks, operator-wide when tenant_id is NULL, else the
-- tenant's own) with per-prefix rate decks, the numbers' voice settings, stored
-- call-control applications, inbound dialplan rules, per-tenant voice guardrails, calls
-- (one row per leg, the call record once ended) and recordings. Portable SQL.

CREATE TABLE carriers (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL DEFAULT 5060,
  transport TEXT NOT NULL DEFAULT 'udp',
  username TEXT,
  password TEXT,
  register_expires INTEGER NOT NULL DEFAULT 0,
  -- number format sent in the Request-URI: e164 (+CC...) | digits (CC...)
  number_format TEXT NOT NULL DEFAULT 'e164',
  tech_prefix TEXT NOT NULL DEFAULT '',
  -- caller id rule: '' keeps the caller's, else this number replaces it
  caller_id TEXT NOT NULL DEFAULT '',
  max_channels INTEGER NOT NULL DEFAULT 0,
  cps_limit INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL DEFAULT 10,
  weight INTEGER NOT NULL DEFAULT 100,
  enabled INTEGER NOT NULL DEFAULT 1,
  ping_ms INTEGER NOT NULL DEFAULT 30000,
  -- unknown | up | down (OPTIONS pings), registered state in reg_status
  health TEXT NOT NULL DEFAULT 'unknown',
  reg_status TEXT,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX carriers_tenant ON carriers(tenant_id, id);

-- cost per minute in millionths of the currency; billed min_s first, then by incr_s
CREATE TABLE carrier_rates (
  carrier_id TEXT NOT NULL REFERENCES carriers(id) ON DELETE CASCADE,
  tenant_id TEXT,
  prefix TEXT NOT NULL,
  cost_micros BIGINT NOT NULL,
  min_s INTEGER NOT NULL DEFAULT 60,
  incr_s INTEGER NOT NULL DEFAULT 60,
  PRIMARY KEY (carrier_id, prefix)
);

ALTER TABLE phone_numbers ADD COLUMN carrier_id TEXT;
ALTER TABLE phone_numbers ADD COLUMN voice_url TEXT;
ALTER TABLE phone_numbers ADD COLUMN voice_method TEXT;
ALTER TABLE phone_numbers ADD COLUMN voice_fallback_url TEXT;
ALTER TABLE phone_numbers ADD COLUMN voice_fallback_method TEXT;
ALTER TABLE phone_numbers ADD COLUMN voice_status_callback TEXT;
ALTER TABLE phone_numbers ADD COLUMN voice_application_id TEXT;

-- kind: document (source is TwiML XML or JSON verbs) | ivr (source is the menu form);
-- document: what runs, always TwiML XML (the IVR form compiled, or the source)
CREATE TABLE applications (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  document TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX applications_tenant ON applications(tenant_id, id);

-- inbound routing: the enabled rule with the lowest priority that matches wins; empty
-- match fields match anything; days: comma list of mon..sun ('' any); times HH:MM in
-- the rule's UTC offset, start inclusive, end exclusive ('' any)
CREATE TABLE dialplan_rules (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL DEFAULT 100,
  match_number TEXT NOT NULL DEFAULT '',
  match_prefix TEXT NOT NULL DEFAULT '',
  match_caller TEXT NOT NULL DEFAULT '',
  days TEXT NOT NULL DEFAULT '',
  time_start TEXT NOT NULL DEFAULT '',
  time_end TEXT NOT NULL DEFAULT '',
  utc_offset_min INTEGER NOT NULL DEFAULT 0,
  application_id TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX dialplan_rules_tenant ON dialplan_rules(tenant_id, priority);

-- guardrails; a missing row means the defaults (config voice.*)
CREATE TABLE voice_settings (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  home_country TEXT,
  allowed_countries TEXT,
  calls_per_second INTEGER,
  max_concurrent_calls INTEGER,
  daily_spend_cap_micros BIGINT,
  updated_us BIGINT NOT NULL
);

-- direction: inbound | outbound-api | outbound-dial; status as Twilio's; attempts: JSON
-- array of carrier attempts; quality: JSON (loss, jitter, MOS); engine_run: the media
-- process run that owns the live call (recovery closes calls of dead runs)
CREATE TABLE calls (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  parent_id TEXT,
  direction TEXT NOT NULL,
  from_addr TEXT NOT NULL,
  to_addr TEXT NOT NULL,
  status TEXT NOT NULL,
  url TEXT,
  method TEXT,
  fallback_url TEXT,
  fallback_method TEXT,
  twiml TEXT,
  application_id TEXT,
  status_callback TEXT,
  status_callback_method TEXT,
  status_callback_events TEXT,
  timeout_s INTEGER,
  time_limit_s INTEGER,
  record INTEGER NOT NULL DEFAULT 0,
  carrier_id TEXT,
  attempts TEXT NOT NULL DEFAULT '[]',
  sip_code INTEGER,
  q850_cause INTEGER,
  end_reason TEXT,
  created_us BIGINT NOT NULL,
  ring_us BIGINT,
  answer_us BIGINT,
  end_us BIGINT,
  duration_s INTEGER,
  billed_s INTEGER,
  cost_micros BIGINT,
  quality TEXT,
  recording_ids TEXT NOT NULL DEFAULT '[]',
  engine_run TEXT,
  seen_us BIGINT,
  updated_us BIGINT NOT NULL
);
CREATE INDEX calls_tenant ON calls(tenant_id, id);
CREATE INDEX calls_live ON calls(engine_run) WHERE end_us IS NULL;
CREATE INDEX calls_parent ON calls(parent_id) WHERE parent_id IS NOT NULL;

-- status: in-progress | completed | failed | deleted (the file is removed)
CREATE TABLE recordings (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  call_id TEXT NOT NULL,
  source TEXT NOT NULL,
  status TEXT NOT NULL,
  path TEXT NOT NULL,
  duration_ms INTEGER,
  bytes BIGINT,
  status_callback TEXT,
  status_callback_method TEXT,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  completed_us BIGINT
);
CREATE INDEX recordings_tenant ON recordings(tenant_id, id);
CREATE INDEX recordings_call ON recordings(call_id);
