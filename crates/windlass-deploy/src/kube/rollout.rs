//! Whether a Helm release finished rolling out: every Deployment,
//! StatefulSet and DaemonSet that Helm created for it (annotation
//! `meta.helm.sh/release-name`) has seen its latest spec
//! (`observedGeneration >= generation`) and runs the desired number of
//! updated, ready and available replicas. Polled until done or the timeout;
//! what is not done is named with the reason its conditions give.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::{Cluster, KubeError};

/// The annotation Helm puts on every object of a release.
pub const RELEASE_ANNOTATION: &str = "meta.helm.sh/release-name";
const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";

/// How often the workloads are read again.
const POLL: Duration = Duration::from_millis(500);

/// The state of one workload when the wait ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WorkloadStatus {
    /// `Deployment`, `StatefulSet` or `DaemonSet`.
    pub kind: String,
    pub name: String,
    /// Finished rolling out.
    pub ready: bool,
    pub desired: i32,
    pub updated: i32,
    pub ready_replicas: i32,
    pub available: i32,
    /// Why it is not done (counts and its conditions' messages); empty when
    /// it is.
    pub detail: String,
}

impl WorkloadStatus {
    /// `Deployment/web`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// The outcome of [`wait`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RolloutReport {
    pub release: String,
    pub namespace: String,
    /// Every workload finished rolling out (also when the release has none).
    pub complete: bool,
    /// Every workload of the release, in kind then name order.
    pub workloads: Vec<WorkloadStatus>,
    /// How long the wait took, in milliseconds.
    pub waited_ms: u64,
}

impl RolloutReport {
    /// The workloads that did not finish.
    pub fn stuck(&self) -> impl Iterator<Item = &WorkloadStatus> {
        self.workloads.iter().filter(|w| !w.ready)
    }

    /// One line: done, or which workloads are stuck and why.
    pub fn summary(&self) -> String {
        if self.complete {
            return format!(
                "release `{}` rolled out ({} workloads)",
                self.release,
                self.workloads.len()
            );
        }
        let stuck: Vec<String> = self
            .stuck()
            .map(|w| format!("{}: {}", w.id(), w.detail))
            .collect();
        format!(
            "release `{}` in namespace `{}` did not finish rolling out within {} s: {}",
            self.release,
            self.namespace,
            self.waited_ms / 1000,
            stuck.join("; ")
        )
    }
}

/// Waits until every workload of `release` in the cluster's namespace has
/// rolled out, or `timeout` passed. A rollout that does not finish is not an
/// error: the report says which workloads are stuck ([`RolloutReport::complete`]
/// is false). Errors are the API's.
pub async fn wait(
    cluster: &Cluster,
    release: &str,
    timeout: Duration,
) -> Result<RolloutReport, KubeError> {
    let start = Instant::now();
    loop {
        let workloads = read(cluster, release).await?;
        let complete = workloads.iter().all(|w| w.ready);
        let elapsed = start.elapsed();
        if complete || elapsed >= timeout {
            return Ok(RolloutReport {
                release: release.to_owned(),
                namespace: cluster.namespace().to_owned(),
                complete,
                workloads,
                waited_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            });
        }
        tokio::time::sleep(POLL.min(timeout.saturating_sub(elapsed))).await;
    }
}

fn of_release(meta: &ObjectMeta, release: &str, namespace: &str) -> bool {
    let Some(annotations) = &meta.annotations else {
        return false;
    };
    annotations.get(RELEASE_ANNOTATION).map(String::as_str) == Some(release)
        && annotations
            .get(RELEASE_NAMESPACE_ANNOTATION)
            .is_none_or(|n| n == namespace)
}

fn generation_seen(meta: &ObjectMeta, observed: Option<i64>) -> bool {
    observed.unwrap_or(0) >= meta.generation.unwrap_or(0)
}

/// The workloads of the release, each judged: the three kinds listed at
/// once (one round trip of waiting, not three).
async fn read(cluster: &Cluster, release: &str) -> Result<Vec<WorkloadStatus>, KubeError> {
    let (mut out, statefulsets, daemonsets) = tokio::try_join!(
        judged::<Deployment>(cluster, release),
        judged::<StatefulSet>(cluster, release),
        judged::<DaemonSet>(cluster, release),
    )?;
    out.extend(statefulsets);
    out.extend(daemonsets);
    Ok(out)
}

/// What the rollout needs of a workload kind: its replica counts and its
/// conditions, read from the kind's own status type.
trait Workload:
    kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
{
    /// `Deployment`, `StatefulSet`, `DaemonSet`.
    const KIND: &'static str;
    fn observed_generation(&self) -> Option<i64>;
    fn counts(&self) -> Counts;
    /// Its conditions that say something (a Deployment's `Available` and
    /// `NewReplicaSetAvailable` say it is fine, and are left out).
    fn conditions(&self) -> Vec<String>;
}

impl Workload for Deployment {
    const KIND: &'static str = "Deployment";

    fn observed_generation(&self) -> Option<i64> {
        self.status.as_ref()?.observed_generation
    }

    fn counts(&self) -> Counts {
        let status = self.status.clone().unwrap_or_default();
        Counts {
            desired: self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            current: status.replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
        }
    }

    fn conditions(&self) -> Vec<String> {
        self.status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .filter(|c| !(c.status == "True" && c.type_ == "Available"))
            .filter(|c| {
                !(c.status == "True" && c.reason.as_deref() == Some("NewReplicaSetAvailable"))
            })
            .map(|c| {
                condition_text(
                    &c.type_,
                    &c.status,
                    c.reason.as_deref(),
                    c.message.as_deref(),
                )
            })
            .collect()
    }
}

impl Workload for StatefulSet {
    const KIND: &'static str = "StatefulSet";

    fn observed_generation(&self) -> Option<i64> {
        self.status.as_ref()?.observed_generation
    }

    fn counts(&self) -> Counts {
        let status = self.status.clone().unwrap_or_default();
        let ready = status.ready_replicas.unwrap_or(0);
        Counts {
            desired: self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            current: status.replicas,
            updated: status.updated_replicas.unwrap_or(0),
            ready,
            // Servers before 1.22 do not report available replicas.
            available: status.available_replicas.unwrap_or(ready),
        }
    }

    fn conditions(&self) -> Vec<String> {
        self.status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| {
                condition_text(
                    &c.type_,
                    &c.status,
                    c.reason.as_deref(),
                    c.message.as_deref(),
                )
            })
            .collect()
    }
}

impl Workload for DaemonSet {
    const KIND: &'static str = "DaemonSet";

    fn observed_generation(&self) -> Option<i64> {
        self.status.as_ref()?.observed_generation
    }

    fn counts(&self) -> Counts {
        let status = self.status.clone().unwrap_or_default();
        Counts {
            desired: status.desired_number_scheduled,
            current: status.current_number_scheduled,
            updated: status.updated_number_scheduled.unwrap_or(0),
            ready: status.number_ready,
            available: status.number_available.unwrap_or(0),
        }
    }

    fn conditions(&self) -> Vec<String> {
        self.status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| {
                condition_text(
                    &c.type_,
                    &c.status,
                    c.reason.as_deref(),
                    c.message.as_deref(),
                )
            })
            .collect()
    }
}

/// The workloads of kind `W` of the release, each judged.
async fn judged<W: Workload>(
    cluster: &Cluster,
    release: &str,
) -> Result<Vec<WorkloadStatus>, KubeError> {
    let ns = cluster.namespace();
    let api: Api<W> = Api::namespaced(cluster.client().clone(), ns);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| cluster.api_error(format!("listing {}s", W::KIND), &e))?;
    Ok(list
        .items
        .iter()
        .filter(|w| of_release(w.meta(), release, ns))
        .map(|w| {
            judge(
                W::KIND,
                w.meta(),
                w.observed_generation(),
                w.counts(),
                w.conditions(),
            )
        })
        .collect())
}

#[derive(Clone, Copy)]
struct Counts {
    desired: i32,
    /// All replicas, old and new.
    current: i32,
    updated: i32,
    ready: i32,
    available: i32,
}

fn condition_text(kind: &str, status: &str, reason: Option<&str>, message: Option<&str>) -> String {
    let mut text = format!("{kind}={status}");
    if let Some(reason) = reason.filter(|r| !r.is_empty()) {
        let _ = write!(text, " ({reason})");
    }
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        let _ = write!(text, ": {message}");
    }
    text
}

fn judge(
    kind: &str,
    meta: &ObjectMeta,
    observed_generation: Option<i64>,
    counts: Counts,
    conditions: Vec<String>,
) -> WorkloadStatus {
    let seen = generation_seen(meta, observed_generation);
    let Counts {
        desired,
        current,
        updated,
        ready,
        available,
    } = counts;
    let done = seen
        && updated == desired
        && ready == desired
        && available == desired
        && current == desired;
    let detail = if done {
        String::new()
    } else {
        let mut parts = Vec::new();
        if !seen {
            parts.push("the controller has not seen the latest spec yet".to_owned());
        }
        parts.push(format!(
            "{updated} of {desired} updated, {ready} ready, {available} available"
        ));
        if current > desired {
            parts.push(format!("{} old replicas still running", current - desired));
        }
        parts.extend(conditions);
        parts.join(", ")
    };
    WorkloadStatus {
        kind: kind.to_owned(),
        name: meta.name.clone().unwrap_or_default(),
        ready: done,
        desired,
        updated,
        ready_replicas: ready,
        available,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::{Counts, judge};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn meta(generation: i64) -> ObjectMeta {
        ObjectMeta {
            name: Some("web".into()),
            generation: Some(generation),
            ..ObjectMeta::default()
        }
    }

    fn counts(desired: i32, current: i32, updated: i32, ready: i32, available: i32) -> Counts {
        Counts {
            desired,
            current,
            updated,
            ready,
            available,
        }
    }

    #[test]
    fn done_needs_every_count_and_the_latest_generation() {
        assert!(
            judge(
                "Deployment",
                &meta(2),
                Some(2),
                counts(3, 3, 3, 3, 3),
                vec![]
            )
            .ready
        );
        let stale = judge(
            "Deployment",
            &meta(3),
            Some(2),
            counts(3, 3, 3, 3, 3),
            vec![],
        );
        assert!(!stale.ready);
        assert!(
            stale.detail.contains("not seen the latest spec"),
            "{}",
            stale.detail
        );
        let old = judge(
            "Deployment",
            &meta(2),
            Some(2),
            counts(2, 3, 2, 2, 2),
            vec![],
        );
        assert!(!old.ready);
        assert!(old.detail.contains("1 old replicas"), "{}", old.detail);
    }

    #[test]
    fn a_stuck_workload_says_why() {
        let stuck = judge(
            "Deployment",
            &meta(1),
            Some(1),
            counts(2, 2, 2, 0, 0),
            vec!["Available=False (MinimumReplicasUnavailable): Deployment does not have minimum availability.".into()],
        );
        assert!(!stuck.ready);
        assert_eq!(
            stuck.detail,
            "2 of 2 updated, 0 ready, 0 available, Available=False (MinimumReplicasUnavailable): \
             Deployment does not have minimum availability."
        );
    }
}
