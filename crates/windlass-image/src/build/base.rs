//! The base image: found in an OCI layout (a registry base is pulled into
//! one first), one manifest and config per platform asked for.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde_json::Value;

use crate::digest::Digest;
use crate::layout::{Layout, LayoutError};
use crate::reference::Location;

/// The largest manifest, index or config read.
pub const JSON_LIMIT: u64 = 16 * windlass_fs::MIB;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of this machine, as Go names it.
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// Whether an image for `offered` runs on `self` (`arm64` matches
    /// `arm64/v8`; a missing variant matches any).
    pub fn matches(&self, offered: &Self) -> bool {
        self.os == offered.os
            && self.architecture == offered.architecture
            && match (&self.variant, &offered.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    fn of_json(value: &Value) -> Option<Self> {
        Some(Self {
            os: value.get("os")?.as_str()?.to_owned(),
            architecture: value.get("architecture")?.as_str()?.to_owned(),
            variant: value
                .get("variant")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// The `platform` object of an index entry.
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("architecture".into(), self.architecture.clone().into());
        map.insert("os".into(), self.os.clone().into());
        if let Some(v) = &self.variant {
            map.insert("variant".into(), v.clone().into());
        }
        Value::Object(map)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl From<Platform> for String {
    fn from(p: Platform) -> Self {
        p.to_string()
    }
}

impl schemars::JsonSchema for Platform {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Platform".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

/// A platform that is not `os/arch[/variant]`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a platform: write `os/arch[/variant]`, such as `linux/arm64`")]
pub struct PlatformError(String);

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        let parts: Vec<&str> = s.trim().split('/').collect();
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Self {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Self {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: Some((*variant).into()),
            }),
            _ => Err(PlatformError(
                windlass_output::escape_controls(s).into_owned(),
            )),
        }
    }
}

/// One platform's image of the base.
#[derive(Debug, Clone)]
pub struct BaseManifest {
    pub platform: Platform,
    /// `None` for `scratch`.
    pub digest: Option<Digest>,
    /// The manifest, as JSON.
    pub manifest: Value,
    /// The image config, as JSON: unknown fields are kept.
    pub config: Value,
}

impl BaseManifest {
    /// The base's layer descriptors, as JSON.
    pub fn layers(&self) -> Vec<Value> {
        self.manifest
            .get("layers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// The base image, resolved.
#[derive(Debug)]
pub struct BaseImage {
    /// Where its blobs are (`None` for `scratch`).
    pub layout: Option<Layout>,
    /// The name for `org.opencontainers.image.base.name` (registry bases).
    pub name: Option<String>,
    /// One per platform built, in the order asked.
    pub images: Vec<BaseManifest>,
}

/// Why the base image cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("the base `{base}` is in a registry: this build reads bases from OCI layouts only")]
    Registry { base: String },
    #[error("`{what}` in `{}` is not valid: {why}", layout.display())]
    Invalid {
        layout: PathBuf,
        what: String,
        why: String,
    },
    #[error("the base `{base}` has no image for {wanted} (it has {offered})")]
    NoPlatform {
        base: String,
        wanted: String,
        offered: String,
    },
    #[error("the base `{base}` is not a Linux image manifest or index (media type `{media_type}`)")]
    MediaType { base: String, media_type: String },
}

impl windlass_output::Diagnostic for BaseError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Registry { base } => Some(format!(
                "copy it into a layout first: `skopeo copy docker://{base} oci:base:latest`, \
                 then build `--base oci:base:latest`"
            )),
            Self::NoPlatform { .. } => {
                Some("ask only for platforms the base offers (`--platform`)".into())
            }
            Self::Layout(LayoutError::NoSuchTag { .. }) => {
                Some("name the image with `oci:DIR:TAG`".into())
            }
            _ => None,
        }
    }
}

/// Loads the base at `location` for `platforms` (empty: the base's only
/// platform, or this machine's from an index). This is the one place that
/// knows where bases come from: a registry base has been pulled into a
/// layout first ([`load_pulled`]); here it is refused.
pub fn load(location: Option<&Location>, platforms: &[Platform]) -> Result<BaseImage, BaseError> {
    match location {
        None => Ok(scratch(platforms)),
        Some(Location::Registry(reference)) => Err(BaseError::Registry {
            base: reference.to_string(),
        }),
        Some(Location::Layout { dir, tag }) => {
            let layout = Layout::open(dir)?;
            let descriptor = layout.resolve(tag.as_deref())?;
            let name = location.map(ToString::to_string).unwrap_or_default();
            from_layout(layout, &descriptor, &name, None, platforms)
        }
    }
}

/// Loads a registry base that was pulled into `layout` (`descriptor` is
/// what `name` pointed at): the output is annotated with `name`.
pub fn load_pulled(
    layout: Layout,
    descriptor: &oci_spec::image::Descriptor,
    name: &str,
    platforms: &[Platform],
) -> Result<BaseImage, BaseError> {
    from_layout(layout, descriptor, name, Some(name.to_owned()), platforms)
}

fn from_layout(
    layout: Layout,
    descriptor: &oci_spec::image::Descriptor,
    name: &str,
    annotated_name: Option<String>,
    platforms: &[Platform],
) -> Result<BaseImage, BaseError> {
    let digest = Digest::try_from(descriptor.digest()).map_err(|e| BaseError::Invalid {
        layout: layout.root().to_owned(),
        what: "index.json".into(),
        why: e.to_string(),
    })?;
    let media_type = descriptor.media_type().to_string();
    let images = select(&layout, name, &digest, &media_type, platforms)?;
    Ok(BaseImage {
        layout: Some(layout),
        name: annotated_name,
        images,
    })
}

fn scratch(platforms: &[Platform]) -> BaseImage {
    let platforms = if platforms.is_empty() {
        vec![Platform::host()]
    } else {
        platforms.to_vec()
    };
    BaseImage {
        layout: None,
        name: None,
        images: platforms
            .into_iter()
            .map(|platform| {
                let mut config = serde_json::json!({
                    "architecture": platform.architecture,
                    "os": platform.os,
                    "config": {},
                    "rootfs": {"type": "layers", "diff_ids": []},
                });
                if let Some(v) = &platform.variant {
                    config["variant"] = v.clone().into();
                }
                BaseManifest {
                    platform,
                    digest: None,
                    manifest: serde_json::json!({"layers": []}),
                    config,
                }
            })
            .collect(),
    }
}

fn read_json(layout: &Layout, digest: &Digest, what: &str) -> Result<Value, BaseError> {
    let bytes = layout.read_blob(digest, JSON_LIMIT)?;
    serde_json::from_slice(&bytes).map_err(|e| BaseError::Invalid {
        layout: layout.root().to_owned(),
        what: format!("{what} {digest}"),
        why: e.to_string(),
    })
}

fn digest_of(layout: &Layout, value: &Value, what: &str) -> Result<Digest, BaseError> {
    value
        .get("digest")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .parse()
        .map_err(|e: crate::digest::DigestError| BaseError::Invalid {
            layout: layout.root().to_owned(),
            what: what.to_owned(),
            why: e.to_string(),
        })
}

fn select(
    layout: &Layout,
    name: &str,
    digest: &Digest,
    media_type: &str,
    platforms: &[Platform],
) -> Result<Vec<BaseManifest>, BaseError> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let image = manifest(layout, digest)?;
            match platforms {
                [] => Ok(vec![image]),
                wanted
                    if wanted.iter().all(|p| p.matches(&image.platform)) && wanted.len() == 1 =>
                {
                    Ok(vec![image])
                }
                wanted => Err(BaseError::NoPlatform {
                    base: name.to_owned(),
                    wanted: list(wanted),
                    offered: image.platform.to_string(),
                }),
            }
        }
        OCI_INDEX | DOCKER_LIST => {
            let index = read_json(layout, digest, "index")?;
            let entries: Vec<(Platform, Digest)> = index
                .get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|m| {
                    matches!(
                        m.get("mediaType").and_then(Value::as_str),
                        Some(OCI_MANIFEST | DOCKER_MANIFEST)
                    )
                })
                .filter_map(|m| {
                    let platform = Platform::of_json(m.get("platform")?)?;
                    // Attestation manifests (`unknown/unknown`) are no
                    // platform.
                    (platform.os != "unknown")
                        .then(|| digest_of(layout, m, "index entry").map(|d| (platform, d)))
                })
                .collect::<Result<_, _>>()?;
            let host = [Platform::host()];
            let wanted = if platforms.is_empty() {
                &host[..]
            } else {
                platforms
            };
            let mut out = Vec::new();
            for want in wanted {
                let Some((_, digest)) = entries.iter().find(|(p, _)| want.matches(p)) else {
                    return Err(BaseError::NoPlatform {
                        base: name.to_owned(),
                        wanted: want.to_string(),
                        offered: list(&entries.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()),
                    });
                };
                out.push(manifest(layout, digest)?);
            }
            Ok(out)
        }
        other => Err(BaseError::MediaType {
            base: name.to_owned(),
            media_type: other.to_owned(),
        }),
    }
}

fn manifest(layout: &Layout, digest: &Digest) -> Result<BaseManifest, BaseError> {
    let manifest = read_json(layout, digest, "manifest")?;
    let config_desc = manifest.get("config").cloned().unwrap_or(Value::Null);
    let config_digest = digest_of(layout, &config_desc, &format!("manifest {digest} config"))?;
    let config = read_json(layout, &config_digest, "config")?;
    let platform = Platform::of_json(&config).ok_or_else(|| BaseError::Invalid {
        layout: layout.root().to_owned(),
        what: format!("config {config_digest}"),
        why: "it has no `os` and `architecture`".into(),
    })?;
    Ok(BaseManifest {
        platform,
        digest: Some(digest.clone()),
        manifest,
        config,
    })
}

fn list(platforms: &[Platform]) -> String {
    if platforms.is_empty() {
        return "none".into();
    }
    platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
