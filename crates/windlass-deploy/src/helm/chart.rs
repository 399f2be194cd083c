//! The chart archive a deploy installs, and its digest.
//!
//! - A local chart directory is packaged by Windlass itself,
//!   reproducibly: a gzip'd tar of `NAME/...` with entries sorted, modes
//!   normalised (0644, 0755 for executables), owner 0:0, every mtime
//!   `SOURCE_DATE_EPOCH` (else 1980-01-01) and no name or time in the gzip
//!   header, `.helmignore` honoured, subcharts under `charts/` included as
//!   files. Two checkouts of one commit give one digest, on any machine.
//! - A `.tgz` is used as it is.
//! - A chart in a repository (`repository` + name + `version`) or an
//!   `oci://` chart is fetched with `helm pull --version`; an `oci://`
//!   registry's credential (`[image.registries."HOST"]`, or the files
//!   podman and Docker read) is handed to `helm registry login
//!   --password-stdin` with a registry configuration of our own, never on
//!   argv. A chart repository's credential (`repository-username` and
//!   `repository-password`) goes to `helm repo add --password-stdin` into a
//!   repository configuration of our own, in a private directory removed
//!   afterwards, and the chart is pulled through that entry: never on argv
//!   either. Helm sends it to the repository's host only.
//!
//! Every archive is kept in the cache under its sha256
//! (`CACHE/charts/sha256/HEX/NAME-VERSION.tgz`); [`ChartRef::digest`] is
//! the sha256 of the file Helm installs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use windlass_config::Environment;
use windlass_diagnostic::{Diagnostic, ExitStatus};
use windlass_image::registry::HostSettings;
use windlass_image::registry::credentials::CredentialFiles;

use super::{HelmError, Subject, private_dir, run_helm};
use crate::bundle::ChartRef;
use crate::config::DeploySection;

/// The mtime of every entry when `SOURCE_DATE_EPOCH` is unset:
/// 1980-01-01T00:00:00Z (what zip and wheels use; any fixed time would do).
pub const DEFAULT_MTIME: u64 = 315_532_800;

/// The largest file of a chart read (a chart is a few templates; large
/// files belong elsewhere).
const FILE_LIMIT: u64 = 64 << 20;

/// A chart ready to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedChart {
    pub chart: ChartRef,
    /// The `.tgz` Helm installs; its sha256 is `chart.digest`.
    pub archive: PathBuf,
}

/// What fetching a remote chart needs.
#[derive(Debug, Clone)]
pub struct ChartSources<'a> {
    /// The `helm` binary ([`super::locate`]).
    pub helm: &'a Path,
    /// `[image.registries]`, resolved (`windlass_image::registry::config::
    /// host_settings`): credentials, `plain-http`, CA files per host.
    pub registries: &'a BTreeMap<String, HostSettings>,
    /// The credential files and helpers podman and Docker read, asked when
    /// `registries` has no credential for a host.
    pub files: Option<&'a CredentialFiles>,
    /// `SOURCE_DATE_EPOCH` and friends.
    pub env: &'a Environment,
    /// The credential of `[deploy] repository`, resolved
    /// (`repository-username` and `repository-password`).
    pub repository_credential: Option<&'a RepositoryCredential>,
}

/// A chart repository's user name and password.
#[derive(Debug, Clone)]
pub struct RepositoryCredential {
    pub username: String,
    pub password: windlass_redact::Secret<String>,
}

/// Why the chart cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("`[deploy] chart` is not set")]
    Missing,
    #[error("`[deploy] version` is required for the chart `{chart}`")]
    VersionRequired { chart: String },
    #[error(
        "`[deploy] version` is `{configured}` but {} says `{found}`",
        chart_yaml.display()
    )]
    VersionMismatch {
        chart_yaml: PathBuf,
        configured: String,
        found: String,
    },
    #[error("the chart `{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read the chart {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the chart file")]
    ReadFile(#[source] windlass_fs::ReadError),
    #[error("{} is not a chart's `Chart.yaml`: {why}", path.display())]
    ChartYaml { path: PathBuf, why: String },
    #[error("{} is not a chart archive: {why}", path.display())]
    Archive { path: PathBuf, why: String },
    #[error("cannot read {}", path.display())]
    Ignore { path: PathBuf, why: String },
    #[error("cannot write the chart archive in {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch the chart `{chart}` version `{version}`")]
    Pull {
        chart: String,
        version: String,
        #[source]
        source: Box<HelmError>,
    },
    #[error("cannot log in to the chart registry `{host}`")]
    Login {
        host: String,
        #[source]
        source: Box<HelmError>,
    },
    #[error("cannot look up the credential of the chart registry `{host}`")]
    Credential {
        host: String,
        #[source]
        source: windlass_image::registry::credentials::CredentialError,
    },
    #[error("`[deploy] repository` carries credentials in its URL (`{shown}`)")]
    CredentialsInUrl { shown: String },
    #[error("cannot add the chart repository `{url}`")]
    RepositoryAdd {
        url: String,
        #[source]
        source: Box<HelmError>,
    },
    #[error("`helm pull` of `{chart}` left no single archive in its directory")]
    PullOutput { chart: String },
    #[error(
        "the chart fetched as `{chart}` version `{version}` says it is `{found_name}` version `{found_version}`"
    )]
    Mismatch {
        chart: String,
        version: String,
        found_name: String,
        found_version: String,
    },
}

impl Diagnostic for ChartError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Pull { .. } | Self::Login { .. } | Self::RepositoryAdd { .. } => {
                ExitStatus::Remote
            }
            Self::Write { .. } => ExitStatus::Failure,
            _ => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Missing => Some(
                "set `chart` in `[deploy]`: a chart directory, a `.tgz`, `oci://...` or a chart name with `repository`"
                    .to_owned(),
            ),
            Self::VersionRequired { .. } => {
                Some("pin the chart: set `version` in `[deploy]`".to_owned())
            }
            Self::VersionMismatch { .. } => Some(
                "remove `version` from `[deploy]` (a local chart's Chart.yaml decides) or make them agree"
                    .to_owned(),
            ),
            Self::Login { .. } | Self::Credential { .. } => Some(
                "set `username` and `password` in `[image.registries.\"HOST\"]`".to_owned(),
            ),
            Self::CredentialsInUrl { .. } => Some(
                "take them out of the URL: set `repository-username` and `repository-password` (a secret reference such as `env://CHARTS_PASSWORD`) in `[deploy]`"
                    .to_owned(),
            ),
            Self::RepositoryAdd { source, .. } => source.hint().or_else(|| {
                Some("check `repository-username` and `repository-password` in `[deploy]`".to_owned())
            }),
            Self::Pull { source, .. } => source.hint(),
            _ => None,
        }
    }
}

/// Windlass's cache directory, as every tool finds it:
/// `WINDLASS_CACHE_DIR`, else `$XDG_CACHE_HOME/windlass`, else
/// `~/.cache/windlass`. Charts live in its `charts/`.
pub fn default_cache_dir(env: &Environment) -> PathBuf {
    windlass_dist::pep517::default_cache_dir(|name| env.get(name).map(ToOwned::to_owned))
}

/// The parts of `Chart.yaml` Windlass reads.
#[derive(Debug, Deserialize)]
struct ChartYaml {
    name: String,
    version: String,
}

/// The chart `[deploy]` names, as an archive in the cache (or the `.tgz`
/// it names), and its [`ChartRef`].
pub async fn resolve(
    deploy: &DeploySection,
    project_dir: &Path,
    cache_dir: &Path,
    sources: &ChartSources<'_>,
) -> Result<ResolvedChart, ChartError> {
    let chart = deploy.chart.as_deref().ok_or(ChartError::Missing)?;
    if let Some(repository) = &deploy.repository {
        if url::Url::parse(repository)
            .is_ok_and(|url| !url.username().is_empty() || url.password().is_some())
        {
            return Err(ChartError::CredentialsInUrl {
                shown: windlass_redact::mask_userinfo(repository).into_owned(),
            });
        }
        let version = required_version(deploy, chart)?;
        return pull(
            Remote::Repository {
                url: repository,
                name: chart,
            },
            version,
            cache_dir,
            sources,
        )
        .await;
    }
    if chart.starts_with("oci://") {
        let version = required_version(deploy, chart)?;
        return pull(
            Remote::Oci { reference: chart },
            version,
            cache_dir,
            sources,
        )
        .await;
    }
    let path = project_dir.join(chart);
    let resolved = if path.is_dir() {
        let epoch = sources
            .env
            .get_str("SOURCE_DATE_EPOCH")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MTIME);
        package(&path, cache_dir, epoch)?
    } else if path.is_file() {
        archive_ref(&path)?
    } else {
        return Err(ChartError::NotFound { path });
    };
    if let Some(configured) = &deploy.version
        && *configured != resolved.chart.version
    {
        return Err(ChartError::VersionMismatch {
            chart_yaml: path.join("Chart.yaml"),
            configured: configured.clone(),
            found: resolved.chart.version,
        });
    }
    Ok(ResolvedChart {
        chart: ChartRef {
            location: chart.to_owned(),
            ..resolved.chart
        },
        archive: resolved.archive,
    })
}

fn required_version<'a>(deploy: &'a DeploySection, chart: &str) -> Result<&'a str, ChartError> {
    deploy
        .version
        .as_deref()
        .ok_or_else(|| ChartError::VersionRequired {
            chart: chart.to_owned(),
        })
}

/// Packages the chart directory `dir` reproducibly into
/// `CACHE/charts/sha256/HEX/NAME-VERSION.tgz`, every entry's mtime
/// `mtime` (seconds since the epoch).
pub fn package(dir: &Path, cache_dir: &Path, mtime: u64) -> Result<ResolvedChart, ChartError> {
    let chart_yaml_path = dir.join("Chart.yaml");
    let meta = read_chart_yaml(&chart_yaml_path)?;
    let files = chart_files(dir)?;
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for relative in &files {
        let path = dir.join(relative);
        let bytes = windlass_fs::read(&path, FILE_LIMIT).map_err(ChartError::ReadFile)?;
        let executable = is_executable(&path);
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        let name = format!("{}/{}", meta.name, relative);
        tar.append_data(&mut header, &name, bytes.as_slice())
            .map_err(|source| ChartError::Write {
                path: cache_dir.to_owned(),
                source,
            })?;
    }
    let tar = tar.into_inner().map_err(|source| ChartError::Write {
        path: cache_dir.to_owned(),
        source,
    })?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    let gzipped = gz
        .write_all(&tar)
        .and_then(|()| gz.finish())
        .map_err(|source| ChartError::Write {
            path: cache_dir.to_owned(),
            source,
        })?;
    let digest = sha256_hex(&gzipped);
    let archive = store(cache_dir, &digest, &meta, |dest| {
        std::fs::write(dest, &gzipped)
    })?;
    Ok(ResolvedChart {
        chart: ChartRef {
            name: meta.name,
            version: meta.version,
            location: dir.display().to_string(),
            digest: format!("sha256:{digest}"),
        },
        archive,
    })
}

/// The relative paths (`/`-separated) of the chart's files, sorted,
/// without what `.helmignore` leaves out.
fn chart_files(dir: &Path) -> Result<Vec<String>, ChartError> {
    let ignore = helmignore(dir)?;
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    // Directories seen, by their real path: a symbolic link loop is read
    // once.
    let mut seen = std::collections::HashSet::new();
    if let Ok(real) = std::fs::canonicalize(dir) {
        seen.insert(real);
    }
    while let Some(relative) = pending.pop() {
        let absolute = dir.join(&relative);
        let entries = std::fs::read_dir(&absolute).map_err(|source| ChartError::Read {
            path: absolute.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| ChartError::Read {
                path: absolute.clone(),
                source,
            })?;
            let child = relative.join(entry.file_name());
            // Symbolic links are followed, as `helm package` does.
            let meta = std::fs::metadata(entry.path()).map_err(|source| ChartError::Read {
                path: entry.path(),
                source,
            })?;
            if ignore
                .matched_path_or_any_parents(&child, meta.is_dir())
                .is_ignore()
            {
                continue;
            }
            if meta.is_dir() {
                let real =
                    std::fs::canonicalize(entry.path()).map_err(|source| ChartError::Read {
                        path: entry.path(),
                        source,
                    })?;
                if seen.insert(real) {
                    pending.push(child);
                }
            } else if meta.is_file() {
                let text = child
                    .to_str()
                    .ok_or_else(|| ChartError::Archive {
                        path: entry.path(),
                        why: "the file name is not UTF-8".to_owned(),
                    })?
                    .to_owned();
                files.push(text);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `.helmignore` (gitignore syntax, as Helm reads it) and what Helm always
/// leaves out.
fn helmignore(dir: &Path) -> Result<ignore::gitignore::Gitignore, ChartError> {
    let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
    let path = dir.join(".helmignore");
    if path.is_file() {
        let text = windlass_fs::read_to_string(&path, FILE_LIMIT).map_err(ChartError::ReadFile)?;
        for line in text.lines() {
            builder
                .add_line(None, line)
                .map_err(|error| ChartError::Ignore {
                    path: path.clone(),
                    why: error.to_string(),
                })?;
        }
    }
    builder.build().map_err(|error| ChartError::Ignore {
        path,
        why: error.to_string(),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn read_chart_yaml(path: &Path) -> Result<ChartYaml, ChartError> {
    if !path.is_file() {
        return Err(ChartError::ChartYaml {
            path: path.to_owned(),
            why: "there is no Chart.yaml in the chart directory".to_owned(),
        });
    }
    let text = windlass_fs::read_to_string(path, FILE_LIMIT).map_err(ChartError::ReadFile)?;
    parse_chart_yaml(path, text.as_bytes())
}

fn parse_chart_yaml(path: &Path, bytes: &[u8]) -> Result<ChartYaml, ChartError> {
    let meta: ChartYaml =
        serde_yaml_ng::from_slice(bytes).map_err(|error| ChartError::ChartYaml {
            path: path.to_owned(),
            why: error.to_string(),
        })?;
    let valid_name = !meta.name.is_empty()
        && meta
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !meta.name.starts_with('.');
    if !valid_name {
        return Err(ChartError::ChartYaml {
            path: path.to_owned(),
            why: format!("`{}` is not a chart name", meta.name),
        });
    }
    Ok(meta)
}

/// A `.tgz` used as it is: its `Chart.yaml` and its sha256.
fn archive_ref(path: &Path) -> Result<ResolvedChart, ChartError> {
    let bytes = windlass_fs::read(path, FILE_LIMIT).map_err(ChartError::ReadFile)?;
    let meta = archive_chart_yaml(path, &bytes)?;
    Ok(ResolvedChart {
        chart: ChartRef {
            name: meta.name,
            version: meta.version,
            location: path.display().to_string(),
            digest: format!("sha256:{}", sha256_hex(&bytes)),
        },
        archive: path.to_owned(),
    })
}

/// The top-level `NAME/Chart.yaml` of a chart archive.
fn archive_chart_yaml(path: &Path, bytes: &[u8]) -> Result<ChartYaml, ChartError> {
    let bad = |why: String| ChartError::Archive {
        path: path.to_owned(),
        why,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive.entries().map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let parts: Vec<_> = name.components().collect();
        if parts.len() == 2 && parts[1].as_os_str() == "Chart.yaml" {
            let mut text = Vec::new();
            entry
                .by_ref()
                .take(FILE_LIMIT)
                .read_to_end(&mut text)
                .map_err(|e| bad(e.to_string()))?;
            return parse_chart_yaml(&path.join(&name), &text);
        }
    }
    Err(bad("it holds no `NAME/Chart.yaml`".to_owned()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Puts an archive into `CACHE/charts/sha256/HEX/NAME-VERSION.tgz` (written
/// beside it, then renamed, so a reader never sees half a file).
fn store(
    cache_dir: &Path,
    digest: &str,
    meta: &ChartYaml,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<PathBuf, ChartError> {
    let dir = cache_dir.join("charts").join("sha256").join(digest);
    let archive = dir.join(format!("{}-{}.tgz", meta.name, meta.version));
    if archive.is_file() {
        return Ok(archive);
    }
    let failed = |source| ChartError::Write {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(failed)?;
    let partial = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(&dir)
        .map_err(failed)?;
    write(partial.path()).map_err(failed)?;
    partial.persist(&archive).map_err(|e| failed(e.error))?;
    Ok(archive)
}

/// A chart somewhere else.
#[derive(Debug, Clone, Copy)]
enum Remote<'a> {
    /// A classic chart repository (an `index.yaml` server).
    Repository { url: &'a str, name: &'a str },
    /// `oci://HOST/REPO/NAME`.
    Oci { reference: &'a str },
}

impl Remote<'_> {
    fn display(&self) -> String {
        match self {
            Self::Repository { url, name } => {
                format!(
                    "{name} in {}",
                    windlass_redact::mask_userinfo(url).into_owned()
                )
            }
            Self::Oci { reference } => (*reference).to_owned(),
        }
    }
}

/// `helm pull` into a private directory, then into the cache under the
/// archive's digest.
async fn pull(
    remote: Remote<'_>,
    version: &str,
    cache_dir: &Path,
    sources: &ChartSources<'_>,
) -> Result<ResolvedChart, ChartError> {
    let shown = remote.display();
    let work = private_dir().map_err(|source| ChartError::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    let destination = work.path().join("pull");
    std::fs::create_dir(&destination).map_err(|source| ChartError::Write {
        path: destination.clone(),
        source,
    })?;
    let pull_failed = |source| ChartError::Pull {
        chart: shown.clone(),
        version: version.to_owned(),
        source: Box::new(source),
    };
    let mut args = pull_source_args(remote, work.path(), sources).await?;
    args.extend([
        "--version".into(),
        version.into(),
        "--destination".into(),
        destination.as_os_str().into(),
    ]);
    run_helm(
        sources.helm,
        &args,
        &Subject::none(),
        None,
        super::READ_TIMEOUT,
        work.path(),
    )
    .await
    .map_err(pull_failed)?;
    let mut archives = std::fs::read_dir(&destination)
        .map_err(|source| ChartError::Read {
            path: destination.clone(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tgz"))
        .collect::<Vec<_>>();
    let (Some(pulled), true) = (archives.pop(), archives.is_empty()) else {
        return Err(ChartError::PullOutput { chart: shown });
    };
    let bytes = windlass_fs::read(&pulled, FILE_LIMIT).map_err(ChartError::ReadFile)?;
    let meta = archive_chart_yaml(&pulled, &bytes)?;
    let expected_name = match remote {
        Remote::Repository { name, .. } => name.to_owned(),
        Remote::Oci { reference } => reference.rsplit('/').next().unwrap_or_default().to_owned(),
    };
    if meta.name != expected_name || meta.version != version {
        return Err(ChartError::Mismatch {
            chart: shown,
            version: version.to_owned(),
            found_name: meta.name,
            found_version: meta.version,
        });
    }
    let digest = sha256_hex(&bytes);
    let archive = store(cache_dir, &digest, &meta, |dest| {
        std::fs::write(dest, &bytes)
    })?;
    let location = match remote {
        Remote::Repository { url, .. } => windlass_redact::mask_userinfo(url).into_owned(),
        Remote::Oci { reference } => reference.to_owned(),
    };
    Ok(ResolvedChart {
        chart: ChartRef {
            name: meta.name,
            version: meta.version,
            location,
            digest: format!("sha256:{digest}"),
        },
        archive,
    })
}

/// `helm pull`'s first arguments: the chart, and the repository
/// configuration or registry login it is fetched through.
async fn pull_source_args(
    remote: Remote<'_>,
    work: &Path,
    sources: &ChartSources<'_>,
) -> Result<Vec<OsString>, ChartError> {
    let mut args: Vec<OsString> = vec!["pull".into()];
    match remote {
        Remote::Repository { url, name } => match sources.repository_credential {
            None => args.extend([name.into(), "--repo".into(), url.into()]),
            Some(credential) => {
                let config = work.join("repositories.yaml");
                let cache = work.join("repository-cache");
                add_repository(url, credential, &config, &cache, work, sources).await?;
                args.extend([
                    format!("{REPOSITORY_ENTRY}/{name}").into(),
                    "--repository-config".into(),
                    config.into_os_string(),
                    "--repository-cache".into(),
                    cache.into_os_string(),
                ]);
            }
        },
        Remote::Oci { reference } => {
            let host = oci_host(reference);
            let settings = sources.registries.get(&host.to_ascii_lowercase());
            let registry_config = work.join("registry.json");
            login(&host, settings, &registry_config, work, sources).await?;
            args.extend([
                reference.into(),
                "--registry-config".into(),
                registry_config.into_os_string(),
            ]);
            if settings.is_some_and(|s| s.plain_http) {
                args.push("--plain-http".into());
            }
            if let Some(ca) = settings.and_then(|s| s.ca_file.as_ref()) {
                args.extend(["--ca-file".into(), ca.as_os_str().into()]);
            }
        }
    }
    Ok(args)
}

/// The name of the one entry of our own repository configuration.
const REPOSITORY_ENTRY: &str = "windlass";

/// `helm repo add windlass URL --username U --password-stdin` into
/// `config` (a private file of our own, not the user's `repositories.yaml`).
async fn add_repository(
    url: &str,
    credential: &RepositoryCredential,
    config: &Path,
    cache: &Path,
    cwd: &Path,
    sources: &ChartSources<'_>,
) -> Result<(), ChartError> {
    let args: Vec<OsString> = vec![
        "repo".into(),
        "add".into(),
        REPOSITORY_ENTRY.into(),
        url.into(),
        "--username".into(),
        credential.username.as_str().into(),
        "--password-stdin".into(),
        "--repository-config".into(),
        config.as_os_str().into(),
        "--repository-cache".into(),
        cache.as_os_str().into(),
    ];
    run_helm(
        sources.helm,
        &args,
        &Subject::none(),
        Some(credential.password.clone()),
        super::READ_TIMEOUT,
        cwd,
    )
    .await
    .map_err(|source| ChartError::RepositoryAdd {
        url: url.to_owned(),
        source: Box::new(source),
    })?;
    Ok(())
}

/// `HOST[:PORT]` of `oci://HOST[:PORT]/REPO/NAME`.
fn oci_host(reference: &str) -> String {
    reference
        .trim_start_matches("oci://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// `helm registry login HOST --password-stdin` into `registry_config`,
/// when a credential for `host` is known.
async fn login(
    host: &str,
    settings: Option<&HostSettings>,
    registry_config: &Path,
    cwd: &Path,
    sources: &ChartSources<'_>,
) -> Result<(), ChartError> {
    let mut credential = settings.and_then(|s| s.credential.clone());
    if credential.is_none()
        && let Some(files) = sources.files
    {
        credential = files
            .lookup(host)
            .await
            .map_err(|source| ChartError::Credential {
                host: host.to_owned(),
                source,
            })?
            .map(|(credential, _origin)| credential);
    }
    let Some(credential) = credential else {
        return Ok(());
    };
    let mut args: Vec<OsString> = vec![
        "registry".into(),
        "login".into(),
        host.into(),
        "--username".into(),
        credential.username.as_str().into(),
        "--password-stdin".into(),
        "--registry-config".into(),
        registry_config.as_os_str().into(),
    ];
    if settings.is_some_and(|s| s.plain_http) {
        args.push("--plain-http".into());
    }
    if let Some(ca) = settings.and_then(|s| s.ca_file.as_ref()) {
        args.extend(["--ca-file".into(), ca.as_os_str().into()]);
    }
    run_helm(
        sources.helm,
        &args,
        &Subject::none(),
        Some(credential.password),
        super::READ_TIMEOUT,
        cwd,
    )
    .await
    .map_err(|source| ChartError::Login {
        host: host.to_owned(),
        source: Box::new(source),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_hosts() {
        assert_eq!(
            oci_host("oci://127.0.0.1:5000/charts/app"),
            "127.0.0.1:5000"
        );
        assert_eq!(oci_host("oci://ghcr.io/acme/app"), "ghcr.io");
    }

    #[test]
    fn chart_yaml_names() {
        let path = Path::new("Chart.yaml");
        assert!(parse_chart_yaml(path, b"name: app\nversion: 0.1.0\n").is_ok());
        for bad in [
            "name: ../x\nversion: 1\n",
            "name: ''\nversion: 1\n",
            "version: 1\n",
        ] {
            assert!(parse_chart_yaml(path, bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
