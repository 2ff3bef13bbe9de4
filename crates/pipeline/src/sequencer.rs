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
//!
//! The queue is shared fairly ([`Admission`]): one tenant may hold at most
//! `max_queued_events_per_tenant` of it, so a tenant (or a stolen key) that floods ingest is
//! refused alone ([`PipelineError::TenantOverloaded`]) while the others still get in; and the last
//! `reserved_admin_events` places are kept for administrative records ([`Class::Administrative`]:
//! key changes, catalog changes, Sealbook's own audit records), so the operator can still revoke
//! the very key that fills the queue.

use sealbook_domain::TenantId;
use sealbook_store::{AppendOutcome, AppendRequest, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Batching and queueing limits.
#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// Most events waiting in the queue; beyond it, ingest is refused with pushback.
    pub max_queued_events: usize,
    /// Most events committed in one transaction.
    pub max_batch_events: usize,
    /// Groups committed at the same time.
    pub writers: usize,
    /// Most events one tenant may have waiting, counted separately for its clients' events and for
    /// administrative records. It MUST be at least one full request (the API's
    /// `limits.max_batch_events`), or that tenant's full requests are never admitted.
    pub max_queued_events_per_tenant: usize,
    /// Places at the end of the queue that only administrative records may take. It MUST be below
    /// `max_queued_events`.
    pub reserved_admin_events: usize,
}

impl SequencerConfig {
    /// The defaults for a queue of `max_queued_events`: a tenant may hold a quarter of it, and a
    /// twentieth (at least one place) is reserved for administrative records.
    pub fn with_queue(max_queued_events: usize) -> SequencerConfig {
        SequencerConfig {
            max_queued_events,
            max_batch_events: 10_000,
            writers: 1,
            max_queued_events_per_tenant: (max_queued_events / 4).max(1),
            reserved_admin_events: (max_queued_events / 20).max(1),
        }
    }
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig::with_queue(50_000)
    }
}

/// Why a request was not sequenced.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The queue is full; try again shortly.
    #[error("ingest queue is full")]
    Overloaded,
    /// The tenant already holds its share of the queue; other tenants are still admitted.
    #[error("the tenant's share of the ingest queue is full")]
    TenantOverloaded,
    /// The sequencer is shutting down and takes no new work.
    #[error("shutting down")]
    ShuttingDown,
    /// The store failed; nothing of the request was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What kind of write a request is: the queue keeps room for administrative records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Events a client sent (ingest).
    Client,
    /// Key creation and revocation, catalog changes, Sealbook's own audit records: the operator's
    /// and Sealbook's writes, which MUST NOT be starved by a tenant's ingest.
    Administrative,
}

/// The queue's occupancy: events waiting in total and per tenant and class. Taken and released
/// under one short lock per request.
#[derive(Debug)]
struct Admission {
    config: SequencerConfig,
    state: Mutex<Occupancy>,
}

#[derive(Debug, Default)]
struct Occupancy {
    total: usize,
    tenants: HashMap<(TenantId, Class), usize>,
}

impl Admission {
    /// Admits `n` events of `tenant` or says why not. The slot is given back when the returned
    /// guard drops (after the request's commit was answered).
    fn admit(
        self: &Arc<Self>,
        tenant: &TenantId,
        class: Class,
        n: usize,
    ) -> Result<Slot, PipelineError> {
        let c = &self.config;
        let mut o = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let key = (tenant.clone(), class);
        let held = o.tenants.get(&key).copied().unwrap_or(0);
        if held + n > c.max_queued_events_per_tenant {
            return Err(PipelineError::TenantOverloaded);
        }
        let room = match class {
            Class::Client => c.max_queued_events - c.reserved_admin_events,
            Class::Administrative => c.max_queued_events,
        };
        if o.total + n > room {
            return Err(PipelineError::Overloaded);
        }
        o.total += n;
        *o.tenants.entry(key.clone()).or_insert(0) += n;
        Ok(Slot {
            admission: self.clone(),
            key,
            n,
        })
    }

    fn release(&self, key: &(TenantId, Class), n: usize) {
        let mut o = self.state.lock().unwrap_or_else(|p| p.into_inner());
        o.total -= n;
        if let Some(held) = o.tenants.get_mut(key) {
            *held -= n;
            if *held == 0 {
                o.tenants.remove(key);
            }
        }
    }

    fn queued(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

/// A request's place in the queue, given back on drop.
#[derive(Debug)]
struct Slot {
    admission: Arc<Admission>,
    key: (TenantId, Class),
    n: usize,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.release(&self.key, self.n);
    }
}

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<AppendOutcome, Arc<StoreError>>>,
    _slot: Slot,
}

enum Msg {
    Job(Box<Job>),
    Shutdown,
}

/// Handle to the sequencer task. Cheap to clone.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::UnboundedSender<Msg>,
    admission: Arc<Admission>,
    closing: Arc<AtomicBool>,
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
            admission: Arc::new(Admission {
                config,
                state: Mutex::new(Occupancy::default()),
            }),
            closing: Arc::new(AtomicBool::new(false)),
        };
        (seq, handle)
    }

    /// Sequences one request and waits until it is durable (or refused). A request with a
    /// [`sealbook_store::KeyEffect`] is administrative, any other a client's; use
    /// [`Sequencer::submit_as`] for Sealbook's own records without one.
    pub async fn submit(&self, request: AppendRequest) -> Result<AppendOutcome, PipelineError> {
        let class = if request.effect.is_some() {
            Class::Administrative
        } else {
            Class::Client
        };
        self.submit_as(request, class).await
    }

    /// Sequences one request of `class` and waits until it is durable (or refused).
    pub async fn submit_as(
        &self,
        request: AppendRequest,
        class: Class,
    ) -> Result<AppendOutcome, PipelineError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(PipelineError::ShuttingDown);
        }
        let c = &self.admission.config;
        // A request larger than the tenant's share could never be admitted; count it as the share.
        let n = request
            .events
            .len()
            .clamp(1, c.max_queued_events_per_tenant.min(c.max_queued_events));
        let slot = self.admission.admit(&request.tenant, class, n)?;
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Job(Box::new(Job {
                request,
                reply,
                _slot: slot,
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
        self.admission.queued()
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
        .map(|j| (j.request, (j.reply, j._slot)))
        .unzip();
    let result = store.append(requests).await;
    metrics::histogram!("sealbook_commit_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("sealbook_batch_events").record(events as f64);
    match result {
        Ok(outcomes) => {
            for ((reply, _slot), outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events, "group commit failed; every request in it is refused");
            let e = Arc::new(e);
            for (reply, _slot) in replies {
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

    fn config(queue: usize, per_tenant: usize, reserved: usize) -> SequencerConfig {
        SequencerConfig {
            max_queued_events: queue,
            max_batch_events: queue,
            writers: 1,
            max_queued_events_per_tenant: per_tenant,
            reserved_admin_events: reserved,
        }
    }

    /// Tenants `names`, created in a fresh store behind a gate.
    async fn gated(names: &[&str]) -> (tempfile::TempDir, Arc<crate::gate::Gated>, Vec<TenantId>) {
        let (d, s) = store();
        let mut ts = Vec::new();
        for n in names {
            let t = TenantId::parse(n).unwrap();
            s.create_tenant(&t, n).await.unwrap();
            ts.push(t);
        }
        (d, crate::gate::Gated::new(s), ts)
    }

    /// Submits in the background and waits until the request holds its place in the queue.
    async fn park(
        seq: &Sequencer,
        request: AppendRequest,
    ) -> tokio::task::JoinHandle<Result<AppendOutcome, PipelineError>> {
        let before = seq.queued_events();
        let n = request.events.len();
        let s = seq.clone();
        let task = tokio::spawn(async move { s.submit(request).await });
        while seq.queued_events() < before + n && !task.is_finished() {
            tokio::task::yield_now().await;
        }
        task
    }

    #[tokio::test]
    async fn full_queue_pushes_back() {
        let (_d, g, ts) = gated(&["a", "b", "c"]).await;
        let (seq, _h) = Sequencer::start(g.clone(), config(10, 10, 0));
        g.appends.close();
        // A stalled store: the first request is in the commit, the rest of the queue fills up.
        let first = park(&seq, request(&ts[0], 1, "first")).await;
        g.appends.entered(1).await;
        let mut held = vec![park(&seq, request(&ts[1], 9, "b")).await];
        assert!(matches!(
            seq.submit(request(&ts[2], 1, "c")).await,
            Err(PipelineError::Overloaded)
        ));
        g.appends.open();
        assert!(matches!(
            first.await.unwrap(),
            Ok(AppendOutcome::Committed(_))
        ));
        held.push(tokio::spawn({
            let seq = seq.clone();
            let t = ts[2].clone();
            async move { seq.submit(request(&t, 1, "c")).await }
        }));
        for h in held {
            assert!(matches!(h.await.unwrap(), Ok(AppendOutcome::Committed(_))));
        }
        assert_eq!(seq.queued_events(), 0, "every place is given back");
    }

    /// One tenant filling its share of the queue is refused alone: another tenant's events still
    /// get in, and so do administrative records of the flooding tenant itself.
    #[tokio::test]
    async fn a_flooding_tenant_is_refused_alone() {
        let (_d, g, ts) = gated(&["flood", "other"]).await;
        let (flood, other) = (&ts[0], &ts[1]);
        let (seq, _h) = Sequencer::start(g.clone(), config(100, 25, 5));
        g.appends.close();
        let mut held = vec![park(&seq, request(flood, 5, "f0")).await];
        g.appends.entered(1).await;
        for i in 1..5 {
            held.push(park(&seq, request(flood, 5, &format!("f{i}"))).await);
        }
        assert_eq!(seq.queued_events(), 25);
        assert!(matches!(
            seq.submit(request(flood, 1, "f-more")).await,
            Err(PipelineError::TenantOverloaded)
        ));
        held.push(park(&seq, request(other, 5, "o")).await);
        assert_eq!(seq.queued_events(), 30, "the other tenant is admitted");
        let mut admin = request(flood, 1, "audit");
        admin.events[0].event_type = "audit_log.exported".into();
        let audit = {
            let seq = seq.clone();
            tokio::spawn(async move { seq.submit_as(admin, Class::Administrative).await })
        };
        while seq.queued_events() < 31 {
            tokio::task::yield_now().await;
        }
        g.appends.open();
        for h in held {
            assert!(matches!(h.await.unwrap(), Ok(AppendOutcome::Committed(_))));
        }
        assert!(matches!(
            audit.await.unwrap(),
            Ok(AppendOutcome::Committed(_))
        ));
    }

    /// With the clients' part of the queue full, key changes still get in: the operator can
    /// revoke the very key that fills it.
    #[tokio::test]
    async fn a_revocation_gets_in_when_the_queue_is_full() {
        let (_d, g, ts) = gated(&["a", "b", "c", "d", "e"]).await;
        let key = sealbook_store::NewKey {
            record: sealbook_store::KeyRecord {
                id: "k1".into(),
                tenant: ts[0].clone(),
                name: "stolen".into(),
                scopes: vec![sealbook_domain::Scope::EventsWrite],
                prefix: "sbk_test".into(),
                created_at: "2026-01-01T00:00:00Z".into(),
                revoked_at: None,
            },
            secret_hash: [9; 32],
        };
        let mut create = request(&ts[0], 1, "created");
        create.effect = Some(sealbook_store::KeyEffect::Create(key));
        g.append(vec![create]).await.unwrap();
        let (seq, _h) = Sequencer::start(g.clone(), config(40, 10, 4));
        g.appends.close();
        let mut held = vec![park(&seq, request(&ts[0], 10, "a")).await];
        g.appends.entered(1).await;
        for (t, n) in [(&ts[1], 10), (&ts[2], 10), (&ts[3], 6)] {
            held.push(park(&seq, request(t, n, t.as_str())).await);
        }
        assert_eq!(seq.queued_events(), 36);
        assert!(matches!(
            seq.submit(request(&ts[4], 1, "e")).await,
            Err(PipelineError::Overloaded)
        ));
        let mut revoke = request(&ts[0], 1, "revoked");
        revoke.effect = Some(sealbook_store::KeyEffect::Revoke {
            key_id: "k1".into(),
            at: "2026-01-02T00:00:00Z".into(),
        });
        let revocation = park(&seq, revoke).await;
        assert_eq!(
            seq.queued_events(),
            37,
            "the revocation holds a reserved place"
        );
        g.appends.open();
        assert!(matches!(
            revocation.await.unwrap(),
            Ok(AppendOutcome::Committed(_))
        ));
        for h in held {
            assert!(matches!(h.await.unwrap(), Ok(AppendOutcome::Committed(_))));
        }
        let k = g.key(&ts[0], "k1").await.unwrap().unwrap();
        assert_eq!(k.revoked_at.as_deref(), Some("2026-01-02T00:00:00Z"));
    }
}
