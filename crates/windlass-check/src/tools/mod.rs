//! The tools checks run, installed at pinned versions into a shared cache
//! outside the project, and the project's own environment for pytest.
//!
//! - [`ToolSpec`] and [`pinned`]: what to install (the built-in table of
//!   versions, which configuration may override).
//! - [`Installer::ensure`]: one virtual environment per tool requirement,
//!   extras, host Python and platform in `CACHE/check/tools/`, reused by
//!   every project. The requirement is resolved once, by uv (`pip
//!   compile`) or pip (`--dry-run --report`) as [`Installer::backend`]
//!   settles; the files chosen and their sha256 are kept as `lock.json` in
//!   the environment, then exactly those files are installed, each checked
//!   against its hash. A file the index gave pip no hash for is installed
//!   all the same and listed in [`InstalledTool::unverified`]. Either
//!   installer builds the same environment under the same key.
//! - [`project_env`]: a virtual environment for the project in
//!   `CACHE/check/envs/`, with the project installed in editable mode and
//!   its test dependencies, from its lock when it has one.
//!
//! An environment is used only once its completion marker exists (written
//! last); builds of one environment are serialised by a file lock, and an
//! environment without its marker (a killed build) is removed and rebuilt.
//! Every child runs through `windlass-process`; index credentials reach pip
//! or uv through its environment only and are registered with the
//! redactor.
//!
//! This module never runs a tool it installed and never writes into the
//! project.

mod envdir;
mod error;
mod pip;
mod project;
mod python;
mod uv;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::OnceCell;
use windlass_redact::RedactedUrl;

pub use self::error::InstallError;
pub use self::pip::{LockedFile, ToolLock};
pub use self::project::{ProjectEnv, ProjectEnvRequest, project_env, project_env_key};
pub use self::python::HostPython;
pub use self::uv::{MIN_UV, Uv};

/// The versions installed when the configuration names none.
pub const PINNED: &[(&str, &str)] = &[
    ("ruff", "ruff==0.17.6"),
    ("mypy", "mypy==2.4.1"),
    ("pytest", "pytest==9.2.0"),
];

/// Where the tool environments live, under the cache directory.
const TOOLS_DIR: &str = "check/tools";
/// Where the project environments live, under the cache directory.
const ENVS_DIR: &str = "check/envs";
/// The environment variable naming the Python that builds environments.
pub const PYTHON_VAR: &str = "WINDLASS_PYTHON";
/// The environment variable naming the uv that builds environments.
pub const UV_VAR: &str = "WINDLASS_UV";
/// What each environment says of how it was built, beside its lock.
const BUILT_BY_FILE: &str = "windlass-env.json";

/// A Python tool to install: the distribution, the requirement pip
/// resolves, extra requirements installed beside it (plugins, stubs) and
/// the executable the check runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolSpec {
    /// The distribution's name: `ruff`.
    pub name: String,
    /// A PEP 508 requirement: `ruff==0.17.6`.
    pub requirement: String,
    /// More requirements installed into the same environment.
    #[serde(default)]
    pub extra: Vec<String>,
    /// The executable in the environment's `bin/`: `ruff`.
    pub bin: String,
}

impl ToolSpec {
    /// A tool whose executable has the distribution's name.
    pub fn new(name: &str, requirement: &str) -> Self {
        Self {
            name: name.to_owned(),
            requirement: requirement.to_owned(),
            extra: Vec::new(),
            bin: name.to_owned(),
        }
    }

    /// The version the requirement pins with `==`, if it does.
    pub fn pinned_version(&self) -> Option<&str> {
        let (_, rest) = self.requirement.split_once("==")?;
        let version = rest
            .trim_start_matches('=')
            .split([';', ','])
            .next()?
            .trim();
        (!version.is_empty()).then_some(version)
    }
}

/// The built-in [`ToolSpec`] of `name` (`ruff`, `mypy`, `pytest`).
pub fn pinned(name: &str) -> Option<ToolSpec> {
    PINNED
        .iter()
        .find(|(tool, _)| *tool == name)
        .map(|(tool, requirement)| ToolSpec::new(tool, requirement))
}

/// The Python named by `WINDLASS_PYTHON` in `env`, if any.
pub fn python_from_env(env: &windlass_config::Environment) -> Option<PathBuf> {
    env.get(PYTHON_VAR)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// The uv named by `WINDLASS_UV` in `env`, if any.
pub fn uv_from_env(env: &windlass_config::Environment) -> Option<PathBuf> {
    env.get(UV_VAR)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// What builds the environments (`[check] installer`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum InstallerChoice {
    /// uv when a usable one is found (`WINDLASS_UV`, else `uv` on `PATH`),
    /// else pip.
    #[default]
    Auto,
    /// uv; none usable is an error.
    Uv,
    /// pip, from the Python that builds the environments.
    Pip,
}

/// The installer an [`Installer`] settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Pip,
    Uv(Uv),
}

impl Backend {
    /// `pip` or `uv`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pip => "pip",
            Self::Uv(_) => "uv",
        }
    }
}

/// How the [`Installer`] works.
#[derive(Debug, Clone, Default)]
pub struct InstallerOptions {
    /// The Windlass cache directory; environments go under `check/`.
    pub cache_dir: PathBuf,
    /// The Python that builds environments (see [`python_from_env`]);
    /// `python3` on `PATH` when `None`.
    pub python: Option<PathBuf>,
    /// The package index (`[check] index-url`); the installer's own
    /// configuration (`pip.conf`, `uv.toml`) when `None`. Credentials in it
    /// reach pip or uv through its environment only.
    pub index_url: Option<RedactedUrl>,
    /// pip or uv.
    pub installer: InstallerChoice,
    /// The uv to use (see [`uv_from_env`]); `uv` on `PATH` when `None`.
    pub uv: Option<PathBuf>,
}

/// A tool ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct InstalledTool {
    /// The executable to run.
    pub bin: PathBuf,
    /// The version of the tool's distribution installed.
    pub version: String,
    /// The virtual environment.
    pub env_dir: PathBuf,
    /// Whether this call built the environment (`false`: it was reused).
    pub fresh: bool,
    /// Files installed whose index gave no hash to verify them with.
    pub unverified: Vec<String>,
}

/// Installs tools and project environments into the cache.
#[derive(Debug)]
pub struct Installer {
    options: InstallerOptions,
    host: OnceCell<HostPython>,
    backend: OnceCell<Backend>,
}

impl Installer {
    pub fn new(options: InstallerOptions) -> Self {
        Self {
            options,
            host: OnceCell::new(),
            backend: OnceCell::new(),
        }
    }

    pub fn options(&self) -> &InstallerOptions {
        &self.options
    }

    /// The Python environments are built with (asked once).
    pub async fn host(&self) -> Result<&HostPython, InstallError> {
        self.host
            .get_or_try_init(|| HostPython::probe(self.python_program()))
            .await
    }

    /// The installer environments are built with (found once).
    pub async fn backend(&self) -> Result<&Backend, InstallError> {
        self.backend
            .get_or_try_init(|| async {
                let choice = self.options.installer;
                if choice == InstallerChoice::Pip {
                    return Ok(Backend::Pip);
                }
                let program = self
                    .options
                    .uv
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("uv"));
                match (uv::Uv::probe(&program).await, choice) {
                    (Ok(found), _) => Ok(Backend::Uv(found)),
                    (Err(why), InstallerChoice::Uv) => Err(InstallError::NoUv {
                        why: match why {
                            uv::Unusable::Missing(why) => why,
                            uv::Unusable::TooOld(version) => format!(
                                "`{}` is uv {version}, older than {}.{}",
                                program.display(),
                                MIN_UV.0,
                                MIN_UV.1
                            ),
                        },
                    }),
                    (Err(why), _) => {
                        tracing::debug!(?why, "no usable uv: installing with pip");
                        Ok(Backend::Pip)
                    }
                }
            })
            .await
    }

    /// The tool's environment, built unless a complete one exists.
    pub async fn ensure(&self, spec: &ToolSpec) -> Result<InstalledTool, InstallError> {
        let host = self.host().await?.clone();
        let key = self.tool_key(spec, &host);
        let dir_name = format!(
            "{}-{}-{}",
            dir_safe(&spec.name),
            dir_safe(spec.pinned_version().unwrap_or("unpinned")),
            &key[..12]
        );
        let env_dir = self.tools_dir().join(dir_name);
        let env_python = env_dir.join("bin").join("python");
        let built = envdir::ensure(&env_dir, || async {
            // Asked only when something is to be installed: a warm run
            // runs no installer, not even `uv --version`. With uv, Windlass
            // picks each package's wheel by the host's tags, which it knows
            // where its native installer works (CPython on glibc Linux);
            // elsewhere pip builds the environment.
            // pip also takes over when a package has no wheel for the host.
            let backend = self.backend().await?;
            if let Backend::Uv(uv) = backend
                && host.native_target(&env_python).is_some()
            {
                match uv::build_tool_env(uv, self, &host, spec, &env_dir).await? {
                    uv::Built::Done => return write_built_by(&env_dir, backend, &host),
                    uv::Built::NeedsPip => {
                        std::fs::remove_dir_all(&env_dir)
                            .map_err(InstallError::io("remove", &env_dir))?;
                    }
                }
            }
            pip::build_tool_env(self, &host, spec, &env_dir).await?;
            write_built_by(&env_dir, &Backend::Pip, &host)
        })
        .await?;
        let lock = pip::read_lock(&env_dir)?;
        let wanted = normalize(&spec.name);
        let version = lock
            .files
            .iter()
            .find(|f| normalize(&f.name) == wanted)
            .map(|f| f.version.clone())
            .ok_or_else(|| InstallError::NotInLock {
                tool: spec.name.clone(),
                requirement: spec.requirement.clone(),
                lock: env_dir.join(pip::LOCK_FILE),
            })?;
        let bin = env_dir.join("bin").join(&spec.bin);
        if !bin.is_file() {
            return Err(InstallError::NoExecutable {
                tool: spec.name.clone(),
                bin: spec.bin.clone(),
                env_dir,
            });
        }
        Ok(InstalledTool {
            bin,
            version,
            unverified: lock.unverified(),
            env_dir,
            fresh: built,
        })
    }

    fn python_program(&self) -> PathBuf {
        self.options
            .python
            .clone()
            .unwrap_or_else(|| PathBuf::from("python3"))
    }

    fn tool_key(&self, spec: &ToolSpec, host: &HostPython) -> String {
        let mut hasher = Sha256::new();
        for part in [
            "windlass-check tool env v1",
            &spec.requirement,
            &spec.extra.join("\n"),
            &host.identity(),
            &self.index_identity(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        hex::encode(hasher.finalize())
    }

    /// The index as part of a cache key: without credentials, so that a
    /// rotated password does not rebuild anything.
    fn index_identity(&self) -> String {
        self.options
            .index_url
            .as_ref()
            .map_or_else(String::new, |url| {
                let mut url = url.expose().clone();
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string()
            })
    }

    /// `cmd` with the index in the installer's variable `var`
    /// (`PIP_INDEX_URL`, `UV_DEFAULT_INDEX`): in its environment, never on
    /// argv, and as a secret when it carries credentials.
    pub(crate) fn with_index(
        &self,
        cmd: windlass_process::Cmd,
        var: &str,
    ) -> windlass_process::Cmd {
        let Some(url) = &self.options.index_url else {
            return cmd;
        };
        let url = url.expose();
        if url.password().is_some() || !url.username().is_empty() {
            cmd.env_secret(
                var.to_owned(),
                windlass_redact::Secret::new(url.to_string()),
            )
        } else {
            cmd.env(var.to_owned(), url.as_str())
        }
    }

    fn tools_dir(&self) -> PathBuf {
        self.options.cache_dir.join(TOOLS_DIR)
    }

    fn envs_dir(&self) -> PathBuf {
        self.options.cache_dir.join(ENVS_DIR)
    }
}

/// Records which installer built the environment in `env_dir` (an
/// environment built by either is the same and stays valid).
pub(crate) fn write_built_by(
    env_dir: &std::path::Path,
    backend: &Backend,
    host: &HostPython,
) -> Result<(), InstallError> {
    let version = match backend {
        Backend::Uv(uv) => Some(uv.version.clone()),
        Backend::Pip => host.pip.clone(),
    };
    let json = serde_json::json!({ "installer": backend.name(), "version": version });
    let path = env_dir.join(BUILT_BY_FILE);
    std::fs::write(&path, json.to_string()).map_err(InstallError::io("write", &path))
}

/// A distribution name as PEP 503 compares them.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_sep = false;
        }
    }
    out
}

/// A name usable as (part of) a directory name.
fn dir_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn short_hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_table() {
        let ruff = pinned("ruff").unwrap();
        assert_eq!(ruff.requirement, "ruff==0.17.6");
        assert_eq!(ruff.bin, "ruff");
        assert_eq!(ruff.pinned_version(), Some("0.17.6"));
        assert_eq!(pinned("mypy").unwrap().pinned_version(), Some("2.4.1"));
        assert_eq!(pinned("pytest").unwrap().pinned_version(), Some("9.2.0"));
        assert!(pinned("black").is_none());
    }

    #[test]
    fn pinned_version_of_other_requirements() {
        for (requirement, expected) in [
            ("ruff>=0.5", None),
            ("ruff == 1.2 ; python_version >= '3.9'", Some("1.2")),
            ("ruff===1.2", Some("1.2")),
            ("ruff[extra]==1.2,!=1.3", Some("1.2")),
        ] {
            assert_eq!(
                ToolSpec::new("ruff", requirement).pinned_version(),
                expected,
                "{requirement}"
            );
        }
    }

    /// The runner spawns installs as tasks: the futures must be `Send`.
    #[test]
    fn futures_are_send() {
        fn send<T: Send>(_: &T) {}
        let installer = Installer::new(InstallerOptions::default());
        let spec = ToolSpec::new("ruff", "ruff");
        let request = ProjectEnvRequest::default();
        let ensure = installer.ensure(&spec);
        send(&ensure);
        let project = project_env(&installer, std::path::Path::new("."), &request);
        send(&project);
    }

    #[test]
    fn names_normalize() {
        assert_eq!(normalize("Typing_Extensions"), "typing-extensions");
        assert_eq!(normalize("a.-_b"), "a-b");
    }
}
