//! The real `helm` binary (v4, or v3.13 and later), run through
//! windlass-process: `upgrade --install`, `history`, `rollback`, the
//! latest revision and the values of one.
//!
//! What the rest of Windlass relies on:
//!
//! - **Values never reach argv.** Each values document is written as a file
//!   of mode 0600 in a private directory (mode 0700) made for one command
//!   and removed after it; argv holds only their paths. No secret is ever
//!   an argument: the cluster's token stays in the kubeconfig file, a
//!   registry password goes to `helm registry login --password-stdin`.
//! - **Nothing implicit.** `--kube-context` and `--namespace` are always
//!   given (and `--kubeconfig` when the target names a file); the `HELM_*`
//!   variables that would change where or how Helm works (`HELM_DRIVER`,
//!   `HELM_NAMESPACE`, `HELM_KUBECONTEXT`, the `HELM_KUBE*` connection
//!   overrides) are not inherited from the user's environment, and
//!   `HELM_DRIVER` is set to `secret`, so Helm's release records are
//!   Secrets in the release's namespace, next to the ledger.
//! - **Typed answers.** Helm's JSON outputs are parsed into [`Revision`];
//!   an answer that does not parse is an error naming the command.
//!
//! Helm's output reaches us through windlass-process, which redacts it;
//! errors name the release and namespace and carry Helm's own message.
//!
//! This module never writes a values document anywhere but its private
//! directory and never passes one on the command line.

pub mod chart;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use windlass_config::Environment;
use windlass_diagnostic::{Diagnostic, ExitStatus};
use windlass_process::{Cmd, RunError};

/// The variables of the user's environment that would change which
/// cluster, namespace or storage Helm uses; never passed to `helm`.
pub const IGNORED_HELM_VARS: &[&str] = &[
    "HELM_DRIVER",
    "HELM_DRIVER_SQL_CONNECTION_STRING",
    "HELM_NAMESPACE",
    "HELM_KUBECONTEXT",
    "HELM_KUBETOKEN",
    "HELM_KUBEAPISERVER",
    "HELM_KUBEASUSER",
    "HELM_KUBEASGROUPS",
    "HELM_KUBECAFILE",
    "HELM_KUBEINSECURE_SKIP_TLS_VERIFY",
    "HELM_KUBETLS_SERVER_NAME",
    "HELM_REGISTRY_CONFIG",
    "HELM_MAX_HISTORY",
];

/// How long a command that only reads (history, values, pull) may take.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// The `windlass.dev/bundle` release label: which bundle a revision runs.
pub const BUNDLE_LABEL: &str = "windlass.dev/bundle";

/// Finds the `helm` binary: `WINDLASS_HELM`, else `helm` on `PATH`, and
/// checks that it is Helm v4, or v3.13 and later (the first v3 with release
/// labels); give a v3 to [`Helm::with_version`].
pub async fn locate(env: &Environment) -> Result<PathBuf, HelmError> {
    let binary = match env.get_str("WINDLASS_HELM") {
        Some(path) => PathBuf::from(path),
        None => {
            find_on_path(env.get("PATH").unwrap_or_default(), "helm").ok_or(HelmError::NotFound)?
        }
    };
    let remembered = chart::default_cache_dir(env).join(VERSIONS_FILE);
    let version = version_remembered(&binary, &remembered).await?;
    if !version.is_supported() {
        return Err(HelmError::Unsupported {
            binary,
            version: version.to_string(),
        });
    }
    tracing::debug!(binary = %binary.display(), %version, "found helm");
    Ok(binary)
}

/// The versions of the binaries asked so far: one command asks for it up
/// to three times (finding Helm, the chart, the environment), and each
/// `helm version` costs a process start.
static VERSIONS: std::sync::Mutex<BTreeMap<PathBuf, HelmVersion>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Held while a version is asked, so that two tasks asking at once (the
/// chart and the environment, opened side by side) run `helm version` once.
static ASKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The version `binary` reports (`helm version --template`), asked once
/// per binary and process.
pub async fn version(binary: &Path) -> Result<HelmVersion, HelmError> {
    let _asking = ASKING.lock().await;
    let known = VERSIONS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(binary)
        .copied();
    if let Some(version) = known {
        return Ok(version);
    }
    let version = ask_version(binary).await?;
    VERSIONS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(binary.to_path_buf(), version);
    Ok(version)
}

/// The file in Windlass's cache that remembers the version of each Helm
/// binary found, with the binary's size and modification time.
const VERSIONS_FILE: &str = "helm-versions.json";

/// The version of `binary` as [`version`] tells it, remembered between
/// runs in `file` for as long as the binary keeps its size and
/// modification time (so a command usually starts no `helm version`
/// process). The file is a cache: unreadable, it is written again.
pub async fn version_remembered(binary: &Path, file: &Path) -> Result<HelmVersion, HelmError> {
    let mut known = read_remembered(file);
    if let Some(version) = remembered_version(&known, binary) {
        VERSIONS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(binary.to_path_buf(), version);
        return Ok(version);
    }
    let version = version(binary).await?;
    if let Some(stamp) = binary_stamp(binary) {
        known.insert(binary.display().to_string(), format!("{stamp}{version}"));
        remember(file, &known);
    }
    Ok(version)
}

/// The remembered versions: binary path to `SIZE MODIFIED_NS VERSION`.
fn read_remembered(file: &Path) -> BTreeMap<String, String> {
    windlass_fs::read(file, 1 << 20)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The version remembered for `binary`, if it is still the same file.
fn remembered_version(known: &BTreeMap<String, String>, binary: &Path) -> Option<HelmVersion> {
    let stamp = binary_stamp(binary)?;
    known
        .get(&binary.display().to_string())?
        .strip_prefix(stamp.as_str())
        .and_then(HelmVersion::parse)
}

/// `SIZE MODIFIED_NS ` of `binary` (symlinks followed).
fn binary_stamp(binary: &Path) -> Option<String> {
    let meta = std::fs::metadata(binary).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {} ", meta.len(), modified.as_nanos()))
}

/// Writes the remembered versions (best effort: a cache).
fn remember(file: &Path, known: &BTreeMap<String, String>) {
    let Some(dir) = file.parent() else {
        return;
    };
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(dir))
        .and_then(|mut temp| {
            temp.write_all(&serde_json::to_vec(known).unwrap_or_default())?;
            temp.persist(file).map_err(|e| e.error)?;
            Ok(())
        });
    if let Err(error) = written {
        tracing::debug!(file = %file.display(), %error, "cannot remember the helm version");
    }
}

async fn ask_version(binary: &Path) -> Result<HelmVersion, HelmError> {
    let args: Vec<OsString> = vec!["version".into(), "--template".into(), "{{.Version}}".into()];
    let output = run_helm(
        binary,
        &args,
        &Subject::none(),
        None,
        READ_TIMEOUT,
        Path::new("/"),
    )
    .await?;
    let text = String::from_utf8_lossy(&output);
    HelmVersion::parse(text.trim()).ok_or_else(|| HelmError::Parse {
        command: command_line(binary, &args),
        why: format!("`{}` is not a version", text.trim()),
    })
}

/// A Helm version (`v4.1.4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HelmVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl HelmVersion {
    /// Parses `v4.1.4` (a `+build` or `-pre` suffix is ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.strip_prefix('v').unwrap_or(text);
        let core = text.split(['+', '-']).next()?;
        let mut parts = core.split('.').map(str::parse::<u32>);
        let major = parts.next()?.ok()?;
        let minor = parts.next()?.ok()?;
        let patch = parts.next().transpose().ok()?.unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    /// Helm v4, or v3.13 and later.
    pub fn is_supported(self) -> bool {
        self.major >= 4 || (self.major == 3 && self.minor >= 13)
    }

    /// Helm v4: `--wait=watcher`, `--rollback-on-failure`; v3.13 and later
    /// say `--wait` and `--atomic` (both know `--labels`).
    pub fn is_v4(self) -> bool {
        self.major >= 4
    }
}

impl std::fmt::Display for HelmVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// `helm`, bound to one cluster and namespace.
#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    namespace: String,
    v4: bool,
}

/// One `upgrade --install`.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    pub release: String,
    /// The chart archive ([`chart::ResolvedChart::archive`]).
    pub archive: PathBuf,
    /// Values documents, in order (later ones win); each becomes a private
    /// file handed to Helm with `--values`.
    pub values: Vec<serde_json::Value>,
    /// Wait until the release's resources are ready (`--wait=watcher`).
    pub wait: bool,
    /// Helm's `--timeout`.
    pub timeout: Duration,
    /// Roll back to the last successful revision when the upgrade fails
    /// (`--rollback-on-failure`, which waits).
    pub rollback_on_failure: bool,
    /// The revision's description (`--description`).
    pub description: String,
    /// Labels on the release record (`--labels`), e.g. [`BUNDLE_LABEL`].
    pub labels: BTreeMap<String, String>,
}

/// One revision of a release, as `helm history -o json` tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Revision {
    pub revision: u32,
    /// `deployed`, `superseded`, `failed`, `pending-install`,
    /// `pending-upgrade`, `pending-rollback`, `uninstalling`, ...
    pub status: String,
    /// `NAME-VERSION`.
    pub chart: String,
    #[serde(default)]
    pub app_version: String,
    /// RFC 3339.
    pub updated: String,
    #[serde(default)]
    pub description: String,
}

impl Revision {
    /// Whether a command was killed while this revision was in flight
    /// (`pending-install`, `pending-upgrade`, `pending-rollback`).
    pub fn is_pending(&self) -> bool {
        self.status.starts_with("pending-")
    }
}

/// What `helm upgrade --output json` prints: the release it made. Only
/// the fields a [`Revision`] needs are read; the values and the manifest
/// it also holds are skipped by the parser, never kept.
#[derive(Deserialize)]
struct PrintedRelease {
    version: u32,
    info: PrintedInfo,
    chart: PrintedChart,
}

#[derive(Deserialize)]
struct PrintedInfo {
    status: String,
    #[serde(default)]
    last_deployed: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct PrintedChart {
    metadata: PrintedChartMetadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrintedChartMetadata {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    app_version: String,
}

impl PrintedRelease {
    /// The revision as `helm history` would show it.
    fn into_revision(self) -> Revision {
        Revision {
            revision: self.version,
            status: self.info.status,
            chart: format!(
                "{}-{}",
                self.chart.metadata.name, self.chart.metadata.version
            ),
            app_version: self.chart.metadata.app_version,
            updated: self.info.last_deployed,
            description: self.info.description,
        }
    }
}

/// The release record's metadata (`helm get metadata -o json`): the chart,
/// the revision and its labels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseMetadata {
    pub name: String,
    pub chart: String,
    pub version: String,
    #[serde(default)]
    pub app_version: String,
    pub namespace: String,
    pub revision: u32,
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A `helm` command that failed.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("cannot find `helm`: WINDLASS_HELM is not set and `helm` is not on PATH")]
    NotFound,
    #[error("{} is Helm {version}; Windlass needs Helm v4 (or v3.13 and later)", binary.display())]
    Unsupported { binary: PathBuf, version: String },
    #[error("cannot run `{command}`{}", subject_suffix(release.as_deref(), namespace.as_deref()))]
    Run {
        command: String,
        release: Option<String>,
        namespace: Option<String>,
        #[source]
        source: Box<RunError>,
    },
    #[error(
        "`{command}` failed{}: {message}",
        subject_suffix(release.as_deref(), namespace.as_deref())
    )]
    Failed {
        command: String,
        release: Option<String>,
        namespace: Option<String>,
        /// Helm's own message (its stderr, redacted).
        message: String,
    },
    #[error("cannot understand the answer of `{command}`: {why}")]
    Parse { command: String, why: String },
    #[error("cannot write the values for `{release}` in {}", path.display())]
    Values {
        release: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{label}` is not a release label (`KEY=VALUE`, neither holding `,` or `=`)")]
    Label { label: String },
}

impl Diagnostic for HelmError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::NotFound | Self::Unsupported { .. } | Self::Label { .. } => ExitStatus::Usage,
            Self::Run { source, .. } => source.exit_status(),
            Self::Failed { .. } | Self::Parse { .. } => ExitStatus::Remote,
            Self::Values { .. } => ExitStatus::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::NotFound => Some(
                "install Helm v4 (https://helm.sh/docs/intro/install/) or set WINDLASS_HELM to its path"
                    .to_owned(),
            ),
            Self::Unsupported { .. } => {
                Some("install Helm v4, or set WINDLASS_HELM to a newer `helm`".to_owned())
            }
            Self::Run { source, .. } => source.hint(),
            Self::Failed { message, .. } if message.contains("another operation") => Some(
                "a previous run was killed mid-operation: `windlass deploy status` shows it and the next command recovers it"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

fn subject_suffix(release: Option<&str>, namespace: Option<&str>) -> String {
    match (release, namespace) {
        (Some(release), Some(namespace)) => {
            format!(" for release `{release}` in namespace `{namespace}`")
        }
        (Some(release), None) => format!(" for release `{release}`"),
        (None, Some(namespace)) => format!(" in namespace `{namespace}`"),
        (None, None) => String::new(),
    }
}

impl Helm {
    /// `helm` at `binary`, for the cluster of `kubeconfig` (Helm's own
    /// rules when `None`: `KUBECONFIG`, then `~/.kube/config`) and
    /// `context` (the kubeconfig's current context when `None`), in
    /// `namespace`.
    pub fn new(
        binary: PathBuf,
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
        namespace: String,
    ) -> Self {
        Self {
            binary,
            kubeconfig,
            context,
            namespace,
            v4: true,
        }
    }

    /// Speaks the flags of this Helm version ([`version`]): Helm v4 by
    /// default; for v3 (3.13 and later), `--wait` instead of
    /// `--wait=watcher` and `--atomic` instead of `--rollback-on-failure`.
    #[must_use]
    pub fn with_version(mut self, version: HelmVersion) -> Self {
        self.v4 = version.is_v4();
        self
    }

    fn wait_flag(&self) -> &'static str {
        if self.v4 { "--wait=watcher" } else { "--wait" }
    }

    /// The binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The namespace every command works in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `helm upgrade --install`: installs or upgrades `request.release`
    /// and returns the revision it made (from the release Helm prints, so
    /// no second command asks for it).
    pub async fn upgrade_install(&self, request: &UpgradeRequest) -> Result<Revision, HelmError> {
        let dir = private_dir().map_err(|source| HelmError::Values {
            release: request.release.clone(),
            path: std::env::temp_dir(),
            source,
        })?;
        let mut args: Vec<OsString> = vec![
            "upgrade".into(),
            request.release.as_str().into(),
            request.archive.as_os_str().into(),
            "--install".into(),
            "--timeout".into(),
            go_duration(request.timeout).into(),
            "--output".into(),
            "json".into(),
        ];
        if request.wait || request.rollback_on_failure {
            args.push(self.wait_flag().into());
        }
        if request.rollback_on_failure {
            args.push(
                if self.v4 {
                    "--rollback-on-failure"
                } else {
                    "--atomic"
                }
                .into(),
            );
        }
        if !request.description.is_empty() {
            args.push("--description".into());
            args.push(request.description.as_str().into());
        }
        if !request.labels.is_empty() {
            args.push("--labels".into());
            args.push(labels_arg(&request.labels)?.into());
        }
        for (index, document) in request.values.iter().enumerate() {
            let path = dir.path().join(format!("values-{index:02}.json"));
            write_private(&path, document).map_err(|source| HelmError::Values {
                release: request.release.clone(),
                path: path.clone(),
                source,
            })?;
            args.push("--values".into());
            args.push(path.into_os_string());
        }
        // Helm may take `--timeout` per operation, and twice that when it
        // rolls back: give the process room beyond it.
        let limit = request.timeout * 3 + Duration::from_secs(120);
        let output = self.run(&args, Some(&request.release), limit).await?;
        drop(dir);
        // The release Helm prints holds the values (and the manifest):
        // only its revision, status and chart are kept.
        let printed: PrintedRelease = self.parse(&args, &output)?;
        Ok(printed.into_revision())
    }

    /// Every revision of `release`, oldest first; empty when there is no
    /// such release.
    pub async fn history(&self, release: &str) -> Result<Vec<Revision>, HelmError> {
        self.history_args(release, None).await
    }

    /// The latest revision of `release`, `None` when it is not installed.
    pub async fn status(&self, release: &str) -> Result<Option<Revision>, HelmError> {
        Ok(self.history_args(release, Some(1)).await?.pop())
    }

    /// `helm rollback RELEASE REVISION`.
    pub async fn rollback(
        &self,
        release: &str,
        revision: u32,
        wait: bool,
        timeout: Duration,
    ) -> Result<(), HelmError> {
        let mut args: Vec<OsString> = vec![
            "rollback".into(),
            release.into(),
            revision.to_string().into(),
            "--timeout".into(),
            go_duration(timeout).into(),
        ];
        if wait {
            args.push(self.wait_flag().into());
        }
        let limit = timeout * 2 + Duration::from_secs(120);
        self.run(&args, Some(release), limit).await?;
        Ok(())
    }

    /// `helm uninstall RELEASE`: for a release whose first install was
    /// killed (`pending-install`: there is nothing to roll back to). A
    /// release that does not exist is not an error.
    pub async fn uninstall(
        &self,
        release: &str,
        wait: bool,
        timeout: Duration,
    ) -> Result<(), HelmError> {
        let mut args: Vec<OsString> = vec![
            "uninstall".into(),
            release.into(),
            "--timeout".into(),
            go_duration(timeout).into(),
        ];
        if wait {
            args.push(self.wait_flag().into());
        }
        let limit = timeout * 2 + Duration::from_secs(120);
        match self.run(&args, Some(release), limit).await {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The values given to `revision` of `release` (what Windlass passed,
    /// not the chart's defaults); an empty object when none were.
    pub async fn get_values(
        &self,
        release: &str,
        revision: u32,
    ) -> Result<serde_json::Value, HelmError> {
        let args: Vec<OsString> = vec![
            "get".into(),
            "values".into(),
            release.into(),
            "--revision".into(),
            revision.to_string().into(),
            "--output".into(),
            "json".into(),
        ];
        let output = self.run(&args, Some(release), READ_TIMEOUT).await?;
        let value: serde_json::Value = self.parse(&args, &output)?;
        Ok(match value {
            serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
            value => value,
        })
    }

    /// The release record's metadata and labels; `None` when there is no
    /// such release.
    pub async fn metadata(&self, release: &str) -> Result<Option<ReleaseMetadata>, HelmError> {
        let args: Vec<OsString> = vec![
            "get".into(),
            "metadata".into(),
            release.into(),
            "--output".into(),
            "json".into(),
        ];
        match self.run(&args, Some(release), READ_TIMEOUT).await {
            Ok(output) => self.parse(&args, &output).map(Some),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn history_args(
        &self,
        release: &str,
        max: Option<u32>,
    ) -> Result<Vec<Revision>, HelmError> {
        let mut args: Vec<OsString> = vec![
            "history".into(),
            release.into(),
            "--output".into(),
            "json".into(),
        ];
        if let Some(max) = max {
            args.push("--max".into());
            args.push(max.to_string().into());
        }
        match self.run(&args, Some(release), READ_TIMEOUT).await {
            Ok(output) => {
                let mut revisions: Vec<Revision> = self.parse(&args, &output)?;
                revisions.sort_by_key(|r| r.revision);
                Ok(revisions)
            }
            Err(error) if is_not_found(&error) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        args: &[OsString],
        output: &[u8],
    ) -> Result<T, HelmError> {
        serde_json::from_slice(output).map_err(|error| HelmError::Parse {
            command: self.command_line(args),
            // serde's message names a position and a type, never the input.
            why: error.to_string(),
        })
    }

    /// The global flags, then `args`.
    fn argv(&self, args: &[OsString]) -> Vec<OsString> {
        let mut all = args.to_vec();
        if let Some(kubeconfig) = &self.kubeconfig {
            all.push("--kubeconfig".into());
            all.push(kubeconfig.as_os_str().into());
        }
        if let Some(context) = &self.context {
            all.push("--kube-context".into());
            all.push(context.as_str().into());
        }
        all.push("--namespace".into());
        all.push(self.namespace.as_str().into());
        all
    }

    fn command_line(&self, args: &[OsString]) -> String {
        command_line(&self.binary, &self.argv(args))
    }

    async fn run(
        &self,
        args: &[OsString],
        release: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<u8>, HelmError> {
        let subject = Subject {
            release: release.map(str::to_owned),
            namespace: Some(self.namespace.clone()),
        };
        run_helm(
            &self.binary,
            &self.argv(args),
            &subject,
            None,
            timeout,
            Path::new("/"),
        )
        .await
    }
}

/// What a command is about, for its errors.
#[derive(Debug, Clone, Default)]
struct Subject {
    release: Option<String>,
    namespace: Option<String>,
}

impl Subject {
    fn none() -> Self {
        Self::default()
    }
}

/// Runs `binary args` with Helm's environment rules, stdout captured;
/// a failure carries Helm's (redacted) stderr.
async fn run_helm(
    binary: &Path,
    args: &[OsString],
    subject: &Subject,
    stdin: Option<windlass_redact::Secret<String>>,
    timeout: Duration,
    cwd: &Path,
) -> Result<Vec<u8>, HelmError> {
    let mut cmd = Cmd::new(binary, cwd)
        .args(args)
        .env("HELM_DRIVER", "secret")
        .capture_output()
        .timeout(timeout);
    for name in IGNORED_HELM_VARS
        .iter()
        .filter(|name| **name != "HELM_DRIVER")
    {
        cmd = cmd.env_remove(*name);
    }
    if let Some(input) = stdin {
        cmd = cmd.stdin_secret(input);
    }
    let command = command_line(binary, args);
    let outcome = cmd.run().await.map_err(|source| HelmError::Run {
        command: command.clone(),
        release: subject.release.clone(),
        namespace: subject.namespace.clone(),
        source: Box::new(source),
    })?;
    if outcome.success() {
        return Ok(outcome.into_stdout().unwrap_or_default());
    }
    let stderr = String::from_utf8_lossy(outcome.stderr().unwrap_or_default());
    let message = helm_message(&stderr, outcome.exit_code());
    Err(HelmError::Failed {
        command,
        release: subject.release.clone(),
        namespace: subject.namespace.clone(),
        message,
    })
}

/// Helm's own message from its stderr: its `Error: ` lines (or the last
/// lines), without the prefix.
fn helm_message(stderr: &str, code: i32) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("Error: "))
        .collect();
    let chosen = if errors.is_empty() {
        lines[lines.len().saturating_sub(5)..].to_vec()
    } else {
        errors
    };
    if chosen.is_empty() {
        format!("exit status {code}, no message")
    } else {
        chosen.join("; ")
    }
}

/// Helm's answer for a release that does not exist (`release: not found`
/// from `history` and `get`, `release not loaded` from `uninstall`).
fn is_not_found(error: &HelmError) -> bool {
    matches!(error, HelmError::Failed { message, .. }
        if message.contains("not found") || message.contains("release not loaded"))
}

/// The command as errors and logs show it: values are only ever file
/// paths here.
fn command_line(binary: &Path, args: &[OsString]) -> String {
    let name = binary.file_name().map_or_else(
        || binary.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    std::iter::once(name)
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--labels` as Helm reads it: `k=v,k2=v2`.
fn labels_arg(labels: &BTreeMap<String, String>) -> Result<String, HelmError> {
    let mut parts = Vec::with_capacity(labels.len());
    for (key, value) in labels {
        let label = format!("{key}={value}");
        if key.is_empty() || key.contains([',', '=']) || value.contains([',', '=']) {
            return Err(HelmError::Label { label });
        }
        parts.push(label);
    }
    Ok(parts.join(","))
}

/// A duration as Go's `time.ParseDuration` reads it (`90s`).
fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// `helm template RELEASE ARCHIVE --namespace NAMESPACE`: the manifests
/// the chart renders with `values` (private files, as for an upgrade),
/// Helm's output as is. Offline: no cluster is asked.
pub async fn template(
    binary: &Path,
    release: &str,
    archive: &Path,
    namespace: &str,
    values: &[serde_json::Value],
) -> Result<Vec<u8>, HelmError> {
    let dir = private_dir().map_err(|source| HelmError::Values {
        release: release.to_owned(),
        path: std::env::temp_dir(),
        source,
    })?;
    let mut args: Vec<OsString> = vec![
        "template".into(),
        release.into(),
        archive.as_os_str().into(),
        "--namespace".into(),
        namespace.into(),
    ];
    for (index, document) in values.iter().enumerate() {
        let path = dir.path().join(format!("values-{index:02}.json"));
        write_private(&path, document).map_err(|source| HelmError::Values {
            release: release.to_owned(),
            path: path.clone(),
            source,
        })?;
        args.push("--values".into());
        args.push(path.into_os_string());
    }
    let subject = Subject {
        release: Some(release.to_owned()),
        namespace: Some(namespace.to_owned()),
    };
    let output = run_helm(
        binary,
        &args,
        &subject,
        None,
        Duration::from_secs(300),
        Path::new("/"),
    )
    .await;
    drop(dir);
    output
}

/// A directory only we can enter (0700), removed when dropped.
pub(crate) fn private_dir() -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::Builder::new()
        .prefix("windlass-helm-")
        .tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Writes `document` as JSON (which Helm reads as YAML) into a new file of
/// mode 0600.
fn write_private(path: &Path, document: &serde_json::Value) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let bytes = serde_json::to_vec(document).map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&bytes)?;
    file.sync_all()
}

/// The first executable `name` in `path` (a `PATH` value).
fn find_on_path(path: &std::ffi::OsStr, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_remembered_version_starts_no_helm_until_the_binary_changes() {
        let dir = tempfile::tempdir().unwrap();
        // Not executable: running it fails.
        let binary = dir.path().join("helm");
        std::fs::write(&binary, "not a program").unwrap();
        let file = dir.path().join("cache").join(VERSIONS_FILE);
        let stamp = binary_stamp(&binary).unwrap();
        let known = BTreeMap::from([(binary.display().to_string(), format!("{stamp}v4.1.4"))]);
        remember(&file, &known);
        let version = version_remembered(&binary, &file).await.unwrap();
        assert_eq!(version.to_string(), "v4.1.4");
        // Another binary at the same path is asked again.
        std::fs::write(&binary, "another, longer non-program").unwrap();
        assert_eq!(remembered_version(&read_remembered(&file), &binary), None);
    }

    #[test]
    fn versions() {
        let check = |text: &str, expected: Option<(u32, u32, u32)>, supported: bool| {
            let parsed = HelmVersion::parse(text);
            assert_eq!(
                parsed.map(|v| (v.major, v.minor, v.patch)),
                expected,
                "{text}"
            );
            assert_eq!(
                parsed.is_some_and(HelmVersion::is_supported),
                supported,
                "{text}"
            );
        };
        check("v4.1.4", Some((4, 1, 4)), true);
        check("v3.13.0", Some((3, 13, 0)), true);
        check("v3.12.3", Some((3, 12, 3)), false);
        check("v4.0.0-rc.1", Some((4, 0, 0)), true);
        check("v3.14.2+g1234", Some((3, 14, 2)), true);
        check("banana", None, false);
    }

    #[test]
    fn helm_messages() {
        assert_eq!(
            helm_message("Error: UPGRADE FAILED: boom\n", 1),
            "UPGRADE FAILED: boom"
        );
        assert_eq!(
            helm_message("warn\nsomething odd\n", 1),
            "warn; something odd"
        );
        assert_eq!(helm_message("", 2), "exit status 2, no message");
    }

    #[test]
    fn labels_and_durations() {
        let labels = BTreeMap::from([
            (BUNDLE_LABEL.to_owned(), "0123456789ab".to_owned()),
            ("b".to_owned(), "c".to_owned()),
        ]);
        assert_eq!(
            labels_arg(&labels).unwrap(),
            "b=c,windlass.dev/bundle=0123456789ab"
        );
        let bad = BTreeMap::from([("a".to_owned(), "x,y=z".to_owned())]);
        assert!(matches!(labels_arg(&bad), Err(HelmError::Label { .. })));
        assert_eq!(go_duration(Duration::from_secs(300)), "300s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
    }
}
