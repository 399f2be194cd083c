use std::path::{Path, PathBuf};

use windlass_diagnostic::{Diagnostic, ExitStatus};

/// Why a tool or the project's environment could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot run the Python `{python}` that builds the check environments")]
    Python {
        python: String,
        #[source]
        source: windlass_process::RunError,
    },
    #[error("the Python `{python}` could not describe itself (exit {code}):\n{output}")]
    PythonProbe {
        python: String,
        code: i32,
        output: String,
    },
    #[error("`{python} -m venv` could not make {} (exit {code}):\n{output}", env_dir.display())]
    Venv {
        python: String,
        env_dir: PathBuf,
        code: i32,
        output: String,
    },
    #[error(
        "cannot install {what}: {installer} failed on `{requirement}` (exit {code}):\n{output}"
    )]
    Pip {
        /// `pip` or `uv`.
        installer: &'static str,
        /// The tool's name, or `the environment of PROJECT`.
        what: String,
        requirement: String,
        code: i32,
        /// The installer's last lines, redacted.
        output: String,
    },
    #[error("cannot install {what}: cannot run {installer}")]
    InstallerRun {
        installer: &'static str,
        what: String,
        #[source]
        source: windlass_process::RunError,
    },
    #[error("the resolution of `{requirement}` for `{tool}` is not readable: {why}")]
    Report {
        tool: String,
        requirement: String,
        why: String,
    },
    #[error("cannot install {what}: the wheels do not install")]
    Native {
        what: String,
        #[source]
        source: Box<windlass_image::python::PythonError>,
    },
    #[error("cannot install {what}: {file} has sha256 {actual}, not {expected} as locked")]
    HashMismatch {
        what: String,
        file: String,
        expected: String,
        actual: String,
    },
    #[error("`{tool}` is not among the distributions locked in {}", lock.display())]
    NotInLock {
        tool: String,
        requirement: String,
        lock: PathBuf,
    },
    #[error("`{tool}` was installed into {} but has no executable `bin/{bin}`", env_dir.display())]
    NoExecutable {
        tool: String,
        bin: String,
        env_dir: PathBuf,
    },
    #[error("`[check] installer = \"uv\"` but no usable uv: {why}")]
    NoUv { why: String },
    #[error("{}: {why}", path.display())]
    Project { path: PathBuf, why: String },
    #[error("cannot read {}", .0.path().display())]
    Read(#[source] windlass_fs::ReadError),
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InstallError {
    pub(crate) fn io(
        action: &'static str,
        path: impl AsRef<Path>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.as_ref().to_owned();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

impl Diagnostic for InstallError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Project { .. } | Self::NoUv { .. } => ExitStatus::Usage,
            _ => ExitStatus::Remote,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Python { .. } | Self::PythonProbe { .. } | Self::Venv { .. } => Some(format!(
                "install CPython 3 with its `venv` module, or name one with `{}`",
                super::PYTHON_VAR
            )),
            Self::Pip { output, .. } => Some(pip_hint(output)),
            Self::InstallerRun { installer: "uv", .. } | Self::NoUv { .. } => Some(format!(
                "install uv {}.{} or later, name it with `{}`, or set `[check] installer = \"pip\"`",
                super::uv::MIN_UV.0,
                super::uv::MIN_UV.1,
                super::UV_VAR
            )),
            Self::InstallerRun { .. } => Some(
                "the Python that builds the environments needs pip 22.3 or later (`python3 -m pip --version`)"
                    .to_owned(),
            ),
            Self::NoExecutable { bin, .. } => Some(format!(
                "set the executable the tool installs (`bin`) if it is not `{bin}`"
            )),
            Self::Project { .. } => {
                Some("fix the project's pyproject.toml or lock file, or the `[check]` settings that name extras and groups".to_owned())
            }
            Self::Io { .. } | Self::Read(_) => {
                Some("check the permissions and free space of the Windlass cache directory (`WINDLASS_CACHE_DIR`)".to_owned())
            }
            Self::Native { source, .. } => source.hint(),
            Self::HashMismatch { .. } => Some(
                "the index served another file than the one locked; check the index, then remove the environment from the cache to resolve again"
                    .to_owned(),
            ),
            Self::Report { .. } | Self::NotInLock { .. } => None,
        }
    }
}

/// What pip's output suggests to do.
fn pip_hint(output: &str) -> String {
    let unreachable = [
        "Could not fetch URL",
        "Retrying (Retry(",
        "NewConnectionError",
        "Max retries exceeded",
        "Connection refused",
        "Temporary failure in name resolution",
        "Failed to fetch",
        "error sending request",
    ]
    .iter()
    .any(|needle| output.contains(needle));
    if unreachable {
        "check the network and the package index (`[check] index-url` in windlass.toml, `PIP_INDEX_URL`); then run again".to_owned()
    } else if output.contains("No matching distribution found")
        || output.contains("Could not find a version")
        || output.contains("No solution found")
    {
        "check that this version exists on the index and ships a wheel for this Python and platform, or pin another in `[check]` of windlass.toml".to_owned()
    } else if output.contains("DO NOT MATCH THE HASHES") || output.contains("Hash mismatch") {
        "the index served a file other than the one locked; remove the environment from the cache to resolve again, and check the index".to_owned()
    } else {
        "run the installer's command with `-v` to see more, or check the index configuration"
            .to_owned()
    }
}
