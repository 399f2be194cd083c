//! The command line shared by `windlass-check` and `windlass check`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use windlass_output::{ExitStatus, Outcome, OutputArgs, Printer};

use crate::config::CheckSection;
use crate::model::{CheckResult, Status, TestOutcome};
use crate::plan::{Plan, Selection};

/// Everything `windlass check` accepts.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit codes: 0 every check passed, 1 a check failed, 2 usage or configuration error, 3 a tool could not be installed."
)]
pub struct CheckCli {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Read this configuration file instead of searching for `windlass.toml`
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub args: CheckArgs,
}

/// What to check and how.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CheckArgs {
    /// Check only these files and directories (default: the whole project)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Check only the files changed since REF (default: the merge base with
    /// the default branch), uncommitted and untracked ones included
    #[arg(long, value_name = "REF", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub changed: Option<String>,
    /// Show what would run and why, and run nothing
    #[arg(long)]
    pub list: bool,
    /// Run only this check (repeatable)
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Do not run this check (repeatable)
    #[arg(long, value_name = "NAME")]
    pub skip: Vec<String>,
    /// Run every check, even when a cached result matches its inputs
    #[arg(long)]
    pub no_cache: bool,
    /// How many checks run at once (default: the number of cores)
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Write the test cases and findings as one JUnit XML file
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the findings as a SARIF 2.1.0 file (for code scanning)
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
}

/// What `windlass check` returns.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum CheckOutcome {
    /// The checks' results.
    Report(CheckReport),
    /// `--list`: the plan.
    Plan(Plan),
}

/// The results of a run.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CheckReport {
    /// The project directory.
    pub root: String,
    /// One per check, in plan order.
    pub checks: Vec<CheckResult>,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
    /// How many results came from the cache.
    pub cached: usize,
    /// Wall time of the whole run, in seconds.
    #[schemars(with = "f64")]
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Checks whose tool could not be installed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub install_failed: Vec<String>,
    /// SIGINT or SIGTERM stopped the run (the JSON result then has the
    /// error `interrupted`).
    #[serde(skip)]
    pub interrupted: bool,
}

fn secs<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(value.as_secs_f64())
}

impl CheckReport {
    fn new(root: &Path, results: crate::run::RunResults, duration: Duration) -> Self {
        let crate::run::RunResults {
            results: checks,
            install_failed,
            interrupted,
        } = results;
        let count = |status| checks.iter().filter(|c| c.status == status).count();
        Self {
            root: root.display().to_string(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            errors: count(Status::Error),
            skipped: count(Status::Skipped),
            cached: checks.iter().filter(|c| c.cached).count(),
            checks,
            duration,
            install_failed,
            interrupted,
        }
    }
}

impl Outcome for CheckOutcome {
    fn render_human_at(&self, out: &mut dyn Write, verbose: u8) -> std::io::Result<()> {
        match self {
            Self::Report(report) => report.render(out, verbose),
            Self::Plan(plan) => render_plan(plan, out, verbose),
        }
    }

    fn exit_status(&self) -> ExitStatus {
        let Self::Report(report) = self else {
            return ExitStatus::Success;
        };
        if report.interrupted {
            ExitStatus::Interrupted
        } else if !report.install_failed.is_empty() {
            ExitStatus::Remote
        } else if report.failed + report.errors > 0 {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        }
    }
}

fn render_plan(plan: &Plan, out: &mut dyn Write, verbose: u8) -> std::io::Result<()> {
    if plan.checks.is_empty() {
        return writeln!(out, "no check fits this project");
    }
    let width = plan.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let tools = plan.checks.iter().map(|c| c.tool.len()).max().unwrap_or(0);
    for check in &plan.checks {
        let files = windlass_output::plural(check.files.len(), "file", "files");
        let how = if check.takes_files {
            "checks"
        } else {
            "watches"
        };
        writeln!(
            out,
            "{:width$}  {:tools$}  {}; {how} {files}",
            check.name, check.tool, check.reason
        )?;
        if let Some(command) = &check.command {
            writeln!(out, "{:width$}  command: {}", "", command.join(" "))?;
        }
        if verbose > 0 {
            for file in &check.files {
                writeln!(out, "{:width$}    {file}", "")?;
            }
        }
    }
    Ok(())
}

impl CheckReport {
    fn render(&self, out: &mut dyn Write, verbose: u8) -> std::io::Result<()> {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for check in &self.checks {
            render_check(check, width, out, verbose)?;
        }
        let mut parts = vec![format!("{} passed", self.passed)];
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.errors > 0 {
            parts.push(format!("{} with errors", self.errors));
        }
        if self.skipped > 0 {
            parts.push(format!("{} skipped", self.skipped));
        }
        if self.cached > 0 {
            parts.push(format!("{} cached", self.cached));
        }
        writeln!(
            out,
            "{}: {} in {:.2}s",
            windlass_output::plural(self.checks.len(), "check", "checks"),
            parts.join(", "),
            self.duration.as_secs_f64()
        )
    }
}

/// One check's line, then its findings, failed tests and (when they do
/// not say it all) its output.
fn render_check(
    check: &CheckResult,
    width: usize,
    out: &mut dyn Write,
    verbose: u8,
) -> std::io::Result<()> {
    let status = match check.status {
        Status::Passed => "passed",
        Status::Failed => "FAILED",
        Status::Error => "ERROR",
        Status::Skipped => "skipped",
    };
    let time = if check.status == Status::Skipped {
        String::new()
    } else {
        format!("  {:.2}s", check.duration.as_secs_f64())
    };
    let cached = if check.cached { "  (cached)" } else { "" };
    let tests = if check.tests.is_empty() {
        String::new()
    } else {
        let failed = check
            .tests
            .iter()
            .filter(|t| {
                matches!(
                    t.outcome,
                    TestOutcome::Failed { .. } | TestOutcome::Error { .. }
                )
            })
            .count();
        format!(
            "  {} ({failed} failed)",
            windlass_output::plural(check.tests.len(), "test", "tests")
        )
    };
    writeln!(out, "{:width$}  {status}{time}{tests}{cached}", check.name)?;
    for finding in &check.findings {
        let place = finding.location.as_ref().map_or_else(String::new, |l| {
            let mut place = l.path.clone();
            if let Some(line) = l.line {
                let _ = write!(place, ":{line}");
                if let Some(column) = l.column {
                    let _ = write!(place, ":{column}");
                }
            }
            format!("{place}: ")
        });
        let rule = finding
            .rule
            .as_ref()
            .map_or_else(String::new, |r| format!("{r} "));
        let message = finding.message.lines().next().unwrap_or_default();
        writeln!(
            out,
            "  {place}{rule}{}",
            windlass_output::escape_controls(message)
        )?;
    }
    for test in &check.tests {
        let (TestOutcome::Failed { message, .. } | TestOutcome::Error { message, .. }) =
            &test.outcome
        else {
            continue;
        };
        let place = test
            .location
            .as_ref()
            .map_or_else(String::new, |l| match l.line {
                Some(line) => format!("{}:{line}: ", l.path),
                None => format!("{}: ", l.path),
            });
        let message = message.lines().next().unwrap_or_default();
        writeln!(
            out,
            "  {place}{}: {}",
            test.name,
            windlass_output::escape_controls(message)
        )?;
    }
    let show_output = match check.status {
        Status::Error => true,
        Status::Failed => verbose > 0 || (check.findings.is_empty() && check.tests.is_empty()),
        _ => false,
    };
    if show_output && !check.output.is_empty() {
        for line in check.output.lines() {
            writeln!(out, "  | {}", windlass_output::escape_controls(line))?;
        }
    }
    Ok(())
}

/// What `windlass check` prints with `--json`.
pub fn json_schemas() -> Vec<windlass_output::json::CommandSchema> {
    vec![windlass_output::json::CommandSchema::new::<CheckOutcome>(
        "check",
    )]
}

/// The error types `windlass check` may end with.
pub fn classifier() -> windlass_output::Classifier {
    windlass_output::Classifier::default()
        .with::<windlass_config::LoadError>()
        .with::<windlass_fs::ReadError>()
        .with::<windlass_process::SpawnError>()
        .with::<windlass_process::RunError>()
        .with::<windlass_secrets::ResolveError>()
        .with::<crate::plan::PlanError>()
        .with::<crate::changed::ChangedError>()
        .with::<crate::tools::InstallError>()
        .with::<windlass_output::github::GitHubError>()
}

/// Runs `windlass check ...` to the end: output, logging, configuration,
/// the async runtime and the exit code.
pub fn main(cli: &CheckCli) -> ExitCode {
    let printer = Printer::builder(&cli.output, "check")
        .classifier(classifier())
        .build();
    windlass_output::run_command(&printer, || Ok(run(cli, &printer)))
}

/// Runs `windlass check` with this command line; SIGINT or SIGTERM while
/// the checks run ends it with [`windlass_process::Interrupted`].
pub async fn run(cli: &CheckCli, printer: &Printer) -> anyhow::Result<CheckOutcome> {
    let started = Instant::now();
    let loaded = windlass_secrets::ToolConfig::load(cli.config.as_deref(), None)?;
    let section = loaded.config.section::<CheckSection>("check")?;
    let root = loaded
        .config
        .project_dir()
        .map_or_else(|| loaded.cwd.clone(), Path::to_path_buf);
    let args = &cli.args;
    let files = crate::files::project_files(&root);
    let config_file = match &cli.config {
        Some(path) => Some(loaded.cwd.join(path)),
        None => loaded
            .config
            .project_dir()
            .map(|dir| dir.join("windlass.toml")),
    };
    let selection = Selection {
        only: args.only.clone(),
        skip: args.skip.clone(),
    };
    let plan = crate::plan::plan(&root, &files, &section, &selection, config_file.as_deref())?;
    if args.list {
        return Ok(CheckOutcome::Plan(plan));
    }
    let restrict = restriction(args, &root, &loaded.cwd, &files).await?;
    let cache_dir = windlass_dist_cache_dir(&loaded.env);
    let index_url = match section.index_url.as_deref().or_else(|| {
        loaded
            .env
            .get_str("PIP_INDEX_URL")
            .filter(|v| !v.is_empty())
    }) {
        Some(text) => {
            let url =
                windlass_redact::RedactedUrl::parse(text).map_err(|e| crate::plan::PlanError {
                    message: format!("`[check] index-url` is not a URL ({e})"),
                    hint: Some("write it as `https://host/simple/`".into()),
                })?;
            Some(url)
        }
        None => None,
    };
    let installer = crate::tools::Installer::new(crate::tools::InstallerOptions {
        cache_dir: cache_dir.clone(),
        python: crate::tools::python_from_env(&loaded.env),
        index_url,
        installer: section.installer,
        uv: crate::tools::uv_from_env(&loaded.env),
    });
    let secrets = windlass_secrets::SecretsConfig::from_effective(&loaded.config)?;
    let resolver = Arc::new(windlass_secrets::Resolver::new(
        loaded.env.clone(),
        &root,
        secrets.vault,
    ));
    let jobs = args
        .jobs
        .map(usize::from)
        .or(section.jobs)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let ctx = Arc::new(crate::run::RunContext {
        root: root.clone(),
        env: loaded.env.clone(),
        cache: (!args.no_cache).then(|| crate::cache::ResultCache::new(&cache_dir)),
        installer,
        versions: section.tools.clone(),
        jobs,
        resolver: Arc::clone(&resolver),
        restrict,
        interrupted: std::sync::atomic::AtomicBool::new(false),
    });
    let done = |result: &CheckResult| {
        let verb = match result.status {
            Status::Passed => "Passed",
            Status::Failed => "Failed",
            Status::Error => "Error",
            Status::Skipped => "Skipped",
        };
        let cached = if result.cached { ", cached" } else { "" };
        printer.status(
            verb,
            &format!(
                "{} ({:.2}s{cached})",
                result.name,
                result.duration.as_secs_f64()
            ),
        );
    };
    // SIGINT or SIGTERM stops the checks (their children die with them);
    // a Vault token the secrets of `[check.NAME] env` needed is revoked
    // either way.
    let results = windlass_process::until_interrupted(crate::run::run(&plan, ctx, &done)).await;
    resolver.close_unless_interrupted().await;
    let results = results?;
    let report = CheckReport::new(&root, results, started.elapsed());
    write_reports(&report, args, &loaded.cwd, printer)?;
    Ok(CheckOutcome::Report(report))
}

/// The files a run is restricted to: those under the paths given, and
/// with `--changed` those changed since the ref; none when neither is
/// given.
async fn restriction(
    args: &CheckArgs,
    root: &Path,
    cwd: &Path,
    files: &[String],
) -> anyhow::Result<Option<BTreeSet<String>>> {
    let mut restrict: Option<BTreeSet<String>> = None;
    if !args.paths.is_empty() {
        let mut under = Vec::new();
        for path in &args.paths {
            let absolute = cwd.join(path);
            let Ok(relative) = absolute.strip_prefix(root) else {
                return Err(crate::plan::PlanError {
                    message: format!(
                        "`{}` is outside the project `{}`",
                        path.display(),
                        root.display()
                    ),
                    hint: Some(
                        "give paths inside the project, or run from the project's directory".into(),
                    ),
                }
                .into());
            };
            if !absolute.exists() {
                return Err(crate::plan::PlanError {
                    message: format!("`{}` does not exist", path.display()),
                    hint: None,
                }
                .into());
            }
            under.push(crate::files::slash_path(relative));
        }
        restrict = Some(
            files
                .iter()
                .filter(|f| {
                    under
                        .iter()
                        .any(|u| u.is_empty() || *f == u || f.starts_with(&format!("{u}/")))
                })
                .cloned()
                .collect(),
        );
    }
    if let Some(reference) = &args.changed {
        let reference = if reference.is_empty() {
            crate::changed::default_ref(root).await
        } else {
            reference.clone()
        };
        let changed = crate::changed::changed_files(root, &reference).await?;
        restrict = Some(match restrict {
            Some(paths) => paths.intersection(&changed).cloned().collect(),
            None => changed,
        });
    }
    Ok(restrict)
}

/// The annotations and step summary in GitHub Actions, and the `--junit`
/// and `--sarif` files.
fn write_reports(
    report: &CheckReport,
    args: &CheckArgs,
    cwd: &Path,
    printer: &Printer,
) -> anyhow::Result<()> {
    if let Some(github) = printer.github() {
        for annotation in crate::report::annotations(&report.checks) {
            github.annotate(&annotation)?;
        }
        github.append_summary(&crate::report::summary_markdown(&report.checks))?;
    }
    if let Some(path) = &args.junit {
        windlass_output::write_atomically(
            &cwd.join(path),
            crate::report::junit_xml(&report.checks).as_bytes(),
        )?;
    }
    if let Some(path) = &args.sarif {
        let mut text = serde_json::to_vec_pretty(&crate::report::sarif(&report.checks))?;
        text.push(b'\n');
        windlass_output::write_atomically(&cwd.join(path), &text)?;
    }
    Ok(())
}

/// Windlass's cache directory: `WINDLASS_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/windlass`, else `~/.cache/windlass`.
fn windlass_dist_cache_dir(env: &windlass_config::Environment) -> PathBuf {
    if let Some(dir) = env.get("WINDLASS_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = env.get("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("windlass");
    }
    env.home()
        .map_or_else(|| PathBuf::from(".cache"), |home| home.join(".cache"))
        .join("windlass")
}
