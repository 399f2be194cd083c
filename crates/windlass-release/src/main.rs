//! `windlass-release`: the focused binary for `windlass release`.

use std::process::ExitCode;

use windlass_release::cli::ReleaseCli;

/// One release from commit to production: wheels to an index, images to a
/// registry, the bundle to the first environment, and the manifest of it
/// all.
#[derive(Debug, clap::Parser)]
#[command(name = "windlass-release", version)]
struct Cli {
    #[command(flatten)]
    release: ReleaseCli,
}

fn main() -> ExitCode {
    windlass_output::startup();
    windlass_release::cli::main(&windlass_output::parse_or_exit::<Cli>().release)
}
