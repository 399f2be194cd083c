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
