//! The test Kubernetes cluster: `kubectl` against it (for fixtures and
//! assertions, independent of the code under test) and a fresh namespace
//! per test.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::leak::unique_hex;
use crate::services::Kube;

/// The label on every namespace [`Kube::fresh_namespace`] makes:
/// `scripts/test.sh` deletes the namespaces of the previous run by it.
pub(crate) const TEST_LABEL: &str = "windlass-test";

impl Kube {
    /// `kubectl` with the test kubeconfig and context.
    pub fn kubectl_command(&self) -> Command {
        let mut command = Command::new(&self.kubectl);
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .args(["--context", &self.context])
            .stdin(Stdio::null());
        command
    }

    /// Runs `kubectl ARGS` and returns its output, whatever the status.
    pub fn kubectl_output(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = self.kubectl_command();
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot run kubectl: {err}"));
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .unwrap_or_else(|err| panic!("windlass-testkit: cannot write to kubectl: {err}"));
        }
        child
            .wait_with_output()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot wait for kubectl: {err}"))
    }

    /// Runs `kubectl ARGS`; its stdout.
    ///
    /// # Panics
    ///
    /// When kubectl fails, with its stderr.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_checked(args, None)
    }

    /// `kubectl apply -f -` of `manifest` (YAML or JSON) in `namespace`.
    pub fn apply(&self, namespace: &str, manifest: &str) -> String {
        self.kubectl_checked(&["apply", "-n", namespace, "-f", "-"], Some(manifest))
    }

    fn kubectl_checked(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.kubectl_output(args, stdin);
        assert!(
            output.status.success(),
            "windlass-testkit: kubectl {} failed ({}):\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Creates the namespace `PREFIX-RANDOM`, labelled [`TEST_LABEL`], and
    /// returns its name. Names
    /// are never reused: a deleted namespace stays `Terminating` on this
    /// cluster for a while.
    ///
    /// # Panics
    ///
    /// When `prefix` cannot start a namespace name, or kubectl fails.
    pub fn fresh_namespace(&self, prefix: &str) -> String {
        assert!(
            !prefix.is_empty()
                && prefix.len() <= 40
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && prefix.starts_with(|c: char| c.is_ascii_lowercase()),
            "windlass-testkit: namespace prefix {prefix:?} must be 1-40 of [a-z0-9-], starting with a letter"
        );
        let name = format!("{prefix}-{}", &unique_hex()[..12]);
        // Labelled, so the test command can delete a run's namespaces
        // before the next (the one fake node holds a few hundred pods).
        let manifest = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{{\"name\":\"{name}\",\"labels\":{{\"{TEST_LABEL}\":\"true\"}}}}}}"
        );
        self.kubectl_checked(&["create", "-f", "-"], Some(&manifest));
        name
    }
}
