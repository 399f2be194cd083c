//! `ab` and `shadow`: the promotion handed to a progressive delivery
//! controller, because both need what a Kubernetes Service cannot do
//! (routing by request attributes, request mirroring).
//!
//! The controller is found through API discovery: Flagger serves `Canary`
//! in `flagger.app/v1beta1`, Argo Rollouts serves `Rollout` in
//! `argoproj.io/v1alpha1`. `strategy.provider` picks one (`auto`: the one
//! the cluster has; both: refused, the user chooses; neither: refused).
//!
//! One promotion:
//!
//! 1. Windlass applies (server-side apply, field manager `windlass`) the
//!    controller's object for the chart's Deployment (`strategy.target`,
//!    default the release name), built from the strategy's keys only (never
//!    from the values, so a secret in the values never reaches it),
//!    labelled with the bundle id.
//! 2. `helm upgrade` (no `--wait`: the controller, not Helm, rolls the new
//!    version out) changes the Deployment; the controller notices and runs
//!    its analysis.
//! 3. Windlass watches the object's status until the controller promoted
//!    the new version or gave up, or the time is out (the analysis's length
//!    plus the environment's timeout). Flagger: a `status.phase` of
//!    `Succeeded` (or `Initialized`, the first version of a Canary, which is
//!    promoted without analysis) or `Failed`, different from the status
//!    before the upgrade. Argo Rollouts: once `status.workloadObservedGeneration`
//!    is the Deployment's generation after the upgrade, `Healthy`, or
//!    `Degraded`/`status.abort`.
//! 4. With `strategy.verify`, the environment's checks run once the new
//!    version is promoted.
//!
//! A failure (the controller's, a timeout, a check) rolls the Helm release
//! back to the revision that was live: the controller already kept the old
//! version serving, and the rollback makes Helm's record say so.
//!
//! This module never reads the values and never sees a secret.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Discovery};
use serde_json::{Value, json};

use super::{
    FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL, RELEASE_LABEL, StepReport, StrategyError,
    StrategyReport, StrategyRun, VerifyStep, deployed_revision, failed_check, restore_revision,
    upgrade_step,
};
use crate::config::{MatchSpec, Provider, StrategyKind, StrategySpec};
use crate::helm::BUNDLE_LABEL;
use crate::kube::Cluster;

/// How often the controller's object is read while waiting.
const POLL: Duration = Duration::from_secs(1);
/// `strategy.iterations` when unset.
const DEFAULT_ITERATIONS: u32 = 10;
/// `strategy.interval` when unset.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// A progressive delivery controller Windlass hands A/B tests and shadow
/// traffic to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Flagger,
    ArgoRollouts,
}

impl Controller {
    /// Its name in messages (`Argo Rollouts`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Flagger => "Flagger",
            Self::ArgoRollouts => "Argo Rollouts",
        }
    }

    /// Its name in `strategy.provider`, step names and gates
    /// (`argo-rollouts`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Flagger => Provider::Flagger.name(),
            Self::ArgoRollouts => Provider::ArgoRollouts.name(),
        }
    }

    /// The kind its users write, found by API discovery.
    pub fn gvk(self) -> GroupVersionKind {
        match self {
            Self::Flagger => GroupVersionKind::gvk("flagger.app", "v1beta1", "Canary"),
            Self::ArgoRollouts => GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        }
    }

    fn describe_kind(self) -> String {
        let gvk = self.gvk();
        format!("`{}` of `{}/{}`", gvk.kind, gvk.group, gvk.version)
    }
}

/// The controllers the cluster serves the kinds of.
#[derive(Debug, Clone, Default)]
pub struct Detected {
    flagger: Option<ApiResource>,
    argo_rollouts: Option<ApiResource>,
}

impl Detected {
    /// The names of those found, Flagger first.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (Controller::Flagger, &self.flagger),
            (Controller::ArgoRollouts, &self.argo_rollouts),
        ]
        .into_iter()
        .filter(|(_, found)| found.is_some())
        .map(|(controller, _)| controller.name())
        .collect()
    }

    fn get(&self, controller: Controller) -> Option<&ApiResource> {
        match controller {
            Controller::Flagger => self.flagger.as_ref(),
            Controller::ArgoRollouts => self.argo_rollouts.as_ref(),
        }
    }
}

/// Asks the API server which of the controllers' kinds it serves.
pub async fn detect(cluster: &Cluster) -> Result<Detected, StrategyError> {
    let discovery = Discovery::new(cluster.client().clone())
        .filter(&["flagger.app", "argoproj.io"])
        .run()
        .await
        .map_err(|error| StrategyError::Kube {
            step: "looking for Flagger and Argo Rollouts (API discovery)".to_owned(),
            source: Box::new(cluster.api_error("API discovery", &error)),
        })?;
    let find = |controller: Controller| {
        discovery
            .resolve_gvk(&controller.gvk())
            .map(|(resource, _)| resource)
    };
    Ok(Detected {
        flagger: find(Controller::Flagger),
        argo_rollouts: find(Controller::ArgoRollouts),
    })
}

/// The controller `spec` asks for among those `detected`, or why none.
pub fn choose(
    spec: &StrategySpec,
    detected: &Detected,
) -> Result<(Controller, ApiResource), StrategyError> {
    let kind = spec.kind.name();
    let wanted = match spec.provider {
        Provider::Flagger => Controller::Flagger,
        Provider::ArgoRollouts => Controller::ArgoRollouts,
        Provider::Auto => match (&detected.flagger, &detected.argo_rollouts) {
            (Some(_), None) => Controller::Flagger,
            (None, Some(_)) => Controller::ArgoRollouts,
            (Some(_), Some(_)) => {
                return Err(StrategyError::HandOff {
                    kind,
                    field: "provider",
                    problem: "is `auto`, and this cluster has both Flagger and Argo Rollouts: which one should run it is for you to say".to_owned(),
                    hint: "set `strategy.provider = \"flagger\"` or `\"argo-rollouts\"`".to_owned(),
                });
            }
            (None, None) => {
                return Err(StrategyError::HandOff {
                    kind,
                    field: "kind",
                    problem: super::not_offered(spec.kind).to_owned(),
                    hint: "install Flagger or Argo Rollouts (with a service mesh or an ingress controller they drive), or use `kind = \"canary\"` (a share of the pods) or `\"blue-green\"`; see the trade-off table in the \"Strategies\" section of docs/deploy.md".to_owned(),
                });
            }
        },
    };
    match detected.get(wanted) {
        Some(resource) => Ok((wanted, resource.clone())),
        None => Err(StrategyError::HandOff {
            kind,
            field: "provider",
            problem: format!(
                "is `{}`, but this cluster does not serve {} ({} is not installed)",
                spec.provider.name(),
                wanted.describe_kind(),
                wanted.name()
            ),
            hint: match detected.names().as_slice() {
                [] => "install it, or use `kind = \"canary\"` or `\"blue-green\"`".to_owned(),
                found => format!(
                    "this cluster has {}: set `strategy.provider` to it, or `\"auto\"`",
                    found.join(" and ")
                ),
            },
        }),
    }
}

/// Which controller runs `spec` on `cluster`, and that `spec` gives it all
/// it needs; checked before anything changes.
pub async fn resolve(
    cluster: &Cluster,
    spec: &StrategySpec,
    release: &str,
) -> Result<(Plan, ApiResource), StrategyError> {
    let detected = detect(cluster).await?;
    let (controller, resource) = choose(spec, &detected)?;
    Ok((Plan::new(spec, release, controller)?, resource))
}

/// What the controller is asked to do, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub controller: Controller,
    pub kind: StrategyKind,
    /// The Deployment the controller takes over, and its object's name.
    pub target: String,
    pub iterations: u32,
    pub interval: Duration,
    pub threshold: u32,
    /// A/B: the header matches (a cookie is a match on `cookie`).
    pub matches: Vec<HeaderMatch>,
    /// Shadow: the share of requests copied.
    pub mirror_percent: Option<u8>,
    pub service_port: u16,
    pub target_port: Option<String>,
    /// Argo Rollouts: the router, its object and the two Services.
    pub routing: Option<Routing>,
    pub analysis_template: Option<String>,
}

/// One request match on a header's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatch {
    pub header: String,
    pub value: MatchValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchValue {
    Exact(String),
    Regex(String),
}

/// Argo Rollouts' `trafficRouting`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub router: Router,
    pub stable_service: String,
    pub canary_service: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Router {
    /// The stable Ingress.
    Nginx(String),
    /// The VirtualService.
    Istio(String),
}

impl Plan {
    /// Checks `spec` for `controller`.
    pub fn new(
        spec: &StrategySpec,
        release: &str,
        controller: Controller,
    ) -> Result<Self, StrategyError> {
        let kind = spec.kind.name();
        let config = |field: &'static str, problem: String| StrategyError::Config {
            kind,
            field,
            problem,
        };
        let interval = match spec.interval.as_deref() {
            None => DEFAULT_INTERVAL,
            Some(text) => crate::stage::parse_duration(text)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    config(
                        "interval",
                        format!("is `{text}`, not a duration (`30s`, `1m`)"),
                    )
                })?,
        };
        let iterations = spec.iterations.unwrap_or(DEFAULT_ITERATIONS);
        if iterations == 0 {
            return Err(config("iterations", "must be at least 1".to_owned()));
        }
        let threshold = spec.threshold.unwrap_or(1);
        if threshold == 0 {
            return Err(config("threshold", "must be at least 1".to_owned()));
        }
        let matches = spec
            .matches
            .iter()
            .map(|m| header_match(m).map_err(|problem| config("match", problem)))
            .collect::<Result<Vec<_>, _>>()?;
        match spec.kind {
            StrategyKind::Ab if matches.is_empty() => {
                return Err(config(
                    "match",
                    "is empty: an A/B test needs the requests that go to the new version, e.g. `match = [{ header = \"x-canary\", exact = \"insider\" }]`".to_owned(),
                ));
            }
            StrategyKind::Shadow if !matches.is_empty() => {
                return Err(config(
                    "match",
                    "is for `ab`: shadow traffic copies every request (see `mirror-percent`)"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        if spec.mirror_percent.is_some() && spec.kind != StrategyKind::Shadow {
            return Err(config("mirror-percent", "is for `shadow` only".to_owned()));
        }
        if spec.mirror_percent.is_some_and(|p| p == 0 || p > 100) {
            return Err(config(
                "mirror-percent",
                "must be between 1 and 100".to_owned(),
            ));
        }
        let target = spec.target.clone().unwrap_or_else(|| release.to_owned());
        let routing = match controller {
            Controller::Flagger => None,
            Controller::ArgoRollouts => {
                Some(routing(spec, &target).map_err(|(field, problem)| config(field, problem))?)
            }
        };
        Ok(Self {
            controller,
            kind: spec.kind,
            target,
            iterations,
            interval,
            threshold,
            matches,
            mirror_percent: spec.mirror_percent,
            service_port: spec.service_port.unwrap_or(80),
            target_port: spec.target_port.clone(),
            routing,
            analysis_template: spec.analysis_template.clone(),
        })
    }

    /// How long the analysis lasts: `iterations` times `interval`.
    pub fn analysis_length(&self) -> Duration {
        self.interval.saturating_mul(self.iterations)
    }

    /// The controller's object for the target, labelled with `labels`.
    pub fn manifest(&self, namespace: &str, labels: &serde_json::Map<String, Value>) -> Value {
        let metadata = json!({
            "name": self.target,
            "namespace": namespace,
            "labels": labels,
        });
        match self.controller {
            Controller::Flagger => json!({
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": metadata,
                "spec": self.flagger_spec(),
            }),
            Controller::ArgoRollouts => json!({
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "metadata": metadata,
                "spec": self.rollout_spec(),
            }),
        }
    }

    fn flagger_spec(&self) -> Value {
        let mut service = json!({ "port": self.service_port });
        if let Some(port) = &self.target_port {
            service["targetPort"] = port_value(port);
        }
        let mut analysis = json!({
            "interval": go_duration(self.interval),
            "iterations": self.iterations,
            "threshold": self.threshold,
        });
        if self.kind == StrategyKind::Shadow {
            analysis["mirror"] = json!(true);
            if let Some(percent) = self.mirror_percent {
                analysis["mirrorWeight"] = json!(percent);
            }
        } else {
            let matches: Vec<Value> = self
                .matches
                .iter()
                .map(|m| json!({ "headers": { m.header.clone(): m.value.as_json() } }))
                .collect();
            analysis["match"] = Value::Array(matches);
        }
        json!({
            "targetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": self.target,
            },
            "service": service,
            "analysis": analysis,
        })
    }

    fn rollout_spec(&self) -> Value {
        let route = format!("windlass-{}", self.kind.name());
        let mut steps = vec![json!({ "setCanaryScale": { "replicas": 1 } })];
        if self.kind == StrategyKind::Shadow {
            let mut mirror = json!({
                "name": route,
                "match": [{ "path": { "prefix": "/" } }],
            });
            if let Some(percent) = self.mirror_percent {
                mirror["percentage"] = json!(percent);
            }
            steps.push(json!({ "setMirrorRoute": mirror }));
        } else {
            let matches: Vec<Value> = self
                .matches
                .iter()
                .map(|m| json!({ "headerName": m.header, "headerValue": m.value.as_json() }))
                .collect();
            steps.push(json!({ "setHeaderRoute": { "name": route, "match": matches } }));
        }
        steps.push(json!({ "pause": { "duration": go_duration(self.analysis_length()) } }));
        if let Some(template) = &self.analysis_template {
            steps.push(json!({ "analysis": { "templates": [{ "templateName": template }] } }));
        }
        let mut traffic = json!({ "managedRoutes": [{ "name": route }] });
        let mut canary = json!({});
        if let Some(routing) = &self.routing {
            match &routing.router {
                Router::Nginx(ingress) => {
                    traffic["nginx"] = json!({ "stableIngress": ingress });
                }
                Router::Istio(service) => {
                    traffic["istio"] = json!({ "virtualService": { "name": service } });
                }
            }
            canary["canaryService"] = json!(routing.canary_service);
            canary["stableService"] = json!(routing.stable_service);
        }
        canary["trafficRouting"] = traffic;
        canary["steps"] = Value::Array(steps);
        json!({
            "workloadRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": self.target,
                "scaleDown": "progressively",
            },
            "strategy": { "canary": canary },
        })
    }
}

impl MatchValue {
    fn as_json(&self) -> Value {
        match self {
            Self::Exact(value) => json!({ "exact": value }),
            Self::Regex(value) => json!({ "regex": value }),
        }
    }
}

/// A `match` entry as a header match: a cookie `NAME` with value `VALUE` is
/// `NAME=VALUE` among the `cookie` header's pairs.
fn header_match(spec: &MatchSpec) -> Result<HeaderMatch, String> {
    let value = match (&spec.exact, &spec.regex) {
        (Some(exact), None) => MatchValue::Exact(exact.clone()),
        (None, Some(regex)) => MatchValue::Regex(regex.clone()),
        _ => return Err("entries need exactly one of `exact` and `regex`".to_owned()),
    };
    match (&spec.header, &spec.cookie, value) {
        (Some(header), None, value) if !header.is_empty() => Ok(HeaderMatch {
            header: header.to_ascii_lowercase(),
            value,
        }),
        (None, Some(cookie), MatchValue::Exact(exact)) if !cookie.is_empty() => Ok(HeaderMatch {
            header: "cookie".to_owned(),
            value: MatchValue::Regex(format!(
                "^(.*?;\\s*)?({}={})(;.*)?$",
                regex_escape(cookie),
                regex_escape(&exact)
            )),
        }),
        (None, Some(_), MatchValue::Regex(_)) => {
            Err("a `cookie` entry takes `exact`; for a pattern, match the `cookie` header with `header = \"cookie\"` and `regex`".to_owned())
        }
        _ => Err("entries need exactly one of `header` and `cookie`, not empty".to_owned()),
    }
}

/// `traffic-routing` checked for Argo Rollouts.
fn routing(spec: &StrategySpec, target: &str) -> Result<Routing, (&'static str, String)> {
    let Some(traffic) = &spec.traffic_routing else {
        return Err((
            "traffic-routing",
            "is required with Argo Rollouts: it routes requests through a router you name, e.g. `traffic-routing = { nginx = \"STABLE-INGRESS\" }` or `{ istio = \"VIRTUAL-SERVICE\" }`".to_owned(),
        ));
    };
    let router = match (&traffic.nginx, &traffic.istio) {
        (Some(ingress), None) => Router::Nginx(ingress.clone()),
        (None, Some(service)) => Router::Istio(service.clone()),
        _ => {
            return Err((
                "traffic-routing",
                "needs exactly one of `nginx` and `istio`".to_owned(),
            ));
        }
    };
    if spec.kind == StrategyKind::Shadow && matches!(router, Router::Nginx(_)) {
        return Err((
            "traffic-routing",
            "is `nginx`, and Argo Rollouts mirrors requests only through Istio: use `istio`, or Flagger".to_owned(),
        ));
    }
    Ok(Routing {
        router,
        stable_service: traffic
            .stable_service
            .clone()
            .unwrap_or_else(|| format!("{target}-stable")),
        canary_service: traffic
            .canary_service
            .clone()
            .unwrap_or_else(|| format!("{target}-canary")),
    })
}

/// A port number, or a port's name.
fn port_value(port: &str) -> Value {
    port.parse::<u16>()
        .map_or_else(|_| json!(port), |n| json!(n))
}

/// A duration as Go and both controllers read it (`90s`).
fn go_duration(duration: Duration) -> String {
    format!("{}s", duration.as_secs().max(1))
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What the controller's object says of the promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Waiting,
    Promoted(String),
    Failed(String),
}

/// Carries out an A/B test or shadow traffic through the controller.
pub(super) async fn run(run: &StrategyRun<'_>) -> Result<StrategyReport, StrategyError> {
    let release = run.upgrade.release.as_str();
    let (plan, resource) = resolve(run.cluster, run.spec, release).await?;
    let controller = plan.controller;
    let mut report = StrategyReport::new(plan.kind, release);
    let previous = deployed_revision(run, release).await?;

    // 1. The controller's object.
    let api: Api<DynamicObject> = Api::namespaced_with(
        run.cluster.client().clone(),
        run.cluster.namespace(),
        &resource,
    );
    let object_id = format!("{}/{}", resource.kind, plan.target);
    let before = apply(run, &plan, &api, &object_id).await?;
    report.steps.push(StepReport {
        name: "hand-off".to_owned(),
        release: release.to_owned(),
        revision: None,
        verified: true,
        checks: Vec::new(),
        detail: format!("applied {object_id} for {}", controller.name()),
    });

    // 2. The upgrade the controller notices.
    let mut request = run.upgrade.clone();
    request.wait = false;
    request.rollback_on_failure = false;
    let phase = plan.kind.name();
    let step = upgrade_step(run, &request, phase, "upgrade").await?;
    let failure = step.failure.clone();
    report.live_revision = step.revision;
    report.steps.push(step.report);
    if let Some(reason) = failure {
        if let Some(previous) = previous {
            restore_revision(run, release, previous, &mut report).await?;
        }
        return Ok(report.fail(reason));
    }

    // 3. The controller's verdict.
    let generation = match controller {
        Controller::Flagger => None,
        Controller::ArgoRollouts => deployment_generation(run.cluster, &plan.target).await?,
    };
    let outcome = verdict(run, &plan, &api, &object_id, (&before, generation)).await?;
    let (passed, detail) = match &outcome {
        Outcome::Promoted(detail) => (true, detail.clone()),
        Outcome::Failed(detail) => (false, detail.clone()),
        Outcome::Waiting => (false, String::new()),
    };
    let mut analysis = StepReport {
        name: "analysis".to_owned(),
        release: release.to_owned(),
        revision: None,
        verified: passed,
        checks: vec![super::Check {
            gate: controller.key().to_owned(),
            passed,
            detail,
        }],
        detail: format!("{} ran the {phase} on {object_id}", controller.name()),
    };

    // 4. The environment's checks, when asked for.
    if passed && run.spec.verify {
        let step = VerifyStep {
            phase: phase.to_owned(),
            release: release.to_owned(),
            service: plan.target.clone(),
            namespace: run.cluster.namespace().to_owned(),
            revision: report.live_revision,
        };
        analysis.checks.extend(run.verifier.verify(&step).await);
        analysis.verified = analysis.checks.iter().all(|c| c.passed);
    }
    super::checked(run, &analysis).await?;
    let failure = failed_check(phase, &analysis.checks);
    report.steps.push(analysis);
    if let Some(reason) = failure {
        if let Some(previous) = previous {
            restore_revision(run, release, previous, &mut report).await?;
        }
        return Ok(report.fail(reason));
    }
    report.live_revision = deployed_revision(run, release)
        .await?
        .or(report.live_revision);
    report.succeeded = true;
    Ok(report)
}

/// Applies the controller's object; its status before the upgrade.
async fn apply(
    run: &StrategyRun<'_>,
    plan: &Plan,
    api: &Api<DynamicObject>,
    object_id: &str,
) -> Result<Value, StrategyError> {
    let release = run.upgrade.release.as_str();
    let mut labels = serde_json::Map::new();
    labels.insert(MANAGED_BY_LABEL.to_owned(), json!(MANAGED_BY));
    labels.insert(RELEASE_LABEL.to_owned(), json!(release));
    if let Some(bundle) = run.upgrade.labels.get(BUNDLE_LABEL) {
        labels.insert(BUNDLE_LABEL.to_owned(), json!(bundle));
    }
    let manifest = plan.manifest(run.cluster.namespace(), &labels);
    let applied = api
        .patch(
            &plan.target,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&manifest),
        )
        .await
        .map_err(|error| StrategyError::Kube {
            step: format!("applying {object_id} for {}", plan.controller.name()),
            source: Box::new(
                run.cluster
                    .api_error(format!("applying {object_id}"), &error),
            ),
        })?;
    Ok(applied.data.get("status").cloned().unwrap_or(Value::Null))
}

/// Reads the object until the controller promoted the new version or gave
/// up, or the analysis's length plus the environment's timeout passed.
async fn verdict(
    run: &StrategyRun<'_>,
    plan: &Plan,
    api: &Api<DynamicObject>,
    object_id: &str,
    (before, generation): (&Value, Option<i64>),
) -> Result<Outcome, StrategyError> {
    let controller = plan.controller;
    let waited = plan.analysis_length() + run.upgrade.timeout;
    let deadline = Instant::now() + waited;
    loop {
        let object = api
            .get_opt(&plan.target)
            .await
            .map_err(|error| StrategyError::Kube {
                step: format!("reading {object_id}"),
                source: Box::new(
                    run.cluster
                        .api_error(format!("reading {object_id}"), &error),
                ),
            })?;
        let status = object
            .as_ref()
            .and_then(|o| o.data.get("status"))
            .cloned()
            .unwrap_or(Value::Null);
        let outcome = match controller {
            Controller::Flagger => flagger_outcome(&status, before),
            Controller::ArgoRollouts => rollout_outcome(&status, generation),
        };
        if outcome != Outcome::Waiting {
            return Ok(outcome);
        }
        if Instant::now() >= deadline {
            return Ok(Outcome::Failed(format!(
                "{} did not finish within {} s (is its controller running?)",
                controller.name(),
                waited.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The Deployment's `metadata.generation`, if it exists.
async fn deployment_generation(
    cluster: &Cluster,
    name: &str,
) -> Result<Option<i64>, StrategyError> {
    let api: Api<Deployment> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let deployment = api
        .get_opt(name)
        .await
        .map_err(|error| StrategyError::Kube {
            step: format!("reading Deployment/{name}"),
            source: Box::new(cluster.api_error(format!("reading Deployment/{name}"), &error)),
        })?;
    Ok(deployment.and_then(|d| d.metadata.generation))
}

/// Flagger's verdict, once its status moved on from `before`.
fn flagger_outcome(status: &Value, before: &Value) -> Outcome {
    if status == before {
        return Outcome::Waiting;
    }
    let phase = status.get("phase").and_then(Value::as_str).unwrap_or("");
    let message = || {
        status
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("Promoted"))
            .and_then(|c| c.get("message"))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
    };
    match phase {
        "Succeeded" | "Initialized" => Outcome::Promoted(format!(
            "phase {phase}{}",
            message().map(|m| format!(": {m}")).unwrap_or_default()
        )),
        "Failed" => Outcome::Failed(format!(
            "phase Failed: {}",
            message().unwrap_or_else(|| "the analysis failed".to_owned())
        )),
        _ => Outcome::Waiting,
    }
}

/// Argo Rollouts' verdict on the Deployment's generation `generation`.
fn rollout_outcome(status: &Value, generation: Option<i64>) -> Outcome {
    let observed = status.get("workloadObservedGeneration").and_then(|g| {
        g.as_i64()
            .or_else(|| g.as_str().and_then(|s| s.parse().ok()))
    });
    if generation.is_some() && observed != generation {
        return Outcome::Waiting;
    }
    let phase = status.get("phase").and_then(Value::as_str).unwrap_or("");
    let message = status
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or("the rollout was aborted");
    let aborted = status.get("abort").and_then(Value::as_bool) == Some(true);
    if aborted || phase == "Degraded" {
        return Outcome::Failed(format!("phase {phase}: {message}"));
    }
    if phase == "Healthy" {
        return Outcome::Promoted("phase Healthy".to_owned());
    }
    Outcome::Waiting
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrafficRoutingSpec;

    fn spec(toml: &str) -> StrategySpec {
        toml::from_str(toml).unwrap()
    }

    fn both() -> Detected {
        let resource = |c: Controller| ApiResource::from_gvk(&c.gvk());
        Detected {
            flagger: Some(resource(Controller::Flagger)),
            argo_rollouts: Some(resource(Controller::ArgoRollouts)),
        }
    }

    #[test]
    fn the_provider_is_the_one_installed_or_chosen() {
        let ab = spec("kind = \"ab\"");
        let mut only_argo = both();
        only_argo.flagger = None;
        assert_eq!(choose(&ab, &only_argo).unwrap().0, Controller::ArgoRollouts);
        let error = choose(&ab, &both()).unwrap_err().to_string();
        assert!(error.contains("both Flagger and Argo Rollouts"), "{error}");
        let flagger = spec("kind = \"ab\"\nprovider = \"flagger\"");
        assert_eq!(choose(&flagger, &both()).unwrap().0, Controller::Flagger);
        let error = choose(&flagger, &only_argo).unwrap_err();
        assert!(
            error.to_string().contains("Flagger is not installed"),
            "{error}"
        );
        let error = choose(&ab, &Detected::default()).unwrap_err().to_string();
        assert!(error.contains("not offered"), "{error}");
    }

    #[test]
    fn flagger_canary_for_ab_and_shadow() {
        let ab = spec(
            r#"
            kind = "ab"
            match = [{ header = "X-Canary", exact = "insider" }, { cookie = "canary", exact = "always" }, { header = "user-agent", regex = ".*Firefox.*" }]
            iterations = 5
            interval = "30s"
            service-port = 8080
            target-port = "http"
            "#,
        );
        let plan = Plan::new(&ab, "app", Controller::Flagger).unwrap();
        let canary = plan.manifest("ns", &serde_json::Map::new());
        assert_eq!(
            canary["spec"],
            json!({
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                "service": {"port": 8080, "targetPort": "http"},
                "analysis": {
                    "interval": "30s", "iterations": 5, "threshold": 1,
                    "match": [
                        {"headers": {"x-canary": {"exact": "insider"}}},
                        {"headers": {"cookie": {"regex": "^(.*?;\\s*)?(canary=always)(;.*)?$"}}},
                        {"headers": {"user-agent": {"regex": ".*Firefox.*"}}},
                    ],
                },
            })
        );
        let shadow = spec("kind = \"shadow\"\nmirror-percent = 50\ntarget = \"web\"");
        let plan = Plan::new(&shadow, "app", Controller::Flagger).unwrap();
        let canary = plan.manifest("ns", &serde_json::Map::new());
        assert_eq!(canary["metadata"]["name"], "web");
        assert_eq!(
            canary["spec"]["analysis"],
            json!({"interval": "60s", "iterations": 10, "threshold": 1, "mirror": true, "mirrorWeight": 50})
        );
    }

    #[test]
    fn argo_rollout_for_ab_and_shadow() {
        let mut ab = spec(
            "kind = \"ab\"\nmatch = [{ header = \"x-canary\", exact = \"yes\" }]\niterations = 2\ninterval = \"1m\"\nanalysis-template = \"success-rate\"",
        );
        let error = Plan::new(&ab, "app", Controller::ArgoRollouts)
            .unwrap_err()
            .to_string();
        assert!(error.contains("traffic-routing"), "{error}");
        ab.traffic_routing = Some(TrafficRoutingSpec {
            nginx: Some("app".to_owned()),
            ..TrafficRoutingSpec::default()
        });
        let plan = Plan::new(&ab, "app", Controller::ArgoRollouts).unwrap();
        let rollout = plan.manifest("ns", &serde_json::Map::new());
        assert_eq!(
            rollout["spec"],
            json!({
                "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app", "scaleDown": "progressively"},
                "strategy": {"canary": {
                    "canaryService": "app-canary",
                    "stableService": "app-stable",
                    "trafficRouting": {"managedRoutes": [{"name": "windlass-ab"}], "nginx": {"stableIngress": "app"}},
                    "steps": [
                        {"setCanaryScale": {"replicas": 1}},
                        {"setHeaderRoute": {"name": "windlass-ab", "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}]}},
                        {"pause": {"duration": "120s"}},
                        {"analysis": {"templates": [{"templateName": "success-rate"}]}},
                    ],
                }},
            })
        );
        let mut shadow = spec("kind = \"shadow\"\nmirror-percent = 20");
        shadow.traffic_routing = ab.traffic_routing.clone();
        let error = Plan::new(&shadow, "app", Controller::ArgoRollouts)
            .unwrap_err()
            .to_string();
        assert!(error.contains("only through Istio"), "{error}");
        shadow.traffic_routing = Some(TrafficRoutingSpec {
            istio: Some("app-vs".to_owned()),
            ..TrafficRoutingSpec::default()
        });
        let plan = Plan::new(&shadow, "app", Controller::ArgoRollouts).unwrap();
        let steps =
            &plan.manifest("ns", &serde_json::Map::new())["spec"]["strategy"]["canary"]["steps"];
        assert_eq!(
            steps[1],
            json!({"setMirrorRoute": {"name": "windlass-shadow", "percentage": 20, "match": [{"path": {"prefix": "/"}}]}})
        );
    }

    #[test]
    fn bad_strategy_keys_are_refused() {
        for (toml, field) in [
            ("kind = \"ab\"", "match"),
            ("kind = \"ab\"\nmatch = [{ header = \"a\" }]", "match"),
            (
                "kind = \"ab\"\nmatch = [{ cookie = \"a\", regex = \"b\" }]",
                "match",
            ),
            (
                "kind = \"shadow\"\nmatch = [{ header = \"a\", exact = \"b\" }]",
                "match",
            ),
            ("kind = \"shadow\"\nmirror-percent = 0", "mirror-percent"),
            ("kind = \"shadow\"\ninterval = \"soon\"", "interval"),
            ("kind = \"shadow\"\niterations = 0", "iterations"),
        ] {
            let error = Plan::new(&spec(toml), "app", Controller::Flagger)
                .unwrap_err()
                .to_string();
            assert!(error.contains(&format!("`{field}`")), "{toml}: {error}");
        }
    }

    #[test]
    fn the_controllers_verdicts() {
        let before = json!({"phase": "Succeeded", "lastTransitionTime": "t1"});
        assert_eq!(flagger_outcome(&before, &before), Outcome::Waiting);
        assert_eq!(
            flagger_outcome(&json!({"phase": "Progressing"}), &before),
            Outcome::Waiting
        );
        assert_eq!(
            flagger_outcome(
                &json!({"phase": "Failed", "conditions": [{"type": "Promoted", "message": "Canary analysis failed"}]}),
                &before
            ),
            Outcome::Failed("phase Failed: Canary analysis failed".to_owned())
        );
        assert_eq!(
            flagger_outcome(
                &json!({"phase": "Succeeded", "lastTransitionTime": "t2"}),
                &before
            ),
            Outcome::Promoted("phase Succeeded".to_owned())
        );
        let healthy = json!({"phase": "Healthy", "workloadObservedGeneration": "3"});
        assert_eq!(rollout_outcome(&healthy, Some(4)), Outcome::Waiting);
        assert_eq!(
            rollout_outcome(&healthy, Some(3)),
            Outcome::Promoted("phase Healthy".to_owned())
        );
        assert!(matches!(
            rollout_outcome(
                &json!({"phase": "Degraded", "abort": true, "message": "RolloutAborted", "workloadObservedGeneration": 3}),
                Some(3)
            ),
            Outcome::Failed(_)
        ));
    }
}
