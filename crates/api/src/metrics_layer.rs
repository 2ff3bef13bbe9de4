//! HTTP metrics: latency by route template, method and status, recorded for every request. Every
//! label comes from a fixed set (the route table's templates or `unmatched`, seven methods or
//! `other`, the status codes), so no request can create a new series.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

pub(crate) async fn record(req: Request, next: Next) -> Response {
    let started = Instant::now();
    // The route template, never the raw path: raw paths carry ids and would explode cardinality.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::histogram!("sealbook_http_request_duration_seconds", "route" => route, "method" => method, "status" => status)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// The method's label: a fixed set, because clients may send any token as a method and each would
/// be a new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_methods_share_one_label() {
        use axum::http::Method;
        for m in ["FOO", "BREW", "X-1234", "get"] {
            let m = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(super::method_label(&m), "other");
        }
        assert_eq!(super::method_label(&Method::POST), "POST");
    }
}
