//! A PEP 517 front end: isolated build environments and backend hooks run in
//! a child Python process, every child through `windlass-process`.
//!
//! Environments live in a cache directory outside the project, keyed by
//! everything that shapes them (the interpreter and its version, the
//! installer, the requirements, the backend and `backend-path`), created
//! empty (nothing seeded) with `uv` when it is on `PATH` and with
//! `python -m venv --without-pip` + an outside pip (`pip --python ENV`)
//! otherwise, one environment for the whole build,
//! and verified against a record of their tree before each reuse: one that
//! changed since it was made is made again, never used (see `env`). As
//! `python -m build` does, the wheel is built from the unpacked sdist by
//! default.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use windlass_process::{Cmd, Sink};

use self::env::Interpreter;
use crate::pyproject::PyProject;

mod env;

/// The hook runner we embed and run with the environment's Python.
const HOOK_SCRIPT: &str = include_str!("pep517/hook.py");

/// How to run PEP 517 builds.
#[derive(Debug, Clone)]
pub struct Pep517Options {
    /// The interpreter that creates environments (`python3` by default).
    pub python: OsString,
    /// Where environments are cached (outside the project).
    pub cache_dir: PathBuf,
    /// Build the wheel from the unpacked sdist (the `python -m build` way).
    pub wheel_from_sdist: bool,
    /// Use uv when it is on `PATH`.
    pub use_uv: bool,
}

impl Pep517Options {
    /// The defaults, with what the environment says: `WINDLASS_PYTHON`
    /// (else `python3`) and the cache directory ([`default_cache_dir`]).
    /// `var` looks a variable up in the caller's environment (this crate
    /// reads none itself).
    pub fn from_env(var: impl Fn(&str) -> Option<OsString>) -> Self {
        Self {
            python: var("WINDLASS_PYTHON").unwrap_or_else(|| "python3".into()),
            cache_dir: default_cache_dir(var),
            wheel_from_sdist: true,
            use_uv: true,
        }
    }
}

/// `$WINDLASS_CACHE_DIR`, else `$XDG_CACHE_HOME/windlass`, else
/// `~/.cache/windlass`, each looked up with `var`.
pub fn default_cache_dir(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    if let Some(d) = var("WINDLASS_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("windlass");
    }
    var("HOME")
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(".cache")
        .join("windlass")
}

/// Why a PEP 517 build failed.
#[derive(Debug, thiserror::Error)]
pub enum Pep517Error {
    #[error("failed to install the build requirements ({requires}) from `build-system.requires`")]
    Environment {
        requires: String,
        #[source]
        source: windlass_process::CheckedError,
    },
    #[error("the build backend `{backend}` failed in `{hook}`")]
    Hook {
        backend: String,
        hook: &'static str,
        #[source]
        source: windlass_process::CheckedError,
    },
    #[error("the build backend `{backend}` answered `{hook}` with something unexpected: {detail}")]
    BadAnswer {
        backend: String,
        hook: &'static str,
        detail: String,
    },
    #[error("failed to {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot ask the python interpreter `{python}` what it is")]
    Interpreter {
        python: String,
        #[source]
        source: windlass_process::CheckedError,
    },
    #[error("the python interpreter `{python}` did not say what it is: {detail}")]
    InterpreterAnswer { python: String, detail: String },
    #[error(transparent)]
    Project(#[from] crate::pyproject::ReadError),
}

impl Pep517Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Environment { .. } => Some(
                "check `build-system.requires` in pyproject.toml: every requirement must be installable from your index"
                    .into(),
            ),
            Self::Hook { .. } => Some("the backend's own output above says what went wrong".into()),
            Self::Interpreter { .. } | Self::InterpreterAnswer { .. } => Some(
                "set WINDLASS_PYTHON to a Python 3 interpreter (`python3` on PATH by default)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The largest answer file a PEP 517 hook may write.
const HOOK_ANSWER_LIMIT: u64 = 16 * windlass_fs::MIB;

/// The largest record of a cached environment's tree (a few hundred bytes
/// a file; big environments have tens of thousands of files).
const RECORD_LIMIT: u64 = 256 * windlass_fs::MIB;

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Pep517Error + 'a {
    move |source| Pep517Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Which archives to build.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    pub wheel: bool,
    pub sdist: bool,
}

/// Builds with the project's declared backend; returns the archives,
/// written into `out_dir` (each staged in a temporary directory there first).
///
/// One environment serves the whole build: the sdist, the wheel built from
/// it, and the `get_requires_for_build_*` answers when what they ask for is
/// already installed.
pub async fn build(
    project_dir: &Path,
    out_dir: &Path,
    targets: Targets,
    opts: &Pep517Options,
) -> Result<Vec<PathBuf>, Pep517Error> {
    let project_dir = std::path::absolute(project_dir).map_err(io("resolve", project_dir))?;
    let staging = tempfile::Builder::new()
        .prefix(".windlass-pep517-")
        .tempdir_in(out_dir)
        .map_err(io("create a directory in", out_dir))?;
    let stage = staging.path().to_path_buf();
    let mut built = Vec::new();
    let mut envs = BuildEnvs::new(opts);

    let pyproject = PyProject::read(&project_dir)?;
    let need_sdist = targets.sdist || (targets.wheel && opts.wheel_from_sdist);
    let mut wheel_source = project_dir.clone();
    let unpacked = tempfile::Builder::new()
        .prefix("windlass-sdist-")
        .tempdir()
        .map_err(io("create", &std::env::temp_dir()))?;
    if need_sdist {
        let sdist = run_build(&project_dir, &pyproject, "sdist", &stage, &mut envs).await?;
        if targets.wheel && opts.wheel_from_sdist {
            wheel_source = unpack_sdist(&stage.join(&sdist), unpacked.path())?;
        }
        if targets.sdist {
            built.push(sdist);
        }
    }
    if targets.wheel {
        let pyproject = if wheel_source == project_dir {
            pyproject
        } else {
            PyProject::read(&wheel_source)?
        };
        built.push(run_build(&wheel_source, &pyproject, "wheel", &stage, &mut envs).await?);
    }
    let mut out = Vec::new();
    for name in built {
        let dest = out_dir.join(&name);
        std::fs::rename(stage.join(&name), &dest).map_err(io("move into place", &dest))?;
        out.push(dest);
    }
    Ok(out)
}

async fn run_build(
    source: &Path,
    pyproject: &PyProject,
    kind: &'static str,
    stage: &Path,
    envs: &mut BuildEnvs<'_>,
) -> Result<String, Pep517Error> {
    let backend = pyproject.backend().to_owned();
    let backend_path = pyproject
        .build_system
        .as_ref()
        .map(|b| b.backend_path.clone())
        .unwrap_or_default();
    let mut requires = pyproject.build_requires();
    let env = envs.env(&requires, &backend, &backend_path).await?;
    let get_requires = if kind == "wheel" {
        "get_requires_for_build_wheel"
    } else {
        "get_requires_for_build_sdist"
    };
    let extra = call_hook(
        &env,
        source,
        &backend,
        &backend_path,
        get_requires,
        serde_json::json!([{}]),
    )
    .await?;
    let extra: Vec<String> = serde_json::from_value(extra).map_err(|e| Pep517Error::BadAnswer {
        backend: backend.clone(),
        hook: get_requires,
        detail: e.to_string(),
    })?;
    let env = if extra.is_empty() || envs.satisfied(&env, &extra).await {
        env
    } else {
        tracing::info!(
            "backend `{backend}` needs more to build the {kind}: {}",
            extra.join(", ")
        );
        requires.extend(extra);
        envs.env(&requires, &backend, &backend_path).await?
    };
    let hook = if kind == "wheel" {
        "build_wheel"
    } else {
        "build_sdist"
    };
    let stage_arg = stage.to_string_lossy().into_owned();
    let name = call_hook(
        &env,
        source,
        &backend,
        &backend_path,
        hook,
        serde_json::json!([stage_arg, {}]),
    )
    .await?;
    let name = name
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Pep517Error::BadAnswer {
            backend: backend.clone(),
            hook,
            detail: format!("expected a file name, got {name}"),
        })?;
    if !stage.join(&name).is_file() {
        return Err(Pep517Error::BadAnswer {
            backend,
            hook,
            detail: format!("`{name}` was not written"),
        });
    }
    Ok(name)
}

/// A ready environment: its Python.
#[derive(Debug, Clone)]
struct Env {
    python: PathBuf,
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&windlass_process::search_path())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Asks `python` what it really is (behind a shim or a symlink).
async fn interpreter(python: &std::ffi::OsStr, cwd: &Path) -> Result<Interpreter, Pep517Error> {
    let shown = python.to_string_lossy().into_owned();
    let outcome = run_captured(Cmd::new(python, cwd).args(["-c", env::QUERY]))
        .await
        .map_err(|source| Pep517Error::Interpreter {
            python: shown.clone(),
            source,
        })?;
    let stdout = outcome.stdout().unwrap_or_default();
    serde_json::from_slice(stdout).map_err(|e| Pep517Error::InterpreterAnswer {
        python: shown,
        detail: e.to_string(),
    })
}

/// What installs requirements into a new environment. Environments are
/// made empty (no pip or setuptools seeded by `venv`), so they hold exactly
/// what the build requires at the versions the installer picks.
#[derive(Debug, Clone)]
enum Installer {
    /// `uv venv` + `uv pip install --python ENV`.
    Uv(PathBuf),
    /// `python -m venv --without-pip` + `PYTHON -m pip --python ENV install`,
    /// with a pip of at least 22.3 from outside the environment.
    Pip(PathBuf),
}

impl Installer {
    /// The name in the environment key: environments made another way
    /// (by an older Windlass that seeded pip) never match.
    fn key(&self) -> &'static str {
        match self {
            Self::Uv(_) => "uv",
            Self::Pip(_) => "pip --python, unseeded",
        }
    }
}

/// The oldest pip with `--python`.
const PIP_WITH_PYTHON_OPTION: (u32, u32) = (22, 3);

/// The Python that prints pip's version (`22.3.1`), or fails without pip.
const PIP_VERSION_QUERY: &str = "import pip; print(pip.__version__)";

/// Whether every requirement given as an argument is installed in this
/// Python: prints `yes` or `no`. Backends that ask for more (setuptools'
/// `wheel`, say) often ask for what the environment already holds.
const SATISFIED_QUERY: &str = r#"
import sys
from importlib import metadata
Requirement = None
for where in ("packaging", "setuptools._vendor.packaging", "pip._vendor.packaging"):
    try:
        Requirement = __import__(where + ".requirements", fromlist=["Requirement"]).Requirement
        break
    except ImportError:
        pass
def ok(text):
    if Requirement is None:
        return False
    try:
        req = Requirement(text)
    except Exception:
        return False
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return True
    if req.url or req.extras:
        return False
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return False
    return req.specifier.contains(version, prereleases=True)
print("yes" if all(ok(r) for r in sys.argv[1:]) else "no")
"#;

/// The environments of one build: the interpreter and installer are asked
/// for once, and an environment made or verified once is used again
/// without a second look.
struct BuildEnvs<'a> {
    opts: &'a Pep517Options,
    tools: Option<(Interpreter, Installer)>,
    ready: Vec<(String, Env)>,
}

impl<'a> BuildEnvs<'a> {
    fn new(opts: &'a Pep517Options) -> Self {
        Self {
            opts,
            tools: None,
            ready: Vec::new(),
        }
    }

    async fn tools(&mut self, envs: &Path) -> Result<(Interpreter, Installer), Pep517Error> {
        if let Some(tools) = &self.tools {
            return Ok(tools.clone());
        }
        let interpreter = interpreter(&self.opts.python, envs).await?;
        let uv = if self.opts.use_uv {
            on_path("uv")
        } else {
            None
        };
        let installer = match uv {
            Some(uv) => Installer::Uv(uv),
            None => Installer::Pip(pip_outside(&interpreter, &self.opts.cache_dir).await?),
        };
        self.tools = Some((interpreter.clone(), installer.clone()));
        Ok((interpreter, installer))
    }

    /// A cached environment for these requirements and this backend,
    /// verified before reuse; made (again) when missing or changed since it
    /// was made.
    async fn env(
        &mut self,
        requires: &[String],
        backend: &str,
        backend_path: &[String],
    ) -> Result<Env, Pep517Error> {
        let mut sorted: Vec<&str> = requires.iter().map(|r| r.trim()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let envs = self.opts.cache_dir.join("pep517-envs");
        std::fs::create_dir_all(&envs).map_err(io("create", &envs))?;
        let (interpreter, installer) = self.tools(&envs).await?;
        let shape = env::Shape {
            interpreter: &interpreter,
            installer: installer.key(),
            requires: &sorted,
            backend,
            backend_path,
        };
        let key = shape.key();
        if let Some((_, env)) = self.ready.iter().find(|(k, _)| *k == key) {
            return Ok(env.clone());
        }
        let env = ensure_env(&envs, &key, &sorted, &interpreter, &installer).await?;
        self.ready.push((key, env.clone()));
        Ok(env)
    }

    /// Whether `extra` is already installed in `env`; `false` when that
    /// cannot be told.
    async fn satisfied(&self, env: &Env, extra: &[String]) -> bool {
        let cwd = self.opts.cache_dir.join("pep517-envs");
        let answer = run_captured(
            Cmd::new(&env.python, &cwd)
                .args(["-I", "-c", SATISFIED_QUERY])
                .args(extra),
        )
        .await;
        let yes =
            answer.is_ok_and(|outcome| outcome.stdout().unwrap_or_default().trim_ascii() == b"yes");
        if yes {
            tracing::debug!("the build environment already holds {}", extra.join(", "));
        }
        yes
    }
}

/// A Python whose pip has `--python`: the interpreter's own when it is
/// recent enough, else a cached installer environment seeded with the pip
/// that the interpreter bundles.
async fn pip_outside(interpreter: &Interpreter, cache_dir: &Path) -> Result<PathBuf, Pep517Error> {
    let base = &interpreter.executable;
    if pip_version(base, cache_dir).await >= Some(PIP_WITH_PYTHON_OPTION) {
        return Ok(base.clone());
    }
    let installers = cache_dir.join("pep517-installers");
    std::fs::create_dir_all(&installers).map_err(io("create", &installers))?;
    let key = env::Shape {
        interpreter,
        installer: "ensurepip",
        requires: &[],
        backend: "",
        backend_path: &[],
    }
    .key();
    let dir = installers.join(&key);
    let python = dir.join("bin").join("python");
    if pip_version(&python, &installers).await >= Some(PIP_WITH_PYTHON_OPTION) {
        return Ok(python);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{key}-"))
        .tempdir_in(&installers)
        .map_err(io("create a directory in", &installers))?;
    let venv = tmp.path().join("env");
    tracing::info!(
        "creating an installer environment with the pip that {} bundles",
        base.display()
    );
    let env_err = |source| Pep517Error::Environment {
        requires: "pip".to_owned(),
        source,
    };
    run(Cmd::new(base, &installers).args(["-m", "venv"]).arg(&venv))
        .await
        .map_err(env_err)?;
    // Another build may have placed one meanwhile: either is as good.
    let _ = std::fs::rename(&venv, &dir);
    Ok(python)
}

/// pip's `(major, minor)` in this Python, if it has pip.
async fn pip_version(python: &Path, cwd: &Path) -> Option<(u32, u32)> {
    if !python.exists() {
        return None;
    }
    let outcome = run_captured(Cmd::new(python, cwd).args(["-I", "-c", PIP_VERSION_QUERY]))
        .await
        .ok()?;
    let text = String::from_utf8_lossy(outcome.stdout()?).trim().to_owned();
    let mut parts = text.split('.').map(str::parse::<u32>);
    Some((parts.next()?.ok()?, parts.next()?.ok()?))
}

/// The cached environment `key`, verified before reuse; made (again) when
/// missing or changed since it was made.
async fn ensure_env(
    envs: &Path,
    key: &str,
    sorted: &[&str],
    interpreter: &Interpreter,
    installer: &Installer,
) -> Result<Env, Pep517Error> {
    let dir = envs.join(key);
    let python = dir.join("bin").join("python");
    if dir.exists() {
        match verify(&dir)? {
            Verified::Intact => {
                tracing::debug!("reusing build environment {}", dir.display());
                return Ok(Env { python });
            }
            Verified::Incomplete => {
                tracing::debug!(
                    "build environment {} is incomplete; making it again",
                    dir.display()
                );
            }
            Verified::Changed(what) => tracing::warn!(
                "the cached build environment {} changed since it was made ({what}); making it again",
                dir.display()
            ),
        }
        discard(envs, &dir)?;
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{key}-"))
        .tempdir_in(envs)
        .map_err(io("create a directory in", envs))?;
    let venv = tmp.path().join("env");
    let label = if sorted.is_empty() {
        "no requirements".to_owned()
    } else {
        sorted.join(", ")
    };
    let env_err = |source| Pep517Error::Environment {
        requires: label.clone(),
        source,
    };
    tracing::info!("creating a build environment for {label}");
    let cwd = envs.to_path_buf();
    // The interpreter we asked, not a shim that may pick another later.
    let base = &interpreter.executable;
    let venv_python = venv.join("bin/python");
    match installer {
        Installer::Uv(uv) => {
            run(Cmd::new(uv, &cwd)
                .args(["venv", "--quiet", "--python"])
                .arg(base)
                .arg(&venv))
            .await
            .map_err(env_err)?;
            if !sorted.is_empty() {
                run(Cmd::new(uv, &cwd)
                    .args(["pip", "install", "--quiet", "--python"])
                    .arg(&venv_python)
                    .args(sorted))
                .await
                .map_err(env_err)?;
            }
        }
        Installer::Pip(pip_python) => {
            run(Cmd::new(base, &cwd)
                .args(["-m", "venv", "--without-pip"])
                .arg(&venv))
            .await
            .map_err(env_err)?;
            if !sorted.is_empty() {
                run(Cmd::new(pip_python, &cwd)
                    .args(["-m", "pip", "--python"])
                    .arg(&venv_python)
                    .args(["install", "--quiet", "--disable-pip-version-check"])
                    .args(sorted))
                .await
                .map_err(env_err)?;
            }
        }
    }
    let listing = list(&venv)?;
    let record = venv.join(env::RECORD);
    std::fs::write(&record, listing).map_err(io("write", &record))?;
    // Another build may have won the race; theirs is as good as ours once
    // it checks out.
    if std::fs::rename(&venv, &dir).is_err() && verify(&dir)? != Verified::Intact {
        return Err(Pep517Error::Io {
            action: "move into place",
            path: dir,
            source: std::io::Error::other("another build left a different environment there"),
        });
    }
    Ok(Env { python })
}

/// What a cached environment's tree says against its record.
#[derive(Debug, PartialEq, Eq)]
enum Verified {
    Intact,
    /// No record: half made, or made by an older Windlass.
    Incomplete,
    /// Something was added, removed or changed: a few of them, for people.
    Changed(String),
}

fn verify(dir: &Path) -> Result<Verified, Pep517Error> {
    let record = dir.join(env::RECORD);
    let recorded = match windlass_fs::read_to_string(&record, RECORD_LIMIT) {
        Ok(recorded) => recorded,
        Err(windlass_fs::ReadError::Open { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(Verified::Incomplete);
        }
        // Unreadable, too large or not a file: not an environment we made.
        Err(_) => return Ok(Verified::Changed("its record cannot be read".to_owned())),
    };
    let current = list(dir)?;
    Ok(if current == recorded {
        Verified::Intact
    } else {
        Verified::Changed(env::differences(&recorded, &current, 3))
    })
}

/// The listing of a tree (a fraction of a second for a typical
/// environment, against the seconds a build takes).
fn list(dir: &Path) -> Result<String, Pep517Error> {
    env::listing(dir).map_err(io("list", dir))
}

/// Moves a cached environment out of the way (atomically, so nothing uses
/// it meanwhile) and deletes it.
fn discard(envs: &Path, dir: &Path) -> Result<(), Pep517Error> {
    let trash = tempfile::Builder::new()
        .prefix(".discarded-")
        .tempdir_in(envs)
        .map_err(io("create a directory in", envs))?;
    match std::fs::rename(dir, trash.path().join("env")) {
        Ok(()) => {}
        // Another build discarded it first.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io("move aside", dir)(err)),
    }
    trash.close().map_err(io("delete", envs))
}

/// Runs a child of the build: installers and backends are third-party code,
/// so they get no CI or secret-store credentials (`windlass-process`
/// withholds them), write no bytecode into the cached environments (which
/// must stay as they were recorded), and what they print goes to our stderr
/// (stdout carries data only), redacted.
async fn run(cmd: Cmd) -> Result<windlass_process::Outcome, windlass_process::CheckedError> {
    build_child(cmd).stdout(Sink::Stderr).run_checked().await
}

/// [`run`], with stdout captured for parsing.
async fn run_captured(
    cmd: Cmd,
) -> Result<windlass_process::Outcome, windlass_process::CheckedError> {
    build_child(cmd).capture_stdout().run_checked().await
}

fn build_child(cmd: Cmd) -> Cmd {
    cmd.env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
}

async fn call_hook(
    env: &Env,
    source: &Path,
    backend: &str,
    backend_path: &[String],
    hook: &'static str,
    args: serde_json::Value,
) -> Result<serde_json::Value, Pep517Error> {
    let scratch = tempfile::Builder::new()
        .prefix("windlass-hook-")
        .tempdir()
        .map_err(io("create", &std::env::temp_dir()))?;
    let script = scratch.path().join("windlass_pep517_hook.py");
    std::fs::write(&script, HOOK_SCRIPT).map_err(io("write", &script))?;
    let result = scratch.path().join("result.json");
    let request =
        serde_json::json!({ "backend": backend, "backend_path": backend_path, "args": args });
    tracing::info!("running `{hook}` of `{backend}`");
    run(Cmd::new(&env.python, source)
        .arg(&script)
        .arg(hook)
        .arg(&result)
        .stdin(request.to_string()))
    .await
    .map_err(|source| Pep517Error::Hook {
        backend: backend.to_owned(),
        hook,
        source,
    })?;
    // A hook answers with a file name or a short list: a larger answer is a
    // broken or hostile backend, not something to hold in memory.
    let text = windlass_fs::read_to_string(&result, HOOK_ANSWER_LIMIT)
        .map_err(|e| io("read", &result)(std::io::Error::other(e)))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Pep517Error::BadAnswer {
            backend: backend.to_owned(),
            hook,
            detail: e.to_string(),
        })?;
    Ok(value
        .get("result")
        .cloned()
        .unwrap_or(serde_json::Value::Null))
}

/// Unpacks an sdist and returns its top-level directory.
fn unpack_sdist(sdist: &Path, into: &Path) -> Result<PathBuf, Pep517Error> {
    let file = std::fs::File::open(sdist).map_err(io("open", sdist))?;
    let mut archive =
        tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    archive.set_preserve_permissions(false);
    // `unpack` refuses paths that escape `into`.
    archive.unpack(into).map_err(io("unpack", sdist))?;
    let mut dirs = std::fs::read_dir(into)
        .map_err(io("read", into))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir());
    match (dirs.next(), dirs.next()) {
        (Some(d), None) => Ok(d.path()),
        _ => Err(Pep517Error::Io {
            action: "find the project in",
            path: sdist.to_path_buf(),
            source: std::io::Error::other("the sdist must hold exactly one top-level directory"),
        }),
    }
}
