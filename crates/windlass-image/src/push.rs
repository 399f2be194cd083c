//! `image push`.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::cli::Context;

/// `windlass image push`.
#[derive(Debug, Clone, clap::Args)]
pub struct PushArgs {}

/// What `image push` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PushReport {}

impl Outcome for PushReport {}

#[allow(clippy::unused_async, reason = "filled in by the command's change")]
/// Runs `image push`.
pub async fn run(args: &PushArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<PushReport> {
    let _ = (args, ctx, printer);
    anyhow::bail!("`image push` is not implemented yet")
}
