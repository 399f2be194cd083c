//! SARIF 2.1.0, as GitHub code scanning accepts it.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{TEST_FAILURE_RULE, clean_lines, rule_of, test_id, test_problem};
use crate::model::{CheckResult, Location, Severity, Status};

/// The `$schema` of the log: OASIS's SARIF 2.1.0 schema (errata 01).
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The `uriBaseId` every artifact location is relative to: the project
/// root, which GitHub takes to be the checkout.
const SRCROOT: &str = "%SRCROOT%";

/// The key of our entry in `partialFingerprints`.
const FINGERPRINT_KEY: &str = "windlassFingerprint/v1";

/// The SARIF 2.1.0 log of the checks: one run per tool (`ruff check` and
/// `ruff format` share the `ruff` run), `tool.driver` with the name,
/// version, information URI and the rules the results use (`helpUri`
/// when known), and a result per finding and per failed or erroring test
/// (rule `test-failure`) with `ruleId`, `ruleIndex`, `level`,
/// `message.text`, one location (`uri` relative to `%SRCROOT%`, a region
/// starting at line 1 or later) and a `partialFingerprints` entry: a hash
/// of the rule, the path and the message, so that a re-run matches the
/// same alerts even when lines move.
///
/// GitHub code scanning rejects a result without a location, so findings
/// and failed tests without a file are not results: they are the run's
/// `toolExecutionNotifications`. Checks that are skipped add nothing.
pub fn sarif(results: &[CheckResult]) -> Value {
    let mut tools: Vec<&str> = Vec::new();
    for result in results {
        if result.status != Status::Skipped && !tools.contains(&result.tool.as_str()) {
            tools.push(&result.tool);
        }
    }
    let runs: Vec<Value> = tools
        .iter()
        .map(|tool| {
            let checks: Vec<&CheckResult> = results
                .iter()
                .filter(|r| r.tool == *tool && r.status != Status::Skipped)
                .collect();
            run(tool, &checks)
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": runs,
    })
}

struct Rules {
    ids: Vec<String>,
    entries: Vec<Value>,
}

impl Rules {
    /// The index of `id`, adding it on first use.
    fn index(&mut self, id: &str, help_uri: Option<&str>, description: Option<&str>) -> usize {
        if let Some(i) = self.ids.iter().position(|known| known == id) {
            if let (Some(uri), Some(entry)) = (help_uri, self.entries.get_mut(i))
                && entry.get("helpUri").is_none()
            {
                entry["helpUri"] = json!(uri);
            }
            return i;
        }
        let mut entry = Map::new();
        entry.insert("id".to_owned(), json!(id));
        if let Some(uri) = help_uri {
            entry.insert("helpUri".to_owned(), json!(uri));
        }
        if let Some(text) = description {
            entry.insert("shortDescription".to_owned(), json!({ "text": text }));
        }
        self.ids.push(id.to_owned());
        self.entries.push(Value::Object(entry));
        self.ids.len() - 1
    }
}

fn run(tool: &str, checks: &[&CheckResult]) -> Value {
    let mut rules = Rules {
        ids: Vec::new(),
        entries: Vec::new(),
    };
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for check in checks {
        for finding in &check.findings {
            let rule = rule_of(finding, &check.name);
            let message = message_text(&finding.message);
            let level = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Note => "note",
            };
            match finding.location.as_ref().filter(|l| !l.path.is_empty()) {
                Some(location) => {
                    let index = rules.index(rule, finding.help_uri.as_deref(), None);
                    results.push(result(rule, index, level, &message, location));
                }
                None => notifications.push(notification(rule, level, &message)),
            }
        }
        for case in &check.tests {
            let Some((message, details)) = test_problem(case) else {
                continue;
            };
            let reason = if message.is_empty() { details } else { message };
            let text = message_text(&format!("{} failed: {reason}", test_id(case)));
            match case.location.as_ref().filter(|l| !l.path.is_empty()) {
                Some(location) => {
                    let index = rules.index(
                        TEST_FAILURE_RULE,
                        None,
                        Some("A test failed or could not run"),
                    );
                    results.push(result(TEST_FAILURE_RULE, index, "error", &text, location));
                }
                None => notifications.push(notification(TEST_FAILURE_RULE, "error", &text)),
            }
        }
    }
    let mut driver = Map::new();
    driver.insert("name".to_owned(), json!(tool));
    if let Some(version) = checks.iter().find_map(|c| c.version.as_deref()) {
        driver.insert("version".to_owned(), json!(version));
    }
    if let Some(uri) = information_uri(tool) {
        driver.insert("informationUri".to_owned(), json!(uri));
    }
    driver.insert("rules".to_owned(), Value::Array(rules.entries));

    let successful = checks.iter().all(|c| c.status != Status::Error);
    let mut invocation = json!({ "executionSuccessful": successful });
    if let [check] = checks
        && let Some(code) = check.exit_code
    {
        invocation["exitCode"] = json!(code);
    }
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    json!({
        "tool": { "driver": driver },
        "invocations": [invocation],
        "originalUriBaseIds": {
            SRCROOT: { "description": { "text": "The root of the checked project" } }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    })
}

fn result(rule: &str, index: usize, level: &str, message: &str, location: &Location) -> Value {
    json!({
        "ruleId": rule,
        "ruleIndex": index,
        "level": level,
        "message": { "text": message },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&location.path), "uriBaseId": SRCROOT },
                "region": region(location),
            }
        }],
        "partialFingerprints": { FINGERPRINT_KEY: fingerprint(rule, &location.path, message) },
    })
}

fn notification(rule: &str, level: &str, message: &str) -> Value {
    json!({
        "level": level,
        "message": { "text": message },
        "associatedRule": { "id": rule },
    })
}

/// A region: the start line (1 when the tool gave none, as GitHub needs
/// one), and the columns and end when they make sense.
fn region(location: &Location) -> Value {
    let start_line = location.line.unwrap_or(1).max(1);
    let mut region = Map::new();
    region.insert("startLine".to_owned(), json!(start_line));
    if location.line.is_none() {
        return Value::Object(region);
    }
    if let Some(column) = location.column.filter(|c| *c >= 1) {
        region.insert("startColumn".to_owned(), json!(column));
    }
    if let Some(end_line) = location.end_line.filter(|e| *e >= start_line) {
        region.insert("endLine".to_owned(), json!(end_line));
        let same_line = end_line == start_line;
        if let Some(end_column) = location
            .end_column
            .filter(|e| *e >= 1 && (!same_line || location.column.is_none_or(|start| *e >= start)))
        {
            region.insert("endColumn".to_owned(), json!(end_column));
        }
    }
    Value::Object(region)
}

/// A relative URI reference for a `/`-separated path: characters that are
/// not allowed unencoded in a URI are percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    // A first segment with a colon would read as a scheme.
    if out
        .split('/')
        .next()
        .is_some_and(|first| first.contains(':'))
    {
        out.insert_str(0, "./");
    }
    out
}

/// A message for SARIF: control characters escaped; never empty (SARIF
/// requires text).
fn message_text(message: &str) -> String {
    let text = clean_lines(message.trim());
    if text.is_empty() {
        "(no message)".to_owned()
    } else {
        text
    }
}

/// A stable hash of what identifies a result across runs.
fn fingerprint(rule: &str, path: &str, message: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [rule, path, message] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

fn information_uri(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "ruff" => "https://docs.astral.sh/ruff/",
        "mypy" => "https://mypy-lang.org/",
        "pytest" => "https://docs.pytest.org/",
        "shellcheck" => "https://www.shellcheck.net/",
        "clippy" => "https://doc.rust-lang.org/clippy/",
        "cargo" | "rustfmt" => "https://doc.rust-lang.org/cargo/",
        "helm" => "https://helm.sh/docs/helm/helm_lint/",
        _ => return None,
    })
}
