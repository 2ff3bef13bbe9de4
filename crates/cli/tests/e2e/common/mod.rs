//! Helpers for end-to-end tests: start a server on a random loopback port with a temporary data
//! directory, in this process through `sealbook::Server` (the same call `sealbook serve` makes) or
//! as the real binary where a test needs a process, and talk to it over real HTTP.

#![allow(dead_code, unreachable_pub, missing_docs)]

use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_sealbook");

/// Every scope a tenant key can have.
pub const ALL_SCOPES: &[&str] = &[
    "events:write",
    "events:read",
    "events:export",
    "tenant:admin",
];

/// A running server: in this test process (the default, [`Server::start`]) or as a real
/// `sealbook serve` process ([`Server::process`]) for tests that need one (kill -9, signals).
pub struct Server {
    runner: Runner,
    pub url: String,
    pub data_dir: PathBuf,
    pub admin: String,
    pub http: Client,
}

enum Runner {
    Process(Child),
    InProcess {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    },
    Stopped,
}

impl Server {
    /// Starts a server in-process on a fresh temporary data directory.
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// Starts a server in-process on `dir/data` (reusing what is there) with the flags of
    /// `sealbook serve`.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        let mut s = Server::in_process(dir, extra);
        s.admin = read_token(&s.data_dir);
        s
    }

    /// Starts a server in-process whose operator token is supplied (`--admin-token-file` in
    /// `extra`).
    pub fn start_with_token(dir: &Path, extra: &[&str], token: &str) -> Server {
        let mut s = Server::in_process(dir, extra);
        s.admin = token.to_owned();
        s
    }

    /// Starts the real `sealbook serve` binary (for kill -9, signals, stdout).
    pub fn process(dir: &Path) -> Server {
        Server::process_with(dir, &[])
    }

    /// Starts the real binary on `dir/data` with extra flags.
    pub fn process_with(dir: &Path, extra: &[&str]) -> Server {
        let mut s = Server::spawn(dir, extra);
        s.admin = read_token(&s.data_dir);
        s
    }

    /// The flags every test server gets: the data directory and, unless the test names one (to
    /// restart a server where clients expect it), a random loopback port.
    fn flags(data_dir: &Path, extra: &[&str]) -> Vec<String> {
        let mut flags = vec!["--data-dir".to_owned(), data_dir.display().to_string()];
        if !extra.contains(&"--listen") {
            flags.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
        }
        // The request limits are on by default; most tests send bursts a person never would, so
        // they run without them unless they ask (the `limits` module tests the defaults' effects),
        // or bring a configuration file (a flag would beat the file's setting).
        let with_file = extra.contains(&"--config");
        for flag in [
            "--rate-limit-per-key",
            "--auth-failures-per-ip",
            "--checkpoint-requests-per-tenant",
        ] {
            if !extra.contains(&flag) && !with_file {
                flags.extend([flag.to_owned(), "0".to_owned()]);
            }
        }
        flags.extend(extra.iter().map(|s| (*s).to_owned()));
        flags
    }

    fn in_process(dir: &Path, extra: &[&str]) -> Server {
        let data_dir = dir.join("data");
        let config = sealbook::ServeArgs::parse_flags(Server::flags(&data_dir, extra))
            .expect("serve flags")
            .resolve()
            .expect("serve configuration");
        // The server's log goes to `dir/server.log`, as the binary's stderr would: every thread
        // of this server's own runtime logs there, and nothing else does.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(log))
                .finish(),
        );
        let on_start = dispatch.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || std::mem::forget(tracing::dispatcher::set_default(&on_start)))
            .build()
            .unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _log = tracing::dispatcher::set_default(&dispatch);
            runtime.block_on(async move {
                match sealbook::Server::build(config, None).await {
                    Ok(server) => {
                        let _ = ready_tx.send(Ok(server.local_addr()));
                        server
                            .run(async {
                                let _ = stop_rx.await;
                            })
                            .await
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("{e:#}")));
                        Err(e)
                    }
                }
            })
        });
        let addr = match ready_rx.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => panic!("server did not start: {e}"),
            Err(_) => panic!("server thread ended before starting"),
        };
        Server {
            runner: Runner::InProcess {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
            url: format!("http://{addr}"),
            data_dir,
            admin: String::new(),
            http: http_client(),
        }
    }

    fn spawn(dir: &Path, extra: &[&str]) -> Server {
        let data_dir = dir.join("data");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(Server::flags(&data_dir, extra))
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
        Server {
            runner: Runner::Process(child),
            url,
            data_dir,
            admin: String::new(),
            http: http_client(),
        }
    }

    /// The process id of a server started with [`Server::process`].
    pub fn pid(&self) -> u32 {
        match &self.runner {
            Runner::Process(child) => child.id(),
            _ => panic!("only a server started with Server::process has a pid"),
        }
    }

    /// Graceful stop (SIGTERM for a process); returns whether the server stopped cleanly.
    pub fn stop(mut self) -> bool {
        match std::mem::replace(&mut self.runner, Runner::Stopped) {
            Runner::Process(mut child) => {
                let pid = child.id().to_string();
                Command::new("kill").args(["-TERM", &pid]).status().unwrap();
                child.wait().unwrap().success()
            }
            Runner::InProcess { stop, thread } => {
                if let Some(stop) = stop {
                    let _ = stop.send(());
                }
                match thread.map(|t| t.join()) {
                    Some(Ok(Ok(()))) => true,
                    Some(Ok(Err(e))) => {
                        eprintln!("server stopped with an error: {e:#}");
                        false
                    }
                    _ => false,
                }
            }
            Runner::Stopped => true,
        }
    }

    /// SIGKILL: no chance to clean up. Only a real process can be killed.
    pub fn kill9(mut self) {
        match std::mem::replace(&mut self.runner, Runner::Stopped) {
            Runner::Process(mut child) => {
                child.kill().unwrap();
                child.wait().unwrap();
            }
            _ => panic!("kill -9 needs a real process: start the server with Server::process"),
        }
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
        match std::mem::replace(&mut self.runner, Runner::Stopped) {
            Runner::Process(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Runner::InProcess { stop, thread } => {
                if let Some(stop) = stop {
                    let _ = stop.send(());
                }
                if let Some(t) = thread {
                    let _ = t.join();
                }
            }
            Runner::Stopped => {}
        }
    }
}

fn read_token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned()
}

fn http_client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        // The server closes a connection idle for its header read timeout (10 s by default); a
        // client must not reuse one that long idle, or its request can meet the close.
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
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
