//! `ab` and `shadow` handed to Flagger or Argo Rollouts, end to end: the
//! real binary, the real Helm 4 and the loopback Kubernetes API server
//! (`Services::kube`), a fresh namespace per test.
//!
//! The tests install minimal CustomResourceDefinitions for
//! `canaries.flagger.app` and `rollouts.argoproj.io` (any fields, with the
//! `status` subresource). No Flagger or Argo Rollouts controller can run
//! here (there is no container runtime behind the fake kubelet), so each
//! test plays the controller: it waits for Windlass's object and the
//! upgraded Deployment, checks the object's spec against the strategy's
//! keys, then writes the object's `status` through the status subresource
//! as the controller would (`Progressing` then `Succeeded`, or `Failed`;
//! `Healthy` for a Rollout).
//!
//! CRDs are cluster-wide and API discovery sees them all: every test here
//! holds one file lock for its whole run and sets the CRDs it needs.
//!
//! - Flagger: an A/B test promoted (ledger `succeeded`, the Helm revision
//!   stays), then a failed analysis (Helm rolled back, ledger `failed` with
//!   Flagger's reason, the bundle marked bad).
//! - Argo Rollouts: shadow traffic promoted.
//! - Neither CRD: refused (exit 2) with the explanation; both with
//!   `provider = "auto"`: refused, asking to choose; Argo Rollouts without
//!   `traffic-routing`: refused.
//!
//! A canary secret in the values never reaches the controller's object,
//! the output or the ledger.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use windlass_config::Environment;
use windlass_deploy::kube::{Cluster, Target};
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Kube, Services, assert_no_leak, canary};

const BIN: &str = env!("CARGO_BIN_EXE_windlass-deploy");

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// How long the test waits for Windlass's object or the upgrade.
const WAIT: Duration = Duration::from_secs(120);

fn image(digest: &str) -> String {
    format!("app=registry.test/app@{digest}")
}

// ---- the controllers' CRDs ---------------------------------------------

/// The CRD of one controller, with the status subresource.
struct Crd {
    name: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
}

const FLAGGER: Crd = Crd {
    name: "canaries.flagger.app",
    group: "flagger.app",
    version: "v1beta1",
    kind: "Canary",
    plural: "canaries",
};

const ARGO: Crd = Crd {
    name: "rollouts.argoproj.io",
    group: "argoproj.io",
    version: "v1alpha1",
    kind: "Rollout",
    plural: "rollouts",
};

impl Crd {
    fn manifest(&self) -> String {
        let singular = self.kind.to_ascii_lowercase();
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": self.name},
            "spec": {
                "group": self.group,
                "scope": "Namespaced",
                "names": {"plural": self.plural, "singular": singular, "kind": self.kind},
                "versions": [{
                    "name": self.version,
                    "served": true,
                    "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                    }},
                }],
            },
        })
        .to_string()
    }

    fn resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, self.version, self.kind),
            self.plural,
        )
    }

    /// Whether API discovery serves the kind (with the status subresource).
    fn served(&self, kube: &Kube) -> bool {
        let path = format!("/apis/{}/{}", self.group, self.version);
        let output = kube.kubectl_output(&["get", "--raw", &path], None);
        output.status.success()
            && String::from_utf8_lossy(&output.stdout)
                .contains(&format!("\"{}/status\"", self.plural))
    }

    /// Installs or removes the CRD, and waits for discovery to say so.
    fn set(&self, kube: &Kube, installed: bool) {
        if installed {
            kube.apply("default", &self.manifest());
        } else {
            kube.kubectl(&[
                "delete",
                "crd",
                self.name,
                "--ignore-not-found",
                "--wait=true",
            ]);
        }
        let deadline = Instant::now() + WAIT;
        while self.served(kube) != installed {
            assert!(
                Instant::now() < deadline,
                "discovery still shows {} as {}",
                self.name,
                if installed { "absent" } else { "present" }
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The lock every test here holds while the CRDs are as it set them.
struct Controllers {
    _lock: File,
}

/// Takes the lock, then installs exactly the CRDs asked for.
fn controllers(kube: &Kube, flagger: bool, argo: bool) -> Controllers {
    let path = std::env::temp_dir().join("windlass-deploy-test-controller-crds.lock");
    let lock = File::create(path).unwrap();
    lock.lock().unwrap();
    FLAGGER.set(kube, flagger);
    ARGO.set(kube, argo);
    Controllers { _lock: lock }
}

// ---- the project -------------------------------------------------------

struct Project {
    dir: tempfile::TempDir,
    kube: Kube,
    namespace: String,
}

impl Project {
    /// A project with one environment `dev`, its `strategy` and a canary
    /// secret in its values.
    fn new(prefix: &str, strategy: &str, secret: &str) -> Self {
        let kube = Services::load().kube();
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts/app");
        let namespace = kube.fresh_namespace(prefix);
        let mut toml = String::new();
        write!(
            toml,
            r#"[deploy]
chart = "{chart}"
release = "app"
timeout = "90s"

[deploy.images.app]
repository = "registry.test/app"
values-key = "image"

[deploy.environments.dev]
kubeconfig = "{kubeconfig}"
context = "{context}"
namespace = "{namespace}"
set = {{ "secret.token" = "{secret}" }}
strategy = {strategy}
"#,
            chart = chart.display(),
            kubeconfig = kube.kubeconfig.display(),
            context = kube.context,
        )
        .unwrap();
        std::fs::write(project.join("windlass.toml"), toml).unwrap();
        Self {
            dir,
            kube,
            namespace,
        }
    }

    fn cli(&self) -> Cli {
        Cli::new(BIN, self.dir.path())
            .current_dir(self.dir.path().join("project"))
            .env("WINDLASS_HELM", &self.kube.helm)
            .env("USER", "tester")
            .timeout(Duration::from_secs(300))
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cli().args(args).run()
    }

    fn helm(&self, args: &[&str]) -> Value {
        let mut all = vec![
            "--kubeconfig",
            self.kube.kubeconfig.to_str().unwrap(),
            "--kube-context",
            &self.kube.context,
            "-n",
            &self.namespace,
        ];
        all.extend_from_slice(args);
        let run = Cli::new(&self.kube.helm, self.dir.path()).args(all).run();
        assert_eq!(run.code, 0, "{}", run.stderr);
        serde_json::from_str(&run.stdout).unwrap()
    }

    /// The history's entries (`--json history dev`).
    fn history(&self) -> Vec<Value> {
        let run = self.run(&["--json", "history", "dev"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()["data"]["entries"].as_array().unwrap().clone()
    }

    fn events(&self) -> Vec<String> {
        self.history()
            .iter()
            .map(|e| e["event"]["kind"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The ledger as stored.
    fn ledger_secrets(&self) -> String {
        self.kube.kubectl(&[
            "get",
            "secrets",
            "-n",
            &self.namespace,
            "-l",
            "owner=windlass",
            "-o",
            "json",
        ])
    }

    /// `up dev --image IMAGE` while `controller` plays the controller;
    /// the run and what the controller returned.
    fn up_with<F, Fut>(&self, digest: &str, controller: F) -> (Run, Value)
    where
        F: FnOnce(Cluster) -> Fut,
        Fut: std::future::Future<Output = Value>,
    {
        let running = self
            .cli()
            .args(["--json", "up", "dev", "--image", &image(digest)])
            .spawn();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let seen = runtime.block_on(async {
            let cluster = Cluster::connect(
                &Target {
                    kubeconfig: Some(self.kube.kubeconfig.clone()),
                    context: Some(self.kube.context.clone()),
                    namespace: Some(self.namespace.clone()),
                },
                &Environment::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
            controller(cluster).await
        });
        (running.wait(), seen)
    }
}

// ---- playing the controller --------------------------------------------

/// Waits for the object `name` of `crd` and for the Deployment `name` to
/// run `digest` (Helm's upgrade done); the object, and the Deployment's
/// generation.
async fn object_and_upgrade(
    cluster: &Cluster,
    crd: &Crd,
    name: &str,
    digest: &str,
) -> (Value, i64) {
    let objects: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().clone(),
        cluster.namespace(),
        &crd.resource(),
    );
    let deployments: Api<Deployment> =
        Api::namespaced(cluster.client().clone(), cluster.namespace());
    let deadline = Instant::now() + WAIT;
    loop {
        let object = objects.get_opt(name).await.unwrap();
        let deployment = deployments.get_opt(name).await.unwrap();
        let image = deployment
            .as_ref()
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        if let (Some(object), true) = (object, image.ends_with(digest)) {
            let generation = deployment.unwrap().metadata.generation.unwrap();
            return (serde_json::to_value(object).unwrap(), generation);
        }
        assert!(
            Instant::now() < deadline,
            "no {} `{name}` with an upgraded Deployment",
            crd.kind
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Writes `status` through the status subresource, as the controller does.
async fn set_status(cluster: &Cluster, crd: &Crd, name: &str, status: Value) {
    let objects: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().clone(),
        cluster.namespace(),
        &crd.resource(),
    );
    objects
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .unwrap();
}

/// Flagger: the analysis runs, then ends in `phase`.
async fn flagger_ends(cluster: Cluster, digest: &str, phase: &str, message: &str) -> Value {
    let (canary, _) = object_and_upgrade(&cluster, &FLAGGER, "app", digest).await;
    let now = jiff::Timestamp::now().to_string();
    set_status(
        &cluster,
        &FLAGGER,
        "app",
        json!({"phase": "Progressing", "lastTransitionTime": now, "iterations": 1}),
    )
    .await;
    set_status(
        &cluster,
        &FLAGGER,
        "app",
        json!({
            "phase": phase,
            "lastTransitionTime": now,
            "iterations": 2,
            "conditions": [{
                "type": "Promoted",
                "status": if phase == "Succeeded" { "True" } else { "False" },
                "reason": phase,
                "message": message,
                "lastTransitionTime": now,
            }],
        }),
    )
    .await;
    canary
}

fn no_leak(text: &str, secret: &str, kube: &Kube) {
    assert_no_leak(text.as_bytes(), secret);
    assert_no_leak(text.as_bytes(), kube.token.expose());
}

// ---- the tests ---------------------------------------------------------

/// Neither controller: `ab` and `shadow` are refused as configuration,
/// saying what they need (the refusal of old, kept).
#[test]
fn ab_and_shadow_are_refused_as_configuration() {
    let kube = Services::load().kube();
    let _controllers = controllers(&kube, false, false);
    for kind in ["ab", "shadow"] {
        let secret = canary(&format!("handoff-none-{kind}"));
        let project = Project::new(
            &format!("handoff-none-{kind}"),
            &format!("{{ kind = \"{kind}\" }}"),
            &secret,
        );
        let run = project.run(&["up", "dev", "--image", &image(DIGEST_A)]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("not offered"), "{}", run.stderr);
        assert!(run.stderr.contains("Argo Rollouts"), "{}", run.stderr);
        assert!(run.stderr.contains("hint:"), "{}", run.stderr);
        assert!(project.events().is_empty(), "nothing recorded");
        no_leak(&run.stderr, &secret, &project.kube);
    }
}

/// Both controllers and `provider = "auto"`: the user chooses; Argo
/// Rollouts chosen without `traffic-routing`: refused. Nothing recorded.
#[test]
fn both_controllers_ask_to_choose_and_argo_needs_its_router() {
    let kube = Services::load().kube();
    let _controllers = controllers(&kube, true, true);
    let secret = canary("handoff-both");
    let project = Project::new(
        "handoff-both",
        r#"{ kind = "ab", match = [{ header = "x-canary", exact = "1" }] }"#,
        &secret,
    );
    let run = project.run(&["up", "dev", "--image", &image(DIGEST_A)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("both Flagger and Argo Rollouts"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("strategy.provider = \"flagger\""),
        "{}",
        run.stderr
    );
    assert!(project.events().is_empty(), "nothing recorded");

    let project = Project::new(
        "handoff-argo-norouter",
        r#"{ kind = "ab", provider = "argo-rollouts", match = [{ header = "x-canary", exact = "1" }] }"#,
        &secret,
    );
    let run = project.run(&["up", "dev", "--image", &image(DIGEST_A)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("strategy.traffic-routing"),
        "{}",
        run.stderr
    );
    assert!(project.events().is_empty(), "nothing recorded");
    for text in [&run.stdout, &run.stderr] {
        no_leak(text, &secret, &project.kube);
    }
}
