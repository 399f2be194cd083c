//! Reading KV secrets from Vault/OpenBao.
//!
//! A [`Session`] logs in once, detects each mount's KV version once, reads
//! each secret path once (however many keys are asked of it), renews a
//! token it obtained and revokes it at [`Session::close`].

mod api;
mod auth;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};
use tokio::sync::OnceCell;
use windlass_http::Method;
use windlass_redact::Secret;

use self::api::Api;
use self::auth::Custody;
pub use self::auth::{AuthSettings, VaultSettings};
use crate::error::{ResolveError, VaultError};
use crate::reference::{KvVersion, VaultRef};
use windlass_config::Environment;

type Shared<T> = Result<T, Arc<VaultError>>;
/// A secret's key/value map, read once and shared by every key asked of it.
type SecretData = Arc<Secret<Map<String, Value>>>;
type ReadCache = Mutex<HashMap<(String, Option<u64>), Arc<OnceCell<Shared<SecretData>>>>>;

/// A logged-in connection to Vault.
pub(crate) struct Session {
    api: Api,
    token: Secret<String>,
    custody: Custody,
    token_source: String,
    policies: Vec<String>,
    accessor: Option<String>,
    renewer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set by the first [`Session::close`]: the token is revoked once.
    closed: AtomicBool,
    /// Mount paths (`secret/`) with their KV version.
    mounts: tokio::sync::Mutex<Vec<(String, KvVersion)>>,
    /// One read per secret path and version.
    reads: ReadCache,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("api", &self.api)
            .field("custody", &self.custody)
            .field("token_source", &self.token_source)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) async fn open(
        settings: &VaultSettings,
        http: &windlass_http::HttpConfig,
        env: &Environment,
        base: &Path,
    ) -> Result<Self, VaultError> {
        let api = Api::new(
            &settings.address,
            settings.namespace.clone(),
            settings.ca_file.clone(),
            http,
        )?;
        let login = auth::login(&api, &settings.auth, env, base).await?;
        let renewer = (login.custody == Custody::Service
            && login.renewable
            && !login.ttl.is_zero())
        .then(|| {
            tokio::spawn(auth::renew_loop(
                api.clone(),
                login.token.clone(),
                login.ttl,
            ))
        });
        tracing::debug!(
            custody = ?login.custody,
            ttl_secs = login.ttl.as_secs(),
            accessor = login.accessor.as_deref().unwrap_or("-"),
            "logged in to vault"
        );
        if let Some(reason) = login.custody.left_alone_because() {
            tracing::debug!("not renewing the vault token {}: {reason}", login.source);
        }
        Ok(Self {
            api,
            token: login.token,
            custody: login.custody,
            token_source: login.source,
            policies: login.policies,
            accessor: login.accessor,
            renewer: Mutex::new(renewer),
            closed: AtomicBool::new(false),
            mounts: tokio::sync::Mutex::new(Vec::new()),
            reads: Mutex::new(HashMap::new()),
        })
    }

    /// Stops renewing and revokes a token Windlass obtained (never one the
    /// user supplied, never a batch token). Only the first call does
    /// anything: a revoked token is not revoked again.
    pub(crate) async fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let renewer = self
            .renewer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = renewer {
            handle.abort();
        }
        match self.custody.left_alone_because() {
            None => auth::revoke(&self.api, &self.token).await,
            Some(reason) => tracing::debug!(
                "not revoking the vault token {}: {reason}",
                self.token_source
            ),
        }
    }

    pub(crate) fn accessor(&self) -> Option<&str> {
        self.accessor.as_deref()
    }

    pub(crate) async fn read_key(&self, r: &VaultRef) -> Result<Secret<String>, ResolveError> {
        let (mount, kv) = match r.kv {
            Some(kv) => {
                let first = r.path.split('/').next().unwrap_or_default();
                (format!("{first}/"), kv)
            }
            None => self.detect(&r.path).await?,
        };
        let rel = r
            .path
            .strip_prefix(mount.as_str())
            .unwrap_or(&r.path)
            .trim_matches('/');
        let api_path = match kv {
            KvVersion::V1 => format!("{mount}{rel}"),
            KvVersion::V2 => format!("{mount}data/{rel}"),
        };
        let version = if kv == KvVersion::V2 { r.version } else { None };
        let data = self
            .read(&api_path, &r.path, version)
            .await
            .map_err(ResolveError::Vault)?;
        match data.expose().get(&r.key) {
            Some(Value::String(s)) => Ok(Secret::new(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Secret::new(v.to_string())),
            Some(_) => Err(VaultError::NotAString {
                path: r.path.clone(),
                key: r.key.clone(),
            }
            .into()),
            None => Err(VaultError::KeyMissing {
                path: r.path.clone(),
                key: r.key.clone(),
                available: data.expose().keys().cloned().collect(),
            }
            .into()),
        }
    }

    /// The mount (`secret/`) and KV version of a logical path.
    async fn detect(&self, path: &str) -> Result<(String, KvVersion), VaultError> {
        let mut mounts = self.mounts.lock().await;
        if let Some((m, kv)) = mounts
            .iter()
            .find(|(m, _)| format!("{path}/").starts_with(m.as_str()))
        {
            return Ok((m.clone(), *kv));
        }
        let api_path = format!("sys/internal/ui/mounts/{path}");
        let answer = match self
            .api
            .call(Method::GET, &api_path, Some(&self.token), None)
            .await
        {
            Ok(a) => a,
            Err(f) => {
                let (status, errors) = self.api.common(f, &api_path)?;
                return Err(self.status_error(status, &errors, path, path).await);
            }
        };
        let data = answer.get("data").unwrap_or(&Value::Null);
        let mount = data
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let engine = data.get("type").and_then(Value::as_str).unwrap_or_default();
        if mount.is_empty() {
            return Err(VaultError::Malformed { path: api_path });
        }
        if engine != "kv" && engine != "generic" {
            return Err(VaultError::NotKv {
                mount,
                engine: engine.to_owned(),
            });
        }
        let kv = match data.pointer("/options/version").and_then(Value::as_str) {
            Some("2") => KvVersion::V2,
            _ => KvVersion::V1,
        };
        mounts.push((mount.clone(), kv));
        Ok((mount, kv))
    }

    async fn read(
        &self,
        api_path: &str,
        logical: &str,
        version: Option<u64>,
    ) -> Shared<SecretData> {
        let cell = {
            let mut reads = self.reads.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(reads.entry((api_path.to_owned(), version)).or_default())
        };
        cell.get_or_init(|| async {
            self.fetch(api_path, logical, version)
                .await
                .map(Arc::new)
                .map_err(Arc::new)
        })
        .await
        .clone()
    }

    async fn fetch(
        &self,
        api_path: &str,
        logical: &str,
        version: Option<u64>,
    ) -> Result<Secret<Map<String, Value>>, VaultError> {
        let request_path = match version {
            Some(v) => format!("{api_path}?version={v}"),
            None => api_path.to_owned(),
        };
        let answer = match self
            .api
            .call(Method::GET, &request_path, Some(&self.token), None)
            .await
        {
            Ok(a) => a,
            Err(f) => {
                let (status, errors) = self.api.common(f, api_path)?;
                return Err(self.status_error(status, &errors, api_path, logical).await);
            }
        };
        // KV v2 nests the secret in `data.data`; v1 has it in `data`.
        let is_v2 = api_path.contains("/data/");
        let pointer = if is_v2 { "/data/data" } else { "/data" };
        match answer.pointer(pointer) {
            Some(Value::Object(map)) => Ok(Secret::new(map.clone())),
            // A deleted or destroyed KV v2 version.
            Some(Value::Null) if is_v2 => Err(VaultError::SecretNotFound {
                path: logical.to_owned(),
            }),
            _ => Err(VaultError::Malformed {
                path: api_path.to_owned(),
            }),
        }
    }

    /// Interprets an error status for a read of `api_path`.
    async fn status_error(
        &self,
        status: u16,
        errors: &[String],
        api_path: &str,
        logical: &str,
    ) -> VaultError {
        match status {
            404 => VaultError::SecretNotFound {
                path: logical.to_owned(),
            },
            403 => {
                // Vault says "permission denied" for a bad token and for a
                // missing policy alike: ask about the token itself.
                match self
                    .api
                    .call(
                        Method::GET,
                        "auth/token/lookup-self",
                        Some(&self.token),
                        None,
                    )
                    .await
                {
                    Err(api::ApiFailure::Status { status: 403, .. }) => VaultError::TokenInvalid {
                        source_desc: self.token_source.clone(),
                        user_supplied: self.custody == Custody::User,
                    },
                    Ok(answer) => VaultError::Denied {
                        path: api_path.to_owned(),
                        policies: answer
                            .pointer("/data/policies")
                            .and_then(Value::as_array)
                            .map_or_else(
                                || self.policies.clone(),
                                |p| {
                                    p.iter()
                                        .filter_map(Value::as_str)
                                        .map(str::to_owned)
                                        .collect()
                                },
                            ),
                    },
                    Err(_) => VaultError::Denied {
                        path: api_path.to_owned(),
                        policies: self.policies.clone(),
                    },
                }
            }
            _ => Api::unexpected(api_path, status, errors),
        }
    }
}
