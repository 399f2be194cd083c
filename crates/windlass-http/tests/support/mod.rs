//! A local fault server for the integration tests: it answers each request
//! with the next reply of a script and records what it saw.

#![allow(dead_code, reason = "each test binary uses part of the support module")]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use windlass_http::{HttpClient, HttpConfig, HttpError};
use windlass_redact::RedactedUrl;

/// What the server does with the n-th request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// A full response with `Connection: close`.
    Status {
        code: u16,
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
    },
    /// Half a status line, then the socket is closed.
    CloseMidResponse,
    /// The socket is reset (`SO_LINGER` 0) without an answer.
    Reset,
    /// No answer for this long, then 200.
    Stall(Duration),
    /// A chunked 200 whose body never ends (until the client goes away or
    /// 64 MiB were sent).
    Endless,
    /// A redirect with this status to this location.
    Redirect { code: u16, location: String },
}

pub(crate) const OK: Reply = Reply::Status {
    code: 200,
    headers: &[],
    body: "ok",
};

pub(crate) fn status(code: u16) -> Reply {
    Reply::Status {
        code,
        headers: &[],
        body: "",
    }
}

/// One received request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) at: Instant,
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

/// A server that answers each request with the next reply of its script
/// (the last reply repeats) and records what it saw.
pub(crate) struct FaultServer {
    pub(crate) addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FaultServer {
    pub(crate) async fn start(script: Vec<Reply>) -> Self {
        Self::start_with(script, None).await
    }

    pub(crate) async fn start_with(
        script: Vec<Reply>,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            // Bounded: no test needs more than a handful of connections.
            for _ in 0..32 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let n = log.lock().unwrap().len();
                let reply = script[n.min(script.len() - 1)].clone();
                let log = Arc::clone(&log);
                let tls = tls.clone();
                tokio::spawn(async move {
                    if let Reply::Reset = reply {
                        // Read the request first so it is counted.
                        let mut stream = stream;
                        if read_request(&mut stream, &log).await {
                            stream.set_zero_linger().unwrap();
                        }
                        return;
                    }
                    match tls {
                        Some(acceptor) => {
                            // A client that rejects the certificate fails here.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, reply, &log).await;
                            }
                        }
                        None => serve(stream, reply, &log).await,
                    }
                });
            }
        });
        Self { addr, seen }
    }

    pub(crate) fn url(&self, path: &str) -> RedactedUrl {
        RedactedUrl::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request (head and `Content-Length` body) and records it;
/// false when the client went away first.
pub(crate) async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    log: &Mutex<Vec<Seen>>,
) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > 64 * 1024 {
            return false;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    log.lock().unwrap().push(Seen {
        at: Instant::now(),
        head,
        body,
    });
    true
}

pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    reply: Reply,
    log: &Mutex<Vec<Seen>>,
) {
    if !read_request(&mut stream, log).await {
        return;
    }
    let (code, headers, body) = match reply {
        Reply::Status {
            code,
            headers,
            body,
        } => (code, headers, body),
        Reply::CloseMidResponse => {
            let _ = stream.write_all(b"HTTP/1.1 200 O").await;
            let _ = stream.shutdown().await;
            return;
        }
        Reply::Reset => unreachable!("handled before"),
        Reply::Stall(pause) => {
            tokio::time::sleep(pause).await;
            (200, &[][..], "late")
        }
        Reply::Endless => {
            let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "z".repeat(64 * 1024));
            for _ in 0..1024 {
                if stream.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
            let _ = stream.shutdown().await;
            return;
        }
        Reply::Redirect { code, location } => {
            let response = format!(
                "HTTP/1.1 {code} X\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
            return;
        }
    };
    let mut response = format!(
        "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        write!(response, "{name}: {value}\r\n").unwrap();
    }
    response.push_str("\r\n");
    response.push_str(body);
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A quick config for tests: short backoff, a few retries.
pub(crate) fn config() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
        max_retries: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        retry_after_max: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

pub(crate) fn client(config: &HttpConfig) -> HttpClient {
    HttpClient::new(config).unwrap()
}

/// The error's message with ports filtered.
pub(crate) fn message(error: &HttpError) -> String {
    let mut text = error.to_string();
    if let Some(hint) = error.hint() {
        write!(text, "\n\nhint: {hint}").unwrap();
    }
    filter(&text)
}

pub(crate) fn filter(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        out.push_str("[PORT]");
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    filter_seconds(&out)
}

/// `in 1.2 s` and `in 19 s` (durations measured, not configured) as
/// `in [TIME]`.
fn filter_seconds(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" in ") {
        let (before, after) = rest.split_at(at + " in ".len());
        out.push_str(before);
        let number = after
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after.len());
        if number > 0 && after[number..].starts_with(" s") {
            out.push_str("[TIME]");
            rest = &after[number + " s".len()..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
