//! `levee serve`: run the gateway until told to stop.
//!
//! Loads the configuration (file and/or flags; flags win), starts the
//! gateway, then waits for signals: SIGHUP or a change of the configuration
//! file or of the admin token file reloads both (a bad new configuration or
//! token file is logged with file:line and the running one stays in force);
//! SIGTERM or SIGINT drains and exits.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use levee_control::Gateway;
use levee_control::admin::auth::{AdminTokens, TOKEN_ENV};
use levee_control::config::{self, Config, Overrides};
use tokio::signal::unix::{SignalKind, signal};

/// Flags of `levee serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (TOML). Reloaded on SIGHUP and when it changes.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen on this address instead of the file's listeners.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Forward to this upstream (repeat for several endpoints): the pool `default`.
    #[arg(long, value_name = "URL")]
    upstream: Vec<String>,
    /// The admin listener's address (health, readiness, metrics, admin API).
    #[arg(long, value_name = "ADDR")]
    admin: Option<std::net::SocketAddr>,
    /// Where durable state lives (the SQLite database of windows, drains and
    /// the audit log). Default: `data_dir` in the config, else
    /// $LEVEE_DATA_DIR, $XDG_STATE_HOME/levee or ~/.local/state/levee.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Tokens the admin API accepts, one `name:token` per line. A token in
    /// $LEVEE_ADMIN_TOKEN is accepted too (named `env`). Re-read on SIGHUP
    /// and when the file changes.
    #[arg(long, value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
    /// Start even though the state database (DIR/levee.db) is empty (0
    /// bytes) or missing where a gateway kept its state before: begin with
    /// no maintenance windows, drains or audit log. Without it such a start
    /// is refused, so that lost state is never lost silently.
    #[arg(long)]
    accept_empty_store: bool,
    /// The admin tokens in force.
    #[arg(skip)]
    tokens: AdminTokens,
}

impl ServeArgs {
    fn overrides(&self, tokens: &AdminTokens) -> Overrides {
        Overrides {
            listen: self.listen,
            upstream: self.upstream.clone(),
            admin: self.admin,
            data_dir: self.data_dir.clone(),
            admin_tokens: tokens.clone(),
        }
    }

    /// The configuration, with `tokens` for the admin API.
    fn load(&self, tokens: &AdminTokens) -> Result<Config, config::ConfigError> {
        let mut config = match &self.config {
            Some(path) => config::load_file(path, &self.overrides(tokens)),
            None => config::from_flags(&self.overrides(tokens)),
        }?;
        if config.data_dir.is_none() {
            config.data_dir = Some(config::default_data_dir());
        }
        Ok(config)
    }

    /// Reads the admin tokens from --admin-token-file and LEVEE_ADMIN_TOKEN.
    /// At start a missing or empty file is an error; at a reload it revokes
    /// the file's tokens ([`AdminTokens::reread`]).
    fn read_tokens(&self, reload: bool) -> anyhow::Result<AdminTokens> {
        let mut tokens = match &self.admin_token_file {
            Some(path) if reload => {
                let tokens = AdminTokens::reread(path)?;
                if tokens.is_empty() && !self.tokens.is_empty() {
                    tracing::warn!(
                        file = %path.display(),
                        "the admin token file is gone or empty: its tokens are revoked"
                    );
                }
                tokens
            }
            Some(path) => AdminTokens::read(path)?,
            None => AdminTokens::none(),
        };
        if let Some(t) = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
            tokens = tokens.with("env", t.trim())?;
        }
        if tokens.is_empty() {
            tracing::warn!(
                "no admin tokens: the admin API (/v1) refuses every call; give --admin-token-file or {TOKEN_ENV}"
            );
        }
        Ok(tokens)
    }
}

/// Runs the gateway until SIGTERM/SIGINT, then drains.
pub(crate) async fn run(mut args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.config.is_none() && (args.listen.is_none() || args.upstream.is_empty()) {
        anyhow::bail!("give --config FILE, or both --listen ADDR and --upstream URL");
    }
    args.tokens = args.read_tokens(false)?;
    let config = args.load(&args.tokens)?;
    let (drain_timeout, config_delay) = (config.drain_timeout, config.drain_delay);
    let started = if args.accept_empty_store {
        Gateway::start_accepting_empty_store(config).await
    } else {
        Gateway::start(config).await
    };
    let mut gateway = started.context("cannot start the gateway")?;
    for addr in gateway.addrs() {
        tracing::info!(%addr, "levee is serving");
    }

    let mut hup = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    let mut watch = FileWatch::new(args.config.clone());
    let mut token_watch = FileWatch::new(args.admin_token_file.clone());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let signal_name = loop {
        tokio::select! {
            _ = hup.recv() => reload(&mut gateway, &mut args, "SIGHUP"),
            _ = tick.tick() => {
                // Both, so that each watch remembers what it saw.
                let (config, tokens) = (watch.changed(), token_watch.changed());
                if config || tokens {
                    reload(&mut gateway, &mut args, "file change");
                }
            }
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
        }
    };
    // SIGTERM (an orchestrator) gets the drain delay: not ready but serving,
    // so that load balancers move away before anything is refused. SIGINT
    // (someone at a terminal) drains at once.
    let delay = if signal_name == "SIGTERM" {
        config_delay.min(drain_timeout)
    } else {
        Duration::ZERO
    };
    tracing::info!(
        signal = signal_name,
        delay_ms = delay.as_millis() as u64,
        deadline_ms = drain_timeout.as_millis() as u64,
        "not ready; draining after the delay"
    );
    gateway.unready();
    let drained = async {
        tokio::time::sleep(delay).await;
        tracing::info!("draining");
        gateway.shutdown(drain_timeout - delay).await
    };
    tokio::pin!(drained);
    let left = tokio::select! {
        left = &mut drained => left,
        _ = int.recv() => {
            tracing::warn!("second interrupt: exiting without waiting");
            usize::MAX
        }
    };
    match left {
        0 => tracing::info!("drained; exiting"),
        usize::MAX => {}
        n => tracing::warn!(
            in_flight = n,
            "drain deadline passed; exiting with requests in flight"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Re-reads the admin tokens and the configuration and publishes both, or
/// neither: a bad token file keeps the tokens and the configuration in force.
fn reload(gateway: &mut Gateway, args: &mut ServeArgs, why: &str) {
    let result = match args.read_tokens(true) {
        Ok(tokens) => gateway
            .reload(args.load(&tokens))
            .map(|()| args.tokens = tokens)
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => tracing::info!(
            trigger = why,
            admin_tokens = args.tokens.len(),
            "configuration reloaded"
        ),
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!(
                    trigger = why,
                    "configuration rejected, the running one stays in force: {line}"
                );
            }
        }
    }
}

/// Notices when the configuration file changes (modification time or size),
/// including editors that save by renaming a new file into place.
struct FileWatch {
    path: Option<PathBuf>,
    seen: Option<(SystemTime, u64)>,
}

impl FileWatch {
    fn new(path: Option<PathBuf>) -> FileWatch {
        let mut w = FileWatch { path, seen: None };
        w.seen = w.stat();
        w
    }

    fn stat(&self) -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(self.path.as_ref()?).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// Whether the file changed since the last look, appearing or
    /// disappearing included.
    fn changed(&mut self) -> bool {
        let now = self.stat();
        if now != self.seen {
            self.seen = now;
            return true;
        }
        false
    }
}
