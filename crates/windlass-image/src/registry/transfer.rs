//! Moving whole images: between OCI layouts and registries, in the order
//! that never leaves a reference pointing at missing content. Blobs go
//! first (a bounded number at once), then each image manifest, then the
//! index over them, all by digest; the tag is written last. Manifests are
//! copied as the exact bytes read, so digests never change.
//!
//! Referrers (SBOMs, signatures) go with the image when asked: the
//! registry's referrers API, else the `sha256-<hex>` fallback tag, is read
//! at the source; at a registry destination that does not take them
//! itself (no `OCI-Subject` answer), the fallback tag's index is kept up
//! to date as the distribution spec describes.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{StreamExt as _, TryStreamExt as _};
use oci_spec::image::{Descriptor, MediaType, Platform};
use serde::Serialize;
use windlass_output::Printer;

use crate::artifact::{Artifact, Attached, EMPTY_CONFIG};
use crate::digest::Digest;
use crate::layout::Layout;
use crate::reference::Reference;
use crate::registry::upload::{BlobData, Uploaded, upload_blob};
use crate::registry::{
    Client, INDEX_MEDIA_TYPE, MANIFEST_LIMIT, Manifest, ManifestView, RegistryError, Repo,
    descriptor, digest_of, media_type,
};

/// Where an image is read from.
#[derive(Debug, Clone)]
pub enum Source {
    Layout(Layout),
    Registry(Repo),
}

/// Where an image is written to.
#[derive(Debug, Clone)]
pub enum Target {
    Layout(Layout),
    Registry(Repo),
}

impl Source {
    /// Reads a manifest or index from the source by digest (or, for a
    /// registry, by tag).
    pub async fn manifest(
        &self,
        target: &str,
        hint: Option<&str>,
    ) -> Result<Manifest, RegistryError> {
        match self {
            Source::Registry(repo) => repo.get_manifest(target).await,
            Source::Layout(layout) => {
                let digest: Digest = target.parse().map_err(|e: crate::digest::DigestError| {
                    RegistryError::bad(target, e.to_string())
                })?;
                let bytes = layout.read_blob(&digest, MANIFEST_LIMIT)?;
                Ok(Manifest::from_bytes(bytes, hint))
            }
        }
    }

    /// The referrers of `digest`: the registry's (API or fallback tag), or
    /// the manifests of a layout's index whose `subject` it is.
    pub async fn referrers(&self, digest: &Digest) -> Result<Vec<Descriptor>, RegistryError> {
        match self {
            Source::Registry(repo) => repo.referrers(digest).await,
            Source::Layout(layout) => {
                let mut found = Vec::new();
                for entry in layout.index()?.manifests() {
                    let Ok(entry_digest) = digest_of(entry) else {
                        continue;
                    };
                    let Ok(bytes) = layout.read_blob(&entry_digest, MANIFEST_LIMIT) else {
                        continue;
                    };
                    let manifest = Manifest::from_bytes(bytes, None);
                    let view = manifest.view()?;
                    if view
                        .subject
                        .as_ref()
                        .is_some_and(|s| s.digest().to_string() == digest.to_string())
                    {
                        found.push(referrer_descriptor(&manifest, &view));
                    }
                }
                Ok(found)
            }
        }
    }
}

/// What a transfer moved.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct TransferStats {
    /// Blobs sent (or, into a layout, downloaded).
    pub blobs_sent: u64,
    /// Blobs the destination had already.
    pub blobs_existing: u64,
    /// Blobs mounted from the source repository (same registry).
    pub blobs_mounted: u64,
    /// Bytes of blob data sent, resends included.
    pub bytes_sent: u64,
    /// Uploads resumed or restarted after a failed request.
    pub uploads_resumed: u64,
    /// Manifests and indexes written.
    pub manifests: u64,
    /// Referrer manifests copied.
    pub referrers: u64,
}

/// What `image push` (and `image build --push`) did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PushReport {
    pub source: String,
    /// The destination, pinned: `REGISTRY/REPO@DIGEST`.
    pub destination: String,
    pub digest: Digest,
    pub media_type: String,
    /// The size of the manifest or index.
    pub size: u64,
    /// The tag written, if any.
    pub tag: Option<String>,
    #[serde(flatten)]
    pub stats: TransferStats,
}

/// One transfer from a source to a target.
#[derive(Debug)]
pub struct Transfer {
    pub source: Source,
    pub target: Target,
    jobs: usize,
    /// Only these platforms of an index (empty: all).
    platforms: Vec<Platform>,
    referrers: bool,
    staging: Option<(tempfile::TempDir, Layout)>,
    stats: Arc<Mutex<TransferStats>>,
}

impl Transfer {
    pub fn new(client: &Client, source: Source, target: Target) -> Self {
        Self {
            source,
            target,
            jobs: client.jobs(),
            platforms: Vec::new(),
            referrers: false,
            staging: None,
            stats: Arc::default(),
        }
    }

    /// Copies the referrers of every manifest copied too.
    #[must_use]
    pub fn with_referrers(mut self, referrers: bool) -> Self {
        self.referrers = referrers;
        self
    }

    /// Copies only these platforms' manifests of an index (the index
    /// itself is kept as it is).
    #[must_use]
    pub fn with_platforms(mut self, platforms: Vec<Platform>) -> Self {
        self.platforms = platforms;
        self
    }

    pub fn stats(&self) -> TransferStats {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self, f: impl FnOnce(&mut TransferStats)) {
        f(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Reads a manifest or index from the source by digest (or, for a
    /// registry, by tag).
    pub async fn manifest(
        &self,
        target: &str,
        hint: Option<&str>,
    ) -> Result<Manifest, RegistryError> {
        self.source.manifest(target, hint).await
    }

    /// Copies `root` and everything under it, then writes it at `tag` (if
    /// any) on the target.
    pub async fn copy(&mut self, root: &Manifest, tag: Option<&str>) -> Result<(), RegistryError> {
        if matches!(
            (&self.source, &self.target),
            (Source::Registry(_), Target::Registry(_))
        ) && self.staging.is_none()
        {
            let dir = tempfile::tempdir().map_err(RegistryError::Staging)?;
            let layout = Layout::open_or_create(&dir.path().join("staging"))?;
            self.staging = Some((dir, layout));
        }
        self.copy_tree(root).await?;
        if let Some(tag) = tag {
            self.put(root, Some(tag)).await?;
        }
        Ok(())
    }

    /// A manifest with its blobs, or an index with its manifests; then the
    /// referrers of each.
    async fn copy_tree(&self, manifest: &Manifest) -> Result<(), RegistryError> {
        let view = manifest.view()?;
        if manifest.is_index() {
            for child in &view.manifests {
                if !self.wanted(child) {
                    continue;
                }
                let child_manifest = self
                    .manifest(child.digest().as_ref(), Some(child.media_type().as_ref()))
                    .await?;
                Box::pin(self.copy_tree(&child_manifest)).await?;
            }
        } else {
            self.blobs(&view).await?;
        }
        self.put(manifest, None).await?;
        if self.referrers {
            self.copy_referrers(&manifest.digest).await?;
        }
        Ok(())
    }

    fn wanted(&self, child: &Descriptor) -> bool {
        if self.platforms.is_empty() {
            return true;
        }
        let Some(platform) = child.platform() else {
            return false;
        };
        self.platforms.iter().any(|want| {
            want.os() == platform.os()
                && want.architecture() == platform.architecture()
                && (want.variant().is_none() || want.variant() == platform.variant())
        })
    }

    /// The config and layers of a manifest, each once, `jobs` at a time.
    async fn blobs(&self, view: &ManifestView) -> Result<(), RegistryError> {
        let mut seen = BTreeSet::new();
        let blobs: Vec<&Descriptor> = view
            .config
            .iter()
            .chain(&view.layers)
            .filter(|d| seen.insert(d.digest().to_string()))
            .collect();
        futures_util::stream::iter(blobs.into_iter().map(|d| self.blob(d)))
            .buffer_unordered(self.jobs)
            .try_collect::<()>()
            .await
    }

    async fn blob(&self, desc: &Descriptor) -> Result<(), RegistryError> {
        let digest = digest_of(desc)?;
        let size = desc.size();
        match (&self.source, &self.target) {
            (Source::Layout(from), Target::Registry(to)) => {
                let data = BlobData::File(from.blob_path(&digest));
                let result = upload_blob(to, &digest, size, &data, None).await?;
                self.record(result);
            }
            (Source::Registry(from), Target::Registry(to)) => {
                let staging = &self
                    .staging
                    .as_ref()
                    .map(|(_, l)| l.clone())
                    .ok_or_else(|| {
                        RegistryError::Staging(std::io::Error::other("no staging layout"))
                    })?;
                let data = BlobData::Fetch { from, staging };
                let result = upload_blob(to, &digest, size, &data, Some(from)).await?;
                self.record(result);
            }
            (Source::Registry(from), Target::Layout(to)) => {
                if to.has_blob(&digest) {
                    self.count(|s| s.blobs_existing += 1);
                } else {
                    let writer = to.blob_writer()?;
                    let writer = from.download_blob(&digest, size, writer).await?;
                    writer.commit()?;
                    self.count(|s| {
                        s.blobs_sent += 1;
                        s.bytes_sent += size;
                    });
                }
            }
            (Source::Layout(from), Target::Layout(to)) => {
                if to.has_blob(&digest) {
                    self.count(|s| s.blobs_existing += 1);
                } else {
                    let mut file = from.open_blob(&digest)?.into_file();
                    let mut writer = to.blob_writer()?;
                    std::io::copy(&mut file, &mut writer).map_err(RegistryError::Staging)?;
                    let (actual, _) = writer.commit()?;
                    if actual != digest {
                        return Err(RegistryError::DigestMismatch {
                            what: format!("blob in {}", from.root().display()),
                            expected: digest,
                            actual,
                        });
                    }
                    self.count(|s| {
                        s.blobs_sent += 1;
                        s.bytes_sent += size;
                    });
                }
            }
        }
        Ok(())
    }

    fn record(&self, result: Uploaded) {
        self.count(|s| match result {
            Uploaded::Existed => s.blobs_existing += 1,
            Uploaded::Mounted => s.blobs_mounted += 1,
            Uploaded::Sent { bytes, resumed } => {
                s.blobs_sent += 1;
                s.bytes_sent += bytes;
                s.uploads_resumed += u64::from(resumed);
            }
        });
    }

    /// Writes a manifest by digest (or at `tag`).
    async fn put(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, RegistryError> {
        self.count(|s| {
            if tag.is_none() {
                s.manifests += 1;
            }
        });
        match &self.target {
            Target::Registry(repo) => {
                let target = tag.map_or_else(|| manifest.digest.to_string(), str::to_owned);
                Ok(repo
                    .put_manifest(&target, manifest)
                    .await?
                    .subject_processed)
            }
            Target::Layout(layout) => {
                layout.write_blob(&manifest.bytes)?;
                if let Some(tag) = tag {
                    layout.set_tag(manifest.descriptor(), Some(tag))?;
                }
                Ok(false)
            }
        }
    }

    async fn copy_referrers(&self, subject: &Digest) -> Result<(), RegistryError> {
        for referrer in self.source.referrers(subject).await? {
            let manifest = self
                .manifest(
                    referrer.digest().as_ref(),
                    Some(referrer.media_type().as_ref()),
                )
                .await?;
            // A referrer's own blobs and manifest; its referrers are not
            // followed (signatures of signatures stay behind).
            let view = manifest.view()?;
            self.blobs(&view).await?;
            let processed = self.put(&manifest, None).await?;
            self.count(|s| s.referrers += 1);
            match &self.target {
                Target::Registry(repo) if !processed => {
                    add_to_fallback_tag(repo, subject, referrer_descriptor(&manifest, &view))
                        .await?;
                }
                Target::Registry(_) => {}
                Target::Layout(layout) => layout.set_tag(manifest.descriptor(), None)?,
            }
        }
        Ok(())
    }
}

/// The descriptor of a referrer in a referrers index: its artifact type
/// (or config media type) and annotations.
fn referrer_descriptor(manifest: &Manifest, view: &ManifestView) -> Descriptor {
    let mut desc = manifest.descriptor();
    let artifact_type = view
        .artifact_type
        .clone()
        .or_else(|| view.config.as_ref().map(|c| c.media_type().to_string()));
    desc.set_artifact_type(artifact_type.map(|t| media_type(&t)));
    desc.set_annotations(view.annotations.clone().map(|a| a.into_iter().collect()));
    desc
}

/// Adds `referrer` to the index at the `sha256-<hex>` tag of `subject`
/// (creating it), as the spec's fallback for registries without the
/// referrers API.
async fn add_to_fallback_tag(
    repo: &Repo,
    subject: &Digest,
    referrer: Descriptor,
) -> Result<bool, RegistryError> {
    let tag = subject.referrers_tag();
    let mut manifests = match repo.get_manifest(&tag).await {
        Ok(index) => index.view()?.manifests,
        Err(RegistryError::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    if manifests.iter().any(|d| d.digest() == referrer.digest()) {
        return Ok(false);
    }
    manifests.push(referrer);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": manifests,
    });
    let bytes = serde_json::to_vec(&index).unwrap_or_default();
    let manifest = Manifest::from_bytes(bytes, Some(INDEX_MEDIA_TYPE));
    repo.put_manifest(&tag, &manifest).await?;
    Ok(true)
}

/// Pushes the image `root` of `layout` (with everything under it and its
/// referrers in the layout) to `destination`; the tag of `destination`, if
/// any, is written last.
pub async fn push_from_layout(
    client: &Client,
    layout: &Layout,
    root: &Descriptor,
    destination: &Reference,
    printer: &Printer,
) -> Result<PushReport, RegistryError> {
    let repo = client.repo(destination).await?;
    let mut transfer = Transfer::new(
        client,
        Source::Layout(layout.clone()),
        Target::Registry(repo),
    )
    .with_referrers(true);
    let digest = digest_of(root)?;
    let manifest = transfer
        .manifest(&digest.to_string(), Some(root.media_type().as_ref()))
        .await?;
    if let Some(pinned) = &destination.digest
        && pinned != &manifest.digest
    {
        return Err(RegistryError::DigestMismatch {
            what: format!("push to {destination}"),
            expected: pinned.clone(),
            actual: manifest.digest,
        });
    }
    printer.status(
        "Pushing",
        &format!("{} to {}", manifest.digest, destination),
    );
    transfer.copy(&manifest, destination.tag.as_deref()).await?;
    Ok(PushReport {
        source: format!("oci:{}", layout.root().display()),
        destination: destination.with_digest(manifest.digest.clone()).to_string(),
        digest: manifest.digest.clone(),
        media_type: manifest.media_type.clone(),
        size: manifest.bytes.len() as u64,
        tag: destination.tag.clone(),
        stats: transfer.stats(),
    })
}

/// Pulls `reference` into `layout` (only `platforms` of an index, all
/// when empty; the index itself is stored as it is) and returns the
/// descriptor of what it points at, which is added to the layout's index
/// untagged.
pub async fn pull_into_layout(
    client: &Client,
    reference: &Reference,
    platforms: &[Platform],
    layout: &Layout,
) -> Result<Descriptor, RegistryError> {
    let repo = client.repo(reference).await?;
    let mut transfer = Transfer::new(
        client,
        Source::Registry(repo),
        Target::Layout(layout.clone()),
    )
    .with_platforms(platforms.to_vec());
    let manifest = transfer.manifest(&reference.target(), None).await?;
    transfer.copy(&manifest, None).await?;
    let desc = manifest.descriptor();
    layout.set_tag(desc.clone(), None)?;
    Ok(desc)
}

/// Attaches `blob` (of type `artifact_type`, e.g. a CycloneDX SBOM) to the
/// image `subject` as a referrer: the blob, an artifact manifest whose
/// `subject` is the image, and (for registries without the referrers API)
/// the `sha256-<hex>` fallback tag. Returns the artifact manifest's
/// descriptor.
pub async fn attach_referrer(
    client: &Client,
    subject_ref: &Reference,
    subject: &Descriptor,
    artifact_type: &str,
    blob: &[u8],
) -> Result<Descriptor, RegistryError> {
    let artifact = Artifact {
        artifact_type,
        blob,
        annotations: std::collections::BTreeMap::new(),
    };
    Ok(attach_artifact(client, subject_ref, subject, &artifact)
        .await?
        .descriptor)
}

/// Attaches `artifact` to the image `subject` (of the repository of
/// `subject_ref`) as a referrer. The blobs and the manifest are only sent
/// when the registry lacks them; the fallback tag's index (for a registry
/// that does not process `subject` itself) keeps every other referrer and
/// gains this one once.
pub async fn attach_artifact(
    client: &Client,
    subject_ref: &Reference,
    subject: &Descriptor,
    artifact: &Artifact<'_>,
) -> Result<Attached, RegistryError> {
    let repo = client.repo(subject_ref).await?;
    let staging_dir = tempfile::tempdir().map_err(RegistryError::Staging)?;
    let staging = Layout::open_or_create(&staging_dir.path().join("artifact"))?;
    let (config_digest, config_size) = staging.write_blob(EMPTY_CONFIG)?;
    let (blob_digest, blob_size) = staging.write_blob(artifact.blob)?;
    let subject_digest = digest_of(subject)?;
    let subject = descriptor(
        subject.media_type().clone(),
        &subject_digest,
        subject.size(),
    );
    let bytes = artifact.manifest_bytes(
        (&config_digest, config_size),
        (&blob_digest, blob_size),
        &subject,
    );
    let manifest = Manifest::from_bytes(bytes, Some(MediaType::ImageManifest.as_ref()));
    let desc = artifact.descriptor(&manifest.bytes, true);
    let mut new = false;
    let subject_processed = if repo
        .head_manifest(&manifest.digest.to_string())
        .await?
        .is_some()
    {
        // Stored already: the referrers API lists it when the registry has
        // one; otherwise the fallback tag is checked below.
        !repo.referrers_api(&subject_digest).await?
    } else {
        for (digest, size) in [(&config_digest, config_size), (&blob_digest, blob_size)] {
            upload_blob(
                &repo,
                digest,
                size,
                &BlobData::File(staging.blob_path(digest)),
                None,
            )
            .await?;
        }
        new = true;
        repo.put_manifest(&manifest.digest.to_string(), &manifest)
            .await?
            .subject_processed
    };
    let mut fallback_tag = None;
    if !subject_processed {
        new |= add_to_fallback_tag(&repo, &subject_digest, desc.clone()).await?;
        fallback_tag = Some(subject_digest.referrers_tag());
    }
    Ok(Attached {
        descriptor: desc,
        new,
        fallback_tag,
    })
}
