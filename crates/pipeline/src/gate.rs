//! For tests: a store that holds chosen calls until the test lets them go, so a test can put the
//! pipeline in a state (a stalled commit, a signing in progress) deterministically, without sleeps.

use async_trait::async_trait;
use sealbook_domain::{EventFilter, TenantId, TenantSettings};
use sealbook_logmath::Hash;
use sealbook_store::{
    AccessGrant, AppendOutcome, AppendRequest, CheckpointOutcome, Credentials, KeyRecord,
    PasswordToken, People, SavedSearch, Session, Store, StoreError, StoredCheckpoint, StoredEvent,
    Tenant, TreeHead, User,
};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A gate: closed, calls behind it wait; [`Gate::open`] lets them all through. `entered` counts the
/// calls that reached it, so a test can await "the call is being held".
pub(crate) struct Gate {
    open: watch::Sender<bool>,
    entered: watch::Sender<usize>,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            open: watch::channel(true).0,
            entered: watch::channel(0).0,
        }
    }

    pub(crate) fn close(&self) {
        self.open.send_replace(false);
    }

    pub(crate) fn open(&self) {
        self.open.send_replace(true);
    }

    /// Waits until at least `n` calls reached the gate.
    pub(crate) async fn entered(&self, n: usize) {
        let mut rx = self.entered.subscribe();
        rx.wait_for(|&e| e >= n).await.expect("the gate lives");
    }

    async fn pass(&self) {
        self.entered.send_modify(|e| *e += 1);
        let mut rx = self.open.subscribe();
        rx.wait_for(|&o| o).await.expect("the gate lives");
    }
}

/// `inner`, with a gate before every append and one before `add_checkpoint` of one tenant.
pub(crate) struct Gated {
    inner: Arc<dyn Store>,
    pub(crate) appends: Gate,
    pub(crate) checkpoints: Gate,
    checkpoint_tenant: Mutex<Option<TenantId>>,
}

impl Gated {
    pub(crate) fn new(inner: Arc<dyn Store>) -> Arc<Gated> {
        Arc::new(Gated {
            inner,
            appends: Gate::new(),
            checkpoints: Gate::new(),
            checkpoint_tenant: Mutex::new(None),
        })
    }

    /// Holds `add_checkpoint` of `tenant` (only) at [`Gated::checkpoints`].
    pub(crate) fn hold_checkpoints_of(&self, tenant: &TenantId) {
        *self.checkpoint_tenant.lock().unwrap() = Some(tenant.clone());
        self.checkpoints.close();
    }
}

/// People pass through ungated: the gates hold appends and checkpoints only.
#[async_trait]
impl People for Gated {
    async fn user(&self, t: &TenantId, id: &str) -> Result<Option<User>, StoreError> {
        self.inner.user(t, id).await
    }
    async fn user_by_email(&self, t: &TenantId, e: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_email(t, e).await
    }
    async fn list_users(&self, t: &TenantId) -> Result<Vec<User>, StoreError> {
        self.inner.list_users(t).await
    }
    async fn credentials(&self, t: &TenantId, id: &str) -> Result<Option<Credentials>, StoreError> {
        self.inner.credentials(t, id).await
    }
    async fn session_by_hash(&self, h: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        self.inner.session_by_hash(h).await
    }
    async fn touch_session(&self, t: &TenantId, id: &str, at: &str) -> Result<(), StoreError> {
        self.inner.touch_session(t, id, at).await
    }
    async fn list_sessions(&self, t: &TenantId, u: &str) -> Result<Vec<Session>, StoreError> {
        self.inner.list_sessions(t, u).await
    }
    async fn password_token_by_hash(
        &self,
        h: &[u8; 32],
    ) -> Result<Option<PasswordToken>, StoreError> {
        self.inner.password_token_by_hash(h).await
    }
    async fn use_totp_step(&self, t: &TenantId, u: &str, step: i64) -> Result<bool, StoreError> {
        self.inner.use_totp_step(t, u, step).await
    }
    async fn settings(&self, t: &TenantId) -> Result<Option<TenantSettings>, StoreError> {
        self.inner.settings(t).await
    }
    async fn access_grant(
        &self,
        t: &TenantId,
        id: &str,
    ) -> Result<Option<AccessGrant>, StoreError> {
        self.inner.access_grant(t, id).await
    }
    async fn list_access_grants(
        &self,
        t: &TenantId,
        limit: usize,
    ) -> Result<Vec<AccessGrant>, StoreError> {
        self.inner.list_access_grants(t, limit).await
    }
    async fn lapsed_access_grants(
        &self,
        now: &str,
        limit: usize,
    ) -> Result<Vec<AccessGrant>, StoreError> {
        self.inner.lapsed_access_grants(now, limit).await
    }
    async fn save_search(&self, t: &TenantId, s: &SavedSearch) -> Result<bool, StoreError> {
        self.inner.save_search(t, s).await
    }
    async fn saved_searches(&self, t: &TenantId, u: &str) -> Result<Vec<SavedSearch>, StoreError> {
        self.inner.saved_searches(t, u).await
    }
    async fn delete_saved_search(
        &self,
        t: &TenantId,
        u: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        self.inner.delete_saved_search(t, u, id).await
    }
}

#[async_trait]
impl Store for Gated {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn create_tenant(&self, id: &TenantId, name: &str) -> Result<Tenant, StoreError> {
        self.inner.create_tenant(id, name).await
    }
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.inner.list_tenants().await
    }
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.inner.tenant(id).await
    }
    async fn key_by_hash(&self, h: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.key_by_hash(h).await
    }
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list_keys(tenant).await
    }
    async fn key(&self, tenant: &TenantId, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.key(tenant, key_id).await
    }
    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StoreError> {
        self.appends.pass().await;
        self.inner.append(batch).await
    }
    async fn query(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.query(tenant, filter).await
    }
    async fn count(&self, tenant: &TenantId, filter: &EventFilter) -> Result<u64, StoreError> {
        self.inner.count(tenant, filter).await
    }
    async fn event(&self, tenant: &TenantId, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        self.inner.event(tenant, id).await
    }
    async fn log_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.inner.log_size(tenant).await
    }
    async fn tree_head(&self, tenant: &TenantId) -> Result<TreeHead, StoreError> {
        self.inner.tree_head(tenant).await
    }
    async fn entries(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.inner.entries(tenant, start, end).await
    }
    async fn personal(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.inner.personal(tenant, start, end).await
    }
    async fn latest_checkpoint(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.inner.latest_checkpoint(tenant).await
    }
    async fn add_checkpoint(
        &self,
        tenant: &TenantId,
        checkpoint: StoredCheckpoint,
    ) -> Result<CheckpointOutcome, StoreError> {
        let held = self.checkpoint_tenant.lock().unwrap().as_ref() == Some(tenant);
        if held {
            self.checkpoints.pass().await;
        }
        self.inner.add_checkpoint(tenant, checkpoint).await
    }
    async fn unsigned_growth(
        &self,
    ) -> Result<Vec<(TenantId, TreeHead, Option<StoredCheckpoint>)>, StoreError> {
        self.inner.unsigned_growth().await
    }
    async fn record_signing_key(&self, public_key: [u8; 32]) -> Result<(), StoreError> {
        self.inner.record_signing_key(public_key).await
    }
    async fn signing_keys(&self) -> Result<Vec<[u8; 32]>, StoreError> {
        self.inner.signing_keys().await
    }
    async fn pin_setting(&self, name: &str, value: &str) -> Result<String, StoreError> {
        self.inner.pin_setting(name, value).await
    }
    async fn tile(
        &self,
        tenant: &TenantId,
        level: u32,
        number: u64,
    ) -> Result<Option<Vec<Hash>>, StoreError> {
        self.inner.tile(tenant, level, number).await
    }
}
