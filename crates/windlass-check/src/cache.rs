//! The result cache, `CACHE/check/results/KEY.json`: a check whose tool,
//! version, command, configuration and input files (and, for pytest, the
//! project's environment) are those of an earlier run reuses that run's
//! result without running the tool.
//!
//! A result is stored only after its tool ran and its output was read
//! (passed or failed, never an error), already redacted; it is written to a
//! temporary file and renamed, so a reader never sees half of one.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::model::CheckResult;

/// The biggest result file read back.
const LIMIT: u64 = 64 << 20;

/// What a check's result depends on.
#[derive(Debug, Serialize)]
pub struct KeyInputs<'a> {
    pub name: &'a str,
    pub tool: &'a str,
    pub version: &'a str,
    pub command: &'a [String],
    pub format: &'a str,
    /// `[check.NAME] env` as written (references, never resolved values).
    pub env: &'a BTreeMap<String, String>,
    /// Every input file and its SHA-256.
    pub files: Vec<(&'a str, String)>,
    pub project_env: Option<&'a str>,
}

impl KeyInputs<'_> {
    /// The key: the SHA-256 of these inputs, in hex.
    pub fn key(&self) -> String {
        let mut hasher = Sha256::new();
        // Another Windlass may read the same output differently.
        hasher.update(b"windlass-check-result/1\n");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update(b"\n");
        hasher.update(serde_json::to_vec(self).unwrap_or_default());
        hex::encode(hasher.finalize())
    }
}

/// The SHA-256 of a file's bytes, in hex; a file that cannot be read has
/// the hash of its error, so it never matches a readable one.
pub fn hash_file(path: &Path) -> String {
    match std::fs::File::open(path) {
        Ok(mut file) => {
            let mut hasher = Sha256::new();
            match std::io::copy(&mut file, &mut hasher) {
                Ok(_) => hex::encode(hasher.finalize()),
                Err(e) => format!("unreadable: {}", e.kind()),
            }
        }
        Err(e) => format!("unreadable: {}", e.kind()),
    }
}

/// The results directory of a cache.
#[derive(Debug, Clone)]
pub struct ResultCache {
    dir: PathBuf,
}

impl ResultCache {
    /// The cache under Windlass's cache directory.
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            dir: cache_dir.join("check").join("results"),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The stored result for `key`, marked `cached`; none when there is
    /// none or it does not read.
    pub fn get(&self, key: &str) -> Option<CheckResult> {
        let bytes = windlass_fs::read(&self.path(key), LIMIT).ok()?;
        let mut result: CheckResult = serde_json::from_slice(&bytes).ok()?;
        result.cached = true;
        Some(result)
    }

    /// Stores a result; a cache that cannot be written is only a slower
    /// next run, so failures are logged, not returned.
    pub fn put(&self, key: &str, result: &CheckResult) {
        if let Err(e) = self.try_put(key, result) {
            tracing::debug!("cannot store the result of {}: {e}", result.name);
        }
    }

    fn try_put(&self, key: &str, result: &CheckResult) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(&serde_json::to_vec(result).map_err(std::io::Error::other)?)?;
        file.persist(self.path(key)).map_err(|e| e.error)?;
        Ok(())
    }
}
