//! The form fields of the legacy upload API (`:action=file_upload`).
//!
//! Field names follow what warehouse's forklift accepts and twine sends
//! (twine's `_RAW_TO_PACKAGE_METADATA`): the core-metadata field in
//! lowercase snake case, except `platform`, `supported_platform` and
//! `license_file` (singular) and `classifiers`, `project_urls` (plural).
//! Multiple-use fields repeat the form field once per value.

use crate::dist::Distribution;

/// How a core-metadata header maps to a form field.
struct Mapping {
    header: &'static str,
    form: &'static str,
    multiple: bool,
}

const fn single(header: &'static str, form: &'static str) -> Mapping {
    Mapping {
        header,
        form,
        multiple: false,
    }
}

const fn multiple(header: &'static str, form: &'static str) -> Mapping {
    Mapping {
        header,
        form,
        multiple: true,
    }
}

/// Every core-metadata field (1.0 to 2.4) the upload form carries, in the
/// order of the metadata specification. `Name`, `Version`, `Keywords` and
/// the description are handled separately.
const MAPPINGS: &[Mapping] = &[
    // 1.0 (PEP 241)
    multiple("Platform", "platform"),
    single("Summary", "summary"),
    single("Home-page", "home_page"),
    single("Author", "author"),
    single("Author-email", "author_email"),
    single("License", "license"),
    // 1.1 (PEP 314)
    multiple("Supported-Platform", "supported_platform"),
    single("Download-URL", "download_url"),
    multiple("Classifier", "classifiers"),
    multiple("Requires", "requires"),
    multiple("Provides", "provides"),
    multiple("Obsoletes", "obsoletes"),
    // 1.2 (PEP 345)
    single("Maintainer", "maintainer"),
    single("Maintainer-email", "maintainer_email"),
    multiple("Requires-Dist", "requires_dist"),
    multiple("Provides-Dist", "provides_dist"),
    multiple("Obsoletes-Dist", "obsoletes_dist"),
    single("Requires-Python", "requires_python"),
    multiple("Requires-External", "requires_external"),
    multiple("Project-URL", "project_urls"),
    // 2.1 (PEP 566)
    single("Description-Content-Type", "description_content_type"),
    multiple("Provides-Extra", "provides_extra"),
    // 2.2 (PEP 643)
    multiple("Dynamic", "dynamic"),
    // 2.4 (PEP 639)
    single("License-Expression", "license_expression"),
    multiple("License-File", "license_file"),
];

/// The form fields for a distribution, without the file part: the protocol
/// fields, identification, every metadata field present, and the digests.
pub fn form_fields(dist: &Distribution) -> Vec<(&'static str, String)> {
    let metadata = &dist.metadata;
    let mut fields: Vec<(&'static str, String)> = vec![
        (":action", "file_upload".to_owned()),
        ("protocol_version", "1".to_owned()),
        (
            "metadata_version",
            metadata
                .get("Metadata-Version")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        ),
        ("name", safe_name(&dist.name)),
        ("version", dist.version.clone()),
        ("filetype", dist.kind.filetype().to_owned()),
        ("pyversion", dist.pyversion.clone()),
    ];
    for mapping in MAPPINGS {
        if mapping.multiple {
            fields.extend(
                metadata
                    .get_all(mapping.header)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (mapping.form, v.to_owned())),
            );
        } else if let Some(value) = metadata
            .get(mapping.header)
            .filter(|v| !v.trim().is_empty())
        {
            fields.push((mapping.form, value.to_owned()));
        }
    }
    if let Some(keywords) = metadata.get("Keywords") {
        let joined = keywords
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        if !joined.is_empty() {
            fields.push(("keywords", joined));
        }
    }
    if let Some(description) = metadata.description() {
        fields.push(("description", description.to_owned()));
    }
    fields.push(("sha256_digest", dist.sha256.clone()));
    fields.push(("blake2_256_digest", dist.blake2_256.clone()));
    fields
}

/// The name as twine sends it (setuptools' `safe_name`): every run of
/// characters other than ASCII letters, digits and `.` becomes one `-`.
fn safe_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use windlass_dist::metadata::ParsedMetadata;

    use super::form_fields;
    use crate::dist::{DistKind, Distribution};

    #[test]
    fn every_field() {
        let text = "Metadata-Version: 2.4\nName: Demo_Pkg\nVersion: 1.0\n\
Dynamic: Requires-Dist\nPlatform: linux\nPlatform: macos\nSupported-Platform: x86_64\n\
Summary: A demo\nHome-page: https://example.org\nDownload-URL: https://example.org/dl\n\
Author: Ann\nAuthor-email: Ann <ann@example.org>\nMaintainer: Bob\n\
Maintainer-email: bob@example.org\nLicense-Expression: MIT OR Apache-2.0\n\
License-File: LICENSE-MIT\nLicense-File: LICENSE-APACHE\nKeywords: a,b , c\n\
Classifier: Programming Language :: Python :: 3\nClassifier: Typing :: Typed\n\
Requires-Dist: requests>=2\nRequires-Dist: pytest; extra == \"test\"\n\
Requires-Python: >=3.9\nRequires-External: libfoo\nProject-URL: Homepage, https://example.org\n\
Project-URL: Issues, https://example.org/issues\nProvides-Extra: test\nProvides-Dist: demo\n\
Obsoletes-Dist: old-demo\nDescription-Content-Type: text/markdown\n\n# Demo\n\nText.\n";
        let dist = Distribution {
            path: PathBuf::from("demo_pkg-1.0-py3-none-any.whl"),
            filename: "demo_pkg-1.0-py3-none-any.whl".into(),
            kind: DistKind::Wheel,
            size: 1,
            sha256: "aa".into(),
            blake2_256: "bb".into(),
            name: "Demo_Pkg".into(),
            version: "1.0".into(),
            pyversion: "py3".into(),
            metadata: ParsedMetadata::parse(text),
        };
        let rendered: Vec<String> = form_fields(&dist)
            .iter()
            .map(|(k, v)| format!("{k} = {v:?}"))
            .collect();
        insta::assert_snapshot!(rendered.join("\n"));
    }
}
