-- Sealbook on PostgreSQL, version 5: a person's second factor (TOTP: the key sealed by the API
-- under a key derived from the deployment secret, and the last time step used, so a code works
-- once), a tenant's settings (JSON), platform operators' audited access to a tenant, and people's
-- saved searches.
-- Row-level security as on every table; the one read across tenants (access grants that lapsed
-- without an end, for the platform's sweep that records their end) goes through a narrow
-- SECURITY DEFINER function. Re-runnable.
CREATE TABLE IF NOT EXISTS user_totp (
    tenant_id text NOT NULL,
    user_id text NOT NULL,
    sealed bytea NOT NULL,
    enabled_at text NOT NULL,
    last_step bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE TABLE IF NOT EXISTS tenant_settings (
    tenant_id text PRIMARY KEY REFERENCES tenants (tenant_id),
    settings text NOT NULL,
    updated_at text NOT NULL
);
CREATE TABLE IF NOT EXISTS access_grants (
    id text PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (tenant_id),
    operator_id text NOT NULL,
    operator_email text NOT NULL,
    reason text NOT NULL,
    ticket text NOT NULL,
    started_at text NOT NULL,
    expires_at text NOT NULL,
    ended_at text
);
-- A person's saved searches (a name and the search page's query string).
CREATE TABLE IF NOT EXISTS saved_searches (
    tenant_id text NOT NULL,
    user_id text NOT NULL,
    id text NOT NULL,
    name text NOT NULL,
    query text NOT NULL,
    created_at text NOT NULL,
    PRIMARY KEY (tenant_id, user_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS access_grants_by_tenant ON access_grants (tenant_id, started_at);
CREATE INDEX IF NOT EXISTS access_grants_open ON access_grants (expires_at) WHERE ended_at IS NULL;

GRANT SELECT, INSERT, UPDATE (sealed, enabled_at, last_step), DELETE ON user_totp TO sealbook_rw;
GRANT SELECT, INSERT, UPDATE (settings, updated_at) ON tenant_settings TO sealbook_rw;
GRANT SELECT, INSERT, UPDATE (ended_at) ON access_grants TO sealbook_rw;
GRANT SELECT, INSERT, DELETE ON saved_searches TO sealbook_rw;

DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT c.relname, c.relowner::regrole AS owner
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'sealbook' AND c.relname IN ('user_totp', 'tenant_settings', 'access_grants', 'saved_searches')
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
-- An ended access stays ended.
DROP POLICY IF EXISTS end_is_final ON access_grants;
CREATE POLICY end_is_final ON access_grants AS RESTRICTIVE FOR UPDATE
    USING (ended_at IS NULL) WITH CHECK (ended_at IS NOT NULL);

CREATE OR REPLACE FUNCTION sealbook_lapsed_access_grants(now_at text, max_rows integer)
RETURNS TABLE (id text, tenant_id text, operator_id text, operator_email text, reason text, ticket text, started_at text, expires_at text, ended_at text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = sealbook, pg_temp AS $$
BEGIN
    PERFORM set_config('sealbook.owner_access', 'on', true);
    RETURN QUERY
        SELECT g.id, g.tenant_id, g.operator_id, g.operator_email, g.reason, g.ticket, g.started_at, g.expires_at, g.ended_at
        FROM access_grants g WHERE g.ended_at IS NULL AND g.expires_at <= now_at
        ORDER BY g.expires_at, g.id LIMIT max_rows;
    PERFORM set_config('sealbook.owner_access', '', true);
END $$;
REVOKE ALL ON FUNCTION sealbook_lapsed_access_grants(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sealbook_lapsed_access_grants(text, integer) TO sealbook_rw;
