//! `[release]` in `windlass.toml`: the Python projects a release builds
//! and publishes, where their wheels go, the images it builds and the
//! environment the bundle goes to first.
//!
//! ```toml
//! [release]
//! wheels = ["../ml-project"]     # default: "." when it has pyproject.toml
//! repository = "internal"        # default: [wheel] repository of each project
//! environment = "dev"            # default: the [deploy] environment with no `from`
//! local-dir = "dist/release/local"
//!
//! [release.images.job]           # a key of [deploy.images]
//! containerfile = "Containerfile"
//! context = "."
//! tags = ["{version}"]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use windlass_config::RelativePath;

/// The default of `[release] local-dir`, relative to the project.
pub const DEFAULT_LOCAL_DIR: &str = "dist/release/local";

/// `[release] environment = "none"`: the release deploys nothing.
pub const NO_ENVIRONMENT: &str = "none";

/// `[release]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReleaseSection {
    /// The Python projects whose wheels and sdists the release builds and
    /// publishes (default: the project itself when it has
    /// `pyproject.toml`).
    pub wheels: Option<Vec<RelativePath>>,
    /// Where the wheels go: a name of `[wheel.repositories]` or an upload
    /// URL (default: `[wheel] repository` of each project).
    pub repository: Option<String>,
    /// The environment the bundle goes to first; `none` deploys nothing
    /// (default: the `[deploy]` environment with no `from`).
    pub environment: Option<String>,
    /// Where `--local` writes its index, layouts and GitOps tree.
    pub local_dir: Option<RelativePath>,
    /// One per image, named as in `[deploy.images]`.
    #[serde(default)]
    pub images: BTreeMap<String, ImageSpec>,
}

/// `[release.images.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageSpec {
    /// The Containerfile (default: `Containerfile` in the context).
    pub containerfile: Option<RelativePath>,
    /// The build context (default: the project directory).
    pub context: Option<RelativePath>,
    /// The tags pushed, `{version}` replaced by the release's version
    /// (default: `["{version}"]`).
    pub tags: Option<Vec<String>>,
}

impl ImageSpec {
    /// The tags with `{version}` filled in.
    pub fn tags(&self, version: &str) -> Vec<String> {
        let tags = self
            .tags
            .clone()
            .unwrap_or_else(|| vec!["{version}".to_owned()]);
        let mut tags: Vec<String> = tags
            .iter()
            .map(|t| t.replace("{version}", version))
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }
}

#[cfg(test)]
mod tests {
    use windlass_testkit::serde_fields;

    /// Every field of `[release]` has a row in the registry the reference
    /// docs are generated from, and every row is a field.
    #[test]
    fn keys_are_documented() {
        let mut fields: Vec<String> = serde_fields::<super::ReleaseSection>()
            .iter()
            .map(|f| format!("release.{f}"))
            .collect();
        fields.extend(
            serde_fields::<super::ImageSpec>()
                .iter()
                .map(|f| format!("release.images.NAME.{f}")),
        );
        fields.sort();
        let mut documented: Vec<String> = windlass_config::TOOL_KEYS
            .iter()
            .filter(|k| k.key.starts_with("release."))
            .map(|k| k.key.to_owned())
            .collect();
        documented.sort();
        assert_eq!(fields, documented);
    }

    #[test]
    fn tags_fill_in_the_version() {
        let spec = super::ImageSpec {
            containerfile: None,
            context: None,
            tags: Some(vec![
                "{version}".into(),
                "latest".into(),
                "v{version}".into(),
            ]),
        };
        assert_eq!(spec.tags("0.4.0"), ["0.4.0", "latest", "v0.4.0"]);
    }
}
