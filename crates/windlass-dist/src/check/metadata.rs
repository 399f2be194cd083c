//! Checks of core metadata, shared by wheels (`METADATA`) and sdists
//! (`PKG-INFO`): required fields, their syntax, the readme as
//! `twine check --strict` sees it, licences (PEP 639), and agreement with
//! the file name.

use std::collections::BTreeSet;
use std::str::FromStr as _;

use super::{ProblemCode, Report};
use crate::metadata::ParsedMetadata;
use crate::name;

const KNOWN_METADATA_VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"];

/// Checks core metadata; `member` is `METADATA` or `PKG-INFO`'s archive path.
pub(super) fn check_metadata(
    report: &mut Report,
    member: &str,
    text: &str,
    license_files: Option<&BTreeSet<String>>,
) -> ParsedMetadata {
    let m = ParsedMetadata::parse(text);
    let field = |report: &mut Report, f: &str, code: ProblemCode, msg: String| {
        report.add(code, Some(member), Some(f), msg);
    };
    let version_of = |v: &str| -> (u32, u32) {
        let (a, b) = v.split_once('.').unwrap_or((v, "0"));
        (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
    };
    let mv = m.get("Metadata-Version").map(str::to_owned);
    match &mv {
        None => field(
            report,
            "Metadata-Version",
            ProblemCode::MetadataMissing,
            "required field is missing".into(),
        ),
        Some(v) if !KNOWN_METADATA_VERSIONS.contains(&v.as_str()) => {
            field(
                report,
                "Metadata-Version",
                ProblemCode::MetadataVersion,
                format!("unknown metadata version `{v}`"),
            );
        }
        Some(_) => {}
    }
    let mv = mv.as_deref().map_or((0, 0), version_of);
    match m.get("Name") {
        None => field(
            report,
            "Name",
            ProblemCode::MetadataMissing,
            "required field is missing".into(),
        ),
        Some(n) if !name::is_valid_name(n) => field(
            report,
            "Name",
            ProblemCode::Name,
            format!("`{n}` is not a valid distribution name"),
        ),
        Some(_) => {}
    }
    match m.get("Version") {
        None => field(
            report,
            "Version",
            ProblemCode::MetadataMissing,
            "required field is missing".into(),
        ),
        Some(v) => {
            if let Err(e) = pep440_rs::Version::from_str(v) {
                field(
                    report,
                    "Version",
                    ProblemCode::Version,
                    format!("`{v}` is not a valid PEP 440 version: {e}"),
                );
            }
        }
    }
    if let Some(s) = m.get("Summary")
        && s.contains('\n')
    {
        field(
            report,
            "Summary",
            ProblemCode::Summary,
            "must be a single line".into(),
        );
    }
    for r in m.get_all("Requires-Dist") {
        if let Err(e) = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(r) {
            field(
                report,
                "Requires-Dist",
                ProblemCode::Requirement,
                format!("`{r}` is not a valid PEP 508 requirement: {}", e.message),
            );
        }
    }
    if let Some(rp) = m.get("Requires-Python")
        && let Err(e) = pep440_rs::VersionSpecifiers::from_str(rp)
    {
        field(
            report,
            "Requires-Python",
            ProblemCode::RequiresPython,
            format!("`{rp}` is not a valid version specifier: {e}"),
        );
    }
    for e in m.get_all("Provides-Extra") {
        if !name::is_valid_name(e) {
            field(
                report,
                "Provides-Extra",
                ProblemCode::Extra,
                format!("`{e}` is not a valid extra name"),
            );
        }
    }
    // twine check --strict: a description with a known content type.
    match m.description() {
        None => field(
            report,
            "Description",
            ProblemCode::DescriptionMissing,
            "no description (the readme): PyPI will show an empty page".into(),
        ),
        Some(d) if d.trim().is_empty() => {
            field(
                report,
                "Description",
                ProblemCode::DescriptionMissing,
                "the description is empty".into(),
            );
        }
        Some(_) => {}
    }
    match m.get("Description-Content-Type") {
        None => field(
            report,
            "Description-Content-Type",
            ProblemCode::ContentType,
            "missing: PyPI will render the description as reStructuredText".into(),
        ),
        Some(ct) => {
            let mut parts = ct.split(';').map(str::trim);
            let base = parts.next().unwrap_or_default();
            if !["text/plain", "text/x-rst", "text/markdown"].contains(&base) {
                field(
                    report,
                    "Description-Content-Type",
                    ProblemCode::ContentType,
                    format!("`{ct}` is not text/plain, text/x-rst or text/markdown"),
                );
            }
            for p in parts {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                if k.eq_ignore_ascii_case("variant")
                    && base == "text/markdown"
                    && !["GFM", "CommonMark"].contains(&v)
                {
                    field(
                        report,
                        "Description-Content-Type",
                        ProblemCode::ContentType,
                        format!("unknown markdown variant `{v}`"),
                    );
                }
            }
        }
    }
    if let Some(expr) = m.get("License-Expression") {
        if mv < (2, 4) {
            field(
                report,
                "License-Expression",
                ProblemCode::MetadataVersion,
                "needs `Metadata-Version: 2.4` or later".into(),
            );
        }
        if let Err(e) = crate::plan::canonical_license(expr) {
            field(
                report,
                "License-Expression",
                ProblemCode::LicenseExpression,
                e,
            );
        }
        if let Some(c) = m
            .get_all("Classifier")
            .find(|c| c.starts_with("License ::"))
        {
            field(
                report,
                "Classifier",
                ProblemCode::LicenseClassifier,
                format!("`{c}` must not be used with `License-Expression`"),
            );
        }
    }
    let files: Vec<&str> = m.get_all("License-File").collect();
    if !files.is_empty() && mv < (2, 4) && mv != (0, 0) {
        // Setuptools wrote License-File before 2.4 existed: a warning at most, not checked.
    }
    if mv >= (2, 4)
        && let Some(present) = license_files
    {
        for f in files {
            if !present.contains(f) {
                field(
                    report,
                    "License-File",
                    ProblemCode::LicenseFile,
                    format!("`{f}` is not in the archive"),
                );
            }
        }
    }
    if m.get("Dynamic").is_some() && mv < (2, 2) {
        field(
            report,
            "Dynamic",
            ProblemCode::MetadataVersion,
            "needs `Metadata-Version: 2.2` or later".into(),
        );
    }
    for d in m.get_all("Dynamic") {
        if d.eq_ignore_ascii_case("Name")
            || d.eq_ignore_ascii_case("Version")
            || d.eq_ignore_ascii_case("Metadata-Version")
        {
            field(
                report,
                "Dynamic",
                ProblemCode::Dynamic,
                format!("`{d}` cannot be dynamic"),
            );
        }
    }
    m
}

/// Compares the name and version in a file name with the metadata.
pub(super) fn check_name_version(
    report: &mut Report,
    m: &ParsedMetadata,
    member: &str,
    file_name: &str,
    file_version: &str,
) {
    if let Some(n) = m.get("Name")
        && name::file_name_component(n) != file_name
    {
        report.add(
            ProblemCode::FilenameMismatch,
            Some(member),
            Some("Name"),
            format!(
                "the file name says `{file_name}`, the metadata says `{n}` (expected `{}`)",
                name::file_name_component(n)
            ),
        );
    }
    if let Some(v) = m.get("Version") {
        let same = match (
            pep440_rs::Version::from_str(v),
            pep440_rs::Version::from_str(&file_version.replace('_', "-")),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => v == file_version,
        };
        if !same {
            report.add(
                ProblemCode::FilenameMismatch,
                Some(member),
                Some("Version"),
                format!("the file name says `{file_version}`, the metadata says `{v}`"),
            );
        }
    }
}
