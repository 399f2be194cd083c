//! ruff (`check --output-format json`, `format --check`) and mypy
//! (`-O json`).

use std::path::Path;

use serde::Deserialize;

use super::{ParseError, position, relative_path, text};
use crate::model::{Finding, Location, Severity};

#[derive(Deserialize)]
struct RuffDiagnostic {
    code: Option<String>,
    message: String,
    filename: Option<String>,
    location: Option<RuffPosition>,
    end_location: Option<RuffPosition>,
    url: Option<String>,
    severity: Option<String>,
}

#[derive(Deserialize)]
struct RuffPosition {
    row: i64,
    column: i64,
}

/// Findings from `ruff check --output-format json` (a JSON array; ruff's
/// columns are 1-based and its end column is exclusive already).
pub fn ruff_check(output: &[u8], root: &Path) -> Result<Vec<Finding>, ParseError> {
    const TOOL: &str = "ruff";
    let diagnostics: Vec<RuffDiagnostic> = serde_json::from_slice(output).map_err(|e| {
        ParseError::new(
            TOOL,
            format!("not the JSON array of `--output-format json`: {e}"),
        )
    })?;
    let mut findings = Vec::with_capacity(diagnostics.len());
    for d in diagnostics {
        let location = match d.filename {
            Some(file) => {
                let start = d.location.as_ref();
                let end = d.end_location.as_ref();
                let at = |p: Option<&RuffPosition>, row: bool, what| {
                    p.map_or(Ok(None), |p| {
                        position(TOOL, what, if row { p.row } else { p.column })
                    })
                };
                Some(Location {
                    path: relative_path(&file, root),
                    line: at(start, true, "line")?,
                    column: at(start, false, "column")?,
                    end_line: at(end, true, "end line")?,
                    end_column: at(end, false, "end column")?,
                })
            }
            None => None,
        };
        let severity = match d.severity.as_deref() {
            Some("warning") => Severity::Warning,
            Some("info" | "note") => Severity::Note,
            _ => Severity::Error,
        };
        findings.push(Finding {
            // A syntax error has no code.
            rule: Some(d.code.unwrap_or_else(|| "syntax-error".to_owned())),
            severity,
            message: d.message,
            location,
            help_uri: d.url,
        });
    }
    Ok(findings)
}

/// Findings from `ruff format --check`: one per file that would be
/// reformatted (rule `unformatted`), at the first place that would change
/// when ruff says. Reads both ruff's current form
/// (`unformatted: File would be reformatted` then `--> PATH:LINE:COL`) and
/// the older `Would reformat: PATH`.
pub fn ruff_format(output: &[u8], root: &Path) -> Result<Vec<Finding>, ParseError> {
    const TOOL: &str = "ruff format";
    let output = text(output);
    let mut findings = Vec::new();
    let mut pending = false;
    for line in output.lines() {
        if let Some(path) = line.strip_prefix("Would reformat: ") {
            findings.push(unformatted(relative_path(path.trim(), root), None, None));
            continue;
        }
        if line.starts_with("unformatted:") {
            pending = true;
            continue;
        }
        let Some(place) = line.trim_start().strip_prefix("--> ") else {
            continue;
        };
        if !pending {
            continue;
        }
        pending = false;
        // PATH:LINE:COL, where PATH may hold colons itself.
        let mut parts = place.trim_end().rsplitn(3, ':');
        let (column, line_no, path) = (parts.next(), parts.next(), parts.next());
        let (Some(column), Some(line_no), Some(path)) = (column, line_no, path) else {
            return Err(ParseError::new(
                TOOL,
                format!("`{place}` is not PATH:LINE:COLUMN"),
            ));
        };
        let number = |what: &str, value: &str| {
            value
                .parse::<i64>()
                .map_err(|_| ParseError::new(TOOL, format!("{what} `{value}` is not a number")))
                .and_then(|v| position(TOOL, what, v))
        };
        findings.push(unformatted(
            relative_path(path, root),
            number("line", line_no)?,
            number("column", column)?,
        ));
    }
    if pending {
        return Err(ParseError::new(
            TOOL,
            "a file to reformat without its path (truncated output?)",
        ));
    }
    Ok(findings)
}

fn unformatted(path: String, line: Option<u32>, column: Option<u32>) -> Finding {
    Finding {
        rule: Some("unformatted".to_owned()),
        severity: Severity::Error,
        message: "File would be reformatted (run `ruff format`)".to_owned(),
        location: Some(Location {
            path,
            line,
            column,
            end_line: None,
            end_column: None,
        }),
        help_uri: Some("https://docs.astral.sh/ruff/formatter/".to_owned()),
    }
}

#[derive(Deserialize)]
struct MypyMessage {
    file: Option<String>,
    line: Option<i64>,
    column: Option<i64>,
    end_line: Option<i64>,
    end_column: Option<i64>,
    message: String,
    hint: Option<String>,
    code: Option<String>,
    severity: String,
}

/// Findings from `mypy -O json`: one JSON object per line. mypy's columns
/// are 0-based (its end column exclusive): they are shifted to 1-based.
/// Non-JSON lines (mypy's summary when printed) are skipped; a line that
/// starts a JSON object but is not one is an error.
pub fn mypy(output: &[u8], root: &Path) -> Result<Vec<Finding>, ParseError> {
    const TOOL: &str = "mypy";
    let output = text(output);
    let mut findings = Vec::new();
    for (n, line) in output.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let m: MypyMessage = serde_json::from_str(line).map_err(|e| {
            ParseError::new(TOOL, format!("line {}: not a JSON message: {e}", n + 1))
        })?;
        let column = |value: Option<i64>, what| match value {
            Some(v) if v >= 0 => position(TOOL, what, v + 1),
            _ => Ok(None),
        };
        let location = match m.file {
            Some(file) => Some(Location {
                path: relative_path(&file, root),
                line: position(TOOL, "line", m.line.unwrap_or(0))?,
                column: column(m.column, "column")?,
                end_line: position(TOOL, "end line", m.end_line.unwrap_or(0))?,
                end_column: column(m.end_column, "end column")?,
            }),
            None => None,
        };
        let severity = match m.severity.as_str() {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            _ => Severity::Note,
        };
        let mut message = m.message;
        if let Some(hint) = m.hint.filter(|h| !h.is_empty()) {
            message.push('\n');
            message.push_str(&hint);
        }
        let help_uri = m
            .code
            .as_ref()
            .map(|code| format!("https://mypy.readthedocs.io/en/stable/_refs.html#code-{code}"));
        findings.push(Finding {
            rule: m.code,
            severity,
            message,
            location,
            help_uri,
        });
    }
    Ok(findings)
}
