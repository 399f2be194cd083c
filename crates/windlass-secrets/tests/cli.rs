//! The real `windlass-secrets` binary: every command and error path, with a
//! canary secret searched for in everything it leaves behind.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::type_complexity,
    clippy::format_push_string,
    reason = "test helpers: a failed fixture step should panic loudly"
)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};
use windlass_http::{HttpClient, HttpConfig, Method};
use windlass_redact::RedactedUrl;
use windlass_testkit::{Bao, Services, assert_no_leak, assert_no_leak_in_dir, canary};

/// A scratch project with a canary secret stored in OpenBao at
/// `secret/ci/<name>#token` (readable by the `ci-read` policy).
struct Project {
    dir: tempfile::TempDir,
    bao: Bao,
    canary: String,
    path: String,
}

impl Project {
    async fn new(name: &str) -> Self {
        let bao = Services::load().bao();
        let canary = canary(name);
        let path = format!("ci/{name}-{}", std::process::id());
        let client = HttpClient::new(&HttpConfig::default()).unwrap();
        let url = RedactedUrl::parse(&format!("{}/v1/secret/data/{path}", bao.addr)).unwrap();
        let body = json!({"data": {"token": canary, "user": "release-bot"}});
        client
            .send(Method::POST, &url, |r| {
                r.header("X-Vault-Token", bao.root_token.expose().as_str())
                    .json(&body)
            })
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        // The repository root: windlass.toml discovery stops here, so no
        // file above the temporary directory applies.
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        Self {
            dir,
            bao,
            canary,
            path,
        }
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.dir.path().join("windlass.toml"), text).unwrap();
    }

    fn reference(&self) -> String {
        format!("vault://secret/{}#token", self.path)
    }

    /// The binary in the project directory, reading the canary with the
    /// `ci-read` token, with backtraces on and no GitHub Actions.
    fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("windlass-secrets").unwrap();
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("RUST_BACKTRACE", "1")
            .env("VAULT_ADDR", &self.bao.addr)
            .env("VAULT_TOKEN", self.bao.read_token.expose());
        cmd
    }

    /// Checks stdout, stderr and every file in the project for the canary.
    fn assert_clean(&self, output: &std::process::Output) {
        assert_no_leak(&output.stdout, &self.canary);
        assert_no_leak(&output.stderr, &self.canary);
        assert_no_leak_in_dir(self.dir.path(), &self.canary);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn normalise(s: &str, p: &Project) -> String {
    // Retry lines carry a random backoff: keep the count, drop the figures.
    let s: String = s
        .lines()
        .map(|l| {
            if l.contains("retrying http request") {
                " WARN retrying http request [..]"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    s.replace(&p.path, "ci/CANARY")
        .replace(&p.bao.addr, "http://BAO")
        .replace(&p.dir.path().display().to_string(), "[PROJECT]")
}

#[tokio::test]
async fn exec_injects_redacts_and_passes_exit_code() {
    let p = Project::new("exec").await;
    // The child prints the value plainly and encoded, and records its argv.
    let script = r#"printf 'plain=%s\n' "$TOKEN"; printf '%s' "$TOKEN" | base64; printf '%s' "$TOKEN" | od -An -tx1 | tr -d ' \n'; echo; printf 'json={"t":"%s"}\n' "$TOKEN"; echo "user=$USER_NAME"; cat /proc/self/cmdline > argv.bin; exit 7"#;
    let output = p
        .cmd()
        .args(["exec", "-e", &format!("TOKEN={}", p.reference())])
        .args(["-e", &format!("USER_NAME=vault://secret/{}#user", p.path)])
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("plain=****"), "{stdout}");
    p.assert_clean(&output);
    assert!(p.dir.path().join("argv.bin").exists());
}

#[tokio::test]
async fn exec_revokes_the_token_it_created() {
    let p = Project::new("revoke").await;
    p.write_config(&format!(
        "[vault]\nauth = \"approle\"\n[vault.approle]\nrole-id = \"env://ROLE_ID\"\nsecret-id = \"file://{}\"\n",
        p.bao.approle.secret_id_file.display()
    ));
    let output = p
        .cmd()
        .env_remove("VAULT_TOKEN")
        .env("ROLE_ID", &p.bao.approle.role_id)
        .env("WINDLASS_LOG", "windlass_secrets=debug")
        .args([
            "-vv",
            "exec",
            "-e",
            &format!("T={}", p.reference()),
            "--",
            "true",
        ])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    p.assert_clean(&output);
    let accessor = stderr
        .split("accessor=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no accessor logged: {stderr}"))
        .trim_matches('"')
        .to_owned();
    let client = HttpClient::new(&HttpConfig {
        max_retries: 0,
        ..HttpConfig::default()
    })
    .unwrap();
    let url = RedactedUrl::parse(&format!("{}/v1/auth/token/lookup-accessor", p.bao.addr)).unwrap();
    let result = client
        .send(Method::POST, &url, |r| {
            r.header("X-Vault-Token", p.bao.root_token.expose().as_str())
                .json(&json!({"accessor": accessor}))
        })
        .await;
    let status = result.err().and_then(|e| e.status()).map(|s| s.as_u16());
    assert!(
        matches!(status, Some(400 | 403)),
        "token still valid after exec: {status:?}"
    );
}

#[tokio::test]
async fn get_prints_only_to_a_pipe() {
    let p = Project::new("get").await;
    let output = p.cmd().args(["get", &p.reference()]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // The purpose of `get`: the value on stdout, exactly.
    assert_eq!(text(&output.stdout), p.canary);
    assert_no_leak(&output.stderr, &p.canary);
    assert_no_leak_in_dir(p.dir.path(), &p.canary);
}

#[tokio::test]
async fn check_reports_without_values() {
    let p = Project::new("check").await;
    p.write_config(&format!(
        r#"[secrets]
GOOD = "{good}"
USER = {{ ref = "vault://secret/{path}#user", secret = false }}
MISSING_KEY = "vault://secret/{path}#nope"
MISSING_ENV = "env://NOT_SET_ANYWHERE"
DENIED = "vault://secret/other/thing#value"
BARE = "pypi-AgEIbare-value"
FILE = "file://no/such/file"
"#,
        good = p.reference(),
        path = p.path
    ));
    let output = p.cmd().args(["check"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    p.assert_clean(&output);
    assert!(!text(&output.stdout).contains("bare-value"));
    insta::assert_snapshot!("check_human", normalise(&text(&output.stdout), &p));

    let output = p.cmd().args(["check", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    p.assert_clean(&output);
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let statuses: Vec<(String, String)> = doc["data"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    insta::assert_debug_snapshot!("check_json_statuses", statuses);
}

#[tokio::test]
async fn mask_and_export_in_github_actions() {
    let p = Project::new("mask").await;
    p.write_config(&format!("[secrets]\nPYPI_TOKEN = \"{}\"\n", p.reference()));
    let github_env = p.dir.path().join("github_env");
    let outputs = p.dir.path().join("github_output");
    let summary = p.dir.path().join("step_summary");
    for f in [&github_env, &outputs, &summary] {
        std::fs::write(f, "").unwrap();
    }
    let output = p
        .cmd()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ENV", &github_env)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["mask", "--export"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // The value appears only inside `::add-mask::` (read by the runner) and
    // in $GITHUB_ENV, which it was asked to write after masking.
    let stderr = text(&output.stderr);
    let mask_line = format!("::add-mask::{}", p.canary);
    assert!(stderr.contains(&mask_line), "{stderr}");
    let without_masks: String = stderr
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_no_leak(without_masks.as_bytes(), &p.canary);
    assert_no_leak(&output.stdout, &p.canary);
    assert!(
        std::fs::read_to_string(&github_env)
            .unwrap()
            .contains(&p.canary)
    );
    assert_no_leak(&std::fs::read(&outputs).unwrap(), &p.canary);
    assert_no_leak(&std::fs::read(&summary).unwrap(), &p.canary);
    assert!(
        std::fs::read_to_string(&github_env)
            .unwrap()
            .starts_with("PYPI_TOKEN<<")
    );
}

#[tokio::test]
async fn mask_outside_github_actions_refuses() {
    let p = Project::new("mask-outside").await;
    p.write_config(&format!("[secrets]\nPYPI_TOKEN = \"{}\"\n", p.reference()));
    let output = p.cmd().args(["mask"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    p.assert_clean(&output);
    insta::assert_snapshot!(normalise(&text(&output.stderr), &p));
}

/// Every error path of the binary: exit code and stderr, with the canary
/// resolved first (so a leak would show) wherever the path allows.
#[tokio::test]
async fn error_paths() {
    let p = Project::new("errors").await;
    let good = format!("GOOD={}", p.reference());
    let cases: Vec<(&str, Vec<String>, Vec<(&str, String)>)> = vec![
        (
            "bad_reference",
            vec!["get".into(), "vault://secret/ci/pypi".into()],
            vec![],
        ),
        (
            "bare_value",
            vec!["get".into(), "pypi-AgEIsecretlooking".into()],
            vec![],
        ),
        (
            "bad_reference_in_exec",
            vec![
                "exec".into(),
                "-e".into(),
                good.clone(),
                "-e".into(),
                "X=vault://secret/x?kv=3#k".into(),
                "--".into(),
                "true".into(),
            ],
            vec![],
        ),
        (
            "missing_key",
            vec![
                "exec".into(),
                "-e".into(),
                good.clone(),
                "-e".into(),
                format!("X=vault://secret/{}#passwd", p.path),
                "--".into(),
                "true".into(),
            ],
            vec![],
        ),
        (
            "permission_denied",
            vec![
                "exec".into(),
                "-e".into(),
                good.clone(),
                "-e".into(),
                "X=vault://secret/other/thing#value".into(),
                "--".into(),
                "true".into(),
            ],
            vec![],
        ),
        (
            "expired_token",
            vec!["get".into(), p.reference()],
            vec![("VAULT_TOKEN", "s.expired0000000000000000".into())],
        ),
        (
            "unreachable",
            vec!["get".into(), p.reference()],
            vec![("VAULT_ADDR", "http://127.0.0.1:9".into())],
        ),
        (
            "env_missing",
            vec![
                "exec".into(),
                "-e".into(),
                good.clone(),
                "-e".into(),
                "X=env://NOT_SET_ANYWHERE".into(),
                "--".into(),
                "true".into(),
            ],
            vec![],
        ),
        (
            "file_missing",
            vec![
                "exec".into(),
                "-e".into(),
                good.clone(),
                "-e".into(),
                "X=file://missing/token".into(),
                "--".into(),
                "true".into(),
            ],
            vec![],
        ),
        (
            "keyring_absent",
            vec![
                "exec".into(),
                "-e".into(),
                good.clone(),
                "-e".into(),
                "X=keyring://windlass-test-absent/nobody".into(),
                "--".into(),
                "true".into(),
            ],
            vec![],
        ),
        (
            "oidc_absent",
            vec![
                "exec".into(),
                "-e".into(),
                good.clone(),
                "--".into(),
                "true".into(),
            ],
            vec![("WINDLASS_CONFIG", "gha.toml".into())],
        ),
        (
            "nothing_selected",
            vec!["exec".into(), "--".into(), "true".into()],
            vec![],
        ),
        (
            "terminal_refused_json",
            vec!["--json".into(), "get".into(), p.reference()],
            vec![],
        ),
        (
            "program_not_found",
            vec![
                "exec".into(),
                "-e".into(),
                good.clone(),
                "--".into(),
                "no-such-program-xyz".into(),
            ],
            vec![],
        ),
    ];
    std::fs::write(
        p.dir.path().join("gha.toml"),
        "[vault]\nauth = \"github-actions\"\n[vault.github-actions]\nrole = \"gha-release\"\n",
    )
    .unwrap();
    let mut report = String::new();
    for (name, args, env) in cases {
        let mut cmd = p.cmd();
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let output = cmd.args(&args).output().unwrap();
        p.assert_clean(&output);
        assert!(
            !text(&output.stderr).contains("panicked"),
            "{name}: {}",
            text(&output.stderr)
        );
        report.push_str(&format!(
            "=== {name} (exit {})\n{}\n",
            output.status.code().unwrap_or(-1),
            normalise(&text(&output.stderr), &p)
        ));
    }
    insta::assert_snapshot!(report);
}

#[tokio::test]
async fn file_references_warn_when_shared() {
    let p = Project::new("file").await;
    let file = p.dir.path().join("token.txt");
    std::fs::write(&file, format!("{}\n", p.canary)).unwrap();
    set_mode(&file, 0o644);
    let output = p
        .cmd()
        .args([
            "exec",
            "-e",
            "T=file://token.txt",
            "--",
            "sh",
            "-c",
            "test \"$T\" = \"$(cat token.txt)\"",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("readable by every user"),
        "{}",
        text(&output.stderr)
    );
    assert_no_leak(&output.stdout, &p.canary);
    assert_no_leak(&output.stderr, &p.canary);
    set_mode(&file, 0o600);
    let output = p
        .cmd()
        .args(["exec", "-e", "T=file://token.txt", "--", "true"])
        .output()
        .unwrap();
    assert!(
        !text(&output.stderr).contains("readable"),
        "{}",
        text(&output.stderr)
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn env_references() {
    let p = Project::new("env").await;
    let output = p
        .cmd()
        .env("CI_SECRET", &p.canary)
        .args([
            "exec",
            "-e",
            "T=env://CI_SECRET",
            "--",
            "sh",
            "-c",
            "echo \"$T\"; test \"$T\" = \"$CI_SECRET\"",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "****\n");
}

/// The real kernel keyring, in a session keyring of its own.
#[tokio::test]
async fn keyring_in_a_kernel_session() {
    let p = Project::new("keyring").await;
    std::fs::write(p.dir.path().join("value"), &p.canary).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("windlass-secrets");
    // `keyctl padd` reads the value from stdin (never argv).
    let script = format!(
        "keyctl padd user keyring:release-bot@windlass-test @s < value >/dev/null && \
         '{}' exec -e T=keyring://windlass-test/release-bot -- sh -c 'echo \"$T\"; test \"$T\" = \"$(cat value)\"'",
        bin.display()
    );
    let mut cmd = Command::new("keyctl");
    cmd.current_dir(p.dir.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    let output = cmd
        .args(["session", "-", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "****\n");
    assert_no_leak(&output.stderr, &p.canary);
}
