//! The Helm runner and the chart resolver.
//!
//! - With a fake `helm` that records what it is given: values never on
//!   argv (a canary secret in the values is only ever in a private file of
//!   mode 0600 in a directory of mode 0700, removed after), the cluster
//!   flags always explicit, a registry password only on stdin, Helm's
//!   unparseable answers named by their command.
//! - With the real Helm 4 and the loopback Kubernetes API server
//!   (`Services::kube`): install, history with the bundle label,
//!   upgrade, rollback, values of a revision; a broken image rolled back by
//!   `--rollback-on-failure`.
//! - Packaging: two copies of a chart with different mtimes give one
//!   digest, Helm reads the archive, and an `oci://` chart pushed to the
//!   test registry comes back with the same digest.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::json;
use windlass_config::Environment;
use windlass_deploy::config::DeploySection;
use windlass_deploy::helm::chart::{self, ChartError, ChartSources, DEFAULT_MTIME};
use windlass_deploy::helm::{self, BUNDLE_LABEL, Helm, HelmError, UpgradeRequest};
use windlass_image::registry::HostSettings;
use windlass_image::registry::credentials::Credential;
use windlass_process::Cmd;
use windlass_redact::Secret;
use windlass_testkit::{Services, assert_no_leak, canary};

fn test_chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts/app")
}

fn real_helm() -> PathBuf {
    PathBuf::from(Services::load().var("WINDLASS_TEST_HELM"))
}

/// A fake `helm` that appends what it was given to `LOG`: argv, the mode
/// of every `--values` file and of its directory, a copy of each file,
/// stdin, and two environment variables. It answers `history` with one
/// revision (or `BAD` when `history_answer` says so), `upgrade` with the
/// release it made (revision 3, as `--output json` prints it) and
/// `version` with `version`.
fn spy(dir: &Path, version: &str, history_answer: &str) -> (PathBuf, PathBuf) {
    let log = dir.join("log");
    let script = dir.join("helm");
    let text = format!(
        r#"#!/bin/sh
log='{log}'
{{
  printf 'ARGV'; for a in "$@"; do printf ' %s' "$a"; done; echo
  echo "ENV HELM_DRIVER=${{HELM_DRIVER-unset}}"
  prev=
  for a in "$@"; do
    if [ "$prev" = "--values" ]; then
      echo "FILE $(stat -c %a "$a") DIR $(stat -c %a "$(dirname "$a")") PATH $a"
      echo "CONTENT $(cat "$a")"
    fi
    prev=$a
  done
  case " $* " in *" --password-stdin "*) echo "STDIN $(cat)";; esac
}} >> "$log"
case "$1" in
  version) printf '{version}' ;;
  history) printf '%s' '{history_answer}' ;;
  upgrade) printf '%s' '{UPGRADED}' ;;
esac
"#,
        log = log.display(),
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

/// The release `helm upgrade --output json` prints (values and manifest
/// included, which Windlass skips).
const UPGRADED: &str = r#"{"name":"app","info":{"first_deployed":"2026-01-01T00:00:00Z","last_deployed":"2026-01-01T00:00:00Z","description":"windlass","status":"deployed"},"chart":{"metadata":{"name":"app","version":"0.1.0","appVersion":"1.0"}},"config":{"db":{"password":"x"}},"manifest":"---","version":3,"namespace":"ns-a"}"#;

const ONE_REVISION: &str = r#"[{"revision":3,"updated":"2026-01-01T00:00:00Z","status":"deployed","chart":"app-0.1.0","app_version":"1.0","description":"windlass"}]"#;

#[tokio::test]
async fn values_reach_helm_as_private_files_never_argv() {
    let dir = tempfile::tempdir().unwrap();
    let (binary, log) = spy(dir.path(), "v4.1.4", ONE_REVISION);
    let secret = canary("helm-values");
    let helm = Helm::new(
        binary,
        Some(PathBuf::from("/nonexistent/kubeconfig")),
        Some("ctx-a".to_owned()),
        "ns-a".to_owned(),
    );
    let request = UpgradeRequest {
        release: "app".to_owned(),
        archive: PathBuf::from("/charts/app-0.1.0.tgz"),
        values: vec![
            json!({"config": {"message": "first-document"}}),
            json!({"db": {"password": secret}}),
        ],
        wait: true,
        timeout: Duration::from_secs(90),
        rollback_on_failure: true,
        description: "bundle 0123456789ab".to_owned(),
        labels: BTreeMap::from([(BUNDLE_LABEL.to_owned(), "0123456789ab".to_owned())]),
    };
    let revision = helm.upgrade_install(&request).await.unwrap();
    assert_eq!(revision.revision, 3);
    assert_eq!(revision.status, "deployed");

    let log = std::fs::read_to_string(log).unwrap();
    let argv: Vec<&str> = log.lines().filter(|l| l.starts_with("ARGV")).collect();
    assert_eq!(argv.len(), 1, "the upgrade alone: {log}");
    let upgrade = argv[0];
    for expected in [
        "ARGV upgrade app /charts/app-0.1.0.tgz --install",
        "--timeout 90s",
        "--wait=watcher",
        "--rollback-on-failure",
        "--labels windlass.dev/bundle=0123456789ab",
        "--kubeconfig /nonexistent/kubeconfig",
        "--kube-context ctx-a",
        "--namespace ns-a",
    ] {
        assert!(upgrade.contains(expected), "{expected} not in {upgrade}");
    }
    assert!(upgrade.contains("--output json"), "{upgrade}");
    assert_eq!(revision.chart, "app-0.1.0");
    for line in &argv {
        assert_no_leak(line.as_bytes(), &secret);
        assert!(!line.contains("first-document"), "values on argv: {line}");
    }
    assert!(log.contains("ENV HELM_DRIVER=secret"));

    // Two files, in order, each 0600 in a 0700 directory, holding the
    // documents; all gone now.
    let files: Vec<&str> = log.lines().filter(|l| l.starts_with("FILE")).collect();
    assert_eq!(files.len(), 2, "{log}");
    for file in &files {
        assert!(file.starts_with("FILE 600 DIR 700 PATH "), "{file}");
        let path = file.rsplit(" PATH ").next().unwrap();
        assert!(!Path::new(path).exists(), "{path} left behind");
        assert!(
            !Path::new(path).parent().unwrap().exists(),
            "directory left behind"
        );
    }
    let contents: Vec<&str> = log.lines().filter(|l| l.starts_with("CONTENT")).collect();
    assert!(contents[0].contains("first-document"));
    assert!(
        contents[1].contains(&secret),
        "the secret reaches helm in its file"
    );
}

#[tokio::test]
async fn an_unparseable_answer_names_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let (binary, _log) = spy(dir.path(), "v4.1.4", "this is not json");
    let helm = Helm::new(binary, None, Some("ctx".to_owned()), "ns".to_owned());
    let error = helm.history("app").await.unwrap_err();
    assert!(matches!(error, HelmError::Parse { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with(
            "cannot understand the answer of `helm history app --output json --kube-context ctx --namespace ns`"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn locate_checks_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let v4 = dir.path().join("v4");
    let v3 = dir.path().join("v3");
    std::fs::create_dir_all(&v4).unwrap();
    std::fs::create_dir_all(&v3).unwrap();
    let (good, _) = spy(&v4, "v4.1.4", "[]");
    let (old, _) = spy(&v3, "v3.12.3", "[]");

    let env = Environment::from_vars([("WINDLASS_HELM", good.as_os_str())]);
    assert_eq!(helm::locate(&env).await.unwrap(), good);
    let env = Environment::from_vars([("PATH", v4.as_os_str())]);
    assert_eq!(helm::locate(&env).await.unwrap(), good);

    let env = Environment::from_vars([("WINDLASS_HELM", old.as_os_str())]);
    let error = helm::locate(&env).await.unwrap_err();
    assert!(matches!(error, HelmError::Unsupported { .. }), "{error:?}");
    assert!(error.to_string().contains("v3.12.3"), "{error}");

    let env = Environment::from_vars([("PATH", dir.path().join("none").as_os_str())]);
    let error = helm::locate(&env).await.unwrap_err();
    assert!(matches!(error, HelmError::NotFound), "{error:?}");
    let hint = windlass_diagnostic::Diagnostic::hint(&error).unwrap();
    assert!(hint.contains("WINDLASS_HELM"), "{hint}");
}

#[tokio::test]
async fn an_oci_registry_password_goes_to_stdin_only() {
    let dir = tempfile::tempdir().unwrap();
    let (binary, log) = spy(dir.path(), "v4.1.4", "[]");
    let password = canary("chart-registry");
    let registries = BTreeMap::from([(
        "registry.test:5000".to_owned(),
        HostSettings {
            credential: Some(Credential {
                username: "ci".to_owned(),
                password: Secret::new(password.clone()),
            }),
            plain_http: true,
            ..HostSettings::default()
        },
    )]);
    let env = Environment::from_vars(Vec::<(String, String)>::new());
    let sources = ChartSources {
        helm: &binary,
        registries: &registries,
        files: None,
        env: &env,
        repository_credential: None,
    };
    let deploy = DeploySection {
        chart: Some("oci://registry.test:5000/charts/app".to_owned()),
        version: Some("0.1.0".to_owned()),
        ..DeploySection::default()
    };
    let cache = dir.path().join("cache");
    // The fake pulls nothing: the resolver says so, after logging in.
    let error = chart::resolve(&deploy, dir.path(), &cache, &sources)
        .await
        .unwrap_err();
    assert!(matches!(error, ChartError::PullOutput { .. }), "{error:?}");

    let log = std::fs::read_to_string(log).unwrap();
    let argv: Vec<&str> = log.lines().filter(|l| l.starts_with("ARGV")).collect();
    assert_eq!(argv.len(), 2, "{log}");
    assert!(argv[0].starts_with(
        "ARGV registry login registry.test:5000 --username ci --password-stdin --registry-config "
    ));
    assert!(argv[0].ends_with(" --plain-http"), "{}", argv[0]);
    assert!(
        argv[1].starts_with("ARGV pull oci://registry.test:5000/charts/app --registry-config ")
    );
    assert!(argv[1].contains("--plain-http --version 0.1.0 --destination "));
    for line in &argv {
        assert_no_leak(line.as_bytes(), &password);
    }
    assert!(log.contains(&format!("STDIN {password}")), "{log}");

    // A version is required for a remote chart.
    let unpinned = DeploySection {
        version: None,
        ..deploy
    };
    let error = chart::resolve(&unpinned, dir.path(), &cache, &sources)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChartError::VersionRequired { .. }),
        "{error:?}"
    );
}

/// Copies a directory tree, giving every file the mtime `when`.
fn copy_tree(from: &Path, to: &Path, when: SystemTime) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target, when);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let file = std::fs::File::options().write(true).open(&target).unwrap();
            file.set_modified(when).unwrap();
        }
    }
}

async fn run_real_helm(args: &[&str]) -> String {
    let outcome = Cmd::new(real_helm(), "/")
        .args(args)
        .capture_output()
        .timeout(Duration::from_secs(120))
        .run_checked()
        .await
        .unwrap_or_else(|e| panic!("helm {args:?}: {e}"));
    String::from_utf8(outcome.into_stdout().unwrap_or_default()).unwrap()
}

#[tokio::test]
async fn packaging_is_reproducible_and_helm_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a/app");
    let b = dir.path().join("b/app");
    copy_tree(
        &test_chart(),
        &a,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000),
    );
    copy_tree(&test_chart(), &b, SystemTime::now());
    // What .helmignore leaves out changes nothing.
    std::fs::create_dir_all(b.join("notes")).unwrap();
    std::fs::write(b.join("notes/todo.md"), "not part of the chart").unwrap();
    std::fs::write(b.join("values.yaml.orig"), "nor this").unwrap();

    let cache_a = dir.path().join("cache-a");
    let cache_b = dir.path().join("cache-b");
    let first = chart::package(&a, &cache_a, DEFAULT_MTIME).unwrap();
    let second = chart::package(&b, &cache_b, DEFAULT_MTIME).unwrap();
    assert_eq!(first.chart.digest, second.chart.digest);
    assert_eq!(first.chart.name, "app");
    assert_eq!(first.chart.version, "0.1.0");
    assert!(first.archive.starts_with(cache_a.join("charts/sha256")));
    let digest = first.chart.digest.strip_prefix("sha256:").unwrap();
    assert_eq!(
        first.archive,
        cache_a.join(format!("charts/sha256/{digest}/app-0.1.0.tgz"))
    );
    let bytes = std::fs::read(&first.archive).unwrap();
    assert_eq!(
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
        ),
        first.chart.digest
    );

    // A symbolic link loop is read once (and a linked file is followed).
    let c = dir.path().join("c/app");
    copy_tree(&test_chart(), &c, SystemTime::now());
    std::os::unix::fs::symlink("..", c.join("templates/loop")).unwrap();
    let looped = chart::package(&c, &dir.path().join("cache-loop"), DEFAULT_MTIME).unwrap();
    assert_eq!(looped.chart.digest, first.chart.digest);

    // Another SOURCE_DATE_EPOCH is another archive.
    let other = chart::package(&a, &dir.path().join("cache-c"), 1_700_000_000).unwrap();
    assert_ne!(other.chart.digest, first.chart.digest);

    // Helm reads it; the ignored files are not in it.
    let archive = first.archive.to_str().unwrap();
    let shown = run_real_helm(&["show", "chart", archive]).await;
    assert!(shown.contains("name: app"), "{shown}");
    let rendered = run_real_helm(&["template", "t", archive]).await;
    assert!(rendered.contains("kind: Deployment"), "{rendered}");
    assert!(rendered.contains("protocol: TCP"), "{rendered}");
    let listing = tar_listing(&bytes);
    assert_eq!(
        listing,
        [
            "app/.helmignore",
            "app/Chart.yaml",
            "app/templates/_helpers.tpl",
            "app/templates/configmap.yaml",
            "app/templates/deployment.yaml",
            "app/templates/service.yaml",
            "app/values.yaml",
        ]
    );

    // Through `resolve`: a directory is packaged, a `.tgz` used as is.
    let env = Environment::from_vars(Vec::<(String, String)>::new());
    let registries = BTreeMap::new();
    let helm_binary = real_helm();
    let sources = ChartSources {
        helm: &helm_binary,
        registries: &registries,
        files: None,
        env: &env,
        repository_credential: None,
    };
    let deploy = DeploySection {
        chart: Some("a/app".to_owned()),
        ..DeploySection::default()
    };
    let resolved = chart::resolve(&deploy, dir.path(), &cache_a, &sources)
        .await
        .unwrap();
    assert_eq!(resolved.chart.digest, first.chart.digest);
    assert_eq!(resolved.chart.location, "a/app");
    let deploy = DeploySection {
        chart: Some(archive.to_owned()),
        ..DeploySection::default()
    };
    let resolved = chart::resolve(&deploy, dir.path(), &cache_a, &sources)
        .await
        .unwrap();
    assert_eq!(resolved.chart.digest, first.chart.digest);
    assert_eq!(resolved.archive, first.archive);
    // A version that disagrees with Chart.yaml is refused.
    let deploy = DeploySection {
        chart: Some("a/app".to_owned()),
        version: Some("9.9.9".to_owned()),
        ..DeploySection::default()
    };
    let error = chart::resolve(&deploy, dir.path(), &cache_a, &sources)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChartError::VersionMismatch { .. }),
        "{error:?}"
    );
}

fn tar_listing(gzipped: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gzipped));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            assert_eq!(header.uid().unwrap(), 0);
            assert_eq!(header.gid().unwrap(), 0);
            assert_eq!(header.mtime().unwrap(), DEFAULT_MTIME);
            assert_eq!(header.mode().unwrap(), 0o644);
            entry.path().unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

#[tokio::test]
async fn an_oci_chart_comes_back_with_its_digest() {
    let services = Services::load();
    let registry = services.registries().open;
    let dir = tempfile::tempdir().unwrap();
    let packaged = chart::package(&test_chart(), &dir.path().join("local"), DEFAULT_MTIME).unwrap();
    let repository = format!(
        "oci://{registry}/windlass-test-charts/{}",
        canary("charts").replace("wlcanary-", "r")
    );
    run_real_helm(&[
        "push",
        packaged.archive.to_str().unwrap(),
        &repository,
        "--plain-http",
        "--registry-config",
        dir.path().join("registry.json").to_str().unwrap(),
    ])
    .await;

    let env = Environment::from_vars(Vec::<(String, String)>::new());
    let registries = BTreeMap::from([(
        registry.clone(),
        HostSettings {
            plain_http: true,
            ..HostSettings::default()
        },
    )]);
    let helm_binary = real_helm();
    let sources = ChartSources {
        helm: &helm_binary,
        registries: &registries,
        files: None,
        env: &env,
        repository_credential: None,
    };
    let deploy = DeploySection {
        chart: Some(format!("{repository}/app")),
        version: Some("0.1.0".to_owned()),
        ..DeploySection::default()
    };
    let cache = dir.path().join("cache");
    let pulled = chart::resolve(&deploy, dir.path(), &cache, &sources)
        .await
        .unwrap();
    assert_eq!(pulled.chart.digest, packaged.chart.digest);
    assert_eq!(pulled.chart.name, "app");
    assert_eq!(pulled.chart.location, format!("{repository}/app"));
    assert!(pulled.archive.starts_with(cache.join("charts/sha256")));

    // A version the registry does not have is a pull error naming it.
    let missing = DeploySection {
        version: Some("9.9.9".to_owned()),
        ..deploy
    };
    let error = chart::resolve(&missing, dir.path(), &cache, &sources)
        .await
        .unwrap_err();
    assert!(matches!(error, ChartError::Pull { .. }), "{error:?}");
    assert!(error.to_string().contains("9.9.9"), "{error}");
}

// ---- against the loopback Kubernetes API server ----

/// The test cluster and a fresh namespace in it (deleted namespaces stay
/// Terminating for a while), and a Helm bound to both, every cluster flag
/// explicit.
fn cluster(prefix: &str) -> (windlass_testkit::Kube, String, Helm) {
    let kube = Services::load().kube();
    let namespace = kube.fresh_namespace(prefix);
    let helm = Helm::new(
        kube.helm.clone(),
        Some(kube.kubeconfig.clone()),
        Some(kube.context.clone()),
        namespace.clone(),
    );
    (kube, namespace, helm)
}

fn request(archive: &Path, values: serde_json::Value, bundle: &str) -> UpgradeRequest {
    UpgradeRequest {
        release: "app".to_owned(),
        archive: archive.to_owned(),
        values: vec![values],
        wait: true,
        timeout: Duration::from_secs(60),
        rollback_on_failure: true,
        description: format!("windlass bundle {bundle}"),
        labels: BTreeMap::from([(BUNDLE_LABEL.to_owned(), bundle.to_owned())]),
    }
}

#[tokio::test]
async fn install_upgrade_rollback_on_a_real_cluster() {
    let (kube, namespace, helm) = cluster("helm-cycle");
    let dir = tempfile::tempdir().unwrap();
    let packaged = chart::package(&test_chart(), dir.path(), DEFAULT_MTIME).unwrap();
    let secret = canary("helm-cluster");

    assert_eq!(helm.status("app").await.unwrap(), None);
    assert!(helm.history("app").await.unwrap().is_empty());
    assert_eq!(helm.metadata("app").await.unwrap(), None);

    let first = json!({
        "image": {"reference": "registry.test/app@sha256:1111111111111111111111111111111111111111111111111111111111111111"},
        "config": {"message": "one", "token": secret},
    });
    let revision = helm
        .upgrade_install(&request(&packaged.archive, first.clone(), "aaaaaaaaaaaa"))
        .await
        .unwrap();
    assert_eq!(revision.revision, 1);
    assert_eq!(revision.status, "deployed");
    assert_eq!(revision.chart, "app-0.1.0");
    assert_eq!(revision.description, "windlass bundle aaaaaaaaaaaa");
    let metadata = helm.metadata("app").await.unwrap().unwrap();
    assert_eq!(metadata.labels[BUNDLE_LABEL], "aaaaaaaaaaaa");
    assert_eq!(metadata.namespace, namespace);

    let second = json!({
        "image": {"reference": "registry.test/app@sha256:2222222222222222222222222222222222222222222222222222222222222222"},
        "config": {"message": "two"},
    });
    let revision = helm
        .upgrade_install(&request(&packaged.archive, second.clone(), "bbbbbbbbbbbb"))
        .await
        .unwrap();
    assert_eq!(revision.revision, 2);
    assert_eq!(helm.get_values("app", 1).await.unwrap(), first);
    assert_eq!(helm.get_values("app", 2).await.unwrap(), second);

    helm.rollback("app", 1, true, Duration::from_secs(60))
        .await
        .unwrap();
    let history = helm.history("app").await.unwrap();
    let summary: Vec<(u32, &str)> = history
        .iter()
        .map(|r| (r.revision, r.status.as_str()))
        .collect();
    assert_eq!(
        summary,
        [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    );
    assert!(
        history[2].description.contains("Rollback to 1"),
        "{history:?}"
    );
    assert_eq!(helm.get_values("app", 3).await.unwrap(), first);
    let metadata = helm.metadata("app").await.unwrap().unwrap();
    assert_eq!(metadata.revision, 3);

    // A failing command names the release and namespace, carries Helm's
    // message, and holds neither the cluster's token nor the values.
    let error = helm
        .rollback("app", 99, false, Duration::from_secs(30))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&format!("for release `app` in namespace `{namespace}`")),
        "{message}"
    );
    assert!(message.contains("99"), "{message}");
    assert_no_leak(message.as_bytes(), kube.token.expose());
    assert_no_leak(message.as_bytes(), &secret);
    assert_no_leak(format!("{error:?}").as_bytes(), kube.token.expose());
}

#[tokio::test]
async fn a_broken_image_is_rolled_back_and_the_error_names_the_release() {
    let (kube, namespace, helm) = cluster("helm-broken");
    let dir = tempfile::tempdir().unwrap();
    let packaged = chart::package(&test_chart(), dir.path(), DEFAULT_MTIME).unwrap();

    let good = json!({"image": {"reference": "registry.test/app:good"}});
    helm.upgrade_install(&request(&packaged.archive, good, "aaaaaaaaaaaa"))
        .await
        .unwrap();
    let mut broken = request(
        &packaged.archive,
        json!({"image": {"reference": "registry.test/app:broken"}}),
        "bbbbbbbbbbbb",
    );
    broken.timeout = Duration::from_secs(15);
    let error = helm.upgrade_install(&broken).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, HelmError::Failed { .. }), "{error:?}");
    assert!(
        message.contains(&format!("for release `app` in namespace `{namespace}`")),
        "{message}"
    );
    assert_eq!(
        windlass_diagnostic::Diagnostic::exit_status(&error),
        windlass_diagnostic::ExitStatus::Remote
    );
    assert_no_leak(message.as_bytes(), kube.token.expose());

    let history = helm.history("app").await.unwrap();
    let summary: Vec<(u32, &str)> = history
        .iter()
        .map(|r| (r.revision, r.status.as_str()))
        .collect();
    assert_eq!(summary, [(1, "superseded"), (2, "failed"), (3, "deployed")]);
    let current = helm.status("app").await.unwrap().unwrap();
    assert!(!current.is_pending());
    assert_eq!(
        helm.metadata("app").await.unwrap().unwrap().labels[BUNDLE_LABEL],
        "aaaaaaaaaaaa"
    );
}

#[tokio::test]
async fn an_oci_chart_behind_a_login_is_pulled_with_the_configured_credential() {
    let services = Services::load();
    let registries_up = services.registries();
    let dir = tempfile::tempdir().unwrap();
    let packaged = chart::package(&test_chart(), &dir.path().join("local"), DEFAULT_MTIME).unwrap();
    let cases = [
        (registries_up.auth.clone(), true, None),
        (
            registries_up.tls.clone(),
            false,
            Some(registries_up.ca_file.clone()),
        ),
    ];
    for (host, plain_http, ca_file) in cases {
        let repository = push_with_login(
            &host,
            plain_http,
            ca_file.as_deref(),
            &registries_up,
            &packaged.archive,
            dir.path(),
        )
        .await;

        let env = Environment::from_vars(Vec::<(String, String)>::new());
        let helm_binary = real_helm();
        let deploy = DeploySection {
            chart: Some(format!("{repository}/app")),
            version: Some("0.1.0".to_owned()),
            ..DeploySection::default()
        };
        let cache = dir.path().join("cache");
        let settings = |credential: Option<Credential>| {
            BTreeMap::from([(
                host.clone(),
                HostSettings {
                    credential,
                    plain_http,
                    ca_file: ca_file.clone(),
                    ..HostSettings::default()
                },
            )])
        };

        // Without a credential the registry refuses.
        let anonymous = settings(None);
        let sources = ChartSources {
            helm: &helm_binary,
            registries: &anonymous,
            files: None,
            env: &env,
            repository_credential: None,
        };
        let error = chart::resolve(&deploy, dir.path(), &cache, &sources)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ChartError::Pull { .. }),
            "{host}: {error:?}"
        );

        // With `[image.registries."HOST"]`'s credential it comes back, with
        // the pushed archive's digest.
        let configured = settings(Some(Credential {
            username: registries_up.user.clone(),
            password: registries_up.password.clone(),
        }));
        let sources = ChartSources {
            registries: &configured,
            ..sources
        };
        let pulled = chart::resolve(&deploy, dir.path(), &cache, &sources)
            .await
            .unwrap_or_else(|e| panic!("{host}: {e:?}"));
        assert_eq!(pulled.chart.digest, packaged.chart.digest, "{host}");
        // The login went to a private registry configuration, removed
        // after: nothing lands in the user's Helm configuration.
        assert_no_leak_in_dir_if_exists(&cache, registries_up.password.expose());
    }
}

fn assert_no_leak_in_dir_if_exists(dir: &Path, secret: &str) {
    if dir.exists() {
        windlass_testkit::assert_no_leak_in_dir(dir, secret);
    }
}

/// A chart repository holding the test chart in `dir/repo` (indexed by
/// the real Helm), served over HTTP on a free port; with `auth` (`USER:
/// PASSWORD`), every `GET` wants that basic-auth credential. Returns its
/// URL, the server (stopped when dropped) and the packaged chart.
async fn chart_repository(
    dir: &Path,
    auth: Option<&str>,
) -> (String, windlass_process::Running, chart::ResolvedChart) {
    let python = Services::load().var("WINDLASS_TEST_PYTHON").to_owned();
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let packaged = chart::package(&test_chart(), &dir.join("local"), DEFAULT_MTIME).unwrap();
    std::fs::copy(&packaged.archive, repo.join("app-0.1.0.tgz")).unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    run_real_helm(&["repo", "index", repo.to_str().unwrap(), "--url", &url]).await;
    let server = Cmd::new(python, &repo)
        .args([
            "-c",
            CHART_SERVER,
            &port.to_string(),
            repo.to_str().unwrap(),
        ])
        .env("AUTH", auth.unwrap_or_default())
        .stdout(windlass_process::Sink::Null)
        .stderr(windlass_process::Sink::Null)
        .spawn()
        .unwrap();
    // Wait until it answers (the server needs a moment to bind).
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (url, server, packaged)
}

/// Helm through a wrapper appending each argv to `dir/argv.log`; returns
/// the wrapper and the log.
fn helm_logging_argv(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("argv.log");
    let wrapper = dir.join("helm");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real_helm().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    (wrapper, log)
}

#[tokio::test]
async fn a_repository_chart_is_pulled_by_version() {
    let dir = tempfile::tempdir().unwrap();
    let (url, server, packaged) = chart_repository(dir.path(), None).await;

    let env = Environment::from_vars(Vec::<(String, String)>::new());
    let registries = BTreeMap::new();
    let helm_binary = real_helm();
    let sources = ChartSources {
        helm: &helm_binary,
        registries: &registries,
        files: None,
        env: &env,
        repository_credential: None,
    };
    let deploy = DeploySection {
        chart: Some("app".to_owned()),
        repository: Some(url.clone()),
        version: Some("0.1.0".to_owned()),
        ..DeploySection::default()
    };
    let cache = dir.path().join("cache");
    let pulled = chart::resolve(&deploy, dir.path(), &cache, &sources)
        .await
        .unwrap();
    assert_eq!(pulled.chart.digest, packaged.chart.digest);
    assert_eq!(pulled.chart.location, url);
    assert!(pulled.archive.starts_with(cache.join("charts/sha256")));

    let error = chart::resolve(
        &DeploySection {
            version: Some("0.2.0".to_owned()),
            ..deploy
        },
        dir.path(),
        &cache,
        &sources,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ChartError::Pull { .. }), "{error:?}");
    drop(server);
}

/// A static chart repository (`python3 -c CHART_SERVER PORT ROOT`); when
/// `AUTH` (`USER:PASSWORD`) is set, behind HTTP basic auth as a chart
/// repository server with users is for `GET`.
const CHART_SERVER: &str = r#"
import base64, functools, http.server, os, sys
auth = os.environ.get("AUTH", "")
expected = "Basic " + base64.b64encode(auth.encode()).decode()
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if auth and self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="charts"')
            self.end_headers()
            return
        super().do_GET()
    def log_message(self, *args):
        pass
handler = functools.partial(Handler, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"#;

#[tokio::test]
async fn a_repository_behind_a_password_gets_it_on_stdin_only() {
    let password = canary("chart-repository-password");
    let dir = tempfile::tempdir().unwrap();
    let (url, server, packaged) =
        chart_repository(dir.path(), Some(&format!("charts:{password}"))).await;
    let (wrapper, log) = helm_logging_argv(dir.path());
    let env = Environment::from_vars(Vec::<(String, String)>::new());
    let registries = BTreeMap::new();
    let deploy = DeploySection {
        chart: Some("app".to_owned()),
        repository: Some(url.clone()),
        version: Some("0.1.0".to_owned()),
        ..DeploySection::default()
    };
    let cache = dir.path().join("cache");
    let resolve = |credential: Option<chart::RepositoryCredential>| {
        let (deploy, cache, wrapper, env, registries) =
            (&deploy, &cache, &wrapper, &env, &registries);
        let root = dir.path().to_owned();
        async move {
            let sources = ChartSources {
                helm: wrapper,
                registries,
                files: None,
                env,
                repository_credential: credential.as_ref(),
            };
            chart::resolve(deploy, &root, cache, &sources).await
        }
    };

    // Without the credential the server says no.
    let error = resolve(None).await.unwrap_err();
    assert!(matches!(error, ChartError::Pull { .. }), "{error:?}");

    // A wrong password: the add fails (exit 3), and says nothing of it.
    let wrong = canary("wrong-chart-password");
    let error = resolve(Some(chart::RepositoryCredential {
        username: "charts".to_owned(),
        password: Secret::new(wrong.clone()),
    }))
    .await
    .unwrap_err();
    assert!(
        matches!(error, ChartError::RepositoryAdd { .. }),
        "{error:?}"
    );
    assert_no_leak(format!("{error:?} {error}").as_bytes(), &wrong);

    // The right one: pulled, same digest as the packaged chart.
    let pulled = resolve(Some(chart::RepositoryCredential {
        username: "charts".to_owned(),
        password: Secret::new(password.clone()),
    }))
    .await
    .unwrap();
    assert_eq!(pulled.chart.digest, packaged.chart.digest);
    assert_eq!(pulled.chart.location, url);
    let argv = std::fs::read_to_string(&log).unwrap();
    assert!(argv.contains("--password-stdin"), "{argv}");
    assert_no_leak(argv.as_bytes(), &password);
    assert_no_leak(argv.as_bytes(), &wrong);
    assert_no_leak_in_dir_if_exists(&cache, &password);

    // Credentials written into the URL are refused before Helm runs.
    let lines = argv.lines().count();
    let in_url = DeploySection {
        repository: Some(url.replacen("http://", &format!("http://charts:{password}@"), 1)),
        ..deploy.clone()
    };
    let sources = ChartSources {
        helm: &wrapper,
        registries: &registries,
        files: None,
        env: &env,
        repository_credential: None,
    };
    let error = chart::resolve(&in_url, dir.path(), &cache, &sources)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChartError::CredentialsInUrl { .. }),
        "{error:?}"
    );
    assert_no_leak(format!("{error:?} {error}").as_bytes(), &password);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().lines().count(),
        lines
    );
    drop(server);
}

#[tokio::test]
async fn the_ml_job_example_chart_runs_its_job() {
    let (_kube, _namespace, helm) = cluster("helm-mljob");
    let dir = tempfile::tempdir().unwrap();
    let chart_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-job/chart");
    let packaged = chart::package(&chart_dir, dir.path(), DEFAULT_MTIME).unwrap();
    assert_eq!(packaged.chart.name, "ml-job");
    let values = json!({
        "image": {"reference": "registry.test/ml-job@sha256:3333333333333333333333333333333333333333333333333333333333333333"},
        "data": "label,text\npos,a great film\nneg,a dull plot\n",
        "args": ["--data", "/data/reviews.csv"],
    });
    let first = helm
        .upgrade_install(&request(&packaged.archive, values.clone(), "cccccccccccc"))
        .await
        .unwrap();
    assert_eq!((first.revision, first.status.as_str()), (1, "deployed"));
    assert_eq!(first.chart, "ml-job-0.4.0");
    // A second revision runs a Job of its own (a Job's template is
    // immutable, so one Job per revision).
    let second = helm
        .upgrade_install(&request(&packaged.archive, values, "dddddddddddd"))
        .await
        .unwrap();
    assert_eq!((second.revision, second.status.as_str()), (2, "deployed"));
}

/// Logs in to `host` with a registry configuration of the test's own and
/// pushes `archive` to a fresh repository there; returns the repository.
async fn push_with_login(
    host: &str,
    plain_http: bool,
    ca_file: Option<&Path>,
    registries: &windlass_testkit::Registries,
    archive: &Path,
    dir: &Path,
) -> String {
    let push_config = dir.join(format!("push-{}.json", host.replace(':', "-")));
    let mut tls_args: Vec<String> = Vec::new();
    if plain_http {
        tls_args.push("--plain-http".to_owned());
    }
    if let Some(ca) = ca_file {
        tls_args.extend(["--ca-file".to_owned(), ca.display().to_string()]);
    }
    Cmd::new(real_helm(), "/")
        .args([
            "registry",
            "login",
            host,
            "--username",
            &registries.user,
            "--password-stdin",
            "--registry-config",
            push_config.to_str().unwrap(),
        ])
        .args(&tls_args)
        .stdin_secret(registries.password.clone())
        .capture_output()
        .run_checked()
        .await
        .unwrap();
    let repository = format!(
        "oci://{host}/windlass-test-charts/{}",
        canary("private").replace("wlcanary-", "r")
    );
    let mut args = vec![
        "push",
        archive.to_str().unwrap(),
        &repository,
        "--registry-config",
        push_config.to_str().unwrap(),
    ];
    args.extend(tls_args.iter().map(String::as_str));
    run_real_helm(&args).await;
    repository
}

#[tokio::test]
async fn a_run_killed_mid_upgrade_is_recovered_by_a_rollback() {
    let (kube, namespace, helm) = cluster("helm-pending");
    let dir = tempfile::tempdir().unwrap();
    let packaged = chart::package(&test_chart(), dir.path(), DEFAULT_MTIME).unwrap();
    let good = json!({"image": {"reference": "registry.test/app:good"}});
    helm.upgrade_install(&request(&packaged.archive, good.clone(), "aaaaaaaaaaaa"))
        .await
        .unwrap();

    // A run killed while Helm waits for a never-ready image: its revision
    // stays `pending-upgrade` and blocks every later upgrade.
    let killed = Cmd::new(&kube.helm, "/")
        .args([
            "upgrade",
            "app",
            packaged.archive.to_str().unwrap(),
            "--wait=watcher",
            "--timeout",
            "120s",
            "--set",
            "image.reference=registry.test/app:broken",
            "--kubeconfig",
            kube.kubeconfig.to_str().unwrap(),
            "--kube-context",
            &kube.context,
            "--namespace",
            &namespace,
        ])
        .capture_output()
        .spawn()
        .unwrap();
    let mut pending = None;
    for _ in 0..200 {
        let status = helm.status("app").await.unwrap().unwrap();
        if status.is_pending() {
            pending = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(killed);
    let pending = pending.expect("the upgrade never showed as pending");
    assert_eq!(
        (pending.revision, pending.status.as_str()),
        (2, "pending-upgrade")
    );

    let error = helm
        .upgrade_install(&request(&packaged.archive, good.clone(), "bbbbbbbbbbbb"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("another operation"), "{error}");
    let hint = windlass_diagnostic::Diagnostic::hint(&error).unwrap();
    assert!(hint.contains("deploy status"), "{hint}");

    // Rolling back to the last deployed revision clears it.
    helm.rollback("app", 1, true, Duration::from_secs(60))
        .await
        .unwrap();
    let revision = helm
        .upgrade_install(&request(&packaged.archive, good, "bbbbbbbbbbbb"))
        .await
        .unwrap();
    assert_eq!(
        (revision.revision, revision.status.as_str()),
        (4, "deployed")
    );

    // What a killed first install needs (nothing to roll back to):
    // uninstall; uninstalling what is not there is no error.
    helm.uninstall("app", true, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(helm.status("app").await.unwrap(), None);
    helm.uninstall("app", true, Duration::from_secs(60))
        .await
        .unwrap();
}

#[test]
fn the_chart_cache_is_windlass_cache() {
    let env = Environment::from_vars([("WINDLASS_CACHE_DIR", "/c"), ("HOME", "/h")]);
    assert_eq!(chart::default_cache_dir(&env), PathBuf::from("/c"));
    let env = Environment::from_vars([("HOME", "/h")]);
    assert_eq!(
        chart::default_cache_dir(&env),
        PathBuf::from("/h/.cache/windlass")
    );
}

#[tokio::test]
async fn helm_v3_gets_its_own_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (binary, log) = spy(dir.path(), "v3.13.0", ONE_REVISION);
    let version = helm::version(&binary).await.unwrap();
    assert_eq!(version.to_string(), "v3.13.0");
    let helm =
        Helm::new(binary, None, Some("ctx".to_owned()), "ns".to_owned()).with_version(version);
    let request = UpgradeRequest {
        release: "app".to_owned(),
        archive: PathBuf::from("/charts/app-0.1.0.tgz"),
        values: Vec::new(),
        wait: true,
        timeout: Duration::from_secs(60),
        rollback_on_failure: true,
        description: String::new(),
        labels: BTreeMap::new(),
    };
    helm.upgrade_install(&request).await.unwrap();
    helm.rollback("app", 1, true, Duration::from_secs(60))
        .await
        .unwrap();
    let log = std::fs::read_to_string(log).unwrap();
    let argv: Vec<&str> = log.lines().filter(|l| l.starts_with("ARGV")).collect();
    assert!(
        argv[1].contains(" --timeout 60s --output json --wait --atomic --kube-context ctx"),
        "{}",
        argv[1]
    );
    assert!(
        argv[2].contains("rollback app 1 --timeout 60s --wait --kube-context"),
        "{}",
        argv[2]
    );
    assert!(
        !log.contains("watcher") && !log.contains("rollback-on-failure"),
        "{log}"
    );
}
