//! Files a command writes for people and tools (a report, a manifest).

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::{ExitStatus, ResultExt as _};

/// Writes `bytes` to `path`, redacted once more on the way, through a
/// temporary file in the same directory that is synced and renamed over
/// the target: a reader sees the old file or the whole new one, never half
/// of it. Missing parent directories are made. An error names the file
/// (exit 2: the path given cannot take the file).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let bytes = windlass_redact::global().redact_bytes(bytes);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(&bytes)?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write()
        .with_context(|| format!("cannot write `{}`", path.display()))
        .with_exit_status(ExitStatus::Usage)
}
