//! Storage failures: [`StoreError`], and [`Corruption`] for stored data that cannot be what it must
//! be. The API maps each variant to HTTP in one exhaustive `match` (`api/src/error.rs`).

use sealbook_domain::TenantId;
use sealbook_logmath::tile::BlobError;
use std::fmt;
use std::sync::Arc;

/// Storage failures, as the layers above need to tell them apart.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or failed an operation; retrying later may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A tenant with this id exists already.
    #[error("tenant already exists")]
    TenantExists,
    /// The stored data is newer than this build understands, or the schema is not the one this
    /// build needs (migrations, settings fixed at creation).
    #[error("store schema: {0}")]
    Schema(String),
    /// Stored data cannot be what it must be: a hash that is not 32 bytes, a tile blob that is not
    /// a whole number of hashes or does not fit the tree size, a tree head whose size differs from
    /// the number of stored events, an unparsable stored tenant id, unreadable stored personal
    /// values, … Never transient: retrying cannot help, nothing was written, and an operator has to
    /// look (`sealbook verify` locates the damage).
    #[error(transparent)]
    Corrupt(Corruption),
}

impl From<Corruption> for StoreError {
    fn from(c: Corruption) -> StoreError {
        StoreError::Corrupt(c)
    }
}

/// Where in a tenant's data a [`Corruption`] was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The event (or its personal values) at this log index.
    Index(u64),
    /// The tile at this tile level and number.
    Tile {
        /// Tile level.
        level: u32,
        /// Tile number.
        number: u64,
    },
    /// The tree head (size and root).
    TreeHead,
    /// The stored checkpoint of this size.
    Checkpoint(u64),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Index(i) => write!(f, "index {i}"),
            Place::Tile { level, number } => write!(f, "tile {level}/{number}"),
            Place::TreeHead => f.write_str("tree head"),
            Place::Checkpoint(size) => write!(f, "checkpoint at size {size}"),
        }
    }
}

/// What is corrupt, and where: the tenant and the place when the store knows them, a description,
/// and the underlying error if there is one. Built by a backend as
/// `Corruption::new("…").tenant(&t).at(Place::Tile { level, number })`.
#[derive(Debug, Clone)]
pub struct Corruption {
    /// The tenant whose data it is, when known.
    pub tenant: Option<TenantId>,
    /// Where in the tenant's data, when known.
    pub at: Option<Place>,
    /// What is wrong, for an operator.
    pub detail: String,
    /// The error that revealed it (a JSON parser's, a tenant id's), if any.
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Corruption {
    /// Corruption described by `detail`, tenant and place not yet known.
    pub fn new(detail: impl Into<String>) -> Corruption {
        Corruption {
            tenant: None,
            at: None,
            detail: detail.into(),
            source: None,
        }
    }

    /// Names the tenant whose data it is.
    pub fn tenant(mut self, tenant: &TenantId) -> Corruption {
        self.tenant = Some(tenant.clone());
        self
    }

    /// Names the place in the tenant's data.
    pub fn at(mut self, place: Place) -> Corruption {
        self.at = Some(place);
        self
    }

    /// Keeps the error that revealed it.
    pub fn caused_by(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Corruption {
        self.source = Some(Arc::new(e));
        self
    }
}

/// Tile blobs that do not fit the tree: the description is the log math's, the place its tile.
impl From<BlobError> for Corruption {
    fn from(e: BlobError) -> Corruption {
        let c = Corruption::new(e.to_string());
        match e.tile() {
            Some((level, number)) => c.at(Place::Tile { level, number }),
            None => c,
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stored data is corrupt")?;
        // A place the description already names (the log math's tile messages do) is not said
        // twice.
        let at = self
            .at
            .map(|p| p.to_string())
            .filter(|p| !self.detail.contains(p.as_str()));
        match (&self.tenant, at) {
            (Some(t), Some(p)) => write!(f, " (tenant {t}, {p})")?,
            (Some(t), None) => write!(f, " (tenant {t})")?,
            (None, Some(p)) => write!(f, " ({p})")?,
            (None, None) => {}
        }
        // The source is not repeated here: it is `Error::source`, for whoever prints the chain.
        write!(f, ": {}", self.detail)
    }
}

impl std::error::Error for Corruption {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_names_tenant_and_place() {
        let t = TenantId::parse("acme").unwrap();
        let e = StoreError::from(
            Corruption::new("31 bytes are not whole hashes")
                .tenant(&t)
                .at(Place::Tile {
                    level: 0,
                    number: 3,
                }),
        );
        assert_eq!(
            e.to_string(),
            "stored data is corrupt (tenant acme, tile 0/3): 31 bytes are not whole hashes"
        );
        let bad = TenantId::parse("Not A Tenant").unwrap_err();
        let c =
            StoreError::from(Corruption::new("stored tenant id \"Not A Tenant\"").caused_by(bad));
        assert_eq!(
            std::error::Error::source(&c).map(|s| s.to_string()),
            Some("tenant id must match [a-z0-9][a-z0-9-]{0,62}".to_owned())
        );
    }
}
