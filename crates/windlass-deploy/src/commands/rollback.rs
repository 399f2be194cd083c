//! `deploy rollback ENV [--to BUNDLE|REVISION]`: back to the previous
//! *succeeded* bundle (not revision N-1), or the one given. The bundle
//! rolled back away from is marked in the ledger and is not deployed there
//! again unless asked explicitly.

use windlass_output::{ExitStatus, Printer, ResultExt as _};

use crate::cli::Context;
use crate::config::StrategyKind;
use crate::promotion::{Kind, PromotionReport, Request};
use crate::stage::{LedgerView, Stage};

/// `windlass deploy rollback`.
#[derive(Debug, Clone, clap::Args)]
pub struct RollbackArgs {
    /// The environment
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// A bundle id prefix (7+ hex digits) that succeeded in ENV, or a Helm
    /// revision number of one (default: the succeeded bundle before the
    /// live one)
    #[arg(long, value_name = "BUNDLE|REVISION")]
    pub to: Option<String>,
}

/// Runs `deploy rollback`.
pub async fn run(
    args: &RollbackArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<PromotionReport> {
    let rolled = windlass_process::until_interrupted(async {
        let stage = Stage::open(ctx, &args.environment).await?;
        let view = LedgerView::read(&stage.ledger).await?;
        let promotions = view.promotions();
        let succeeded: Vec<_> = promotions
            .iter()
            .filter(|p| p.succeeded().is_some())
            .collect();
        let live = succeeded.last().map(|p| p.started.bundle.clone());
        let target = match args.to.as_deref() {
            None => succeeded
                .iter()
                .rev()
                .find(|p| Some(&p.started.bundle) != live.as_ref())
                .copied(),
            Some(text) if text.len() < 7 && text.chars().all(|c| c.is_ascii_digit()) => {
                let revision: u32 = text.parse().unwrap_or_default();
                succeeded
                    .iter()
                    .rev()
                    .find(|p| p.succeeded() == Some(revision))
                    .copied()
            }
            Some(prefix) => succeeded
                .iter()
                .rev()
                .find(|p| p.started.bundle.matches(prefix))
                .copied(),
        };
        let Some(target) = target else {
            return Err(anyhow::anyhow!(
                "no succeeded bundle {} in the ledger of `{}`",
                args.to.as_deref().map_or_else(
                    || "before the live one".to_owned(),
                    |t| format!("`{}`", windlass_output::escape_controls(t))
                ),
                args.environment
            ))
            .with_hint(format!(
                "`windlass deploy history {}` lists what succeeded there",
                args.environment
            ))
            .with_exit_status(ExitStatus::Failure);
        };
        let bundle = target
            .bundle()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("ledger record {} has no bundle", target.seq))?;
        let revision = target.succeeded();
        super::check_strategy(&stage).await?;
        // Blue/green and canary go back by deploying the earlier bundle
        // through the strategy (the idle colour, then the switch): their
        // live release is not the one a Helm rollback would move.
        let archive = match stage.spec.strategy.kind {
            StrategyKind::BlueGreen | StrategyKind::Canary => {
                Some(super::chart_archive(ctx, &bundle).await?)
            }
            _ => None,
        };
        anyhow::Ok((stage, bundle, revision, live, archive))
    })
    .await??;
    let (stage, bundle, revision, replacing, archive) = rolled;
    let revision = if archive.is_some() { None } else { revision };
    let report = crate::promotion::run(
        ctx,
        &stage,
        Request {
            kind: Kind::Rollback,
            bundle,
            from: None,
            archive,
            rollback_to: revision,
            replacing,
            allow_rolled_back: true,
        },
        printer,
    )
    .await?;
    crate::summary::promotion(printer, &report);
    Ok(report)
}
