//! Parsers of the tools' machine-readable output into [`Finding`]s and
//! [`TestCase`]s.
//!
//! Every parser takes the bytes the tool printed (bounded by the caller)
//! and the project root. Paths come out relative to the root with `/`
//! separators; a path outside the root is kept as the tool gave it. Lines
//! and columns are 1-based; an end column is the column just after the
//! last character (as in SARIF), whatever convention the tool uses.
//!
//! Output that cannot be read (truncated JSON, something that is not XML,
//! a line number no file has) is a [`ParseError`] naming the tool and what
//! was wrong: never a panic and never a silently empty result. A DTD in
//! JUnit XML is refused and entities other than XML's five predefined ones
//! and character references are never expanded.
//!
//! This module never runs a tool and never reads a file.
//!
//! [`Finding`]: crate::model::Finding
//! [`TestCase`]: crate::model::TestCase

mod cargo;
mod helm;
mod junit;
mod python;
mod shellcheck;

use std::path::{Component, Path};

use windlass_diagnostic::{Diagnostic, ExitStatus};

pub use cargo::{cargo_messages, libtest};
pub use helm::helm_lint;
pub use junit::junit;
pub use python::{mypy, ruff_check, ruff_format};
pub use shellcheck::shellcheck;

/// The largest line or column number a parser accepts: a tool claiming
/// more is broken or was fed something that is not its output.
pub const MAX_POSITION: u64 = 10_000_000;

/// A tool's output that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The output is not in the format the tool documents.
    #[error("cannot read the output of {tool}: {what}")]
    Malformed { tool: &'static str, what: String },
}

impl ParseError {
    pub(crate) fn new(tool: &'static str, what: impl Into<String>) -> Self {
        Self::Malformed {
            tool,
            what: what.into(),
        }
    }

    /// The tool whose output this is.
    pub fn tool(&self) -> &'static str {
        match self {
            Self::Malformed { tool, .. } => tool,
        }
    }
}

impl Diagnostic for ParseError {
    fn exit_status(&self) -> ExitStatus {
        // The check ran but its result is unknown: it did not pass.
        ExitStatus::Failure
    }

    fn hint(&self) -> Option<String> {
        Some(format!(
            "the tool's output format may have changed: check the pinned version of {}",
            self.tool()
        ))
    }
}

/// `path` relative to `root` with `/` separators; a path outside the root
/// (or one that cannot be made relative) is kept as given, a relative path
/// loses a leading `./`.
pub fn relative_path(path: &str, root: &Path) -> String {
    let given = Path::new(path);
    let relative = if given.is_absolute() {
        match given.strip_prefix(root) {
            Ok(rest) => rest,
            Err(_) => return path.to_owned(),
        }
    } else {
        given
    };
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            // `..`, prefixes, a root: not ours to rewrite.
            _ => return path.replace('\\', "/"),
        }
    }
    parts.join("/")
}

/// A line or column from a tool: `None` for the "no position" values tools
/// use (0 or -1), an error past [`MAX_POSITION`] or below -1.
pub(crate) fn position(
    tool: &'static str,
    what: &str,
    value: i64,
) -> Result<Option<u32>, ParseError> {
    match value {
        -1 | 0 => Ok(None),
        v if v < -1 || v.unsigned_abs() > MAX_POSITION => Err(ParseError::new(
            tool,
            format!("{what} {v} is not a position in a file"),
        )),
        // Checked just above: 1..=MAX_POSITION fits in u32.
        v => Ok(u32::try_from(v).ok()),
    }
}

/// The text of a tool's output, lossily decoded.
pub(crate) fn text(output: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(output)
}

#[cfg(test)]
mod tests;
