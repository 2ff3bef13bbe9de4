-- Sealbook on PostgreSQL, version 4: people (users of the web UI), their sign-in sessions and
-- one-time set-password links. Secrets are never stored: a session id and a link token only as
-- their SHA-256, a password only as its argon2id PHC string. Row-level security as on every table
-- (tenant isolation, forced, the owner's access only on purpose); the two reads that must cross
-- tenants (a session by its cookie, a link by its token: the value presented names the tenant) go
-- through narrow SECURITY DEFINER functions. Re-runnable (IF NOT EXISTS, policies dropped and
-- made again, functions replaced): a database stamped back to an older version migrates again.
CREATE TABLE IF NOT EXISTS users (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id),
    id text NOT NULL UNIQUE,
    email text NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    created_at text NOT NULL,
    disabled_at text,
    password_hash text,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash bytea PRIMARY KEY,
    id text NOT NULL UNIQUE,
    tenant_id text NOT NULL,
    user_id text NOT NULL,
    method text NOT NULL,
    created_at text NOT NULL,
    last_seen_at text NOT NULL,
    expires_at text NOT NULL,
    ip text,
    user_agent text NOT NULL,
    revoked_at text,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (tenant_id, user_id, created_at);
CREATE TABLE IF NOT EXISTS password_tokens (
    token_hash bytea PRIMARY KEY,
    tenant_id text NOT NULL,
    user_id text NOT NULL,
    expires_at text NOT NULL,
    used_at text,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

GRANT SELECT, INSERT, UPDATE (role, disabled_at, password_hash) ON users TO sealbook_rw;
GRANT SELECT, INSERT, UPDATE (last_seen_at, revoked_at) ON sessions TO sealbook_rw;
GRANT SELECT, INSERT, UPDATE (used_at) ON password_tokens TO sealbook_rw;

DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT c.relname, c.relowner::regrole AS owner
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'sealbook' AND c.relname IN ('users', 'sessions', 'password_tokens')
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', r.relname);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', r.relname);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', r.relname);
        EXECUTE format('DROP POLICY IF EXISTS owner_access ON %I', r.relname);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''sealbook.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''sealbook.tenant_id'', true))',
            r.relname);
        EXECUTE format(
            'CREATE POLICY owner_access ON %I TO %s USING (current_setting(''sealbook.owner_access'', true) = ''on'') WITH CHECK (current_setting(''sealbook.owner_access'', true) = ''on'')',
            r.relname, r.owner);
    END LOOP;
END $$;
-- A revoked session stays revoked (no update of a revoked row; the update that revokes passes);
-- a used link stays used.
DROP POLICY IF EXISTS revocation_is_final ON sessions;
CREATE POLICY revocation_is_final ON sessions AS RESTRICTIVE FOR UPDATE
    USING (revoked_at IS NULL) WITH CHECK (true);
DROP POLICY IF EXISTS use_is_final ON password_tokens;
CREATE POLICY use_is_final ON password_tokens AS RESTRICTIVE FOR UPDATE
    USING (used_at IS NULL) WITH CHECK (used_at IS NOT NULL);

CREATE OR REPLACE FUNCTION sealbook_session_by_hash(h bytea)
RETURNS TABLE (id text, user_id text, tenant_id text, method text, created_at text, last_seen_at text, expires_at text, ip text, user_agent text, revoked_at text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
BEGIN
    PERFORM set_config('sealbook.owner_access', 'on', true);
    RETURN QUERY
        SELECT s.id, s.user_id, s.tenant_id, s.method, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, s.revoked_at
        FROM sessions s WHERE s.id_hash = h;
    PERFORM set_config('sealbook.owner_access', '', true);
END $$;
CREATE OR REPLACE FUNCTION sealbook_password_token_by_hash(h bytea)
RETURNS TABLE (user_id text, tenant_id text, expires_at text, used_at text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
BEGIN
    PERFORM set_config('sealbook.owner_access', 'on', true);
    RETURN QUERY
        SELECT p.user_id, p.tenant_id, p.expires_at, p.used_at FROM password_tokens p WHERE p.token_hash = h;
    PERFORM set_config('sealbook.owner_access', '', true);
END $$;
REVOKE ALL ON FUNCTION sealbook_session_by_hash(bytea), sealbook_password_token_by_hash(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sealbook_session_by_hash(bytea), sealbook_password_token_by_hash(bytea) TO sealbook_rw;
