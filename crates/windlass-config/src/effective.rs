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
    /// An environment variable a tool reads itself, such as `VAULT_ADDR`
    /// or `TWINE_PASSWORD` (added by the tool, see
    /// [`EffectiveConfig::add_tool_entries`]).
    ToolEnv {
        /// Its name.
        name: String,
    },
    /// A line of twine's `.pypirc`.
    Pypirc {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the key.
        line: usize,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::UserFile { path, line }
            | Source::ProjectFile { path, line }
            | Source::Pypirc { path, line } => {
                write!(f, "{}:{line}", path.display())
            }
            Source::Env { name } | Source::ToolEnv { name } => write!(f, "env {name}"),
            Source::Flag { flag } => f.write_str(flag),
        }
    }
}

/// The schema of [`Entry::value`] in JSON: what a TOML value becomes.
fn typed_value_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["string", "integer", "number", "boolean", "array", "object", "null"]
    })
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
    /// entries are shown as the references they are, never resolved); a
    /// credential that is not a reference is `****`.
    ///
    /// In JSON it is the typed value: a string, integer, boolean or array
    /// (`null` when unset); a duration is its string form (`"1m30s"`), a
    /// masked value the string `"****"`.
    #[serde(serialize_with = "typed_value")]
    #[schemars(schema_with = "typed_value_schema")]
    pub value: Option<String>,
    /// Where the value came from; `Default` for unset keys.
    pub source: Source,
}

impl Entry {
    /// An entry holding the string `value` (user info in a URL masked).
    pub fn string(key: impl Into<String>, value: &str, source: Source) -> Self {
        Self {
            key: key.into(),
            value: Some(crate::load::shown(
                &toml::Value::String(value.to_owned()).to_string(),
            )),
            source,
        }
    }

    /// An entry whose value is a credential: shown as `****`, never the
    /// value nor its length.
    pub fn masked(key: impl Into<String>, source: Source) -> Self {
        Self {
            key: key.into(),
            value: Some(MASK.to_owned()),
            source,
        }
    }
}

/// What a credential value is shown as.
const MASK: &str = "****";

/// Serializes the TOML text of an entry as the typed value it writes.
#[expect(
    clippy::ref_option,
    reason = "serde's `serialize_with` hands over a reference to the field"
)]
fn typed_value<S: serde::Serializer>(
    value: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let Some(text) = value else {
        return serializer.serialize_none();
    };
    match toml::from_str::<toml::Table>(&format!("v = {text}")) {
        Ok(mut table) => match table.remove("v") {
            Some(value) => plain(value).serialize(serializer),
            None => serializer.serialize_str(text),
        },
        // `****` and anything else that is not TOML is shown as written.
        Err(_) => serializer.serialize_str(text),
    }
}

/// A TOML value with its dates turned into their strings, so that it
/// serializes as plain JSON.
fn plain(value: toml::Value) -> toml::Value {
    match value {
        toml::Value::Datetime(date) => toml::Value::String(date.to_string()),
        toml::Value::Array(items) => toml::Value::Array(items.into_iter().map(plain).collect()),
        toml::Value::Table(table) => {
            toml::Value::Table(table.into_iter().map(|(k, v)| (k, plain(v))).collect())
        }
        other => other,
    }
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

    /// Adds the values a tool takes from its own environment variables and
    /// files (`VAULT_ADDR`, `TWINE_PASSWORD`, `.pypirc`): an entry with the
    /// key of an existing one replaces it where it stands (the tool's
    /// variable wins over the file), any other is appended in the given
    /// order.
    pub fn add_tool_entries(&mut self, entries: impl IntoIterator<Item = Entry>) {
        for entry in entries {
            match self.entries.iter_mut().find(|old| old.key == entry.key) {
                Some(old) => *old = entry,
                None => self.entries.push(entry),
            }
        }
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
