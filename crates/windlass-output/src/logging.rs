//! `tracing` set-up: filtered by `-v`/`-q` or `WINDLASS_LOG`, written to
//! stderr through the redactor.

use std::io::{self, Write};

use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;
use windlass_redact::{RedactingWriter, global};

use crate::{Diagnostic, ExitStatus};

/// The environment variable that overrides `-v`/`-q`, in `tracing`
/// `EnvFilter` syntax (`WINDLASS_LOG=windlass_pypi=trace,info`).
pub const LOG_ENV: &str = "WINDLASS_LOG";

/// How to log, usually from [`Printer::log_config`](crate::Printer::log_config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogConfig {
    pub verbose: u8,
    pub quiet: u8,
    /// Whether to colour log lines.
    pub color: bool,
}

impl LogConfig {
    /// The filter for the flags: Windlass's errors only with `-q`, its
    /// warnings by default, then its info, debug and trace with `-v`, `-vv`,
    /// `-vvv`, and trace for everything with `-vvvv`. Other crates' logs
    /// (rustls, hyper) start at `-vv`: what they would say at the default
    /// level reaches the user once, as the cause of our own error.
    pub fn directives(self) -> &'static str {
        if self.quiet > 0 {
            return "off,windlass=error";
        }
        match self.verbose {
            0 => "off,windlass=warn",
            1 => "off,windlass=info",
            2 => "info,windlass=debug",
            3 => "info,windlass=trace",
            _ => "trace",
        }
    }
}

/// A failure to set up logging.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("invalid `{LOG_ENV}` filter `{value}`")]
    InvalidFilter {
        value: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global logger is already installed")]
    AlreadyInstalled(#[source] tracing_subscriber::util::TryInitError),
}

impl Diagnostic for LogError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::InvalidFilter { .. } => ExitStatus::Usage,
            Self::AlreadyInstalled(_) => ExitStatus::Bug,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::InvalidFilter { .. } => Some(format!(
                "use `tracing` filter syntax, e.g. `{LOG_ENV}=windlass=debug,warn`"
            )),
            Self::AlreadyInstalled(_) => None,
        }
    }
}

/// Installs the global `tracing` subscriber for a printer: stderr, redacted,
/// coloured only when the printer colours, filtered by `WINDLASS_LOG` if set
/// and by the flags otherwise. Log lines do not tear progress bars.
pub fn init_tracing(printer: &crate::Printer) -> Result<(), LogError> {
    let env = crate::owned::var(LOG_ENV);
    let writer = RedactingMakeWriter::new(StderrAbove {
        progress: printer.multi_progress(),
    });
    subscriber(printer.log_config(), env.as_deref(), writer)?
        .try_init()
        .map_err(LogError::AlreadyInstalled)
}

/// The subscriber [`init_tracing`] installs, with the `WINDLASS_LOG` value
/// and the writer given (for tests: wrap the writer in
/// [`RedactingMakeWriter`]).
pub fn subscriber<W>(
    config: LogConfig,
    env_override: Option<&str>,
    writer: W,
) -> Result<impl tracing::Subscriber + Send + Sync + 'static, LogError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = match env_override.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => {
            EnvFilter::builder()
                .parse(value)
                .map_err(|source| LogError::InvalidFilter {
                    value: value.to_owned(),
                    source,
                })?
        }
        None => EnvFilter::new(config.directives()),
    };
    Ok(tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(config.color)
        .with_target(config.verbose >= 2)
        .without_time()
        .finish())
}

/// A [`MakeWriter`] whose writers redact: every log line passes through the
/// process-wide redactor before reaching the inner writer.
#[derive(Debug, Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
}

impl<M> RedactingMakeWriter<M> {
    pub fn new(inner: M) -> Self {
        Self { inner }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        global().writer(self.inner.make_writer())
    }
}

/// Stderr, written above any progress bars: each log line is buffered and
/// written while the bars are suspended.
#[derive(Debug, Clone)]
struct StderrAbove {
    progress: MultiProgress,
}

impl<'a> MakeWriter<'a> for StderrAbove {
    type Writer = LineAbove;

    fn make_writer(&'a self) -> Self::Writer {
        LineAbove {
            progress: self.progress.clone(),
            buffer: Vec::new(),
        }
    }
}

struct LineAbove {
    progress: MultiProgress,
    buffer: Vec<u8>,
}

impl Write for LineAbove {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineAbove {
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            let buffer = std::mem::take(&mut self.buffer);
            self.progress.suspend(|| {
                let _ = crate::owned::stderr().write_all(&buffer);
            });
        }
    }
}
