//! Field-level diffs: an event may carry whole `before` and `after` objects instead of `changes`;
//! the diff turns them into `changes` entries, one per leaf that differs. Nested objects give
//! dotted paths (`address.city`), arrays compare by index (`items[2].qty`), and a field present on
//! one side only has no `before` (added) or no `after` (removed).

use serde_json::{Map, Value};

/// The `changes` entries that turn `before` into `after`, in a stable order (sorted paths).
pub fn diff(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<Value> {
    let mut out = Vec::new();
    objects(before, after, "", &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn change(path: &str, before: Option<&Value>, after: Option<&Value>) -> Value {
    let mut m = Map::new();
    m.insert("field".into(), Value::String(path.to_owned()));
    if let Some(b) = before {
        m.insert("before".into(), b.clone());
    }
    if let Some(a) = after {
        m.insert("after".into(), a.clone());
    }
    Value::Object(m)
}

fn objects(b: &Map<String, Value>, a: &Map<String, Value>, prefix: &str, out: &mut Vec<Value>) {
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        values(b.get(k), a.get(k), &join(prefix, k), out);
    }
}

fn values(b: Option<&Value>, a: Option<&Value>, path: &str, out: &mut Vec<Value>) {
    match (b, a) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => objects(x, y, path, out),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                values(x.get(i), y.get(i), &format!("{path}[{i}]"), out);
            }
        }
        (x, y) if x == y => {}
        (x, y) => out.push(change(path, x, y)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_paths_arrays_by_index_added_and_removed() {
        let b = json!({"status": "open", "address": {"city": "Oslo", "zip": "0150"}, "items": [{"qty": 1}, {"qty": 2}], "gone": true});
        let a = json!({"status": "shipped", "address": {"city": "Bergen", "zip": "0150"}, "items": [{"qty": 1}, {"qty": 3}, {"qty": 9}], "new": 1});
        let d = diff(b.as_object().unwrap(), a.as_object().unwrap());
        assert_eq!(
            Value::Array(d),
            json!([
                {"field": "address.city", "before": "Oslo", "after": "Bergen"},
                {"field": "gone", "before": true},
                {"field": "items[1].qty", "before": 2, "after": 3},
                {"field": "items[2]", "after": {"qty": 9}},
                {"field": "new", "after": 1},
                {"field": "status", "before": "open", "after": "shipped"},
            ])
        );
        assert!(diff(b.as_object().unwrap(), b.as_object().unwrap()).is_empty());
    }
}
