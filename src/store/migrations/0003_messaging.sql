-- 0003 messaging: phone numbers and approved sender ids, messaging providers (operator-wide
-- when tenant_id is NULL, else the tenant's own) with per-prefix rates, SMS messages and
-- their parts (for receipt matching), receipts that arrived before their submit response,
-- the opt-out ledger, e-mails and e-mail templates. Portable SQL.

-- tenant_id NULL: in the operator's pool, not assigned yet
CREATE TABLE phone_numbers (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id) ON DELETE SET NULL,
  number TEXT NOT NULL UNIQUE,
  sms_url TEXT,
  sms_method TEXT,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX phone_numbers_tenant ON phone_numbers(tenant_id, id);

CREATE TABLE sender_ids (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  sender TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  UNIQUE (tenant_id, sender)
);

-- kind: smpp | twilio | telnyx | smtp; config: JSON (secrets included, never shown)
CREATE TABLE messaging_providers (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  config TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 10,
  weight INTEGER NOT NULL DEFAULT 100,
  enabled INTEGER NOT NULL DEFAULT 1,
  health TEXT NOT NULL DEFAULT 'unknown',
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX messaging_providers_tenant ON messaging_providers(tenant_id, id);

-- cost per message segment (SMS) or per message (e-mail), in millionths of the currency
CREATE TABLE provider_rates (
  provider_id TEXT NOT NULL REFERENCES messaging_providers(id) ON DELETE CASCADE,
  tenant_id TEXT,
  prefix TEXT NOT NULL,
  cost_micros BIGINT NOT NULL,
  PRIMARY KEY (provider_id, prefix)
);

CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  direction TEXT NOT NULL,
  from_addr TEXT NOT NULL,
  to_addr TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL,
  encoding TEXT NOT NULL,
  segments INTEGER NOT NULL,
  price_micros BIGINT,
  provider_id TEXT,
  attempts TEXT NOT NULL DEFAULT '[]',
  error_code TEXT,
  error_message TEXT,
  status_callback TEXT,
  validity_s INTEGER,
  send_at_us BIGINT,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  sent_us BIGINT,
  done_us BIGINT
);
CREATE INDEX messages_tenant ON messages(tenant_id, id);

-- one row per submitted segment: receipts name the provider's id of a segment
CREATE TABLE message_parts (
  provider_id TEXT NOT NULL,
  provider_message_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  status TEXT NOT NULL,
  PRIMARY KEY (provider_id, provider_message_id)
);
CREATE INDEX message_parts_message ON message_parts(message_id);

-- receipts whose submit response has not been seen yet (matched when it is)
CREATE TABLE early_receipts (
  provider_id TEXT NOT NULL,
  provider_message_id TEXT NOT NULL,
  stat TEXT NOT NULL,
  err TEXT,
  received_us BIGINT NOT NULL,
  PRIMARY KEY (provider_id, provider_message_id)
);

CREATE TABLE opt_outs (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, sender, recipient)
);

CREATE TABLE emails (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  from_addr TEXT NOT NULL,
  rcpt TEXT NOT NULL,
  subject TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  provider_id TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  smtp_code INTEGER,
  error_message TEXT,
  message_id_header TEXT,
  status_callback TEXT,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  sent_us BIGINT
);
CREATE INDEX emails_tenant ON emails(tenant_id, id);

CREATE TABLE email_templates (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  subject TEXT NOT NULL,
  text_body TEXT,
  html_body TEXT,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  UNIQUE (tenant_id, name)
);

-- the auth outbox (password resets, verifications, invitations) is sent by the e-mail
-- worker; a sent mail's body (with its one-time token) is purged
ALTER TABLE email_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN last_error TEXT;
ALTER TABLE email_outbox ADD COLUMN next_us BIGINT NOT NULL DEFAULT 0;
