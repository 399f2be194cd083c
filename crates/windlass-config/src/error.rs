//! Why loading the configuration failed.

use std::fmt;
use std::path::PathBuf;

/// A place in a config file, rendered as an arrow and the line with a caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The text of the line, without its line ending, control characters
    /// (other than tabs) shown as `\u{fffd}` so that printing it cannot
    /// move the cursor.
    pub line_text: String,
    /// How many characters the caret underlines (at least 1).
    pub width: usize,
}

impl Location {
    /// Locates the byte range `span` of `text`, a file at `path`.
    pub(crate) fn new(path: PathBuf, text: &str, span: std::ops::Range<usize>) -> Self {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        // A `\r` is part of the line ending only before a `\n`.
        let line = &text[line_start..line_end];
        let line = match line.strip_suffix('\r') {
            Some(stripped) if line_end < text.len() => stripped,
            _ => line,
        };
        let line_text = line
            .chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect();
        // A place in the line ending is just past the line's text.
        let content_end = line_start + line.len();
        let number = text[..start].matches('\n').count() + 1;
        let start = start.min(content_end);
        let column = text[line_start..start].chars().count() + 1;
        let end = floor_char_boundary(text, span.end.clamp(start, content_end));
        let width = text[start..end].chars().count().max(1);
        Self {
            path,
            line: number,
            column,
            line_text,
            width,
        }
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

impl Location {
    /// Like [`Location::new`], with the characters of `span` on the shown
    /// line replaced by `****` (underlined): for a value that must not be
    /// printed, such as a password written where a reference belongs.
    pub(crate) fn masked(path: PathBuf, text: &str, span: std::ops::Range<usize>) -> Self {
        let mut location = Self::new(path, text, span);
        let start = location.column - 1;
        let chars: Vec<char> = location.line_text.chars().collect();
        let end = (start + location.width).min(chars.len());
        if start < chars.len() {
            let mut line: String = chars[..start].iter().collect();
            line.push_str("****");
            line.extend(&chars[end..]);
            location.line_text = line;
            location.width = 4;
        }
        location
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(
            f,
            "{pad}--> {}:{}:{}",
            self.path.display(),
            self.line,
            self.column
        )?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{number} | {}", self.line_text)?;
        let indent: String = self
            .line_text
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {indent}{}", "^".repeat(self.width))
    }
}

/// Loading the configuration failed. Every variant except
/// [`LoadError::Internal`] is a usage or configuration error (exit code 2);
/// see [`LoadError::is_usage_error`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A config file exists but could not be read: unreadable, not a
    /// regular file, or larger than [`FILE_LIMIT`](crate::FILE_LIMIT).
    #[error("could not read config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: windlass_fs::ReadError,
    },
    /// `--config` or `WINDLASS_CONFIG` names a file that does not exist.
    #[error("config file {} given by {origin} does not exist", path.display())]
    ExplicitFileMissing {
        /// The file, resolved against the working directory.
        path: PathBuf,
        /// `--config` or `WINDLASS_CONFIG`.
        origin: String,
    },
    /// The file is not valid TOML.
    #[error("invalid TOML: {message}\n{location}")]
    Syntax {
        /// The parser's message.
        message: String,
        /// Where.
        location: Box<Location>,
    },
    /// A key that no section defines.
    #[error("unknown key `{key}`{}\n{location}", in_section(section))]
    UnknownKey {
        /// The dotted key as written, `http.timout`.
        key: String,
        /// The enclosing section, `http`, or empty at the top level.
        section: String,
        /// The closest known key, when one is close.
        suggestion: Option<&'static str>,
        /// The known keys at that level.
        known: Vec<&'static str>,
        /// Where.
        location: Box<Location>,
    },
    /// A value of the wrong TOML type.
    #[error("{key}: expected {expected}, found {found}\n{location}")]
    WrongType {
        /// The dotted key, `http.retries`.
        key: String,
        /// `an integer`.
        expected: String,
        /// `a string`.
        found: String,
        /// An example of a valid value, as TOML.
        example: String,
        /// Where.
        location: Box<Location>,
    },
    /// A value of the right TOML type that is not acceptable.
    #[error("{key}: expected {expected}, found {found}\n{location}")]
    InvalidValue {
        /// The dotted key, `http.timeout`.
        key: String,
        /// `a duration`.
        expected: String,
        /// The value as written, `"30x"`.
        found: String,
        /// An example of a valid value, as TOML.
        example: String,
        /// Where.
        location: Box<Location>,
    },
    /// A key that a tool-owned section requires is absent.
    #[error("missing key `{key}`{}{}", in_section(section), at(location.as_deref()))]
    MissingKey {
        /// The dotted key, `vault.approle.role-id`.
        key: String,
        /// The table that lacks it, `vault.approle`.
        section: String,
        /// The table, when a file wrote it.
        location: Option<Box<Location>>,
    },
    /// A tool-owned section holds something its tool refuses.
    #[error("{key}: {message}{}", at(location.as_deref()))]
    InvalidSection {
        /// The dotted key.
        key: String,
        /// The tool's reason.
        message: String,
        /// Where, when known.
        location: Option<Box<Location>>,
    },
    /// A credential field holds something other than a secret reference.
    /// The value is never repeated: the location shows `****` in its place.
    #[error("{key}: expected a secret reference, found {found}{}", at(location.as_deref()))]
    PlainCredential {
        /// The dotted key, `wheel.repositories.internal.password`.
        key: String,
        /// `a plain value`, `a table`.
        found: String,
        /// A reference for this field, as TOML: `"env://PYPI_PASSWORD"`.
        example: String,
        /// Where.
        location: Option<Box<Location>>,
    },
    /// A `WINDLASS_*` variable whose value does not parse.
    #[error("{name}={value}: expected {expected}")]
    InvalidEnv {
        /// The variable.
        name: String,
        /// Its value (config values are never secrets).
        value: String,
        /// `an integer`.
        expected: String,
        /// An example of a valid value.
        example: String,
    },
    /// A command-line override whose value does not parse.
    #[error("{flag} {value}: expected {expected}")]
    InvalidFlag {
        /// The flag, `--retries`.
        flag: String,
        /// Its value.
        value: String,
        /// `an integer`.
        expected: String,
        /// An example of a valid value.
        example: String,
    },
    /// A command-line override of a key that does not exist.
    #[error("unknown config key `{key}` given by {flag}")]
    UnknownFlagKey {
        /// The flag, `--config-value`.
        flag: String,
        /// The key.
        key: String,
        /// The closest known key, when one is close.
        suggestion: Option<&'static str>,
        /// Every known key.
        known: Vec<&'static str>,
    },
    /// The built-in defaults disagree with the schema: a bug, not a usage error.
    #[error("internal error: built-in configuration is inconsistent: {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

fn in_section(section: &str) -> String {
    if section.is_empty() {
        String::new()
    } else {
        format!(" in [{section}]")
    }
}

fn at(location: Option<&Location>) -> String {
    location.map_or_else(String::new, |location| format!("\n{location}"))
}

/// The last key of a dotted key, a quoted one whole (`"db.password"`).
fn last_key(key: &str) -> &str {
    if let Some(quoted) = key.strip_suffix('"')
        && let Some(start) = quoted.rfind(".\"")
    {
        return &key[start + 1..];
    }
    key.rsplit('.').next().unwrap_or(key)
}

impl LoadError {
    /// Whether this is a usage or configuration error (exit code 2) rather
    /// than a bug (exit code 101).
    pub fn is_usage_error(&self) -> bool {
        !matches!(self, LoadError::Internal { .. })
    }

    /// Where in a file the problem is, for editor and CI annotations.
    pub fn location(&self) -> Option<&Location> {
        match self {
            LoadError::Syntax { location, .. }
            | LoadError::UnknownKey { location, .. }
            | LoadError::WrongType { location, .. }
            | LoadError::InvalidValue { location, .. } => Some(&**location),
            LoadError::MissingKey { location, .. }
            | LoadError::InvalidSection { location, .. }
            | LoadError::PlainCredential { location, .. } => location.as_deref(),
            _ => None,
        }
    }

    /// What the user can do about it, shown after `hint: `.
    pub fn hint(&self) -> String {
        match self {
            LoadError::Read {
                source: windlass_fs::ReadError::NotRegular { .. },
                ..
            } => "windlass.toml must be a regular file (not a fifo, socket, device or \
                  directory): replace it, or move it away"
                .to_owned(),
            LoadError::Read {
                source: windlass_fs::ReadError::TooLarge { limit, .. },
                ..
            } => format!(
                "a config file is at most {}: check that the path names windlass.toml",
                windlass_fs::ByteSize(*limit)
            ),
            LoadError::Read { .. } => "check the file's permissions, or move it away".to_owned(),
            LoadError::ExplicitFileMissing { origin, .. } => {
                format!("fix the path given by {origin}, or drop it to search for windlass.toml")
            }
            LoadError::Syntax { .. } => {
                "fix the TOML syntax at the marked position (see https://toml.io)".to_owned()
            }
            LoadError::UnknownKey {
                section,
                suggestion,
                known,
                ..
            } => {
                let level = if section.is_empty() { "." } else { section };
                did_you_mean(*suggestion, known, level)
            }
            LoadError::UnknownFlagKey {
                suggestion, known, ..
            } => did_you_mean(*suggestion, known, ""),
            LoadError::WrongType { key, expected, .. } if expected == "a table" => {
                format!("write it as a table: `[{key}]`")
            }
            LoadError::WrongType {
                key,
                example,
                expected,
                ..
            }
            | LoadError::InvalidValue {
                key,
                example,
                expected,
                ..
            } => {
                let leaf = key.rsplit('.').next().unwrap_or(key);
                let leaf = leaf.split('[').next().unwrap_or(leaf);
                if example.is_empty() {
                    format!("write `{leaf}` as {expected}")
                } else {
                    format!("write it like `{leaf} = {example}`")
                }
            }
            LoadError::MissingKey { key, section, .. } => {
                let leaf = key.rsplit('.').next().unwrap_or(key);
                format!("add `{leaf} = ...` to `[{section}]`")
            }
            LoadError::PlainCredential { key, example, .. } => {
                let leaf = last_key(key);
                format!(
                    "a credential is never written in the file: reference it, like \
                     `{leaf} = {example}` (or `vault://MOUNT/PATH#KEY`, \
                     `keyring://SERVICE/USER`, `file://PATH`)"
                )
            }
            LoadError::InvalidSection { .. } => "fix the value at the marked position".to_owned(),
            LoadError::InvalidEnv { name, example, .. } => {
                format!("set it like `{name}={example}`, or unset it")
            }
            LoadError::InvalidFlag { flag, example, .. } => {
                format!("pass it like `{flag} {example}`")
            }
            LoadError::Internal { .. } => "this is a bug in windlass; please report it".to_owned(),
        }
    }
}

fn did_you_mean(suggestion: Option<&str>, known: &[&str], section: &str) -> String {
    if let Some(suggestion) = suggestion {
        return format!("did you mean \"{suggestion}\"?");
    }
    let list = known.join(", ");
    match section {
        "" => format!("known keys: {list}"),
        "." => format!("known top-level tables: {list}"),
        _ => format!("known keys in [{section}]: {list}"),
    }
}

impl windlass_diagnostic::Diagnostic for LoadError {
    fn exit_status(&self) -> windlass_diagnostic::ExitStatus {
        if self.is_usage_error() {
            windlass_diagnostic::ExitStatus::Usage
        } else {
            windlass_diagnostic::ExitStatus::Bug
        }
    }

    fn hint(&self) -> Option<String> {
        Some(LoadError::hint(self))
    }

    fn location(&self) -> Option<windlass_diagnostic::SourceLocation> {
        LoadError::location(self).map(|l| windlass_diagnostic::SourceLocation {
            file: l.path.clone(),
            line: l.line,
            column: l.column,
        })
    }
}
