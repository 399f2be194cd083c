//! The parsers against output recorded from the real tools
//! (`tests/fixtures/`, made by `tests/fixtures/regenerate.sh`), where the
//! project root was `/project`.

use std::path::Path;

use super::*;
use crate::model::{Finding, Location, Severity, TestOutcome};

const ROOT: &str = "/project";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn root() -> &'static Path {
    Path::new(ROOT)
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "compared with `Finding::location`"
)]
fn at(path: &str, line: u32, column: u32, end_line: u32, end_column: u32) -> Option<Location> {
    Some(Location {
        path: path.to_owned(),
        line: Some(line),
        column: Some(column),
        end_line: Some(end_line),
        end_column: Some(end_column),
    })
}

#[test]
fn relative_paths() {
    let cases = [
        ("/project/src/a.py", "src/a.py"),
        ("src/a.py", "src/a.py"),
        ("./src/a.py", "src/a.py"),
        ("/elsewhere/a.py", "/elsewhere/a.py"),
        ("../up/a.py", "../up/a.py"),
    ];
    for (given, expected) in cases {
        assert_eq!(relative_path(given, root()), expected, "{given}");
    }
}

#[test]
fn ruff_check_reads_every_diagnostic() {
    let findings = ruff_check(&fixture("ruff-check.json"), root()).unwrap();
    assert_eq!(findings.len(), 7);
    assert_eq!(
        findings[0],
        Finding {
            rule: Some("F401".to_owned()),
            severity: Severity::Error,
            message: "`os` imported but unused".to_owned(),
            location: at("src/sentiment_lab/broken.py", 3, 8, 3, 10),
            help_uri: Some("https://docs.astral.sh/ruff/rules/unused-import".to_owned()),
        }
    );
    let last = &findings[6];
    assert_eq!(last.rule.as_deref(), Some("RUF100"));
    assert_eq!(
        last.location,
        at("src/sentiment_lab/serving/app.py", 41, 61, 41, 73)
    );
    assert_eq!(
        last.message,
        "Unused `noqa` directive (non-enabled: `A002`)"
    );
}

#[test]
fn ruff_format_names_each_file() {
    let findings = ruff_format(&fixture("ruff-format.txt"), root()).unwrap();
    let places: Vec<(String, Option<u32>, Option<u32>)> = findings
        .iter()
        .map(|f| {
            let l = f.location.as_ref().unwrap();
            (l.path.clone(), l.line, l.column)
        })
        .collect();
    assert_eq!(
        places,
        [
            ("src/sentiment_lab/broken.py".to_owned(), Some(8), Some(12)),
            (
                "src/sentiment_lab/serving/app.py".to_owned(),
                Some(39),
                Some(25)
            ),
            (
                "src/sentiment_lab/training/job.py".to_owned(),
                Some(30),
                Some(11)
            ),
            ("tests/test_model.py".to_owned(), Some(28), Some(42)),
        ]
    );
    assert!(
        findings
            .iter()
            .all(|f| f.rule.as_deref() == Some("unformatted") && f.severity == Severity::Error)
    );
}

#[test]
fn ruff_format_reads_the_older_form() {
    let output =
        b"Would reformat: /project/src/a.py\nWould reformat: b.py\n2 files would be reformatted\n";
    let paths: Vec<String> = ruff_format(output, root())
        .unwrap()
        .into_iter()
        .map(|f| f.location.unwrap().path)
        .collect();
    assert_eq!(paths, ["src/a.py", "b.py"]);
}

#[test]
fn mypy_shifts_columns_to_one_based() {
    let findings = mypy(&fixture("mypy.jsonl"), root()).unwrap();
    assert_eq!(
        findings,
        [Finding {
            rule: Some("assignment".to_owned()),
            severity: Severity::Error,
            message: "Incompatible types in assignment (expression has type \"str\", variable has type \"int\")".to_owned(),
            // mypy says column 17 (0-based) for `"many"`, which starts at
            // the 18th character of `    count: int = "many"`.
            location: at("src/sentiment_lab/broken.py", 12, 18, 12, 24),
            help_uri: Some("https://mypy.readthedocs.io/en/stable/_refs.html#code-assignment".to_owned()),
        }]
    );
}

#[test]
fn shellcheck_reads_levels_and_codes() {
    let findings = shellcheck(&fixture("shellcheck.json"), root()).unwrap();
    let summary: Vec<(&str, Severity, Option<Location>)> = findings
        .iter()
        .map(|f| (f.rule.as_deref().unwrap(), f.severity, f.location.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "SC2086",
                Severity::Note,
                at("scripts/deploy.sh", 3, 4, 3, 11)
            ),
            (
                "SC2086",
                Severity::Note,
                at("scripts/deploy.sh", 4, 6, 4, 13)
            ),
            (
                "SC3014",
                Severity::Warning,
                at("scripts/deploy.sh", 4, 14, 4, 16)
            ),
        ]
    );
    assert_eq!(
        findings[2].message,
        "In POSIX sh, == in place of = is undefined."
    );
    assert_eq!(
        findings[2].help_uri.as_deref(),
        Some("https://www.shellcheck.net/wiki/SC3014")
    );
}

#[test]
fn cargo_messages_take_the_primary_span() {
    let findings = cargo_messages(&fixture("cargo-clippy.jsonl"), root()).unwrap();
    assert_eq!(
        findings,
        [
            Finding {
                rule: Some("unused_variables".to_owned()),
                severity: Severity::Warning,
                message: "unused variable: `unused`".to_owned(),
                location: at("src/lib.rs", 2, 9, 2, 15),
                help_uri: None,
            },
            Finding {
                rule: Some("clippy::needless_return".to_owned()),
                severity: Severity::Warning,
                message: "unneeded `return` statement".to_owned(),
                location: at("src/lib.rs", 3, 5, 3, 17),
                help_uri: Some(
                    "https://rust-lang.github.io/rust-clippy/master/index.html#needless_return"
                        .to_owned()
                ),
            },
        ]
    );
}

#[test]
fn junit_reads_pytest_cases() {
    let cases = junit(&fixture("pytest-junit.xml"), root()).unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "test_fails",
            "test_errors",
            "test_skipped",
            "test_passes",
            "test_training_job_writes_a_model_that_predicts",
            "test_service_answers_predictions",
        ]
    );
    let failed = &cases[0];
    assert_eq!(failed.classname, "tests.test_broken");
    // pytest's xunit1 line is 0-based: `def test_fails` is line 9.
    assert_eq!(
        failed.location,
        Some(Location {
            path: "tests/test_broken.py".to_owned(),
            line: Some(9),
            column: None,
            end_line: None,
            end_column: None,
        })
    );
    assert!((failed.time - 0.01).abs() < 1e-9);
    let TestOutcome::Failed { message, details } = &failed.outcome else {
        panic!("{:?}", failed.outcome);
    };
    assert_eq!(
        message,
        "AssertionError: arithmetic is broken\nassert (1 + 1) == 3"
    );
    assert!(
        details.starts_with("def test_fails():\n>       assert 1 + 1 == 3"),
        "{details}"
    );
    assert!(
        details.ends_with("tests/test_broken.py:10: AssertionError"),
        "{details}"
    );
    let TestOutcome::Error { message, .. } = &cases[1].outcome else {
        panic!("{:?}", cases[1].outcome);
    };
    assert_eq!(
        message,
        "failed on setup with \"RuntimeError: the fixture blew up\""
    );
    assert_eq!(
        cases[2].outcome,
        TestOutcome::Skipped {
            message: "not ready yet".to_owned()
        }
    );
    assert!(cases[3..].iter().all(|c| c.outcome == TestOutcome::Passed));
}

#[test]
fn libtest_reads_the_pretty_format() {
    let cases = libtest(&fixture("cargo-test.txt"));
    let summary: Vec<(&str, &str, &TestOutcome)> = cases
        .iter()
        .map(|c| (c.classname.as_str(), c.name.as_str(), &c.outcome))
        .collect();
    let failed = TestOutcome::Failed {
        message: "assertion `left == right` failed: two times two\n  left: 4\n right: 5".to_owned(),
        details: "thread 'tests::fails' panicked at src/lib.rs:15:9:\nassertion `left == right` failed: two times two\n  left: 4\n right: 5\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace".to_owned(),
    };
    let ignored = TestOutcome::Skipped {
        message: "slow".to_owned(),
    };
    assert_eq!(
        summary,
        [
            ("tests", "doubles", &TestOutcome::Passed),
            ("tests", "fails", &failed),
            ("tests", "ignored", &ignored),
        ]
    );
    assert_eq!(
        cases[1].location,
        Some(Location {
            path: "src/lib.rs".to_owned(),
            line: Some(15),
            column: Some(9),
            end_line: None,
            end_column: None,
        })
    );
}

#[test]
fn libtest_terse_names_the_failures() {
    let cases = libtest(&fixture("cargo-test-terse.txt"));
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].name, "fails");
    let TestOutcome::Failed { message, .. } = &cases[0].outcome else {
        panic!("{:?}", cases[0].outcome);
    };
    assert!(message.starts_with("assertion `left == right` failed: two times two"));
}

#[test]
fn libtest_ignores_other_text() {
    assert!(libtest(b"not a test run\n\x00\xff").is_empty());
}

#[test]
fn helm_lint_points_into_the_chart() {
    let findings = helm_lint(&fixture("helm-lint.txt"), "chart");
    assert_eq!(
        findings,
        [
            Finding {
                rule: None,
                severity: Severity::Note,
                message: "icon is recommended".to_owned(),
                location: Some(Location {
                    path: "chart/Chart.yaml".to_owned(),
                    line: None,
                    column: None,
                    end_line: None,
                    end_column: None,
                }),
                help_uri: None,
            },
            Finding {
                rule: None,
                severity: Severity::Error,
                message: "parse error at (web/templates/deployment.yaml:5): function \"spec\" not defined".to_owned(),
                location: Some(Location {
                    path: "chart/templates/deployment.yaml".to_owned(),
                    line: Some(5),
                    column: None,
                    end_line: None,
                    end_column: None,
                }),
                help_uri: None,
            },
        ]
    );
    assert_eq!(
        helm_lint(&fixture("helm-lint.txt"), "")[0]
            .location
            .as_ref()
            .unwrap()
            .path,
        "Chart.yaml"
    );
}

/// Broken output gives an error naming the tool and the problem.
#[test]
fn malformed_output_is_an_error_not_a_panic() {
    let ruff = fixture("ruff-check.json");
    let truncated = &ruff[..ruff.len() / 2];
    let absurd = br#"[{"code":"F401","message":"m","filename":"/project/a.py","location":{"row":99999999999,"column":1},"end_location":{"row":1,"column":2},"url":null}]"#;
    let cases: Vec<(&str, Result<usize, ParseError>, &str, &str)> = vec![
        ("ruff truncated", ruff_check(truncated, root()).map(|f| f.len()), "ruff", "EOF"),
        ("ruff absurd line", ruff_check(absurd, root()).map(|f| f.len()), "ruff", "99999999999"),
        ("ruff not json", ruff_check(b"<html>", root()).map(|f| f.len()), "ruff", "JSON"),
        ("mypy truncated", mypy(b"{\"file\": \"a.py\", \"line\": 1", root()).map(|f| f.len()), "mypy", "line 1"),
        ("mypy negative", mypy(br#"{"file":"a.py","line":-7,"column":0,"message":"m","code":null,"severity":"error"}"#, root()).map(|f| f.len()), "mypy", "-7"),
        ("shellcheck", shellcheck(b"{\"comments\": [", root()).map(|f| f.len()), "shellcheck", "json1"),
        ("cargo", cargo_messages(b"{\"reason\":\"compiler-message\"}\nCompiling foo", root()).map(|f| f.len()), "cargo", "without `message`"),
        ("cargo text", cargo_messages(b"   Compiling foo v0.1.0", root()).map(|f| f.len()), "cargo", "line 1"),
        ("ruff format", ruff_format(b"unformatted: File would be reformatted\n  --> a.py:x:1\n", root()).map(|f| f.len()), "ruff format", "`x` is not a number"),
        ("ruff format truncated", ruff_format(b"unformatted: File would be reformatted\n", root()).map(|f| f.len()), "ruff format", "truncated"),
    ];
    for (name, result, tool, what) in cases {
        let error = result.expect_err(name);
        assert_eq!(error.tool(), tool, "{name}");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("cannot read the output of {tool}: ")),
            "{name}: {text}"
        );
        assert!(text.contains(what), "{name}: {text}");
    }
}

#[test]
fn malformed_junit_is_an_error() {
    let xml = fixture("pytest-junit.xml");
    let truncated = &xml[..xml.len() - 40];
    let dtd = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><testsuites><testsuite><testcase name="a" classname="b">&lol2;</testcase></testsuite></testsuites>"#;
    let entity = br#"<testsuites><testsuite><testcase name="a"><failure message="x">&lol;</failure></testcase></testsuite></testsuites>"#;
    let cases: Vec<(&str, &[u8], &str)> = vec![
        ("truncated in a tag", truncated, "not XML"),
        (
            "truncated in a case",
            b"<testsuites><testsuite><testcase name=\"a\">",
            "truncated",
        ),
        (
            "not xml",
            b"Traceback (most recent call last):",
            "no <testsuites>",
        ),
        ("empty", b"", "no <testsuites>"),
        ("html", b"<html><body/></html>", "<html>"),
        ("dtd", dtd, "DTD"),
        ("undefined entity", entity, "`&lol;`"),
        (
            "bad line",
            br#"<testsuite><testcase name="a" file="a.py" line="-3"/></testsuite>"#,
            "line `-3`",
        ),
        (
            "bad time",
            br#"<testsuite><testcase name="a" time="soon"/></testsuite>"#,
            "time `soon`",
        ),
        (
            "mismatched",
            b"<testsuite><testcase name=\"a\"></testsuite>",
            "not XML",
        ),
        ("not utf-8", b"<testsuite>\xff</testsuite>", "UTF-8"),
    ];
    for (name, input, what) in cases {
        let error = junit(input, root()).expect_err(name);
        let text = error.to_string();
        assert!(
            text.starts_with("cannot read the output of pytest (JUnit XML): "),
            "{name}: {text}"
        );
        assert!(text.contains(what), "{name}: {text}");
    }
}

#[test]
fn position_bounds() {
    assert_eq!(position("t", "line", 0).unwrap(), None);
    assert_eq!(position("t", "line", -1).unwrap(), None);
    assert_eq!(position("t", "line", 1).unwrap(), Some(1));
    assert_eq!(
        position("t", "line", i64::try_from(MAX_POSITION).unwrap()).unwrap(),
        Some(10_000_000)
    );
    assert!(position("t", "line", i64::try_from(MAX_POSITION).unwrap() + 1).is_err());
    assert!(position("t", "line", -2).is_err());
    assert!(position("t", "line", i64::MIN).is_err());
}

/// Any cut of any recorded output, through every parser: a result or an
/// error, never a panic.
#[test]
fn every_cut_of_every_fixture_is_a_result_or_an_error() {
    let names = [
        "ruff-check.json",
        "ruff-format.txt",
        "mypy.jsonl",
        "pytest-junit.xml",
        "shellcheck.json",
        "cargo-clippy.jsonl",
        "cargo-test.txt",
        "cargo-test-terse.txt",
        "helm-lint.txt",
    ];
    let mut errors = 0usize;
    for name in names {
        let bytes = fixture(name);
        for end in (0..=bytes.len()).step_by(7).chain([bytes.len()]) {
            let input = &bytes[..end];
            let outcomes = [
                ruff_check(input, root()).is_ok(),
                ruff_format(input, root()).is_ok(),
                mypy(input, root()).is_ok(),
                junit(input, root()).is_ok(),
                shellcheck(input, root()).is_ok(),
                cargo_messages(input, root()).is_ok(),
            ];
            errors += outcomes.iter().filter(|ok| !**ok).count();
            let _ = libtest(input);
            let _ = helm_lint(input, "chart");
        }
    }
    assert!(errors > 0);
}
