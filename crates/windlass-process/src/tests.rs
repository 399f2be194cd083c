use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::Digest as _;
use windlass_diagnostic::Diagnostic as _;
use windlass_redact::{MASK, Redactor, Secret};

use crate::{CheckedError, Cmd, ExitStatus, RunError, Sink};

/// A variable of this test process's environment (set when a test runs
/// itself again as a helper).
#[allow(
    clippy::disallowed_methods,
    reason = "a test reads the variable it set for its own re-run"
)]
fn test_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

const CANARY: &str = "wl-canary-7f3a9c21";

/// An in-memory sink the test keeps a handle on.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn redactor(secret: &str) -> Redactor {
    let redactor = Redactor::new();
    redactor.register(secret);
    redactor
}

fn sh(script: &str) -> Cmd {
    Cmd::new("sh", "/").arg("-c").arg(script)
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// Whether `pid` is gone or a zombie (dead, not yet reaped by its parent).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X'])),
    }
}

async fn wait_dead(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if is_dead(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn read_pid(path: &Path) -> u32 {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no pid in {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Streams a script's stdout and stderr through the redactor into memory.
async fn streamed(script: &str, redactor: Redactor) -> (String, String) {
    let (out, err) = (Buffer::default(), Buffer::default());
    let outcome = sh(script)
        .env_secret("WL_SECRET", Secret::new(CANARY.to_owned()))
        .stdout(Sink::writer(out.clone()))
        .stderr(Sink::writer(err.clone()))
        .redactor(redactor)
        .run_checked()
        .await
        .unwrap();
    assert_eq!(outcome.stdout(), None);
    (out.text(), err.text())
}

#[tokio::test]
async fn secrets_in_streamed_output_are_masked() {
    let cases = [
        ("plain", r#"printf 'token=%s\n' "$WL_SECRET""#),
        (
            "base64",
            r#"printf 'b64=%s\n' "$(printf %s "$WL_SECRET" | base64)""#,
        ),
        (
            "prefixed-base64",
            r#"printf 'b64=%s\n' "$(printf 'u:%s' "$WL_SECRET" | base64)""#,
        ),
        (
            "split",
            r"printf 'split=wl-canary'; sleep 0.1; printf -- '-7f3a9c21 end\n'",
        ),
        ("no-newline", r#"printf 'tail=%s' "$WL_SECRET""#),
        ("unrelated", r"printf 'wl-canary but not the rest\n'"),
    ];
    let mut rendered = Vec::new();
    for (name, body) in cases {
        let script = format!("{{ {body}; }}; {{ {body}; }} >&2");
        let (out, err) = streamed(&script, redactor(CANARY)).await;
        for text in [&out, &err] {
            assert!(!text.contains(CANARY), "{name}: {text}");
            assert!(!text.contains("7f3a9c21"), "{name}: {text}");
        }
        rendered.push(format!("{name:>15}: stdout={out:?} stderr={err:?}"));
    }
    insta::assert_snapshot!(rendered.join("\n"), @r#"
              plain: stdout="token=****\n" stderr="token=****\n"
             base64: stdout="b64=****\n" stderr="b64=****\n"
    prefixed-base64: stdout="b64=dTp****E=\n" stderr="b64=dTp****E=\n"
              split: stdout="split=**** end\n" stderr="split=**** end\n"
         no-newline: stdout="tail=****" stderr="tail=****"
          unrelated: stdout="wl-canary but not the rest\n" stderr="wl-canary but not the rest\n"
    "#);
}

#[tokio::test]
async fn the_global_redactor_applies_by_default() {
    let canary = "wl-global-canary-51d0e8";
    let secret = Secret::registered(canary.to_owned());
    let out = Buffer::default();
    sh(r#"printf 'value=%s\n' "$WL_SECRET""#)
        .env_secret("WL_SECRET", secret)
        .stdout(Sink::writer(out.clone()))
        .run_checked()
        .await
        .unwrap();
    assert_eq!(out.text(), format!("value={MASK}\n"));
}

#[tokio::test]
async fn capture_keeps_stdout_raw_and_redacts_stderr() {
    let outcome =
        sh(r#"printf '{"token":"%s"}' "$WL_SECRET"; printf 'error: %s\n' "$WL_SECRET" >&2"#)
            .env_secret("WL_SECRET", Secret::new(CANARY.to_owned()))
            .capture_output()
            .redactor(redactor(CANARY))
            .run_checked()
            .await
            .unwrap();
    let stdout = String::from_utf8_lossy(outcome.stdout().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(outcome.stderr().unwrap()).into_owned();
    insta::assert_snapshot!(format!("stdout: {stdout}\nstderr: {stderr}\ndebug: {outcome:?}"), @r#"
    stdout: {"token":"wl-canary-7f3a9c21"}
    stderr: error: ****

    debug: Outcome { status: Code(0), interrupted: None, stdout_len: Some(30), stderr_len: Some(12) }
    "#);
}

#[tokio::test]
async fn secret_env_reaches_the_child() {
    let outcome = sh(r#"printf %s "$WL_SECRET" | sha256sum"#)
        .env_secret("WL_SECRET", Secret::new(CANARY.to_owned()))
        .capture_stdout()
        .run_checked()
        .await
        .unwrap();
    let stdout = String::from_utf8(outcome.into_stdout().unwrap()).unwrap();
    assert_eq!(
        stdout.split_whitespace().next(),
        Some(sha256_hex(CANARY.as_bytes()).as_str())
    );
}

#[tokio::test]
async fn secret_env_never_reaches_argv() {
    let running = Cmd::new("sleep", "/")
        .arg("30")
        .env_secret("WL_SECRET", Secret::new(CANARY.to_owned()))
        .spawn()
        .unwrap();
    let pid = running.pid();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert_eq!(cmdline, b"sleep\x0030\x00");
    // The control: the value is there, in the environment.
    let entry = format!("WL_SECRET={CANARY}");
    assert!(
        environ
            .split(|&b| b == 0)
            .any(|var| var == entry.as_bytes())
    );
    drop(running);
    assert!(wait_dead(pid).await, "the child outlived its handle");
}

thread_local! {
    static THREAD_LOG: std::cell::RefCell<Option<Buffer>> = const { std::cell::RefCell::new(None) };
}

/// Writes log lines to the buffer of the current thread, if any.
struct ThreadLog;

impl Write for ThreadLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        THREAD_LOG.with_borrow_mut(|log| log.as_mut().map(|log| log.write_all(buf)));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the debug log of the current thread. The subscriber is global:
/// a scoped one races with other tests over tracing's per-callsite cache.
fn capture_log() -> Buffer {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadLog)
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    let log = Buffer::default();
    THREAD_LOG.set(Some(log.clone()));
    log
}

#[test]
fn the_log_line_names_env_vars_but_not_values() {
    let log = capture_log();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sh(r#"test -n "$WL_SECRET""#)
            .arg("it's")
            .env_secret("WL_SECRET", Secret::new(CANARY.to_owned()))
            .env("WL_PLAIN", "plain-value-1")
            .env_remove("HOME")
            .stdin_secret(Secret::new(CANARY))
            .timeout(Duration::from_secs(10))
            .run_checked()
            .await
            .unwrap();
    });
    let log = log.text();
    assert!(!log.contains(CANARY));
    assert!(!log.contains("plain-value-1"));
    insta::assert_snapshot!(log, @r#"
    DEBUG running command command=sh -c 'test -n "$WL_SECRET"' 'it'\''s' cwd=/ env=["WL_SECRET", "WL_PLAIN"] env_removed=["HOME"] env_clear=false credentials="withheld" stdin="secret" timeout=Some(10s)
    DEBUG command finished program="sh" status=exit code 0
    "#);
}

#[tokio::test]
async fn a_secret_in_argv_is_refused() {
    let global = "wl-global-argv-canary-0b7d";
    let _ = Secret::registered(global);
    let cases = [
        (
            "own redactor",
            Cmd::new("echo", "/")
                .args(["--token", CANARY])
                .redactor(redactor(CANARY)),
        ),
        // The process-wide redactor applies alongside a command's own.
        (
            "process-wide",
            Cmd::new("echo", "/")
                .arg(format!("--token={global}"))
                .redactor(redactor(CANARY)),
        ),
    ];
    let mut rendered = Vec::new();
    for (name, cmd) in cases {
        let err = cmd.spawn().unwrap_err();
        rendered.push(format!("{name}: {err}\n  hint: {}", err.hint().unwrap()));
    }
    insta::assert_snapshot!(rendered.join("\n"), @r"
    own redactor: refusing to run `echo`: argument 2 contains a secret
      hint: pass secrets to children through `env_secret` or `stdin_secret`, never argv
    process-wide: refusing to run `echo`: argument 1 contains a secret
      hint: pass secrets to children through `env_secret` or `stdin_secret`, never argv
    ");
}

#[tokio::test]
async fn exit_statuses_propagate() {
    let cases = [
        "exit 0",
        "exit 7",
        "exit 255",
        "kill -TERM $$",
        "kill -KILL $$",
        "kill -INT $$",
    ];
    let mut rendered = Vec::new();
    for script in cases {
        let outcome = sh(script).run().await.unwrap();
        let status = outcome.status().to_string();
        rendered.push(format!(
            "{script:>13} -> {status:<20} -> exit {}",
            outcome.exit_code()
        ));
    }
    insta::assert_snapshot!(rendered.join("\n"), @r"
           exit 0 -> exit code 0          -> exit 0
           exit 7 -> exit code 7          -> exit 7
         exit 255 -> exit code 255        -> exit 255
    kill -TERM $$ -> signal 15 (SIGTERM)  -> exit 143
    kill -KILL $$ -> signal 9 (SIGKILL)   -> exit 137
     kill -INT $$ -> signal 2 (SIGINT)    -> exit 130
    ");
}

#[tokio::test]
async fn run_checked_fails_on_a_non_zero_status() {
    let mut rendered = Vec::new();
    for script in ["exit 7", "kill -TERM $$"] {
        let err = sh(script).run_checked().await.unwrap_err();
        assert!(matches!(err, CheckedError::Failed { .. }));
        rendered.push(format!("{err} (exit {})", err.exit_code().unwrap()));
    }
    insta::assert_snapshot!(rendered.join("\n"), @r"
    `sh` failed with exit code 7 (exit 7)
    `sh` failed with signal 15 (SIGTERM) (exit 143)
    ");
    assert_eq!(ExitStatus::Signal(15).exit_code(), 143);
}

#[tokio::test]
async fn a_timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // Dies on SIGTERM.
        ("sleep", "echo $$ > pid; sleep 30"),
        // Ignores SIGTERM (and so does its sleep): SIGKILL after the grace.
        ("stubborn", "trap '' TERM; echo $$ > pid; sleep 30"),
    ];
    let mut rendered = Vec::new();
    for (name, script) in cases {
        let start = Instant::now();
        let err = Cmd::new("sh", dir.path())
            .args(["-c", script])
            .timeout(Duration::from_millis(300))
            .kill_grace(Duration::from_millis(300))
            .run()
            .await
            .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{name}: {:?}",
            start.elapsed()
        );
        assert!(matches!(err, RunError::Timeout { .. }));
        assert!(wait_dead(read_pid(&dir.path().join("pid")).await).await);
        rendered.push(format!("{name}: {err}"));
    }
    insta::assert_snapshot!(rendered.join("\n"), @r"
    sleep: `sh` timed out after 300ms
    stubborn: `sh` timed out after 300ms
    ");
}

#[tokio::test]
async fn stdin_is_delivered() {
    let hash = sha256_hex(CANARY.as_bytes());
    let cases = [
        (
            "bytes",
            Cmd::new("cat", "/").stdin("hello\nworld\n"),
            "hello\nworld\n".to_owned(),
        ),
        (
            "secret",
            Cmd::new("sha256sum", "/").stdin_secret(Secret::new(CANARY)),
            format!("{hash}  -\n"),
        ),
        ("none", Cmd::new("cat", "/"), String::new()),
    ];
    for (name, cmd, expected) in cases {
        let outcome = cmd
            .capture_stdout()
            .timeout(Duration::from_secs(10))
            .run_checked()
            .await;
        let stdout = outcome.unwrap().into_stdout().unwrap();
        assert_eq!(String::from_utf8(stdout).unwrap(), expected, "{name}");
    }
}

#[tokio::test]
async fn a_child_that_ignores_stdin_is_fine() {
    let big = vec![b'x'; 1 << 20];
    let outcome = Cmd::new("true", "/").stdin(big).run().await.unwrap();
    assert!(outcome.success());
}

#[tokio::test]
async fn spawn_errors_are_clear() {
    let missing = std::env::temp_dir().join("windlass-no-such-dir");
    let cases = [
        ("missing program", Cmd::new("windlass-no-such-program", "/")),
        (
            "missing path",
            Cmd::new("./bin/windlass-no-such-program", "/"),
        ),
        ("relative cwd", Cmd::new("true", "some/dir")),
        ("missing cwd", Cmd::new("true", &missing)),
        ("file as cwd", Cmd::new("true", "/proc/self/status")),
    ];
    let mut rendered = Vec::new();
    for (name, cmd) in cases {
        let err = cmd.run().await.unwrap_err();
        let mut text = format!("{name} [{}]: {err}", err.exit_status().name());
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let _ = write!(text, "\n  caused by: {cause}");
            source = cause.source();
        }
        if let Some(hint) = err.hint() {
            let _ = write!(text, "\n  hint: {hint}");
        }
        rendered.push(text);
    }
    let temp = std::env::temp_dir().display().to_string();
    insta::with_settings!({ filters => vec![(temp.as_str(), "[TEMP]")] }, {
        insta::assert_snapshot!(rendered.join("\n"), @r"
        missing program [usage]: cannot run `windlass-no-such-program`: program not found
          hint: install `windlass-no-such-program` or add the directory that holds it to PATH
        missing path [usage]: cannot run `./bin/windlass-no-such-program`: program not found
          hint: check that `./bin/windlass-no-such-program` exists and is executable
        relative cwd [usage]: cannot run `true`: the working directory must be absolute, not some/dir
          hint: resolve the directory against the project root first
        missing cwd [usage]: cannot run `true` in [TEMP]/windlass-no-such-dir
          caused by: No such file or directory (os error 2)
        file as cwd [usage]: cannot run `true` in /proc/self/status
          caused by: not a directory
        ");
    });
}

#[tokio::test]
async fn the_working_directory_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = Cmd::new("pwd", dir.path())
        .arg("-P")
        .capture_stdout()
        .run_checked()
        .await
        .unwrap();
    let expected = format!("{}\n", dir.path().canonicalize().unwrap().display());
    assert_eq!(
        String::from_utf8(outcome.into_stdout().unwrap()).unwrap(),
        expected
    );
}

#[tokio::test]
async fn the_environment_is_inherited_or_cleared() {
    let cases = [
        ("cleared", Cmd::new("env", "/").env_clear().env("WL_A", "1")),
        (
            "inherited",
            Cmd::new("sh", "/")
                .args([
                    "-c",
                    r#"echo "path=${PATH:+set} home=${HOME:-unset} a=$WL_A""#,
                ])
                .env("WL_A", "1")
                .env_remove("HOME"),
        ),
    ];
    let mut rendered = Vec::new();
    for (name, cmd) in cases {
        let stdout = cmd
            .capture_stdout()
            .run_checked()
            .await
            .unwrap()
            .into_stdout()
            .unwrap();
        rendered.push(format!(
            "{name}: {}",
            String::from_utf8(stdout).unwrap().trim_end()
        ));
    }
    insta::assert_snapshot!(rendered.join("\n"), @r"
    cleared: WL_A=1
    inherited: path=set home=unset a=1
    ");
}

/// The credentials in our environment (CI identity tokens, variables the
/// configuration declared secret) do not reach a child unless it inherits
/// them on purpose; what the caller hands over explicitly does. This test
/// runs itself again as a process whose environment holds them.
#[tokio::test]
async fn credentials_are_withheld_unless_inherited() {
    const REENTRY: &str = "WINDLASS_PROCESS_TEST_CREDENTIALS_DIR";
    let script = r#"echo "pypi=${PYPI_ID_TOKEN-unset} circle=${CIRCLE_OIDC_TOKEN-unset} declared=${WL_DECLARED_DEPLOY_KEY-unset} plain=${WL_PLAIN-unset} vault=${VAULT_TOKEN-unset}""#;
    if let Some(dir) = test_var(REENTRY) {
        windlass_redact::declare_secret_var("WL_DECLARED_DEPLOY_KEY", None);
        let cases = [
            (
                "withheld",
                sh(script).env_secret("VAULT_TOKEN", Secret::new("handed-over".to_owned())),
            ),
            ("inherited", sh(script).inherit_credentials()),
            ("cleared", sh(script).env_clear()),
        ];
        let mut rendered = String::new();
        for (name, cmd) in cases {
            let stdout = cmd.capture_stdout().run_checked().await.unwrap();
            let stdout = String::from_utf8(stdout.into_stdout().unwrap()).unwrap();
            let _ = write!(rendered, "{name}: {stdout}");
        }
        std::fs::write(Path::new(&dir).join("out"), rendered).unwrap();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    Cmd::new(&exe, "/")
        .args([
            "--exact",
            "tests::credentials_are_withheld_unless_inherited",
            "--test-threads=1",
        ])
        .env(REENTRY, dir.path())
        .env("PYPI_ID_TOKEN", "pypi-id-token")
        .env("CIRCLE_OIDC_TOKEN", "circle-oidc-token")
        .env("WL_DECLARED_DEPLOY_KEY", "declared-deploy-key")
        .env("WL_PLAIN", "plain")
        .env_remove("VAULT_TOKEN")
        .stdout(Sink::Null)
        .stderr(Sink::Null)
        .run_checked()
        .await
        .unwrap();
    let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
    insta::assert_snapshot!(out, @r"
    withheld: pypi=unset circle=unset declared=unset plain=plain vault=handed-over
    inherited: pypi=pypi-id-token circle=circle-oidc-token declared=declared-deploy-key plain=plain vault=unset
    cleared: pypi=unset circle=unset declared=unset plain=unset vault=unset
    ");
}

#[tokio::test]
async fn dropping_the_future_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let run = Cmd::new("sh", dir.path())
        .args(["-c", "sleep 30 & echo $! > grandchild; echo $$ > pid; wait"])
        .run();
    let dropped = tokio::time::timeout(Duration::from_millis(500), run).await;
    assert!(dropped.is_err(), "the child finished early");
    let child = read_pid(&dir.path().join("pid")).await;
    let grandchild = read_pid(&dir.path().join("grandchild")).await;
    assert!(wait_dead(child).await, "the child survived");
    assert!(wait_dead(grandchild).await, "the grandchild survived");
}

/// The child dies with us, even when we are killed with SIGKILL: this test
/// runs itself as a helper process that starts a child, then kills the
/// helper.
#[tokio::test]
async fn the_child_dies_with_its_parent() {
    const HELPER: &str = "WINDLASS_PROCESS_TEST_HELPER_DIR";
    if let Some(dir) = test_var(HELPER) {
        // Helper mode: start a child that records its pid, then wait.
        let _ = Cmd::new("sh", Path::new(&dir))
            .args(["-c", "echo $$ > pid; exec sleep 30"])
            .run()
            .await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let helper = Cmd::new(&exe, "/")
        .args([
            "--exact",
            "tests::the_child_dies_with_its_parent",
            "--test-threads=1",
        ])
        .env(HELPER, dir.path())
        .stdout(Sink::Null)
        .stderr(Sink::Null)
        .spawn()
        .unwrap();
    let helper_pid = helper.pid();
    let child = read_pid(&dir.path().join("pid")).await;
    assert!(!is_dead(child));
    Cmd::new("kill", "/")
        .args(["-KILL", &helper_pid.to_string()])
        .run_checked()
        .await
        .unwrap();
    let outcome = helper.wait().await.unwrap();
    assert_eq!(outcome.status(), ExitStatus::Signal(libc::SIGKILL));
    assert!(wait_dead(child).await, "the child outlived its parent");
}

#[test]
fn command_lines_are_quoted_for_a_shell() {
    let cases = ["plain", "a b", "", "it's", "--flag=value", "$HOME", "ünï"];
    let quoted: Vec<String> = cases.iter().map(|w| crate::shell_quote(w)).collect();
    insta::assert_snapshot!(quoted.join(" "), @r#"plain 'a b' '' 'it'\''s' --flag=value '$HOME' 'ünï'"#);
}
