//! Finding, reading, validating and merging the configuration layers.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use toml_edit::{Item, TableLike, Value};

use crate::effective::{EffectiveConfig, Entry, Source};
use crate::error::{LoadError, Location};
use crate::registry::{self, EnvVar, Kind};
use crate::section::Sections;
use crate::{Settings, duration};

/// The name of the config file, in the project and in the user config dir.
pub const FILE_NAME: &str = "windlass.toml";

/// The largest config file read: 4 MiB, hundreds of times a real one. A
/// fifo, socket, device or directory in its place is refused.
pub const FILE_LIMIT: u64 = 4 * windlass_fs::MIB;

/// One command-line flag that overrides a config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The flag as typed, shown as the source: `--timeout`.
    pub flag: String,
    /// The dotted config key, `http.timeout`.
    pub key: String,
    /// The value, parsed like an environment variable value.
    pub value: String,
}

impl Override {
    /// An override of `key` by `flag` with `value`.
    pub fn new(flag: impl Into<String>, key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            flag: flag.into(),
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Everything loading reads from the outside world. Tests build it by hand;
/// binaries use [`LoadOptions::from_process`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Where the project file search starts; relative paths from the
    /// environment and flags resolve against it.
    pub cwd: PathBuf,
    /// The environment (only `WINDLASS_*`, `XDG_CONFIG_HOME` are consulted).
    pub env: BTreeMap<String, String>,
    /// The home directory, for `~/.config/windlass/windlass.toml`.
    pub home: Option<PathBuf>,
    /// `--config PATH`: the project file to use instead of searching.
    pub config_file: Option<PathBuf>,
    /// Command-line overrides, applied last in order.
    pub overrides: Vec<Override>,
}

impl LoadOptions {
    /// Options for a run in `cwd` with an empty environment and no home.
    pub fn new(cwd: impl Into<PathBuf>) -> Self {
        Self {
            cwd: cwd.into(),
            ..Self::default()
        }
    }

    /// Options from the real process: current directory, environment
    /// (variables that are not UTF-8 are skipped) and home directory.
    pub fn from_process() -> io::Result<Self> {
        let env = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Ok(Self {
            cwd: std::env::current_dir()?,
            env,
            home: etcetera::home_dir().ok(),
            config_file: None,
            overrides: Vec::new(),
        })
    }

    /// Sets one environment variable.
    #[must_use]
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Sets the home directory.
    #[must_use]
    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// Sets `--config PATH`.
    #[must_use]
    pub fn with_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Adds a command-line override.
    #[must_use]
    pub fn with_override(mut self, over: Override) -> Self {
        self.overrides.push(over);
        self
    }

    /// The user config file this run would read (it may not exist):
    /// `$WINDLASS_CONFIG_HOME/windlass.toml`, else
    /// `$XDG_CONFIG_HOME/windlass/windlass.toml` (when absolute), else
    /// `~/.config/windlass/windlass.toml`.
    pub fn user_config_path(&self) -> Option<PathBuf> {
        if let Some(dir) = self.var("WINDLASS_CONFIG_HOME") {
            return Some(normalize(&self.cwd.join(dir)).join(FILE_NAME));
        }
        if let Some(dir) = self
            .var("XDG_CONFIG_HOME")
            .map(Path::new)
            .filter(|p| p.is_absolute())
        {
            return Some(dir.join("windlass").join(FILE_NAME));
        }
        Some(
            self.home
                .as_ref()?
                .join(".config")
                .join("windlass")
                .join(FILE_NAME),
        )
    }

    /// Loads and merges every layer: defaults < user file < project file <
    /// `WINDLASS_*` environment < overrides.
    pub fn load(&self) -> Result<EffectiveConfig, LoadError> {
        let mut merged = Merged::default();

        let defaults =
            toml::to_string(&Settings::default()).map_err(|err| LoadError::Internal {
                message: err.to_string(),
            })?;
        let defaults_file = ConfigFile {
            path: Path::new("<defaults>"),
            text: &defaults,
            origin: Origin::Default,
        };
        defaults_file
            .read_into(&mut merged)
            .map_err(|err| LoadError::Internal {
                message: err.to_string(),
            })?;

        // Whatever exists under the name is read (and refused when it is not
        // a regular file), so that a fifo or device is an error, not a
        // silently skipped layer.
        let user_file = self.user_config_path().filter(|path| path.exists());
        if let Some(path) = &user_file {
            let text = read(path)?;
            ConfigFile {
                path,
                text: &text,
                origin: Origin::User,
            }
            .read_into(&mut merged)?;
        }

        let project_file = self.project_file()?;
        if let Some(path) = &project_file {
            let text = read(path)?;
            ConfigFile {
                path,
                text: &text,
                origin: Origin::Project,
            }
            .read_into(&mut merged)?;
        }

        for var in registry::ENV_VARS {
            let (Some(key), Some(value)) = (var.key, self.var(var.name)) else {
                continue;
            };
            let leaf =
                convert_text(var.kind, value, &self.cwd).ok_or_else(|| LoadError::InvalidEnv {
                    name: var.name.to_owned(),
                    value: value.to_owned(),
                    expected: var.kind.expected(),
                    example: var.kind.example_text(),
                })?;
            merged.insert(
                key,
                leaf,
                Source::Env {
                    name: var.name.to_owned(),
                },
            );
        }

        for over in &self.overrides {
            let Some(var) = registry::setting(&over.key) else {
                let known: Vec<_> = registry::keys().collect();
                return Err(LoadError::UnknownFlagKey {
                    flag: over.flag.clone(),
                    key: over.key.clone(),
                    suggestion: suggest(&over.key, &known),
                    known,
                });
            };
            let leaf = convert_text(var.kind, &over.value, &self.cwd).ok_or_else(|| {
                LoadError::InvalidFlag {
                    flag: over.flag.clone(),
                    value: over.value.clone(),
                    expected: var.kind.expected(),
                    example: var.kind.example_text(),
                }
            })?;
            let key = var.key.unwrap_or_default();
            merged.insert(
                key,
                leaf,
                Source::Flag {
                    flag: over.flag.clone(),
                },
            );
        }

        merged.finish(user_file, project_file)
    }

    /// The explicit project file (`--config`, then `WINDLASS_CONFIG`), else
    /// the one found by [`find_project_file`].
    fn project_file(&self) -> Result<Option<PathBuf>, LoadError> {
        let explicit = match (&self.config_file, self.var("WINDLASS_CONFIG")) {
            (Some(path), _) => Some((path.clone(), "--config")),
            (None, Some(path)) => Some((PathBuf::from(path), "WINDLASS_CONFIG")),
            (None, None) => None,
        };
        let Some((path, origin)) = explicit else {
            return Ok(find_project_file(&self.cwd));
        };
        let path = normalize(&self.cwd.join(path));
        if path.exists() {
            Ok(Some(path))
        } else {
            Err(LoadError::ExplicitFileMissing {
                path,
                origin: origin.to_owned(),
            })
        }
    }

    /// A variable's value; empty counts as unset, as CI systems pass empty
    /// strings for absent inputs.
    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

/// Finds `windlass.toml` in `start` or its ancestors. The search stops after
/// the first directory that contains `.git` (the repository root), so a file
/// above the checkout never applies, or at the filesystem root. Anything
/// that exists under the name is found, even if it is not a regular file:
/// reading it then fails instead of skipping it.
pub fn find_project_file(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.exists() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

fn read(path: &Path) -> Result<String, LoadError> {
    let bytes = windlass_fs::read(path, FILE_LIMIT).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    // Text that is not UTF-8 is a syntax error at its first bad byte.
    String::from_utf8(bytes).map_err(|err| {
        let at = err.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(err.as_bytes());
        LoadError::Syntax {
            message: "invalid UTF-8 (a TOML file is UTF-8)".to_owned(),
            location: Box::new(Location::new(path.to_owned(), &text, at..at + 1)),
        }
    })
}

/// A validated leaf value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leaf {
    Integer(i64),
    Bool(bool),
    String(String),
    Duration(Duration),
    List(Vec<String>),
}

impl Leaf {
    fn to_toml(&self) -> toml::Value {
        match self {
            Leaf::Integer(n) => toml::Value::Integer(*n),
            Leaf::Bool(b) => toml::Value::Boolean(*b),
            Leaf::String(s) => toml::Value::String(s.clone()),
            Leaf::Duration(d) => toml::Value::String(duration::format(*d)),
            Leaf::List(items) => {
                toml::Value::Array(items.iter().cloned().map(toml::Value::String).collect())
            }
        }
    }
}

#[derive(Debug, Default)]
struct Merged {
    values: IndexMap<&'static str, (Leaf, Source)>,
    sections: Sections,
}

impl Merged {
    /// Later layers replace earlier ones per leaf; a list is one leaf, so a
    /// project list replaces the user list instead of extending it.
    fn insert(&mut self, key: &'static str, leaf: Leaf, source: Source) {
        self.values.insert(key, (leaf, source));
    }

    fn finish(
        self,
        user_file: Option<PathBuf>,
        project_file: Option<PathBuf>,
    ) -> Result<EffectiveConfig, LoadError> {
        let mut root = toml::Table::new();
        for (key, (leaf, _)) in &self.values {
            let mut table = &mut root;
            let mut parts: Vec<&str> = key.split('.').collect();
            let last = parts.pop().unwrap_or_default();
            for part in parts {
                let entry = table
                    .entry(part.to_owned())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(inner) = entry else {
                    return Err(LoadError::Internal {
                        message: format!("{key} is not in a table"),
                    });
                };
                table = inner;
            }
            table.insert(last.to_owned(), leaf.to_toml());
        }
        let settings: Settings =
            toml::Value::Table(root)
                .try_into()
                .map_err(|err: toml::de::Error| LoadError::Internal {
                    message: err.to_string(),
                })?;
        let entries = registry::keys()
            .map(|key| match self.values.get(key) {
                Some((leaf, source)) => Entry {
                    key: key.to_owned(),
                    value: Some(shown(&leaf.to_toml().to_string())),
                    source: source.clone(),
                },
                None => Entry {
                    key: key.to_owned(),
                    value: None,
                    source: Source::Default,
                },
            })
            .chain(self.sections.entries())
            .collect();
        Ok(EffectiveConfig {
            settings,
            entries,
            sections: self.sections,
            user_file,
            project_file,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Origin {
    Default,
    User,
    Project,
}

struct ConfigFile<'a> {
    path: &'a Path,
    text: &'a str,
    origin: Origin,
}

/// Why a TOML value does not fit its kind.
enum Problem {
    WrongType {
        found: String,
    },
    Invalid {
        found: String,
    },
    Element {
        index: usize,
        found: String,
        span: Option<std::ops::Range<usize>>,
    },
}

impl ConfigFile<'_> {
    fn read_into(&self, merged: &mut Merged) -> Result<(), LoadError> {
        let doc = toml_edit::Document::parse(self.text).map_err(|err| LoadError::Syntax {
            message: err.message().trim().replace('\n', "; "),
            location: Box::new(self.locate(err.span())),
        })?;
        let file = match self.origin {
            Origin::Default => None,
            Origin::User => Some(merged.sections.add_file(self.path, self.text, true)),
            Origin::Project => Some(merged.sections.add_file(self.path, self.text, false)),
        };
        self.walk(doc.as_table(), "", file, merged)
    }

    fn walk(
        &self,
        table: &dyn TableLike,
        prefix: &str,
        file: Option<usize>,
        merged: &mut Merged,
    ) -> Result<(), LoadError> {
        let mut known = children(prefix);
        if prefix.is_empty() {
            known.extend(registry::TOOL_SECTIONS.iter().map(|section| section.name));
        }
        for (name, item) in table.iter() {
            let key = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            };
            let key_span = table.get_key_value(name).and_then(|(k, _)| k.span());
            if let Some(var) = registry::setting(&key) {
                let leaf = self.leaf(var, &key, item)?;
                let line = self.locate(key_span).line;
                let source = match self.origin {
                    Origin::Default => Source::Default,
                    Origin::User => Source::UserFile {
                        path: self.path.to_owned(),
                        line,
                    },
                    Origin::Project => Source::ProjectFile {
                        path: self.path.to_owned(),
                        line,
                    },
                };
                merged.insert(var.key.unwrap_or_default(), leaf, source);
            } else if let (Some(section), Some(file), true) =
                (registry::tool_section(name), file, prefix.is_empty())
            {
                merged.sections.merge(file, section, key_span, item)?;
            } else if known.contains(&name) {
                let Some(inner) = item.as_table_like() else {
                    return Err(LoadError::WrongType {
                        found: item_type(item),
                        expected: "a table".to_owned(),
                        example: String::new(),
                        location: Box::new(self.locate(item.span().or(key_span))),
                        key,
                    });
                };
                self.walk(inner, &key, file, merged)?;
            } else {
                return Err(LoadError::UnknownKey {
                    suggestion: suggest(name, &known),
                    section: prefix.to_owned(),
                    known,
                    key,
                    location: Box::new(self.locate(key_span)),
                });
            }
        }
        Ok(())
    }

    fn leaf(&self, var: &EnvVar, key: &str, item: &Item) -> Result<Leaf, LoadError> {
        let span = item.span();
        let problem = match item.as_value() {
            Some(value) => match convert_toml(var.kind, value, self.base_dir()) {
                Ok(leaf) => return Ok(leaf),
                Err(problem) => problem,
            },
            None => Problem::WrongType {
                found: item_type(item),
            },
        };
        let (expected, example) = (var.kind.expected(), var.kind.example_toml());
        Err(match problem {
            Problem::WrongType { found } => LoadError::WrongType {
                key: key.to_owned(),
                expected,
                found,
                example,
                location: Box::new(self.locate(span)),
            },
            Problem::Invalid { found } => LoadError::InvalidValue {
                key: key.to_owned(),
                expected,
                found,
                example,
                location: Box::new(self.locate(span)),
            },
            Problem::Element { index, found, span } => LoadError::WrongType {
                key: format!("{key}[{index}]"),
                expected: "a string".to_owned(),
                found,
                example,
                location: Box::new(self.locate(span)),
            },
        })
    }

    fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    fn locate(&self, span: Option<std::ops::Range<usize>>) -> Location {
        Location::new(self.path.to_owned(), self.text, span.unwrap_or(0..0))
    }
}

/// The next key components below `prefix` in the registry, in order.
fn children(prefix: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for key in registry::keys() {
        let rest = if prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('.'))
        };
        if let Some(child) = rest.and_then(|rest| rest.split('.').next())
            && !out.contains(&child)
        {
            out.push(child);
        }
    }
    out
}

/// The closest candidate to a misspelt name, when one is close enough.
pub(crate) fn suggest(name: &str, candidates: &[&'static str]) -> Option<&'static str> {
    candidates
        .iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), *candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

fn value_type(value: &Value) -> String {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
    .to_owned()
}

fn item_type(item: &Item) -> String {
    match item {
        Item::Value(value) => value_type(value),
        Item::Table(_) => "a table".to_owned(),
        Item::ArrayOfTables(_) => "an array of tables".to_owned(),
        Item::None => "nothing".to_owned(),
    }
}

fn convert_toml(kind: Kind, value: &Value, base: &Path) -> Result<Leaf, Problem> {
    let wrong = || Problem::WrongType {
        found: value_type(value),
    };
    let invalid = || Problem::Invalid {
        found: value.clone().decorated("", "").to_string(),
    };
    match (kind, value) {
        (Kind::Integer, Value::Integer(n)) => {
            let n = *n.value();
            u32::try_from(n)
                .map(|_| Leaf::Integer(n))
                .map_err(|_| invalid())
        }
        (Kind::Duration, Value::Integer(n)) => u64::try_from(*n.value())
            .map(|s| Leaf::Duration(Duration::from_secs(s)))
            .map_err(|_| invalid()),
        (Kind::Duration, Value::String(s)) => duration::parse(s.value())
            .map(Leaf::Duration)
            .ok_or_else(invalid),
        (Kind::Path, Value::String(s)) => resolve(s.value(), base).ok_or_else(invalid),
        (Kind::Bool, Value::Boolean(b)) => Ok(Leaf::Bool(*b.value())),
        (Kind::Text, Value::String(s)) => Ok(Leaf::String(s.value().clone())),
        (Kind::Choice(choices), Value::String(s)) => {
            if choices.contains(&s.value().as_str()) {
                Ok(Leaf::String(s.value().clone()))
            } else {
                Err(invalid())
            }
        }
        (Kind::StringList, Value::Array(items)) => {
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push(s.value().clone()),
                    other => {
                        return Err(Problem::Element {
                            index,
                            found: value_type(other),
                            span: other.span(),
                        });
                    }
                }
            }
            Ok(Leaf::List(out))
        }
        _ => Err(wrong()),
    }
}

/// Parses an environment variable or flag value.
fn convert_text(kind: Kind, text: &str, base: &Path) -> Option<Leaf> {
    match kind {
        Kind::Integer => text
            .trim()
            .parse::<u32>()
            .ok()
            .map(|n| Leaf::Integer(n.into())),
        Kind::Duration => duration::parse(text).map(Leaf::Duration),
        Kind::Path => resolve(text, base),
        Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(Leaf::Bool(true)),
            "false" | "0" | "no" => Some(Leaf::Bool(false)),
            _ => None,
        },
        Kind::Choice(choices) => choices
            .contains(&text.trim())
            .then(|| Leaf::String(text.trim().to_owned())),
        Kind::Text => Some(Leaf::String(text.to_owned())),
        Kind::StringList => Some(Leaf::List(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
    }
}

/// Resolves a non-empty path against `base`; `None` when empty or not UTF-8
/// after joining (TOML strings are UTF-8).
fn resolve(path: &str, base: &Path) -> Option<Leaf> {
    if path.is_empty() {
        return None;
    }
    let joined = normalize(&base.join(path));
    joined.to_str().map(|s| Leaf::String(s.to_owned()))
}

/// Removes `.` and resolves `..` lexically, without touching the file
/// system (like `cargo`'s `normalize_path`): `a/b/../c` becomes `a/c`.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// A value as `config show` prints it: the user info of any URL in it
/// hidden (and its password registered with the redactor).
pub(crate) fn shown(value: &str) -> String {
    windlass_redact::mask_userinfo(value).into_owned()
}
