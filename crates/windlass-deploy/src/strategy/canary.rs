//! Canary: the stable release `RELEASE` and a canary release
//! `RELEASE-canary` of the new bundle behind one Service that Windlass owns
//! (`strategy.service`, default `RELEASE-traffic`), which selects a label
//! both releases' pods share (`strategy.selector-label`, default
//! `app.kubernetes.io/name`, whose value is read from the stable pods).
//!
//! Traffic is split by pods, as Argo Rollouts does without a mesh or an
//! ingress with weights: at each step `p` of `strategy.steps` the canary
//! runs `ceil(total * p / 100)` replicas (through its values key,
//! `strategy.values-key`, default `replicaCount`) and the stable release
//! gives up as many (through the `scale` subresource), `total` being the
//! stable release's replica count as its values give it at that key (else
//! as it runs). A canary release left by a killed run is uninstalled first. Each step waits for the
//! rollout, pauses, then is verified (phase `canary P%`). Any failure
//! uninstalls the canary and scales the stable release back. At the end
//! the stable release is upgraded to the new bundle, the canary is
//! uninstalled, and the result is verified (phase `stable`); a failure
//! there rolls the stable release back.
//!
//! Limits: the traffic share is the pod share (with 3 pods, 10% means one
//! pod, a third of the requests); no routing by header or cookie, so no
//! A/B test and no shadow traffic here (those are [`super::handoff`]'s).

use std::collections::BTreeMap;

use super::workloads::{self, ServiceSpec, Workload};
use super::{
    Rollout, StepReport, StrategyError, StrategyReport, StrategyRun, deployed_revision,
    derived_request, nested_value, restore_revision, rollout_and_verify, upgrade_step,
};
use crate::config::StrategyKind;

/// The pod label Helm charts conventionally set to the chart's name.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// The values key of the canary's replica count when none is configured.
pub const DEFAULT_REPLICAS_KEY: &str = "replicaCount";

/// How many of `total` replicas a step of `percent` gives the canary: at
/// least one, at most all.
pub fn canary_replicas(total: i32, percent: u8) -> i32 {
    let total = total.max(1);
    let share = (i64::from(total) * i64::from(percent) + 99) / 100;
    i32::try_from(share).unwrap_or(total).clamp(1, total)
}

pub(super) async fn run(run: &StrategyRun<'_>) -> Result<StrategyReport, StrategyError> {
    let base = run.upgrade.release.as_str();
    let spec = run.spec;
    let cluster = run.cluster;
    check_steps(&spec.steps)?;
    let canary = format!("{base}-canary");
    let service = spec
        .service
        .clone()
        .unwrap_or_else(|| format!("{base}-traffic"));
    let key = spec.selector_label.as_deref().unwrap_or(NAME_LABEL);
    let replicas_key = spec.values_key.as_deref().unwrap_or(DEFAULT_REPLICAS_KEY);
    let mut report = StrategyReport::new(StrategyKind::Canary, base);
    // A Service of that name that is not Windlass's is refused before any
    // change.
    workloads::owned_service_selector(cluster, &service).await?;

    let Some(previous) = deployed_revision(run, base).await? else {
        return first_install(run, &service, key, report).await;
    };
    report.live_revision = Some(previous);
    if let Some(cleanup) = remove_leftover_canary(run, &canary).await? {
        report.steps.push(cleanup);
    }
    let mut stable = workloads::of(cluster, base).await?;
    // What the stable release asks for, not what a killed run left it
    // scaled to.
    let intended = intended_replicas(run, base, previous, replicas_key).await?;
    if let (Some(intended), Some(first)) = (intended, stable.first_mut()) {
        first.replicas = intended;
    }
    let shared = shared_label(&stable, base, key)?;
    apply_traffic_service(run, &service, key, &shared).await?;
    let total = stable.first().map_or(1, |w| w.replicas);

    for &percent in &spec.steps {
        let phase = format!("canary {percent}%");
        let count = canary_replicas(total, percent);
        let mut request = derived_request(
            run.upgrade,
            &canary,
            Some(nested_value(replicas_key, count.into())),
        );
        request.wait = true;
        request.rollback_on_failure = false;
        let mut step = upgrade_step(run, &request, &phase, &phase).await?;
        if step.failure.is_none() {
            let mut left = Vec::new();
            for workload in &stable {
                let keep = (workload.replicas - canary_replicas(workload.replicas, percent)).max(0);
                workloads::scale(cluster, workload, keep).await?;
                left.push(keep);
            }
            step.report.detail = format!(
                "canary `{canary}` {count} of {total} pods, stable `{base}` {}",
                left.first().copied().unwrap_or(0)
            );
            tokio::time::sleep(run.pause).await;
            step.failure = rollout_and_verify(
                run,
                &canary,
                (&phase, &service),
                Rollout::Read,
                &mut step.report,
            )
            .await?;
        }
        let failure = step.failure.clone();
        report.steps.push(step.report);
        if let Some(reason) = failure {
            abort(run, &canary, &stable, &mut report).await?;
            return Ok(report.fail(reason));
        }
    }

    // The stable release becomes the new bundle; the canary goes.
    let mut step = upgrade_step(run, run.upgrade, "stable", "promote").await?;
    if let Some(reason) = step.failure.clone() {
        report.steps.push(step.report);
        abort(run, &canary, &stable, &mut report).await?;
        return Ok(report.fail(reason));
    }
    run.helm
        .uninstall(&canary, true, run.upgrade.timeout)
        .await
        .map_err(StrategyError::helm(format!(
            "uninstalling the canary `{canary}`"
        )))?;
    step.report.detail = format!("{}; canary `{canary}` uninstalled", step.report.detail);
    // Read: Helm's wait was before the canary went.
    let failure = rollout_and_verify(
        run,
        base,
        ("stable", &service),
        Rollout::Read,
        &mut step.report,
    )
    .await?;
    report.live_revision = step.revision;
    report.steps.push(step.report);
    if let Some(reason) = failure {
        restore_revision(run, base, previous, &mut report).await?;
        return Ok(report.fail(reason));
    }
    report.succeeded = true;
    Ok(report)
}

/// A canary release left by a killed run is uninstalled before anything
/// else.
async fn remove_leftover_canary(
    run: &StrategyRun<'_>,
    canary: &str,
) -> Result<Option<StepReport>, StrategyError> {
    let Some(leftover) = run
        .helm
        .status(canary)
        .await
        .map_err(StrategyError::helm(format!(
            "reading the history of release `{canary}`"
        )))?
    else {
        return Ok(None);
    };
    run.helm
        .uninstall(canary, true, run.upgrade.timeout)
        .await
        .map_err(StrategyError::helm(format!(
            "uninstalling the canary `{canary}`"
        )))?;
    Ok(Some(StepReport {
        name: "cleanup".to_owned(),
        release: canary.to_owned(),
        revision: Some(leftover.revision),
        verified: true,
        checks: Vec::new(),
        detail: format!(
            "uninstalled `{canary}` (revision {}, {}), left by an unfinished promotion",
            leftover.revision, leftover.status
        ),
    }))
}

/// The replica count the stable release's values give at `key`, if they
/// give one.
async fn intended_replicas(
    run: &StrategyRun<'_>,
    base: &str,
    revision: u32,
    key: &str,
) -> Result<Option<i32>, StrategyError> {
    let values = run
        .helm
        .get_values(base, revision)
        .await
        .map_err(StrategyError::helm(format!(
            "reading the values of release `{base}`"
        )))?;
    Ok(lookup(&values, key)
        .and_then(serde_json::Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| *n > 0))
}

/// The value at a dotted key.
fn lookup<'a>(value: &'a serde_json::Value, dotted: &str) -> Option<&'a serde_json::Value> {
    dotted.split('.').try_fold(value, |v, key| v.get(key))
}

/// Steps are percentages from 1 to 100, at least one.
fn check_steps(steps: &[u8]) -> Result<(), StrategyError> {
    let problem = if steps.is_empty() {
        Some("is empty: give the canary's share at each step, e.g. `[10, 50]`".to_owned())
    } else {
        steps
            .iter()
            .find(|&&p| p == 0 || p > 100)
            .map(|p| format!("holds {p}: each step is a percentage from 1 to 100"))
    };
    match problem {
        Some(problem) => Err(StrategyError::Config {
            kind: "canary",
            field: "steps",
            problem,
        }),
        None => Ok(()),
    }
}

/// The value of `key` on the stable pods, which the canary's pods share.
fn shared_label(stable: &[Workload], base: &str, key: &str) -> Result<String, StrategyError> {
    let Some(first) = stable.first() else {
        return Err(StrategyError::Config {
            kind: "canary",
            field: "kind",
            problem: format!(
                "needs a Deployment or StatefulSet in release `{base}`, which has none"
            ),
        });
    };
    first
        .pod_labels
        .get(key)
        .cloned()
        .ok_or_else(|| StrategyError::Config {
            kind: "canary",
            field: "selector-label",
            problem: format!(
                "`{key}` is not a label of the pods of {} (release `{base}`): name a label both releases' pods share",
                first.id()
            ),
        })
}

async fn apply_traffic_service(
    run: &StrategyRun<'_>,
    service: &str,
    key: &str,
    shared: &str,
) -> Result<(), StrategyError> {
    workloads::apply_service(
        run.cluster,
        &ServiceSpec {
            name: service,
            release: &run.upgrade.release,
            selector: BTreeMap::from([(key.to_owned(), shared.to_owned())]),
            port: run.spec.service_port.unwrap_or(80),
            target_port: run.spec.target_port.as_deref().unwrap_or("http"),
        },
    )
    .await
}

/// No stable release yet: install it, create the Service, verify.
async fn first_install(
    run: &StrategyRun<'_>,
    service: &str,
    key: &str,
    mut report: StrategyReport,
) -> Result<StrategyReport, StrategyError> {
    let base = run.upgrade.release.as_str();
    let mut step = upgrade_step(run, run.upgrade, "install", "install").await?;
    if step.failure.is_none() {
        let stable = workloads::of(run.cluster, base).await?;
        let shared = shared_label(&stable, base, key)?;
        apply_traffic_service(run, service, key, &shared).await?;
        step.failure = rollout_and_verify(
            run,
            base,
            ("install", service),
            Rollout::after(run.upgrade),
            &mut step.report,
        )
        .await?;
    }
    report.live_revision = step.revision;
    let failure = step.failure.clone();
    report.steps.push(step.report);
    if let Some(reason) = failure {
        return Ok(report.fail(reason));
    }
    report.succeeded = true;
    Ok(report)
}

/// Uninstalls the canary and gives the stable workloads their replicas
/// back.
async fn abort(
    run: &StrategyRun<'_>,
    canary: &str,
    stable: &[Workload],
    report: &mut StrategyReport,
) -> Result<(), StrategyError> {
    run.helm
        .uninstall(canary, true, run.upgrade.timeout)
        .await
        .map_err(StrategyError::helm(format!(
            "uninstalling the canary `{canary}`"
        )))?;
    let mut restored = Vec::new();
    for workload in stable {
        workloads::scale(run.cluster, workload, workload.replicas).await?;
        restored.push(format!("{} to {}", workload.id(), workload.replicas));
    }
    let base = run.upgrade.release.as_str();
    // Helm's rollback on failure may have moved the stable release; it is
    // the revision now deployed that serves.
    report.live_revision = deployed_revision(run, base).await?;
    crate::kube::rollout::wait(run.cluster, base, run.upgrade.timeout)
        .await
        .map_err(StrategyError::kube(format!(
            "waiting for release `{base}` to scale back"
        )))?;
    base.clone_into(&mut report.live_release);
    report.restored = Some(format!(
        "canary `{canary}` uninstalled, stable scaled back: {}",
        restored.join(", ")
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_shares() {
        let check = |total, percent, expected| {
            assert_eq!(
                canary_replicas(total, percent),
                expected,
                "{total} {percent}%"
            );
        };
        check(4, 10, 1);
        check(4, 50, 2);
        check(4, 100, 4);
        check(10, 25, 3);
        check(3, 10, 1);
        check(1, 50, 1);
        check(0, 50, 1);
    }

    #[test]
    fn dotted_lookup() {
        let values = serde_json::json!({"replicaCount": 4, "app": {"replicas": 2}});
        assert_eq!(lookup(&values, "replicaCount"), Some(&serde_json::json!(4)));
        assert_eq!(lookup(&values, "app.replicas"), Some(&serde_json::json!(2)));
        assert_eq!(lookup(&values, "app.nope"), None);
    }

    #[test]
    fn steps_are_percentages() {
        assert!(check_steps(&[10, 50, 100]).is_ok());
        for bad in [&[][..], &[0], &[10, 150]] {
            let error = check_steps(bad).unwrap_err();
            assert!(error.to_string().contains("`steps`"), "{error}");
        }
    }
}
