//! `windlass-wheel publish` interrupted: a SIGINT or SIGTERM during the
//! resolution of its credentials, or while the index does not answer, ends
//! the process with exit 130 after one `interrupted` line (and what was
//! done), and the Vault token it obtained for the credentials is revoked,
//! once.
//!
//! The real binary logs in with AppRole to the real OpenBao through a proxy
//! of the test's (the one the secrets tests use) that holds the secret
//! read, or holds every request to the index.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failing step is a failing test"
)]

mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use windlass_testkit::cli::{Cli, Run, Running};
use windlass_testkit::{Services, Slow, SlowProxy};

use crate::support::{fixture, wheel};

#[test]
fn publish_revokes_its_token_when_interrupted() {
    let services = Services::load();
    let bao = services.bao();
    let index = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let built = wheel(dir.path())
        .args(["build", "--wheel", "--backend", "native", "--out"])
        .arg(dir.path().join("dist"))
        .arg(fixture("flat-hatch"))
        .run();
    assert_eq!(built.code, 0, "{built}");
    std::fs::write(dir.path().join("windlass.toml"), bao.approle.vault_toml()).unwrap();
    let token = bao.kv2.reference();
    let cases = [
        (
            "SIGINT while the credentials are read",
            vec![
                ("/v1/secret/", Slow::Hold),
                ("/v1/sys/internal/ui/mounts/", Slow::Hold),
            ],
            vec![],
            Running::interrupt as fn(&Running),
        ),
        (
            "SIGTERM while the index does not answer",
            vec![],
            vec![("/", Slow::Hold)],
            Running::terminate,
        ),
    ];
    let mut report = Vec::new();
    for (name, vault_rules, index_rules, send) in cases {
        let vault = SlowProxy::start(&bao.addr, &vault_rules);
        let index = SlowProxy::start(&index.url, &index_rules);
        let running = Cli::new(env!("CARGO_BIN_EXE_windlass-wheel"), dir.path())
            .args(["publish", "--repository"])
            .arg(format!("{}/", index.url()))
            .args(["--token", &token])
            .env("VAULT_ADDR", vault.url())
            .env("ROLE_ID", &bao.approle.role_id)
            .env("WINDLASS_HTTP_RETRIES", "0")
            .env("WINDLASS_HTTP_INSECURE_HOSTS", "127.0.0.1")
            // Killed (and so reported) when it does not end after the signal.
            .timeout(Duration::from_secs(60))
            .spawn();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !vault.wait_slowed(Duration::from_millis(20))
            && !index.wait_slowed(Duration::from_millis(20))
        {
            assert!(Instant::now() < deadline, "{name}: nothing was held");
        }
        send(&running);
        let run = running.wait();
        assert!(vault.wait_idle(Duration::from_secs(30)));
        let stderr = &run.stderr;
        let accessors = vault.accessors();
        assert_eq!(accessors.len(), 1, "{name}: {stderr}");
        let revocations = vault
            .paths()
            .iter()
            .filter(|p| p.starts_with("/v1/auth/token/revoke"))
            .count();
        report.push(format!(
            "{name}: signal {:?}; exit {:?}; revoked {}; revoke requests {revocations}; warnings {}",
            run.signal,
            Some(run.code).filter(|_| run.signal.is_none()),
            !bao.accessor_valid(&accessors[0]),
            stderr.contains("WARN"),
        ));
    }
    insta::assert_snapshot!(report.join("\n"), @r"
    SIGINT while the credentials are read: signal None; exit Some(130); revoked true; revoke requests 1; warnings false
    SIGTERM while the index does not answer: signal None; exit Some(130); revoked true; revoke requests 1; warnings false
    ");
}

/// A copy of the `flat-hatch` fixture at `version`, built natively into
/// `out` (a wheel and an sdist).
fn build_version(root: &Path, version: &str, out: &Path) {
    let project = root.join(format!("project-{version}"));
    copy_tree(&fixture("flat-hatch"), &project);
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap().replace(
        "version = \"1.2.0-rc1\"",
        &format!("version = \"{version}\""),
    );
    std::fs::write(&pyproject, text).unwrap();
    let built = wheel(root)
        .args(["build", "--backend", "native", "--out"])
        .arg(out)
        .arg(&project)
        .run();
    assert_eq!(built.code, 0, "{built}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs `cli` until `index` holds a request, then sends it SIGINT and
/// returns how it ended.
fn interrupt_when_held(cli: Cli, index: &SlowProxy) -> Run {
    let running = cli
        .env("WINDLASS_HTTP_RETRIES", "0")
        .env("WINDLASS_HTTP_INSECURE_HOSTS", "127.0.0.1")
        .timeout(Duration::from_secs(120))
        .spawn();
    assert!(
        index.wait_slowed(Duration::from_secs(60)),
        "no upload reached the index"
    );
    running.interrupt();
    running.wait()
}

/// Ctrl-C while an upload is in flight: no further file starts, the
/// upload is dropped, one `interrupted` line, a summary of what was done
/// (skipped, not started, in flight) and exit 130; with `--json`, a result
/// document with exit code 130 and each file's status. The index (behind
/// a proxy of the test's) holds every upload unanswered until the signal;
/// the token, given by an `env://` reference, is never printed.
#[test]
fn publish_interrupted_mid_upload_reports_what_was_done() {
    let services = Services::load();
    let server = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let dist = dir.path().join("dist");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let (v1, v2) = (
        format!("1.{}.{}", stamp.as_secs(), stamp.subsec_nanos()),
        format!("1.{}.{}", stamp.as_secs(), stamp.subsec_nanos() + 1),
    );
    build_version(dir.path(), &v1, &dist);
    build_version(dir.path(), &v2, &dist);
    let sdist = format!("dist/./flat_hatch-{v1}.tar.gz");
    let wheel_file = format!("dist/flat_hatch-{v1}-py3-none-any.whl");
    let later = format!("dist/flat_hatch-{v2}-py3-none-any.whl");
    // The sdist is on the index already: skipped.
    let publisher =
        || Cli::new(env!("CARGO_BIN_EXE_windlass-wheel"), dir.path()).env("HOME", dir.path());
    let first = publisher()
        .args(["publish", "--no-credentials", "--repository"])
        .arg(server.upload_url())
        .arg(&sdist)
        .env("WINDLASS_HTTP_INSECURE_HOSTS", "127.0.0.1")
        .run();
    assert_eq!(first.code, 0, "{first}");

    let token = windlass_testkit::canary("pypi-token");
    let mut report = String::new();
    for json in [false, true] {
        let index = SlowProxy::start(&server.url, &[("/", Slow::Hold)]);
        let publish = publisher()
            .arg("publish")
            .args(json.then_some("--json"))
            .args(["-j", "1", "--token", "env://PYPI_TOKEN", "--repository"])
            .arg(format!("{}/", index.url()))
            .args(["--simple-url", &server.simple_url()])
            .args([&sdist, &wheel_file, &later])
            .env("PYPI_TOKEN", &token);
        let out = interrupt_when_held(publish, &index);
        let (stdout, stderr) = (&out.stdout, &out.stderr);
        let all = format!("{stdout}\n{stderr}");
        out.assert_no_leak(&token);
        assert_eq!(out.code, 130, "{all}");
        assert_eq!(
            stderr.lines().filter(|l| *l == "interrupted").count(),
            1,
            "{stderr}"
        );
        assert!(!all.contains("/./"), "{all}");
        // The one held upload is all the index saw: the third file never
        // started.
        assert_eq!(index.paths().len(), 1, "{:?}", index.paths());
        if json {
            let last: serde_json::Value =
                serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
            assert_eq!(last["exit_code"], 130, "{last}");
            assert_eq!(last["ok"], false, "{last}");
            assert_eq!(last["error"]["message"], "interrupted", "{last}");
            let statuses: Vec<&str> = last["data"]["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["status"].as_str().unwrap())
                .collect();
            let counts = ["uploaded", "skipped", "not_started", "in_flight"]
                .map(|k| format!("{k}={}", last["data"][k]));
            writeln!(report, "=== --json: {statuses:?} {counts:?}").unwrap();
        } else {
            write!(
                report,
                "=== human\n--- stdout\n{stdout}--- stderr\n{stderr}"
            )
            .unwrap();
        }
    }
    insta::with_settings!({filters => [
        windlass_testkit::cli::filters(),
        vec![(r"1\.\d+\.\d+", "[VERSION]")],
    ].concat()}, {
        insta::assert_snapshot!(report);
    });
}

/// Ctrl-C while a PEP 517 backend builds: the backend gets the signal, and
/// `build` ends with one `interrupted` line and exit 130.
#[test]
fn build_interrupted_in_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let project = dir.path().join("slow");
    std::fs::create_dir_all(project.join("_build")).unwrap();
    let started = dir.path().join("started");
    std::fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"slow_backend\"\nbackend-path = [\"_build\"]\n\n[project]\nname = \"slow\"\nversion = \"1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("_build/slow_backend.py"),
        format!(
            "import time\n\ndef build_sdist(d, config_settings=None):\n    open({:?}, 'w').close()\n    time.sleep(120)\n",
            started.display().to_string()
        ),
    )
    .unwrap();
    let mut running = wheel(dir.path())
        .args(["build", "--backend", "pep517", "--sdist", "--out"])
        .arg(dir.path().join("dist"))
        .arg(&project)
        .timeout(Duration::from_secs(300))
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !started.exists() {
        assert!(!running.has_ended(), "ended before the hook ran");
        assert!(Instant::now() < deadline, "the hook never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    running.interrupt();
    let out = running.wait();
    let stderr = &out.stderr;
    assert_eq!(out.code, 130, "{stderr}");
    assert_eq!(stderr.lines().last(), Some("interrupted"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| *l == "interrupted").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("error:"), "{stderr}");
}
