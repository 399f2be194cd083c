use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, TRANSFER_ENCODING,
};
use reqwest::{Certificate, Method, RequestBuilder, Response, StatusCode, redirect};
use url::Url;
use windlass_redact::RedactedUrl;

use crate::config::HttpConfig;
use crate::error::{BuildError, ErrorKind, HttpError};
use crate::retry::{Idempotency, RetryPolicy};
use crate::scheme;

/// The largest CA bundle read: the system bundle of a large distribution is
/// under 1 MiB.
const CA_FILE_LIMIT: u64 = 16 * 1024 * 1024;

/// How many redirects a request follows.
const MAX_REDIRECTS: usize = 10;

/// An HTTP client with Windlass's TLS, timeouts, user agent, proxies,
/// retries and redirect rules. Cheap to clone; clones share one connection
/// pool.
///
/// Redirects are followed here, not by reqwest, so that each request kind
/// decides what a redirect to another origin may carry (see [`Redirects`]).
/// Requests to loopback hosts and all plain-`http` requests go direct, never
/// through a proxy from the environment: a proxy would see their
/// credentials in clear text.
#[derive(Debug, Clone)]
pub struct HttpClient {
    /// Honours the environment's proxies.
    proxied: reqwest::Client,
    /// Never uses a proxy.
    direct: reqwest::Client,
    retry: Arc<RetryPolicy>,
    insecure_hosts: Arc<[String]>,
}

/// How a request is sent: whether it may be repeated and where it may be
/// redirected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Policy {
    pub idempotency: Idempotency,
    pub redirects: Redirects,
}

impl Policy {
    /// A request that must not be sent twice once it may have reached the
    /// server (an upload, a login).
    pub const NON_IDEMPOTENT: Self = Self {
        idempotency: Idempotency::NonIdempotent,
        redirects: Redirects::SameOrigin,
    };

    /// An idempotent download that may be redirected to another origin (a
    /// file on a CDN, a blob in object storage), without credentials.
    pub const DOWNLOAD: Self = Self {
        idempotency: Idempotency::Idempotent,
        redirects: Redirects::WithoutCredentials,
    };
}

impl From<Idempotency> for Policy {
    fn from(idempotency: Idempotency) -> Self {
        Self {
            idempotency,
            redirects: Redirects::SameOrigin,
        }
    }
}

/// Where a request may be redirected. Either way a redirect keeps to the
/// scheme rules (no downgrade to plain http) and at most ten hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Redirects {
    /// Within the request's origin (scheme, host and port) only, with
    /// everything the request carries; a redirect to another origin is an
    /// [`ErrorKind::CrossOriginRedirect`] error and that origin is never
    /// contacted. For every request that holds a credential in a header or
    /// its body (API calls, logins, token exchanges, uploads).
    #[default]
    SameOrigin,
    /// Within the origin as [`Redirects::SameOrigin`]; to another origin as a
    /// bare `GET` or `HEAD` with none of the headers or the body the caller
    /// added, and from then on without them, also if a later hop comes
    /// back. A redirect that would have to resend a body elsewhere (`307`,
    /// `308` after a `POST`) is refused.
    WithoutCredentials,
}

impl HttpClient {
    /// Builds a client: rustls with the `ring` provider, the system roots
    /// plus the extra CA file, proxies from the environment.
    pub fn new(config: &HttpConfig) -> Result<Self, BuildError> {
        install_crypto_provider();
        let insecure_hosts: Arc<[String]> = config.insecure_hosts.clone().into();
        let extra_certs = match &config.extra_ca_file {
            Some(path) => read_ca_file(path)?,
            None => Vec::new(),
        };
        let proxied = build_client(config, &extra_certs, true)?;
        let direct = build_client(config, &extra_certs, false)?;
        Ok(Self {
            proxied,
            direct,
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

    /// Sends an idempotent request that stays within its origin. See
    /// [`HttpClient::send_with`].
    pub async fn send<F>(
        &self,
        method: Method,
        url: &RedactedUrl,
        build: F,
    ) -> Result<Response, HttpError>
    where
        F: FnMut(RequestBuilder) -> RequestBuilder,
    {
        self.send_with(method, url, Policy::default(), build).await
    }

    /// Sends a request, building it afresh for every attempt and every
    /// redirect within the origin with `build` (so a body that cannot be
    /// cloned, such as a file stream, is made again each time).
    ///
    /// Retries, with exponential backoff and full jitter, on connection
    /// errors, timeouts, broken connections and the statuses 429, 502, 503,
    /// 504 (and 500 if configured), honouring `Retry-After` on 429 and 503;
    /// a [`Idempotency::NonIdempotent`] request is retried only when no
    /// connection was made. Every retry is logged at `warn` level.
    /// Redirects follow `policy.redirects`.
    ///
    /// Returns the response when its status is below 400; an error status
    /// becomes an [`ErrorKind::Status`] error that keeps the response for
    /// [`HttpError::body_snippet`].
    pub async fn send_with<F>(
        &self,
        method: Method,
        url: &RedactedUrl,
        policy: impl Into<Policy>,
        mut build: F,
    ) -> Result<Response, HttpError>
    where
        F: FnMut(RequestBuilder) -> RequestBuilder,
    {
        let policy = policy.into();
        self.check_url(&method, url)?;
        let max_attempts = self.retry.max_retries.saturating_add(1);
        let mut attempt: u32 = 1;
        loop {
            let (error, delay) = match self.follow(&method, url, policy, &mut build).await {
                Ok(response) if !is_error_status(&response) => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let retryable = policy.idempotency == Idempotency::Idempotent
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
                Err(Failure::Final(error)) => return Err(error.with_attempts(attempt)),
                Err(Failure::Transport { error, never_sent }) => {
                    let retryable = match policy.idempotency {
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

    /// One attempt: the request and the redirects it is allowed to follow.
    /// Returns the first response that is not a redirect.
    async fn follow<F>(
        &self,
        method: &Method,
        url: &RedactedUrl,
        policy: Policy,
        build: &mut F,
    ) -> Result<Response, Failure>
    where
        F: FnMut(RequestBuilder) -> RequestBuilder,
    {
        let origin = url.expose().origin();
        let mut target = url.clone();
        let mut hop_method = method.clone();
        // 307 and 308 resend the body; the others turn the request into a
        // GET without one.
        let mut keep_body = true;
        // Set once a hop left the origin: no credential is sent again.
        let mut bare = false;
        for _ in 0..=MAX_REDIRECTS {
            let client = self.client_for(target.expose());
            let request = if bare {
                reqwest::Request::new(hop_method.clone(), target.expose().clone())
            } else {
                let builder = build(client.request(hop_method.clone(), target.expose().clone()));
                let mut request = builder.build().map_err(|error| {
                    Failure::Final(HttpError::from_reqwest(method.clone(), url, error))
                })?;
                if !keep_body {
                    drop_body(&mut request);
                }
                request
            };
            let has_body = request.body().is_some();
            let response = client.execute(request).await.map_err(|error| {
                let never_sent = error.is_connect();
                Failure::Transport {
                    error: HttpError::from_reqwest(method.clone(), url, error),
                    never_sent,
                }
            })?;
            let Some(next) = redirect_target(&response, target.expose()) else {
                return Ok(response);
            };
            let next = next.map_err(|kind| {
                Failure::Final(
                    HttpError::new(method.clone(), url, kind).with_status(response.status()),
                )
            })?;
            let next = RedactedUrl::new(next);
            if let Err(kind) = scheme::check(next.expose(), &self.insecure_hosts) {
                return Err(Failure::Final(
                    HttpError::new(method.clone(), url, kind).with_redirect(&next),
                ));
            }
            let status = response.status();
            let resends = matches!(
                status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            );
            if !resends {
                keep_body = false;
                if hop_method != Method::HEAD {
                    hop_method = Method::GET;
                }
            }
            if !bare && next.expose().origin() != origin {
                let allowed = match policy.redirects {
                    Redirects::SameOrigin => false,
                    Redirects::WithoutCredentials => {
                        !(resends && has_body)
                            && (hop_method == Method::GET || hop_method == Method::HEAD)
                    }
                };
                if !allowed {
                    return Err(Failure::Final(
                        HttpError::new(method.clone(), url, ErrorKind::CrossOriginRedirect)
                            .with_status(status)
                            .with_redirect(&next),
                    ));
                }
                tracing::debug!(from = %target, to = %next, "following a redirect to another origin without credentials");
                bare = true;
            }
            target = next;
        }
        Err(Failure::Final(HttpError::new(
            method.clone(),
            url,
            ErrorKind::Redirect,
        )))
    }

    /// The client for a request to `url`: direct for loopback hosts and
    /// plain http, through the environment's proxies otherwise.
    fn client_for(&self, url: &Url) -> &reqwest::Client {
        if goes_direct(url) {
            &self.direct
        } else {
            &self.proxied
        }
    }
}

/// Why an attempt failed.
enum Failure {
    /// Nothing reached a server or the connection broke: retried as the
    /// policy allows.
    Transport { error: HttpError, never_sent: bool },
    /// A refusal of ours (a redirect that is not allowed, a request that
    /// cannot be built): never retried.
    Final(HttpError),
}

/// Whether a request to `url` must not go through a proxy: loopback hosts
/// (a proxy elsewhere would reach another machine's loopback, or see our
/// traffic) and plain http (a proxy would see the credentials).
pub(crate) fn goes_direct(url: &Url) -> bool {
    url.scheme() == "http" || url.host().as_ref().is_some_and(scheme::is_loopback)
}

/// The redirect a response asks for: `None` when it is not one, the
/// resolved `Location` or why it is unusable.
fn redirect_target(response: &Response, base: &Url) -> Option<Result<Url, ErrorKind>> {
    let status = response.status();
    let is_redirect = matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    if !is_redirect {
        return None;
    }
    let location = response.headers().get(LOCATION)?;
    Some(
        location
            .to_str()
            .ok()
            .and_then(|location| base.join(location).ok())
            .ok_or(ErrorKind::InvalidUrl),
    )
}

/// Turns a request into one without a body, as 301, 302 and 303 require.
fn drop_body(request: &mut reqwest::Request) {
    *request.body_mut() = None;
    let headers = request.headers_mut();
    for name in [
        CONTENT_TYPE,
        CONTENT_LENGTH,
        CONTENT_ENCODING,
        TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
}

fn build_client(
    config: &HttpConfig,
    extra_certs: &[Certificate],
    proxies: bool,
) -> Result<reqwest::Client, BuildError> {
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
        .redirect(redirect::Policy::none());
    if !proxies {
        builder = builder.no_proxy();
    }
    if !extra_certs.is_empty() {
        builder = builder.tls_certs_merge(extra_certs.iter().cloned());
    }
    builder.build().map_err(|source| {
        let source = source.without_url();
        // The TLS verifier parses the extra certificates only here.
        match &config.extra_ca_file {
            Some(path) => BuildError::InvalidCertificate {
                path: path.clone(),
                source,
            },
            None => BuildError::Client { source },
        }
    })
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
    let pem = windlass_fs::read(path, CA_FILE_LIMIT).map_err(|source| BuildError::ReadCaFile {
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
