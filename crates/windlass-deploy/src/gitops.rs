//! `deploy render ENV --out DIR`: an environment's manifests as files, for
//! a GitOps tree that a controller (Argo CD, Flux) applies. No cluster is
//! contacted: the bundle is made as `deploy up` makes it (or read from the
//! `bundle.json` an earlier render wrote: promotion, nothing re-resolved),
//! and `helm template` renders the chart with the environment's values.
//!
//! `DIR/ENV/` holds `manifests.yaml` (Helm's output as is) and
//! `bundle.json` (the bundle and its id). It is written into a temporary
//! directory beside it and renamed into place, so a render that fails
//! leaves the previous tree as it was. The same inputs give the same bytes.
//!
//! Secrets never enter a GitOps tree: an environment with `secret-values`,
//! or any value that is a secret reference (`vault://`, `env://`, ...), is
//! refused, naming the key, before anything is rendered; the hint points
//! at External Secrets and Sealed Secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use windlass_output::{ExitStatus, Outcome, Printer, ResultExt as _};

use crate::bundle::{Bundle, BundleId};
use crate::cli::Context;
use crate::make::{ImageInput, MakeRequest};

/// The bundle file a render writes beside the manifests.
pub const BUNDLE_FILE: &str = "bundle.json";
/// Helm's output.
pub const MANIFESTS_FILE: &str = "manifests.yaml";
/// The most a `bundle.json` may hold.
const BUNDLE_FILE_LIMIT: u64 = 16 << 20;

/// `windlass deploy render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// The environment whose values are rendered
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// The GitOps tree: the manifests go to `DIR/ENV/`
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// An image of `[deploy.images]`: `NAME=REGISTRY/REPO@sha256:...`,
    /// `NAME=REGISTRY/REPO:TAG` (resolved once, now) or `NAME=oci:DIR[:TAG]`
    #[arg(long = "image", value_name = "NAME=REF", conflicts_with = "bundle")]
    pub images: Vec<String>,
    /// Render exactly this bundle (a `bundle.json` an earlier render wrote,
    /// e.g. `DIR/dev/bundle.json`): promotion, nothing re-resolved
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// The chart version (default: `[deploy] version`)
    #[arg(long, value_name = "VERSION", conflicts_with = "bundle")]
    pub chart_version: Option<String>,
}

/// What to render (the library's request; the CLI makes it from
/// [`RenderArgs`]).
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub environment: String,
    /// The tree's root (relative paths start at the working directory).
    pub out: PathBuf,
    pub images: Vec<ImageInput>,
    /// A `bundle.json` to promote instead of making a bundle.
    pub bundle: Option<PathBuf>,
    pub chart_version: Option<String>,
}

/// What a render wrote.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Rendered {
    pub environment: String,
    /// `DIR/ENV`.
    pub env_dir: PathBuf,
    pub release: String,
    pub namespace: String,
    pub bundle: Bundle,
    pub bundle_id: BundleId,
    /// The files written: `env_dir/manifests.yaml`, `env_dir/bundle.json`.
    pub files: Vec<PathBuf>,
}

impl Outcome for Rendered {
    fn render_human_at(&self, out: &mut dyn std::io::Write, _verbose: u8) -> std::io::Result<()> {
        writeln!(
            out,
            "Rendered {} (bundle {}, release `{}` in namespace `{}`) into {}",
            self.environment,
            self.bundle_id.short(),
            self.release,
            self.namespace,
            self.env_dir.display()
        )
    }
}

/// `bundle.json`: the bundle and its id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct BundleFile {
    id: BundleId,
    bundle: Bundle,
}

/// Runs `deploy render` from its flags.
pub async fn run(args: &RenderArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<Rendered> {
    let images = args
        .images
        .iter()
        .map(|text| text.parse::<ImageInput>())
        .collect::<Result<Vec<_>, _>>()?;
    let request = RenderRequest {
        environment: args.environment.clone(),
        out: ctx.cwd.join(&args.out),
        images,
        bundle: args.bundle.as_ref().map(|b| ctx.cwd.join(b)),
        chart_version: args.chart_version.clone(),
    };
    render(ctx, &request, printer).await
}

/// Renders `request.environment` into `request.out/ENV/`.
pub async fn render(
    ctx: &Context,
    request: &RenderRequest,
    printer: &Printer,
) -> anyhow::Result<Rendered> {
    let name = request.environment.as_str();
    let spec = crate::stage::spec(ctx, name)?;
    refuse_secret_values(name, spec)?;
    let mut deploy = ctx.deploy.clone();
    if let Some(version) = &request.chart_version {
        deploy.version = Some(version.clone());
    }
    let project_dir = ctx.project_dir();
    let (bundle, archive) = if let Some(file) = &request.bundle {
        let bundle = read_bundle(file)?;
        let archive = crate::commands::chart_archive(ctx, &bundle).await?;
        (bundle, archive)
    } else {
        let chart = crate::commands::resolve_chart(ctx, &deploy).await?;
        let resolver = crate::commands::up::image_resolver(ctx, printer, &request.images).await?;
        let bundle = crate::make::make_bundle(
            &MakeRequest {
                deploy: &deploy,
                project_dir: &project_dir,
                chart: chart.chart,
                images: request.images.clone(),
            },
            &resolver,
        )
        .await?;
        (bundle, chart.archive)
    };
    let documents =
        crate::make::environment_values(spec, &deploy, &project_dir, &bundle, &BTreeMap::new())?;
    for document in &documents {
        refuse_secret_references(name, "", document)?;
    }
    let release = spec
        .release
        .clone()
        .or_else(|| deploy.release.clone())
        .unwrap_or_else(|| bundle.chart.name.clone());
    let namespace = spec
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let helm = crate::helm::locate(&ctx.env).await?;
    printer.status(
        "Rendering",
        &format!(
            "{name}: chart {} {}, bundle {}",
            bundle.chart.name,
            bundle.chart.version,
            bundle.id().short()
        ),
    );
    let manifests =
        crate::helm::template(&helm, &release, &archive, &namespace, &documents).await?;
    let bundle_id = bundle.id();
    let mut file = serde_json::to_string_pretty(&BundleFile {
        id: bundle_id.clone(),
        bundle: bundle.clone(),
    })?;
    file.push('\n');
    let env_dir = request.out.join(name);
    let files = vec![
        (MANIFESTS_FILE, manifests),
        (BUNDLE_FILE, file.into_bytes()),
    ];
    replace_dir(&request.out, &env_dir, &files)?;
    let files = files.iter().map(|(n, _)| env_dir.join(n)).collect();
    Ok(Rendered {
        environment: name.to_owned(),
        env_dir,
        release,
        namespace,
        bundle,
        bundle_id,
        files,
    })
}

/// Reads a `bundle.json`, refusing one whose id is not its content's.
fn read_bundle(path: &Path) -> anyhow::Result<Bundle> {
    let text = windlass_fs::read_to_string(path, BUNDLE_FILE_LIMIT)?;
    let file: BundleFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("`{}` is not a bundle file: {e}", path.display()))
        .with_hint("give the `bundle.json` a `deploy render` wrote")
        .with_exit_status(ExitStatus::Usage)?;
    let actual = file.bundle.id();
    if actual != file.id {
        return Err(anyhow::anyhow!(
            "`{}` says bundle {} but its content is bundle {}",
            path.display(),
            file.id.as_str(),
            actual.as_str()
        ))
        .with_hint("the file was changed after it was rendered: render the source environment again, and promote that file unchanged")
        .with_exit_status(ExitStatus::Usage);
    }
    Ok(file.bundle)
}

const SECRETS_HINT: &str = "secrets do not belong in a GitOps tree: keep them in the cluster (External Secrets, Sealed Secrets) and reference the Secret from the chart's values";

/// `secret-values` are resolved at deploy time: never in a rendered tree.
fn refuse_secret_values(
    environment: &str,
    spec: &crate::config::EnvironmentSpec,
) -> anyhow::Result<()> {
    if let Some(key) = spec.secret_values.keys().next() {
        return Err(anyhow::anyhow!(
            "`deploy.environments.{environment}.secret-values` sets `{key}` from a secret reference: a rendered tree holds no secrets"
        ))
        .with_hint(SECRETS_HINT)
        .with_exit_status(ExitStatus::Usage);
    }
    Ok(())
}

/// A value that is a secret reference, anywhere in a values document.
fn refuse_secret_references(environment: &str, at: &str, value: &Value) -> anyhow::Result<()> {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                refuse_secret_references(environment, &path, value)?;
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                refuse_secret_references(environment, &format!("{at}[{index}]"), item)?;
            }
        }
        Value::String(text) if is_secret_reference(text) => {
            // The reference names where the secret is, not the secret:
            // still, only the key is shown.
            return Err(anyhow::anyhow!(
                "the values of environment `{environment}` hold a secret reference at `{at}`: a rendered tree holds no secrets"
            ))
            .with_hint(SECRETS_HINT)
            .with_exit_status(ExitStatus::Usage);
        }
        _ => {}
    }
    Ok(())
}

fn is_secret_reference(text: &str) -> bool {
    let text = text.trim();
    ["vault://", "env://", "keyring://"].iter().any(|scheme| {
        text.len() > scheme.len() && text[..scheme.len()].eq_ignore_ascii_case(scheme)
    })
}

/// Writes `files` into a new directory beside `env_dir` and renames it
/// into place (the previous one removed after).
fn replace_dir(out: &Path, env_dir: &Path, files: &[(&str, Vec<u8>)]) -> anyhow::Result<()> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        windlass_output::Classified::new(
            anyhow::Error::new(e).context(format!("cannot {what} `{}`", path.display())),
        )
        .with_status(ExitStatus::Failure)
        .into()
    };
    std::fs::create_dir_all(out).map_err(|e| -> anyhow::Error { io("create", out, e) })?;
    let staging = tempfile::Builder::new()
        .prefix(".windlass-render-")
        .tempdir_in(out)
        .map_err(|e| -> anyhow::Error { io("write into", out, e) })?;
    for (name, bytes) in files {
        let path = staging.path().join(name);
        std::fs::write(&path, bytes).map_err(|e| -> anyhow::Error { io("write", &path, e) })?;
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| -> anyhow::Error { io("write", &path, e) })?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| -> anyhow::Error { io("write", staging.path(), e) })?;
    }
    let staged = staging.keep();
    let previous = if std::fs::symlink_metadata(env_dir).is_ok() {
        let old = out.join(format!(
            ".windlass-old-{}",
            env_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(env_dir, &old)
            .map_err(|e| -> anyhow::Error { io("replace", env_dir, e) })?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&staged, env_dir) {
        if let Some(old) = &previous {
            let _ = std::fs::rename(old, env_dir);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(io("replace", env_dir, e));
    }
    if let Some(old) = previous {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}
