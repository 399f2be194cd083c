//! `image copy`: an image (all platforms of an index, with its referrers)
//! between registries and layouts, every digest unchanged.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::cli::Context;
use crate::layout::Layout;
use crate::push::{open_layout_source, parse_location};
use crate::reference::Location;
use crate::registry::transfer::{Source, Target, Transfer};
use crate::registry::{PushReport, TransferArgs, open_client};

/// `windlass image copy`.
#[derive(Debug, Clone, clap::Args)]
pub struct CopyArgs {
    /// The image: `REGISTRY/REPOSITORY[:TAG][@DIGEST]` or `oci:DIR[:TAG]`
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// Where to copy it: `REGISTRY/REPOSITORY[:TAG]` or `oci:DIR[:TAG]`
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
    /// Leave the image's referrers (SBOMs, signatures) behind
    #[arg(long)]
    pub no_referrers: bool,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// What `image copy` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct CopyReport(pub PushReport);

impl Outcome for CopyReport {
    fn render_human_at(&self, out: &mut dyn std::io::Write, verbose: u8) -> std::io::Result<()> {
        self.0.render_human_at(out, verbose)
    }
}

/// Runs `image copy`.
pub async fn run(args: &CopyArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<CopyReport> {
    let source_location = parse_location(&args.source, "source")?;
    let destination = parse_location(&args.destination, "destination")?;
    let registries: Vec<&str> = [&source_location, &destination]
        .into_iter()
        .filter_map(|l| match l {
            Location::Registry(r) => Some(r.registry.as_str()),
            Location::Layout { .. } => None,
        })
        .collect();
    let client = open_client(ctx, &args.transfer, printer, &registries).await?;
    let (source, root_target, root_hint) = match &source_location {
        Location::Registry(reference) => (
            Source::Registry(client.repo(reference).await?),
            reference.target(),
            None,
        ),
        Location::Layout { .. } => {
            let (layout, root) = open_layout_source(ctx, &source_location)?
                .ok_or_else(|| anyhow::anyhow!("not a layout"))?;
            (
                Source::Layout(layout),
                root.digest().to_string(),
                Some(root.media_type().to_string()),
            )
        }
    };
    let (target, tag, shown) = match &destination {
        Location::Registry(reference) => {
            let tag = match (&reference.tag, &reference.digest) {
                (Some(tag), _) => Some(tag.clone()),
                (None, Some(_)) => None,
                (None, None) => Some("latest".to_owned()),
            };
            (
                Target::Registry(client.repo(reference).await?),
                tag,
                reference.clone(),
            )
        }
        Location::Layout { dir, tag } => {
            let layout = Layout::open_or_create(&ctx.cwd.join(dir))?;
            let shown = crate::reference::Reference {
                registry: "oci".to_owned(),
                repository: "layout".to_owned(),
                tag: None,
                digest: None,
            };
            (Target::Layout(layout), tag.clone(), shown)
        }
    };
    let mut transfer = Transfer::new(&client, source, target).with_referrers(!args.no_referrers);
    let manifest = transfer
        .manifest(&root_target, root_hint.as_deref())
        .await?;
    if let Location::Registry(reference) = &destination
        && let Some(pinned) = &reference.digest
        && pinned != &manifest.digest
    {
        anyhow::bail!(
            "the source is {}, not the digest {pinned} the destination names",
            manifest.digest
        );
    }
    printer.status(
        "Copying",
        &format!("{} to {}", manifest.digest, args.destination),
    );
    transfer.copy(&manifest, tag.as_deref()).await?;
    if let Location::Layout { dir, tag: None } = &destination {
        // Untagged in a layout: listed in its index all the same.
        Layout::open(&ctx.cwd.join(dir))?.set_tag(manifest.descriptor(), None)?;
    }
    let destination_shown = match &destination {
        Location::Registry(_) => shown.with_digest(manifest.digest.clone()).to_string(),
        Location::Layout { dir, .. } => format!("oci:{}@{}", dir.display(), manifest.digest),
    };
    Ok(CopyReport(PushReport {
        source: source_location.to_string(),
        destination: destination_shown,
        digest: manifest.digest.clone(),
        media_type: manifest.media_type.clone(),
        size: manifest.bytes.len() as u64,
        tag,
        stats: transfer.stats(),
    }))
}
