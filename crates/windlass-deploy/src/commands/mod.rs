//! The `deploy` commands; each module holds its clap arguments, its report
//! and its `run`.

pub mod approve;
pub mod diff;
pub mod history;
pub mod metrics;
pub mod promote;
pub mod rollback;
pub mod status;
pub mod up;

use anyhow::Context as _;
use windlass_output::{ExitStatus, ResultExt as _};

use crate::config::StrategyKind;
use crate::stage::Stage;

/// Checks before anything changes that an A/B test or shadow traffic can
/// be handed to a controller of the environment's cluster (Flagger or Argo
/// Rollouts, found by API discovery) with the strategy's keys; refuses it,
/// saying why and what would do, otherwise.
pub(crate) async fn check_strategy(stage: &Stage) -> anyhow::Result<()> {
    let spec = &stage.spec.strategy;
    if !matches!(spec.kind, StrategyKind::Ab | StrategyKind::Shadow) {
        return Ok(());
    }
    stage.cluster.reachable().await?;
    match crate::strategy::handoff::resolve(&stage.cluster, spec, &stage.release).await {
        Ok(_) => Ok(()),
        Err(crate::strategy::StrategyError::HandOff {
            kind,
            field,
            problem,
            hint,
        }) => {
            let value = if field == "kind" {
                format!(" = \"{kind}\"")
            } else {
                String::new()
            };
            Err(anyhow::anyhow!(
                "`deploy.environments.{}.strategy.{field}`{value} {problem}",
                stage.name
            ))
            .with_hint(hint)
            .with_exit_status(ExitStatus::Usage)
        }
        Err(crate::strategy::StrategyError::Config { field, problem, .. }) => Err(anyhow::anyhow!(
            "`deploy.environments.{}.strategy.{field}` {problem}",
            stage.name
        ))
        .with_hint("see the \"Strategies\" section of docs/deploy.md for the strategy's keys")
        .with_exit_status(ExitStatus::Usage),
        Err(error) => Err(error.into()),
    }
}

/// The registries of `[image.registries]`, resolved (credentials
/// registered with the redactor), and the credential files podman and
/// Docker read: what pulling a chart from an `oci://` registry and
/// resolving an image tag need.
pub(crate) async fn registry_access(
    ctx: &crate::cli::Context,
) -> anyhow::Result<(
    std::collections::BTreeMap<String, windlass_image::registry::HostSettings>,
    windlass_image::registry::credentials::CredentialFiles,
)> {
    let project_dir = ctx.project_dir();
    let image = ctx
        .config
        .section::<windlass_image::config::ImageSection>("image")?;
    let secrets = windlass_secrets::SecretsConfig::from_effective(&ctx.config)?;
    let resolver = windlass_secrets::Resolver::new(ctx.env.clone(), &project_dir, secrets.vault)
        .with_http(windlass_http::HttpConfig::from_settings(
            &ctx.config.settings.http,
        ));
    let hosts =
        windlass_image::registry::config::host_settings(&image.registries, &project_dir, &resolver)
            .await;
    resolver.close_unless_interrupted().await;
    let files =
        windlass_image::registry::credentials::CredentialFiles::from_env(&ctx.env, &ctx.cwd);
    Ok((hosts?, files))
}

/// Resolves `deploy`'s chart: a local chart packaged reproducibly, a
/// repository or `oci://` chart pulled (registry credentials from
/// `[image.registries]`, never on argv).
pub(crate) async fn resolve_chart(
    ctx: &crate::cli::Context,
    deploy: &crate::config::DeploySection,
) -> anyhow::Result<crate::helm::chart::ResolvedChart> {
    let helm = crate::helm::locate(&ctx.env).await?;
    let project_dir = ctx.project_dir();
    let oci = deploy
        .chart
        .as_deref()
        .is_some_and(|c| c.starts_with("oci://"));
    let (registries, files) = if oci {
        let (hosts, files) = registry_access(ctx).await?;
        (hosts, Some(files))
    } else {
        (std::collections::BTreeMap::new(), None)
    };
    let repository_credential = repository_credential(ctx, deploy).await?;
    let sources = crate::helm::chart::ChartSources {
        helm: &helm,
        registries: &registries,
        files: files.as_ref(),
        env: &ctx.env,
        repository_credential: repository_credential.as_ref(),
    };
    Ok(crate::helm::chart::resolve(deploy, &project_dir, &ctx.cache_dir(), &sources).await?)
}

/// `[deploy] repository-username` and `repository-password`, the password
/// resolved (and so registered with the redactor) when the chart comes
/// from a repository.
async fn repository_credential(
    ctx: &crate::cli::Context,
    deploy: &crate::config::DeploySection,
) -> anyhow::Result<Option<crate::helm::chart::RepositoryCredential>> {
    if deploy.repository.is_none() {
        return Ok(None);
    }
    let (username, reference) = match (&deploy.repository_username, &deploy.repository_password) {
        (None, None) => return Ok(None),
        (Some(username), Some(reference)) => (username, reference),
        (username, _) => {
            let (set, missing) = if username.is_some() {
                ("repository-username", "repository-password")
            } else {
                ("repository-password", "repository-username")
            };
            return Err(anyhow::anyhow!(
                "`[deploy] {set}` is set without `{missing}`"
            ))
            .with_hint(format!("set `{missing}` in `[deploy]` too"))
            .with_exit_status(ExitStatus::Usage);
        }
    };
    let reference = windlass_secrets::SecretRef::parse(reference)
        .context("`[deploy] repository-password` is not a secret reference")
        .with_hint("write it as a reference, e.g. `env://CHARTS_PASSWORD` or `vault://secret/ci/charts#password`")
        .with_exit_status(ExitStatus::Usage)?;
    let secrets = windlass_secrets::SecretsConfig::from_effective(&ctx.config)?;
    let http = windlass_http::HttpConfig::from_settings(&ctx.config.settings.http);
    let resolver =
        windlass_secrets::Resolver::new(ctx.env.clone(), ctx.project_dir(), secrets.vault)
            .with_http(http);
    let password = resolver
        .resolve(&reference)
        .await
        .context("cannot resolve `[deploy] repository-password`");
    resolver.close_unless_interrupted().await;
    Ok(Some(crate::helm::chart::RepositoryCredential {
        username: username.clone(),
        password: password?,
    }))
}

/// Resolves the chart of a bundle and checks its digest: the same
/// version must be the same bytes.
pub(crate) async fn chart_archive(
    ctx: &crate::cli::Context,
    bundle: &crate::bundle::Bundle,
) -> anyhow::Result<std::path::PathBuf> {
    let mut deploy = ctx.deploy.clone();
    deploy.version = Some(bundle.chart.version.clone());
    let resolved = resolve_chart(ctx, &deploy).await?;
    if resolved.chart.digest != bundle.chart.digest {
        return Err(anyhow::anyhow!(
            "chart {} {} is {} here, but the bundle has {}",
            bundle.chart.name,
            bundle.chart.version,
            resolved.chart.digest,
            bundle.chart.digest
        ))
        .with_hint("the chart changed under the same version: publish the change as a new chart version and deploy it with `deploy up`")
        .with_exit_status(ExitStatus::Failure);
    }
    Ok(resolved.archive)
}
