//! `Client::send` retry behaviour on real HTTP: a loopback server that answers like an overloaded
//! Sealbook (503 + `Retry-After`, the documented problem+json) and then accepts. Forcing 503 from
//! a real Sealbook is timing-bound, so this server plays the overload deterministically.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sealbook_client::event::{Event, Party};
use sealbook_client::{Client, ClientError, ProblemKind, RetryPolicy};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Seen = Arc<Mutex<Vec<Vec<serde_json::Value>>>>;

async fn serve(answers: Vec<(u16, Option<u64>)>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/v1/events",
        axum::routing::post(move |body: Bytes| {
            let (s, answers) = (s.clone(), answers.clone());
            async move {
                let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
                s.lock().unwrap().push(events.clone());
                let (status, retry) = answers.lock().unwrap().next().unwrap_or((201, None));
                let problem = |slug: &str| {
                    serde_json::json!({"type": format!("urn:sealbook:problem:{slug}"), "title": "t", "status": status, "detail": "d",
                        "errors": [{"event": 0, "path": "/actor/type", "problem": "bad"}]})
                };
                let mut resp = match status {
                    201 => {
                        let receipts: Vec<serde_json::Value> = events
                            .iter()
                            .enumerate()
                            .map(|(i, e)| serde_json::json!({"id": e["id"], "index": i, "leaf_hash": "00"}))
                            .collect();
                        (StatusCode::CREATED, axum::Json(serde_json::json!({ "receipts": receipts })))
                            .into_response()
                    }
                    503 => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(problem("overloaded")))
                        .into_response(),
                    _ => (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(problem("invalid-event")))
                        .into_response(),
                };
                if let Some(r) = retry {
                    resp.headers_mut().insert("retry-after", r.into());
                }
                resp
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base: Duration::from_millis(10),
        max: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn overload_is_retried_after_retry_after_with_the_same_ids() {
    let (url, seen) = serve(vec![(503, Some(1)), (503, None)]).await;
    let c = Client::new(&url, "sbk_x").unwrap().retry_policy(policy());
    let e = Event::new("user.logout", Party::user("u"), Party::user("u"));
    let started = Instant::now();
    let r = c
        .send(&[e.to_json(), serde_json::json!({"type": "user.logout"})])
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(r.len(), 2);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "two refusals, then accepted");
    for attempt in seen.iter() {
        assert_eq!(attempt[0]["id"], e.id());
        assert!(attempt[1]["id"].is_string());
        assert_eq!(
            attempt[1]["id"], seen[0][1]["id"],
            "an id assigned once, before the first attempt"
        );
    }
}

#[tokio::test]
async fn invalid_events_are_not_retried_and_map_to_a_typed_problem() {
    let (url, seen) = serve(vec![(422, None)]).await;
    let c = Client::new(&url, "sbk_x").unwrap().retry_policy(policy());
    let err = c
        .send(&[serde_json::json!({"type": "x.y"})])
        .await
        .unwrap_err();
    assert_eq!(err.problem_kind(), Some(ProblemKind::InvalidEvent));
    assert!(!err.is_retryable());
    match &err {
        ClientError::Problem { problem, .. } => assert_eq!(problem.event_positions(), vec![0]),
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn gives_up_after_the_attempts_and_batches_large_sends() {
    let (url, seen) = serve(vec![(503, None); 4]).await;
    let c = Client::new(&url, "sbk_x").unwrap().retry_policy(policy());
    let err = c
        .send(&[serde_json::json!({"type": "x.y"})])
        .await
        .unwrap_err();
    assert_eq!(err.problem_kind(), Some(ProblemKind::Overloaded));
    assert_eq!(seen.lock().unwrap().len(), 4);

    let (url, seen) = serve(vec![]).await;
    let c = Client::new(&url, "sbk_x").unwrap();
    let many: Vec<serde_json::Value> = (0..2500)
        .map(|_| serde_json::json!({"type": "x.y"}))
        .collect();
    assert_eq!(c.send(&many).await.unwrap().len(), 2500);
    let sizes: Vec<usize> = seen.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![1000, 1000, 500]);
}
