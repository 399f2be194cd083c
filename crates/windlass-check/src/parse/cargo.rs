//! cargo (`clippy`/`check --message-format json`) and libtest (`cargo
//! test`'s text output).

use std::path::Path;

use serde::Deserialize;

use super::{ParseError, position, relative_path, text};
use crate::model::{Finding, Location, Severity, TestCase, TestOutcome};

#[derive(Deserialize)]
struct CargoMessage {
    reason: String,
    message: Option<CompilerMessage>,
}

#[derive(Deserialize)]
struct CompilerMessage {
    message: String,
    level: String,
    code: Option<Code>,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
    line_start: i64,
    line_end: i64,
    column_start: i64,
    column_end: i64,
    is_primary: bool,
    label: Option<String>,
}

/// Findings from `cargo clippy`/`cargo check --message-format json` (one
/// JSON object per line): each compiler message at its primary span, with
/// the span's label appended. rustc's closing tallies ("aborting due to",
/// "N warnings emitted") are left out, and so are duplicates (cargo repeats
/// a warning for each target that compiles the file). Span paths are
/// relative to the workspace root, which should be `root`.
pub fn cargo_messages(output: &[u8], root: &Path) -> Result<Vec<Finding>, ParseError> {
    const TOOL: &str = "cargo";
    let output = text(output);
    let mut findings: Vec<Finding> = Vec::new();
    for (n, line) in output.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let message: CargoMessage = serde_json::from_str(line).map_err(|e| {
            ParseError::new(TOOL, format!("line {}: not a JSON message: {e}", n + 1))
        })?;
        if message.reason != "compiler-message" {
            continue;
        }
        let Some(m) = message.message else {
            return Err(ParseError::new(
                TOOL,
                format!("line {}: a compiler message without `message`", n + 1),
            ));
        };
        let severity = match m.level.as_str() {
            "error" | "error: internal compiler error" => Severity::Error,
            "warning" => Severity::Warning,
            _ => Severity::Note,
        };
        if m.spans.is_empty() && m.code.is_none() && is_tally(&m.message) {
            continue;
        }
        let primary = m.spans.iter().find(|s| s.is_primary);
        let location = match primary {
            Some(s) => Some(Location {
                path: relative_path(&s.file_name, root),
                line: position(TOOL, "line", s.line_start)?,
                column: position(TOOL, "column", s.column_start)?,
                end_line: position(TOOL, "end line", s.line_end)?,
                end_column: position(TOOL, "end column", s.column_end)?,
            }),
            None => None,
        };
        let mut text = m.message;
        if let Some(label) = primary
            .and_then(|s| s.label.as_deref())
            .filter(|l| !l.is_empty())
        {
            text.push_str(": ");
            text.push_str(label);
        }
        let rule = m.code.map(|c| c.code);
        let help_uri = rule.as_deref().and_then(help_uri);
        let finding = Finding {
            rule,
            severity,
            message: text,
            location,
            help_uri,
        };
        if !findings.contains(&finding) {
            findings.push(finding);
        }
    }
    Ok(findings)
}

fn is_tally(message: &str) -> bool {
    message.starts_with("aborting due to")
        || message.ends_with("warning emitted")
        || message.ends_with("warnings emitted")
        || message.ends_with("errors emitted")
}

fn help_uri(code: &str) -> Option<String> {
    if let Some(lint) = code.strip_prefix("clippy::") {
        return Some(format!(
            "https://rust-lang.github.io/rust-clippy/master/index.html#{lint}"
        ));
    }
    let is_error_code =
        code.len() == 5 && code.starts_with('E') && code[1..].bytes().all(|b| b.is_ascii_digit());
    is_error_code.then(|| format!("https://doc.rust-lang.org/error_codes/{code}.html"))
}

/// Test cases from `cargo test`'s text output (libtest's pretty format,
/// one `test NAME ... RESULT` line per test; with `--quiet` only the failed
/// tests are named, so only they are returned). The class name is the
/// test's module path (`tests`), the name its last segment; a failure's
/// message is the panic message and its location the panic's
/// `FILE:LINE:COL`, relative to the package that ran the test. Output in
/// another format gives no test cases.
pub fn libtest(stdout: &[u8]) -> Vec<TestCase> {
    let output = text(stdout);
    let mut cases: Vec<TestCase> = Vec::new();
    let mut section: Option<(String, Vec<&str>)> = None;
    let mut details: Vec<(String, Vec<&str>)> = Vec::new();
    let mut failures_list = false;
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("test ")
            && let Some((name, result)) = rest.split_once(" ... ")
        {
            failures_list = false;
            let outcome = match result.trim() {
                "ok" => TestOutcome::Passed,
                "FAILED" => failed(String::new()),
                r if r.starts_with("ignored") => TestOutcome::Skipped {
                    message: r.strip_prefix("ignored, ").unwrap_or_default().to_owned(),
                },
                _ => continue,
            };
            cases.push(case(name.trim(), outcome));
            continue;
        }
        if let Some(name) = line.strip_suffix(" --- FAILED") {
            push_failed(&mut cases, name.trim());
            continue;
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            if let Some(done) = section.take() {
                details.push(done);
            }
            section = Some((name.trim().to_owned(), Vec::new()));
            continue;
        }
        if line == "failures:" {
            if let Some(done) = section.take() {
                details.push(done);
            }
            failures_list = true;
            continue;
        }
        if let Some((_, lines)) = section.as_mut() {
            lines.push(line);
            continue;
        }
        if failures_list {
            if let Some(name) = line.strip_prefix("    ") {
                push_failed(&mut cases, name.trim());
            } else if !line.is_empty() {
                failures_list = false;
            }
        }
    }
    if let Some(done) = section.take() {
        details.push(done);
    }
    for (name, lines) in details {
        let Some(case) = cases
            .iter_mut()
            .find(|c| full_name(c) == name && matches!(c.outcome, TestOutcome::Failed { .. }))
        else {
            continue;
        };
        let body = lines.join("\n").trim().to_owned();
        let (message, location) = panic_message(&lines);
        case.location = location;
        case.outcome = TestOutcome::Failed {
            message,
            details: body,
        };
    }
    cases
}

fn failed(message: String) -> TestOutcome {
    TestOutcome::Failed {
        message,
        details: String::new(),
    }
}

fn push_failed(cases: &mut Vec<TestCase>, name: &str) {
    if name.is_empty() || cases.iter().any(|c| full_name(c) == name) {
        return;
    }
    cases.push(case(name, failed(String::new())));
}

fn case(full: &str, outcome: TestOutcome) -> TestCase {
    let (classname, name) = match full.rsplit_once("::") {
        Some((module, name)) => (module.to_owned(), name.to_owned()),
        None => (String::new(), full.to_owned()),
    };
    TestCase {
        classname,
        name,
        location: None,
        time: 0.0,
        outcome,
    }
}

fn full_name(case: &TestCase) -> String {
    if case.classname.is_empty() {
        case.name.clone()
    } else {
        format!("{}::{}", case.classname, case.name)
    }
}

/// The panic message (the lines after `thread '...' panicked at
/// FILE:LINE:COL:` up to the `note:`) and the panic's place.
fn panic_message(lines: &[&str]) -> (String, Option<Location>) {
    let Some(start) = lines.iter().position(|l| l.contains("' panicked at ")) else {
        return ("test failed".to_owned(), None);
    };
    let place = lines[start]
        .split_once("' panicked at ")
        .map(|(_, p)| p.trim_end_matches(':'))
        .unwrap_or_default();
    let message: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("note: ") && !l.starts_with("stack backtrace:"))
        .copied()
        .collect();
    let message = message.join("\n").trim().to_owned();
    let mut parts = place.rsplitn(3, ':');
    let location = match (parts.next(), parts.next(), parts.next()) {
        (Some(column), Some(line), Some(path)) => Some(Location {
            path: path.replace('\\', "/"),
            line: line
                .parse()
                .ok()
                .filter(|l| *l > 0 && u64::from(*l) <= super::MAX_POSITION),
            column: column
                .parse()
                .ok()
                .filter(|c| *c > 0 && u64::from(*c) <= super::MAX_POSITION),
            end_line: None,
            end_column: None,
        }),
        _ => None,
    };
    let message = if message.is_empty() {
        "test panicked".to_owned()
    } else {
        message
    };
    (message, location)
}
