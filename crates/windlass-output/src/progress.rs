//! Progress bars on stderr, hidden unless a person is watching.

use std::borrow::Cow;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};
use windlass_redact::global;

/// What a bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Steps,
    /// Bytes: shown in binary units with the rate and the time left.
    Bytes,
}

/// A progress bar or spinner from [`Printer::progress`](crate::Printer::progress)
/// or [`Printer::spinner`](crate::Printer::spinner).
///
/// When progress is not shown (stderr is not a terminal, `-q`, `--json`)
/// every method does nothing. Messages are redacted. The bar disappears
/// when finished or dropped.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A progress that shows nothing.
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    pub(crate) fn bar(len: Option<u64>, message: &str, unit: Unit) -> ProgressBar {
        let (bar, template) = match (len, unit) {
            (Some(len), Unit::Steps) => (
                ProgressBar::new(len),
                "{spinner:.green} {msg} [{bar:30.cyan/blue}] {pos}/{len} ({eta})",
            ),
            (Some(len), Unit::Bytes) => (
                ProgressBar::new(len),
                "{spinner:.green} {msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
            ),
            (None, _) => (
                ProgressBar::new_spinner(),
                "{spinner:.green} {msg} {elapsed}",
            ),
        };
        let style =
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = bar
            .with_style(style)
            .with_message(redacted(message))
            .with_finish(ProgressFinish::AndClear);
        if len.is_none() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        bar
    }

    pub(crate) fn from_bar(bar: ProgressBar) -> Self {
        Self { bar }
    }

    /// Whether the bar is drawn.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    pub fn inc(&self, delta: u64) {
        self.bar.inc(delta);
    }

    pub fn set_position(&self, position: u64) {
        self.bar.set_position(position);
    }

    pub fn set_length(&self, len: u64) {
        self.bar.set_length(len);
    }

    /// Replaces the message (redacted).
    pub fn set_message(&self, message: &str) {
        if !self.bar.is_hidden() {
            self.bar.set_message(redacted(message));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn redacted(message: &str) -> Cow<'static, str> {
    Cow::Owned(global().redact(message).into_owned())
}
