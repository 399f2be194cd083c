//! `docs/wheel-check.md`, the table of problem codes, is generated from the
//! documentation of `ProblemCode` (through its JSON schema, which carries
//! each variant's comment) and its hints. Regenerate with
//! `UPDATE_DOCS=1 cargo test -p windlass-dist --test check_docs`.

// Tests panic on purpose: a failing step is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::Path;

use windlass_dist::ProblemCode;

/// Each code with its documentation, in the enum's order.
fn documented() -> Vec<(String, String)> {
    let schema = serde_json::to_value(schemars::schema_for!(ProblemCode)).unwrap();
    schema["oneOf"]
        .as_array()
        .expect("every code is documented, so the schema lists them with `oneOf`")
        .iter()
        .map(|v| {
            (
                v["const"].as_str().unwrap().to_owned(),
                v["description"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn markdown() -> String {
    let mut out = String::from(
        "# `wheel check` problem codes\n\n\
         <!-- Generated from `ProblemCode` (crates/windlass-dist/src/check/code.rs); do not edit.\n     \
         Regenerate with: UPDATE_DOCS=1 cargo test -p windlass-dist --test check_docs -->\n\n\
         `windlass wheel check` (and `publish`, before it sends anything) reports each\n\
         problem with one of these codes. The code is the `code` field of a problem\n\
         in `--json` output and the title of its GitHub Actions annotation; it never\n\
         changes meaning. \"Also checked by\" names the tools we did not write that\n\
         find the same thing: `twine check --strict`, check-wheel-contents (`Wxxx`),\n\
         installers (pip, uv) and PyPI's upload checks.\n\n\
         | Code | What it means | Also checked by | Hint |\n\
         |------|---------------|-----------------|------|\n",
    );
    for (code, description) in documented() {
        let description = description.replace('\n', " ").replace('|', "\\|");
        let (meaning, peers) = description
            .split_once(" Peers: ")
            .unwrap_or_else(|| panic!("`{code}` does not say which peer tools check it"));
        let parsed = ProblemCode::ALL
            .iter()
            .find(|c| c.as_str() == code)
            .unwrap_or_else(|| panic!("`{code}` is not in `ProblemCode::ALL`"));
        let hint = parsed.hint().unwrap_or_default().replace('|', "\\|");
        let peers = peers.trim_end_matches('.');
        let _ = writeln!(out, "| `{code}` | {meaning} | {peers} | {hint} |");
    }
    out
}

#[test]
fn codes_table_is_generated() {
    let generated = markdown();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/wheel-check.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == generated {
        return;
    }
    if windlass_testkit::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    panic!(
        "{} is out of date with `ProblemCode`;\n\
         regenerate it with: UPDATE_DOCS=1 cargo test -p windlass-dist --test check_docs",
        path.display()
    );
}

/// `ProblemCode::ALL` (which the table test walks) names every variant the
/// schema knows, in the same order.
#[test]
fn all_lists_every_code() {
    let listed: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
    let documented: Vec<String> = documented().into_iter().map(|(c, _)| c).collect();
    assert_eq!(listed, documented);
}
