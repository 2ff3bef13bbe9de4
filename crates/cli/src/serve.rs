//! `sealbook serve`: the process around [`sealbook::Server`]: logging, the metrics recorder, the
//! lines printed on stdout for people and scripts, and SIGTERM/SIGINT for a graceful stop.

use anyhow::Context;
use sealbook::config::{LogFormat, ServeArgs};
use sealbook::{shutdown_signal, Server};
use std::io::Write;

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    init_logging(config.log_format);
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ])
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    let server = Server::build(config, Some(prometheus)).await?;
    // Plain lines on stdout for people and scripts; the token itself is never printed.
    let mut out = std::io::stdout().lock();
    writeln!(out, "Sealbook listening on http://{}", server.local_addr())?;
    writeln!(out, "{}", server.token_line())?;
    out.flush()?;
    drop(out);
    server.run(shutdown_signal()).await
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
