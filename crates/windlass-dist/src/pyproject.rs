//! Reading `pyproject.toml`: the PEP 621 `[project]` table, PEP 517/518
//! `[build-system]`, and the backend tables that decide package discovery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The largest `pyproject.toml` read: 4 MiB.
pub const PYPROJECT_LIMIT: u64 = 4 * windlass_fs::MIB;

/// A parsed `pyproject.toml`, or the stand-in for a tree that has only
/// `setup.py` or `setup.cfg` (PEP 517's setuptools legacy defaults).
#[derive(Debug, Clone, Default)]
pub struct PyProject {
    /// `[project]` as the native reader understands it; `None` when the
    /// table is absent or holds a key or form the reader does not know
    /// (then [`PyProject::project_unread`] says which).
    pub project: Option<Project>,
    /// `[project]` as written, whatever the native reader makes of it.
    pub project_table: Option<toml::Table>,
    /// Why the native reader could not read `[project]`: a reason to build
    /// with the project's backend, which alone decides what is valid.
    pub project_unread: Option<String>,
    pub build_system: Option<BuildSystem>,
    pub tool: toml::Table,
    /// No `pyproject.toml`: the tree has `setup.py` or `setup.cfg` only.
    pub legacy: bool,
}

/// The file as TOML, before `[project]` is read.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPyProject {
    project: Option<toml::Table>,
    build_system: Option<BuildSystem>,
    #[serde(default)]
    tool: toml::Table,
}

/// The keys of `[project]` the native reader knows.
const PROJECT_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "readme",
    "requires-python",
    "license",
    "license-files",
    "authors",
    "maintainers",
    "keywords",
    "classifiers",
    "urls",
    "scripts",
    "gui-scripts",
    "entry-points",
    "dependencies",
    "optional-dependencies",
    "dynamic",
    "import-names",
    "import-namespaces",
];

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
    ///
    /// A tree without one that has `setup.py` or `setup.cfg` is a legacy
    /// setuptools project: PEP 517 and 518 give it
    /// `setuptools.build_meta:__legacy__` and `setuptools>=40.8.0`.
    pub fn read(dir: &Path) -> Result<Self, ReadError> {
        let path = dir.join("pyproject.toml");
        let text = match windlass_fs::read_to_string(&path, PYPROJECT_LIMIT) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => {
                if ["setup.py", "setup.cfg"]
                    .iter()
                    .any(|legacy| dir.join(legacy).is_file())
                {
                    return Ok(Self {
                        legacy: true,
                        ..Self::default()
                    });
                }
                return Err(ReadError::Missing {
                    dir: dir.to_path_buf(),
                });
            }
            Err(source) => return Err(ReadError::Io { path, source }),
        };
        Self::parse(&text, &path)
    }

    /// Parses pyproject text; `path` is used in messages only.
    ///
    /// Only what every backend refuses is an error here (TOML syntax, a
    /// `[build-system]` of the wrong form); a `[project]` key or form the
    /// native reader does not know is recorded in
    /// [`PyProject::project_unread`].
    pub fn parse(text: &str, path: &Path) -> Result<Self, ReadError> {
        let raw: RawPyProject = toml::from_str(text).map_err(|e| ReadError::Toml {
            path: path.to_path_buf(),
            source: TomlDetail(e.to_string().trim_end().to_owned()),
        })?;
        let (project, project_unread) = match &raw.project {
            None => (None, None),
            Some(table) => match read_project(table) {
                Ok(project) => (Some(project), None),
                Err(why) => (None, Some(why)),
            },
        };
        Ok(Self {
            project,
            project_table: raw.project,
            project_unread,
            build_system: raw.build_system,
            tool: raw.tool,
            legacy: false,
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

    /// The project's declared `project.version`, whether or not the native
    /// reader understands the rest of `[project]`.
    pub fn declares_version(&self) -> Option<bool> {
        let table = self.project_table.as_ref()?;
        let dynamic = table
            .get("dynamic")
            .and_then(toml::Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("version")));
        Some(table.contains_key("version") || dynamic)
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

/// `[project]` through the native reader, or why it cannot read it.
fn read_project(table: &toml::Table) -> Result<Project, String> {
    let unknown: Vec<String> = table
        .keys()
        .filter(|key| !PROJECT_KEYS.contains(&key.as_str()))
        .map(|key| format!("`{key}`"))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "`[project]` has {}, which the native reader does not know",
            unknown.join(", ")
        ));
    }
    Project::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        let detail: Vec<String> = e.to_string().lines().map(|l| l.trim().to_owned()).collect();
        format!(
            "`[project]` has a form the native reader does not know: {}",
            detail.join(" ")
        )
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::PyProject;

    /// What the native reader makes of a `[project]` table: read, or why not.
    fn read(project: &str) -> String {
        let text = format!("[project]\n{project}\n");
        let pyproject = PyProject::parse(&text, Path::new("pyproject.toml")).unwrap();
        match (pyproject.project, pyproject.project_unread) {
            (Some(project), None) => format!("read: {}", project.name),
            (None, Some(why)) => why,
            other => panic!("neither read nor a reason: {other:?}"),
        }
    }

    #[test]
    fn project_tables_the_native_reader_does_not_know() {
        let cases = [
            "name = \"a\"\nversion = \"1\"",
            "name = \"a\"\nrepository = \"https://example.org/a\"",
            "name = \"a\"\nrepository = \"x\"\nhomepage = \"y\"",
            "name = \"a\"\nlicense-files = { paths = [\"LICENSE\"] }",
            "name = \"a\"\nauthors = [{ name = \"x\", url = \"y\" }]",
            "version = \"1\"",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|case| format!("{case:?}\n  {}", read(case)))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    /// A tree with only `setup.py` or `setup.cfg` gets PEP 517's legacy
    /// defaults; a tree with neither is still refused.
    #[test]
    fn legacy_trees_get_the_setuptools_legacy_backend() {
        for file in ["setup.py", "setup.cfg"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(file), "").unwrap();
            let pyproject = PyProject::read(dir.path()).unwrap();
            assert!(pyproject.legacy, "{file}");
            assert_eq!(pyproject.backend(), "setuptools.build_meta:__legacy__");
            assert_eq!(pyproject.build_requires(), ["setuptools>=40.8.0"]);
        }
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            PyProject::read(empty.path()),
            Err(super::ReadError::Missing { .. })
        ));
    }
}
