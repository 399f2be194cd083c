//! `windlass wheel`: build, check and publish Python wheels and sdists.
//!
//! The clap definition ([`cli::WheelCli`]) lives here so that the umbrella
//! binary (`windlass wheel ...`) and the focused one (`windlass-wheel ...`)
//! share it, and so does [`cli::main`]. Building and checking go through
//! `windlass-dist` (which needs no network), publishing through
//! `windlass-pypi`; each returns a serialisable outcome for `windlass-output`
//! to print. This crate never prints data itself and never spawns a process
//! or opens a connection except through those crates.
//!
//! Exit codes: 0 built, every distribution passed, or every file is on the
//! index; 1 `check` found problems, `publish` found one before sending
//! anything (it runs the checks of `check` first unless `--no-check`), or a
//! different file already exists under the same name; 2 bad input (no
//! pyproject, invalid TOML or metadata, no file given or found in the
//! output directory, a file that is not a distribution or not a regular file, a project file that
//! links outside the project or is a fifo, socket or device, build
//! requirements that cannot be installed);
//! 3 the index or the network failed; 1 also for a failed write or a backend
//! that crashed; 130 stopped by SIGINT or SIGTERM (one `interrupted` line;
//! `publish` also says what it uploaded, skipped, did not start and cut
//! short).

pub mod cli;
pub mod config;
pub mod publish;

pub use crate::publish::{PublishArgs, TrustedPublishing};

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use windlass_dist::archive::Timestamp;
use windlass_dist::build::{BackendChoice, BuildRequest};
use windlass_dist::pep517::Pep517Options;
use windlass_dist::{Problem, check_file};
use windlass_output::{Classified, ExitStatus, Outcome, Printer, display_path, escape_controls};

/// `windlass wheel`: build, check and publish Python distributions.
#[derive(Debug, Clone, clap::Args)]
pub struct WheelArgs {
    #[command(subcommand)]
    pub command: WheelCommand,
}

/// The subcommands of `windlass wheel`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum WheelCommand {
    /// Build a wheel and an sdist from a Python project
    Build(BuildArgs),
    /// Check wheels and sdists the way twine, check-wheel-contents and
    /// installers do (exit 1 when a problem is found)
    Check(CheckArgs),
    /// Check, then upload wheels and sdists to PyPI or another index; files
    /// already there with the same hash are skipped, so a re-run is safe
    Publish(PublishCommand),
}

impl WheelCommand {
    /// The command's name in output and JSON documents.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Build(_) => "wheel build",
            Self::Check(_) => "wheel check",
            Self::Publish(_) => "wheel publish",
        }
    }
}

/// `windlass wheel build`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// The project directory (holding pyproject.toml, or setup.py or
    /// setup.cfg only: setuptools' legacy backend)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the archives [default: `[wheel] out`, else DIR/dist]
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Build the wheel (with neither flag: both)
    #[arg(long)]
    pub wheel: bool,
    /// Build the sdist (with neither flag: both)
    #[arg(long)]
    pub sdist: bool,
    /// Which builder: `native` reproduces hatchling, flit_core, setuptools
    /// and uv_build for static metadata; `pep517` runs the declared backend;
    /// `auto` picks native when it is sure to match (`-v` says why it did
    /// not) [default: `[wheel] backend`, else auto]
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Build the wheel from the source tree instead of the unpacked sdist
    /// (PEP 517 builds only)
    #[arg(long)]
    pub no_wheel_from_sdist: bool,
}

/// `--backend` and `[wheel] backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    #[default]
    Auto,
    Native,
    Pep517,
}

/// `windlass wheel check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Wheels (`.whl`) and sdists (`.tar.gz`) to check [default: the ones in
    /// `[wheel] out`, else in dist/ of the project]
    #[arg(value_name = "DIST")]
    pub dists: Vec<PathBuf>,
}

/// `windlass wheel publish`: the upload arguments and the check before it.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishCommand {
    #[command(flatten)]
    pub publish: PublishArgs,
    /// Upload without running the checks of `wheel check` first (by
    /// default a file with a problem stops the run, exit 1, before
    /// anything is sent)
    #[arg(long)]
    pub no_check: bool,
}

/// What a `windlass wheel` command returns (the JSON `data`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WheelOutcome {
    Built(BuildReport),
    Checked(CheckReport),
    Published(windlass_pypi::PublishReport),
}

/// `build`'s result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BuildReport {
    pub artifacts: Vec<windlass_dist::Artifact>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallback_reasons: Vec<String>,
}

/// `check`'s result: every file with its problems.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "WheelCheckReport")]
pub struct CheckReport {
    pub files: Vec<FileReport>,
    pub problem_count: usize,
}

/// The problems of one file.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "WheelCheckFile")]
pub struct FileReport {
    pub path: PathBuf,
    pub ok: bool,
    pub problems: Vec<Problem>,
}

impl Outcome for WheelOutcome {
    fn render_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.render_human_at(out, 0)
    }

    /// One line per file (the built archive with its size, `PASSED` or
    /// `FAILED` and the file); `publish` keeps its details for `-v`.
    fn render_human_at(&self, out: &mut dyn Write, verbose: u8) -> std::io::Result<()> {
        match self {
            Self::Built(b) => {
                for a in &b.artifacts {
                    writeln!(out, "{}", display_path(&a.path))?;
                }
                Ok(())
            }
            Self::Checked(c) => {
                for f in &c.files {
                    writeln!(
                        out,
                        "{} {}",
                        if f.ok { "PASSED" } else { "FAILED" },
                        display_path(&f.path)
                    )?;
                    for p in &f.problems {
                        writeln!(out, "  {p}")?;
                    }
                }
                Ok(())
            }
            Self::Published(p) => p.render_human_at(out, verbose),
        }
    }

    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Checked(c) if c.problem_count > 0 => ExitStatus::Failure,
            Self::Published(p) => p.exit_status(),
            _ => ExitStatus::Success,
        }
    }

    /// The step outputs of a command in GitHub Actions: `build` gives the
    /// `version` it built and its `files` (a JSON list of paths).
    fn step_outputs(&self) -> Vec<(&'static str, String)> {
        let Self::Built(report) = self else {
            return Vec::new();
        };
        let files: Vec<String> = report
            .artifacts
            .iter()
            .map(|a| a.path.display().to_string())
            .collect();
        let mut outputs = Vec::new();
        if let Some(version) = report
            .artifacts
            .iter()
            .find_map(|a| cli::version_of(a.path.file_name()?.to_str()?))
        {
            outputs.push(("version", version.to_owned()));
        }
        outputs.push((
            "files",
            serde_json::to_string(&files).unwrap_or_else(|_| "[]".to_owned()),
        ));
        outputs
    }
}

/// Runs a `windlass wheel` command with its configuration.
pub async fn run(
    args: &WheelArgs,
    ctx: &cli::Context,
    printer: &Printer,
) -> anyhow::Result<WheelOutcome> {
    match &args.command {
        WheelCommand::Build(b) => build(b, &ctx.wheel, &ctx.env, printer)
            .await
            .map(WheelOutcome::Built),
        WheelCommand::Check(c) => {
            let paths = given_or_built(&c.dists, ctx)?;
            check(&paths, printer).await.map(WheelOutcome::Checked)
        }
        WheelCommand::Publish(p) => publish(p, ctx, printer).await.map(WheelOutcome::Published),
    }
}

/// The files given (as written), else the wheels and sdists `build` wrote
/// into the output directory of the project.
fn given_or_built(given: &[PathBuf], ctx: &cli::Context) -> anyhow::Result<Vec<PathBuf>> {
    if given.is_empty() {
        windlass_pypi::dist_paths(given, &ctx.cwd, &ctx.out_dir())
    } else {
        Ok(given
            .iter()
            .map(|p| windlass_output::clean_path(p))
            .collect())
    }
}

/// `publish`: the files (given, or what `build` wrote), checked unless
/// `--no-check`, then uploaded. A file with a problem stops the run with
/// exit 1, as `check` would, before anything is uploaded: the checks run
/// while `windlass-pypi` reads the files and looks their projects up.
async fn publish(
    cmd: &PublishCommand,
    ctx: &cli::Context,
    printer: &Printer,
) -> anyhow::Result<windlass_pypi::PublishReport> {
    let paths = given_or_built(&cmd.publish.dists, ctx)?;
    let checked = async {
        if !cmd.no_check {
            let report = check(&paths, printer).await?;
            if report.problem_count > 0 {
                return Err(refuse_unchecked(&report, printer));
            }
        }
        Ok(())
    };
    let context = match ctx.publish_context() {
        Ok(context) => context,
        // The files' problems first, as when nothing else ran.
        Err(error) => {
            checked.await?;
            return Err(error);
        }
    };
    // Exactly the files checked: a file written meanwhile is not picked up.
    let request = cmd
        .publish
        .request(paths.clone(), ctx.wheel.repository.clone());
    windlass_pypi::publish_checked(&request, &context, printer, checked).await
}

/// The error for files `check` found problems in, each problem (which
/// names its file) first given as a warning.
fn refuse_unchecked(report: &CheckReport, printer: &Printer) -> anyhow::Error {
    let failed: Vec<&FileReport> = report.files.iter().filter(|f| !f.ok).collect();
    for problem in failed.iter().flat_map(|f| &f.problems) {
        printer.warn(&problem.to_string());
    }
    let names: Vec<String> = failed
        .iter()
        .map(|f| format!("`{}`", display_name(&f.path)))
        .collect();
    Classified::new(anyhow::anyhow!(
        "{} found in {}, so nothing was published",
        windlass_output::plural(report.problem_count, "problem", "problems"),
        names.join(", ")
    ))
    .with_status(ExitStatus::Failure)
    .with_hint("fix the project and build again (`windlass wheel check` shows the problems), or pass `--no-check` to publish anyway")
    .into()
}

async fn build(
    args: &BuildArgs,
    section: &config::WheelSection,
    env: &windlass_config::Environment,
    printer: &Printer,
) -> anyhow::Result<BuildReport> {
    let out_dir = args
        .out
        .clone()
        .or_else(|| section.out.as_ref().map(|p| p.as_path().to_path_buf()))
        .unwrap_or_else(|| args.dir.join("dist"));
    let backend = args.backend.or(section.backend).unwrap_or_default();
    let request = BuildRequest {
        project_dir: args.dir.clone(),
        out_dir,
        wheel: args.wheel,
        sdist: args.sdist,
        backend: match backend {
            Backend::Auto => BackendChoice::Auto,
            Backend::Native => BackendChoice::Native,
            Backend::Pep517 => BackendChoice::Pep517,
        },
        timestamp: Timestamp::from_source_date_epoch(env.get_str("SOURCE_DATE_EPOCH")),
        pep517: Pep517Options {
            wheel_from_sdist: !args.no_wheel_from_sdist,
            ..Pep517Options::from_env(|name| env.get(name).map(ToOwned::to_owned))
        },
    };
    printer.status("Building", &display_path(&args.dir));
    let built = windlass_dist::build(&request).await?;
    for a in &built.artifacts {
        let size = std::fs::metadata(&a.path).map_or_else(
            |_| String::new(),
            |m| format!(", {}", windlass_output::human_size(m.len())),
        );
        printer.status(
            "Built",
            &format!("{} ({}{size})", display_name(&a.path), a.builder),
        );
    }
    // Paths as the user would write them: `--out ./dist` gives `dist/...`.
    let artifacts = built
        .artifacts
        .into_iter()
        .map(|mut a| {
            a.path = windlass_output::clean_path(&a.path);
            a
        })
        .collect();
    Ok(BuildReport {
        artifacts,
        fallback_reasons: built.fallback_reasons,
    })
}

/// The file name, control characters escaped (it may come from a glob over
/// files someone else named).
fn display_name(path: &Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    escape_controls(&name).into_owned()
}

/// Checks every file, each on a blocking thread of its own (they run in
/// parallel); the report, statuses and annotations come in the order of
/// `paths`.
async fn check(paths: &[PathBuf], printer: &Printer) -> anyhow::Result<CheckReport> {
    let tasks: Vec<_> = paths
        .iter()
        .cloned()
        .map(|path| tokio::task::spawn_blocking(move || check_file(&path)))
        .collect();
    let mut files = Vec::new();
    let mut count = 0;
    for (path, task) in paths.iter().zip(tasks) {
        printer.status("Checking", &display_name(path));
        let problems = task
            .await
            .map_err(|join| {
                Classified::new(
                    anyhow::Error::new(join).context("checking a distribution panicked"),
                )
                .with_status(ExitStatus::Bug)
            })?
            .with_context(|| format!("cannot check `{}`", display_path(path)))?;
        annotate(printer, path, &problems);
        count += problems.len();
        files.push(FileReport {
            path: path.clone(),
            ok: problems.is_empty(),
            problems,
        });
    }
    Ok(CheckReport {
        files,
        problem_count: count,
    })
}

/// Inside GitHub Actions, one `::error` annotation per problem, on the
/// archive's path, titled with the problem's code.
fn annotate(printer: &Printer, path: &Path, problems: &[Problem]) {
    let Some(github) = printer.github() else {
        return;
    };
    for problem in problems {
        let annotation = windlass_output::github::Annotation::error(problem.to_string())
            .file(display_path(path))
            .title(format!("wheel check: {}", problem.code));
        if let Err(err) = github.annotate(&annotation) {
            tracing::warn!("cannot write a GitHub annotation: {err}");
        }
    }
}
