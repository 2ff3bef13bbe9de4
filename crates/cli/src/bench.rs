//! `sealbook bench baseline`: how fast the bare database takes the same rows Sealbook writes, so
//! every ingest figure can be given as a ratio measured on the same machine at the same time.

use crate::workload::{self, Rng};
use anyhow::Context;
use sealbook_domain::{parse_batch, shape, BodyFormat, Limits, TenantId};
use sealbook_pipeline::OsEntropy;
use sealbook_testkit::baseline::sqlite::{self as baseline, Layout};

#[derive(clap::Subcommand, Debug)]
pub(crate) enum BenchCommand {
    /// Insert generated rows straight into the engine with Sealbook's schema and durability.
    Baseline(BaselineArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

#[derive(clap::Args, Debug)]
pub(crate) struct BaselineArgs {
    /// Database engine.
    #[arg(long, value_enum, default_value = "sqlite")]
    engine: Engine,
    /// Rows per transaction.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Rows to insert.
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
    /// PostgreSQL URL (postgres engine); the run uses a schema of its own and drops it after.
    #[arg(
        long,
        env = "SEALBOOK_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let BenchCommand::Baseline(args) = cmd;
    anyhow::ensure!(
        args.batch >= 1 && args.rows >= 1,
        "--batch and --rows must be at least 1"
    );
    let rows = rows(args.rows)?;
    let mut out = serde_json::json!({
        "engine": format!("{:?}", args.engine).to_lowercase(),
        "batch": args.batch,
        "rows": args.rows,
    });
    let mut report = |name: &str, key: &str, took: std::time::Duration| {
        let rate = (args.rows as f64 / took.as_secs_f64()).round();
        out[key] = rate.into();
        if !args.json {
            println!(
                "{:?} {name}: {} rows in {:.2}s, {rate} rows/s (batch {})",
                args.engine,
                args.rows,
                took.as_secs_f64(),
                args.batch
            );
        }
    };
    match args.engine {
        Engine::Sqlite => {
            for (name, key, layout) in [
                ("sealbook schema", "rows_per_sec", Layout::Sealbook),
                (
                    "events table only",
                    "rows_per_sec_events_only",
                    Layout::EventsOnly,
                ),
            ] {
                let dir = tempfile::tempdir()?;
                report(
                    name,
                    key,
                    baseline::insert(dir.path(), &rows, args.batch, layout)?,
                );
            }
        }
        Engine::Postgres => {
            use sealbook_testkit::baseline::postgres::{insert, Method};
            for (name, key, method) in [
                ("COPY", "rows_per_sec", Method::Copy),
                ("multi-row INSERT", "rows_per_sec_insert", Method::Insert),
            ] {
                let took = insert(&args.database_url, &rows, args.batch, method)
                    .await
                    .with_context(|| {
                        format!(
                            "PostgreSQL baseline at {} (set --database-url)",
                            redact(&args.database_url)
                        )
                    })?;
                report(name, key, took);
            }
        }
    }
    if args.json {
        println!("{out}");
    }
    Ok(())
}

/// A connection URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// The hammer's events, shaped exactly as ingest shapes them (outside the timed part).
fn rows(n: usize) -> anyhow::Result<Vec<sealbook_domain::ShapedEvent>> {
    let tenant = TenantId::parse("baseline")?;
    let mut rng = Rng::new(42);
    let now = time::OffsetDateTime::now_utc();
    let at = sealbook_domain::timestamp::format_utc(now, 3);
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    // Fixed keys: the baseline measures the stores, not key derivation.
    let keys = sealbook_domain::TenantKeys {
        search: sealbook_domain::SearchKey::new(&[1; 32]),
        content: sealbook_domain::ContentKey::new(&[2; 32]),
    };
    while out.len() < n {
        let batch: Vec<serde_json::Value> = (0..1000.min(n - out.len()))
            .map(|_| {
                let mut e = workload::event(&mut rng, &at);
                e["id"] = format!("baseline-{i}").into();
                i += 1;
                e
            })
            .collect();
        let body = serde_json::to_vec(&batch)?;
        for v in parse_batch(&body, BodyFormat::Json, &tenant, &Limits::default())? {
            out.push(shape(v, &tenant, now, &mut OsEntropy, &keys));
        }
    }
    Ok(out)
}
