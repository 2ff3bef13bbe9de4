//! `sealbook catalog lint FILE`: checks a catalog file (TOML, or YAML when named `.yaml`/`.yml`)
//! offline, with line-precise errors (syntax, names, severities, JSON Schemas, samples, and
//! additive-only evolution between versions). `sealbook catalog builtin [--yaml]` prints the
//! built-in catalog to start from. `sealbook catalog apply FILE` sends a file's types to a running
//! server: to the platform catalog with the operator token, or to a tenant's own types with a
//! `tenant:admin` key (`--key`); each change is recorded by the server like any other.
//! Exit codes: 0 clean, 1 problems found, 2 the file cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum CatalogCommand {
    /// Check a catalog file.
    Lint {
        /// The catalog file: TOML, or YAML when its name ends in `.yaml` or `.yml`.
        file: PathBuf,
    },
    /// Add or extend the types of a catalog file on a running server (the platform's with the
    /// operator token, the tenant's own with a tenant:admin key given as --key).
    Apply {
        /// The catalog file: TOML, or YAML when its name ends in `.yaml` or `.yml`.
        file: PathBuf,
        /// A tenant:admin key: apply the file to that tenant's own types.
        #[arg(long, env = "SEALBOOK_KEY", hide_env_values = true)]
        key: Option<String>,
        #[command(flatten)]
        conn: crate::admin::Conn,
    },
    /// Print the built-in catalog, to start a catalog of your own from.
    Builtin {
        /// As YAML instead of TOML.
        #[arg(long)]
        yaml: bool,
    },
}

fn read(file: &std::path::Path) -> Result<String, ExitCode> {
    std::fs::read_to_string(file).map_err(|e| {
        eprintln!("sealbook: reading {}: {e}", file.display());
        ExitCode::from(2)
    })
}

pub(crate) fn run(cmd: CatalogCommand, runtime: &tokio::runtime::Runtime) -> ExitCode {
    match cmd {
        CatalogCommand::Apply { file, key, conn } => {
            let text = match read(&file) {
                Ok(t) => t,
                Err(code) => return code,
            };
            let catalog = match sealbook_catalog::Catalog::parse_file(&file, &text) {
                Ok(c) => c,
                Err(problems) => {
                    for p in &problems {
                        println!("{}:{p}", file.display());
                    }
                    return ExitCode::from(1);
                }
            };
            let client = match key {
                Some(k) => sealbook_client::Client::new(&conn.url, &k).map_err(Into::into),
                None => conn.client(),
            };
            let client = match client {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("Error: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut failed = false;
            for t in catalog.types() {
                let def = catalog.definition(&t.name).expect("listed");
                match runtime.block_on(client.put_type(&t.name, def)) {
                    Ok(r) => match r["index"].as_u64() {
                        Some(i) => println!(
                            "{}: changed ({} catalog, recorded at index {i})",
                            t.name,
                            r["scope"].as_str().unwrap_or("?")
                        ),
                        None => println!("{}: already in force", t.name),
                    },
                    Err(e) => {
                        failed = true;
                        println!("{}: refused: {e}", t.name);
                        if let sealbook_client::ClientError::Problem { problem, .. } = &e {
                            for p in &problem.errors {
                                println!("  {}", p["problem"].as_str().unwrap_or_default());
                            }
                        }
                    }
                }
            }
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        CatalogCommand::Builtin { yaml } => {
            if yaml {
                print!("{}", sealbook_catalog::Catalog::builtin().to_yaml());
            } else {
                print!("{}", sealbook_catalog::BUILTIN);
            }
            ExitCode::SUCCESS
        }
        CatalogCommand::Lint { file } => {
            let text = match read(&file) {
                Ok(t) => t,
                Err(code) => return code,
            };
            match sealbook_catalog::Catalog::parse_file(&file, &text) {
                Ok(c) => {
                    println!(
                        "{}: {} types, no problems",
                        file.display(),
                        c.types().count()
                    );
                    ExitCode::SUCCESS
                }
                Err(problems) => {
                    for p in &problems {
                        println!("{}:{p}", file.display());
                    }
                    ExitCode::from(1)
                }
            }
        }
    }
}
