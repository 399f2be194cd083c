//! `pylock.toml` (PEP 751): the wheels a lock file names for the image's
//! Python. For each `[[packages]]` entry whose `marker` holds on the target,
//! the most specific compatible wheel is chosen (in the target's platform
//! order); a package with no such wheel is an error naming it, since the
//! image gets no build step.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::PythonError;
use super::target::PythonTarget;

/// The largest lock file read.
const LOCK_LIMIT: u64 = 16 << 20;

/// One wheel chosen from a lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedWheel {
    /// The normalised project name.
    pub name: String,
    pub version: String,
    pub file_name: String,
    pub source: LockedSource,
    /// Hex, from the lock's `hashes.sha256`.
    pub sha256: String,
}

/// Where a locked wheel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockedSource {
    Url(String),
    Path(PathBuf),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LockFile {
    lock_version: String,
    #[serde(default)]
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    #[serde(default)]
    wheels: Vec<Wheel>,
}

#[derive(Deserialize)]
struct Wheel {
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
}

/// The wheels `path` locks for `target`.
pub fn read_lock(path: &Path, target: &PythonTarget) -> Result<Vec<LockedWheel>, PythonError> {
    let text = windlass_fs::read_to_string(path, LOCK_LIMIT).map_err(|source| {
        PythonError::Requirements {
            path: path.to_owned(),
            source,
        }
    })?;
    let lock: LockFile = toml::from_str(&text).map_err(|e| PythonError::Lock {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    if lock.lock_version.split('.').next() != Some("1") {
        return Err(PythonError::Lock {
            path: path.to_owned(),
            why: format!("lock-version `{}` is not 1.x", lock.lock_version),
        });
    }
    let environment = marker_environment(target);
    let mut chosen = Vec::new();
    for package in lock.packages {
        if let Some(marker) = &package.marker {
            let tree: pep508_rs::MarkerTree = marker.parse().map_err(|e| PythonError::Lock {
                path: path.to_owned(),
                why: format!("package `{}`: marker `{marker}`: {e}", package.name),
            })?;
            if !tree.evaluate(&environment, &[]) {
                continue;
            }
        }
        let best = best_wheel(&package.wheels, target);
        let Some((_, file_name, parsed, wheel)) = best else {
            return Err(PythonError::NoWheel {
                requirement: format!(
                    "{}{} (in {})",
                    package.name,
                    package
                        .version
                        .map(|v| format!("=={v}"))
                        .unwrap_or_default(),
                    path.display()
                ),
                target: format!(
                    "CPython {} on {}",
                    target.python_version(),
                    target.platforms.first().map_or("any", String::as_str)
                ),
            });
        };
        let sha256 = wheel
            .hashes
            .get("sha256")
            .map(|h| h.to_ascii_lowercase())
            .ok_or_else(|| PythonError::Lock {
                path: path.to_owned(),
                why: format!("`{file_name}` has no sha256 in `hashes`"),
            })?;
        let source = match (&wheel.url, &wheel.path) {
            (_, Some(local)) => {
                LockedSource::Path(path.parent().unwrap_or(Path::new(".")).join(local))
            }
            (Some(url), None) => LockedSource::Url(url.clone()),
            (None, None) => {
                return Err(PythonError::Lock {
                    path: path.to_owned(),
                    why: format!("`{file_name}` has neither `url` nor `path`"),
                });
            }
        };
        chosen.push(LockedWheel {
            name: windlass_dist::name::normalize(&package.name),
            version: parsed.version,
            file_name,
            source,
            sha256,
        });
    }
    Ok(chosen)
}

/// The most specific wheel of `wheels` that `target` accepts (the lowest
/// platform rank, then the file name), with its parsed name.
fn best_wheel<'a>(
    wheels: &'a [Wheel],
    target: &PythonTarget,
) -> Option<(usize, String, windlass_dist::name::WheelFilename, &'a Wheel)> {
    wheels
        .iter()
        .filter_map(|wheel| {
            let file_name = wheel.name.clone().or_else(|| {
                let from = wheel.url.as_deref().or(wheel.path.as_deref())?;
                Some(
                    from.rsplit('/')
                        .next()?
                        .split(['?', '#'])
                        .next()?
                        .to_owned(),
                )
            })?;
            let parsed = windlass_dist::name::WheelFilename::parse(&file_name).ok()?;
            if !target.accepts(&parsed.python, &parsed.abi, &parsed.platform) {
                return None;
            }
            let rank = parsed
                .platform
                .split('.')
                .filter_map(|p| target.platforms.iter().position(|t| t == p))
                .min()
                .unwrap_or(usize::MAX);
            Some((rank, file_name, parsed, wheel))
        })
        .min_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)))
}

/// The PEP 508 environment of the target (CPython on Linux; the patch
/// version is not known without running it, so `X.Y.0`).
fn marker_environment(target: &PythonTarget) -> pep508_rs::MarkerEnvironment {
    let short = target.python_version();
    let full = format!("{short}.0");
    pep508_rs::MarkerEnvironment::try_from(pep508_rs::MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: &full,
        os_name: "posix",
        platform_machine: &target.arch,
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: &full,
        python_version: &short,
        sys_platform: "linux",
    })
    .unwrap_or_else(|_| unreachable!("X.Y.0 is a version"))
}

#[cfg(test)]
mod tests {
    use super::super::target::{Libc, Scheme, platform_tags};
    use super::*;

    pub(crate) fn target() -> PythonTarget {
        let libc = Libc::Glibc {
            major: 2,
            minor: 36,
        };
        PythonTarget {
            interpreter: "/usr/bin/python3".into(),
            version: (3, 11),
            implementation: "cp".into(),
            abi: "cp311".into(),
            arch: "x86_64".into(),
            libc,
            platforms: platform_tags(libc, "x86_64"),
            scheme: Scheme {
                purelib: "/usr/local/lib/python3.11/dist-packages".into(),
                platlib: "/usr/local/lib/python3.11/dist-packages".into(),
                scripts: "/usr/local/bin".into(),
                data: "/usr/local".into(),
                headers: "/usr/local/include/python3.11".into(),
            },
        }
    }

    #[test]
    fn chooses_wheels_for_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("pylock.toml");
        std::fs::write(
            &lock,
            r#"
lock-version = "1.0"
created-by = "test"

[[packages]]
name = "NumPy"
version = "2.1.0"
wheels = [
  { url = "https://files.example/numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", hashes = { sha256 = "AA" } },
  { url = "https://files.example/numpy-2.1.0-cp311-cp311-manylinux_2_28_x86_64.whl", hashes = { sha256 = "bb" } },
  { url = "https://files.example/numpy-2.1.0-cp312-cp312-manylinux_2_28_x86_64.whl", hashes = { sha256 = "cc" } },
  { url = "https://files.example/numpy-2.1.0-cp311-cp311-musllinux_1_2_x86_64.whl", hashes = { sha256 = "dd" } },
]

[[packages]]
name = "tomli"
version = "2.0.1"
marker = "python_version < '3.11'"
wheels = [{ url = "https://files.example/tomli-2.0.1-py3-none-any.whl", hashes = { sha256 = "ee" } }]

[[packages]]
name = "local"
version = "1.0"
wheels = [{ name = "local-1.0-py3-none-any.whl", path = "wheels/local-1.0-py3-none-any.whl", hashes = { sha256 = "ff" } }]
"#,
        )
        .unwrap();
        let chosen = read_lock(&lock, &target()).unwrap();
        assert_eq!(chosen.len(), 2);
        assert_eq!(chosen[0].name, "numpy");
        assert_eq!(
            chosen[0].file_name,
            "numpy-2.1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(chosen[0].sha256, "bb");
        assert_eq!(
            chosen[1].source,
            LockedSource::Path(dir.path().join("wheels/local-1.0-py3-none-any.whl"))
        );

        std::fs::write(
            &lock,
            "lock-version = \"1.0\"\n[[packages]]\nname = \"only-sdist\"\nversion = \"1\"\nsdist = { url = \"https://x/only_sdist-1.tar.gz\", hashes = { sha256 = \"00\" } }\n",
        )
        .unwrap();
        let err = read_lock(&lock, &target()).unwrap_err();
        assert!(matches!(err, PythonError::NoWheel { .. }), "{err}");
        std::fs::write(&lock, "lock-version = \"2.0\"\n").unwrap();
        assert!(matches!(
            read_lock(&lock, &target()),
            Err(PythonError::Lock { .. })
        ));
    }
}
