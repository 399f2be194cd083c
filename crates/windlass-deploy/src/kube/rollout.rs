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

/// The workloads of the release, each judged.
async fn read(cluster: &Cluster, release: &str) -> Result<Vec<WorkloadStatus>, KubeError> {
    let mut out = deployments(cluster, release).await?;
    out.extend(statefulsets(cluster, release).await?);
    out.extend(daemonsets(cluster, release).await?);
    Ok(out)
}

async fn deployments(cluster: &Cluster, release: &str) -> Result<Vec<WorkloadStatus>, KubeError> {
    let ns = cluster.namespace();
    let params = ListParams::default();
    let mut out = Vec::new();
    let deployments: Api<Deployment> = Api::namespaced(cluster.client().clone(), ns);
    let list = deployments
        .list(&params)
        .await
        .map_err(|e| cluster.api_error("listing Deployments", &e))?;
    for d in list
        .items
        .iter()
        .filter(|d| of_release(&d.metadata, release, ns))
    {
        let status = d.status.clone().unwrap_or_default();
        let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let conditions = status
            .conditions
            .iter()
            .flatten()
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
            .collect();
        out.push(judge(
            "Deployment",
            &d.metadata,
            status.observed_generation,
            Counts {
                desired,
                current: status.replicas.unwrap_or(0),
                updated: status.updated_replicas.unwrap_or(0),
                ready: status.ready_replicas.unwrap_or(0),
                available: status.available_replicas.unwrap_or(0),
            },
            conditions,
        ));
    }
    Ok(out)
}

async fn statefulsets(cluster: &Cluster, release: &str) -> Result<Vec<WorkloadStatus>, KubeError> {
    let ns = cluster.namespace();
    let params = ListParams::default();
    let mut out = Vec::new();
    let statefulsets: Api<StatefulSet> = Api::namespaced(cluster.client().clone(), ns);
    let list = statefulsets
        .list(&params)
        .await
        .map_err(|e| cluster.api_error("listing StatefulSets", &e))?;
    for s in list
        .items
        .iter()
        .filter(|s| of_release(&s.metadata, release, ns))
    {
        let status = s.status.clone().unwrap_or_default();
        let desired = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let ready = status.ready_replicas.unwrap_or(0);
        // Servers before 1.22 do not report available replicas.
        let available = status.available_replicas.unwrap_or(ready);
        let conditions = status
            .conditions
            .iter()
            .flatten()
            .map(|c| {
                condition_text(
                    &c.type_,
                    &c.status,
                    c.reason.as_deref(),
                    c.message.as_deref(),
                )
            })
            .collect();
        out.push(judge(
            "StatefulSet",
            &s.metadata,
            status.observed_generation,
            Counts {
                desired,
                current: status.replicas,
                updated: status.updated_replicas.unwrap_or(0),
                ready,
                available,
            },
            conditions,
        ));
    }
    Ok(out)
}

async fn daemonsets(cluster: &Cluster, release: &str) -> Result<Vec<WorkloadStatus>, KubeError> {
    let ns = cluster.namespace();
    let params = ListParams::default();
    let mut out = Vec::new();
    let daemonsets: Api<DaemonSet> = Api::namespaced(cluster.client().clone(), ns);
    let list = daemonsets
        .list(&params)
        .await
        .map_err(|e| cluster.api_error("listing DaemonSets", &e))?;
    for d in list
        .items
        .iter()
        .filter(|d| of_release(&d.metadata, release, ns))
    {
        let status = d.status.clone().unwrap_or_default();
        let conditions = status
            .conditions
            .iter()
            .flatten()
            .map(|c| {
                condition_text(
                    &c.type_,
                    &c.status,
                    c.reason.as_deref(),
                    c.message.as_deref(),
                )
            })
            .collect();
        out.push(judge(
            "DaemonSet",
            &d.metadata,
            status.observed_generation,
            Counts {
                desired: status.desired_number_scheduled,
                current: status.current_number_scheduled,
                updated: status.updated_number_scheduled.unwrap_or(0),
                ready: status.number_ready,
                available: status.number_available.unwrap_or(0),
            },
            conditions,
        ));
    }
    Ok(out)
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
