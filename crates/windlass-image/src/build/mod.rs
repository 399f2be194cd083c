//! `image build`: an OCI image from a base image and new layers, without a
//! daemon or a container runtime.
//!
//! - [`layer`]: reproducible layer tarballs (sorted, owner `0:0`, one
//!   mtime, normalised modes), gzip or zstd, streamed into a layout blob.
//! - [`gzip`]: gzip in fixed-size members compressed in parallel.
//! - [`containerfile`]: the common Containerfile subset, with line numbers.
//! - [`plan`]: flags, `[image]` and a Containerfile turned into layers and
//!   config changes, in cache-friendly order (dependencies, the project's
//!   wheels, then files).
//! - [`base`]: the base image per platform (the one place bases are
//!   loaded).
//! - [`image`]: configs, manifests and the index, written with sorted keys
//!   so the same inputs give the same digest.
//! - [`git`]: the `org.opencontainers.image.{source,revision,version}`
//!   annotations.
//! - [`python`]: the one call into the native Python installer.

pub mod base;
pub mod containerfile;
pub mod git;
pub mod gzip;
pub mod image;
pub mod layer;
pub mod plan;
pub mod python;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::cli::Context;
use crate::digest::Digest;
use crate::layout::{Layout, LayoutError};
use crate::reference::{Location, Reference};
use crate::registry::{Client, TransferArgs, open_client};

pub use self::base::Platform;
pub use self::layer::Compression;

/// The layout an image goes to when neither `--output` nor
/// `[image] output` says: `dist/image` in the project, tagged `latest`.
pub const DEFAULT_OUTPUT: &str = "oci:dist/image:latest";
/// The time of every entry and of `created` without `SOURCE_DATE_EPOCH`:
/// 1980-01-01T00:00:00Z, as the wheels Windlass builds.
pub const DEFAULT_EPOCH: u64 = 315_532_800;

/// `windlass image build`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BuildArgs {
    /// The build context: `COPY` sources and `--copy` sources are relative
    /// to it [default: the project directory]
    #[arg(value_name = "CONTEXT")]
    pub context: Option<PathBuf>,
    /// Build this Containerfile (the common subset; see docs/image.md)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub containerfile: Option<PathBuf>,
    /// A value for an `ARG` of the Containerfile
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
    /// The base image: `oci:DIR[:TAG]` or a registry reference; replaces
    /// the Containerfile's `FROM`; `scratch` for none
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// Copy a file or directory into the image (repeatable; a DEST ending
    /// in `/` is a directory)
    #[arg(long = "copy", value_name = "SRC:DEST")]
    pub copy: Vec<String>,
    /// Install the packages of a requirements file natively (repeatable)
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub requirements: Vec<PathBuf>,
    /// Install a wheel natively, such as the project's (repeatable)
    #[arg(long = "wheel", value_name = "FILE")]
    pub wheels: Vec<PathBuf>,
    /// Install exactly the wheels of a PEP 751 lock file (`pylock.toml`)
    /// natively, each checked against its sha256
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Byte-compile the installed Python modules for the image's Python
    /// (`__pycache__/*.pyc`, needs a host CPython of the image's `X.Y`)
    /// [default: only a Containerfile's `RUN pip install`, as pip does]
    #[arg(long, overrides_with = "no_compile")]
    pub compile: bool,
    /// Byte-compile nothing, not even a Containerfile's `RUN pip install`
    #[arg(long, overrides_with = "compile")]
    pub no_compile: bool,
    /// The entrypoint: a JSON array, or words split at spaces
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// The default arguments: a JSON array, or words split at spaces
    #[arg(long, value_name = "ARGS")]
    pub cmd: Option<String>,
    /// Set an environment variable in the image (repeatable)
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// The working directory of the container
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// The user the container runs as
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// A port the container listens on (repeatable): `8080`, `53/udp`
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// Set a label (repeatable)
    #[arg(long = "label", value_name = "NAME=VALUE")]
    pub labels: Vec<String>,
    /// Build for these platforms (comma-separated `os/arch[/variant]`), one
    /// image each under an index; each must be offered by the base
    #[arg(long, value_name = "PLATFORMS", value_delimiter = ',')]
    pub platform: Vec<String>,
    /// How new layers are compressed [default: gzip]
    #[arg(long, value_enum, value_name = "ALGORITHM")]
    pub compression: Option<Compression>,
    /// The owner of copied files, `UID:GID` [default: 0:0]
    #[arg(long, value_name = "UID:GID")]
    pub owner: Option<String>,
    /// Where the image goes: `oci:DIR[:TAG]`, or `docker://REFERENCE` to push
    /// it without writing a layout [default: oci:dist/image:latest]
    #[arg(short = 'o', long, value_name = "LOCATION")]
    pub output: Option<String>,
    /// Also push the image to this registry reference
    #[arg(long, value_name = "REFERENCE")]
    pub push: Option<String>,
}

/// What `image build` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BuildReport {
    /// The manifest (one platform) or index (several) built.
    #[schemars(with = "String")]
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// Where it was written: `oci:DIR:TAG`, or `docker://REFERENCE` when
    /// pushed without a layout (`pushed` says where).
    pub output: String,
    /// The base image and the digest it was pinned to.
    pub base: Option<String>,
    pub manifests: Vec<image::BuiltManifest>,
    /// The new layers, in order.
    pub layers: Vec<image::BuiltLayer>,
    pub annotations: BTreeMap<String, String>,
    /// What `--push` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<crate::push::PushReport>,
}

impl Outcome for BuildReport {
    fn render_human_at(&self, out: &mut dyn std::io::Write, verbose: u8) -> std::io::Result<()> {
        if verbose > 0 {
            for layer in &self.layers {
                writeln!(
                    out,
                    "layer {} {} {}",
                    layer.digest,
                    windlass_output::human_size(layer.size),
                    layer.created_by
                )?;
            }
            for m in &self.manifests {
                writeln!(out, "{} {}", m.platform, m.digest)?;
            }
        }
        writeln!(out, "{}", self.digest)?;
        if let Some(pushed) = &self.pushed {
            writeln!(out, "{}", pushed.destination)?;
        }
        Ok(())
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Layer(layer::LayerError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Base(#[from] base::BaseError),
    #[error(transparent)]
    Containerfile(#[from] containerfile::ContainerfileError),
    #[error("{}:{line}: `{instruction}` failed", file.display())]
    Step {
        file: PathBuf,
        line: usize,
        instruction: String,
        #[source]
        source: Box<BuildError>,
    },
    #[error("{what}: {why}")]
    Input { what: String, why: String },
    #[error("`{}` is outside the build context `{}`", path.display(), context.display())]
    OutsideContext { path: PathBuf, context: PathBuf },
    #[error("`{}` is excluded by `{}`", path.display(), ignore_file)]
    Ignored { path: PathBuf, ignore_file: String },
    #[error("no file matches `{pattern}` in the build context")]
    NoMatch { pattern: String },
    #[error("`{}` is not a file this build copied into the image", path)]
    NotCopied { path: String },
    #[error("installing Python packages ({what}) needs their wheels fetched first")]
    NeedsPythonInstaller { what: String },
    #[error(transparent)]
    Python(#[from] crate::python::PythonError),
    #[error("output `{value}` is a registry reference without its transport")]
    BareOutput { value: String },
    #[error("`--push` needs the registry client")]
    NeedsRegistry,
    #[error("cannot make a scratch directory in `{}`", .0.display())]
    Scratch(PathBuf, #[source] std::io::Error),
}

impl windlass_output::Diagnostic for BuildError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        match self {
            Self::Python(e) => e.exit_status(),
            Self::Step { source, .. } => source.exit_status(),
            _ => windlass_output::ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Python(e) => e.hint(),
            Self::Layer(e) => e.hint(),
            Self::Base(e) => e.hint(),
            Self::Containerfile(e) => e.hint.clone(),
            Self::Step { source, .. } => source.hint(),
            Self::OutsideContext { .. } => {
                Some("a build takes only files inside its context: move the file in".into())
            }
            Self::Ignored { .. } => Some("remove its pattern from the ignore file".into()),
            Self::NotCopied { .. } => Some(
                "`COPY` the file into the image before the `RUN pip install` that reads it".into(),
            ),
            Self::NeedsPythonInstaller { .. } => {
                Some("run the build through `windlass image build`, which fetches them".into())
            }
            Self::BareOutput { .. } => Some(
                "write to a layout with `oci:DIR[:TAG]`, or push with `docker://REFERENCE`; \
                 a bare name such as `dist/image` would read as a Docker Hub repository"
                    .into(),
            ),
            Self::NeedsRegistry => Some(
                "write the image to a layout and copy it: `skopeo copy oci:DIR:TAG docker://REF`"
                    .into(),
            ),
            _ => None,
        }
    }

    fn location(&self) -> Option<windlass_output::SourceLocation> {
        match self {
            Self::Containerfile(e) => e.location(),
            Self::Step { file, line, .. } => Some(windlass_output::SourceLocation {
                file: file.clone(),
                line: *line,
                column: 1,
            }),
            _ => None,
        }
    }
}

/// Runs `image build`: a registry base is pulled into the cache's layout
/// first, Python wheels are fetched for the base's interpreter, the image
/// is written to the output layout, then pushed with `--push`.
pub async fn run(
    args: &BuildArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<BuildReport> {
    let project_dir = ctx
        .config
        .project_dir()
        .map_or_else(|| ctx.cwd.clone(), Path::to_path_buf);
    let mut request = plan::Request::from_args(args, &ctx.image, &ctx.cwd, &project_dir)?;
    let epoch = ctx
        .env
        .get_str("SOURCE_DATE_EPOCH")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_EPOCH);
    // The host Python and Windlass's cache (wheels and pulled bases); pip's
    // own configuration (PIP_INDEX_URL, pip.conf) names the index.
    let template =
        crate::python::FetchRequest::from_env(crate::python::Requirements::default(), |name| {
            ctx.env.get(name).map(std::ffi::OsStr::to_os_string)
        });
    let file = plan::read_containerfile(&request)?;
    let registry_base = match plan::base_choice(&request, file.as_ref())? {
        plan::BaseChoice::Image(Location::Registry(reference)) => Some(reference),
        _ => None,
    };
    // One client for the registries this build talks to (only their
    // passwords are resolved).
    // `-o docker://REF` is `--push REF` through a scratch layout in the
    // cache, removed once pushed.
    let pushed_output = match &request.output {
        Location::Registry(reference) => Some(reference.clone()),
        Location::Layout { .. } => None,
    };
    let destination = request.push.clone().or_else(|| pushed_output.clone());
    let registries: Vec<&str> = registry_base
        .iter()
        .chain(destination.iter())
        .map(|r| r.registry.as_str())
        .collect();
    let client = if registries.is_empty() {
        None
    } else {
        Some(open_client(ctx, &TransferArgs { jobs: 4 }, printer, &registries).await?)
    };
    // Builds share the base cache; a prune waits until they end (and runs
    // on its own at most once a day, when no build holds the cache).
    let _cache_lock = if registry_base.is_some() || pushed_output.is_some() {
        if registry_base.is_some() {
            crate::cache::auto_prune(&template.cache_dir, printer);
        }
        Some(crate::cache::lock_shared(&template.cache_dir)?)
    } else {
        None
    };
    if let (Some(reference), Some(client)) = (&registry_base, &client) {
        let platforms = plan::build_platforms(&request, file.as_ref())?;
        let pulled = pull_base(client, reference, &platforms, &template.cache_dir, printer).await?;
        let digest: Digest = pulled.descriptor.digest().to_string().parse().map_err(
            |e: crate::digest::DigestError| BuildError::Input {
                what: format!("base `{reference}`"),
                why: e.to_string(),
            },
        )?;
        crate::cache::record_use(&template.cache_dir, &digest, &reference.to_string())?;
        request.base = Some(plan::BaseChoice::Pulled(Box::new(pulled)));
    }
    let annotations = git::annotations(&request.context).await;
    let prepared = plan::prepare(&request, epoch)?;
    let mut template = template;
    if python::has_steps(&prepared.steps)
        && let Some(section) = &ctx.image.index
    {
        template.index = Some(python::index(section, ctx).await?);
    }
    let fetched = python::fetch(&prepared.steps, &prepared.base, &template, printer).await?;
    let scratch = match &pushed_output {
        Some(_) => {
            let dir = template.cache_dir.join("image-scratch");
            std::fs::create_dir_all(&dir).map_err(|e| BuildError::Scratch(dir.clone(), e))?;
            let scratch = tempfile::Builder::new()
                .prefix("output-")
                .tempdir_in(&dir)
                .map_err(|e| BuildError::Scratch(dir.clone(), e))?;
            request.output = Location::Layout {
                dir: scratch.path().to_owned(),
                tag: Some("latest".to_owned()),
            };
            Some(scratch)
        }
        None => None,
    };
    let mut report = write(&request, prepared, fetched, epoch, annotations, printer)?;
    if let Some(reference) = &pushed_output {
        report.output = format!("docker://{reference}");
    }
    if let (Some(destination), Some(client)) = (&destination, &client) {
        let Location::Layout { dir, tag } = &request.output else {
            return Err(BuildError::NeedsRegistry.into());
        };
        let layout = Layout::open(dir)?;
        let root = layout.resolve(tag.as_deref())?;
        report.pushed = Some(
            crate::push::push_from_layout(client, &layout, &root, destination, printer).await?,
        );
    }
    drop(scratch);
    Ok(report)
}

/// Pulls the registry base `reference` (the platforms asked for, else
/// this machine's) into the layout `CACHE/image-bases`.
async fn pull_base(
    client: &Client,
    reference: &Reference,
    platforms: &[Platform],
    cache_dir: &Path,
    printer: &Printer,
) -> anyhow::Result<plan::PulledBase> {
    let dir = cache_dir.join("image-bases");
    std::fs::create_dir_all(&dir).map_err(|e| LayoutError::Write {
        path: dir.clone(),
        source: e,
    })?;
    let layout = Layout::open_or_create(&dir)?;
    let wanted: Vec<Platform> = if platforms.is_empty() {
        vec![Platform::host()]
    } else {
        platforms.to_vec()
    };
    let wanted = wanted
        .iter()
        .map(|p| {
            serde_json::from_value::<oci_spec::image::Platform>(p.to_json()).map_err(|e| {
                BuildError::Input {
                    what: format!("platform `{p}`"),
                    why: e.to_string(),
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    printer.status("Pulling", &reference.to_string());
    let descriptor = crate::registry::pull_into_layout(client, reference, &wanted, &layout).await?;
    Ok(plan::PulledBase {
        name: reference.to_string(),
        layout,
        descriptor,
    })
}

/// Builds `request` (synchronous: the work is files and hashing). A build
/// with Python steps needs their wheels fetched first, which only [`run`]
/// does; here it stops before writing anything.
pub fn build(
    request: &plan::Request,
    epoch: u64,
    git_annotations: BTreeMap<String, String>,
    printer: &Printer,
) -> Result<BuildReport, BuildError> {
    let prepared = plan::prepare(request, epoch)?;
    if let Some(request) = prepared.steps.iter().find_map(|s| match &s.kind {
        image::StepKind::Python(r) => Some(r),
        image::StepKind::Files(_) | image::StepKind::Config => None,
    }) {
        return Err(python::unavailable(request));
    }
    write(
        request,
        prepared,
        python::Fetched::default(),
        epoch,
        git_annotations,
        printer,
    )
}

/// Writes the image `prepared` describes to the output layout.
fn write(
    request: &plan::Request,
    prepared: plan::Prepared,
    fetched: python::Fetched,
    epoch: u64,
    git_annotations: BTreeMap<String, String>,
    printer: &Printer,
) -> Result<BuildReport, BuildError> {
    let Location::Layout { dir, tag } = &request.output else {
        return Err(BuildError::NeedsRegistry);
    };
    std::fs::create_dir_all(dir).map_err(|e| LayoutError::Write {
        path: dir.clone(),
        source: e,
    })?;
    let out = Layout::open_or_create(dir)?;
    let mut annotations = git_annotations;
    annotations.insert(image::CREATED.into(), image::rfc3339(epoch));
    let assembly = image::Assembly {
        steps: prepared.steps,
        edits: prepared.edits,
        annotations: annotations.clone(),
        created: image::rfc3339(epoch),
        options: prepared.options,
        python: fetched,
    };
    printer.status(
        "Building",
        &format!(
            "{} on {}",
            windlass_output::plural(
                assembly
                    .steps
                    .iter()
                    .filter(|s| !matches!(s.kind, image::StepKind::Config))
                    .count(),
                "layer",
                "layers"
            ),
            prepared.base_name.as_deref().unwrap_or("scratch")
        ),
    );
    let built = image::assemble(&prepared.base, &assembly, &out)?;
    let descriptor = oci_spec::image::DescriptorBuilder::default()
        .media_type(oci_spec::image::MediaType::from(built.media_type))
        .digest(oci_spec::image::Digest::from(&built.digest))
        .size(built.size)
        .build()
        .map_err(|e| LayoutError::Write {
            path: dir.clone(),
            source: std::io::Error::other(e),
        })?;
    out.set_tag(descriptor, tag.as_deref())?;
    Ok(BuildReport {
        digest: built.digest,
        media_type: built.media_type.to_owned(),
        size: built.size,
        output: request.output.to_string(),
        base: prepared.base_name,
        manifests: built.manifests,
        layers: built.layers,
        annotations,
        pushed: None,
    })
}
