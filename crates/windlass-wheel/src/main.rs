//! `windlass-wheel`: the focused binary for `windlass wheel`.

use std::process::ExitCode;

use clap::Parser;
use windlass_output::{OutputArgs, Printer};
use windlass_wheel::{WheelArgs, WheelCommand};

/// Build and check Python wheels and sdists.
#[derive(Debug, Parser)]
#[command(name = "windlass-wheel", version)]
struct Cli {
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    wheel: WheelArgs,
}

fn main() -> ExitCode {
    windlass_output::startup();
    let cli = Cli::parse();
    let command = match cli.wheel.command {
        WheelCommand::Build(_) => "wheel build",
        WheelCommand::Check(_) => "wheel check",
    };
    let printer = Printer::builder(&cli.output, command).build();
    let result = windlass_output::init_tracing(&printer)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
        })
        .and_then(|runtime| runtime.block_on(windlass_wheel::run(&cli.wheel, &printer)));
    windlass_output::finish(result, &printer)
}
