//! The deployment strategies on the real test cluster (v1.20.2 with a fake
//! kubelet, `Services::kube`) and the real Helm, with the test chart, each
//! test in a namespace of its own. Each strategy deploys v1 then v2; the
//! verifier is a closure that records what the API shows at each step and
//! passes or fails on demand.
//!
//! - rolling: a failed verification rolls back to the revision that was
//!   live.
//! - recreate: a watch on the release's pods shows no old pod left when the
//!   first new one appears.
//! - blue/green: the Service's selector switches colour, a failed check
//!   after the switch switches it back, a broken idle colour never gets
//!   traffic, a Service that is not Windlass's is refused.
//! - canary: the replica counts at each step, and an abort (failed check,
//!   broken image) that uninstalls the canary and scales the stable back.
//! - the verifier hears of each step's checks as the step ends and of a
//!   switch before it is made; without the rollout wait a step has no
//!   rollout check.
//!
//! Every upgrade carries a canary secret in its values; no report or error
//! shows it, nor the cluster's token.
#![allow(
    clippy::unwrap_used,
    reason = "setup functions outside #[test] fns panic on purpose: a broken harness must fail the test"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, WatchEvent, WatchParams};
use serde_json::json;
use windlass_config::Environment;
use windlass_deploy::config::{StrategyKind, StrategySpec};
use windlass_deploy::helm::chart::{self, DEFAULT_MTIME};
use windlass_deploy::helm::{BUNDLE_LABEL, Helm, UpgradeRequest};
use windlass_deploy::kube::{Cluster, Target};
use windlass_deploy::strategy::{
    self, Check, LastDeployed, StepReport, StrategyError, StrategyReport, StrategyRun, Switch,
    Verifier, VerifyStep, verifier_fn,
};
use windlass_testkit::{Services, assert_no_leak, canary};

/// In the values of every upgrade.
static SECRET: LazyLock<String> = LazyLock::new(|| canary("strategy-values"));

/// Neither the values' secret nor the cluster's token in `text`.
fn no_leak(text: &str) {
    assert_no_leak(text.as_bytes(), &SECRET);
    assert_no_leak(text.as_bytes(), Services::load().kube().token.expose());
}

/// A namespace of the test cluster, Helm and a connection bound to it, the
/// test chart packaged.
struct Fixture {
    helm: Helm,
    cluster: Cluster,
    archive: PathBuf,
    _dir: tempfile::TempDir,
}

async fn fixture(prefix: &str) -> Fixture {
    let kube = Services::load().kube();
    let namespace = kube.fresh_namespace(prefix);
    let helm = Helm::new(
        kube.helm.clone(),
        Some(kube.kubeconfig.clone()),
        Some(kube.context.clone()),
        namespace.clone(),
    );
    let target = Target {
        kubeconfig: Some(kube.kubeconfig.clone()),
        context: Some(kube.context.clone()),
        namespace: Some(namespace),
    };
    let cluster = Cluster::connect(&target, &Environment::default())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let chart_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts/app");
    let archive = chart::package(&chart_dir, dir.path(), DEFAULT_MTIME)
        .unwrap()
        .archive;
    Fixture {
        helm,
        cluster,
        archive,
        _dir: dir,
    }
}

fn image(version: &str) -> String {
    format!("registry.test/app:{version}")
}

/// The normal upgrade of release `app` to `version` with `replicas` pods.
fn upgrade(fx: &Fixture, version: &str, replicas: u32) -> UpgradeRequest {
    UpgradeRequest {
        release: "app".to_owned(),
        archive: fx.archive.clone(),
        values: vec![json!({
            "image": {"reference": image(version)},
            "replicaCount": replicas,
            "config": {"message": version},
            "secret": {"token": &*SECRET},
        })],
        wait: true,
        timeout: Duration::from_secs(60),
        rollback_on_failure: true,
        description: format!("test {version}"),
        labels: BTreeMap::from([(BUNDLE_LABEL.to_owned(), version.to_owned())]),
    }
}

fn spec(kind: StrategyKind) -> StrategySpec {
    StrategySpec {
        kind,
        ..StrategySpec::default()
    }
}

/// What the verifier saw at one step: the step, and what the test asked
/// the cluster at that moment.
#[derive(Debug, Clone)]
struct Seen {
    step: VerifyStep,
    observed: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Runs `spec` with a verifier that records each step with `observe`'s
/// answer and fails the phases in `fail`.
async fn deploy<O, Fut>(
    fx: &Fixture,
    spec: &StrategySpec,
    upgrade: &UpgradeRequest,
    fail: &[&str],
    observe: O,
) -> (Result<StrategyReport, StrategyError>, Vec<Seen>)
where
    O: Fn(Cluster, VerifyStep) -> Fut + Sync,
    Fut: std::future::Future<Output = String> + Send + 'static,
{
    let log: Log = Arc::default();
    let fail: Vec<String> = fail.iter().map(|s| (*s).to_owned()).collect();
    let verifier = verifier_fn(|step: VerifyStep| {
        let log = log.clone();
        let passed = !fail.contains(&step.phase);
        let observation = observe(fx.cluster.clone(), step.clone());
        async move {
            let observed = observation.await;
            log.lock().unwrap().push(Seen { step, observed });
            vec![Check {
                gate: "test".to_owned(),
                passed,
                detail: if passed { "ok" } else { "told to fail" }.to_owned(),
            }]
        }
    });
    let run = StrategyRun {
        spec,
        helm: &fx.helm,
        cluster: &fx.cluster,
        upgrade,
        pause: Duration::from_millis(200),
        verifier: &verifier,
        rollout: true,
        deployed: LastDeployed::Unread,
    };
    let result = strategy::run(&run).await;
    let seen = log.lock().unwrap().clone();
    (result, seen)
}

async fn nothing(_: Cluster, _: VerifyStep) -> String {
    String::new()
}

async fn deployment(cluster: &Cluster, name: &str) -> Option<Deployment> {
    Api::<Deployment>::namespaced(cluster.client().clone(), cluster.namespace())
        .get_opt(name)
        .await
        .unwrap()
}

/// `replicas image` of a Deployment, `-` when it does not exist.
async fn shape(cluster: &Cluster, name: &str) -> String {
    match deployment(cluster, name).await {
        None => "-".to_owned(),
        Some(d) => {
            let spec = d.spec.unwrap();
            let image = spec.template.spec.unwrap().containers[0]
                .image
                .clone()
                .unwrap();
            format!("{} {image}", spec.replicas.unwrap())
        }
    }
}

async fn service_selector(cluster: &Cluster, name: &str) -> BTreeMap<String, String> {
    let service = Api::<Service>::namespaced(cluster.client().clone(), cluster.namespace())
        .get(name)
        .await
        .unwrap();
    let labels = service.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("windlass"),
        "{labels:?}"
    );
    service.spec.unwrap().selector.unwrap()
}

fn ok(result: Result<StrategyReport, StrategyError>) -> StrategyReport {
    let report = result.unwrap_or_else(|e| panic!("strategy error: {e}: {e:?}"));
    no_leak(&format!("{report:?}"));
    no_leak(&serde_json::to_string(&report).unwrap());
    assert!(report.succeeded, "{report:#?}");
    report
}

fn failed(result: Result<StrategyReport, StrategyError>) -> StrategyReport {
    let report = result.unwrap_or_else(|e| panic!("strategy error: {e}: {e:?}"));
    no_leak(&format!("{report:?}"));
    no_leak(&serde_json::to_string(&report).unwrap());
    assert!(!report.succeeded, "{report:#?}");
    assert!(report.reason.is_some(), "{report:#?}");
    report
}

fn phases(seen: &[Seen]) -> Vec<(String, String, String)> {
    seen.iter()
        .map(|s| {
            (
                s.step.phase.clone(),
                s.step.release.clone(),
                s.step.service.clone(),
            )
        })
        .collect()
}

fn triple(phase: &str, release: &str, service: &str) -> (String, String, String) {
    (phase.to_owned(), release.to_owned(), service.to_owned())
}

// ------------------------------------------------------------- rolling --

#[tokio::test]
async fn rolling_upgrades_in_place_and_a_failed_check_rolls_back() {
    let fx = fixture("strat-rolling").await;
    let spec = spec(StrategyKind::Rolling);
    let (result, seen) = deploy(&fx, &spec, &upgrade(&fx, "v1", 2), &[], nothing).await;
    let report = ok(result);
    assert_eq!(report.live_release, "app");
    assert_eq!(report.live_revision, Some(1));
    assert_eq!(phases(&seen), [triple("rolling", "app", "app")]);

    let (result, _) = deploy(&fx, &spec, &upgrade(&fx, "v2", 2), &[], nothing).await;
    assert_eq!(ok(result).live_revision, Some(2));
    assert_eq!(
        shape(&fx.cluster, "app").await,
        format!("2 {}", image("v2"))
    );

    // v3 fails its check: back to revision 2 (as revision 4).
    let (result, _) = deploy(&fx, &spec, &upgrade(&fx, "v3", 2), &["rolling"], nothing).await;
    let report = failed(result);
    assert!(
        report.reason.as_deref().unwrap().contains("told to fail"),
        "{report:#?}"
    );
    assert_eq!(report.live_revision, Some(4));
    assert!(report.restored.unwrap().contains("revision 2"));
    assert_eq!(
        shape(&fx.cluster, "app").await,
        format!("2 {}", image("v2"))
    );
    let history = fx.helm.history("app").await.unwrap();
    assert_eq!(history.last().unwrap().status, "deployed");
    assert!(
        history
            .last()
            .unwrap()
            .description
            .contains("Rollback to 2")
    );
}

// ------------------------------------------------------------ recreate --

type Watcher = tokio::task::JoinHandle<Vec<(String, String, String)>>;

/// Pod events of release `app` (`ADDED name image`, `DELETED name image`)
/// from a watch started now, until `stop` is sent.
fn watch_pods(cluster: &Cluster) -> (tokio::sync::oneshot::Sender<()>, Watcher) {
    let api = Api::<Pod>::namespaced(cluster.client().clone(), cluster.namespace());
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let params = WatchParams::default()
            .labels("app.kubernetes.io/instance=app")
            .timeout(50);
        let mut stream = api.watch(&params, "0").await.unwrap().boxed();
        let mut events = Vec::new();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                event = stream.next() => {
                    let Some(event) = event else { break };
                    let (kind, pod) = match event.unwrap() {
                        WatchEvent::Added(pod) | WatchEvent::Modified(pod) => ("ADDED", pod),
                        WatchEvent::Deleted(pod) => ("DELETED", pod),
                        _ => continue,
                    };
                    let name = pod.metadata.name.clone().unwrap();
                    let image = pod.spec.unwrap().containers[0].image.clone().unwrap();
                    events.push((kind.to_owned(), name, image));
                }
            }
        }
        events
    });
    (stop, task)
}

#[tokio::test]
async fn recreate_stops_every_old_pod_before_a_new_one_starts() {
    let fx = fixture("strat-recreate").await;
    let spec = spec(StrategyKind::Recreate);
    let (result, _) = deploy(&fx, &spec, &upgrade(&fx, "v1", 3), &[], nothing).await;
    let report = ok(result);
    assert!(report.steps.iter().all(|s| s.name != "scale-down"));
    let (stop, watcher) = watch_pods(&fx.cluster);
    // Let the watch list the v1 pods first.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (result, seen) = deploy(&fx, &spec, &upgrade(&fx, "v2", 3), &[], nothing).await;
    let report = ok(result);
    stop.send(()).unwrap();
    let events = watcher.await.unwrap();
    let names: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["scale-down", "recreate"], "{report:#?}");
    assert!(
        report.steps[0].detail.contains("Deployment/app (3 -> 0)"),
        "{report:#?}"
    );
    assert_eq!(phases(&seen), [triple("recreate", "app", "app")]);

    // Replay: when the first v2 pod appears, no v1 pod is left.
    let mut live: BTreeMap<String, String> = BTreeMap::new();
    let mut old_seen = 0;
    let mut new_seen = false;
    for (kind, name, image) in &events {
        if kind == "DELETED" {
            live.remove(name);
            continue;
        }
        if image == &self::image("v1") {
            old_seen += 1;
        }
        if image == &self::image("v2") && !new_seen {
            new_seen = true;
            assert!(
                live.values().all(|i| i != &self::image("v1")),
                "a v2 pod started while v1 pods ran: {live:?}\n{events:?}"
            );
        }
        live.insert(name.clone(), image.clone());
    }
    assert!(old_seen >= 3, "the watch saw the v1 pods: {events:?}");
    assert!(new_seen, "the watch saw the v2 pods: {events:?}");
    assert_eq!(
        shape(&fx.cluster, "app").await,
        format!("3 {}", image("v2"))
    );
}

// ---------------------------------------------------------- blue/green --

async fn observe_selector(cluster: Cluster, _: VerifyStep) -> String {
    service_selector(&cluster, "app")
        .await
        .get("app.kubernetes.io/instance")
        .cloned()
        .unwrap_or_default()
}

async fn observe_selector_if_any(cluster: Cluster, step: VerifyStep) -> String {
    if step.phase == "idle" {
        return String::new();
    }
    observe_selector(cluster, step).await
}

#[tokio::test]
async fn blue_green_switches_the_service_and_switches_back_on_failure() {
    let fx = fixture("strat-bluegreen").await;
    let spec = spec(StrategyKind::BlueGreen);
    let instance = |s: BTreeMap<String, String>| s["app.kubernetes.io/instance"].clone();

    // v1: blue, and the Service created pointing at it.
    let (result, seen) = deploy(
        &fx,
        &spec,
        &upgrade(&fx, "v1", 2),
        &[],
        observe_selector_if_any,
    )
    .await;
    let report = ok(result);
    assert_eq!(report.live_release, "app-blue");
    assert_eq!(
        phases(&seen),
        [
            triple("idle", "app-blue", "app-blue"),
            triple("live", "app-blue", "app")
        ]
    );
    assert_eq!(seen[1].observed, "app-blue");
    assert_eq!(
        instance(service_selector(&fx.cluster, "app").await),
        "app-blue"
    );

    // v2: green, switched; blue kept running.
    let (result, seen) = deploy(
        &fx,
        &spec,
        &upgrade(&fx, "v2", 2),
        &[],
        observe_selector_if_any,
    )
    .await;
    let report = ok(result);
    assert_eq!(report.live_release, "app-green");
    assert_eq!(report.live_revision, Some(1));
    assert_eq!(seen[0].step.release, "app-green");
    assert_eq!(seen[1].observed, "app-green");
    assert_eq!(
        instance(service_selector(&fx.cluster, "app").await),
        "app-green"
    );
    assert_eq!(
        shape(&fx.cluster, "app-blue").await,
        format!("2 {}", image("v1"))
    );
    assert_eq!(
        shape(&fx.cluster, "app-green").await,
        format!("2 {}", image("v2"))
    );

    // v3 goes to blue, fails its check once live: switched back to green.
    let (result, seen) = deploy(
        &fx,
        &spec,
        &upgrade(&fx, "v3", 2),
        &["live"],
        observe_selector_if_any,
    )
    .await;
    let report = failed(result);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].observed, "app-blue", "the switch happened");
    assert_eq!(report.live_release, "app-green");
    assert!(
        report
            .restored
            .as_deref()
            .unwrap()
            .contains("switched back"),
        "{report:#?}"
    );
    assert_eq!(
        instance(service_selector(&fx.cluster, "app").await),
        "app-green"
    );
    assert_eq!(
        shape(&fx.cluster, "app-blue").await,
        format!("2 {}", image("v3")),
        "the failed colour is left for inspection"
    );

    broken_idle_gets_no_traffic_and_the_old_colour_scales_down(&fx, spec).await;
}

/// After v3 failed in blue (green live with v2): a broken v4 in blue, then
/// v5 with `scale-down-old`.
async fn broken_idle_gets_no_traffic_and_the_old_colour_scales_down(
    fx: &Fixture,
    spec: StrategySpec,
) {
    let instance = |s: BTreeMap<String, String>| s["app.kubernetes.io/instance"].clone();
    // A broken v4 never becomes ready in blue: no switch at all.
    let mut broken = upgrade(fx, "broken", 2);
    broken.timeout = Duration::from_secs(10);
    let (result, seen) = deploy(fx, &spec, &broken, &[], observe_selector_if_any).await;
    let report = failed(result);
    assert!(
        seen.is_empty(),
        "no check runs on a failed upgrade: {seen:?}"
    );
    assert_eq!(report.live_release, "app-green");
    assert!(
        report.reason.as_deref().unwrap().contains("app-blue"),
        "{report:#?}"
    );
    assert_eq!(
        instance(service_selector(&fx.cluster, "app").await),
        "app-green"
    );

    // scale-down-old: v5 to blue, green scaled to zero once blue is live.
    let spec = StrategySpec {
        scale_down_old: true,
        ..spec
    };
    let (result, _) = deploy(fx, &spec, &upgrade(fx, "v5", 2), &[], nothing).await;
    let report = ok(result);
    assert_eq!(report.live_release, "app-blue");
    assert_eq!(report.steps.last().unwrap().name, "scale-down-old");
    assert_eq!(
        shape(&fx.cluster, "app-green").await,
        format!("0 {}", image("v2"))
    );
}

#[tokio::test]
async fn blue_green_refuses_a_service_it_does_not_own() {
    let fx = fixture("strat-foreign").await;
    let kube = Services::load().kube();
    kube.apply(
        fx.cluster.namespace(),
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"app"},
            "spec":{"selector":{"a":"b"},"ports":[{"port":80,"protocol":"TCP"}]}}"#,
    );
    let (result, seen) = deploy(
        &fx,
        &spec(StrategyKind::BlueGreen),
        &upgrade(&fx, "v1", 1),
        &[],
        nothing,
    )
    .await;
    let error = result.unwrap_err();
    no_leak(&format!("{error} {error:?}"));
    assert!(
        matches!(error, StrategyError::ForeignService { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("`app`"), "{error}");
    assert_eq!(
        windlass_diagnostic::Diagnostic::exit_status(&error),
        windlass_diagnostic::ExitStatus::Usage
    );
    assert!(seen.is_empty());
    assert!(fx.helm.history("app-blue").await.unwrap().is_empty());
}

// -------------------------------------------------------------- canary --

/// `stable=REPLICAS canary=REPLICAS` from the Deployments' specs.
async fn observe_split(cluster: Cluster, _: VerifyStep) -> String {
    let replicas = |d: Option<Deployment>| {
        d.map_or_else(
            || "-".to_owned(),
            |d| d.spec.unwrap().replicas.unwrap().to_string(),
        )
    };
    format!(
        "stable={} canary={}",
        replicas(deployment(&cluster, "app").await),
        replicas(deployment(&cluster, "app-canary").await)
    )
}

#[tokio::test]
async fn canary_steps_through_the_replica_shares_and_aborts_on_failure() {
    let fx = fixture("strat-canary").await;
    let spec = StrategySpec {
        kind: StrategyKind::Canary,
        steps: vec![25, 50, 100],
        ..StrategySpec::default()
    };

    // v1: a first install is the stable release, with the Service.
    let (result, seen) = deploy(&fx, &spec, &upgrade(&fx, "v1", 4), &[], observe_split).await;
    let report = ok(result);
    assert_eq!(phases(&seen), [triple("install", "app", "app-traffic")]);
    assert_eq!(report.live_release, "app");
    assert_eq!(
        service_selector(&fx.cluster, "app-traffic").await,
        BTreeMap::from([("app.kubernetes.io/name".to_owned(), "app".to_owned())])
    );

    // v2 through 25%, 50%, 100%, then promoted.
    let (result, seen) = deploy(&fx, &spec, &upgrade(&fx, "v2", 4), &[], observe_split).await;
    let report = ok(result);
    let observed: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.step.phase.as_str(), s.observed.as_str()))
        .collect();
    assert_eq!(
        observed,
        [
            ("canary 25%", "stable=3 canary=1"),
            ("canary 50%", "stable=2 canary=2"),
            ("canary 100%", "stable=0 canary=4"),
            ("stable", "stable=4 canary=-"),
        ]
    );
    assert_eq!(seen[0].step.release, "app-canary");
    assert_eq!(seen[0].step.service, "app-traffic");
    assert_eq!(report.live_revision, Some(2));
    assert_eq!(
        shape(&fx.cluster, "app").await,
        format!("4 {}", image("v2"))
    );
    assert!(fx.helm.history("app-canary").await.unwrap().is_empty());

    // v3 fails its check at 50%: canary gone, stable back to 4 pods of v2.
    let (result, seen) = deploy(
        &fx,
        &spec,
        &upgrade(&fx, "v3", 4),
        &["canary 50%"],
        observe_split,
    )
    .await;
    let report = failed(result);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].observed, "stable=2 canary=2");
    assert_eq!(report.live_release, "app");
    assert_eq!(report.live_revision, Some(2));
    assert!(
        report
            .restored
            .as_deref()
            .unwrap()
            .contains("Deployment/app to 4"),
        "{report:#?}"
    );
    assert_eq!(
        shape(&fx.cluster, "app").await,
        format!("4 {}", image("v2"))
    );
    assert_eq!(shape(&fx.cluster, "app-canary").await, "-");
    assert!(fx.helm.history("app-canary").await.unwrap().is_empty());

    // A broken canary never becomes ready: aborted at its first step.
    let mut broken = upgrade(&fx, "broken", 4);
    broken.timeout = Duration::from_secs(10);
    let (result, seen) = deploy(&fx, &spec, &broken, &[], observe_split).await;
    let report = failed(result);
    assert!(seen.is_empty(), "{seen:?}");
    assert!(
        report.reason.as_deref().unwrap().starts_with("canary 25%"),
        "{report:#?}"
    );
    assert_eq!(
        shape(&fx.cluster, "app").await,
        format!("4 {}", image("v2"))
    );
    assert_eq!(shape(&fx.cluster, "app-canary").await, "-");
}

#[tokio::test]
async fn canary_cleans_up_what_a_killed_run_left() {
    let fx = fixture("strat-canary-killed").await;
    let spec = StrategySpec {
        kind: StrategyKind::Canary,
        steps: vec![50],
        ..StrategySpec::default()
    };
    let (result, _) = deploy(&fx, &spec, &upgrade(&fx, "v1", 4), &[], nothing).await;
    ok(result);
    // A run killed at its 75% step: a canary of 3, the stable scaled to 1.
    let mut leftover = upgrade(&fx, "v2", 3);
    leftover.release = "app-canary".to_owned();
    fx.helm.upgrade_install(&leftover).await.unwrap();
    let kube = Services::load().kube();
    kube.kubectl(&[
        "-n",
        fx.cluster.namespace(),
        "scale",
        "deployment/app",
        "--replicas=1",
    ]);

    let (result, seen) = deploy(&fx, &spec, &upgrade(&fx, "v2", 4), &[], observe_split).await;
    let report = ok(result);
    assert_eq!(report.steps[0].name, "cleanup", "{report:#?}");
    assert!(
        report.steps[0].detail.contains("unfinished promotion"),
        "{report:#?}"
    );
    let observed: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.step.phase.as_str(), s.observed.as_str()))
        .collect();
    assert_eq!(
        observed,
        [
            ("canary 50%", "stable=2 canary=2"),
            ("stable", "stable=4 canary=-"),
        ]
    );
    assert_eq!(
        shape(&fx.cluster, "app").await,
        format!("4 {}", image("v2"))
    );
}

#[tokio::test]
async fn a_canary_without_steps_or_a_namespace_mismatch_is_refused_before_any_change() {
    let fx = fixture("strat-nosteps").await;
    let (result, _) = deploy(
        &fx,
        &spec(StrategyKind::Canary),
        &upgrade(&fx, "v1", 1),
        &[],
        nothing,
    )
    .await;
    let error = result.unwrap_err();
    no_leak(&format!("{error} {error:?}"));
    assert!(error.to_string().contains("`steps` is empty"), "{error}");
    assert_eq!(
        windlass_diagnostic::Diagnostic::exit_status(&error),
        windlass_diagnostic::ExitStatus::Usage
    );
    assert!(fx.helm.history("app").await.unwrap().is_empty());

    // Helm and the API connection must work in one namespace.
    let kube = Services::load().kube();
    let elsewhere = Helm::new(
        kube.helm.clone(),
        Some(kube.kubeconfig.clone()),
        Some(kube.context.clone()),
        "elsewhere".to_owned(),
    );
    let verifier = verifier_fn(|_| async { Vec::new() });
    let error = strategy::run(&StrategyRun {
        spec: &spec(StrategyKind::Rolling),
        helm: &elsewhere,
        cluster: &fx.cluster,
        upgrade: &upgrade(&fx, "v1", 1),
        pause: Duration::ZERO,
        verifier: &verifier,
        rollout: true,
        deployed: LastDeployed::Unread,
    })
    .await
    .unwrap_err();
    assert!(
        matches!(error, StrategyError::Namespace { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("`elsewhere`"), "{error}");
}

/// A verifier that passes every check and logs, in order, each call of
/// its three methods.
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<String>>,
}

impl Verifier for Recorder {
    fn verify<'a>(
        &'a self,
        step: &'a VerifyStep,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Check>> + Send + 'a>> {
        self.log
            .lock()
            .unwrap()
            .push(format!("verify {} {}", step.phase, step.release));
        Box::pin(async {
            vec![Check {
                gate: "test".to_owned(),
                passed: true,
                detail: "ok".to_owned(),
            }]
        })
    }

    fn checked<'a>(
        &'a self,
        step: &'a StepReport,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        let gates: Vec<&str> = step.checks.iter().map(|c| c.gate.as_str()).collect();
        self.log
            .lock()
            .unwrap()
            .push(format!("checked {} [{}]", step.name, gates.join(",")));
        Box::pin(async { Ok(()) })
    }

    fn switching<'a>(
        &'a self,
        switch: &'a Switch,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        self.log.lock().unwrap().push(format!(
            "switching {} {} -> {}",
            switch.service,
            switch.from.as_deref().unwrap_or("none"),
            switch.to
        ));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn each_step_is_told_as_it_ends_and_the_switch_before_it_is_made() {
    let fx = fixture("strat-told").await;
    let spec = spec(StrategyKind::BlueGreen);
    let run = |upgrade, verifier, rollout| StrategyRun {
        spec: &spec,
        helm: &fx.helm,
        cluster: &fx.cluster,
        upgrade,
        pause: Duration::ZERO,
        verifier,
        rollout,
        deployed: LastDeployed::Unread,
    };

    let first = Recorder::default();
    let upgrade_v1 = upgrade(&fx, "v1", 1);
    ok(strategy::run(&run(&upgrade_v1, &first, true)).await);
    assert_eq!(
        *first.log.lock().unwrap(),
        [
            "verify idle app-blue",
            "checked idle [rollout,test]",
            "switching app none -> app-blue",
            "verify live app-blue",
            "checked switch [test]",
        ]
    );

    // `gates.rollout = false`: no rollout wait, no rollout check.
    let second = Recorder::default();
    let upgrade_v2 = upgrade(&fx, "v2", 1);
    let report = ok(strategy::run(&run(&upgrade_v2, &second, false)).await);
    assert_eq!(report.live_release, "app-green");
    assert_eq!(
        *second.log.lock().unwrap(),
        [
            "verify idle app-green",
            "checked idle [test]",
            "switching app app-blue -> app-green",
            "verify live app-green",
            "checked switch [test]",
        ]
    );
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.checks.iter().all(|c| c.gate != "rollout")),
        "{report:?}"
    );
}
