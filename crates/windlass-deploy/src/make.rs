//! Making a bundle from what was just built, and the values documents an
//! environment hands to Helm.
//!
//! [`make_bundle`] merges the application values (`[deploy] values` files in
//! order as Helm merges `-f` files, then `set`), pins every image of
//! `[deploy.images]` by digest (a digest given on the command line, an OCI
//! layout read, or a tag resolved once through the registry), and records
//! the source commit. [`environment_values`] writes a bundle's images into
//! its values and adds the environment's own values and secrets.
//!
//! This module never resolves a tag more than once per bundle, never records
//! an environment's values or a secret in a bundle, and never reads a values
//! file that is not a regular file.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{Map, Value};
use windlass_image::registry::{Client, RegistryError};
use windlass_image::{Digest, Layout, Location, Reference};
use windlass_redact::Secret;

use crate::bundle::{Bundle, ChartRef, ImageRef, SourceRef};
use crate::config::{DeploySection, EnvironmentSpec};

/// The most a values file may hold.
pub const VALUES_FILE_LIMIT: u64 = 16 << 20;

/// What a bundle is made from.
#[derive(Debug, Clone)]
pub struct MakeRequest<'a> {
    pub deploy: &'a DeploySection,
    /// Where `windlass.toml` is: values files and `oci:` layouts are
    /// relative to it, and git is asked about it.
    pub project_dir: &'a Path,
    /// The chart, resolved (and its archive digested) by the caller.
    pub chart: ChartRef,
    /// The `--image NAME=REF` flags.
    pub images: Vec<ImageInput>,
}

/// `--image NAME=REF`: `NAME=REGISTRY/REPO@sha256:...`,
/// `NAME=REGISTRY/REPO:TAG` or `NAME=oci:DIR[:TAG]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInput {
    /// A key of `[deploy.images]`.
    pub name: String,
    pub location: Location,
}

impl FromStr for ImageInput {
    type Err = MakeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| MakeError::ImageFlag {
            flag: s.to_owned(),
            why,
        };
        let (name, reference) = s
            .split_once('=')
            .ok_or_else(|| bad("give `NAME=REFERENCE`".into()))?;
        if name.is_empty() {
            return Err(bad("the image name before `=` is empty".into()));
        }
        let location = reference.parse().map_err(|e| bad(format!("{e}")))?;
        Ok(Self {
            name: name.to_owned(),
            location,
        })
    }
}

/// Finds the digest a registry reference's tag points at. The command
/// layer passes [`RegistryResolver`]; tests may pass their own.
pub trait ImageResolver {
    /// The digest of the manifest `reference` names.
    fn resolve(
        &self,
        reference: &Reference,
    ) -> impl Future<Output = Result<Digest, ResolveError>> + Send;
}

/// Why a tag could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("the registry has no manifest at that tag")]
    NotFound,
    #[error(transparent)]
    Registry(Box<RegistryError>),
}

/// [`ImageResolver`] through windlass-image's registry client (a `HEAD` of
/// the manifest; credentials as `windlass image` finds them).
#[derive(Debug, Clone)]
pub struct RegistryResolver {
    client: Client,
}

impl RegistryResolver {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The resolver the command layer uses: windlass-image's client
    /// configured from `windlass.toml` (`[http]`, `[image.registries]` with
    /// the passwords of the registries that `images` name by tag resolved)
    /// and the credential files of the environment, as `windlass image`
    /// opens it.
    pub async fn open(
        context: &windlass_image::cli::Context,
        printer: &windlass_output::Printer,
        images: &[ImageInput],
    ) -> anyhow::Result<Self> {
        let registries: Vec<&str> = images
            .iter()
            .filter_map(|input| match &input.location {
                Location::Registry(reference) if reference.digest.is_none() => {
                    Some(reference.registry.as_str())
                }
                _ => None,
            })
            .collect();
        let client = windlass_image::registry::open_client(
            context,
            &windlass_image::registry::TransferArgs { jobs: 1 },
            printer,
            &registries,
        )
        .await?;
        Ok(Self { client })
    }
}

impl From<RegistryError> for ResolveError {
    fn from(error: RegistryError) -> Self {
        Self::Registry(Box::new(error))
    }
}

impl ImageResolver for RegistryResolver {
    async fn resolve(&self, reference: &Reference) -> Result<Digest, ResolveError> {
        let repo = self.client.repo(reference).await?;
        let descriptor = repo
            .head_manifest(&reference.target())
            .await?
            .ok_or(ResolveError::NotFound)?;
        Ok(windlass_image::registry::digest_of(&descriptor)?)
    }
}

/// Why a bundle (or an environment's values) could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error("`--image {flag}` cannot be read: {why}")]
    ImageFlag { flag: String, why: String },
    #[error("`--image {name}=...`: no image `{name}` in `[deploy.images]` (known: {known})")]
    UnknownImage { name: String, known: String },
    #[error("`--image {name}` is given twice")]
    DuplicateImage { name: String },
    #[error("image `{name}` has no digest")]
    MissingImage { name: String },
    #[error("image `{name}`: cannot resolve `{reference}`")]
    Resolve {
        name: String,
        reference: String,
        #[source]
        source: ResolveError,
    },
    #[error("image `{name}`: cannot read the layout `{}`", dir.display())]
    Layout {
        name: String,
        dir: PathBuf,
        #[source]
        source: Box<windlass_image::layout::LayoutError>,
    },
    #[error("cannot read the values file `{}`", path.display())]
    ReadValues {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("the values file `{}` is not YAML: {why}", path.display())]
    ParseValues { path: PathBuf, why: String },
    #[error("the values file `{}` must hold a map at its top (it holds {kind})", path.display())]
    ValuesNotMap { path: PathBuf, kind: &'static str },
    #[error("`{table}` key `{key}` is not a dotted key path")]
    BadKey { table: String, key: String },
}

impl MakeError {
    /// What to do about it, when we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::MissingImage { name } => Some(format!(
                "give `--image {name}=REGISTRY/REPO@sha256:...`, `--image {name}=oci:DIR[:TAG]` \
                 or `--image {name}=REGISTRY/REPO:TAG` (resolved once, now)"
            )),
            Self::UnknownImage { .. } => {
                Some("declare it as `[deploy.images.NAME]` in windlass.toml".into())
            }
            Self::Resolve { .. } => {
                Some("check the tag was pushed, or give the digest `@sha256:...`".into())
            }
            Self::ReadValues { source, .. } => source.hint().map(str::to_owned),
            _ => None,
        }
    }
}

impl windlass_diagnostic::Diagnostic for MakeError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        match self {
            Self::Resolve {
                source: ResolveError::Registry(e),
                ..
            } => e.exit_status(),
            _ => windlass_diagnostic::ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        MakeError::hint(self)
    }
}

/// Makes the bundle: values merged, every image pinned, the source commit.
pub async fn make_bundle<R: ImageResolver>(
    request: &MakeRequest<'_>,
    resolver: &R,
) -> Result<Bundle, MakeError> {
    let deploy = request.deploy;
    let mut given: BTreeMap<&str, &Location> = BTreeMap::new();
    for input in &request.images {
        if !deploy.images.contains_key(&input.name) {
            let known = if deploy.images.is_empty() {
                "none".to_owned()
            } else {
                deploy
                    .images
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(MakeError::UnknownImage {
                name: input.name.clone(),
                known,
            });
        }
        if given.insert(&input.name, &input.location).is_some() {
            return Err(MakeError::DuplicateImage {
                name: input.name.clone(),
            });
        }
    }

    let mut images = BTreeMap::new();
    for (name, spec) in &deploy.images {
        let Some(location) = given.get(name.as_str()) else {
            return Err(MakeError::MissingImage { name: name.clone() });
        };
        let image =
            match location {
                Location::Registry(reference) => {
                    let repository = format!("{}/{}", reference.registry, reference.repository);
                    if let Some(digest) = &reference.digest {
                        ImageRef {
                            repository,
                            digest: digest.to_string(),
                            tag: reference.tag.clone(),
                        }
                    } else {
                        // A tag is resolved here, once: the bundle keeps the digest.
                        let digest = resolver.resolve(reference).await.map_err(|source| {
                            MakeError::Resolve {
                                name: name.clone(),
                                reference: reference.to_string(),
                                source,
                            }
                        })?;
                        ImageRef {
                            repository,
                            digest: digest.to_string(),
                            tag: Some(reference.tag.clone().unwrap_or_else(|| "latest".into())),
                        }
                    }
                }
                Location::Layout { dir, tag } => {
                    let dir = request.project_dir.join(dir);
                    let layout_error =
                        |source: windlass_image::layout::LayoutError| MakeError::Layout {
                            name: name.clone(),
                            dir: dir.clone(),
                            source: Box::new(source),
                        };
                    let descriptor = Layout::open(&dir)
                        .and_then(|layout| layout.resolve(tag.as_deref()))
                        .map_err(layout_error)?;
                    ImageRef {
                        repository: spec.repository.clone(),
                        digest: descriptor.digest().to_string(),
                        tag: tag.clone(),
                    }
                }
            };
        images.insert(name.clone(), image);
    }

    let values = merged_values(
        "[deploy] set",
        request.project_dir,
        &deploy.values,
        &deploy.set,
    )?;
    let source = git_source(request.project_dir).await;
    Ok(Bundle {
        chart: request.chart.clone(),
        images,
        values,
        source,
    })
}

/// The documents handed to Helm for `environment`, in order: the bundle's
/// values with its images written in (each under its `values-key`:
/// `.repository`, `.digest`, `.tag` when known, `.reference`), the
/// environment's values files, its `set` values, then its resolved
/// `secret-values` (last, so nothing overrides them; never recorded).
/// `secrets` holds the resolved `secret-values`, keyed as in the
/// configuration.
pub fn environment_values(
    environment: &EnvironmentSpec,
    deploy: &DeploySection,
    project_dir: &Path,
    bundle: &Bundle,
    secrets: &BTreeMap<String, Secret<String>>,
) -> Result<Vec<Value>, MakeError> {
    let mut documents = Vec::new();

    let mut base = bundle.values.clone();
    if !base.is_object() {
        base = Value::Object(Map::new());
    }
    for (name, image) in &bundle.images {
        let key = deploy
            .images
            .get(name)
            .and_then(|spec| spec.values_key.clone())
            .unwrap_or_else(|| format!("images.{}", escape_key(name)));
        let path = split_key(&key).ok_or_else(|| MakeError::BadKey {
            table: format!("[deploy.images.{name}] values-key"),
            key: key.clone(),
        })?;
        let mut written = Map::new();
        written.insert("repository".into(), image.repository.clone().into());
        written.insert("digest".into(), image.digest.clone().into());
        if let Some(tag) = &image.tag {
            written.insert("tag".into(), tag.clone().into());
        }
        written.insert("reference".into(), image.reference().into());
        let mut overlay = Value::Object(Map::new());
        set_path(&mut overlay, &path, Value::Object(written));
        merge(&mut base, overlay);
    }
    documents.push(base);

    for file in &environment.values {
        documents.push(read_values(&file.resolve(project_dir))?);
    }
    if !environment.set.is_empty() {
        documents.push(set_document("set", &environment.set)?);
    }
    if !secrets.is_empty() {
        let mut doc = Value::Object(Map::new());
        for (key, value) in secrets {
            let path = split_key(key).ok_or_else(|| MakeError::BadKey {
                table: "secret-values".into(),
                key: key.clone(),
            })?;
            set_path(&mut doc, &path, Value::String(value.expose().clone()));
        }
        documents.push(doc);
    }
    Ok(documents)
}

/// Values files merged in order, then `set` applied.
fn merged_values(
    table: &str,
    project_dir: &Path,
    files: &[windlass_config::RelativePath],
    set: &BTreeMap<String, toml::Value>,
) -> Result<Value, MakeError> {
    let mut values = Value::Object(Map::new());
    for file in files {
        merge(&mut values, read_values(&file.resolve(project_dir))?);
    }
    merge(&mut values, set_document(table, set)?);
    Ok(values)
}

/// One values file: YAML with a map at its top (an empty file is an empty
/// map), read through windlass-fs (regular files only, bounded).
pub fn read_values(path: &Path) -> Result<Value, MakeError> {
    let text = windlass_fs::read_to_string(path, VALUES_FILE_LIMIT).map_err(|source| {
        MakeError::ReadValues {
            path: path.to_owned(),
            source,
        }
    })?;
    let value: Value = serde_yaml_ng::from_str(&text).map_err(|e| MakeError::ParseValues {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(MakeError::ValuesNotMap {
            path: path.to_owned(),
            kind: kind(&other),
        }),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// `set` values as one document.
fn set_document(table: &str, set: &BTreeMap<String, toml::Value>) -> Result<Value, MakeError> {
    let mut doc = Value::Object(Map::new());
    for (key, value) in set {
        let path = split_key(key).ok_or_else(|| MakeError::BadKey {
            table: table.to_owned(),
            key: key.clone(),
        })?;
        set_path(&mut doc, &path, toml_to_json(value));
    }
    Ok(doc)
}

/// Merges `overlay` into `base` as Helm merges `-f` files: maps are merged
/// key by key, recursively; anything else in `overlay` replaces what
/// `base` holds.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value);
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// `a.b.c` as `["a", "b", "c"]`; `\.` is a dot inside a key. `None` for an
/// empty key or an empty part.
pub fn split_key(key: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('.') => current.push('.'),
                Some(other) => {
                    current.push('\\');
                    current.push(other);
                }
                None => current.push('\\'),
            },
            '.' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    if parts.iter().any(String::is_empty) {
        return None;
    }
    Some(parts)
}

fn escape_key(key: &str) -> String {
    key.replace('.', "\\.")
}

/// Sets `value` at `path`, making maps on the way (replacing anything that
/// is not a map).
fn set_path(doc: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = doc;
    for part in parents {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else {
            return;
        };
        node = map
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        map.insert(last.clone(), value);
    }
}

fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// `HEAD`'s commit and the `origin` URL without user info; none outside a
/// git work tree (or without git).
pub async fn git_source(dir: &Path) -> Option<SourceRef> {
    use windlass_image::build::git::git;
    let commit = git(dir, &["rev-parse", "--verify", "HEAD"]).await?;
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let repository = match git(dir, &["remote", "get-url", "origin"]).await {
        Some(url) => windlass_image::build::git::public_url(&url),
        None => None,
    };
    Some(SourceRef { repository, commit })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_as_helm() {
        let mut base = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": {"f": 1}});
        merge(
            &mut base,
            json!({"a": {"c": [3], "g": true}, "d": {"now": "map"}, "e": null}),
        );
        assert_eq!(
            base,
            json!({"a": {"b": 1, "c": [3], "g": true}, "d": {"now": "map"}, "e": null})
        );
    }

    #[test]
    fn dotted_keys() {
        assert_eq!(split_key("a.b.c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_key(r"ingress.annotations.kubernetes\.io/tls").unwrap(),
            ["ingress", "annotations", "kubernetes.io/tls"]
        );
        assert_eq!(split_key("plain").unwrap(), ["plain"]);
        assert!(split_key("").is_none());
        assert!(split_key("a..b").is_none());
        assert!(split_key(".a").is_none());
    }

    #[test]
    fn set_path_replaces_scalars_on_the_way() {
        let mut doc = json!({"a": 1});
        set_path(&mut doc, &["a".into(), "b".into()], json!(2));
        assert_eq!(doc, json!({"a": {"b": 2}}));
    }

    /// Never asked: every image here has a digest.
    struct NoRegistry;

    impl ImageResolver for NoRegistry {
        async fn resolve(&self, reference: &Reference) -> Result<Digest, ResolveError> {
            panic!("asked to resolve {reference}")
        }
    }

    fn section(text: &str) -> DeploySection {
        toml::from_str(text).unwrap()
    }

    #[tokio::test]
    async fn an_image_given_twice() {
        let deploy = section("[images.job]\nrepository = \"r.test/job\"\n");
        let dir = tempfile::tempdir().unwrap();
        let flag = format!("job=r.test/job@sha256:{}", "a".repeat(64));
        let request = MakeRequest {
            deploy: &deploy,
            project_dir: dir.path(),
            chart: crate::bundle::ChartRef {
                name: "c".into(),
                version: "1".into(),
                location: "c".into(),
                digest: "sha256:0".into(),
            },
            images: vec![flag.parse().unwrap(), flag.parse().unwrap()],
        };
        let error = make_bundle(&request, &NoRegistry).await.unwrap_err();
        assert_eq!(error.to_string(), "`--image job` is given twice");

        let request = MakeRequest {
            images: vec![flag.parse().unwrap()],
            ..request
        };
        let bundle = make_bundle(&request, &NoRegistry).await.unwrap();
        assert_eq!(bundle.images["job"].tag, None);
        assert_eq!(bundle.values, json!({}));

        // A values key that is not a dotted path.
        let bad = section("[images.job]\nrepository = \"r.test/job\"\nvalues-key = \"a..b\"\n");
        let error = environment_values(
            &EnvironmentSpec::default(),
            &bad,
            dir.path(),
            &bundle,
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`[deploy.images.job] values-key` key `a..b` is not a dotted key path"
        );
        // Without secrets or environment values: one document.
        let docs = environment_values(
            &EnvironmentSpec::default(),
            &deploy,
            dir.path(),
            &bundle,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0]["images"]["job"]["reference"],
            json!(format!("r.test/job@sha256:{}", "a".repeat(64)))
        );
    }

    #[test]
    fn image_flags() {
        let input: ImageInput = "job=registry.test:5000/ml/job:v1".parse().unwrap();
        assert_eq!(input.name, "job");
        assert!(matches!(input.location, Location::Registry(_)));
        let input: ImageInput = "job=oci:build/out:v1".parse().unwrap();
        assert_eq!(
            input.location,
            Location::Layout {
                dir: "build/out".into(),
                tag: Some("v1".into())
            }
        );
        assert!("job".parse::<ImageInput>().is_err());
        assert!("=x".parse::<ImageInput>().is_err());
    }
}
