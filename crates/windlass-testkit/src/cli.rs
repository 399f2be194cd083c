//! One harness for the CLI tests of every crate: run a binary hermetically
//! (or start it, wait for a line it prints and signal it), read how it
//! ended, print it in the one snapshot format, and filter what changes from
//! run to run (temporary paths, ports, the version, durations, sizes).
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
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// A binary to run with a clean environment: only `PATH`, `NO_COLOR`, and
/// `HOME`, `WINDLASS_CONFIG_HOME` and `WINDLASS_CACHE_DIR` under the test's
/// directory, plus what the test adds or passes through from its own
/// environment ([`Cli::pass_env`]).
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

    /// Copies the named variables from the test process's environment
    /// (over the defaults, `HOME` included); a name it does not have keeps
    /// its default or stays unset. For a binary that runs tools needing the
    /// machine's set-up, as an installer needs its configuration in the real
    /// `HOME` and the proxy and certificate variables.
    pub fn pass_env<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            let name = name.as_ref();
            if let Some(value) = crate::var_os(name) {
                self.command.env(name, value);
            }
        }
        self
    }

    /// Copies every variable of the test process whose name starts with
    /// `prefix` (`PIP_`).
    pub fn pass_env_prefix(mut self, prefix: &str) -> Self {
        for (name, value) in std::env::vars_os() {
            if name.to_str().is_some_and(|n| n.starts_with(prefix)) {
                self.command.env(name, value);
            }
        }
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
        self.spawn().finish()
    }

    /// Starts the binary with its stdin written and closed and its stdout
    /// and stderr read as it runs, for a test that waits for a moment of
    /// the run and signals it (the timeout, if any, counts from here).
    pub fn spawn(self) -> Running {
        let timeout = self.timeout;
        let mut child = self.start();
        let stdout = Stream::drain(child.stdout.take());
        let stderr = Stream::drain(child.stderr.take());
        Running {
            child,
            stdout,
            stderr,
            deadline: timeout.map(|t| Instant::now() + t),
        }
    }

    fn start(mut self) -> Child {
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

/// A binary started by [`Cli::spawn`]: its output is read as it comes, so
/// a full pipe never blocks it.
#[derive(Debug)]
pub struct Running {
    child: Child,
    stdout: Stream,
    stderr: Stream,
    deadline: Option<Instant>,
}

impl Running {
    /// Sends SIGINT, as Ctrl-C in a terminal would.
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// Sends SIGTERM, as a CI runner cancelling a job would.
    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends `signal` (`libc::SIGHUP` ...).
    pub fn signal(&self, signal: libc::c_int) {
        let id = self.child.id();
        let pid = libc::pid_t::try_from(id)
            .unwrap_or_else(|_| panic!("windlass-testkit: pid {id} does not fit pid_t"));
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

    /// Whether the binary has ended (it is not reaped twice: [`wait`]
    /// still reads how).
    ///
    /// [`wait`]: Running::wait
    pub fn has_ended(&mut self) -> bool {
        self.child
            .try_wait()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot wait for the binary: {err}"))
            .is_some()
    }

    /// Waits up to `timeout` for a whole line of stdout equal to `line`;
    /// false when the binary closed its stdout or the time ran out first.
    pub fn wait_for_stdout_line(&self, line: &str, timeout: Duration) -> bool {
        self.stdout.wait_for_line(line, timeout)
    }

    /// [`wait_for_stdout_line`](Running::wait_for_stdout_line) on stderr.
    pub fn wait_for_stderr_line(&self, line: &str, timeout: Duration) -> bool {
        self.stderr.wait_for_line(line, timeout)
    }

    /// Waits for the end of the binary (killing it with SIGKILL once the
    /// [`Cli::timeout`] has passed) and returns all it printed.
    pub fn wait(self) -> Run {
        Run::from(self.finish())
    }

    fn finish(mut self) -> Output {
        let status = loop {
            let waited = self.child.try_wait().unwrap_or_else(|err| {
                panic!("windlass-testkit: cannot wait for the binary: {err}")
            });
            if let Some(status) = waited {
                break status;
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                let _ = self.child.kill();
                break self.child.wait().unwrap_or_else(|err| {
                    panic!("windlass-testkit: cannot wait for the binary: {err}")
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output {
            status,
            stdout: self.stdout.finish(),
            stderr: self.stderr.finish(),
        }
    }
}

/// One output stream of a [`Running`] binary, read by a thread of its own
/// into a buffer that waiters watch.
#[derive(Debug)]
struct Stream {
    shared: Arc<(Mutex<Drained>, Condvar)>,
    reader: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Drained {
    bytes: Vec<u8>,
    closed: bool,
}

impl Stream {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> Self {
        let shared = Arc::new((Mutex::new(Drained::default()), Condvar::new()));
        let state = Arc::clone(&shared);
        let reader = std::thread::spawn(move || {
            let (lock, changed) = &*state;
            let mut chunk = [0_u8; 8192];
            if let Some(mut pipe) = pipe {
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    let mut drained = lock.lock().unwrap_or_else(PoisonError::into_inner);
                    drained.bytes.extend_from_slice(&chunk[..n]);
                    changed.notify_all();
                }
            }
            lock.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
            changed.notify_all();
        });
        Self {
            shared,
            reader: Some(reader),
        }
    }

    fn wait_for_line(&self, line: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, changed) = &*self.shared;
        let mut drained = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let text = String::from_utf8_lossy(&drained.bytes);
            // Only whole lines: the last piece may still grow.
            let mut lines: Vec<&str> = text.split('\n').collect();
            lines.pop();
            if lines.contains(&line) {
                return true;
            }
            let now = Instant::now();
            if drained.closed || now >= deadline {
                return false;
            }
            drained = changed
                .wait_timeout(drained, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// All the stream held, once the binary closed it.
    fn finish(mut self) -> Vec<u8> {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let (lock, _) = &*self.shared;
        std::mem::take(&mut lock.lock().unwrap_or_else(PoisonError::into_inner).bytes)
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

    /// For a run in GitHub Actions: `secret` is on stderr only in its
    /// `::add-mask::` command (which the runner reads and hides), and in no
    /// other form anywhere in stdout or stderr.
    pub fn assert_masked_only(&self, secret: &str) {
        let mask = format!("::add-mask::{secret}");
        assert!(
            self.stderr.lines().any(|l| l == mask),
            "no `{mask}` on stderr\n{self}"
        );
        self.assert_no_leak_outside_masks(secret);
    }

    /// For a run in GitHub Actions: `secret`, in any form, is nowhere in
    /// stdout or stderr but in `::add-mask::` commands (if at all).
    pub fn assert_no_leak_outside_masks(&self, secret: &str) {
        let others: String = self
            .stderr
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .flat_map(|l| [l, "\n"])
            .collect();
        crate::assert_no_leak(self.stdout.as_bytes(), secret);
        crate::assert_no_leak(others.as_bytes(), secret);
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
    fn interrupt_and_terminate_end_a_spawned_binary() {
        let dir = tempfile::tempdir().unwrap();
        let running = Cli::new(true_bin(), dir.path())
            .args(["-c", "exec sleep 60"])
            .spawn();
        running.interrupt();
        let run = running.wait();
        assert_eq!(run.signal, Some(libc::SIGINT), "{run}");
        assert_eq!(run.code, -1);
        let running = Cli::new(true_bin(), dir.path())
            .args(["-c", "exec sleep 60"])
            .spawn();
        running.terminate();
        let run = running.wait();
        assert_eq!(run.signal, Some(libc::SIGTERM), "{run}");
    }

    #[test]
    fn a_spawned_binary_is_waited_for_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut running = Cli::new(true_bin(), dir.path())
            .args([
                "-c",
                "trap 'echo bye; exit 5' TERM; echo y >&2; echo ready; printf part; \
                 while :; do sleep 0.05; done",
            ])
            .timeout(Duration::from_secs(60))
            .spawn();
        assert!(running.wait_for_stdout_line("ready", Duration::from_secs(60)));
        assert!(running.wait_for_stderr_line("y", Duration::from_secs(60)));
        assert!(!running.has_ended());
        // A part of a line is no line.
        assert!(!running.wait_for_stdout_line("part", Duration::from_millis(50)));
        running.terminate();
        let run = running.wait();
        assert_eq!(run.code, 5, "{run}");
        assert_eq!(run.stdout, "ready\npartbye\n");
        assert_eq!(run.stderr, "y\n");
    }

    #[test]
    fn waiting_for_a_line_ends_when_the_binary_closes_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut running = Cli::new(true_bin(), dir.path())
            .args(["-c", "echo other"])
            .spawn();
        assert!(!running.wait_for_stdout_line("ready", Duration::from_secs(600)));
        let run = running.wait();
        assert_eq!(run.stdout, "other\n");
        running = Cli::new(true_bin(), dir.path())
            .args(["-c", "exit 0"])
            .spawn();
        while !running.has_ended() {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(running.wait().code, 0);
    }

    #[test]
    fn pass_env_copies_only_what_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // The test process's own variables: PATH is always there.
        let path = crate::var_os("PATH").unwrap();
        let run = Cli::new(true_bin(), dir.path())
            .env("PATH", "/nowhere")
            .pass_env(["PATH", "WINDLASS_TESTKIT_NO_SUCH_VAR"])
            .env("CARGO_X", "set")
            .pass_env_prefix("WINDLASS_TESTKIT_NO_SUCH_")
            .args([
                "-c",
                "echo \"$PATH|${WINDLASS_TESTKIT_NO_SUCH_VAR-unset}|$CARGO_X|${CARGO_PKG_NAME-unset}\"",
            ])
            .run();
        assert_eq!(
            run.stdout,
            format!("{}|unset|set|unset\n", path.to_string_lossy())
        );
        let run = Cli::new(true_bin(), dir.path())
            .pass_env_prefix("CARGO_PKG_")
            .args(["-c", "echo \"$CARGO_PKG_NAME|${CARGO_MANIFEST_DIR-unset}\""])
            .run();
        assert_eq!(run.stdout, "windlass-testkit|unset\n");
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
