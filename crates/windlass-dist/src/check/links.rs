//! Links in an sdist, resolved the way an extractor would once every
//! member is known: hard links from the archive root, symbolic links from
//! their directory, through other links, at most [`MAX_LINK_HOPS`] deep.

use std::collections::{HashMap, VecDeque};

use super::{ProblemCode, Report};

/// The most links followed to resolve one path, as Linux does (`ELOOP`).
const MAX_LINK_HOPS: u32 = 40;

/// The links and members of a tar archive, to resolve as an extractor
/// would once every member is known.
#[derive(Default)]
pub(super) struct Links {
    /// Symbolic links: path to target.
    symlinks: HashMap<String, String>,
    /// Every link in archive order: (path, symbolic?, target).
    all: Vec<(String, bool, String)>,
    /// Every member path, in archive order.
    pub(super) members: Vec<String>,
}

/// Where a path resolves inside the archive.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    Inside,
    /// Above the archive root, or absolute.
    Outside,
    /// More than [`MAX_LINK_HOPS`] links.
    Loop,
}

impl Links {
    pub(super) fn add(&mut self, path: &str, symbolic: bool, target: String) {
        if symbolic {
            self.symlinks.insert(normal(path), target.clone());
        }
        self.all.push((path.to_owned(), symbolic, target));
    }

    /// Reports every link that resolves outside the archive root (or does
    /// not resolve), and every member extracted through a symbolic link
    /// that leaves it.
    pub(super) fn check(&self, report: &mut Report) {
        for (path, symbolic, target) in &self.all {
            // A hard link names its target from the archive root; a
            // symbolic link from its own directory.
            let base: Vec<String> = if *symbolic {
                let mut parts = components(path);
                parts.pop();
                parts
            } else {
                Vec::new()
            };
            let (code, message) = match self.resolve(base, target) {
                Resolved::Inside => continue,
                Resolved::Outside if *symbolic => (
                    ProblemCode::PathEscape,
                    format!("symbolic link to `{target}` resolves outside the archive"),
                ),
                Resolved::Outside => (
                    ProblemCode::PathEscape,
                    format!(
                        "hard link to `{target}` resolves outside the archive (a hard link \
                         names its target from the archive root)"
                    ),
                ),
                Resolved::Loop => (
                    ProblemCode::LinkLoop,
                    format!("link to `{target}` does not resolve: too many levels of links"),
                ),
            };
            report.add(code, Some(path), None, message);
        }
        if self.symlinks.is_empty() {
            return;
        }
        for path in &self.members {
            // The directories a member is written into, followed through
            // links: `pkg/out -> /etc` then `pkg/out/passwd` writes /etc/passwd.
            let mut parents = components(path);
            parents.pop();
            if parents.is_empty() {
                continue;
            }
            if self.resolve(Vec::new(), &parents.join("/")) == Resolved::Outside {
                report.add(
                    ProblemCode::PathEscape,
                    Some(path),
                    None,
                    "extracted through a symbolic link that leaves the archive",
                );
            }
        }
    }

    /// Resolves `target` from the directory `base` (components below the
    /// archive root), following symbolic links of the archive.
    fn resolve(&self, mut stack: Vec<String>, target: &str) -> Resolved {
        if target.starts_with('/') {
            return Resolved::Outside;
        }
        let mut hops = 0;
        let mut rest: VecDeque<String> = components(target).into();
        while let Some(part) = rest.pop_front() {
            if part == ".." {
                if stack.pop().is_none() {
                    return Resolved::Outside;
                }
                continue;
            }
            stack.push(part);
            let Some(link) = self.symlinks.get(&stack.join("/")) else {
                continue;
            };
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Resolved::Loop;
            }
            if link.starts_with('/') {
                return Resolved::Outside;
            }
            stack.pop();
            for part in components(link).into_iter().rev() {
                rest.push_front(part);
            }
        }
        Resolved::Inside
    }
}

/// The components of an archive path, without empty ones and `.`.
fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
        .collect()
}

/// An archive path in the form [`Links::resolve`] looks links up by.
fn normal(path: &str) -> String {
    components(path).join("/")
}
