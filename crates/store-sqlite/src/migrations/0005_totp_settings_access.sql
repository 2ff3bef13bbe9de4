-- Version 5: a person's second factor (TOTP: the key sealed by the API under a key derived from
-- the deployment secret, never in the clear, and the last time step used, so a code works once),
-- a tenant's settings (record links, embedding origins, viewer types: JSON), and platform
-- operators' audited access to a tenant, and people's saved searches. IF NOT EXISTS: an older database stamped back re-runs
-- safely.
CREATE TABLE IF NOT EXISTS user_totp (
    tenant_no INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    enabled_at TEXT NOT NULL,
    last_step INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_no, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tenant_settings (
    tenant_no INTEGER PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_grants (
    id TEXT PRIMARY KEY,
    tenant_no INTEGER NOT NULL,
    operator_id TEXT NOT NULL,
    operator_email TEXT NOT NULL,
    reason TEXT NOT NULL,
    ticket TEXT NOT NULL,
    started_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS access_grants_by_tenant ON access_grants(tenant_no, started_at);
CREATE INDEX IF NOT EXISTS access_grants_open ON access_grants(expires_at) WHERE ended_at IS NULL;
-- A person's saved searches (a name and the search page's query string).
CREATE TABLE IF NOT EXISTS saved_searches (
    tenant_no INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_no, user_id, id)
) WITHOUT ROWID;
