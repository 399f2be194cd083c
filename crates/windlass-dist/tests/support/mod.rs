//! Archives built in the tests: wheels (zip) and sdists (tar.gz) with
//! exactly the members, names and links a test asks for, sane by default.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use sha2::Digest as _;

/// The `METADATA` of a sane wheel `demo-1.0`, with a readme.
pub(crate) const METADATA: &str = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\
Description-Content-Type: text/markdown\n\n# demo\n";
/// The `WHEEL` of a sane pure-Python wheel.
pub(crate) const WHEEL: &str =
    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
/// The `PKG-INFO` of a sane sdist `demo-1.0`.
pub(crate) const PKG_INFO: &str = METADATA;

/// One `RECORD` row for a member.
pub(crate) fn record_row(name: &str, bytes: &[u8]) -> String {
    let digest =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(bytes));
    format!("{name},sha256={digest},{}\n", bytes.len())
}

/// Writes a zip holding exactly these members, in this order.
pub(crate) fn zip(path: &Path, members: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Writes a wheel `demo-1.0` with these members and a correct RECORD.
pub(crate) fn wheel(path: &Path, members: &[(&str, &[u8])]) {
    let mut record = String::new();
    for (name, bytes) in members {
        if name.contains('\n') {
            // RECORD is one row per line: such a name cannot be listed.
            continue;
        }
        record.push_str(&record_row(name, bytes));
    }
    let _ = writeln!(record, "demo-1.0.dist-info/RECORD,,");
    let mut all = members.to_vec();
    all.push(("demo-1.0.dist-info/RECORD", record.as_bytes()));
    zip(path, &all);
}

/// The members of a sane wheel `demo-1.0`, with `METADATA` replaced and
/// `extra` members added.
pub(crate) fn wheel_members<'a>(
    metadata: &'a [u8],
    extra: &[(&'a str, &'a [u8])],
) -> Vec<(&'a str, &'a [u8])> {
    let mut members = vec![
        ("demo/__init__.py", b"X = 1\n".as_slice()),
        ("demo-1.0.dist-info/METADATA", metadata),
        ("demo-1.0.dist-info/WHEEL", WHEEL.as_bytes()),
    ];
    members.extend_from_slice(extra);
    members
}

/// One tar member.
#[derive(Clone, Copy)]
pub(crate) enum Tar<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
}

/// Writes a tar.gz holding exactly these members. Names are written raw,
/// so they may hold any byte.
pub(crate) fn tar_gz(path: &Path, members: &[Tar<'_>]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    for member in members {
        let mut header = tar::Header::new_gnu();
        let (name, data): (&str, &[u8]) = match *member {
            Tar::File(name, bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                (name, bytes)
            }
            Tar::Symlink(name, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_link_name(target).unwrap();
                (name, b"")
            }
            Tar::Hardlink(name, target) => {
                header.set_entry_type(tar::EntryType::Link);
                header.set_link_name(target).unwrap();
                (name, b"")
            }
            Tar::Fifo(name) => {
                header.set_entry_type(tar::EntryType::Fifo);
                (name, b"")
            }
        };
        let slot = &mut header.as_old_mut().name;
        slot[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append(&header, data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

/// Writes an sdist `demo-1.0` holding PKG-INFO, pyproject.toml and these
/// members.
pub(crate) fn sdist(path: &Path, pkg_info: &[u8], members: &[Tar<'_>]) {
    let mut all = vec![
        Tar::File("demo-1.0/PKG-INFO", pkg_info),
        Tar::File("demo-1.0/pyproject.toml", b"[project]\nname = \"demo\"\n"),
    ];
    all.extend_from_slice(members);
    tar_gz(path, &all);
}
