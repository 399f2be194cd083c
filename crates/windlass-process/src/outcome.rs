use std::fmt;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == Self::Code(0)
    }

    /// The code our own process should exit with to pass this status on,
    /// as shells do: the code as it is, or 128 + the signal number.
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Code(code) => code,
            Self::Signal(signal) => 128 + signal,
        }
    }

    pub(crate) fn from_std(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt as _;
        match (status.code(), status.signal()) {
            (Some(code), _) => Self::Code(code),
            (None, Some(signal)) => Self::Signal(signal),
            // `wait` reports neither only for stopped or continued children,
            // which it does not return for: treat it as a plain failure.
            (None, None) => Self::Code(1),
        }
    }
}

/// Ends the way `status` says, as a shell passes a child's end on: with the
/// same exit code, or killed by the same signal, so that a calling shell sees
/// a Ctrl-C as a Ctrl-C and stops its loop. Returns the exit code (128 + the
/// signal) only when the signal did not end the process (it was one whose
/// default action is not to terminate).
///
/// Call it last: nothing after a signal runs, so output must be flushed and
/// tokens revoked before.
pub fn exit_like(status: ExitStatus) -> std::process::ExitCode {
    if let ExitStatus::Signal(signal) = status {
        #[allow(
            clippy::disallowed_methods,
            reason = "the last flush of our stdout before the process ends by a signal"
        )]
        let _ = std::io::Write::flush(&mut std::io::stdout());
        crate::sys::raise_default(signal);
    }
    std::process::ExitCode::from(u8::try_from(status.exit_code()).unwrap_or(1))
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Code(code) => write!(f, "exit code {code}"),
            Self::Signal(signal) => f.write_str(&signal_label(signal)),
        }
    }
}

/// What a finished child left behind.
///
/// `Debug` shows the sizes of captured output, never its bytes: captured
/// stdout is raw and may hold a secret.
pub struct Outcome {
    pub(crate) status: ExitStatus,
    pub(crate) interrupted: Option<i32>,
    pub(crate) stdout: Option<Vec<u8>>,
    pub(crate) stderr: Option<Vec<u8>>,
}

impl Outcome {
    pub fn status(&self) -> ExitStatus {
        self.status
    }

    /// The signal (SIGINT or SIGTERM) we received and forwarded to the child
    /// while it ran, if any.
    pub fn interrupted(&self) -> Option<i32> {
        self.interrupted
    }

    /// Whether the child exited with code 0 and we were not interrupted.
    pub fn success(&self) -> bool {
        self.status.success() && self.interrupted.is_none()
    }

    /// The code our own process should exit with: 128 + the signal when we
    /// were interrupted (whatever the child made of it), otherwise
    /// [`ExitStatus::exit_code`].
    pub fn exit_code(&self) -> i32 {
        self.interrupted
            .map_or_else(|| self.status.exit_code(), |signal| 128 + signal)
    }

    /// How our own process should end to pass this outcome on: killed by
    /// the signal we received and forwarded (whatever the child made of
    /// it), else as the child ended. Hand it to [`exit_like`].
    pub fn pass_on(&self) -> ExitStatus {
        self.interrupted.map_or(self.status, ExitStatus::Signal)
    }

    /// Captured stdout, raw and unredacted (it is meant for parsing): never
    /// print it except through the redactor. `None` unless captured.
    pub fn stdout(&self) -> Option<&[u8]> {
        self.stdout.as_deref()
    }

    /// Captured stderr, already redacted. `None` unless captured.
    pub fn stderr(&self) -> Option<&[u8]> {
        self.stderr.as_deref()
    }

    /// Captured stdout, raw; see [`Outcome::stdout`].
    pub fn into_stdout(self) -> Option<Vec<u8>> {
        self.stdout
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome")
            .field("status", &self.status)
            .field("interrupted", &self.interrupted)
            .field("stdout_len", &self.stdout.as_ref().map(Vec::len))
            .field("stderr_len", &self.stderr.as_ref().map(Vec::len))
            .finish()
    }
}

/// `signal 15 (SIGTERM)`.
pub(crate) fn signal_label(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => return format!("signal {signal}"),
    };
    format!("signal {signal} ({name})")
}
