//! The command line shared by `windlass-deploy` and `windlass deploy`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use windlass_config::{EffectiveConfig, Environment};
use windlass_output::{ExitStatus, Outcome, OutputArgs, Printer};

use crate::config::DeploySection;

/// Everything `windlass deploy` accepts: output flags, `--config` and a
/// subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct DeployCli {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Read this configuration file instead of searching for `windlass.toml`
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: DeployCommand,
}

/// The subcommands of `windlass deploy`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DeployCommand {
    /// Make a bundle from the chart, the images just built and the
    /// application values, and deploy it to an environment
    Up(crate::commands::up::UpArgs),
    /// Deploy to an environment exactly the bundle live in the one it is
    /// promoted from
    Promote(crate::commands::promote::PromoteArgs),
    /// Record a person's approval of a bundle for an environment
    Approve(crate::commands::approve::ApproveArgs),
    /// Show what runs in each environment, unfinished promotions and drift
    Status(crate::commands::status::StatusArgs),
    /// Show an environment's ledger
    History(crate::commands::history::HistoryArgs),
    /// Compare the bundles live in two environments: chart, images, values
    Diff(crate::commands::diff::DiffArgs),
    /// Go back to the previous succeeded bundle (or a given bundle or
    /// revision)
    Rollback(crate::commands::rollback::RollbackArgs),
    /// Measure deployment frequency, lead time, change failure rate and
    /// time to restore from the ledgers; optionally write an HTML status
    /// board
    Metrics(crate::metrics::MetricsArgs),
    /// Render an environment's manifests into a GitOps directory (`helm
    /// template`, no cluster): the bundle made as `up` makes it, or read
    /// from an earlier render's `bundle.json`
    Render(crate::gitops::RenderArgs),
}

impl DeployCommand {
    /// The command's name in output and JSON documents.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Up(_) => "deploy up",
            Self::Promote(_) => "deploy promote",
            Self::Approve(_) => "deploy approve",
            Self::Status(_) => "deploy status",
            Self::History(_) => "deploy history",
            Self::Diff(_) => "deploy diff",
            Self::Rollback(_) => "deploy rollback",
            Self::Metrics(_) => "deploy metrics",
            Self::Render(_) => "deploy render",
        }
    }
}

/// The configuration a `deploy` command runs with.
#[derive(Debug)]
pub struct Context {
    pub config: EffectiveConfig,
    pub deploy: DeploySection,
    pub env: Environment,
    pub cwd: PathBuf,
}

impl Context {
    /// Loads `windlass.toml` (searched from the working directory) and its
    /// `[deploy]` section.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        let loaded = windlass_secrets::ToolConfig::load(config_file, None)?;
        let deploy = loaded.config.section::<DeploySection>("deploy")?;
        Ok(Self {
            config: loaded.config,
            deploy,
            env: loaded.env,
            cwd: loaded.cwd,
        })
    }

    /// The project directory: where `windlass.toml` is, else the working
    /// directory.
    pub fn project_dir(&self) -> PathBuf {
        self.config
            .project_dir()
            .map_or_else(|| self.cwd.clone(), Path::to_path_buf)
    }

    /// Windlass's cache directory (charts live in its `charts/`).
    pub fn cache_dir(&self) -> PathBuf {
        crate::helm::chart::default_cache_dir(&self.env)
    }

    /// Who runs this: `$GITHUB_ACTOR` in Actions, else the user name.
    pub fn actor(&self) -> String {
        ["GITHUB_ACTOR", "USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|name| self.env.get_str(name).filter(|v| !v.is_empty()))
            .unwrap_or("unknown")
            .to_owned()
    }
}

/// What a `deploy` command returns.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per run, moved once to the printer"
)]
pub enum DeployOutcome {
    Promoted(crate::promotion::PromotionReport),
    Approved(crate::commands::approve::ApproveReport),
    Status(crate::commands::status::StatusReport),
    History(crate::commands::history::HistoryReport),
    Diff(crate::commands::diff::DiffReport),
    Metrics(crate::metrics::MetricsReport),
    Rendered(crate::gitops::Rendered),
}

impl Outcome for DeployOutcome {
    fn render_human_at(&self, out: &mut dyn std::io::Write, verbose: u8) -> std::io::Result<()> {
        match self {
            Self::Promoted(r) => r.render_human_at(out, verbose),
            Self::Approved(r) => r.render_human_at(out, verbose),
            Self::Status(r) => r.render_human_at(out, verbose),
            Self::History(r) => r.render_human_at(out, verbose),
            Self::Diff(r) => r.render_human_at(out, verbose),
            Self::Metrics(r) => r.render_human_at(out, verbose),
            Self::Rendered(r) => r.render_human_at(out, verbose),
        }
    }

    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Promoted(r) => r.exit_status(),
            Self::Approved(r) => r.exit_status(),
            Self::Status(r) => r.exit_status(),
            Self::History(r) => r.exit_status(),
            Self::Diff(r) => r.exit_status(),
            Self::Metrics(r) => r.exit_status(),
            Self::Rendered(r) => r.exit_status(),
        }
    }

    /// The step outputs of a command in GitHub Actions: the `bundle-id` (full,
    /// `sha256:...`) that `up`, `promote` or `rollback` deployed (or, with
    /// `--dry-run`, made) and the Helm `revision` the release is at afterwards.
    fn step_outputs(&self) -> Vec<(&'static str, String)> {
        let DeployOutcome::Promoted(report) = self else {
            return Vec::new();
        };
        let mut outputs = vec![("bundle-id", report.bundle.as_str().to_owned())];
        if let Some(revision) = report.revision {
            outputs.push(("revision", revision.to_string()));
        }
        outputs
    }
}

/// What each `deploy` command prints with `--json`.
pub fn json_schemas() -> Vec<windlass_output::json::CommandSchema> {
    use windlass_output::json::CommandSchema;
    vec![
        CommandSchema::new::<crate::promotion::PromotionReport>("deploy up"),
        CommandSchema::new::<crate::promotion::PromotionReport>("deploy promote"),
        CommandSchema::new::<crate::commands::approve::ApproveReport>("deploy approve"),
        CommandSchema::new::<crate::commands::status::StatusReport>("deploy status"),
        CommandSchema::new::<crate::commands::history::HistoryReport>("deploy history"),
        CommandSchema::new::<crate::commands::diff::DiffReport>("deploy diff"),
        CommandSchema::new::<crate::promotion::PromotionReport>("deploy rollback"),
        CommandSchema::new::<crate::metrics::MetricsReport>("deploy metrics"),
        CommandSchema::new::<crate::gitops::Rendered>("deploy render"),
    ]
}

/// The error types a `deploy` command may end with.
pub fn classifier() -> windlass_output::Classifier {
    windlass_output::Classifier::default()
        .with::<windlass_config::LoadError>()
        .with::<windlass_fs::ReadError>()
        .with::<windlass_process::SpawnError>()
        .with::<windlass_process::RunError>()
        .with::<windlass_process::CheckedError>()
        .with::<windlass_http::HttpError>()
        .with::<windlass_secrets::ResolveError>()
        .with::<crate::kube::KubeError>()
        .with::<crate::kube::lease::LeaseError>()
        .with::<crate::kube::ledger::LedgerError>()
        .with::<crate::helm::HelmError>()
        .with::<crate::helm::chart::ChartError>()
        .with::<crate::make::MakeError>()
        .with::<crate::gates::GateConfigError>()
        .with::<crate::metrics::MetricsError>()
        .with::<crate::strategy::StrategyError>()
}

/// Runs `windlass deploy ...` to the end: output, logging, configuration,
/// the async runtime and the exit code.
pub fn main(cli: &DeployCli) -> ExitCode {
    let printer = Printer::builder(&cli.output, cli.command.name())
        .classifier(classifier())
        .build();
    windlass_output::run_command(&printer, || {
        let ctx = Context::load(cli.config.as_deref())?;
        let printer = &printer;
        Ok(async move { run(&cli.command, &ctx, printer).await })
    })
}

/// Runs one `deploy` command. A promotion handles SIGINT and SIGTERM
/// itself (it records the interruption and releases the environment's
/// lease before it returns [`windlass_process::Interrupted`]); the other
/// commands stop where they are.
pub async fn run(
    command: &DeployCommand,
    ctx: &Context,
    printer: &Printer,
) -> anyhow::Result<DeployOutcome> {
    use crate::commands;
    match command {
        DeployCommand::Up(args) => Box::pin(commands::up::run(args, ctx, printer))
            .await
            .map(DeployOutcome::Promoted),
        DeployCommand::Promote(args) => Box::pin(commands::promote::run(args, ctx, printer))
            .await
            .map(DeployOutcome::Promoted),
        DeployCommand::Rollback(args) => Box::pin(commands::rollback::run(args, ctx, printer))
            .await
            .map(DeployOutcome::Promoted),
        DeployCommand::Approve(args) => {
            windlass_process::until_interrupted(commands::approve::run(args, ctx, printer))
                .await?
                .map(DeployOutcome::Approved)
        }
        DeployCommand::Status(args) => {
            windlass_process::until_interrupted(commands::status::run(args, ctx, printer))
                .await?
                .map(DeployOutcome::Status)
        }
        DeployCommand::History(args) => {
            windlass_process::until_interrupted(commands::history::run(args, ctx, printer))
                .await?
                .map(DeployOutcome::History)
        }
        DeployCommand::Diff(args) => {
            windlass_process::until_interrupted(commands::diff::run(args, ctx, printer))
                .await?
                .map(DeployOutcome::Diff)
        }
        DeployCommand::Render(args) => {
            windlass_process::until_interrupted(Box::pin(crate::gitops::run(args, ctx, printer)))
                .await?
                .map(DeployOutcome::Rendered)
        }
        DeployCommand::Metrics(args) => {
            windlass_process::until_interrupted(commands::metrics::run(args, ctx, printer))
                .await?
                .map(DeployOutcome::Metrics)
        }
    }
}
