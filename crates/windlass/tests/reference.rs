//! The command reference in `docs/reference/commands.md` is what
//! `windlass man --markdown` prints: regenerate it with
//! `UPDATE_DOCS=1 cargo test -p windlass --test reference`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::Path;

use windlass_testkit::cli::Cli;

#[test]
fn commands_reference_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let output = Cli::new(env!("CARGO_BIN_EXE_windlass"), dir.path())
        .env("HOME", dir.path())
        .args(["man", "--markdown"])
        .output();
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let generated = String::from_utf8(output.stdout).unwrap();

    // Every visible command has its section, with its usage.
    for command in [
        "windlass",
        "windlass config show",
        "windlass secrets exec",
        "windlass secrets get",
        "windlass secrets check",
        "windlass secrets mask",
        "windlass wheel build",
        "windlass wheel check",
        "windlass wheel publish",
        "windlass completions",
        "windlass man",
    ] {
        assert!(
            generated.contains(&format!("\n## {command}\n")),
            "no section for {command}"
        );
        assert!(
            generated.contains(&format!("```text\n{command} [OPTIONS]")),
            "no usage for {command}"
        );
    }
    // Options carry their defaults, variables and possible values.
    assert!(generated.contains("- `-j, --jobs <JOBS>`"), "{generated}");
    assert!(generated.contains("(default `4`)"), "{generated}");
    assert!(generated.contains("one of `auto`, `native`, `pep517`"));

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference/commands.md");
    windlass_testkit::assert_generated(
        &path,
        &generated,
        "cargo test -p windlass --test reference",
    );
}
