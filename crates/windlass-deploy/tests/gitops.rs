//! `windlass-deploy render`: an environment's manifests as files, with the
//! real Helm (`helm template`) and no cluster.
//!
//! - dev rendered with an image digest: the digest-pinned image and the
//!   environment's namespace in the YAML; the same bytes twice.
//! - dev's `bundle.json` promoted to staging: the same bundle id, staging's
//!   values; a tampered `bundle.json` refused (exit 2).
//! - a chart that fails `helm template` leaves the previous tree as it was.
//! - secret references refused (exit 2), naming the key, never the value,
//!   with nothing written.

#![allow(clippy::unwrap_used, reason = "the tests panic on failed setup")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, canary};

const BIN: &str = env!("CARGO_BIN_EXE_windlass-deploy");

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

const CHART: &str = "apiVersion: v2\nname: site\nversion: 0.2.0\n";

const TEMPLATE: &str = r#"{{- if .Values.explode }}{{ fail "the chart refuses to render" }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
data:
  image: {{ .Values.image.reference | quote }}
  tier: {{ .Values.tier | quote }}
  greeting: {{ .Values.greeting | quote }}
"#;

/// A project with a small chart and `dev -> staging -> prod`; `extra` is
/// appended to `windlass.toml`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join("chart/templates")).unwrap();
        std::fs::write(project.join("chart/Chart.yaml"), CHART).unwrap();
        std::fs::write(project.join("chart/templates/config.yaml"), TEMPLATE).unwrap();
        std::fs::write(project.join("chart/values.yaml"), "tier: none\n").unwrap();
        let this = Self { dir };
        this.configure(extra);
        this
    }

    fn configure(&self, extra: &str) {
        let toml = format!(
            r#"[deploy]
chart = "chart"
release = "site"
set = {{ greeting = "hello" }}

[deploy.images.app]
repository = "registry.test/app"
values-key = "image"

[deploy.environments.dev]
namespace = "site-dev"
set = {{ tier = "dev" }}

[deploy.environments.staging]
from = "dev"
namespace = "site-staging"
set = {{ tier = "staging" }}
{extra}
"#
        );
        std::fs::write(self.project().join("windlass.toml"), toml).unwrap();
    }

    fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("gitops")
    }

    fn cli(&self) -> Cli {
        Cli::new(BIN, self.dir.path())
            .current_dir(self.project())
            .env("HOME", self.dir.path())
            .env("WINDLASS_HELM", Services::load().var("WINDLASS_TEST_HELM"))
            .env("WINDLASS_CACHE_DIR", self.dir.path().join("cache"))
            .timeout(Duration::from_secs(300))
    }

    fn render(&self, args: &[&str]) -> Run {
        let out = self.out();
        self.cli()
            .args(["--json", "render"])
            .args(args)
            .arg("--out")
            .arg(&out)
            .run()
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn render_then_promote_the_rendered_bundle() {
    let project = Project::new("");
    let image = format!("app=registry.test/app@{DIGEST_A}");
    let dev = project.render(&["dev", "--image", &image]);
    assert_eq!(dev.code, 0, "{}", dev.stderr);
    let data = dev.json()["data"].clone();
    let id = data["bundle_id"].as_str().unwrap().to_owned();
    let dev_dir = project.out().join("dev");
    assert_eq!(data["env_dir"], dev_dir.to_str().unwrap());
    assert_eq!(
        data["files"],
        serde_json::json!([
            dev_dir.join("manifests.yaml").to_str().unwrap(),
            dev_dir.join("bundle.json").to_str().unwrap()
        ])
    );
    let manifests = read(&dev_dir.join("manifests.yaml"));
    assert!(
        manifests.contains(&format!("image: \"registry.test/app@{DIGEST_A}\"")),
        "{manifests}"
    );
    assert!(manifests.contains("namespace: site-dev"), "{manifests}");
    assert!(manifests.contains("tier: \"dev\""), "{manifests}");
    assert!(manifests.contains("greeting: \"hello\""), "{manifests}");
    let bundle: serde_json::Value =
        serde_json::from_str(&read(&dev_dir.join("bundle.json"))).unwrap();
    assert_eq!(bundle["id"], id.as_str());
    assert_eq!(bundle["bundle"]["images"]["app"]["digest"], DIGEST_A);

    // Deterministic: the same bytes again.
    let first = tree(&project.out());
    let again = project.render(&["dev", "--image", &image]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(tree(&project.out()) == first, "a second render differs");

    // Promotion: exactly dev's bundle, with staging's values.
    let dev_bundle = dev_dir.join("bundle.json");
    let staging = project.render(&["staging", "--bundle", dev_bundle.to_str().unwrap()]);
    assert_eq!(staging.code, 0, "{}", staging.stderr);
    assert_eq!(staging.json()["data"]["bundle_id"], id.as_str());
    let staging_dir = project.out().join("staging");
    let manifests = read(&staging_dir.join("manifests.yaml"));
    assert!(manifests.contains("namespace: site-staging"), "{manifests}");
    assert!(manifests.contains("tier: \"staging\""), "{manifests}");
    assert!(
        manifests.contains(&format!("registry.test/app@{DIGEST_A}")),
        "{manifests}"
    );
    assert_eq!(
        std::fs::read(staging_dir.join("bundle.json")).unwrap(),
        std::fs::read(&dev_bundle).unwrap()
    );

    // A bundle changed after it was rendered is refused.
    let tampered = project.dir.path().join("tampered.json");
    std::fs::write(
        &tampered,
        read(&dev_bundle).replace("\"hello\"", "\"goodbye\""),
    )
    .unwrap();
    let before = tree(&project.out());
    let refused = project.render(&["staging", "--bundle", tampered.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stdout.contains("but its content is bundle"),
        "{}",
        refused.stdout
    );
    assert!(tree(&project.out()) == before);

    // A chart that fails to render leaves the previous tree as it was.
    project.configure("\n[deploy.environments.prod]\nfrom = \"staging\"\n");
    let chart_values = project.project().join("chart/values.yaml");
    std::fs::write(&chart_values, "tier: none\nexplode: true\n").unwrap();
    let failed = project.render(&["dev", "--image", &image]);
    assert_ne!(failed.code, 0, "{}", failed.stderr);
    assert!(
        failed.stdout.contains("the chart refuses to render"),
        "{}",
        failed.stdout
    );
    assert!(
        tree(&project.out()) == before,
        "a failed render changed the tree"
    );
}

#[test]
fn secrets_are_refused_and_never_shown() {
    let secret = canary("gitops-secret");
    let project = Project::new(
        "\n[deploy.environments.prod]\nfrom = \"staging\"\nnamespace = \"site-prod\"\nsecret-values = { \"db.password\" = \"env://DB_PASSWORD\" }\n\n[deploy.environments.qa]\nset = { \"db.url\" = \"vault://secret/site/qa#url\" }\n",
    );
    let image = format!("app=registry.test/app@{DIGEST_A}");
    let out = project.out();
    let prod = project
        .cli()
        .env("DB_PASSWORD", &secret)
        .args(["render", "prod", "--image", &image, "--out"])
        .arg(&out)
        .run();
    assert_eq!(prod.code, 2, "{}", prod.stderr);
    assert!(prod.stderr.contains("`db.password`"), "{}", prod.stderr);
    assert!(prod.stderr.contains("External Secrets"), "{}", prod.stderr);
    prod.assert_no_leak(&secret);
    assert!(!out.exists(), "a refused render wrote {}", out.display());

    let qa = project
        .cli()
        .env("DB_PASSWORD", &secret)
        .args(["render", "qa", "--image", &image, "--out"])
        .arg(&out)
        .run();
    assert_eq!(qa.code, 2, "{}", qa.stderr);
    assert!(qa.stderr.contains("at `db.url`"), "{}", qa.stderr);
    qa.assert_no_leak(&secret);
    assert!(!out.exists(), "a refused render wrote {}", out.display());
}

/// An image from a local OCI layout (`oci:DIR:TAG`), as `up` takes it: the
/// manifests pin the layout's digest.
#[test]
fn an_oci_layout_image_is_pinned_by_its_digest() {
    let services = Services::load();
    let layout = services.var("WINDLASS_TEST_PYTHON_BASE_LAYOUT");
    let tag = services.var("WINDLASS_TEST_PYTHON_BASE_TAG");
    let index: serde_json::Value =
        serde_json::from_str(&read(&Path::new(layout).join("index.json"))).unwrap();
    let digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let project = Project::new("");
    let image = format!("app=oci:{}:{tag}", layout.trim_end_matches('/'));
    let dev = project.render(&["dev", "--image", &image]);
    assert_eq!(dev.code, 0, "{}", dev.stderr);
    let manifests = read(&project.out().join("dev/manifests.yaml"));
    assert!(
        manifests.contains(&format!("image: \"registry.test/app@{digest}\"")),
        "{manifests}"
    );
}
