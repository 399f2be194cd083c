//! Files named by references and by the Vault login are read bounded: a
//! fifo, a socket, a device or a huge file is refused at once, through the
//! library and through the binary, instead of hanging or filling memory.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed fixture step should panic loudly"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use windlass_config::Environment;
use windlass_secrets::config::{AuthMethod, KubernetesSection};
use windlass_secrets::{ResolveError, Resolver, SecretRef, VaultError, VaultSection};
use windlass_testkit::cli::Cli;
use windlass_testkit::{bind_socket, mkfifo, within};

const DEADLINE: Duration = Duration::from_secs(20);

/// A scratch directory holding every kind of file a reference may name.
struct Files {
    dir: tempfile::TempDir,
    _socket: std::os::unix::net::UnixListener,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("token.txt"), "s3cret-value\n").unwrap();
        std::fs::write(dir.path().join("huge.txt"), vec![b'x'; 1024 * 1024 + 1]).unwrap();
        mkfifo(&dir.path().join("fifo"));
        let socket = bind_socket(&dir.path().join("socket"));
        std::fs::create_dir(dir.path().join("dir")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero-link")).unwrap();
        Self {
            dir,
            _socket: socket,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn clean(&self, text: &str) -> String {
        text.replace(&self.path().display().to_string(), "[DIR]")
    }
}

/// The `file://` references of the table, relative to the project.
const REFERENCES: &[&str] = &[
    "file://token.txt",
    "file://fifo",
    "file://socket",
    "file://dir",
    "file:///dev/zero",
    "file:///dev/null",
    "file://zero-link",
    "file://huge.txt",
];

fn resolve_within(resolver: Resolver, reference: SecretRef) -> Result<usize, ResolveError> {
    within(DEADLINE, "resolving a file reference", move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(resolver.resolve(&reference))
            .map(|v| v.expose().len())
    })
}

fn describe(result: &Result<usize, ResolveError>) -> String {
    use windlass_output::Diagnostic as _;
    match result {
        Ok(len) => format!("ok: {len} characters"),
        Err(e) => {
            let mut text = format!("exit {} ({:?}): {e}", e.exit_status().code(), e.status());
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let _ = write!(text, "; caused by: {cause}");
                source = cause.source();
            }
            if let Some(hint) = e.hint() {
                let _ = write!(text, "; hint: {hint}");
            }
            text
        }
    }
}

#[test]
fn file_references_refuse_special_and_huge_files() {
    let files = Files::new();
    let mut table = String::new();
    for reference in REFERENCES {
        let resolver = Resolver::new(
            Environment::from_vars([("HOME", files.path())]),
            files.path(),
            VaultSection::default(),
        );
        let result = resolve_within(resolver, SecretRef::parse(reference).unwrap());
        let _ = writeln!(table, "{reference}: {}", files.clean(&describe(&result)));
    }
    insta::assert_snapshot!(table);
}

#[test]
fn secrets_get_refuses_special_and_huge_files() {
    let files = Files::new();
    let mut table = String::new();
    for reference in REFERENCES {
        let output = Cli::new(env!("CARGO_BIN_EXE_windlass-secrets"), files.path())
            .args(["get", reference])
            .env("HOME", files.path())
            .env_remove("WINDLASS_CACHE_DIR")
            .env_remove("WINDLASS_CONFIG_HOME")
            .timeout(DEADLINE)
            .output();
        let code = output
            .status
            .code()
            .map_or_else(|| format!("killed: {:?}", output.status), |c| c.to_string());
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let _ = writeln!(
            table,
            "=== {reference} (exit {code}, {} bytes on stdout)\n{}",
            stdout.len(),
            files.clean(&stderr)
        );
    }
    insta::assert_snapshot!(table);
}

/// The Vault login's token files: `~/.vault-token` and the Kubernetes
/// service-account token. The server is never reached: the file fails first.
#[test]
fn vault_token_files_are_read_bounded() {
    let files = Files::new();
    let reference = SecretRef::parse("vault://secret/ci/pypi#token").unwrap();
    let vault = |auth: AuthMethod, token_file: &Path| VaultSection {
        address: Some("http://127.0.0.1:9".into()),
        auth: Some(auth),
        kubernetes: Some(KubernetesSection {
            mount: "kubernetes".into(),
            role: "ci".into(),
            token_file: token_file.to_owned(),
        }),
        ..VaultSection::default()
    };
    let mut table = String::new();
    for name in ["fifo", "socket", "huge.txt"] {
        let token_file: PathBuf = files.path().join(name);
        // `~/.vault-token` that is not a regular file of a sane size is an
        // error that names it, never "no token".
        let home = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&token_file, home.path().join(".vault-token")).unwrap();
        let resolver = Resolver::new(
            Environment::from_vars([("HOME", home.path())]),
            files.path(),
            vault(AuthMethod::Token, &token_file),
        );
        let result = resolve_within(resolver, reference.clone());
        assert!(
            matches!(&result, Err(ResolveError::Vault(v)) if matches!(**v, VaultError::TokenFileUnreadable { .. })),
            "{}",
            describe(&result)
        );
        let shown = describe(&result).replace(&*home.path().to_string_lossy(), "[HOME]");
        let _ = writeln!(table, "~/.vault-token -> {name}: {}", files.clean(&shown));

        let resolver = Resolver::new(
            Environment::from_vars([("HOME", files.path())]),
            files.path(),
            vault(AuthMethod::Kubernetes, &token_file),
        );
        let result = resolve_within(resolver, reference.clone());
        let _ = writeln!(
            table,
            "kubernetes token-file {name}: {}",
            files.clean(&describe(&result))
        );
    }
    insta::assert_snapshot!(table);
}
