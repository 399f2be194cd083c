//! Python installed natively into an image: read the base image's Python
//! ([`PythonTarget`], from its layers through [`BaseFs`]), fetch wheels for
//! that target with pip's `download` ([`fetch`]), install them into a
//! staging tree laid out as the image's root as an installer does
//! ([`install`]: RECORD, console-script wrappers with the image's
//! interpreter, `INSTALLER`, `REQUESTED`), and describe what was installed
//! as a CycloneDX SBOM ([`sbom`]).
//!
//! Nothing here runs the image's interpreter or any container runtime:
//! the only child processes are the host's pip, for downloads, and a host
//! CPython of the image's version, to byte-compile ([`compile`]).

mod basefs;
mod compile;
mod fetch;
mod install;
mod lock;
mod sbom;
mod target;

use std::path::{Path, PathBuf};

use serde::Serialize;
use windlass_diagnostic::{Diagnostic, ExitStatus};

pub use self::basefs::{BaseFs, Node};
pub use self::compile::{Compiler, compile, find_compiler};
pub use self::fetch::{FetchRequest, FetchedWheel, Index, IndexCredentials, Requirements, fetch};
pub use self::install::{InstallRequest, WheelToInstall, install};
pub use self::lock::{LockedSource, LockedWheel, read_lock};
pub use self::sbom::{SBOM_MEDIA_TYPE, SbomOptions, purl, sbom};
pub use self::target::{Libc, PythonTarget, Scheme, platform_tags};

use crate::digest::Digest;

/// What [`install`] put into the staging tree, for reports and the SBOM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct InstallReport {
    /// Sorted by normalised name.
    pub packages: Vec<InstalledPackage>,
}

/// One installed distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct InstalledPackage {
    /// The name as its metadata spells it.
    pub name: String,
    pub version: String,
    /// The sha256 of the wheel file it was installed from (hex).
    pub wheel_sha256: String,
    /// The wheel's file name.
    pub wheel: String,
    /// Whether it was asked for directly (not only a dependency).
    pub requested: bool,
    /// How many files it installed (RECORD lines).
    pub files: usize,
    /// The image path of its RECORD.
    #[serde(skip)]
    #[schemars(skip)]
    pub record: String,
}

/// Why reading the base image's Python, fetching or installing wheels failed.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("cannot read the base image")]
    Layout(#[source] crate::layout::LayoutError),
    #[error("the base image is not usable: {why}")]
    BaseImage { why: String },
    #[error("cannot read layer {digest} of the base image")]
    Layer {
        digest: Digest,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "layer {digest} of the base image has the media type `{media_type}`, which cannot be read here"
    )]
    UnsupportedLayer { digest: Digest, media_type: String },
    #[error("the base image has no Python interpreter (looked for {searched})")]
    NoPython { searched: String },
    #[error(
        "cannot tell the version of the base image's Python `{interpreter}` (no `lib/pythonX.Y/os.py` next to it)"
    )]
    NoVersion { interpreter: String },
    #[error(
        "cannot tell the base image's C library (no libc6 in dpkg's status, no musl loader, no libc.so.6)"
    )]
    NoLibc,
    #[error("the base image's architecture `{arch}` has no wheel platform tags here")]
    UnsupportedArch { arch: String },
    #[error("cannot read the requirements file {}", path.display())]
    Requirements {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("cannot read {}", .0.path().display())]
    File(#[source] windlass_fs::ReadError),
    #[error("{}: {why}", path.display())]
    Lock { path: PathBuf, why: String },
    #[error("{}:{line}: {why}", path.display())]
    RequirementLine {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("the index URL `{url}` is not usable: {why}")]
    IndexUrl { url: String, why: String },
    #[error(
        "byte-compiling needs a host CPython {version}, the image's version, and none was found: {tried}"
    )]
    NoCompiler { version: String, tried: String },
    #[error("`{python}` could not byte-compile the installed packages:\n{output}")]
    Compile { python: String, output: String },
    #[error("cannot run pip with the python `{python}`")]
    Pip {
        python: String,
        #[source]
        source: windlass_process::RunError,
    },
    #[error("pip could not download the wheels for {target} (pip exited with {code}):\n{output}")]
    Download {
        target: String,
        code: i32,
        output: String,
    },
    #[error(
        "no wheel of `{requirement}` exists for {target}; only a source distribution, or nothing, is on the index"
    )]
    NoWheel { requirement: String, target: String },
    #[error("{file} does not match the hash pinned for `{name}` in {} (it is sha256:{actual})", requirements.display())]
    HashMismatch {
        file: String,
        name: String,
        requirements: PathBuf,
        actual: String,
    },
    #[error("pip found files that do not match the pinned hashes:\n{output}")]
    PipHashMismatch { output: String },
    #[error("`{name}` has no `--hash` pin in {} while other requirements do", requirements.display())]
    HashMissing { name: String, requirements: PathBuf },
    #[error("the wheel {wheel} is for another Python or platform than {target}")]
    Incompatible { wheel: String, target: String },
    #[error("{}: {why}", wheel.display())]
    BadWheel { wheel: PathBuf, why: String },
    #[error("{}: the member `{member}` would be installed outside its directory", wheel.display())]
    PathEscape { wheel: PathBuf, member: String },
    #[error("{} and {} both install `{path}`", first.display(), second.display())]
    Conflict {
        path: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PythonError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    fn bad(wheel: &std::path::Path, why: impl Into<String>) -> Self {
        Self::BadWheel {
            wheel: wheel.to_owned(),
            why: why.into(),
        }
    }
}

impl Diagnostic for PythonError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Download { .. } => ExitStatus::Remote,
            _ => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::NoPython { .. } | Self::NoVersion { .. } => {
                "use a base image with CPython on its PATH (`python3`), such as python:3.X or a Debian image with python3".into()
            }
            Self::IndexUrl { .. } => {
                "write the index as an absolute URL, `https://host/simple/`, in `[image.index] url`".into()
            }
            Self::NoLibc => "only glibc (manylinux) and musl (musllinux) images are supported".into(),
            Self::UnsupportedLayer { .. } => {
                "copy the base image with `skopeo copy` to get gzip layers".into()
            }
            Self::NoCompiler { version, .. } => format!(
                "install Python {version} on this machine (found as `python{version}` on PATH, or named by WINDLASS_PYTHON), or build without byte-compilation (`--no-compile`)"
            ),
            Self::Pip { .. } => {
                "set WINDLASS_PYTHON to a Python 3 interpreter with pip (`python3` on PATH by default)".into()
            }
            Self::Download { .. } => {
                "pip's output above says which requirement failed; check the index URL and credentials".into()
            }
            Self::NoWheel { .. } => {
                "build a wheel of it (`windlass wheel build` for a project of yours) and give its path, pick a version that ships wheels, or build the image with podman/buildah".into()
            }
            Self::HashMismatch { .. } | Self::PipHashMismatch { .. } => {
                "the index serves another file than the one pinned: regenerate the hashes (`pip-compile --generate-hashes`) only if you trust the new file".into()
            }
            Self::HashMissing { .. } => {
                "pin every requirement, dependencies included, with `--hash=sha256:` (pip's hash-checking mode)".into()
            }
            Self::Incompatible { .. } => {
                "give a wheel built for the base image's Python and platform, or a pure-Python (`py3-none-any`) wheel".into()
            }
            Self::Conflict { .. } => "install only one distribution that provides this file".into(),
            Self::File(source) => return source.hint().map(str::to_owned),
            _ => return None,
        })
    }
}

/// The sha256 (hex) of a wheel on this machine: a regular file, opened
/// without blocking on a fifo, streamed.
pub(crate) fn sha256_file(path: &Path) -> Result<String, PythonError> {
    use sha2::Digest as _;
    let file = windlass_fs::open(path).map_err(PythonError::File)?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file.into_file(), &mut hasher).map_err(PythonError::io("read", path))?;
    Ok(hex::encode(hasher.finalize()))
}
