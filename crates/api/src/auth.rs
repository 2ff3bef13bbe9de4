//! Authentication: tenant API keys and the platform operator token, both as `Authorization: Bearer`.
//!
//! The tenant of a request always comes from its key, never from the URL or the body. A missing,
//! unknown or revoked key all answer the same 401, so probing learns nothing.
//!
//! Live keys may be cached in memory ([`KeyCache`], only for a store that this one process writes):
//! every revocation goes through this process, bumps a generation and clears the cache, and an
//! entry looked up before a revocation is ignored after it. So a revocation still takes effect on
//! the very next request. Unknown keys are never cached.

use crate::error::ApiError;
use crate::secret::{self, KEY_PREFIX};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sealbook_domain::{Scope, TenantId};
use sealbook_store::KeyRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// Live keys by the hash of their secret, valid for one revocation generation and at most
/// [`KEY_CACHE_TTL`].
pub(crate) struct KeyCache {
    generation: AtomicU64,
    entries: quick_cache::sync::Cache<[u8; 32], (u64, Instant, KeyRecord)>,
}

/// Defence in depth: even without a revocation, a cached key is looked up again this often.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

impl KeyCache {
    pub(crate) fn new() -> KeyCache {
        KeyCache {
            generation: AtomicU64::new(0),
            entries: quick_cache::sync::Cache::new(10_000),
        }
    }

    /// Called after a revocation committed: nothing looked up before it is used again.
    pub(crate) fn revoked(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    fn get(&self, hash: &[u8; 32]) -> Option<KeyRecord> {
        let (generation, at, record) = self.entries.get(hash)?;
        (generation == self.generation.load(Ordering::SeqCst) && at.elapsed() < KEY_CACHE_TTL)
            .then_some(record)
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
                let generation = cache.map(|c| c.generation.load(Ordering::SeqCst));
                let record = state
                    .inner
                    .store
                    .key_by_hash(&hash)
                    .await?
                    .filter(|k| k.revoked_at.is_none())
                    .ok_or(ApiError::Unauthorized)?;
                if let (Some(c), Some(g)) = (cache, generation) {
                    c.entries.insert(hash, (g, Instant::now(), record.clone()));
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
