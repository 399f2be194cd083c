//! Logging in to Vault: token, AppRole, GitHub Actions and GitLab OIDC,
//! Kubernetes. Every credential read here is registered with the redactor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use windlass_http::{ErrorKind, Method};
use windlass_redact::{RedactedUrl, Secret};

use super::api::{Api, ApiFailure};
use crate::config::{
    AppRoleSection, AuthMethod, GithubActionsSection, GitlabSection, KubernetesSection,
    VaultSection,
};
use crate::error::{ResolveError, VaultError};
use windlass_config::Environment;

use crate::local;
use crate::reference::SecretRef;

/// Where Vault is and how to log in, after `windlass.toml` and the
/// environment (`VAULT_ADDR`, `VAULT_NAMESPACE`, `VAULT_CACERT`) are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSettings {
    pub address: String,
    pub namespace: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub auth: AuthSettings,
}

/// A login method with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    Token,
    AppRole(AppRoleSection),
    GithubActions(GithubActionsSection),
    Gitlab(GitlabSection),
    Kubernetes(KubernetesSection),
}

impl VaultSettings {
    /// Merges the `[vault]` table with the environment, which wins (the
    /// documented precedence: file < environment < flags). Relative paths
    /// are relative to `base`.
    pub fn from_config(
        section: &VaultSection,
        env: &Environment,
        base: &Path,
    ) -> Result<Self, VaultError> {
        let address = env
            .get_str("VAULT_ADDR")
            .map(str::to_owned)
            .or_else(|| section.address.clone())
            .ok_or(VaultError::NoAddress)?;
        let namespace = env
            .get_str("VAULT_NAMESPACE")
            .map(str::to_owned)
            .or_else(|| section.namespace.clone());
        let ca_file = env
            .get_str("VAULT_CACERT")
            .map(PathBuf::from)
            .or_else(|| section.ca_file.as_ref().map(|p| p.resolve(base)));
        let missing = |method: AuthMethod| VaultError::AuthNotConfigured {
            method: method.to_string(),
        };
        let auth = match section.auth.unwrap_or(AuthMethod::Token) {
            AuthMethod::Token => AuthSettings::Token,
            AuthMethod::Approle => AuthSettings::AppRole(
                section
                    .approle
                    .clone()
                    .ok_or_else(|| missing(AuthMethod::Approle))?,
            ),
            AuthMethod::GithubActions => AuthSettings::GithubActions(
                section
                    .github_actions
                    .clone()
                    .ok_or_else(|| missing(AuthMethod::GithubActions))?,
            ),
            AuthMethod::Gitlab => AuthSettings::Gitlab(
                section
                    .gitlab
                    .clone()
                    .ok_or_else(|| missing(AuthMethod::Gitlab))?,
            ),
            AuthMethod::Kubernetes => AuthSettings::Kubernetes(
                section
                    .kubernetes
                    .clone()
                    .ok_or_else(|| missing(AuthMethod::Kubernetes))?,
            ),
        };
        Ok(Self {
            address,
            namespace,
            ca_file,
            auth,
        })
    }
}

/// Whose a token is, which decides whether Windlass renews and revokes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Custody {
    /// The user supplied it (`VAULT_TOKEN`, `~/.vault-token`): never renewed
    /// nor revoked, it outlives the run.
    User,
    /// Windlass logged in for it: renewed while in use, revoked at the end.
    Service,
    /// Windlass logged in for it, but a batch token can be neither renewed
    /// nor revoked: it expires with its TTL.
    Batch,
}

impl Custody {
    /// Why a token is left alone, for the log; `None` for a token Windlass
    /// renews and revokes.
    pub(crate) fn left_alone_because(self) -> Option<&'static str> {
        match self {
            Self::User => Some("it was supplied by the user"),
            Self::Batch => Some("it is a batch token, which expires with its ttl"),
            Self::Service => None,
        }
    }
}

/// A token and what we know about it.
pub(crate) struct Login {
    pub(crate) token: Secret<String>,
    pub(crate) custody: Custody,
    /// Vault says it can be renewed (never for user and batch tokens).
    pub(crate) renewable: bool,
    pub(crate) ttl: Duration,
    pub(crate) policies: Vec<String>,
    /// The token's accessor (not a secret: it can only look up or revoke).
    pub(crate) accessor: Option<String>,
    /// For messages: `from VAULT_TOKEN`, `from approle login`.
    pub(crate) source: String,
}

pub(crate) async fn login(
    api: &Api,
    auth: &AuthSettings,
    env: &Environment,
    base: &Path,
) -> Result<Login, VaultError> {
    match auth {
        AuthSettings::Token => user_token(env),
        AuthSettings::AppRole(c) => approle(api, c, env, base).await,
        AuthSettings::GithubActions(c) => {
            let jwt = github_oidc_token(api, c, env).await?;
            jwt_login(api, "jwt", &c.mount, &c.role, &jwt).await
        }
        AuthSettings::Gitlab(c) => gitlab(api, c, env).await,
        AuthSettings::Kubernetes(c) => kubernetes(api, c, base).await,
    }
}

fn user_token(env: &Environment) -> Result<Login, VaultError> {
    let (token, source) = if let Some(t) = env.get_str("VAULT_TOKEN") {
        (t.trim().to_owned(), "from VAULT_TOKEN")
    } else {
        let file = env
            .home()
            .map(|h| h.join(".vault-token"))
            .ok_or(VaultError::NoToken)?;
        match local::read_token(&file) {
            Ok(t) if !t.trim().is_empty() => (t.trim().to_owned(), "from ~/.vault-token"),
            Ok(_) => return Err(VaultError::NoToken),
            Err(windlass_fs::ReadError::Open { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(VaultError::NoToken);
            }
            // A fifo, a device, a huge file: say so, never "no token".
            Err(source) => return Err(VaultError::TokenFileUnreadable { path: file, source }),
        }
    };
    Ok(Login {
        token: Secret::registered(token),
        custody: Custody::User,
        renewable: false,
        ttl: Duration::ZERO,
        policies: Vec::new(),
        accessor: None,
        source: source.to_owned(),
    })
}

async fn approle(
    api: &Api,
    c: &AppRoleSection,
    env: &Environment,
    base: &Path,
) -> Result<Login, VaultError> {
    let role_id = credential(&c.role_id, "role id", env, base).await?;
    let mut secret_id = credential(&c.secret_id, "secret id", env, base).await?;
    if c.wrapped {
        secret_id = unwrap_secret_id(api, &secret_id).await?;
    }
    let body = Secret::new(json!({
        "role_id": role_id.expose(),
        "secret_id": secret_id.expose(),
    }));
    let path = format!("auth/{}/login", c.mount);
    let answer = api.call(Method::POST, &path, None, Some(&body)).await;
    let answer = answer.map_err(|f| match login_failure(api, f, "approle", &c.mount, "") {
        VaultError::LoginRejected { message, .. } => VaultError::AppRoleRejected {
            mount: c.mount.clone(),
            role_id_from: c.role_id.clone(),
            secret_id_from: if c.wrapped {
                format!("{} (wrapped)", c.secret_id)
            } else {
                c.secret_id.clone()
            },
            message,
        },
        other => other,
    })?;
    parse_login(&answer, &path, "from approle login")
}

/// Resolves an AppRole id from its reference (never `vault://`).
async fn credential(
    reference: &str,
    what: &'static str,
    env: &Environment,
    base: &Path,
) -> Result<Secret<String>, VaultError> {
    let wrap = |source: ResolveError| VaultError::AppRoleCredential {
        what,
        source: Box::new(source),
    };
    let parsed = SecretRef::parse(reference).map_err(|e| wrap(e.into()))?;
    let value = match &parsed {
        SecretRef::Env(r) => local::read_env(env, r),
        SecretRef::File(r) => local::read_file(&local::file_path(env, base, r)),
        SecretRef::Keyring(r) => local::read_keyring(env, r).await,
        SecretRef::Vault(_) => return Err(VaultError::AppRoleVaultRef { what }),
    }
    .map_err(wrap)?;
    Ok(Secret::registered(value.into_exposed()))
}

async fn unwrap_secret_id(
    api: &Api,
    wrapping: &Secret<String>,
) -> Result<Secret<String>, VaultError> {
    let path = "sys/wrapping/unwrap";
    let answer = match api.call(Method::POST, path, Some(wrapping), None).await {
        Ok(a) => a,
        Err(f) => {
            let (_, errors) = api.common(f, path)?;
            return Err(VaultError::Unwrap {
                message: if errors.is_empty() {
                    "refused".into()
                } else {
                    errors.join("; ")
                },
            });
        }
    };
    answer
        .pointer("/data/secret_id")
        .and_then(Value::as_str)
        .map(|s| Secret::registered(s.to_owned()))
        .ok_or_else(|| VaultError::Unwrap {
            message: "the wrapped answer holds no secret_id".into(),
        })
}

/// The largest answer read from GitHub's token service (a JWT of a few KiB).
const MAX_OIDC_ANSWER_BYTES: u64 = 1024 * 1024;

/// Fetches the job's OIDC token from GitHub Actions.
async fn github_oidc_token(
    api: &Api,
    c: &GithubActionsSection,
    env: &Environment,
) -> Result<Secret<String>, VaultError> {
    let url = env.get_str("ACTIONS_ID_TOKEN_REQUEST_URL");
    let request_token = env.get_str("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    let (Some(url), Some(request_token)) = (url, request_token) else {
        let missing = [
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ]
        .into_iter()
        .filter(|n| env.get_str(n).is_none())
        .map(str::to_owned)
        .collect();
        return Err(VaultError::OidcUnavailable { missing });
    };
    let request_token = Secret::registered(request_token.to_owned());
    let mut url = url::Url::parse(url).map_err(|_| VaultError::OidcMalformed)?;
    if let Some(audience) = &c.audience {
        url.query_pairs_mut().append_pair("audience", audience);
    }
    let url = RedactedUrl::new(url);
    let response = api
        .http()
        .send(Method::GET, &url, |r| {
            r.header(
                "Authorization",
                format!("bearer {}", request_token.expose()),
            )
            .header("Accept", "application/json")
        })
        .await
        .map_err(VaultError::OidcFetch)?;
    let answer: Value =
        windlass_http::read_json(&Method::GET, &url, response, MAX_OIDC_ANSWER_BYTES)
            .await
            .map_err(|error| match error.kind() {
                windlass_http::ErrorKind::TooLarge | windlass_http::ErrorKind::Body => {
                    VaultError::OidcFetch(error)
                }
                _ => VaultError::OidcMalformed,
            })?;
    answer
        .get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(|v| Secret::registered(v.to_owned()))
        .ok_or(VaultError::OidcMalformed)
}

async fn gitlab(api: &Api, c: &GitlabSection, env: &Environment) -> Result<Login, VaultError> {
    let jwt = env
        .get_str(&c.token_env)
        .map(|v| Secret::registered(v.trim().to_owned()))
        .ok_or_else(|| VaultError::GitlabTokenMissing {
            name: c.token_env.clone(),
        })?;
    jwt_login(api, "jwt", &c.mount, &c.role, &jwt).await
}

async fn kubernetes(api: &Api, c: &KubernetesSection, base: &Path) -> Result<Login, VaultError> {
    let path = base.join(&c.token_file);
    let jwt = local::read_token(&path).map_err(|source| VaultError::KubernetesTokenUnreadable {
        path: path.clone(),
        source,
    })?;
    let jwt = Secret::registered(jwt.trim().to_owned());
    if !looks_like_jwt(jwt.expose()) {
        return Err(VaultError::KubernetesTokenMalformed {
            path,
            mount: c.mount.clone(),
            role: c.role.clone(),
        });
    }
    jwt_login(api, "kubernetes", &c.mount, &c.role, &jwt).await
}

/// Whether `token` has the shape of a signed JWT: three non-empty parts of
/// base64url characters, separated by dots. Nothing is decoded or
/// verified: the API server's TokenReview does that.
fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

async fn jwt_login(
    api: &Api,
    method: &'static str,
    mount: &str,
    role: &str,
    jwt: &Secret<String>,
) -> Result<Login, VaultError> {
    let body = Secret::new(json!({ "role": role, "jwt": jwt.expose() }));
    let path = format!("auth/{mount}/login");
    let answer = api.call(Method::POST, &path, None, Some(&body)).await;
    let answer = answer.map_err(|f| login_failure(api, f, method, mount, role))?;
    parse_login(&answer, &path, &format!("from {method} login"))
}

fn login_failure(
    api: &Api,
    failure: ApiFailure,
    method: &'static str,
    mount: &str,
    role: &str,
) -> VaultError {
    let path = format!("auth/{mount}/login");
    match api.common(failure, &path) {
        Err(e) => e,
        Ok((status, errors)) if (400..500).contains(&status) => {
            let message = if errors.is_empty() {
                format!("status {status}")
            } else {
                errors.join("; ")
            };
            VaultError::LoginRejected {
                method,
                mount: mount.to_owned(),
                role: role.to_owned(),
                claim: rejected_claim(&message),
                message,
            }
        }
        Ok((status, errors)) => Api::unexpected(&path, status, &errors),
    }
}

/// The claim Vault names in a rejection (`claim "ref" does not match`,
/// `audience claim does not match`, `token is expired`).
fn rejected_claim(message: &str) -> Option<String> {
    if let Some(start) = message.find("claim \"") {
        let rest = &message[start + 7..];
        return rest.find('"').map(|end| rest[..end].to_owned());
    }
    if message.contains("aud") && message.contains("claim") {
        return Some("aud".into());
    }
    if message.contains("expired") {
        return Some("exp".into());
    }
    None
}

fn parse_login(answer: &Value, path: &str, source: &str) -> Result<Login, VaultError> {
    let auth = answer.get("auth").ok_or_else(|| VaultError::Malformed {
        path: path.to_owned(),
    })?;
    let token = auth
        .get("client_token")
        .and_then(Value::as_str)
        .ok_or_else(|| VaultError::Malformed {
            path: path.to_owned(),
        })?;
    let batch = auth.get("token_type").and_then(Value::as_str) == Some("batch")
        || token.starts_with("b.")
        || token.starts_with("hvb.");
    let policies = auth
        .get("token_policies")
        .or_else(|| auth.get("policies"))
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(Login {
        token: Secret::registered(token.to_owned()),
        custody: if batch {
            Custody::Batch
        } else {
            Custody::Service
        },
        renewable: !batch
            && auth
                .get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ttl: ttl_from(auth.get("lease_duration")),
        policies,
        // Batch tokens have an empty accessor.
        accessor: auth
            .get("accessor")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        source: source.to_owned(),
    })
}

/// The longest TTL taken from Vault: its default system maximum (32 days).
/// A longer `lease_duration` is clamped to it, so that no schedule built on
/// it overflows.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(32 * 24 * 60 * 60);

/// The shortest wait before a renewal, however short the TTL.
const MIN_RENEW_WAIT: Duration = Duration::from_secs(1);

/// A TTL as Vault sends it (`lease_duration`, `ttl`): whole seconds,
/// clamped to [`MAX_TTL`]. Anything that is not a non-negative number
/// (a negative, a string, `null`, a missing field) is zero: no TTL, nothing
/// to renew. A fraction is cut off.
pub(crate) fn ttl_from(value: Option<&Value>) -> Duration {
    let Some(Value::Number(number)) = value else {
        return Duration::ZERO;
    };
    let ttl = match number.as_u64() {
        Some(secs) => Duration::from_secs(secs.min(MAX_TTL.as_secs())),
        None => number
            .as_f64()
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .and_then(|secs| Duration::try_from_secs_f64(secs.min(MAX_TTL.as_secs_f64())).ok())
            .map_or(Duration::ZERO, |ttl| Duration::from_secs(ttl.as_secs())),
    };
    ttl.min(MAX_TTL)
}

/// How long to wait before renewing a token that has `ttl` left: about two
/// thirds of it, at least [`MIN_RENEW_WAIT`], at most two thirds of
/// [`MAX_TTL`].
pub(crate) fn renew_after(ttl: Duration) -> Duration {
    (ttl.min(MAX_TTL) * 2 / 3).max(MIN_RENEW_WAIT)
}

/// Renews an owned token at about two thirds of its TTL until aborted or
/// until Vault stops extending it.
pub(crate) async fn renew_loop(api: Api, token: Secret<String>, mut ttl: Duration) {
    loop {
        tokio::time::sleep(renew_after(ttl)).await;
        match api
            .call(Method::POST, "auth/token/renew-self", Some(&token), None)
            .await
        {
            Ok(answer) => {
                let next = ttl_from(answer.pointer("/auth/lease_duration"));
                tracing::debug!(ttl_secs = next.as_secs(), "renewed the vault token");
                if next.is_zero() {
                    return;
                }
                ttl = next;
            }
            Err(failure) => {
                let reason = match failure {
                    ApiFailure::Transport(e) if e.kind() == ErrorKind::Connect => {
                        "cannot connect".to_owned()
                    }
                    ApiFailure::Transport(e) => e.to_string(),
                    ApiFailure::Status { status, errors } => {
                        format!("{status} {}", errors.join("; "))
                    }
                    ApiFailure::Malformed => "malformed answer".to_owned(),
                };
                tracing::warn!("cannot renew the vault token: {reason}");
                return;
            }
        }
    }
}

/// Revokes an owned token; failures are logged, not fatal (the token
/// expires with its TTL anyway).
pub(crate) async fn revoke(api: &Api, token: &Secret<String>) {
    if api
        .call(Method::POST, "auth/token/revoke-self", Some(token), None)
        .await
        .is_ok()
    {
        tracing::debug!("revoked the vault token");
    } else {
        tracing::warn!("cannot revoke the vault token; it expires with its ttl");
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use serde_json::json;

    /// Whatever Vault sends as a lease duration, the TTL and the renewal
    /// schedule stay sane: no panic, no overflow, nothing beyond 32 days.
    #[test]
    fn hostile_lease_durations_are_clamped() {
        let cases = [
            json!(3600),
            json!(0),
            json!(1),
            json!(-5),
            json!(i64::MIN),
            json!(3600.9),
            json!(-0.5),
            json!(1e300),
            json!(f64::MAX),
            json!(u64::MAX),
            json!("3600"),
            json!(null),
            json!(true),
        ];
        let mut out = String::new();
        for case in &cases {
            let ttl = super::ttl_from(Some(case));
            let wait = super::renew_after(ttl);
            let _ = writeln!(
                out,
                "{case} -> ttl {}s, renew after {}s",
                ttl.as_secs(),
                wait.as_secs()
            );
            // The sleep's deadline fits.
            assert!(tokio::time::Instant::now().checked_add(wait).is_some());
        }
        let login =
            json!({"auth": {"client_token": "s.x", "lease_duration": u64::MAX, "renewable": true}});
        let parsed =
            super::parse_login(&login, "auth/approle/login", "from approle login").unwrap();
        let _ = writeln!(out, "login with u64::MAX -> ttl {}s", parsed.ttl.as_secs());
        assert_eq!(super::ttl_from(None), std::time::Duration::ZERO);
        insta::assert_snapshot!(out, @r#"
        3600 -> ttl 3600s, renew after 2400s
        0 -> ttl 0s, renew after 1s
        1 -> ttl 1s, renew after 1s
        -5 -> ttl 0s, renew after 1s
        -9223372036854775808 -> ttl 0s, renew after 1s
        3600.9 -> ttl 3600s, renew after 2400s
        -0.5 -> ttl 0s, renew after 1s
        1e+300 -> ttl 2764800s, renew after 1843200s
        1.7976931348623157e+308 -> ttl 2764800s, renew after 1843200s
        18446744073709551615 -> ttl 2764800s, renew after 1843200s
        "3600" -> ttl 0s, renew after 1s
        null -> ttl 0s, renew after 1s
        true -> ttl 0s, renew after 1s
        login with u64::MAX -> ttl 2764800s
        "#);
    }

    #[test]
    fn jwt_shape() {
        for good in ["eyJh.eyJz.c2ln", "a.b.c", "A-_9.x.y"] {
            assert!(super::looks_like_jwt(good), "{good}");
        }
        for bad in [
            "",
            "not-a-jwt",
            "a.b",
            "a.b.c.d",
            "a..c",
            "a.b.",
            "a.b.c=",
            "a.b c.d",
            "a.b/c.d",
        ] {
            assert!(!super::looks_like_jwt(bad), "{bad}");
        }
    }

    #[test]
    fn claims() {
        let cases = [
            "error validating claims: claim \"ref\" does not match any associated bound claim values",
            "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience",
            "error validating token: token is expired (exp)",
            "invalid role or secret ID",
        ];
        let out: Vec<_> = cases.iter().map(|c| super::rejected_claim(c)).collect();
        insta::assert_debug_snapshot!(out, @r#"
        [
            Some(
                "ref",
            ),
            Some(
                "aud",
            ),
            Some(
                "exp",
            ),
            None,
        ]
        "#);
    }
}
