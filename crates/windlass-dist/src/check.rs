//! One-pass checks of built distributions: what `twine check --strict`,
//! `check-wheel-contents` and an installer's RECORD validation look at.
//!
//! A [`Problem`] names the archive, the member or metadata field, a stable
//! code and a message; the list serialises for `--json`. [`CheckError`] is
//! for input that cannot be checked at all (missing file, unknown kind, not
//! a regular file).
//!
//! The archive is hostile until checked: what is decompressed is capped per
//! member and in total ([`CheckLimits`]), so a zip bomb or a huge `METADATA`
//! is a `too-large` problem, not exhausted memory; tar links are resolved
//! the way an extractor would (hard links from the archive root, symbolic
//! links from their directory, through other links) before deciding whether
//! they escape; and a [`Problem`] displays names with control characters
//! escaped, so that a member name can neither colour a terminal nor start a
//! GitHub Actions workflow command.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::metadata::ParsedMetadata;
use crate::name::{self, WheelFilename};

/// One thing wrong with a distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// The archive's file name.
    pub file: String,
    /// The archive member concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The metadata field concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A stable identifier, e.g. `record-hash`.
    pub code: &'static str,
    pub message: String,
}

/// One line; names and messages come from the archive, so control
/// characters are escaped (`\u{1b}`, `\n`). The JSON form keeps them as
/// they are (JSON escapes them itself).
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let safe = windlass_output::escape_controls;
        write!(f, "{}", safe(&self.file))?;
        if let Some(m) = &self.member {
            write!(f, ": {}", safe(m))?;
        }
        if let Some(field) = &self.field {
            write!(f, ": `{}`", safe(field))?;
        }
        write!(f, ": {} [{}]", safe(&self.message), self.code)
    }
}

/// How much `check` decompresses: past a limit the rest is not read and a
/// `too-large` problem says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckLimits {
    /// One member, decompressed: 4 GiB (the largest a zip without zip64
    /// holds; native libraries in real wheels stay well below).
    pub member: u64,
    /// All members together, decompressed: 16 GiB.
    pub total: u64,
    /// A metadata member read into memory (`METADATA`, `WHEEL`, `RECORD`,
    /// `PKG-INFO`): 16 MiB.
    pub text: u64,
}

impl Default for CheckLimits {
    fn default() -> Self {
        Self {
            member: 4 * windlass_fs::GIB,
            total: 16 * windlass_fs::GIB,
            text: 16 * windlass_fs::MIB,
        }
    }
}

/// Input that cannot be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("`{}` is neither a wheel (`.whl`) nor an sdist (`.tar.gz`)", path.display())]
    UnknownKind { path: PathBuf },
}

impl CheckError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Io {
                source: windlass_fs::ReadError::NotRegular { .. },
                ..
            } => Some(
                "pass a built distribution file: a fifo, socket, device or directory is never read",
            ),
            Self::Io { .. } => Some("pass the path of a built distribution, e.g. `dist/*.whl`"),
            Self::UnknownKind { .. } => Some("check only `.whl` and `.tar.gz` files"),
        }
    }
}

/// Checks one wheel or sdist with the default [`CheckLimits`].
pub fn check_file(path: &Path) -> Result<Vec<Problem>, CheckError> {
    check_file_with(path, &CheckLimits::default())
}

/// Checks one wheel or sdist, decompressing no more than `limits` allow.
pub fn check_file_with(path: &Path, limits: &CheckLimits) -> Result<Vec<Problem>, CheckError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = if file_name.ends_with(".whl") {
        Kind::Wheel
    } else if file_name.ends_with(".tar.gz") {
        Kind::Sdist
    } else {
        return Err(CheckError::UnknownKind {
            path: path.to_path_buf(),
        });
    };
    let file = windlass_fs::open(path)
        .map_err(|source| CheckError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .into_file();
    let mut report = Report {
        file: file_name.clone(),
        problems: Vec::new(),
    };
    match kind {
        Kind::Wheel => check_wheel(&mut report, BufReader::new(file), limits),
        Kind::Sdist => check_sdist(&mut report, BufReader::new(file), limits),
    }
    Ok(report.problems)
}

enum Kind {
    Wheel,
    Sdist,
}

struct Report {
    file: String,
    problems: Vec<Problem>,
}

impl Report {
    fn add(
        &mut self,
        code: &'static str,
        member: Option<&str>,
        field: Option<&str>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            file: self.file.clone(),
            member: member.map(str::to_owned),
            field: field.map(str::to_owned),
            code,
            message: message.into(),
        });
    }
}

/// Path problems shared by both archive kinds; returns whether the path is safe.
fn check_path(report: &mut Report, path: &str) -> bool {
    if path.starts_with('/') || path.as_bytes().get(1) == Some(&b':') {
        report.add("path-absolute", Some(path), None, "absolute path");
        return false;
    }
    if path.contains('\\') {
        report.add(
            "path-backslash",
            Some(path),
            None,
            "path contains a backslash",
        );
        return false;
    }
    if path.split('/').any(|c| c == "..") {
        report.add(
            "path-escape",
            Some(path),
            None,
            "path escapes the archive with `..`",
        );
        return false;
    }
    true
}

const KNOWN_METADATA_VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"];

/// Checks core metadata; `member` is `METADATA` or `PKG-INFO`'s archive path.
fn check_metadata(
    report: &mut Report,
    member: &str,
    text: &str,
    license_files: Option<&BTreeSet<String>>,
) -> ParsedMetadata {
    let m = ParsedMetadata::parse(text);
    let field = |report: &mut Report, f: &str, code: &'static str, msg: String| {
        report.add(code, Some(member), Some(f), msg);
    };
    let version_of = |v: &str| -> (u32, u32) {
        let (a, b) = v.split_once('.').unwrap_or((v, "0"));
        (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
    };
    let mv = m.get("Metadata-Version").map(str::to_owned);
    match &mv {
        None => field(
            report,
            "Metadata-Version",
            "metadata-missing",
            "required field is missing".into(),
        ),
        Some(v) if !KNOWN_METADATA_VERSIONS.contains(&v.as_str()) => {
            field(
                report,
                "Metadata-Version",
                "metadata-version",
                format!("unknown metadata version `{v}`"),
            );
        }
        Some(_) => {}
    }
    let mv = mv.as_deref().map_or((0, 0), version_of);
    match m.get("Name") {
        None => field(
            report,
            "Name",
            "metadata-missing",
            "required field is missing".into(),
        ),
        Some(n) if !name::is_valid_name(n) => field(
            report,
            "Name",
            "name",
            format!("`{n}` is not a valid distribution name"),
        ),
        Some(_) => {}
    }
    match m.get("Version") {
        None => field(
            report,
            "Version",
            "metadata-missing",
            "required field is missing".into(),
        ),
        Some(v) => {
            if let Err(e) = pep440_rs::Version::from_str(v) {
                field(
                    report,
                    "Version",
                    "version",
                    format!("`{v}` is not a valid PEP 440 version: {e}"),
                );
            }
        }
    }
    if let Some(s) = m.get("Summary")
        && s.contains('\n')
    {
        field(report, "Summary", "summary", "must be a single line".into());
    }
    for r in m.get_all("Requires-Dist") {
        if let Err(e) = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(r) {
            field(
                report,
                "Requires-Dist",
                "requirement",
                format!("`{r}` is not a valid PEP 508 requirement: {}", e.message),
            );
        }
    }
    if let Some(rp) = m.get("Requires-Python")
        && let Err(e) = pep440_rs::VersionSpecifiers::from_str(rp)
    {
        field(
            report,
            "Requires-Python",
            "requires-python",
            format!("`{rp}` is not a valid version specifier: {e}"),
        );
    }
    for e in m.get_all("Provides-Extra") {
        if !name::is_valid_name(e) {
            field(
                report,
                "Provides-Extra",
                "extra",
                format!("`{e}` is not a valid extra name"),
            );
        }
    }
    // twine check --strict: a description with a known content type.
    match m.description() {
        None => field(
            report,
            "Description",
            "description-missing",
            "no description (the readme): PyPI will show an empty page".into(),
        ),
        Some(d) if d.trim().is_empty() => {
            field(
                report,
                "Description",
                "description-missing",
                "the description is empty".into(),
            );
        }
        Some(_) => {}
    }
    match m.get("Description-Content-Type") {
        None => field(
            report,
            "Description-Content-Type",
            "content-type",
            "missing: PyPI will render the description as reStructuredText".into(),
        ),
        Some(ct) => {
            let mut parts = ct.split(';').map(str::trim);
            let base = parts.next().unwrap_or_default();
            if !["text/plain", "text/x-rst", "text/markdown"].contains(&base) {
                field(
                    report,
                    "Description-Content-Type",
                    "content-type",
                    format!("`{ct}` is not text/plain, text/x-rst or text/markdown"),
                );
            }
            for p in parts {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                if k.eq_ignore_ascii_case("variant")
                    && base == "text/markdown"
                    && !["GFM", "CommonMark"].contains(&v)
                {
                    field(
                        report,
                        "Description-Content-Type",
                        "content-type",
                        format!("unknown markdown variant `{v}`"),
                    );
                }
            }
        }
    }
    if let Some(expr) = m.get("License-Expression") {
        if mv < (2, 4) {
            field(
                report,
                "License-Expression",
                "metadata-version",
                "needs `Metadata-Version: 2.4` or later".into(),
            );
        }
        if let Err(e) = crate::plan::canonical_license(expr) {
            field(report, "License-Expression", "license-expression", e);
        }
        if let Some(c) = m
            .get_all("Classifier")
            .find(|c| c.starts_with("License ::"))
        {
            field(
                report,
                "Classifier",
                "license-classifier",
                format!("`{c}` must not be used with `License-Expression`"),
            );
        }
    }
    let files: Vec<&str> = m.get_all("License-File").collect();
    if !files.is_empty() && mv < (2, 4) && mv != (0, 0) {
        // Setuptools wrote License-File before 2.4 existed: a warning at most, not checked.
    }
    if mv >= (2, 4)
        && let Some(present) = license_files
    {
        for f in files {
            if !present.contains(f) {
                field(
                    report,
                    "License-File",
                    "license-file",
                    format!("`{f}` is not in the archive"),
                );
            }
        }
    }
    if m.get("Dynamic").is_some() && mv < (2, 2) {
        field(
            report,
            "Dynamic",
            "metadata-version",
            "needs `Metadata-Version: 2.2` or later".into(),
        );
    }
    for d in m.get_all("Dynamic") {
        if d.eq_ignore_ascii_case("Name")
            || d.eq_ignore_ascii_case("Version")
            || d.eq_ignore_ascii_case("Metadata-Version")
        {
            field(
                report,
                "Dynamic",
                "dynamic",
                format!("`{d}` cannot be dynamic"),
            );
        }
    }
    m
}

/// Compares the name and version in a file name with the metadata.
fn check_name_version(
    report: &mut Report,
    m: &ParsedMetadata,
    member: &str,
    file_name: &str,
    file_version: &str,
) {
    if let Some(n) = m.get("Name")
        && name::file_name_component(n) != file_name
    {
        report.add(
            "filename-mismatch",
            Some(member),
            Some("Name"),
            format!(
                "the file name says `{file_name}`, the metadata says `{n}` (expected `{}`)",
                name::file_name_component(n)
            ),
        );
    }
    if let Some(v) = m.get("Version") {
        let same = match (
            pep440_rs::Version::from_str(v),
            pep440_rs::Version::from_str(&file_version.replace('_', "-")),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => v == file_version,
        };
        if !same {
            report.add(
                "filename-mismatch",
                Some(member),
                Some("Version"),
                format!("the file name says `{file_version}`, the metadata says `{v}`"),
            );
        }
    }
}

struct Member {
    name: String,
    size: u64,
    sha256: [u8; 32],
    /// Read to the end (not stopped at a limit): size and hash are real.
    complete: bool,
}

fn check_wheel(report: &mut Report, reader: BufReader<std::fs::File>, limits: &CheckLimits) {
    let filename = match WheelFilename::parse(&report.file) {
        Ok(f) => Some(f),
        Err(e) => {
            report.add("filename", None, None, e.to_string());
            None
        }
    };
    let mut zip = match zip::ZipArchive::new(reader) {
        Ok(z) => z,
        Err(e) => {
            report.add(
                "archive",
                None,
                None,
                format!("not a readable zip archive: {e}"),
            );
            return;
        }
    };
    let mut members: Vec<Member> = Vec::new();
    let mut texts: HashMap<String, String> = HashMap::new();
    // Metadata members too large to read: reported once, not as missing.
    let mut oversized: BTreeSet<String> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                report.add(
                    "archive",
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
                "duplicate",
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
        let mut keep = name.ends_with(".dist-info/METADATA")
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
                    oversized.insert(name.clone());
                    report.add(
                        "too-large",
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
                "archive",
                Some(&name),
                None,
                format!("cannot be decompressed: {e}"),
            );
            continue;
        }
        match stop {
            Some(Stop::Total) => {
                report.add(
                    "too-large",
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
                "too-large",
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
            texts.insert(name.clone(), String::from_utf8_lossy(&kept).into_owned());
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
            report.add("dist-info", None, None, "no `.dist-info` directory");
            return;
        }
        many => {
            report.add(
                "dist-info",
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
                "dist-info",
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
        None if oversized.contains(&metadata_path) => {}
        None => report.add("dist-info", Some(&metadata_path), None, "missing"),
        Some(text) => {
            let m = check_metadata(report, &metadata_path, text, Some(&licenses));
            if let Some(f) = &filename {
                check_name_version(report, &m, &metadata_path, &f.name, &f.version);
            }
        }
    }
    let wheel_path = format!("{dist_info}/WHEEL");
    match texts.get(&wheel_path) {
        None if oversized.contains(&wheel_path) => {}
        None => report.add("dist-info", Some(&wheel_path), None, "missing"),
        Some(text) => check_wheel_file(report, &wheel_path, text, filename.as_ref()),
    }
    let record_path = format!("{dist_info}/RECORD");
    match texts.get(&record_path) {
        None if oversized.contains(&record_path) => {}
        None => report.add("dist-info", Some(&record_path), None, "missing"),
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
        None => report.add("wheel-file", Some(member), Some("Wheel-Version"), "missing"),
        Some(v) if !v.starts_with("1.") => report.add(
            "wheel-file",
            Some(member),
            Some("Wheel-Version"),
            format!("unsupported version `{v}`"),
        ),
        Some(_) => {}
    }
    match w.get("Root-Is-Purelib") {
        Some("true" | "false") => {}
        Some(v) => report.add(
            "wheel-file",
            Some(member),
            Some("Root-Is-Purelib"),
            format!("`{v}` is not `true` or `false`"),
        ),
        None => report.add(
            "wheel-file",
            Some(member),
            Some("Root-Is-Purelib"),
            "missing",
        ),
    }
    let tags: BTreeSet<String> = w.get_all("Tag").map(str::to_owned).collect();
    if tags.is_empty() {
        report.add("wheel-file", Some(member), Some("Tag"), "missing");
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
                "wheel-file",
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
                "record",
                Some(record_path),
                None,
                format!("line {}: expected 3 fields, found {}", n + 1, row.len()),
            );
            continue;
        };
        if !listed.insert(path.clone()) {
            report.add(
                "record",
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
                "record-missing-file",
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
            report.add("record-hash", Some(path), None, "RECORD gives no hash");
            continue;
        };
        if algorithm != "sha256" && algorithm != "sha384" && algorithm != "sha512" {
            report.add(
                "record-hash",
                Some(path),
                None,
                format!("RECORD uses the weak or unknown hash `{algorithm}`"),
            );
            continue;
        }
        if algorithm == "sha256"
            && URL_SAFE_NO_PAD.encode(member.sha256) != digest.trim_end_matches('=')
        {
            report.add("record-hash", Some(path), None, "the sha256 in RECORD does not match the file: it was changed after the wheel was built");
        }
        if !size.is_empty() && size.parse::<u64>().ok() != Some(member.size) {
            report.add(
                "record-size",
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
                "record-unlisted",
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
                "bytecode",
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
                "toplevel-init",
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
                "toplevel-file",
                Some(&m.name),
                None,
                "a file that is not a module at the top of the wheel",
            );
        }
        let base = stem.unwrap_or(top);
        if COMMON_TOPLEVEL.contains(&base) {
            report.add(
                "toplevel-common",
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
            "empty",
            None,
            None,
            "the wheel contains no package or module",
        );
    }
    for names in by_hash.values().filter(|n| n.len() > 1) {
        report.add(
            "duplicate-content",
            Some(names[0]),
            None,
            format!("same content as {}", names[1..].join(", ")),
        );
    }
}

fn check_sdist(report: &mut Report, reader: BufReader<std::fs::File>, limits: &CheckLimits) {
    let stem = report.file.trim_end_matches(".tar.gz").to_owned();
    let (file_name, file_version) = match stem.rsplit_once('-') {
        Some((n, v)) => (n.to_owned(), v.to_owned()),
        None => {
            report.add(
                "filename",
                None,
                None,
                "sdist file name must be `{name}-{version}.tar.gz`",
            );
            (stem.clone(), String::new())
        }
    };
    if !file_name.is_empty() && name::file_name_component(&file_name) != file_name {
        report.add(
            "filename",
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
            "too-large",
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
                "archive",
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
    let mut pkg_info_oversized = false;
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
                    "archive",
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
                    "archive",
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
                "duplicate",
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
                "special-file",
                Some(&path),
                None,
                "device, fifo or other special file",
            );
        }
        links.members.push(path.clone());
        if entry.size() > limits.member {
            report.add(
                "too-large",
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
        if rest == Some("PKG-INFO") {
            let mut bytes = Vec::new();
            let read = (&mut entry)
                .take(limits.text.saturating_add(1))
                .read_to_end(&mut bytes);
            if read.is_err() && exceeded.get() {
                too_large(report);
                return;
            }
            if bytes.len() as u64 > limits.text {
                report.add(
                    "too-large",
                    Some(&path),
                    None,
                    format!(
                        "larger than {}: not read as metadata",
                        windlass_fs::ByteSize(limits.text)
                    ),
                );
                pkg_info_oversized = true;
                continue;
            }
            let text = match (read, String::from_utf8(bytes)) {
                (Ok(_), Ok(text)) => text,
                _ => {
                    report.add("pkg-info", Some(&path), None, "not UTF-8 text");
                    String::new()
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
            "sdist-layout",
            Some(one),
            None,
            format!("the top-level directory must be `{expected_top}`"),
        ),
        [] => report.add("sdist-layout", None, None, "the archive is empty"),
        many => report.add(
            "sdist-layout",
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
            "sdist-layout",
            Some(&format!("{expected_top}/pyproject.toml")),
            None,
            "missing",
        );
    }
    match pkg_info {
        None if pkg_info_oversized => {}
        None => report.add(
            "sdist-layout",
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

/// Why a member was not read to the end.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Member,
    Total,
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

/// The most links followed to resolve one path, as Linux does (`ELOOP`).
const MAX_LINK_HOPS: u32 = 40;

/// The links and members of a tar archive, to resolve as an extractor
/// would once every member is known.
#[derive(Default)]
struct Links {
    /// Symbolic links: path to target.
    symlinks: HashMap<String, String>,
    /// Every link in archive order: (path, symbolic?, target).
    all: Vec<(String, bool, String)>,
    /// Every member path, in archive order.
    members: Vec<String>,
}

/// Where a path resolves inside the archive.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    Inside,
    /// Above the archive root, or absolute.
    Outside,
    /// More than [`MAX_LINK_HOPS`] links.
    Loop,
}

impl Links {
    fn add(&mut self, path: &str, symbolic: bool, target: String) {
        if symbolic {
            self.symlinks.insert(normal(path), target.clone());
        }
        self.all.push((path.to_owned(), symbolic, target));
    }

    /// Reports every link that resolves outside the archive root (or does
    /// not resolve), and every member extracted through a symbolic link
    /// that leaves it.
    fn check(&self, report: &mut Report) {
        for (path, symbolic, target) in &self.all {
            // A hard link names its target from the archive root; a
            // symbolic link from its own directory.
            let base: Vec<String> = if *symbolic {
                let mut parts = components(path);
                parts.pop();
                parts
            } else {
                Vec::new()
            };
            let (code, message) = match self.resolve(base, target) {
                Resolved::Inside => continue,
                Resolved::Outside if *symbolic => (
                    "path-escape",
                    format!("symbolic link to `{target}` resolves outside the archive"),
                ),
                Resolved::Outside => (
                    "path-escape",
                    format!(
                        "hard link to `{target}` resolves outside the archive (a hard link \
                         names its target from the archive root)"
                    ),
                ),
                Resolved::Loop => (
                    "link-loop",
                    format!("link to `{target}` does not resolve: too many levels of links"),
                ),
            };
            report.add(code, Some(path), None, message);
        }
        if self.symlinks.is_empty() {
            return;
        }
        for path in &self.members {
            // The directories a member is written into, followed through
            // links: `pkg/out -> /etc` then `pkg/out/passwd` writes /etc/passwd.
            let mut parents = components(path);
            parents.pop();
            if parents.is_empty() {
                continue;
            }
            if self.resolve(Vec::new(), &parents.join("/")) == Resolved::Outside {
                report.add(
                    "path-escape",
                    Some(path),
                    None,
                    "extracted through a symbolic link that leaves the archive",
                );
            }
        }
    }

    /// Resolves `target` from the directory `base` (components below the
    /// archive root), following symbolic links of the archive.
    fn resolve(&self, mut stack: Vec<String>, target: &str) -> Resolved {
        if target.starts_with('/') {
            return Resolved::Outside;
        }
        let mut hops = 0;
        let mut rest: VecDeque<String> = components(target).into();
        while let Some(part) = rest.pop_front() {
            if part == ".." {
                if stack.pop().is_none() {
                    return Resolved::Outside;
                }
                continue;
            }
            stack.push(part);
            let Some(link) = self.symlinks.get(&stack.join("/")) else {
                continue;
            };
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Resolved::Loop;
            }
            if link.starts_with('/') {
                return Resolved::Outside;
            }
            stack.pop();
            for part in components(link).into_iter().rev() {
                rest.push_front(part);
            }
        }
        Resolved::Inside
    }
}

/// The components of an archive path, without empty ones and `.`.
fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
        .collect()
}

/// An archive path in the form [`Links::resolve`] looks links up by.
fn normal(path: &str) -> String {
    components(path).join("/")
}
