//! `deploy history ENV`: the ledger as a table.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::cli::Context;
use crate::kube::ledger::{Entry, Event};
use crate::stage::{LedgerView, Stage};

/// `windlass deploy history`.
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// The environment
    #[arg(value_name = "ENV")]
    pub environment: String,
}

/// An environment's ledger, oldest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct HistoryReport {
    pub environment: String,
    pub entries: Vec<Entry>,
}

/// One line about an event.
pub fn describe(event: &Event) -> String {
    match event {
        Event::Started { bundle, from, .. } => match from {
            Some(from) => format!(
                "started: chart {} {} from {from}",
                bundle.chart.name, bundle.chart.version
            ),
            None => format!(
                "started: chart {} {}",
                bundle.chart.name, bundle.chart.version
            ),
        },
        Event::Gate {
            gate,
            passed,
            detail,
        } => format!(
            "gate {gate}: {} ({detail})",
            if *passed { "ok" } else { "failed" }
        ),
        Event::Upgraded { revision } => format!("upgraded: revision {revision}"),
        Event::Switch { service, from, to } => match from {
            Some(from) => format!("switch: Service {service} from {from} to {to}"),
            None => format!("switch: Service {service} made, selecting {to}"),
        },
        Event::Succeeded { revision, checks } => {
            let checks: Vec<String> = checks
                .iter()
                .map(|c| format!("{}: ok ({})", c.gate, c.detail))
                .collect();
            if checks.is_empty() {
                format!("succeeded: revision {revision}")
            } else {
                format!(
                    "succeeded: revision {revision}; gates {}",
                    checks.join(", ")
                )
            }
        }
        Event::Failed {
            reason,
            rolled_back_to,
        } => match rolled_back_to {
            Some(revision) => format!("failed: {reason} (left at revision {revision})"),
            None => format!("failed: {reason}"),
        },
        Event::Approved { by, reason, .. } => match reason {
            Some(reason) => format!("approved by {by}: {reason}"),
            None => format!("approved by {by}"),
        },
        Event::RolledBack {
            to_revision,
            to_bundle,
            reason,
        } => format!(
            "rolled back to revision {to_revision}{}: {reason}",
            to_bundle
                .as_ref()
                .map_or_else(String::new, |b| format!(" (bundle {b})"))
        ),
    }
}

impl Outcome for HistoryReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        if self.entries.is_empty() {
            return writeln!(out, "{}: no promotions yet", self.environment);
        }
        writeln!(
            out,
            "{:>4}  {:<20}  {:<12}  {:<12}  EVENT",
            "SEQ", "TIME", "ACTOR", "BUNDLE"
        )?;
        for entry in &self.entries {
            writeln!(
                out,
                "{:>4}  {:<20}  {:<12}  {:<12}  {}",
                entry.seq,
                entry.time,
                entry.actor,
                entry.bundle.short(),
                describe(&entry.event)
            )?;
        }
        Ok(())
    }
}

/// Runs `deploy history`.
pub async fn run(
    args: &HistoryArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<HistoryReport> {
    let _ = printer;
    let stage = Stage::open(ctx, &args.environment).await?;
    let view = LedgerView::read(&stage.ledger).await?;
    Ok(HistoryReport {
        environment: args.environment.clone(),
        entries: view.entries,
    })
}
