//! The ledger: every promotion of an environment, its bundle, its gates and
//! its outcome, append-only, stored in the environment's namespace next to
//! Helm's own release records.

#![allow(
    clippy::unused_async,
    reason = "async like the implementation it stands in for"
)]

use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, BundleId};

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
    /// The promotion ended: the bundle is live.
    Succeeded { revision: u32 },
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

/// A record to append; the ledger assigns `seq` and `time`.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub actor: String,
    /// The promotion it belongs to; `None` starts one (a `Started` record)
    /// or stands alone (`Approved`).
    pub promotion: Option<u64>,
    pub bundle: BundleId,
    pub event: Event,
}

/// An environment's ledger.
#[derive(Debug, Clone)]
pub struct Ledger {
    environment: String,
    entries: std::sync::Arc<std::sync::Mutex<Vec<Entry>>>,
}

impl Ledger {
    pub fn new(cluster: &super::Cluster, environment: &str) -> Self {
        let _ = cluster;
        Self {
            environment: environment.to_owned(),
            entries: std::sync::Arc::default(),
        }
    }

    pub async fn append(&self, new: NewEntry) -> Result<Entry, super::KubeError> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seq = entries.len() as u64 + 1;
        let entry = Entry {
            seq,
            environment: self.environment.clone(),
            time: String::new(),
            actor: new.actor,
            promotion: new.promotion.unwrap_or(seq),
            bundle: new.bundle,
            event: new.event,
        };
        entries.push(entry.clone());
        Ok(entry)
    }

    pub async fn entries(&self) -> Result<Vec<Entry>, super::KubeError> {
        Ok(self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone())
    }
}
