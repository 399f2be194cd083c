//! Choosing the upload target and its credentials.
//!
//! The repository: `--repository NAME|URL`, else `TWINE_REPOSITORY_URL`,
//! else `TWINE_REPOSITORY`, else `[wheel] repository` of windlass.toml,
//! else `pypi`. A name is looked up in
//! `[wheel.repositories]` of `windlass.toml`, then in `~/.pypirc`, then
//! among the built-in `pypi` and `testpypi`.
//!
//! Credentials, first found wins: `--token REF`; `--username` with
//! `--password REF`; `TWINE_USERNAME`/`TWINE_PASSWORD`; the repository's
//! `token` or `username`/`password` references in `windlass.toml`; its
//! `.pypirc` section; user info in the URL; then trusted publishing when
//! running in GitHub Actions or GitLab CI with an ID token. Every value is a
//! [`Secret`] registered with the redactor.

use indexmap::IndexMap;
use url::Url;
use windlass_config::Environment;
use windlass_http::RequestBuilder;
use windlass_redact::{RedactedUrl, Secret};
use windlass_secrets::{ParseError, ResolveError, Resolver, SecretRef};

use crate::config::{Pypirc, RepositorySection};
use crate::local::{LocalIndex, LocalIndexError};
use crate::simple::derive_simple_url;

/// PyPI's upload URL.
pub const PYPI_UPLOAD_URL: &str = "https://upload.pypi.org/legacy/";
/// TestPyPI's upload URL.
pub const TESTPYPI_UPLOAD_URL: &str = "https://test.pypi.org/legacy/";
/// The user name that says "the password is an API token".
pub const TOKEN_USERNAME: &str = "__token__";

/// The credential source of a target for which none was found.
pub const NO_CREDENTIALS: &str = "none";
/// The credential source of trusted publishing (a token minted per upload).
pub const TRUSTED_PUBLISHING: &str = "trusted publishing";

/// HTTP basic credentials.
#[derive(Debug, Clone)]
pub struct Auth {
    pub username: String,
    pub password: Secret<String>,
}

impl Auth {
    /// An API token, sent as `__token__`.
    pub fn token(token: Secret<String>) -> Self {
        Self {
            username: TOKEN_USERNAME.to_owned(),
            password: token,
        }
    }

    /// Adds the `Authorization` header.
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        request.basic_auth(&self.username, Some(self.password.expose()))
    }
}

/// How uploads authenticate.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// No credentials (an open index such as pypiserver with `-a .`).
    None,
    Basic(Auth),
    /// Exchange a CI identity token for a short-lived upload token.
    TrustedPublishing,
}

/// When to exchange a CI identity token for an upload token (trusted
/// publishing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrustedPublishingMode {
    /// When no credentials are configured and a CI identity token is
    /// available.
    #[default]
    Auto,
    /// Always; fail when no CI identity token is available.
    Always,
    /// Never.
    Never,
}

/// Where uploads go and how they authenticate.
#[derive(Debug, Clone)]
pub struct Target {
    /// The repository name, when chosen by name.
    pub name: Option<String>,
    /// The upload URL, without user info.
    pub upload_url: RedactedUrl,
    /// The simple API root (explicit or derived); user info given for it
    /// stays (a reader's credentials) and is never shown.
    pub simple_url: RedactedUrl,
    /// Where trusted-publishing tokens are minted (the index's base URL).
    pub trusted_publishing_url: Url,
    pub credentials: Credentials,
    /// Where the credentials came from, for people (never a value).
    pub credential_source: String,
    /// The credentials as references, for another tool to resolve the
    /// same ones (a release's image build reading this index): `None`
    /// when there are none, or they are a plain value (`.pypirc`, the
    /// URL's user info).
    pub credential_reference: Option<CredentialReference>,
}

/// A user name and a secret reference (`env://`, `vault://`, ...) for its
/// password or token; never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialReference {
    pub username: String,
    pub password: String,
}

/// What [`find_credentials`] found: the credential, where it came from,
/// and its reference when it has one.
type Found = (Auth, String, Option<CredentialReference>);

/// What chooses the target, gathered from flags and windlass.toml.
#[derive(Debug, Clone, Default)]
pub struct TargetRequest {
    pub repository: Option<String>,
    pub simple_url: Option<String>,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub trusted_publishing: TrustedPublishingMode,
    pub trusted_publishing_url: Option<String>,
    /// `--no-credentials`: send no credentials, look none up.
    pub anonymous: bool,
    /// The configured default (`[wheel] repository`): used when neither
    /// `--repository` nor a `TWINE_REPOSITORY*` variable names one.
    pub default_repository: Option<String>,
}

/// Where repositories, credentials and the means to resolve secret
/// references come from.
#[derive(Debug, Clone, Copy)]
pub struct TargetSources<'a> {
    /// `TWINE_*` and `ACTIONS_ID_TOKEN_*` (the resolver has its own, for
    /// `VAULT_*` and `env://` references).
    pub env: &'a Environment,
    /// `[wheel.repositories]` of windlass.toml.
    pub repositories: &'a IndexMap<String, RepositorySection>,
    pub pypirc: &'a Pypirc,
    /// Resolves the secret references (`[vault]` and `[http]` of
    /// windlass.toml for `vault://` ones). [`resolve_target`] closes it
    /// once the credentials are found, revoking a Vault token it obtained;
    /// its owner closes it again on every other way out.
    pub resolver: &'a Resolver,
}

impl Target {
    /// The error for a target without credentials, naming every source
    /// that was tried.
    pub fn no_credentials(&self, request: &TargetRequest) -> TargetError {
        let mut tried = vec![
            "--token".to_owned(),
            "--username/--password".to_owned(),
            "TWINE_USERNAME/TWINE_PASSWORD".to_owned(),
        ];
        if let Some(name) = &self.name {
            tried.push(format!("windlass.toml [wheel.repositories.{name}]"));
            tried.push(format!(".pypirc [{name}]"));
        }
        tried.push("user info in the url".to_owned());
        tried.push(match request.trusted_publishing {
            TrustedPublishingMode::Never => "trusted publishing (turned off)".to_owned(),
            _ => "trusted publishing (no CI identity token)".to_owned(),
        });
        TargetError::NoCredentials {
            repository: match &self.name {
                Some(name) => format!("repository `{name}` ({})", self.upload_url),
                None => self.upload_url.to_string(),
            },
            tried: tried.join(", "),
        }
    }
}

/// The target could not be determined.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("unknown repository `{name}`")]
    UnknownRepository { name: String, known: Vec<String> },
    #[error("the {what} is not a valid http or https url")]
    InvalidUrl { what: String },
    #[error("the {what} is not a secret reference")]
    InvalidReference {
        what: String,
        #[source]
        source: ParseError,
    },
    #[error("cannot resolve the {what}")]
    Resolve {
        what: String,
        #[source]
        source: ResolveError,
    },
    #[error("{what} sets a password but no username")]
    PasswordWithoutUsername { what: String },
    #[error("trusted publishing needs a CI identity token, and none is available")]
    NoIdentityToken,
    #[error("no credentials for {repository}, so nothing was sent; tried {tried}")]
    NoCredentials {
        /// The repository, for people: its name or its upload URL.
        repository: String,
        /// Every source looked at, in order.
        tried: String,
    },
    #[error("no token was entered")]
    EmptyToken,
    #[error("cannot read the token from the terminal")]
    Prompt(#[source] std::io::Error),
}

impl windlass_output::Diagnostic for TargetError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        match self {
            Self::Resolve { source, .. } => windlass_output::Diagnostic::exit_status(source),
            _ => windlass_output::ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::UnknownRepository { known, .. } => Some(format!(
                "known repositories: {}; or pass an upload url; define one as `[wheel.repositories.NAME] url = \"...\"` in windlass.toml",
                known.join(", ")
            )),
            Self::InvalidReference { source, .. } => Some(format!(
                "credentials are references, never values: {}",
                source.expected_form()
            )),
            Self::Resolve { source, .. } => windlass_output::Diagnostic::hint(source),
            Self::PasswordWithoutUsername { .. } => {
                Some("add a username, or use `token` for API tokens".to_owned())
            }
            Self::NoIdentityToken => Some(
                "in GitHub Actions grant `permissions: id-token: write`; in GitLab CI declare `id_tokens: PYPI_ID_TOKEN: aud: ...`"
                    .to_owned(),
            ),
            Self::NoCredentials { .. } => Some(
                "pass a token, e.g. `--token env://PYPI_TOKEN`, or set `token = \"env://PYPI_TOKEN\"` under `[wheel.repositories.NAME]` in windlass.toml; run in a terminal to be asked for it; for an index that takes uploads from anyone, pass `--no-credentials`"
                    .to_owned(),
            ),
            Self::EmptyToken => Some(
                "paste the API token at the prompt, or pass `--token env://PYPI_TOKEN`".to_owned(),
            ),
            Self::Prompt(_) => Some("pass `--token env://PYPI_TOKEN` instead".to_owned()),
            Self::InvalidUrl { .. } => None,
        }
    }
}

/// Secret references resolved on demand with one resolver (one Vault login).
struct Secrets<'a> {
    resolver: &'a Resolver,
}

impl Secrets<'_> {
    async fn resolve(&self, what: &str, reference: &str) -> Result<Secret<String>, TargetError> {
        let parsed =
            SecretRef::parse(reference).map_err(|source| TargetError::InvalidReference {
                what: what.to_owned(),
                source,
            })?;
        self.resolver
            .resolve(&parsed)
            .await
            .map_err(|source| TargetError::Resolve {
                what: what.to_owned(),
                source,
            })
    }
}

/// Where the repository came from.
enum Chosen {
    Url(String),
    Config(String, RepositorySection),
    Pypirc(String, String),
}

/// Chooses the target and resolves its credentials.
pub async fn resolve_target(
    request: &TargetRequest,
    sources: &TargetSources<'_>,
) -> Result<Target, TargetError> {
    let env = sources.env;
    let pypirc = sources.pypirc;
    let spec = repository_spec(request, env);
    let chosen = choose(&spec.0, sources.repositories, pypirc)?;
    let (name, url_text, section, rc) = match chosen {
        Chosen::Url(url) => (None, url, None, None),
        Chosen::Config(name, section) => {
            let url = section.url.clone();
            (Some(name), url, Some(section), None)
        }
        Chosen::Pypirc(name, url) => {
            let rc = pypirc.repository(&name);
            (Some(name), url, None, rc)
        }
    };
    let (upload, url_auth, simple_url, trusted_publishing_url) = target_urls(
        request,
        name.as_deref(),
        spec.1,
        &url_text,
        section.as_ref(),
    )?;
    if request.anonymous {
        sources.resolver.close().await;
        return Ok(Target {
            name,
            upload_url: RedactedUrl::new(upload),
            simple_url,
            trusted_publishing_url,
            credentials: Credentials::None,
            credential_source: "none (--no-credentials)".to_owned(),
            credential_reference: None,
        });
    }
    let secrets = Secrets {
        resolver: sources.resolver,
    };
    let found = find_credentials(
        request,
        env,
        name.as_deref(),
        section.as_ref(),
        rc.as_ref(),
        url_auth,
        &secrets,
    )
    .await;
    // The uploads need no Vault token: revoke it before they start.
    sources.resolver.close().await;
    let (credentials, credential_source, credential_reference) = match found? {
        Some((auth, source, reference))
            if request.trusted_publishing != TrustedPublishingMode::Always =>
        {
            (Credentials::Basic(auth), source, reference)
        }
        _ if request.trusted_publishing == TrustedPublishingMode::Always => {
            if !crate::oidc::identity_available(env) {
                return Err(TargetError::NoIdentityToken);
            }
            (
                Credentials::TrustedPublishing,
                TRUSTED_PUBLISHING.to_owned(),
                None,
            )
        }
        _ if request.trusted_publishing == TrustedPublishingMode::Auto
            && crate::oidc::identity_available(env) =>
        {
            (
                Credentials::TrustedPublishing,
                TRUSTED_PUBLISHING.to_owned(),
                None,
            )
        }
        _ => (Credentials::None, NO_CREDENTIALS.to_owned(), None),
    };
    Ok(Target {
        name,
        upload_url: RedactedUrl::new(upload),
        simple_url,
        trusted_publishing_url,
        credentials,
        credential_source,
        credential_reference,
    })
}

/// The repository asked for, and where that came from: `--repository`,
/// else `TWINE_REPOSITORY_URL`, else `TWINE_REPOSITORY`, else `[wheel]
/// repository`, else `pypi`.
fn repository_spec(request: &TargetRequest, env: &Environment) -> (String, &'static str) {
    request
        .repository
        .clone()
        .map(|r| (r, "--repository"))
        .or_else(|| {
            env.get_str("TWINE_REPOSITORY_URL")
                .map(|u| (u.to_owned(), "TWINE_REPOSITORY_URL"))
        })
        .or_else(|| {
            env.get_str("TWINE_REPOSITORY")
                .map(|n| (n.to_owned(), "TWINE_REPOSITORY"))
        })
        .or_else(|| {
            request
                .default_repository
                .clone()
                .map(|r| (r, "[wheel] repository"))
        })
        .unwrap_or_else(|| ("pypi".to_owned(), "the default repository"))
}

/// The static index directory the request names (a `file:` URL, given as
/// such or as the `url` of a `[wheel.repositories]` entry), if it names
/// one. Credentials asked for with it are an error: a local index takes
/// none.
pub fn local_index(
    request: &TargetRequest,
    env: &Environment,
    repositories: &IndexMap<String, RepositorySection>,
) -> Option<Result<LocalIndex, LocalIndexError>> {
    let (spec, _) = repository_spec(request, env);
    let (section, url) = if looks_like_url(&spec) {
        (None, spec.clone())
    } else {
        let section = repositories.get(&spec)?;
        (Some(section), section.url.clone())
    };
    let index = LocalIndex::from_url(&url)?;
    let credentials = |what: String| Some(Err(LocalIndexError::Credentials { what }));
    if request.token.is_some() {
        return credentials("--token".to_owned());
    }
    if request.password.is_some() || request.username.is_some() {
        return credentials("--username/--password".to_owned());
    }
    if request.trusted_publishing == TrustedPublishingMode::Always {
        return credentials("--trusted-publishing always".to_owned());
    }
    if let Some(section) = section {
        let what = format!("[wheel.repositories.{spec}]");
        if section.token.is_some() {
            return credentials(format!("`token` in {what}"));
        }
        if section.password.is_some() || section.username.is_some() {
            return credentials(format!("`username`/`password` in {what}"));
        }
    }
    Some(index)
}

/// The upload URL (without user info), the user info, the simple API root
/// and the trusted-publishing base.
#[allow(
    clippy::type_complexity,
    reason = "a private helper's tuple of the four results"
)]
fn target_urls(
    request: &TargetRequest,
    name: Option<&str>,
    spec_source: &str,
    url_text: &str,
    section: Option<&RepositorySection>,
) -> Result<(Url, Option<(String, String)>, RedactedUrl, Url), TargetError> {
    let what_url = match name {
        Some(name) => format!("url of repository `{name}`"),
        None => format!("repository url from {spec_source}"),
    };
    let mut upload = parse_http_url(url_text, &what_url)?.into_exposed();
    // User info in the URL is a credential of last resort.
    let url_auth = (!upload.username().is_empty()).then(|| {
        let username = percent_encoding::percent_decode_str(upload.username())
            .decode_utf8_lossy()
            .into_owned();
        let password = upload.password().map_or_else(String::new, |p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        });
        (username, password)
    });
    let _ = upload.set_username("");
    let _ = upload.set_password(None);

    let simple_url = match request
        .simple_url
        .as_deref()
        .map(|u| (u, "--simple-url".to_owned()))
        .or_else(|| {
            section.and_then(|s| {
                s.simple_url
                    .as_deref()
                    .map(|u| (u, "simple-url of the repository".to_owned()))
            })
        }) {
        Some((text, what)) => parse_http_url(text, &what)?,
        None => RedactedUrl::new(derive_simple_url(&upload)),
    };
    let trusted_publishing_url = match request.trusted_publishing_url.as_deref().or_else(|| {
        section
            .as_ref()
            .and_then(|s| s.trusted_publishing_url.as_deref())
    }) {
        // Tokens are minted with the identity token alone: user info here
        // has no use and is dropped.
        Some(text) => {
            let mut url = parse_http_url(text, "trusted publishing url")?.into_exposed();
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url
        }
        None => derive_trusted_publishing_url(&upload),
    };

    Ok((upload, url_auth, simple_url, trusted_publishing_url))
}

fn choose(
    spec: &str,
    repositories: &IndexMap<String, RepositorySection>,
    pypirc: &Pypirc,
) -> Result<Chosen, TargetError> {
    if looks_like_url(spec) {
        return Ok(Chosen::Url(spec.trim().to_owned()));
    }
    if let Some(section) = repositories.get(spec) {
        return Ok(Chosen::Config(spec.to_owned(), section.clone()));
    }
    let builtin = match spec {
        "pypi" => Some(PYPI_UPLOAD_URL),
        "testpypi" => Some(TESTPYPI_UPLOAD_URL),
        _ => None,
    };
    if let Some(rc) = pypirc.repository(spec)
        && let Some(url) = rc.repository.or_else(|| builtin.map(str::to_owned))
    {
        return Ok(Chosen::Pypirc(spec.to_owned(), url));
    }
    if let Some(url) = builtin {
        return Ok(Chosen::Pypirc(spec.to_owned(), url.to_owned()));
    }
    let mut known: Vec<String> = repositories.keys().cloned().collect();
    for name in pypirc
        .names()
        .into_iter()
        .chain(["pypi".into(), "testpypi".into()])
    {
        if !known.contains(&name) {
            known.push(name);
        }
    }
    Err(TargetError::UnknownRepository {
        name: spec.to_owned(),
        known,
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "the sources in their order of precedence, one block each"
)]
async fn find_credentials(
    request: &TargetRequest,
    env: &Environment,
    name: Option<&str>,
    section: Option<&RepositorySection>,
    rc: Option<&crate::config::PypircRepository>,
    url_auth: Option<(String, String)>,
    secrets: &Secrets<'_>,
) -> Result<Option<Found>, TargetError> {
    let refer = |username: &str, password: &str| {
        Some(CredentialReference {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    };
    if let Some(reference) = &request.token {
        let token = secrets.resolve("token from --token", reference).await?;
        return Ok(Some((
            Auth::token(token),
            "--token".to_owned(),
            refer(TOKEN_USERNAME, reference),
        )));
    }
    if let Some(reference) = &request.password {
        let password = secrets
            .resolve("password from --password", reference)
            .await?;
        let username =
            request
                .username
                .clone()
                .ok_or_else(|| TargetError::PasswordWithoutUsername {
                    what: "--password".to_owned(),
                })?;
        return Ok(Some((
            Auth {
                username: username.clone(),
                password,
            },
            "--username/--password".to_owned(),
            refer(&username, reference),
        )));
    }
    if let Some(password) = env.get_str("TWINE_PASSWORD") {
        let username = request
            .username
            .clone()
            .or_else(|| env.get_str("TWINE_USERNAME").map(str::to_owned))
            .unwrap_or_else(|| TOKEN_USERNAME.to_owned());
        let password = Secret::registered(password.to_owned());
        return Ok(Some((
            Auth {
                username: username.clone(),
                password,
            },
            "TWINE_USERNAME/TWINE_PASSWORD".to_owned(),
            refer(&username, "env://TWINE_PASSWORD"),
        )));
    }
    let label = name.unwrap_or("?");
    if let Some(section) = section {
        let what = format!("[wheel.repositories.{label}]");
        if let Some(reference) = &section.token {
            let token = secrets
                .resolve(&format!("token of {what}"), reference)
                .await?;
            return Ok(Some((
                Auth::token(token),
                format!("windlass.toml {what}"),
                refer(TOKEN_USERNAME, reference),
            )));
        }
        if let Some(reference) = &section.password {
            let password = secrets
                .resolve(&format!("password of {what}"), reference)
                .await?;
            let username = request
                .username
                .clone()
                .or_else(|| section.username.clone())
                .ok_or(TargetError::PasswordWithoutUsername { what })?;
            return Ok(Some((
                Auth {
                    username: username.clone(),
                    password,
                },
                format!("windlass.toml [wheel.repositories.{label}]"),
                refer(&username, reference),
            )));
        }
    }
    if let Some(rc) = rc
        && let Some(password) = &rc.password
    {
        let password = Secret::registered(password.clone());
        let username = request
            .username
            .clone()
            .or_else(|| rc.username.clone())
            .unwrap_or_else(|| TOKEN_USERNAME.to_owned());
        return Ok(Some((
            Auth { username, password },
            format!(".pypirc [{label}]"),
            None,
        )));
    }
    if let Some((username, password)) = url_auth
        && !password.is_empty()
    {
        return Ok(Some((
            Auth {
                username,
                password: Secret::registered(password),
            },
            "the repository url".to_owned(),
            None,
        )));
    }
    Ok(None)
}

/// Parses a URL that may hold user info: from here on it is a
/// [`RedactedUrl`], and its password is registered with the redactor. The
/// error never shows the text.
fn parse_http_url(text: &str, what: &str) -> Result<RedactedUrl, TargetError> {
    let invalid = || TargetError::InvalidUrl {
        what: what.to_owned(),
    };
    // Even a URL that does not parse may hold a password: register what
    // looks like one before anything can print it.
    let _ = windlass_redact::mask_userinfo(text);
    let url = RedactedUrl::parse(text.trim()).map_err(|_| invalid())?;
    if !matches!(url.expose().scheme(), "http" | "https") || url.expose().host_str().is_none() {
        return Err(invalid());
    }
    Ok(url)
}

/// Whether a repository given by name is a URL: anything with a scheme
/// separator or user info, in any case and with any surrounding spaces, is
/// parsed as a URL and never echoed as a name.
fn looks_like_url(spec: &str) -> bool {
    spec.contains("://") || spec.contains('@')
}

/// The index base for trusted publishing: `https://upload.pypi.org/…` →
/// `https://pypi.org/`; otherwise the upload URL's origin.
pub fn derive_trusted_publishing_url(upload: &Url) -> Url {
    let mut url = upload.clone();
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    // Only PyPI's own split is known; elsewhere the identity token goes to
    // the upload host and nowhere else.
    if upload.host_str() == Some("upload.pypi.org") {
        let _ = url.set_host(Some("pypi.org"));
    }
    url
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use windlass_config::Environment;

    use indexmap::IndexMap;

    use super::{Credentials, TargetRequest, TargetSources, resolve_target};
    use crate::config::{Pypirc, RepositorySection};

    fn check(request: &TargetRequest, env: &[(&str, &str)], toml: &str, rc: &str) -> String {
        let env = Environment::from_vars(env.iter().map(|(k, v)| (*k, *v)));
        let repositories: IndexMap<String, RepositorySection> = toml::from_str(toml).unwrap();
        let pypirc = Pypirc::parse(rc);
        let resolver = windlass_secrets::Resolver::new(
            env.clone(),
            Path::new("."),
            windlass_secrets::VaultSection::default(),
        );
        let sources = TargetSources {
            env: &env,
            repositories: &repositories,
            pypirc: &pypirc,
            resolver: &resolver,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match runtime.block_on(resolve_target(request, &sources)) {
            Ok(t) => format!(
                "{:?} {} simple={} tp={} creds={} user={} from {} ref={}",
                t.name,
                t.upload_url,
                t.simple_url,
                t.trusted_publishing_url,
                match &t.credentials {
                    Credentials::None => "none",
                    Credentials::Basic(_) => "basic",
                    Credentials::TrustedPublishing => "trusted",
                },
                match &t.credentials {
                    Credentials::Basic(a) => a.username.as_str(),
                    _ => "-",
                },
                t.credential_source,
                t.credential_reference.map_or_else(
                    || "-".to_owned(),
                    |r| format!("{}:{}", r.username, r.password)
                ),
            ),
            Err(e) => format!("error: {e}"),
        }
    }

    type Case<'a> = (&'a str, TargetRequest, Vec<(&'a str, &'a str)>);

    #[test]
    fn targets() {
        let toml = "[internal]\nurl = \"http://127.0.0.1:3141/acme/prod/\"\nusername = \"ci\"\npassword = \"env://DEVPI_PW\"\n";
        let rc = "[distutils]\nindex-servers = pypi local\n[pypi]\nusername = __token__\npassword = pypi-secret-rc-token-1\n[local]\nrepository = http://127.0.0.1:8081\nusername = me\npassword = secret-rc-password-1\n";
        let repo = |r: &str| TargetRequest {
            repository: Some(r.to_owned()),
            ..TargetRequest::default()
        };
        let cases: Vec<Case<'_>> = vec![
            ("default", TargetRequest::default(), vec![]),
            ("pypirc pypi", TargetRequest::default(), vec![]),
            (
                "config name",
                repo("internal"),
                vec![("DEVPI_PW", "secret-devpi-password-1")],
            ),
            ("pypirc name", repo("local"), vec![]),
            (
                "twine env wins",
                repo("local"),
                vec![
                    ("TWINE_USERNAME", "twine-user"),
                    ("TWINE_PASSWORD", "secret-twine-password-1"),
                ],
            ),
            (
                "twine url",
                TargetRequest::default(),
                vec![(
                    "TWINE_REPOSITORY_URL",
                    "https://user-x:secret-url-password-1@upload.example.org/legacy/",
                )],
            ),
            (
                "twine name",
                TargetRequest::default(),
                vec![("TWINE_REPOSITORY", "testpypi")],
            ),
            (
                "token flag",
                TargetRequest {
                    token: Some("env://TOK".into()),
                    ..repo("internal")
                },
                vec![("TOK", "secret-token-value")],
            ),
            (
                "plain token",
                TargetRequest {
                    token: Some("pypi-AgEIcHlwaS5vcmc".into()),
                    ..repo("internal")
                },
                vec![],
            ),
            ("unknown", repo("intrenal"), vec![]),
            (
                "gha",
                repo("https://upload.pypi.org/legacy/"),
                vec![
                    ("ACTIONS_ID_TOKEN_REQUEST_URL", "http://x/"),
                    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "secret-request-token-1"),
                ],
            ),
            ("bad url", repo("http://"), vec![]),
            // A URL in another case or with spaces is a URL: its password
            // is never echoed as an unknown repository's name.
            (
                "url in upper case",
                repo(" HTTPS://ci:secret-upper-case-pw-1@Index.Example.org/legacy/ "),
                vec![],
            ),
            (
                "url without a scheme",
                repo("ci:secret-no-scheme-pw-1@index.example.org/legacy/"),
                vec![],
            ),
            (
                "simple url with a reader",
                TargetRequest {
                    simple_url: Some(
                        "https://reader:secret-reader-pw-1@index.example.org/simple/".into(),
                    ),
                    ..repo("https://index.example.org/legacy/")
                },
                vec![],
            ),
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|(label, request, env)| {
                let rc = if *label == "default" { "" } else { rc };
                format!("{label}: {}", check(request, env, toml, rc))
            })
            .collect();
        for line in &out {
            assert!(!line.contains("secret-"), "a secret shows: {line}");
        }
        insta::assert_snapshot!(out.join("\n"));
    }
}
