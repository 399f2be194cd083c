//! Verification after an upgrade: HTTP checks through windlass-http, retried
//! until the check's timeout, and commands through windlass-process with
//! secrets injected from their references and output redacted.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;
use windlass_http::{HttpClient, Method, Policy, StatusCode};
use windlass_process::Cmd;
use windlass_redact::RedactedUrl;
use windlass_secrets::{Resolver, SecretRef};

use super::{GateResult, parse_duration};
use crate::config::VerifySpec;

/// How long a check keeps trying when it does not say.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How many lines of a failed command's output the result shows.
const TAIL_LINES: usize = 10;

/// What [`verify_after`] needs.
#[derive(Debug, Clone, Copy)]
pub struct VerifyInput<'a> {
    pub checks: &'a [VerifySpec],
    /// The one client every HTTP check shares.
    pub http: &'a HttpClient,
    /// Resolves the commands' `env` references (and registers each value
    /// with the redactor).
    pub secrets: &'a Resolver,
    /// Where commands run (the project directory).
    pub cwd: &'a Path,
}

/// Runs every check in order; each gives one result named `verify: NAME`.
pub async fn verify_after(input: &VerifyInput<'_>) -> Vec<GateResult> {
    let mut results = Vec::with_capacity(input.checks.len());
    for check in input.checks {
        results.push(verify_one(input, check).await);
    }
    results
}

async fn verify_one(input: &VerifyInput<'_>, check: &VerifySpec) -> GateResult {
    let timeout = match &check.timeout {
        None => DEFAULT_TIMEOUT,
        Some(text) => match parse_duration(text) {
            Some(timeout) => timeout,
            None => {
                return GateResult::new(
                    gate_name(check),
                    false,
                    format!("`timeout = \"{text}\"` is not a duration (e.g. `30s`, `2m`)"),
                );
            }
        },
    };
    match (&check.http, &check.command) {
        (Some(url), None) => http_check(input.http, check, url, timeout).await,
        (None, Some(argv)) => command_check(input, check, argv, timeout).await,
        _ => GateResult::new(
            gate_name(check),
            false,
            "a verify check has exactly one of `http` and `command`",
        ),
    }
}

fn gate_name(check: &VerifySpec) -> String {
    let name = match (&check.name, &check.http, &check.command) {
        (Some(name), _, _) => name.clone(),
        (None, Some(url), _) => shown_url(url),
        (None, None, Some(argv)) => argv.join(" "),
        (None, None, None) => "check".into(),
    };
    format!(
        "verify: {}",
        windlass_redact::global().redact(&windlass_redact::escape_controls(&name))
    )
}

/// A URL as a report shows it: scheme, host, port and path; no user info,
/// no query.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("");
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}{}", parsed.scheme(), parsed.path())
        }
        Err(_) => "(an invalid URL)".into(),
    }
}

async fn http_check(
    client: &HttpClient,
    check: &VerifySpec,
    url: &str,
    timeout: Duration,
) -> GateResult {
    let gate = gate_name(check);
    let shown = shown_url(url);
    let Ok(target) = RedactedUrl::parse(url) else {
        return GateResult::new(gate, false, format!("`{shown}` is not a URL"));
    };
    if let Err(e) = client.check_url(&Method::GET, &target) {
        return GateResult::new(gate, false, format!("{shown}: {e}"));
    }
    let expected = check.expect_status;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(250);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let answer = client
            .send_with(
                Method::GET,
                &target,
                Policy::default().retried_by_caller(),
                |b| b.timeout(remaining.max(Duration::from_secs(1))),
            )
            .await;
        let (status, what) = match answer {
            Ok(response) => (Some(response.status()), None),
            Err(e) => match e.status() {
                Some(status) => (Some(status), None),
                None => (None, Some(e.kind().as_str().to_owned())),
            },
        };
        let passed = match (status, expected) {
            (Some(status), Some(expected)) => status.as_u16() == expected,
            (Some(status), None) => status.is_success(),
            (None, _) => false,
        };
        let got = match (status, &what) {
            (Some(status), _) => format!("answered {}", show_status(status)),
            (None, Some(what)) => format!("failed ({what})"),
            (None, None) => "failed".into(),
        };
        if passed {
            return GateResult::new(gate, true, format!("GET {shown} {got}"));
        }
        let now = Instant::now();
        if now >= deadline {
            let wanted = match expected {
                Some(code) => format!("{code}"),
                None => "a 2xx status".into(),
            };
            return GateResult::new(
                gate,
                false,
                format!(
                    "GET {shown} {got}, expected {wanted}; gave up after {attempts} attempts in {}s",
                    timeout.as_secs()
                ),
            );
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

fn show_status(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

async fn command_check(
    input: &VerifyInput<'_>,
    check: &VerifySpec,
    argv: &[String],
    timeout: Duration,
) -> GateResult {
    let gate = gate_name(check);
    let Some((program, rest)) = argv.split_first() else {
        return GateResult::new(gate, false, "the command is empty");
    };
    let mut cmd = Cmd::new(program, input.cwd)
        .args(rest)
        .capture_output()
        .timeout(timeout);
    for (name, value) in &check.env {
        let reference = match SecretRef::parse(value) {
            Ok(reference) => reference,
            Err(e) => {
                return GateResult::new(
                    gate,
                    false,
                    format!("`env.{name}` is not a secret reference ({e})"),
                );
            }
        };
        match input.secrets.resolve(&reference).await {
            Ok(secret) => cmd = cmd.env_secret(name.clone(), secret),
            Err(e) => {
                return GateResult::new(
                    gate,
                    false,
                    format!("cannot resolve `env.{name}` (`{reference}`): {e}"),
                );
            }
        }
    }
    let outcome = match cmd.run().await {
        Ok(outcome) => outcome,
        Err(e) => return GateResult::new(gate, false, redact(&e.to_string())),
    };
    if outcome.success() {
        return GateResult::new(gate, true, "exited with 0");
    }
    let mut detail = match outcome.status() {
        windlass_process::ExitStatus::Code(code) => format!("exited with {code}"),
        windlass_process::ExitStatus::Signal(signal) => format!("killed by signal {signal}"),
    };
    for (stream, bytes) in [("stdout", outcome.stdout()), ("stderr", outcome.stderr())] {
        let text = String::from_utf8_lossy(bytes.unwrap_or_default());
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            continue;
        }
        let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
        let _ = write!(detail, "\n{stream}:");
        for line in tail {
            detail.push_str("\n  ");
            detail.push_str(&redact(line));
        }
    }
    GateResult::new(gate, false, detail)
}

/// Text from a child or an error, as a report may show it.
fn redact(text: &str) -> String {
    let redacted = windlass_redact::global().redact(text);
    windlass_redact::escape_controls(&redacted).into_owned()
}
