//! A tenant's settings for its people and its embedded viewer: links from a subject to the
//! business record it names, the origins allowed to frame the embedded viewer, the event
//! types viewers may see, and single sign-on through the tenant's OpenID provider
//! ([`SsoSettings`]: which provider, and how its claims map to roles).
//!
//! Settings are changed by a tenant admin, each change an `audit_log.settings_changed` event in
//! the tenant's log committed with it. [`TenantSettings::check`] MUST pass before a change is
//! committed: every value here ends up in a page (a link's `href`) or a response header
//! (`Content-Security-Policy: frame-ancestors …`), so each is held to a grammar that cannot break
//! out of either.

use crate::Role;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many record-link templates.
pub const MAX_RECORD_LINKS: usize = 50;
/// At most this many origins may frame the viewer.
pub const MAX_FRAME_ANCESTORS: usize = 20;
/// At most this many event type prefixes for viewers.
pub const MAX_VIEWER_TYPES: usize = 50;

/// A tenant's settings (see the module documentation). Missing fields read as their defaults,
/// so settings stored by an older Sealbook still read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Subject type → URL template of the business record, with `{id}` (and optionally
    /// `{type}`) replaced by the subject's percent-encoded id (type): e.g. `order` →
    /// `https://app.example.com/orders/{id}`.
    #[serde(default)]
    pub record_links: BTreeMap<String, String>,
    /// Origins (`https://app.example.com`, `https://*.example.com`; `http://` only for localhost)
    /// allowed to frame the embedded viewer; empty: no page may frame it.
    #[serde(default)]
    pub frame_ancestors: Vec<String>,
    /// Event type prefixes people with the `viewer` role and embedded viewer tokens may see;
    /// empty: every type.
    #[serde(default)]
    pub viewer_types: Vec<String>,
    /// Single sign-on through the tenant's OpenID provider; `None`: people sign in with a
    /// password only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoSettings>,
}

/// At most this many claim value → role mappings.
pub const MAX_ROLE_MAPPINGS: usize = 50;

/// Single sign-on through a tenant's OpenID Connect provider (authorization code flow with
/// PKCE). People are matched by their verified e-mail address; the role comes from a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettings {
    /// The provider's issuer identifier (`https://login.example.com/realms/acme`): its
    /// discovery document is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id Sealbook was registered under at the provider.
    pub client_id: String,
    /// The client secret, sealed by the server (base64url); empty for a public client (PKCE
    /// alone). Never shown, never recorded in an event.
    #[serde(default)]
    pub client_secret_sealed: String,
    /// Scopes asked for beyond `openid email profile` (e.g. `groups`), space-separated.
    #[serde(default)]
    pub extra_scopes: String,
    /// The claim that names the person's groups or roles (a string or an array of strings).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Claim value → role, in order: the first value the person has decides. Empty: roles are
    /// managed in Sealbook and sign-in leaves them alone.
    #[serde(default)]
    pub role_map: Vec<RoleMapping>,
    /// The role of a person none of whose claim values is mapped; `None`: such a person may not
    /// sign in.
    #[serde(default)]
    pub default_role: Option<String>,
    /// Whether a person the tenant does not know yet is created on first sign-in.
    #[serde(default)]
    pub create_people: bool,
    /// Whether people other than tenant admins may still sign in with a password. Tenant admins
    /// always may (the way back in when the provider is down or misconfigured).
    #[serde(default = "yes")]
    pub passwords: bool,
}

fn default_role_claim() -> String {
    "groups".to_owned()
}

fn yes() -> bool {
    true
}

/// One claim value and the role it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMapping {
    /// A value of the role claim, e.g. `sealbook-admins`.
    pub value: String,
    /// The role it gives (a tenant role's name: never `operator`).
    pub role: String,
}

/// What sign-on decides for a person, from their claim values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoRole {
    /// The person gets (or keeps, if roles are managed in Sealbook) this role.
    Role(Role),
    /// Roles are managed in Sealbook: a known person keeps theirs; a new one gets the default.
    Unmanaged,
    /// No mapped value and no default role: the person may not sign in.
    Refused,
}

impl SsoSettings {
    /// Checks every field; the first one refused, if any.
    pub fn check(&self) -> Result<(), SettingsError> {
        if !is_issuer(&self.issuer) {
            return refuse(
                "sso.issuer".into(),
                "must be an https:// URL of at most 300 characters, without spaces, query or fragment",
            );
        }
        if !is_printable(&self.client_id, 200) {
            return refuse(
                "sso.client_id".into(),
                "must be 1 to 200 printable characters without spaces",
            );
        }
        if self.client_secret_sealed.len() > 2000 {
            return refuse("sso.client_secret".into(), "at most 1,000 characters");
        }
        if self.extra_scopes.len() > 500
            || !self
                .extra_scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .all(|s| is_printable(s, 100))
        {
            return refuse(
                "sso.extra_scopes".into(),
                "scopes are printable words separated by spaces, at most 500 characters in all",
            );
        }
        if !is_printable(&self.role_claim, 100) {
            return refuse(
                "sso.role_claim".into(),
                "a claim name is 1 to 100 printable characters without spaces",
            );
        }
        if self.role_map.len() > MAX_ROLE_MAPPINGS {
            return refuse("sso.role_map".into(), "at most 50 mappings");
        }
        for (i, m) in self.role_map.iter().enumerate() {
            if m.value.is_empty() || m.value.len() > 200 || m.value.chars().any(char::is_control) {
                return refuse(
                    format!("sso.role_map[{i}]"),
                    "a claim value is 1 to 200 characters, none a control character",
                );
            }
            if !is_tenant_role(&m.role) {
                return refuse(
                    format!("sso.role_map[{i}]"),
                    "the role must be tenant_admin, compliance_officer, auditor, support or viewer",
                );
            }
        }
        if let Some(r) = &self.default_role {
            if !is_tenant_role(r) {
                return refuse(
                    "sso.default_role".into(),
                    "the role must be tenant_admin, compliance_officer, auditor, support or viewer",
                );
            }
        }
        Ok(())
    }

    /// The role the claim values give (see [`SsoRole`]). The values are those of the role claim,
    /// a string claim read as one value.
    pub fn role_for(&self, values: &[String]) -> SsoRole {
        if self.role_map.is_empty() {
            return SsoRole::Unmanaged;
        }
        let mapped = self
            .role_map
            .iter()
            .find(|m| values.contains(&m.value))
            .map(|m| m.role.as_str())
            .or(self.default_role.as_deref());
        match mapped.and_then(|r| r.parse::<Role>().ok()) {
            Some(r) if r.is_tenant_role() => SsoRole::Role(r),
            _ => SsoRole::Refused,
        }
    }

    /// The role a person new to the tenant gets, when [`SsoRole::Unmanaged`].
    pub fn default_role(&self) -> Option<Role> {
        self.default_role
            .as_deref()
            .and_then(|r| r.parse::<Role>().ok())
            .filter(|r| r.is_tenant_role())
    }

    /// The scopes to ask for: `openid email profile` and the extra ones, each once.
    pub fn scopes(&self) -> String {
        let mut out: Vec<&str> = vec!["openid", "email", "profile"];
        for s in self.extra_scopes.split(' ').filter(|s| !s.is_empty()) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out.join(" ")
    }
}

fn is_tenant_role(name: &str) -> bool {
    name.parse::<Role>().is_ok_and(Role::is_tenant_role)
}

/// Visible ASCII only (no spaces, no controls), 1 to `max` bytes.
fn is_printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
}

/// `https://…` (the deployment may allow `http://` for a provider on this machine: the server
/// checks that), of printable ASCII without quotes or angle brackets, no query or fragment.
fn is_issuer(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && s.len() <= 300
        && s.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`' | b'?' | b'#')
        })
}

/// A setting refused: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct SettingsError {
    /// The setting, e.g. `record_links.order` or `frame_ancestors[2]`.
    pub field: String,
    /// Why.
    pub problem: &'static str,
}

fn refuse(field: String, problem: &'static str) -> Result<(), SettingsError> {
    Err(SettingsError { field, problem })
}

/// A subject type or an event type (prefix): what the catalog's names are made of.
fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        })
}

/// `https://host[:port]` (or `http://` for localhost and 127.0.0.1), a host of letters, digits,
/// dots and hyphens (optionally `*.` first, before at least two labels), and nothing else: a CSP
/// source expression that cannot add a directive.
fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    if scheme != "https" && scheme != "http" {
        return false;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let wildcard = host.starts_with("*.");
    let host = host.strip_prefix("*.").unwrap_or(host);
    // A wildcard covers the subdomains of one registered name at least (`*.example.com`), never
    // a whole suffix (`*.com`); plain http only for this machine (a developer's embedding page).
    if wildcard && host.split('.').count() < 2 {
        return false;
    }
    if scheme == "http" && !matches!(host, "localhost" | "127.0.0.1") {
        return false;
    }
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.starts_with('.')
        && !host.ends_with('.');
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// An http(s) URL template holding `{id}`, of printable ASCII without quotes, angle brackets,
/// backslashes or spaces, so it stays one attribute value and one URL.
fn is_template(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 500
        && s.contains("{id}")
        && s.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`')
        })
}

impl TenantSettings {
    /// Checks every setting; the first one refused, if any.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.record_links.len() > MAX_RECORD_LINKS {
            return refuse("record_links".into(), "at most 50 record links");
        }
        for (ty, template) in &self.record_links {
            if !is_name(ty, 64) {
                return refuse(
                    format!("record_links.{ty}"),
                    "a subject type is 1 to 64 of a-z, 0-9, '_', '.', '-'",
                );
            }
            if !is_template(template) {
                return refuse(
                    format!("record_links.{ty}"),
                    "must be an http(s) URL of at most 500 characters holding {id}, without spaces, quotes, '<', '>', '\\' or '`'",
                );
            }
        }
        if self.frame_ancestors.len() > MAX_FRAME_ANCESTORS {
            return refuse("frame_ancestors".into(), "at most 20 origins");
        }
        for (i, o) in self.frame_ancestors.iter().enumerate() {
            if !is_origin(o) {
                return refuse(
                    format!("frame_ancestors[{i}]"),
                    "must be an origin: https://host or https://*.example.com (http only for localhost), with an optional :port, nothing after",
                );
            }
        }
        if self.viewer_types.len() > MAX_VIEWER_TYPES {
            return refuse("viewer_types".into(), "at most 50 type prefixes");
        }
        for (i, t) in self.viewer_types.iter().enumerate() {
            if !is_name(t, 128) {
                return refuse(
                    format!("viewer_types[{i}]"),
                    "a type prefix is 1 to 128 of a-z, 0-9, '_', '.', '-'",
                );
            }
        }
        if let Some(sso) = &self.sso {
            sso.check()?;
        }
        Ok(())
    }

    /// The settings as an event records them: a client secret, though sealed, is replaced by
    /// `"[set]"`, so the log holds it in no form.
    pub fn for_record(&self) -> TenantSettings {
        let mut s = self.clone();
        if let Some(sso) = &mut s.sso {
            if !sso.client_secret_sealed.is_empty() {
                sso.client_secret_sealed = "[set]".into();
            }
        }
        s
    }

    /// The link to the business record of a subject, if the tenant set a template for its type.
    pub fn record_link(&self, subject_type: &str, subject_id: &str) -> Option<String> {
        let template = self.record_links.get(subject_type)?;
        Some(
            template
                .replace("{type}", &percent_encode(subject_type))
                .replace("{id}", &percent_encode(subject_id)),
        )
    }

    /// Whether viewers (the role, and embedded viewer tokens) may see events of `event_type`.
    pub fn viewer_may_see(&self, event_type: &str) -> bool {
        self.viewer_types.is_empty()
            || self
                .viewer_types
                .iter()
                .any(|p| event_type.starts_with(p.as_str()))
    }

    /// The `frame-ancestors` sources of the embedded viewer: the allow-list, or `'none'`.
    pub fn frame_ancestors_source(&self) -> String {
        if self.frame_ancestors.is_empty() {
            "'none'".to_owned()
        } else {
            self.frame_ancestors.join(" ")
        }
    }
}

/// Percent-encodes a path segment or query value: only RFC 3986 unreserved characters pass (so a
/// `/` in an id stays inside its segment, and nothing can end an attribute or add a parameter).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut TenantSettings)) -> TenantSettings {
        let mut s = TenantSettings::default();
        f(&mut s);
        s
    }

    #[test]
    fn record_links_encode_the_id_and_refuse_what_could_break_out() {
        let s = with(|s| {
            s.record_links
                .insert("order".into(), "https://app.example.com/orders/{id}".into());
        });
        assert!(s.check().is_ok());
        assert_eq!(
            s.record_link("order", "44/72?x=\"><script>").as_deref(),
            Some("https://app.example.com/orders/44%2F72%3Fx%3D%22%3E%3Cscript%3E")
        );
        assert_eq!(s.record_link("shipment", "1"), None);
        for bad in [
            "javascript:alert(1)//{id}",
            "https://a.example/{id}\" onmouseover=\"x",
            "https://a.example/no-placeholder",
            "https://a.example/{id} x",
            "data:text/html,{id}",
        ] {
            let s = with(|s| {
                s.record_links.insert("order".into(), bad.into());
            });
            let e = s.check().unwrap_err();
            assert_eq!(e.field, "record_links.order", "{bad}");
        }
        let s = with(|s| {
            s.record_links
                .insert("Order Type".into(), "https://a.example/{id}".into());
        });
        assert!(s.check().is_err());
    }

    #[test]
    fn frame_ancestors_are_origins_only() {
        for good in [
            "https://app.example.com",
            "https://*.example.com",
            "http://localhost:8080",
        ] {
            let s = with(|s| s.frame_ancestors.push(good.into()));
            assert!(s.check().is_ok(), "{good}");
        }
        for bad in [
            "*",
            "'self'",
            "https://a.example; script-src *",
            "https://a.example/path",
            "https://a.example:port",
            "ftp://a.example",
            "https://",
            "https://a example",
            "https://*.com",
            "http://app.example.com",
        ] {
            let s = with(|s| s.frame_ancestors.push(bad.into()));
            assert_eq!(s.check().unwrap_err().field, "frame_ancestors[0]", "{bad}");
        }
        assert_eq!(TenantSettings::default().frame_ancestors_source(), "'none'");
        let s = with(|s| {
            s.frame_ancestors = vec!["https://a.example".into(), "https://b.example".into()]
        });
        assert_eq!(
            s.frame_ancestors_source(),
            "https://a.example https://b.example"
        );
    }

    #[test]
    fn viewer_types_limit_by_prefix() {
        assert!(TenantSettings::default().viewer_may_see("anything.at_all"));
        let s = with(|s| s.viewer_types = vec!["order.".into(), "shipment.created".into()]);
        assert!(s.check().is_ok());
        assert!(s.viewer_may_see("order.created"));
        assert!(s.viewer_may_see("shipment.created"));
        assert!(!s.viewer_may_see("user.login_failed"));
        let s = with(|s| s.viewer_types = vec!["Order*".into()]);
        assert_eq!(s.check().unwrap_err().field, "viewer_types[0]");
    }

    #[test]
    fn older_settings_read_with_defaults() {
        let s: TenantSettings =
            serde_json::from_str(r#"{"frame_ancestors":["https://a.example"]}"#).unwrap();
        assert!(s.record_links.is_empty() && s.viewer_types.is_empty());
    }

    fn sso() -> SsoSettings {
        SsoSettings {
            issuer: "https://login.example.com/realms/acme".into(),
            client_id: "sealbook".into(),
            client_secret_sealed: String::new(),
            extra_scopes: "groups".into(),
            role_claim: "groups".into(),
            role_map: vec![
                RoleMapping {
                    value: "sealbook-admins".into(),
                    role: "tenant_admin".into(),
                },
                RoleMapping {
                    value: "auditors".into(),
                    role: "auditor".into(),
                },
            ],
            default_role: None,
            create_people: true,
            passwords: true,
        }
    }

    #[test]
    fn sso_roles_come_from_the_first_mapped_claim_value() {
        let s = sso();
        assert!(s.check().is_ok());
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            s.role_for(&v(&["staff", "auditors", "sealbook-admins"])),
            SsoRole::Role(Role::TenantAdmin),
            "the mapping's order decides, not the claim's"
        );
        assert_eq!(s.role_for(&v(&["auditors"])), SsoRole::Role(Role::Auditor));
        assert_eq!(s.role_for(&v(&["staff"])), SsoRole::Refused);
        assert_eq!(s.role_for(&[]), SsoRole::Refused);
        let with_default = SsoSettings {
            default_role: Some("viewer".into()),
            ..sso()
        };
        assert_eq!(
            with_default.role_for(&v(&["staff"])),
            SsoRole::Role(Role::Viewer)
        );
        let unmanaged = SsoSettings {
            role_map: vec![],
            default_role: Some("support".into()),
            ..sso()
        };
        assert_eq!(
            unmanaged.role_for(&v(&["sealbook-admins"])),
            SsoRole::Unmanaged
        );
        assert_eq!(unmanaged.default_role(), Some(Role::Support));
        assert_eq!(s.scopes(), "openid email profile groups");
        let again = SsoSettings {
            extra_scopes: " email  groups groups ".into(),
            ..sso()
        };
        assert_eq!(again.scopes(), "openid email profile groups");
    }

    #[test]
    fn sso_settings_refuse_what_could_escalate_or_break_out() {
        let refused = |f: &dyn Fn(&mut SsoSettings)| {
            let mut s = sso();
            f(&mut s);
            let t = TenantSettings {
                sso: Some(s),
                ..TenantSettings::default()
            };
            t.check().unwrap_err().field
        };
        assert_eq!(
            refused(&|s| s.role_map[0].role = "operator".into()),
            "sso.role_map[0]",
            "no claim may make a tenant's person a platform operator"
        );
        assert_eq!(
            refused(&|s| s.default_role = Some("operator".into())),
            "sso.default_role"
        );
        assert_eq!(
            refused(&|s| s.default_role = Some("root".into())),
            "sso.default_role"
        );
        for bad in [
            "ftp://login.example.com",
            "https://",
            "https:///path",
            "https://login.example.com/?x=1",
            "https://login.example.com/#f",
            "https://login.example.com/a b",
            "https://login.example.com/\"><script>",
            "javascript:alert(1)",
        ] {
            assert_eq!(refused(&|s| s.issuer = bad.into()), "sso.issuer", "{bad}");
        }
        assert_eq!(refused(&|s| s.client_id = String::new()), "sso.client_id");
        assert_eq!(refused(&|s| s.client_id = "a b".into()), "sso.client_id");
        assert_eq!(refused(&|s| s.role_claim = String::new()), "sso.role_claim");
        assert_eq!(
            refused(&|s| s.extra_scopes = "a\nb".into()),
            "sso.extra_scopes"
        );
        assert_eq!(
            refused(&|s| s.role_map[1].value = "x\u{0}".into()),
            "sso.role_map[1]"
        );
        assert_eq!(
            refused(&|s| {
                s.role_map = (0..51)
                    .map(|i| RoleMapping {
                        value: format!("g{i}"),
                        role: "viewer".into(),
                    })
                    .collect()
            }),
            "sso.role_map"
        );
        // Settings stored before single sign-on existed still read, without it.
        let old: TenantSettings =
            serde_json::from_str(r#"{"record_links":{},"frame_ancestors":[],"viewer_types":[]}"#)
                .unwrap();
        assert_eq!(old.sso, None);
        let minimal: SsoSettings =
            serde_json::from_str(r#"{"issuer":"https://a.example","client_id":"c"}"#).unwrap();
        assert_eq!(minimal.role_claim, "groups");
        assert!(minimal.passwords);
        assert!(!minimal.create_people);
    }
}
