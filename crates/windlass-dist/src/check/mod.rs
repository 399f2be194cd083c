//! One-pass checks of built distributions: what `twine check --strict`,
//! `check-wheel-contents` and an installer's RECORD validation look at.
//!
//! A [`Problem`] names the archive, the member or metadata field, a stable
//! [`ProblemCode`] and a message; the list serialises for `--json`.
//! [`CheckError`] is for input that cannot be checked at all (missing file,
//! unknown kind, not a regular file).
//!
//! This file holds the entry points, the limits and the report; `wheel.rs`
//! and `sdist.rs` check one archive kind each, `metadata.rs` the core
//! metadata both carry, `links.rs` resolves an sdist's links and `code.rs`
//! documents every code. Which member holds the core metadata, and how much
//! of it is read, is [`crate::read`]'s rule, shared with `publish`.
//!
//! The archive is hostile until checked: what is decompressed is capped per
//! member and in total ([`CheckLimits`]), so a zip bomb or a huge `METADATA`
//! is a `too-large` problem, not exhausted memory; tar links are resolved
//! the way an extractor would (hard links from the archive root, symbolic
//! links from their directory, through other links) before deciding whether
//! they escape; and a [`Problem`] displays names with control characters
//! escaped, so that a member name can neither colour a terminal nor start a
//! GitHub Actions workflow command.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Serialize;

mod code;
mod links;
mod metadata;
mod sdist;
mod wheel;

pub use self::code::ProblemCode;
use crate::build::ArtifactKind;
use crate::read::kind_of;

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
    /// A stable identifier, e.g. `record-hash`; every code is listed, with
    /// what it means, in `docs/wheel-check.md`.
    pub code: ProblemCode,
    pub message: String,
}

/// One line; names and messages come from the archive, so control
/// characters are escaped (`\u{1b}`, `\n`). The JSON form keeps them as
/// they are (JSON escapes them itself).
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let safe = windlass_redact::escape_controls;
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
            text: crate::read::METADATA_LIMIT,
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
    let kind = kind_of(&file_name).ok_or_else(|| CheckError::UnknownKind {
        path: path.to_path_buf(),
    })?;
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
        ArtifactKind::Wheel => wheel::check(&mut report, BufReader::new(file), limits),
        ArtifactKind::Sdist => sdist::check(&mut report, BufReader::new(file), limits),
    }
    Ok(report.problems)
}

/// The problems found so far in one archive.
struct Report {
    file: String,
    problems: Vec<Problem>,
}

impl Report {
    fn add(
        &mut self,
        code: ProblemCode,
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
        report.add(ProblemCode::PathAbsolute, Some(path), None, "absolute path");
        return false;
    }
    if path.contains('\\') {
        report.add(
            ProblemCode::PathBackslash,
            Some(path),
            None,
            "path contains a backslash",
        );
        return false;
    }
    if path.split('/').any(|c| c == "..") {
        report.add(
            ProblemCode::PathEscape,
            Some(path),
            None,
            "path escapes the archive with `..`",
        );
        return false;
    }
    true
}
