//! The command line shared by `windlass-release` and `windlass release`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use windlass_output::{ExitStatus, Outcome, OutputArgs, Printer};

use crate::pipeline::{Options, PlanReport, RunReport};
use crate::release::Release;

/// Everything `windlass release` accepts.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit codes: 0 done, 1 a check or gate failed, 2 usage or configuration error (a version that does not match the tag), 3 remote failure."
)]
pub struct ReleaseCli {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Read this configuration file instead of searching for `windlass.toml`
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ReleaseCommand,
}

/// The subcommands of `windlass release`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ReleaseCommand {
    /// Show everything a release would do, in order, and what is already
    /// done; publish nothing
    Plan(TargetArgs),
    /// Build, publish, push and deploy, in order; stop at the first
    /// failure; write the release manifest
    Run(RunArgs),
    /// Check every link of a release manifest (the same as `windlass
    /// verify`)
    Verify(crate::verify::VerifyArgs),
}

impl ReleaseCommand {
    /// The command's name in output and JSON documents.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Plan(_) => "release plan",
            Self::Run(_) => "release run",
            Self::Verify(_) => "release verify",
        }
    }
}

/// Where a release goes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// No server: wheels into a static index, images into OCI layouts and
    /// the bundle rendered per environment, all under `[release] local-dir`
    #[arg(long)]
    pub local: bool,
    /// The images' base instead of `[image] base` or the Containerfile's
    /// `FROM`: a registry reference or `oci:DIR:TAG`
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
}

/// `windlass release run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also write the manifest to FILE
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

/// What a `release` command returns.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per run, moved once to the printer"
)]
pub enum ReleaseOutcome {
    Planned(PlanReport),
    Ran(RunReport),
}

impl Outcome for ReleaseOutcome {
    fn render_human_at(&self, out: &mut dyn std::io::Write, verbose: u8) -> std::io::Result<()> {
        match self {
            Self::Planned(plan) => {
                writeln!(
                    out,
                    "release {} {}{} from {}{}",
                    plan.project,
                    plan.version,
                    if plan.local { " (local)" } else { "" },
                    &plan.source.commit[..plan.source.commit.len().min(12)],
                    plan.source
                        .tag
                        .as_ref()
                        .map_or_else(String::new, |t| format!(" (tag {t})"))
                )?;
                crate::steps::render(&plan.steps, out, verbose)
            }
            Self::Ran(run) => {
                if verbose > 0 {
                    crate::steps::render(&run.steps, out, verbose)?;
                }
                writeln!(
                    out,
                    "released {} {}: manifest {} ({})",
                    run.manifest.content.project,
                    run.manifest.content.version,
                    run.manifest_path,
                    run.manifest.id
                )
            }
        }
    }

    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Success
    }
}

/// What each `release` command prints with `--json`.
pub fn json_schemas() -> Vec<windlass_output::json::CommandSchema> {
    use windlass_output::json::CommandSchema;
    vec![
        CommandSchema::new::<PlanReport>("release plan"),
        CommandSchema::new::<RunReport>("release run").event::<crate::steps::Step>("step"),
        CommandSchema::new::<crate::verify::VerifyReport>("release verify"),
    ]
}

/// The error types a `release` command may end with.
pub fn classifier() -> windlass_output::Classifier {
    windlass_deploy::cli::classifier()
        .with::<windlass_dist::BuildError>()
        .with::<windlass_image::build::BuildError>()
        .with::<windlass_image::registry::RegistryError>()
        .with::<windlass_image::registry::credentials::CredentialError>()
        .with::<windlass_image::registry::config::RegistryConfigError>()
        .with::<windlass_image::python::PythonError>()
        .with::<windlass_image::cache::CacheError>()
        .with::<windlass_output::github::GitHubError>()
        .with::<crate::attach::AttachError>()
        .with::<crate::verify::ManifestError>()
}

/// Runs `windlass release ...` to the end: output, logging, configuration,
/// the async runtime and the exit code.
pub fn main(cli: &ReleaseCli) -> ExitCode {
    if let ReleaseCommand::Verify(args) = &cli.command {
        let verify = crate::verify::VerifyCli {
            output: cli.output.clone(),
            config: cli.config.clone(),
            args: args.clone(),
        };
        return crate::verify::main_as(&verify, "release verify");
    }
    let printer = Printer::builder(&cli.output, cli.command.name())
        .classifier(classifier())
        .build();
    windlass_output::run_command(&printer, || Ok(run(cli, &printer)))
}

/// Runs one `release` command.
pub async fn run(cli: &ReleaseCli, printer: &Printer) -> anyhow::Result<ReleaseOutcome> {
    let release = Release::load(cli.config.as_deref()).await?;
    match &cli.command {
        ReleaseCommand::Plan(args) => {
            let options = Options {
                local: args.local,
                base: args.base.clone(),
                manifest: None,
            };
            Box::pin(crate::pipeline::plan(&release, &options, printer))
                .await
                .map(ReleaseOutcome::Planned)
        }
        ReleaseCommand::Run(args) => {
            let options = Options {
                local: args.target.local,
                base: args.target.base.clone(),
                manifest: args.manifest.clone(),
            };
            Box::pin(crate::pipeline::run(&release, &options, printer))
                .await
                .map(ReleaseOutcome::Ran)
        }
        ReleaseCommand::Verify(_) => Err(windlass_output::Classified::new(anyhow::anyhow!(
            "`release verify` runs through `verify::main`"
        ))
        .with_status(ExitStatus::Bug)
        .into()),
    }
}
