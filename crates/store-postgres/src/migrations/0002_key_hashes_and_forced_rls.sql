-- Sealbook on PostgreSQL, version 2: no way into another tenant through `api_key_hashes`, and
-- row-level security on every table, forced, so that it confines the owner too.
--
-- Before: the application role could SELECT every tenant's key ids and secret hashes and INSERT a
-- hash of its own for any existing key (of any tenant), then authenticate as that key through
-- sealbook_key_by_hash(), with no trace in the key list or the log.
-- After: the application role cannot read api_key_hashes at all (authentication reads it only
-- through the SECURITY DEFINER function); a row it inserts MUST belong to the tenant of its
-- transaction (WITH CHECK), MUST name an existing key of that tenant (foreign key), and a key has
-- one secret only (unique), which its creation inserts in the same transaction. So the only way to
-- a working secret is to create a new key, which the key list shows.

-- 1. Rows Sealbook never writes. A hash whose key does not exist (or exists only in another
-- tenant) cannot authenticate today, but would as soon as such a key were created: removed.
DELETE FROM api_key_hashes x
WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = x.tenant_id AND k.id = x.key_id);

-- A key with a second secret is a way in someone added: which secret is the key's own cannot be
-- told, so the migration stops and names the keys.
DO $$
DECLARE keys text;
BEGIN
    SELECT string_agg(format('%s/%s', tenant_id, key_id), ', ' ORDER BY tenant_id, key_id) INTO keys
    FROM (SELECT tenant_id, key_id FROM api_key_hashes GROUP BY tenant_id, key_id HAVING count(*) > 1) d;
    IF keys IS NOT NULL THEN
        RAISE EXCEPTION 'api_key_hashes holds more than one secret for the keys (tenant/key) %: Sealbook never writes that, so someone added a way in. Revoke those keys, delete their rows from sealbook.api_key_hashes as the owner, create new keys, and migrate again', keys;
    END IF;
END $$;

-- 2. One secret per key, of an existing key of the same tenant.
ALTER TABLE api_key_hashes
    ADD CONSTRAINT api_key_hashes_one_per_key UNIQUE (tenant_id, key_id),
    ADD CONSTRAINT api_key_hashes_key FOREIGN KEY (tenant_id, key_id) REFERENCES api_keys (tenant_id, id);

-- 3. Read only through sealbook_key_by_hash(); insert only for the transaction's tenant.
REVOKE SELECT, UPDATE, DELETE, TRUNCATE ON api_key_hashes FROM sealbook_rw;
ALTER TABLE api_key_hashes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_insert ON api_key_hashes FOR INSERT
    WITH CHECK (tenant_id = current_setting('sealbook.tenant_id', true));

-- 4. A revocation is final: the application role may set revoked_at, never clear or move it.
CREATE POLICY revocation_is_final ON api_keys AS RESTRICTIVE FOR UPDATE
    USING (revoked_at IS NULL) WITH CHECK (revoked_at IS NOT NULL);

-- 5. The deployment-wide tables get row-level security too, with a policy that says what the
-- application role may do there (all rows: they hold no tenant data).
ALTER TABLE signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE schema_version ENABLE ROW LEVEL SECURITY;
CREATE POLICY deployment_wide ON signing_keys TO sealbook_rw USING (true) WITH CHECK (true);
CREATE POLICY deployment_wide ON settings TO sealbook_rw USING (true) WITH CHECK (true);
CREATE POLICY deployment_wide ON schema_version FOR SELECT TO sealbook_rw USING (true);

-- 6. FORCE ROW LEVEL SECURITY on every table: the owner is confined like anyone else, except
-- where it says so on purpose. `owner_access` lets the owner role (and only it: the policy is
-- TO the table's owner, so the application role setting the same variable gains nothing) see and
-- write every row while `sealbook.owner_access` is 'on'. The migration runner sets it for its
-- session; each SECURITY DEFINER function sets it for its own query and clears it before it
-- returns (PostgreSQL 15 lets only a superuser attach a custom setting to a function). A plain
-- owner session, or a mistaken `serve --database-url` as the owner, sees no tenant data.
DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT c.relname, c.relowner::regrole AS owner
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'sealbook' AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', r.relname);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', r.relname);
        EXECUTE format(
            'CREATE POLICY owner_access ON %I TO %s USING (current_setting(''sealbook.owner_access'', true) = ''on'') WITH CHECK (current_setting(''sealbook.owner_access'', true) = ''on'')',
            r.relname, r.owner);
    END LOOP;
END $$;

-- The definer functions, as before, but with the owner's access on while they read (same
-- signatures: CREATE OR REPLACE keeps their owner and grants).
CREATE OR REPLACE FUNCTION sealbook_key_by_hash(h bytea)
RETURNS TABLE (tenant_id text, id text, name text, scopes text, prefix text, created_at text, revoked_at text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
BEGIN
    PERFORM set_config('sealbook.owner_access', 'on', true);
    RETURN QUERY
        SELECT k.tenant_id, k.id, k.name, k.scopes, k.prefix, k.created_at, k.revoked_at
        FROM api_key_hashes x JOIN api_keys k ON k.tenant_id = x.tenant_id AND k.id = x.key_id
        WHERE x.secret_hash = h;
    PERFORM set_config('sealbook.owner_access', '', true);
END $$;
CREATE OR REPLACE FUNCTION sealbook_list_tenants()
RETURNS TABLE (tenant_id text, name text, created_at text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
BEGIN
    PERFORM set_config('sealbook.owner_access', 'on', true);
    RETURN QUERY SELECT t.tenant_id, t.name, t.created_at FROM tenants t ORDER BY t.tenant_id;
    PERFORM set_config('sealbook.owner_access', '', true);
END $$;
CREATE OR REPLACE FUNCTION sealbook_unsigned_growth()
RETURNS TABLE (tenant_id text, size bigint, root bytea, c_size bigint, c_root bytea, c_note text, c_signed_at text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
BEGIN
    PERFORM set_config('sealbook.owner_access', 'on', true);
    RETURN QUERY
        SELECT h.tenant_id, h.size, h.root, c.size, c.root, c.note, c.signed_at
        FROM log_heads h
        LEFT JOIN LATERAL (
            SELECT cp.size, cp.root, cp.note, cp.signed_at FROM checkpoints cp
            WHERE cp.tenant_id = h.tenant_id ORDER BY cp.size DESC LIMIT 1
        ) c ON true
        WHERE h.size > COALESCE(c.size, 0);
    PERFORM set_config('sealbook.owner_access', '', true);
END $$;
