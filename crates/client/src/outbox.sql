-- The Sealbook outbox, in the application's own database. Idempotent: safe in every deploy.
CREATE TABLE IF NOT EXISTS sealbook_outbox (
    id bigserial PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    -- "<subject type>:<subject id>"; events of one subject are delivered in id order.
    subject_key text NOT NULL,
    -- A hash of subject_key into 64 partitions; one relay at a time delivers a partition.
    partition smallint NOT NULL,
    -- The event exactly as recorded (text, so the bytes sent on every retry are the same).
    event text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    delivered_at timestamptz,
    receipt_index bigint,
    parked_at timestamptz,
    last_error text
);
CREATE INDEX IF NOT EXISTS sealbook_outbox_pending ON sealbook_outbox (partition, id)
    WHERE delivered_at IS NULL AND parked_at IS NULL;
CREATE INDEX IF NOT EXISTS sealbook_outbox_delivered ON sealbook_outbox (delivered_at)
    WHERE delivered_at IS NOT NULL;
