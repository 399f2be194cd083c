//! `check` on hostile archives: links that escape once resolved, member
//! names that would drive a terminal or a CI log, and archives that
//! decompress to far more than they weigh.

// Tests panic on purpose: a failing step is a failing test.
#![allow(clippy::unwrap_used, clippy::format_push_string)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use windlass_dist::{CheckLimits, check_file, check_file_with};

mod support;
use support::{METADATA, PKG_INFO, Tar, sdist, wheel, wheel_members};

/// Every problem, one per line as `check` prints them.
fn problems(path: &Path, limits: &CheckLimits) -> String {
    let path = path.to_owned();
    let limits = *limits;
    let found = windlass_testkit::within(Duration::from_secs(60), "checking", move || {
        check_file_with(&path, &limits)
    })
    .unwrap();
    let mut out = String::new();
    for p in &found {
        let line = p.to_string();
        assert!(
            !line.chars().any(char::is_control),
            "a control character reached the output: {line:?}"
        );
        let _ = writeln!(out, "  {line}");
    }
    if found.is_empty() {
        out.push_str("  (no problem)\n");
    }
    out
}

#[test]
fn sdist_links_are_resolved_like_an_extractor_does() {
    let cases: &[(&str, &[Tar<'_>])] = &[
        (
            "links that stay inside",
            &[
                Tar::File("demo-1.0/src/a.py", b"A = 1\n"),
                Tar::Hardlink("demo-1.0/src/b.py", "demo-1.0/src/a.py"),
                Tar::Symlink("demo-1.0/src/c.py", "a.py"),
                Tar::Symlink("demo-1.0/docs", "src"),
                Tar::Symlink("demo-1.0/top", ".."),
            ],
        ),
        (
            "a hard link resolved from the archive root",
            // `..` is counted from the root, not from `demo-1.0/sub/`.
            &[Tar::Hardlink("demo-1.0/sub/x", "../etc/passwd")],
        ),
        (
            "a hard link with many ..",
            &[Tar::Hardlink("demo-1.0/a", "demo-1.0/../../etc/passwd")],
        ),
        (
            "a symbolic link chain escaping",
            // up -> demo-1.0 (inside); esc -> up/../.. (outside only
            // through up); l1 -> ../../../l2 -> ../.. (outside).
            &[
                Tar::Symlink("demo-1.0/d1/d2/up", "../.."),
                Tar::Symlink("demo-1.0/d1/d2/esc", "up/../.."),
                Tar::Symlink("demo-1.0/x/y/z/l1", "../../../l2"),
                Tar::Symlink("demo-1.0/l2", "../.."),
            ],
        ),
        (
            "an absolute link and a member written through it",
            &[
                Tar::Symlink("demo-1.0/out", "/etc"),
                Tar::File("demo-1.0/out/cron.d/evil", b"* * * * * root evil\n"),
            ],
        ),
        (
            "a link loop",
            &[
                Tar::Symlink("demo-1.0/loop1", "loop2"),
                Tar::Symlink("demo-1.0/loop2", "loop1"),
            ],
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for (label, members) in cases {
        let dir = tmp.path().join(label.replace(' ', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("demo-1.0.tar.gz");
        sdist(&path, PKG_INFO.as_bytes(), members);
        let _ = write!(
            report,
            "## {label}\n{}",
            problems(&path, &CheckLimits::default())
        );
    }
    insta::assert_snapshot!(report);
}

#[test]
fn member_names_cannot_drive_a_terminal_or_a_ci_log() {
    let tmp = tempfile::tempdir().unwrap();
    let red = "demo/\u{1b}[31mred\u{1b}[0m.py";
    let inject = "demo/x\n::error::injected.py";
    let path = tmp.path().join("demo-1.0-py3-none-any.whl");
    wheel(
        &path,
        &wheel_members(
            METADATA.as_bytes(),
            &[
                (red, b"A = 1\n"),
                (inject, b"A = 1\n"),
                ("demo/\u{9b}2J.py", b"A = 1\n"),
            ],
        ),
    );
    // Duplicate content and an unlisted member make `check` name them.
    // The sdist's link escapes and is also a path to write through.
    let sdist_path = tmp.path().join("demo-1.0.tar.gz");
    sdist(
        &sdist_path,
        PKG_INFO.as_bytes(),
        &[
            Tar::Symlink("demo-1.0/\u{1b}]0;owned\u{7}x\n::error::y", "/etc"),
            Tar::File("demo-1.0/\u{1b}]0;owned\u{7}x\n::error::y/z", b""),
        ],
    );
    let report = format!(
        "## wheel\n{}## sdist\n{}",
        problems(&path, &CheckLimits::default()),
        problems(&sdist_path, &CheckLimits::default())
    );
    insta::assert_snapshot!(report);
}

#[test]
fn decompression_is_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let small = CheckLimits {
        member: 1024 * 1024,
        total: 3 * 1024 * 1024,
        text: 64 * 1024,
    };
    let zeros = vec![0u8; 2 * 1024 * 1024];
    let bomb = vec![0u8; 8 * 1024 * 1024];
    let big_metadata = format!("{METADATA}{}", "x".repeat(16 * 1024 * 1024));
    let write = |name: &str, f: &dyn Fn(&Path)| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(if name.starts_with("sdist") {
            "demo-1.0.tar.gz"
        } else {
            "demo-1.0-py3-none-any.whl"
        });
        f(&path);
        path
    };
    let cases: Vec<(&str, std::path::PathBuf, CheckLimits)> = vec![
        (
            "wheel: METADATA over 16 MiB (default limits)",
            write("wheel-metadata", &|p| {
                wheel(p, &wheel_members(big_metadata.as_bytes(), &[]));
            }),
            CheckLimits::default(),
        ),
        (
            "wheel: a member over the member limit",
            write("wheel-member", &|p| {
                wheel(
                    p,
                    &wheel_members(METADATA.as_bytes(), &[("demo/zeros.bin", &zeros)]),
                );
            }),
            small,
        ),
        (
            "wheel: more than the total limit",
            write("wheel-total", &|p| {
                let half = &zeros[..900 * 1024];
                wheel(
                    p,
                    &wheel_members(
                        METADATA.as_bytes(),
                        &[
                            ("demo/a.bin", half),
                            ("demo/b.bin", half),
                            ("demo/c.bin", half),
                            ("demo/d.bin", half),
                        ],
                    ),
                );
            }),
            small,
        ),
        (
            "sdist: PKG-INFO over 16 MiB (default limits)",
            write("sdist-pkg-info", &|p| {
                sdist(p, big_metadata.as_bytes(), &[]);
            }),
            CheckLimits::default(),
        ),
        (
            "sdist: a member over the member limit",
            write("sdist-member", &|p| {
                sdist(
                    p,
                    PKG_INFO.as_bytes(),
                    &[Tar::File("demo-1.0/zeros.bin", &zeros)],
                );
            }),
            small,
        ),
        (
            "sdist: more than the total limit",
            write("sdist-total", &|p| {
                sdist(
                    p,
                    PKG_INFO.as_bytes(),
                    &[Tar::File("demo-1.0/bomb.bin", &bomb)],
                );
            }),
            small,
        ),
    ];
    let mut report = String::new();
    for (label, path, limits) in &cases {
        let size = std::fs::metadata(path).unwrap().len();
        assert!(size < 200 * 1024, "{label}: {size} bytes is not a bomb");
        let _ = write!(report, "## {label}\n{}", problems(path, limits));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn special_files_are_not_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("demo-1.0-py3-none-any.whl");
    windlass_testkit::mkfifo(&fifo);
    let error = windlass_testkit::within(Duration::from_secs(20), "checking a fifo", move || {
        check_file(&fifo)
    })
    .unwrap_err();
    let shown = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(shown.contains("is a fifo, not a regular file"), "{shown}");
    assert!(error.hint().unwrap().contains("fifo"), "{shown}");
}
