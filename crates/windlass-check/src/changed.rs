//! `--changed [REF]`: the files changed since a git ref, plus uncommitted
//! and untracked ones, asked of git through windlass-process.

use std::collections::BTreeSet;
use std::path::Path;

use windlass_process::Cmd;

/// git could not say what changed (not a repository, an unknown ref):
/// a usage error.
#[derive(Debug, thiserror::Error)]
#[error("cannot list the files changed since `{reference}`: {message}")]
pub struct ChangedError {
    pub reference: String,
    pub message: String,
}

impl windlass_diagnostic::Diagnostic for ChangedError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        windlass_diagnostic::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        Some("run inside a git repository, and name a commit, branch or tag that exists (`--changed=main`)".into())
    }
}

async fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let outcome = Cmd::new("git", root)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .capture_output()
        .run()
        .await
        .map_err(|e| e.to_string())?;
    if !outcome.success() {
        let stderr = String::from_utf8_lossy(outcome.stderr().unwrap_or_default());
        return Err(stderr
            .trim()
            .lines()
            .last()
            .unwrap_or("git failed")
            .to_owned());
    }
    Ok(String::from_utf8_lossy(outcome.stdout().unwrap_or_default()).into_owned())
}

/// The ref `--changed` compares with when given none: the merge base of
/// `HEAD` and the default branch (`origin/HEAD`, else `main` or `master`),
/// else `HEAD`.
pub async fn default_ref(root: &Path) -> String {
    let mut candidates = Vec::new();
    if let Ok(head) = git(
        root,
        &["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"],
    )
    .await
    {
        candidates.push(head.trim().to_owned());
    }
    candidates.extend(["main", "master"].map(str::to_owned));
    for branch in candidates {
        if let Ok(base) = git(root, &["merge-base", "HEAD", &branch]).await {
            let base = base.trim();
            if !base.is_empty() {
                return base.to_owned();
            }
        }
    }
    "HEAD".to_owned()
}

/// The files under `root` (relative to it) changed since `reference`,
/// uncommitted or untracked.
pub async fn changed_files(root: &Path, reference: &str) -> Result<BTreeSet<String>, ChangedError> {
    let fail = |message: String| ChangedError {
        reference: reference.to_owned(),
        message,
    };
    if reference.starts_with('-') {
        return Err(fail("a ref cannot start with `-`".into()));
    }
    let diff = git(
        root,
        &["diff", "--name-only", "--relative", "-z", reference, "--"],
    )
    .await
    .map_err(fail)?;
    let untracked = git(root, &["ls-files", "--others", "--exclude-standard", "-z"])
        .await
        .map_err(fail)?;
    Ok(diff
        .split('\0')
        .chain(untracked.split('\0'))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect())
}
