//! `image tag`.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::cli::Context;

/// `windlass image tag`.
#[derive(Debug, Clone, clap::Args)]
pub struct TagArgs {}

/// What `image tag` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TagReport {}

impl Outcome for TagReport {}

#[allow(clippy::unused_async, reason = "filled in by the command's change")]
/// Runs `image tag`.
pub async fn run(args: &TagArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<TagReport> {
    let _ = (args, ctx, printer);
    anyhow::bail!("`image tag` is not implemented yet")
}
