//! Turning references into values, concurrently, registering each secret
//! value with the redactor before anyone sees it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::OnceCell;
use windlass_http::HttpConfig;
use windlass_redact::Secret;

use crate::config::{SecretEntry, SecretsSection, VaultSection};
use crate::error::{ResolveError, VaultError};
use crate::local::{self, Environment};
use crate::reference::{ParseError, SecretRef};
use crate::vault::{Session, VaultSettings};

/// A name (the variable a child sees) with its reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRef {
    pub name: String,
    pub reference: SecretRef,
    /// `false` for values marked `secret = false`: not registered with the
    /// redactor, not masked.
    pub secret: bool,
}

/// An entry of `[secrets]` whose reference does not parse.
#[derive(Debug, thiserror::Error)]
#[error("secret `{name}` in windlass.toml")]
pub struct EntryError {
    pub name: String,
    #[source]
    pub source: ParseError,
}

impl windlass_output::Diagnostic for EntryError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Usage
    }
    fn hint(&self) -> Option<String> {
        Some(self.source.expected_form().to_owned())
    }
}

impl NamedRef {
    pub fn from_entry(name: &str, entry: &SecretEntry) -> Result<Self, EntryError> {
        let reference = SecretRef::parse(&entry.reference).map_err(|source| EntryError {
            name: name.to_owned(),
            source,
        })?;
        Ok(Self {
            name: name.to_owned(),
            reference,
            secret: entry.secret,
        })
    }
}

impl SecretsSection {
    /// Every entry, parsed, in file order.
    pub fn named_refs(&self) -> Vec<Result<NamedRef, EntryError>> {
        self.entries
            .iter()
            .map(|(name, entry)| NamedRef::from_entry(name, entry))
            .collect()
    }
}

/// A resolved value with its name.
#[derive(Debug)]
pub struct Resolved {
    pub name: String,
    pub value: Secret<String>,
    pub secret: bool,
}

/// Resolves references. Logs in to Vault at most once, on the first
/// `vault://` reference; call [`Resolver::close`] at the end to revoke the
/// token it obtained.
#[derive(Debug)]
pub struct Resolver {
    env: Environment,
    base_dir: PathBuf,
    vault: VaultSection,
    http: HttpConfig,
    session: OnceCell<Result<Arc<Session>, Arc<VaultError>>>,
}

impl Resolver {
    /// `base_dir` is the project directory (relative `file://` paths and
    /// `[vault] ca-file` are relative to it).
    pub fn new(env: Environment, base_dir: impl Into<PathBuf>, vault: VaultSection) -> Self {
        Self {
            env,
            base_dir: base_dir.into(),
            vault,
            http: HttpConfig::default(),
            session: OnceCell::new(),
        }
    }

    /// Talks to Vault with these HTTP settings (timeouts, retries, extra CA,
    /// insecure hosts: `[http]` of windlass.toml) instead of the defaults.
    #[must_use]
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    pub fn environment(&self) -> &Environment {
        &self.env
    }

    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Resolves a secret and registers it with the global redactor.
    pub async fn resolve(&self, reference: &SecretRef) -> Result<Secret<String>, ResolveError> {
        let value = self.fetch(reference).await?;
        Ok(Secret::registered(value.into_exposed()))
    }

    /// Resolves every reference concurrently; secret ones are registered
    /// with the global redactor. Results come in the order given.
    pub async fn resolve_all(&self, refs: &[NamedRef]) -> Vec<Result<Resolved, ResolveError>> {
        let futures = refs.iter().map(|r| async move {
            let value = self.fetch(&r.reference).await?;
            let value = if r.secret {
                Secret::registered(value.into_exposed())
            } else {
                value
            };
            Ok(Resolved {
                name: r.name.clone(),
                value,
                secret: r.secret,
            })
        });
        futures_util::future::join_all(futures).await
    }

    /// Revokes the Vault token this resolver obtained, if any, and stops
    /// renewing it.
    pub async fn close(&self) {
        if let Some(Ok(session)) = self.session.get() {
            session.close().await;
        }
    }

    /// The accessor of the Vault token in use, once logged in (for
    /// audits and tests: an accessor cannot read secrets).
    pub fn vault_token_accessor(&self) -> Option<&str> {
        match self.session.get() {
            Some(Ok(session)) => session.accessor(),
            _ => None,
        }
    }

    /// The value, not yet registered.
    async fn fetch(&self, reference: &SecretRef) -> Result<Secret<String>, ResolveError> {
        match reference {
            SecretRef::Env(r) => local::read_env(&self.env, r),
            SecretRef::File(r) => local::read_file(&local::file_path(&self.env, &self.base_dir, r)),
            SecretRef::Keyring(r) => local::read_keyring(&self.env, r).await,
            SecretRef::Vault(r) => self.session().await?.read_key(r).await,
        }
    }

    async fn session(&self) -> Result<Arc<Session>, ResolveError> {
        let session = self.session.get_or_init(|| self.open_session()).await;
        session.clone().map_err(ResolveError::Vault)
    }

    async fn open_session(&self) -> Result<Arc<Session>, Arc<VaultError>> {
        let settings = VaultSettings::from_config(&self.vault, &self.env, &self.base_dir)?;
        let session = Session::open(&settings, &self.http, &self.env, &self.base_dir).await?;
        Ok(Arc::new(session))
    }
}
