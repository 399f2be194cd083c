//! One promotion per environment at a time: a `coordination.k8s.io/v1`
//! `Lease` per environment, with expiry, renewed while the promotion runs
//! and taken over when a killed run left it stale.
//!
//! The lease `windlass-deploy.ENV` lives in the environment's namespace.
//! Taking it is a create (only one creator wins) or, once it has expired, a
//! replace carrying the `resourceVersion` that was read (only one replacer
//! wins: the API server refuses the others with 409 Conflict). While held,
//! a background task renews it every third of its duration, again by a
//! replace with the version it read, so a renewal can never undo someone
//! else's takeover. Release deletes it, with the version as precondition,
//! only while it is still ours. A run that dies stops renewing; the lease
//! then expires and the next run takes it over and says so.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use windlass_diagnostic::{Diagnostic, ExitStatus};

use super::{Cluster, KubeError, api_code, check_environment_name};

/// The label every object Windlass creates carries.
const OWNER_LABEL: (&str, &str) = ("owner", "windlass");

/// Why the lease could not be taken (or was lost).
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another live run holds it.
    #[error(
        "environment `{environment}` is locked by {holder} (lease {name} in namespace `{namespace}`, expires in {} s unless renewed)",
        expires_in.as_secs()
    )]
    Held {
        environment: String,
        name: String,
        namespace: String,
        holder: String,
        expires_in: Duration,
    },
    /// Not ours any more: it expired without renewal and was taken over,
    /// or was deleted.
    #[error("lost the lock on environment `{environment}`: {detail}")]
    Lost { environment: String, detail: String },
    #[error("{0}")]
    InvalidEnvironment(String),
    #[error(transparent)]
    Kube(#[from] KubeError),
}

impl Diagnostic for LeaseError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Held { .. } | Self::Lost { .. } => ExitStatus::Failure,
            Self::InvalidEnvironment(_) => ExitStatus::Usage,
            Self::Kube(error) => error.exit_status(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Held { .. } => Some(
                "another promotion of this environment is running; wait for it, or, if that run \
                 was killed, for the lease to expire (it is then taken over)"
                    .to_owned(),
            ),
            Self::Lost { .. } => {
                Some("this run stalled longer than the lease duration; run it again".to_owned())
            }
            Self::InvalidEnvironment(_) => None,
            Self::Kube(error) => error.hint(),
        }
    }
}

/// A stale lease this run took over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    /// Who held it.
    pub previous_holder: String,
    /// How long ago it expired.
    pub expired_for: Duration,
}

/// The lock on one environment, held until [`EnvLock::release`] (or until
/// the process dies: dropping it stops the renewal and leaves the lease to
/// expire, as a killed run would).
#[derive(Debug)]
pub struct EnvLock {
    api: Api<Lease>,
    cluster: Cluster,
    environment: String,
    name: String,
    holder: String,
    takeover: Option<Takeover>,
    lost: Arc<AtomicBool>,
    /// The lease as last written or read by this run (its
    /// `resourceVersion` is the precondition of the release's delete).
    written: Arc<Mutex<Lease>>,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

/// The lease's name for `environment`.
pub fn lease_name(environment: &str) -> String {
    format!("windlass-deploy.{environment}")
}

fn new_lease(name: &str, environment: &str, holder: &str, duration: i32, time: MicroTime) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                [
                    (OWNER_LABEL.0.to_owned(), OWNER_LABEL.1.to_owned()),
                    (
                        "windlass.dev/environment".to_owned(),
                        environment.to_owned(),
                    ),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(duration),
            acquire_time: Some(time.clone()),
            renew_time: Some(time),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// The lease, if it exists.
async fn read_lease(
    cluster: &Cluster,
    api: &Api<Lease>,
    name: &str,
) -> Result<Option<Lease>, KubeError> {
    api.get_opt(name)
        .await
        .map_err(|e| cluster.api_error(format!("reading lease {name}"), &e))
}

/// When the lease stops being valid: renewTime (else acquireTime) plus its
/// duration; `None` if it carries neither (then it is free).
fn expiry(spec: &LeaseSpec) -> Option<Timestamp> {
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0)?;
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    renewed
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(seconds))
        .ok()
}

fn signed_to_std(duration: k8s_openapi::jiff::SignedDuration) -> Duration {
    Duration::try_from(duration).unwrap_or(Duration::ZERO)
}

fn ttl_seconds(ttl: Duration) -> i32 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

impl EnvLock {
    /// Takes the lock on `environment` for `holder` (who and where: shown
    /// to anyone who finds it held) for `ttl`, renewed in the background.
    ///
    /// Fails with [`LeaseError::Held`] while another holder's lease is
    /// live; takes over an expired one (see [`EnvLock::takeover`]).
    pub async fn acquire(
        cluster: &Cluster,
        environment: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Self, LeaseError> {
        check_environment_name(environment).map_err(LeaseError::InvalidEnvironment)?;
        let api: Api<Lease> = Api::namespaced(cluster.client().clone(), cluster.namespace());
        let name = lease_name(environment);
        let duration = ttl_seconds(ttl);
        // Created at once (the common case: nobody holds it); only when
        // it exists is it read. A race lost at create or replace means
        // someone else moved first: read again and decide again; bounded,
        // since every loss is someone's win.
        let mut existing: Option<Lease> = None;
        for _ in 0..16 {
            let time = MicroTime(now());
            let Some(mut lease) = existing.take() else {
                let lease = new_lease(&name, environment, holder, duration, time);
                match api.create(&PostParams::default(), &lease).await {
                    Ok(created) => {
                        return Ok(Self::held(
                            cluster,
                            api,
                            environment,
                            name,
                            holder,
                            ttl,
                            created,
                            None,
                        ));
                    }
                    // It exists: read it and decide (gone again meanwhile:
                    // create again).
                    Err(e) if api_code(&e) == Some(409) => {
                        existing = read_lease(cluster, &api, &name).await?;
                        continue;
                    }
                    Err(e) => {
                        return Err(cluster
                            .api_error(format!("creating lease {name}"), &e)
                            .into());
                    }
                }
            };
            let spec = lease.spec.clone().unwrap_or_default();
            let previous = spec.holder_identity.clone().unwrap_or_default();
            let expires = expiry(&spec);
            let current = now();
            if let Some(expires) = expires
                && !previous.is_empty()
                && expires > current
            {
                return Err(LeaseError::Held {
                    environment: environment.to_owned(),
                    name,
                    namespace: cluster.namespace().to_owned(),
                    holder: previous,
                    expires_in: signed_to_std(expires.duration_since(current)),
                });
            }
            let takeover = (!previous.is_empty()).then(|| Takeover {
                previous_holder: previous.clone(),
                expired_for: expires
                    .map(|e| signed_to_std(current.duration_since(e)))
                    .unwrap_or_default(),
            });
            lease.spec = Some(LeaseSpec {
                holder_identity: Some(holder.to_owned()),
                lease_duration_seconds: Some(duration),
                acquire_time: Some(time.clone()),
                renew_time: Some(time),
                lease_transitions: Some(spec.lease_transitions.unwrap_or(0).saturating_add(1)),
                ..LeaseSpec::default()
            });
            // `lease` carries the resourceVersion read above: the server
            // refuses this replace if anyone changed it since.
            match api.replace(&name, &PostParams::default(), &lease).await {
                Ok(replaced) => {
                    if let Some(takeover) = &takeover {
                        tracing::warn!(
                            environment,
                            previous_holder = %takeover.previous_holder,
                            expired_for_s = takeover.expired_for.as_secs(),
                            "took over a stale deploy lock"
                        );
                    }
                    return Ok(Self::held(
                        cluster,
                        api,
                        environment,
                        name,
                        holder,
                        ttl,
                        replaced,
                        takeover,
                    ));
                }
                // Changed or deleted meanwhile: decide again.
                Err(e) if matches!(api_code(&e), Some(409 | 404)) => {
                    existing = read_lease(cluster, &api, &name).await?;
                }
                Err(e) => {
                    return Err(cluster
                        .api_error(format!("taking over lease {name}"), &e)
                        .into());
                }
            }
        }
        Err(LeaseError::Lost {
            environment: environment.to_owned(),
            detail: format!("lease {name} kept changing while taking it; try again"),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn held(
        cluster: &Cluster,
        api: Api<Lease>,
        environment: &str,
        name: String,
        holder: &str,
        ttl: Duration,
        lease: Lease,
        takeover: Option<Takeover>,
    ) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let written = Arc::new(Mutex::new(lease));
        let renewal = tokio::spawn(renew(
            api.clone(),
            name.clone(),
            holder.to_owned(),
            (ttl / 3).max(Duration::from_millis(200)),
            Arc::clone(&written),
            Arc::clone(&lost),
        ));
        Self {
            api,
            cluster: cluster.clone(),
            environment: environment.to_owned(),
            name,
            holder: holder.to_owned(),
            takeover,
            lost,
            written,
            renewal: Some(renewal),
        }
    }

    /// The stale lease this run took over, if it did.
    pub fn takeover(&self) -> Option<&Takeover> {
        self.takeover.as_ref()
    }

    pub fn environment(&self) -> &str {
        &self.environment
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The lease's name (`windlass-deploy.ENV`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Fails if a renewal found the lease no longer ours: check before each
    /// step that must not run without the lock.
    pub fn check(&self) -> Result<(), LeaseError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(LeaseError::Lost {
                environment: self.environment.clone(),
                detail: format!("lease {} was taken over or deleted", self.name),
            });
        }
        Ok(())
    }

    /// Stops renewing and deletes the lease if it is still ours: a delete
    /// on condition that it is the version this run last wrote; when it
    /// changed since, it is read and deleted only if still ours.
    pub async fn release(mut self) -> Result<(), LeaseError> {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
            let _ = renewal.await;
        }
        let ours = self
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if self.delete_version(&ours).await? {
            return Ok(());
        }
        let lease = self.api.get_opt(&self.name).await.map_err(|e| {
            self.cluster
                .api_error(format!("reading lease {}", self.name), &e)
        })?;
        let Some(lease) = lease else {
            return Ok(());
        };
        let ours = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(self.holder.as_str());
        if ours {
            // Still ours at a version this run did not see: delete that one
            // (changed again meanwhile: no longer ours to delete).
            self.delete_version(&lease).await?;
        }
        Ok(())
    }

    /// Deletes the lease if it is still at `lease`'s version: `false` when
    /// it changed since (409), `true` when deleted or gone.
    async fn delete_version(&self, lease: &Lease) -> Result<bool, LeaseError> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: lease.metadata.resource_version.clone(),
                uid: lease.metadata.uid.clone(),
            }),
            ..DeleteParams::default()
        };
        match self.api.delete(&self.name, &params).await {
            Ok(_) => Ok(true),
            Err(e) if api_code(&e) == Some(409) => Ok(false),
            Err(e) if api_code(&e) == Some(404) => Ok(true),
            Err(e) => Err(self
                .cluster
                .api_error(format!("deleting lease {}", self.name), &e)
                .into()),
        }
    }
}

impl Drop for EnvLock {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
    }
}

/// Renews the lease every `every` while it is ours; marks it lost (and
/// stops) once it is not. A failed request is retried at the next tick:
/// the lease only lapses if renewals fail for its whole duration.
async fn renew(
    api: Api<Lease>,
    name: String,
    holder: String,
    every: Duration,
    written: Arc<Mutex<Lease>>,
    lost: Arc<AtomicBool>,
) {
    let mut lease = written
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    loop {
        tokio::time::sleep(every).await;
        let ours = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(holder.as_str());
        if !ours {
            lost.store(true, Ordering::SeqCst);
            return;
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.renew_time = Some(MicroTime(now()));
        }
        match api.replace(&name, &PostParams::default(), &lease).await {
            Ok(renewed) => {
                renewed.clone_into(&mut written.lock().unwrap_or_else(PoisonError::into_inner));
                lease = renewed;
            }
            Err(e) if matches!(api_code(&e), Some(409)) => match api.get_opt(&name).await {
                // Someone changed it: ours only if the holder is still us
                // (checked at the top of the next round).
                Ok(Some(current)) => {
                    let ours = current
                        .spec
                        .as_ref()
                        .and_then(|s| s.holder_identity.as_deref())
                        == Some(holder.as_str());
                    if ours {
                        current.clone_into(
                            &mut written.lock().unwrap_or_else(PoisonError::into_inner),
                        );
                    }
                    lease = current;
                }
                Ok(None) => {
                    lost.store(true, Ordering::SeqCst);
                    return;
                }
                Err(_) => {}
            },
            Err(e) if api_code(&e) == Some(404) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => {
                tracing::debug!(lease = %name, error = %super::ApiFailure::from_kube(&e), "lease renewal failed; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{expiry, ttl_seconds};
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;
    use std::time::Duration;

    #[test]
    fn ttl_rounds_up_to_whole_seconds() {
        assert_eq!(ttl_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(ttl_seconds(Duration::from_secs(30)), 30);
        assert_eq!(ttl_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn expiry_counts_from_the_last_renewal() {
        let t = |s: i64| MicroTime(Timestamp::from_second(s).unwrap());
        let spec = LeaseSpec {
            acquire_time: Some(t(100)),
            renew_time: Some(t(150)),
            lease_duration_seconds: Some(30),
            ..LeaseSpec::default()
        };
        assert_eq!(expiry(&spec), Some(Timestamp::from_second(180).unwrap()));
        assert_eq!(expiry(&LeaseSpec::default()), None);
    }
}
