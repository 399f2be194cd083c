//! Reading a distribution before it is sent: its kind, hashes and core
//! metadata, validated so that nothing partial is ever uploaded.

use std::fs::File;
use std::io::{self, Read, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use blake2::Blake2b;
use blake2::digest::consts::U32;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use windlass_dist::build::ArtifactKind;
use windlass_dist::metadata::ParsedMetadata;
use windlass_dist::name::{WheelFilename, is_valid_name, normalize};
use windlass_dist::read::MetadataError;

/// The kind of a distribution file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DistKind {
    Wheel,
    Sdist,
}

impl DistKind {
    /// The `filetype` form field of the upload API.
    pub fn filetype(self) -> &'static str {
        match self {
            Self::Wheel => "bdist_wheel",
            Self::Sdist => "sdist",
        }
    }
}

/// A wheel or sdist, read and validated, ready to upload.
#[derive(Debug, Clone)]
pub struct Distribution {
    pub path: PathBuf,
    /// The file name, as uploaded.
    pub filename: String,
    pub kind: DistKind,
    pub size: u64,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// Lowercase hex BLAKE2b-256 of the file.
    pub blake2_256: String,
    /// `Name` from the core metadata.
    pub name: String,
    /// `Version` from the core metadata.
    pub version: String,
    /// The `pyversion` form field: the wheel's python tag, `source` for an
    /// sdist.
    pub pyversion: String,
    pub metadata: ParsedMetadata,
}

/// Why a file cannot be uploaded (all exit with code 2, before anything is
/// sent).
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error("`{}` does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}` is a {kind}, not a regular file", path.display())]
    NotAFile {
        path: PathBuf,
        kind: windlass_fs::FileKind,
    },
    #[error("`{}` holds a core metadata file (`{member}`) larger than {}", path.display(), windlass_fs::ByteSize(*limit))]
    MetadataTooLarge {
        path: PathBuf,
        member: String,
        limit: u64,
    },
    #[error("`{}` is not a distribution: expected a wheel (`.whl`) or an sdist (`.tar.gz`)", path.display())]
    NotADist { path: PathBuf },
    #[error("`{}` has an invalid file name: {reason}", path.display())]
    BadFilename { path: PathBuf, reason: String },
    #[error("`{}` is not a valid {kind} archive: {reason}", path.display())]
    Archive {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("`{}` holds no core metadata (`{member}`)", path.display())]
    NoMetadata { path: PathBuf, member: &'static str },
    #[error("`{}` has invalid core metadata: {problem}", path.display())]
    BadMetadata { path: PathBuf, problem: String },
}

impl DistError {
    pub fn hint(&self) -> Option<String> {
        Some(
            match self {
                Self::Missing { .. } => {
                    "build the distributions first, e.g. `windlass wheel build`"
                }
                Self::NotADist { .. } => "pass only `.whl` and `.tar.gz` files",
                Self::NotAFile { .. } => {
                    "pass the distribution files themselves: a fifo, socket, device or \
                     directory is never read"
                }
                Self::MetadataTooLarge { .. } => {
                    "rebuild the distribution: its metadata is not what a build writes"
                }
                Self::BadFilename { .. } | Self::Archive { .. } | Self::NoMetadata { .. } => {
                    "rebuild the distribution; `windlass wheel check` shows what is wrong"
                }
                Self::BadMetadata { .. } => "fix the project metadata and rebuild",
                Self::Read { .. } => return None,
            }
            .to_owned(),
        )
    }

    /// The reader's errors, worded as `publish` has always worded them.
    pub(crate) fn from_metadata(error: MetadataError) -> Self {
        match error {
            MetadataError::Open { path, source } => Self::Read {
                path,
                source: io::Error::other(source),
            },
            MetadataError::UnknownKind { path } => Self::NotADist { path },
            MetadataError::Read { path, source } => Self::Read { path, source },
            MetadataError::Archive { path, kind, reason } => Self::Archive {
                path,
                kind: match kind {
                    ArtifactKind::Wheel => "wheel",
                    ArtifactKind::Sdist => "sdist",
                },
                reason,
            },
            MetadataError::SeveralDistInfo { path } => Self::Archive {
                path,
                kind: "wheel",
                reason: "more than one `.dist-info` directory".to_owned(),
            },
            MetadataError::NoMetadata { path, member } => Self::NoMetadata { path, member },
            MetadataError::TooLarge {
                path,
                member,
                limit,
            } => Self::MetadataTooLarge {
                path,
                member,
                limit,
            },
            MetadataError::NotUtf8 { path, .. } => Self::BadMetadata {
                path,
                problem: "the metadata file is not UTF-8".to_owned(),
            },
        }
    }
}

impl windlass_output::Diagnostic for DistError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        DistError::hint(self)
    }
}

impl Distribution {
    /// Reads and validates a distribution: blocking I/O (hashing and
    /// unpacking the metadata), run it on a blocking thread.
    #[allow(
        clippy::case_sensitive_file_extension_comparisons,
        reason = "distribution file names are lowercase by specification"
    )]
    pub fn inspect(path: &Path) -> Result<Self, DistError> {
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Opened once: what is hashed is what the metadata is read from.
        let mut file = windlass_fs::open(path)
            .map_err(|error| match error {
                windlass_fs::ReadError::NotRegular { path, kind } => {
                    DistError::NotAFile { path, kind }
                }
                error if error.is_not_found() => DistError::Missing {
                    path: path.to_owned(),
                },
                error => DistError::Read {
                    path: path.to_owned(),
                    source: io::Error::other(error),
                },
            })?
            .into_file();
        let bad_name = |reason: String| DistError::BadFilename {
            path: path.to_owned(),
            reason,
        };
        let (kind, file_project, file_version, pyversion) = if filename.ends_with(".whl") {
            let parsed = WheelFilename::parse(&filename).map_err(|e| bad_name(e.to_string()))?;
            (DistKind::Wheel, parsed.name, parsed.version, parsed.python)
        } else if let Some(stem) = filename.strip_suffix(".tar.gz") {
            let (name, version) = stem.rsplit_once('-').ok_or_else(|| {
                bad_name("an sdist is named `{name}-{version}.tar.gz`".to_owned())
            })?;
            if name.is_empty() || version.is_empty() {
                return Err(bad_name(
                    "an sdist is named `{name}-{version}.tar.gz`".to_owned(),
                ));
            }
            (
                DistKind::Sdist,
                name.to_owned(),
                version.to_owned(),
                "source".to_owned(),
            )
        } else {
            return Err(DistError::NotADist {
                path: path.to_owned(),
            });
        };

        let read_err = |source| DistError::Read {
            path: path.to_owned(),
            source,
        };
        let (sha256, blake2_256, size) = hash_file(&mut file).map_err(read_err)?;
        file.seek(SeekFrom::Start(0)).map_err(read_err)?;
        let archive = match kind {
            DistKind::Wheel => ArtifactKind::Wheel,
            DistKind::Sdist => ArtifactKind::Sdist,
        };
        let metadata = windlass_dist::read::read_metadata_from(path, archive, file)
            .map_err(DistError::from_metadata)?
            .metadata;
        let (name, version) =
            validate(&metadata, &file_project, &file_version).map_err(|problem| {
                DistError::BadMetadata {
                    path: path.to_owned(),
                    problem,
                }
            })?;
        Ok(Self {
            path: path.to_owned(),
            filename,
            kind,
            size,
            sha256,
            blake2_256,
            name,
            version,
            pyversion,
            metadata,
        })
    }

    /// The PEP 503 normalised project name.
    pub fn normalized_name(&self) -> String {
        normalize(&self.name)
    }
}

/// The PEP 503 normalised project name that a wheel's or an sdist's file
/// name gives, known without opening the file; `None` for any other name.
/// [`Distribution::inspect`] refuses a file whose metadata names another
/// project, so for every file that is published this is its project.
#[allow(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "distribution file names are lowercase by specification"
)]
pub fn project_of_filename(filename: &str) -> Option<String> {
    let project = if filename.ends_with(".whl") {
        WheelFilename::parse(filename).ok()?.name
    } else {
        let (name, _) = filename.strip_suffix(".tar.gz")?.rsplit_once('-')?;
        name.to_owned()
    };
    is_valid_name(&project).then(|| normalize(&project))
}

/// SHA-256 and BLAKE2b-256 of a file in one read, and its size.
fn hash_file(file: &mut File) -> io::Result<(String, String, u64)> {
    let mut sha = Sha256::new();
    let mut blake = Blake2b::<U32>::new();
    let mut buf = vec![0_u8; 1 << 20];
    let mut size: u64 = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        blake.update(&buf[..n]);
        size += n as u64;
    }
    Ok((
        hex::encode(sha.finalize()),
        hex::encode(blake.finalize()),
        size,
    ))
}

/// Checks what an index checks first; returns `(name, version)`.
fn validate(
    metadata: &ParsedMetadata,
    file_project: &str,
    file_version: &str,
) -> Result<(String, String), String> {
    let required = |field: &str| {
        metadata
            .get(field)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the required field `{field}` is missing"))
    };
    let metadata_version = required("Metadata-Version")?;
    let major = metadata_version.split('.').next().unwrap_or_default();
    if !matches!(major, "1" | "2") {
        return Err(format!(
            "`Metadata-Version: {metadata_version}` is not a version indexes accept"
        ));
    }
    let name = required("Name")?;
    if !is_valid_name(name) {
        return Err(format!("`Name: {name}` is not a valid project name"));
    }
    let version = required("Version")?;
    let parsed = pep440_rs::Version::from_str(version)
        .map_err(|_| format!("`Version: {version}` is not a valid PEP 440 version"))?;
    if normalize(name) != normalize(file_project) {
        return Err(format!(
            "`Name: {name}` does not match the file name's project `{file_project}`"
        ));
    }
    let same_version = pep440_rs::Version::from_str(&file_version.replace('_', "-"))
        .is_ok_and(|file| file == parsed);
    if !same_version {
        return Err(format!(
            "`Version: {version}` does not match the file name's version `{file_version}`"
        ));
    }
    Ok((name.to_owned(), version.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::io::Write as _;
    use std::path::Path;
    use std::time::Duration;

    use super::{Distribution, project_of_filename, validate};
    use windlass_dist::metadata::ParsedMetadata;
    use windlass_dist::read::METADATA_LIMIT;

    /// The project a file name gives, before the file is read: what the
    /// look-ups ahead of the checks ask for.
    #[test]
    fn projects_of_file_names() {
        let table: Vec<String> = [
            "Demo_Pkg-1.0-py3-none-any.whl",
            "demo.pkg-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl",
            "demo_pkg-1.0.tar.gz",
            "zope.interface-6.0.tar.gz",
            "demo-pkg-1.0.tar.gz",
            "demo-1.0.zip",
            "notes.txt",
            "-1.0.tar.gz",
            "demo-1.0-py3.whl",
        ]
        .into_iter()
        .map(|name| format!("{name}: {:?}", project_of_filename(name)))
        .collect();
        insta::assert_snapshot!(table.join("\n"), @r#"
        Demo_Pkg-1.0-py3-none-any.whl: Some("demo-pkg")
        demo.pkg-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl: Some("demo-pkg")
        demo_pkg-1.0.tar.gz: Some("demo-pkg")
        zope.interface-6.0.tar.gz: Some("zope-interface")
        demo-pkg-1.0.tar.gz: Some("demo-pkg")
        demo-1.0.zip: None
        notes.txt: None
        -1.0.tar.gz: None
        demo-1.0-py3.whl: None
        "#);
    }

    fn wheel(path: &Path, metadata: &[u8]) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("demo/__init__.py", options).unwrap();
        zip.start_file("demo-1.0.dist-info/METADATA", options)
            .unwrap();
        zip.write_all(metadata).unwrap();
        zip.finish().unwrap();
    }

    /// Only a regular file is inspected; metadata past the limit is an
    /// error, never cut short and accepted.
    #[test]
    fn inspect_refuses_special_files_and_huge_metadata() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let header = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n";
        wheel(&dir.join("demo-1.0-py3-none-any.whl"), header);
        let mut huge = header.to_vec();
        huge.resize(usize::try_from(METADATA_LIMIT).unwrap() + 1, b'x');
        std::fs::create_dir(dir.join("huge")).unwrap();
        wheel(&dir.join("huge/demo-1.0-py3-none-any.whl"), &huge);
        std::fs::create_dir(dir.join("fifo")).unwrap();
        windlass_testkit::mkfifo(&dir.join("fifo/demo-1.0-py3-none-any.whl"));
        std::fs::create_dir(dir.join("zero")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero/demo-1.0-py3-none-any.whl"))
            .unwrap();
        std::fs::create_dir_all(dir.join("dir/demo-1.0-py3-none-any.whl")).unwrap();
        let mut table = String::new();
        for case in ["", "huge/", "fifo/", "zero/", "dir/"] {
            let path = dir.join(format!("{case}demo-1.0-py3-none-any.whl"));
            let result = windlass_testkit::within(Duration::from_secs(20), case, move || {
                Distribution::inspect(&path)
            });
            let shown = match result {
                Ok(d) => format!("ok: {} {} ({} bytes)", d.name, d.version, d.size),
                Err(e) => format!("error: {e}; hint: {}", e.hint().unwrap_or_default()),
            };
            let shown = shown.replace(&dir.display().to_string(), "[TMP]");
            writeln!(table, "{case:<6}{shown}").unwrap();
        }
        insta::assert_snapshot!(table);
    }

    fn check(metadata: &str, project: &str, version: &str) -> String {
        match validate(&ParsedMetadata::parse(metadata), project, version) {
            Ok((n, v)) => format!("ok {n} {v}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn validation_table() {
        let cases = [
            (
                "Metadata-Version: 2.4\nName: Foo.Bar\nVersion: 1.0\n",
                "foo_bar",
                "1.0",
            ),
            (
                "Metadata-Version: 2.1\nName: foo\nVersion: 1.0.0\n",
                "foo",
                "1.0",
            ),
            (
                "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n",
                "foo",
                "1.0.1",
            ),
            (
                "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n",
                "bar",
                "1.0",
            ),
            ("Metadata-Version: 2.1\nVersion: 1.0\n", "foo", "1.0"),
            ("Name: foo\nVersion: 1.0\n", "foo", "1.0"),
            (
                "Metadata-Version: 3.0\nName: foo\nVersion: 1.0\n",
                "foo",
                "1.0",
            ),
            (
                "Metadata-Version: 2.1\nName: foo\nVersion: one\n",
                "foo",
                "one",
            ),
            (
                "Metadata-Version: 2.1\nName: -foo\nVersion: 1\n",
                "-foo",
                "1",
            ),
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|(m, p, v)| format!("{p} {v}: {}", check(m, p, v)))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }
}
