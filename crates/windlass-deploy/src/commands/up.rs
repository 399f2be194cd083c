//! `deploy up ENV`: make a bundle from the configuration and the images
//! just built, and deploy it.

use windlass_output::{ExitStatus, Printer, ResultExt as _};

use crate::cli::Context;
use crate::make::{ImageInput, ImageResolver, MakeRequest};
use crate::promotion::{Kind, PromotionReport, Request};
use crate::stage::Stage;

/// `windlass deploy up`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// The environment (normally the first one, with no `from`)
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// An image of `[deploy.images]`: `NAME=REGISTRY/REPO@sha256:...`,
    /// `NAME=REGISTRY/REPO:TAG` (resolved once, now) or `NAME=oci:DIR[:TAG]`
    #[arg(long = "image", value_name = "NAME=REF")]
    pub images: Vec<String>,
    /// The chart version (default: `[deploy] version`)
    #[arg(long, value_name = "VERSION")]
    pub chart_version: Option<String>,
    /// Make and show the bundle, deploy nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Deploy the bundle even though it was rolled back in ENV before
    #[arg(long)]
    pub allow_rolled_back: bool,
}

fn image_inputs(images: &[String]) -> anyhow::Result<Vec<ImageInput>> {
    images
        .iter()
        .map(|text| {
            let (name, reference) = text
                .split_once('=')
                .filter(|(n, r)| !n.is_empty() && !r.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "`--image {}` is not NAME=REF",
                        windlass_output::escape_controls(text)
                    )
                })
                .with_hint("name an image of `[deploy.images]`: `--image web=registry.example.com/web@sha256:...`")
                .with_exit_status(ExitStatus::Usage)?;
            Ok(ImageInput {
                name: name.to_owned(),
                reference: reference.to_owned(),
            })
        })
        .collect()
}

/// Runs `deploy up`.
pub async fn run(
    args: &UpArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<PromotionReport> {
    let spec = crate::stage::spec(ctx, &args.environment)?;
    let images = image_inputs(&args.images)?;
    let mut deploy = ctx.deploy.clone();
    if let Some(version) = &args.chart_version {
        deploy.version = Some(version.clone());
    }
    let project_dir = ctx.project_dir();
    let bundle = windlass_process::until_interrupted(Box::pin(async {
        let chart = super::resolve_chart(ctx, &deploy).await?;
        let bundle = crate::make::make_bundle(
            &MakeRequest {
                deploy: &deploy,
                project_dir: &project_dir,
                chart: chart.chart,
                images,
            },
            &ImageResolver,
        )
        .await?;
        anyhow::Ok((bundle, chart.archive))
    }))
    .await??;
    let (bundle, archive) = bundle;
    if args.dry_run {
        let release = spec
            .release
            .clone()
            .or_else(|| deploy.release.clone())
            .unwrap_or_else(|| bundle.chart.name.clone());
        return Ok(PromotionReport::dry_run(
            &args.environment,
            &release,
            bundle,
        ));
    }
    let stage = windlass_process::until_interrupted(Stage::open(ctx, &args.environment)).await??;
    super::check_strategy(&stage)?;
    let report = crate::promotion::run(
        ctx,
        &stage,
        Request {
            kind: Kind::Up,
            bundle,
            from: None,
            archive: Some(archive),
            rollback_to: None,
            replacing: None,
            allow_rolled_back: args.allow_rolled_back,
        },
        printer,
    )
    .await?;
    crate::summary::promotion(printer, &report);
    Ok(report)
}
