//! Gates checked before and after an upgrade.

#![allow(
    clippy::unused_async,
    reason = "async like the implementation it stands in for"
)]

use crate::bundle::Bundle;
use crate::config::EnvironmentSpec;
use crate::kube::ledger::Entry;

/// One gate's result.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    pub detail: String,
}

/// What the gates before an upgrade look at.
#[derive(Debug)]
pub struct GateInput<'a> {
    pub environment: &'a str,
    pub spec: &'a EnvironmentSpec,
    pub bundle: &'a Bundle,
    pub ledger: &'a [Entry],
    pub from_ledger: &'a [Entry],
    pub env: &'a windlass_config::Environment,
}

/// What the checks after an upgrade need.
#[derive(Debug)]
pub struct VerifyInput<'a> {
    pub environment: &'a str,
    pub spec: &'a EnvironmentSpec,
    pub env: &'a windlass_config::Environment,
    pub project_dir: &'a std::path::Path,
}

pub async fn check_before(input: &GateInput<'_>) -> Vec<GateResult> {
    let mut results = Vec::new();
    if input.spec.gates.approval {
        let id = input.bundle.id();
        let approved = input.ledger.iter().find(|e| {
            e.bundle == id && matches!(e.event, crate::kube::ledger::Event::Approved { .. })
        });
        results.push(GateResult {
            gate: "approval".to_owned(),
            passed: approved.is_some(),
            detail: approved.map_or_else(
                || "not approved".to_owned(),
                |e| format!("approved by {}", e.actor),
            ),
        });
    }
    results
}

pub async fn verify_after(input: &VerifyInput<'_>) -> Vec<GateResult> {
    let _ = input;
    Vec::new()
}
