//! The real `helm` binary, run through `windlass-process`.

#![allow(
    clippy::unused_async,
    reason = "async like the implementation it stands in for"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A Helm failure.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("helm failed for release `{release}` in namespace `{namespace}`: {message}")]
    Failed {
        release: String,
        namespace: String,
        message: String,
    },
    #[error("helm is not installed")]
    NotFound,
}

impl windlass_diagnostic::Diagnostic for HelmError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        match self {
            Self::Failed { .. } => windlass_diagnostic::ExitStatus::Remote,
            Self::NotFound => windlass_diagnostic::ExitStatus::Usage,
        }
    }
}

/// `helm` on `PATH` or `WINDLASS_HELM`.
pub fn locate(env: &windlass_config::Environment) -> Result<PathBuf, HelmError> {
    env.get_str("WINDLASS_HELM")
        .map(PathBuf::from)
        .ok_or(HelmError::NotFound)
}

/// One release revision as `helm history` shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Revision {
    pub revision: u32,
    pub status: String,
    pub chart: String,
    pub app_version: String,
    pub updated: String,
    pub description: String,
}

/// `helm upgrade --install`.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    pub release: String,
    pub archive: PathBuf,
    pub values: Vec<serde_json::Value>,
    pub wait: bool,
    pub timeout: Duration,
    pub rollback_on_failure: bool,
    pub description: String,
    pub labels: BTreeMap<String, String>,
}

/// The `helm` binary for one kubeconfig, context and namespace.
#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
    namespace: Option<String>,
}

impl Helm {
    pub fn new(
        binary: PathBuf,
        kubeconfig: Option<&Path>,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Self {
        let _ = (kubeconfig, context);
        Self {
            binary,
            namespace: namespace.map(str::to_owned),
        }
    }

    fn failed(&self, release: &str) -> HelmError {
        HelmError::Failed {
            release: release.to_owned(),
            namespace: self.namespace.clone().unwrap_or_default(),
            message: format!("{} is not wired yet", self.binary.display()),
        }
    }

    pub async fn upgrade_install(&self, request: &UpgradeRequest) -> Result<Revision, HelmError> {
        Err(self.failed(&request.release))
    }

    pub async fn history(&self, release: &str) -> Result<Vec<Revision>, HelmError> {
        Err(self.failed(release))
    }

    pub async fn rollback(
        &self,
        release: &str,
        revision: u32,
        wait: bool,
        timeout: Duration,
    ) -> Result<(), HelmError> {
        let _ = (revision, wait, timeout);
        Err(self.failed(release))
    }

    pub async fn status(&self, release: &str) -> Result<Option<Revision>, HelmError> {
        Err(self.failed(release))
    }

    pub async fn get_values(
        &self,
        release: &str,
        revision: u32,
    ) -> Result<serde_json::Value, HelmError> {
        let _ = revision;
        Err(self.failed(release))
    }
}

pub mod chart {
    //! Resolving `[deploy] chart` to an archive.

    use std::path::{Path, PathBuf};

    use crate::bundle::ChartRef;
    use crate::config::DeploySection;

    /// A chart ready to install.
    #[derive(Debug, Clone)]
    pub struct ResolvedChart {
        pub chart: ChartRef,
        pub archive: PathBuf,
    }

    pub async fn resolve(
        deploy: &DeploySection,
        project_dir: &Path,
        cache_dir: &Path,
    ) -> Result<ResolvedChart, super::HelmError> {
        let _ = (deploy, project_dir, cache_dir);
        Err(super::HelmError::NotFound)
    }
}
