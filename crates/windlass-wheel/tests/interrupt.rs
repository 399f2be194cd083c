//! `windlass-wheel publish` interrupted: a SIGINT or SIGTERM during the
//! resolution of its credentials, or while the index does not answer, ends
//! the process like the signal, and the Vault token it obtained for the
//! credentials is revoked, once.
//!
//! The real binary logs in with AppRole to the real OpenBao through a proxy
//! of the test's (the one the secrets tests use) that holds the secret
//! read, or holds every request to the index.

#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    reason = "test code: the test is the parent that signals the binary, as a shell would"
)]

#[path = "../../windlass-secrets/tests/support/proxy.rs"]
mod proxy;

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use windlass_testkit::{Bao, Services};

use crate::proxy::{Action, Proxy};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../windlass-dist/tests/fixtures")
        .join(name)
}

/// Whether Vault still knows the token behind `accessor` (the `bao` CLI
/// with the root token).
fn accessor_valid(bao: &Bao, accessor: &str) -> bool {
    Command::new(&bao.bin)
        .args(["token", "lookup", "-accessor", accessor])
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", bao.root_token.expose())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn publish_revokes_its_token_when_interrupted() {
    let services = Services::load();
    let bao = services.bao();
    let index = services.pypiserver();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let built = Command::new(assert_cmd::cargo::cargo_bin("windlass-wheel"))
        .args(["build", "--wheel", "--backend", "native", "--out"])
        .arg(dir.path().join("dist"))
        .arg(fixture("flat-hatch"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    std::fs::write(
        dir.path().join("windlass.toml"),
        format!(
            "[vault]\nauth = \"approle\"\n\n[vault.approle]\nmount = \"{}\"\nrole-id = \"env://ROLE_ID\"\nsecret-id = \"file://{}\"\n",
            bao.approle.mount,
            bao.approle.secret_id_file.display()
        ),
    )
    .unwrap();
    let token = format!("vault://{}/{}#{}", bao.kv2.mount, bao.kv2.path, bao.kv2.key);
    let cases = [
        (
            "SIGINT while the credentials are read",
            vec![
                ("/v1/secret/", Action::Hold),
                ("/v1/sys/internal/ui/mounts/", Action::Hold),
            ],
            vec![],
            "-INT",
        ),
        (
            "SIGTERM while the index does not answer",
            vec![],
            vec![("/", Action::Hold)],
            "-TERM",
        ),
    ];
    let mut report = Vec::new();
    for (name, vault_rules, index_rules, signal) in cases {
        let vault = Proxy::start(&bao.addr, &vault_rules);
        let index = Proxy::start(&index.url, &index_rules);
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("windlass-wheel"))
            .args(["publish", "--repository"])
            .arg(format!("{}/", index.url()))
            .args(["--token", &token])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("VAULT_ADDR", vault.url())
            .env_remove("VAULT_TOKEN")
            .env("ROLE_ID", &bao.approle.role_id)
            .env("WINDLASS_HTTP_RETRIES", "0")
            .env("WINDLASS_HTTP_INSECURE_HOSTS", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !vault.wait_slowed(Duration::from_millis(20))
            && !index.wait_slowed(Duration::from_millis(20))
        {
            assert!(Instant::now() < deadline, "{name}: nothing was held");
        }
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{name}: still running");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(vault.wait_idle(Duration::from_secs(30)));
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        let accessors = vault.accessors();
        assert_eq!(accessors.len(), 1, "{name}: {stderr}");
        let revocations = vault
            .paths()
            .iter()
            .filter(|p| p.starts_with("/v1/auth/token/revoke"))
            .count();
        report.push(format!(
            "{name}: signal {:?}; revoked {}; revoke requests {revocations}; warnings {}",
            status.signal(),
            !accessor_valid(&bao, &accessors[0]),
            stderr.contains("WARN"),
        ));
    }
    insta::assert_snapshot!(report.join("\n"), @r"
    SIGINT while the credentials are read: signal Some(2); revoked true; revoke requests 1; warnings false
    SIGTERM while the index does not answer: signal Some(15); revoked true; revoke requests 1; warnings false
    ");
}
