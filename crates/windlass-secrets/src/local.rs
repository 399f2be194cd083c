//! Secrets that live on this machine: environment variables, files and the
//! OS keyring (the Secret Service or the kernel keyring).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use windlass_config::Environment;
use windlass_redact::Secret;

use crate::error::ResolveError;
use crate::reference::{EnvRef, FileRef, KeyringRef, KeyringStore};

pub(crate) fn read_env(env: &Environment, r: &EnvRef) -> Result<Secret<String>, ResolveError> {
    match env.get(&r.name) {
        None => Err(ResolveError::EnvMissing {
            name: r.name.clone(),
        }),
        Some(v) => match v.to_str() {
            Some(s) => Ok(Secret::new(s.to_owned())),
            None => Err(ResolveError::EnvNotUnicode {
                name: r.name.clone(),
            }),
        },
    }
}

/// Where a `file://` path points: `~/` is the home directory, a relative
/// path is relative to `base`.
pub(crate) fn file_path(env: &Environment, base: &Path, r: &FileRef) -> PathBuf {
    if let (Ok(rest), Some(home)) = (r.path.strip_prefix("~"), env.home()) {
        return home.join(rest);
    }
    base.join(&r.path)
}

/// The largest secret file read: 1 MiB. A token, a password or a private
/// key fits many times over; a path to something else fails fast.
pub(crate) const SECRET_FILE_LIMIT: u64 = windlass_fs::MIB;

/// The largest token file read (`~/.vault-token`, a Kubernetes
/// service-account token): 1 MiB.
pub(crate) const TOKEN_FILE_LIMIT: u64 = windlass_fs::MIB;

/// Reads a secret file; one trailing newline is removed. Warns when the
/// file can be read by other users. Fifos, sockets, devices, directories
/// and files over [`SECRET_FILE_LIMIT`] are refused.
pub(crate) fn read_file(path: &Path) -> Result<Secret<String>, ResolveError> {
    let unreadable = |source: windlass_fs::ReadError| {
        if source.is_not_found() {
            ResolveError::FileMissing {
                path: path.to_owned(),
            }
        } else if matches!(source, windlass_fs::ReadError::NotUnicode { .. }) {
            ResolveError::FileNotUnicode {
                path: path.to_owned(),
            }
        } else {
            ResolveError::FileUnreadable {
                path: path.to_owned(),
                source,
            }
        }
    };
    let file = windlass_fs::open(path).map_err(unreadable)?;
    warn_if_shared(path, file.metadata());
    let mut text = file.read_string(SECRET_FILE_LIMIT).map_err(unreadable)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(Secret::new(text))
}

/// Reads a token file the Vault login uses (`~/.vault-token`, a Kubernetes
/// service-account token), with the checks of [`read_file`] and a limit of
/// [`TOKEN_FILE_LIMIT`].
pub(crate) fn read_token(path: &Path) -> Result<String, windlass_fs::ReadError> {
    windlass_fs::read_to_string(path, TOKEN_FILE_LIMIT)
}

#[cfg(unix)]
fn warn_if_shared(path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode();
    if mode & 0o044 != 0 {
        tracing::warn!(
            "secret file `{}` is readable by {} (mode {:o}); run `chmod 600` on it",
            path.display(),
            if mode & 0o004 != 0 {
                "every user"
            } else {
                "its group"
            },
            mode & 0o777
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path, _meta: &std::fs::Metadata) {}

/// Reads an entry of the OS keyring, off the async runtime's threads (the
/// Secret Service is a few blocking D-Bus round trips).
pub(crate) async fn read_keyring(
    env: &Environment,
    r: &KeyringRef,
) -> Result<Secret<String>, ResolveError> {
    let bus = SessionBus::of(env);
    let owned = r.clone();
    match tokio::task::spawn_blocking(move || read_keyring_blocking(bus, &owned)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only when the runtime shuts down under us.
        Err(_) => Err(unavailable(
            r,
            r.store.unwrap_or(KeyringStore::Keyutils),
            "the keyring read was cancelled".into(),
        )),
    }
}

/// Stores a value in the OS keyring, in the store a read of `r` would use
/// (for tests and a future `secrets set`). Blocking.
pub fn store_in_keyring(
    env: &Environment,
    r: &KeyringRef,
    value: &Secret<String>,
) -> Result<(), ResolveError> {
    let (kind, entry) = open_entry(SessionBus::of(env), r)?;
    entry
        .set_password(value.expose())
        .map_err(|e| unavailable(r, kind, describe(&e)))
}

/// Whether the environment names a D-Bus session bus. The connection
/// itself is made by `zbus` from the process environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionBus {
    Named,
    Absent,
}

impl SessionBus {
    fn of(env: &Environment) -> Self {
        if env.get_str("DBUS_SESSION_BUS_ADDRESS").is_some() {
            Self::Named
        } else {
            Self::Absent
        }
    }
}

fn read_keyring_blocking(bus: SessionBus, r: &KeyringRef) -> Result<Secret<String>, ResolveError> {
    let (kind, entry) = open_entry(bus, r)?;
    // keyring-core's errors are mapped here, without their `Debug` (which
    // prints the raw bytes of an entry that is not UTF-8).
    match entry.get_password() {
        Ok(value) => Ok(Secret::new(value)),
        Err(keyring_core::Error::NoEntry) => Err(ResolveError::KeyringMissing {
            service: r.service.clone(),
            user: r.user.clone(),
            store: kind,
        }),
        Err(e) => Err(unavailable(r, kind, describe(&e))),
    }
}

fn open_entry(
    bus: SessionBus,
    r: &KeyringRef,
) -> Result<(KeyringStore, keyring_core::Entry), ResolveError> {
    let (kind, store) =
        choose_store(r.store, bus).map_err(|(kind, reason)| unavailable(r, kind, reason))?;
    let entry = keyring_core::Entry::new_in_store(&store, &r.service, &r.user)
        .map_err(|e| unavailable(r, kind, describe(&e)))?;
    Ok((kind, entry))
}

fn unavailable(r: &KeyringRef, store: KeyringStore, reason: String) -> ResolveError {
    ResolveError::KeyringUnavailable {
        service: r.service.clone(),
        user: r.user.clone(),
        store,
        reason,
    }
}

type Store = Arc<keyring_core::CredentialStore>;

/// The store a reference pins, or the Secret Service when a session bus
/// is named and a Secret Service answers on it, else the kernel keyring.
fn choose_store(
    pinned: Option<KeyringStore>,
    bus: SessionBus,
) -> Result<(KeyringStore, Store), (KeyringStore, String)> {
    let open = |kind: KeyringStore| {
        let store = match kind {
            KeyringStore::SecretService => secret_service_store(),
            KeyringStore::Keyutils => keyutils_store(),
        };
        store.map(|s| (kind, s)).map_err(|reason| (kind, reason))
    };
    if let Some(kind) = pinned {
        return open(kind);
    }
    match bus {
        SessionBus::Named => match secret_service_store() {
            Ok(store) => {
                tracing::debug!(
                    "keyring: reading the secret service (a session bus answers for it)"
                );
                return Ok((KeyringStore::SecretService, store));
            }
            Err(reason) => tracing::debug!("keyring: reading the kernel keyring ({reason})"),
        },
        SessionBus::Absent => tracing::debug!(
            "keyring: reading the kernel keyring (DBUS_SESSION_BUS_ADDRESS is not set)"
        ),
    }
    open(KeyringStore::Keyutils)
}

/// The Secret Service, connected once per process.
fn secret_service_store() -> Result<Store, String> {
    static STORE: OnceLock<Result<Store, String>> = OnceLock::new();
    STORE
        .get_or_init(|| match zbus_secret_service_keyring_store::Store::new() {
            Ok(store) => Ok(store as Store),
            Err(e) => Err(format!(
                "no secret service on the session bus: {}",
                describe(&e)
            )),
        })
        .clone()
}

/// The kernel keyring, opened once per process.
fn keyutils_store() -> Result<Store, String> {
    static STORE: OnceLock<Result<Store, String>> = OnceLock::new();
    STORE
        .get_or_init(|| match linux_keyutils_keyring_store::Store::new() {
            Ok(store) => Ok(store as Store),
            Err(e) => Err(format!("cannot open the kernel keyring: {}", describe(&e))),
        })
        .clone()
}

fn describe(e: &keyring_core::Error) -> String {
    use keyring_core::Error as E;
    match e {
        E::PlatformFailure(inner) => format!("keyring failure: {inner}"),
        E::NoStorageAccess(inner) => format!("no access to the keyring: {inner}"),
        E::NoEntry => "no such entry".into(),
        E::BadEncoding(_) | E::BadDataFormat(..) => "the stored value is not UTF-8 text".into(),
        E::Invalid(attr, reason) => format!("invalid {attr}: {reason}"),
        E::TooLong(attr, len) => format!("{attr} is longer than {len} characters"),
        E::NoDefaultStore => "no keyring store is available".into(),
        E::NotSupportedByStore(what) => format!("not supported by the keyring: {what}"),
        E::Ambiguous(entries) => format!(
            "{} entries match the service and user; delete all but one",
            entries.len()
        ),
        _ => "the keyring failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths() {
        let env = Environment::from_vars([("HOME", "/home/u")]);
        let base = Path::new("/proj");
        let p = |s: &str| {
            file_path(
                &env,
                base,
                &FileRef {
                    path: PathBuf::from(s),
                },
            )
        };
        assert_eq!(p("~/t"), PathBuf::from("/home/u/t"));
        assert_eq!(p("/abs/t"), PathBuf::from("/abs/t"));
        assert_eq!(p("rel/t"), PathBuf::from("/proj/rel/t"));
    }
}
