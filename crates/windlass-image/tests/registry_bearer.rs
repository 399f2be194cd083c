//! Bearer tokens, against a token-auth front in front of the harness's real
//! open registry (the harness has no token server): the front answers
//! `401` with a `Bearer realm=,service=,scope=` challenge to any request
//! whose token does not cover its repository and action, issues tokens for
//! the basic credential at its realm, forwards authorised requests to the
//! registry, and redirects blob downloads to a "storage" origin of its own
//! that records any `Authorization` header it is sent.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use windlass_http::{HttpClient, HttpConfig, Method};
use windlass_image::Layout;
use windlass_redact::RedactedUrl;
use windlass_testkit::{Services, canary};

mod support;
use support::{MANIFEST, descriptor, run_blocking};

#[derive(Default)]
struct Seen {
    /// The scopes of every token issued.
    token_scopes: Vec<String>,
    /// Token requests that came without the right basic credential.
    refused_logins: usize,
    /// `METHOD path` of every request the registry part answered.
    requests: Vec<String>,
    /// Requests to the storage origin that carried `Authorization`.
    storage_with_credentials: usize,
    storage_requests: usize,
}

struct Front {
    upstream: String,
    user: String,
    password: String,
    /// Token -> the scopes it grants.
    tokens: Mutex<BTreeMap<String, BTreeSet<String>>>,
    seen: Mutex<Seen>,
    http: HttpClient,
    addr: Mutex<Option<SocketAddr>>,
    storage: Mutex<Option<SocketAddr>>,
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

impl Front {
    async fn start(upstream: &str, user: &str, password: &str) -> Arc<Self> {
        let front = Arc::new(Self {
            upstream: upstream.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            tokens: Mutex::default(),
            seen: Mutex::default(),
            http: HttpClient::new(&HttpConfig::default()).unwrap(),
            addr: Mutex::default(),
            storage: Mutex::default(),
        });
        for storage in [false, true] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            if storage {
                *front.storage.lock().unwrap() = Some(addr);
            } else {
                *front.addr.lock().unwrap() = Some(addr);
            }
            let front = Arc::clone(&front);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let front = Arc::clone(&front);
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let front = Arc::clone(&front);
                            async move {
                                Ok::<_, std::convert::Infallible>(if storage {
                                    front.storage(request).await
                                } else {
                                    front.handle(request).await
                                })
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        }
        front
    }

    fn addr(&self) -> SocketAddr {
        self.addr.lock().unwrap().unwrap()
    }

    async fn handle(&self, request: Request<Incoming>) -> Answer {
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        if path == "/token" {
            return self.token(&request, &query);
        }
        self.seen
            .lock()
            .unwrap()
            .requests
            .push(format!("{} {path}", request.method()));
        // `/v2/` itself needs a token of any scope; the rest their repository's.
        let needed = repository_of(&path).map(|repo| {
            let action = if matches!(request.method().as_str(), "GET" | "HEAD") {
                "pull"
            } else {
                "push"
            };
            (repo, action)
        });
        let granted = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| self.tokens.lock().unwrap().get(token).cloned());
        let allowed = match (&granted, &needed) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(scopes), Some((repo, action))) => scopes.iter().any(|scope| {
                let mut parts = scope.splitn(3, ':');
                parts.next() == Some("repository")
                    && parts.next() == Some(repo.as_str())
                    && parts
                        .next()
                        .is_some_and(|a| a.split(',').any(|a| a == *action))
            }),
        };
        if !allowed {
            let mut challenge = format!(
                "Bearer realm=\"http://{}/token\",service=\"fake-registry\"",
                self.addr()
            );
            if let Some((repo, action)) = &needed {
                let actions = if *action == "push" {
                    "pull,push"
                } else {
                    "pull"
                };
                challenge = format!("{challenge},scope=\"repository:{repo}:{actions}\"");
            }
            let mut response = answer(
                StatusCode::UNAUTHORIZED,
                "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
            );
            response
                .headers_mut()
                .insert("www-authenticate", challenge.parse().unwrap());
            return response;
        }
        // Blob downloads go to storage, elsewhere.
        if request.method() == "GET" && path.contains("/blobs/sha256:") {
            let storage = self.storage.lock().unwrap().unwrap();
            let mut response = answer(StatusCode::TEMPORARY_REDIRECT, "");
            response.headers_mut().insert(
                "location",
                format!("http://{storage}{path}?signature=opaque")
                    .parse()
                    .unwrap(),
            );
            return response;
        }
        self.forward(request, &path, &query).await
    }

    fn token(&self, request: &Request<Incoming>, query: &str) -> Answer {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.password))
        );
        let given = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            self.seen.lock().unwrap().refused_logins += 1;
            return answer(StatusCode::UNAUTHORIZED, "{}");
        }
        let scopes: BTreeSet<String> = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .collect();
        let mut tokens = self.tokens.lock().unwrap();
        let token = format!("fake-token-{}", tokens.len());
        tokens.insert(token.clone(), scopes.clone());
        self.seen
            .lock()
            .unwrap()
            .token_scopes
            .push(scopes.into_iter().collect::<Vec<_>>().join(" "));
        answer(StatusCode::OK, json!({"token": token}).to_string())
    }

    /// Sends the request on to the registry and its answer back, with the
    /// registry's own address in `Location` replaced by ours.
    async fn forward(&self, request: Request<Incoming>, path: &str, query: &str) -> Answer {
        let method = Method::from_bytes(request.method().as_str().as_bytes()).unwrap();
        let headers = request.headers().clone();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let mut url = format!("http://{}{path}", self.upstream);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let url = RedactedUrl::parse(&url).unwrap();
        let result = self
            .http
            .send_with(
                method.clone(),
                &url,
                windlass_http::Policy::NON_IDEMPOTENT.retried_by_caller(),
                |b| {
                    let mut b = b.body(body.clone());
                    for name in ["content-type", "accept", "content-range"] {
                        if let Some(v) = headers.get(name) {
                            b = b.header(name, v.as_bytes());
                        }
                    }
                    b
                },
            )
            .await;
        let upstream = match result {
            Ok(response) => response,
            Err(error) => match error.take_response() {
                Some(response) => response,
                None => return answer(StatusCode::BAD_GATEWAY, ""),
            },
        };
        let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap();
        let mut out = Response::builder().status(status);
        for (name, value) in upstream.headers() {
            if matches!(name.as_str(), "location") {
                let text = value
                    .to_str()
                    .unwrap()
                    .replace(&self.upstream, &self.addr().to_string());
                out = out.header(name.as_str(), text);
            } else if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                out = out.header(name.as_str(), value.as_bytes());
            }
        }
        let bytes = windlass_http::read_bytes(&method, &url, upstream, 64 << 20)
            .await
            .unwrap_or_default();
        out.body(Full::new(Bytes::from(bytes))).unwrap()
    }

    /// The storage origin: serves blobs straight from the registry.
    async fn storage(&self, request: Request<Incoming>) -> Answer {
        {
            let mut seen = self.seen.lock().unwrap();
            seen.storage_requests += 1;
            if request.headers().contains_key("authorization") {
                seen.storage_with_credentials += 1;
            }
        }
        let path = request.uri().path().to_owned();
        self.forward(request, &path, "").await
    }
}

/// `/v2/REPO/(manifests|blobs|tags|referrers)/...` -> `REPO`.
fn repository_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    for marker in ["/manifests/", "/blobs/", "/tags/", "/referrers/"] {
        if let Some(i) = rest.find(marker) {
            return Some(rest[..i].to_owned());
        }
    }
    None
}

fn make_layout(dir: &std::path::Path) -> windlass_image::digest::Digest {
    let layout = Layout::open_or_create(dir).unwrap();
    let (layer, layer_size) = layout.write_blob(&vec![7u8; 70_000]).unwrap();
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.to_string()]},
    });
    let layers = [descriptor(
        "application/vnd.oci.image.layer.v1.tar",
        &layer,
        layer_size,
    )];
    let image = support::write_image(&layout, &config, &layers);
    support::set_tag(&layout, MANIFEST, &image.digest, image.size, "v1");
    image.digest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_per_scope_and_never_to_storage() {
    let registries = Services::load().registries();
    let password = canary("registry-bearer-password");
    let front = Front::start(&registries.open, "robot", &password).await;
    let tmp = tempfile::tempdir().unwrap();
    let digest = make_layout(&tmp.path().join("img"));
    let config_dir = tmp.path().join("docker");
    std::fs::create_dir_all(&config_dir).unwrap();
    let host = front.addr().to_string();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("robot:{password}"));
    std::fs::write(
        config_dir.join("config.json"),
        json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let image = format!("{host}/{}:v1", support::unique("bearer"));
    let cli = || {
        support::image(tmp.path())
            .timeout(std::time::Duration::from_secs(120))
            .env("DOCKER_CONFIG", &config_dir)
    };

    let pushed = run_blocking(cli().args(["--json", "-vv", "push", "oci:img:v1", &image])).await;
    assert_eq!(pushed.code, 0, "{pushed}");
    assert_eq!(pushed.json()["data"]["digest"], digest.to_string());
    pushed.assert_no_leak(&password);

    let pulled = run_blocking(cli().args(["--json", "-vv", "copy", &image, "oci:pulled:v1"])).await;
    assert_eq!(pulled.code, 0, "{pulled}");
    pulled.assert_no_leak(&password);
    let layout = Layout::open(&tmp.path().join("pulled")).unwrap();
    assert_eq!(
        layout.resolve(Some("v1")).unwrap().digest().to_string(),
        digest.to_string()
    );

    {
        let seen = front.seen.lock().unwrap();
        // Blobs came from storage, which never saw a credential.
        assert!(seen.storage_requests >= 2, "{:?}", seen.requests);
        assert_eq!(seen.storage_with_credentials, 0);
        // One token per scope and run, not one per request.
        assert_eq!(seen.refused_logins, 0);
        assert!(
            seen.token_scopes.len() == 3,
            "tokens: {:?}\nrequests: {:?}",
            seen.token_scopes,
            seen.requests
        );
        assert!(
            seen.token_scopes.iter().any(|s| s.ends_with(":pull,push")),
            "{:?}",
            seen.token_scopes
        );
    }
    let issued: Vec<String> = front.tokens.lock().unwrap().keys().cloned().collect();
    for token in issued {
        pushed.assert_no_leak(&token);
        pulled.assert_no_leak(&token);
    }

    // A wrong password: refused at the realm, exit 3, never shown.
    let wrong = canary("registry-bearer-wrong");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("robot:{wrong}"));
    std::fs::write(
        config_dir.join("config.json"),
        json!({"auths": {host: {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let refused = run_blocking(cli().args(["-vv", "inspect", &image])).await;
    assert_eq!(refused.code, 3, "{refused}");
    refused.assert_no_leak(&wrong);
}
