//! flit_core (`flit_core.buildapi`): one package or module, named after the
//! project or `tool.flit.module.name`, at the root or under `src/`.

use std::path::Path;

use super::files::{Exclusions, reroot, walk};
use super::{Backend, Discovery, PlanError, Unsupported, unknown_keys};
use crate::pyproject::{KnownBackend, PyProject};

pub(super) struct Flit;

impl Backend for Flit {
    fn unsupported(&self, _root: &Path, pyproject: &PyProject) -> Vec<String> {
        let mut reasons = Vec::new();
        let flit = pyproject.tool("flit", &[]).and_then(toml::Value::as_table);
        unknown_keys(&mut reasons, "tool.flit", flit, &["module"]);
        unknown_keys(
            &mut reasons,
            "tool.flit.module",
            pyproject
                .tool("flit", &["module"])
                .and_then(toml::Value::as_table),
            &["name"],
        );
        reasons
    }

    fn discover(
        &self,
        root: &Path,
        pyproject: &PyProject,
        raw: &str,
    ) -> Result<Result<Discovery, Unsupported>, PlanError> {
        let module = pyproject
            .tool("flit", &["module", "name"])
            .and_then(toml::Value::as_str)
            .map_or_else(|| raw.replace('-', "_"), str::to_owned);
        let rel = module.replace('.', "/");
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
                let files = walk(root, path, &exclusions())?;
                Ok(Ok(Discovery {
                    wheel_files: reroot(&files, prefix),
                    sdist_sources: files,
                }))
            }
            [] => Err(PlanError::NoPackage {
                backend: KnownBackend::FlitCore,
                looked_for: format!("`{rel}/__init__.py`, `{rel}.py` or the same under `src/`"),
            }),
            _ => Ok(Err(Unsupported {
                reasons: vec![format!("both `{rel}` and `src/{rel}` exist")],
            })),
        }
    }
}

/// What flit_core leaves out of a package: bytecode.
fn exclusions() -> Exclusions {
    Exclusions {
        dirs: &["__pycache__"],
        suffixes: &[".pyc"],
        recurse: true,
        ..Exclusions::default()
    }
}
