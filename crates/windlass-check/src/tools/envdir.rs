//! Building an environment directory once, whoever asks: a complete
//! environment has its marker (written last); builds hold an exclusive
//! `flock` on `DIR.lock` beside it, so a second process waits and then
//! finds the first one's marker; a directory without its marker is what a
//! killed build left and is removed before building again. Virtual
//! environments are not relocatable, so they are built in place.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::path::{Path, PathBuf};

use super::InstallError;

/// The file whose presence says the environment is complete.
pub(crate) const MARKER: &str = ".windlass-complete";

/// Makes sure `env_dir` holds a complete environment, running `build` (on
/// an empty or missing directory) unless one exists. Returns whether this
/// call built it.
pub(crate) async fn ensure<F, Fut>(env_dir: &Path, build: F) -> Result<bool, InstallError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), InstallError>>,
{
    if is_complete(env_dir) {
        return Ok(false);
    }
    let lock_path = lock_path(env_dir);
    let _lock = lock(lock_path.clone()).await?;
    if is_complete(env_dir) {
        return Ok(false);
    }
    if env_dir.exists() {
        tracing::info!(dir = %env_dir.display(), "removing an incomplete environment");
        std::fs::remove_dir_all(env_dir).map_err(InstallError::io("remove", env_dir))?;
    }
    if let Err(error) = build().await {
        // A failed build leaves nothing half-made for the next run to trip
        // over (it would be removed anyway).
        let _ = std::fs::remove_dir_all(env_dir);
        return Err(error);
    }
    let marker = env_dir.join(MARKER);
    std::fs::write(&marker, b"").map_err(InstallError::io("write", &marker))?;
    Ok(true)
}

/// Whether the environment in `env_dir` was completed.
pub(crate) fn is_complete(env_dir: &Path) -> bool {
    env_dir.join(MARKER).is_file()
}

fn lock_path(env_dir: &Path) -> PathBuf {
    let mut name = env_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    env_dir.with_file_name(name)
}

/// An exclusive lock, held until dropped.
struct EnvLock {
    _file: File,
}

async fn lock(path: PathBuf) -> Result<EnvLock, InstallError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(InstallError::io("make", parent))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(InstallError::io("open", &path))?;
    // Waiting for another build may take minutes: off the runtime's threads.
    tokio::task::spawn_blocking(move || {
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| InstallError::io("lock", &path)(e.into()))
            .map(|()| EnvLock { _file: file })
    })
    .await
    .map_err(|e| InstallError::io("lock", Path::new(""))(std::io::Error::other(e)))?
}
