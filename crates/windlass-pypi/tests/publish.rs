//! `publish` against the real pypiserver, devpi and OpenBao of
//! `scripts/services.sh`, checked with pip; every run is scanned for the
//! credentials it used.

#![allow(clippy::unwrap_used, reason = "tests panic on unexpected failures")]
#![allow(clippy::expect_used, reason = "tests panic on unexpected failures")]

mod support;

use std::fmt::Write as _;

use support::index::{FakeIndex, IndexConfig};
use support::{
    pip_install, publish, unique_name, unique_version, unique_wheels, write_sdist, write_wheel,
};
use windlass_testkit::{Services, StockPypiserver, TokenRequest, canary};

#[tokio::test(flavor = "multi_thread")]
async fn pypiserver_open_upload_install_skip_and_conflict() {
    let services = Services::load();
    let server = services.pypiserver();
    let tools = services.tools();
    let dir = tempfile::tempdir().unwrap();
    let (name, module) = unique_name("open");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "from-wheel", 0);
    let sdist = write_sdist(dir.path(), &name, &version, "from-sdist");
    let upload = server.upload_url();
    let files = [wheel.to_str().unwrap(), sdist.to_str().unwrap()];
    // The open index ignores credentials: a canary token is sent (to the
    // upload and the look-ups) and must show up nowhere.
    let token = canary("pypi-token");
    let env = [("PYPI_TOKEN", token.as_str())];
    let args = |extra: &[&'static str], files: &[&str]| -> Vec<String> {
        [
            "--repository",
            upload.as_str(),
            "--token",
            "env://PYPI_TOKEN",
        ]
        .iter()
        .chain(extra)
        .chain(files)
        .map(|a| (*a).to_owned())
        .collect()
    };
    let (home, env) = (dir.path(), &env);
    let run_with = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        publish(home, home, &args, env).await
    };

    // Dry run: a plan, nothing sent.
    let run = run_with(args(&["--dry-run", "--json"], &files)).await;
    assert_eq!(run.code, 0, "{run:#?}");
    run.assert_no_leak(&token);
    let plan = run.json();
    assert_eq!(plan["data"]["files"][0]["status"], "would-upload", "{plan}");
    assert!(
        plan["data"]["files"][0]["blake2_256"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );

    // Upload both.
    let run = run_with(args(&[], &files)).await;
    assert_eq!(run.code, 0, "{run:#?}");
    run.assert_no_leak(&token);
    // One status line per file, a summary with the count on stdout.
    assert_eq!(
        run.stderr.matches("    Uploaded ").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("Published 2 files to"),
        "{}",
        run.stdout
    );
    assert!(run.summary.contains("| uploaded |"), "{}", run.summary);

    // pip installs each from the index.
    let index = server.simple_url();
    let requirement = format!("{name}=={version}");
    let from_wheel = pip_install(
        &tools.python,
        dir.path(),
        &index,
        &requirement,
        &module,
        &["--only-binary", ":all:"],
    )
    .await;
    assert_eq!(from_wheel, "from-wheel");
    let from_sdist = pip_install(
        &tools.python,
        dir.path(),
        &index,
        &requirement,
        &module,
        &["--no-binary", ":all:"],
    )
    .await;
    assert_eq!(from_sdist, "from-sdist");

    // The same files again: skipped, exit 0.
    let run = run_with(args(&["--skip-existing", "--json"], &files)).await;
    assert_eq!(run.code, 0, "{run:#?}");
    run.assert_no_leak(&token);
    let report = run.json();
    assert_eq!(report["data"]["skipped"], 2, "{report}");

    // A different file under the same name: a conflict showing both hashes.
    let other = tempfile::tempdir().unwrap();
    let changed = write_wheel(other.path(), &name, &version, "changed", 0);
    let run = run_with(args(&[], &[changed.to_str().unwrap()])).await;
    assert_eq!(run.code, 1, "{run:#?}");
    run.assert_no_leak(&token);
    let original_sha = windlass_pypi::Distribution::inspect(&wheel).unwrap().sha256;
    let changed_sha = windlass_pypi::Distribution::inspect(&changed)
        .unwrap()
        .sha256;
    assert!(
        run.stdout.contains(&original_sha) && run.stdout.contains(&changed_sha),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("bad");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "x", 0);
    let not_a_dist = dir.path().join("notes.txt");
    std::fs::write(&not_a_dist, "hello").unwrap();
    // A server that does not exist: any request would fail with 3, not 2.
    let url = "http://127.0.0.1:9/";
    let password = canary("twine-password");
    let env = [
        ("TWINE_USERNAME", "windlass"),
        ("TWINE_PASSWORD", password.as_str()),
    ];
    for extra in [not_a_dist.to_str().unwrap(), "missing-1.0-py3-none-any.whl"] {
        let run = publish(
            dir.path(),
            dir.path(),
            &["--repository", url, wheel.to_str().unwrap(), extra],
            &env,
        )
        .await;
        assert_eq!(run.code, 2, "{run:#?}");
        assert!(run.stderr.contains("error:"), "{}", run.stderr);
        run.assert_no_leak(&password);
    }
    // A wheel whose metadata names another project.
    let other = tempfile::tempdir().unwrap();
    let lying = write_wheel(other.path(), "other-project", &version, "x", 0);
    let renamed = dir.path().join(format!(
        "{}-{version}-py3-none-any.whl",
        name.replace('-', "_")
    ));
    std::fs::remove_file(&renamed).ok();
    std::fs::rename(&lying, &renamed).unwrap();
    let run = publish(
        dir.path(),
        dir.path(),
        &["--repository", url, renamed.to_str().unwrap()],
        &env,
    )
    .await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("does not match"), "{}", run.stderr);
    run.assert_no_leak(&password);
}

#[tokio::test(flavor = "multi_thread")]
async fn pypiserver_htpasswd_from_pypirc() {
    let services = Services::load();
    let server = services.pypiserver_auth();
    let (user, password) = server.auth.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("rc");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "rc", 0);
    std::fs::write(
        dir.path().join(".pypirc"),
        format!(
            "[distutils]\nindex-servers =\n    local\n\n[local]\nrepository = {}\nusername = {user}\npassword = {}\n",
            server.upload_url(),
            password.expose()
        ),
    )
    .unwrap();
    let run = publish(
        dir.path(),
        dir.path(),
        &["-r", "local", wheel.to_str().unwrap()],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("    Uploaded "), "{}", run.stderr);
    assert!(run.stdout.contains("Published 1 file to"), "{}", run.stdout);
    run.assert_no_leak(password.expose());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_a_remote_failure_without_the_secret() {
    let services = Services::load();
    let server = services.pypiserver_auth();
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("wrong");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "x", 0);
    let secret = canary("pypi-password");
    let upload = server.upload_url();
    let run = publish(
        dir.path(),
        dir.path(),
        &[
            "-v",
            "--repository",
            upload.as_str(),
            wheel.to_str().unwrap(),
        ],
        &[("TWINE_USERNAME", "windlass"), ("TWINE_PASSWORD", &secret)],
    )
    .await;
    assert_eq!(run.code, 3, "{run:#?}");
    // pypiserver answers 403, others 401: either way the hint names the
    // credentials' source. The index's own words are shown at `-v`.
    assert!(
        run.stdout.contains("TWINE_USERNAME/TWINE_PASSWORD")
            && run.stdout.contains("index said  Error: 403"),
        "{}",
        run.stdout
    );
    run.assert_no_leak(&secret);
}

#[tokio::test(flavor = "multi_thread")]
async fn devpi_with_twine_variables() {
    let services = Services::load();
    let devpi = services.devpi();
    let tools = services.tools();
    let dir = tempfile::tempdir().unwrap();
    let (name, module) = unique_name("devpi");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "devpi-wheel", 0);
    let sdist = write_sdist(dir.path(), &name, &version, "devpi-sdist");
    let env = [
        ("TWINE_USERNAME", devpi.user.as_str()),
        ("TWINE_PASSWORD", devpi.password.expose().as_str()),
        ("TWINE_REPOSITORY_URL", &devpi.upload_url()),
    ];
    let files = [wheel.to_str().unwrap(), sdist.to_str().unwrap()];
    let run = publish(dir.path(), dir.path(), &files, &env).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stderr.matches("    Uploaded ").count(),
        2,
        "{}",
        run.stderr
    );
    run.assert_no_leak(devpi.password.expose());
    let got = pip_install(
        &tools.python,
        dir.path(),
        &devpi.simple_url(),
        &format!("{name}=={version}"),
        &module,
        &["--only-binary", ":all:"],
    )
    .await;
    assert_eq!(got, "devpi-wheel");
    // Again: both skipped by hash.
    let mut args = vec!["--skip-existing"];
    args.extend(files);
    let run = publish(dir.path(), dir.path(), &args, &env).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stderr.matches("     Skipped ").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("(0 uploaded, 2 skipped)"),
        "{}",
        run.stdout
    );
    run.assert_no_leak(devpi.password.expose());
    // Another file under the same name: a conflict.
    let other = tempfile::tempdir().unwrap();
    let changed = write_wheel(other.path(), &name, &version, "changed", 0);
    let run = publish(dir.path(), dir.path(), &[changed.to_str().unwrap()], &env).await;
    assert_eq!(run.code, 1, "{run:#?}");
    run.assert_no_leak(devpi.password.expose());
}

#[tokio::test(flavor = "multi_thread")]
async fn token_from_openbao_via_vault_reference() {
    let services = Services::load();
    let bao = services.bao();
    let server = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("bao");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "x", 0);
    std::fs::write(
        dir.path().join("windlass.toml"),
        format!(
            "[wheel.repositories.local]\nurl = \"{}\"\ntoken = \"vault://{}/{}#{}\"\n",
            server.upload_url(),
            bao.kv2.mount,
            bao.kv2.path,
            bao.kv2.key
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let run = publish(
        dir.path(),
        dir.path(),
        &["-r", "local", "--json", wheel.to_str().unwrap()],
        &[
            ("VAULT_ADDR", &bao.addr),
            ("VAULT_TOKEN", bao.read_token.expose()),
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    assert_eq!(
        report["data"]["credentials"], "windlass.toml [wheel.repositories.local]",
        "{report}"
    );
    run.assert_no_leak(bao.kv2.value.expose());
    run.assert_no_leak(bao.read_token.expose());
}

/// The index is killed in the middle of a parallel upload and restarted.
/// Uploads whose connection broke are looked up and retried; a connection
/// refused while it is down is final at once (nothing listens on that
/// loopback port), so such files fail, exit 3. Nothing is on the index
/// twice or under a wrong hash, and the next run, with the index back,
/// completes and uploads nothing twice.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines, reason = "one scenario, told in order")]
async fn index_killed_and_restarted_mid_upload() {
    let services = Services::load();
    let bin = std::path::PathBuf::from(services.var("WINDLASS_TEST_STATE_DIR"))
        .join("venv-services/bin/pypi-server");
    assert!(
        bin.exists(),
        "{} is missing; run scripts/services.sh install",
        bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("packages");
    std::fs::create_dir(&packages).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_text = port.to_string();
    let start = || {
        windlass_process::Cmd::new(&bin, dir.path())
            .args([
                "run",
                "-i",
                "127.0.0.1",
                "-p",
                &port_text,
                "-a",
                ".",
                "-P",
                ".",
                packages.to_str().unwrap(),
            ])
            .capture_output()
            .spawn()
            .unwrap()
    };
    let wait_up = || async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("pypiserver did not start on port {port}");
    };
    let server = start();
    wait_up().await;

    let dists = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..12 {
        let (name, _) = unique_name(&format!("kill{i}"));
        let version = unique_version();
        files.push(write_wheel(
            dists.path(),
            &name,
            &version,
            "k",
            8 * 1024 * 1024,
        ));
    }
    let upload = format!("http://127.0.0.1:{port}/");
    let mut args = vec![
        "--repository",
        upload.as_str(),
        "--no-credentials",
        "-j",
        "4",
        "--json",
    ];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));

    let killer = async {
        // Kill it as soon as the first file has landed: the others are in
        // flight or queued.
        while std::fs::read_dir(&packages).unwrap().next().is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        drop(server);
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let restarted = start();
        wait_up().await;
        restarted
    };
    let (run, restarted) = tokio::join!(publish(dir.path(), dir.path(), &args, &[]), killer);
    // pypiserver writes uploads in place: a file it was writing when killed
    // stays truncated on its disk. The client must then report a conflict
    // with both hashes, never a success; every file reported as uploaded
    // or skipped must be byte-identical on the index.
    assert!([0, 1, 3].contains(&run.code), "{run:#?}");
    let report = run.json();
    assert_eq!(
        report["data"]["failed"].as_u64().unwrap() > 0,
        run.code != 0,
        "{report}"
    );
    let entries = report["data"]["files"].as_array().unwrap().clone();
    let interrupted = entries
        .iter()
        .filter(|f| f["attempts"].as_u64().unwrap_or(0) > 1 || f["status"] != "uploaded")
        .count();
    assert!(interrupted > 0, "the kill interrupted nothing: {report}");
    check_index(&files, &packages, &entries, false);
    // With the index back, the next run completes: what failed is
    // uploaded now, the rest is skipped, truncated files are conflicts.
    let run2 = publish(dir.path(), dir.path(), &args, &[]).await;
    assert!(run2.code == 0 || run2.code == 1, "{run2:#?}");
    let entries2 = run2.json()["data"]["files"].as_array().unwrap().clone();
    check_index(&files, &packages, &entries2, true);
    // A third run agrees with the second and uploads nothing twice.
    let run3 = publish(dir.path(), dir.path(), &args, &[]).await;
    assert_eq!(run3.code, run2.code, "{run3:#?}");
    assert_eq!(run3.json()["data"]["uploaded"], 0);
    drop(restarted);
}

/// Every file is on the index at most once (and all of them when
/// `complete`), and what each report entry claims holds on disk.
fn check_index(
    files: &[std::path::PathBuf],
    packages: &std::path::Path,
    entries: &[serde_json::Value],
    complete: bool,
) {
    let mut on_disk: Vec<String> = std::fs::read_dir(packages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    if complete {
        assert_eq!(on_disk, expected, "nothing duplicated, nothing missing");
    } else {
        assert!(on_disk.iter().all(|f| expected.contains(f)), "{on_disk:?}");
    }
    for (file, entry) in files.iter().zip(entries) {
        let stored = std::fs::read(packages.join(file.file_name().unwrap())).ok();
        let identical = stored.as_deref() == Some(std::fs::read(file).unwrap().as_slice());
        match entry["status"].as_str().unwrap() {
            "uploaded" | "skipped" => assert!(identical, "{entry}"),
            "conflict" => {
                assert!(!identical, "{entry}");
                assert!(entry["error"]["index_sha256"].is_string(), "{entry}");
            }
            "failed" if !complete => {
                let message = entry["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains("cannot connect"), "{entry}");
            }
            other => panic!("unexpected status {other}: {entry}"),
        }
    }
}

/// A trusted-publishing scenario: a fake warehouse front (audience, mint,
/// upload) forwarding uploads to the real pypiserver, the local OIDC issuer
/// as GitHub Actions' token service.
struct Trusted {
    services: Services,
    index: FakeIndex,
    dir: tempfile::TempDir,
    files: Vec<std::path::PathBuf>,
}

impl Trusted {
    async fn new(lifetime: u64, files: usize) -> Self {
        let services = Services::load();
        let oidc = services.oidc();
        let server = services.pypiserver();
        let index = FakeIndex::start(IndexConfig {
            repository: oidc.repository.clone(),
            lifetime,
            ..IndexConfig::forwarding_to(server.upload_url())
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let files = (0..files)
            .map(|i| {
                let (name, _) = unique_name(&format!("tp{i}"));
                write_wheel(dir.path(), &name, &unique_version(), "tp", 0)
            })
            .collect();
        Self {
            services,
            index,
            dir,
            files,
        }
    }

    /// Publishes every file with the identity token that `request_url`
    /// hands out (`None`: no `ACTIONS_ID_TOKEN_REQUEST_*` at all).
    async fn publish(&self, request_url: Option<&str>, extra: &[&str]) -> support::Run {
        let oidc = self.services.oidc();
        let simple = self.services.pypiserver().simple_url();
        let mut args = vec![
            "--repository",
            self.index.url.as_str(),
            "--simple-url",
            simple.as_str(),
            "--json",
        ];
        args.extend_from_slice(extra);
        args.extend(self.files.iter().map(|f| f.to_str().unwrap()));
        let mut env = vec![];
        if let Some(url) = request_url {
            env.push(("ACTIONS_ID_TOKEN_REQUEST_URL", url));
            env.push((
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                oidc.request_token.expose().as_str(),
            ));
        }
        publish(self.dir.path(), self.dir.path(), &args, &env).await
    }

    /// Every credential of the scenario is absent from the run's output and
    /// files: the request token, every identity token and upload token.
    fn assert_no_leak(&self, run: &support::Run) {
        let seen = self.index.seen();
        run.assert_no_leak(self.services.oidc().request_token.expose());
        for secret in seen.jwts.iter().chain(&seen.minted) {
            run.assert_no_leak(secret);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_publishing_mints_masks_and_uploads() {
    let trusted = Trusted::new(900, 3).await;
    let oidc = trusted.services.oidc();
    let run = trusted.publish(Some(&oidc.request_url), &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    assert_eq!(report["data"]["uploaded"], 3, "{report}");
    assert_eq!(
        report["data"]["credentials"], "trusted publishing",
        "{report}"
    );
    let seen = trusted.index.seen();
    // One identity token, one upload token for the three files, each
    // masked before use; every upload carried the minted token.
    assert_eq!(seen.jwts.len(), 1, "{seen:?}");
    assert_eq!(seen.minted.len(), 1, "{seen:?}");
    assert!(run.masked(&seen.jwts[0]), "{}", run.commands);
    assert!(run.masked(&seen.minted[0]), "{}", run.commands);
    assert_eq!(
        seen.uploads,
        vec![format!("__token__:{}", seen.minted[0]); 3],
        "{seen:?}"
    );
    trusted.assert_no_leak(&run);

    // Everything is on the pypiserver: a second run mints nothing.
    let again = trusted
        .publish(Some(&oidc.request_url), &["--skip-existing"])
        .await;
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(again.json()["data"]["skipped"], 3, "{}", again.stdout);
    assert_eq!(trusted.index.seen().minted.len(), 1);
    trusted.assert_no_leak(&again);
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_publishing_mints_again_before_the_token_expires() {
    // Tokens that live 60 s are inside the re-mint margin: each of the two
    // sequential uploads gets a fresh one.
    let trusted = Trusted::new(60, 2).await;
    let oidc = trusted.services.oidc();
    let run = trusted.publish(Some(&oidc.request_url), &["-j", "1"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let seen = trusted.index.seen();
    assert_eq!(seen.minted.len(), 2, "{seen:?}");
    assert_ne!(seen.minted[0], seen.minted[1]);
    let expected: Vec<String> = seen
        .minted
        .iter()
        .map(|t| format!("__token__:{t}"))
        .collect();
    assert_eq!(seen.uploads, expected);
    assert!(
        seen.minted.iter().all(|t| run.masked(t)),
        "{}",
        run.commands
    );
    trusted.assert_no_leak(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_publishing_without_a_publisher_is_a_remote_failure() {
    let trusted = Trusted::new(900, 1).await;
    let oidc = trusted.services.oidc();
    // A job of another repository: a valid token that matches no publisher.
    let request_url = oidc.token_url(&TokenRequest {
        repository: Some("someone-else/fork".to_owned()),
        ..TokenRequest::default()
    });
    let run = trusted.publish(Some(&request_url), &[]).await;
    assert_eq!(run.code, 3, "{run:#?}");
    let report = run.json();
    let error = &report["data"]["files"][0]["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("invalid-publisher"),
        "{report}"
    );
    let hint = error["hint"].as_str().unwrap();
    assert!(
        hint.contains("trusted publisher") && hint.contains("on the index"),
        "{hint}"
    );
    let seen = trusted.index.seen();
    assert!(
        seen.minted.is_empty() && seen.uploads.is_empty(),
        "{seen:?}"
    );
    assert_eq!(seen.jwts.len(), 1, "{seen:?}");
    assert!(run.masked(&seen.jwts[0]), "{}", run.commands);
    trusted.assert_no_leak(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_publishing_with_an_expired_identity_token_fails() {
    let trusted = Trusted::new(900, 1).await;
    let oidc = trusted.services.oidc();
    let request_url = oidc.token_url(&TokenRequest {
        exp_offset: Some(-60),
        ..TokenRequest::default()
    });
    let run = trusted.publish(Some(&request_url), &[]).await;
    assert_eq!(run.code, 3, "{run:#?}");
    let report = run.json();
    let error = &report["data"]["files"][0]["error"];
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("invalid-token") && message.contains("expired"),
        "{report}"
    );
    assert!(
        error["hint"].as_str().unwrap().contains("expired"),
        "{report}"
    );
    assert!(trusted.index.seen().uploads.is_empty());
    trusted.assert_no_leak(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_publishing_without_an_identity_token_is_a_usage_error() {
    let trusted = Trusted::new(900, 1).await;
    let run = trusted
        .publish(None, &["--trusted-publishing", "always"])
        .await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("permissions: id-token: write"),
        "{}",
        run.stderr
    );
    let seen = trusted.index.seen();
    assert!(seen.jwts.is_empty() && seen.uploads.is_empty(), "{seen:?}");
    trusted.assert_no_leak(&run);
}

/// An index that redirects the look-up of a project it lacks to another
/// index (pypiserver's fallback to pypi.org) does not have the file, even
/// when the other index has a different file of that name.
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_redirected_to_another_index_means_absent() {
    let services = Services::load();
    let server = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("fallback");
    let version = unique_version();
    // The other index holds a file of that name.
    let elsewhere = tempfile::tempdir().unwrap();
    let theirs = write_wheel(elsewhere.path(), &name, &version, "theirs", 0);
    let upload = server.upload_url();
    let run = publish(
        dir.path(),
        dir.path(),
        &[
            "--repository",
            upload.as_str(),
            "--no-credentials",
            theirs.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    // This index lacks the project and sends look-ups there.
    let index = FakeIndex::start(IndexConfig {
        fallback: Some(server.simple_url()),
        ..IndexConfig::forwarding_to(upload.clone())
    })
    .await;
    let ours = write_wheel(dir.path(), &name, &version, "ours", 0);
    let simple = format!("{}simple/", index.url);
    let run = publish(
        dir.path(),
        dir.path(),
        &[
            "--repository",
            index.url.as_str(),
            "--simple-url",
            simple.as_str(),
            "--dry-run",
            "--no-credentials",
            "--json",
            ours.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let plan = run.json();
    assert_eq!(plan["data"]["files"][0]["status"], "would-upload", "{plan}");
    assert_eq!(
        plan["data"]["files"][0]["reason"], "not on the index yet",
        "{plan}"
    );
}

/// A look-up never leaves the index's origin: the fallback index is never
/// contacted (it would learn the name of a private project), and a reader's
/// password in `--simple-url` shows nowhere: not in the plan, the JSON, the
/// step summary or a file.
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_never_leaves_the_origin_and_simple_url_credentials_stay_hidden() {
    let services = Services::load();
    let server = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("origin");
    let version = unique_version();
    // Where the index sends look-ups for what it lacks: it counts visitors.
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let index = FakeIndex::start(IndexConfig {
        fallback: Some(format!(
            "http://{}/simple/",
            elsewhere.local_addr().unwrap()
        )),
        ..IndexConfig::forwarding_to(server.upload_url())
    })
    .await;
    let password = canary("simple-url-password");
    let mut simple = url::Url::parse(&format!("{}simple/", index.url)).unwrap();
    simple.set_username("reader").unwrap();
    simple.set_password(Some(&password)).unwrap();
    let wheel = write_wheel(dir.path(), &name, &version, "ours", 0);
    for json in [false, true] {
        let mut args = vec![
            "--repository",
            index.url.as_str(),
            "--simple-url",
            simple.as_str(),
            "--dry-run",
            "--no-credentials",
        ];
        if json {
            args.push("--json");
        }
        args.push(wheel.to_str().unwrap());
        let run = publish(dir.path(), dir.path(), &args, &[]).await;
        assert_eq!(run.code, 0, "{run:#?}");
        run.assert_no_leak(&password);
        assert!(run.summary.contains("reader:****@"), "{}", run.summary);
        if json {
            let plan = run.json();
            assert_eq!(plan["data"]["files"][0]["status"], "would-upload", "{plan}");
        }
    }
    assert!(
        elsewhere.accept().is_err(),
        "the look-up followed the redirect to another origin"
    );
}

/// After the index refuses the credentials (403), no other file is
/// started: one upload attempt in all, the rest reported as not started,
/// one error naming where the credentials came from.
#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_stop_the_other_files() {
    let services = Services::load();
    let server = services.pypiserver();
    // Refuses every token it did not mint with 403, and counts uploads.
    let index = FakeIndex::start(IndexConfig::forwarding_to(server.upload_url())).await;
    let dir = tempfile::tempdir().unwrap();
    let files = unique_wheels(dir.path(), "refused", 3);
    let simple = server.simple_url();
    let mut args = vec![
        "--repository",
        index.url.as_str(),
        "--simple-url",
        simple.as_str(),
        "-j",
        "4",
    ];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let password = canary("twine-password");
    let run = publish(
        dir.path(),
        dir.path(),
        &args,
        &[
            ("TWINE_USERNAME", "windlass"),
            ("TWINE_PASSWORD", &password),
        ],
    )
    .await;
    assert_eq!(run.code, 3, "{run:#?}");
    run.assert_no_leak(&password);
    assert_eq!(index.seen().uploads.len(), 1, "{run:#?}");
    insta::with_settings!({filters => [windlass_testkit::cli::filters(), vec![
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"wl[-_]refused[-_]\d+", "[NAME]"),
        (r"1\.\d+\.\d+", "[VERSION]"),
    ]].concat()}, {
        insta::assert_snapshot!(run.stdout.replace(&dir.path().display().to_string(), "[TMP]"));
    });
}

/// A dry run that cannot reach the index has no plan: exit 3, each file
/// says why, and nothing claims it "would upload".
#[tokio::test(flavor = "multi_thread")]
async fn dry_run_against_a_dead_port_has_no_plan() {
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("dead");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "x", 0);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let token = canary("pypi-token");
    for json in [false, true] {
        let mut args = vec![
            "--repository",
            url.as_str(),
            "--token",
            "env://PYPI_TOKEN",
            "--dry-run",
        ];
        if json {
            args.push("--json");
        }
        args.push(wheel.to_str().unwrap());
        let run = publish(dir.path(), dir.path(), &args, &[("PYPI_TOKEN", &token)]).await;
        assert_eq!(run.code, 3, "{run:#?}");
        run.assert_no_leak(&token);
        assert!(!run.stdout.contains("would upload"), "{}", run.stdout);
        assert!(!run.stdout.contains("would-upload"), "{}", run.stdout);
        if json {
            let plan = run.json();
            assert_eq!(plan["data"]["files"][0]["status"], "failed", "{plan}");
        } else {
            insta::with_settings!({filters => [windlass_testkit::cli::filters(), vec![
                (r"\b[0-9a-f]{64}\b", "[HASH]"),
                (r"wl[-_]dead[-_]\d+", "[NAME]"),
                (r"1\.\d+\.\d+", "[VERSION]"),
            ]].concat()}, {
                insta::assert_snapshot!(run.stdout.replace(&dir.path().display().to_string(), "[TMP]"));
            });
        }
    }
}

/// With nothing configured and a terminal to ask on, the token is asked
/// for (hidden input), sent as `__token__`, and shown nowhere.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_typed_at_the_prompt_is_used_and_never_shown() {
    let services = Services::load();
    let server = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("prompt");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "x", 0);
    let token = canary("typed-token");
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (answer, questions) = (token.clone(), asked.clone());
    let prompt = windlass_pypi::TokenPrompt::new(move |question| {
        questions.lock().unwrap().push(question.to_owned());
        Ok(format!("{answer}\n"))
    });
    let upload = server.upload_url();
    let run = support::publish_with_prompt(
        dir.path(),
        dir.path(),
        &[
            "--repository",
            upload.as_str(),
            "--json",
            wheel.to_str().unwrap(),
        ],
        &[],
        Some(prompt),
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    run.assert_no_leak(&token);
    let report = run.json();
    assert_eq!(report["data"]["credentials"], "the prompt", "{report}");
    assert_eq!(report["data"]["files"][0]["status"], "uploaded", "{report}");
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains(upload.as_str()), "{asked:?}");
}

/// The requests of each kind an index saw.
fn count(requests: &[String], prefix: &str) -> usize {
    requests.iter().filter(|r| r.starts_with(prefix)).count()
}

/// An index that answers 503 to everything: retries stop at the time
/// budget, whatever the number of files. With a budget of zero nothing is
/// retried: each file costs exactly one look-up, one upload and the
/// look-up after it. With a budget, each file's attempts stay within
/// `http.retries`, and the error says what ended them.
#[tokio::test(flavor = "multi_thread")]
async fn an_unavailable_index_costs_one_retry_budget() {
    let services = Services::load();
    let server = services.pypiserver();
    let index = FakeIndex::start(IndexConfig::forwarding_to(server.upload_url())).await;
    index.set_unavailable(true);
    let dir = tempfile::tempdir().unwrap();
    let files = unique_wheels(dir.path(), "down", 5);
    let mut args = vec![
        "--repository",
        index.url.as_str(),
        "--no-credentials",
        "-j",
        "4",
    ];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));

    let run = publish(
        dir.path(),
        dir.path(),
        &args,
        &[("WINDLASS_HTTP_RETRY_BUDGET", "0")],
    )
    .await;
    assert_eq!(run.code, 3, "{run:#?}");
    let requests = index.seen().requests;
    assert_eq!(count(&requests, "POST /"), 5, "{requests:#?}");
    assert_eq!(count(&requests, "GET /simple/"), 10, "{requests:#?}");
    assert_eq!(requests.len(), 15, "{requests:#?}");
    assert!(!run.stderr.contains("Retrying"), "{}", run.stderr);
    let failures = run
        .stdout
        .lines()
        .skip_while(|line| !line.contains("wl"))
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    insta::with_settings!({filters => [windlass_testkit::cli::filters(), vec![
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"wl[-_]down[-_]\d+", "[NAME]"),
        (r"1\.\d+\.\d+", "[VERSION]"),
    ]].concat()}, {
        insta::assert_snapshot!(failures.replace(&dir.path().display().to_string(), "[TMP]"));
    });

    // `http.retries = 2`, a budget long enough for every retry.
    let seen_before = index.seen().requests.len();
    let mut json_args = args.clone();
    json_args.push("--json");
    let run = publish(
        dir.path(),
        dir.path(),
        &json_args,
        &[
            ("WINDLASS_HTTP_RETRY_BUDGET", "60s"),
            ("WINDLASS_HTTP_RETRIES", "2"),
        ],
    )
    .await;
    assert_eq!(run.code, 3, "{run:#?}");
    let report = run.json();
    let requests = index.seen().requests[seen_before..].to_vec();
    // Per file: at most 3 uploads, each followed by one look-up, and at
    // most 3 attempts of the look-up before them.
    assert!(count(&requests, "POST /") <= 15, "{requests:#?}");
    assert!(count(&requests, "GET /simple/") <= 30, "{requests:#?}");
    for file in report["data"]["files"].as_array().unwrap() {
        assert_eq!(file["status"], "failed", "{file}");
        let attempts = file["attempts"].as_u64().unwrap();
        assert!((1..=3).contains(&attempts), "{file}");
        let message = file["error"]["message"].as_str().unwrap();
        assert!(message.contains("503"), "{message}");
    }
}

/// Nothing listening on a loopback port: the upload fails at once (one
/// connection attempt per request, no retry), exit 3 with one error per
/// file.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_loopback_port_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("deadport");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "x", 0);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let run = publish(
        dir.path(),
        dir.path(),
        &[
            "--repository",
            url.as_str(),
            "--no-credentials",
            "--json",
            wheel.to_str().unwrap(),
        ],
        // A budget that would allow minutes of retrying.
        &[("WINDLASS_HTTP_RETRY_BUDGET", "10m")],
    )
    .await;
    assert_eq!(run.code, 3, "{run:#?}");
    let report = run.json();
    let files = report["data"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["status"], "failed", "{report}");
    assert_eq!(files[0]["attempts"], 1, "{report}");
    let message = files[0]["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("cannot connect for POST"), "{message}");
    assert!(!message.contains("attempts"), "{message}");
    assert!(!run.stderr.contains("Retrying"), "{}", run.stderr);
}

/// People read one line per file (a status line on stderr as each file is
/// done) and a summary with counts in the right number; `-v` adds every
/// detail. A path given as `dist/./x.whl` is shown without the `/./`.
#[tokio::test(flavor = "multi_thread")]
async fn human_output_at_default_and_verbose() {
    let services = Services::load();
    let server = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    let (name, _) = unique_name("human");
    let version = unique_version();
    let wheel = write_wheel(&dist, &name, &version, "x", 0);
    let sdist = write_sdist(&dist, &name, &version, "x");
    let wheel_name = wheel.file_name().unwrap().to_str().unwrap().to_owned();
    let dotted = format!("dist/./{wheel_name}");
    let upload = server.upload_url();
    let token = canary("pypi-token");
    let env = [("PYPI_TOKEN", token.as_str())];
    let base = [
        "--repository",
        upload.as_str(),
        "--token",
        "env://PYPI_TOKEN",
    ];
    let mut report = String::new();
    let cases: [(&str, Vec<&str>); 3] = [
        ("one file", vec![dotted.as_str()]),
        (
            "two files, one skipped",
            vec![dotted.as_str(), sdist.to_str().unwrap()],
        ),
        (
            "-v, both skipped",
            vec![
                "-v",
                "--skip-existing",
                dotted.as_str(),
                sdist.to_str().unwrap(),
            ],
        ),
    ];
    for (case, extra) in cases {
        let args: Vec<&str> = base.iter().copied().chain(extra).collect();
        let run = publish(dir.path(), dir.path(), &args, &env).await;
        assert_eq!(run.code, 0, "{case}: {run:#?}");
        run.assert_no_leak(&token);
        assert!(!run.all_output().contains("/./"), "{case}: {run:#?}");
        write!(
            report,
            "=== {case}\n--- stdout\n{}--- stderr\n{}",
            run.stdout, run.stderr
        )
        .unwrap();
    }
    insta::with_settings!({filters => [windlass_testkit::cli::filters(), vec![
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"wl[-_]human[-_]\d+", "[NAME]"),
        (r"1\.\d+\.\d+", "[VERSION]"),
    ]].concat()}, {
        insta::assert_snapshot!(report.replace(&dir.path().display().to_string(), "[TMP]"));
    });
}

/// An index in front of the open pypiserver that takes anyone's uploads,
/// counts requests and connections, and answers look-ups with 404 (or
/// redirects them to `fallback`).
async fn counting_index(fallback: Option<String>) -> FakeIndex {
    let services = Services::load();
    FakeIndex::start(IndexConfig {
        fallback,
        anyone_uploads: true,
        ..IndexConfig::forwarding_to(services.pypiserver().upload_url())
    })
    .await
}

/// Look-ups are per project, not per file, and the files of a run share
/// a few connections: `jobs` for uploads and as many for look-ups at most.
#[tokio::test(flavor = "multi_thread")]
async fn one_lookup_per_project_and_connections_per_job() {
    let index = counting_index(None).await;
    let dir = tempfile::tempdir().unwrap();
    let (one, _) = unique_name("once");
    let (other, _) = unique_name("twice");
    // Ten files of one project: five versions, a wheel and an sdist each.
    let mut files = Vec::new();
    for _ in 0..5 {
        let version = unique_version();
        files.push(write_wheel(dir.path(), &one, &version, "x", 0));
        files.push(write_sdist(dir.path(), &one, &version, "x"));
    }
    let mut args = vec![
        "--repository",
        index.url.as_str(),
        "--no-credentials",
        "-j",
        "2",
    ];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let run = publish(dir.path(), dir.path(), &args, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let seen = index.seen();
    let normalized = one.replace('_', "-");
    assert_eq!(count(&seen.requests, "POST /"), 10, "{seen:#?}");
    assert_eq!(
        count(&seen.requests, &format!("GET /simple/{normalized}/")),
        1,
        "{seen:#?}"
    );
    assert_eq!(count(&seen.requests, "GET "), 1, "{seen:#?}");
    // Eleven requests; at most two uploads and two look-ups at once.
    assert!(
        seen.connections <= 4,
        "{} connections: {seen:#?}",
        seen.connections
    );

    // Two projects: two look-ups, each once.
    let before = index.seen().requests.len();
    let version = unique_version();
    let files = [
        write_wheel(dir.path(), &one, &version, "x", 0),
        write_sdist(dir.path(), &one, &version, "x"),
        write_wheel(dir.path(), &other, &version, "x", 0),
        write_sdist(dir.path(), &other, &version, "x"),
    ];
    let mut args = vec!["--repository", index.url.as_str(), "--no-credentials"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let run = publish(dir.path(), dir.path(), &args, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let requests = index.seen().requests[before..].to_vec();
    assert_eq!(count(&requests, "POST /"), 4, "{requests:#?}");
    assert_eq!(count(&requests, "GET "), 2, "{requests:#?}");
    for name in [&one, &other] {
        let page = format!("GET /simple/{}/", name.replace('_', "-"));
        assert_eq!(count(&requests, &page), 1, "{requests:#?}");
    }
}

/// Look-ups overlap the checks, uploads never do: a file that cannot be
/// published, found after the projects were looked up, stops the run
/// before any upload, whether the caller's check finds it (here a check
/// that fails once the index has answered a look-up, exit 1) or reading
/// the file does (the last file's metadata names another project, exit 2).
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_file_found_after_the_lookups_stops_before_any_upload() {
    let index = counting_index(None).await;
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("late");
    let mut files = Vec::new();
    for _ in 0..4 {
        files.push(write_wheel(dir.path(), &name, &unique_version(), "x", 0));
    }
    let mut args = vec!["--repository", index.url.as_str(), "--no-credentials"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let page = format!("GET /simple/{}/", name.replace('_', "-"));

    // The caller's check fails only once the look-up was answered.
    let check = async {
        for _ in 0..3000 {
            if count(&index.seen().requests, &page) > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Err(windlass_output::Classified::new(anyhow::anyhow!(
            "1 problem found in `late.whl`, so nothing was published"
        ))
        .with_status(windlass_output::ExitStatus::Failure)
        .into())
    };
    let run = support::publish_checked(dir.path(), dir.path(), &args, &[], None, check).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("so nothing was published"),
        "{}",
        run.stderr
    );
    let seen = index.seen();
    assert_eq!(count(&seen.requests, &page), 1, "{seen:#?}");
    assert_eq!(count(&seen.requests, "POST "), 0, "{seen:#?}");

    // The last file given says it is another project than its name.
    let other = tempfile::tempdir().unwrap();
    let version = unique_version();
    let lying = write_wheel(other.path(), "other-project", &version, "x", 0);
    let renamed = dir.path().join(format!(
        "{}-{version}-py3-none-any.whl",
        name.replace('-', "_")
    ));
    std::fs::rename(&lying, &renamed).unwrap();
    args.push(renamed.to_str().unwrap());
    let run = publish(dir.path(), dir.path(), &args, &[]).await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("does not match"), "{}", run.stderr);
    assert_eq!(
        count(&index.seen().requests, "POST "),
        0,
        "{:#?}",
        index.seen()
    );
}

/// A look-up that the index redirects to another origin (pypiserver's
/// fallback) means "not on this index": the other origin is never
/// contacted, every file is uploaded, and `-v` says so once per project.
#[tokio::test(flavor = "multi_thread")]
async fn a_cross_origin_redirect_costs_nothing_and_publishing_proceeds() {
    // Where the index sends look-ups for what it lacks: it counts visitors.
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let index = counting_index(Some(format!(
        "http://{}/simple/",
        elsewhere.local_addr().unwrap()
    )))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("redirected");
    let version = unique_version();
    let files = [
        write_wheel(dir.path(), &name, &version, "x", 0),
        write_sdist(dir.path(), &name, &version, "x"),
    ];
    let token = canary("redirected-token");
    let mut args = vec![
        "--repository",
        index.url.as_str(),
        "--token",
        "env://PYPI_TOKEN",
        "-v",
    ];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let run = publish(dir.path(), dir.path(), &args, &[("PYPI_TOKEN", &token)]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    run.assert_no_leak(&token);
    let seen = index.seen();
    assert_eq!(count(&seen.requests, "POST /"), 2, "{seen:#?}");
    assert_eq!(count(&seen.requests, "GET /simple/"), 1, "{seen:#?}");
    assert_eq!(
        run.stderr.matches("not on this index").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        elsewhere.accept().is_err(),
        "the look-up followed the redirect to another origin"
    );
}

/// Against a real pypiserver with its fallback on, publishing works (a
/// second run skips what the first uploaded) and the fallback target is
/// never contacted.
#[tokio::test(flavor = "multi_thread")]
async fn stock_pypiserver_with_fallback_on() {
    let services = Services::load();
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let packages = tempfile::tempdir().unwrap();
    let fallback = format!("http://{}/simple/", elsewhere.local_addr().unwrap());
    let server = StockPypiserver::start(&services, packages.path(), Some(&fallback));
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("stock");
    let version = unique_version();
    let files = [
        write_wheel(dir.path(), &name, &version, "x", 0),
        write_sdist(dir.path(), &name, &version, "x"),
    ];
    let mut args = vec!["--repository", url.as_str(), "--no-credentials", "--json"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let run = publish(dir.path(), dir.path(), &args, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    for file in report["data"]["files"].as_array().unwrap() {
        assert_eq!(file["status"], "uploaded", "{file}");
    }
    let run = publish(dir.path(), dir.path(), &args, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    for file in report["data"]["files"].as_array().unwrap() {
        assert_eq!(file["status"], "skipped", "{file}");
    }
    assert!(
        elsewhere.accept().is_err(),
        "a look-up followed pypiserver's fallback redirect"
    );
}

/// The library with a `file:` repository (as `windlass release --local`
/// calls it): the files land in a static index with its pages, the step
/// summary names the file URL, a re-run skips; a repository of
/// windlass.toml with a `file:` URL and a token is refused without the
/// token showing; a fifo where a file belongs is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_url_is_a_local_index() {
    let dir = tempfile::tempdir().unwrap();
    let (name, _) = unique_name("local");
    let version = unique_version();
    let wheel = write_wheel(dir.path(), &name, &version, "from-wheel", 0);
    let sdist = write_sdist(dir.path(), &name, &version, "from-sdist");
    let root = dir.path().join("simple");
    let url = format!("file://{}/", root.display());
    let files = [wheel.to_str().unwrap(), sdist.to_str().unwrap()];
    let home = dir.path();
    let mut args = vec!["--repository", url.as_str(), "--json"];
    args.extend(files);

    let run = publish(home, home, &args, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    assert_eq!(report["data"]["uploaded"], 2, "{report}");
    assert!(run.summary.contains(&url), "{}", run.summary);
    let normalized = name.to_lowercase();
    let page = std::fs::read_to_string(root.join(&normalized).join("index.html")).unwrap();
    for file in [&wheel, &sdist] {
        let filename = file.file_name().unwrap().to_str().unwrap();
        assert!(
            page.contains(&format!("href=\"{filename}#sha256=")),
            "{page}"
        );
    }
    assert!(page.contains("data-requires-python=\"&gt;=3.8\""), "{page}");
    let again = publish(home, home, &args, &[]).await;
    assert_eq!(again.json()["data"]["skipped"], 2, "{again:#?}");

    let token = canary("local-index-config-token");
    std::fs::write(
        dir.path().join("windlass.toml"),
        format!("[wheel.repositories.local]\nurl = \"{url}\"\ntoken = \"env://LOCAL_TOKEN\"\n"),
    )
    .unwrap();
    let refused = publish(
        home,
        home,
        &["--repository", "local", files[0]],
        &[("LOCAL_TOKEN", token.as_str())],
    )
    .await;
    assert_eq!(refused.code, 2, "{refused:#?}");
    assert!(
        refused
            .stderr
            .contains("a local index takes no credentials, but `token` in [wheel.repositories.local] was given"),
        "{}",
        refused.stderr
    );
    refused.assert_no_leak(&token);
    std::fs::remove_file(dir.path().join("windlass.toml")).unwrap();

    std::fs::create_dir(dir.path().join("other")).unwrap();
    let other = write_wheel(&dir.path().join("other"), &name, &unique_version(), "x", 0);
    let other_name = other.file_name().unwrap().to_str().unwrap();
    windlass_testkit::mkfifo(&root.join(&normalized).join(other_name));
    let fifo = publish(
        home,
        home,
        &["--repository", url.as_str(), other.to_str().unwrap()],
        &[],
    )
    .await;
    assert_eq!(fifo.code, 2, "{fifo:#?}");
    assert!(
        fifo.stderr.contains("is a fifo, not a regular file"),
        "{}",
        fifo.stderr
    );
}
