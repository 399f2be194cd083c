//! The printer: one per process, built from [`OutputArgs`], through which
//! every byte for the user goes.

use std::io::{self, IsTerminal as _, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget};
use serde::Serialize;
use windlass_redact::global;

use crate::github::{Annotation, GitHub, Group};
use crate::json::{ErrorBody, EventDocument, ResultDocument, SCHEMA};
use crate::progress::Unit;
use crate::render::{Report, render_interrupted, render_status, render_warning};
use crate::status_line::{StatusLine, clear_slot};
use crate::{Classifier, ExitStatus, LogConfig, OutputArgs, Progress};

pub(crate) type Sink = Mutex<Box<dyn Write + Send>>;

/// Human text or JSON Lines (see [`crate::json`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// What a command returns on success: serialisable for `--json`, renderable
/// for people.
///
/// ```
/// use std::io::{self, Write};
///
/// #[derive(serde::Serialize)]
/// struct Built {
///     wheel: String,
/// }
///
/// impl windlass_output::Outcome for Built {
///     fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
///         writeln!(out, "{}", self.wheel)
///     }
/// }
/// ```
pub trait Outcome: Serialize {
    /// Writes the data for people; `out` is stdout, redacted.
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let _ = out;
        Ok(())
    }

    /// Writes the data for people at a verbosity (the number of `-v`):
    /// by default the same as [`Outcome::render_human`]. A command whose
    /// details are for `-v` only implements this one.
    fn render_human_at(&self, out: &mut dyn Write, verbose: u8) -> io::Result<()> {
        let _ = verbose;
        self.render_human(out)
    }

    /// How the process exits: a check that ran and found problems returns
    /// [`ExitStatus::Failure`] with its report as data. A command stopped
    /// by a signal returns [`ExitStatus::Interrupted`] with what it did so
    /// far: [`Printer::report`] then prints one `interrupted` line on stderr
    /// before the data, and the JSON result has the error `interrupted`
    /// next to the partial data.
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Success
    }

    /// The step outputs the result sets in GitHub Actions
    /// (`$GITHUB_OUTPUT`, through [`Printer::set_step_outputs`] when
    /// [`finish`] reports it): name and value pairs such as an image's
    /// `digest`. None by default.
    fn step_outputs(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

impl Outcome for () {}

impl Outcome for String {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{self}")
    }
}

impl Outcome for serde_json::Value {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }
}

/// The output context of a process.
///
/// Human mode: data on stdout, everything else on stderr. `--json`: JSON
/// Lines on stdout (see [`crate::json`]), the human error and warnings on
/// stderr. Everything is redacted. In GitHub Actions, warnings and the final
/// error also become annotations.
pub struct Printer {
    command: String,
    format: Format,
    quiet: u8,
    verbose: u8,
    color: bool,
    stdout: Sink,
    stderr: Arc<Sink>,
    progress: MultiProgress,
    show_progress: bool,
    /// The transient status line, while one is drawn.
    transient: Arc<Mutex<Option<ProgressBar>>>,
    warnings: Mutex<Vec<String>>,
    classifier: Classifier,
    github: Option<GitHub>,
}

/// Builds a [`Printer`]; the defaults are the real process streams,
/// environment and GitHub Actions detection.
pub struct PrinterBuilder {
    args: OutputArgs,
    command: String,
    stdout: Option<Box<dyn Write + Send>>,
    stderr: Option<Box<dyn Write + Send>>,
    color: Option<bool>,
    classifier: Classifier,
    github: GitHubSource,
}

enum GitHubSource {
    Detect,
    Given(Option<GitHub>),
}

impl PrinterBuilder {
    /// Writes data to `sink` instead of stdout (redaction is applied by the
    /// printer).
    #[must_use]
    pub fn stdout(mut self, sink: impl Write + Send + 'static) -> Self {
        self.stdout = Some(Box::new(sink));
        self
    }

    /// Writes messages to `sink` instead of stderr; it is then not a
    /// terminal, so progress bars are hidden.
    #[must_use]
    pub fn stderr(mut self, sink: impl Write + Send + 'static) -> Self {
        self.stderr = Some(Box::new(sink));
        self
    }

    /// Decides colour instead of resolving `--color` against the environment.
    #[must_use]
    pub fn color(mut self, color: bool) -> Self {
        self.color = Some(color);
        self
    }

    /// The error types to classify (see [`Classifier`]); this crate's own
    /// errors are always known (see [`Report::new`](crate::Report::new)).
    #[must_use]
    pub fn classifier(mut self, classifier: Classifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// Uses this GitHub Actions context (or none) instead of detecting it.
    #[must_use]
    pub fn github(mut self, github: Option<GitHub>) -> Self {
        self.github = GitHubSource::Given(github);
        self
    }

    pub fn build(self) -> Printer {
        let stderr_is_terminal = self.stderr.is_none() && crate::owned::stderr().is_terminal();
        let color = self.color.unwrap_or_else(|| {
            self.args
                .color
                .resolve(crate::owned::var_os, stderr_is_terminal)
        });
        let format = if self.args.json {
            Format::Json
        } else {
            Format::Human
        };
        let show_progress = stderr_is_terminal && self.args.quiet == 0 && format == Format::Human;
        let target = if show_progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Printer {
            command: self.command,
            format,
            quiet: self.args.quiet,
            verbose: self.args.verbose,
            color,
            stdout: Mutex::new(
                self.stdout
                    .unwrap_or_else(|| Box::new(crate::owned::stdout())),
            ),
            stderr: Arc::new(Mutex::new(
                self.stderr
                    .unwrap_or_else(|| Box::new(crate::owned::stderr())),
            )),
            progress: MultiProgress::with_draw_target(target),
            show_progress,
            transient: Arc::new(Mutex::new(None)),
            warnings: Mutex::new(Vec::new()),
            classifier: self.classifier,
            github: match self.github {
                GitHubSource::Detect => GitHub::detect(),
                GitHubSource::Given(github) => github,
            },
        }
    }
}

impl Printer {
    /// The printer for `command` (as typed, e.g. `"wheel build"`) on the real
    /// stdout and stderr.
    pub fn new(args: &OutputArgs, command: &str) -> Self {
        Self::builder(args, command).build()
    }

    pub fn builder(args: &OutputArgs, command: &str) -> PrinterBuilder {
        PrinterBuilder {
            args: args.clone(),
            command: command.to_owned(),
            stdout: None,
            stderr: None,
            color: None,
            classifier: Classifier::new(),
            github: GitHubSource::Detect,
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Whether stderr is coloured.
    pub fn color(&self) -> bool {
        self.color
    }

    pub fn command(&self) -> &str {
        &self.command
    }

    /// The GitHub Actions step, when running in one.
    pub fn github(&self) -> Option<&GitHub> {
        self.github.as_ref()
    }

    /// Sets the step outputs of a command (`$GITHUB_OUTPUT`, values
    /// redacted), in a GitHub Actions step that has an output file; nothing
    /// elsewhere. An output that cannot be written is a warning: the
    /// command's own work is done.
    pub fn set_step_outputs(&self, outputs: &[(&str, String)]) {
        let Some(github) = self.github.as_ref().filter(|g| g.has_output()) else {
            return;
        };
        for (name, value) in outputs {
            if let Err(error) = github.set_output(name, value) {
                self.warn(&format!("cannot set the step output `{name}`: {error}"));
            }
        }
    }

    /// The logging configuration for [`init_tracing`](crate::init_tracing).
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            verbose: self.verbose,
            quiet: self.quiet,
            color: self.color,
        }
    }

    /// A status line on stderr (`   Uploading foo.whl`); hidden by `-q` and
    /// `--json`.
    pub fn status(&self, verb: &str, message: &str) {
        clear_slot(&self.transient);
        if self.quiet == 0 && self.format == Format::Human {
            self.write_stderr(&render_status(verb, message, self.color));
        }
    }

    /// A warning: on stderr (as an annotation in GitHub Actions) unless
    /// `-qq`, and in the `warnings` of the JSON result.
    pub fn warn(&self, message: &str) {
        let message = global().redact(message).into_owned();
        if self.quiet < 2 {
            match &self.github {
                Some(github) => {
                    let _ = github.annotate(&Annotation::warning(message.as_str()));
                }
                None => self.write_stderr(&render_warning(&message, self.color)),
            }
        }
        self.warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message);
    }

    /// Data for people on stdout. With `--json` this does nothing: data
    /// travels in the result document. A closed stdout returns a
    /// `BrokenPipe` error: propagate it, [`finish`] exits quietly.
    pub fn data(&self, text: &str) -> io::Result<()> {
        if self.format == Format::Human {
            self.write_stdout(text.as_bytes())?;
        }
        Ok(())
    }

    /// A JSON Lines event on stdout (`{"type":"event",...}`). In human mode
    /// this does nothing: pair it with [`Printer::status`].
    pub fn event<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> io::Result<()> {
        if self.format == Format::Json {
            let document = EventDocument {
                schema: SCHEMA,
                kind: "event",
                command: &self.command,
                event,
                data,
            };
            self.write_json(&document)?;
        }
        Ok(())
    }

    /// A progress bar of `len` steps (hidden unless stderr is a terminal and
    /// neither `-q` nor `--json` is given).
    pub fn progress(&self, len: u64, message: &str) -> Progress {
        self.new_progress(Some(len), message, Unit::Steps)
    }

    /// A progress bar of `len` bytes, showing the bytes sent, the rate and
    /// the time left (`1.2 MiB/4.0 MiB 512 KiB/s 6s`); hidden like
    /// [`Printer::progress`].
    pub fn bytes_progress(&self, len: u64, message: &str) -> Progress {
        self.new_progress(Some(len), message, Unit::Bytes)
    }

    /// A spinner, for work of unknown length (hidden like
    /// [`Printer::progress`]).
    pub fn spinner(&self, message: &str) -> Progress {
        self.new_progress(None, message, Unit::Steps)
    }

    /// The transient status line (see [`StatusLine`]): in a terminal, one
    /// line that each message replaces and the next [`Printer::status`],
    /// result or error removes; when stderr is not a terminal, one plain
    /// status line per message at `-v` and nothing by default. Hidden by
    /// `-q` and `--json`. Handles are `'static`: they can be moved into
    /// callbacks.
    pub fn status_line(&self) -> StatusLine {
        if self.quiet > 0 || self.format != Format::Human {
            StatusLine::hidden()
        } else if self.show_progress {
            StatusLine::terminal(
                Arc::clone(&self.transient),
                self.progress.clone(),
                self.color,
            )
        } else if self.verbose > 0 {
            StatusLine::plain(Arc::clone(&self.stderr), self.progress.clone(), self.color)
        } else {
            StatusLine::hidden()
        }
    }

    /// A collapsible log group in GitHub Actions, ended by dropping the
    /// guard; elsewhere nothing.
    pub fn group(&self, name: &str) -> Group<'_> {
        self.github
            .as_ref()
            .and_then(|github| github.group(name).ok())
            .unwrap_or_else(Group::none)
    }

    /// Prints a command's result: the human rendering on stdout, or the JSON
    /// result document. Returns the exit status to use.
    pub fn report<T: Outcome + ?Sized>(&self, outcome: &T) -> io::Result<ExitStatus> {
        let status = outcome.exit_status();
        let interrupted = status == ExitStatus::Interrupted;
        self.clear_progress();
        if interrupted {
            self.write_stderr(&render_interrupted(self.color));
        }
        match self.format {
            Format::Human => {
                let mut buffer = Vec::new();
                outcome.render_human_at(&mut buffer, self.verbose)?;
                self.write_stdout(&buffer)?;
            }
            Format::Json => {
                let warnings = self.warnings();
                let error = interrupted.then(ErrorBody::interrupted);
                self.write_json(&ResultDocument {
                    schema: SCHEMA,
                    kind: "result",
                    command: &self.command,
                    ok: status.is_success(),
                    exit_code: status.code(),
                    data: Some(outcome),
                    error: error.as_ref(),
                    warnings: &warnings,
                })?;
            }
        }
        Ok(status)
    }

    /// Prints a command's result with an exit code that is not the
    /// outcome's own: a child's, which the command passes on (`secrets
    /// exec`). Human mode renders the outcome as [`Printer::report`] does.
    pub fn report_with_code<T: Outcome + ?Sized>(
        &self,
        outcome: &T,
        exit_code: u8,
    ) -> io::Result<()> {
        self.clear_progress();
        match self.format {
            Format::Human => {
                let mut buffer = Vec::new();
                outcome.render_human(&mut buffer)?;
                self.write_stdout(&buffer)
            }
            Format::Json => {
                let warnings = self.warnings();
                self.write_json(&ResultDocument {
                    schema: SCHEMA,
                    kind: "result",
                    command: &self.command,
                    ok: exit_code == 0,
                    exit_code,
                    data: Some(outcome),
                    error: None,
                    warnings: &warnings,
                })
            }
        }
    }

    /// Prints an error: redacted and classified, on stderr (plus an `::error`
    /// annotation in GitHub Actions) and, with `--json`, as the result
    /// document. Returns the exit status to use.
    ///
    /// An error classified [`ExitStatus::Interrupted`] (such as
    /// [`Interrupted`](crate::Interrupted)) prints only the line
    /// `interrupted`, and its JSON error is `{"message":"interrupted"}`.
    pub fn report_error(&self, error: &anyhow::Error) -> ExitStatus {
        let mut report = Report::new(error, &self.classifier);
        if report.status == ExitStatus::Interrupted {
            report = Report::interrupted();
        }
        self.clear_progress();
        self.write_stderr(&report.render(self.color, self.verbose > 0));
        if let Some(github) = &self.github {
            let _ = github.annotate(
                &Annotation::error(report.plain()).title(format!("windlass {}", self.command)),
            );
        }
        if self.format == Format::Json {
            let warnings = self.warnings();
            let body = ErrorBody::from(&report);
            let _ = self.write_json(&ResultDocument::<()> {
                schema: SCHEMA,
                kind: "result",
                command: &self.command,
                ok: false,
                exit_code: report.status.code(),
                data: None,
                error: Some(&body),
                warnings: &warnings,
            });
        }
        report.status
    }

    /// The error as [`Report`] (redacted and classified), without printing.
    pub fn classify(&self, error: &anyhow::Error) -> Report {
        Report::new(error, &self.classifier)
    }

    pub(crate) fn multi_progress(&self) -> MultiProgress {
        self.progress.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn new_progress(&self, len: Option<u64>, message: &str, unit: Unit) -> Progress {
        if !self.show_progress {
            return Progress::hidden();
        }
        Progress::from_bar(self.progress.add(Progress::bar(len, message, unit)))
    }

    fn clear_progress(&self) {
        clear_slot(&self.transient);
        if self.show_progress {
            let _ = self.progress.clear();
        }
    }

    fn write_json<T: Serialize + ?Sized>(&self, document: &T) -> io::Result<()> {
        let mut line = serde_json::to_vec(document).map_err(io::Error::other)?;
        line.push(b'\n');
        self.write_stdout(&line)
    }

    fn write_stdout(&self, bytes: &[u8]) -> io::Result<()> {
        let mut sink = self.stdout.lock().unwrap_or_else(PoisonError::into_inner);
        let mut writer = global().writer(&mut *sink);
        writer
            .write_all(bytes)
            .and_then(|()| writer.finish())
            .map_err(mark_stdout_closed)
    }

    /// Writes to stderr above the progress bars; errors are ignored (there
    /// is nowhere left to report them).
    fn write_stderr(&self, text: &str) {
        let mut sink = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        self.progress.suspend(|| {
            let mut writer = global().writer(&mut *sink);
            let _ = writer
                .write_all(text.as_bytes())
                .and_then(|()| writer.finish());
        });
    }
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("command", &self.command)
            .field("format", &self.format)
            .field("quiet", &self.quiet)
            .field("verbose", &self.verbose)
            .field("color", &self.color)
            .field("github", &self.github)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PrinterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrinterBuilder")
            .field("args", &self.args)
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

/// Ends `main`: sets the outcome's step outputs in GitHub Actions, prints
/// the outcome or the error once, and returns the exit code. A broken pipe
/// on stdout exits 0 without a word.
pub fn finish<T: Outcome>(result: anyhow::Result<T>, printer: &Printer) -> ExitCode {
    let status = match result {
        Ok(outcome) => {
            printer.set_step_outputs(&outcome.step_outputs());
            report_or_closed(printer, &outcome)
        }
        Err(error) if is_broken_pipe(&error) => ExitStatus::Success,
        Err(error) => printer.report_error(&error),
    };
    status.into()
}

/// Prints the outcome; stdout closed by the reader is success.
fn report_or_closed<T: Outcome>(printer: &Printer, outcome: &T) -> ExitStatus {
    match printer.report(outcome) {
        Ok(status) => status,
        Err(error) if is_stdout_closed(&error) => ExitStatus::Success,
        Err(error) => {
            printer.report_error(&anyhow::Error::new(error).context("cannot write the output"))
        }
    }
}

/// Whether the error comes from writing to our own stdout after its reader
/// went away (`windlass ... | head`): a write of the [`Printer`] or of
/// [`reveal`](crate::reveal). Any other broken pipe in the chain (a
/// child's stdin, an HTTP connection) is a failure to report.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(is_stdout_closed)
}

fn is_stdout_closed(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(<dyn std::error::Error + Send + Sync>::is::<StdoutClosed>)
}

/// Marks a broken pipe from a write to our stdout, so that [`finish`] can
/// tell it from one met elsewhere; other errors pass unchanged.
pub(crate) fn mark_stdout_closed(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        error
    }
}

/// The reader of our stdout went away.
#[derive(Debug)]
struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the reader of standard output went away")
    }
}

impl std::error::Error for StdoutClosed {}
