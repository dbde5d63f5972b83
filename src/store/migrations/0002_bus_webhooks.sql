-- 0002 bus and webhooks: the jobs table (store-backed bus, transactional outbox, dead
-- letters), events, webhook endpoints and the per-attempt delivery log; the tenant's auth
-- token (signs X-Twilio-Signature on status callbacks). Portable SQL.

ALTER TABLE tenants ADD COLUMN auth_token TEXT;

-- state: outbox (waiting to be relayed to NATS), queued, running (claimed; run_at_us is
-- the lease's end, after which it is claimable again), done, dead. tenant_id NULL: a
-- system job.
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  subject TEXT NOT NULL,
  payload TEXT NOT NULL,
  dedupe_key TEXT,
  order_key TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at_us BIGINT NOT NULL,
  last_error TEXT,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs(subject, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX jobs_ready ON jobs(subject, run_at_us) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_order ON jobs(order_key, id)
  WHERE order_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX jobs_outbox ON jobs(created_us) WHERE state = 'outbox';
CREATE INDEX jobs_tenant ON jobs(tenant_id, id);

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  created_us BIGINT NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, id);

-- event_types: JSON array of patterns ("call.*", "message.delivered", "*").
CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  description TEXT,
  event_types TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT,
  secret TEXT NOT NULL,
  old_secret TEXT,
  old_secret_expires_us BIGINT,
  failing_since_us BIGINT,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, id);

-- One row per attempt. endpoint_id and event_id are NULL for per-request callbacks
-- (statusCallback URLs). outcome: delivered, retrying, exhausted, disabled, dropped.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  endpoint_id TEXT,
  event_id TEXT,
  job_id TEXT NOT NULL,
  event_type TEXT,
  url TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  error TEXT,
  latency_us BIGINT NOT NULL,
  response TEXT,
  outcome TEXT NOT NULL,
  created_us BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(tenant_id, endpoint_id, id);
CREATE INDEX webhook_deliveries_job ON webhook_deliveries(job_id);
