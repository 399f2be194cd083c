//! hatchling (`hatchling.build`): the wheel holds the package named after
//! the project (or `tool.hatch.build.targets.wheel.packages`), the sdist
//! every file that the `.gitignore` does not exclude.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::files::{Exclusions, HATCH_DIRS, reroot, walk};
use super::{Backend, Discovery, PlanError, SdistInput, Unsupported, field_err, unknown_keys};
use crate::archive::Entry;
use crate::metadata::CoreMetadata;
use crate::name;
use crate::pyproject::{KnownBackend, Project, PyProject};

/// The largest `.gitignore` read to decide what hatchling ships: 4 MiB.
pub const GITIGNORE_LIMIT: u64 = 4 * windlass_fs::MIB;

pub(super) struct Hatchling;

impl Backend for Hatchling {
    fn unsupported(&self, root: &Path, pyproject: &PyProject) -> Vec<String> {
        let mut reasons = Vec::new();
        let table = |path: &[&str]| {
            pyproject
                .tool("hatch", path)
                .and_then(toml::Value::as_table)
        };
        for f in ["hatch.toml", "hatch_build.py"] {
            if root.join(f).exists() {
                reasons.push(format!("`{f}` exists and may change what hatchling builds"));
            }
        }
        unknown_keys(
            &mut reasons,
            "tool.hatch.build",
            table(&["build"]),
            &["targets"],
        );
        unknown_keys(
            &mut reasons,
            "tool.hatch.build.targets",
            table(&["build", "targets"]),
            &["wheel", "sdist"],
        );
        unknown_keys(
            &mut reasons,
            "tool.hatch.build.targets.wheel",
            table(&["build", "targets", "wheel"]),
            &["packages", "shared-data"],
        );
        unknown_keys(
            &mut reasons,
            "tool.hatch.build.targets.sdist",
            table(&["build", "targets", "sdist"]),
            &[],
        );
        unknown_keys(
            &mut reasons,
            "tool.hatch.metadata",
            table(&["metadata"]),
            &["allow-direct-references"],
        );
        reasons
    }

    fn discover(
        &self,
        root: &Path,
        pyproject: &PyProject,
        raw: &str,
    ) -> Result<Result<Discovery, Unsupported>, PlanError> {
        let ex = exclusions(root)?;
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
            backend: KnownBackend::Hatchling,
            looked_for: looked
                .iter()
                .map(|c| format!("`{c}/__init__.py`, `src/{c}/__init__.py`, `{c}.py`"))
                .collect::<Vec<_>>()
                .join(" or "),
        })
    }

    fn adjust_metadata(&self, _project: &Project, metadata: &mut CoreMetadata) {
        // hatchling writes keywords sorted.
        metadata.keywords.sort();
    }

    fn data_files(
        &self,
        root: &Path,
        file: &Path,
        pyproject: &PyProject,
    ) -> Result<Vec<Entry>, PlanError> {
        let mut out = Vec::new();
        let Some(map) = pyproject
            .tool("hatch", &["build", "targets", "wheel", "shared-data"])
            .and_then(toml::Value::as_table)
        else {
            return Ok(out);
        };
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
            for e in walk(root, src, &exclusions(root)?)? {
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
        Ok(out)
    }

    /// Every file not ignored, plus what hatchling always includes
    /// (pyproject.toml, the readme, license files and the `.gitignore` it read).
    fn sdist_files(&self, sdist: &SdistInput<'_>) -> Result<Vec<Entry>, PlanError> {
        let root = sdist.root;
        let mut files: BTreeMap<String, Entry> = walk(root, "", &exclusions(root)?)?
            .into_iter()
            .map(|e| (e.path.clone(), e))
            .collect();
        files.insert(
            "pyproject.toml".into(),
            Entry::disk("pyproject.toml", &root.join("pyproject.toml")),
        );
        if let Some(readme) = super::readme_path(sdist.project) {
            files.insert(readme.to_owned(), Entry::disk(readme, &root.join(readme)));
        }
        for e in sdist.license_files {
            files.insert(e.path.clone(), e.clone());
        }
        if let Some((_, path)) = gitignore_file(root) {
            files.insert(".gitignore".into(), Entry::disk(".gitignore", &path));
        }
        Ok(files.into_values().collect())
    }
}

/// What hatchling never ships: tool and VCS directories, bytecode, `/dist`
/// and whatever the `.gitignore` it reads excludes.
fn exclusions(root: &Path) -> Result<Exclusions, PlanError> {
    Ok(Exclusions {
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
