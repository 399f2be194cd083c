//! Python installed natively into an image, against real things: the Python
//! base image the test services build (its own interpreter, run with
//! podman, says what we must detect), pip's own `install --prefix` (the
//! tree and RECORD we must match), a pypiserver serving real wheels, and a
//! canary index password that must never leave the child's environment.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "tests: a failed fixture step should panic loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use oci_spec::image::{ImageConfiguration, ImageManifest};
use windlass_diagnostic::{Diagnostic, ExitStatus};
use windlass_image::Layout;
use windlass_image::python::{
    FetchRequest, Index, IndexCredentials, InstallRequest, PythonError, PythonTarget, Requirements,
    Scheme, WheelToInstall, fetch, install,
};
use windlass_redact::Secret;
use windlass_testkit::{Services, StockPypiserver, assert_no_leak, assert_no_leak_in_dir, canary};

mod support;
use support::{PODMAN_FLAGS, sentiment_wheel};

const SIX: &str = "six-1.17.0-py2.py3-none-any.whl";
const SIX_SHA256: &str = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274";
const CERTIFI: &str = "certifi-2026.10.18-py3-none-any.whl";
const CERTIFI_SHA256: &str = "73191c47aaa79da394e8fee2dbc2ec827432cab56311122c9e47abf79e390f62";
const FLAKE8: &str = "flake8-7.5.0-py2.py3-none-any.whl";
const ANNOTATED_SDIST: &str = "annotated_types-0.8.0.tar.gz";

fn dist(services: &Services, file: &str) -> PathBuf {
    let path = Path::new(services.var("WINDLASS_TEST_DISTS_DIR")).join(file);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/services.sh install",
        path.display()
    );
    path
}

/// The base image's manifest and config from its layout.
fn base(services: &Services) -> (Layout, ImageManifest, ImageConfiguration) {
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
    (layout, manifest, config)
}

fn base_target(services: &Services) -> PythonTarget {
    let (layout, manifest, config) = base(services);
    PythonTarget::detect(&layout, &manifest, &config).unwrap()
}

/// `podman run` of the base image as pushed to the open registry.
fn podman_run(services: &Services, volumes: &[(&Path, &str)], command: &[&str]) -> String {
    let tools = services.tools();
    let base = services.python_base();
    services.registries();
    let mut cmd = Command::new(&tools.podman);
    cmd.env("CONTAINERS_CONF", &tools.containers_conf)
        .env("CONTAINERS_STORAGE_CONF", &tools.containers_storage_conf)
        .args(PODMAN_FLAGS)
        .args(["run", "--rm"])
        .args(["--network", "none", "--tls-verify=false", "--pull=newer"]);
    for (host, image_path) in volumes {
        cmd.arg("-v")
            .arg(format!("{}:{image_path}:ro", host.display()));
    }
    let output = cmd.arg(&base.registry_ref).args(command).output().unwrap();
    assert!(
        output.status.success(),
        "podman run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn detects_the_python_that_the_base_image_reports() {
    let services = Services::load();
    let target = base_target(&services);
    assert_eq!(target.interpreter, "/usr/bin/python3");
    assert_eq!(target.abi, "cp311");
    // What the image's own interpreter and its pip's `packaging` say.
    let answer = podman_run(
        &services,
        &[],
        &[
            "python3",
            "-c",
            "import sys, sysconfig, json\n\
             from pip._vendor.packaging import tags\n\
             p = sysconfig.get_paths()\n\
             plats = []\n\
             [plats.append(t.platform) for t in tags.sys_tags() if t.abi == 'cp311' and t.platform not in plats]\n\
             print(json.dumps([list(sys.version_info[:2]), p['purelib'], p['platlib'], p['scripts'], p['data'], plats]))",
        ],
    );
    let (version, purelib, platlib, scripts, data, platforms): (
        (u32, u32),
        String,
        String,
        String,
        String,
        Vec<String>,
    ) = serde_json::from_str(answer.trim()).unwrap();
    assert_eq!(target.version, version);
    assert_eq!(target.scheme.purelib, purelib);
    assert_eq!(target.scheme.platlib, platlib);
    assert_eq!(target.scheme.scripts, scripts);
    assert_eq!(target.scheme.data, data);
    // Every portable tag, in the same order; `linux_x86_64` (wheels built
    // on some machine) is deliberately not accepted.
    let portable: Vec<String> = platforms
        .into_iter()
        .filter(|p| p != "linux_x86_64")
        .collect();
    assert_eq!(target.platforms, portable);
}

/// A target laid out as `pip install --prefix PREFIX` lays out the host
/// venv's Python.
fn prefix_target(services: &Services, prefix: &str) -> PythonTarget {
    let python = services.tools().python;
    let mut target = base_target(services);
    target.interpreter = python.display().to_string();
    target.scheme = Scheme {
        purelib: format!("{prefix}/lib/python3.11/site-packages"),
        platlib: format!("{prefix}/lib/python3.11/site-packages"),
        scripts: format!("{prefix}/bin"),
        data: prefix.to_owned(),
        headers: format!("{prefix}/include/python3.11"),
    };
    target
}

/// Every file under `root`: relative path -> (bytes, executable).
fn tree(root: &Path) -> BTreeMap<String, (Vec<u8>, bool)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                let executable = meta.permissions().mode() & 0o111 != 0;
                out.insert(relative, (std::fs::read(&path).unwrap(), executable));
            }
        }
    }
    out
}

fn record_rows(bytes: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| {
            !l.contains(".dist-info/INSTALLER,") && !l.contains(".dist-info/direct_url.json,")
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn installs_the_same_files_and_record_as_pip() {
    let services = Services::load();
    let tmp = tempfile::tempdir().unwrap();
    let wheel = sentiment_wheel(&tmp.path().join("dist")).await;
    let wheels = vec![
        wheel,
        dist(&services, SIX),
        dist(&services, CERTIFI),
        dist(&services, FLAKE8),
    ];

    // pip's install, into PIP/p. `--ignore-installed`: else pip skips, or
    // uninstalls from the shared peers venv, what that venv holds of these
    // projects.
    let pip_root = tmp.path().join("pip");
    let prefix = "/p";
    let python = services.tools().python;
    let output = Command::new(&python)
        .args(["-m", "pip", "install", "--ignore-installed", "--no-deps"])
        .args(["--no-compile", "--no-index"])
        .args(["--disable-pip-version-check", "--prefix"])
        .arg(pip_root.join("p"))
        .args(&wheels)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Ours, into STAGING/p.
    let staging = tmp.path().join("staging");
    let request = InstallRequest {
        wheels: wheels
            .iter()
            .map(|path| WheelToInstall {
                path: path.clone(),
                requested: true,
            })
            .collect(),
    };
    let report = install(&request, &prefix_target(&services, prefix), &staging).unwrap();
    let names: Vec<&str> = report.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["certifi", "flake8", "sentiment-lab", "six"]);
    assert_eq!(report.packages[3].wheel_sha256, SIX_SHA256);

    let ours = tree(&staging);
    let theirs = tree(&pip_root);
    let keys = |t: &BTreeMap<String, (Vec<u8>, bool)>| -> BTreeSet<String> {
        t.keys()
            .filter(|k| !k.ends_with("direct_url.json"))
            .cloned()
            .collect()
    };
    assert_eq!(keys(&ours), keys(&theirs), "the same files");
    for (path, (bytes, executable)) in &ours {
        let (pip_bytes, pip_executable) = &theirs[path];
        assert_eq!(executable, pip_executable, "{path}: mode");
        if path.ends_with(".dist-info/INSTALLER") {
            assert_eq!(bytes, b"windlass\n");
            assert_eq!(pip_bytes, b"pip\n");
        } else if path.ends_with(".dist-info/RECORD") {
            assert_eq!(record_rows(bytes), record_rows(pip_bytes), "{path}");
        } else {
            assert!(bytes == pip_bytes, "{path}: content differs from pip's");
        }
    }
    let intact = Command::new(&python)
        .args(["-c", "import certifi"])
        .output()
        .unwrap();
    assert!(intact.status.success(), "the peers venv lost certifi");
    assert!(ours.contains_key("p/bin/sentiment-train"));
    assert!(ours.contains_key("p/bin/flake8"));

    // The console script runs, with the site-packages on the path.
    let output = Command::new(staging.join("p/bin/sentiment-train"))
        .arg("--help")
        .env("PYTHONPATH", staging.join("p/lib/python3.11/site-packages"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("usage: sentiment-train"));
}

#[tokio::test]
async fn installed_into_the_base_image_the_script_runs_there() {
    let services = Services::load();
    let tmp = tempfile::tempdir().unwrap();
    let wheel = sentiment_wheel(&tmp.path().join("dist")).await;
    let target = base_target(&services);
    let staging = tmp.path().join("staging");
    install(
        &InstallRequest {
            wheels: vec![WheelToInstall {
                path: wheel,
                requested: true,
            }],
        },
        &target,
        &staging,
    )
    .unwrap();
    let script = std::fs::read_to_string(staging.join("usr/local/bin/sentiment-train")).unwrap();
    assert!(script.starts_with("#!/usr/bin/python3\n"), "{script}");
    let site = staging.join("usr/local/lib/python3.11/dist-packages");
    let bin = staging.join("usr/local/bin");
    let out = podman_run(
        &services,
        &[
            (&site, "/usr/local/lib/python3.11/dist-packages"),
            (&bin, "/usr/local/bin"),
        ],
        &["sentiment-train", "--help"],
    );
    assert!(out.contains("usage: sentiment-train"), "{out}");
}

#[test]
fn refuses_wheels_for_another_python_and_paths_that_escape() {
    let services = Services::load();
    let target = base_target(&services);
    let tmp = tempfile::tempdir().unwrap();
    let write_zip = |name: &str, members: &[(&str, &[u8])]| {
        let path = tmp.path().join(name);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (member, bytes) in members {
            zip.start_file(*member, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut zip, bytes).unwrap();
        }
        zip.finish().unwrap();
        path
    };
    let wrong = write_zip("numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl", &[]);
    let err = install(
        &InstallRequest {
            wheels: vec![WheelToInstall {
                path: wrong,
                requested: true,
            }],
        },
        &target,
        &tmp.path().join("s1"),
    )
    .unwrap_err();
    assert!(matches!(err, PythonError::Incompatible { .. }), "{err}");
    assert_eq!(err.exit_status(), ExitStatus::Usage);

    let meta: &[(&str, &[u8])] = &[
        (
            "evil-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
        ),
        (
            "evil-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n",
        ),
        ("evil-1.0.dist-info/RECORD", b""),
        ("evil/../../../../etc/passwd", b"x"),
    ];
    let evil = write_zip("evil-1.0-py3-none-any.whl", meta);
    let staging = tmp.path().join("s2");
    let err = install(
        &InstallRequest {
            wheels: vec![WheelToInstall {
                path: evil,
                requested: true,
            }],
        },
        &target,
        &staging,
    )
    .unwrap_err();
    assert!(matches!(err, PythonError::PathEscape { .. }), "{err}");
    assert!(!tmp.path().join("etc/passwd").exists());
}

/// A pypiserver of the test's own, serving real wheels and one project
/// with only an sdist.
fn index_with(services: &Services, packages: &Path, extra: &[PathBuf]) -> StockPypiserver {
    std::fs::create_dir_all(packages).unwrap();
    for file in [SIX, CERTIFI, ANNOTATED_SDIST] {
        std::fs::copy(dist(services, file), packages.join(file)).unwrap();
    }
    for file in extra {
        std::fs::copy(file, packages.join(file.file_name().unwrap())).unwrap();
    }
    // The fallback goes nowhere: tests stay on this machine.
    StockPypiserver::start(services, packages, Some("http://127.0.0.1:9/simple/"))
}

fn request(cache: &Path, index: Index, requirements: Requirements) -> FetchRequest {
    FetchRequest {
        requirements,
        index: Some(index),
        extra_index_urls: Vec::new(),
        python: Services::load().tools().python.into_os_string(),
        cache_dir: cache.to_owned(),
    }
}

#[tokio::test]
async fn fetches_hashed_requirements_for_the_base_and_refuses_sdists() {
    let services = Services::load();
    let target = base_target(&services);
    let tmp = tempfile::tempdir().unwrap();
    let server = index_with(&services, &tmp.path().join("packages"), &[]);
    let index = Index {
        url: format!("{}simple/", server.url()),
        credentials: None,
    };
    let requirements = tmp.path().join("requirements.txt");
    std::fs::write(
        &requirements,
        format!(
            "six==1.17.0 \\\n    --hash=sha256:{SIX_SHA256}\ncertifi==2026.10.18 --hash=sha256:{CERTIFI_SHA256}\n"
        ),
    )
    .unwrap();
    let cache = tmp.path().join("cache");
    let reqs = Requirements {
        files: vec![requirements.clone()],
        ..Requirements::default()
    };
    let fetched = fetch(&request(&cache, index.clone(), reqs.clone()), &target)
        .await
        .unwrap();
    let names: Vec<(&str, &str, bool)> = fetched
        .iter()
        .map(|w| (w.name.as_str(), w.version.as_str(), w.requested))
        .collect();
    assert_eq!(
        names,
        [("certifi", "2026.10.18", true), ("six", "1.17.0", true)]
    );
    assert!(
        fetched
            .iter()
            .all(|w| w.path.starts_with(cache.join("image-wheels")))
    );
    // Again, warm: the same files, already downloaded.
    let again = fetch(&request(&cache, index.clone(), reqs), &target)
        .await
        .unwrap();
    assert_eq!(again, fetched);

    // A pinned hash that the index's file does not have.
    std::fs::write(
        &requirements,
        format!("six==1.17.0 --hash=sha256:{}\n", "0".repeat(64)),
    )
    .unwrap();
    let err = fetch(
        &request(
            &tmp.path().join("cache2"),
            index.clone(),
            Requirements {
                files: vec![requirements.clone()],
                ..Requirements::default()
            },
        ),
        &target,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PythonError::PipHashMismatch { .. }), "{err}");
    assert_eq!(err.exit_status(), ExitStatus::Usage);

    // A project with only an sdist: exit 2 with the hint.
    let err = fetch(
        &request(
            &cache,
            index,
            Requirements {
                pins: vec!["annotated-types==0.8.0".into()],
                ..Requirements::default()
            },
        ),
        &target,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PythonError::NoWheel { .. }), "{err}");
    assert_eq!(err.exit_status(), ExitStatus::Usage);
    assert!(err.hint().unwrap().contains("windlass wheel build"));
}

#[tokio::test]
async fn a_canary_index_password_stays_in_the_childs_environment() {
    let services = Services::load();
    let target = base_target(&services);
    let tmp = tempfile::tempdir().unwrap();
    let wheel = sentiment_wheel(&tmp.path().join("dist")).await;
    let server = index_with(&services, &tmp.path().join("packages"), &[]);
    let password = canary("index-password");
    let credentials = IndexCredentials {
        username: "ci".into(),
        password: Secret::new(password.clone()),
    };
    let cache = tmp.path().join("cache");
    // pypiserver `-a .` takes any credentials for downloads.
    let index = Index {
        url: format!("{}simple/", server.url()),
        credentials: Some(credentials.clone()),
    };
    let fetched = fetch(
        &request(
            &cache,
            index,
            Requirements {
                pins: vec!["six".into()],
                wheels: vec![wheel],
                ..Requirements::default()
            },
        ),
        &target,
    )
    .await
    .unwrap();
    let names: Vec<&str> = fetched.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["sentiment-lab", "six"]);
    let staging = tmp.path().join("staging");
    let report = install(&InstallRequest::from_fetched(&fetched), &target, &staging).unwrap();
    let sbom =
        windlass_image::python::sbom(&report, &windlass_image::python::SbomOptions::default());
    assert_no_leak(&sbom, &password);
    assert_no_leak_in_dir(tmp.path(), &password);

    // An index that is down: pip's complaint names the URL, never the
    // password.
    let err = fetch(
        &request(
            &tmp.path().join("cache-down"),
            Index {
                url: "http://127.0.0.1:9/simple/".into(),
                credentials: Some(credentials),
            },
            Requirements {
                pins: vec!["six".into()],
                ..Requirements::default()
            },
        ),
        &target,
    )
    .await
    .unwrap_err();
    let mut shown = format!("{err}\n{err:?}\n{:?}", err.hint());
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        shown.push('\n');
        shown.push_str(&s.to_string());
        source = s.source();
    }
    assert_no_leak(shown.as_bytes(), &password);
    assert_eq!(err.exit_status(), ExitStatus::Remote, "{shown}");
    assert_no_leak_in_dir(tmp.path(), &password);
}

#[tokio::test]
async fn the_example_job_runs_in_the_base_image_with_its_requirements() {
    let services = Services::load();
    let target = base_target(&services);
    let tmp = tempfile::tempdir().unwrap();
    // The example project's wheel, published to an index of the test's own.
    let wheel = sentiment_wheel(&tmp.path().join("dist")).await;
    let server = index_with(&services, &tmp.path().join("packages"), &[wheel]);
    let job = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-job");
    let fetched = fetch(
        &request(
            &tmp.path().join("cache"),
            Index {
                url: format!("{}simple/", server.url()),
                credentials: None,
            },
            Requirements {
                files: vec![job.join("requirements.txt")],
                ..Requirements::default()
            },
        ),
        &target,
    )
    .await
    .unwrap();
    assert_eq!(fetched.len(), 1);
    assert!(fetched[0].requested);
    let staging = tmp.path().join("staging");
    install(
        &InstallRequest {
            wheels: vec![WheelToInstall {
                path: fetched[0].path.clone(),
                requested: true,
            }],
        },
        &target,
        &staging,
    )
    .unwrap();
    let site = staging.join("usr/local/lib/python3.11/dist-packages");
    let train = job.join("train.py").canonicalize().unwrap();
    // The Containerfile's ENTRYPOINT, `python train.py`, in /job.
    let out = podman_run(
        &services,
        &[
            (&site, "/usr/local/lib/python3.11/dist-packages"),
            (&train, "/job/train.py"),
        ],
        &["python", "/job/train.py"],
    );
    assert!(out.contains("trained on 6 reviews, accuracy 1.00"), "{out}");
    assert!(out.contains("'a great story' is pos"), "{out}");
}

#[tokio::test]
async fn fetches_exactly_the_wheels_of_a_pylock() {
    let services = Services::load();
    let target = base_target(&services);
    let tmp = tempfile::tempdir().unwrap();
    let wheel = sentiment_wheel(&tmp.path().join("dist")).await;
    let wheel_sha256 = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(std::fs::read(&wheel).unwrap()))
    };
    let server = index_with(&services, &tmp.path().join("packages"), &[]);
    let lock = tmp.path().join("pylock.toml");
    let write_lock = |six_sha256: &str| {
        std::fs::write(
            &lock,
            format!(
                r#"lock-version = "1.0"
created-by = "hand"

[[packages]]
name = "six"
version = "1.17.0"
wheels = [{{ url = "{url}packages/{SIX}", hashes = {{ sha256 = "{six_sha256}" }} }}]

[[packages]]
name = "tomli"
version = "2.0.1"
marker = "python_version < '3.11'"
wheels = [{{ url = "{url}packages/tomli-2.0.1-py3-none-any.whl", hashes = {{ sha256 = "00" }} }}]

[[packages]]
name = "sentiment-lab"
version = "0.4.0"
wheels = [{{ path = "{path}", hashes = {{ sha256 = "{wheel_sha256}" }} }}]
"#,
                url = server.url(),
                path = wheel.display()
            ),
        )
        .unwrap();
    };
    write_lock(SIX_SHA256);
    let requirements = Requirements {
        lock: Some(lock.clone()),
        ..Requirements::default()
    };
    let index = Index {
        url: format!("{}simple/", server.url()),
        credentials: None,
    };
    let fetched = fetch(
        &request(
            &tmp.path().join("cache"),
            index.clone(),
            requirements.clone(),
        ),
        &target,
    )
    .await
    .unwrap();
    let names: Vec<(&str, bool)> = fetched
        .iter()
        .map(|w| (w.name.as_str(), w.requested))
        .collect();
    assert_eq!(names, [("sentiment-lab", true), ("six", true)]);
    assert_eq!(fetched[0].path, wheel, "a local wheel is used in place");

    write_lock(&"1".repeat(64));
    let err = fetch(
        &request(&tmp.path().join("cache2"), index, requirements),
        &target,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PythonError::PipHashMismatch { .. }), "{err}");
    assert_eq!(err.exit_status(), ExitStatus::Usage);
}
