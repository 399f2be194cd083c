//! The `[secrets]` and `[vault]` sections of `windlass.toml`.
//!
//! ```toml
//! [secrets]
//! PYPI_TOKEN = "vault://secret/ci/pypi#token"
//! PYPI_USER = { ref = "env://PYPI_USER", secret = false }
//!
//! [vault]
//! address = "https://vault.example.org:8200"
//! namespace = "team-a"
//! ca-file = "certs/vault-ca.pem"
//! auth = "github-actions"          # token | approle | github-actions | gitlab | kubernetes
//!
//! [vault.github-actions]
//! role = "gha-release"
//! audience = "https://github.com/acme"
//! ```

use std::fmt;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// `[secrets]`: names (usually the environment variable a child sees) mapped
/// to references.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct SecretsSection {
    pub entries: IndexMap<String, SecretEntry>,
}

/// One entry of `[secrets]`: `NAME = "REF"` or
/// `NAME = { ref = "REF", secret = false }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SecretEntry {
    /// The reference as written; parsed when used, so that the error can
    /// name the entry and point at the character.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `false` for values that are not secret (a user name): they are
    /// neither registered with the redactor nor masked.
    pub secret: bool,
}

impl<'de> Deserialize<'de> for SecretEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = SecretEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a reference string or a table `{ ref = "...", secret = false }`"#)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretEntry, E> {
        Ok(SecretEntry {
            reference: v.to_owned(),
            secret: true,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretEntry, A::Error> {
        let mut reference = None;
        let mut secret = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "ref" => reference = Some(map.next_value::<String>()?),
                "secret" => secret = Some(map.next_value::<bool>()?),
                other => return Err(de::Error::unknown_field(other, &["ref", "secret"])),
            }
        }
        let reference = reference.ok_or_else(|| de::Error::missing_field("ref"))?;
        Ok(SecretEntry {
            reference,
            secret: secret.unwrap_or(true),
        })
    }
}

/// `[vault]`: where Vault/OpenBao is and how to log in. `VAULT_ADDR`,
/// `VAULT_NAMESPACE`, `VAULT_CACERT` override the file; `VAULT_TOKEN` (or
/// `~/.vault-token`) is the token for `auth = "token"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VaultSection {
    pub address: Option<String>,
    pub namespace: Option<String>,
    /// PEM file with the CA that signed the server certificate.
    pub ca_file: Option<PathBuf>,
    /// The login method; `token` when absent.
    pub auth: Option<AuthMethod>,
    pub approle: Option<AppRoleSection>,
    pub github_actions: Option<GithubActionsSection>,
    pub gitlab: Option<GitlabSection>,
    pub kubernetes: Option<KubernetesSection>,
}

/// How Windlass logs in to Vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// `VAULT_TOKEN`, else `~/.vault-token`. Never renewed nor revoked.
    Token,
    /// Role id + secret id (or a response-wrapped secret id).
    Approle,
    /// The GitHub Actions OIDC token, exchanged at a JWT auth mount.
    GithubActions,
    /// A GitLab CI ID token (`id_tokens:`), exchanged at a JWT auth mount.
    Gitlab,
    /// The pod's service-account token.
    Kubernetes,
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Token => "token",
            Self::Approle => "approle",
            Self::GithubActions => "github-actions",
            Self::Gitlab => "gitlab",
            Self::Kubernetes => "kubernetes",
        })
    }
}

/// `[vault.approle]`. The ids are references (`env://` or `file://`,
/// `keyring://`), never values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AppRoleSection {
    #[serde(default = "default_approle_mount")]
    pub mount: String,
    pub role_id: String,
    pub secret_id: String,
    /// The secret id is a response-wrapping token to unwrap first.
    #[serde(default)]
    pub wrapped: bool,
}

/// `[vault.github-actions]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GithubActionsSection {
    #[serde(default = "default_jwt_mount")]
    pub mount: String,
    pub role: String,
    /// The `aud` to request; GitHub's default audience when absent.
    pub audience: Option<String>,
}

/// `[vault.gitlab]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GitlabSection {
    #[serde(default = "default_jwt_mount")]
    pub mount: String,
    pub role: String,
    /// The variable named in the job's `id_tokens:`.
    #[serde(default = "default_gitlab_token_env")]
    pub token_env: String,
}

/// `[vault.kubernetes]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubernetesSection {
    #[serde(default = "default_kubernetes_mount")]
    pub mount: String,
    pub role: String,
    #[serde(default = "default_kubernetes_token_file")]
    pub token_file: PathBuf,
}

fn default_approle_mount() -> String {
    "approle".into()
}
fn default_jwt_mount() -> String {
    "jwt".into()
}
fn default_gitlab_token_env() -> String {
    "VAULT_ID_TOKEN".into()
}
fn default_kubernetes_mount() -> String {
    "kubernetes".into()
}
fn default_kubernetes_token_file() -> PathBuf {
    PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token")
}

/// The two sections this crate reads, as a stand-alone document (until
/// `windlass-config` carries them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SecretsConfig {
    #[serde(default)]
    pub secrets: SecretsSection,
    #[serde(default)]
    pub vault: VaultSection,
}

/// `windlass.toml` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid `{}`", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
}

impl windlass_output::Diagnostic for ConfigError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Usage
    }
}

impl SecretsConfig {
    /// Reads the `[secrets]` and `[vault]` sections of a `windlass.toml`,
    /// ignoring the other sections.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Document {
            #[serde(default)]
            secrets: SecretsSection,
            #[serde(default)]
            vault: VaultSection,
        }
        let doc: Document = toml::from_str(text)?;
        Ok(Self {
            secrets: doc.secrets,
            vault: doc.vault,
        })
    }

    /// Reads a file; a missing file is an empty configuration.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_toml(&text).map_err(|source| ConfigError::Parse {
                path: path.to_owned(),
                source: Box::new(source),
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SecretsConfig;

    fn check(text: &str) -> String {
        match SecretsConfig::from_toml(text) {
            Ok(c) => format!("{c:#?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn full() {
        insta::assert_snapshot!(check(
            r#"
[project]
name = "ignored"

[secrets]
PYPI_TOKEN = "vault://secret/ci/pypi#token"
PYPI_USER = { ref = "env://PYPI_USER", secret = false }

[vault]
address = "https://vault.example.org:8200"
namespace = "team-a"
ca-file = "certs/ca.pem"
auth = "approle"

[vault.approle]
role-id = "env://VAULT_ROLE_ID"
secret-id = "file:///run/secrets/secret-id"
wrapped = true

[vault.github-actions]
role = "gha-release"
"#
        ));
    }

    #[test]
    fn errors() {
        let cases = [
            "[secrets]\nX = { ref = \"env://X\", secrte = false }",
            "[secrets]\nX = { secret = false }",
            "[secrets]\nX = 3",
            "[vault]\naddres = \"http://x\"",
            "[vault]\nauth = \"ldap\"",
            "[vault.github-actions]\naudience = \"x\"",
        ];
        let out: Vec<String> = cases.iter().map(|c| check(c)).collect();
        insta::assert_snapshot!(out.join("\n---\n"));
    }
}
