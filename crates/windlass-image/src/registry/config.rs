//! `[image.registries."HOST"]` in `windlass.toml`: how to reach and log in
//! to one registry.
//!
//! ```toml
//! [image.registries."ghcr.io"]
//! username = "ci-bot"
//! password = "env://GHCR_TOKEN"
//!
//! [image.registries."registry.internal:5000"]
//! ca-file = "certs/internal-ca.pem"
//! chunk-size = 4194304
//! ```
//!
//! `password` is a credential field: windlass-config refuses anything but
//! a secret reference there.

use serde::Deserialize;
use windlass_config::RelativePath;

/// One registry's settings; the table's key is `host[:port]` as image
/// references name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RegistrySection {
    /// The user name (not secret).
    pub username: Option<String>,
    /// A secret reference to the password or token.
    pub password: Option<String>,
    /// Extra CA certificates (PEM) for this registry.
    pub ca_file: Option<RelativePath>,
    /// Plain `http://` instead of `https://`.
    #[serde(default)]
    pub plain_http: bool,
    /// Blobs larger than this go in chunks of this many bytes.
    pub chunk_size: Option<u64>,
}

/// A `[image.registries."HOST"]` entry that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryConfigError {
    #[error("`image.registries.\"{host}\".password` is not a secret reference")]
    InvalidReference {
        host: String,
        #[source]
        source: windlass_secrets::ParseError,
    },
    #[error("cannot resolve `image.registries.\"{host}\".password`")]
    Resolve {
        host: String,
        #[source]
        source: windlass_secrets::ResolveError,
    },
    #[error("`image.registries.\"{host}\"` has a `password` but no `username`")]
    PasswordWithoutUser { host: String },
}

impl windlass_output::Diagnostic for RegistryConfigError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        match self {
            Self::Resolve { source, .. } => source.exit_status(),
            _ => windlass_output::ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::InvalidReference { .. } => Some(
                "write a reference such as `env://REGISTRY_PASSWORD` or `vault://secret/ci/registry#password`".to_owned(),
            ),
            Self::Resolve { source, .. } => source.hint(),
            Self::PasswordWithoutUser { host } => Some(format!(
                "add `username = \"...\"` to `[image.registries.\"{host}\"]`"
            )),
        }
    }
}

/// Resolves `[image.registries]` (passwords through `resolver`) into the
/// settings of a [`crate::registry::Client`].
pub async fn host_settings(
    registries: &std::collections::BTreeMap<String, RegistrySection>,
    base_dir: &std::path::Path,
    resolver: &windlass_secrets::Resolver,
) -> Result<std::collections::BTreeMap<String, crate::registry::HostSettings>, RegistryConfigError>
{
    let mut hosts = std::collections::BTreeMap::new();
    for (host, section) in registries {
        let credential = match (&section.username, &section.password) {
            (_, None) => None,
            (None, Some(_)) => {
                return Err(RegistryConfigError::PasswordWithoutUser { host: host.clone() });
            }
            (Some(username), Some(reference)) => {
                let parsed = windlass_secrets::SecretRef::parse(reference).map_err(|source| {
                    RegistryConfigError::InvalidReference {
                        host: host.clone(),
                        source,
                    }
                })?;
                let password = resolver.resolve(&parsed).await.map_err(|source| {
                    RegistryConfigError::Resolve {
                        host: host.clone(),
                        source,
                    }
                })?;
                Some(crate::registry::credentials::Credential {
                    username: username.clone(),
                    password,
                })
            }
        };
        hosts.insert(
            host.to_ascii_lowercase(),
            crate::registry::HostSettings {
                credential,
                ca_file: section.ca_file.as_ref().map(|p| p.resolve(base_dir)),
                plain_http: section.plain_http,
                chunk_size: section.chunk_size,
            },
        );
    }
    Ok(hosts)
}
