//! SIGINT and SIGTERM we receive while a child runs are forwarded to it.
//!
//! A binary of its own: the test signals its own process, which would reach
//! the children of every other test running alongside.

use std::time::Duration;

use windlass_process::{CheckedError, Cmd};

/// Runs `script` and, once it runs, sends `signal` to our own process.
async fn interrupt(script: &str, signal: &str) -> CheckedError {
    let child = Cmd::new("sh", "/")
        .args(["-c", script])
        .timeout(Duration::from_secs(20));
    let us = std::process::id().to_string();
    let kill = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The signal also reaches `kill` itself, whose outcome is moot.
        let _ = Cmd::new("kill", "/")
            .args([signal, us.as_str()])
            .run()
            .await;
    };
    let (result, ()) = tokio::join!(child.run_checked(), kill);
    match result {
        Ok(outcome) => panic!("the child succeeded: {outcome:?}"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn signals_are_forwarded_to_the_foreground_child() {
    let cases = [
        ("exec sleep 30", "-INT"),
        ("exec sleep 30", "-TERM"),
        // A child that handles the signal and exits 0 does not hide it.
        ("trap 'kill $!; exit 0' INT; sleep 30 & wait", "-INT"),
    ];
    let mut rendered = Vec::new();
    for (script, signal) in cases {
        let err = interrupt(script, signal).await;
        let CheckedError::Interrupted { outcome, .. } = &err else {
            panic!("not interrupted: {err}");
        };
        rendered.push(format!(
            "{script} ({signal}): {err}; child: {}; exit {}",
            outcome.status(),
            outcome.exit_code()
        ));
    }
    insta::assert_snapshot!(rendered.join("\n"), @r"
    exec sleep 30 (-INT): `sh` was interrupted by signal 2 (SIGINT); child: signal 2 (SIGINT); exit 130
    exec sleep 30 (-TERM): `sh` was interrupted by signal 15 (SIGTERM); child: signal 15 (SIGTERM); exit 143
    trap 'kill $!; exit 0' INT; sleep 30 & wait (-INT): `sh` was interrupted by signal 2 (SIGINT); child: exit code 0; exit 130
    ");
}
