//! The cache of pulled base images (`CACHE/image-bases`, an OCI layout)
//! and `image cache prune`.
//!
//! Each build that uses a registry base records when it last used it in a
//! small file beside the layout (`image-bases-used/<hex>.json`, so the
//! layout stays exactly what skopeo and umoci read). Pruning drops the
//! index entries not used for a while, writes `index.json` by rename, then
//! deletes every blob no remaining manifest or index reaches.
//!
//! A build holds a shared lock on `image-bases.lock` from before it pulls
//! until it has written its image; pruning holds it exclusively. So a
//! prune never runs while a build reads blobs, and a build waits for a
//! running prune (a short one: no network). `image build` prunes on its
//! own at most once a day (the `image-bases.pruned` stamp), only when no
//! build holds the lock, and never fails because of it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oci_spec::image::Descriptor;
use serde::{Deserialize, Serialize};
use windlass_output::{Outcome, Printer};

use crate::digest::Digest;
use crate::layout::{Layout, LayoutError};

/// The layout of pulled bases, under the cache directory.
pub const BASES: &str = "image-bases";
/// Last-use records of the bases, under the cache directory.
const USED: &str = "image-bases-used";
/// The lock builds share and pruning takes alone.
const LOCK: &str = "image-bases.lock";
/// When `image build` last pruned.
const STAMP: &str = "image-bases.pruned";
/// Scratch layouts of `image build -o docker://` (stale when no build runs).
pub const SCRATCH: &str = "image-scratch";
/// How long a base may stay unused before pruning drops it.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often `image build` prunes on its own.
const AUTO_PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// The largest manifest or index read while walking the layout.
const MANIFEST_LIMIT: u64 = 4 << 20;

/// `image cache ...`.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: CacheCommand,
}

/// The subcommands of `image cache`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CacheCommand {
    /// Drop cached base images not used for a while and the blobs only
    /// they needed
    Prune(PruneArgs),
}

/// `image cache prune`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PruneArgs {
    /// Drop bases not used for this long: `30d`, `12h`, `2w`, `90m`
    /// [default: 30d]
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    pub older_than: Option<Duration>,
    /// Drop every cached base
    #[arg(long, conflicts_with = "older_than")]
    pub all: bool,
}

/// `30d`, `12h`, `1d12h`, `2w`, `90m`, `45s` (a bare number is seconds).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration: give `30d`, `12h`, `2w` or `90m`");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(Duration::from_secs).map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest.chars().next().ok_or_else(bad)?;
        let size = match unit {
            'w' => 7 * 24 * 3600,
            'd' => 24 * 3600,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        rest = &rest[1..];
        total = number
            .checked_mul(size)
            .and_then(|n| total.checked_add(n))
            .ok_or_else(bad)?;
    }
    Ok(Duration::from_secs(total))
}

/// What `image cache prune` did.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct PruneReport {
    /// The layout of cached bases.
    pub cache: String,
    /// The bases dropped.
    pub removed: Vec<PrunedBase>,
    /// How many bases stay.
    pub kept: usize,
    /// How many blob files were deleted.
    pub blobs_removed: usize,
    /// Bytes freed: blobs, and scratch layouts left by interrupted builds.
    pub bytes_freed: u64,
}

/// A base dropped from the cache.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PrunedBase {
    /// The reference it was pulled as, when recorded.
    pub name: Option<String>,
    #[schemars(with = "String")]
    pub digest: Digest,
    /// When a build last used it (seconds since the Unix epoch).
    pub last_used: u64,
}

impl Outcome for PruneReport {
    fn render_human_at(&self, out: &mut dyn std::io::Write, _verbose: u8) -> std::io::Result<()> {
        for base in &self.removed {
            match &base.name {
                Some(name) => writeln!(out, "removed {name} ({})", base.digest)?,
                None => writeln!(out, "removed {}", base.digest)?,
            }
        }
        writeln!(
            out,
            "{} removed, {} kept; {} freed",
            windlass_output::plural(self.removed.len(), "base", "bases"),
            self.kept,
            windlass_output::human_size(self.bytes_freed)
        )
    }
}

/// Why the cache could not be pruned.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("cannot {what} `{}`", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl windlass_output::Diagnostic for CacheError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(
            "the cache directory is `WINDLASS_CACHE_DIR`, else `XDG_CACHE_HOME/windlass`, else \
             `~/.cache/windlass`; removing its `image-bases` directory is always safe when no \
             build runs"
                .into(),
        )
    }
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.to_owned();
    move |source| CacheError::Io { what, path, source }
}

/// A lock on the base cache, held until dropped.
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

fn lock_file(cache_dir: &Path) -> Result<File, CacheError> {
    std::fs::create_dir_all(cache_dir).map_err(io_error("make", cache_dir))?;
    let path = cache_dir.join(LOCK);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error("open", &path))
}

/// Takes the shared lock a build holds while it pulls and reads bases
/// (waits while a prune runs).
pub fn lock_shared(cache_dir: &Path) -> Result<CacheLock, CacheError> {
    let file = lock_file(cache_dir)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared)
        .map_err(|e| io_error("lock", &cache_dir.join(LOCK))(e.into()))?;
    Ok(CacheLock { _file: file })
}

/// The exclusive lock of pruning: waits for running builds when `wait`,
/// else `None` when one holds the lock.
fn lock_exclusive(cache_dir: &Path, wait: bool) -> Result<Option<CacheLock>, CacheError> {
    let file = lock_file(cache_dir)?;
    let operation = if wait {
        rustix::fs::FlockOperation::LockExclusive
    } else {
        rustix::fs::FlockOperation::NonBlockingLockExclusive
    };
    match rustix::fs::flock(&file, operation) {
        Ok(()) => Ok(Some(CacheLock { _file: file })),
        Err(e) if !wait && e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(io_error("lock", &cache_dir.join(LOCK))(e.into())),
    }
}

/// A base's last-use record.
#[derive(Debug, Serialize, Deserialize)]
struct UseRecord {
    name: String,
    digest: String,
    last_used: u64,
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn used_path(cache_dir: &Path, digest: &Digest) -> PathBuf {
    cache_dir.join(USED).join(format!("{}.json", digest.hex()))
}

/// Records that a build used the cached base `digest` (pulled as `name`)
/// now. The record is replaced by rename.
pub fn record_use(cache_dir: &Path, digest: &Digest, name: &str) -> Result<(), CacheError> {
    let dir = cache_dir.join(USED);
    std::fs::create_dir_all(&dir).map_err(io_error("make", &dir))?;
    let record = UseRecord {
        name: name.to_owned(),
        digest: digest.to_string(),
        last_used: unix(SystemTime::now()),
    };
    let path = used_path(cache_dir, digest);
    let mut file = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempfile_in(&dir)
        .map_err(io_error("write", &path))?;
    file.write_all(&serde_json::to_vec(&record).unwrap_or_default())
        .map_err(io_error("write", &path))?;
    file.persist(&path)
        .map_err(|e| io_error("write", &path)(e.error))?;
    Ok(())
}

fn read_used(cache_dir: &Path, digest: &Digest) -> Option<UseRecord> {
    let bytes = windlass_fs::read(&used_path(cache_dir, digest), 64 << 10).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What to drop.
#[derive(Debug, Clone, Copy)]
pub enum Keep {
    /// Bases used within this long.
    UsedWithin(Duration),
    /// Nothing.
    Nothing,
}

/// Prunes the base cache under `cache_dir`, waiting for running builds.
pub fn prune(
    cache_dir: &Path,
    keep: Keep,
    now: SystemTime,
    printer: &Printer,
) -> Result<PruneReport, CacheError> {
    let lock = if let Some(lock) = lock_exclusive(cache_dir, false)? {
        lock
    } else {
        printer.status("Waiting", "for the image builds using the base cache");
        lock_exclusive(cache_dir, true)?.unwrap_or_else(|| unreachable!("a blocking lock is taken"))
    };
    let report = prune_locked(cache_dir, keep, now);
    drop(lock);
    report
}

/// Prunes with the default age when the last prune is a day old and no
/// build holds the cache; a failure is only logged.
pub fn auto_prune(cache_dir: &Path, printer: &Printer) {
    let stamp = cache_dir.join(STAMP);
    let now = SystemTime::now();
    let due = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .map_or(true, |at| {
            now.duration_since(at).unwrap_or_default() >= AUTO_PRUNE_EVERY
        });
    if !due || !cache_dir.join(BASES).join("index.json").exists() {
        return;
    }
    let result = lock_exclusive(cache_dir, false).and_then(|lock| {
        let Some(lock) = lock else {
            return Ok(None);
        };
        let report = prune_locked(cache_dir, Keep::UsedWithin(DEFAULT_MAX_AGE), now)?;
        std::fs::write(&stamp, b"").map_err(io_error("write", &stamp))?;
        drop(lock);
        Ok(Some(report))
    });
    match result {
        Ok(Some(report)) if !report.removed.is_empty() => printer.status(
            "Pruned",
            &format!(
                "{} unused for 30 days from the base cache ({})",
                windlass_output::plural(report.removed.len(), "base", "bases"),
                windlass_output::human_size(report.bytes_freed)
            ),
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("the base cache was not pruned: {e}"),
    }
}

fn prune_locked(cache_dir: &Path, keep: Keep, now: SystemTime) -> Result<PruneReport, CacheError> {
    let root = cache_dir.join(BASES);
    let mut report = PruneReport {
        cache: root.display().to_string(),
        ..PruneReport::default()
    };
    report.bytes_freed += remove_scratch(cache_dir)?;
    if !root.join("index.json").exists() {
        return Ok(report);
    }
    let layout = Layout::open(&root)?;
    let index = layout.index()?;
    let mut kept: Vec<Descriptor> = Vec::new();
    for descriptor in index.manifests() {
        let Ok(digest) = descriptor.digest().to_string().parse::<Digest>() else {
            kept.push(descriptor.clone());
            continue;
        };
        let record = read_used(cache_dir, &digest);
        // A base pulled before uses were recorded: its manifest's time.
        let last_used = record.as_ref().map_or_else(
            || {
                std::fs::metadata(layout.blob_path(&digest))
                    .and_then(|m| m.modified())
                    .map_or_else(|_| unix(now), unix)
            },
            |r| r.last_used,
        );
        let drop_it = match keep {
            Keep::Nothing => true,
            Keep::UsedWithin(age) => unix(now).saturating_sub(last_used) > age.as_secs(),
        };
        if drop_it {
            report.removed.push(PrunedBase {
                name: record.map(|r| r.name),
                digest,
                last_used,
            });
        } else {
            kept.push(descriptor.clone());
        }
    }
    report.kept = kept.len();
    if !report.removed.is_empty() {
        layout.set_manifests(kept.clone())?;
    }
    let (blobs_removed, bytes) = collect_garbage(&layout, &kept)?;
    report.blobs_removed = blobs_removed;
    report.bytes_freed += bytes;
    // Records of bases no longer in the index.
    let kept_hex: BTreeSet<String> = kept
        .iter()
        .filter_map(|d| d.digest().to_string().parse::<Digest>().ok())
        .map(|d| d.hex().to_owned())
        .collect();
    if let Ok(entries) = std::fs::read_dir(cache_dir.join(USED)) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let hex = name.strip_suffix(".json").unwrap_or(&name);
            if !kept_hex.contains(hex) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(report)
}

/// Removes the scratch layouts of `image build -o docker://` that
/// interrupted builds left: under the exclusive lock no build writes one.
fn remove_scratch(cache_dir: &Path) -> Result<u64, CacheError> {
    let mut freed = 0;
    if let Ok(entries) = std::fs::read_dir(cache_dir.join(SCRATCH)) {
        for entry in entries.flatten() {
            let path = entry.path();
            freed += tree_size(&path);
            std::fs::remove_dir_all(&path).map_err(io_error("remove", &path))?;
        }
    }
    Ok(freed)
}

/// Deletes every blob of `layout` that the entries `kept` do not reach
/// (and the temporary files of interrupted pulls); returns how many blobs
/// and bytes went.
fn collect_garbage(layout: &Layout, kept: &[Descriptor]) -> Result<(usize, u64), CacheError> {
    let mut removed = 0;
    let mut freed = 0;
    // Every blob a remaining entry reaches.
    let mut reachable: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<(String, String)> = kept
        .iter()
        .map(|d| (d.digest().to_string(), d.media_type().to_string()))
        .collect();
    while let Some((digest, media_type)) = pending.pop() {
        let Ok(parsed) = digest.parse::<Digest>() else {
            continue;
        };
        if !reachable.insert(parsed.hex().to_owned()) || !is_manifest_or_index(&media_type) {
            continue;
        }
        let Ok(bytes) = layout.read_blob(&parsed, MANIFEST_LIMIT) else {
            continue;
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        pending.extend(children(&json));
    }
    let blobs = layout.root().join("blobs/sha256");
    let entries = std::fs::read_dir(&blobs).map_err(io_error("read", &blobs))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_blob = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        // Under the exclusive lock, a temporary file is a pull's leftover.
        let leftover = name.starts_with(".incoming-");
        if (is_blob && !reachable.contains(&name)) || leftover {
            let path = entry.path();
            let size = entry.metadata().map_or(0, |m| m.len());
            std::fs::remove_file(&path).map_err(io_error("remove", &path))?;
            freed += size;
            if is_blob {
                removed += 1;
            }
        }
    }
    Ok((removed, freed))
}

/// Whether a descriptor's blob may point at others (one without a media
/// type is read too: a blob kept by mistake costs less than one lost).
fn is_manifest_or_index(media_type: &str) -> bool {
    matches!(
        media_type,
        "" | "application/vnd.oci.image.manifest.v1+json"
            | "application/vnd.oci.image.index.v1+json"
            | "application/vnd.docker.distribution.manifest.v2+json"
            | "application/vnd.docker.distribution.manifest.list.v2+json"
    )
}

/// The descriptors a manifest or index points at: its config, layers,
/// manifests, blobs and subject.
fn children(json: &serde_json::Value) -> Vec<(String, String)> {
    let one = |d: &serde_json::Value| {
        Some((
            d.get("digest")?.as_str()?.to_owned(),
            d.get("mediaType")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned(),
        ))
    };
    let mut out = Vec::new();
    for key in ["config", "subject"] {
        if let Some(d) = json.get(key).and_then(one) {
            out.push(d);
        }
    }
    for key in ["layers", "manifests", "blobs"] {
        if let Some(list) = json.get(key).and_then(|l| l.as_array()) {
            out.extend(list.iter().filter_map(one));
        }
    }
    out
}

fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| tree_size(&e.path()))
        .sum()
}

/// Runs `image cache ...`.
pub fn run(
    args: &CacheArgs,
    ctx: &crate::cli::Context,
    printer: &Printer,
) -> anyhow::Result<PruneReport> {
    let cache_dir = windlass_dist::pep517::default_cache_dir(|name| {
        ctx.env.get(name).map(std::ffi::OsStr::to_os_string)
    });
    match &args.command {
        CacheCommand::Prune(prune_args) => {
            let keep = if prune_args.all {
                Keep::Nothing
            } else {
                Keep::UsedWithin(prune_args.older_than.unwrap_or(DEFAULT_MAX_AGE))
            };
            Ok(prune(&cache_dir, keep, SystemTime::now(), printer)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ages() {
        for (text, secs) in [
            ("30d", 30 * 86_400),
            ("12h", 43_200),
            ("1d12h", 129_600),
            ("2w", 1_209_600),
            ("90m", 5_400),
            ("45", 45),
            ("0s", 0),
        ] {
            assert_eq!(parse_age(text), Ok(Duration::from_secs(secs)), "{text}");
        }
        for bad in ["", "d", "3x", "1.5d", "-1d", "30 d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn children_of_manifests_and_indexes() {
        let json = serde_json::json!({
            "config": {"digest": "sha256:c", "mediaType": "application/vnd.oci.image.config.v1+json"},
            "layers": [{"digest": "sha256:l", "mediaType": "x"}],
            "manifests": [{"digest": "sha256:m", "mediaType": "application/vnd.oci.image.manifest.v1+json"}],
            "subject": {"digest": "sha256:s", "mediaType": "application/vnd.oci.image.manifest.v1+json"},
        });
        let digests: Vec<String> = children(&json).into_iter().map(|(d, _)| d).collect();
        assert_eq!(digests, ["sha256:c", "sha256:s", "sha256:l", "sha256:m"]);
    }
}
