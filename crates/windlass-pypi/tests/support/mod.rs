//! Shared helpers for the publish tests: tiny wheels and sdists, running
//! `publish` in-process with captured output (loading windlass.toml the
//! way the wheel CLI does), the leak scan of a run, and pip.

#![allow(dead_code, reason = "each test binary uses a subset")]
#![allow(unreachable_pub, reason = "a module of the test binary")]
#![allow(
    clippy::unwrap_used,
    reason = "test support panics on unexpected failures"
)]

pub mod index;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use clap::Parser;
use indexmap::IndexMap;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use windlass_config::Environment;
use windlass_output::testing::Capture;
use windlass_output::{GitHub, OutputArgs, Printer};
use windlass_pypi::{
    PublishContext, PublishRequest, RepositorySection, TargetRequest, TrustedPublishingMode,
};
use windlass_secrets::SecretsConfig;

/// A PEP 440 version no other run used.
pub fn unique_version() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!(
        "1.{}.{}{}",
        now.as_secs(),
        now.subsec_micros(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unique project name (`windlass-t-<suffix>`), its module name.
pub fn unique_name(prefix: &str) -> (String, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let name = format!("wl-{prefix}-{}", now.as_nanos() % 1_000_000_000_000);
    let module = name.replace('-', "_");
    (name, module)
}

/// `count` small wheels in `dir` of projects no other run published
/// (`wl-{prefix}-...0`, `...1` ...), at one new version.
pub fn unique_wheels(dir: &Path, prefix: &str, count: usize) -> Vec<PathBuf> {
    let version = unique_version();
    let (name, _) = unique_name(prefix);
    (0..count)
        .map(|i| write_wheel(dir, &format!("{name}{i}"), &version, "x", 0))
        .collect()
}

fn metadata(name: &str, version: &str) -> String {
    format!(
        "Metadata-Version: 2.4\nName: {name}\nVersion: {version}\nSummary: A tiny test package\n\
Author-email: Test <test@example.org>\nLicense-Expression: MIT\nKeywords: test,windlass\n\
Classifier: Programming Language :: Python :: 3\nRequires-Python: >=3.8\n\
Project-URL: Homepage, https://example.org\nProvides-Extra: extra\n\
Description-Content-Type: text/markdown\n\n# {name}\n\nA tiny package.\n"
    )
}

fn record_hash(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// Writes `{module}-{version}-py3-none-any.whl` whose module holds `VALUE`
/// and `padding` bytes of filler (to make big files).
pub fn write_wheel(dir: &Path, name: &str, version: &str, value: &str, padding: usize) -> PathBuf {
    let module = name.replace('-', "_");
    let dist_info = format!("{module}-{version}.dist-info");
    let path = dir.join(format!("{module}-{version}-py3-none-any.whl"));
    let init = format!("VALUE = {value:?}\nPADDING = {:?}\n", "x".repeat(padding));
    let files: Vec<(String, Vec<u8>)> = vec![
        (format!("{module}/__init__.py"), init.into_bytes()),
        (format!("{dist_info}/METADATA"), metadata(name, version).into_bytes()),
        (
            format!("{dist_info}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: windlass-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
    ];
    let file = std::fs::File::create(&path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut record = String::new();
    for (member, data) in &files {
        zip.start_file(member.as_str(), options).unwrap();
        zip.write_all(data).unwrap();
        let _ = writeln!(record, "{member},{},{}", record_hash(data), data.len());
    }
    let _ = writeln!(record, "{dist_info}/RECORD,,");
    zip.start_file(format!("{dist_info}/RECORD"), options)
        .unwrap();
    zip.write_all(record.as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

const BACKEND: &str = r#"import base64, hashlib, os, zipfile
NAME = "@MODULE@"
VERSION = "@VERSION@"

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    di = NAME + "-" + VERSION + ".dist-info"
    files = {
        NAME + "/__init__.py": open(os.path.join(NAME, "__init__.py"), "rb").read(),
        di + "/METADATA": open("PKG-INFO", "rb").read(),
        di + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    name = NAME + "-" + VERSION + "-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for member, data in files.items():
            z.writestr(member, data)
            h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(member + ",sha256=" + h + "," + str(len(data)))
        record.append(di + "/RECORD,,")
        z.writestr(di + "/RECORD", "\n".join(record) + "\n")
    return name
"#;

/// Writes `{module}-{version}.tar.gz` with an in-tree PEP 517 backend, so
/// pip can build it offline.
pub fn write_sdist(dir: &Path, name: &str, version: &str, value: &str) -> PathBuf {
    let module = name.replace('-', "_");
    let root = format!("{module}-{version}");
    let path = dir.join(format!("{root}.tar.gz"));
    let files: Vec<(String, Vec<u8>)> = vec![
        (format!("{root}/PKG-INFO"), metadata(name, version).into_bytes()),
        (
            format!("{root}/pyproject.toml"),
            format!(
                "[project]\nname = \"{name}\"\nversion = \"{version}\"\n\n[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n"
            )
            .into_bytes(),
        ),
        (
            format!("{root}/backend.py"),
            BACKEND
                .replace("@MODULE@", &module)
                .replace("@VERSION@", version)
                .into_bytes(),
        ),
        (
            format!("{root}/{module}/__init__.py"),
            format!("VALUE = {value:?}\n").into_bytes(),
        ),
    ];
    let file = std::fs::File::create(&path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (member, data) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        tar.append_data(&mut header, member, data.as_slice())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    path
}

/// The command line of the tests: the output flags and the publish flags
/// they use, spelt as `wheel publish` spells them (the wheel tool owns and
/// tests the real definition), made into the library's request.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    output: OutputArgs,
    dists: Vec<PathBuf>,
    #[arg(long, short = 'r')]
    repository: Option<String>,
    #[arg(long)]
    simple_url: Option<String>,
    #[arg(long)]
    token: Option<String>,
    #[arg(long, short = 'u')]
    username: Option<String>,
    #[arg(long)]
    password: Option<String>,
    #[arg(long, default_value = "auto")]
    trusted_publishing: String,
    #[arg(long)]
    trusted_publishing_url: Option<String>,
    #[arg(long)]
    skip_existing: bool,
    #[arg(long)]
    dry_run: bool,
    #[arg(long, short = 'j', default_value_t = std::num::NonZeroU16::new(4).unwrap())]
    jobs: std::num::NonZeroU16,
    #[arg(long)]
    pypirc: Option<PathBuf>,
    #[arg(long)]
    no_credentials: bool,
}

impl Cli {
    fn request(&self) -> PublishRequest {
        PublishRequest {
            dists: self.dists.clone(),
            target: TargetRequest {
                repository: self.repository.clone(),
                simple_url: self.simple_url.clone(),
                token: self.token.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
                trusted_publishing: match self.trusted_publishing.as_str() {
                    "auto" => TrustedPublishingMode::Auto,
                    "always" => TrustedPublishingMode::Always,
                    "never" => TrustedPublishingMode::Never,
                    other => panic!("--trusted-publishing {other}"),
                },
                trusted_publishing_url: self.trusted_publishing_url.clone(),
                anonymous: self.no_credentials,
                default_repository: None,
            },
            skip_existing: self.skip_existing,
            dry_run: self.dry_run,
            jobs: self.jobs,
            pypirc: self.pypirc.clone(),
        }
    }
}

/// What one in-process run left behind.
#[derive(Debug)]
pub struct Run {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
    /// Workflow commands (annotations, `::add-mask::`).
    pub commands: String,
    /// The step summary file.
    pub summary: String,
    /// Every file the run created or changed: the GitHub output, env and
    /// summary files, and anything under the working and home directories.
    pub written: Vec<(PathBuf, Vec<u8>)>,
}

impl Run {
    /// Everything a leak could hide in, except the `::add-mask::` lines
    /// (which must carry the raw value to the runner) and written files.
    pub fn all_output(&self) -> String {
        let commands: String = self
            .commands
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .fold(String::new(), |mut out, l| {
                out.push_str(l);
                out.push('\n');
                out
            });
        format!(
            "{}\n{}\n{}\n{}",
            self.stdout, self.stderr, commands, self.summary
        )
    }

    /// Panics when `secret` is in stdout, stderr, a workflow command other
    /// than `::add-mask::`, or any file the run wrote, in any encoding the
    /// leak scanner knows.
    pub fn assert_no_leak(&self, secret: &str) {
        windlass_testkit::assert_no_leak(self.all_output().as_bytes(), secret);
        for (path, contents) in &self.written {
            if let Some(leak) = windlass_testkit::find_leak(contents, secret) {
                panic!("secret leaked into {}: {leak:?}", path.display());
            }
        }
    }

    /// Whether `value` was masked with `::add-mask::` (its own line).
    pub fn masked(&self, value: &str) -> bool {
        self.commands
            .lines()
            .any(|l| l.strip_prefix("::add-mask::") == Some(value))
    }

    /// The JSON result document (with `--json`).
    pub fn json(&self) -> serde_json::Value {
        let line = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// The `[wheel]` keys publish needs, as the wheel CLI's section embeds them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WheelSection {
    #[serde(default)]
    repositories: IndexMap<String, RepositorySection>,
}

/// Builds the context as the wheel CLI does: windlass.toml through
/// `windlass-config` (searched from `cwd`, `home` as the user's home),
/// `[wheel.repositories]`, `[secrets]`/`[vault]` and `[http]`.
pub fn context(cwd: &Path, home: &Path, vars: &[(String, String)]) -> PublishContext {
    let mut options = windlass_config::LoadOptions::new(cwd).with_home(home);
    for (name, value) in vars {
        options = options.with_env(name, value);
    }
    let effective = options.load().unwrap();
    let wheel: WheelSection = effective.section("wheel").unwrap();
    PublishContext {
        env: Environment::from_vars(vars.iter().cloned()),
        cwd: cwd.to_owned(),
        project_dir: effective
            .project_dir()
            .map_or_else(|| cwd.to_owned(), Path::to_path_buf),
        repositories: wheel.repositories,
        secrets: SecretsConfig::from_effective(&effective).unwrap(),
        http: windlass_http::HttpConfig::from_settings(&effective.settings.http),
        prompt: None,
    }
}

/// Runs `windlass wheel publish ARGS` in-process with `env` (plus `HOME`
/// set to `home`), inside a simulated GitHub Actions step.
pub async fn publish(cwd: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    publish_with_prompt(cwd, home, args, env, None).await
}

/// [`publish`] where a terminal answers the token prompt.
pub async fn publish_with_prompt(
    cwd: &Path,
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    prompt: Option<windlass_pypi::TokenPrompt>,
) -> Run {
    publish_checked(cwd, home, args, env, prompt, std::future::ready(Ok(()))).await
}

/// [`publish`] with the caller's check of the files (`publish_checked`).
pub async fn publish_checked(
    cwd: &Path,
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    prompt: Option<windlass_pypi::TokenPrompt>,
    check: impl Future<Output = anyhow::Result<()>>,
) -> Run {
    let mut command_line = vec!["publish".to_owned()];
    command_line.extend(args.iter().map(|a| (*a).to_owned()));
    let cli = Cli::try_parse_from(&command_line).unwrap();
    let stdout = Capture::new();
    let stderr = Capture::new();
    let commands = Capture::new();
    let github_dir = tempfile::tempdir().unwrap();
    let github_files: BTreeMap<&str, PathBuf> =
        ["GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV"]
            .into_iter()
            .map(|name| (name, github_dir.path().join(name.to_ascii_lowercase())))
            .collect();
    let github_env = github_files.clone();
    let github = GitHub::from_env(
        move |name| match name {
            "GITHUB_ACTIONS" => Some("true".into()),
            _ => github_env
                .get(name)
                .map(|path| path.clone().into_os_string()),
        },
        commands.clone(),
    );
    let printer = Printer::builder(&cli.output, "wheel publish")
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .color(false)
        .github(github)
        .build();
    let mut vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.push(("HOME".to_owned(), home.display().to_string()));
    let mut ctx = context(cwd, home, &vars);
    ctx.prompt = prompt;
    let before = [cwd, home].map(snapshot);
    let status = match windlass_pypi::publish_checked(&cli.request(), &ctx, &printer, check).await {
        Ok(report) => printer.report(&report).unwrap(),
        Err(error) => printer.report_error(&error),
    };
    let mut written = Vec::new();
    for (dir, before) in [cwd, home].into_iter().zip(&before) {
        for (path, stamp) in snapshot(dir) {
            if before.get(&path) != Some(&stamp) {
                let contents = std::fs::read(&path).unwrap();
                written.push((path, contents));
            }
        }
    }
    for path in github_files.values() {
        if let Ok(contents) = std::fs::read(path) {
            written.push((path.clone(), contents));
        }
    }
    Run {
        code: status.code(),
        stdout: stdout.contents(),
        stderr: stderr.contents(),
        commands: commands.contents(),
        summary: std::fs::read_to_string(&github_files["GITHUB_STEP_SUMMARY"]).unwrap_or_default(),
        written,
    }
}

/// Every regular file under `dir` with its size and modification time
/// (virtual environments made by [`pip_install`] skipped).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                let venv = entry.file_name().to_string_lossy().starts_with("venv-");
                if !venv {
                    pending.push(path);
                }
            } else if meta.is_file() {
                files.insert(path, (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    files
}

/// Runs a program; panics with its output when it fails.
pub async fn run_ok(program: &Path, args: &[&str], cwd: &Path) -> String {
    let outcome = windlass_process::Cmd::new(program, cwd)
        .args(args)
        .capture_output()
        .timeout(std::time::Duration::from_secs(300))
        .run()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(outcome.stdout().unwrap_or_default()).into_owned();
    let err = String::from_utf8_lossy(outcome.stderr().unwrap_or_default()).into_owned();
    assert!(
        outcome.success(),
        "{} {args:?} failed:\n{out}\n{err}",
        program.display()
    );
    out
}

/// Creates a venv and pip-installs `requirement` from `index`, then prints
/// the module's `VALUE`.
pub async fn pip_install(
    python: &Path,
    dir: &Path,
    index: &str,
    requirement: &str,
    module: &str,
    extra: &[&str],
) -> String {
    let venv = dir.join(format!("venv-{}", fastrand_suffix()));
    run_ok(python, &["-m", "venv", venv.to_str().unwrap()], dir).await;
    let vpython = venv.join("bin").join("python");
    let mut args = vec![
        "-m",
        "pip",
        "install",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--index-url",
        index,
        requirement,
    ];
    args.extend_from_slice(extra);
    run_ok(&vpython, &args, dir).await;
    run_ok(
        &vpython,
        &["-c", &format!("import {module}; print({module}.VALUE)")],
        dir,
    )
    .await
    .trim()
    .to_owned()
}

fn fastrand_suffix() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}", now.as_nanos())
}
