//! Reproducible layer tarballs.
//!
//! A [`LayerBuilder`] collects what a layer holds (files from disk or from
//! memory, directories, symlinks, whole staging trees) under image paths,
//! then writes one tar stream: entries sorted by path, every parent
//! directory present, owner `0:0` unless asked otherwise, no user or group
//! names, one modification time for everything (`SOURCE_DATE_EPOCH` or a
//! fixed epoch), modes normalised (a file is `0755` when its owner may run
//! it, else `0644`; directories `0755`) so the umask of the checkout never
//! changes a digest. The tar stream is hashed (the `diff_id`) while it is
//! compressed (gzip or zstd) into a blob of the layout, which names it by
//! its compressed digest. gzip runs on every core ([`super::gzip`]).
//!
//! A tree walk takes only regular files, directories and symlinks that
//! resolve inside the tree; a symlink leaving it, a dangling one, a fifo, a
//! socket or a device is an error naming the path.

use std::collections::BTreeMap;
use std::io::{self, Read as _, Write};
use std::path::{Path, PathBuf};

use super::gzip::ParallelGzip;
use crate::digest::{Digest, HashingWriter};
use crate::layout::{BlobWriter, Layout, LayoutError};

/// `application/vnd.oci.image.layer.v1.tar+gzip`.
pub const MEDIA_TYPE_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// `application/vnd.oci.image.layer.v1.tar+zstd`.
pub const MEDIA_TYPE_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// The default mode of directories, and of files their owner may run.
const MODE_EXEC: u32 = 0o755;
/// The default mode of other files.
const MODE_FILE: u32 = 0o644;

/// How a layer is compressed.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip (every runtime reads it)
    #[default]
    Gzip,
    /// zstd (smaller and faster; containerd >= 1.5, podman, CRI-O)
    Zstd,
}

impl Compression {
    /// The layer media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Gzip => MEDIA_TYPE_GZIP,
            Self::Zstd => MEDIA_TYPE_ZSTD,
        }
    }
}

/// What every entry of a layer shares.
#[derive(Debug, Clone, Copy)]
pub struct LayerOptions {
    /// Seconds since the epoch for every entry.
    pub mtime: u64,
    pub compression: Compression,
}

/// Owner and mode of an entry. `mode: None` keeps the normalised mode of
/// the source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    pub uid: u64,
    pub gid: u64,
    pub mode: Option<u32>,
}

/// A written layer blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// The compressed blob's digest (the manifest's descriptor).
    pub digest: Digest,
    /// The compressed size.
    pub size: u64,
    /// The digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    pub media_type: &'static str,
    /// How many entries the tar holds.
    pub entries: usize,
}

/// Why a layer cannot be made. Every variant names the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("cannot read `{}`", path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}` is a symlink to `{}`, outside `{}`", link.display(), target.display(), root.display())]
    LinkOutside {
        link: PathBuf,
        target: PathBuf,
        root: PathBuf,
    },
    #[error("`{}` is a symlink that resolves to nothing", path.display())]
    Dangling { path: PathBuf },
    #[error("`{}` is a {kind}, not a regular file, directory or symlink", path.display())]
    SpecialFile {
        path: PathBuf,
        kind: windlass_fs::FileKind,
    },
    #[error(transparent)]
    Read(#[from] windlass_fs::ReadError),
    #[error("`{path}` is not a path inside the image: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("`{path}` is a file in the layer and cannot also hold `{child}`")]
    NotADirectory { path: String, child: String },
    #[error("cannot write the layer")]
    Write(#[source] io::Error),
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

impl windlass_output::Diagnostic for LayerError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        // The inputs and the output layout are the user's files.
        windlass_output::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::LinkOutside { .. } | Self::Dangling { .. } => Some(
                "an image takes only what is inside the build context: copy the target in, or \
                 remove the link"
                    .into(),
            ),
            Self::SpecialFile { .. } => {
                Some("remove it, or list it in `.containerignore` / `.dockerignore`".into())
            }
            Self::BadPath { .. } => {
                Some("give an absolute path without `..`, such as `/app/main.py`".into())
            }
            Self::Read(e) => e.hint().map(str::to_owned),
            _ => None,
        }
    }
}

/// Normalises an image path: absolute, `/`-separated, no `.` or `..`, no
/// empty parts; returned without the leading `/` (as tar stores it).
/// `/` itself is the empty string.
pub fn image_path(path: &str) -> Result<String, LayerError> {
    let bad = |why| LayerError::BadPath {
        path: windlass_output::escape_controls(path).into_owned(),
        why,
    };
    if path.contains('\0') {
        return Err(bad("it holds a NUL byte"));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(bad("`..` is not allowed")),
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

#[derive(Debug, Clone)]
enum Node {
    Dir(Attrs),
    File {
        source: Source,
        attrs: Attrs,
        executable: bool,
    },
    Symlink {
        target: String,
        attrs: Attrs,
    },
}

#[derive(Debug, Clone)]
enum Source {
    Disk(PathBuf),
    Bytes(std::sync::Arc<[u8]>),
}

/// Collects a layer's entries; [`LayerBuilder::write`] makes the blob.
#[derive(Debug, Clone)]
pub struct LayerBuilder {
    options: LayerOptions,
    nodes: BTreeMap<String, Node>,
}

impl LayerBuilder {
    pub fn new(options: LayerOptions) -> Self {
        Self {
            options,
            nodes: BTreeMap::new(),
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds a file with the given bytes at `dest` (mode `0644` unless
    /// `attrs.mode`).
    pub fn add_bytes(
        &mut self,
        dest: &str,
        bytes: impl Into<Vec<u8>>,
        attrs: Attrs,
    ) -> Result<(), LayerError> {
        let bytes: Vec<u8> = bytes.into();
        self.insert(
            dest,
            Node::File {
                source: Source::Bytes(bytes.into()),
                attrs,
                executable: false,
            },
        )
    }

    /// Adds the regular file `src` at `dest` (read when the layer is
    /// written; a fifo, socket or device is refused now).
    pub fn add_file(&mut self, dest: &str, src: &Path, attrs: Attrs) -> Result<(), LayerError> {
        let meta = std::fs::metadata(src).map_err(|source| LayerError::Walk {
            path: src.to_owned(),
            source,
        })?;
        if let Some(kind) = windlass_fs::FileKind::of(meta.file_type()) {
            return Err(LayerError::SpecialFile {
                path: src.to_owned(),
                kind,
            });
        }
        self.insert(
            dest,
            Node::File {
                source: Source::Disk(src.to_owned()),
                attrs,
                executable: is_executable(&meta),
            },
        )
    }

    /// Adds a directory at `dest`.
    pub fn add_dir(&mut self, dest: &str, attrs: Attrs) -> Result<(), LayerError> {
        self.insert(dest, Node::Dir(attrs))
    }

    /// Adds a symlink at `dest` pointing at `target` (kept as written).
    pub fn add_symlink(
        &mut self,
        dest: &str,
        target: &str,
        attrs: Attrs,
    ) -> Result<(), LayerError> {
        self.insert(
            dest,
            Node::Symlink {
                target: target.to_owned(),
                attrs,
            },
        )
    }

    /// Adds everything under the directory `src` below `dest` (the tree's
    /// root becomes `dest`). `keep(relative path, is_dir)` filters (an
    /// ignore file); a directory it drops is not entered. Symlinks that
    /// resolve inside `src` are kept as symlinks (an absolute target is
    /// rewritten to the image path it lands on); anything else that is not
    /// a regular file or directory is an error.
    pub fn add_tree(
        &mut self,
        src: &Path,
        dest: &str,
        attrs: Attrs,
        keep: &dyn Fn(&Path, bool) -> bool,
    ) -> Result<(), LayerError> {
        let real_root = std::fs::canonicalize(src).map_err(|source| LayerError::Walk {
            path: src.to_owned(),
            source,
        })?;
        let dest = image_path(dest)?;
        self.insert(&dest, Node::Dir(attrs))?;
        self.walk(src, &real_root, Path::new(""), &dest, attrs, keep)
    }

    fn walk(
        &mut self,
        root: &Path,
        real_root: &Path,
        rel: &Path,
        dest: &str,
        attrs: Attrs,
        keep: &dyn Fn(&Path, bool) -> bool,
    ) -> Result<(), LayerError> {
        let dir = root.join(rel);
        let walk_err = |path: &Path| {
            let path = path.to_owned();
            move |source| LayerError::Walk { path, source }
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(walk_err(&dir))? {
            names.push(entry.map_err(walk_err(&dir))?.file_name());
        }
        names.sort();
        for name in names {
            let rel = rel.join(&name);
            let path = root.join(&rel);
            let meta = std::fs::symlink_metadata(&path).map_err(walk_err(&path))?;
            let file_type = meta.file_type();
            if !keep(&rel, file_type.is_dir()) {
                continue;
            }
            let Some(name) = name.to_str() else {
                return Err(LayerError::BadPath {
                    path: path.to_string_lossy().into_owned(),
                    why: "the name is not UTF-8",
                });
            };
            let target = join(dest, name);
            if file_type.is_dir() {
                self.insert(&target, Node::Dir(attrs))?;
                self.walk(root, real_root, &rel, &target, attrs, keep)?;
            } else if file_type.is_file() {
                self.insert(
                    &target,
                    Node::File {
                        source: Source::Disk(path),
                        attrs,
                        executable: is_executable(&meta),
                    },
                )?;
            } else if file_type.is_symlink() {
                let link = std::fs::read_link(&path).map_err(walk_err(&path))?;
                let resolved = confine(&path, real_root, &rel)?;
                let link_target = if link.is_absolute() {
                    // Where the target lands in the image.
                    let inside = resolved.strip_prefix(real_root).unwrap_or(&resolved);
                    format!(
                        "/{}",
                        join(dest_root(dest, &rel), &inside.to_string_lossy())
                    )
                } else {
                    link.to_string_lossy().into_owned()
                };
                self.insert(
                    &target,
                    Node::Symlink {
                        target: link_target,
                        attrs,
                    },
                )?;
            } else {
                return Err(LayerError::SpecialFile {
                    path,
                    kind: windlass_fs::FileKind::of(file_type)
                        .unwrap_or(windlass_fs::FileKind::Other),
                });
            }
        }
        Ok(())
    }

    fn insert(&mut self, dest: &str, node: Node) -> Result<(), LayerError> {
        let path = image_path(dest)?;
        if path.is_empty() {
            // The root directory itself is never an entry.
            return match node {
                Node::Dir(_) => Ok(()),
                _ => Err(LayerError::BadPath {
                    path: dest.to_owned(),
                    why: "`/` is a directory",
                }),
            };
        }
        // Every parent is a directory: made as `0755` root-owned unless
        // added already.
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let parent = &path[..end + i];
            match self.nodes.get(parent) {
                None => {
                    self.nodes
                        .insert(parent.to_owned(), Node::Dir(Attrs::default()));
                }
                Some(Node::Dir(_)) => {}
                Some(_) => {
                    return Err(LayerError::NotADirectory {
                        path: format!("/{parent}"),
                        child: format!("/{path}"),
                    });
                }
            }
            end += i + 1;
        }
        self.nodes.insert(path, node);
        Ok(())
    }

    /// Writes the layer as a blob of `layout`.
    pub fn write(&self, layout: &Layout) -> Result<LayerBlob, LayerError> {
        let blob = layout.blob_writer()?;
        let encoder = Encoder::new(self.options.compression, blob).map_err(LayerError::Write)?;
        let mut tar = tar::Builder::new(HashingWriter::new(encoder));
        tar.mode(tar::HeaderMode::Deterministic);
        for (path, node) in &self.nodes {
            self.append(&mut tar, path, node)?;
        }
        let hashing = tar.into_inner().map_err(LayerError::Write)?;
        let (diff_id, _, encoder) = hashing.finish();
        let blob = encoder.finish().map_err(LayerError::Write)?;
        let (digest, size) = blob.commit()?;
        Ok(LayerBlob {
            digest,
            size,
            diff_id,
            media_type: self.options.compression.media_type(),
            entries: self.nodes.len(),
        })
    }

    fn append<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        path: &str,
        node: &Node,
    ) -> Result<(), LayerError> {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(self.options.mtime);
        let set_owner = |header: &mut tar::Header, attrs: &Attrs| -> io::Result<()> {
            header.set_uid(attrs.uid);
            header.set_gid(attrs.gid);
            header.set_username("")?;
            header.set_groupname("")
        };
        match node {
            Node::Dir(attrs) => {
                set_owner(&mut header, attrs).map_err(LayerError::Write)?;
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(attrs.mode.unwrap_or(MODE_EXEC));
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), io::empty())
                    .map_err(LayerError::Write)
            }
            Node::Symlink { target, attrs } => {
                set_owner(&mut header, attrs).map_err(LayerError::Write)?;
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, path, target)
                    .map_err(LayerError::Write)
            }
            Node::File {
                source,
                attrs,
                executable,
            } => {
                set_owner(&mut header, attrs).map_err(LayerError::Write)?;
                header.set_entry_type(tar::EntryType::Regular);
                let mode = attrs
                    .mode
                    .unwrap_or(if *executable { MODE_EXEC } else { MODE_FILE });
                header.set_mode(mode);
                match source {
                    Source::Bytes(bytes) => {
                        header.set_size(bytes.len() as u64);
                        tar.append_data(&mut header, path, &bytes[..])
                            .map_err(LayerError::Write)
                    }
                    Source::Disk(src) => {
                        let file = windlass_fs::open(src)?;
                        let len = file.len();
                        header.set_size(len);
                        // Exactly the size in the header, even if the file
                        // grew since.
                        tar.append_data(&mut header, path, file.take(len))
                            .map_err(LayerError::Write)
                    }
                }
            }
        }
    }
}

/// The image directory a tree's relative path `rel` was copied from:
/// `dest` minus `rel`'s parent parts.
fn dest_root<'a>(dest: &'a str, rel: &Path) -> &'a str {
    let depth = rel.components().count().saturating_sub(1);
    let mut root = dest;
    for _ in 0..depth {
        root = root.rsplit_once('/').map_or("", |(head, _)| head);
    }
    root
}

fn join(dir: &str, name: &str) -> String {
    let name = name.trim_start_matches('/');
    if dir.is_empty() {
        name.to_owned()
    } else if name.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Where the symlink `path` (at `rel` in the tree) resolves, refused when
/// outside `real_root` or dangling.
fn confine(path: &Path, real_root: &Path, rel: &Path) -> Result<PathBuf, LayerError> {
    let resolved = std::fs::canonicalize(path).map_err(|_| LayerError::Dangling {
        path: rel.to_owned(),
    })?;
    if resolved.starts_with(real_root) {
        Ok(resolved)
    } else {
        Err(LayerError::LinkOutside {
            link: rel.to_owned(),
            target: resolved,
            root: real_root.to_owned(),
        })
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// The compressor between the tar stream and the blob.
enum Encoder {
    Gzip(ParallelGzip<BlobWriter>),
    Zstd(zstd::Encoder<'static, BlobWriter>),
}

impl Encoder {
    fn new(compression: Compression, blob: BlobWriter) -> io::Result<Self> {
        Ok(match compression {
            // Members of fixed size on every core; the same bytes on every
            // host.
            Compression::Gzip => Self::Gzip(ParallelGzip::new(blob)),
            Compression::Zstd => {
                let mut encoder = zstd::Encoder::new(blob, 3)?;
                encoder.include_checksum(true)?;
                Self::Zstd(encoder)
            }
        })
    }

    fn finish(self) -> io::Result<BlobWriter> {
        match self {
            Self::Gzip(e) => e.finish(),
            Self::Zstd(e) => e.finish(),
        }
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Gzip(e) => e.write(buf),
            Self::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Gzip(e) => e.flush(),
            Self::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::io::Read as _;
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    use super::*;

    fn options(compression: Compression) -> LayerOptions {
        LayerOptions {
            mtime: 1_700_000_000,
            compression,
        }
    }

    /// `path mode uid:gid mtime kind [-> target] [= content]`, one line per
    /// entry, in tar order; also checks no user or group name is set.
    fn listing(layout: &Layout, blob: &LayerBlob) -> String {
        let bytes = layout.read_blob(&blob.digest, 1 << 30).unwrap();
        let mut tar_bytes = Vec::new();
        match blob.media_type {
            MEDIA_TYPE_GZIP => {
                flate2::read::MultiGzDecoder::new(&bytes[..])
                    .read_to_end(&mut tar_bytes)
                    .unwrap();
            }
            _ => tar_bytes = zstd::decode_all(&bytes[..]).unwrap(),
        }
        assert_eq!(Digest::of(&tar_bytes), blob.diff_id);
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            assert_eq!(header.username().unwrap(), Some(""));
            assert_eq!(header.groupname().unwrap(), Some(""));
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut line = format!(
                "{path} {:o} {}:{} {} {:?}",
                header.mode().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.mtime().unwrap(),
                header.entry_type()
            );
            if let Some(target) = entry.link_name().unwrap() {
                let _ = write!(line, " -> {}", target.display());
            }
            let mut content = String::new();
            entry.read_to_string(&mut content).unwrap();
            if !content.is_empty() {
                let _ = write!(line, " = {content}");
            }
            out.push(line);
        }
        out.join("\n")
    }

    #[test]
    fn trees_files_and_links_are_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("pkg/sub")).unwrap();
        std::fs::write(tree.join("pkg/mod.py"), "x").unwrap();
        std::fs::set_permissions(
            tree.join("pkg/mod.py"),
            std::fs::Permissions::from_mode(0o664),
        )
        .unwrap();
        std::fs::write(tree.join("run.sh"), "#!/bin/sh").unwrap();
        std::fs::set_permissions(tree.join("run.sh"), std::fs::Permissions::from_mode(0o775))
            .unwrap();
        symlink("pkg/mod.py", tree.join("relative")).unwrap();
        symlink(tree.join("pkg/sub"), tree.join("absolute")).unwrap();
        let layout = Layout::open_or_create(&dir.path().join("layout")).unwrap();
        let long = format!("/opt/{}/file.txt", "d".repeat(120));
        let make = || {
            let mut builder = LayerBuilder::new(options(Compression::Gzip));
            builder
                .add_tree(&tree, "/app", Attrs::default(), &|p, _| {
                    p != Path::new("skip")
                })
                .unwrap();
            builder
                .add_bytes("/etc/app.conf", "conf", Attrs::default())
                .unwrap();
            builder
                .add_bytes(
                    &long,
                    "long",
                    Attrs {
                        uid: 1000,
                        gid: 100,
                        mode: Some(0o600),
                    },
                )
                .unwrap();
            builder
                .add_symlink("/usr/bin/app", "/app/run.sh", Attrs::default())
                .unwrap();
            builder
        };
        let first = make().write(&layout).unwrap();
        // Another host's umask and times change nothing.
        std::fs::set_permissions(
            tree.join("pkg/mod.py"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let second = make().write(&layout).unwrap();
        assert_eq!(first, second);
        let want = format!(
            "app/ 755 0:0 1700000000 Directory
app/absolute 777 0:0 1700000000 Symlink -> /app/pkg/sub
app/pkg/ 755 0:0 1700000000 Directory
app/pkg/mod.py 644 0:0 1700000000 Regular = x
app/pkg/sub/ 755 0:0 1700000000 Directory
app/relative 777 0:0 1700000000 Symlink -> pkg/mod.py
app/run.sh 755 0:0 1700000000 Regular = #!/bin/sh
etc/ 755 0:0 1700000000 Directory
etc/app.conf 644 0:0 1700000000 Regular = conf
opt/ 755 0:0 1700000000 Directory
opt/{d}/ 755 0:0 1700000000 Directory
opt/{d}/file.txt 600 1000:100 1700000000 Regular = long
usr/ 755 0:0 1700000000 Directory
usr/bin/ 755 0:0 1700000000 Directory
usr/bin/app 777 0:0 1700000000 Symlink -> /app/run.sh",
            d = "d".repeat(120)
        );
        assert_eq!(listing(&layout, &first), want);
        // zstd holds the same tar.
        let mut zstd_builder = make();
        zstd_builder.options.compression = Compression::Zstd;
        let zstd = zstd_builder.write(&layout).unwrap();
        assert_eq!(zstd.media_type, MEDIA_TYPE_ZSTD);
        assert_eq!(zstd.diff_id, first.diff_id);
        assert_ne!(zstd.digest, first.digest);
        assert_eq!(listing(&layout, &zstd), want);
    }

    #[test]
    fn refuses_what_leaves_the_tree_or_is_special() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("secret.txt");
        std::fs::write(&outside, "s").unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(&tree).unwrap();
        symlink(&outside, tree.join("leak")).unwrap();
        let mut builder = LayerBuilder::new(options(Compression::Gzip));
        let err = builder
            .add_tree(&tree, "/app", Attrs::default(), &|_, _| true)
            .unwrap_err();
        assert!(matches!(err, LayerError::LinkOutside { .. }), "{err}");
        assert!(
            err.to_string().starts_with("`leak` is a symlink to"),
            "{err}"
        );

        std::fs::remove_file(tree.join("leak")).unwrap();
        symlink("missing", tree.join("dangling")).unwrap();
        let err = builder
            .add_tree(&tree, "/app", Attrs::default(), &|_, _| true)
            .unwrap_err();
        assert!(matches!(err, LayerError::Dangling { .. }), "{err}");

        std::fs::remove_file(tree.join("dangling")).unwrap();
        windlass_testkit::mkfifo(&tree.join("pipe"));
        let err = builder
            .add_tree(&tree, "/app", Attrs::default(), &|_, _| true)
            .unwrap_err();
        assert!(
            matches!(
                err,
                LayerError::SpecialFile {
                    kind: windlass_fs::FileKind::Fifo,
                    ..
                }
            ),
            "{err}"
        );
        let err = builder
            .add_file("/x", &tree.join("pipe"), Attrs::default())
            .unwrap_err();
        assert!(matches!(err, LayerError::SpecialFile { .. }), "{err}");

        for bad in ["/a/../b", "a\0b"] {
            assert!(matches!(
                builder.add_bytes(bad, "", Attrs::default()),
                Err(LayerError::BadPath { .. })
            ));
        }
        builder.add_bytes("/f", "", Attrs::default()).unwrap();
        assert!(matches!(
            builder.add_bytes("/f/g", "", Attrs::default()),
            Err(LayerError::NotADirectory { .. })
        ));
    }
}
