//! A small order service that audits with Sealbook's transactional outbox.
//!
//! - `POST /orders/{id}/status` with `{"status": "shipped", "user": "u-42"}` changes an order's
//!   status and records `order.status_changed` **in the same database transaction**: both commit,
//!   or neither. The caller's `X-Correlation-Id` header travels into the event.
//! - A background job cancels orders left open too long, audited the same way, with the system as
//!   the actor, so changes made outside any request are audited too.
//! - The outbox relay runs inside the service and delivers to Sealbook exactly once, also when
//!   Sealbook was down at commit time.
//!
//! Run (PostgreSQL for the service's own data, a running Sealbook, a key with `events:write`):
//! ```sh
//! ORDERS_DATABASE_URL=postgres://postgres@127.0.0.1/orders SEALBOOK_URL=http://127.0.0.1:8080 \
//! SEALBOOK_KEY=sbk_… cargo run -p sealbook-example-order-service
//! curl -X POST localhost:3000/orders/o-1/status -H 'X-Correlation-Id: req-7' \
//!   -H 'Content-Type: application/json' -d '{"status": "shipped", "user": "u-42"}'
//! ```

use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use sealbook_client::event::{Event, Party};
use sealbook_client::outbox::{self, Relay, RelayConfig};
use sealbook_client::Client;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

type Db = Arc<Mutex<tokio_postgres::Client>>;

#[derive(serde::Deserialize)]
struct StatusChange {
    status: String,
    user: String,
}

/// The business change and its audit event, in one transaction.
async fn change_status(
    db: &mut tokio_postgres::Client,
    order: &str,
    to: &str,
    actor: Party,
    correlation_id: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let mut tx = db.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT status FROM orders WHERE id = $1 FOR UPDATE",
            &[&order],
        )
        .await?
    else {
        return Ok(None);
    };
    let from: String = row.get(0);
    tx.execute(
        "UPDATE orders SET status = $2, updated_at = now() WHERE id = $1",
        &[&order, &to],
    )
    .await?;
    let mut audit = Event::new("order.status_changed", actor, Party::new("order", order))
        .change("status", from.as_str(), to)
        .reference("order_id", order);
    if let Some(c) = correlation_id {
        audit = audit.correlation_id(c);
    }
    outbox::record(&mut tx, &audit).await?;
    tx.commit().await?;
    Ok(Some(audit.id().to_owned()))
}

async fn post_status(
    State(db): State<Db>,
    Path(order): Path<String>,
    headers: HeaderMap,
    Json(body): Json<StatusChange>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let correlation = headers
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut db = db.lock().await;
    match change_status(
        &mut db,
        &order,
        &body.status,
        Party::user(&body.user),
        correlation.as_deref(),
    )
    .await
    {
        Ok(Some(event_id)) => Ok(Json(
            serde_json::json!({"order": order, "status": body.status, "audit_event": event_id}),
        )),
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The background job: orders open for more than a day are cancelled, by the system.
async fn expire_stale_orders(db: Db) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut db = db.lock().await;
        let stale: Vec<String> = match db
            .query("SELECT id FROM orders WHERE status = 'open' AND updated_at < now() - interval '1 day'", &[])
            .await
        {
            Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
            Err(_) => continue,
        };
        for order in stale {
            let job = Party::system("order-expiry-job").name("Stale order expiry");
            let _ =
                change_status(&mut db, &order, "cancelled", job, Some("job:order-expiry")).await;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let db_url = std::env::var("ORDERS_DATABASE_URL").context("set ORDERS_DATABASE_URL")?;
    let sealbook_url =
        std::env::var("SEALBOOK_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let key = std::env::var("SEALBOOK_KEY").context("set SEALBOOK_KEY (events:write)")?;
    let (client, conn) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, status text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO orders(id, status) VALUES ('o-1', 'open'), ('o-2', 'open') ON CONFLICT DO NOTHING;",
        )
        .await?;
    outbox::migrate(&client).await?;
    let db: Db = Arc::new(Mutex::new(client));

    let relay = Relay::connect(
        &db_url,
        Client::new(&sealbook_url, &key)?,
        RelayConfig::default(),
    )
    .await?;
    tokio::spawn(relay.run(std::future::pending()));
    tokio::spawn(expire_stale_orders(db.clone()));

    let app = Router::new()
        .route("/orders/{id}/status", post(post_status))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("order service on http://127.0.0.1:3000");
    axum::serve(listener, app).await?;
    Ok(())
}
