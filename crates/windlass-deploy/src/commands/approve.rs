//! `deploy approve ENV BUNDLE`: a person's approval, recorded in ENV's
//! ledger.

use serde::Serialize;
use windlass_output::{ExitStatus, Outcome, Printer, ResultExt as _};

use crate::bundle::BundleId;
use crate::cli::Context;
use crate::kube::ledger::{Event, NewEntry};
use crate::stage::{LedgerView, Stage};

/// `windlass deploy approve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApproveArgs {
    /// The environment the approval is for
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// The bundle: its id or a prefix of 7 or more hex digits, as known in
    /// the environment ENV is promoted from
    #[arg(value_name = "BUNDLE")]
    pub bundle: String,
    /// Why
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Who approves (default: `$GITHUB_ACTOR`, else the user name)
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

/// What `deploy approve` recorded.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ApproveReport {
    pub environment: String,
    pub bundle: BundleId,
    pub by: String,
    pub reason: Option<String>,
    pub run_url: Option<String>,
    /// The ledger record written.
    pub seq: u64,
}

impl Outcome for ApproveReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "approved bundle {} for {} (by {})",
            self.bundle, self.environment, self.by
        )
    }
}

/// The GitHub Actions run, when there is one.
pub(crate) fn run_url(env: &windlass_config::Environment) -> Option<String> {
    let server = env.get_str("GITHUB_SERVER_URL")?;
    let repository = env.get_str("GITHUB_REPOSITORY")?;
    let run = env.get_str("GITHUB_RUN_ID")?;
    Some(format!("{server}/{repository}/actions/runs/{run}"))
}

/// Runs `deploy approve`.
pub async fn run(
    args: &ApproveArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<ApproveReport> {
    let _ = printer;
    let spec = crate::stage::spec(ctx, &args.environment)?;
    let source = spec
        .from
        .clone()
        .unwrap_or_else(|| args.environment.clone());
    let source_stage = Stage::open(ctx, &source).await?;
    let view = LedgerView::read(&source_stage.ledger).await?;
    let bundle = view
        .find_bundle(&args.bundle)
        .map(crate::bundle::Bundle::id)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no bundle `{}` in the ledger of `{source}`",
                windlass_output::escape_controls(&args.bundle)
            )
        })
        .with_hint(format!(
            "`windlass deploy history {source}` lists its bundles; give 7 or more hex digits of the id"
        ))
        .with_exit_status(ExitStatus::Usage)?;
    let stage = if source == args.environment {
        source_stage
    } else {
        Stage::open(ctx, &args.environment).await?
    };
    let by = args.by.clone().unwrap_or_else(|| ctx.actor());
    let run_url = run_url(&ctx.env);
    let entry = stage
        .ledger
        .append(NewEntry {
            actor: ctx.actor(),
            promotion: None,
            bundle: bundle.clone(),
            event: Event::Approved {
                by: by.clone(),
                reason: args.reason.clone(),
                run_url: run_url.clone(),
            },
        })
        .await?;
    Ok(ApproveReport {
        environment: args.environment.clone(),
        bundle,
        by,
        reason: args.reason.clone(),
        run_url,
        seq: entry.seq,
    })
}
