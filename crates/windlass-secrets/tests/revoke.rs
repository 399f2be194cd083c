//! A token Windlass obtained is revoked however the run ends: success,
//! error, or SIGINT/SIGTERM during the login, during the resolution or
//! while `exec`'s child runs; revoked once, without a warning.
//!
//! The real `windlass-secrets` binary logs in with AppRole to the real
//! OpenBao through a proxy of the test's that holds or delays the requests
//! a case picks, and records the accessor of each token a login returned;
//! the root token then looks the accessor up.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "test code: a failing step is a failing test"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use windlass_testkit::cli::{Cli, Run, Running};
use windlass_testkit::{Bao, Services, Slow, SlowProxy};

/// When the test signals the binary.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// Never: the run ends by itself.
    None,
    /// Once the proxy holds or delays a request.
    Slowed,
    /// Once `exec`'s child has written `ready` in the project directory.
    ChildReady,
}

struct Case {
    name: &'static str,
    rules: Vec<(&'static str, Slow)>,
    args: Vec<String>,
    trigger: Trigger,
    /// What the test sends when `trigger` says (unused with `Trigger::None`).
    signal: fn(&Running),
}

/// Runs the binary in `dir` against `vault`, signals it when `trigger`
/// says, and returns how it ended.
fn run(dir: &Path, bao: &Bao, proxy: &SlowProxy, case: &Case) -> Run {
    let running = Cli::new(env!("CARGO_BIN_EXE_windlass-secrets"), dir)
        .env("HOME", dir)
        .env("VAULT_ADDR", proxy.url())
        .env("ROLE_ID", &bao.approle.role_id)
        .env("WINDLASS_HTTP_RETRIES", "0")
        .args(&case.args)
        // Killed (and so reported) when it does not end after the signal.
        .timeout(Duration::from_secs(60))
        .spawn();
    let ready = match case.trigger {
        Trigger::None => false,
        Trigger::Slowed => proxy.wait_slowed(Duration::from_secs(20)),
        Trigger::ChildReady => {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !dir.join("ready").exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            dir.join("ready").exists()
        }
    };
    if ready {
        (case.signal)(&running);
    }
    running.wait()
}

#[tokio::test]
async fn obtained_tokens_are_revoked_however_the_run_ends() {
    let bao = Services::load().bao();
    let reference = bao.kv2.reference();
    let missing_key = format!("vault://{}/{}#no-such-key", bao.kv2.mount, bao.kv2.path);
    let exec = |script: &str| -> Vec<String> {
        [
            "exec",
            "-e",
            &format!("T={reference}"),
            "--",
            "sh",
            "-c",
            script,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let hang_reads = vec![
        ("/v1/secret/", Slow::Hold),
        ("/v1/sys/internal/ui/mounts/", Slow::Hold),
    ];
    let cases = [
        Case {
            name: "get, done",
            rules: vec![],
            args: vec!["get".into(), reference.clone()],
            trigger: Trigger::None,
            signal: Running::interrupt,
        },
        Case {
            name: "get, a key that is not there",
            rules: vec![],
            args: vec!["get".into(), missing_key.clone()],
            trigger: Trigger::None,
            signal: Running::interrupt,
        },
        Case {
            name: "exec, the child fails",
            rules: vec![],
            args: exec("exit 7"),
            trigger: Trigger::None,
            signal: Running::interrupt,
        },
        Case {
            name: "exec, SIGTERM while the child runs",
            rules: vec![],
            args: exec("touch ready; sleep 30"),
            trigger: Trigger::ChildReady,
            signal: Running::terminate,
        },
        Case {
            name: "get, SIGINT while the secret read hangs",
            rules: hang_reads.clone(),
            args: vec!["get".into(), reference.clone()],
            trigger: Trigger::Slowed,
            signal: Running::interrupt,
        },
        Case {
            name: "check, SIGTERM while the secret reads hang",
            rules: hang_reads.clone(),
            args: vec!["check".into()],
            trigger: Trigger::Slowed,
            signal: Running::terminate,
        },
        Case {
            name: "exec, SIGTERM during the login",
            rules: vec![(
                "/v1/auth/approle/login",
                Slow::Delay(Duration::from_secs(2)),
            )],
            args: exec("exit 0"),
            trigger: Trigger::Slowed,
            signal: Running::terminate,
        },
        Case {
            name: "get, SIGINT during the login",
            rules: vec![(
                "/v1/auth/approle/login",
                Slow::Delay(Duration::from_secs(2)),
            )],
            args: vec!["get".into(), reference.clone()],
            trigger: Trigger::Slowed,
            signal: Running::interrupt,
        },
    ];
    let mut report = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(
            dir.path().join("windlass.toml"),
            format!(
                "[secrets]\nT = \"{reference}\"\n\n{}",
                bao.approle.vault_toml()
            ),
        )
        .unwrap();
        let proxy = SlowProxy::start(&bao.addr, &case.rules);
        let output = run(dir.path(), &bao, &proxy, case);
        // A login the binary stopped waiting for still brings a token.
        assert!(proxy.wait_idle(Duration::from_secs(30)), "{}", case.name);
        let stderr = &output.stderr;
        let accessors = proxy.accessors();
        assert_eq!(
            accessors.len(),
            1,
            "{}: {:?}\n{stderr}",
            case.name,
            proxy.paths()
        );
        let mut revoked = Vec::new();
        for accessor in &accessors {
            revoked.push(!bao.accessor_valid(accessor));
        }
        let revocations = proxy
            .paths()
            .iter()
            .filter(|p| p.starts_with("/v1/auth/token/revoke"))
            .count();
        let ended = match output.signal {
            None => format!("exit {}", output.code),
            Some(signal) => format!("signal {signal}"),
        };
        if ended == "exit 130" {
            // One line, no `error:` noise.
            assert_eq!(
                stderr.lines().filter(|l| *l == "interrupted").count(),
                1,
                "{}: {stderr}",
                case.name
            );
            assert!(!stderr.contains("error:"), "{}: {stderr}", case.name);
        }
        let warned = stderr.contains("WARN") || stderr.contains("cannot revoke");
        report.push(format!(
            "{}: {ended}; revoked {revoked:?}; revoke requests {revocations}; warnings {warned}",
            case.name
        ));
        if warned {
            report.push(format!("  stderr: {stderr}"));
        }
    }
    insta::assert_snapshot!(report.join("\n"), @r"
    get, done: exit 0; revoked [true]; revoke requests 1; warnings false
    get, a key that is not there: exit 2; revoked [true]; revoke requests 1; warnings false
    exec, the child fails: exit 7; revoked [true]; revoke requests 1; warnings false
    exec, SIGTERM while the child runs: signal 15; revoked [true]; revoke requests 1; warnings false
    get, SIGINT while the secret read hangs: exit 130; revoked [true]; revoke requests 1; warnings false
    check, SIGTERM while the secret reads hang: exit 130; revoked [true]; revoke requests 1; warnings false
    exec, SIGTERM during the login: exit 130; revoked [true]; revoke requests 1; warnings false
    get, SIGINT during the login: exit 130; revoked [true]; revoke requests 1; warnings false
    ");
}
