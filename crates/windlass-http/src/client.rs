use std::path::Path;
use std::sync::Arc;

use reqwest::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, TRANSFER_ENCODING,
};
use reqwest::{Certificate, Method, RequestBuilder, Response, StatusCode, redirect};
use url::Url;
use windlass_redact::RedactedUrl;

use crate::config::HttpConfig;
use crate::error::{BuildError, ErrorKind, HttpError};
use crate::retry::{Budgets, Idempotency, Retrier, Retries, RetryObserver, RetryPolicy};
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
    /// The retry time budget of each origin, shared by the clones.
    budgets: Arc<Budgets>,
    retry_observer: Option<RetryObserver>,
    insecure_hosts: Arc<[String]>,
}

/// How a request is sent: whether it may be repeated, by whom, and where it
/// may be redirected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Policy {
    pub idempotency: Idempotency,
    pub redirects: Redirects,
    pub retries: Retries,
}

impl Policy {
    /// This policy with one attempt: the caller's loop retries (see
    /// [`Retries::ByCaller`]).
    #[must_use]
    pub const fn retried_by_caller(self) -> Self {
        Self {
            retries: Retries::ByCaller,
            ..self
        }
    }

    /// A request that must not be sent twice once it may have reached the
    /// server (an upload, a login).
    pub const NON_IDEMPOTENT: Self = Self {
        idempotency: Idempotency::NonIdempotent,
        redirects: Redirects::SameOrigin,
        retries: Retries::Here,
    };

    /// An idempotent download that may be redirected to another origin (a
    /// file on a CDN, a blob in object storage), without credentials.
    pub const DOWNLOAD: Self = Self {
        idempotency: Idempotency::Idempotent,
        redirects: Redirects::WithoutCredentials,
        retries: Retries::Here,
    };
}

impl From<Idempotency> for Policy {
    fn from(idempotency: Idempotency) -> Self {
        Self {
            idempotency,
            ..Self::default()
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
            budgets: Arc::new(Budgets::default()),
            retry_observer: config.retry_observer.clone(),
            insecure_hosts,
        })
    }

    /// The same client (sharing connections and retry budgets) reporting
    /// every retry to `observer` before its wait.
    #[must_use]
    pub fn with_retry_observer(mut self, observer: RetryObserver) -> Self {
        self.retry_observer = Some(observer);
        self
    }

    /// The retry decisions for a caller's loop around requests sent with
    /// [`Retries::ByCaller`] whose repetition the caller made safe (as by
    /// looking an upload up after a failure): the client's one policy, as
    /// for an idempotent request.
    pub fn retrier(&self) -> Retrier {
        Retrier::new(self.clone(), Idempotency::Idempotent, Retries::Here)
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    pub(crate) fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    pub(crate) fn retry_observer(&self) -> Option<&RetryObserver> {
        self.retry_observer.as_ref()
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
    /// 504 (and 500 if configured), honouring `Retry-After` on 429 and 503,
    /// within the origin's time budget; a [`Idempotency::NonIdempotent`]
    /// request is retried only when no connection was made, a connection
    /// refused by a loopback host never, and a [`Retries::ByCaller`] request
    /// never (see [`Retrier`]). Every retry is reported to the observer and
    /// logged at `debug` level. Redirects follow `policy.redirects`.
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
        let mut retrier = Retrier::new(self.clone(), policy.idempotency, policy.retries);
        loop {
            let error = match self.follow(&method, url, policy, &mut build).await {
                Ok(response) if !is_error_status(&response) => {
                    self.budgets.success(url);
                    return Ok(response);
                }
                Ok(response) => {
                    if self.retry.is_retryable_status(response.status()) {
                        self.budgets.failure(url);
                    } else {
                        // The origin answers: it is not down.
                        self.budgets.success(url);
                    }
                    HttpError::from_response(method.clone(), url, response)
                }
                Err(Failure::Final(error)) => {
                    return Err(error.with_attempts(retrier.attempts() + 1));
                }
                Err(Failure::Transport(error)) => {
                    self.budgets.failure(url);
                    error
                }
            };
            match retrier.schedule(&error) {
                Some(wait) => {
                    // The response is dropped here, before the wait.
                    drop(error);
                    tokio::time::sleep(wait).await;
                }
                None => return Err(retrier.give_up(error)),
            }
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
                Failure::Transport(HttpError::from_reqwest(method.clone(), url, error))
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
    Transport(HttpError),
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
