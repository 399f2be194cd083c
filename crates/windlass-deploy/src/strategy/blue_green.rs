//! Blue/green: two releases of the same chart, `RELEASE-blue` and
//! `RELEASE-green`, and one Service that Windlass owns (`strategy.service`,
//! default `RELEASE`) whose selector picks the live colour's pods by
//! `app.kubernetes.io/instance=RELEASE-COLOUR` (Helm's convention;
//! `strategy.selector-label` names another label).
//!
//! A promotion upgrades the idle colour with the new bundle, waits for it
//! to roll out and verifies it through its own Service (phase `idle`),
//! switches the selector, pauses `pause`, and verifies again through the
//! shared Service (phase `live`). A failure before the switch leaves traffic where it was;
//! a failure after it switches back at once. The idle colour is left as it
//! is for inspection, and the old colour keeps running (unless
//! `scale-down-old`) so that switching back stays instant until the next
//! promotion.
//!
//! Which colour is live is the Service's selector: the cluster is the
//! state.

use std::collections::BTreeMap;

use super::workloads::{self, ServiceSpec};
use super::{
    Check, StepReport, StrategyError, StrategyReport, StrategyRun, VerifyStep, deployed_revision,
    derived_request, failed_check, upgrade_and_verify,
};
use crate::config::StrategyKind;

/// The pod label Helm charts conventionally set to the release name.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// One of the two releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Blue,
    Green,
}

impl Colour {
    pub fn name(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
        }
    }

    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::Blue => Self::Green,
            Self::Green => Self::Blue,
        }
    }

    /// `RELEASE-blue`.
    pub fn release(self, base: &str) -> String {
        format!("{base}-{}", self.name())
    }

    /// The colour whose release is `value`, if it is one.
    fn of(base: &str, value: &str) -> Option<Self> {
        [Self::Blue, Self::Green]
            .into_iter()
            .find(|c| c.release(base) == value)
    }
}

pub(super) async fn run(run: &StrategyRun<'_>) -> Result<StrategyReport, StrategyError> {
    let base = run.upgrade.release.as_str();
    let spec = run.spec;
    let cluster = run.cluster;
    let service = spec.service.clone().unwrap_or_else(|| base.to_owned());
    let key = spec.selector_label.as_deref().unwrap_or(INSTANCE_LABEL);
    let target_port = spec.target_port.as_deref().unwrap_or("http");
    let service_spec = |release: &str| ServiceSpec {
        name: &service,
        release: base,
        selector: BTreeMap::from([(key.to_owned(), release.to_owned())]),
        port: spec.service_port.unwrap_or(80),
        target_port,
    };

    let live = live_colour(run, &service, key).await?;
    let idle = live.map_or(Colour::Blue, Colour::other);
    let idle_release = idle.release(base);
    let live_release = live.map(|c| c.release(base));
    let mut report = StrategyReport::new(
        StrategyKind::BlueGreen,
        live_release.as_deref().unwrap_or(""),
    );
    if let Some(live_release) = &live_release {
        report.live_revision = deployed_revision(run, live_release).await?;
    }

    // The idle colour, upgraded and checked on its own.
    let mut request = derived_request(run.upgrade, &idle_release, None);
    request.wait = true;
    request.rollback_on_failure = false;
    let step = upgrade_and_verify(run, &request, "idle", &idle_release, "idle").await?;
    let revision = step.revision;
    report.steps.push(step.report);
    if let Some(reason) = step.failure {
        report.restored = Some(match &live_release {
            Some(live) => {
                format!("traffic stayed on `{live}`; `{idle_release}` left for inspection")
            }
            None => format!("`{idle_release}` left for inspection; no Service was created"),
        });
        return Ok(report.fail(reason));
    }

    // The switch (told to the verifier first, so that a run killed right
    // after it leaves a trace recovery finds), then the checks through the
    // shared Service.
    announce(run, &service, live_release.as_ref(), &idle_release).await?;
    workloads::apply_service(cluster, &service_spec(&idle_release)).await?;
    let mut switch = StepReport {
        name: "switch".to_owned(),
        release: idle_release.clone(),
        revision,
        verified: false,
        checks: Vec::new(),
        detail: format!(
            "Service `{service}` selects `{key}={idle_release}`{}",
            live_release
                .as_ref()
                .map(|l| format!(" (was `{l}`)"))
                .unwrap_or_default()
        ),
    };
    idle_release.clone_into(&mut report.live_release);
    report.live_revision = revision;
    let step = VerifyStep {
        phase: "live".to_owned(),
        release: idle_release.clone(),
        service: service.clone(),
        namespace: cluster.namespace().to_owned(),
        revision,
    };
    tokio::time::sleep(run.pause).await;
    switch.checks = run.verifier.verify(&step).await;
    switch.verified = switch.checks.iter().all(|c: &Check| c.passed);
    super::checked(run, &switch).await?;
    let failure = failed_check("live", &switch.checks);
    report.steps.push(switch);
    if let Some(reason) = failure {
        if let Some(live_release) = &live_release {
            workloads::apply_service(cluster, &service_spec(live_release)).await?;
            live_release.clone_into(&mut report.live_release);
            report.live_revision = deployed_revision(run, live_release).await?;
            report.restored = Some(format!(
                "Service `{service}` switched back to `{live_release}`; `{idle_release}` left for inspection"
            ));
        }
        return Ok(report.fail(reason));
    }

    if let (true, Some(old)) = (spec.scale_down_old, &live_release) {
        let detail = workloads::scale_release_to_zero(cluster, old, run.upgrade.timeout).await?;
        report.steps.push(StepReport {
            name: "scale-down-old".to_owned(),
            release: old.clone(),
            revision: None,
            verified: true,
            checks: Vec::new(),
            detail,
        });
    }
    report.succeeded = true;
    Ok(report)
}

/// Tells the verifier of a switch of `service` from `from` to `to` about
/// to be made.
async fn announce(
    run: &StrategyRun<'_>,
    service: &str,
    from: Option<&String>,
    to: &str,
) -> Result<(), StrategyError> {
    let switch = super::Switch {
        service: service.to_owned(),
        from: from.cloned(),
        to: to.to_owned(),
    };
    run.verifier
        .switching(&switch)
        .await
        .map_err(|detail| StrategyError::Record {
            step: format!("switching Service `{}` to `{}`", switch.service, switch.to),
            detail,
        })
}

/// Points the blue/green Service of `base` at `release` (one of its
/// colours): how recovery puts traffic back on the colour that was live
/// when a run was killed after a switch.
pub async fn switch_service(
    cluster: &crate::kube::Cluster,
    spec: &crate::config::StrategySpec,
    base: &str,
    release: &str,
) -> Result<(), StrategyError> {
    let service = spec.service.clone().unwrap_or_else(|| base.to_owned());
    let key = spec.selector_label.as_deref().unwrap_or(INSTANCE_LABEL);
    workloads::apply_service(
        cluster,
        &ServiceSpec {
            name: &service,
            release: base,
            selector: BTreeMap::from([(key.to_owned(), release.to_owned())]),
            port: spec.service_port.unwrap_or(80),
            target_port: spec.target_port.as_deref().unwrap_or("http"),
        },
    )
    .await?;
    Ok(())
}

/// The release the blue/green Service of `base` selects now (`BASE-blue`
/// or `BASE-green`), read from the cluster; `None` before the first
/// promotion. What `deploy status` shows as live.
pub async fn live_release(
    cluster: &crate::kube::Cluster,
    spec: &crate::config::StrategySpec,
    base: &str,
) -> Result<Option<String>, StrategyError> {
    let service = spec.service.clone().unwrap_or_else(|| base.to_owned());
    let key = spec.selector_label.as_deref().unwrap_or(INSTANCE_LABEL);
    let Some(selector) = workloads::owned_service_selector(cluster, &service).await? else {
        return Ok(None);
    };
    Ok(selector
        .get(key)
        .and_then(|value| Colour::of(base, value))
        .map(|colour| colour.release(base)))
}

/// The colour the Service selects now; `None` when there is no Service
/// yet.
async fn live_colour(
    run: &StrategyRun<'_>,
    service: &str,
    key: &str,
) -> Result<Option<Colour>, StrategyError> {
    let base = run.upgrade.release.as_str();
    let Some(selector) = workloads::owned_service_selector(run.cluster, service).await? else {
        return Ok(None);
    };
    let value = selector.get(key).cloned().unwrap_or_default();
    match Colour::of(base, &value) {
        Some(colour) => Ok(Some(colour)),
        None => Err(StrategyError::Config {
            kind: "blue-green",
            field: "selector-label",
            problem: format!(
                "`{key}`: the Service `{service}` selects `{key}={value}`, which is neither `{}` nor `{}`",
                Colour::Blue.release(base),
                Colour::Green.release(base)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::Colour;

    #[test]
    fn colours_from_the_selector() {
        assert_eq!(Colour::of("app", "app-blue"), Some(Colour::Blue));
        assert_eq!(Colour::of("app", "app-green"), Some(Colour::Green));
        assert_eq!(Colour::of("app", "app"), None);
        assert_eq!(Colour::of("app", "other-green"), None);
        assert_eq!(Colour::Blue.other().release("app"), "app-green");
    }
}
