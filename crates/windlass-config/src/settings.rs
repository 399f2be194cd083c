//! The typed schema of `windlass.toml`.
//!
//! To add a section: add a struct here with `#[serde(rename_all =
//! "kebab-case", deny_unknown_fields, default)]` and a `Default` impl, add a
//! field for it to [`Settings`], and add one row per key to
//! [`crate::ENV_VARS`]. The `schema_matches_registry` test fails until the
//! struct and the registry agree.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Every setting Windlass reads, after all layers are merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Settings {
    /// `[http]`: how HTTP clients behave.
    pub http: HttpSettings,
}

/// `[http]`: timeouts, retries and trust for every HTTP client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Total time allowed for one request.
    #[serde(with = "crate::duration::serde")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    /// Time allowed to establish a connection.
    #[serde(with = "crate::duration::serde")]
    #[schemars(with = "String")]
    pub connect_timeout: Duration,
    /// How many times a failed request is retried.
    pub retries: u32,
    /// How long a server may keep failing before retries to it stop.
    #[serde(with = "crate::duration::serde")]
    #[schemars(with = "String")]
    pub retry_budget: Duration,
    /// Extra certificate authorities (PEM), already resolved to an absolute
    /// path against the file that set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Hosts that may be reached over plain `http://`.
    pub insecure_hosts: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 3,
            retry_budget: Duration::from_secs(20),
            ca_file: None,
            insecure_hosts: Vec::new(),
        }
    }
}
