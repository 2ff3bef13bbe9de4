//! What every handler works with: [`AppState`], built once from [`Services`] and [`ApiConfig`].
//!
//! The state holds the parts (store, sequencer, log), the authentication material (the operator
//! token's hash, the key cache, the rate limiter), the redaction secret and the catalog copies.
//! It depends only on the modules whose parts it holds, never on a handler.

use crate::catalog_cache::{CatalogCache, Catalogs};
use crate::catalog_log::CatalogLog;
use crate::error::ApiError;
use crate::key_cache::KeyCache;
use crate::keyring::Keyring;
use crate::ratelimit::{Budget, RateLimiter};
use crate::secret;
use sealbook_catalog::Catalog;
use sealbook_domain::{Limits, SearchKey, TenantId, TenantKeys};
use sealbook_pipeline::{Log, Sequencer};
use sealbook_store::Store;
use std::collections::HashMap;
use std::sync::Arc;

/// How many idempotency conflicts (409) one key is answered per minute (refilled continuously);
/// beyond them its ingest requests answer 429 until the budget refills. A faithful client retries
/// with the content it sent, so conflicts are rare mistakes; unlimited, they would let a key test
/// guesses of a stored event's content (`docs/security/hashing.md`).
pub(crate) const CONFLICTS_PER_MINUTE: u32 = 10;

/// How long a secret hash that named no live key is answered 401 without asking the store again.
pub(crate) const DEAD_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The window of the failed sign-in budgets.
const LOGIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Pages one embedded viewer token may open: 2 a second, in bursts of 60.
const VIEWER_VIEWS_PER_SECOND: u32 = 2;
const VIEWER_VIEWS_BURST: u32 = 60;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Request and event size limits.
    pub limits: Limits,
    /// Requests per second allowed per API key (bursts up to twice that); 0 turns the limit off.
    pub rate_limit_per_key: u32,
    /// Failed authentications allowed per client address and second (bursts up to ten times
    /// that); beyond: 429 before any lookup. 0 turns the limit off.
    pub auth_failures_per_ip: u32,
    /// Failed authentications allowed per second from all clients together (bursts up to twice
    /// that); beyond: 429 for every request that needs a lookup. 0 turns the limit off.
    pub auth_failures_global: u32,
    /// Checkpoint signings a tenant may ask for per second (`POST /v1/log/checkpoint`, and event
    /// proofs that need a new checkpoint), bursts up to twice that; beyond: 429. 0: no limit.
    pub checkpoint_requests_per_tenant: u32,
    /// This process is the only writer of the store (the embedded store): live keys and tenant
    /// catalogs may be cached without expiry, because every change passes through here. With a
    /// shared database, keys are read on every request and tenant catalogs re-read when 5 s old.
    /// Callers MUST NOT set it when another process writes the same store: revocations and catalog
    /// changes made there would go unnoticed here.
    pub single_writer: bool,
    /// Limits on exports and bulk reads.
    pub reads: ReadLimits,
    /// Sign-in and sessions of the web UI.
    pub ui: UiConfig,
}

/// Sign-in and sessions of the web UI (`docs/configuration.md`).
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// A session unused this long ends.
    pub session_idle: time::Duration,
    /// A session ends this long after sign-in, however used.
    pub session_lifetime: time::Duration,
    /// Failed sign-ins allowed per account (tenant and e-mail address) per 15 minutes; beyond,
    /// sign-in to that account answers 429 until the budget refills. 0 turns the limit off.
    pub login_failures_per_account: u32,
    /// Failed sign-ins allowed per client address per 15 minutes. 0 turns the limit off.
    pub login_failures_per_ip: u32,
    /// The URL people reach Sealbook at (`https://audit.example.com`), from which single
    /// sign-on's redirect URI is made. `None`: taken from the request when it names this machine
    /// (`http://127.0.0.1:…`, `http://localhost:…`), and single sign-on is unavailable otherwise.
    pub public_url: Option<String>,
    /// Allow `http://` identity providers on this machine (development and tests only).
    pub sso_http_loopback: bool,
}

impl Default for UiConfig {
    fn default() -> UiConfig {
        UiConfig {
            session_idle: time::Duration::minutes(30),
            session_lifetime: time::Duration::hours(12),
            login_failures_per_account: 5,
            login_failures_per_ip: 50,
            public_url: None,
            sso_http_loopback: false,
        }
    }
}

/// Limits on exports and bulk reads (`docs/security/roles.md`).
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Exports of one tenant running at once on this node; one more is a 429 with `Retry-After`.
    pub export_concurrency_per_tenant: u32,
    /// An export whose client accepts no data for this long is ended: its work stops and its
    /// slot is released.
    pub export_idle_timeout: std::time::Duration,
    /// Events a key may read through search (`GET /v1/events`) per UTC day before every further
    /// page is recorded as an `audit_log.bulk_read` event; 0 records every page.
    pub bulk_read_audit_events: u64,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            export_concurrency_per_tenant: 10,
            export_idle_timeout: std::time::Duration::from_secs(30),
            bulk_read_audit_events: 10_000,
        }
    }
}

impl Default for ApiConfig {
    /// The defaults `sealbook serve` runs with (see `docs/configuration.md`).
    fn default() -> Self {
        ApiConfig {
            limits: Limits::default(),
            rate_limit_per_key: 200,
            auth_failures_per_ip: 2,
            auth_failures_global: 200,
            checkpoint_requests_per_tenant: 10,
            single_writer: false,
            reads: ReadLimits::default(),
            ui: UiConfig::default(),
        }
    }
}

/// Which tenants may send event types the catalog does not know (stored, marked uncatalogued).
#[derive(Debug, Clone, Default)]
pub enum OpenTypes {
    /// None: an unknown type is a 422 (the default).
    #[default]
    None,
    /// Every tenant.
    All,
    /// These tenants.
    Tenants(std::collections::HashSet<String>),
}

impl OpenTypes {
    pub(crate) fn allows(&self, tenant: &TenantId) -> bool {
        match self {
            OpenTypes::None => false,
            OpenTypes::All => true,
            OpenTypes::Tenants(t) => t.contains(tenant.as_str()),
        }
    }
}

/// The parts the HTTP layer works with.
pub struct Services {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The write path.
    pub sequencer: Sequencer,
    /// Checkpoints and proofs.
    pub log: Arc<Log>,
    /// The event catalog read at start (built-in plus the deployment's file); brought into force
    /// by [`AppState::sync_platform_catalog`].
    pub catalog: Arc<Catalog>,
    /// Who may send types the catalog does not know.
    pub open_types: OpenTypes,
    /// The deployment's redaction secret.
    pub redaction_master: [u8; 32],
}

/// The failed-authentication budgets: per client address and for the whole process.
pub(crate) struct AuthFailures {
    pub(crate) per_client: RateLimiter<Option<std::net::IpAddr>>,
    pub(crate) global: RateLimiter<()>,
}

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) sequencer: Sequencer,
    pub(crate) log: Arc<Log>,
    pub(crate) admin_token_hash: [u8; 32],
    pub(crate) config: ApiConfig,
    pub(crate) prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub(crate) rate: RateLimiter,
    pub(crate) keys: Option<KeyCache>,
    /// Idempotency conflicts (409) each key may be answered per minute ([`CONFLICTS_PER_MINUTE`]).
    pub(crate) conflicts: Budget,
    /// The deployment-wide secret and the per-tenant keys derived from it.
    pub(crate) keyring: Keyring,
    /// Secret hashes that named no live key (unknown or revoked), with when that was learned: not
    /// looked up again for [`DEAD_KEY_TTL`], so a wrong answer can never lock a key out for good.
    pub(crate) dead_keys: quick_cache::sync::Cache<[u8; 32], std::time::Instant>,
    pub(crate) auth_failures: AuthFailures,
    /// Checkpoint signings asked for, per tenant.
    pub(crate) checkpoint_requests: RateLimiter<TenantId>,
    /// The built-in catalog with the deployment's file on top, as read at start.
    pub(crate) startup_catalog: Arc<Catalog>,
    pub(crate) open_types: OpenTypes,
    /// The platform's and the tenants' catalogs in force.
    catalogs: CatalogCache,
    /// One catalog change at a time in this process, so a change reads the state it replaces.
    pub(crate) catalog_changes: tokio::sync::Mutex<()>,
    /// Running exports per tenant (one semaphore per tenant that ever exported on this node).
    pub(crate) exports: std::sync::Mutex<HashMap<TenantId, Arc<tokio::sync::Semaphore>>>,
    /// Events each key read through search today (UTC), per node: key id to (day, events).
    pub(crate) bulk_reads: std::sync::Mutex<HashMap<String, (i32, u64)>>,
    /// Failed sign-ins per account (`tenant/e-mail`) and per client address, per node.
    pub(crate) login_failures: LoginFailures,
    /// People with an export running on this node: one at a time each.
    pub(crate) exporters: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Exports running on this node and those finished in the last ten minutes, with how far
    /// each came (`export::Progress`).
    pub(crate) export_progress: std::sync::Mutex<Vec<Arc<crate::export::Progress>>>,
    /// Pages of the embedded viewer per viewer token (each one is an `audit_log.viewed` event).
    pub(crate) viewer_views: crate::ratelimit::RateLimiter,
    /// The OpenID Connect relying party of single sign-on.
    pub(crate) oidc: crate::oidc::Oidc,
}

/// The failed sign-in budgets (a limit of 0 is none).
pub(crate) struct LoginFailures {
    pub(crate) per_account: Option<Budget>,
    pub(crate) per_ip: Option<Budget>,
}

impl AppState {
    /// Builds the state. `admin_token` is the platform operator's bearer token; only its hash is
    /// kept. Callers MUST call [`AppState::sync_platform_catalog`] before serving: until then the
    /// start-up catalog is used as it is, without what the platform log records.
    pub fn new(
        services: Services,
        admin_token: &str,
        config: ApiConfig,
        prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> AppState {
        let Services {
            store,
            sequencer,
            log,
            catalog,
            open_types,
            redaction_master,
        } = services;
        let keyring = Keyring::new(redaction_master);
        AppState {
            inner: Arc::new(Inner {
                store,
                sequencer,
                log,
                admin_token_hash: secret::hash(admin_token),
                rate: RateLimiter::new(config.rate_limit_per_key),
                keys: config.single_writer.then(KeyCache::new),
                dead_keys: quick_cache::sync::Cache::new(10_000),
                auth_failures: AuthFailures {
                    per_client: RateLimiter::with_burst(
                        config.auth_failures_per_ip,
                        config.auth_failures_per_ip.saturating_mul(10),
                    ),
                    global: RateLimiter::new(config.auth_failures_global),
                },
                checkpoint_requests: RateLimiter::new(config.checkpoint_requests_per_tenant),
                conflicts: Budget::new(CONFLICTS_PER_MINUTE, std::time::Duration::from_secs(60)),
                catalogs: CatalogCache::new(
                    (*catalog).clone(),
                    config.single_writer,
                    keyring.clone(),
                ),
                keyring,
                startup_catalog: catalog,
                open_types,
                catalog_changes: Default::default(),
                exports: Default::default(),
                bulk_reads: Default::default(),
                login_failures: LoginFailures {
                    per_account: (config.ui.login_failures_per_account > 0)
                        .then(|| Budget::new(config.ui.login_failures_per_account, LOGIN_WINDOW)),
                    per_ip: (config.ui.login_failures_per_ip > 0)
                        .then(|| Budget::new(config.ui.login_failures_per_ip, LOGIN_WINDOW)),
                },
                exporters: Default::default(),
                export_progress: Default::default(),
                oidc: crate::oidc::Oidc::new(config.ui.sso_http_loopback),
                viewer_views: crate::ratelimit::RateLimiter::with_burst(
                    VIEWER_VIEWS_PER_SECOND,
                    VIEWER_VIEWS_BURST,
                ),
                config,
                prometheus,
            }),
        }
    }

    /// The tenant's redaction key (see [`Keyring::redaction`]).
    pub(crate) fn redaction_key(&self, tenant: &TenantId) -> [u8; 32] {
        self.inner.keyring.redaction(tenant)
    }

    /// The tenant's keys of postings and content hashes (see [`Keyring::tenant_keys`]).
    pub(crate) fn keys(&self, tenant: &TenantId) -> TenantKeys {
        self.inner.keyring.tenant_keys(tenant)
    }

    /// The tenant's search key: every [`sealbook_domain::EventFilter`] of the tenant is built with it.
    pub(crate) fn search_key(&self, tenant: &TenantId) -> SearchKey {
        self.inner.keyring.search(tenant)
    }

    /// Both catalogs a request of `tenant` works with.
    pub(crate) async fn catalogs(&self, tenant: &TenantId) -> Result<Catalogs, ApiError> {
        self.inner.catalogs.both(&*self.inner.store, tenant).await
    }

    /// The platform's catalog in force.
    pub(crate) async fn platform_catalog(&self) -> Result<Arc<CatalogLog>, ApiError> {
        self.inner.catalogs.platform(&*self.inner.store).await
    }

    /// Reads a log's catalog afresh (after a change, or to decide one) and keeps it.
    pub(crate) async fn reload_catalog(&self, log: &TenantId) -> Result<Arc<CatalogLog>, ApiError> {
        self.inner.catalogs.reload(&*self.inner.store, log).await
    }
}
