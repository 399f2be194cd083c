//! The GitHub Actions step summary of `up`, `promote`, `rollback` and
//! `status`: a Markdown table appended to `$GITHUB_STEP_SUMMARY` (through
//! `windlass-output`, so through the redactor).

use std::fmt::Write as _;

use windlass_output::Printer;

use crate::commands::status::StatusReport;
use crate::promotion::{PromotionReport, Result_};

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown of a promotion.
pub fn promotion_markdown(report: &PromotionReport) -> String {
    let result = match report.result {
        Result_::Succeeded => "succeeded",
        Result_::Failed => "failed",
        Result_::DryRun => "dry run",
    };
    let mut md = String::from(
        "### windlass deploy\n\n| environment | bundle | chart | revision | result |\n|---|---|---|---|---|\n",
    );
    let _ = writeln!(
        md,
        "| {} | `{}` | {} {} | {} | {}{} |",
        cell(&report.environment),
        report.bundle.short(),
        cell(&report.content.chart.name),
        cell(&report.content.chart.version),
        report
            .revision
            .map_or_else(|| "-".to_owned(), |r| r.to_string()),
        result,
        report
            .reason
            .as_deref()
            .map_or_else(String::new, |r| format!(": {}", cell(r)))
    );
    if !report.gates.is_empty() {
        md.push_str("\n| gate | passed | detail |\n|---|---|---|\n");
        for gate in &report.gates {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                cell(&gate.gate),
                if gate.passed { "yes" } else { "no" },
                cell(&gate.detail)
            );
        }
    }
    md
}

/// The Markdown of `deploy status`.
pub fn status_markdown(report: &StatusReport) -> String {
    let mut md = String::from(
        "### windlass deploy status\n\n| environment | bundle | revision | since | state |\n|---|---|---|---|---|\n",
    );
    for env in &report.environments {
        let state = match (&env.unfinished, &env.drift) {
            (Some(u), _) => format!("unfinished promotion {}", u.promotion),
            (None, Some(drift)) => format!("drift: {}", cell(drift)),
            (None, None) => "ok".to_owned(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            cell(&env.environment),
            env.bundle
                .as_ref()
                .map_or_else(|| "-".to_owned(), |b| format!("`{}`", b.short())),
            env.revision
                .map_or_else(|| "-".to_owned(), |r| r.to_string()),
            env.since.as_deref().unwrap_or("-"),
            state
        );
    }
    md
}

fn append(printer: &Printer, markdown: &str) {
    if let Some(github) = printer.github()
        && let Err(error) = github.append_summary(markdown)
    {
        printer.warn(&format!("cannot write the step summary: {error}"));
    }
}

/// Appends a promotion's table to the step summary, in GitHub Actions.
pub fn promotion(printer: &Printer, report: &PromotionReport) {
    append(printer, &promotion_markdown(report));
}

/// Appends the status table to the step summary, in GitHub Actions.
pub fn status(printer: &Printer, report: &StatusReport) {
    append(printer, &status_markdown(report));
}

#[cfg(test)]
mod tests {
    use crate::commands::status::{EnvironmentStatus, StatusReport};

    #[test]
    fn status_table_escapes_cells() {
        let report = StatusReport {
            environments: vec![EnvironmentStatus {
                environment: "prod".to_owned(),
                namespace: "ml".to_owned(),
                release: "app".to_owned(),
                bundle: None,
                chart: None,
                since: None,
                revision: None,
                helm_revision: Some(2),
                helm_status: Some("deployed".to_owned()),
                unfinished: None,
                drift: Some("a | b".to_owned()),
            }],
        };
        insta::assert_snapshot!(super::status_markdown(&report), @r"
        ### windlass deploy status

        | environment | bundle | revision | since | state |
        |---|---|---|---|---|
        | prod | - | - | - | drift: a \| b |
        ");
    }
}
