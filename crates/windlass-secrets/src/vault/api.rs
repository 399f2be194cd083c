//! The Vault HTTP API, spoken through `windlass-http`.

use std::path::PathBuf;

use serde_json::Value;
use url::Url;
use windlass_http::{ErrorKind, HttpClient, HttpConfig, HttpError, Idempotency, Method};
use windlass_redact::{RedactedUrl, Secret};

use crate::error::VaultError;

/// The largest answer read from Vault: far above any real secret or token
/// answer (Vault's own request limit is 32 MiB, KV values are mostly under
/// a few KiB), far below what would hurt.
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// A Vault server: its address, namespace and the HTTP client.
#[derive(Clone)]
pub(crate) struct Api {
    http: HttpClient,
    base: Url,
    namespace: Option<String>,
}

/// A request that failed, before we know what it means for the caller.
#[derive(Debug)]
pub(crate) enum ApiFailure {
    /// No usable answer: connection, TLS, timeout, a body that broke.
    Transport(HttpError),
    /// An error status with Vault's `errors` list (redacted, never a value).
    Status { status: u16, errors: Vec<String> },
    /// A success status with a body that is not JSON.
    Malformed,
}

impl Api {
    pub(crate) fn new(
        address: &str,
        namespace: Option<String>,
        ca_file: Option<PathBuf>,
        http: &HttpConfig,
    ) -> Result<Self, VaultError> {
        // User info in the address is a credential: hidden (and registered
        // with the redactor) before anything can show the address.
        let shown = windlass_redact::mask_userinfo(address);
        let mut base = RedactedUrl::parse(address.trim())
            .ok()
            .map(RedactedUrl::into_exposed)
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| VaultError::BadAddress {
                address: windlass_redact::global().redact(&shown).into_owned(),
            })?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        // `[http]` settings; the Vault CA (`[vault] ca-file`, VAULT_CACERT)
        // replaces `[http] ca-file` for this client when set.
        let config = HttpConfig {
            extra_ca_file: ca_file.or_else(|| http.extra_ca_file.clone()),
            ..http.clone()
        };
        let http = HttpClient::new(&config).map_err(VaultError::Client)?;
        let namespace = namespace
            .map(|n| n.trim_matches('/').to_owned())
            .filter(|n| !n.is_empty());
        Ok(Self {
            http,
            base,
            namespace,
        })
    }

    pub(crate) fn address(&self) -> RedactedUrl {
        RedactedUrl::new(self.base.clone())
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    fn url(&self, path: &str) -> RedactedUrl {
        // `path` is a Vault API path we built; `join` keeps the base path
        // (a Vault behind a reverse proxy at /vault/).
        let joined = self
            .base
            .join(&format!("v1/{}", path.trim_start_matches('/')));
        RedactedUrl::new(joined.unwrap_or_else(|_| self.base.clone()))
    }

    /// Sends one API request and returns the JSON answer (`Value::Null` for
    /// `204 No Content`).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret<String>>,
        body: Option<&Secret<Value>>,
    ) -> Result<Value, ApiFailure> {
        let url = self.url(path);
        let idempotency = if method == Method::GET {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        let result = self
            .http
            .send_with(method.clone(), &url, idempotency, |mut request| {
                if let Some(token) = token {
                    request = request.header("X-Vault-Token", token.expose().as_str());
                }
                if let Some(namespace) = &self.namespace {
                    request = request.header("X-Vault-Namespace", namespace.as_str());
                }
                if let Some(body) = body {
                    request = request.json(body.expose());
                }
                request.header("X-Vault-Request", "true")
            })
            .await;
        match result {
            Ok(response) => {
                if response.status() == windlass_http::StatusCode::NO_CONTENT {
                    return Ok(Value::Null);
                }
                let bytes = windlass_http::read_bytes(&method, &url, response, MAX_ANSWER_BYTES)
                    .await
                    .map_err(ApiFailure::Transport)?;
                if bytes.is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_slice(&bytes).map_err(|_| ApiFailure::Malformed)
            }
            Err(error) if error.kind() == ErrorKind::Status => {
                let status = error.status().map_or(0, |s| s.as_u16());
                let errors = match error.body_snippet().await {
                    Some(text) => parse_errors(&text),
                    None => Vec::new(),
                };
                Err(ApiFailure::Status { status, errors })
            }
            Err(error) => Err(ApiFailure::Transport(error)),
        }
    }

    /// Maps what every call shares: transport errors and a sealed server.
    /// Other statuses are returned for the caller to interpret.
    pub(crate) fn common(
        &self,
        failure: ApiFailure,
        path: &str,
    ) -> Result<(u16, Vec<String>), VaultError> {
        match failure {
            // A refusal of ours (a redirect to another origin, an answer
            // too large) says more on its own than "unreachable".
            ApiFailure::Transport(source)
                if matches!(
                    source.kind(),
                    ErrorKind::CrossOriginRedirect
                        | ErrorKind::TooLarge
                        | ErrorKind::InsecureScheme
                ) =>
            {
                Err(VaultError::Refused(source))
            }
            ApiFailure::Transport(source) => Err(VaultError::Unreachable {
                address: self.address(),
                source,
            }),
            ApiFailure::Malformed => Err(VaultError::Malformed {
                path: path.to_owned(),
            }),
            ApiFailure::Status {
                status: 503,
                errors,
            } if errors.iter().any(|e| e.contains("sealed")) => Err(VaultError::Sealed {
                address: self.address(),
            }),
            ApiFailure::Status { status, errors } => Ok((status, errors)),
        }
    }

    /// An unexpected status as an error.
    pub(crate) fn unexpected(path: &str, status: u16, errors: &[String]) -> VaultError {
        VaultError::Unexpected {
            path: path.to_owned(),
            status,
            message: if errors.is_empty() {
                "no message".into()
            } else {
                errors.join("; ")
            },
        }
    }
}

/// Vault's `{"errors": [...]}`, each message trimmed of the multierror
/// decoration (`1 error occurred:\n\t* ...`).
fn parse_errors(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let Some(list) = value.get("errors").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(Value::as_str)
        .flat_map(|m| {
            m.lines()
                .map(|l| l.trim().trim_start_matches("* ").trim())
                .filter(|l| {
                    !l.is_empty()
                        && !l.ends_with("error occurred:")
                        && !l.ends_with("errors occurred:")
                })
                .map(|l| windlass_redact::global().redact(l).into_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("address", &self.address())
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn vault_error_messages() {
        let cases = [
            r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#,
            r#"{"errors":[]}"#,
            r#"{"errors":["error validating claims: claim \"ref\" does not match any associated bound claim values"]}"#,
            "not json",
        ];
        let out: Vec<Vec<String>> = cases.iter().map(|c| super::parse_errors(c)).collect();
        insta::assert_debug_snapshot!(out);
    }
}
