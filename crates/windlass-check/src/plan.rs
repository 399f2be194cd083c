//! What would run and why: the checks that fit the project (detected from
//! its files), changed or added by `[check.NAME]`, narrowed by `only` and
//! `skip`. `windlass check --list` prints it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{CheckSection, CheckSpec, OutputFormat};
use crate::files::{file_name, is_shell_script};

/// A check Windlass knows how to run and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Builtin {
    Ruff,
    RuffFormat,
    Mypy,
    Pytest,
    CargoFmt,
    Clippy,
    CargoTest,
    Shellcheck,
    HelmLint,
    Containerfile,
}

impl Builtin {
    pub const ALL: [Builtin; 10] = [
        Self::Ruff,
        Self::RuffFormat,
        Self::Mypy,
        Self::Pytest,
        Self::CargoFmt,
        Self::Clippy,
        Self::CargoTest,
        Self::Shellcheck,
        Self::HelmLint,
        Self::Containerfile,
    ];

    /// The check's name (`ruff-format`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ruff => "ruff",
            Self::RuffFormat => "ruff-format",
            Self::Mypy => "mypy",
            Self::Pytest => "pytest",
            Self::CargoFmt => "cargo-fmt",
            Self::Clippy => "clippy",
            Self::CargoTest => "cargo-test",
            Self::Shellcheck => "shellcheck",
            Self::HelmLint => "helm-lint",
            Self::Containerfile => "containerfile",
        }
    }

    /// The tool that runs it.
    pub fn tool(self) -> &'static str {
        match self {
            Self::Ruff | Self::RuffFormat => "ruff",
            Self::Mypy => "mypy",
            Self::Pytest => "pytest",
            Self::CargoFmt | Self::Clippy | Self::CargoTest => "cargo",
            Self::Shellcheck => "shellcheck",
            Self::HelmLint => "helm",
            Self::Containerfile => "windlass",
        }
    }

    /// Whether the tool takes the files to check as arguments (so that
    /// `--changed` can give it only those).
    pub fn takes_files(self) -> bool {
        matches!(
            self,
            Self::Ruff | Self::RuffFormat | Self::Shellcheck | Self::Containerfile
        )
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// One check of the plan.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedCheck {
    /// The check's name (`ruff`, or a `[check.NAME]`).
    pub name: String,
    /// The tool that runs it.
    pub tool: String,
    /// Why it runs: what in the project made Windlass pick it.
    pub reason: String,
    /// The files it concerns (its cache inputs; its arguments when it takes
    /// files), relative to the project.
    pub files: Vec<String>,
    /// Whether the files are passed to the tool (else it checks the whole
    /// project and runs when any of them changed).
    pub takes_files: bool,
    /// The command of a `[check.NAME]` table, when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The names of the variables `[check.NAME] env` sets (never values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(skip)]
    pub builtin: Option<Builtin>,
    #[serde(skip)]
    pub env_values: BTreeMap<String, String>,
    #[serde(skip)]
    pub format: OutputFormat,
    /// Configuration files that shape the result without being checked
    /// (`pyproject.toml` for ruff): part of the cache key.
    #[serde(skip)]
    pub config_files: Vec<String>,
    /// Directories the tool is run on (charts for `helm lint`).
    #[serde(skip)]
    pub dirs: Vec<String>,
    /// The tool's own configuration names what it checks (`files` in
    /// `[tool.mypy]`): no file is passed to it.
    #[serde(skip)]
    pub configured_files: bool,
}

/// What `windlass check` would run.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    pub checks: Vec<PlannedCheck>,
}

/// A plan that cannot be made: the configuration or the command line asks
/// for something that does not exist (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub message: String,
    pub hint: Option<String>,
}

impl windlass_diagnostic::Diagnostic for PlanError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        windlass_diagnostic::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// What narrows the plan, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--only` (replaces `[check] only`).
    pub only: Vec<String>,
    /// `--skip` (added to `[check] skip`).
    pub skip: Vec<String>,
}

/// Makes the plan for the project at `root` with these `files` (from
/// [`crate::files::project_files`]). `config_file` names the file in
/// errors.
pub fn plan(
    root: &Path,
    files: &[String],
    section: &CheckSection,
    selection: &Selection,
    config_file: Option<&Path>,
) -> Result<Plan, PlanError> {
    let shown = config_file
        .map_or_else(|| PathBuf::from("windlass.toml"), Path::to_path_buf)
        .display()
        .to_string();
    let mut checks = detect(root, files);
    for (name, spec) in &section.checks {
        if !checks.iter().any(|c| &c.name == name) {
            match custom_check(name, spec, files, &shown)? {
                Some(check) => checks.push(check),
                None => continue,
            }
        }
        if let Some(check) = checks.iter_mut().find(|c| &c.name == name) {
            apply(check, spec, files, &shown)?;
        }
    }
    checks.retain(|c| {
        section
            .checks
            .get(&c.name)
            .is_none_or(|spec| spec.enabled != Some(false))
    });
    let known: Vec<String> = Builtin::ALL
        .iter()
        .map(|b| b.name().to_owned())
        .chain(section.checks.keys().cloned())
        .collect();
    let only = if selection.only.is_empty() {
        &section.only
    } else {
        &selection.only
    };
    let only_from = if selection.only.is_empty() {
        format!("{shown}: `[check] only`")
    } else {
        "`--only`".to_owned()
    };
    for (from, names) in [
        (only_from, only),
        (format!("{shown}: `[check] skip`"), &section.skip),
        ("`--skip`".to_owned(), &selection.skip),
    ] {
        if let Some(name) = names.iter().find(|name| !known.contains(name)) {
            let close = known
                .iter()
                .map(|k| (strsim::jaro_winkler(k, name), k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(PlanError {
                message: format!("{from} names `{name}`, which is not a check"),
                hint: Some(format!("{close}the checks are: {}", known.join(", "))),
            });
        }
    }
    checks.retain(|c| only.is_empty() || only.contains(&c.name));
    checks.retain(|c| !section.skip.contains(&c.name) && !selection.skip.contains(&c.name));
    Ok(Plan { checks })
}

/// The check a `[check.NAME]` table adds, when it adds one (a disabled
/// table, or a built-in check's table in a project it does not fit, adds
/// none).
fn custom_check(
    name: &str,
    spec: &CheckSpec,
    files: &[String],
    shown: &str,
) -> Result<Option<PlannedCheck>, PlanError> {
    if spec.enabled == Some(false) {
        return Ok(None);
    }
    let Some(command) = &spec.command else {
        if Builtin::from_name(name).is_some() {
            return Ok(None);
        }
        return Err(PlanError {
            message: format!(
                "{shown}: `[check.{name}]` is not a built-in check and has no `command`"
            ),
            hint: Some(format!(
                "add `command = [\"...\"]` to `[check.{name}]`, or use one of: {}",
                builtin_names()
            )),
        });
    };
    let Some(program) = command.first() else {
        return Err(empty_command(&shown, name));
    };
    Ok(Some(PlannedCheck {
        name: name.to_owned(),
        tool: program_name(program),
        reason: format!("[check.{name}] in {}", file_name(shown)),
        files: files.to_vec(),
        takes_files: false,
        command: None,
        env: Vec::new(),
        builtin: None,
        env_values: BTreeMap::new(),
        format: OutputFormat::Text,
        config_files: Vec::new(),
        dirs: Vec::new(),
        configured_files: false,
    }))
}

/// A program's file name (`ruff` for `/opt/bin/ruff`).
fn program_name(program: &str) -> String {
    program.rsplit('/').next().unwrap_or(program).to_owned()
}

/// Whether a `/`-separated path has this extension.
pub(crate) fn has_extension(path: &str, extension: &str) -> bool {
    Path::new(path).extension().is_some_and(|e| e == extension)
}

fn builtin_names() -> String {
    Builtin::ALL
        .iter()
        .map(|b| b.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn empty_command(shown: &impl std::fmt::Display, name: &str) -> PlanError {
    PlanError {
        message: format!("{shown}: `[check.{name}] command` is empty"),
        hint: Some("give the program and its arguments: `command = [\"make\", \"lint\"]`".into()),
    }
}

/// Applies a `[check.NAME]` table to a planned check.
fn apply(
    check: &mut PlannedCheck,
    spec: &CheckSpec,
    files: &[String],
    shown: &str,
) -> Result<(), PlanError> {
    let name = check.name.clone();
    if let Some(command) = &spec.command {
        if command.is_empty() {
            return Err(empty_command(&shown, &name));
        }
        check.command = Some(command.clone());
        check.takes_files = false;
        check.tool = program_name(&command[0]);
        check.format = OutputFormat::Text;
    }
    if let Some(globs) = &spec.files {
        let mut builder = globset::GlobSetBuilder::new();
        for glob in globs {
            let glob = globset::GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .map_err(|e| PlanError {
                    message: format!(
                        "{shown}: `[check.{name}] files`: `{glob}` is not a glob ({e})"
                    ),
                    hint: Some("globs look like `src/**/*.py`".into()),
                })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| PlanError {
            message: format!("{shown}: `[check.{name}] files`: {e}"),
            hint: None,
        })?;
        check.files = files
            .iter()
            .filter(|f| set.is_match(f.as_str()))
            .cloned()
            .collect();
    }
    if let Some(pass) = spec.pass_files {
        check.takes_files = pass;
    }
    if let Some(format) = spec.format {
        check.format = format;
    }
    check.env = spec.env.keys().cloned().collect();
    check.env_values.clone_from(&spec.env);
    Ok(())
}

fn matching(files: &[String], pred: impl Fn(&str) -> bool) -> Vec<String> {
    files.iter().filter(|f| pred(f)).cloned().collect()
}

fn existing(root: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|n| root.join(n).is_file())
        .map(|n| (*n).to_owned())
        .collect()
}

fn builtin(check: Builtin, reason: String, files: Vec<String>) -> PlannedCheck {
    PlannedCheck {
        name: check.name().to_owned(),
        tool: check.tool().to_owned(),
        reason,
        files,
        takes_files: check.takes_files(),
        command: None,
        env: Vec::new(),
        builtin: Some(check),
        env_values: BTreeMap::new(),
        format: OutputFormat::Text,
        config_files: Vec::new(),
        dirs: Vec::new(),
        configured_files: false,
    }
}

/// The built-in checks that fit the project.
pub fn detect(root: &Path, files: &[String]) -> Vec<PlannedCheck> {
    let mut checks = Vec::new();
    let python = matching(files, |f| has_extension(f, "py") || has_extension(f, "pyi"));
    if root.join("pyproject.toml").is_file() {
        python_checks(root, files, &python, &mut checks);
    }
    if root.join("Cargo.toml").is_file() {
        let rust = matching(files, |f| has_extension(f, "rs"));
        let mut fmt = builtin(
            Builtin::CargoFmt,
            "Cargo.toml: a Rust project".into(),
            rust.clone(),
        );
        fmt.config_files = existing(root, &["rustfmt.toml", ".rustfmt.toml"]);
        checks.push(fmt);
        let clippy_files = matching(files, |f| {
            has_extension(f, "rs")
                || file_name(f) == "Cargo.toml"
                || f == "Cargo.lock"
                || f == "clippy.toml"
        });
        checks.push(builtin(
            Builtin::Clippy,
            "Cargo.toml: a Rust project".into(),
            clippy_files,
        ));
        checks.push(builtin(
            Builtin::CargoTest,
            "Cargo.toml: a Rust project".into(),
            files.to_vec(),
        ));
    }
    let scripts = matching(files, |f| is_shell_script(root, f));
    if !scripts.is_empty() {
        let reason = format!(
            "{} shell script{}",
            scripts.len(),
            if scripts.len() == 1 { "" } else { "s" }
        );
        let mut shellcheck = builtin(Builtin::Shellcheck, reason, scripts);
        shellcheck.config_files = existing(root, &[".shellcheckrc"]);
        checks.push(shellcheck);
    }
    let charts: Vec<String> = files
        .iter()
        .filter(|f| file_name(f) == "Chart.yaml")
        .map(|f| f.rsplit_once('/').map_or(".", |(dir, _)| dir).to_owned())
        .collect();
    if !charts.is_empty() {
        let chart_files = matching(files, |f| {
            charts
                .iter()
                .any(|dir| dir == "." || f.starts_with(&format!("{dir}/")))
        });
        let reason = format!("Chart.yaml in {}", charts.join(", "));
        let mut helm = builtin(Builtin::HelmLint, reason, chart_files);
        helm.dirs = charts;
        checks.push(helm);
    }
    let containerfiles = matching(files, |f| {
        let name = file_name(f);
        ["Containerfile", "Dockerfile"].iter().any(|base| {
            name == *base
                || name.starts_with(&format!("{base}."))
                || name.ends_with(&format!(".{base}"))
        })
    });
    if !containerfiles.is_empty() {
        let reason = format!("{} found", containerfiles.join(", "));
        checks.push(builtin(Builtin::Containerfile, reason, containerfiles));
    }
    checks
}

/// The checks of a Python project (a `pyproject.toml` at the root).
fn python_checks(root: &Path, files: &[String], python: &[String], checks: &mut Vec<PlannedCheck>) {
    let pyproject: toml::Table = windlass_fs::read_to_string(&root.join("pyproject.toml"), 4 << 20)
        .ok()
        .and_then(|text| toml::from_str(&text).ok())
        .unwrap_or_default();
    let tool = pyproject.get("tool").and_then(toml::Value::as_table);
    let ruff_config = existing(root, &["pyproject.toml", "ruff.toml", ".ruff.toml"]);
    let mut ruff = builtin(
        Builtin::Ruff,
        "pyproject.toml: a Python project".into(),
        python.to_vec(),
    );
    ruff.config_files.clone_from(&ruff_config);
    checks.push(ruff);
    let mut format = builtin(
        Builtin::RuffFormat,
        "pyproject.toml: a Python project".into(),
        python.to_vec(),
    );
    format.config_files = ruff_config;
    checks.push(format);
    let mypy_reason = if tool.is_some_and(|t| t.contains_key("mypy")) {
        Some("pyproject.toml has [tool.mypy]".to_owned())
    } else if root.join("mypy.ini").is_file() {
        Some("mypy.ini".to_owned())
    } else if root.join(".mypy.ini").is_file() {
        Some(".mypy.ini".to_owned())
    } else if windlass_fs::read_to_string(&root.join("setup.cfg"), 4 << 20)
        .is_ok_and(|text| text.lines().any(|l| l.trim() == "[mypy]"))
    {
        Some("setup.cfg has [mypy]".to_owned())
    } else {
        None
    };
    if let Some(reason) = mypy_reason {
        let mut mypy = builtin(Builtin::Mypy, reason, python.to_vec());
        mypy.config_files = existing(
            root,
            &["pyproject.toml", "mypy.ini", ".mypy.ini", "setup.cfg"],
        );
        mypy.configured_files = tool
            .and_then(|t| t.get("mypy"))
            .is_some_and(|m| m.get("files").is_some())
            || windlass_fs::read_to_string(&root.join("mypy.ini"), 4 << 20)
                .is_ok_and(|text| text.lines().any(|l| l.trim_start().starts_with("files")));
        checks.push(mypy);
    }
    let tests = matching(python, |f| {
        let name = file_name(f);
        has_extension(name, "py") && (name.starts_with("test_") || name.ends_with("_test.py"))
    });
    if !tests.is_empty() {
        let reason = match tests.first() {
            Some(first) if tests.len() == 1 => format!("tests: {first}"),
            Some(first) => format!("tests: {first} and {} more", tests.len() - 1),
            None => String::new(),
        };
        checks.push(builtin(Builtin::Pytest, reason, files.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Selection, plan};
    use crate::config::CheckSection;

    /// A tree of files (path, content), and the checks planned for it.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

    /// The checks (name: reason) planned for a tree of `files`, with a
    /// `[check]` section.
    fn planned(files: &[(&str, &str)], section: &str) -> Result<Vec<String>, String> {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let section: CheckSection = toml::from_str(section).unwrap();
        let listed = crate::files::project_files(dir.path());
        let selection = Selection::default();
        let shown = Path::new("windlass.toml");
        plan(dir.path(), &listed, &section, &selection, Some(shown))
            .map(|plan| {
                plan.checks
                    .iter()
                    .map(|c| format!("{}: {} ({} files)", c.name, c.reason, c.files.len()))
                    .collect()
            })
            .map_err(|e| e.message)
    }

    #[test]
    fn detects_what_fits() {
        let cases: &[Case<'_>] = &[
            (&[("README.md", "")], &[]),
            (
                &[("pyproject.toml", ""), ("src/a.py", "")],
                &[
                    "ruff: pyproject.toml: a Python project (1 files)",
                    "ruff-format: pyproject.toml: a Python project (1 files)",
                ],
            ),
            (
                &[("pyproject.toml", "[tool.mypy]\n"), ("tests/test_a.py", "")],
                &[
                    "ruff: pyproject.toml: a Python project (1 files)",
                    "ruff-format: pyproject.toml: a Python project (1 files)",
                    "mypy: pyproject.toml has [tool.mypy] (1 files)",
                    "pytest: tests: tests/test_a.py (2 files)",
                ],
            ),
            (
                &[
                    ("pyproject.toml", ""),
                    ("setup.cfg", "[mypy]\nstrict = True\n"),
                ],
                &[
                    "ruff: pyproject.toml: a Python project (0 files)",
                    "ruff-format: pyproject.toml: a Python project (0 files)",
                    "mypy: setup.cfg has [mypy] (0 files)",
                ],
            ),
            (
                &[("Cargo.toml", ""), ("src/lib.rs", "")],
                &[
                    "cargo-fmt: Cargo.toml: a Rust project (1 files)",
                    "clippy: Cargo.toml: a Rust project (2 files)",
                    "cargo-test: Cargo.toml: a Rust project (2 files)",
                ],
            ),
            (
                &[
                    ("bin/run", "#!/usr/bin/env bash\n"),
                    ("bin/tool", "#!/usr/bin/python3\n"),
                    ("x.sh", ""),
                ],
                &["shellcheck: 2 shell scripts (2 files)"],
            ),
            (
                &[
                    ("chart/Chart.yaml", ""),
                    ("chart/templates/a.yaml", ""),
                    ("b.txt", ""),
                ],
                &["helm-lint: Chart.yaml in chart (2 files)"],
            ),
            (
                &[
                    ("Dockerfile.dev", "FROM x\n"),
                    ("Containerfile", "FROM x\n"),
                ],
                &["containerfile: Containerfile, Dockerfile.dev found (2 files)"],
            ),
            // Ignored files are not the project's.
            (
                &[
                    (".gitignore", "gen/\n"),
                    ("gen/x.sh", ""),
                    ("__pycache__/a.sh", ""),
                ],
                &[],
            ),
        ];
        for (files, wanted) in cases {
            assert_eq!(planned(files, "").unwrap(), *wanted, "{files:?}");
        }
    }

    #[test]
    fn check_tables_change_and_add_checks() {
        let files: &[(&str, &str)] = &[("pyproject.toml", ""), ("src/a.py", ""), ("docs/a.md", "")];
        assert_eq!(
            planned(
                files,
                "skip = [\"ruff-format\"]\n[ruff]\nfiles = [\"docs/*.md\"]\n[links]\ncommand = [\"check-links\"]\nfiles = [\"**/*.md\"]\n[pytest]\nenv = { A = \"1\" }\n"
            )
            .unwrap(),
            [
                "ruff: pyproject.toml: a Python project (1 files)",
                "links: [check.links] in windlass.toml (1 files)",
            ]
        );
        assert_eq!(
            planned(files, "[ruff]\nenabled = false\n").unwrap(),
            ["ruff-format: pyproject.toml: a Python project (1 files)"]
        );
        assert_eq!(
            planned(files, "only = [\"ruff\"]\n").unwrap(),
            ["ruff: pyproject.toml: a Python project (1 files)"]
        );
        for (section, wanted) in [
            (
                "[lint]\nfiles = [\"*\"]\n",
                "`[check.lint]` is not a built-in check and has no `command`",
            ),
            ("[lint]\ncommand = []\n", "`[check.lint] command` is empty"),
            (
                "skip = [\"rufff\"]\n",
                "`[check] skip` names `rufff`, which is not a check",
            ),
            (
                "[ruff]\nfiles = [\"a{\"]\n",
                "`[check.ruff] files`: `a{` is not a glob",
            ),
        ] {
            let error = planned(files, section).unwrap_err();
            assert!(error.contains(wanted), "{section}: {error}");
            assert!(error.starts_with("windlass.toml"), "{error}");
        }
    }
}
