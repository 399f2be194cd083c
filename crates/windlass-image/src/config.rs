//! `[image]` in `windlass.toml`.
//!
//! ```toml
//! [image]
//! base = "python:3.12-slim"
//!
//! [image.registries."ghcr.io"]
//! username = "ci-bot"
//! password = "env://GHCR_TOKEN"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

pub use crate::registry::config::RegistrySection;

/// `[image]`: what `image build` builds and where images go. Flags win
/// over it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageSection {
    /// The base image reference (`image build --base`).
    pub base: Option<String>,
    /// `[image.registries."HOST"]`: credentials and transport per registry.
    #[serde(default)]
    pub registries: BTreeMap<String, RegistrySection>,
}

#[cfg(test)]
mod tests {
    use windlass_testkit::serde_fields;

    /// Every field of `[image]` and `[image.registries."HOST"]` has a row in
    /// the registry the reference docs are generated from, and every row
    /// is a field.
    #[test]
    fn every_field_is_documented() {
        let tables: [(&str, &[&str]); 2] = [
            ("image", serde_fields::<super::ImageSection>()),
            (
                "image.registries.NAME",
                serde_fields::<super::RegistrySection>(),
            ),
        ];
        let mut fields: Vec<String> = tables
            .iter()
            .flat_map(|(prefix, fields)| fields.iter().map(move |f| format!("{prefix}.{f}")))
            .collect();
        fields.sort();
        let mut documented: Vec<String> = windlass_config::TOOL_KEYS
            .iter()
            .map(|key| key.key.to_owned())
            .filter(|key| key.starts_with("image."))
            .collect();
        documented.sort();
        assert_eq!(fields, documented);
    }
}
