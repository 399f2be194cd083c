//! How `windlass verify` reaches what a manifest names: the credentials of
//! each index found the way `wheel publish` finds them (`[wheel.
//! repositories]` with secret references, `.pypirc`, `TWINE_*`, user info),
//! and a registry client configured from `[image.registries]` and the
//! credential files. Values are resolved here and only ever held in
//! secret types; nothing is printed but where they came from.

use std::collections::BTreeSet;

use windlass_http::HttpConfig;
use windlass_output::Printer;
use windlass_pypi::config::Pypirc;
use windlass_pypi::repository::{
    Credentials, TargetRequest, TargetSources, TrustedPublishingMode, resolve_target,
};
use windlass_redact::RedactedUrl;

use crate::manifest::Manifest;
use crate::verify::{IndexAuth, VerifyArgs, VerifyOptions};

/// The options `windlass verify` runs with, from the loaded configuration
/// and the manifest's indexes and registries.
pub(crate) async fn options(
    loaded: &windlass_secrets::ToolConfig,
    args: &VerifyArgs,
    manifest: &Manifest,
    printer: &Printer,
) -> anyhow::Result<VerifyOptions> {
    let config = &loaded.config;
    let http = HttpConfig::from_settings(&config.settings.http);
    let base_dir = config
        .project_dir()
        .map_or_else(|| loaded.cwd.clone(), std::path::Path::to_path_buf);
    let secrets = windlass_secrets::SecretsConfig::from_effective(config)?;

    // Indexes.
    let wheel = config.section::<windlass_wheel::config::WheelSection>("wheel")?;
    let pypirc_path = args
        .pypirc
        .as_ref()
        .map(|p| loaded.cwd.join(p))
        .or_else(|| loaded.env.home().map(|h| h.join(".pypirc")));
    let pypirc = match &pypirc_path {
        Some(path) => Pypirc::load(path)?,
        None => Pypirc::default(),
    };
    let indexes: BTreeSet<&str> = manifest
        .content
        .distributions
        .iter()
        .map(|d| d.index.as_str())
        .filter(|i| i.starts_with("http://") || i.starts_with("https://"))
        .collect();
    let mut index_auth = Vec::new();
    for index in indexes {
        let Ok(url) = url::Url::parse(index) else {
            continue;
        };
        let simple = RedactedUrl::new(url);
        // A configured repository whose simple root is this index, else the
        // index's URL itself (`TWINE_*` and user info apply).
        let named = wheel.repositories.iter().find_map(|(name, section)| {
            let root = match &section.simple_url {
                Some(text) => url::Url::parse(text).ok()?,
                None => {
                    windlass_pypi::simple::derive_simple_url(&url::Url::parse(&section.url).ok()?)
                }
            };
            same_root(&root, simple.expose()).then(|| name.clone())
        });
        let request = TargetRequest {
            repository: Some(named.clone().unwrap_or_else(|| index.to_owned())),
            simple_url: named.is_none().then(|| index.to_owned()),
            trusted_publishing: TrustedPublishingMode::Never,
            anonymous: args.no_credentials,
            ..TargetRequest::default()
        };
        let resolver =
            windlass_secrets::Resolver::new(loaded.env.clone(), &base_dir, secrets.vault.clone())
                .with_http(http.clone());
        let sources = TargetSources {
            env: &loaded.env,
            repositories: &wheel.repositories,
            pypirc: &pypirc,
            resolver: &resolver,
        };
        let target = resolve_target(&request, &sources).await;
        resolver.close().await;
        let target = target?;
        if let Credentials::Basic(auth) = target.credentials {
            tracing::debug!(index = %simple, source = %target.credential_source, "index credentials");
            index_auth.push(IndexAuth {
                simple_url: simple,
                auth,
            });
        }
    }

    // Registries.
    let ctx = windlass_image::cli::Context {
        config: config.clone(),
        image: config.section::<windlass_image::config::ImageSection>("image")?,
        env: loaded.env.clone(),
        cwd: loaded.cwd.clone(),
    };
    let registries: BTreeSet<String> = manifest
        .content
        .images
        .iter()
        .filter(|i| !i.repository.starts_with("oci:"))
        .filter_map(|i| i.repository.split('/').next().map(str::to_owned))
        .collect();
    let registries: Vec<&str> = registries.iter().map(String::as_str).collect();
    let registry = windlass_image::registry::open_client(
        &ctx,
        &windlass_image::registry::TransferArgs { jobs: 4 },
        printer,
        &registries,
    )
    .await?;

    Ok(VerifyOptions {
        http,
        registry,
        index_auth,
        env: loaded.env.clone(),
        kubeconfig: args.kubeconfig.as_ref().map(|p| loaded.cwd.join(p)),
        jobs: args.jobs,
    })
}

fn same_root(a: &url::Url, b: &url::Url) -> bool {
    let strip = |u: &url::Url| {
        let mut u = u.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.as_str().trim_end_matches('/').to_owned()
    };
    strip(a) == strip(b)
}
