//! What a filter asks of an event's own columns, once, for every backend to put into its SQL:
//! type prefix as a range, outcome, actor and subject types, and the time window. Terms (actor,
//! subject, references, words) go through each backend's postings instead.

use sealbook_domain::{EventFilter, TypeFilter};

/// A value compared with a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnValue {
    /// A text column.
    Text(String),
    /// An integer column (microseconds for `occurred_at`).
    Int(i64),
}

/// One condition: `column operator value`, with `column` and `operator` from a fixed set.
pub type ColumnCondition = (&'static str, &'static str, ColumnValue);

/// The column conditions of `f`.
pub fn column_conditions(f: &EventFilter) -> Vec<ColumnCondition> {
    use ColumnValue::{Int, Text};
    let mut out = Vec::new();
    if let Some(TypeFilter::Prefix(p)) = &f.event_type {
        // Types are ASCII with dots; every type under `p` sorts in [p, p with its dot raised to '/').
        out.push(("type", ">=", Text(p.clone())));
        out.push(("type", "<", Text(format!("{}/", &p[..p.len() - 1]))));
    }
    if let Some(o) = &f.outcome {
        out.push(("outcome", "=", Text(o.clone())));
    }
    if let Some(a) = &f.actor_type {
        out.push(("actor_type", "=", Text(a.clone())));
    }
    if let Some(s) = &f.subject_type {
        out.push(("subject_type", "=", Text(s.clone())));
    }
    if let Some(s) = f.since {
        out.push(("occurred_at", ">=", Int(s)));
    }
    if let Some(u) = f.until {
        out.push(("occurred_at", "<", Int(u)));
    }
    out
}
