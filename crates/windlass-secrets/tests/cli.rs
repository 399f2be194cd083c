//! The real `windlass-secrets` binary: every command and error path, with a
//! canary secret searched for in everything it leaves behind.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::type_complexity,
    clippy::format_push_string,
    reason = "test helpers: a failed fixture step should panic loudly"
)]

mod support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};
use windlass_http::Method;
use windlass_testkit::cli::Cli;

use crate::support::{OwnBao, OwnMode};
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
    fn new(name: &str) -> Self {
        let bao = Services::load().bao();
        let canary = canary(name);
        let path = format!("ci/{name}-{}", std::process::id());
        bao.kv_put(
            "secret",
            &path,
            &[("token", &canary), ("user", "release-bot")],
        );
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
    fn cmd(&self) -> Cli {
        Cli::new(env!("CARGO_BIN_EXE_windlass-secrets"), self.dir.path())
            .env("HOME", self.dir.path())
            .env("RUST_BACKTRACE", "1")
            .env("VAULT_ADDR", &self.bao.addr)
            .env("VAULT_TOKEN", self.bao.read_token.expose())
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
    let p = Project::new("exec");
    // The child prints the value plainly and encoded, and records its argv.
    let script = r#"printf 'plain=%s\n' "$TOKEN"; printf '%s' "$TOKEN" | base64; printf '%s' "$TOKEN" | od -An -tx1 | tr -d ' \n'; echo; printf 'json={"t":"%s"}\n' "$TOKEN"; echo "user=$USER_NAME"; cat /proc/self/cmdline > argv.bin; exit 7"#;
    let output = p
        .cmd()
        .args(["exec", "-e", &format!("TOKEN={}", p.reference())])
        .args(["-e", &format!("USER_NAME=vault://secret/{}#user", p.path)])
        .args(["--", "sh", "-c", script])
        .output();
    assert_eq!(output.status.code(), Some(7), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("plain=****"), "{stdout}");
    p.assert_clean(&output);
    assert!(p.dir.path().join("argv.bin").exists());
}

#[tokio::test]
async fn exec_revokes_the_token_it_created() {
    let p = Project::new("revoke");
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
        .output();
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
    assert!(
        !p.bao.accessor_valid(&accessor),
        "token still valid after exec"
    );
}

#[tokio::test]
async fn get_prints_only_to_a_pipe() {
    let p = Project::new("get");
    let output = p.cmd().args(["get", &p.reference()]).output();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // The purpose of `get`: the value on stdout, exactly.
    assert_eq!(text(&output.stdout), p.canary);
    assert_no_leak(&output.stderr, &p.canary);
    assert_no_leak_in_dir(p.dir.path(), &p.canary);
}

#[tokio::test]
async fn check_reports_without_values() {
    let p = Project::new("check");
    p.write_config(&format!(
        r#"[secrets]
GOOD = "{good}"
USER = {{ ref = "vault://secret/{path}#user", secret = false }}
MISSING_KEY = "vault://secret/{path}#nope"
MISSING_ENV = "env://NOT_SET_ANYWHERE"
DENIED = "vault://secret/other/thing#value"
FILE = "file://no/such/file"
"#,
        good = p.reference(),
        path = p.path
    ));
    let output = p.cmd().args(["check"]).output();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    p.assert_clean(&output);
    assert!(!text(&output.stdout).contains("bare-value"));
    insta::assert_snapshot!("check_human", normalise(&text(&output.stdout), &p));

    let output = p.cmd().args(["check", "--json"]).output();
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

    // A value written in the file instead of a reference is refused when
    // the configuration is read (exit 2), and never shown.
    p.write_config("[secrets]\nBARE = \"pypi-AgEIbare-value\"\n");
    for args in [&["check"][..], &["check", "--json"]] {
        let output = p.cmd().args(args).output();
        assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
        p.assert_clean(&output);
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!all.contains("bare-value"), "{all}");
        assert!(all.contains("secrets.BARE"), "{all}");
    }
}

/// `check` covers every reference of the configuration, not only
/// `[secrets]`: a repository's credentials and the Vault login inputs
/// (resolved before the login), each resolved once and named by every place
/// that uses it.
#[tokio::test]
async fn check_covers_every_reference_in_the_configuration() {
    let p = Project::new("check-all");
    // A relative `file://` reference: the secret id sits in the project.
    let secret_id = std::fs::read_to_string(&p.bao.approle.secret_id_file).unwrap();
    std::fs::write(p.dir.path().join("secret-id"), secret_id.trim()).unwrap();
    set_mode(&p.dir.path().join("secret-id"), 0o600);
    p.write_config(&format!(
        r#"[secrets]
GOOD = "{good}"
INDEX_PASSWORD = "env://WL_INDEX_PASSWORD"

[vault]
auth = "approle"

[vault.approle]
role-id = "env://WL_ROLE_ID"
secret-id = "file://secret-id"

[wheel.repositories.internal]
url = "https://pypi.internal.example/legacy/"
username = "env://WL_INDEX_USER"
password = "env://WL_INDEX_PASSWORD"

[wheel.repositories.other]
url = "https://other.example/legacy/"
token = "{good}"
"#,
        good = p.reference(),
    ));
    let cmd = || {
        p.cmd()
            .env_remove("VAULT_TOKEN")
            .env("WL_ROLE_ID", &p.bao.approle.role_id)
            .env("WL_INDEX_PASSWORD", &p.canary)
    };
    let output = cmd().args(["check"]).output();
    // `WL_INDEX_USER` is not set.
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    p.assert_clean(&output);
    insta::assert_snapshot!("check_all_human", normalise(&text(&output.stdout), &p));

    let output = cmd().args(["check", "--json"]).output();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    p.assert_clean(&output);
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows: Vec<Value> = doc["data"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!({
                "name": s["name"],
                "reference": s["reference"],
                "status": s["status"],
                "used_in": s["used_in"],
                "vault_login": s["vault_login"],
            })
        })
        .collect();
    let rows = normalise(&serde_json::to_string_pretty(&rows).unwrap(), &p);
    insta::assert_snapshot!("check_all_json", rows);

    // A login input cannot come from Vault: reported, not looked up.
    p.write_config(&format!(
        "[vault]\nauth = \"approle\"\n[vault.approle]\nrole-id = \"env://WL_ROLE_ID\"\nsecret-id = \"{}\"\n",
        p.reference()
    ));
    let output = cmd().args(["check"]).output();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    p.assert_clean(&output);
    insta::assert_snapshot!(
        "check_login_input_from_vault",
        normalise(&text(&output.stdout), &p)
    );
}

#[tokio::test]
async fn mask_and_export_in_github_actions() {
    let p = Project::new("mask");
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
        .output();
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

/// Counts are printed in the right number: `1 secret`, `2 secrets`.
#[tokio::test]
async fn counts_of_one_and_two_secrets() {
    let p = Project::new("plural");
    let mut lines = Vec::new();
    let one = format!("[secrets]\nPYPI_TOKEN = \"{}\"\n", p.reference());
    let two = format!("{one}RELEASE_USER = \"vault://secret/{}#user\"\n", p.path);
    for config in [&one, &two] {
        p.write_config(config);
        let output = p
            .cmd()
            .env("GITHUB_ACTIONS", "true")
            .args(["mask"])
            .output();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        lines.extend(
            stderr
                .lines()
                .filter(|l| l.contains("Masked"))
                .map(str::to_owned),
        );
        assert_no_leak(&output.stdout, &p.canary);
    }
    let missing = |n: usize| {
        (0..n).fold(String::from("[secrets]\n"), |mut text, i| {
            text.push_str(&format!("MISSING_{i} = \"env://NOT_SET_{i}\"\n"));
            text
        })
    };
    for n in [1, 2] {
        p.write_config(&missing(n));
        let output = p.cmd().args(["check"]).output();
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        p.assert_clean(&output);
        lines.extend(
            text(&output.stdout)
                .lines()
                .filter(|l| l.contains("failed"))
                .map(str::to_owned),
        );
    }
    insta::assert_snapshot!(lines.join("\n"), @r"
          Masked 1 secret
          Masked 2 secrets
    1 of 1 secret failed
    2 of 2 secrets failed
    ");
}

#[tokio::test]
async fn mask_outside_github_actions_refuses() {
    let p = Project::new("mask-outside");
    p.write_config(&format!("[secrets]\nPYPI_TOKEN = \"{}\"\n", p.reference()));
    let output = p.cmd().args(["mask"]).output();
    assert_eq!(output.status.code(), Some(2));
    p.assert_clean(&output);
    insta::assert_snapshot!(normalise(&text(&output.stderr), &p));
}

/// Every error path of the binary: exit code and stderr, with the canary
/// resolved first (so a leak would show) wherever the path allows.
#[tokio::test]
async fn error_paths() {
    let p = Project::new("errors");
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
            "mistyped_scheme",
            vec!["get".into(), "vault:/secret/ci/pypi#token".into()],
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
        let output = p
            .cmd()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(&args)
            .output();
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
    let p = Project::new("file");
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
        .output();
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
        .output();
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
    let p = Project::new("env");
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
        .output();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "****\n");
}

/// Credentials the run did not resolve are masked from the start: CI
/// identity tokens (registered at start-up) and every variable a secret
/// reference of windlass.toml reads (registered when the configuration is
/// loaded), even when the command does not resolve it. `exec`'s child keeps
/// them in its environment (it acts for the user), so it can print them,
/// and what it prints is redacted.
#[test]
fn unresolved_credentials_are_masked_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(
        dir.path().join("windlass.toml"),
        "[secrets]
DEPLOY = \"env://WL_DEPLOY_KEY\"\nUSER = { ref = \"env://WL_USER\", secret = false }\n\n[vault.approle]\nrole-id = \"env://WL_ROLE_ID\"\nsecret-id = \"env://WL_SECRET_ID\"\n\n[wheel.repositories.internal]\nurl = \"https://pypi.internal.example/legacy/\"\ntoken = \"env://WL_INDEX_TOKEN\"\n",
    )
    .unwrap();
    let values = [
        ("PYPI_ID_TOKEN", canary("pypi-id-token")),
        ("VAULT_ID_TOKEN", canary("vault-id-token")),
        ("CIRCLE_OIDC_TOKEN_V2", canary("circle-oidc")),
        ("WL_DEPLOY_KEY", canary("deploy-key")),
        ("WL_SECRET_ID", canary("secret-id")),
        ("WL_INDEX_TOKEN", canary("index-token")),
    ];
    let output = Cli::new(env!("CARGO_BIN_EXE_windlass-secrets"), dir.path())
        .env("HOME", dir.path())
        .env("WL_USER", "release-bot")
        .env("WL_OTHER", "other")
        .envs(values.iter().map(|(name, value)| (name, value)))
        .args([
            "exec",
            "-e",
            "OTHER=env://WL_OTHER",
            "--",
            "sh",
            "-c",
            "for v in PYPI_ID_TOKEN VAULT_ID_TOKEN CIRCLE_OIDC_TOKEN_V2 WL_DEPLOY_KEY WL_SECRET_ID WL_INDEX_TOKEN WL_USER; do eval \"echo $v=\\$$v\"; done",
        ])
        .output();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for (_, value) in &values {
        assert_no_leak(&output.stdout, value);
        assert_no_leak(&output.stderr, value);
    }
    insta::assert_snapshot!(text(&output.stdout), @r"
    PYPI_ID_TOKEN=****
    VAULT_ID_TOKEN=****
    CIRCLE_OIDC_TOKEN_V2=****
    WL_DEPLOY_KEY=****
    WL_SECRET_ID=****
    WL_INDEX_TOKEN=****
    WL_USER=release-bot
    ");
}

/// The real kernel keyring, in a session keyring of its own.
#[tokio::test]
async fn keyring_in_a_kernel_session() {
    let p = Project::new("keyring");
    std::fs::write(p.dir.path().join("value"), &p.canary).unwrap();
    let bin = env!("CARGO_BIN_EXE_windlass-secrets");
    // `keyctl padd` reads the value from stdin (never argv).
    let script = format!(
        "keyctl padd user keyring:release-bot@windlass-test @s < value >/dev/null && \
         '{bin}' exec -e T=keyring://windlass-test/release-bot -- sh -c 'echo \"$T\"; test \"$T\" = \"$(cat value)\"' && \
         test \"$('{bin}' get 'keyring://windlass-test/release-bot?store=keyutils')\" = \"$(cat value)\""
    );
    // No session bus: the kernel keyring is the store chosen.
    let mut cmd = Command::new("keyctl");
    cmd.current_dir(p.dir.path())
        .env_clear()
        .env("PATH", windlass_testkit::var_os("PATH").unwrap_or_default());
    let output = cmd
        .args(["session", "-", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "****\n");
    assert_no_leak(&output.stderr, &p.canary);
}

/// Fails the test, naming the install command, when a program is missing:
/// a test that needs a tool never skips.
fn require_programs(programs: &[&str]) {
    let path = windlass_testkit::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| !std::env::split_paths(&path).any(|dir| dir.join(p).is_file()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} not found on PATH: run `scripts/services.sh install` (it installs the Debian \
         packages dbus-daemon, gnome-keyring, libsecret-tools and keyutils)",
        missing.join(", ")
    );
}

/// The output files a script run under `dbus-run-session` leaves in `dir`:
/// `NAME.out`, `NAME.err` and `NAME.rc`.
struct Step {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: i32,
}

impl Step {
    fn read(dir: &Path, name: &str) -> Self {
        let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap();
        let code = text(&read("rc")).trim().parse().unwrap();
        Self {
            stdout: read("out"),
            stderr: read("err"),
            code,
        }
    }
}

/// The Secret Service for real: gnome-keyring-daemon on a private D-Bus
/// session bus (`dbus-run-session`), unlocked with a throwaway password;
/// the entry is stored by `secret-tool` (reading the value from stdin) and
/// read back by `get` and `exec`, chosen automatically and pinned.
#[tokio::test]
async fn keyring_in_the_secret_service() {
    require_programs(&["dbus-run-session", "gnome-keyring-daemon", "secret-tool"]);
    let p = Project::new("secret-service");
    // Outside the project: the value file, and gnome-keyring's home.
    let fixture = tempfile::tempdir().unwrap();
    std::fs::write(fixture.path().join("value"), &p.canary).unwrap();
    let runtime_dir = fixture.path().join("run");
    std::fs::create_dir(&runtime_dir).unwrap();
    set_mode(&runtime_dir, 0o700);
    let out = p.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let bin = env!("CARGO_BIN_EXE_windlass-secrets");
    let script = r#"
set -u
step() { name=$1; shift; "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; echo $? >"$OUT/$name.rc"; }
printf %s windlass-test-unlock | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 90
secret-tool store --label=windlass-test service windlass-test username release-bot <"$FIXTURE/value" || exit 91
step get "$BIN" -vvvv get keyring://windlass-test/release-bot
step exec "$BIN" exec -e 'T=keyring://windlass-test/release-bot?store=secret-service' -- \
  sh -c 'echo "$T"; test "$T" = "$(cat "$FIXTURE/value")"'
step absent "$BIN" get keyring://windlass-test/nobody
"#;
    let output = Command::new("dbus-run-session")
        .current_dir(p.dir.path())
        .env_clear()
        .env("PATH", windlass_testkit::var_os("PATH").unwrap_or_default())
        .env("HOME", fixture.path())
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("XDG_DATA_HOME", fixture.path().join("data"))
        .env("FIXTURE", fixture.path())
        .env("OUT", &out)
        .env("BIN", bin)
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "the secret service did not start (90: gnome-keyring-daemon, 91: secret-tool): {}",
        text(&output.stderr)
    );
    assert_no_leak(&output.stdout, &p.canary);
    assert_no_leak(&output.stderr, &p.canary);

    // `get` chose the Secret Service because a session bus answered; at
    // -vvvv (zbus traced too) its log holds no value.
    let get = Step::read(&out, "get");
    assert_eq!(get.code, 0, "{}", text(&get.stderr));
    assert_eq!(text(&get.stdout), p.canary);
    assert!(
        text(&get.stderr).contains("keyring: reading the secret service"),
        "{}",
        text(&get.stderr)
    );
    assert_no_leak(&get.stderr, &p.canary);

    // `exec` with the store pinned: the child sees the value, its output is
    // redacted.
    let exec = Step::read(&out, "exec");
    assert_eq!(exec.code, 0, "{}", text(&exec.stderr));
    assert_eq!(text(&exec.stdout), "****\n");
    assert_no_leak(&exec.stderr, &p.canary);

    let absent = Step::read(&out, "absent");
    assert_eq!(absent.code, 2, "{}", text(&absent.stderr));
    assert!(absent.stdout.is_empty());
    insta::assert_snapshot!("secret_service_absent", text(&absent.stderr));

    // Only `get`'s stdout holds the value, as asked.
    std::fs::remove_file(out.join("get.out")).unwrap();
    assert_no_leak_in_dir(p.dir.path(), &p.canary);
}

/// A session bus that does not answer: a pinned Secret Service fails with
/// a hint, an unpinned reference falls back to the kernel keyring.
#[tokio::test]
async fn keyring_without_a_secret_service() {
    let p = Project::new("no-secret-service");
    let bus = format!("unix:path={}", p.dir.path().join("no-bus").display());
    let output = p
        .cmd()
        .env("DBUS_SESSION_BUS_ADDRESS", &bus)
        .args([
            "get",
            "keyring://windlass-test-absent/nobody?store=secret-service",
        ])
        .output();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("from the secret service: no secret service on the session bus"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: start a secret service"), "{stderr}");
    let output = p
        .cmd()
        .env("DBUS_SESSION_BUS_ADDRESS", &bus)
        .args(["-vv", "get", "keyring://windlass-test-absent/nobody"])
        .output();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("in the kernel keyring"), "{stderr}");
    assert!(
        stderr.contains("keyring: reading the kernel keyring (no secret service"),
        "{stderr}"
    );
    p.assert_clean(&output);
}

/// Vault over TLS with a private CA: trusted through `VAULT_CACERT` and
/// through `[vault] ca-file` (relative to windlass.toml, run from a
/// subdirectory); without the CA a TLS error with a hint, exit 3.
#[tokio::test]
async fn vault_over_tls_with_a_private_ca() {
    let p = Project::new("tls");
    let bao = OwnBao::start(OwnMode::Tls).await;
    bao.root(
        Method::POST,
        "secret/data/ci/tls",
        json!({"data": {"token": p.canary}}),
    )
    .await;
    let sub = p.dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let cmd = || {
        p.cmd()
            .current_dir(&sub)
            .env("VAULT_ADDR", &bao.addr)
            .env("VAULT_TOKEN", &bao.root)
    };
    let check = |output: &std::process::Output| {
        p.assert_clean(output);
        assert_no_leak(&output.stderr, &bao.root);
        assert_no_leak(&output.stdout, &bao.root);
    };
    let reference = "vault://secret/ci/tls#token";

    // VAULT_CACERT.
    let output = cmd()
        .env("VAULT_CACERT", bao.ca_file())
        .args(["get", reference])
        .output();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), p.canary);
    assert_no_leak(&output.stderr, &p.canary);
    assert_no_leak(&output.stderr, &bao.root);
    assert_no_leak(&output.stdout, &bao.root);

    // `[vault] ca-file`, relative to windlass.toml (not to the working
    // directory).
    std::fs::create_dir(p.dir.path().join("certs")).unwrap();
    std::fs::copy(bao.ca_file(), p.dir.path().join("certs/vault-ca.pem")).unwrap();
    p.write_config("[vault]\nca-file = \"certs/vault-ca.pem\"\n");
    let output = cmd()
        .args([
            "exec",
            "-e",
            &format!("T={reference}"),
            "--",
            "sh",
            "-c",
            "echo \"$T\"",
        ])
        .output();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "****\n");
    check(&output);

    // No CA: the handshake fails, exit 3, with the fix in the hint.
    std::fs::remove_file(p.dir.path().join("windlass.toml")).unwrap();
    let output = cmd().args(["get", reference]).output();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    check(&output);
    let port = bao.addr.rsplit(':').next().unwrap();
    insta::assert_snapshot!(
        "vault_tls_untrusted",
        normalise(&text(&output.stderr), &p).replace(port, "PORT")
    );
}

/// An AppRole role that issues batch tokens: `get` and `exec` work, and
/// Windlass neither renews nor revokes the token (which cannot be either):
/// no warning, a debug line saying why, no renew or revoke request in the
/// server's audit log, and the token still reads the secret afterwards.
#[tokio::test]
async fn batch_tokens_are_neither_renewed_nor_revoked() {
    let p = Project::new("batch");
    let bao = OwnBao::start(OwnMode::AuditedHttp).await;
    bao.root(Method::POST, "sys/auth/approle", json!({"type": "approle"}))
        .await;
    bao.root(
        Method::PUT,
        "sys/policies/acl/ci-read",
        json!({"policy": "path \"secret/data/ci/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    bao.root(
        Method::POST,
        "secret/data/ci/batch",
        json!({"data": {"token": p.canary}}),
    )
    .await;
    bao.root(
        Method::POST,
        "auth/approle/role/batch",
        json!({"token_type": "batch", "token_policies": ["ci-read"], "token_ttl": "10m"}),
    )
    .await;
    let role_id = bao
        .call(Method::GET, "auth/approle/role/batch/role-id", None, None)
        .await
        .1["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_id = bao
        .root(Method::POST, "auth/approle/role/batch/secret-id", json!({}))
        .await["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.write_config(
        "[vault]\nauth = \"approle\"\n[vault.approle]\nrole-id = \"env://ROLE_ID\"\nsecret-id = \"env://SECRET_ID\"\n",
    );
    let cmd = || {
        p.cmd()
            .env_remove("VAULT_TOKEN")
            .env("VAULT_ADDR", &bao.addr)
            .env("ROLE_ID", &role_id)
            .env("SECRET_ID", &secret_id)
    };
    let reference = "vault://secret/ci/batch#token";
    let get = cmd().args(["-vv", "get", reference]).output();
    let exec = cmd()
        .args([
            "-vv",
            "exec",
            "-e",
            &format!("T={reference}"),
            "--",
            "sh",
            "-c",
            "echo \"$T\"",
        ])
        .output();
    assert_eq!(get.status.code(), Some(0), "{}", text(&get.stderr));
    assert_eq!(text(&get.stdout), p.canary);
    assert_eq!(exec.status.code(), Some(0), "{}", text(&exec.stderr));
    assert_eq!(text(&exec.stdout), "****\n");
    for output in [&get, &exec] {
        let stderr = text(&output.stderr);
        for said in [
            "not renewing the vault token from approle login: it is a batch token",
            "not revoking the vault token from approle login: it is a batch token",
        ] {
            assert!(stderr.contains(said), "missing `{said}`:\n{stderr}");
        }
        assert!(
            !stderr.contains("WARN") && !stderr.contains("ERROR") && !stderr.contains("error"),
            "{stderr}"
        );
        assert_no_leak(&output.stderr, &p.canary);
        assert_no_leak(&output.stderr, &secret_id);
        assert_no_leak(&output.stdout, &secret_id);
    }
    assert_no_leak(&exec.stdout, &p.canary);
    assert_no_leak_in_dir(p.dir.path(), &p.canary);
    assert_no_leak_in_dir(p.dir.path(), &secret_id);

    // The audit log (raw) holds what was asked: one login per run, and no
    // renewal or revocation.
    let log = std::fs::read_to_string(bao.audit_log()).unwrap();
    let entries: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // From Windlass's first login on (the dev server's own set-up creates
    // and revokes a token before).
    let paths: Vec<&str> = entries
        .iter()
        .filter(|e| e["type"] == "request")
        .filter_map(|e| e["request"]["path"].as_str())
        .skip_while(|p| *p != "auth/approle/login")
        .collect();
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("auth/token/renew") || p.starts_with("auth/token/revoke")),
        "{paths:?}"
    );
    let tokens: Vec<String> = entries
        .iter()
        .filter(|e| e["type"] == "response" && e["request"]["path"] == "auth/approle/login")
        .filter_map(|e| e["response"]["auth"]["client_token"].as_str())
        .map(str::to_owned)
        .collect();
    assert_eq!(tokens.len(), 2, "{paths:?}");
    for token in &tokens {
        for output in [&get, &exec] {
            assert_no_leak(&output.stdout, token);
            assert_no_leak(&output.stderr, token);
        }
        assert_no_leak_in_dir(p.dir.path(), token);
        // Still valid after the run: it reads the secret.
        let (status, answer) = bao
            .call(Method::GET, "secret/data/ci/batch", None, Some(token))
            .await;
        assert_eq!(status, 200, "the batch token no longer works");
        assert_eq!(answer["data"]["data"]["token"], p.canary.as_str());
        let (_, lookup) = bao
            .call(Method::GET, "auth/token/lookup-self", None, Some(token))
            .await;
        assert_eq!(
            lookup["data"]["type"], "batch",
            "{}",
            lookup["data"]["type"]
        );
    }
}

/// A token the user supplied (`VAULT_TOKEN`) is used, not revoked: it
/// still works after `exec`.
#[tokio::test]
async fn user_token_survives_exec() {
    let p = Project::new("user-token");
    let (token, accessor) = p.bao.create_token(&[&p.bao.read_policy], "10m");
    let token = token.expose().clone();
    let output = p
        .cmd()
        .env("VAULT_TOKEN", &token)
        .args([
            "-vv",
            "exec",
            "-e",
            &format!("T={}", p.reference()),
            "--",
            "true",
        ])
        .output();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .contains("not revoking the vault token from VAULT_TOKEN: it was supplied by the user"),
        "{stderr}"
    );
    p.assert_clean(&output);
    assert_no_leak(&output.stdout, &token);
    assert_no_leak(&output.stderr, &token);
    assert_no_leak_in_dir(p.dir.path(), &token);
    assert!(
        p.bao.accessor_valid(&accessor),
        "VAULT_TOKEN was revoked by exec"
    );
}

/// `exec` ends as its child ended: with the child's code, or killed by the
/// child's signal, and killed by a Ctrl-C it forwarded even when the child
/// caught it, so a calling shell stops its loop.
#[tokio::test]
async fn exec_passes_signals_on() {
    use std::os::unix::process::ExitStatusExt as _;

    let p = Project::new("signals");
    let reference = p.reference();
    let env = format!("TOKEN={reference}");

    let killed = p
        .cmd()
        .args(["exec", "--env", &env, "--", "sh", "-c", "kill -TERM $$"])
        .output();
    // 15: SIGTERM on Linux.
    assert_eq!(killed.status.signal(), Some(15), "{killed:?}");
    p.assert_clean(&killed);

    // A child that traps SIGINT and exits 0: we were interrupted, so we
    // still end by SIGINT.
    let running = Cli::new(env!("CARGO_BIN_EXE_windlass-secrets"), p.dir.path())
        .env("HOME", p.dir.path())
        .env("VAULT_ADDR", &p.bao.addr)
        .env("VAULT_TOKEN", p.bao.read_token.expose())
        .args([
            "exec",
            "--env",
            &env,
            "--",
            "sh",
            "-c",
            "trap 'exit 0' INT; echo ready; while :; do sleep 0.05; done",
        ])
        .timeout(std::time::Duration::from_secs(120))
        .spawn();
    assert!(running.wait_for_stdout_line("ready", std::time::Duration::from_secs(60)));
    running.interrupt();
    let run = running.wait();
    assert_eq!(run.signal, Some(2), "{run}");
}

/// Vault failures say what went wrong and exit 3 in every command: a
/// plain-http server reached over https, an unreachable server, a refused
/// AppRole login (wrong role id, wrong secret id), an invalid token.
#[tokio::test]
async fn vault_failures_are_remote_with_true_hints() {
    let p = Project::new("vault-failures");
    let approle = format!(
        "[vault]\nauth = \"approle\"\n[vault.approle]\nmount = \"{}\"\nrole-id = \"env://ROLE_ID\"\nsecret-id = \"env://SECRET_ID\"\n",
        p.bao.approle.mount
    );
    std::fs::write(p.dir.path().join("approle.toml"), approle).unwrap();
    let https = p.bao.addr.replacen("http://", "https://", 1);
    assert_ne!(https, p.bao.addr, "the test OpenBao listens on plain http");
    let secret_id = p.bao.approle.secret_id();
    let exec = |reference: String| -> Vec<String> {
        vec![
            "exec".into(),
            "-e".into(),
            format!("T={reference}"),
            "--".into(),
            "true".into(),
        ]
    };
    let cases: Vec<(&str, Vec<String>, Vec<(&str, String)>)> = vec![
        (
            "plain_http_over_https",
            vec!["get".into(), p.reference()],
            vec![("VAULT_ADDR", https.clone())],
        ),
        (
            "unreachable_get",
            vec!["get".into(), p.reference()],
            vec![("VAULT_ADDR", "http://127.0.0.1:9".into())],
        ),
        (
            "unreachable_exec",
            exec(p.reference()),
            vec![("VAULT_ADDR", "http://127.0.0.1:9".into())],
        ),
        (
            "token_invalid",
            exec(p.reference()),
            vec![("VAULT_TOKEN", "s.invalid0000000000000000".into())],
        ),
        (
            "approle_wrong_role_id",
            exec(p.reference()),
            vec![
                ("WINDLASS_CONFIG", "approle.toml".into()),
                ("ROLE_ID", "00000000-0000-0000-0000-000000000000".into()),
                ("SECRET_ID", secret_id.expose().clone()),
            ],
        ),
        (
            "approle_wrong_secret_id",
            exec(p.reference()),
            vec![
                ("WINDLASS_CONFIG", "approle.toml".into()),
                ("ROLE_ID", p.bao.approle.role_id.clone()),
                ("SECRET_ID", "00000000-0000-0000-0000-000000000000".into()),
            ],
        ),
    ];
    let mut report = String::new();
    for (name, args, env) in cases {
        let output = p
            .cmd()
            .env("WINDLASS_HTTP_RETRIES", "0")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(&args)
            .output();
        p.assert_clean(&output);
        assert_no_leak(&output.stderr, secret_id.expose());
        assert_eq!(
            output.status.code(),
            Some(3),
            "{name}: {}",
            text(&output.stderr)
        );
        report.push_str(&format!(
            "=== {name} (exit {})\n{}\n",
            output.status.code().unwrap_or(-1),
            normalise(&text(&output.stderr), &p).replace(&https, "https://BAO")
        ));
    }
    insta::assert_snapshot!(report);
}

/// `secrets check` with Vault out of reach could not check anything: exit
/// 3 (CI may retry), as every other command that cannot reach Vault, in
/// human and JSON output; a secret that is merely missing stays exit 1.
#[tokio::test]
async fn check_with_vault_unreachable_is_a_remote_failure() {
    let p = Project::new("check-unreachable");
    p.write_config(&format!("[secrets]\nGOOD = \"{}\"\n", p.reference()));
    for args in [&["check"][..], &["check", "--json"]] {
        let output = p
            .cmd()
            .env("VAULT_ADDR", "http://127.0.0.1:9")
            .args(args)
            .output();
        assert_eq!(output.status.code(), Some(3), "{}", text(&output.stdout));
        p.assert_clean(&output);
    }
    p.write_config("[secrets]\nMISSING = \"env://NOT_SET_ANYWHERE_EITHER\"\n");
    let output = p.cmd().args(["check"]).output();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
}
