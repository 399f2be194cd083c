//! Publishing into a static PEP 503 index directory: a repository URL
//! with the `file:` scheme names the simple root (`file:///ABS/DIR/simple/`),
//! and `pip install --index-url` of the same URL installs from it, with no
//! server.
//!
//! The layout is the simple API as files: `simple/index.html` lists every
//! project, `simple/<normalized>/index.html` its files, which lie beside
//! it, each wheel with its core metadata as `FILE.metadata` (PEP 658/714).
//! Pages are rendered from what the directory holds, sorted, so a run that
//! adds nothing changes nothing.
//!
//! A publish holds one `flock` on `.windlass-index.lock` beside the simple
//! root from the first look until the last page, so two publishers never
//! interleave. Every file that would conflict is found before anything is
//! written (a different file under the same name is the conflict a server's
//! "file exists" gives); each file is then written to a temporary name in
//! its project directory, synced and renamed into place, and the pages are
//! replaced by rename after the files. Anything but a directory or a
//! regular file where the index expects one (a symlink, a fifo) is refused.
//! A local index takes no credentials.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use url::Url;
use windlass_dist::name::normalize;
use windlass_output::{Diagnostic, ExitStatus};

use crate::dist::Distribution;
use crate::report::{FileError, FileReport, FileStatus, PublishReport};

/// The lock file every publisher of one index takes, beside the simple
/// root.
pub const LOCK_FILE: &str = ".windlass-index.lock";

/// What the report names as the credentials of a local index.
pub const CREDENTIALS: &str = "none (local index)";

/// A static index directory, named by a `file:` URL.
#[derive(Debug, Clone)]
pub struct LocalIndex {
    /// The simple root as given (with a trailing `/`).
    pub url: Url,
    /// The simple root's directory.
    pub root: PathBuf,
}

/// Why a local index cannot be published to.
#[derive(Debug, thiserror::Error)]
pub enum LocalIndexError {
    #[error("the local index url `{url}` does not name an absolute directory")]
    NotAPath { url: String },
    #[error("a local index takes no credentials, but {what} was given")]
    Credentials { what: String },
    #[error("cannot create the local index `{}`: its parent directory does not exist", root.display())]
    NoParent { root: PathBuf },
    #[error("`{}` in the local index is a {kind}, not a {expected}", path.display())]
    NotExpected {
        path: PathBuf,
        kind: windlass_fs::FileKind,
        expected: &'static str,
    },
    #[error("`{}` in the local index is a regular file, not a directory", path.display())]
    FileForDirectory { path: PathBuf },
    #[error("cannot {what} `{}`", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read `{}` in the local index", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: crate::dist::DistError,
    },
    #[error("`{}` changed while it was published (sha256 {found}, read before as {expected})", path.display())]
    Changed {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

impl Diagnostic for LocalIndexError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Io { .. } | Self::Changed { .. } => ExitStatus::Failure,
            _ => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::NotAPath { .. } => Some(
                "name the simple root as an absolute file url, e.g. `file:///srv/index/simple/`"
                    .to_owned(),
            ),
            Self::Credentials { .. } => Some(
                "drop the credentials: files are written to the directory, nothing is sent"
                    .to_owned(),
            ),
            Self::NoParent { .. } => {
                Some("create the parent directory first, or check the url".to_owned())
            }
            Self::NotExpected { .. } | Self::FileForDirectory { .. } => Some(
                "the index holds only directories and regular files: remove it, or publish to another directory"
                    .to_owned(),
            ),
            Self::Read { source, .. } => source.hint(),
            Self::Changed { .. } => Some("publish again once the file is written".to_owned()),
            Self::Io { .. } => None,
        }
    }
}

impl LocalIndex {
    /// The index a `file:` URL names; `None` for any other scheme.
    pub fn from_url(text: &str) -> Option<Result<Self, LocalIndexError>> {
        let trimmed = text.trim();
        let scheme = trimmed.split_once(':')?.0;
        if !scheme.eq_ignore_ascii_case("file") {
            return None;
        }
        let not_a_path = || LocalIndexError::NotAPath {
            url: trimmed.to_owned(),
        };
        Some((|| {
            let mut url = Url::parse(trimmed).map_err(|_| not_a_path())?;
            if url
                .host_str()
                .is_some_and(|h| !h.is_empty() && h != "localhost")
                || url.query().is_some()
                || url.fragment().is_some()
            {
                return Err(not_a_path());
            }
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            let root = url.to_file_path().map_err(|()| not_a_path())?;
            let root = windlass_output::clean_path(&root);
            if !root.is_absolute() || root.parent().is_none() {
                return Err(not_a_path());
            }
            Ok(Self { url, root })
        })())
    }

    /// The index whose simple root is the directory `root` (absolute; it
    /// need not exist yet).
    pub fn for_directory(root: &Path) -> Result<Self, LocalIndexError> {
        let not_a_path = || LocalIndexError::NotAPath {
            url: root.display().to_string(),
        };
        let root = windlass_output::clean_path(root);
        if root.parent().is_none() {
            return Err(not_a_path());
        }
        let url = Url::from_directory_path(&root).map_err(|()| not_a_path())?;
        Ok(Self { url, root })
    }

    /// The lock file of this index.
    pub fn lock_path(&self) -> PathBuf {
        self.root
            .parent()
            .map_or_else(|| self.root.join(LOCK_FILE), |p| p.join(LOCK_FILE))
    }

    /// The URL of a project's page.
    pub fn project_url(&self, normalized: &str) -> String {
        self.url
            .join(&format!("{normalized}/"))
            .map_or_else(|_| self.url.to_string(), |u| u.to_string())
    }
}

/// Publishes (or plans) `dists` into the index; blocking I/O from start to
/// end, run it on a blocking thread. The files were read and checked.
/// `waiting` is called when another publisher holds the index's lock,
/// before this one waits for it.
pub fn publish(
    index: &LocalIndex,
    dists: &[Distribution],
    dry_run: bool,
    waiting: impl FnOnce(),
) -> Result<PublishReport, LocalIndexError> {
    let target = index.url.to_string();
    let mut report = PublishReport {
        repository: target.clone(),
        upload_url: target.clone(),
        simple_url: target.clone(),
        credentials: CREDENTIALS.to_owned(),
        dry_run,
        uploaded: 0,
        skipped: 0,
        failed: 0,
        not_started: 0,
        interrupted: false,
        in_flight: 0,
        files: Vec::new(),
        credential_reference: None,
    };
    // The parent is the user's (it may be reached through a symlink, as
    // `/tmp` is on some systems); from the simple root down, the index is
    // ours and holds no symlink.
    let parent = index.root.parent().unwrap_or(&index.root);
    match std::fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(LocalIndexError::FileForDirectory {
                path: parent.to_owned(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(LocalIndexError::NoParent {
                root: index.root.clone(),
            });
        }
        Err(source) => return Err(io_error("look at", parent, source)),
    }
    // Held to the end: every look and write of this run is one step for
    // other publishers.
    let _lock = if dry_run {
        None
    } else {
        Some(lock(&index.lock_path(), waiting)?)
    };
    let root_exists = expect_dir(&index.root)?;
    let mut files = Vec::with_capacity(dists.len());
    let mut conflict = false;
    for dist in dists {
        let normalized = dist.normalized_name();
        let project = index.root.join(&normalized);
        let url = index.project_url(&normalized);
        let file = FileReport::new(dist, &target, &url);
        let existing = if root_exists && expect_dir(&project)? {
            existing_sha256(&project.join(&dist.filename))?
        } else {
            None
        };
        let file = match existing {
            Some(sha) if sha == dist.sha256 => file.with(
                if dry_run {
                    FileStatus::WouldSkip
                } else {
                    FileStatus::Skipped
                },
                "already in the index with the same sha256".to_owned(),
            ),
            Some(sha) => {
                conflict = true;
                file.conflict(sha)
            }
            None => file.with(
                if dry_run {
                    FileStatus::WouldUpload
                } else {
                    FileStatus::Uploaded
                },
                None,
            ),
        };
        files.push(file);
    }
    if conflict {
        // Nothing is written when any file conflicts.
        for file in &mut files {
            if file.status != FileStatus::Conflict {
                let mut refused = file.clone().with(FileStatus::NotStarted, None);
                // Not the index's failure: the conflict's exit status.
                refused.error = Some(FileError {
                    message: "not written: another file of this run conflicts with the index"
                        .to_owned(),
                    server_message: None,
                    http_status: None,
                    index_sha256: None,
                    hint: None,
                    exit_status: ExitStatus::Failure,
                });
                *file = refused;
            }
        }
    }
    if !dry_run && !conflict {
        write_all(index, dists, &mut files)?;
    }
    report.files = files;
    report.count();
    Ok(report)
}

/// Writes the new files, then the pages of the projects they belong to and
/// the root page.
fn write_all(
    index: &LocalIndex,
    dists: &[Distribution],
    files: &mut [FileReport],
) -> Result<(), LocalIndexError> {
    create_dir(&index.root)?;
    let mut touched = BTreeSet::new();
    for (dist, file) in dists.iter().zip(files.iter_mut()) {
        let project = index.root.join(dist.normalized_name());
        touched.insert(dist.normalized_name());
        if file.status != FileStatus::Uploaded {
            continue;
        }
        create_dir(&project)?;
        copy_into(&dist.path, &project, &dist.filename, &dist.sha256)?;
        file.attempts = 1;
    }
    for normalized in &touched {
        let project = index.root.join(normalized);
        let page = project_page(&project, normalized)?;
        replace(&project, "index.html", page.as_bytes())?;
    }
    let page = root_page(&index.root)?;
    replace(&index.root, "index.html", page.as_bytes())?;
    Ok(())
}

/// One file of a project page.
struct Entry {
    filename: String,
    sha256: String,
    requires_python: Option<String>,
    metadata_sha256: Option<String>,
}

/// The page of one project, from the files in its directory (each wheel's
/// `.metadata` written when missing).
fn project_page(project: &Path, normalized: &str) -> Result<String, LocalIndexError> {
    let mut entries = Vec::new();
    for name in list(project)? {
        if !is_dist_name(&name) {
            continue;
        }
        let path = project.join(&name);
        if !matches!(kind_of(&path)?, Kind::File) {
            continue;
        }
        let sha256 = existing_sha256(&path)?.unwrap_or_default();
        let metadata =
            windlass_dist::read::read_metadata(&path).map_err(|e| LocalIndexError::Read {
                path: path.clone(),
                source: crate::dist::DistError::from_metadata(e),
            })?;
        let requires_python = metadata
            .metadata
            .get("Requires-Python")
            .map(str::to_owned)
            .filter(|v| !v.trim().is_empty());
        let metadata_sha256 = if metadata.kind == windlass_dist::build::ArtifactKind::Wheel {
            let metadata_name = format!("{name}.metadata");
            let bytes = metadata.text.as_bytes();
            let wanted = hex::encode(Sha256::digest(bytes));
            if existing_sha256(&project.join(&metadata_name))?.as_deref() != Some(&wanted) {
                replace(project, &metadata_name, bytes)?;
            }
            Some(wanted)
        } else {
            None
        };
        entries.push(Entry {
            filename: name,
            sha256,
            requires_python,
            metadata_sha256,
        });
    }
    let mut page = head(&format!("Links for {normalized}"));
    for entry in &entries {
        let _ = write!(
            page,
            "    <a href=\"{}#sha256={}\"",
            escape(&entry.filename),
            entry.sha256
        );
        if let Some(requires) = &entry.requires_python {
            let _ = write!(page, " data-requires-python=\"{}\"", escape(requires));
        }
        if let Some(sha) = &entry.metadata_sha256 {
            let _ = write!(
                page,
                " data-dist-info-metadata=\"sha256={sha}\" data-core-metadata=\"sha256={sha}\""
            );
        }
        let _ = writeln!(page, ">{}</a><br>", escape(&entry.filename));
    }
    page.push_str(TAIL);
    Ok(page)
}

/// The root page: every project directory, sorted.
fn root_page(root: &Path) -> Result<String, LocalIndexError> {
    let mut page = head("Simple index");
    for name in list(root)? {
        if name.starts_with('.') || normalize(&name) != name {
            continue;
        }
        if !matches!(kind_of(&root.join(&name))?, Kind::Dir) {
            continue;
        }
        let _ = writeln!(
            page,
            "    <a href=\"{}/\">{}</a><br>",
            escape(&name),
            escape(&name)
        );
    }
    page.push_str(TAIL);
    Ok(page)
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n    <title>{0}</title>\n  </head>\n  <body>\n    <h1>{0}</h1>\n",
        escape(title)
    )
}

const TAIL: &str = "  </body>\n</html>\n";

/// HTML-escapes text for an attribute or element.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[allow(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "distribution file names are lowercase by specification"
)]
fn is_dist_name(name: &str) -> bool {
    name.ends_with(".whl") || name.ends_with(".tar.gz")
}

/// What a path is, without following a symlink.
enum Kind {
    Missing,
    Dir,
    File,
    Other(windlass_fs::FileKind),
}

fn kind_of(path: &Path) -> Result<Kind, LocalIndexError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let file_type = meta.file_type();
            Ok(if file_type.is_dir() {
                Kind::Dir
            } else {
                windlass_fs::FileKind::of(file_type).map_or(Kind::File, Kind::Other)
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Kind::Missing),
        Err(source) => Err(io_error("look at", path, source)),
    }
}

fn not_a_directory(path: &Path, kind: windlass_fs::FileKind) -> LocalIndexError {
    LocalIndexError::NotExpected {
        path: path.to_owned(),
        kind,
        expected: "directory",
    }
}

/// Whether a directory of the index exists; anything else there is an
/// error.
fn expect_dir(path: &Path) -> Result<bool, LocalIndexError> {
    match kind_of(path)? {
        Kind::Missing => Ok(false),
        Kind::Dir => Ok(true),
        Kind::File => Err(LocalIndexError::FileForDirectory {
            path: path.to_owned(),
        }),
        Kind::Other(kind) => Err(not_a_directory(path, kind)),
    }
}

fn create_dir(path: &Path) -> Result<(), LocalIndexError> {
    if expect_dir(path)? {
        return Ok(());
    }
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && expect_dir(path)? => Ok(()),
        Err(source) => Err(io_error("create", path, source)),
    }
}

/// The sha256 of a regular file of the index, `None` when missing.
fn existing_sha256(path: &Path) -> Result<Option<String>, LocalIndexError> {
    match kind_of(path)? {
        Kind::Missing => return Ok(None),
        Kind::File => {}
        Kind::Dir => {
            return Err(LocalIndexError::NotExpected {
                path: path.to_owned(),
                kind: windlass_fs::FileKind::Directory,
                expected: "regular file",
            });
        }
        Kind::Other(kind) => {
            return Err(LocalIndexError::NotExpected {
                path: path.to_owned(),
                kind,
                expected: "regular file",
            });
        }
    }
    let file = windlass_fs::open(path)
        .map_err(|e| io_error("read", path, io::Error::other(e)))?
        .into_file();
    let (sha, _) = hash(file, None::<&mut File>).map_err(|e| io_error("read", path, e))?;
    Ok(Some(sha))
}

/// Hashes a stream, copying it into `out` when given.
fn hash(mut input: File, mut out: Option<&mut File>) -> io::Result<(String, u64)> {
    let mut sha = Sha256::new();
    let mut buf = vec![0_u8; 1 << 20];
    let mut size = 0_u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        if let Some(out) = out.as_deref_mut() {
            out.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    Ok((hex::encode(sha.finalize()), size))
}

/// Copies a distribution into its project directory under a temporary
/// name, checks it is the file that was read, syncs and renames it.
fn copy_into(
    source: &Path,
    dir: &Path,
    filename: &str,
    sha256: &str,
) -> Result<(), LocalIndexError> {
    let input = windlass_fs::open(source)
        .map_err(|e| io_error("read", source, io::Error::other(e)))?
        .into_file();
    let mut temp = temp_in(dir)?;
    let (found, _) =
        hash(input, Some(temp.as_file_mut())).map_err(|e| io_error("copy", source, e))?;
    if found != sha256 {
        return Err(LocalIndexError::Changed {
            path: source.to_owned(),
            expected: sha256.to_owned(),
            found,
        });
    }
    persist(temp, dir, filename)
}

/// Replaces a file of the index by rename, unless it holds these bytes.
fn replace(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LocalIndexError> {
    let path = dir.join(name);
    if matches!(kind_of(&path)?, Kind::File)
        && windlass_fs::read(&path, bytes.len() as u64 + 1).is_ok_and(|old| old == bytes)
    {
        return Ok(());
    }
    if let Kind::Other(kind) = kind_of(&path)? {
        return Err(LocalIndexError::NotExpected {
            path,
            kind,
            expected: "regular file",
        });
    }
    let mut temp = temp_in(dir)?;
    temp.as_file_mut()
        .write_all(bytes)
        .map_err(|e| io_error("write", &path, e))?;
    persist(temp, dir, name)
}

fn temp_in(dir: &Path) -> Result<tempfile::NamedTempFile, LocalIndexError> {
    tempfile::Builder::new()
        .prefix(".windlass-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io_error("write into", dir, e))
}

/// Syncs a temporary file, makes it readable by all (as any published
/// file) and renames it into place; then syncs the directory.
fn persist(temp: tempfile::NamedTempFile, dir: &Path, name: &str) -> Result<(), LocalIndexError> {
    let path = dir.join(name);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| io_error("write", &path, e))?;
    }
    temp.as_file()
        .sync_all()
        .map_err(|e| io_error("write", &path, e))?;
    temp.persist(&path)
        .map_err(|e| io_error("write", &path, e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync", dir, e))
}

/// Takes the index's lock, waiting for another publisher to finish
/// (`waiting` is called first when one holds it).
fn lock(path: &Path, waiting: impl FnOnce()) -> Result<File, LocalIndexError> {
    if let Kind::Other(kind) = kind_of(path)? {
        return Err(LocalIndexError::NotExpected {
            path: path.to_owned(),
            kind,
            expected: "regular file",
        });
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_error("open the lock", path, e))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => return Ok(file),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => waiting(),
        Err(e) => return Err(io_error("lock", path, e.into())),
    }
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| io_error("lock", path, e.into()))?;
    Ok(file)
}

/// The names in a directory, sorted.
fn list(dir: &Path) -> Result<Vec<String>, LocalIndexError> {
    let mut names = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| io_error("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list", dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn io_error(what: &'static str, path: &Path, source: io::Error) -> LocalIndexError {
    LocalIndexError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::{LocalIndex, escape};

    #[test]
    fn urls() {
        let table: Vec<String> = [
            "file:///srv/index/simple/",
            "file:///srv/index/simple",
            "FILE:///srv/x/",
            "file://localhost/srv/x/",
            "file://host.example/srv/x/",
            "file:///",
            "file:relative/x",
            "https://example.org/simple/",
        ]
        .into_iter()
        .map(|text| match LocalIndex::from_url(text) {
            None => format!("{text}: not local"),
            Some(Ok(index)) => format!("{text}: {} at {}", index.url, index.root.display()),
            Some(Err(e)) => format!("{text}: error: {e}"),
        })
        .collect();
        insta::assert_snapshot!(table.join("\n"));
    }

    #[test]
    fn for_a_directory() {
        let index =
            LocalIndex::for_directory(std::path::Path::new("/srv/my index/simple")).unwrap();
        assert_eq!(index.url.as_str(), "file:///srv/my%20index/simple/");
        let again = LocalIndex::from_url(index.url.as_str()).unwrap().unwrap();
        assert_eq!(again.root, index.root);
        assert!(LocalIndex::for_directory(std::path::Path::new("relative/simple")).is_err());
        assert!(LocalIndex::for_directory(std::path::Path::new("/")).is_err());
    }

    #[test]
    fn escapes() {
        assert_eq!(
            escape(">=3.9,<4 & \"x\""),
            "&gt;=3.9,&lt;4 &amp; &quot;x&quot;"
        );
    }
}
