//! Building and running the server: open the store, bring the catalog into force, start the
//! sequencer and the checkpoint signer, bind the listener; then serve (`crate::conn`, with its
//! bounds on connections, header and body reads and writes) until told to stop, and shut
//! down gracefully: stop accepting connections, let requests in flight finish, commit their
//! batches, sign a last checkpoint.

use crate::config::Config;
use anyhow::Context;
use sealbook_api::{router, secret, AppState};
use sealbook_pipeline::{Log, Sequencer, SigningKeys};
use sealbook_store_sqlite::SqliteStore;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A server that is listening and ready to serve: built by [`Server::build`], run by
/// [`Server::run`]. Requests that arrive between the two wait in the listener's backlog.
pub struct Server {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    state: AppState,
    sequencer: Sequencer,
    sequencer_task: tokio::task::JoinHandle<()>,
    stop_signer: tokio::sync::oneshot::Sender<()>,
    signer_task: tokio::task::JoinHandle<()>,
    access_sweeper: tokio::task::JoinHandle<()>,
    description: String,
    connections: crate::conn::ConnectionLimits,
}

impl Server {
    /// Opens (creating if needed) the data directory and the store, reads or generates the
    /// secrets, starts the sequencer and the checkpoint signer, records catalog changes in the
    /// platform log, and binds `config.listen`. `prometheus` renders `GET /metrics`; the binary
    /// installs the process's recorder and passes its handle, a test may pass `None` (then
    /// `/metrics` answers an empty page).
    pub async fn build(
        config: Config,
        prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> anyhow::Result<Server> {
        create_private_dir(&config.data_dir)?;
        let token = admin_token(&config)?;

        let store: Arc<dyn sealbook_store::Store> = match &config.database_url {
            None => {
                Arc::new(SqliteStore::open(&config.data_dir).context("opening the embedded store")?)
            }
            Some(url) => {
                if let Some(owner) = &config.database_owner_url {
                    sealbook_store_postgres::migrate::migrate(owner)
                        .await
                        .context("migrating the PostgreSQL schema")?;
                }
                Arc::new(
                    sealbook_store_postgres::PgStore::connect(url, 16)
                        .await
                        .context("connecting to PostgreSQL")?,
                )
            }
        };
        let prefix = origin_prefix(&config, &*store).await?;
        let redaction_master = redaction_master(&config)?;
        hash_format(&*store, &config, &redaction_master).await?;
        let keys = signing_keys(&config)?;
        let log = Arc::new(
            Log::new(store.clone(), keys, &prefix)
                .await
                .context("starting the checkpoint signer")?,
        );
        let catalog = startup_catalog(&config)?;
        let (sequencer, sequencer_task) = Sequencer::start(store.clone(), config.sequencer);
        let (stop_signer, signer_stopped) = tokio::sync::oneshot::channel::<()>();
        let signer_task = tokio::spawn(log.clone().run_signer(config.checkpoint_interval, async {
            let _ = signer_stopped.await;
        }));
        let state = AppState::new(
            sealbook_api::Services {
                store,
                sequencer: sequencer.clone(),
                log,
                catalog: Arc::new(catalog),
                open_types: config.open_types.clone(),
                redaction_master: *redaction_master,
            },
            &token,
            config.api,
            prometheus,
        );
        // The catalog in force is the platform log's; what the built-in catalog or the file
        // changed since the last start is recorded there first.
        let synced = state
            .sync_platform_catalog(&sealbook_api::CatalogSource {
                file: config
                    .catalog_file
                    .as_ref()
                    .map(|p| p.display().to_string()),
            })
            .await
            .context("bringing the event catalog into force")?;
        if !synced.recorded.is_empty() {
            tracing::info!(types = ?synced.recorded, "catalog changes recorded in the platform log");
        }
        for name in &synced.behind {
            tracing::warn!(r#type = %name, "the catalog file (or the built-in catalog) has an older definition of this type than the one in force, which adds versions to it; the one in force stays. Bring the file up to date: the definition in force is in the latest catalog.type_changed of the platform log");
        }

        // Operators' accesses to tenants that ran out without an end get their end recorded.
        let sweeper_state = state.clone();
        let access_sweeper = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = sweeper_state.end_lapsed_access().await {
                    tracing::warn!(error = %e, "recording the end of lapsed operator accesses failed; retrying in 30 s");
                }
            }
        });

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(
            %addr,
            data_dir = %config.data_dir.display(),
            store = if config.database_url.is_some() { "postgresql" } else { "sqlite" },
            "sealbook listening"
        );
        let description = match &config.admin_token_file {
            Some(p) => format!("Operator token: read from {}", p.display()),
            None => format!(
                "Operator token: {}",
                config.data_dir.join("admin-token").display()
            ),
        };
        Ok(Server {
            listener,
            addr,
            state,
            sequencer,
            sequencer_task,
            stop_signer,
            signer_task,
            access_sweeper,
            description,
            connections: config.connections,
        })
    }

    /// The address the server listens on (the real port when `listen` named port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the operator token comes from, as a line for people (the token itself is never
    /// printed).
    pub fn token_line(&self) -> &str {
        &self.description
    }

    /// Serves until `shutdown` resolves, then stops gracefully: no new connections, requests in
    /// flight finish, queued batches commit, and their events get a checkpoint. Returns once all
    /// of that is done.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        crate::conn::serve(
            self.listener,
            router(self.state),
            self.connections,
            shutdown,
        )
        .await;
        self.access_sweeper.abort();
        tracing::info!("no more requests in flight; committing what is queued");
        self.sequencer.shutdown();
        self.sequencer_task.await.context("sequencer task")?;
        // After the last batch: its events get a checkpoint before the server stops.
        let _ = self.stop_signer.send(());
        self.signer_task.await.context("checkpoint signer task")?;
        tracing::info!("stopped cleanly");
        Ok(())
    }
}

/// The built-in catalog with the deployment's catalog file (if any) on top.
fn startup_catalog(config: &Config) -> anyhow::Result<sealbook_catalog::Catalog> {
    let mut catalog = sealbook_catalog::Catalog::builtin();
    if let Some(path) = &config.catalog_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading catalog file {}", path.display()))?;
        let own = sealbook_catalog::Catalog::parse_file(path, &text).map_err(|problems| {
            anyhow::anyhow!(
                "catalog file {}:\n{}",
                path.display(),
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?;
        catalog.extend(own);
    }
    Ok(catalog)
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

/// The format of search postings and content hashes this build writes and reads
/// (`docs/security/hashing.md`).
pub(crate) const HASH_FORMAT: &str = "hmac-sha256-v1";

/// Upgrades data whose postings and content hashes are unkeyed (marked so by the migration to
/// schema version 3) by rebuilding them under the tenants' keys: the embedded store in its own
/// writer, PostgreSQL as the owner when `--database-owner-url` is given (the application role may
/// not rewrite events). Then refuses data in any other format than [`HASH_FORMAT`]: searching it
/// would silently miss events and retries of its events would be called conflicts. A new database
/// records the format at its first start.
async fn hash_format(
    store: &dyn sealbook_store::Store,
    config: &Config,
    redaction_master: &[u8; 32],
) -> anyhow::Result<()> {
    if let Some(owner) = &config.database_owner_url {
        crate::upgrade::upgrade_pg_hashes(owner, redaction_master).await?;
    } else if let Some(target) = store.hash_rebuild() {
        crate::upgrade::upgrade_hashes(target, redaction_master).await?;
    }
    let recorded = store
        .pin_setting("hash_format", HASH_FORMAT)
        .await
        .context("reading the format of search postings and content hashes")?;
    if recorded == sealbook_store::UNKEYED_FORMAT && store.hash_rebuild().is_none() {
        anyhow::bail!(
            "this database holds search postings and content hashes in the unkeyed format of an earlier Sealbook; this build keys them per tenant ({HASH_FORMAT:?}) and rebuilds them as the schema owner: run `sealbook migrate --database-owner-url <owner URL> --redaction-key-file <this deployment's redaction secret>` once, or start this server with --database-owner-url (docs/deploy-postgres.md)"
        );
    }
    if recorded != HASH_FORMAT {
        anyhow::bail!(
            "this data holds search postings and content hashes in the {recorded:?} format, which this build does not know (it writes {HASH_FORMAT:?}); run the Sealbook that wrote it (docs/security/hashing.md)"
        );
    }
    Ok(())
}

/// The log origin prefix: the explicit one must match what the data was created with; without one,
/// the recorded one is used (or the development default is recorded, with a warning).
async fn origin_prefix(
    config: &Config,
    store: &dyn sealbook_store::Store,
) -> anyhow::Result<String> {
    let wanted = config
        .log_origin_prefix
        .clone()
        .unwrap_or_else(|| crate::config::DEV_ORIGIN_PREFIX.to_owned());
    let recorded = store
        .pin_setting("log_origin_prefix", &wanted)
        .await
        .context("reading the log origin prefix")?;
    match &config.log_origin_prefix {
        Some(p) if *p != recorded => anyhow::bail!(
            "this data's logs are named {recorded:?}/<tenant>; log_origin_prefix {p:?} would rename them, and an origin names a log forever. Use {recorded:?}, or a new data directory"
        ),
        None if recorded == crate::config::DEV_ORIGIN_PREFIX => tracing::warn!(
            prefix = %recorded,
            "log_origin_prefix is not set: checkpoints use the development origin prefix; set it before the first start in production"
        ),
        _ => {}
    }
    Ok(recorded)
}

/// A secret's text and where it came from: the environment variable `env`, else the file named
/// in the configuration, else `default` in the data directory, generated on first start with
/// `generate` (written once, mode 0600, fsync'd; never printed).
fn secret_text(
    env: &str,
    file: Option<&Path>,
    default: &Path,
    what: &str,
    generate: impl FnOnce() -> zeroize::Zeroizing<String>,
) -> anyhow::Result<(zeroize::Zeroizing<String>, String)> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(text) = std::env::var(env) {
        return Ok((zeroize::Zeroizing::new(text), env.to_owned()));
    }
    let path = file.unwrap_or(default);
    if file.is_some() || path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading {what} {}", path.display()))?;
        return Ok((zeroize::Zeroizing::new(text), path.display().to_string()));
    }
    let text = generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    tracing::info!(path = %path.display(), "generated the {what}");
    Ok((text, path.display().to_string()))
}

/// The deployment's redaction secret (every tenant's redaction key derives from it):
/// `SEALBOOK_REDACTION_KEY`, `--redaction-key-file`, or generated into `<data-dir>/redaction-key`.
/// Several nodes must share it.
fn redaction_master(config: &Config) -> anyhow::Result<zeroize::Zeroizing<[u8; 32]>> {
    redaction_master_from(
        config.redaction_key_file.as_deref(),
        Some(&config.data_dir.join("redaction-key")),
    )
}

/// The redaction secret from `SEALBOOK_REDACTION_KEY`, `file`, or `default` (generated there when
/// absent). Without `default`, one of the first two MUST be given (`sealbook migrate`: a secret
/// generated there would key nothing the servers can read).
pub(crate) fn redaction_master_from(
    file: Option<&Path>,
    default: Option<&Path>,
) -> anyhow::Result<zeroize::Zeroizing<[u8; 32]>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let default = match (file, default) {
        (_, Some(d)) => d,
        (Some(f), None) => f,
        (None, None) if std::env::var_os("SEALBOOK_REDACTION_KEY").is_some() => Path::new(""),
        (None, None) => anyhow::bail!("no redaction secret given"),
    };
    let (text, from) = secret_text(
        "SEALBOOK_REDACTION_KEY",
        file,
        default,
        "redaction secret",
        || {
            let mut key = zeroize::Zeroizing::new([0u8; 32]);
            getrandom::fill(key.as_mut()).expect("the operating system's random generator failed");
            zeroize::Zeroizing::new(format!(
                "# Sealbook redaction secret: tenants' fingerprint keys derive from it. Keep secret.\n{}\n",
                b64.encode(key.as_ref())
            ))
        },
    )?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .with_context(|| format!("{from}: no key"))?;
    let bytes = zeroize::Zeroizing::new(
        b64.decode(line)
            .with_context(|| format!("{from}: not base64"))?,
    );
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("{from}: the redaction key is 32 bytes"))?;
    Ok(zeroize::Zeroizing::new(key))
}

/// The checkpoint signing keys: `SEALBOOK_CHECKPOINT_KEY`, `--checkpoint-key-file`, or the key
/// generated on first start into `<data-dir>/checkpoint-key`.
fn signing_keys(config: &Config) -> anyhow::Result<SigningKeys> {
    let (text, from) = secret_text(
        "SEALBOOK_CHECKPOINT_KEY",
        config.checkpoint_key_file.as_deref(),
        &config.data_dir.join("checkpoint-key"),
        "checkpoint signing key",
        SigningKeys::generate,
    )?;
    SigningKeys::parse(&text).with_context(|| from)
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
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
