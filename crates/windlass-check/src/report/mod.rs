//! Reports of check results (placeholder signatures until the reports
//! land).

use crate::model::CheckResult;

pub fn annotations(_results: &[CheckResult]) -> Vec<windlass_output::github::Annotation> {
    Vec::new()
}

pub fn summary_markdown(_results: &[CheckResult]) -> String {
    String::new()
}

pub fn junit_xml(_results: &[CheckResult]) -> String {
    String::new()
}

pub fn sarif(_results: &[CheckResult]) -> serde_json::Value {
    serde_json::Value::Null
}
