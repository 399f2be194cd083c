use std::time::Duration;

use windlass_output::github::Level;

use super::*;
use crate::model::{CheckResult, Finding, Location, Severity, Status, TestCase, TestOutcome};

#[allow(clippy::unnecessary_wraps, reason = "stored in `Finding::location`")]
fn location(path: &str, line: u32) -> Option<Location> {
    Some(Location {
        path: path.to_owned(),
        line: Some(line),
        column: Some(2),
        end_line: Some(line),
        end_column: Some(5),
    })
}

fn finding(
    rule: Option<&str>,
    severity: Severity,
    message: &str,
    location: Option<Location>,
) -> Finding {
    Finding {
        rule: rule.map(str::to_owned),
        severity,
        message: message.to_owned(),
        location,
        help_uri: None,
    }
}

fn check(name: &str, status: Status, findings: Vec<Finding>, tests: Vec<TestCase>) -> CheckResult {
    CheckResult {
        name: name.to_owned(),
        tool: name.to_owned(),
        version: Some("1.0".to_owned()),
        status,
        cached: false,
        duration: Duration::from_millis(1250),
        command: vec![name.to_owned()],
        exit_code: Some(i32::from(status != Status::Passed)),
        findings,
        tests,
        output: String::new(),
    }
}

fn test(name: &str, outcome: TestOutcome) -> TestCase {
    TestCase {
        classname: "tests.test_a".to_owned(),
        name: name.to_owned(),
        location: Some(Location {
            path: "tests/test_a.py".to_owned(),
            line: Some(7),
            column: None,
            end_line: None,
            end_column: None,
        }),
        time: 0.5,
        outcome,
    }
}

fn sample() -> Vec<CheckResult> {
    vec![
        check(
            "ruff",
            Status::Failed,
            vec![
                finding(
                    Some("E501"),
                    Severity::Warning,
                    "line too long",
                    location("b.py", 3),
                ),
                finding(
                    Some("F401"),
                    Severity::Error,
                    "`os` imported but unused",
                    location("b.py", 9),
                ),
                finding(
                    Some("F811"),
                    Severity::Error,
                    "redefinition",
                    location("a.py", 20),
                ),
                finding(None, Severity::Error, "config is broken", None),
                finding(
                    Some("I001"),
                    Severity::Note,
                    "unsorted",
                    location("a.py", 1),
                ),
            ],
            vec![],
        ),
        check(
            "pytest",
            Status::Failed,
            vec![],
            vec![
                test("test_ok", TestOutcome::Passed),
                test(
                    "test_bad",
                    TestOutcome::Failed {
                        message: "assert 1 == 2".to_owned(),
                        details: "long\ntrace".to_owned(),
                    },
                ),
                test(
                    "test_boom",
                    TestOutcome::Error {
                        message: "fixture failed".to_owned(),
                        details: String::new(),
                    },
                ),
                test(
                    "test_later",
                    TestOutcome::Skipped {
                        message: "not yet".to_owned(),
                    },
                ),
            ],
        ),
        check("shellcheck", Status::Passed, vec![], vec![]),
    ]
}

#[test]
fn annotations_put_errors_first_in_file_and_line_order() {
    type Place<'a> = (Level, Option<&'a str>, Option<u32>, Option<&'a str>);
    let annotations = annotations(&sample());
    let order: Vec<Place<'_>> = annotations
        .iter()
        .map(|a| (a.level, a.file.as_deref(), a.line, a.title.as_deref()))
        .collect();
    assert_eq!(
        order,
        [
            (Level::Error, Some("a.py"), Some(20), Some("ruff: F811")),
            (Level::Error, Some("b.py"), Some(9), Some("ruff: F401")),
            (
                Level::Error,
                Some("tests/test_a.py"),
                Some(7),
                Some("pytest: test-failure")
            ),
            (
                Level::Error,
                Some("tests/test_a.py"),
                Some(7),
                Some("pytest: test-failure")
            ),
            (Level::Error, None, None, Some("ruff")),
            (Level::Warning, Some("b.py"), Some(3), Some("ruff: E501")),
            (Level::Notice, Some("a.py"), Some(1), Some("ruff: I001")),
        ]
    );
    assert_eq!(
        annotations[2].message,
        "tests.test_a::test_bad failed: assert 1 == 2"
    );
    assert_eq!(
        annotations[3].message,
        "tests.test_a::test_boom errored: fixture failed"
    );
    assert_eq!(
        annotations[1].to_command(),
        "::error file=b.py,line=9,endLine=9,col=2,endColumn=5,title=ruff%3A F401::`os` imported but unused\n"
    );
    assert_eq!(
        annotations[4].to_command(),
        "::error title=ruff::config is broken\n"
    );
}

#[test]
fn annotation_messages_cannot_start_a_command_or_steer_a_terminal() {
    let results = [check(
        "ruff",
        Status::Failed,
        vec![finding(
            Some("X1"),
            Severity::Error,
            "first\r\n::add-mask::x\n\u{1b}[31mred\u{7}",
            location("a.py", 1),
        )],
        vec![],
    )];
    let command = annotations(&results)[0].to_command();
    assert_eq!(command.matches('\n').count(), 1, "{command}");
    assert!(
        !command.contains('\u{1b}') && !command.contains('\u{7}'),
        "{command}"
    );
    assert!(
        command.ends_with("::first%0A::add-mask::x%0A\\u{1b}[31mred\\u{7}\n"),
        "{command}"
    );
}

#[test]
fn summary_has_a_row_per_check_and_the_first_problems() {
    let summary = summary_markdown(&sample());
    insta::assert_snapshot!(summary);
}

#[test]
fn summary_escapes_markdown() {
    let results = [check(
        "ruff",
        Status::Failed,
        vec![finding(
            Some("X`1|"),
            Severity::Error,
            "a | b `c` <script>alert(1)</script> *d* [e](f)\nsecond line",
            location("dir|x/a`b.py", 4),
        )],
        vec![],
    )];
    let summary = summary_markdown(&results);
    let item = summary.lines().find(|l| l.starts_with("- ")).unwrap();
    assert_eq!(
        item,
        "- `dir\\|x/a'b.py:4:2` `X'1\\|`: a \\| b \\`c\\` &lt;script&gt;alert(1)&lt;/script&gt; \\*d\\* \\[e\\](f)"
    );
    assert!(!summary.contains("<script>"));
    assert!(!summary.contains("second line"));
}

#[test]
fn summary_stays_under_the_limit_and_says_what_it_left_out() {
    let many: Vec<CheckResult> = (0..3_000)
        .map(|i| {
            check(
                &format!("check-{i}"),
                Status::Failed,
                vec![
                    finding(
                        Some("R1"),
                        Severity::Error,
                        &"m".repeat(200),
                        location("a.py", 1)
                    );
                    20
                ],
                vec![],
            )
        })
        .collect();
    let summary = summary_markdown(&many);
    assert!(summary.len() <= MAX_SUMMARY_BYTES, "{}", summary.len());
    let last = summary.lines().last().unwrap();
    assert!(last.contains("left out"), "{last}");
    let left_out: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(left_out > 0);
    // Each check lists at most ten problems and counts the rest.
    assert!(summary.contains("- and 10 more"));
}

#[test]
fn junit_removes_characters_xml_cannot_hold() {
    let results = [check(
        "ruff",
        Status::Failed,
        vec![finding(
            Some("X1"),
            Severity::Error,
            "nul\u{0} bell\u{7} esc\u{1b} ok & <tag> \"q\" 'a' \u{fffe}",
            location("a<b>.py", 1),
        )],
        vec![],
    )];
    let xml = junit_xml(&results);
    for bad in ['\u{0}', '\u{7}', '\u{1b}', '\u{fffe}'] {
        assert!(!xml.contains(bad), "{bad:?} in {xml}");
    }
    assert!(
        xml.contains("a&lt;b&gt;.py:1:2: X1 nul bell esc ok &amp; &lt;tag&gt;"),
        "{xml}"
    );
    assert!(xml.contains(r#"name="a&lt;b&gt;.py""#), "{xml}");
}

#[test]
fn junit_turns_lint_checks_into_test_cases() {
    let xml = junit_xml(&sample());
    insta::assert_snapshot!(xml);
}

#[test]
fn sarif_has_one_run_per_tool_with_rules_and_fingerprints() {
    let mut results = sample();
    results[0].findings[1].help_uri =
        Some("https://docs.astral.sh/ruff/rules/unused-import".to_owned());
    let mut format = check(
        "ruff-format",
        Status::Failed,
        vec![finding(
            Some("unformatted"),
            Severity::Error,
            "File would be reformatted",
            location("c.py", 1),
        )],
        vec![],
    );
    format.tool = "ruff".to_owned();
    results.push(format);
    let log = sarif(&results);
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["$schema"], SARIF_SCHEMA);
    let runs = log["runs"].as_array().unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["tool"]["driver"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ruff", "pytest", "shellcheck"]);
    let ruff = &runs[0];
    let rules: Vec<&str> = ruff["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["E501", "F401", "F811", "I001", "unformatted"]);
    assert_eq!(
        ruff["tool"]["driver"]["rules"][1]["helpUri"],
        "https://docs.astral.sh/ruff/rules/unused-import"
    );
    let results = ruff["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        5,
        "the finding without a file is a notification"
    );
    let f401 = &results[1];
    assert_eq!(f401["ruleId"], "F401");
    assert_eq!(f401["ruleIndex"], 1);
    assert_eq!(f401["level"], "error");
    assert_eq!(f401["message"]["text"], "`os` imported but unused");
    let physical = &f401["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], "b.py");
    assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(
        physical["region"],
        serde_json::json!({"startLine": 9, "startColumn": 2, "endLine": 9, "endColumn": 5})
    );
    let notifications = &ruff["invocations"][0]["toolExecutionNotifications"];
    assert_eq!(notifications[0]["message"]["text"], "config is broken");
    // The fingerprint ignores the line: moving the finding keeps it.
    let mut moved = sample();
    moved[0].findings[1].location = location("b.py", 90);
    let moved = sarif(&moved);
    assert_eq!(
        moved["runs"][0]["results"][1]["partialFingerprints"],
        f401["partialFingerprints"]
    );
    let fingerprints: Vec<&serde_json::Value> =
        results.iter().map(|r| &r["partialFingerprints"]).collect();
    for (i, a) in fingerprints.iter().enumerate() {
        for b in &fingerprints[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let pytest = &runs[1]["results"];
    assert_eq!(pytest.as_array().unwrap().len(), 2);
    assert_eq!(pytest[0]["ruleId"], TEST_FAILURE_RULE);
    assert_eq!(
        pytest[0]["message"]["text"],
        "tests.test_a::test_bad failed: assert 1 == 2"
    );
    assert_eq!(runs[2]["results"].as_array().unwrap().len(), 0);
    assert_eq!(runs[2]["invocations"][0]["executionSuccessful"], true);
}

#[test]
fn sarif_uris_are_relative_references() {
    let results = [check(
        "ruff",
        Status::Failed,
        vec![
            finding(
                Some("A"),
                Severity::Error,
                "",
                location("dir with space/ä#?.py", 1),
            ),
            finding(Some("A"), Severity::Error, "m", location("c:odd.py", 1)),
        ],
        vec![],
    )];
    let log = sarif(&results);
    let uri = |i: usize| {
        log["runs"][0]["results"][i]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .clone()
    };
    assert_eq!(uri(0), "dir%20with%20space/%C3%A4%23%3F.py");
    assert_eq!(uri(1), "./c:odd.py");
    assert_eq!(
        log["runs"][0]["results"][0]["message"]["text"],
        "(no message)"
    );
}

#[test]
fn junit_and_sarif_for_checks_that_did_not_run() {
    let mut crashed = check("mypy", Status::Error, vec![], vec![]);
    crashed.exit_code = Some(2);
    crashed.output = "mypy: error: cannot read config".to_owned();
    let skipped = check("helm-lint", Status::Skipped, vec![], vec![]);
    let results = [crashed, skipped];
    let xml = junit_xml(&results);
    assert!(
        xml.contains(r#"<error message="the check could not run (exit code 2)">mypy: error: cannot read config</error>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<skipped message="nothing to check"/>"#),
        "{xml}"
    );
    let log = sarif(&results);
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "a skipped check adds no run");
    assert_eq!(runs[0]["invocations"][0]["executionSuccessful"], false);
    assert_eq!(runs[0]["invocations"][0]["exitCode"], 2);
    let summary = summary_markdown(&results);
    assert!(
        summary.contains("| mypy | error | 0 | - | - | - | 1.25 s | no |"),
        "{summary}"
    );
    assert!(
        summary.contains("- mypy: error: cannot read config"),
        "{summary}"
    );
}
