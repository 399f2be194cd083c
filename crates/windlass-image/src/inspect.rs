//! `image inspect`: an image's manifest, config, platforms, sizes and
//! referrers, from a registry or a layout, without pulling its layers.

use serde::Serialize;
use windlass_output::{Outcome, Printer, human_size};

use crate::cli::Context;
use crate::digest::Digest;
use crate::push::{open_layout_source, parse_location};
use crate::reference::Location;
use crate::registry::transfer::Source;
use crate::registry::{Manifest, TransferArgs, digest_of, open_client};

/// The largest image config read.
const CONFIG_LIMIT: u64 = 16 << 20;

/// `windlass image inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// The image: `REGISTRY/REPOSITORY[:TAG][@DIGEST]` or `oci:DIR[:TAG]`
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// What `image inspect` found.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct InspectReport {
    pub image: String,
    pub digest: Digest,
    pub media_type: String,
    /// The size of the manifest or index itself.
    pub size: u64,
    /// For an index: one entry per image.
    pub platforms: Vec<PlatformEntry>,
    /// For an image manifest: its config, layers and total size.
    pub image_manifest: Option<ImageEntry>,
    /// Artifacts (SBOMs, signatures) that refer to this digest.
    pub referrers: Vec<ReferrerEntry>,
    /// The manifest or index as stored.
    pub manifest: serde_json::Value,
}

/// One image of an index.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PlatformEntry {
    /// `os/architecture[/variant]`, or `unknown`.
    pub platform: String,
    pub digest: Digest,
    pub media_type: String,
    #[serde(flatten)]
    pub image: ImageEntry,
}

/// An image manifest's config and layers.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImageEntry {
    pub config: ConfigSummary,
    pub layers: Vec<LayerEntry>,
    /// Config and layers (compressed), in bytes.
    pub total_size: u64,
}

/// What the image config says.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct ConfigSummary {
    pub digest: Option<Digest>,
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    pub created: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub env: Option<Vec<String>>,
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LayerEntry {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ReferrerEntry {
    pub digest: Digest,
    pub artifact_type: Option<String>,
    pub size: u64,
}

impl Outcome for InspectReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "{}", self.image)?;
        writeln!(out, "digest: {}", self.digest)?;
        writeln!(out, "media type: {}", self.media_type)?;
        let render_image = |out: &mut dyn std::io::Write, image: &ImageEntry, indent: &str| {
            let c = &image.config;
            if let (Some(os), Some(arch)) = (&c.os, &c.architecture) {
                writeln!(out, "{indent}platform: {os}/{arch}")?;
            }
            if let Some(entrypoint) = &c.entrypoint {
                writeln!(out, "{indent}entrypoint: {entrypoint:?}")?;
            }
            if let Some(cmd) = &c.cmd {
                writeln!(out, "{indent}cmd: {cmd:?}")?;
            }
            writeln!(
                out,
                "{indent}size: {} in {} layers",
                human_size(image.total_size),
                image.layers.len()
            )?;
            for layer in &image.layers {
                writeln!(out, "{indent}  {} {}", layer.digest, human_size(layer.size))?;
            }
            Ok::<(), std::io::Error>(())
        };
        if let Some(image) = &self.image_manifest {
            render_image(out, image, "")?;
        }
        for platform in &self.platforms {
            writeln!(out, "{} {}", platform.platform, platform.digest)?;
            render_image(out, &platform.image, "  ")?;
        }
        if !self.referrers.is_empty() {
            writeln!(out, "referrers:")?;
            for r in &self.referrers {
                writeln!(
                    out,
                    "  {} {} {}",
                    r.digest,
                    r.artifact_type.as_deref().unwrap_or("-"),
                    human_size(r.size)
                )?;
            }
        }
        Ok(())
    }
}

/// Runs `image inspect`.
pub async fn run(
    args: &InspectArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<InspectReport> {
    let location = parse_location(&args.image, "image")?;
    let (source, target, hint) = match &location {
        Location::Registry(reference) => {
            let client = open_client(ctx, &args.transfer, printer, &[&reference.registry]).await?;
            let repo = client.repo(reference).await?;
            (Source::Registry(repo), reference.target(), None)
        }
        Location::Layout { .. } => {
            let (layout, root) = open_layout_source(ctx, &location)?
                .ok_or_else(|| anyhow::anyhow!("not a layout"))?;
            (
                Source::Layout(layout),
                root.digest().to_string(),
                Some(root.media_type().to_string()),
            )
        }
    };
    let inspector = Inspector { source };
    let manifest = inspector.manifest(&target, hint.as_deref()).await?;
    let view = manifest.view()?;
    let mut platforms = Vec::new();
    let mut image_manifest = None;
    if manifest.is_index() {
        for child in &view.manifests {
            let child_manifest = inspector
                .manifest(child.digest().as_ref(), Some(child.media_type().as_ref()))
                .await?;
            let platform = child.platform().as_ref().map_or_else(
                || "unknown".to_owned(),
                |p| {
                    let mut s = format!("{}/{}", p.os(), p.architecture());
                    if let Some(v) = p.variant() {
                        s.push('/');
                        s.push_str(v);
                    }
                    s
                },
            );
            platforms.push(PlatformEntry {
                platform,
                digest: child_manifest.digest.clone(),
                media_type: child_manifest.media_type.clone(),
                image: inspector.image(&child_manifest).await?,
            });
        }
    } else {
        image_manifest = Some(inspector.image(&manifest).await?);
    }
    let referrers = inspector
        .referrers(&manifest.digest)
        .await?
        .into_iter()
        .filter_map(|d| {
            Some(ReferrerEntry {
                digest: digest_of(&d).ok()?,
                artifact_type: d.artifact_type().as_ref().map(ToString::to_string),
                size: d.size(),
            })
        })
        .collect();
    Ok(InspectReport {
        image: location.to_string(),
        digest: manifest.digest.clone(),
        media_type: manifest.media_type.clone(),
        size: manifest.bytes.len() as u64,
        platforms,
        image_manifest,
        referrers,
        manifest: serde_json::from_slice(&manifest.bytes).unwrap_or_default(),
    })
}

struct Inspector {
    source: Source,
}

impl Inspector {
    async fn manifest(&self, target: &str, hint: Option<&str>) -> anyhow::Result<Manifest> {
        Ok(self.source.manifest(target, hint).await?)
    }

    async fn referrers(&self, digest: &Digest) -> anyhow::Result<Vec<oci_spec::image::Descriptor>> {
        Ok(self.source.referrers(digest).await?)
    }

    async fn image(&self, manifest: &Manifest) -> anyhow::Result<ImageEntry> {
        let view = manifest.view()?;
        let mut total = 0;
        let mut summary = ConfigSummary::default();
        if let Some(config) = &view.config {
            total += config.size();
            let digest = digest_of(config)?;
            summary.digest = Some(digest.clone());
            let bytes = match &self.source {
                Source::Registry(repo) => {
                    repo.read_blob(&digest, config.size().min(CONFIG_LIMIT))
                        .await?
                }
                Source::Layout(layout) => layout.read_blob(&digest, CONFIG_LIMIT)?,
            };
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
                let list = |v: &serde_json::Value| {
                    v.as_array().map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                };
                summary.os = value.get("os").and_then(text);
                summary.architecture = value.get("architecture").and_then(text);
                summary.variant = value.get("variant").and_then(text);
                summary.created = value.get("created").and_then(text);
                if let Some(c) = value.get("config") {
                    summary.entrypoint = c.get("Entrypoint").and_then(list);
                    summary.cmd = c.get("Cmd").and_then(list);
                    summary.working_dir =
                        c.get("WorkingDir").and_then(text).filter(|s| !s.is_empty());
                    summary.user = c.get("User").and_then(text).filter(|s| !s.is_empty());
                    summary.env = c.get("Env").and_then(list);
                    summary.labels = c
                        .get("Labels")
                        .and_then(|l| serde_json::from_value(l.clone()).ok());
                }
            }
        }
        let mut layers = Vec::new();
        for layer in &view.layers {
            total += layer.size();
            layers.push(LayerEntry {
                digest: digest_of(layer)?,
                size: layer.size(),
                media_type: layer.media_type().to_string(),
            });
        }
        Ok(ImageEntry {
            config: summary,
            layers,
            total_size: total,
        })
    }
}
