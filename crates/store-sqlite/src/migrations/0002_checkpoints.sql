-- Version 2: signed checkpoints and the keys that signed them.
-- Every checkpoint ever signed is kept: the latest is served, older ones back consistency claims.
CREATE TABLE IF NOT EXISTS checkpoints (
    tenant_no INTEGER NOT NULL,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (tenant_no, size)
) WITHOUT ROWID;
-- Public keys that have signed checkpoints; a rotated-out key stays listed as a verifier.
CREATE TABLE IF NOT EXISTS signing_keys (
    public_key BLOB NOT NULL UNIQUE,
    first_used TEXT NOT NULL
);
