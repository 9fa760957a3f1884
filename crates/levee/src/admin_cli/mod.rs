//! `levee maint`, `levee drain`, `levee undrain`, `levee audit`: a client of
//! the gateway's admin API (docs/admin-api.md).
//!
//! This module must not reach into the gateway's state except through the
//! admin API over HTTP.

use std::process::ExitCode;

/// Flags shared by every admin command.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminFlags {
    /// The admin listener's address.
    #[arg(
        long,
        value_name = "ADDR",
        env = "LEVEE_ADMIN",
        default_value = "127.0.0.1:9901",
        global = true
    )]
    admin: String,
    /// A file holding the admin token (`name:token` or just the token).
    #[arg(long, value_name = "FILE", global = true)]
    token_file: Option<std::path::PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

/// `levee maint …`.
#[derive(Debug, clap::Args)]
pub(crate) struct MaintArgs {
    #[command(flatten)]
    flags: AdminFlags,
}

/// `levee drain …`.
#[derive(Debug, clap::Args)]
pub(crate) struct DrainArgs {
    #[command(flatten)]
    flags: AdminFlags,
}

/// `levee undrain …`.
#[derive(Debug, clap::Args)]
pub(crate) struct UndrainArgs {
    #[command(flatten)]
    flags: AdminFlags,
}

/// `levee audit …`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    flags: AdminFlags,
}

/// Runs `levee maint`.
pub(crate) async fn maint(args: MaintArgs) -> ExitCode {
    let _ = args;
    eprintln!("levee maint: not built yet");
    ExitCode::from(2)
}

/// Runs `levee drain`.
pub(crate) async fn drain(args: DrainArgs) -> ExitCode {
    let _ = args;
    eprintln!("levee drain: not built yet");
    ExitCode::from(2)
}

/// Runs `levee undrain`.
pub(crate) async fn undrain(args: UndrainArgs) -> ExitCode {
    let _ = args;
    eprintln!("levee undrain: not built yet");
    ExitCode::from(2)
}

/// Runs `levee audit`.
pub(crate) async fn audit(args: AuditArgs) -> ExitCode {
    let _ = args;
    eprintln!("levee audit: not built yet");
    ExitCode::from(2)
}
