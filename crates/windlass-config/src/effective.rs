//! The merged configuration and where each value came from.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::section::Sections;
use crate::{LoadError, Settings};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Entry {
    /// The dotted key, `http.timeout`, or a leaf of a tool-owned section,
    /// `secrets.PYPI_TOKEN`, `vault.approle.role-id`.
    pub key: String,
    /// The value written as TOML (`"30s"`, `3`, `["a", "b"]`), or `None`
    /// when the key is unset. Secret settings hold references such as
    /// `vault://secret/ci/pypi#token`, never secret values (`[secrets]`
    /// entries are shown as the references they are, never resolved).
    pub value: Option<String>,
    /// Where the value came from; `Default` for unset keys.
    pub source: Source,
}

/// The typed settings plus the provenance of every key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct EffectiveConfig {
    /// The typed settings.
    pub settings: Settings,
    /// One entry per config key, in registry order, then one per leaf of
    /// the tool-owned sections, in file order (user file first).
    pub entries: Vec<Entry>,
    /// The user config file, when one was read.
    pub user_file: Option<PathBuf>,
    /// The project config file, when one was found or given.
    pub project_file: Option<PathBuf>,
    /// The tool-owned sections, as written, with their files.
    #[serde(skip)]
    pub(crate) sections: Sections,
}

impl EffectiveConfig {
    /// The tool-owned section `name` (a row of [`crate::TOOL_SECTIONS`]) as
    /// the tool's type: merged across the files, an empty table when no
    /// file has it. Give `T` `#[serde(rename_all = "kebab-case",
    /// deny_unknown_fields)]`; its unknown keys, missing keys, wrong types
    /// and invalid values become [`LoadError`]s with the file, line, caret
    /// and (for keys) a did-you-mean. Paths typed [`crate::RelativePath`]
    /// come out resolved against the directory of the file that set them.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<T, LoadError> {
        if crate::registry::tool_section(name).is_none() {
            return Err(LoadError::Internal {
                message: format!("`{name}` is not a registered tool-owned section"),
            });
        }
        self.sections.deserialize(name)
    }

    /// The directory of the project file, when there is one: where a
    /// tool resolves project-relative paths such as `file://token.txt`
    /// (callers fall back to the working directory).
    pub fn project_dir(&self) -> Option<&Path> {
        self.project_file.as_deref().and_then(Path::parent)
    }

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
                    entry.key.clone(),
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
