-- Version 4: people (users of the web UI), their sign-in sessions and one-time set-password links.
-- Secrets are never stored: a session id and a link token only as their SHA-256, a password only
-- as its argon2id PHC string. IF NOT EXISTS: an older database stamped back re-runs safely.
CREATE TABLE IF NOT EXISTS users (
    tenant_no INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    password_hash TEXT,
    PRIMARY KEY (tenant_no, id),
    UNIQUE (tenant_no, email)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    id_hash BLOB PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    tenant_no INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    method TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT NOT NULL,
    revoked_at TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(tenant_no, user_id, created_at);
CREATE TABLE IF NOT EXISTS password_tokens (
    token_hash BLOB PRIMARY KEY,
    tenant_no INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
) WITHOUT ROWID;
