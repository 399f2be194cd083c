use std::borrow::Cow;
use std::io::{self, Write};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, ChildStdin};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;
use windlass_redact::{RedactingWriter, Redactor};

use crate::interrupt::Foreground;
use crate::outcome::ExitStatus;
use crate::{Cmd, EnvValue, Input, Outcome, RunError, Sink, SpawnError, sys};

/// A started child. Await [`Running::wait`] soon: until then nobody reads
/// its output, and it blocks once a pipe is full. Dropping it kills the
/// child's process group.
pub struct Running {
    child: Child,
    program: String,
    guard: GroupGuard,
    stdin: Option<Input>,
    stdout: Option<Target>,
    stderr: Option<Target>,
    timeout: Option<Duration>,
    grace: Duration,
    signals: Signals,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("program", &self.program)
            .field("pid", &self.guard.pgid)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Cmd {
    /// Starts the child and returns at once; see [`Running`].
    ///
    /// Must be called within a Tokio runtime.
    pub fn spawn(self) -> Result<Running, SpawnError> {
        let program = self.program.to_string_lossy().into_owned();
        let redactors = Redactors {
            extra: self.redactor.clone(),
        };
        self.check(&program, &redactors)?;
        tracing::debug!(
            command = %self.command_line(&redactors),
            cwd = %self.cwd.display(),
            env = ?self.env_names(),
            env_removed = ?self.removed,
            env_clear = self.env_clear,
            credentials = if self.inherit_credentials { "inherited" } else { "withheld" },
            stdin = self.stdin.as_ref().map_or("null", Input::kind),
            timeout = ?self.timeout,
            "running command",
        );

        let mut command = tokio::process::Command::from(self.std_command());
        let (stdout_stdio, stdout) = target(self.stdout, Stream::Stdout, &redactors);
        let (stderr_stdio, stderr) = target(self.stderr, Stream::Stderr, &redactors);
        command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(stdout_stdio)
            .stderr(stderr_stdio)
            .process_group(0)
            .kill_on_drop(true);
        sys::kill_with_parent(&mut command);

        // Install the handlers before the child exists, so that no signal
        // meant for it is lost.
        let signals = Signals::new().map_err(|source| SpawnError::Io {
            program: program.clone(),
            source,
        })?;
        let child = command.spawn().map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => SpawnError::NotFound {
                program: program.clone(),
            },
            _ => SpawnError::Io {
                program: program.clone(),
                source,
            },
        })?;
        let pgid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or(0);
        Ok(Running {
            child,
            program,
            guard: GroupGuard { pgid, armed: true },
            stdin: self.stdin,
            stdout,
            stderr,
            timeout: self.timeout,
            grace: self.grace,
            signals,
        })
    }

    /// Preconditions that [`tokio::process::Command`] would report poorly
    /// or not at all.
    fn check(&self, program: &str, redactors: &Redactors) -> Result<(), SpawnError> {
        if !self.cwd.is_absolute() {
            return Err(SpawnError::RelativeWorkingDir {
                program: program.to_owned(),
                cwd: self.cwd.clone(),
            });
        }
        let metadata = std::fs::metadata(&self.cwd).and_then(|m| {
            if m.is_dir() {
                Ok(m)
            } else {
                Err(io::ErrorKind::NotADirectory.into())
            }
        });
        if let Err(source) = metadata {
            return Err(SpawnError::WorkingDir {
                program: program.to_owned(),
                cwd: self.cwd.clone(),
                source,
            });
        }
        let leaked = self
            .args
            .iter()
            .position(|arg| redactors.finds_secret(arg.as_encoded_bytes()));
        if let Some(index) = leaked {
            return Err(SpawnError::SecretInArgs {
                program: program.to_owned(),
                index: index + 1,
            });
        }
        Ok(())
    }
}

impl Running {
    /// The child's process id, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.guard.pgid.unsigned_abs()
    }

    /// Feeds stdin, relays output and waits for the child to exit, forwarding
    /// the SIGINT and SIGTERM we receive meanwhile and enforcing the timeout.
    pub async fn wait(self) -> Result<Outcome, RunError> {
        let Self {
            mut child,
            program,
            mut guard,
            stdin,
            stdout,
            stderr,
            timeout,
            grace,
            mut signals,
        } = self;
        let pgid = guard.pgid;
        // The signals we receive from now on are the child's.
        let _foreground = Foreground::enter();
        let exchange = async {
            let (fed, out, err) = tokio::join!(
                feed(child.stdin.take(), stdin),
                pump(child.stdout.take(), stdout),
                pump(child.stderr.take(), stderr),
            );
            (fed, out, err, child.wait().await)
        };
        tokio::pin!(exchange);

        let mut interrupted = None;
        let mut timed_out = false;
        let mut deadline = timeout.map(|t| Instant::now() + t);
        let (fed, out, err, status) = loop {
            tokio::select! {
                done = &mut exchange => break done,
                Some(()) = signals.interrupt.recv() => {
                    interrupted = Some(libc::SIGINT);
                    forward(pgid, libc::SIGINT);
                }
                Some(()) = signals.terminate.recv() => {
                    interrupted = Some(libc::SIGTERM);
                    forward(pgid, libc::SIGTERM);
                }
                () = sleep_until(deadline) => {
                    if timed_out {
                        forward(pgid, libc::SIGKILL);
                        deadline = None;
                    } else {
                        tracing::debug!(program, "timed out, terminating");
                        timed_out = true;
                        forward(pgid, libc::SIGTERM);
                        deadline = Some(Instant::now() + grace);
                    }
                }
            }
        };

        if let (true, Some(after)) = (timed_out, timeout) {
            // The guard stays armed: it kills whatever is left of the group.
            return Err(RunError::Timeout { program, after });
        }
        let status = status.map_err(|source| RunError::Wait {
            program: program.clone(),
            source,
        })?;
        guard.armed = false;
        fed.map_err(|source| RunError::Stdin {
            program: program.clone(),
            source,
        })?;
        let stdout = out.map_err(|source| RunError::Output {
            program: program.clone(),
            source,
        })?;
        let stderr = err.map_err(|source| RunError::Output {
            program: program.clone(),
            source,
        })?;
        let status = ExitStatus::from_std(status);
        tracing::debug!(program, %status, "command finished");
        Ok(Outcome {
            status,
            interrupted,
            stdout,
            stderr,
        })
    }
}

/// Kills the child's process group unless disarmed once the child is reaped.
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            forward(self.pgid, libc::SIGKILL);
        }
    }
}

struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }
}

fn forward(pgid: i32, signal: i32) {
    if let Err(err) = sys::signal_group(pgid, signal) {
        tracing::warn!(pgid, signal, %err, "cannot signal a child process group");
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The process-wide redactor, plus the command's own if it has one.
pub(crate) struct Redactors {
    extra: Option<Redactor>,
}

impl Redactors {
    fn all(&self) -> impl Iterator<Item = &Redactor> {
        std::iter::once(windlass_redact::global()).chain(self.extra.as_ref())
    }

    pub(crate) fn redact_text(&self, text: &str) -> String {
        self.all()
            .fold(text.to_owned(), |text, r| r.redact(&text).into_owned())
    }

    fn redact_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        self.all()
            .fold(bytes, |bytes, r| r.redact_bytes(&bytes).into_owned())
    }

    fn finds_secret(&self, bytes: &[u8]) -> bool {
        self.all()
            .any(|r| matches!(r.redact_bytes(bytes), Cow::Owned(_)))
    }

    /// Wraps a writer redacted by the process-wide redactor in the
    /// command's own, if any. Finishing the outer writer releases its tail
    /// into the inner one, which releases its own when dropped.
    fn wrap<W: Write + Send + 'static>(&self, inner: RedactingWriter<W>) -> Box<dyn Relay> {
        match &self.extra {
            Some(extra) => Box::new(extra.writer(inner)),
            None => Box::new(inner),
        }
    }
}

/// A writer that may hold data back until the end.
trait Relay: Write + Send {
    fn finish(&mut self) -> io::Result<()>;
}

impl<W: Write + Send> Relay for RedactingWriter<W> {
    fn finish(&mut self) -> io::Result<()> {
        RedactingWriter::finish(self)
    }
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Where the bytes read from one pipe go.
/// Our stdout, for relaying a child's: this crate owns that relay.
#[allow(
    clippy::disallowed_methods,
    reason = "relaying a child's stdout to ours is this crate's job"
)]
fn our_stdout() -> std::io::Stdout {
    std::io::stdout()
}

/// Our stderr, for relaying a child's: this crate owns that relay.
#[allow(
    clippy::disallowed_methods,
    reason = "relaying a child's output to our stderr is this crate's job"
)]
fn our_stderr() -> std::io::Stderr {
    std::io::stderr()
}

enum Target {
    Relay(Box<dyn Relay>),
    Raw(Vec<u8>),
    /// Collected, then redacted as a whole.
    Redacted(Vec<u8>, Redactors),
}

fn target(sink: Sink, stream: Stream, redactors: &Redactors) -> (Stdio, Option<Target>) {
    let target = match (sink, stream) {
        (Sink::Null, _) => return (Stdio::null(), None),
        // Through the process-wide redactor, as `windlass-output` writes.
        (Sink::Terminal, Stream::Stdout) => {
            Target::Relay(redactors.wrap(windlass_redact::global().writer(our_stdout())))
        }
        (Sink::Terminal | Sink::Stderr, _) => {
            Target::Relay(redactors.wrap(windlass_redact::global().writer(our_stderr())))
        }
        (Sink::Writer(writer), _) => {
            Target::Relay(redactors.wrap(windlass_redact::global().writer(writer)))
        }
        (Sink::Capture, Stream::Stdout) => Target::Raw(Vec::new()),
        (Sink::Capture, Stream::Stderr) => Target::Redacted(
            Vec::new(),
            Redactors {
                extra: redactors.extra.clone(),
            },
        ),
    };
    (Stdio::piped(), Some(target))
}

impl Target {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            // Flush so that partial lines (prompts, progress) show at once;
            // the redacting writer still holds back a possible secret prefix.
            Self::Relay(writer) => writer.write_all(bytes).and_then(|()| writer.flush()),
            Self::Raw(buffer) | Self::Redacted(buffer, _) => {
                buffer.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    fn finish(self) -> io::Result<Option<Vec<u8>>> {
        match self {
            Self::Relay(mut writer) => writer.finish().map(|()| None),
            Self::Raw(buffer) => Ok(Some(buffer)),
            Self::Redacted(buffer, redactors) => Ok(Some(redactors.redact_bytes(buffer))),
        }
    }
}

/// Relays one pipe to its target until end of file. A failing target (our
/// stdout closed, say) does not stop the relay: the child must not block on
/// a full pipe. A broken pipe on our side is not an error.
async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    target: Option<Target>,
) -> io::Result<Option<Vec<u8>>> {
    let (Some(mut reader), Some(mut target)) = (reader, target) else {
        return Ok(None);
    };
    let mut buffer = vec![0; 16 * 1024];
    let mut failed = None;
    loop {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        if failed.is_none() {
            failed = target.write(&buffer[..read]).err();
        }
    }
    let finished = target.finish();
    match failed {
        Some(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(err),
        _ => match finished {
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(None),
            finished => finished,
        },
    }
}

/// Writes the input to the child's stdin and closes it. A child that exits
/// without reading it all is not our error.
async fn feed(pipe: Option<ChildStdin>, input: Option<Input>) -> io::Result<()> {
    let (Some(mut pipe), Some(input)) = (pipe, input) else {
        return Ok(());
    };
    let written = match pipe.write_all(input.bytes()).await {
        Ok(()) => pipe.shutdown().await,
        Err(err) => Err(err),
    };
    match written {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        written => written,
    }
}

impl Cmd {
    /// Replaces this process with the command, inheriting our standard
    /// streams, as a shell's `exec` does. Used to hand the terminal to a
    /// `windlass-NAME` plugin. Returns only on failure.
    ///
    /// Sinks, stdin, the timeout and the extra redactor do not apply: the
    /// program takes over the process. Arguments are still checked for
    /// registered secrets.
    pub fn exec(self) -> SpawnError {
        use std::os::unix::process::CommandExt as _;

        let program = self.program.to_string_lossy().into_owned();
        let redactors = Redactors {
            extra: self.redactor.clone(),
        };
        if let Err(err) = self.check(&program, &redactors) {
            return err;
        }
        tracing::debug!(command = %self.command_line(&redactors), cwd = %self.cwd.display(), "exec");
        let source = self.std_command().exec();
        match source.kind() {
            io::ErrorKind::NotFound => SpawnError::NotFound { program },
            _ => SpawnError::Io { program, source },
        }
    }

    /// The program, arguments, working directory and environment as a
    /// standard command; streams and process group are the caller's.
    fn std_command(&self) -> std::process::Command {
        #[allow(
            clippy::disallowed_methods,
            reason = "windlass-process is the one crate that spawns children"
        )]
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.args).current_dir(&self.cwd);
        if self.env_clear {
            command.env_clear();
        } else if !self.inherit_credentials {
            for name in windlass_redact::secret_vars() {
                command.env_remove(name);
            }
        }
        for name in &self.removed {
            command.env_remove(name);
        }
        for (name, value) in &self.vars {
            match value {
                EnvValue::Plain(value) => command.env(name, value),
                EnvValue::Secret(value) => command.env(name, value.expose()),
            };
        }
        command
    }
}
