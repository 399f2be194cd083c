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
    BuildError, ErrorClass, ErrorKind, HttpClient, HttpConfig, Idempotency, Method, Policy,
    RetryNotice, RetryObserver, RetryReason, StatusCode,
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

/// A port on 127.0.0.1 with nothing listening.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_refused_loopback_connection_is_final_at_once() {
    let port = refused_port();
    let seen = Arc::new(Mutex::new(0_u32));
    let count = Arc::clone(&seen);
    let http = client(&config()).with_retry_observer(RetryObserver::new(move |_| {
        *count.lock().unwrap() += 1;
    }));
    for (host, idempotency) in [
        ("127.0.0.1", Idempotency::Idempotent),
        ("127.0.0.1", Idempotency::NonIdempotent),
        ("localhost", Idempotency::Idempotent),
    ] {
        let url = RedactedUrl::parse(&format!("http://{host}:{port}/upload")).unwrap();
        let error = http
            .send_with(Method::POST, &url, idempotency, |req| req)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connect, "{host}");
        assert!(error.is_loopback_refusal(), "{host}: {error:?}");
        assert_eq!(error.attempts(), 1, "{host}");
        assert!(error.is_remote_failure());
    }
    assert_eq!(*seen.lock().unwrap(), 0, "no retry was announced");
}

#[tokio::test]
async fn the_budget_ends_retries() {
    // The second answer asks for a wait that would end past the budget.
    let server = FaultServer::start(vec![
        status(503),
        Reply::Status {
            code: 503,
            headers: &[("retry-after", "2")],
            body: "",
        },
        OK,
    ])
    .await;
    let http = client(&HttpConfig {
        max_retries: 10,
        retry_budget: Duration::from_millis(500),
        ..config()
    });
    let error = http
        .send(Method::GET, &server.url("/simple/"), |req| req)
        .await
        .unwrap_err();
    assert_eq!(server.seen().len(), 2);
    assert_eq!(error.attempts(), 2);
    assert_eq!(error.retry_budget_ended(), Some(Duration::from_millis(500)));
    insta::assert_snapshot!(message(&error), @r"
    GET http://127.0.0.1:[PORT]/simple/ returned 503 service unavailable (after 2 attempts in [TIME], gave up after the 0.5 s retry budget)

    hint: the server kept failing for the whole 0.5 s retry budget; to wait longer, raise `http.retry-budget` (or WINDLASS_HTTP_RETRY_BUDGET)
    ");
}

#[tokio::test]
async fn a_dead_origin_fails_at_once_once_its_budget_is_spent() {
    let server = FaultServer::start(vec![status(503)]).await;
    let http = client(&HttpConfig {
        max_retries: 2,
        retry_budget: Duration::from_millis(300),
        ..config()
    });
    let first = http
        .send(Method::GET, &server.url("/a"), |req| req)
        .await
        .unwrap_err();
    assert_eq!(first.attempts(), 3, "{first}");
    assert_eq!(first.retry_budget_ended(), None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // A clone shares the budget; another path of the origin too.
    let later = http
        .clone()
        .send(Method::GET, &server.url("/b"), |req| req)
        .await
        .unwrap_err();
    assert_eq!(later.attempts(), 1);
    assert_eq!(server.seen().len(), 4);
    insta::assert_snapshot!(message(&later), @r"
    GET http://127.0.0.1:[PORT]/b returned 503 service unavailable (not retried: the 0.3 s retry budget for this server is spent)

    hint: the server kept failing for the whole 0.3 s retry budget; to wait longer, raise `http.retry-budget` (or WINDLASS_HTTP_RETRY_BUDGET)
    ");
}

#[tokio::test]
async fn a_success_resets_the_budget() {
    let server = FaultServer::start(vec![status(503), OK, status(503), OK]).await;
    let http = client(&HttpConfig {
        retry_budget: Duration::from_millis(300),
        ..config()
    });
    http.send(Method::GET, &server.url("/a"), |req| req)
        .await
        .unwrap();
    // Longer than the budget since the first failure: only the success
    // in between lets the next failure be retried.
    tokio::time::sleep(Duration::from_millis(400)).await;
    http.send(Method::GET, &server.url("/b"), |req| req)
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_budget() {
    let server = FaultServer::start(vec![
        Reply::Status {
            code: 503,
            headers: &[("retry-after", "1")],
            body: "",
        },
        OK,
    ])
    .await;
    let http = client(&HttpConfig {
        retry_budget: Duration::from_secs(2),
        ..config()
    });
    http.send(Method::GET, &server.url("/"), |req| req)
        .await
        .unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
}

#[tokio::test]
async fn the_observer_hears_each_retry() {
    let server = FaultServer::start(vec![
        status(503),
        Reply::Status {
            code: 429,
            headers: &[("retry-after", "0")],
            body: "",
        },
        Reply::CloseMidResponse,
        OK,
    ])
    .await;
    let notices = Arc::new(Mutex::new(Vec::<RetryNotice>::new()));
    let heard = Arc::clone(&notices);
    let http = client(
        &config().with_retry_observer(RetryObserver::new(move |notice| {
            heard.lock().unwrap().push(notice.clone());
        })),
    );
    let url = RedactedUrl::parse(&format!(
        "http://release:CANARY-observer@{}/simple/?token=CANARY-observer",
        server.addr
    ))
    .unwrap();
    http.send(Method::GET, &url, |req| req).await.unwrap();
    let notices = notices.lock().unwrap();
    assert_eq!(notices.len(), 3);
    let reasons: Vec<RetryReason> = notices.iter().map(|n| n.reason).collect();
    assert_eq!(
        reasons,
        [
            RetryReason::Status(StatusCode::SERVICE_UNAVAILABLE),
            RetryReason::Status(StatusCode::TOO_MANY_REQUESTS),
            RetryReason::Error(ErrorKind::Interrupted),
        ]
    );
    assert_eq!(notices[1].wait, Duration::ZERO, "retry-after: 0");
    let lines: Vec<String> = notices
        .iter()
        .map(|notice| {
            assert_eq!(notice.method, Method::GET);
            assert_eq!(notice.max_attempts, 4);
            let line = notice.to_string();
            assert!(!line.contains("CANARY"), "{line}");
            let line = support::filter(&line);
            line[..line.find("next in").unwrap()].to_owned()
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @r"
    GET http://release:****@127.0.0.1:[PORT]/simple/?token=**** (503 Service Unavailable, attempt 2 of 4, 
    GET http://release:****@127.0.0.1:[PORT]/simple/?token=**** (429 Too Many Requests, attempt 3 of 4, 
    GET http://release:****@127.0.0.1:[PORT]/simple/?token=**** (interrupted error, attempt 4 of 4, 
    ");
}

#[tokio::test]
async fn requests_retried_by_the_caller_are_sent_once() {
    let server = FaultServer::start(vec![status(503), status(502), OK]).await;
    let http = client(&HttpConfig {
        max_retries: 1,
        ..config()
    });
    let url = server.url("/upload");
    let send = || {
        http.send_with(
            Method::POST,
            &url,
            Policy::NON_IDEMPOTENT.retried_by_caller(),
            |req| req.body("wheel"),
        )
    };
    let mut retrier = http.retrier();
    let first = send().await.unwrap_err();
    assert_eq!(first.attempts(), 1);
    assert_eq!(server.seen().len(), 1, "no retry inside");
    assert!(retrier.schedule(&first).is_some(), "the caller may retry");
    let second = send().await.unwrap_err();
    assert_eq!(server.seen().len(), 2);
    // `http.retries = 1`: two attempts in all.
    assert_eq!(retrier.schedule(&second), None);
    let error = retrier.give_up(second);
    assert_eq!(error.attempts(), 2);
    insta::assert_snapshot!(message(&error), @"POST http://127.0.0.1:[PORT]/upload returned 502 bad gateway (after 2 attempts in [TIME])");
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
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Tests on other threads (with no subscriber) may register a callsite
    // (the retry's) while this one is being set: its interest can then be
    // left at "never" and the event dropped here. Ask every callsite again
    // now that this subscriber is live.
    tracing::callsite::rebuild_interest_cache();
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
