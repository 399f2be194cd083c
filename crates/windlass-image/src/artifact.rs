//! Artifacts attached to an image as referrers (an SBOM, a release
//! manifest): one blob of the artifact's type, the empty config, and an
//! image manifest whose `subject` is the image, as the OCI image spec's
//! artifact guidance describes. The same manifest bytes go to a layout
//! ([`attach_to_layout`]) and to a registry
//! ([`crate::registry::attach_artifact`]), so an artifact has one digest
//! wherever it is attached, and attaching it again adds nothing.

use std::collections::BTreeMap;

use oci_spec::image::Descriptor;
use serde_json::json;

use crate::digest::Digest;
use crate::layout::{Layout, LayoutError};

/// The empty JSON config of artifacts.
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// The media type of [`EMPTY_CONFIG`].
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The media type of image manifests (artifacts are image manifests).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// One artifact: a single blob of `artifact_type` (the layer's media type
/// too), with annotations on its manifest.
#[derive(Debug, Clone)]
pub struct Artifact<'a> {
    pub artifact_type: &'a str,
    pub blob: &'a [u8],
    /// The manifest's annotations (sorted, so the bytes are stable).
    pub annotations: BTreeMap<String, String>,
}

/// Where an artifact went.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The artifact manifest's descriptor (with its `artifactType`).
    pub descriptor: Descriptor,
    /// Whether anything was written (false: it was attached already).
    pub new: bool,
    /// The fallback tag (`sha256-<hex>`) updated for a registry without
    /// the referrers API; `None` when the registry keeps the referrers
    /// itself, or for a layout.
    pub fallback_tag: Option<String>,
}

impl Artifact<'_> {
    /// The artifact manifest's bytes, for a config and blob already
    /// stored (digest, size) and the image `subject`.
    pub fn manifest_bytes(
        &self,
        config: (&Digest, u64),
        blob: (&Digest, u64),
        subject: &Descriptor,
    ) -> Vec<u8> {
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": self.artifact_type,
            "config": {
                "mediaType": EMPTY_MEDIA_TYPE,
                "digest": config.0.to_string(),
                "size": config.1,
            },
            "layers": [{
                "mediaType": self.artifact_type,
                "digest": blob.0.to_string(),
                "size": blob.1,
            }],
            "subject": {
                "mediaType": subject.media_type().to_string(),
                "digest": subject.digest().to_string(),
                "size": subject.size(),
            },
        });
        if !self.annotations.is_empty() {
            manifest["annotations"] = json!(self.annotations);
        }
        // A `Value` always serialises.
        serde_json::to_vec(&manifest).unwrap_or_default()
    }

    /// The descriptor of the artifact manifest `bytes` as an index or a
    /// referrers list names it (`artifactType`, and `annotations` when
    /// `with_annotations`).
    pub fn descriptor(&self, bytes: &[u8], with_annotations: bool) -> Descriptor {
        let mut descriptor = crate::registry::descriptor(
            crate::registry::media_type(OCI_MANIFEST),
            &Digest::of(bytes),
            bytes.len() as u64,
        );
        descriptor.set_artifact_type(Some(crate::registry::media_type(self.artifact_type)));
        if with_annotations && !self.annotations.is_empty() {
            descriptor.set_annotations(Some(self.annotations.clone().into_iter().collect()));
        }
        descriptor
    }
}

/// Writes `artifact` into `layout` as a referrer of `subject` (a manifest
/// of the layout): the blobs, the artifact manifest, and an untagged entry
/// in the layout's index (what `skopeo` and `umoci` ignore when they read
/// a tag). Nothing is written when the index lists it already.
pub fn attach_to_layout(
    layout: &Layout,
    subject: &Descriptor,
    artifact: &Artifact<'_>,
) -> Result<Attached, LayoutError> {
    let config = (Digest::of(EMPTY_CONFIG), EMPTY_CONFIG.len() as u64);
    let blob = (Digest::of(artifact.blob), artifact.blob.len() as u64);
    let bytes = artifact.manifest_bytes((&config.0, config.1), (&blob.0, blob.1), subject);
    let descriptor = artifact.descriptor(&bytes, false);
    let digest = Digest::of(&bytes);
    let listed = layout
        .index()?
        .manifests()
        .iter()
        .any(|d| d.digest().to_string() == digest.to_string());
    let stored = [&config.0, &blob.0, &digest]
        .iter()
        .all(|d| layout.has_blob(d));
    if listed && stored {
        return Ok(Attached {
            descriptor,
            new: false,
            fallback_tag: None,
        });
    }
    layout.write_blob(EMPTY_CONFIG)?;
    layout.write_blob(artifact.blob)?;
    layout.write_blob(&bytes)?;
    layout.set_tag(descriptor.clone(), None)?;
    Ok(Attached {
        descriptor,
        new: true,
        fallback_tag: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attaching_to_a_layout_twice_adds_one_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::open_or_create(&tmp.path().join("l")).unwrap();
        let (digest, size) = layout.write_blob(b"{\"image\":1}").unwrap();
        let subject =
            crate::registry::descriptor(crate::registry::media_type(OCI_MANIFEST), &digest, size);
        layout.set_tag(subject.clone(), Some("v1")).unwrap();
        let artifact = Artifact {
            artifact_type: "application/vnd.example+json",
            blob: b"{\"hello\":1}",
            annotations: BTreeMap::from([("a".to_owned(), "b".to_owned())]),
        };
        let first = attach_to_layout(&layout, &subject, &artifact).unwrap();
        assert!(first.new);
        let second = attach_to_layout(&layout, &subject, &artifact).unwrap();
        assert!(!second.new);
        assert_eq!(first.descriptor.digest(), second.descriptor.digest());
        assert_eq!(layout.index().unwrap().manifests().len(), 2);
        // The tag still names the image, not the artifact.
        assert_eq!(
            layout.resolve(Some("v1")).unwrap().digest(),
            subject.digest()
        );
        assert_eq!(layout.resolve(None).unwrap().digest(), subject.digest());
    }
}
