//! The README's install block for completions and manual pages, run as
//! written in a fresh home directory, and what it installs checked by the
//! tools that read it (bash, groff, man). A missing tool fails the test
//! with the package to install; it is never skipped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};

use windlass_testkit::cli::Cli;

/// The shell block that follows "Shell completions and manual pages" in
/// the README.
fn readme_install_block() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let start = readme
        .find("Shell completions and manual pages")
        .expect("the README has the install paragraph");
    let rest = &readme[start..];
    let body = &rest[rest.find("```sh\n").expect("a sh block") + "```sh\n".len()..];
    body[..body.find("```").unwrap()].to_owned()
}

/// A tool the check needs, by absolute path; panics with the package that
/// provides it when it is missing.
fn tool(name: &str, package: &str) -> PathBuf {
    windlass_testkit::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: install the `{package}` package (scripts/test.sh does)"
            )
        })
}

fn run(program: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_windlass")).parent().unwrap();
    let path = std::env::join_paths([
        home.join(".local/bin"),
        bin.to_owned(),
        PathBuf::from("/usr/bin"),
        PathBuf::from("/bin"),
    ])
    .unwrap();
    Cli::new(program, home)
        .env("HOME", home)
        .env("PATH", path)
        .env("MANWIDTH", "80")
        .env_remove("WINDLASS_CONFIG_HOME")
        .env_remove("WINDLASS_CACHE_DIR")
        .args(args)
        .output()
}

#[test]
fn readme_install_block_installs_completions_and_man_pages() {
    let bash = tool("bash", "bash");
    let groff = tool("groff", "groff-base");
    let man = tool("man", "man-db");
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    std::fs::create_dir_all(home.join(".local/bin")).unwrap();

    let block = readme_install_block();
    assert!(block.contains("windlass completions bash"), "{block}");
    let script = format!("set -euo pipefail\n{block}");
    let out = run(&bash, home, &["-c", &script]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "the README block failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // bash reads its script and registers the completion.
    let completion = home.join(".local/share/bash-completion/completions/windlass");
    let out = run(&bash, home, &["-n", completion.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let out = run(
        &bash,
        home,
        &[
            "-c",
            &format!("source {} && complete -p windlass", completion.display()),
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("windlass"),
        "{out:?}"
    );
    let zsh = std::fs::read_to_string(home.join(".zfunc/_windlass")).unwrap();
    assert!(zsh.starts_with("#compdef windlass"), "{zsh}");
    let fish =
        std::fs::read_to_string(home.join(".config/fish/completions/windlass.fish")).unwrap();
    assert!(fish.contains("complete -c windlass"), "{fish}");

    // One page per command, each read by groff without a warning, and
    // found by `man NAME` as the README says.
    let pages = home.join(".local/share/man/man1");
    let mut names: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for expected in [
        "windlass.1",
        "windlass-config-show.1",
        "windlass-wheel-publish.1",
    ] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    for name in &names {
        let page = pages.join(name);
        let out = run(
            &groff,
            home,
            &["-man", "-Tutf8", "-ww", "-z", page.to_str().unwrap()],
        );
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(&man, home, &["windlass-wheel-publish"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("--repository"), "{text}");
}
