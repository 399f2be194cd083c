//! The README's "Release it" section, run as written: its `sh` block
//! through `bash -e`, with `~/ml-job` and `~/sentiment-lab` copied from
//! the examples as the earlier sections leave them.
//!
//! What differs from a reader's terminal: `HOME` is a temporary directory,
//! the registry holding the Python base is the test services' open one, and
//! Helm is the one the services installed (`WINDLASS_HELM`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use windlass_testkit::Services;

mod readme;

#[test]
fn readme_release_it_works_as_written() {
    let blocks = readme::section_blocks("Release it");
    assert_eq!(blocks.len(), 1, "the section has one sh block: {blocks:?}");
    let steps = &blocks[0];
    assert!(
        steps.iter().any(|l| l.starts_with("windlass verify ")),
        "{steps:?}"
    );
    let services = Services::load();
    let registry = services.registries().open;
    let tools = services.tools();
    let mut script =
        String::from("cp -r examples/ml-job ~/ml-job\ncp -r examples/ml-project ~/sentiment-lab\n");
    script.push_str(&readme::script(steps, |line| {
        line.replace("localhost:5000/", &format!("{registry}/"))
    }));
    let home = tempfile::tempdir().unwrap();
    let ran = readme::run_script(
        "the Release it section",
        &script,
        &[
            ("HOME", home.path().as_os_str()),
            ("NO_COLOR", "1".as_ref()),
            ("WINDLASS_HELM", tools.helm.as_os_str()),
            ("WINDLASS_PYTHON", tools.python.as_os_str()),
            ("WINDLASS_CACHE_DIR", home.path().join("cache").as_os_str()),
        ],
    );
    let stdout = ran.stdout;
    // One line per step on stderr as it finishes.
    assert!(
        ran.stderr.contains("Done attach   job -> oci:images/job"),
        "{}",
        ran.stderr
    );
    // The plan: every step, nothing done yet.
    for line in [
        "build    sentiment_lab-0.4.0-py3-none-any.whl -> ../ml-project: will run",
        "image    job -> oci:dist/release/local/images/job: will run",
        "deploy   prod -> dist/release/local/gitops/prod: will run",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    // Two runs, one manifest id.
    let ids: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("released sentiment-lab 0.4.0: manifest "))
        .map(|l| l.rsplit('(').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{stdout}");
    assert_eq!(ids[0], ids[1]);
    // verify: every link holds.
    assert!(stdout.contains(", 0 broken, 0 unreachable"), "{stdout}");
    assert!(
        home.path()
            .join("ml-job/dist/release/local/gitops/prod/manifests.yaml")
            .is_file()
    );
}
