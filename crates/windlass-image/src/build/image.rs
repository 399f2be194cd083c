//! Image assembly: the base's layers, the new layers, a config changed as
//! asked, a manifest per platform and an index over them, written to the
//! output layout. Manifests, indexes and configs are written by Windlass
//! as JSON with sorted keys, so two builds of the same inputs give the same
//! bytes and the same digests.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::BuildError;
use super::base::{BaseImage, BaseManifest, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Platform};
use super::layer::{Attrs, Compression, LayerBlob, LayerBuilder, LayerError, LayerOptions};
use super::python::{self, PythonRequest};
use crate::digest::Digest;
use crate::layout::{Layout, LayoutError};
use crate::python::SbomOptions;

/// `org.opencontainers.image.created`.
pub const CREATED: &str = "org.opencontainers.image.created";
/// `org.opencontainers.image.base.name`.
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// `org.opencontainers.image.base.digest`.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// One step that makes a layer.
#[derive(Debug, Clone)]
pub struct Step {
    /// The history's `created_by`: the instruction or what Windlass did.
    pub created_by: String,
    pub kind: StepKind,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    /// Files known now, the same for every platform.
    Files(LayerBuilder),
    /// Python packages installed for each platform's interpreter.
    Python(PythonRequest),
    /// A config change only (`ENV`, `WORKDIR`, ...): a history entry
    /// marked `empty_layer`, as Docker and buildah record it.
    Config,
}

/// Changes to the base's runtime config, applied after the layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigEdits {
    /// Set in order; a later value for a name replaces the earlier one.
    pub env: Vec<(String, String)>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// `8080/tcp`.
    pub expose: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
}

impl ConfigEdits {
    /// Sets `name` (a later value replaces an earlier one).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// `ENTRYPOINT`: as Docker does, it clears a `CMD` inherited from the
    /// base unless a `CMD` is given in the same build.
    pub fn set_entrypoint(&mut self, entrypoint: Vec<String>) {
        self.entrypoint = Some(entrypoint);
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Assembly {
    pub steps: Vec<Step>,
    pub edits: ConfigEdits,
    /// Annotations of every manifest and the index (git, created).
    pub annotations: BTreeMap<String, String>,
    /// `SOURCE_DATE_EPOCH` or the fixed epoch, as RFC 3339.
    pub created: String,
    pub options: LayerOptions,
    /// The wheels of the Python steps, fetched for each platform.
    pub python: python::Fetched,
}

/// One layer the build made, for the report.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct BuiltLayer {
    pub created_by: String,
    #[schemars(with = "String")]
    pub digest: Digest,
    #[schemars(with = "String")]
    pub diff_id: Digest,
    pub size: u64,
    pub media_type: String,
    /// Set when the layer differs between platforms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// One platform's manifest.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct BuiltManifest {
    pub platform: Platform,
    #[schemars(with = "String")]
    pub digest: Digest,
    pub size: u64,
    /// The base manifest it builds on (`None` for `scratch`).
    #[schemars(with = "Option<String>")]
    pub base_digest: Option<Digest>,
    /// The CycloneDX SBOM of its Python packages, attached as a referrer
    /// (when packages were installed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub sbom: Option<Digest>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Built {
    /// The manifest (one platform) or index (several) tagged in the layout.
    pub digest: Digest,
    pub size: u64,
    pub media_type: &'static str,
    pub manifests: Vec<BuiltManifest>,
    pub layers: Vec<BuiltLayer>,
}

/// Builds `assembly` on `base` into `out`.
pub fn assemble(base: &BaseImage, assembly: &Assembly, out: &Layout) -> Result<Built, BuildError> {
    // Platform-independent layers are written once.
    let mut shared: BTreeMap<usize, LayerBlob> = BTreeMap::new();
    for (i, step) in assembly.steps.iter().enumerate() {
        if let StepKind::Files(builder) = &step.kind {
            shared.insert(i, builder.write(out)?);
        }
    }
    let mut layers_report = Vec::new();
    for (i, blob) in &shared {
        layers_report.push(built_layer(&assembly.steps[*i].created_by, blob, None));
    }
    let mut manifests = Vec::new();
    for image in &base.images {
        manifests.push(platform_image(
            base,
            image,
            assembly,
            &shared,
            out,
            &mut layers_report,
        )?);
    }
    let (digest, size, media_type) = match manifests.as_slice() {
        [one] => (one.digest.clone(), one.size, OCI_MANIFEST),
        many => {
            let entries: Vec<Value> = many
                .iter()
                .map(|m| {
                    json!({
                        "mediaType": OCI_MANIFEST,
                        "digest": m.digest.to_string(),
                        "size": m.size,
                        "platform": m.platform.to_json(),
                    })
                })
                .collect();
            let index = json!({
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": entries,
                "annotations": assembly.annotations,
            });
            let (digest, size) = out.write_blob(&to_json(&index))?;
            (digest, size, OCI_INDEX)
        }
    };
    Ok(Built {
        digest,
        size,
        media_type,
        manifests,
        layers: layers_report,
    })
}

/// One platform's config and manifest.
fn platform_image(
    base: &BaseImage,
    image: &BaseManifest,
    assembly: &Assembly,
    shared: &BTreeMap<usize, LayerBlob>,
    out: &Layout,
    layers_report: &mut Vec<BuiltLayer>,
) -> Result<BuiltManifest, BuildError> {
    if let Some(layout) = &base.layout {
        copy_base_layers(layout, out, image)?;
    }
    // Each step in order, with its layer unless it only changes the config.
    let mut layers: Vec<(String, Option<LayerBlob>)> = Vec::new();
    let mut installed = Vec::new();
    for (i, step) in assembly.steps.iter().enumerate() {
        let blob = match &step.kind {
            StepKind::Config => None,
            StepKind::Files(_) => Some(shared[&i].clone()),
            StepKind::Python(_) => {
                let (staging, report) = python::installed(i, &assembly.python, image)?;
                installed.push(report);
                let mut builder = LayerBuilder::new(assembly.options);
                builder.add_tree(staging, "/", Attrs::default(), &|_, _| true)?;
                let blob = builder.write(out)?;
                layers_report.push(built_layer(
                    &step.created_by,
                    &blob,
                    (base.images.len() > 1).then(|| image.platform.to_string()),
                ));
                Some(blob)
            }
        };
        layers.push((step.created_by.clone(), blob));
    }
    let config = edit_config(&image.config, assembly, &layers);
    let (config_digest, config_size) = out.write_blob(&to_json(&config))?;
    let mut annotations = assembly.annotations.clone();
    if let Some(digest) = &image.digest {
        annotations.insert(BASE_DIGEST.into(), digest.to_string());
        if let Some(name) = &base.name {
            annotations.insert(BASE_NAME.into(), name.clone());
        }
    }
    let mut layer_descs: Vec<Value> = image.layers().into_iter().map(oci_layer).collect();
    layer_descs.extend(
        layers
            .iter()
            .filter_map(|(_, blob)| blob.as_ref())
            .map(|blob| {
                json!({
                    "mediaType": blob.media_type,
                    "digest": blob.digest.to_string(),
                    "size": blob.size,
                })
            }),
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": config_digest.to_string(),
            "size": config_size,
        },
        "layers": layer_descs,
        "annotations": annotations,
    });
    let (digest, size) = out.write_blob(&to_json(&manifest))?;
    let sbom = if installed.is_empty() {
        None
    } else {
        let options = SbomOptions {
            // The image the packages are in, by its manifest digest.
            subject: Some(digest.to_string()),
            timestamp: Some(assembly.created.clone()),
        };
        Some(python::attach_sbom(
            out,
            (&digest, size),
            &python::merge(installed),
            &options,
            &assembly.created,
        )?)
    };
    Ok(BuiltManifest {
        platform: image.platform.clone(),
        digest,
        size,
        base_digest: image.digest.clone(),
        sbom,
    })
}

fn built_layer(created_by: &str, blob: &LayerBlob, platform: Option<String>) -> BuiltLayer {
    BuiltLayer {
        created_by: created_by.to_owned(),
        digest: blob.digest.clone(),
        diff_id: blob.diff_id.clone(),
        size: blob.size,
        media_type: blob.media_type.to_owned(),
        platform,
    }
}

/// A base layer's descriptor with Docker's media types read as OCI's (the
/// same bytes).
fn oci_layer(mut desc: Value) -> Value {
    let media_type = desc
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let oci = match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            Some("application/vnd.oci.image.layer.v1.tar+gzip")
        }
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
            Some("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
        }
        _ => None,
    };
    if let Some(oci) = oci {
        desc["mediaType"] = oci.into();
    }
    desc
}

/// Puts the base's layer blobs into `out` (hard links when the layouts
/// share a file system, else copies checked against their digests).
fn copy_base_layers(from: &Layout, out: &Layout, image: &BaseManifest) -> Result<(), BuildError> {
    if same_dir(from.root(), out.root()) {
        return Ok(());
    }
    for layer in image.layers() {
        let Some(digest) = layer
            .get("digest")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<Digest>().ok())
        else {
            continue;
        };
        if out.has_blob(&digest) {
            continue;
        }
        if !from.has_blob(&digest) {
            // A foreign layer the runtime fetches itself.
            let nondistributable = layer
                .get("mediaType")
                .and_then(Value::as_str)
                .is_some_and(|m| m.contains("foreign") || m.contains("nondistributable"));
            if nondistributable {
                continue;
            }
        }
        if std::fs::hard_link(from.blob_path(&digest), out.blob_path(&digest)).is_ok() {
            continue;
        }
        let mut source = from.open_blob(&digest)?;
        let mut writer = out.blob_writer()?;
        std::io::copy(&mut source, &mut writer).map_err(|e| LayoutError::Write {
            path: out.root().to_owned(),
            source: e,
        })?;
        // Commit names the blob by what was read: a mismatch is a corrupt
        // base, never a blob under a wrong name.
        let tmp_digest = {
            let (actual, _) = writer.commit()?;
            actual
        };
        if tmp_digest != digest {
            let _ = std::fs::remove_file(out.blob_path(&tmp_digest));
            return Err(LayoutError::Corrupt {
                path: from.blob_path(&digest),
                digest,
                actual: tmp_digest,
            }
            .into());
        }
    }
    Ok(())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The base config with the edits, the new layers' diff ids and history.
fn edit_config(base: &Value, assembly: &Assembly, layers: &[(String, Option<LayerBlob>)]) -> Value {
    let mut config = match base {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    config.insert("created".into(), assembly.created.clone().into());
    let runtime = config
        .entry("config")
        .or_insert_with(|| Value::Object(Map::new()));
    if !runtime.is_object() {
        *runtime = Value::Object(Map::new());
    }
    if let Value::Object(runtime) = runtime {
        edit_runtime(runtime, &assembly.edits);
    }
    let rootfs = config
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    let new_ids = layers
        .iter()
        .filter_map(|(_, b)| b.as_ref())
        .map(|b| Value::from(b.diff_id.to_string()));
    if let Some(diff_ids) = rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
        diff_ids.extend(new_ids);
    } else {
        rootfs["diff_ids"] = new_ids.collect();
    }
    let history = config
        .entry("history")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(history) = history {
        for (created_by, blob) in layers {
            let mut entry = json!({
                "created": assembly.created,
                "created_by": created_by,
                "comment": "windlass image build",
            });
            if blob.is_none() {
                entry["empty_layer"] = true.into();
            }
            history.push(entry);
        }
    }
    Value::Object(config)
}

/// The runtime `config` object with the edits.
fn edit_runtime(runtime: &mut Map<String, Value>, edits: &ConfigEdits) {
    if !edits.env.is_empty() {
        let mut env: Vec<String> = runtime
            .get("Env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        for (name, value) in &edits.env {
            let entry = format!("{name}={value}");
            match env
                .iter_mut()
                .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == name)
            {
                Some(old) => *old = entry,
                None => env.push(entry),
            }
        }
        runtime.insert("Env".into(), env.into());
    }
    if let Some(entrypoint) = &edits.entrypoint {
        runtime.insert("Entrypoint".into(), entrypoint.clone().into());
        if edits.cmd.is_none() {
            runtime.remove("Cmd");
        }
    }
    if let Some(cmd) = &edits.cmd {
        runtime.insert("Cmd".into(), cmd.clone().into());
    }
    for (key, value) in [
        ("WorkingDir", &edits.workdir),
        ("User", &edits.user),
        ("StopSignal", &edits.stop_signal),
    ] {
        if let Some(value) = value {
            runtime.insert(key.into(), value.clone().into());
        }
    }
    for (key, values) in [("ExposedPorts", &edits.expose), ("Volumes", &edits.volumes)] {
        if values.is_empty() {
            continue;
        }
        let set = runtime
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        if !set.is_object() {
            *set = Value::Object(Map::new());
        }
        if let Value::Object(set) = set {
            for value in values {
                set.insert(value.clone(), json!({}));
            }
        }
    }
    if !edits.labels.is_empty() {
        let labels = runtime
            .entry("Labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if !labels.is_object() {
            *labels = Value::Object(Map::new());
        }
        if let Value::Object(labels) = labels {
            for (k, v) in &edits.labels {
                labels.insert(k.clone(), v.clone().into());
            }
        }
    }
}

pub(super) fn to_json(value: &Value) -> Vec<u8> {
    // A `Value` always serialises; its maps are sorted.
    serde_json::to_vec(value).unwrap_or_else(|_| unreachable!("a JSON value"))
}

/// Seconds since the epoch as RFC 3339 (`1970-01-01T00:00:00Z`).
pub fn rfc3339(secs: u64) -> String {
    let (y, m, d) = windlass_dist::archive::civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The compression and time of the build's layers.
pub fn layer_options(compression: Compression, mtime: u64) -> LayerOptions {
    LayerOptions { mtime, compression }
}

impl From<LayerError> for BuildError {
    fn from(e: LayerError) -> Self {
        Self::Layer(e)
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn dates() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (315_532_800, "1980-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
        ] {
            assert_eq!(rfc3339(secs), want);
        }
    }
}
