//! The README's "Ship it as an image", run as written: the example project
//! goes from source to a running job container. `windlass wheel build` and
//! `windlass wheel publish` put `sentiment-lab` on a stock pypiserver (the
//! quick start's state), then the commands of the section's second block run
//! through `bash -e`: `windlass image build` of the lecture's Containerfile
//! on the Python base in the test registry, `windlass image push`, and
//! `podman run`, whose output is the job's.
//!
//! What differs from a reader's terminal, and only this: the first block
//! (a registry and the base image copied from Docker Hub) is what the test
//! services already provide; the index and registry listen where the
//! services put them; the pushed repository is the test's own; `podman`
//! gets the flags this machine needs (runc, cgroupfs, no network); and the
//! index URL carries a canary password that must appear nowhere.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test fails loudly on the first surprise"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the README's commands as a user's shell would"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::{env, fs};

use windlass_testkit::{Services, StockPypiserver, assert_no_leak, assert_no_leak_in_dir, canary};

mod readme;

/// Runs `windlass ARGS` in `dir` with `envs`; panics unless it succeeds.
fn windlass(dir: &Path, envs: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> String {
    let output = Command::new(assert_cmd::cargo::cargo_bin("windlass"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", env::var_os("PATH").unwrap())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "windlass {args:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn readme_ships_the_job_as_an_image() {
    let root = readme::workspace_root();
    let blocks = readme::section_blocks("Ship it as an image");
    assert_eq!(blocks.len(), 2, "two sh blocks: {blocks:?}");
    let steps = &blocks[1];
    for command in ["windlass image build", "windlass image push", "podman run"] {
        assert!(
            steps.iter().any(|line| line.starts_with(command)),
            "the second block runs `{command}`: {steps:?}"
        );
    }

    let services = Services::load();
    let registries = services.registries();
    let base = services.python_base();
    let tools = services.tools();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().canonicalize().unwrap();
    let cache = home_path.join("cache");
    let common: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("HOME", home_path.as_os_str()),
        ("NO_COLOR", "1".as_ref()),
        ("WINDLASS_CACHE_DIR", cache.as_os_str()),
        ("WINDLASS_PYTHON", tools.python.as_os_str()),
        ("PIP_DISABLE_PIP_VERSION_CHECK", "1".as_ref()),
    ];

    // The quick start's state: the project's wheel, built and published.
    let index = StockPypiserver::start(
        &services,
        &home_path.join("packages"),
        Some("http://127.0.0.1:9/simple/"),
    );
    let project = home_path.join("sentiment-lab");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(root.join("examples/ml-project"))
        .arg(&project)
        .status()
        .unwrap();
    assert!(copied.success());
    windlass(&project, &common, &["wheel", "build"]);
    windlass(
        &project,
        &common,
        &[
            "wheel",
            "publish",
            "--repository",
            &index.url(),
            "--no-credentials",
        ],
    );

    // The README's block, with this machine's addresses and flags.
    let password = canary("index-password");
    // A repository of this run's own (a canary is unique and lowercase).
    let repository = format!("{}/{}", registries.open, canary("ml-job"));
    let script = readme::script(steps, |line| {
        line.replace(
            "http://localhost:8080/simple/",
            &format!("http://ci:{password}@127.0.0.1:{}/simple/", index.port),
        )
        .replace("localhost:5000/ml-job", &repository)
        .replace("localhost:5000/", &format!("{}/", registries.open))
        .replace(
            "podman run ",
            "podman --runtime runc --cgroup-manager cgroupfs run --network none ",
        )
    });
    assert!(
        script.contains(&base.registry_ref),
        "the block builds on the test registry's Python base `{}`:\n{script}",
        base.registry_ref
    );
    let mut script_env = common.clone();
    script_env.push(("CONTAINERS_CONF", tools.containers_conf.as_os_str()));
    script_env.push((
        "CONTAINERS_STORAGE_CONF",
        tools.containers_storage_conf.as_os_str(),
    ));
    let readme::Ran { stdout, stderr } = readme::run_script("the section", &script, &script_env);

    // The job ran in the container, on the wheel installed natively.
    assert!(
        stdout.contains("trained on 6 reviews, accuracy 1.00"),
        "{stdout}"
    );
    assert!(stdout.contains("'a great story' is pos"), "{stdout}");
    // The build printed the image's digest, and the push the same image
    // by digest.
    let digest = stdout
        .lines()
        .find(|line| line.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("the build prints a digest: {stdout}"))
        .to_owned();
    assert!(
        stdout.contains(&format!("{repository}@{digest}")),
        "{stdout}"
    );

    // The same inputs give the same image: built again, another output.
    let job = home_path.join("ml-job");
    let index_url = format!("http://ci:{password}@127.0.0.1:{}/simple/", index.port);
    let mut again_env = common.clone();
    again_env.push(("PIP_INDEX_URL", index_url.as_ref()));
    let again = windlass(
        &job,
        &again_env,
        &[
            "image",
            "build",
            "-f",
            "Containerfile",
            "--base",
            &base.registry_ref,
            "-o",
            "oci:dist/again:job",
        ],
    );
    assert_eq!(again.trim(), digest, "{again}");

    // The image pins its base by digest and has the job's layers on top.
    let layout = job.join("dist/image");
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(
            layout
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    let annotations = &manifest["annotations"];
    assert_eq!(
        annotations["org.opencontainers.image.base.name"], base.registry_ref,
        "{manifest}"
    );
    let base_digest = Command::new(&tools.skopeo)
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{}", base.registry_ref))
        .output()
        .unwrap();
    assert_eq!(
        annotations["org.opencontainers.image.base.digest"],
        String::from_utf8_lossy(&base_digest.stdout).trim(),
        "{manifest}"
    );

    // The SBOM went with the image: the registry has no referrers API, so
    // the fallback tag lists it.
    let tags = Command::new(&tools.skopeo)
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{repository}"))
        .output()
        .unwrap();
    let tags = String::from_utf8_lossy(&tags.stdout);
    let fallback = digest.replace(':', "-");
    assert!(tags.contains(&fallback), "{tags}");
    let referrers = Command::new(&tools.skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{repository}:{fallback}"))
        .output()
        .unwrap();
    let referrers: serde_json::Value = serde_json::from_slice(&referrers.stdout).unwrap();
    assert_eq!(
        referrers["manifests"][0]["artifactType"], "application/vnd.cyclonedx+json",
        "{referrers}"
    );

    // The index password reached pip only: not the output, not the image.
    assert_no_leak(stdout.as_bytes(), &password);
    assert_no_leak(stderr.as_bytes(), &password);
    assert_no_leak_in_dir(&job, &password);
}
