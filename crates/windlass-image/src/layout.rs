//! OCI image layout directories (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`), as the image-layout spec describes and skopeo's
//! and umoci's `oci:` transports read and write them.
//!
//! Blobs are written to a temporary file in the blob directory and renamed
//! into place once their digest is known, so a blob file is always complete
//! and named by its content; `index.json` is replaced by rename the same
//! way, so an interrupted write never leaves a tag pointing at missing
//! content. Every read is bounded and refuses anything but a regular file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder, MediaType, OciLayoutBuilder};

use crate::digest::{Digest, HashingWriter};

/// The annotation naming a manifest in a layout's index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The largest `index.json` or `oci-layout` read.
const INDEX_LIMIT: u64 = 16 << 20;

/// An error reading or writing a layout; every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("cannot read {}", .0.path().display())]
    Read(#[source] windlass_fs::ReadError),
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not an OCI image layout: {why}", path.display())]
    NotLayout { path: PathBuf, why: String },
    #[error("{} has no image tagged `{tag}` (tags: {known})", path.display())]
    NoSuchTag {
        path: PathBuf,
        tag: String,
        known: String,
    },
    #[error("{} holds {count} images; name one with `oci:DIR:TAG`", path.display())]
    Ambiguous { path: PathBuf, count: usize },
    #[error("blob {digest} in {} does not match its name (it hashes to {actual})", path.display())]
    Corrupt {
        path: PathBuf,
        digest: Digest,
        actual: Digest,
    },
}

impl LayoutError {
    fn write(path: &Path, source: io::Error) -> Self {
        Self::Write {
            path: path.to_owned(),
            source,
        }
    }
}

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Opens the layout at `root`, or makes one there (the directory may
    /// exist if it is empty).
    pub fn open_or_create(root: &Path) -> Result<Self, LayoutError> {
        if root.join("oci-layout").exists() {
            return Self::open(root);
        }
        match std::fs::read_dir(root) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(LayoutError::NotLayout {
                        path: root.to_owned(),
                        why: "the directory is not empty and has no `oci-layout` file".into(),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(LayoutError::write(root, e)),
        }
        std::fs::create_dir_all(root.join("blobs/sha256"))
            .map_err(|e| LayoutError::write(root, e))?;
        let layout = Self {
            root: root.to_owned(),
        };
        let marker = OciLayoutBuilder::default()
            .image_layout_version("1.0.0")
            .build()
            .map_err(|e| LayoutError::write(root, io::Error::other(e)))?;
        layout.replace("oci-layout", &to_json(&marker))?;
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(Vec::new())
            .build()
            .map_err(|e| LayoutError::write(root, io::Error::other(e)))?;
        layout.replace("index.json", &to_json(&index))?;
        Ok(layout)
    }

    /// Opens an existing layout.
    pub fn open(root: &Path) -> Result<Self, LayoutError> {
        let marker =
            windlass_fs::read(&root.join("oci-layout"), INDEX_LIMIT).map_err(LayoutError::Read)?;
        let version = serde_json::from_slice::<serde_json::Value>(&marker)
            .ok()
            .and_then(|v| {
                v.get("imageLayoutVersion")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            });
        match version.as_deref() {
            Some(v) if v.starts_with("1.") => Ok(Self {
                root: root.to_owned(),
            }),
            _ => Err(LayoutError::NotLayout {
                path: root.to_owned(),
                why: "`oci-layout` does not say `imageLayoutVersion` 1.x".into(),
            }),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` is (or would be).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        std::fs::symlink_metadata(self.blob_path(digest)).is_ok_and(|m| m.is_file())
    }

    /// Reads a blob of at most `limit` bytes and checks its digest.
    pub fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, LayoutError> {
        let path = self.blob_path(digest);
        let bytes = windlass_fs::read(&path, limit).map_err(LayoutError::Read)?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(LayoutError::Corrupt {
                path,
                digest: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Opens a blob for streaming (a regular file; size from the handle).
    pub fn open_blob(&self, digest: &Digest) -> Result<windlass_fs::RegularFile, LayoutError> {
        windlass_fs::open(&self.blob_path(digest)).map_err(LayoutError::Read)
    }

    /// Writes `bytes` as a blob; returns its digest and size.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<(Digest, u64), LayoutError> {
        let mut writer = self.blob_writer()?;
        writer
            .write_all(bytes)
            .map_err(|e| LayoutError::write(&self.root, e))?;
        writer.commit()
    }

    /// A writer for a blob whose digest is known once it is written.
    pub fn blob_writer(&self) -> Result<BlobWriter, LayoutError> {
        let dir = self.root.join("blobs/sha256");
        let file = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&dir)
            .map_err(|e| LayoutError::write(&dir, e))?;
        Ok(BlobWriter {
            dir,
            inner: HashingWriter::new(io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The layout's index.
    pub fn index(&self) -> Result<ImageIndex, LayoutError> {
        let path = self.root.join("index.json");
        let bytes = windlass_fs::read(&path, INDEX_LIMIT).map_err(LayoutError::Read)?;
        serde_json::from_slice(&bytes).map_err(|e| LayoutError::NotLayout {
            path,
            why: format!("index.json: {e}"),
        })
    }

    /// The manifest or index tagged `tag`; without a tag, the only one.
    pub fn resolve(&self, tag: Option<&str>) -> Result<Descriptor, LayoutError> {
        let index = self.index()?;
        let manifests = index.manifests();
        let name = |d: &Descriptor| {
            d.annotations()
                .as_ref()
                .and_then(|a| a.get(REF_NAME))
                .cloned()
        };
        if let Some(tag) = tag {
            return manifests
                .iter()
                .find(|d| name(d).as_deref() == Some(tag))
                .cloned()
                .ok_or_else(|| LayoutError::NoSuchTag {
                    path: self.root.clone(),
                    tag: tag.to_owned(),
                    known: {
                        let tags: Vec<String> = manifests.iter().filter_map(name).collect();
                        if tags.is_empty() {
                            "none".to_owned()
                        } else {
                            tags.join(", ")
                        }
                    },
                });
        }
        // Referrers (an SBOM attached to the image) are not images.
        let images: Vec<&Descriptor> = manifests
            .iter()
            .filter(|d| d.artifact_type().is_none())
            .collect();
        match images.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(LayoutError::Ambiguous {
                path: self.root.clone(),
                count: images.len(),
            }),
        }
    }

    /// Points `tag` at `descriptor` in the index (replacing the entry that
    /// had the tag), or adds it untagged. The index is replaced by rename.
    pub fn set_tag(
        &self,
        mut descriptor: Descriptor,
        tag: Option<&str>,
    ) -> Result<(), LayoutError> {
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        if let Some(tag) = tag {
            manifests.retain(|d| {
                d.annotations()
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .map(String::as_str)
                    != Some(tag)
            });
            let mut annotations = descriptor.annotations().clone().unwrap_or_default();
            annotations.insert(REF_NAME.to_owned(), tag.to_owned());
            descriptor.set_annotations(Some(annotations));
        } else if manifests.iter().any(|d| d.digest() == descriptor.digest()) {
            return Ok(());
        }
        manifests.push(descriptor);
        index.set_manifests(manifests);
        self.replace("index.json", &to_json(&index))
    }

    /// Replaces the index's entries with `manifests` (by rename).
    pub fn set_manifests(&self, manifests: Vec<Descriptor>) -> Result<(), LayoutError> {
        let mut index = self.index()?;
        index.set_manifests(manifests);
        self.replace("index.json", &to_json(&index))
    }

    fn replace(&self, name: &str, bytes: &[u8]) -> Result<(), LayoutError> {
        let path = self.root.join(name);
        let mut file = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&self.root)
            .map_err(|e| LayoutError::write(&path, e))?;
        file.write_all(bytes)
            .map_err(|e| LayoutError::write(&path, e))?;
        file.as_file()
            .sync_all()
            .map_err(|e| LayoutError::write(&path, e))?;
        file.persist(&path)
            .map_err(|e| LayoutError::write(&path, e.error))?;
        Ok(())
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Types of oci-spec always serialise.
    serde_json::to_vec(value).unwrap_or_else(|_| unreachable!("serialisable"))
}

/// A blob being written; [`BlobWriter::commit`] names it by its digest.
#[derive(Debug)]
pub struct BlobWriter {
    dir: PathBuf,
    inner: HashingWriter<io::BufWriter<tempfile::NamedTempFile>>,
}

impl BlobWriter {
    /// Flushes, syncs and renames the blob into place.
    pub fn commit(self) -> Result<(Digest, u64), LayoutError> {
        let (digest, size, buffered) = self.inner.finish();
        let file = buffered
            .into_inner()
            .map_err(|e| LayoutError::write(&self.dir, e.into_error()))?;
        file.as_file()
            .sync_all()
            .map_err(|e| LayoutError::write(&self.dir, e))?;
        let path = self.dir.join(digest.hex());
        file.persist(&path)
            .map_err(|e| LayoutError::write(&path, e.error))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::DescriptorBuilder;

    #[test]
    fn writes_reads_and_tags() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("l");
        let layout = Layout::open_or_create(&root).unwrap();
        let (digest, size) = layout.write_blob(b"{}").unwrap();
        assert_eq!((digest.clone(), size), (Digest::of(b"{}"), 2));
        assert_eq!(layout.read_blob(&digest, 10).unwrap(), b"{}");
        let descriptor = DescriptorBuilder::default()
            .media_type(MediaType::ImageManifest)
            .digest(oci_spec::image::Digest::from(&digest))
            .size(size)
            .build()
            .unwrap();
        layout.set_tag(descriptor.clone(), Some("v1")).unwrap();
        layout.set_tag(descriptor, Some("v1")).unwrap();
        let reopened = Layout::open(&root).unwrap();
        assert_eq!(reopened.index().unwrap().manifests().len(), 1);
        assert_eq!(reopened.resolve(Some("v1")).unwrap().size(), 2);
        assert!(reopened.resolve(None).is_ok());
        // An artifact listed beside the image (an SBOM referrer) is not an
        // image: the layout still names one.
        let (sbom, sbom_size) = layout.write_blob(b"{\"sbom\":1}").unwrap();
        let mut artifact = DescriptorBuilder::default()
            .media_type(MediaType::ImageManifest)
            .digest(oci_spec::image::Digest::from(&sbom))
            .size(sbom_size)
            .build()
            .unwrap();
        artifact.set_artifact_type(Some(MediaType::Other(
            "application/vnd.cyclonedx+json".into(),
        )));
        layout.set_tag(artifact.clone(), None).unwrap();
        assert_eq!(layout.index().unwrap().manifests().len(), 2);
        assert_eq!(layout.resolve(None).unwrap().size(), 2);
        // Two images are ambiguous.
        let mut second = artifact;
        second.set_artifact_type(None);
        layout.set_tag(second, Some("v2")).unwrap();
        assert!(matches!(
            layout.resolve(None),
            Err(LayoutError::Ambiguous { count: 2, .. })
        ));
        let missing = reopened.resolve(Some("v3")).unwrap_err().to_string();
        assert!(missing.contains("tags: v1"), "{missing}");
        // A blob that does not match its name is refused.
        std::fs::write(layout.blob_path(&digest), b"[]").unwrap();
        assert!(matches!(
            layout.read_blob(&digest, 10),
            Err(LayoutError::Corrupt { .. })
        ));
        // A non-empty directory that is not a layout is not taken over.
        std::fs::write(dir.path().join("x"), b"").unwrap();
        assert!(Layout::open_or_create(dir.path()).is_err());
    }
}
