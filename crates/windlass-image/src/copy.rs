//! `image copy`.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::cli::Context;

/// `windlass image copy`.
#[derive(Debug, Clone, clap::Args)]
pub struct CopyArgs {}

/// What `image copy` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CopyReport {}

impl Outcome for CopyReport {}

#[allow(clippy::unused_async, reason = "filled in by the command's change")]
/// Runs `image copy`.
pub async fn run(args: &CopyArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<CopyReport> {
    let _ = (args, ctx, printer);
    anyhow::bail!("`image copy` is not implemented yet")
}
