//! `deploy promote FROM TO`: the bundle live in FROM, deployed to TO
//! exactly (from FROM's ledger, never rebuilt or re-resolved).

use windlass_output::{ExitStatus, Printer, ResultExt as _};

use crate::cli::Context;
use crate::promotion::{Kind, PromotionReport, Request};
use crate::stage::{LedgerView, Stage};

/// `windlass deploy promote`.
#[derive(Debug, Clone, clap::Args)]
pub struct PromoteArgs {
    /// The environment whose live bundle is promoted
    #[arg(value_name = "FROM")]
    pub from: String,
    /// The environment to deploy it to (its `from` must be FROM)
    #[arg(value_name = "TO")]
    pub to: String,
    /// Deploy the bundle even though it was rolled back in TO before
    #[arg(long)]
    pub allow_rolled_back: bool,
}

/// The bundle live in `from`, from its ledger.
pub(crate) async fn live_bundle(stage: &Stage) -> anyhow::Result<crate::bundle::Bundle> {
    let view = LedgerView::read(&stage.ledger).await?;
    if let Some(unfinished) = view.unfinished() {
        return Err(anyhow::anyhow!(
            "the last promotion of `{}` (ledger record {}, bundle {}) is not finished",
            stage.name,
            unfinished.seq,
            unfinished.started.bundle
        ))
        .with_hint(format!(
            "`deploy status {0}` shows it; the next `deploy up` or `deploy rollback` on `{0}` recovers it",
            stage.name
        ))
        .with_exit_status(ExitStatus::Failure);
    }
    view.live()
        .and_then(|p| p.bundle().cloned())
        .ok_or_else(|| anyhow::anyhow!("no bundle has succeeded in `{}` yet", stage.name))
        .with_hint(format!(
            "deploy one first: `windlass deploy up {}`",
            stage.name
        ))
        .with_exit_status(ExitStatus::Failure)
}

/// Runs `deploy promote`.
pub async fn run(
    args: &PromoteArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<PromotionReport> {
    let to_spec = crate::stage::spec(ctx, &args.to)?;
    crate::stage::spec(ctx, &args.from)?;
    if to_spec.from.as_deref() != Some(args.from.as_str()) {
        let hint = match &to_spec.from {
            Some(from) => format!(
                "`{}` is promoted from `{from}`: `windlass deploy promote {from} {}`",
                args.to, args.to
            ),
            None => format!(
                "set `from = \"{}\"` in `[deploy.environments.{}]`, or deploy to it with `deploy up {}`",
                args.from, args.to, args.to
            ),
        };
        return Err(anyhow::anyhow!(
            "`{}` is not promoted from `{}`",
            args.to,
            args.from
        ))
        .with_hint(hint)
        .with_exit_status(ExitStatus::Usage);
    }
    let (stage, bundle, archive) = windlass_process::until_interrupted(Box::pin(async {
        // Both environments opened at once.
        let (from, stage) =
            tokio::try_join!(Stage::open(ctx, &args.from), Stage::open(ctx, &args.to))?;
        let bundle = live_bundle(&from).await?;
        super::check_strategy(&stage).await?;
        let archive = super::chart_archive(ctx, &bundle).await?;
        anyhow::Ok((stage, bundle, archive))
    }))
    .await??;
    let report = crate::promotion::run(
        ctx,
        &stage,
        Request {
            kind: Kind::Promote,
            bundle,
            from: Some(args.from.clone()),
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
