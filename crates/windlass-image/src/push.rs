//! `image push`: an image of an OCI layout to a registry, by digest, then
//! its tag.

use anyhow::Context as _;
use windlass_output::{ExitStatus, Outcome, Printer, ResultExt as _};

use crate::cli::Context;
use crate::layout::Layout;
use crate::reference::{Location, Reference};
use crate::registry::{TransferArgs, open_client};

pub use crate::registry::{PushReport, push_from_layout};

/// `windlass image push`.
#[derive(Debug, Clone, clap::Args)]
pub struct PushArgs {
    /// The image: `oci:DIR[:TAG]` (the tag may be left out when the layout
    /// holds one image)
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// Where to push it: `REGISTRY/REPOSITORY[:TAG]`
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

impl Outcome for PushReport {
    fn render_human_at(&self, out: &mut dyn std::io::Write, verbose: u8) -> std::io::Result<()> {
        writeln!(out, "{}", self.destination)?;
        if verbose > 0 {
            let s = &self.stats;
            writeln!(
                out,
                "blobs: {} sent ({}), {} already there, {} mounted; {} manifests, {} referrers",
                s.blobs_sent,
                windlass_output::human_size(s.bytes_sent),
                s.blobs_existing,
                s.blobs_mounted,
                s.manifests,
                s.referrers
            )?;
        }
        Ok(())
    }
}

/// Reads `oci:DIR[:TAG]` into a layout and the descriptor it names.
pub(crate) fn open_layout_source(
    ctx: &Context,
    location: &Location,
) -> anyhow::Result<Option<(Layout, oci_spec::image::Descriptor)>> {
    let Location::Layout { dir, tag } = location else {
        return Ok(None);
    };
    let layout = Layout::open(&ctx.cwd.join(dir)).with_exit_status(ExitStatus::Usage)?;
    let root = layout
        .resolve(tag.as_deref())
        .with_exit_status(ExitStatus::Usage)?;
    Ok(Some((layout, root)))
}

/// Parses a location given on the command line (exit 2 when it is not one).
pub(crate) fn parse_location(text: &str, what: &str) -> anyhow::Result<Location> {
    text.parse::<Location>()
        .with_context(|| format!("cannot read the {what}"))
        .with_exit_status(ExitStatus::Usage)
}

/// Runs `image push`.
pub async fn run(args: &PushArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<PushReport> {
    let source = parse_location(&args.source, "source")?;
    let Some((layout, root)) = open_layout_source(ctx, &source)? else {
        return Err(anyhow::anyhow!(
            "`image push` takes an OCI layout (`oci:DIR[:TAG]`) as its source, not `{}`",
            args.source
        ))
        .with_hint("to copy from a registry, use `windlass image copy`")
        .with_exit_status(ExitStatus::Usage);
    };
    let destination: Reference = match parse_location(&args.destination, "destination")? {
        Location::Registry(reference) => reference,
        Location::Layout { .. } => {
            return Err(anyhow::anyhow!(
                "`image push` pushes to a registry, not to `{}`",
                args.destination
            ))
            .with_hint("to copy between layouts, use `windlass image copy`")
            .with_exit_status(ExitStatus::Usage);
        }
    };
    let client = open_client(ctx, &args.transfer, printer, &[&destination.registry]).await?;
    let report = push_from_layout(&client, &layout, &root, &destination, printer).await?;
    Ok(report)
}
