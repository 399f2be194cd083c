//! The host Python that builds environments: what it is (asked once, for
//! the cache keys) and the virtual environments it makes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use windlass_image::python::{Libc, PythonTarget, Scheme, platform_tags};
use windlass_process::{Cmd, Sink};

use super::InstallError;

/// How long asking the interpreter about itself or making a venv may take.
const SHORT_TIMEOUT: Duration = Duration::from_secs(120);

/// What the interpreter says about itself.
const PROBE: &str = r#"import json, platform, sys, sysconfig
try:
    import pip
    pip_version = pip.__version__
except Exception:
    pip_version = None
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d" % sys.version_info[:2],
    "full_version": platform.python_version(),
    "implementation": sys.implementation.name,
    "platform": sysconfig.get_platform(),
    "libc": "-".join(platform.libc_ver()),
    "pip": pip_version,
}))
"#;

/// What [`PROBE`] prints.
#[derive(Deserialize)]
struct Probe {
    executable: PathBuf,
    version: String,
    full_version: String,
    implementation: String,
    platform: String,
    libc: String,
    pip: Option<String>,
}

/// The Python environments are built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPython {
    /// What the environments' `python` names (as the user gave it).
    pub program: PathBuf,
    /// `sys.executable`.
    pub executable: PathBuf,
    /// `3.11`.
    pub version: String,
    /// `3.11.7`.
    pub full_version: String,
    /// `cpython`.
    pub implementation: String,
    /// `linux-x86_64`.
    pub platform: String,
    /// `glibc-2.36`.
    pub libc: String,
    /// The version of the pip it can run, if any.
    pub pip: Option<String>,
}

impl HostPython {
    /// Asks `program` what it is.
    pub async fn probe(program: PathBuf) -> Result<Self, InstallError> {
        let python = program.to_string_lossy().into_owned();
        let outcome = Cmd::new(&program, std::env::temp_dir())
            .args(["-I", "-c", PROBE])
            .timeout(SHORT_TIMEOUT)
            .stdout(Sink::Capture)
            .stderr(Sink::Capture)
            .run()
            .await
            .map_err(|source| InstallError::Python {
                python: python.clone(),
                source,
            })?;
        let probe_failed = |output: String| InstallError::PythonProbe {
            python: python.clone(),
            code: outcome.exit_code(),
            output,
        };
        if !outcome.success() {
            return Err(probe_failed(stderr_tail(&outcome)));
        }
        let probe: Probe = serde_json::from_slice(outcome.stdout().unwrap_or_default())
            .map_err(|e| probe_failed(e.to_string()))?;
        Ok(Self {
            program,
            executable: probe.executable,
            version: probe.version,
            full_version: probe.full_version,
            implementation: probe.implementation,
            platform: probe.platform,
            libc: probe.libc,
            pip: probe.pip,
        })
    }

    /// What makes an environment built by this Python differ from one
    /// built by another, for cache keys.
    pub(crate) fn identity(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.implementation,
            self.version,
            self.platform,
            self.libc,
            self.executable.display()
        )
    }

    /// Whether its pip can install into another interpreter (`--python`,
    /// pip 22.3), so that environments need no pip of their own.
    pub(crate) fn pip_targets_others(&self) -> bool {
        let Some(version) = &self.pip else {
            return false;
        };
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let major = parts.next().unwrap_or(0);
        let minor = parts.next().unwrap_or(0);
        (major, minor) >= (22, 3)
    }

    /// What the native wheel installer needs to install into the virtual
    /// environment whose interpreter is `env_python`: CPython on glibc
    /// Linux; `None` elsewhere (pip installs there).
    pub(crate) fn native_target(&self, env_python: &Path) -> Option<PythonTarget> {
        if self.implementation != "cpython" {
            return None;
        }
        let arch = self.platform.strip_prefix("linux-")?;
        let (major, minor) = self.libc.strip_prefix("glibc-")?.split_once('.')?;
        let libc = Libc::Glibc {
            major: major.parse().ok()?,
            minor: minor.split('.').next()?.parse().ok()?,
        };
        let (py_major, py_minor) = self.version.split_once('.')?;
        let version: (u32, u32) = (py_major.parse().ok()?, py_minor.parse().ok()?);
        let env_dir = env_python
            .parent()?
            .parent()?
            .to_string_lossy()
            .into_owned();
        let site = format!("{env_dir}/lib/python{}/site-packages", self.version);
        Some(PythonTarget {
            interpreter: env_python.to_string_lossy().into_owned(),
            version,
            implementation: "cp".to_owned(),
            abi: format!("cp{}{}", version.0, version.1),
            arch: arch.to_owned(),
            libc,
            platforms: platform_tags(libc, arch),
            scheme: Scheme {
                purelib: site.clone(),
                platlib: site,
                scripts: format!("{env_dir}/bin"),
                data: env_dir.clone(),
                headers: format!("{env_dir}/include/site/python{}", self.version),
            },
        })
    }

    /// Makes a virtual environment in `env_dir`, without pip when ours can
    /// install into it. Returns the environment's interpreter.
    pub(crate) async fn make_venv(&self, env_dir: &Path) -> Result<PathBuf, InstallError> {
        let parent = env_dir.parent().unwrap_or(env_dir);
        std::fs::create_dir_all(parent).map_err(InstallError::io("make", parent))?;
        let python = self.program.to_string_lossy().into_owned();
        let mut cmd = Cmd::new(&self.program, parent).args(["-I", "-m", "venv"]);
        if self.pip_targets_others() {
            cmd = cmd.arg("--without-pip");
        }
        let outcome = cmd
            .arg(env_dir)
            .timeout(SHORT_TIMEOUT)
            .stdout(Sink::Capture)
            .stderr(Sink::Capture)
            .run()
            .await
            .map_err(|source| InstallError::Python {
                python: python.clone(),
                source,
            })?;
        if !outcome.success() {
            return Err(InstallError::Venv {
                python,
                env_dir: env_dir.to_owned(),
                code: outcome.exit_code(),
                output: stderr_tail(&outcome),
            });
        }
        Ok(env_dir.join("bin").join("python"))
    }

    /// `pip` acting on the environment whose interpreter is `env_python`:
    /// ours with `--python` when it can, else the environment's own.
    pub(crate) fn pip(&self, env_python: &Path, cwd: &Path) -> Cmd {
        let cmd = if self.pip_targets_others() {
            Cmd::new(&self.program, cwd)
                .args(["-m", "pip", "--python"])
                .arg(env_python)
        } else {
            Cmd::new(env_python, cwd).args(["-m", "pip"])
        };
        cmd.env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1")
            .env("PIP_NO_WARN_SCRIPT_LOCATION", "1")
            .env("PYTHONIOENCODING", "utf-8")
            .env_remove("PIP_USER")
            .env_remove("PIP_REQUIRE_VIRTUALENV")
            .env_remove("PYTHONPATH")
    }
}

/// The last lines of a child's captured stderr (redacted already by
/// `windlass-process`, redacted again with the process-wide redactor).
/// Runs an installer's command with its output captured: an error naming
/// `what` and `requirement`, with the installer's last lines (redacted),
/// when it fails.
pub(crate) async fn run_installer(
    installer: &'static str,
    cmd: windlass_process::Cmd,
    timeout: std::time::Duration,
    what: &str,
    requirement: &str,
) -> Result<(), super::InstallError> {
    let outcome = cmd
        .timeout(timeout)
        .stdout(windlass_process::Sink::Capture)
        .stderr(windlass_process::Sink::Capture)
        .run()
        .await
        .map_err(|source| super::InstallError::InstallerRun {
            installer,
            what: what.to_owned(),
            source,
        })?;
    if outcome.success() {
        return Ok(());
    }
    Err(super::InstallError::Pip {
        installer,
        what: what.to_owned(),
        requirement: requirement.to_owned(),
        code: outcome.exit_code(),
        output: stderr_tail(&outcome),
    })
}

pub(crate) fn stderr_tail(outcome: &windlass_process::Outcome) -> String {
    let text = String::from_utf8_lossy(outcome.stderr().unwrap_or_default());
    tail(&windlass_redact::global().redact(&text), 20)
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
