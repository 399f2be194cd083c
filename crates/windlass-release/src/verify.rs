//! `windlass verify MANIFEST`: walks every link of a release manifest and
//! says which holds. Each distribution: the index lists the file with its
//! sha256 and serves bytes that hash to it. Each image: the registry (or
//! the OCI layout) serves the digest, and each tag still points at it.
//! Each environment reached: it runs the bundle (a cluster's ledger, read
//! without a lease; a GitOps directory's `bundle.json`).
//!
//! Links are checked in parallel and independently: a moved tag is one
//! broken link, not a broken image. A link is *broken* when what it
//! points at answered and differs, *unreachable* when it could not be
//! asked (no connection, refused credentials, a server error). The
//! manifest is only read, never written.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use futures_util::StreamExt as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use windlass_config::Environment;
use windlass_http::{HttpClient, HttpConfig, HttpError, Method, Policy, StatusCode};
use windlass_image::registry::{Client, ClientConfig, RegistryError};
use windlass_image::{Digest, Layout, Reference};
use windlass_output::{Diagnostic, ExitStatus, Outcome, OutputArgs, Printer};
use windlass_pypi::repository::Auth;
use windlass_pypi::simple::{Existing, ProjectFiles};
use windlass_redact::RedactedUrl;

use crate::manifest::{
    Distribution, EnvironmentRecord, EnvironmentTarget, Image, Manifest, ManifestId, SCHEMA,
};

/// The largest manifest read.
pub const MANIFEST_LIMIT: u64 = 16 * windlass_fs::MIB;
/// The largest `bundle.json` read.
const BUNDLE_LIMIT: u64 = 16 * windlass_fs::MIB;
/// The largest static index page read.
const PAGE_LIMIT: u64 = 64 * windlass_fs::MIB;

/// `windlass verify MANIFEST`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The release manifest (`dist/release/manifest.json` that `windlass
    /// release run` wrote)
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// Send no credentials to package indexes and look none up
    #[arg(long)]
    pub no_credentials: bool,
    /// Read this `.pypirc` instead of `~/.pypirc` for index credentials
    #[arg(long, value_name = "PATH")]
    pub pypirc: Option<PathBuf>,
    /// The kubeconfig for the environments on clusters (default: as kubectl)
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// How many links are checked at once
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
}

/// `windlass-release verify` / `windlass verify` as a whole command line:
/// output flags, `--config` and [`VerifyArgs`].
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyCli {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Read this configuration file instead of searching for `windlass.toml`
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub args: VerifyArgs,
}

/// How the links are reached.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// For package indexes.
    pub http: HttpConfig,
    /// For registries (hosts, credentials, CA files).
    pub registry: Client,
    /// The credentials of the indexes that have some, by simple root.
    pub index_auth: Vec<IndexAuth>,
    /// For kubeconfigs and their credential plugins.
    pub env: Environment,
    /// The kubeconfig of the clusters (default: as kubectl finds it).
    pub kubeconfig: Option<PathBuf>,
    /// Links checked at once.
    pub jobs: usize,
}

/// The credentials of one index.
#[derive(Debug, Clone)]
pub struct IndexAuth {
    /// Its simple API root.
    pub simple_url: RedactedUrl,
    pub auth: Auth,
}

impl VerifyOptions {
    /// Anonymous access with the default HTTP settings.
    pub fn anonymous(env: Environment, cwd: &Path) -> Self {
        Self {
            http: HttpConfig::default(),
            registry: Client::new(ClientConfig {
                http: HttpConfig::default(),
                hosts: std::collections::BTreeMap::new(),
                files: windlass_image::registry::credentials::CredentialFiles::new(Vec::new(), cwd),
                jobs: 4,
            }),
            index_auth: Vec::new(),
            env,
            kubeconfig: None,
            jobs: 8,
        }
    }
}

/// What a link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// A wheel or sdist on an index.
    Distribution,
    /// An image's digest on a registry or in a layout.
    Image,
    /// A tag of an image.
    Tag,
    /// An environment the release reached.
    Environment,
}

/// Whether a link holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum LinkStatus {
    Holds,
    /// What the link points at answered, and differs.
    Broken {
        why: String,
    },
    /// What the link points at could not be asked.
    Unreachable {
        why: String,
    },
}

/// One link of the manifest.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Link {
    pub what: LinkKind,
    /// The item: a file name, `IMAGE`, `IMAGE:TAG`, an environment.
    pub name: String,
    /// Where it was checked: the index, the repository, the environment.
    pub target: String,
    #[serde(flatten)]
    pub status: LinkStatus,
}

/// What `windlass verify` reports.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyReport {
    /// The manifest's path as given.
    pub manifest: String,
    pub id: ManifestId,
    pub project: String,
    pub version: String,
    pub links: Vec<Link>,
    pub holds: usize,
    pub broken: usize,
    pub unreachable: usize,
}

impl VerifyReport {
    fn new(manifest: &Manifest, path: &Path, links: Vec<Link>) -> Self {
        let count = |f: fn(&LinkStatus) -> bool| links.iter().filter(|l| f(&l.status)).count();
        Self {
            manifest: path.display().to_string(),
            id: manifest.id.clone(),
            project: manifest.content.project.clone(),
            version: manifest.content.version.clone(),
            holds: count(|s| matches!(s, LinkStatus::Holds)),
            broken: count(|s| matches!(s, LinkStatus::Broken { .. })),
            unreachable: count(|s| matches!(s, LinkStatus::Unreachable { .. })),
            links,
        }
    }

    /// 0 when every link holds, 1 when one is broken, 3 when one could
    /// not be reached (and none is broken).
    pub fn status(&self) -> ExitStatus {
        if self.broken > 0 {
            ExitStatus::Failure
        } else if self.unreachable > 0 {
            ExitStatus::Remote
        } else {
            ExitStatus::Success
        }
    }
}

impl Outcome for VerifyReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let rows: Vec<(String, &str, String)> = self
            .links
            .iter()
            .map(|l| {
                let status = match &l.status {
                    LinkStatus::Holds => "holds".to_owned(),
                    LinkStatus::Broken { why } => format!("broken: {why}"),
                    LinkStatus::Unreachable { why } => format!("unreachable: {why}"),
                };
                (
                    format!("{} {}", kind_word(l.what), l.name),
                    l.target.as_str(),
                    status,
                )
            })
            .collect();
        let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(4);
        let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(6);
        writeln!(out, "{:<w0$}  {:<w1$}  STATUS", "LINK", "TARGET")?;
        for (link, target, status) in &rows {
            writeln!(out, "{link:<w0$}  {target:<w1$}  {status}")?;
        }
        writeln!(
            out,
            "{} {} ({}): {} hold, {} broken, {} unreachable",
            self.project,
            self.version,
            self.id.short(),
            self.holds,
            self.broken,
            self.unreachable
        )
    }

    fn exit_status(&self) -> ExitStatus {
        self.status()
    }
}

fn kind_word(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Distribution => "distribution",
        LinkKind::Image => "image",
        LinkKind::Tag => "tag",
        LinkKind::Environment => "environment",
    }
}

/// A manifest that cannot be verified: not there, not JSON of this
/// schema, or edited (its id does not match its content). Exit 2.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read the release manifest {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("{} is not a release manifest: {why}", path.display())]
    Malformed { path: PathBuf, why: String },
    #[error("{}: field `schema` is `{found}`, not `{SCHEMA}`", path.display())]
    Schema { path: PathBuf, found: String },
    #[error("{}: field `id` is {stated}, but the content hashes to {actual}", path.display())]
    Id {
        path: PathBuf,
        stated: String,
        actual: String,
    },
}

impl Diagnostic for ManifestError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Read { .. } => Some("give the `manifest.json` a release wrote".to_owned()),
            Self::Malformed { .. } | Self::Schema { .. } => {
                Some("docs/manifest.md describes the manifest's fields".to_owned())
            }
            Self::Id { .. } => Some(
                "the manifest was edited or cut after it was written; use the one the release wrote"
                    .to_owned(),
            ),
        }
    }
}

/// Reads and checks a manifest: bounded, its `schema`, its id.
pub fn read_manifest(path: &Path) -> Result<Manifest, ManifestError> {
    let bytes = windlass_fs::read(path, MANIFEST_LIMIT).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ManifestError::Malformed {
            path: path.to_owned(),
            why: e.to_string(),
        })?;
    match value.get("schema").and_then(serde_json::Value::as_str) {
        Some(SCHEMA) => {}
        Some(other) => {
            return Err(ManifestError::Schema {
                path: path.to_owned(),
                found: other.to_owned(),
            });
        }
        None => {
            return Err(ManifestError::Malformed {
                path: path.to_owned(),
                why: "field `schema` is missing or not a string".to_owned(),
            });
        }
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| ManifestError::Malformed {
            path: path.to_owned(),
            why: e.to_string(),
        })?;
    if !manifest.id_holds() {
        return Err(ManifestError::Id {
            path: path.to_owned(),
            stated: manifest.id.to_string(),
            actual: ManifestId::of(&manifest.content).to_string(),
        });
    }
    Ok(manifest)
}

/// Checks every link of `manifest` (relative paths in it start at
/// `manifest_dir`), in parallel; the links come back in the manifest's
/// order: distributions, images and their tags, environments.
pub async fn verify(
    manifest: &Manifest,
    manifest_dir: &Path,
    options: &VerifyOptions,
) -> Vec<Link> {
    let http = HttpClient::new(&options.http);
    let registry = &options.registry;
    let mut checks: Vec<futures_util::future::BoxFuture<'_, Vec<Link>>> = Vec::new();
    for dist in &manifest.content.distributions {
        let http = http.as_ref().ok().cloned();
        checks.push(Box::pin(async move {
            vec![check_distribution(dist, manifest_dir, http.as_ref(), options).await]
        }));
    }
    for image in &manifest.content.images {
        checks.push(Box::pin(async move {
            check_image(image, manifest_dir, registry).await
        }));
    }
    for env in &manifest.environments {
        checks.push(Box::pin(async move {
            vec![check_environment(env, manifest_dir, options).await]
        }));
    }
    futures_util::stream::iter(checks)
        .buffered(options.jobs.max(1))
        .collect::<Vec<Vec<Link>>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Reads the manifest at `path` and verifies it: the library's whole
/// command.
pub async fn run(path: &Path, options: &VerifyOptions) -> Result<VerifyReport, ManifestError> {
    let manifest = read_manifest(path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let links = verify(&manifest, dir, options).await;
    Ok(VerifyReport::new(&manifest, path, links))
}

/// Runs `windlass verify` to the end: output, configuration, the runtime
/// and the exit code (0 all hold, 1 broken, 2 bad manifest, 3 unreachable).
pub fn main(cli: &VerifyCli) -> ExitCode {
    main_as(cli, "verify")
}

/// [`main`] under another command name (`release verify`), as the JSON
/// result names it.
pub fn main_as(cli: &VerifyCli, command: &str) -> ExitCode {
    let printer = Printer::builder(&cli.output, command)
        .classifier(classifier())
        .build();
    windlass_output::run_command(&printer, || Ok(run_cli(cli, &printer)))
}

/// What `windlass verify` prints with `--json` (for the umbrella's
/// `windlass/1` schema).
pub fn json_schemas() -> Vec<windlass_output::json::CommandSchema> {
    vec![windlass_output::json::CommandSchema::new::<VerifyReport>(
        "verify",
    )]
}

/// The error types `windlass verify` classifies (exit 2 for a bad
/// manifest or configuration, 3 for a secret store that cannot be reached).
pub fn classifier() -> windlass_output::Classifier {
    windlass_output::Classifier::default()
        .with::<ManifestError>()
        .with::<windlass_config::LoadError>()
        .with::<windlass_fs::ReadError>()
        .with::<windlass_secrets::ResolveError>()
        .with::<windlass_pypi::repository::TargetError>()
}

/// `windlass verify` with a printer: see [`run_command`].
pub async fn run_cli(cli: &VerifyCli, printer: &Printer) -> anyhow::Result<VerifyReport> {
    run_command(&cli.args, cli.config.as_deref(), printer).await
}

/// Runs `verify` as a command (`windlass verify`, `windlass release
/// verify`): loads `windlass.toml` (`config_file`, else searched from the
/// working directory) for index and registry credentials, verifies, and
/// in GitHub Actions appends the table to the step summary.
pub async fn run_command(
    args: &VerifyArgs,
    config_file: Option<&Path>,
    printer: &Printer,
) -> anyhow::Result<VerifyReport> {
    let loaded = windlass_secrets::ToolConfig::load(config_file, None)?;
    let path = loaded.cwd.join(&args.manifest);
    let manifest = read_manifest(&path)?;
    let options = crate::credentials::options(&loaded, args, &manifest, printer).await?;
    let mut report = run(&path, &options).await?;
    report.manifest = args.manifest.display().to_string();
    if let Some(github) = printer.github()
        && let Err(error) = github.append_summary(&markdown(&report))
    {
        printer.warn(&format!("cannot write the step summary: {error}"));
    }
    Ok(report)
}

/// The report as step-summary Markdown.
pub fn markdown(report: &VerifyReport) -> String {
    let mut out = format!(
        "### Verify {} {} ({})\n\n| Link | Target | Status |\n| --- | --- | --- |\n",
        crate::summary::escape(&report.project),
        crate::summary::escape(&report.version),
        report.id.short()
    );
    for link in &report.links {
        let status = match &link.status {
            LinkStatus::Holds => "holds".to_owned(),
            LinkStatus::Broken { why } => format!("**broken**: {}", crate::summary::escape(why)),
            LinkStatus::Unreachable { why } => {
                format!("unreachable: {}", crate::summary::escape(why))
            }
        };
        let _ = writeln!(
            out,
            "| {} {} | {} | {status} |",
            kind_word(link.what),
            crate::summary::escape(&link.name),
            crate::summary::escape(&link.target)
        );
    }
    out
}

// ---------------------------------------------------------------------------
// Distributions

/// Where a distribution's index is.
enum IndexLocation {
    Remote(RedactedUrl),
    Local(PathBuf),
}

fn index_location(index: &str, manifest_dir: &Path) -> Result<IndexLocation, String> {
    if index.starts_with("http://") || index.starts_with("https://") {
        let url = url::Url::parse(index).map_err(|e| format!("the index is not a URL: {e}"))?;
        return Ok(IndexLocation::Remote(RedactedUrl::new(url)));
    }
    if index.starts_with("file:") {
        let url = url::Url::parse(index).map_err(|e| format!("the index is not a URL: {e}"))?;
        let path = url
            .to_file_path()
            .map_err(|()| "the `file:` URL names no local path".to_owned())?;
        return Ok(IndexLocation::Local(path));
    }
    Ok(IndexLocation::Local(manifest_dir.join(index)))
}

async fn check_distribution(
    dist: &Distribution,
    manifest_dir: &Path,
    http: Option<&HttpClient>,
    options: &VerifyOptions,
) -> Link {
    let shown = match index_location(&dist.index, manifest_dir) {
        Ok(IndexLocation::Remote(url)) => url.to_string(),
        _ => dist.index.clone(),
    };
    let link = |status| Link {
        what: LinkKind::Distribution,
        name: dist.filename.clone(),
        target: shown.clone(),
        status,
    };
    let Some(project) = windlass_pypi::dist::project_of_filename(&dist.filename) else {
        return link(LinkStatus::Broken {
            why: "the file name is not a wheel's or an sdist's".to_owned(),
        });
    };
    let status = match index_location(&dist.index, manifest_dir) {
        Err(why) => LinkStatus::Broken { why },
        Ok(IndexLocation::Local(root)) => check_local_distribution(dist, &root, &project),
        Ok(IndexLocation::Remote(simple)) => match http {
            None => LinkStatus::Unreachable {
                why: "cannot set up the HTTP client".to_owned(),
            },
            Some(http) => {
                let auth = options
                    .index_auth
                    .iter()
                    .find(|a| same_root(&a.simple_url, &simple))
                    .map(|a| &a.auth);
                check_remote_distribution(dist, &simple, &project, http, auth).await
            }
        },
    };
    link(status)
}

fn same_root(a: &RedactedUrl, b: &RedactedUrl) -> bool {
    let strip = |u: &RedactedUrl| {
        let mut u = u.expose().clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.as_str().trim_end_matches('/').to_owned()
    };
    strip(a) == strip(b)
}

/// What the listing says of the file: `None` when it matches (or gives no
/// hash), the broken status otherwise.
fn listed(files: &ProjectFiles, dist: &Distribution) -> Option<LinkStatus> {
    match files.compare(&dist.filename, &dist.sha256) {
        Existing::Same | Existing::Unknown => None,
        Existing::Absent => Some(LinkStatus::Broken {
            why: "the index does not list the file".to_owned(),
        }),
        Existing::Different { sha256 } => Some(LinkStatus::Broken {
            why: format!(
                "the index lists it with sha256 {}, not {}",
                short(&sha256),
                short(&dist.sha256)
            ),
        }),
    }
}

fn short(hex: &str) -> &str {
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
    &hex[..hex.len().min(12)]
}

fn check_local_distribution(dist: &Distribution, root: &Path, project: &str) -> LinkStatus {
    // Absolute, so that the page's links resolve against a `file:` URL.
    let root = &std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
    let dir = root.join(project);
    let page = dir.join("index.html");
    let body = match windlass_fs::read(&page, PAGE_LIMIT) {
        Ok(body) => body,
        Err(e) => {
            return LinkStatus::Broken {
                why: format!("the index has no page for `{project}` ({})", read_why(&e)),
            };
        }
    };
    let base = url::Url::from_directory_path(&dir)
        .unwrap_or_else(|()| url::Url::parse("file:///").unwrap_or_else(|_| unreachable!()));
    let files = windlass_pypi::simple::parse_html(&String::from_utf8_lossy(&body), &base);
    if let Some(broken) = listed(&files, dist) {
        return broken;
    }
    let path = files
        .urls
        .get(&dist.filename)
        .and_then(|u| u.to_file_path().ok())
        .unwrap_or_else(|| dir.join(&dist.filename));
    // A static index serves its own files: a link out of it is not one.
    if !path.starts_with(root)
        || path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return LinkStatus::Broken {
            why: "the index links the file outside the index directory".to_owned(),
        };
    }
    let mut file = match windlass_fs::open(&path) {
        Ok(file) => file,
        Err(e) => {
            return LinkStatus::Broken {
                why: format!(
                    "the index lists the file but does not hold it ({})",
                    read_why(&e)
                ),
            };
        }
    };
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return LinkStatus::Broken {
                    why: format!("cannot read the file: {e}"),
                };
            }
        };
        received += n as u64;
        if received > dist.size {
            return LinkStatus::Broken {
                why: format!("the file is larger than its {} bytes", dist.size),
            };
        }
        hasher.update(&buf[..n]);
    }
    hashed(dist, received, &hex_of(hasher))
}

fn read_why(error: &windlass_fs::ReadError) -> String {
    if error.is_not_found() {
        format!("{} is missing", error.path().display())
    } else {
        windlass_output::error_line(error)
    }
}

fn hex_of(hasher: Sha256) -> String {
    hex::encode(hasher.finalize())
}

fn hashed(dist: &Distribution, size: u64, actual: &str) -> LinkStatus {
    if !actual.eq_ignore_ascii_case(&dist.sha256) {
        LinkStatus::Broken {
            why: format!(
                "the file served hashes to sha256 {}, not {}",
                short(actual),
                short(&dist.sha256)
            ),
        }
    } else if size != dist.size {
        LinkStatus::Broken {
            why: format!("the file served has {size} bytes, not {}", dist.size),
        }
    } else {
        LinkStatus::Holds
    }
}

async fn check_remote_distribution(
    dist: &Distribution,
    simple: &RedactedUrl,
    project: &str,
    http: &HttpClient,
    auth: Option<&Auth>,
) -> LinkStatus {
    let page = windlass_pypi::simple::project_url(simple, project);
    let files = match windlass_pypi::simple::lookup(http, &page, auth, windlass_http::Retries::Here)
        .await
    {
        Ok(files) => files,
        Err(windlass_pypi::simple::LookupError::Http(e)) => return http_status(&e),
        Err(e) => {
            return LinkStatus::Unreachable {
                why: windlass_output::error_line(&e),
            };
        }
    };
    if let Some(elsewhere) = &files.elsewhere {
        return LinkStatus::Broken {
            why: format!("the index does not hold the project (it redirects to {elsewhere})"),
        };
    }
    if let Some(broken) = listed(&files, dist) {
        return broken;
    }
    let Some(url) = files.urls.get(&dist.filename) else {
        return LinkStatus::Broken {
            why: "the index lists the file without a link".to_owned(),
        };
    };
    // The index's credentials go to the index's origin only.
    let auth = auth.filter(|_| url.origin() == simple.expose().origin());
    let url = RedactedUrl::new(url.clone());
    let response = http
        .send_with(Method::GET, &url, Policy::DOWNLOAD, |b| {
            let b = b.timeout(std::time::Duration::from_secs(
                120 + dist.size / windlass_fs::MIB,
            ));
            match auth {
                Some(auth) => auth.apply(b),
                None => b,
            }
        })
        .await;
    let mut response = match response {
        Ok(response) => response,
        Err(e) => return http_status(&e),
    };
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                received += chunk.len() as u64;
                if received > dist.size {
                    return LinkStatus::Broken {
                        why: format!("the file served is larger than its {} bytes", dist.size),
                    };
                }
                hasher.update(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return LinkStatus::Unreachable {
                    why: windlass_output::error_line(&HttpError::from_reqwest(
                        Method::GET,
                        &url,
                        e,
                    )),
                };
            }
        }
    }
    hashed(dist, received, &hex_of(hasher))
}

/// A 404 or 410 is a broken link; anything else stopped us asking.
fn http_status(error: &HttpError) -> LinkStatus {
    match error.status() {
        Some(StatusCode::NOT_FOUND | StatusCode::GONE) => LinkStatus::Broken {
            why: windlass_output::error_line(error),
        },
        _ => LinkStatus::Unreachable {
            why: windlass_output::error_line(error),
        },
    }
}

// ---------------------------------------------------------------------------
// Images

async fn check_image(image: &Image, manifest_dir: &Path, registry: &Client) -> Vec<Link> {
    let digest: Result<Digest, String> = image
        .digest
        .parse()
        .map_err(|e: windlass_image::digest::DigestError| e.to_string());
    let (target, results) = if let Some(dir) = image.repository.strip_prefix("oci:") {
        (
            image.repository.clone(),
            match digest {
                Ok(digest) => check_layout_image(image, &manifest_dir.join(dir), &digest),
                Err(why) => broken_all(image, &why),
            },
        )
    } else {
        (
            image.repository.clone(),
            match digest {
                Ok(digest) => check_registry_image(image, &digest, registry).await,
                Err(why) => broken_all(image, &why),
            },
        )
    };
    let mut results = results.into_iter();
    let mut links = vec![Link {
        what: LinkKind::Image,
        name: format!("{}@{}", image.name, short(&image.digest)),
        target: target.clone(),
        status: results.next().unwrap_or(LinkStatus::Holds),
    }];
    for (tag, status) in image.tags.iter().zip(results) {
        links.push(Link {
            what: LinkKind::Tag,
            name: format!("{}:{tag}", image.name),
            target: target.clone(),
            status,
        });
    }
    links
}

/// The image's status then each tag's, all broken for `why`.
fn broken_all(image: &Image, why: &str) -> Vec<LinkStatus> {
    std::iter::repeat_n(
        LinkStatus::Broken {
            why: why.to_owned(),
        },
        image.tags.len() + 1,
    )
    .collect()
}

fn check_layout_image(image: &Image, dir: &Path, digest: &Digest) -> Vec<LinkStatus> {
    let layout = match Layout::open(dir) {
        Ok(layout) => layout,
        Err(e) => return broken_all(image, &windlass_output::error_line(&e)),
    };
    let index = match layout.index() {
        Ok(index) => index,
        Err(e) => return broken_all(image, &windlass_output::error_line(&e)),
    };
    let listed = index
        .manifests()
        .iter()
        .any(|d| d.digest().to_string() == digest.to_string());
    let mut statuses = vec![if listed {
        match check_layout_content(&layout, digest, 0) {
            Ok(()) => LinkStatus::Holds,
            Err(why) => LinkStatus::Broken { why },
        }
    } else {
        LinkStatus::Broken {
            why: "the layout's index does not list the digest".to_owned(),
        }
    }];
    for tag in &image.tags {
        statuses.push(match layout.resolve(Some(tag)) {
            Ok(d) if d.digest().to_string() == digest.to_string() => LinkStatus::Holds,
            Ok(d) => LinkStatus::Broken {
                why: format!("the tag points at {}", d.digest()),
            },
            Err(windlass_image::layout::LayoutError::NoSuchTag { .. }) => LinkStatus::Broken {
                why: "the layout has no such tag".to_owned(),
            },
            Err(e) => LinkStatus::Broken {
                why: windlass_output::error_line(&e),
            },
        });
    }
    statuses
}

/// Every blob under `digest` is in the layout and hashes right.
fn check_layout_content(layout: &Layout, digest: &Digest, depth: u8) -> Result<(), String> {
    if depth > 4 {
        return Err("indexes nest too deep".to_owned());
    }
    let bytes = layout
        .read_blob(digest, windlass_image::registry::MANIFEST_LIMIT)
        .map_err(|e| missing_or(&e, digest))?;
    let manifest = windlass_image::registry::Manifest::from_bytes(bytes, None);
    let view = manifest
        .view()
        .map_err(|e| windlass_output::error_line(&e))?;
    for child in &view.manifests {
        let child = windlass_image::registry::digest_of(child)
            .map_err(|e| windlass_output::error_line(&e))?;
        check_layout_content(layout, &child, depth + 1)?;
    }
    for blob in view.config.iter().chain(&view.layers) {
        let blob = windlass_image::registry::digest_of(blob)
            .map_err(|e| windlass_output::error_line(&e))?;
        let mut file = layout.open_blob(&blob).map_err(|e| missing_or(&e, &blob))?;
        let mut writer = windlass_image::digest::HashingWriter::new(std::io::sink());
        std::io::copy(&mut file, &mut writer).map_err(|e| format!("blob {blob}: {e}"))?;
        let (actual, _, _) = writer.finish();
        if actual != blob {
            return Err(format!("blob {blob} hashes to {actual}"));
        }
    }
    Ok(())
}

fn missing_or(error: &windlass_image::layout::LayoutError, digest: &Digest) -> String {
    match error {
        windlass_image::layout::LayoutError::Read(e) if e.is_not_found() => {
            format!("blob {digest} is missing")
        }
        windlass_image::layout::LayoutError::Corrupt { actual, .. } => {
            format!("blob {digest} hashes to {actual}")
        }
        other => windlass_output::error_line(other),
    }
}

async fn check_registry_image(
    image: &Image,
    digest: &Digest,
    registry: &Client,
) -> Vec<LinkStatus> {
    let reference: Reference = match format!("{}@{digest}", image.repository).parse() {
        Ok(reference) => reference,
        Err(e) => {
            return broken_all(
                image,
                &format!(
                    "not a repository: {}",
                    windlass_output::error_line(&e as &dyn std::error::Error)
                ),
            );
        }
    };
    let repo = match registry.repo(&reference).await {
        Ok(repo) => repo,
        Err(e) => {
            let status = registry_status(&e);
            return std::iter::repeat_n(status, image.tags.len() + 1).collect();
        }
    };
    let mut statuses = vec![match repo.get_manifest(&digest.to_string()).await {
        Ok(_) => LinkStatus::Holds,
        Err(e) => registry_status(&e),
    }];
    for tag in &image.tags {
        statuses.push(match repo.head_manifest(tag).await {
            Ok(Some(d)) if d.digest().to_string() == digest.to_string() => LinkStatus::Holds,
            Ok(Some(d)) => LinkStatus::Broken {
                why: format!("the tag points at {}", d.digest()),
            },
            Ok(None) => LinkStatus::Broken {
                why: "the registry has no such tag".to_owned(),
            },
            Err(e) => registry_status(&e),
        });
    }
    statuses
}

fn registry_status(error: &RegistryError) -> LinkStatus {
    match error {
        RegistryError::NotFound { .. } | RegistryError::DigestMismatch { .. } => {
            LinkStatus::Broken {
                why: windlass_output::error_line(error),
            }
        }
        _ => LinkStatus::Unreachable {
            why: windlass_output::error_line(error),
        },
    }
}

// ---------------------------------------------------------------------------
// Environments

async fn check_environment(
    env: &EnvironmentRecord,
    manifest_dir: &Path,
    options: &VerifyOptions,
) -> Link {
    let (target, status) = match &env.target {
        EnvironmentTarget::Gitops { dir } => (
            dir.clone(),
            check_gitops(&manifest_dir.join(dir), &env.bundle),
        ),
        EnvironmentTarget::Cluster {
            context,
            namespace,
            release,
            ..
        } => (
            format!("{context}/{namespace}/{release}"),
            check_cluster(env, context, namespace, options).await,
        ),
    };
    Link {
        what: LinkKind::Environment,
        name: env.name.clone(),
        target,
        status,
    }
}

/// `bundle.json` as `deploy render` writes it: the id and the bundle (the
/// id is computed again from the bundle, never trusted).
#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct BundleFile {
    #[allow(dead_code, reason = "read to accept the file; the id is recomputed")]
    id: String,
    bundle: windlass_deploy::Bundle,
}

fn check_gitops(dir: &Path, bundle: &str) -> LinkStatus {
    let path = dir.join("bundle.json");
    let bytes = match windlass_fs::read(&path, BUNDLE_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) => {
            return LinkStatus::Broken {
                why: format!("no bundle.json ({})", read_why(&e)),
            };
        }
    };
    let found = match serde_json::from_slice::<BundleFile>(&bytes) {
        Ok(found) => found.bundle.id(),
        Err(e) => {
            return LinkStatus::Broken {
                why: format!("bundle.json is not a bundle: {e}"),
            };
        }
    };
    if found.as_str() == bundle {
        LinkStatus::Holds
    } else {
        LinkStatus::Broken {
            why: format!(
                "the directory holds bundle {}, not {}",
                found.short(),
                short(bundle)
            ),
        }
    }
}

async fn check_cluster(
    env: &EnvironmentRecord,
    context: &str,
    namespace: &str,
    options: &VerifyOptions,
) -> LinkStatus {
    use windlass_deploy::kube::{Cluster, Target, ledger::Ledger};
    let target = Target {
        kubeconfig: options.kubeconfig.clone(),
        context: Some(context.to_owned()),
        namespace: Some(namespace.to_owned()),
    };
    let cluster = match Cluster::connect(&target, &options.env).await {
        Ok(cluster) => cluster,
        Err(e) => {
            return LinkStatus::Unreachable {
                why: windlass_output::error_line(&e),
            };
        }
    };
    let ledger = Ledger::new(&cluster, &env.name);
    let view = match windlass_deploy::stage::LedgerView::read(&ledger).await {
        Ok(view) => view,
        Err(e) => {
            return LinkStatus::Unreachable {
                why: format!("{e:#}"),
            };
        }
    };
    match view.live() {
        Some(live) if live.started.bundle.as_str() == env.bundle => LinkStatus::Holds,
        Some(live) => LinkStatus::Broken {
            why: format!(
                "the environment runs bundle {}, not {}",
                live.started.bundle.short(),
                short(&env.bundle)
            ),
        },
        None => LinkStatus::Broken {
            why: "the environment's ledger has no live promotion".to_owned(),
        },
    }
}
