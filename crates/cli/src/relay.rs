//! `sealbook relay`: the outbox relay as a process of its own, for applications that would rather
//! not run it inside their service. It delivers the application database's `sealbook_outbox` rows
//! to Sealbook (see `sealbook_client::outbox`).

use anyhow::Context;
use sealbook_client::outbox::{Relay, RelayConfig};
use sealbook_client::Client;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub(crate) struct RelayArgs {
    /// The application's PostgreSQL database (where `sealbook_outbox` lives).
    #[arg(long, env = "SEALBOOK_OUTBOX_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Sealbook's URL.
    #[arg(long, env = "SEALBOOK_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// File holding the tenant API key (scope `events:write`).
    #[arg(long)]
    key_file: PathBuf,
    /// Most events per request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// How long delivered rows are kept, e.g. `7d`.
    #[arg(long, default_value = "7d")]
    keep_delivered: humantime::Duration,
    /// Create the outbox table if it is missing.
    #[arg(long)]
    migrate: bool,
    /// Exit once nothing is pending, printing how many events went out and how fast (for
    /// draining and measuring).
    #[arg(long)]
    until_empty: bool,
}

pub(crate) async fn run(args: RelayArgs) -> anyhow::Result<()> {
    let key = std::fs::read_to_string(&args.key_file)
        .with_context(|| format!("reading {}", args.key_file.display()))?;
    let client = Client::new(&args.url, key.trim())?;
    let config = RelayConfig {
        batch: args.batch.clamp(1, sealbook_client::MAX_BATCH),
        keep_delivered: args.keep_delivered.into(),
        ..RelayConfig::default()
    };
    let mut relay = Relay::connect(&args.database_url, client, config)
        .await
        .context("connecting to the outbox database")?;
    if args.migrate {
        relay.migrate().await.context("creating the outbox table")?;
    }
    if !args.until_empty {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .init();
        relay.run(sealbook::shutdown_signal()).await;
        return Ok(());
    }
    let started = Instant::now();
    let (mut delivered, mut parked, mut failures) = (0usize, 0usize, 0u32);
    loop {
        match relay.run_once().await {
            Ok(c) if c.delivered + c.parked == 0 => break,
            Ok(c) => {
                delivered += c.delivered;
                parked += c.parked;
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                anyhow::ensure!(failures < 30, "giving up after 30 failed cycles: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "delivered": delivered,
            "parked": parked,
            "seconds": secs,
            "events_per_sec": (delivered as f64 / secs.max(1e-9)).round(),
        })
    );
    Ok(())
}
