//! What a release is about, read before anything is done: the
//! configuration, the version (every wheel project's, matching the tag),
//! the source commit, the wheel projects, the images and the first
//! environment.

use std::path::{Path, PathBuf};

use windlass_config::{EffectiveConfig, Environment};
use windlass_deploy::config::DeploySection;
use windlass_output::{Classified, ExitStatus};

use crate::config::{DEFAULT_LOCAL_DIR, NO_ENVIRONMENT, ReleaseSection};
use crate::manifest::Source;

/// A release, as configured.
#[derive(Debug)]
pub struct Release {
    pub config: EffectiveConfig,
    pub env: Environment,
    pub cwd: PathBuf,
    /// Where `windlass.toml` is (else the working directory).
    pub project_dir: PathBuf,
    pub section: ReleaseSection,
    pub deploy: DeploySection,
    /// The first wheel project's name (else the directory's name).
    pub project: String,
    pub version: String,
    pub source: Source,
    pub wheels: Vec<WheelProject>,
    pub images: Vec<ImageTarget>,
    /// The environment the bundle goes to first; `None` deploys nothing.
    pub environment: Option<String>,
}

/// A Python project the release builds and publishes.
#[derive(Debug)]
pub struct WheelProject {
    pub dir: PathBuf,
    pub name: String,
    pub version: String,
    /// Its own configuration (`[wheel]`, `[wheel.repositories]`, `[vault]`).
    pub ctx: windlass_wheel::cli::Context,
    /// `[release] repository`, else the project's `[wheel] repository`.
    pub repository: Option<String>,
}

/// An image the release builds and pushes.
#[derive(Debug, Clone)]
pub struct ImageTarget {
    /// A key of `[release.images]` and `[deploy.images]`.
    pub name: String,
    pub containerfile: PathBuf,
    pub context: PathBuf,
    /// `REGISTRY/REPOSITORY` from `[deploy.images.NAME]`.
    pub repository: String,
    /// Sorted, `{version}` filled in.
    pub tags: Vec<String>,
}

/// A configuration problem (exit 2) with a hint.
pub(crate) fn usage(message: String, hint: impl Into<String>) -> anyhow::Error {
    Classified::new(anyhow::Error::msg(message))
        .with_status(ExitStatus::Usage)
        .with_hint(hint.into())
        .into()
}

impl Release {
    /// Reads the configuration (`--config`, else `windlass.toml` found from
    /// the working directory), each wheel project's `pyproject.toml` and
    /// git. Nothing is built or looked up.
    pub async fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        let loaded = windlass_secrets::ToolConfig::load(config_file, None)?;
        let section = loaded.config.section::<ReleaseSection>("release")?;
        let deploy = loaded.config.section::<DeploySection>("deploy")?;
        let project_dir = loaded
            .config
            .project_dir()
            .map_or_else(|| loaded.cwd.clone(), Path::to_path_buf);
        let wheel_dirs: Vec<PathBuf> = match &section.wheels {
            Some(dirs) => dirs.iter().map(|d| d.resolve(&project_dir)).collect(),
            None if project_dir.join("pyproject.toml").is_file() => vec![project_dir.clone()],
            None => Vec::new(),
        };
        let mut wheels = Vec::new();
        for dir in wheel_dirs {
            wheels.push(wheel_project(&dir, section.repository.as_deref())?);
        }
        let version = common_version(&wheels)?;
        let source = source(&project_dir).await;
        check_tag(&version, source.tag.as_deref())?;
        let images = image_targets(&section, &deploy, &project_dir, &version)?;
        let environment = first_environment(&section, &deploy)?;
        let project = wheels.first().map_or_else(
            || {
                project_dir.file_name().map_or_else(
                    || "project".to_owned(),
                    |n| n.to_string_lossy().into_owned(),
                )
            },
            |w| w.name.clone(),
        );
        Ok(Self {
            config: loaded.config,
            env: loaded.env,
            cwd: loaded.cwd,
            project_dir,
            section,
            deploy,
            project,
            version,
            source,
            wheels,
            images,
            environment,
        })
    }

    /// Where `--local` writes: `[release] local-dir`, else
    /// `dist/release/local` of the project.
    pub fn local_dir(&self) -> PathBuf {
        self.section.local_dir.as_ref().map_or_else(
            || self.project_dir.join(DEFAULT_LOCAL_DIR),
            |dir| dir.resolve(&self.project_dir),
        )
    }

    /// Where the manifest is written: `dist/release/manifest.json`.
    pub fn manifest_path(&self) -> PathBuf {
        self.project_dir.join("dist/release/manifest.json")
    }

    /// Scratch space for builds: `dist/release/work`.
    pub fn work_dir(&self) -> PathBuf {
        self.project_dir.join("dist/release/work")
    }

    /// An `image` context on this release's configuration.
    pub fn image_context(&self) -> anyhow::Result<windlass_image::cli::Context> {
        Ok(windlass_image::cli::Context {
            config: self.config.clone(),
            image: self
                .config
                .section::<windlass_image::config::ImageSection>("image")?,
            env: self.env.clone(),
            cwd: self.project_dir.clone(),
        })
    }

    /// A `deploy` context on this release's configuration.
    pub fn deploy_context(&self) -> windlass_deploy::cli::Context {
        windlass_deploy::cli::Context {
            config: self.config.clone(),
            deploy: self.deploy.clone(),
            env: self.env.clone(),
            cwd: self.project_dir.clone(),
        }
    }

    /// The environments in promotion order from the first one: the first,
    /// then each whose `from` is the one before.
    pub fn environment_chain(&self) -> Vec<String> {
        let Some(first) = &self.environment else {
            return Vec::new();
        };
        let mut chain = vec![first.clone()];
        while let Some(next) = self.deploy.environments.iter().find_map(|(name, spec)| {
            (spec.from.as_deref() == chain.last().map(String::as_str) && !chain.contains(name))
                .then(|| name.clone())
        }) {
            chain.push(next);
        }
        chain
    }
}

fn wheel_project(dir: &Path, repository: Option<&str>) -> anyhow::Result<WheelProject> {
    let pyproject = windlass_dist::pyproject::PyProject::read(dir).map_err(|e| {
        usage(
            format!(
                "`[release] wheels`: cannot read the project in `{}`: {e}",
                dir.display()
            ),
            "list directories holding a pyproject.toml in `[release] wheels`",
        )
    })?;
    let project = pyproject.project.as_ref().ok_or_else(|| {
        usage(
            format!(
                "`{}/pyproject.toml` has no `[project]` table Windlass can read",
                dir.display()
            ),
            "a release needs each project's name and version in `[project]`",
        )
    })?;
    let version = project.version.clone().ok_or_else(|| {
        usage(
            format!("`{}/pyproject.toml`: the version is dynamic", dir.display()),
            "write `version = \"X.Y.Z\"` in `[project]`: a release takes its version from there",
        )
    })?;
    let ctx = windlass_wheel::cli::Context::load(None, dir)?;
    let repository = repository
        .map(ToOwned::to_owned)
        .or_else(|| ctx.wheel.repository.clone());
    Ok(WheelProject {
        dir: dir.to_path_buf(),
        name: project.name.clone(),
        version,
        ctx,
        repository,
    })
}

/// Every wheel project's version, which must be one.
fn common_version(wheels: &[WheelProject]) -> anyhow::Result<String> {
    let Some(first) = wheels.first() else {
        return Err(usage(
            "the release has no Python project to take its version from".to_owned(),
            "set `[release] wheels = [\"path/to/project\"]`, or run it in a project with a pyproject.toml",
        ));
    };
    if let Some(other) = wheels.iter().find(|w| w.version != first.version) {
        return Err(usage(
            format!(
                "the projects disagree on the version: `{}` is {} and `{}` is {}",
                first.name, first.version, other.name, other.version
            ),
            "a release has one version: give every project in `[release] wheels` the same one",
        ));
    }
    Ok(first.version.clone())
}

/// `HEAD`, the `origin` URL without credentials, and a tag naming `HEAD`
/// (`vX.Y.Z` or `X.Y.Z` first).
async fn source(dir: &Path) -> Source {
    use windlass_image::build::git::{git, public_url};
    let commit = git(dir, &["rev-parse", "--verify", "HEAD"])
        .await
        .filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "0".repeat(40));
    let repository = match git(dir, &["remote", "get-url", "origin"]).await {
        Some(url) => public_url(&url),
        None => None,
    };
    let tags = git(dir, &["tag", "--points-at", "HEAD"])
        .await
        .unwrap_or_default();
    let mut tags: Vec<&str> = tags
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort_by_key(|t| !looks_like_version(t));
    Source {
        repository,
        commit,
        tag: tags.first().map(|t| (*t).to_owned()),
    }
}

fn looks_like_version(tag: &str) -> bool {
    tag.strip_prefix('v')
        .unwrap_or(tag)
        .starts_with(|c: char| c.is_ascii_digit())
}

/// A version tag on `HEAD` must name the version.
fn check_tag(version: &str, tag: Option<&str>) -> anyhow::Result<()> {
    let Some(tag) = tag.filter(|t| looks_like_version(t)) else {
        return Ok(());
    };
    if tag.strip_prefix('v').unwrap_or(tag) == version {
        return Ok(());
    }
    Err(usage(
        format!("HEAD is tagged `{tag}` but the project's version is {version}"),
        format!(
            "set the version to {} in pyproject.toml, or tag the commit `v{version}`",
            tag.strip_prefix('v').unwrap_or(tag)
        ),
    ))
}

fn image_targets(
    section: &ReleaseSection,
    deploy: &DeploySection,
    project_dir: &Path,
    version: &str,
) -> anyhow::Result<Vec<ImageTarget>> {
    let mut images = Vec::new();
    for (name, spec) in &section.images {
        let Some(deployed) = deploy.images.get(name) else {
            let known: Vec<&str> = deploy.images.keys().map(String::as_str).collect();
            return Err(usage(
                format!(
                    "`[release.images.{name}]` has no `[deploy.images.{name}]` to take its repository from{}",
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (known: {})", known.join(", "))
                    }
                ),
                format!("add `[deploy.images.{name}] repository = \"REGISTRY/REPO\"`"),
            ));
        };
        let context = spec
            .context
            .as_ref()
            .map_or_else(|| project_dir.to_path_buf(), |c| c.resolve(project_dir));
        let containerfile = spec
            .containerfile
            .as_ref()
            .map_or_else(|| context.join("Containerfile"), |c| c.resolve(project_dir));
        images.push(ImageTarget {
            name: name.clone(),
            containerfile,
            context,
            repository: deployed.repository.clone(),
            tags: spec.tags(version),
        });
    }
    Ok(images)
}

fn first_environment(
    section: &ReleaseSection,
    deploy: &DeploySection,
) -> anyhow::Result<Option<String>> {
    match section.environment.as_deref() {
        Some(NO_ENVIRONMENT) => Ok(None),
        Some(name) => {
            if deploy.environments.contains_key(name) {
                Ok(Some(name.to_owned()))
            } else {
                let known: Vec<&str> = deploy.environments.keys().map(String::as_str).collect();
                Err(usage(
                    format!(
                        "`[release] environment = \"{name}\"` is not an environment of `[deploy]` (known: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                    "name one of `[deploy.environments]`, or \"none\" to deploy nothing",
                ))
            }
        }
        None if deploy.chart.is_none() => Ok(None),
        None => Ok(deploy
            .environments
            .iter()
            .find(|(_, spec)| spec.from.is_none())
            .map(|(name, _)| name.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_must_name_the_version() {
        assert!(check_tag("0.4.0", Some("v0.4.0")).is_ok());
        assert!(check_tag("0.4.0", Some("0.4.0")).is_ok());
        assert!(check_tag("0.4.0", Some("release-candidate")).is_ok());
        assert!(check_tag("0.4.0", None).is_ok());
        let error = check_tag("0.4.0", Some("v0.5.0")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "HEAD is tagged `v0.5.0` but the project's version is 0.4.0"
        );
    }
}
