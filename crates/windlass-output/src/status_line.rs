//! A transient status line: one line on stderr that each new message
//! replaces, for progress that is not worth a log line (a retry, a wait).

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use indicatif::{MultiProgress, ProgressBar, ProgressFinish, ProgressStyle};
use windlass_redact::global;

use crate::printer::Sink;
use crate::render::render_status;

/// One transient status line from [`Printer::status_line`](crate::Printer::status_line).
///
/// In a terminal (without `-q` or `--json`) it is a line below the progress
/// bars that each [`StatusLine::set`] replaces, and that the printer's next
/// status line, result or error removes. When stderr is not a terminal
/// (CI logs), each message is one plain status line at `-v` and nothing by
/// default. Cheap to clone; clones share the line. Messages are redacted.
#[derive(Clone)]
pub struct StatusLine {
    mode: Mode,
}

#[derive(Clone)]
enum Mode {
    /// Drawn in place; the slot is shared with the printer, which clears it.
    Terminal {
        slot: Arc<Mutex<Option<ProgressBar>>>,
        progress: MultiProgress,
        color: bool,
    },
    /// One plain line per message.
    Plain {
        stderr: Arc<Sink>,
        progress: MultiProgress,
        color: bool,
    },
    Hidden,
}

impl StatusLine {
    pub(crate) fn terminal(
        slot: Arc<Mutex<Option<ProgressBar>>>,
        progress: MultiProgress,
        color: bool,
    ) -> Self {
        Self {
            mode: Mode::Terminal {
                slot,
                progress,
                color,
            },
        }
    }

    pub(crate) fn plain(stderr: Arc<Sink>, progress: MultiProgress, color: bool) -> Self {
        Self {
            mode: Mode::Plain {
                stderr,
                progress,
                color,
            },
        }
    }

    /// A line that shows nothing.
    pub fn hidden() -> Self {
        Self { mode: Mode::Hidden }
    }

    /// Whether messages are shown at all.
    pub fn is_hidden(&self) -> bool {
        matches!(self.mode, Mode::Hidden)
    }

    /// Shows `verb message` (as [`Printer::status`](crate::Printer::status)
    /// writes it), replacing the line's previous message.
    pub fn set(&self, verb: &str, message: &str) {
        match &self.mode {
            Mode::Terminal {
                slot,
                progress,
                color,
            } => {
                let text = render_status(verb, message, *color);
                let text = text.trim_end().to_owned();
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                let bar = slot.get_or_insert_with(|| {
                    let style = ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    progress.add(
                        ProgressBar::new_spinner()
                            .with_style(style)
                            .with_finish(ProgressFinish::AndClear),
                    )
                });
                bar.set_message(text);
            }
            Mode::Plain {
                stderr,
                progress,
                color,
            } => {
                let text = render_status(verb, message, *color);
                let mut sink = stderr.lock().unwrap_or_else(PoisonError::into_inner);
                progress.suspend(|| {
                    let mut writer = global().writer(&mut *sink);
                    let _ = writer
                        .write_all(text.as_bytes())
                        .and_then(|()| writer.finish());
                });
            }
            Mode::Hidden => {}
        }
    }

    /// A callback showing each value it is given as `verb value` on this
    /// line, e.g. the retries of an HTTP client:
    /// `RetryObserver::new(printer.status_line().shows("Retrying"))`.
    pub fn shows<T: std::fmt::Display + ?Sized>(
        self,
        verb: &'static str,
    ) -> impl Fn(&T) + Send + Sync + 'static {
        move |value| self.set(verb, &value.to_string())
    }

    /// Removes the line (a terminal line only; plain lines stay written).
    pub fn clear(&self) {
        if let Mode::Terminal { slot, .. } = &self.mode {
            clear_slot(slot);
        }
    }
}

/// Removes the bar in `slot`, if any.
pub(crate) fn clear_slot(slot: &Mutex<Option<ProgressBar>>) {
    let bar = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

impl std::fmt::Debug for StatusLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.mode {
            Mode::Terminal { .. } => "terminal",
            Mode::Plain { .. } => "plain",
            Mode::Hidden => "hidden",
        };
        f.debug_struct("StatusLine").field("mode", &mode).finish()
    }
}
