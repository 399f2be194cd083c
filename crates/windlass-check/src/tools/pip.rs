//! Building a tool's environment with pip: resolve once (`install --dry-run
//! --ignore-installed --report`), keep what was chosen as `lock.json`, then
//! install exactly those files, each checked against the hash the index
//! gave (`--require-hashes --no-deps`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use windlass_process::Cmd;

use super::python::HostPython;
use super::{InstallError, Installer, ToolSpec};

/// The lock kept in each tool environment.
pub(crate) const LOCK_FILE: &str = "lock.json";
/// What the native installer installed (wheel, sha256, RECORD), beside
/// the lock.
pub(crate) const INSTALLED_FILE: &str = "installed.json";
/// How long one pip run may take.
const PIP_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The largest lock or report we read.
const MAX_JSON: u64 = 16 * windlass_fs::MIB;

/// What a tool environment was built from: the files pip chose, in the
/// order it would install them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolLock {
    /// Every requirement resolved (the tool's, then its extras).
    pub requirements: Vec<String>,
    /// `3.11`.
    pub python: String,
    /// `linux-x86_64`.
    pub platform: String,
    pub files: Vec<LockedFile>,
}

/// One distribution file of a [`ToolLock`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LockedFile {
    pub name: String,
    pub version: String,
    /// Where pip found it, without credentials.
    pub url: String,
    /// The sha256 the index gave (hex); `None`: installed unverified.
    pub sha256: Option<String>,
    /// Asked for by name (not only a dependency).
    pub requested: bool,
}

impl LockedFile {
    /// The file's name, the last segment of its URL.
    pub fn file_name(&self) -> &str {
        let path = self.url.split(['?', '#']).next().unwrap_or(&self.url);
        path.rsplit('/').next().unwrap_or(path)
    }
}

impl ToolLock {
    /// The files installed without a hash to check them against.
    pub fn unverified(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| f.sha256.is_none())
            .map(|f| f.file_name().to_owned())
            .collect()
    }
}

/// Reads the lock of the tool environment in `env_dir`.
pub(crate) fn read_lock(env_dir: &Path) -> Result<ToolLock, InstallError> {
    let path = env_dir.join(LOCK_FILE);
    let text = windlass_fs::read_to_string(&path, MAX_JSON).map_err(InstallError::Read)?;
    serde_json::from_str(&text).map_err(|e| InstallError::Project {
        path,
        why: format!("not a tool lock: {e}"),
    })
}

/// Builds the environment of `spec` in the empty `env_dir`.
pub(crate) async fn build_tool_env(
    installer: &Installer,
    host: &HostPython,
    spec: &ToolSpec,
    env_dir: &Path,
) -> Result<(), InstallError> {
    tracing::info!(tool = %spec.name, requirement = %spec.requirement, "installing");
    let env_python = host.make_venv(env_dir).await?;
    let pip = Pip {
        installer,
        host,
        env_python: &env_python,
        cwd: env_dir,
        what: &spec.name,
    };
    let mut requirements = vec![spec.requirement.clone()];
    requirements.extend(spec.extra.iter().cloned());
    let report_path = env_dir.join("pip-report.json");
    pip.run(
        &spec.requirement,
        &[
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
        ],
        |cmd| cmd.arg(&report_path).args(&requirements),
    )
    .await?;
    let report = windlass_fs::read_to_string(&report_path, MAX_JSON).map_err(InstallError::Read)?;
    let _ = std::fs::remove_file(&report_path);
    let files = files_of_report(&report).map_err(|why| InstallError::Report {
        tool: spec.name.clone(),
        requirement: spec.requirement.clone(),
        why,
    })?;
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
    install_locked(&pip, &spec.requirement, &lock.files).await
}

/// Installs `files` exactly. Wheels are fetched with `pip download
/// --require-hashes` (those with a hash) and unpacked by the native wheel
/// installer, which checks every member against the wheel's RECORD and is
/// several times faster than `pip install` (no byte-compilation: Python
/// writes the caches it needs on first use). A source distribution in the
/// lock, or a platform the native installer does not describe, installs
/// with `pip install --require-hashes --no-deps` instead.
pub(crate) async fn install_locked(
    pip: &Pip<'_>,
    requirement: &str,
    files: &[LockedFile],
) -> Result<(), InstallError> {
    let all_wheels = files
        .iter()
        .all(|f| f.file_name().to_ascii_lowercase().ends_with(".whl"));
    match pip.host.native_target(pip.env_python) {
        Some(target) if all_wheels => install_native(pip, requirement, files, target).await,
        _ => install_with_pip(pip, requirement, files).await,
    }
}

/// The `--hash` requirements file of the verified `files`.
fn hashed_requirements(pip: &Pip<'_>, files: &[&LockedFile]) -> Result<PathBuf, InstallError> {
    let mut text = String::new();
    for file in files {
        let sha = file.sha256.as_deref().unwrap_or_default();
        let _ = writeln!(text, "{} @ {} --hash=sha256:{sha}", file.name, file.url);
    }
    let path = pip.cwd.join("locked-requirements.txt");
    std::fs::write(&path, text).map_err(InstallError::io("write", &path))?;
    Ok(path)
}

fn warn_unverified(files: &[&LockedFile]) {
    for file in files {
        tracing::warn!(file = %file.file_name(), "the index gave no hash: installing unverified");
    }
}

async fn install_native(
    pip: &Pip<'_>,
    requirement: &str,
    files: &[LockedFile],
    target: windlass_image::python::PythonTarget,
) -> Result<(), InstallError> {
    let (verified, unverified): (Vec<&LockedFile>, Vec<&LockedFile>) =
        files.iter().partition(|f| f.sha256.is_some());
    let wheels_dir = pip.cwd.join(".wheels");
    if !verified.is_empty() {
        let path = hashed_requirements(pip, &verified)?;
        pip.run(
            requirement,
            &["download", "--require-hashes", "--no-deps", "--quiet", "-d"],
            |cmd| cmd.arg(&wheels_dir).arg("-r").arg(&path),
        )
        .await?;
    }
    if !unverified.is_empty() {
        warn_unverified(&unverified);
        pip.run(
            requirement,
            &["download", "--no-deps", "--quiet", "-d"],
            |cmd| {
                cmd.arg(&wheels_dir)
                    .args(unverified.iter().map(|f| format!("{} @ {}", f.name, f.url)))
            },
        )
        .await?;
    }
    let request = windlass_image::python::InstallRequest {
        wheels: files
            .iter()
            .map(|f| windlass_image::python::WheelToInstall {
                path: wheels_dir.join(f.file_name()),
                requested: f.requested,
            })
            .collect(),
    };
    let what = pip.what.to_owned();
    let report = tokio::task::spawn_blocking(move || {
        windlass_image::python::install(&request, &target, Path::new("/"))
    })
    .await
    .map_err(|e| InstallError::io("install into", pip.cwd)(std::io::Error::other(e)))?
    .map_err(|source| InstallError::Native {
        what: what.clone(),
        source: Box::new(source),
    })?;
    // The wheels installed are the files locked, byte for byte.
    for file in files {
        let installed = report.packages.iter().find(|p| p.wheel == file.file_name());
        match (installed, &file.sha256) {
            (Some(package), Some(sha)) if &package.wheel_sha256 != sha => {
                return Err(InstallError::HashMismatch {
                    what,
                    file: file.file_name().to_owned(),
                    expected: sha.clone(),
                    actual: package.wheel_sha256.clone(),
                });
            }
            (None, _) => {
                return Err(InstallError::Report {
                    tool: what,
                    requirement: requirement.to_owned(),
                    why: format!("{} was locked but not installed", file.file_name()),
                });
            }
            _ => {}
        }
    }
    let installed = pip.cwd.join(INSTALLED_FILE);
    let json = serde_json::to_vec_pretty(&report).map_err(|e| InstallError::Project {
        path: installed.clone(),
        why: e.to_string(),
    })?;
    std::fs::write(&installed, json).map_err(InstallError::io("write", &installed))?;
    let _ = std::fs::remove_dir_all(&wheels_dir);
    Ok(())
}

/// Installs `files` with pip: those with a hash in one `--require-hashes`
/// run, the others (unverified) in a second one.
async fn install_with_pip(
    pip: &Pip<'_>,
    requirement: &str,
    files: &[LockedFile],
) -> Result<(), InstallError> {
    let (verified, unverified): (Vec<&LockedFile>, Vec<&LockedFile>) =
        files.iter().partition(|f| f.sha256.is_some());
    if !verified.is_empty() {
        let path = hashed_requirements(pip, &verified)?;
        pip.run(
            requirement,
            &[
                "install",
                "--require-hashes",
                "--no-deps",
                "--ignore-installed",
                "--quiet",
                "-r",
            ],
            |cmd| cmd.arg(&path),
        )
        .await?;
    }
    if !unverified.is_empty() {
        warn_unverified(&unverified);
        pip.run(
            requirement,
            &["install", "--no-deps", "--ignore-installed", "--quiet"],
            |cmd| cmd.args(unverified.iter().map(|f| format!("{} @ {}", f.name, f.url))),
        )
        .await?;
    }
    Ok(())
}

/// pip acting on one environment.
pub(crate) struct Pip<'a> {
    pub installer: &'a Installer,
    pub host: &'a HostPython,
    pub env_python: &'a Path,
    pub cwd: &'a Path,
    /// What is being installed, for errors.
    pub what: &'a str,
}

impl Pip<'_> {
    /// Runs pip with `args`, then what `more` adds; a failure is an error
    /// naming `requirement` with pip's last lines.
    pub(crate) async fn run(
        &self,
        requirement: &str,
        args: &[&str],
        more: impl FnOnce(Cmd) -> Cmd,
    ) -> Result<(), InstallError> {
        let mut cmd = self.host.pip(self.env_python, self.cwd).args(args);
        cmd = self.installer.with_index(more(cmd), "PIP_INDEX_URL");
        super::python::run_installer("pip", cmd, PIP_TIMEOUT, self.what, requirement).await
    }
}

/// The files of pip's installation report (format version 1).
pub(crate) fn files_of_report(report: &str) -> Result<Vec<LockedFile>, String> {
    #[derive(Deserialize)]
    struct Report {
        install: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        download_info: DownloadInfo,
        metadata: Metadata,
        #[serde(default)]
        requested: bool,
    }
    #[derive(Deserialize)]
    struct DownloadInfo {
        url: String,
        #[serde(default)]
        archive_info: Option<ArchiveInfo>,
        #[serde(default)]
        dir_info: Option<serde_json::Value>,
        #[serde(default)]
        vcs_info: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct ArchiveInfo {
        #[serde(default)]
        hash: Option<String>,
        #[serde(default)]
        hashes: Option<std::collections::BTreeMap<String, String>>,
    }
    #[derive(Deserialize)]
    struct Metadata {
        name: String,
        version: String,
    }
    let report: Report = serde_json::from_str(report).map_err(|e| e.to_string())?;
    report
        .install
        .into_iter()
        .map(|item| {
            let info = item.download_info;
            if info.dir_info.is_some() || info.vcs_info.is_some() {
                return Err(format!(
                    "`{}` comes from a directory or a version control system, which cannot be locked by hash",
                    item.metadata.name
                ));
            }
            let sha256 = info.archive_info.and_then(|a| {
                a.hashes
                    .and_then(|h| h.get("sha256").cloned())
                    .or_else(|| a.hash.and_then(|h| h.strip_prefix("sha256=").map(str::to_owned)))
            });
            Ok(LockedFile {
                name: item.metadata.name,
                version: item.metadata.version,
                url: without_userinfo(&info.url),
                sha256,
                requested: item.requested,
            })
        })
        .collect()
}

/// `url` without `user:password@` (pip finds the credentials of the index
/// again when it fetches the file).
pub(crate) fn without_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() || !parsed.username().is_empty() => {
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("");
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_files() {
        let report = r#"{"version": "1", "install": [
            {"download_info": {"url": "https://u:p@files.example/ruff-0.17.6-py3-none-any.whl",
              "archive_info": {"hash": "sha256=aa", "hashes": {"sha256": "aa"}}},
             "metadata": {"name": "ruff", "version": "0.17.6"}, "requested": true},
            {"download_info": {"url": "file:///wheels/dep-1.0-py3-none-any.whl", "archive_info": {}},
             "metadata": {"name": "dep", "version": "1.0"}}
        ]}"#;
        let files = files_of_report(report).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0].url,
            "https://files.example/ruff-0.17.6-py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("aa"));
        assert!(files[0].requested);
        assert_eq!(files[1].sha256, None);
        assert_eq!(files[1].file_name(), "dep-1.0-py3-none-any.whl");
        let lock = ToolLock {
            requirements: vec![],
            python: "3.11".into(),
            platform: "linux-x86_64".into(),
            files,
        };
        assert_eq!(lock.unverified(), vec!["dep-1.0-py3-none-any.whl"]);
    }

    #[test]
    fn report_refuses_directories() {
        let report = r#"{"install": [{"download_info": {"url": "file:///src", "dir_info": {}},
            "metadata": {"name": "x", "version": "1"}}]}"#;
        assert!(files_of_report(report).unwrap_err().contains("`x`"));
    }
}
