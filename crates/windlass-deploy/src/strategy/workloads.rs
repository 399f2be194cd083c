//! The cluster side of the strategies: a release's Deployments and
//! StatefulSets (found by Helm's `meta.helm.sh/release-name` annotation),
//! their replicas through the `scale` subresource, their pods, and the
//! Services Windlass owns.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use super::{FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL, RELEASE_LABEL, StrategyError};
use crate::kube::Cluster;
use crate::kube::rollout::RELEASE_ANNOTATION;

/// How often pods are counted while waiting for them to go.
const POLL: Duration = Duration::from_millis(300);

/// A Deployment or StatefulSet of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Workload {
    pub(super) kind: Kind,
    pub(super) name: String,
    /// `spec.replicas` (1 when unset, as the API defaults it).
    pub(super) replicas: i32,
    /// `spec.selector.matchLabels`: how its pods are found.
    pub(super) selector: BTreeMap<String, String>,
    /// The labels of its pod template.
    pub(super) pod_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Deployment,
    StatefulSet,
}

impl Workload {
    /// `Deployment/app`.
    pub(super) fn id(&self) -> String {
        let kind = match self.kind {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
        };
        format!("{kind}/{}", self.name)
    }
}

fn of_release(meta: &ObjectMeta, release: &str) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(RELEASE_ANNOTATION))
        .is_some_and(|r| r == release)
}

fn kube_error(cluster: &Cluster, what: String) -> impl FnOnce(kube::Error) -> StrategyError + '_ {
    move |error| StrategyError::Kube {
        step: what.clone(),
        source: Box::new(cluster.api_error(what, &error)),
    }
}

/// The Deployments then StatefulSets of `release`, each by name.
pub(super) async fn of(cluster: &Cluster, release: &str) -> Result<Vec<Workload>, StrategyError> {
    let ns = cluster.namespace();
    let mut out = Vec::new();
    let deployments: Api<Deployment> = Api::namespaced(cluster.client().clone(), ns);
    let list = deployments
        .list(&ListParams::default())
        .await
        .map_err(kube_error(cluster, "listing Deployments".to_owned()))?;
    for d in list
        .items
        .into_iter()
        .filter(|d| of_release(&d.metadata, release))
    {
        let spec = d.spec.unwrap_or_default();
        out.push(Workload {
            kind: Kind::Deployment,
            name: d.metadata.name.unwrap_or_default(),
            replicas: spec.replicas.unwrap_or(1),
            selector: spec.selector.match_labels.unwrap_or_default(),
            pod_labels: spec
                .template
                .metadata
                .and_then(|m| m.labels)
                .unwrap_or_default(),
        });
    }
    let statefulsets: Api<StatefulSet> = Api::namespaced(cluster.client().clone(), ns);
    let list = statefulsets
        .list(&ListParams::default())
        .await
        .map_err(kube_error(cluster, "listing StatefulSets".to_owned()))?;
    for s in list
        .items
        .into_iter()
        .filter(|s| of_release(&s.metadata, release))
    {
        let spec = s.spec.unwrap_or_default();
        out.push(Workload {
            kind: Kind::StatefulSet,
            name: s.metadata.name.unwrap_or_default(),
            replicas: spec.replicas.unwrap_or(1),
            selector: spec.selector.match_labels.unwrap_or_default(),
            pod_labels: spec
                .template
                .metadata
                .and_then(|m| m.labels)
                .unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| (a.kind as u8, &a.name).cmp(&(b.kind as u8, &b.name)));
    Ok(out)
}

/// Sets the replicas of `workload` through its `scale` subresource (what
/// `kubectl scale` does); Helm's next upgrade sets them from the chart
/// again.
pub(super) async fn scale(
    cluster: &Cluster,
    workload: &Workload,
    replicas: i32,
) -> Result<(), StrategyError> {
    let ns = cluster.namespace();
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let what = format!("scaling {} to {replicas}", workload.id());
    let result = match workload.kind {
        Kind::Deployment => {
            Api::<Deployment>::namespaced(cluster.client().clone(), ns)
                .patch_scale(&workload.name, &params, &patch)
                .await
        }
        Kind::StatefulSet => {
            Api::<StatefulSet>::namespaced(cluster.client().clone(), ns)
                .patch_scale(&workload.name, &params, &patch)
                .await
        }
    };
    result.map(|_| ()).map_err(kube_error(cluster, what))
}

/// How many pods `selector` matches (terminating ones included: they still
/// run until the kubelet has stopped them).
pub(super) async fn pod_count(
    cluster: &Cluster,
    selector: &BTreeMap<String, String>,
) -> Result<usize, StrategyError> {
    if selector.is_empty() {
        return Ok(0);
    }
    let pods: Api<Pod> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let params = ListParams::default().labels(&label_selector(selector));
    let list = pods
        .list(&params)
        .await
        .map_err(kube_error(cluster, "listing pods".to_owned()))?;
    Ok(list.items.len())
}

/// `k=v,k2=v2`.
fn label_selector(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Scales every Deployment and StatefulSet of `release` to zero and waits
/// until none of their pods remains; what it did, in one line.
pub(super) async fn scale_release_to_zero(
    cluster: &Cluster,
    release: &str,
    timeout: Duration,
) -> Result<String, StrategyError> {
    let workloads = of(cluster, release).await?;
    for workload in &workloads {
        scale(cluster, workload, 0).await?;
    }
    wait_for_no_pods(cluster, &workloads, timeout).await?;
    let names: Vec<String> = workloads
        .iter()
        .map(|w| format!("{} ({} -> 0)", w.id(), w.replicas))
        .collect();
    Ok(if names.is_empty() {
        format!("release `{release}` has no Deployment or StatefulSet")
    } else {
        format!("scaled to zero, no pod left: {}", names.join(", "))
    })
}

/// Polls until the workloads' selectors match no pod.
async fn wait_for_no_pods(
    cluster: &Cluster,
    workloads: &[Workload],
    timeout: Duration,
) -> Result<(), StrategyError> {
    let start = Instant::now();
    loop {
        let mut left = Vec::new();
        for workload in workloads {
            let count = pod_count(cluster, &workload.selector).await?;
            if count > 0 {
                left.push(format!("{}: {count} pods", workload.id()));
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(StrategyError::Timeout {
                what: format!("pods to stop ({})", left.join(", ")),
                namespace: cluster.namespace().to_owned(),
                waited: timeout,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The selector of a Service Windlass owns, or `None` when there is no
/// such Service. A Service of that name that Windlass does not own is an
/// error: it is the chart's, or someone else's.
pub(super) async fn owned_service_selector(
    cluster: &Cluster,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, StrategyError> {
    let services: Api<Service> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let service = services
        .get_opt(name)
        .await
        .map_err(kube_error(cluster, format!("reading Service `{name}`")))?;
    let Some(service) = service else {
        return Ok(None);
    };
    let owned = service
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY);
    if !owned {
        return Err(StrategyError::ForeignService {
            service: name.to_owned(),
            namespace: cluster.namespace().to_owned(),
        });
    }
    Ok(Some(
        service.spec.and_then(|s| s.selector).unwrap_or_default(),
    ))
}

/// The Service Windlass owns for `release`.
pub(super) struct ServiceSpec<'a> {
    pub(super) name: &'a str,
    pub(super) release: &'a str,
    pub(super) selector: BTreeMap<String, String>,
    pub(super) port: u16,
    /// A port number or name on the pods.
    pub(super) target_port: &'a str,
}

/// Creates or updates the Service (server-side apply, field manager
/// `windlass`), labelled as managed by Windlass.
pub(super) async fn apply_service(
    cluster: &Cluster,
    spec: &ServiceSpec<'_>,
) -> Result<(), StrategyError> {
    let target_port = match spec.target_port.parse::<u16>() {
        Ok(number) => json!(number),
        Err(_) => json!(spec.target_port),
    };
    let body = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": spec.name,
            "labels": {
                MANAGED_BY_LABEL: MANAGED_BY,
                RELEASE_LABEL: spec.release,
            },
        },
        "spec": {
            "type": "ClusterIP",
            "selector": spec.selector,
            "ports": [{
                "name": "http",
                "port": spec.port,
                "targetPort": target_port,
                "protocol": "TCP",
            }],
        },
    });
    let services: Api<Service> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    services
        .patch(
            spec.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
        .map(|_| ())
        .map_err(kube_error(
            cluster,
            format!("applying Service `{}`", spec.name),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_join_in_key_order() {
        let labels = BTreeMap::from([
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]);
        assert_eq!(label_selector(&labels), "a=1,b=2");
    }
}
