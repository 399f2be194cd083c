//! `image inspect`.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::cli::Context;

/// `windlass image inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {}

/// What `image inspect` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct InspectReport {}

impl Outcome for InspectReport {}

#[allow(clippy::unused_async, reason = "filled in by the command's change")]
/// Runs `image inspect`.
pub async fn run(
    args: &InspectArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<InspectReport> {
    let _ = (args, ctx, printer);
    anyhow::bail!("`image inspect` is not implemented yet")
}
