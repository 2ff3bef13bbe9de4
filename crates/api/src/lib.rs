//! Sealbook's HTTP API.
//!
//! Handlers parse and authorise, call the domain to validate and shape, the pipeline to sequence,
//! and the store traits to read. They never see SQL. Every error leaves through one place,
//! [`error::ApiError`], as RFC 9457 problem+json.
//!
//! The public interface is: [`AppState`], [`Services`], [`ApiConfig`], [`OpenTypes`],
//! [`CatalogSource`], [`CatalogSync`], [`CatalogSyncError`], [`router`], [`openapi::document`] and
//! [`secret`] (key and token generation shared with the CLI).

mod admin;
mod audit;
mod auth;
mod catalog;
pub mod error;
mod events;
mod export;
mod ingest;
mod log;
mod metrics_layer;
pub mod openapi;
mod ops;
mod ratelimit;
mod redactions;
pub mod secret;

pub use catalog::{CatalogSource, CatalogSync, CatalogSyncError};

use axum::routing::{delete, get, post};
use axum::Router;
use sealbook_domain::Limits;
use sealbook_pipeline::{Log, Sequencer};
use sealbook_store::Store;
use std::sync::Arc;

/// Settings of the HTTP layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiConfig {
    /// Request and event size limits.
    pub limits: Limits,
    /// Requests per second allowed per API key (bursts up to twice that); 0 turns the limit off.
    pub rate_limit_per_key: u32,
    /// This process is the only writer of the store (the embedded store): live keys and tenant
    /// catalogs may be cached without expiry, because every change passes through here. With a
    /// shared database, keys are read on every request and tenant catalogs re-read when 5 s old.
    pub single_writer: bool,
}

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    sequencer: Sequencer,
    log: Arc<Log>,
    admin_token_hash: [u8; 32],
    config: ApiConfig,
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    rate: ratelimit::RateLimiter,
    keys: Option<auth::KeyCache>,
    /// Deployment-wide secret from which each tenant's redaction key is derived.
    redaction_master: zeroize::Zeroizing<[u8; 32]>,
    /// The built-in catalog with the deployment's file on top, as read at start.
    startup_catalog: Arc<sealbook_catalog::Catalog>,
    /// The platform catalog in force, and when it was last checked against the platform log.
    platform: std::sync::RwLock<(std::time::Instant, Arc<catalog::CatalogLog>)>,
    platform_refresh: tokio::sync::Mutex<()>,
    open_types: OpenTypes,
    tenant_catalogs: tokio::sync::Mutex<
        std::collections::HashMap<sealbook_domain::TenantId, Arc<catalog::CatalogLog>>,
    >,
    /// One catalog change at a time in this process, so a change reads the state it replaces.
    catalog_changes: tokio::sync::Mutex<()>,
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
    fn allows(&self, tenant: &sealbook_domain::TenantId) -> bool {
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
    pub catalog: Arc<sealbook_catalog::Catalog>,
    /// Who may send types the catalog does not know.
    pub open_types: OpenTypes,
    /// The deployment's redaction secret.
    pub redaction_master: [u8; 32],
}

impl AppState {
    /// Builds the state. `admin_token` is the platform operator's bearer token; only its hash is kept.
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
        AppState {
            inner: Arc::new(Inner {
                store,
                sequencer,
                log,
                admin_token_hash: secret::hash(admin_token),
                rate: ratelimit::RateLimiter::new(config.rate_limit_per_key),
                keys: config.single_writer.then(auth::KeyCache::new),
                redaction_master: zeroize::Zeroizing::new(redaction_master),
                platform: std::sync::RwLock::new((
                    std::time::Instant::now(),
                    Arc::new(catalog::CatalogLog::of((*catalog).clone())),
                )),
                startup_catalog: catalog,
                platform_refresh: Default::default(),
                open_types,
                tenant_catalogs: Default::default(),
                catalog_changes: Default::default(),
                config,
                prometheus,
            }),
        }
    }
}

impl AppState {
    /// The tenant's redaction key: HMAC-SHA256(master, tenant id). Derived, never stored or
    /// exported; fingerprints of one tenant are useless against another's.
    pub(crate) fn redaction_key(&self, tenant: &sealbook_domain::TenantId) -> [u8; 32] {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&*self.inner.redaction_master)
                .expect("HMAC takes any key length");
        mac.update(b"sealbook redaction key\0");
        mac.update(tenant.as_str().as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/events", post(ingest::ingest).get(events::search))
        .route("/v1/events/{id}", get(events::get_event))
        .route("/v1/events/{id}/proof", get(log::event_proof))
        .route("/v1/exports/events", get(export::export))
        .route("/v1/redactions/match", post(redactions::match_value))
        .route("/v1/catalog", get(events::catalog))
        .route(
            "/v1/catalog/settings",
            axum::routing::put(catalog::put_settings),
        )
        .route(
            "/v1/catalog/types/{type}",
            axum::routing::put(catalog::put_type),
        )
        .route(
            "/v1/log/checkpoint",
            get(log::checkpoint).post(log::sign_checkpoint),
        )
        .route("/v1/log/verifier-keys", get(log::verifier_keys))
        .route("/v1/log/tile/{*path}", get(log::tile))
        .route("/v1/log/personal/{*path}", get(log::personal))
        .route("/v1/log/proof/inclusion", get(log::inclusion))
        .route("/v1/log/proof/consistency", get(log::consistency))
        .route(
            "/v1/tenants",
            post(admin::create_tenant).get(admin::list_tenants),
        )
        .route(
            "/v1/tenants/{tenant}/keys",
            post(admin::create_key).get(admin::list_keys),
        )
        .route(
            "/v1/tenants/{tenant}/keys/{key_id}",
            delete(admin::revoke_key),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(axum::middleware::from_fn(metrics_layer::record))
        .with_state(state)
}
