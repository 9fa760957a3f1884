//! Logging: human or JSON lines on stdout, written off the request path.
//!
//! The filter comes from `LEVEE_LOG` (e.g. `info`, `levee::access=off`),
//! default `info`. Lines go through a non-blocking writer so a slow terminal
//! or pipe never stalls a request; if the buffer fills, lines are dropped
//! (and counted by tracing-appender) rather than blocking.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber; keep the guard alive until exit so the
/// last lines are flushed.
pub(crate) fn init(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_from_env("LEVEE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking(std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true)
        .with_ansi(std::io::stdout().is_terminal());
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    guard
}
