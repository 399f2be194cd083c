//! setuptools (`setuptools.build_meta`): the packages `tool.setuptools`
//! lists or finds (`packages.find`, or the `src` layout), only their Python
//! files, and the `top_level.txt` it adds to `.dist-info`.

use std::collections::BTreeSet;
use std::path::Path;

use super::files::{Exclusions, reroot, walk};
use super::{Backend, Discovery, PlanError, Unsupported, unknown_keys};
use crate::archive::Entry;
use crate::metadata::CoreMetadata;
use crate::pyproject::{KnownBackend, Project, PyProject};

pub(super) struct Setuptools;

impl Backend for Setuptools {
    fn unsupported(&self, root: &Path, pyproject: &PyProject) -> Vec<String> {
        let mut reasons = Vec::new();
        unknown_keys(
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
        if let Some(dir) = pyproject
            .tool("setuptools", &["package-dir"])
            .and_then(toml::Value::as_table)
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
        reasons
    }

    fn plugins_are_reasons(&self) -> bool {
        false
    }

    fn discover(
        &self,
        root: &Path,
        pyproject: &PyProject,
        _raw: &str,
    ) -> Result<Result<Discovery, Unsupported>, PlanError> {
        discover(root, pyproject)
    }

    fn adjust_metadata(&self, project: &Project, metadata: &mut CoreMetadata) {
        if project.license_files.is_none() && !metadata.license_files.is_empty() {
            // setuptools marks license files found by its default globs as dynamic.
            metadata.dynamic.push("license-file".into());
        }
    }

    fn sdist_differs(&self) -> Option<&'static str> {
        Some("setuptools adds `.egg-info` and MANIFEST-driven files to sdists")
    }

    /// `top_level.txt`: the top-level names of the wheel, one a line.
    fn extra_dist_info(&self, wheel_files: &[Entry]) -> Vec<Entry> {
        let mut tops: BTreeSet<String> = BTreeSet::new();
        for e in wheel_files {
            let top = e.path.split('/').next().unwrap_or_default();
            tops.insert(top.strip_suffix(".py").unwrap_or(top).to_owned());
        }
        let mut text = String::new();
        for t in tops {
            text.push_str(&t);
            text.push('\n');
        }
        vec![Entry::bytes("top_level.txt", text)]
    }
}

/// What setuptools ships of a package without package data: the Python
/// files and `py.typed` directly in it (each subpackage is listed itself).
fn package_exclusions() -> Exclusions {
    Exclusions {
        dirs: &["__pycache__"],
        only_suffixes: Some(&[".py", ".pyi"]),
        only_names: &["py.typed"],
        recurse: false,
        ..Exclusions::default()
    }
}

fn discover(
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
    let ex = package_exclusions();
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
