//! Walking the project for the files a backend ships, and the confinement
//! every packaged file passes: it resolves inside the project and is a
//! regular file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{NativePlan, PlanError};
use crate::archive::{Entry, Source};

/// Checks every file the plan packages: it resolves inside the project and
/// is a regular file. The one file taken from above the project (the
/// `.gitignore` hatchling found in a parent directory) must resolve inside
/// the directory it was found in.
pub(super) fn confine_plan(root: &Path, plan: &NativePlan) -> Result<(), PlanError> {
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
pub(super) fn real_path(path: &Path) -> Result<PathBuf, PlanError> {
    std::fs::canonicalize(path).map_err(|source| PlanError::Walk {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuses `path` (under `base`, which resolves to `real_base`) unless it
/// resolves inside `real_base`; returns where it resolves.
pub(super) fn confine(base: &Path, real_base: &Path, path: &Path) -> Result<PathBuf, PlanError> {
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

/// File exclusion rules of one backend: each backend module builds its own.
#[derive(Debug, Default)]
pub(super) struct Exclusions {
    /// Directory names never entered.
    pub(super) dirs: &'static [&'static str],
    /// File name suffixes never shipped.
    pub(super) suffixes: &'static [&'static str],
    /// File names never shipped.
    pub(super) files: &'static [&'static str],
    pub(super) gitignore: Option<ignore::gitignore::Gitignore>,
    /// Root-relative paths excluded (hatchling's `/dist`).
    pub(super) root_paths: &'static [&'static str],
    /// Only files with these suffixes (setuptools' packages).
    pub(super) only_suffixes: Option<&'static [&'static str]>,
    pub(super) only_names: &'static [&'static str],
    pub(super) recurse: bool,
}

/// Directories of tools and version control, never searched for license
/// files nor shipped by hatchling.
pub(super) const HATCH_DIRS: &[&str] = &[
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

/// Files under `root/rel_dir` (or a single file), as root-relative entries,
/// sorted. A symlinked directory is followed only when it resolves inside
/// the project; files are checked by [`confine_plan`].
pub(super) fn walk(root: &Path, rel_dir: &str, ex: &Exclusions) -> Result<Vec<Entry>, PlanError> {
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

/// Re-roots root-relative entries: `src/pkg/x.py` with strip `src/` -> `pkg/x.py`.
pub(super) fn reroot(entries: &[Entry], strip: &str) -> Vec<Entry> {
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
