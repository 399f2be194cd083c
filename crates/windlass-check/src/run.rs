//! The runner: every check of a plan, at most `jobs` at once, each through
//! windlass-process with its output captured and redacted, its
//! machine-readable output read into a [`CheckResult`], and the result
//! cache asked first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use windlass_config::Environment;
use windlass_process::Cmd;
use windlass_secrets::{Resolver, SecretRef};

use crate::cache::{KeyInputs, ResultCache, hash_file};
use crate::config::OutputFormat;
use crate::model::{CheckResult, Finding, Severity, Status, TestOutcome};
use crate::plan::{Builtin, Plan, PlannedCheck};
use crate::tools::{Installer, ProjectEnvRequest, ToolSpec};

/// The most of a tool's output kept in a result.
const OUTPUT_LIMIT: usize = 16 * 1024;

/// Everything a run needs besides the plan.
#[derive(Debug)]
pub struct RunContext {
    /// The project directory: every check runs there.
    pub root: PathBuf,
    pub env: Environment,
    /// The result cache, unless `--no-cache`.
    pub cache: Option<ResultCache>,
    pub installer: Installer,
    /// Tool versions from `[check.tools]`.
    pub versions: BTreeMap<String, String>,
    pub jobs: usize,
    pub resolver: Arc<Resolver>,
    /// Only these files count (`--changed`, paths given), when set.
    pub restrict: Option<BTreeSet<String>>,
    /// Set when a check's child learned of our SIGINT or SIGTERM: the run
    /// stops, nothing more starts and nothing more is cached.
    pub interrupted: AtomicBool,
}

/// What a run produced: one result per planned check, in plan order.
#[derive(Debug)]
pub struct RunResults {
    pub results: Vec<CheckResult>,
    /// Checks whose tool could not be installed (exit 3).
    pub install_failed: Vec<String>,
    /// SIGINT or SIGTERM came while a check ran: the results are those of
    /// the checks that ended.
    pub interrupted: bool,
}

/// The tool spec of a Python tool, `[check.tools]` winning over the pin.
pub fn tool_spec(name: &str, versions: &BTreeMap<String, String>) -> Option<ToolSpec> {
    let mut spec = crate::tools::pinned(name)?;
    if let Some(version) = versions.get(name) {
        spec.requirement = format!("{name}=={version}");
    }
    Some(spec)
}

/// What a check will be run with, once its tool is there.
#[derive(Debug, Clone)]
struct Prepared {
    program: PathBuf,
    version: String,
    project_env: Option<String>,
}

/// Runs the plan; `done` is told of each result as it comes.
pub async fn run(
    plan: &Plan,
    ctx: Arc<RunContext>,
    done: &(dyn Fn(&CheckResult) + Sync),
) -> RunResults {
    let mut results: Vec<Option<CheckResult>> = vec![None; plan.checks.len()];
    let mut install_failed = Vec::new();
    // What each check gets to look at.
    let mut work = Vec::new();
    for (i, check) in plan.checks.iter().enumerate() {
        let files: Vec<String> = match &ctx.restrict {
            Some(only) => check
                .files
                .iter()
                .filter(|f| only.contains(*f))
                .cloned()
                .collect(),
            None => check.files.clone(),
        };
        if files.is_empty() && (ctx.restrict.is_some() || check.takes_files) {
            let result = skipped(check, "no file of this check changed");
            done(&result);
            results[i] = Some(result);
            continue;
        }
        let args = if check.takes_files {
            files
        } else {
            check.files.clone()
        };
        work.push((i, check.clone(), args));
    }
    // Each tool is found or installed once, by the first check that needs
    // it; a check starts as soon as its own tool is there.
    let mut tools: HashMap<String, Arc<ToolCell>> = HashMap::new();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(ctx.jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, check, files) in work {
        let cell = Arc::clone(tools.entry(tool_key(&check)).or_default());
        let ctx = Arc::clone(&ctx);
        let semaphore = Arc::clone(&semaphore);
        tasks.spawn(async move {
            let ready = cell.get_or_init(|| prepare_tool(&check, &ctx)).await;
            let ready = match ready {
                Ok(ready) => ready,
                Err(message) => {
                    let mut result = base_result(&check, None);
                    result.status = Status::Error;
                    result.output.clone_from(message);
                    return (i, result, true);
                }
            };
            let _permit = semaphore.acquire_owned().await;
            if ctx.interrupted.load(Ordering::SeqCst) {
                return (i, skipped(&check, "interrupted before it started"), false);
            }
            (i, run_one(&check, &files, ready, &ctx).await, false)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, result, uninstallable)) => {
                if uninstallable {
                    install_failed.push(result.name.clone());
                }
                done(&result);
                results[i] = Some(result);
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => tracing::error!("a check's task ended abnormally: {e}"),
        }
        if ctx.interrupted.load(Ordering::SeqCst) {
            tasks.abort_all();
        }
    }
    install_failed.sort();
    RunResults {
        results: results.into_iter().flatten().collect(),
        install_failed,
        interrupted: ctx.interrupted.load(Ordering::SeqCst),
    }
}

/// A tool found or installed once for every check that runs it: the
/// program and version, or the message to show for those checks.
type ToolCell = tokio::sync::OnceCell<Result<Prepared, String>>;

/// Which checks share a tool (ruff and ruff-format do).
fn tool_key(check: &PlannedCheck) -> String {
    match (check.builtin, &check.command) {
        (Some(Builtin::Pytest), None) => "pytest-env".to_owned(),
        (Some(b), None) => b.tool().to_owned(),
        _ => format!("command:{}", check.name),
    }
}

async fn prepare_tool(check: &PlannedCheck, ctx: &RunContext) -> Result<Prepared, String> {
    let plain = |program: PathBuf, version: String| Prepared {
        program,
        version,
        project_env: None,
    };
    if let Some(command) = &check.command {
        let program = command.first().cloned().unwrap_or_default();
        return Ok(plain(PathBuf::from(program), String::new()));
    }
    let Some(builtin) = check.builtin else {
        return Ok(plain(PathBuf::new(), String::new()));
    };
    match builtin {
        Builtin::Ruff | Builtin::RuffFormat | Builtin::Mypy => {
            let spec = tool_spec(builtin.tool(), &ctx.versions).ok_or("no pinned version")?;
            let tool = ctx
                .installer
                .ensure(&spec)
                .await
                .map_err(|e| error_text(&e))?;
            Ok(plain(tool.bin, tool.version))
        }
        Builtin::Pytest => {
            let spec = tool_spec("pytest", &ctx.versions).ok_or("no pinned version")?;
            let version = spec
                .requirement
                .split_once("==")
                .map_or("", |(_, v)| v)
                .to_owned();
            let request = ProjectEnvRequest {
                pytest: spec,
                ..ProjectEnvRequest::default()
            };
            let env = crate::tools::project_env(&ctx.installer, &ctx.root, &request)
                .await
                .map_err(|e| error_text(&e))?;
            Ok(Prepared {
                program: env.python,
                version,
                project_env: Some(env.key),
            })
        }
        Builtin::CargoFmt | Builtin::Clippy | Builtin::CargoTest => {
            let version = tool_version(
                &ctx.root,
                Path::new("cargo"),
                "install Rust (cargo) on PATH",
            )
            .await?;
            Ok(plain(PathBuf::from("cargo"), version))
        }
        Builtin::Shellcheck => {
            let version = tool_version(
                &ctx.root,
                Path::new("shellcheck"),
                "install shellcheck on PATH",
            )
            .await?;
            Ok(plain(PathBuf::from("shellcheck"), version))
        }
        Builtin::HelmLint => {
            let helm = ctx
                .env
                .get("WINDLASS_HELM")
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from("helm"), PathBuf::from);
            let version = tool_version(
                &ctx.root,
                &helm,
                "install Helm (v4, or v3.13 and later) on PATH, or set WINDLASS_HELM to its path",
            )
            .await?;
            Ok(plain(helm, version))
        }
        Builtin::Containerfile => Ok(plain(
            PathBuf::from("windlass"),
            env!("CARGO_PKG_VERSION").to_owned(),
        )),
    }
}

fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str("\ncaused by: ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    redact(&text)
}

/// `PROGRAM --version`'s first line: part of the cache key.
/// `install` says how to get the program, for the hint when it cannot
/// run.
async fn tool_version(root: &Path, program: &Path, install: &str) -> Result<String, String> {
    let outcome = Cmd::new(program, root)
        .arg("--version")
        .capture_output()
        .run()
        .await
        .map_err(|e| {
            format!(
                "{}\nhint: {install}, or skip the check (`--skip`, `[check] skip`)",
                error_text(&e)
            )
        })?;
    let text = String::from_utf8_lossy(outcome.stdout().unwrap_or_default()).into_owned();
    let version = text
        .lines()
        .find(|l| l.to_lowercase().contains("version") || l.chars().any(|c| c.is_ascii_digit()))
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok(version)
}

fn base_result(check: &PlannedCheck, version: Option<String>) -> CheckResult {
    CheckResult {
        name: check.name.clone(),
        tool: check.tool.clone(),
        version: version.filter(|v| !v.is_empty()),
        status: Status::Passed,
        cached: false,
        duration: Duration::ZERO,
        command: Vec::new(),
        exit_code: None,
        findings: Vec::new(),
        tests: Vec::new(),
        output: String::new(),
    }
}

fn skipped(check: &PlannedCheck, why: &str) -> CheckResult {
    let mut result = base_result(check, None);
    result.status = Status::Skipped;
    why.clone_into(&mut result.output);
    result
}

/// The argv of a check (program first), with `junit` the path a JUnit
/// report is written to.
fn command_line(
    check: &PlannedCheck,
    files: &[String],
    ready: &Prepared,
    junit: &Path,
) -> Vec<String> {
    let program = ready.program.display().to_string();
    let mut argv: Vec<String> = match (&check.command, check.builtin) {
        (Some(command), _) => command
            .iter()
            .map(|a| a.replace("{junit}", &junit.display().to_string()))
            .collect(),
        (None, Some(Builtin::Ruff)) => vec![
            program,
            "check".into(),
            "--output-format".into(),
            "json".into(),
            "--no-fix".into(),
            "--force-exclude".into(),
        ],
        (None, Some(Builtin::RuffFormat)) => vec![
            program,
            "format".into(),
            "--check".into(),
            "--force-exclude".into(),
        ],
        (None, Some(Builtin::Mypy)) => vec![program, "-O".into(), "json".into()],
        (None, Some(Builtin::Pytest)) => vec![
            program,
            "-m".into(),
            "pytest".into(),
            "--junitxml".into(),
            junit.display().to_string(),
            "-o".into(),
            "junit_family=xunit1".into(),
            "-p".into(),
            "no:cacheprovider".into(),
            "-q".into(),
        ],
        (None, Some(Builtin::CargoFmt)) => vec![
            program,
            "fmt".into(),
            "--all".into(),
            "--".into(),
            "--check".into(),
        ],
        (None, Some(Builtin::Clippy)) => vec![
            program,
            "clippy".into(),
            "--workspace".into(),
            "--all-targets".into(),
            "--message-format".into(),
            "json".into(),
        ],
        (None, Some(Builtin::CargoTest)) => vec![program, "test".into(), "--workspace".into()],
        (None, Some(Builtin::Shellcheck)) => vec![program, "-f".into(), "json1".into()],
        (None, Some(Builtin::HelmLint)) => vec![program, "lint".into()],
        (None, Some(Builtin::Containerfile) | None) => vec![program],
    };
    let pass_files = match check.builtin {
        _ if check.command.is_some() => check.takes_files,
        Some(Builtin::Mypy) => !check.configured_files,
        Some(b) => b.takes_files(),
        None => check.takes_files,
    };
    if pass_files {
        argv.extend(files.iter().cloned());
    }
    argv
}

/// The command as shown: the program's name, and many files counted.
fn shown_command(argv: &[String], files: &[String]) -> Vec<String> {
    let mut shown: Vec<String> = Vec::new();
    let passed = argv.len() >= files.len()
        && !files.is_empty()
        && argv[argv.len() - files.len()..] == *files;
    let end = if passed && files.len() > 3 {
        argv.len() - files.len()
    } else {
        argv.len()
    };
    for (i, arg) in argv[..end].iter().enumerate() {
        if i == 0 {
            shown.push(arg.rsplit('/').next().unwrap_or(arg).to_owned());
        } else if arg.contains("windlass-check-") {
            shown.push("FILE".to_owned());
        } else {
            shown.push(redact(arg));
        }
    }
    if end < argv.len() {
        shown.push(format!("({} files)", files.len()));
    }
    shown
}

/// The cache key of a check run with this command line.
fn cache_key(
    check: &PlannedCheck,
    files: &[String],
    argv: &[String],
    ready: &Prepared,
    root: &Path,
) -> String {
    let mut key_files: Vec<&str> = if check.takes_files {
        files.iter().map(String::as_str).collect()
    } else {
        check.files.iter().map(String::as_str).collect()
    };
    key_files.extend(check.config_files.iter().map(String::as_str));
    key_files.sort_unstable();
    key_files.dedup();
    // The scratch directory changes from run to run; what is in it is the
    // tool's output, not an input.
    let key_argv: Vec<String> = argv
        .iter()
        .map(|a| {
            if a.contains("windlass-check-") {
                "{scratch}".to_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let format = match check.format {
        OutputFormat::Text => "text",
        OutputFormat::Junit => "junit",
    };
    KeyInputs {
        name: &check.name,
        tool: &check.tool,
        version: &ready.version,
        command: &key_argv,
        format,
        env: &check.env_values,
        files: key_files
            .iter()
            .map(|f| (*f, hash_file(&root.join(f))))
            .collect(),
        project_env: ready.project_env.as_deref(),
    }
    .key()
}

async fn run_one(
    check: &PlannedCheck,
    files: &[String],
    ready: &Prepared,
    ctx: &RunContext,
) -> CheckResult {
    let mut result = base_result(check, Some(ready.version.clone()));
    let scratch = match tempfile::Builder::new().prefix("windlass-check-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            result.status = Status::Error;
            result.output = format!("cannot make a temporary directory: {e}");
            return result;
        }
    };
    let junit = scratch.path().join("junit.xml");
    let argv = command_line(check, files, ready, &junit);
    let key = cache_key(check, files, &argv, ready, &ctx.root);
    if let Some(cache) = &ctx.cache
        && let Some(result) = cache.get(&key)
    {
        return result;
    }
    let started = Instant::now();
    result.command = shown_command(&argv, files);
    if let Err(message) = execute_check(check, files, &argv, &junit, ctx, &mut result).await {
        result.status = Status::Error;
        result.output = message;
    }
    if has_problems(&result) && result.status != Status::Error {
        result.status = Status::Failed;
    }
    if result.status == Status::Passed {
        result.output.clear();
    }
    result.output = bounded(&result.output);
    result.duration = started.elapsed();
    if let Some(cache) = &ctx.cache
        && matches!(result.status, Status::Passed | Status::Failed)
        && !ctx.interrupted.load(Ordering::SeqCst)
    {
        cache.put(&key, &result);
    }
    result
}

/// Runs the check's tool (or, for Containerfiles, the parser) and reads
/// what it found into `result`; an error is a tool that could not run.
async fn execute_check(
    check: &PlannedCheck,
    files: &[String],
    argv: &[String],
    junit: &Path,
    ctx: &RunContext,
    result: &mut CheckResult,
) -> Result<(), String> {
    let native = check.command.is_none();
    match check.builtin {
        Some(Builtin::Containerfile) if native => {
            result.findings = containerfiles(&ctx.root, files);
        }
        Some(Builtin::HelmLint) if native => {
            for dir in &check.dirs {
                let mut argv = argv.to_vec();
                argv.push(dir.clone());
                let run = execute(check, &argv, junit, ctx).await?;
                let chart = if dir == "." { "" } else { dir.as_str() };
                result
                    .findings
                    .extend(crate::parse::helm_lint(&run.stdout, chart));
                if result.exit_code.is_none_or(|code| code == 0) {
                    result.exit_code = run.code;
                }
                if !run.success {
                    result.output.push_str(&run.text());
                    result.status = Status::Failed;
                }
            }
        }
        _ => {
            let run = execute(check, argv, junit, ctx).await?;
            read_results(check, &run, junit, &ctx.root, result);
        }
    }
    Ok(())
}

/// A finished child: its exit, and its output redacted.
struct Ran {
    success: bool,
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Ran {
    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.stdout).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&String::from_utf8_lossy(&self.stderr));
        text
    }
}

async fn execute(
    check: &PlannedCheck,
    command: &[String],
    junit: &Path,
    ctx: &RunContext,
) -> Result<Ran, String> {
    let Some((program, args)) = command.split_first() else {
        return Err("the command is empty".into());
    };
    let mut cmd = Cmd::new(program, &ctx.root)
        .args(args)
        .capture_output()
        .env("WINDLASS_CHECK_JUNIT", junit);
    if check
        .builtin
        .is_some_and(|b| matches!(b, Builtin::Ruff | Builtin::RuffFormat | Builtin::Mypy))
    {
        cmd = cmd.env("NO_COLOR", "1");
    }
    for (name, value) in &check.env_values {
        if windlass_config::is_reference(value) {
            let reference = SecretRef::parse(value).map_err(|e| {
                format!(
                    "`[check.{}] env.{name}` is not a secret reference ({e})",
                    check.name
                )
            })?;
            let secret = ctx.resolver.resolve(&reference).await.map_err(|e| {
                format!(
                    "cannot resolve `[check.{}] env.{name}` (`{reference}`): {}",
                    check.name,
                    error_text(&e)
                )
            })?;
            cmd = cmd.env_secret(name.clone(), secret);
        } else {
            cmd = cmd.env(name.clone(), value);
        }
    }
    let outcome = cmd.run().await.map_err(|e| error_text(&e))?;
    if outcome.interrupted().is_some() {
        ctx.interrupted.store(true, Ordering::SeqCst);
        return Err("interrupted".to_owned());
    }
    let stdout = windlass_redact::global()
        .redact_bytes(outcome.stdout().unwrap_or_default())
        .into_owned();
    let stderr = outcome.stderr().unwrap_or_default().to_vec();
    Ok(Ran {
        success: outcome.success(),
        code: match outcome.status() {
            windlass_process::ExitStatus::Code(code) => Some(code),
            windlass_process::ExitStatus::Signal(_) => None,
        },
        stdout,
        stderr,
    })
}

/// Reads a run's output into the result.
fn read_results(
    check: &PlannedCheck,
    run: &Ran,
    junit: &Path,
    root: &Path,
    result: &mut CheckResult,
) {
    result.exit_code = run.code;
    let parsed: Result<(), String> = match (check.builtin, &check.command) {
        (Some(Builtin::Ruff), None) => crate::parse::ruff_check(&run.stdout, root)
            .map(|f| result.findings = f)
            .map_err(|e| e.to_string()),
        (Some(Builtin::RuffFormat), None) => {
            let mut both = run.stdout.clone();
            both.extend_from_slice(&run.stderr);
            crate::parse::ruff_format(&both, root)
                .map(|f| result.findings = f)
                .map_err(|e| e.to_string())
        }
        (Some(Builtin::Mypy), None) => crate::parse::mypy(&run.stdout, root)
            .map(|f| result.findings = f)
            .map_err(|e| e.to_string()),
        (Some(Builtin::Shellcheck), None) => crate::parse::shellcheck(&run.stdout, root)
            .map(|f| result.findings = f)
            .map_err(|e| e.to_string()),
        (Some(Builtin::Clippy), None) => crate::parse::cargo_messages(&run.stdout, root)
            .map(|f| result.findings = f)
            .map_err(|e| e.to_string()),
        (Some(Builtin::CargoTest), None) => {
            result.tests = crate::parse::libtest(&run.stdout);
            Ok(())
        }
        (Some(Builtin::CargoFmt), None) => {
            result.findings = rustfmt_findings(&run.stdout, root);
            Ok(())
        }
        (Some(Builtin::Pytest), None) => read_junit(junit, root).map(|t| result.tests = t),
        _ if check.format == OutputFormat::Junit => {
            read_junit(junit, root).map(|t| result.tests = t)
        }
        _ => Ok(()),
    };
    let pytest = matches!(check.builtin, Some(Builtin::Pytest)) && check.command.is_none();
    let fine_exit = run.success || (pytest && run.code == Some(5));
    if let Err(message) = parsed {
        result.status = Status::Error;
        result.output = format!(
            "cannot read the output of {}: {message}\n{}",
            check.tool,
            run.text()
        );
        return;
    }
    // A tool that exits non-zero having reported findings fails on them,
    // notes included (shellcheck's `info`): its verdict, not ours.
    let problems = has_problems(result) || (!run.success && !result.findings.is_empty());
    result.status = if problems {
        Status::Failed
    } else if fine_exit {
        Status::Passed
    } else if check.builtin.is_none()
        || check.command.is_some()
        || check.builtin == Some(Builtin::CargoFmt)
        || check.builtin == Some(Builtin::CargoTest)
    {
        // A command of the project's: its exit code is its verdict.
        Status::Failed
    } else {
        // The tool failed without saying what was wrong: it crashed.
        Status::Error
    };
    if result.status != Status::Passed {
        result.output = run.text();
    }
}

/// Whether a result holds what fails a check: a finding that is an error
/// or a warning (notes, such as `helm lint`'s `[INFO]`, are shown but do
/// not fail), or a failed test.
fn has_problems(result: &CheckResult) -> bool {
    result
        .findings
        .iter()
        .any(|f| matches!(f.severity, Severity::Error | Severity::Warning))
        || result.tests.iter().any(|t| {
            matches!(
                t.outcome,
                TestOutcome::Failed { .. } | TestOutcome::Error { .. }
            )
        })
}

fn read_junit(path: &Path, root: &Path) -> Result<Vec<crate::model::TestCase>, String> {
    let bytes = match windlass_fs::read(path, 256 << 20) {
        Ok(bytes) => bytes,
        Err(windlass_fs::ReadError::Open { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e.to_string()),
    };
    let bytes = windlass_redact::global().redact_bytes(&bytes).into_owned();
    crate::parse::junit(&bytes, root).map_err(|e| e.to_string())
}

/// `cargo fmt --check`'s `Diff in PATH:LINE:` lines (or `at line N`).
fn rustfmt_findings(stdout: &[u8], root: &Path) -> Vec<Finding> {
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .filter_map(|line| line.strip_prefix("Diff in "))
        .map(|rest| {
            let rest = rest.trim_end_matches(':');
            let (path, line) = match rest.split_once(" at line ") {
                Some((path, line)) => (path, line.trim_end_matches(':').parse().ok()),
                None => match rest.rsplit_once(':') {
                    Some((path, line)) if line.chars().all(|c| c.is_ascii_digit()) => {
                        (path, line.parse().ok())
                    }
                    _ => (rest, None),
                },
            };
            let path = Path::new(path);
            let path = path.strip_prefix(root).unwrap_or(path);
            Finding {
                rule: None,
                severity: Severity::Error,
                message: "not formatted as rustfmt would (`cargo fmt` fixes it)".into(),
                location: Some(crate::model::Location {
                    path: crate::files::slash_path(path),
                    line,
                    column: None,
                    end_line: None,
                    end_column: None,
                }),
                help_uri: None,
            }
        })
        .collect()
}

/// The Containerfiles, parsed as `windlass image build` parses them.
fn containerfiles(root: &Path, files: &[String]) -> Vec<Finding> {
    use windlass_image::build::containerfile::{ReadFileError, read};
    let mut findings = Vec::new();
    for file in files {
        match read(&root.join(file), Path::new(file), &BTreeMap::new()) {
            Ok(_) => {}
            Err(ReadFileError::Syntax(e)) => {
                let mut message = e.message.clone();
                if let Some(hint) = &e.hint {
                    message.push_str("\nhint: ");
                    message.push_str(hint);
                }
                findings.push(Finding {
                    rule: None,
                    severity: Severity::Error,
                    message,
                    location: Some(crate::model::Location {
                        path: file.clone(),
                        line: u32::try_from(e.line).ok(),
                        column: None,
                        end_line: None,
                        end_column: None,
                    }),
                    help_uri: None,
                });
            }
            Err(ReadFileError::Read(e)) => findings.push(Finding {
                rule: None,
                severity: Severity::Error,
                message: e.to_string(),
                location: Some(crate::model::Location {
                    path: file.clone(),
                    line: None,
                    column: None,
                    end_line: None,
                    end_column: None,
                }),
                help_uri: None,
            }),
        }
    }
    findings
}

fn redact(text: &str) -> String {
    windlass_redact::global().redact(text).into_owned()
}

/// The last [`OUTPUT_LIMIT`] bytes of a text, cut at a line.
fn bounded(text: &str) -> String {
    if text.len() <= OUTPUT_LIMIT {
        return text.to_owned();
    }
    let mut start = text.len() - OUTPUT_LIMIT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = text[start..].find('\n').map_or(start, |i| start + i + 1);
    format!("[... output cut ...]\n{}", &text[cut..])
}
