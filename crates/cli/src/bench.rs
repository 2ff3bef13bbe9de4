//! `sealbook bench baseline`: how fast the bare database takes the same rows Sealbook writes, so
//! every ingest figure can be given as a ratio measured on the same machine at the same time.

use crate::workload::{self, Rng};
use anyhow::bail;
use sealbook_domain::{parse_batch, shape, BodyFormat, Limits, TenantId};
use sealbook_pipeline::OsEntropy;
use sealbook_store_sqlite::baseline::{self, Layout};

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
    /// PostgreSQL URL (postgres engine).
    #[arg(long)]
    database_url: Option<String>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let BenchCommand::Baseline(args) = cmd;
    if args.engine == Engine::Postgres {
        bail!("the PostgreSQL baseline arrives with the PostgreSQL backend; only --engine sqlite exists yet");
    }
    let _ = &args.database_url;
    anyhow::ensure!(
        args.batch >= 1 && args.rows >= 1,
        "--batch and --rows must be at least 1"
    );
    let rows = rows(args.rows)?;
    let mut results = serde_json::Map::new();
    for (name, layout) in [
        ("sealbook_schema", Layout::Sealbook),
        ("events_only", Layout::EventsOnly),
    ] {
        let dir = tempfile::tempdir()?;
        let took = baseline::insert(dir.path(), &rows, args.batch, layout)?;
        let rate = (args.rows as f64 / took.as_secs_f64()).round();
        results.insert(name.into(), rate.into());
        if !args.json {
            println!(
                "sqlite {name}: {} rows in {:.2}s, {rate} rows/s (batch {})",
                args.rows,
                took.as_secs_f64(),
                args.batch
            );
        }
    }
    if args.json {
        let out = serde_json::json!({
            "engine": "sqlite", "batch": args.batch, "rows": args.rows,
            "rows_per_sec": results["sealbook_schema"],
            "rows_per_sec_events_only": results["events_only"],
        });
        println!("{out}");
    }
    Ok(())
}

/// The hammer's events, shaped exactly as ingest shapes them (outside the timed part).
fn rows(n: usize) -> anyhow::Result<Vec<sealbook_domain::ShapedEvent>> {
    let tenant = TenantId::parse("baseline")?;
    let mut rng = Rng::new(42);
    let now = time::OffsetDateTime::now_utc();
    let at = sealbook_domain::timestamp::format_utc(now, 3);
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
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
            out.push(shape(v, &tenant, now, &mut OsEntropy));
        }
    }
    Ok(out)
}
