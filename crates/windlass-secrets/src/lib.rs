//! Secrets for releases: fetched from Vault/OpenBao, CI environment
//! variables, the OS keyring and files; injected into a child's
//! environment; masked in GitHub Actions; never printed.
//!
//! One reference syntax names where a secret lives (it is a locator, safe
//! to print; a plain value is refused where a reference is expected):
//!
//! | reference                 | meaning                                                        |
//! |---------------------------|----------------------------------------------------------------|
//! | `vault://MOUNT/PATH#KEY`  | a key of a KV secret; v1 or v2 detected from the mount, or `?kv=1`/`?kv=2`; `?version=N` reads a KV v2 version |
//! | `env://NAME`              | an environment variable (a CI secret)                          |
//! | `keyring://SERVICE/USER`  | the OS keyring: the Secret Service when a D-Bus session bus answers for it, else the Linux kernel keyring; `?store=secret-service` or `?store=keyutils` pins one |
//! | `file://PATH`             | a file, one trailing newline removed; relative to the project, `~/` is home; a warning when others may read it |
//!
//! [`Resolver`] turns references into [`Secret`](windlass_redact::Secret)
//! values, concurrently, and registers every secret value with the global
//! redactor before returning it, so nothing Windlass prints afterwards can
//! contain it (plain, base64, URL-encoded, JSON-escaped or hex).
//!
//! # Keyring stores
//!
//! A `keyring://` reference without `?store=` reads the Secret Service
//! (GNOME Keyring, KeePassXC, KWallet) when `DBUS_SESSION_BUS_ADDRESS` is
//! set and a Secret Service answers on that bus, and the Linux kernel
//! keyring (keyutils, which needs no daemon: the headless CI case)
//! otherwise. Both come from the `keyring-core` family of crates: the
//! Secret Service through pure-Rust `zbus` (no libdbus, no OpenSSL).
//! Entries are found by the `service` and `username` attributes (what
//! `secret-tool store service S username U` writes) or, in the kernel
//! keyring, by the description `keyring:USER@SERVICE`.
//!
//! # Why not `vaultrs`
//!
//! The Vault client is a few requests over `windlass-http` rather than the
//! `vaultrs` crate: vaultrs 0.8 prints tokens and raw response bodies in
//! the `Debug` output of its client settings, login responses and errors;
//! it has no retries, no token renewal and no GitHub OIDC fetch; and its
//! health-check parser fails on OpenBao's answer. Speaking the HTTP API
//! directly keeps tokens in `Secret`, errors free of response bodies, and
//! retries, TLS and proxies in the one crate that owns them.
//!
//! # Tokens
//!
//! A token Windlass obtained (AppRole, JWT/OIDC, Kubernetes) is renewed at
//! about two thirds of its TTL (clamped to 32 days, whatever Vault says)
//! while the [`Resolver`] lives and revoked by [`Resolver::close`], once,
//! also when the login was still in flight. The commands close the resolver
//! on every way out, SIGINT and SIGTERM included. A batch token (which can
//! be neither) and a token the user supplied (`VAULT_TOKEN`,
//! `~/.vault-token`) are never renewed nor revoked.
//!
//! The variables that `env://` secret references of the configuration read
//! are declared secret as soon as it is loaded
//! ([`declare_secret_vars`]): masked, and withheld from children that must
//! not hold credentials. `exec`'s command is not one of those: it keeps our
//! environment.
//!
//! This crate never prints a secret value except where a command's purpose
//! is to hand it over (`get` to a pipe or with `--reveal`; `mask` to the
//! GitHub Actions runner), never puts one in argv, an error, a log line or a
//! file other than `$GITHUB_ENV` on request.

pub mod cli;
pub mod config;
mod error;
mod local;
mod reference;
mod resolve;
mod vault;

pub use crate::cli::{SecretsArgs, SecretsCli, SecretsCommand};
pub use crate::config::{
    SecretEntry, SecretsConfig, SecretsSection, ToolConfig, VAULT_ENV_VARS, VaultSection,
    config_secret_env_vars, declare_secret_vars, env_var_of, tool_entries,
};
pub use crate::error::{ResolveError, Status, VaultError};
pub use crate::local::store_in_keyring;
pub use crate::reference::{
    EnvRef, FileRef, KeyringRef, KeyringStore, KvVersion, ParseError, ParseErrorKind, SecretRef,
    VaultRef,
};
pub use crate::resolve::{EntryError, NamedRef, Resolved, Resolver};
pub use crate::vault::{AuthSettings, VaultSettings};
