//! Helpers for end-to-end tests: start the real `sealbook serve` binary on a random loopback port
//! with a temporary data directory, and talk to it over real HTTP.

#![allow(dead_code, unreachable_pub, missing_docs)]

use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_sealbook");

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub admin: String,
    pub http: Client,
}

impl Server {
    /// Starts a server on a fresh temporary data directory.
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// Starts a server on `dir/data` (reusing what is there) with extra flags.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        let mut s = Server::spawn(dir, extra);
        s.admin = std::fs::read_to_string(s.data_dir.join("admin-token"))
            .unwrap()
            .trim()
            .to_owned();
        s
    }

    /// Starts a server whose operator token is supplied (`--admin-token-file` in `extra`).
    pub fn start_with_token(dir: &Path, extra: &[&str], token: &str) -> Server {
        let mut s = Server::spawn(dir, extra);
        s.admin = token.to_owned();
        s
    }

    fn spawn(dir: &Path, extra: &[&str]) -> Server {
        let data_dir = dir.join("data");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        // A random port unless the test names one (to restart a server where clients expect it).
        let listen: &[&str] = if extra.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(listen)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(extra)
            .env("SEALBOOK_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn sealbook serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("Sealbook listening on ")
                    .map(|u| u.trim().to_owned())
            })
            .unwrap_or_else(|| {
                panic!(
                    "server did not start; see {}",
                    dir.join("server.log").display()
                )
            });
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let http = Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Server {
            child,
            url,
            data_dir,
            admin: String::new(),
            http,
        }
    }

    /// SIGTERM and wait; returns whether the exit was clean.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap().success()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .unwrap()
    }

    pub fn post_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .unwrap()
    }

    pub fn put_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http
            .put(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .unwrap()
    }

    /// POST without a body, e.g. `/v1/log/checkpoint`.
    pub fn post_empty(&self, path: &str, token: &str) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .unwrap()
    }

    /// The one verifier key the server signs with (as served; a deployment pins it instead).
    pub fn verifier_key(&self, key: &str) -> String {
        self.get("/v1/log/verifier-keys", key)
            .text()
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Signs a checkpoint now and returns it.
    pub fn sign_checkpoint(&self, key: &str) -> String {
        let r = self.post_empty("/v1/log/checkpoint", key);
        assert_eq!(r.status(), 200);
        r.text().unwrap()
    }

    pub fn post_raw(&self, token: &str, content_type: &str, body: Vec<u8>) -> Response {
        self.http
            .post(format!("{}/v1/events", self.url))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap()
    }

    pub fn create_tenant(&self, id: &str) {
        let r = self.post_json(
            "/v1/tenants",
            &self.admin,
            &json!({"id": id, "name": format!("Tenant {id}")}),
        );
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    }

    /// Creates a key and returns (key id, secret).
    pub fn create_key(&self, tenant: &str, scopes: &[&str]) -> (String, String) {
        let r = self.post_json(
            &format!("/v1/tenants/{tenant}/keys"),
            &self.admin,
            &json!({"name": "test", "scopes": scopes}),
        );
        assert_eq!(r.status(), 201);
        let v: Value = r.json().unwrap();
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }

    /// A tenant with a read+write key.
    pub fn tenant_with_key(&self, tenant: &str) -> String {
        self.create_tenant(tenant);
        self.create_key(tenant, &["events:write", "events:read"]).1
    }

    pub fn ingest(&self, key: &str, events: &Value) -> Value {
        let r = self.post_json("/v1/events", key, events);
        let status = r.status();
        let body: Value = r.json().unwrap();
        assert!(
            status == 201 || status == 200,
            "ingest failed: {status} {body}"
        );
        body
    }

    /// Every event of the tenant, following cursors.
    pub fn all_events(&self, key: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = format!("/v1/events?limit=1000{query}");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let r = self.get(&q, key);
            assert_eq!(r.status(), 200);
            let page: Value = r.json().unwrap();
            out.extend(page["events"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A valid event with id `id`.
pub fn event(id: &str) -> Value {
    json!({
        "id": id,
        "type": "order.status_changed",
        "occurred_at": "2026-03-01T10:15:30.120+01:00",
        "actor": {"type": "user", "id": "u-42", "name": "Ada Lovelace", "email": "ada@example.com"},
        "subject": {"type": "order", "id": "o-1001"},
        "changes": [{"field": "status", "before": "open", "after": "shipped"}],
        "context": {"ip": "192.0.2.10", "correlation_id": "req-7"},
        "refs": {"order_number": "PO-1001"},
    })
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
