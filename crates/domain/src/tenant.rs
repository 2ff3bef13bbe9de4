//! Tenant identifiers: the one value that scopes every store call.

use std::fmt;

/// A validated tenant id: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

/// Why a string is not a tenant id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("tenant id must match [a-z0-9][a-z0-9-]{{0,62}}")]
pub struct TenantIdError;

/// The id of the platform's own log, where changes to the platform catalog are recorded. No tenant
/// can be created with it; its keys may only read.
const PLATFORM: &str = "platform";

impl TenantId {
    /// The platform's own log (id `platform`).
    pub fn platform() -> TenantId {
        TenantId(PLATFORM.to_owned())
    }

    /// True for the platform's own log.
    pub fn is_platform(&self) -> bool {
        self.0 == PLATFORM
    }

    /// Validates a tenant id.
    pub fn parse(s: &str) -> Result<TenantId, TenantIdError> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if ok {
            Ok(TenantId(s.to_owned()))
        } else {
            Err(TenantIdError)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        for ok in ["a", "acme", "acme-eu-1", "0", &"a".repeat(63)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-acme",
            "Acme",
            "acme_eu",
            "acme/eu",
            "é",
            &"a".repeat(64),
            "a b",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }
}
