//! The OpenAPI document is the contract client generators build on. Schemathesis (pinned and
//! installed by `scripts/schemathesis.sh`) generates requests from `/openapi.json` for every
//! operation and runs every check against a real server: any status code, content type, header or
//! body the document does not describe fails the test, as does any server error or a request the
//! document allows that the server refuses.

use crate::common::{event, tempdir, Server, ALL_SCOPES};
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/schemathesis.sh");

fn schemathesis(s: &Server, token: &str) {
    // A fixed seed by default, so that CI replays the same cases; set ST_SEED to explore others.
    let seed = std::env::var("ST_SEED").unwrap_or_else(|_| "1".to_owned());
    let out = Command::new("bash")
        .arg(SCRIPT)
        .env("ST_SEED", seed)
        .arg(&s.url)
        .arg(token)
        .output()
        .expect("run scripts/schemathesis.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found contract failures:\n{stdout}\n{stderr}"
    );
}

#[test]
fn schemathesis_finds_no_contract_failure_with_a_tenant_key_of_every_scope() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (_, key) = s.create_key("acme", ALL_SCOPES);
    // Some events, so that reads, proofs and tiles answer with data, not only with 404s.
    let batch: Vec<_> = (0..20).map(|i| event(&format!("st-{i}"))).collect();
    s.ingest(&key, &serde_json::Value::Array(batch));
    s.sign_checkpoint(&key);
    schemathesis(&s, &key);
}

#[test]
fn schemathesis_finds_no_contract_failure_with_the_operator_token() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    s.ingest(&key, &event("st-op"));
    let admin = s.admin.clone();
    schemathesis(&s, &admin);
}
