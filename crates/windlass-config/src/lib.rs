//! Layered `windlass.toml` configuration with provenance and precise errors.
//!
//! Settings are merged from five layers, later ones winning per key:
//! built-in defaults < the user file (`$WINDLASS_CONFIG_HOME/windlass.toml`,
//! else `$XDG_CONFIG_HOME/windlass/windlass.toml`, else
//! `~/.config/windlass/windlass.toml`) < the project file (`--config` or
//! `WINDLASS_CONFIG`, else `windlass.toml` in the working directory or an
//! ancestor, searching no further than the directory that holds `.git`) <
//! `WINDLASS_*` environment variables < command-line overrides. A list is one
//! value: a later layer replaces it, never extends it.
//!
//! The typed schema lives in [`Settings`]; every key, its type and its
//! environment variable live in the one registry [`ENV_VARS`], from which
//! `docs/environment.md` and `docs/configuration.md` are generated. Every
//! value carries its [`Source`] for `windlass config show`.
//!
//! This crate reads files and the environment it is handed, and nothing
//! else: it never touches the network, never writes to the terminal and
//! never holds a secret value (secret settings are references such as
//! `vault://secret/ci/pypi#token`, resolved elsewhere).

mod duration;
mod effective;
mod error;
mod load;
mod registry;
mod settings;

pub use crate::effective::{EffectiveConfig, Entry, Source};
pub use crate::error::{LoadError, Location};
pub use crate::load::{FILE_NAME, LoadOptions, Override, find_project_file};
pub use crate::registry::{
    COLOR_CHOICES, ENV_VARS, EnvVar, Kind, config_keys_markdown, env_var, env_vars_markdown, keys,
    setting,
};
pub use crate::settings::{ColorChoice, HttpSettings, OutputSettings, Settings};

#[cfg(test)]
mod tests;
