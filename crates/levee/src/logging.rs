//! Logging: human or JSON lines, written off the request path.
//!
//! The filter comes from `LEVEE_LOG` (e.g. `info`, `levee::access=off`),
//! default `info`. Lines go through a non-blocking writer so a slow terminal
//! or pipe never stalls a request; if the buffer fills, lines are dropped
//! (and counted by tracing-appender) rather than blocking. Its thread writes
//! whatever lines have queued up in one system call (a buffer it flushes
//! each time the queue is empty), so a busy gateway (an access-log line per
//! request) does not pay a `write` per line, and a quiet one still shows each
//! line at once.

use std::io::{BufWriter, IsTerminal as _, Write};

use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Logs to stdout at `info` (the gateway); keep the guard alive until exit
/// so the last lines are flushed.
pub(crate) fn init_stdout(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(batched(std::io::stdout()));
    install(format, writer, std::io::stdout().is_terminal(), "info");
    guard
}

/// Logs to stderr at `warn` (every command whose stdout is its output).
pub(crate) fn init_stderr(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(batched(std::io::stderr()));
    install(format, writer, std::io::stderr().is_terminal(), "warn");
    guard
}

/// `out` behind a buffer: tracing-appender's thread writes every queued line
/// into it, then flushes once the queue is empty.
fn batched<W: Write>(out: W) -> BufWriter<W> {
    BufWriter::with_capacity(64 * 1024, out)
}

fn install(format: LogFormat, writer: NonBlocking, ansi: bool, default: &str) {
    let filter = EnvFilter::try_from_env("LEVEE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
