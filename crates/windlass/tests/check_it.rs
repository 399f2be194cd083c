//! The README's "Check it" section, run as written: its `sh` block through
//! `bash -e` in a copy of the example project, as the quick start leaves it
//! in `~/sentiment-lab`.
//!
//! What differs from a reader's terminal: `HOME` is a temporary directory,
//! the tools come from a cache shared with the check tests (so a warm run
//! installs nothing), and the last `windlass check`, which the README says
//! fails, has its exit status printed instead of ending the script.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::Path;

mod readme;

#[test]
fn readme_check_it_works_as_written() {
    let blocks = readme::section_blocks("Check it");
    assert_eq!(blocks.len(), 1, "the section has one sh block: {blocks:?}");
    let steps = &blocks[0];
    let last = steps.len() - 1;
    assert!(steps[last].starts_with("windlass check "), "{steps:?}");
    let mut script = String::from("cp -r examples/ml-project ~/sentiment-lab\n");
    script.push_str(&readme::script(steps, |line| {
        if line == steps[last] {
            let command = line.split(" #").next().unwrap().trim_end();
            format!("{command} || echo \"exit: $?\"")
        } else {
            line.to_owned()
        }
    }));
    let home = tempfile::tempdir().unwrap();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let ran = readme::run_script(
        "the Check it section",
        &script,
        &[
            ("HOME", home.path().as_os_str()),
            ("NO_COLOR", "1".as_ref()),
            (
                "WINDLASS_CACHE_DIR",
                target.join("check-tools-cache").as_os_str(),
            ),
            ("PIP_CACHE_DIR", target.join("check-pip-cache").as_os_str()),
        ],
    );
    let stdout = ran.stdout;
    // --list: the three checks that fit.
    for line in ["ruff ", "ruff-format ", "pytest "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(line)),
            "{line}\n{stdout}"
        );
    }
    // The second run: every result from the cache.
    assert!(
        stdout.contains("3 checks: 3 passed, 3 cached in "),
        "{stdout}"
    );
    // The broken import, at its file and line, and exit status 1.
    assert!(
        stdout.contains("src/sentiment_lab/model.py:67:8: F401"),
        "{stdout}"
    );
    assert!(stdout.contains("exit: 1\n"), "{stdout}");
    let last_run = stdout.rsplit("checks: ").next().unwrap();
    assert!(last_run.contains("2 failed"), "{stdout}");
    // Each check's end on stderr, as it comes.
    assert!(ran.stderr.contains("Failed ruff ("), "{}", ran.stderr);
}
