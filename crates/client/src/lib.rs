//! A typed client for Sealbook's HTTP API.
//!
//! Every non-success answer becomes [`ClientError::Problem`] carrying the server's RFC 9457 body,
//! so callers can match on its stable `type`. Retries, batching and the transactional outbox build
//! on this client.
//!
//! The public interface is: [`Client`] with [`RetryPolicy`], [`ClientError`], [`Problem`] and
//! [`ProblemKind`], [`Receipt`], [`Tenant`], [`ApiKey`], [`CreatedKey`], [`EventPage`],
//! [`ProofJson`]; [`event`] (a typed builder for the envelope); `outbox` (features `postgres`,
//! `sqlx`: audit events that commit with the business change, and the relay that delivers them);
//! [`spool`] (a durable on-disk spool for services without a database); [`delivery`] (the rule
//! both use);
//! and [`verify`], the verifier of a tenant log that trusts nothing but a verifier key.
//!
//! Sending with retries (exponential backoff with jitter, honouring `Retry-After`), idempotent by
//! event id, batched:
//!
//! ```no_run
//! # async fn f() -> Result<(), sealbook_client::ClientError> {
//! use sealbook_client::{event::{Event, Party}, Client};
//! let client = Client::new("http://127.0.0.1:8080", "sbk_…")?;
//! let e = Event::new("user.login_succeeded", Party::user("u-42"), Party::user("u-42"));
//! let receipts = client.send(&[e.into()]).await?;
//! println!("index {} in the tenant's log", receipts[0].index);
//! # Ok(()) }
//! ```

pub mod delivery;
pub mod event;
#[cfg(feature = "postgres")]
pub mod outbox;
pub mod spool;
pub mod verify;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An RFC 9457 problem as Sealbook sends it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Problem {
    /// Stable kind, e.g. `urn:sealbook:problem:invalid-event`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened.
    pub detail: String,
    /// Field-level problems.
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
}

/// The kinds of problem Sealbook answers with, from the stable `type` of its problem+json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// 400: the body is not well-formed.
    Malformed,
    /// 400: a query parameter is wrong.
    BadQuery,
    /// 400: a log size or index no tree has.
    OutOfRange,
    /// 400: beyond the latest signed checkpoint.
    BeyondCheckpoint,
    /// 401: missing, unknown or revoked key.
    Unauthorized,
    /// 403: the key lacks a scope.
    Forbidden,
    /// 404: nothing there (or not yours).
    NotFound,
    /// 404: the log has no checkpoint yet.
    NoCheckpoint,
    /// 405.
    MethodNotAllowed,
    /// 409: an event id is stored with different content.
    IdConflict,
    /// 409: the tenant exists.
    TenantExists,
    /// 409: another change to the same catalog type won; read the catalog and retry.
    CatalogConflict,
    /// 409: a person of the tenant has this e-mail address, or the person is deactivated.
    PeopleConflict,
    /// 410: a set-password link was used, has expired, or never existed.
    LinkInvalid,
    /// 413: a size or count limit.
    TooLarge,
    /// 415: wrong content type.
    UnsupportedMediaType,
    /// 422: events break the rules (see `errors`).
    InvalidEvent,
    /// 429: over the key's rate.
    RateLimited,
    /// 500: the stored log failed an integrity check.
    LogIntegrity,
    /// 503: the ingest queue is full.
    Overloaded,
    /// 503: the store is unavailable.
    Unavailable,
    /// A type this client does not know (a newer server).
    Other,
}

impl Problem {
    /// The problem's kind, from its `type`.
    pub fn kind(&self) -> ProblemKind {
        use ProblemKind::*;
        match self
            .kind
            .strip_prefix("urn:sealbook:problem:")
            .unwrap_or("")
        {
            "malformed" => Malformed,
            "bad-query" => BadQuery,
            "out-of-range" => OutOfRange,
            "beyond-checkpoint" => BeyondCheckpoint,
            "unauthorized" => Unauthorized,
            "forbidden" => Forbidden,
            "not-found" => NotFound,
            "no-checkpoint" => NoCheckpoint,
            "method-not-allowed" => MethodNotAllowed,
            "id-conflict" => IdConflict,
            "tenant-exists" => TenantExists,
            "catalog-conflict" => CatalogConflict,
            "people-conflict" => PeopleConflict,
            "link-invalid" => LinkInvalid,
            "too-large" => TooLarge,
            "unsupported-media-type" => UnsupportedMediaType,
            "invalid-event" => InvalidEvent,
            "rate-limited" => RateLimited,
            "log-integrity" => LogIntegrity,
            "overloaded" => Overloaded,
            "unavailable" => Unavailable,
            _ => Other,
        }
    }

    /// Positions (in the request) of the events the problem names, e.g. the invalid ones of a 422.
    pub fn event_positions(&self) -> Vec<usize> {
        let mut p: Vec<usize> = self
            .errors
            .iter()
            .filter_map(|e| e.get("event").and_then(serde_json::Value::as_u64))
            .map(|e| e as usize)
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    }
}

/// What can go wrong talking to Sealbook.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request could not be sent or the answer not received.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// Sealbook answered with a problem.
    #[error("{status}: {} ({})", .problem.detail, .problem.kind)]
    Problem {
        /// HTTP status.
        status: u16,
        /// The problem body.
        problem: Problem,
        /// `Retry-After` in seconds, for 429 and 503.
        retry_after: Option<u64>,
    },
    /// The answer was not what the API documents.
    #[error("unexpected answer ({status}): {body}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
}

impl ClientError {
    /// True when sending the same request again may succeed: the network failed or timed out, or
    /// Sealbook answered 429 or 503 (or a proxy 502/504). Everything else would fail again.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport(e) => e.is_timeout() || e.is_connect() || e.is_request(),
            ClientError::Problem { status, .. } => matches!(status, 429 | 503),
            ClientError::Unexpected { status, .. } => matches!(status, 502..=504),
        }
    }

    /// The server's `Retry-After`, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ClientError::Problem { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The problem's kind, when Sealbook answered with one.
    pub fn problem_kind(&self) -> Option<ProblemKind> {
        match self {
            ClientError::Problem { problem, .. } => Some(problem.kind()),
            _ => None,
        }
    }
}

/// How [`Client::send`] retries: up to `attempts` tries, waiting a random time up to
/// `base * 2^n` (capped at `max`) between them ("full jitter"), but never less than the server's
/// `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, including the first (1 = no retry).
    pub attempts: u32,
    /// First backoff ceiling.
    pub base: Duration,
    /// Largest backoff.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(100),
            max: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `n` (0-based) after `err`.
    pub fn delay(&self, n: u32, err: &ClientError) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
            .min(self.max);
        let mut r = [0u8; 8];
        let _ = getrandom::fill(&mut r);
        let jitter = ceiling.mul_f64((u64::from_le_bytes(r) >> 11) as f64 / (1u64 << 53) as f64);
        let floor = Duration::from_secs(err.retry_after().unwrap_or(0));
        jitter.max(floor)
    }
}

/// Most events per request (the server's default limit).
pub const MAX_BATCH: usize = 1000;

/// A durable receipt.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Receipt {
    /// Event id.
    pub id: String,
    /// Index in the tenant's log.
    pub index: u64,
    /// Leaf hash, lowercase hex.
    pub leaf_hash: String,
}

/// A tenant.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: String,
}

/// An API key without its secret.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ApiKey {
    /// Key id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Display name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// First characters of the secret.
    pub prefix: String,
    /// Creation time.
    pub created_at: String,
    /// Revocation time.
    #[serde(default)]
    pub revoked_at: Option<String>,
}

/// A created key, with the secret shown this once.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct CreatedKey {
    /// The key's record.
    #[serde(flatten)]
    pub record: ApiKey,
    /// The secret.
    pub key: String,
}

/// A page of search results.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct EventPage {
    /// The events, newest first.
    pub events: Vec<serde_json::Value>,
    /// Cursor of the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A proof as the server sends it: hashes and roots in standard base64.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ProofJson {
    /// Leaf index, or the old size of a consistency proof.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// Root at `size`.
    pub root: String,
    /// Root at `index` (consistency proofs).
    #[serde(default)]
    pub first_root: Option<String>,
    /// The path.
    pub hashes: Vec<String>,
    /// The event's leaf hash, hex (event proofs).
    #[serde(default)]
    pub leaf_hash: Option<String>,
    /// The checkpoint the proof is against (event proofs).
    #[serde(default)]
    pub checkpoint: Option<String>,
}

#[derive(Deserialize)]
struct Receipts {
    receipts: Vec<Receipt>,
}

/// A client bound to one server and one credential (a tenant key or the operator token).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the credential.
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8080`) using `token`, with a 30 s
    /// timeout per request and the default [`RetryPolicy`].
    pub fn new(base_url: &str, token: &str) -> Result<Client, ClientError> {
        Client::with_timeout(base_url, token, Duration::from_secs(30))
    }

    /// Like [`Client::new`] with another per-request timeout.
    pub fn with_timeout(
        base_url: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // Sealbook closes a connection idle for its header read timeout (10 s by default):
            // reusing one idle that long can meet the close mid-request.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            ClientError::Unexpected {
                status: 0,
                body: "the token holds characters not allowed in a header".into(),
            }
        })?;
        auth.set_sensitive(true);
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            auth,
            retry: RetryPolicy::default(),
        })
    }

    /// The same client with another retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Client {
        self.retry = policy;
        self
    }

    /// The URL of `segments` under the base URL, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, ClientError> {
        let bad = || ClientError::Unexpected {
            status: 0,
            body: format!("{:?} is not a usable base URL", self.base),
        };
        let mut url = reqwest::Url::parse(&self.base).map_err(|_| bad())?;
        url.path_segments_mut()
            .map_err(|_| bad())?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: reqwest::Url,
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<(StatusCode, T), ClientError> {
        let (status, bytes) = self.raw(method, url, body).await?;
        serde_json::from_slice(&bytes)
            .map(|t| (status, t))
            .map_err(|_| ClientError::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(500)]).into_owned(),
            })
    }

    /// One request; a success answers its status and body, anything else its problem.
    async fn raw(
        &self,
        method: Method,
        url: reqwest::Url,
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<(StatusCode, bytes::Bytes), ClientError> {
        let mut req = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.auth.clone());
        if let Some((bytes, ct)) = body {
            req = req.header(CONTENT_TYPE, ct).body(bytes);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = resp.bytes().await?;
        if status.is_success() {
            return Ok((status, bytes));
        }
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => Err(ClientError::Problem {
                status: status.as_u16(),
                problem,
                retry_after,
            }),
            Err(_) => Err(ClientError::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(500)]).into_owned(),
            }),
        }
    }

    async fn text(&self, method: Method, segments: &[&str]) -> Result<String, ClientError> {
        let (status, bytes) = self.raw(method, self.url(segments)?, None).await?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ClientError::Unexpected {
            status: status.as_u16(),
            body: "the answer is not UTF-8".into(),
        })
    }

    /// The latest signed checkpoint of the key's tenant log, byte-exact (C2SP signed note).
    pub async fn checkpoint(&self) -> Result<String, ClientError> {
        self.text(Method::GET, &["v1", "log", "checkpoint"]).await
    }

    /// Asks the server to sign a checkpoint now (if the log grew); returns the latest.
    pub async fn sign_checkpoint(&self) -> Result<String, ClientError> {
        self.text(Method::POST, &["v1", "log", "checkpoint"]).await
    }

    /// The log's verifier keys as served (the verifier never trusts these; it needs its own).
    pub async fn verifier_keys(&self) -> Result<Vec<String>, ClientError> {
        Ok(self
            .text(Method::GET, &["v1", "log", "verifier-keys"])
            .await?
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// A C2SP tile path below the log prefix (`tile/0/x001/234.p/5`, `tile/entries/000`), raw.
    pub async fn log_tile(&self, path: &str) -> Result<bytes::Bytes, ClientError> {
        let mut segments = vec!["v1", "log"];
        segments.extend(path.split('/'));
        Ok(self.raw(Method::GET, self.url(&segments)?, None).await?.1)
    }

    /// The personal values and salts of an entry bundle (`<N>[.p/<W>]`), as the server sent them:
    /// `{"entries":[{"index","personal":[{"p","v","s"}]}]}`.
    pub async fn log_personal(&self, bundle: &str) -> Result<bytes::Bytes, ClientError> {
        let mut segments = vec!["v1", "log", "personal"];
        segments.extend(bundle.split('/'));
        Ok(self.raw(Method::GET, self.url(&segments)?, None).await?.1)
    }

    /// An inclusion proof of leaf `index` in the tree of `size` leaves.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<ProofJson, ClientError> {
        let mut url = self.url(&["v1", "log", "proof", "inclusion"])?;
        url.query_pairs_mut()
            .append_pair("index", &index.to_string())
            .append_pair("size", &size.to_string());
        Ok(self.call(Method::GET, url, None).await?.1)
    }

    /// A consistency proof between the trees of `from` and `to` leaves.
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<ProofJson, ClientError> {
        let mut url = self.url(&["v1", "log", "proof", "consistency"])?;
        url.query_pairs_mut()
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string());
        Ok(self.call(Method::GET, url, None).await?.1)
    }

    /// The inclusion proof of one event against the latest checkpoint, with that checkpoint.
    pub async fn event_proof(&self, id: &str) -> Result<ProofJson, ClientError> {
        let url = self.url(&["v1", "events", id, "proof"])?;
        Ok(self.call(Method::GET, url, None).await?.1)
    }

    /// Sends events and returns their durable receipts, in order. Events without an `id` get one
    /// first, so every retry is idempotent; more than [`MAX_BATCH`] events go as several requests
    /// (each all or nothing); retryable failures are retried under the client's [`RetryPolicy`].
    pub async fn send(&self, events: &[serde_json::Value]) -> Result<Vec<Receipt>, ClientError> {
        let events: Vec<serde_json::Value> = events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                if let Some(m) = e.as_object_mut() {
                    m.entry("id")
                        .or_insert_with(|| serde_json::Value::String(event::new_event_id()));
                }
                e
            })
            .collect();
        let mut out = Vec::with_capacity(events.len());
        for chunk in events.chunks(MAX_BATCH) {
            let mut n = 0;
            loop {
                match self.send_once(chunk).await {
                    Ok(r) => {
                        out.extend(r);
                        break;
                    }
                    Err(e) if e.is_retryable() && n + 1 < self.retry.attempts => {
                        tokio::time::sleep(self.retry.delay(n, &e)).await;
                        n += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// One request with these events (all or nothing), no retry.
    pub async fn send_once(
        &self,
        events: &[serde_json::Value],
    ) -> Result<Vec<Receipt>, ClientError> {
        let body = serde_json::to_vec(events).expect("JSON values serialize");
        let (_, r): (_, Receipts) = self
            .call(
                Method::POST,
                self.url(&["v1", "events"])?,
                Some((body, "application/json")),
            )
            .await?;
        Ok(r.receipts)
    }

    /// Searches events with query pairs such as `("actor", "u-1")`.
    pub async fn search(&self, params: &[(&str, &str)]) -> Result<EventPage, ClientError> {
        let mut url = self.url(&["v1", "events"])?;
        url.query_pairs_mut().extend_pairs(params);
        Ok(self.call(Method::GET, url, None).await?.1)
    }

    /// Fetches one event by id.
    pub async fn event(&self, id: &str) -> Result<serde_json::Value, ClientError> {
        Ok(self
            .call(Method::GET, self.url(&["v1", "events", id])?, None)
            .await?
            .1)
    }

    /// The event catalog as the key's tenant sees it (`GET /v1/catalog`).
    pub async fn catalog(&self) -> Result<serde_json::Value, ClientError> {
        Ok(self
            .call(Method::GET, self.url(&["v1", "catalog"])?, None)
            .await?
            .1)
    }

    /// Adds or extends an event type (`PUT /v1/catalog/types/{name}`): a platform type with the
    /// operator token, one of the tenant's own with a `tenant:admin` key. Answers
    /// `{type, versions, scope, index}`; `index` is absent when the definition was already in force.
    pub async fn put_type(
        &self,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::to_vec(definition).expect("json");
        Ok(self
            .call(
                Method::PUT,
                self.url(&["v1", "catalog", "types", name])?,
                Some((body, "application/json")),
            )
            .await?
            .1)
    }

    /// Creates a tenant (operator).
    pub async fn create_tenant(&self, id: &str, name: Option<&str>) -> Result<Tenant, ClientError> {
        let body = serde_json::to_vec(&serde_json::json!({"id": id, "name": name.unwrap_or(id)}))
            .expect("json");
        Ok(self
            .call(
                Method::POST,
                self.url(&["v1", "tenants"])?,
                Some((body, "application/json")),
            )
            .await?
            .1)
    }

    /// Lists tenants (operator).
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, ClientError> {
        #[derive(Deserialize)]
        struct L {
            tenants: Vec<Tenant>,
        }
        Ok(self
            .call::<L>(Method::GET, self.url(&["v1", "tenants"])?, None)
            .await?
            .1
            .tenants)
    }

    /// Creates an API key (operator).
    pub async fn create_key(
        &self,
        tenant: &str,
        name: Option<&str>,
        scopes: &[&str],
    ) -> Result<CreatedKey, ClientError> {
        let mut body = serde_json::json!({"scopes": scopes});
        if let Some(n) = name {
            body["name"] = n.into();
        }
        let body = serde_json::to_vec(&body).expect("json");
        Ok(self
            .call(
                Method::POST,
                self.url(&["v1", "tenants", tenant, "keys"])?,
                Some((body, "application/json")),
            )
            .await?
            .1)
    }

    /// Lists a tenant's keys (operator).
    pub async fn list_keys(&self, tenant: &str) -> Result<Vec<ApiKey>, ClientError> {
        #[derive(Deserialize)]
        struct L {
            keys: Vec<ApiKey>,
        }
        Ok(self
            .call::<L>(
                Method::GET,
                self.url(&["v1", "tenants", tenant, "keys"])?,
                None,
            )
            .await?
            .1
            .keys)
    }

    /// Revokes a key (operator).
    pub async fn revoke_key(&self, tenant: &str, key_id: &str) -> Result<ApiKey, ClientError> {
        Ok(self
            .call(
                Method::DELETE,
                self.url(&["v1", "tenants", tenant, "keys", key_id])?,
                None,
            )
            .await?
            .1)
    }

    /// Mints a short-lived token for the embedded, read-only view of the key's tenant
    /// (`POST /v1/viewer-tokens`, a `tenant:admin` key): `limits` is `{actor?, subject?,
    /// type_prefix?, ttl_seconds?}` (`{}` for none). Answers `{token, url, expires_at, tenant,
    /// limits}`; `url` is the view's path on the server, to show in an iframe.
    pub async fn create_viewer_token(
        &self,
        limits: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::to_vec(limits).expect("json");
        Ok(self
            .call(
                Method::POST,
                self.url(&["v1", "viewer-tokens"])?,
                Some((body, "application/json")),
            )
            .await?
            .1)
    }

    /// Invites a person to a tenant (operator): `{user, set_password_path}`, the path of the
    /// one-time link to set a password (shown once).
    pub async fn create_user(
        &self,
        tenant: &str,
        email: &str,
        name: Option<&str>,
        role: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let mut body = serde_json::json!({"email": email, "role": role});
        if let Some(n) = name {
            body["name"] = n.into();
        }
        let body = serde_json::to_vec(&body).expect("json");
        Ok(self
            .call(
                Method::POST,
                self.url(&["v1", "tenants", tenant, "users"])?,
                Some((body, "application/json")),
            )
            .await?
            .1)
    }
}
