//! `HttpClient` against a local fault server: retries, `Retry-After`,
//! dropped connections, timeouts, refused schemes, redaction and TLS with an
//! extra CA file. Every server listens on 127.0.0.1 and answers a bounded
//! script.

// clippy's `allow-unwrap-in-tests` does not reach the helpers of an
// integration test; a failed setup should panic here.
#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

mod support;

use std::error::Error as _;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use windlass_http::{
    BuildError, ErrorClass, ErrorKind, HttpClient, HttpConfig, Idempotency, Method,
};
use windlass_redact::RedactedUrl;

use crate::support::{FaultServer, OK, Reply, client, config, message, status};

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = FaultServer::start(vec![
        Reply::Status {
            code: 429,
            headers: &[("retry-after", "1")],
            body: "slow down",
        },
        OK,
    ])
    .await;
    let response = client(&config())
        .send(Method::GET, &server.url("/simple/"), |req| req)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let url = RedactedUrl::new(response.url().clone());
    let body = windlass_http::read_bytes(&Method::GET, &url, response, 64)
        .await
        .unwrap();
    assert_eq!(body, b"ok");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
}

#[tokio::test]
async fn unavailable_twice_then_ok_rebuilds_the_body() {
    let server = FaultServer::start(vec![status(503), status(503), OK]).await;
    let response = client(&config())
        .send(Method::POST, &server.url("/upload"), |req| {
            req.body("payload")
        })
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.body == b"payload"));
    assert!(seen[0].head.starts_with("POST /upload HTTP/1.1"));
    let agent = format!("user-agent: windlass/{}", env!("CARGO_PKG_VERSION"));
    assert!(
        seen[0].head.to_ascii_lowercase().contains(&agent),
        "{}",
        seen[0].head
    );
}

#[tokio::test]
async fn broken_connections_are_retried() {
    for broken in [Reply::CloseMidResponse, Reply::Reset] {
        let server = FaultServer::start(vec![broken.clone(), OK]).await;
        let response = client(&config())
            .send(Method::GET, &server.url("/index"), |req| req)
            .await
            .unwrap_or_else(|e| panic!("{broken:?}: {e}"));
        assert_eq!(response.status(), 200, "{broken:?}");
        assert_eq!(server.seen().len(), 2, "{broken:?}");
    }
}

#[tokio::test]
async fn a_slow_server_times_out_with_bounded_attempts() {
    let server = FaultServer::start(vec![Reply::Stall(Duration::from_secs(5))]).await;
    let config = HttpConfig {
        timeout: Duration::from_millis(300),
        max_retries: 1,
        ..config()
    };
    let started = Instant::now();
    let error = client(&config)
        .send(Method::GET, &server.url("/slow"), |req| req)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(error.attempts(), 2);
    assert!(error.is_remote_failure());
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn non_idempotent_requests_are_not_resent() {
    for reply in [Reply::CloseMidResponse, status(503)] {
        let server = FaultServer::start(vec![reply.clone(), OK]).await;
        let error = client(&config())
            .send_with(
                Method::POST,
                &server.url("/upload"),
                Idempotency::NonIdempotent,
                |req| req.body("wheel"),
            )
            .await
            .unwrap_err();
        assert_eq!(error.attempts(), 1, "{reply:?}");
        assert_eq!(server.seen().len(), 1, "{reply:?}");
    }
}

#[tokio::test]
async fn non_idempotent_requests_are_retried_when_never_sent() {
    // A port with nothing listening: every attempt is refused.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = RedactedUrl::parse(&format!("http://{addr}/upload")).unwrap();
    let config = HttpConfig {
        max_retries: 2,
        ..config()
    };
    let error = client(&config)
        .send_with(Method::POST, &url, Idempotency::NonIdempotent, |req| req)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect);
    assert_eq!(error.attempts(), 3);
}

#[tokio::test]
async fn statuses_and_refusals() {
    let unavailable = FaultServer::start(vec![Reply::Status {
        code: 503,
        headers: &[],
        body: "  backend down for maintenance\n",
    }])
    .await;
    let missing = FaultServer::start(vec![status(404)]).await;
    let http = client(&config());

    let exhausted = http
        .send(Method::GET, &unavailable.url("/v2/"), |req| req)
        .await
        .unwrap_err();
    assert_eq!(unavailable.seen().len(), 4);
    assert_eq!(exhausted.class(), ErrorClass::Remote);
    assert_eq!(
        exhausted.body_snippet().await.as_deref(),
        Some("backend down for maintenance")
    );
    assert_eq!(
        exhausted.body_snippet().await,
        None,
        "the response is taken once"
    );

    let not_found = http
        .send(Method::HEAD, &missing.url("/v2/blobs/sha256:0"), |req| req)
        .await
        .unwrap_err();
    assert_eq!(missing.seen().len(), 1);
    assert_eq!(not_found.class(), ErrorClass::Client);

    let refused = |url: &str| {
        let url = RedactedUrl::parse(url).unwrap();
        let http = http.clone();
        async move { http.send(Method::GET, &url, |req| req).await.unwrap_err() }
    };
    let plain = refused("http://registry.example.com/v2/").await;
    assert_eq!(plain.class(), ErrorClass::Usage);
    let other = refused("ftp://files.example.com/pub").await;
    assert_eq!(other.kind(), ErrorKind::InvalidUrl);

    let messages: Vec<String> = [&exhausted, &not_found, &plain, &other]
        .into_iter()
        .map(message)
        .collect();
    insta::assert_snapshot!(messages.join("\n---\n"));
}

#[test]
fn insecure_hosts_allow_plain_http() {
    let url = RedactedUrl::parse("http://registry.lan:5000/v2/").unwrap();
    let strict = client(&config());
    let error = strict.check_url(&Method::GET, &url).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InsecureScheme);
    let lenient = client(&HttpConfig {
        insecure_hosts: vec!["registry.lan".to_owned()],
        ..config()
    });
    lenient.check_url(&Method::GET, &url).unwrap();
}

#[tokio::test]
async fn redirects_to_plain_http_are_refused() {
    let server = FaultServer::start(vec![Reply::Status {
        code: 302,
        headers: &[("location", "http://files.example.com/wheel.whl")],
        body: "",
    }])
    .await;
    let error = client(&config())
        .send(Method::GET, &server.url("/download"), |req| req)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InsecureScheme);
    assert_eq!(error.attempts(), 1);
}

#[tokio::test]
async fn errors_never_show_credentials() {
    const PASSWORD: &str = "CANARY-pa55word";
    const TOKEN: &str = "CANARY-t0ken";
    const BODY_SECRET: &str = "CANARY-b0dy";
    windlass_redact::global().register(BODY_SECRET);

    let server = FaultServer::start(vec![Reply::Status {
        code: 401,
        headers: &[],
        body: "invalid credentials CANARY-b0dy for user",
    }])
    .await;
    let closed = FaultServer::start(vec![Reply::CloseMidResponse]).await;
    let refused_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let with_secrets = |addr: String| {
        RedactedUrl::parse(&format!(
            "http://release:{PASSWORD}@{addr}/v1/login?token={TOKEN}&role=ci"
        ))
        .unwrap()
    };
    let http = client(&HttpConfig {
        max_retries: 1,
        ..config()
    });
    // The retry logs are searched for the canaries too.
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut errors = Vec::new();
    for url in [
        with_secrets(server.addr.to_string()),
        with_secrets(closed.addr.to_string()),
        with_secrets(format!("127.0.0.1:{refused_port}")),
        RedactedUrl::parse(&format!("http://{TOKEN}@registry.example.com/?sig={TOKEN}")).unwrap(),
    ] {
        errors.push(http.send(Method::POST, &url, |req| req).await.unwrap_err());
    }
    let mut rendered = Vec::new();
    for error in &errors {
        let mut text = format!("{error}\n{error:?}\n{error:#?}");
        let mut source = error.source();
        while let Some(cause) = source {
            write!(text, "\ncaused by: {cause}\n{cause:?}").unwrap();
            source = cause.source();
        }
        if let Some(hint) = error.hint() {
            text.push_str(&hint);
        }
        text.push_str(&error.body_snippet().await.unwrap_or_default());
        for canary in [PASSWORD, TOKEN, BODY_SECRET] {
            assert!(!text.contains(canary), "{canary} leaked in:\n{text}");
        }
        rendered.push(message(error));
    }
    let logs = logs.text();
    assert!(logs.contains("retrying http request"), "{logs}");
    assert!(logs.contains("release:****@127.0.0.1"), "{logs}");
    for canary in [PASSWORD, TOKEN, BODY_SECRET] {
        assert!(!logs.contains(canary), "{canary} leaked in logs:\n{logs}");
    }
    insta::assert_snapshot!(rendered.join("\n---\n"));
}

/// Log lines written by a test's tracing subscriber.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn snippets_are_capped() {
    let big = "x".repeat(10_000).leak();
    let server = FaultServer::start(vec![Reply::Status {
        code: 400,
        headers: &[],
        body: big,
    }])
    .await;
    let error = client(&config())
        .send(Method::GET, &server.url("/"), |req| req)
        .await
        .unwrap_err();
    let snippet = error.body_snippet().await.unwrap();
    assert_eq!(
        snippet.len(),
        windlass_http::SNIPPET_MAX_BYTES + '…'.len_utf8()
    );
    assert!(snippet.ends_with('…'));
}

#[tokio::test]
async fn a_secret_cut_by_the_snippet_end_is_masked_whole() {
    let secret = "CANARY-snippet-edge-0123456789abcdef";
    windlass_redact::global().register(secret);
    // The secret starts 8 bytes before the cut.
    let body = format!(
        "{}{secret} and more",
        "x".repeat(windlass_http::SNIPPET_MAX_BYTES - 8)
    );
    let server = FaultServer::start(vec![Reply::Status {
        code: 400,
        headers: &[],
        body: body.leak(),
    }])
    .await;
    let error = client(&config())
        .send(Method::GET, &server.url("/"), |req| req)
        .await
        .unwrap_err();
    let snippet = error.body_snippet().await.unwrap();
    assert!(
        !snippet.contains(&secret[..8]),
        "{}",
        &snippet[snippet.len() - 40..]
    );
    assert!(snippet.contains("****"));
    assert!(snippet.len() <= windlass_http::SNIPPET_MAX_BYTES + '…'.len_utf8());
}

#[tokio::test]
async fn bodies_are_read_within_a_limit() {
    // Announced by Content-Length: refused before reading.
    let server = FaultServer::start(vec![Reply::Status {
        code: 200,
        headers: &[],
        body: "0123456789",
    }])
    .await;
    let url = server.url("/v1/secret/data/big");
    let response = client(&config())
        .send(Method::GET, &url, |r| r)
        .await
        .unwrap();
    let error = windlass_http::read_bytes(&Method::GET, &url, response, 9)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert_eq!(error.class(), ErrorClass::Remote);
    let response = client(&config())
        .send(Method::GET, &url, |r| r)
        .await
        .unwrap();
    let body = windlass_http::read_bytes(&Method::GET, &url, response, 10)
        .await
        .unwrap();
    assert_eq!(body, b"0123456789");

    // Chunked without an end: stopped once past the limit.
    let server = FaultServer::start(vec![Reply::Endless]).await;
    let url = server.url("/simple/endless/");
    let response = client(&config())
        .send(Method::GET, &url, |r| r)
        .await
        .unwrap();
    let error = windlass_http::read_bytes(&Method::GET, &url, response, 1024 * 1024)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    insta::assert_snapshot!(message(&error), @"the response to GET http://127.0.0.1:[PORT]/simple/endless/ is larger than 1 MiB");

    // JSON that is not JSON: a decode error that shows nothing of the body.
    let server = FaultServer::start(vec![Reply::Status {
        code: 200,
        headers: &[],
        body: "{\"token\": CANARY-not-json",
    }])
    .await;
    let url = server.url("/token");
    let response = client(&config())
        .send(Method::GET, &url, |r| r)
        .await
        .unwrap();
    let error = windlass_http::read_json::<serde_json::Value>(&Method::GET, &url, response, 1024)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert!(!format!("{error} {error:?}").contains("CANARY"));
}

/// A CA, a leaf for 127.0.0.1 and localhost signed by it, and an unrelated
/// second CA.
struct Pki {
    ca_pem: String,
    other_ca_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let make_ca = |name: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), Issuer::new(params, key))
    };
    let (ca_pem, issuer) = make_ca("windlass test ca");
    let (other_ca_pem, _) = make_ca("unrelated test ca");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    Pki {
        ca_pem,
        other_ca_pem,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server_config)),
    }
}

#[tokio::test]
async fn extra_ca_file_is_trusted() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, format!("{}\n{}", pki.other_ca_pem, pki.ca_pem)).unwrap();
    let server = FaultServer::start_with(vec![OK], Some(pki.acceptor.clone())).await;
    let url = RedactedUrl::parse(&format!("https://127.0.0.1:{}/v2/", server.addr.port())).unwrap();

    let trusting = client(&HttpConfig {
        extra_ca_file: Some(bundle),
        ..config()
    });
    let response = trusting.send(Method::GET, &url, |req| req).await.unwrap();
    let url = RedactedUrl::new(response.url().clone());
    let body = windlass_http::read_bytes(&Method::GET, &url, response, 64)
        .await
        .unwrap();
    assert_eq!(body, b"ok");

    let plain = client(&config());
    let error = plain.send(Method::GET, &url, |req| req).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:?}");
    assert_eq!(error.attempts(), 1, "a certificate error is not retried");
    assert_eq!(server.seen().len(), 1);
    insta::assert_snapshot!(message(&error));
}

#[tokio::test]
async fn a_self_signed_certificate_can_be_trusted() {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("registry.pem");
    std::fs::write(&ca_file, cert.pem()).unwrap();
    let server = FaultServer::start_with(vec![OK], Some(acceptor)).await;
    let url = RedactedUrl::parse(&format!("https://127.0.0.1:{}/", server.addr.port())).unwrap();

    let error = client(&config())
        .send(Method::GET, &url, |req| req)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Tls);
    let trusting = client(&HttpConfig {
        extra_ca_file: Some(ca_file),
        ..config()
    });
    let response = trusting.send(Method::GET, &url, |req| req).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn bad_ca_files() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates in here\n").unwrap();
    let broken = dir.path().join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let fifo = dir.path().join("fifo.pem");
    windlass_testkit::mkfifo(&fifo);
    let cases = [
        dir.path().join("missing.pem"),
        empty,
        broken,
        fifo,
        std::path::PathBuf::from("/dev/zero"),
    ];
    let shown_dir = dir.path().to_string_lossy().into_owned();
    // A fifo must not block the client's construction: a hang fails here.
    let rendered =
        windlass_testkit::within(Duration::from_secs(60), "reading ca files", move || {
            cases
                .iter()
                .map(|path| {
                    let result = HttpClient::new(&HttpConfig {
                        extra_ca_file: Some(path.clone()),
                        ..HttpConfig::default()
                    });
                    let error: BuildError = result.unwrap_err();
                    let mut text = error.to_string();
                    if let Some(source) = error.source() {
                        write!(text, " / caused by: {source}").unwrap();
                    }
                    text.replace(&shown_dir, "[DIR]")
                })
                .collect::<Vec<String>>()
        });
    insta::assert_debug_snapshot!(rendered);
}
