//! `levee maint`, `levee drain`, `levee undrain`, `levee audit`, `levee
//! pools`, `levee incident`, `levee components`: a client of the gateway's
//! admin API (docs/admin-api.md, "The CLI").
//!
//! Each command is one or two HTTP calls to the admin listener (`--admin`,
//! `LEVEE_ADMIN`, default `127.0.0.1:9901`) with a bearer token
//! (`--token-file`, `LEVEE_ADMIN_TOKEN`), printed as an aligned table or,
//! with `--json`, as the API's own JSON. Exit codes: 0 success, 1 the API
//! refused (its problem's detail is printed), 2 usage error, 3 the admin API
//! could not be reached.
//!
//! | file | owns |
//! | --- | --- |
//! | `windows.rs` | `levee maint …`: flags, request bodies, window views |
//! | `drains.rs` | `levee drain`, `levee undrain` |
//! | `audit.rs` | `levee audit` |
//! | `pools.rs` | `levee pools` |
//! | `incidents.rs` | `levee incident …`, `levee components …`: the status page |
//! | `client.rs` | the admin address and one HTTP/1.1 exchange per call |
//! | `failure.rs` | failures, their exit codes and wording |
//! | `model.rs` | the API's objects as read |
//! | `token.rs`, `duration.rs`, `times.rs`, `table.rs` | token files, `1h30m`, RFC 3339, layout |
//!
//! This module must not reach into the gateway's state except through the
//! admin API over HTTP, and must not decide anything the API decides
//! (validation of windows, scopes, networks, incident statuses): it passes
//! input on and prints the API's verdict.

mod audit;
mod client;
mod drains;
mod duration;
mod failure;
mod incidents;
mod model;
mod pools;
mod table;
mod times;
mod token;
mod windows;

use std::io::Write;
use std::process::ExitCode;

use client::{AdminClient, Answer, Target};
use failure::Failure;

/// The admin address used when neither `--admin` nor `LEVEE_ADMIN` is given.
const DEFAULT_ADMIN: &str = "127.0.0.1:9901";

/// Flags shared by every admin command.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminFlags {
    /// The admin listener's address: `host:port` or `http://host:port`.
    #[arg(
        long,
        value_name = "ADDR",
        env = "LEVEE_ADMIN",
        default_value = DEFAULT_ADMIN,
        global = true
    )]
    admin: String,
    /// A file holding the admin token (`name:token` or just the token; the
    /// first line that is not blank or a `#` comment). Else `LEVEE_ADMIN_TOKEN`.
    #[arg(long, value_name = "FILE", global = true)]
    token_file: Option<std::path::PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

impl AdminFlags {
    /// The client and output settings these flags describe.
    fn context(&self) -> Result<Ctx, Failure> {
        let target = Target::parse(&self.admin).map_err(Failure::Usage)?;
        let env = std::env::var("LEVEE_ADMIN_TOKEN").ok();
        let token = token::resolve(self.token_file.as_deref(), env)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let admin_flag = if self.admin == DEFAULT_ADMIN {
            String::new()
        } else {
            format!(" --admin {}", self.admin)
        };
        Ok(Ctx {
            client: AdminClient::new(target, token),
            json: self.json,
            admin_flag,
        })
    }
}

/// What every command needs: the API, the output mode, and the `--admin`
/// flag to repeat in the follow-up commands it suggests.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The admin API.
    client: AdminClient,
    /// `--json`.
    json: bool,
    /// ` --admin ADDR` when not the default, for suggested commands.
    admin_flag: String,
}

impl Ctx {
    /// Prints a JSON answer: as it is with `--json`, else as `view` renders it.
    fn show<T: serde::de::DeserializeOwned>(
        &self,
        answer: &Answer,
        view: impl FnOnce(T) -> String,
    ) -> Result<(), Failure> {
        if self.json {
            print_json(&answer.json()?);
        } else {
            out(&view(answer.parse()?));
        }
        Ok(())
    }

    /// Prints what a body-less answer (`204`) did; with `--json` there is no
    /// JSON to print, so nothing is.
    fn done(&self, text: &str) {
        if !self.json {
            out(text);
        }
    }
}

/// `levee maint …`.
#[derive(Debug, clap::Args)]
pub(crate) struct MaintArgs {
    #[command(flatten)]
    flags: AdminFlags,
    #[command(subcommand)]
    command: windows::MaintCmd,
}

/// `levee drain ENDPOINT` or `levee drain --list`.
#[derive(Debug, clap::Args)]
pub(crate) struct DrainArgs {
    #[command(flatten)]
    flags: AdminFlags,
    #[command(flatten)]
    drain: drains::DrainCmd,
}

/// `levee undrain ENDPOINT`.
#[derive(Debug, clap::Args)]
pub(crate) struct UndrainArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// The endpoint to put back in rotation (`host:port`).
    #[arg(value_name = "ENDPOINT")]
    endpoint: String,
}

/// `levee audit [--limit N]`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// How many entries, newest first (1–1000; the API's default is 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    limit: Option<u16>,
}

/// `levee pools`.
#[derive(Debug, clap::Args)]
pub(crate) struct PoolsArgs {
    #[command(flatten)]
    flags: AdminFlags,
}

/// `levee incident …`.
#[derive(Debug, clap::Args)]
pub(crate) struct IncidentArgs {
    #[command(flatten)]
    flags: AdminFlags,
    #[command(subcommand)]
    command: incidents::IncidentCmd,
}

/// `levee components [pin|unpin]`.
#[derive(Debug, clap::Args)]
pub(crate) struct ComponentsArgs {
    #[command(flatten)]
    flags: AdminFlags,
    #[command(subcommand)]
    command: Option<incidents::ComponentsCmd>,
}

/// Runs `levee incident`.
pub(crate) async fn incident(args: IncidentArgs) -> ExitCode {
    let result = match args.flags.context() {
        Ok(ctx) => incidents::incident(&ctx, args.command).await,
        Err(f) => Err(f),
    };
    finish(&args.flags, result)
}

/// Runs `levee components`.
pub(crate) async fn components(args: ComponentsArgs) -> ExitCode {
    let result = match args.flags.context() {
        Ok(ctx) => incidents::components(&ctx, args.command).await,
        Err(f) => Err(f),
    };
    finish(&args.flags, result)
}

/// Runs `levee pools`.
pub(crate) async fn pools(args: PoolsArgs) -> ExitCode {
    let result = match args.flags.context() {
        Ok(ctx) => pools::run(&ctx).await,
        Err(f) => Err(f),
    };
    finish(&args.flags, result)
}

/// Runs `levee maint`.
pub(crate) async fn maint(args: MaintArgs) -> ExitCode {
    let result = match args.flags.context() {
        Ok(ctx) => windows::run(&ctx, args.command).await,
        Err(f) => Err(f),
    };
    finish(&args.flags, result)
}

/// Runs `levee drain`.
pub(crate) async fn drain(args: DrainArgs) -> ExitCode {
    let result = match args.flags.context() {
        Ok(ctx) => drains::drain(&ctx, args.drain).await,
        Err(f) => Err(f),
    };
    finish(&args.flags, result)
}

/// Runs `levee undrain`.
pub(crate) async fn undrain(args: UndrainArgs) -> ExitCode {
    let result = match args.flags.context() {
        Ok(ctx) => drains::undrain(&ctx, &args.endpoint).await,
        Err(f) => Err(f),
    };
    finish(&args.flags, result)
}

/// Runs `levee audit`.
pub(crate) async fn audit(args: AuditArgs) -> ExitCode {
    let result = match args.flags.context() {
        Ok(ctx) => audit::run(&ctx, args.limit).await,
        Err(f) => Err(f),
    };
    finish(&args.flags, result)
}

/// Reports a failure once and turns the result into the exit code.
fn finish(flags: &AdminFlags, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report(flags.json);
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Writes `text` to stdout; a closed pipe (`levee maint list | head`) is
/// not an error worth a word.
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Prints the API's JSON as it is, pretty.
fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    out(&format!("{text}\n"));
}
