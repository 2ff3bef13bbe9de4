//! The catalog over HTTP: `GET /v1/catalog` lists the types a key's tenant may send (the
//! platform's and its own); `PUT /v1/catalog/types/{type}` adds or extends a type, of the key's
//! tenant (`tenant:admin`) or of the platform (the operator token); `PUT /v1/catalog/settings`
//! turns open types on or off for a tenant. Published versions never change; a new version may
//! only add optional fields.
//!
//! A log is the store of each catalog: a tenant's types live in its own log, the platform's in the
//! platform log ([`TenantId::platform`]). Every change is a `catalog.type_changed` record carrying
//! the whole new definition, the hash of the definition it replaces, where it came from and the
//! field-level diff (or a `catalog.settings_changed` record), so a catalog's history is
//! tamper-evident like everything else (`sealbook_catalog::replay` rebuilds it). A change is
//! decided against the log read afresh, one change at a time in this process; two nodes racing to
//! change one type cannot both win (the loser answers 409). Clients may not send these types at all.

use crate::append::append;
use crate::audit;
use crate::auth::{KeyOrOperator, TenantKey};
use crate::catalog_log;
use crate::error::ApiError;
use crate::extract::{Body, PathParams};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sealbook_catalog::{definition_hash, is_reserved, type_changed, Catalog};
use sealbook_domain::{Action, FieldError, TenantId};
use serde_json::{json, Value};

/// The catalog of event types.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CatalogBody {
    /// Every type: name, description, owner, severity, retention class, label template, controls,
    /// OCSF mapping, personal and secret paths, versions with their schemas and required fields.
    #[schema(value_type = Vec<Object>)]
    types: Vec<serde_json::Value>,
}

/// The event catalog: what a compliance officer reads.
#[utoipa::path(get, path = "/v1/catalog", tag = "events", security(("tenant_key" = ["events:read"])),
    responses((status = 200, body = CatalogBody), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn get_catalog(
    State(state): State<AppState>,
    key: TenantKey,
) -> Result<Json<CatalogBody>, ApiError> {
    key.require(Action::ReadCatalog)?;
    let catalogs = state.catalogs(key.tenant()).await?;
    let scoped = |t: &sealbook_catalog::TypeInfo, scope: &str| {
        let mut v = serde_json::to_value(t).expect("serializes");
        v["scope"] = serde_json::Value::String(scope.to_owned());
        v
    };
    Ok(Json(CatalogBody {
        types: catalogs
            .platform
            .catalog
            .types()
            .filter(|t| !catalogs.own.catalog.contains(&t.name))
            .map(|t| scoped(t, "platform"))
            .chain(catalogs.own.catalog.types().map(|t| scoped(t, "tenant")))
            .collect(),
    }))
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

/// Whether the tenant accepts event types the catalog does not know.
#[derive(serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    /// Unknown types are stored, marked `uncatalogued`, instead of refused.
    open_types: bool,
}

/// Change the tenant's catalog settings (audited as `catalog.settings_changed`).
#[utoipa::path(put, path = "/v1/catalog/settings", tag = "events", security(("tenant_key" = ["tenant:admin"])), request_body = Settings,
    responses((status = 200, body = Settings), (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 413, response = crate::schema::TooLarge), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    key: TenantKey,
    Body(body): Body,
) -> Result<Json<Settings>, ApiError> {
    key.require(Action::ChangeCatalog)?;
    let settings: Settings = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("request body: {e}")))?;
    let tenant = key.tenant().clone();
    let _one_change_at_a_time = state.inner.catalog_changes.lock().await;
    let current =
        catalog_log::read(&*state.inner.store, &tenant, &state.search_key(&tenant)).await?;
    let now = time::OffsetDateTime::now_utc();
    let audit = json!({
        "type": "catalog.settings_changed",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": {"type": "api_key", "id": key.0.id, "name": key.0.name},
        "subject": {"type": "tenant", "id": tenant.as_str()},
        "data": {"open_types": settings.open_types},
        "changes": [{"field": "open_types", "before": current.open_types, "after": settings.open_types}],
    });
    let shaped = vec![audit::event(&state.keys(&tenant), &tenant, &audit, now)?];
    append(&state, tenant.clone(), shaped, None).await?;
    state.reload_catalog(&tenant).await?;
    Ok(Json(settings))
}

/// Whose a type is.
#[derive(Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Whose {
    /// The key's tenant's own.
    Tenant,
    /// The platform's, inherited by every tenant.
    Platform,
}

/// The answer to a type change.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TypeChanged {
    /// The type's name.
    r#type: String,
    /// How many versions it has now.
    versions: usize,
    scope: Whose,
    /// The index of the change in the log; null when the definition was already in force.
    index: Option<u64>,
}

/// Add or extend an event type (audited as `catalog.type_changed`): with a `tenant:admin` key, one
/// of the tenant's own types; with the operator token, a platform type every tenant inherits.
#[utoipa::path(put, path = "/v1/catalog/types/{type}", tag = "events", security(("tenant_key" = ["tenant:admin"]), ("operator" = [])),
    params(("type" = String, Path, pattern = r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$", description = "the type name, e.g. `invoice.paid`: two or more lower_snake segments")),
    request_body = crate::schema::TypeDefinition,
    responses((status = 200, description = "the type, its number of versions, whose it is and the index of the change in the log (null when nothing changed)", body = TypeChanged),
        (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited),
        (status = 409, description = "another change to this type was made at the same time; read the catalog and try again", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::schema::TooLarge),
        (status = 422, description = "the definition breaks the catalog's rules (lint), changes a published version, or names a reserved or platform type", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn put_type(
    State(state): State<AppState>,
    changer: KeyOrOperator,
    PathParams(name): PathParams<String>,
    Body(body): Body,
) -> Result<Json<TypeChanged>, ApiError> {
    let (log, actor, scope) = match &changer {
        KeyOrOperator::Key(key) => {
            key.require(Action::ChangeCatalog)?;
            (
                key.tenant().clone(),
                json!({"type": "api_key", "id": key.0.id, "name": key.0.name}),
                Whose::Tenant,
            )
        }
        KeyOrOperator::Operator => (
            TenantId::platform(),
            json!({"type": "system", "id": "platform-operator", "name": "Sealbook platform operator"}),
            Whose::Platform,
        ),
    };
    let def: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("request body: {e}")))?;
    if is_reserved(&name) {
        return Err(invalid([format!(
            "{name} is in a namespace Sealbook writes itself ({}): its types are defined by Sealbook",
            sealbook_catalog::RESERVED_NAMESPACES.join(", ")
        )]));
    }
    let platform = state.platform_catalog().await?;
    if scope == Whose::Tenant && platform.catalog.contains(&name) {
        return Err(invalid([format!(
            "{name} is a platform type: the operator changes it"
        )]));
    }
    let new = Catalog::from_definition(&name, &def)
        .map_err(|ps| invalid(ps.into_iter().map(|p| p.message)))?;
    let normalised = new.definition(&name).expect("just compiled").clone();
    let _one_change_at_a_time = state.inner.catalog_changes.lock().await;
    // Read the log afresh: another node may have changed the type.
    let current = catalog_log::read(&*state.inner.store, &log, &state.search_key(&log)).await?;
    let problems = current.catalog.replacement_problems(&name, &new);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let answer = |index: Option<u64>| {
        Json(TypeChanged {
            r#type: name.clone(),
            versions: normalised["versions"].as_array().map_or(0, Vec::len),
            scope,
            index,
        })
    };
    let new_hash = definition_hash(&normalised);
    if current.hash_of(&name) == Some(new_hash.as_str()) {
        // Already in force: nothing changes, nothing to record.
        return Ok(answer(None));
    }
    let now = time::OffsetDateTime::now_utc();
    let event = type_changed(
        &name,
        current.definition_of(&name),
        current.hash_of(&name),
        &normalised,
        current.size,
        json!({"kind": "api"}),
        actor,
    );
    let shaped = vec![audit::event(
        &state.keys(&log),
        &log,
        &audit::at_time(&event, now),
        now,
    )?];
    let index = match append(&state, log.clone(), shaped, None).await {
        Ok(receipts) => receipts.first().map(|r| r.index),
        // The same change, recorded at the same moment through another node.
        Err(ApiError::IdConflict(_)) => None,
        Err(e) => return Err(e),
    };
    let after = state.reload_catalog(&log).await?;
    if after.hash_of(&name) != Some(new_hash.as_str()) {
        return Err(ApiError::CatalogConflict(format!(
            "{name} was changed at the same time through another node, and that change is in force; read GET /v1/catalog and try again"
        )));
    }
    Ok(answer(index))
}
