//! Authentication: tenant API keys and the platform operator token, both as `Authorization: Bearer`.
//!
//! The tenant of a request always comes from its key, never from the URL or the body. A missing,
//! unknown or revoked key all answer the same 401, so probing learns nothing.
//!
//! Live keys may be cached in memory (`key_cache`, only for a store that this one process writes),
//! so that a revocation still takes effect on the very next request.

use crate::error::ApiError;
use crate::secret::{self, KEY_PREFIX};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sealbook_domain::{Scope, TenantId};
use sealbook_store::KeyRecord;

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)
}

/// A request authenticated by a live tenant API key.
pub(crate) struct TenantKey(pub(crate) KeyRecord);

impl TenantKey {
    /// The tenant every store call of this request is scoped to.
    pub(crate) fn tenant(&self) -> &TenantId {
        &self.0.tenant
    }

    /// Refuses with 403 unless the key carries `scope`.
    pub(crate) fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(scope))
        }
    }
}

impl FromRequestParts<AppState> for TenantKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if !token.starts_with(KEY_PREFIX) {
            return Err(ApiError::Unauthorized);
        }
        let hash = secret::hash(token);
        let cache = state.inner.keys.as_ref();
        let record = match cache.and_then(|c| c.get(&hash)) {
            Some(r) => r,
            None => {
                let generation = cache.map(|c| c.generation());
                let record = state
                    .inner
                    .store
                    .key_by_hash(&hash)
                    .await?
                    .filter(|k| k.revoked_at.is_none())
                    .ok_or(ApiError::Unauthorized)?;
                if let (Some(c), Some(g)) = (cache, generation) {
                    c.insert(hash, g, record.clone());
                }
                record
            }
        };
        state
            .inner
            .rate
            .check(&record.id)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        Ok(TenantKey(record))
    }
}

/// A request authenticated by the platform operator token.
pub(crate) struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if secret::hashes_equal(&secret::hash(token), &state.inner.admin_token_hash) {
            Ok(Operator)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// A tenant key or the operator token, told apart by the key prefix: who changes a catalog type
/// (a tenant's admin key its own types, the operator the platform's).
pub(crate) enum KeyOrOperator {
    Key(TenantKey),
    Operator,
}

impl FromRequestParts<AppState> for KeyOrOperator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if bearer(parts).is_ok_and(|t| t.starts_with(KEY_PREFIX)) {
            Ok(KeyOrOperator::Key(
                TenantKey::from_request_parts(parts, state).await?,
            ))
        } else {
            Operator::from_request_parts(parts, state).await?;
            Ok(KeyOrOperator::Operator)
        }
    }
}
