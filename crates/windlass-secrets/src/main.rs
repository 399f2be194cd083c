//! `windlass-secrets`: the focused binary for `windlass secrets ...`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use windlass_output::{OutputArgs, Printer};
use windlass_secrets::cli::{self, Context, Exit};
use windlass_secrets::{Environment, SecretsArgs, SecretsConfig};

#[derive(Debug, Parser)]
#[command(name = "windlass-secrets", version, about)]
struct Cli {
    #[command(flatten)]
    output: OutputArgs,
    /// The project's configuration file
    #[arg(
        long,
        global = true,
        env = "WINDLASS_CONFIG",
        default_value = "windlass.toml"
    )]
    config: PathBuf,
    #[command(flatten)]
    secrets: SecretsArgs,
}

fn main() -> ExitCode {
    windlass_output::install_panic_hook();
    let cli = Cli::parse();
    let command = match &cli.secrets.command {
        windlass_secrets::SecretsCommand::Exec(_) => "secrets exec",
        windlass_secrets::SecretsCommand::Get(_) => "secrets get",
        windlass_secrets::SecretsCommand::Check(_) => "secrets check",
        windlass_secrets::SecretsCommand::Mask(_) => "secrets mask",
    };
    let printer = Printer::builder(&cli.output, command)
        .classifier(cli::classifier())
        .build();
    let result = windlass_output::init_tracing(&printer)
        .map_err(anyhow::Error::from)
        .and_then(|()| run(&cli, &printer));
    match result {
        Ok(Exit::Status(status)) => status.into(),
        Ok(Exit::Code(code)) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) if windlass_output::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => printer.report_error(&error).into(),
    }
}

fn run(cli: &Cli, printer: &Printer) -> anyhow::Result<Exit> {
    let config = SecretsConfig::load(&cli.config)?;
    let config_dir = cli.config.parent().filter(|p| !p.as_os_str().is_empty());
    let project_dir = match config_dir {
        Some(dir) => std::path::absolute(dir),
        None => std::env::current_dir(),
    }
    .context("cannot find the project directory")?;
    let ctx = Context {
        env: Environment::from_process(),
        project_dir,
        config,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(cli::run(&cli.secrets, &ctx, printer))
}
