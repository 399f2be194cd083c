//! Checks of an sdist: one streaming pass over the tar.gz (capped by
//! [`CheckLimits`]), then its layout, its links (see [`Links`]) and
//! `PKG-INFO`.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

use super::links::Links;
use super::metadata::{check_metadata, check_name_version};
use super::{CheckLimits, ProblemCode, Report, check_path};
use crate::build::ArtifactKind;
use crate::name;
use crate::read::{TextError, is_metadata_member, read_text};

pub(super) fn check(report: &mut Report, reader: BufReader<std::fs::File>, limits: &CheckLimits) {
    let stem = report.file.trim_end_matches(".tar.gz").to_owned();
    let (file_name, file_version) = match stem.rsplit_once('-') {
        Some((n, v)) => (n.to_owned(), v.to_owned()),
        None => {
            report.add(
                ProblemCode::Filename,
                None,
                None,
                "sdist file name must be `{name}-{version}.tar.gz`",
            );
            (stem.clone(), String::new())
        }
    };
    if !file_name.is_empty() && name::file_name_component(&file_name) != file_name {
        report.add(
            ProblemCode::Filename,
            None,
            None,
            format!(
                "the name in the file name is not normalised (PEP 625): expected `{}`",
                name::file_name_component(&file_name)
            ),
        );
    }
    let exceeded = Rc::new(Cell::new(false));
    let capped = Capped {
        inner: flate2::read::GzDecoder::new(reader),
        left: limits.total,
        exceeded: Rc::clone(&exceeded),
    };
    let mut archive = tar::Archive::new(capped);
    let too_large = |report: &mut Report| {
        report.add(
            ProblemCode::TooLarge,
            None,
            None,
            format!(
                "the archive decompresses to more than {}: checking stopped",
                windlass_fs::ByteSize(limits.total)
            ),
        );
    };
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            report.add(
                ProblemCode::Archive,
                None,
                None,
                format!("not a readable tar.gz archive: {e}"),
            );
            return;
        }
    };
    let mut seen = BTreeSet::new();
    let mut tops = BTreeSet::new();
    let mut pkg_info = None;
    // A PKG-INFO already reported as unreadable is not also missing.
    let mut pkg_info_unread = false;
    let mut has_pyproject = false;
    let mut links = Links::default();
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(_) if exceeded.get() => {
                too_large(report);
                return;
            }
            Err(e) => {
                report.add(
                    ProblemCode::Archive,
                    None,
                    None,
                    format!("not a readable tar.gz archive: {e}"),
                );
                return;
            }
        };
        let path = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => {
                report.add(
                    ProblemCode::Archive,
                    None,
                    None,
                    format!("an entry has an unreadable path: {e}"),
                );
                continue;
            }
        };
        let path = path.trim_end_matches('/').to_owned();
        if !seen.insert(path.clone()) {
            report.add(
                ProblemCode::Duplicate,
                Some(&path),
                None,
                "the archive holds this path more than once",
            );
            continue;
        }
        if !check_path(report, &path) {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .ok()
                .flatten()
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            links.add(&path, kind.is_symlink(), target);
        } else if !(kind.is_file()
            || kind.is_dir()
            || kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions())
        {
            report.add(
                ProblemCode::SpecialFile,
                Some(&path),
                None,
                "device, fifo or other special file",
            );
        }
        links.members.push(path.clone());
        if entry.size() > limits.member {
            report.add(
                ProblemCode::TooLarge,
                Some(&path),
                None,
                format!(
                    "{} bytes: more than {}",
                    entry.size(),
                    windlass_fs::ByteSize(limits.member)
                ),
            );
        }
        tops.insert(path.split('/').next().unwrap_or_default().to_owned());
        let rest = path.split_once('/').map(|(_, r)| r);
        if is_metadata_member(ArtifactKind::Sdist, &path) {
            let text = match read_text(&mut entry, limits.text) {
                Ok(text) => text,
                Err(TextError::Io(_)) if exceeded.get() => {
                    too_large(report);
                    return;
                }
                Err(TextError::TooLarge) => {
                    report.add(
                        ProblemCode::TooLarge,
                        Some(&path),
                        None,
                        format!(
                            "larger than {}: not read as metadata",
                            windlass_fs::ByteSize(limits.text)
                        ),
                    );
                    pkg_info_unread = true;
                    continue;
                }
                Err(TextError::NotUtf8) => {
                    report.add(ProblemCode::PkgInfo, Some(&path), None, "not UTF-8 text");
                    pkg_info_unread = true;
                    continue;
                }
                Err(TextError::Io(e)) => {
                    report.add(
                        ProblemCode::PkgInfo,
                        Some(&path),
                        None,
                        format!("cannot be read: {e}"),
                    );
                    pkg_info_unread = true;
                    continue;
                }
            };
            pkg_info = Some((path.clone(), text));
        } else if rest == Some("pyproject.toml") {
            has_pyproject = true;
        }
    }
    links.check(report);
    let expected_top = stem.clone();
    match tops.iter().collect::<Vec<_>>().as_slice() {
        [one] if **one == expected_top => {}
        [one] => report.add(
            ProblemCode::SdistLayout,
            Some(one),
            None,
            format!("the top-level directory must be `{expected_top}`"),
        ),
        [] => report.add(ProblemCode::SdistLayout, None, None, "the archive is empty"),
        many => report.add(
            ProblemCode::SdistLayout,
            None,
            None,
            format!(
                "everything must be under one `{expected_top}/` directory, found {}",
                many.iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
    if !has_pyproject {
        report.add(
            ProblemCode::SdistLayout,
            Some(&format!("{expected_top}/pyproject.toml")),
            None,
            "missing",
        );
    }
    match pkg_info {
        None if pkg_info_unread => {}
        None => report.add(
            ProblemCode::SdistLayout,
            Some(&format!("{expected_top}/PKG-INFO")),
            None,
            "missing",
        ),
        Some((path, text)) => {
            let m = check_metadata(report, &path, &text, None);
            check_name_version(report, &m, &path, &file_name, &file_version);
        }
    }
}

/// A reader that fails once `left` bytes have been read, and says so in
/// `exceeded` (the tar reader reports only a generic error).
struct Capped<R> {
    inner: R,
    left: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // One byte past the allowance tells "exactly" from "more".
        let want = usize::try_from(self.left.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.exceeded.set(true);
            return Err(io::Error::other("decompressed size limit reached"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
