//! Tenant event types and settings: `PUT /v1/catalog/types/{type}` (`tenant:admin`) adds or
//! extends a type of the key's tenant, and `PUT /v1/catalog/settings` turns open types on or off
//! for it. Types come on top of the platform catalog (built-in plus the deployment's file, which
//! tenants cannot change). Published versions never change; a new version may only add optional
//! fields.
//!
//! The tenant's log is the store: every change is a `catalog.type_changed` event carrying the whole
//! new definition and the field-level diff from the previous one (or a `catalog.settings_changed`
//! event), so the history of a tenant's
//! catalog is tamper-evident like everything else. A node rebuilds a tenant's types from those
//! events when it first needs them; on a shared database again once its copy is five seconds old,
//! so a change made through one node holds on every node within seconds.

use crate::auth::TenantKey;
use crate::error::ApiError;
use crate::ingest::append;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use sealbook_catalog::Catalog;
use sealbook_domain::view::event_view;
use sealbook_domain::{Cursor, EventFilter, FieldError, Scope, TenantId};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// A tenant's own types, and the definitions they were compiled from.
pub(crate) struct TenantCatalog {
    /// When this copy was read from the log: other nodes may change the catalog, so copies older
    /// than [`FRESH_FOR`] are read again.
    loaded_at: std::time::Instant,
    pub(crate) catalog: Catalog,
    definitions: HashMap<String, Value>,
    /// The tenant's own choice to accept types the catalog does not know.
    pub(crate) open_types: bool,
}

/// On a shared database, how long a node trusts its copy of a tenant's types before reading the
/// log again (changes made through another node take effect within this time). A single-writer
/// store keeps its copy: every change passes through this process.
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(5);

fn invalid(problems: impl IntoIterator<Item = String>) -> ApiError {
    ApiError::Invalid(
        problems
            .into_iter()
            .map(|problem| FieldError {
                event: None,
                path: String::new(),
                problem,
            })
            .collect(),
    )
}

impl AppState {
    /// The tenant's own types, from memory or rebuilt from its `catalog.type_changed` events.
    pub(crate) async fn tenant_catalog(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<TenantCatalog>, ApiError> {
        if let Some(c) = self
            .inner
            .tenant_catalogs
            .lock()
            .await
            .get(tenant)
            .filter(|c| self.inner.config.single_writer || c.loaded_at.elapsed() < FRESH_FOR)
        {
            return Ok(c.clone());
        }
        let loaded = Arc::new(self.load_tenant_catalog(tenant).await?);
        self.inner
            .tenant_catalogs
            .lock()
            .await
            .insert(tenant.clone(), loaded.clone());
        Ok(loaded)
    }

    async fn load_tenant_catalog(&self, tenant: &TenantId) -> Result<TenantCatalog, ApiError> {
        let mut definitions: HashMap<String, Value> = HashMap::new();
        let mut open_types: Option<bool> = None;
        // Exact types go through the search postings; a prefix would scan every event.
        for ty in ["catalog.type_changed", "catalog.settings_changed"] {
            let mut filter = EventFilter::from_query(&[
                ("type".into(), ty.into()),
                ("limit".into(), "1000".into()),
            ])?;
            loop {
                let page = self.inner.store.query(tenant, &filter).await?;
                let Some(last) = page.last() else { break };
                filter.cursor = Some(Cursor(last.index));
                for e in &page {
                    let v = event_view(&e.leaf, &e.personal, e.index, "");
                    if v["type"] == "catalog.settings_changed" {
                        // Newest first: the first setting seen is the current one.
                        open_types = open_types.or(v["data"]["open_types"].as_bool());
                        continue;
                    }
                    if v["type"] != "catalog.type_changed" {
                        continue;
                    }
                    let (Some(name), Some(def)) =
                        (v["data"]["type"].as_str(), v["data"].get("definition"))
                    else {
                        continue;
                    };
                    // Newest first: the first definition seen of a type is its current one.
                    definitions
                        .entry(name.to_owned())
                        .or_insert_with(|| def.clone());
                }
            }
        }
        let mut catalog = Catalog::empty();
        for (name, def) in &definitions {
            match Catalog::from_definition(name, def) {
                Ok(c) => catalog.extend(c),
                Err(p) => {
                    tracing::error!(tenant = %tenant, r#type = %name, problems = ?p, "a stored tenant type no longer compiles; it is ignored")
                }
            }
        }
        Ok(TenantCatalog {
            loaded_at: std::time::Instant::now(),
            catalog,
            definitions,
            open_types: open_types.unwrap_or(false),
        })
    }
}

/// Whether the tenant accepts event types the catalog does not know.
#[derive(serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    /// Unknown types are stored, marked `uncatalogued`, instead of refused.
    open_types: bool,
}

/// Change the tenant's catalog settings (audited as `catalog.settings_changed`).
#[utoipa::path(put, path = "/v1/catalog/settings", tag = "events", security(("tenant_key" = ["tenant:admin"])), request_body = Settings,
    responses((status = 200, body = Settings), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    key: TenantKey,
    body: axum::body::Bytes,
) -> Result<Json<Settings>, ApiError> {
    key.require(Scope::TenantAdmin)?;
    let settings: Settings = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("request body: {e}")))?;
    let tenant = key.tenant().clone();
    let mut cache = state.inner.tenant_catalogs.lock().await;
    let current = Arc::new(state.load_tenant_catalog(&tenant).await?);
    let now = time::OffsetDateTime::now_utc();
    let audit = json!({
        "type": "catalog.settings_changed",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": {"type": "api_key", "id": key.0.id, "name": key.0.name},
        "subject": {"type": "tenant", "id": tenant.as_str()},
        "data": {"open_types": settings.open_types},
        "changes": [{"field": "open_types", "before": current.open_types, "after": settings.open_types}],
    });
    let shaped = vec![crate::audit::event(&tenant, &audit, now)?];
    append(&state, tenant.clone(), shaped, None).await?;
    let mut catalog = Catalog::empty();
    for (n, d) in &current.definitions {
        if let Ok(c) = Catalog::from_definition(n, d) {
            catalog.extend(c);
        }
    }
    cache.insert(
        tenant,
        Arc::new(TenantCatalog {
            loaded_at: std::time::Instant::now(),
            catalog,
            definitions: current.definitions.clone(),
            open_types: settings.open_types,
        }),
    );
    Ok(Json(settings))
}

/// Add or extend one of the tenant's own event types (audited as `catalog.type_changed`).
#[utoipa::path(put, path = "/v1/catalog/types/{type}", tag = "events", security(("tenant_key" = ["tenant:admin"])),
    params(("type" = String, Path, description = "the type name, e.g. `invoice.paid`")),
    request_body(content = Object, description = "description, owner, severity, retention, label, controls, ocsf, personal, secrets, versions: [{version, requires, schema, sample, rejected}]"),
    responses((status = 200, description = "the type and its number of versions", body = Object), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_type(
    State(state): State<AppState>,
    key: TenantKey,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    key.require(Scope::TenantAdmin)?;
    let tenant = key.tenant().clone();
    let def: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("request body: {e}")))?;
    if state.inner.catalog.contains(&name) {
        return Err(invalid([format!(
            "{name} is a platform type: the operator changes it in the deployment's catalog file"
        )]));
    }
    let new = Catalog::from_definition(&name, &def)
        .map_err(|ps| invalid(ps.into_iter().map(|p| p.message)))?;
    // One change at a time per process, so the cache and the log agree.
    let mut cache = state.inner.tenant_catalogs.lock().await;
    // Read the log afresh: another node may have changed the tenant's types.
    let current = Arc::new(state.load_tenant_catalog(&tenant).await?);
    let problems = current.catalog.replacement_problems(&name, &new);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let versions = def["versions"].as_array().map_or(0, Vec::len);
    let empty = serde_json::Map::new();
    let old = current
        .definitions
        .get(&name)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let diff = sealbook_domain::diff::diff(old, def.as_object().unwrap_or(&empty));
    let now = time::OffsetDateTime::now_utc();
    let audit = json!({
        "type": "catalog.type_changed",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": {"type": "api_key", "id": key.0.id, "name": key.0.name},
        "subject": {"type": "event_type", "id": name},
        "data": {"type": name, "version": versions, "definition": def, "diff": diff},
    });
    let shaped = vec![crate::audit::event(&tenant, &audit, now)?];
    append(&state, tenant.clone(), shaped, None).await?;
    let mut definitions = current.definitions.clone();
    definitions.insert(name.clone(), def);
    let mut catalog = Catalog::empty();
    for (n, d) in &definitions {
        if let Ok(c) = Catalog::from_definition(n, d) {
            catalog.extend(c);
        }
    }
    cache.insert(
        tenant,
        Arc::new(TenantCatalog {
            loaded_at: std::time::Instant::now(),
            catalog,
            definitions,
            open_types: current.open_types,
        }),
    );
    Ok(Json(json!({"type": name, "versions": versions})))
}
