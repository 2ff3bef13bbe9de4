//! Server configuration: built-in defaults, then the TOML file (`--config`), then `SEALBOOK_*`
//! environment variables and flags (a flag beats its variable; both beat the file).

use anyhow::Context;
use sealbook_domain::Limits;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `sealbook serve` flags; each also reads its `SEALBOOK_*` environment variable.
#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SEALBOOK_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory [default: ./sealbook-data].
    #[arg(long, env = "SEALBOOK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, env = "SEALBOOK_CONFIG")]
    config: Option<PathBuf>,
    /// File holding the platform operator token [default: generated into <data-dir>/admin-token].
    #[arg(long, env = "SEALBOOK_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "SEALBOOK_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Requests per second per API key, 0 for no limit [default: 0].
    #[arg(long, env = "SEALBOOK_RATE_LIMIT_PER_KEY")]
    rate_limit_per_key: Option<u32>,
}

#[derive(clap::ValueEnum, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The TOML file. Every key is optional; unknown keys are an error, so a typo never goes unnoticed.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
    log_format: Option<LogFormat>,
    rate_limit_per_key: Option<u32>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    sequencer: SequencerFile,
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct SequencerFile {
    max_queued_events: usize,
    max_batch_events: usize,
}

impl Default for SequencerFile {
    fn default() -> Self {
        let d = sealbook_pipeline::SequencerConfig::default();
        SequencerFile {
            max_queued_events: d.max_queued_events,
            max_batch_events: d.max_batch_events,
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) data_dir: PathBuf,
    pub(crate) admin_token_file: Option<PathBuf>,
    pub(crate) log_format: LogFormat,
    pub(crate) api: sealbook_api::ApiConfig,
    pub(crate) sequencer: sealbook_pipeline::SequencerConfig,
}

impl ServeArgs {
    pub(crate) fn resolve(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let limits = file.limits;
        anyhow::ensure!(
            limits.max_event_bytes <= 60 * 1024,
            "limits.max_event_bytes must stay at or below 61440 so a leaf fits a C2SP entry bundle"
        );
        anyhow::ensure!(
            limits.max_depth >= 2 && limits.max_batch_events >= 1 && limits.max_body_bytes >= 1024,
            "limits are too small to accept any event"
        );
        anyhow::ensure!(file.sequencer.max_batch_events >= 1 && file.sequencer.max_queued_events >= limits.max_batch_events, "sequencer.max_queued_events must hold at least one full request (limits.max_batch_events)");
        Ok(Config {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("sealbook-data")),
            admin_token_file: self.admin_token_file.or(file.admin_token_file),
            log_format: self
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            api: sealbook_api::ApiConfig {
                limits,
                rate_limit_per_key: self
                    .rate_limit_per_key
                    .or(file.rate_limit_per_key)
                    .unwrap_or(0),
            },
            sequencer: sealbook_pipeline::SequencerConfig {
                max_queued_events: file.sequencer.max_queued_events,
                max_batch_events: file.sequencer.max_batch_events,
            },
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: ServeArgs,
    }

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:9999\"\ndata_dir = \"/tmp/x\"\nrate_limit_per_key = 5\n[limits]\nmax_batch_events = 10\n").unwrap();
        let c = T::parse_from(["t", "--config", f.to_str().unwrap(), "--data-dir", "/tmp/y"])
            .a
            .resolve()
            .unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/y"));
        assert_eq!(c.api.rate_limit_per_key, 5);
        assert_eq!(c.api.limits.max_batch_events, 10);
        assert_eq!(c.api.limits.max_depth, 32);
        std::fs::write(&f, "lisen = \"127.0.0.1:1\"\n").unwrap();
        assert!(
            T::parse_from(["t", "--config", f.to_str().unwrap()])
                .a
                .resolve()
                .is_err(),
            "typos are errors"
        );
    }
}
