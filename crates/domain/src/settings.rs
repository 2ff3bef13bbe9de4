//! A tenant's settings for its people and its embedded viewer: links from a subject to the
//! business record it names, the origins allowed to frame the embedded viewer, and the event
//! types viewers may see.
//!
//! Settings are changed by a tenant admin, each change an `audit_log.settings_changed` event in
//! the tenant's log committed with it. [`TenantSettings::check`] MUST pass before a change is
//! committed: every value here ends up in a page (a link's `href`) or a response header
//! (`Content-Security-Policy: frame-ancestors …`), so each is held to a grammar that cannot break
//! out of either.

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
        Ok(())
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
}
