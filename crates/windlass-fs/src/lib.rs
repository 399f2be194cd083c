//! Reading files that a user or the environment names: secret and token
//! files, configuration, project inputs, distributions.
//!
//! A path from outside may name anything: a fifo that blocks a read forever,
//! `/dev/zero` that never ends, a socket, a directory, or a file far larger
//! than anything sensible. Every open here is non-blocking and close-on-exec
//! (and never makes a terminal our controlling terminal); the kind of file is
//! taken from the opened handle (`fstat`, so nothing can swap the file
//! between the check and the read), and anything but a regular file is
//! refused with an error naming the path and what it is. Reads into memory
//! take a limit and fail, naming the path and the limit, one byte past it.
//!
//! ```no_run
//! use std::path::Path;
//!
//! /// `windlass.toml` is at most 4 MiB.
//! const CONFIG_LIMIT: u64 = 4 * windlass_fs::MIB;
//!
//! let text = windlass_fs::read_to_string(Path::new("windlass.toml"), CONFIG_LIMIT)?;
//! # Ok::<(), windlass_fs::ReadError>(())
//! ```
//!
//! This crate never writes or creates a file, never follows a symlink the
//! operating system would not follow on open, never prints, and never
//! decides what a failure means to the user: callers wrap [`ReadError`] into
//! their own errors, which carry the exit status (an input error) and may
//! reuse [`ReadError::hint`].

use std::fmt;
use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// One kibibyte, for limits.
pub const KIB: u64 = 1024;
/// One mebibyte, for limits.
pub const MIB: u64 = 1024 * KIB;
/// One gibibyte, for limits.
pub const GIB: u64 = 1024 * MIB;

/// Reads a whole regular file, at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    RegularFile::open(path)?.read_bytes(limit)
}

/// Reads a whole regular file as UTF-8 text, at most `limit` bytes.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    RegularFile::open(path)?.read_string(limit)
}

/// Opens a regular file for streaming (hashing or uploading a large
/// distribution): the same refusals as [`read`], without a size limit.
pub fn open(path: &Path) -> Result<RegularFile, ReadError> {
    RegularFile::open(path)
}

/// Opens a file named from outside for appending (creating it if missing),
/// as CI runners hand out `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`:
/// non-blocking, so a fifo without a reader fails at once instead of
/// blocking, and only a regular file is accepted.
pub fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC);
    }
    let file = options.open(path)?;
    match FileKind::of(file.metadata()?.file_type()) {
        None => Ok(file),
        Some(kind) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is a {kind}, not a regular file"),
        )),
    }
}

/// The kind of a file that is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    Directory,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Symlink,
    /// Anything else the platform knows.
    Other,
}

impl FileKind {
    /// What a file type is, or `None` for a regular file.
    pub fn of(file_type: FileType) -> Option<Self> {
        if file_type.is_file() {
            return None;
        }
        if file_type.is_dir() {
            return Some(Self::Directory);
        }
        if file_type.is_symlink() {
            return Some(Self::Symlink);
        }
        Some(special(file_type))
    }

    /// How messages name it: `fifo`, `character device`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Directory => "directory",
            Self::Fifo => "fifo",
            Self::Socket => "socket",
            Self::CharDevice => "character device",
            Self::BlockDevice => "block device",
            Self::Symlink => "symbolic link",
            Self::Other => "special file",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(unix)]
fn special(file_type: FileType) -> FileKind {
    use std::os::unix::fs::FileTypeExt as _;
    if file_type.is_fifo() {
        FileKind::Fifo
    } else if file_type.is_socket() {
        FileKind::Socket
    } else if file_type.is_char_device() {
        FileKind::CharDevice
    } else if file_type.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::Other
    }
}

#[cfg(not(unix))]
fn special(_: FileType) -> FileKind {
    FileKind::Other
}

/// A byte count as messages show it: `1 MiB`, `1536 bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
            if self.0 >= unit && self.0.is_multiple_of(unit) {
                return write!(f, "{} {name}", self.0 / unit);
            }
        }
        match self.0 {
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// Why a file could not be read. Every variant names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file does not exist, or cannot be opened or examined.
    #[error("cannot open `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A fifo, socket, device or directory.
    #[error("`{}` is a {kind}, not a regular file", path.display())]
    NotRegular { path: PathBuf, kind: FileKind },
    /// More bytes than the limit.
    #[error("`{}` is larger than {}", path.display(), ByteSize(*limit))]
    TooLarge { path: PathBuf, limit: u64 },
    /// Reading failed after the open.
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// [`read_to_string`] found bytes that are not UTF-8.
    #[error("`{}` is not valid UTF-8", path.display())]
    NotUnicode { path: PathBuf },
}

impl ReadError {
    /// The file at fault.
    pub fn path(&self) -> &Path {
        match self {
            Self::Open { path, .. }
            | Self::NotRegular { path, .. }
            | Self::TooLarge { path, .. }
            | Self::Read { path, .. }
            | Self::NotUnicode { path } => path,
        }
    }

    /// Whether the file does not exist (callers often treat that apart:
    /// an optional file, a different message).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Open { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// A generic suggestion; callers that know the file's purpose may say
    /// better.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Open { source, .. } if source.kind() == io::ErrorKind::NotFound => None,
            Self::Open { .. } | Self::Read { .. } => Some("check the file's owner and mode"),
            Self::NotRegular { .. } => {
                Some("name a regular file: a fifo, socket, device or directory is never read")
            }
            Self::TooLarge { .. } => Some("check that the path names the intended file"),
            Self::NotUnicode { .. } => Some("save the file as UTF-8 text"),
        }
    }
}

/// A file named by the user or the environment that cannot be read is the
/// user's to fix: exit 2.
impl windlass_diagnostic::Diagnostic for ReadError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        windlass_diagnostic::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        ReadError::hint(self).map(str::to_owned)
    }
}

/// An open regular file, checked on its handle. Reads through [`Read`] are
/// not limited: use it to stream, [`RegularFile::read_bytes`] to load.
pub struct RegularFile {
    file: File,
    path: PathBuf,
    metadata: Metadata,
}

impl RegularFile {
    /// Opens `path` (following symlinks, as `open(2)` does) if it is a
    /// regular file.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let open_err = |source| ReadError::Open {
            path: path.to_owned(),
            source,
        };
        // Refuse what is plainly not a file before opening it: opening a
        // device can have effects of its own (a tape rewinds).
        let before = std::fs::metadata(path).map_err(open_err)?;
        refuse_special(path, &before)?;
        let file = options().open(path).map_err(open_err)?;
        // The check that counts: on the handle we will read.
        let metadata = file.metadata().map_err(open_err)?;
        refuse_special(path, &metadata)?;
        Ok(Self {
            file,
            path: path.to_owned(),
            metadata,
        })
    }

    /// The path it was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The metadata of the opened handle.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The size when it was opened.
    pub fn len(&self) -> u64 {
        self.metadata.len()
    }

    /// Whether it was empty when it was opened.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the rest of the file, at most `limit` bytes.
    pub fn read_bytes(self, limit: u64) -> Result<Vec<u8>, ReadError> {
        let too_large = || ReadError::TooLarge {
            path: self.path.clone(),
            limit,
        };
        if self.metadata.len() > limit {
            return Err(too_large());
        }
        let capacity = usize::try_from(self.metadata.len()).unwrap_or(0);
        let mut bytes = Vec::with_capacity(capacity);
        // One byte past the limit tells a file that grew since the `fstat`
        // (or a file whose size the kernel does not know) from one that fits.
        (&self.file)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|source| ReadError::Read {
                path: self.path.clone(),
                source,
            })?;
        if bytes.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(bytes)
    }

    /// Reads the rest of the file as UTF-8 text, at most `limit` bytes.
    pub fn read_string(self, limit: u64) -> Result<String, ReadError> {
        let path = self.path.clone();
        String::from_utf8(self.read_bytes(limit)?).map_err(|_| ReadError::NotUnicode { path })
    }

    /// The file handle, for APIs that want a [`File`] (a tokio file, a zip
    /// reader).
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Read for RegularFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl fmt::Debug for RegularFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegularFile")
            .field("path", &self.path)
            .field("len", &self.metadata.len())
            .finish_non_exhaustive()
    }
}

fn refuse_special(path: &Path, metadata: &Metadata) -> Result<(), ReadError> {
    match FileKind::of(metadata.file_type()) {
        None => Ok(()),
        Some(kind) => Err(ReadError::NotRegular {
            path: path.to_owned(),
            kind,
        }),
    }
}

/// Read-only; `O_NONBLOCK` so that opening a fifo returns at once instead of
/// waiting for a writer (reads of a regular file ignore the flag);
/// `O_NOCTTY` so that a terminal never becomes ours. The standard library
/// adds `O_CLOEXEC` to every open.
fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC);
    }
    options
}

#[cfg(test)]
mod tests;
