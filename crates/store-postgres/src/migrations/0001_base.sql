-- Sealbook on PostgreSQL, version 1. Run by the owner role (`--database-owner-url`); Sealbook
-- itself connects as a member of `sealbook_rw`, which owns nothing, has no BYPASSRLS, and may
-- neither UPDATE nor DELETE events.
--
-- tenant_id leads every primary key and index of tenant data, so it can be the distribution
-- column (Citus) and the leading partition key. Every tenant table has row-level security on
-- current_setting('sealbook.tenant_id'), which Sealbook sets in each transaction.
CREATE TABLE tenants (
    tenant_id text PRIMARY KEY,
    name text NOT NULL,
    created_at text NOT NULL
);
CREATE TABLE api_keys (
    tenant_id text NOT NULL REFERENCES tenants,
    id text NOT NULL,
    name text NOT NULL,
    scopes text NOT NULL,
    prefix text NOT NULL,
    created_at text NOT NULL,
    revoked_at text,
    PRIMARY KEY (tenant_id, id)
);
-- Authentication finds a key by the hash of its secret before it knows the tenant: a lookup table
-- (a reference table under Citus), read only through sealbook_key_by_hash().
CREATE TABLE api_key_hashes (
    secret_hash bytea PRIMARY KEY,
    tenant_id text NOT NULL,
    key_id text NOT NULL
);
CREATE TABLE events (
    tenant_id text NOT NULL,
    idx bigint NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    outcome text NOT NULL,
    actor_type text NOT NULL,
    subject_type text NOT NULL,
    occurred_at bigint NOT NULL,
    content_hash bytea NOT NULL,
    leaf_hash bytea NOT NULL,
    leaf bytea NOT NULL,
    PRIMARY KEY (tenant_id, idx)
);
CREATE UNIQUE INDEX events_id ON events (tenant_id, event_id);
CREATE INDEX events_time ON events (tenant_id, occurred_at);
CREATE TABLE personal (
    tenant_id text NOT NULL,
    idx bigint NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (tenant_id, idx)
);
CREATE TABLE terms (
    tenant_id text NOT NULL,
    bucket bigint NOT NULL,
    term bigint NOT NULL,
    idx bigint NOT NULL,
    PRIMARY KEY (tenant_id, bucket, term, idx)
);
CREATE TABLE tiles (
    tenant_id text NOT NULL,
    level integer NOT NULL,
    number bigint NOT NULL,
    hashes bytea NOT NULL,
    PRIMARY KEY (tenant_id, level, number)
);
-- One row per tenant: the tree head, and the row every append of the tenant locks, so that
-- several nodes writing one tenant produce one gap-free sequence.
CREATE TABLE log_heads (
    tenant_id text PRIMARY KEY REFERENCES tenants,
    size bigint NOT NULL,
    root bytea NOT NULL
);
CREATE TABLE checkpoints (
    tenant_id text NOT NULL,
    size bigint NOT NULL,
    root bytea NOT NULL,
    note text NOT NULL,
    signed_at text NOT NULL,
    PRIMARY KEY (tenant_id, size)
);
CREATE TABLE signing_keys (
    ord bigserial,
    public_key bytea PRIMARY KEY,
    first_used text NOT NULL
);
CREATE TABLE settings (
    name text PRIMARY KEY,
    value text NOT NULL
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'api_keys', 'events', 'personal', 'terms', 'tiles', 'log_heads', 'checkpoints'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''sealbook.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''sealbook.tenant_id'', true))',
            t);
    END LOOP;
END $$;

DO $$ BEGIN
    CREATE ROLE sealbook_rw NOLOGIN NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA sealbook TO sealbook_rw;
-- Append-only: no UPDATE or DELETE on events, personal values or postings (retention and erasure
-- will get a role of their own).
GRANT SELECT, INSERT ON events, personal, terms, checkpoints, tenants, api_key_hashes, signing_keys, settings TO sealbook_rw;
GRANT SELECT, INSERT, UPDATE ON tiles, log_heads TO sealbook_rw;
GRANT SELECT, INSERT, UPDATE (revoked_at) ON api_keys TO sealbook_rw;
GRANT USAGE ON SEQUENCE signing_keys_ord_seq TO sealbook_rw;

-- The few reads that must cross tenants, each narrow, as functions owned by the owner.
CREATE FUNCTION sealbook_key_by_hash(h bytea)
RETURNS TABLE (tenant_id text, id text, name text, scopes text, prefix text, created_at text, revoked_at text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
    SELECT k.tenant_id, k.id, k.name, k.scopes, k.prefix, k.created_at, k.revoked_at
    FROM api_key_hashes x JOIN api_keys k ON k.tenant_id = x.tenant_id AND k.id = x.key_id
    WHERE x.secret_hash = h
$$;
CREATE FUNCTION sealbook_list_tenants()
RETURNS TABLE (tenant_id text, name text, created_at text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
    SELECT tenant_id, name, created_at FROM tenants ORDER BY tenant_id
$$;
CREATE FUNCTION sealbook_unsigned_growth()
RETURNS TABLE (tenant_id text, size bigint, root bytea, c_size bigint, c_root bytea, c_note text, c_signed_at text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
    SELECT h.tenant_id, h.size, h.root, c.size, c.root, c.note, c.signed_at
    FROM log_heads h
    LEFT JOIN LATERAL (
        SELECT size, root, note, signed_at FROM checkpoints c
        WHERE c.tenant_id = h.tenant_id ORDER BY size DESC LIMIT 1
    ) c ON true
    WHERE h.size > COALESCE(c.size, 0)
$$;
REVOKE ALL ON FUNCTION sealbook_key_by_hash(bytea), sealbook_list_tenants(), sealbook_unsigned_growth() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sealbook_key_by_hash(bytea), sealbook_list_tenants(), sealbook_unsigned_growth() TO sealbook_rw;
GRANT SELECT ON schema_version TO sealbook_rw;
