//! The GitHub Action (`action.yml` and `action/`), its metadata and the
//! workflows in the docs checked against SchemaStore's schemas, and its
//! steps run by the test kit's harness as a runner would: installing the
//! built `windlass` from a local "release" (packed here, served through
//! `file://`, pinned in a test copy of `action/sha256sums`), refusing what is
//! not pinned or does not match, then running commands against the test
//! services, with secrets masked before any use.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "a test: it packs archives and reads results with the tools a release uses"
)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use windlass_testkit::Services;
use windlass_testkit::actions::{Action, ActionRun, Job, Outcome};

const VERSION: &str = "0.1.0";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_as_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schemastore")
        .join(name);
    let schema: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft7::new(&schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, doc: &Value, what: &Path) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{}:\n{}",
        what.display(),
        errors.join("\n")
    );
}

/// The Rust target the action picks for this machine's runner.
fn target() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => ("ARM64", "aarch64-unknown-linux-musl"),
        _ => ("X64", "x86_64-unknown-linux-musl"),
    }
}

/// A copy of the action (what the runner checks out under `_actions`), with
/// `sums` as its `action/sha256sums`.
fn action_copy(root: &Path, sums: &str) -> Action {
    let dir = root.join("_actions/example/windlass/v0");
    fs::create_dir_all(dir.join("action")).unwrap();
    let source = workspace_root();
    fs::copy(source.join("action.yml"), dir.join("action.yml")).unwrap();
    for script in ["install.sh", "run.sh"] {
        fs::copy(
            source.join("action").join(script),
            dir.join("action").join(script),
        )
        .unwrap();
    }
    fs::write(dir.join("action/sha256sums"), sums).unwrap();
    Action::load(&dir).unwrap()
}

/// Packs the built `windlass` as the release workflow does
/// (`windlass-VERSION-TARGET/windlass` in `windlass-VERSION-TARGET.tar.gz`)
/// under `root/releases/download/vVERSION/`; returns the download URL's
/// base, the archive and its sha256.
fn release(root: &Path) -> (String, PathBuf, String) {
    let (_, target) = target();
    let name = format!("windlass-{VERSION}-{target}");
    let stage = root.join("stage").join(&name);
    fs::create_dir_all(&stage).unwrap();
    fs::copy(
        assert_cmd::cargo::cargo_bin("windlass"),
        stage.join("windlass"),
    )
    .unwrap();
    let download = root.join("releases/download");
    let dir = download.join(format!("v{VERSION}"));
    fs::create_dir_all(&dir).unwrap();
    let archive = dir.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(root.join("stage"))
        .arg(&name)
        .status()
        .unwrap();
    assert!(status.success());
    (
        format!("file://{}", download.display()),
        archive.clone(),
        sha256(&archive),
    )
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// This process's `PATH` without any directory holding a `windlass`, so
/// that only the action's install can put one there.
fn path_without_windlass() -> String {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .filter(|dir| !dir.join("windlass").exists())
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

fn job(root: &Path) -> Job {
    let (arch, _) = target();
    let mut job = Job::new(&root.join("job")).unwrap();
    job.runner.insert("arch".to_owned(), arch.to_owned());
    job.path = path_without_windlass().into();
    job.env("NO_COLOR", "1")
}

fn pinned(sha: &str) -> String {
    let (_, target) = target();
    // An older pin too: the default version is the newest one.
    format!(
        "# test pins\n0.0.9 {target} {}\n{VERSION} {target} {sha}\n",
        "0".repeat(64)
    )
}

fn describe(run: &ActionRun) -> String {
    format!(
        "steps: {:?}\n--- log\n{}--- summary\n{}--- outputs\n{:?}",
        run.steps
            .iter()
            .map(|s| (&s.id, s.outcome, s.exit_code))
            .collect::<Vec<_>>(),
        run.log,
        run.summary,
        run.outputs
    )
}

/// Installs the action's release into a job, for the tests that run
/// commands.
fn installed(root: &Path) -> (Action, Job, String) {
    let (url, _, sha) = release(root);
    (action_copy(root, &pinned(&sha)), job(root), url)
}

#[test]
fn action_metadata_matches_the_schema() {
    let path = workspace_root().join("action.yml");
    let validator = schema("github-action.json");
    assert_valid(&validator, &yaml_as_json(&path), &path);
    let broken = serde_json::json!({"name": "x", "description": "x", "runs": {"using": "composite", "steps": [{"run": "true"}]}});
    assert!(!validator.is_valid(&broken), "a run step without a shell");
    let action = Action::load(&workspace_root()).unwrap();
    let inputs: BTreeSet<&str> = action.metadata.inputs.keys().map(String::as_str).collect();
    assert_eq!(
        inputs,
        BTreeSet::from([
            "command",
            "version",
            "install",
            "working-directory",
            "download-url"
        ])
    );
    let outputs: BTreeSet<&str> = action.metadata.outputs.keys().map(String::as_str).collect();
    assert_eq!(
        outputs,
        BTreeSet::from([
            "version",
            "manifest",
            "manifest-id",
            "bundle-id",
            "digest",
            "digests"
        ])
    );
    // The command reaches the script through `env:` only, never its text.
    for step in &action.metadata.runs.steps {
        assert!(!step.run.contains("${{"), "{step:?}");
    }
}

/// Every workflow in the docs and the repository's own: valid against the
/// workflow schema, and every use of the action passes only inputs
/// `action.yml` declares, `command` always.
#[test]
fn workflows_match_the_schema_and_use_only_declared_inputs() {
    let validator = schema("github-workflow.json");
    let action = Action::load(&workspace_root()).unwrap();
    let mut names = BTreeSet::new();
    let mut uses = 0;
    let mut scripts = Vec::new();
    for dir in ["docs/workflows", ".github/workflows"] {
        for entry in fs::read_dir(workspace_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yml") {
                continue;
            }
            names.insert(path.file_stem().unwrap().to_string_lossy().into_owned());
            let doc = yaml_as_json(&path);
            assert_valid(&validator, &doc, &path);
            for (job_name, job) in doc["jobs"].as_object().unwrap() {
                for step in job["steps"].as_array().into_iter().flatten() {
                    if let Some(script) = step["run"].as_str() {
                        // Expressions reach scripts through `env:` only.
                        assert!(
                            !script.contains("${{"),
                            "{}: {job_name}: an expression in a script",
                            path.display()
                        );
                        scripts
                            .push((format!("{}: {job_name}", path.display()), script.to_owned()));
                    }
                    let Some(action_ref) = step["uses"].as_str() else {
                        continue;
                    };
                    if !action_ref.contains("/windlass@") {
                        // Third-party actions are pinned by commit.
                        let reference = action_ref
                            .rsplit_once('@')
                            .map(|(_, r)| r)
                            .unwrap_or_default();
                        assert!(
                            reference.len() == 40
                                && reference.bytes().all(|b| b.is_ascii_hexdigit())
                                || action_ref.starts_with("actions/"),
                            "{}: {job_name}: `{action_ref}` is not pinned by commit",
                            path.display()
                        );
                        continue;
                    }
                    uses += 1;
                    let with = step["with"]
                        .as_object()
                        .unwrap_or_else(|| panic!("{}: {job_name}: no `with:`", path.display()));
                    assert!(
                        with.contains_key("command"),
                        "{}: {job_name}",
                        path.display()
                    );
                    for key in with.keys() {
                        assert!(
                            action.metadata.inputs.contains_key(key),
                            "{}: {job_name}: `{key}` is not an input of the action",
                            path.display()
                        );
                    }
                }
            }
        }
    }
    for expected in ["ci", "publish", "image", "cd", "release"] {
        assert!(names.contains(expected), "no {expected}.yml: {names:?}");
    }
    assert!(uses >= 4, "{uses} uses of the action");
    // actionlint is not available; shellcheck reads every script as the
    // runner's bash would run it.
    for (what, script) in &scripts {
        shellcheck(what, script);
    }
    // The schema does refuse what GitHub refuses.
    let broken =
        serde_json::json!({"on": "push", "jobs": {"x": {"runs-on": "ubuntu-latest", "stepz": []}}});
    assert!(!validator.is_valid(&broken));
}

fn shellcheck(what: &str, script: &str) {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    fs::write(
        tmp.path(),
        format!("#!/usr/bin/env bash\nset -eo pipefail\n{script}"),
    )
    .unwrap();
    let out = Command::new("shellcheck")
        .args(["--shell=bash", "--severity=style"])
        .arg(tmp.path())
        .output()
        .expect("shellcheck is installed with the test services (scripts/services.sh install)");
    assert!(
        out.status.success(),
        "{what}: shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_action_scripts_are_shellcheck_clean() {
    for script in ["install.sh", "run.sh"] {
        let path = workspace_root().join("action").join(script);
        shellcheck(script, &fs::read_to_string(path).unwrap());
    }
}

#[test]
fn installs_the_pinned_release_then_reuses_the_tool_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (url, _, sha) = release(root);
    let action = action_copy(root, &pinned(&sha));
    let job = job(root);
    let with = [("command", "--version"), ("download-url", url.as_str())];

    let first = action.run(&job, &with).unwrap();
    assert!(first.succeeded(), "{}", describe(&first));
    let (_, target) = target();
    let cached = job.tool_cache().join("windlass").join(VERSION).join(target);
    assert_eq!(
        first.path,
        [cached.display().to_string()],
        "{}",
        describe(&first)
    );
    assert!(
        first.log.contains("downloading file://"),
        "{}",
        describe(&first)
    );
    assert!(
        first.log.contains(&format!("sha256 {sha}")),
        "{}",
        describe(&first)
    );
    // The run step found it on PATH: the binary answered.
    assert!(first.log.contains("windlass 0.1.0"), "{}", describe(&first));

    // The release is gone: the second run needs nothing but the cache.
    fs::remove_dir_all(root.join("releases")).unwrap();
    let second = action.run(&job, &with).unwrap();
    assert!(second.succeeded(), "{}", describe(&second));
    assert!(
        second.log.contains("from the tool cache"),
        "{}",
        describe(&second)
    );
    assert!(!second.log.contains("downloading"), "{}", describe(&second));
    assert!(
        second.log.contains("windlass 0.1.0"),
        "{}",
        describe(&second)
    );
}

fn assert_refused(run: &ActionRun, job: &Job, message: &str) {
    assert_eq!(
        run.step("install").outcome,
        Outcome::Failure,
        "{}",
        describe(run)
    );
    assert_eq!(
        run.step("run").outcome,
        Outcome::Skipped,
        "{}",
        describe(run)
    );
    assert!(run.path.is_empty(), "{}", describe(run));
    assert!(
        !job.tool_cache().join("windlass").exists()
            || walk_has_windlass(&job.tool_cache().join("windlass")).is_none(),
        "a windlass binary in the tool cache"
    );
    let error = run
        .commands
        .iter()
        .find(|c| c.name == "error")
        .unwrap_or_else(|| panic!("no ::error::\n{}", describe(run)));
    assert!(error.message.contains(message), "{error:?}");
}

fn walk_has_windlass(dir: &Path) -> Option<PathBuf> {
    for entry in fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.file_name().is_some_and(|n| n == "windlass") && path.is_file() {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = walk_has_windlass(&path)
        {
            return Some(found);
        }
    }
    None
}

#[test]
fn a_tampered_archive_is_refused_and_nothing_reaches_path() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (url, archive, sha) = release(root);
    let action = action_copy(root, &pinned(&sha));
    let mut bytes = fs::read(&archive).unwrap();
    bytes.extend_from_slice(b"tampered");
    fs::write(&archive, bytes).unwrap();
    let job = job(root);
    let run = action
        .run(&job, &[("command", "--version"), ("download-url", &url)])
        .unwrap();
    assert_refused(&run, &job, "sha256 mismatch");
}

#[test]
fn a_version_without_a_pin_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (url, _, sha) = release(root);
    let action = action_copy(root, &pinned(&sha));
    let job = job(root);
    let run = action
        .run(
            &job,
            &[
                ("command", "--version"),
                ("download-url", &url),
                ("version", "v0.2.0"),
            ],
        )
        .unwrap();
    assert_refused(&run, &job, "no sha256 pinned for windlass 0.2.0");
    // And an action ref that pins nothing at all.
    let bare = action_copy(&root.join("bare"), "# no pins\n");
    let run = bare
        .run(&job, &[("command", "--version"), ("download-url", &url)])
        .unwrap();
    assert_refused(&run, &job, "pins no version");
}

/// The command input is data: whitespace splits it, nothing else is
/// interpreted, so shell syntax in it runs nothing.
#[test]
fn the_command_input_cannot_inject_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (action, job, url) = installed(root);
    let marker = job.workspace().join("pwned");
    for (command, first_word) in [
        ("$(touch pwned)", "$(touch"),
        ("`touch pwned`", "`touch"),
        ("\"; touch pwned; echo \"", "\";"),
        ("'; touch pwned; '", "';"),
        ("nope\n touch pwned", "nope"),
        ("${{ github.sha }} $HOME", "${{"),
    ] {
        let run = action
            .run(&job, &[("command", command), ("download-url", &url)])
            .unwrap();
        assert!(
            !marker.exists(),
            "`{command}` ran a command\n{}",
            describe(&run)
        );
        // windlass got the first word as written, as a tool name it does
        // not have (127).
        assert_eq!(
            run.step("run").exit_code,
            Some(127),
            "{command}\n{}",
            describe(&run)
        );
        assert!(
            run.log
                .contains(&format!("no such command: `{first_word}`")),
            "{command}\n{}",
            describe(&run)
        );
    }
    let run = action
        .run(&job, &[("command", "  \n "), ("download-url", &url)])
        .unwrap();
    assert_eq!(run.step("run").exit_code, Some(2), "{}", describe(&run));
    assert!(
        run.log.contains("the command input is empty"),
        "{}",
        describe(&run)
    );
}

/// A copy of the example project in the job's workspace, with the README's
/// broken import.
fn example_project(job: &Job) -> PathBuf {
    let project = job.workspace().join("sentiment-lab");
    let status = Command::new("cp")
        .arg("-r")
        .arg(workspace_root().join("examples/ml-project"))
        .arg(&project)
        .status()
        .unwrap();
    assert!(status.success());
    project
}

fn check_env(job: Job) -> Job {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    job.env(
        "WINDLASS_CACHE_DIR",
        target.join("check-tools-cache").display().to_string(),
    )
    .env(
        "PIP_CACHE_DIR",
        target.join("check-pip-cache").display().to_string(),
    )
}

#[test]
fn check_through_the_action_annotates_and_summarises() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (action, job, url) = installed(root);
    let job = check_env(job);
    let project = example_project(&job);
    let model = project.join("src/sentiment_lab/model.py");
    let text = fs::read_to_string(&model).unwrap();
    fs::write(&model, format!("import os\n{text}")).unwrap();
    let run = action
        .run(
            &job,
            &[
                ("command", "check"),
                ("working-directory", "sentiment-lab"),
                ("download-url", &url),
            ],
        )
        .unwrap();
    // The check ran and failed: exit 1, the step fails.
    assert_eq!(run.step("run").exit_code, Some(1), "{}", describe(&run));
    let annotation = run
        .commands
        .iter()
        .find(|c| {
            c.name == "error"
                && c.properties
                    .get("file")
                    .is_some_and(|f| f.ends_with("model.py"))
        })
        .unwrap_or_else(|| panic!("no annotation on model.py\n{}", describe(&run)));
    assert_eq!(annotation.properties["line"], "1", "{annotation:?}");
    assert!(run.summary.contains("ruff"), "{}", describe(&run));
}

/// A secret from an `env://` reference reaches the command through the
/// action and shows nowhere: the runner is told to mask it before anything
/// prints, and the log, outputs, summary and environment files never hold
/// it in any form.
#[test]
fn a_canary_secret_is_masked_before_use_and_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (action, job, url) = installed(root);
    let canary = windlass_testkit::canary("action");
    let job = check_env(job).env("WL_ACTION_TOKEN", canary.clone());
    let project = example_project(&job);
    let mut config = fs::read_to_string(project.join("windlass.toml")).unwrap();
    config.push_str(
        "\n[check.leak]\ncommand = [\"python3\", \"-c\", \"import os, sys; print('token', os.environ['TOKEN']); sys.exit(3)\"]\n\
         env = { TOKEN = \"env://WL_ACTION_TOKEN\" }\n",
    );
    fs::write(project.join("windlass.toml"), config).unwrap();
    let run = action
        .run(
            &job,
            &[
                ("command", "check --only leak -v"),
                ("working-directory", "sentiment-lab"),
                ("download-url", &url),
            ],
        )
        .unwrap();
    assert_eq!(run.step("run").exit_code, Some(1), "{}", describe(&run));
    let mask = run
        .masks
        .iter()
        .find(|m| m.value == canary)
        .unwrap_or_else(|| panic!("the canary was never masked\n{}", describe(&run)));
    assert!(!mask.seen_before, "the canary was shown before its mask");
    windlass_testkit::assert_no_leak(run.everything_but_masks().as_bytes(), &canary);
    // It reached the check, which printed it: masked where it was printed.
    assert!(run.log.contains("token ****"), "{}", describe(&run));
}

/// `image push` through the action to the basic-auth registry, its password
/// from an `env://` reference: `digest` is the action's output, skopeo
/// reads the same digest, and the password is masked before use and shown
/// nowhere.
#[test]
fn an_image_push_sets_the_digest_output() {
    let services = Services::load();
    let registries = services.registries();
    let base = services.python_base();
    let skopeo = services.tools().skopeo;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (action, job, url) = installed(root);
    let password = registries.password.expose().clone();
    let job = job.env("REG_PASSWORD", password.clone());
    let project = job.workspace().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("windlass.toml"),
        format!(
            "[image.registries.\"{}\"]\nusername = \"{}\"\npassword = \"env://REG_PASSWORD\"\n",
            registries.auth, registries.user
        ),
    )
    .unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let destination = format!("{}/action-test-{nanos:x}:pushed", registries.auth);
    let command = format!(
        "image push oci:{}:{} {destination}",
        base.layout.display(),
        base.tag
    );
    let run = action
        .run(
            &job,
            &[
                ("command", &command),
                ("working-directory", "project"),
                ("download-url", &url),
            ],
        )
        .unwrap();
    assert!(run.succeeded(), "{}", describe(&run));
    let digest = &run.outputs["digest"];
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{}",
        describe(&run)
    );
    assert_eq!(
        run.step_outputs["run"]["reference"],
        format!("{}@{digest}", destination.rsplit_once(':').unwrap().0),
    );
    let inspect = Command::new(&skopeo)
        .args(["inspect", "--tls-verify=false", "--creds"])
        .arg(format!("{}:{password}", registries.user))
        .arg(format!("docker://{destination}"))
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let inspected: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(inspected["Digest"].as_str(), Some(digest.as_str()));

    let mask = run.masks.iter().find(|m| m.value == password);
    assert!(mask.is_some_and(|m| !m.seen_before), "{}", describe(&run));
    windlass_testkit::assert_no_leak(run.everything_but_masks().as_bytes(), &password);
}

/// `install: cargo` runs `cargo install --locked` on the action's own
/// source into the runner's temp directory and puts its `bin` on PATH (a
/// stand-in `cargo` records the call and installs the built binary).
#[test]
fn install_cargo_builds_the_actions_source() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let action = action_copy(root, "# no pins: cargo needs none\n");
    let fake = root.join("fake-bin");
    fs::create_dir_all(&fake).unwrap();
    let log = root.join("cargo-args");
    fs::write(
        fake.join("cargo"),
        format!(
            "#!/usr/bin/env bash\nset -eu\nprintf '%s\\n' \"$@\" > '{log}'\nroot=${{@: -1}}\nmkdir -p \"$root/bin\"\ncp '{bin}' \"$root/bin/windlass\"\n",
            log = log.display(),
            bin = assert_cmd::cargo::cargo_bin("windlass").display()
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(fake.join("cargo"))
        .status()
        .unwrap();
    let mut job = job(root);
    job.path = format!("{}:{}", fake.display(), path_without_windlass()).into();
    let run = action
        .run(&job, &[("command", "--version"), ("install", "cargo")])
        .unwrap();
    assert!(run.succeeded(), "{}", describe(&run));
    let installed_to = job.root.join("temp/windlass-cargo");
    let args = fs::read_to_string(&log).unwrap();
    assert_eq!(
        args,
        format!(
            "install\n--locked\n--path\n{}/crates/windlass\n--root\n{}\n",
            action.dir.display(),
            installed_to.display()
        )
    );
    assert_eq!(run.path, [installed_to.join("bin").display().to_string()]);
    assert!(run.log.contains("windlass 0.1.0"), "{}", describe(&run));
    // Anything else is refused before anything is installed.
    let run = action
        .run(&job, &[("command", "--version"), ("install", "brew")])
        .unwrap();
    assert_refused(&run, &job, "install must be `release` or `cargo`");
}

/// Without `download-url`, the archive comes from this action's
/// repository's releases on the GitHub server; when the runner leaves
/// `github.action_repository` empty, the repository is read from the
/// action's path (`_actions/OWNER/REPO/REF`). Offline here: the proxy
/// refuses, and the error names the URL.
#[test]
fn the_default_download_url_is_the_actions_releases() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let action = action_copy(root, &pinned(&"1".repeat(64)));
    let (_, target) = target();
    let expected = format!(
        "cannot download https://github.com/example/windlass/releases/download/v{VERSION}/windlass-{VERSION}-{target}.tar.gz"
    );
    for repository in ["example/windlass", ""] {
        let job = job(root)
            .github("action_repository", repository)
            .env("https_proxy", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9");
        let run = action.run(&job, &[("command", "--version")]).unwrap();
        assert_refused(&run, &job, &expected);
    }
}

/// `release run --local` through the action, on copies of the examples in a
/// git repository: the action's outputs are the manifest's (`version`,
/// `manifest`, `manifest-id`, `digests`), the manifest holds the image
/// digest of `digests`, and the job summary shows the release.
#[test]
fn a_local_release_sets_the_manifest_outputs() {
    let services = Services::load();
    let base = services.python_base();
    let tools = services.tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (action, job, url) = installed(root);
    let repo = job.workspace().join("repo");
    fs::create_dir_all(&repo).unwrap();
    for example in ["ml-job", "ml-project"] {
        let status = Command::new("cp")
            .arg("-r")
            .arg(workspace_root().join("examples").join(example))
            .arg(&repo)
            .status()
            .unwrap();
        assert!(status.success());
    }
    fs::write(repo.join(".gitignore"), "dist/\n").unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "example"],
    ] {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.invalid",
            ])
            .args(args)
            .current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
    let job = job.env("WINDLASS_HELM", tools.helm.display().to_string());
    let command = format!(
        "release run --local --base oci:{}:{}",
        base.layout.display(),
        base.tag
    );
    let run = action
        .run(
            &job,
            &[
                ("command", &command),
                ("working-directory", "repo/ml-job"),
                ("download-url", &url),
            ],
        )
        .unwrap();
    assert!(run.succeeded(), "{}", describe(&run));

    let manifest_path = repo.join("ml-job").join(&run.outputs["manifest"]);
    let manifest: Value = serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(run.outputs["version"], "0.4.0", "{}", describe(&run));
    assert_eq!(manifest["version"], "0.4.0");
    assert_eq!(
        manifest["id"].as_str(),
        Some(run.outputs["manifest-id"].as_str())
    );
    let digests: Value = serde_json::from_str(&run.outputs["digests"]).unwrap();
    let image = &manifest["images"][0];
    assert_eq!(image["name"], "job");
    assert_eq!(digests["job"], image["digest"], "{}", describe(&run));
    assert!(
        run.summary
            .contains(&image["digest"].as_str().unwrap()[7..19]),
        "{}",
        describe(&run)
    );
}
