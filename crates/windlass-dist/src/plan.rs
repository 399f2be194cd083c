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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use crate::archive::{Entry, Source};
use crate::metadata::CoreMetadata;
use crate::name;
use crate::pyproject::{Contact, KnownBackend, License, PyProject, Readme};

/// The largest readme read into the metadata: 16 MiB.
pub const README_LIMIT: u64 = 16 * windlass_fs::MIB;

/// The largest `.gitignore` read to decide what hatchling ships: 4 MiB.
pub const GITIGNORE_LIMIT: u64 = 4 * windlass_fs::MIB;

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
    let Some(backend) = KnownBackend::from_backend(backend_name) else {
        return Ok(Err(Unsupported {
            reasons: vec![format!(
                "build-backend is {backend_name}, which Windlass does not reproduce"
            )],
        }));
    };
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
    reasons.extend(unusual_config(root, pyproject, backend));
    if !reasons.is_empty() {
        return Ok(Err(Unsupported { reasons }));
    }

    let metadata = build_metadata(root, &file, pyproject, backend)?;
    let discovery = match discover(root, pyproject, backend, &metadata)? {
        Ok(d) => d,
        Err(u) => return Ok(Err(u)),
    };
    let license_files = license_files(root, &file, project.license_files.as_deref(), backend)?;
    let mut metadata = metadata;
    metadata.license_files = license_files.iter().map(|e| e.path.clone()).collect();
    if backend == KnownBackend::Setuptools
        && project.license_files.is_none()
        && !license_files.is_empty()
    {
        // setuptools marks license files found by its default globs as dynamic.
        metadata.dynamic.push("license-file".into());
    }
    let entry_points = entry_points(&file, project)?;
    let data_files = data_files(root, &file, pyproject, backend)?;

    let sdist_differs = match backend {
        KnownBackend::Setuptools => {
            Some("setuptools adds `.egg-info` and MANIFEST-driven files to sdists".to_owned())
        }
        KnownBackend::UvBuild => Some(
            "uv_build rewrites `pyproject.toml` in sdists (keeping `pyproject.toml.orig`)"
                .to_owned(),
        ),
        KnownBackend::Hatchling | KnownBackend::FlitCore => None,
    };
    let sdist_files = match backend {
        KnownBackend::Hatchling => hatchling_sdist(root, project, &license_files)?,
        KnownBackend::FlitCore | KnownBackend::UvBuild | KnownBackend::Setuptools => {
            let mut files: BTreeMap<String, Entry> = BTreeMap::new();
            for e in &discovery.sdist_sources {
                files.insert(e.path.clone(), e.clone());
            }
            files.insert(
                "pyproject.toml".into(),
                Entry::disk("pyproject.toml", &file),
            );
            if let Some(readme) = readme_path(project) {
                files.insert(readme.to_owned(), Entry::disk(readme, &root.join(readme)));
            }
            for e in &license_files {
                files.insert(e.path.clone(), e.clone());
            }
            for (dir, _) in uv_data_dirs(pyproject) {
                for e in walk(root, &dir, &Exclusions::uv())? {
                    files.insert(e.path.clone(), e);
                }
            }
            files.into_values().collect()
        }
    };

    let extra_dist_info = if backend == KnownBackend::Setuptools {
        let mut tops: BTreeSet<String> = BTreeSet::new();
        for e in &discovery.wheel_files {
            let top = e.path.split('/').next().unwrap_or_default();
            tops.insert(top.strip_suffix(".py").unwrap_or(top).to_owned());
        }
        let mut text = String::new();
        for t in tops {
            text.push_str(&t);
            text.push('\n');
        }
        vec![Entry::bytes("top_level.txt", text)]
    } else {
        Vec::new()
    };

    let plan = NativePlan {
        backend,
        metadata,
        wheel_files: discovery.wheel_files,
        data_files,
        license_files,
        entry_points,
        extra_dist_info,
        sdist_files,
        sdist_differs,
    };
    confine_plan(root, &plan)?;
    Ok(Ok(plan))
}

/// Checks every file the plan packages: it resolves inside the project and
/// is a regular file. The one file taken from above the project (the
/// `.gitignore` hatchling found in a parent directory) must resolve inside
/// the directory it was found in.
fn confine_plan(root: &Path, plan: &NativePlan) -> Result<(), PlanError> {
    let real_root = real_path(root)?;
    let files: BTreeSet<&Path> = [
        &plan.wheel_files,
        &plan.data_files,
        &plan.license_files,
        &plan.extra_dist_info,
        &plan.sdist_files,
    ]
    .into_iter()
    .flatten()
    .filter_map(|e| match &e.source {
        Source::Disk(path) => Some(path.as_path()),
        Source::Bytes(_) => None,
    })
    .collect();
    for path in files {
        if path.starts_with(root) {
            confine_file(root, &real_root, path)?;
        } else {
            // `project/../.gitignore` found from a relative root is `.gitignore`.
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            confine_file(dir, &real_path(dir)?, path)?;
        }
    }
    Ok(())
}

/// `path` with every symlink resolved.
fn real_path(path: &Path) -> Result<PathBuf, PlanError> {
    std::fs::canonicalize(path).map_err(|source| PlanError::Walk {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuses `path` (under `base`, which resolves to `real_base`) unless it
/// resolves inside `real_base`; returns where it resolves.
fn confine(base: &Path, real_base: &Path, path: &Path) -> Result<PathBuf, PlanError> {
    let resolved = real_path(path)?;
    if resolved.starts_with(real_base) {
        return Ok(resolved);
    }
    // Name the symlink that leaves: the first component that is a link
    // resolving outside.
    let rel = path.strip_prefix(base).unwrap_or(path);
    let mut prefix = PathBuf::new();
    for component in rel.components() {
        prefix.push(component);
        let candidate = base.join(&prefix);
        let is_link =
            std::fs::symlink_metadata(&candidate).is_ok_and(|m| m.file_type().is_symlink());
        if is_link
            && let Ok(target) = std::fs::canonicalize(&candidate)
            && !target.starts_with(real_base)
        {
            return Err(PlanError::LinkOutside {
                link: prefix,
                target,
            });
        }
    }
    Err(PlanError::PathOutside {
        path: rel.to_path_buf(),
        target: resolved,
    })
}

/// [`confine`], and refuses anything but a regular file.
fn confine_file(base: &Path, real_base: &Path, path: &Path) -> Result<(), PlanError> {
    let real = confine(base, real_base, path)?;
    let meta = std::fs::metadata(&real).map_err(|source| PlanError::Walk {
        path: path.to_path_buf(),
        source,
    })?;
    match windlass_fs::FileKind::of(meta.file_type()) {
        None => Ok(()),
        Some(kind) => Err(PlanError::SpecialFile {
            path: path.strip_prefix(base).unwrap_or(path).to_path_buf(),
            kind,
        }),
    }
}

/// hatchling's sdist: every file not ignored, plus what it always includes
/// (pyproject.toml, the readme, license files and the `.gitignore` it read).
fn hatchling_sdist(
    root: &Path,
    project: &crate::pyproject::Project,
    license_files: &[Entry],
) -> Result<Vec<Entry>, PlanError> {
    let mut files: BTreeMap<String, Entry> = walk(root, "", &Exclusions::hatchling(root)?)?
        .into_iter()
        .map(|e| (e.path.clone(), e))
        .collect();
    files.insert(
        "pyproject.toml".into(),
        Entry::disk("pyproject.toml", &root.join("pyproject.toml")),
    );
    if let Some(readme) = readme_path(project) {
        files.insert(readme.to_owned(), Entry::disk(readme, &root.join(readme)));
    }
    for e in license_files {
        files.insert(e.path.clone(), e.clone());
    }
    if let Some((_, path)) = gitignore_file(root) {
        files.insert(".gitignore".into(), Entry::disk(".gitignore", &path));
    }
    Ok(files.into_values().collect())
}

fn readme_path(project: &crate::pyproject::Project) -> Option<&str> {
    match &project.readme {
        Some(Readme::Path(p) | Readme::Table { file: Some(p), .. }) => Some(p),
        _ => None,
    }
}

/// Backend options beyond the standard configurations we reproduce.
fn unusual_config(root: &Path, pyproject: &PyProject, backend: KnownBackend) -> Vec<String> {
    let mut reasons = Vec::new();
    let table = |path: &[&str]| {
        pyproject
            .tool(backend.tool_table(), path)
            .and_then(toml::Value::as_table)
    };
    let only =
        |reasons: &mut Vec<String>, prefix: &str, t: Option<&toml::Table>, allowed: &[&str]| {
            if let Some(t) = t {
                for key in t.keys() {
                    if !allowed.contains(&key.as_str()) {
                        reasons.push(format!("`{prefix}.{key}` is set"));
                    }
                }
            }
        };
    match backend {
        KnownBackend::Hatchling => {
            for f in ["hatch.toml", "hatch_build.py"] {
                if root.join(f).exists() {
                    reasons.push(format!("`{f}` exists and may change what hatchling builds"));
                }
            }
            only(
                &mut reasons,
                "tool.hatch.build",
                table(&["build"]),
                &["targets"],
            );
            only(
                &mut reasons,
                "tool.hatch.build.targets",
                table(&["build", "targets"]),
                &["wheel", "sdist"],
            );
            only(
                &mut reasons,
                "tool.hatch.build.targets.wheel",
                table(&["build", "targets", "wheel"]),
                &["packages", "shared-data"],
            );
            only(
                &mut reasons,
                "tool.hatch.build.targets.sdist",
                table(&["build", "targets", "sdist"]),
                &[],
            );
            only(
                &mut reasons,
                "tool.hatch.metadata",
                table(&["metadata"]),
                &["allow-direct-references"],
            );
        }
        KnownBackend::FlitCore => {
            let flit = pyproject.tool("flit", &[]).and_then(toml::Value::as_table);
            only(&mut reasons, "tool.flit", flit, &["module"]);
            only(
                &mut reasons,
                "tool.flit.module",
                table(&["module"]),
                &["name"],
            );
        }
        KnownBackend::UvBuild => {
            only(
                &mut reasons,
                "tool.uv.build-backend",
                table(&["build-backend"]),
                &["module-root", "module-name", "namespace", "data"],
            );
        }
        KnownBackend::Setuptools => {
            only(
                &mut reasons,
                "tool.setuptools",
                pyproject
                    .tool("setuptools", &[])
                    .and_then(toml::Value::as_table),
                &[
                    "packages",
                    "package-dir",
                    "py-modules",
                    "include-package-data",
                    "zip-safe",
                    "platforms",
                ],
            );
            if let Some(dir) = table(&["package-dir"])
                && (dir.len() != 1 || dir.get("").and_then(toml::Value::as_str).is_none())
            {
                reasons.push("`tool.setuptools.package-dir` maps more than the root".into());
            }
            for f in ["setup.py", "setup.cfg", "MANIFEST.in"] {
                if root.join(f).exists() {
                    reasons.push(format!(
                        "`{f}` exists and may change what setuptools builds"
                    ));
                }
            }
            let requires = pyproject.build_requires();
            if requires.iter().any(|r| {
                r.to_ascii_lowercase()
                    .replace('-', "_")
                    .starts_with("setuptools_scm")
            }) {
                reasons.push(
                    "`setuptools-scm` in `build-system.requires` adds files from version control"
                        .into(),
                );
            }
        }
    }
    if backend != KnownBackend::Setuptools {
        // Plugins listed in build requirements may hook into the build.
        for r in pyproject.build_requires() {
            let n = name::normalize(
                r.split(|c: char| !(c.is_alphanumeric() || "-_.".contains(c)))
                    .next()
                    .unwrap_or_default(),
            );
            if !["hatchling", "flit-core", "uv-build"].contains(&n.as_str()) {
                reasons.push(format!(
                    "`build-system.requires` lists `{r}`, which may extend the backend"
                ));
            }
        }
    }
    reasons
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

fn build_metadata(
    root: &Path,
    file: &Path,
    pyproject: &PyProject,
    backend: KnownBackend,
) -> Result<CoreMetadata, PlanError> {
    let Some(project) = &pyproject.project else {
        return Err(field_err(file, "project", "missing"));
    };
    if !name::is_valid_name(&project.name) {
        return Err(field_err(
            file,
            "project.name",
            format!("`{}` is not a valid distribution name", project.name),
        ));
    }
    let Some(version) = &project.version else {
        return Err(field_err(
            file,
            "project.version",
            "missing (and not listed in `project.dynamic`)",
        ));
    };
    let version = pep440_rs::Version::from_str(version).map_err(|e| {
        field_err(
            file,
            "project.version",
            format!("`{version}` is not a PEP 440 version: {e}"),
        )
    })?;
    let mut m = CoreMetadata {
        name: project.name.clone(),
        version: version.to_string(),
        ..CoreMetadata::default()
    };
    if let Some(d) = &project.description {
        if d.contains('\n') {
            return Err(field_err(
                file,
                "project.description",
                "must be a single line",
            ));
        }
        m.summary = Some(d.clone());
    }
    match &project.readme {
        None => {}
        Some(readme) => {
            let (text, content_type, field) = match readme {
                Readme::Path(p) => (
                    read_readme(root, file, "project.readme", p)?,
                    content_type_for(p),
                    "project.readme",
                ),
                Readme::Table {
                    file: Some(p),
                    text: None,
                    content_type,
                } => (
                    read_readme(root, file, "project.readme.file", p)?,
                    content_type.clone().or_else(|| content_type_for(p)),
                    "project.readme.content-type",
                ),
                Readme::Table {
                    file: None,
                    text: Some(t),
                    content_type,
                } => (
                    t.clone(),
                    content_type.clone(),
                    "project.readme.content-type",
                ),
                Readme::Table { .. } => {
                    return Err(field_err(
                        file,
                        "project.readme",
                        "a table must have exactly one of `file` and `text`",
                    ));
                }
            };
            let Some(content_type) = content_type else {
                return Err(field_err(
                    file,
                    field,
                    "cannot tell the content type: use a `.md`, `.rst` or `.txt` file or set `content-type`",
                ));
            };
            let base = content_type.split(';').next().unwrap_or_default().trim();
            if !["text/markdown", "text/x-rst", "text/plain"].contains(&base) {
                return Err(field_err(
                    file,
                    field,
                    format!("unsupported content type `{content_type}`"),
                ));
            }
            m.description = Some(text);
            m.description_content_type = Some(content_type);
        }
    }
    if let Some(rp) = &project.requires_python {
        pep440_rs::VersionSpecifiers::from_str(rp)
            .map_err(|e| field_err(file, "project.requires-python", format!("`{rp}`: {e}")))?;
        m.requires_python = Some(rp.clone());
    }
    if let Some(License::Expression(expr)) = &project.license {
        let canonical =
            canonical_license(expr).map_err(|e| field_err(file, "project.license", e))?;
        if let Some(c) = project
            .classifiers
            .iter()
            .find(|c| c.starts_with("License ::"))
        {
            return Err(field_err(
                file,
                "project.classifiers",
                format!("`{c}` must not be used together with a license expression (PEP 639)"),
            ));
        }
        m.license_expression = Some(canonical);
    }
    let (author, author_email) = contacts(&project.authors);
    m.author = author;
    m.author_email = author_email;
    let (maintainer, maintainer_email) = contacts(&project.maintainers);
    m.maintainer = maintainer;
    m.maintainer_email = maintainer_email;
    m.keywords.clone_from(&project.keywords);
    if backend == KnownBackend::Hatchling {
        // hatchling writes keywords sorted.
        m.keywords.sort();
    }
    m.classifiers.clone_from(&project.classifiers);
    m.project_urls = project
        .urls
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (i, dep) in project.dependencies.iter().enumerate() {
        check_requirement(file, &format!("project.dependencies[{i}]"), dep)?;
        m.requires_dist.push(dep.trim().to_owned());
    }
    let allow_direct = backend == KnownBackend::Hatchling
        && pyproject
            .tool("hatch", &["metadata", "allow-direct-references"])
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
    let _ = allow_direct;
    for (extra, deps) in &project.optional_dependencies {
        if !name::is_valid_name(extra) {
            return Err(field_err(
                file,
                &format!("project.optional-dependencies.{extra}"),
                "not a valid extra name",
            ));
        }
        let extra = name::normalize(extra);
        for (i, dep) in deps.iter().enumerate() {
            let req = check_requirement(
                file,
                &format!("project.optional-dependencies.{extra}[{i}]"),
                dep,
            )?;
            let text = dep.trim();
            // PEP 508 wants a space between a URL and the `;` after it.
            let semicolon = match req.version_or_url {
                Some(pep508_rs::VersionOrUrl::Url(_)) => " ;",
                _ => ";",
            };
            // A marker that always holds (`python_version != '3.1.2'`) is
            // still written: only the text tells whether there is one.
            let line = match split_marker(text, &req) {
                None => format!("{text}{semicolon} extra == \"{extra}\""),
                Some((base, marker)) => format!(
                    "{}{semicolon} ({}) and extra == \"{extra}\"",
                    base.trim(),
                    marker.trim()
                ),
            };
            m.requires_dist.push(line);
        }
        m.provides_extra.push(extra);
    }
    Ok(m)
}

/// Reads the readme named by `field`: it must resolve inside the project, be
/// a regular file and hold at most [`README_LIMIT`] bytes of UTF-8.
fn read_readme(root: &Path, file: &Path, field: &str, path: &str) -> Result<String, PlanError> {
    let full = root.join(path);
    if full.exists() {
        confine(root, &real_path(root)?, &full)?;
    }
    windlass_fs::read_to_string(&full, README_LIMIT).map_err(|source| PlanError::MissingFile {
        file: file.to_path_buf(),
        field: field.to_owned(),
        path: PathBuf::from(path),
        source,
    })
}

fn content_type_for(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".md") {
        Some("text/markdown".into())
    } else if lower.ends_with(".rst") {
        Some("text/x-rst".into())
    } else if lower.ends_with(".txt") {
        Some("text/plain".into())
    } else {
        None
    }
}

/// Validates an SPDX expression and returns its canonical spelling.
pub fn canonical_license(expr: &str) -> Result<String, String> {
    match spdx::Expression::parse(expr) {
        Ok(_) => Ok(expr.split_whitespace().collect::<Vec<_>>().join(" ")),
        Err(strict) => {
            // Accept what differs only in case (`mit`, `apache-2.0 or mit`).
            if let Ok(Some(canonical)) = spdx::Expression::canonicalize(expr)
                && canonical.eq_ignore_ascii_case(expr.trim())
                && spdx::Expression::parse(&canonical).is_ok()
            {
                return Ok(canonical);
            }
            Err(format!(
                "`{expr}` is not a valid SPDX license expression: {}",
                strict.reason
            ))
        }
    }
}

/// Splits the text of `req` at the `;` that starts its marker, when it has
/// one: the `;` before which is the requirement without its marker and
/// after which is its marker (a URL or a marker string may hold `;` too).
fn split_marker<'a>(text: &'a str, req: &pep508_rs::Requirement) -> Option<(&'a str, &'a str)> {
    let mut unmarked = req.clone();
    unmarked.marker = pep508_rs::MarkerTree::TRUE;
    text.match_indices(';')
        .map(|(at, _)| (&text[..at], &text[at + 1..]))
        .find(|(base, marker)| {
            pep508_rs::MarkerTree::from_str(marker).is_ok_and(|m| m == req.marker)
                && pep508_rs::Requirement::from_str(base).is_ok_and(|b| b == unmarked)
        })
}

fn check_requirement(
    file: &Path,
    field: &str,
    dep: &str,
) -> Result<pep508_rs::Requirement, PlanError> {
    // The text becomes one `Requires-Dist` header: a line break would split
    // it, and Python's `packaging` separates the parts with spaces and
    // tabs only (other whitespace is accepted by `pep508_rs`, not by pip).
    let odd = |c: char| (c.is_control() || c.is_whitespace()) && c != ' ' && c != '\t';
    if let Some(c) = dep.trim().chars().find(|&c| odd(c)) {
        let shown: String = dep
            .trim()
            .chars()
            .map(|c| {
                if odd(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        return Err(field_err(
            file,
            field,
            format!(
                "`{shown}` must be one line with only spaces and tabs as whitespace (found `{}`)",
                c.escape_default()
            ),
        ));
    }
    pep508_rs::Requirement::from_str(dep).map_err(|e| {
        field_err(
            file,
            field,
            format!("`{dep}` is not a PEP 508 requirement: {}", e.message),
        )
    })
}

/// PEP 621 contacts to (`Author`, `Author-email`).
fn contacts(list: &[Contact]) -> (Option<String>, Option<String>) {
    let mut names = Vec::new();
    let mut emails = Vec::new();
    for c in list {
        match (&c.name, &c.email) {
            (Some(n), None) => names.push(n.clone()),
            (None, Some(e)) => emails.push(e.clone()),
            (Some(n), Some(e)) => {
                if n.contains(',') {
                    emails.push(format!("\"{n}\" <{e}>"));
                } else {
                    emails.push(format!("{n} <{e}>"));
                }
            }
            (None, None) => {}
        }
    }
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join(", "));
    (join(names), join(emails))
}

fn entry_points(
    file: &Path,
    project: &crate::pyproject::Project,
) -> Result<Option<String>, PlanError> {
    let mut groups: Vec<(&str, &BTreeMap<String, String>)> = Vec::new();
    if !project.scripts.is_empty() {
        groups.push(("console_scripts", &project.scripts));
    }
    if !project.gui_scripts.is_empty() {
        groups.push(("gui_scripts", &project.gui_scripts));
    }
    for (group, eps) in &project.entry_points {
        if group == "console_scripts" || group == "gui_scripts" {
            return Err(field_err(
                file,
                &format!("project.entry-points.{group}"),
                format!(
                    "use `project.{}` instead",
                    if group == "console_scripts" {
                        "scripts"
                    } else {
                        "gui-scripts"
                    }
                ),
            ));
        }
        groups.push((group, eps));
    }
    if groups.is_empty() {
        return Ok(None);
    }
    let mut text = String::new();
    for (group, eps) in groups {
        let _ = writeln!(text, "[{group}]");
        for (name, value) in eps {
            if !valid_object_ref(value) {
                return Err(field_err(
                    file,
                    &format!("entry point `{name}`"),
                    format!("`{value}` is not `module:object`"),
                ));
            }
            let _ = writeln!(text, "{name} = {value}");
        }
        text.push('\n');
    }
    Ok(Some(text))
}

fn valid_object_ref(value: &str) -> bool {
    let (module, rest) = value.split_once(':').unwrap_or((value, ""));
    let rest = rest.split('[').next().unwrap_or_default().trim();
    let ident = |s: &str| {
        s.split('.').all(|p| {
            let p = p.trim();
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
    };
    ident(module.trim()) && (rest.is_empty() || ident(rest))
}

/// File exclusion rules of one backend.
#[derive(Debug, Default)]
pub(crate) struct Exclusions {
    dirs: &'static [&'static str],
    /// File name suffixes never shipped.
    suffixes: &'static [&'static str],
    files: &'static [&'static str],
    gitignore: Option<ignore::gitignore::Gitignore>,
    /// Root-relative paths excluded (hatchling's `/dist`).
    root_paths: &'static [&'static str],
    /// Only files with these suffixes (setuptools' packages).
    only_suffixes: Option<&'static [&'static str]>,
    only_names: &'static [&'static str],
    recurse: bool,
}

const HATCH_DIRS: &[&str] = &[
    "__pycache__",
    ".venv",
    ".git",
    ".hg",
    ".hatch",
    ".tox",
    ".nox",
    ".ruff_cache",
    ".pytest_cache",
    ".mypy_cache",
    ".pixi",
];

impl Exclusions {
    pub(crate) fn hatchling(root: &Path) -> Result<Self, PlanError> {
        Ok(Self {
            dirs: HATCH_DIRS,
            suffixes: &[".pyc", ".pyd", ".pyo"],
            files: &[".DS_Store", ".git"],
            gitignore: gitignore(root)?,
            root_paths: &["dist"],
            only_suffixes: None,
            only_names: &[],
            recurse: true,
        })
    }

    fn flit() -> Self {
        Self {
            dirs: &["__pycache__"],
            suffixes: &[".pyc"],
            recurse: true,
            ..Self::default()
        }
    }

    fn uv() -> Self {
        Self {
            dirs: &["__pycache__"],
            suffixes: &[".pyc", ".pyo"],
            recurse: true,
            ..Self::default()
        }
    }

    fn setuptools_package() -> Self {
        Self {
            dirs: &["__pycache__"],
            only_suffixes: Some(&[".py", ".pyi"]),
            only_names: &["py.typed"],
            recurse: false,
            ..Self::default()
        }
    }

    fn wants(&self, root: &Path, rel: &str, is_dir: bool) -> bool {
        let file_name = rel.rsplit('/').next().unwrap_or(rel);
        if is_dir {
            if self.dirs.contains(&file_name) {
                return false;
            }
        } else {
            if self.files.contains(&file_name)
                || self.suffixes.iter().any(|s| file_name.ends_with(s))
            {
                return false;
            }
            if let Some(only) = self.only_suffixes
                && !only.iter().any(|s| file_name.ends_with(s))
                && !self.only_names.contains(&file_name)
            {
                return false;
            }
        }
        if self.root_paths.contains(&rel) {
            return false;
        }
        if let Some(gi) = &self.gitignore {
            // Absolute, so that a `.gitignore` above the project root applies.
            if gi
                .matched_path_or_any_parents(root.join(rel), is_dir)
                .is_ignore()
            {
                return false;
            }
        }
        true
    }
}

/// The `.gitignore` hatchling reads: the first one found walking up from
/// the project root, stopping at the repository root. It is read bounded
/// ([`GITIGNORE_LIMIT`]) and must be a regular UTF-8 file.
fn gitignore(root: &Path) -> Result<Option<ignore::gitignore::Gitignore>, PlanError> {
    let Some((dir, file)) = gitignore_file(root) else {
        return Ok(None);
    };
    let text =
        windlass_fs::read_to_string(&file, GITIGNORE_LIMIT).map_err(|source| PlanError::Read {
            path: file.clone(),
            source,
        })?;
    let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
    for (i, line) in text.lines().enumerate() {
        // As git and `GitignoreBuilder::add` do: a leading BOM is not a pattern.
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        // An invalid pattern is skipped, as `GitignoreBuilder::add` does.
        let _ = builder.add_line(Some(file.clone()), line);
    }
    Ok(builder.build().ok())
}

/// The directory and path of the `.gitignore` hatchling uses, if any.
fn gitignore_file(root: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut dir = Some(root);
    while let Some(d) = dir {
        let candidate = d.join(".gitignore");
        if candidate.is_file() {
            return Some((d.to_path_buf(), candidate));
        }
        if d.join(".git").exists() {
            return None;
        }
        dir = d.parent();
    }
    None
}

/// Files under `root/rel_dir` (or a single file), as root-relative entries,
/// sorted. A symlinked directory is followed only when it resolves inside
/// the project; files are checked by [`confine_plan`].
pub(crate) fn walk(root: &Path, rel_dir: &str, ex: &Exclusions) -> Result<Vec<Entry>, PlanError> {
    let start = if rel_dir.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel_dir)
    };
    let real_root = real_path(root)?;
    if start.exists() {
        confine(root, &real_root, &start)?;
    }
    if start.is_file() {
        return Ok(vec![Entry::disk(rel_dir, &start)]);
    }
    let mut out = Vec::new();
    let mut it = walkdir::WalkDir::new(&start)
        .follow_links(true)
        .sort_by_file_name();
    if !ex.recurse {
        it = it.max_depth(1);
    }
    let mut it = it.into_iter();
    while let Some(item) = it.next() {
        let item = item.map_err(|e| PlanError::Walk {
            path: e.path().unwrap_or(&start).to_path_buf(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
        })?;
        let Ok(rel) = item.path().strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if rel.is_empty() || item.path() == start.as_path() {
            continue;
        }
        let is_dir = item.file_type().is_dir();
        if !ex.wants(root, &rel, is_dir) {
            if is_dir {
                it.skip_current_dir();
            }
            continue;
        }
        if is_dir && item.path_is_symlink() {
            // Before walking into it: never list a tree outside the project.
            confine(root, &real_root, item.path())?;
        }
        if !is_dir {
            out.push(Entry::disk(rel, item.path()));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

struct Discovery {
    wheel_files: Vec<Entry>,
    /// Source files of the packages, root-relative (for flit and uv sdists).
    sdist_sources: Vec<Entry>,
}

/// Re-roots root-relative entries: `src/pkg/x.py` with strip `src/` -> `pkg/x.py`.
fn reroot(entries: &[Entry], strip: &str) -> Vec<Entry> {
    entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(rest) = e.path.strip_prefix(strip) {
                e.path = rest.to_owned();
            }
            e
        })
        .collect()
}

fn discover(
    root: &Path,
    pyproject: &PyProject,
    backend: KnownBackend,
    metadata: &CoreMetadata,
) -> Result<Result<Discovery, Unsupported>, PlanError> {
    let raw = &metadata.name;
    match backend {
        KnownBackend::Hatchling => {
            let ex = Exclusions::hatchling(root)?;
            if let Some(packages) = pyproject
                .tool("hatch", &["build", "targets", "wheel", "packages"])
                .and_then(toml::Value::as_array)
            {
                let mut wheel = Vec::new();
                for p in packages {
                    let Some(p) = p.as_str() else { continue };
                    let p = p.trim_matches('/');
                    let parent = p
                        .rsplit_once('/')
                        .map_or(String::new(), |(parent, _)| format!("{parent}/"));
                    wheel.extend(reroot(&walk(root, p, &ex)?, &parent));
                }
                wheel.sort_by(|a, b| a.path.cmp(&b.path));
                return Ok(Ok(Discovery {
                    wheel_files: wheel,
                    sdist_sources: Vec::new(),
                }));
            }
            let mut looked = BTreeSet::new();
            for candidate in [
                name::module_name_guess(raw),
                name::module_name_guess(&name::normalize(raw)),
            ] {
                if root.join(&candidate).join("__init__.py").is_file() {
                    return Ok(Ok(Discovery {
                        wheel_files: walk(root, &candidate, &ex)?,
                        sdist_sources: Vec::new(),
                    }));
                }
                let src = format!("src/{candidate}");
                if root.join(&src).join("__init__.py").is_file() {
                    let files = walk(root, &src, &ex)?;
                    return Ok(Ok(Discovery {
                        wheel_files: reroot(&files, "src/"),
                        sdist_sources: Vec::new(),
                    }));
                }
                let module = format!("{candidate}.py");
                if root.join(&module).is_file() {
                    return Ok(Ok(Discovery {
                        wheel_files: walk(root, &module, &ex)?,
                        sdist_sources: Vec::new(),
                    }));
                }
                let mut namespaces = Vec::new();
                for e in std::fs::read_dir(root).map_err(|source| PlanError::Walk {
                    path: root.to_path_buf(),
                    source,
                })? {
                    let Ok(e) = e else { continue };
                    if e.path().join(&candidate).join("__init__.py").is_file() {
                        namespaces.push(e.file_name().to_string_lossy().into_owned());
                    }
                }
                if let [ns] = namespaces.as_slice() {
                    return Ok(Ok(Discovery {
                        wheel_files: walk(root, ns, &ex)?,
                        sdist_sources: Vec::new(),
                    }));
                }
                looked.insert(candidate);
            }
            Err(PlanError::NoPackage {
                backend,
                looked_for: looked
                    .iter()
                    .map(|c| format!("`{c}/__init__.py`, `src/{c}/__init__.py`, `{c}.py`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
            })
        }
        KnownBackend::FlitCore => {
            let module = pyproject
                .tool("flit", &["module", "name"])
                .and_then(toml::Value::as_str)
                .map_or_else(|| raw.replace('-', "_"), str::to_owned);
            let rel = module.replace('.', "/");
            let ex = Exclusions::flit();
            let mut found = Vec::new();
            for prefix in ["", "src/"] {
                let dir = format!("{prefix}{rel}");
                let is_pkg = root.join(&dir).join("__init__.py").is_file()
                    || (module.contains('.') && root.join(&dir).is_dir());
                if is_pkg {
                    found.push((prefix, dir));
                } else if root.join(format!("{dir}.py")).is_file() {
                    found.push((prefix, format!("{dir}.py")));
                }
            }
            match found.as_slice() {
                [(prefix, path)] => {
                    let files = walk(root, path, &ex)?;
                    Ok(Ok(Discovery {
                        wheel_files: reroot(&files, prefix),
                        sdist_sources: files,
                    }))
                }
                [] => Err(PlanError::NoPackage {
                    backend,
                    looked_for: format!("`{rel}/__init__.py`, `{rel}.py` or the same under `src/`"),
                }),
                _ => Ok(Err(Unsupported {
                    reasons: vec![format!("both `{rel}` and `src/{rel}` exist")],
                })),
            }
        }
        KnownBackend::UvBuild => {
            let bb = |k: &str| pyproject.tool("uv", &["build-backend", k]);
            let module_root = bb("module-root")
                .and_then(toml::Value::as_str)
                .unwrap_or("src")
                .trim_matches('/')
                .to_owned();
            let module = bb("module-name")
                .and_then(toml::Value::as_str)
                .map_or_else(|| name::file_name_component(raw), str::to_owned);
            let namespace = bb("namespace")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            let prefix = if module_root.is_empty() {
                String::new()
            } else {
                format!("{module_root}/")
            };
            let dir = format!("{prefix}{}", module.replace('.', "/"));
            if !namespace && !root.join(&dir).join("__init__.py").is_file() {
                if module.contains('.') && root.join(&dir).is_dir() {
                    // Dotted module names are namespace packages above the last part.
                } else {
                    return Err(PlanError::NoPackage {
                        backend,
                        looked_for: format!("`{dir}/__init__.py`"),
                    });
                }
            }
            let files = walk(root, &dir, &Exclusions::uv())?;
            Ok(Ok(Discovery {
                wheel_files: reroot(&files, &prefix),
                sdist_sources: files,
            }))
        }
        KnownBackend::Setuptools => setuptools_discover(root, pyproject),
    }
}

fn setuptools_discover(
    root: &Path,
    pyproject: &PyProject,
) -> Result<Result<Discovery, Unsupported>, PlanError> {
    let base = pyproject
        .tool("setuptools", &["package-dir", ""])
        .and_then(toml::Value::as_str)
        .map(|s| s.trim_matches('/').to_owned());
    let packages = pyproject.tool("setuptools", &["packages"]);
    let py_modules: Vec<String> = pyproject
        .tool("setuptools", &["py-modules"])
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let (base, package_names): (String, Vec<String>) = match packages {
        Some(toml::Value::Array(list)) => (
            base.unwrap_or_default(),
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(toml::Value::Table(t)) => {
            let Some(find) = t.get("find").and_then(toml::Value::as_table) else {
                return Ok(Err(Unsupported {
                    reasons: vec!["`tool.setuptools.packages` has an unknown form".into()],
                }));
            };
            let strs = |k: &str| -> Option<Vec<String>> {
                find.get(k).and_then(toml::Value::as_array).map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
            };
            let wheres = strs("where").unwrap_or_else(|| vec![".".into()]);
            let [dir] = wheres.as_slice() else {
                return Ok(Err(Unsupported {
                    reasons: vec![
                        "`tool.setuptools.packages.find.where` lists several directories".into(),
                    ],
                }));
            };
            let include = strs("include").unwrap_or_else(|| vec!["*".into()]);
            let exclude = strs("exclude").unwrap_or_default();
            let namespaces = find
                .get("namespaces")
                .and_then(toml::Value::as_bool)
                .unwrap_or(true);
            let dir = dir.trim_start_matches("./").trim_matches('/');
            let dir = if dir == "." { "" } else { dir };
            let found = find_packages(&root.join(dir), namespaces, &include, &exclude);
            (base.unwrap_or_else(|| dir.to_owned()), found)
        }
        Some(_) => {
            return Ok(Err(Unsupported {
                reasons: vec!["`tool.setuptools.packages` has an unknown form".into()],
            }));
        }
        None if py_modules.is_empty() => {
            if root.join("src").is_dir() {
                (
                    "src".to_owned(),
                    find_packages(&root.join("src"), true, &["*".into()], &[]),
                )
            } else {
                return Ok(Err(Unsupported {
                    reasons: vec!["setuptools flat-layout automatic discovery (set `tool.setuptools.packages`)".into()],
                }));
            }
        }
        None => (base.unwrap_or_default(), Vec::new()),
    };
    let prefix = if base.is_empty() {
        String::new()
    } else {
        format!("{base}/")
    };
    let ex = Exclusions::setuptools_package();
    let mut wheel = Vec::new();
    let mut sdist = Vec::new();
    for p in &package_names {
        let dir = format!("{prefix}{}", p.replace('.', "/"));
        let files = walk(root, &dir, &ex)?;
        wheel.extend(reroot(&files, &prefix));
        sdist.extend(files);
    }
    for m in &py_modules {
        let file = format!("{prefix}{}.py", m.replace('.', "/"));
        if root.join(&file).is_file() {
            wheel.push(Entry::disk(
                file.strip_prefix(&prefix).unwrap_or(&file),
                &root.join(&file),
            ));
        }
    }
    if wheel.is_empty() {
        return Err(PlanError::NoPackage {
            backend: KnownBackend::Setuptools,
            looked_for: "packages under the configured directories".into(),
        });
    }
    wheel.sort_by(|a, b| a.path.cmp(&b.path));
    wheel.dedup_by(|a, b| a.path == b.path);
    Ok(Ok(Discovery {
        wheel_files: wheel,
        sdist_sources: sdist,
    }))
}

/// setuptools' `find_packages`/`find_namespace_packages` with fnmatch filters.
fn find_packages(
    base: &Path,
    namespaces: bool,
    include: &[String],
    exclude: &[String],
) -> Vec<String> {
    let compile = |pats: &[String]| {
        let mut b = globset::GlobSetBuilder::new();
        for p in pats {
            if let Ok(g) = globset::GlobBuilder::new(p)
                .literal_separator(false)
                .build()
            {
                b.add(g);
            }
        }
        b.build().ok()
    };
    let (Some(inc), Some(exc)) = (compile(include), compile(exclude)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = vec![(base.to_path_buf(), String::new())];
    while let Some((dir, dotted)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if !path.is_dir() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains('.') || name == "__pycache__" || name == "ez_setup" {
                continue;
            }
            let pkg = if dotted.is_empty() {
                name.clone()
            } else {
                format!("{dotted}.{name}")
            };
            let is_pkg = namespaces || path.join("__init__.py").is_file();
            if !is_pkg {
                continue;
            }
            if inc.is_match(&pkg) && !exc.is_match(&pkg) {
                out.push(pkg.clone());
            }
            stack.push((path, pkg));
        }
    }
    out.sort();
    out
}

fn license_files(
    root: &Path,
    file: &Path,
    globs: Option<&[String]>,
    backend: KnownBackend,
) -> Result<Vec<Entry>, PlanError> {
    const DEFAULTS: &[&str] = &["LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*"];
    let (patterns, explicit): (Vec<String>, bool) = match globs {
        Some(g) => (g.to_vec(), true),
        None if backend == KnownBackend::UvBuild => return Ok(Vec::new()),
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
    let candidates = walk(
        root,
        "",
        &Exclusions {
            dirs: HATCH_DIRS,
            root_paths: &["dist"],
            recurse: true,
            ..Exclusions::default()
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

fn uv_data_dirs(pyproject: &PyProject) -> Vec<(String, String)> {
    pyproject
        .tool("uv", &["build-backend", "data"])
        .and_then(toml::Value::as_table)
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| {
                    v.as_str()
                        .map(|d| (d.trim_matches('/').to_owned(), k.clone()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn data_files(
    root: &Path,
    file: &Path,
    pyproject: &PyProject,
    backend: KnownBackend,
) -> Result<Vec<Entry>, PlanError> {
    let mut out = Vec::new();
    match backend {
        KnownBackend::Hatchling => {
            if let Some(map) = pyproject
                .tool("hatch", &["build", "targets", "wheel", "shared-data"])
                .and_then(toml::Value::as_table)
            {
                for (src, dest) in map {
                    let Some(dest) = dest.as_str() else {
                        return Err(field_err(
                            file,
                            "tool.hatch.build.targets.wheel.shared-data",
                            "values must be strings",
                        ));
                    };
                    let src = src.trim_matches('/');
                    let dest = dest.trim_matches('/');
                    if root.join(src).is_file() {
                        out.push(Entry::disk(format!("data/{dest}"), &root.join(src)));
                        continue;
                    }
                    for e in walk(root, src, &Exclusions::hatchling(root)?)? {
                        let rest = e
                            .path
                            .strip_prefix(src)
                            .unwrap_or(&e.path)
                            .trim_start_matches('/')
                            .to_owned();
                        let mut e = e;
                        e.path = format!("data/{dest}/{rest}");
                        out.push(e);
                    }
                }
            }
        }
        KnownBackend::UvBuild => {
            for (dir, kind) in uv_data_dirs(pyproject) {
                if !["data", "scripts", "headers", "purelib", "platlib"].contains(&kind.as_str()) {
                    return Err(field_err(
                        file,
                        &format!("tool.uv.build-backend.data.{kind}"),
                        "unknown data directory kind",
                    ));
                }
                for e in walk(root, &dir, &Exclusions::uv())? {
                    let rest = e
                        .path
                        .strip_prefix(&dir)
                        .unwrap_or(&e.path)
                        .trim_start_matches('/')
                        .to_owned();
                    let mut e = e;
                    e.path = format!("{kind}/{rest}");
                    out.push(e);
                }
            }
        }
        KnownBackend::FlitCore | KnownBackend::Setuptools => {}
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
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
