//! The reports of results parsed from real tool output
//! (`tests/fixtures/`, recorded by `tests/fixtures/regenerate.sh` from
//! ruff 0.17.6, mypy 2.4.1, pytest 9.2.0, shellcheck, cargo clippy/test and
//! helm lint on broken projects), read back by tools we did not write:
//! the SARIF log is validated against the official SARIF 2.1.0 JSON schema,
//! the JUnit XML is read by quick-xml and by Python's `xml.etree`.
//!
//! `tests/data/sarif-schema-2.1.0.json` is OASIS's schema, copied unchanged
//! from the `Schemata/sarif-schema-2.1.0.json` file of the `oasis-tcs/sarif-spec`
//! repository on GitHub (errata 01, the version GitHub code scanning
//! documents; JSON Schema draft-04).

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]
#![allow(
    clippy::disallowed_methods,
    reason = "python3 is the independent reader of the JUnit XML"
)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use windlass_check::model::{CheckResult, Finding, Location, Severity, Status, TestCase};
use windlass_check::{parse, report};
use windlass_testkit::{assert_no_leak, canary};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn result(name: &str, tool: &str, findings: Vec<Finding>, tests: Vec<TestCase>) -> CheckResult {
    let failed =
        findings.iter().any(|f| f.severity == Severity::Error) || tests.iter().any(report_problem);
    CheckResult {
        name: name.to_owned(),
        tool: tool.to_owned(),
        version: Some("1.0".to_owned()),
        status: if failed {
            Status::Failed
        } else {
            Status::Passed
        },
        cached: false,
        duration: Duration::from_millis(250),
        command: vec![tool.to_owned()],
        exit_code: Some(i32::from(failed)),
        findings,
        tests,
        output: String::new(),
    }
}

fn report_problem(case: &TestCase) -> bool {
    matches!(
        case.outcome,
        windlass_check::model::TestOutcome::Failed { .. }
            | windlass_check::model::TestOutcome::Error { .. }
    )
}

/// Every fixture, parsed, as the checks would report them.
fn results() -> Vec<CheckResult> {
    let root = Path::new("/project");
    let crate_root = Path::new("/project/crate");
    vec![
        result(
            "ruff",
            "ruff",
            parse::ruff_check(&fixture("ruff-check.json"), root).unwrap(),
            vec![],
        ),
        result(
            "ruff-format",
            "ruff",
            parse::ruff_format(&fixture("ruff-format.txt"), root).unwrap(),
            vec![],
        ),
        result(
            "mypy",
            "mypy",
            parse::mypy(&fixture("mypy.jsonl"), root).unwrap(),
            vec![],
        ),
        result(
            "pytest",
            "pytest",
            vec![],
            parse::junit(&fixture("pytest-junit.xml"), root).unwrap(),
        ),
        result(
            "shellcheck",
            "shellcheck",
            parse::shellcheck(&fixture("shellcheck.json"), root).unwrap(),
            vec![],
        ),
        result(
            "clippy",
            "clippy",
            parse::cargo_messages(&fixture("cargo-clippy.jsonl"), crate_root).unwrap(),
            vec![],
        ),
        result(
            "cargo-test",
            "cargo",
            vec![],
            parse::libtest(&fixture("cargo-test.txt")),
        ),
        result(
            "helm-lint",
            "helm",
            parse::helm_lint(&fixture("helm-lint.txt"), "chart"),
            vec![],
        ),
    ]
}

#[test]
fn annotations_point_at_the_broken_lines() {
    let lines: Vec<String> = report::annotations(&results())
        .iter()
        .map(windlass_output::github::Annotation::to_command)
        .collect();
    let expected = [
        "::error file=src/sentiment_lab/broken.py,line=3,endLine=3,col=8,endColumn=10,title=ruff%3A F401::`os` imported but unused\n",
        "::error file=src/sentiment_lab/broken.py,line=8,col=12,title=ruff-format%3A unformatted::File would be reformatted (run `ruff format`)\n",
        "::error file=src/sentiment_lab/broken.py,line=12,endLine=12,col=18,endColumn=24,title=mypy%3A assignment::Incompatible types in assignment (expression has type \"str\", variable has type \"int\")\n",
        "::error file=tests/test_broken.py,line=9,title=pytest%3A test-failure::tests.test_broken::test_fails failed: AssertionError: arithmetic is broken%0Aassert (1 + 1) == 3\n",
        "::error file=tests/test_broken.py,line=13,title=pytest%3A test-failure::tests.test_broken::test_errors errored: failed on setup with \"RuntimeError: the fixture blew up\"\n",
        "::error file=chart/templates/deployment.yaml,line=5,title=helm-lint::parse error at (web/templates/deployment.yaml:5): function \"spec\" not defined\n",
        "::error file=src/lib.rs,line=15,col=9,title=cargo-test%3A test-failure::tests::fails failed: assertion `left == right` failed: two times two%0A  left: 4%0A right: 5\n",
        "::warning file=scripts/deploy.sh,line=4,endLine=4,col=14,endColumn=16,title=shellcheck%3A SC3014::In POSIX sh, == in place of = is undefined.\n",
        "::warning file=src/lib.rs,line=2,endLine=2,col=9,endColumn=15,title=clippy%3A unused_variables::unused variable: `unused`\n",
    ];
    for line in expected {
        assert!(
            lines.iter().any(|l| l == line),
            "missing {line:?} in {lines:#?}"
        );
    }
    // Errors first, then warnings, then notices.
    let levels: Vec<&str> = lines
        .iter()
        .map(|l| l.split([' ', ':']).nth(2).unwrap())
        .collect();
    let first_warning = levels.iter().position(|l| *l == "warning").unwrap();
    let first_notice = levels.iter().position(|l| *l == "notice").unwrap();
    assert!(
        levels[..first_warning].iter().all(|l| *l == "error"),
        "{levels:?}"
    );
    assert!(
        levels[first_warning..first_notice]
            .iter()
            .all(|l| *l == "warning"),
        "{levels:?}"
    );
    assert!(
        levels[first_notice..].iter().all(|l| *l == "notice"),
        "{levels:?}"
    );
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let mut hostile = results();
    hostile[0].findings[0].message = "line\nbreak \u{1b}[31m <x> \"q\" \u{0}".to_owned();
    hostile[0].findings[1].location = Some(Location {
        path: "odd dir/ü#?.py".to_owned(),
        line: Some(4),
        column: Some(9),
        end_line: Some(3),
        end_column: Some(2),
    });
    for results in [results(), hostile] {
        let log = report::sarif(&results);
        let errors: Vec<String> = validator.iter_errors(&log).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}\n{log:#}");
        // What GitHub code scanning needs beyond the schema: every result
        // has a rule, a message and one location with a start line.
        for run in log["runs"].as_array().unwrap() {
            for result in run["results"].as_array().unwrap() {
                assert!(result["ruleId"].is_string());
                let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
                assert_eq!(
                    run["tool"]["driver"]["rules"][index]["id"],
                    result["ruleId"]
                );
                assert!(!result["message"]["text"].as_str().unwrap().is_empty());
                let locations = result["locations"].as_array().unwrap();
                assert_eq!(locations.len(), 1);
                assert!(
                    locations[0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap()
                        >= 1
                );
                assert!(result["partialFingerprints"].is_object());
            }
        }
    }
    let log = report::sarif(&results());
    let names: Vec<&str> = log["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tool"]["driver"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ruff",
            "mypy",
            "pytest",
            "shellcheck",
            "clippy",
            "cargo",
            "helm"
        ]
    );
    let mypy = &log["runs"][1]["results"][0];
    assert_eq!(mypy["ruleId"], "assignment");
    assert_eq!(
        mypy["locations"][0]["physicalLocation"],
        serde_json::json!({
            "artifactLocation": {"uri": "src/sentiment_lab/broken.py", "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": 12, "startColumn": 18, "endLine": 12, "endColumn": 24}
        })
    );
    let pytest: Vec<&str> = log["runs"][2]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(pytest, ["test-failure", "test-failure"]);
}

#[test]
fn junit_is_read_back_by_quick_xml_and_python() {
    let mut results = results();
    // Messages that would break naive XML; ESC and NUL cannot be in XML
    // at all and are removed.
    results[0].findings[0].message = "]]> <!-- & \u{1b}[0m \u{0} \"'".to_owned();
    let xml = report::junit_xml(&results);
    // Our parser (quick-xml) reads it back: every test case of pytest and
    // one case per file with findings for the lint checks.
    let cases = parse::junit(xml.as_bytes(), Path::new("/project")).unwrap();
    let pytest: Vec<&TestCase> = cases
        .iter()
        .filter(|c| c.classname == "tests.test_broken")
        .collect();
    assert_eq!(pytest.len(), 4);
    // Line breaks in attributes survive (as character references).
    assert_eq!(pytest[0].outcome, results[3].tests[0].outcome);
    assert_eq!(
        pytest[0].location,
        results[3].tests[0].location.as_ref().map(|l| Location {
            line: l.line.map(|n| n + 1),
            ..l.clone()
        }),
        "the writer's line is 1-based, pytest's (which the parser reads) 0-based"
    );
    let ruff_files: Vec<&str> = cases
        .iter()
        .filter(|c| c.classname == "ruff")
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        ruff_files,
        [
            "src/sentiment_lab/broken.py",
            "src/sentiment_lab/model.py",
            "src/sentiment_lab/serving/app.py"
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    std::fs::write(&path, &xml).unwrap();
    let script = r#"
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
for suite in root.findall("testsuite"):
    cases = suite.findall("testcase")
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    assert int(suite.get("tests")) == len(cases), suite.get("name")
    assert int(suite.get("failures")) == failures, suite.get("name")
    assert int(suite.get("errors")) == errors, suite.get("name")
    assert int(suite.get("skipped")) == skipped, suite.get("name")
    print(suite.get("name"), len(cases), failures, errors, skipped)
failure = root.find("testsuite[@name='ruff']/testcase/failure")
print(repr(failure.text.splitlines()[0]))
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        "ruff 3 3 0 0\n\
         ruff-format 4 4 0 0\n\
         mypy 1 1 0 0\n\
         pytest 6 1 1 1\n\
         shellcheck 1 1 0 0\n\
         clippy 1 1 0 0\n\
         cargo-test 3 1 0 1\n\
         helm-lint 2 2 0 0\n\
         'src/sentiment_lab/broken.py:3:8: F401 ]]> <!-- & [0m  \"\\''\n"
    );
}

#[test]
fn summary_of_the_broken_project() {
    let summary = report::summary_markdown(&results());
    assert!(
        summary.contains("| pytest | failed | 0 | 3 | 2 | 1 | 0.25 s | no |"),
        "{summary}"
    );
    assert!(
        summary.contains("| shellcheck | passed | 3 | - | - | - | 0.25 s | no |"),
        "{summary}"
    );
    assert!(
        summary
            .contains("- `src/sentiment_lab/broken.py:3:8` `F401`: \\`os\\` imported but unused"),
        "{summary}"
    );
}

/// A secret that reached a finding unredacted is still masked in the
/// annotation commands (which pass through the global redactor).
#[test]
fn a_canary_in_a_message_never_reaches_an_annotation() {
    let secret = canary("check-report");
    windlass_redact::global().register(&secret);
    let mut results = results();
    results[0].findings[0].message = format!("token {secret} leaked");
    results[3].tests[0].outcome = windlass_check::model::TestOutcome::Failed {
        message: format!("saw {secret}"),
        details: String::new(),
    };
    let commands: String = report::annotations(&results)
        .iter()
        .map(windlass_output::github::Annotation::to_command)
        .collect();
    assert!(commands.contains("token **** leaked"), "{commands}");
    assert_no_leak(commands.as_bytes(), &secret);
}
