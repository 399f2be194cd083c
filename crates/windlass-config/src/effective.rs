//! The merged configuration and where each value came from.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use serde::Serialize;

use crate::Settings;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Source {
    /// The built-in default.
    Default,
    /// The user config file.
    UserFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the key.
        line: usize,
    },
    /// The project config file.
    ProjectFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the key.
        line: usize,
    },
    /// A `WINDLASS_*` environment variable.
    Env {
        /// Its name.
        name: String,
    },
    /// A command-line flag.
    Flag {
        /// The flag as the user typed it, `--timeout`.
        flag: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::UserFile { path, line } | Source::ProjectFile { path, line } => {
                write!(f, "{}:{line}", path.display())
            }
            Source::Env { name } => write!(f, "env {name}"),
            Source::Flag { flag } => f.write_str(flag),
        }
    }
}

/// One leaf of the effective configuration, for `windlass config show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The dotted key, `http.timeout`.
    pub key: &'static str,
    /// The value written as TOML (`"30s"`, `3`, `["a", "b"]`), or `None`
    /// when the key is unset. Secret settings hold references such as
    /// `vault://secret/ci/pypi#token`, never secret values.
    pub value: Option<String>,
    /// Where the value came from; `Default` for unset keys.
    pub source: Source,
}

/// The typed settings plus the provenance of every key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EffectiveConfig {
    /// The typed settings.
    pub settings: Settings,
    /// One entry per config key, in registry order.
    pub entries: Vec<Entry>,
    /// The user config file, when one was read.
    pub user_file: Option<PathBuf>,
    /// The project config file, when one was found or given.
    pub project_file: Option<PathBuf>,
}

impl EffectiveConfig {
    /// The entry of a dotted key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.key == key)
    }

    /// Where a dotted key's value came from.
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.entry(key).map(|entry| &entry.source)
    }

    /// A plain-text table of key, value and source, one line per key, for
    /// `windlass config show` (no colour: the caller decorates).
    pub fn render_table(&self) -> String {
        let rows: Vec<[String; 3]> = self
            .entries
            .iter()
            .map(|entry| {
                [
                    entry.key.to_owned(),
                    entry.value.clone().unwrap_or_else(|| "(unset)".to_owned()),
                    entry.source.to_string(),
                ]
            })
            .collect();
        let header = ["KEY".to_owned(), "VALUE".to_owned(), "SOURCE".to_owned()];
        let width = |column: usize| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (key_width, value_width) = (width(0), width(1));
        let mut out = String::new();
        for [key, value, source] in std::iter::once(&header).chain(&rows) {
            let _ = writeln!(out, "{key:<key_width$}  {value:<value_width$}  {source}");
        }
        out
    }
}
