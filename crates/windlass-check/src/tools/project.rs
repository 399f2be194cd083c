//! The project's own environment for pytest: a virtual environment in
//! `CACHE/check/envs/`, keyed by the project (its path, `pyproject.toml`,
//! setup files and lock files), the extras and groups chosen, the host
//! Python and pytest's requirement.
//!
//! The project is installed in editable mode: tests then import the working
//! tree as it is (a `src` layout included) and an edit to the sources does
//! not rebuild the environment; what was installed changes only when the
//! files of the key change, and then the key changes too. Its test
//! dependencies are the PEP 735 group `test` or `dev` when
//! `[dependency-groups]` has one, else the extra `test`, `tests` or `dev`
//! of `[project.optional-dependencies]`. With a lock (`pylock.toml`, or
//! `requirements*.txt` files with `--hash` pins), the locked packages are
//! installed with `--require-hashes --no-deps` (by pip, or by `uv pip`
//! when the installer is uv), then the project without
//! its dependencies. pytest comes at the pinned version unless the project
//! pins its own (`==` in its test requirements, or pytest in its lock).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use windlass_process::Cmd;

use super::pip::Pip;
use super::uv::UvRun;
use super::{Backend, InstallError, Installer, ToolSpec, envdir, normalize};

/// The largest project file read (pyproject.toml, a lock).
const MAX_FILE: u64 = 16 * windlass_fs::MIB;
/// The groups looked for when none is asked for, in this order.
const DEFAULT_GROUPS: &[&str] = &["test", "dev"];
/// The extras looked for when no group fits, in this order.
const DEFAULT_EXTRAS: &[&str] = &["test", "tests", "dev"];

/// What goes into the project's environment besides the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectEnvRequest {
    /// Extras of the project to install; with `groups`, both empty: the
    /// defaults (see the module documentation).
    pub extras: Vec<String>,
    /// PEP 735 dependency groups to install.
    pub groups: Vec<String>,
    /// pytest, unless the project pins its own.
    pub pytest: ToolSpec,
}

impl Default for ProjectEnvRequest {
    fn default() -> Self {
        Self {
            extras: Vec::new(),
            groups: Vec::new(),
            pytest: super::pinned("pytest").unwrap_or_else(|| ToolSpec::new("pytest", "pytest")),
        }
    }
}

/// The project's environment, ready for pytest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ProjectEnv {
    /// The environment's interpreter.
    pub python: PathBuf,
    /// Its `bin/` (put it first on `PATH` for the tests).
    pub bin_dir: PathBuf,
    /// Changes whenever what was installed would change (hex sha256).
    pub key: String,
    pub env_dir: PathBuf,
    /// Whether this call built it.
    pub fresh: bool,
    /// The extras and groups installed (`extra:test`, `group:dev`).
    pub installed: Vec<String>,
    /// The lock files it was installed from.
    pub locks: Vec<PathBuf>,
}

/// The key [`project_env`] would give the environment of the project in
/// `project_dir`, without building anything.
pub async fn project_env_key(
    installer: &Installer,
    project_dir: &Path,
    request: &ProjectEnvRequest,
) -> Result<String, InstallError> {
    let host = installer.host().await?;
    let project_dir = project_dir
        .canonicalize()
        .map_err(InstallError::io("find", project_dir))?;
    let project = Project::read(&project_dir, request)?;
    Ok(project.key(installer, &host.identity(), request))
}

/// The environment of the project in `project_dir`, built unless a
/// complete one with the same key exists.
pub async fn project_env(
    installer: &Installer,
    project_dir: &Path,
    request: &ProjectEnvRequest,
) -> Result<ProjectEnv, InstallError> {
    let host = installer.host().await?.clone();
    let project_dir = project_dir
        .canonicalize()
        .map_err(InstallError::io("find", project_dir))?;
    let project = Project::read(&project_dir, request)?;
    let key = project.key(installer, &host.identity(), request);
    let name = project_dir.file_name().map_or_else(
        || "project".to_owned(),
        |n| super::dir_safe(&n.to_string_lossy()),
    );
    let env_dir = installer.envs_dir().join(format!("{name}-{}", &key[..12]));
    let fresh = envdir::ensure(&env_dir, || async {
        let backend = installer.backend().await?;
        let what = format!("the environment of {}", project_dir.display());
        let env_python;
        let runner = match backend {
            Backend::Uv(uv) => {
                env_python = super::uv::make_venv(uv, installer, &host, &env_dir).await?;
                Runner::Uv(UvRun {
                    uv,
                    installer,
                    env_python: &env_python,
                    cwd: &project_dir,
                    what: &what,
                })
            }
            Backend::Pip => {
                env_python = host.make_venv(&env_dir).await?;
                Runner::Pip(Pip {
                    installer,
                    host: &host,
                    env_python: &env_python,
                    cwd: &project_dir,
                    what: &what,
                })
            }
        };
        project.install(&runner, &env_dir, request).await?;
        super::write_built_by(&env_dir, backend, &host)
    })
    .await?;
    let bin_dir = env_dir.join("bin");
    Ok(ProjectEnv {
        python: bin_dir.join("python"),
        bin_dir,
        key,
        env_dir,
        fresh,
        installed: project.chosen(),
        locks: project.locks.iter().map(|l| l.path().to_owned()).collect(),
    })
}

/// What installs into the project's environment.
enum Runner<'a> {
    Pip(Pip<'a>),
    Uv(UvRun<'a>),
}

impl Runner<'_> {
    /// `pip install ARGS` or `uv pip install --python ENV ARGS`, then what
    /// `more` adds.
    async fn install(
        &self,
        requirement: &str,
        args: &[&str],
        more: impl FnOnce(Cmd) -> Cmd,
    ) -> Result<(), InstallError> {
        match self {
            Self::Pip(pip) => {
                let mut all = vec!["install", "--quiet"];
                all.extend_from_slice(args);
                pip.run(requirement, &all, more).await
            }
            Self::Uv(uv) => uv.install(requirement, args, more).await,
        }
    }
}

/// What was read of the project.
struct Project {
    dir: PathBuf,
    /// The files whose bytes make the key: name and content.
    keyed: Vec<(String, Vec<u8>)>,
    /// Whether it can be installed itself (`[project]` or setup files).
    installable: bool,
    extras: Vec<String>,
    groups: Vec<String>,
    /// The requirements of the chosen groups, includes followed.
    group_requirements: Vec<String>,
    /// Whether its test requirements or lock pin pytest.
    pins_pytest: bool,
    locks: Vec<Lock>,
}

enum Lock {
    /// `pylock.toml`, as requirement lines with hashes.
    Pylock { path: PathBuf, lines: Vec<String> },
    /// A requirements file with `--hash` pins.
    Requirements { path: PathBuf },
}

impl Lock {
    fn path(&self) -> &Path {
        match self {
            Self::Pylock { path, .. } | Self::Requirements { path } => path,
        }
    }
}

impl Project {
    fn read(dir: &Path, request: &ProjectEnvRequest) -> Result<Self, InstallError> {
        let mut keyed = Vec::new();
        let pyproject_path = dir.join("pyproject.toml");
        let pyproject: toml::Table = match read_optional(&pyproject_path)? {
            Some(text) => {
                keyed.push(("pyproject.toml".to_owned(), text.clone().into_bytes()));
                toml::from_str(&text).map_err(|e| InstallError::Project {
                    path: pyproject_path.clone(),
                    why: format!("not valid TOML: {}", e.message()),
                })?
            }
            None => toml::Table::new(),
        };
        let mut setup_files = false;
        for name in ["setup.py", "setup.cfg"] {
            if let Some(text) = read_optional(&dir.join(name))? {
                keyed.push((name.to_owned(), text.into_bytes()));
                setup_files = true;
            }
        }
        let project_table = pyproject.get("project").and_then(toml::Value::as_table);
        let installable = project_table.is_some() || setup_files;
        let optional = project_table
            .and_then(|p| p.get("optional-dependencies"))
            .and_then(toml::Value::as_table);
        let groups_table = pyproject
            .get("dependency-groups")
            .and_then(toml::Value::as_table);

        let (groups, extras) = if request.groups.is_empty() && request.extras.is_empty() {
            let group = DEFAULT_GROUPS
                .iter()
                .find(|g| groups_table.is_some_and(|t| t.contains_key(**g)));
            if let Some(group) = group {
                (vec![(*group).to_owned()], Vec::new())
            } else {
                let extra = DEFAULT_EXTRAS
                    .iter()
                    .find(|e| optional.is_some_and(|t| t.contains_key(**e)));
                (
                    Vec::new(),
                    extra.map(|e| vec![(*e).to_owned()]).unwrap_or_default(),
                )
            }
        } else {
            (request.groups.clone(), request.extras.clone())
        };
        let bad = |why: String| InstallError::Project {
            path: pyproject_path.clone(),
            why,
        };
        let mut extra_requirements = Vec::new();
        for extra in &extras {
            let list = optional
                .and_then(|t| t.get(extra))
                .and_then(toml::Value::as_array)
                .ok_or_else(|| {
                    bad(format!(
                        "the extra `{extra}` is not in `[project.optional-dependencies]`"
                    ))
                })?;
            extra_requirements.extend(
                list.iter()
                    .filter_map(toml::Value::as_str)
                    .map(str::to_owned),
            );
        }
        let mut group_requirements = Vec::new();
        for group in &groups {
            expand_group(
                groups_table,
                group,
                &mut Vec::new(),
                &mut group_requirements,
            )
            .map_err(&bad)?;
        }
        let locks = find_locks(dir, &mut keyed)?;
        let pins_pytest = if locks.is_empty() {
            extra_requirements
                .iter()
                .chain(&group_requirements)
                .any(|r| requirement_name(r) == "pytest" && r.contains("=="))
        } else {
            locks_name_pytest(&locks)?
        };
        Ok(Self {
            dir: dir.to_owned(),
            keyed,
            installable,
            extras,
            groups,
            group_requirements,
            pins_pytest,
            locks,
        })
    }

    fn key(&self, installer: &Installer, host: &str, request: &ProjectEnvRequest) -> String {
        let dir = self.dir.to_string_lossy();
        let extras = self.extras.join(",");
        let groups = self.groups.join(",");
        let pytest = format!(
            "{}\n{}",
            request.pytest.requirement,
            request.pytest.extra.join("\n")
        );
        let index = installer.index_identity();
        let mut parts: Vec<&[u8]> = vec![
            b"windlass-check project env v1",
            dir.as_bytes(),
            extras.as_bytes(),
            groups.as_bytes(),
            host.as_bytes(),
            pytest.as_bytes(),
            index.as_bytes(),
        ];
        for (name, bytes) in &self.keyed {
            parts.push(name.as_bytes());
            parts.push(bytes);
        }
        super::short_hash(&parts)
    }

    fn chosen(&self) -> Vec<String> {
        self.extras
            .iter()
            .map(|e| format!("extra:{e}"))
            .chain(self.groups.iter().map(|g| format!("group:{g}")))
            .collect()
    }

    async fn install(
        &self,
        runner: &Runner<'_>,
        env_dir: &Path,
        request: &ProjectEnvRequest,
    ) -> Result<(), InstallError> {
        let project_arg = if self.extras.is_empty() {
            self.dir.to_string_lossy().into_owned()
        } else {
            format!("{}[{}]", self.dir.display(), self.extras.join(","))
        };
        let mut pytest = Vec::new();
        if !self.pins_pytest {
            pytest.push(request.pytest.requirement.clone());
            pytest.extend(request.pytest.extra.iter().cloned());
        }
        if self.locks.is_empty() {
            let mut args: Vec<String> = Vec::new();
            if self.installable {
                args.extend(["-e".to_owned(), project_arg]);
            }
            args.extend(self.group_requirements.iter().cloned());
            args.extend(pytest);
            if args.is_empty() {
                return Ok(());
            }
            let what = args.join(" ");
            return runner.install(&what, &[], |cmd| cmd.args(&args)).await;
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for lock in &self.locks {
            match lock {
                Lock::Requirements { path } => files.push(path.clone()),
                Lock::Pylock { lines, .. } => {
                    let path = env_dir.join("pylock-requirements.txt");
                    std::fs::write(&path, lines.join("\n") + "\n")
                        .map_err(InstallError::io("write", &path))?;
                    files.push(path);
                }
            }
        }
        let names: Vec<String> = self
            .locks
            .iter()
            .map(|l| l.path().display().to_string())
            .collect();
        runner
            .install(
                &names.join(", "),
                &["--require-hashes", "--no-deps"],
                |cmd| files.iter().fold(cmd, |cmd, file| cmd.arg("-r").arg(file)),
            )
            .await?;
        if self.installable {
            runner
                .install(&project_arg, &["--no-deps", "-e"], |cmd| {
                    cmd.arg(&project_arg)
                })
                .await?;
        }
        if !pytest.is_empty() {
            runner
                .install(&pytest.join(" "), &[], |cmd| cmd.args(&pytest))
                .await?;
        }
        Ok(())
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, InstallError> {
    match windlass_fs::read_to_string(path, MAX_FILE) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(InstallError::Read(e)),
    }
}

/// Appends the requirements of dependency group `name` (PEP 735), its
/// includes followed, to `out`.
fn expand_group(
    table: Option<&toml::Table>,
    name: &str,
    stack: &mut Vec<String>,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let wanted = normalize(name);
    if stack.contains(&wanted) {
        return Err(format!(
            "the dependency group `{name}` includes itself ({} -> {name})",
            stack.join(" -> ")
        ));
    }
    let entries = table
        .and_then(|t| t.iter().find(|(k, _)| normalize(k) == wanted))
        .map(|(_, v)| v)
        .ok_or_else(|| format!("the dependency group `{name}` is not in `[dependency-groups]`"))?
        .as_array()
        .ok_or_else(|| format!("the dependency group `{name}` is not a list"))?;
    stack.push(wanted);
    for entry in entries {
        match entry {
            toml::Value::String(requirement) => out.push(requirement.clone()),
            toml::Value::Table(include) => {
                let Some(other) = include.get("include-group").and_then(toml::Value::as_str) else {
                    return Err(format!(
                        "the dependency group `{name}` has a table other than `{{include-group = \"...\"}}`"
                    ));
                };
                expand_group(table, other, stack, out)?;
            }
            _ => {
                return Err(format!(
                    "the dependency group `{name}` holds a non-string entry"
                ));
            }
        }
    }
    stack.pop();
    Ok(())
}

/// The normalised distribution name a PEP 508 requirement starts with.
pub(crate) fn requirement_name(requirement: &str) -> String {
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(requirement.len());
    normalize(&requirement[..end])
}

/// The project's locks: `pylock.toml`, else the `requirements*.txt` files
/// with `--hash` pins. Their bytes join the key.
fn find_locks(dir: &Path, keyed: &mut Vec<(String, Vec<u8>)>) -> Result<Vec<Lock>, InstallError> {
    let pylock = dir.join("pylock.toml");
    if let Some(text) = read_optional(&pylock)? {
        keyed.push(("pylock.toml".to_owned(), text.clone().into_bytes()));
        let lines = pylock_lines(&text).map_err(|why| InstallError::Project {
            path: pylock.clone(),
            why,
        })?;
        return Ok(vec![Lock::Pylock {
            path: pylock,
            lines,
        }]);
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(InstallError::io("list", dir))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n.starts_with("requirements")
                && Path::new(n)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
        })
        .collect();
    names.sort();
    let mut locks = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let Some(text) = read_optional(&path)? else {
            continue;
        };
        if text.contains("--hash") {
            keyed.push((name, text.into_bytes()));
            locks.push(Lock::Requirements { path });
        }
    }
    Ok(locks)
}

/// Whether the locks name pytest.
fn locks_name_pytest(locks: &[Lock]) -> Result<bool, InstallError> {
    for lock in locks {
        let lines: Vec<String> = match lock {
            Lock::Pylock { lines, .. } => lines.clone(),
            Lock::Requirements { path } => read_optional(path)?
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect(),
        };
        if lines
            .iter()
            .any(|line| requirement_name(line.trim_start()) == "pytest")
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The packages of a `pylock.toml` (PEP 751) as requirement lines pinned by
/// version and hashes; the project itself (a directory) is left out.
fn pylock_lines(text: &str) -> Result<Vec<String>, String> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| format!("not valid TOML: {}", e.message()))?;
    let packages = table
        .get("packages")
        .and_then(toml::Value::as_array)
        .ok_or("no `packages` array")?;
    let mut lines = Vec::new();
    for package in packages {
        let package = package.as_table().ok_or("a package is not a table")?;
        let name = package
            .get("name")
            .and_then(toml::Value::as_str)
            .ok_or("a package has no `name`")?;
        if package.contains_key("directory") {
            continue;
        }
        if package.contains_key("vcs") {
            return Err(format!(
                "`{name}` comes from a version control system, which cannot be installed by hash"
            ));
        }
        let mut hashes = BTreeSet::new();
        let mut collect = |value: Option<&toml::Value>| {
            if let Some(sha) = value
                .and_then(|v| v.get("hashes"))
                .and_then(|h| h.get("sha256"))
                .and_then(toml::Value::as_str)
            {
                hashes.insert(sha.to_owned());
            }
        };
        for wheel in package
            .get("wheels")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            collect(Some(wheel));
        }
        collect(package.get("sdist"));
        collect(package.get("archive"));
        if hashes.is_empty() {
            return Err(format!("`{name}` has no sha256 hash"));
        }
        let spec = match (
            package.get("version").and_then(toml::Value::as_str),
            package
                .get("archive")
                .and_then(|a| a.get("url"))
                .and_then(toml::Value::as_str),
        ) {
            (_, Some(url)) => format!("{name} @ {url}"),
            (Some(version), None) => format!("{name}=={version}"),
            (None, None) => {
                return Err(format!("`{name}` has neither a version nor an archive URL"));
            }
        };
        let marker = package
            .get("marker")
            .and_then(toml::Value::as_str)
            .map(|m| format!(" ; {m}"))
            .unwrap_or_default();
        let pins: Vec<String> = hashes
            .iter()
            .map(|h| format!("--hash=sha256:{h}"))
            .collect();
        lines.push(format!("{spec}{marker} {}", pins.join(" ")));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_expand_includes() {
        let table: toml::Table = toml::from_str(
            r#"
            test = ["pytest==8.0", {include-group = "Typing"}]
            typing = ["mypy"]
            loop-a = [{include-group = "loop-b"}]
            loop-b = [{include-group = "loop-a"}]
            "#,
        )
        .unwrap();
        let mut out = Vec::new();
        expand_group(Some(&table), "test", &mut Vec::new(), &mut out).unwrap();
        assert_eq!(out, ["pytest==8.0", "mypy"]);
        let err =
            expand_group(Some(&table), "loop-a", &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(err.contains("includes itself"), "{err}");
        let err = expand_group(Some(&table), "docs", &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(err.contains("`docs`"), "{err}");
    }

    #[test]
    pub(crate) fn requirement_names() {
        for (requirement, name) in [
            ("pytest==9.2.0", "pytest"),
            ("PyTest >= 7", "pytest"),
            ("pytest[testing]; python_version>'3'", "pytest"),
            ("pytest-cov", "pytest-cov"),
        ] {
            assert_eq!(requirement_name(requirement), name);
        }
    }

    #[test]
    fn pylock_to_lines() {
        let text = r#"
lock-version = "1.0"
created-by = "x"
[[packages]]
name = "iniconfig"
version = "2.0.0"
marker = "python_version >= '3.8'"
wheels = [{ url = "https://files.example/iniconfig-2.0.0-py3-none-any.whl", hashes = { sha256 = "bb" } }]
sdist = { url = "https://files.example/iniconfig-2.0.0.tar.gz", hashes = { sha256 = "aa" } }
[[packages]]
name = "me"
directory = { path = "." }
"#;
        assert_eq!(
            pylock_lines(text).unwrap(),
            ["iniconfig==2.0.0 ; python_version >= '3.8' --hash=sha256:aa --hash=sha256:bb"]
        );
        let err = pylock_lines("[[packages]]\nname = \"x\"\nversion = \"1\"\n").unwrap_err();
        assert!(err.contains("no sha256"), "{err}");
    }
}
