//! shellcheck (`-f json1`).

use std::path::Path;

use serde::Deserialize;

use super::{ParseError, position, relative_path};
use crate::model::{Finding, Location, Severity};

#[derive(Deserialize)]
struct Report {
    comments: Vec<Comment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    file: String,
    line: i64,
    end_line: Option<i64>,
    column: Option<i64>,
    end_column: Option<i64>,
    level: String,
    code: i64,
    message: String,
}

/// Findings from `shellcheck -f json1` (`{"comments": [...]}`); levels
/// `error` and `warning` keep their name, `info` and `style` become notes.
/// Rules are named `SC` and the code.
pub fn shellcheck(output: &[u8], root: &Path) -> Result<Vec<Finding>, ParseError> {
    const TOOL: &str = "shellcheck";
    let report: Report = serde_json::from_slice(output)
        .map_err(|e| ParseError::new(TOOL, format!("not the JSON object of `-f json1`: {e}")))?;
    report
        .comments
        .into_iter()
        .map(|c| {
            let severity = match c.level.as_str() {
                "error" => Severity::Error,
                "warning" => Severity::Warning,
                _ => Severity::Note,
            };
            let rule = format!("SC{}", c.code);
            Ok(Finding {
                help_uri: Some(format!("https://www.shellcheck.net/wiki/{rule}")),
                rule: Some(rule),
                severity,
                message: c.message,
                location: Some(Location {
                    path: relative_path(&c.file, root),
                    line: position(TOOL, "line", c.line)?,
                    column: position(TOOL, "column", c.column.unwrap_or(0))?,
                    end_line: position(TOOL, "end line", c.end_line.unwrap_or(0))?,
                    end_column: position(TOOL, "end column", c.end_column.unwrap_or(0))?,
                }),
            })
        })
        .collect()
}
