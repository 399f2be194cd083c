//! `helm lint`'s text output.

use crate::model::{Finding, Location, Severity};

/// Findings from `helm lint CHART`: each `[LEVEL] PATH: message` line
/// (`INFO` becomes a note). `chart_dir` is the chart's directory relative
/// to the project root, `/`-separated (`""` for the root itself): the
/// paths helm prints are relative to it. A template error's
/// `(CHART/templates/FILE:LINE)` gives the file and line. Other lines are
/// ignored: helm's text output has no structure to be wrong about.
pub fn helm_lint(output: &[u8], chart_dir: &str) -> Vec<Finding> {
    let output = super::text(output);
    let chart_dir = chart_dir.trim_end_matches('/');
    let join = |path: &str| {
        let path = path.trim_start_matches("./").trim_end_matches('/');
        match (chart_dir.is_empty(), path.is_empty()) {
            (true, _) => path.to_owned(),
            (false, true) => chart_dir.to_owned(),
            (false, false) => format!("{chart_dir}/{path}"),
        }
    };
    let mut findings = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        let Some((level, rest)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) else {
            continue;
        };
        let severity = match level {
            "ERROR" => Severity::Error,
            "WARNING" => Severity::Warning,
            "INFO" => Severity::Note,
            _ => continue,
        };
        let (path, message) = rest.split_once(": ").unwrap_or(("", rest));
        let mut location = Location {
            path: join(path),
            line: None,
            column: None,
            end_line: None,
            end_column: None,
        };
        if let Some((file, line_no)) = template_place(message) {
            location.path = join(file);
            location.line = Some(line_no);
        }
        let location = (!location.path.is_empty()).then_some(location);
        findings.push(Finding {
            rule: None,
            severity,
            message: message.to_owned(),
            location,
            help_uri: None,
        });
    }
    findings
}

/// `(CHART/templates/FILE:LINE)` in a template error: the path below the
/// chart (without the chart's name) and the line.
fn template_place(message: &str) -> Option<(&str, u32)> {
    let start = message.find('(')?;
    let inner = &message[start + 1..];
    let inner = &inner[..inner.find(')')?];
    let (path, line) = inner.rsplit_once(':')?;
    let line: u32 = line
        .parse()
        .ok()
        .filter(|l| *l > 0 && u64::from(*l) <= super::MAX_POSITION)?;
    let (_, below_chart) = path.split_once('/')?;
    below_chart.contains('.').then_some((below_chart, line))
}
