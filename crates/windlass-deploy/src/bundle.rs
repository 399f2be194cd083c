//! A bundle: exactly what gets promoted. The chart (name, version, digest
//! of its archive), every image by digest, the application values (never
//! an environment's own, never a secret) and the source commit.
//!
//! Its id is the sha256 of its canonical JSON (keys sorted, no spaces), so
//! two bundles with the same content have the same id wherever they were
//! made. `deploy promote FROM TO` deploys the bundle recorded in FROM's
//! ledger, never a rebuilt or re-resolved one.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// What gets promoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Bundle {
    pub chart: ChartRef,
    /// Image name (a key of `[deploy.images]`) to its digest-pinned
    /// reference.
    pub images: BTreeMap<String, ImageRef>,
    /// The application values: `[deploy] values` files and `set`, merged,
    /// images not yet written in.
    pub values: serde_json::Value,
    pub source: Option<SourceRef>,
}

/// The chart of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ChartRef {
    pub name: String,
    pub version: String,
    /// Where it came from: a path relative to the project, a repository URL
    /// or an `oci://` reference.
    pub location: String,
    /// `sha256:...` of the chart archive (`.tgz`) Helm installs; a local
    /// directory is packaged first, reproducibly.
    pub digest: String,
}

/// An image of a bundle, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageRef {
    /// `REGISTRY/REPOSITORY`.
    pub repository: String,
    /// `sha256:...`.
    pub digest: String,
    /// The tag it was resolved from, if any (informational: deploys use the
    /// digest).
    pub tag: Option<String>,
}

impl ImageRef {
    /// `REGISTRY/REPOSITORY@sha256:...`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }
}

/// The commit a bundle was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SourceRef {
    /// The repository URL without credentials.
    pub repository: Option<String>,
    pub commit: String,
}

/// A bundle's content address: `sha256:` and 64 hex digits. Shown short
/// (the first 12 digits) to people; any unique prefix of 7 or more digits
/// names it on the command line.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct BundleId(String);

impl BundleId {
    /// The full `sha256:...` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits.
    pub fn short(&self) -> &str {
        let hex = self.0.strip_prefix("sha256:").unwrap_or(&self.0);
        &hex[..hex.len().min(12)]
    }

    /// Whether `prefix` (with or without `sha256:`, 7+ hex digits) names
    /// this id.
    pub fn matches(&self, prefix: &str) -> bool {
        let prefix = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        let hex = self.0.strip_prefix("sha256:").unwrap_or(&self.0);
        prefix.len() >= 7 && hex.starts_with(&prefix.to_ascii_lowercase())
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

impl Bundle {
    /// The canonical JSON the id is computed over: keys sorted (serde_json's
    /// map is ordered), no whitespace.
    pub fn canonical_json(&self) -> Vec<u8> {
        // A `Value` round trip sorts every object's keys.
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        serde_json::to_vec(&value).unwrap_or_default()
    }

    /// The bundle's content address.
    pub fn id(&self) -> BundleId {
        BundleId(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(self.canonical_json()))
        ))
    }
}
