//! `deploy status [ENV...]`: what runs in each environment, since when,
//! unfinished promotions, and drift between Helm and the ledger.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::bundle::BundleId;
use crate::cli::Context;
use crate::stage::{LedgerView, Stage};

/// `windlass deploy status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The environments (default: all of them)
    #[arg(value_name = "ENV")]
    pub environments: Vec<String>,
}

/// One environment.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct EnvironmentStatus {
    pub environment: String,
    pub namespace: String,
    /// The Helm release serving traffic: with `blue-green`, the colour its
    /// Service selects (`RELEASE-blue` or `RELEASE-green`).
    pub release: String,
    /// The bundle of the last succeeded promotion.
    pub bundle: Option<BundleId>,
    pub chart: Option<String>,
    /// When that promotion succeeded (RFC 3339).
    pub since: Option<String>,
    /// The revision the ledger expects.
    pub revision: Option<u32>,
    /// Helm's current revision and its status.
    pub helm_revision: Option<u32>,
    pub helm_status: Option<String>,
    /// A promotion with a `Started` record and no end: a run was killed
    /// (or is running now).
    pub unfinished: Option<Unfinished>,
    /// What differs between Helm and the ledger, if anything.
    pub drift: Option<String>,
}

/// A promotion without an end.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Unfinished {
    pub promotion: u64,
    pub bundle: BundleId,
    pub started: String,
    pub actor: String,
    /// The last step recorded.
    pub last: String,
}

/// What `deploy status` shows.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct StatusReport {
    pub environments: Vec<EnvironmentStatus>,
}

impl Outcome for StatusReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{:<12}  {:<16}  {:<12}  {:<8}  {:<20}  STATE",
            "ENVIRONMENT", "RELEASE", "BUNDLE", "REVISION", "SINCE"
        )?;
        for env in &self.environments {
            let state = match (&env.unfinished, &env.drift) {
                (Some(u), _) => format!(
                    "unfinished promotion {} of {} ({})",
                    u.promotion, u.bundle, u.last
                ),
                (None, Some(drift)) => format!("drift: {drift}"),
                (None, None) => "ok".to_owned(),
            };
            writeln!(
                out,
                "{:<12}  {:<16}  {:<12}  {:<8}  {:<20}  {state}",
                env.environment,
                env.release,
                env.bundle.as_ref().map_or("-", BundleId::short),
                env.revision
                    .map_or_else(|| "-".to_owned(), |r| r.to_string()),
                env.since.as_deref().unwrap_or("-"),
            )?;
        }
        Ok(())
    }
}

/// The status of one environment.
pub async fn environment(ctx: &Context, name: &str) -> anyhow::Result<EnvironmentStatus> {
    let stage = Stage::open(ctx, name).await?;
    let view = LedgerView::read(&stage.ledger).await?;
    let release = crate::promotion::live_release(&stage).await?;
    let helm = stage.helm.status(&release).await?;
    let live = view.live();
    let expected = crate::promotion::expected_revision(&view.entries);
    let unfinished = view.unfinished().map(|p| Unfinished {
        promotion: p.seq,
        bundle: p.started.bundle.clone(),
        started: p.started.time.clone(),
        actor: p.started.actor.clone(),
        last: p.records.last().map_or_else(
            || "started".to_owned(),
            |e| crate::commands::history::describe(&e.event),
        ),
    });
    let drift = match (&helm, expected) {
        (None, Some(revision)) => Some(format!(
            "the ledger has revision {revision}, Helm has no release `{release}`"
        )),
        (Some(h), None) => Some(format!(
            "Helm has revision {} ({}) that the ledger does not know",
            h.revision, h.status
        )),
        (Some(h), Some(revision)) if h.revision != revision => Some(format!(
            "the ledger has revision {revision}, Helm has revision {} ({})",
            h.revision, h.status
        )),
        (Some(h), Some(_)) if h.status != "deployed" => {
            Some(format!("Helm shows the release {}", h.status))
        }
        _ => None,
    };
    // Helm runs the expected revision: does it run the ledger's bundle
    // and chart?
    let drift = match (drift, &helm, live.as_ref()) {
        (None, Some(h), Some(live)) => {
            let label = match stage.helm.metadata(&release).await? {
                Some(metadata) => metadata.labels.get(crate::helm::BUNDLE_LABEL).cloned(),
                None => None,
            };
            let chart = live
                .bundle()
                .map(|b| format!("{}-{}", b.chart.name, b.chart.version));
            let wrong_bundle = label
                .filter(|l| l != live.started.bundle.short())
                .map(|label| {
                    format!(
                        "Helm's revision {} runs bundle {label}, the ledger's live bundle is {}",
                        h.revision, live.started.bundle
                    )
                });
            wrong_bundle.or_else(|| {
                chart.filter(|c| *c != h.chart).map(|chart| {
                    format!(
                        "Helm's revision {} runs chart {}, the ledger's live bundle has {chart}",
                        h.revision, h.chart
                    )
                })
            })
        }
        (drift, _, _) => drift,
    };
    Ok(EnvironmentStatus {
        environment: name.to_owned(),
        namespace: stage.cluster.namespace().to_owned(),
        release,
        bundle: live.as_ref().map(|p| p.started.bundle.clone()),
        chart: live
            .as_ref()
            .and_then(|p| p.bundle())
            .map(|b| format!("{} {}", b.chart.name, b.chart.version)),
        since: live.as_ref().and_then(|p| p.end()).map(|e| e.time.clone()),
        revision: live.as_ref().and_then(crate::stage::Promotion::succeeded),
        helm_revision: helm.as_ref().map(|h| h.revision),
        helm_status: helm.as_ref().map(|h| h.status.clone()),
        unfinished,
        drift,
    })
}

/// Runs `deploy status`.
pub async fn run(
    args: &StatusArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<StatusReport> {
    let names: Vec<String> = if args.environments.is_empty() {
        ctx.deploy.environments.keys().cloned().collect()
    } else {
        for name in &args.environments {
            crate::stage::spec(ctx, name)?;
        }
        args.environments.clone()
    };
    let mut environments = Vec::new();
    for name in &names {
        environments.push(environment(ctx, name).await?);
    }
    let report = StatusReport { environments };
    crate::summary::status(printer, &report);
    Ok(report)
}
