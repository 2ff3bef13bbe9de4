//! The sequencer: the one path by which events reach a tenant's log.
//!
//! Requests queue in a bounded queue (counted in events). A task drains everything waiting, up to
//! `max_batch_events`, and hands it to the store as one transaction: one fsync for the whole group
//! (group commit), consecutive indexes per tenant. Up to `writers` groups commit at once (1 for
//! the embedded store, which has one writer anyway; more for PostgreSQL, where the store
//! serialises each tenant on its log head); while every writer is busy, arrivals gather into the
//! next group. Each caller is answered only after that
//! commit, so a receipt always names a durable event. A full queue is pushback
//! ([`PipelineError::Overloaded`]), which the API turns into 503 with `Retry-After`.

use sealbook_store::{AppendOutcome, AppendRequest, Store, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// Batching and queueing limits.
#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// Most events waiting in the queue; beyond it, ingest is refused with pushback.
    pub max_queued_events: usize,
    /// Most events committed in one transaction.
    pub max_batch_events: usize,
    /// Groups committed at the same time.
    pub writers: usize,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            max_queued_events: 50_000,
            max_batch_events: 10_000,
            writers: 1,
        }
    }
}

/// Why a request was not sequenced.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The queue is full; try again shortly.
    #[error("ingest queue is full")]
    Overloaded,
    /// The sequencer is shutting down and takes no new work.
    #[error("shutting down")]
    ShuttingDown,
    /// The store failed; nothing of the request was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<AppendOutcome, Arc<StoreError>>>,
    _permit: OwnedSemaphorePermit,
}

enum Msg {
    Job(Box<Job>),
    Shutdown,
}

/// Handle to the sequencer task. Cheap to clone.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::UnboundedSender<Msg>,
    queue: Arc<Semaphore>,
    closing: Arc<AtomicBool>,
    config: SequencerConfig,
}

impl Sequencer {
    /// Starts the sequencer task over `store`. Await the returned handle after [`Sequencer::shutdown`]
    /// to know that every accepted request has been committed and answered.
    pub fn start(
        store: Arc<dyn Store>,
        config: SequencerConfig,
    ) -> (Sequencer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = tokio::spawn(run(store, rx, config.max_batch_events, config.writers));
        let seq = Sequencer {
            tx,
            queue: Arc::new(Semaphore::new(config.max_queued_events)),
            closing: Arc::new(AtomicBool::new(false)),
            config,
        };
        (seq, handle)
    }

    /// Sequences one request and waits until it is durable (or refused).
    pub async fn submit(&self, request: AppendRequest) -> Result<AppendOutcome, PipelineError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(PipelineError::ShuttingDown);
        }
        // A request larger than the whole queue could never be admitted; count it as the whole queue.
        let n = request.events.len().clamp(1, self.config.max_queued_events) as u32;
        let permit = self
            .queue
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| PipelineError::Overloaded)?;
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Job(Box::new(Job {
                request,
                reply,
                _permit: permit,
            })))
            .map_err(|_| PipelineError::ShuttingDown)?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            // Every request of a failed group gets the same error; each keeps its variant (a
            // corrupt store must not read as an unavailable one).
            Ok(Err(e)) => Err(PipelineError::Store(Arc::unwrap_or_clone(e))),
            Err(_) => Err(PipelineError::ShuttingDown),
        }
    }

    /// Stops taking new requests; requests already queued are still committed and answered.
    pub fn shutdown(&self) {
        self.closing.store(true, Ordering::Release);
        let _ = self.tx.send(Msg::Shutdown);
    }

    /// Events waiting now (for metrics and tests).
    pub fn queued_events(&self) -> usize {
        self.config.max_queued_events - self.queue.available_permits()
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    max_batch: usize,
    writers: usize,
) {
    let slots = Arc::new(Semaphore::new(writers.max(1)));
    let mut inflight = tokio::task::JoinSet::new();
    let mut stopping = false;
    while !stopping {
        // Wait for a free writer before gathering: what arrives meanwhile joins this group.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        while inflight.try_join_next().is_some() {}
        let Some(first) = rx.recv().await else { break };
        let mut jobs = Vec::new();
        let mut events = 0usize;
        let push = |msg: Msg, jobs: &mut Vec<Job>, events: &mut usize| match msg {
            Msg::Job(j) => {
                *events += j.request.events.len();
                jobs.push(*j);
                false
            }
            Msg::Shutdown => true,
        };
        stopping = push(first, &mut jobs, &mut events);
        // Everything that arrived while the last commit ran joins this one (group commit).
        while events < max_batch {
            match rx.try_recv() {
                Ok(msg) => stopping |= push(msg, &mut jobs, &mut events),
                Err(_) => break,
            }
        }
        if stopping {
            // Drain whatever raced in before the shutdown message was seen.
            while let Ok(msg) = rx.try_recv() {
                push(msg, &mut jobs, &mut events);
            }
        }
        if jobs.is_empty() {
            continue;
        }
        let store = store.clone();
        inflight.spawn(async move {
            commit(&*store, jobs, events).await;
            drop(slot);
        });
    }
    // Every accepted request is committed and answered before the sequencer reports stopped.
    while inflight.join_next().await.is_some() {}
    tracing::info!("sequencer stopped");
}

async fn commit(store: &dyn Store, jobs: Vec<Job>, events: usize) {
    let started = Instant::now();
    let (requests, replies): (Vec<_>, Vec<_>) = jobs
        .into_iter()
        .map(|j| (j.request, (j.reply, j._permit)))
        .unzip();
    let result = store.append(requests).await;
    metrics::histogram!("sealbook_commit_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("sealbook_batch_events").record(events as f64);
    match result {
        Ok(outcomes) => {
            for ((reply, _permit), outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events, "group commit failed; every request in it is refused");
            let e = Arc::new(e);
            for (reply, _permit) in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbook_domain::TenantId;

    fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let s = sealbook_store_sqlite::SqliteStore::open(dir.path()).unwrap();
        (dir, Arc::new(s))
    }

    fn request(t: &TenantId, n: usize, tag: &str) -> AppendRequest {
        let evs: Vec<_> = (0..n)
            .map(|i| serde_json::json!({"id": format!("{tag}-{i}"), "type": "x.y", "occurred_at": "2026-01-01T00:00:00Z",
                "actor": {"type": "system", "id": "s"}, "subject": {"type": "thing", "id": "1"}}))
            .collect();
        AppendRequest {
            tenant: t.clone(),
            events: sealbook_testkit::conformance::events(t, serde_json::Value::Array(evs)),
            effect: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_submits_get_one_gap_free_sequence() {
        gap_free_with_writers(1).await;
    }

    /// Several groups in flight at once still make one sequence, and shutdown waits for all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_keep_one_gap_free_sequence() {
        gap_free_with_writers(4).await;
    }

    async fn gap_free_with_writers(writers: usize) {
        let (_d, s) = store();
        let t = TenantId::parse("t").unwrap();
        s.create_tenant(&t, "T").await.unwrap();
        let config = SequencerConfig {
            writers,
            ..SequencerConfig::default()
        };
        let (seq, handle) = Sequencer::start(s.clone(), config);
        let mut tasks = Vec::new();
        for c in 0..8 {
            let (seq, t) = (seq.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                let mut idx = Vec::new();
                for i in 0..10 {
                    match seq
                        .submit(request(&t, 5, &format!("{c}-{i}")))
                        .await
                        .unwrap()
                    {
                        AppendOutcome::Committed(r) => idx.extend(r.iter().map(|r| r.index)),
                        o => panic!("{o:?}"),
                    }
                }
                idx
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (0..400).collect::<Vec<u64>>());
        seq.shutdown();
        handle.await.unwrap();
        assert!(matches!(
            seq.submit(request(&t, 1, "late")).await,
            Err(PipelineError::ShuttingDown)
        ));
    }

    /// A group that fails on damaged data answers its requests with that error, variant and all:
    /// a corrupt store must not read as an unavailable one, which clients would retry.
    #[tokio::test]
    async fn a_corrupt_store_stays_corrupt_through_the_reply() {
        let (dir, s) = store();
        let t = TenantId::parse("t").unwrap();
        s.create_tenant(&t, "T").await.unwrap();
        let (seq, _h) = Sequencer::start(s, SequencerConfig::default());
        seq.submit(request(&t, 1, "a")).await.unwrap();
        rusqlite::Connection::open(dir.path().join("sealbook.db"))
            .unwrap()
            .execute("UPDATE tiles SET hashes = substr(hashes, 1, 31)", [])
            .unwrap();
        match seq.submit(request(&t, 1, "b")).await {
            Err(PipelineError::Store(StoreError::Corrupt(c))) => assert_eq!(c.tenant, Some(t)),
            other => panic!("expected a corrupt store, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn full_queue_pushes_back() {
        let (_d, s) = store();
        let t = TenantId::parse("t").unwrap();
        s.create_tenant(&t, "T").await.unwrap();
        let (seq, _h) = Sequencer::start(
            s,
            SequencerConfig {
                max_queued_events: 10,
                max_batch_events: 10,
                writers: 1,
            },
        );
        // Hold the whole queue, as a stalled store would.
        let held = seq.queue.clone().try_acquire_many_owned(10).unwrap();
        assert!(matches!(
            seq.submit(request(&t, 1, "a")).await,
            Err(PipelineError::Overloaded)
        ));
        drop(held);
        assert!(matches!(
            seq.submit(request(&t, 1, "a")).await,
            Ok(AppendOutcome::Committed(_))
        ));
    }
}
