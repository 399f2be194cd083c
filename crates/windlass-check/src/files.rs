//! The project's files, as git would see them: `.gitignore`, `.ignore` and
//! the global excludes honoured, hidden files and `.git` left out.

use std::path::Path;

/// Every file of the project, relative to `root`, `/`-separated and sorted.
pub fn project_files(root: &Path) -> Vec<String> {
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .require_git(false)
        .parents(true)
        .filter_entry(|entry| entry.file_name() != "__pycache__")
        .build();
    let mut files: Vec<String> = walker
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .filter(|entry| entry.path().extension().is_none_or(|ext| ext != "pyc"))
        .filter_map(|entry| {
            let relative = entry.path().strip_prefix(root).ok()?;
            Some(slash_path(relative))
        })
        .collect();
    files.sort();
    files
}

/// A relative path with `/` separators.
pub fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The file name of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether a file without an extension starts with a shell shebang.
pub fn is_shell_script(root: &Path, path: &str) -> bool {
    let name = file_name(path);
    if crate::plan::has_extension(name, "sh") || crate::plan::has_extension(name, "bash") {
        return true;
    }
    if name.contains('.') {
        return false;
    }
    let Ok(file) = std::fs::File::open(root.join(path)) else {
        return false;
    };
    let mut head = [0_u8; 64];
    let n = std::io::Read::read(&mut &file, &mut head).unwrap_or(0);
    let line = head[..n].split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    line.starts_with("#!")
        && ["/sh", "/bash", "env sh", "env bash", "/dash", "/ksh"]
            .iter()
            .any(|shell| line.contains(shell))
}
