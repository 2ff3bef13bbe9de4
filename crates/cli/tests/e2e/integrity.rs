//! Integrity failures, end to end: stored data that cannot be what it must be answers
//! `500 log-integrity`, never "unavailable, retry later", and the server log names the tenant.

use crate::common::{event, tempdir, Server};
use serde_json::{json, Value};

/// A tenant's open tile is cut to 31 bytes in the SQLite file under the running server: the next
/// append cannot integrate, and says so as an integrity failure (no `Retry-After`: retrying cannot
/// help), while the log stays as it was.
#[test]
fn a_corrupt_tile_answers_log_integrity() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--checkpoint-interval", "1h"]);
    let key = s.tenant_with_key("acme");
    s.ingest(&key, &json!([event("e-1")]));

    let db = rusqlite::Connection::open(dir.path().join("data/sealbook.db")).unwrap();
    let cut = db
        .execute(
            "UPDATE tiles SET hashes = substr(hashes, 1, 31) \
             WHERE tenant_no = (SELECT no FROM tenants WHERE id = 'acme') AND level = 0 AND number = 0",
            [],
        )
        .unwrap();
    assert_eq!(cut, 1, "the open tile");

    let r = s.post_json("/v1/events", &key, &json!([event("e-2")]));
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    assert!(r.headers().get("retry-after").is_none(), "no Retry-After");
    let body: Value = r.json().unwrap();
    assert_eq!(body["type"], "urn:sealbook:problem:log-integrity", "{body}");
    assert_eq!(body["status"], 500);

    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    // Logged at error level with the tenant and the place as fields, not only as words.
    assert!(
        log.lines().any(|l| l.contains("ERROR")
            && l.contains("stored data is corrupt")
            && l.contains("tenant=\"acme\"")
            && l.contains("at=\"tile 0/0\"")),
        "the server log names the tenant:\n{log}"
    );
    assert_eq!(
        s.all_events(&key, "").len(),
        2,
        "nothing of the refused request was stored (the key's creation and e-1)"
    );
}
