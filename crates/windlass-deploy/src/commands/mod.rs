//! The `deploy` commands; each module holds its clap arguments, its report
//! and its `run`.

pub mod approve;
pub mod diff;
pub mod history;
pub mod promote;
pub mod rollback;
pub mod status;
pub mod up;

use windlass_output::{ExitStatus, ResultExt as _};

use crate::config::StrategyKind;
use crate::stage::Stage;

/// Refuses a strategy this version cannot run.
pub(crate) fn check_strategy(stage: &Stage) -> anyhow::Result<()> {
    let kind = stage.spec.strategy.kind;
    if crate::promotion::supported(kind) {
        return Ok(());
    }
    let name = match kind {
        StrategyKind::BlueGreen => "blue-green",
        StrategyKind::Canary => "canary",
        StrategyKind::Rolling => "rolling",
        StrategyKind::Recreate => "recreate",
    };
    Err(anyhow::anyhow!(
        "the `{name}` strategy of environment `{}` is not available yet",
        stage.name
    ))
    .with_hint("use `strategy = { kind = \"rolling\" }` or `\"recreate\"` (see docs/deploy.md)")
    .with_exit_status(ExitStatus::Usage)
}

/// Resolves the chart of a bundle and checks its digest: the same
/// version must be the same bytes.
pub(crate) async fn chart_archive(
    ctx: &crate::cli::Context,
    bundle: &crate::bundle::Bundle,
) -> anyhow::Result<std::path::PathBuf> {
    let mut deploy = ctx.deploy.clone();
    deploy.version = Some(bundle.chart.version.clone());
    let resolved =
        crate::helm::chart::resolve(&deploy, &ctx.project_dir(), &ctx.cache_dir()).await?;
    if resolved.chart.digest != bundle.chart.digest {
        return Err(anyhow::anyhow!(
            "chart {} {} is {} here, but the bundle has {}",
            bundle.chart.name,
            bundle.chart.version,
            resolved.chart.digest,
            bundle.chart.digest
        ))
        .with_hint("the chart changed under the same version: publish the change as a new chart version and deploy it with `deploy up`")
        .with_exit_status(ExitStatus::Failure);
    }
    Ok(resolved.archive)
}
