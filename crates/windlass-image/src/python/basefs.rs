//! The base image's file system as its layers describe it: every path with
//! its kind, and the contents of the few small files Python detection reads
//! (`/var/lib/dpkg/status`, `/etc/os-release`, `libc.so.6`, the musl
//! package database), after applying each layer's whiteouts.
//!
//! Layers are streamed once, in order; nothing is unpacked to disk. Reads
//! are bounded: an image may list at most 2 million paths and a kept
//! file may be at most 32 MiB.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::rc::Rc;

use oci_spec::image::{ImageManifest, MediaType};
use sha2::{Digest as _, Sha256};

use super::PythonError;
use crate::digest::Digest;
use crate::layout::Layout;

/// The most paths one base image may hold.
const MAX_ENTRIES: usize = 2_000_000;
/// The largest file whose contents are kept.
const MAX_KEPT_FILE: u64 = 32 << 20;
/// How many symlinks a lookup follows before giving up (as Linux does).
const MAX_LINK_HOPS: usize = 40;

/// The kind of a path in the merged file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    /// A regular file (or a hard link to one) and, for kept files, its bytes.
    File {
        size: u64,
        contents: Option<Vec<u8>>,
    },
    /// A symbolic link and its target as written.
    Symlink(String),
    /// Anything else (devices, fifos).
    Other,
}

/// The merged view of a base image's layers (paths relative to `/`, without
/// a leading slash: `usr/bin/python3`).
#[derive(Debug, Clone, Default)]
pub struct BaseFs {
    nodes: BTreeMap<String, Node>,
}

/// Whether a file's contents are worth keeping for detection.
fn keep(path: &str) -> bool {
    matches!(
        path,
        "var/lib/dpkg/status"
            | "etc/os-release"
            | "usr/lib/os-release"
            | "lib/apk/db/installed"
            | "usr/lib/apk/db/installed"
    ) || path.rsplit('/').next() == Some("libc.so.6")
}

impl BaseFs {
    /// Reads the layers of `manifest` from `layout`, lowest first.
    pub fn read(layout: &Layout, manifest: &ImageManifest) -> Result<Self, PythonError> {
        let mut fs = Self::default();
        for layer in manifest.layers() {
            let digest: Digest =
                layer
                    .digest()
                    .to_string()
                    .parse()
                    .map_err(|_| PythonError::BaseImage {
                        why: format!("layer digest `{}` is not sha256", layer.digest()),
                    })?;
            let compression = Compression::of(layer.media_type()).ok_or_else(|| {
                PythonError::UnsupportedLayer {
                    digest: digest.clone(),
                    media_type: layer.media_type().to_string(),
                }
            })?;
            let file = layout.open_blob(&digest).map_err(PythonError::Layout)?;
            // The blob is hashed as it is read (and read to its end): a
            // layer that is not what its digest says is refused.
            let hasher = Rc::new(RefCell::new(Sha256::new()));
            let hashing = Hashing {
                inner: file,
                hasher: Rc::clone(&hasher),
            };
            let reader: Box<dyn Read> = match compression {
                Compression::None => Box::new(hashing),
                Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(hashing)),
                // Every frame is read, as a zstd stream may hold several.
                Compression::Zstd => {
                    Box::new(zstd::stream::read::Decoder::new(hashing).map_err(|source| {
                        PythonError::Layer {
                            digest: digest.clone(),
                            source,
                        }
                    })?)
                }
            };
            let read = fs
                .apply_layer(reader)
                .and_then(|mut rest| std::io::copy(&mut rest, &mut std::io::sink()).map(|_| ()));
            read.map_err(|source| PythonError::Layer {
                digest: digest.clone(),
                source,
            })?;
            let actual = hex::encode(hasher.borrow().clone().finalize());
            if actual != digest.hex() {
                return Err(PythonError::Layout(crate::layout::LayoutError::Corrupt {
                    path: layout.blob_path(&digest),
                    actual: format!("sha256:{actual}")
                        .parse()
                        .unwrap_or_else(|_| unreachable!("64 hex digits")),
                    digest,
                }));
            }
        }
        Ok(fs)
    }

    /// Builds a view from tar streams given in order (tests, and layers
    /// that are already decompressed).
    pub fn from_tars<R: Read>(layers: impl IntoIterator<Item = R>) -> std::io::Result<Self> {
        let mut fs = Self::default();
        for layer in layers {
            fs.apply_layer(layer)?;
        }
        Ok(fs)
    }

    /// Applies one layer: its whiteouts remove paths of the layers below,
    /// then its entries are added (an entry of this layer replaces the path).
    fn apply_layer<R: Read>(&mut self, reader: R) -> std::io::Result<R> {
        let mut archive = tar::Archive::new(reader);
        let mut added: Vec<(String, Node)> = Vec::new();
        let mut whiteouts: Vec<String> = Vec::new();
        let mut opaque: Vec<String> = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = entry.path()?.to_string_lossy().into_owned();
            let Some(path) = normalize(&raw) else {
                continue;
            };
            if self.nodes.len() + added.len() >= MAX_ENTRIES {
                return Err(std::io::Error::other(format!(
                    "the image lists more than {MAX_ENTRIES} paths"
                )));
            }
            let (parent, name) = split(&path);
            if name == ".wh..wh..opq" {
                opaque.push(parent.to_owned());
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                whiteouts.push(join(parent, hidden));
                continue;
            }
            let header = entry.header();
            let node = match header.entry_type() {
                tar::EntryType::Directory => Node::Dir,
                tar::EntryType::Symlink => Node::Symlink(
                    entry
                        .link_name()?
                        .map(|l| l.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                tar::EntryType::Link => {
                    let target = entry
                        .link_name()?
                        .and_then(|l| normalize(&l.to_string_lossy()));
                    let found = target.and_then(|t| {
                        added
                            .iter()
                            .rev()
                            .find(|(p, _)| *p == t)
                            .map(|(_, n)| n.clone())
                            .or_else(|| self.nodes.get(&t).cloned())
                    });
                    found.unwrap_or(Node::Other)
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = header.size()?;
                    let contents = if keep(&path) && size <= MAX_KEPT_FILE {
                        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                        (&mut entry).take(MAX_KEPT_FILE).read_to_end(&mut bytes)?;
                        Some(bytes)
                    } else {
                        None
                    };
                    Node::File { size, contents }
                }
                _ => Node::Other,
            };
            added.push((path, node));
        }
        for dir in opaque {
            self.remove_below(&dir);
        }
        for path in whiteouts {
            self.nodes.remove(&path);
            self.remove_below(&path);
        }
        for (path, node) in added {
            if !matches!(node, Node::Dir) {
                // A file or link replacing a directory hides what was in it.
                if matches!(self.nodes.get(&path), Some(Node::Dir)) {
                    self.remove_below(&path);
                }
            }
            self.nodes.insert(path, node);
        }
        Ok(archive.into_inner())
    }

    fn remove_below(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let below: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for path in below {
            self.nodes.remove(&path);
        }
    }

    /// The node at `path` without following a final symlink.
    pub fn lstat(&self, path: &str) -> Option<&Node> {
        self.nodes.get(normalize(path)?.as_str())
    }

    /// `path` with every symlink resolved (absolute targets from `/`), if
    /// it exists.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> = components(path)
            .into_iter()
            .rev()
            .map(str::to_owned)
            .collect();
        let mut current: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "." | "" => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            current.push(part);
            let joined = current.join("/");
            // A missing parent may be implied by the paths below it.
            if let Some(Node::Symlink(target)) = self.nodes.get(&joined) {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return None;
                }
                current.pop();
                if target.starts_with('/') {
                    current.clear();
                }
                pending.extend(components(target).into_iter().rev().map(str::to_owned));
            }
        }
        let path = current.join("/");
        self.exists(&path).then_some(path)
    }

    /// Whether `path` is listed, or implied as a directory by a path below.
    fn exists(&self, path: &str) -> bool {
        if path.is_empty() || self.nodes.contains_key(path) {
            return true;
        }
        let prefix = format!("{path}/");
        self.nodes
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(p, _)| p.starts_with(&prefix))
    }

    /// The node at `path`, following symlinks.
    pub fn stat(&self, path: &str) -> Option<&Node> {
        self.nodes.get(&self.resolve(path)?)
    }

    /// Whether `path` is a directory (following symlinks), listed or
    /// implied by the paths below it.
    pub fn is_dir(&self, path: &str) -> bool {
        self.resolve(path)
            .is_some_and(|real| matches!(self.nodes.get(&real), Some(Node::Dir) | None))
    }

    /// Whether `path` is a regular file (following symlinks).
    pub fn is_file(&self, path: &str) -> bool {
        matches!(self.stat(path), Some(Node::File { .. }))
    }

    /// The kept contents of the file at `path` (following symlinks).
    pub fn contents(&self, path: &str) -> Option<&[u8]> {
        match self.stat(path)? {
            Node::File {
                contents: Some(bytes),
                ..
            } => Some(bytes),
            _ => None,
        }
    }

    /// The names directly inside the directory `dir` (following symlinks
    /// for `dir` itself), sorted.
    pub fn list(&self, dir: &str) -> Vec<String> {
        let Some(dir) = self.resolve(dir) else {
            return Vec::new();
        };
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter_map(|(p, _)| {
                let rest = &p[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect()
    }
}

/// A reader that feeds what it reads to a shared hasher.
struct Hashing<R> {
    inner: R,
    hasher: Rc<RefCell<Sha256>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn of(media_type: &MediaType) -> Option<Self> {
        match media_type {
            MediaType::ImageLayer | MediaType::ImageLayerNonDistributable => Some(Self::None),
            MediaType::ImageLayerGzip | MediaType::ImageLayerNonDistributableGzip => {
                Some(Self::Gzip)
            }
            MediaType::ImageLayerZstd | MediaType::ImageLayerNonDistributableZstd => {
                Some(Self::Zstd)
            }
            MediaType::Other(other) => match other.as_str() {
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
                | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Some(Self::Gzip),
                "application/vnd.docker.image.rootfs.diff.tar" => Some(Self::None),
                _ => None,
            },
            _ => None,
        }
    }
}

fn components(path: &str) -> Vec<&str> {
    path.split('/').filter(|p| !p.is_empty()).collect()
}

/// `./usr/bin/` -> `usr/bin`; `None` for the root itself and for paths
/// that climb out with `..`.
fn normalize(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One synthetic layer entry.
    pub(crate) enum E<'a> {
        Dir(&'a str),
        File(&'a str, &'a [u8]),
        Link(&'a str, &'a str),
    }

    pub(crate) fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            match entry {
                E::Dir(path) => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    builder
                        .append_data(&mut header, path, std::io::empty())
                        .unwrap();
                }
                E::File(path, bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(bytes.len() as u64);
                    builder.append_data(&mut header, path, *bytes).unwrap();
                }
                E::Link(path, target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_and_links() {
        let lower = tar_of(&[
            E::Dir("./usr/"),
            E::Dir("./usr/bin/"),
            E::File("./usr/bin/python3.11", b"ELF"),
            E::Link("./usr/bin/python3", "python3.11"),
            E::Dir("./usr/lib/"),
            E::Dir("./usr/lib/python3.11/"),
            E::File("./usr/lib/python3.11/os.py", b""),
            E::Dir("./opt/"),
            E::File("./opt/a", b""),
            E::File("./opt/b", b""),
            E::File("./var/lib/dpkg/status", b"Package: libc6\n"),
        ]);
        let upper = tar_of(&[
            E::File("usr/bin/.wh.python3", b""),
            E::File("opt/.wh..wh..opq", b""),
            E::File("opt/c", b""),
            E::Link("bin", "usr/bin"),
        ]);
        let fs = BaseFs::from_tars([lower.as_slice(), upper.as_slice()]).unwrap();
        assert_eq!(fs.lstat("/usr/bin/python3"), None);
        assert!(fs.is_file("/usr/bin/python3.11"));
        assert!(fs.is_file("/bin/python3.11"), "a link to a directory");
        assert_eq!(fs.resolve("/bin/python3.11").unwrap(), "usr/bin/python3.11");
        assert_eq!(fs.list("/opt"), vec!["c".to_owned()]);
        assert_eq!(fs.list("/usr/lib"), vec!["python3.11".to_owned()]);
        assert_eq!(
            fs.contents("/var/lib/dpkg/status"),
            Some(&b"Package: libc6\n"[..])
        );
        assert_eq!(fs.contents("/usr/lib/python3.11/os.py"), None, "not kept");
    }

    #[test]
    fn reads_gzip_layers_from_a_layout_and_checks_their_digest() {
        use oci_spec::image::{DescriptorBuilder, ImageManifestBuilder};
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::open_or_create(&dir.path().join("l")).unwrap();
        let tar = tar_of(&[E::File("etc/os-release", b"ID=debian\n")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let (digest, size) = layout.write_blob(&gz).unwrap();
        let descriptor = |media_type: MediaType, digest: &Digest, size: u64| {
            DescriptorBuilder::default()
                .media_type(media_type)
                .digest(oci_spec::image::Digest::from(digest))
                .size(size)
                .build()
                .unwrap()
        };
        let (config, config_size) = layout.write_blob(b"{}").unwrap();
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .config(descriptor(MediaType::ImageConfig, &config, config_size))
            .layers(vec![descriptor(MediaType::ImageLayerGzip, &digest, size)])
            .build()
            .unwrap();
        let fs = BaseFs::read(&layout, &manifest).unwrap();
        assert_eq!(fs.contents("/etc/os-release"), Some(&b"ID=debian\n"[..]));

        let mut tampered = gz.clone();
        let last = tampered.len() - 9;
        tampered[last] ^= 0xff; // the gzip CRC: still a readable tar stream
        std::fs::write(layout.blob_path(&digest), &tampered).unwrap();
        let err = BaseFs::read(&layout, &manifest).unwrap_err();
        assert!(
            matches!(
                err,
                PythonError::Layout(crate::layout::LayoutError::Corrupt { .. })
                    | PythonError::Layer { .. }
            ),
            "{err}"
        );
        // An uncompressed layer with bytes after the archive's end: only
        // the digest tells.
        let (plain, plain_size) = layout.write_blob(&tar).unwrap();
        let mut padded = tar.clone();
        padded.extend_from_slice(&[0u8; 512]);
        std::fs::write(layout.blob_path(&plain), &padded).unwrap();
        let uncompressed = ImageManifestBuilder::default()
            .schema_version(2u32)
            .config(descriptor(MediaType::ImageConfig, &config, config_size))
            .layers(vec![descriptor(MediaType::ImageLayer, &plain, plain_size)])
            .build()
            .unwrap();
        let err = BaseFs::read(&layout, &uncompressed).unwrap_err();
        assert!(
            matches!(
                err,
                PythonError::Layout(crate::layout::LayoutError::Corrupt { .. })
            ),
            "{err}"
        );
        let foreign = ImageManifestBuilder::default()
            .schema_version(2u32)
            .config(descriptor(MediaType::ImageConfig, &config, config_size))
            .layers(vec![descriptor(
                MediaType::Other("application/vnd.example.layer.v1.tar+lz4".into()),
                &digest,
                size,
            )])
            .build()
            .unwrap();
        assert!(matches!(
            BaseFs::read(&layout, &foreign),
            Err(PythonError::UnsupportedLayer { .. })
        ));
    }

    #[test]
    fn reads_zstd_layers_of_several_frames_and_checks_their_digest() {
        use oci_spec::image::{DescriptorBuilder, ImageManifestBuilder};
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::open_or_create(&dir.path().join("l")).unwrap();
        let lower = tar_of(&[E::File("etc/os-release", b"ID=debian\n")]);
        let upper = tar_of(&[
            E::File("etc/.wh.os-release", b""),
            E::File("usr/lib/os-release", b"ID=alpine\n"),
        ]);
        let descriptor = |media_type: MediaType, digest: &Digest, size: u64| {
            DescriptorBuilder::default()
                .media_type(media_type)
                .digest(oci_spec::image::Digest::from(digest))
                .size(size)
                .build()
                .unwrap()
        };
        let (config, config_size) = layout.write_blob(b"{}").unwrap();
        // The lower layer as two frames (as parallel encoders write it).
        let half = lower.len() / 2;
        let mut two_frames = zstd::encode_all(&lower[..half], 3).unwrap();
        two_frames.extend(zstd::encode_all(&lower[half..], 3).unwrap());
        let (lower_digest, lower_size) = layout.write_blob(&two_frames).unwrap();
        let upper_zstd = zstd::encode_all(upper.as_slice(), 19).unwrap();
        let (upper_digest, upper_size) = layout.write_blob(&upper_zstd).unwrap();
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .config(descriptor(MediaType::ImageConfig, &config, config_size))
            .layers(vec![
                descriptor(MediaType::ImageLayerZstd, &lower_digest, lower_size),
                descriptor(
                    MediaType::ImageLayerNonDistributableZstd,
                    &upper_digest,
                    upper_size,
                ),
            ])
            .build()
            .unwrap();
        let fs = BaseFs::read(&layout, &manifest).unwrap();
        assert_eq!(fs.lstat("etc/os-release"), None, "whited out");
        assert_eq!(
            fs.contents("/usr/lib/os-release"),
            Some(&b"ID=alpine\n"[..])
        );

        // A flipped byte in the frame's content: zstd's own checksum is off
        // by default, so either decoding fails or the digest does; both
        // name the layer.
        let mut tampered = upper_zstd.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0x55;
        std::fs::write(layout.blob_path(&upper_digest), &tampered).unwrap();
        let err = BaseFs::read(&layout, &manifest).unwrap_err();
        assert!(
            matches!(
                &err,
                PythonError::Layout(crate::layout::LayoutError::Corrupt { digest, .. })
                    | PythonError::Layer { digest, .. } if *digest == upper_digest
            ),
            "{err}"
        );
        // Bytes after the last frame that are no frame: refused.
        let mut trailing = upper_zstd.clone();
        trailing.extend_from_slice(b"not zstd");
        std::fs::write(layout.blob_path(&upper_digest), &trailing).unwrap();
        let err = BaseFs::read(&layout, &manifest).unwrap_err();
        assert!(err.to_string().contains(&upper_digest.to_string()), "{err}");
        // A valid zstd stream of other bytes: only the digest tells.
        let other = zstd::encode_all(
            tar_of(&[E::File("usr/lib/os-release", b"ID=debian\n")]).as_slice(),
            3,
        )
        .unwrap();
        std::fs::write(layout.blob_path(&upper_digest), &other).unwrap();
        let err = BaseFs::read(&layout, &manifest).unwrap_err();
        assert!(
            matches!(
                &err,
                PythonError::Layout(crate::layout::LayoutError::Corrupt { digest, .. })
                    if *digest == upper_digest
            ),
            "{err}"
        );
    }

    #[test]
    fn link_loops_end() {
        let layer = tar_of(&[E::Link("a", "b"), E::Link("b", "/a")]);
        let fs = BaseFs::from_tars([layer.as_slice()]).unwrap();
        assert_eq!(fs.resolve("a"), None);
        assert_eq!(fs.stat("a/x"), None);
    }
}
