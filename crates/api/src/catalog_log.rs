//! Reading a catalog from its log: the `catalog.*` records of one log (a tenant's, or the platform
//! log), Sealbook's own only, replayed by [`sealbook_catalog::replay`] into a [`CatalogLog`].
//!
//! Exact types are looked up through the search postings; a type prefix would scan every event of
//! the log.

use crate::audit::is_sealbooks;
use crate::error::ApiError;
use sealbook_catalog::{replay, Catalog, Replayed, SETTINGS_CHANGED, TYPE_CHANGED};
use sealbook_domain::view::event_view;
use sealbook_domain::{Cursor, EventFilter, SearchKey, TenantId, SEALBOOK};
use sealbook_store::Store;
use serde_json::Value;
use std::time::Instant;

/// A catalog rebuilt from one log, with the log size it was read at.
#[derive(Debug, Clone)]
pub(crate) struct CatalogLog {
    /// The catalog in force and its history.
    pub(crate) replayed: Replayed,
    /// The log's size when it was read.
    pub(crate) size: u64,
    /// When it was read (or last found unchanged).
    pub(crate) loaded_at: Instant,
}

impl std::ops::Deref for CatalogLog {
    type Target = Replayed;

    fn deref(&self) -> &Replayed {
        &self.replayed
    }
}

impl CatalogLog {
    /// A catalog with no log behind it: the start-up catalog until the platform log has been read,
    /// and a tenant's own catalog for the platform log.
    pub(crate) fn of(catalog: Catalog) -> CatalogLog {
        CatalogLog {
            replayed: Replayed::of(catalog),
            size: 0,
            loaded_at: Instant::now(),
        }
    }
}

/// Replays Sealbook's own records among `views` (oldest first); records a client managed to write
/// are skipped.
fn replay_own(views: &[Value]) -> Replayed {
    let replayed = replay(views.iter().filter(|v| is_sealbooks(v)));
    for (name, problems) in &replayed.broken {
        tracing::error!(r#type = %name, ?problems, "a recorded event type no longer compiles; it is ignored");
    }
    replayed
}

/// Reads the `catalog.*` records of `log` and replays them.
pub(crate) async fn read(
    store: &dyn Store,
    log: &TenantId,
    search: &SearchKey,
) -> Result<CatalogLog, ApiError> {
    let size = store.log_size(log).await?;
    let mut events: Vec<(u64, Value)> = Vec::new();
    for ty in [TYPE_CHANGED, SETTINGS_CHANGED] {
        let mut filter = EventFilter::from_query(
            &[
                ("type".into(), ty.into()),
                ("recorded_by".into(), SEALBOOK.into()),
                ("limit".into(), "1000".into()),
            ],
            search,
        )?;
        loop {
            let page = store.query(log, &filter).await?;
            let Some(last) = page.last() else { break };
            filter.cursor = Some(Cursor(last.index));
            events.extend(
                page.iter()
                    .map(|e| (e.index, event_view(&e.leaf, &e.personal, e.index, ""))),
            );
        }
    }
    events.sort_by_key(|(index, _)| *index);
    let views: Vec<Value> = events.into_iter().map(|(_, v)| v).collect();
    Ok(CatalogLog {
        replayed: replay_own(&views),
        size,
        loaded_at: Instant::now(),
    })
}

/// Whether `log` holds a `catalog.*` record at index `from` or later (a look at the newest
/// postings only).
pub(crate) async fn changed_since(
    store: &dyn Store,
    log: &TenantId,
    search: &SearchKey,
    from: u64,
) -> Result<bool, ApiError> {
    for ty in [TYPE_CHANGED, SETTINGS_CHANGED] {
        let mut filter = EventFilter::from_query(
            &[
                ("type".into(), ty.into()),
                ("recorded_by".into(), SEALBOOK.into()),
                ("limit".into(), "1".into()),
            ],
            search,
        )?;
        filter.after = from.checked_sub(1);
        if !store.query(log, &filter).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{RECORDED_BY, SEALBOOK};
    use serde_json::json;

    #[test]
    fn only_sealbook_records_count() {
        let def = json!({"description": "d", "owner": "o", "severity": "info", "retention": "r",
            "label": "l", "ocsf": {"class_uid": 1, "class_name": "c", "activity_id": 1},
            "versions": [{"version": 1, "requires": [], "schema": {"type": "object"},
                "sample": {}, "rejected": 1}]});
        let forged = sealbook_catalog::type_changed(
            "a.b",
            None,
            None,
            &def,
            0,
            json!({"kind": "api"}),
            json!({"type": "system", "id": "t"}),
        );
        let mut settings = json!({"type": SETTINGS_CHANGED, "data": {"open_types": true}});
        let log = replay_own(&[forged.clone(), settings.clone()]);
        assert!(!log.catalog.contains("a.b"));
        assert!(!log.open_types);
        let mut own = forged;
        own[RECORDED_BY] = json!(SEALBOOK);
        settings[RECORDED_BY] = json!(SEALBOOK);
        let log = replay_own(&[own, settings]);
        assert!(log.catalog.contains("a.b"), "{:?}", log.broken);
        assert!(log.open_types);
    }
}
