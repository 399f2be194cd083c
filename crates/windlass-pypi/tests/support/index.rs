//! A stand-in for the trusted-publishing half of PyPI (warehouse), in
//! front of a real pypiserver.
//!
//! It speaks warehouse's protocol: `GET /_/oidc/audience` answers
//! `{"audience": AUD}`; `POST /_/oidc/mint-token` with `{"token": JWT}`
//! decodes the JWT (the signature is the issuer's business, not checked
//! here), checks its `aud`, `exp` and `repository` claims and answers
//! `{"success": true, "token": "pypi-…", "expires": UNIX}` or warehouse's
//! 422 error document. `POST /` is the upload endpoint: it records the
//! `Authorization` header, refuses anything but a minted, unexpired token
//! with 403 as warehouse does, and forwards the multipart body unchanged to
//! the pypiserver, answering with its status. Look-ups go to the
//! pypiserver's simple API directly, or, to play pypiserver's fallback, to
//! the fake index which redirects them elsewhere. Made unavailable, it
//! answers every request with `503 Service Unavailable`, as an index that is
//! down behind its proxy does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use windlass_http::{HttpClient, HttpConfig, Method, header};
use windlass_redact::RedactedUrl;

/// At most this many connections are served (a test makes a handful).
const MAX_CONNECTIONS: usize = 256;

/// What the index accepts and how long its tokens live.
#[derive(Debug, Clone)]
pub struct IndexConfig {
    /// The audience it announces and requires.
    pub audience: String,
    /// The one trusted publisher registered: the `repository` claim.
    pub repository: String,
    /// Seconds from minting to a token's `expires`.
    pub lifetime: u64,
    /// The pypiserver upload URL uploads are forwarded to.
    pub upstream: String,
    /// When set, `GET /simple/NAME/` answers `303 See Other` to
    /// `{fallback}NAME/`, as pypiserver does for projects it lacks.
    pub fallback: Option<String>,
    /// Uploads are forwarded whatever their credentials, as an open
    /// pypiserver takes them.
    pub anyone_uploads: bool,
}

impl IndexConfig {
    /// An index for audience `pypi` with no trusted publisher, tokens
    /// living 900 s, no fallback, forwarding to `upstream` the uploads
    /// whose credentials it minted.
    pub fn forwarding_to(upstream: String) -> Self {
        Self {
            audience: "pypi".to_owned(),
            repository: String::new(),
            lifetime: 900,
            upstream,
            fallback: None,
            anyone_uploads: false,
        }
    }
}

/// What the index saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Every identity token presented to mint-token.
    pub jwts: Vec<String>,
    /// Every upload token minted, in order.
    pub minted: Vec<String>,
    /// The decoded `user:password` of every upload.
    pub uploads: Vec<String>,
    /// `METHOD /path` of every request, in order.
    pub requests: Vec<String>,
    /// Connections accepted.
    pub connections: usize,
}

/// A running fake index; stops when dropped.
#[derive(Debug)]
pub struct FakeIndex {
    /// `http://127.0.0.1:PORT/`: the upload URL and the trusted-publishing
    /// base.
    pub url: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct State {
    config: IndexConfig,
    client: HttpClient,
    seen: Mutex<Seen>,
    /// Every request is answered with 503.
    unavailable: AtomicBool,
    /// Minted tokens and their expiry (unix seconds).
    valid: Mutex<Vec<(String, u64)>>,
}

impl FakeIndex {
    pub async fn start(config: IndexConfig) -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let state = Arc::new(State {
            config,
            client: HttpClient::new(&HttpConfig::default()).unwrap(),
            seen: Mutex::new(Seen::default()),
            unavailable: AtomicBool::new(false),
            valid: Mutex::new(Vec::new()),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            for _ in 0..MAX_CONNECTIONS {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                serving.seen.lock().unwrap().connections += 1;
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(state.handle(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, state, task }
    }

    /// Answers every request with `503 Service Unavailable` from now on
    /// (or no longer).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.state.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// What the index saw so far.
    pub fn seen(&self) -> Seen {
        self.state.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeIndex {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap()
}

/// Warehouse's answer to a refused token request.
fn refused(code: &str, description: &str) -> Response<Full<Bytes>> {
    json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &serde_json::json!({
            "message": "Token request failed",
            "errors": [{ "code": code, "description": description }],
        }),
    )
}

impl State {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        self.seen
            .lock()
            .unwrap()
            .requests
            .push(format!("{} {path}", request.method()));
        if self.unavailable.load(Ordering::SeqCst) {
            // Read first: an answer sent while the client still streams the
            // body breaks its connection.
            let _ = request.into_body().collect().await;
            return Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .body(Full::new(Bytes::from_static(b"Service Unavailable")))
                .unwrap();
        }
        match (request.method().as_str(), path.as_str()) {
            ("GET", "/_/oidc/audience") => json(
                StatusCode::OK,
                &serde_json::json!({ "audience": self.config.audience }),
            ),
            ("POST", "/_/oidc/mint-token") => {
                let body = request.into_body().collect().await.unwrap().to_bytes();
                self.mint(&body)
            }
            ("POST", "/") => self.upload(request).await,
            ("GET", page) if page.starts_with("/simple/") && self.config.fallback.is_some() => {
                let fallback = self.config.fallback.as_deref().unwrap_or_default();
                let location = format!("{fallback}{}", &page["/simple/".len()..]);
                Response::builder()
                    .status(StatusCode::SEE_OTHER)
                    .header("location", location)
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            }
            _ => json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({ "message": "Not Found" }),
            ),
        }
    }

    fn mint(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let Some(jwt) = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_owned))
        else {
            return refused("invalid-payload", "malformed request body");
        };
        self.seen.lock().unwrap().jwts.push(jwt.clone());
        let claims = jwt
            .split('.')
            .nth(1)
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
        let Some(claims) = claims.filter(|_| jwt.split('.').count() == 3) else {
            return refused("invalid-token", "malformed or missing OIDC token");
        };
        let audience_ok = match &claims["aud"] {
            serde_json::Value::String(aud) => *aud == self.config.audience,
            serde_json::Value::Array(auds) => auds.iter().any(|a| *a == *self.config.audience),
            _ => false,
        };
        if !audience_ok {
            return refused(
                "invalid-token",
                "malformed or missing OIDC token (Invalid audience)",
            );
        }
        if claims["exp"].as_u64().is_none_or(|exp| exp <= now()) {
            return refused(
                "invalid-token",
                "valid token, but it has expired (Signature has expired)",
            );
        }
        if claims["repository"].as_str() != Some(self.config.repository.as_str()) {
            return refused(
                "invalid-publisher",
                "valid token, but no corresponding publisher (All lookup strategies exhausted)",
            );
        }
        let token = format!("pypi-{}", windlass_testkit::canary("minted-upload-token"));
        let expires = now() + self.config.lifetime;
        self.valid.lock().unwrap().push((token.clone(), expires));
        self.seen.lock().unwrap().minted.push(token.clone());
        json(
            StatusCode::OK,
            &serde_json::json!({ "success": true, "token": token, "expires": expires }),
        )
    }

    async fn upload(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let credentials = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        self.seen.lock().unwrap().uploads.push(credentials.clone());
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        // Read the whole upload before answering, as real indexes do: an
        // answer sent while the client still streams the file breaks its
        // connection, and the client then retries the same file.
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let authorised = credentials.strip_prefix("__token__:").is_some_and(|token| {
            self.valid
                .lock()
                .unwrap()
                .iter()
                .any(|(valid, expires)| valid == token && *expires > now())
        });
        if !authorised && !self.config.anyone_uploads {
            return Response::builder()
                .status(StatusCode::FORBIDDEN)
                .body(Full::new(Bytes::from_static(
                    b"Invalid or non-existent authentication information.",
                )))
                .unwrap();
        }
        let content_type = content_type.unwrap();
        let upstream = RedactedUrl::parse(&self.config.upstream).unwrap();
        let answer = self
            .client
            .send(Method::POST, &upstream, |r| {
                r.header(header::CONTENT_TYPE, content_type.clone())
                    .body(body.clone())
            })
            .await;
        let (status, text) = match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                #[allow(
                    clippy::disallowed_methods,
                    reason = "a test reads a local server's answer whole"
                )]
                let body = response.bytes().await.unwrap();
                (status, body)
            }
            Err(error) => (
                error.status().map_or(502, |s| s.as_u16()),
                Bytes::from(error.body_snippet().await.unwrap_or_default()),
            ),
        };
        Response::builder()
            .status(status)
            .body(Full::new(text))
            .unwrap()
    }
}
