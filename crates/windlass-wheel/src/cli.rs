//! The command line shared by `windlass-wheel` and `windlass wheel`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use windlass_config::EffectiveConfig;
use windlass_config::Environment;
use windlass_http::HttpConfig;
use windlass_output::{OutputArgs, Printer};
use windlass_secrets::SecretsConfig;

use crate::config::WheelSection;
use crate::{WheelArgs, WheelCommand};

/// Everything `windlass wheel` accepts: output flags, `--config` and a
/// subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct WheelCli {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Read this configuration file instead of searching for `windlass.toml`
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub wheel: WheelArgs,
}

/// The configuration a `wheel` command runs with.
#[derive(Debug)]
pub struct Context {
    pub config: EffectiveConfig,
    pub wheel: WheelSection,
    pub env: Environment,
    pub cwd: PathBuf,
    /// The project root: the first directory from where the command looks
    /// (upwards, inside the repository) that holds `windlass.toml`,
    /// `pyproject.toml`, `setup.py` or `setup.cfg`; else that directory
    /// itself.
    pub project_root: PathBuf,
}

impl Context {
    /// Loads `windlass.toml` (searched from `start`) and its `[wheel]`
    /// section.
    pub fn load(config_file: Option<&Path>, start: &Path) -> anyhow::Result<Self> {
        let loaded = windlass_secrets::ToolConfig::load(config_file, Some(start))?;
        let project_root = find_project_root(&loaded.start);
        let wheel = loaded.config.section::<WheelSection>("wheel")?;
        Ok(Self {
            config: loaded.config,
            wheel,
            env: loaded.env,
            cwd: loaded.cwd,
            project_root,
        })
    }

    /// Where `build` writes by default, so where `check` and `publish` look
    /// when given no files: `[wheel] out`, else `dist/` of the project root.
    pub fn out_dir(&self) -> PathBuf {
        self.wheel.out.as_ref().map_or_else(
            || self.project_root.join("dist"),
            |out| out.resolve(&self.project_root),
        )
    }

    /// What `publish` runs with: the environment, repositories,
    /// `[secrets]`/`[vault]` for secret references, `[http]`.
    pub fn publish_context(&self) -> anyhow::Result<windlass_pypi::PublishContext> {
        Ok(windlass_pypi::PublishContext {
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            project_dir: self
                .config
                .project_dir()
                .map_or_else(|| self.cwd.clone(), Path::to_path_buf),
            repositories: self.wheel.repositories.clone(),
            secrets: SecretsConfig::from_effective(&self.config)?,
            http: HttpConfig::from_settings(&self.config.settings.http),
            prompt: windlass_pypi::TokenPrompt::terminal(),
        })
    }
}

/// The first of `start` and its ancestors holding `windlass.toml`,
/// `pyproject.toml`, `setup.py` or `setup.cfg`; the search stops at the repository root (a directory
/// with `.git`), as the search for `windlass.toml` does. `start` when none
/// does.
fn find_project_root(start: &Path) -> PathBuf {
    for dir in start.ancestors() {
        if ["windlass.toml", "pyproject.toml", "setup.py", "setup.cfg"]
            .iter()
            .any(|file| dir.join(file).exists())
        {
            return dir.to_path_buf();
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    start.to_path_buf()
}

/// What each `wheel` command prints with `--json`: the type of its result
/// `data` (no command streams events yet).
pub fn json_schemas() -> Vec<windlass_output::json::CommandSchema> {
    use windlass_output::json::CommandSchema;
    vec![
        CommandSchema::new::<crate::BuildReport>("wheel build"),
        CommandSchema::new::<crate::CheckReport>("wheel check"),
        CommandSchema::new::<windlass_pypi::PublishReport>("wheel publish"),
    ]
}

/// Runs `windlass wheel ...` to the end: output, logging, configuration,
/// the async runtime and the exit code.
pub fn main(cli: &WheelCli) -> ExitCode {
    let printer = Printer::builder(&cli.output, cli.wheel.command.name())
        .classifier(
            windlass_dist::classifier(windlass_pypi::classifier())
                .with::<windlass_config::LoadError>()
                .with::<windlass_fs::ReadError>()
                .with::<windlass_process::SpawnError>()
                .with::<windlass_process::RunError>()
                .with::<windlass_process::CheckedError>(),
        )
        .build();
    windlass_output::run_command(&printer, || {
        // `build DIR` reads the project's configuration; the other
        // commands read the one of the working directory.
        let start = match &cli.wheel.command {
            WheelCommand::Build(build) => build.dir.as_path(),
            WheelCommand::Check(_) | WheelCommand::Publish(_) => Path::new("."),
        };
        let ctx = Context::load(cli.config.as_deref(), start)?;
        let printer = &printer;
        Ok(async move {
            // A build backend killed by the signal too: nothing to report
            // but `interrupted` (130). A publish interrupted during its
            // uploads reports what it did instead, through its outcome.
            crate::run(&cli.wheel, &ctx, printer)
                .await
                .map_err(|error| {
                    if child_interrupted(&error) {
                        anyhow::Error::new(windlass_output::Interrupted)
                    } else {
                        error
                    }
                })
        })
    })
}

/// The version in a wheel's or sdist's file name (`NAME-VERSION-...whl`,
/// `NAME-VERSION.tar.gz`; both names have `-` escaped as `_`).
pub(crate) fn version_of(file_name: &str) -> Option<&str> {
    if let Some(stem) = file_name.strip_suffix(".whl") {
        stem.split('-').nth(1)
    } else {
        let stem = file_name.strip_suffix(".tar.gz")?;
        stem.rsplit_once('-').map(|(_, version)| version)
    }
}

/// Whether a child we ran in the foreground (a build backend) was stopped
/// by SIGINT or SIGTERM.
fn child_interrupted(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        matches!(
            e.downcast_ref::<windlass_process::CheckedError>(),
            Some(windlass_process::CheckedError::Interrupted { .. })
        )
    })
}
