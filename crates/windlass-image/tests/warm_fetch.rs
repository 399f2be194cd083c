//! A warm build runs no pip when nothing is missing: hash-pinned
//! requirements whose wheels pip already chose for the target, and a
//! `pylock.toml` whose wheels are in the cache with their sha256, are
//! installed from the wheel cache with a host Python that cannot run pip
//! at all, and give the same image as with pip.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]

use std::path::{Path, PathBuf};

use oci_spec::image::{ImageConfiguration, ImageManifest};
use windlass_image::Layout;
use windlass_image::python::{FetchRequest, Index, PythonTarget, Requirements, fetch};
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, StockPypiserver};

const BIN: &str = env!("CARGO_BIN_EXE_windlass-image");
const SIX: &str = "six-1.17.0-py2.py3-none-any.whl";
const SIX_SHA256: &str = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274";
const CERTIFI: &str = "certifi-2026.10.18-py3-none-any.whl";
const CERTIFI_SHA256: &str = "73191c47aaa79da394e8fee2dbc2ec827432cab56311122c9e47abf79e390f62";

fn dist(services: &Services, file: &str) -> PathBuf {
    let path = Path::new(services.var("WINDLASS_TEST_DISTS_DIR")).join(file);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/services.sh install",
        path.display()
    );
    path
}

fn base_target(services: &Services) -> PythonTarget {
    let base = services.python_base();
    let layout = Layout::open(&base.layout).unwrap();
    let descriptor = layout.resolve(Some(&base.tag)).unwrap();
    let manifest: ImageManifest = serde_json::from_slice(
        &layout
            .read_blob(&descriptor.digest().to_string().parse().unwrap(), 1 << 20)
            .unwrap(),
    )
    .unwrap();
    let config: ImageConfiguration = serde_json::from_slice(
        &layout
            .read_blob(
                &manifest.config().digest().to_string().parse().unwrap(),
                1 << 20,
            )
            .unwrap(),
    )
    .unwrap();
    PythonTarget::detect(&layout, &manifest, &config).unwrap()
}

fn index(services: &Services, packages: &Path) -> StockPypiserver {
    std::fs::create_dir_all(packages).unwrap();
    for file in [SIX, CERTIFI] {
        std::fs::copy(dist(services, file), packages.join(file)).unwrap();
    }
    StockPypiserver::start(services, packages, Some("http://127.0.0.1:9/simple/"))
}

fn request(cache: &Path, url: &str, python: &Path, requirements: Requirements) -> FetchRequest {
    FetchRequest {
        requirements,
        index: Some(Index {
            url: url.to_owned(),
            credentials: None,
        }),
        extra_index_urls: Vec::new(),
        python: python.as_os_str().to_owned(),
        cache_dir: cache.to_owned(),
    }
}

/// A "python" that fails whatever it is asked: pip cannot have run.
fn no_pip(dir: &Path) -> PathBuf {
    let path = dir.join("no-pip");
    std::fs::write(&path, "#!/bin/sh\necho 'pip must not run' >&2\nexit 1\n").unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

#[tokio::test]
async fn hash_pinned_requirements_and_locks_skip_pip_when_cached() {
    let services = Services::load();
    let python = services.tools().python;
    let target = base_target(&services);
    let tmp = tempfile::tempdir().unwrap();
    let server = index(&services, &tmp.path().join("packages"));
    let url = format!("{}simple/", server.url());
    let no_pip = no_pip(tmp.path());
    let cache = tmp.path().join("cache");

    let requirements = tmp.path().join("requirements.txt");
    std::fs::write(
        &requirements,
        format!(
            "six==1.17.0 --hash=sha256:{SIX_SHA256}\ncertifi==2026.10.18 --hash=sha256:{CERTIFI_SHA256}\n"
        ),
    )
    .unwrap();
    let reqs = Requirements {
        files: vec![requirements.clone()],
        ..Requirements::default()
    };
    // Cold: pip runs; it fails without pip.
    let err = fetch(&request(&cache, &url, &no_pip, reqs.clone()), &target)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pip"), "{err}");
    let cold = fetch(&request(&cache, &url, &python, reqs.clone()), &target)
        .await
        .unwrap();
    // Warm: the same wheels, no pip.
    let warm = fetch(&request(&cache, &url, &no_pip, reqs.clone()), &target)
        .await
        .unwrap();
    assert_eq!(warm, cold);

    // A cached file that no longer has its hash: pip again.
    let six = cache.join("image-wheels").join(SIX);
    let original = std::fs::read(&six).unwrap();
    std::fs::write(&six, b"tampered").unwrap();
    assert!(
        fetch(&request(&cache, &url, &no_pip, reqs.clone()), &target)
            .await
            .is_err()
    );
    std::fs::write(&six, original).unwrap();

    // Not every requirement hashed: pip runs, as before.
    std::fs::write(&requirements, "six==1.17.0\n").unwrap();
    assert!(
        fetch(&request(&cache, &url, &no_pip, reqs), &target)
            .await
            .is_err()
    );

    // A pylock whose URL wheel is cached with the locked hash: no pip.
    let lock = tmp.path().join("pylock.toml");
    std::fs::write(
        &lock,
        format!(
            "lock-version = \"1.0\"\ncreated-by = \"hand\"\n\n[[packages]]\nname = \"six\"\nversion = \"1.17.0\"\nwheels = [{{ url = \"{}packages/{SIX}\", hashes = {{ sha256 = \"{SIX_SHA256}\" }} }}]\n",
            server.url()
        ),
    )
    .unwrap();
    let locked = Requirements {
        lock: Some(lock),
        ..Requirements::default()
    };
    let fetched = fetch(&request(&cache, &url, &no_pip, locked), &target)
        .await
        .unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].path, six);
}

fn build(home: &Path, cache: &Path, python: &Path, args: &[&str]) -> Run {
    Cli::new(BIN, home)
        .current_dir(home)
        .env("WINDLASS_PYTHON", python)
        .env("WINDLASS_CACHE_DIR", cache)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .arg("build")
        .args(args)
        .run()
}

#[test]
fn a_warm_build_without_pip_gives_the_same_image() {
    let services = Services::load();
    let base = services.python_base();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = index(&services, &dir.join("packages"));
    std::fs::write(
        dir.join("requirements.txt"),
        format!(
            "--index-url {}simple/\nsix==1.17.0 --hash=sha256:{SIX_SHA256}\ncertifi==2026.10.18 --hash=sha256:{CERTIFI_SHA256}\n",
            server.url()
        ),
    )
    .unwrap();
    let base_arg = format!("oci:{}:{}", base.layout.display(), base.tag);
    let cache = dir.join("cache");
    let args = |out: &'static str| {
        vec![
            "-r".to_owned(),
            "requirements.txt".into(),
            "--base".into(),
            base_arg.clone(),
            "-o".into(),
            format!("oci:out:{out}"),
        ]
    };
    let cold_args = args("cold");
    let cold_args: Vec<&str> = cold_args.iter().map(String::as_str).collect();
    let cold = build(dir, &cache, &services.tools().python, &cold_args);
    assert_eq!(cold.code, 0, "{cold}");
    let warm_args = args("warm");
    let warm_args: Vec<&str> = warm_args.iter().map(String::as_str).collect();
    let warm = build(dir, &cache, &no_pip(dir), &warm_args);
    assert_eq!(warm.code, 0, "{warm}");
    assert_eq!(warm.stdout, cold.stdout, "the same digest");
}
