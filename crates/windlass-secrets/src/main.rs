//! `windlass-secrets`: the focused binary for `windlass secrets ...`.

use std::process::ExitCode;

/// Fetch secrets from Vault, CI variables, the keyring or files; inject and mask them
#[derive(Debug, clap::Parser)]
#[command(name = "windlass-secrets", version)]
struct Cli {
    #[command(flatten)]
    inner: windlass_secrets::cli::SecretsCli,
}

fn main() -> ExitCode {
    windlass_output::startup();
    windlass_secrets::cli::main(&windlass_output::parse_or_exit::<Cli>().inner)
}
