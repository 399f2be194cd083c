//! `image tag`: more tags for an image already in a registry or layout.
//! Only the manifest is written (the exact bytes, so the digest stays);
//! no blob moves.

use serde::Serialize;
use windlass_output::{ExitStatus, Outcome, Printer, ResultExt as _};

use crate::cli::Context;
use crate::digest::Digest;
use crate::push::{open_layout_source, parse_location};
use crate::reference::{Location, valid_tag};
use crate::registry::{MANIFEST_LIMIT, Manifest, TransferArgs, open_client};

/// `windlass image tag`.
#[derive(Debug, Clone, clap::Args)]
pub struct TagArgs {
    /// The image: `REGISTRY/REPOSITORY:TAG`, `...@DIGEST` or `oci:DIR[:TAG]`
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The tags to add (in the same repository or layout)
    #[arg(value_name = "TAG", required = true)]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// What `image tag` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TagReport {
    pub image: String,
    pub digest: Digest,
    /// Every reference written, `REGISTRY/REPOSITORY:TAG`.
    pub tagged: Vec<String>,
}

impl Outcome for TagReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        for tagged in &self.tagged {
            writeln!(out, "{tagged}@{}", self.digest)?;
        }
        Ok(())
    }
}

/// Runs `image tag`.
pub async fn run(args: &TagArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<TagReport> {
    if let Some(bad) = args.tags.iter().find(|t| !valid_tag(t)) {
        return Err(anyhow::anyhow!(
            "`{}` is not a tag",
            windlass_output::escape_controls(bad)
        ))
        .with_hint("a tag is letters, digits, `_`, `.` and `-` (at most 128), starting with a letter, digit or `_`")
        .with_exit_status(ExitStatus::Usage);
    }
    let location = parse_location(&args.image, "image")?;
    let mut tagged = Vec::new();
    let digest = match &location {
        Location::Registry(reference) => {
            let client = open_client(ctx, &args.transfer, printer, &[&reference.registry]).await?;
            let repo = client.repo(reference).await?;
            let manifest = repo.get_manifest(&reference.target()).await?;
            for tag in &args.tags {
                repo.put_manifest(tag, &manifest).await?;
                tagged.push(reference.with_tag(tag).to_string());
            }
            manifest.digest
        }
        Location::Layout { dir, .. } => {
            let (layout, root) = open_layout_source(ctx, &location)?
                .ok_or_else(|| anyhow::anyhow!("not a layout"))?;
            let digest = crate::registry::digest_of(&root)?;
            // Checks the manifest is there and whole before naming it.
            let bytes = layout.read_blob(&digest, MANIFEST_LIMIT)?;
            let manifest = Manifest::from_bytes(bytes, Some(root.media_type().as_ref()));
            for tag in &args.tags {
                layout.set_tag(manifest.descriptor(), Some(tag))?;
                tagged.push(format!("oci:{}:{tag}", dir.display()));
            }
            manifest.digest
        }
    };
    Ok(TagReport {
        image: location.to_string(),
        digest,
        tagged,
    })
}
