//! The OCI annotations a build takes from git: where the source is, which
//! commit, which version. Git runs through `windlass-process`; a tree that
//! is not a repository (or a machine without git) simply has none.

use std::collections::BTreeMap;
use std::path::Path;

use windlass_process::Cmd;

/// `org.opencontainers.image.source`.
pub const SOURCE: &str = "org.opencontainers.image.source";
/// `org.opencontainers.image.revision`.
pub const REVISION: &str = "org.opencontainers.image.revision";
/// `org.opencontainers.image.version`.
pub const VERSION: &str = "org.opencontainers.image.version";

/// The annotations git knows for the tree at `dir`: the `origin` remote
/// (credentials in it removed), `HEAD`'s commit, and the tag exactly at
/// `HEAD` (without a leading `v`).
pub async fn annotations(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(revision) = git(dir, &["rev-parse", "--verify", "HEAD"]).await else {
        return out;
    };
    if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        out.insert(REVISION.to_owned(), revision);
    }
    if let Some(url) = git(dir, &["remote", "get-url", "origin"]).await
        && let Some(url) = public_url(&url)
    {
        out.insert(SOURCE.to_owned(), url);
    }
    if let Some(tag) = git(dir, &["describe", "--tags", "--exact-match", "HEAD"]).await {
        let version = tag.strip_prefix('v').unwrap_or(&tag);
        if !version.is_empty() {
            out.insert(VERSION.to_owned(), version.to_owned());
        }
    }
    out
}

/// A remote URL as it may be published: user info (a token in
/// `https://TOKEN@host/...`) removed; a local path is no source.
pub fn public_url(url: &str) -> Option<String> {
    let url = url.trim();
    if let Some((scheme, rest)) = url.split_once("://") {
        if scheme == "file" {
            return None;
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() {
            return None;
        }
        return Some(format!("{scheme}://{host}/{path}"));
    }
    // scp-like `git@host:owner/repo.git`: the user is a login name, never a
    // secret; show it as an ssh URL without it.
    if let Some((user_host, path)) = url.split_once(':')
        && !user_host.contains('/')
        && !path.starts_with('/')
        && user_host.contains('@')
    {
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        return Some(format!("ssh://{host}/{path}"));
    }
    None
}

/// The trimmed stdout of `git ARGS` in `dir`; none when git is missing,
/// fails or prints nothing (never prompts for credentials).
pub async fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let outcome = Cmd::new("git", dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .capture_output()
        .timeout(std::time::Duration::from_secs(30))
        .run()
        .await
        .ok()?;
    if !outcome.success() {
        return None;
    }
    let text = String::from_utf8(outcome.into_stdout()?).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::public_url;

    #[test]
    fn urls_lose_credentials() {
        let cases = [
            (
                "https://x-access-token:ghp_abc@github.com/o/r.git",
                Some("https://github.com/o/r.git"),
            ),
            ("https://github.com/o/r", Some("https://github.com/o/r")),
            ("git@github.com:o/r.git", Some("ssh://github.com/o/r.git")),
            ("ssh://git@host:22/o/r", Some("ssh://host:22/o/r")),
            ("/srv/git/r.git", None),
            ("file:///srv/git/r.git", None),
            ("../r", None),
        ];
        for (input, want) in cases {
            assert_eq!(public_url(input).as_deref(), want, "{input}");
        }
    }
}
