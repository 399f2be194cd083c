//! Scripted ledgers through `compute`.

use std::collections::BTreeMap;

use windlass_diagnostic::{Diagnostic, ExitStatus};

use super::*;
use crate::bundle::{Bundle, ChartRef, SourceRef};
use crate::config::StrategyKind;

const T0: Seconds = 1_790_000_000; // a Monday-ish, any fixed instant
const NOW: Seconds = T0 + 30 * DAY;

fn bundle(n: u8) -> Bundle {
    Bundle {
        chart: ChartRef {
            name: "app".into(),
            version: format!("1.0.{n}"),
            location: "chart".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
        },
        images: BTreeMap::new(),
        values: serde_json::json!({ "n": n }),
        source: Some(SourceRef {
            repository: None,
            commit: format!("c{n:03}"),
        }),
    }
}

/// Writes a ledger as the commands would: each call appends one record.
struct Script {
    env: String,
    entries: Vec<Entry>,
}

impl Script {
    fn new(env: &str) -> Self {
        Self {
            env: env.into(),
            entries: Vec::new(),
        }
    }

    fn push(&mut self, at: Seconds, promotion: Option<u64>, bundle: BundleId, event: Event) -> u64 {
        let seq = self.entries.len() as u64 + 1;
        self.entries.push(Entry {
            seq,
            environment: self.env.clone(),
            time: rfc3339(at),
            actor: "ci".into(),
            promotion: promotion.unwrap_or(seq),
            bundle,
            event,
        });
        seq
    }

    fn start(&mut self, at: Seconds, n: u8) -> u64 {
        let b = bundle(n);
        self.push(
            at,
            None,
            b.id(),
            Event::Started {
                bundle: Box::new(b),
                from: None,
                strategy: StrategyKind::default(),
            },
        )
    }

    /// A promotion that succeeds `took` seconds after it starts.
    fn success(&mut self, at: Seconds, n: u8, took: Seconds) -> u64 {
        let p = self.start(at, n);
        let id = bundle(n).id();
        self.push(
            at + 1,
            Some(p),
            id.clone(),
            Event::Upgraded {
                revision: u32::try_from(p).unwrap(),
            },
        );
        self.push(
            at + took,
            Some(p),
            id,
            Event::Succeeded {
                revision: u32::try_from(p).unwrap(),
                checks: Vec::new(),
            },
        );
        p
    }

    /// A promotion whose verification fails after the upgrade, rolled back.
    fn failure(&mut self, at: Seconds, n: u8, reason: &str) -> u64 {
        let p = self.start(at, n);
        let id = bundle(n).id();
        self.push(at + 1, Some(p), id.clone(), Event::Upgraded { revision: 9 });
        self.push(
            at + 2,
            Some(p),
            id,
            Event::Failed {
                reason: reason.into(),
                rolled_back_to: Some(8),
            },
        );
        p
    }

    /// A promotion a gate stops before the upgrade.
    fn blocked(&mut self, at: Seconds, n: u8) -> u64 {
        let p = self.start(at, n);
        let id = bundle(n).id();
        self.push(
            at + 1,
            Some(p),
            id.clone(),
            Event::Gate {
                gate: "approval".into(),
                passed: false,
                detail: "no approval".into(),
            },
        );
        self.push(
            at + 2,
            Some(p),
            id,
            Event::Failed {
                reason: "approval missing".into(),
                rolled_back_to: None,
            },
        );
        p
    }

    /// A `deploy rollback` later, away from bundle `from` to bundle `to`.
    fn rollback(&mut self, at: Seconds, from: u8, to: u8, reason: &str) -> u64 {
        self.push(
            at,
            None,
            bundle(from).id(),
            Event::RolledBack {
                to_revision: 3,
                to_bundle: Some(bundle(to).id()),
                reason: reason.into(),
            },
        )
    }
}

/// Commit `cNNN` was made NNN hours before T0... unless NNN >= 200 (unknown).
fn commit_time(commit: &str) -> Option<Seconds> {
    let n: i64 = commit.strip_prefix('c')?.parse().ok()?;
    (n < 200).then_some(T0 - n * HOUR)
}

fn metrics(ledgers: Vec<Script>, production: &str) -> Metrics {
    compute(&MetricsInput {
        ledgers: ledgers.into_iter().map(|s| (s.env, s.entries)).collect(),
        production,
        since: T0,
        now: NOW,
        commit_times: &commit_time,
    })
}

#[test]
fn no_deploys() {
    let m = metrics(vec![Script::new("staging"), Script::new("prod")], "prod");
    assert_eq!(m.deployment_frequency.deployments, 0);
    assert!(m.deployment_frequency.per_day.abs() < f64::EPSILON);
    assert_eq!(m.deployment_frequency.band, Band::Low);
    assert_eq!(m.lead_time.median_seconds, None);
    assert_eq!(m.lead_time.band, None);
    assert_eq!(m.change_failure_rate.rate, None);
    assert_eq!(m.change_failure_rate.band, None);
    assert_eq!(m.time_to_restore.median_seconds, None);
    assert_eq!(m.time_to_restore.unrestored_since, None);
    assert_eq!(m.environments.len(), 2);
    assert_eq!(m.environments[1].bundle, None);
    // Five weeks cover 30 days; all empty.
    assert_eq!(m.weekly.len(), 5);
    assert!(m.weekly.iter().all(|w| w.deployments == 0));
}

#[test]
fn production_missing_from_the_ledgers_is_empty() {
    let m = metrics(vec![Script::new("staging")], "prod");
    assert_eq!(m.deployment_frequency.deployments, 0);
    assert_eq!(m.production, "prod");
}

#[test]
fn daily_deploys_are_elite_frequency_with_lead_times() {
    let mut prod = Script::new("prod");
    // 30 deploys, one a day, each of commit cN made N hours before T0, so
    // deploy i (at T0 + i days + 1h) has lead i*24h + 1h + N h.
    for i in 0..30 {
        prod.success(T0 + i * DAY + HOUR - 60, 1, 60);
    }
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.deployment_frequency.deployments, 30);
    assert!((m.deployment_frequency.per_day - 1.0).abs() < 1e-9);
    assert!((m.deployment_frequency.per_week - 7.0).abs() < 1e-9);
    assert_eq!(m.deployment_frequency.band, Band::Elite);
    assert_eq!(m.lead_time.samples.len(), 30);
    // Leads: 2h + i days for i in 0..30 (commit c001 is 1h before T0).
    // Median of 30: mean of i=14 and i=15; p90: rank 27, i=26.
    assert_eq!(
        m.lead_time.median_seconds,
        Some(2 * HOUR + 14 * DAY + DAY / 2)
    );
    assert_eq!(m.lead_time.p90_seconds, Some(2 * HOUR + 26 * DAY));
    assert_eq!(m.lead_time.band, Some(Band::Medium));
    assert_eq!(m.change_failure_rate.rate, Some(0.0));
    assert_eq!(m.change_failure_rate.band, Some(Band::Elite));
    assert_eq!(m.weekly.iter().map(|w| w.deployments).sum::<u64>(), 30);
    assert_eq!(m.weekly[0].deployments, 7);
}

#[test]
fn one_failure_then_fix() {
    let mut prod = Script::new("prod");
    prod.success(T0 + DAY, 1, 100);
    prod.failure(T0 + 2 * DAY, 2, "verify: GET /healthz answered 503");
    prod.success(T0 + 2 * DAY + 2 * HOUR, 3, 100);
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_eq!(m.change_failure_rate.deployments, 3);
    assert_eq!(m.change_failure_rate.failed, 1);
    let rate = m.change_failure_rate.rate.unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(m.change_failure_rate.band, Some(Band::Low));
    // The failure is recorded at +2s; the fix succeeds at 2h + 100s.
    assert_eq!(m.time_to_restore.restores.len(), 1);
    assert_eq!(m.time_to_restore.median_seconds, Some(2 * HOUR + 100 - 2));
    assert_eq!(m.time_to_restore.band, Some(Band::High));
    assert_eq!(m.time_to_restore.unrestored_since, None);
    // Helm rolled back to revision 8; the live bundle is the fix.
    let env = &m.environments[0];
    assert_eq!(env.bundle, Some(bundle(3).id()));
    assert_eq!(env.timeline.len(), 3);
    assert_eq!(env.timeline[1].kind, MarkKind::Failed);
    assert_eq!(
        env.timeline[1].reason.as_deref(),
        Some("verify: GET /healthz answered 503")
    );
}

#[test]
fn a_later_rollback_marks_the_deploy_failed_and_moves_the_environment() {
    let mut prod = Script::new("prod");
    prod.success(T0 + DAY, 1, 10);
    prod.success(T0 + 2 * DAY, 2, 10);
    prod.rollback(T0 + 2 * DAY + HOUR, 2, 1, "errors up");
    prod.success(T0 + 3 * DAY, 3, 10);
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.change_failure_rate.deployments, 3);
    assert_eq!(m.change_failure_rate.failed, 1, "bundle 2 was rolled back");
    assert_eq!(m.deployment_frequency.deployments, 3);
    // From the rollback to the next success.
    assert_eq!(m.time_to_restore.median_seconds, Some(DAY - HOUR + 10));
    let timeline = &m.environments[0].timeline;
    assert_eq!(timeline[2].kind, MarkKind::RolledBack);
    assert_eq!(timeline[2].bundle, bundle(2).id());
}

#[test]
fn the_environment_runs_what_a_rollback_went_to() {
    let mut prod = Script::new("prod");
    prod.success(T0 + DAY, 1, 10);
    prod.success(T0 + 2 * DAY, 2, 10);
    prod.rollback(T0 + 2 * DAY + HOUR, 2, 1, "errors up");
    let m = metrics(vec![prod], "prod");
    let env = &m.environments[0];
    assert_eq!(env.bundle, Some(bundle(1).id()));
    assert_eq!(env.revision, Some(3));
    assert_eq!(
        env.since.as_deref(),
        Some(rfc3339(T0 + 2 * DAY + HOUR).as_str())
    );
    // Not yet restored by a good deploy.
    assert_eq!(
        m.time_to_restore.unrestored_since.as_deref(),
        Some(rfc3339(T0 + 2 * DAY + HOUR).as_str())
    );
    assert!(m.time_to_restore.restores.is_empty());
    assert_eq!(m.time_to_restore.band, None);
}

#[test]
fn a_chain_of_failures_is_one_outage_from_the_first() {
    let mut prod = Script::new("prod");
    prod.success(T0 + DAY, 1, 10);
    prod.failure(T0 + 2 * DAY, 2, "first");
    prod.failure(T0 + 2 * DAY + HOUR, 3, "second");
    prod.rollback(T0 + 2 * DAY + 2 * HOUR, 1, 1, "third");
    prod.success(T0 + 4 * DAY, 4, 0);
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.time_to_restore.restores.len(), 1);
    assert_eq!(m.time_to_restore.median_seconds, Some(2 * DAY - 2));
    assert_eq!(m.time_to_restore.band, Some(Band::Medium));
    // 1 and 4 succeeded; 2 and 3 failed; the rollback away from 1 marks it.
    assert_eq!(m.change_failure_rate.deployments, 4);
    assert_eq!(m.change_failure_rate.failed, 3);
}

#[test]
fn blocked_and_unfinished_promotions_are_not_deployments() {
    let mut prod = Script::new("prod");
    prod.success(T0 + DAY, 1, 10);
    prod.blocked(T0 + 2 * DAY, 2);
    let p = prod.start(T0 + 3 * DAY, 3);
    prod.push(
        T0 + 3 * DAY + 1,
        Some(p),
        bundle(3).id(),
        Event::Upgraded { revision: 4 },
    );
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.change_failure_rate.deployments, 1);
    assert_eq!(m.change_failure_rate.failed, 0);
    assert_eq!(m.change_failure_rate.blocked, 1);
    assert_eq!(m.change_failure_rate.unfinished, 1);
    // A gate stopping a promotion is not an outage.
    assert_eq!(m.time_to_restore.unrestored_since, None);
    assert_eq!(m.environments[0].unfinished, Some(p));
    assert_eq!(m.environments[0].bundle, Some(bundle(1).id()));
}

#[test]
fn window_boundaries_are_inclusive_and_nothing_outside_counts() {
    let mut prod = Script::new("prod");
    prod.success(T0 - DAY, 1, 0); // before
    prod.success(T0 - 10, 2, 10); // succeeds exactly at `since`
    prod.success(NOW - 10, 3, 10); // exactly at `now`
    prod.success(NOW - 10, 4, 11); // one second after `now`
    prod.failure(T0 - 2 * HOUR, 5, "before the window");
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_eq!(m.change_failure_rate.deployments, 2);
    assert_eq!(m.change_failure_rate.failed, 0);
    // The outage began before the window: its restore is not counted.
    assert!(m.time_to_restore.restores.is_empty());
    // The last week holds the deploy at `now`.
    assert_eq!(m.weekly.last().unwrap().deployments, 1);
    assert_eq!(m.weekly[0].deployments, 1);
    // The whole ledger is on the environment's timeline.
    assert_eq!(m.environments[0].timeline.len(), 5);
    assert_eq!(m.environments[0].bundle, Some(bundle(4).id()));
}

#[test]
fn unknown_commits_and_bundles_without_source_are_excluded_and_counted() {
    let mut prod = Script::new("prod");
    prod.success(T0 + HOUR, 0, 10); // commit c000 made at T0: lead 1h + 10s
    prod.success(T0 + DAY, 250, 10); // unknown commit
    let mut b = bundle(7);
    b.source = None;
    let p = prod.push(
        T0 + 2 * DAY,
        None,
        b.id(),
        Event::Started {
            bundle: Box::new(b.clone()),
            from: None,
            strategy: StrategyKind::default(),
        },
    );
    prod.push(
        T0 + 2 * DAY + 5,
        Some(p),
        b.id(),
        Event::Succeeded {
            revision: 3,
            checks: Vec::new(),
        },
    );
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.deployment_frequency.deployments, 3);
    assert_eq!(m.lead_time.samples.len(), 1);
    assert_eq!(m.lead_time.unknown_commit, 1);
    assert_eq!(m.lead_time.without_commit, 1);
    assert_eq!(m.lead_time.median_seconds, Some(HOUR + 10));
    assert_eq!(m.lead_time.p90_seconds, Some(HOUR + 10));
    assert_eq!(m.lead_time.band, Some(Band::High));
    assert_eq!(m.lead_time.samples[0].commit, "c000");
}

#[test]
fn only_production_counts_but_every_environment_is_shown() {
    let mut staging = Script::new("staging");
    for i in 0..5 {
        staging.success(T0 + i * DAY, 1, 10);
    }
    staging.failure(T0 + 6 * DAY, 2, "staging broke");
    let mut prod = Script::new("prod");
    prod.success(T0 + 7 * DAY, 1, 10);
    let m = metrics(vec![staging, prod], "prod");
    assert_eq!(m.deployment_frequency.deployments, 1);
    assert_eq!(m.change_failure_rate.failed, 0);
    assert_eq!(m.environments[0].name, "staging");
    assert_eq!(m.environments[0].timeline.len(), 6);
    assert_eq!(m.environments[1].bundle, Some(bundle(1).id()));
    // Weekly frequency over 30 days: 1 deploy = 0.23/week, at least monthly.
    assert_eq!(m.deployment_frequency.band, Band::High);
}

#[test]
fn bands_follow_the_thresholds() {
    let cases = [
        (frequency_band(3.0), Band::Elite),
        (frequency_band(1.0), Band::Elite),
        (frequency_band(1.0 / 7.0), Band::High),
        (frequency_band(1.0 / 30.0), Band::High),
        (frequency_band(1.0 / 90.0), Band::Medium),
        (frequency_band(0.0), Band::Low),
        (lead_time_band(59 * MINUTE), Band::Elite),
        (lead_time_band(HOUR), Band::High),
        (lead_time_band(WEEK - 1), Band::High),
        (lead_time_band(WEEK), Band::Medium),
        (lead_time_band(200 * DAY), Band::Low),
        (restore_band(HOUR - 1), Band::Elite),
        (restore_band(HOUR), Band::High),
        (restore_band(DAY), Band::Medium),
        (restore_band(WEEK), Band::Low),
        (failure_rate_band(0.0), Band::Elite),
        (failure_rate_band(0.15), Band::Elite),
        (failure_rate_band(0.16), Band::High),
        (failure_rate_band(0.30), Band::High),
        (failure_rate_band(0.31), Band::Low),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, want, "case {i}");
    }
}

#[test]
fn median_and_percentile() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[5]), Some(5));
    assert_eq!(median(&[1, 3]), Some(2));
    assert_eq!(median(&[1, 2, 10]), Some(2));
    assert_eq!(percentile(&[], 90), None);
    assert_eq!(percentile(&[7], 90), Some(7));
    let ten: Vec<Seconds> = (1..=10).collect();
    assert_eq!(percentile(&ten, 90), Some(9));
    let eleven: Vec<Seconds> = (1..=11).collect();
    assert_eq!(percentile(&eleven, 90), Some(10));
}

#[test]
fn durations_and_times() {
    assert_eq!(human_duration(42), "42s");
    assert_eq!(human_duration(12 * MINUTE + 5), "12m");
    assert_eq!(human_duration(3 * HOUR + 20 * MINUTE), "3h 20m");
    assert_eq!(human_duration(2 * DAY + 4 * HOUR), "2d 4h");
    assert_eq!(parse_time(&rfc3339(T0)), Some(T0));
    assert_eq!(parse_time("yesterday"), None);
    assert_eq!(
        parse_duration("30d"),
        Some(std::time::Duration::from_secs(30 * 86_400))
    );
    assert_eq!(
        parse_duration("90m"),
        Some(std::time::Duration::from_secs(5_400))
    );
    assert_eq!(
        parse_duration("2w"),
        Some(std::time::Duration::from_secs(14 * 86_400))
    );
    // Whole seconds, as every duration in windlass.toml.
    assert_eq!(
        parse_duration("30"),
        Some(std::time::Duration::from_secs(30))
    );
    for bad in ["", "d", "0d", "3 d", "1y", "-1d", "1.5h"] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
}

#[test]
fn the_board_escapes_ledger_text_and_shows_no_values() {
    let mut prod = Script::new("prod");
    prod.success(T0 + DAY, 1, 10);
    prod.failure(T0 + 2 * DAY, 2, "<script>alert('x')</script> & \"quoted\"");
    prod.entries.last_mut().unwrap().actor = "<b>mallory</b>".into();
    let m = metrics(vec![Script::new("staging"), prod], "prod");
    let page = html::render(&m);
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<b>mallory"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;")
    );
    assert!(page.contains("&lt;b&gt;mallory&lt;/b&gt;"));
    // Bundle ids, never values.
    assert!(page.contains(bundle(1).id().short()));
    assert!(!page.contains("\"n\""));
    // Nothing fetched from anywhere.
    for fetch in ["src=", "href=", "url(", "@import", "<link"] {
        assert!(!page.contains(fetch), "{fetch} in the board");
    }
}

#[test]
fn production_is_the_end_of_the_from_chain() {
    let deploy: crate::config::DeploySection = toml::from_str(
        r#"
        [environments.dev]
        [environments.staging]
        from = "dev"
        [environments.prod]
        from = "staging"
        "#,
    )
    .unwrap();
    assert_eq!(production_environment(&deploy, None).unwrap(), "prod");
    assert_eq!(
        production_environment(&deploy, Some("staging")).unwrap(),
        "staging"
    );
    let error = production_environment(&deploy, Some("qa")).unwrap_err();
    assert!(matches!(error, MetricsError::UnknownEnvironment { .. }));
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert!(error.hint().unwrap().contains("dev, prod, staging"));

    let two: crate::config::DeploySection = toml::from_str(
        r#"
        [environments.dev]
        [environments.eu]
        from = "dev"
        [environments.us]
        from = "dev"
        "#,
    )
    .unwrap();
    let error = production_environment(&two, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the `from` chains of `[deploy.environments]` end in several environments: eu, us"
    );
    let none = crate::config::DeploySection::default();
    assert!(matches!(
        production_environment(&none, None),
        Err(MetricsError::NoEnvironments)
    ));
}

#[test]
fn the_args_parse_and_refuse_what_is_not_a_duration() {
    use clap::Parser;
    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: MetricsArgs,
    }
    let cli = Cli::try_parse_from(["metrics"]).unwrap();
    assert_eq!(cli.args, MetricsArgs::default());
    assert_eq!(cli.args.since, std::time::Duration::from_secs(30 * 86_400));
    let cli = Cli::try_parse_from([
        "metrics", "--since", "2w", "--env", "prod", "--html", "b.html",
    ])
    .unwrap();
    assert_eq!(cli.args.since, std::time::Duration::from_secs(14 * 86_400));
    assert_eq!(cli.args.env.as_deref(), Some("prod"));
    assert_eq!(cli.args.html, Some(std::path::PathBuf::from("b.html")));
    let error = Cli::try_parse_from(["metrics", "--since", "1y"]).unwrap_err();
    assert!(
        error.to_string().contains("`1y` is not a duration"),
        "{error}"
    );
}

#[test]
fn the_report_has_a_json_schema_and_kebab_case_fields() {
    let schema = serde_json::to_string(&schemars::schema_for!(MetricsReport)).unwrap();
    for field in [
        "deployment-frequency",
        "lead-time",
        "change-failure-rate",
        "time-to-restore",
        "environments",
        "weekly",
        "html",
    ] {
        assert!(
            schema.contains(&format!("\"{field}\"")),
            "{field} in {schema}"
        );
    }
    let m = metrics(vec![Script::new("prod")], "prod");
    let json = serde_json::to_value(MetricsReport {
        metrics: m,
        html: None,
    })
    .unwrap();
    assert_eq!(json["production"], "prod");
    assert_eq!(json["deployment-frequency"]["band"], "low");
    assert_eq!(json["change-failure-rate"]["rate"], serde_json::Value::Null);
}

#[test]
fn the_table_for_people() {
    use windlass_output::Outcome as _;
    let mut staging = Script::new("staging");
    staging.success(T0 + DAY, 1, 60);
    staging.success(T0 + 2 * DAY, 2, 60);
    let mut prod = Script::new("prod");
    prod.success(T0 + 2 * DAY, 1, 300);
    prod.failure(T0 + 3 * DAY, 2, "verify failed");
    prod.success(T0 + 3 * DAY + 3 * HOUR, 2, 300);
    prod.success(T0 + 4 * DAY, 250, 300); // unknown commit
    let p = prod.start(T0 + 5 * DAY, 3);
    prod.push(
        T0 + 5 * DAY + 1,
        Some(p),
        bundle(3).id(),
        Event::Upgraded { revision: 9 },
    );
    let report = MetricsReport {
        metrics: metrics(vec![staging, prod], "prod"),
        html: Some("board.html".into()),
    };
    let mut out = Vec::new();
    report.render_human(&mut out).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

/// The records `deploy up`/`promote` write when the verification fails
/// and the strategy puts the old version back: `Upgraded`, the failed
/// check, `RolledBack` of the new bundle inside its own promotion, then
/// `Failed`. A change failure, and an outage until the next success.
#[test]
fn a_verification_rollback_as_the_commands_record_it_is_a_change_failure() {
    let mut prod = Script::new("prod");
    prod.success(T0 + DAY, 1, 10);
    let p = prod.start(T0 + 2 * DAY, 2);
    let id = bundle(2).id();
    prod.push(
        T0 + 2 * DAY + 1,
        Some(p),
        id.clone(),
        Event::Upgraded { revision: 4 },
    );
    prod.push(
        T0 + 2 * DAY + 2,
        Some(p),
        id.clone(),
        Event::Gate {
            gate: "live: verify: health".into(),
            passed: false,
            detail: "503".into(),
        },
    );
    prod.push(
        T0 + 2 * DAY + 3,
        Some(p),
        id.clone(),
        Event::RolledBack {
            to_revision: 2,
            to_bundle: Some(bundle(1).id()),
            reason: "live: verify: health failed: 503".into(),
        },
    );
    prod.push(
        T0 + 2 * DAY + 4,
        Some(p),
        id,
        Event::Failed {
            reason: "live: verify: health failed: 503".into(),
            rolled_back_to: Some(2),
        },
    );
    prod.success(T0 + 3 * DAY, 3, 10);
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.change_failure_rate.deployments, 3);
    assert_eq!(m.change_failure_rate.failed, 1);
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_eq!(m.time_to_restore.restores.len(), 1);
    assert_eq!(m.time_to_restore.median_seconds, Some(DAY - 3 + 10));
}

/// The records `deploy rollback` writes: its own promotion deploying the
/// earlier bundle, with the `RolledBack` of the bundle it leaves inside it.
/// The bundle left counts as rolled back; the rollback itself succeeded.
#[test]
fn a_deploy_rollback_as_the_commands_record_it_fails_the_bundle_it_leaves() {
    let mut prod = Script::new("prod");
    prod.success(T0 + DAY, 1, 10);
    prod.success(T0 + 2 * DAY, 2, 10);
    let q = prod.start(T0 + 2 * DAY + HOUR, 1);
    let id = bundle(1).id();
    prod.push(
        T0 + 2 * DAY + HOUR + 1,
        Some(q),
        id.clone(),
        Event::Upgraded { revision: 3 },
    );
    prod.push(
        T0 + 2 * DAY + HOUR + 2,
        Some(q),
        bundle(2).id(),
        Event::RolledBack {
            to_revision: 3,
            to_bundle: Some(id.clone()),
            reason: "asked by ci".into(),
        },
    );
    prod.push(
        T0 + 2 * DAY + HOUR + 10,
        Some(q),
        id,
        Event::Succeeded {
            revision: 3,
            checks: Vec::new(),
        },
    );
    let m = metrics(vec![prod], "prod");
    assert_eq!(m.change_failure_rate.deployments, 3);
    assert_eq!(
        m.change_failure_rate.failed, 1,
        "bundle 2, not the rollback"
    );
    assert_eq!(m.environments[0].bundle, Some(bundle(1).id()));
    assert_eq!(m.time_to_restore.median_seconds, Some(8));
}
