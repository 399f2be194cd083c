//! Speaking GitHub Actions: workflow commands and environment files.
//!
//! Workflow commands (`::error::`, `::group::`, `::add-mask::`) are written
//! to stderr, which the runner reads as it reads stdout, so stdout stays
//! data only. Everything passes through the redactor except the two methods
//! that take a [`Secret`]: [`GitHub::add_mask`] must tell the runner the raw
//! value, and [`GitHub::export_secret_env`] must hand it to later steps
//! (after masking it).

use std::ffi::OsString;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use windlass_redact::{Secret, global};

use crate::{Diagnostic, ExitStatus};

/// How many random delimiters to try before giving up on a value.
const DELIMITER_ATTEMPTS: usize = 16;

/// The running GitHub Actions step: where workflow commands go and where the
/// environment files are.
pub struct GitHub {
    commands: Mutex<Box<dyn Write + Send>>,
    output: Option<PathBuf>,
    env: Option<PathBuf>,
    summary: Option<PathBuf>,
}

/// An error talking to the GitHub Actions runner.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("`{var}` is not set")]
    NotAvailable { var: &'static str },
    #[error("cannot append to `{}` (`{var}`)", path.display())]
    Append {
        var: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write a workflow command")]
    Command(#[source] io::Error),
    #[error("`{name}` is not a valid name for `{var}`")]
    InvalidName { var: &'static str, name: String },
    #[error("cannot find a delimiter that does not occur in the value of `{name}`")]
    DelimiterCollision { name: String },
}

impl Diagnostic for GitHubError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::NotAvailable { .. } | Self::InvalidName { .. } => ExitStatus::Usage,
            Self::Append { .. } | Self::Command(_) => ExitStatus::Failure,
            Self::DelimiterCollision { .. } => ExitStatus::Bug,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::NotAvailable { .. } => {
                Some("this only works inside a GitHub Actions step".to_owned())
            }
            Self::InvalidName { .. } => Some(
                "names must be non-empty and contain no `=`, `<<`, line breaks or NUL".to_owned(),
            ),
            _ => None,
        }
    }
}

/// The level of an annotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    #[default]
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Notice => "notice",
        }
    }
}

/// An `::error`, `::warning` or `::notice` annotation, optionally pointing at
/// a place in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub end_line: Option<u32>,
    pub column: Option<u32>,
    pub end_column: Option<u32>,
}

impl Annotation {
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
            ..Self::default()
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Level::Error, message)
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Level::Warning, message)
    }

    pub fn notice(message: impl Into<String>) -> Self {
        Self::new(Level::Notice, message)
    }

    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The file, relative to the repository root.
    #[must_use]
    pub fn file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    #[must_use]
    pub fn line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    #[must_use]
    pub fn column(mut self, column: u32) -> Self {
        self.column = Some(column);
        self
    }

    /// The workflow command line (with its final newline), every part
    /// redacted then escaped.
    pub fn to_command(&self) -> String {
        let numbers = [
            ("line", self.line),
            ("endLine", self.end_line),
            ("col", self.column),
            ("endColumn", self.end_column),
        ];
        let mut properties: Vec<(&str, String)> = Vec::new();
        if let Some(file) = &self.file {
            properties.push(("file", file.clone()));
        }
        for (key, value) in numbers {
            if let Some(value) = value {
                properties.push((key, value.to_string()));
            }
        }
        if let Some(title) = &self.title {
            properties.push(("title", title.clone()));
        }
        command(self.level.command(), &properties, &self.message)
    }
}

/// Formats a workflow command: `::name key=value,key=value::message\n`.
/// Property values and the message are redacted, then escaped.
pub fn command(name: &str, properties: &[(&str, String)], message: &str) -> String {
    let mut line = format!("::{name}");
    for (i, (key, value)) in properties.iter().enumerate() {
        line.push(if i == 0 { ' ' } else { ',' });
        line.push_str(key);
        line.push('=');
        line.push_str(&escape_property(&global().redact(value)));
    }
    line.push_str("::");
    line.push_str(&escape_data(&global().redact(message)));
    line.push('\n');
    line
}

/// Escapes a command message: `%`, CR and LF.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value: as [`escape_data`], plus `:` and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// An environment-file entry in heredoc form,
/// `name<<DELIMITER\nvalue\nDELIMITER\n`, with a delimiter from `delimiter`
/// that occurs neither in the value nor in the name (a new one is drawn
/// until one fits).
///
/// The value is written as given: callers redact.
pub fn heredoc(
    var: &'static str,
    name: &str,
    value: &str,
    delimiter: &mut dyn FnMut() -> String,
) -> Result<String, GitHubError> {
    if name.is_empty() || name.contains(['=', '\n', '\r', '\0']) || name.contains("<<") {
        return Err(GitHubError::InvalidName {
            var,
            name: global().redact(name).into_owned(),
        });
    }
    for _ in 0..DELIMITER_ATTEMPTS {
        let delimiter = delimiter();
        if !delimiter.is_empty() && !value.contains(&delimiter) && !name.contains(&delimiter) {
            return Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        }
    }
    Err(GitHubError::DelimiterCollision {
        name: global().redact(name).into_owned(),
    })
}

/// A fresh random delimiter, `ghadelimiter_` and 32 hex digits.
pub fn random_delimiter() -> String {
    format!("ghadelimiter_{:032x}", fastrand::u128(..))
}

impl GitHub {
    /// The current step, if this process runs in GitHub Actions
    /// (`GITHUB_ACTIONS=true`), with commands on stderr.
    pub fn detect() -> Option<Self> {
        Self::from_env(crate::owned::var_os, crate::owned::stderr())
    }

    /// As [`GitHub::detect`], reading variables through `env` and writing
    /// commands to `commands` (which must be unredacted: the redactor is
    /// applied here, except for `add-mask`).
    pub fn from_env(
        env: impl Fn(&str) -> Option<OsString>,
        commands: impl Write + Send + 'static,
    ) -> Option<Self> {
        if env("GITHUB_ACTIONS").is_none_or(|v| v != "true") {
            return None;
        }
        let path = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Some(Self {
            commands: Mutex::new(Box::new(commands)),
            output: path("GITHUB_OUTPUT"),
            env: path("GITHUB_ENV"),
            summary: path("GITHUB_STEP_SUMMARY"),
        })
    }

    /// Writes an annotation.
    pub fn annotate(&self, annotation: &Annotation) -> Result<(), GitHubError> {
        self.write_command(&annotation.to_command())
    }

    /// Starts a collapsible group in the log; it ends when the guard drops.
    pub fn group(&self, name: &str) -> Result<Group<'_>, GitHubError> {
        self.write_command(&command("group", &[], name))?;
        Ok(Group { github: Some(self) })
    }

    /// Tells the runner to mask a value in the log, one `::add-mask::` per
    /// non-empty line (the runner masks line by line).
    ///
    /// This is the one place that prints a secret on purpose: the command
    /// carries the raw value and bypasses the redactor (which would replace
    /// it with `****` and leave the real value unmasked).
    pub fn add_mask(&self, secret: &Secret<String>) -> Result<(), GitHubError> {
        let mut text = String::new();
        for line in secret
            .expose()
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
        {
            if !line.trim().is_empty() {
                text.push_str("::add-mask::");
                text.push_str(&escape_data(line));
                text.push('\n');
            }
        }
        let mut commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        commands
            .write_all(text.as_bytes())
            .and_then(|()| commands.flush())
            .map_err(GitHubError::Command)
    }

    /// Whether the step has an output file (`$GITHUB_OUTPUT`).
    pub fn has_output(&self) -> bool {
        self.output.is_some()
    }

    /// Sets a step output (`$GITHUB_OUTPUT`); the value is redacted.
    pub fn set_output(&self, name: &str, value: &str) -> Result<(), GitHubError> {
        let entry = heredoc(
            "GITHUB_OUTPUT",
            name,
            &global().redact(value),
            &mut random_delimiter,
        )?;
        append(
            "GITHUB_OUTPUT",
            self.output.as_deref(),
            &entry,
            Redaction::On,
        )
    }

    /// Sets an environment variable for later steps (`$GITHUB_ENV`); the
    /// value is redacted. For secrets use [`GitHub::export_secret_env`].
    pub fn set_env(&self, name: &str, value: &str) -> Result<(), GitHubError> {
        let entry = heredoc(
            "GITHUB_ENV",
            name,
            &global().redact(value),
            &mut random_delimiter,
        )?;
        append("GITHUB_ENV", self.env.as_deref(), &entry, Redaction::On)
    }

    /// Hands a secret to later steps through `$GITHUB_ENV`: masks it first
    /// (see [`GitHub::add_mask`]), then writes the raw value, bypassing the
    /// redactor. This is the only unredacted file write.
    pub fn export_secret_env(
        &self,
        name: &str,
        secret: &Secret<String>,
    ) -> Result<(), GitHubError> {
        let path = self
            .env
            .as_deref()
            .ok_or(GitHubError::NotAvailable { var: "GITHUB_ENV" })?;
        let entry = heredoc("GITHUB_ENV", name, secret.expose(), &mut random_delimiter)?;
        self.add_mask(secret)?;
        append("GITHUB_ENV", Some(path), &entry, Redaction::Off)
    }

    /// Appends Markdown to the job summary (`$GITHUB_STEP_SUMMARY`),
    /// redacted.
    pub fn append_summary(&self, markdown: &str) -> Result<(), GitHubError> {
        let mut text = markdown.to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        append(
            "GITHUB_STEP_SUMMARY",
            self.summary.as_deref(),
            &text,
            Redaction::On,
        )
    }

    fn write_command(&self, line: &str) -> Result<(), GitHubError> {
        let mut commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        let mut writer = global().writer(&mut *commands);
        writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.finish())
            .map_err(GitHubError::Command)
    }
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("output", &self.output)
            .field("env", &self.env)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// A log group; `::endgroup::` is written when it drops. Outside GitHub
/// Actions it does nothing.
#[derive(Debug)]
#[must_use = "the group ends when this guard drops"]
pub struct Group<'a> {
    github: Option<&'a GitHub>,
}

impl Group<'_> {
    /// A guard that does nothing.
    pub fn none() -> Self {
        Group { github: None }
    }
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        if let Some(github) = self.github {
            let _ = github.write_command(&command("endgroup", &[], ""));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Redaction {
    On,
    Off,
}

fn append(
    var: &'static str,
    path: Option<&Path>,
    text: &str,
    redaction: Redaction,
) -> Result<(), GitHubError> {
    let path = path.ok_or(GitHubError::NotAvailable { var })?;
    let error = |source: io::Error| GitHubError::Append {
        var,
        path: path.to_owned(),
        source,
    };
    let file = windlass_fs::open_append(path).map_err(error)?;
    // One write per entry, so concurrent appends do not interleave.
    let bytes = match redaction {
        Redaction::On => global().redact(text).into_owned(),
        Redaction::Off => text.to_owned(),
    };
    write_once(file, bytes.as_bytes()).map_err(error)
}

fn write_once(mut file: std::fs::File, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)?;
    file.flush()
}
