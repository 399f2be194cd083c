//! A base image whose layers are zstd (`application/vnd.oci.image.layer.v1.tar+zstd`):
//! the test Python base recompressed by skopeo, the independent client.
//! `image build` of the lecture's job reads its Python from those layers,
//! installs the job's packages, and refuses a corrupted zstd layer with an
//! error naming its digest.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "tests panic on unexpected failures"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "skopeo is the independent client the base is recompressed with"
)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, StockPypiserver};

mod support;

use support::{BIN, read_json, sentiment_wheel};

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// The paths of a gzip layer of `layout`.
fn gzip_layer_paths(layout: &Path, digest: &str) -> Vec<String> {
    let file = std::fs::File::open(blob(layout, digest)).unwrap();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn build(dir: &Path, job: &Path, args: &[&str]) -> Run {
    let services = Services::load();
    Cli::new(BIN, dir)
        .current_dir(job)
        .env("WINDLASS_PYTHON", services.tools().python)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("WINDLASS_CACHE_DIR", dir.join("cache"))
        .arg("build")
        .args(args)
        .run()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lecture_job_builds_on_a_zstd_base() {
    let services = Services::load();
    let tools = services.tools();
    let base = services.python_base();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // The base, recompressed to zstd by skopeo.
    let zstd_layout = dir.join("python-zstd");
    let copy = Command::new(&tools.skopeo)
        .args(["copy", "--quiet", "--dest-compress-format", "zstd"])
        .arg(format!("oci:{}:{}", base.layout.display(), base.tag))
        .arg(format!("oci:{}:3.11", zstd_layout.display()))
        .output()
        .unwrap();
    assert!(copy.status.success(), "{copy:?}");
    let index: Value =
        serde_json::from_slice(&std::fs::read(zstd_layout.join("index.json")).unwrap()).unwrap();
    let base_manifest = read_json(
        &zstd_layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
    );
    let base_layers: Vec<(String, String)> = base_manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["mediaType"].as_str().unwrap().to_owned(),
                l["digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(!base_layers.is_empty());
    assert!(
        base_layers
            .iter()
            .all(|(media_type, _)| media_type == "application/vnd.oci.image.layer.v1.tar+zstd"),
        "{base_manifest}"
    );

    let wheel = sentiment_wheel(&dir.join("dist")).await;
    let packages = dir.join("packages");
    std::fs::create_dir_all(&packages).unwrap();
    std::fs::copy(&wheel, packages.join(wheel.file_name().unwrap())).unwrap();
    let server = StockPypiserver::start(&services, &packages, Some("http://127.0.0.1:9/simple/"));

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-job");
    let job = dir.join("job");
    std::fs::create_dir_all(&job).unwrap();
    for file in ["Containerfile", "requirements.txt", "train.py"] {
        std::fs::copy(example.join(file), job.join(file)).unwrap();
    }
    std::fs::write(
        job.join("windlass.toml"),
        format!("[image.index]\nurl = \"{}simple/\"\n", server.url()),
    )
    .unwrap();
    let base_arg = format!("oci:{}:3.11", zstd_layout.display());
    let args = [
        "-f",
        "Containerfile",
        "--base",
        &base_arg,
        "-o",
        "oci:out:job",
        "--json",
    ];
    let run = build(dir, &job, &args);
    assert_eq!(run.code, 0, "{run}");
    let report = run.json()["data"].clone();
    let digest = report["digest"].as_str().unwrap().to_owned();
    let out = job.join("out");

    // The image keeps the base's zstd layers as they are, then its own.
    let manifest = read_json(&out, &digest);
    let layers = manifest["layers"].as_array().unwrap();
    for (i, (media_type, layer_digest)) in base_layers.iter().enumerate() {
        assert_eq!(layers[i]["mediaType"], media_type.as_str(), "{manifest}");
        assert_eq!(layers[i]["digest"], layer_digest.as_str(), "{manifest}");
    }
    // The packages went where Debian's pip puts them, detected from the
    // zstd layers (Debian's python3: `dist-packages` under /usr/local).
    let pip_layer = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["created_by"] == "RUN pip install --no-cache-dir -r /job/requirements.txt")
        .unwrap_or_else(|| panic!("{report}"));
    let paths = gzip_layer_paths(&out, pip_layer["digest"].as_str().unwrap());
    for want in [
        "usr/local/lib/python3.11/dist-packages/sentiment_lab-0.4.0.dist-info/RECORD",
        "usr/local/lib/python3.11/dist-packages/sentiment_lab-0.4.0.dist-info/INSTALLER",
    ] {
        assert!(
            paths.iter().any(|p| p.trim_start_matches("./") == want),
            "{want} missing from {paths:?}"
        );
    }
    let sbom_manifest = read_json(&out, report["manifests"][0]["sbom"].as_str().unwrap());
    let sbom = read_json(&out, sbom_manifest["layers"][0]["digest"].as_str().unwrap());
    assert_eq!(
        sbom["components"][0]["purl"], "pkg:pypi/sentiment-lab@0.4.0",
        "{sbom}"
    );

    // The same zstd base from a registry: pulled into the cache as it is,
    // the same image built on it.
    let registries = services.registries();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let pushed = format!("{}/wltest/python-zstd-{nanos:x}:3.11", registries.open);
    let copy = Command::new(&tools.skopeo)
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:3.11", zstd_layout.display()))
        .arg(format!("docker://{pushed}"))
        .output()
        .unwrap();
    assert!(copy.status.success(), "{copy:?}");
    let run = build(
        dir,
        &job,
        &[
            "-f",
            "Containerfile",
            "--base",
            &pushed,
            "-o",
            "oci:out-registry:job",
            "--json",
        ],
    );
    assert_eq!(run.code, 0, "{run}");
    let from_registry = run.json()["data"].clone();
    assert_eq!(
        from_registry["layers"], report["layers"],
        "the same layers on the same base"
    );

    // A zstd layer that is not what its digest says: one byte flipped in
    // the middle of the blob (a new file: the output layout may hold a
    // hard link to the old one).
    let (_, last_digest) = base_layers.last().unwrap();
    let path = blob(&zstd_layout, last_digest);
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let run = build(
        dir,
        &job,
        &[
            "-f",
            "Containerfile",
            "--base",
            &base_arg,
            "-o",
            "oci:out2:job",
        ],
    );
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains(last_digest.as_str()), "{run}");
    assert!(!job.join("out2/index.json").exists(), "{run}");
}
