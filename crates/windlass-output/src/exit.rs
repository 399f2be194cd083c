//! Exit statuses: what the shell and CI learn from a Windlass process.

use std::process::ExitCode;

/// How a Windlass process ended, as told to the shell and to CI.
///
/// | code | variant               | meaning                                                         |
/// |------|-----------------------|-----------------------------------------------------------------|
/// | 0    | [`Success`]           | everything asked for was done                                   |
/// | 1    | [`Failure`]           | a check or gate ran and failed (also: an unclassified error)    |
/// | 2    | [`Usage`]             | bad arguments, configuration or input; retrying will not help   |
/// | 3    | [`Remote`]            | network, authentication or registry failure; CI may retry       |
/// | 101  | [`Bug`]               | an internal error (a bug in Windlass), like a Rust panic        |
///
/// A broken pipe on stdout (`windlass ... | head`) is not an error: the
/// process exits with [`Success`] without printing anything more.
///
/// [`Success`]: ExitStatus::Success
/// [`Failure`]: ExitStatus::Failure
/// [`Usage`]: ExitStatus::Usage
/// [`Remote`]: ExitStatus::Remote
/// [`Bug`]: ExitStatus::Bug
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
    /// `101`: an internal error, the same code as a Rust panic.
    Bug,
}

impl ExitStatus {
    /// Every status, in code order (for documentation and tests).
    pub const ALL: [Self; 5] = [
        Self::Success,
        Self::Failure,
        Self::Usage,
        Self::Remote,
        Self::Bug,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Usage => 2,
            Self::Remote => 3,
            Self::Bug => 101,
        }
    }

    /// Whether this is [`ExitStatus::Success`].
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Success)
    }

    /// A short lowercase name (`success`, `failure`, `usage`, `remote`,
    /// `bug`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Usage => "usage",
            Self::Remote => "remote",
            Self::Bug => "bug",
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}
