//! `windlass verify` against a release tree the test makes (a static
//! index, an OCI layout, a GitOps directory) and against the harness's
//! registry and pypiserver: every link holds, then each link is broken
//! alone and exactly that link is reported; an unreachable registry, a
//! manifest edited by hand, and a canary index password that must never
//! show. Attaching the manifest as a referrer (fallback tag on the
//! distribution registry, an index entry in a layout) is checked with
//! skopeo as an independent client.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]
#![allow(
    clippy::disallowed_methods,
    reason = "skopeo and twine are the independent clients the results are checked with"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::image::Descriptor;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use windlass_config::Environment;
use windlass_http::HttpConfig;
use windlass_image::registry::{Client, ClientConfig, credentials::CredentialFiles};
use windlass_image::{Digest, Layout, Reference};
use windlass_output::{Diagnostic, ExitStatus, OutputArgs, Printer, testing::Capture};
use windlass_release::attach::{self, ARTIFACT_TYPE, ImageTarget, Via};
use windlass_release::manifest::{
    Content, DeployRecord, Distribution, EnvironmentRecord, EnvironmentTarget, Image, Manifest,
    Source,
};
use windlass_release::verify::{
    self, Link, LinkKind, LinkStatus, ManifestError, VerifyOptions, VerifyReport,
};
use windlass_testkit::{Services, canary};

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const WHEEL: &str = "sentiment_lab-0.4.0-py3-none-any.whl";

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// An image (one layer, a config) written into `layout`; its descriptor.
fn write_image(layout: &Layout, seed: &str) -> Descriptor {
    let (layer, layer_size) = layout
        .write_blob(format!("layer {seed}").as_bytes())
        .unwrap();
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": [layer.to_string()]},
    });
    let (config, config_size) = layout
        .write_blob(&serde_json::to_vec(&config).unwrap())
        .unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.to_string(),
            "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer.to_string(),
            "size": layer_size,
        }],
    });
    let (digest, size) = layout
        .write_blob(&serde_json::to_vec(&manifest).unwrap())
        .unwrap();
    windlass_image::registry::descriptor(
        windlass_image::registry::media_type(MANIFEST_TYPE),
        &digest,
        size,
    )
}

fn bundle(values: serde_json::Value) -> windlass_deploy::Bundle {
    windlass_deploy::Bundle {
        chart: windlass_deploy::bundle::ChartRef {
            name: "ml-job".into(),
            version: "0.1.0".into(),
            location: "chart".into(),
            digest: format!("sha256:{}", "d".repeat(64)),
        },
        images: BTreeMap::new(),
        values,
        source: None,
    }
}

/// A release made by the test under `root`: `simple/` (a static index
/// with the wheel), `oci/` (a layout with the image tagged `0.4.0` and
/// `latest`), `gitops/dev/bundle.json`, and `release.json` naming them
/// relative to itself.
struct LocalRelease {
    root: PathBuf,
    manifest: Manifest,
    image: Descriptor,
}

impl LocalRelease {
    fn make(root: &Path) -> Self {
        let wheel = b"a wheel's bytes".to_vec();
        let sha = hex_sha256(&wheel);
        let project = root.join("simple/sentiment-lab");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join(WHEEL), &wheel).unwrap();
        std::fs::write(
            project.join("index.html"),
            format!("<!DOCTYPE html><html><body><a href=\"{WHEEL}#sha256={sha}\">{WHEEL}</a></body></html>\n"),
        )
        .unwrap();

        let layout = Layout::open_or_create(&root.join("oci")).unwrap();
        let image = write_image(&layout, "release");
        layout.set_tag(image.clone(), Some("0.4.0")).unwrap();
        layout.set_tag(image.clone(), Some("latest")).unwrap();

        let bundle = bundle(json!({"replicas": 1}));
        std::fs::create_dir_all(root.join("gitops/dev")).unwrap();
        std::fs::write(
            root.join("gitops/dev/bundle.json"),
            serde_json::to_vec_pretty(&json!({"id": bundle.id(), "bundle": bundle})).unwrap(),
        )
        .unwrap();

        let mut manifest = Manifest::new(Content {
            project: "sentiment-lab".into(),
            version: "0.4.0".into(),
            source: Source {
                repository: None,
                commit: "a".repeat(40),
                tag: Some("v0.4.0".into()),
            },
            distributions: vec![Distribution {
                filename: WHEEL.into(),
                sha256: sha,
                size: wheel.len() as u64,
                index: "simple/".into(),
            }],
            images: vec![Image {
                name: "ml-job".into(),
                repository: "oci:oci".into(),
                digest: image.digest().to_string(),
                tags: vec!["0.4.0".into(), "latest".into()],
            }],
            deploy: Some(DeployRecord {
                chart: "ml-job".into(),
                chart_version: "0.1.0".into(),
                chart_digest: format!("sha256:{}", "d".repeat(64)),
                bundle: bundle.id().as_str().to_owned(),
            }),
        });
        manifest.environments.push(EnvironmentRecord {
            name: "dev".into(),
            bundle: bundle.id().as_str().to_owned(),
            at: "2026-11-30T12:00:00Z".into(),
            target: EnvironmentTarget::Gitops {
                dir: "gitops/dev".into(),
            },
        });
        let release = Self {
            root: root.to_owned(),
            manifest,
            image,
        };
        release.write();
        release
    }

    fn path(&self) -> PathBuf {
        self.root.join("release.json")
    }

    fn write(&self) {
        std::fs::write(
            self.path(),
            serde_json::to_vec_pretty(&self.manifest).unwrap(),
        )
        .unwrap();
    }

    fn layout(&self) -> Layout {
        Layout::open(&self.root.join("oci")).unwrap()
    }
}

fn options(dir: &Path) -> VerifyOptions {
    let mut options =
        VerifyOptions::anonymous(Environment::from_vars::<_, String, String>([]), dir);
    let http = HttpConfig {
        max_retries: 0,
        ..HttpConfig::default()
    };
    options.http = http.clone();
    options.registry = Client::new(ClientConfig {
        http,
        hosts: BTreeMap::new(),
        files: CredentialFiles::new(Vec::new(), dir),
        jobs: 2,
    });
    options
}

async fn run(path: &Path, options: &VerifyOptions) -> VerifyReport {
    verify::run(path, options).await.unwrap()
}

/// `(kind, name, status word)` of every link, for assertions that name
/// exactly which link broke.
fn statuses(links: &[Link]) -> Vec<(LinkKind, String, &'static str)> {
    links
        .iter()
        .map(|l| {
            let word = match l.status {
                LinkStatus::Holds => "holds",
                LinkStatus::Broken { .. } => "broken",
                LinkStatus::Unreachable { .. } => "unreachable",
            };
            (l.what, l.name.clone(), word)
        })
        .collect()
}

fn expect_all_hold_but(report: &VerifyReport, broken: &[&str]) {
    for (kind, name, word) in statuses(&report.links) {
        let expected = if broken.contains(&name.as_str()) {
            "broken"
        } else {
            "holds"
        };
        assert_eq!(word, expected, "{kind:?} {name}: {:#?}", report.links);
    }
    let expected = if broken.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    assert_eq!(report.status(), expected);
}

fn image_link(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap();
    format!("ml-job@{}", &hex[..12])
}

fn capture_printer(json: bool) -> (Printer, Capture, Capture) {
    let (out, err) = (Capture::new(), Capture::new());
    let args = OutputArgs {
        json,
        ..OutputArgs::default()
    };
    let printer = Printer::builder(&args, "verify")
        .stdout(out.clone())
        .stderr(err.clone())
        .color(false)
        .classifier(verify::classifier())
        .build();
    (printer, out, err)
}

/// A printer as in a GitHub Actions step whose summary file is `summary`.
fn github_printer(json: bool, summary: &Path) -> (Printer, Capture, Capture) {
    let vars = [
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
    ];
    let github = windlass_output::github::GitHub::from_env(
        |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()),
        Capture::new(),
    );
    let (out, err) = (Capture::new(), Capture::new());
    let args = OutputArgs {
        json,
        ..OutputArgs::default()
    };
    let printer = Printer::builder(&args, "verify")
        .stdout(out.clone())
        .stderr(err.clone())
        .color(false)
        .classifier(verify::classifier())
        .github(github)
        .build();
    (printer, out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_release_holds_and_each_broken_link_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let release = LocalRelease::make(tmp.path());
    let options = options(tmp.path());
    let before = std::fs::read(release.path()).unwrap();

    let report = run(&release.path(), &options).await;
    assert_eq!(
        statuses(&report.links)
            .iter()
            .map(|(k, n, _)| (*k, n.clone()))
            .collect::<Vec<_>>(),
        vec![
            (LinkKind::Distribution, WHEEL.to_owned()),
            (LinkKind::Image, image_link(release.image.digest().as_ref())),
            (LinkKind::Tag, "ml-job:0.4.0".to_owned()),
            (LinkKind::Tag, "ml-job:latest".to_owned()),
            (LinkKind::Environment, "dev".to_owned()),
        ]
    );
    expect_all_hold_but(&report, &[]);
    // The human table and the manifest, untouched.
    let mut human = Vec::new();
    windlass_output::Outcome::render_human(&report, &mut human).unwrap();
    let human = String::from_utf8(human).unwrap();
    assert!(
        human.contains("distribution sentiment_lab-0.4.0-py3-none-any.whl"),
        "{human}"
    );
    assert!(human.contains("5 hold, 0 broken, 0 unreachable"), "{human}");
    assert_eq!(std::fs::read(release.path()).unwrap(), before);

    // A wrong byte in the wheel: the distribution only.
    let wheel = tmp.path().join("simple/sentiment-lab").join(WHEEL);
    let good = std::fs::read(&wheel).unwrap();
    let mut bad = good.clone();
    bad[0] ^= 1;
    std::fs::write(&wheel, &bad).unwrap();
    let report = run(&release.path(), &options).await;
    expect_all_hold_but(&report, &[WHEEL]);
    assert!(
        matches!(&report.links[0].status, LinkStatus::Broken { why } if why.contains("hashes to")),
        "{:?}",
        report.links[0]
    );
    std::fs::write(&wheel, &good).unwrap();

    // A moved tag: that tag only.
    let layout = release.layout();
    let other = write_image(&layout, "other");
    layout.set_tag(other.clone(), Some("latest")).unwrap();
    let report = run(&release.path(), &options).await;
    expect_all_hold_but(&report, &["ml-job:latest"]);
    assert!(
        matches!(&report.links[3].status, LinkStatus::Broken { why } if why.contains(other.digest().as_ref())),
        "{:?}",
        report.links[3]
    );
    layout
        .set_tag(release.image.clone(), Some("latest"))
        .unwrap();

    // A missing blob: the image, not its tags (they still point at it).
    let view: serde_json::Value = serde_json::from_slice(
        &layout
            .read_blob(&Digest::try_from(release.image.digest()).unwrap(), 1 << 20)
            .unwrap(),
    )
    .unwrap();
    let layer: Digest = view["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let blob = layout.blob_path(&layer);
    let saved = std::fs::read(&blob).unwrap();
    std::fs::remove_file(&blob).unwrap();
    let report = run(&release.path(), &options).await;
    let image = image_link(release.image.digest().as_ref());
    expect_all_hold_but(&report, &[&image]);
    assert!(
        matches!(&report.links[1].status, LinkStatus::Broken { why } if why.contains("missing")),
        "{:?}",
        report.links[1]
    );
    std::fs::write(&blob, &saved).unwrap();

    // Another bundle in the GitOps directory: the environment only.
    std::fs::write(
        tmp.path().join("gitops/dev/bundle.json"),
        serde_json::to_vec(&{
            let other = bundle(json!({"replicas": 2}));
            json!({"id": other.id(), "bundle": other})
        })
        .unwrap(),
    )
    .unwrap();
    let report = run(&release.path(), &options).await;
    expect_all_hold_but(&report, &["dev"]);

    // The manifest was only read, every time.
    assert_eq!(std::fs::read(release.path()).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_is_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let mut release = LocalRelease::make(tmp.path());
    // Port 1 on loopback: nothing listens there.
    release.manifest.content.images[0].repository = "127.0.0.1:1/sentiment/ml-job".into();
    release.manifest = Manifest {
        environments: release.manifest.environments.clone(),
        ..Manifest::new(release.manifest.content.clone())
    };
    release.write();
    let report = run(&release.path(), &options(tmp.path())).await;
    let words: Vec<&str> = statuses(&report.links).iter().map(|s| s.2).collect();
    assert_eq!(
        words,
        [
            "holds",
            "unreachable",
            "unreachable",
            "unreachable",
            "holds"
        ],
        "{:#?}",
        report.links
    );
    assert_eq!(report.status(), ExitStatus::Remote);
    assert_eq!(report.status().code(), 3);
    // The `--json` result says so too.
    let (printer, out, _) = capture_printer(true);
    assert_eq!(printer.report(&report).unwrap(), ExitStatus::Remote);
    let doc: serde_json::Value =
        serde_json::from_str(out.contents().lines().last().unwrap()).unwrap();
    assert_eq!(doc["exit_code"], 3, "{doc:#}");
    assert_eq!(doc["data"]["links"][1]["status"], "unreachable", "{doc:#}");
    assert!(
        doc["data"]["links"][1]["why"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{doc:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_manifest_is_exit_2_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let release = LocalRelease::make(tmp.path());
    // Another version, the id left as it was.
    let mut edited = release.manifest.clone();
    edited.content.version = "0.4.1".into();
    std::fs::write(release.path(), serde_json::to_vec(&edited).unwrap()).unwrap();
    let error = verify::run(&release.path(), &options(tmp.path()))
        .await
        .unwrap_err();
    assert!(matches!(error, ManifestError::Id { .. }), "{error}");
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    let message = error.to_string();
    assert!(
        message.contains("release.json") && message.contains("`id`"),
        "{message}"
    );

    // Another schema; then not JSON at all.
    let mut value = serde_json::to_value(&release.manifest).unwrap();
    value["schema"] = json!("windlass.release/9");
    std::fs::write(release.path(), serde_json::to_vec(&value).unwrap()).unwrap();
    let error = verify::run(&release.path(), &options(tmp.path()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("`schema`"), "{error}");
    std::fs::write(release.path(), b"{\"schema\": ").unwrap();
    let error = verify::run(&release.path(), &options(tmp.path()))
        .await
        .unwrap_err();
    assert!(matches!(error, ManifestError::Malformed { .. }), "{error}");

    // Through the printer: exit 2, the JSON error names the file.
    let (printer, out, _err) = capture_printer(true);
    let status = printer.report_error(&anyhow::Error::new(error));
    assert_eq!(status, ExitStatus::Usage);
    assert!(
        out.contents().contains("release.json"),
        "{}",
        out.contents()
    );
}

/// Pushes the layout image `image` to `reference` (its tag written last).
async fn push(client: &Client, layout: &Layout, image: &Descriptor, reference: &Reference) {
    let (printer, _, _) = capture_printer(false);
    windlass_image::registry::push_from_layout(client, layout, image, reference, &printer)
        .await
        .unwrap();
}

fn skopeo(args: &[&str]) -> String {
    let tools = Services::load().tools();
    let output = Command::new(&tools.skopeo)
        .args(["--insecure-policy"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines, reason = "one scenario, step by step")]
async fn a_registry_image_holds_and_carries_the_manifest_as_a_referrer() {
    let registries = Services::load().registries();
    let tmp = tempfile::tempdir().unwrap();
    let mut release = LocalRelease::make(tmp.path());
    let options = options(tmp.path());
    let client = options.registry.clone();
    let repository = format!("{}/{}", registries.open, unique("release-verify"));
    let layout = release.layout();
    for tag in ["0.4.0", "latest"] {
        let reference: Reference = format!("{repository}:{tag}").parse().unwrap();
        push(&client, &layout, &release.image, &reference).await;
    }
    release.manifest.content.images[0]
        .repository
        .clone_from(&repository);
    release.manifest = Manifest {
        environments: release.manifest.environments.clone(),
        ..Manifest::new(release.manifest.content.clone())
    };
    release.write();
    let report = run(&release.path(), &options).await;
    expect_all_hold_but(&report, &[]);

    // The SBOM windlass-image attaches, then the manifest, twice.
    let image_ref: Reference = format!("{repository}@{}", release.image.digest())
        .parse()
        .unwrap();
    let subject = Digest::try_from(release.image.digest()).unwrap();
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#;
    windlass_image::registry::attach_referrer(
        &client,
        &image_ref,
        &release.image,
        "application/vnd.cyclonedx+json",
        sbom,
    )
    .await
    .unwrap();
    let inspect = |tag: &str| {
        skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{repository}:{tag}"),
        ])
    };
    let raw_before = inspect("0.4.0");
    let target = ImageTarget::of(&release.manifest.content.images[0], tmp.path()).unwrap();
    let first = attach::attach(&release.manifest, &target, &client)
        .await
        .unwrap();
    assert_eq!(first.via, Via::FallbackTag(subject.referrers_tag()));
    assert!(first.new);
    let second = attach::attach(&release.manifest, &target, &client)
        .await
        .unwrap();
    assert!(!second.new, "attaching again wrote something");
    assert_eq!(second.digest, first.digest);

    // The fallback tag's index, read by skopeo: the SBOM and the manifest.
    let fallback: serde_json::Value =
        serde_json::from_str(&inspect(&subject.referrers_tag())).unwrap();
    let entries = fallback["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{fallback:#}");
    let types: Vec<&str> = entries
        .iter()
        .map(|e| e["artifactType"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"application/vnd.cyclonedx+json"),
        "{types:?}"
    );
    let ours = entries
        .iter()
        .find(|e| e["artifactType"] == ARTIFACT_TYPE)
        .unwrap();
    assert_eq!(ours["digest"], first.digest);
    assert_eq!(
        ours["annotations"][attach::ID_ANNOTATION],
        release.manifest.id.as_str()
    );
    assert_eq!(ours["annotations"][attach::VERSION_ANNOTATION], "0.4.0");
    // The artifact's one layer is the manifest's JSON.
    let artifact: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repository}@{}", first.digest),
    ]))
    .unwrap();
    assert_eq!(artifact["subject"]["digest"], subject.to_string());
    assert_eq!(
        artifact["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(artifact["layers"][0]["mediaType"], ARTIFACT_TYPE);
    assert_eq!(
        artifact["layers"][0]["digest"],
        format!(
            "sha256:{}",
            hex_sha256(&attach::manifest_bytes(&release.manifest))
        )
    );
    // The image itself is unchanged.
    assert_eq!(inspect("0.4.0"), raw_before);
    let referrers = client
        .repo(&image_ref)
        .await
        .unwrap()
        .referrers(&subject)
        .await
        .unwrap();
    assert_eq!(referrers.len(), 2);

    // A moved tag on the registry: that tag only.
    let other = write_image(&layout, "moved");
    let latest: Reference = format!("{repository}:latest").parse().unwrap();
    push(&client, &layout, &other, &latest).await;
    let report = run(&release.path(), &options).await;
    expect_all_hold_but(&report, &["ml-job:latest"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_image_carries_the_manifest_and_skopeo_still_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let release = LocalRelease::make(tmp.path());
    let oci = format!("oci:{}:0.4.0", tmp.path().join("oci").display());
    let before = skopeo(&["inspect", "--raw", &oci]);
    let target = ImageTarget::of(&release.manifest.content.images[0], tmp.path()).unwrap();
    let client = options(tmp.path()).registry;
    let first = attach::attach(&release.manifest, &target, &client)
        .await
        .unwrap();
    assert_eq!(first.via, Via::Layout);
    assert!(first.new);
    let second = attach::attach(&release.manifest, &target, &client)
        .await
        .unwrap();
    assert!(!second.new);
    let layout = release.layout();
    let entries = layout.index().unwrap().manifests().clone();
    // The image under its two tags, and the artifact once.
    assert_eq!(entries.len(), 3, "{entries:#?}");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.digest().to_string() == first.digest)
            .count(),
        1
    );
    assert_eq!(skopeo(&["inspect", "--raw", &oci]), before);
    skopeo(&["inspect", &oci]);
    // The layout's referrers of the image list it.
    let source = windlass_image::registry::transfer::Source::Layout(layout);
    let referrers = source
        .referrers(&Digest::try_from(release.image.digest()).unwrap())
        .await
        .unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(
        referrers[0].artifact_type().as_ref().unwrap().to_string(),
        ARTIFACT_TYPE
    );
    // And the release still verifies.
    let report = run(&release.path(), &options(tmp.path())).await;
    expect_all_hold_but(&report, &[]);
}

/// Uploads a fixture wheel to the authenticated pypiserver (twine, the
/// password in its environment) unless an earlier run did; returns its
/// file name, sha256 and size.
async fn upload_fixture(server: &windlass_testkit::PypiServer) -> (String, String, u64) {
    let dists = PathBuf::from(Services::load().var("WINDLASS_TEST_DISTS_DIR"));
    let name = "six-1.17.0-py2.py3-none-any.whl";
    let path = dists.join(name);
    let bytes = std::fs::read(&path).unwrap();
    let http = windlass_http::HttpClient::new(&HttpConfig::default()).unwrap();
    let simple = windlass_redact::RedactedUrl::new(server.simple_url().parse().unwrap());
    let listed = windlass_pypi::simple::lookup(
        &http,
        &windlass_pypi::simple::project_url(&simple, "six"),
        None,
        windlass_http::Retries::Here,
    )
    .await
    .unwrap();
    if listed.files.contains_key(name) {
        return (name.to_owned(), hex_sha256(&bytes), bytes.len() as u64);
    }
    let (user, password) = server.auth.clone().unwrap();
    let tools = Services::load().tools();
    let output = Command::new(&tools.twine)
        .args(["upload", "--non-interactive", "--disable-progress-bar"])
        .args(["--repository-url", &server.upload_url(), "-u", &user])
        .arg(&path)
        .env("TWINE_PASSWORD", password.expose())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "twine: {said}");
    (name.to_owned(), hex_sha256(&bytes), bytes.len() as u64)
}

/// `windlass verify PATH` with the `windlass.toml` of `dir` and no
/// `.pypirc`.
fn verify_cli(dir: &Path, path: &Path, json: bool) -> verify::VerifyCli {
    verify::VerifyCli {
        output: OutputArgs {
            json,
            ..OutputArgs::default()
        },
        config: Some(dir.join("windlass.toml")),
        args: verify::VerifyArgs {
            manifest: path.to_owned(),
            no_credentials: false,
            pypirc: Some(dir.join("no.pypirc")),
            kubeconfig: None,
            jobs: 2,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_password_never_shows() {
    let server = Services::load().pypiserver_auth();
    let (name, sha256, size) = upload_fixture(&server).await;
    let tmp = tempfile::tempdir().unwrap();
    let secret = canary("verify-index-password");
    std::fs::write(tmp.path().join("index-password"), &secret).unwrap();
    std::fs::write(
        tmp.path().join("windlass.toml"),
        format!(
            "[wheel.repositories.team]\nurl = \"{}\"\nsimple-url = \"{}\"\nusername = \"reader\"\npassword = \"file://index-password\"\n",
            server.upload_url(),
            server.simple_url()
        ),
    )
    .unwrap();
    let manifest = Manifest::new(Content {
        project: "six".into(),
        version: "1.17.0".into(),
        source: Source {
            repository: None,
            commit: "b".repeat(40),
            tag: None,
        },
        distributions: vec![
            Distribution {
                filename: name.clone(),
                sha256,
                size,
                index: server.simple_url(),
            },
            // Not on the index: broken, and its error must not carry the
            // password either.
            Distribution {
                filename: "six-9.9.9-py2.py3-none-any.whl".into(),
                sha256: "0".repeat(64),
                size: 1,
                index: server.simple_url(),
            },
        ],
        images: vec![],
        deploy: None,
    });
    let path = tmp.path().join("release.json");
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    for json in [false, true] {
        let cli = verify_cli(tmp.path(), &path, json);
        // In GitHub Actions: the step summary gets the table too.
        let summary = tmp.path().join(format!("summary-{json}.md"));
        let (printer, out, err) = github_printer(json, &summary);
        let report = verify::run_cli(&cli, &printer).await.unwrap();
        let summary = std::fs::read_to_string(&summary).unwrap();
        assert!(
            summary.contains("| distribution six-1.17.0-py2.py3-none-any.whl |"),
            "{summary}"
        );
        assert!(summary.contains("**broken**"), "{summary}");
        let status = printer.report(&report).unwrap();
        assert_eq!(status, ExitStatus::Failure);
        let words: Vec<&str> = statuses(&report.links).iter().map(|s| s.2).collect();
        assert_eq!(words, ["holds", "broken"], "{:#?}", report.links);
        let all = format!(
            "{}{}{}{summary}",
            out.contents(),
            err.contents(),
            serde_json::to_string(&report).unwrap()
        );
        windlass_testkit::assert_no_leak(all.as_bytes(), &secret);
        if json {
            let doc: serde_json::Value =
                serde_json::from_str(out.contents().lines().last().unwrap()).unwrap();
            assert_eq!(doc["data"]["broken"], 1, "{doc:#}");
        }
    }

    // The reference is resolved (a missing file is an error naming it);
    // `--no-credentials` looks nothing up.
    std::fs::remove_file(tmp.path().join("index-password")).unwrap();
    let mut cli = verify_cli(tmp.path(), &path, false);
    let (printer, _, _) = capture_printer(false);
    let error = verify::run_cli(&cli, &printer).await.unwrap_err();
    assert!(format!("{error:#}").contains("index-password"), "{error:#}");
    assert_eq!(printer.report_error(&error), ExitStatus::Usage);
    cli.args.no_credentials = true;
    let report = verify::run_cli(&cli, &printer).await.unwrap();
    assert_eq!(report.holds, 1);
}

/// A local index named by a `file:` URL (as `wheel publish --repository
/// file:///...` writes it) holds as a relative path does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_url_index_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let mut release = LocalRelease::make(tmp.path());
    let url = url::Url::from_directory_path(tmp.path().join("simple")).unwrap();
    release.manifest.content.distributions[0].index = url.to_string();
    release.manifest = Manifest {
        environments: release.manifest.environments.clone(),
        ..Manifest::new(release.manifest.content.clone())
    };
    release.write();
    let report = run(&release.path(), &options(tmp.path())).await;
    expect_all_hold_but(&report, &[]);
    // A page linking a file outside the index.
    let page = tmp.path().join("simple/sentiment-lab/index.html");
    let good = std::fs::read_to_string(&page).unwrap();
    std::fs::write(
        &page,
        good.replace(&format!("href=\"{WHEEL}"), &format!("href=\"../../{WHEEL}")),
    )
    .unwrap();
    std::fs::copy(
        tmp.path().join("simple/sentiment-lab").join(WHEEL),
        tmp.path().join(WHEEL),
    )
    .unwrap();
    let report = run(&release.path(), &options(tmp.path())).await;
    expect_all_hold_but(&report, &[WHEEL]);
    assert!(
        matches!(&report.links[0].status, LinkStatus::Broken { why } if why.contains("outside")),
        "{:?}",
        report.links[0]
    );
    std::fs::write(&page, good).unwrap();
    // A project the index has no page for.
    std::fs::remove_file(tmp.path().join("simple/sentiment-lab/index.html")).unwrap();
    let report = run(&release.path(), &options(tmp.path())).await;
    expect_all_hold_but(&report, &[WHEEL]);
}

/// An environment on the test cluster: its ledger's live promotion is the
/// bundle (holds), another bundle (broken), or the context is unknown
/// (unreachable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_environment_runs_the_bundle_its_ledger_says() {
    use windlass_deploy::kube::ledger::{Event, Ledger, NewEntry};
    use windlass_deploy::kube::{Cluster, Target};
    let kube = Services::load().kube();
    let namespace = kube.fresh_namespace("release-verify");
    let cluster = Cluster::connect(
        &Target {
            kubeconfig: Some(kube.kubeconfig.clone()),
            context: Some(kube.context.clone()),
            namespace: Some(namespace.clone()),
        },
        &Environment::default(),
    )
    .await
    .unwrap();
    let live = bundle(json!({"replicas": 3}));
    let ledger = Ledger::new(&cluster, "staging");
    let started = ledger
        .append(NewEntry {
            actor: "test".into(),
            promotion: None,
            bundle: live.id(),
            event: Event::Started {
                bundle: Box::new(live.clone()),
                from: None,
                strategy: windlass_deploy::config::StrategyKind::Rolling,
            },
        })
        .await
        .unwrap();
    ledger
        .append(NewEntry {
            actor: "test".into(),
            promotion: Some(started.seq),
            bundle: live.id(),
            event: Event::Succeeded {
                revision: 1,
                checks: Vec::new(),
            },
        })
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let mut release = LocalRelease::make(tmp.path());
    let record = |bundle: &windlass_deploy::Bundle, context: &str| EnvironmentRecord {
        name: "staging".into(),
        bundle: bundle.id().as_str().to_owned(),
        at: "2026-11-30T12:00:00Z".into(),
        target: EnvironmentTarget::Cluster {
            context: context.to_owned(),
            namespace: namespace.clone(),
            release: "ml-job".into(),
            revision: Some(1),
        },
    };
    let mut options = options(tmp.path());
    options.kubeconfig = Some(kube.kubeconfig.clone());
    let cases = [
        (record(&live, &kube.context), "holds"),
        (
            record(&bundle(json!({"replicas": 4})), &kube.context),
            "broken",
        ),
        (record(&live, "no-such-context"), "unreachable"),
    ];
    for (env, expected) in cases {
        release.manifest.environments = vec![env];
        release.write();
        let report = run(&release.path(), &options).await;
        let last = report.links.last().unwrap();
        assert_eq!(last.what, LinkKind::Environment);
        assert_eq!(
            statuses(std::slice::from_ref(last))[0].2,
            expected,
            "{last:?}"
        );
        // The cluster's token never shows.
        windlass_testkit::assert_no_leak(
            serde_json::to_string(&report).unwrap().as_bytes(),
            kube.token.expose(),
        );
    }
}
