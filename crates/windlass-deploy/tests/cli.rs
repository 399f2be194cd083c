//! `windlass-deploy` end to end: the real binary, the real Helm 4 and the
//! loopback Kubernetes API server (`Services::kube`), a fresh namespace per
//! environment and test.
//!
//! - `up` to dev then `promote` to staging: one bundle id, the image digest
//!   in Helm's values, both ledgers with the whole promotion; a canary
//!   secret in `secret-values` never in any output, the ledger records or
//!   the files left behind.
//! - An approval gate holds prod until `deploy approve`.
//! - A failed verification rolls back to the last succeeded revision, and
//!   the ledger and Helm's history say so.
//! - A held lease stops a second promotion of the same environment.
//! - A run killed (SIGKILL) after `Upgraded` is shown by `status` and
//!   recovered by the next command.
//! - The caller's `HELM_*` variables never redirect Helm.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Kube, Services, assert_no_leak, assert_no_leak_in_dir, canary};

const BIN: &str = env!("CARGO_BIN_EXE_windlass-deploy");

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn test_chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts/app")
}

/// A project with `dev -> staging -> prod`, each in a fresh namespace;
/// `extra` is appended to `windlass.toml`'s environment tables by name.
struct Project {
    dir: tempfile::TempDir,
    kube: Kube,
    namespaces: Vec<(String, String)>,
    /// The `helm` Windlass runs: the real one, or a wrapper logging argv.
    helm: PathBuf,
}

impl Project {
    fn new(prefix: &str, envs: &[(&str, &str)]) -> Self {
        let kube = Services::load().kube();
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        let mut toml = format!(
            r#"[deploy]
chart = "{chart}"
release = "app"
timeout = "90s"

[deploy.images.app]
repository = "registry.test/app"
values-key = "image"
"#,
            chart = test_chart().display()
        );
        let mut namespaces = Vec::new();
        for (name, extra) in envs {
            let namespace = kube.fresh_namespace(&format!("{prefix}-{name}"));
            let _ = write!(
                toml,
                r#"
[deploy.environments.{name}]
kubeconfig = "{kubeconfig}"
context = "{context}"
namespace = "{namespace}"
{extra}
"#,
                kubeconfig = kube.kubeconfig.display(),
                context = kube.context,
            );
            namespaces.push(((*name).to_owned(), namespace));
        }
        std::fs::write(project.join("windlass.toml"), toml).unwrap();
        let helm = kube.helm.clone();
        Self {
            dir,
            kube,
            namespaces,
            helm,
        }
    }

    /// Runs Helm through a wrapper that appends each argv to `helm-argv.log`
    /// (in the test's directory); returns the log's path.
    fn log_helm_argv(&mut self) -> PathBuf {
        let log = self.dir.path().join("helm-argv.log");
        self.wrap_helm(&format!(
            "printf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"",
            log.display(),
            self.kube.helm.display()
        ));
        log
    }

    /// Runs Helm through a shell script with `body` (`$HELM` is the real
    /// one); `unwrap_helm` goes back to the real one.
    fn wrap_helm(&mut self, body: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let wrapper = self.dir.path().join("helm");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nHELM='{}'\n{body}\n", self.kube.helm.display()),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        self.helm = wrapper;
    }

    fn unwrap_helm(&mut self) {
        self.helm = self.kube.helm.clone();
    }

    /// After a killed run of `up ENV`: drops its lease as an expiry would,
    /// then `up ENV` with `digest` must resume the unfinished promotion
    /// and leave nothing unfinished; its `--json` data.
    fn up_resuming(&self, env: &str, digest: &str) -> Value {
        self.kube.kubectl(&[
            "delete",
            "lease",
            "-n",
            self.namespace(env),
            &format!("windlass-deploy.{env}"),
        ]);
        let next = self.json(&["up", env, "--image", &image(digest)], 0);
        assert_eq!(next["recovered"]["action"], "resumed", "{next}");
        assert_eq!(next["result"], "succeeded");
        let status = self.json(&["status", env], 0);
        assert!(
            status["environments"][0]["unfinished"].is_null(),
            "{status}"
        );
        next
    }

    fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    fn namespace(&self, env: &str) -> &str {
        &self
            .namespaces
            .iter()
            .find(|(name, _)| name == env)
            .unwrap()
            .1
    }

    fn cli(&self) -> Cli {
        Cli::new(BIN, self.dir.path())
            .current_dir(self.project())
            .env("WINDLASS_HELM", &self.helm)
            .env("USER", "tester")
            .timeout(Duration::from_secs(300))
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cli().args(args).run()
    }

    /// `--json` data of a command that must exit `code`.
    fn json(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        assert_eq!(
            run.code, code,
            "{args:?}:\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        run.json()["data"].clone()
    }

    fn helm_values(&self, env: &str) -> Value {
        let run = Cli::new(&self.kube.helm, self.dir.path())
            .args([
                "--kubeconfig",
                self.kube.kubeconfig.to_str().unwrap(),
                "--kube-context",
                &self.kube.context,
                "-n",
                self.namespace(env),
                "get",
                "values",
                "app",
                "-o",
                "json",
            ])
            .run();
        assert_eq!(run.code, 0, "{}", run.stderr);
        serde_json::from_str(&run.stdout).unwrap()
    }

    /// The ledger records of `env` as stored (the Secrets' JSON, base64
    /// and all).
    fn ledger_secrets(&self, env: &str) -> String {
        self.kube.kubectl(&[
            "get",
            "secrets",
            "-n",
            self.namespace(env),
            "-l",
            "owner=windlass",
            "-o",
            "json",
        ])
    }

    fn events(&self, env: &str) -> Vec<String> {
        let history = self.json(&["history", env], 0);
        history["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"]["kind"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn image(digest: &str) -> String {
    format!("app=registry.test/app@{digest}")
}

#[test]
fn up_then_promote_deploys_one_bundle_and_never_shows_the_secret() {
    let secret = canary("deploy-secret-value");
    let mut project = Project::new(
        "cli-promote",
        &[
            ("dev", ""),
            (
                "staging",
                "from = \"dev\"\nsecret-values = { \"secret.token\" = \"env://APP_TOKEN\" }\nset = { \"replicaCount\" = 2 }",
            ),
        ],
    );
    let argv_log = project.log_helm_argv();
    let mut outputs = String::new();
    let run = project
        .cli()
        .args(["up", "dev", "--image", &image(DIGEST_A)])
        .run();
    outputs.push_str(&run.stdout);
    outputs.push_str(&run.stderr);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let up = project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);
    assert_eq!(up["result"], "succeeded");
    let bundle = up["bundle"].as_str().unwrap().to_owned();

    let run = project
        .cli()
        .env("APP_TOKEN", &secret)
        .args(["--json", "promote", "dev", "staging"])
        .run();
    outputs.push_str(&run.stdout);
    outputs.push_str(&run.stderr);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let promoted = run.json()["data"].clone();
    assert_eq!(
        promoted["bundle"], bundle,
        "promote deploys the same bundle"
    );
    assert_eq!(promoted["from"], "dev");
    assert_eq!(promoted["result"], "succeeded");

    // Helm's values carry the digest and the environment's own values.
    let values = project.helm_values("staging");
    assert_eq!(
        values["image"]["reference"],
        format!("registry.test/app@{DIGEST_A}")
    );
    assert_eq!(values["image"]["digest"], DIGEST_A);
    assert_eq!(values["replicaCount"], 2);
    assert_eq!(
        values["secret"]["token"], secret,
        "the secret value reached Helm (through a private file)"
    );

    // The ledger as `--json` shows it, times, digests and paths filtered.
    let history = project.json(&["history", "staging"], 0);
    let chart = test_chart().display().to_string();
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"sha256:[0-9a-f]{64}", "[DIGEST]"),
        (r"\b[0-9a-f]{12}\b", "[SHORT]"),
        (r"\d+ ms", "[N] ms"),
        (chart.as_str(), "[CHART]"),
    ]}, {
        insta::assert_snapshot!("history_json", serde_json::to_string_pretty(&history).unwrap());
    });

    // Both ledgers hold the promotion from start to end; with no checks to
    // run after Helm, its revision and the rollout are in `succeeded`.
    assert_eq!(project.events("staging"), ["started", "succeeded"]);
    let succeeded = &history["entries"][1]["event"];
    assert_eq!(succeeded["revision"], 1, "{succeeded}");
    assert_eq!(succeeded["checks"][0]["gate"], "rollout", "{succeeded}");
    let dev_events = project.events("dev");
    assert_eq!(dev_events.first().map(String::as_str), Some("started"));
    assert_eq!(dev_events.last().map(String::as_str), Some("succeeded"));

    // Status and diff agree.
    let status = project.json(&["status"], 0);
    let envs = status["environments"].as_array().unwrap();
    assert!(
        envs.iter()
            .all(|e| e["bundle"] == bundle && e["drift"].is_null())
    );
    let diff = project.json(&["diff", "dev", "staging"], 0);
    assert_eq!(diff["from-bundle"], diff["to-bundle"]);

    for args in [
        vec!["status"],
        vec!["history", "staging"],
        vec!["diff", "dev", "staging"],
        vec!["--json", "history", "staging"],
    ] {
        let run = project.cli().env("APP_TOKEN", &secret).args(&args).run();
        outputs.push_str(&run.stdout);
        outputs.push_str(&run.stderr);
    }
    assert_no_leak(outputs.as_bytes(), &secret);
    assert_no_leak(project.ledger_secrets("staging").as_bytes(), &secret);
    let argv = std::fs::read_to_string(&argv_log).unwrap();
    assert!(argv.contains("upgrade app"), "{argv}");
    assert_no_leak(argv.as_bytes(), &secret);
    assert_no_leak_in_dir(project.dir.path(), &secret);
    assert_no_leak(project.kube.token.expose().as_bytes(), &secret);
    assert_no_leak(outputs.as_bytes(), project.kube.token.expose());
}

#[test]
fn approval_holds_prod_until_approved() {
    let project = Project::new(
        "cli-approve",
        &[
            ("dev", ""),
            ("prod", "from = \"dev\"\ngates = { approval = true }"),
        ],
    );
    let up = project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);
    let bundle = up["bundle"].as_str().unwrap().to_owned();
    let short = &bundle["sha256:".len().."sha256:".len() + 12];

    let refused = project.json(&["promote", "dev", "prod"], 1);
    assert_eq!(refused["result"], "failed");
    assert_eq!(refused["gates"][0]["gate"], "approval");
    assert_eq!(refused["gates"][0]["passed"], false);
    assert_eq!(refused["revision"], Value::Null, "nothing was deployed");
    assert_eq!(project.events("prod"), ["started", "gate", "failed"]);

    let approved = project.json(
        &[
            "approve",
            "prod",
            short,
            "--reason",
            "release 1",
            "--by",
            "alice",
        ],
        0,
    );
    assert_eq!(approved["bundle"], bundle);
    assert_eq!(approved["by"], "alice");

    let promoted = project.json(&["promote", "dev", "prod"], 0);
    assert_eq!(promoted["result"], "succeeded");
    assert_eq!(promoted["gates"][0]["passed"], true);
    assert!(
        promoted["gates"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("alice")
    );

    // The ledger for people.
    let history = project.run(&["history", "prod"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"\b[0-9a-f]{12}\b", "[ID]"),
        (r"\d+ ms", "[N] ms"),
    ]}, {
        insta::assert_snapshot!("history_human", format!("{}--- stderr\n{}", history.stdout, history.stderr));
    });

    // A bundle unknown to the `from` environment cannot be approved.
    let run = project.run(&["approve", "prod", "0123456789abc"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no bundle"), "{}", run.stderr);
}

#[test]
fn a_failed_verification_rolls_back_to_the_last_good_revision() {
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("fail");
    let project = Project::new(
        "cli-verify",
        &[(
            "dev",
            &format!(
                "gates = {{ verify = [{{ name = \"smoke\", command = [\"sh\", \"-c\", \"test ! -e '{}'\"], timeout = \"2s\" }}] }}",
                marker.display()
            ),
        )],
    );
    let first = project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);
    assert_eq!(first["revision"], 1);

    std::fs::write(&marker, "").unwrap();
    let second = project.json(&["up", "dev", "--image", &image(DIGEST_B)], 1);
    assert_eq!(second["result"], "failed");
    assert_eq!(
        second["rolled-back-to"], 3,
        "revision 3 is revision 1 again"
    );
    assert!(
        second["reason"].as_str().unwrap().contains("smoke"),
        "{second}"
    );
    let values = project.helm_values("dev");
    assert_eq!(values["image"]["digest"], DIGEST_A);
    let events = project.events("dev");
    assert_eq!(
        &events[events.len() - 3..],
        ["gate", "rolled-back", "failed"],
        "{events:?}"
    );

    // The rolled-back bundle is not deployed again unless asked.
    std::fs::remove_file(&marker).unwrap();
    let run = project.run(&["up", "dev", "--image", &image(DIGEST_B)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("--allow-rolled-back"), "{}", run.stderr);
    let status = project.json(&["status", "dev"], 0);
    assert_eq!(status["environments"][0]["drift"], Value::Null, "{status}");
    assert_eq!(status["environments"][0]["bundle"], first["bundle"]);
}

#[test]
fn a_held_lease_stops_a_second_promotion() {
    let project = Project::new("cli-lease", &[("dev", "")]);
    let lease = format!(
        r#"{{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
"metadata":{{"name":"windlass-deploy.dev","labels":{{"owner":"windlass"}}}},
"spec":{{"holderIdentity":"bob on ci-7 (pid 42)","leaseDurationSeconds":600,
"acquireTime":"{t}","renewTime":"{t}","leaseTransitions":0}}}}"#,
        t = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    );
    project.kube.apply(project.namespace("dev"), &lease);
    let run = project.run(&["up", "dev", "--image", &image(DIGEST_A)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("bob on ci-7"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(project.events("dev").is_empty(), "nothing recorded");
}

#[test]
fn a_killed_promotion_is_shown_and_recovered() {
    let marker_dir = tempfile::tempdir().unwrap();
    let block = marker_dir.path().join("block");
    let reached = marker_dir.path().join("reached");
    let project = Project::new(
        "cli-kill",
        &[(
            "dev",
            &format!(
                "gates = {{ verify = [{{ name = \"hang\", command = [\"sh\", \"-c\", \"if [ -e '{b}' ]; then touch '{r}'; sleep 600; fi\"], timeout = \"900s\" }}] }}",
                b = block.display(),
                r = reached.display()
            ),
        )],
    );
    project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);

    std::fs::write(&block, "").unwrap();
    let running = project
        .cli()
        .args(["up", "dev", "--image", &image(DIGEST_B)])
        .spawn();
    let mut waited = 0;
    while !reached.exists() {
        std::thread::sleep(Duration::from_millis(200));
        waited += 1;
        assert!(waited < 900, "the verification never started");
    }
    running.signal(9);
    let killed = running.wait();
    assert_eq!(killed.signal, Some(9), "killed by SIGKILL");
    std::fs::remove_file(&block).unwrap();

    let status = project.json(&["status", "dev"], 0);
    let unfinished = &status["environments"][0]["unfinished"];
    assert!(unfinished.is_object(), "{status}");
    assert!(
        unfinished["last"].as_str().unwrap().starts_with("upgraded"),
        "{status}"
    );

    // The killed run's lease stays until it expires; a takeover after
    // expiry is the lease's own test.
    project.up_resuming("dev", DIGEST_B);
}

/// With no checks after Helm, `started` is the only record before the
/// end: a run killed right after Helm's upgrade leaves just that, and
/// recovery finds the bundle deployed from Helm's own record.
#[test]
fn a_run_killed_right_after_helm_is_resumed_from_helms_record() {
    let mut project = Project::new("cli-kill-helm", &[("dev", "")]);
    project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);

    // Helm upgrades, then its caller is killed before it writes anything.
    project.wrap_helm(
        r#""$HELM" "$@"; status=$?
case "$*" in *upgrade*) [ $status -eq 0 ] && kill -9 $PPID ;; esac
exit $status"#,
    );
    let killed = project.run(&["up", "dev", "--image", &image(DIGEST_B)]);
    assert_eq!(killed.signal, Some(9), "{}", killed.stderr);
    project.unwrap_helm();
    assert_eq!(
        project.events("dev"),
        ["started", "succeeded", "started"],
        "nothing after `started`"
    );
    let status = project.json(&["status", "dev"], 0);
    let unfinished = &status["environments"][0]["unfinished"];
    assert!(
        unfinished["last"].as_str().unwrap().starts_with("started"),
        "{status}"
    );
    assert_eq!(project.helm_values("dev")["image"]["digest"], DIGEST_B);

    let next = project.up_resuming("dev", DIGEST_B);
    assert_eq!(next["recovered"]["revision"], 2, "{next}");
}

/// The end of a promotion is written as its lease is released: a run that
/// took the lease in between and closed the promotion first (its recovery
/// found it open) has the last word, and no second end is written.
#[test]
fn an_end_written_by_another_run_first_is_not_written_twice() {
    let mut project = Project::new("cli-end-race", &[("dev", "")]);
    let namespace = project.namespace("dev").to_owned();
    // After Helm's upgrade, "another run" appends the promotion's end.
    project.wrap_helm(&format!(
        r#"out=$("$HELM" "$@") || {{ status=$?; printf '%s' "$out"; exit $status; }}
printf '%s' "$out"
case "$*" in *upgrade*) ;; *) exit 0 ;; esac
k() {{ '{kubectl}' --kubeconfig '{kubeconfig}' --context '{context}' -n '{namespace}' "$@"; }}
last=$(k get secrets -l owner=windlass -o json | jq '[.items[].metadata.labels["windlass.dev/seq"] | tonumber] | max')
started=$(k get secret "windlass.ledger.dev.v$last" -o json | jq -r '.data["entry.json"]' | base64 -d)
seq=$((last + 1))
entry=$(printf '%s' "$started" | jq -c --argjson seq "$seq" --argjson revision "$(printf '%s' "$out" | jq .version)"   '{{seq: $seq, environment: "dev", time: (now | todate), actor: "other-run", promotion: .promotion, bundle: .bundle, event: {{kind: "succeeded", revision: $revision}}}}')
jq -n --arg name "windlass.ledger.dev.v$seq" --arg seq "$seq" --arg data "$(printf '%s' "$entry" | base64 -w0)"   '{{apiVersion: "v1", kind: "Secret", type: "windlass.dev/ledger.v1", immutable: true,
    metadata: {{name: $name, labels: {{owner: "windlass", "windlass.dev/environment": "dev", "windlass.dev/seq": $seq}}}},
    data: {{"entry.json": $data}}}}' | k create -f - >/dev/null"#,
        kubectl = project.kube.kubectl.display(),
        kubeconfig = project.kube.kubeconfig.display(),
        context = project.kube.context,
    ));
    let up = project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);
    assert_eq!(up["result"], "succeeded", "{up}");
    project.unwrap_helm();
    let history = project.json(&["history", "dev"], 0);
    let entries = history["entries"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["event"]["kind"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("started", "tester"), ("succeeded", "other-run")],
        "one end, the first one written"
    );
    // The environment is settled: the next promotion starts at once.
    let next = project.json(&["up", "dev", "--image", &image(DIGEST_B)], 0);
    assert!(next["recovered"].is_null(), "{next}");
    assert_eq!(next["promotion"], 3, "{next}");
}

#[test]
fn the_example_project_makes_a_bundle() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-job");
    let dir = tempfile::tempdir().unwrap();
    let run = Cli::new(BIN, dir.path())
        .current_dir(&example)
        .env("WINDLASS_HELM", Services::load().var("WINDLASS_TEST_HELM"))
        .args([
            "--json",
            "up",
            "dev",
            "--dry-run",
            "--image",
            &format!("job=localhost:5000/ml-job@{DIGEST_A}"),
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let data = &run.json()["data"];
    assert_eq!(data["result"], "dry-run");
    assert_eq!(data["release"], "ml-job");
    assert_eq!(data["content"]["chart"]["name"], "ml-job");
    assert_eq!(
        data["content"]["images"]["job"]["digest"], DIGEST_A,
        "{data}"
    );
}

/// The selector of Service `name` in `env`'s namespace.
fn service_selector(project: &Project, env: &str, name: &str) -> Value {
    let text = project.kube.kubectl(&[
        "get",
        "service",
        name,
        "-n",
        project.namespace(env),
        "-o",
        "json",
    ]);
    let service: Value = serde_json::from_str(&text).unwrap();
    service["spec"]["selector"].clone()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "three promotions in order, each checked in the cluster and the ledger"
)]
fn blue_green_switches_the_service_and_switches_back_when_the_live_check_fails() {
    let marker_dir = tempfile::tempdir().unwrap();
    let fail = marker_dir.path().join("fail");
    let seen = marker_dir.path().join("seen");
    let secret = canary("bluegreen-secret-value");
    // With `fail` present, the check passes once (the idle colour, before
    // the switch) and fails from then on (through the live Service).
    let project = Project::new(
        "cli-bluegreen",
        &[(
            "dev",
            &format!(
                "strategy = {{ kind = \"blue-green\" }}\nsecret-values = {{ \"secret.token\" = \"env://APP_TOKEN\" }}\ngates = {{ verify = [{{ name = \"smoke\", command = [\"sh\", \"-c\", \"if [ -e '{f}' ]; then if [ -e '{s}' ]; then exit 1; fi; touch '{s}'; fi\"], timeout = \"2s\" }}] }}",
                f = fail.display(),
                s = seen.display()
            ),
        )],
    );
    let instance = "app.kubernetes.io/instance";
    let mut outputs = String::new();
    // `--json` data of `args`, which must exit `code`; both streams kept.
    let mut json = |args: &[&str], code: i32| -> Value {
        let run = project
            .cli()
            .env("APP_TOKEN", &secret)
            .arg("--json")
            .args(args)
            .run();
        outputs.push_str(&run.stdout);
        outputs.push_str(&run.stderr);
        assert_eq!(run.code, code, "{args:?}: {}\n{}", run.stderr, run.stdout);
        run.json()["data"].clone()
    };

    let first = json(&["up", "dev", "--image", &image(DIGEST_A)], 0);
    assert_eq!(first["result"], "succeeded", "{first}");
    assert_eq!(first["strategy"], "blue-green");
    assert_eq!(first["live-release"], "app-blue");
    assert_eq!(
        service_selector(&project, "dev", "app")[instance],
        "app-blue"
    );

    let second = json(&["up", "dev", "--image", &image(DIGEST_B)], 0);
    assert_eq!(second["result"], "succeeded", "{second}");
    assert_eq!(second["live-release"], "app-green");
    assert_eq!(
        service_selector(&project, "dev", "app")[instance],
        "app-green",
        "the second promotion switched the Service"
    );
    let gates: Vec<&str> = second["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["gate"].as_str().unwrap())
        .collect();
    assert!(gates.contains(&"idle: verify: smoke"), "{gates:?}");
    assert!(gates.contains(&"switch: verify: smoke"), "{gates:?}");
    let status = project.json(&["status", "dev"], 0);
    let env = &status["environments"][0];
    assert_eq!(env["release"], "app-green", "{status}");
    assert_eq!(env["bundle"], second["bundle"]);
    assert_eq!(env["drift"], Value::Null, "{status}");
    let run = project.run(&["status", "dev"]);
    assert!(run.stdout.contains("app-green"), "{}", run.stdout);

    // A third bundle passes on the idle colour, then fails live: the
    // Service goes back to green, the ledger and the exit code say so.
    std::fs::write(&fail, "").unwrap();
    let digest_c = format!("sha256:{}", "c".repeat(64));
    let third = json(&["up", "dev", "--image", &image(&digest_c)], 1);
    assert_eq!(third["result"], "failed", "{third}");
    assert_eq!(third["live-release"], "app-green", "{third}");
    assert!(third["rolled-back-to"].is_u64(), "{third}");
    assert!(
        third["reason"].as_str().unwrap().contains("smoke"),
        "{third}"
    );
    assert_eq!(
        service_selector(&project, "dev", "app")[instance],
        "app-green",
        "switched back"
    );
    let events = project.events("dev");
    assert_eq!(
        &events[events.len() - 2..],
        ["rolled-back", "failed"],
        "{events:?}"
    );
    let history = project.json(&["history", "dev"], 0);
    let rolled_back = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["event"]["kind"] == "rolled-back")
        .unwrap();
    assert_eq!(rolled_back["bundle"], third["bundle"]);
    // The ledger record keeps its field names as stored (`to_bundle`).
    assert_eq!(
        rolled_back["event"]["to_bundle"], second["bundle"],
        "{rolled_back}"
    );
    let status = project.json(&["status", "dev"], 0);
    assert_eq!(status["environments"][0]["release"], "app-green");
    assert_eq!(status["environments"][0]["bundle"], second["bundle"]);

    // The measures count that verification rollback as a change failure.
    let board = project.dir.path().join("board.html");
    let metrics = json(&["metrics", "--html", board.to_str().unwrap()], 0);
    assert_eq!(
        metrics["change-failure-rate"]["deployments"], 3,
        "{metrics}"
    );
    assert_eq!(metrics["change-failure-rate"]["failed"], 1, "{metrics}");

    // `deploy rollback` goes back to the first bundle through the
    // strategy: installed on the idle colour, then the switch.
    std::fs::remove_file(&fail).unwrap();
    let back = json(&["rollback", "dev"], 0);
    assert_eq!(back["result"], "succeeded", "{back}");
    assert_eq!(back["bundle"], first["bundle"]);
    assert_eq!(back["live-release"], "app-blue", "{back}");
    assert_eq!(
        service_selector(&project, "dev", "app")[instance],
        "app-blue"
    );
    // The bundle it left counts as rolled back; the rollback itself not.
    let metrics = json(&["metrics"], 0);
    assert_eq!(
        metrics["change-failure-rate"]["deployments"], 4,
        "{metrics}"
    );
    assert_eq!(metrics["change-failure-rate"]["failed"], 2, "{metrics}");
    assert_eq!(
        project.json(&["status", "dev"], 0)["environments"][0]["release"],
        "app-blue"
    );
    assert_no_leak(outputs.as_bytes(), &secret);
    assert_no_leak(project.ledger_secrets("dev").as_bytes(), &secret);
    assert_no_leak(std::fs::read(&board).unwrap().as_slice(), &secret);
    assert_no_leak_in_dir(project.dir.path(), &secret);
}

/// A blue/green promotion killed after the Service switched, during the
/// checks through it: the next command finds the `Switch` record, puts
/// the Service back on the colour that was live, and closes the
/// promotion as failed, before its own promotion starts from there.
#[test]
fn a_blue_green_run_killed_after_the_switch_is_switched_back_next() {
    let marker_dir = tempfile::tempdir().unwrap();
    let block = marker_dir.path().join("block");
    let seen = marker_dir.path().join("seen");
    let reached = marker_dir.path().join("reached");
    // With `block` present, the check passes once (the idle colour, before
    // the switch) and hangs from then on (through the live Service).
    let project = Project::new(
        "cli-bgkill",
        &[(
            "dev",
            &format!(
                "strategy = {{ kind = \"blue-green\" }}\ngates = {{ verify = [{{ name = \"hang\", command = [\"sh\", \"-c\", \"if [ -e '{b}' ]; then if [ -e '{s}' ]; then touch '{r}'; sleep 600; fi; touch '{s}'; fi\"], timeout = \"900s\" }}] }}",
                b = block.display(),
                s = seen.display(),
                r = reached.display()
            ),
        )],
    );
    let instance = "app.kubernetes.io/instance";
    let first = project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);
    assert_eq!(first["live-release"], "app-blue", "{first}");

    std::fs::write(&block, "").unwrap();
    let running = project
        .cli()
        .args(["up", "dev", "--image", &image(DIGEST_B)])
        .spawn();
    let mut waited = 0;
    while !reached.exists() {
        std::thread::sleep(Duration::from_millis(200));
        waited += 1;
        assert!(waited < 900, "the live check never started");
    }
    running.signal(9);
    let killed = running.wait();
    assert_eq!(killed.signal, Some(9), "killed by SIGKILL");
    std::fs::remove_file(&block).unwrap();
    assert_eq!(
        service_selector(&project, "dev", "app")[instance],
        "app-green",
        "the killed run had switched the Service to the unverified colour"
    );
    let events = project.events("dev");
    assert!(events.contains(&"switch".to_owned()), "{events:?}");

    // The killed run's lease: dropped as an expiry would.
    project.kube.kubectl(&[
        "delete",
        "lease",
        "-n",
        project.namespace("dev"),
        "windlass-deploy.dev",
    ]);
    let next = project.json(&["up", "dev", "--image", &image(DIGEST_B)], 0);
    assert_eq!(next["recovered"]["action"], "rolled-back", "{next}");
    assert!(
        next["recovered"]["detail"]
            .as_str()
            .unwrap()
            .contains("switched back to `app-blue`"),
        "{next}"
    );
    assert_eq!(next["result"], "succeeded", "{next}");
    // The new promotion found the Service on blue again: its own switch
    // went from blue to green.
    let history = project.json(&["history", "dev"], 0);
    let entries = history["entries"].as_array().unwrap();
    let switches: Vec<(&Value, &Value)> = entries
        .iter()
        .filter(|e| e["event"]["kind"] == "switch")
        .map(|e| (&e["event"]["from"], &e["event"]["to"]))
        .collect();
    // The first promotion made the Service (from none to blue); the killed
    // one switched blue to green; the next one found blue again.
    assert_eq!(switches.len(), 3, "{history}");
    assert_eq!(*switches[0].0, Value::Null);
    assert_eq!(switches[0].1, "app-blue");
    assert_eq!(switches[1].0, "app-blue");
    assert_eq!(switches[1].1, "app-green");
    assert_eq!(switches[2].0, "app-blue", "switched back before: {history}");
    assert_eq!(switches[2].1, "app-green");
    let closed = entries
        .iter()
        .find(|e| {
            e["event"]["kind"] == "failed"
                && e["event"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("switched back"))
        })
        .expect("the killed promotion is closed as failed");
    assert_eq!(
        closed["promotion"],
        switches_promotion(entries, 1),
        "{history}"
    );
    assert_eq!(
        service_selector(&project, "dev", "app")[instance],
        "app-green"
    );
}

/// The promotion of the `index`-th `Switch` record.
fn switches_promotion(entries: &[Value], index: usize) -> Value {
    entries
        .iter()
        .filter(|e| e["event"]["kind"] == "switch")
        .nth(index)
        .unwrap()["promotion"]
        .clone()
}

#[test]
fn metrics_count_the_promotions_and_write_the_board() {
    let project = Project::new("cli-metrics", &[("dev", ""), ("staging", "from = \"dev\"")]);
    let up = project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);
    let bundle = up["bundle"].as_str().unwrap().to_owned();
    project.json(&["promote", "dev", "staging"], 0);

    let metrics = project.json(&["metrics"], 0);
    assert_eq!(metrics["production"], "staging", "{metrics}");
    assert_eq!(metrics["deployment-frequency"]["deployments"], 1);
    assert_eq!(metrics["change-failure-rate"]["deployments"], 1);
    assert_eq!(metrics["change-failure-rate"]["failed"], 0);
    let envs = metrics["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2, "{metrics}");
    assert!(envs.iter().all(|e| e["bundle"] == bundle), "{metrics}");

    let dev = project.json(&["metrics", "--env", "dev"], 0);
    assert_eq!(dev["production"], "dev");
    assert_eq!(dev["deployment-frequency"]["deployments"], 1);

    let board = project.dir.path().join("board.html");
    let run = project.run(&["metrics", "--html", board.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(&board).unwrap();
    assert!(html.contains("<svg"), "the board draws its plots");
    assert!(html.contains("staging") && html.contains("dev"));
    assert!(html.contains(&bundle["sha256:".len().."sha256:".len() + 12]));

    let run = project.run(&["metrics", "--env", "nowhere"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn two_promotions_at_once_exactly_one_proceeds() {
    let marker_dir = tempfile::tempdir().unwrap();
    let release = marker_dir.path().join("release");
    let project = Project::new(
        "cli-race",
        &[(
            "dev",
            &format!(
                "gates = {{ verify = [{{ name = \"held\", command = [\"sh\", \"-c\", \"while [ ! -e '{r}' ]; do sleep 0.2; done\"], timeout = \"300s\" }}] }}",
                r = release.display()
            ),
        )],
    );
    let first = project
        .cli()
        .args(["--json", "up", "dev", "--image", &image(DIGEST_A)])
        .spawn();
    let second = project
        .cli()
        .args(["--json", "up", "dev", "--image", &image(DIGEST_B)])
        .spawn();
    // The winner holds the lease until `release` exists, so the loser
    // ends first, refused.
    let (mut loser, mut winner) = (first, second);
    loop {
        if loser.has_ended() {
            break;
        }
        if winner.has_ended() {
            std::mem::swap(&mut loser, &mut winner);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let lost = loser.wait();
    std::fs::write(&release, "").unwrap();
    let won = winner.wait();
    assert_eq!(lost.code, 1, "{}", lost.stderr);
    assert!(lost.stderr.contains("is locked by"), "{}", lost.stderr);
    assert_eq!(won.code, 0, "{}", won.stderr);
    assert_eq!(won.json()["data"]["result"], "succeeded");
    assert_eq!(
        project.events("dev"),
        ["started", "upgraded", "succeeded"],
        "one promotion in the ledger"
    );
}

#[test]
fn rollback_goes_to_the_last_succeeded_bundle_and_marks_the_other_bad() {
    let project = Project::new("cli-rollback", &[("dev", "")]);
    let first = project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);
    let second = project.json(&["up", "dev", "--image", &image(DIGEST_B)], 0);
    assert_ne!(first["bundle"], second["bundle"]);

    let back = project.json(&["rollback", "dev"], 0);
    assert_eq!(back["kind"], "rollback");
    assert_eq!(back["bundle"], first["bundle"]);
    assert_eq!(back["revision"], 3);
    assert_eq!(project.helm_values("dev")["image"]["digest"], DIGEST_A);
    let history = project.json(&["history", "dev"], 0);
    let rolled_back: Vec<&Value> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "rolled-back")
        .collect();
    assert_eq!(rolled_back.len(), 1);
    assert_eq!(rolled_back[0]["bundle"], second["bundle"], "marked bad");
    assert_eq!(rolled_back[0]["event"]["to_revision"], 1);

    let run = project.run(&["up", "dev", "--image", &image(DIGEST_B)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let again = project.json(
        &[
            "up",
            "dev",
            "--image",
            &image(DIGEST_B),
            "--allow-rolled-back",
        ],
        0,
    );
    assert_eq!(again["bundle"], second["bundle"]);
    let status = project.json(&["status", "dev"], 0);
    assert_eq!(status["environments"][0]["bundle"], second["bundle"]);
    assert_eq!(status["environments"][0]["drift"], Value::Null, "{status}");

    // A rollback behind Windlass's back is drift.
    let run = Cli::new(&project.kube.helm, project.dir.path())
        .args([
            "--kubeconfig",
            project.kube.kubeconfig.to_str().unwrap(),
            "--kube-context",
            &project.kube.context,
            "-n",
            project.namespace("dev"),
            "rollback",
            "app",
            "1",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status = project.json(&["status", "dev"], 0);
    let drift = status["environments"][0]["drift"]
        .as_str()
        .unwrap_or_default();
    assert!(drift.contains("Helm has revision 5"), "{status}");
}

#[test]
fn an_interrupted_promotion_records_it_releases_the_lease_and_is_rolled_back_next() {
    let marker_dir = tempfile::tempdir().unwrap();
    let block = marker_dir.path().join("block");
    let reached = marker_dir.path().join("reached");
    let summary = marker_dir.path().join("summary.md");
    let project = Project::new(
        "cli-int",
        &[(
            "dev",
            &format!(
                "gates = {{ verify = [{{ name = \"hang\", command = [\"sh\", \"-c\", \"if [ -e '{b}' ]; then touch '{r}'; sleep 600; fi\"], timeout = \"900s\" }}] }}",
                b = block.display(),
                r = reached.display()
            ),
        )],
    );
    let first = project.json(&["up", "dev", "--image", &image(DIGEST_A)], 0);

    std::fs::write(&block, "").unwrap();
    let running = project
        .cli()
        .args(["up", "dev", "--image", &image(DIGEST_B)])
        .spawn();
    let mut waited = 0;
    while !reached.exists() {
        std::thread::sleep(Duration::from_millis(200));
        waited += 1;
        assert!(waited < 900, "the verification never started");
    }
    running.interrupt();
    let interrupted = running.wait();
    assert_eq!(interrupted.code, 130, "{}", interrupted.stderr);
    assert!(
        interrupted.stderr.contains("interrupted"),
        "{}",
        interrupted.stderr
    );
    std::fs::remove_file(&block).unwrap();
    let events = project.events("dev");
    assert_eq!(
        events.last().map(String::as_str),
        Some("failed"),
        "{events:?}"
    );

    // The lease was released: the next command runs at once, puts the
    // unverified revision back, and says so in its step summary.
    let next = project
        .cli()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["--json", "status", "dev"])
        .run();
    assert_eq!(next.code, 0, "{}", next.stderr);
    let rollback = project.json(&["rollback", "dev", "--to", "1"], 0);
    assert_eq!(rollback["recovered"]["action"], "rolled-back", "{rollback}");
    assert_eq!(rollback["bundle"], first["bundle"]);
    assert_eq!(project.helm_values("dev")["image"]["digest"], DIGEST_A);
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(table.contains("| environment | bundle |"), "{table}");
    assert!(table.contains("| dev |"), "{table}");
}

/// The caller's `HELM_*` variables (a driver, a namespace, a context, a
/// token and API server, a history limit) never change where or how Helm
/// works for Windlass: the release lands in the environment's namespace
/// with Helm's Secret driver, all its revisions kept, and the token in
/// `HELM_KUBETOKEN` is neither used nor printed.
#[test]
fn the_callers_helm_variables_do_not_redirect_the_release() {
    let token = canary("helm-kubetoken");
    let project = Project::new("cli-helmenv", &[("dev", "")]);
    let elsewhere = project.kube.fresh_namespace("cli-helmenv-elsewhere");
    let mut outputs = String::new();
    for digest in [DIGEST_A, DIGEST_B] {
        let run = project
            .cli()
            .env("HELM_DRIVER", "memory")
            .env("HELM_NAMESPACE", &elsewhere)
            .env("HELM_KUBECONTEXT", "no-such-context")
            .env("HELM_KUBETOKEN", &token)
            .env("HELM_KUBEAPISERVER", "https://127.0.0.1:9")
            .env("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "true")
            .env("HELM_MAX_HISTORY", "1")
            .args(["up", "dev", "--image", &image(digest)])
            .run();
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        outputs.push_str(&run.stdout);
        outputs.push_str(&run.stderr);
    }
    assert_no_leak(outputs.as_bytes(), &token);

    // Stored by the Secret driver in dev's namespace, with both revisions.
    assert_eq!(project.helm_values("dev")["image"]["digest"], DIGEST_B);
    let releases = project.kube.kubectl(&[
        "get",
        "secrets",
        "-n",
        project.namespace("dev"),
        "-l",
        "owner=helm,name=app",
        "-o",
        "name",
    ]);
    assert_eq!(releases.lines().count(), 2, "{releases}");
    let stray = project.kube.kubectl(&[
        "get",
        "secrets",
        "-n",
        &elsewhere,
        "-l",
        "owner=helm",
        "-o",
        "name",
    ]);
    assert!(stray.trim().is_empty(), "a release in {elsewhere}: {stray}");
}

/// Inside GitHub Actions `up` and `promote` set the step outputs
/// `bundle-id` and `revision` in `$GITHUB_OUTPUT` (heredoc entries).
#[test]
fn up_and_promote_set_step_outputs_in_github_actions() {
    let project = Project::new("cli-outputs", &[("dev", ""), ("staging", "from = \"dev\"")]);
    let outputs = project.dir.path().join("github_output");
    let entries = |args: &[&str]| {
        std::fs::write(&outputs, "").unwrap();
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = project
            .cli()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &outputs)
            .args(&all)
            .run();
        assert_eq!(run.code, 0, "{args:?}\n{}", run.stderr);
        let text = std::fs::read_to_string(&outputs).unwrap();
        assert!(text.starts_with("bundle-id<<ghadelimiter_"), "{text}");
        let entries =
            windlass_testkit::actions::parse_file_command(&text, "GITHUB_OUTPUT").unwrap();
        (run.json()["data"].clone(), entries)
    };
    let (up, up_outputs) = entries(&["up", "dev", "--image", &image(DIGEST_A)]);
    assert_eq!(up_outputs["bundle-id"], up["bundle"].as_str().unwrap());
    assert_eq!(up_outputs["revision"], up["revision"].to_string());
    let (promoted, promoted_outputs) = entries(&["promote", "dev", "staging"]);
    assert_eq!(
        promoted_outputs["bundle-id"],
        up["bundle"].as_str().unwrap()
    );
    assert_eq!(
        promoted_outputs["revision"],
        promoted["revision"].to_string()
    );
}
