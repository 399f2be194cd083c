//! The native build plan: from `pyproject.toml` and the source tree to core
//! metadata and the exact list of files each archive holds, following the
//! declared backend's discovery rules for standard configurations.
//!
//! When the project uses something the native builder cannot promise to
//! reproduce (dynamic metadata, build hooks, an unknown backend, unusual
//! backend options), [`plan`] answers [`Unsupported`] with the reasons so
//! that `auto` can fall back to PEP 517.
//!
//! Every file a plan packages resolves inside the project and is a regular
//! file: a symlink that leaves the project (to `~/.pypirc`, say) and a
//! fifo, socket or device are errors naming them, never archive members. A
//! symlink that stays inside the project is followed.
//!
//! Each backend the native builder reproduces is one module implementing
//! `Backend` (its allowed `[tool.*]` keys, discovery, sdist rules and
//! metadata quirks), registered in `backend_for`; this module holds what they
//! share: the plan type, the checks of `[project]` every backend makes, and
//! the license-file search.

mod files;
mod flit;
mod hatchling;
mod project;
mod setuptools;
mod uv_build;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::archive::Entry;
use crate::metadata::CoreMetadata;
use crate::name;
use crate::pyproject::{KnownBackend, License, Project, PyProject, Readme};

pub use self::hatchling::GITIGNORE_LIMIT;
pub use self::project::canonical_license;

/// The largest readme read into the metadata: 16 MiB.
pub const README_LIMIT: u64 = 16 * windlass_fs::MIB;

/// Everything needed to write a wheel and an sdist without running Python.
#[derive(Debug, Clone)]
pub struct NativePlan {
    pub backend: KnownBackend,
    pub metadata: CoreMetadata,
    /// Files at the wheel root (packages and modules), sorted by path.
    pub wheel_files: Vec<Entry>,
    /// Files under `{name}-{version}.data/`, path relative to that directory.
    pub data_files: Vec<Entry>,
    /// License files, path relative to the project root.
    pub license_files: Vec<Entry>,
    /// `entry_points.txt`, when there is any entry point.
    pub entry_points: Option<String>,
    /// Extra `.dist-info` files the backend writes (setuptools' `top_level.txt`).
    pub extra_dist_info: Vec<Entry>,
    /// Files of the sdist, relative to the project root.
    pub sdist_files: Vec<Entry>,
    /// Why the native sdist differs from the backend's, if it does: `auto`
    /// then builds the sdist with PEP 517 (the wheel stays native).
    pub sdist_differs: Option<String>,
}

/// Why the native builder declines; each reason names the file and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reasons.join("; "))
    }
}

/// The project declares something invalid: no backend would build it.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("invalid `{field}` in `{}`: {message}", file.display())]
    Field {
        file: PathBuf,
        field: String,
        message: String,
    },
    #[error("`{field}` in `{}` points to `{}`, which cannot be read", file.display(), path.display())]
    MissingFile {
        file: PathBuf,
        field: String,
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: windlass_fs::ReadError,
    },
    /// A symlink in the project whose target is outside it.
    #[error("`{}` is a symbolic link to `{}`, outside the project", link.display(), target.display())]
    LinkOutside {
        /// The link, relative to the project root.
        link: PathBuf,
        /// Where it resolves.
        target: PathBuf,
    },
    /// A path (with `..`) that leaves the project.
    #[error("`{}` resolves to `{}`, outside the project", path.display(), target.display())]
    PathOutside { path: PathBuf, target: PathBuf },
    /// A fifo, socket or device among the files to package.
    #[error("`{}` is a {kind}: only regular files can be packaged", path.display())]
    SpecialFile {
        /// Relative to the project root.
        path: PathBuf,
        kind: windlass_fs::FileKind,
    },
    #[error("{backend} cannot find the files to put in the wheel: looked for {looked_for}")]
    NoPackage {
        backend: KnownBackend,
        looked_for: String,
    },
    #[error("failed to walk `{}`", path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PlanError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Field { field, .. } if field.contains("license") => Some(
                "use an SPDX expression such as `MIT` or `Apache-2.0 OR MIT` (https://spdx.org/licenses/)"
                    .to_owned(),
            ),
            Self::MissingFile { source, .. } | Self::Read { source, .. }
                if !source.is_not_found() =>
            {
                source.hint().map(str::to_owned)
            }
            Self::Field { field, message, .. }
                if field == "project.version" && message.starts_with("missing") =>
            {
                Some(
                    "add `version = \"0.1.0\"` to `[project]`, or `dynamic = [\"version\"]` \
                     when the build backend sets it"
                        .to_owned(),
                )
            }
            Self::Field { .. } | Self::Walk { .. } | Self::Read { .. } => None,
            Self::MissingFile { field, .. } => {
                Some(format!("create the file or fix the path in `{field}`"))
            }
            Self::LinkOutside { .. } => Some(
                "a wheel or sdist holds files of the project only: replace the link with a copy \
                 of what it points to, or delete it"
                    .to_owned(),
            ),
            Self::PathOutside { .. } => {
                Some("move the file into the project directory".to_owned())
            }
            Self::SpecialFile { .. } => Some(
                "delete it or move it out of the project: a fifo, socket or device is never \
                 packaged"
                    .to_owned(),
            ),
            Self::NoPackage { backend, .. } => Some(format!(
                "put the code in `src/<name>/__init__.py` or `<name>/__init__.py`, or configure discovery in `[tool.{}]`",
                backend.tool_table()
            )),
        }
    }
}

/// What the native builder knows of one build backend. Adding a backend is
/// a variant of [`KnownBackend`], one module implementing this trait and
/// one line in [`backend_for`].
trait Backend {
    /// Why the project's configuration of this backend (its `[tool.*]`
    /// keys, extra build files, plugins in `build-system.requires`) is more
    /// than the native builder reproduces; empty when it is standard.
    fn unsupported(&self, root: &Path, pyproject: &PyProject) -> Vec<String>;

    /// Whether a build requirement that is not a known backend is a reason
    /// to decline (a plugin may hook into the build). Setuptools projects
    /// commonly list `wheel` and the like, so there it is not.
    fn plugins_are_reasons(&self) -> bool {
        true
    }

    /// The packages and modules of the wheel, for the project named `raw`.
    fn discover(
        &self,
        root: &Path,
        pyproject: &PyProject,
        raw: &str,
    ) -> Result<Result<Discovery, Unsupported>, PlanError>;

    /// Whether license files are searched with the default globs when
    /// `project.license-files` is absent.
    fn finds_license_files(&self) -> bool {
        true
    }

    /// Writes the metadata the way the backend does, once the license
    /// files are known.
    fn adjust_metadata(&self, _project: &Project, _metadata: &mut CoreMetadata) {}

    /// Files under `{name}-{version}.data/`, in any order.
    fn data_files(
        &self,
        _root: &Path,
        _file: &Path,
        _pyproject: &PyProject,
    ) -> Result<Vec<Entry>, PlanError> {
        Ok(Vec::new())
    }

    /// The files of the sdist, sorted by path.
    fn sdist_files(&self, sdist: &SdistInput<'_>) -> Result<Vec<Entry>, PlanError> {
        listed_sdist(sdist)
    }

    /// Why the backend's own sdist differs from the native one, if it does.
    fn sdist_differs(&self) -> Option<&'static str> {
        None
    }

    /// Extra `.dist-info` files the backend writes.
    fn extra_dist_info(&self, _wheel_files: &[Entry]) -> Vec<Entry> {
        Vec::new()
    }
}

/// The registry: the module that reproduces `kind`.
fn backend_for(kind: KnownBackend) -> &'static dyn Backend {
    match kind {
        KnownBackend::Hatchling => &hatchling::Hatchling,
        KnownBackend::FlitCore => &flit::Flit,
        KnownBackend::Setuptools => &setuptools::Setuptools,
        KnownBackend::UvBuild => &uv_build::UvBuild,
    }
}

/// What a backend's discovery found.
struct Discovery {
    wheel_files: Vec<Entry>,
    /// Source files of the packages, root-relative (for flit and uv sdists).
    sdist_sources: Vec<Entry>,
}

/// What a backend's sdist is made of.
struct SdistInput<'a> {
    root: &'a Path,
    pyproject: &'a PyProject,
    project: &'a Project,
    /// [`Discovery::sdist_sources`].
    sources: &'a [Entry],
    license_files: &'a [Entry],
}

/// Plans a native build of the project in `root`.
pub fn plan(
    root: &Path,
    pyproject: &PyProject,
) -> Result<Result<NativePlan, Unsupported>, PlanError> {
    let file = root.join("pyproject.toml");
    let mut reasons = Vec::new();
    check_version(root, pyproject)?;
    if let Some(reason) = backend_reason(pyproject) {
        return Ok(Err(Unsupported {
            reasons: vec![reason],
        }));
    }
    let backend_name = pyproject.backend();
    let Some(kind) = KnownBackend::from_backend(backend_name) else {
        return Ok(Err(Unsupported {
            reasons: vec![format!(
                "build-backend is {backend_name}, which Windlass does not reproduce"
            )],
        }));
    };
    let backend = backend_for(kind);
    if let Some(why) = &pyproject.project_unread {
        return Ok(Err(Unsupported {
            reasons: vec![why.clone()],
        }));
    }
    let Some(project) = &pyproject.project else {
        return Ok(Err(Unsupported {
            reasons: vec![
                "`pyproject.toml` has no `[project]` table: the backend computes the metadata"
                    .into(),
            ],
        }));
    };
    if let Some(bs) = &pyproject.build_system
        && !bs.backend_path.is_empty()
    {
        reasons.push("`build-system.backend-path` loads an in-tree backend".into());
    }
    if !project.dynamic.is_empty() {
        reasons.push(format!(
            "`project.dynamic = [{}]`: metadata is computed by the backend",
            project
                .dynamic
                .iter()
                .map(|d| format!("\"{d}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if matches!(project.license, Some(License::Table { .. })) {
        reasons.push("`project.license` uses the legacy table form".into());
    }
    if project.import_names.is_some() || project.import_namespaces.is_some() {
        reasons.push("`project.import-names` needs metadata 2.5".into());
    }
    reasons.extend(backend.unsupported(root, pyproject));
    if backend.plugins_are_reasons() {
        reasons.extend(plugin_reasons(pyproject));
    }
    if !reasons.is_empty() {
        return Ok(Err(Unsupported { reasons }));
    }

    let mut metadata = project::build_metadata(root, &file, project)?;
    let discovery = match backend.discover(root, pyproject, &metadata.name)? {
        Ok(d) => d,
        Err(u) => return Ok(Err(u)),
    };
    let license_files = if project.license_files.is_some() || backend.finds_license_files() {
        license_files(root, &file, project.license_files.as_deref())?
    } else {
        Vec::new()
    };
    metadata.license_files = license_files.iter().map(|e| e.path.clone()).collect();
    backend.adjust_metadata(project, &mut metadata);
    let entry_points = project::entry_points(&file, project)?;
    let mut data_files = backend.data_files(root, &file, pyproject)?;
    data_files.sort_by(|a, b| a.path.cmp(&b.path));
    let sdist_files = backend.sdist_files(&SdistInput {
        root,
        pyproject,
        project,
        sources: &discovery.sdist_sources,
        license_files: &license_files,
    })?;
    let extra_dist_info = backend.extra_dist_info(&discovery.wheel_files);

    let plan = NativePlan {
        backend: kind,
        metadata,
        wheel_files: discovery.wheel_files,
        data_files,
        license_files,
        entry_points,
        extra_dist_info,
        sdist_files,
        sdist_differs: backend.sdist_differs().map(str::to_owned),
    };
    files::confine_plan(root, &plan)?;
    Ok(Ok(plan))
}

/// A `[project]` table must give `version` or list it in `dynamic`
/// (PEP 621): refused before any builder runs, so that no backend can make
/// an `UNKNOWN-0.0.0` wheel of it.
pub fn check_version(root: &Path, pyproject: &PyProject) -> Result<(), PlanError> {
    match pyproject.declares_version() {
        Some(false) => Err(field_err(
            &root.join("pyproject.toml"),
            "project.version",
            "missing (and not listed in `project.dynamic`)",
        )),
        _ => Ok(()),
    }
}

/// Why a project goes to the setuptools legacy backend, when it does: no
/// `pyproject.toml`, or one without `[build-system]`.
fn backend_reason(pyproject: &PyProject) -> Option<String> {
    if pyproject.legacy {
        return Some("no pyproject.toml: setuptools' legacy backend".to_owned());
    }
    let declared = pyproject
        .build_system
        .as_ref()
        .and_then(|b| b.build_backend.as_deref());
    declared.is_none().then(|| {
        "`pyproject.toml` declares no `build-system.build-backend`: setuptools' legacy backend"
            .to_owned()
    })
}

fn field_err(file: &Path, field: &str, message: impl Into<String>) -> PlanError {
    PlanError::Field {
        file: file.to_path_buf(),
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Adds a reason for each key of `table` (at `prefix`) not in `allowed`.
fn unknown_keys(
    reasons: &mut Vec<String>,
    prefix: &str,
    table: Option<&toml::Table>,
    allowed: &[&str],
) {
    if let Some(t) = table {
        for key in t.keys() {
            if !allowed.contains(&key.as_str()) {
                reasons.push(format!("`{prefix}.{key}` is set"));
            }
        }
    }
}

/// Build requirements that are backends, not plugins: a project may list
/// any of them next to the backend it declares.
const BACKEND_REQUIREMENTS: &[&str] = &["hatchling", "flit-core", "uv-build"];

/// A reason for each requirement in `build-system.requires` that is not a
/// backend: a plugin listed there may hook into the build.
fn plugin_reasons(pyproject: &PyProject) -> Vec<String> {
    let mut reasons = Vec::new();
    for r in pyproject.build_requires() {
        let n = name::normalize(
            r.split(|c: char| !(c.is_alphanumeric() || "-_.".contains(c)))
                .next()
                .unwrap_or_default(),
        );
        if !BACKEND_REQUIREMENTS.contains(&n.as_str()) {
            reasons.push(format!(
                "`build-system.requires` lists `{r}`, which may extend the backend"
            ));
        }
    }
    reasons
}

fn readme_path(project: &Project) -> Option<&str> {
    match &project.readme {
        Some(Readme::Path(p) | Readme::Table { file: Some(p), .. }) => Some(p),
        _ => None,
    }
}

/// The sdist of a backend that lists its files: the package sources found
/// by discovery, `pyproject.toml`, the readme, the license files and the
/// directories of `tool.uv.build-backend.data`.
fn listed_sdist(sdist: &SdistInput<'_>) -> Result<Vec<Entry>, PlanError> {
    let root = sdist.root;
    let mut files: BTreeMap<String, Entry> = BTreeMap::new();
    for e in sdist.sources {
        files.insert(e.path.clone(), e.clone());
    }
    files.insert(
        "pyproject.toml".into(),
        Entry::disk("pyproject.toml", &root.join("pyproject.toml")),
    );
    if let Some(readme) = readme_path(sdist.project) {
        files.insert(readme.to_owned(), Entry::disk(readme, &root.join(readme)));
    }
    for e in sdist.license_files {
        files.insert(e.path.clone(), e.clone());
    }
    for (dir, _) in uv_build::data_dirs(sdist.pyproject) {
        for e in files::walk(root, &dir, &uv_build::exclusions())? {
            files.insert(e.path.clone(), e);
        }
    }
    Ok(files.into_values().collect())
}

/// The license files: those `globs` (`project.license-files`) match, each
/// of which must match some file, or those the default globs find.
fn license_files(
    root: &Path,
    file: &Path,
    globs: Option<&[String]>,
) -> Result<Vec<Entry>, PlanError> {
    const DEFAULTS: &[&str] = &["LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*"];
    let (patterns, explicit): (Vec<String>, bool) = match globs {
        Some(g) => (g.to_vec(), true),
        None => (DEFAULTS.iter().map(|s| (*s).to_owned()).collect(), false),
    };
    let mut sets = Vec::new();
    for p in &patterns {
        if p.starts_with('/') || p.split('/').any(|c| c == "..") {
            return Err(field_err(
                file,
                "project.license-files",
                format!("`{p}` must be relative and stay inside the project"),
            ));
        }
        let g = globset::GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| field_err(file, "project.license-files", format!("`{p}`: {e}")))?;
        sets.push((p, g.compile_matcher()));
    }
    let candidates = files::walk(
        root,
        "",
        &files::Exclusions {
            dirs: files::HATCH_DIRS,
            root_paths: &["dist"],
            recurse: true,
            ..files::Exclusions::default()
        },
    )?;
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    for (p, m) in &sets {
        let mut any = false;
        for c in &candidates {
            if m.is_match(&c.path) {
                any = true;
                out.insert(c.path.clone(), c.clone());
            }
        }
        if explicit && !any {
            return Err(field_err(
                file,
                "project.license-files",
                format!("`{p}` matches no file"),
            ));
        }
    }
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::pyproject::PyProject;

    /// The `Requires-Dist` lines a hatchling project with `dep` in
    /// `dependencies` and in the extra `feat` gets, or the error.
    fn requires_dist(root: &Path, dep: &str) -> String {
        let text = format!(
            "[build-system]\nbuild-backend = \"hatchling.build\"\n\
             [project]\nname = \"demo\"\nversion = \"1.0\"\ndependencies = [{dep}]\n\
             [project.optional-dependencies]\nfeat = [{dep}]\n",
            dep = toml::Value::String(dep.to_owned()),
        );
        // The plan packages pyproject.toml, so it must exist as a file.
        std::fs::write(root.join("pyproject.toml"), &text).unwrap();
        let pyproject = PyProject::parse(&text, &root.join("pyproject.toml")).unwrap();
        match super::plan(root, &pyproject) {
            Ok(Ok(plan)) => plan.metadata.requires_dist.join("\n  "),
            Ok(Err(unsupported)) => format!("unsupported: {unsupported}"),
            Err(super::PlanError::Field { field, message, .. }) => {
                format!("error: {field}: {message}")
            }
            Err(error) => format!("error: {error}"),
        }
    }

    #[test]
    fn requirements() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("src/demo")).unwrap();
        std::fs::write(root.path().join("src/demo/__init__.py"), "").unwrap();
        let cases = [
            "requests>=2",
            "pytest ; python_version >= '3.9'",
            // A line break would split the header.
            "a ;platform_machine == '\n'",
            "A ;\npython_version > '3'",
            // Whitespace that `packaging` does not know.
            "foo\u{a0}>=1",
            // A URL needs a space before the `;` of the extra.
            "0@ https://example.org/p/demo-1.0.tar.gz",
            // The `;` in the URL does not start the marker.
            "foo @ https://example.org/a;b/foo-1.0.tar.gz ; python_version > '3'",
            "foo ; platform_machine == 'a;b'",
            // A marker that always holds is still a marker.
            "0 ;python_version != '3.12.1'",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|dep| format!("{dep:?}\n  {}", requires_dist(root.path(), dep)))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }
}
