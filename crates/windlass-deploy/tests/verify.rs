//! Verification after an upgrade: HTTP checks against a local server that
//! fails before it succeeds, commands given secrets from references (the
//! canary never shown), a failing command's exit code and last lines.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use windlass_config::Environment;
use windlass_deploy::config::VerifySpec;
use windlass_deploy::gates::{GateResult, VerifyInput, verify_after};
use windlass_http::{HttpClient, HttpConfig};
use windlass_secrets::{Resolver, VaultSection};
use windlass_testkit::{assert_no_leak, canary};

/// A server answering `503` to the first `failures` requests, then `200`;
/// counts the requests.
async fn flaky_server(failures: usize, then: StatusCode) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let status = if n < failures {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        then
                    };
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(b"ok")))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, count)
}

fn http(url: String, expect: Option<u16>, timeout: &str) -> VerifySpec {
    VerifySpec {
        http: Some(url),
        command: None,
        env: BTreeMap::new(),
        expect_status: expect,
        timeout: Some(timeout.into()),
        name: None,
    }
}

fn command(argv: &[&str], env: &[(&str, &str)], name: Option<&str>) -> VerifySpec {
    VerifySpec {
        http: None,
        command: Some(argv.iter().map(|a| (*a).to_owned()).collect()),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        expect_status: None,
        timeout: Some("30s".into()),
        name: name.map(str::to_owned),
    }
}

async fn run(checks: &[VerifySpec], env: Environment) -> Vec<GateResult> {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), checks, env).await
}

async fn run_in(dir: &std::path::Path, checks: &[VerifySpec], env: Environment) -> Vec<GateResult> {
    let client = HttpClient::new(&HttpConfig::default()).unwrap();
    let resolver = Resolver::new(env, dir, VaultSection::default());
    verify_after(&VerifyInput {
        checks,
        http: &client,
        secrets: &resolver,
        cwd: dir,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_check_retries_until_the_service_answers() {
    let (addr, count) = flaky_server(3, StatusCode::OK).await;
    // User info and a query are never shown.
    let url = format!("http://probe:hunter2-pass@{addr}/healthz?token=abc123");
    let results = run(
        &[http(url, None, "2m")],
        Environment::from_vars::<_, &str, &str>([]),
    )
    .await;
    assert_eq!(results.len(), 1);
    let result = &results[0];
    assert!(result.passed, "{result:?}");
    assert_eq!(result.gate, format!("verify: http://{addr}/healthz"));
    assert_eq!(
        result.detail,
        format!("GET http://{addr}/healthz answered 200 OK")
    );
    assert_eq!(count.load(Ordering::SeqCst), 4);
    for secret in ["hunter2-pass", "abc123", "probe"] {
        assert!(!result.detail.contains(secret) && !result.gate.contains(secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_check_expected_status_and_failure() {
    // Any status may be expected, an error status included.
    let (addr, _) = flaky_server(0, StatusCode::NOT_FOUND).await;
    let results = run(
        &[
            http(format!("http://{addr}/gone"), Some(404), "10s"),
            http(format!("http://{addr}/gone"), None, "1s"),
        ],
        Environment::from_vars::<_, &str, &str>([]),
    )
    .await;
    assert!(results[0].passed, "{:?}", results[0]);
    assert_eq!(
        results[0].detail,
        format!("GET http://{addr}/gone answered 404 Not Found")
    );
    let failed = &results[1];
    assert!(!failed.passed);
    assert!(
        failed.detail.starts_with(&format!(
            "GET http://{addr}/gone answered 404 Not Found, expected a 2xx status; gave up after "
        )),
        "{}",
        failed.detail
    );

    // Nothing listening: the connection error, then the end.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let results = run(
        &[http(format!("http://{closed}/"), None, "1s")],
        Environment::from_vars::<_, &str, &str>([]),
    )
    .await;
    assert!(!results[0].passed);
    assert!(
        results[0]
            .detail
            .starts_with(&format!("GET http://{closed}/ failed (")),
        "{}",
        results[0].detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_get_secrets_and_never_show_them() {
    let token = canary("verify-token");
    let env = Environment::from_vars([("SMOKE_TOKEN", token.as_str())]);
    let checks = [
        // The secret arrives: the command checks its length, not its value
        // (a secret in argv is refused).
        command(
            &["sh", "-c", "[ \"${#TOKEN}\" -gt 20 ]"],
            &[("TOKEN", "env://SMOKE_TOKEN")],
            Some("smoke"),
        ),
        // It prints the secret, then fails: the detail has the exit code
        // and the last lines, redacted.
        command(
            &[
                "sh",
                "-c",
                "for i in $(seq 1 15); do echo line $i; done; echo \"token=$TOKEN\"; echo oops >&2; echo \"err $TOKEN\" >&2; exit 3",
            ],
            &[("TOKEN", "env://SMOKE_TOKEN")],
            None,
        ),
        // A literal value is not a reference.
        command(&["true"], &[("TOKEN", "plain-value")], Some("literal")),
        // A reference that does not resolve.
        command(
            &["true"],
            &[("TOKEN", "env://NOT_SET_ANYWHERE")],
            Some("unset"),
        ),
        // A program that is not there.
        command(&["windlass-no-such-program"], &[], Some("missing")),
    ];
    let results = run(&checks, env).await;
    let everything = serde_json::to_string(&results).unwrap();
    assert_no_leak(everything.as_bytes(), &token);

    assert_eq!(results[0].gate, "verify: smoke");
    assert!(results[0].passed, "{:?}", results[0]);
    assert_eq!(results[0].detail, "exited with 0");

    let failed = &results[1];
    assert!(!failed.passed);
    let lines: Vec<&str> = failed.detail.lines().collect();
    assert_eq!(lines[0], "exited with 3");
    assert_eq!(lines[1], "stdout:");
    // The last ten lines of stdout: 7..15 and the token line.
    assert_eq!(lines[2], "  line 7");
    assert_eq!(lines[10], "  line 15");
    assert!(
        lines[11].starts_with("  token=") && lines[11].contains("****"),
        "{}",
        lines[11]
    );
    assert_eq!(lines[12], "stderr:");
    assert_eq!(lines[13], "  oops");
    assert!(
        lines[14].starts_with("  err ") && lines[14].contains("****"),
        "{}",
        lines[14]
    );

    assert!(!results[2].passed);
    assert!(
        results[2]
            .detail
            .starts_with("`env.TOKEN` is not a secret reference"),
        "{}",
        results[2].detail
    );
    assert!(
        !results[2].detail.contains("plain-value"),
        "{}",
        results[2].detail
    );
    assert!(!results[3].passed);
    assert!(
        results[3]
            .detail
            .starts_with("cannot resolve `env.TOKEN` (`env://NOT_SET_ANYWHERE`)"),
        "{}",
        results[3].detail
    );
    assert!(!results[4].passed);
    assert!(
        results[4].detail.contains("windlass-no-such-program"),
        "{}",
        results[4].detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_needs_exactly_one_kind() {
    let mut both = http("http://127.0.0.1:1/".into(), None, "1s");
    both.command = Some(vec!["true".into()]);
    let mut bad_timeout = command(&["true"], &[], Some("t"));
    bad_timeout.timeout = Some("soon".into());
    let results = run(
        &[both, bad_timeout],
        Environment::from_vars::<_, &str, &str>([]),
    )
    .await;
    assert_eq!(
        results[0].detail,
        "a verify check has exactly one of `http` and `command`"
    );
    assert_eq!(
        results[1].detail,
        "`timeout = \"soon\"` is not a duration (e.g. `30s`, `2m`)"
    );
}

/// A command relative to the project directory runs from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_in_the_project() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("scripts/smoke.sh");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(
        &script,
        "#!/bin/sh\ntest -f scripts/smoke.sh || exit 9\necho checked\nexit 4\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let results = run_in(
        dir.path(),
        &[command(&["./scripts/smoke.sh"], &[], None)],
        Environment::from_vars::<_, &str, &str>([]),
    )
    .await;
    assert_eq!(results[0].gate, "verify: ./scripts/smoke.sh");
    assert_eq!(results[0].detail, "exited with 4\nstdout:\n  checked");
}
