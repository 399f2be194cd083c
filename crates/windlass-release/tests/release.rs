//! `windlass-release` end to end: the real binary on a copy of the
//! examples (`examples/ml-job` releasing `examples/ml-project`'s wheel),
//! in a git repository of its own.
//!
//! - `--local`: the static index, the OCI layout and the manifest are made;
//!   pip installs from the index, `skopeo inspect` reads the layout, the
//!   manifest's hashes are the files'; a re-run skips every publish and
//!   gives the same manifest id.
//! - Against the servers (a pypiserver of the test's own, the open
//!   registry, the Kubernetes API server): `plan` publishes nothing, `run`
//!   puts the wheel on the index, the image in the registry and the bundle
//!   in dev; a canary as the index password and as a deploy secret value
//!   appears in no output, file or GitHub Actions file.
//! - A broken Containerfile stops the run after the wheels: no tag, no
//!   deploy; the run after the fix finishes and skips the wheels.
//! - A tag naming another version is exit 2.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test fails loudly on the first surprise"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs git, pip, skopeo and helm as a user would"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, StockPypiserver, assert_no_leak, assert_no_leak_in_dir, canary};

const BIN: &str = env!("CARGO_BIN_EXE_windlass-release");

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "dist" || entry.file_name() == ".venv" {
                continue;
            }
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The examples copied into a git repository (`ml-job` beside
/// `ml-project`), `ml-job/windlass.toml` replaced by `toml`.
struct Example {
    dir: tempfile::TempDir,
    services: Services,
}

impl Example {
    fn new(toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let root = workspace_root();
        copy_dir(&root.join("examples/ml-job"), &repo.join("ml-job"));
        copy_dir(&root.join("examples/ml-project"), &repo.join("ml-project"));
        std::fs::write(repo.join("ml-job/windlass.toml"), toml).unwrap();
        std::fs::write(repo.join(".gitignore"), "dist/\n").unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "example"]);
        Self {
            dir,
            services: Services::load(),
        }
    }

    fn job(&self) -> PathBuf {
        self.dir.path().join("repo/ml-job")
    }

    fn base(&self) -> String {
        let base = self.services.python_base();
        format!("oci:{}:{}", base.layout.display(), base.tag)
    }

    fn cli(&self) -> Cli {
        let tools = self.services.tools();
        Cli::new(BIN, self.dir.path())
            .current_dir(self.job())
            .env("WINDLASS_HELM", &tools.helm)
            .env("USER", "tester")
            .timeout(Duration::from_secs(600))
    }
}

fn expect(cli: Cli, args: &[&str], code: i32) -> Run {
    let run = cli.args(args).run();
    assert_eq!(
        run.code, code,
        "{args:?}:\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run
}

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn tool(program: &Path, args: &[&str]) -> std::process::Output {
    Command::new(program).args(args).output().unwrap()
}

const LOCAL_TOML: &str = r#"
[deploy]
chart = "chart"
release = "ml-job"

[deploy.images.job]
repository = "localhost:5000/ml-job"
values-key = "image"

[deploy.environments.dev]
namespace = "ml-dev"

[deploy.environments.staging]
from = "dev"
namespace = "ml-staging"
set = { "backoffLimit" = 2 }

[release]
wheels = ["../ml-project"]

[release.images.job]
containerfile = "Containerfile"
context = "."
tags = ["{version}", "latest"]
"#;

#[test]
fn local_release_makes_an_index_and_a_layout() {
    let example = Example::new(LOCAL_TOML);
    let base = example.base();
    let plan = expect(example.cli(), &["--json", "plan", "--local"], 0);
    let steps = plan.json()["data"]["steps"].clone();
    assert!(
        steps
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "will-run"),
        "{steps:#}"
    );
    assert!(!example.job().join("dist/release/local").exists());

    let run = expect(
        example.cli(),
        &["--json", "run", "--local", "--base", &base],
        0,
    );
    let data = run.json()["data"].clone();
    let local = example.job().join("dist/release/local");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(local.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest, data["manifest"]);
    assert_eq!(manifest["version"], "0.4.0");
    assert_eq!(manifest["source"]["tag"], Value::Null);
    assert_eq!(manifest["source"]["commit"].as_str().unwrap().len(), 40);

    // The manifest's hashes are the files' on the index.
    let distributions = manifest["distributions"].as_array().unwrap();
    assert_eq!(distributions.len(), 2);
    for dist in distributions {
        assert_eq!(dist["index"], "index/simple/");
        let file = local
            .join("index/simple/sentiment-lab")
            .join(dist["filename"].as_str().unwrap());
        assert_eq!(sha256_file(&file), dist["sha256"].as_str().unwrap());
    }

    // pip installs from the index.
    let venv = example.dir.path().join("venv");
    let tools = example.services.tools();
    let made = tool(
        &tools.python,
        &["-m", "venv", "--without-pip", venv.to_str().unwrap()],
    );
    assert!(made.status.success());
    let index = url_of(&local.join("index/simple"));
    let pip = tool(
        &tools.python,
        &[
            "-m",
            "pip",
            "--python",
            venv.join("bin/python").to_str().unwrap(),
            "install",
            "--no-deps",
            "--index-url",
            &index,
            "sentiment-lab==0.4.0",
        ],
    );
    assert!(
        pip.status.success(),
        "{}",
        String::from_utf8_lossy(&pip.stderr)
    );

    // skopeo reads the layout at both tags, at the manifest's digest.
    let image = &manifest["images"][0];
    assert_eq!(image["repository"], "oci:images/job");
    assert_eq!(image["tags"], serde_json::json!(["0.4.0", "latest"]));
    for tag in ["0.4.0", "latest"] {
        let inspect = tool(
            &tools.skopeo,
            &[
                "inspect",
                &format!("oci:{}:{tag}", local.join("images/job").display()),
            ],
        );
        assert!(
            inspect.status.success(),
            "{}",
            String::from_utf8_lossy(&inspect.stderr)
        );
        let inspected: Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert_eq!(inspected["Digest"], image["digest"]);
    }

    // The GitOps tree: dev and staging, one bundle, the image by digest.
    let bundle = manifest["deploy"]["bundle"].as_str().unwrap();
    let environments = manifest["environments"].as_array().unwrap();
    assert_eq!(environments.len(), 2, "{manifest:#}");
    for (record, env) in environments.iter().zip(["dev", "staging"]) {
        assert_eq!(record["name"], env);
        assert_eq!(record["bundle"], bundle);
        assert_eq!(record["target"]["dir"], format!("gitops/{env}"));
        let yaml =
            std::fs::read_to_string(local.join("gitops").join(env).join("manifests.yaml")).unwrap();
        assert!(
            yaml.contains(image["digest"].as_str().unwrap()),
            "{env}: {yaml}"
        );
    }

    // verify walks every link, the attached manifest in the layout too.
    let verified = expect(
        example.cli(),
        &["--json", "verify", "dist/release/local/manifest.json"],
        0,
    );
    let links = verified.json()["data"]["links"].clone();
    assert!(links.as_array().unwrap().len() >= 4, "{links:#}");
    let steps = data["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["kind"] == "attach" && s["status"] == "done"),
        "{steps:#?}"
    );

    // Again: every file skipped, the same manifest.
    let again = expect(
        example.cli(),
        &["--json", "run", "--local", "--base", &base],
        0,
    );
    let again = again.json()["data"].clone();
    assert_eq!(again["manifest"]["id"], manifest["id"]);
    let publishes: Vec<&Value> = again["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "publish")
        .collect();
    assert_eq!(publishes.len(), 2);
    assert!(publishes.iter().all(|s| s["status"] == "skip"), "{again:#}");
    // Only the builds run again; every target is already there.
    for step in again["steps"].as_array().unwrap() {
        let kind = step["kind"].as_str().unwrap();
        let expected = if matches!(kind, "build" | "image" | "bundle") {
            "done"
        } else {
            "skip"
        };
        assert_eq!(step["status"], expected, "{step:#}");
    }
}

fn url_of(dir: &Path) -> String {
    format!("file://{}/", dir.display())
}

/// The example against a pypiserver of the test's own, the open registry
/// and a fresh namespace for dev.
struct Servers {
    example: Example,
    pypi: StockPypiserver,
    repository: String,
    namespace: String,
}

impl Servers {
    fn new(name: &str, containerfile: Option<&str>) -> Self {
        let services = Services::load();
        let packages = tempfile::tempdir().unwrap().keep();
        let pypi = StockPypiserver::start(&services, &packages, None);
        let kube = services.kube();
        let namespace = kube.fresh_namespace(&format!("release-{name}"));
        let registry = services.registries().open;
        let repository = format!("{registry}/release-test/{name}-{}", std::process::id());
        let toml = format!(
            r#"
[deploy]
chart = "chart"
release = "ml-job"
timeout = "90s"

[deploy.images.job]
repository = "{repository}"
values-key = "image"

[deploy.environments.dev]
kubeconfig = "{kubeconfig}"
context = "{context}"
namespace = "{namespace}"
secret-values = {{ apiToken = "env://JOB_API_TOKEN" }}

[deploy.environments.staging]
from = "dev"
kubeconfig = "{kubeconfig}"
context = "{context}"
namespace = "{namespace}-staging"

[release]
wheels = ["../ml-project"]
repository = "{index}"

[release.images.job]
tags = ["{{version}}"]
"#,
            kubeconfig = kube.kubeconfig.display(),
            context = kube.context,
            index = pypi.url(),
        );
        let example = Example::new(&toml);
        if let Some(text) = containerfile {
            std::fs::write(example.job().join("Containerfile"), text).unwrap();
        }
        Self {
            example,
            pypi,
            repository,
            namespace,
        }
    }

    /// `program` behind a script that appends each argv to `argv.log` in
    /// the test's directory (searched for the canaries with the rest).
    fn logging(&self, name: &str, program: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = self.example.dir.path();
        let wrapper = dir.join(format!("{name}-logging"));
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                dir.join("argv.log").display(),
                program.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        wrapper
    }

    fn cli(&self, index_password: &str, value: &str) -> Cli {
        let github = self.example.dir.path().join("github");
        std::fs::create_dir_all(&github).unwrap();
        let tools = self.example.services.tools();
        let helm = self.logging("helm", &tools.helm);
        let python = self.logging("python", &tools.python);
        self.example
            .cli()
            .env("WINDLASS_HELM", helm)
            .env("WINDLASS_PYTHON", python)
            .env("TWINE_USERNAME", "ci")
            .env("TWINE_PASSWORD", index_password)
            .env("JOB_API_TOKEN", value)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", github.join("output"))
            .env("GITHUB_STEP_SUMMARY", github.join("summary"))
    }

    fn tag_exists(&self, tag: &str) -> bool {
        let tools = self.example.services.tools();
        tool(
            &tools.skopeo,
            &[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{}:{tag}", self.repository),
            ],
        )
        .status
        .success()
    }

    /// Helm's values of the release in dev, when there is one.
    fn helm_values(&self) -> Option<Value> {
        let kube = self.example.services.kube();
        let output = tool(
            &kube.helm,
            &[
                "--kubeconfig",
                kube.kubeconfig.to_str().unwrap(),
                "--kube-context",
                &kube.context,
                "-n",
                &self.namespace,
                "get",
                "values",
                "ml-job",
                "-o",
                "json",
            ],
        );
        output
            .status
            .success()
            .then(|| serde_json::from_slice(&output.stdout).unwrap())
    }
}

#[test]
fn release_to_the_servers_publishes_pushes_and_deploys() {
    let servers = Servers::new("servers", None);
    let password = canary("release-index-password");
    let value = canary("release-deploy-value");
    let base = servers.example.services.python_base().registry_ref;

    let plan = expect(
        servers.cli(&password, &value),
        &["--json", "plan", "--base", &base],
        0,
    );
    plan.assert_no_leak_outside_masks(&password);
    let data = plan.json()["data"].clone();
    let kinds: Vec<&str> = data["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "build", "build", "publish", "publish", "image", "push", "bundle", "deploy"
        ]
    );
    let index = format!("{}simple/", servers.pypi.url());
    assert_eq!(data["steps"][2]["target"], index.as_str());
    assert!(
        data["steps"][2]["details"]
            .as_array()
            .unwrap()
            .contains(&Value::from("credentials: TWINE_USERNAME/TWINE_PASSWORD")),
        "{data:#}"
    );
    // The registry's credential source is named, as the index's is.
    assert_eq!(data["steps"][5]["kind"], "push");
    assert!(
        data["steps"][5]["details"]
            .as_array()
            .unwrap()
            .contains(&Value::from(
                "credentials: none (the registry asks for none)"
            )),
        "{data:#}"
    );
    assert!(!servers.tag_exists("0.4.0"), "plan pushed nothing");

    let run = expect(
        servers.cli(&password, &value),
        &["--json", "run", "--base", &base],
        0,
    );
    let manifest = run.json()["data"]["manifest"].clone();
    // The wheel is on the index with the manifest's hash.
    let page = tool(
        Path::new("curl"),
        &["-fsS", &format!("{index}sentiment-lab/")],
    );
    let page = String::from_utf8_lossy(&page.stdout).into_owned();
    for dist in manifest["distributions"].as_array().unwrap() {
        assert!(
            page.contains(&format!(
                "{}#sha256={}",
                dist["filename"].as_str().unwrap(),
                dist["sha256"].as_str().unwrap()
            )),
            "{page}"
        );
    }
    // The image is in the registry at the manifest's digest.
    let tools = servers.example.services.tools();
    let inspect = tool(
        &tools.skopeo,
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}:0.4.0", servers.repository),
        ],
    );
    assert!(inspect.status.success());
    let inspected: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(inspected["Digest"], manifest["images"][0]["digest"]);
    // dev runs the bundle, with that image.
    let values = servers.helm_values().unwrap();
    assert_eq!(values["image"]["digest"], manifest["images"][0]["digest"]);
    let dev = &manifest["environments"][0];
    assert_eq!(dev["name"], "dev");
    assert_eq!(dev["bundle"], manifest["deploy"]["bundle"]);
    assert_eq!(dev["target"]["namespace"], servers.namespace.as_str());

    // The step outputs.
    let github = servers.example.dir.path().join("github");
    let outputs = std::fs::read_to_string(github.join("output")).unwrap();
    assert!(outputs.contains("version"), "{outputs}");
    assert!(
        outputs.contains(manifest["id"].as_str().unwrap()),
        "{outputs}"
    );

    // verify: every link holds.
    let kube = servers.example.services.kube();
    let verified = expect(
        servers.cli(&password, &value),
        &[
            "verify",
            "--kubeconfig",
            kube.kubeconfig.to_str().unwrap(),
            "dist/release/manifest.json",
        ],
        0,
    );
    verified.assert_no_leak_outside_masks(&password);

    // A re-run: everything skipped, the same manifest.
    let again = expect(
        servers.cli(&password, &value),
        &["--json", "run", "--base", &base],
        0,
    );
    let again = again.json()["data"].clone();
    assert_eq!(again["manifest"]["id"], manifest["id"]);
    let statuses: Vec<(&str, &str)> = again["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("build", "done"),
            ("build", "done"),
            ("publish", "skip"),
            ("publish", "skip"),
            ("image", "done"),
            ("push", "skip"),
            ("bundle", "done"),
            ("deploy", "skip"),
            ("attach", "skip"),
        ]
    );
    assert_eq!(again["manifest"]["environments"], manifest["environments"]);

    // The children ran (their argv logged), never with a secret in argv.
    let argv = std::fs::read_to_string(servers.example.dir.path().join("argv.log")).unwrap();
    assert!(argv.contains("upgrade"), "helm ran: {argv}");
    assert!(argv.contains("pip"), "pip ran: {argv}");
    for secret in [&password, &value] {
        // In GitHub Actions each is masked (`::add-mask::`) before use, and
        // shown nowhere else.
        plan.assert_no_leak_outside_masks(secret);
        run.assert_masked_only(secret);
        assert_no_leak_in_dir(servers.example.dir.path(), secret);
        assert_no_leak(page.as_bytes(), secret);
    }
}

#[test]
fn a_failed_image_build_pushes_nothing_and_deploys_nothing() {
    let fixed =
        std::fs::read_to_string(workspace_root().join("examples/ml-job/Containerfile")).unwrap();
    let broken = fixed.replace(
        "RUN mkdir /job/",
        "RUN mkdir /job/\nRUN curl -o /job/data https://example.invalid/data",
    );
    let servers = Servers::new("broken", Some(&broken));
    let password = canary("release-broken-password");
    let base = servers.example.services.python_base().registry_ref;

    let run = expect(
        servers.cli(&password, "plain"),
        &["--json", "run", "--base", &base],
        2,
    );
    let result = run.json();
    assert!(
        result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the image `job` was not built"),
        "{result:#}"
    );
    // Each step as it finished: the wheels published, the image failed,
    // nothing after it.
    let events: Vec<(String, String)> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|doc| doc["type"] == "event")
        .map(|doc| {
            (
                doc["data"]["kind"].as_str().unwrap().to_owned(),
                doc["data"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let events: Vec<(&str, &str)> = events
        .iter()
        .map(|(k, s)| (k.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("build", "done"),
            ("build", "done"),
            ("publish", "done"),
            ("publish", "done"),
            ("image", "failed"),
        ]
    );
    assert!(!servers.tag_exists("0.4.0"));
    assert!(servers.helm_values().is_none(), "nothing deployed");
    assert!(
        !servers
            .example
            .job()
            .join("dist/release/manifest.json")
            .exists()
    );

    std::fs::write(servers.example.job().join("Containerfile"), fixed).unwrap();
    let run = expect(
        servers.cli(&password, "plain"),
        &["--json", "run", "--base", &base],
        0,
    );
    let data = run.json()["data"].clone();
    let publishes: Vec<&Value> = data["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "publish")
        .collect();
    assert!(publishes.iter().all(|s| s["status"] == "skip"), "{data:#}");
    assert!(servers.tag_exists("0.4.0"));
    assert!(servers.helm_values().is_some());
    run.assert_masked_only(&password);
}

#[test]
fn a_tag_naming_another_version_is_a_usage_error() {
    let example = Example::new(LOCAL_TOML);
    git(&example.dir.path().join("repo"), &["tag", "v0.5.0"]);
    let run = expect(example.cli(), &["plan", "--local"], 2);
    assert!(
        run.stderr
            .contains("HEAD is tagged `v0.5.0` but the project's version is 0.4.0"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn a_python_project_alone_releases_its_wheel() {
    let example = Example::new(LOCAL_TOML);
    let project = example.dir.path().join("repo/ml-project");
    let run = example
        .cli()
        .current_dir(&project)
        .args(["--json", "run", "--local"])
        .run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let data = run.json()["data"].clone();
    let kinds: Vec<&str> = data["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["build", "build", "publish", "publish"]);
    assert_eq!(data["manifest"]["images"], serde_json::json!([]));
    assert_eq!(data["manifest"]["deploy"], Value::Null);
    assert!(
        project
            .join("dist/release/local/index/simple/sentiment-lab/index.html")
            .is_file()
    );
}
