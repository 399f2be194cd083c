//! What the checks found, for the places that show it: GitHub annotations
//! ([`annotations`]), the step summary ([`summary_markdown`]), one merged
//! JUnit XML file ([`junit_xml`]) and one SARIF 2.1.0 log
//! ([`sarif`]) as GitHub code scanning accepts it.
//!
//! Messages reach these functions redacted already. Each report still
//! makes them safe for where they go: control characters are escaped for
//! the log (annotations), Markdown's special characters for the summary,
//! characters XML cannot hold are removed from JUnit XML.
//!
//! This module formats; it never writes a file or a stream.

mod annotations;
mod junit;
mod sarif;
mod summary;

pub use annotations::{MAX_ERRORS_PER_STEP, MAX_PER_JOB, MAX_WARNINGS_PER_STEP, annotations};
pub use junit::junit_xml;
pub use sarif::{SARIF_SCHEMA, sarif};
pub use summary::{MAX_SUMMARY_BYTES, summary_markdown};

use crate::model::{Finding, TestCase, TestOutcome};

/// The rule of a failed test in annotations and SARIF.
pub const TEST_FAILURE_RULE: &str = "test-failure";

/// `text` with control characters other than line breaks and tabs escaped
/// (an escape sequence cannot steer a terminal or a log), line by line.
pub(crate) fn clean_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            windlass_redact::escape_controls(line).into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A failed or erroring test's message and details, `None` for others.
pub(crate) fn test_problem(case: &TestCase) -> Option<(&str, &str)> {
    match &case.outcome {
        TestOutcome::Failed { message, details } | TestOutcome::Error { message, details } => {
            Some((message, details))
        }
        TestOutcome::Passed | TestOutcome::Skipped { .. } => None,
    }
}

/// A test's display id: `classname::name`, or the name alone.
pub(crate) fn test_id(case: &TestCase) -> String {
    if case.classname.is_empty() {
        case.name.clone()
    } else {
        format!("{}::{}", case.classname, case.name)
    }
}

/// A finding's rule, or the check's name when the tool gives none.
pub(crate) fn rule_of<'a>(finding: &'a Finding, check: &'a str) -> &'a str {
    finding.rule.as_deref().unwrap_or(check)
}

#[cfg(test)]
mod tests;
