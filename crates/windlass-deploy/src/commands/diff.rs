//! `deploy diff FROM TO`: the bundles live in two environments compared.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::bundle::BundleId;
use crate::cli::Context;
use crate::diff::BundleDiff;
use crate::stage::{LedgerView, Stage};

/// `windlass deploy diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// The environment to compare from
    #[arg(value_name = "FROM")]
    pub from: String,
    /// The environment to compare to
    #[arg(value_name = "TO")]
    pub to: String,
}

/// Two environments' live bundles compared.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DiffReport {
    pub from: String,
    pub to: String,
    pub from_bundle: Option<BundleId>,
    pub to_bundle: Option<BundleId>,
    /// `None` when an environment has no live bundle.
    pub diff: Option<BundleDiff>,
}

impl Outcome for DiffReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let show = |b: &Option<BundleId>| {
            b.as_ref()
                .map_or_else(|| "nothing".to_owned(), |b| b.short().to_owned())
        };
        writeln!(
            out,
            "{}: {}  ->  {}: {}",
            self.from,
            show(&self.from_bundle),
            self.to,
            show(&self.to_bundle)
        )?;
        match &self.diff {
            None => Ok(()),
            Some(diff) if self.from_bundle == self.to_bundle => {
                let _ = diff;
                writeln!(out, "the same bundle")
            }
            Some(diff) => write!(out, "{}", crate::diff::render(diff)),
        }
    }
}

async fn live(ctx: &Context, name: &str) -> anyhow::Result<Option<crate::bundle::Bundle>> {
    let stage = Stage::open(ctx, name).await?;
    let view = LedgerView::read(&stage.ledger).await?;
    Ok(view.live().and_then(|p| p.bundle().cloned()))
}

/// Runs `deploy diff`.
pub async fn run(args: &DiffArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<DiffReport> {
    let _ = printer;
    crate::stage::spec(ctx, &args.from)?;
    crate::stage::spec(ctx, &args.to)?;
    let from = live(ctx, &args.from).await?;
    let to = live(ctx, &args.to).await?;
    let diff = match (&from, &to) {
        (Some(from), Some(to)) => Some(crate::diff::diff(from, to)),
        _ => None,
    };
    Ok(DiffReport {
        from: args.from.clone(),
        to: args.to.clone(),
        from_bundle: from.as_ref().map(crate::bundle::Bundle::id),
        to_bundle: to.as_ref().map(crate::bundle::Bundle::id),
        diff,
    })
}
