//! The catalogs in memory: one copy of the platform catalog and one of each tenant's own, and the
//! rules for when a copy is read again.
//!
//! Freshness: a single-writer store keeps its copies (every change passes through this process,
//! which reloads what it changed). On a shared database, once a copy is five seconds old, a node
//! re-reads a tenant's catalog only if a `catalog.*` record landed above the log size the copy was
//! read at (a look at the newest postings), and the platform's only if the platform log has grown.
//! A read that started before a change never replaces the copy the change reloaded: the copy read
//! from the longer log wins.

use crate::catalog_log::{self, CatalogLog};
use crate::error::ApiError;
use crate::keyring::Keyring;
use sealbook_catalog::Catalog;
use sealbook_domain::TenantId;
use sealbook_store::Store;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a node trusts its copy of a catalog on a shared database.
const FRESH_FOR: Duration = Duration::from_secs(5);

/// The platform's catalog and a tenant's own, as one request sees them. A tenant's own type wins
/// over a platform type of the same name (added to the platform after the tenant defined it).
#[derive(Clone)]
pub(crate) struct Catalogs {
    pub(crate) platform: Arc<CatalogLog>,
    pub(crate) own: Arc<CatalogLog>,
}

impl Catalogs {
    /// The catalog that defines `event_type`, if any.
    pub(crate) fn of(&self, event_type: &str) -> Option<&Catalog> {
        if self.own.catalog.contains(event_type) {
            Some(&self.own.catalog)
        } else if self.platform.catalog.contains(event_type) {
            Some(&self.platform.catalog)
        } else {
            None
        }
    }

    /// Every type a reader of this tenant may meet, by name, with its description: the search
    /// page's type choices.
    pub(crate) fn type_labels(&self) -> Vec<(String, String)> {
        let mut all: std::collections::BTreeMap<String, String> = self
            .platform
            .catalog
            .types()
            .map(|t| (t.name.clone(), t.description.clone()))
            .collect();
        all.extend(
            self.own
                .catalog
                .types()
                .map(|t| (t.name.clone(), t.description.clone())),
        );
        all.into_iter().collect()
    }

    /// Every type a reader of this tenant may meet, by name, and whether the tenant defined it
    /// itself (its own definition wins over the platform's): the catalog page.
    pub(crate) fn all_types(&self) -> Vec<(&sealbook_catalog::TypeInfo, bool)> {
        let mut all: std::collections::BTreeMap<&str, (&sealbook_catalog::TypeInfo, bool)> = self
            .platform
            .catalog
            .types()
            .map(|t| (t.name.as_str(), (t, false)))
            .collect();
        all.extend(
            self.own
                .catalog
                .types()
                .map(|t| (t.name.as_str(), (t, true))),
        );
        all.into_values().collect()
    }

    /// The rendered label of an event view.
    pub(crate) fn label(&self, view: &Value) -> Option<String> {
        self.of(view.get("type")?.as_str()?)?.label(view)
    }
}

/// The copies, and whether they may be kept without expiry.
pub(crate) struct CatalogCache {
    single_writer: bool,
    /// Catalog records are found through the search postings, keyed per tenant.
    keys: Keyring,
    /// The platform catalog in force, and when it was last checked against the platform log.
    platform: RwLock<(Instant, Arc<CatalogLog>)>,
    /// One platform refresh at a time; other requests use the copy meanwhile.
    platform_refresh: tokio::sync::Mutex<()>,
    tenants: tokio::sync::Mutex<HashMap<TenantId, Arc<CatalogLog>>>,
}

impl CatalogCache {
    /// Starts with `startup` as the platform catalog, until the platform log is read.
    pub(crate) fn new(startup: Catalog, single_writer: bool, keys: Keyring) -> CatalogCache {
        CatalogCache {
            keys,
            single_writer,
            platform: RwLock::new((Instant::now(), Arc::new(CatalogLog::of(startup)))),
            platform_refresh: Default::default(),
            tenants: Default::default(),
        }
    }

    /// Both catalogs a request of `tenant` works with.
    pub(crate) async fn both(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
    ) -> Result<Catalogs, ApiError> {
        Ok(Catalogs {
            platform: self.platform(store).await?,
            own: self.tenant(store, tenant).await?,
        })
    }

    /// The tenant's own types and settings, from memory or rebuilt from its log.
    async fn tenant(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
    ) -> Result<Arc<CatalogLog>, ApiError> {
        if tenant.is_platform() {
            // The platform log holds the platform's types; they are not a tenant's own.
            return Ok(Arc::new(CatalogLog::of(Catalog::empty())));
        }
        let held = self.tenants.lock().await.get(tenant).cloned();
        if let Some(c) = &held {
            if self.single_writer || c.loaded_at.elapsed() < FRESH_FOR {
                return Ok(c.clone());
            }
            // Only catalog records the copy has not seen can change it: look above its log size
            // (the newest postings only) before reading the whole catalog again.
            let size = store.log_size(tenant).await?;
            if !catalog_log::changed_since(store, tenant, &self.keys.search(tenant), c.size).await?
            {
                let mut same = CatalogLog::clone(c);
                same.size = size;
                same.loaded_at = Instant::now();
                return Ok(self.keep(tenant, Arc::new(same)).await);
            }
        }
        self.reload(store, tenant).await
    }

    /// The platform's types. On a shared database, checked against the platform log's size when
    /// five seconds old, and re-read if it grew; one request refreshes while others use the copy.
    pub(crate) async fn platform(&self, store: &dyn Store) -> Result<Arc<CatalogLog>, ApiError> {
        let (checked, current) = self.platform.read().expect("not poisoned").clone();
        if self.single_writer || checked.elapsed() < FRESH_FOR {
            return Ok(current);
        }
        let Ok(_refreshing) = self.platform_refresh.try_lock() else {
            return Ok(current);
        };
        let platform = TenantId::platform();
        let size = store.log_size(&platform).await?;
        let fresh = if size == current.size {
            current
        } else {
            Arc::new(catalog_log::read(store, &platform, &self.keys.search(&platform)).await?)
        };
        Ok(self.keep(&platform, fresh).await)
    }

    /// Reads a log's catalog afresh and keeps it (see [`CatalogCache::keep`]).
    pub(crate) async fn reload(
        &self,
        store: &dyn Store,
        log: &TenantId,
    ) -> Result<Arc<CatalogLog>, ApiError> {
        let fresh = Arc::new(catalog_log::read(store, log, &self.keys.search(log)).await?);
        Ok(self.keep(log, fresh).await)
    }

    /// Keeps a copy just read, unless the copy in memory was read from a longer log: a change made
    /// in this process while the read was under way (its reload read after it) must not be
    /// replaced by the older state. Answers the copy kept.
    async fn keep(&self, log: &TenantId, fresh: Arc<CatalogLog>) -> Arc<CatalogLog> {
        if log.is_platform() {
            let mut slot = self.platform.write().expect("not poisoned");
            if fresh.size >= slot.1.size {
                slot.1 = fresh;
            }
            slot.0 = Instant::now();
            return slot.1.clone();
        }
        let mut map = self.tenants.lock().await;
        match map.get(log) {
            Some(held) if held.size > fresh.size => held.clone(),
            _ => {
                map.insert(log.clone(), fresh.clone());
                fresh
            }
        }
    }
}
