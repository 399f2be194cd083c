use std::io;
use std::path::PathBuf;
use std::time::Duration;

use windlass_diagnostic::{Diagnostic, ExitStatus as Exit};

use crate::{ExitStatus, Outcome};

/// Why a child could not be started ([`crate::Cmd::spawn`]).
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot run `{program}`: program not found")]
    NotFound { program: String },
    #[error("cannot run `{program}`: the working directory must be absolute, not {}", cwd.display())]
    RelativeWorkingDir { program: String, cwd: PathBuf },
    #[error("cannot run `{program}` in {}", cwd.display())]
    WorkingDir {
        program: String,
        cwd: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("refusing to run `{program}`: argument {index} contains a secret")]
    SecretInArgs { program: String, index: usize },
    #[error("cannot run `{program}`")]
    Io {
        program: String,
        #[source]
        source: io::Error,
    },
}

impl Diagnostic for SpawnError {
    fn exit_status(&self) -> Exit {
        match self {
            Self::Io { .. } => Exit::Failure,
            _ => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::NotFound { program } if program.contains('/') => {
                Some(format!("check that `{program}` exists and is executable"))
            }
            Self::NotFound { program } => Some(format!(
                "install `{program}` or add the directory that holds it to PATH"
            )),
            Self::RelativeWorkingDir { .. } => {
                Some("resolve the directory against the project root first".to_owned())
            }
            Self::SecretInArgs { .. } => Some(
                "pass secrets to children through `env_secret` or `stdin_secret`, never argv"
                    .to_owned(),
            ),
            Self::WorkingDir { .. } | Self::Io { .. } => None,
        }
    }
}

/// Why running a child failed, whatever its exit status ([`crate::Cmd::run`],
/// [`crate::Running::wait`]).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error("`{program}` timed out after {after:?}")]
    Timeout { program: String, after: Duration },
    #[error("cannot feed the standard input of `{program}`")]
    Stdin {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot relay the output of `{program}`")]
    Output {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot wait for `{program}`")]
    Wait {
        program: String,
        #[source]
        source: io::Error,
    },
}

impl Diagnostic for RunError {
    fn exit_status(&self) -> Exit {
        match self {
            Self::Spawn(err) => err.exit_status(),
            _ => Exit::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Spawn(err) => err.hint(),
            _ => None,
        }
    }
}

/// Why a child did not succeed ([`crate::Cmd::run_checked`]).
#[derive(Debug, thiserror::Error)]
pub enum CheckedError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("`{program}` failed with {status}")]
    Failed {
        program: String,
        status: ExitStatus,
        /// The whole outcome, with whatever was captured.
        outcome: Box<Outcome>,
    },
    #[error("`{program}` was interrupted by {}", crate::outcome::signal_label(*signal))]
    Interrupted {
        program: String,
        signal: i32,
        outcome: Box<Outcome>,
    },
}

impl CheckedError {
    /// The code our own process should exit with, as a shell would: the
    /// child's code, or 128 + the signal number. `None` when the child did
    /// not run to completion.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Self::Run(_) => None,
            Self::Failed { outcome, .. } | Self::Interrupted { outcome, .. } => {
                Some(outcome.exit_code())
            }
        }
    }
}

impl Diagnostic for CheckedError {
    fn exit_status(&self) -> Exit {
        match self {
            Self::Run(err) => err.exit_status(),
            Self::Failed { .. } | Self::Interrupted { .. } => Exit::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Run(err) => err.hint(),
            _ => None,
        }
    }
}
