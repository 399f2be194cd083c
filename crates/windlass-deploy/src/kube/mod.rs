//! The Kubernetes API through kube-rs: connecting as kubectl would (a
//! kubeconfig file and context), the per-environment [`lease`], the
//! [`ledger`] stored next to Helm's own release records, and rollout status.
//!
//! Why kube-rs and not `kubectl`: see ARCHITECTURE.md ("deploy").

pub mod lease;
pub mod ledger;
pub mod rollout;

use std::path::PathBuf;

/// Where an environment lives: kubectl's rules.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

/// A connection to one cluster and namespace.
#[derive(Clone)]
pub struct Cluster {
    client: ::kube::Client,
    namespace: String,
    context: String,
    server: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.namespace)
            .field("context", &self.context)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// A Kubernetes API failure.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cannot read the kubeconfig: {message}")]
    Config { message: String },
    #[error("the Kubernetes API at {server} failed: {message}")]
    Api { server: String, message: String },
}

impl windlass_diagnostic::Diagnostic for KubeError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        match self {
            Self::Config { .. } => windlass_diagnostic::ExitStatus::Usage,
            Self::Api { .. } => windlass_diagnostic::ExitStatus::Remote,
        }
    }
}

impl Cluster {
    /// Connects as kubectl would.
    pub async fn connect(
        target: &Target,
        env: &windlass_config::Environment,
    ) -> Result<Self, KubeError> {
        let _ = env;
        let options = ::kube::config::KubeConfigOptions {
            context: target.context.clone(),
            ..Default::default()
        };
        let kubeconfig = match &target.kubeconfig {
            Some(path) => ::kube::config::Kubeconfig::read_from(path),
            None => ::kube::config::Kubeconfig::read(),
        }
        .map_err(|e| KubeError::Config {
            message: e.to_string(),
        })?;
        let context = options
            .context
            .clone()
            .or_else(|| kubeconfig.current_context.clone())
            .unwrap_or_default();
        let config = ::kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| KubeError::Config {
                message: e.to_string(),
            })?;
        let namespace = target
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string();
        let client = ::kube::Client::try_from(config).map_err(|e| KubeError::Config {
            message: e.to_string(),
        })?;
        Ok(Self {
            client,
            namespace,
            context,
            server,
        })
    }

    pub fn client(&self) -> &::kube::Client {
        &self.client
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn context(&self) -> &str {
        &self.context
    }

    pub fn server(&self) -> &str {
        &self.server
    }
}
