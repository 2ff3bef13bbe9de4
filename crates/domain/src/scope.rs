//! API key scopes: what a tenant key may do.

use std::fmt;
use std::str::FromStr;

/// One permission carried by a tenant API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `events:write`: ingest events.
    EventsWrite,
    /// `events:read`: search and fetch events.
    EventsRead,
    /// `events:export`: bulk export.
    EventsExport,
    /// `tenant:admin`: the tenant's own administration.
    TenantAdmin,
}

/// A scope name that Sealbook does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown scope {0:?}; known scopes are events:write, events:read, events:export, tenant:admin"
)]
pub struct ScopeError(pub String);

impl Scope {
    /// Every scope, in a stable order.
    pub const ALL: [Scope; 4] = [
        Scope::EventsWrite,
        Scope::EventsRead,
        Scope::EventsExport,
        Scope::TenantAdmin,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsWrite => "events:write",
            Scope::EventsRead => "events:read",
            Scope::EventsExport => "events:export",
            Scope::TenantAdmin => "tenant:admin",
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Scope, ScopeError> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| ScopeError(s.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
        assert!("events:delete".parse::<Scope>().is_err());
    }
}
