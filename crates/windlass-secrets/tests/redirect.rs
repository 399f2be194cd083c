//! A Vault server that redirects to another origin never gets the token or
//! a login body sent there: the binary stops with exit 3 and names both
//! origins. The "Vault" here is a stand-in that only redirects (a real one
//! cannot be made to), the other origin a listener that counts visitors.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use windlass_testkit::cli::Cli;
use windlass_testkit::{assert_no_leak, canary};

/// Answers every request with `307` to `target`, recording what it saw.
fn redirector(target: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            let Ok(mut stream) = stream else { return };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = vec![0_u8; 16 * 1024];
            let n = stream.read(&mut buf).unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{target}/v1/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (addr, seen)
}

/// A listener that counts connections and answers none.
fn visitor_counter() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count)
}

fn project(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("windlass.toml"), config).unwrap();
    dir
}

fn binary(dir: &std::path::Path, vault: SocketAddr) -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_windlass-secrets"), dir)
        .env("HOME", dir)
        .env("VAULT_ADDR", format!("http://{vault}"))
}

#[test]
fn a_token_never_follows_a_redirect_to_another_origin() {
    let token = canary("redirected-vault-token");
    let (other, visitors) = visitor_counter();
    let (vault, seen) = redirector(other);
    let dir = project("");
    let output = binary(dir.path(), vault)
        .env("VAULT_TOKEN", &token)
        .args(["get", "--reveal", "vault://secret/ci/app#token"])
        .output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert_eq!(
        visitors.load(Ordering::SeqCst),
        0,
        "the other origin was contacted"
    );
    // The stand-in did get the token: it is the configured server.
    assert!(seen.lock().unwrap().iter().any(|r| r.contains(&token)));
    assert!(stderr.contains(&format!("from http://{vault}")), "{stderr}");
    assert!(
        stderr.contains(&format!("another origin, http://{other}")),
        "{stderr}"
    );
    assert_no_leak(&output.stdout, &token);
    assert_no_leak(&output.stderr, &token);
}

#[test]
fn a_login_body_never_follows_a_redirect_to_another_origin() {
    let secret_id = canary("redirected-secret-id");
    let (other, visitors) = visitor_counter();
    let (vault, seen) = redirector(other);
    let dir = project(
        "[vault]\nauth = \"approle\"\n\n[vault.approle]\nrole-id = \"env://ROLE_ID\"\nsecret-id = \"env://SECRET_ID\"\n",
    );
    let output = binary(dir.path(), vault)
        .env("ROLE_ID", "release-role")
        .env("SECRET_ID", &secret_id)
        .args(["get", "--reveal", "vault://secret/ci/app#token"])
        .output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert_eq!(
        visitors.load(Ordering::SeqCst),
        0,
        "the other origin was contacted"
    );
    let requests = seen.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("POST /v1/auth/approle/login")),
        "{requests:?}"
    );
    assert!(stderr.contains("another origin"), "{stderr}");
    assert_no_leak(&output.stdout, &secret_id);
    assert_no_leak(&output.stderr, &secret_id);
}
