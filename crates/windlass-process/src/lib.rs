//! The one place Windlass runs child processes.
//!
//! A [`Cmd`] names a program, its arguments, an explicit absolute working
//! directory, its environment, optional standard input, a timeout and where
//! each output stream goes. Running it guarantees what the rest of Windlass
//! relies on:
//!
//! - **Secrets never reach argv.** Arguments are plain strings; secret values
//!   go through [`Cmd::env_secret`] or [`Cmd::stdin_secret`]. An argument
//!   that contains a registered secret is refused before anything starts.
//! - **Credentials are not inherited.** The variables that hold credentials
//!   in this run ([`windlass_redact::secret_vars`]: CI identity and job
//!   tokens, `VAULT_TOKEN`, the variables the configuration reads secrets
//!   from) are removed from every child's environment unless the command
//!   says [`Cmd::inherit_credentials`]; what the caller sets explicitly
//!   with [`Cmd::env_secret`] is passed all the same.
//! - **Everything relayed is redacted.** Child output streamed to our
//!   terminal or to a caller's writer passes through the process-wide
//!   redactor (and the one given to [`Cmd::redactor`], if any), including a
//!   secret split across reads. Captured stderr is redacted too; captured
//!   stdout is raw, for parsing, and must only be printed through the
//!   redactor.
//! - **The log line is safe.** The command (program, arguments, working
//!   directory) is logged at debug level with the names of the environment
//!   variables we set, never their values.
//! - **No child outlives its purpose.** Each child leads a process group of
//!   its own. A timeout sends SIGTERM to the group and SIGKILL after a grace
//!   period; dropping a running child (or the future awaiting it) kills the
//!   group; on Linux the child gets SIGKILL when we die, even by SIGKILL
//!   (strictly: when the thread that spawned it exits, so spawn from a
//!   runtime worker or the main thread, not from `spawn_blocking`).
//!
//! Because the child has its own process group, a Ctrl-C on the terminal
//! reaches only us: while a child runs in the foreground (while its
//! [`Running::wait`] is awaited), the SIGINT and SIGTERM we receive are
//! forwarded to the child's group and recorded in [`Outcome::interrupted`],
//! so the caller stops and exits with 128 + the signal even when the child
//! handled it. Note that Tokio keeps its signal handlers once installed:
//! after the first child, the binary must handle SIGINT/SIGTERM itself when
//! no child runs, which [`until_interrupted`] does (and lets the caller
//! clean up, revoke its tokens, before it ends like the signal). The
//! child's stdin is never the terminal (it is `/dev/null` or the bytes we
//! give), so a child in a background group cannot stop on terminal input.
//!
//! This crate never puts a secret in argv, an error message or a log line,
//! never uses the working directory of our own process, and never lets child
//! output reach the terminal unredacted. It is Unix-only.

mod error;
mod interrupt;
mod outcome;
mod run;
mod sys;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use windlass_redact::{Redactor, Secret};

pub use crate::error::{CheckedError, RunError, SpawnError};
pub use crate::interrupt::{Interrupted, until_interrupted};
pub use crate::outcome::{ExitStatus, Outcome, exit_like};
pub use crate::run::Running;

/// How long a child may take to exit after SIGTERM on timeout, unless
/// [`Cmd::kill_grace`] says otherwise.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// A command to run: build it, then [`Cmd::run`], [`Cmd::run_checked`] or
/// [`Cmd::spawn`].
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: PathBuf,
    env_clear: bool,
    inherit_credentials: bool,
    vars: Vec<(String, EnvValue)>,
    removed: Vec<String>,
    stdin: Option<Input>,
    timeout: Option<Duration>,
    grace: Duration,
    stdout: Sink,
    stderr: Sink,
    redactor: Option<Redactor>,
}

/// Where one of the child's output streams goes.
#[derive(Default)]
pub enum Sink {
    /// Our own stdout (or stderr: the same stream as the child's), redacted.
    #[default]
    Terminal,
    /// Our own stderr, redacted, whichever of the child's streams it is
    /// (a child whose stdout is chatter, not our data).
    Stderr,
    /// A writer of the caller's, redacted.
    Writer(Box<dyn Write + Send>),
    /// Collected into the [`Outcome`]: stdout raw, stderr redacted.
    Capture,
    /// Discarded (the child writes to `/dev/null`).
    Null,
}

/// Our `PATH` (empty when unset): where a program named without a
/// directory is looked for, by us and by the children we run.
#[allow(
    clippy::disallowed_methods,
    reason = "windlass-process owns how programs are found"
)]
pub fn search_path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

impl Sink {
    /// A writer of the caller's; everything written to it is redacted.
    pub fn writer(writer: impl Write + Send + 'static) -> Self {
        Self::Writer(Box::new(writer))
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Terminal => "Terminal",
            Self::Stderr => "Stderr",
            Self::Writer(_) => "Writer",
            Self::Capture => "Capture",
            Self::Null => "Null",
        })
    }
}

enum EnvValue {
    Plain(OsString),
    Secret(Secret<String>),
}

enum Input {
    Plain(Vec<u8>),
    Secret(Secret<Vec<u8>>),
}

impl Input {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Plain(bytes) => bytes,
            Self::Secret(secret) => secret.expose(),
        }
    }
}

impl Cmd {
    /// A command running `program` (looked up in `PATH` unless it contains a
    /// `/`) in the directory `cwd`, which must be absolute.
    pub fn new(program: impl AsRef<OsStr>, cwd: impl Into<PathBuf>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: cwd.into(),
            env_clear: false,
            inherit_credentials: false,
            vars: Vec::new(),
            removed: Vec::new(),
            stdin: None,
            timeout: None,
            grace: DEFAULT_KILL_GRACE,
            stdout: Sink::Terminal,
            stderr: Sink::Terminal,
            redactor: None,
        }
    }

    /// Adds an argument. Arguments are visible to every user of the machine
    /// and are logged: never a secret.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments; see [`Cmd::arg`].
    #[must_use]
    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Starts the child with an empty environment instead of ours; only the
    /// variables set with [`Cmd::env`] and [`Cmd::env_secret`] reach it.
    #[must_use]
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self
    }

    /// Lets the child inherit the credentials in our environment
    /// ([`windlass_redact::secret_vars`]: CI identity tokens, `VAULT_TOKEN`,
    /// the variables the configuration reads secrets from), which every
    /// child is denied by default. For a child that acts for the user with
    /// the user's environment (`secrets exec`, a `windlass-NAME` plugin);
    /// never for third-party code that only builds or installs.
    #[must_use]
    pub fn inherit_credentials(mut self) -> Self {
        self.inherit_credentials = true;
        self
    }

    /// Sets a non-secret environment variable (its name is logged, not its
    /// value).
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl AsRef<OsStr>) -> Self {
        self.vars
            .push((name.into(), EnvValue::Plain(value.as_ref().to_owned())));
        self
    }

    /// Sets an environment variable holding a secret: the way to hand a
    /// secret to a child, with [`Cmd::stdin_secret`].
    #[must_use]
    pub fn env_secret(mut self, name: impl Into<String>, value: Secret<String>) -> Self {
        self.vars.push((name.into(), EnvValue::Secret(value)));
        self
    }

    /// Removes a variable we would otherwise pass on.
    #[must_use]
    pub fn env_remove(mut self, name: impl Into<String>) -> Self {
        self.removed.push(name.into());
        self
    }

    /// Feeds these bytes to the child's stdin, then closes it. Without
    /// stdin, the child reads `/dev/null`.
    #[must_use]
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(Input::Plain(input.into()));
        self
    }

    /// Feeds a secret to the child's stdin, then closes it.
    #[must_use]
    pub fn stdin_secret<T: Into<Vec<u8>>>(mut self, input: Secret<T>) -> Self {
        self.stdin = Some(Input::Secret(input.map(Into::into)));
        self
    }

    /// Kills the child's process group when it runs longer than this: first
    /// SIGTERM, then SIGKILL after the [grace period](Cmd::kill_grace).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long the child may take to exit after SIGTERM on timeout
    /// ([`DEFAULT_KILL_GRACE`] by default).
    #[must_use]
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Where the child's stdout goes ([`Sink::Terminal`] by default).
    #[must_use]
    pub fn stdout(mut self, sink: Sink) -> Self {
        self.stdout = sink;
        self
    }

    /// Where the child's stderr goes ([`Sink::Terminal`] by default).
    #[must_use]
    pub fn stderr(mut self, sink: Sink) -> Self {
        self.stderr = sink;
        self
    }

    /// Captures stdout (raw, for parsing); stderr still streams, redacted.
    #[must_use]
    pub fn capture_stdout(self) -> Self {
        self.stdout(Sink::Capture)
    }

    /// Captures stdout (raw) and stderr (redacted).
    #[must_use]
    pub fn capture_output(self) -> Self {
        self.stdout(Sink::Capture).stderr(Sink::Capture)
    }

    /// Redacts with this redactor as well as the process-wide one, which
    /// always applies.
    #[must_use]
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = Some(redactor);
        self
    }

    /// The program, as given.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// Runs the child to completion, whatever its exit status; see
    /// [`Cmd::run_checked`] to treat a failure as an error.
    pub async fn run(self) -> Result<Outcome, RunError> {
        self.spawn()?.wait().await
    }

    /// Runs the child to completion and fails unless it exited with code 0
    /// and we were not interrupted meanwhile.
    pub async fn run_checked(self) -> Result<Outcome, CheckedError> {
        let program = self.program.to_string_lossy().into_owned();
        let outcome = self.run().await?;
        if let Some(signal) = outcome.interrupted() {
            return Err(CheckedError::Interrupted {
                program,
                signal,
                outcome: Box::new(outcome),
            });
        }
        if !outcome.status().success() {
            let status = outcome.status();
            return Err(CheckedError::Failed {
                program,
                status,
                outcome: Box::new(outcome),
            });
        }
        Ok(outcome)
    }

    /// The command line as it is logged: program and arguments, quoted
    /// where needed, then redacted all the same.
    fn command_line(&self, redactors: &run::Redactors) -> String {
        let words: Vec<String> = std::iter::once(&self.program)
            .chain(&self.args)
            .map(|word| shell_quote(&word.to_string_lossy()))
            .collect();
        redactors.redact_text(&words.join(" "))
    }

    fn env_names(&self) -> Vec<&str> {
        self.vars.iter().map(|(name, _)| name.as_str()).collect()
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cmd")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("env_clear", &self.env_clear)
            .field("inherit_credentials", &self.inherit_credentials)
            .field("env", &self.env_names())
            .field("env_removed", &self.removed)
            .field("stdin", &self.stdin.as_ref().map(Input::kind))
            .field("timeout", &self.timeout)
            .field("kill_grace", &self.grace)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}

impl Input {
    fn kind(&self) -> &'static str {
        match self {
            Self::Plain(_) => "bytes",
            Self::Secret(_) => "secret",
        }
    }
}

/// Quotes a word for a POSIX shell when it needs it, for a log line a human
/// can paste.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests;
