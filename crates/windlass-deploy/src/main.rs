//! `windlass-deploy`: the focused binary for `windlass deploy`.

use std::process::ExitCode;

use windlass_deploy::cli::DeployCli;

/// Promote exact builds through environments with Helm, behind gates.
#[derive(Debug, clap::Parser)]
#[command(name = "windlass-deploy", version)]
struct Cli {
    #[command(flatten)]
    deploy: DeployCli,
}

fn main() -> ExitCode {
    windlass_output::startup();
    windlass_deploy::cli::main(&windlass_output::parse_or_exit::<Cli>().deploy)
}
