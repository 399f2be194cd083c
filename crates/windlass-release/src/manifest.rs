//! The release manifest: the source commit, every wheel and sdist with its
//! sha256 and index, every image with its digest and tags, the chart and
//! bundle, and the environments the release reached.
//!
//! Its id is the sha256 of the canonical JSON of [`Content`] (what was
//! made and where it was published). The environments a release reaches
//! are appended later and are not part of the id: the same release keeps
//! its id as it moves from dev to prod.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The schema tag every manifest carries.
pub const SCHEMA: &str = "windlass.release/1";

/// One release: what it made and where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// `sha256:` and the hex digest of [`Content`]'s canonical JSON.
    pub id: ManifestId,
    #[serde(flatten)]
    pub content: Content,
    /// The environments the release reached, in order. Not part of the id.
    #[serde(default)]
    pub environments: Vec<EnvironmentRecord>,
}

/// What a release made and where it published it: the part of the manifest
/// its id covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Content {
    /// The project's name as its `pyproject.toml` (or `[release]`) gives it.
    pub project: String,
    /// The released version (the project's, matching the git tag when there
    /// is one).
    pub version: String,
    pub source: Source,
    /// Every wheel and sdist, sorted by file name.
    #[serde(default)]
    pub distributions: Vec<Distribution>,
    /// Every image, sorted by name.
    #[serde(default)]
    pub images: Vec<Image>,
    /// The chart and the bundle deployed, when the release deploys.
    pub deploy: Option<DeployRecord>,
}

/// The commit a release was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Source {
    /// The repository URL without credentials, when the checkout has a
    /// remote.
    pub repository: Option<String>,
    /// The full commit hash.
    pub commit: String,
    /// The tag naming the commit, when there is one.
    pub tag: Option<String>,
}

/// A wheel or an sdist and where it was published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Distribution {
    pub filename: String,
    /// Hex sha256 of the file.
    pub sha256: String,
    pub size: u64,
    /// The index it was published to: the simple API root (PEP 503) where
    /// the file can be looked up, without credentials. For a local static
    /// index, a `file:` URL or a path relative to the manifest.
    pub index: String,
}

/// An image and where it was published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Image {
    /// The image's name (a key of `[deploy.images]` / `[release.images]`).
    pub name: String,
    /// `REGISTRY/REPOSITORY`, or `oci:DIR` for a local OCI layout (DIR
    /// relative to the manifest).
    pub repository: String,
    /// `sha256:...` of the image manifest (or index).
    pub digest: String,
    /// The tags pointed at the digest, sorted.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The chart and bundle a release deploys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DeployRecord {
    pub chart: String,
    pub chart_version: String,
    /// `sha256:...` of the chart archive.
    pub chart_digest: String,
    /// The bundle id (`sha256:...`).
    pub bundle: String,
}

/// An environment the release reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct EnvironmentRecord {
    pub name: String,
    /// The bundle id deployed there.
    pub bundle: String,
    /// When it got there (RFC 3339, UTC).
    pub at: String,
    pub target: EnvironmentTarget,
}

/// Where an environment lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum EnvironmentTarget {
    /// A cluster: the kube context, namespace, Helm release and revision.
    Cluster {
        context: String,
        namespace: String,
        release: String,
        revision: Option<u32>,
    },
    /// A GitOps directory of rendered manifests (relative to the manifest).
    Gitops { dir: String },
}

/// A manifest's content address: `sha256:` and 64 hex digits.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct ManifestId(String);

impl ManifestId {
    /// The id of some content: the sha256 of its canonical JSON (keys in
    /// declaration order, which is fixed, no spaces).
    pub fn of(content: &Content) -> Self {
        // Strings, numbers and sequences: always serializes.
        let json = serde_json::to_vec(content).unwrap_or_default();
        Self(format!("sha256:{}", hex::encode(Sha256::digest(&json))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, as shown to people.
    pub fn short(&self) -> &str {
        let hex = self.0.strip_prefix("sha256:").unwrap_or(&self.0);
        &hex[..hex.len().min(12)]
    }
}

impl fmt::Display for ManifestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The manifest's JSON Schema (`docs/schema/release-manifest-1.json` is
/// its published copy): pretty JSON with a final newline.
pub fn schema_text() -> String {
    let schema = schemars::schema_for!(Manifest);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

impl Manifest {
    /// A manifest of this content, with no environment reached yet.
    pub fn new(content: Content) -> Self {
        Self {
            schema: SCHEMA.to_owned(),
            id: ManifestId::of(&content),
            content,
            environments: Vec::new(),
        }
    }

    /// Whether the id matches the content (a manifest edited by hand, or
    /// cut, does not).
    pub fn id_holds(&self) -> bool {
        ManifestId::of(&self.content) == self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        Content {
            project: "sentiment-lab".into(),
            version: "0.4.0".into(),
            source: Source {
                repository: None,
                commit: "0".repeat(40),
                tag: Some("v0.4.0".into()),
            },
            distributions: vec![],
            images: vec![],
            deploy: None,
        }
    }

    /// `UPDATE_DOCS=1 cargo test -p windlass-release manifest_schema_is_generated`
    /// rewrites the file.
    #[test]
    fn manifest_schema_is_generated() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/schema/release-manifest-1.json");
        windlass_testkit::assert_generated(
            &path,
            &schema_text(),
            "cargo test -p windlass-release manifest_schema_is_generated",
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let mut value = serde_json::to_value(Manifest::new(content())).unwrap();
        value["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Manifest>(value).is_err());
    }

    #[test]
    fn id_covers_content_not_environments() {
        let mut manifest = Manifest::new(content());
        let id = manifest.id.clone();
        manifest.environments.push(EnvironmentRecord {
            name: "dev".into(),
            bundle: "sha256:00".into(),
            at: "2026-01-01T00:00:00Z".into(),
            target: EnvironmentTarget::Gitops {
                dir: "gitops/dev".into(),
            },
        });
        assert!(manifest.id_holds());
        assert_eq!(manifest.id, id);
        manifest.content.version = "0.4.1".into();
        assert!(!manifest.id_holds());
    }
}
