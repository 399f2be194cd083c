//! One environment, opened: its configuration, the cluster connection,
//! Helm pointed at it, its ledger, and what the ledger says about it.

use std::time::Duration;

use windlass_output::{ExitStatus, ResultExt as _};

use crate::bundle::{Bundle, BundleId};
use crate::cli::Context;
use crate::config::EnvironmentSpec;
use crate::helm::Helm;
use crate::kube::ledger::{Entry, Event, Ledger};
use crate::kube::{Cluster, Target};

/// Helm's `--timeout` when neither the environment nor `[deploy]` says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// An environment ready to work on.
#[derive(Debug)]
pub struct Stage {
    pub name: String,
    pub spec: EnvironmentSpec,
    pub cluster: Cluster,
    pub helm: Helm,
    pub ledger: Ledger,
    pub release: String,
    pub timeout: Duration,
}

/// The spec of environment `name`, or a usage error naming the known ones.
pub fn spec<'a>(ctx: &'a Context, name: &str) -> anyhow::Result<&'a EnvironmentSpec> {
    ctx.deploy.environments.get(name).ok_or_else(|| {
        let known: Vec<&str> = ctx.deploy.environments.keys().map(String::as_str).collect();
        let hint = if known.is_empty() {
            "declare environments in windlass.toml as `[deploy.environments.NAME]`".to_owned()
        } else {
            format!("the environments are: {}", known.join(", "))
        };
        windlass_output::Classified::new(anyhow::anyhow!(
            "no environment `{}` in `[deploy.environments]`",
            windlass_output::escape_controls(name)
        ))
        .with_status(ExitStatus::Usage)
        .with_hint(hint)
        .into()
    })
}

/// Parses `90s`, `5m`, `2h`, `1d` (or a bare number of seconds): the
/// gates' one duration syntax.
pub fn parse_duration(text: &str) -> Option<Duration> {
    crate::gates::parse_duration(text)
}

impl Stage {
    /// Opens environment `name`: connects to its cluster (checked to
    /// answer) and finds Helm.
    pub async fn open(ctx: &Context, name: &str) -> anyhow::Result<Self> {
        let stage = Self::open_unchecked(ctx, name).await?;
        stage.cluster.reachable().await?;
        Ok(stage)
    }

    /// [`Stage::open`] without waiting for the cluster's answer: the caller
    /// awaits [`Cluster::reachable`] alongside its first requests (a
    /// promotion: with the lease and the first reads).
    pub async fn open_unchecked(ctx: &Context, name: &str) -> anyhow::Result<Self> {
        let spec = spec(ctx, name)?.clone();
        crate::gates::validate(name, &spec.gates)?;
        let target = Target {
            kubeconfig: spec.kubeconfig.as_ref().map(|p| p.as_path().to_path_buf()),
            context: spec.context.clone(),
            namespace: spec.namespace.clone(),
        };
        // The cluster's version request goes out (not awaited here) and
        // finding Helm asks `helm version`: both at once.
        let (cluster, binary) = tokio::try_join!(
            async { anyhow::Ok(Box::pin(Cluster::open(&target, &ctx.env)).await?) },
            async { anyhow::Ok(crate::helm::locate(&ctx.env).await?) },
        )?;
        let version = crate::helm::version(&binary).await?;
        let helm = Helm::new(
            binary,
            target.kubeconfig.clone(),
            Some(cluster.context().to_owned()),
            cluster.namespace().to_owned(),
        )
        .with_version(version);
        let ledger = Ledger::new(&cluster, name);
        let release = spec
            .release
            .clone()
            .or_else(|| ctx.deploy.release.clone())
            .or_else(|| chart_name(ctx.deploy.chart.as_deref()))
            .ok_or_else(|| anyhow::anyhow!("no release name for environment `{name}`"))
            .with_hint("set `[deploy] release = \"NAME\"` in windlass.toml")
            .with_exit_status(ExitStatus::Usage)?;
        let timeout_text = spec.timeout.clone().or_else(|| ctx.deploy.timeout.clone());
        let timeout = match timeout_text {
            None => DEFAULT_TIMEOUT,
            Some(text) => parse_duration(&text)
                .ok_or_else(|| anyhow::anyhow!("`{text}` is not a duration (timeout of `{name}`)"))
                .with_hint("write a number with `s`, `m`, `h` or `d`: `90s`, `5m`")
                .with_exit_status(ExitStatus::Usage)?,
        };
        Ok(Self {
            name: name.to_owned(),
            spec,
            cluster,
            helm,
            ledger,
            release,
            timeout,
        })
    }
}

/// The last path segment of a chart reference, without `.tgz` and version.
fn chart_name(chart: Option<&str>) -> Option<String> {
    let chart = chart?.trim_end_matches('/');
    let last = chart.rsplit('/').next()?;
    let last = last.strip_suffix(".tgz").unwrap_or(last);
    (!last.is_empty()).then(|| last.to_owned())
}

/// What an environment's ledger says.
#[derive(Debug, Default)]
pub struct LedgerView {
    pub entries: Vec<Entry>,
}

/// One promotion of a ledger: its records in order.
#[derive(Debug)]
pub struct Promotion<'a> {
    pub seq: u64,
    pub started: &'a Entry,
    pub records: Vec<&'a Entry>,
}

impl Promotion<'_> {
    pub fn bundle(&self) -> Option<&Bundle> {
        match &self.started.event {
            Event::Started { bundle, .. } => Some(bundle),
            _ => None,
        }
    }

    pub fn from(&self) -> Option<&str> {
        match &self.started.event {
            Event::Started { from, .. } => from.as_deref(),
            _ => None,
        }
    }

    /// The record that ended it, if any.
    pub fn end(&self) -> Option<&Entry> {
        self.records
            .iter()
            .copied()
            .find(|e| matches!(e.event, Event::Succeeded { .. } | Event::Failed { .. }))
    }

    /// The revision it succeeded with.
    pub fn succeeded(&self) -> Option<u32> {
        match self.end().map(|e| &e.event) {
            Some(Event::Succeeded { revision, .. }) => Some(*revision),
            _ => None,
        }
    }

    /// The last revision Helm reported for it.
    pub fn upgraded(&self) -> Option<u32> {
        self.records.iter().rev().find_map(|e| match e.event {
            Event::Upgraded { revision } => Some(revision),
            _ => None,
        })
    }
}

impl LedgerView {
    pub async fn read(ledger: &Ledger) -> anyhow::Result<Self> {
        Ok(Self {
            entries: ledger.entries().await?,
        })
    }

    /// Every promotion, oldest first.
    pub fn promotions(&self) -> Vec<Promotion<'_>> {
        self.entries
            .iter()
            .filter(|e| matches!(e.event, Event::Started { .. }))
            .map(|started| Promotion {
                seq: started.seq,
                started,
                records: self
                    .entries
                    .iter()
                    .filter(|e| e.promotion == started.seq && e.seq != started.seq)
                    .collect(),
            })
            .collect()
    }

    /// The last promotion when it has no end.
    pub fn unfinished(&self) -> Option<Promotion<'_>> {
        self.promotions().pop().filter(|p| p.end().is_none())
    }

    /// The last promotion when it was interrupted after Helm upgraded the
    /// release (its verification never finished).
    pub fn interrupted_upgrade(&self) -> Option<Promotion<'_>> {
        self.promotions().pop().filter(|p| {
            p.upgraded().is_some()
                && p.records.iter().all(|e| {
                    !matches!(
                        &e.event,
                        Event::Failed {
                            rolled_back_to: Some(_),
                            ..
                        } | Event::Succeeded { .. }
                    )
                })
                && matches!(
                    p.end().map(|e| &e.event),
                    Some(Event::Failed { reason, .. }) if reason == "interrupted"
                )
        })
    }

    /// The last promotion has no end, or ended by an interruption: what
    /// recovery looks at.
    pub fn last_open(&self) -> bool {
        self.promotions()
            .pop()
            .is_some_and(|p| match p.end().map(|e| &e.event) {
                None => true,
                Some(Event::Failed { reason, .. }) => reason == "interrupted",
                Some(_) => false,
            })
    }

    /// The last succeeded promotion: what runs there.
    pub fn live(&self) -> Option<Promotion<'_>> {
        self.promotions()
            .into_iter()
            .rev()
            .find(|p| p.succeeded().is_some())
    }

    /// Bundles rolled back away from here: never promoted again unless
    /// asked explicitly.
    pub fn rolled_back(&self, id: &BundleId) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| &e.bundle == id && matches!(e.event, Event::RolledBack { .. }))
    }

    /// A bundle of this ledger named by an id prefix.
    pub fn find_bundle(&self, prefix: &str) -> Option<&Bundle> {
        self.entries.iter().rev().find_map(|e| match &e.event {
            Event::Started { bundle, .. } if e.bundle.matches(prefix) => Some(&**bundle),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{LedgerView, chart_name, parse_duration};
    use crate::bundle::{Bundle, BundleId, ChartRef};
    use crate::config::StrategyKind;
    use crate::kube::ledger::{Entry, Event};

    fn bundle(version: &str) -> Bundle {
        Bundle {
            chart: ChartRef {
                name: "app".to_owned(),
                version: version.to_owned(),
                location: "chart".to_owned(),
                digest: format!("sha256:{version}"),
            },
            images: BTreeMap::new(),
            values: serde_json::json!({}),
            source: None,
        }
    }

    /// A ledger from `(promotion, bundle version, event)` rows.
    fn ledger(rows: &[(u64, &str, Event)]) -> LedgerView {
        let entries = rows
            .iter()
            .enumerate()
            .map(|(i, (promotion, version, event))| Entry {
                seq: i as u64 + 1,
                environment: "dev".to_owned(),
                time: format!("t{}", i + 1),
                actor: "tester".to_owned(),
                promotion: *promotion,
                bundle: bundle(version).id(),
                event: event.clone(),
            })
            .collect();
        LedgerView { entries }
    }

    fn started(version: &str) -> Event {
        Event::Started {
            bundle: Box::new(bundle(version)),
            from: None,
            strategy: StrategyKind::Rolling,
        }
    }

    fn id(version: &str) -> BundleId {
        bundle(version).id()
    }

    #[test]
    fn live_unfinished_and_rolled_back_bundles() {
        let view = ledger(&[
            (1, "1", started("1")),
            (1, "1", Event::Upgraded { revision: 1 }),
            (
                1,
                "1",
                Event::Succeeded {
                    revision: 1,
                    checks: Vec::new(),
                },
            ),
            (4, "2", started("2")),
            (4, "2", Event::Upgraded { revision: 2 }),
            (
                4,
                "2",
                Event::RolledBack {
                    to_revision: 1,
                    to_bundle: Some(id("1")),
                    reason: "verify failed".to_owned(),
                },
            ),
            (
                4,
                "2",
                Event::Failed {
                    reason: "verify failed".to_owned(),
                    rolled_back_to: Some(3),
                },
            ),
            (8, "3", started("3")),
            (8, "3", Event::Upgraded { revision: 4 }),
        ]);
        let promotions = view.promotions();
        assert_eq!(
            promotions.iter().map(|p| p.seq).collect::<Vec<_>>(),
            [1, 4, 8]
        );
        let live = view.live().unwrap();
        assert_eq!(live.started.bundle, id("1"));
        assert_eq!(live.succeeded(), Some(1));
        let unfinished = view.unfinished().unwrap();
        assert_eq!(unfinished.seq, 8);
        assert_eq!(unfinished.upgraded(), Some(4));
        assert!(view.rolled_back(&id("2")).is_some());
        assert!(view.rolled_back(&id("1")).is_none());
        // The ledger expects the revision the failed promotion left.
        assert_eq!(
            crate::promotion::expected_revision(&view.entries[..7]),
            Some(3)
        );
        let full = id("3");
        let hex = &full.as_str()["sha256:".len()..];
        assert!(view.find_bundle(&hex[..7]).is_some());
        assert!(view.find_bundle(&hex[..6]).is_none(), "too short a prefix");
    }

    #[test]
    fn a_finished_ledger_has_nothing_unfinished() {
        let view = ledger(&[
            (1, "1", started("1")),
            (
                1,
                "1",
                Event::Failed {
                    reason: "gate approval failed".to_owned(),
                    rolled_back_to: None,
                },
            ),
        ]);
        assert!(view.unfinished().is_none());
        assert!(view.live().is_none());
        assert_eq!(crate::promotion::expected_revision(&view.entries), None);
    }

    #[test]
    fn durations_and_chart_names() {
        for (text, seconds) in [
            ("90s", Some(90)),
            ("5m", Some(300)),
            ("2h", Some(7200)),
            ("1d", Some(86_400)),
            ("30", Some(30)),
            ("5x", None),
            ("m", None),
        ] {
            assert_eq!(parse_duration(text).map(|d| d.as_secs()), seconds, "{text}");
        }
        for (chart, name) in [
            (Some("charts/ml-job"), Some("ml-job")),
            (Some("charts/ml-job/"), Some("ml-job")),
            (Some("dist/app.tgz"), Some("app")),
            (Some("oci://registry.example.com/charts/app"), Some("app")),
            (None, None),
        ] {
            assert_eq!(chart_name(chart).as_deref(), name, "{chart:?}");
        }
    }
}
