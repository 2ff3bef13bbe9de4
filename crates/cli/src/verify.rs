//! `sealbook verify`: checks a tenant log served by a running Sealbook while trusting nothing but a
//! verifier key. Exit codes: 0 verified, 1 verification failed (the message names the index and
//! the reason), 2 usage or I/O error.

use sealbook_client::verify::{verify_log, VerifyError};
use sealbook_client::Client;
use sealbook_logmath::note::NoteVerifier;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Server URL.
    #[arg(long, env = "SEALBOOK_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A tenant API key with `events:read` (the log verified is that key's tenant's).
    #[arg(long, env = "SEALBOOK_KEY", hide_env_values = true)]
    key: String,
    /// A verifier key (`<origin>+<id>+<base64>`), or `@FILE` with one per line; repeatable.
    /// Obtain it out of band: the verifier trusts nothing the server says about keys.
    #[arg(long = "vkey", required = true)]
    vkeys: Vec<String>,
    /// Trust-on-first-use state: the checkpoint of the previous run. The new one must be
    /// consistent with it; it is replaced after a successful run.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also fetch every personal value and check it against its commitment. Needs a key with
    /// `events:export`: the server records each bundle of personal values it serves.
    #[arg(long)]
    personal_values: bool,
}

/// Exit code 2 with a message: the check could not run.
fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("sealbook: {msg}");
    ExitCode::from(2)
}

/// Parses `--vkey` values (strings or `@FILE`s).
pub(crate) fn verifiers(args: &[String]) -> Result<Vec<NoteVerifier>, String> {
    let mut out = Vec::new();
    for a in args {
        let lines: Vec<String> = match a.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("reading {path}: {e}"))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
            None => vec![a.trim().to_owned()],
        };
        for l in lines {
            out.push(NoteVerifier::parse(&l).map_err(|e| format!("verifier key {l:?}: {e}"))?);
        }
    }
    Ok(out)
}

/// Replaces `path` atomically, so a crash never leaves a half-written state.
pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

pub(crate) async fn run(args: VerifyArgs) -> ExitCode {
    let verifiers = match verifiers(&args.vkeys) {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    let client = match Client::new(&args.url, &args.key) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let saved = match &args.state {
        Some(p) if p.exists() => match std::fs::read_to_string(p) {
            Ok(s) => Some(s),
            Err(e) => return usage(format!("reading {}: {e}", p.display())),
        },
        _ => None,
    };
    let started = std::time::Instant::now();
    let report = match verify_log(&client, &verifiers, saved.as_deref(), args.personal_values).await
    {
        Ok(r) => r,
        Err(VerifyError::Failed(f)) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"verified": false, "index": f.index, "reason": f.reason})
                );
            }
            eprintln!("sealbook verify: FAILED: {f}");
            return ExitCode::from(1);
        }
        Err(e) => return usage(e),
    };
    let secs = started.elapsed().as_secs_f64();
    if let Some(p) = &args.state {
        if let Err(e) = write_atomically(p, &report.note) {
            return usage(format!("saving the state to {}: {e}", p.display()));
        }
    }
    let rate = report.events as f64 / secs.max(1e-9);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "verified": true,
                "origin": report.checkpoint.origin,
                "size": report.checkpoint.size,
                "personal_values": args.personal_values.then_some(report.personal_values),
                "consistent_with": report.consistent_with,
                "seconds": secs,
                "events_per_sec": rate,
            })
        );
    } else {
        println!(
            "verified {} events of {} (root {}), {}; {}",
            report.events,
            report.checkpoint.origin,
            report.checkpoint.root.to_hex(),
            if args.personal_values {
                format!("{} personal values", report.personal_values)
            } else {
                "personal values not checked (--personal-values)".to_owned()
            },
            match report.consistent_with {
                Some(s) => format!("consistent with the saved checkpoint of size {s}"),
                None if args.state.is_some() => "first use: state saved".to_owned(),
                None => "no saved state to compare with".to_owned(),
            }
        );
        println!("{secs:.2} s, {rate:.0} events/s");
    }
    ExitCode::SUCCESS
}

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyExportArgs {
    /// The export file (JSON lines from `GET /v1/exports/events`); `-` for standard input.
    file: PathBuf,
    /// A verifier key (`<origin>+<id>+<base64>`), or `@FILE` with one per line; repeatable.
    #[arg(long = "vkey", required = true)]
    vkeys: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// `sealbook verify-export`: offline, no server involved.
pub(crate) fn run_export(args: VerifyExportArgs) -> ExitCode {
    use sealbook_client::verify::verify_export;
    let verifiers = match verifiers(&args.vkeys) {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    let reader: Box<dyn std::io::BufRead> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(&args.file) {
            Ok(f) => Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            Err(e) => return usage(format!("opening {}: {e}", args.file.display())),
        }
    };
    let started = std::time::Instant::now();
    match verify_export(reader, &verifiers) {
        Ok(r) => {
            let secs = started.elapsed().as_secs_f64();
            // Everything printed is signed (the checkpoint or the export's claims); nothing is
            // taken from the file's unsigned header.
            let c = &r.claims;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "verified": true,
                        "events": r.events,
                        "signed": {
                            "tenant": c.tenant,
                            "origin": r.checkpoint.origin,
                            "size": c.size,
                            "count": c.count,
                            "first": c.first,
                            "last": c.last,
                            "filters": c.filters.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>(),
                            "export_event": {"id": c.audit_event, "index": c.audit_index},
                        },
                        "seconds": secs,
                    })
                );
            } else {
                println!(
                    "verified {} exported events of {} against its checkpoint of size {} (root {}); signed filters: {}; recorded as event {} (index {})",
                    r.events,
                    r.checkpoint.origin,
                    r.checkpoint.size,
                    r.checkpoint.root.to_hex(),
                    if c.filters.is_empty() {
                        "none (the whole log)".to_owned()
                    } else {
                        c.filters.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(" ")
                    },
                    c.audit_event,
                    c.audit_index,
                );
            }
            ExitCode::SUCCESS
        }
        Err(VerifyError::Failed(f)) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"verified": false, "index": f.index, "reason": f.reason})
                );
            }
            eprintln!("sealbook verify-export: FAILED: {f}");
            ExitCode::from(1)
        }
        Err(e) => usage(e),
    }
}
