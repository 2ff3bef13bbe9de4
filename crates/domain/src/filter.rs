//! What a search asks for: validated filters, the opaque cursor, and the index terms that both the
//! ingest side (writing postings) and the search side (looking them up) must spell identically.
//!
//! Index keys are keyed hashes (see [`crate::SearchKey`]): a filter is built with the tenant's
//! search key and carries it, so a store computes the same keys ingest wrote without holding any
//! key itself.

use crate::keys::SearchKey;
use crate::timestamp;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use std::collections::HashSet;

/// Largest page a search may ask for.
pub(crate) const MAX_LIMIT: usize = 1000;
/// Page size when none is given.
pub(crate) const DEFAULT_LIMIT: usize = 100;

/// The subject filter: `type:id` or a bare id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectFilter(pub String);

/// The type filter: exact, or every type under a prefix (`order.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFilter {
    /// Exactly this type.
    Exact(String),
    /// Types starting with this prefix, which ends with a dot (`order.`).
    Prefix(String),
}

/// One `ref=key:value` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFilter {
    /// Reference name, e.g. `order_number`.
    pub key: String,
    /// Reference value.
    pub value: String,
}

/// Who recorded an event: the `recorded_by` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedBy {
    /// Sealbook's own records (key changes, exports, catalog changes, redaction questions): the
    /// events carrying `"recorded_by": "sealbook"`, a field no client can send.
    Sealbook,
    /// Everything a client sent.
    Client,
}

/// The value of `recorded_by` on Sealbook's own records.
pub const SEALBOOK: &str = "sealbook";

/// Position in a result list: results continue with indexes strictly below this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub u64);

impl Cursor {
    /// The opaque form handed to clients.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}", self.0))
    }

    /// Parses what [`Cursor::encode`] produced.
    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
        let text = std::str::from_utf8(&raw).ok()?;
        text.strip_prefix("v1:")?.parse().ok().map(Cursor)
    }
}

/// A validated search over one tenant's events, newest (highest index) first. Built only by
/// [`EventFilter::from_query`], with the tenant's search key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Actor id.
    pub actor: Option<String>,
    /// Actor type.
    pub actor_type: Option<String>,
    /// Subject `type:id` or id.
    pub subject: Option<SubjectFilter>,
    /// Subject type.
    pub subject_type: Option<String>,
    /// Event type, exact or prefix.
    pub event_type: Option<TypeFilter>,
    /// Outcome.
    pub outcome: Option<String>,
    /// `occurred_at >= since`, in microseconds.
    pub since: Option<i64>,
    /// `occurred_at < until`, in microseconds.
    pub until: Option<i64>,
    /// `context.correlation_id`.
    pub correlation_id: Option<String>,
    /// Every one of these references must match.
    pub refs: Vec<RefFilter>,
    /// Every one of these words must occur in names, references or the reason.
    pub words: Vec<String>,
    /// Sealbook's own records, or clients' events.
    pub recorded_by: Option<RecordedBy>,
    /// Page size, 1..=1000.
    pub limit: usize,
    /// Continue below this index.
    pub cursor: Option<Cursor>,
    /// Only indexes above this one: what came since a reader last looked (set by Sealbook itself,
    /// not a query parameter).
    pub after: Option<u64>,
    /// The tenant's search key: what [`EventFilter::term_keys`] hashes terms with.
    search: SearchKey,
}

/// A query parameter that cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("query parameter {param}: {problem}")]
pub struct FilterError {
    /// The parameter's name.
    pub param: String,
    /// What is wrong with it.
    pub problem: String,
}

fn ferr(param: &str, problem: impl Into<String>) -> FilterError {
    FilterError {
        param: param.into(),
        problem: problem.into(),
    }
}

impl EventFilter {
    /// Builds a filter of the tenant whose search key is `search` from URL query pairs. Unknown or
    /// repeated (other than `ref`) parameters are refused, so a typo never silently widens a
    /// search.
    pub fn from_query(
        pairs: &[(String, String)],
        search: &SearchKey,
    ) -> Result<EventFilter, FilterError> {
        let mut f = EventFilter {
            actor: None,
            actor_type: None,
            subject: None,
            subject_type: None,
            event_type: None,
            outcome: None,
            since: None,
            until: None,
            correlation_id: None,
            refs: Vec::new(),
            words: Vec::new(),
            recorded_by: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
            after: None,
            search: search.clone(),
        };
        let mut seen = std::collections::HashSet::new();
        for (k, v) in pairs {
            if k != "ref" && !seen.insert(k.as_str()) {
                return Err(ferr(k, "given more than once"));
            }
            if v.is_empty() {
                return Err(ferr(k, "must not be empty"));
            }
            match k.as_str() {
                "actor" => f.actor = Some(v.clone()),
                "actor_type" => f.actor_type = Some(v.clone()),
                "subject" => f.subject = Some(SubjectFilter(v.clone())),
                "subject_type" => f.subject_type = Some(v.clone()),
                "type" => {
                    f.event_type = Some(match v.strip_suffix('*') {
                        Some(prefix) if prefix.ends_with('.') => {
                            TypeFilter::Prefix(prefix.to_owned())
                        }
                        Some(_) => return Err(ferr(k, "a prefix ends with \".*\", e.g. order.*")),
                        None => TypeFilter::Exact(v.clone()),
                    })
                }
                "outcome" => {
                    if !["success", "failure", "denied"].contains(&v.as_str()) {
                        return Err(ferr(k, "must be success, failure or denied"));
                    }
                    f.outcome = Some(v.clone());
                }
                "since" | "until" => {
                    let t = timestamp::parse(v).map_err(|e| ferr(k, e.to_string()))?;
                    if k == "since" {
                        f.since = Some(t.micros);
                    } else {
                        f.until = Some(t.micros);
                    }
                }
                "correlation_id" => f.correlation_id = Some(v.clone()),
                "recorded_by" => {
                    f.recorded_by = Some(match v.as_str() {
                        SEALBOOK => RecordedBy::Sealbook,
                        "client" => RecordedBy::Client,
                        _ => return Err(ferr(k, "must be sealbook or client")),
                    })
                }
                "ref" => {
                    let (key, value) = v
                        .split_once(':')
                        .ok_or_else(|| ferr(k, "must be key:value, e.g. order_number:PO-1"))?;
                    f.refs.push(RefFilter {
                        key: key.into(),
                        value: value.into(),
                    });
                }
                "q" => {
                    f.words = words(v);
                    if f.words.is_empty() {
                        return Err(ferr(
                            k,
                            "holds no searchable word (letters or digits, 2+ characters)",
                        ));
                    }
                }
                "limit" => {
                    f.limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| {
                            ferr(k, format!("must be an integer from 1 to {MAX_LIMIT}"))
                        })?;
                }
                "cursor" => {
                    f.cursor = Some(
                        Cursor::decode(v)
                            .ok_or_else(|| ferr(k, "is not a cursor this server issued"))?,
                    )
                }
                _ => return Err(ferr(k, "unknown parameter")),
            }
        }
        Ok(f)
    }

    /// The index keys every matching event carries, most selective first: the terms hashed with
    /// the tenant's search key, as ingest hashed them.
    pub fn term_keys(&self) -> Vec<i64> {
        self.terms()
            .iter()
            .map(|t| self.search.term_key(t))
            .collect()
    }

    /// Whether the filter has no condition at all (cursor, `after` and limit aside: a store
    /// applies those by index): it selects every event, so a store MAY skip
    /// [`EventFilter::matches`].
    pub fn selects_everything(&self) -> bool {
        self.actor.is_none()
            && self.actor_type.is_none()
            && self.subject.is_none()
            && self.subject_type.is_none()
            && self.event_type.is_none()
            && self.outcome.is_none()
            && self.since.is_none()
            && self.until.is_none()
            && self.correlation_id.is_none()
            && self.refs.is_empty()
            && self.words.is_empty()
            && self.recorded_by.is_none()
    }

    /// Whether a reader's view of an event (see [`crate::view::event_view`]) satisfies every
    /// part of this filter (cursor and limit aside).
    ///
    /// Index keys are 64-bit hashes, so a store may return a candidate whose key merely collides;
    /// stores check candidates with this predicate so that results are exact.
    pub fn matches(&self, view: &Value) -> bool {
        let Some(body) = view.as_object() else {
            return false;
        };
        let s = |p: &str| crate::shape::pointer(body, p).and_then(Value::as_str);
        let wanted = self.terms();
        if !wanted.is_empty() {
            let have = crate::shape::index_terms(body);
            if !wanted.iter().all(|t| have.contains(t)) {
                return false;
            }
        }
        if self.recorded_by == Some(RecordedBy::Client) && s("/recorded_by") == Some(SEALBOOK) {
            return false;
        }
        if let Some(TypeFilter::Prefix(p)) = &self.event_type {
            if !s("/type").is_some_and(|t| t.starts_with(p.as_str())) {
                return false;
            }
        }
        let eq =
            |want: &Option<String>, path: &str| want.as_deref().is_none_or(|w| s(path) == Some(w));
        if !eq(&self.outcome, "/outcome")
            || !eq(&self.actor_type, "/actor/type")
            || !eq(&self.subject_type, "/subject/type")
        {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(at) = s("/occurred_at").and_then(|t| timestamp::parse(t).ok()) else {
                return false;
            };
            if self.since.is_some_and(|since| at.micros < since)
                || self.until.is_some_and(|until| at.micros >= until)
            {
                return false;
            }
        }
        true
    }

    /// The index terms that every matching event must carry, most selective first.
    fn terms(&self) -> Vec<String> {
        let mut t = Vec::new();
        if let Some(c) = &self.correlation_id {
            t.push(term::correlation(c));
        }
        for r in &self.refs {
            t.push(term::reference(&r.key, &r.value));
        }
        if let Some(a) = &self.actor {
            t.push(term::actor(a));
        }
        if let Some(SubjectFilter(s)) = &self.subject {
            t.push(term::subject(s));
        }
        for w in &self.words {
            t.push(term::word(w));
        }
        if let Some(TypeFilter::Exact(ty)) = &self.event_type {
            t.push(term::event_type(ty));
        }
        // Sealbook's own records are few, so their term is selective; clients' events have none
        // (a posting on nearly every event would select nothing): that side is the predicate's.
        if self.recorded_by == Some(RecordedBy::Sealbook) {
            t.push(term::recorded_by(SEALBOOK));
        }
        t
    }
}

/// Most distinct words taken from one text: an event's names, references and reason (its search
/// words) or a search's `q`. Beyond it, words are not indexed, so one verbose event cannot bloat
/// the index nor make ingest and every search re-check cost more.
pub(crate) const MAX_WORDS: usize = 64;

/// Splits text into lowercase search words: runs of letters and digits, 2 to 64 characters, the
/// first [`MAX_WORDS`] distinct ones in order. Linear in the text: a set de-duplicates.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        if out.len() == MAX_WORDS {
            break;
        }
        // 64 characters are at most 256 bytes; longer runs are not words, and are not counted.
        if w.len() < 2 || w.len() > 256 {
            continue;
        }
        let n = w.chars().count();
        if (2..=64).contains(&n) {
            let w = w.to_lowercase();
            if !seen.contains(&w) {
                seen.insert(w.clone());
                out.push(w);
            }
        }
    }
    out
}

/// The spelling of index terms. One place, so writer and reader can never disagree.
pub(crate) mod term {
    pub(crate) fn actor(id: &str) -> String {
        format!("a:{id}")
    }
    /// Both `type:id` and the bare id are indexed under the same prefix, so one lookup serves either
    /// form of the subject filter.
    pub(crate) fn subject(s: &str) -> String {
        format!("s:{s}")
    }
    pub(crate) fn event_type(t: &str) -> String {
        format!("t:{t}")
    }
    pub(crate) fn correlation(c: &str) -> String {
        format!("c:{c}")
    }
    pub(crate) fn reference(k: &str, v: &str) -> String {
        format!("r:{k}:{v}")
    }
    pub(crate) fn word(w: &str) -> String {
        format!("w:{w}")
    }
    /// Only Sealbook's own records carry one (see `EventFilter::terms`).
    pub(crate) fn recorded_by(who: &str) -> String {
        format!("b:{who}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<EventFilter, FilterError> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        EventFilter::from_query(&v, &SearchKey::new(&[1; 32]))
    }

    #[test]
    fn only_a_filter_without_conditions_selects_everything() {
        assert!(q(&[]).unwrap().selects_everything());
        assert!(q(&[("limit", "5"), ("cursor", &Cursor(9).encode())])
            .unwrap()
            .selects_everything());
        for (k, v) in [
            ("actor", "u-1"),
            ("actor_type", "user"),
            ("subject", "order:1"),
            ("subject_type", "order"),
            ("type", "order.created"),
            ("type", "order.*"),
            ("outcome", "failure"),
            ("since", "2026-01-01T00:00:00Z"),
            ("until", "2026-01-01T00:00:00Z"),
            ("correlation_id", "c-1"),
            ("ref", "po:1"),
            ("q", "ada"),
            ("recorded_by", "client"),
            ("recorded_by", "sealbook"),
        ] {
            assert!(!q(&[(k, v)]).unwrap().selects_everything(), "{k}={v}");
        }
    }

    #[test]
    fn parses_filters() {
        let f = q(&[
            ("type", "order.*"),
            ("ref", "po:1"),
            ("ref", "lot:A:2"),
            ("limit", "5"),
            ("q", "Ada LOVELACE"),
        ])
        .unwrap();
        assert_eq!(f.event_type, Some(TypeFilter::Prefix("order.".into())));
        assert_eq!(
            f.refs[1],
            RefFilter {
                key: "lot".into(),
                value: "A:2".into()
            }
        );
        assert_eq!(f.limit, 5);
        assert_eq!(f.words, vec!["ada", "lovelace"]);
    }

    #[test]
    fn refuses_bad_parameters() {
        assert_eq!(q(&[("acter", "x")]).unwrap_err().param, "acter");
        assert!(q(&[("limit", "0")]).is_err());
        assert!(q(&[("limit", "1001")]).is_err());
        assert!(q(&[("since", "2026-01-01")]).is_err());
        assert!(q(&[("cursor", "bm9wZQ")]).is_err());
        assert!(q(&[("actor", "a"), ("actor", "b")]).is_err());
        assert!(q(&[("type", "order*")]).is_err());
    }

    /// 100 references of 60 distinct words each (the reproduction): the first 64
    /// distinct words, in order, and nothing beyond; repeats count once.
    #[test]
    fn words_are_capped_and_distinct() {
        let text: String = (0..6000).map(|i| format!("w{i} ")).collect();
        let w = words(&text);
        assert_eq!(w.len(), MAX_WORDS);
        assert_eq!(MAX_WORDS, 64);
        assert_eq!(w[0], "w0");
        assert_eq!(w[63], "w63");
        let w = words("Ada ada ADA lovelace x ada Lovelace");
        assert_eq!(w, vec!["ada", "lovelace"]);
        let repeated: String = "same ".repeat(10_000) + "other";
        assert_eq!(words(&repeated), vec!["same", "other"]);
    }

    #[test]
    fn cursor_round_trip() {
        assert_eq!(Cursor::decode(&Cursor(42).encode()), Some(Cursor(42)));
    }
}

#[cfg(test)]
mod matching {
    use super::*;
    use serde_json::json;

    fn f(pairs: &[(&str, &str)]) -> EventFilter {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        EventFilter::from_query(&v, &SearchKey::new(&[1; 32])).unwrap()
    }

    #[test]
    fn term_keys_are_keyed_per_tenant() {
        let pairs = [("actor".to_string(), "u-7".to_string())];
        let a = EventFilter::from_query(&pairs, &SearchKey::new(&[1; 32])).unwrap();
        let b = EventFilter::from_query(&pairs, &SearchKey::new(&[2; 32])).unwrap();
        assert_eq!(
            a.term_keys(),
            vec![SearchKey::new(&[1; 32]).term_key("a:u-7")]
        );
        assert_ne!(a.term_keys(), b.term_keys(), "another key, other postings");
    }

    #[test]
    fn recorded_by_selects_sealbooks_records_or_clients_events() {
        let own = json!({"type": "api_key.created", "recorded_by": "sealbook"});
        let sent = json!({"type": "api_key.created"});
        let sealbook = f(&[("recorded_by", "sealbook")]);
        let client = f(&[("recorded_by", "client")]);
        assert!(sealbook.matches(&own) && !sealbook.matches(&sent));
        assert!(client.matches(&sent) && !client.matches(&own));
        assert_eq!(
            sealbook.term_keys().len(),
            1,
            "Sealbook's records have a posting"
        );
        assert!(client.term_keys().is_empty(), "clients' events have none");
        let bad = EventFilter::from_query(
            &[("recorded_by".into(), "me".into())],
            &SearchKey::new(&[1; 32]),
        );
        assert_eq!(bad.unwrap_err().param, "recorded_by");
    }

    #[test]
    fn predicate_checks_every_part() {
        let view = json!({"type": "order.created", "occurred_at": "2026-01-01T00:00:00Z", "outcome": "denied",
            "actor": {"type": "user", "id": "u1", "name": "Ada Lovelace"}, "subject": {"type": "order", "id": "o1"},
            "refs": {"po": "PO-1"}, "context": {"correlation_id": "c1"}});
        for yes in [
            vec![],
            vec![("actor", "u1")],
            vec![("subject", "order:o1")],
            vec![("subject", "o1")],
            vec![("type", "order.*")],
            vec![("type", "order.created"), ("outcome", "denied")],
            vec![("ref", "po:PO-1"), ("q", "lovelace")],
            vec![
                ("since", "2026-01-01T00:00:00Z"),
                ("until", "2026-01-01T00:00:01Z"),
            ],
            vec![("correlation_id", "c1")],
            vec![("actor_type", "user"), ("subject_type", "order")],
        ] {
            assert!(f(&yes).matches(&view), "{yes:?}");
        }
        for no in [
            vec![("actor", "u2")],
            vec![("subject", "order:o2")],
            vec![("type", "user.*")],
            vec![("outcome", "success")],
            vec![("ref", "po:PO-2")],
            vec![("q", "grace")],
            vec![("until", "2026-01-01T00:00:00Z")],
            vec![("since", "2026-01-01T00:00:01Z")],
            vec![("actor_type", "system")],
            vec![("correlation_id", "c2")],
        ] {
            assert!(!f(&no).matches(&view), "{no:?}");
        }
    }
}
