//! Tool-owned sections: `[secrets]`, `[vault]`, `[wheel]`.
//!
//! This crate does not know their schema. It keeps what each file wrote
//! there (values, the file, the spans), merges the files with the rule of
//! the section's [`ToolSection`] row, lists the leaves for `config show`,
//! and deserializes a section into its tool's type with a deserializer that
//! knows where every value came from, so a tool's serde error becomes the
//! same located [`LoadError`] as an error in `[http]`.

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Expected, IntoDeserializer as _, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml_edit::{Item, TableLike};

use crate::effective::{Entry, Source};
use crate::error::{LoadError, Location};
use crate::load::{normalize, suggest};
use crate::registry::{TOOL_SECTIONS, ToolSection, is_reference, quoted_list};

/// A file that contributed to a tool-owned section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceFile {
    path: PathBuf,
    text: String,
    user: bool,
}

/// The merged tool-owned sections, with the files they came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sections {
    files: Vec<SourceFile>,
    root: IndexMap<String, Keyed>,
}

/// A value and the key that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Keyed {
    key_span: Option<Range<usize>>,
    node: Node,
}

/// A value, the file that set it and where in that file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    file: usize,
    span: Option<Range<usize>>,
    value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Table(IndexMap<String, Keyed>),
    Array(Vec<Node>),
    String(String),
    Integer(i64),
    /// The bits of an `f64`, so that the tree is `Eq`.
    Float(u64),
    Bool(bool),
    /// As written.
    Datetime(String),
}

impl Sections {
    /// Registers a file; its index is passed to [`Sections::merge`].
    pub(crate) fn add_file(&mut self, path: &Path, text: &str, user: bool) -> usize {
        self.files.push(SourceFile {
            path: path.to_owned(),
            text: text.to_owned(),
            user,
        });
        self.files.len() - 1
    }

    /// Merges a top-level `item` of `file` into the section `section.name`,
    /// after checking that its credential fields hold references only.
    pub(crate) fn merge(
        &mut self,
        file: usize,
        section: &ToolSection,
        key_span: Option<Range<usize>>,
        item: &Item,
    ) -> Result<(), LoadError> {
        self.check_credentials(file, section, section.name, key_span.clone(), item)?;
        merge_item(
            &mut self.root,
            section.name,
            key_span,
            item,
            "",
            file,
            section,
        );
        Ok(())
    }

    /// Refuses a credential field of `item` (at the dotted `key`) that is
    /// not a secret reference. The error shows where, never the value.
    fn check_credentials(
        &self,
        file: usize,
        section: &ToolSection,
        key: &str,
        key_span: Option<Range<usize>>,
        item: &Item,
    ) -> Result<(), LoadError> {
        let table = item
            .as_table_like()
            .filter(|_| section.credential_table(key));
        if let (Some(example), None) = (section.credential(key), table) {
            if item.as_str().is_some_and(is_reference) {
                return Ok(());
            }
            if let Some(value) = item.as_str() {
                // Masked wherever else it might be printed.
                windlass_redact::global().register(value);
            }
            // A value is masked; a `[table]` under the key is pointed at by
            // its key (its values are on other lines).
            let location = self.files.get(file).map(|source| {
                let path = source.path.clone();
                Box::new(match item.span() {
                    Some(span) if !item.is_table() => Location::masked(path, &source.text, span),
                    _ => Location::new(path, &source.text, key_span.unwrap_or(0..0)),
                })
            });
            return Err(LoadError::PlainCredential {
                key: key.to_owned(),
                found: item_kind(item),
                example: example.to_owned(),
                location,
            });
        }
        // The tables of an array (`[[a.b]]`, `b = [{ ... }]`) are looked at
        // as if each were the array's key: `a.b.c` is `c` of any of them.
        let tables: Vec<&dyn toml_edit::TableLike> = match item {
            Item::ArrayOfTables(array) => array
                .iter()
                .map(|table| table as &dyn toml_edit::TableLike)
                .collect(),
            Item::Value(toml_edit::Value::Array(array)) => array
                .iter()
                .filter_map(toml_edit::Value::as_inline_table)
                .map(|table| table as &dyn toml_edit::TableLike)
                .collect(),
            _ => item.as_table_like().into_iter().collect(),
        };
        for table in tables {
            for (name, child) in table.iter() {
                let span = table.get_key_value(name).and_then(|(k, _)| k.span());
                self.check_credentials(file, section, &join(key, name), span, child)?;
            }
        }
        Ok(())
    }

    /// Every leaf in file order (an array is one leaf), for `config show`.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        self.collect(&self.root, "", &mut out);
        out
    }

    fn collect(&self, table: &IndexMap<String, Keyed>, prefix: &str, out: &mut Vec<Entry>) {
        for (name, keyed) in table {
            let key = join(prefix, name);
            match &keyed.node.value {
                Value::Table(inner) => self.collect(inner, &key, out),
                _ => out.push(Entry {
                    value: Some(shown_value(&key, &keyed.node)),
                    key,
                    source: self.source(keyed.node.file, keyed.key_span.clone()),
                }),
            }
        }
    }

    fn source(&self, file: usize, span: Option<Range<usize>>) -> Source {
        let Some(source) = self.files.get(file) else {
            return Source::Default;
        };
        let line = Location::new(source.path.clone(), &source.text, span.unwrap_or(0..0)).line;
        let path = source.path.clone();
        if source.user {
            Source::UserFile { path, line }
        } else {
            Source::ProjectFile { path, line }
        }
    }

    /// Deserializes the section `name` (an empty table when no file has it).
    pub(crate) fn deserialize<T: DeserializeOwned>(&self, name: &str) -> Result<T, LoadError> {
        let empty = Node {
            file: usize::MAX,
            span: None,
            value: Value::Table(IndexMap::new()),
        };
        let (node, key_span) = self.root.get(name).map_or((&empty, None), |keyed| {
            (&keyed.node, keyed.key_span.clone())
        });
        let de = NodeDe {
            sections: self,
            node,
            path: name.to_owned(),
            key_span,
        };
        T::deserialize(de).map_err(|err| self.load_error(err, name))
    }

    fn location(&self, at: &At) -> Option<Box<Location>> {
        let file = self.files.get(at.file)?;
        Some(Box::new(Location::new(
            file.path.clone(),
            &file.text,
            at.span.clone().unwrap_or(0..0),
        )))
    }

    fn written(&self, at: &At) -> Option<String> {
        let file = self.files.get(at.file)?;
        file.text.get(at.span.clone()?).map(str::to_owned)
    }

    fn load_error(&self, err: DeError, name: &str) -> LoadError {
        let at = err.at.unwrap_or(At {
            file: usize::MAX,
            span: None,
            path: name.to_owned(),
        });
        let key = at.path.clone();
        let section = key
            .rsplit_once('.')
            .map_or_else(String::new, |(parent, _)| parent.to_owned());
        let location = self.location(&at);
        let message = err.kind.to_string();
        match (err.kind, location) {
            (DeErrorKind::UnknownField { field, expected }, Some(location)) => {
                LoadError::UnknownKey {
                    suggestion: suggest(&field, expected),
                    known: expected.to_vec(),
                    section,
                    key,
                    location,
                }
            }
            (DeErrorKind::MissingField(field), location) => LoadError::MissingKey {
                key: join(&key, field),
                section: key,
                location,
            },
            (DeErrorKind::InvalidType { found, expected }, Some(location)) => {
                LoadError::WrongType {
                    key,
                    expected,
                    found,
                    example: String::new(),
                    location,
                }
            }
            (DeErrorKind::InvalidValue { expected }, Some(location)) => LoadError::InvalidValue {
                found: self.written(&at).unwrap_or_else(|| "this value".to_owned()),
                key,
                expected,
                example: String::new(),
                location,
            },
            (DeErrorKind::UnknownVariant { variant, expected }, Some(location)) => {
                LoadError::InvalidValue {
                    key,
                    expected: format!("one of {}", quoted_list(expected)),
                    found: format!("\"{variant}\""),
                    example: expected
                        .first()
                        .map_or_else(String::new, |first| format!("\"{first}\"")),
                    location,
                }
            }
            (_, location) => LoadError::InvalidSection {
                key,
                message,
                location,
            },
        }
    }
}

/// A leaf as `config show` prints it: a credential field (or anything
/// under one) as `****` unless it is a reference.
fn shown_value(key: &str, node: &Node) -> String {
    let credential = TOOL_SECTIONS
        .iter()
        .any(|section| section.holds_credential(key));
    match &node.value {
        Value::String(s) if credential && !is_reference(s) => "****".to_owned(),
        Value::String(_) => crate::load::shown(&render(node)),
        _ if credential => "****".to_owned(),
        _ => crate::load::shown(&render(node)),
    }
}

/// What a refused credential value is, in TOML words.
fn item_kind(item: &Item) -> String {
    match item {
        Item::Value(toml_edit::Value::String(_)) => "a plain value",
        Item::Value(toml_edit::Value::Integer(_) | toml_edit::Value::Float(_)) => "a number",
        Item::Value(toml_edit::Value::Boolean(_)) => "a boolean",
        Item::Value(toml_edit::Value::Datetime(_)) => "a date",
        Item::Value(toml_edit::Value::Array(_)) | Item::ArrayOfTables(_) => "an array",
        Item::Value(toml_edit::Value::InlineTable(_)) | Item::Table(_) => "a table",
        Item::None => "nothing",
    }
    .to_owned()
}

fn join(prefix: &str, name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let name = if bare {
        name.to_owned()
    } else {
        toml::Value::String(name.to_owned()).to_string()
    };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}.{name}")
    }
}

fn merge_item(
    table: &mut IndexMap<String, Keyed>,
    name: &str,
    key_span: Option<Range<usize>>,
    item: &Item,
    prefix: &str,
    file: usize,
    section: &ToolSection,
) {
    let path = join(prefix, name);
    let inner = item
        .as_table_like()
        .filter(|_| !section.replaced_whole(&path));
    let Some(inner) = inner else {
        table.insert(
            name.to_owned(),
            Keyed {
                key_span,
                node: Node::from_item(item, file),
            },
        );
        return;
    };
    let fresh = || Keyed {
        key_span: key_span.clone(),
        node: Node {
            file,
            span: item.span(),
            value: Value::Table(IndexMap::new()),
        },
    };
    let entry = table.entry(name.to_owned()).or_insert_with(fresh);
    if matches!(entry.node.value, Value::Table(_)) {
        // The table now points at its latest definition.
        if item.span().is_some() || key_span.is_some() {
            entry.key_span.clone_from(&key_span);
            entry.node.file = file;
            entry.node.span = item.span();
        }
    } else {
        *entry = fresh();
    }
    let Value::Table(children) = &mut entry.node.value else {
        return;
    };
    for (child, child_item) in inner.iter() {
        let child_span = inner.get_key_value(child).and_then(|(k, _)| k.span());
        merge_item(
            children, child, child_span, child_item, &path, file, section,
        );
    }
}

impl Node {
    fn from_item(item: &Item, file: usize) -> Self {
        let span = item.span();
        let value = match item {
            Item::Value(value) => return Self::from_value(value, file),
            Item::Table(table) => Value::Table(table_of(table, file)),
            Item::ArrayOfTables(array) => Value::Array(
                array
                    .iter()
                    .map(|table| Node {
                        file,
                        span: table.span(),
                        value: Value::Table(table_of(table, file)),
                    })
                    .collect(),
            ),
            Item::None => Value::Table(IndexMap::new()),
        };
        Self { file, span, value }
    }

    fn from_value(value: &toml_edit::Value, file: usize) -> Self {
        use toml_edit::Value as V;
        let span = value.span();
        let value = match value {
            V::String(s) => Value::String(s.value().clone()),
            V::Integer(n) => Value::Integer(*n.value()),
            V::Float(f) => Value::Float(f.value().to_bits()),
            V::Boolean(b) => Value::Bool(*b.value()),
            V::Datetime(d) => Value::Datetime(d.value().to_string()),
            V::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| Self::from_value(item, file))
                    .collect(),
            ),
            V::InlineTable(table) => Value::Table(table_of(table, file)),
        };
        Self { file, span, value }
    }
}

fn table_of(table: &dyn TableLike, file: usize) -> IndexMap<String, Keyed> {
    table
        .iter()
        .map(|(name, item)| {
            let key_span = table.get_key_value(name).and_then(|(k, _)| k.span());
            (
                name.to_owned(),
                Keyed {
                    key_span,
                    node: Node::from_item(item, file),
                },
            )
        })
        .collect()
}

/// A value written as TOML, on one line.
fn render(node: &Node) -> String {
    match &node.value {
        Value::String(s) => toml::Value::String(s.clone()).to_string(),
        Value::Integer(n) => n.to_string(),
        Value::Float(bits) => toml::Value::Float(f64::from_bits(*bits)).to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Datetime(d) => d.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Table(table) => {
            let mut out = String::from("{");
            for (i, (name, keyed)) in table.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                let _ = write!(out, "{sep}{} = {}", join("", name), render(&keyed.node));
            }
            out.push_str(if table.is_empty() { "}" } else { " }" });
            out
        }
    }
}

/// A path in a tool-owned section, resolved against the directory of the
/// file that set it (`ca-file = "certs/ca.pem"` in `~/.config/windlass/
/// windlass.toml` is `~/.config/windlass/certs/ca.pem`).
///
/// Deserialized by anything other than [`crate::EffectiveConfig::section`]
/// (plain `toml`, tests), it keeps the path as written: join it to a base
/// directory with [`RelativePath::resolve`], which leaves absolute paths
/// alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelativePath(PathBuf);

/// The newtype name the section deserializer recognises.
const RELATIVE_PATH: &str = "$windlass_config::RelativePath";

impl RelativePath {
    /// A path as written (relative paths are not yet resolved).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    /// The path: absolute when it came through windlass-config.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// The path joined to `base` unless it is already absolute.
    pub fn resolve(&self, base: &Path) -> PathBuf {
        normalize(&base.join(&self.0))
    }
}

impl AsRef<Path> for RelativePath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Serialize for RelativePath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RelativePath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PathVisitor;
        impl<'de> Visitor<'de> for PathVisitor {
            type Value = RelativePath;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<RelativePath, D::Error> {
                deserializer.deserialize_str(self)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<RelativePath, E> {
                if value.is_empty() {
                    return Err(E::invalid_value(
                        Unexpected::Str(value),
                        &"a non-empty path",
                    ));
                }
                Ok(RelativePath(PathBuf::from(value)))
            }
        }
        deserializer.deserialize_newtype_struct(RELATIVE_PATH, PathVisitor)
    }
}

/// Where a deserialization error is.
#[derive(Debug)]
struct At {
    file: usize,
    span: Option<Range<usize>>,
    /// The dotted key, `vault.approle.role-id`.
    path: String,
}

/// A serde error with the place it happened, filled in by the innermost
/// node that sees it.
#[derive(Debug)]
pub(crate) struct DeError {
    kind: DeErrorKind,
    at: Option<At>,
}

#[derive(Debug)]
enum DeErrorKind {
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    InvalidType {
        found: String,
        expected: String,
    },
    InvalidValue {
        expected: String,
    },
    Custom(String),
}

impl fmt::Display for DeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownField { field, .. } => write!(f, "unknown key `{field}`"),
            Self::UnknownVariant { variant, expected } => {
                write!(
                    f,
                    "expected one of {}, found \"{variant}\"",
                    quoted_list(expected)
                )
            }
            Self::MissingField(field) => write!(f, "missing key `{field}`"),
            Self::InvalidType { found, expected } => {
                write!(f, "expected {expected}, found {found}")
            }
            Self::InvalidValue { expected } => write!(f, "expected {expected}"),
            Self::Custom(message) => f.write_str(message),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for DeError {}

impl DeError {
    fn new(kind: DeErrorKind) -> Self {
        Self { kind, at: None }
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(DeErrorKind::Custom(msg.to_string()))
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::new(DeErrorKind::InvalidType {
            found: found(&unexp),
            expected: expected(exp),
        })
    }

    fn invalid_value(_unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::new(DeErrorKind::InvalidValue {
            expected: expected(exp),
        })
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        Self::new(DeErrorKind::InvalidType {
            found: format!("an array of {len}"),
            expected: expected(exp),
        })
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::new(DeErrorKind::UnknownVariant {
            variant: variant.to_owned(),
            expected,
        })
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::new(DeErrorKind::UnknownField {
            field: field.to_owned(),
            expected,
        })
    }

    fn missing_field(field: &'static str) -> Self {
        Self::new(DeErrorKind::MissingField(field))
    }
}

/// A TOML type in the words of the existing messages.
fn found(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a float",
        Unexpected::Char(_) | Unexpected::Str(_) => "a string",
        Unexpected::Map => "a table",
        Unexpected::Seq => "an array",
        Unexpected::Unit => "nothing",
        other => return other.to_string(),
    }
    .to_owned()
}

/// What serde expected, in TOML words: `u32` is a non-negative integer,
/// `struct VaultSection` a table.
fn expected(exp: &dyn Expected) -> String {
    let text = exp.to_string();
    match text.as_str() {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a borrowed string" | "a string" | "a character" => "a string".to_owned(),
        "path string" => "a path".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" | "map" => "a table".to_owned(),
        _ if text.starts_with("struct ") => "a table".to_owned(),
        _ if text.starts_with("enum ") => "a string".to_owned(),
        _ => text,
    }
}

/// Deserializes one node; errors without a place get this node's.
struct NodeDe<'a> {
    sections: &'a Sections,
    node: &'a Node,
    path: String,
    key_span: Option<Range<usize>>,
}

impl<'a> NodeDe<'a> {
    fn shallow(&self) -> NodeDe<'a> {
        NodeDe {
            sections: self.sections,
            node: self.node,
            path: self.path.clone(),
            key_span: self.key_span.clone(),
        }
    }

    fn locate(&self, mut err: DeError) -> DeError {
        if err.at.is_some() {
            return err;
        }
        // A visitor that rejects a key itself (not through a derived field
        // identifier) raises its error here: point at that key.
        if let (DeErrorKind::UnknownField { field, .. }, Value::Table(table)) =
            (&err.kind, &self.node.value)
            && let Some(keyed) = table.get(field)
        {
            err.at = Some(At {
                file: keyed.node.file,
                span: keyed.key_span.clone(),
                path: join(&self.path, field),
            });
            return err;
        }
        err.at = Some(At {
            file: self.node.file,
            span: self.node.span.clone().or_else(|| self.key_span.clone()),
            path: self.path.clone(),
        });
        err
    }
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.value {
            Value::String(s) | Value::Datetime(s) => visitor.visit_str(s),
            Value::Integer(n) => visitor.visit_i64(*n),
            Value::Float(bits) => visitor.visit_f64(f64::from_bits(*bits)),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Array(items) => visitor.visit_seq(SeqDe {
                sections: self.sections,
                items: items.iter().enumerate(),
                path: &self.path,
            }),
            Value::Table(table) => visitor.visit_map(MapDe {
                sections: self.sections,
                entries: table.iter(),
                pending: None,
                path: &self.path,
            }),
        };
        result.map_err(|err| self.locate(err))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if let (RELATIVE_PATH, Value::String(path)) = (name, &self.node.value) {
            let base = self
                .sections
                .files
                .get(self.node.file)
                .and_then(|file| file.path.parent())
                .unwrap_or(Path::new(""));
            let resolved = if path.is_empty() {
                String::new()
            } else {
                normalize(&base.join(path)).to_string_lossy().into_owned()
            };
            return visitor
                .visit_newtype_struct(resolved.as_str().into_deserializer())
                .map_err(|err| self.locate(err));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::String(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|err| self.locate(err)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct MapDe<'a> {
    sections: &'a Sections,
    entries: indexmap::map::Iter<'a, String, Keyed>,
    pending: Option<(&'a String, &'a Keyed)>,
    path: &'a str,
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((name, keyed)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((name, keyed));
        seed.deserialize(name.as_str().into_deserializer())
            .map(Some)
            .map_err(|mut err: DeError| {
                if err.at.is_none() {
                    err.at = Some(At {
                        file: keyed.node.file,
                        span: keyed.key_span.clone(),
                        path: join(self.path, name),
                    });
                }
                err
            })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((name, keyed)) = self.pending.take() else {
            return Err(de::Error::custom("value asked for before its key"));
        };
        let de = NodeDe {
            sections: self.sections,
            node: &keyed.node,
            path: join(self.path, name),
            key_span: keyed.key_span.clone(),
        };
        // An error raised after the value was read (an untagged enum that
        // buffered it) belongs to this value too.
        let locator = de.shallow();
        seed.deserialize(de).map_err(|err| locator.locate(err))
    }
}

struct SeqDe<'a> {
    sections: &'a Sections,
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    path: &'a str,
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((index, node)) = self.items.next() else {
            return Ok(None);
        };
        let de = NodeDe {
            sections: self.sections,
            node,
            path: format!("{}[{index}]", self.path),
            key_span: None,
        };
        let locator = de.shallow();
        seed.deserialize(de)
            .map(Some)
            .map_err(|err| locator.locate(err))
    }
}

#[cfg(test)]
mod tests {
    use super::{Node, Value, shown_value};

    /// `config show` never prints a credential field's value: a reference
    /// is shown as written, anything else (which loading refuses, should it
    /// ever get this far) as `****`.
    #[test]
    fn credential_values_are_never_shown() {
        let string = |s: &str| Node {
            file: 0,
            span: None,
            value: Value::String(s.to_owned()),
        };
        let cases = [
            ("wheel.repositories.x.password", string("env://PW")),
            ("wheel.repositories.x.password", string("hunter2")),
            ("wheel.repositories.x.token", string("keyring://s/u")),
            ("wheel.repositories.x.token.inner", string("hunter2")),
            (
                "vault.approle.secret-id",
                Node {
                    file: 0,
                    span: None,
                    value: Value::Integer(12345),
                },
            ),
            ("secrets.X", string("hunter2")),
            ("secrets.X.ref", string("vault://secret/x#y")),
            (
                "secrets.X.secret",
                Node {
                    file: 0,
                    span: None,
                    value: Value::Bool(false),
                },
            ),
            ("wheel.repositories.x.username", string("ci")),
            ("vault.address", string("https://user:pw@vault.example/")),
        ];
        let shown: Vec<String> = cases
            .iter()
            .map(|(key, node)| format!("{key} = {}", shown_value(key, node)))
            .collect();
        insta::assert_snapshot!(shown.join("\n"), @r#"
        wheel.repositories.x.password = "env://PW"
        wheel.repositories.x.password = ****
        wheel.repositories.x.token = "keyring://s/u"
        wheel.repositories.x.token.inner = ****
        vault.approle.secret-id = ****
        secrets.X = ****
        secrets.X.ref = "vault://secret/x#y"
        secrets.X.secret = false
        wheel.repositories.x.username = "ci"
        vault.address = "https://user:****@vault.example/"
        "#);
    }
}
