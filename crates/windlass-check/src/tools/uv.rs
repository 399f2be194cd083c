//! Building environments with uv, when it is there: the same environments
//! as with pip, several times faster to make from a cold cache.
//!
//! A tool's environment: `uv venv`, then `uv pip compile` resolves the
//! requirements (given on stdin) into a `pylock.toml`; of each package the
//! one wheel that fits the host is chosen (as the image builder chooses
//! from a lock) and kept in `lock.json` with its sha256, then exactly those
//! files are installed with `uv pip install --require-hashes --no-deps`,
//! which checks each one against its hash. The index reaches uv through
//! `UV_DEFAULT_INDEX` in its environment only; uv trusts the system's
//! certificate store.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use windlass_process::{Cmd, Sink};

use super::pip::{LOCK_FILE, LockedFile, ToolLock};
use super::python::{HostPython, stderr_tail, tail};
use super::{InstallError, Installer, ToolSpec, normalize};

/// The oldest uv whose commands and options this module uses
/// (`UV_DEFAULT_INDEX`, `--format pylock.toml`).
pub const MIN_UV: (u32, u32) = (0, 8);
/// How long one uv run may take.
const UV_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long `uv --version` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The resolution uv writes in a tool's environment (uv wants this name).
const PYLOCK_FILE: &str = "pylock.toml";

/// A uv that can build environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uv {
    /// What runs it (`uv`, looked up on `PATH`, or a path).
    pub program: PathBuf,
    /// `0.13.8`.
    pub version: String,
}

/// Why a uv cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// It does not run (not found, or it failed).
    Missing(String),
    /// Older than [`MIN_UV`].
    TooOld(String),
}

impl Uv {
    /// Asks `program` its version.
    pub(crate) async fn probe(program: &Path) -> Result<Self, Unusable> {
        let outcome = Cmd::new(program, std::env::temp_dir())
            .arg("--version")
            .timeout(PROBE_TIMEOUT)
            .stdout(Sink::Capture)
            .stderr(Sink::Capture)
            .run()
            .await
            .map_err(|e| Unusable::Missing(e.to_string()))?;
        if !outcome.success() {
            return Err(Unusable::Missing(format!(
                "`{} --version` failed (exit {}): {}",
                program.display(),
                outcome.exit_code(),
                stderr_tail(&outcome)
            )));
        }
        let text = String::from_utf8_lossy(outcome.stdout().unwrap_or_default()).into_owned();
        let version = parse_version(&text)
            .ok_or_else(|| Unusable::Missing(format!("`uv --version` said `{}`", text.trim())))?;
        if version_tuple(&version) < MIN_UV {
            return Err(Unusable::TooOld(version));
        }
        Ok(Self {
            program: program.to_owned(),
            version,
        })
    }

    /// `uv ARGS` in `cwd`, with the index (if any) in its environment.
    fn cmd(&self, installer: &Installer, cwd: &Path) -> Cmd {
        let cmd = Cmd::new(&self.program, cwd)
            .env("UV_NO_PROGRESS", "1")
            .env("UV_PYTHON_DOWNLOADS", "never")
            // The system's certificate store, as pip (truststore) and the
            // rest of Windlass trust it, not only uv's bundled roots: an
            // index behind a company's CA works as it does with pip.
            // `UV_NATIVE_TLS` is the name older uv releases read.
            .env("UV_SYSTEM_CERTS", "1")
            .env("UV_NATIVE_TLS", "1")
            .env("PYTHONIOENCODING", "utf-8")
            .env_remove("VIRTUAL_ENV")
            .env_remove("PYTHONPATH");
        installer.with_index(cmd, "UV_DEFAULT_INDEX")
    }
}

/// uv acting on one environment.
pub(crate) struct UvRun<'a> {
    pub uv: &'a Uv,
    pub installer: &'a Installer,
    pub env_python: &'a Path,
    pub cwd: &'a Path,
    /// What is being installed, for errors.
    pub what: &'a str,
}

impl UvRun<'_> {
    /// Runs `uv ARGS` (then what `more` adds) with `stdin`; a failure is an
    /// error naming `requirement` with uv's last lines.
    pub(crate) async fn run(
        &self,
        requirement: &str,
        args: &[&str],
        stdin: Option<String>,
        more: impl FnOnce(Cmd) -> Cmd,
    ) -> Result<(), InstallError> {
        let mut cmd = more(self.uv.cmd(self.installer, self.cwd).args(args));
        if let Some(input) = stdin {
            cmd = cmd.stdin(input);
        }
        super::python::run_installer("uv", cmd, UV_TIMEOUT, self.what, requirement).await
    }

    /// `uv pip install --python ENV ARGS`.
    pub(crate) async fn install(
        &self,
        requirement: &str,
        args: &[&str],
        more: impl FnOnce(Cmd) -> Cmd,
    ) -> Result<(), InstallError> {
        let env_python = self.env_python.to_owned();
        self.run(
            requirement,
            &["pip", "install", "--quiet", "--python"],
            None,
            |cmd| more(cmd.arg(env_python).args(args)),
        )
        .await
    }
}

/// Makes a virtual environment in `env_dir` with uv; returns its
/// interpreter.
pub(crate) async fn make_venv(
    uv: &Uv,
    installer: &Installer,
    host: &HostPython,
    env_dir: &Path,
) -> Result<PathBuf, InstallError> {
    let parent = env_dir.parent().unwrap_or(env_dir);
    std::fs::create_dir_all(parent).map_err(InstallError::io("make", parent))?;
    let outcome = uv
        .cmd(installer, parent)
        .args(["venv", "--quiet", "--no-project", "--python"])
        .arg(&host.executable)
        .arg(env_dir)
        .timeout(UV_TIMEOUT)
        .stdout(Sink::Capture)
        .stderr(Sink::Capture)
        .run()
        .await
        .map_err(|source| InstallError::InstallerRun {
            installer: "uv",
            what: env_dir.display().to_string(),
            source,
        })?;
    if !outcome.success() {
        return Err(InstallError::Venv {
            python: format!("{} venv", uv.program.display()),
            env_dir: env_dir.to_owned(),
            code: outcome.exit_code(),
            output: stderr_tail(&outcome),
        });
    }
    Ok(env_dir.join("bin").join("python"))
}

/// What [`build_tool_env`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Built {
    Done,
    /// A package of the resolution has no wheel for the host (a source
    /// distribution only): pip builds this environment instead.
    NeedsPip,
}

/// Builds the environment of `spec` in the empty `env_dir` with uv.
pub(crate) async fn build_tool_env(
    uv: &Uv,
    installer: &Installer,
    host: &HostPython,
    spec: &ToolSpec,
    env_dir: &Path,
) -> Result<Built, InstallError> {
    tracing::info!(tool = %spec.name, requirement = %spec.requirement, uv = %uv.version, "installing with uv");
    let env_python = make_venv(uv, installer, host, env_dir).await?;
    let Some(target) = host.native_target(&env_python) else {
        return Err(InstallError::Report {
            tool: spec.name.clone(),
            requirement: spec.requirement.clone(),
            why: "this platform has no wheel tags Windlass knows".to_owned(),
        });
    };
    let run = UvRun {
        uv,
        installer,
        env_python: &env_python,
        cwd: env_dir,
        what: &spec.name,
    };
    let mut requirements = vec![spec.requirement.clone()];
    requirements.extend(spec.extra.iter().cloned());
    let pylock = env_dir.join(PYLOCK_FILE);
    run.run(
        &spec.requirement,
        &[
            "pip",
            "compile",
            "-",
            "--quiet",
            "--format",
            "pylock.toml",
            "--no-header",
            "--python",
        ],
        Some(requirements.join("\n") + "\n"),
        |cmd| cmd.arg(&env_python).arg("-o").arg(&pylock),
    )
    .await?;
    let wheels = match windlass_image::python::read_lock(&pylock, &target) {
        Ok(wheels) => wheels,
        Err(windlass_image::python::PythonError::NoWheel { requirement, .. }) => {
            tracing::info!(tool = %spec.name, %requirement, "no wheel for this host: installing with pip");
            return Ok(Built::NeedsPip);
        }
        Err(source) => {
            return Err(InstallError::Native {
                what: spec.name.clone(),
                source: Box::new(source),
            });
        }
    };
    let requested: Vec<String> = requirements
        .iter()
        .map(|r| super::project::requirement_name(r))
        .collect();
    let files: Vec<LockedFile> = wheels
        .into_iter()
        .map(|wheel| {
            let url = match wheel.source {
                windlass_image::python::LockedSource::Url(url) => url,
                windlass_image::python::LockedSource::Path(path) => url::Url::from_file_path(&path)
                    .map_or_else(|()| path.display().to_string(), |u| u.to_string()),
            };
            LockedFile {
                requested: requested.contains(&normalize(&wheel.name)),
                name: wheel.name,
                version: wheel.version,
                url: super::pip::without_userinfo(&url),
                sha256: Some(wheel.sha256),
            }
        })
        .collect();
    let lock = ToolLock {
        requirements,
        python: host.version.clone(),
        platform: host.platform.clone(),
        files,
    };
    let lock_path = env_dir.join(LOCK_FILE);
    let json = serde_json::to_vec_pretty(&lock).map_err(|e| InstallError::Project {
        path: lock_path.clone(),
        why: e.to_string(),
    })?;
    std::fs::write(&lock_path, json).map_err(InstallError::io("write", &lock_path))?;
    let mut text = String::new();
    for file in &lock.files {
        let sha = file.sha256.as_deref().unwrap_or_default();
        let _ = writeln!(text, "{} @ {} --hash=sha256:{sha}", file.name, file.url);
    }
    run.install(
        &spec.requirement,
        &["--require-hashes", "--no-deps", "-r", "-"],
        |cmd| cmd.stdin(text),
    )
    .await?;
    Ok(Built::Done)
}

/// `0.13.8` out of `uv 0.13.8 (x86_64-unknown-linux-gnu)`.
fn parse_version(text: &str) -> Option<String> {
    let line = tail(text, 1);
    let version = line.trim().strip_prefix("uv ")?.split_whitespace().next()?;
    version
        .split('.')
        .next()?
        .parse::<u32>()
        .ok()
        .map(|_| version.to_owned())
}

fn version_tuple(version: &str) -> (u32, u32) {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for (text, expected) in [
            ("uv 0.13.8 (x86_64-unknown-linux-gnu)\n", Some("0.13.8")),
            ("uv 0.5.0\n", Some("0.5.0")),
            ("warning: x\nuv 1.2.3 (abc 2026-01-01)\n", Some("1.2.3")),
            ("pip 23.2\n", None),
            ("", None),
        ] {
            assert_eq!(parse_version(text).as_deref(), expected, "{text}");
        }
        assert!(version_tuple("0.7.22") < MIN_UV);
        assert!(version_tuple("0.13.8") >= MIN_UV);
        assert!(version_tuple("1.0.0") >= MIN_UV);
    }
}
