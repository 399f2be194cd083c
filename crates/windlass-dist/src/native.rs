//! Writing a [`NativePlan`] out as a wheel and an sdist.
//!
//! Each archive is written to a temporary file in the output directory and
//! renamed into place once complete, so a failed build leaves nothing behind.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::archive::{Entry, TarGzWriter, Timestamp, Written, ZipWriter};
use crate::name::{WheelFilename, file_name_component, sdist_filename};
use crate::plan::NativePlan;

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("failed to write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The generator line in `WHEEL`.
const GENERATOR: &str = concat!("windlass-dist ", env!("CARGO_PKG_VERSION"));

/// A temporary file in `dir`, persisted as `dest` by [`Staged::commit`].
struct Staged {
    path: tempfile::TempPath,
    file: Option<File>,
    dest: PathBuf,
}

impl Staged {
    fn new(dir: &Path, dest: PathBuf) -> Result<Self, WriteError> {
        let tmp = tempfile::Builder::new()
            .prefix(".windlass-")
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(io_err(&dest))?;
        let (file, path) = tmp.into_parts();
        Ok(Self {
            path,
            file: Some(file),
            dest,
        })
    }

    fn take(&mut self) -> File {
        self.file
            .take()
            .unwrap_or_else(|| unreachable!("file taken twice"))
    }

    fn commit(self, file: File) -> Result<PathBuf, WriteError> {
        file.sync_all().map_err(io_err(&self.dest))?;
        drop(file);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o644))
                .map_err(io_err(&self.dest))?;
        }
        self.path.persist(&self.dest).map_err(|e| WriteError::Io {
            path: self.dest.clone(),
            source: e.error,
        })?;
        Ok(self.dest)
    }
}

/// The `.dist-info` directory name.
pub fn dist_info_dir(name: &str, version: &str) -> String {
    format!("{}-{version}.dist-info", file_name_component(name))
}

/// Writes the wheel into `out_dir`; returns its path.
pub fn write_wheel(
    plan: &NativePlan,
    out_dir: &Path,
    timestamp: Timestamp,
) -> Result<PathBuf, WriteError> {
    let m = &plan.metadata;
    let filename = WheelFilename::pure(&m.name, &m.version);
    let dest = out_dir.join(filename.to_string());
    let dist_info = dist_info_dir(&m.name, &m.version);
    let data_dir = format!("{}-{}.data", file_name_component(&m.name), m.version);

    let mut entries: Vec<Entry> = plan.wheel_files.clone();
    entries.extend(plan.data_files.iter().map(|e| Entry {
        path: format!("{data_dir}/{}", e.path),
        ..e.clone()
    }));
    let mut meta: Vec<Entry> = vec![
        Entry::bytes(format!("{dist_info}/METADATA"), m.render()),
        Entry::bytes(
            format!("{dist_info}/WHEEL"),
            format!(
                "Wheel-Version: 1.0\nGenerator: {GENERATOR}\nRoot-Is-Purelib: true\nTag: {}\n",
                filename.tag()
            ),
        ),
    ];
    if let Some(ep) = &plan.entry_points {
        meta.push(Entry::bytes(
            format!("{dist_info}/entry_points.txt"),
            ep.clone(),
        ));
    }
    for e in &plan.extra_dist_info {
        meta.push(Entry {
            path: format!("{dist_info}/{}", e.path),
            ..e.clone()
        });
    }
    for e in &plan.license_files {
        meta.push(Entry {
            path: format!("{dist_info}/licenses/{}", e.path),
            ..e.clone()
        });
    }
    meta.sort_by(|a, b| a.path.cmp(&b.path));
    entries.extend(meta);

    let mut staged = Staged::new(out_dir, dest.clone())?;
    let mut zip = ZipWriter::new(staged.take(), timestamp);
    zip.add_all(&entries).map_err(io_err(&dest))?;
    let record_path = format!("{dist_info}/RECORD");
    let record = record(zip.written(), &record_path);
    zip.add_all(&[Entry::bytes(record_path, record)])
        .map_err(io_err(&dest))?;
    let (file, _) = zip.finish().map_err(io_err(&dest))?;
    staged.commit(file)
}

/// The RECORD file: one CSV row per file, then RECORD itself without hash.
fn record(written: &[Written], record_path: &str) -> String {
    let mut out = String::new();
    for w in written {
        out.push_str(&csv_field(&w.path));
        out.push_str(",sha256=");
        out.push_str(&URL_SAFE_NO_PAD.encode(w.sha256));
        out.push(',');
        out.push_str(&w.size.to_string());
        out.push('\n');
    }
    out.push_str(&csv_field(record_path));
    out.push_str(",,\n");
    out
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Writes the sdist into `out_dir`.
pub fn write_sdist(
    plan: &NativePlan,
    out_dir: &Path,
    timestamp: Timestamp,
) -> Result<PathBuf, WriteError> {
    let files = &plan.sdist_files;
    let m = &plan.metadata;
    let dest = out_dir.join(sdist_filename(&m.name, &m.version));
    let prefix = format!("{}-{}", file_name_component(&m.name), m.version);
    let mut entries: Vec<Entry> = files
        .iter()
        .filter(|e| e.path != "PKG-INFO")
        .map(|e| Entry {
            path: format!("{prefix}/{}", e.path),
            ..e.clone()
        })
        .collect();
    entries.push(Entry::bytes(format!("{prefix}/PKG-INFO"), m.render()));
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut staged = Staged::new(out_dir, dest.clone())?;
    let mut tar = TarGzWriter::new(staged.take(), timestamp);
    for e in &entries {
        tar.add(e).map_err(io_err(&dest))?;
    }
    let file = tar.finish().map_err(io_err(&dest))?;
    staged.commit(file)
}
