//! One harness for the CLI tests of every crate: run a binary hermetically,
//! read how it ended, print it in the one snapshot format, and filter what
//! changes from run to run (temporary paths, ports, the version, durations,
//! sizes).
//!
//! ```no_run
//! # let dir = std::path::Path::new(".");
//! use windlass_testkit::cli::{Cli, filters};
//! let run = Cli::new("target/debug/windlass", dir).args(["--help"]).run();
//! assert_eq!(run.code, 0, "{run}");
//! insta::with_settings!({filters => filters()}, { insta::assert_snapshot!(run) });
//! ```

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// A binary to run with a clean environment: only `PATH`, `NO_COLOR`, and
/// `HOME`, `WINDLASS_CONFIG_HOME` and `WINDLASS_CACHE_DIR` under the test's
/// directory, plus what the test adds.
#[derive(Debug)]
#[must_use]
pub struct Cli {
    command: Command,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

impl Cli {
    /// `program` run in `dir`, with `HOME` at `dir/home`,
    /// `WINDLASS_CONFIG_HOME` at `dir/user-config` and `WINDLASS_CACHE_DIR`
    /// at `dir/cache` (none of them created).
    pub fn new(program: impl AsRef<OsStr>, dir: &Path) -> Self {
        let home = dir.join("home");
        let mut command = Command::new(program);
        command
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("WINDLASS_CONFIG_HOME", dir.join("user-config"))
            .env("WINDLASS_CACHE_DIR", dir.join("cache"))
            .env("NO_COLOR", "1");
        Self {
            command,
            stdin: None,
            timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets a variable (and overrides the defaults, `HOME` included).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.command.envs(vars);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.command.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Bytes written to the binary's stdin (otherwise stdin is empty).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Kills the binary (SIGKILL) when it runs longer than `timeout`: a
    /// hang then fails the test with the signal instead of stalling it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the binary to its end.
    pub fn run(self) -> Run {
        Run::from(self.output())
    }

    /// Runs the binary to its end and returns its raw output.
    pub fn output(self) -> Output {
        let timeout = self.timeout;
        let mut child = self.spawn();
        let Some(timeout) = timeout else {
            return child.wait_with_output().unwrap_or_else(|err| {
                panic!("windlass-testkit: cannot wait for the binary: {err}")
            });
        };
        // Drain the pipes while waiting, so that a full pipe cannot block it.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let deadline = Instant::now() + timeout;
        let status = loop {
            let waited = child.try_wait().unwrap_or_else(|err| {
                panic!("windlass-testkit: cannot wait for the binary: {err}")
            });
            if let Some(status) = waited {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                break child.wait().unwrap_or_else(|err| {
                    panic!("windlass-testkit: cannot wait for the binary: {err}")
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        }
    }

    /// Starts the binary with its stdout and stderr piped (and its stdin
    /// written and closed), for a test that signals it: see [`interrupt`]
    /// and [`Run::from`].
    pub fn spawn(mut self) -> Child {
        self.command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot start the binary: {err}"));
        let mut stdin = child.stdin.take();
        if let (Some(pipe), Some(bytes)) = (stdin.as_mut(), self.stdin.as_deref()) {
            // A binary that exits without reading its stdin closes the pipe.
            let _ = pipe.write_all(bytes);
        }
        drop(stdin);
        child
    }
}

/// The binary `name` of the package `name`, built (once per test process,
/// so never stale) into the target directory of `beside`, the path of a
/// binary Cargo built for the test (`env!("CARGO_BIN_EXE_windlass")`).
/// Cargo builds only a package's own binaries for its tests: this is how a
/// test reaches another tool's focused binary.
pub fn sibling_binary(beside: &Path, name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let profile_dir = beside
        .parent()
        .unwrap_or_else(|| panic!("windlass-testkit: {} has no parent", beside.display()));
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if !built.contains(name) {
        let target_dir = profile_dir.parent().unwrap_or(profile_dir);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "-p", name, "--bin", name, "--target-dir"])
            .arg(target_dir)
            .output()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot run cargo: {err}"));
        assert!(
            output.status.success(),
            "windlass-testkit: cannot build {name}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        built.insert(name.to_owned());
    }
    profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Sends SIGINT to `child`, as Ctrl-C in a terminal would.
pub fn interrupt(child: &Child) {
    signal(child, libc::SIGINT);
}

/// Sends SIGTERM to `child`, as a CI runner cancelling a job would.
pub fn terminate(child: &Child) {
    signal(child, libc::SIGTERM);
}

/// Sends `signal` (`libc::SIGHUP` ...) to `child`.
pub fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id())
        .unwrap_or_else(|_| panic!("windlass-testkit: pid {} does not fit pid_t", child.id()));
    // SAFETY: kill(2) with a pid of our own child and a valid signal number.
    #[allow(unsafe_code, reason = "kill(2) has no safe wrapper in std")]
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        sent,
        0,
        "windlass-testkit: cannot send signal {signal} to {pid}: {}",
        std::io::Error::last_os_error()
    );
}

/// How a binary ended and what it printed.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code, or -1 when a signal ended it.
    pub code: i32,
    /// The signal that ended it.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The output with every `path` read as `placeholder` (`[TMP]`).
    #[must_use]
    pub fn replace(mut self, path: &Path, placeholder: &str) -> Self {
        let path = path.display().to_string();
        self.stdout = self.stdout.replace(&path, placeholder);
        self.stderr = self.stderr.replace(&path, placeholder);
        self
    }

    /// The last line of stdout as JSON (the result document of `--json`).
    pub fn json(&self) -> serde_json::Value {
        let line = self
            .stdout
            .lines()
            .next_back()
            .unwrap_or_else(|| panic!("no JSON on stdout\n{self}"));
        serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}\n{self}"))
    }

    /// Fails when `secret` is in stdout or stderr in any encoding.
    pub fn assert_no_leak(&self, secret: &str) {
        crate::assert_no_leak(self.stdout.as_bytes(), secret);
        crate::assert_no_leak(self.stderr.as_bytes(), secret);
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self::from_parts(output.status, &output.stdout, &output.stderr)
    }
}

impl Run {
    /// A run from its status and raw output.
    pub fn from_parts(status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> Self {
        Self {
            code: status.code().unwrap_or(-1),
            signal: status.signal(),
            stdout: String::from_utf8_lossy(stdout).into_owned(),
            stderr: String::from_utf8_lossy(stderr).into_owned(),
        }
    }
}

/// The snapshot format: `exit: N`, then each stream under its header.
impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The insta filters every CLI snapshot uses, in order: temporary
/// directories -> `[TMP]`, `127.0.0.1:PORT` -> `127.0.0.1:[PORT]`, the
/// workspace version -> `[VERSION]`, `in 1.2 s` -> `in [TIME]`, `12 KiB` ->
/// `[SIZE]`. A crate with a filter of its own appends it.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    static FILTERS: OnceLock<Vec<(String, &'static str)>> = OnceLock::new();
    FILTERS
        .get_or_init(|| {
            vec![
                (
                    format!(
                        r"{}/\.tmp[A-Za-z0-9]+",
                        escape(&temp_dir().display().to_string())
                    ),
                    "[TMP]",
                ),
                (r"127\.0\.0\.1:\d+".to_owned(), "127.0.0.1:[PORT]"),
                (
                    format!(r"{}\b", escape(env!("CARGO_PKG_VERSION"))),
                    "[VERSION]",
                ),
                (r"in \d+(\.\d+)? s\b".to_owned(), "in [TIME]"),
                (r"\b\d+(\.\d+)? (B|KiB|MiB)\b".to_owned(), "[SIZE]"),
            ]
        })
        .iter()
        .map(|(pattern, replacement)| (pattern.as_str(), *replacement))
        .collect()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir();
    dir.canonicalize().unwrap_or(dir)
}

/// `text` as a regex matching itself.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if r"\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn true_bin() -> PathBuf {
        ["/bin/sh", "/usr/bin/sh"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("a shell")
    }

    #[test]
    fn runs_hermetically_and_prints_the_snapshot_format() {
        let dir = tempfile::tempdir().unwrap();
        let run = Cli::new(true_bin(), dir.path())
            .env("EXTRA", "x")
            .args([
                "-c",
                "cat; echo \"$HOME|$EXTRA|$NO_COLOR|$SECRET\"; echo err >&2; exit 3",
            ])
            .stdin("in\n")
            .run()
            .replace(dir.path(), "[TMP]");
        assert_eq!(run.code, 3);
        assert_eq!(run.signal, None);
        assert_eq!(
            run.to_string(),
            "exit: 3\n--- stdout\nin\n[TMP]/home|x|1|\n--- stderr\nerr\n"
        );
    }

    #[test]
    fn json_reads_the_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let run = Cli::new(true_bin(), dir.path())
            .args(["-c", "echo '{\"a\":1}'; echo '{\"b\":2}'"])
            .run();
        assert_eq!(run.json()["b"], 2);
    }

    #[test]
    fn interrupt_and_terminate_end_a_child() {
        let dir = tempfile::tempdir().unwrap();
        let child = Cli::new(true_bin(), dir.path())
            .args(["-c", "exec sleep 60"])
            .spawn();
        interrupt(&child);
        let run = Run::from(child.wait_with_output().unwrap());
        assert_eq!(run.signal, Some(libc::SIGINT), "{run}");
        assert_eq!(run.code, -1);
        let child = Cli::new(true_bin(), dir.path())
            .args(["-c", "exec sleep 60"])
            .spawn();
        terminate(&child);
        let run = Run::from(child.wait_with_output().unwrap());
        assert_eq!(run.signal, Some(libc::SIGTERM), "{run}");
    }

    #[test]
    fn timeout_kills_a_hung_binary_and_keeps_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let run = Cli::new(true_bin(), dir.path())
            .args(["-c", "echo started; exec sleep 60"])
            .timeout(Duration::from_millis(300))
            .run();
        assert_eq!(run.signal, Some(libc::SIGKILL), "{run}");
        assert_eq!(run.stdout, "started\n");
        let quick = Cli::new(true_bin(), dir.path())
            .args(["-c", "exit 4"])
            .timeout(Duration::from_secs(60))
            .run();
        assert_eq!(quick.code, 4, "{quick}");
    }

    #[test]
    fn escape_makes_a_literal_pattern() {
        assert_eq!(escape("1.2.3"), r"1\.2\.3");
        assert_eq!(escape("/tmp/a-b"), r"/tmp/a\-b");
    }

    #[test]
    fn filters_hide_what_changes_between_runs() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}/x at 127.0.0.1:4242 v{} done in 1.25 s (12.5 KiB) 0.1.x\n",
            dir.path().canonicalize().unwrap().display(),
            env!("CARGO_PKG_VERSION")
        );
        insta::with_settings!({filters => filters()}, {
            insta::assert_snapshot!(
                text,
                @"[TMP]/x at 127.0.0.1:[PORT] v[VERSION] done in [TIME] ([SIZE]) 0.1.x"
            );
        });
    }
}
