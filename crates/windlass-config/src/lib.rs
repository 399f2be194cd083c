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
//! Some top-level sections belong to a tool (`[secrets]`, `[vault]`,
//! `[wheel]`: the registry [`TOOL_SECTIONS`]). This crate keeps their
//! content as written, with file and line, merges it across the two files
//! (tables key by key, everything else replaced whole), shows it, and hands
//! it to the tool's own serde types through [`EffectiveConfig::section`],
//! which reports the tool's unknown keys and wrong types with the same
//! file:line, caret and did-you-mean as its own. Those sections are set in
//! files only: no `WINDLASS_*` variable or flag reaches them.
//!
//! The process's variables beyond `WINDLASS_*` (`TWINE_*`, `VAULT_*`, CI
//! identity, `HOME`) are read from one snapshot, [`Environment`], taken
//! once by the binary and handed to every tool.
//!
//! This crate reads files and the environment it is handed, and nothing
//! else: it never touches the network, never writes to the terminal and
//! never holds a secret value (secret settings are references such as
//! `vault://secret/ci/pypi#token`, resolved elsewhere).

pub mod duration;
mod effective;
mod environment;
mod error;
mod load;
mod registry;
mod section;
mod settings;

pub use crate::effective::{EffectiveConfig, Entry, Source};
pub use crate::environment::Environment;
pub use crate::error::{LoadError, Location};
pub use crate::load::{FILE_LIMIT, FILE_NAME, LoadOptions, Override, find_project_file};
pub use crate::registry::{
    ENV_VARS, EnvVar, Kind, REFERENCE_SCHEMES, TOOL_KEYS, TOOL_SECTIONS, ToolKey, ToolSection,
    config_keys_markdown, env_var, env_vars_markdown, is_reference, keys, setting,
    tool_keys_markdown, tool_section, tool_sections_markdown,
};
pub use crate::section::RelativePath;
pub use crate::settings::{HttpSettings, Settings};

#[cfg(test)]
mod tests;
