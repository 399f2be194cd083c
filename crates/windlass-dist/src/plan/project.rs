//! The `[project]` table (PEP 621) to core metadata and `entry_points.txt`:
//! the part of a plan every backend computes the same way.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use super::{PlanError, README_LIMIT, field_err, files};
use crate::metadata::CoreMetadata;
use crate::name;
use crate::pyproject::{Contact, License, Project, Readme};

/// Core metadata from `project`, as every backend writes it; a backend's
/// own spelling is applied afterwards by `Backend::adjust_metadata`.
pub(super) fn build_metadata(
    root: &Path,
    file: &Path,
    project: &Project,
) -> Result<CoreMetadata, PlanError> {
    if !name::is_valid_name(&project.name) {
        return Err(field_err(
            file,
            "project.name",
            format!("`{}` is not a valid distribution name", project.name),
        ));
    }
    let Some(version) = &project.version else {
        return Err(field_err(
            file,
            "project.version",
            "missing (and not listed in `project.dynamic`)",
        ));
    };
    let version = pep440_rs::Version::from_str(version).map_err(|e| {
        field_err(
            file,
            "project.version",
            format!("`{version}` is not a PEP 440 version: {e}"),
        )
    })?;
    let mut m = CoreMetadata {
        name: project.name.clone(),
        version: version.to_string(),
        ..CoreMetadata::default()
    };
    if let Some(d) = &project.description {
        if d.contains('\n') {
            return Err(field_err(
                file,
                "project.description",
                "must be a single line",
            ));
        }
        m.summary = Some(d.clone());
    }
    match &project.readme {
        None => {}
        Some(readme) => {
            let (text, content_type, field) = match readme {
                Readme::Path(p) => (
                    read_readme(root, file, "project.readme", p)?,
                    content_type_for(p),
                    "project.readme",
                ),
                Readme::Table {
                    file: Some(p),
                    text: None,
                    content_type,
                } => (
                    read_readme(root, file, "project.readme.file", p)?,
                    content_type.clone().or_else(|| content_type_for(p)),
                    "project.readme.content-type",
                ),
                Readme::Table {
                    file: None,
                    text: Some(t),
                    content_type,
                } => (
                    t.clone(),
                    content_type.clone(),
                    "project.readme.content-type",
                ),
                Readme::Table { .. } => {
                    return Err(field_err(
                        file,
                        "project.readme",
                        "a table must have exactly one of `file` and `text`",
                    ));
                }
            };
            let Some(content_type) = content_type else {
                return Err(field_err(
                    file,
                    field,
                    "cannot tell the content type: use a `.md`, `.rst` or `.txt` file or set `content-type`",
                ));
            };
            let base = content_type.split(';').next().unwrap_or_default().trim();
            if !["text/markdown", "text/x-rst", "text/plain"].contains(&base) {
                return Err(field_err(
                    file,
                    field,
                    format!("unsupported content type `{content_type}`"),
                ));
            }
            m.description = Some(text);
            m.description_content_type = Some(content_type);
        }
    }
    if let Some(rp) = &project.requires_python {
        pep440_rs::VersionSpecifiers::from_str(rp)
            .map_err(|e| field_err(file, "project.requires-python", format!("`{rp}`: {e}")))?;
        m.requires_python = Some(rp.clone());
    }
    if let Some(License::Expression(expr)) = &project.license {
        let canonical =
            canonical_license(expr).map_err(|e| field_err(file, "project.license", e))?;
        if let Some(c) = project
            .classifiers
            .iter()
            .find(|c| c.starts_with("License ::"))
        {
            return Err(field_err(
                file,
                "project.classifiers",
                format!("`{c}` must not be used together with a license expression (PEP 639)"),
            ));
        }
        m.license_expression = Some(canonical);
    }
    let (author, author_email) = contacts(&project.authors);
    m.author = author;
    m.author_email = author_email;
    let (maintainer, maintainer_email) = contacts(&project.maintainers);
    m.maintainer = maintainer;
    m.maintainer_email = maintainer_email;
    m.keywords.clone_from(&project.keywords);
    m.classifiers.clone_from(&project.classifiers);
    m.project_urls = project
        .urls
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (i, dep) in project.dependencies.iter().enumerate() {
        check_requirement(file, &format!("project.dependencies[{i}]"), dep)?;
        m.requires_dist.push(dep.trim().to_owned());
    }
    for (extra, deps) in &project.optional_dependencies {
        if !name::is_valid_name(extra) {
            return Err(field_err(
                file,
                &format!("project.optional-dependencies.{extra}"),
                "not a valid extra name",
            ));
        }
        let extra = name::normalize(extra);
        for (i, dep) in deps.iter().enumerate() {
            let req = check_requirement(
                file,
                &format!("project.optional-dependencies.{extra}[{i}]"),
                dep,
            )?;
            let text = dep.trim();
            // PEP 508 wants a space between a URL and the `;` after it.
            let semicolon = match req.version_or_url {
                Some(pep508_rs::VersionOrUrl::Url(_)) => " ;",
                _ => ";",
            };
            // A marker that always holds (`python_version != '3.1.2'`) is
            // still written: only the text tells whether there is one.
            let line = match split_marker(text, &req) {
                None => format!("{text}{semicolon} extra == \"{extra}\""),
                Some((base, marker)) => format!(
                    "{}{semicolon} ({}) and extra == \"{extra}\"",
                    base.trim(),
                    marker.trim()
                ),
            };
            m.requires_dist.push(line);
        }
        m.provides_extra.push(extra);
    }
    Ok(m)
}

/// Reads the readme named by `field`: it must resolve inside the project, be
/// a regular file and hold at most [`README_LIMIT`] bytes of UTF-8.
fn read_readme(root: &Path, file: &Path, field: &str, path: &str) -> Result<String, PlanError> {
    let full = root.join(path);
    if full.exists() {
        files::confine(root, &files::real_path(root)?, &full)?;
    }
    windlass_fs::read_to_string(&full, README_LIMIT).map_err(|source| PlanError::MissingFile {
        file: file.to_path_buf(),
        field: field.to_owned(),
        path: PathBuf::from(path),
        source,
    })
}

fn content_type_for(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".md") {
        Some("text/markdown".into())
    } else if lower.ends_with(".rst") {
        Some("text/x-rst".into())
    } else if lower.ends_with(".txt") {
        Some("text/plain".into())
    } else {
        None
    }
}

/// Validates an SPDX expression and returns its canonical spelling.
pub fn canonical_license(expr: &str) -> Result<String, String> {
    match spdx::Expression::parse(expr) {
        Ok(_) => Ok(expr.split_whitespace().collect::<Vec<_>>().join(" ")),
        Err(strict) => {
            // Accept what differs only in case (`mit`, `apache-2.0 or mit`).
            if let Ok(Some(canonical)) = spdx::Expression::canonicalize(expr)
                && canonical.eq_ignore_ascii_case(expr.trim())
                && spdx::Expression::parse(&canonical).is_ok()
            {
                return Ok(canonical);
            }
            Err(format!(
                "`{expr}` is not a valid SPDX license expression: {}",
                strict.reason
            ))
        }
    }
}

/// Splits the text of `req` at the `;` that starts its marker, when it has
/// one: the `;` before which is the requirement without its marker and
/// after which is its marker (a URL or a marker string may hold `;` too).
fn split_marker<'a>(text: &'a str, req: &pep508_rs::Requirement) -> Option<(&'a str, &'a str)> {
    let mut unmarked = req.clone();
    unmarked.marker = pep508_rs::MarkerTree::TRUE;
    text.match_indices(';')
        .map(|(at, _)| (&text[..at], &text[at + 1..]))
        .find(|(base, marker)| {
            pep508_rs::MarkerTree::from_str(marker).is_ok_and(|m| m == req.marker)
                && pep508_rs::Requirement::from_str(base).is_ok_and(|b| b == unmarked)
        })
}

fn check_requirement(
    file: &Path,
    field: &str,
    dep: &str,
) -> Result<pep508_rs::Requirement, PlanError> {
    // The text becomes one `Requires-Dist` header: a line break would split
    // it, and Python's `packaging` separates the parts with spaces and
    // tabs only (other whitespace is accepted by `pep508_rs`, not by pip).
    let odd = |c: char| (c.is_control() || c.is_whitespace()) && c != ' ' && c != '\t';
    if let Some(c) = dep.trim().chars().find(|&c| odd(c)) {
        let shown: String = dep
            .trim()
            .chars()
            .map(|c| {
                if odd(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        return Err(field_err(
            file,
            field,
            format!(
                "`{shown}` must be one line with only spaces and tabs as whitespace (found `{}`)",
                c.escape_default()
            ),
        ));
    }
    pep508_rs::Requirement::from_str(dep).map_err(|e| {
        field_err(
            file,
            field,
            format!("`{dep}` is not a PEP 508 requirement: {}", e.message),
        )
    })
}

/// PEP 621 contacts to (`Author`, `Author-email`).
fn contacts(list: &[Contact]) -> (Option<String>, Option<String>) {
    let mut names = Vec::new();
    let mut emails = Vec::new();
    for c in list {
        match (&c.name, &c.email) {
            (Some(n), None) => names.push(n.clone()),
            (None, Some(e)) => emails.push(e.clone()),
            (Some(n), Some(e)) => {
                if n.contains(',') {
                    emails.push(format!("\"{n}\" <{e}>"));
                } else {
                    emails.push(format!("{n} <{e}>"));
                }
            }
            (None, None) => {}
        }
    }
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join(", "));
    (join(names), join(emails))
}

/// `entry_points.txt` from the scripts and entry points of `project`.
pub(super) fn entry_points(file: &Path, project: &Project) -> Result<Option<String>, PlanError> {
    let mut groups: Vec<(&str, &BTreeMap<String, String>)> = Vec::new();
    if !project.scripts.is_empty() {
        groups.push(("console_scripts", &project.scripts));
    }
    if !project.gui_scripts.is_empty() {
        groups.push(("gui_scripts", &project.gui_scripts));
    }
    for (group, eps) in &project.entry_points {
        if group == "console_scripts" || group == "gui_scripts" {
            return Err(field_err(
                file,
                &format!("project.entry-points.{group}"),
                format!(
                    "use `project.{}` instead",
                    if group == "console_scripts" {
                        "scripts"
                    } else {
                        "gui-scripts"
                    }
                ),
            ));
        }
        groups.push((group, eps));
    }
    if groups.is_empty() {
        return Ok(None);
    }
    let mut text = String::new();
    for (group, eps) in groups {
        let _ = writeln!(text, "[{group}]");
        for (name, value) in eps {
            if !valid_object_ref(value) {
                return Err(field_err(
                    file,
                    &format!("entry point `{name}`"),
                    format!("`{value}` is not `module:object`"),
                ));
            }
            let _ = writeln!(text, "{name} = {value}");
        }
        text.push('\n');
    }
    Ok(Some(text))
}

fn valid_object_ref(value: &str) -> bool {
    let (module, rest) = value.split_once(':').unwrap_or((value, ""));
    let rest = rest.split('[').next().unwrap_or_default().trim();
    let ident = |s: &str| {
        s.split('.').all(|p| {
            let p = p.trim();
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
    };
    ident(module.trim()) && (rest.is_empty() || ident(rest))
}
