//! Server configuration: built-in defaults, then the TOML file (`--config`), then `SEALBOOK_*`
//! environment variables and flags (a flag beats its variable; both beat the file).
//!
//! [`ServeArgs`] is what `sealbook serve` parses; [`ServeArgs::resolve`] checks it and yields the
//! [`Config`] that [`crate::Server::build`] runs with.

use anyhow::Context;
use sealbook_domain::Limits;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `sealbook serve` flags; each also reads its `SEALBOOK_*` environment variable.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
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
    /// Requests per second per API key (bursts up to twice that), 0 for no limit [default: 200].
    #[arg(long, env = "SEALBOOK_RATE_LIMIT_PER_KEY")]
    rate_limit_per_key: Option<u32>,
    /// Failed authentications per second per client address (bursts up to ten times that), 0 for
    /// no limit [default: 2].
    #[arg(long, env = "SEALBOOK_AUTH_FAILURES_PER_IP")]
    auth_failures_per_ip: Option<u32>,
    /// Failed authentications per second from all clients together, 0 for no limit [default: 200].
    #[arg(long, env = "SEALBOOK_AUTH_FAILURES_GLOBAL")]
    auth_failures_global: Option<u32>,
    /// Checkpoint signings a tenant may ask for per second, 0 for no limit [default: 10].
    #[arg(long, env = "SEALBOOK_CHECKPOINT_REQUESTS_PER_TENANT")]
    checkpoint_requests_per_tenant: Option<u32>,
    /// Most open connections; beyond, new ones are closed at once [default: 1024].
    #[arg(long, env = "SEALBOOK_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Time allowed for a request's headers, and for an idle keep-alive connection [default: 10s].
    #[arg(long, env = "SEALBOOK_HEADER_READ_TIMEOUT", value_parser = humantime::parse_duration)]
    header_read_timeout: Option<std::time::Duration>,
    /// Time allowed for a whole request body [default: 60s].
    #[arg(long, env = "SEALBOOK_BODY_READ_TIMEOUT", value_parser = humantime::parse_duration)]
    body_read_timeout: Option<std::time::Duration>,
    /// Time one write may wait for a client that does not read [default: 30s].
    #[arg(long, env = "SEALBOOK_WRITE_TIMEOUT", value_parser = humantime::parse_duration)]
    write_timeout: Option<std::time::Duration>,
    /// Prefix of every tenant log's origin, `<prefix>/<tenant>`, e.g. `audit.example.com/sealbook`.
    /// It names the logs forever: set it before the first start in production
    /// [default: the one recorded in the data, else `sealbook.localhost`].
    #[arg(long, env = "SEALBOOK_LOG_ORIGIN_PREFIX")]
    log_origin_prefix: Option<String>,
    /// File holding the checkpoint signing key(s) [default: generated into <data-dir>/checkpoint-key].
    /// `SEALBOOK_CHECKPOINT_KEY` may hold the key text itself instead.
    #[arg(long, env = "SEALBOOK_CHECKPOINT_KEY_FILE")]
    checkpoint_key_file: Option<PathBuf>,
    /// A catalog file (TOML, or YAML when named .yaml/.yml) whose types are added to the built-in
    /// catalog (same name: replaced).
    #[arg(long, env = "SEALBOOK_CATALOG_FILE")]
    catalog_file: Option<PathBuf>,
    /// Tenants allowed to send event types the catalog does not know (stored, marked
    /// `uncatalogued`): comma-separated ids, or `*` for all [default: none].
    #[arg(long, env = "SEALBOOK_OPEN_TYPES", value_delimiter = ',')]
    open_types: Option<Vec<String>>,
    /// File holding the redaction secret (base64, 32 bytes) [default: generated into
    /// <data-dir>/redaction-key]. `SEALBOOK_REDACTION_KEY` may hold it instead.
    #[arg(long, env = "SEALBOOK_REDACTION_KEY_FILE")]
    redaction_key_file: Option<PathBuf>,
    /// PostgreSQL URL to store data in instead of the embedded store, as a role that is a member
    /// of `sealbook_rw` (no owner, no BYPASSRLS). Several nodes may share one database.
    #[arg(long, env = "SEALBOOK_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// PostgreSQL URL of the schema owner, to run migrations at start (optional: without it the
    /// schema must already be current).
    #[arg(long, env = "SEALBOOK_DATABASE_OWNER_URL", hide_env_values = true)]
    database_owner_url: Option<String>,
    /// Sign a checkpoint of every grown log this often, e.g. `1s`, `250ms` [default: 1s].
    #[arg(long, env = "SEALBOOK_CHECKPOINT_INTERVAL", value_parser = humantime::parse_duration)]
    checkpoint_interval: Option<std::time::Duration>,
}

#[derive(clap::ValueEnum, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
/// How the server writes its log lines.
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
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
    auth_failures_per_ip: Option<u32>,
    auth_failures_global: Option<u32>,
    checkpoint_requests_per_tenant: Option<u32>,
    max_connections: Option<usize>,
    #[serde(default, with = "humantime_serde_opt")]
    header_read_timeout: Option<std::time::Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    body_read_timeout: Option<std::time::Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    write_timeout: Option<std::time::Duration>,
    log_origin_prefix: Option<String>,
    checkpoint_key_file: Option<PathBuf>,
    redaction_key_file: Option<PathBuf>,
    catalog_file: Option<PathBuf>,
    open_types: Option<Vec<String>>,
    database_url: Option<String>,
    database_owner_url: Option<String>,
    #[serde(default, with = "humantime_serde_opt")]
    checkpoint_interval: Option<std::time::Duration>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    sequencer: SequencerFile,
    #[serde(default)]
    reads: ReadsFile,
    #[serde(default)]
    ui: UiFile,
}

/// `[ui]`: sign-in and sessions of the web UI.
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct UiFile {
    #[serde(with = "humantime_serde_opt")]
    session_idle: Option<std::time::Duration>,
    #[serde(with = "humantime_serde_opt")]
    session_lifetime: Option<std::time::Duration>,
    login_failures_per_account: u32,
    login_failures_per_ip: u32,
    public_url: Option<String>,
    sso_http_loopback: bool,
}

impl Default for UiFile {
    fn default() -> Self {
        let d = sealbook_api::UiConfig::default();
        UiFile {
            session_idle: None,
            session_lifetime: None,
            login_failures_per_account: d.login_failures_per_account,
            login_failures_per_ip: d.login_failures_per_ip,
            public_url: None,
            sso_http_loopback: false,
        }
    }
}

/// `[reads]`: exports and bulk reads (`docs/security/roles.md`).
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct ReadsFile {
    export_concurrency_per_tenant: u32,
    #[serde(with = "humantime_serde_opt")]
    export_idle_timeout: Option<std::time::Duration>,
    bulk_read_audit_events: u64,
}

impl Default for ReadsFile {
    fn default() -> Self {
        let d = sealbook_api::ReadLimits::default();
        ReadsFile {
            export_concurrency_per_tenant: d.export_concurrency_per_tenant,
            export_idle_timeout: None,
            bulk_read_audit_events: d.bulk_read_audit_events,
        }
    }
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct SequencerFile {
    max_queued_events: usize,
    max_batch_events: usize,
    /// Groups committed at once [default: 1 on the embedded store, 4 on PostgreSQL].
    writers: Option<usize>,
    /// Most events one tenant may have queued [default: a quarter of max_queued_events].
    max_queued_events_per_tenant: Option<usize>,
    /// Places only administrative records may take [default: a twentieth of max_queued_events].
    reserved_admin_events: Option<usize>,
}

impl Default for SequencerFile {
    fn default() -> Self {
        let d = sealbook_pipeline::SequencerConfig::default();
        SequencerFile {
            max_queued_events: d.max_queued_events,
            max_batch_events: d.max_batch_events,
            writers: None,
            max_queued_events_per_tenant: None,
            reserved_admin_events: None,
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one ([`crate::Server::local_addr`] tells which).
    pub listen: SocketAddr,
    /// Where the embedded store, the generated secrets and the operator token live.
    pub data_dir: PathBuf,
    /// The operator token's file, instead of the generated `<data_dir>/admin-token`.
    pub admin_token_file: Option<PathBuf>,
    /// Log format (applied by the binary, which owns the process's logging).
    pub log_format: LogFormat,
    /// Settings of the HTTP layer.
    pub api: sealbook_api::ApiConfig,
    /// Queue and group-commit limits.
    pub sequencer: sealbook_pipeline::SequencerConfig,
    /// Bounds of the connection layer.
    pub connections: crate::ConnectionLimits,
    /// Set explicitly (flag, variable or file), or `None` for "the recorded one, else the default".
    pub log_origin_prefix: Option<String>,
    /// The checkpoint signing key(s), instead of the generated `<data_dir>/checkpoint-key`.
    pub checkpoint_key_file: Option<PathBuf>,
    /// The redaction secret, instead of the generated `<data_dir>/redaction-key`.
    pub redaction_key_file: Option<PathBuf>,
    /// A catalog file whose types are added to the built-in catalog.
    pub catalog_file: Option<PathBuf>,
    /// Tenants that may send types the catalog does not know.
    pub open_types: sealbook_api::OpenTypes,
    /// How often grown logs get a signed checkpoint.
    pub checkpoint_interval: std::time::Duration,
    /// PostgreSQL instead of the embedded store.
    pub database_url: Option<String>,
    /// PostgreSQL URL of the schema owner, to migrate at start.
    pub database_owner_url: Option<String>,
}

/// The origin prefix used when none is set and none is recorded: fine for a laptop, and it says so.
pub const DEV_ORIGIN_PREFIX: &str = "sealbook.localhost";

/// A prefix must make `<prefix>/<tenant>` a valid signed-note key name and a schema-less origin.
fn check_prefix(p: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !p.is_empty()
            && p.len() <= 200
            && p.bytes().all(|b| b.is_ascii_graphic() && b != b'+')
            && !p.starts_with('/')
            && !p.ends_with('/')
            && !p.contains("://"),
        "log_origin_prefix must be a schema-less name like audit.example.com/sealbook: printable ASCII, no spaces, no '+', no leading or trailing '/'"
    );
    Ok(())
}

/// `checkpoint_interval = "1s"` in the TOML file.
mod humantime_serde_opt {
    use serde::Deserialize;
    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<std::time::Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl ServeArgs {
    /// Parses `flags` as `sealbook serve` would (environment variables included), e.g. for a test
    /// that starts the server in-process with the same flags it would give the binary.
    pub fn parse_flags<I, T>(flags: I) -> Result<ServeArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            args: ServeArgs,
        }
        let argv = std::iter::once(std::ffi::OsString::from("serve"))
            .chain(flags.into_iter().map(Into::into));
        <Serve as clap::Parser>::try_parse_from(argv).map(|s| s.args)
    }

    /// Merges flags, variables and the file over the defaults, and checks the result.
    pub fn resolve(self) -> anyhow::Result<Config> {
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
        let queue =
            sealbook_pipeline::SequencerConfig::with_queue(file.sequencer.max_queued_events);
        let per_tenant = file
            .sequencer
            .max_queued_events_per_tenant
            // A quarter, but never less than one full request.
            .unwrap_or(
                queue
                    .max_queued_events_per_tenant
                    .max(limits.max_batch_events)
                    .min(file.sequencer.max_queued_events),
            );
        let reserved = file.sequencer.reserved_admin_events.unwrap_or(
            queue
                .reserved_admin_events
                .min(file.sequencer.max_queued_events - limits.max_batch_events),
        );
        anyhow::ensure!(
            per_tenant >= limits.max_batch_events && per_tenant <= file.sequencer.max_queued_events,
            "sequencer.max_queued_events_per_tenant must hold one full request (limits.max_batch_events) and fit in sequencer.max_queued_events"
        );
        anyhow::ensure!(
            reserved < file.sequencer.max_queued_events
                && file.sequencer.max_queued_events - reserved >= limits.max_batch_events,
            "sequencer.reserved_admin_events must leave room for one full request (limits.max_batch_events) in sequencer.max_queued_events"
        );
        let d = crate::ConnectionLimits::default();
        let connections = crate::ConnectionLimits {
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(d.max_connections),
            header_read_timeout: self
                .header_read_timeout
                .or(file.header_read_timeout)
                .unwrap_or(d.header_read_timeout),
            body_read_timeout: self
                .body_read_timeout
                .or(file.body_read_timeout)
                .unwrap_or(d.body_read_timeout),
            write_timeout: self
                .write_timeout
                .or(file.write_timeout)
                .unwrap_or(d.write_timeout),
        };
        anyhow::ensure!(
            connections.max_connections >= 1,
            "max_connections must be at least 1"
        );
        for (name, t) in [
            ("header_read_timeout", connections.header_read_timeout),
            ("body_read_timeout", connections.body_read_timeout),
            ("write_timeout", connections.write_timeout),
        ] {
            anyhow::ensure!(
                t >= std::time::Duration::from_millis(10),
                "{name} must be at least 10ms"
            );
        }
        let api_defaults = sealbook_api::ApiConfig::default();
        let log_origin_prefix = self.log_origin_prefix.or(file.log_origin_prefix);
        if let Some(p) = &log_origin_prefix {
            check_prefix(p)?;
        }
        let checkpoint_interval = self
            .checkpoint_interval
            .or(file.checkpoint_interval)
            .unwrap_or(std::time::Duration::from_secs(1));
        anyhow::ensure!(
            checkpoint_interval >= std::time::Duration::from_millis(10)
                && checkpoint_interval <= std::time::Duration::from_secs(3600),
            "checkpoint_interval must be between 10ms and 1h"
        );
        let database_url = self.database_url.or(file.database_url);
        let pg = database_url.is_some();
        let database_owner_url = self.database_owner_url.or(file.database_owner_url);
        anyhow::ensure!(
            database_owner_url.is_none() || database_url.is_some(),
            "database_owner_url is only used with database_url"
        );
        Ok(Config {
            // Live keys may be cached only when this process is the only writer (embedded store):
            // on a shared database another node may revoke a key.
            api: sealbook_api::ApiConfig {
                limits,
                rate_limit_per_key: self
                    .rate_limit_per_key
                    .or(file.rate_limit_per_key)
                    .unwrap_or(api_defaults.rate_limit_per_key),
                auth_failures_per_ip: self
                    .auth_failures_per_ip
                    .or(file.auth_failures_per_ip)
                    .unwrap_or(api_defaults.auth_failures_per_ip),
                auth_failures_global: self
                    .auth_failures_global
                    .or(file.auth_failures_global)
                    .unwrap_or(api_defaults.auth_failures_global),
                checkpoint_requests_per_tenant: self
                    .checkpoint_requests_per_tenant
                    .or(file.checkpoint_requests_per_tenant)
                    .unwrap_or(api_defaults.checkpoint_requests_per_tenant),
                single_writer: database_url.is_none(),
                reads: {
                    let r = &file.reads;
                    anyhow::ensure!(
                        r.export_concurrency_per_tenant >= 1,
                        "reads.export_concurrency_per_tenant must be at least 1"
                    );
                    let idle = r
                        .export_idle_timeout
                        .unwrap_or(sealbook_api::ReadLimits::default().export_idle_timeout);
                    anyhow::ensure!(
                        idle >= std::time::Duration::from_millis(100)
                            && idle <= std::time::Duration::from_secs(3600),
                        "reads.export_idle_timeout must be between 100ms and 1h"
                    );
                    sealbook_api::ReadLimits {
                        export_concurrency_per_tenant: r.export_concurrency_per_tenant,
                        export_idle_timeout: idle,
                        bulk_read_audit_events: r.bulk_read_audit_events,
                    }
                },
                ui: {
                    let u = &file.ui;
                    let d = sealbook_api::UiConfig::default();
                    let span =
                        |v: Option<std::time::Duration>, default: time::Duration, name: &str| {
                            let v = match v {
                                Some(v) => time::Duration::try_from(v)
                                    .map_err(|_| anyhow::anyhow!("ui.{name} is out of range"))?,
                                None => default,
                            };
                            anyhow::ensure!(
                                v >= time::Duration::minutes(1) && v <= time::Duration::days(30),
                                "ui.{name} must be between 1m and 30d"
                            );
                            Ok::<_, anyhow::Error>(v)
                        };
                    sealbook_api::UiConfig {
                        session_idle: span(u.session_idle, d.session_idle, "session_idle")?,
                        session_lifetime: span(
                            u.session_lifetime,
                            d.session_lifetime,
                            "session_lifetime",
                        )?,
                        login_failures_per_account: u.login_failures_per_account,
                        login_failures_per_ip: u.login_failures_per_ip,
                        public_url: match &u.public_url {
                            Some(url) => {
                                let url = url.trim_end_matches('/');
                                let rest = url
                                    .strip_prefix("https://")
                                    .or_else(|| url.strip_prefix("http://"));
                                anyhow::ensure!(
                                    rest.is_some_and(|r| !r.is_empty()
                                        && r.bytes().all(|b| b.is_ascii_graphic()
                                            && !matches!(b, b'?' | b'#' | b'"' | b'<' | b'>'))),
                                    "ui.public_url must be an http(s) URL without query or fragment, e.g. https://audit.example.com"
                                );
                                Some(url.to_owned())
                            }
                            None => None,
                        },
                        sso_http_loopback: u.sso_http_loopback,
                    }
                },
            },
            database_url,
            database_owner_url,
            log_origin_prefix,
            checkpoint_key_file: self.checkpoint_key_file.or(file.checkpoint_key_file),
            redaction_key_file: self.redaction_key_file.or(file.redaction_key_file),
            catalog_file: self.catalog_file.or(file.catalog_file),
            open_types: match self.open_types.or(file.open_types) {
                None => sealbook_api::OpenTypes::None,
                Some(list) if list.iter().any(|t| t == "*") => sealbook_api::OpenTypes::All,
                Some(list) => sealbook_api::OpenTypes::Tenants(
                    list.into_iter().filter(|t| !t.is_empty()).collect(),
                ),
            },
            checkpoint_interval,
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
            sequencer: sealbook_pipeline::SequencerConfig {
                max_queued_events: file.sequencer.max_queued_events,
                max_batch_events: file.sequencer.max_batch_events,
                writers: file
                    .sequencer
                    .writers
                    .unwrap_or(if pg { 4 } else { 1 })
                    .clamp(1, 64),
                max_queued_events_per_tenant: per_tenant,
                reserved_admin_events: reserved,
            },
            connections,
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
        assert_eq!(c.checkpoint_interval, std::time::Duration::from_secs(1));
        assert_eq!(c.log_origin_prefix, None);
        std::fs::write(
            &f,
            "log_origin_prefix = \"audit.example.com/sb\"\ncheckpoint_interval = \"250ms\"\n",
        )
        .unwrap();
        let c = T::parse_from(["t", "--config", f.to_str().unwrap()])
            .a
            .resolve()
            .unwrap();
        assert_eq!(c.log_origin_prefix.as_deref(), Some("audit.example.com/sb"));
        assert_eq!(c.checkpoint_interval, std::time::Duration::from_millis(250));
        for bad in ["", "a b", "x+y", "https://x", "/x", "x/"] {
            let r = T::parse_from(["t", "--log-origin-prefix", bad]).a.resolve();
            assert!(r.is_err(), "{bad:?} accepted");
        }
        std::fs::write(&f, "lisen = \"127.0.0.1:1\"\n").unwrap();
        assert!(
            T::parse_from(["t", "--config", f.to_str().unwrap()])
                .a
                .resolve()
                .is_err(),
            "typos are errors"
        );
    }

    /// Every client-facing resource has a bound by default: nothing is unlimited unless the
    /// operator turns it off.
    #[test]
    fn every_bound_is_on_by_default() {
        let c = T::parse_from(["t"]).a.resolve().unwrap();
        assert_eq!(c.api.rate_limit_per_key, 200);
        assert_eq!(c.api.auth_failures_per_ip, 2);
        assert_eq!(c.api.auth_failures_global, 200);
        assert_eq!(c.api.checkpoint_requests_per_tenant, 10);
        assert_eq!(c.connections, crate::ConnectionLimits::default());
        assert_eq!(c.connections.max_connections, 1024);
        assert_eq!(c.sequencer.max_queued_events_per_tenant, 12_500);
        assert_eq!(c.sequencer.reserved_admin_events, 2_500);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(
            &f,
            "write_timeout = \"2s\"\nmax_connections = 5\n[sequencer]\nmax_queued_events = 4000\n",
        )
        .unwrap();
        let c = T::parse_from(["t", "--config", f.to_str().unwrap()])
            .a
            .resolve()
            .unwrap();
        assert_eq!(
            c.connections.write_timeout,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(c.connections.max_connections, 5);
        assert_eq!(c.sequencer.max_queued_events_per_tenant, 1_000, "a quarter");
        assert_eq!(c.sequencer.reserved_admin_events, 200, "a twentieth");
        std::fs::write(&f, "[sequencer]\nmax_queued_events_per_tenant = 10\n").unwrap();
        assert!(
            T::parse_from(["t", "--config", f.to_str().unwrap()])
                .a
                .resolve()
                .is_err(),
            "a share smaller than one full request is refused"
        );
    }
}
