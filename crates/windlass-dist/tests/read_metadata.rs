//! `read_metadata`: the one reader of a distribution's core metadata, used
//! by `publish` (and by `check` for which member and how much).

// Tests panic on purpose: a failing step is a failing test.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use windlass_dist::read::{METADATA_LIMIT, is_metadata_member};
use windlass_dist::{ArtifactKind, read_metadata};

mod support;
use support::{METADATA, PKG_INFO, Tar, sdist, tar_gz, wheel, wheel_members};

type Build = fn(&Path) -> PathBuf;

#[test]
fn reads_wheels_and_sdists_and_names_what_is_wrong() {
    let cases: [(&str, Build); 9] = [
        ("wheel", |d| {
            let p = d.join("demo-1.0-py3-none-any.whl");
            wheel(&p, &wheel_members(METADATA.as_bytes(), &[]));
            p
        }),
        ("sdist", |d| {
            let p = d.join("demo-1.0.tar.gz");
            sdist(&p, PKG_INFO.as_bytes(), &[]);
            p
        }),
        ("two .dist-info", |d| {
            let p = d.join("demo-1.0-py3-none-any.whl");
            wheel(
                &p,
                &wheel_members(
                    METADATA.as_bytes(),
                    &[("other-1.0.dist-info/METADATA", METADATA.as_bytes())],
                ),
            );
            p
        }),
        ("METADATA below the top", |d| {
            let p = d.join("demo-1.0-py3-none-any.whl");
            wheel(
                &p,
                &[("demo/x-1.0.dist-info/METADATA", METADATA.as_bytes())],
            );
            p
        }),
        ("PKG-INFO below the top", |d| {
            let p = d.join("demo-1.0.tar.gz");
            tar_gz(
                &p,
                &[Tar::File("demo-1.0/sub/PKG-INFO", PKG_INFO.as_bytes())],
            );
            p
        }),
        ("PKG-INFO not UTF-8", |d| {
            let p = d.join("demo-1.0.tar.gz");
            tar_gz(&p, &[Tar::File("demo-1.0/PKG-INFO", b"Name: d\xffmo\n")]);
            p
        }),
        ("METADATA over the limit", |d| {
            let p = d.join("demo-1.0-py3-none-any.whl");
            let mut big = METADATA.as_bytes().to_vec();
            big.resize(usize::try_from(METADATA_LIMIT).unwrap() + 1, b'x');
            wheel(&p, &wheel_members(&big, &[]));
            p
        }),
        ("not a zip", |d| {
            let p = d.join("demo-1.0-py3-none-any.whl");
            std::fs::write(&p, b"no").unwrap();
            p
        }),
        ("unknown kind", |d| {
            let p = d.join("demo-1.0.zip");
            std::fs::write(&p, b"").unwrap();
            p
        }),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut table = String::new();
    for (i, (label, build)) in cases.iter().enumerate() {
        let dir = tmp.path().join(i.to_string());
        std::fs::create_dir(&dir).unwrap();
        let shown = match read_metadata(&build(&dir)) {
            Ok(m) => format!(
                "{:?} {}: {} {}",
                m.kind,
                m.member,
                m.name().unwrap_or("-"),
                m.version().unwrap_or("-")
            ),
            Err(e) => format!("error: {e}"),
        };
        let shown = shown.replace(&tmp.path().display().to_string(), "[TMP]");
        writeln!(table, "{label:<24}{shown}").unwrap();
    }
    insta::assert_snapshot!(table);
}

#[test]
fn metadata_members_are_at_the_top() {
    let cases = [
        (ArtifactKind::Wheel, "demo-1.0.dist-info/METADATA", true),
        (
            ArtifactKind::Wheel,
            "demo/demo-1.0.dist-info/METADATA",
            false,
        ),
        (ArtifactKind::Wheel, "demo-1.0.data/METADATA", false),
        (ArtifactKind::Sdist, "demo-1.0/PKG-INFO", true),
        (ArtifactKind::Sdist, "demo-1.0/src/PKG-INFO", false),
        (ArtifactKind::Sdist, "/PKG-INFO", false),
        (ArtifactKind::Sdist, "PKG-INFO", false),
    ];
    for (kind, member, expected) in cases {
        assert_eq!(
            is_metadata_member(kind, member),
            expected,
            "{kind:?} {member}"
        );
    }
}
