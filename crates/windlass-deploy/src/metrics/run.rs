//! `windlass deploy metrics`: reads the ledgers and the commit times, then
//! reports the measures as a table, as JSON, and as an HTML board.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use windlass_diagnostic::{Diagnostic, ExitStatus};
use windlass_output::{Outcome, Printer};
use windlass_process::Cmd;

use super::{Band, Metrics, MetricsInput, Seconds, compute, html, human_duration, plural};
use crate::config::DeploySection;
use crate::kube::Cluster;
use crate::kube::ledger::{Entry, Event, Ledger, LedgerError};

/// `windlass deploy metrics`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct MetricsArgs {
    /// The window: from this long ago until now (`90m`, `12h`, `30d`, `8w`).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration_arg)]
    pub since: Duration,
    /// The environment the measures are about; default: the last one of the
    /// `from` chain.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Also write a self-contained HTML status board to this file.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

impl Default for MetricsArgs {
    fn default() -> Self {
        Self {
            since: Duration::from_secs(30 * 86_400),
            env: None,
            html: None,
        }
    }
}

/// What the command layer hands over: the configuration, where the project
/// is (for git), every environment's ledger, and the time it is.
#[derive(Debug)]
pub struct MetricsRun<'a> {
    pub deploy: &'a DeploySection,
    pub project_dir: &'a Path,
    pub ledgers: Vec<(String, Vec<Entry>)>,
    pub now: Seconds,
}

/// The result of `deploy metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct MetricsReport {
    #[serde(flatten)]
    pub metrics: Metrics,
    /// Where the HTML board was written, if asked for.
    pub html: Option<PathBuf>,
}

/// Why `deploy metrics` failed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("`--since {0}` is not a duration")]
    Since(String),
    #[error("`[deploy.environments]` is empty: there is no environment to measure")]
    NoEnvironments,
    #[error("`--env {name}` is not an environment of `[deploy.environments]`")]
    UnknownEnvironment { name: String, known: Vec<String> },
    #[error("the `from` chains of `[deploy.environments]` end in several environments: {}", .0.join(", "))]
    AmbiguousProduction(Vec<String>),
    #[error("cannot write the status board {}", path.display())]
    WriteHtml {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl Diagnostic for MetricsError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Since(_)
            | Self::NoEnvironments
            | Self::UnknownEnvironment { .. }
            | Self::AmbiguousProduction(_)
            | Self::WriteHtml { .. } => ExitStatus::Usage,
            Self::Ledger(error) => error.exit_status(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Since(_) => {
                Some("numbers with units: s, m, h, d or w (e.g. `30d`, `1w2d`)".to_owned())
            }
            Self::NoEnvironments => {
                Some("add `[deploy.environments.NAME]` tables to windlass.toml".to_owned())
            }
            Self::UnknownEnvironment { known, .. } => {
                Some(format!("the environments are: {}", known.join(", ")))
            }
            Self::AmbiguousProduction(_) => {
                Some("say which one is production with `--env ENV`".to_owned())
            }
            Self::WriteHtml { .. } => {
                Some("check that the directory exists and is writable".to_owned())
            }
            Self::Ledger(error) => error.hint(),
        }
    }
}

/// Parses `90m`, `12h`, `30d`, `8w`, `45s` (any duration `windlass.toml`
/// takes, combined units too); zero is none.
pub fn parse_duration(text: &str) -> Option<Duration> {
    windlass_config::duration::parse(text).filter(|d| !d.is_zero())
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| {
        format!(
            "`{text}` is not a duration: numbers with units: s, m, h, d or w (e.g. `30d`, `1w2d`)"
        )
    })
}

/// Each environment's depth in the `from` chains (a root is 0).
fn depths(deploy: &DeploySection) -> BTreeMap<&str, usize> {
    deploy
        .environments
        .keys()
        .map(|name| {
            let mut depth = 0;
            let mut at = name.as_str();
            while let Some(from) = deploy
                .environments
                .get(at)
                .and_then(|spec| spec.from.as_deref())
                && depth <= deploy.environments.len()
            {
                depth += 1;
                at = from;
            }
            (name.as_str(), depth)
        })
        .collect()
}

/// Production: `--env`, else the last environment of the `from` chain (the
/// one deepest in it, which nothing is promoted from).
pub fn production_environment(
    deploy: &DeploySection,
    env: Option<&str>,
) -> Result<String, MetricsError> {
    let known: Vec<String> = deploy.environments.keys().cloned().collect();
    if let Some(name) = env {
        return if deploy.environments.contains_key(name) {
            Ok(name.to_owned())
        } else {
            Err(MetricsError::UnknownEnvironment {
                name: name.to_owned(),
                known,
            })
        };
    }
    let depths = depths(deploy);
    let deepest = depths
        .values()
        .copied()
        .max()
        .ok_or(MetricsError::NoEnvironments)?;
    let last: Vec<String> = depths
        .iter()
        .filter(|(name, depth)| {
            **depth == deepest
                && !deploy
                    .environments
                    .values()
                    .any(|spec| spec.from.as_deref() == Some(**name))
        })
        .map(|(name, _)| (*name).to_owned())
        .collect();
    match last.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(MetricsError::AmbiguousProduction(last)),
    }
}

/// Every environment's ledger, in the order of `clusters`.
pub async fn read_ledgers(
    clusters: &[(String, Cluster)],
) -> Result<Vec<(String, Vec<Entry>)>, LedgerError> {
    let mut ledgers = Vec::with_capacity(clusters.len());
    for (name, cluster) in clusters {
        let entries = Ledger::new(cluster, name).entries().await?;
        ledgers.push((name.clone(), entries));
    }
    Ok(ledgers)
}

/// Whether `text` can only be a commit id (hex), never an option or a
/// revision expression.
fn is_commit_id(text: &str) -> bool {
    (4..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit time of each commit (`git show -s --format=%ct`), run in
/// `project_dir`. A commit git does not know (or that is not a commit id)
/// is missing from the map.
pub async fn git_commit_times<'a>(
    project_dir: &Path,
    commits: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, Seconds> {
    let mut times = BTreeMap::new();
    // Children run in an explicit, absolute directory.
    let Ok(project_dir) = std::path::absolute(project_dir) else {
        return times;
    };
    for commit in commits {
        if times.contains_key(commit) || !is_commit_id(commit) {
            continue;
        }
        let outcome = Cmd::new("git", &project_dir)
            .args([
                "show",
                "-s",
                "--format=%ct",
                &format!("{commit}^{{commit}}"),
            ])
            .env("GIT_TERMINAL_PROMPT", "0")
            .capture_output()
            .timeout(Duration::from_secs(30))
            .run()
            .await;
        let Ok(outcome) = outcome else { continue };
        if !outcome.success() {
            continue;
        }
        let seconds = outcome
            .stdout()
            .and_then(|out| std::str::from_utf8(out).ok())
            .and_then(|out| out.trim().parse::<Seconds>().ok());
        if let Some(seconds) = seconds {
            times.insert(commit.to_owned(), seconds);
        }
    }
    times
}

/// Computes the measures over the ledgers, writes the board if asked.
pub async fn run(
    args: &MetricsArgs,
    input: MetricsRun<'_>,
    printer: &Printer,
) -> Result<MetricsReport, MetricsError> {
    let production = production_environment(input.deploy, args.env.as_deref())?;
    let since_secs = Seconds::try_from(args.since.as_secs()).unwrap_or(Seconds::MAX / 2);
    // Nothing is older than the epoch: a huge `--since` means everything.
    let since = input.now.saturating_sub(since_secs).max(0);

    // Environments in the order of the `from` chains, then by name.
    let depths = depths(input.deploy);
    let mut ledgers = input.ledgers;
    ledgers.sort_by_key(|(name, _)| (depths.get(name.as_str()).copied(), name.clone()));

    let commits: Vec<&str> = ledgers
        .iter()
        .filter(|(name, _)| *name == production)
        .flat_map(|(_, entries)| entries)
        .filter_map(|entry| match &entry.event {
            Event::Started { bundle, .. } => bundle.source.as_ref().map(|s| s.commit.as_str()),
            _ => None,
        })
        .collect();
    let times = git_commit_times(input.project_dir, commits).await;
    let commit_times = |commit: &str| times.get(commit).copied();

    let metrics = compute(&MetricsInput {
        ledgers: ledgers.clone(),
        production: &production,
        since,
        now: input.now,
        commit_times: &commit_times,
    });
    if metrics.lead_time.unknown_commit > 0 {
        printer.warn(&format!(
            "{} deployment(s) left out of the lead time: git does not know their commit (is this \
             the project's repository, with its full history?)",
            metrics.lead_time.unknown_commit
        ));
    }
    if let Some(path) = &args.html {
        write_atomically(path, html::render(&metrics).as_bytes()).map_err(|source| {
            MetricsError::WriteHtml {
                path: path.clone(),
                source,
            }
        })?;
        printer.status("Wrote", &format!("status board {}", path.display()));
    }
    Ok(MetricsReport {
        metrics,
        html: args.html.clone(),
    })
}

/// `deploy metrics` as the command runs it: reads the ledger of each
/// environment from its cluster, then [`run`] at the current time.
pub async fn run_on_clusters(
    args: &MetricsArgs,
    deploy: &DeploySection,
    project_dir: &Path,
    clusters: &[(String, Cluster)],
    printer: &Printer,
) -> Result<MetricsReport, MetricsError> {
    // Check `--env` before any request.
    production_environment(deploy, args.env.as_deref())?;
    let ledgers = read_ledgers(clusters).await?;
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    run(
        args,
        MetricsRun {
            deploy,
            project_dir,
            ledgers,
            now,
        },
        printer,
    )
    .await
}

/// Writes a temporary file next to `path`, then renames it over `path`, so
/// a reader never sees half a board.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".windlass-board")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn band(band: Option<Band>) -> &'static str {
    band.map_or("-", Band::as_str)
}

fn maybe_duration(seconds: Option<Seconds>) -> String {
    seconds.map_or_else(|| "-".to_owned(), human_duration)
}

impl Outcome for MetricsReport {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let m = &self.metrics;
        writeln!(
            out,
            "DORA measures for {} from {} to {}",
            m.production, m.since, m.now
        )?;
        writeln!(out)?;
        let df = &m.deployment_frequency;
        let lt = &m.lead_time;
        let cfr = &m.change_failure_rate;
        let ttr = &m.time_to_restore;
        let rows = [
            (
                "deployment frequency".to_owned(),
                format!(
                    "{}, {:.2}/day, {:.2}/week",
                    plural(df.deployments, "deploy"),
                    df.per_day,
                    df.per_week
                ),
                df.band.as_str(),
            ),
            (
                "lead time for changes".to_owned(),
                format!(
                    "median {}, p90 {} ({}{})",
                    maybe_duration(lt.median_seconds),
                    maybe_duration(lt.p90_seconds),
                    plural(lt.samples.len() as u64, "deploy"),
                    match lt.unknown_commit + lt.without_commit {
                        0 => String::new(),
                        n => format!(", {n} without a known commit"),
                    }
                ),
                band(lt.band),
            ),
            (
                "change failure rate".to_owned(),
                match cfr.rate {
                    Some(rate) => format!(
                        "{:.0}% ({} of {} deploys)",
                        rate * 100.0,
                        cfr.failed,
                        cfr.deployments
                    ),
                    None => "- (no deploys)".to_owned(),
                },
                band(cfr.band),
            ),
            (
                "time to restore".to_owned(),
                format!(
                    "median {} ({}{})",
                    maybe_duration(ttr.median_seconds),
                    plural(ttr.restores.len() as u64, "restore"),
                    match &ttr.unrestored_since {
                        Some(since) => format!(", failing since {since}"),
                        None => String::new(),
                    }
                ),
                band(ttr.band),
            ),
        ];
        writeln!(out, "{:<22}  {:<62}  BAND", "MEASURE", "VALUE")?;
        for (name, value, band) in rows {
            writeln!(out, "{name:<22}  {value:<62}  {band}")?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{:<14}  {:<12}  {:<8}  SINCE",
            "ENVIRONMENT", "BUNDLE", "REVISION"
        )?;
        for env in &m.environments {
            writeln!(
                out,
                "{:<14}  {:<12}  {:<8}  {}{}",
                env.name,
                env.bundle.as_ref().map_or("-", |b| b.short()),
                env.revision
                    .map_or_else(|| "-".to_owned(), |r| r.to_string()),
                env.since.as_deref().unwrap_or("-"),
                match env.unfinished {
                    Some(seq) => format!(" (promotion {seq} unfinished)"),
                    None => String::new(),
                }
            )?;
        }
        if let Some(path) = &self.html {
            writeln!(out)?;
            writeln!(out, "status board: {}", path.display())?;
        }
        Ok(())
    }
}
