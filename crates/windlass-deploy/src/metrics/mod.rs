//! The four DORA measures (deployment frequency, lead time for changes,
//! change failure rate, time to restore) computed from the ledgers and the
//! commit times of the bundles' sources, with the DORA performance band of
//! each; and the HTML status board ([`html`]).
//!
//! [`compute`] is pure: the ledgers, the window and a function giving a
//! commit's time come in, numbers come out. Reading the ledgers from the
//! clusters and the commit times from git is [`run`]'s job.
//!
//! Definitions (see docs/deploy-metrics.md for the thresholds and where they
//! come from):
//!
//! - A **deployment** is a promotion to production that reached the cluster:
//!   it has an `Upgraded` or a `Succeeded` record. A promotion stopped by a
//!   gate before the upgrade changed nothing and is not one (`blocked`); a
//!   promotion with no outcome yet is `unfinished`.
//! - **Deployment frequency**: successful deployments to production in the
//!   window, per day and per week.
//! - **Lead time for changes**: from the commit time of the bundle's source
//!   commit to the `Succeeded` record in production; median and p90. A
//!   bundle with no source commit, or a commit git does not know, is left
//!   out and counted.
//! - **Change failure rate**: deployments that failed (a `Failed` record
//!   after the upgrade: verification failed) or were rolled back later, over
//!   all finished deployments.
//! - **Time to restore**: from a failure or a rollback to the next
//!   `Succeeded` in production; consecutive failures are one outage, timed
//!   from the first. Median.
//!
//! Nothing here reads bundle values: what reaches a report is ids, times,
//! revisions, actors and reasons.

pub mod html;
mod run;

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::bundle::BundleId;
use crate::kube::ledger::{Entry, Event};

pub use self::run::{
    MetricsArgs, MetricsError, MetricsReport, MetricsRun, git_commit_times, parse_duration,
    production_environment, read_ledgers, run, run_on_clusters,
};

/// Seconds since the Unix epoch.
pub type Seconds = i64;

const MINUTE: Seconds = 60;
const HOUR: Seconds = 60 * MINUTE;
const DAY: Seconds = 24 * HOUR;
const WEEK: Seconds = 7 * DAY;

/// What the measures are computed over.
pub struct MetricsInput<'a> {
    /// Every environment's ledger (by `seq`), in the order to show them.
    pub ledgers: Vec<(String, Vec<Entry>)>,
    /// The environment the measures are about.
    pub production: &'a str,
    /// The window: records from `since` to `now`, inclusive.
    pub since: Seconds,
    pub now: Seconds,
    /// A commit's time (seconds since the epoch), `None` when unknown.
    pub commit_times: &'a dyn Fn(&str) -> Option<Seconds>,
}

/// The commit-time function is left out.
impl std::fmt::Debug for MetricsInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsInput")
            .field("ledgers", &self.ledgers)
            .field("production", &self.production)
            .field("since", &self.since)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// The DORA performance band of one measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Elite => "elite",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

/// The four measures over production, the state of every environment and
/// the deployment timeline.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Metrics {
    pub production: String,
    /// RFC 3339 UTC.
    pub since: String,
    pub now: String,
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub time_to_restore: TimeToRestore,
    pub environments: Vec<EnvironmentState>,
    /// Successful deployments to production per week of the window, oldest
    /// first (the last week may be shorter).
    pub weekly: Vec<WeekCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DeploymentFrequency {
    /// Successful deployments to production in the window.
    pub deployments: u64,
    pub per_day: f64,
    pub per_week: f64,
    pub band: Band,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LeadTime {
    /// One per successful deployment whose commit time is known, in order.
    pub samples: Vec<LeadTimeSample>,
    pub median_seconds: Option<Seconds>,
    pub p90_seconds: Option<Seconds>,
    /// Successful deployments left out: the bundle has no source commit.
    pub without_commit: u64,
    /// Successful deployments left out: git does not know the commit.
    pub unknown_commit: u64,
    /// `None` when there is no sample.
    pub band: Option<Band>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LeadTimeSample {
    pub bundle: BundleId,
    pub commit: String,
    /// When it succeeded in production (RFC 3339).
    pub deployed: String,
    pub seconds: Seconds,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ChangeFailureRate {
    /// Finished deployments in the window (succeeded or failed).
    pub deployments: u64,
    /// Of those, the ones that failed after the upgrade or were rolled back.
    pub failed: u64,
    /// `failed / deployments`; `None` without deployments.
    pub rate: Option<f64>,
    /// Promotions a gate stopped before the upgrade (not deployments).
    pub blocked: u64,
    /// Promotions with no outcome yet (running, or killed mid-way).
    pub unfinished: u64,
    pub band: Option<Band>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TimeToRestore {
    /// One per outage that began in the window and ended.
    pub restores: Vec<Restore>,
    pub median_seconds: Option<Seconds>,
    /// An outage that began in the window and has not ended by `now`.
    pub unrestored_since: Option<String>,
    pub band: Option<Band>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Restore {
    pub failed: String,
    pub restored: String,
    pub seconds: Seconds,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WeekCount {
    /// Start of the week (RFC 3339).
    pub start: String,
    pub deployments: u64,
}

/// What runs in an environment, according to its ledger.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct EnvironmentState {
    pub name: String,
    /// The bundle live now (the last one that succeeded, or the one a
    /// rollback went to), if any.
    pub bundle: Option<BundleId>,
    /// Since when (RFC 3339).
    pub since: Option<String>,
    /// The Helm revision.
    pub revision: Option<u32>,
    /// Who put it there.
    pub actor: Option<String>,
    /// A promotion with no outcome yet: its `seq`.
    pub unfinished: Option<u64>,
    /// Every outcome in the ledger, oldest first (the whole ledger, not only
    /// the window).
    pub timeline: Vec<Mark>,
}

/// One outcome on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Mark {
    pub time: String,
    #[serde(skip)]
    pub at: Seconds,
    pub kind: MarkKind,
    pub bundle: BundleId,
    pub promotion: u64,
    pub actor: String,
    /// Why it failed or was rolled back.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MarkKind {
    Succeeded,
    Failed,
    RolledBack,
}

/// RFC 3339 UTC of a time in seconds.
pub fn rfc3339(at: Seconds) -> String {
    Timestamp::from_second(at).map_or_else(|_| at.to_string(), |t| t.to_string())
}

/// Seconds of an RFC 3339 time, `None` if it does not parse.
pub fn parse_time(text: &str) -> Option<Seconds> {
    text.parse::<Timestamp>().ok().map(Timestamp::as_second)
}

/// One promotion of production, folded from its records.
#[derive(Debug, Default)]
struct Promotion {
    bundle: Option<BundleId>,
    commit: Option<String>,
    upgraded: bool,
    succeeded: Option<Seconds>,
    failed: Option<Seconds>,
    /// Rolled back (in this promotion or by a later rollback).
    rolled_back: Option<Seconds>,
}

/// Computes the measures. Pure.
#[allow(
    clippy::cast_precision_loss,
    reason = "counts and spans of seconds are far below 2^52"
)]
pub fn compute(input: &MetricsInput<'_>) -> Metrics {
    let environments: Vec<EnvironmentState> = input
        .ledgers
        .iter()
        .map(|(name, entries)| environment_state(name, entries))
        .collect();
    let empty = Vec::new();
    let production = input
        .ledgers
        .iter()
        .find(|(name, _)| name == input.production)
        .map_or(&empty, |(_, entries)| entries);
    let in_window = |at: Seconds| at >= input.since && at <= input.now;

    let promotions = fold_promotions(production);

    // Deployment frequency and lead time: successes in the window.
    let mut successes: Vec<(Seconds, &Promotion)> = promotions
        .values()
        .filter_map(|p| p.succeeded.filter(|at| in_window(*at)).map(|at| (at, p)))
        .collect();
    successes.sort_by_key(|(at, _)| *at);
    let deployments = successes.len() as u64;
    let days = ((input.now - input.since).max(1)) as f64 / DAY as f64;
    let per_day = deployments as f64 / days;
    let deployment_frequency = DeploymentFrequency {
        deployments,
        per_day,
        per_week: per_day * 7.0,
        band: frequency_band(per_day),
    };

    let mut lead_time = LeadTime {
        samples: Vec::new(),
        median_seconds: None,
        p90_seconds: None,
        without_commit: 0,
        unknown_commit: 0,
        band: None,
    };
    for (at, promotion) in &successes {
        let (Some(bundle), Some(commit)) = (&promotion.bundle, &promotion.commit) else {
            lead_time.without_commit += 1;
            continue;
        };
        let Some(committed) = (input.commit_times)(commit) else {
            lead_time.unknown_commit += 1;
            continue;
        };
        lead_time.samples.push(LeadTimeSample {
            bundle: bundle.clone(),
            commit: commit.clone(),
            deployed: rfc3339(*at),
            // A commit dated after its deployment (a skewed clock) counts
            // as no wait at all.
            seconds: (at - committed).max(0),
        });
    }
    let mut leads: Vec<Seconds> = lead_time.samples.iter().map(|s| s.seconds).collect();
    leads.sort_unstable();
    lead_time.median_seconds = median(&leads);
    lead_time.p90_seconds = percentile(&leads, 90);
    lead_time.band = lead_time.median_seconds.map(lead_time_band);

    // Change failure rate: finished deployments whose end is in the window.
    let mut cfr = ChangeFailureRate {
        deployments: 0,
        failed: 0,
        rate: None,
        blocked: 0,
        unfinished: 0,
        band: None,
    };
    for promotion in promotions.values() {
        let end = promotion.failed.or(promotion.succeeded);
        match end {
            None => {
                if promotion.upgraded || promotion.bundle.is_some() {
                    cfr.unfinished += 1;
                }
            }
            Some(at) if !in_window(at) => {}
            Some(_) if promotion.failed.is_some() && !promotion.upgraded => cfr.blocked += 1,
            Some(_) => {
                cfr.deployments += 1;
                if promotion.failed.is_some() || promotion.rolled_back.is_some() {
                    cfr.failed += 1;
                }
            }
        }
    }
    if cfr.deployments > 0 {
        let rate = cfr.failed as f64 / cfr.deployments as f64;
        cfr.rate = Some(rate);
        cfr.band = Some(failure_rate_band(rate));
    }

    let time_to_restore = time_to_restore(production, &in_window, input.now);
    let weekly = weekly(&successes, input.since, input.now);

    Metrics {
        production: input.production.to_owned(),
        since: rfc3339(input.since),
        now: rfc3339(input.now),
        deployment_frequency,
        lead_time,
        change_failure_rate: cfr,
        time_to_restore,
        environments,
        weekly,
    }
}

/// Folds production's records into promotions, by `promotion`. A rollback
/// recorded outside the promotion that deployed the bundle (a `deploy
/// rollback` later) marks the last successful promotion of that bundle
/// before it as rolled back.
fn fold_promotions(entries: &[Entry]) -> BTreeMap<u64, Promotion> {
    let mut promotions: BTreeMap<u64, Promotion> = BTreeMap::new();
    for entry in entries {
        let Some(at) = parse_time(&entry.time) else {
            continue;
        };
        match &entry.event {
            Event::Started { bundle, .. } => {
                let p = promotions.entry(entry.promotion).or_default();
                p.bundle = Some(entry.bundle.clone());
                p.commit = bundle.source.as_ref().map(|s| s.commit.clone());
            }
            Event::Upgraded { .. } => {
                promotions.entry(entry.promotion).or_default().upgraded = true;
            }
            Event::Succeeded { .. } => {
                let p = promotions.entry(entry.promotion).or_default();
                p.upgraded = true;
                p.succeeded.get_or_insert(at);
            }
            Event::Failed { .. } => {
                promotions
                    .entry(entry.promotion)
                    .or_default()
                    .failed
                    .get_or_insert(at);
            }
            Event::RolledBack { .. } => {
                match promotions.get_mut(&entry.promotion) {
                    // Within a promotion that reached the cluster, of its
                    // own bundle: a rollback before success is a failed
                    // deployment; after success, a deployment rolled back.
                    // (`deploy rollback` records the bundle it leaves
                    // inside its own promotion, which deploys another
                    // bundle: that is the case below.)
                    Some(p) if p.upgraded && p.bundle.as_ref() == Some(&entry.bundle) => {
                        p.rolled_back.get_or_insert(at);
                        if p.succeeded.is_none() {
                            p.failed.get_or_insert(at);
                        }
                    }
                    // On its own, or inside the promotion of `deploy
                    // rollback`: the last successful promotion of the bundle
                    // rolled back from.
                    _ => {
                        if let Some((_, p)) = promotions.iter_mut().rev().find(|(seq, p)| {
                            **seq < entry.seq
                                && p.succeeded.is_some()
                                && p.bundle.as_ref() == Some(&entry.bundle)
                        }) {
                            p.rolled_back.get_or_insert(at);
                        }
                    }
                }
            }
            Event::Gate { .. } | Event::Switch { .. } | Event::Approved { .. } => {}
        }
    }
    // A rollback record standing alone is not a promotion of its own.
    promotions.retain(|_, p| p.bundle.is_some() || p.upgraded || p.succeeded.is_some());
    promotions
}

/// Outages of production: from a failure (a `Failed` after an upgrade) or a
/// rollback to the next `Succeeded`. Consecutive failures are one outage.
fn time_to_restore(
    entries: &[Entry],
    in_window: &dyn Fn(Seconds) -> bool,
    now: Seconds,
) -> TimeToRestore {
    let mut upgraded: Vec<u64> = Vec::new();
    let mut open: Option<Seconds> = None;
    let mut restores = Vec::new();
    for entry in entries {
        let Some(at) = parse_time(&entry.time) else {
            continue;
        };
        match &entry.event {
            Event::Upgraded { .. } => upgraded.push(entry.promotion),
            Event::Failed { .. } if upgraded.contains(&entry.promotion) => {
                open.get_or_insert(at);
            }
            Event::RolledBack { .. } => {
                open.get_or_insert(at);
            }
            Event::Succeeded { .. } => {
                if let Some(start) = open.take()
                    && in_window(start)
                {
                    restores.push(Restore {
                        failed: rfc3339(start),
                        restored: rfc3339(at),
                        seconds: at - start,
                    });
                }
            }
            _ => {}
        }
    }
    let unrestored_since = open
        .filter(|start| in_window(*start) && *start <= now)
        .map(rfc3339);
    let mut times: Vec<Seconds> = restores.iter().map(|r| r.seconds).collect();
    times.sort_unstable();
    let median_seconds = median(&times);
    TimeToRestore {
        restores,
        median_seconds,
        unrestored_since,
        band: median_seconds.map(restore_band),
    }
}

fn weekly(successes: &[(Seconds, &Promotion)], since: Seconds, now: Seconds) -> Vec<WeekCount> {
    let mut weeks = Vec::new();
    let mut start = since;
    while start < now || weeks.is_empty() {
        let end = start + WEEK;
        let deployments = successes
            .iter()
            .filter(|(at, _)| *at >= start && (*at < end || (end >= now && *at <= now)))
            .count() as u64;
        weeks.push(WeekCount {
            start: rfc3339(start),
            deployments,
        });
        start = end;
    }
    weeks
}

fn environment_state(name: &str, entries: &[Entry]) -> EnvironmentState {
    let mut state = EnvironmentState {
        name: name.to_owned(),
        bundle: None,
        since: None,
        revision: None,
        actor: None,
        unfinished: None,
        timeline: Vec::new(),
    };
    let mut ended: Vec<u64> = Vec::new();
    let mut started: Vec<u64> = Vec::new();
    for entry in entries {
        let at = parse_time(&entry.time).unwrap_or_default();
        let mark = |kind, reason: Option<&String>| Mark {
            time: entry.time.clone(),
            at,
            kind,
            bundle: entry.bundle.clone(),
            promotion: entry.promotion,
            actor: entry.actor.clone(),
            reason: reason.cloned(),
        };
        match &entry.event {
            Event::Started { .. } => started.push(entry.promotion),
            Event::Succeeded { revision, .. } => {
                state.bundle = Some(entry.bundle.clone());
                state.since = Some(entry.time.clone());
                state.revision = Some(*revision);
                state.actor = Some(entry.actor.clone());
                ended.push(entry.promotion);
                state.timeline.push(mark(MarkKind::Succeeded, None));
            }
            Event::Failed {
                reason,
                rolled_back_to,
            } => {
                if let Some(revision) = rolled_back_to {
                    state.revision = Some(*revision);
                }
                ended.push(entry.promotion);
                state.timeline.push(mark(MarkKind::Failed, Some(reason)));
            }
            Event::RolledBack {
                to_revision,
                to_bundle,
                reason,
            } => {
                state.revision = Some(*to_revision);
                if let Some(to) = to_bundle {
                    state.bundle = Some(to.clone());
                }
                state.since = Some(entry.time.clone());
                state.actor = Some(entry.actor.clone());
                ended.push(entry.promotion);
                state
                    .timeline
                    .push(mark(MarkKind::RolledBack, Some(reason)));
            }
            Event::Gate { .. }
            | Event::Upgraded { .. }
            | Event::Switch { .. }
            | Event::Approved { .. } => {}
        }
    }
    state.unfinished = started.into_iter().rev().find(|p| !ended.contains(p));
    state
}

/// The median of sorted values: the middle one, or the mean of the two
/// middle ones (rounded down).
pub fn median(sorted: &[Seconds]) -> Option<Seconds> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(Seconds::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// The nearest-rank percentile of sorted values: the smallest value with at
/// least `p`% of the values at or below it.
pub fn percentile(sorted: &[Seconds], p: usize) -> Option<Seconds> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// Deployment frequency band (Accelerate State of DevOps 2021): elite on
/// demand (daily or more), high at least monthly (the report's "between
/// once per week and once per month", and the gap above it), medium at least
/// once every six months, low below.
pub fn frequency_band(per_day: f64) -> Band {
    if per_day >= 1.0 {
        Band::Elite
    } else if per_day >= 1.0 / 30.0 {
        Band::High
    } else if per_day >= 1.0 / 182.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// Lead time band (2021): elite under an hour, high under a week, medium
/// under six months, low beyond.
pub fn lead_time_band(seconds: Seconds) -> Band {
    if seconds < HOUR {
        Band::Elite
    } else if seconds < WEEK {
        Band::High
    } else if seconds < 182 * DAY {
        Band::Medium
    } else {
        Band::Low
    }
}

/// Time to restore band (2021): elite under an hour, high under a day,
/// medium under a week, low beyond.
pub fn restore_band(seconds: Seconds) -> Band {
    if seconds < HOUR {
        Band::Elite
    } else if seconds < DAY {
        Band::High
    } else if seconds < WEEK {
        Band::Medium
    } else {
        Band::Low
    }
}

/// Change failure rate band (2021): elite 0-15 %; high, medium and low all
/// 16-30 %, so a rate up to 30 % is the best of those, high; above 30 % is
/// worse than every band the report gives: low.
pub fn failure_rate_band(rate: f64) -> Band {
    if rate <= 0.15 {
        Band::Elite
    } else if rate <= 0.30 {
        Band::High
    } else {
        Band::Low
    }
}

/// `1 deploy`, `2 deploys`.
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A duration for people: `45s`, `12m`, `3h 20m`, `2d 4h`.
pub fn human_duration(seconds: Seconds) -> String {
    let s = seconds.max(0);
    if s < MINUTE {
        format!("{s}s")
    } else if s < HOUR {
        format!("{}m", s / MINUTE)
    } else if s < DAY {
        format!("{}h {}m", s / HOUR, s % HOUR / MINUTE)
    } else {
        format!("{}d {}h", s / DAY, s % DAY / HOUR)
    }
}

#[cfg(test)]
mod tests;
