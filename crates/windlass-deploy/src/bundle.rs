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
    /// The canonical JSON the id is computed over: every object's keys
    /// sorted (by this function, not by whichever map serde_json was built
    /// with: another crate enabling `preserve_order` must not change ids),
    /// no whitespace.
    pub fn canonical_json(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        serde_json::to_vec(&sorted(value)).unwrap_or_default()
    }

    /// The bundle's content address.
    pub fn id(&self) -> BundleId {
        BundleId(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(self.canonical_json()))
        ))
    }
}

/// `value` with every object's keys in byte order, recursively.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(values: serde_json::Value) -> Bundle {
        Bundle {
            chart: ChartRef {
                name: "ml-job".into(),
                version: "0.3.1".into(),
                location: "charts/ml-job".into(),
                digest: format!("sha256:{}", "a".repeat(64)),
            },
            images: BTreeMap::new(),
            values,
            source: None,
        }
    }

    #[test]
    fn canonical_json_sorts_every_level() {
        let json = String::from_utf8(
            bundle(serde_json::json!({"z": {"b": 1, "a": [{"y": 1, "x": 2}]}, "m": true}))
                .canonical_json(),
        )
        .unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"chart":{"digest":"sha256:"#,
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                r#"","location":"charts/ml-job","name":"ml-job","version":"0.3.1"},"#,
                r#""images":{},"source":null,"values":{"m":true,"z":{"a":[{"x":2,"y":1}],"b":1}}}"#
            )
        );
    }

    #[test]
    fn sorted_orders_keys_whatever_the_map() {
        // Built in reverse order: with `preserve_order` the map would keep it.
        let mut map = serde_json::Map::new();
        map.insert("b".into(), serde_json::json!(1));
        map.insert("a".into(), serde_json::json!(2));
        let text = serde_json::to_string(&sorted(serde_json::Value::Object(map))).unwrap();
        assert_eq!(text, r#"{"a":2,"b":1}"#);
    }

    #[test]
    fn same_content_same_id() {
        let one = bundle(serde_json::json!({"a": 1, "b": 2}));
        let two = bundle(serde_json::json!({"b": 2, "a": 1}));
        assert_eq!(one.id(), two.id());
        assert_ne!(one.id(), bundle(serde_json::json!({"a": 2})).id());
        assert!(one.id().matches(&one.id().short()[..7]));
    }
}
