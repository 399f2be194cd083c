//! One JUnit XML file for all checks.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;

use crate::model::{CheckResult, Finding, Status, TestCase, TestOutcome};

/// The merged JUnit XML of all checks: a `<testsuites>` root with one
/// `<testsuite>` per check (`name`, `tests`, `failures`, `errors`,
/// `skipped`, `time`). A check's test cases are written as they are; a lint
/// check's findings become one test case per file (`classname` the check,
/// `name` the file) whose `<failure>` lists them, findings without a file
/// one more named after the check; a check with neither is one test case
/// named after the check: passing, skipped, or failing/erroring with the
/// tool's output.
///
/// The text is valid XML 1.0 whatever the messages hold: characters XML
/// cannot carry (most control characters) are removed, the rest escaped.
/// No DTD, no entities.
pub fn junit_xml(results: &[CheckResult]) -> String {
    let suites: Vec<Suite> = results.iter().map(suite).collect();
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    let time: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();

    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut write = |event: Event<'_>| {
        // Writing into a Vec cannot fail.
        let _ = writer.write_event(event);
    };
    write(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let mut root = BytesStart::new("testsuites");
    attr(&mut root, "name", "windlass check");
    attr(&mut root, "tests", &total(|s| s.cases.len()).to_string());
    attr(
        &mut root,
        "failures",
        &total(|s| s.count(Kind::Failure)).to_string(),
    );
    attr(
        &mut root,
        "errors",
        &total(|s| s.count(Kind::Error)).to_string(),
    );
    attr(
        &mut root,
        "skipped",
        &total(|s| s.count(Kind::Skipped)).to_string(),
    );
    attr(&mut root, "time", &seconds(time));
    write(Event::Start(root));
    for (result, suite) in results.iter().zip(&suites) {
        let mut start = BytesStart::new("testsuite");
        attr(&mut start, "name", &result.name);
        attr(&mut start, "tests", &suite.cases.len().to_string());
        attr(
            &mut start,
            "failures",
            &suite.count(Kind::Failure).to_string(),
        );
        attr(&mut start, "errors", &suite.count(Kind::Error).to_string());
        attr(
            &mut start,
            "skipped",
            &suite.count(Kind::Skipped).to_string(),
        );
        attr(&mut start, "time", &seconds(result.duration.as_secs_f64()));
        write(Event::Start(start));
        for case in &suite.cases {
            let mut start = BytesStart::new("testcase");
            attr(&mut start, "classname", &case.classname);
            attr(&mut start, "name", &case.name);
            if let Some(file) = &case.file {
                attr(&mut start, "file", file);
            }
            if let Some(line) = case.line {
                attr(&mut start, "line", &line.to_string());
            }
            attr(&mut start, "time", &seconds(case.time));
            match &case.outcome {
                None => write(Event::Empty(start)),
                Some((kind, message, text)) => {
                    write(Event::Start(start));
                    let mut element = BytesStart::new(kind.element());
                    attr(&mut element, "message", message);
                    if text.is_empty() {
                        write(Event::Empty(element));
                    } else {
                        write(Event::Start(element));
                        write(Event::Text(BytesText::new(&xml_chars(text))));
                        write(Event::End(BytesEnd::new(kind.element())));
                    }
                    write(Event::End(BytesEnd::new("testcase")));
                }
            }
        }
        write(Event::End(BytesEnd::new("testsuite")));
    }
    write(Event::End(BytesEnd::new("testsuites")));
    let mut xml = String::from_utf8(writer.into_inner()).unwrap_or_default();
    xml.push('\n');
    xml
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Failure,
    Error,
    Skipped,
}

impl Kind {
    fn element(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Error => "error",
            Self::Skipped => "skipped",
        }
    }
}

struct Case {
    classname: String,
    name: String,
    file: Option<String>,
    line: Option<u32>,
    time: f64,
    outcome: Option<(Kind, String, String)>,
}

struct Suite {
    cases: Vec<Case>,
}

impl Suite {
    fn count(&self, kind: Kind) -> usize {
        self.cases
            .iter()
            .filter(|c| c.outcome.as_ref().is_some_and(|(k, _, _)| *k == kind))
            .count()
    }
}

fn suite(result: &CheckResult) -> Suite {
    let mut cases: Vec<Case> = result.tests.iter().map(test_case).collect();
    let mut by_file: BTreeMap<Option<&str>, Vec<&Finding>> = BTreeMap::new();
    for finding in &result.findings {
        by_file
            .entry(finding.location.as_ref().map(|l| l.path.as_str()))
            .or_default()
            .push(finding);
    }
    for (file, findings) in &mut by_file {
        findings.sort_by_key(|f| f.location.as_ref().map(|l| (l.line, l.column)));
        let mut text = String::new();
        for finding in findings.iter() {
            let _ = writeln!(text, "{}", finding_line(finding, &result.name));
        }
        let noun = if findings.len() == 1 {
            "finding"
        } else {
            "findings"
        };
        cases.push(Case {
            classname: result.name.clone(),
            name: file.unwrap_or(&result.name).to_owned(),
            file: file.map(str::to_owned),
            line: None,
            time: 0.0,
            outcome: Some((
                Kind::Failure,
                format!("{} {noun}", findings.len()),
                text.trim_end().to_owned(),
            )),
        });
    }
    if cases.is_empty() {
        let outcome = match result.status {
            Status::Passed => None,
            Status::Skipped => Some((Kind::Skipped, "nothing to check".to_owned(), String::new())),
            Status::Failed => Some((Kind::Failure, exit_message(result), result.output.clone())),
            Status::Error => Some((
                Kind::Error,
                format!("the check could not run ({})", exit_message(result)),
                result.output.clone(),
            )),
        };
        cases.push(Case {
            classname: result.name.clone(),
            name: result.name.clone(),
            file: None,
            line: None,
            time: result.duration.as_secs_f64(),
            outcome,
        });
    }
    Suite { cases }
}

fn exit_message(result: &CheckResult) -> String {
    match result.exit_code {
        Some(code) => format!("exit code {code}"),
        None => "no exit code".to_owned(),
    }
}

fn test_case(case: &TestCase) -> Case {
    let outcome = match &case.outcome {
        TestOutcome::Passed => None,
        TestOutcome::Failed { message, details } => {
            Some((Kind::Failure, message.clone(), details.clone()))
        }
        TestOutcome::Error { message, details } => {
            Some((Kind::Error, message.clone(), details.clone()))
        }
        TestOutcome::Skipped { message } => Some((Kind::Skipped, message.clone(), String::new())),
    };
    Case {
        classname: case.classname.clone(),
        name: case.name.clone(),
        file: case.location.as_ref().map(|l| l.path.clone()),
        line: case.location.as_ref().and_then(|l| l.line),
        time: if case.time.is_finite() && case.time >= 0.0 {
            case.time
        } else {
            0.0
        },
        outcome,
    }
}

/// `path:line:col: RULE message` for a failure's text.
fn finding_line(finding: &Finding, check: &str) -> String {
    let mut text = String::new();
    if let Some(location) = &finding.location {
        text.push_str(&location.path);
        if let Some(line) = location.line {
            let _ = write!(text, ":{line}");
            if let Some(column) = location.column {
                let _ = write!(text, ":{column}");
            }
        }
        text.push_str(": ");
    }
    let _ = write!(
        text,
        "{} {}",
        super::rule_of(finding, check),
        finding.message.replace('\n', "\n    ")
    );
    text
}

fn seconds(value: f64) -> String {
    format!("{value:.3}")
}

/// Adds an attribute, escaped here so that line breaks and tabs survive as
/// character references (a parser would turn them into spaces).
fn attr(element: &mut BytesStart<'_>, key: &str, value: &str) {
    let mut escaped = String::with_capacity(value.len());
    for c in xml_chars(value).chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\n' => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' => escaped.push_str("&#9;"),
            c => escaped.push(c),
        }
    }
    element.push_attribute(Attribute {
        key: QName(key),
        value: Cow::Owned(escaped),
    });
}

/// `text` without the characters XML 1.0 cannot hold.
fn xml_chars(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}
