//! Turning references into values, concurrently, registering each secret
//! value with the redactor before anyone sees it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use windlass_http::HttpConfig;
use windlass_redact::Secret;

use crate::config::{SecretEntry, SecretsSection, VaultSection};
use crate::error::{ResolveError, VaultError};
use windlass_config::Environment;

use crate::local;
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
/// `vault://` reference; call [`Resolver::close`] on every way out (success,
/// error, interruption) to revoke the token it obtained.
///
/// The login runs in a task of its own: a caller that stops waiting for it
/// (Ctrl-C) does not lose a token Vault issued meanwhile, because `close`
/// waits for the login to end and revokes what it obtained.
#[derive(Debug)]
pub struct Resolver {
    env: Environment,
    base_dir: PathBuf,
    vault: VaultSection,
    http: HttpConfig,
    login: Mutex<Login>,
}

/// The result of the one login, shared by every `vault://` reference.
type SharedLogin = Shared<BoxFuture<'static, Result<Arc<Session>, Arc<VaultError>>>>;

/// Where the Vault login stands.
enum Login {
    NotStarted,
    Started(SharedLogin),
    /// [`Resolver::close`] ran: no login may start any more.
    Closed,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotStarted => "NotStarted",
            Self::Started(_) => "Started",
            Self::Closed => "Closed",
        })
    }
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
            login: Mutex::new(Login::NotStarted),
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
        declare_source(reference, &value);
        Ok(Secret::registered(value.into_exposed()))
    }

    /// Resolves every reference concurrently; secret ones are registered
    /// with the global redactor. Results come in the order given.
    pub async fn resolve_all(&self, refs: &[NamedRef]) -> Vec<Result<Resolved, ResolveError>> {
        let futures = refs.iter().map(|r| async move {
            let value = self.fetch(&r.reference).await?;
            let value = if r.secret {
                declare_source(&r.reference, &value);
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
    /// renewing it; waits for a login still in flight to end first, so that
    /// the token it brings is revoked too. Closing again does nothing, and
    /// no login starts after the first close.
    pub async fn close(&self) {
        let login = {
            let mut login = self.login.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *login, Login::Closed)
        };
        if let Login::Started(login) = login
            && let Ok(session) = login.await
        {
            session.close().await;
        }
    }

    /// [`Resolver::close`] after a command ended, also one ended by a
    /// signal: a second SIGINT or SIGTERM stops waiting (for a login still
    /// in flight, say), and the token then expires with its TTL.
    pub async fn close_unless_interrupted(&self) {
        if windlass_process::until_interrupted(self.close())
            .await
            .is_err()
        {
            tracing::warn!("interrupted again: the vault token expires with its ttl instead");
        }
    }

    /// The accessor of the Vault token in use, once logged in (for
    /// audits and tests: an accessor cannot read secrets).
    pub fn vault_token_accessor(&self) -> Option<String> {
        let login = self.login.lock().unwrap_or_else(PoisonError::into_inner);
        match &*login {
            Login::Started(login) => match login.peek() {
                Some(Ok(session)) => session.accessor().map(str::to_owned),
                _ => None,
            },
            Login::NotStarted | Login::Closed => None,
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
        let login = {
            let mut login = self.login.lock().unwrap_or_else(PoisonError::into_inner);
            match &*login {
                Login::Started(started) => started.clone(),
                Login::Closed => return Err(VaultError::Closed.into()),
                Login::NotStarted => {
                    let started = self.start_login();
                    *login = Login::Started(started.clone());
                    started
                }
            }
        };
        login.await.map_err(ResolveError::Vault)
    }

    /// Starts the login in a task of its own, which runs to its end whoever
    /// waits for it.
    fn start_login(&self) -> SharedLogin {
        let settings = match VaultSettings::from_config(&self.vault, &self.env, &self.base_dir) {
            Ok(settings) => settings,
            Err(error) => {
                return futures_util::future::ready(Err(Arc::new(error)))
                    .boxed()
                    .shared();
            }
        };
        let http = self.http.clone();
        let env = self.env.clone();
        let base = self.base_dir.clone();
        let task = tokio::spawn(async move {
            Session::open(&settings, &http, &env, &base)
                .await
                .map(Arc::new)
                .map_err(Arc::new)
        });
        async move {
            match task.await {
                Ok(result) => result,
                Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                // The runtime is shutting down.
                Err(_) => Err(Arc::new(VaultError::Closed)),
            }
        }
        .boxed()
        .shared()
    }
}

/// A secret read from an environment variable makes that variable a secret
/// one: children that must not hold credentials do not inherit it.
fn declare_source(reference: &SecretRef, value: &Secret<String>) {
    if let SecretRef::Env(r) = reference {
        windlass_redact::declare_secret_var(&r.name, Some(value.expose()));
    }
}
