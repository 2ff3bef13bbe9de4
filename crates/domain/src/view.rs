//! The reader's view of a stored event: the leaf with each commitment replaced by the value kept
//! beside it, plus the event's place in the log.

use crate::shape::{PersonalValue, COMMITMENT_KEY};
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
