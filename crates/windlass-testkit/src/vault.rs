//! Fixture steps against the test OpenBao, run with its own `bao` CLI and
//! the root token: write a KV secret, make a token with a policy, check a
//! token by its accessor, set up an AppRole. Tokens and values go by environment and stdin,
//! never argv.

use std::io::Write as _;
use std::process::{Command, Stdio};

use windlass_redact::Secret;

use crate::services::Bao;

impl Bao {
    /// The `bao` CLI with the address and the root token.
    fn cli(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", self.root_token.expose())
            .stdin(Stdio::null());
        command
    }

    /// Writes `data` (key, value pairs) at `mount/path` (KV v2 or v1,
    /// whichever the mount is), replacing what was there. The values go as
    /// JSON on stdin.
    pub fn kv_put(&self, mount: &str, path: &str, data: &[(&str, &str)]) {
        let data: serde_json::Map<String, serde_json::Value> = data
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).into()))
            .collect();
        let mut child = self
            .cli()
            .args(["kv", "put", &format!("-mount={mount}"), path, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot run bao: {err}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(serde_json::Value::Object(data).to_string().as_bytes())
                .unwrap_or_else(|err| panic!("windlass-testkit: cannot write to bao: {err}"));
        }
        let output = child
            .wait_with_output()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot wait for bao: {err}"));
        assert!(
            output.status.success(),
            "windlass-testkit: bao kv put {mount}/{path} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A new token with `policies` (besides `default`) that lives `ttl`
    /// (`5m`), with its accessor.
    pub fn create_token(&self, policies: &[&str], ttl: &str) -> (Secret<String>, String) {
        let mut command = self.cli();
        command.args(["token", "create", "-format=json", &format!("-ttl={ttl}")]);
        for policy in policies {
            command.arg(format!("-policy={policy}"));
        }
        let output = command
            .output()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot run bao: {err}"));
        assert!(
            output.status.success(),
            "windlass-testkit: bao token create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("windlass-testkit: bao token create: not JSON: {err}"));
        let field = |name: &str| {
            doc["auth"][name]
                .as_str()
                .unwrap_or_else(|| panic!("windlass-testkit: bao token create: no auth.{name}"))
                .to_owned()
        };
        (Secret::new(field("client_token")), field("accessor"))
    }

    /// Whether OpenBao still knows the token behind `accessor`.
    pub fn accessor_valid(&self, accessor: &str) -> bool {
        self.cli()
            .args(["token", "lookup", "-accessor", accessor])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot run bao: {err}"))
            .success()
    }

    /// Writes `fields` at `path` (`auth/approle/role/NAME` ...): for
    /// settings, never for secret values, which would be in argv.
    pub fn write(&self, path: &str, fields: &[(&str, &str)]) {
        let output = self
            .cli()
            .args(["write", "-f", path])
            .args(fields.iter().map(|(key, value)| format!("{key}={value}")))
            .output()
            .unwrap_or_else(|err| panic!("windlass-testkit: cannot run bao: {err}"));
        assert!(
            output.status.success(),
            "windlass-testkit: bao write {path} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The role ID of the AppRole `role` at `mount` and a new secret ID for
    /// it.
    pub fn approle_ids(&self, mount: &str, role: &str) -> (String, Secret<String>) {
        let field = |args: &[&str]| {
            let output = self
                .cli()
                .args(args)
                .output()
                .unwrap_or_else(|err| panic!("windlass-testkit: cannot run bao: {err}"));
            assert!(
                output.status.success(),
                "windlass-testkit: bao {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        let role_id = field(&[
            "read",
            "-field=role_id",
            &format!("auth/{mount}/role/{role}/role-id"),
        ]);
        let secret_id = field(&[
            "write",
            "-f",
            "-field=secret_id",
            &format!("auth/{mount}/role/{role}/secret-id"),
        ]);
        (role_id, Secret::new(secret_id))
    }
}
