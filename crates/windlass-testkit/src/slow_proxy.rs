//! A proxy in front of a real server (OpenBao, an index) that holds or
//! delays the requests a test picks and records the token accessors of the
//! Vault logins that pass: how a test makes a login, a secret read or an
//! upload slow on demand, which the real server cannot do.
//!
//! One request per connection (it asks the server to close after each
//! answer); plain HTTP/1.1 with a `Content-Length` body, which is what the
//! Vault client sends. It moves bytes: it reads a request's first line and
//! length, never speaks HTTP as a client.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a broken fixture should panic"
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What the proxy does with requests whose path starts with a prefix.
#[derive(Debug, Clone, Copy)]
pub enum Slow {
    /// Never answer (the connection stays open until the client gives up).
    Hold,
    /// Forward after this long.
    Delay(Duration),
}

#[derive(Debug, Default)]
struct State {
    /// Request paths, in order of arrival.
    paths: Vec<String>,
    /// Requests held or being delayed so far.
    slowed: usize,
    /// Accessors of the tokens that logins answered with.
    accessors: Vec<String>,
    /// Connections being served.
    in_flight: usize,
}

/// The running proxy; its threads end with the test process.
#[derive(Debug)]
pub struct SlowProxy {
    url: String,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl SlowProxy {
    /// Listens on a free local port and forwards to `upstream`
    /// (`http://127.0.0.1:PORT`), applying the first rule whose prefix the
    /// request path (`/v1/...`) starts with.
    pub fn start(upstream: &str, rules: &[(&str, Slow)]) -> Self {
        let upstream = upstream
            .strip_prefix("http://")
            .expect("the proxy speaks plain http")
            .trim_end_matches('/')
            .to_owned();
        let rules: Vec<(String, Slow)> = rules
            .iter()
            .map(|(prefix, action)| ((*prefix).to_owned(), *action))
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (upstream, rules, state) =
                    (upstream.clone(), rules.clone(), Arc::clone(&shared));
                state.0.lock().unwrap().in_flight += 1;
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &rules, &state);
                    let (lock, changed) = &*state;
                    lock.lock().unwrap().in_flight -= 1;
                    changed.notify_all();
                });
            }
        });
        Self { url, state }
    }

    /// Where to point `VAULT_ADDR`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits until a request was held or delayed; `false` on timeout.
    pub fn wait_slowed(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |state| state.slowed > 0)
    }

    /// Waits until every connection was served (a delayed login forwarded
    /// after its client left, say); `false` on timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |state| state.in_flight == 0)
    }

    fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let (lock, changed) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut state = lock.lock().unwrap();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = changed.wait_timeout(state, left).unwrap().0;
        }
        true
    }

    /// The accessors of the tokens logins were answered with.
    pub fn accessors(&self) -> Vec<String> {
        self.state.0.lock().unwrap().accessors.clone()
    }

    /// Every request path seen, in order.
    pub fn paths(&self) -> Vec<String> {
        self.state.0.lock().unwrap().paths.clone()
    }
}

fn serve(
    mut client: TcpStream,
    upstream: &str,
    rules: &[(String, Slow)],
    state: &(Mutex<State>, Condvar),
) -> std::io::Result<()> {
    let (head, body) = read_request(&mut client)?;
    let path = head
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let action = rules
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix.as_str()))
        .map(|(_, action)| *action);
    {
        let (lock, changed) = state;
        let mut state = lock.lock().unwrap();
        state.paths.push(path.clone());
        if action.is_some() {
            state.slowed += 1;
        }
        changed.notify_all();
    }
    match action {
        Some(Slow::Hold) => {
            // Keep the connection open, unanswered, until the client leaves.
            let mut sink = [0_u8; 1024];
            while client.read(&mut sink).is_ok_and(|n| n > 0) {}
            return Ok(());
        }
        Some(Slow::Delay(delay)) => std::thread::sleep(delay),
        None => {}
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(close_after(&head).as_bytes())?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    if path.ends_with("/login")
        && let Some(accessor) = field(&answer, "accessor")
    {
        state.0.lock().unwrap().accessors.push(accessor);
    }
    client.write_all(&answer)?;
    client.flush()
}

/// The request head (up to and without the blank line) and its body.
fn read_request(client: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buffer = [0_u8; 4096];
    let end = loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let read = client.read(&mut buffer)?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = bytes[end + 4..].to_vec();
    while body.len() < length {
        let read = client.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&buffer[..read]);
    }
    Ok((head, body))
}

/// The head with `Connection: close`, so that the answer ends with the
/// connection.
fn close_after(head: &str) -> String {
    let mut out: Vec<&str> = head
        .split("\r\n")
        .filter(|line| {
            !line
                .split_once(':')
                .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    out.push("Connection: close");
    format!("{}\r\n\r\n", out.join("\r\n"))
}

/// The string value of `"name":"..."` in an answer, if present.
fn field(answer: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(answer);
    let key = format!("\"{name}\":\"");
    let start = text.find(&key)? + key.len();
    let end = text[start..].find('"')?;
    Some(text[start..start + end].to_owned()).filter(|value| !value.is_empty())
}
