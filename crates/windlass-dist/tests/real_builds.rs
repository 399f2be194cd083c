//! Real projects built from their published sdists, as a new user would
//! (`--backend auto`), give the wheels their maintainers published; trees
//! with only `setup.py` or `setup.cfg`, and `[project]` tables the native
//! reader does not know, go to the project's backend.
//!
//! The sdists and wheels are fetched by `scripts/services.sh install`
//! (pinned by version and sha256, checked again here) into the directory
//! the services env file names. Builds run `python3` (or `WINDLASS_PYTHON`)
//! and install the backends from the package index; environments are
//! cached in the target directory, so later runs are warm.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use windlass_dist::archive::Timestamp;
use windlass_dist::pep517::Pep517Options;
use windlass_dist::{BackendChoice, BuildRequest, Built, build};

/// The published sdist and wheel of each project, with their sha256.
const PROJECTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "six-1.17.0.tar.gz",
        "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
        "six-1.17.0-py2.py3-none-any.whl",
        "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274",
        "no pyproject.toml: setuptools' legacy backend",
    ),
    (
        "certifi-2026.10.18.tar.gz",
        "b9995d97b64d0431a5af837d8ca8cd6238104d1f319f04bd93ea43124d6c861e",
        "certifi-2026.10.18-py3-none-any.whl",
        "73191c47aaa79da394e8fee2dbc2ec827432cab56311122c9e47abf79e390f62",
        "`pyproject.toml` has no `[project]` table: the backend computes the metadata",
    ),
    (
        "flake8-7.5.0.tar.gz",
        "0dab7566341aca0d80aa29b5812bdadf256caa6a63e6068e49ac2649918236a4",
        "flake8-7.5.0-py2.py3-none-any.whl",
        "637ea1a443a78ed6ee461725cdf71ca93bc5cde0abf25436dbebdc3880b4e078",
        "no pyproject.toml: setuptools' legacy backend",
    ),
    (
        "annotated_types-0.8.0.tar.gz",
        "13b2beaad985e05e2d6407ee4c4f35590b11f8d693a258a561055cac8f64cab7",
        "annotated_types-0.8.0-py3-none-any.whl",
        "f072f4d804ea359e4eaf198b1af7a8b0943881a87f31bb764f8bf219bb9419e0",
        "`[project]` has `repository`, which the native reader does not know",
    ),
];

fn dists_dir() -> PathBuf {
    let services = windlass_testkit::Services::load();
    PathBuf::from(services.var("WINDLASS_TEST_DISTS_DIR"))
}

/// A published file, checked against its pinned sha256.
fn published(name: &str, sha256: &str) -> PathBuf {
    let path = dists_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n\nhint: run `scripts/services.sh install` to fetch the published files",
            path.display()
        )
    });
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        sha256,
        "{} is not the pinned file",
        path.display()
    );
    path
}

/// Environments shared by the tests of this file and kept between runs.
fn pep517_options() -> Pep517Options {
    Pep517Options {
        cache_dir: Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-builds-cache"),
        ..Pep517Options::from_env(windlass_testkit::var_os)
    }
}

fn request(project: &Path, out: &Path, backend: BackendChoice, sdist: bool) -> BuildRequest {
    BuildRequest {
        project_dir: project.to_path_buf(),
        out_dir: out.to_path_buf(),
        wheel: true,
        sdist,
        backend,
        timestamp: Timestamp(315_532_800),
        pep517: pep517_options(),
    }
}

fn unpack(sdist: &Path, into: &Path) -> PathBuf {
    let file = std::fs::File::open(sdist).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(into)
        .unwrap();
    let mut dirs = std::fs::read_dir(into).unwrap().map(|e| e.unwrap().path());
    let dir = dirs.next().unwrap();
    assert!(dirs.next().is_none());
    dir
}

fn wheel_of(built: &Built) -> PathBuf {
    built
        .artifacts
        .iter()
        .find(|a| a.path.extension().is_some_and(|e| e == "whl"))
        .expect("a wheel")
        .path
        .clone()
}

/// What a wheel is, for comparing builds by different versions of the same
/// backend: the RECORD hash of every file outside `.dist-info`, and of the
/// `.dist-info` files that do not carry the backend's own stamp (license
/// files by name, wherever the metadata version puts them); `METADATA`
/// without its version and the fields newer versions add (`Dynamic`,
/// `License-File`); `WHEEL` without its `Generator`.
fn essence(wheel: &Path) -> BTreeMap<String, String> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let read = |zip: &mut zip::ZipArchive<std::fs::File>, name: &str| {
        let mut text = String::new();
        zip.by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let record_name = zip
        .file_names()
        .find(|n| n.ends_with(".dist-info/RECORD"))
        .unwrap()
        .to_owned();
    let dist_info = record_name.trim_end_matches("RECORD").to_owned();
    let record = read(&mut zip, &record_name);
    let mut out = BTreeMap::new();
    for line in record.lines().filter(|l| !l.is_empty()) {
        let mut fields = line.rsplitn(3, ',');
        let (_size, hash, path) = (
            fields.next(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        let Some(inside) = path.strip_prefix(&dist_info) else {
            out.insert(path.to_owned(), hash.to_owned());
            continue;
        };
        match inside {
            "RECORD" => {}
            "METADATA" => {
                let text = read(&mut zip, path);
                let (headers, body) = text.split_once("\n\n").unwrap_or((&text, ""));
                let kept: Vec<&str> = headers
                    .lines()
                    .filter(|l| {
                        !["Metadata-Version:", "Dynamic:", "License-File:"]
                            .iter()
                            .any(|p| l.starts_with(p))
                    })
                    .collect();
                out.insert("METADATA".into(), format!("{}\n\n{body}", kept.join("\n")));
            }
            "WHEEL" => {
                let text = read(&mut zip, path);
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.starts_with("Generator:"))
                    .collect();
                out.insert("WHEEL".into(), kept.join("\n"));
            }
            other => {
                let name = other.strip_prefix("licenses/").unwrap_or(other);
                out.insert(format!("dist-info/{name}"), hash.to_owned());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn real_sdists_build_to_the_published_wheels() {
    let mut failures = Vec::new();
    for (sdist, sdist_sha, wheel, wheel_sha, reason) in PROJECTS {
        let sdist = published(sdist, sdist_sha);
        let wheel = published(wheel, wheel_sha);
        let tmp = tempfile::tempdir().unwrap();
        let project = unpack(&sdist, &tmp.path().join("src"));
        let out = tmp.path().join("out");
        let built = build(&request(&project, &out, BackendChoice::Auto, false))
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", sdist.display()));
        assert_eq!(built.fallback_reasons, [*reason], "{}", sdist.display());
        assert!(built.artifacts.iter().all(|a| a.builder == "pep517"));
        let ours = wheel_of(&built);
        assert_eq!(ours.file_name(), wheel.file_name());
        let (want, got) = (essence(&wheel), essence(&ours));
        if want != got {
            let differ: Vec<&String> = want
                .keys()
                .chain(got.keys())
                .filter(|k| want.get(*k) != got.get(*k))
                .collect();
            failures.push(format!("{}: {differ:?}", ours.display()));
        }
    }
    assert!(failures.is_empty(), "wheels differ: {failures:#?}");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of a fixture project (builds write into the source tree).
fn copy_fixture(name: &str, into: &Path) -> PathBuf {
    let from = fixture(name);
    let to = into.join(name);
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
    to
}

/// The names in a wheel, sorted.
fn names(wheel: &Path) -> Vec<String> {
    let zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn a_setup_cfg_only_project_builds_with_the_legacy_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let project = copy_fixture("setup-cfg-only", tmp.path());
    let out = tmp.path().join("out");
    let built = build(&request(&project, &out, BackendChoice::Auto, true))
        .await
        .unwrap();
    assert_eq!(
        built.fallback_reasons,
        ["no pyproject.toml: setuptools' legacy backend"]
    );
    let mut files: Vec<String> = built
        .artifacts
        .iter()
        .map(|a| a.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["cfgdemo-2.1-py3-none-any.whl", "cfgdemo-2.1.tar.gz"]
    );
    let names = names(&wheel_of(&built));
    assert!(
        names.contains(&"cfgdemo/__init__.py".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"cfgdemo-2.1.dist-info/METADATA".to_owned()));
}

/// `auto` goes to the backend with the reason; `--backend pep517` never
/// looks at `[project]`; `--backend native` says why it cannot.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_project_key_goes_to_the_backend() {
    for backend in [BackendChoice::Auto, BackendChoice::Pep517] {
        let tmp = tempfile::tempdir().unwrap();
        let project = copy_fixture("unknown-project-key", tmp.path());
        let out = tmp.path().join("out");
        let built = build(&request(&project, &out, backend, false))
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: {e:?}"));
        let expected: &[&str] = match backend {
            BackendChoice::Auto => {
                &["`[project]` has `repository`, which the native reader does not know"]
            }
            _ => &[],
        };
        assert_eq!(built.fallback_reasons, expected, "{backend:?}");
        let names = names(&wheel_of(&built));
        assert!(
            names.contains(&"unknown_key/__init__.py".to_owned()),
            "{backend:?}: {names:?}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let project = copy_fixture("unknown-project-key", tmp.path());
    let err = build(&request(
        &project,
        &tmp.path().join("out"),
        BackendChoice::Native,
        false,
    ))
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the native builder cannot build this project: `[project]` has `repository`, which the native reader does not know"
    );
}
