//! Events as CSV rows (RFC 4180), for spreadsheets: stable columns, one row per event, and no cell
//! a spreadsheet would run as a formula.
//!
//! Rows are made from the reader's view of an event ([`crate::view::event_view`], personal values
//! in the clear or still masked as commitments, as the reader may see them) and its rendered label.
//! The columns ([`COLUMNS`]) never change order; new ones are only ever added at the end.
//!
//! Safety, for a file that came from other people's events and is opened in Excel or LibreOffice:
//! - every cell is quoted when it holds a comma, a quote, CR or LF, quotes doubled (RFC 4180 §2);
//! - a cell that starts with `=`, `+`, `-`, `@`, TAB or CR is prefixed with `'`, so it is text and
//!   never a formula (OWASP "CSV injection"); the prefix is visible, which is the point: the value
//!   is shown as it was sent, and nothing runs;
//! - rows end with CRLF; the text is UTF-8 (an optional BOM, [`BOM`], makes Excel read it so).

use crate::view::display_text as text;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write;

/// The columns, in order: the header row.
pub const COLUMNS: [&str; 16] = [
    "time",
    "type",
    "label",
    "actor",
    "on_behalf_of",
    "subject",
    "outcome",
    "reason",
    "ticket",
    "correlation_id",
    "ip",
    "refs",
    "changes",
    "event_id",
    "index",
    "leaf_hash",
];

/// The UTF-8 byte order mark, for spreadsheets that otherwise guess a legacy encoding.
pub const BOM: &str = "\u{feff}";

/// The header row, CRLF-terminated.
pub fn header() -> String {
    let mut out = String::new();
    write_row(&mut out, COLUMNS.iter().map(|c| c.to_string()));
    out
}

/// One event's row, CRLF-terminated, from its reader view and rendered label.
pub fn row(view: &Value, label: Option<&str>) -> String {
    let mut out = String::new();
    row_into(&mut out, view, label);
    out
}

/// [`row`], appended to `out` (an export writes thousands of rows into one buffer).
pub fn row_into(out: &mut String, view: &Value, label: Option<&str>) {
    // Fields are reached with `get` by name, not JSON pointers: a pointer allocates for every
    // step it takes, and a row takes about twenty.
    let s = |path: &[&str]| cell(path.iter().try_fold(view, |v, k| v.get(*k)));
    let ticket = match s(&["reason", "ticket"]) {
        t if t.is_empty() => s(&["on_behalf_of", "impersonation", "ticket"]),
        t => t,
    };
    let changes = match view.get("changes") {
        Some(c @ Value::Array(items)) if !items.is_empty() => Cow::Owned(c.to_string()),
        _ => Cow::Borrowed(""),
    };
    let cells: [Cow<'_, str>; 16] = [
        s(&["occurred_at"]),
        s(&["type"]),
        Cow::Borrowed(label.unwrap_or_default()),
        Cow::Owned(party(view.get("actor"))),
        Cow::Owned(party(view.get("on_behalf_of"))),
        Cow::Owned(party(view.get("subject"))),
        s(&["outcome"]),
        s(&["reason", "code"]),
        ticket,
        s(&["context", "correlation_id"]),
        s(&["context", "ip"]),
        Cow::Owned(refs(view.get("refs"))),
        changes,
        s(&["id"]),
        s(&["index"]),
        s(&["leaf_hash"]),
    ];
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_cell(out, c);
    }
    out.push_str("\r\n");
}

/// A value as cell text ([`text`]), borrowed when it is a string already.
fn cell(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        None => Cow::Borrowed(""),
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(other) => Cow::Owned(text(other)),
    }
}

/// A party as `type:id (name)`.
fn party(v: Option<&Value>) -> String {
    let Some(p) = v.filter(|p| p.is_object()) else {
        return String::new();
    };
    let field = |k: &str| cell(p.get(k));
    let (t, id, name) = (field("type"), field("id"), field("name"));
    let mut out = if t.is_empty() {
        id.into_owned()
    } else {
        format!("{t}:{id}")
    };
    if !name.is_empty() {
        let _ = write!(out, " ({name})");
    }
    out
}

/// Business references as `key:value` pairs joined by `; `, in the event's order.
fn refs(v: Option<&Value>) -> String {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}:{}", text(v)))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    }
}

fn write_row(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_cell(out, &cell);
    }
    out.push_str("\r\n");
}

/// One cell: neutralised if a spreadsheet would read it as a formula, quoted if it must be.
fn write_cell(out: &mut String, cell: &str) {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || cell.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    // Quotes doubled; everything else copied as it is, a run at a time.
    let mut runs = cell.split('"');
    if let Some(first) = runs.next() {
        out.push_str(first);
    }
    for run in runs {
        out.push_str("\"\"");
        out.push_str(run);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal RFC 4180 reader, to check rows by their cells rather than by their bytes.
    fn cells(row: &str) -> Vec<String> {
        let row = row.strip_suffix("\r\n").expect("rows end with CRLF");
        let (mut out, mut cur, mut quoted, mut chars) =
            (Vec::new(), String::new(), false, row.chars().peekable());
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                ('"', _) => quoted = !quoted,
                (',', false) => out.push(std::mem::take(&mut cur)),
                (c, _) => cur.push(c),
            }
        }
        out.push(cur);
        out
    }

    #[test]
    fn the_header_names_every_column_once() {
        assert_eq!(cells(&header()), COLUMNS.to_vec());
    }

    #[test]
    fn a_row_has_every_column_in_order() {
        let v = json!({
            "id": "evt_1", "type": "order.status_changed", "occurred_at": "2026-11-02T10:00:00Z",
            "actor": {"type": "user", "id": "u-1", "name": "Ada, the \"admin\""},
            "on_behalf_of": {"type": "user", "id": "u-2", "impersonation": {"ticket": "SUP-9"}},
            "subject": {"type": "order", "id": "4472"},
            "outcome": "success",
            "reason": {"code": "customer_request"},
            "context": {"correlation_id": "c-1", "ip": "203.0.113.9"},
            "refs": {"order_number": "4472", "shipment": "S-1"},
            "changes": [{"field": "status", "before": "paid", "after": "shipped"}],
            "index": 41, "leaf_hash": "ab12",
        });
        let r = cells(&row(&v, Some("Ada changed order 4472")));
        assert_eq!(r.len(), COLUMNS.len());
        assert_eq!(
            r,
            vec![
                "2026-11-02T10:00:00Z",
                "order.status_changed",
                "Ada changed order 4472",
                "user:u-1 (Ada, the \"admin\")",
                "user:u-2",
                "order:4472",
                "success",
                "customer_request",
                "SUP-9",
                "c-1",
                "203.0.113.9",
                "order_number:4472; shipment:S-1",
                r#"[{"after":"shipped","before":"paid","field":"status"}]"#,
                "evt_1",
                "41",
                "ab12",
            ]
        );
    }

    #[test]
    fn formulas_are_neutralised_and_text_survives() {
        for (value, cell) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "'\r=1"),
            ("plain, with comma", "plain, with comma"),
            ("two\nlines", "two\nlines"),
            ("a=b", "a=b"),
        ] {
            let v = json!({"type": "x.y", "reason": {"code": value}});
            assert_eq!(cells(&row(&v, None))[7], cell, "{value:?}");
        }
        // The raw bytes: a neutralised cell is quoted, so the quote comes first.
        let v = json!({"type": "=cmd|' /C calc'!A0"});
        assert!(row(&v, None).starts_with(",\"'=cmd|' /C calc'!A0\","));
    }

    #[test]
    fn masked_and_redacted_values_never_show_their_content() {
        let v = json!({
            "type": "user.login_succeeded",
            "actor": {"type": "user", "id": "u-1", "name": {"$commitment": "c0ffee"}},
            "reason": {"code": {"$redacted": true, "preview": "••••4242", "fingerprint": "ff"}},
        });
        let r = cells(&row(&v, None));
        assert_eq!(r[3], "user:u-1 ([masked])");
        assert_eq!(r[7], "[redacted ••••4242]");
        assert!(!r.join("|").contains("c0ffee") && !r.join("|").contains("ff\""));
    }
}
