//! Exit statuses: what the shell and CI learn from a Windlass process.

use std::process::ExitCode;

/// How a Windlass process ended, as told to the shell and to CI.
///
/// | code | variant               | meaning                                                         |
/// |------|-----------------------|-----------------------------------------------------------------|
/// | 0    | [`Success`]           | everything asked for was done                                   |
/// | 1    | [`Failure`]           | a check or gate ran and failed                                  |
/// | 2    | [`Usage`]             | bad arguments, configuration or input; retrying will not help   |
/// | 3    | [`Remote`]            | network, authentication or registry failure; CI may retry       |
/// | 101  | [`Bug`]               | an internal error (a bug in Windlass), like a Rust panic        |
/// | 126  | [`CannotExecute`]     | `windlass NAME`: `windlass-NAME` exists but cannot be run        |
/// | 127  | [`CommandNotFound`]   | `windlass NAME`: no built-in tool and no `windlass-NAME` on PATH |
/// | 130  | [`Interrupted`]       | stopped by SIGINT (Ctrl-C) or SIGTERM; what was done is reported |
///
/// An error that no [`Diagnostic`](crate::Diagnostic) in its cause chain
/// classifies is treated as a bug (101): a failure a user can meet has a
/// type that says what it is.
///
/// 126 and 127 are the shell's codes for the same failures. A command
/// that was interrupted prints one `interrupted` line on stderr and its
/// summary of what was done (with `--json`, the result document has
/// `exit_code: 130` and the partial data).
///
/// A broken pipe on our own stdout (`windlass ... | head`) is not an error:
/// the process exits with [`Success`] without printing anything more. Any
/// other broken pipe (a child's stdin, a connection) is reported like any
/// other error.
///
/// [`Success`]: ExitStatus::Success
/// [`Failure`]: ExitStatus::Failure
/// [`Usage`]: ExitStatus::Usage
/// [`Remote`]: ExitStatus::Remote
/// [`Bug`]: ExitStatus::Bug
/// [`CannotExecute`]: ExitStatus::CannotExecute
/// [`CommandNotFound`]: ExitStatus::CommandNotFound
/// [`Interrupted`]: ExitStatus::Interrupted
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// `0`: everything asked for was done.
    Success,
    /// `1`: a check or gate ran and failed.
    Failure,
    /// `2`: a usage, configuration or input error.
    Usage,
    /// `3`: a remote failure (network, authentication, registry); CI may
    /// retry.
    Remote,
    /// `101`: an internal error, the same code as a Rust panic; also an
    /// error nothing classified.
    Bug,
    /// `126`: an external `windlass-NAME` was found but cannot be run.
    CannotExecute,
    /// `127`: no such command, built in or `windlass-NAME` on `PATH`.
    CommandNotFound,
    /// `130`: stopped by SIGINT or SIGTERM before the work was done.
    Interrupted,
}

impl ExitStatus {
    /// Every status, in code order (for documentation and tests).
    pub const ALL: [Self; 8] = [
        Self::Success,
        Self::Failure,
        Self::Usage,
        Self::Remote,
        Self::Bug,
        Self::CannotExecute,
        Self::CommandNotFound,
        Self::Interrupted,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Usage => 2,
            Self::Remote => 3,
            Self::Bug => 101,
            Self::CannotExecute => 126,
            Self::CommandNotFound => 127,
            Self::Interrupted => 130,
        }
    }

    /// Whether this is [`ExitStatus::Success`].
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Success)
    }

    /// A short lowercase name (`success`, `failure`, `usage`, `remote`,
    /// `bug`, `cannot-execute`, `not-found`, `interrupted`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Usage => "usage",
            Self::Remote => "remote",
            Self::Bug => "bug",
            Self::CannotExecute => "cannot-execute",
            Self::CommandNotFound => "not-found",
            Self::Interrupted => "interrupted",
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}
