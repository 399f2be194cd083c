//! The `windlass` umbrella binary: every tool behind one command.
//!
//! Each tool's clap definition lives in its own crate and is flattened here,
//! so `windlass <tool> ...` and `windlass-<tool> ...` accept exactly the same
//! arguments. A subcommand that is not built in runs `windlass-<name>` from
//! `PATH`, as cargo does for `cargo-<name>`. The output flags are global:
//! they may come before or after the tool name, and are handed on to an
//! external tool. `completions`, `man` and the Markdown command reference
//! (`man --markdown`) are generated from the same clap definition. This binary parses, dispatches and renders; it holds no tool
//! logic.

mod completions;
mod config_cmd;
mod external;
mod man;
mod reference;
#[cfg(test)]
mod schema;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use windlass_output::OutputArgs;

/// Take a project from commit to production without leaking a secret.
#[derive(Debug, Parser)]
#[command(
    name = "windlass",
    version,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Any other COMMAND runs `windlass-COMMAND` from PATH.\n\nExit codes: 0 ok, 1 a check or gate failed, 2 usage or configuration error, 3 remote failure, 101 bug; 126 or 127 an external COMMAND that cannot run or does not exist; 130 interrupted (SIGINT or SIGTERM)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the effective configuration and where each value came from
    Config(config_cmd::ConfigArgs),
    /// Fetch secrets from Vault, CI variables, the keyring or files; inject and mask them
    Secrets(windlass_secrets::cli::SecretsCli),
    /// Build, check and publish Python wheels and sdists
    Wheel(windlass_wheel::cli::WheelCli),
    /// Build OCI images without a daemon; push, copy, tag and inspect them
    Image(windlass_image::cli::ImageCli),
    /// Promote exact builds through environments with Helm, behind gates
    Deploy(windlass_deploy::cli::DeployCli),
    /// Lint and test the project: ruff, mypy, pytest, clippy, shellcheck, in parallel
    Check(windlass_check::cli::CheckCli),
    /// One release: wheels to an index, images to a registry, the bundle to the first environment
    Release(windlass_release::cli::ReleaseCli),
    /// Check every link of a release manifest: files on the index, images in the registry, bundles in the environments
    Verify(windlass_release::verify::VerifyCli),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completions(completions::CompletionsArgs),
    /// Print the manual page, or write one page per command into DIR
    Man(man::ManArgs),
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

fn main() -> ExitCode {
    windlass_output::startup();
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli: Cli = windlass_output::parse_from_or_exit(&args);
    // clap checks conflicts per command level; the global flags may be
    // spread over several (`windlass -q wheel check -v`).
    if cli.output.quiet > 0 && cli.output.verbose > 0 {
        let error = Cli::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "the argument '--quiet' cannot be used with '--verbose'",
        );
        windlass_output::exit_usage(&error, &Cli::command(), &args);
    }
    match cli.command {
        Command::Config(args) => config_cmd::main(&args),
        Command::Secrets(cli) => windlass_secrets::cli::main(&cli),
        Command::Wheel(cli) => windlass_wheel::cli::main(&cli),
        Command::Image(cli) => windlass_image::cli::main(&cli),
        Command::Deploy(cli) => windlass_deploy::cli::main(&cli),
        Command::Check(cli) => windlass_check::cli::main(&cli),
        Command::Release(cli) => windlass_release::cli::main(&cli),
        Command::Verify(cli) => windlass_release::verify::main(&cli),
        Command::Completions(args) => completions::main(&args, &cli.output),
        Command::Man(args) => man::main(&args, &cli.output),
        Command::External(args) => external::main(&args, &cli.output),
    }
}
