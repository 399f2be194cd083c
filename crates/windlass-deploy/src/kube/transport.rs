//! The connection to the API server under kube-rs's `Client`: HTTP/2 when
//! the server offers it (ALPN; every Kubernetes API server does), so that
//! concurrent requests share one TLS connection instead of one HTTP/1.1
//! connection (and handshake) per request in flight. (Requests sent
//! together before any connection is made still open one each; each is
//! answered on whichever is ready first.)
//!
//! kube-rs builds its own stack for HTTP/1.1 only; this one is the same
//! stack with both protocols offered: the TLS set-up kube-rs makes from the
//! kubeconfig (its CA, client certificate and key, `insecure-skip-tls-verify`,
//! `tls-server-name`), its connect and read timeouts, and its layers for
//! the server URL, the credentials (token, token file, exec plugin, basic
//! auth) and extra headers, with its retry of 429/503/504. A cluster with a
//! `proxy-url` keeps kube-rs's own client, which says what it supports.
//!
//! Each request is logged at debug level (method, path, status and time),
//! never its headers or body. The credential each request carries (the
//! `Authorization` header kube-rs's auth layer sets: a kubeconfig token, a
//! token file re-read, an exec plugin's token, basic auth) is registered
//! with the process redactor before the request leaves, so a token that
//! only a plugin knows is still masked wherever a server or Helm echoes it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ClientBuilder, ConfigExt as _};
use tower::{BoxError, Service, ServiceBuilder};

/// A `kube::Client` for `config`, speaking HTTP/2 where the server does.
pub(super) fn client(config: kube::Config) -> Result<kube::Client, kube::Error> {
    if config.proxy_url.is_some() {
        return kube::Client::try_from(config);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // HTTP/2 writes a request's HEADERS and DATA frames apart: with
    // Nagle's algorithm the second waits for the server's delayed ACK of
    // the first (some 40 ms per request with a body).
    http.set_nodelay(true);
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    let tls = match &config.tls_server_name {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(kube::client::RustlsTlsError::InvalidServerName)
                .map_err(kube::Error::RustlsTls)?;
            tls.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => tls,
    };
    let https = tls.enable_all_versions().wrap_connector(http);
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let hyper: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.default_retry.then(|| {
            tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry())
        }))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(tower::layer::layer_fn(Logged))
        .map_err(BoxError::from)
        .service(hyper);
    Ok(ClientBuilder::new(service, config.default_namespace).build())
}

/// Logs each request as it goes out and as its answer comes.
#[derive(Clone)]
struct Logged<S>(S);

impl<S, B> Service<Request<Body>> for Logged<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(value) = request.headers().get(http::header::AUTHORIZATION) {
            register_credential(value.as_bytes());
        }
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let version = request.version();
        tracing::debug!(%method, %path, "api request");
        let start = Instant::now();
        let answer = self.0.call(request);
        Box::pin(async move {
            let answer = answer.await;
            let ms = start.elapsed().as_millis();
            if let Ok(response) = &answer {
                tracing::debug!(
                    %method,
                    %path,
                    status = response.status().as_u16(),
                    version = ?response.version(),
                    ms,
                    "api answer"
                );
            } else {
                tracing::debug!(%method, %path, ?version, ms, "api request failed");
            }
            answer
        })
    }
}

/// Registers the secret of an `Authorization` value with the redactor:
/// a bearer token, or basic auth's encoded pair, the pair and its password.
fn register_credential(value: &[u8]) {
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    let redactor = windlass_redact::global();
    let (scheme, credential) = value.trim().split_once(' ').unwrap_or(("", value));
    let credential = credential.trim();
    redactor.register(credential);
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine as _;
        if let Ok(pair) = base64::engine::general_purpose::STANDARD.decode(credential)
            && let Ok(pair) = String::from_utf8(pair)
        {
            if let Some((_, password)) = pair.split_once(':') {
                redactor.register(password);
            }
            redactor.register(&pair);
        }
    }
}
