//! The Kubernetes API through kube-rs: connecting as kubectl would (a
//! kubeconfig file and context), the per-environment [`lease`], the
//! [`ledger`] stored next to Helm's release records, and [`rollout`] status.
//!
//! Why kube-rs and not `kubectl`: see ARCHITECTURE.md ("deploy").
//!
//! The kubeconfig's credentials (a bearer token, a password, a client key)
//! are registered with the process redactor when the kubeconfig is loaded,
//! and neither kube-rs's `Config` nor its `Client` is ever formatted or
//! logged: what this module shows of a cluster is its context, its server
//! URL without user info, and its namespace.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use secrecy::ExposeSecret;
use windlass_diagnostic::{Diagnostic, ExitStatus};

pub mod lease;
pub mod ledger;
pub mod releases;
pub mod rollout;
mod transport;

/// How long connecting to the API server may take before it counts as
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one API request may wait for its answer.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Which cluster, context and namespace an environment deploys to: the
/// `kubeconfig`, `context` and `namespace` of `[deploy.environments.NAME]`
/// (or the command line). `None` means what kubectl would use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// One kubeconfig file (as `kubectl --kubeconfig`); default: the files
    /// of `KUBECONFIG` (merged), else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; default: its `current-context`.
    pub context: Option<String>,
    /// Default: the context's namespace, else `default`.
    pub namespace: Option<String>,
}

/// A connection to one cluster, as one context of a kubeconfig names it.
/// [`Cluster::connect`] checks that it answers; [`Cluster::open`] leaves
/// the check running for [`Cluster::reachable`].
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    namespace: String,
    context: String,
    server: String,
    kubeconfig: Vec<PathBuf>,
    /// The server's answer to the version request made when opening;
    /// `None` until it came.
    answer: tokio::sync::watch::Receiver<Option<Result<String, Unanswered>>>,
    server_version: Arc<OnceLock<String>>,
}

/// Why the version request made when opening failed: refused by the API
/// (a status code), or no answer at all.
#[derive(Debug, Clone)]
enum Unanswered {
    Refused(ApiFailure),
    Unreachable(ApiFailure),
}

/// The client is left out: kube-rs's types are never formatted here.
impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

/// Why talking to the cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No kubeconfig file to read.
    #[error("no kubeconfig found (looked at {})", show_paths(looked_at))]
    NoKubeconfig { looked_at: Vec<PathBuf> },
    /// A kubeconfig file that cannot be read or parsed. The reason never
    /// quotes the file: the parser's own message shows the offending line,
    /// which may hold a token.
    #[error("cannot read the kubeconfig {}: {reason}", path.display())]
    ReadKubeconfig { path: PathBuf, reason: String },
    /// The context asked for is not in the kubeconfig.
    #[error(
        "context `{context}` is not in the kubeconfig {}",
        show_paths(kubeconfig)
    )]
    NoSuchContext {
        context: String,
        kubeconfig: Vec<PathBuf>,
        available: Vec<String>,
    },
    /// No context asked for and no `current-context`.
    #[error("the kubeconfig {} sets no current-context", show_paths(kubeconfig))]
    NoCurrentContext {
        kubeconfig: Vec<PathBuf>,
        available: Vec<String>,
    },
    /// The context's cluster or user cannot be turned into a client
    /// configuration (a missing server URL, an unreadable CA file, ...).
    #[error(
        "context `{context}` of the kubeconfig {} is not usable",
        show_paths(kubeconfig)
    )]
    BadContext {
        context: String,
        kubeconfig: Vec<PathBuf>,
        #[source]
        source: KubeconfigError,
    },
    /// kube-rs could not build a client for it (TLS setup, proxy).
    #[error("cannot set up a client for context `{context}` ({server})")]
    Client {
        context: String,
        server: String,
        #[source]
        source: kube::Error,
    },
    /// The API server did not answer (connection refused, TLS, timeout).
    #[error("the Kubernetes API server {server} (context `{context}`) is unreachable")]
    Unreachable {
        context: String,
        server: String,
        #[source]
        source: Box<ApiFailure>,
    },
    /// The API server refused or failed a request.
    #[error("{what} in namespace `{namespace}` failed ({server}, context `{context}`)")]
    Api {
        what: String,
        namespace: String,
        server: String,
        context: String,
        #[source]
        source: Box<ApiFailure>,
    },
}

impl Diagnostic for KubeError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::NoKubeconfig { .. }
            | Self::ReadKubeconfig { .. }
            | Self::NoSuchContext { .. }
            | Self::NoCurrentContext { .. }
            | Self::BadContext { .. } => ExitStatus::Usage,
            Self::Client { .. } | Self::Unreachable { .. } | Self::Api { .. } => ExitStatus::Remote,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::NoKubeconfig { .. } => Some(
                "set `kubeconfig` in [deploy.environments.NAME], or KUBECONFIG, or create \
                 ~/.kube/config"
                    .to_owned(),
            ),
            Self::ReadKubeconfig { .. } => Some(
                "check the file is a kubeconfig: `kubectl config view --kubeconfig FILE`"
                    .to_owned(),
            ),
            Self::NoSuchContext { available, .. } | Self::NoCurrentContext { available, .. } => {
                Some(if available.is_empty() {
                    "the kubeconfig has no contexts at all".to_owned()
                } else {
                    format!(
                        "set `context` in [deploy.environments.NAME] to one of: {}",
                        available.join(", ")
                    )
                })
            }
            Self::BadContext { context, .. } => Some(format!(
                "check the cluster and user of context `{context}`: `kubectl config view --minify --context {context}`"
            )),
            Self::Client { .. } => None,
            Self::Unreachable { context, .. } => Some(format!(
                "check that the cluster is up and reachable: `kubectl --context {context} version`"
            )),
            Self::Api {
                source, context, ..
            } => match source.code {
                Some(401) => Some(format!(
                    "the credentials of context `{context}` (token, client certificate or exec plugin) were refused; log in again"
                )),
                Some(403) => Some(format!(
                    "the user of context `{context}` lacks the permission (RBAC) for this request"
                )),
                _ => None,
            },
        }
    }
}

/// What the API server (or the way to it) said, without kube-rs's own
/// types: the status code and message of an API error, else the transport
/// error's message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiFailure {
    /// The HTTP status of an API error (404, 409, ...).
    pub code: Option<u16>,
    /// The API's `reason` (`NotFound`, `AlreadyExists`, `Conflict`, ...).
    pub reason: Option<String>,
    pub message: String,
}

impl ApiFailure {
    pub(crate) fn from_kube(error: &kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => Self {
                code: Some(status.code),
                reason: Some(status.reason.clone()).filter(|r| !r.is_empty()),
                message: format!("{} ({})", status.message, status.code),
            },
            other => {
                // The transport error's own chain (refused, TLS, timeout).
                let mut message = other.to_string();
                let mut source = std::error::Error::source(other);
                while let Some(cause) = source {
                    message.push_str(": ");
                    message.push_str(&cause.to_string());
                    source = cause.source();
                }
                Self {
                    code: None,
                    reason: None,
                    message: windlass_redact::global().redact(&message).into_owned(),
                }
            }
        }
    }
}

/// Asks the server for its version, within twice the connect timeout.
async fn ask_version(client: &kube::Client) -> Result<String, Unanswered> {
    let limit = CONNECT_TIMEOUT * 2;
    match tokio::time::timeout(limit, client.apiserver_version()).await {
        Err(_) => Err(Unanswered::Unreachable(ApiFailure {
            code: None,
            reason: None,
            message: format!("no answer within {} s", limit.as_secs()),
        })),
        Ok(Ok(info)) => Ok(info.git_version),
        Ok(Err(error)) => {
            let failure = ApiFailure::from_kube(&error);
            Err(match api_code(&error) {
                Some(_) => Unanswered::Refused(failure),
                None => Unanswered::Unreachable(failure),
            })
        }
    }
}

/// The API error's status code, if it is one.
pub(crate) fn api_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

fn show_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(none)".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Cluster {
    /// Connects as kubectl would: the target's kubeconfig file, else the
    /// files of `KUBECONFIG` (missing ones skipped, the rest merged, the
    /// first to set a value wins), else `~/.kube/config`; the target's
    /// context, else the current context; the target's namespace, else the
    /// context's, else `default`. Asks the server for its version, so an
    /// unreachable cluster fails here (exit 3) rather than half-way.
    ///
    /// The proxy is the cluster's `proxy-url` only.
    pub async fn connect(
        target: &Target,
        env: &windlass_config::Environment,
    ) -> Result<Self, KubeError> {
        let cluster = Self::open(target, env).await?;
        cluster.reachable().await?;
        Ok(cluster)
    }

    /// Reads the kubeconfig as [`Cluster::connect`] does and sends the
    /// version request, without waiting for its answer: the caller's first
    /// requests go out alongside it (on a network, the connection's
    /// handshake and one round trip are shared instead of following each
    /// other), and [`Cluster::reachable`] tells whether it came.
    pub async fn open(
        target: &Target,
        env: &windlass_config::Environment,
    ) -> Result<Self, KubeError> {
        let paths = kubeconfig_paths(target, env)?;
        let mut merged = Kubeconfig::default();
        for path in &paths {
            let config =
                Kubeconfig::read_from(path).map_err(|source| KubeError::ReadKubeconfig {
                    path: path.clone(),
                    reason: read_reason(&source),
                })?;
            merged = merged
                .merge(config)
                .map_err(|source| KubeError::ReadKubeconfig {
                    path: path.clone(),
                    reason: read_reason(&source),
                })?;
        }
        register_credentials(&merged);
        let available: Vec<String> = merged.contexts.iter().map(|c| c.name.clone()).collect();
        let context = match target
            .context
            .clone()
            .or_else(|| merged.current_context.clone())
        {
            Some(context) if !context.is_empty() => context,
            _ => {
                return Err(KubeError::NoCurrentContext {
                    kubeconfig: paths,
                    available,
                });
            }
        };
        if !available.contains(&context) {
            return Err(KubeError::NoSuchContext {
                context,
                kubeconfig: paths,
                available,
            });
        }
        let options = KubeConfigOptions {
            context: Some(context.clone()),
            ..KubeConfigOptions::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(merged.clone(), &options)
            .await
            .map_err(|source| KubeError::BadContext {
                context: context.clone(),
                kubeconfig: paths.clone(),
                source,
            })?;
        // kube-rs falls back to HTTPS_PROXY of the process; Windlass reads
        // the environment through its snapshot only, and a kubeconfig that
        // wants a proxy says so with `proxy-url`.
        config.proxy_url = cluster_proxy(&merged, &context).and_then(|p| p.parse().ok());
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        // No request of this crate streams (rollouts are polled), so a
        // server that stops answering fails the request instead of hanging
        // the promotion; counted from the request, not from when a pooled
        // connection went idle.
        config.read_timeout = Some(READ_TIMEOUT);
        config.reset_reader_on_write = true;
        let server = redact_url(&config.cluster_url.to_string());
        let namespace = target
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = transport::client(config).map_err(|source| KubeError::Client {
            context: context.clone(),
            server: server.clone(),
            source,
        })?;
        let (sender, answer) = tokio::sync::watch::channel(None);
        let server_version = Arc::new(OnceLock::new());
        let asking = client.clone();
        let version = Arc::clone(&server_version);
        tokio::spawn(async move {
            let answered = ask_version(&asking).await;
            if let Ok(text) = &answered {
                let _ = version.set(text.clone());
            }
            // Nobody listening any more is fine.
            let _ = sender.send(Some(answered));
        });
        Ok(Self {
            client,
            namespace,
            context,
            server,
            kubeconfig: paths,
            answer,
            server_version,
        })
    }

    /// Waits for the answer to the version request made when opening: an
    /// error when the server refused it (a status code: exit 3, with the
    /// hint for 401 and 403) or never answered (unreachable).
    pub async fn reachable(&self) -> Result<(), KubeError> {
        let mut answer = self.answer.clone();
        let answered = answer
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|answered| answered.clone());
        let unreachable = |source: ApiFailure| KubeError::Unreachable {
            context: self.context.clone(),
            server: self.server.clone(),
            source: Box::new(source),
        };
        match answered {
            Some(Ok(_)) => Ok(()),
            Some(Err(Unanswered::Refused(source))) => Err(KubeError::Api {
                what: "asking the server for its version".to_owned(),
                namespace: self.namespace.clone(),
                server: self.server.clone(),
                context: self.context.clone(),
                source: Box::new(source),
            }),
            Some(Err(Unanswered::Unreachable(source))) => Err(unreachable(source)),
            None => Err(unreachable(ApiFailure {
                code: None,
                reason: None,
                message: "the version request stopped without an answer".to_owned(),
            })),
        }
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The namespace of the release, its ledger and its lease.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The kubeconfig context in use.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The API server's URL, without user info.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The kubeconfig files read, in order.
    pub fn kubeconfig(&self) -> &[PathBuf] {
        &self.kubeconfig
    }

    /// What the server reported as its version (`v1.20.2`); empty until
    /// it answered (always known after [`Cluster::connect`] or
    /// [`Cluster::reachable`]).
    pub fn server_version(&self) -> &str {
        self.server_version.get().map_or("", String::as_str)
    }

    /// The same cluster and context, another namespace.
    #[must_use]
    pub fn with_namespace(&self, namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            ..self.clone()
        }
    }

    /// An [`KubeError::Api`] for a failed request about `what`.
    pub(crate) fn api_error(&self, what: impl Into<String>, error: &kube::Error) -> KubeError {
        let source = Box::new(ApiFailure::from_kube(error));
        if source.code.is_none() {
            return KubeError::Unreachable {
                context: self.context.clone(),
                server: self.server.clone(),
                source,
            };
        }
        KubeError::Api {
            what: what.into(),
            namespace: self.namespace.clone(),
            server: self.server.clone(),
            context: self.context.clone(),
            source,
        }
    }
}

/// Why a kubeconfig could not be read, without quoting it: a YAML error
/// says where (line and column) and not what.
fn read_reason(error: &KubeconfigError) -> String {
    match error {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        KubeconfigError::Parse(parse) => {
            let text = parse.to_string();
            let first = text.lines().next().unwrap_or_default();
            match yaml_location(first) {
                Some((line, column)) => {
                    format!("not a valid kubeconfig (YAML error at line {line}, column {column})")
                }
                None => "not a valid kubeconfig (YAML error)".to_owned(),
            }
        }
        other => other.to_string(),
    }
}

/// `(line, column)` from the parser's `... line N column M ...`.
fn yaml_location(text: &str) -> Option<(u64, u64)> {
    let number_after = |word: &str| -> Option<u64> {
        let rest = &text[text.find(word)? + word.len()..];
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((number_after("line ")?, number_after("column ")?))
}

/// The kubeconfig files to read, as kubectl picks them.
fn kubeconfig_paths(
    target: &Target,
    env: &windlass_config::Environment,
) -> Result<Vec<PathBuf>, KubeError> {
    if let Some(path) = &target.kubeconfig {
        // Named explicitly: it must exist (read_from says why not).
        return Ok(vec![path.clone()]);
    }
    if let Some(value) = env.get("KUBECONFIG").filter(|v| !v.is_empty()) {
        let listed: Vec<PathBuf> = std::env::split_paths(value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        let existing: Vec<PathBuf> = listed.iter().filter(|p| p.is_file()).cloned().collect();
        if existing.is_empty() {
            return Err(KubeError::NoKubeconfig { looked_at: listed });
        }
        return Ok(existing);
    }
    let home = env.home().map(|h| h.join(".kube").join("config"));
    match home {
        Some(path) if path.is_file() => Ok(vec![path]),
        Some(path) => Err(KubeError::NoKubeconfig {
            looked_at: vec![path],
        }),
        None => Err(KubeError::NoKubeconfig { looked_at: vec![] }),
    }
}

/// Every credential a kubeconfig holds inline goes to the redactor, so that
/// no error message, log line or child's output can show it.
fn register_credentials(config: &Kubeconfig) {
    let redactor = windlass_redact::global();
    for named in &config.auth_infos {
        let Some(auth) = &named.auth_info else {
            continue;
        };
        for secret in [&auth.token, &auth.password, &auth.client_key_data]
            .into_iter()
            .flatten()
        {
            redactor.register(secret.expose_secret());
        }
    }
}

/// The `proxy-url` of the context's cluster.
fn cluster_proxy(config: &Kubeconfig, context: &str) -> Option<String> {
    let cluster_name = config
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())?;
    config
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.proxy_url.as_deref())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

/// `scheme://host:port/path` without `user:password@`.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => url.to_owned(),
    }
}

/// The environment's name goes into object names (the lease, ledger
/// records) and label values: it must be a short DNS label.
pub(crate) fn check_environment_name(environment: &str) -> Result<(), String> {
    let ok = !environment.is_empty()
        && environment.len() <= 40
        && environment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !environment.starts_with('-')
        && !environment.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "environment name `{environment}` cannot name Kubernetes objects: use 1-40 of \
             a-z, 0-9 and `-`, starting and ending with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{check_environment_name, redact_url, yaml_location};

    #[test]
    fn yaml_locations_are_found_without_the_text() {
        assert_eq!(
            yaml_location("error: line 5 column 59: unclosed bracket '['"),
            Some((5, 59))
        );
        assert_eq!(yaml_location("invalid type: map"), None);
    }

    #[test]
    fn server_urls_lose_user_info() {
        assert_eq!(
            redact_url("https://admin:hunter2@127.0.0.1:6443/"),
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            redact_url("https://k8s.example:443/api"),
            "https://k8s.example/api"
        );
    }

    #[test]
    fn environment_names_must_name_objects() {
        assert!(check_environment_name("prod").is_ok());
        assert!(check_environment_name("eu-west-1").is_ok());
        assert!(check_environment_name("Prod").is_err());
        assert!(check_environment_name("a.b").is_err());
        assert!(check_environment_name("-x").is_err());
        assert!(check_environment_name("").is_err());
    }
}
