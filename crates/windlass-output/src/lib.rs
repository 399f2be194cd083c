//! Everything Windlass says to people and machines: terminal output, colour,
//! progress bars, `--json` documents, GitHub Actions workflow commands,
//! logging, error rendering and exit codes.
//!
//! This is the only crate that knows about terminals. Every byte it writes
//! passes through the process-wide redactor ([`windlass_redact::global`]),
//! with documented exceptions: [`GitHub::add_mask`] and
//! [`GitHub::export_secret_env`] hand a [`Secret`](windlass_redact::Secret)
//! to the runner, and [`reveal`] prints one value, on purpose. It never decides what a command does; it only
//! renders what the command returns.
//!
//! A binary's `main`:
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! use clap::Parser;
//! use windlass_output::{Classifier, OutputArgs, Printer};
//!
//! # mod windlass_pypi {
//! #     #[derive(Debug, thiserror::Error)]
//! #     #[error("upload failed")]
//! #     pub struct PublishError;
//! #     impl windlass_output::Diagnostic for PublishError {
//! #         fn exit_status(&self) -> windlass_output::ExitStatus { windlass_output::ExitStatus::Remote }
//! #     }
//! # }
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     output: OutputArgs,
//! }
//!
//! #[derive(serde::Serialize)]
//! struct Published {
//!     files: Vec<String>,
//! }
//!
//! impl windlass_output::Outcome for Published {
//!     fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
//!         self.files.iter().try_for_each(|file| writeln!(out, "{file}"))
//!     }
//! }
//!
//! fn run(printer: &Printer) -> anyhow::Result<Published> {
//!     printer.status("Uploading", "foo-1.0-py3-none-any.whl");
//!     Ok(Published { files: vec!["foo-1.0-py3-none-any.whl".into()] })
//! }
//!
//! fn main() -> ExitCode {
//!     windlass_output::install_panic_hook();
//!     let cli: Cli = windlass_output::parse_or_exit();
//!     let printer = Printer::builder(&cli.output, "wheel publish")
//!         .classifier(Classifier::new().with::<windlass_pypi::PublishError>())
//!         .build();
//!     let result = windlass_output::init_tracing(&printer)
//!         .map_err(anyhow::Error::from)
//!         .and_then(|()| run(&printer));
//!     windlass_output::finish(result, &printer)
//! }
//! ```
//!
//! Exit codes are documented on [`ExitStatus`], the JSON schema in
//! [`json`], error classification in [`Diagnostic`] and [`Classifier`].

mod args;
mod entry;
mod files;
pub mod github;
pub mod json;
mod logging;
mod owned;
mod printer;
mod progress;
mod render;
mod status_line;
mod text;
mod usage;

use std::io::Write as _;

pub use crate::args::{ColorChoice, OutputArgs};
pub use crate::entry::run_command;
pub use crate::files::write_atomically;
pub use crate::github::GitHub;
pub use crate::logging::{
    LOG_ENV, LogConfig, LogError, RedactingMakeWriter, init_tracing, subscriber,
};
pub use crate::printer::{Format, Outcome, Printer, PrinterBuilder, finish, is_broken_pipe};
pub use crate::progress::Progress;
pub use crate::render::{Report, render_status, render_warning};
pub use crate::status_line::StatusLine;
pub use crate::text::{clean_path, display_path, error_line, human_size, plural};
pub use crate::usage::{exit_usage, parse_from_or_exit, parse_or_exit};
pub use windlass_diagnostic::{
    Classification, Classified, Classifier, Diagnostic, ExitStatus, Interrupted, ResultExt,
    SourceLocation,
};
pub use windlass_redact::escape_controls;

/// Standard output, through the process-wide redactor.
pub fn stdout() -> windlass_redact::RedactingWriter<std::io::Stdout> {
    windlass_redact::global().writer(owned::stdout())
}

/// Whether standard output is a terminal (a person is reading it).
pub fn stdout_is_terminal() -> bool {
    std::io::IsTerminal::is_terminal(&owned::stdout())
}

/// Whether standard error is a terminal (a person may be asked a question).
pub fn stderr_is_terminal() -> bool {
    std::io::IsTerminal::is_terminal(&owned::stderr())
}

/// Writes a secret's value to standard output as it is: the one place a
/// value leaves Windlass on purpose (`secrets get` to a pipe, or with
/// `--reveal`). It bypasses the redactor by design; the caller decides
/// whether a person may see it. A newline follows when stdout is a terminal.
pub fn reveal(secret: &windlass_redact::Secret<String>) -> std::io::Result<()> {
    let mut out = owned::stdout().lock();
    out.write_all(secret.expose().as_bytes())
        .and_then(|()| {
            if stdout_is_terminal() {
                out.write_all(b"\n")?;
            }
            out.flush()
        })
        .map_err(printer::mark_stdout_closed)
}

/// Standard error, through the process-wide redactor.
pub fn stderr() -> windlass_redact::RedactingWriter<std::io::Stderr> {
    windlass_redact::global().writer(owned::stderr())
}

/// What every Windlass binary does first: registers the credentials found in
/// well-known environment variables ([`windlass_redact::AMBIENT_SECRET_VARS`])
/// with the redactor, and installs the panic hook. In a GitHub Actions step
/// it also has every secret registered from then on masked in the runner's
/// log (`::add-mask::` on stderr) the moment it is registered.
pub fn startup() {
    // In GitHub Actions every secret is masked in the runner's log as it is
    // registered, before anything could print it (and so before a child
    // that gets it through its environment runs).
    if let Some(github) = github::GitHub::detect() {
        windlass_redact::global().on_register(move |secret| {
            let _ = github.add_mask(&windlass_redact::Secret::new(secret.to_owned()));
        });
    }
    windlass_redact::global().register_ambient(|name| owned::var(name).filter(|v| !v.is_empty()));
    install_panic_hook();
}

/// Replaces the panic message with a redacted `error:` report on stderr.
/// The process still exits with code 101 ([`ExitStatus::Bug`]).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic without a message");
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let text = format!(
            "error: windlass panicked{location}\n  caused by: {payload}\n\nhint: this is a bug in Windlass, please report it\n"
        );
        let mut out = stderr();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.finish());
    }));
}

/// Sinks for tests, in this crate and in others: an in-memory writer that
/// can be cloned and read back.
pub mod testing {
    use std::io;
    use std::sync::{Arc, Mutex, PoisonError};

    /// A shared in-memory buffer; clones write to the same bytes.
    #[derive(Debug, Clone, Default)]
    pub struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Capture {
        pub fn new() -> Self {
            Self::default()
        }

        /// Everything written so far (lossy UTF-8).
        pub fn contents(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner))
                .into_owned()
        }
    }

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
