//! What a check produced, in one shape: the parsers of the tools'
//! machine-readable output fill it, the reports (annotations, step summary,
//! JUnit XML, SARIF, `--json`) read it.
//!
//! Paths in a [`Location`] are relative to the project root, with `/`
//! separators, as GitHub annotations and SARIF `uriBaseId` expect.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Maps to GitHub's `error`/`warning`/`notice` and
/// SARIF's `error`/`warning`/`note`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// Where a finding is: a file relative to the project root, and optionally
/// a 1-based line and column range. The end column is the column just
/// after the last character (as in SARIF), so a one-character finding at
/// column 4 ends at column 5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Location {
    /// Relative to the project root, `/`-separated.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
}

/// One problem a tool reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Finding {
    /// The tool's rule or code (`F401`, `SC2086`, `arg-type`,
    /// `clippy::needless_return`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub severity: Severity,
    /// The tool's message, one or more lines, already redacted.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// A page that explains the rule, when the tool gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<String>,
}

/// How one test case ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum TestOutcome {
    Passed,
    /// An assertion failed.
    Failed {
        message: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        details: String,
    },
    /// The test could not run to its assertion (an exception in set-up,
    /// a collection error).
    Error {
        message: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        details: String,
    },
    Skipped {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
}

/// One test case, as a test runner's JUnit XML reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TestCase {
    /// The test's class or module (`tests.test_model`).
    pub classname: String,
    pub name: String,
    /// Where the test is defined, when the runner says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Seconds the test took.
    pub time: f64,
    #[serde(flatten)]
    pub outcome: TestOutcome,
}

/// How a whole check ended.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The tool ran and found nothing wrong.
    Passed,
    /// The tool ran and reported problems or failing tests (exit 1).
    Failed,
    /// The tool could not be installed or could not run (exit 3), or it
    /// crashed / printed output we could not read.
    Error,
    /// Nothing to check (no files for it, e.g. `--changed` left none).
    Skipped,
}

/// The result of one check: a tool run over its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CheckResult {
    /// The check's name (`ruff`, `ruff-format`, `mypy`, `pytest`,
    /// `clippy`, `shellcheck`, `helm-lint`, or a `[check.NAME]`).
    pub name: String,
    /// The tool that ran it (`ruff`, `mypy`, ...).
    pub tool: String,
    /// The tool's version, when known (for SARIF `driver.version` and the
    /// cache key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub status: Status,
    /// True when this result was reused from the cache: the tool did not run.
    pub cached: bool,
    /// Wall time of the run (the original run's time for a cached result).
    #[serde(with = "duration_secs")]
    #[schemars(with = "f64")]
    pub duration: Duration,
    /// The command line as shown to users (redacted; never holds a secret,
    /// those go in the environment).
    pub command: Vec<String>,
    /// The tool's exit code, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub tests: Vec<TestCase>,
    /// What the tool printed (stdout and stderr, redacted, bounded), shown
    /// when it failed and its findings do not say it all.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}
