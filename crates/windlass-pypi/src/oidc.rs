//! Trusted publishing: exchanging a CI identity token (GitHub Actions,
//! GitLab CI) for a short-lived upload token, the way PyPI (warehouse)
//! implements it.
//!
//! 1. `GET {index}/_/oidc/audience` → `{"audience": "pypi"}`.
//! 2. The CI identity token for that audience: GitHub Actions
//!    `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD` with
//!    `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` → `{"value": JWT}`;
//!    GitLab CI: the `PYPI_ID_TOKEN` variable declared under `id_tokens:`.
//! 3. `POST {index}/_/oidc/mint-token` `{"token": JWT}` →
//!    `{"success": true, "token": "pypi-…", "expires": UNIX}` or an error
//!    `{"message": …, "errors": [{"code": "invalid-publisher", "description": …}]}`.
//!
//! Both tokens are registered with the redactor and masked in GitHub
//! Actions as soon as they arrive. The upload token is minted again when it
//! is about to expire, so a long upload never runs on a stale token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use url::Url;
use windlass_config::Environment;
use windlass_http::{HttpClient, HttpError, Method, header};
use windlass_output::Printer;
use windlass_redact::{RedactedUrl, Secret};

/// The GitLab CI variable holding the ID token (declared under `id_tokens:`).
pub const GITLAB_ID_TOKEN_VAR: &str = "PYPI_ID_TOKEN";

/// Mint again when the token has less than this left.
const REMINT_MARGIN: Duration = Duration::from_secs(120);
/// Assumed lifetime when the index does not say (warehouse: 15 minutes).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The largest error body we read from the mint endpoint.
const MAX_ERROR_BYTES: usize = 16 * 1024;
/// The largest answer read from the index or the CI token service: a token
/// or an audience, a few KiB at most.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// Whether a CI identity token can be had here.
pub fn identity_available(env: &Environment) -> bool {
    github_request(env).is_some() || env.get_str(GITLAB_ID_TOKEN_VAR).is_some()
}

fn github_request(env: &Environment) -> Option<(String, Secret<String>)> {
    let url = env.get_str("ACTIONS_ID_TOKEN_REQUEST_URL")?;
    let token = env.get_str("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?;
    Some((url.to_owned(), Secret::registered(token.to_owned())))
}

/// Trusted publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("cannot ask the index for its trusted-publishing audience")]
    Audience(#[source] HttpError),
    #[error("the index's trusted-publishing audience answer is not `{{\"audience\": ...}}`")]
    AudienceBody,
    #[error("cannot get the CI identity token")]
    IdToken(#[source] HttpError),
    #[error("the CI identity token answer is not `{{\"value\": ...}}`")]
    IdTokenBody,
    #[error(
        "no CI identity token is available (GitHub Actions `ACTIONS_ID_TOKEN_REQUEST_*` or GitLab `{GITLAB_ID_TOKEN_VAR}`)"
    )]
    NoIdentity,
    #[error("cannot mint an upload token")]
    MintHttp(#[source] HttpError),
    #[error(
        "the index refused to mint an upload token: {message}{}",
        format_errors(errors)
    )]
    Refused {
        message: String,
        errors: Vec<MintErrorEntry>,
    },
    #[error("the index's mint-token answer has no token")]
    MintBody,
}

/// One entry of a mint-token error answer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MintErrorEntry {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub description: String,
}

fn format_errors(errors: &[MintErrorEntry]) -> String {
    errors.iter().fold(String::new(), |mut out, e| {
        out.push_str("; ");
        out.push_str(&e.code);
        out.push_str(": ");
        out.push_str(&e.description);
        out
    })
}

impl windlass_output::Diagnostic for OidcError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Remote
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Audience(_) | Self::AudienceBody => Some(
                "the index may not support trusted publishing; use a token instead (`--token REF`)"
                    .to_owned(),
            ),
            Self::IdToken(_) | Self::IdTokenBody | Self::NoIdentity => {
                Some("in GitHub Actions grant the job `permissions: id-token: write`".to_owned())
            }
            Self::Refused { errors, .. } => {
                let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
                if codes.contains(&"invalid-publisher") {
                    Some("register a trusted publisher for this project on the index whose repository, workflow and environment match this job's identity token".to_owned())
                } else if codes.iter().any(|c| c.contains("token")) {
                    Some("the identity token was rejected (expired, or minted for another audience); re-run the job".to_owned())
                } else {
                    None
                }
            }
            Self::MintHttp(_) | Self::MintBody => None,
        }
    }
}

#[derive(Debug)]
struct Minted {
    token: Secret<String>,
    expires_at: SystemTime,
}

/// Hands out upload tokens from trusted publishing, minting again before
/// they expire.
#[derive(Debug)]
pub struct TrustedPublisher {
    client: HttpClient,
    base: Url,
    env: Environment,
    minted: tokio::sync::Mutex<Option<Minted>>,
    mints: std::sync::atomic::AtomicU32,
}

#[derive(Deserialize)]
struct AudienceAnswer {
    audience: String,
}

#[derive(Deserialize)]
struct IdTokenAnswer {
    value: String,
}

#[derive(Deserialize)]
struct MintAnswer {
    token: Option<String>,
    expires: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct MintErrorAnswer {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<MintErrorEntry>,
}

impl TrustedPublisher {
    pub fn new(client: HttpClient, base: Url, env: Environment) -> Self {
        Self {
            client,
            base,
            env,
            minted: tokio::sync::Mutex::new(None),
            mints: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// How many tokens were minted so far.
    pub fn mint_count(&self) -> u32 {
        self.mints.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid upload token: the current one, or a fresh one when it is
    /// about to expire.
    pub async fn token(&self, printer: &Printer) -> Result<Secret<String>, OidcError> {
        let mut minted = self.minted.lock().await;
        if let Some(current) = minted.as_ref() {
            let left = current
                .expires_at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            if left > REMINT_MARGIN {
                return Ok(current.token.clone());
            }
        }
        let fresh = self.mint(printer).await?;
        let token = fresh.token.clone();
        *minted = Some(fresh);
        Ok(token)
    }

    fn endpoint(&self, path: &str) -> RedactedUrl {
        let mut base = self.base.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        RedactedUrl::new(base.join(path).unwrap_or(base))
    }

    async fn mint(&self, printer: &Printer) -> Result<Minted, OidcError> {
        let audience_url = self.endpoint("_/oidc/audience");
        let response = self
            .client
            .send(Method::GET, &audience_url, |r| r)
            .await
            .map_err(OidcError::Audience)?;
        let audience: AudienceAnswer =
            windlass_http::read_json(&Method::GET, &audience_url, response, MAX_ANSWER_BYTES)
                .await
                .map_err(|_| OidcError::AudienceBody)?;
        let identity = self.identity_token(&audience.audience).await?;
        if let Some(github) = printer.github() {
            let _ = github.add_mask(&identity);
        }
        let mint_url = self.endpoint("_/oidc/mint-token");
        let body = serde_json::json!({ "token": identity.expose() }).to_string();
        let response = self
            .client
            .send(Method::POST, &mint_url, |r| {
                r.header(header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                if error.status().is_some_and(|s| s.is_client_error())
                    && let Some(response) = error.take_response()
                    && let Some(text) = windlass_http::read_snippet(response, MAX_ERROR_BYTES).await
                    && let Ok(answer) = serde_json::from_str::<MintErrorAnswer>(&text)
                {
                    return Err(OidcError::Refused {
                        message: answer.message,
                        errors: answer.errors,
                    });
                }
                return Err(OidcError::MintHttp(error));
            }
        };
        let answer: MintAnswer =
            windlass_http::read_json(&Method::POST, &mint_url, response, MAX_ANSWER_BYTES)
                .await
                .map_err(|_| OidcError::MintBody)?;
        let token = answer.token.ok_or(OidcError::MintBody)?;
        let token = Secret::registered(token);
        if let Some(github) = printer.github() {
            let _ = github.add_mask(&token);
        }
        let expires_at = answer
            .expires
            .as_ref()
            .and_then(serde_json::Value::as_f64)
            .and_then(|secs| {
                let secs = secs.max(0.0);
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a unix timestamp in seconds, clamped to be non-negative"
                )]
                let secs = secs as u64;
                UNIX_EPOCH.checked_add(Duration::from_secs(secs))
            })
            .unwrap_or_else(|| SystemTime::now() + DEFAULT_LIFETIME);
        self.mints
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!("minted an upload token by trusted publishing");
        Ok(Minted { token, expires_at })
    }

    async fn identity_token(&self, audience: &str) -> Result<Secret<String>, OidcError> {
        if let Some((request_url, request_token)) = github_request(&self.env) {
            let separator = if request_url.contains('?') { '&' } else { '?' };
            let url = format!(
                "{request_url}{separator}audience={}",
                utf8_percent_encode(audience, NON_ALPHANUMERIC)
            );
            let url = RedactedUrl::parse(&url).map_err(|_| OidcError::IdTokenBody)?;
            let response = self
                .client
                .send(Method::GET, &url, |r| {
                    r.header(
                        header::AUTHORIZATION,
                        format!("bearer {}", request_token.expose()),
                    )
                })
                .await
                .map_err(OidcError::IdToken)?;
            let answer: IdTokenAnswer =
                windlass_http::read_json(&Method::GET, &url, response, MAX_ANSWER_BYTES)
                    .await
                    .map_err(|_| OidcError::IdTokenBody)?;
            return Ok(Secret::registered(answer.value));
        }
        if let Some(token) = self.env.get_str(GITLAB_ID_TOKEN_VAR) {
            return Ok(Secret::registered(token.to_owned()));
        }
        Err(OidcError::NoIdentity)
    }
}
