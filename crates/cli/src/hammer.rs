//! `sealbook hammer`: drives a running server over HTTP and reports throughput and latency.
//!
//! Latency is measured from when a request was *due*, not when it was sent, so a stalled server
//! cannot hide its stall from the figures (no coordinated omission) in `--rate` mode.

use crate::workload::{self, Rng};
use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// POST batches of events.
    Ingest,
    /// GET filtered pages (actor + time window, type, actor alone).
    Query,
    /// Inclusion proof requests: a random index against a checkpoint signed at start (each proof
    /// counts as one event in the figures; `--batch` does not apply).
    Proofs,
}

/// `sealbook hammer` arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct HammerArgs {
    /// Server URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Tenant API keys, comma-separated; clients spread over them (one tenant per key).
    #[arg(long, value_delimiter = ',', required = true)]
    keys: Vec<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Events per request (ingest) or page size (query).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// How long to run, e.g. 20s.
    #[arg(long, conflicts_with = "count")]
    duration: Option<humantime::Duration>,
    /// Total events (ingest) or requests (query) to send.
    #[arg(long)]
    count: Option<u64>,
    /// Offered load in events/s (ingest) or requests/s (query), spread over clients.
    #[arg(long)]
    rate: Option<f64>,
    /// What to send.
    #[arg(long, value_enum, default_value = "ingest")]
    mode: Mode,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

struct Shared {
    latency: Mutex<Histogram<u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    events: AtomicU64,
    requests: AtomicU64,
    budget: Option<AtomicU64>,
}

impl Shared {
    /// Takes `n` units from the `--count` budget; false when it is spent.
    fn take(&self, n: u64) -> bool {
        match &self.budget {
            None => true,
            Some(b) => b
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                    left.checked_sub(n)
                })
                .is_ok(),
        }
    }

    fn error(&self, kind: String) {
        *self.errors.lock().unwrap().entry(kind).or_default() += 1;
    }
}

pub(crate) async fn run(args: HammerArgs) -> anyhow::Result<()> {
    if args.duration.is_none() && args.count.is_none() {
        bail!("give --duration (e.g. 20s) or --count N");
    }
    anyhow::ensure!(
        args.clients >= 1 && args.batch >= 1,
        "--clients and --batch must be at least 1"
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        // Below the server's idle keep-alive close (its header read timeout, 10 s by default).
        .pool_idle_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()?;
    let unit = if args.mode == Mode::Ingest {
        args.batch as u64
    } else {
        1
    };
    let shared = Arc::new(Shared {
        latency: Mutex::new(Histogram::new_with_bounds(1, 120_000_000, 3)?),
        errors: Mutex::new(BTreeMap::new()),
        events: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        budget: args.count.map(AtomicU64::new),
    });
    // Proofs are asked against a checkpoint each key's log has: sign one now and use its size.
    let mut sizes = Vec::new();
    if args.mode == Mode::Proofs {
        for key in &args.keys {
            let note = http
                .post(format!("{}/v1/log/checkpoint", args.url))
                .bearer_auth(key)
                .send()
                .await?
                .error_for_status()
                .context("signing a checkpoint to prove against")?
                .text()
                .await?;
            let size: u64 = note
                .lines()
                .nth(1)
                .and_then(|l| l.parse().ok())
                .context("the checkpoint has no tree size")?;
            sizes.push(size);
        }
    }
    let deadline = args.duration.map(|d| Instant::now() + Duration::from(d));
    let total = args.count.unwrap_or(0);
    let bar = progress(&args, total);
    let run_id = format!(
        "{:x}",
        time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64
    );
    let interval = args
        .rate
        .map(|r| Duration::from_secs_f64(unit as f64 * args.clients as f64 / r.max(0.001)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let key = args.keys[c % args.keys.len()].clone();
        let tree_size = sizes.get(c % args.keys.len()).copied().unwrap_or(0);
        let (http, shared, url, run_id) = (
            http.clone(),
            shared.clone(),
            args.url.clone(),
            run_id.clone(),
        );
        let (mode, batch) = (args.mode, args.batch);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(c as u64 + 1);
            let mut due = Instant::now();
            let mut n = 0u64;
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) || !shared.take(unit) {
                    break;
                }
                if interval.is_some() {
                    tokio::time::sleep_until(due.into()).await;
                } else {
                    due = Instant::now();
                }
                let req = match mode {
                    Mode::Ingest => ingest_request(
                        &http,
                        &url,
                        &key,
                        &mut rng,
                        &format!("{run_id}-{c}-{n}"),
                        batch,
                    ),
                    Mode::Query => query_request(&http, &url, &key, &mut rng, batch),
                    Mode::Proofs => http
                        .get(format!("{url}/v1/log/proof/inclusion"))
                        .bearer_auth(&key)
                        .query(&[
                            ("index", rng.below(tree_size).to_string()),
                            ("size", tree_size.to_string()),
                        ]),
                };
                let result = req.send().await;
                let micros = due.elapsed().as_micros() as u64;
                match result {
                    Ok(r) if r.status().is_success() => {
                        let body = r.bytes().await.unwrap_or_default();
                        let events = match mode {
                            Mode::Ingest => batch as u64,
                            Mode::Query => count_events(&body),
                            Mode::Proofs => 1,
                        };
                        shared.events.fetch_add(events, Ordering::Relaxed);
                        shared.requests.fetch_add(1, Ordering::Relaxed);
                        let _ = shared.latency.lock().unwrap().record(micros.max(1));
                    }
                    Ok(r) => shared.error(format!("http_{}", r.status().as_u16())),
                    Err(e) if e.is_timeout() => shared.error("timeout".into()),
                    Err(_) => shared.error("transport".into()),
                }
                n += 1;
                if let Some(iv) = interval {
                    due += iv;
                }
            }
        }));
    }
    let ticker = {
        let (shared, bar) = (shared.clone(), bar.clone());
        let ingest = args.mode == Mode::Ingest;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let done = if ingest {
                    shared.events.load(Ordering::Relaxed)
                } else {
                    shared.requests.load(Ordering::Relaxed)
                };
                bar.set_position(done);
                if let Some(d) = deadline {
                    bar.set_message(format!(
                        "{:.0}s left",
                        d.saturating_duration_since(Instant::now()).as_secs_f64()
                    ));
                }
            }
        })
    };
    for t in tasks {
        t.await.context("client task")?;
    }
    ticker.abort();
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    report(&args, &shared, elapsed)
}

fn progress(args: &HammerArgs, total: u64) -> indicatif::ProgressBar {
    if args.json {
        return indicatif::ProgressBar::hidden();
    }
    let bar = if total > 0 {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} sent {per_sec} {msg} {wide_bar}")
            .expect("static template"),
    );
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

fn ingest_request(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    rng: &mut Rng,
    prefix: &str,
    batch: usize,
) -> reqwest::RequestBuilder {
    let now = sealbook_domain::timestamp::format_utc(time::OffsetDateTime::now_utc(), 3);
    let mut body = Vec::with_capacity(batch * 900);
    body.push(b'[');
    for i in 0..batch {
        if i > 0 {
            body.push(b',');
        }
        let mut e = workload::event(rng, &now);
        e["id"] = format!("{prefix}-{i}").into();
        serde_json::to_writer(&mut body, &e).expect("serialize");
    }
    body.push(b']');
    http.post(format!("{url}/v1/events"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
}

fn query_request(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    rng: &mut Rng,
    limit: usize,
) -> reqwest::RequestBuilder {
    let now = time::OffsetDateTime::now_utc();
    let actor = format!("user-{}", rng.below(workload::ACTORS));
    let since = sealbook_domain::timestamp::format_utc(now - time::Duration::hours(1), 0);
    let until = sealbook_domain::timestamp::format_utc(now + time::Duration::minutes(1), 0);
    let limit = limit.to_string();
    let query: Vec<(&str, &str)> = match rng.below(3) {
        0 => vec![
            ("actor", &actor),
            ("since", &since),
            ("until", &until),
            ("limit", &limit),
        ],
        1 => vec![("type", "order.status_changed"), ("limit", &limit)],
        _ => vec![("actor", &actor), ("type", "user.*"), ("limit", &limit)],
    };
    http.get(format!("{url}/v1/events"))
        .bearer_auth(key)
        .query(&query)
}

fn count_events(body: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["events"].as_array().map(|a| a.len() as u64))
        .unwrap_or(0)
}

fn report(args: &HammerArgs, shared: &Shared, elapsed: f64) -> anyhow::Result<()> {
    let h = shared.latency.lock().unwrap();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let events = shared.events.load(Ordering::Relaxed);
    let requests = shared.requests.load(Ordering::Relaxed);
    let errors = shared.errors.lock().unwrap().clone();
    let error_total: u64 = errors.values().sum();
    let out = serde_json::json!({
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "clients": args.clients,
        "batch": args.batch,
        "tenants": args.keys.len(),
        "offered_rate": args.rate,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "requests": requests,
        "events": events,
        "events_per_sec": (events as f64 / elapsed).round(),
        "requests_per_sec": (requests as f64 / elapsed).round(),
        "p50_ms": ms(0.50), "p90_ms": ms(0.90), "p99_ms": ms(0.99), "max_ms": h.max() as f64 / 1000.0,
        "errors": error_total,
        "errors_by_kind": errors,
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "{} requests, {} events in {:.1}s: {:.0} events/s, {:.0} requests/s\nreceipt latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}\nerrors: {} {:?}",
            requests, events, elapsed, events as f64 / elapsed, requests as f64 / elapsed, ms(0.5), ms(0.9), ms(0.99), h.max() as f64 / 1000.0, error_total, errors
        );
    }
    Ok(())
}
