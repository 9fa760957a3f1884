//! `levee config check FILE`: validate a configuration without running it.

use std::path::PathBuf;
use std::process::ExitCode;

use levee_control::config::{self, Overrides};

/// `levee config …` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ConfigCmd {
    /// Validate a configuration file; print each error with file:line:column.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

/// Runs a `config` subcommand. Exit 0 when valid, 1 when not.
pub(crate) fn run(cmd: ConfigCmd) -> ExitCode {
    match cmd {
        ConfigCmd::Check { file } => match config::load_file(&file, &Overrides::default()) {
            Ok(cfg) => {
                println!(
                    "{}: ok ({} listener{}, {} route{}, {} pool{})",
                    file.display(),
                    cfg.listeners.len(),
                    plural(cfg.listeners.len()),
                    cfg.routes.len(),
                    plural(cfg.routes.len()),
                    cfg.pools.len(),
                    plural(cfg.pools.len())
                );
                for r in &cfg.routes {
                    println!(
                        "  route {:<16} {:?} {:<20} -> pool {}",
                        r.name, r.host, r.path_prefix, r.pool
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                eprintln!(
                    "levee: {} error{} in {}",
                    e.diagnostics.len(),
                    plural(e.diagnostics.len()),
                    file.display()
                );
                ExitCode::from(1)
            }
        },
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
