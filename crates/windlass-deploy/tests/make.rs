//! Making a bundle: values files merged as Helm merges them, images pinned
//! by digest (given, read from an OCI layout, a tag resolved once against
//! the harness's real registry), the source from git; the values documents
//! an environment hands to Helm.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]
#![allow(
    clippy::disallowed_methods,
    reason = "git sets up the repository the bundle's source is read from"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use windlass_deploy::bundle::ChartRef;
use windlass_deploy::config::DeploySection;
use windlass_deploy::make::{
    ImageInput, ImageResolver, MakeError, MakeRequest, RegistryResolver, ResolveError,
    environment_values, make_bundle,
};
use windlass_image::registry::{Client, ClientConfig};
use windlass_image::{Digest, Layout, Reference};
use windlass_redact::Secret;
use windlass_testkit::{Services, canary};

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("wltest/{name}-{nanos:x}")
}

/// A one-blob image in a new layout at `dir`, tagged `tag`.
fn make_layout(dir: &Path, tag: &str, seed: &str) -> (Layout, oci_spec::image::Descriptor) {
    let layout = Layout::open_or_create(dir).unwrap();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .unwrap();
    let (config_digest, config_size) = layout.write_blob(&config).unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest.to_string(),
            "size": config_size,
        },
        "layers": [],
    }))
    .unwrap();
    let (digest, size) = layout.write_blob(&manifest).unwrap();
    let descriptor = oci_spec::image::Descriptor::new(
        oci_spec::image::MediaType::ImageManifest,
        size,
        oci_spec::image::Digest::from(&digest),
    );
    layout.set_tag(descriptor.clone(), Some(tag)).unwrap();
    (layout, descriptor)
}

fn client(dir: &Path) -> Client {
    Client::new(ClientConfig {
        http: windlass_http::HttpConfig::default(),
        hosts: BTreeMap::default(),
        files: windlass_image::registry::credentials::CredentialFiles::new(Vec::new(), dir),
        jobs: 2,
    })
}

/// Counts the tags it is asked to resolve.
struct Counting<'a> {
    inner: &'a RegistryResolver,
    calls: AtomicUsize,
}

impl ImageResolver for Counting<'_> {
    async fn resolve(&self, reference: &Reference) -> Result<Digest, ResolveError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.resolve(reference).await
    }
}

fn chart() -> ChartRef {
    ChartRef {
        name: "ml-job".into(),
        version: "0.3.1".into(),
        location: "charts/ml-job".into(),
        digest: format!("sha256:{}", "c".repeat(64)),
    }
}

fn deploy(registry: &str, repo: &str) -> DeploySection {
    toml::from_str(&format!(
        r#"
        chart = "charts/ml-job"
        values = ["deploy/values.yaml", "deploy/more.yaml"]
        set = {{ "replicaCount" = 3, "resources.limits.cpu" = "2", 'annotations.example\.com/team' = "ml" }}

        [images.job]
        repository = "{registry}/{repo}"
        values-key = "image"

        [images.worker]
        repository = "{registry}/{repo}-worker"

        [images.sidecar]
        repository = "docker.io/library/busybox"

        [environments.prod]
        values = ["deploy/prod.yaml"]
        set = {{ "replicaCount" = 5 }}
        secret-values = {{ "db.password" = "env://DB_PASSWORD" }}
        "#
    ))
    .unwrap()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_from_a_digest_a_layout_and_a_tag() {
    let registries = Services::load().registries();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    write(
        &dir.join("deploy/values.yaml"),
        "replicaCount: 1\nresources:\n  limits:\n    cpu: '1'\n    memory: 1Gi\nlist: [1, 2]\n",
    );
    write(
        &dir.join("deploy/more.yaml"),
        "list: [3]\nresources:\n  requests:\n    cpu: 100m\n",
    );
    write(
        &dir.join("deploy/prod.yaml"),
        "ingress:\n  host: ml.example.com\n",
    );

    // `job` is pushed under a tag; `worker` stays in a layout.
    let repo = unique("deploy-make");
    let (layout, pushed) = make_layout(&dir.join("build/job"), "v1", "job");
    let client = client(dir);
    let destination: Reference = format!("{}/{repo}:v1", registries.open).parse().unwrap();
    let printer = windlass_output::Printer::new(&windlass_output::OutputArgs::default(), "test");
    windlass_image::registry::push_from_layout(&client, &layout, &pushed, &destination, &printer)
        .await
        .unwrap();
    let (_, worker) = make_layout(&dir.join("build/worker"), "v2", "worker");

    // A git repository whose origin URL holds a token.
    git(dir, &["init", "-q"]);
    git(
        dir,
        &[
            "remote",
            "add",
            "origin",
            "https://x-access-token:ghs_secret123@github.com/acme/ml.git",
        ],
    );
    git(dir, &["add", "deploy"]);
    git(dir, &["commit", "-q", "-m", "values"]);

    let deploy = deploy(&registries.open, &repo);
    let sidecar = format!(
        "sidecar=docker.io/library/busybox@sha256:{}",
        "b".repeat(64)
    );
    let request = MakeRequest {
        deploy: &deploy,
        project_dir: dir,
        chart: chart(),
        images: vec![
            format!("job={}/{repo}:v1", registries.open)
                .parse()
                .unwrap(),
            "worker=oci:build/worker:v2".parse().unwrap(),
            sidecar.parse().unwrap(),
        ],
    };
    let registry = RegistryResolver::new(client.clone());
    let counting = Counting {
        inner: &registry,
        calls: AtomicUsize::new(0),
    };
    let bundle = make_bundle(&request, &counting).await.unwrap();
    assert_eq!(
        counting.calls.load(Ordering::SeqCst),
        1,
        "one tag, resolved once"
    );

    let job = &bundle.images["job"];
    assert_eq!(job.digest, pushed.digest().to_string());
    assert_eq!(job.tag.as_deref(), Some("v1"));
    assert_eq!(job.repository, format!("{}/{repo}", registries.open));
    let worker_image = &bundle.images["worker"];
    assert_eq!(worker_image.digest, worker.digest().to_string());
    assert_eq!(
        worker_image.repository,
        format!("{}/{repo}-worker", registries.open)
    );
    assert_eq!(
        bundle.images["sidecar"].digest,
        format!("sha256:{}", "b".repeat(64))
    );

    assert_eq!(
        bundle.values,
        json!({
            "replicaCount": 3,
            "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m"}},
            "list": [3],
            "annotations": {"example.com/team": "ml"},
        })
    );
    let source = bundle.source.as_ref().unwrap();
    assert_eq!(source.commit.len(), 40);
    assert_eq!(
        source.repository.as_deref(),
        Some("https://github.com/acme/ml.git")
    );

    // The same inputs make the same bundle (the tag now resolves to the same
    // digest), so the same id.
    let again = make_bundle(&request, &registry).await.unwrap();
    assert_eq!(again.id(), bundle.id());

    check_environment_values(&deploy, dir, &bundle);
}

/// The environment's documents: images written in, then its files, its
/// `set`, and the secret last.
fn check_environment_values(deploy: &DeploySection, dir: &Path, bundle: &windlass_deploy::Bundle) {
    let password = canary("db-password");
    let secrets = BTreeMap::from([(
        "db.password".to_owned(),
        Secret::registered(password.clone()),
    )]);
    let prod = &deploy.environments["prod"];
    let docs = environment_values(prod, deploy, dir, bundle, &secrets).unwrap();
    assert_eq!(docs.len(), 4);
    assert_eq!(
        docs[0]["image"],
        json!({
            "repository": bundle.images["job"].repository,
            "digest": bundle.images["job"].digest,
            "tag": "v1",
            "reference": bundle.images["job"].reference(),
        })
    );
    assert_eq!(
        docs[0]["images"]["worker"]["reference"],
        json!(bundle.images["worker"].reference())
    );
    assert_eq!(docs[0]["images"]["sidecar"].get("tag"), None);
    assert_eq!(docs[0]["replicaCount"], json!(3));
    assert_eq!(docs[1], json!({"ingress": {"host": "ml.example.com"}}));
    assert_eq!(docs[2], json!({"replicaCount": 5}));
    assert_eq!(docs[3], json!({"db": {"password": password}}));
    // The secret is in the last document only, never in the bundle.
    windlass_testkit::assert_no_leak(&bundle.canonical_json(), &password);
    windlass_testkit::assert_no_leak(docs[0].to_string().as_bytes(), &password);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_that_cannot_be_pinned() {
    let registries = Services::load().registries();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let repo = unique("deploy-missing");
    let deploy = deploy(&registries.open, &repo);
    let resolver = RegistryResolver::new(client(dir));
    let sidecar = format!(
        "sidecar=docker.io/library/busybox@sha256:{}",
        "b".repeat(64)
    );
    let worker = format!(
        "worker={}/{repo}-worker@sha256:{}",
        registries.open,
        "a".repeat(64)
    );
    let make = |images: Vec<&str>| {
        let request = MakeRequest {
            deploy: &deploy,
            project_dir: dir,
            chart: chart(),
            images: images
                .iter()
                .map(|i| i.parse::<ImageInput>().unwrap())
                .collect(),
        };
        let resolver = &resolver;
        async move { make_bundle(&request, resolver).await }
    };

    // A tag that was never pushed: the error names the image and reference.
    let job = format!("job={}/{repo}:nope", registries.open);
    let error = make(vec![&job, &worker, &sidecar]).await.unwrap_err();
    assert!(matches!(error, MakeError::Resolve { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "image `job`: cannot resolve `{}/{repo}:nope`",
            registries.open
        )
    );

    // An image of `[deploy.images]` without a flag.
    let error = make(vec![&worker, &sidecar]).await.unwrap_err();
    assert_eq!(error.to_string(), "image `job` has no digest");
    assert!(
        error.hint().unwrap().contains("--image job="),
        "{:?}",
        error.hint()
    );

    // A flag for an image the configuration does not know.
    let error = make(vec!["api=registry.test/api:v1"]).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "`--image api=...`: no image `api` in `[deploy.images]` (known: `job`, `sidecar`, `worker`)"
    );

    // A layout that is not there.
    let job = "job=oci:build/none:v1";
    let error = make(vec![job, &worker, &sidecar]).await.unwrap_err();
    assert!(matches!(error, MakeError::Layout { .. }), "{error:?}");

    // Outside git, a bundle has no source.
    let job = format!("job={}/{repo}@sha256:{}", registries.open, "d".repeat(64));
    let bundle = make(vec![&job, &worker, &sidecar]).await;
    // The values files are missing here: the error names the first.
    let error = bundle.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot read the values file `"),
        "{error}"
    );
    assert!(error.to_string().contains("deploy/values.yaml"), "{error}");
    write(&dir.join("deploy/values.yaml"), "");
    write(&dir.join("deploy/more.yaml"), "# nothing yet\n");
    let bundle = make(vec![&job, &worker, &sidecar]).await.unwrap();
    assert_eq!(bundle.source, None);
    assert_eq!(
        bundle.values,
        json!({"replicaCount": 3, "resources": {"limits": {"cpu": "2"}}, "annotations": {"example.com/team": "ml"}})
    );

    // A values file must hold a map.
    write(&dir.join("deploy/more.yaml"), "- a\n- b\n");
    let error = make(vec![&job, &worker, &sidecar]).await.unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("must hold a map at its top (it holds a list)"),
        "{error}"
    );
}

/// The resolver the command layer opens from `windlass.toml`, as
/// `windlass image` opens its client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolver_from_the_configuration() {
    let registries = Services::load().registries();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let repo = unique("deploy-open");
    write(
        &dir.join("windlass.toml"),
        &format!(
            "[deploy.images.job]\nrepository = \"{}/{repo}\"\n",
            registries.open
        ),
    );
    let (layout, pushed) = make_layout(&dir.join("build/job"), "v3", "open");
    let printer = windlass_output::Printer::new(&windlass_output::OutputArgs::default(), "test");
    let destination: Reference = format!("{}/{repo}:v3", registries.open).parse().unwrap();
    windlass_image::registry::push_from_layout(
        &client(dir),
        &layout,
        &pushed,
        &destination,
        &printer,
    )
    .await
    .unwrap();

    let context = windlass_image::cli::Context::load(Some(&dir.join("windlass.toml"))).unwrap();
    let images: Vec<ImageInput> = vec![format!("job={destination}").parse().unwrap()];
    let resolver = RegistryResolver::open(&context, &printer, &images)
        .await
        .unwrap();
    let digest = resolver.resolve(&destination).await.unwrap();
    assert_eq!(digest.to_string(), pushed.digest().to_string());
}
