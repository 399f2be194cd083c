//! Checks of a wheel: every member is decompressed once (capped by
//! [`CheckLimits`]) and hashed; then the `.dist-info` directory, `WHEEL`,
//! `RECORD` against the hashes, and check-wheel-contents' layout checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufReader, Read};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::metadata::{check_metadata, check_name_version};
use super::{CheckLimits, ProblemCode, Report, check_path};
use crate::build::ArtifactKind;
use crate::metadata::ParsedMetadata;
use crate::name::WheelFilename;
use crate::read::is_metadata_member;

struct Member {
    name: String,
    size: u64,
    sha256: [u8; 32],
    /// Read to the end (not stopped at a limit): size and hash are real.
    complete: bool,
}

pub(super) fn check(report: &mut Report, reader: BufReader<std::fs::File>, limits: &CheckLimits) {
    let filename = match WheelFilename::parse(&report.file) {
        Ok(f) => Some(f),
        Err(e) => {
            report.add(ProblemCode::Filename, None, None, e.to_string());
            None
        }
    };
    let mut zip = match zip::ZipArchive::new(reader) {
        Ok(z) => z,
        Err(e) => {
            report.add(
                ProblemCode::Archive,
                None,
                None,
                format!("not a readable zip archive: {e}"),
            );
            return;
        }
    };
    let mut members: Vec<Member> = Vec::new();
    let mut texts: HashMap<String, String> = HashMap::new();
    // Metadata members too large to read, or not text: reported once, not
    // as missing.
    let mut unread: BTreeSet<String> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                report.add(
                    ProblemCode::Archive,
                    None,
                    None,
                    format!("entry {i} cannot be read: {e}"),
                );
                continue;
            }
        };
        let name = entry.name().to_owned();
        if !seen.insert(name.clone()) {
            report.add(
                ProblemCode::Duplicate,
                Some(&name),
                None,
                "the archive holds this path more than once",
            );
            continue;
        }
        if entry.is_dir() {
            continue;
        }
        if !check_path(report, &name) {
            continue;
        }
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut keep = is_metadata_member(ArtifactKind::Wheel, &name)
            || name.ends_with(".dist-info/WHEEL")
            || name.ends_with(".dist-info/RECORD");
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut stop = None;
        let result: io::Result<()> = (|| {
            loop {
                // Never more than the member's or the archive's allowance
                // (plus one byte, to tell "exactly" from "more").
                let allowance = (limits.member - size.min(limits.member))
                    .min(limits.total - total.min(limits.total))
                    .saturating_add(1);
                let want = usize::try_from(allowance)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                let n = entry.read(&mut buf[..want])?;
                if n == 0 {
                    return Ok(());
                }
                hasher.update(&buf[..n]);
                size += n as u64;
                total += n as u64;
                if keep && (kept.len() + n) as u64 > limits.text {
                    keep = false;
                    kept = Vec::new();
                    unread.insert(name.clone());
                    report.add(
                        ProblemCode::TooLarge,
                        Some(&name),
                        None,
                        format!(
                            "larger than {}: not read as metadata",
                            windlass_fs::ByteSize(limits.text)
                        ),
                    );
                }
                if keep {
                    kept.extend_from_slice(&buf[..n]);
                }
                if total > limits.total {
                    stop = Some(Stop::Total);
                    return Ok(());
                }
                if size > limits.member {
                    stop = Some(Stop::Member);
                    return Ok(());
                }
            }
        })();
        if let Err(e) = result {
            report.add(
                ProblemCode::Archive,
                Some(&name),
                None,
                format!("cannot be decompressed: {e}"),
            );
            continue;
        }
        match stop {
            Some(Stop::Total) => {
                report.add(
                    ProblemCode::TooLarge,
                    None,
                    None,
                    format!(
                        "the archive decompresses to more than {}: checking stopped at `{name}`",
                        windlass_fs::ByteSize(limits.total)
                    ),
                );
                return;
            }
            Some(Stop::Member) => report.add(
                ProblemCode::TooLarge,
                Some(&name),
                None,
                format!(
                    "decompresses to more than {}: not read further",
                    windlass_fs::ByteSize(limits.member)
                ),
            ),
            None => {}
        }
        if keep {
            match String::from_utf8(kept) {
                Ok(text) => {
                    texts.insert(name.clone(), text);
                }
                // `publish` refuses core metadata that is not UTF-8.
                Err(_) if is_metadata_member(ArtifactKind::Wheel, &name) => {
                    unread.insert(name.clone());
                    report.add(
                        ProblemCode::MetadataEncoding,
                        Some(&name),
                        None,
                        "not UTF-8 text",
                    );
                }
                Err(e) => {
                    texts.insert(
                        name.clone(),
                        String::from_utf8_lossy(e.as_bytes()).into_owned(),
                    );
                }
            }
        }
        members.push(Member {
            name,
            size,
            sha256: hasher.finalize().into(),
            complete: stop.is_none(),
        });
    }

    // The .dist-info directory.
    let dist_infos: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.name.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    let dist_info = match dist_infos.iter().copied().collect::<Vec<_>>().as_slice() {
        [one] => (*one).to_owned(),
        [] => {
            report.add(
                ProblemCode::DistInfo,
                None,
                None,
                "no `.dist-info` directory",
            );
            return;
        }
        many => {
            report.add(
                ProblemCode::DistInfo,
                None,
                None,
                format!("several `.dist-info` directories: {}", many.join(", ")),
            );
            return;
        }
    };
    if let Some(f) = &filename {
        let expected = format!("{}-{}.dist-info", f.name, f.version);
        if dist_info != expected {
            report.add(
                ProblemCode::DistInfo,
                Some(&dist_info),
                None,
                format!("expected `{expected}` from the file name"),
            );
        }
    }
    let metadata_path = format!("{dist_info}/METADATA");
    let licenses: BTreeSet<String> = members
        .iter()
        .filter_map(|m| {
            m.name
                .strip_prefix(&format!("{dist_info}/licenses/"))
                .map(str::to_owned)
        })
        .collect();
    match texts.get(&metadata_path) {
        None if unread.contains(&metadata_path) => {}
        None => report.add(ProblemCode::DistInfo, Some(&metadata_path), None, "missing"),
        Some(text) => {
            let m = check_metadata(report, &metadata_path, text, Some(&licenses));
            if let Some(f) = &filename {
                check_name_version(report, &m, &metadata_path, &f.name, &f.version);
            }
        }
    }
    let wheel_path = format!("{dist_info}/WHEEL");
    match texts.get(&wheel_path) {
        None if unread.contains(&wheel_path) => {}
        None => report.add(ProblemCode::DistInfo, Some(&wheel_path), None, "missing"),
        Some(text) => check_wheel_file(report, &wheel_path, text, filename.as_ref()),
    }
    let record_path = format!("{dist_info}/RECORD");
    match texts.get(&record_path) {
        None if unread.contains(&record_path) => {}
        None => report.add(ProblemCode::DistInfo, Some(&record_path), None, "missing"),
        Some(text) => check_record(report, &record_path, text, &members),
    }
    check_contents(report, &members, &dist_info);
}

fn check_wheel_file(
    report: &mut Report,
    member: &str,
    text: &str,
    filename: Option<&WheelFilename>,
) {
    let w = ParsedMetadata::parse(text);
    match w.get("Wheel-Version") {
        None => report.add(
            ProblemCode::WheelFile,
            Some(member),
            Some("Wheel-Version"),
            "missing",
        ),
        Some(v) if !v.starts_with("1.") => report.add(
            ProblemCode::WheelFile,
            Some(member),
            Some("Wheel-Version"),
            format!("unsupported version `{v}`"),
        ),
        Some(_) => {}
    }
    match w.get("Root-Is-Purelib") {
        Some("true" | "false") => {}
        Some(v) => report.add(
            ProblemCode::WheelFile,
            Some(member),
            Some("Root-Is-Purelib"),
            format!("`{v}` is not `true` or `false`"),
        ),
        None => report.add(
            ProblemCode::WheelFile,
            Some(member),
            Some("Root-Is-Purelib"),
            "missing",
        ),
    }
    let tags: BTreeSet<String> = w.get_all("Tag").map(str::to_owned).collect();
    if tags.is_empty() {
        report.add(ProblemCode::WheelFile, Some(member), Some("Tag"), "missing");
    } else if let Some(f) = filename {
        let mut expected = BTreeSet::new();
        for py in f.python.split('.') {
            for abi in f.abi.split('.') {
                for plat in f.platform.split('.') {
                    expected.insert(format!("{py}-{abi}-{plat}"));
                }
            }
        }
        if tags != expected {
            report.add(
                ProblemCode::WheelFile,
                Some(member),
                Some("Tag"),
                format!(
                    "tags {} do not match the file name's {}",
                    tags.iter().cloned().collect::<Vec<_>>().join(", "),
                    expected.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
}

/// Why a member was not read to the end.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Member,
    Total,
}

/// Splits one CSV row (RFC 4180 quoting).
fn csv_row(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn check_record(report: &mut Report, record_path: &str, text: &str, members: &[Member]) {
    let by_name: BTreeMap<&str, &Member> = members.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut listed = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = csv_row(line);
        let [path, hash, size] = row.as_slice() else {
            report.add(
                ProblemCode::Record,
                Some(record_path),
                None,
                format!("line {}: expected 3 fields, found {}", n + 1, row.len()),
            );
            continue;
        };
        if !listed.insert(path.clone()) {
            report.add(
                ProblemCode::Record,
                Some(record_path),
                None,
                format!("line {}: `{path}` is listed twice", n + 1),
            );
            continue;
        }
        if !check_path(report, path) {
            continue;
        }
        let is_self = path == record_path;
        let is_signature =
            path.ends_with(".dist-info/RECORD.jws") || path.ends_with(".dist-info/RECORD.p7s");
        let Some(member) = by_name.get(path.as_str()) else {
            report.add(
                ProblemCode::RecordMissingFile,
                Some(path),
                None,
                format!("listed in RECORD (line {}) but not in the archive", n + 1),
            );
            continue;
        };
        if is_self || is_signature || !member.complete {
            continue;
        }
        let Some((algorithm, digest)) = hash.split_once('=') else {
            report.add(
                ProblemCode::RecordHash,
                Some(path),
                None,
                "RECORD gives no hash",
            );
            continue;
        };
        if algorithm != "sha256" && algorithm != "sha384" && algorithm != "sha512" {
            report.add(
                ProblemCode::RecordHash,
                Some(path),
                None,
                format!("RECORD uses the weak or unknown hash `{algorithm}`"),
            );
            continue;
        }
        if algorithm == "sha256"
            && URL_SAFE_NO_PAD.encode(member.sha256) != digest.trim_end_matches('=')
        {
            report.add(ProblemCode::RecordHash, Some(path), None, "the sha256 in RECORD does not match the file: it was changed after the wheel was built");
        }
        if !size.is_empty() && size.parse::<u64>().ok() != Some(member.size) {
            report.add(
                ProblemCode::RecordSize,
                Some(path),
                None,
                format!("RECORD says {size} bytes, the file has {}", member.size),
            );
        }
    }
    for m in members {
        let signature =
            m.name.ends_with(".dist-info/RECORD.jws") || m.name.ends_with(".dist-info/RECORD.p7s");
        if !listed.contains(&m.name) && !signature {
            report.add(
                ProblemCode::RecordUnlisted,
                Some(&m.name),
                None,
                "in the archive but not listed in RECORD",
            );
        }
    }
}

/// Top-level names that belong to the project's repository, not to an installed package.
const COMMON_TOPLEVEL: &[&str] = &[
    "test",
    "tests",
    "doc",
    "docs",
    "example",
    "examples",
    "benchmark",
    "benchmarks",
    "build",
    "dist",
    "src",
];

/// check-wheel-contents' checks that need no source tree.
fn check_contents(report: &mut Report, members: &[Member], dist_info: &str) {
    let data_dir = dist_info.replace(".dist-info", ".data");
    let mut tops: BTreeSet<&str> = BTreeSet::new();
    let mut library = 0usize;
    let mut by_hash: BTreeMap<[u8; 32], Vec<&str>> = BTreeMap::new();
    for m in members {
        if m.name.ends_with(".pyc")
            || m.name.ends_with(".pyo")
            || m.name.contains("/__pycache__/")
            || m.name.starts_with("__pycache__/")
        {
            report.add(
                ProblemCode::Bytecode,
                Some(&m.name),
                None,
                "compiled bytecode does not belong in a wheel",
            );
        }
        let top = m.name.split('/').next().unwrap_or_default();
        if top == dist_info || top == data_dir {
            continue;
        }
        library += 1;
        if m.size > 0 && m.complete {
            by_hash.entry(m.sha256).or_default().push(&m.name);
        }
        if m.name == "__init__.py" {
            report.add(
                ProblemCode::ToplevelInit,
                Some(&m.name),
                None,
                "`__init__.py` at the top of the wheel installs into site-packages itself",
            );
            continue;
        }
        let is_dir = m.name.contains('/');
        let stem = top.strip_suffix(".py").or_else(|| top.strip_suffix(".pyi"));
        if !is_dir
            && stem.is_none()
            && !top.ends_with(".pth")
            && !top.ends_with(".so")
            && !top.ends_with(".pyd")
        {
            report.add(
                ProblemCode::ToplevelFile,
                Some(&m.name),
                None,
                "a file that is not a module at the top of the wheel",
            );
        }
        let base = stem.unwrap_or(top);
        if COMMON_TOPLEVEL.contains(&base) {
            report.add(
                ProblemCode::ToplevelCommon,
                Some(&m.name),
                None,
                format!("`{base}` at the top level clashes with other projects' files"),
            );
        }
        tops.insert(base);
    }
    if library == 0
        && !members
            .iter()
            .any(|m| m.name.starts_with(&format!("{data_dir}/")))
    {
        report.add(
            ProblemCode::Empty,
            None,
            None,
            "the wheel contains no package or module",
        );
    }
    for names in by_hash.values().filter(|n| n.len() > 1) {
        report.add(
            ProblemCode::DuplicateContent,
            Some(names[0]),
            None,
            format!("same content as {}", names[1..].join(", ")),
        );
    }
}
