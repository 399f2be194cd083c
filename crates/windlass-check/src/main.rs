//! `windlass-check`: the focused binary for `windlass check`.

use std::process::ExitCode;

use windlass_check::cli::CheckCli;

/// Lint and test a project in one command: ruff, a type checker, pytest,
/// clippy, shellcheck, helm lint, in parallel and cached.
#[derive(Debug, clap::Parser)]
#[command(name = "windlass-check", version)]
struct Cli {
    #[command(flatten)]
    check: CheckCli,
}

fn main() -> ExitCode {
    windlass_output::startup();
    windlass_check::cli::main(&windlass_output::parse_or_exit::<Cli>().check)
}
