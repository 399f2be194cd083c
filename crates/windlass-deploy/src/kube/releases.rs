//! Where a Helm release stands, read from Helm's own release records
//! through the API instead of running `helm history`: one request instead
//! of a process that loads the kubeconfig and connects again.
//!
//! Helm (with the `secret` driver, which Windlass always sets) keeps each
//! revision of a release in a Secret of type `helm.sh/release.v1`
//! labelled `owner=helm`, `name=RELEASE`, `version=REVISION` and
//! `status=STATUS`. Only the records' metadata is listed: their bodies
//! (the values and the manifest) never leave the API server. What the
//! labels cannot tell (a revision's description) is still asked of `helm
//! history`.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};

use super::{Cluster, KubeError};

/// One revision of a release, as its record's labels tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordState {
    pub revision: u32,
    /// `deployed`, `superseded`, `failed`, `pending-install`, ...
    pub status: String,
}

impl RecordState {
    /// A command was killed while this revision was in flight.
    pub fn is_pending(&self) -> bool {
        self.status.starts_with("pending-")
    }
}

/// Every revision of `release` in the cluster's namespace, oldest first;
/// empty when it is not installed. A record without the labels is left
/// out (Helm writes them on every record).
pub async fn revisions(cluster: &Cluster, release: &str) -> Result<Vec<RecordState>, KubeError> {
    let api: Api<Secret> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let params = ListParams::default().labels(&format!("owner=helm,name={release}"));
    let list = api.list_metadata(&params).await.map_err(|e| {
        cluster.api_error(format!("reading the release records of `{release}`"), &e)
    })?;
    let mut revisions: Vec<RecordState> = list
        .items
        .iter()
        .filter_map(|record| {
            let labels = record.metadata.labels.as_ref()?;
            Some(RecordState {
                revision: labels.get("version")?.parse().ok()?,
                status: labels.get("status")?.clone(),
            })
        })
        .collect();
    revisions.sort_by_key(|r| r.revision);
    Ok(revisions)
}

/// The latest revision of `release`, `None` when it is not installed.
pub async fn latest(cluster: &Cluster, release: &str) -> Result<Option<RecordState>, KubeError> {
    Ok(revisions(cluster, release).await?.pop())
}

/// The last `deployed` revision of `release`, if any.
pub async fn deployed(cluster: &Cluster, release: &str) -> Result<Option<u32>, KubeError> {
    Ok(revisions(cluster, release)
        .await?
        .into_iter()
        .rev()
        .find(|r| r.status == "deployed")
        .map(|r| r.revision))
}
