//! `windlass wheel`: build and check Python wheels and sdists.
//!
//! The clap definition ([`WheelArgs`]) lives here so that the umbrella binary
//! (`windlass wheel ...`) and the focused one (`windlass-wheel ...`) share it;
//! [`run`] does the work through `windlass-dist` and returns a serialisable
//! outcome for `windlass-output` to print. This crate never prints data
//! itself, never talks to the network and never spawns a process except
//! through `windlass-dist`'s PEP 517 front end.
//!
//! Exit codes: 0 built or every distribution passed; 1 `check` found
//! problems; 2 bad input (no pyproject, invalid TOML or metadata, a file that
//! is not a distribution, build requirements that cannot be installed); 1 also
//! for a failed write or a backend that crashed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use windlass_dist::archive::Timestamp;
use windlass_dist::build::{BackendChoice, BuildError, BuildRequest};
use windlass_dist::pep517::{Pep517Error, Pep517Options};
use windlass_dist::{Problem, check_file};
use windlass_output::{Classified, ExitStatus, Outcome, Printer};

/// `windlass wheel`: build and check Python distributions.
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
}

/// `windlass wheel build`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// The project directory (holding pyproject.toml)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the archives [default: DIR/dist]
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
    /// `auto` picks native when it is sure to match
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
    /// Build the wheel from the source tree instead of the unpacked sdist
    /// (PEP 517 builds only)
    #[arg(long)]
    pub no_wheel_from_sdist: bool,
}

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Auto,
    Native,
    Pep517,
}

/// `windlass wheel check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Wheels (`.whl`) and sdists (`.tar.gz`) to check
    #[arg(required = true, value_name = "DIST")]
    pub dists: Vec<PathBuf>,
}

/// What a `windlass wheel` command returns (the JSON `data`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WheelOutcome {
    Built(BuildReport),
    Checked(CheckReport),
}

/// `build`'s result.
#[derive(Debug, Serialize)]
pub struct BuildReport {
    pub artifacts: Vec<windlass_dist::Artifact>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallback_reasons: Vec<String>,
}

/// `check`'s result: every file with its problems.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub files: Vec<FileReport>,
    pub problem_count: usize,
}

/// The problems of one file.
#[derive(Debug, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub ok: bool,
    pub problems: Vec<Problem>,
}

impl Outcome for WheelOutcome {
    fn render_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            Self::Built(b) => {
                for a in &b.artifacts {
                    writeln!(out, "{}", a.path.display())?;
                }
                Ok(())
            }
            Self::Checked(c) => {
                for f in &c.files {
                    writeln!(
                        out,
                        "{} {}",
                        if f.ok { "PASSED" } else { "FAILED" },
                        f.path.display()
                    )?;
                    for p in &f.problems {
                        writeln!(out, "  {p}")?;
                    }
                }
                Ok(())
            }
        }
    }

    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Checked(c) if c.problem_count > 0 => ExitStatus::Failure,
            _ => ExitStatus::Success,
        }
    }
}

/// Runs a `windlass wheel` command.
pub async fn run(args: &WheelArgs, printer: &Printer) -> anyhow::Result<WheelOutcome> {
    match &args.command {
        WheelCommand::Build(b) => build(b, printer).await.map(WheelOutcome::Built),
        WheelCommand::Check(c) => check(c, printer).map(WheelOutcome::Checked),
    }
}

async fn build(args: &BuildArgs, printer: &Printer) -> anyhow::Result<BuildReport> {
    let out_dir = args.out.clone().unwrap_or_else(|| args.dir.join("dist"));
    let request = BuildRequest {
        project_dir: args.dir.clone(),
        out_dir,
        wheel: args.wheel,
        sdist: args.sdist,
        backend: match args.backend {
            Backend::Auto => BackendChoice::Auto,
            Backend::Native => BackendChoice::Native,
            Backend::Pep517 => BackendChoice::Pep517,
        },
        timestamp: Timestamp::from_env(),
        pep517: Pep517Options {
            wheel_from_sdist: !args.no_wheel_from_sdist,
            ..Pep517Options::default()
        },
    };
    printer.status("Building", &args.dir.display().to_string());
    let built = windlass_dist::build(&request)
        .await
        .map_err(classify_build)?;
    for a in &built.artifacts {
        printer.status(
            "Built",
            &format!("{} ({})", display_name(&a.path), a.builder),
        );
    }
    Ok(BuildReport {
        artifacts: built.artifacts,
        fallback_reasons: built.fallback_reasons,
    })
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Gives a build error its exit status and hint.
fn classify_build(error: BuildError) -> anyhow::Error {
    let status = match &error {
        // A build requirement that cannot be installed is almost always
        // misspelt or unpublished; a failing hook is the project's code.
        e if e.is_usage() => ExitStatus::Usage,
        BuildError::Pep517(
            Pep517Error::Environment { .. } | Pep517Error::Project(_) | Pep517Error::Hook { .. },
        ) => ExitStatus::Usage,
        _ => ExitStatus::Failure,
    };
    let hint = error.hint();
    let mut classified = Classified::new(error).with_status(status);
    if let Some(h) = hint {
        classified = classified.with_hint(h);
    }
    classified.into()
}

fn check(args: &CheckArgs, printer: &Printer) -> anyhow::Result<CheckReport> {
    let mut files = Vec::new();
    let mut count = 0;
    for path in &args.dists {
        printer.status("Checking", &display_name(path));
        let problems = check_file(path).map_err(|e| {
            let hint = e.hint();
            let mut c = Classified::new(e).with_status(ExitStatus::Usage);
            if let Some(h) = hint {
                c = c.with_hint(h);
            }
            anyhow::Error::from(c)
        });
        let problems = problems.with_context(|| format!("cannot check `{}`", path.display()))?;
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
