//! The platform operator's API: tenants and their API keys.
//!
//! Key creation and revocation are audited in the tenant's own log (`api_key.created`,
//! `api_key.revoked`, the operator as actor), committed in the same transaction as the change
//! itself: a key exists if and only if its creation is in the log.

use crate::append::append;
use crate::auth::Operator;
use crate::error::ApiError;
use crate::extract::{Body, PathParams};
use crate::secret;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sealbook_domain::{FieldError, Scope, TenantId};
use sealbook_store::{KeyEffect, KeyRecord, NewKey, Tenant};

/// `POST /v1/tenants` body.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTenant {
    #[schema(schema_with = crate::schema::new_tenant_id)]
    id: String,
    /// Display name (defaults to the id).
    #[schema(schema_with = crate::schema::display_name)]
    name: Option<String>,
}

/// A tenant.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TenantBody {
    id: String,
    name: String,
    created_at: String,
}

impl From<Tenant> for TenantBody {
    fn from(t: Tenant) -> Self {
        TenantBody {
            id: t.id.to_string(),
            name: t.name,
            created_at: t.created_at,
        }
    }
}

/// The list of tenants.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TenantList {
    tenants: Vec<TenantBody>,
}

/// `POST /v1/tenants/{tenant}/keys` body.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKeyBody {
    /// Display name, e.g. the service that will use the key (default `unnamed`).
    #[schema(schema_with = crate::schema::display_name)]
    name: Option<String>,
    #[schema(schema_with = crate::schema::scopes)]
    scopes: Vec<String>,
}

/// An API key, without its secret.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct KeyBody {
    id: String,
    tenant: String,
    name: String,
    scopes: Vec<String>,
    /// The first characters of the secret, to recognise it.
    prefix: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
}

impl From<KeyRecord> for KeyBody {
    fn from(k: KeyRecord) -> Self {
        KeyBody {
            id: k.id,
            tenant: k.tenant.to_string(),
            name: k.name,
            scopes: k.scopes.iter().map(|s| s.to_string()).collect(),
            prefix: k.prefix,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A newly created key: the only time the secret is shown.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedKey {
    #[serde(flatten)]
    record: KeyBody,
    /// The secret. Shown once; Sealbook keeps only its hash.
    key: String,
}

/// The keys of a tenant.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct KeyList {
    keys: Vec<KeyBody>,
}

fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Invalid(vec![FieldError {
            event: None,
            path: String::new(),
            problem: e.to_string(),
        }]),
        _ => ApiError::Malformed(e.to_string()),
    })
}

fn tenant_param(s: &str) -> Result<TenantId, ApiError> {
    // An id that cannot exist is simply not found.
    TenantId::parse(s).map_err(|_| ApiError::NotFound)
}

/// Create a tenant.
#[utoipa::path(post, path = "/v1/tenants", tag = "admin", security(("operator" = [])), request_body = NewTenant,
    responses((status = 201, body = TenantBody), (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 429, response = crate::schema::RateLimited),
        (status = 409, description = "the tenant exists", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::schema::TooLarge), (status = 422, response = crate::schema::Unprocessable), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn create_tenant(
    _: Operator,
    State(state): State<AppState>,
    Body(body): Body,
) -> Result<(StatusCode, Json<TenantBody>), ApiError> {
    let req: NewTenant = json_body(&body)?;
    let id = TenantId::parse(&req.id).map_err(|e| {
        ApiError::Invalid(vec![FieldError {
            event: None,
            path: "/id".into(),
            problem: e.to_string(),
        }])
    })?;
    if id.is_platform() {
        return Err(ApiError::Invalid(vec![FieldError {
            event: None,
            path: "/id".into(),
            problem: format!(
                "{id:?} is reserved for the platform's own log (platform catalog changes)"
            ),
        }]));
    }
    let name = req.name.unwrap_or_else(|| id.to_string());
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::Invalid(vec![FieldError {
            event: None,
            path: "/name".into(),
            problem: "must be 1-200 printable characters".into(),
        }]));
    }
    let t = state.inner.store.create_tenant(&id, &name).await?;
    tracing::info!(tenant = %id, "tenant created");
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// List tenants.
#[utoipa::path(get, path = "/v1/tenants", tag = "admin", security(("operator" = [])),
    responses((status = 200, body = TenantList), (status = 401, response = crate::schema::Unauthorized), (status = 429, response = crate::schema::RateLimited), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn list_tenants(
    _: Operator,
    State(state): State<AppState>,
) -> Result<Json<TenantList>, ApiError> {
    let tenants = state.inner.store.list_tenants().await?;
    Ok(Json(TenantList {
        tenants: tenants.into_iter().map(Into::into).collect(),
    }))
}

/// The audit event of a key change, shaped like any ingested event.
fn key_event(
    keys: &sealbook_domain::TenantKeys,
    tenant: &TenantId,
    event_type: &str,
    actor: &serde_json::Value,
    key: &KeyRecord,
    at: time::OffsetDateTime,
) -> Result<sealbook_domain::ShapedEvent, ApiError> {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    let event = serde_json::json!({
        "type": event_type,
        "occurred_at": sealbook_domain::timestamp::format_utc(at, 6),
        "actor": actor,
        "subject": {"type": "api_key", "id": key.id, "name": key.name},
        "data": {"scopes": scopes, "prefix": key.prefix},
    });
    crate::audit::event(keys, tenant, &event, at)
}

/// Create an API key for a tenant. The secret is in this response only.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys", tag = "admin", security(("operator" = [])), request_body = NewKeyBody,
    params(("tenant" = String, Path, pattern = r"^[a-z0-9][a-z0-9-]{0,62}$", description = "tenant id; any other answers 404")),
    responses((status = 201, body = CreatedKey), (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 429, response = crate::schema::RateLimited),
        (status = 404, description = "no such tenant", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::schema::TooLarge), (status = 422, response = crate::schema::Unprocessable), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn create_key(
    _: Operator,
    State(state): State<AppState>,
    PathParams(tenant): PathParams<String>,
    Body(body): Body,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let tenant = tenant_param(&tenant)?;
    let req: NewKeyBody = json_body(&body)?;
    let mut scopes = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in req.scopes.iter().enumerate() {
        match s.parse::<Scope>() {
            // The platform log holds only what Sealbook records there: its keys read and export.
            Ok(scope @ (Scope::EventsWrite | Scope::TenantAdmin)) if tenant.is_platform() => {
                errors.push(FieldError {
                    event: None,
                    path: format!("/scopes/{i}"),
                    problem: format!("{scope} cannot be granted on the platform log: its keys may only read and export"),
                })
            }
            Ok(scope) if !scopes.contains(&scope) => scopes.push(scope),
            Ok(_) => {}
            Err(e) => errors.push(FieldError {
                event: None,
                path: format!("/scopes/{i}"),
                problem: e.to_string(),
            }),
        }
    }
    if scopes.is_empty() && errors.is_empty() {
        errors.push(FieldError {
            event: None,
            path: "/scopes".into(),
            problem: "at least one scope is required".into(),
        });
    }
    let name = req.name.unwrap_or_else(|| "unnamed".into());
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        errors.push(FieldError {
            event: None,
            path: "/name".into(),
            problem: "must be 1-200 printable characters".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    if state.inner.store.tenant(&tenant).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let (record, key) = new_key(
        &state,
        &tenant,
        &crate::people::operator_actor(),
        name,
        scopes,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            record: record.into(),
            key,
        }),
    ))
}

/// Creates a key of `tenant` (which MUST exist) with valid `scopes`, recorded as
/// `api_key.created` by `actor`; returns the record and the secret, shown once.
pub(crate) async fn new_key(
    state: &AppState,
    tenant: &TenantId,
    actor: &serde_json::Value,
    name: String,
    scopes: Vec<Scope>,
) -> Result<(KeyRecord, String), ApiError> {
    let secret = secret::new_api_key();
    let now = time::OffsetDateTime::now_utc();
    let record = KeyRecord {
        id: secret::new_key_id(),
        tenant: tenant.clone(),
        name,
        scopes,
        prefix: secret[..secret::KEY_PREFIX.len() + 6].to_owned(),
        created_at: sealbook_domain::timestamp::format_utc(now, 6),
        revoked_at: None,
    };
    let event = key_event(
        &state.keys(tenant),
        tenant,
        "api_key.created",
        actor,
        &record,
        now,
    )?;
    let effect = KeyEffect::Create(NewKey {
        record: record.clone(),
        secret_hash: secret::hash(&secret),
    });
    append(state, tenant.clone(), vec![event], Some(effect)).await?;
    tracing::info!(tenant = %tenant, key_id = %record.id, "api key created");
    Ok((record, secret))
}

/// List a tenant's keys (never their secrets).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/keys", tag = "admin", security(("operator" = [])),
    params(("tenant" = String, Path, pattern = r"^[a-z0-9][a-z0-9-]{0,62}$", description = "tenant id; any other answers 404")),
    responses((status = 200, body = KeyList), (status = 401, response = crate::schema::Unauthorized), (status = 429, response = crate::schema::RateLimited),
        (status = 404, description = "no such tenant", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn list_keys(
    _: Operator,
    State(state): State<AppState>,
    PathParams(tenant): PathParams<String>,
) -> Result<Json<KeyList>, ApiError> {
    let tenant = tenant_param(&tenant)?;
    if state.inner.store.tenant(&tenant).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let keys = state.inner.store.list_keys(&tenant).await?;
    Ok(Json(KeyList {
        keys: keys.into_iter().map(Into::into).collect(),
    }))
}

/// Revoke a key; it fails from the very next request.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/keys/{key_id}", tag = "admin", security(("operator" = [])),
    params(("tenant" = String, Path, pattern = r"^[a-z0-9][a-z0-9-]{0,62}$", description = "tenant id; any other answers 404"), ("key_id" = String, Path, min_length = 1, description = "key id, `key_…`")),
    responses((status = 200, body = KeyBody), (status = 401, response = crate::schema::Unauthorized), (status = 429, response = crate::schema::RateLimited),
        (status = 404, description = "no such live key in this tenant", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn revoke_key(
    _: Operator,
    State(state): State<AppState>,
    PathParams((tenant, key_id)): PathParams<(String, String)>,
) -> Result<Json<KeyBody>, ApiError> {
    let tenant = tenant_param(&tenant)?;
    let key = state
        .inner
        .store
        .key(&tenant, &key_id)
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or(ApiError::NotFound)?;
    let at = revoke(&state, &tenant, &crate::people::operator_actor(), &key).await?;
    Ok(Json(KeyBody {
        revoked_at: Some(at),
        ..key.into()
    }))
}

/// Revokes a live key of `tenant`, recorded as `api_key.revoked` by `actor`; returns the time.
pub(crate) async fn revoke(
    state: &AppState,
    tenant: &TenantId,
    actor: &serde_json::Value,
    key: &KeyRecord,
) -> Result<String, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let at = sealbook_domain::timestamp::format_utc(now, 6);
    let event = key_event(
        &state.keys(tenant),
        tenant,
        "api_key.revoked",
        actor,
        key,
        now,
    )?;
    append(
        state,
        tenant.clone(),
        vec![event],
        Some(KeyEffect::Revoke {
            key_id: key.id.clone(),
            at: at.clone(),
        }),
    )
    .await?;
    if let Some(cache) = &state.inner.keys {
        cache.revoked();
    }
    tracing::info!(tenant = %tenant, key_id = %key.id, "api key revoked");
    Ok(at)
}

/// `POST /v1/tenants/{tenant}/users` body.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    /// E-mail address (stored lower-cased; unique in the tenant).
    #[schema(min_length = 3, max_length = 254)]
    email: String,
    /// Display name (defaults to the e-mail address).
    #[schema(max_length = 200)]
    name: Option<String>,
    /// `tenant_admin`, `compliance_officer`, `auditor`, `support` or `viewer`.
    #[schema(value_type = String, pattern = "^(tenant_admin|compliance_officer|auditor|support|viewer)$")]
    role: String,
}

/// A person of a tenant (never a credential).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct UserBody {
    id: String,
    tenant: String,
    email: String,
    name: String,
    role: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_at: Option<String>,
    has_password: bool,
    /// A second factor (TOTP) is enabled.
    has_totp: bool,
}

impl From<sealbook_store::User> for UserBody {
    fn from(u: sealbook_store::User) -> Self {
        UserBody {
            id: u.id,
            tenant: u.tenant.to_string(),
            email: u.email,
            name: u.name,
            role: u.role.to_string(),
            created_at: u.created_at,
            disabled_at: u.disabled_at,
            has_password: u.has_password,
            has_totp: u.has_totp,
        }
    }
}

/// A newly invited person, with the one-time link to set a password.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct InvitedUser {
    user: UserBody,
    /// Path of the set-password link on this server (valid 72 hours, once): append it to the
    /// server's public URL and hand it to the person. Shown once; Sealbook keeps only its hash.
    set_password_path: String,
}

/// The people of a tenant.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct UserList {
    users: Vec<UserBody>,
}

/// Invite a person to a tenant (the first tenant admin, typically), or a platform operator to the
/// tenant `platform`: creates the account and a one-time set-password link, recorded as
/// `user.invited`. No password ever passes here.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/users", tag = "admin", security(("operator" = [])), request_body = NewUserBody,
    params(("tenant" = String, Path, pattern = r"^[a-z0-9][a-z0-9-]{0,62}$", description = "tenant id; any other answers 404")),
    responses((status = 201, body = InvitedUser), (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 429, response = crate::schema::RateLimited),
        (status = 404, description = "no such tenant", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "a person of this tenant has this e-mail address", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::schema::TooLarge), (status = 422, response = crate::schema::Unprocessable), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn create_user(
    _: Operator,
    State(state): State<AppState>,
    PathParams(tenant): PathParams<String>,
    Body(body): Body,
) -> Result<(StatusCode, Json<InvitedUser>), ApiError> {
    let tenant = tenant_param(&tenant)?;
    let req: NewUserBody = json_body(&body)?;
    let invalid = |path: &str, problem: String| {
        ApiError::Invalid(vec![FieldError {
            event: None,
            path: path.into(),
            problem,
        }])
    };
    let role = match req.role.parse::<sealbook_domain::Role>() {
        // Operators are the platform's people, and the platform has no other.
        Ok(r) if r.is_tenant_role() != tenant.is_platform() => r,
        Ok(_) => {
            return Err(invalid(
                "/role",
                "a tenant's people hold tenant roles; platform operators (role operator) belong to the tenant platform".into(),
            ))
        }
        Err(e) => return Err(invalid("/role", e.to_string())),
    };
    let name = req.name.unwrap_or_default();
    crate::people::check_invite(&req.email, &name)
        .map_err(|(field, problem)| invalid(&format!("/{field}"), problem.into()))?;
    if state.inner.store.tenant(&tenant).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let invited = crate::people::invite(
        &state,
        &tenant,
        crate::people::operator_actor(),
        &req.email,
        &name,
        role,
        None,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitedUser {
            set_password_path: crate::people::set_password_path(&invited.token),
            user: invited.user.into(),
        }),
    ))
}

/// List a tenant's people (never their credentials).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/users", tag = "admin", security(("operator" = [])),
    params(("tenant" = String, Path, pattern = r"^[a-z0-9][a-z0-9-]{0,62}$", description = "tenant id; any other answers 404")),
    responses((status = 200, body = UserList), (status = 401, response = crate::schema::Unauthorized), (status = 429, response = crate::schema::RateLimited),
        (status = 404, description = "no such tenant", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn list_users(
    _: Operator,
    State(state): State<AppState>,
    PathParams(tenant): PathParams<String>,
) -> Result<Json<UserList>, ApiError> {
    let tenant = tenant_param(&tenant)?;
    if state.inner.store.tenant(&tenant).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let users = state.inner.store.list_users(&tenant).await?;
    Ok(Json(UserList {
        users: users.into_iter().map(Into::into).collect(),
    }))
}
