//! `image build -o docker://REFERENCE`: the image is pushed as `--push`
//! would, through a scratch layout in the cache that is gone afterwards;
//! skopeo, as an independent client, finds the printed digest. A bare
//! reference as output, and `-o docker://` with `--push`, are refused.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]
#![allow(
    clippy::disallowed_methods,
    reason = "skopeo is the independent client the results are checked with"
)]

use std::path::Path;
use std::process::Command;

use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, assert_no_leak_in_dir, canary};

const BIN: &str = env!("CARGO_BIN_EXE_windlass-image");

fn build(dir: &Path, project: &Path, password: &str, args: &[&str]) -> Run {
    Cli::new(BIN, dir)
        .current_dir(project)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("WINDLASS_CACHE_DIR", dir.join("cache"))
        .env("REG_PASSWORD", password)
        .arg("build")
        .args(args)
        .run()
}

fn project(dir: &Path, registry: &str, user: &str) -> std::path::PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("windlass.toml"),
        format!(
            "[image.registries.\"{registry}\"]\nusername = \"{user}\"\npassword = \"env://REG_PASSWORD\"\n"
        ),
    )
    .unwrap();
    std::fs::write(project.join("hello.txt"), "hello\n").unwrap();
    project
}

#[test]
fn an_output_with_the_docker_transport_is_pushed_without_a_layout() {
    let services = Services::load();
    let registries = services.registries();
    let tools = services.tools();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let project = project(dir, &registries.auth, &registries.user);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let image = format!("{}/wltest/build-output-{nanos:x}:v1", registries.auth);
    let output = format!("docker://{image}");
    let args = [
        "--base",
        "scratch",
        "--copy",
        "hello.txt:/srv/hello.txt",
        "-o",
        &output,
        "--json",
    ];

    let run = build(dir, &project, registries.password.expose(), &args);
    assert_eq!(run.code, 0, "{run}");
    run.assert_no_leak(registries.password.expose());
    let report = run.json()["data"].clone();
    let digest = report["digest"].as_str().unwrap().to_owned();
    assert_eq!(report["output"], output.as_str(), "{report}");
    assert_eq!(
        report["pushed"]["destination"],
        format!("{}@{digest}", image.strip_suffix(":v1").unwrap()),
        "{report}"
    );
    // No layout in the project (not even the default one), and the
    // scratch layout is gone.
    assert!(!project.join("dist").exists(), "{run}");
    let scratch = dir.join("cache/image-scratch");
    assert_eq!(
        std::fs::read_dir(&scratch).map_or(0, Iterator::count),
        0,
        "{}",
        scratch.display()
    );
    // The registry serves the printed digest under the tag.
    let inspect = Command::new(&tools.skopeo)
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg("--creds")
        .arg(format!(
            "{}:{}",
            registries.user,
            registries.password.expose()
        ))
        .arg(&output)
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{inspect:?}");
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), digest);

    // The other commands take the same `docker://` spelling of a
    // registry reference, as skopeo does.
    let tool = |args: &[&str]| {
        Cli::new(BIN, dir)
            .current_dir(&project)
            .env("WINDLASS_CACHE_DIR", dir.join("cache"))
            .env("REG_PASSWORD", registries.password.expose())
            .args(args)
            .run()
    };
    let run = tool(&["inspect", "--json", &output]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.json()["data"]["digest"], digest.as_str(), "{run}");
    let run = tool(&["tag", &output, "v2"]);
    assert_eq!(run.code, 0, "{run}");
    let copied = output.replace(":v1", "-copy:v1");
    let run = tool(&["copy", &output.replace(":v1", ":v2"), &copied]);
    assert_eq!(run.code, 0, "{run}");
    let run = tool(&["inspect", "--json", &copied]);
    assert_eq!(run.json()["data"]["digest"], digest.as_str(), "{run}");
    run.assert_no_leak(registries.password.expose());

    // Human output: the digest, then the pinned reference, as `--push`.
    let run = build(dir, &project, registries.password.expose(), &args[..6]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.stdout,
        format!(
            "{digest}\n{}@{digest}\n",
            image.strip_suffix(":v1").unwrap()
        ),
        "{run}"
    );

    // A canary password: refused by the registry (exit 3), shown nowhere.
    let password = canary("image-build-output");
    let run = build(dir, &project, &password, &args);
    assert_eq!(run.code, 3, "{run}");
    run.assert_no_leak(&password);
    assert_no_leak_in_dir(dir, &password);
}

#[test]
fn outputs_that_are_refused_read_like_this() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let project = project(dir, "127.0.0.1:5000", "ci");
    for (name, args) in [
        (
            "bare_registry_reference",
            &["--base", "scratch", "-o", "127.0.0.1:5000/job:v1"][..],
        ),
        (
            "bare_directory",
            &["--base", "scratch", "-o", "dist/image"][..],
        ),
        (
            "docker_output_and_push",
            &[
                "--base",
                "scratch",
                "-o",
                "docker://127.0.0.1:5000/job:v1",
                "--push",
                "127.0.0.1:5000/job:v2",
            ][..],
        ),
    ] {
        let run = build(dir, &project, "unused", args).replace(dir, "[DIR]");
        assert_eq!(run.code, 2, "{run}");
        insta::with_settings!({filters => windlass_testkit::cli::filters()}, {
            insta::assert_snapshot!(name, run);
        });
    }
    assert!(!project.join("dist").exists());
}
