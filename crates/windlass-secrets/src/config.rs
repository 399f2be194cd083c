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
//!
//! `windlass-config` finds, reads and merges the files (user file < project
//! file, each secret name replaced whole, `[vault]` key by key) and reports
//! mistakes with file and line; this module only defines the types.

use std::fmt;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use windlass_config::{EffectiveConfig, Entry, LoadError, RelativePath, Source};

use crate::reference::SecretRef;
use windlass_config::Environment;

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
    /// PEM file with the CA that signed the server certificate; relative
    /// to the directory of the file that set it.
    pub ca_file: Option<RelativePath>,
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

/// The two sections this crate reads, typed by this crate and loaded by
/// `windlass-config` with the rest of `windlass.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SecretsConfig {
    pub secrets: SecretsSection,
    pub vault: VaultSection,
}

impl SecretsConfig {
    /// The environment variables this configuration reads secrets from:
    /// the `env://` references of secret `[secrets]` entries and of the
    /// `[vault.approle]` ids, and the ID token variable of `[vault.gitlab]`.
    /// References that do not parse are left to the error that reports them.
    pub fn secret_env_vars(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .secrets
            .entries
            .values()
            .filter(|entry| entry.secret)
            .filter_map(|entry| env_var_of(&entry.reference))
            .collect();
        if let Some(approle) = &self.vault.approle {
            names.extend(env_var_of(&approle.role_id));
            names.extend(env_var_of(&approle.secret_id));
        }
        if let Some(gitlab) = &self.vault.gitlab {
            names.push(gitlab.token_env.clone());
        }
        names.sort();
        names.dedup();
        names
    }

    /// Types the `[secrets]` and `[vault]` sections of the merged
    /// configuration (user file < project file); their mistakes come back
    /// with file, line and a did-you-mean.
    pub fn from_effective(config: &EffectiveConfig) -> Result<Self, LoadError> {
        Ok(Self {
            secrets: config.section("secrets")?,
            vault: config.section("vault")?,
        })
    }
}

/// Every environment variable the configuration reads a secret from: those
/// of [`SecretsConfig::secret_env_vars`], and the variable of every `env://`
/// reference elsewhere in the tool-owned sections (a tool's credentials,
/// such as a repository's `token`: outside `[secrets]` a reference always
/// names a secret). A section with a mistake is skipped here and reported
/// by the command that uses it.
pub fn config_secret_env_vars(config: &EffectiveConfig) -> Vec<String> {
    let typed = SecretsConfig {
        secrets: config.section("secrets").unwrap_or_default(),
        vault: config.section("vault").unwrap_or_default(),
    };
    let mut names = typed.secret_env_vars();
    names.extend(
        config
            .entries
            .iter()
            .filter(|entry| !entry.key.starts_with("secrets."))
            .filter_map(|entry| entry.value.as_deref())
            .filter_map(|value| {
                value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            })
            .filter_map(env_var_of),
    );
    names.sort();
    names.dedup();
    names
}

/// The environment variables that override `[vault]` keys, with the key
/// each one sets. `VAULT_TOKEN` has no key in the file: it shows as
/// `vault.token`, always masked.
pub const VAULT_ENV_VARS: &[(&str, &str)] = &[
    ("VAULT_ADDR", "vault.address"),
    ("VAULT_NAMESPACE", "vault.namespace"),
    ("VAULT_CACERT", "vault.ca-file"),
];

/// What `config show` lists beside the file for this crate: each
/// [`VAULT_ENV_VARS`] variable that is set, as the `[vault]` key it
/// overrides, and `VAULT_TOKEN` as `vault.token` = `****` (never the
/// value nor its length). Feed them to
/// [`EffectiveConfig::add_tool_entries`].
pub fn tool_entries(env: &Environment) -> Vec<Entry> {
    let source = |name: &str| Source::ToolEnv {
        name: name.to_owned(),
    };
    let mut entries: Vec<Entry> = VAULT_ENV_VARS
        .iter()
        .filter_map(|(name, key)| {
            env.get_str(name)
                .map(|value| Entry::string(*key, value, source(name)))
        })
        .collect();
    if env.get_str("VAULT_TOKEN").is_some() {
        entries.push(Entry::masked("vault.token", source("VAULT_TOKEN")));
    }
    entries
}

/// One place in the configuration that holds a secret reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRef {
    /// The name it goes by: the entry name for `[secrets]`, else the
    /// dotted key.
    pub name: String,
    /// Where it is used: `[secrets] PYPI_TOKEN`,
    /// `wheel.repositories.internal.password`, `vault.approle.secret-id`.
    pub used_in: String,
    /// The reference as written.
    pub reference: String,
    /// `false` for `[secrets]` entries marked `secret = false`.
    pub secret: bool,
    /// An input to the Vault login (`[vault.approle]` ids): resolved
    /// before logging in, never from Vault itself.
    pub vault_login: bool,
}

/// Every secret reference of the effective configuration, where it is used:
/// the entries of `[secrets]` (in file order), then the credential fields
/// each tool section declares in [`windlass_config::TOOL_SECTIONS`] (the
/// `[vault]` login inputs among them), then any other reference in a
/// section another tool owns (a repository `username` written as one).
/// Values that are not references are refused when the file is loaded.
pub fn config_references(config: &EffectiveConfig, typed: &SecretsConfig) -> Vec<ConfigRef> {
    let mut refs: Vec<ConfigRef> = typed
        .secrets
        .entries
        .iter()
        .map(|(name, entry)| ConfigRef {
            name: name.clone(),
            used_in: format!("[secrets] {name}"),
            reference: entry.reference.clone(),
            secret: entry.secret,
            vault_login: false,
        })
        .collect();
    for entry in &config.entries {
        let Some(section_name) = entry.key.split('.').next() else {
            continue;
        };
        let Some(section) = windlass_config::tool_section(section_name) else {
            continue;
        };
        if section.name == "secrets" {
            continue;
        }
        let Some(value) = entry.value.as_deref().and_then(toml_string) else {
            continue;
        };
        let declared = section.holds_credential(&entry.key);
        let ours = section.owner == env!("CARGO_PKG_NAME");
        if declared || (!ours && windlass_config::is_reference(&value)) {
            refs.push(ConfigRef {
                name: entry.key.clone(),
                used_in: entry.key.clone(),
                reference: value,
                secret: true,
                vault_login: section.name == "vault",
            });
        }
    }
    refs
}

/// The string a value of the effective configuration (written as TOML)
/// holds, when it is one.
fn toml_string(text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(&format!("v = {text}")).ok()?;
    match table.get("v")? {
        toml::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The variable an `env://` reference reads, if it is one that parses.
pub fn env_var_of(reference: &str) -> Option<String> {
    match SecretRef::parse(reference) {
        Ok(SecretRef::Env(r)) => Some(r.name),
        _ => None,
    }
}

/// Declares each variable as holding a secret in this run, its value (from
/// `env`) registered with the redactor at once and its name withheld from
/// children that must not hold credentials
/// ([`windlass_redact::declare_secret_var`]). Call it as soon as the
/// configuration is loaded, before anything can print.
pub fn declare_secret_vars<S: AsRef<str>>(names: &[S], env: &Environment) {
    for name in names {
        let name = name.as_ref();
        windlass_redact::declare_secret_var(name, env.get_str(name));
    }
}

/// A tool's configuration as its commands start: the working directory,
/// `windlass.toml` (searched from `start` under it, else from it; or the
/// file given) with every
/// layer, and the environment snapshot; the variables the configuration
/// reads secrets from are declared secret before anything can print or
/// any child start.
#[derive(Debug)]
pub struct ToolConfig {
    pub config: EffectiveConfig,
    pub env: windlass_config::Environment,
    pub cwd: PathBuf,
    /// Where the search for `windlass.toml` started.
    pub start: PathBuf,
}

impl ToolConfig {
    /// Loads it; a working directory or an environment that cannot be
    /// read is a usage error (exit 2).
    pub fn load(
        config_file: Option<&std::path::Path>,
        start: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        use windlass_output::{ExitStatus, ResultExt as _};
        let cwd = std::env::current_dir()
            .context("cannot read the current directory")
            .with_exit_status(ExitStatus::Usage)?;
        let mut options = windlass_config::LoadOptions::from_process()
            .context("cannot read the environment")
            .with_exit_status(ExitStatus::Usage)?;
        if let Some(start) = start {
            options.cwd = cwd.join(start);
        } else {
            options.cwd.clone_from(&cwd);
        }
        let start = options.cwd.clone();
        if let Some(path) = config_file {
            options = options.with_config_file(cwd.join(path));
        }
        let config = options.load()?;
        let env = windlass_config::Environment::from_process();
        declare_secret_vars(&config_secret_env_vars(&config), &env);
        Ok(Self {
            config,
            env,
            cwd,
            start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SecretsConfig;

    /// The variables a configuration reads secrets from; not the one of an
    /// entry marked `secret = false`, nor file or vault references.
    #[test]
    fn secret_env_vars() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(
            dir.path().join("windlass.toml"),
            r#"
[secrets]
PYPI_TOKEN = "env://CI_PYPI_TOKEN"
DEPLOY_KEY = "env://DEPLOY_KEY"
USER = { ref = "env://CI_USER", secret = false }
FROM_VAULT = "vault://secret/ci/pypi#token"
FROM_FILE = "file:///run/secrets/x"
BROKEN = "env://"

[vault.approle]
role-id = "env://VAULT_ROLE_ID"
secret-id = "env://VAULT_SECRET_ID"

[vault.gitlab]
role = "release"
token-env = "GITLAB_VAULT_JWT"

[wheel.repositories.internal]
url = "https://pypi.internal.example/legacy/"
username = "ci"
password = 'env://INDEX_PASSWORD'

[wheel.repositories.other]
url = "https://other.example/legacy/"
token = "env://OTHER_INDEX_TOKEN"
"#,
        )
        .unwrap();
        let effective = windlass_config::LoadOptions::new(dir.path())
            .load()
            .unwrap();
        let config = SecretsConfig::from_effective(&effective).unwrap();
        insta::assert_debug_snapshot!(config.secret_env_vars(), @r#"
        [
            "CI_PYPI_TOKEN",
            "DEPLOY_KEY",
            "GITLAB_VAULT_JWT",
            "VAULT_ROLE_ID",
            "VAULT_SECRET_ID",
        ]
        "#);
        // With the tools' credentials elsewhere in the file.
        insta::assert_debug_snapshot!(super::config_secret_env_vars(&effective), @r#"
        [
            "CI_PYPI_TOKEN",
            "DEPLOY_KEY",
            "GITLAB_VAULT_JWT",
            "INDEX_PASSWORD",
            "OTHER_INDEX_TOKEN",
            "VAULT_ROLE_ID",
            "VAULT_SECRET_ID",
        ]
        "#);
    }

    /// Loads `text` as the project's windlass.toml, as the binary does.
    fn check(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("windlass.toml"), text).unwrap();
        let options = windlass_config::LoadOptions::new(dir.path());
        let result = options
            .load()
            .and_then(|config| SecretsConfig::from_effective(&config));
        let shown = match result {
            Ok(c) => format!("{c:#?}"),
            Err(e) => format!("error: {e}\nhint: {}", e.hint()),
        };
        shown.replace(&dir.path().display().to_string(), "[PROJECT]")
    }

    #[test]
    fn full() {
        insta::assert_snapshot!(check(
            r#"
[http]
retries = 5

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

    /// Every field of `[secrets]` and `[vault]` has a row in the registry
    /// the reference docs are generated from, and every row is a field.
    #[test]
    fn every_field_is_documented() {
        use windlass_testkit::serde_fields;

        use super::{
            AppRoleSection, GithubActionsSection, GitlabSection, KubernetesSection, VaultSection,
        };
        let tables: [(&str, &[&str]); 6] = [
            ("vault", serde_fields::<VaultSection>()),
            ("vault.approle", serde_fields::<AppRoleSection>()),
            (
                "vault.github-actions",
                serde_fields::<GithubActionsSection>(),
            ),
            ("vault.gitlab", serde_fields::<GitlabSection>()),
            ("vault.kubernetes", serde_fields::<KubernetesSection>()),
            // `SecretEntry` deserializes by hand: its table form.
            ("secrets.NAME", &["ref", "secret"]),
        ];
        let mut fields: Vec<String> = tables
            .iter()
            .flat_map(|(prefix, fields)| fields.iter().map(move |f| format!("{prefix}.{f}")))
            .chain(["secrets.NAME".to_owned()])
            .collect();
        fields.sort();
        let mut documented: Vec<String> = windlass_config::TOOL_KEYS
            .iter()
            .map(|key| key.key.to_owned())
            .filter(|key| key.starts_with("secrets.") || key.starts_with("vault."))
            .collect();
        documented.sort();
        assert_eq!(fields, documented);
        for (name, key) in super::VAULT_ENV_VARS {
            let row = windlass_config::TOOL_KEYS
                .iter()
                .find(|row| row.key == *key);
            assert!(
                row.is_some_and(|row| row.env.contains(name)),
                "{name} {key}"
            );
        }
    }
}
