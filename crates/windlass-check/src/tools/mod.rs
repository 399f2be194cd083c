//! The tools a check runs, installed at pinned versions into a shared cache
//! (a simple stand-in until the verified installer lands).

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use windlass_process::Cmd;

/// A Python tool to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSpec {
    pub name: String,
    pub requirement: String,
    pub extra: Vec<String>,
    pub bin: String,
}

/// The built-in versions.
pub fn pinned(name: &str) -> Option<ToolSpec> {
    let version = match name {
        "ruff" => "0.17.6",
        "mypy" => "2.4.1",
        "pytest" => "9.2.0",
        _ => return None,
    };
    Some(ToolSpec {
        name: name.to_owned(),
        requirement: format!("{name}=={version}"),
        extra: Vec::new(),
        bin: name.to_owned(),
    })
}

#[derive(Debug, Clone, Default)]
pub struct InstallerOptions {
    pub cache_dir: PathBuf,
    pub python: Option<PathBuf>,
    pub index_url: Option<url::Url>,
}

#[derive(Debug, Clone)]
pub struct Installer {
    options: InstallerOptions,
}

#[derive(Debug, Clone)]
pub struct InstalledTool {
    pub bin: PathBuf,
    pub version: String,
    pub env_dir: PathBuf,
    pub fresh: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot install `{requirement}`: {message}")]
pub struct InstallError {
    pub requirement: String,
    pub message: String,
}

impl windlass_diagnostic::Diagnostic for InstallError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        windlass_diagnostic::ExitStatus::Remote
    }
}

#[derive(Debug, Clone)]
pub struct ProjectEnvRequest {
    pub extras: Vec<String>,
    pub pytest: ToolSpec,
}

#[derive(Debug, Clone)]
pub struct ProjectEnv {
    pub python: PathBuf,
    pub bin_dir: PathBuf,
    pub key: String,
}

impl Installer {
    pub fn new(options: InstallerOptions) -> Self {
        Self { options }
    }

    pub async fn ensure(&self, spec: &ToolSpec) -> Result<InstalledTool, InstallError> {
        let version = spec
            .requirement
            .split_once("==")
            .map_or("latest", |(_, v)| v)
            .to_owned();
        let mut requirements = vec![spec.requirement.clone()];
        requirements.extend(spec.extra.iter().cloned());
        let env_dir = self.options.cache_dir.join("check/tools").join(format!(
            "{}-{version}-{}",
            spec.name,
            short_hash(&requirements.join("\n"))
        ));
        let fresh = self
            .make_env(&env_dir, &requirements, &spec.requirement)
            .await?;
        Ok(InstalledTool {
            bin: env_dir.join("bin").join(&spec.bin),
            version,
            env_dir,
            fresh,
        })
    }

    async fn make_env(
        &self,
        env_dir: &Path,
        requirements: &[String],
        shown: &str,
    ) -> Result<bool, InstallError> {
        let marker = env_dir.join(".windlass-complete");
        if marker.exists() {
            return Ok(false);
        }
        let fail = |message: String| InstallError {
            requirement: shown.to_owned(),
            message,
        };
        let _ = std::fs::remove_dir_all(env_dir);
        std::fs::create_dir_all(env_dir).map_err(|e| fail(e.to_string()))?;
        let python = self
            .options
            .python
            .clone()
            .unwrap_or_else(|| PathBuf::from("python3"));
        Cmd::new(&python, env_dir)
            .args(["-m", "venv"])
            .arg(env_dir)
            .capture_output()
            .run_checked()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let mut pip = Cmd::new(env_dir.join("bin/python"), env_dir)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(requirements)
            .capture_output();
        if let Some(url) = &self.options.index_url {
            pip = pip.env("PIP_INDEX_URL", url.as_str());
        }
        pip.run_checked().await.map_err(|e| fail(e.to_string()))?;
        std::fs::write(&marker, b"").map_err(|e| fail(e.to_string()))?;
        Ok(true)
    }
}

/// The project's own environment for pytest.
pub async fn project_env(
    installer: &Installer,
    project_dir: &Path,
    request: &ProjectEnvRequest,
) -> Result<ProjectEnv, InstallError> {
    let pyproject = std::fs::read(project_dir.join("pyproject.toml")).unwrap_or_default();
    let key = short_hash(&format!(
        "{}\n{}\n{}\n{}",
        project_dir.display(),
        hex::encode(Sha256::digest(&pyproject)),
        request.extras.join(","),
        request.pytest.requirement
    ));
    let env_dir = installer.options.cache_dir.join("check/envs").join(&key);
    let target = if request.extras.is_empty() {
        project_dir.display().to_string()
    } else {
        format!("{}[{}]", project_dir.display(), request.extras.join(","))
    };
    let requirements = vec!["-e".to_owned(), target, request.pytest.requirement.clone()];
    installer
        .make_env(&env_dir, &requirements, &request.pytest.requirement)
        .await?;
    Ok(ProjectEnv {
        python: env_dir.join("bin/python"),
        bin_dir: env_dir.join("bin"),
        key,
    })
}

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}
