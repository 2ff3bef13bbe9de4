//! A catalog kept as the history of its changes: the records Sealbook writes into a log when a type
//! is added or extended (`catalog.type_changed`) or a tenant's settings change
//! (`catalog.settings_changed`), and their replay into the catalog in force.
//!
//! Pure: records come in as JSON (an event as a reader sees it), the catalog comes out. Reading the
//! records from a log, and deciding which records are Sealbook's own, is the caller's job.
//!
//! Replay is where concurrent changes are decided: a change names the hash of the definition it
//! replaces (`previous`) and applies only if that is the definition then in force, so of two
//! changes made over the same definition only the first in log order counts.

use crate::{definition_hash, Catalog, Problem};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The type of the record of a change to one event type.
pub const TYPE_CHANGED: &str = "catalog.type_changed";
/// The type of the record of a change to a tenant's catalog settings.
pub const SETTINGS_CHANGED: &str = "catalog.settings_changed";

/// A type's definition in force, and its hash.
#[derive(Debug, Clone)]
struct InForce {
    definition: Value,
    hash: String,
}

/// A catalog rebuilt from its change records.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The types in force, compiled.
    pub catalog: Catalog,
    /// The tenant's own choice to accept types the catalog does not know.
    pub open_types: bool,
    /// Recorded types whose definition in force no longer compiles, with why; they are left out
    /// of [`Replayed::catalog`].
    pub broken: Vec<(String, Vec<Problem>)>,
    definitions: BTreeMap<String, InForce>,
    from_startup: BTreeMap<String, String>,
}

impl Replayed {
    /// A catalog with no history (the start-up catalog before the platform log is read).
    pub fn of(catalog: Catalog) -> Replayed {
        Replayed {
            catalog,
            open_types: false,
            broken: Vec::new(),
            definitions: BTreeMap::new(),
            from_startup: BTreeMap::new(),
        }
    }

    /// The hash of the definition of `name` in force, if the history defines it.
    pub fn hash_of(&self, name: &str) -> Option<&str> {
        self.definitions.get(name).map(|d| d.hash.as_str())
    }

    /// The definition of `name` in force, if the history defines it.
    pub fn definition_of(&self, name: &str) -> Option<&Value> {
        self.definitions.get(name).map(|d| &d.definition)
    }

    /// The hash of the definition of `name` last recorded from the built-in catalog or the
    /// deployment's catalog file (what the next start compares against).
    pub fn from_startup(&self, name: &str) -> Option<&str> {
        self.from_startup.get(name).map(String::as_str)
    }
}

/// Replays change records, oldest first.
///
/// Callers MUST pass only records Sealbook wrote itself (a client able to slip in a record could
/// change the catalog), in log order. Records of other types are skipped.
pub fn replay<'a>(records: impl IntoIterator<Item = &'a Value>) -> Replayed {
    let mut definitions: BTreeMap<String, InForce> = BTreeMap::new();
    let mut from_startup = BTreeMap::new();
    let mut open_types = false;
    for v in records {
        let data = &v["data"];
        if v["type"] == SETTINGS_CHANGED {
            open_types = data["open_types"].as_bool().unwrap_or(open_types);
            continue;
        }
        if v["type"] != TYPE_CHANGED {
            continue;
        }
        let (Some(name), Some(def)) = (data["type"].as_str(), data.get("definition")) else {
            continue;
        };
        let hash = definition_hash(def);
        if matches!(data["source"]["kind"].as_str(), Some("builtin" | "file")) {
            from_startup.insert(name.to_owned(), hash.clone());
        }
        let in_force = definitions.get(name).map(|d| d.hash.as_str());
        if data["previous"].as_str() != in_force {
            // Recorded, but raced by another change to the same type: not in force.
            continue;
        }
        definitions.insert(
            name.to_owned(),
            InForce {
                definition: def.clone(),
                hash,
            },
        );
    }
    let mut catalog = Catalog::empty();
    let mut broken = Vec::new();
    for (name, d) in &definitions {
        match Catalog::from_definition(name, &d.definition) {
            Ok(c) => catalog.extend(c),
            Err(p) => broken.push((name.clone(), p)),
        }
    }
    Replayed {
        catalog,
        open_types,
        broken,
        definitions,
        from_startup,
    }
}

/// The record of a change to type `name` (a `catalog.type_changed` event without its time):
/// `previous` is the hash of the definition it replaces (`old`), `at_size` the size of the log the
/// state was read at, `source` where the definition came from (`{"kind": "builtin" | "file" |
/// "api", …}`), `actor` who made the change.
///
/// Its id derives from the type, the definition it replaces, the new one and `at_size`, so the same
/// change made twice from the same state (two nodes starting at once) is one event, while a
/// definition that comes back later (A, B, A, B) is a new one.
pub fn type_changed(
    name: &str,
    old: Option<&Value>,
    previous: Option<&str>,
    new: &Value,
    at_size: u64,
    source: Value,
    actor: Value,
) -> Value {
    use sha2::Digest;
    let new_hash = definition_hash(new);
    let mut h = sha2::Sha256::new();
    for part in [
        name,
        previous.unwrap_or(""),
        &new_hash,
        &at_size.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let id = format!("catalog-{}", hex::encode(&h.finalize()[..16]));
    let empty = serde_json::Map::new();
    let diff = sealbook_domain::diff::diff(
        old.and_then(Value::as_object).unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let versions = new["versions"].as_array().map_or(0, Vec::len);
    json!({
        "id": id,
        "type": TYPE_CHANGED,
        "actor": actor,
        "subject": {"type": "event_type", "id": name},
        "data": {"type": name, "version": versions, "previous": previous, "source": source,
                 "definition": new, "diff": diff},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(versions: usize) -> Value {
        let v = |n: usize| {
            let props: serde_json::Map<String, Value> = (1..=n)
                .map(|i| (format!("f{i}"), json!({"type": "string"})))
                .collect();
            json!({"version": n, "requires": [],
                "schema": {"type": "object", "properties": props},
                "sample": {}, "rejected": {format!("f{n}"): 1}})
        };
        json!({"description": "d", "owner": "o", "severity": "info", "retention": "r",
            "label": "l", "ocsf": {"class_uid": 1, "class_name": "c", "activity_id": 1},
            "versions": (1..=versions).map(v).collect::<Vec<_>>()})
    }

    fn recorded(name: &str, previous: Option<&Value>, new: &Value, kind: &str) -> Value {
        type_changed(
            name,
            previous,
            previous.map(definition_hash).as_deref(),
            new,
            7,
            json!({"kind": kind}),
            json!({"type": "system", "id": "t"}),
        )
    }

    #[test]
    fn a_change_applies_only_over_the_definition_it_names() {
        let (one, two, other_two) = (def(1), def(2), {
            let mut d = def(2);
            d["description"] = json!("another");
            d
        });
        let events = [
            recorded("a.b", None, &one, "api"),
            recorded("a.b", Some(&one), &two, "api"),
            // Raced: also names `one`, recorded after `two`; not in force.
            recorded("a.b", Some(&one), &other_two, "api"),
        ];
        let log = replay(&events);
        assert_eq!(log.hash_of("a.b"), Some(definition_hash(&two).as_str()));
        assert_eq!(log.catalog.get("a.b").unwrap().versions.len(), 2);
        assert_eq!(log.catalog.get("a.b").unwrap().description, "d");
    }

    #[test]
    fn settings_are_the_last_recorded() {
        let on = json!({"type": SETTINGS_CHANGED, "data": {"open_types": true}});
        let off = json!({"type": SETTINGS_CHANGED, "data": {"open_types": false}});
        assert!(replay([&on]).open_types);
        assert!(!replay([&on, &off]).open_types);
        assert!(!replay([]).open_types);
    }

    #[test]
    fn the_startup_sources_are_remembered_per_type() {
        let (one, two) = (def(1), def(2));
        let log = replay(&[
            recorded("a.b", None, &one, "builtin"),
            recorded("a.b", Some(&one), &two, "api"),
        ]);
        assert_eq!(
            log.from_startup("a.b"),
            Some(definition_hash(&one).as_str()),
            "an API change does not count as the file's"
        );
        assert_eq!(log.hash_of("a.b"), Some(definition_hash(&two).as_str()));
    }

    #[test]
    fn a_definition_that_no_longer_compiles_is_reported_not_applied() {
        let mut bad = def(1);
        bad["severity"] = json!("apocalyptic");
        let log = replay(&[recorded("a.b", None, &bad, "api")]);
        assert!(!log.catalog.contains("a.b"));
        assert_eq!(log.broken.len(), 1);
        assert_eq!(log.broken[0].0, "a.b");
    }

    /// A definition holding a `name` used to compile under that name while the caller looked up
    /// the path's: a panic in `PUT /v1/catalog/types/{type}` (seen while reading the handler).
    #[test]
    fn a_definition_cannot_rename_its_type() {
        let mut d = def(1);
        d["name"] = json!("x.y");
        let problems = Catalog::from_definition("a.b", &d).unwrap_err();
        assert!(problems[0].message.contains("name"), "{problems:?}");
    }

    #[test]
    fn the_same_change_gets_the_same_id() {
        let (one, two) = (def(1), def(2));
        let a = recorded("a.b", Some(&one), &two, "file");
        let b = recorded("a.b", Some(&one), &two, "file");
        assert_eq!(a["id"], b["id"]);
        assert_ne!(a["id"], recorded("a.b", None, &two, "file")["id"]);
        assert_ne!(a["id"], recorded("a.c", Some(&one), &two, "file")["id"]);
        let later = type_changed(
            "a.b",
            Some(&one),
            Some(&definition_hash(&one)),
            &two,
            8,
            json!({"kind": "file"}),
            json!({"type": "system", "id": "t"}),
        );
        assert_ne!(
            a["id"], later["id"],
            "the same change again, later, is another event"
        );
    }
}
