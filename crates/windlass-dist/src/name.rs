//! Distribution names and file names: PEP 503 normalisation, the escaping
//! used in wheel and sdist file names, and wheel file name parsing.

use std::fmt;

/// Whether `name` is a valid distribution name (core metadata `Name`):
/// ASCII letters and digits, with `.`, `_` and `-` allowed inside.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// PEP 503 normalisation, `re.sub(r"[-_.]+", "-", name).lower()`: every
/// run of `-`, `_` and `.` becomes one `-`, then the whole is lowercased
/// (as a string, not char by char: a final `Σ` becomes `ς`, as in Python).
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.push(c);
            in_separator = false;
        }
    }
    out.to_lowercase()
}

/// The name as it appears in wheel and sdist file names and in the
/// `.dist-info` directory: normalised, with `-` replaced by `_`.
pub fn file_name_component(name: &str) -> String {
    normalize(name).replace('-', "_")
}

/// The module name a backend guesses from a project name: every run of
/// characters other than letters, digits and `.` becomes `_` (hatchling and
/// flit), keeping the case.
pub fn module_name_guess(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_other = false;
    for c in name.chars() {
        if c.is_alphanumeric() || c == '.' {
            out.push(c);
            in_other = false;
        } else {
            if !in_other {
                out.push('_');
            }
            in_other = true;
        }
    }
    out
}

/// A parsed wheel file name: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WheelFilename {
    pub name: String,
    pub version: String,
    pub build: Option<String>,
    pub python: String,
    pub abi: String,
    pub platform: String,
}

/// Why a wheel file name could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WheelFilenameError {
    #[error("wheel file name `{0}` does not end in `.whl`")]
    Extension(String),
    #[error("wheel file name `{0}` must have 5 or 6 dash-separated parts, found {1}")]
    Parts(String, usize),
    #[error("wheel file name `{0}` has an invalid build tag `{1}` (must start with a digit)")]
    BuildTag(String, String),
    #[error("wheel file name `{0}` has an empty part")]
    Empty(String),
    #[error(
        "wheel file name `{0}` has an invalid name part `{1}` (letters, digits, `.` and single `_` only)"
    )]
    Name(String, String),
    #[error("wheel file name `{0}` has invalid compatibility tags `{1}`")]
    Tags(String, String),
    #[error("wheel file name `{0}` has an invalid version `{1}`")]
    Version(String, String),
}

impl WheelFilename {
    /// Parses a wheel file name (only the last path component).
    pub fn parse(file_name: &str) -> Result<Self, WheelFilenameError> {
        let stem = file_name
            .strip_suffix(".whl")
            .ok_or_else(|| WheelFilenameError::Extension(file_name.to_owned()))?;
        let parts: Vec<&str> = stem.split('-').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(WheelFilenameError::Empty(file_name.to_owned()));
        }
        let (name, version, build, tags) = match parts.as_slice() {
            [name, version, python, abi, platform] => {
                (name, version, None, [python, abi, platform])
            }
            [name, version, build, python, abi, platform] => {
                if !build.starts_with(|c: char| c.is_ascii_digit())
                    || !build.chars().all(|c| c.is_alphanumeric() || c == '_')
                {
                    return Err(WheelFilenameError::BuildTag(
                        file_name.to_owned(),
                        (*build).to_owned(),
                    ));
                }
                (
                    name,
                    version,
                    Some((*build).to_owned()),
                    [python, abi, platform],
                )
            }
            other => return Err(WheelFilenameError::Parts(file_name.to_owned(), other.len())),
        };
        if name.contains("__")
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        {
            return Err(WheelFilenameError::Name(
                file_name.to_owned(),
                (*name).to_owned(),
            ));
        }
        let word =
            |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let tags_ok = tags.iter().all(|t| t.split('.').all(word))
            && tags[0]
                .split('.')
                .all(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()));
        if !tags_ok {
            return Err(WheelFilenameError::Tags(
                file_name.to_owned(),
                format!("{}-{}-{}", tags[0], tags[1], tags[2]),
            ));
        }
        if version.parse::<pep440_rs::Version>().is_err() {
            return Err(WheelFilenameError::Version(
                file_name.to_owned(),
                (*version).to_owned(),
            ));
        }
        Ok(Self {
            name: (*name).to_owned(),
            version: (*version).to_owned(),
            build,
            python: (*tags[0]).to_owned(),
            abi: (*tags[1]).to_owned(),
            platform: (*tags[2]).to_owned(),
        })
    }

    /// The file name of a pure-Python wheel (`py3-none-any`).
    pub fn pure(name: &str, version: &str) -> Self {
        Self {
            name: file_name_component(name),
            version: version.replace('-', "_"),
            build: None,
            python: "py3".to_owned(),
            abi: "none".to_owned(),
            platform: "any".to_owned(),
        }
    }

    /// The compressed tag set, `py3-none-any`.
    pub fn tag(&self) -> String {
        format!("{}-{}-{}", self.python, self.abi, self.platform)
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name, self.version)?;
        if let Some(build) = &self.build {
            write!(f, "-{build}")?;
        }
        write!(f, "-{}-{}-{}.whl", self.python, self.abi, self.platform)
    }
}

/// The file name of an sdist (PEP 625): `{name}-{version}.tar.gz`.
pub fn sdist_filename(name: &str, version: &str) -> String {
    format!("{}-{version}.tar.gz", file_name_component(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // `ÉΣ` lowercases as a word (final sigma), like Python's `str.lower`.
        let cases = [
            "Foo.Bar_baz--qux",
            "foo",
            "FOO",
            "a-b.c_d",
            "my-pkg",
            "ÉΣ",
            "ΑΣ.Σ",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| {
                format!(
                    "{c} -> normalize={} file={} module={} valid={}",
                    normalize(c),
                    file_name_component(c),
                    module_name_guess(c),
                    is_valid_name(c)
                )
            })
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn wheel_filenames() {
        let cases = [
            "foo-1.0-py3-none-any.whl",
            "foo-1.0-1-py3-none-any.whl",
            "foo-1.0-x-py3-none-any.whl",
            "foo-1.0-py3-none.whl",
            "foo-1.0.tar.gz",
            "foo--1.0-py3-none-any.whl",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| match WheelFilename::parse(c) {
                Ok(w) => format!("{c} -> ok {w} tag={}", w.tag()),
                Err(e) => format!("{c} -> error: {e}"),
            })
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }
}
