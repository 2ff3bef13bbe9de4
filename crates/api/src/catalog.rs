//! Changing the catalog: `PUT /v1/catalog/types/{type}` adds or extends a type, of the key's tenant
//! (`tenant:admin`) or of the platform (the operator token); `PUT /v1/catalog/settings` turns open
//! types on or off for a tenant. Published versions never change; a new version may only add
//! optional fields.
//!
//! A log is the store of each catalog: a tenant's types live in its own log, the platform's in the
//! platform log ([`TenantId::platform`]). Every change is a `catalog.type_changed` event carrying the
//! whole new definition, the hash of the definition it replaces (`previous`), where it came from
//! and the field-level diff (or a `catalog.settings_changed` event), so a catalog's history is
//! tamper-evident like everything else. A node rebuilds a catalog by replaying those events in log
//! order; a change applies only if its `previous` is the definition then in force, so two nodes
//! racing to change one type cannot both win (the loser answers 409). Only events Sealbook recorded
//! itself count (`recorded_by`; clients may not send these types at all).
//!
//! At start, the built-in catalog and the deployment's catalog file are compared with what the
//! platform log last recorded from them; what changed is recorded. A start-up definition that the
//! one in force merely extends (a type the operator extended through the API) is behind: the one in
//! force stays, with a warning. One that contradicts a published version stops the start.
//!
//! Freshness: a single-writer store keeps its copies (every change passes through this process).
//! On a shared database, once a copy is five seconds old, a node re-reads a tenant's catalog only
//! if a `catalog.*` event landed above the log size the copy was read at (a look at the newest
//! postings), and the platform's only if the platform log has grown.

use crate::audit::{RECORDED_BY, SEALBOOK};
use crate::auth::{Operator, TenantKey};
use crate::error::ApiError;
use crate::ingest::append;
use crate::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::Json;
use sealbook_catalog::{definition_hash, Catalog, RESERVED};
use sealbook_domain::view::event_view;
use sealbook_domain::{Cursor, EventFilter, FieldError, Scope, TenantId};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a node trusts its copy of a catalog on a shared database.
const FRESH_FOR: Duration = Duration::from_secs(5);

/// A type's definition in force, and its hash.
#[derive(Clone)]
struct InForce {
    definition: Value,
    hash: String,
}

/// A catalog rebuilt from the `catalog.*` events of one log.
#[derive(Clone)]
pub(crate) struct CatalogLog {
    /// The types defined in this log, compiled.
    pub(crate) catalog: Catalog,
    definitions: BTreeMap<String, InForce>,
    /// Platform log: the hash of the definition last recorded from the built-in catalog or the
    /// catalog file, per type (what the next start compares against).
    from_startup: BTreeMap<String, String>,
    /// The tenant's own choice to accept types the catalog does not know.
    pub(crate) open_types: bool,
    /// The log's size when it was read.
    size: u64,
    loaded_at: Instant,
}

impl CatalogLog {
    /// The catalog used until the platform log has been read (and in tests of the API alone).
    pub(crate) fn of(catalog: Catalog) -> CatalogLog {
        CatalogLog {
            catalog,
            definitions: BTreeMap::new(),
            from_startup: BTreeMap::new(),
            open_types: false,
            size: 0,
            loaded_at: Instant::now(),
        }
    }

    fn hash_of(&self, name: &str) -> Option<&str> {
        self.definitions.get(name).map(|d| d.hash.as_str())
    }
}

/// The platform's catalog and a tenant's own, as one request sees them. A tenant's own type wins
/// over a platform type of the same name (added to the platform after the tenant defined it).
pub(crate) struct Catalogs {
    pub(crate) platform: Arc<CatalogLog>,
    pub(crate) own: Arc<CatalogLog>,
}

impl Catalogs {
    /// The catalog that defines `event_type`, if any.
    pub(crate) fn of(&self, event_type: &str) -> Option<&Catalog> {
        if self.own.catalog.contains(event_type) {
            Some(&self.own.catalog)
        } else if self.platform.catalog.contains(event_type) {
            Some(&self.platform.catalog)
        } else {
            None
        }
    }

    /// The rendered label of an event view.
    pub(crate) fn label(&self, view: &Value) -> Option<String> {
        self.of(view.get("type")?.as_str()?)?.label(view)
    }
}

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

/// Replays the `catalog.*` events of a log, oldest first.
fn fold(events: &[Value], size: u64) -> CatalogLog {
    let mut definitions: BTreeMap<String, InForce> = BTreeMap::new();
    let mut from_startup = BTreeMap::new();
    let mut open_types = false;
    for v in events {
        if v[RECORDED_BY] != SEALBOOK {
            continue;
        }
        let data = &v["data"];
        if v["type"] == "catalog.settings_changed" {
            open_types = data["open_types"].as_bool().unwrap_or(open_types);
            continue;
        }
        let (Some(name), Some(def)) = (data["type"].as_str(), data.get("definition")) else {
            continue;
        };
        let hash = definition_hash(def);
        if matches!(data["source"]["kind"].as_str(), Some("builtin" | "file")) {
            from_startup.insert(name.to_owned(), hash.clone());
        }
        let in_force = definitions.get(name).map(|d| d.hash.as_str());
        if data["previous"].as_str() != in_force {
            // Recorded, but raced by another change to the same type: not in force.
            continue;
        }
        definitions.insert(
            name.to_owned(),
            InForce {
                definition: def.clone(),
                hash,
            },
        );
    }
    let mut catalog = Catalog::empty();
    for (name, d) in &definitions {
        match Catalog::from_definition(name, &d.definition) {
            Ok(c) => catalog.extend(c),
            Err(p) => {
                tracing::error!(r#type = %name, problems = ?p, "a recorded event type no longer compiles; it is ignored")
            }
        }
    }
    CatalogLog {
        catalog,
        definitions,
        from_startup,
        open_types,
        size,
        loaded_at: Instant::now(),
    }
}

/// The source of a startup catalog, for the record.
#[derive(Debug, Clone, Default)]
pub struct CatalogSource {
    /// The deployment's catalog file, if any (types there differ from the built-in ones).
    pub file: Option<String>,
}

/// What the start-up comparison recorded in the platform log.
#[derive(Debug, Default)]
pub struct CatalogSync {
    /// Types whose definition from the built-in catalog or the file was recorded.
    pub recorded: Vec<String>,
    /// Types whose start-up definition is older than the one in force (which adds versions to
    /// it): the one in force stays, and the file should be brought up to date.
    pub behind: Vec<String>,
}

/// Why the start-up catalog cannot be brought into force.
#[derive(Debug, thiserror::Error)]
pub enum CatalogSyncError {
    /// The built-in catalog or the file would change published versions in force, and is not
    /// merely older than the definition in force.
    #[error("the catalog cannot be applied:\n{}", .0.join("\n"))]
    Conflicts(Vec<String>),
    /// The store failed.
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl AppState {
    /// Reads a log's `catalog.*` events (exact types use the search postings; a prefix would scan
    /// every event of the log) and replays them.
    async fn read_catalog_log(&self, log: &TenantId) -> Result<CatalogLog, ApiError> {
        let size = self.inner.store.log_size(log).await?;
        let mut events: Vec<(u64, Value)> = Vec::new();
        for ty in ["catalog.type_changed", "catalog.settings_changed"] {
            let mut filter = EventFilter::from_query(&[
                ("type".into(), ty.into()),
                ("limit".into(), "1000".into()),
            ])?;
            loop {
                let page = self.inner.store.query(log, &filter).await?;
                let Some(last) = page.last() else { break };
                filter.cursor = Some(Cursor(last.index));
                events.extend(
                    page.iter()
                        .map(|e| (e.index, event_view(&e.leaf, &e.personal, e.index, ""))),
                );
            }
        }
        events.sort_by_key(|(index, _)| *index);
        let views: Vec<Value> = events.into_iter().map(|(_, v)| v).collect();
        Ok(fold(&views, size))
    }

    /// The tenant's own types and settings, from memory or rebuilt from its log.
    pub(crate) async fn tenant_catalog(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<CatalogLog>, ApiError> {
        if tenant.is_platform() {
            // The platform log holds the platform's types; they are not a tenant's own.
            return Ok(Arc::new(CatalogLog::of(Catalog::empty())));
        }
        let held = self.inner.tenant_catalogs.lock().await.get(tenant).cloned();
        if let Some(c) = &held {
            if self.inner.config.single_writer || c.loaded_at.elapsed() < FRESH_FOR {
                return Ok(c.clone());
            }
            // Only catalog events the copy has not seen can change it: look above its log size
            // (the newest postings only) before reading the whole catalog again.
            let size = self.inner.store.log_size(tenant).await?;
            if !self.catalog_events_since(tenant, c.size).await? {
                let mut same = CatalogLog::clone(c);
                same.size = size;
                same.loaded_at = Instant::now();
                return Ok(self.keep(tenant, Arc::new(same)).await);
            }
        }
        let loaded = Arc::new(self.read_catalog_log(tenant).await?);
        Ok(self.keep(tenant, loaded).await)
    }

    /// Whether the log holds a `catalog.*` event at index `from` or later.
    async fn catalog_events_since(&self, log: &TenantId, from: u64) -> Result<bool, ApiError> {
        for ty in ["catalog.type_changed", "catalog.settings_changed"] {
            let mut filter = EventFilter::from_query(&[
                ("type".into(), ty.into()),
                ("limit".into(), "1".into()),
            ])?;
            filter.after = from.checked_sub(1);
            if !self.inner.store.query(log, &filter).await?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Keeps a copy just read, unless the copy in memory was read from a longer log: a change made
    /// in this process while the read was under way (its reload read after it) must not be
    /// replaced by the older state. Answers the copy kept.
    async fn keep(&self, log: &TenantId, fresh: Arc<CatalogLog>) -> Arc<CatalogLog> {
        if log.is_platform() {
            let mut slot = self.inner.platform.write().expect("not poisoned");
            if fresh.size >= slot.1.size {
                slot.1 = fresh;
            }
            slot.0 = Instant::now();
            return slot.1.clone();
        }
        let mut map = self.inner.tenant_catalogs.lock().await;
        match map.get(log) {
            Some(held) if held.size > fresh.size => held.clone(),
            _ => {
                map.insert(log.clone(), fresh.clone());
                fresh
            }
        }
    }

    /// The platform's types. On a shared database, checked against the platform log's size when
    /// five seconds old, and re-read if it grew; one request refreshes while others use the copy.
    pub(crate) async fn platform_catalog(&self) -> Result<Arc<CatalogLog>, ApiError> {
        let (checked, current) = self.inner.platform.read().expect("not poisoned").clone();
        if self.inner.config.single_writer || checked.elapsed() < FRESH_FOR {
            return Ok(current);
        }
        let Ok(_refreshing) = self.inner.platform_refresh.try_lock() else {
            return Ok(current);
        };
        let platform = TenantId::platform();
        let size = self.inner.store.log_size(&platform).await?;
        let fresh = if size == current.size {
            current
        } else {
            Arc::new(self.read_catalog_log(&platform).await?)
        };
        Ok(self.keep(&platform, fresh).await)
    }

    /// Both catalogs a request of `tenant` works with.
    pub(crate) async fn catalogs(&self, tenant: &TenantId) -> Result<Catalogs, ApiError> {
        Ok(Catalogs {
            platform: self.platform_catalog().await?,
            own: self.tenant_catalog(tenant).await?,
        })
    }

    async fn reload(&self, log: &TenantId) -> Result<Arc<CatalogLog>, ApiError> {
        let fresh = Arc::new(self.read_catalog_log(log).await?);
        Ok(self.keep(log, fresh).await)
    }

    /// Brings the start-up catalog (built-in plus the deployment's file) into force: creates the
    /// platform log if needed, records every type whose definition there changed since the
    /// platform log last recorded it from there, and loads the platform catalog. Several nodes may
    /// start at once: a change is recorded under an id derived from its content, so they record it
    /// once.
    pub async fn sync_platform_catalog(
        &self,
        source: &CatalogSource,
    ) -> Result<CatalogSync, CatalogSyncError> {
        let platform = TenantId::platform();
        if self
            .inner
            .store
            .tenant(&platform)
            .await
            .map_err(ApiError::from)?
            .is_none()
        {
            match self
                .inner
                .store
                .create_tenant(&platform, "Sealbook platform")
                .await
            {
                Ok(_) | Err(sealbook_store::StoreError::TenantExists) => {}
                Err(e) => return Err(ApiError::from(e).into()),
            }
        }
        let startup = self.inner.startup_catalog.clone();
        let builtin = Catalog::builtin();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let log = self.read_catalog_log(&platform).await?;
            let mut conflicts = Vec::new();
            let mut behind = Vec::new();
            let mut changes = Vec::new();
            for t in startup.types() {
                let name = &t.name;
                let def = startup.definition(name).expect("listed").clone();
                let hash = definition_hash(&def);
                if log.from_startup.get(name) == Some(&hash) {
                    continue;
                }
                let problems = log.catalog.replacement_problems(name, &startup);
                if !problems.is_empty() {
                    if startup.replacement_problems(name, &log.catalog).is_empty() {
                        // The definition in force extends this one (a type the operator extended
                        // through the API, a file since removed): the start-up copy is behind.
                        behind.push(name.clone());
                    } else {
                        conflicts.extend(problems.into_iter().map(|p| format!("{name}: {p}")));
                    }
                    continue;
                }
                let source = if builtin.definition(name) == Some(&def) {
                    json!({"kind": "builtin", "version": env!("CARGO_PKG_VERSION")})
                } else {
                    json!({"kind": "file", "path": source.file})
                };
                changes.push(change_event(
                    name,
                    log.definitions.get(name).map(|d| &d.definition),
                    log.hash_of(name),
                    &def,
                    log.size,
                    source,
                    json!({"type": "system", "id": "sealbook", "name": "Sealbook start-up"}),
                ));
            }
            if !conflicts.is_empty() {
                return Err(CatalogSyncError::Conflicts(conflicts));
            }
            let recorded: Vec<String> = changes
                .iter()
                .map(|c| c["data"]["type"].as_str().unwrap_or_default().to_owned())
                .collect();
            if !changes.is_empty() {
                let now = time::OffsetDateTime::now_utc();
                let shaped = changes
                    .iter()
                    .map(|c| crate::audit::event(&platform, &with_time(c, now), now))
                    .collect::<Result<Vec<_>, _>>()?;
                match append(self, platform.clone(), shaped, None).await {
                    Ok(_) => {}
                    // Another node recorded the same changes first: read them and compare again.
                    Err(ApiError::IdConflict(_)) if attempts < 3 => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            self.reload(&platform).await?;
            return Ok(CatalogSync { recorded, behind });
        }
    }
}

/// A `catalog.type_changed` event without its time. Its id derives from the type, the definition
/// it replaces, the new one and the size of the log they were read at, so the same change made
/// twice from the same state (two nodes starting at once) is one event, while a definition that
/// comes back later (A, B, A, B) is a new one.
fn change_event(
    name: &str,
    old: Option<&Value>,
    previous: Option<&str>,
    new: &Value,
    at_size: u64,
    source: Value,
    actor: Value,
) -> Value {
    use sha2::Digest;
    let new_hash = definition_hash(new);
    let mut h = sha2::Sha256::new();
    for part in [
        name,
        previous.unwrap_or(""),
        &new_hash,
        &at_size.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let id = format!("catalog-{}", hex::encode(&h.finalize()[..16]));
    let empty = serde_json::Map::new();
    let diff = sealbook_domain::diff::diff(
        old.and_then(Value::as_object).unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let versions = new["versions"].as_array().map_or(0, Vec::len);
    json!({
        "id": id,
        "type": "catalog.type_changed",
        "actor": actor,
        "subject": {"type": "event_type", "id": name},
        "data": {"type": name, "version": versions, "previous": previous, "source": source,
                 "definition": new, "diff": diff},
    })
}

fn with_time(event: &Value, at: time::OffsetDateTime) -> Value {
    let mut e = event.clone();
    e["occurred_at"] = Value::String(sealbook_domain::timestamp::format_utc(at, 6));
    e
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
    let _one_change_at_a_time = state.inner.catalog_changes.lock().await;
    let current = state.read_catalog_log(&tenant).await?;
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
    state.reload(&tenant).await?;
    Ok(Json(settings))
}

/// Who changes a type: a tenant's admin key (its own types) or the operator (the platform's).
pub(crate) enum Changer {
    Tenant(TenantKey),
    Operator,
}

impl FromRequestParts<AppState> for Changer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let is_key = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(&format!("Bearer {}", crate::secret::KEY_PREFIX)));
        if is_key {
            Ok(Changer::Tenant(
                TenantKey::from_request_parts(parts, state).await?,
            ))
        } else {
            Operator::from_request_parts(parts, state).await?;
            Ok(Changer::Operator)
        }
    }
}

/// Add or extend an event type (audited as `catalog.type_changed`): with a `tenant:admin` key, one
/// of the tenant's own types; with the operator token, a platform type every tenant inherits.
#[utoipa::path(put, path = "/v1/catalog/types/{type}", tag = "events", security(("tenant_key" = ["tenant:admin"]), ("operator" = [])),
    params(("type" = String, Path, description = "the type name, e.g. `invoice.paid`")),
    request_body(content = Object, description = "description, owner, severity, retention, label, controls, ocsf, personal, secrets, versions: [{version, requires, schema, sample, rejected}]"),
    responses((status = 200, description = "the type, its number of versions, whose it is and the index of the change in the log", body = Object),
        (status = 409, description = "another change to this type was made at the same time; read the catalog and try again", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_type(
    State(state): State<AppState>,
    changer: Changer,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let (log, actor, scope) = match &changer {
        Changer::Tenant(key) => {
            key.require(Scope::TenantAdmin)?;
            (
                key.tenant().clone(),
                json!({"type": "api_key", "id": key.0.id, "name": key.0.name}),
                "tenant",
            )
        }
        Changer::Operator => (
            TenantId::platform(),
            json!({"type": "system", "id": "platform-operator", "name": "Sealbook platform operator"}),
            "platform",
        ),
    };
    let def: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("request body: {e}")))?;
    if RESERVED.contains(&name.as_str()) {
        return Err(invalid([format!(
            "{name} is written by Sealbook itself; its definition is part of Sealbook"
        )]));
    }
    let platform = state.platform_catalog().await?;
    if scope == "tenant" && platform.catalog.contains(&name) {
        return Err(invalid([format!(
            "{name} is a platform type: the operator changes it"
        )]));
    }
    let new = Catalog::from_definition(&name, &def)
        .map_err(|ps| invalid(ps.into_iter().map(|p| p.message)))?;
    let normalised = new.definition(&name).expect("just compiled").clone();
    let _one_change_at_a_time = state.inner.catalog_changes.lock().await;
    // Read the log afresh: another node may have changed the type.
    let current = state.read_catalog_log(&log).await?;
    let problems = current.catalog.replacement_problems(&name, &new);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let answer = |index: Option<u64>| {
        Json(json!({
            "type": name,
            "versions": normalised["versions"].as_array().map_or(0, Vec::len),
            "scope": scope,
            "index": index,
        }))
    };
    let new_hash = definition_hash(&normalised);
    if current.hash_of(&name) == Some(new_hash.as_str()) {
        // Already in force: nothing changes, nothing to record.
        return Ok(answer(None));
    }
    let now = time::OffsetDateTime::now_utc();
    let event = change_event(
        &name,
        current.definitions.get(&name).map(|d| &d.definition),
        current.hash_of(&name),
        &normalised,
        current.size,
        json!({"kind": "api"}),
        actor,
    );
    let shaped = vec![crate::audit::event(&log, &with_time(&event, now), now)?];
    let index = match append(&state, log.clone(), shaped, None).await {
        Ok(receipts) => receipts.first().map(|r| r.index),
        // The same change, recorded at the same moment through another node.
        Err(ApiError::IdConflict(_)) => None,
        Err(e) => return Err(e),
    };
    let after = state.reload(&log).await?;
    if after.hash_of(&name) != Some(new_hash.as_str()) {
        return Err(ApiError::CatalogConflict(format!(
            "{name} was changed at the same time through another node, and that change is in force; read GET /v1/catalog and try again"
        )));
    }
    Ok(answer(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(versions: usize) -> Value {
        let v = |n: usize| {
            let props: serde_json::Map<String, Value> = (1..=n)
                .map(|i| (format!("f{i}"), json!({"type": "string"})))
                .collect();
            json!({"version": n, "requires": [],
                "schema": {"type": "object", "properties": props},
                "sample": {}, "rejected": {format!("f{n}"): 1}})
        };
        json!({"description": "d", "owner": "o", "severity": "info", "retention": "r",
            "label": "l", "ocsf": {"class_uid": 1, "class_name": "c", "activity_id": 1},
            "versions": (1..=versions).map(v).collect::<Vec<_>>()})
    }

    fn recorded(name: &str, previous: Option<&Value>, new: &Value, kind: &str) -> Value {
        let mut e = change_event(
            name,
            previous,
            previous.map(definition_hash).as_deref(),
            new,
            7,
            json!({"kind": kind}),
            json!({"type": "system", "id": "t"}),
        );
        e[RECORDED_BY] = json!(SEALBOOK);
        e
    }

    #[test]
    fn a_change_applies_only_over_the_definition_it_names() {
        let (one, two, other_two) = (def(1), def(2), {
            let mut d = def(2);
            d["description"] = json!("another");
            d
        });
        let events = [
            recorded("a.b", None, &one, "api"),
            recorded("a.b", Some(&one), &two, "api"),
            // Raced: also names `one`, recorded after `two`; not in force.
            recorded("a.b", Some(&one), &other_two, "api"),
        ];
        let log = fold(&events, 3);
        assert_eq!(log.hash_of("a.b"), Some(definition_hash(&two).as_str()));
        assert_eq!(log.catalog.get("a.b").unwrap().versions.len(), 2);
        assert_eq!(log.catalog.get("a.b").unwrap().description, "d");
    }

    #[test]
    fn only_sealbook_records_count() {
        let mut forged = recorded("a.b", None, &def(1), "api");
        forged.as_object_mut().unwrap().remove(RECORDED_BY);
        let mut settings =
            json!({"type": "catalog.settings_changed", "data": {"open_types": true}});
        let log = fold(&[forged, settings.clone()], 2);
        assert!(!log.catalog.contains("a.b"));
        assert!(!log.open_types);
        settings[RECORDED_BY] = json!(SEALBOOK);
        assert!(fold(&[settings], 1).open_types);
    }

    #[test]
    fn the_startup_sources_are_remembered_per_type() {
        let (one, two) = (def(1), def(2));
        let log = fold(
            &[
                recorded("a.b", None, &one, "builtin"),
                recorded("a.b", Some(&one), &two, "api"),
            ],
            2,
        );
        assert_eq!(
            log.from_startup.get("a.b").map(String::as_str),
            Some(definition_hash(&one).as_str()),
            "an API change does not count as the file's"
        );
        assert_eq!(log.hash_of("a.b"), Some(definition_hash(&two).as_str()));
    }

    #[test]
    fn the_same_change_gets_the_same_id() {
        let (one, two) = (def(1), def(2));
        let a = recorded("a.b", Some(&one), &two, "file");
        let b = recorded("a.b", Some(&one), &two, "file");
        assert_eq!(a["id"], b["id"]);
        assert_ne!(a["id"], recorded("a.b", None, &two, "file")["id"]);
        assert_ne!(a["id"], recorded("a.c", Some(&one), &two, "file")["id"]);
        let later = change_event(
            "a.b",
            Some(&one),
            Some(&definition_hash(&one)),
            &two,
            8,
            json!({"kind": "file"}),
            json!({"type": "system", "id": "t"}),
        );
        assert_ne!(
            a["id"], later["id"],
            "the same change again, later, is another event"
        );
    }
}
