//! uv_build (`uv_build`): one module under `tool.uv.build-backend.module-root`
//! (`src` by default), and the `.data/` directories it declares.

use std::path::Path;

use super::files::{Exclusions, reroot, walk};
use super::{Backend, Discovery, PlanError, Unsupported, field_err, unknown_keys};
use crate::archive::Entry;
use crate::name;
use crate::pyproject::{KnownBackend, PyProject};

pub(super) struct UvBuild;

impl Backend for UvBuild {
    fn unsupported(&self, _root: &Path, pyproject: &PyProject) -> Vec<String> {
        let mut reasons = Vec::new();
        unknown_keys(
            &mut reasons,
            "tool.uv.build-backend",
            pyproject
                .tool("uv", &["build-backend"])
                .and_then(toml::Value::as_table),
            &["module-root", "module-name", "namespace", "data"],
        );
        reasons
    }

    fn discover(
        &self,
        root: &Path,
        pyproject: &PyProject,
        raw: &str,
    ) -> Result<Result<Discovery, Unsupported>, PlanError> {
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
                    backend: KnownBackend::UvBuild,
                    looked_for: format!("`{dir}/__init__.py`"),
                });
            }
        }
        let files = walk(root, &dir, &exclusions())?;
        Ok(Ok(Discovery {
            wheel_files: reroot(&files, &prefix),
            sdist_sources: files,
        }))
    }

    fn finds_license_files(&self) -> bool {
        // uv_build ships only the license files `project.license-files` lists.
        false
    }

    fn data_files(
        &self,
        root: &Path,
        file: &Path,
        pyproject: &PyProject,
    ) -> Result<Vec<Entry>, PlanError> {
        let mut out = Vec::new();
        for (dir, kind) in data_dirs(pyproject) {
            if !["data", "scripts", "headers", "purelib", "platlib"].contains(&kind.as_str()) {
                return Err(field_err(
                    file,
                    &format!("tool.uv.build-backend.data.{kind}"),
                    "unknown data directory kind",
                ));
            }
            for e in walk(root, &dir, &exclusions())? {
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
        Ok(out)
    }

    fn sdist_differs(&self) -> Option<&'static str> {
        Some("uv_build rewrites `pyproject.toml` in sdists (keeping `pyproject.toml.orig`)")
    }
}

/// What uv_build leaves out: bytecode.
pub(super) fn exclusions() -> Exclusions {
    Exclusions {
        dirs: &["__pycache__"],
        suffixes: &[".pyc", ".pyo"],
        recurse: true,
        ..Exclusions::default()
    }
}

/// `tool.uv.build-backend.data`: (directory, kind) pairs.
pub(super) fn data_dirs(pyproject: &PyProject) -> Vec<(String, String)> {
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
