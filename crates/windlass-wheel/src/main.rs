//! `windlass-wheel`: the focused binary for `windlass wheel`.

use std::process::ExitCode;

use clap::Parser;
use windlass_wheel::cli::WheelCli;

/// Build, check and publish Python wheels and sdists.
#[derive(Debug, Parser)]
#[command(name = "windlass-wheel", version)]
struct Cli {
    #[command(flatten)]
    wheel: WheelCli,
}

fn main() -> ExitCode {
    windlass_output::startup();
    windlass_wheel::cli::main(&Cli::parse().wheel)
}
