//! Registry credentials: `[image.registries."HOST"]` in `windlass.toml`
//! (a secret reference, resolved by windlass-secrets), then the files
//! podman, skopeo and Docker read, in their order: `REGISTRY_AUTH_FILE`
//! (else `$XDG_RUNTIME_DIR/containers/auth.json` and
//! `~/.config/containers/auth.json`), then `$DOCKER_CONFIG/config.json`
//! (else `~/.docker/config.json`). The first file that knows the host
//! answers.
//!
//! In a file, as Docker reads it: `credHelpers."HOST"` names a helper for
//! the host, else `credsStore` one for every host, else `auths."HOST"`
//! holds `auth` (base64 of `user:password`) or `username` and `password`.
//! A helper `NAME` is run as `docker-credential-NAME get` through
//! windlass-process with the host on stdin, never in argv.
//!
//! Every password is a [`Secret`] registered with the redactor the moment
//! it is read; no error here carries a value from a file or a helper.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use windlass_config::Environment;
use windlass_redact::Secret;

use crate::reference::DOCKER_HUB;

/// The largest credential file read.
const FILE_LIMIT: u64 = 4 << 20;
/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

/// A user name and its password or token.
#[derive(Clone)]
pub struct Credential {
    pub username: String,
    pub password: Secret<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Where a credential came from (shown with `-v`, never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `[image.registries."HOST"]`.
    Config,
    /// An `auths` entry of this file.
    File(PathBuf),
    /// `docker-credential-NAME`.
    Helper(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config => f.write_str("`[image.registries]` in windlass.toml"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Helper(name) => write!(f, "docker-credential-{name}"),
        }
    }
}

/// A credential file or helper that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot read the registry credentials in {}", .0.path().display())]
    Read(#[source] windlass_fs::ReadError),
    #[error("{} is not a registry credential file: {why}", path.display())]
    Parse { path: PathBuf, why: String },
    #[error("the `auth` of `{host}` in {} is not base64 of `user:password`", path.display())]
    BadAuth { path: PathBuf, host: String },
    #[error("`{name}` is not a credential helper name (letters, digits, `.`, `_`, `-`)")]
    HelperName { name: String },
    #[error("cannot run the credential helper `docker-credential-{name}`")]
    HelperSpawn {
        name: String,
        #[source]
        source: windlass_process::RunError,
    },
    #[error(
        "the credential helper `docker-credential-{name}` failed for `{host}` (exit status {code})"
    )]
    HelperFailed {
        name: String,
        host: String,
        code: i32,
    },
    #[error(
        "the credential helper `docker-credential-{name}` answered something that is not its JSON"
    )]
    HelperOutput { name: String },
}

impl windlass_output::Diagnostic for CredentialError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::HelperSpawn { name, .. } | Self::HelperFailed { name, .. } => Some(format!(
                "check that `docker-credential-{name}` is on PATH and logged in, or set the credential in `[image.registries.\"HOST\"]`"
            )),
            Self::Parse { .. } | Self::BadAuth { .. } => Some(
                "fix the file, or point REGISTRY_AUTH_FILE or DOCKER_CONFIG elsewhere".to_owned(),
            ),
            _ => None,
        }
    }
}

/// The credential files and helpers of this environment.
#[derive(Debug, Clone)]
pub struct CredentialFiles {
    files: Vec<PathBuf>,
    cwd: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

impl CredentialFiles {
    /// The files this environment names, in the order they are asked.
    pub fn from_env(env: &Environment, cwd: &Path) -> Self {
        let home = env.get_str("HOME").map(PathBuf::from);
        let mut files = Vec::new();
        if let Some(path) = env.get_str("REGISTRY_AUTH_FILE") {
            files.push(cwd.join(path));
        } else {
            if let Some(runtime) = env.get_str("XDG_RUNTIME_DIR") {
                files.push(Path::new(runtime).join("containers/auth.json"));
            }
            if let Some(home) = &home {
                files.push(home.join(".config/containers/auth.json"));
            }
        }
        if let Some(dir) = env.get_str("DOCKER_CONFIG") {
            files.push(cwd.join(dir).join("config.json"));
        } else if let Some(home) = &home {
            files.push(home.join(".docker/config.json"));
        }
        Self {
            files,
            cwd: cwd.to_owned(),
        }
    }

    /// Exactly these files (tests).
    pub fn new(files: Vec<PathBuf>, cwd: &Path) -> Self {
        Self {
            files,
            cwd: cwd.to_owned(),
        }
    }

    /// The credential for `registry` (as references name it), if a file or
    /// helper has one.
    pub async fn lookup(
        &self,
        registry: &str,
    ) -> Result<Option<(Credential, Origin)>, CredentialError> {
        for path in &self.files {
            let file = match windlass_fs::read(path, FILE_LIMIT) {
                Ok(bytes) => bytes,
                Err(error) if error.is_not_found() => continue,
                Err(error) => return Err(CredentialError::Read(error)),
            };
            let parsed: ConfigFile =
                serde_json::from_slice(&file).map_err(|e| CredentialError::Parse {
                    path: path.clone(),
                    // serde's message names a position, never a value.
                    why: format!("line {} column {}", e.line(), e.column()),
                })?;
            if let Some(helper) = parsed
                .cred_helpers
                .iter()
                .find(|(key, _)| same_registry(key, registry))
                .map(|(_, helper)| helper)
            {
                return self.helper(helper, registry).await;
            }
            if let Some(store) = parsed.creds_store.as_deref().filter(|s| !s.is_empty()) {
                if let Some(found) = self.helper(store, registry).await? {
                    return Ok(Some(found));
                }
                continue;
            }
            let Some((key, entry)) = parsed
                .auths
                .iter()
                .find(|(key, _)| same_registry(key, registry))
            else {
                continue;
            };
            let credential = match (&entry.auth, &entry.username, &entry.password) {
                (Some(auth), _, _) if !auth.is_empty() => {
                    decode_auth(auth).ok_or_else(|| CredentialError::BadAuth {
                        path: path.clone(),
                        host: key.clone(),
                    })?
                }
                (_, Some(username), Some(password)) => Credential {
                    username: username.clone(),
                    password: Secret::registered(password.clone()),
                },
                _ => continue,
            };
            return Ok(Some((credential, Origin::File(path.clone()))));
        }
        Ok(None)
    }

    async fn helper(
        &self,
        name: &str,
        registry: &str,
    ) -> Result<Option<(Credential, Origin)>, CredentialError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(CredentialError::HelperName {
                name: windlass_output::escape_controls(name).into_owned(),
            });
        }
        // Docker Hub's helpers know it by its old index URL.
        let server = if registry == DOCKER_HUB {
            "https://index.docker.io/v1/".to_owned()
        } else {
            registry.to_owned()
        };
        let outcome = windlass_process::Cmd::new(format!("docker-credential-{name}"), &self.cwd)
            .arg("get")
            .stdin(server.into_bytes())
            .timeout(HELPER_TIMEOUT)
            .capture_output()
            .run()
            .await
            .map_err(|source| CredentialError::HelperSpawn {
                name: name.to_owned(),
                source,
            })?;
        let stdout = outcome.stdout().unwrap_or_default();
        if !outcome.success() {
            // The protocol's "not found" answer is a miss, not a failure.
            let text = String::from_utf8_lossy(stdout);
            if text.contains("credentials not found") {
                return Ok(None);
            }
            return Err(CredentialError::HelperFailed {
                name: name.to_owned(),
                host: registry.to_owned(),
                code: outcome.exit_code(),
            });
        }
        let answer: HelperAnswer =
            serde_json::from_slice(stdout).map_err(|_| CredentialError::HelperOutput {
                name: name.to_owned(),
            })?;
        if answer.secret.is_empty() {
            return Ok(None);
        }
        Ok(Some((
            Credential {
                username: answer.username,
                password: Secret::registered(answer.secret),
            },
            Origin::Helper(name.to_owned()),
        )))
    }
}

/// `user:password` from the base64 `auth` of a credential file; the
/// password is registered before anything else happens to it.
fn decode_auth(auth: &str) -> Option<Credential> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    let password = Secret::registered(password.to_owned());
    Some(Credential {
        username: username.to_owned(),
        password,
    })
}

/// Whether a key of `auths` or `credHelpers` (`host`, `https://host/v1/`)
/// names `registry`; Docker Hub goes by several names.
fn same_registry(key: &str, registry: &str) -> bool {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let key = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    let hub = |name: &str| {
        matches!(
            name,
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        )
    };
    key == registry || (hub(&key) && hub(registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_keys_as_docker_does() {
        for (key, registry, want) in [
            ("127.0.0.1:5000", "127.0.0.1:5000", true),
            ("https://127.0.0.1:5000/v1/", "127.0.0.1:5000", true),
            ("https://index.docker.io/v1/", "docker.io", true),
            ("ghcr.io", "docker.io", false),
            ("127.0.0.1:5000", "127.0.0.1:5001", false),
        ] {
            assert_eq!(same_registry(key, registry), want, "{key} {registry}");
        }
    }

    #[tokio::test]
    async fn reads_auths_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("auth.json");
        let second = dir.path().join("config.json");
        let b64 = base64::engine::general_purpose::STANDARD.encode("alice:s3cr3t-from-b64");
        std::fs::write(
            &first,
            format!(r#"{{"auths":{{"https://reg.example/v1/":{{"auth":"{b64}"}}}}}}"#),
        )
        .unwrap();
        std::fs::write(
            &second,
            r#"{"auths":{"other.example":{"username":"bob","password":"pw"},"reg.example":{"auth":"bm90LWEtcGFpcg=="}}}"#,
        )
        .unwrap();
        let files = CredentialFiles::new(vec![first.clone(), second.clone()], dir.path());
        let (cred, origin) = files.lookup("reg.example").await.unwrap().unwrap();
        assert_eq!(
            (cred.username.as_str(), cred.password.expose().as_str()),
            ("alice", "s3cr3t-from-b64")
        );
        assert_eq!(origin, Origin::File(first));
        let (cred, _) = files.lookup("other.example").await.unwrap().unwrap();
        assert_eq!(cred.username, "bob");
        assert!(files.lookup("none.example").await.unwrap().is_none());
        // A broken `auth` names the file and the host, never the value.
        let only_second = CredentialFiles::new(vec![second], dir.path());
        let err = only_second.lookup("reg.example").await.unwrap_err();
        assert!(err.to_string().contains("`reg.example`"), "{err}");
        assert!(!format!("{err:?}").contains("bm90"), "{err:?}");
    }
}
