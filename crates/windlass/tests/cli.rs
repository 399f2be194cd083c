//! End-to-end tests of the `windlass` binary: exit codes, stdout and stderr.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use assert_cmd::Command;

/// The binary with a hermetic environment: no user config, no CI variables.
fn windlass(cwd: &Path) -> Command {
    let mut cmd = Command::cargo_bin("windlass").unwrap();
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", cwd)
        .env("WINDLASS_CONFIG_HOME", cwd.join("user-config"))
        .env("NO_COLOR", "1");
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command, dir: &Path) -> Run {
    let out = cmd.output().unwrap();
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&dir.display().to_string(), "[TEMP]");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: clean(&out.stdout),
        stderr: clean(&out.stderr),
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let help = run(windlass(dir.path()).arg("--help"), dir.path());
    assert_eq!(help.code, 0);
    insta::assert_snapshot!("help", help);
    let version = run(windlass(dir.path()).arg("--version"), dir.path());
    assert_eq!(
        version.stdout,
        format!("windlass {}\n", env!("CARGO_PKG_VERSION"))
    );
    let none = run(&mut windlass(dir.path()), dir.path());
    assert_eq!(none.code, 2, "{none}");
}

#[test]
fn config_show_reports_sources() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::write(
        dir.path().join("windlass.toml"),
        "[http]\ntimeout = \"45s\"\nca-file = \"certs/ca.pem\"\n",
    )
    .unwrap();
    let human = run(
        windlass(dir.path())
            .args(["config", "show"])
            .env("WINDLASS_HTTP_RETRIES", "5"),
        dir.path(),
    );
    // Columns are aligned for the real temporary path: collapse the padding.
    let collapsed: String = human
        .to_string()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join("  ") + "\n")
        .collect();
    insta::assert_snapshot!("config_show_human", collapsed);
    let json = run(
        windlass(dir.path())
            .args(["config", "show", "--json"])
            .env("WINDLASS_HTTP_RETRIES", "5"),
        dir.path(),
    );
    assert_eq!(json.code, 0, "{json}");
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["schema"], "windlass/1");
    insta::assert_json_snapshot!("config_show_json", doc);
}

#[test]
fn config_errors_exit_2_with_location_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("windlass.toml"),
        "[http]\nretries = \"many\"\n",
    )
    .unwrap();
    let wrong_type = run(windlass(dir.path()).args(["config", "show"]), dir.path());
    assert_eq!(wrong_type.code, 2);
    let json = run(
        windlass(dir.path()).args(["config", "show", "--json"]),
        dir.path(),
    );
    assert_eq!(json.code, 2);
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 2);
    let missing = run(
        windlass(dir.path()).args(["config", "show", "--config", "nope.toml"]),
        dir.path(),
    );
    assert_eq!(missing.code, 2);
    insta::assert_snapshot!("config_errors", format!("{wrong_type}\n{missing}"));
}

#[test]
fn external_subcommands_run_from_path() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let plugin = bin.join("windlass-hello");
    fs::write(
        &plugin,
        "#!/bin/sh\necho \"hello from plugin: $*\"\nexit 7\n",
    )
    .unwrap();
    fs::set_permissions(&plugin, fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();

    let ran = run(
        windlass(dir.path())
            .env("PATH", &path)
            .args(["hello", "a b", "--flag"]),
        dir.path(),
    );
    assert_eq!(ran.code, 7, "{ran}");
    assert_eq!(ran.stdout, "hello from plugin: a b --flag\n");

    let typo = run(
        windlass(dir.path()).env("PATH", &path).arg("helo"),
        dir.path(),
    );
    assert_eq!(typo.code, 2);
    let unknown = run(
        windlass(dir.path()).env("PATH", &path).arg("frobnicate"),
        dir.path(),
    );
    assert_eq!(unknown.code, 2);
    insta::assert_snapshot!("external_errors", format!("{typo}\n{unknown}"));
}
