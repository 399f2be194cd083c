//! Runs a section of the README as written: its fenced `sh` blocks, read
//! from the file, and one of them run through `bash -euo pipefail` from
//! the workspace root with the `windlass` cargo just built first on `PATH`
//! and nothing of the test's environment but what the test passes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "the README's commands run as a user's shell would"
)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::{env, fs};

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The fenced `sh` blocks of the README's section `## TITLE`, each as its
/// lines.
pub(crate) fn section_blocks(title: &str) -> Vec<Vec<String>> {
    let readme = fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|section| section.starts_with(&format!("{title}\n")))
        .unwrap_or_else(|| panic!("the README has a `## {title}` section"));
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), text) => block.push(text.to_owned()),
            (None, _) => {}
        }
    }
    blocks
}

/// A script of `lines`, each changed by `adapt` (this machine's addresses
/// and flags instead of the reader's).
pub(crate) fn script(lines: &[String], adapt: impl Fn(&str) -> String) -> String {
    let mut script = String::new();
    for line in lines {
        writeln!(script, "{}", adapt(line)).unwrap();
    }
    script
}

/// What a script printed.
pub(crate) struct Ran {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `script` through `bash -euo pipefail` from the workspace root,
/// with `PATH` (the built `windlass` first) and `envs` only; panics,
/// showing the script and its output, unless it succeeds. `what` names
/// the script in that message.
pub(crate) fn run_script(what: &str, script: &str, envs: &[(&str, &OsStr)]) -> Ran {
    let binary = assert_cmd::cargo::cargo_bin("windlass");
    let mut path = vec![binary.parent().unwrap().to_path_buf()];
    path.extend(env::split_paths(&env::var_os("PATH").unwrap()));
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(workspace_root())
        .env_clear()
        .env("PATH", env::join_paths(path).unwrap())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- script\n{script}--- stdout\n{stdout}--- stderr\n{stderr}",
        output.status
    );
    Ran { stdout, stderr }
}
