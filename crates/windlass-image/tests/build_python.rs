//! `image build` of the lecture's Containerfile with its `RUN pip install`
//! done natively: the example project's wheel comes from a pypiserver named
//! by `[image.index]`, whose password is a secret reference holding a
//! canary that must appear nowhere; the image carries the SBOM of what was
//! installed as a referrer in its layout.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "tests panic on unexpected failures"
)]

use std::path::Path;

use serde_json::Value;
use windlass_testkit::cli::Run;
use windlass_testkit::{Services, StockPypiserver, assert_no_leak_in_dir, canary};

mod support;
use support::{read_json, sentiment_wheel};

fn build(dir: &Path, job: &Path, password: &str, args: &[&str]) -> Run {
    let services = Services::load();
    support::image_build(dir, job)
        .env("WINDLASS_PYTHON", services.tools().python)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("INDEX_PASSWORD", password)
        .args(args)
        .run()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lecture_job_installs_from_the_configured_index() {
    let services = Services::load();
    let base = services.python_base();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wheel = sentiment_wheel(&dir.join("dist")).await;
    let packages = dir.join("packages");
    std::fs::create_dir_all(&packages).unwrap();
    std::fs::copy(&wheel, packages.join(wheel.file_name().unwrap())).unwrap();
    // The fallback goes nowhere: the test stays on this machine.
    let server = StockPypiserver::start(&services, &packages, Some("http://127.0.0.1:9/simple/"));

    // The example job, unchanged, with an `[image.index]` of its own.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-job");
    let job = dir.join("job");
    std::fs::create_dir_all(&job).unwrap();
    for file in ["Containerfile", "requirements.txt", "train.py"] {
        std::fs::copy(example.join(file), job.join(file)).unwrap();
    }
    std::fs::write(
        job.join("windlass.toml"),
        format!(
            "[image.index]\nurl = \"{}simple/\"\nusername = \"ci\"\npassword = \"env://INDEX_PASSWORD\"\n",
            server.url()
        ),
    )
    .unwrap();
    let password = canary("image-index-password");
    let base_arg = format!("oci:{}:{}", base.layout.display(), base.tag);
    let args = [
        "-f",
        "Containerfile",
        "--base",
        &base_arg,
        "-o",
        "oci:out:job",
        "--json",
        "-v",
    ];
    let run = build(dir, &job, &password, &args);
    assert_eq!(run.code, 0, "{run}");
    run.assert_no_leak(&password);
    let report = run.json()["data"].clone();
    let digest = report["digest"].as_str().unwrap().to_owned();
    let layout = job.join("out");

    // The layers: the Containerfile's, the packages in their own.
    let created_by: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["created_by"].as_str().unwrap())
        .collect();
    assert!(
        created_by.contains(&"RUN pip install --no-cache-dir -r /job/requirements.txt"),
        "{report}"
    );
    let manifest = read_json(&layout, &digest);
    let config = read_json(&layout, manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["python", "train.py"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/job");

    // The SBOM: a referrer of the manifest in the layout, listing the
    // installed wheel with its hash.
    let sbom_manifest_digest = report["manifests"][0]["sbom"].as_str().unwrap();
    let sbom_manifest = read_json(&layout, sbom_manifest_digest);
    assert_eq!(sbom_manifest["subject"]["digest"], digest.as_str());
    assert_eq!(
        sbom_manifest["artifactType"],
        "application/vnd.cyclonedx+json"
    );
    let sbom = read_json(
        &layout,
        sbom_manifest["layers"][0]["digest"].as_str().unwrap(),
    );
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let purls: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purl"].as_str().unwrap())
        .collect();
    assert_eq!(purls, ["pkg:pypi/sentiment-lab@0.4.0"], "{sbom}");
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert!(
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["digest"] == sbom_manifest_digest),
        "{index}"
    );

    // The same inputs give the same image, SBOM included.
    let again = build(dir, &job, &password, &args);
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(again.json()["data"]["digest"], digest.as_str());
    assert_eq!(
        again.json()["data"]["manifests"][0]["sbom"],
        sbom_manifest_digest
    );

    // A password without a user is refused before anything is fetched.
    std::fs::write(
        job.join("windlass.toml"),
        format!(
            "[image.index]\nurl = \"{}simple/\"\npassword = \"env://INDEX_PASSWORD\"\n",
            server.url()
        ),
    )
    .unwrap();
    let run = build(dir, &job, &password, &args);
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr.contains("without `image.index.username`"),
        "{run}"
    );
    run.assert_no_leak(&password);

    assert_no_leak_in_dir(dir, &password);
}

/// `--lock pylock.toml`: exactly the lock's wheels are installed, each
/// checked against its sha256; a wrong hash stops the build with exit 2
/// before the output layout is written.
#[tokio::test(flavor = "multi_thread")]
async fn a_pylock_is_installed_as_locked() {
    let services = Services::load();
    let base = services.python_base();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wheel = sentiment_wheel(&dir.join("dist")).await;
    let sha256 = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(std::fs::read(&wheel).unwrap()))
    };
    let job = dir.join("job");
    std::fs::create_dir_all(&job).unwrap();
    let write_lock = |hash: &str| {
        std::fs::write(
            job.join("pylock.toml"),
            format!(
                "lock-version = \"1.0\"\ncreated-by = \"hand\"\n\n[[packages]]\nname = \"sentiment-lab\"\nversion = \"0.4.0\"\nwheels = [{{ path = \"{}\", hashes = {{ sha256 = \"{hash}\" }} }}]\n",
                wheel.display()
            ),
        )
        .unwrap();
    };
    write_lock(&sha256);
    let base_arg = format!("oci:{}:{}", base.layout.display(), base.tag);
    let args = [
        "--lock",
        "pylock.toml",
        "--base",
        &base_arg,
        "-o",
        "oci:out:locked",
        "--json",
    ];
    let run = build(dir, &job, "unused", &args);
    assert_eq!(run.code, 0, "{run}");
    let report = run.json()["data"].clone();
    let created_by: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["created_by"].as_str().unwrap())
        .collect();
    assert!(
        created_by.contains(&"pip install -r pylock.toml"),
        "{report}"
    );
    let layout = job.join("out");
    let sbom_manifest = read_json(&layout, report["manifests"][0]["sbom"].as_str().unwrap());
    let sbom = read_json(
        &layout,
        sbom_manifest["layers"][0]["digest"].as_str().unwrap(),
    );
    assert_eq!(
        sbom["components"][0]["purl"], "pkg:pypi/sentiment-lab@0.4.0",
        "{sbom}"
    );

    // A lock whose hash does not match the wheel: exit 2, no new image.
    write_lock(&"0".repeat(64));
    let args_bad = [
        "--lock",
        "pylock.toml",
        "--base",
        &base_arg,
        "-o",
        "oci:bad:locked",
        "--json",
    ];
    let run = build(dir, &job, "unused", &args_bad);
    assert_eq!(run.code, 2, "{run}");
    assert!(!job.join("bad/index.json").exists(), "{run}");
}
