//! `ab` and `shadow` handed to Flagger or Argo Rollouts, end to end: the
//! real binary, the real Helm 4 and the loopback Kubernetes API server
//! (`Services::kube`), a fresh namespace per test.
//!
//! No Flagger or Argo Rollouts controller can run here (there is no
//! container runtime behind the fake kubelet), so each test plays the
//! controller: it waits for Windlass's object and the upgraded Deployment,
//! checks the object's spec against the strategy's keys, then writes the
//! object's `status` as the controller would through its status
//! subresource (`Progressing` then `Succeeded`, or `Failed`; `Healthy` for
//! a Rollout).
//!
//! The test API server cannot hold custom resources: Kubernetes v1.20.2
//! vendors `modern-go/reflect2` 1.0.1, which, built with Go 1.18 or later,
//! crashes the server (SIGSEGV in map iteration) as soon as it decodes a
//! stored custom resource. So the refusal tests install the real CRDs
//! (discovery is all they need), while the hand-off tests put
//! [`Groups`] in front of the API server: it serves the `flagger.app` and
//! `argoproj.io` groups (discovery, get, server-side apply, status) from
//! memory and forwards every other request to the real server; Helm talks
//! to the real server directly.
//!
//! CRDs are cluster-wide and API discovery sees them all: the tests that
//! set them hold one file lock for their whole run.
//!
//! - Flagger: an A/B test promoted (ledger `succeeded`, the Helm revision
//!   stays), then a failed analysis (Helm rolled back, ledger `failed` with
//!   Flagger's reason, the bundle marked bad).
//! - Argo Rollouts: shadow traffic promoted, then aborted (Helm rolled
//!   back, ledger `failed` with the rollout's message).
//! - `verify = true`: a failing check after the promotion rolls back.
//! - Neither CRD: refused (exit 2) with the explanation; both with
//!   `provider = "auto"`: refused, asking to choose; Argo Rollouts without
//!   `traffic-routing`: refused.
//!
//! A canary secret in the values never reaches the controller's object,
//! the output or the ledger.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
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

    /// Discovery's `APIResourceList` of the group version.
    fn resource_list(&self) -> Value {
        let verbs = json!(["get", "list", "create", "update", "patch", "delete"]);
        json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": format!("{}/{}", self.group, self.version),
            "resources": [
                {"name": self.plural, "singularName": self.kind.to_ascii_lowercase(),
                 "namespaced": true, "kind": self.kind, "verbs": verbs},
                {"name": format!("{}/status", self.plural), "singularName": "",
                 "namespaced": true, "kind": self.kind, "verbs": ["get", "patch", "update"]},
            ],
        })
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

/// Argo Rollouts' CRD is removed again before the lock is released: the
/// other deploy tests expect a cluster without it.
impl Drop for Controllers {
    fn drop(&mut self) {
        let kube = Services::load().kube();
        ARGO.set(&kube, false);
    }
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

// ---- the controllers' API groups, in front of the real API server -----

/// The objects of the fake groups, by `(plural, namespace, name)`.
type Store = Arc<Mutex<BTreeMap<(String, String, String), Value>>>;

/// Serves the API groups of `crds` in front of the real API server (see
/// the module's comment), on loopback without TLS.
struct Groups {
    store: Store,
    _dir: tempfile::TempDir,
    /// A kubeconfig (context `windlass-test`) pointing at it.
    kubeconfig: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl Groups {
    fn start(kube: &Kube, crds: &'static [&'static Crd]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let store: Store = Arc::default();
        let upstream = runtime.block_on(async {
            Cluster::connect(
                &Target {
                    kubeconfig: Some(kube.kubeconfig.clone()),
                    context: Some(kube.context.clone()),
                    namespace: None,
                },
                &Environment::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"))
            .client()
            .clone()
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::clone(&store);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = Arc::clone(&served);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let store = Arc::clone(&store);
                        let upstream = upstream.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                answer(request, &store, &upstream, crds).await,
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: groups\n  cluster:\n    server: http://{addr}\nusers:\n- name: groups\n  user: {{}}\ncontexts:\n- name: {context}\n  context:\n    cluster: groups\n    user: groups\ncurrent-context: {context}\n",
                context = kube.context
            ),
        )
        .unwrap();
        Self {
            store,
            _dir: dir,
            kubeconfig,
            _runtime: runtime,
        }
    }

    fn get(&self, crd: &Crd, namespace: &str, name: &str) -> Option<Value> {
        let key = (crd.plural.to_owned(), namespace.to_owned(), name.to_owned());
        self.store.lock().unwrap().get(&key).cloned()
    }

    /// What the controller does through the status subresource: a merge
    /// patch of `status`.
    fn set_status(&self, crd: &Crd, namespace: &str, name: &str, status: &Value) {
        let key = (crd.plural.to_owned(), namespace.to_owned(), name.to_owned());
        let mut store = self.store.lock().unwrap();
        let object = store.get_mut(&key).unwrap();
        merge_patch(&mut object["status"], status);
        bump(object);
    }
}

type Reply = hyper::Response<Full<Bytes>>;

fn reply(status: u16, body: &Value) -> Reply {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn not_found(name: &str) -> Reply {
    reply(
        404,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": format!("\"{name}\" not found"), "reason": "NotFound", "code": 404}),
    )
}

/// One request: the fake groups' own, or forwarded.
async fn answer(
    request: hyper::Request<hyper::body::Incoming>,
    store: &Store,
    upstream: &kube::Client,
    crds: &[&Crd],
) -> Reply {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let method = request.method().clone();
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = request.into_body().collect().await.unwrap().to_bytes();

    let known = [&FLAGGER, &ARGO];
    if let Some(crd) = known
        .iter()
        .find(|crd| path.starts_with(&format!("/apis/{}/", crd.group)))
    {
        if !crds.iter().any(|c| c.name == crd.name) {
            return not_found(&path);
        }
        let request = GroupRequest {
            method: method.as_str(),
            path: &path,
            query: &query,
            content_type: &content_type,
            body: &body,
        };
        return serve_group(crd, &request, store);
    }

    // Everything else goes to the real server; `/apis` shows the fake
    // groups instead of any real ones of the same names.
    let uri = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let mut forward = hyper::Request::builder().method(method).uri(uri);
    if !content_type.is_empty() {
        forward = forward.header("content-type", content_type);
    }
    let forwarded = upstream
        .send(
            forward
                .body(kube::client::Body::from(body.to_vec()))
                .unwrap(),
        )
        .await;
    let response = match forwarded {
        Ok(response) => response,
        Err(kube::Error::Api(status)) => {
            return reply(status.code, &serde_json::to_value(&*status).unwrap());
        }
        Err(error) => return reply(502, &json!({"message": error.to_string()})),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let mut bytes = response.into_body().collect().await.unwrap().to_bytes();
    if path == "/apis" && status == 200 {
        let mut list: Value = serde_json::from_slice(&bytes).unwrap();
        let groups = list["groups"].as_array_mut().unwrap();
        groups.retain(|g| !known.iter().any(|crd| g["name"] == crd.group));
        for crd in crds {
            let version = json!({"groupVersion": format!("{}/{}", crd.group, crd.version), "version": crd.version});
            groups.push(
                json!({"name": crd.group, "versions": [version], "preferredVersion": version}),
            );
        }
        bytes = Bytes::from(list.to_string());
    }
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(bytes))
        .unwrap()
}

/// A request to one of the fake groups.
struct GroupRequest<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    content_type: &'a str,
    body: &'a [u8],
}

/// Discovery, get, server-side apply and status merge patches of `crd`'s
/// objects.
fn serve_group(crd: &Crd, request: &GroupRequest<'_>, store: &Store) -> Reply {
    let base = format!("/apis/{}/{}", crd.group, crd.version);
    if request.path == base {
        return reply(200, &crd.resource_list());
    }
    let parts: Vec<&str> = request
        .path
        .strip_prefix(&format!("{base}/namespaces/"))
        .unwrap_or("")
        .split('/')
        .collect();
    let (namespace, name, status) = match parts.as_slice() {
        [ns, plural, name] if *plural == crd.plural => (*ns, *name, false),
        [ns, plural, name, "status"] if *plural == crd.plural => (*ns, *name, true),
        _ => return not_found(request.path),
    };
    let key = (crd.plural.to_owned(), namespace.to_owned(), name.to_owned());
    let mut objects = store.lock().unwrap();
    match (request.method, status) {
        ("GET", _) => objects
            .get(&key)
            .map_or_else(|| not_found(name), |o| reply(200, o)),
        ("PATCH", false) if request.content_type.starts_with("application/apply-patch") => {
            let applied: Value = serde_json::from_slice(request.body).unwrap();
            let manager = request
                .query
                .split('&')
                .find_map(|p| p.strip_prefix("fieldManager="))
                .unwrap_or("")
                .to_owned();
            let created = !objects.contains_key(&key);
            let object = objects.entry(key).or_insert_with(|| {
                json!({"metadata": {
                    "uid": format!("uid-{name}"),
                    "creationTimestamp": jiff::Timestamp::now().to_string(),
                    "resourceVersion": "0",
                }})
            });
            for field in ["apiVersion", "kind", "spec"] {
                object[field] = applied[field].clone();
            }
            object["metadata"]["name"] = json!(name);
            object["metadata"]["namespace"] = json!(namespace);
            object["metadata"]["labels"] = applied["metadata"]["labels"].clone();
            object["metadata"]["managedFields"] = json!([{
                "manager": manager,
                "operation": "Apply",
                "apiVersion": format!("{}/{}", crd.group, crd.version),
                "time": jiff::Timestamp::now().to_string(),
            }]);
            bump(object);
            reply(if created { 201 } else { 200 }, object)
        }
        ("PATCH", true) if request.content_type.starts_with("application/merge-patch") => {
            let Some(object) = objects.get_mut(&key) else {
                return not_found(name);
            };
            let merge: Value = serde_json::from_slice(request.body).unwrap();
            merge_patch(&mut object["status"], &merge["status"]);
            bump(object);
            reply(200, object)
        }
        _ => reply(
            405,
            &json!({"kind": "Status", "status": "Failure", "code": 405,
                    "message": format!("{} {} ({}) is not served here", request.method, request.path, request.content_type)}),
        ),
    }
}

/// RFC 7386 JSON merge patch of `patch` into `target`.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (key, value) in fields {
        if value.is_null() {
            target.as_object_mut().unwrap().remove(key);
        } else {
            merge_patch(&mut target[key], value);
        }
    }
}

/// A new `resourceVersion`, as the API server gives every write.
fn bump(object: &mut Value) {
    let version: u64 = object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    object["metadata"]["resourceVersion"] = json!((version + 1).to_string());
}

// ---- the project -------------------------------------------------------

struct Project {
    dir: tempfile::TempDir,
    kube: Kube,
    namespace: String,
    /// The `helm` Windlass runs.
    helm: PathBuf,
}

impl Project {
    /// A project with one environment `dev`, its `strategy` and a canary
    /// secret in its values; reaching the cluster through `groups` when
    /// given (Helm, through a wrapper, the real server).
    fn new(prefix: &str, strategy: &str, secret: &str, groups: Option<&Groups>) -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let kube = Services::load().kube();
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts/app");
        let namespace = kube.fresh_namespace(prefix);
        let kubeconfig = groups.map_or_else(|| kube.kubeconfig.clone(), |g| g.kubeconfig.clone());
        let mut helm = kube.helm.clone();
        if groups.is_some() {
            // Helm goes to the real server: its kubeconfig swapped back.
            helm = dir.path().join("helm");
            std::fs::write(
                &helm,
                format!(
                    "#!/bin/sh\nfor a in \"$@\"; do shift; if [ \"$a\" = '{fake}' ]; then set -- \"$@\" '{real}'; else set -- \"$@\" \"$a\"; fi; done\nexec '{helm}' \"$@\"\n",
                    fake = kubeconfig.display(),
                    real = kube.kubeconfig.display(),
                    helm = kube.helm.display(),
                ),
            )
            .unwrap();
            std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
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
            kubeconfig = kubeconfig.display(),
            context = kube.context,
        )
        .unwrap();
        std::fs::write(project.join("windlass.toml"), toml).unwrap();
        Self {
            dir,
            kube,
            namespace,
            helm,
        }
    }

    fn cli(&self) -> Cli {
        Cli::new(BIN, self.dir.path())
            .current_dir(self.dir.path().join("project"))
            .env("WINDLASS_HELM", &self.helm)
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
    fn up_with(&self, digest: &str, controller: impl FnOnce() -> Value) -> (Run, Value) {
        let running = self
            .cli()
            .args(["--json", "up", "dev", "--image", &image(digest)])
            .spawn();
        let seen = controller();
        (running.wait(), seen)
    }

    /// Waits for Windlass's object `app` of `crd` and for the Deployment
    /// `app` to run `digest` (Helm's upgrade done); the object, and the
    /// Deployment's generation.
    fn object_and_upgrade(&self, groups: &Groups, crd: &Crd, digest: &str) -> (Value, i64) {
        let deadline = Instant::now() + WAIT;
        loop {
            let object = groups.get(crd, &self.namespace, "app");
            let output = self.kube.kubectl_output(
                &[
                    "get",
                    "deployment",
                    "app",
                    "-n",
                    &self.namespace,
                    "-o",
                    "json",
                ],
                None,
            );
            let deployment: Value = if output.status.success() {
                serde_json::from_slice(&output.stdout).unwrap()
            } else {
                Value::Null
            };
            let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or("");
            if let (Some(object), true) = (object, image.ends_with(digest)) {
                return (
                    object,
                    deployment["metadata"]["generation"].as_i64().unwrap(),
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {} `app` with an upgraded Deployment",
                crd.kind
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Flagger: the analysis runs, then ends in `phase`.
    fn flagger_ends(&self, groups: &Groups, digest: &str, phase: &str, message: &str) -> Value {
        let (canary, _) = self.object_and_upgrade(groups, &FLAGGER, digest);
        let now = jiff::Timestamp::now().to_string();
        let status = |phase: &str, iterations: u32| {
            json!({
                "phase": phase,
                "lastTransitionTime": now,
                "iterations": iterations,
                "conditions": [{
                    "type": "Promoted",
                    "status": if phase == "Succeeded" { "True" } else { "Unknown" },
                    "reason": phase,
                    "message": message,
                    "lastTransitionTime": now,
                }],
            })
        };
        groups.set_status(&FLAGGER, &self.namespace, "app", &status("Progressing", 1));
        groups.set_status(&FLAGGER, &self.namespace, "app", &status(phase, 2));
        canary
    }
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
            None,
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
        None,
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
        None,
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

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one story: the promotion, then the failed one, then the leak check"
)]
fn flagger_runs_the_ab_test_and_a_failed_analysis_rolls_back() {
    let secret = canary("handoff-flagger");
    let kube = Services::load().kube();
    let groups = Groups::start(&kube, &[&FLAGGER]);
    let project = Project::new(
        "handoff-flagger",
        r#"{ kind = "ab", match = [{ header = "x-canary", exact = "insider" }, { cookie = "beta", exact = "yes" }], iterations = 2, interval = "1s", service-port = 8080 }"#,
        &secret,
        Some(&groups),
    );

    // v1: Flagger promotes it.
    let (first, canary_object) = project.up_with(DIGEST_A, || {
        project.flagger_ends(&groups, DIGEST_A, "Succeeded", "Canary analysis completed")
    });
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let spec = &canary_object["spec"];
    assert_eq!(canary_object["apiVersion"], "flagger.app/v1beta1");
    assert_eq!(canary_object["kind"], "Canary");
    assert_eq!(
        spec["targetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"})
    );
    assert_eq!(spec["service"]["port"], 8080);
    assert_eq!(spec["analysis"]["iterations"], 2);
    assert_eq!(spec["analysis"]["interval"], "1s");
    assert_eq!(spec["analysis"]["threshold"], 1);
    assert_eq!(
        spec["analysis"]["match"][0],
        json!({"headers": {"x-canary": {"exact": "insider"}}})
    );
    assert_eq!(
        spec["analysis"]["match"][1]["headers"]["cookie"]["regex"],
        "^(.*?;\\s*)?(beta=yes)(;.*)?$"
    );
    let bundle = first.json()["data"]["bundle"].as_str().unwrap().to_owned();
    let label = canary_object["metadata"]["labels"]["windlass.dev/bundle"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !label.is_empty() && bundle.contains(&label),
        "{bundle} {label}"
    );
    assert_eq!(
        canary_object["metadata"]["managedFields"][0]["manager"], "windlass",
        "server-side apply as `windlass`"
    );
    let events = project.events();
    assert_eq!(
        events.last().map(String::as_str),
        Some("succeeded"),
        "{events:?}"
    );
    let gates: Vec<String> = project
        .history()
        .iter()
        .filter(|e| e["event"]["kind"] == "gate")
        .map(|e| format!("{} {}", e["event"]["gate"], e["event"]["passed"]))
        .collect();
    assert!(
        gates.contains(&"\"analysis: flagger\" true".to_owned()),
        "{gates:?}"
    );
    let history = project.helm(&["history", "app", "-o", "json"]);
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["status"], "deployed");

    // v2: Flagger's analysis fails; Helm goes back to v1.
    let reason = "Canary analysis failed, Deployment scaled to zero";
    let (second, _) = project.up_with(DIGEST_B, || {
        project.flagger_ends(&groups, DIGEST_B, "Failed", reason)
    });
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    let values = project.helm(&["get", "values", "app", "-o", "json"]);
    assert_eq!(values["image"]["digest"], DIGEST_A, "rolled back");
    let history = project.helm(&["history", "app", "-o", "json"]);
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");
    assert_eq!(history[2]["status"], "deployed");
    let entries = project.history();
    let failed = entries
        .iter()
        .rev()
        .find(|e| e["event"]["kind"] == "failed")
        .unwrap();
    assert!(
        failed["event"]["reason"].as_str().unwrap().contains(reason),
        "{failed}"
    );
    let second_bundle = second.json()["data"]["bundle"].clone();
    assert!(
        entries
            .iter()
            .any(|e| e["event"]["kind"] == "rolled-back" && e["bundle"] == second_bundle),
        "the bundle is marked bad: {entries:?}"
    );

    // The secret: not in the Canary, the output or the ledger.
    let stored = groups.get(&FLAGGER, &project.namespace, "app").unwrap();
    for text in [
        stored.to_string().as_str(),
        &first.stdout,
        &first.stderr,
        &second.stdout,
        &second.stderr,
        &project.ledger_secrets(),
    ] {
        no_leak(text, &secret, &project.kube);
    }
}

#[test]
fn argo_rollouts_runs_the_shadow_traffic() {
    let secret = canary("handoff-argo");
    let kube = Services::load().kube();
    let groups = Groups::start(&kube, &[&ARGO]);
    let project = Project::new(
        "handoff-argo",
        r#"{ kind = "shadow", mirror-percent = 30, iterations = 3, interval = "1s", traffic-routing = { istio = "app-vs" } }"#,
        &secret,
        Some(&groups),
    );

    let (run, rollout) = project.up_with(DIGEST_A, || {
        let (rollout, generation) = project.object_and_upgrade(&groups, &ARGO, DIGEST_A);
        let observed = generation.to_string();
        for phase in ["Progressing", "Paused", "Healthy"] {
            groups.set_status(
                &ARGO,
                &project.namespace,
                "app",
                &json!({"phase": phase, "workloadObservedGeneration": observed}),
            );
        }
        rollout
    });
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(rollout["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(rollout["kind"], "Rollout");
    let spec = &rollout["spec"];
    assert_eq!(
        spec["workloadRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "app", "scaleDown": "progressively"})
    );
    let canary_strategy = &spec["strategy"]["canary"];
    assert_eq!(
        canary_strategy["trafficRouting"],
        json!({"istio": {"virtualService": {"name": "app-vs"}}, "managedRoutes": [{"name": "windlass-shadow"}]})
    );
    assert_eq!(canary_strategy["stableService"], "app-stable");
    assert_eq!(canary_strategy["canaryService"], "app-canary");
    let steps = canary_strategy["steps"].as_array().unwrap();
    assert_eq!(
        steps[1]["setMirrorRoute"],
        json!({"name": "windlass-shadow", "percentage": 30, "match": [{"path": {"prefix": "/"}}]})
    );
    assert_eq!(steps[2]["pause"]["duration"], "3s");
    let events = project.events();
    assert_eq!(
        events.last().map(String::as_str),
        Some("succeeded"),
        "{events:?}"
    );

    // v2: aborted; Helm goes back to v1.
    let (aborted, _) = project.up_with(DIGEST_B, || {
        let (rollout, generation) = project.object_and_upgrade(&groups, &ARGO, DIGEST_B);
        groups.set_status(
            &ARGO,
            &project.namespace,
            "app",
            &json!({"phase": "Degraded", "abort": true, "message": "RolloutAborted: metric error-rate failed",
                    "workloadObservedGeneration": generation.to_string()}),
        );
        rollout
    });
    assert_eq!(aborted.code, 1, "{}\n{}", aborted.stdout, aborted.stderr);
    let values = project.helm(&["get", "values", "app", "-o", "json"]);
    assert_eq!(values["image"]["digest"], DIGEST_A, "rolled back");
    let entries = project.history();
    let failed = entries.last().unwrap();
    assert_eq!(failed["event"]["kind"], "failed", "{entries:?}");
    assert!(
        failed["event"]["reason"]
            .as_str()
            .unwrap()
            .contains("metric error-rate failed"),
        "{failed}"
    );
    for text in [
        rollout.to_string().as_str(),
        &run.stdout,
        &run.stderr,
        &aborted.stdout,
        &aborted.stderr,
        &project.ledger_secrets(),
    ] {
        no_leak(text, &secret, &project.kube);
    }
}

/// `verify = true`: once Flagger promoted the new version, the
/// environment's checks run; a failing one rolls Helm back.
#[test]
fn a_failed_check_after_the_hand_off_rolls_back() {
    let secret = canary("handoff-verify");
    let kube = Services::load().kube();
    let groups = Groups::start(&kube, &[&FLAGGER]);
    let broken = tempfile::tempdir().unwrap();
    let flag = broken.path().join("broken");
    let project = Project::new(
        "handoff-verify",
        &format!(
            "{{ kind = \"shadow\", provider = \"flagger\", iterations = 1, interval = \"1s\", verify = true }}\ngates = {{ verify = [{{ name = \"smoke\", command = [\"sh\", \"-c\", \"test ! -e '{}'\"], timeout = \"2s\" }}] }}",
            flag.display()
        ),
        &secret,
        Some(&groups),
    );
    let (first, canary_object) = project.up_with(DIGEST_A, || {
        project.flagger_ends(&groups, DIGEST_A, "Succeeded", "promoted")
    });
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(
        canary_object["spec"]["analysis"],
        json!({"interval": "1s", "iterations": 1, "threshold": 1, "mirror": true})
    );

    std::fs::write(&flag, "").unwrap();
    let (second, _) = project.up_with(DIGEST_B, || {
        project.flagger_ends(&groups, DIGEST_B, "Succeeded", "promoted")
    });
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    let values = project.helm(&["get", "values", "app", "-o", "json"]);
    assert_eq!(values["image"]["digest"], DIGEST_A, "rolled back");
    let gates: Vec<String> = project
        .history()
        .iter()
        .filter(|e| e["event"]["kind"] == "gate")
        .map(|e| format!("{} {}", e["event"]["gate"], e["event"]["passed"]))
        .collect();
    assert!(
        gates
            .iter()
            .any(|g| g.starts_with("\"analysis: verify") && g.ends_with("false")),
        "{gates:?}"
    );
    let events = project.events();
    assert_eq!(
        events.last().map(String::as_str),
        Some("failed"),
        "{events:?}"
    );
    for text in [&first.stderr, &second.stdout, &second.stderr] {
        no_leak(text, &secret, &project.kube);
    }
}
