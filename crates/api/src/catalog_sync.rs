//! Start-up: bringing the built-in catalog and the deployment's catalog file into force.
//!
//! They are compared with what the platform log last recorded from them; what changed is recorded
//! there as `catalog.type_changed`. A start-up definition that the one in force merely extends (a
//! type the operator extended through the API) is behind: the one in force stays, with a warning.
//! One that contradicts a published version stops the start. Several nodes may start at once: a
//! change is recorded under an id derived from its content, so they record it once.

use crate::append::append;
use crate::audit;
use crate::catalog_log;
use crate::error::ApiError;
use crate::state::AppState;
use sealbook_catalog::{definition_hash, type_changed, Catalog};
use sealbook_domain::TenantId;
use serde_json::json;

/// The source of a startup catalog, for the record.
#[derive(Debug, Clone, Default)]
pub struct CatalogSource {
    /// The deployment's catalog file, if any (types there differ from the built-in ones).
    pub file: Option<String>,
}

/// What the start-up comparison recorded in the platform log.
#[derive(Debug, Default)]
pub struct CatalogSync {
    /// Types whose definition from the built-in catalog or the file was recorded.
    pub recorded: Vec<String>,
    /// Types whose start-up definition is older than the one in force (which adds versions to
    /// it): the one in force stays, and the file should be brought up to date.
    pub behind: Vec<String>,
}

/// Why the start-up catalog cannot be brought into force.
#[derive(Debug, thiserror::Error)]
pub enum CatalogSyncError {
    /// The built-in catalog or the file would change published versions in force, and is not
    /// merely older than the definition in force.
    #[error("the catalog cannot be applied:\n{}", .0.join("\n"))]
    Conflicts(Vec<String>),
    /// The store failed.
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl AppState {
    /// Brings the start-up catalog (built-in plus the deployment's file) into force: creates the
    /// platform log if needed, records every type whose definition there changed since the
    /// platform log last recorded it from there, and loads the platform catalog. Callers MUST
    /// call it (and see it succeed) before serving requests.
    pub async fn sync_platform_catalog(
        &self,
        source: &CatalogSource,
    ) -> Result<CatalogSync, CatalogSyncError> {
        let platform = TenantId::platform();
        let store = &*self.inner.store;
        if store
            .tenant(&platform)
            .await
            .map_err(ApiError::from)?
            .is_none()
        {
            match store.create_tenant(&platform, "Sealbook platform").await {
                Ok(_) | Err(sealbook_store::StoreError::TenantExists) => {}
                Err(e) => return Err(ApiError::from(e).into()),
            }
        }
        let startup = self.inner.startup_catalog.clone();
        let builtin = Catalog::builtin();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let log = catalog_log::read(store, &platform, &self.search_key(&platform)).await?;
            let mut conflicts = Vec::new();
            let mut behind = Vec::new();
            let mut changes = Vec::new();
            for t in startup.types() {
                let name = &t.name;
                let def = startup.definition(name).expect("listed").clone();
                let hash = definition_hash(&def);
                if log.from_startup(name) == Some(hash.as_str()) {
                    continue;
                }
                let problems = log.catalog.replacement_problems(name, &startup);
                if !problems.is_empty() {
                    if startup.replacement_problems(name, &log.catalog).is_empty() {
                        // The definition in force extends this one (a type the operator extended
                        // through the API, a file since removed): the start-up copy is behind.
                        behind.push(name.clone());
                    } else {
                        conflicts.extend(problems.into_iter().map(|p| format!("{name}: {p}")));
                    }
                    continue;
                }
                let source = if builtin.definition(name) == Some(&def) {
                    json!({"kind": "builtin", "version": env!("CARGO_PKG_VERSION")})
                } else {
                    json!({"kind": "file", "path": source.file})
                };
                changes.push(type_changed(
                    name,
                    log.definition_of(name),
                    log.hash_of(name),
                    &def,
                    log.size,
                    source,
                    json!({"type": "system", "id": "sealbook", "name": "Sealbook start-up"}),
                ));
            }
            if !conflicts.is_empty() {
                return Err(CatalogSyncError::Conflicts(conflicts));
            }
            let recorded: Vec<String> = changes
                .iter()
                .map(|c| c["data"]["type"].as_str().unwrap_or_default().to_owned())
                .collect();
            if !changes.is_empty() {
                let now = time::OffsetDateTime::now_utc();
                let keys = self.keys(&platform);
                let shaped = changes
                    .iter()
                    .map(|c| audit::event(&keys, &platform, &audit::at_time(c, now), now))
                    .collect::<Result<Vec<_>, _>>()?;
                match append(self, platform.clone(), shaped, None).await {
                    Ok(_) => {}
                    // Another node recorded the same changes first: read them and compare again.
                    Err(ApiError::IdConflict(_)) if attempts < 3 => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            self.reload_catalog(&platform).await?;
            return Ok(CatalogSync { recorded, behind });
        }
    }
}
