//! `image build` with a registry base and `--push`: the base is pulled from
//! the open registry, the image pushed to the basic-auth registry with the
//! password of a secret reference in `windlass.toml`; skopeo, as an
//! independent client, finds the same digest there. A canary password is
//! refused (exit 3) and appears nowhere.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]
#![allow(
    clippy::disallowed_methods,
    reason = "skopeo is the independent client the results are checked with"
)]

use std::path::Path;
use std::process::Command;

use windlass_testkit::cli::Run;
use windlass_testkit::{Services, assert_no_leak_in_dir, canary};

mod support;

fn build(dir: &Path, project: &Path, password: &str, args: &[&str]) -> Run {
    support::image_build(dir, project)
        .env("SOURCE_DATE_EPOCH", support::EPOCH)
        .env("REG_PASSWORD", password)
        .args(args)
        .run()
}

#[test]
fn a_registry_base_built_on_and_pushed_with_a_secret_reference() {
    let services = Services::load();
    let registries = services.registries();
    let base = services.python_base();
    let tools = services.tools();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let project = support::auth_registry_project(dir, &registries);
    std::fs::write(project.join("hello.txt"), "hello\n").unwrap();
    let image = format!("{}/{}:v1", registries.auth, support::unique("build-push"));
    let args = [
        "--base",
        &base.registry_ref,
        "--copy",
        "hello.txt:/srv/hello.txt",
        "-o",
        "oci:out:v1",
        "--push",
        &image,
    ];

    let run = build(dir, &project, registries.password.expose(), &args);
    assert_eq!(run.code, 0, "{run}");
    let mut lines = run.stdout.lines();
    let digest = lines.next().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{run}");
    let pushed = lines.next().unwrap();
    assert_eq!(
        pushed,
        format!(
            "{}@{digest}",
            image.strip_suffix(":v1").unwrap_or(image.as_str())
        ),
        "{run}"
    );
    run.assert_no_leak(registries.password.expose());
    // The registry serves the same manifest under the tag.
    let inspect = Command::new(&tools.skopeo)
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg("--creds")
        .arg(format!(
            "{}:{}",
            registries.user,
            registries.password.expose()
        ))
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{inspect:?}");
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), digest);
    // The base is pinned by the digest the open registry serves.
    let base_digest = Command::new(&tools.skopeo)
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{}", base.registry_ref))
        .output()
        .unwrap();
    let manifest = support::read_json(&project.join("out"), &digest);
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.base.digest"],
        String::from_utf8_lossy(&base_digest.stdout).trim(),
        "{manifest}"
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.base.name"],
        base.registry_ref
    );

    // A wrong password, a canary: the registry refuses it, exit 3, and it
    // shows nowhere.
    let secret = canary("build-push-password");
    let run = build(dir, &project, &secret, &args);
    assert_eq!(run.code, 3, "{run}");
    run.assert_no_leak(&secret);
    let run = build(dir, &project, &secret, &[&args[..], &["--json"]].concat());
    assert_eq!(run.code, 3, "{run}");
    run.assert_no_leak(&secret);
    assert_no_leak_in_dir(dir, &secret);
}
