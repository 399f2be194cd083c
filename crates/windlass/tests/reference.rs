//! The command reference in `docs/reference/commands.md` is what
//! `windlass man --markdown` prints: regenerate it with
//! `UPDATE_DOCS=1 cargo test -p windlass --test reference`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::Path;

use assert_cmd::Command;

#[test]
fn commands_reference_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("windlass")
        .unwrap()
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .args(["man", "--markdown"])
        .output()
        .unwrap();
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
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == generated {
        return;
    }
    if windlass_testkit::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, generated).unwrap();
        return;
    }
    panic!(
        "{} is out of date with the command definitions;\n\
         regenerate it with: UPDATE_DOCS=1 cargo test -p windlass --test reference",
        path.display()
    );
}
