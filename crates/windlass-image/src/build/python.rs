//! The one place `image build` asks for Python packages: the native
//! installer (`crate::python`) reads the base image's interpreter, fetches
//! wheels for its platform and installs them into a staging tree laid out
//! as the image's root.
//!
//! Fetching runs pip and byte-compiling a host Python (child processes,
//! async), so both happen before the image is assembled: [`fetch`] detects
//! each platform's Python, downloads the wheels of every Python step,
//! installs them into a staging tree and compiles them when asked;
//! [`installed`], called while the layers are written, hands the tree
//! over. What was installed is attached to
//! each platform's manifest as a CycloneDX SBOM referrer in the output
//! layout ([`attach_sbom`]), which `image push` and `image build --push`
//! carry to the registry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use oci_spec::image::{ImageConfiguration, ImageManifest};
use windlass_output::{ExitStatus, Printer, ResultExt as _};

use super::BuildError;
use super::base::{BaseImage, BaseManifest, OCI_MANIFEST};
use super::image::{Step, StepKind};
use crate::config::IndexSection;
use crate::digest::Digest;
use crate::layout::Layout;
use crate::python::{
    Compiler, FetchRequest, Index, IndexCredentials, InstallReport, InstallRequest, PythonError,
    PythonTarget, Requirements, SBOM_MEDIA_TYPE, SbomOptions, find_compiler,
};

/// What to install into one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonRequest {
    /// Requirement files on this machine (`-r`).
    pub requirements: Vec<PathBuf>,
    /// Wheel files on this machine.
    pub wheels: Vec<PathBuf>,
    /// Requirement specifiers (`numpy==2.1.0`).
    pub pins: Vec<String>,
    /// A PEP 751 lock file: exactly its wheels.
    pub lock: Option<PathBuf>,
    /// Byte-compile the installed modules for the image's Python.
    pub compile: bool,
    /// The compilation is pip's default, not asked for: without a host
    /// interpreter of the image's version the step is installed without
    /// bytecode (with a warning) instead of failing.
    pub compile_by_default: bool,
}

impl PythonRequest {
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
            && self.wheels.is_empty()
            && self.pins.is_empty()
            && self.lock.is_none()
    }
}

/// The packages of every Python step for every platform, fetched and
/// installed into staging trees before assembly.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// By (step index, platform).
    steps: BTreeMap<(usize, String), Installed>,
}

/// One step's packages for one platform, installed.
#[derive(Debug, Clone)]
struct Installed {
    /// The image's root; removed when the last clone goes.
    staging: Arc<tempfile::TempDir>,
    report: InstallReport,
}

/// Reads the Python of each platform of `base`, fetches the wheels of each
/// Python step of `steps` for it, with the host Python, cache and index of
/// `template`, installs them into a staging tree (in the cache directory)
/// and byte-compiles them when the step asks. Nothing is fetched for a
/// build without Python steps.
///
/// This runs before assembly because pip and the compiler are child
/// processes (async); assembly only turns the trees into layers.
pub async fn fetch(
    steps: &[Step],
    base: &BaseImage,
    template: &FetchRequest,
    printer: &Printer,
) -> Result<Fetched, BuildError> {
    let mut fetched = Fetched::default();
    let python_steps: Vec<(usize, &PythonRequest)> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.kind {
            StepKind::Python(r) => Some((i, r)),
            StepKind::Files(_) | StepKind::Config => None,
        })
        .collect();
    if python_steps.is_empty() {
        return Ok(fetched);
    }
    let scratch = &template.cache_dir;
    std::fs::create_dir_all(scratch).map_err(|e| BuildError::Scratch(scratch.clone(), e))?;
    let any_compiled = python_steps.iter().any(|(_, r)| r.compile);
    let all_by_default = python_steps
        .iter()
        .all(|(_, r)| !r.compile || r.compile_by_default);
    let mut skipped: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    // One compiler per Python version, found before anything is fetched.
    let mut compilers: BTreeMap<String, Compiler> = BTreeMap::new();
    let mut targets = Vec::new();
    for image in &base.images {
        let target = detect(base, image)?;
        let version = target.python_version();
        if any_compiled && !compilers.contains_key(&version) && !skipped.contains(&version) {
            match find_compiler(&template.python, &target, scratch).await {
                Ok(compiler) => {
                    compilers.insert(version, compiler);
                }
                // Only pip's default asked for bytecode: build without it.
                Err(PythonError::NoCompiler { .. }) if all_by_default => {
                    printer.warn(&format!(
                        "not byte-compiling: no CPython {version} on this machine to compile \
                         for the image (install it, or pass --compile to require it or \
                         --no-compile to silence this)"
                    ));
                    skipped.insert(version);
                }
                Err(e) => return Err(e.into()),
            }
        }
        targets.push((image, target));
    }
    for (image, target) in targets {
        printer.status(
            "Resolving",
            &format!(
                "wheels for CPython {} on {}",
                target.python_version(),
                image.platform
            ),
        );
        for (i, request) in &python_steps {
            let wheels = crate::python::fetch(
                &FetchRequest {
                    requirements: Requirements {
                        files: request.requirements.clone(),
                        pins: request.pins.clone(),
                        wheels: request.wheels.clone(),
                        lock: request.lock.clone(),
                    },
                    ..template.clone()
                },
                &target,
            )
            .await?;
            let staging = tempfile::Builder::new()
                .prefix(".python-")
                .tempdir_in(scratch)
                .map_err(|e| BuildError::Scratch(scratch.clone(), e))?;
            let mut report = crate::python::install(
                &InstallRequest::from_fetched(&wheels),
                &target,
                staging.path(),
            )?;
            if request.compile
                && let Some(compiler) = compilers.get(&target.python_version())
            {
                let count = crate::python::compile(compiler, staging.path(), &mut report).await?;
                printer.status(
                    "Compiled",
                    &format!(
                        "{} for CPython {}",
                        windlass_output::plural(count, "module", "modules"),
                        compiler.version
                    ),
                );
            }
            fetched.steps.insert(
                (*i, image.platform.to_string()),
                Installed {
                    staging: Arc::new(staging),
                    report,
                },
            );
        }
    }
    Ok(fetched)
}

/// The Python of one platform's base image, read from its layers.
fn detect(base: &BaseImage, image: &BaseManifest) -> Result<PythonTarget, BuildError> {
    let Some(layout) = &base.layout else {
        return Err(PythonError::NoPython {
            searched: "an empty (`scratch`) base".into(),
        }
        .into());
    };
    let bad = |why: String| BuildError::from(PythonError::BaseImage { why });
    let manifest: ImageManifest = serde_json::from_value(image.manifest.clone())
        .map_err(|e| bad(format!("its manifest: {e}")))?;
    let config: ImageConfiguration = serde_json::from_value(image.config.clone())
        .map_err(|e| bad(format!("its config: {e}")))?;
    // Reading the layers is file work; a build is one task.
    Ok(PythonTarget::detect(layout, &manifest, &config)?)
}

/// Whether any step installs Python packages.
pub fn has_steps(steps: &[Step]) -> bool {
    steps.iter().any(|s| matches!(s.kind, StepKind::Python(_)))
}

/// `[image.index]`, its password resolved (registered with the redactor;
/// it reaches pip only inside `PIP_INDEX_URL` in its environment).
pub async fn index(section: &IndexSection, ctx: &crate::cli::Context) -> anyhow::Result<Index> {
    let credentials = match (&section.username, &section.password) {
        (_, None) => None,
        (None, Some(_)) => {
            return Err(anyhow::anyhow!(
                "`image.index.password` is set without `image.index.username`"
            ))
            .with_hint("add the user name the index expects (`__token__` for a token)")
            .with_exit_status(ExitStatus::Usage);
        }
        (Some(username), Some(reference)) => {
            let parsed = windlass_secrets::SecretRef::parse(reference)
                .context("`image.index.password` is not a secret reference")
                .with_exit_status(ExitStatus::Usage)?;
            let http = windlass_http::HttpConfig::from_settings(&ctx.config.settings.http);
            let secrets = windlass_secrets::SecretsConfig::from_effective(&ctx.config)?;
            let base_dir = ctx
                .config
                .project_dir()
                .map_or_else(|| ctx.cwd.clone(), Path::to_path_buf);
            let resolver =
                windlass_secrets::Resolver::new(ctx.env.clone(), &base_dir, secrets.vault)
                    .with_http(http);
            let password = resolver.resolve(&parsed).await;
            resolver.close_unless_interrupted().await;
            let password = password.context("cannot resolve `image.index.password`")?;
            Some(IndexCredentials {
                username: username.clone(),
                password,
            })
        }
    };
    Ok(Index {
        url: section.url.clone(),
        credentials,
    })
}

/// The staging tree (the image's root) of step `step` on `image`'s
/// platform, installed by [`fetch`], and what it holds.
pub fn installed<'a>(
    step: usize,
    fetched: &'a Fetched,
    image: &BaseManifest,
) -> Result<(&'a Path, InstallReport), BuildError> {
    let Some(installed) = fetched.steps.get(&(step, image.platform.to_string())) else {
        return Err(BuildError::NeedsPythonInstaller {
            what: format!("step {} on {}", step + 1, image.platform),
        });
    };
    Ok((installed.staging.path(), installed.report.clone()))
}

/// The error of a build that asks for Python packages where they cannot
/// be fetched (a synchronous build without [`fetch`]).
pub fn unavailable(request: &PythonRequest) -> BuildError {
    BuildError::NeedsPythonInstaller {
        what: describe(request),
    }
}

fn describe(request: &PythonRequest) -> String {
    let mut parts = Vec::new();
    parts.extend(
        request
            .requirements
            .iter()
            .map(|p| format!("-r {}", p.display())),
    );
    parts.extend(request.wheels.iter().map(|p| p.display().to_string()));
    parts.extend(request.pins.iter().cloned());
    parts.join(" ")
}

/// Writes the SBOM of `report` into `out` as a referrer of the manifest
/// `subject` (an artifact manifest whose `subject` is it, listed untagged
/// in the layout's index), and returns the artifact manifest's digest.
pub fn attach_sbom(
    out: &Layout,
    subject: (&Digest, u64),
    report: &InstallReport,
    options: &SbomOptions,
    created: &str,
) -> Result<Digest, BuildError> {
    let sbom = crate::python::sbom(report, options);
    let subject = crate::registry::descriptor(
        crate::registry::media_type(OCI_MANIFEST),
        subject.0,
        subject.1,
    );
    let artifact = crate::artifact::Artifact {
        artifact_type: SBOM_MEDIA_TYPE,
        blob: &sbom,
        annotations: BTreeMap::from([(super::image::CREATED.to_owned(), created.to_owned())]),
    };
    let attached = crate::artifact::attach_to_layout(out, &subject, &artifact)?;
    crate::registry::digest_of(&attached.descriptor).map_err(|e| BuildError::Input {
        what: "the SBOM's descriptor".into(),
        why: e.to_string(),
    })
}

/// Several steps' reports as one (for one platform's SBOM).
pub fn merge(reports: Vec<InstallReport>) -> InstallReport {
    let mut packages: BTreeMap<(String, String), crate::python::InstalledPackage> = BTreeMap::new();
    for report in reports {
        for p in report.packages {
            packages
                .entry((p.name.to_ascii_lowercase(), p.version.clone()))
                .or_insert(p);
        }
    }
    InstallReport {
        packages: packages.into_values().collect(),
    }
}
