//! Byte-compilation of installed packages: the lecture's job built with
//! `--compile` on the test services' Python base carries checked-hash
//! pycs for the image's Python, named in RECORD, whose code names the
//! image's paths; podman runs it and Python imports those pycs as they are
//! (never stale, never rewritten); two builds give the same digest; and
//! without a host interpreter of the image's version the build stops with
//! exit 2.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "tests panic on unexpected failures"
)]
#![allow(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "image paths, spelled as Python spells them"
)]

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, StockPypiserver, assert_no_leak_in_dir, canary};

mod support;

use support::{BIN, sentiment_wheel};
const SITE: &str = "usr/local/lib/python3.11/dist-packages";

fn read_blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

/// The files of a gzip layer: path -> bytes.
fn layer_files(layout: &Path, digest: &str) -> BTreeMap<String, Vec<u8>> {
    let bytes = read_blob(layout, digest);
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(&bytes[..]));
    let mut files = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = entry.path().unwrap().display().to_string();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            files.insert(path, content);
        }
    }
    files
}

/// The job's directory: the example's files and an `[image.index]` whose
/// password is a canary.
fn job(dir: &Path, index_url: &str) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-job");
    let job = dir.join("job");
    std::fs::create_dir_all(&job).unwrap();
    for file in ["Containerfile", "requirements.txt", "train.py"] {
        std::fs::copy(example.join(file), job.join(file)).unwrap();
    }
    std::fs::write(
        job.join("windlass.toml"),
        format!(
            "[image.index]\nurl = \"{index_url}\"\nusername = \"ci\"\npassword = \"env://INDEX_PASSWORD\"\n"
        ),
    )
    .unwrap();
    job
}

/// `image build` in `job` with its own cache under `home`.
fn build(home: &Path, job: &Path, password: &str, python: &Path, args: &[&str]) -> Run {
    Cli::new(BIN, home)
        .current_dir(job)
        .env("WINDLASS_PYTHON", python)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("INDEX_PASSWORD", password)
        .arg("build")
        .args(args)
        .run()
}

/// The layer the Containerfile's `RUN pip install` made.
fn pip_layer(report: &Value) -> String {
    report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["created_by"]
                .as_str()
                .unwrap()
                .starts_with("RUN pip install")
        })
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn tool(dir: &Path, program: &Path, args: &[&str]) -> Run {
    let tools = Services::load().tools();
    Cli::new(program, dir)
        .env("CONTAINERS_CONF", &tools.containers_conf)
        .env("CONTAINERS_STORAGE_CONF", &tools.containers_storage_conf)
        .args(args)
        .run()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lecture_job_runs_from_its_bytecode() {
    let services = Services::load();
    let tools = services.tools();
    let base = services.python_base();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wheel = sentiment_wheel(&dir.join("dist")).await;
    let packages = dir.join("packages");
    std::fs::create_dir_all(&packages).unwrap();
    std::fs::copy(&wheel, packages.join(wheel.file_name().unwrap())).unwrap();
    let server = StockPypiserver::start(&services, &packages, Some("http://127.0.0.1:9/simple/"));
    let job = job(dir, &format!("{}simple/", server.url()));
    let password = canary("image-compile-index-password");
    let base_arg = format!("oci:{}:{}", base.layout.display(), base.tag);
    let args = |output: &str, extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = ["-f", "Containerfile", "--base", &base_arg, "-o", output]
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args.push("--json".into());
        args
    };
    let run_args = args("oci:out:compiled", &["--compile"]);
    let run_args: Vec<&str> = run_args.iter().map(String::as_str).collect();
    let run = build(&dir.join("one"), &job, &password, &tools.python, &run_args);
    assert_eq!(run.code, 0, "{run}");
    run.assert_no_leak(&password);
    let report = run.json()["data"].clone();
    let digest = report["digest"].as_str().unwrap().to_owned();
    let layout = job.join("out");

    // The layer: a pyc for each module, next to it, in RECORD without a
    // hash; checked-hash pycs of the image's CPython 3.11.
    let files = layer_files(&layout, &pip_layer(&report));
    let pyc = format!("{SITE}/sentiment_lab/__pycache__/__init__.cpython-311.pyc");
    let sources: Vec<&String> = files
        .keys()
        .filter(|p| p.starts_with(&format!("{SITE}/sentiment_lab/")) && p.ends_with(".py"))
        .collect();
    assert!(sources.len() > 1, "{files:?}");
    for source in &sources {
        let (dir_part, name) = source.rsplit_once('/').unwrap();
        let stem = name.strip_suffix(".py").unwrap();
        let expected = format!("{dir_part}/__pycache__/{stem}.cpython-311.pyc");
        assert!(files.contains_key(&expected), "no {expected}");
    }
    let record = String::from_utf8(
        files
            .iter()
            .find(|(p, _)| p.ends_with(".dist-info/RECORD"))
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(
        record
            .lines()
            .any(|l| l == "sentiment_lab/__pycache__/__init__.cpython-311.pyc,,"),
        "{record}"
    );
    let bytecode = &files[&pyc];
    // Flags: hash-based (1) and checked (2).
    assert_eq!(
        u32::from_le_bytes(bytecode[4..8].try_into().unwrap()),
        3,
        "not a checked-hash pyc"
    );
    // The magic number and the code's file name, read by the host 3.11.
    let host_pyc = dir.join("probe.pyc");
    std::fs::write(&host_pyc, bytecode).unwrap();
    let probe = Cli::new(&tools.python, dir)
        .args([
            "-c",
            "import sys, marshal, importlib.util\n\
             data = open(sys.argv[1], 'rb').read()\n\
             print(data[:4] == importlib.util.MAGIC_NUMBER)\n\
             print(marshal.loads(data[16:]).co_filename)",
        ])
        .arg(&host_pyc)
        .run();
    assert_eq!(probe.code, 0, "{probe}");
    assert_eq!(
        probe.stdout,
        format!("True\n/{SITE}/sentiment_lab/__init__.py\n"),
        "{probe}"
    );
    // Nothing of the build machine: no staging or cache path in any file.
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(".python-") && !text.contains(&*dir.to_string_lossy()),
            "{path} names a build path"
        );
    }

    // Another build, another cache and staging directory: the same image.
    // A Containerfile's `RUN pip install` compiles by default, as pip.
    let default_args = args("oci:out:default", &[]);
    let default_args: Vec<&str> = default_args.iter().map(String::as_str).collect();
    let again = build(
        &dir.join("two"),
        &job,
        &password,
        &tools.python,
        &default_args,
    );
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(again.json()["data"]["digest"], digest.as_str(), "{again}");
    // `--no-compile`: no pyc at all.
    let plain_args = args("oci:out:plain", &["--no-compile"]);
    let plain_args: Vec<&str> = plain_args.iter().map(String::as_str).collect();
    let plain = build(
        &dir.join("one"),
        &job,
        &password,
        &tools.python,
        &plain_args,
    );
    assert_eq!(plain.code, 0, "{plain}");
    let plain_files = layer_files(&layout, &pip_layer(&plain.json()["data"]));
    assert!(
        plain_files.keys().all(|p| !p.ends_with(".pyc")),
        "{plain_files:?}"
    );
    assert_ne!(plain.json()["data"]["digest"], digest.as_str());

    // podman runs it with a read-only root: Python loads the pycs as they
    // are (`matches`, `code object from` the pyc), none is stale.
    let name = format!("localhost/windlass-compile-test:{}", std::process::id());
    let copy = tool(
        dir,
        &tools.skopeo,
        &[
            "copy",
            &format!("oci:{}:compiled", layout.display()),
            &format!("containers-storage:{name}"),
        ],
    );
    assert_eq!(copy.code, 0, "{copy}");
    let podman = tool(
        dir,
        &tools.podman,
        &[
            "--runtime",
            "runc",
            "--cgroup-manager",
            "cgroupfs",
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "-e",
            "PYTHONVERBOSE=1",
            &name,
        ],
    );
    let _ = tool(dir, &tools.podman, &["rmi", "-f", &name]);
    assert_eq!(podman.code, 0, "{podman}");
    assert!(
        podman
            .stdout
            .contains("trained on 6 reviews, accuracy 1.00"),
        "{podman}"
    );
    assert!(
        podman
            .stderr
            .contains(&format!("# code object from '/{pyc}'")),
        "{podman}"
    );
    assert!(!podman.stderr.contains("bytecode is stale"), "{podman}");

    run.assert_no_leak(&password);
    assert_no_leak_in_dir(dir, &password);
}

#[test]
fn without_a_host_python_of_the_images_version_compile_stops() {
    let services = Services::load();
    let base = services.python_base();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let job = job(dir, "http://127.0.0.1:9/simple/");
    // No `python3.11` on PATH, and a configured Python that is none.
    let empty = dir.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let base_arg = format!("oci:{}:{}", base.layout.display(), base.tag);
    let run = Cli::new(BIN, dir)
        .current_dir(&job)
        .env("PATH", &empty)
        .env("WINDLASS_PYTHON", "/bin/false")
        .env("INDEX_PASSWORD", "unused")
        .args(["build", "-f", "Containerfile", "--base", &base_arg])
        .args(["-o", "oci:out:job", "--compile"])
        .run();
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr
            .contains("byte-compiling needs a host CPython 3.11"),
        "{run}"
    );
    assert!(run.stderr.contains("`python3.11` was not found"), "{run}");
    assert!(run.stderr.contains("--no-compile"), "{run}");
    assert!(!job.join("out").exists(), "nothing is written");
}

/// pip's default (a Containerfile's `RUN pip install` without flags) asks
/// for bytecode but does not require it: without a host interpreter of the
/// image's version the build goes on without pycs and says so once.
#[tokio::test(flavor = "multi_thread")]
async fn pips_default_compilation_is_skipped_with_a_warning_without_a_host_python() {
    let services = Services::load();
    let base = services.python_base();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wheel = sentiment_wheel(&dir.join("dist")).await;
    let packages = dir.join("packages");
    std::fs::create_dir_all(&packages).unwrap();
    std::fs::copy(&wheel, packages.join(wheel.file_name().unwrap())).unwrap();
    let server = StockPypiserver::start(&services, &packages, Some("http://127.0.0.1:9/simple/"));
    let job = job(dir, &format!("{}simple/", server.url()));
    let password = canary("image-compile-default-password");
    let base_arg = format!("oci:{}:{}", base.layout.display(), base.tag);
    // A host Python of another version, as on a machine with only 3.12:
    // it runs pip (which downloads for the image's 3.11 by flags), but
    // answers the compiler's probe (`-c SCRIPT X.Y ROOT`) as 3.12 does.
    let tools = services.tools();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let python = bin.join("python-other");
    std::fs::write(
        &python,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -c ] && [ \"$3\" = 3.11 ] && [ \"$4\" = / ]; then echo 'cpython 3.12'; exit 97; fi\nexec {} \"$@\"\n",
            tools.python.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = Cli::new(BIN, dir)
        .current_dir(&job)
        .env("PATH", &bin)
        .env("WINDLASS_PYTHON", &python)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("INDEX_PASSWORD", &password)
        .args(["build", "-f", "Containerfile", "--base", &base_arg])
        .args(["-o", "oci:out:job", "--json"])
        .run();
    assert_eq!(run.code, 0, "{run}");
    run.assert_no_leak(&password);
    assert!(
        run.stderr.contains("not byte-compiling: no CPython 3.11"),
        "{run}"
    );
    let report = run.json()["data"].clone();
    let layer = pip_layer(&report);
    let files = layer_files(&job.join("out"), &layer);
    assert!(
        files.keys().any(|p| p.contains("sentiment_lab")),
        "the package is installed: {:?}",
        files.keys().collect::<Vec<_>>()
    );
    assert!(
        !files.keys().any(|p| p.ends_with(".pyc")),
        "no bytecode without a compiler: {:?}",
        files
            .keys()
            .filter(|p| p.ends_with(".pyc"))
            .collect::<Vec<_>>()
    );
}
