//! `image build`.

use serde::Serialize;
use windlass_output::{Outcome, Printer};

use crate::cli::Context;

/// `windlass image build`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {}

/// What `image build` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BuildReport {}

impl Outcome for BuildReport {}

#[allow(clippy::unused_async, reason = "filled in by the command's change")]
/// Runs `image build`.
pub async fn run(
    args: &BuildArgs,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<BuildReport> {
    let _ = (args, ctx, printer);
    anyhow::bail!("`image build` is not implemented yet")
}
