//! The README's quick start, run as written: the commands of its second
//! block, in order, through `bash -e`, against a stock pypiserver started
//! with the flags of its first block.
//!
//! Three things differ from a new user's terminal, and only these: `cargo
//! install` is not run (the test uses the binary cargo just built, put first
//! on `PATH`), `HOME` is a temporary directory (so `~/sentiment-lab` and
//! `~/try` land there), and the index listens on a free port instead of 8080.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::fs;

use windlass_testkit::{Services, StockPypiserver, assert_no_leak, assert_no_leak_in_dir};

mod readme;

const INDEX_FLAGS: &str = "pypi-server run -p 8080 -a . -P .";
const INSTALL: &str = "cargo install --path crates/windlass --locked";

#[test]
fn readme_quick_start_works_as_written() {
    let blocks = readme::section_blocks("Quick start");
    assert_eq!(
        blocks.len(),
        2,
        "the quick start has two sh blocks: {blocks:?}"
    );
    assert!(
        blocks[0].iter().any(|line| line.contains(INDEX_FLAGS)),
        "the first block starts the index with `{INDEX_FLAGS}`: {:?}",
        blocks[0]
    );
    let steps = &blocks[1];
    assert_eq!(steps.first().map(String::as_str), Some(INSTALL));

    let services = Services::load();
    let home = tempfile::tempdir().unwrap();
    // Stock: the fallback to the public index on, as the README starts it.
    let index = StockPypiserver::start(&services, &home.path().join("packages"), None);
    let port_of_readme = "localhost:8080";
    let script = readme::script(&steps[1..], |line| {
        line.replace(port_of_readme, &format!("127.0.0.1:{}", index.port))
    });
    let token = steps
        .iter()
        .find_map(|line| line.strip_prefix("export REGISTRY_TOKEN="))
        .expect("the quick start exports REGISTRY_TOKEN")
        .to_owned();

    let readme::Ran { stdout, stderr } = readme::run_script(
        "the quick start",
        &script,
        &[
            ("HOME", home.path().as_os_str()),
            ("NO_COLOR", "1".as_ref()),
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1".as_ref()),
        ],
    );

    // What the README promises the reader will see.
    assert!(stdout.contains("the job got ****\n"), "{stdout}");
    assert!(stdout.contains("usage: sentiment-train"), "{stdout}");
    let project = home.path().join("sentiment-lab");
    let dist: Vec<String> = fs::read_dir(project.join("dist"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dist.len(), 2, "{dist:?}");
    let published: Vec<String> = fs::read_dir(home.path().join("packages"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for file in &dist {
        assert!(
            published.contains(file),
            "{file} not on the index: {published:?}"
        );
    }
    // The second publish skipped both files: they were there with the same
    // hash; one line each, and one warning for both.
    assert!(stdout.contains("(0 uploaded, 2 skipped)\n"), "{stdout}");
    assert_eq!(
        stderr.matches("Skipped sentiment_lab-0.4.0").count(),
        2,
        "{stderr}"
    );
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");

    assert_no_leak(stdout.as_bytes(), &token);
    assert_no_leak(stderr.as_bytes(), &token);
    assert_no_leak_in_dir(&project, &token);
}
