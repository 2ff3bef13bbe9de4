//! Every resource a client can hold has a bound (`docs/security/limits.md`): slow headers and
//! bodies are cut off, connections beyond the cap are closed, a client that stops reading is
//! disconnected, failed authentication and checkpoint requests are limited with 429 and
//! `Retry-After`. Each test configures small bounds so it stays short; none asserts a duration.

use crate::common::{event, tempdir, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(s: &Server) -> TcpStream {
    let addr = s.url.trim_start_matches("http://");
    TcpStream::connect(addr).unwrap()
}

/// True once the server has closed `conn` (EOF or reset); false while it is open with nothing to
/// read. Anything the server sent before closing is appended to `got`.
fn closed(conn: &mut TcpStream, got: &mut Vec<u8>) -> bool {
    conn.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Sends `bytes` one at a time, `pause` apart, until the server closes the connection; returns
/// whether it did before all of them were sent, and what it answered.
fn trickle(conn: &mut TcpStream, bytes: &[u8], pause: Duration) -> (bool, String) {
    let mut got = Vec::new();
    for b in bytes {
        if conn.write_all(&[*b]).is_err() || closed(conn, &mut got) {
            return (true, String::from_utf8_lossy(&got).into_owned());
        }
        std::thread::sleep(pause);
    }
    (
        closed(conn, &mut got),
        String::from_utf8_lossy(&got).into_owned(),
    )
}

/// A slowloris client (headers a byte at a time, never finished) is disconnected.
#[test]
fn a_slowloris_client_is_disconnected() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--header-read-timeout", "300ms"]);
    let mut conn = connect(&s);
    // 100 bytes at 100 ms: 10 s of headers, far beyond the 300 ms allowed.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: {}",
        "a".repeat(70)
    );
    let (cut, _) = trickle(&mut conn, head.as_bytes(), Duration::from_millis(100));
    assert!(
        cut,
        "the server kept a connection whose headers never ended"
    );
    // Others are served meanwhile and afterwards.
    assert_eq!(
        s.http
            .get(format!("{}/healthz", s.url))
            .send()
            .unwrap()
            .status(),
        200
    );
}

/// A client that sends a body a byte at a time is cut off, and nothing of it is stored.
#[test]
fn a_trickled_body_is_cut_off() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--body-read-timeout", "500ms"]);
    let key = s.tenant_with_key("acme");
    let body = serde_json::to_vec(&serde_json::json!([event("slow-1")])).unwrap();
    let mut conn = connect(&s);
    write!(
        conn,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // At 100 ms a byte the body would take far longer than the 500 ms allowed.
    let (cut, answer) = trickle(&mut conn, &body, Duration::from_millis(100));
    assert!(cut, "the server waited for a trickled body");
    assert!(
        answer.is_empty() || !answer.starts_with("HTTP/1.1 2"),
        "a cut-off body was answered with success: {answer}"
    );
    assert_eq!(
        s.get("/v1/events/slow-1", &key).status(),
        404,
        "nothing was stored"
    );
}

/// Beyond `max_connections`, a new connection is closed at once while the others stay served.
#[test]
fn connections_beyond_the_cap_are_closed() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--max-connections", "2"]);
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut open: Vec<TcpStream> = (0..2).map(|_| connect(&s)).collect();
    for c in &mut open {
        // A full answer means the server accepted and holds this connection.
        c.write_all(request).unwrap();
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).contains("\"ok\"") {
            assert!(!closed(c, &mut got), "an allowed connection was closed");
        }
    }
    let mut third = connect(&s);
    let _ = third.write_all(request);
    let mut got = Vec::new();
    // The hang guard of the read timeout below only matters if the server never closes it.
    third
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 1024];
    let end = loop {
        match third.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    };
    assert!(
        end && got.is_empty(),
        "the third connection was served: {:?}",
        String::from_utf8_lossy(&got)
    );
    // A freed place is taken again (the server notices the close asynchronously: retry a while).
    drop(open.pop());
    let served = (0..500).any(|_| {
        let mut c = connect(&s);
        let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut got = Vec::new();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = c.read_to_end(&mut got);
        if got.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
        !got.is_empty()
    });
    assert!(served, "a freed connection place was never given again");
}

/// A client that sends requests but never reads the answers is disconnected once a write to it
/// waits longer than `write_timeout`, instead of holding its connection forever.
#[test]
fn a_client_that_stops_reading_is_disconnected() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--write-timeout", "300ms"]);
    let mut conn = connect(&s);
    // Hang guard: if the server never gives up, our own write blocks and times out here.
    conn.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let request = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
    let outcome = (0..1_000_000).find_map(|_| conn.write_all(request).err());
    let e = outcome.expect("a million pipelined requests were all taken");
    assert!(
        !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "the server kept the connection of a client that does not read: {e}"
    );
}

fn assert_429(r: reqwest::blocking::Response) {
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: serde_json::Value = r.json().unwrap();
    assert!(
        body["type"].as_str().unwrap().ends_with("rate-limited"),
        "{body}"
    );
}

/// Failed authentications are limited per client address: after the burst, unknown keys and
/// operator-token guesses get 429 with `Retry-After` instead of another lookup or comparison.
#[test]
fn failed_authentication_is_limited_per_client() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--auth-failures-per-ip", "1"]);
    let good = s.tenant_with_key("acme");
    // Use the good key once, so it is a cached live key.
    assert_eq!(s.get("/v1/events", &good).status(), 200);
    // Ten failures are the burst of a 1/s limit.
    for i in 0..10 {
        let r = s.get("/v1/events", &format!("sbk_guess{i:0>40}"));
        if r.status() == 429 {
            // A slow machine may have refilled a token meanwhile; never more than the burst.
            panic!("refused after only {i} failures");
        }
        assert_eq!(r.status(), 401);
    }
    assert_429(s.get("/v1/events", "sbk_guessthenext000000000000000000000000000"));
    assert_429(s.get("/v1/tenants", "not-the-operator-token-but-long-enough-0000"));
    assert_eq!(
        s.get("/v1/events", &good).status(),
        200,
        "a client's cached live key still works"
    );
}

/// Checkpoint signing requests are limited per tenant: beyond the burst a tenant gets 429 with
/// `Retry-After`; another tenant is not affected.
#[test]
fn checkpoint_requests_are_limited_per_tenant() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--checkpoint-requests-per-tenant", "1"]);
    let a = s.tenant_with_key("a");
    let b = s.tenant_with_key("b");
    s.ingest(&a, &serde_json::json!([event("a-1")]));
    s.ingest(&b, &serde_json::json!([event("b-1")]));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = s.post_empty("/v1/log/checkpoint", &a);
        if r.status() == 429 {
            assert_429(r);
            statuses.push(429);
            break;
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(s.post_empty("/v1/log/checkpoint", &b).status(), 200);
}
