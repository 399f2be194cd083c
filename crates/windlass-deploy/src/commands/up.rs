//! `deploy up ENV`: make a bundle from the configuration and the images
//! just built, and deploy it.

use std::sync::atomic::{AtomicBool, Ordering};

use windlass_output::Printer;

use crate::cli::Context;
use crate::make::{ImageInput, MakeRequest, RegistryResolver};
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
    Ok(images
        .iter()
        .map(|text| text.parse::<ImageInput>())
        .collect::<Result<_, _>>()?)
}

/// Resolves image tags through windlass-image's registry client, with
/// the credentials of only the registries the tags name.
pub(crate) async fn image_resolver(
    ctx: &Context,
    printer: &Printer,
    images: &[ImageInput],
) -> anyhow::Result<RegistryResolver> {
    let image_ctx = windlass_image::cli::Context {
        config: ctx.config.clone(),
        image: ctx
            .config
            .section::<windlass_image::config::ImageSection>("image")?,
        env: ctx.env.clone(),
        cwd: ctx.cwd.clone(),
    };
    RegistryResolver::open(&image_ctx, printer, images).await
}

/// Runs `deploy up`.
pub async fn run(
    args: &UpArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<PromotionReport> {
    let spec = crate::stage::spec(ctx, &args.environment)?;
    let images = image_inputs(&args.images)?;
    crate::gates::validate(&args.environment, &spec.gates)?;
    let mut deploy = ctx.deploy.clone();
    if let Some(version) = &args.chart_version {
        deploy.version = Some(version.clone());
    }
    let project_dir = ctx.project_dir();
    let bundle_made = windlass_process::until_interrupted(Box::pin(async {
        let chart = super::resolve_chart(ctx, &deploy).await?;
        let resolver = image_resolver(ctx, printer, &images).await?;
        let bundle = crate::make::make_bundle(
            &MakeRequest {
                deploy: &deploy,
                project_dir: &project_dir,
                chart: chart.chart,
                images,
            },
            &resolver,
        )
        .await?;
        anyhow::Ok((bundle, chart.archive))
    }));
    if args.dry_run {
        let (bundle, _) = bundle_made.await??;
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
    // While the bundle is made, the environment is opened (the cluster's
    // connection started, Helm found) and its lease taken, with the first
    // look at its ledger. A bundle that cannot be made is the error shown:
    // at once, unless the lease is being taken (it is then given back).
    let taking = AtomicBool::new(false);
    let mut bundle_made = std::pin::pin!(bundle_made);
    let mut started = std::pin::pin!(async {
        let stage =
            windlass_process::until_interrupted(Stage::open_unchecked(ctx, &args.environment))
                .await??;
        super::check_strategy(&stage).await?;
        taking.store(true, Ordering::SeqCst);
        let begun = crate::promotion::begin(ctx, &stage, printer).await?;
        anyhow::Ok((stage, begun))
    });
    let (made, done) = tokio::select! {
        made = &mut bundle_made => {
            let made = made.map_err(anyhow::Error::from).and_then(|made| made);
            let done = if made.is_err() && taking.load(Ordering::SeqCst) {
                Some(started.as_mut().await)
            } else {
                None
            };
            (made, done)
        }
        done = &mut started => {
            let made = bundle_made.await.map_err(anyhow::Error::from).and_then(|made| made);
            (made, Some(done))
        }
    };
    let (bundle, archive) = match made {
        Ok(made) => made,
        Err(error) => {
            if let Some(Ok((stage, begun))) = done {
                begun.release(&stage, printer).await;
            }
            return Err(error);
        }
    };
    let (stage, begun) = match done {
        Some(done) => done?,
        None => started.await?,
    };
    let report = crate::promotion::run_begun(
        ctx,
        &stage,
        begun,
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
