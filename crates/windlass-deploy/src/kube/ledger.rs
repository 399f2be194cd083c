//! The ledger: every promotion of an environment, its bundle, its gates and
//! its outcome, append-only, stored in the environment's namespace next to
//! Helm's own release records.
//!
//! As Helm keeps each release revision in a Secret of type
//! `helm.sh/release.v1`, the ledger keeps each record in an immutable
//! Secret of type `windlass.dev/ledger.v1` named `windlass.ledger.ENV.vSEQ`,
//! labelled `owner=windlass`, `windlass.dev/environment=ENV` and
//! `windlass.dev/seq=SEQ`, with the record as JSON under `entry.json`.
//! Appending creates the next name and never updates one: when two writers
//! race for a sequence number the API server lets one create win and
//! refuses the other (409), which reads the ledger again and takes the
//! next number. So the sequence is gap-free and no number is written twice.
//! Records are Secrets, not ConfigMaps, so that they sit with the release
//! records under the same access rules; they never hold secret values.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use serde::{Deserialize, Serialize};
use windlass_diagnostic::{Diagnostic, ExitStatus};

use super::{Cluster, KubeError, api_code, check_environment_name};
use crate::bundle::{Bundle, BundleId};

/// The Secret type of ledger records.
pub const SECRET_TYPE: &str = "windlass.dev/ledger.v1";
/// The key of a record's JSON in its Secret.
pub const ENTRY_KEY: &str = "entry.json";
const ENVIRONMENT_LABEL: &str = "windlass.dev/environment";
const SEQ_LABEL: &str = "windlass.dev/seq";

/// How many times an append re-reads and retries after losing a race.
const APPEND_ATTEMPTS: u32 = 32;

/// One ledger record. A promotion writes one record before each step and
/// one after, so a run killed half-way leaves a `Started` (or `Upgraded`)
/// record with no end, which `deploy status` shows and the next command
/// resumes or rolls back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Entry {
    /// Position in the environment's ledger, from 1, gap-free.
    pub seq: u64,
    /// The environment's name.
    pub environment: String,
    /// RFC 3339 UTC.
    pub time: String,
    /// Who ran it: `$GITHUB_ACTOR` in Actions, else the local user name.
    pub actor: String,
    /// The promotion this record belongs to (the `seq` of its `Started`
    /// record; equal to `seq` for that record itself).
    pub promotion: u64,
    pub bundle: BundleId,
    pub event: Event,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Event {
    /// A promotion began: the whole bundle (so any environment can be
    /// promoted from this record alone), where it came from, the strategy.
    Started {
        bundle: Box<Bundle>,
        /// The environment it was promoted from, if any.
        from: Option<String>,
        strategy: crate::config::StrategyKind,
    },
    /// A gate was checked.
    Gate {
        gate: String,
        passed: bool,
        detail: String,
    },
    /// Helm upgraded the release to this revision.
    Upgraded { revision: u32 },
    /// Blue/green: the Service is switched to select release `to` instead
    /// of `from` (written just before the switch; `from` is `None` for a
    /// Service made by this switch).
    Switch {
        service: String,
        from: Option<String>,
        to: String,
    },
    /// The promotion ended: the bundle is live.
    Succeeded {
        revision: u32,
        /// The checks after the upgrade, all passed, when they are
        /// recorded here instead of as `Gate` records before it: one write
        /// less between Helm and the end (rolling and recreate, and a
        /// rollback to a revision). Absent in records that have none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        checks: Vec<PassedCheck>,
    },
    /// The promotion failed; what state the release was left in.
    Failed {
        reason: String,
        rolled_back_to: Option<u32>,
    },
    /// A person approved the bundle for this environment.
    Approved {
        by: String,
        reason: Option<String>,
        /// The GitHub run that carried the approval, when there was one.
        run_url: Option<String>,
    },
    /// A rollback (asked for, or after a failed verification).
    RolledBack {
        to_revision: u32,
        to_bundle: Option<BundleId>,
        reason: String,
    },
}

/// A check that passed, as `Succeeded` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct PassedCheck {
    /// The gate's name, as a `Gate` record would give it.
    pub gate: String,
    pub detail: String,
}

/// A record to append: the ledger assigns `seq`, `time` and `environment`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub actor: String,
    /// The promotion it belongs to (the `seq` of its `Started` record);
    /// `None` for a record that starts one (it gets its own `seq`).
    pub promotion: Option<u64>,
    pub bundle: BundleId,
    pub event: Event,
}

/// Why reading or writing the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{0}")]
    InvalidEnvironment(String),
    /// A record in the cluster that is not a valid ledger record.
    #[error("ledger record {name} in namespace `{namespace}` is unreadable: {reason}")]
    BrokenRecord {
        name: String,
        namespace: String,
        reason: String,
    },
    /// Lost the race for the next number too many times in a row.
    #[error(
        "could not append to the ledger of `{environment}`: {attempts} other writers went first"
    )]
    Contended { environment: String, attempts: u32 },
    #[error(transparent)]
    Kube(#[from] KubeError),
}

impl Diagnostic for LedgerError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::InvalidEnvironment(_) => ExitStatus::Usage,
            Self::BrokenRecord { .. } | Self::Contended { .. } => ExitStatus::Remote,
            Self::Kube(error) => error.exit_status(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::BrokenRecord {
                name, namespace, ..
            } => Some(format!(
                "look at it with `kubectl get secret {name} -n {namespace} -o json`; the ledger is \
                 append-only, so a record that does not parse was written by something else or \
                 edited by hand"
            )),
            Self::Kube(error) => error.hint(),
            _ => None,
        }
    }
}

/// The ledger of one environment.
#[derive(Debug, Clone)]
pub struct Ledger {
    cluster: Cluster,
    environment: String,
    api: Api<Secret>,
    /// The highest sequence number this process has seen or written (0:
    /// none yet), shared by clones. Only a first guess for the next
    /// append, which saves reading the ledger again before each record of
    /// a promotion: creating a record is create-only, so a guess another
    /// writer took is a conflict that reads the ledger again.
    seen: Arc<AtomicU64>,
    /// Whether `seen` was learnt from the cluster (a read or a write): an
    /// empty ledger read once is not read again before the first append.
    known: Arc<AtomicBool>,
}

/// A record's sequence number, from its label.
fn seq_label(secret: &Secret) -> Option<u64> {
    secret
        .metadata
        .labels
        .as_ref()?
        .get(SEQ_LABEL)?
        .parse::<u64>()
        .ok()
}

/// A record's Secret name.
pub fn record_name(environment: &str, seq: u64) -> String {
    format!("windlass.ledger.{environment}.v{seq}")
}

/// Now, RFC 3339 UTC to the second.
fn now_rfc3339() -> String {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

impl Ledger {
    pub fn new(cluster: &Cluster, environment: &str) -> Self {
        Self {
            cluster: cluster.clone(),
            environment: environment.to_owned(),
            api: Api::namespaced(cluster.client().clone(), cluster.namespace()),
            seen: Arc::new(AtomicU64::new(0)),
            known: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn environment(&self) -> &str {
        &self.environment
    }

    fn selector(&self) -> String {
        format!("owner=windlass,{ENVIRONMENT_LABEL}={}", self.environment)
    }

    async fn list(&self) -> Result<Vec<Secret>, LedgerError> {
        check_environment_name(&self.environment).map_err(LedgerError::InvalidEnvironment)?;
        let list = self
            .api
            .list(&ListParams::default().labels(&self.selector()))
            .await
            .map_err(|e| {
                self.cluster
                    .api_error(format!("reading the ledger of `{}`", self.environment), &e)
            })?;
        let records: Vec<Secret> = list
            .items
            .into_iter()
            .filter(|s| s.type_.as_deref() == Some(SECRET_TYPE))
            .collect();
        if let Some(last) = records.iter().filter_map(seq_label).max() {
            self.seen.fetch_max(last, Ordering::Relaxed);
        }
        self.known.store(true, Ordering::Relaxed);
        Ok(records)
    }

    /// The highest sequence number in use (0 for an empty ledger), from the
    /// records' labels.
    async fn last_seq(&self) -> Result<u64, LedgerError> {
        Ok(self
            .list()
            .await?
            .iter()
            .filter_map(seq_label)
            .max()
            .unwrap_or(0))
    }

    /// Appends a record with the next sequence number and the current time.
    /// The number follows the last one this process read or wrote; the
    /// ledger is read first only when it has not been yet.
    pub async fn append(&self, new: NewEntry) -> Result<Entry, LedgerError> {
        let mut seq = if self.known.load(Ordering::Relaxed) {
            self.seen.load(Ordering::Relaxed)
        } else {
            self.last_seq().await?
        } + 1;
        for _ in 0..APPEND_ATTEMPTS {
            match self.create(seq, &new).await? {
                Some(entry) => return Ok(entry),
                // Someone took this number: read again, take the next.
                None => seq = (self.last_seq().await? + 1).max(seq + 1),
            }
        }
        Err(LedgerError::Contended {
            environment: self.environment.clone(),
            attempts: APPEND_ATTEMPTS,
        })
    }

    /// Appends a record numbered right after `last`, the last sequence
    /// number the caller read, once: `None` when that number is taken, so
    /// someone wrote after the caller read (who then reads again and
    /// decides again). Records are numbered without gaps, so a record
    /// that lands here proves the caller saw every record before it.
    pub async fn append_after(
        &self,
        last: u64,
        new: NewEntry,
    ) -> Result<Option<Entry>, LedgerError> {
        check_environment_name(&self.environment).map_err(LedgerError::InvalidEnvironment)?;
        self.create(last + 1, &new).await
    }

    /// Appends a record numbered right after the last one this process
    /// read or wrote, once: `None` when that number is taken (see
    /// [`Self::append_after`]).
    pub async fn append_next(&self, new: NewEntry) -> Result<Option<Entry>, LedgerError> {
        let last = if self.known.load(Ordering::Relaxed) {
            self.seen.load(Ordering::Relaxed)
        } else {
            self.last_seq().await?
        };
        self.append_after(last, new).await
    }

    /// Creates record `seq`; `None` when it exists.
    async fn create(&self, seq: u64, new: &NewEntry) -> Result<Option<Entry>, LedgerError> {
        let entry = Entry {
            seq,
            environment: self.environment.clone(),
            time: now_rfc3339(),
            actor: new.actor.clone(),
            promotion: new.promotion.unwrap_or(seq),
            bundle: new.bundle.clone(),
            event: new.event.clone(),
        };
        let secret = self.record(&entry);
        match self.api.create(&PostParams::default(), &secret).await {
            Ok(_) => {
                self.seen.fetch_max(seq, Ordering::Relaxed);
                self.known.store(true, Ordering::Relaxed);
                Ok(Some(entry))
            }
            Err(e) if api_code(&e) == Some(409) => Ok(None),
            Err(e) => Err(self
                .cluster
                .api_error(
                    format!("appending to the ledger of `{}`", self.environment),
                    &e,
                )
                .into()),
        }
    }

    fn record(&self, entry: &Entry) -> Secret {
        // Serializing our own types cannot fail (no maps with non-string keys).
        let json = serde_json::to_vec(entry).unwrap_or_default();
        Secret {
            metadata: ObjectMeta {
                name: Some(record_name(&self.environment, entry.seq)),
                labels: Some(BTreeMap::from([
                    ("owner".to_owned(), "windlass".to_owned()),
                    (ENVIRONMENT_LABEL.to_owned(), self.environment.clone()),
                    (SEQ_LABEL.to_owned(), entry.seq.to_string()),
                ])),
                ..ObjectMeta::default()
            },
            type_: Some(SECRET_TYPE.to_owned()),
            immutable: Some(true),
            data: Some(BTreeMap::from([(ENTRY_KEY.to_owned(), ByteString(json))])),
            ..Secret::default()
        }
    }

    /// Every record, by sequence number. A record that does not parse is an
    /// error naming it, never skipped.
    pub async fn entries(&self) -> Result<Vec<Entry>, LedgerError> {
        let mut entries = self
            .list()
            .await?
            .iter()
            .map(|secret| self.parse(secret))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.seq);
        Ok(entries)
    }

    fn parse(&self, secret: &Secret) -> Result<Entry, LedgerError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let broken = |reason: String| LedgerError::BrokenRecord {
            name: name.clone(),
            namespace: self.cluster.namespace().to_owned(),
            reason,
        };
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(ENTRY_KEY))
            .ok_or_else(|| broken(format!("it has no `{ENTRY_KEY}`")))?;
        let entry: Entry = serde_json::from_slice(&data.0)
            .map_err(|e| broken(format!("`{ENTRY_KEY}` is not a ledger record: {e}")))?;
        if record_name(&self.environment, entry.seq) != name
            || entry.environment != self.environment
        {
            return Err(broken(format!(
                "it says seq {} of environment `{}`, which is not what its name says",
                entry.seq, entry.environment
            )));
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn succeeded(json: &str) -> Event {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn succeeded_reads_records_with_and_without_checks() {
        // As every record written before `checks` existed.
        assert_eq!(
            succeeded(r#"{"kind": "succeeded", "revision": 3}"#),
            Event::Succeeded {
                revision: 3,
                checks: Vec::new()
            }
        );
        let with = Event::Succeeded {
            revision: 4,
            checks: vec![PassedCheck {
                gate: "rollout".into(),
                detail: "release `app` rolled out (1 workloads)".into(),
            }],
        };
        let json = serde_json::to_string(&with).unwrap();
        assert_eq!(succeeded(&json), with);
    }

    #[test]
    fn succeeded_without_checks_is_written_as_before() {
        // A reader that knows no `checks` sees the same record as ever.
        let json = serde_json::to_value(Event::Succeeded {
            revision: 3,
            checks: Vec::new(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "succeeded", "revision": 3})
        );
    }
}
