//! How a new bundle replaces the running one, on plain Helm charts (what
//! Argo Rollouts does for its own `Rollout` objects, without asking the
//! chart to change):
//!
//! - `rolling` (default): one `helm upgrade`, the chart's own rolling
//!   update, then verification; a failed verification rolls back to the
//!   revision that was live.
//! - `recreate`: every Deployment and StatefulSet of the release scaled to
//!   zero through the API, until no pod of the release remains; then the
//!   upgrade. There is downtime, from the scale-down until the new pods are
//!   ready; in exchange two versions never run at once.
//! - `blue-green` ([`blue_green`]): two releases `RELEASE-blue` and
//!   `RELEASE-green`, one Service that Windlass owns pointing at the live
//!   colour; the idle colour is upgraded, verified, then the Service is
//!   switched; switching back is instant.
//! - `canary` ([`canary`]): a second release `RELEASE-canary` taking a
//!   growing share of the pods behind one Service, step by step, with a
//!   pause and a verification at each step.
//! - `ab` and `shadow` ([`handoff`]): handed to Flagger or Argo Rollouts,
//!   found in the cluster by API discovery; refused when it has neither.
//!
//! [`run`] drives one promotion and calls the [`Verifier`] after each step.
//! On a failure it puts back what was live (a Helm rollback, the Service
//! switched back, the canary removed) and says so in its report: a failure
//! of the new version is an `Ok` report with `succeeded: false`; an `Err`
//! means Windlass could not talk to Helm or the cluster.
//!
//! Which colour is live, and how many pods each canary step runs, is read
//! from the cluster (the Service's selector, the workloads' replicas), never
//! from a local file.
//!
//! This module never talks to anything but Helm and the Kubernetes API, and
//! never sees a secret beyond the values documents it hands to Helm.

pub mod blue_green;
pub mod canary;
pub mod handoff;
mod workloads;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;
use windlass_diagnostic::{Diagnostic, ExitStatus};

use crate::config::{StrategyKind, StrategySpec};
use crate::helm::{Helm, HelmError, Revision, UpgradeRequest};
use crate::kube::{Cluster, KubeError};

/// The label on every object Windlass creates itself (the Services of
/// blue/green and canary).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "windlass";
/// The label naming the release a Windlass Service belongs to.
pub const RELEASE_LABEL: &str = "windlass.dev/release";
/// The field manager of Windlass's own writes (scale, Services).
pub const FIELD_MANAGER: &str = "windlass";

/// One promotion with a strategy.
pub struct StrategyRun<'a> {
    pub spec: &'a StrategySpec,
    /// `helm`, bound to the cluster and namespace of [`Self::cluster`].
    pub helm: &'a Helm,
    pub cluster: &'a Cluster,
    /// The normal upgrade of the release: its `release` is the base name
    /// (`RELEASE`; blue/green and canary derive theirs from it), its values,
    /// timeout, description and labels go to every upgrade the strategy
    /// makes. Its `timeout` also bounds each rollout wait.
    pub upgrade: &'a UpgradeRequest,
    /// How long to wait before verifying each canary step, and blue/green
    /// once switched (the strategy's `pause`, parsed by the caller, as the
    /// gates parse durations); zero for none.
    pub pause: Duration,
    /// Called after each step; a failed check fails the step.
    pub verifier: &'a dyn Verifier,
    /// Wait for each step's release to roll out, as a check of the step
    /// (`gates.rollout`, on unless `false`).
    pub rollout: bool,
    /// The last deployed revision of [`UpgradeRequest::release`], if the
    /// caller read it already (under the environment's lease), for
    /// `rolling` and `recreate` to roll back to.
    pub deployed: LastDeployed,
}

/// What a [`StrategyRun`]'s caller knows of its release's last deployed
/// revision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LastDeployed {
    /// Not read: the strategy reads it.
    #[default]
    Unread,
    /// Read (`None`: the release has no deployed revision).
    Read(Option<u32>),
}

/// The verifier is left out: closures do not print.
impl std::fmt::Debug for StrategyRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategyRun")
            .field("spec", self.spec)
            .field("helm", self.helm)
            .field("cluster", self.cluster)
            .field("release", &self.upgrade.release)
            .field("pause", &self.pause)
            .finish_non_exhaustive()
    }
}

/// What a step asks the verifier to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyStep {
    /// The step: `rolling`, `recreate`, `idle` and `live` (blue/green),
    /// `canary 10%`, `stable` (canary's end), `install` (a first install).
    pub phase: String,
    /// The Helm release the step changed (`RELEASE-green`,
    /// `RELEASE-canary`, `RELEASE`).
    pub release: String,
    /// The Service to reach it through: the release's own Service (Helm's
    /// naming convention, the release name) for `idle`, else the Service
    /// carrying the traffic.
    pub service: String,
    pub namespace: String,
    /// The revision the step's upgrade made, when it made one.
    pub revision: Option<u32>,
}

/// The outcome of one check: the gates' own type (`gate`, `passed`,
/// `detail`), so that a step's checks go to the ledger and the report as
/// they are.
pub use crate::gates::GateResult as Check;

/// Checks a step: the environment's verifications (HTTP, commands) in
/// `windlass deploy`, a closure in tests ([`verifier_fn`]). It also hears
/// of what the promotion must record as it happens (by default, nothing is
/// recorded): each step's checks once they are all in, and a switch of
/// traffic before it is made.
pub trait Verifier: Sync {
    fn verify<'a>(
        &'a self,
        step: &'a VerifyStep,
    ) -> Pin<Box<dyn Future<Output = Vec<Check>> + Send + 'a>>;

    /// A step's upgrade made `revision` of `release`; called as its rollout
    /// wait starts, alongside it. An error is not the step's: what must
    /// record the revision does it again in [`Self::verify`] or
    /// [`Self::checked`], which then fail.
    fn upgraded<'a>(
        &'a self,
        _release: &'a str,
        _revision: u32,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }

    /// A step's checks are all in (its rollout and [`Self::verify`]'s),
    /// before the strategy goes on. An error stops the strategy.
    fn checked<'a>(
        &'a self,
        _step: &'a StepReport,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }

    /// The Service `switch.service` is about to select `switch.to` instead
    /// of `switch.from`. An error stops the strategy before the switch.
    fn switching<'a>(
        &'a self,
        _switch: &'a Switch,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }
}

/// A switch of the traffic from one release to another (blue/green).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub service: String,
    /// The release it selected; `None` for a Service about to be made.
    pub from: Option<String>,
    pub to: String,
}

/// A [`Verifier`] from an async closure.
pub fn verifier_fn<F, Fut>(f: F) -> impl Verifier
where
    F: Fn(VerifyStep) -> Fut + Sync,
    Fut: Future<Output = Vec<Check>> + Send + 'static,
{
    FnVerifier(f)
}

struct FnVerifier<F>(F);

impl<F, Fut> Verifier for FnVerifier<F>
where
    F: Fn(VerifyStep) -> Fut + Sync,
    Fut: Future<Output = Vec<Check>> + Send + 'static,
{
    fn verify<'a>(
        &'a self,
        step: &'a VerifyStep,
    ) -> Pin<Box<dyn Future<Output = Vec<Check>> + Send + 'a>> {
        Box::pin((self.0)(step.clone()))
    }
}

/// What [`run`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct StrategyReport {
    pub kind: StrategyKind,
    pub steps: Vec<StepReport>,
    /// The new version is live and every step passed.
    pub succeeded: bool,
    /// Why not, when it did not.
    pub reason: Option<String>,
    /// The release serving traffic at the end (`RELEASE`, or
    /// `RELEASE-blue`/`RELEASE-green`).
    pub live_release: String,
    /// Its revision at the end (what the ledger records as live).
    pub live_revision: Option<u32>,
    /// What was put back after a failure (`rolled back RELEASE to revision
    /// 3`, `Service switched back to RELEASE-blue`, ...).
    pub restored: Option<String>,
}

/// One step of a strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct StepReport {
    /// `scale-down`, `upgrade`, `idle`, `switch`, `canary 10%`, ...
    pub name: String,
    /// The release it changed.
    pub release: String,
    /// The Helm revision it made, when it made one.
    pub revision: Option<u32>,
    /// Its checks all passed (true for steps that are not verified).
    pub verified: bool,
    pub checks: Vec<Check>,
    /// What it did, in one line (replica counts, the selector).
    pub detail: String,
}

/// Why a strategy could not be carried out (as opposed to the new version
/// failing its checks, which is a report with `succeeded: false`).
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    #[error("strategy {kind}: `{field}` {problem}")]
    Config {
        kind: &'static str,
        field: &'static str,
        problem: String,
    },
    #[error(
        "the Service `{service}` in namespace `{namespace}` exists and is not managed by windlass"
    )]
    ForeignService { service: String, namespace: String },
    #[error("{step}")]
    Helm {
        step: String,
        #[source]
        source: Box<HelmError>,
    },
    #[error("{step}")]
    Kube {
        step: String,
        #[source]
        source: Box<KubeError>,
    },
    #[error("{what} in namespace `{namespace}` did not happen within {} s", waited.as_secs())]
    Timeout {
        what: String,
        namespace: String,
        waited: Duration,
    },
    #[error(
        "helm works in namespace `{helm}` but the cluster connection in `{cluster}`; both must be the environment's"
    )]
    Namespace { helm: String, cluster: String },
    /// `ab` or `shadow` cannot be handed to a controller of this cluster.
    #[error("strategy {kind}: `{field}` {problem}")]
    HandOff {
        kind: &'static str,
        field: &'static str,
        problem: String,
        hint: String,
    },
    /// What happened could not be recorded (the ledger): the strategy
    /// stops rather than go on unrecorded.
    #[error("{step}: cannot record it: {detail}")]
    Record { step: String, detail: String },
}

impl Diagnostic for StrategyError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Config { .. }
            | Self::ForeignService { .. }
            | Self::Namespace { .. }
            | Self::HandOff { .. } => ExitStatus::Usage,
            Self::Helm { source, .. } => source.exit_status(),
            Self::Kube { source, .. } => source.exit_status(),
            Self::Timeout { .. } | Self::Record { .. } => ExitStatus::Remote,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Config { .. } => Some(
                "see the \"Strategies\" section of docs/deploy.md for the strategy's keys"
                    .to_owned(),
            ),
            Self::ForeignService { .. } => Some(
                "set `strategy.service` to another name, or delete the Service (it must not be the chart's own)"
                    .to_owned(),
            ),
            Self::Helm { source, .. } => source.hint(),
            Self::Kube { source, .. } => source.hint(),
            Self::HandOff { hint, .. } => Some(hint.clone()),
            Self::Timeout { .. } | Self::Namespace { .. } | Self::Record { .. } => None,
        }
    }
}

impl StrategyError {
    fn helm(step: impl Into<String>) -> impl FnOnce(HelmError) -> Self {
        let step = step.into();
        move |source| Self::Helm {
            step,
            source: Box::new(source),
        }
    }

    fn kube(step: impl Into<String>) -> impl FnOnce(KubeError) -> Self {
        let step = step.into();
        move |source| Self::Kube {
            step,
            source: Box::new(source),
        }
    }
}

/// Carries out one promotion with `run.spec`'s strategy.
pub async fn run(run: &StrategyRun<'_>) -> Result<StrategyReport, StrategyError> {
    if run.helm.namespace() != run.cluster.namespace() {
        return Err(StrategyError::Namespace {
            helm: run.helm.namespace().to_owned(),
            cluster: run.cluster.namespace().to_owned(),
        });
    }
    match run.spec.kind {
        StrategyKind::Rolling => in_place(run, false).await,
        StrategyKind::Recreate => in_place(run, true).await,
        StrategyKind::BlueGreen => blue_green::run(run).await,
        StrategyKind::Canary => canary::run(run).await,
        StrategyKind::Ab | StrategyKind::Shadow => handoff::run(run).await,
    }
}

/// Why A/B tests and shadow traffic are not offered on a cluster without
/// Flagger or Argo Rollouts (the trade-off table of docs/deploy.md).
pub fn not_offered(kind: StrategyKind) -> &'static str {
    match kind {
        StrategyKind::Ab => {
            "is not offered here: an A/B test sends chosen requests (a header, a cookie) to the new version, which needs routing by request attributes that a Kubernetes Service cannot do; Windlass hands it to Flagger or Argo Rollouts (driving a service mesh or an ingress controller), and this cluster has neither"
        }
        StrategyKind::Shadow => {
            "is not offered here: shadow traffic sends a copy of the requests to the new version and drops its answers, which needs request mirroring that a Kubernetes Service cannot do; Windlass hands it to Flagger or Argo Rollouts (driving a service mesh), and this cluster has neither"
        }
        _ => "is offered",
    }
}

/// The `kind` as configured (`blue-green`).
fn kind_name(kind: StrategyKind) -> &'static str {
    kind.name()
}

impl StrategyReport {
    fn new(kind: StrategyKind, live_release: &str) -> Self {
        Self {
            kind,
            steps: Vec::new(),
            succeeded: false,
            reason: None,
            live_release: live_release.to_owned(),
            live_revision: None,
            restored: None,
        }
    }

    fn fail(mut self, reason: impl Into<String>) -> Self {
        self.succeeded = false;
        self.reason = Some(reason.into());
        self
    }
}

/// The first failed check of a step, as a reason.
fn failed_check(step: &str, checks: &[Check]) -> Option<String> {
    checks
        .iter()
        .find(|c| !c.passed)
        .map(|c| format!("{step}: {} failed: {}", c.gate, c.detail))
}

/// `rolling` and `recreate`: the release upgraded in place.
async fn in_place(run: &StrategyRun<'_>, recreate: bool) -> Result<StrategyReport, StrategyError> {
    let release = run.upgrade.release.as_str();
    let kind = if recreate {
        StrategyKind::Recreate
    } else {
        StrategyKind::Rolling
    };
    let mut report = StrategyReport::new(kind, release);
    let previous = match run.deployed {
        LastDeployed::Read(revision) => revision,
        LastDeployed::Unread => deployed_revision(run, release).await?,
    };

    if recreate && previous.is_some() {
        let scaled =
            workloads::scale_release_to_zero(run.cluster, release, run.upgrade.timeout).await?;
        report.steps.push(StepReport {
            name: "scale-down".to_owned(),
            release: release.to_owned(),
            revision: None,
            verified: true,
            checks: Vec::new(),
            detail: scaled,
        });
    }

    let phase = kind_name(kind);
    let step = upgrade_and_verify(run, run.upgrade, phase, release, phase).await?;
    let failure = step.failure.clone();
    report.steps.push(step.report);
    report.live_revision = step.revision;
    if let Some(reason) = failure {
        if let Some(previous) = previous {
            restore_revision(run, release, previous, &mut report).await?;
        }
        return Ok(report.fail(reason));
    }
    report.succeeded = true;
    Ok(report)
}

/// The last deployed revision of `release`, if any, from Helm's release
/// records (one API request, no `helm` process).
async fn deployed_revision(
    run: &StrategyRun<'_>,
    release: &str,
) -> Result<Option<u32>, StrategyError> {
    crate::kube::releases::deployed(run.cluster, release)
        .await
        .map_err(StrategyError::kube(format!(
            "reading the revisions of release `{release}`"
        )))
}

/// The last deployed revision of `release` as `helm history` tells it
/// (with its description).
async fn deployed_history(helm: &Helm, release: &str) -> Result<Option<Revision>, StrategyError> {
    let history = helm
        .history(release)
        .await
        .map_err(StrategyError::helm(format!(
            "reading the history of release `{release}`"
        )))?;
    Ok(history.into_iter().rev().find(|r| r.status == "deployed"))
}

/// `helm rollback` to `revision`, unless Helm's own rollback on failure
/// already went there.
async fn restore_revision(
    run: &StrategyRun<'_>,
    release: &str,
    revision: u32,
    report: &mut StrategyReport,
) -> Result<(), StrategyError> {
    let now = deployed_history(run.helm, release).await?;
    let already = now.as_ref().is_some_and(|now| {
        now.revision == revision || now.description.trim() == format!("Rollback to {revision}")
    });
    if !already {
        run.helm
            .rollback(release, revision, true, run.upgrade.timeout)
            .await
            .map_err(StrategyError::helm(format!(
                "rolling release `{release}` back to revision {revision}"
            )))?;
    }
    report.live_revision = deployed_revision(run, release).await?;
    report.restored = Some(format!(
        "release `{release}` rolled back to revision {revision}"
    ));
    Ok(())
}

/// The outcome of one upgrade and its checks.
struct Step {
    report: StepReport,
    revision: Option<u32>,
    failure: Option<String>,
}

/// `helm upgrade --install` of `request`, the rollout of its release, then
/// the verifier with `phase`. A failed upgrade or rollout is a failed step,
/// not an error.
async fn upgrade_and_verify(
    run: &StrategyRun<'_>,
    request: &UpgradeRequest,
    phase: &str,
    service: &str,
    name: &str,
) -> Result<Step, StrategyError> {
    let mut step = upgrade_step(run, request, phase, name).await?;
    if step.failure.is_none() {
        step.failure = rollout_and_verify(
            run,
            &request.release,
            (phase, service),
            Rollout::after(request),
            &mut step.report,
        )
        .await?;
    }
    Ok(step)
}

/// `helm upgrade --install` of `request` as the step `name`; a failed
/// upgrade (Helm's message) is the step's failure.
async fn upgrade_step(
    run: &StrategyRun<'_>,
    request: &UpgradeRequest,
    phase: &str,
    name: &str,
) -> Result<Step, StrategyError> {
    let release = request.release.as_str();
    let mut report = StepReport {
        name: name.to_owned(),
        release: release.to_owned(),
        revision: None,
        verified: false,
        checks: Vec::new(),
        detail: String::new(),
    };
    match run.helm.upgrade_install(request).await {
        Ok(revision) => {
            report.revision = Some(revision.revision);
            report.detail = format!("upgraded `{release}` to revision {}", revision.revision);
            Ok(Step {
                revision: Some(revision.revision),
                report,
                failure: None,
            })
        }
        Err(error @ HelmError::Failed { .. }) => {
            let reason = format!("{phase}: the upgrade of `{release}` failed: {error}");
            reason.clone_into(&mut report.detail);
            report.revision = deployed_revision(run, release).await.ok().flatten();
            Ok(Step {
                revision: report.revision,
                report,
                failure: Some(reason),
            })
        }
        Err(error) => Err(StrategyError::Helm {
            step: format!("upgrading release `{release}`"),
            source: Box::new(error),
        }),
    }
}

/// How a step learns that its release rolled out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rollout {
    /// Read the release's workloads until they are ready.
    Read,
    /// The step's `helm upgrade` waited (`--wait`) and succeeded: Helm
    /// watched every resource of the revision until it was ready, a
    /// stricter test than reading the workloads again, so the rollout
    /// check passes without another round trip.
    WaitedByHelm,
}

impl Rollout {
    /// Right after `request`'s upgrade, nothing changed since.
    pub(crate) fn after(request: &UpgradeRequest) -> Self {
        if request.wait {
            Self::WaitedByHelm
        } else {
            Self::Read
        }
    }
}

/// Waits for `release` to roll out (unless [`StrategyRun::rollout`] is
/// off), then asks the verifier; fills in the step's checks and tells the
/// verifier they are in; the reason of a failure.
async fn rollout_and_verify(
    run: &StrategyRun<'_>,
    release: &str,
    (phase, service): (&str, &str),
    rollout: Rollout,
    report: &mut StepReport,
) -> Result<Option<String>, StrategyError> {
    let mut complete = true;
    // The step's revision is told (the promotion records it) while the
    // rollout is read.
    let upgraded = async {
        if let Some(revision) = report.revision {
            // An error here comes back from `verify` or `checked`.
            let _ = run.verifier.upgraded(release, revision).await;
        }
    };
    if run.rollout
        && rollout == Rollout::WaitedByHelm
        && let Some(revision) = report.revision
    {
        report.checks.push(Check {
            gate: "rollout".to_owned(),
            passed: true,
            detail: format!(
                "Helm waited until every resource of `{release}` revision {revision} was ready"
            ),
        });
    } else if run.rollout {
        let (rollout, ()) = tokio::join!(
            crate::kube::rollout::wait(run.cluster, release, run.upgrade.timeout),
            upgraded
        );
        let rollout = rollout.map_err(StrategyError::kube(format!(
            "waiting for release `{release}` to roll out"
        )))?;
        complete = rollout.complete;
        report.checks.push(Check {
            gate: "rollout".to_owned(),
            passed: rollout.complete,
            detail: rollout.summary(),
        });
    }
    if complete {
        let step = VerifyStep {
            phase: phase.to_owned(),
            release: release.to_owned(),
            service: service.to_owned(),
            namespace: run.cluster.namespace().to_owned(),
            revision: report.revision,
        };
        report.checks.extend(run.verifier.verify(&step).await);
    }
    report.verified = report.checks.iter().all(|c| c.passed);
    checked(run, report).await?;
    Ok(failed_check(phase, &report.checks))
}

/// Tells the verifier a step's checks are all in.
async fn checked(run: &StrategyRun<'_>, step: &StepReport) -> Result<(), StrategyError> {
    run.verifier
        .checked(step)
        .await
        .map_err(|detail| StrategyError::Record {
            step: format!("the checks of step `{}`", step.name),
            detail,
        })
}

/// A copy of the normal upgrade for another release, with more values
/// documents after its own.
fn derived_request(
    base: &UpgradeRequest,
    release: &str,
    extra: Option<serde_json::Value>,
) -> UpgradeRequest {
    let mut request = base.clone();
    release.clone_into(&mut request.release);
    request.values.extend(extra);
    request
}

/// `{"a": {"b": value}}` for the dotted key `a.b`.
fn nested_value(dotted: &str, value: serde_json::Value) -> serde_json::Value {
    dotted.rsplit('.').fold(value, |inner, key| {
        let mut map = serde_json::Map::new();
        map.insert(key.to_owned(), inner);
        serde_json::Value::Object(map)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_service_keys_parse() {
        let spec: StrategySpec = toml::from_str(
            r#"
            kind = "blue-green"
            service = "front"
            service-port = 8080
            target-port = "web"
            selector-label = "app"
            scale-down-old = true
            "#,
        )
        .unwrap();
        assert_eq!(spec.kind, StrategyKind::BlueGreen);
        assert_eq!(spec.service.as_deref(), Some("front"));
        assert_eq!(spec.service_port, Some(8080));
        assert_eq!(spec.target_port.as_deref(), Some("web"));
        assert_eq!(spec.selector_label.as_deref(), Some("app"));
        assert!(spec.scale_down_old);
        let error = toml::from_str::<StrategySpec>("kind = \"canary\"\nweights = [1]")
            .unwrap_err()
            .to_string();
        assert!(error.contains("weights"), "{error}");
    }

    #[test]
    fn dotted_keys_nest() {
        assert_eq!(
            nested_value("replicaCount", json!(3)),
            json!({"replicaCount": 3})
        );
        assert_eq!(
            nested_value("app.replicas", json!(2)),
            json!({"app": {"replicas": 2}})
        );
    }

    #[test]
    fn the_first_failed_check_is_the_reason() {
        let checks = [
            Check {
                gate: "rollout".to_owned(),
                passed: true,
                detail: "ok".to_owned(),
            },
            Check {
                gate: "http".to_owned(),
                passed: false,
                detail: "503".to_owned(),
            },
        ];
        assert_eq!(
            failed_check("live", &checks).as_deref(),
            Some("live: http failed: 503")
        );
        assert_eq!(failed_check("live", &checks[..1]), None);
    }
}
