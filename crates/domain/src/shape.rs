//! Shaping: a validated event becomes the canonical leaf of the tenant's log.
//!
//! The leaf never holds a personal value in the clear. Each personal field is replaced by a salted
//! commitment `SHA-256(salt || JCS(value))`, and the value with its salt is kept beside the event.
//! Erasing the value and salt later leaves the commitment, so every proof still verifies (see
//! `docs/design/personal-data.md`).

use crate::canonical::{canonical_bytes, canonical_object, retry_form};
use crate::envelope::ValidEvent;
use crate::filter::{term, words};
use crate::keys::TenantKeys;
use crate::tenant::TenantId;
use crate::timestamp;
use sealbook_logmath::{leaf_hash, Hash};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Version of the leaf layout, written into every leaf as `"v"`.
pub(crate) const LEAF_VERSION: u64 = 1;
/// The key of the object that stands in the leaf for a committed personal value.
pub(crate) const COMMITMENT_KEY: &str = "$commitment";

/// A source of unpredictable bytes. The pipeline passes the operating system's generator; tests
/// pass a fixed one.
pub trait Entropy {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// One personal value kept beside an event, with the salt of its commitment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PersonalValue {
    /// JSON pointer of the field in the event.
    #[serde(rename = "p")]
    pub path: String,
    /// The value in the clear.
    #[serde(rename = "v")]
    pub value: Value,
    /// The 16-byte salt, hex.
    #[serde(rename = "s")]
    pub salt: String,
}

/// An event ready for the store: its leaf bytes and hash, what idempotency compares, what the
/// search index needs, and the personal values kept beside it.
#[derive(Debug, Clone)]
pub struct ShapedEvent {
    /// The event id (the client's, or a server-assigned UUIDv7).
    pub id: String,
    /// True when the client sent the id (only then can a retry collide with a stored event).
    pub client_id: bool,
    /// Event type.
    pub event_type: String,
    /// Outcome.
    pub outcome: String,
    /// Actor type.
    pub actor_type: String,
    /// Subject type.
    pub subject_type: String,
    /// `occurred_at`, microseconds since the epoch.
    pub occurred_at_micros: i64,
    /// The RFC 8785 bytes of the leaf.
    pub leaf: Vec<u8>,
    /// `SHA-256(0x00 || leaf)`.
    pub leaf_hash: Hash,
    /// `HMAC-SHA256(content key, retry form)` of the event as the client sent it, after
    /// redaction, with redacted values stripped of preview and fingerprint (see
    /// `canonical::retry_form`): equal hashes mean a faithful retry.
    pub content_hash: [u8; 32],
    /// Personal values and their salts, as the JSON array (of [`PersonalValue`]) the store keeps
    /// beside the event; empty when the event has none. Serialised here, on the parallel part of
    /// ingest, so the single writer only copies bytes.
    pub personal: Vec<u8>,
    /// Search index keys: the event's terms hashed with the tenant's search key
    /// ([`crate::SearchKey`]), sorted, unique.
    pub terms: Vec<i64>,
}

/// The fields that are personal data whatever the event type. `subject.id`/`subject.name` are
/// personal only when the subject is a user.
pub fn personal_paths(body: &Map<String, Value>) -> Vec<&'static str> {
    let mut paths = vec![
        "/actor/id",
        "/actor/name",
        "/actor/email",
        "/on_behalf_of/id",
        "/on_behalf_of/name",
        "/context/ip",
        "/context/user_agent",
        "/context/session_id",
    ];
    if body
        .get("subject")
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
        == Some("user")
    {
        paths.extend(["/subject/id", "/subject/name"]);
    }
    paths
}

/// Shapes one validated event of `tenant`, received at `received_at`; `keys` are the tenant's
/// (postings and content hash are keyed with them).
pub fn shape(
    ev: ValidEvent,
    tenant: &TenantId,
    received_at: OffsetDateTime,
    entropy: &mut dyn Entropy,
    keys: &TenantKeys,
) -> ShapedEvent {
    shape_with(ev, tenant, received_at, entropy, &[], keys)
}

/// Like [`shape`], with more personal paths (JSON pointers, e.g. `/data/email`) than the
/// envelope's own: the catalog declares them per event type. Their values are committed, kept
/// beside the leaf and erasable, exactly like the envelope's personal fields.
pub fn shape_with(
    ev: ValidEvent,
    tenant: &TenantId,
    received_at: OffsetDateTime,
    entropy: &mut dyn Entropy,
    extra_personal: &[String],
    keys: &TenantKeys,
) -> ShapedEvent {
    let EventHashes {
        terms,
        content_hash,
    } = event_hashes(&ev.body, keys);
    let client_id = ev.id.is_some();
    let id = ev.id.unwrap_or_else(|| {
        let mut rnd = [0u8; 10];
        entropy.fill(&mut rnd);
        let millis = (received_at.unix_timestamp_nanos() / 1_000_000) as u64;
        uuid::Builder::from_unix_timestamp_millis(millis, &rnd)
            .into_uuid()
            .to_string()
    });

    let mut leaf = ev.body;
    let mut personal = Vec::new();
    let mut paths: Vec<&str> = personal_paths(&leaf);
    paths.extend(extra_personal.iter().map(String::as_str));
    for path in paths {
        if let Some(slot) = pointer_mut(&mut leaf, path) {
            // Absent values and redacted secrets have nothing personal left to commit.
            if slot.is_null() || slot.get(crate::redact::REDACTED_KEY).is_some() {
                continue;
            }
            let mut salt = [0u8; 16];
            entropy.fill(&mut salt);
            let value = std::mem::replace(slot, Value::Null);
            *slot = commitment(&salt, &value);
            personal.push(PersonalValue {
                path: path.to_owned(),
                value,
                salt: hex::encode(salt),
            });
        }
    }
    leaf.insert("id".into(), Value::String(id.clone()));
    leaf.insert("tenant".into(), Value::String(tenant.as_str().to_owned()));
    leaf.insert(
        "received_at".into(),
        Value::String(timestamp::format_utc(received_at, 6)),
    );
    leaf.insert("v".into(), Value::from(LEAF_VERSION));
    let leaf = canonical_object(&leaf);
    ShapedEvent {
        id,
        client_id,
        event_type: ev.event_type,
        outcome: ev.outcome,
        actor_type: ev.actor_type,
        subject_type: ev.subject_type,
        occurred_at_micros: ev.occurred_at.micros,
        leaf_hash: leaf_hash(&leaf),
        leaf,
        content_hash,
        personal: if personal.is_empty() {
            Vec::new()
        } else {
            serde_json::to_vec(&personal).expect("personal values serialize")
        },
        terms,
    }
}

/// The hashes stored beside an event: its search postings and its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHashes {
    /// The event's terms under the tenant's search key, sorted, unique.
    pub terms: Vec<i64>,
    /// `HMAC-SHA256(content key, retry form)`.
    pub content_hash: [u8; 32],
}

/// The postings and content hash of a client event (the validated, redacted body, personal values
/// in the clear), under the tenant's `keys`. The one definition of both: [`shape_with`] computes
/// them at ingest, and the rebuild of an old database ([`stored_event_hashes`]) from what is
/// stored, so the two MUST agree.
pub fn event_hashes(client: &Map<String, Value>, keys: &TenantKeys) -> EventHashes {
    let mut terms: Vec<i64> = index_terms(client)
        .iter()
        .map(|t| keys.search.term_key(t))
        .collect();
    terms.sort_unstable();
    terms.dedup();
    EventHashes {
        terms,
        content_hash: keys.content.hash(&retry_form(client)),
    }
}

/// The spelled search terms of a client event (`a:<actor id>`, `w:<word>`, …), sorted, unique:
/// what [`event_hashes`] keys. Public for tools and tests that must write postings in another
/// format (an earlier build's).
pub fn spelled_terms(client: &Map<String, Value>) -> Vec<String> {
    index_terms(client)
}

/// Why the client form of a stored event cannot be rebuilt from its leaf and personal values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RehashError {
    /// The leaf is not a JSON object.
    #[error("the leaf is not a JSON object")]
    Leaf,
    /// A personal value does not belong where it says (by its position among the event's values).
    #[error("personal value {index} ({path}): {why}")]
    Personal {
        /// Position among the event's personal values.
        index: usize,
        /// Its JSON pointer.
        path: String,
        /// Why it does not fit the leaf.
        why: &'static str,
    },
}

/// The client event a stored event was shaped from: the leaf without the fields shaping added
/// (`tenant`, `received_at`, `v`), each commitment replaced by its personal value where that is
/// still kept. The event id stays: for a client-chosen id it is what the client sent; for a
/// server-assigned one (which shaping added) it is kept too, since the leaf does not say which it
/// was, and only a client sending exactly that id could ever compare against it.
///
/// Each personal value MUST match its commitment (checked: a value that does not is an error,
/// never hashed). A commitment whose value was erased stays as it is, so an erased value yields no
/// posting and the content hash covers the commitment instead of the value.
pub fn client_event(
    leaf: &[u8],
    personal: &[PersonalValue],
) -> Result<Map<String, Value>, RehashError> {
    let parsed: Value = serde_json::from_slice(leaf).map_err(|_| RehashError::Leaf)?;
    for (index, p) in personal.iter().enumerate() {
        p.check_against(&parsed)
            .map_err(|why| RehashError::Personal {
                index,
                path: p.path.clone(),
                why,
            })?;
    }
    let Value::Object(mut body) = parsed else {
        return Err(RehashError::Leaf);
    };
    for added in ["tenant", "received_at", "v"] {
        body.remove(added);
    }
    for p in personal {
        if let Some(slot) = pointer_mut(&mut body, &p.path) {
            *slot = p.value.clone();
        }
    }
    Ok(body)
}

/// The postings and content hash of a stored event under `keys`, from its leaf and the personal
/// values still kept beside it: [`client_event`], then [`event_hashes`]. This is how a database
/// whose hashes were written in another format (or under another key) is rebuilt; for an event
/// whose personal values are all kept it gives exactly what [`shape_with`] gave at ingest (for
/// a client-chosen id; see [`client_event`] for server-assigned ones).
pub fn stored_event_hashes(
    leaf: &[u8],
    personal: &[PersonalValue],
    keys: &TenantKeys,
) -> Result<EventHashes, RehashError> {
    Ok(event_hashes(&client_event(leaf, personal)?, keys))
}

/// `{"$commitment": "sha256:<hex of SHA-256(salt || JCS(value))>"}`.
pub(crate) fn commitment(salt: &[u8], value: &Value) -> Value {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(canonical_bytes(value));
    let mut m = Map::new();
    m.insert(
        COMMITMENT_KEY.into(),
        Value::String(format!("sha256:{}", hex::encode(h.finalize()))),
    );
    Value::Object(m)
}

impl PersonalValue {
    /// Checks this value and salt against the commitment at its path in `leaf` (the parsed leaf):
    /// `Ok` when the commitment is `SHA-256(salt || JCS(value))`; otherwise why not. This is how an
    /// offline verifier proves that a personal value shown beside an event is the one recorded.
    pub fn check_against(&self, leaf: &Value) -> Result<(), &'static str> {
        let slot = leaf
            .pointer(&self.path)
            .ok_or("the leaf has no field at this path")?;
        if slot.get(COMMITMENT_KEY).is_none() {
            return Err("the leaf holds no commitment at this path");
        }
        let salt = hex::decode(&self.salt).map_err(|_| "the salt is not hex")?;
        if salt.len() != 16 {
            return Err("the salt is not 16 bytes");
        }
        if commitment(&salt, &self.value) == *slot {
            Ok(())
        } else {
            Err("the value does not match the commitment in the leaf")
        }
    }
}

/// Checks personal values against the commitments in a leaf, reading the leaf lazily: only the
/// objects on each value's path are parsed, never the whole event. This is the verifier's hot
/// loop; [`PersonalValue::check_against`] is the same rule on a parsed leaf. On failure, names the
/// value (its position in `values`) and why.
pub fn check_commitments(
    leaf: &[u8],
    values: &[PersonalValue],
) -> Result<(), (usize, &'static str)> {
    let text = std::str::from_utf8(leaf).map_err(|_| (0, "the leaf is not UTF-8"))?;
    let top = RawFields::parse(text).ok_or((0, "the leaf is not a JSON object"))?;
    for (i, p) in values.iter().enumerate() {
        let mut segments = p
            .path
            .strip_prefix('/')
            .ok_or((i, "the path is not a JSON pointer"))?
            .split('/')
            .map(|s| {
                if s.contains('~') {
                    std::borrow::Cow::Owned(s.replace("~1", "/").replace("~0", "~"))
                } else {
                    std::borrow::Cow::Borrowed(s)
                }
            });
        let missing = (i, "the leaf has no field at this path");
        let first = segments.next().ok_or(missing)?;
        let mut slot = top.get(&first).ok_or(missing)?;
        for seg in segments {
            slot = RawFields::parse(slot.get())
                .and_then(|o| o.get(&seg))
                .ok_or(missing)?;
        }
        let claimed = commitment_digest(slot.get())
            .ok_or((i, "the leaf holds no commitment at this path"))?;
        let mut salt = [0u8; 16];
        hex::decode_to_slice(&p.salt, &mut salt)
            .map_err(|_| (i, "the salt is not 16 bytes of hex"))?;
        let mut h = Sha256::new();
        h.update(salt);
        h.update(canonical_bytes(&p.value));
        if claimed != <[u8; 32]>::from(h.finalize()) {
            return Err((i, "the value does not match the commitment in the leaf"));
        }
    }
    Ok(())
}

/// The digest of `{"$commitment":"sha256:<hex>"}`, the only form a commitment takes in a leaf.
fn commitment_digest(raw: &str) -> Option<[u8; 32]> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Commitment<'a> {
        #[serde(rename = "$commitment", borrow)]
        c: &'a str,
    }
    let c: Commitment<'_> = serde_json::from_str(raw).ok()?;
    hex_array(c.c.strip_prefix("sha256:")?)
}

/// Hex (either case) into exactly `N` bytes. The verifier decodes several of these per event; the
/// `hex` crate's general decoder showed up as a fifth of its profile.
fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// An object key, borrowed from the input unless it holds escapes.
struct Key<'a>(std::borrow::Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The members of one JSON object as raw values, parsed one level deep and never further.
struct RawFields<'a>(Vec<(std::borrow::Cow<'a, str>, &'a serde_json::value::RawValue)>);

impl<'a> RawFields<'a> {
    fn parse(text: &'a str) -> Option<RawFields<'a>> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some(Key(k)) = m.next_key::<Key<'de>>()? {
                    out.push((k, m.next_value::<&'de serde_json::value::RawValue>()?));
                }
                Ok(RawFields(out))
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        serde::Deserializer::deserialize_map(&mut de, V).ok()
    }

    fn get(&self, key: &str) -> Option<&'a serde_json::value::RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// JSON pointer lookup on an object (escapes not needed: our paths are fixed field names).
pub(crate) fn pointer<'a>(m: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.strip_prefix('/')?.split('/');
    let mut v = m.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

fn pointer_mut<'a>(m: &'a mut Map<String, Value>, path: &str) -> Option<&'a mut Value> {
    let mut parts = path.strip_prefix('/')?.split('/');
    let mut v = m.get_mut(parts.next()?)?;
    for p in parts {
        v = v.get_mut(p)?;
    }
    Some(v)
}

/// The search terms of an event, spelled out, from its clear (or reader's view) form.
pub(crate) fn index_terms(body: &Map<String, Value>) -> Vec<String> {
    let s = |path: &str| pointer(body, path).and_then(Value::as_str);
    let mut terms = Vec::with_capacity(12);
    if let Some(t) = s("/type") {
        terms.push(term::event_type(t));
    }
    if let Some(a) = s("/actor/id") {
        terms.push(term::actor(a));
    }
    if let (Some(t), Some(id)) = (s("/subject/type"), s("/subject/id")) {
        terms.push(term::subject(&format!("{t}:{id}")));
        terms.push(term::subject(id));
    }
    if let Some(c) = s("/context/correlation_id") {
        terms.push(term::correlation(c));
    }
    if s("/recorded_by") == Some(crate::filter::SEALBOOK) {
        terms.push(term::recorded_by(crate::filter::SEALBOOK));
    }
    let mut text = String::new();
    for p in [
        "/actor/name",
        "/on_behalf_of/name",
        "/subject/name",
        "/reason/code",
        "/reason/ticket",
        "/reason/note",
    ] {
        if let Some(v) = s(p) {
            text.push_str(v);
            text.push(' ');
        }
    }
    if let Some(Value::Object(refs)) = body.get("refs") {
        for (k, v) in refs {
            if let Some(v) = v.as_str() {
                terms.push(term::reference(k, v));
                text.push_str(v);
                text.push(' ');
            }
        }
    }
    // `words` caps the words per event, so one verbose note cannot bloat the index.
    for w in words(&text) {
        terms.push(term::word(&w));
    }
    terms.sort();
    terms.dedup();
    terms
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn hex_arrays() {
        assert_eq!(hex_array::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(hex_array::<2>("0aF"), None);
        assert_eq!(hex_array::<2>("0aFg"), None);
        assert_eq!(hex_array::<1>("+1"), None);
    }
    use crate::envelope::{parse_batch, BodyFormat, Limits};
    use serde_json::json;

    pub(crate) struct Counter(pub(crate) u8);
    impl Entropy for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    fn valid(v: Value) -> ValidEvent {
        parse_batch(
            v.to_string().as_bytes(),
            BodyFormat::Json,
            &TenantId::parse("acme").unwrap(),
            &Limits::default(),
        )
        .unwrap()
        .remove(0)
    }

    pub(crate) fn keys(n: u8) -> TenantKeys {
        TenantKeys {
            search: crate::SearchKey::new(&[n; 32]),
            content: crate::ContentKey::new(&[n.wrapping_add(100); 32]),
        }
    }

    fn sample() -> Value {
        json!({
            "id": "evt-1",
            "type": "user.role_assigned",
            "occurred_at": "2026-01-31T10:00:00Z",
            "actor": {"type": "user", "id": "u-7", "name": "Ada Lovelace", "email": "ada@example.com"},
            "subject": {"type": "user", "id": "u-9", "name": "Grace"},
            "context": {"ip": "192.0.2.1", "correlation_id": "req-1"},
            "refs": {"ticket": "SUP-12"},
            "reason": {"note": "Quarterly access review"},
        })
    }

    #[test]
    fn leaf_holds_no_personal_value() {
        let received = time::macros::datetime!(2026-01-31 10:00:01.5 UTC);
        let s = shape(
            valid(sample()),
            &TenantId::parse("acme").unwrap(),
            received,
            &mut Counter(0),
            &keys(1),
        );
        let leaf = String::from_utf8(s.leaf.clone()).unwrap();
        for secret in ["u-7", "Ada", "ada@example.com", "u-9", "Grace", "192.0.2.1"] {
            assert!(!leaf.contains(secret), "{secret} leaked into {leaf}");
        }
        assert!(leaf.contains("\"received_at\":\"2026-01-31T10:00:01.500000Z\""));
        assert!(leaf.contains("\"tenant\":\"acme\""));
        let personal: Vec<PersonalValue> = serde_json::from_slice(&s.personal).unwrap();
        assert_eq!(personal.len(), 6);
        assert_eq!(s.leaf_hash, leaf_hash(&s.leaf));
        // Every commitment in the leaf is reproducible from the kept value and salt.
        let parsed: Value = serde_json::from_slice(&s.leaf).unwrap();
        for p in &personal {
            let salt = hex::decode(&p.salt).unwrap();
            assert_eq!(
                parsed.pointer(&p.path).unwrap(),
                &commitment(&salt, &p.value)
            );
            assert_eq!(p.check_against(&parsed), Ok(()));
            let mut other = p.clone();
            other.value = Value::String("someone else".into());
            assert!(other.check_against(&parsed).is_err(), "a different value");
            assert_eq!(
                check_commitments(&s.leaf, &[p.clone(), other])
                    .unwrap_err()
                    .0,
                1
            );
            let mut other = p.clone();
            other.salt = "00".repeat(16);
            assert!(other.check_against(&parsed).is_err(), "a different salt");
            assert!(check_commitments(&s.leaf, &[other]).is_err());
            let mut other = p.clone();
            other.path = "/actor/type".into();
            assert!(
                check_commitments(&s.leaf, &[other]).is_err(),
                "not a commitment"
            );
        }
        assert_eq!(check_commitments(&s.leaf, &personal), Ok(()));
        for t in [
            "a:u-7",
            "s:user:u-9",
            "s:u-9",
            "r:ticket:SUP-12",
            "w:lovelace",
            "w:quarterly",
            "t:user.role_assigned",
            "c:req-1",
        ] {
            assert!(s.terms.contains(&keys(1).search.term_key(t)), "{t}");
        }
        assert!(
            !s.terms.contains(&keys(1).search.term_key("w:example")),
            "e-mail addresses are not names"
        );
    }

    #[test]
    fn content_hash_ignores_salts_and_receipt_time() {
        let t = TenantId::parse("acme").unwrap();
        let a = shape(
            valid(sample()),
            &t,
            time::macros::datetime!(2026-01-31 10:00 UTC),
            &mut Counter(0),
            &keys(1),
        );
        let b = shape(
            valid(sample()),
            &t,
            time::macros::datetime!(2026-02-01 10:00 UTC),
            &mut Counter(99),
            &keys(1),
        );
        assert_eq!(a.content_hash, b.content_hash);
        assert_ne!(a.leaf, b.leaf);
        let mut changed = sample();
        changed["reason"]["note"] = json!("other");
        let c = shape(
            valid(changed),
            &t,
            time::macros::datetime!(2026-01-31 10:00 UTC),
            &mut Counter(0),
            &keys(1),
        );
        assert_ne!(a.content_hash, c.content_hash);
    }

    fn shaped(ev: ValidEvent, k: &TenantKeys) -> ShapedEvent {
        let at = time::macros::datetime!(2026-01-31 10:00 UTC);
        shape(
            ev,
            &TenantId::parse("acme").unwrap(),
            at,
            &mut Counter(0),
            k,
        )
    }

    /// The sample with a secret in `data`, changed by `edit`, then redacted.
    fn with_secret(secret: &str, edit: impl FnOnce(&mut Value)) -> ValidEvent {
        let mut v = sample();
        v["data"] = json!({"password": secret, "kept": 1});
        edit(&mut v);
        let mut ev = valid(v);
        crate::redact::redact(&mut ev.body, &[9; 32], &[]);
        ev
    }

    #[test]
    fn hashes_are_keyed_per_tenant() {
        let (a, b) = (
            shaped(valid(sample()), &keys(1)),
            shaped(valid(sample()), &keys(2)),
        );
        assert_ne!(a.content_hash, b.content_hash, "another tenant's key");
        assert!(
            a.terms.iter().all(|t| !b.terms.contains(t)),
            "no shared posting"
        );
        let unkeyed: [u8; 32] = Sha256::digest(canonical_object(&valid(sample()).body)).into();
        assert_ne!(
            a.content_hash, unkeyed,
            "no dictionary check without the key"
        );
    }

    #[test]
    fn a_retry_that_differs_only_in_a_secret_is_the_same_event() {
        let none = |_: &mut Value| {};
        let (one, two) = (with_secret("hunter2", none), with_secret("letmein", none));
        assert_ne!(
            one.body["data"]["password"]["fingerprint"],
            two.body["data"]["password"]["fingerprint"]
        );
        let k = keys(1);
        let first = shaped(one, &k).content_hash;
        assert_eq!(first, shaped(two, &k).content_hash);
        let other = with_secret("hunter2", |v| v["data"]["kept"] = json!(2));
        assert_ne!(first, shaped(other, &k).content_hash);
        // A personal value is still part of what a retry compares (keyed: no offline check).
        let email = with_secret("hunter2", |v| {
            v["actor"]["email"] = json!("grace@example.com")
        });
        assert_ne!(first, shaped(email, &k).content_hash);
        // (A client cannot send an object that looks redacted: validation refuses `$redacted`.)
    }

    #[test]
    fn sealbooks_records_carry_the_recorded_by_term() {
        let mut own = valid(sample());
        own.body.insert("recorded_by".into(), json!("sealbook"));
        let k = keys(1);
        let b = k.search.term_key("b:sealbook");
        assert!(shaped(own, &k).terms.contains(&b));
        assert!(!shaped(valid(sample()), &k).terms.contains(&b));
    }

    #[test]
    fn stored_events_give_the_hashes_shaping_gave() {
        let t = TenantId::parse("acme").unwrap();
        let k = keys(3);
        let mut own = sample();
        own["data"] = json!({"email": "ada@example.com", "n": 1.5});
        let mut own = valid(own);
        own.body.insert("recorded_by".into(), json!("sealbook"));
        let mut redacted = sample();
        redacted["data"] = json!({"password": "hunter2", "kept": 1});
        let mut ev = valid(redacted);
        crate::redact::redact(&mut ev.body, &[9; 32], &[]);
        let extra = ["/data/email".to_owned()];
        for (ev, extra) in [(valid(sample()), &[][..]), (own, &extra[..]), (ev, &[][..])] {
            let body = ev.body.clone();
            let s = shape_with(
                ev,
                &t,
                time::macros::datetime!(2026-01-31 10:00:01.5 UTC),
                &mut Counter(5),
                extra,
                &k,
            );
            let personal: Vec<PersonalValue> = serde_json::from_slice(&s.personal).unwrap();
            assert_eq!(client_event(&s.leaf, &personal).unwrap(), body);
            assert_eq!(
                stored_event_hashes(&s.leaf, &personal, &k).unwrap(),
                EventHashes {
                    terms: s.terms.clone(),
                    content_hash: s.content_hash
                }
            );
            assert_ne!(
                stored_event_hashes(&s.leaf, &personal, &keys(4))
                    .unwrap()
                    .terms,
                s.terms,
                "under another key"
            );
        }
    }

    #[test]
    fn erased_and_mismatched_personal_values() {
        let k = keys(3);
        let s = shaped(valid(sample()), &k);
        let mut personal: Vec<PersonalValue> = serde_json::from_slice(&s.personal).unwrap();
        // An erased actor id: no posting for it, and the retry form covers the commitment.
        personal.retain(|p| p.path != "/actor/id");
        let erased = stored_event_hashes(&s.leaf, &personal, &k).unwrap();
        assert!(!erased.terms.contains(&k.search.term_key("a:u-7")));
        assert!(erased.terms.contains(&k.search.term_key("s:u-9")));
        assert_ne!(erased.content_hash, s.content_hash);
        // A value that is not the committed one is refused, not hashed.
        personal[0].value = json!("someone else");
        assert!(matches!(
            stored_event_hashes(&s.leaf, &personal, &k),
            Err(RehashError::Personal { index: 0, .. })
        ));
        assert_eq!(stored_event_hashes(b"[1]", &[], &k), Err(RehashError::Leaf));
        assert_eq!(stored_event_hashes(b"{", &[], &k), Err(RehashError::Leaf));
    }

    #[test]
    fn assigns_uuid_v7_when_absent() {
        let mut v = sample();
        v.as_object_mut().unwrap().remove("id");
        let s = shape(
            valid(v),
            &TenantId::parse("acme").unwrap(),
            OffsetDateTime::UNIX_EPOCH,
            &mut Counter(0),
            &keys(1),
        );
        let id = uuid::Uuid::parse_str(&s.id).unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert!(!s.client_id);
    }
}
