//! `deploy metrics`: the four DORA measures over every environment's
//! ledger, and the HTML status board (the work is in [`crate::metrics`]).

use windlass_output::Printer;

use crate::cli::Context;
use crate::kube::{Cluster, Target};
use crate::metrics::{MetricsArgs, MetricsReport};

/// Connects to the cluster of every environment (as the other commands
/// do: its kubeconfig, context and namespace), then measures.
pub async fn run(
    args: &MetricsArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<MetricsReport> {
    let mut clusters = Vec::new();
    for (name, spec) in &ctx.deploy.environments {
        let target = Target {
            kubeconfig: spec.kubeconfig.as_ref().map(|p| p.as_path().to_path_buf()),
            context: spec.context.clone(),
            namespace: spec.namespace.clone(),
        };
        let cluster = Cluster::connect(&target, &ctx.env).await?;
        clusters.push((name.clone(), cluster));
    }
    Ok(
        crate::metrics::run_on_clusters(args, &ctx.deploy, &ctx.project_dir(), &clusters, printer)
            .await?,
    )
}
