//! Why a secret could not be resolved: each variant names what was asked
//! for (never a value), and knows its exit status and hint.

use std::path::PathBuf;

use windlass_http::HttpError;
use windlass_output::{Diagnostic, ExitStatus};
use windlass_redact::RedactedUrl;

use crate::reference::{KeyringStore, ParseError};

/// A reference could not be resolved to a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    #[error(transparent)]
    Reference(#[from] ParseError),
    #[error("environment variable `{name}` is not set")]
    EnvMissing { name: String },
    #[error("environment variable `{name}` is not valid UTF-8")]
    EnvNotUnicode { name: String },
    #[error(
        "no keyring entry for service `{service}` and user `{user}` in {}",
        store.description()
    )]
    KeyringMissing {
        service: String,
        user: String,
        store: KeyringStore,
    },
    #[error(
        "cannot read keyring entry for service `{service}` and user `{user}` from {}: {reason}",
        store.description()
    )]
    KeyringUnavailable {
        service: String,
        user: String,
        store: KeyringStore,
        reason: String,
    },
    #[error("secret file `{}` does not exist", path.display())]
    FileMissing { path: PathBuf },
    #[error("cannot read secret file `{}`", path.display())]
    FileUnreadable {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("secret file `{}` is not valid UTF-8", path.display())]
    FileNotUnicode { path: PathBuf },
    /// Shared: one failed login fails every Vault reference of a run.
    #[error(transparent)]
    Vault(std::sync::Arc<VaultError>),
}

impl From<VaultError> for ResolveError {
    fn from(e: VaultError) -> Self {
        Self::Vault(std::sync::Arc::new(e))
    }
}

/// Talking to Vault/OpenBao failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error("no vault address configured")]
    NoAddress,
    #[error("invalid vault address `{address}`")]
    BadAddress { address: String },
    #[error("cannot set up the http client for vault")]
    Client(#[source] windlass_http::BuildError),
    #[error("cannot reach vault at {address}")]
    Unreachable {
        address: RedactedUrl,
        #[source]
        source: HttpError,
    },
    /// Windlass refused the server's answer: a redirect to another origin
    /// (which would carry the token there), an answer too large.
    #[error(transparent)]
    Refused(HttpError),
    #[error("vault at {address} is sealed")]
    Sealed { address: RedactedUrl },
    #[error("permission denied reading `{path}`")]
    Denied { path: String, policies: Vec<String> },
    #[error("no secret at `{path}`")]
    SecretNotFound { path: String },
    #[error("secret `{path}` has no key `{key}`")]
    KeyMissing {
        path: String,
        key: String,
        available: Vec<String>,
    },
    #[error("key `{key}` of secret `{path}` is not a string")]
    NotAString { path: String, key: String },
    #[error("`{mount}` is a `{engine}` mount, not a kv secrets engine")]
    NotKv { mount: String, engine: String },
    #[error("the vault token {source_desc} is expired or invalid")]
    TokenInvalid {
        source_desc: String,
        user_supplied: bool,
    },
    #[error("no vault token: VAULT_TOKEN is not set and there is no ~/.vault-token")]
    NoToken,
    #[error("`[vault.{method}]` is missing from windlass.toml")]
    AuthNotConfigured { method: String },
    #[error("the github actions oidc token is not available ({})", missing.join(", ") + " not set")]
    OidcUnavailable { missing: Vec<String> },
    #[error("cannot get the github actions oidc token")]
    OidcFetch(#[source] HttpError),
    #[error("the github actions oidc token request answered without a token")]
    OidcMalformed,
    #[error("the gitlab id token variable `{name}` is not set")]
    GitlabTokenMissing { name: String },
    #[error("cannot read the vault token file `{}`", path.display())]
    TokenFileUnreadable {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("cannot read the kubernetes service-account token `{}`", path.display())]
    KubernetesTokenUnreadable {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    /// The token file holds something that is not a JWT (three dot-separated
    /// base64url parts): not sent to Vault, whose only answer would be
    /// `permission denied`.
    #[error(
        "the kubernetes service-account token `{}` is not a jwt (login to `auth/{mount}` as role `{role}`)",
        path.display()
    )]
    KubernetesTokenMalformed {
        path: PathBuf,
        mount: String,
        role: String,
    },
    #[error("cannot resolve the approle {what}")]
    AppRoleCredential {
        what: &'static str,
        #[source]
        source: Box<ResolveError>,
    },
    #[error("the approle {what} must be an env://, file:// or keyring:// reference")]
    AppRoleVaultRef { what: &'static str },
    #[error("cannot unwrap the wrapped secret id: {message}")]
    Unwrap { message: String },
    #[error("vault refused the {method} login at `auth/{mount}` (role `{role}`): {message}")]
    LoginRejected {
        method: &'static str,
        mount: String,
        role: String,
        /// The bound claim that did not match, when Vault named one.
        claim: Option<String>,
        message: String,
    },
    /// The AppRole login was refused: a wrong role id or secret id, or a
    /// secret id that expired or was used up.
    #[error("vault refused the approle login at `auth/{mount}`: {message}")]
    AppRoleRejected {
        mount: String,
        /// Where the role id came from: its reference, never the value.
        role_id_from: String,
        /// Where the secret id came from: its reference, never the value.
        secret_id_from: String,
        message: String,
    },
    #[error("vault answered {status} for `{path}`: {message}")]
    Unexpected {
        path: String,
        status: u16,
        message: String,
    },
    #[error("vault sent an unexpected answer for `{path}`")]
    Malformed { path: String },
    /// The resolver was closed (its token revoked) before this read, or
    /// the login was cut short because the process is ending.
    #[error("the vault session is closed")]
    Closed,
}

impl Diagnostic for ResolveError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Vault(v) => v.exit_status(),
            _ => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Reference(e) => Some(e.expected_form().to_owned()),
            Self::EnvMissing { name } => Some(format!(
                "set `{name}` in the environment (in GitHub Actions: `env: {name}: ${{{{ secrets.{name} }}}}`)"
            )),
            Self::EnvNotUnicode { .. } | Self::FileNotUnicode { .. } => {
                Some("secrets must be UTF-8 text; base64-encode binary values".into())
            }
            Self::KeyringMissing {
                service,
                user,
                store: KeyringStore::Keyutils,
            } => Some(format!(
                "store it first; `keyctl padd user 'keyring:{user}@{service}' @s` reads the \
                 value from stdin (a desktop keyring is read instead when a secret service \
                 answers on DBUS_SESSION_BUS_ADDRESS, or with ?store=secret-service)"
            )),
            Self::KeyringMissing {
                service,
                user,
                store: KeyringStore::SecretService,
            } => Some(format!(
                "store it first; `secret-tool store --label='{service}' service '{service}' \
                 username '{user}'` reads the value from stdin (read the kernel keyring \
                 instead with keyring://SERVICE/USER?store=keyutils)"
            )),
            Self::KeyringUnavailable {
                store: KeyringStore::Keyutils,
                ..
            } => Some(
                "on a headless Linux machine, run inside a kernel keyring session \
                 (`keyctl session`)"
                    .into(),
            ),
            Self::KeyringUnavailable {
                store: KeyringStore::SecretService,
                ..
            } => Some(
                "start a secret service on the session bus (a desktop keyring, or headless: \
                 `gnome-keyring-daemon --unlock --components=secrets` inside \
                 `dbus-run-session`), or read the kernel keyring with ?store=keyutils"
                    .into(),
            ),
            Self::FileMissing { .. } => Some(
                "file:// paths are relative to the project directory; use file:///ABSOLUTE/PATH \
                 otherwise"
                    .into(),
            ),
            Self::FileUnreadable { source, .. } => match source {
                windlass_fs::ReadError::TooLarge { limit, .. } => Some(format!(
                    "a secret file holds one value of at most {}: check the path",
                    windlass_fs::ByteSize(*limit)
                )),
                other => other.hint().map(str::to_owned),
            },
            Self::Vault(v) => v.hint(),
        }
    }
}

impl Diagnostic for VaultError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Unreachable { .. }
            | Self::Refused(_)
            | Self::Sealed { .. }
            | Self::Denied { .. }
            | Self::TokenInvalid { .. }
            | Self::OidcFetch(_)
            | Self::OidcMalformed
            | Self::Unwrap { .. }
            | Self::LoginRejected { .. }
            | Self::AppRoleRejected { .. }
            | Self::Unexpected { .. }
            | Self::Malformed { .. } => ExitStatus::Remote,
            Self::AppRoleCredential { source, .. } => source.exit_status(),
            Self::Closed => ExitStatus::Bug,
            Self::NoAddress
            | Self::BadAddress { .. }
            | Self::Client(_)
            | Self::SecretNotFound { .. }
            | Self::KeyMissing { .. }
            | Self::NotAString { .. }
            | Self::NotKv { .. }
            | Self::NoToken
            | Self::AuthNotConfigured { .. }
            | Self::OidcUnavailable { .. }
            | Self::GitlabTokenMissing { .. }
            | Self::KubernetesTokenUnreadable { .. }
            | Self::KubernetesTokenMalformed { .. }
            | Self::TokenFileUnreadable { .. }
            | Self::AppRoleVaultRef { .. } => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::NoAddress => "set VAULT_ADDR or `address` in the `[vault]` table".into(),
            Self::BadAddress { .. } => "write the address as https://HOST:PORT".into(),
            Self::Client(e) => return windlass_output_hint_build(e),
            Self::Unreachable { address, source } => unreachable_hint(address, source),
            Self::Refused(source) => return source.hint(),
            Self::Sealed { .. } => {
                "an operator must unseal it (`bao operator unseal` / `vault operator unseal`)"
                    .into()
            }
            Self::Denied { path, policies } => {
                let held = if policies.is_empty() {
                    String::new()
                } else {
                    format!(" (the token has: {})", policies.join(", "))
                };
                format!(
                    "grant `read` on `{path}` in a policy attached to this token{held}, e.g. \
                     path \"{path}\" {{ capabilities = [\"read\"] }}"
                )
            }
            Self::SecretNotFound { path } => {
                format!("check the path; `bao kv list` the parent of `{path}` to see what exists")
            }
            Self::KeyMissing { available, .. } if available.is_empty() => {
                "the secret has no keys".into()
            }
            Self::KeyMissing { available, .. } => {
                format!("keys that exist: {}", available.join(", "))
            }
            Self::NotAString { .. } => "reference a key whose value is a string".into(),
            Self::NotKv { .. } => "only kv (version 1 or 2) mounts can be read".into(),
            Self::TokenInvalid {
                user_supplied: true,
                ..
            } => "log in again (`bao login` / `vault login`) or set a fresh VAULT_TOKEN".into(),
            Self::TokenInvalid {
                user_supplied: false,
                ..
            } => "the token Windlass logged in with expired; raise the role's token_ttl".into(),
            Self::NoToken => "set VAULT_TOKEN, run `bao login`, or configure another \
                              `auth` method in the `[vault]` table"
                .into(),
            Self::AuthNotConfigured { method } => {
                format!("add a `[vault.{method}]` table with at least `role`")
            }
            Self::OidcUnavailable { .. } => "give the job the permission to request an OIDC \
                                             token: `permissions: id-token: write`"
                .into(),
            Self::OidcFetch(e) => e
                .hint()
                .unwrap_or_else(|| "retry the job; GitHub's token service failed".into()),
            Self::OidcMalformed => "retry the job; GitHub's token service failed".into(),
            Self::GitlabTokenMissing { name } => format!(
                "declare it in the job: `id_tokens: {name}: {{ aud: https://vault.example.org }}`"
            ),
            Self::KubernetesTokenUnreadable { source, .. } if !source.is_not_found() => {
                return source.hint().map(str::to_owned);
            }
            Self::KubernetesTokenUnreadable { .. } => {
                "run inside a pod with a service account token mounted, or set `token-file`".into()
            }
            Self::KubernetesTokenMalformed { .. } => {
                "point `token-file` at the service-account token a pod has mounted \
                 (`/var/run/secrets/kubernetes.io/serviceaccount/token`)"
                    .into()
            }
            Self::TokenFileUnreadable { .. } => {
                "`~/.vault-token` must be a regular file holding the token: replace it \
                 (`bao login` writes one), or set VAULT_TOKEN"
                    .into()
            }
            Self::AppRoleCredential { source, .. } => return source.hint(),
            Self::AppRoleVaultRef { .. } => {
                "e.g. role-id = \"env://VAULT_ROLE_ID\", secret-id = \"file:///run/secrets/id\""
                    .into()
            }
            Self::Unwrap { .. } => "a wrapping token can be unwrapped once and expires; \
                                    request a fresh wrapped secret id"
                .into(),
            Self::LoginRejected {
                method,
                mount,
                role,
                claim,
                message,
            } => login_rejected_hint(method, mount, role, claim.as_deref(), message),
            Self::AppRoleRejected {
                role_id_from,
                secret_id_from,
                ..
            } => approle_rejected_hint(role_id_from, secret_id_from),
            Self::Unexpected { .. } | Self::Malformed { .. } | Self::Closed => return None,
        })
    }
}

fn unreachable_hint(address: &RedactedUrl, source: &HttpError) -> String {
    if source.answers_plain_http() {
        format!(
            "the server at {address} answers plain http: use http:// (loopback only) or enable \
             TLS on it"
        )
    } else if source.kind() == windlass_http::ErrorKind::Tls {
        "vault's certificate is not trusted: if a private ca signed it, point VAULT_CACERT (or \
         `ca-file` in the `[vault]` table) at the ca's pem file"
            .into()
    } else {
        source.hint().unwrap_or_else(|| {
            "check VAULT_ADDR (or `[vault] address`) and that the server is running".into()
        })
    }
}

fn login_rejected_hint(
    method: &str,
    mount: &str,
    role: &str,
    claim: Option<&str>,
    message: &str,
) -> String {
    match (method, claim) {
        ("kubernetes", _) => kubernetes_rejected_hint(mount, role, message),
        (_, Some(claim)) => format!(
            "the token's `{claim}` claim is not allowed by role `{role}`: run from an \
             allowed repository/ref/environment or widen the role's bound_claims"
        ),
        (_, None) => {
            format!("check the role `{role}` at `auth/{mount}` (bound audiences, claims, ttl)")
        }
    }
}

/// What to check when Vault's kubernetes auth method refuses a token, by
/// what it answered. It checks the role's bindings itself, then asks the
/// API server to review the token (TokenReview) and answers a bare
/// `permission denied` whenever the review fails: a token the API server
/// does not accept (not a token, or one of a deleted service account), but
/// also a reviewer that cannot review (a wrong `kubernetes_host`, CA or
/// `token_reviewer_jwt`).
fn kubernetes_rejected_hint(mount: &str, role: &str, message: &str) -> String {
    if message.contains("service account name not authorized") {
        format!(
            "the token's service account is not in `bound_service_account_names` of role \
             `{role}` at `auth/{mount}`: run with a service account the role binds, or add it"
        )
    } else if message.contains("namespace not authorized") {
        format!(
            "the token's namespace is not in `bound_service_account_namespaces` of role \
             `{role}` at `auth/{mount}`: run in a namespace the role binds, or add it"
        )
    } else if message.contains("invalid role name") {
        format!("there is no role `{role}` at `auth/{mount}`: set `[vault.kubernetes] role`")
    } else if message.contains("(aud)") {
        format!(
            "the token's audience is not the `audience` of role `{role}`: mount a projected \
             token for that audience, or change the role"
        )
    } else if message.contains("(iss)") {
        format!(
            "the token's issuer is not the `issuer` of `auth/{mount}/config`: set the \
             cluster's (`kubernetes/serviceaccount` for tokens kept in Secrets)"
        )
    } else {
        format!(
            "the kubernetes api server did not accept the token (not the pod's current \
             service-account token, or its service account was deleted), or vault cannot \
             review tokens: check `token-file`, then `auth/{mount}/config` (kubernetes_host, \
             kubernetes_ca_cert, token_reviewer_jwt)"
        )
    }
}

fn approle_rejected_hint(role_id_from: &str, secret_id_from: &str) -> String {
    format!(
        "check `[vault.approle] role-id` (read from {role_id_from}) and `secret-id` (read from \
         {secret_id_from}): the role id must be the role's, and the secret id one issued for \
         that role that has not expired or been used up"
    )
}

fn windlass_output_hint_build(e: &windlass_http::BuildError) -> Option<String> {
    match e {
        windlass_http::BuildError::ReadCaFile { .. }
        | windlass_http::BuildError::NoCertificate { .. }
        | windlass_http::BuildError::InvalidCertificate { .. } => {
            Some("check VAULT_CACERT (or `[vault] ca-file`): it must be a PEM file".into())
        }
        _ => None,
    }
}

/// How a failed secret is reported by `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "SecretStatus")]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    /// The reference is valid but nothing is there.
    Missing,
    /// The store refused: permissions, a rejected login, an expired token.
    Denied,
    /// The store could not be reached (network, sealed, server error).
    Unreachable,
    /// The reference or configuration is wrong.
    Invalid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::Denied => "denied",
            Self::Unreachable => "unreachable",
            Self::Invalid => "invalid",
        }
    }
}

impl ResolveError {
    /// The `check` status of this failure.
    pub fn status(&self) -> Status {
        match self {
            Self::Reference(_) | Self::EnvNotUnicode { .. } | Self::FileNotUnicode { .. } => {
                Status::Invalid
            }
            Self::EnvMissing { .. } | Self::KeyringMissing { .. } | Self::FileMissing { .. } => {
                Status::Missing
            }
            Self::FileUnreadable { source, .. } => match source {
                windlass_fs::ReadError::Open { .. } | windlass_fs::ReadError::Read { .. } => {
                    Status::Denied
                }
                _ => Status::Invalid,
            },
            Self::KeyringUnavailable { .. } => Status::Unreachable,
            Self::Vault(v) => v.status(),
        }
    }
}

impl VaultError {
    /// The `check` status of this failure.
    pub fn status(&self) -> Status {
        match self {
            Self::SecretNotFound { .. } | Self::KeyMissing { .. } => Status::Missing,
            Self::Denied { .. }
            | Self::TokenInvalid { .. }
            | Self::LoginRejected { .. }
            | Self::AppRoleRejected { .. }
            | Self::Unwrap { .. }
            | Self::NoToken
            | Self::OidcUnavailable { .. }
            | Self::GitlabTokenMissing { .. }
            | Self::KubernetesTokenUnreadable { .. }
            | Self::KubernetesTokenMalformed { .. }
            | Self::TokenFileUnreadable { .. } => Status::Denied,
            Self::Unreachable { .. }
            | Self::Refused(_)
            | Self::Sealed { .. }
            | Self::OidcFetch(_)
            | Self::OidcMalformed
            | Self::Unexpected { .. }
            | Self::Malformed { .. }
            | Self::Client(_)
            | Self::Closed => Status::Unreachable,
            Self::AppRoleCredential { source, .. } => source.status(),
            Self::NoAddress
            | Self::BadAddress { .. }
            | Self::NotAString { .. }
            | Self::NotKv { .. }
            | Self::AuthNotConfigured { .. }
            | Self::AppRoleVaultRef { .. } => Status::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use windlass_output::Diagnostic as _;

    use super::VaultError;

    /// Each answer OpenBao's kubernetes auth method gives a refused login
    /// (as a real server gives them) gets the hint for that refusal.
    #[test]
    fn kubernetes_refusals_have_their_own_hints() {
        let answers = [
            "service account name not authorized",
            "namespace not authorized",
            "invalid role name \"release\"",
            "invalid audience (aud) claim: audience claim does not match any expected audience",
            "invalid issuer (iss) claim",
            "permission denied",
        ];
        let mut out = String::new();
        for message in answers {
            let error = VaultError::LoginRejected {
                method: "kubernetes",
                mount: "kubernetes".into(),
                role: "release".into(),
                claim: None,
                message: message.into(),
            };
            let _ = writeln!(out, "{error}\n  hint: {}", error.hint().unwrap());
        }
        insta::assert_snapshot!(out);
    }
}
