//! The reader's view of a stored event (the leaf with each commitment replaced by the value kept
//! beside it, plus the event's place in the log), and the lines of a verifiable export, which can
//! be turned back into the exact leaf bytes offline.

use crate::canonical::canonical_bytes;
use crate::shape::{commitment, PersonalValue, COMMITMENT_KEY};
use serde_json::{Map, Value};

/// Rebuilds the event a reader sees from its leaf bytes and the personal values kept beside it.
///
/// A commitment whose value was erased stays in place as `{"$commitment": …}`, which is exactly what
/// an erased field should read as: provably present once, no longer known.
pub fn event_view(
    leaf: &[u8],
    personal: &[PersonalValue],
    index: u64,
    leaf_hash_hex: &str,
) -> Value {
    let mut v: Value = serde_json::from_slice(leaf).unwrap_or(Value::Null);
    for p in personal {
        if let Some(slot) = v.pointer_mut(&p.path) {
            if slot.get(COMMITMENT_KEY).is_some() {
                *slot = p.value.clone();
            }
        }
    }
    if let Value::Object(m) = &mut v {
        m.remove("v");
        m.insert("index".into(), Value::from(index));
        m.insert("leaf_hash".into(), Value::String(leaf_hash_hex.to_owned()));
    } else {
        let mut m = Map::new();
        m.insert("index".into(), Value::from(index));
        m.insert("leaf_hash".into(), Value::String(leaf_hash_hex.to_owned()));
        v = Value::Object(m);
    }
    v
}

/// Fields an export line adds to the leaf's own; the envelope can never hold them.
const EXPORT_FIELDS: [&str; 3] = ["index", "leaf_hash", "salts"];

/// One line of a verifiable export: the leaf with its personal values in the clear, plus `index`,
/// `leaf_hash` and `salts` (`{json pointer: hex salt}` for every value shown). With the salts, the
/// exact leaf bytes can be rebuilt offline by [`rebuild_leaf`], so every line is checkable against
/// the log's signed root without trusting the exporter.
pub fn export_line(
    leaf: &[u8],
    personal: &[PersonalValue],
    index: u64,
    leaf_hash_hex: &str,
) -> Value {
    let mut v: Value = serde_json::from_slice(leaf).unwrap_or(Value::Null);
    let mut salts = Map::new();
    for p in personal {
        if let Some(slot) = v.pointer_mut(&p.path) {
            if slot.get(COMMITMENT_KEY).is_some() {
                *slot = p.value.clone();
                salts.insert(p.path.clone(), Value::String(p.salt.clone()));
            }
        }
    }
    let mut m = match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("index".into(), Value::from(index));
    m.insert("leaf_hash".into(), Value::String(leaf_hash_hex.to_owned()));
    m.insert("salts".into(), Value::Object(salts));
    Value::Object(m)
}

/// An export line taken apart: its index, the claimed leaf hash, and the rebuilt leaf bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuiltLeaf {
    /// The log index the line claims.
    pub index: u64,
    /// The leaf hash the line claims (hex).
    pub leaf_hash: String,
    /// The canonical leaf bytes rebuilt from the line: hash them and compare.
    pub leaf: Vec<u8>,
}

/// Rebuilds the canonical leaf bytes of an export line: every value named in `salts` goes back
/// into its salted commitment, the export fields come off, and the result is RFC 8785 encoded.
pub fn rebuild_leaf(line: &Value) -> Result<RebuiltLeaf, String> {
    let Value::Object(m) = line else {
        return Err("an export line is a JSON object".into());
    };
    let index = m
        .get("index")
        .and_then(Value::as_u64)
        .ok_or("missing or invalid index")?;
    let leaf_hash = m
        .get("leaf_hash")
        .and_then(Value::as_str)
        .ok_or("missing or invalid leaf_hash")?
        .to_owned();
    let salts = match m.get("salts") {
        Some(Value::Object(s)) => s.clone(),
        _ => return Err("missing or invalid salts".into()),
    };
    let mut leaf = m.clone();
    for f in EXPORT_FIELDS {
        leaf.remove(f);
    }
    let mut leaf = Value::Object(leaf);
    for (path, salt) in salts {
        let salt = salt
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .filter(|s| s.len() == 16)
            .ok_or_else(|| format!("salt of {path} is not 16 bytes of hex"))?;
        let slot = leaf
            .pointer_mut(&path)
            .ok_or_else(|| format!("no value at {path}"))?;
        *slot = commitment(&salt, slot);
    }
    Ok(RebuiltLeaf {
        index,
        leaf_hash,
        leaf: canonical_bytes(&leaf),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_batch, shape, BodyFormat, Entropy, Limits, TenantId};

    struct Counter(u8);
    impl Entropy for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(17);
                *b = self.0;
            }
        }
    }

    /// An export line rebuilds to the exact leaf; changing any shown value or salt does not.
    #[test]
    fn export_lines_rebuild_the_leaf() {
        let t = TenantId::parse("acme").unwrap();
        let body = serde_json::json!({
            "type": "order.updated", "occurred_at": "2026-01-01T00:00:00.5Z",
            "actor": {"type": "user", "id": "u-1", "name": "Zoë \"Z\" Ünal", "email": "z@example.com"},
            "subject": {"type": "user", "id": "u-2"},
            "context": {"ip": "2001:db8::1"},
            "data": {"amount": 1e21, "ratio": 0.1, "nested": {"b": [1, 2.5, null], "a": "\u{1F600}"}},
        });
        let v = parse_batch(
            body.to_string().as_bytes(),
            BodyFormat::Json,
            &t,
            &Limits::default(),
        )
        .unwrap()
        .remove(0);
        let s = shape(
            v,
            &t,
            time::OffsetDateTime::UNIX_EPOCH,
            &mut Counter(0),
            &crate::shape::tests::keys(1),
        );
        let personal: Vec<PersonalValue> = serde_json::from_slice(&s.personal).unwrap();
        let line = export_line(&s.leaf, &personal, 7, &s.leaf_hash.to_hex());
        assert_eq!(
            line["actor"]["name"], "Zoë \"Z\" Ünal",
            "values in the clear"
        );
        assert_eq!(line["salts"].as_object().unwrap().len(), personal.len());
        // Through text and back, as a file would carry it.
        let parsed: Value = serde_json::from_str(&line.to_string()).unwrap();
        let rebuilt = rebuild_leaf(&parsed).unwrap();
        assert_eq!(rebuilt.index, 7);
        assert_eq!(rebuilt.leaf, s.leaf);
        assert_eq!(rebuilt.leaf_hash, s.leaf_hash.to_hex());

        let mut changed = parsed.clone();
        changed["actor"]["email"] = Value::String("y@example.com".into());
        assert_ne!(rebuild_leaf(&changed).unwrap().leaf, s.leaf);
        let mut changed = parsed.clone();
        changed["data"]["ratio"] = Value::from(0.2);
        assert_ne!(rebuild_leaf(&changed).unwrap().leaf, s.leaf);
        let mut changed = parsed.clone();
        changed["salts"]["/actor/id"] = Value::String("00".repeat(16));
        assert_ne!(rebuild_leaf(&changed).unwrap().leaf, s.leaf);
        let mut changed = parsed;
        changed["salts"]["/nowhere"] = Value::String("00".repeat(16));
        assert!(rebuild_leaf(&changed).is_err());
    }
}
