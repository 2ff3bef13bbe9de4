-- Sealbook embedded schema, version 1.
-- Every event of tenant number T at log index I lives at rowid (T << 40) | I, so the table itself is
-- ordered by (tenant, index): no separate index for the log order, and appends go to the end of
-- each tenant's range.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tenants (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    tenant_no INTEGER NOT NULL REFERENCES tenants(no),
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys(tenant_no, created_at);
CREATE TABLE IF NOT EXISTS events (
    rowid INTEGER PRIMARY KEY,
    tenant_no INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    leaf BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events(tenant_no, event_id);
CREATE INDEX IF NOT EXISTS events_time ON events(tenant_no, occurred_at);
-- Personal values and salts, kept apart from the append-only events so erasure can remove them.
CREATE TABLE IF NOT EXISTS personal (rowid INTEGER PRIMARY KEY, data BLOB NOT NULL);
-- Postings of the search index: one row per (tenant, bucket, term key, index).
-- A term key is the 64-bit hash of a spelled term (actor, subject, type, correlation id, reference,
-- word); candidates are re-checked against the event, so a hash collision can never put a wrong
-- event into a result. The bucket is index >> bucket_bits (meta; 12 by default): new postings land only in the newest bucket's
-- part of the B-tree, so a commit dirties a bounded set of pages however large the log grows.
CREATE TABLE IF NOT EXISTS terms (
    tenant_no INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    term INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (tenant_no, bucket, term, idx)
) WITHOUT ROWID;
-- The tenant's Merkle tree (RFC 6962), as C2SP tiles: 256 hashes per full tile, concatenated.
-- Updated in the same transaction as the events, so tree and events always match.
CREATE TABLE IF NOT EXISTS tiles (
    tenant_no INTEGER NOT NULL,
    level INTEGER NOT NULL,
    number INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (tenant_no, level, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tree_heads (
    tenant_no INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL
);
