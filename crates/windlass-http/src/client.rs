use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Certificate, Method, RequestBuilder, Response, redirect};
use windlass_redact::RedactedUrl;

use crate::config::HttpConfig;
use crate::error::{BuildError, ErrorKind, HttpError, InsecureRedirect, InvalidRedirect};
use crate::retry::{Idempotency, RetryPolicy};
use crate::scheme;

/// How many redirects a request follows.
const MAX_REDIRECTS: usize = 10;

/// An HTTP client with Windlass's TLS, timeouts, user agent, proxies and
/// retries. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    retry: Arc<RetryPolicy>,
    insecure_hosts: Arc<[String]>,
}

impl HttpClient {
    /// Builds a client: rustls with the `ring` provider, the system roots
    /// plus the extra CA file, proxies from the environment.
    pub fn new(config: &HttpConfig) -> Result<Self, BuildError> {
        install_crypto_provider();
        let insecure_hosts: Arc<[String]> = config.insecure_hosts.clone().into();
        let user_agent =
            HeaderValue::from_str(&config.user_agent()).map_err(|_| BuildError::UserAgent)?;

        #[allow(
            clippy::disallowed_methods,
            reason = "windlass-http is the one crate that builds HTTP clients"
        )]
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(redirect_policy(Arc::clone(&insecure_hosts)));
        if let Some(path) = &config.extra_ca_file {
            builder = builder.tls_certs_merge(read_ca_file(path)?);
        }
        let inner = builder.build().map_err(|source| {
            let source = source.without_url();
            // The TLS verifier parses the extra certificates only here.
            match &config.extra_ca_file {
                Some(path) => BuildError::InvalidCertificate {
                    path: path.clone(),
                    source,
                },
                None => BuildError::Client { source },
            }
        })?;
        Ok(Self {
            inner,
            retry: Arc::new(RetryPolicy::new(config)),
            insecure_hosts,
        })
    }

    /// Checks that `url` may be requested at all: `http` or `https` with a
    /// host, and plain `http` only to loopback hosts or configured insecure
    /// hosts. [`HttpClient::send`] checks this too; call it to fail early.
    pub fn check_url(&self, method: &Method, url: &RedactedUrl) -> Result<(), HttpError> {
        scheme::check(url.expose(), &self.insecure_hosts)
            .map_err(|kind| HttpError::new(method.clone(), url, kind))
    }

    /// Sends an idempotent request, retrying as [`Idempotency::Idempotent`]
    /// allows. See [`HttpClient::send_with`].
    pub async fn send<F>(
        &self,
        method: Method,
        url: &RedactedUrl,
        build: F,
    ) -> Result<Response, HttpError>
    where
        F: FnMut(RequestBuilder) -> RequestBuilder,
    {
        self.send_with(method, url, Idempotency::Idempotent, build)
            .await
    }

    /// Sends a request, building it afresh for every attempt with `build`
    /// (so a body that cannot be cloned, such as a file stream, is made
    /// again each time).
    ///
    /// Retries, with exponential backoff and full jitter, on connection
    /// errors, timeouts, broken connections and the statuses 429, 502, 503,
    /// 504 (and 500 if configured), honouring `Retry-After` on 429 and 503;
    /// a [`Idempotency::NonIdempotent`] request is retried only when no
    /// connection was made. Every retry is logged at `warn` level.
    ///
    /// Returns the response when its status is below 400; an error status
    /// becomes an [`ErrorKind::Status`] error that keeps the response for
    /// [`HttpError::body_snippet`].
    pub async fn send_with<F>(
        &self,
        method: Method,
        url: &RedactedUrl,
        idempotency: Idempotency,
        mut build: F,
    ) -> Result<Response, HttpError>
    where
        F: FnMut(RequestBuilder) -> RequestBuilder,
    {
        self.check_url(&method, url)?;
        let max_attempts = self.retry.max_retries.saturating_add(1);
        let mut attempt: u32 = 1;
        loop {
            let request = build(self.inner.request(method.clone(), url.expose().clone()));
            let (error, delay) = match request.send().await {
                Ok(response) if !is_error_status(&response) => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let retryable = idempotency == Idempotency::Idempotent
                        && self.retry.is_retryable_status(status);
                    if !retryable || attempt >= max_attempts {
                        return Err(
                            HttpError::from_response(method, url, response).with_attempts(attempt)
                        );
                    }
                    let delay = self
                        .retry
                        .delay_after_status(attempt, status, response.headers());
                    // The response is dropped here, before the wait.
                    let error =
                        HttpError::new(method.clone(), url, ErrorKind::Status).with_status(status);
                    (error, delay)
                }
                Err(error) => {
                    let never_sent = error.is_connect();
                    let error = HttpError::from_reqwest(method.clone(), url, error);
                    let retryable = match idempotency {
                        Idempotency::Idempotent => is_transient(error.kind()),
                        Idempotency::NonIdempotent => never_sent && is_transient(error.kind()),
                    };
                    if !retryable || attempt >= max_attempts {
                        return Err(error.with_attempts(attempt));
                    }
                    (error, self.retry.backoff(attempt))
                }
            };
            log_retry(&error, attempt, max_attempts, delay);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// Installs rustls's `ring` provider as the process default, once; a
/// provider installed before (by us or by the binary) is kept.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<Certificate>, BuildError> {
    let pem = std::fs::read(path).map_err(|source| BuildError::ReadCaFile {
        path: path.to_owned(),
        source,
    })?;
    let certs =
        Certificate::from_pem_bundle(&pem).map_err(|source| BuildError::InvalidCertificate {
            path: path.to_owned(),
            source: source.without_url(),
        })?;
    if certs.is_empty() {
        return Err(BuildError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Follows up to [`MAX_REDIRECTS`] redirects, never to a URL that the
/// scheme rules refuse (a downgrade to plain http included).
fn redirect_policy(insecure_hosts: Arc<[String]>) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.stop();
        }
        match scheme::check(attempt.url(), &insecure_hosts) {
            Ok(()) => attempt.follow(),
            Err(ErrorKind::InsecureScheme) => attempt.error(InsecureRedirect),
            Err(_) => attempt.error(InvalidRedirect),
        }
    })
}

fn is_error_status(response: &Response) -> bool {
    response.status().is_client_error() || response.status().is_server_error()
}

/// Whether an error without a response may go away by trying again.
fn is_transient(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Interrupted | ErrorKind::Body
    )
}

fn log_retry(error: &HttpError, attempt: u32, max_attempts: u32, delay: Duration) {
    let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    tracing::warn!(
        method = %error.method(),
        url = %error.url(),
        reason = %error.kind(),
        status = error.status().map(|status| status.as_u16()),
        attempt,
        max_attempts,
        delay_ms,
        "retrying http request"
    );
}
