//! The OpenID Connect relying party behind single sign-on: the authorization code flow with
//! PKCE (RFC 7636, `S256`) against a tenant's provider, found through its discovery document
//! (OpenID Connect Discovery 1.0).
//!
//! [`Oidc::start`] makes the provider's authorization URL and the [`Flow`] the browser carries
//! (sealed, in a cookie) until the provider sends it back; [`Oidc::finish`] exchanges the code,
//! validates the ID token and reads the person's claims ([`Identity`]). The ID token MUST be
//! signed by a key of the provider's JWKS with an asymmetric algorithm (`none` and the HMAC
//! algorithms are refused), be issued by the discovered issuer to this client (`aud`, and `azp`
//! when present), be current (`exp`, `iat`, one minute of leeway) and carry the flow's `nonce`.
//! Claims the ID token lacks are read from the UserInfo endpoint, whose `sub` MUST be the ID
//! token's.
//!
//! Every request to a provider is bounded: 5 s to connect, 10 s in all, no redirects, at most
//! 256 KiB of answer. Providers are https only, at public addresses: a name that resolves only
//! to a loopback, private, link-local, shared or unique-local address is refused (so a tenant
//! admin cannot make the server call its own network), as is a URL with credentials in it. The
//! deployment may allow `http://` and loopback addresses for a provider on this machine
//! (`[ui] sso_http_loopback`, for development and the tests). Discovery documents
//! are kept ten minutes; the JWKS is fetched again when a token names a key it lacks, at most
//! every 30 seconds. Nothing here knows HTTP servers, pages or storage.

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sealbook_domain::SsoSettings;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a discovery document is kept.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// A JWKS is fetched again for an unknown key at most this often.
const JWKS_REFETCH: Duration = Duration::from_secs(30);
/// The most of one answer read from a provider.
const MAX_ANSWER: usize = 256 * 1024;
/// Providers kept at once (one per issuer); the oldest goes first.
const MAX_PROVIDERS: usize = 200;
/// The longest URL Sealbook calls (an issuer, or an endpoint a discovery document names).
const MAX_URL: usize = 2048;
/// The most keys a provider's JWKS may hold.
const MAX_KEYS: usize = 50;
/// The ID token's clock leeway.
const LEEWAY_SECONDS: u64 = 60;

/// Why single sign-on failed, in words an administrator can act on. Never holds a secret, a
/// code or a token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OidcError {
    /// The provider could not be reached, or answered something that is not what the protocol
    /// says.
    #[error("the identity provider's {what}: {why}")]
    Provider {
        /// Which request (`discovery document`, `token endpoint`, …).
        what: &'static str,
        /// What went wrong.
        why: String,
    },
    /// The provider refused the exchange (an OAuth error code and its description).
    #[error("the identity provider refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The OAuth 2.0 error code.
        error: String,
        /// Its description, if given.
        description: Option<String>,
    },
    /// The ID token (or UserInfo answer) failed validation.
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
}

fn provider_error(what: &'static str, why: impl std::fmt::Display) -> OidcError {
    OidcError::Provider {
        what,
        why: why.to_string(),
    }
}

/// The part of a discovery document Sealbook uses.
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

struct Provider {
    meta: Metadata,
    fetched: Instant,
    jwks: JwkSet,
    jwks_fetched: Instant,
}

/// What the browser carries, sealed, from [`Oidc::start`] to [`Oidc::finish`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Flow {
    /// The `state` sent to the provider: it MUST come back unchanged.
    pub(crate) state: String,
    /// The `nonce` the ID token MUST carry.
    pub(crate) nonce: String,
    /// The PKCE code verifier.
    pub(crate) verifier: String,
    /// The redirect URI sent (the token request repeats it).
    pub(crate) redirect_uri: String,
    /// The issuer discovered when the flow started (an `iss` sent back MUST be it).
    pub(crate) issuer: String,
}

/// The person the provider vouched for.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// The provider's issuer identifier.
    pub(crate) issuer: String,
    /// The provider's stable id of the person.
    pub(crate) sub: String,
    /// The e-mail address, if given.
    pub(crate) email: Option<String>,
    /// Whether the provider verified it (`None` when it does not say).
    pub(crate) email_verified: Option<bool>,
    /// A display name, if given.
    pub(crate) name: Option<String>,
    /// The role claim's values (a string claim is one value).
    pub(crate) roles: Vec<String>,
}

/// The relying party: one HTTP client and the providers it knows (see the module
/// documentation).
pub(crate) struct Oidc {
    http: reqwest::Client,
    http_loopback: bool,
    providers: Mutex<HashMap<String, Arc<Provider>>>,
}

/// Whether Sealbook may call `ip`: a public unicast address, or loopback when allowed.
fn ip_allowed(ip: std::net::IpAddr, loopback: bool) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                return loopback;
            }
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                // 100.64.0.0/10, shared address space (carrier-grade NAT).
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                // 192.0.0.0/24, IETF protocol assignments; 198.18.0.0/15, benchmarking; 240/4.
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return ip_allowed(IpAddr::V4(v4), loopback);
            }
            if v6.is_loopback() {
                return loopback;
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// The resolver of provider names: only addresses [`ip_allowed`] accepts.
struct PublicOnly {
    loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let loopback = self.loopback;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<std::net::SocketAddr> =
                found.filter(|a| ip_allowed(a.ip(), loopback)).collect();
            if allowed.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    "the name resolves to no public address".into();
                return Err(e);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn pkce_challenge(verifier: &str) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

impl Oidc {
    /// A relying party; `http_loopback` allows `http://` providers on 127.0.0.1, ::1 and
    /// localhost.
    pub(crate) fn new(http_loopback: bool) -> Oidc {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sealbook/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(PublicOnly {
                loopback: http_loopback,
            }))
            .build()
            .expect("an HTTP client with rustls builds");
        Oidc {
            http,
            http_loopback,
            providers: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `url` is one Sealbook may call: https, or http to this machine when allowed.
    /// (Names are checked again when resolved: [`PublicOnly`].)
    pub(crate) fn url_allowed(&self, url: &str) -> bool {
        if url.len() > MAX_URL {
            return false;
        }
        let Ok(u) = reqwest::Url::parse(url) else {
            return false;
        };
        if !u.username().is_empty() || u.password().is_some() {
            return false;
        }
        let host_ok = match u.host() {
            Some(url::Host::Ipv4(ip)) => ip_allowed(ip.into(), self.http_loopback),
            Some(url::Host::Ipv6(ip)) => ip_allowed(ip.into(), self.http_loopback),
            Some(url::Host::Domain(_)) => true,
            None => false,
        };
        match u.scheme() {
            "https" => host_ok,
            "http" => {
                self.http_loopback
                    && matches!(
                        u.host_str(),
                        Some("127.0.0.1") | Some("localhost") | Some("[::1]")
                    )
            }
            _ => false,
        }
    }

    /// Reads an answer of at most [`MAX_ANSWER`] bytes as JSON.
    async fn json(
        &self,
        what: &'static str,
        r: reqwest::RequestBuilder,
    ) -> Result<(u16, Value), OidcError> {
        let mut resp = r.send().await.map_err(|e| {
            provider_error(
                what,
                if e.is_timeout() {
                    "no answer within 10 seconds".to_owned()
                } else if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "the request failed".to_owned()
                },
            )
        })?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|_| provider_error(what, "the answer was cut off"))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(provider_error(what, "the answer is larger than 256 KiB"));
            }
            body.extend_from_slice(&chunk);
        }
        let value = serde_json::from_slice(&body).map_err(|_| {
            provider_error(what, format!("HTTP {status}, and the answer is not JSON"))
        })?;
        Ok((status, value))
    }

    async fn fetch_jwks(&self, jwks_uri: &str) -> Result<JwkSet, OidcError> {
        let (status, v) = self
            .json("key set (jwks_uri)", self.http.get(jwks_uri))
            .await?;
        if status != 200 {
            return Err(provider_error(
                "key set (jwks_uri)",
                format!("HTTP {status}"),
            ));
        }
        let set: JwkSet =
            serde_json::from_value(v).map_err(|e| provider_error("key set (jwks_uri)", e))?;
        if set.keys.len() > MAX_KEYS {
            return Err(provider_error(
                "key set (jwks_uri)",
                "it holds more than 50 keys",
            ));
        }
        Ok(set)
    }

    /// The provider of `issuer`, discovered (or kept from a discovery in the last ten minutes).
    async fn provider(&self, issuer: &str) -> Result<Arc<Provider>, OidcError> {
        let issuer = issuer.trim_end_matches('/');
        if let Some(p) = self.providers.lock().expect("providers").get(issuer) {
            if p.fetched.elapsed() < DISCOVERY_TTL {
                return Ok(p.clone());
            }
        }
        const WHAT: &str = "discovery document";
        let url = format!("{issuer}/.well-known/openid-configuration");
        if !self.url_allowed(&url) {
            return Err(provider_error(WHAT, "the issuer must be an https:// URL"));
        }
        let (status, v) = self.json(WHAT, self.http.get(&url)).await?;
        if status != 200 {
            return Err(provider_error(WHAT, format!("HTTP {status} from {url}")));
        }
        let meta: Metadata = serde_json::from_value(v).map_err(|e| provider_error(WHAT, e))?;
        if meta.issuer.trim_end_matches('/') != issuer {
            return Err(provider_error(
                WHAT,
                format!("it names the issuer {:?}, not {issuer:?}", meta.issuer),
            ));
        }
        for (name, u) in [
            ("authorization_endpoint", &meta.authorization_endpoint),
            ("token_endpoint", &meta.token_endpoint),
            ("jwks_uri", &meta.jwks_uri),
        ] {
            if !self.url_allowed(u) {
                return Err(provider_error(
                    WHAT,
                    format!("{name} must be an https:// URL"),
                ));
            }
        }
        if let Some(u) = &meta.userinfo_endpoint {
            if !self.url_allowed(u) {
                return Err(provider_error(
                    WHAT,
                    "userinfo_endpoint must be an https:// URL",
                ));
            }
        }
        if !meta.code_challenge_methods_supported.is_empty()
            && !meta
                .code_challenge_methods_supported
                .iter()
                .any(|m| m == "S256")
        {
            return Err(provider_error(
                WHAT,
                "the provider does not support PKCE with S256",
            ));
        }
        let jwks = self.fetch_jwks(&meta.jwks_uri).await?;
        let p = Arc::new(Provider {
            meta,
            fetched: Instant::now(),
            jwks,
            jwks_fetched: Instant::now(),
        });
        let mut all = self.providers.lock().expect("providers");
        if all.len() >= MAX_PROVIDERS && !all.contains_key(issuer) {
            if let Some(oldest) = all
                .iter()
                .min_by_key(|(_, p)| p.fetched)
                .map(|(k, _)| k.clone())
            {
                all.remove(&oldest);
            }
        }
        all.insert(issuer.to_owned(), p.clone());
        Ok(p)
    }

    /// Checks that `issuer` answers as an OpenID provider Sealbook can use (before settings
    /// naming it are saved).
    pub(crate) async fn check(&self, issuer: &str) -> Result<(), OidcError> {
        self.providers
            .lock()
            .expect("providers")
            .remove(issuer.trim_end_matches('/'));
        self.provider(issuer).await.map(|_| ())
    }

    /// The provider's authorization URL for a new flow, and the flow.
    pub(crate) async fn start(
        &self,
        sso: &SsoSettings,
        redirect_uri: &str,
    ) -> Result<(String, Flow), OidcError> {
        let p = self.provider(&sso.issuer).await?;
        let flow = Flow {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
            redirect_uri: redirect_uri.to_owned(),
            issuer: p.meta.issuer.clone(),
        };
        let url = reqwest::Url::parse_with_params(
            &p.meta.authorization_endpoint,
            &[
                ("response_type", "code"),
                ("client_id", sso.client_id.as_str()),
                ("redirect_uri", redirect_uri),
                ("scope", sso.scopes().as_str()),
                ("state", flow.state.as_str()),
                ("nonce", flow.nonce.as_str()),
                ("code_challenge", pkce_challenge(&flow.verifier).as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .map_err(|_| provider_error("discovery document", "authorization_endpoint is not a URL"))?;
        Ok((url.into(), flow))
    }

    /// Whether an `iss` sent back with the code (RFC 9207) is acceptable for the flow: it MUST
    /// be the flow's issuer when sent, and MUST be sent when the provider says it sends it.
    pub(crate) async fn iss_ok(&self, sso: &SsoSettings, flow: &Flow, iss: Option<&str>) -> bool {
        match iss {
            Some(i) => i == flow.issuer,
            None => !self
                .provider(&sso.issuer)
                .await
                .map(|p| p.meta.authorization_response_iss_parameter_supported)
                .unwrap_or(false),
        }
    }

    /// Exchanges `code` for tokens, validates the ID token and reads the person's claims.
    pub(crate) async fn finish(
        &self,
        sso: &SsoSettings,
        client_secret: Option<&str>,
        flow: &Flow,
        code: &str,
    ) -> Result<Identity, OidcError> {
        let p = self.provider(&sso.issuer).await?;
        if p.meta.issuer != flow.issuer {
            return Err(OidcError::IdToken(
                "the provider's issuer changed during the sign-in".into(),
            ));
        }
        const WHAT: &str = "token endpoint";
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &flow.redirect_uri),
            ("code_verifier", &flow.verifier),
        ];
        let mut req = self.http.post(&p.meta.token_endpoint);
        let methods = &p.meta.token_endpoint_auth_methods_supported;
        match client_secret {
            Some(secret)
                if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") =>
            {
                // RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                req = req.basic_auth(enc(&sso.client_id), Some(enc(secret)));
            }
            Some(secret) => {
                form.push(("client_id", &sso.client_id));
                form.push(("client_secret", secret));
            }
            None => form.push(("client_id", &sso.client_id)),
        }
        let (status, answer) = self
            .json(WHAT, req.header("accept", "application/json").form(&form))
            .await?;
        if status != 200 {
            if let Some(error) = answer["error"].as_str() {
                return Err(OidcError::Refused {
                    error: clip(error),
                    description: answer["error_description"].as_str().map(clip),
                });
            }
            return Err(provider_error(WHAT, format!("HTTP {status}")));
        }
        let Some(id_token) = answer["id_token"].as_str() else {
            return Err(provider_error(WHAT, "the answer holds no id_token"));
        };
        let mut claims = self.validate(&p, sso, flow, id_token).await?;
        let sub = claims["sub"].as_str().unwrap_or_default().to_owned();
        let lacking =
            |c: &Value| c.get("email").is_none() || role_values(c, &sso.role_claim).is_none();
        if lacking(&claims) {
            if let (Some(endpoint), Some(access)) =
                (&p.meta.userinfo_endpoint, answer["access_token"].as_str())
            {
                let (status, info) = self
                    .json(
                        "userinfo endpoint",
                        self.http.get(endpoint).bearer_auth(access),
                    )
                    .await?;
                if status != 200 {
                    return Err(provider_error(
                        "userinfo endpoint",
                        format!("HTTP {status}"),
                    ));
                }
                if info["sub"].as_str() != Some(sub.as_str()) {
                    return Err(OidcError::IdToken(
                        "the UserInfo answer is about another person (sub differs)".into(),
                    ));
                }
                if let (Some(c), Some(i)) = (claims.as_object_mut(), info.as_object()) {
                    for (k, v) in i {
                        if !matches!(k.as_str(), "sub" | "iss" | "aud" | "nonce" | "exp" | "iat") {
                            c.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        Ok(Identity {
            issuer: p.meta.issuer.clone(),
            sub,
            email: claims["email"].as_str().map(str::to_owned),
            email_verified: match &claims["email_verified"] {
                Value::Bool(b) => Some(*b),
                // Some providers send it as a string.
                Value::String(s) => Some(s == "true"),
                _ => None,
            },
            name: claims["name"].as_str().map(str::to_owned),
            roles: role_values(&claims, &sso.role_claim).unwrap_or_default(),
        })
    }

    /// The ID token's claims, once its signature, issuer, audience, times and nonce are right.
    async fn validate(
        &self,
        p: &Provider,
        sso: &SsoSettings,
        flow: &Flow,
        id_token: &str,
    ) -> Result<Value, OidcError> {
        let bad = |why: &str| OidcError::IdToken(why.to_owned());
        let header = jsonwebtoken::decode_header(id_token).map_err(|_| bad("not a signed JWT"))?;
        let alg = header.alg;
        if !matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::EdDSA
        ) {
            return Err(bad(
                "signed with an algorithm Sealbook does not accept (only RSA, ECDSA and EdDSA)",
            ));
        }
        let key = match find_key(&p.jwks, header.kid.as_deref(), alg) {
            Some(k) => k,
            None if p.jwks_fetched.elapsed() >= JWKS_REFETCH => {
                // The provider may have rotated its keys: fetch them once more.
                let jwks = self.fetch_jwks(&p.meta.jwks_uri).await?;
                let found = find_key(&jwks, header.kid.as_deref(), alg);
                let fresh = Arc::new(Provider {
                    meta: p.meta.clone(),
                    fetched: p.fetched,
                    jwks,
                    jwks_fetched: Instant::now(),
                });
                self.providers
                    .lock()
                    .expect("providers")
                    .insert(sso.issuer.trim_end_matches('/').to_owned(), fresh);
                found.ok_or_else(|| bad("signed by a key the provider does not publish"))?
            }
            None => return Err(bad("signed by a key the provider does not publish")),
        };
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECONDS;
        v.set_issuer(&[p.meta.issuer.as_str()]);
        v.set_audience(&[sso.client_id.as_str()]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(id_token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            OidcError::IdToken(
                match e.kind() {
                    K::InvalidSignature => "the signature does not verify",
                    K::ExpiredSignature => "it has expired",
                    K::ImmatureSignature => "it is not valid yet",
                    K::InvalidIssuer => "it was issued by another issuer",
                    K::InvalidAudience => "it was issued to another client",
                    K::MissingRequiredClaim(_) => {
                        "a required claim (exp, iat, iss, aud, sub) is missing"
                    }
                    _ => "it could not be read",
                }
                .to_owned(),
            )
        })?;
        let claims = data.claims;
        let now = jsonwebtoken::get_current_timestamp();
        if claims["iat"]
            .as_u64()
            .is_none_or(|iat| iat > now + LEEWAY_SECONDS)
        {
            return Err(bad("it was issued in the future"));
        }
        if claims["nonce"].as_str() != Some(flow.nonce.as_str()) {
            return Err(bad("its nonce is not this sign-in's"));
        }
        let several_audiences = claims["aud"].as_array().is_some_and(|a| a.len() > 1);
        match claims["azp"].as_str() {
            Some(azp) if azp != sso.client_id => {
                return Err(bad("it was issued to another party (azp)"))
            }
            None if several_audiences => return Err(bad("it has several audiences and no azp")),
            _ => {}
        }
        if claims["sub"].as_str().is_none_or(str::is_empty) {
            return Err(bad("it names no subject"));
        }
        Ok(claims)
    }
}

/// The key of `jwks` that verifies `alg` with id `kid` (or the only one that fits, when the token
/// names none).
fn find_key(jwks: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let fits = |k: &&jsonwebtoken::jwk::Jwk| {
        let family = match &k.algorithm {
            AlgorithmParameters::RSA(_) => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            AlgorithmParameters::EllipticCurve(_) => {
                matches!(alg, Algorithm::ES256 | Algorithm::ES384)
            }
            AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
            AlgorithmParameters::OctetKey(_) => false,
        };
        let for_signing = !matches!(
            k.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        );
        family && for_signing
    };
    let mut candidates = jwks.keys.iter().filter(fits);
    let key = match kid {
        Some(kid) => candidates.find(|k| k.common.key_id.as_deref() == Some(kid))?,
        None => {
            let first = candidates.next()?;
            if candidates.next().is_some() {
                return None;
            }
            first
        }
    };
    DecodingKey::from_jwk(key).ok()
}

/// The values of the role claim: a string is one value, an array its strings. A name with dots
/// that is not a claim is read as a path (`realm_access.roles`).
fn role_values(claims: &Value, claim: &str) -> Option<Vec<String>> {
    let v = claims.get(claim).or_else(|| {
        claim
            .split('.')
            .try_fold(claims, |v, part| v.get(part))
            .filter(|_| claim.contains('.'))
    })?;
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

/// At most 200 characters of what a provider said, without control characters.
fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pkce_challenge_is_rfc_7636s_known_answer() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn role_claims_read_strings_arrays_and_paths() {
        let c = json!({"groups": ["a", 7, "b"], "role": "x",
                       "realm_access": {"roles": ["admin"]},
                       "https://example.com/roles": ["r"]});
        assert_eq!(
            role_values(&c, "groups"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(role_values(&c, "role"), Some(vec!["x".into()]));
        assert_eq!(
            role_values(&c, "realm_access.roles"),
            Some(vec!["admin".into()])
        );
        assert_eq!(
            role_values(&c, "https://example.com/roles"),
            Some(vec!["r".into()])
        );
        assert_eq!(role_values(&c, "missing"), None);
    }

    /// An Ed25519 key as PKCS#8 DER (RFC 8410's fixed prefix and the seed) and its JWK.
    fn key(seed: u8, kid: &str) -> (jsonwebtoken::EncodingKey, Value) {
        let seed = [seed; 32];
        let mut der = hex::decode("302e020100300506032b657004220420").unwrap();
        der.extend_from_slice(&seed);
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        (
            jsonwebtoken::EncodingKey::from_ed_der(&der),
            json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig",
                   "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public)}),
        )
    }

    fn provider(jwks: Value) -> Provider {
        Provider {
            meta: Metadata {
                issuer: "https://idp.example".into(),
                authorization_endpoint: "https://idp.example/auth".into(),
                token_endpoint: "https://idp.example/token".into(),
                jwks_uri: "https://idp.example/jwks".into(),
                userinfo_endpoint: None,
                code_challenge_methods_supported: vec!["S256".into()],
                token_endpoint_auth_methods_supported: vec![],
                authorization_response_iss_parameter_supported: false,
            },
            fetched: Instant::now(),
            jwks: serde_json::from_value(jwks).unwrap(),
            jwks_fetched: Instant::now(),
        }
    }

    fn sso() -> SsoSettings {
        serde_json::from_value(json!({"issuer": "https://idp.example", "client_id": "sealbook"}))
            .unwrap()
    }

    fn flow() -> Flow {
        Flow {
            state: "s".into(),
            nonce: "n-1".into(),
            verifier: "v".into(),
            redirect_uri: "https://audit.example/ui/login/sso/callback".into(),
            issuer: "https://idp.example".into(),
        }
    }

    #[tokio::test]
    async fn id_tokens_are_checked_for_signature_issuer_audience_time_and_nonce() {
        let (signing, jwk) = key(7, "k1");
        let (other, _) = key(8, "k1");
        let p = provider(json!({"keys": [jwk]}));
        let rp = Oidc::new(false);
        let now = jsonwebtoken::get_current_timestamp();
        let good = json!({"iss": "https://idp.example", "aud": "sealbook", "sub": "u-1",
                          "iat": now, "exp": now + 300, "nonce": "n-1", "email": "a@x.example"});
        let sign = |claims: &Value, key: &jsonwebtoken::EncodingKey, kid: Option<&str>| {
            let mut h = jsonwebtoken::Header::new(Algorithm::EdDSA);
            h.kid = kid.map(str::to_owned);
            jsonwebtoken::encode(&h, claims, key).unwrap()
        };
        let check = |token: String| {
            let (rp, p) = (&rp, &p);
            async move { rp.validate(p, &sso(), &flow(), &token).await }
        };
        let ok = check(sign(&good, &signing, Some("k1"))).await.unwrap();
        assert_eq!(ok["sub"], "u-1");
        // The only key fits a token that names none.
        assert!(check(sign(&good, &signing, None)).await.is_ok());
        let refused = |changes: Value| {
            let mut c = good.clone();
            for (k, v) in changes.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            c
        };
        let cases = [
            (refused(json!({"nonce": "n-2"})), "nonce"),
            (refused(json!({"nonce": null})), "nonce"),
            (refused(json!({"aud": "another-client"})), "another client"),
            (
                refused(json!({"aud": ["sealbook", "other"]})),
                "several audiences",
            ),
            (refused(json!({"azp": "other"})), "another party"),
            (
                refused(json!({"iss": "https://evil.example"})),
                "another issuer",
            ),
            (refused(json!({"exp": now - 3600})), "expired"),
            (refused(json!({"iat": now + 3600})), "future"),
            (refused(json!({"sub": null})), "missing"),
        ];
        for (claims, why) in cases {
            let e = check(sign(&claims, &signing, Some("k1")))
                .await
                .unwrap_err();
            assert!(e.to_string().contains(why), "{claims}: {e}");
        }
        // Several audiences are fine with the right azp.
        let many = refused(json!({"aud": ["sealbook", "other"], "azp": "sealbook"}));
        assert!(check(sign(&many, &signing, Some("k1"))).await.is_ok());
        // Another key with the same kid; a kid the provider does not publish.
        let e = check(sign(&good, &other, Some("k1"))).await.unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        let e = check(sign(&good, &signing, Some("k9"))).await.unwrap_err();
        assert!(e.to_string().contains("does not publish"), "{e}");
        // HMAC with a guessable secret, and `none`, are refused before any key is looked at.
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &good,
            &jsonwebtoken::EncodingKey::from_secret(b"sealbook"),
        )
        .unwrap();
        let e = check(hs).await.unwrap_err();
        assert!(e.to_string().contains("algorithm"), "{e}");
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good));
        assert!(check(none).await.is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_this_machine_are_refused_unless_allowed() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let name = || reqwest::dns::Name::from_str("localhost").unwrap();
        assert!(PublicOnly { loopback: false }
            .resolve(name())
            .await
            .is_err());
        let allowed: Vec<_> = PublicOnly { loopback: true }
            .resolve(name())
            .await
            .unwrap()
            .collect();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()) && !allowed.is_empty());
    }

    #[test]
    fn only_https_providers_unless_loopback_http_is_allowed() {
        let strict = Oidc::new(false);
        let dev = Oidc::new(true);
        assert!(strict.url_allowed("https://login.example.com/x"));
        assert!(!strict.url_allowed("http://127.0.0.1:8080/x"));
        for internal in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://user:pw@login.example.com/x",
        ] {
            assert!(!strict.url_allowed(internal), "{internal}");
        }
        assert!(strict.url_allowed("https://93.184.215.14/x"));
        assert!(!strict.url_allowed(&format!("https://a.example/{}", "x".repeat(MAX_URL))));
        assert!(dev.url_allowed("http://127.0.0.1:8080/x"));
        assert!(dev.url_allowed("http://localhost:8080/x"));
        assert!(!dev.url_allowed("http://10.0.0.1/x"));
        assert!(!dev.url_allowed("http://169.254.169.254/latest"));
        assert!(!dev.url_allowed("file:///etc/passwd"));
    }
}
