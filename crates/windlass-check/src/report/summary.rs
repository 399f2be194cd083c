//! The step summary (`$GITHUB_STEP_SUMMARY`): a Markdown table and the
//! first problems of each failed check.

use std::fmt::Write as _;

use super::{TEST_FAILURE_RULE, rule_of, test_id, test_problem};
use crate::model::{CheckResult, Location, Severity, Status, TestOutcome};

/// The most a summary holds. GitHub accepts 1 MiB per step; some room is
/// left for what else the step appends.
pub const MAX_SUMMARY_BYTES: usize = 1024 * 1024 - 16 * 1024;

/// How many problems of each failed check the summary lists.
const PROBLEMS_PER_CHECK: usize = 10;

/// The longest message line kept in the list, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// The step summary: a table with one row per check (status as a word,
/// findings, tests passed/failed/skipped, time, whether the result came
/// from the cache), then the first problems of each failed check. Text
/// from the tools has Markdown's special characters escaped (`|`,
/// backticks, `<`, ...) and is cut to one line. The whole stays under
/// [`MAX_SUMMARY_BYTES`]; what does not fit is counted in a closing line.
pub fn summary_markdown(results: &[CheckResult]) -> String {
    let mut out = String::from("## windlass check\n\n");
    let failed = results
        .iter()
        .filter(|r| matches!(r.status, Status::Failed | Status::Error))
        .count();
    let _ = writeln!(
        out,
        "{} checks, {} passed, {failed} failed\n",
        results.len(),
        results
            .iter()
            .filter(|r| r.status == Status::Passed)
            .count()
    );
    out.push_str("| Check | Status | Findings | Tests passed | Tests failed | Tests skipped | Time | Cached |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    let mut left_out = 0usize;
    let footer_room = 200;
    for result in results {
        let (passed, failed, skipped) = counts(result);
        let tests = |n: usize| {
            if result.tests.is_empty() {
                "-".to_owned()
            } else {
                n.to_string()
            }
        };
        let row = format!(
            "| {} | {} | {} | {} | {} | {} | {:.2} s | {} |\n",
            escape(&result.name),
            status_word(result.status),
            result.findings.len(),
            tests(passed),
            tests(failed),
            tests(skipped),
            result.duration.as_secs_f64(),
            if result.cached { "yes" } else { "no" },
        );
        if out.len() + row.len() + footer_room > MAX_SUMMARY_BYTES {
            left_out += 1;
            continue;
        }
        out.push_str(&row);
    }
    let mut heading = false;
    for result in results {
        if !matches!(result.status, Status::Failed | Status::Error) {
            continue;
        }
        let problems = problems(result);
        let mut block = format!(
            "\n**{}** ({}):\n\n",
            escape(&result.name),
            status_word(result.status)
        );
        for problem in problems.iter().take(PROBLEMS_PER_CHECK) {
            block.push_str(problem);
        }
        if problems.len() > PROBLEMS_PER_CHECK {
            let _ = writeln!(block, "- and {} more", problems.len() - PROBLEMS_PER_CHECK);
        }
        if problems.is_empty() {
            let first = first_line(&result.output);
            if first.is_empty() {
                block.push_str("- the tool reported no details\n");
            } else {
                let _ = writeln!(block, "- {}", escape(&first));
            }
        }
        let heading_text = if heading { "" } else { "\n### Problems\n" };
        if out.len() + heading_text.len() + block.len() + footer_room > MAX_SUMMARY_BYTES {
            left_out += problems.len().max(1);
            continue;
        }
        out.push_str(heading_text);
        heading = true;
        out.push_str(&block);
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n{left_out} rows or problems left out: the summary is limited to {MAX_SUMMARY_BYTES} bytes (the JUnit and SARIF files have everything)."
        );
    }
    out
}

/// Passed, failed (errors included) and skipped tests.
fn counts(result: &CheckResult) -> (usize, usize, usize) {
    let mut counts = (0, 0, 0);
    for case in &result.tests {
        match case.outcome {
            TestOutcome::Passed => counts.0 += 1,
            TestOutcome::Failed { .. } | TestOutcome::Error { .. } => counts.1 += 1,
            TestOutcome::Skipped { .. } => counts.2 += 1,
        }
    }
    counts
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Error => "error",
        Status::Skipped => "skipped",
    }
}

/// One list item per finding and per failed test: errors (failed tests
/// among them) first, then warnings, then notes, each in the tool's order.
fn problems(result: &CheckResult) -> Vec<String> {
    let mut out: Vec<(Severity, String)> = Vec::new();
    for finding in &result.findings {
        out.push((
            finding.severity,
            format!(
                "- {}`{}`: {}\n",
                place(finding.location.as_ref()),
                code(rule_of(finding, &result.name)),
                escape(&first_line(&finding.message)),
            ),
        ));
    }
    for case in &result.tests {
        if let Some((message, details)) = test_problem(case) {
            let reason = if message.is_empty() { details } else { message };
            out.push((
                Severity::Error,
                format!(
                    "- {}`{TEST_FAILURE_RULE}` {}: {}\n",
                    place(case.location.as_ref()),
                    escape(&test_id(case)),
                    escape(&first_line(reason)),
                ),
            ));
        }
    }
    // Severity orders Error < Warning < Note; the sort is stable.
    out.sort_by_key(|(severity, _)| *severity);
    out.into_iter().map(|(_, line)| line).collect()
}

/// `path:line:col ` as code, or nothing.
fn place(location: Option<&Location>) -> String {
    let Some(location) = location else {
        return String::new();
    };
    let mut text = location.path.clone();
    if let Some(line) = location.line {
        let _ = write!(text, ":{line}");
        if let Some(column) = location.column {
            let _ = write!(text, ":{column}");
        }
    }
    format!("`{}` ", code(&text))
}

/// The first non-empty line, cut to [`MAX_MESSAGE_CHARS`], control
/// characters escaped.
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let mut line: String = windlass_redact::escape_controls(line).into_owned();
    if line.chars().count() > MAX_MESSAGE_CHARS {
        line = line.chars().take(MAX_MESSAGE_CHARS).collect();
        line.push('…');
    }
    line
}

/// Text for inside a code span in a table-free list: backticks cannot be
/// escaped there, so they become `'`; `|` and line breaks are removed.
fn code(text: &str) -> String {
    text.replace('`', "'")
        .replace(['\n', '\r'], " ")
        .replace('|', "\\|")
}

/// Markdown text: the characters that would start markup, a table cell or
/// an HTML tag are escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}
