//! Sealbook's HTTP API.
//!
//! Handlers parse and authorise, call the domain to validate and shape, the pipeline to sequence
//! (always through `append`), and the store traits to read. They never see SQL. Every error leaves
//! through one place, [`error::ApiError`], as RFC 9457 problem+json.
//!
//! The modules, from the bottom up (each uses only modules above it in this list):
//! - `error` (the one error-to-HTTP mapping), `extract` (body and path extractors answering in
//!   problem+json), `secret`, `keyring` (the per-tenant keys, sealing), `signed` (signed,
//!   expiring tokens), `totp` (RFC 6238 codes), `ratelimit`, `key_cache`, `metrics_layer`,
//!   `schema` (document schemas no handler type carries): no handler, no state;
//! - `audit` (Sealbook's own records), `catalog_log` (reading a catalog from its log and replaying
//!   it with `sealbook_catalog::replay`), `catalog_cache` (the catalog copies and their refresh
//!   rules);
//! - `state` ([`AppState`] and what builds it);
//! - `auth` (key and operator extractors), `append` (the one path into the sequencer),
//!   `catalog_sync` (start-up: the built-in catalog and the file brought into force);
//! - handlers, one module per resource: `ingest` (`POST /v1/events`), `events` (search, fetch),
//!   `log` (checkpoints, tiles, proofs), `export`, `redactions`, `catalog`, `admin` (tenants and
//!   keys), `viewer` (embedded viewer tokens), `ops` (health, readiness, metrics, fallbacks);
//! - `ui`: the admin web UI (server-rendered pages over the same handlers' parts and the same
//!   authorisation, `sealbook_domain::access`);
//! - `openapi` (the document, from every handler's annotation, and `/openapi.json`);
//! - this file: the route table ([`router`]).
//!
//! The public interface is the `pub use` block below and the modules [`error`], [`openapi`] (for
//! [`openapi::document`]) and [`secret`] (key and token generation shared with the CLI):
//! [`AppState`] (with [`AppState::new`] and [`AppState::sync_platform_catalog`]), [`Services`],
//! [`ApiConfig`], [`OpenTypes`], [`CatalogSource`], [`CatalogSync`], [`CatalogSyncError`],
//! [`Keyring`] (the per-tenant keys, for the CLI's rebuild of an old database's hashes) and
//! [`router`]. Callers MUST run [`AppState::sync_platform_catalog`] once before serving
//! [`router`], and MUST NOT set [`ApiConfig::single_writer`] when another process writes the same
//! store.

mod admin;
mod append;
mod audit;
mod auth;
mod catalog;
mod catalog_cache;
mod catalog_log;
mod catalog_sync;
pub mod error;
mod events;
mod export;
mod extract;
mod ingest;
mod key_cache;
mod keyring;
mod log;
mod metrics_layer;
mod oidc;
pub mod openapi;
mod ops;
mod password;
mod people;
mod ratelimit;
mod redactions;
mod schema;
pub mod secret;
mod signed;
mod state;
mod totp;
mod ui;
mod viewer;

pub use catalog_sync::{CatalogSource, CatalogSync, CatalogSyncError};
pub use keyring::Keyring;
pub use state::{ApiConfig, AppState, OpenTypes, ReadLimits, Services, UiConfig};

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;

/// One route: its path template (axum syntax), its method, and the handler.
type Route = (&'static str, Method, MethodRouter<AppState>);

fn route<H, T>(path: &'static str, method: Method, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    (path, method, axum::routing::on(filter, handler))
}

/// The route table: every path and method the API serves, and nothing else. The OpenAPI document
/// lists exactly these operations (tested below).
fn routes() -> Vec<Route> {
    use Method as M;
    vec![
        route("/v1/events", M::POST, ingest::ingest),
        route("/v1/events", M::GET, events::search),
        route("/v1/events/{id}", M::GET, events::get_event),
        route("/v1/events/{id}/proof", M::GET, log::event_proof),
        route("/v1/exports/events", M::GET, export::export),
        route("/v1/redactions/match", M::POST, redactions::match_value),
        route("/v1/catalog", M::GET, catalog::get_catalog),
        route("/v1/catalog/settings", M::PUT, catalog::put_settings),
        route("/v1/catalog/types/{type}", M::PUT, catalog::put_type),
        route("/v1/log/checkpoint", M::GET, log::checkpoint),
        route("/v1/log/checkpoint", M::POST, log::sign_checkpoint),
        route("/v1/log/verifier-keys", M::GET, log::verifier_keys),
        route("/v1/log/tile/{*path}", M::GET, log::tile),
        route("/v1/log/personal/{*path}", M::GET, log::personal),
        route("/v1/log/proof/inclusion", M::GET, log::inclusion),
        route("/v1/log/proof/consistency", M::GET, log::consistency),
        route("/v1/tenants", M::POST, admin::create_tenant),
        route("/v1/tenants", M::GET, admin::list_tenants),
        route("/v1/tenants/{tenant}/keys", M::POST, admin::create_key),
        route("/v1/tenants/{tenant}/keys", M::GET, admin::list_keys),
        route(
            "/v1/tenants/{tenant}/keys/{key_id}",
            M::DELETE,
            admin::revoke_key,
        ),
        route("/v1/tenants/{tenant}/users", M::POST, admin::create_user),
        route("/v1/tenants/{tenant}/users", M::GET, admin::list_users),
        route("/v1/viewer-tokens", M::POST, viewer::mint),
        route("/healthz", M::GET, ops::healthz),
        route("/readyz", M::GET, ops::readyz),
        route("/metrics", M::GET, ops::metrics),
        route("/openapi.json", M::GET, openapi::openapi),
    ]
}

/// The whole HTTP surface: the route table, problem+json for unknown routes (404) and methods
/// (405), and request metrics.
pub fn router(state: AppState) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, (path, _, handler)| {
            r.route(path, handler)
        })
        .merge(ui::router())
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(axum::middleware::from_fn(metrics_layer::record))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_lists_exactly_the_routes() {
        let doc = serde_json::to_value(crate::openapi::document()).unwrap();
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| !matches!(k.as_str(), "parameters" | "summary" | "description"))
                    .map(move |m| (path.clone(), m.to_uppercase()))
            })
            .collect();
        let mut routed: Vec<(String, String)> = super::routes()
            .iter()
            .map(|(path, method, _)| (path.replace("{*", "{"), method.to_string()))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
    }
}
