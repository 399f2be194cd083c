//! One row per [`ProblemCode`]: an archive with exactly that defect, built
//! here, and the code `check` must find in it. A code without a row fails
//! `every_code_has_a_row`, so a new check comes with its test.

// Tests panic on purpose: a failing step is a failing test.
#![allow(clippy::unwrap_used, clippy::format_push_string)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use windlass_dist::{CheckLimits, ProblemCode, check_file_with};

mod support;
use support::{
    METADATA, PKG_INFO, Tar, WHEEL, record_row, sdist, tar_gz, wheel, wheel_members, zip,
};

const WHEEL_NAME: &str = "demo-1.0-py3-none-any.whl";
const SDIST_NAME: &str = "demo-1.0.tar.gz";

/// One case: the archive, written into a directory, and the code expected.
struct Row {
    code: ProblemCode,
    /// What is wrong with the archive, for the snapshot.
    defect: &'static str,
    /// Writes the archive into the directory and returns its path.
    build: fn(&Path) -> PathBuf,
    /// Codes that follow from the same defect and may be found as well.
    also: &'static [ProblemCode],
    /// Limits smaller than the defaults, for `too-large`.
    limits: Option<CheckLimits>,
}

const fn row(code: ProblemCode, defect: &'static str, build: fn(&Path) -> PathBuf) -> Row {
    Row {
        code,
        defect,
        build,
        also: &[],
        limits: None,
    }
}

/// A sane wheel `demo-1.0` with `METADATA` replaced.
fn wheel_with_metadata(dir: &Path, metadata: &str) -> PathBuf {
    let path = dir.join(WHEEL_NAME);
    wheel(&path, &wheel_members(metadata.as_bytes(), &[]));
    path
}

/// A sane wheel `demo-1.0` with extra members (listed in RECORD).
fn wheel_with(dir: &Path, extra: &[(&str, &[u8])]) -> PathBuf {
    let path = dir.join(WHEEL_NAME);
    wheel(&path, &wheel_members(METADATA.as_bytes(), extra));
    path
}

/// A sane wheel `demo-1.0` whose RECORD is `record` followed by its own row.
fn wheel_with_record(dir: &Path, record: &str) -> PathBuf {
    let path = dir.join(WHEEL_NAME);
    let record = format!("{record}demo-1.0.dist-info/RECORD,,\n");
    let mut members = wheel_members(METADATA.as_bytes(), &[]);
    members.push(("demo-1.0.dist-info/RECORD", record.as_bytes()));
    zip(&path, &members);
    path
}

/// The RECORD rows of the sane members `wheel_members` gives.
fn sane_rows() -> String {
    wheel_members(METADATA.as_bytes(), &[])
        .iter()
        .map(|(n, b)| record_row(n, b))
        .collect()
}

/// A sane sdist `demo-1.0` with extra members.
fn sdist_with(dir: &Path, members: &[Tar<'_>]) -> PathBuf {
    let path = dir.join(SDIST_NAME);
    sdist(&path, PKG_INFO.as_bytes(), members);
    path
}

/// Sane core metadata with these header lines added (the readme stays the body).
fn metadata_plus(version: &str, lines: &str) -> String {
    format!(
        "Metadata-Version: {version}\nName: demo\nVersion: 1.0\n\
         Description-Content-Type: text/markdown\n{lines}\n# demo\n"
    )
}

// One table reads better than one function per archive kind.
#[allow(clippy::too_many_lines)]
fn rows() -> Vec<Row> {
    use ProblemCode as C;
    vec![
        // Archives.
        row(C::Archive, "a `.whl` that is not a zip", |d| {
            let path = d.join(WHEEL_NAME);
            std::fs::write(&path, b"not a zip archive").unwrap();
            path
        }),
        row(C::Filename, "a wheel name without tags", |d| {
            let path = d.join("demo-1.0.whl");
            wheel(&path, &wheel_members(METADATA.as_bytes(), &[]));
            path
        }),
        row(C::Duplicate, "an sdist holding a path twice", |d| {
            sdist_with(
                d,
                &[
                    Tar::File("demo-1.0/demo.py", b"A = 1\n"),
                    Tar::File("demo-1.0/demo.py", b"A = 2\n"),
                ],
            )
        }),
        Row {
            limits: Some(CheckLimits {
                member: 1024,
                ..CheckLimits::default()
            }),
            ..row(C::TooLarge, "a member over the member limit", |d| {
                wheel_with(d, &[("demo/big.bin", &[7; 4096])])
            })
        },
        row(C::PathAbsolute, "an absolute member path", |d| {
            sdist_with(d, &[Tar::File("/tmp/demo.py", b"")])
        }),
        row(C::PathBackslash, "a member path with a backslash", |d| {
            sdist_with(d, &[Tar::File("demo-1.0\\demo.py", b"")])
        }),
        row(C::PathEscape, "a member path with `..`", |d| {
            sdist_with(d, &[Tar::File("demo-1.0/../demo.py", b"")])
        }),
        row(C::LinkLoop, "two symbolic links naming each other", |d| {
            sdist_with(
                d,
                &[
                    Tar::Symlink("demo-1.0/a", "b"),
                    Tar::Symlink("demo-1.0/b", "a"),
                ],
            )
        }),
        row(C::SpecialFile, "a fifo in an sdist", |d| {
            sdist_with(d, &[Tar::Fifo("demo-1.0/pipe")])
        }),
        // Core metadata.
        row(C::MetadataEncoding, "a `METADATA` that is not UTF-8", |d| {
            let path = d.join(WHEEL_NAME);
            let metadata = METADATA.replace("# demo", "# d\u{e9}mo");
            let latin1: Vec<u8> = metadata.chars().map(|c| c as u8).collect();
            wheel(&path, &wheel_members(&latin1, &[]));
            path
        }),
        row(C::MetadataMissing, "no `Name`", |d| {
            wheel_with_metadata(
                d,
                "Metadata-Version: 2.1\nVersion: 1.0\n\
                 Description-Content-Type: text/markdown\n\n# demo\n",
            )
        }),
        row(C::MetadataVersion, "`Metadata-Version: 9.9`", |d| {
            wheel_with_metadata(d, &metadata_plus("9.9", ""))
        }),
        Row {
            // An invalid name never normalises to the file name's `demo`.
            also: &[C::FilenameMismatch],
            ..row(C::Name, "`Name: demo!`", |d| {
                wheel_with_metadata(
                    d,
                    "Metadata-Version: 2.1\nName: demo!\nVersion: 1.0\n\
                     Description-Content-Type: text/markdown\n\n# demo\n",
                )
            })
        },
        row(C::Version, "`Version: one` in `demo-one.tar.gz`", |d| {
            let path = d.join("demo-one.tar.gz");
            let pkg_info = PKG_INFO.replace("Version: 1.0", "Version: one");
            tar_gz(
                &path,
                &[
                    Tar::File("demo-one/PKG-INFO", pkg_info.as_bytes()),
                    Tar::File("demo-one/pyproject.toml", b"[project]\n"),
                ],
            );
            path
        }),
        row(C::Summary, "a `Summary` on two lines", |d| {
            wheel_with_metadata(d, &metadata_plus("2.1", "Summary: one\n two\n"))
        }),
        row(C::Requirement, "`Requires-Dist: not a requirement!`", |d| {
            wheel_with_metadata(
                d,
                &metadata_plus("2.1", "Requires-Dist: not a requirement!\n"),
            )
        }),
        row(C::RequiresPython, "`Requires-Python: >>3`", |d| {
            wheel_with_metadata(d, &metadata_plus("2.1", "Requires-Python: >>3\n"))
        }),
        row(C::Extra, "`Provides-Extra: -bad`", |d| {
            wheel_with_metadata(d, &metadata_plus("2.1", "Provides-Extra: -bad\n"))
        }),
        row(C::DescriptionMissing, "no readme", |d| {
            wheel_with_metadata(
                d,
                "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\
                 Description-Content-Type: text/markdown\n",
            )
        }),
        row(
            C::ContentType,
            "`Description-Content-Type: text/html`",
            |d| {
                wheel_with_metadata(
                    d,
                    "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\
                 Description-Content-Type: text/html\n\n<h1>demo</h1>\n",
                )
            },
        ),
        row(
            C::LicenseExpression,
            "`License-Expression: NOT-SPDX`",
            |d| wheel_with_metadata(d, &metadata_plus("2.4", "License-Expression: NOT-SPDX\n")),
        ),
        row(
            C::LicenseClassifier,
            "a licence classifier with an expression",
            |d| {
                wheel_with_metadata(
                    d,
                    &metadata_plus(
                        "2.4",
                        "License-Expression: MIT\n\
                     Classifier: License :: OSI Approved :: MIT License\n",
                    ),
                )
            },
        ),
        row(C::LicenseFile, "a `License-File` the wheel lacks", |d| {
            wheel_with_metadata(d, &metadata_plus("2.4", "License-File: LICENSE\n"))
        }),
        row(C::Dynamic, "`Dynamic: Version`", |d| {
            wheel_with_metadata(d, &metadata_plus("2.2", "Dynamic: Version\n"))
        }),
        row(
            C::FilenameMismatch,
            "`Version: 2.0` in a `1.0` wheel",
            |d| wheel_with_metadata(d, &METADATA.replace("Version: 1.0", "Version: 2.0")),
        ),
        // Wheels.
        row(C::DistInfo, "no `WHEEL` file", |d| {
            let path = d.join(WHEEL_NAME);
            wheel(
                &path,
                &[
                    ("demo/__init__.py", b"X = 1\n"),
                    ("demo-1.0.dist-info/METADATA", METADATA.as_bytes()),
                ],
            );
            path
        }),
        row(C::WheelFile, "a `Tag` other than the file name's", |d| {
            let path = d.join(WHEEL_NAME);
            let wheel_file = WHEEL.replace("py3-none-any", "py2-none-any");
            wheel(
                &path,
                &[
                    ("demo/__init__.py", b"X = 1\n"),
                    ("demo-1.0.dist-info/METADATA", METADATA.as_bytes()),
                    ("demo-1.0.dist-info/WHEEL", wheel_file.as_bytes()),
                ],
            );
            path
        }),
        row(C::Record, "a RECORD row given twice", |d| {
            let rows = sane_rows();
            let first = rows.lines().next().unwrap().to_owned();
            wheel_with_record(d, &format!("{rows}{first}\n"))
        }),
        row(C::RecordMissingFile, "RECORD lists a file not there", |d| {
            let rows = sane_rows() + &record_row("demo/gone.py", b"");
            wheel_with_record(d, &rows)
        }),
        row(C::RecordHash, "a changed file", |d| {
            let rows = sane_rows().replace(
                &record_row("demo/__init__.py", b"X = 1\n"),
                &record_row("demo/__init__.py", b"X = 2\n"),
            );
            wheel_with_record(d, &rows)
        }),
        row(C::RecordSize, "a wrong size in RECORD", |d| {
            let row = record_row("demo/__init__.py", b"X = 1\n");
            let wrong = row.replace(",6\n", ",7\n");
            wheel_with_record(d, &sane_rows().replace(&row, &wrong))
        }),
        row(C::RecordUnlisted, "a file RECORD does not list", |d| {
            let path = d.join(WHEEL_NAME);
            let record = sane_rows() + "demo-1.0.dist-info/RECORD,,\n";
            let mut members = wheel_members(METADATA.as_bytes(), &[]);
            members.push(("demo-1.0.dist-info/RECORD", record.as_bytes()));
            members.push(("demo/extra.py", b"Y = 1\n"));
            zip(&path, &members);
            path
        }),
        row(C::Bytecode, "a `.pyc` file", |d| {
            wheel_with(d, &[("demo/__pycache__/x.cpython-312.pyc", b"\x0d\x0d")])
        }),
        row(C::DuplicateContent, "two files with one content", |d| {
            wheel_with(d, &[("demo/a.py", b"A = 1\n"), ("demo/b.py", b"A = 1\n")])
        }),
        row(C::ToplevelFile, "a top-level `README.txt`", |d| {
            wheel_with(d, &[("README.txt", b"demo\n")])
        }),
        row(C::ToplevelCommon, "a top-level `tests` package", |d| {
            wheel_with(d, &[("tests/__init__.py", b"")])
        }),
        row(C::ToplevelInit, "a top-level `__init__.py`", |d| {
            wheel_with(d, &[("__init__.py", b"")])
        }),
        row(C::Empty, "only `.dist-info`", |d| {
            let path = d.join(WHEEL_NAME);
            wheel(
                &path,
                &[
                    ("demo-1.0.dist-info/METADATA", METADATA.as_bytes()),
                    ("demo-1.0.dist-info/WHEEL", WHEEL.as_bytes()),
                ],
            );
            path
        }),
        // Sdists.
        row(C::SdistLayout, "no `pyproject.toml`", |d| {
            let path = d.join(SDIST_NAME);
            tar_gz(
                &path,
                &[Tar::File("demo-1.0/PKG-INFO", PKG_INFO.as_bytes())],
            );
            path
        }),
        row(C::PkgInfo, "a `PKG-INFO` that is not UTF-8", |d| {
            let path = d.join(SDIST_NAME);
            tar_gz(
                &path,
                &[
                    Tar::File("demo-1.0/PKG-INFO", b"Name: d\xffmo\n"),
                    Tar::File("demo-1.0/pyproject.toml", b"[project]\n"),
                ],
            );
            path
        }),
    ]
}

#[test]
fn every_code_has_a_row() {
    let covered: BTreeSet<ProblemCode> = rows().iter().map(|r| r.code).collect();
    let missing: Vec<&str> = ProblemCode::ALL
        .iter()
        .filter(|c| !covered.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(missing.is_empty(), "codes without a row: {missing:?}");
}

#[test]
fn each_defect_gives_its_code() {
    let mut table = String::new();
    let mut wrong = Vec::new();
    for row in rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = (row.build)(dir.path());
        let limits = row.limits.unwrap_or_default();
        let problems = check_file_with(&path, &limits).unwrap();
        let found: BTreeSet<ProblemCode> = problems.iter().map(|p| p.code).collect();
        let allowed: BTreeSet<ProblemCode> = row.also.iter().copied().chain([row.code]).collect();
        if !found.contains(&row.code) || !found.is_subset(&allowed) {
            wrong.push(format!(
                "{} ({}): found {:?}",
                row.code,
                row.defect,
                found.iter().map(|c| c.as_str()).collect::<Vec<_>>()
            ));
        }
        writeln!(table, "{} — {}", row.code, row.defect).unwrap();
        for p in &problems {
            writeln!(table, "  {p}").unwrap();
        }
    }
    assert!(
        wrong.is_empty(),
        "rows with other codes:\n{}",
        wrong.join("\n")
    );
    insta::assert_snapshot!(table);
}

/// `--json` carries the strings the codes always had.
#[test]
fn codes_serialise_as_their_strings() {
    for code in ProblemCode::ALL {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::Value::String(code.as_str().to_owned())
        );
    }
    let all: BTreeSet<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        all.len(),
        ProblemCode::ALL.len(),
        "two codes share a string"
    );
}
