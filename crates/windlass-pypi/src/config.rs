//! Where repositories are configured: the `[wheel.repositories]` section of
//! `windlass.toml` (typed here as [`RepositorySection`], loaded by the
//! wheel CLI with the rest of its `[wheel]` section) and twine's
//! `~/.pypirc`.
//!
//! ```toml
//! [wheel.repositories.internal]
//! url = "https://pypi.internal.example/legacy/"
//! simple-url = "https://pypi.internal.example/simple/"   # optional, derived from url
//! token = "vault://secret/ci/pypi#token"                  # sent as `__token__`
//!
//! [wheel.repositories.devpi]
//! url = "https://devpi.example/acme/prod/"
//! username = "ci"
//! password = "env://DEVPI_PASSWORD"
//! ```
//!
//! Credentials in `windlass.toml` are always secret references, never
//! values: `token` and `password` are credential fields of the `[wheel]`
//! section's registry row, so windlass-config refuses a value there when
//! the file is loaded and `config show` never prints one. `.pypirc` holds plain values (twine's format); they are
//! registered with the redactor the moment they are read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[wheel.repositories.NAME]`: one upload target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RepositorySection {
    /// The upload URL (legacy upload API).
    pub url: String,
    /// The simple API root; derived from `url` for PyPI, devpi and
    /// pypiserver layouts when absent.
    pub simple_url: Option<String>,
    /// A secret reference to an API token (sent with user `__token__`).
    pub token: Option<String>,
    /// The user name for `password` (not secret).
    pub username: Option<String>,
    /// A secret reference to the password.
    pub password: Option<String>,
    /// Where to exchange a CI identity token for an upload token; derived
    /// from `url` when absent (`https://upload.pypi.org/legacy/` →
    /// `https://pypi.org/`).
    pub trusted_publishing_url: Option<String>,
}

/// The largest `.pypirc` read: 4 MiB, like `windlass.toml`.
pub const PYPIRC_LIMIT: u64 = 4 * windlass_fs::MIB;

/// A parsed `.pypirc`: sections of `key = value` pairs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pypirc {
    pub path: Option<PathBuf>,
    sections: BTreeMap<String, BTreeMap<String, String>>,
    /// The 1-based line of each `(section, key)`.
    lines: BTreeMap<(String, String), usize>,
}

/// Names sections and keys only (and how many lines were read): values
/// may be passwords.
impl std::fmt::Debug for Pypirc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: BTreeMap<&String, Vec<&String>> = self
            .sections
            .iter()
            .map(|(name, values)| (name, values.keys().collect()))
            .collect();
        f.debug_struct("Pypirc")
            .field("path", &self.path)
            .field("sections", &keys)
            .field("lines", &self.lines.len())
            .finish()
    }
}

/// One repository of a `.pypirc`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PypircRepository {
    pub repository: Option<String>,
    pub username: Option<String>,
    /// A plain value: register it before use.
    pub password: Option<String>,
}

impl std::fmt::Debug for PypircRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PypircRepository")
            .field("repository", &self.repository)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish()
    }
}

impl Pypirc {
    /// Parses the INI format Python's `configparser` reads: `[section]`
    /// headers, `key = value` or `key: value`, `#`/`;` comment lines, and
    /// indented continuation lines (for `index-servers`).
    pub fn parse(text: &str) -> Self {
        let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut last_key: Option<String> = None;
        let mut lines = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_end();
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let (Some(section), Some(key)) = (&current, &last_key)
                    && let Some(value) = sections.get_mut(section).and_then(|s| s.get_mut(key))
                {
                    value.push('\n');
                    value.push_str(trimmed);
                }
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                let name = name.trim().to_owned();
                sections.entry(name.clone()).or_default();
                current = Some(name);
                last_key = None;
                continue;
            }
            let split = trimmed
                .find(['=', ':'])
                .map(|i| (&trimmed[..i], &trimmed[i + 1..]));
            if let (Some(section), Some((key, value))) = (&current, split) {
                let key = key.trim().to_ascii_lowercase();
                sections
                    .entry(section.clone())
                    .or_default()
                    .insert(key.clone(), value.trim().to_owned());
                lines.insert((section.clone(), key.clone()), index + 1);
                last_key = Some(key);
            }
        }
        Self {
            path: None,
            sections,
            lines,
        }
    }

    /// The 1-based line where `key` of the section `name` is set.
    pub fn line(&self, name: &str, key: &str) -> Option<usize> {
        self.lines.get(&(name.to_owned(), key.to_owned())).copied()
    }

    /// Reads a file; a missing file is empty. A fifo, socket, device or
    /// directory in its place, or a file over [`PYPIRC_LIMIT`], is an error.
    pub fn load(path: &Path) -> Result<Self, windlass_fs::ReadError> {
        match windlass_fs::read_to_string(path, PYPIRC_LIMIT) {
            Ok(text) => {
                let mut pypirc = Self::parse(&text);
                pypirc.path = Some(path.to_owned());
                Ok(pypirc)
            }
            Err(error) if error.is_not_found() => Ok(Self::default()),
            Err(error) => Err(error),
        }
    }

    /// The names listed in `[distutils] index-servers`.
    pub fn index_servers(&self) -> Vec<String> {
        self.sections
            .get("distutils")
            .and_then(|s| s.get("index-servers"))
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The section of a repository, if present.
    pub fn repository(&self, name: &str) -> Option<PypircRepository> {
        let section = self.sections.get(name)?;
        let get = |key: &str| section.get(key).filter(|v| !v.is_empty()).cloned();
        Some(PypircRepository {
            repository: get("repository"),
            username: get("username"),
            password: get("password"),
        })
    }

    /// Every repository name: `index-servers` and every non-`distutils`
    /// section.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.index_servers();
        for name in self.sections.keys() {
            if name != "distutils" && !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::{Pypirc, RepositorySection};

    #[test]
    fn pypirc() {
        let text = "[distutils]\nindex-servers =\n    pypi\n    internal\n\n; comment\n\
[pypi]\nusername = __token__\npassword = pypi-secret\n\n[internal]\n\
repository: http://127.0.0.1:8081/\nusername=ci\npassword = p=ss:word\n";
        let rc = Pypirc::parse(text);
        insta::assert_snapshot!(format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{}",
            rc.index_servers(),
            rc.repository("pypi"),
            rc.repository("internal"),
            rc.repository("missing"),
            rc.repository("internal").unwrap().password.unwrap()
        ));
        assert_eq!(rc.line("internal", "repository"), Some(12));
        assert_eq!(rc.line("internal", "password"), Some(14));
        assert_eq!(rc.line("distutils", "index-servers"), Some(2));
        assert_eq!(rc.line("internal", "missing"), None);
    }

    /// A missing `.pypirc` is empty; a fifo, a device or a huge file in its
    /// place is an error at once.
    #[test]
    fn pypirc_files() {
        use std::fmt::Write as _;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("good"), "[pypi]\nusername = __token__\n").unwrap();
        windlass_testkit::mkfifo(&dir.join("fifo"));
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).unwrap();
        let huge = "; padding\n".repeat(usize::try_from(super::PYPIRC_LIMIT).unwrap() / 10 + 1);
        std::fs::write(dir.join("huge"), huge).unwrap();
        let mut table = String::new();
        for name in ["good", "missing", "fifo", "zero", "huge"] {
            let path = dir.join(name);
            let result =
                windlass_testkit::within(std::time::Duration::from_secs(20), name, move || {
                    Pypirc::load(&path)
                });
            let shown = match result {
                Ok(rc) => format!("ok: {:?}", rc.names()),
                Err(e) => format!("error: {e}; hint: {}", e.hint().unwrap_or_default()),
            };
            let shown = shown.replace(&dir.display().to_string(), "[TMP]");
            writeln!(table, "{name}: {shown}").unwrap();
        }
        insta::assert_snapshot!(table);
    }

    #[test]
    fn repository_section() {
        let cases = [
            "url = \"https://x.example/legacy/\"\ntoken = \"vault://secret/ci/pypi#token\"\n",
            "url = \"https://x.example/\"\nsimple-url = \"https://x.example/simple/\"\nusername = \"ci\"\npassword = \"env://PW\"\ntrusted-publishing-url = \"https://x.example/\"\n",
            "url = \"https://x.example/\"\ntokn = \"env://X\"\n",
            "token = \"env://X\"\n",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| match toml::from_str::<RepositorySection>(c) {
                Ok(c) => format!("{c:#?}"),
                Err(e) => format!("error: {e}"),
            })
            .collect();
        insta::assert_snapshot!(out.join("\n---\n"));
    }
}
