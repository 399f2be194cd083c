//! Installing wheels into a staging tree laid out as the image's root, as
//! an installer does (PEP 427, PEP 491, the packaging guide's "Recording
//! installed projects" and "Entry points"): the wheel's files into
//! `purelib`/`platlib`, its `.data/` directories into the scheme's
//! `scripts`, `headers`, `data`, ... (`#!python` scripts rewritten to the
//! image's interpreter), console and GUI script wrappers, `INSTALLER`,
//! `REQUESTED`, and a RECORD of what was written with the hashes of the
//! bytes written.
//!
//! Every member's hash is checked against the wheel's RECORD; a member that
//! would land outside its directory, a second distribution writing the same
//! file, and a wheel for another Python or platform are refused.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use windlass_dist::name::{WheelFilename, normalize};

use super::target::PythonTarget;
use super::{InstallReport, InstalledPackage, PythonError};

/// What `INSTALLER` says.
const INSTALLER: &str = "windlass";
/// The largest member of a wheel we unpack.
const MAX_MEMBER: u64 = 2 << 30;
/// The largest metadata file (METADATA, WHEEL, RECORD, entry_points.txt).
const MAX_METADATA: u64 = 16 << 20;

/// The wheels to install.
#[derive(Debug, Clone, Default)]
pub struct InstallRequest {
    pub wheels: Vec<WheelToInstall>,
}

impl InstallRequest {
    /// Every wheel [`fetch`](super::fetch) handed over.
    pub fn from_fetched(fetched: &[super::FetchedWheel]) -> Self {
        Self {
            wheels: fetched
                .iter()
                .map(|w| WheelToInstall {
                    path: w.path.clone(),
                    requested: w.requested,
                })
                .collect(),
        }
    }
}

/// One wheel file and whether the user asked for it by name (`REQUESTED`).
#[derive(Debug, Clone)]
pub struct WheelToInstall {
    pub path: PathBuf,
    pub requested: bool,
}

/// Installs the wheels of `request` for `target` into `staging` (the
/// image's root: `staging/usr/local/lib/python3.11/dist-packages/...`).
pub fn install(
    request: &InstallRequest,
    target: &PythonTarget,
    staging: &Path,
) -> Result<InstallReport, PythonError> {
    let mut owners: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut packages = Vec::new();
    let mut wheels: Vec<&WheelToInstall> = request.wheels.iter().collect();
    wheels.sort_by_key(|w| w.path.file_name().map(std::ffi::OsStr::to_os_string));
    for wheel in wheels {
        packages.push(install_one(wheel, target, staging, &mut owners)?);
    }
    packages.sort_by_key(|p| normalize(&p.name));
    Ok(InstallReport { packages })
}

/// One file written: its path in the image and RECORD's hash and size.
struct Written {
    image_path: String,
    hash: String,
    size: u64,
}

/// What a wheel says about itself.
struct WheelMeta {
    file_name: String,
    dist_info: String,
    data_dir: String,
    purelib_root: bool,
    name: String,
    version: String,
    record_path: String,
    recorded: BTreeMap<String, (Option<String>, Option<u64>)>,
    entry_points: Option<String>,
}

fn install_one(
    wheel: &WheelToInstall,
    target: &PythonTarget,
    staging: &Path,
    owners: &mut BTreeMap<String, PathBuf>,
) -> Result<InstalledPackage, PythonError> {
    let path = &wheel.path;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| PythonError::bad(path, "the file name is not UTF-8"))?
        .to_owned();
    let parsed =
        WheelFilename::parse(&file_name).map_err(|e| PythonError::bad(path, e.to_string()))?;
    if !target.accepts(&parsed.python, &parsed.abi, &parsed.platform) {
        return Err(PythonError::Incompatible {
            wheel: file_name,
            target: describe(target),
        });
    }
    let wheel_sha256 = super::sha256_file(path)?;
    let file = fs::File::open(path).map_err(PythonError::io("open", path))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| PythonError::bad(path, format!("not a zip archive: {e}")))?;
    let meta = read_meta(&mut archive, path, file_name, &parsed)?;
    let scheme = &target.scheme;
    let root = if meta.purelib_root {
        &scheme.purelib
    } else {
        &scheme.platlib
    };
    let mut written = unpack(&mut archive, &meta, root, target, staging, path, owners)?;

    // Console and GUI scripts.
    if let Some(text) = &meta.entry_points {
        for (script, module, attr) in scripts_of(text) {
            if script.contains('/') || script.is_empty() || script.starts_with('.') {
                return Err(PythonError::bad(
                    path,
                    format!("entry_points.txt: `{script}` is not a script name"),
                ));
            }
            let body = wrapper(&target.interpreter, &module, &attr);
            let image_path = format!("{}/{script}", scheme.scripts.trim_end_matches('/'));
            written.push(write_file(
                staging,
                &image_path,
                body.as_bytes(),
                true,
                path,
                owners,
            )?);
        }
    }

    // INSTALLER, REQUESTED, then RECORD naming everything.
    let info_dir = format!("{}/{}", root.trim_end_matches('/'), meta.dist_info);
    written.push(write_file(
        staging,
        &format!("{info_dir}/INSTALLER"),
        format!("{INSTALLER}\n").as_bytes(),
        false,
        path,
        owners,
    )?);
    if wheel.requested {
        written.push(write_file(
            staging,
            &format!("{info_dir}/REQUESTED"),
            b"",
            false,
            path,
            owners,
        )?);
    }
    let files = write_record(staging, root, &info_dir, &written, path, owners)?;
    Ok(InstalledPackage {
        name: meta.name,
        version: meta.version,
        wheel_sha256,
        wheel: meta.file_name,
        requested: wheel.requested,
        files,
        record: format!("{info_dir}/RECORD"),
    })
}

/// Writes RECORD: every file written with its hash and size, paths
/// relative to `root`, sorted, RECORD itself without a hash. Returns the
/// number of rows.
fn write_record(
    staging: &Path,
    root: &str,
    info_dir: &str,
    written: &[Written],
    path: &Path,
    owners: &mut BTreeMap<String, PathBuf>,
) -> Result<usize, PythonError> {
    let record_image_path = format!("{info_dir}/RECORD");
    let mut rows: Vec<String> = written
        .iter()
        .map(|w| {
            format!(
                "{},sha256={},{}",
                csv_field(&relative_to(root, &w.image_path)),
                w.hash,
                w.size
            )
        })
        .collect();
    rows.push(format!(
        "{},,",
        csv_field(&relative_to(root, &record_image_path))
    ));
    rows.sort();
    let files = rows.len();
    let mut record = rows.join("\n");
    record.push('\n');
    write_file(
        staging,
        &record_image_path,
        record.as_bytes(),
        false,
        path,
        owners,
    )?;
    Ok(files)
}

/// Reads WHEEL, METADATA, RECORD and entry_points.txt of the one
/// `.dist-info` directory named after the wheel.
fn read_meta<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    path: &Path,
    file_name: String,
    parsed: &WheelFilename,
) -> Result<WheelMeta, PythonError> {
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    let mut dist_infos: Vec<&str> = names
        .iter()
        .filter_map(|n| n.split('/').next())
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    dist_infos.sort_unstable();
    dist_infos.dedup();
    let dist_info = match dist_infos.as_slice() {
        [one] => (*one).to_owned(),
        [] => return Err(PythonError::bad(path, "it has no `.dist-info` directory")),
        _ => {
            return Err(PythonError::bad(
                path,
                format!(
                    "it has several `.dist-info` directories: {}",
                    dist_infos.join(", ")
                ),
            ));
        }
    };
    let stem = dist_info.trim_end_matches(".dist-info").to_owned();
    let dist_name = stem.split('-').next().unwrap_or_default();
    if normalize(dist_name) != normalize(&parsed.name) {
        return Err(PythonError::bad(
            path,
            format!("`{dist_info}` does not belong to `{}`", parsed.name),
        ));
    }
    let wheel_meta = read_text(archive, path, &format!("{dist_info}/WHEEL"))?
        .ok_or_else(|| PythonError::bad(path, format!("it has no `{dist_info}/WHEEL`")))?;
    let wheel_fields = headers(&wheel_meta);
    match wheel_fields.get("wheel-version").map(String::as_str) {
        Some(v) if v.split('.').next() == Some("1") => {}
        other => {
            return Err(PythonError::bad(
                path,
                format!("unsupported Wheel-Version {}", other.unwrap_or("(missing)")),
            ));
        }
    }
    let metadata = read_text(archive, path, &format!("{dist_info}/METADATA"))?
        .ok_or_else(|| PythonError::bad(path, format!("it has no `{dist_info}/METADATA`")))?;
    let meta = headers(&metadata);
    let field = |key: &str| {
        meta.get(key)
            .cloned()
            .ok_or_else(|| PythonError::bad(path, format!("METADATA has no {key}")))
    };
    let record_path = format!("{dist_info}/RECORD");
    let record_text = read_text(archive, path, &record_path)?
        .ok_or_else(|| PythonError::bad(path, format!("it has no `{record_path}`")))?;
    Ok(WheelMeta {
        file_name,
        data_dir: format!("{stem}.data"),
        purelib_root: wheel_fields
            .get("root-is-purelib")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        name: field("name")?,
        version: field("version")?,
        recorded: parse_record(&record_text),
        entry_points: read_text(archive, path, &format!("{dist_info}/entry_points.txt"))?,
        record_path,
        dist_info,
    })
}

/// Writes every member (but RECORD and its signatures) where it belongs,
/// checking each against the wheel's RECORD.
fn unpack<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    meta: &WheelMeta,
    root: &str,
    target: &PythonTarget,
    staging: &Path,
    path: &Path,
    owners: &mut BTreeMap<String, PathBuf>,
) -> Result<Vec<Written>, PythonError> {
    let scheme = &target.scheme;
    let record_path = &meta.record_path;
    let mut written = Vec::new();
    for index in 0..archive.len() {
        let mut member = archive
            .by_index(index)
            .map_err(|e| PythonError::bad(path, format!("member {index}: {e}")))?;
        if member.is_dir() {
            continue;
        }
        let member_name = member.name().to_owned();
        let escape = || PythonError::PathEscape {
            wheel: path.to_owned(),
            member: member_name.clone(),
        };
        let relative = safe_relative(&member_name).ok_or_else(escape)?;
        if relative == *record_path
            || relative == format!("{record_path}.jws")
            || relative == format!("{record_path}.p7s")
        {
            continue;
        }
        let (dest_dir, rest, is_script) = match relative.split_once('/') {
            Some((top, rest)) if top == meta.data_dir => {
                let (key, rest) = rest.split_once('/').ok_or_else(escape)?;
                let dir = match key {
                    "purelib" => scheme.purelib.clone(),
                    "platlib" => scheme.platlib.clone(),
                    "scripts" => scheme.scripts.clone(),
                    "data" => scheme.data.clone(),
                    "headers" => format!("{}/{}", scheme.headers, meta.name),
                    other => {
                        return Err(PythonError::bad(
                            path,
                            format!("`{member_name}`: unknown `.data` directory `{other}`"),
                        ));
                    }
                };
                (dir, rest.to_owned(), key == "scripts")
            }
            _ => (root.to_owned(), relative.clone(), false),
        };
        let image_path = format!("{}/{rest}", dest_dir.trim_end_matches('/'));
        let executable = is_script || member.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut bytes =
            Vec::with_capacity(usize::try_from(member.size().min(MAX_MEMBER)).unwrap_or(0));
        (&mut member)
            .take(MAX_MEMBER + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| PythonError::bad(path, format!("`{member_name}`: {e}")))?;
        if bytes.len() as u64 > MAX_MEMBER {
            return Err(PythonError::bad(
                path,
                format!("`{member_name}` is larger than 2 GiB"),
            ));
        }
        if let Some((Some(hash), _)) = meta.recorded.get(&member_name)
            && *hash != record_hash(&bytes)
        {
            return Err(PythonError::bad(
                path,
                format!("`{member_name}` does not match its RECORD hash"),
            ));
        }
        if is_script {
            bytes = rewrite_shebang(bytes, &target.interpreter);
        }
        written.push(write_file(
            staging,
            &image_path,
            &bytes,
            executable,
            path,
            owners,
        )?);
    }
    Ok(written)
}

fn describe(target: &PythonTarget) -> String {
    format!(
        "CPython {} ({}, {})",
        target.python_version(),
        target.abi,
        target.platforms.first().map_or("any", String::as_str)
    )
}

/// Writes `bytes` at the image path `image_path` under `staging` (0755 or
/// 0644), refusing a path another wheel wrote.
fn write_file(
    staging: &Path,
    image_path: &str,
    bytes: &[u8],
    executable: bool,
    wheel: &Path,
    owners: &mut BTreeMap<String, PathBuf>,
) -> Result<Written, PythonError> {
    if let Some(first) = owners.get(image_path) {
        return Err(PythonError::Conflict {
            path: image_path.to_owned(),
            first: first.clone(),
            second: wheel.to_owned(),
        });
    }
    owners.insert(image_path.to_owned(), wheel.to_owned());
    let dest = staging.join(image_path.trim_start_matches('/'));
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(PythonError::io("create", parent))?;
    }
    let mut file = fs::File::create(&dest).map_err(PythonError::io("create", &dest))?;
    file.write_all(bytes)
        .map_err(PythonError::io("write", &dest))?;
    let mode = if executable { 0o755 } else { 0o644 };
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(PythonError::io("set the mode of", &dest))?;
    Ok(Written {
        image_path: image_path.to_owned(),
        hash: record_hash(bytes),
        size: bytes.len() as u64,
    })
}

/// RECORD's hash: urlsafe base64 of the sha256, without padding.
fn record_hash(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// A member name as a relative path without `.`/`..` or absolute parts.
fn safe_relative(name: &str) -> Option<String> {
    if name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return None;
    }
    let parts: Vec<&str> = name
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") || parts[0].contains(':') {
        return None;
    }
    Some(parts.join("/"))
}

/// `target` relative to the directory `base` (both absolute image paths).
pub(super) fn relative_to(base: &str, target: &str) -> String {
    let base: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    let target: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; base.len() - common];
    parts.extend(&target[common..]);
    parts.join("/")
}

pub(super) fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Reads a text member of at most [`MAX_METADATA`] bytes, if present.
fn read_text<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    wheel: &Path,
    name: &str,
) -> Result<Option<String>, PythonError> {
    let mut member = match archive.by_name(name) {
        Ok(member) => member,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(PythonError::bad(wheel, format!("`{name}`: {e}"))),
    };
    let mut bytes = Vec::new();
    (&mut member)
        .take(MAX_METADATA)
        .read_to_end(&mut bytes)
        .map_err(|e| PythonError::bad(wheel, format!("`{name}`: {e}")))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| PythonError::bad(wheel, format!("`{name}` is not UTF-8")))
}

/// The `Key: value` headers of an email-style metadata file (lower-case
/// keys, first occurrence wins, stops at the body).
fn headers(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':')
            && !key.starts_with([' ', '\t'])
        {
            out.entry(key.trim().to_ascii_lowercase())
                .or_insert_with(|| value.trim().to_owned());
        }
    }
    out
}

/// RECORD rows: path -> (`sha256=` hash if given, size).
fn parse_record(text: &str) -> BTreeMap<String, (Option<String>, Option<u64>)> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields = split_csv(line);
        let Some(path) = fields.first() else { continue };
        let hash = fields
            .get(1)
            .and_then(|h| h.strip_prefix("sha256="))
            .map(|h| h.trim_end_matches('=').to_owned());
        let size = fields.get(2).and_then(|s| s.parse().ok());
        out.insert(path.clone(), (hash, size));
    }
    out
}

pub(super) fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A first line starting with `#!python` becomes `#!INTERPRETER` (the
/// whole line, as pip does).
fn rewrite_shebang(bytes: Vec<u8>, interpreter: &str) -> Vec<u8> {
    if !bytes.starts_with(b"#!python") {
        return bytes;
    }
    let rest = bytes
        .iter()
        .position(|b| *b == b'\n')
        .map_or(&b""[..], |at| &bytes[at + 1..]);
    let mut out = format!("#!{interpreter}\n").into_bytes();
    out.extend_from_slice(rest);
    out
}

/// `(script, module, attribute path)` for every console and GUI script.
fn scripts_of(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            name.trim().clone_into(&mut section);
            continue;
        }
        if section != "console_scripts" && section != "gui_scripts" {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        // `module:attr [extra]`: extras do not change the wrapper.
        let value = value.split('[').next().unwrap_or_default().trim();
        let (module, attr) = value.split_once(':').unwrap_or((value, ""));
        out.push((
            name.trim().to_owned(),
            module.trim().to_owned(),
            attr.trim().to_owned(),
        ));
    }
    out
}

/// The wrapper script pip writes for an entry point (distlib's template,
/// byte for byte, so that the file hashes match pip's).
fn wrapper(interpreter: &str, module: &str, attr: &str) -> String {
    let (import, call) = if attr.is_empty() {
        (format!("import {module}"), module.to_owned())
    } else {
        let first = attr.split('.').next().unwrap_or(attr);
        (format!("from {module} import {first}"), attr.to_owned())
    };
    format!(
        "#!{interpreter}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n{import}\n\
         if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    \
         sys.exit({call}())\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_records_shebangs_and_wrappers() {
        assert_eq!(
            relative_to(
                "/usr/local/lib/python3.11/dist-packages",
                "/usr/local/bin/x"
            ),
            "../../../bin/x"
        );
        assert_eq!(
            relative_to(
                "/usr/local/lib/python3.11/dist-packages",
                "/usr/local/lib/python3.11/dist-packages/a/b.py"
            ),
            "a/b.py"
        );
        assert_eq!(safe_relative("a/./b"), Some("a/b".into()));
        assert_eq!(safe_relative("../x"), None);
        assert_eq!(safe_relative("a/../../x"), None);
        assert_eq!(safe_relative("/etc/passwd"), None);
        assert_eq!(safe_relative("C:/x"), None);
        assert_eq!(
            split_csv("\"a,b\",sha256=x,3"),
            vec!["a,b", "sha256=x", "3"]
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(
            rewrite_shebang(b"#!python\nprint(1)\n".to_vec(), "/usr/bin/python3"),
            b"#!/usr/bin/python3\nprint(1)\n"
        );
        assert_eq!(
            rewrite_shebang(b"#!python3 -u\r\nx".to_vec(), "/usr/bin/python3"),
            b"#!/usr/bin/python3\nx"
        );
        assert_eq!(
            rewrite_shebang(b"#!/bin/sh\n".to_vec(), "/p"),
            b"#!/bin/sh\n"
        );
        assert_eq!(
            scripts_of(
                "[console_scripts]\na = m.n:main [x]\n[other]\nb = c:d\n[gui_scripts]\ng=m:o.p\n"
            ),
            vec![
                ("a".into(), "m.n".into(), "main".into()),
                ("g".into(), "m".into(), "o.p".into())
            ]
        );
        insta::assert_snapshot!(wrapper("/usr/bin/python3", "sentiment_lab.train", "main"), @r#"
        #!/usr/bin/python3
        # -*- coding: utf-8 -*-
        import re
        import sys
        from sentiment_lab.train import main
        if __name__ == '__main__':
            sys.argv[0] = re.sub(r'(-script\.pyw|\.exe)?$', '', sys.argv[0])
            sys.exit(main())
        "#);
    }
}
