//! The end of every tool's `main`: logging, the async runtime, the
//! command, and one report of its outcome or error.

use std::future::Future;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::{Outcome, Printer};

/// Runs a tool's command to its exit code, as every `windlass-<tool>`
/// binary does: installs the redacting logger, starts a multi-threaded
/// runtime, awaits the future `start` returns (`start` loads what the
/// command needs first; its error is reported like the command's), and
/// prints the outcome or the error once.
///
/// An error that holds [`windlass_process::Interrupted`] anywhere in its
/// chain (SIGINT or SIGTERM stopped the work) is reported as the one line
/// `interrupted` with exit code 130. A command that reports what it did
/// before it was interrupted does so through its outcome instead.
pub fn run_command<T, F>(printer: &Printer, start: impl FnOnce() -> anyhow::Result<F>) -> ExitCode
where
    T: Outcome,
    F: Future<Output = anyhow::Result<T>>,
{
    let result = crate::init_tracing(printer)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            let command = start()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(command)
        })
        .map_err(|error| {
            if windlass_process::Interrupted::find(error.as_ref()).is_some() {
                anyhow::Error::new(crate::Interrupted)
            } else {
                error
            }
        });
    crate::finish(result, printer)
}
