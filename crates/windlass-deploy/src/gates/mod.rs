//! Gates: what must hold before an environment's release is upgraded
//! ([`check_before`]: approval, soak time in the `from` environment, change
//! window) and after ([`verify_after`]: HTTP checks and commands; rollout
//! waiting is [`crate::kube`]'s).
//!
//! [`check_before`] is pure: it decides from the ledger entries, the time
//! and the environment snapshot it is given, so the command layer reads the
//! ledger once and records every result.

mod verify;
pub mod window;

use std::fmt::Write as _;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use windlass_config::Environment;

use crate::bundle::BundleId;
use crate::config::{Approval, GatesSpec};
use crate::kube::ledger::{Entry, Event};

pub use self::verify::{VerifyInput, verify_after};
pub use self::window::{Window, WindowError};

/// The outcome of one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct GateResult {
    /// `approval`, `soak`, `window`, or `verify: NAME`.
    pub gate: String,
    pub passed: bool,
    /// What was found, for people and the ledger (never a secret).
    pub detail: String,
}

impl GateResult {
    fn new(gate: impl Into<String>, passed: bool, detail: impl Into<String>) -> Self {
        Self {
            gate: gate.into(),
            passed,
            detail: detail.into(),
        }
    }
}

/// What [`check_before`] decides from.
#[derive(Debug, Clone, Copy)]
pub struct GateInput<'a> {
    /// The environment being deployed to.
    pub environment: &'a str,
    pub gates: &'a GatesSpec,
    /// The environment it is promoted from (`from`), if any.
    pub from: Option<&'a str>,
    pub bundle: &'a BundleId,
    /// The environment's own ledger (its `Approved` records).
    pub ledger: &'a [Entry],
    /// The `from` environment's ledger (empty when there is none).
    pub from_ledger: &'a [Entry],
    pub now: Timestamp,
    /// The environment snapshot (GitHub Actions' variables).
    pub env: &'a Environment,
}

/// The GitHub Actions run whose environment protection approved a
/// deployment: record it as the approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct GithubRun {
    /// `GITHUB_ACTOR`.
    pub actor: String,
    /// `GITHUB_TRIGGERING_ACTOR`, when it differs from the actor.
    pub triggering_actor: Option<String>,
    /// `GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`.
    pub run_url: Option<String>,
}

impl GithubRun {
    /// The run this process belongs to, inside GitHub Actions.
    pub fn from_env(env: &Environment) -> Option<Self> {
        if !env.is_github_actions() {
            return None;
        }
        let actor = env.get_str("GITHUB_ACTOR").unwrap_or("unknown").to_owned();
        let triggering_actor = env
            .get_str("GITHUB_TRIGGERING_ACTOR")
            .filter(|t| *t != actor)
            .map(str::to_owned);
        let run_url = match (
            env.get_str("GITHUB_SERVER_URL"),
            env.get_str("GITHUB_REPOSITORY"),
            env.get_str("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repository), Some(run)) => Some(format!(
                "{}/{repository}/actions/runs/{run}",
                windlass_redact::mask_userinfo(server.trim_end_matches('/'))
            )),
            _ => None,
        };
        Some(Self {
            actor,
            triggering_actor,
            run_url,
        })
    }
}

/// Checks the gates that come before an upgrade, in order: approval, soak,
/// window. A gate that is not configured is not reported.
pub fn check_before(input: &GateInput<'_>) -> Vec<GateResult> {
    let mut results = Vec::new();
    if input.gates.approval.required() {
        results.push(approval(input));
    }
    if let Some(soak_text) = &input.gates.soak {
        results.push(soak(input, soak_text));
    }
    if !input.gates.window.is_empty() {
        results.push(window(&input.gates.window, input.now));
    }
    results
}

fn approval(input: &GateInput<'_>) -> GateResult {
    let approved = input
        .ledger
        .iter()
        .rev()
        .find_map(|entry| match &entry.event {
            Event::Approved { by, reason, .. }
                if entry.bundle == *input.bundle && entry.environment == input.environment =>
            {
                Some((entry, by, reason))
            }
            _ => None,
        });
    if let Some((entry, by, reason)) = approved {
        let reason = reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return GateResult::new(
            "approval",
            true,
            format!("approved by {by} at {}{reason}", entry.time),
        );
    }
    if input.gates.approval == Approval::GithubEnvironment
        && let Some(run) = GithubRun::from_env(input.env)
    {
        let mut detail = format!(
            "GitHub environment protection: the job reached this step (actor {}",
            run.actor
        );
        if let Some(triggering) = &run.triggering_actor {
            let _ = write!(detail, ", triggered by {triggering}");
        }
        detail.push(')');
        if let Some(url) = &run.run_url {
            let _ = write!(detail, ", run {url}");
        }
        return GateResult::new("approval", true, detail);
    }
    let how = if input.gates.approval == Approval::GithubEnvironment {
        " (or run it in a GitHub Actions job whose environment has required reviewers)"
    } else {
        ""
    };
    GateResult::new(
        "approval",
        false,
        format!(
            "bundle {} is not approved for {}: run `windlass deploy approve {} {}`{how}",
            input.bundle.short(),
            input.environment,
            input.environment,
            input.bundle.short()
        ),
    )
}

fn soak(input: &GateInput<'_>, soak_text: &str) -> GateResult {
    let fail = |detail: String| GateResult::new("soak", false, detail);
    let Some(required) = parse_duration(soak_text) else {
        return fail(format!(
            "`soak = \"{soak_text}\"` is not a duration (e.g. `30m`, `2h`, `1d`)"
        ));
    };
    let Some(from) = input.from else {
        return fail(format!(
            "{} has a soak time but no `from` environment to soak in",
            input.environment
        ));
    };
    // The bundle's last success in `from`, and what ended its run there.
    let Some(position) = input.from_ledger.iter().rposition(|entry| {
        entry.bundle == *input.bundle && matches!(entry.event, Event::Succeeded { .. })
    }) else {
        return fail(format!(
            "bundle {} never succeeded in {from}",
            input.bundle.short()
        ));
    };
    let succeeded = &input.from_ledger[position];
    let Ok(since) = succeeded.time.parse::<Timestamp>() else {
        return fail(format!(
            "the ledger of {from} has a bad time `{}` (record {})",
            succeeded.time, succeeded.seq
        ));
    };
    let ended = input.from_ledger[position + 1..]
        .iter()
        .find_map(|entry| match &entry.event {
            Event::RolledBack { .. } => Some((entry, true)),
            Event::Succeeded { .. } if entry.bundle != *input.bundle => Some((entry, false)),
            _ => None,
        });
    if let Some((entry, true)) = ended {
        return fail(format!(
            "bundle {} was rolled back in {from} at {}",
            input.bundle.short(),
            entry.time
        ));
    }
    let until = match ended {
        Some((entry, _)) => entry.time.parse::<Timestamp>().unwrap_or(input.now),
        None => input.now,
    };
    let ran = until.duration_since(since);
    let required_signed = SignedDuration::try_from(required).unwrap_or(SignedDuration::MAX);
    if ran >= required_signed {
        let replaced = if ended.is_some() {
            format!(" (until it was replaced at {until})")
        } else {
            String::new()
        };
        return GateResult::new(
            "soak",
            true,
            format!(
                "ran {} in {from} since {since}{replaced}, at least {soak_text}",
                show(ran)
            ),
        );
    }
    if ended.is_some() {
        return fail(format!(
            "ran only {} in {from} before it was replaced at {until}; {soak_text} needed",
            show(ran)
        ));
    }
    fail(format!(
        "has run {} in {from} since {since}; {} left of {soak_text}",
        show(ran),
        show(required_signed - ran)
    ))
}

fn window(windows: &[String], now: Timestamp) -> GateResult {
    let mut parsed = Vec::new();
    for text in windows {
        match Window::parse(text) {
            Ok(window) => parsed.push(window),
            Err(e) => return GateResult::new("window", false, e.to_string()),
        }
    }
    if let Some(open) = parsed.iter().find(|w| w.is_open(now)) {
        return GateResult::new("window", true, format!("inside `{open}`"));
    }
    let next = parsed
        .iter()
        .filter_map(|w| w.next_open(now).map(|at| (at, w)))
        .min_by_key(|(at, _)| at.timestamp());
    let detail = match next {
        Some((at, w)) => format!(
            "outside every change window; the next opens at {} (`{w}`), in {}",
            at.strftime("%Y-%m-%d %H:%M %Z"),
            show(at.timestamp().duration_since(now))
        ),
        None => "outside every change window".to_owned(),
    };
    GateResult::new("window", false, detail)
}

/// A gate of `[deploy.environments.NAME]` that cannot work as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`[deploy.environments.{environment}] gates`: {problem}")]
pub struct GateConfigError {
    pub environment: String,
    pub problem: String,
}

impl windlass_diagnostic::Diagnostic for GateConfigError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        windlass_diagnostic::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        Some("see the `deploy` keys in docs/configuration.md".into())
    }
}

/// Checks the gates of `environment` as far as can be done without running
/// them: durations, windows, each verify check's kind and references. The
/// command layer calls it before it takes the lease, so a typo fails at once
/// (exit 2) rather than as a failed gate.
pub fn validate(environment: &str, gates: &GatesSpec) -> Result<(), GateConfigError> {
    let fail = |problem: String| GateConfigError {
        environment: environment.to_owned(),
        problem,
    };
    if let Some(soak) = &gates.soak
        && parse_duration(soak).is_none()
    {
        return Err(fail(format!(
            "`soak = \"{soak}\"` is not a duration (e.g. `30m`, `2h`, `1d`)"
        )));
    }
    for window in &gates.window {
        Window::parse(window).map_err(|e| fail(e.to_string()))?;
    }
    for (index, check) in gates.verify.iter().enumerate() {
        let which = format!("verify[{index}]");
        if check.http.is_some() == check.command.is_some() {
            return Err(fail(format!(
                "{which} has exactly one of `http` and `command`"
            )));
        }
        if let Some(timeout) = &check.timeout
            && parse_duration(timeout).is_none()
        {
            return Err(fail(format!(
                "{which}: `timeout = \"{timeout}\"` is not a duration (e.g. `30s`, `2m`)"
            )));
        }
        if check.command.as_ref().is_some_and(Vec::is_empty) {
            return Err(fail(format!("{which}: the command is empty")));
        }
        if check.http.is_some() && !check.env.is_empty() {
            return Err(fail(format!(
                "{which}: `env` is for a command, not an HTTP check"
            )));
        }
        for (name, value) in &check.env {
            if let Err(e) = windlass_secrets::SecretRef::parse(value) {
                return Err(fail(format!(
                    "{which}: `env.{name}` is not a secret reference ({e})"
                )));
            }
        }
    }
    Ok(())
}

/// `30s`, `5m`, `2h`, `1d`, `1w`, combined (`1h30m`), or whole seconds:
/// the durations of every `windlass.toml` key.
pub fn parse_duration(text: &str) -> Option<Duration> {
    windlass_config::duration::parse(text)
}

/// A duration for people, to the second: `1d 2h 3m 4s`.
fn show(duration: SignedDuration) -> String {
    let mut secs = duration.as_secs().max(0);
    if secs == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests;
