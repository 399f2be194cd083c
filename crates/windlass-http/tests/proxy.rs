//! Loopback and plain-http requests never go through a proxy from the
//! environment; https requests to other hosts still do.
//!
//! One test in its own binary: it sets the proxy variables for the whole
//! process before any thread starts.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]
#![allow(
    unsafe_code,
    reason = "setting environment variables before any thread exists"
)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use windlass_http::{ErrorKind, HttpClient, HttpConfig, Method};
use windlass_redact::RedactedUrl;

use crate::support::{FaultServer, OK, config};

/// A proxy that records the first line of every request and answers 502.
fn start_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { return };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0_u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]);
            log.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or_default().to_owned());
            let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (port, seen)
}

#[test]
fn loopback_and_plain_http_bypass_environment_proxies() {
    let (proxy_port, proxy_seen) = start_proxy();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        // SAFETY: no other thread of this process reads the environment yet
        // (the proxy thread does not).
        unsafe { std::env::set_var(name, &proxy) };
    }
    for name in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = FaultServer::start(vec![OK]).await;
        let port = server.addr.port();
        let http = HttpClient::new(&HttpConfig {
            max_retries: 0,
            insecure_hosts: vec!["plain.invalid".to_owned()],
            ..config()
        })
        .unwrap();
        for url in [
            format!("http://127.0.0.1:{port}/a"),
            format!("http://localhost:{port}/b"),
        ] {
            let url = RedactedUrl::parse(&url).unwrap();
            let response = http
                .send(Method::GET, &url, |r| r.bearer_auth("CANARY-proxy"))
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{url}");
        }
        assert_eq!(server.seen().len(), 2);
        assert!(
            proxy_seen.lock().unwrap().is_empty(),
            "{:?}",
            proxy_seen.lock().unwrap()
        );

        // Plain http to an allowed host goes direct too: here, to a name
        // that does not resolve, so it fails to connect without a proxy.
        let url = RedactedUrl::parse("http://plain.invalid/simple/").unwrap();
        let error = http.send(Method::GET, &url, |r| r).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connect);
        assert!(proxy_seen.lock().unwrap().is_empty());

        // https elsewhere still goes through the proxy (as a CONNECT tunnel).
        let url = RedactedUrl::parse("https://index.invalid/simple/").unwrap();
        let _ = http.send(Method::GET, &url, |r| r).await;
        let seen = proxy_seen.lock().unwrap().clone();
        assert_eq!(seen, vec!["CONNECT index.invalid:443 HTTP/1.1".to_owned()]);
    });
}
