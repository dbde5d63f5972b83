-- 0001 foundation: tenants, users, sessions, API keys, one-time tokens, outbox, idempotency,
-- audit log, JWT keys. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Times are BIGINT microseconds since the epoch (UTC); ids are prefix + 32 hex.

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  platform INTEGER NOT NULL DEFAULT 0,
  api_rps INTEGER,
  api_burst INTEGER,
  key_rps INTEGER,
  key_burst INTEGER,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email TEXT NOT NULL UNIQUE,
  name TEXT,
  password_hash TEXT,
  role TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  email_verified INTEGER NOT NULL DEFAULT 0,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users(tenant_id, id);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  created_by TEXT,
  created_us BIGINT NOT NULL,
  revoked_us BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id, id);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_us BIGINT NOT NULL,
  expires_us BIGINT NOT NULL,
  revoked_us BIGINT
);
CREATE INDEX sessions_user ON sessions(tenant_id, user_id);

CREATE TABLE refresh_tokens (
  hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  created_us BIGINT NOT NULL,
  used_us BIGINT
);

CREATE TABLE one_time_tokens (
  hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  expires_us BIGINT NOT NULL,
  used_us BIGINT
);

CREATE TABLE email_outbox (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  to_addr TEXT NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued',
  created_us BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, key)
);

-- tenant_id is NULL for platform-level events (visible to platform admins only); no foreign
-- key, so the trail outlives a deleted tenant.
CREATE TABLE audit_logs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT,
  actor_id TEXT,
  actor_type TEXT,
  action TEXT NOT NULL,
  resource_id TEXT,
  ip TEXT,
  request_id TEXT,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  created_us BIGINT NOT NULL
);
CREATE INDEX audit_logs_tenant ON audit_logs(tenant_id, id);

CREATE TABLE jwt_keys (
  kid TEXT PRIMARY KEY,
  secret TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  retired_us BIGINT
);
