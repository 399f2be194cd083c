//! `windlass-check` end to end: the real binary on copies of
//! `examples/ml-project`, with real ruff, mypy, pytest and shellcheck.
//!
//! Every copy gets a line of its own in `__init__.py`, so no result of an
//! earlier test (or an earlier run of the suite) can be reused from the
//! cache: what a test sees cached, it cached itself. The tools themselves
//! are installed once into a cache shared by the suite under the target
//! directory (the same one as `tools.rs`), and pip's download cache beside
//! it, so a warm run installs nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests set up git repositories and read their own environment"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use windlass_testkit::cli::{Cli, Run, filters};

const BIN: &str = env!("CARGO_BIN_EXE_windlass-check");

/// The tool environments shared by the suite (kept between runs and
/// checkouts, outside the checkout).
fn shared_cache() -> PathBuf {
    windlass_testkit::test_cache("check-tools")
}

/// A copy of the example project in a temporary directory.
struct Project {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-project");
        copy_tree(&example, &root);
        let nonce = windlass_testkit::canary("copy");
        self::append(
            &root.join("src/sentiment_lab/__init__.py"),
            &format!("# {nonce}\n"),
        );
        Self { dir, root }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn append(&self, relative: &str, text: &str) {
        append(&self.path(relative), text);
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn lines(&self, relative: &str) -> usize {
        std::fs::read_to_string(self.path(relative))
            .unwrap()
            .lines()
            .count()
    }

    /// `windlass-check` in the project, with the shared tool cache.
    fn check(&self) -> Cli {
        Cli::new(BIN, self.dir.path())
            .current_dir(&self.root)
            .env("WINDLASS_CACHE_DIR", shared_cache())
            .env("PIP_CACHE_DIR", windlass_testkit::test_cache("check-pip"))
            .pass_env(["WINDLASS_PYTHON", "PIP_INDEX_URL"])
            .timeout(Duration::from_secs(900))
    }

    fn git(&self, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&self.root)
            .env("HOME", self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if [".ruff_cache", "__pycache__", "dist", ".mypy_cache"]
            .iter()
            .any(|skip| name == *skip)
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The `checks` of a `--json` result, by name.
fn checks(run: &Run) -> serde_json::Map<String, Value> {
    let json = run.json();
    json["data"]["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in the result\n{run}"))
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c.clone()))
        .collect()
}

fn status_of(checks: &serde_json::Map<String, Value>, name: &str) -> String {
    checks[name]["status"].as_str().unwrap().to_owned()
}

fn cached(checks: &serde_json::Map<String, Value>, name: &str) -> bool {
    checks[name]["cached"].as_bool().unwrap()
}

/// The example project passes every check that fits it; the second run
/// takes every result from the cache without running any tool.
#[test]
fn clean_project_passes_then_comes_from_the_cache() {
    let project = Project::new();
    let marker = project.dir.path().join("marker.txt");
    project.append(
        "windlass.toml",
        &format!(
            "\n[check.marker]\ncommand = [\"sh\", \"-c\", \"echo ran >> '{}'\"]\nfiles = [\"**/*.py\"]\n",
            marker.display()
        ),
    );
    let first = project.check().arg("--json").run();
    assert_eq!(first.code, 0, "{first}");
    let results = checks(&first);
    for name in ["ruff", "ruff-format", "pytest", "marker"] {
        assert_eq!(status_of(&results, name), "passed", "{name}\n{first}");
        assert!(!cached(&results, name), "{name}\n{first}");
    }
    assert!(!results.contains_key("mypy"), "no [tool.mypy]: {first}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\n");
    let tests = results["pytest"]["tests"].as_array().unwrap();
    assert!(tests.len() >= 2, "{first}");

    let second = project.check().arg("--json").run();
    assert_eq!(second.code, 0, "{second}");
    let results = checks(&second);
    for name in ["ruff", "ruff-format", "pytest", "marker"] {
        assert_eq!(status_of(&results, name), "passed", "{name}\n{second}");
        assert!(cached(&results, name), "{name}\n{second}");
    }
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "ran\n",
        "the cached check's command ran again"
    );
    assert_eq!(second.json()["data"]["cached"], 4, "{second}");

    // Human output: one line per check, with its time, marked cached.
    let human = project.check().run();
    assert_eq!(human.code, 0, "{human}");
    assert!(
        human
            .stdout
            .lines()
            .any(|l| l.starts_with("ruff ") && l.contains("passed") && l.ends_with("(cached)")),
        "{human}"
    );
    assert!(
        human.stdout.contains("4 checks: 4 passed, 4 cached in "),
        "{human}"
    );

    // One changed file re-runs only the checks it concerns.
    project.append("README.md", "\nOne more line.\n");
    let third = project.check().arg("--json").run();
    assert_eq!(third.code, 0, "{third}");
    let results = checks(&third);
    assert!(cached(&results, "ruff"), "{third}");
    assert!(cached(&results, "ruff-format"), "{third}");
    assert!(cached(&results, "marker"), "{third}");
    assert!(
        !cached(&results, "pytest"),
        "pytest reads every file: {third}"
    );
    project.append("src/sentiment_lab/model.py", "\n\nLIMIT = 3\n");
    let fourth = project.check().arg("--json").run();
    assert_eq!(fourth.code, 0, "{fourth}");
    let results = checks(&fourth);
    for name in ["ruff", "ruff-format", "pytest", "marker"] {
        assert!(!cached(&results, name), "{name}\n{fourth}");
    }
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\nran\n");
    // `--no-cache` runs everything again.
    let fifth = project.check().args(["--json", "--no-cache"]).run();
    assert_eq!(fifth.code, 0, "{fifth}");
    assert_eq!(fifth.json()["data"]["cached"], 0, "{fifth}");
}

/// A copy broken four ways (a lint error, a format error, a type error
/// once `[tool.mypy]` is set, a failing test) fails with each problem at
/// its file and line in the annotations, the step summary, JUnit XML and
/// SARIF.
#[test]
fn broken_copy_fails_with_files_and_lines_everywhere() {
    let project = Project::new();
    project.append("pyproject.toml", "\n[tool.mypy]\nfiles = [\"src\"]\n");
    project.append("src/sentiment_lab/model.py", "import os\n");
    let lint_line = project.lines("src/sentiment_lab/model.py");
    project.append(
        "src/sentiment_lab/serving/__init__.py",
        "VALUE = {  'a':1 }\n",
    );
    let format_line = project.lines("src/sentiment_lab/serving/__init__.py");
    project.append(
        "src/sentiment_lab/training/job.py",
        "\n\ndef label_count(labels: list[str]) -> str:\n    return len(labels)\n",
    );
    let type_line = project.lines("src/sentiment_lab/training/job.py");
    project.append(
        "tests/test_model.py",
        "\n\ndef test_broken():\n    assert sum([1]) == 2\n",
    );
    let test_line = project.lines("tests/test_model.py") - 1;
    let summary = project.dir.path().join("summary.md");
    std::fs::write(&summary, "").unwrap();
    let reports = project.dir.path().join("reports");
    let run = project
        .check()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["--json", "--junit"])
        .arg(reports.join("junit.xml"))
        .arg("--sarif")
        .arg(reports.join("check.sarif"))
        .run();
    assert_eq!(run.code, 1, "{run}");
    let results = checks(&run);
    for name in ["ruff", "ruff-format", "mypy", "pytest"] {
        assert_eq!(status_of(&results, name), "failed", "{name}\n{run}");
    }

    // Annotations (on stderr, as GitHub reads workflow commands).
    for (file, line) in [
        ("src/sentiment_lab/model.py", lint_line),
        ("src/sentiment_lab/serving/__init__.py", format_line),
        ("src/sentiment_lab/training/job.py", type_line),
        ("tests/test_model.py", test_line),
    ] {
        let wanted = format!("::error file={file},line={line},");
        assert!(run.stderr.contains(&wanted), "{wanted} missing\n{run}");
    }
    assert!(run.stderr.contains("title=ruff%3A F401::"), "{run}");
    assert!(run.stderr.contains("title=mypy%3A return-value::"), "{run}");

    // The step summary.
    let summary = std::fs::read_to_string(&summary).unwrap();
    for name in ["ruff", "ruff-format", "mypy", "pytest"] {
        assert!(
            summary.contains(&format!("| {name} | failed |")),
            "{summary}"
        );
    }

    // JUnit XML: the failing test with its file and line, and the findings.
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"test_broken\""), "{junit}");
    assert!(junit.contains("file=\"tests/test_model.py\""), "{junit}");
    assert!(junit.contains(&format!("line=\"{test_line}\"")), "{junit}");
    assert!(
        junit.contains(&format!("src/sentiment_lab/model.py:{lint_line}:")),
        "{junit}"
    );

    // SARIF: valid against the 2.1.0 schema, with each finding's place.
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(reports.join("check.sarif")).unwrap()).unwrap();
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_slice(
        &std::fs::read(&schema_path)
            .unwrap_or_else(|e| panic!("the SARIF schema {}: {e}", schema_path.display())),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let places: Vec<(String, u64)> = sarif["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|run| run["results"].as_array().unwrap().iter())
        .filter_map(|result| {
            let location = &result["locations"][0]["physicalLocation"];
            Some((
                location["artifactLocation"]["uri"].as_str()?.to_owned(),
                location["region"]["startLine"].as_u64()?,
            ))
        })
        .collect();
    for (file, line) in [
        ("src/sentiment_lab/model.py", lint_line),
        ("src/sentiment_lab/training/job.py", type_line),
    ] {
        assert!(
            places.contains(&(file.to_owned(), line as u64)),
            "{file}:{line} not in {places:?}"
        );
    }
}

/// `--changed` gives the tools that take files only the changed and
/// untracked ones, runs whole-project checks because something changed,
/// and skips the checks none of whose files changed.
#[test]
fn changed_checks_only_what_changed() {
    let project = Project::new();
    project.write(
        "scripts/train.sh",
        "#!/bin/sh\nset -eu\necho \"training\"\n",
    );
    project.git(&["init", "-q"]);
    project.git(&["add", "-A"]);
    project.git(&["commit", "-q", "-m", "start"]);
    project.append("src/sentiment_lab/model.py", "\n\nLIMIT = 3\n");
    project.write("src/sentiment_lab/extra.py", "\"\"\"New.\"\"\"\n");
    let run = project.check().args(["--json", "--changed=HEAD"]).run();
    assert_eq!(run.code, 0, "{run}");
    let results = checks(&run);
    assert_eq!(status_of(&results, "shellcheck"), "skipped", "{run}");
    assert_eq!(status_of(&results, "ruff"), "passed", "{run}");
    let command: Vec<&str> = results["ruff"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        command[command.len() - 2..],
        ["src/sentiment_lab/extra.py", "src/sentiment_lab/model.py"],
        "{run}"
    );
    assert_eq!(status_of(&results, "pytest"), "passed", "{run}");

    // Without changes since the last commit nothing is left to check.
    project.git(&["add", "-A"]);
    project.git(&["commit", "-q", "-m", "more"]);
    let run = project.check().args(["--json", "--changed=HEAD"]).run();
    assert_eq!(run.code, 0, "{run}");
    for (name, check) in checks(&run) {
        assert_eq!(check["status"], "skipped", "{name}\n{run}");
    }

    // The whole project, shellcheck included, when asked for.
    let run = project
        .check()
        .args(["--json", "--only", "shellcheck"])
        .run();
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(status_of(&checks(&run), "shellcheck"), "passed", "{run}");
}

/// `--list` says what would run and why, and runs nothing.
#[test]
fn list_shows_the_plan() {
    let project = Project::new();
    project.append("pyproject.toml", "\n[tool.mypy]\nstrict = true\n");
    project.write(
        "scripts/serve",
        "#!/usr/bin/env bash\nexec sentiment-serve\n",
    );
    project.write(
        "Containerfile",
        "FROM python:3.11-slim\nCOPY dist/ /dist/\n",
    );
    project.write(
        "charts/ml/Chart.yaml",
        "apiVersion: v2\nname: ml\nversion: 0.1.0\n",
    );
    project.append(
        "windlass.toml",
        "\n[check]\nskip = [\"helm-lint\"]\n\n[check.docs]\ncommand = [\"python3\", \"-m\", \"doctest\"]\nfiles = [\"*.md\"]\npass-files = true\n",
    );
    let run = project.check().arg("--list").run();
    assert_eq!(run.code, 0, "{run}");
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!(run);
    });
    let json = project.check().args(["--list", "--json"]).run();
    assert_eq!(json.code, 0, "{json}");
    let document = json.json();
    let names: Vec<&str> = document["data"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ruff",
            "ruff-format",
            "mypy",
            "pytest",
            "shellcheck",
            "containerfile",
            "docs"
        ]
    );
}

/// A Containerfile `windlass image` cannot build is a finding at its line.
#[test]
fn containerfile_errors_are_findings() {
    let project = Project::new();
    project.write(
        "Containerfile",
        "FROM python:3.11-slim\nRUN apt-get update\n",
    );
    let run = project
        .check()
        .args(["--json", "--only", "containerfile"])
        .run();
    assert_eq!(run.code, 1, "{run}");
    let results = checks(&run);
    let finding = &results["containerfile"]["findings"][0];
    assert_eq!(finding["location"]["path"], "Containerfile", "{run}");
    assert_eq!(finding["location"]["line"], 2, "{run}");
}

/// Configuration and usage errors exit 2 and name the file and key.
#[test]
fn configuration_errors_exit_2() {
    let project = Project::new();
    let original = std::fs::read_to_string(project.path("windlass.toml")).unwrap();
    for (config, args, wanted) in [
        ("[check.ruff]\ncomand = [\"ruff\"]\n", &[][..], "comand"),
        (
            "[check.lint]\nfiles = [\"*.py\"]\n",
            &[][..],
            "[check.lint]",
        ),
        ("[check]\njobs = \"many\"\n", &[][..], "jobs"),
        ("", &["--only", "ruf"][..], "did you mean `ruff`"),
        (
            "[check.ruff]\nfiles = [\"[\"]\n",
            &[][..],
            "[check.ruff] files",
        ),
    ] {
        std::fs::write(
            project.path("windlass.toml"),
            format!("{original}\n{config}"),
        )
        .unwrap();
        let run = project.check().args(args).run();
        assert_eq!(run.code, 2, "{config}\n{run}");
        assert!(run.stderr.contains(wanted), "{wanted}\n{run}");
        if !config.is_empty() {
            assert!(run.stderr.contains("windlass.toml"), "{run}");
        }
    }
    std::fs::write(project.path("windlass.toml"), &original).unwrap();
    let run = project.check().args(["--changed=no-such-ref"]).run();
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("no-such-ref"), "{run}");
}

/// A secret given to checks through `[check.NAME] env` reaches them, and
/// never shows: not on stdout or stderr, not in the annotations, the step
/// summary, the JUnit XML, the SARIF file or the result cache, though a
/// test prints it and fails with it. The runner alone is told the value,
/// in `::add-mask::`.
#[test]
fn a_secret_in_check_env_never_shows() {
    let project = Project::new();
    let canary = windlass_testkit::canary("check-env");
    project.append(
        "windlass.toml",
        "\n[check.pytest]\nenv = { TOKEN = \"env://WL_CHECK_TOKEN\", MODE = \"test\" }\n\n\
         [check.leak]\ncommand = [\"python3\", \"-c\", \"import os, sys; print('token', os.environ['TOKEN']); sys.exit(3)\"]\n\
         env = { TOKEN = \"env://WL_CHECK_TOKEN\" }\n",
    );
    project.write(
        "tests/test_secret.py",
        "import os\n\n\ndef test_prints_the_token():\n    print(\"token\", os.environ[\"TOKEN\"])\n    assert os.environ[\"MODE\"] == \"test\"\n    assert os.environ[\"TOKEN\"] == \"\"\n",
    );
    let summary = project.dir.path().join("summary.md");
    std::fs::write(&summary, "").unwrap();
    let reports = project.dir.path().join("reports");
    let run = project
        .check()
        .env("WL_CHECK_TOKEN", &canary)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["-v", "--junit"])
        .arg(reports.join("junit.xml"))
        .arg("--sarif")
        .arg(reports.join("check.sarif"))
        .run();
    assert_eq!(run.code, 1, "{run}");
    // In GitHub Actions the runner is told to mask it, and nothing else
    // shows it.
    run.assert_masked_only(&canary);
    // It reached the command: its output shows where it was masked.
    assert!(run.stdout.contains("token ****"), "{run}");
    let json = project
        .check()
        .env("WL_CHECK_TOKEN", &canary)
        .arg("--json")
        .run();
    assert_eq!(json.code, 1, "{json}");
    json.assert_no_leak(&canary);
    let results = checks(&json);
    assert_eq!(status_of(&results, "pytest"), "failed", "{json}");
    assert!(cached(&results, "pytest"), "{json}");
    for file in [
        summary.clone(),
        reports.join("junit.xml"),
        reports.join("check.sarif"),
    ] {
        windlass_testkit::assert_no_leak(&std::fs::read(&file).unwrap(), &canary);
    }
    windlass_testkit::assert_no_leak_in_dir(&shared_cache().join("check/results"), &canary);
}

/// `helm lint` (the real Helm of the test services) on each chart: a
/// template error is a finding at the template's line; notes alone do not
/// fail the check.
#[test]
fn helm_lint_points_at_the_template() {
    let helm = windlass_testkit::Services::load().tools().helm;
    let project = Project::new();
    project.write(
        "charts/ml/Chart.yaml",
        "apiVersion: v2\nname: ml\nversion: 0.1.0\n",
    );
    project.write("charts/ml/values.yaml", "name: ml\n");
    project.write(
        "charts/ml/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ml\ndata:\n  name: {{ .Values.name | quote }}\n",
    );
    let run = project
        .check()
        .env("WINDLASS_HELM", &helm)
        .args(["--json", "--only", "helm-lint"])
        .run();
    assert_eq!(run.code, 0, "{run}");
    let results = checks(&run);
    assert_eq!(status_of(&results, "helm-lint"), "passed", "{run}");
    assert_eq!(
        results["helm-lint"]["findings"][0]["severity"], "note",
        "{run}"
    );

    project.write(
        "charts/ml/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ml\ndata:\n  name: {{ .Values.name | nosuchfn }}\n",
    );
    let run = project
        .check()
        .env("WINDLASS_HELM", &helm)
        .args(["--json", "--only", "helm-lint"])
        .run();
    assert_eq!(run.code, 1, "{run}");
    let results = checks(&run);
    let errors: Vec<&Value> = results["helm-lint"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{run}");
    assert_eq!(
        errors[0]["location"]["path"], "charts/ml/templates/cm.yaml",
        "{run}"
    );
    assert_eq!(errors[0]["location"]["line"], 6, "{run}");
}

/// A tool that cannot be installed (a version that does not exist) ends
/// the run with exit 3, naming the tool; a tool that is not there at all
/// too, with a hint.
#[test]
fn a_tool_that_cannot_be_installed_exits_3() {
    let project = Project::new();
    project.append("windlass.toml", "\n[check.tools]\nruff = \"0.0.0\"\n");
    let run = project.check().args(["--only", "ruff"]).run();
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stdout.contains("ruff==0.0.0"), "{run}");

    let run = project
        .check()
        .env("WINDLASS_HELM", project.path("no-such-helm"))
        .args(["--only", "helm-lint", "--json"])
        .run();
    // No chart: nothing to lint, nothing to install.
    assert_eq!(run.code, 0, "{run}");
    project.write(
        "chart/Chart.yaml",
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    );
    let run = project
        .check()
        .env("WINDLASS_HELM", project.path("no-such-helm"))
        .args(["--only", "helm-lint"])
        .run();
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stdout.contains("WINDLASS_HELM"), "{run}");
}

/// SIGINT while a check runs: the run ends with exit 130 after one
/// `interrupted` line, and the check's child does not outlive it.
#[test]
fn an_interrupted_run_stops_its_checks() {
    let project = Project::new();
    let fifo = project.dir.path().join("started");
    windlass_testkit::mkfifo(&fifo);
    project.append(
        "windlass.toml",
        &format!(
            "\n[check.slow]\ncommand = [\"sh\", \"-c\", \"echo $$ > '{}'; exec sleep 300\"]\n",
            fifo.display()
        ),
    );
    let running = project.check().args(["--only", "slow"]).spawn();
    let pid = windlass_testkit::within(Duration::from_secs(120), "the check to start", move || {
        std::fs::read_to_string(&fifo).unwrap()
    });
    let pid: u32 = pid.trim().parse().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    running.interrupt();
    let run = running.wait();
    assert_eq!(run.code, 130, "{run}");
    assert!(run.stderr.contains("interrupted"), "{run}");
    let gone = windlass_testkit::within(Duration::from_secs(30), "the child to end", move || {
        while Path::new(&format!("/proc/{pid}/stat")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z")
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    });
    assert!(gone);
}

/// The uv the tests use: `WINDLASS_TEST_UV`, else the one the test services
/// installed (panics when there is none).
fn test_uv() -> PathBuf {
    let path = std::env::var_os("WINDLASS_TEST_UV")
        .filter(|p| !p.is_empty())
        .map_or_else(
            || PathBuf::from(windlass_testkit::Services::load().var("WINDLASS_TEST_UV")),
            PathBuf::from,
        );
    assert!(
        path.is_file(),
        "no uv for the tests: {} does not exist\n\nhint: run `scripts/services.sh install`",
        path.display()
    );
    path
}

/// `installer = "uv"` from a cold cache, with only the variables the
/// suite passes: uv builds ruff's and the project's environments (trusting
/// the system's certificates as pip does) and every check passes.
#[test]
fn with_uv_the_example_passes_from_a_cold_cache() {
    let project = Project::new();
    project.append("windlass.toml", "\n[check]\ninstaller = \"uv\"\n");
    let cache = project.dir.path().join("cache");
    let run = project
        .check()
        .env("WINDLASS_CACHE_DIR", &cache)
        .env("UV_CACHE_DIR", project.dir.path().join("uv-cache"))
        .env("WINDLASS_UV", test_uv())
        .arg("--json")
        .run();
    assert_eq!(run.code, 0, "{run}");
    let results = checks(&run);
    for name in ["ruff", "ruff-format", "pytest"] {
        assert_eq!(status_of(&results, name), "passed", "{name}\n{run}");
    }
    let mut built_by = Vec::new();
    for kind in ["check/tools", "check/envs"] {
        for entry in std::fs::read_dir(cache.join(kind)).unwrap() {
            let path = entry.unwrap().path().join("windlass-env.json");
            if path.is_file() {
                let json: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                built_by.push(json["installer"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(built_by, ["uv", "uv"], "ruff's and the project's");
}
