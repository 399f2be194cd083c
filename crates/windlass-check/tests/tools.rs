//! Tool and project environments installed for real, with pip or uv from
//! the package index.
//!
//! Tests that only read share one cache under the target directory, so a
//! second run of the suite reuses what the first installed; tests that
//! need a cold cache (a rebuild, a race, a failure) make their own.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use windlass_check::tools::{
    Backend, InstallError, Installer, InstallerChoice, InstallerOptions, ProjectEnv,
    ProjectEnvRequest, ToolLock, ToolSpec, pinned, project_env, project_env_key,
};
use windlass_diagnostic::{Diagnostic, ExitStatus};
use windlass_process::{Cmd, Sink};
use windlass_testkit::{assert_no_leak, assert_no_leak_in_dir, canary};

/// The cache shared by the tests that may share it (kept between runs).
fn shared_cache() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| windlass_testkit::test_cache("check-tools"))
}

/// An installer that builds with pip.
fn installer(cache_dir: &Path) -> Installer {
    Installer::new(InstallerOptions {
        cache_dir: cache_dir.to_owned(),
        installer: InstallerChoice::Pip,
        ..InstallerOptions::default()
    })
}

/// The uv the tests use: `WINDLASS_TEST_UV`, else `uv` on `PATH`, else
/// the one the test services installed (panics when there is none).
#[expect(
    clippy::disallowed_methods,
    reason = "the test's own environment names the uv to test with"
)]
fn test_uv() -> PathBuf {
    if let Some(path) = std::env::var_os("WINDLASS_TEST_UV").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "WINDLASS_TEST_UV={} does not exist",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("uv"))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| {
        let services = windlass_testkit::Services::load();
        let path = PathBuf::from(services.var("WINDLASS_TEST_UV"));
        assert!(
            path.is_file(),
            "no uv for the tests: WINDLASS_TEST_UV={} does not exist\n\nhint: run `scripts/services.sh install`",
            path.display()
        );
        path
    })
}

/// An installer that builds with uv (`uv`: the program).
fn uv_installer(cache_dir: &Path, uv: PathBuf) -> Installer {
    Installer::new(InstallerOptions {
        cache_dir: cache_dir.to_owned(),
        installer: InstallerChoice::Uv,
        uv: Some(uv),
        ..InstallerOptions::default()
    })
}

/// The installer recorded in the environment's `windlass-env.json`.
fn built_by(env_dir: &Path) -> String {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env_dir.join("windlass-env.json")).unwrap()).unwrap();
    json["installer"].as_str().unwrap().to_owned()
}

/// A `python3` that appends its arguments to `log` before running.
fn recording_python(dir: &Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let log = dir.join("calls.log");
    let script = dir.join("python-wrapper");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" | head -n 1 >> '{}'\nexec python3 \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

/// A `python3` that runs with `assignment` in its environment.
fn python_with_env(dir: &Path, assignment: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join("python-with-env");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexport {assignment}\nexec python3 \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

async fn output_of(program: &Path, args: &[&str], cwd: &Path) -> (bool, String) {
    let outcome = Cmd::new(program, cwd)
        .args(args)
        .stdout(Sink::Capture)
        .stderr(Sink::Capture)
        .run()
        .await
        .unwrap();
    let mut text = String::from_utf8_lossy(outcome.stdout().unwrap_or_default()).into_owned();
    text.push_str(&String::from_utf8_lossy(
        outcome.stderr().unwrap_or_default(),
    ));
    (outcome.success(), text)
}

/// The error as a user sees it: message, causes, hint.
fn rendered(error: &InstallError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(text, "\ncaused by: {cause}");
        source = cause.source();
    }
    if let Some(hint) = error.hint() {
        let _ = write!(text, "\n\nhint: {hint}");
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn ruff_is_installed_then_reused_without_pip() {
    let scratch = tempfile::tempdir().unwrap();
    let ruff = pinned("ruff").unwrap();

    let first = installer(shared_cache()).ensure(&ruff).await.unwrap();
    assert_eq!(first.version, "0.17.6");
    assert!(first.bin.starts_with(shared_cache().join("check/tools")));
    assert!(first.env_dir.join("lock.json").is_file());
    let (ok, version) = output_of(&first.bin, &["--version"], scratch.path()).await;
    assert!(ok, "{version}");
    assert_eq!(version.trim(), "ruff 0.17.6");

    // Second ensure, with a Python that records how it is called: the
    // environment is reused and pip never runs.
    let (python, log) = recording_python(scratch.path());
    let again = Installer::new(InstallerOptions {
        cache_dir: shared_cache().to_owned(),
        python: Some(python),
        installer: InstallerChoice::Pip,
        ..InstallerOptions::default()
    });
    let second = again.ensure(&ruff).await.unwrap();
    assert!(!second.fresh);
    assert_eq!(second.env_dir, first.env_dir);
    assert_eq!(second.bin, first.bin);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(!calls.is_empty(), "the wrapper was not used");
    assert!(
        !calls.contains("-m pip"),
        "pip ran on a warm cache:\n{calls}"
    );
    assert!(
        !calls.contains("-m venv"),
        "a venv was made on a warm cache:\n{calls}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_hashes_match_the_installed_files() {
    let mypy = pinned("mypy").unwrap();
    let tool = installer(shared_cache()).ensure(&mypy).await.unwrap();
    assert_eq!(tool.version, "2.4.1");
    assert!(tool.unverified.is_empty(), "{:?}", tool.unverified);
    let lock: ToolLock =
        serde_json::from_str(&std::fs::read_to_string(tool.env_dir.join("lock.json")).unwrap())
            .unwrap();
    assert!(lock.files.len() > 1, "mypy has dependencies: {lock:?}");
    assert!(lock.files.iter().any(|f| f.name == "mypy" && f.requested));

    let installed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tool.env_dir.join("installed.json")).unwrap())
            .unwrap();
    let site = site_packages(&tool.env_dir);
    let mut dist_infos: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in std::fs::read_dir(&site).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".dist-info") {
            let (dist, _) = stem.rsplit_once('-').unwrap();
            dist_infos.insert(normalize(dist), path);
        }
    }
    assert_eq!(dist_infos.len(), lock.files.len(), "{dist_infos:?}");
    for file in &lock.files {
        let info = &dist_infos[&normalize(&file.name)];
        // The installer hashed the wheel it unpacked: the file locked.
        let sha = file.sha256.as_deref().unwrap();
        let package = installed["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["wheel"].as_str() == Some(file.file_name()))
            .unwrap_or_else(|| panic!("{} is not in installed.json", file.file_name()));
        assert_eq!(package["wheel_sha256"].as_str(), Some(sha), "{}", file.name);
        assert_eq!(package["version"].as_str(), Some(file.version.as_str()));
        // And every file it wrote matches its RECORD.
        let record = std::fs::read_to_string(info.join("RECORD")).unwrap();
        let mut checked = 0;
        for line in record.lines() {
            let mut fields = line.rsplitn(3, ',');
            let (_size, hash, path) = (fields.next(), fields.next(), fields.next());
            let (Some(hash), Some(path)) = (hash, path) else {
                continue;
            };
            let Some(expected) = hash.strip_prefix("sha256=") else {
                continue;
            };
            let bytes = std::fs::read(site.join(path)).unwrap();
            let actual =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&bytes));
            assert_eq!(actual, expected, "{path} of {}", file.name);
            checked += 1;
        }
        assert!(checked > 0, "{} has no hashed RECORD rows", file.name);
    }
}

fn site_packages(env_dir: &Path) -> PathBuf {
    let lib = env_dir.join("lib");
    let python = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("python")
        })
        .unwrap();
    python.join("site-packages")
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// One cold cache for both, to keep the suite short: two concurrent
/// ensures build one environment, then a half-built one is rebuilt.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_ensures_make_one_environment_and_a_half_built_one_is_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let ruff = pinned("ruff").unwrap();
    let (a, b) = (installer(cache.path()), installer(cache.path()));
    let (first, second) = tokio::join!(a.ensure(&ruff), b.ensure(&ruff));
    let (built, second) = (first.unwrap(), second.unwrap());
    assert_eq!(built.env_dir, second.env_dir);
    assert!(
        built.fresh != second.fresh,
        "exactly one builds: {built:?} {second:?}"
    );
    let envs: Vec<_> = std::fs::read_dir(cache.path().join("check/tools"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(envs, std::slice::from_ref(&built.env_dir));

    // What a killed build leaves: files, no completion marker.
    std::fs::remove_file(built.env_dir.join(".windlass-complete")).unwrap();
    std::fs::remove_file(&built.bin).unwrap();
    std::fs::write(built.env_dir.join("leftover"), b"half").unwrap();

    let rebuilt = installer(cache.path()).ensure(&ruff).await.unwrap();
    assert!(rebuilt.fresh);
    assert_eq!(rebuilt.env_dir, built.env_dir);
    assert!(!rebuilt.env_dir.join("leftover").exists());
    assert!(rebuilt.env_dir.join(".windlass-complete").is_file());
    let (ok, version) = output_of(&rebuilt.bin, &["--version"], cache.path()).await;
    assert!(ok, "{version}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_version_is_a_remote_failure_naming_the_tool() {
    let cache = tempfile::tempdir().unwrap();
    let spec = ToolSpec::new("ruff", "ruff==0.0.999999");
    let error = installer(cache.path()).ensure(&spec).await.unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Remote);
    let text = rendered(&error);
    assert!(text.contains("cannot install ruff"), "{text}");
    assert!(text.contains("ruff==0.0.999999"), "{text}");
    assert!(text.contains("No matching distribution"), "{text}");
    assert!(
        text.contains("hint: check that this version exists"),
        "{text}"
    );
    // Nothing half-made is left to be mistaken for an environment.
    assert_no_environment_left(cache.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn index_credentials_never_show() {
    let password = canary("check-index");
    let cache = tempfile::tempdir().unwrap();

    // A working index with credentials: the lock and the cache hold none.
    let mut url = default_index().await;
    url.set_username("user").unwrap();
    url.set_password(Some(&password)).unwrap();
    let with_auth = Installer::new(InstallerOptions {
        cache_dir: cache.path().to_owned(),
        python: None,
        index_url: Some(url.into()),
        installer: InstallerChoice::Pip,
        uv: None,
    });
    let tool = with_auth.ensure(&pinned("ruff").unwrap()).await.unwrap();
    assert_no_leak(format!("{tool:?}").as_bytes(), &password);

    // An index that cannot be reached: the error holds none either (pip
    // told to retry once only, to keep the test short).
    let url = url::Url::parse(&format!("http://user:{password}@127.0.0.1:9/simple/")).unwrap();
    let unreachable = Installer::new(InstallerOptions {
        cache_dir: cache.path().to_owned(),
        python: Some(python_with_env(cache.path(), "PIP_RETRIES=1")),
        index_url: Some(url.into()),
        installer: InstallerChoice::Pip,
        uv: None,
    });
    let error = unreachable
        .ensure(&ToolSpec::new("ruff", "ruff==0.17.5"))
        .await
        .unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Remote);
    let text = rendered(&error);
    assert!(text.contains("hint: check the network"), "{text}");
    assert_no_leak(text.as_bytes(), &password);
    assert_no_leak(format!("{error:?}").as_bytes(), &password);
    assert_no_leak_in_dir(cache.path(), &password);
}

/// The index pip uses when configured with none, as pip names it.
async fn default_index() -> url::Url {
    let (ok, text) = output_of(
        Path::new("python3"),
        &[
            "-c",
            "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
        ],
        &std::env::temp_dir(),
    )
    .await;
    assert!(ok, "{text}");
    url::Url::parse(&format!("{}/", text.trim().trim_end_matches('/'))).unwrap()
}

/// The example's pytest suite passes in `env` with the pinned pytest, and
/// imports the project from its working tree (an editable install).
async fn assert_runs_the_example_tests(env: &ProjectEnv, project: &Path) {
    let pytest = env.bin_dir.join("pytest");
    let (ok, output) = output_of(&pytest, &["-q", "-p", "no:cacheprovider"], project).await;
    assert!(ok, "{output}");
    assert!(output.contains("passed"), "{output}");
    let (_, version) = output_of(&pytest, &["--version"], project).await;
    assert!(version.contains("9.2.0"), "{version}");
    // Editable: the tests import the working tree, not a copy.
    let (ok, origin) = output_of(
        &env.python,
        &["-c", "import sentiment_lab; print(sentiment_lab.__file__)"],
        project,
    )
    .await;
    assert!(ok, "{origin}");
    assert!(
        Path::new(origin.trim()).starts_with(project.canonicalize().unwrap()),
        "{origin}"
    );
}

/// A copy of the example project at a path that stays the same between
/// runs (the path is part of the environment's key).
fn ml_project_copy(name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-project");
    let target = windlass_testkit::test_cache("check-projects").join(name);
    let _ = std::fs::remove_dir_all(&target);
    copy_dir(&source, &target);
    target
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_project_environment_runs_the_example_tests() {
    let project = ml_project_copy("ml-project-env");
    let installer = installer(shared_cache());
    let request = ProjectEnvRequest::default();
    let env = project_env(&installer, &project, &request).await.unwrap();
    assert_eq!(env.installed, ["extra:test"]);
    assert!(env.locks.is_empty());
    assert_eq!(env.key.len(), 64);
    assert!(env.env_dir.starts_with(shared_cache().join("check/envs")));

    assert_runs_the_example_tests(&env, &project).await;

    // Same inputs: reused, same key.
    let again = project_env(&installer, &project, &request).await.unwrap();
    assert!(!again.fresh);
    assert_eq!(again.key, env.key);

    // What would be installed changes: so does the key.
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        text.replace("test = [\"pytest>=7\"]", "test = [\"pytest>=8\"]"),
    )
    .unwrap();
    let changed = project_env_key(&installer, &project, &request)
        .await
        .unwrap();
    assert_ne!(changed, env.key);
    let other_pytest = ProjectEnvRequest {
        pytest: ToolSpec::new("pytest", "pytest==9.1.0"),
        ..ProjectEnvRequest::default()
    };
    std::fs::write(&pyproject, text).unwrap();
    let with_other_pytest = project_env_key(&installer, &project, &other_pytest)
        .await
        .unwrap();
    assert_ne!(with_other_pytest, env.key);
    assert_eq!(
        project_env_key(&installer, &project, &request)
            .await
            .unwrap(),
        env.key
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_extra_is_a_configuration_error() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\nversion = \"1\"\n",
    )
    .unwrap();
    let request = ProjectEnvRequest {
        extras: vec!["testing".into()],
        ..ProjectEnvRequest::default()
    };
    let error = project_env_key(&installer(shared_cache()), project.path(), &request)
        .await
        .unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    let text = rendered(&error);
    assert!(
        text.contains("pyproject.toml: the extra `testing`"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_with_a_hashed_requirements_file_installs_from_it() {
    let installer = installer(shared_cache());
    // A lock made from the pinned pytest's own resolution.
    let pytest = installer.ensure(&pinned("pytest").unwrap()).await.unwrap();
    let lock: ToolLock =
        serde_json::from_str(&std::fs::read_to_string(pytest.env_dir.join("lock.json")).unwrap())
            .unwrap();
    let mut requirements = String::new();
    for file in &lock.files {
        let sha = file.sha256.as_deref().unwrap();
        let _ = writeln!(
            requirements,
            "{}=={} --hash=sha256:{sha}",
            file.name, file.version
        );
    }
    let project = ml_project_copy("ml-project-locked");
    std::fs::write(project.join("requirements-test.txt"), requirements).unwrap();

    let request = ProjectEnvRequest::default();
    let env = project_env(&installer, &project, &request).await.unwrap();
    assert_eq!(
        env.locks,
        [project
            .canonicalize()
            .unwrap()
            .join("requirements-test.txt")]
    );
    let (ok, output) = output_of(
        &env.bin_dir.join("pytest"),
        &["-q", "-p", "no:cacheprovider"],
        &project,
    )
    .await;
    assert!(ok, "{output}");
    let (ok, freeze) = output_of(&env.python, &["-m", "pytest", "--version"], &project).await;
    assert!(ok && freeze.contains("9.2.0"), "{freeze}");

    // The lock is part of the key.
    let unlocked = ml_project_copy("ml-project-unlocked-key");
    let unlocked_key = project_env_key(&installer, &unlocked, &request)
        .await
        .unwrap();
    std::fs::copy(
        project.join("requirements-test.txt"),
        unlocked.join("requirements-test.txt"),
    )
    .unwrap();
    assert_ne!(
        project_env_key(&installer, &unlocked, &request)
            .await
            .unwrap(),
        unlocked_key
    );
}

/// A program that runs `program` with `assignments` in its environment.
fn program_with_env(dir: &Path, name: &str, program: &Path, assignments: &[String]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join(name);
    let mut exports = String::new();
    for assignment in assignments {
        let _ = writeln!(exports, "export {assignment}");
    }
    std::fs::write(
        &script,
        format!("#!/bin/sh\n{exports}exec '{}' \"$@\"\n", program.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Every file of the distribution whose `.dist-info` is `info` matches its
/// RECORD row; returns the rows checked.
fn assert_record_matches(site: &Path, info: &Path) -> usize {
    let record = std::fs::read_to_string(info.join("RECORD")).unwrap();
    let mut checked = 0;
    for line in record.lines() {
        let mut fields = line.rsplitn(3, ',');
        let (_size, hash, path) = (fields.next(), fields.next(), fields.next());
        let (Some(hash), Some(path)) = (hash, path) else {
            continue;
        };
        let Some(expected) = hash.strip_prefix("sha256=") else {
            continue;
        };
        let bytes = std::fs::read(site.join(path)).unwrap();
        let actual =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&bytes));
        assert_eq!(actual, expected, "{path} of {}", info.display());
        checked += 1;
    }
    checked
}

/// The sha256 of the file at `url`, fetched by Python, not by the installer.
async fn sha256_of_url(url: &str, cwd: &Path) -> String {
    let (ok, text) = output_of(
        Path::new("python3"),
        &[
            "-c",
            "import hashlib, sys, urllib.request\nprint(hashlib.sha256(urllib.request.urlopen(sys.argv[1]).read()).hexdigest())",
            url,
        ],
        cwd,
    )
    .await;
    assert!(ok, "{text}");
    text.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn uv_builds_tool_environments_whose_lock_hashes_match_the_installed_files() {
    let cache = tempfile::tempdir().unwrap();
    let installer = uv_installer(cache.path(), test_uv());
    assert!(
        matches!(installer.backend().await.unwrap(), Backend::Uv(_)),
        "uv was not taken"
    );

    let ruff = installer.ensure(&pinned("ruff").unwrap()).await.unwrap();
    assert!(ruff.fresh);
    assert_eq!(ruff.version, "0.17.6");
    assert_eq!(built_by(&ruff.env_dir), "uv");
    let (ok, version) = output_of(&ruff.bin, &["--version"], cache.path()).await;
    assert!(ok, "{version}");
    assert_eq!(version.trim(), "ruff 0.17.6");

    let mypy = installer.ensure(&pinned("mypy").unwrap()).await.unwrap();
    assert_eq!(mypy.version, "2.4.1");
    assert!(mypy.unverified.is_empty(), "{:?}", mypy.unverified);
    let lock: ToolLock =
        serde_json::from_str(&std::fs::read_to_string(mypy.env_dir.join("lock.json")).unwrap())
            .unwrap();
    assert!(lock.files.len() > 1, "mypy has dependencies: {lock:?}");
    assert!(lock.files.iter().any(|f| f.name == "mypy" && f.requested));
    assert!(
        lock.files
            .iter()
            .filter(|f| f.name != "mypy")
            .all(|f| !f.requested),
        "{lock:?}"
    );
    let site = site_packages(&mypy.env_dir);
    let mut dist_infos: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in std::fs::read_dir(&site).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".dist-info") {
            let (dist, version) = stem.rsplit_once('-').unwrap();
            dist_infos.insert(normalize(dist), path.clone());
            assert!(
                lock.files
                    .iter()
                    .any(|f| normalize(&f.name) == normalize(dist) && f.version == version),
                "{name} is installed but not locked"
            );
        }
    }
    assert_eq!(dist_infos.len(), lock.files.len(), "{dist_infos:?}");
    for file in &lock.files {
        // The file locked is a wheel, and its hash is the file's at the
        // index, fetched again here.
        assert!(
            Path::new(file.file_name())
                .extension()
                .is_some_and(|e| e == "whl"),
            "{}",
            file.file_name()
        );
        let sha = file.sha256.as_deref().unwrap();
        assert_eq!(
            sha256_of_url(&file.url, cache.path()).await,
            sha,
            "{}",
            file.url
        );
        let info = &dist_infos[&normalize(&file.name)];
        assert_eq!(
            std::fs::read_to_string(info.join("INSTALLER"))
                .unwrap()
                .trim(),
            "uv"
        );
        assert!(
            assert_record_matches(&site, info) > 0,
            "{} has no hashed RECORD rows",
            file.name
        );
    }

    // Warm: reused.
    let again = installer.ensure(&pinned("mypy").unwrap()).await.unwrap();
    assert!(!again.fresh);
    assert_eq!(again.env_dir, mypy.env_dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_built_by_pip_serves_uv_and_the_other_way_round() {
    let ruff = pinned("ruff").unwrap();
    let by_pip = installer(shared_cache()).ensure(&ruff).await.unwrap();
    let with_uv = uv_installer(shared_cache(), test_uv())
        .ensure(&ruff)
        .await
        .unwrap();
    assert!(!with_uv.fresh);
    assert_eq!(with_uv.env_dir, by_pip.env_dir);

    let cache = tempfile::tempdir().unwrap();
    let by_uv = uv_installer(cache.path(), test_uv())
        .ensure(&ruff)
        .await
        .unwrap();
    assert_eq!(built_by(&by_uv.env_dir), "uv");
    let with_pip = installer(cache.path()).ensure(&ruff).await.unwrap();
    assert!(!with_pip.fresh);
    assert_eq!(with_pip.env_dir, by_uv.env_dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn uv_builds_the_project_environment_that_runs_the_example_tests() {
    let cache = tempfile::tempdir().unwrap();
    let project = ml_project_copy("ml-project-uv");
    let installer = uv_installer(cache.path(), test_uv());
    let request = ProjectEnvRequest::default();
    let env = project_env(&installer, &project, &request).await.unwrap();
    assert!(env.fresh);
    assert_eq!(env.installed, ["extra:test"]);
    assert_eq!(built_by(&env.env_dir), "uv");
    // The same key as pip's: the same environment.
    assert_eq!(
        project_env_key(&self::installer(cache.path()), &project, &request)
            .await
            .unwrap(),
        env.key
    );

    assert_runs_the_example_tests(&env, &project).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uv_never_shows_index_credentials() {
    let password = canary("check-index-uv");
    let cache = tempfile::tempdir().unwrap();
    // uv's own cache inside the one searched for the canary.
    let uv = program_with_env(
        cache.path(),
        "uv-wrapper",
        &test_uv(),
        &[
            format!("UV_CACHE_DIR='{}'", cache.path().join("uv").display()),
            "UV_HTTP_RETRIES=0".to_owned(),
        ],
    );

    let mut url = default_index().await;
    url.set_username("user").unwrap();
    url.set_password(Some(&password)).unwrap();
    let with_auth = Installer::new(InstallerOptions {
        cache_dir: cache.path().to_owned(),
        index_url: Some(url.into()),
        installer: InstallerChoice::Uv,
        uv: Some(uv.clone()),
        ..InstallerOptions::default()
    });
    let tool = with_auth.ensure(&pinned("ruff").unwrap()).await.unwrap();
    assert_eq!(built_by(&tool.env_dir), "uv");
    assert_no_leak(format!("{tool:?}").as_bytes(), &password);

    let url = url::Url::parse(&format!("http://user:{password}@127.0.0.1:9/simple/")).unwrap();
    let unreachable = Installer::new(InstallerOptions {
        cache_dir: cache.path().to_owned(),
        index_url: Some(url.into()),
        installer: InstallerChoice::Uv,
        uv: Some(uv),
        ..InstallerOptions::default()
    });
    let error = unreachable
        .ensure(&ToolSpec::new("ruff", "ruff==0.17.5"))
        .await
        .unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Remote);
    let text = rendered(&error);
    assert!(text.contains("uv failed"), "{text}");
    assert!(text.contains("hint: check the network"), "{text}");
    assert_no_leak(text.as_bytes(), &password);
    assert_no_leak(format!("{error:?}").as_bytes(), &password);
    assert_no_leak_in_dir(cache.path(), &password);

    // The project environment too.
    let project = ml_project_copy("ml-project-uv-unreachable");
    let error = project_env(&unreachable, &project, &ProjectEnvRequest::default())
        .await
        .unwrap_err();
    let text = rendered(&error);
    assert!(text.contains("uv failed"), "{text}");
    assert_no_leak(text.as_bytes(), &password);
    assert_no_leak(format!("{error:?}").as_bytes(), &password);
    assert_no_leak_in_dir(cache.path(), &password);
}

#[tokio::test(flavor = "multi_thread")]
async fn uv_asked_for_but_missing_is_a_configuration_error_and_auto_falls_back_to_pip() {
    let cache = tempfile::tempdir().unwrap();
    let missing = cache.path().join("no-such-uv");
    let asked = Installer::new(InstallerOptions {
        cache_dir: cache.path().to_owned(),
        installer: InstallerChoice::Uv,
        uv: Some(missing.clone()),
        ..InstallerOptions::default()
    });
    let error = asked.backend().await.unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    let text = rendered(&error);
    assert!(text.contains("no usable uv"), "{text}");
    assert!(text.contains("installer = \"pip\""), "{text}");

    // Too old a uv: one that says it is 0.4.
    let old = program_with_env(cache.path(), "old-uv", Path::new("/bin/echo"), &[]);
    std::fs::write(
        &old,
        "#!/bin/sh\necho 'uv 0.4.30 (x86_64-unknown-linux-gnu)'\n",
    )
    .unwrap();
    let too_old = Installer::new(InstallerOptions {
        cache_dir: cache.path().to_owned(),
        installer: InstallerChoice::Uv,
        uv: Some(old.clone()),
        ..InstallerOptions::default()
    });
    let text = rendered(&too_old.backend().await.unwrap_err());
    assert!(text.contains("uv 0.4.30, older than"), "{text}");

    for uv in [missing, old] {
        let auto = Installer::new(InstallerOptions {
            cache_dir: cache.path().to_owned(),
            installer: InstallerChoice::Auto,
            uv: Some(uv),
            ..InstallerOptions::default()
        });
        assert_eq!(auto.backend().await.unwrap(), &Backend::Pip);
    }
    let auto = Installer::new(InstallerOptions {
        cache_dir: cache.path().to_owned(),
        installer: InstallerChoice::Auto,
        uv: Some(test_uv()),
        ..InstallerOptions::default()
    });
    assert!(matches!(auto.backend().await.unwrap(), Backend::Uv(_)));
}

/// A package with no wheel (docopt 0.6.2 is a source distribution only):
/// uv's resolution cannot be installed as locked wheels, so pip builds
/// the environment.
#[tokio::test(flavor = "multi_thread")]
async fn with_uv_a_package_without_a_wheel_is_installed_by_pip() {
    let cache = tempfile::tempdir().unwrap();
    let mut spec = pinned("ruff").unwrap();
    spec.extra.push("docopt==0.6.2".to_owned());
    let tool = uv_installer(cache.path(), test_uv())
        .ensure(&spec)
        .await
        .unwrap();
    assert_eq!(built_by(&tool.env_dir), "pip");
    let lock: ToolLock =
        serde_json::from_str(&std::fs::read_to_string(tool.env_dir.join("lock.json")).unwrap())
            .unwrap();
    let docopt = lock.files.iter().find(|f| f.name == "docopt").unwrap();
    assert!(
        docopt.file_name().ends_with(".tar.gz"),
        "{}",
        docopt.file_name()
    );
    let (ok, output) = output_of(
        &tool.env_dir.join("bin/python"),
        &["-c", "import docopt; print(docopt.__version__)"],
        cache.path(),
    )
    .await;
    assert!(ok && output.trim() == "0.6.2", "{output}");
    let (ok, version) = output_of(&tool.bin, &["--version"], cache.path()).await;
    assert!(ok, "{version}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_uv_an_unknown_version_is_a_remote_failure_naming_the_tool() {
    let cache = tempfile::tempdir().unwrap();
    let spec = ToolSpec::new("ruff", "ruff==0.0.999999");
    let error = uv_installer(cache.path(), test_uv())
        .ensure(&spec)
        .await
        .unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Remote);
    let text = rendered(&error);
    assert!(
        text.contains("cannot install ruff: uv failed on `ruff==0.0.999999`"),
        "{text}"
    );
    assert!(text.contains("No solution found"), "{text}");
    assert!(
        text.contains("hint: check that this version exists"),
        "{text}"
    );
    assert_no_environment_left(cache.path());
}

/// Nothing half-made is left in the cache to be mistaken for an
/// environment.
fn assert_no_environment_left(cache: &Path) {
    let left: Vec<_> = std::fs::read_dir(cache.join("check/tools"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
