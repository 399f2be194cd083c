//! `[image]` in `windlass.toml`.
//!
//! ```toml
//! [image]
//! base = "oci:images/python:3.11"   # or a registry reference
//! containerfile = "Containerfile"   # optional; flags and keys below add to it
//! files = [{ src = "train.py", dest = "/job/" }]
//! requirements = ["requirements.txt"]
//! wheels = ["dist/sentiment_lab-0.1.0-py3-none-any.whl"]
//! entrypoint = ["python", "/job/train.py"]
//! env = { PYTHONUNBUFFERED = "1" }
//! workdir = "/job"
//! output = "oci:dist/image:latest"
//!
//! [image.index]
//! url = "https://pypi.example.com/simple/"
//! username = "ci"
//! password = "vault://secret/ci/pypi#token"
//!
//! [image.registries."ghcr.io"]
//! username = "ci-bot"
//! password = "env://GHCR_TOKEN"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use windlass_config::RelativePath;

use crate::build::layer::Compression;

pub use crate::registry::config::RegistrySection;

/// `[image]`: what `image build` builds and where images go. Flags win
/// over it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageSection {
    /// The base image reference (`image build --base`).
    pub base: Option<String>,
    /// A Containerfile to build (`image build -f`).
    pub containerfile: Option<RelativePath>,
    /// The build context (`COPY` sources and `files` are relative to it).
    pub context: Option<RelativePath>,
    /// Files and directories to copy in (`--copy SRC:DEST`).
    #[serde(default)]
    pub files: Vec<FileEntry>,
    /// Requirement files installed natively (`-r`).
    #[serde(default)]
    pub requirements: Vec<RelativePath>,
    /// Wheels installed natively (`--wheel`), such as the project's.
    #[serde(default)]
    pub wheels: Vec<RelativePath>,
    /// A PEP 751 lock file (`--lock`) whose wheels are installed natively.
    pub lock: Option<RelativePath>,
    /// Byte-compile installed Python modules (`--compile`/`--no-compile`):
    /// unset, only a Containerfile's `RUN pip install` is compiled.
    pub compile: Option<bool>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Ports (`8080`, `8080/tcp`, `53/udp`).
    #[serde(default)]
    pub expose: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `os/arch[/variant]` to build for.
    #[serde(default)]
    pub platforms: Vec<String>,
    pub compression: Option<Compression>,
    /// `UID:GID` owning the copied files.
    pub owner: Option<String>,
    /// Where the image goes: `oci:DIR[:TAG]` (relative to this file).
    pub output: Option<String>,
    /// `[image.registries."HOST"]`: credentials and transport per registry.
    #[serde(default)]
    pub registries: BTreeMap<String, RegistrySection>,
    /// `[image.index]`: where Python packages come from (else pip's own
    /// configuration).
    pub index: Option<IndexSection>,
}

/// `[image.index]`: the package index of the Python packages installed
/// into images, and its credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IndexSection {
    /// The simple index: `https://host/simple/`.
    pub url: String,
    /// The user name (not secret).
    pub username: Option<String>,
    /// A secret reference to the password or token.
    pub password: Option<String>,
}

/// One `files` entry: a file or directory and where it goes in the image.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileEntry {
    pub src: RelativePath,
    /// An image path; ending in `/` means "into this directory".
    pub dest: String,
}

#[cfg(test)]
mod tests {
    use windlass_testkit::serde_fields;

    /// Every field of `[image]` and `[image.registries."HOST"]` has a row in
    /// the registry the reference docs are generated from, and every row
    /// is a field.
    #[test]
    fn every_field_is_documented() {
        let tables: [(&str, &[&str]); 3] = [
            ("image", serde_fields::<super::ImageSection>()),
            ("image.index", serde_fields::<super::IndexSection>()),
            (
                "image.registries.NAME",
                serde_fields::<super::RegistrySection>(),
            ),
        ];
        let fields = windlass_testkit::section_keys(&tables);
        let mut documented: Vec<String> = windlass_config::TOOL_KEYS
            .iter()
            .map(|key| key.key.to_owned())
            .filter(|key| key.starts_with("image."))
            .collect();
        documented.sort();
        assert_eq!(fields, documented);
    }
}
