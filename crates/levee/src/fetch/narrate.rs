//! The narration on stderr: one line per retry, and on a terminal a live
//! countdown while waiting.
//!
//! Events arrive from the client synchronously; they are handed to a printer
//! task over a channel so the request's task never blocks on the terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use levee_client::{Event, Observer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How much to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Narration {
    /// Nothing.
    Silent,
    /// Retries only.
    Retries,
    /// Every attempt too.
    Verbose,
}

/// The printer task and the sender the client's observer uses.
pub(crate) struct Narrator {
    tx: mpsc::UnboundedSender<Event>,
    task: JoinHandle<()>,
}

impl Narrator {
    pub(crate) fn start(level: Narration) -> Narrator {
        let (tx, rx) = mpsc::unbounded_channel();
        let live = std::io::stderr().is_terminal();
        let task = tokio::spawn(print(rx, level, live));
        Narrator { tx, task }
    }

    pub(crate) fn observer(&self) -> impl Observer + 'static {
        let tx = self.tx.clone();
        move |e: &Event| {
            // The printer lives until `finish`; a send can only fail after it.
            let _ = tx.send(e.clone());
        }
    }

    /// Waits until every line is printed.
    pub(crate) async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

async fn print(mut rx: mpsc::UnboundedReceiver<Event>, level: Narration, live: bool) {
    let mut countdown: Option<tokio::time::Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                if countdown.take().is_some() {
                    clear_line();
                }
                let show = !matches!(
                    (&event, level),
                    (_, Narration::Silent) | (Event::Sending { .. }, Narration::Retries)
                );
                if show {
                    eprintln!("levee: {event}");
                }
                if let Event::Retrying { wait, .. } = event
                    && live && level != Narration::Silent && wait >= Duration::from_secs(2)
                {
                    countdown = Some(tokio::time::Instant::now() + wait);
                    tick.reset_immediately();
                }
            }
            _ = tick.tick(), if countdown.is_some() => {
                let until = countdown.expect("guarded by the select condition");
                let left = until.saturating_duration_since(tokio::time::Instant::now());
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K       retrying in {} s…", left.as_secs_f64().ceil() as u64);
                let _ = err.flush();
                if left.is_zero() {
                    countdown = None;
                    clear_line();
                }
            }
        }
    }
    if countdown.is_some() {
        clear_line();
    }
}

fn clear_line() {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}
