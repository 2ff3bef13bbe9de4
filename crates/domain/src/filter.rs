//! What a search asks for: validated filters, the opaque cursor, and the index terms that both the
//! ingest side (writing postings) and the search side (looking them up) must spell identically.

use crate::timestamp;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

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

/// A validated search over one tenant's events, newest (highest index) first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    /// Page size, 1..=1000.
    pub limit: usize,
    /// Continue below this index.
    pub cursor: Option<Cursor>,
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
    /// Builds a filter from URL query pairs. Unknown or repeated (other than `ref`) parameters are
    /// refused, so a typo never silently widens a search.
    pub fn from_query(pairs: &[(String, String)]) -> Result<EventFilter, FilterError> {
        let mut f = EventFilter {
            limit: DEFAULT_LIMIT,
            ..EventFilter::default()
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

    /// The index terms that every matching event must carry, most selective first.
    pub fn terms(&self) -> Vec<String> {
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
        t
    }
}

/// Splits text into lowercase search words: runs of letters and digits, 2 to 64 characters.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        let n = w.chars().count();
        if (2..=64).contains(&n) {
            let w = w.to_lowercase();
            if !out.contains(&w) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<EventFilter, FilterError> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        EventFilter::from_query(&v)
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

    #[test]
    fn cursor_round_trip() {
        assert_eq!(Cursor::decode(&Cursor(42).encode()), Some(Cursor(42)));
    }
}
