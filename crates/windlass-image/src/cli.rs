//! The command line shared by `windlass-image` and `windlass image`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use windlass_config::EffectiveConfig;
use windlass_config::Environment;
use windlass_output::{ExitStatus, Outcome, OutputArgs, Printer};

use crate::config::ImageSection;

/// Everything `windlass image` accepts: output flags, `--config` and a
/// subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageCli {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Read this configuration file instead of searching for `windlass.toml`
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ImageCommand,
}

/// The subcommands of `windlass image`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ImageCommand {
    /// Build an OCI image from a base image and layers (or a Containerfile),
    /// without a daemon
    Build(Box<crate::build::BuildArgs>),
    /// Push an image from an OCI layout directory to a registry
    Push(crate::push::PushArgs),
    /// Copy an image between registries or layouts, digests unchanged
    Copy(crate::copy::CopyArgs),
    /// Give an image more tags (the manifest only; blobs stay)
    Tag(crate::tag::TagArgs),
    /// Show an image's manifest, config, platforms, sizes and referrers
    Inspect(crate::inspect::InspectArgs),
    /// Manage the cache of pulled base images
    Cache(crate::cache::CacheArgs),
}

impl ImageCommand {
    /// The command's name in output and JSON documents.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Build(_) => "image build",
            Self::Push(_) => "image push",
            Self::Copy(_) => "image copy",
            Self::Tag(_) => "image tag",
            Self::Inspect(_) => "image inspect",
            Self::Cache(args) => match args.command {
                crate::cache::CacheCommand::Prune(_) => "image cache prune",
            },
        }
    }
}

/// The configuration an `image` command runs with.
#[derive(Debug)]
pub struct Context {
    pub config: EffectiveConfig,
    pub image: ImageSection,
    pub env: Environment,
    pub cwd: PathBuf,
}

impl Context {
    /// Loads `windlass.toml` (searched from the working directory) and its
    /// `[image]` section.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        let loaded = windlass_secrets::ToolConfig::load(config_file, None)?;
        let image = loaded.config.section::<ImageSection>("image")?;
        Ok(Self {
            config: loaded.config,
            image,
            env: loaded.env,
            cwd: loaded.cwd,
        })
    }
}

/// What an `image` command returns.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per run, moved once to the printer"
)]
pub enum ImageOutcome {
    Built(crate::build::BuildReport),
    Pushed(crate::push::PushReport),
    Copied(crate::copy::CopyReport),
    Tagged(crate::tag::TagReport),
    Inspected(crate::inspect::InspectReport),
    Pruned(crate::cache::PruneReport),
}

impl Outcome for ImageOutcome {
    fn render_human_at(&self, out: &mut dyn std::io::Write, verbose: u8) -> std::io::Result<()> {
        match self {
            Self::Built(r) => r.render_human_at(out, verbose),
            Self::Pushed(r) => r.render_human_at(out, verbose),
            Self::Copied(r) => r.render_human_at(out, verbose),
            Self::Tagged(r) => r.render_human_at(out, verbose),
            Self::Inspected(r) => r.render_human_at(out, verbose),
            Self::Pruned(r) => r.render_human_at(out, verbose),
        }
    }

    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Built(r) => r.exit_status(),
            Self::Pushed(r) => r.exit_status(),
            Self::Copied(r) => r.exit_status(),
            Self::Tagged(r) => r.exit_status(),
            Self::Inspected(r) => r.exit_status(),
            Self::Pruned(r) => r.exit_status(),
        }
    }

    /// The step outputs of a command in GitHub Actions: the `digest` of the
    /// image pushed, copied or built and its `reference` (pinned,
    /// `REGISTRY/REPO@DIGEST`, or the layout it was written to).
    fn step_outputs(&self) -> Vec<(&'static str, String)> {
        let (digest, reference) = match self {
            ImageOutcome::Built(r) => match &r.pushed {
                Some(pushed) => (&pushed.digest, pushed.destination.clone()),
                None => (&r.digest, r.output.clone()),
            },
            ImageOutcome::Pushed(r) | ImageOutcome::Copied(crate::copy::CopyReport(r)) => {
                (&r.digest, r.destination.clone())
            }
            ImageOutcome::Tagged(_) | ImageOutcome::Inspected(_) | ImageOutcome::Pruned(_) => {
                return Vec::new();
            }
        };
        vec![("digest", digest.to_string()), ("reference", reference)]
    }
}

/// What each `image` command prints with `--json`.
pub fn json_schemas() -> Vec<windlass_output::json::CommandSchema> {
    use windlass_output::json::CommandSchema;
    vec![
        CommandSchema::new::<crate::build::BuildReport>("image build"),
        CommandSchema::new::<crate::push::PushReport>("image push"),
        CommandSchema::new::<crate::copy::CopyReport>("image copy"),
        CommandSchema::new::<crate::tag::TagReport>("image tag"),
        CommandSchema::new::<crate::inspect::InspectReport>("image inspect"),
        CommandSchema::new::<crate::cache::PruneReport>("image cache prune"),
    ]
}

/// Runs `windlass image ...` to the end: output, logging, configuration,
/// the async runtime and the exit code.
pub fn main(cli: &ImageCli) -> ExitCode {
    let printer = Printer::builder(&cli.output, cli.command.name())
        .classifier(
            windlass_output::Classifier::default()
                .with::<windlass_config::LoadError>()
                .with::<crate::build::BuildError>()
                .with::<windlass_fs::ReadError>()
                .with::<windlass_process::SpawnError>()
                .with::<windlass_process::RunError>()
                .with::<windlass_process::CheckedError>()
                .with::<crate::registry::RegistryError>()
                .with::<crate::registry::credentials::CredentialError>()
                .with::<crate::registry::config::RegistryConfigError>()
                .with::<windlass_http::HttpError>()
                .with::<windlass_secrets::ResolveError>()
                .with::<crate::python::PythonError>()
                .with::<crate::cache::CacheError>(),
        )
        .build();
    windlass_output::run_command(&printer, || {
        let ctx = Context::load(cli.config.as_deref())?;
        let printer = &printer;
        Ok(async move { run(&cli.command, &ctx, printer).await })
    })
}

/// Runs one `image` command. A SIGINT or SIGTERM stops it where it is
/// (uploads in flight are dropped; a tag is only written after everything
/// it points at) and comes back as [`windlass_process::Interrupted`].
pub async fn run(
    command: &ImageCommand,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<ImageOutcome> {
    windlass_process::until_interrupted(run_command(command, ctx, printer)).await?
}

async fn run_command(
    command: &ImageCommand,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<ImageOutcome> {
    match command {
        ImageCommand::Build(args) => Box::pin(crate::build::run(args, ctx, printer))
            .await
            .map(ImageOutcome::Built),
        ImageCommand::Push(args) => crate::push::run(args, ctx, printer)
            .await
            .map(ImageOutcome::Pushed),
        ImageCommand::Copy(args) => crate::copy::run(args, ctx, printer)
            .await
            .map(ImageOutcome::Copied),
        ImageCommand::Tag(args) => crate::tag::run(args, ctx, printer)
            .await
            .map(ImageOutcome::Tagged),
        ImageCommand::Inspect(args) => crate::inspect::run(args, ctx, printer)
            .await
            .map(ImageOutcome::Inspected),
        ImageCommand::Cache(args) => {
            crate::cache::run(args, ctx, printer).map(ImageOutcome::Pruned)
        }
    }
}
