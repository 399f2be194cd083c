//! `[vault] auth = "kubernetes"` end to end: the real `windlass-secrets`
//! binary logs in to an OpenBao server of the test's own, whose kubernetes
//! auth method reviews real service-account tokens with the real API
//! server of the test cluster (`scripts/services.sh start`).
//!
//! The cluster (v1.20) issues the legacy service-account tokens the token
//! controller stores in a Secret per ServiceAccount (issuer
//! `kubernetes/serviceaccount`, no audience, no expiry): what a pod of such
//! a cluster has mounted at
//! `/var/run/secrets/kubernetes.io/serviceaccount/token`.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "test helpers: a failed fixture step should panic loudly"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::json;
use windlass_http::Method;
use windlass_testkit::cli::Cli;
use windlass_testkit::{Kube, Services, assert_no_leak, assert_no_leak_in_dir, canary};

use crate::support::{OwnBao, OwnMode};

/// The auth mount: not the default, so the test shows `mount` is used.
const MOUNT: &str = "cluster-a";
const ROLE: &str = "release";
/// How long the cluster gets to do what it does in the background (create
/// a token Secret, forget a deleted ServiceAccount's token).
const PATIENCE: Duration = Duration::from_secs(90);

/// A fresh namespace with ServiceAccounts, and the ClusterRoleBinding that
/// lets the reviewer call the TokenReview API; both deleted when dropped.
struct Cluster {
    kube: Kube,
    namespace: String,
    binding: String,
}

impl Cluster {
    fn new(accounts: &[&str]) -> Self {
        let kube = Services::load().kube();
        let namespace = kube.fresh_namespace("vault-k8s");
        for account in accounts {
            kube.kubectl(&["create", "serviceaccount", "-n", &namespace, account]);
        }
        // What a real cluster (RBAC) needs for Vault's token reviewer; the
        // test cluster authorizes everything, but the binding is the setup
        // the documentation describes.
        let binding = format!("{namespace}-token-reviewer");
        kube.kubectl(&[
            "create",
            "clusterrolebinding",
            &binding,
            "--clusterrole=system:auth-delegator",
            &format!("--serviceaccount={namespace}:reviewer"),
        ]);
        Self {
            kube,
            namespace,
            binding,
        }
    }

    /// The JWT of `account`, from the Secret the token controller made for
    /// it (waited for).
    fn token(&self, account: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let secret = self.get(&[
                "serviceaccount",
                account,
                "-o",
                "jsonpath={.secrets[0].name}",
            ]);
            if !secret.is_empty() {
                let token = self.get(&[
                    "secret",
                    &secret,
                    "-o",
                    "go-template={{if .data.token}}{{.data.token | base64decode}}{{end}}",
                ]);
                if !token.is_empty() {
                    return token;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the token controller made no token for the service account {account}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn get(&self, what: &[&str]) -> String {
        let mut args = vec!["get", "-n", &self.namespace];
        args.extend_from_slice(what);
        self.kube.kubectl(&args).trim().to_owned()
    }

    /// Waits until the API server no longer accepts `jwt` (it remembers an
    /// accepted token for a few seconds).
    fn wait_refused(&self, jwt: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.authenticates(jwt) {
            assert!(
                Instant::now() < deadline,
                "the API server still accepts a deleted service account's token"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Whether the API server authenticates `jwt` now (a TokenReview, as
    /// Vault makes one).
    fn authenticates(&self, jwt: &str) -> bool {
        let review = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": jwt},
        });
        let output = self.kube.kubectl_output(
            &[
                "create",
                "-f",
                "-",
                "-o",
                "jsonpath={.status.authenticated}",
            ],
            Some(&review.to_string()),
        );
        assert!(
            output.status.success(),
            "the token review failed: {}",
            text(&output.stderr)
        );
        text(&output.stdout).trim() == "true"
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.kube.kubectl_output(
            &[
                "delete",
                "namespace",
                &self.namespace,
                "--wait=false",
                "--ignore-not-found",
            ],
            None,
        );
        let _ = self.kube.kubectl_output(
            &[
                "delete",
                "clusterrolebinding",
                &self.binding,
                "--ignore-not-found",
            ],
            None,
        );
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Vault set up as a cluster operator would: the kubernetes auth method at
/// [`MOUNT`] reviewing tokens with `reviewer_jwt` against the test API
/// server over TLS, and [`ROLE`] for the ServiceAccounts `app` and `doomed`
/// of `namespace`, reading `secret/ci/k8s`.
async fn configure(bao: &OwnBao, kube: &Kube, namespace: &str, reviewer_jwt: &str) {
    bao.root(
        Method::POST,
        &format!("sys/auth/{MOUNT}"),
        json!({"type": "kubernetes"}),
    )
    .await;
    bao.root(
        Method::POST,
        &format!("auth/{MOUNT}/config"),
        json!({
            "kubernetes_host": kube.server,
            "kubernetes_ca_cert": std::fs::read_to_string(&kube.ca_file).unwrap(),
            "token_reviewer_jwt": reviewer_jwt,
            // Legacy Secret tokens are issued by `kubernetes/serviceaccount`,
            // not by the API server's --service-account-issuer.
            "issuer": "kubernetes/serviceaccount",
            "disable_iss_validation": false,
        }),
    )
    .await;
    bao.root(
        Method::PUT,
        "sys/policies/acl/k8s-read",
        json!({"policy": "path \"secret/data/ci/k8s\" { capabilities = [\"read\"] }"}),
    )
    .await;
    bao.root(
        Method::POST,
        &format!("auth/{MOUNT}/role/{ROLE}"),
        json!({
            "bound_service_account_names": ["app", "doomed"],
            "bound_service_account_namespaces": [namespace],
            "token_policies": ["k8s-read"],
            "token_ttl": "5m",
        }),
    )
    .await;
}

/// A scratch project logging in with the token in `sa/token`.
struct Project {
    dir: tempfile::TempDir,
    /// Where `exec` writes what its command saw (outside the project).
    out: tempfile::TempDir,
    addr: String,
}

impl Project {
    fn new(addr: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::create_dir(dir.path().join("sa")).unwrap();
        // token-file is relative to the project directory.
        std::fs::write(
            dir.path().join("windlass.toml"),
            format!(
                "[vault]\nauth = \"kubernetes\"\n\n[vault.kubernetes]\nmount = \"{MOUNT}\"\n\
                 role = \"{ROLE}\"\ntoken-file = \"sa/token\"\n"
            ),
        )
        .unwrap();
        Self {
            dir,
            out: tempfile::tempdir().unwrap(),
            addr: addr.to_owned(),
        }
    }

    fn token_file(&self) -> PathBuf {
        self.dir.path().join("sa/token")
    }

    /// Mounts `jwt` as the service-account token (with a trailing newline,
    /// as files often have).
    fn mount_token(&self, jwt: &str) {
        std::fs::write(self.token_file(), format!("{jwt}\n")).unwrap();
    }

    /// The binary, run from a subdirectory (the token file is found from
    /// the project, not the working directory), with no Vault token.
    fn cmd(&self) -> Cli {
        let sub = self.dir.path().join("src");
        std::fs::create_dir_all(&sub).unwrap();
        Cli::new(env!("CARGO_BIN_EXE_windlass-secrets"), self.dir.path())
            .current_dir(sub)
            .env("VAULT_ADDR", &self.addr)
    }

    /// `exec` putting the secret in `X` for a command that writes it to a
    /// file outside the project.
    fn exec(&self) -> Output {
        self.cmd()
            .env("OUT", self.seen())
            .args([
                "exec",
                "-e",
                "X=vault://secret/ci/k8s#token",
                "--",
                "sh",
                "-c",
                "printf %s \"$X\" > \"$OUT\"",
            ])
            .output()
    }

    fn seen(&self) -> PathBuf {
        self.out.path().join("seen")
    }

    fn normalise(&self, stderr: &[u8], namespace: &str) -> String {
        text(stderr)
            .replace(&self.addr, "http://BAO")
            .replace(namespace, "NAMESPACE")
            .replace(&self.dir.path().display().to_string(), "[PROJECT]")
    }
}

/// Neither `secrets` (the canary, the JWTs) appear in what a run printed.
fn assert_clean(output: &Output, secrets: &[&str]) {
    for secret in secrets {
        assert_no_leak(&output.stdout, secret);
        assert_no_leak(&output.stderr, secret);
    }
}

fn assert_in_dir_clean(dir: &Path, secret: &str) {
    assert_no_leak_in_dir(dir, secret);
}

/// A bound ServiceAccount's token logs in and reads the secret (`exec` and
/// `get`); an unbound ServiceAccount's token, a forged token and the token
/// of a deleted ServiceAccount are refused by Vault (exit 3), a file that
/// holds no JWT by Windlass (exit 2), each with an error naming the role
/// and the mount and a hint for that refusal, never the token. A deleted
/// reviewer makes Vault refuse even the bound token.
#[tokio::test]
async fn kubernetes_login_with_real_service_account_tokens() {
    let cluster = Cluster::new(&["app", "other", "doomed", "reviewer"]);
    let app = cluster.token("app");
    let other = cluster.token("other");
    let doomed = cluster.token("doomed");
    let reviewer = cluster.token("reviewer");
    assert!(cluster.authenticates(&app), "the API server refuses app");

    let bao = OwnBao::start(OwnMode::Http).await;
    configure(&bao, &cluster.kube, &cluster.namespace, &reviewer).await;
    let secret = canary("k8s");
    bao.root(
        Method::POST,
        "secret/data/ci/k8s",
        json!({"data": {"token": secret}}),
    )
    .await;
    let p = Project::new(&bao.addr);
    let jwts = [app.as_str(), other.as_str(), doomed.as_str(), &reviewer];
    let check = |output: &Output| {
        let mut secrets = vec![secret.as_str(), bao.root.as_str()];
        secrets.extend(jwts);
        assert_clean(output, &secrets);
        assert_in_dir_clean(p.dir.path(), &secret);
    };

    // The bound ServiceAccount: `exec` gives its command the secret.
    p.mount_token(&app);
    let output = p.exec();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(std::fs::read_to_string(p.seen()).unwrap(), secret);
    check(&output);
    // `get` prints it to a pipe, and nothing else.
    let output = p
        .cmd()
        .args(["get", "vault://secret/ci/k8s#token"])
        .output();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), secret);
    assert_no_leak(&output.stderr, &secret);
    for jwt in jwts {
        assert_no_leak(&output.stdout, jwt);
        assert_no_leak(&output.stderr, jwt);
    }

    // Refusals: the role and the mount named, the token never.
    let refused = |name: &str, code: i32| {
        std::fs::remove_file(p.seen()).ok();
        let output = p.exec();
        assert_eq!(output.status.code(), Some(code), "{}", text(&output.stderr));
        assert!(!p.seen().exists(), "{name}: the command ran");
        check(&output);
        let stderr = p.normalise(&output.stderr, &cluster.namespace);
        assert!(
            stderr.contains(&format!("auth/{MOUNT}")) && stderr.contains(&format!("`{ROLE}`")),
            "{name}: {stderr}"
        );
        stderr
    };

    // A real token of a ServiceAccount the role does not bind.
    p.mount_token(&other);
    insta::assert_snapshot!("unbound_service_account", refused("unbound", 3));

    // A forged token: the bound ServiceAccount's claims, a signature of
    // our own. Vault's role check passes (it reads the claims), the API
    // server's review refuses it.
    let forged = {
        let (signed, _signature) = app.rsplit_once('.').unwrap();
        format!("{signed}.{}", canary("forged").replace('-', "_"))
    };
    p.mount_token(&forged);
    let stderr = refused("forged", 3);
    assert_no_leak(stderr.as_bytes(), &forged);
    insta::assert_snapshot!("forged_token", stderr);

    // Not a JWT at all (a canary, so that a leak would show): refused
    // before anything is sent, as a configuration error.
    let garbage = canary("garbage-jwt");
    p.mount_token(&garbage);
    let stderr = refused("garbage", 2);
    assert_no_leak(stderr.as_bytes(), &garbage);
    insta::assert_snapshot!("garbage_token", stderr);

    // A bound ServiceAccount's token works until the ServiceAccount is
    // deleted; then the API server's TokenReview refuses it (once the
    // server's cache of accepted tokens forgets it: waited for).
    p.mount_token(&doomed);
    let output = p.exec();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    check(&output);
    cluster.kube.kubectl(&[
        "delete",
        "serviceaccount",
        "-n",
        &cluster.namespace,
        "doomed",
    ]);
    cluster.wait_refused(&doomed);
    insta::assert_snapshot!("deleted_service_account", refused("deleted", 3));

    // The bound token still works after all that.
    p.mount_token(&app);
    let output = p.exec();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    check(&output);

    // Vault's reviewer deleted: Vault cannot review even a good token, and
    // says so as for a bad token (the hint names both).
    cluster.kube.kubectl(&[
        "delete",
        "serviceaccount",
        "-n",
        &cluster.namespace,
        "reviewer",
    ]);
    cluster.wait_refused(&reviewer);
    insta::assert_snapshot!("reviewer_deleted", refused("reviewer deleted", 3));
}
