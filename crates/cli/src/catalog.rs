//! `sealbook catalog lint FILE`: checks a catalog file offline, with line-precise errors (TOML
//! syntax, names, severities, JSON Schemas, samples, and additive-only evolution between versions).
//! Exit codes: 0 clean, 1 problems found, 2 the file cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum CatalogCommand {
    /// Check a catalog file.
    Lint {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print the built-in catalog (TOML), to start a catalog of your own from.
    Builtin,
}

pub(crate) fn run(cmd: CatalogCommand) -> ExitCode {
    match cmd {
        CatalogCommand::Builtin => {
            print!("{}", sealbook_catalog::BUILTIN);
            ExitCode::SUCCESS
        }
        CatalogCommand::Lint { file } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("sealbook: reading {}: {e}", file.display());
                    return ExitCode::from(2);
                }
            };
            match sealbook_catalog::Catalog::parse(&text) {
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
