//! Cached build environments: keyed by everything that shapes them, and
//! verified against what they held when they were made before each reuse.
//!
//! The key hashes the interpreter (the executable it really is and its
//! version), the installer, the requirements (sorted, each once), the
//! backend and `backend-path`. When an environment is made, a record of its
//! whole tree (every directory, every file with its size and SHA-256, every
//! symlink with its target) is written next to it; before it is reused the
//! tree is listed again and compared. An environment that changed since (a
//! `.pth` file dropped into `site-packages`, an edited `pyvenv.cfg`) is
//! removed and made again, never used. Children of the build run with
//! `PYTHONDONTWRITEBYTECODE`, so using an environment does not change it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// What the interpreter that makes environments says it is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Interpreter {
    /// `sys.executable`: the binary behind a shim or a symlink.
    pub(crate) executable: PathBuf,
    /// `sys.version`.
    pub(crate) version: String,
}

/// The Python that prints [`Interpreter`] as JSON.
pub(crate) const QUERY: &str =
    "import json, sys; print(json.dumps({'executable': sys.executable, 'version': sys.version}))";

/// Everything that shapes an environment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape<'a> {
    pub(crate) interpreter: &'a Interpreter,
    /// `uv` or `pip`.
    pub(crate) installer: &'a str,
    /// Sorted, each once.
    pub(crate) requires: &'a [&'a str],
    pub(crate) backend: &'a str,
    pub(crate) backend_path: &'a [String],
}

impl Shape<'_> {
    /// The directory name of the environment: a hash of the shape, each
    /// part length-prefixed so that no two shapes run together.
    pub(crate) fn key(&self) -> String {
        let mut hasher = Sha256::new();
        let mut part = |label: &str, value: &[u8]| {
            hasher.update(label.as_bytes());
            hasher.update((value.len() as u64).to_le_bytes());
            hasher.update(value);
        };
        part(
            "executable",
            self.interpreter.executable.as_os_str().as_encoded_bytes(),
        );
        part("version", self.interpreter.version.as_bytes());
        part("installer", self.installer.as_bytes());
        for requirement in self.requires {
            part("requires", requirement.as_bytes());
        }
        part("backend", self.backend.as_bytes());
        for entry in self.backend_path {
            part("backend-path", entry.as_bytes());
        }
        hex::encode(&hasher.finalize()[..16])
    }
}

/// The file in an environment that records its tree; written last, it also
/// says the environment is complete.
pub(crate) const RECORD: &str = ".windlass-record";

/// Lists the tree under `root` (without the record): one line per entry,
/// sorted by path, the path quoted (escapes keep every name on its line and
/// tell apart names that are not UTF-8), a tab, then what it is: `d`,
/// `f SIZE SHA256` or `l TARGET`. Anything else (a socket, a fifo) is `?`,
/// so it differs from any recorded tree.
#[allow(
    clippy::unnecessary_debug_formatting,
    reason = "the quotes and escapes are the point: one line per name, names told apart"
)]
pub(crate) fn listing(root: &Path) -> std::io::Result<String> {
    let mut entries = BTreeMap::new();
    walk(root, Path::new(""), &mut entries)?;
    let mut out = String::new();
    for (path, entry) in entries {
        let _ = writeln!(out, "{:?}\t{entry}", path.as_os_str());
    }
    Ok(out)
}

#[allow(
    clippy::unnecessary_debug_formatting,
    reason = "a link target quoted and escaped, as the paths are"
)]
fn walk(root: &Path, rel: &Path, entries: &mut BTreeMap<PathBuf, String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let rel = rel.join(entry.file_name());
        if rel == Path::new(RECORD) {
            continue;
        }
        let kind = entry.file_type()?;
        let path = root.join(&rel);
        let line = if kind.is_symlink() {
            format!("l {:?}", std::fs::read_link(&path)?.as_os_str())
        } else if kind.is_dir() {
            walk(root, &rel, entries)?;
            "d".to_owned()
        } else if kind.is_file() {
            let (size, digest) = hash_file(&path)?;
            format!("f {size} {digest}")
        } else {
            "?".to_owned()
        };
        entries.insert(rel, line);
    }
    Ok(())
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0_u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// How a tree differs from its record, for the warning: at most `limit`
/// entries, each `added PATH`, `removed PATH` or `changed PATH`, and how
/// many more there are.
pub(crate) fn differences(recorded: &str, current: &str, limit: usize) -> String {
    let parse = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(path, entry)| (path.to_owned(), entry.to_owned()))
            .collect()
    };
    let (before, after) = (parse(recorded), parse(current));
    let mut found: Vec<String> = Vec::new();
    for (path, entry) in &after {
        match before.get(path) {
            None => found.push(format!("added {path}")),
            Some(old) if old != entry => found.push(format!("changed {path}")),
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|path| !after.contains_key(*path)) {
        found.push(format!("removed {path}"));
    }
    let more = found.len().saturating_sub(limit);
    found.truncate(limit);
    let mut text = found.join(", ");
    if more > 0 {
        let _ = write!(text, " and {more} more");
    }
    if text.is_empty() {
        text.push_str("the record itself");
    }
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Interpreter, Shape};

    /// Every part of the shape changes the key; the same shape gives the
    /// same key.
    #[test]
    fn every_part_of_the_shape_is_in_the_key() {
        let python = Interpreter {
            executable: PathBuf::from("/usr/bin/python3.12"),
            version: "3.12.3 (main)".to_owned(),
        };
        let other_python = Interpreter {
            executable: PathBuf::from("/usr/bin/python3.11"),
            ..python.clone()
        };
        let other_version = Interpreter {
            version: "3.12.4 (main)".to_owned(),
            ..python.clone()
        };
        let path = vec!["_build".to_owned()];
        let base = Shape {
            interpreter: &python,
            installer: "pip",
            requires: &["hatchling"],
            backend: "hatchling.build",
            backend_path: &[],
        };
        let cases = [
            ("same", base),
            (
                "interpreter path",
                Shape {
                    interpreter: &other_python,
                    ..base
                },
            ),
            (
                "interpreter version",
                Shape {
                    interpreter: &other_version,
                    ..base
                },
            ),
            (
                "installer",
                Shape {
                    installer: "uv",
                    ..base
                },
            ),
            (
                "requirements",
                Shape {
                    requires: &["hatchling", "wheel"],
                    ..base
                },
            ),
            (
                "backend",
                Shape {
                    backend: "hatchling.ouroboros",
                    ..base
                },
            ),
            (
                "backend-path",
                Shape {
                    backend_path: &path,
                    ..base
                },
            ),
            // Parts do not run together.
            (
                "requirements split",
                Shape {
                    requires: &["hatch", "ling"],
                    ..base
                },
            ),
        ];
        let keys: Vec<String> = cases.iter().map(|(_, shape)| shape.key()).collect();
        assert_eq!(keys[0], base.key());
        for (i, (name, _)) in cases.iter().enumerate().skip(1) {
            assert!(
                keys[..i].iter().all(|k| *k != keys[i]),
                "{name} gives a key seen before"
            );
        }
    }

    #[test]
    fn differences_name_the_entries() {
        let recorded = "\"bin/python\"\tl \"/usr/bin/python3\"\n\"lib\"\td\n\"lib/a.py\"\tf 3 aaa\n\"lib/b.py\"\tf 3 bbb\n";
        let current = "\"bin/python\"\tl \"/tmp/python\"\n\"lib\"\td\n\"lib/a.py\"\tf 4 ccc\n\"lib/evil.pth\"\tf 9 ddd\n";
        insta::assert_snapshot!(super::differences(recorded, current, 10), @r#"changed "bin/python", changed "lib/a.py", added "lib/evil.pth", removed "lib/b.py""#);
        insta::assert_snapshot!(super::differences(recorded, current, 1), @r#"changed "bin/python" and 3 more"#);
    }
}
