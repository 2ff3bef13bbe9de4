//! The transactional outbox: audit events commit with the business change, in the application's
//! own PostgreSQL database, and a relay delivers them to Sealbook exactly once.
//!
//! ```no_run
//! # async fn f(db: &mut tokio_postgres::Client, order_id: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use sealbook_client::{event::{Event, Party}, outbox};
//! let mut tx = db.transaction().await?;
//! tx.execute("UPDATE orders SET status = 'shipped' WHERE id = $1", &[&order_id]).await?;
//! let audit = Event::new("order.status_changed", Party::user("u-42"), Party::new("order", order_id))
//!     .change("status", "open", "shipped");
//! outbox::record(&mut tx, &audit).await?;   // same transaction: both commit, or neither
//! tx.commit().await?;
//! // Elsewhere, once per process (or `sealbook relay` as a process of its own):
//! let sealbook = sealbook_client::Client::new("http://sealbook:8080", "sbk_…")?;
//! let relay = outbox::Relay::connect("postgres://app@db/app", sealbook, Default::default()).await?;
//! tokio::spawn(relay.run(std::future::pending()));
//! # Ok(()) }
//! ```
//!
//! Guarantees, each tested against a real PostgreSQL and a real Sealbook: a rolled-back
//! transaction never produces an event; a committed one produces it exactly once (Sealbook is
//! idempotent by event id, so a relay killed between sending and marking only re-sends), also when
//! Sealbook is down at commit time; several relays may run at once; per subject, events reach
//! Sealbook in the order they were recorded (a subject hashes to one of 64 partitions, and one
//! relay at a time holds a partition for a transaction); an event Sealbook rejects (422) is parked
//! with its error and does not block the events behind it.

pub use crate::delivery::{deliver, Delivery};
use crate::event::Event;
use crate::{Client, ClientError};
use std::time::Duration;

/// The outbox table, for the application's own migrations (idempotent).
pub const MIGRATION: &str = include_str!("outbox.sql");
/// Subjects hash into this many partitions; one relay at a time delivers a partition.
pub const PARTITIONS: i16 = 64;
/// Namespace of the relay's advisory locks (`pg_try_advisory_xact_lock(NAMESPACE, partition)`).
const NAMESPACE: i32 = 0x5EA1;

/// Outbox failures.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// The event cannot be recorded (no subject).
    #[error("event: {0}")]
    Event(String),
    /// Sealbook could not be reached or refused the batch as a whole.
    #[error(transparent)]
    Sealbook(#[from] Box<ClientError>),
}

fn db(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Database(e.to_string())
}

/// `(event id, subject key, partition, JSON)` of an event to record.
fn row(event: &Event) -> Result<(String, String, i16, String), OutboxError> {
    let v = event.to_json();
    let subject = format!(
        "{}:{}",
        v["subject"]["type"].as_str().unwrap_or_default(),
        v["subject"]["id"].as_str().unwrap_or_default()
    );
    if subject == ":" {
        return Err(OutboxError::Event("an audit event needs a subject".into()));
    }
    let p = partition(&subject);
    Ok((event.id().to_owned(), subject, p, v.to_string()))
}

/// The partition of a subject: FNV-1a, stable across processes and versions.
pub fn partition(subject_key: &str) -> i16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in subject_key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % PARTITIONS as u32) as i16
}

const INSERT: &str =
    "INSERT INTO sealbook_outbox(event_id, subject_key, partition, event) VALUES ($1, $2, $3, $4)";

/// A transaction the outbox can write into: tokio-postgres's, and sqlx's with the `sqlx` feature.
pub trait OutboxTransaction {
    /// Inserts one outbox row.
    fn insert_row(
        &mut self,
        event_id: &str,
        subject_key: &str,
        partition: i16,
        json: &str,
    ) -> impl std::future::Future<Output = Result<(), OutboxError>> + Send;
}

impl OutboxTransaction for tokio_postgres::Transaction<'_> {
    async fn insert_row(
        &mut self,
        event_id: &str,
        subject_key: &str,
        partition: i16,
        json: &str,
    ) -> Result<(), OutboxError> {
        self.execute(INSERT, &[&event_id, &subject_key, &partition, &json])
            .await
            .map(|_| ())
            .map_err(db)
    }
}

#[cfg(feature = "sqlx")]
impl OutboxTransaction for sqlx::Transaction<'_, sqlx::Postgres> {
    async fn insert_row(
        &mut self,
        event_id: &str,
        subject_key: &str,
        partition: i16,
        json: &str,
    ) -> Result<(), OutboxError> {
        sqlx::query(INSERT)
            .bind(event_id)
            .bind(subject_key)
            .bind(partition)
            .bind(json)
            .execute(&mut **self)
            .await
            .map(|_| ())
            .map_err(db)
    }
}

/// Records `event` in the caller's transaction: it reaches Sealbook if and only if the
/// transaction commits.
pub async fn record<T: OutboxTransaction>(tx: &mut T, event: &Event) -> Result<(), OutboxError> {
    let (id, subject, p, json) = row(event)?;
    tx.insert_row(&id, &subject, p, &json).await
}

/// Creates the outbox table if it is missing (or run [`MIGRATION`] with your own migrations).
pub async fn migrate(client: &tokio_postgres::Client) -> Result<(), OutboxError> {
    client.batch_execute(MIGRATION).await.map_err(db)
}

/// Relay settings.
#[derive(Debug, Clone, Copy)]
pub struct RelayConfig {
    /// Most events per request to Sealbook.
    pub batch: usize,
    /// Pause when there is nothing to deliver.
    pub idle: Duration,
    /// How long delivered rows are kept before they are deleted.
    pub keep_delivered: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch: 500,
            idle: Duration::from_millis(200),
            keep_delivered: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What one relay cycle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cycle {
    /// Events Sealbook acknowledged (including faithful re-sends).
    pub delivered: usize,
    /// Events Sealbook refused for good, now parked.
    pub parked: usize,
}

/// A parked event, for operators.
#[derive(Debug, Clone)]
pub struct Parked {
    /// Event id.
    pub event_id: String,
    /// Why Sealbook refused it.
    pub error: String,
}

/// Delivers recorded events to Sealbook (see the module docs).
pub struct Relay {
    url: String,
    db: Option<tokio_postgres::Client>,
    sealbook: Client,
    config: RelayConfig,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, OutboxError> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(db)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

impl Relay {
    /// A relay reading the outbox at `database_url` and sending with `sealbook`.
    pub async fn connect(
        database_url: &str,
        sealbook: Client,
        config: RelayConfig,
    ) -> Result<Relay, OutboxError> {
        let client = connect(database_url).await?;
        Ok(Relay {
            url: database_url.to_owned(),
            db: Some(client),
            sealbook,
            config,
        })
    }

    async fn client(&mut self) -> Result<&mut tokio_postgres::Client, OutboxError> {
        if self.db.as_ref().is_none_or(|c| c.is_closed()) {
            self.db = Some(connect(&self.url).await?);
        }
        Ok(self.db.as_mut().expect("connected above"))
    }

    /// One cycle: claim up to `batch` pending events of the partitions no other relay holds, send
    /// them, mark them delivered (or park the ones Sealbook refuses), commit. On any failure the
    /// transaction rolls back and the events stay pending.
    pub async fn run_once(&mut self) -> Result<Cycle, OutboxError> {
        let batch = self.config.batch as i64;
        let sealbook = self.sealbook.clone();
        let client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // Partitions with pending events, in random order, locked until they cover a batch: the
        // rest stay free for other relays.
        let mut partitions: Vec<(i16, i64)> = tx
            .query(
                "SELECT partition, count(*) FROM sealbook_outbox WHERE delivered_at IS NULL AND parked_at IS NULL GROUP BY partition",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        let mut x = u64::from_le_bytes(seed) | 1;
        for i in (1..partitions.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            partitions.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let mut held = Vec::new();
        let mut covered = 0i64;
        for (p, n) in partitions {
            if covered >= batch {
                break;
            }
            let got: bool = tx
                .query_one(
                    "SELECT pg_try_advisory_xact_lock($1, $2)",
                    &[&NAMESPACE, &i32::from(p)],
                )
                .await
                .map_err(db)?
                .get(0);
            if got {
                held.push(p);
                covered += n;
            }
        }
        if held.is_empty() {
            tx.rollback().await.map_err(db)?;
            return Ok(Cycle::default());
        }
        let rows = tx
            .query(
                "SELECT id, event FROM sealbook_outbox WHERE partition = ANY($1) AND delivered_at IS NULL AND parked_at IS NULL \
                 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&held, &batch],
            )
            .await
            .map_err(db)?;
        let mut pending: Vec<(i64, serde_json::Value)> = Vec::with_capacity(rows.len());
        let mut cycle = Cycle::default();
        for r in &rows {
            let id: i64 = r.get(0);
            let text: String = r.get(1);
            match serde_json::from_str(&text) {
                Ok(v) => pending.push((id, v)),
                Err(e) => {
                    park(&tx, id, &format!("not JSON: {e}")).await?;
                    cycle.parked += 1;
                }
            }
        }
        let events: Vec<serde_json::Value> = pending.iter().map(|(_, v)| v.clone()).collect();
        let outcome = match deliver(&sealbook, events).await {
            Ok(o) => o,
            Err(e) => {
                // Leave everything pending; the caller backs off.
                let _ = tx.rollback().await;
                return Err(OutboxError::Sealbook(Box::new(e)));
            }
        };
        let mut ids = Vec::new();
        let mut idx = Vec::new();
        for (pos, r) in &outcome.delivered {
            ids.push(pending[*pos].0);
            idx.push(r.index as i64);
        }
        tx.execute(
            "UPDATE sealbook_outbox o SET delivered_at = now(), receipt_index = u.idx, attempts = attempts + 1 \
             FROM unnest($1::bigint[], $2::bigint[]) AS u(id, idx) WHERE o.id = u.id",
            &[&ids, &idx],
        )
        .await
        .map_err(db)?;
        cycle.delivered += ids.len();
        metrics::counter!("sealbook_outbox_delivered_total").increment(ids.len() as u64);
        for (pos, why) in &outcome.parked {
            park(&tx, pending[*pos].0, why).await?;
            cycle.parked += 1;
            metrics::counter!("sealbook_outbox_parked_total").increment(1);
        }
        tx.commit().await.map_err(db)?;
        Ok(cycle)
    }

    /// Deletes delivered rows older than `keep_delivered`, and publishes the outbox gauges
    /// (`sealbook_outbox_pending`, `sealbook_outbox_lag_seconds`, `sealbook_outbox_parked`).
    pub async fn housekeeping(&mut self) -> Result<(), OutboxError> {
        let keep = self.config.keep_delivered.as_secs_f64();
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM sealbook_outbox WHERE delivered_at < now() - make_interval(secs => $1)",
                &[&keep],
            )
            .await
            .map_err(db)?;
        let r = client
            .query_one(
                "SELECT count(*) FILTER (WHERE delivered_at IS NULL AND parked_at IS NULL), \
                        coalesce(extract(epoch FROM now() - min(recorded_at) FILTER (WHERE delivered_at IS NULL AND parked_at IS NULL)), 0)::float8, \
                        count(*) FILTER (WHERE parked_at IS NOT NULL) \
                 FROM sealbook_outbox",
                &[],
            )
            .await
            .map_err(db)?;
        metrics::gauge!("sealbook_outbox_pending").set(r.get::<_, i64>(0) as f64);
        metrics::gauge!("sealbook_outbox_lag_seconds").set(r.get::<_, f64>(1));
        metrics::gauge!("sealbook_outbox_parked").set(r.get::<_, i64>(2) as f64);
        Ok(())
    }

    /// Creates the outbox table if it is missing.
    pub async fn migrate(&mut self) -> Result<(), OutboxError> {
        migrate(self.client().await?).await
    }

    /// Events Sealbook refused for good, oldest first.
    pub async fn parked(&mut self) -> Result<Vec<Parked>, OutboxError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT event_id, last_error FROM sealbook_outbox WHERE parked_at IS NOT NULL ORDER BY id",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| Parked {
                event_id: r.get(0),
                error: r.get::<_, Option<String>>(1).unwrap_or_default(),
            })
            .collect())
    }

    /// Delivers until `shutdown` resolves: cycles back to back while there is work, pauses when
    /// there is none, backs off (with jitter) while Sealbook or the database is unavailable.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        let mut last_housekeeping = std::time::Instant::now() - Duration::from_secs(3600);
        loop {
            if last_housekeeping.elapsed() > Duration::from_secs(10) {
                if let Err(e) = self.housekeeping().await {
                    tracing_warn(&e);
                }
                last_housekeeping = std::time::Instant::now();
            }
            let pause = match self.run_once().await {
                Ok(c) if c.delivered + c.parked > 0 => {
                    failures = 0;
                    Duration::ZERO
                }
                Ok(_) => {
                    failures = 0;
                    self.config.idle
                }
                Err(e) => {
                    tracing_warn(&e);
                    failures = failures.saturating_add(1);
                    match &e {
                        OutboxError::Sealbook(c) => self.sealbook.retry.delay(failures.min(10), c),
                        _ => Duration::from_millis(200u64 << failures.min(6)),
                    }
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

fn tracing_warn(e: &OutboxError) {
    tracing::warn!(error = %e, "outbox relay: will retry");
}

async fn park(tx: &tokio_postgres::Transaction<'_>, id: i64, why: &str) -> Result<(), OutboxError> {
    tx.execute(
        "UPDATE sealbook_outbox SET parked_at = now(), last_error = $2, attempts = attempts + 1 WHERE id = $1",
        &[&id, &why],
    )
    .await
    .map(|_| ())
    .map_err(db)
}
