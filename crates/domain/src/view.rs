//! The reader's view of a stored event (the leaf with each commitment replaced by the value kept
//! beside it, plus the event's place in the log), the lines of a verifiable export, which can be
//! turned back into the exact leaf bytes offline, the signed claims of an export
//! ([`ExportClaims`]), and the strict JSON reading a verifier MUST use for export files
//! ([`parse_strict`]).

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
        if let Some(slot) = pointer_mut(&mut v, &p.path) {
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

/// `Value::pointer_mut`, without allocating for each step of a path that escapes nothing (every
/// path Sealbook writes): a view is built for each event an export or a search reads.
fn pointer_mut<'v>(v: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    if path.is_empty() || path.contains('~') {
        return v.pointer_mut(path);
    }
    let rest = path.strip_prefix('/')?;
    rest.split('/').try_fold(v, |v, step| match v {
        Value::Object(m) => m.get_mut(step),
        // Digits only, no leading zero (as serde_json reads an index: `+1` and `01` are none).
        Value::Array(a) => step
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| step.parse::<usize>().ok())
            .flatten()
            .filter(|_| step == "0" || !step.starts_with('0'))
            .and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

/// A value of a reader's view as plain text, for a page or a spreadsheet cell: a string as it is,
/// a redacted value as `[redacted <preview>]`, a personal value the reader may not see (still its
/// commitment) as `[masked]`, anything else as JSON. Never the fingerprint or the commitment.
pub fn display_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(m) if m.contains_key(crate::redact::REDACTED_KEY) => m
            .get("preview")
            .and_then(Value::as_str)
            .map_or_else(|| "[redacted]".to_owned(), |p| format!("[redacted {p}]")),
        Value::Object(m) if m.contains_key(COMMITMENT_KEY) => "[masked]".to_owned(),
        other => other.to_string(),
    }
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
        if let Some(slot) = pointer_mut(&mut v, &p.path) {
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

/// Removes the keyed fingerprint from every redacted value of a view (`{"$redacted": true,
/// "preview", "fingerprint"}` keeps its mask and preview). For readers without `tenant:admin`:
/// the fingerprint lets its holder tell which events carry the same secret. The leaf itself still
/// holds it (it is hashed), so entry bundles and exports, which must rebuild the leaf, keep it.
pub fn hide_fingerprints(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key(crate::redact::REDACTED_KEY) {
                m.remove("fingerprint");
            } else {
                m.values_mut().for_each(hide_fingerprints);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide_fingerprints),
        _ => {}
    }
}

/// The second line of an export's signed claims: what the note is, and its version.
pub const EXPORT_CLAIMS: &str = "sealbook-export/v1";

/// What a verifiable export claims, signed in its trailer by the key that signs the tenant's
/// checkpoints, so that nothing the verifier reports rests on an unsigned field. The note text is
/// the log's origin, [`EXPORT_CLAIMS`], then one line of canonical JSON (RFC 8785) of this value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportClaims {
    /// The tenant exported.
    pub tenant: String,
    /// The filters, as the request gave them: `[name, value]` pairs in request order. Empty for an
    /// export of the whole log, which MUST then hold every index below `size`.
    pub filters: Vec<(String, String)>,
    /// The tree size (of the checkpoint in the trailer) every line is proven against.
    pub size: u64,
    /// How many event lines the export holds.
    pub count: u64,
    /// The lowest and highest index exported; absent when `count` is 0.
    pub first: Option<u64>,
    /// See `first`.
    pub last: Option<u64>,
    /// The id of the `audit_log.exported` event recording this export.
    pub audit_event: String,
    /// Its index in the tenant's log (at or above `size`: it is written after the checkpoint the
    /// export is pinned to, with the count it states).
    pub audit_index: u64,
}

impl ExportClaims {
    /// The note body to sign (without the origin line the signer puts first).
    pub fn note_body(&self) -> String {
        let json = serde_json::to_value(self).expect("claims serialize");
        format!(
            "{EXPORT_CLAIMS}\n{}\n",
            String::from_utf8(canonical_bytes(&json)).expect("canonical JSON is UTF-8")
        )
    }

    /// Reads the claims from an opened note's text (origin line first): exactly three lines, the
    /// claims line in canonical form.
    pub fn from_note_text(text: &str) -> Result<(String, ExportClaims), String> {
        let mut lines = text.strip_suffix('\n').unwrap_or(text).split('\n');
        let (Some(origin), Some(kind), Some(json), None) =
            (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err("the claims note does not have three lines".into());
        };
        if kind != EXPORT_CLAIMS {
            return Err(format!("the note is not {EXPORT_CLAIMS} claims"));
        }
        let value = parse_strict(json)?;
        if canonical_bytes(&value) != json.as_bytes() {
            return Err("the claims are not in canonical form".into());
        }
        let claims: ExportClaims =
            serde_json::from_value(value).map_err(|e| format!("the claims are malformed: {e}"))?;
        Ok((origin.to_owned(), claims))
    }
}

/// Parses one JSON text strictly: like `serde_json::from_str`, but an object that names a key
/// twice is an error (serde_json keeps the last one silently, so a file could show one value to a
/// person and another to a program).
pub fn parse_strict(text: &str) -> Result<Value, String> {
    crate::envelope::strict::from_slice(text.as_bytes()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_pointer_finds_what_json_pointers_find() {
        let v = serde_json::json!({"a": [{"b": 1}, {"c": 2}], "x/y": {"~": 3}, "": {"e": 4}, "n": null});
        for path in [
            "/a/0/b", "/a/1/c", "/a/01", "/a/+1", "/a/ 1", "/a/2", "/a/-", "/a/x", "/x~1y/~0",
            "/x/y", "//e", "/n", "/n/x", "/a/1/c/d", "", "a", "/",
        ] {
            let mut ours = v.clone();
            let mut theirs = v.clone();
            assert_eq!(
                pointer_mut(&mut ours, path).map(|x| x.clone()),
                theirs.pointer_mut(path).map(|x| x.clone()),
                "{path}"
            );
        }
    }
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

    #[test]
    fn strict_parsing_refuses_duplicate_keys_anywhere() {
        assert_eq!(
            parse_strict(r#"{"a":1,"b":[{"c":null}]}"#).unwrap(),
            serde_json::json!({"a": 1, "b": [{"c": null}]})
        );
        for bad in [
            r#"{"a":1,"a":1}"#,
            r#"{"x":{"index":1,"index":2}}"#,
            r#"[{"k":"v","k":"w"}]"#,
            r#"{"a":1} {"a":2}"#,
            r#"{"a":1"#,
        ] {
            assert!(parse_strict(bad).is_err(), "{bad}");
        }
        assert!(
            serde_json::from_str::<Value>(r#"{"a":1,"a":2}"#).is_ok(),
            "what it guards against"
        );
    }

    #[test]
    fn claims_round_trip_only_in_canonical_form() {
        let c = ExportClaims {
            tenant: "acme".into(),
            filters: vec![
                ("actor".into(), "u-1".into()),
                ("ref".into(), "po:1".into()),
            ],
            size: 10,
            count: 2,
            first: Some(3),
            last: Some(7),
            audit_event: "01890000-0000-7000-8000-000000000000".into(),
            audit_index: 9,
        };
        let text = format!("log.example/acme\n{}", c.note_body());
        let (origin, back) = ExportClaims::from_note_text(&text).unwrap();
        assert_eq!((origin.as_str(), &back), ("log.example/acme", &c));
        let spaced = text.replace(r#""count":2"#, r#""count": 2"#);
        assert!(ExportClaims::from_note_text(&spaced).is_err());
        let extra = format!("{text}more\n");
        assert!(ExportClaims::from_note_text(&extra).is_err());
    }

    #[test]
    fn fingerprints_come_off_views_only() {
        let mut v = serde_json::json!({"data": {"card": {"$redacted": true, "preview": "****4242",
            "fingerprint": "hmac-sha256:00"}, "list": [{"$redacted": true, "fingerprint": "f"}],
            "fingerprint": "not a redaction"}});
        hide_fingerprints(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"data": {"card": {"$redacted": true, "preview": "****4242"},
                "list": [{"$redacted": true}], "fingerprint": "not a redaction"}})
        );
    }
}
