//! `windlass-wheel`: the focused binary for `windlass wheel`.

use std::process::ExitCode;

use windlass_wheel::cli::WheelCli;

/// Build, check and publish Python wheels and sdists.
#[derive(Debug, clap::Parser)]
#[command(name = "windlass-wheel", version)]
struct Cli {
    #[command(flatten)]
    wheel: WheelCli,
}

fn main() -> ExitCode {
    windlass_output::startup();
    windlass_wheel::cli::main(&windlass_output::parse_or_exit::<Cli>().wheel)
}
