//! `sealbook serve`: opens the store, starts the sequencer, serves HTTP, and shuts down gracefully:
//! on SIGTERM or SIGINT it stops accepting connections, lets requests in flight finish, commits
//! their batches, then exits.

use crate::config::{Config, LogFormat, ServeArgs};
use anyhow::Context;
use sealbook_api::{router, secret, AppState};
use sealbook_pipeline::Sequencer;
use sealbook_store_sqlite::SqliteStore;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    init_logging(config.log_format);
    create_private_dir(&config.data_dir)?;
    let token = admin_token(&config)?;

    let store =
        Arc::new(SqliteStore::open(&config.data_dir).context("opening the embedded store")?);
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ])
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    let (sequencer, sequencer_task) = Sequencer::start(store.clone(), config.sequencer);
    let state = AppState::new(
        store,
        sequencer.clone(),
        &token,
        config.api,
        Some(prometheus),
    );

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "sealbook listening");
    // Plain lines on stdout for people and scripts; the token itself is never printed.
    let mut out = std::io::stdout().lock();
    writeln!(out, "Sealbook listening on http://{addr}")?;
    match &config.admin_token_file {
        Some(p) => writeln!(out, "Operator token: read from {}", p.display())?,
        None => writeln!(
            out,
            "Operator token: {}",
            config.data_dir.join("admin-token").display()
        )?,
    }
    out.flush()?;
    drop(out);

    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("no more requests in flight; committing what is queued");
    sequencer.shutdown();
    sequencer_task.await.context("sequencer task")?;
    tracing::info!("stopped cleanly");
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALBOOK_LOG")
        .unwrap_or_else(|_| "info".into());
    use std::io::IsTerminal;
    // Colour codes only for a person at a terminal, never in files or log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    Ok(())
}

/// The operator token: from `--admin-token-file`, or the one generated on first start into
/// `<data-dir>/admin-token` (mode 0600).
fn admin_token(config: &Config) -> anyhow::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(path) = &config.admin_token_file {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("reading admin token file {}", path.display()))?;
        let token = token.trim().to_owned();
        anyhow::ensure!(
            token.len() >= 32,
            "the admin token in {} is shorter than 32 characters",
            path.display()
        );
        return Ok(token);
    }
    let path = config.data_dir.join("admin-token");
    if path.exists() {
        let token = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok(token.trim().to_owned());
    }
    let token = secret::new_admin_token();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    tracing::info!(path = %path.display(), "generated the platform operator token");
    Ok(token)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
