-- Sealbook on PostgreSQL: the same data as the embedded schema, laid out for several nodes and
-- for Citus: tenant_id leads every primary key and index, so it can be the distribution column.
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
