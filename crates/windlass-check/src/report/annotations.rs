//! GitHub annotations (`::error file=...,line=...,title=...::message`).

use windlass_output::github::{Annotation, Level};

use super::{TEST_FAILURE_RULE, clean_lines, test_id, test_problem};
use crate::model::{CheckResult, Severity, TestOutcome};

/// How many `error` annotations GitHub shows for one step; it drops the
/// rest (they still count for the job's limit).
pub const MAX_ERRORS_PER_STEP: usize = 10;
/// How many `warning` annotations GitHub shows for one step.
pub const MAX_WARNINGS_PER_STEP: usize = 10;
/// How many annotations GitHub shows for a whole job.
pub const MAX_PER_JOB: usize = 50;

/// One annotation per finding and per failed or erroring test: findings
/// with severity error and such tests are `::error`, warnings `::warning`,
/// notes `::notice`. The title is `CHECK: RULE` (the check alone for a
/// finding without a rule, `CHECK: test-failure` for tests, whose message
/// starts with the test's id); file, line,
/// column, end line and end column are set when known; a finding without a
/// file still gets an annotation, without a `file`.
///
/// GitHub shows at most [`MAX_ERRORS_PER_STEP`] errors and
/// [`MAX_WARNINGS_PER_STEP`] warnings per step and [`MAX_PER_JOB`]
/// annotations per job and silently drops the others, so the list is
/// ordered errors first, then warnings, then notices, each by file and
/// line (a finding without a file after those with one), stable
/// otherwise. All of them are returned: the step summary, JUnit and SARIF
/// carry the complete list.
pub fn annotations(results: &[CheckResult]) -> Vec<Annotation> {
    let mut out = Vec::new();
    for result in results {
        for finding in &result.findings {
            let level = match finding.severity {
                Severity::Error => Level::Error,
                Severity::Warning => Level::Warning,
                Severity::Note => Level::Notice,
            };
            let title = match &finding.rule {
                Some(rule) => format!("{}: {rule}", result.name),
                None => result.name.clone(),
            };
            let mut annotation = Annotation::new(level, clean_lines(&finding.message)).title(title);
            if let Some(location) = &finding.location {
                annotation.file = Some(location.path.clone());
                annotation.line = location.line;
                annotation.column = location.column;
                annotation.end_line = location.end_line;
                annotation.end_column = location.end_column;
            }
            out.push(annotation);
        }
        for case in &result.tests {
            let Some((message, details)) = test_problem(case) else {
                continue;
            };
            let verb = match case.outcome {
                TestOutcome::Error { .. } => "errored",
                _ => "failed",
            };
            let mut text = format!("{} {verb}", test_id(case));
            let reason = if message.is_empty() { details } else { message };
            if !reason.is_empty() {
                text.push_str(": ");
                text.push_str(reason);
            }
            let mut annotation = Annotation::error(clean_lines(&text))
                .title(format!("{}: {TEST_FAILURE_RULE}", result.name));
            if let Some(location) = &case.location {
                annotation.file = Some(location.path.clone());
                annotation.line = location.line;
                annotation.column = location.column;
            }
            out.push(annotation);
        }
    }
    out.sort_by(|a, b| {
        rank(a.level)
            .cmp(&rank(b.level))
            .then_with(|| a.file.is_none().cmp(&b.file.is_none()))
            .then_with(|| a.file.cmp(&b.file))
            .then_with(|| a.line.cmp(&b.line))
    });
    out
}

fn rank(level: Level) -> u8 {
    match level {
        Level::Error => 0,
        Level::Warning => 1,
        Level::Notice => 2,
    }
}
