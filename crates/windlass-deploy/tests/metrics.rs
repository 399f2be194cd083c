//! `deploy metrics`: the measures over ledgers written to the real test
//! cluster, commit times from a real git repository, and the HTML board
//! loaded by a real browser (Debian's headless Chromium): its rendered
//! text, a screenshot, and no console errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "the test runs git and chromium itself, as fixtures independent of the code under test; \
              functions outside #[test] fns panic on purpose"
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use windlass_config::Environment;
use windlass_deploy::bundle::{Bundle, ChartRef, SourceRef};
use windlass_deploy::config::{DeploySection, StrategyKind};
use windlass_deploy::kube::ledger::{Entry, Event, Ledger, NewEntry};
use windlass_deploy::kube::{Cluster, Target};
use windlass_deploy::metrics::{
    self, Band, MetricsArgs, MetricsReport, MetricsRun, html, parse_time, read_ledgers, rfc3339,
};
use windlass_diagnostic::{Diagnostic as _, ExitStatus};
use windlass_output::testing::Capture;
use windlass_output::{Outcome as _, OutputArgs, Printer};
use windlass_testkit::{Services, assert_no_leak, canary};

const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;

const CONFIG: &str = r#"
[environments.staging]
[environments.prod]
from = "staging"
"#;

fn deploy_config() -> DeploySection {
    toml::from_str(CONFIG).unwrap()
}

fn git(dir: &Path, args: &[&str], date: Option<&str>) -> String {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env_remove("GIT_DIR");
    if let Some(date) = date {
        command
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A repository with one commit made at `at` (seconds); its id.
fn repo_with_commit(dir: &Path, at: i64) -> String {
    git(dir, &["init", "-q", "-b", "main"], None);
    fs::write(dir.join("README"), "x").unwrap();
    git(dir, &["add", "README"], None);
    git(
        dir,
        &["commit", "-q", "-m", "one"],
        Some(&format!("@{at} +0000")),
    );
    git(dir, &["rev-parse", "HEAD"], None)
}

fn bundle(n: u8, commit: &str, secret: &str) -> Bundle {
    Bundle {
        chart: ChartRef {
            name: "prediction-service".into(),
            version: format!("0.{n}.0"),
            location: "chart".into(),
            digest: format!("sha256:{}", "cd".repeat(32)),
        },
        images: BTreeMap::new(),
        // Bundle values never reach the board or the report.
        values: serde_json::json!({ "note": secret }),
        source: Some(SourceRef {
            repository: None,
            commit: commit.to_owned(),
        }),
    }
}

fn printer() -> (Printer, Capture, Capture) {
    let (out, err) = (Capture::new(), Capture::new());
    let printer = Printer::builder(&OutputArgs::default(), "deploy metrics")
        .stdout(out.clone())
        .stderr(err.clone())
        .color(false)
        .build();
    (printer, out, err)
}

fn human(report: &MetricsReport) -> String {
    let mut text = Vec::new();
    report.render_human(&mut text).unwrap();
    String::from_utf8(text).unwrap()
}

// ------------------------------------------------------------- browser --

/// A scripted history in memory (times chosen), through `run` with a real
/// git repository for the commit times.
struct Scripted {
    entries: BTreeMap<String, Vec<Entry>>,
}

impl Scripted {
    fn push(
        &mut self,
        env: &str,
        at: i64,
        promotion: Option<u64>,
        bundle: &Bundle,
        event: Event,
    ) -> u64 {
        let entries = self.entries.entry(env.to_owned()).or_default();
        let seq = entries.len() as u64 + 1;
        entries.push(Entry {
            seq,
            environment: env.to_owned(),
            time: rfc3339(at),
            actor: "release-manager".into(),
            promotion: promotion.unwrap_or(seq),
            bundle: bundle.id(),
            event,
        });
        seq
    }

    fn promote(&mut self, env: &str, at: i64, bundle: &Bundle, outcome: Event) {
        let p = self.push(
            env,
            at,
            None,
            bundle,
            Event::Started {
                bundle: Box::new(bundle.clone()),
                from: None,
                strategy: StrategyKind::default(),
            },
        );
        self.push(
            env,
            at + 30,
            Some(p),
            bundle,
            Event::Upgraded {
                revision: u32::try_from(p).unwrap(),
            },
        );
        self.push(env, at + 90, Some(p), bundle, outcome);
    }
}

/// Debian's `chromium`, from PATH.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .expect(
            "chromium is not on PATH: run scripts/services.sh install (it installs Debian's \
             chromium package)",
        )
}

/// Headless chromium on `page`, with its own profile directory.
fn run_chromium(profile: &Path, args: &[&str], page: &Path) -> std::process::Output {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What the page wrote to the console, from chromium's log: any message at
/// all (an uncaught exception, a `console.error`, a resource the content
/// security policy refused, a failed load), since the board has no script.
fn console_messages(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|line| {
            line.contains(":CONSOLE")
                || line.contains("Uncaught")
                || line.contains("Refused to")
                || line.contains("net::ERR_")
        })
        .map(str::to_owned)
        .collect()
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[tokio::test]
async fn the_board_renders_in_chromium_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    fs::create_dir(&repo).unwrap();
    let now = parse_time("2026-11-30T12:00:00Z").unwrap();
    let since = now - 30 * DAY;
    // Committed three hours before the first deploy.
    let commit = repo_with_commit(&repo, since + 2 * DAY - 3 * HOUR);
    let secret = canary("metrics-board");
    let one = bundle(1, &commit, &secret);
    let two = bundle(2, &commit, &secret);
    let three = bundle(3, "0123456789abcdef0123456789abcdef01234567", &secret);
    let mut s = Scripted {
        entries: BTreeMap::new(),
    };
    let ok = |revision| Event::Succeeded {
        revision,
        checks: Vec::new(),
    };
    s.promote("staging", since + DAY, &one, ok(1));
    s.promote("staging", since + 3 * DAY, &two, ok(2));
    s.promote("prod", since + 2 * DAY - 90, &one, ok(1));
    s.promote(
        "prod",
        since + 5 * DAY,
        &two,
        Event::Failed {
            reason: "<script>document.title='pwned'</script> verify: GET /healthz answered 503"
                .into(),
            rolled_back_to: Some(1),
        },
    );
    // Unknown commit: left out of the lead time, counted.
    s.promote("prod", since + 5 * DAY + 2 * HOUR, &three, succeeded(3));

    let board = dir.path().join("board.html");
    let (printer, _out, err) = printer();
    let args = MetricsArgs {
        html: Some(board.clone()),
        ..MetricsArgs::default()
    };
    let deploy = deploy_config();
    let report = metrics::run(
        &args,
        MetricsRun {
            deploy: &deploy,
            project_dir: &repo,
            // Given by name (prod first): shown in the order of the chain.
            ledgers: s.entries.into_iter().collect(),
            now,
        },
        &printer,
    )
    .await
    .unwrap();
    let m = &report.metrics;
    assert_eq!(m.production, "prod");
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_eq!(m.change_failure_rate.deployments, 3);
    assert_eq!(m.change_failure_rate.failed, 1);
    assert_eq!(m.lead_time.samples.len(), 1);
    assert_eq!(m.lead_time.unknown_commit, 1);
    assert_eq!(m.lead_time.median_seconds, Some(3 * HOUR));
    assert_eq!(m.lead_time.band, Some(Band::High));
    // Failed at +5d+90s, fixed at +5d+2h+90s.
    assert_eq!(m.time_to_restore.median_seconds, Some(2 * HOUR));
    assert_eq!(m.environments[0].name, "staging");
    assert!(
        err.contents().contains("git does not know their commit"),
        "{}",
        err.contents()
    );

    let text = human(&report);
    assert!(
        text.contains("change failure rate     33% (1 of 3 deploys)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("prod            {}", three.id().short())),
        "{text}"
    );

    // The file, the JSON report and the table hold no bundle values.
    let page = fs::read_to_string(&board).unwrap();
    let json = serde_json::to_string(&report).unwrap();
    for output in [&page, &json, &text] {
        assert_no_leak(output.as_bytes(), &secret);
    }
    assert!(!page.contains("<script"));
    assert_no_temporary_files(dir.path());

    let ids = [one.id(), two.id(), three.id()];
    check_in_chromium(
        dir.path(),
        &board,
        &ids.each_ref().map(windlass_deploy::BundleId::short),
    );
}

/// Written atomically: no temporary file left beside the board.
fn assert_no_temporary_files(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".windlass-board"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The board as the browser renders it: its text, no console errors, a
/// screenshot of the size asked for.
fn check_in_chromium(dir: &Path, board: &Path, bundles: &[&str; 3]) {
    // What a person sees, rendered by the browser.
    let profile = dir.join("profile");
    let dom = run_chromium(&profile, &["--dump-dom"], board);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    for expected in [
        "Deploy status",
        "staging",
        "prod",
        bundles[0],
        bundles[1],
        bundles[2],
        "Deployment frequency",
        "Lead time for changes",
        "Change failure rate",
        "Time to restore",
        "33%",
        "3h 0m median",
        "2h 0m median",
        "verify: GET /healthz answered 503",
    ] {
        assert!(
            dom_text.contains(expected),
            "{expected:?} not on the page:\n{dom_text}"
        );
    }
    // The reason's markup is text, not an element: the title is untouched.
    assert!(
        dom_text.contains("&lt;script&gt;document.title"),
        "{dom_text}"
    );
    assert!(
        dom_text.contains("<title>Windlass deploy status: prod</title>"),
        "{dom_text}"
    );
    let console = console_messages(&dom.stderr);
    assert!(console.is_empty(), "the page logged: {console:#?}");

    let shot = dir.join("board.png");
    let out = run_chromium(
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1024,1400",
            "--hide-scrollbars",
        ],
        board,
    );
    let console = console_messages(&out.stderr);
    assert!(console.is_empty(), "the page logged: {console:#?}");
    let png = fs::read(&shot).unwrap();
    assert_eq!(png_size(&png), (1024, 1400));
    assert!(
        png.len() > 10_000,
        "a blank screenshot? {} bytes",
        png.len()
    );
}

#[test]
fn the_console_check_sees_a_broken_page() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>noSuchFunction();</script>\
         <script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let out = run_chromium(&dir.path().join("profile"), &["--dump-dom"], &page);
    let console = console_messages(&out.stderr);
    assert!(
        console
            .iter()
            .any(|l| l.contains("Uncaught ReferenceError")),
        "{console:#?}"
    );
    assert!(console.iter().any(|l| l.contains("boom")), "{console:#?}");
}

#[tokio::test]
async fn a_board_that_cannot_be_written_and_an_unknown_env_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = deploy_config();
    let (printer, _out, _err) = printer();
    let input = || MetricsRun {
        deploy: &deploy,
        project_dir: dir.path(),
        ledgers: vec![("prod".to_owned(), Vec::new())],
        now: 30 * DAY,
    };
    let board = dir.path().join("no-such-dir").join("board.html");
    let args = MetricsArgs {
        html: Some(board.clone()),
        ..MetricsArgs::default()
    };
    let error = metrics::run(&args, input(), &printer).await.unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert_eq!(
        error.to_string(),
        format!("cannot write the status board {}", board.display())
    );
    assert!(!board.exists());

    let args = MetricsArgs {
        env: Some("qa".into()),
        ..MetricsArgs::default()
    };
    let error = metrics::run(&args, input(), &printer).await.unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert_eq!(error.hint().unwrap(), "the environments are: prod, staging");
}

#[tokio::test]
async fn a_huge_window_starts_at_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = deploy_config();
    let (printer, _out, _err) = printer();
    let args = MetricsArgs {
        since: std::time::Duration::from_secs(u64::MAX / 4),
        ..MetricsArgs::default()
    };
    let now = parse_time("2026-11-30T12:00:00Z").unwrap();
    let report = metrics::run(
        &args,
        MetricsRun {
            deploy: &deploy,
            project_dir: dir.path(),
            ledgers: Vec::new(),
            now,
        },
        &printer,
    )
    .await
    .unwrap();
    assert_eq!(report.metrics.since, "1970-01-01T00:00:00Z");
    // 56.9 years of weeks, the last one short.
    assert_eq!(report.metrics.weekly.len(), 2970);
}

#[test]
fn an_empty_history_still_makes_a_board() {
    let m = metrics::compute(&metrics::MetricsInput {
        ledgers: vec![("prod".into(), Vec::new())],
        production: "prod",
        since: 0,
        now: 30 * DAY,
        commit_times: &|_| None,
    });
    let page = html::render(&m);
    assert!(page.contains("no data"), "{page}");
    assert!(page.contains("None in the window."));
}

// ------------------------------------------------------------- cluster --

#[tokio::test]
async fn metrics_over_ledgers_in_the_cluster() {
    let kube = Services::load().kube();
    let namespace = kube.fresh_namespace("metrics");
    let target = Target {
        kubeconfig: Some(kube.kubeconfig.clone()),
        context: Some(kube.context.clone()),
        namespace: Some(namespace.clone()),
    };
    let cluster = Cluster::connect(&target, &Environment::default())
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let now = jiff_now();
    // Committed two days ago.
    let commit = repo_with_commit(dir.path(), now - 2 * DAY);
    let secret = canary("metrics-cluster");
    let good = bundle(1, &commit, &secret);
    let bad = bundle(2, &commit, &secret);

    let staging = Ledger::new(&cluster, "staging");
    let prod = Ledger::new(&cluster, "prod");
    // staging: one success. prod: success, a failed verification (rolled
    // back by Helm), success again, then a rollback asked for by a person.
    promote(&staging, &good, succeeded(1)).await;
    promote(&prod, &good, succeeded(1)).await;
    promote(
        &prod,
        &bad,
        Event::Failed {
            reason: "verify: <b>503</b>".into(),
            rolled_back_to: Some(1),
        },
    )
    .await;
    promote(&prod, &bad, succeeded(3)).await;
    prod.append(NewEntry {
        actor: "alice".into(),
        promotion: None,
        bundle: bad.id(),
        event: Event::RolledBack {
            to_revision: 1,
            to_bundle: Some(good.id()),
            reason: "latency doubled".into(),
        },
    })
    .await
    .unwrap();

    let clusters = vec![
        ("staging".to_owned(), cluster.clone()),
        ("prod".to_owned(), cluster.clone()),
    ];
    let ledgers = read_ledgers(&clusters).await.unwrap();
    assert_eq!(ledgers[1].1.len(), 10);
    let (printer, _out, _err) = printer();
    let deploy = deploy_config();
    let report = metrics::run_on_clusters(
        &MetricsArgs::default(),
        &deploy,
        dir.path(),
        &clusters,
        &printer,
    )
    .await
    .unwrap();
    let m = &report.metrics;
    assert_eq!(m.production, "prod");
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_eq!(m.change_failure_rate.deployments, 3);
    assert_eq!(
        m.change_failure_rate.failed, 2,
        "a failed verification and a rollback"
    );
    assert_eq!(m.change_failure_rate.band, Some(Band::Low));
    assert_eq!(m.lead_time.samples.len(), 2);
    assert_eq!(m.lead_time.unknown_commit, 0);
    let lead = m.lead_time.median_seconds.unwrap();
    assert!(
        (2 * DAY..2 * DAY + HOUR).contains(&lead),
        "lead time {lead}"
    );
    assert_eq!(m.lead_time.band, Some(Band::High));
    // One outage restored (failed verification -> next success); the
    // rollback is the last record, not restored yet.
    assert_eq!(m.time_to_restore.restores.len(), 1);
    assert!(m.time_to_restore.unrestored_since.is_some());
    let prod_state = &m.environments[1];
    assert_eq!(prod_state.name, "prod");
    assert_eq!(prod_state.bundle, Some(good.id()));
    assert_eq!(prod_state.revision, Some(1));
    assert_eq!(prod_state.actor.as_deref(), Some("alice"));
    assert_eq!(m.environments[0].bundle, Some(good.id()));

    let page = html::render(m);
    assert!(page.contains("latency doubled"));
    assert!(page.contains("verify: &lt;b&gt;503&lt;/b&gt;"));
    assert_no_leak(page.as_bytes(), &secret);
    assert_no_leak(&serde_json::to_vec(&report).unwrap(), &secret);
}

fn jiff_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

async fn promote(ledger: &Ledger, bundle: &Bundle, outcome: Event) {
    let started = ledger
        .append(NewEntry {
            actor: "ci".into(),
            promotion: None,
            bundle: bundle.id(),
            event: Event::Started {
                bundle: Box::new(bundle.clone()),
                from: None,
                strategy: StrategyKind::default(),
            },
        })
        .await
        .unwrap();
    for event in [Event::Upgraded { revision: 1 }, outcome] {
        ledger
            .append(NewEntry {
                actor: "ci".into(),
                promotion: Some(started.seq),
                bundle: bundle.id(),
                event,
            })
            .await
            .unwrap();
    }
}

/// A `Succeeded` record's event, with no checks in it.
fn succeeded(revision: u32) -> Event {
    Event::Succeeded {
        revision,
        checks: Vec::new(),
    }
}
