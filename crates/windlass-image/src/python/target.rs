//! What Python a base image holds, read from its files and config without
//! running anything: the interpreter on its `PATH` (or in its entrypoint),
//! the version from the binary's name and the standard library directory,
//! the C library (glibc from dpkg's status or `libc.so.6`'s symbol versions,
//! musl from the loader and apk's database) for the platform tags, and the
//! install scheme pip would use there.

use oci_spec::image::{Arch, ImageConfiguration, ImageManifest};
use serde::Serialize;

use super::PythonError;
use super::basefs::BaseFs;
use crate::layout::Layout;

/// `PATH` when the image config sets none (Docker's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The C library of the image and its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Libc {
    Glibc { major: u32, minor: u32 },
    Musl { major: u32, minor: u32 },
}

/// Where an installer puts each kind of wheel file in the image (absolute
/// paths in the image), as pip would on that interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Scheme {
    pub purelib: String,
    pub platlib: String,
    pub scripts: String,
    pub data: String,
    /// The headers directory; an installer appends the project name.
    pub headers: String,
}

/// The Python of a base image, as wheels must match and installers lay
/// files out for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PythonTarget {
    /// The interpreter's path in the image as found on `PATH` (what
    /// console-script shebangs name): `/usr/bin/python3`.
    pub interpreter: String,
    /// `[3, 11]`.
    pub version: (u32, u32),
    /// `cp`.
    pub implementation: String,
    /// `cp311`.
    pub abi: String,
    /// `x86_64`, `aarch64`, ...
    pub arch: String,
    pub libc: Libc,
    /// Platform tags the interpreter accepts, most specific first
    /// (`manylinux_2_36_x86_64`, ..., `manylinux1_x86_64`).
    pub platforms: Vec<String>,
    pub scheme: Scheme,
}

impl PythonTarget {
    /// Reads the Python of the image `manifest` (in `layout`) with `config`.
    pub fn detect(
        layout: &Layout,
        manifest: &ImageManifest,
        config: &ImageConfiguration,
    ) -> Result<Self, PythonError> {
        let fs = BaseFs::read(layout, manifest)?;
        Self::from_fs(&fs, config)
    }

    /// [`PythonTarget::detect`] on a file system already read.
    pub fn from_fs(fs: &BaseFs, config: &ImageConfiguration) -> Result<Self, PythonError> {
        let settings = config.config().as_ref();
        let env: Vec<String> = settings.and_then(|c| c.env().clone()).unwrap_or_default();
        let path_var = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH)
            .to_owned();
        let mut wanted: Vec<String> = Vec::new();
        for list in [
            settings.and_then(|c| c.entrypoint().clone()),
            settings.and_then(|c| c.cmd().clone()),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(first) = list.first().filter(|p| looks_like_python(p)) {
                wanted.push(first.clone());
            }
        }
        wanted.extend(["python3".to_owned(), "python".to_owned()]);
        let interpreter = wanted
            .iter()
            .find_map(|name| find_on_path(fs, name, &path_var))
            .ok_or_else(|| PythonError::NoPython {
                searched: format!("{} on PATH={path_var}", wanted.join(", ")),
            })?;
        let real = fs
            .resolve(&interpreter)
            .ok_or_else(|| PythonError::NoPython {
                searched: interpreter.clone(),
            })?;
        let (prefix, version) = locate_stdlib(fs, &real).ok_or_else(|| PythonError::NoVersion {
            interpreter: interpreter.clone(),
        })?;
        let arch = arch_name(config.architecture())?;
        let libc = detect_libc(fs).ok_or(PythonError::NoLibc)?;
        let platforms = platform_tags(libc, &arch);
        let short = format!("{}.{}", version.0, version.1);
        let debian = prefix == "usr" && fs.is_dir("/usr/lib/python3/dist-packages");
        let scheme = if debian {
            // Debian's `posix_local` scheme (its patched sysconfig), where
            // pip installs: /usr/local/lib/python3.X/dist-packages.
            Scheme {
                purelib: format!("/usr/local/lib/python{short}/dist-packages"),
                platlib: format!("/usr/local/lib/python{short}/dist-packages"),
                scripts: "/usr/local/bin".into(),
                data: "/usr/local".into(),
                headers: format!("/usr/local/include/python{short}"),
            }
        } else {
            let base = format!("/{prefix}");
            Scheme {
                purelib: format!("{base}/lib/python{short}/site-packages"),
                platlib: format!("{base}/lib/python{short}/site-packages"),
                scripts: format!("{base}/bin"),
                data: base.clone(),
                headers: format!("{base}/include/python{short}"),
            }
        };
        Ok(Self {
            interpreter,
            version,
            implementation: "cp".into(),
            abi: format!("cp{}{}", version.0, version.1),
            arch,
            libc,
            platforms,
            scheme,
        })
    }

    /// `3.11`.
    pub fn python_version(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }

    /// Whether a wheel with these tags (each may be a `.`-compressed set)
    /// installs on this target.
    pub fn accepts(&self, python: &str, abi: &str, platform: &str) -> bool {
        let (major, minor) = self.version;
        let py_ok = python.split('.').any(|p| {
            p == format!("py{major}")
                || p == format!("py{major}{minor}")
                || p == format!("cp{major}{minor}")
                || (p.starts_with(&format!("py{major}"))
                    && p[3..].parse::<u32>().is_ok_and(|m| m <= minor))
                || (p.starts_with(&format!("cp{major}"))
                    && p[3..].parse::<u32>().is_ok_and(|m| m <= minor)
                    && abi.split('.').any(|a| a == "abi3"))
        });
        let abi_ok = abi
            .split('.')
            .any(|a| a == "none" || a == "abi3" || a == self.abi);
        let platform_ok = platform
            .split('.')
            .any(|p| p == "any" || self.platforms.iter().any(|t| t == p));
        py_ok && abi_ok && platform_ok
    }
}

fn looks_like_python(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "python"
        || name
            .strip_prefix("python")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The first `name` on `path_var` that is a regular file (after links), as
/// an absolute path in the image (not resolved: what a shell would run).
fn find_on_path(fs: &BaseFs, name: &str, path_var: &str) -> Option<String> {
    if name.contains('/') {
        return (name.starts_with('/') && fs.is_file(name)).then(|| name.to_owned());
    }
    path_var
        .split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
        .find(|candidate| fs.is_file(candidate))
}

/// The installation prefix (`usr`, `usr/local`) and version of the real
/// interpreter binary `real` (a resolved path without a leading slash):
/// `PREFIX/bin/python3.X` with `PREFIX/lib/python3.X/os.py`, or for an
/// unversioned binary name, the one `lib/python3.X` with `os.py` there.
fn locate_stdlib(fs: &BaseFs, real: &str) -> Option<(String, (u32, u32))> {
    let (dir, name) = real.rsplit_once('/')?;
    let prefix = dir.strip_suffix("/bin").unwrap_or("usr").to_owned();
    let has_stdlib = |prefix: &str, v: (u32, u32)| {
        fs.is_file(&format!("/{prefix}/lib/python{}.{}/os.py", v.0, v.1))
    };
    if let Some(version) = parse_version(name.strip_prefix("python")?) {
        for candidate in [prefix.as_str(), "usr/local", "usr"] {
            if has_stdlib(candidate, version) {
                return Some((candidate.to_owned(), version));
            }
        }
        return None;
    }
    let found: Vec<(u32, u32)> = fs
        .list(&format!("/{prefix}/lib"))
        .iter()
        .filter_map(|d| parse_version(d.strip_prefix("python")?))
        .filter(|v| has_stdlib(&prefix, *v))
        .collect();
    match found.as_slice() {
        [one] => Some((prefix, *one)),
        _ => None,
    }
}

/// `3.11` -> `(3, 11)`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn arch_name(arch: &Arch) -> Result<String, PythonError> {
    Ok(match arch {
        Arch::Amd64 => "x86_64",
        Arch::ARM64 => "aarch64",
        Arch::i386 => "i686",
        Arch::PowerPC64le => "ppc64le",
        Arch::s390x => "s390x",
        other => {
            return Err(PythonError::UnsupportedArch {
                arch: other.to_string(),
            });
        }
    }
    .to_owned())
}

fn detect_libc(fs: &BaseFs) -> Option<Libc> {
    if let Some(status) = fs.contents("/var/lib/dpkg/status")
        && let Some(version) = dpkg_version(status, "libc6")
        && let Some((major, minor)) = leading_version(&version)
    {
        return Some(Libc::Glibc { major, minor });
    }
    let musl_loader = fs
        .list("/lib")
        .iter()
        .any(|n| n.starts_with("ld-musl-") && n.ends_with(".so.1"));
    if musl_loader {
        let db = fs
            .contents("/lib/apk/db/installed")
            .or_else(|| fs.contents("/usr/lib/apk/db/installed"));
        let (major, minor) = db
            .and_then(apk_musl_version)
            .and_then(|v| leading_version(&v))
            .unwrap_or((1, 1));
        return Some(Libc::Musl { major, minor });
    }
    for dir in [
        "/usr/lib/x86_64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/lib64",
        "/usr/lib",
        "/lib",
    ] {
        if let Some(bytes) = fs.contents(&format!("{dir}/libc.so.6"))
            && let Some(minor) = glibc_symbol_minor(bytes)
        {
            return Some(Libc::Glibc { major: 2, minor });
        }
    }
    None
}

/// The `Version:` of an installed package in a dpkg status file.
fn dpkg_version(status: &[u8], package: &str) -> Option<String> {
    let text = String::from_utf8_lossy(status);
    text.split("\n\n").find_map(|stanza| {
        let mut name = None;
        let mut version = None;
        let mut installed = false;
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        (name == Some(package) && installed)
            .then_some(version)
            .flatten()
    })
}

/// musl's version in apk's installed database (`P:musl` then `V:1.2.4-r2`).
fn apk_musl_version(db: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(db);
    text.split("\n\n").find_map(|stanza| {
        let mut lines = stanza.lines();
        let is_musl = lines.clone().any(|l| l == "P:musl");
        is_musl.then(|| lines.find_map(|l| l.strip_prefix("V:").map(str::to_owned)))?
    })
}

/// `2.36-9+deb12u14` -> `(2, 36)`.
fn leading_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The highest `GLIBC_2.N` symbol version named in a `libc.so.6`.
fn glibc_symbol_minor(bytes: &[u8]) -> Option<u32> {
    const NEEDLE: &[u8] = b"GLIBC_2.";
    let mut best = None;
    let mut start = 0;
    while let Some(at) = bytes[start..]
        .windows(NEEDLE.len())
        .position(|w| w == NEEDLE)
    {
        let digits_at = start + at + NEEDLE.len();
        let digits: Vec<u8> = bytes[digits_at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        if let Ok(minor) = String::from_utf8_lossy(&digits).parse::<u32>() {
            best = best.max(Some(minor));
        }
        start = digits_at;
    }
    best
}

/// The platform tags a CPython on this libc and arch accepts, most specific
/// first, as `packaging.tags` orders them (PEP 600 with the legacy aliases
/// `manylinux2014`, `manylinux2010`, `manylinux1`; PEP 656 for musl).
pub fn platform_tags(libc: Libc, arch: &str) -> Vec<String> {
    let mut tags = Vec::new();
    match libc {
        Libc::Glibc { major, minor } => {
            let floor = if matches!(arch, "x86_64" | "i686") {
                5
            } else {
                17
            };
            for m in (floor..=minor).rev() {
                tags.push(format!("manylinux_{major}_{m}_{arch}"));
                let legacy = match m {
                    17 => Some("manylinux2014"),
                    12 => Some("manylinux2010"),
                    5 => Some("manylinux1"),
                    _ => None,
                };
                if let Some(legacy) = legacy {
                    let known = match legacy {
                        "manylinux2014" => true,
                        _ => matches!(arch, "x86_64" | "i686"),
                    };
                    if known {
                        tags.push(format!("{legacy}_{arch}"));
                    }
                }
            }
        }
        Libc::Musl { major, minor } => {
            for m in (0..=minor).rev() {
                tags.push(format!("musllinux_{major}_{m}_{arch}"));
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::super::basefs::tests::{E, tar_of};
    use super::*;
    use oci_spec::image::{ConfigBuilder, ImageConfigurationBuilder, Os};

    fn config(cmd: &[&str], arch: Arch) -> ImageConfiguration {
        ImageConfigurationBuilder::default()
            .architecture(arch)
            .os(Os::Linux)
            .config(
                ConfigBuilder::default()
                    .cmd(cmd.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                    .env(vec![format!("PATH={DEFAULT_PATH}")])
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    const DPKG: &[u8] = b"Package: base-files\nStatus: install ok installed\nVersion: 12.4\n\n\
Package: libc6\nStatus: install ok installed\nPriority: optional\nVersion: 2.36-9+deb12u14\n\n";

    #[test]
    fn debian_python() {
        let layer = tar_of(&[
            E::File("usr/bin/python3.11", b"ELF"),
            E::Link("usr/bin/python3", "python3.11"),
            E::Link("usr/bin/python", "python3"),
            E::File("usr/lib/python3.11/os.py", b""),
            E::Dir("usr/lib/python3/dist-packages/"),
            E::File("var/lib/dpkg/status", DPKG),
        ]);
        let fs = BaseFs::from_tars([layer.as_slice()]).unwrap();
        let target = PythonTarget::from_fs(&fs, &config(&["python3"], Arch::Amd64)).unwrap();
        assert_eq!(target.interpreter, "/usr/bin/python3");
        assert_eq!(target.version, (3, 11));
        assert_eq!(target.abi, "cp311");
        assert_eq!(
            target.libc,
            Libc::Glibc {
                major: 2,
                minor: 36
            }
        );
        assert_eq!(target.platforms[0], "manylinux_2_36_x86_64");
        assert!(
            target
                .platforms
                .contains(&"manylinux2014_x86_64".to_owned())
        );
        assert_eq!(target.platforms.last().unwrap(), "manylinux1_x86_64");
        assert_eq!(
            target.scheme.purelib,
            "/usr/local/lib/python3.11/dist-packages"
        );
        assert_eq!(target.scheme.scripts, "/usr/local/bin");
        assert!(target.accepts("py3", "none", "any"));
        assert!(target.accepts(
            "cp311",
            "cp311",
            "manylinux_2_17_x86_64.manylinux2014_x86_64"
        ));
        assert!(target.accepts("cp38", "abi3", "manylinux_2_28_x86_64"));
        assert!(!target.accepts("cp312", "cp312", "manylinux_2_17_x86_64"));
        assert!(!target.accepts("cp311", "cp311", "manylinux_2_38_x86_64"));
        assert!(!target.accepts("cp311", "cp311", "musllinux_1_2_x86_64"));
    }

    #[test]
    fn python_org_layout_and_musl() {
        // python:3.12-alpine: /usr/local prefix, musl.
        let layer = tar_of(&[
            E::File("usr/local/bin/python3.12", b"ELF"),
            E::Link("usr/local/bin/python3", "python3.12"),
            E::File("usr/local/lib/python3.12/os.py", b""),
            E::File("lib/ld-musl-aarch64.so.1", b""),
            E::File(
                "lib/apk/db/installed",
                b"C:Q1\nP:musl\nV:1.2.5-r0\n\nP:busybox\nV:1.36\n",
            ),
        ]);
        let fs = BaseFs::from_tars([layer.as_slice()]).unwrap();
        let target = PythonTarget::from_fs(&fs, &config(&["python3"], Arch::ARM64)).unwrap();
        assert_eq!(target.interpreter, "/usr/local/bin/python3");
        assert_eq!(target.version, (3, 12));
        assert_eq!(target.libc, Libc::Musl { major: 1, minor: 2 });
        assert_eq!(
            target.platforms,
            ["2", "1", "0"].map(|m| format!("musllinux_1_{m}_aarch64"))
        );
        assert_eq!(
            target.scheme.purelib,
            "/usr/local/lib/python3.12/site-packages"
        );
        assert_eq!(target.scheme.scripts, "/usr/local/bin");
    }

    #[test]
    fn glibc_from_symbol_versions_and_missing_python() {
        let mut libc = b"\x7fELF....GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.9\0".to_vec();
        libc.extend_from_slice(b"GLIBC_PRIVATE\0");
        let layer = tar_of(&[
            E::File("usr/lib64/libc.so.6", &libc),
            E::File("usr/bin/python3.9", b"ELF"),
            E::File("usr/lib/python3.9/os.py", b""),
        ]);
        let fs = BaseFs::from_tars([layer.as_slice()]).unwrap();
        let target =
            PythonTarget::from_fs(&fs, &config(&["/usr/bin/python3.9"], Arch::Amd64)).unwrap();
        assert_eq!(
            target.libc,
            Libc::Glibc {
                major: 2,
                minor: 34
            }
        );
        assert_eq!(target.scheme.purelib, "/usr/lib/python3.9/site-packages");
        let empty = BaseFs::from_tars([tar_of(&[E::Dir("usr/bin/")]).as_slice()]).unwrap();
        let err = PythonTarget::from_fs(&empty, &config(&["sh"], Arch::Amd64)).unwrap_err();
        assert!(matches!(err, PythonError::NoPython { .. }), "{err}");
    }
}
