//! `windlass config show`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use windlass_config::{EffectiveConfig, LoadOptions};
use windlass_output::{Classifier, ExitStatus, Outcome, OutputArgs, Printer, ResultExt as _};

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
    /// Read this configuration file instead of searching for `windlass.toml`
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print every setting, its value and where it came from (default,
    /// user file, project file, environment variable or flag), with what
    /// the tools read themselves (`VAULT_*`, `TWINE_*`, `~/.pypirc`);
    /// credentials show as `****`
    Show,
}

/// The effective configuration as `config show` reports it.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "ConfigShowReport")]
pub(crate) struct Shown(EffectiveConfig);

impl Outcome for Shown {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self.0.render_table().as_bytes())
    }
}

pub(crate) fn main(args: &ConfigArgs) -> ExitCode {
    let printer = Printer::builder(&args.output, "config show")
        .classifier(
            Classifier::new()
                .with::<windlass_config::LoadError>()
                .with::<windlass_fs::ReadError>(),
        )
        .build();
    let result = windlass_output::init_tracing(&printer)
        .map_err(anyhow::Error::from)
        .and_then(|()| match args.command {
            ConfigCommand::Show => show(args),
        });
    windlass_output::finish(result, &printer)
}

fn show(args: &ConfigArgs) -> anyhow::Result<Shown> {
    let mut options = LoadOptions::from_process()
        .context("cannot read the current directory")
        .with_exit_status(ExitStatus::Usage)?;
    if let Some(path) = &args.config {
        options = options.with_config_file(path);
    }
    // The tool-owned sections are checked against their tools' types, so a
    // typo in `[vault]` is reported here as it would be by `secrets`.
    let loaded = options.load().and_then(|config| {
        windlass_secrets::SecretsConfig::from_effective(&config)?;
        config.section::<windlass_wheel::config::WheelSection>("wheel")?;
        Ok(config)
    });
    let mut config = loaded?;
    add_tool_entries(&mut config)?;
    Ok(Shown(config))
}

/// What the tools take from their own environment variables and files,
/// beside windlass's layers: `VAULT_*`, `TWINE_*` and `~/.pypirc`.
fn add_tool_entries(config: &mut EffectiveConfig) -> anyhow::Result<()> {
    let env = windlass_config::Environment::from_process();
    let pypirc = match env.home().map(|home| home.join(".pypirc")) {
        Some(path) => windlass_pypi::Pypirc::load(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?,
        None => windlass_pypi::Pypirc::default(),
    };
    let secrets = windlass_secrets::tool_entries(&env);
    let wheel = windlass_wheel::config::tool_entries(config, &env, &pypirc);
    config.add_tool_entries(secrets.into_iter().chain(wheel));
    Ok(())
}
