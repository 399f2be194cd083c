//! The release manifest attached to an image as an OCI referrer: an
//! artifact manifest (`artifactType` [`ARTIFACT_TYPE`], the manifest's JSON
//! as its one layer, the empty config) whose `subject` is the image,
//! annotated with the release's version and manifest id. On a registry
//! with the referrers API the registry lists it; on one without, the
//! distribution spec's fallback tag (`sha256-<hex>`) is updated, keeping
//! every other referrer (the SBOM `image build` attaches). In an OCI
//! layout, the artifact goes into the layout (blobs and an untagged index
//! entry), so `skopeo inspect oci:DIR:TAG` still reads the image.
//!
//! Attaching the same manifest again writes nothing: the artifact's
//! digest is fixed by the manifest's bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use windlass_image::artifact::{Artifact, attach_to_layout};
use windlass_image::layout::LayoutError;
use windlass_image::registry::{Client, RegistryError};
use windlass_image::{Digest, Layout, Reference};
use windlass_output::{Diagnostic, ExitStatus};

use crate::manifest::{Image, Manifest};

/// The artifact type (and layer media type) of an attached manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.windlass.release.manifest.v1+json";
/// The annotation holding the release's version.
pub const VERSION_ANNOTATION: &str = "org.opencontainers.image.version";
/// The annotation holding the manifest's id.
pub const ID_ANNOTATION: &str = "dev.windlass.release.manifest.id";

/// The image a manifest is attached to.
#[derive(Debug, Clone)]
pub enum ImageTarget {
    /// `REGISTRY/REPOSITORY@sha256:...`.
    Registry(Reference),
    /// An image of an OCI layout, by digest.
    Layout { dir: PathBuf, digest: Digest },
}

impl ImageTarget {
    /// The target of a manifest's image (an `oci:DIR` repository is
    /// relative to `manifest_dir`).
    pub fn of(image: &Image, manifest_dir: &Path) -> Result<Self, AttachError> {
        let bad = |why: String| AttachError::Image {
            image: image.name.clone(),
            why,
        };
        let digest: Digest = image
            .digest
            .parse()
            .map_err(|e: windlass_image::digest::DigestError| bad(e.to_string()))?;
        if let Some(dir) = image.repository.strip_prefix("oci:") {
            return Ok(Self::Layout {
                dir: manifest_dir.join(dir),
                digest,
            });
        }
        let reference: Reference = format!("{}@{digest}", image.repository)
            .parse()
            .map_err(|e: windlass_image::reference::ReferenceError| bad(e.to_string()))?;
        Ok(Self::Registry(reference))
    }
}

/// How the manifest was attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "tag")]
pub enum Via {
    /// The registry processed the `subject` (it has the referrers API).
    Referrers,
    /// The registry lacks the referrers API: this fallback tag's index
    /// lists it.
    FallbackTag(String),
    /// Written into an OCI layout.
    Layout,
}

/// The manifest attached.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Attached {
    /// The artifact manifest's digest.
    pub digest: String,
    pub via: Via,
    /// Whether anything was written (false: attached before).
    pub new: bool,
}

/// Attaching failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("image `{image}` of the manifest: {why}")]
    Image { image: String, why: String },
    #[error("cannot attach the release manifest to {image}")]
    Registry {
        image: String,
        #[source]
        source: RegistryError,
    },
    #[error("cannot attach the release manifest to the layout {}", dir.display())]
    Layout {
        dir: PathBuf,
        #[source]
        source: LayoutError,
    },
    #[error("the layout {} does not hold the image {digest}", dir.display())]
    NotInLayout { dir: PathBuf, digest: Digest },
}

impl Diagnostic for AttachError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Registry { source, .. } => source.exit_status(),
            Self::Image { .. } | Self::Layout { .. } | Self::NotInLayout { .. } => {
                ExitStatus::Usage
            }
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Registry { source, .. } => source.hint(),
            Self::NotInLayout { .. } => Some("push or copy the image there first".to_owned()),
            _ => None,
        }
    }
}

/// The bytes attached: the manifest's JSON, compact.
pub fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    serde_json::to_vec(manifest).unwrap_or_default()
}

/// Attaches `manifest` to `image` (see the module's documentation).
/// `client` reaches registries; it is not used for a layout.
pub async fn attach(
    manifest: &Manifest,
    image: &ImageTarget,
    client: &Client,
) -> Result<Attached, AttachError> {
    let bytes = manifest_bytes(manifest);
    let artifact = Artifact {
        artifact_type: ARTIFACT_TYPE,
        blob: &bytes,
        annotations: BTreeMap::from([
            (
                VERSION_ANNOTATION.to_owned(),
                manifest.content.version.clone(),
            ),
            (ID_ANNOTATION.to_owned(), manifest.id.to_string()),
        ]),
    };
    match image {
        ImageTarget::Registry(reference) => {
            let registry = |source| AttachError::Registry {
                image: reference.to_string(),
                source,
            };
            let digest = reference.digest.clone().ok_or_else(|| AttachError::Image {
                image: reference.to_string(),
                why: "no digest".to_owned(),
            })?;
            let repo = client.repo(reference).await.map_err(registry)?;
            let subject = repo
                .head_manifest(&digest.to_string())
                .await
                .map_err(registry)?
                .ok_or_else(|| {
                    registry(RegistryError::NotFound {
                        what: format!("image {reference}"),
                    })
                })?;
            let attached =
                windlass_image::registry::attach_artifact(client, reference, &subject, &artifact)
                    .await
                    .map_err(registry)?;
            Ok(Attached {
                digest: attached.descriptor.digest().to_string(),
                via: attached
                    .fallback_tag
                    .map_or(Via::Referrers, Via::FallbackTag),
                new: attached.new,
            })
        }
        ImageTarget::Layout { dir, digest } => {
            let layout_error = |source| AttachError::Layout {
                dir: dir.clone(),
                source,
            };
            let layout = Layout::open(dir).map_err(layout_error)?;
            let subject = layout
                .index()
                .map_err(layout_error)?
                .manifests()
                .iter()
                .find(|d| d.digest().to_string() == digest.to_string())
                .cloned()
                .ok_or_else(|| AttachError::NotInLayout {
                    dir: dir.clone(),
                    digest: digest.clone(),
                })?;
            let mut subject = subject;
            // The index entry's tag is not the subject's.
            subject.set_annotations(None);
            let attached = attach_to_layout(&layout, &subject, &artifact).map_err(layout_error)?;
            Ok(Attached {
                digest: attached.descriptor.digest().to_string(),
                via: Via::Layout,
                new: attached.new,
            })
        }
    }
}
