//! Reading `pyproject.toml`: the PEP 621 `[project]` table, PEP 517/518
//! `[build-system]`, and the backend tables that decide package discovery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The largest `pyproject.toml` read: 4 MiB.
pub const PYPROJECT_LIMIT: u64 = 4 * windlass_fs::MIB;

/// A parsed `pyproject.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PyProject {
    pub project: Option<Project>,
    pub build_system: Option<BuildSystem>,
    #[serde(default)]
    pub tool: toml::Table,
}

/// `[build-system]` (PEP 518/517).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BuildSystem {
    #[serde(default)]
    pub requires: Vec<String>,
    pub build_backend: Option<String>,
    #[serde(default)]
    pub backend_path: Vec<String>,
}

/// `[project]` (PEP 621).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Project {
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    pub readme: Option<Readme>,
    pub requires_python: Option<String>,
    pub license: Option<License>,
    pub license_files: Option<Vec<String>>,
    #[serde(default)]
    pub authors: Vec<Contact>,
    #[serde(default)]
    pub maintainers: Vec<Contact>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub classifiers: Vec<String>,
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    #[serde(default)]
    pub scripts: BTreeMap<String, String>,
    #[serde(default)]
    pub gui_scripts: BTreeMap<String, String>,
    #[serde(default)]
    pub entry_points: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub dynamic: Vec<String>,
    #[serde(default)]
    pub import_names: Option<Vec<String>>,
    #[serde(default)]
    pub import_namespaces: Option<Vec<String>>,
}

/// `project.readme`: a path, or a table with a file or inline text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Readme {
    Path(String),
    Table {
        file: Option<String>,
        text: Option<String>,
        #[serde(rename = "content-type")]
        content_type: Option<String>,
    },
}

/// `project.license`: a PEP 639 SPDX expression, or the legacy table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum License {
    Expression(String),
    Table {
        file: Option<String>,
        text: Option<String>,
    },
}

/// An entry of `project.authors` or `project.maintainers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Why `pyproject.toml` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no `pyproject.toml` in `{}`", dir.display())]
    Missing { dir: PathBuf },
    #[error("failed to read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("`{}` is not a valid pyproject.toml", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: TomlDetail,
    },
}

impl ReadError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Missing { .. } => Some(
                "run the command in a Python project directory, or pass its path: `windlass wheel build DIR`",
            ),
            Self::Toml { .. } => Some("fix the TOML syntax or the field named above"),
            Self::Io { source, .. } => source.hint(),
        }
    }
}

/// The TOML parser's own account: line, column and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TomlDetail(String);

/// A named build backend we know how to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KnownBackend {
    Hatchling,
    FlitCore,
    Setuptools,
    UvBuild,
}

impl KnownBackend {
    /// Maps a `build-backend` string to a known backend.
    pub fn from_backend(backend: &str) -> Option<Self> {
        match backend {
            "hatchling.build" => Some(Self::Hatchling),
            "flit_core.buildapi" => Some(Self::FlitCore),
            "setuptools.build_meta" => Some(Self::Setuptools),
            "uv_build" => Some(Self::UvBuild),
            _ => None,
        }
    }

    /// The `[tool.X]` table this backend reads.
    pub fn tool_table(self) -> &'static str {
        match self {
            Self::Hatchling => "hatch",
            Self::FlitCore => "flit",
            Self::Setuptools => "setuptools",
            Self::UvBuild => "uv",
        }
    }
}

impl std::fmt::Display for KnownBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hatchling => "hatchling",
            Self::FlitCore => "flit_core",
            Self::Setuptools => "setuptools",
            Self::UvBuild => "uv_build",
        })
    }
}

impl PyProject {
    /// Reads `DIR/pyproject.toml`: a regular file of at most
    /// [`PYPROJECT_LIMIT`] bytes.
    pub fn read(dir: &Path) -> Result<Self, ReadError> {
        let path = dir.join("pyproject.toml");
        let text = match windlass_fs::read_to_string(&path, PYPROJECT_LIMIT) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => {
                return Err(ReadError::Missing {
                    dir: dir.to_path_buf(),
                });
            }
            Err(source) => return Err(ReadError::Io { path, source }),
        };
        Self::parse(&text, &path)
    }

    /// Parses pyproject text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ReadError> {
        toml::from_str(text).map_err(|e| ReadError::Toml {
            path: path.to_path_buf(),
            source: TomlDetail(e.to_string().trim_end().to_owned()),
        })
    }

    /// The declared build backend, defaulting to the setuptools legacy
    /// backend as PEP 517 says front ends must.
    pub fn backend(&self) -> &str {
        self.build_system
            .as_ref()
            .and_then(|b| b.build_backend.as_deref())
            .unwrap_or("setuptools.build_meta:__legacy__")
    }

    /// The build requirements, with PEP 518's default.
    pub fn build_requires(&self) -> Vec<String> {
        match &self.build_system {
            Some(b) => b.requires.clone(),
            None => vec!["setuptools>=40.8.0".to_owned()],
        }
    }

    /// `[tool.NAME]` followed along a dotted path, e.g. `tool("hatch", &["build", "targets"])`.
    pub fn tool(&self, name: &str, path: &[&str]) -> Option<&toml::Value> {
        let mut value = self.tool.get(name)?;
        for key in path {
            value = value.as_table()?.get(*key)?;
        }
        Some(value)
    }
}
