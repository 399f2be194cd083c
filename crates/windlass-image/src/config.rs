//! `[image]` in `windlass.toml`.
//!
//! ```toml
//! [image]
//! base = "python:3.12-slim"
//! ```

use serde::Deserialize;

/// `[image]`: what `image build` builds and where images go. Flags win
/// over it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageSection {
    /// The base image reference (`image build --base`).
    pub base: Option<String>,
}
