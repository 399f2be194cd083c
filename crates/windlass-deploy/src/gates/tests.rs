use super::*;
use crate::config::StrategyKind;

fn id(c: char) -> BundleId {
    serde_json::from_value(serde_json::json!(format!(
        "sha256:{}",
        c.to_string().repeat(64)
    )))
    .unwrap()
}

fn entry(seq: u64, env: &str, time: &str, bundle: char, event: Event) -> Entry {
    Entry {
        seq,
        environment: env.into(),
        time: time.into(),
        actor: "alice".into(),
        promotion: seq,
        bundle: id(bundle),
        event,
    }
}

fn approved(seq: u64, time: &str, bundle: char) -> Entry {
    entry(
        seq,
        "prod",
        time,
        bundle,
        Event::Approved {
            by: "carol".into(),
            reason: Some("release 1.2".into()),
            run_url: None,
        },
    )
}

fn succeeded(seq: u64, time: &str, bundle: char) -> Entry {
    entry(
        seq,
        "staging",
        time,
        bundle,
        Event::Succeeded {
            revision: 3,
            checks: Vec::new(),
        },
    )
}

struct Case {
    gates: GatesSpec,
    ledger: Vec<Entry>,
    from_ledger: Vec<Entry>,
    from: Option<&'static str>,
    now: &'static str,
    env: Vec<(&'static str, &'static str)>,
}

impl Case {
    fn new(gates: GatesSpec) -> Self {
        Self {
            gates,
            ledger: Vec::new(),
            from_ledger: Vec::new(),
            from: Some("staging"),
            now: "2026-11-30T10:00:00Z",
            env: Vec::new(),
        }
    }

    fn run(&self) -> Vec<GateResult> {
        let env = Environment::from_vars(self.env.iter().copied());
        let bundle = id('a');
        check_before(&GateInput {
            environment: "prod",
            gates: &self.gates,
            from: self.from,
            bundle: &bundle,
            ledger: &self.ledger,
            from_ledger: &self.from_ledger,
            now: self.now.parse().unwrap(),
            env: &env,
        })
    }

    fn one(&self) -> GateResult {
        let mut results = self.run();
        assert_eq!(results.len(), 1, "{results:?}");
        results.remove(0)
    }
}

fn gates(approval: Approval, soak: Option<&str>, window: &[&str]) -> GatesSpec {
    GatesSpec {
        approval,
        soak: soak.map(str::to_owned),
        window: window.iter().map(|w| (*w).to_owned()).collect(),
        ..GatesSpec::default()
    }
}

#[test]
fn no_gates_no_results() {
    assert!(Case::new(GatesSpec::default()).run().is_empty());
}

#[test]
fn approval_from_the_ledger() {
    let mut case = Case::new(gates(Approval::Ledger, None, &[]));
    let result = case.one();
    assert!(!result.passed);
    assert_eq!(
        result.detail,
        "bundle aaaaaaaaaaaa is not approved for prod: run `windlass deploy approve prod aaaaaaaaaaaa`"
    );

    // An approval of another bundle, or for another environment, does not
    // count.
    case.ledger.push(approved(1, "2026-11-30T09:00:00Z", 'b'));
    let mut elsewhere = approved(2, "2026-11-30T09:10:00Z", 'a');
    elsewhere.environment = "staging".into();
    case.ledger.push(elsewhere);
    assert!(!case.one().passed);

    case.ledger.push(approved(3, "2026-11-30T09:30:00Z", 'a'));
    let result = case.one();
    assert!(result.passed);
    assert_eq!(
        result.detail,
        "approved by carol at 2026-11-30T09:30:00Z: release 1.2"
    );
}

const ACTIONS: [(&str, &str); 6] = [
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_ACTOR", "dependabot-fan"),
    ("GITHUB_TRIGGERING_ACTOR", "carol"),
    ("GITHUB_SERVER_URL", "https://github.com"),
    ("GITHUB_REPOSITORY", "acme/ml"),
    ("GITHUB_RUN_ID", "42"),
];

#[test]
fn approval_by_github_environment() {
    let mut case = Case::new(gates(Approval::GithubEnvironment, None, &[]));
    case.env = ACTIONS.to_vec();
    let result = case.one();
    assert!(result.passed);
    assert_eq!(
        result.detail,
        "GitHub environment protection: the job reached this step (actor dependabot-fan, \
         triggered by carol), run https://github.com/acme/ml/actions/runs/42"
    );
    let run = GithubRun::from_env(&Environment::from_vars(ACTIONS)).unwrap();
    assert_eq!(run.triggering_actor.as_deref(), Some("carol"));
}

#[test]
fn github_environment_outside_actions_needs_the_ledger() {
    let case = Case::new(gates(Approval::GithubEnvironment, None, &[]));
    let result = case.one();
    assert!(!result.passed);
    assert!(
        result.detail.contains("required reviewers"),
        "{}",
        result.detail
    );
}

#[test]
fn plain_approval_ignores_actions() {
    // `approval = true` asks for a ledger record even inside Actions: the
    // job's environment may have no reviewers at all.
    let mut case = Case::new(gates(Approval::Ledger, None, &[]));
    case.env = ACTIONS.to_vec();
    assert!(!case.one().passed);
}

#[test]
fn soak_time() {
    let mut case = Case::new(gates(Approval::None, Some("2h"), &[]));
    let result = case.one();
    assert!(!result.passed);
    assert_eq!(
        result.detail,
        "bundle aaaaaaaaaaaa never succeeded in staging"
    );

    case.from_ledger = vec![
        entry(
            1,
            "staging",
            "2026-11-30T08:29:00Z",
            'a',
            Event::Started {
                bundle: Box::new(crate::Bundle {
                    chart: crate::bundle::ChartRef {
                        name: "c".into(),
                        version: "1".into(),
                        location: "c".into(),
                        digest: "sha256:0".into(),
                    },
                    images: std::collections::BTreeMap::default(),
                    values: serde_json::json!({}),
                    source: None,
                }),
                from: None,
                strategy: StrategyKind::Rolling,
            },
        ),
        succeeded(2, "2026-11-30T08:30:00Z", 'a'),
    ];
    let result = case.one();
    assert!(!result.passed);
    assert_eq!(
        result.detail,
        "has run 1h 30m in staging since 2026-11-30T08:30:00Z; 30m left of 2h"
    );

    case.now = "2026-11-30T10:30:00Z";
    let result = case.one();
    assert!(result.passed, "{result:?}");
    assert_eq!(
        result.detail,
        "ran 2h in staging since 2026-11-30T08:30:00Z, at least 2h"
    );
}

#[test]
fn soak_counts_only_until_replaced() {
    let mut case = Case::new(gates(Approval::None, Some("1d"), &[]));
    case.now = "2026-12-05T00:00:00Z";
    case.from_ledger = vec![
        succeeded(1, "2026-11-30T08:00:00Z", 'a'),
        succeeded(2, "2026-11-30T09:00:00Z", 'b'),
    ];
    let result = case.one();
    assert!(!result.passed);
    assert_eq!(
        result.detail,
        "ran only 1h in staging before it was replaced at 2026-11-30T09:00:00Z; 1d needed"
    );

    case.from_ledger = vec![
        succeeded(1, "2026-11-28T08:00:00Z", 'a'),
        succeeded(2, "2026-11-30T09:00:00Z", 'b'),
    ];
    assert!(case.one().passed);
}

#[test]
fn soak_refuses_a_rolled_back_bundle() {
    let mut case = Case::new(gates(Approval::None, Some("1h"), &[]));
    case.from_ledger = vec![
        succeeded(1, "2026-11-29T08:00:00Z", 'a'),
        entry(
            2,
            "staging",
            "2026-11-29T09:00:00Z",
            'a',
            Event::RolledBack {
                to_revision: 2,
                to_bundle: Some(id('b')),
                reason: "verify failed".into(),
            },
        ),
    ];
    let result = case.one();
    assert!(!result.passed);
    assert_eq!(
        result.detail,
        "bundle aaaaaaaaaaaa was rolled back in staging at 2026-11-29T09:00:00Z"
    );
}

#[test]
fn soak_without_from_or_with_a_bad_duration() {
    let mut case = Case::new(gates(Approval::None, Some("1h"), &[]));
    case.from = None;
    assert_eq!(
        case.one().detail,
        "prod has a soak time but no `from` environment to soak in"
    );
    let case = Case::new(gates(Approval::None, Some("soon"), &[]));
    assert_eq!(
        case.one().detail,
        "`soak = \"soon\"` is not a duration (e.g. `30m`, `2h`, `1d`)"
    );
}

#[test]
fn change_windows() {
    // 2026-11-30 is a Monday.
    let mut case = Case::new(gates(
        Approval::None,
        None,
        &["Mon-Fri 09:00-16:00 UTC", "Sat 10:00-12:00 Europe/Paris"],
    ));
    case.now = "2026-11-30T10:00:00Z";
    let result = case.one();
    assert!(result.passed);
    assert_eq!(result.detail, "inside `Mon-Fri 09:00-16:00 UTC`");

    case.now = "2026-12-04T17:00:00Z"; // Friday evening
    let result = case.one();
    assert!(!result.passed);
    assert_eq!(
        result.detail,
        "outside every change window; the next opens at 2026-12-05 10:00 CET \
         (`Sat 10:00-12:00 Europe/Paris`), in 16h"
    );

    case.now = "2026-12-05T09:30:00Z"; // Saturday 10:30 Paris
    assert!(case.one().passed);

    case.gates.window = vec!["Someday".into()];
    let result = case.one();
    assert!(!result.passed);
    assert!(result.detail.starts_with("the change window `Someday`"));
}

#[test]
fn all_gates_in_order() {
    let mut case = Case::new(gates(Approval::Ledger, Some("30m"), &["* 00:00-24:00"]));
    case.ledger.push(approved(1, "2026-11-30T09:00:00Z", 'a'));
    case.from_ledger
        .push(succeeded(1, "2026-11-30T08:00:00Z", 'a'));
    let results = case.run();
    let names: Vec<&str> = results.iter().map(|r| r.gate.as_str()).collect();
    assert_eq!(names, ["approval", "soak", "window"]);
    assert!(results.iter().all(|r| r.passed), "{results:?}");
}

#[test]
fn durations() {
    for (text, secs) in [
        ("30", 30),
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("1d", 86_400),
        ("2w", 1_209_600),
    ] {
        assert_eq!(
            parse_duration(text),
            Some(Duration::from_secs(secs)),
            "{text}"
        );
    }
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    for bad in ["", "m", "5y", "1h 30m", "-1s"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn approval_config_forms() {
    #[derive(serde::Deserialize)]
    struct T {
        approval: Approval,
    }
    let read = |text: &str| toml::from_str::<T>(text).map(|t| t.approval);
    assert_eq!(read("approval = true").unwrap(), Approval::Ledger);
    assert_eq!(read("approval = false").unwrap(), Approval::None);
    assert_eq!(
        read("approval = \"github-environment\"").unwrap(),
        Approval::GithubEnvironment
    );
    let error = read("approval = \"yes\"").unwrap_err().to_string();
    assert!(error.contains("not `yes`"), "{error}");
}

#[test]
fn validation() {
    let ok: GatesSpec = toml::from_str(
        r#"
        approval = true
        soak = "1h"
        window = ["Mon-Fri 09:00-16:00 Europe/Paris"]
        verify = [
            { http = "https://x.example/healthz", timeout = "30s" },
            { command = ["./smoke"], env = { T = "env://T" } },
        ]
        "#,
    )
    .unwrap();
    assert_eq!(validate("prod", &ok), Ok(()));
    for (text, expected) in [
        (
            "soak = \"1 hour\"",
            "`[deploy.environments.prod] gates`: `soak = \"1 hour\"` is not a duration (e.g. `30m`, `2h`, `1d`)",
        ),
        (
            "window = \"Mon 9-10\"",
            "`[deploy.environments.prod] gates`: the change window `Mon 9-10` cannot be read: `9` is not a time `HH:MM` (00:00 to 24:00)",
        ),
        (
            "verify = [{ name = \"x\" }]",
            "`[deploy.environments.prod] gates`: verify[0] has exactly one of `http` and `command`",
        ),
        (
            "verify = [{ command = [] }]",
            "`[deploy.environments.prod] gates`: verify[0]: the command is empty",
        ),
        (
            "verify = [{ http = \"https://x/\", timeout = \"long\" }]",
            "`[deploy.environments.prod] gates`: verify[0]: `timeout = \"long\"` is not a duration (e.g. `30s`, `2m`)",
        ),
        (
            "verify = [{ http = \"https://x/\", env = { T = \"env://T\" } }]",
            "`[deploy.environments.prod] gates`: verify[0]: `env` is for a command, not an HTTP check",
        ),
    ] {
        let gates: GatesSpec = toml::from_str(text).unwrap();
        let error = validate("prod", &gates).unwrap_err().to_string();
        assert_eq!(error, expected, "{text}");
    }
    let literal: GatesSpec =
        toml::from_str("verify = [{ command = [\"x\"], env = { T = \"hunter2\" } }]").unwrap();
    let error = validate("prod", &literal).unwrap_err().to_string();
    assert!(
        error.contains("`env.T` is not a secret reference"),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}
