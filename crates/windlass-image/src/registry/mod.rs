//! The OCI distribution protocol on `windlass-http`.
//!
//! [`Client`] talks to registries: one [`HttpClient`] per registry host
//! (its own CA file when configured), a `GET /v2/` the first time a host is
//! used (to learn its scheme and how it wants to be authenticated), then
//! anonymous, basic or bearer requests. Bearer tokens are cached per
//! scope, fetched again on a 401 (`insufficient_scope` included), and only
//! ever sent to the registry's own origin: blob downloads follow redirects
//! to storage without credentials ([`Policy::DOWNLOAD`]), and an upload
//! `Location` on another origin gets no `Authorization` header.
//!
//! Every manifest read is checked against its digest (the reference's, and
//! `Docker-Content-Digest` when the registry sends one); every manifest
//! written is checked against the digest the registry answers. Blobs go up
//! through [`upload`] (HEAD first, mount, monolithic or chunked, resumed
//! from the registry's `Range`), and whole images through [`transfer`]
//! (blobs before manifests, children before indexes, digests before tags).

pub mod auth;
pub mod config;
pub mod credentials;
pub mod transfer;
pub mod upload;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use oci_spec::image::{Descriptor, MediaType};
use windlass_http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE,
};
use windlass_http::{HttpClient, HttpConfig, HttpError, Method, Policy, Response, StatusCode};
use windlass_redact::{RedactedUrl, Secret};

use crate::digest::{Digest, HashingWriter};
use crate::reference::Reference;
use crate::registry::auth::{Challenge, Scope, TokenAnswer};
use crate::registry::credentials::{Credential, CredentialError, CredentialFiles, Origin};

pub use crate::registry::transfer::{
    PushReport, TransferStats, attach_artifact, attach_referrer, pull_into_layout, push_from_layout,
};

/// The manifest media types we ask for, OCI and Docker.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// The OCI index media type (what the referrers API answers).
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// The largest manifest read (distribution's own limit).
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// The largest token answer read.
const TOKEN_LIMIT: u64 = 1 << 20;

/// How to reach and log in to one registry, resolved (secrets included).
#[derive(Debug, Clone, Default)]
pub struct HostSettings {
    /// From `windlass.toml`; wins over credential files.
    pub credential: Option<Credential>,
    pub ca_file: Option<PathBuf>,
    pub plain_http: bool,
    pub chunk_size: Option<u64>,
}

/// What a [`Client`] is made from.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub http: HttpConfig,
    /// Per registry (`host[:port]` as references name it).
    pub hosts: BTreeMap<String, HostSettings>,
    /// Docker's and podman's credential files and helpers.
    pub files: CredentialFiles,
    /// Blobs transferred at once.
    pub jobs: usize,
}

/// A registry operation that failed; every variant names what it was
/// doing, never a credential.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{what}")]
    Http {
        what: String,
        #[source]
        source: HttpError,
    },
    #[error("{registry} refused our credentials{}", origin.as_ref().map(|o| format!(" (from {o})")).unwrap_or_default())]
    Unauthorized {
        registry: String,
        origin: Option<Origin>,
    },
    #[error("{registry} asks for credentials and none are configured")]
    NoCredentials { registry: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what}: the registry sent content with digest {actual}, not {expected}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{what}: {why}")]
    BadAnswer { what: String, why: String },
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
    #[error("cannot set up the HTTP client for {registry}")]
    Client {
        registry: String,
        #[source]
        source: windlass_http::BuildError,
    },
    #[error("cannot stage a blob on disk")]
    Staging(#[source] std::io::Error),
}

impl RegistryError {
    fn http(what: impl Into<String>, source: HttpError) -> Self {
        Self::Http {
            what: what.into(),
            source,
        }
    }

    fn bad(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self::BadAnswer {
            what: what.into(),
            why: why.into(),
        }
    }
}

impl windlass_output::Diagnostic for RegistryError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        use windlass_output::ExitStatus;
        match self {
            Self::Http { source, .. } => source.exit_status(),
            Self::NoCredentials { .. }
            | Self::NotFound { .. }
            | Self::Layout(_)
            | Self::Client { .. }
            | Self::Staging(_) => ExitStatus::Usage,
            Self::Credential(e) => e.exit_status(),
            Self::Unauthorized { .. } | Self::DigestMismatch { .. } | Self::BadAnswer { .. } => {
                ExitStatus::Remote
            }
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Http { source, .. } => source.hint(),
            Self::Unauthorized { registry, .. } | Self::NoCredentials { registry } => {
                Some(format!(
                    "set `username` and `password` in `[image.registries.\"{registry}\"]` of windlass.toml, or log in with `podman login` or `docker login`"
                ))
            }
            Self::NotFound { .. } => Some("check the repository, tag and digest".to_owned()),
            Self::Credential(e) => e.hint(),
            _ => None,
        }
    }
}

/// A client for any number of registries. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    hosts: tokio::sync::Mutex<HashMap<String, Arc<Host>>>,
}

/// One registry host as we learnt it.
struct Host {
    registry: String,
    /// `scheme://host[:port]`.
    base: url::Url,
    http: HttpClient,
    chunk_size: Option<u64>,
    challenge: Option<Challenge>,
    credential: Option<(Credential, Origin)>,
    tokens: Mutex<HashMap<Scope, Secret<String>>>,
    /// Held while a token is fetched, so that parallel requests needing
    /// the same scope wait for one token instead of each fetching one.
    token_fetch: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("registry", &self.registry)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                hosts: tokio::sync::Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How many blobs move at once.
    pub fn jobs(&self) -> usize {
        self.inner.config.jobs.max(1)
    }

    /// The repository of `reference` (its registry contacted on first use).
    pub async fn repo(&self, reference: &Reference) -> Result<Repo, RegistryError> {
        let host = self.host(reference).await?;
        Ok(Repo {
            host,
            repository: reference.repository.clone(),
        })
    }

    async fn host(&self, reference: &Reference) -> Result<Arc<Host>, RegistryError> {
        let mut hosts = self.inner.hosts.lock().await;
        if let Some(host) = hosts.get(&reference.registry) {
            return Ok(Arc::clone(host));
        }
        let host = Arc::new(self.connect(reference).await?);
        hosts.insert(reference.registry.clone(), Arc::clone(&host));
        Ok(host)
    }

    /// Builds the host's HTTP client and pings `/v2/`: the scheme (a
    /// loopback registry that answers plain HTTP is talked to so) and the
    /// challenge. Credentials are looked up only when one is asked for.
    async fn connect(&self, reference: &Reference) -> Result<Host, RegistryError> {
        let registry = reference.registry.clone();
        let api = reference.api_host().to_owned();
        let settings = self
            .inner
            .config
            .hosts
            .get(&registry)
            .cloned()
            .unwrap_or_default();
        let mut http_config = self.inner.config.http.clone();
        if let Some(ca) = &settings.ca_file {
            http_config.extra_ca_file = Some(ca.clone());
        }
        if settings.plain_http {
            http_config.insecure_hosts.push(api.clone());
        }
        let http = HttpClient::new(&http_config).map_err(|source| RegistryError::Client {
            registry: registry.clone(),
            source,
        })?;
        let parse = |scheme: &str| {
            url::Url::parse(&format!("{scheme}://{api}/"))
                .map_err(|_| RegistryError::bad(format!("registry `{registry}`"), "not a host"))
        };
        let mut base = parse(if settings.plain_http { "http" } else { "https" })?;
        let ping = |base: &url::Url| {
            let url = RedactedUrl::new(base.join("v2/").unwrap_or_else(|_| base.clone()));
            let http = http.clone();
            async move { http.send(Method::GET, &url, |b| b).await }
        };
        let mut answer = ping(&base).await;
        if let Err(error) = &answer
            && !settings.plain_http
            && error.answers_plain_http()
            && is_loopback(&base)
        {
            tracing::debug!(%registry, "the loopback registry answers plain http");
            base = parse("http")?;
            answer = ping(&base).await;
        }
        let challenge = match answer {
            Ok(_) => None,
            Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) => {
                let response = error.take_response();
                let challenge = response.as_ref().and_then(challenge_of);
                if challenge.is_none() {
                    return Err(RegistryError::bad(
                        format!(
                            "GET {}",
                            base.join("v2/").map(|u| u.to_string()).unwrap_or_default()
                        ),
                        "401 without a Basic or Bearer challenge",
                    ));
                }
                challenge
            }
            Err(error) => {
                return Err(RegistryError::http(
                    format!("cannot reach the registry {registry}"),
                    error,
                ));
            }
        };
        let credential = match (&challenge, settings.credential) {
            (None, _) => None,
            (Some(_), Some(credential)) => Some((credential, Origin::Config)),
            (Some(_), None) => self.inner.config.files.lookup(&registry).await?,
        };
        if let Some((_, origin)) = &credential {
            tracing::debug!(%registry, %origin, "registry credentials");
        }
        Ok(Host {
            registry,
            base,
            http,
            chunk_size: settings.chunk_size.filter(|&n| n > 0),
            challenge,
            credential,
            tokens: Mutex::new(HashMap::new()),
            token_fetch: tokio::sync::Mutex::new(()),
        })
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn challenge_of(response: &Response) -> Option<Challenge> {
    response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Challenge::parse)
}

impl Host {
    /// The `Authorization` header for `scope`, fetching a token when the
    /// registry wants bearer tokens and none is cached (or `refresh`).
    async fn authorization(
        &self,
        scope: &Scope,
        refresh: bool,
    ) -> Result<Option<HeaderValue>, RegistryError> {
        match &self.challenge {
            None => Ok(None),
            Some(Challenge::Basic) => {
                let Some((credential, _)) = &self.credential else {
                    return Err(RegistryError::NoCredentials {
                        registry: self.registry.clone(),
                    });
                };
                Ok(Some(basic_header(credential)))
            }
            Some(Challenge::Bearer { realm, service, .. }) => {
                let cached = || {
                    self.tokens
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(scope)
                        .map(bearer_header)
                };
                if !refresh && let Some(header) = cached() {
                    return Ok(Some(header));
                }
                let _fetching = self.token_fetch.lock().await;
                // Another request may have fetched it while we waited.
                if !refresh && let Some(header) = cached() {
                    return Ok(Some(header));
                }
                let token = self.fetch_token(realm, service.as_deref(), scope).await?;
                let header = bearer_header(&token);
                self.tokens
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(scope.clone(), token);
                Ok(Some(header))
            }
        }
    }

    /// `GET realm?service=&scope=...`, with the basic credential when we
    /// have one (anonymous tokens otherwise).
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &Scope,
    ) -> Result<Secret<String>, RegistryError> {
        let what = format!("cannot get a token for {}", self.registry);
        let mut url = url::Url::parse(realm)
            .map_err(|_| RegistryError::bad(&what, "the token realm is not a URL"))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            for part in scope.parts() {
                query.append_pair("scope", part);
            }
        }
        let url = RedactedUrl::new(url);
        let basic = self.credential.as_ref().map(|(c, _)| basic_header(c));
        let response = self
            .http
            .send(Method::GET, &url, |b| match &basic {
                Some(header) => b.header(AUTHORIZATION, header.clone()),
                None => b,
            })
            .await
            .map_err(|error| {
                if error.status() == Some(StatusCode::UNAUTHORIZED) {
                    RegistryError::Unauthorized {
                        registry: self.registry.clone(),
                        origin: self.credential.as_ref().map(|(_, o)| o.clone()),
                    }
                } else {
                    RegistryError::http(&what, error)
                }
            })?;
        let answer: TokenAnswer =
            windlass_http::read_json(&Method::GET, &url, response, TOKEN_LIMIT)
                .await
                .map_err(|e| RegistryError::http(&what, e))?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::bad(&what, "the answer holds no token"))?;
        Ok(Secret::registered(token))
    }

    /// Whether `url` is on this registry's origin (where its credential
    /// may go).
    fn owns(&self, url: &url::Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// Sends a request with the credential for `scope`; on a 401 with a
    /// bearer challenge the token is fetched again (with the scope the
    /// registry named) and the request sent once more.
    async fn send<F>(
        &self,
        method: Method,
        url: &RedactedUrl,
        scope: &Scope,
        policy: Policy,
        mut build: F,
    ) -> Result<Response, SendError>
    where
        F: FnMut(windlass_http::RequestBuilder) -> windlass_http::RequestBuilder,
    {
        let owned = self.owns(url.expose());
        let mut scope = scope.clone();
        let mut refresh = false;
        loop {
            let header = if owned {
                self.authorization(&scope, refresh)
                    .await
                    .map_err(SendError::Registry)?
            } else {
                None
            };
            let result = self
                .http
                .send_with(method.clone(), url, policy, |b| {
                    let b = build(b);
                    match &header {
                        Some(h) => b.header(AUTHORIZATION, h.clone()),
                        None => b,
                    }
                })
                .await;
            match result {
                Ok(response) => return Ok(response),
                Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) && owned => {
                    let challenge = error.take_response().as_ref().and_then(challenge_of);
                    match challenge {
                        Some(Challenge::Bearer { scope: asked, .. }) if !refresh => {
                            if let Some(asked) = asked {
                                scope = scope.with(&asked);
                            }
                            refresh = true;
                        }
                        _ if self.credential.is_none() => {
                            return Err(SendError::Registry(RegistryError::NoCredentials {
                                registry: self.registry.clone(),
                            }));
                        }
                        _ => {
                            return Err(SendError::Registry(RegistryError::Unauthorized {
                                registry: self.registry.clone(),
                                origin: self.credential.as_ref().map(|(_, o)| o.clone()),
                            }));
                        }
                    }
                }
                Err(error) => return Err(SendError::Http(error)),
            }
        }
    }
}

/// Why [`Host::send`] failed: the HTTP layer (a status, a transport error)
/// or our own refusal (auth).
#[derive(Debug)]
enum SendError {
    Http(HttpError),
    Registry(RegistryError),
}

impl SendError {
    fn into_registry(self, what: impl Into<String>) -> RegistryError {
        match self {
            Self::Http(error) if error.status() == Some(StatusCode::NOT_FOUND) => {
                RegistryError::NotFound { what: what.into() }
            }
            Self::Http(error) => RegistryError::http(what, error),
            Self::Registry(error) => error,
        }
    }

    fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Http(error) => error.status(),
            Self::Registry(_) => None,
        }
    }
}

fn basic_header(credential: &Credential) -> HeaderValue {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        credential.username,
        credential.password.expose()
    ));
    windlass_redact::global().register(&encoded);
    sensitive(&format!("Basic {encoded}"))
}

fn bearer_header(token: &Secret<String>) -> HeaderValue {
    sensitive(&format!("Bearer {}", token.expose()))
}

fn sensitive(value: &str) -> HeaderValue {
    let mut header =
        HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    header.set_sensitive(true);
    header
}

/// A manifest or index as the registry (or a layout) holds it: the exact
/// bytes, their digest and media type.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
}

/// The parts of a manifest or index that the transfer walks.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestView {
    pub media_type: Option<String>,
    pub artifact_type: Option<String>,
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// Parses the parts the transfer needs.
    pub fn view(&self) -> Result<ManifestView, RegistryError> {
        serde_json::from_slice(&self.bytes).map_err(|e| {
            RegistryError::bad(
                format!("manifest {}", self.digest),
                format!("not a manifest or index: {e}"),
            )
        })
    }

    /// Whether this is an index (OCI or Docker list).
    pub fn is_index(&self) -> bool {
        is_index_type(&self.media_type)
    }

    /// The descriptor pointing at this manifest.
    pub fn descriptor(&self) -> Descriptor {
        descriptor(
            media_type(&self.media_type),
            &self.digest,
            self.bytes.len() as u64,
        )
    }

    /// Reads a manifest's media type from its bytes (the `mediaType`
    /// field, else its shape).
    pub fn from_bytes(bytes: Vec<u8>, media_type: Option<&str>) -> Self {
        let digest = Digest::of(&bytes);
        let view: ManifestView = serde_json::from_slice(&bytes).unwrap_or_default();
        let media_type = media_type
            .filter(|m| m.contains("manifest") || m.contains("index"))
            .map(str::to_owned)
            .or(view.media_type.clone())
            .unwrap_or_else(|| {
                if view.manifests.is_empty() {
                    MediaType::ImageManifest.to_string()
                } else {
                    MediaType::ImageIndex.to_string()
                }
            });
        Self {
            bytes,
            digest,
            media_type,
        }
    }
}

/// Whether a media type is an index or a Docker manifest list.
pub fn is_index_type(media_type: &str) -> bool {
    media_type == INDEX_MEDIA_TYPE
        || media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// A descriptor of `digest`.
pub fn descriptor(media_type: MediaType, digest: &Digest, size: u64) -> Descriptor {
    Descriptor::new(media_type, size, oci_spec::image::Digest::from(digest))
}

/// oci-spec's media type for a string (known ones typed, others kept).
pub fn media_type(text: &str) -> MediaType {
    MediaType::from(text)
}

/// The sha256 digest of a descriptor (other algorithms are refused).
pub fn digest_of(descriptor: &Descriptor) -> Result<Digest, RegistryError> {
    Digest::try_from(descriptor.digest()).map_err(|e| {
        RegistryError::bad(format!("descriptor {}", descriptor.digest()), e.to_string())
    })
}

/// One repository on one registry.
#[derive(Debug, Clone)]
pub struct Repo {
    host: Arc<Host>,
    repository: String,
}

/// What a manifest upload answered.
#[derive(Debug, Clone)]
pub struct PutAnswer {
    pub digest: Digest,
    /// The registry processed the `subject` (`OCI-Subject` header): it keeps
    /// the referrers itself.
    pub subject_processed: bool,
}

impl Repo {
    pub fn registry(&self) -> &str {
        &self.host.registry
    }

    /// Where this registry's credential comes from, in words (never the
    /// credential): the origin of the one found, or why there is none.
    pub fn credential_source(&self) -> String {
        match (&self.host.challenge, &self.host.credential) {
            (None, _) => "none (the registry asks for none)".to_owned(),
            (Some(_), Some((_, origin))) => origin.to_string(),
            (Some(_), None) => {
                "none found (the registry asks for credentials: `[image.registries]`, a Docker or podman auth file or a credential helper)".to_owned()
            }
        }
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// Whether `other` is on the same registry (so blobs can be mounted).
    pub fn same_registry(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.host, &other.host)
    }

    /// The blob chunk size configured for the registry.
    pub fn chunk_size(&self) -> Option<u64> {
        self.host.chunk_size
    }

    fn url(&self, path: &str) -> RedactedUrl {
        let text = format!("v2/{}/{path}", self.repository);
        RedactedUrl::new(
            self.host
                .base
                .join(&text)
                .unwrap_or_else(|_| self.host.base.clone()),
        )
    }

    fn manifest_url(&self, target: &str) -> RedactedUrl {
        self.url(&format!("manifests/{target}"))
    }

    /// Sends `method` to `url` on this repository with the pull scope (the
    /// push scope for a `PUT`).
    async fn request<F>(
        &self,
        method: Method,
        url: &RedactedUrl,
        policy: Policy,
        build: F,
    ) -> Result<Response, SendError>
    where
        F: FnMut(windlass_http::RequestBuilder) -> windlass_http::RequestBuilder,
    {
        let scope = if method == Method::PUT {
            Scope::push(&self.repository)
        } else {
            Scope::pull(&self.repository)
        };
        self.host.send(method, url, &scope, policy, build).await
    }

    /// A `GET` or `HEAD` of a manifest (or referrers index) accepting the
    /// media types of `accept`.
    async fn manifest_request(
        &self,
        method: Method,
        url: &RedactedUrl,
        accept: &'static str,
    ) -> Result<Response, SendError> {
        self.request(method, url, Policy::default(), |b| b.header(ACCEPT, accept))
            .await
    }

    fn what(&self, kind: &str, target: &str) -> String {
        let sep = if target.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        format!(
            "{kind} {}/{}{sep}{target}",
            self.host.registry, self.repository
        )
    }

    /// `GET` a manifest by tag or digest, checked against the digest.
    pub async fn get_manifest(&self, target: &str) -> Result<Manifest, RegistryError> {
        let what = self.what("manifest", target);
        let url = self.manifest_url(target);
        let response = self
            .manifest_request(Method::GET, &url, MANIFEST_ACCEPT)
            .await
            .map_err(|e| e.into_registry(&what))?;
        let header_digest = header_digest(&response);
        let content_type = content_type(&response).map(str::to_owned);
        let bytes = windlass_http::read_bytes(&Method::GET, &url, response, MANIFEST_LIMIT)
            .await
            .map_err(|e| RegistryError::http(&what, e))?;
        let manifest = Manifest::from_bytes(bytes, content_type.as_deref());
        let expected = match target.parse::<Digest>() {
            Ok(digest) => Some(digest),
            Err(_) => header_digest,
        };
        if let Some(expected) = expected
            && expected != manifest.digest
        {
            return Err(RegistryError::DigestMismatch {
                what,
                expected,
                actual: manifest.digest,
            });
        }
        Ok(manifest)
    }

    /// `HEAD` a manifest: its descriptor, or `None` when it is not there.
    pub async fn head_manifest(&self, target: &str) -> Result<Option<Descriptor>, RegistryError> {
        let what = self.what("manifest", target);
        let url = self.manifest_url(target);
        let answer = self
            .manifest_request(Method::HEAD, &url, MANIFEST_ACCEPT)
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e.into_registry(&what)),
        };
        let Some(digest) = header_digest(&response).or_else(|| target.parse::<Digest>().ok())
        else {
            // No digest header for a tag: read the manifest itself.
            return Ok(Some(self.get_manifest(target).await?.descriptor()));
        };
        let size = content_length(&response).unwrap_or_default();
        let media = content_type(&response).unwrap_or("application/vnd.oci.image.manifest.v1+json");
        Ok(Some(descriptor(media_type(media), &digest, size)))
    }

    /// `PUT` a manifest at a tag or its digest; the digest the registry
    /// answers must be the bytes'.
    pub async fn put_manifest(
        &self,
        target: &str,
        manifest: &Manifest,
    ) -> Result<PutAnswer, RegistryError> {
        let what = format!("cannot push {}", self.what("manifest", target));
        let url = self.manifest_url(target);
        let body = bytes::Bytes::from(manifest.bytes.clone());
        let response = self
            .request(Method::PUT, &url, Policy::default(), |b| {
                b.header(CONTENT_TYPE, manifest.media_type.as_str())
                    .body(body.clone())
            })
            .await
            .map_err(|e| match e {
                SendError::Http(error) => RegistryError::http(&what, error),
                SendError::Registry(error) => error,
            })?;
        check_answered_digest(&response, &manifest.digest, what)?;
        Ok(PutAnswer {
            digest: manifest.digest.clone(),
            subject_processed: response.headers().contains_key("oci-subject"),
        })
    }

    /// `HEAD` a blob: its size, or `None` when the repository lacks it.
    pub async fn head_blob(&self, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let answer = self
            .request(Method::HEAD, &url, Policy::DOWNLOAD, |b| b)
            .await;
        match answer {
            Ok(response) => Ok(Some(content_length(&response).unwrap_or_default())),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e.into_registry(self.what("blob", &digest.to_string()))),
        }
    }

    /// Streams a blob into `out`, refusing more than `size` bytes and any
    /// content that does not hash to `digest`. Redirects to storage get no
    /// credentials.
    pub async fn download_blob<W: std::io::Write>(
        &self,
        digest: &Digest,
        size: u64,
        out: W,
    ) -> Result<W, RegistryError> {
        let what = self.what("blob", &digest.to_string());
        let url = self.url(&format!("blobs/{digest}"));
        let mut response = self
            .request(Method::GET, &url, Policy::DOWNLOAD, |b| {
                b.timeout(transfer_timeout(size))
            })
            .await
            .map_err(|e| e.into_registry(&what))?;
        let mut writer = HashingWriter::new(out);
        let mut received = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            RegistryError::http(&what, HttpError::from_reqwest(Method::GET, &url, e))
        })? {
            received += chunk.len() as u64;
            if received > size {
                return Err(RegistryError::bad(
                    &what,
                    format!("more than the {size} bytes of its descriptor"),
                ));
            }
            std::io::Write::write_all(&mut writer, &chunk).map_err(RegistryError::Staging)?;
        }
        let (actual, _, out) = writer.finish();
        if &actual != digest {
            return Err(RegistryError::DigestMismatch {
                what,
                expected: digest.clone(),
                actual,
            });
        }
        Ok(out)
    }

    /// Reads a small blob (a config) into memory, checked.
    pub async fn read_blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>, RegistryError> {
        self.download_blob(digest, size, Vec::new()).await
    }

    /// Whether the registry answers the referrers API for `digest` (an
    /// index); a registry without it answers 404 or something else.
    pub async fn referrers_api(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let url = self.url(&format!("referrers/{digest}"));
        let what = self.what("referrers of", &digest.to_string());
        match self
            .manifest_request(Method::GET, &url, INDEX_MEDIA_TYPE)
            .await
        {
            Ok(response) => Ok(content_type(&response) == Some(INDEX_MEDIA_TYPE)),
            Err(e) if matches!(e.status(), Some(StatusCode::NOT_FOUND)) => Ok(false),
            Err(e) => Err(e.into_registry(&what)),
        }
    }

    /// The referrers of `digest`: the referrers API when the registry has
    /// one, else the `sha256-<hex>` fallback tag's index (none when absent).
    pub async fn referrers(&self, digest: &Digest) -> Result<Vec<Descriptor>, RegistryError> {
        let url = self.url(&format!("referrers/{digest}"));
        let what = self.what("referrers of", &digest.to_string());
        let answer = self
            .manifest_request(Method::GET, &url, INDEX_MEDIA_TYPE)
            .await;
        match answer {
            Ok(response) if content_type(&response) == Some(INDEX_MEDIA_TYPE) => {
                let bytes = windlass_http::read_bytes(&Method::GET, &url, response, MANIFEST_LIMIT)
                    .await
                    .map_err(|e| RegistryError::http(&what, e))?;
                let view: ManifestView = serde_json::from_slice(&bytes)
                    .map_err(|e| RegistryError::bad(&what, e.to_string()))?;
                return Ok(view.manifests);
            }
            Ok(_) => {}
            Err(e) if matches!(e.status(), Some(StatusCode::NOT_FOUND)) => {}
            Err(e) => return Err(e.into_registry(&what)),
        }
        match self.get_manifest(&digest.referrers_tag()).await {
            Ok(index) => Ok(index.view()?.manifests),
            Err(RegistryError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

fn header_digest(response: &Response) -> Option<Digest> {
    response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The media type of an answer: its `Content-Type` without parameters.
fn content_type(response: &Response) -> Option<&str> {
    let value = response.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or(value).trim())
}

/// Refuses an answer whose `Docker-Content-Digest` is not `expected`.
fn check_answered_digest(
    response: &Response,
    expected: &Digest,
    what: impl Into<String>,
) -> Result<(), RegistryError> {
    match header_digest(response) {
        Some(answered) if &answered != expected => Err(RegistryError::DigestMismatch {
            what: what.into(),
            expected: expected.clone(),
            actual: answered,
        }),
        _ => Ok(()),
    }
}

fn content_length(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Two minutes plus the time to move `size` bytes at 1 MiB/s.
pub(crate) fn transfer_timeout(size: u64) -> std::time::Duration {
    std::time::Duration::from_secs(120 + size / (1 << 20))
}

/// The flags every command that moves images shares.
#[derive(Debug, Clone, clap::Args)]
pub struct TransferArgs {
    /// How many blobs move at once
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
}

/// A client configured from `windlass.toml` (`[http]`, `[image.registries]`
/// with the passwords of the `registries` the command talks to resolved,
/// `[vault]` for `vault://` references) and the credential files of the
/// environment. Retries show on the status line.
pub async fn open_client(
    ctx: &crate::cli::Context,
    args: &TransferArgs,
    printer: &windlass_output::Printer,
    registries: &[&str],
) -> anyhow::Result<Client> {
    let http = HttpConfig::from_settings(&ctx.config.settings.http).with_retry_observer(
        windlass_http::RetryObserver::new(printer.status_line().shows("Retrying")),
    );
    let secrets = windlass_secrets::SecretsConfig::from_effective(&ctx.config)?;
    let base_dir = ctx
        .config
        .project_dir()
        .map_or_else(|| ctx.cwd.clone(), std::path::Path::to_path_buf);
    let resolver = windlass_secrets::Resolver::new(ctx.env.clone(), &base_dir, secrets.vault)
        .with_http(http.clone());
    let used: BTreeMap<String, config::RegistrySection> = ctx
        .image
        .registries
        .iter()
        .filter(|(host, _)| registries.iter().any(|r| r.eq_ignore_ascii_case(host)))
        .map(|(host, section)| (host.clone(), section.clone()))
        .collect();
    let hosts = config::host_settings(&used, &base_dir, &resolver).await;
    resolver.close_unless_interrupted().await;
    Ok(Client::new(ClientConfig {
        http,
        hosts: hosts?,
        files: CredentialFiles::from_env(&ctx.env, &ctx.cwd),
        jobs: args.jobs,
    }))
}
