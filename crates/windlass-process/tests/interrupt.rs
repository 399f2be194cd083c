//! `until_interrupted`: a SIGINT or SIGTERM stops the work when no child
//! runs in the foreground, and is the child's when one does.
//!
//! A binary of its own, one test: the test signals its own process.

#![allow(
    clippy::disallowed_methods,
    reason = "the test signals its own process from outside windlass-process, as a shell would"
)]

use std::time::{Duration, Instant};

use windlass_process::{Cmd, ExitStatus, until_interrupted};

/// Sends `signal` to our own process after `delay`, from a thread and a
/// plain `kill` (not a foreground child of ours).
fn signal_us(signal: &'static str, delay: Duration) {
    let us = std::process::id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let _ = std::process::Command::new("kill")
            .args([signal, us.as_str()])
            .status();
    });
}

#[tokio::test]
async fn interrupts_stop_the_work_unless_a_child_has_the_foreground() {
    let mut rendered = Vec::new();

    // No child: the work stops at once, whichever the signal.
    for signal in ["-INT", "-TERM"] {
        let started = Instant::now();
        signal_us(signal, Duration::from_millis(200));
        let result = until_interrupted(tokio::time::sleep(Duration::from_secs(30))).await;
        assert!(started.elapsed() < Duration::from_secs(10));
        let interrupted = result.unwrap_err();
        rendered.push(format!(
            "idle ({signal}): {interrupted}; ends as {:?}",
            interrupted.exit_status()
        ));
    }

    // A child in the foreground gets the signal; the work goes on and sees
    // it in the outcome.
    signal_us("-INT", Duration::from_millis(300));
    let child = Cmd::new("sh", "/")
        .args(["-c", "trap 'exit 0' INT; while :; do sleep 0.05; done"])
        .timeout(Duration::from_secs(20));
    let outcome = until_interrupted(async {
        let outcome = child.run().await.unwrap();
        // The work finishes what it does after the child.
        tokio::time::sleep(Duration::from_millis(50)).await;
        outcome
    })
    .await
    .unwrap();
    rendered.push(format!(
        "child: {}, interrupted {:?}, passes on {:?}",
        outcome.status(),
        outcome.interrupted(),
        outcome.pass_on()
    ));
    assert_eq!(outcome.pass_on(), ExitStatus::Signal(libc::SIGINT));

    // The interruption is found through an error's causes.
    let interrupted = {
        signal_us("-TERM", Duration::from_millis(100));
        until_interrupted(std::future::pending::<()>())
            .await
            .unwrap_err()
    };
    let wrapped = Wrapped(interrupted);
    rendered.push(format!(
        "found: {:?}",
        windlass_process::Interrupted::find(&wrapped).map(windlass_process::Interrupted::signal)
    ));

    insta::assert_snapshot!(rendered.join("\n"), @r"
    idle (-INT): interrupted by signal 2 (SIGINT); ends as Signal(2)
    idle (-TERM): interrupted by signal 15 (SIGTERM); ends as Signal(15)
    child: exit code 0, interrupted Some(2), passes on Signal(2)
    found: Some(15)
    ");
}

/// An error caused by another, as a caller's error type would be.
#[derive(Debug, thiserror::Error)]
#[error("cannot publish")]
struct Wrapped(#[source] windlass_process::Interrupted);
