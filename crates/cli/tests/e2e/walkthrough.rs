//! The README's one-minute walkthrough, as a test: start the server, create a tenant and a key with
//! the CLI, post an event, read it back.

use crate::common::*;
use serde_json::Value;
use std::process::Command;

fn cli(server: &Server, args: &[&str]) -> (String, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["--url", &server.url, "--admin-token-file"])
        .arg(server.data_dir.join("admin-token"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn one_minute_walkthrough() {
    let dir = tempdir();
    let server = Server::process(dir.path());

    // The token file exists, is private, and the token never appears on stdout.
    let token_file = server.data_dir.join("admin-token");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        !log.contains(&server.admin),
        "the operator token must never be logged"
    );

    cli(
        &server,
        &["tenant", "create", "acme", "--name", "Acme Corp"],
    );
    let (key, details) = cli(
        &server,
        &[
            "key",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "events:write,events:read",
            "--name",
            "orders-service",
        ],
    );
    let key = key.trim();
    assert!(
        key.starts_with("sbk_") && !key.contains(char::is_whitespace),
        "stdout holds only the key: {key:?}"
    );
    assert!(details.contains("created key key_"), "{details}");

    let r = server.post_json("/v1/events", key, &event("evt-1"));
    assert_eq!(r.status(), 201);
    let receipt: Value = r.json().unwrap();
    let receipt = &receipt["receipts"][0];
    assert_eq!(receipt["id"], "evt-1");
    assert_eq!(
        receipt["index"], 1,
        "index 0 is the key's own creation, audited in the tenant log"
    );
    assert_eq!(receipt["leaf_hash"].as_str().unwrap().len(), 64);

    let got: Value = server.get("/v1/events/evt-1", key).json().unwrap();
    assert_eq!(got["actor"]["name"], "Ada Lovelace");
    assert_eq!(got["occurred_at"], "2026-03-01T09:15:30.120Z");
    assert_eq!(got["leaf_hash"], receipt["leaf_hash"]);
    assert!(got["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(got["tenant"], "acme");

    let page: Value = server.get("/v1/events?actor=u-42", key).json().unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 1);

    // Sealbook audits itself: the key's creation is an event in the tenant's own log.
    let page: Value = server
        .get("/v1/events?type=api_key.created", key)
        .json()
        .unwrap();
    let created = &page["events"][0];
    assert_eq!(created["actor"]["id"], "platform-operator");
    assert!(
        !created.to_string().contains(key),
        "the secret is never in the log"
    );

    // key list / revoke through the CLI.
    let (list, _) = cli(&server, &["key", "list", "--tenant", "acme", "--json"]);
    let keys: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(!list.contains(key));
    let key_id = keys[0]["id"].as_str().unwrap();
    cli(&server, &["key", "revoke", "--tenant", "acme", key_id]);
    assert_eq!(server.get("/v1/events", key).status(), 401);
    let page: Value = server
        .get(
            "/v1/events?type=api_key.revoked",
            &server.create_key("acme", &["events:read"]).1,
        )
        .json()
        .unwrap();
    assert_eq!(page["events"][0]["subject"]["id"], key_id);

    assert!(server.stop(), "clean shutdown on SIGTERM");
}

#[test]
fn operations_endpoints() {
    let dir = tempdir();
    let server = Server::process(dir.path());
    let key = server.tenant_with_key("ops");
    server.ingest(&key, &event("m-1"));
    assert_eq!(
        server
            .http
            .get(format!("{}/healthz", server.url))
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        server
            .http
            .get(format!("{}/readyz", server.url))
            .send()
            .unwrap()
            .status(),
        200
    );
    let doc: Value = server
        .http
        .get(format!("{}/openapi.json", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/events"]["post"].is_object());

    assert_eq!(
        server
            .http
            .get(format!("{}/metrics", server.url))
            .send()
            .unwrap()
            .status(),
        401,
        "metrics name tenants: operator only"
    );
    let text = server.get("/metrics", &server.admin).text().unwrap();
    assert!(
        text.contains("sealbook_events_accepted_total{tenant=\"ops\"}"),
        "{text}"
    );
    assert!(text.contains("sealbook_commit_seconds_bucket"), "{text}");
    assert!(text.contains("sealbook_batch_events_bucket"), "{text}");
    assert!(
        text.contains("sealbook_http_request_duration_seconds_bucket{route=\"/v1/events\""),
        "{text}"
    );
}

#[test]
fn config_file_and_environment() {
    let dir = tempdir();
    let token_file = dir.path().join("operator-token");
    std::fs::write(&token_file, "sba_my-own-operator-token-of-enough-length\n").unwrap();
    let config = dir.path().join("sealbook.toml");
    std::fs::write(
        &config,
        "rate_limit_per_key = 1\n[limits]\nmax_batch_events = 2\n",
    )
    .unwrap();
    let server = Server::start_with_token(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--admin-token-file",
            token_file.to_str().unwrap(),
        ],
        "sba_my-own-operator-token-of-enough-length",
    );
    assert!(
        !server.data_dir.join("admin-token").exists(),
        "a supplied token is not replaced by a generated one"
    );
    let key = server.tenant_with_key("cfg");
    let three = serde_json::json!([event("a"), event("b"), event("c")]);
    let r = server.post_json("/v1/events", &key, &three);
    assert_eq!(r.status(), 413, "the file's batch limit applies");
    // Rate limit: 1 request/s with a burst of 2; the request above used one token.
    let statuses: Vec<u16> = (0..3)
        .map(|i| {
            server
                .post_json("/v1/events", &key, &event(&format!("r{i}")))
                .status()
                .as_u16()
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    let r = server.post_json("/v1/events", &key, &event("late"));
    if r.status() == 429 {
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1);
        let p: Value = r.json().unwrap();
        assert_eq!(p["type"], "urn:sealbook:problem:rate-limited");
    }
}

#[test]
fn rust_client_round_trip_with_awkward_ids() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let key = server.tenant_with_key("acme");
    let (_, admin_key) = server.create_key("acme", &["tenant:admin"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = sealbook_client::Client::new(&server.url, &key).unwrap();
        // Characters that must be percent-encoded in a path and in a query.
        let id = "ord/1 ?#&=%ü";
        let mut e = event(id);
        e["refs"] = serde_json::json!({"order_number": "PO 1&2=3"});
        let receipts = client.send(&[e]).await.unwrap();
        assert_eq!(receipts[0].id, id);
        assert_eq!(client.event(id).await.unwrap()["id"], id);
        let page = client
            .search(&[("ref", "order_number:PO 1&2=3")])
            .await
            .unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0]["id"], id);
        match client.event("missing").await {
            Err(sealbook_client::ClientError::Problem {
                status: 404,
                problem,
                ..
            }) => {
                assert_eq!(problem.kind, "urn:sealbook:problem:not-found")
            }
            other => panic!("{other:?}"),
        }
        // The embedded viewer, minted through the SDK with a tenant:admin key.
        let admin = sealbook_client::Client::new(&server.url, &admin_key).unwrap();
        let minted = admin
            .create_viewer_token(
                &serde_json::json!({"subject": "order:o-1001", "ttl_seconds": 300}),
            )
            .await
            .unwrap();
        let url = format!("{}{}", server.url, minted["url"].as_str().unwrap());
        let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
        assert!(
            page.contains("Audit log") && page.contains("subject order:o-1001"),
            "{page}"
        );
        match admin
            .create_viewer_token(&serde_json::json!({"ttl_seconds": 1}))
            .await
        {
            Err(e) => assert_eq!(
                e.problem_kind(),
                Some(sealbook_client::ProblemKind::InvalidEvent)
            ),
            Ok(v) => panic!("{v}"),
        }
        match client.create_viewer_token(&serde_json::json!({})).await {
            Err(e) => assert_eq!(
                e.problem_kind(),
                Some(sealbook_client::ProblemKind::Forbidden)
            ),
            Ok(v) => panic!("{v}"),
        }
    });
}
