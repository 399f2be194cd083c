//! Reading the core metadata of a built distribution: the one place that
//! knows which archive member holds it (`{name}-{version}.dist-info/METADATA`
//! in a wheel, `{name}-{version}/PKG-INFO` in an sdist) and how much of it
//! is read.
//!
//! `publish` sends what [`read_metadata_from`] returns; `check` finds the
//! same member with [`is_metadata_member`] and reads it with the same
//! bound. Nothing here judges the fields: `check` does that.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::build::ArtifactKind;
use crate::metadata::ParsedMetadata;

/// The largest metadata file (`METADATA`, `PKG-INFO`) read from an
/// archive: 16 MiB, as the description (the readme) may be long.
pub const METADATA_LIMIT: u64 = 16 * windlass_fs::MIB;

/// The core metadata of a distribution, parsed but not validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistMetadata {
    pub kind: ArtifactKind,
    /// The archive member it was read from.
    pub member: String,
    pub metadata: ParsedMetadata,
    /// The member's text as stored (PEP 658 serves it byte for byte).
    pub text: String,
}

impl DistMetadata {
    /// `Name`, if present.
    pub fn name(&self) -> Option<&str> {
        self.metadata.get("Name")
    }

    /// `Version`, if present.
    pub fn version(&self) -> Option<&str> {
        self.metadata.get("Version")
    }
}

/// Why the metadata of a distribution cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("cannot read `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("`{}` is neither a wheel (`.whl`) nor an sdist (`.tar.gz`)", path.display())]
    UnknownKind { path: PathBuf },
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}` is not a valid {} archive: {reason}", path.display(), kind_name(*kind))]
    Archive {
        path: PathBuf,
        kind: ArtifactKind,
        reason: String,
    },
    #[error("`{}` is not a valid wheel archive: more than one `.dist-info` directory", path.display())]
    SeveralDistInfo { path: PathBuf },
    #[error("`{}` holds no core metadata (`{member}`)", path.display())]
    NoMetadata { path: PathBuf, member: &'static str },
    #[error("`{}` holds a core metadata file (`{member}`) larger than {}", path.display(), windlass_fs::ByteSize(*limit))]
    TooLarge {
        path: PathBuf,
        member: String,
        limit: u64,
    },
    #[error("`{}` has invalid core metadata: `{member}` is not UTF-8", path.display())]
    NotUtf8 { path: PathBuf, member: String },
}

/// The kind of a distribution, from its file name.
#[allow(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "distribution file names are lowercase by specification"
)]
pub fn kind_of(file_name: &str) -> Option<ArtifactKind> {
    if file_name.ends_with(".whl") {
        Some(ArtifactKind::Wheel)
    } else if file_name.ends_with(".tar.gz") {
        Some(ArtifactKind::Sdist)
    } else {
        None
    }
}

/// Reads the core metadata of the wheel or sdist at `path` (a regular
/// file; the kind comes from its name).
pub fn read_metadata(path: &Path) -> Result<DistMetadata, MetadataError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = kind_of(&file_name).ok_or_else(|| MetadataError::UnknownKind {
        path: path.to_owned(),
    })?;
    let file = windlass_fs::open(path)
        .map_err(|source| MetadataError::Open {
            path: path.to_owned(),
            source,
        })?
        .into_file();
    read_metadata_from(path, kind, file)
}

/// Reads the core metadata from an open distribution file, from where it
/// stands (seek to the start first); `path` names it in errors.
pub fn read_metadata_from(
    path: &Path,
    kind: ArtifactKind,
    file: File,
) -> Result<DistMetadata, MetadataError> {
    let (member, text) = match kind {
        ArtifactKind::Wheel => read_wheel(path, file)?,
        ArtifactKind::Sdist => read_sdist(path, file)?,
    };
    Ok(DistMetadata {
        kind,
        metadata: ParsedMetadata::parse(&text),
        member,
        text,
    })
}

/// Whether an archive member (its path, without a trailing `/`) is the
/// core metadata of a distribution of this kind.
pub fn is_metadata_member(kind: ArtifactKind, member: &str) -> bool {
    match kind {
        ArtifactKind::Wheel => member
            .strip_suffix("/METADATA")
            .is_some_and(|dir| dir.ends_with(".dist-info") && !dir.contains('/')),
        ArtifactKind::Sdist => member
            .split_once('/')
            .is_some_and(|(top, rest)| !top.is_empty() && rest == "PKG-INFO"),
    }
}

/// Why a metadata member could not be read as text.
#[derive(Debug)]
pub(crate) enum TextError {
    Io(io::Error),
    /// More than the limit: not read further.
    TooLarge,
    NotUtf8,
}

/// Reads a metadata member as UTF-8, failing one byte past `limit` rather
/// than cutting it short.
pub(crate) fn read_text(reader: impl Read, limit: u64) -> Result<String, TextError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(TextError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(TextError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| TextError::NotUtf8)
}

fn kind_name(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Wheel => "wheel",
        ArtifactKind::Sdist => "sdist",
    }
}

fn read_wheel(path: &Path, file: File) -> Result<(String, String), MetadataError> {
    let archive_err = |reason: String| MetadataError::Archive {
        path: path.to_owned(),
        kind: ArtifactKind::Wheel,
        reason,
    };
    let mut zip =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| archive_err(e.to_string()))?;
    let candidates: Vec<String> = zip
        .file_names()
        .filter(|n| is_metadata_member(ArtifactKind::Wheel, n))
        .map(str::to_owned)
        .collect();
    let member = match candidates.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(MetadataError::NoMetadata {
                path: path.to_owned(),
                member: "*.dist-info/METADATA",
            });
        }
        _ => {
            return Err(MetadataError::SeveralDistInfo {
                path: path.to_owned(),
            });
        }
    };
    let entry = zip
        .by_name(&member)
        .map_err(|e| archive_err(e.to_string()))?;
    let text = text_of(entry, path, &member)?;
    Ok((member, text))
}

fn read_sdist(path: &Path, file: File) -> Result<(String, String), MetadataError> {
    let archive_err = |reason: String| MetadataError::Archive {
        path: path.to_owned(),
        kind: ArtifactKind::Sdist,
        reason,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    let entries = archive.entries().map_err(|e| archive_err(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| archive_err(e.to_string()))?;
        let entry_path = entry.path().map_err(|e| archive_err(e.to_string()))?;
        let member = entry_path.to_string_lossy().into_owned();
        if is_metadata_member(ArtifactKind::Sdist, member.trim_end_matches('/')) {
            let text = text_of(entry, path, &member)?;
            return Ok((member, text));
        }
    }
    Err(MetadataError::NoMetadata {
        path: path.to_owned(),
        member: "{name}-{version}/PKG-INFO",
    })
}

fn text_of(reader: impl Read, path: &Path, member: &str) -> Result<String, MetadataError> {
    read_text(reader, METADATA_LIMIT).map_err(|e| match e {
        TextError::Io(source) => MetadataError::Read {
            path: path.to_owned(),
            source,
        },
        TextError::TooLarge => MetadataError::TooLarge {
            path: path.to_owned(),
            member: member.to_owned(),
            limit: METADATA_LIMIT,
        },
        TextError::NotUtf8 => MetadataError::NotUtf8 {
            path: path.to_owned(),
            member: member.to_owned(),
        },
    })
}
