//! Authentication: tenant API keys and the platform operator token, both as `Authorization: Bearer`.
//!
//! The tenant of a request always comes from its key, never from the URL or the body. A missing,
//! unknown or revoked key all answer the same 401, so probing learns nothing.
//!
//! Live keys may be cached in memory (`key_cache`, only for a store that this one process writes),
//! so that a revocation still takes effect on the very next request.
//!
//! Failed authentication is bounded: every 401 takes a token from the client address's failure
//! bucket (`auth_failures_per_ip`; IPv6 counted per /64) and from a process-wide one
//! (`auth_failures_global`). A client (or, with the global bucket, everyone) out of failure tokens
//! is answered 429 with `Retry-After` before the store or the token comparison is reached, unless
//! it presents a live key that is already cached. A secret that was unknown or revoked is
//! remembered (bounded), so repeating it never reaches the store again: secrets are random, so an
//! unknown one cannot become a live key later, and a revocation is final. The operator token is
//! compared as SHA-256 hashes in constant time.

use crate::error::ApiError;
use crate::secret::{self, KEY_PREFIX};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sealbook_domain::{Action, Grant, TenantId};
use sealbook_store::KeyRecord;
use std::net::IpAddr;

/// The client address a failure counts against: the peer's IP, an IPv6 address by its /64 (one
/// host usually holds a whole /64). `None` when the server passed no address (in-process tests).
pub(crate) fn client_of(parts: &Parts) -> Option<IpAddr> {
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?
        .0
        .ip();
    Some(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    })
}

/// Refuses, before any lookup, a client (or everyone) that has used up its failed attempts.
fn not_locked_out(state: &AppState, client: Option<IpAddr>) -> Result<(), ApiError> {
    let f = &state.inner.auth_failures;
    f.per_client
        .peek(&client)
        .and_then(|()| f.global.peek(&()))
        .map_err(|retry_after| ApiError::TooManyFailures { retry_after })
}

/// Counts a failed authentication and returns the 401 to answer.
fn failed(state: &AppState, client: Option<IpAddr>) -> ApiError {
    let f = &state.inner.auth_failures;
    let _ = f.per_client.check(&client);
    let _ = f.global.check(&());
    metrics::counter!("sealbook_auth_failures_total").increment(1);
    ApiError::Unauthorized
}

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

    /// What the key's scopes grant, for the one authorisation check.
    pub(crate) fn grant(&self) -> Grant {
        Grant::Key(self.0.scopes.clone())
    }

    /// Refuses with 403 unless the key's scopes allow `action` ([`sealbook_domain::allows`]).
    pub(crate) fn require(&self, action: Action) -> Result<(), ApiError> {
        self.grant().require(action).map_err(ApiError::from)
    }
}

impl FromRequestParts<AppState> for TenantKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = client_of(parts);
        let Some(token) = bearer(parts).ok().filter(|t| t.starts_with(KEY_PREFIX)) else {
            not_locked_out(state, client)?;
            return Err(failed(state, client));
        };
        let hash = secret::hash(token);
        let cache = state.inner.keys.as_ref();
        let record = match cache.and_then(|c| c.get(&hash)) {
            Some(r) => r,
            None => {
                not_locked_out(state, client)?;
                if state
                    .inner
                    .dead_keys
                    .get(&hash)
                    .is_some_and(|at| at.elapsed() < crate::state::DEAD_KEY_TTL)
                {
                    return Err(failed(state, client));
                }
                let generation = cache.map(|c| c.generation());
                let Some(record) = state
                    .inner
                    .store
                    .key_by_hash(&hash)
                    .await?
                    .filter(|k| k.revoked_at.is_none())
                else {
                    state
                        .inner
                        .dead_keys
                        .insert(hash, std::time::Instant::now());
                    return Err(failed(state, client));
                };
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
        let client = client_of(parts);
        // Guesses are limited like unknown keys, before the comparison.
        not_locked_out(state, client)?;
        let token = bearer(parts).map_err(|_| failed(state, client))?;
        if secret::hashes_equal(&secret::hash(token), &state.inner.admin_token_hash) {
            Ok(Operator)
        } else {
            Err(failed(state, client))
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
