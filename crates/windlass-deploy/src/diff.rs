//! What differs between two bundles.

use crate::bundle::Bundle;

/// A change.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Change {
    pub path: String,
    pub from: Option<serde_json::Value>,
    pub to: Option<serde_json::Value>,
}

/// Two bundles compared.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct BundleDiff {
    pub changes: Vec<Change>,
}

impl BundleDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl std::fmt::Display for BundleDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for change in &self.changes {
            writeln!(f, "{}", change.path)?;
        }
        Ok(())
    }
}

pub fn diff(from: &Bundle, to: &Bundle) -> BundleDiff {
    let mut changes = Vec::new();
    if from.chart != to.chart {
        changes.push(Change {
            path: "chart".to_owned(),
            from: serde_json::to_value(&from.chart).ok(),
            to: serde_json::to_value(&to.chart).ok(),
        });
    }
    BundleDiff { changes }
}
