//! `windlass-image`: the focused binary for `windlass image`.

use std::process::ExitCode;

use windlass_image::cli::ImageCli;

/// Build OCI images without a daemon; push, copy, tag and inspect them.
#[derive(Debug, clap::Parser)]
#[command(name = "windlass-image", version)]
struct Cli {
    #[command(flatten)]
    image: ImageCli,
}

fn main() -> ExitCode {
    windlass_output::startup();
    windlass_image::cli::main(&windlass_output::parse_or_exit::<Cli>().image)
}
