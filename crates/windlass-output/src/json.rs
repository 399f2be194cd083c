//! The `--json` output: JSON Lines on stdout, schema `windlass/1`.
//!
//! With `--json`, stdout carries only JSON, one document per line, each an
//! object with these keys first:
//!
//! | key       | type   | meaning                                          |
//! |-----------|--------|--------------------------------------------------|
//! | `schema`  | string | always `"windlass/1"`; a breaking change bumps it |
//! | `type`    | string | `"event"` or `"result"`                          |
//! | `command` | string | the command, e.g. `"wheel build"`                |
//!
//! A command that streams progress prints zero or more **event** lines:
//!
//! ```json
//! {"schema":"windlass/1","type":"event","command":"wheel publish","event":"uploaded","data":{"file":"foo-1.0-py3-none-any.whl"}}
//! ```
//!
//! Every command ends with exactly one **result** line, also on failure:
//!
//! ```json
//! {"schema":"windlass/1","type":"result","command":"wheel build","ok":true,"exit_code":0,"data":{"wheel":"dist/foo-1.0-py3-none-any.whl"},"error":null,"warnings":[]}
//! {"schema":"windlass/1","type":"result","command":"wheel publish","ok":false,"exit_code":3,"data":null,"error":{"message":"cannot upload `foo-1.0-py3-none-any.whl`","causes":["connection refused"],"hint":"check that the registry is running"},"warnings":[]}
//! ```
//!
//! - `ok` is `true` exactly when `exit_code` is `0`.
//! - `exit_code` is the process exit code (see [`ExitStatus`](crate::ExitStatus)).
//! - `data` is the command's own result (documented per command), or `null`
//!   when the command failed with an error or has no data. A check that ran
//!   and failed has `ok: false`, `exit_code: 1`, its report in `data` and
//!   `error: null`.
//! - `error` is `null` or an object with `message` (string), `causes`
//!   (array of strings, outermost first) and `hint` (string or `null`);
//!   when the error points into a file (a configuration error), also
//!   `file` (string), `line` and `column` (1-based integers).
//! - `warnings` is an array of strings, the warnings the command issued.
//! - A command stopped by SIGINT or SIGTERM has `ok: false`,
//!   `exit_code: 130`, `error: {"message":"interrupted","causes":[],"hint":null}`
//!   and, when it can tell what it did before it stopped, that partial
//!   report in `data` (else `null`).
//!
//! A reader that wants one document reads the last line. Keys may be added
//! within `windlass/1`; readers must ignore keys they do not know. Every
//! string has passed through the redactor.
//!
//! On stderr, `--json` keeps the human error and warnings (for people reading
//! CI logs) and drops status lines and progress bars.
//!
//! A usage error (an unknown flag, a missing argument) is a result document
//! too: `exit_code` 2, `error.message` clap's first line, `error.hint` the
//! usage line, and `command` as far as it was recognised (`"wheel"`,
//! `"windlass"`); clap's own text stays on stderr (see [`parse_or_exit`](crate::parse_or_exit)).
//! `--help` and `--version` print plain text.
//!
//! `secrets exec --json` sends its child's stdout to stderr and prints its
//! result document after the child ended ([`Printer::report_with_code`](crate::Printer::report_with_code)):
//! the child's exit code, or the signal that killed it.
//!
//! The user documentation of this contract is `docs/json.md`.
//!
//! # The schema
//!
//! The published JSON Schema (2020-12) of every line is built by
//! [`document_schema`] from the serde types themselves (`schemars`): each
//! tool crate lists its commands, with the type of their `data` and their
//! events, as [`CommandSchema`]s, and the umbrella binary assembles them.
//! A line is exactly one of: the result document of a known command (its
//! `data` typed), an event document of a known command and event, or the
//! result document of a command not listed (usage errors before a command
//! was recognised), whose `data` is `null`.

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde::Serialize;
use serde_json::{Value, json};

/// The schema name and version of every document.
pub const SCHEMA: &str = "windlass/1";

/// The `error` object of a result document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// The outermost message.
    pub message: String,
    /// The causes, outermost first.
    pub causes: Vec<String>,
    /// What the user can do about it.
    pub hint: Option<String>,
    /// The file the error points into (a configuration error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The 1-based line in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub line: Option<usize>,
    /// The 1-based column in `line`, in characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub column: Option<usize>,
}

impl ErrorBody {
    /// The error of a command stopped by SIGINT or SIGTERM.
    pub fn interrupted() -> Self {
        Self {
            message: windlass_diagnostic::INTERRUPTED.to_owned(),
            causes: Vec::new(),
            hint: None,
            file: None,
            line: None,
            column: None,
        }
    }
}

impl From<&crate::Report> for ErrorBody {
    fn from(report: &crate::Report) -> Self {
        let location = report.location.as_ref();
        Self {
            message: report.message.clone(),
            causes: report.causes.clone(),
            hint: report.hint.clone(),
            file: location.map(|l| {
                windlass_redact::global()
                    .redact(&l.file.display().to_string())
                    .into_owned()
            }),
            line: location.map(|l| l.line),
            column: location.map(|l| l.column),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ResultDocument<'a, T: Serialize + ?Sized> {
    pub(crate) schema: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) command: &'a str,
    pub(crate) ok: bool,
    pub(crate) exit_code: u8,
    pub(crate) data: Option<&'a T>,
    pub(crate) error: Option<&'a ErrorBody>,
    pub(crate) warnings: &'a [String],
}

#[derive(Serialize)]
pub(crate) struct EventDocument<'a, T: Serialize + ?Sized> {
    pub(crate) schema: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) command: &'a str,
    pub(crate) event: &'a str,
    pub(crate) data: &'a T,
}

/// Builds the schema of a type in a shared generator (its definitions go to
/// the generator, the returned schema may be a `$ref`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn subschema<T: JsonSchema + ?Sized>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What one command prints with `--json`: the type of the `data` of its
/// result document and its events.
///
/// ```
/// use windlass_output::json::CommandSchema;
///
/// #[derive(serde::Serialize, schemars::JsonSchema)]
/// struct Built {
///     wheel: String,
/// }
///
/// #[derive(serde::Serialize, schemars::JsonSchema)]
/// struct Progress {
///     file: String,
/// }
///
/// let commands = [CommandSchema::new::<Built>("wheel build").event::<Progress>("written")];
/// let schema = windlass_output::json::document_schema(&commands);
/// assert_eq!(schema["title"], "windlass/1");
/// ```
#[derive(Debug, Clone)]
pub struct CommandSchema {
    command: &'static str,
    data: SchemaFn,
    events: Vec<EventSchema>,
}

/// One event a command streams: its name and the type of its `data`.
#[derive(Debug, Clone)]
pub struct EventSchema {
    event: &'static str,
    data: SchemaFn,
}

impl CommandSchema {
    /// `command` (as the printer names it, `"wheel build"`), whose result
    /// `data` is a `T` (or `null` when it failed). Use `()` for a command
    /// whose `data` is always `null`.
    pub fn new<T: JsonSchema + ?Sized>(command: &'static str) -> Self {
        Self {
            command,
            data: subschema::<T>,
            events: Vec::new(),
        }
    }

    /// Adds an event, whose `data` is a `T`.
    #[must_use]
    pub fn event<T: JsonSchema + ?Sized>(mut self, event: &'static str) -> Self {
        self.events.push(EventSchema {
            event,
            data: subschema::<T>,
        });
        self
    }

    pub fn command(&self) -> &'static str {
        self.command
    }

    /// The names of its events.
    pub fn events(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.events.iter().map(|e| e.event)
    }
}

/// The JSON Schema (2020-12) of one line of `--json` output, for the
/// `commands` given (see the module docs). Equal inputs give equal bytes.
pub fn document_schema(commands: &[CommandSchema]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let error = generator.subschema_for::<ErrorBody>();
    // The documents' own definitions, named after their command; a data
    // type of the same name (`CheckResult` for `check`) keeps its name and
    // the document becomes `...Document`.
    let mut documents: Vec<(String, Value)> = Vec::new();
    for command in commands {
        let name = pascal_case(command.command);
        let data = (command.data)(&mut generator);
        documents.push((
            format!("{name}Result"),
            json!({
                "description": format!("The result document of `{}`.", command.command),
                "allOf": [{ "$ref": "#/$defs/ResultDocument" }],
                "properties": {
                    "command": { "const": command.command },
                    "data": { "anyOf": [{ "type": "null" }, data] },
                },
            }),
        ));
        for event in &command.events {
            let data = (event.data)(&mut generator);
            documents.push((
                format!("{name}{}Event", pascal_case(event.event)),
                json!({
                    "description": format!("The `{}` event of `{}`.", event.event, command.command),
                    "allOf": [{ "$ref": "#/$defs/EventDocument" }],
                    "properties": {
                        "command": { "const": command.command },
                        "event": { "const": event.event },
                        "data": data,
                    },
                }),
            ));
        }
    }
    let types = generator.take_definitions(true);
    let mut branches = Vec::new();
    let mut defs = serde_json::Map::new();
    for (name, document) in documents {
        let name = if types.contains_key(&name) {
            format!("{name}Document")
        } else {
            name
        };
        branches.push(json!({ "$ref": format!("#/$defs/{name}") }));
        defs.insert(name, document);
    }
    let known: Vec<&str> = commands.iter().map(|c| c.command).collect();
    defs.insert(
        "OtherResult".to_owned(),
        json!({
            "description": "The result document of a command not listed above: a usage error before a command was recognised (`command` is then as much of it as was, e.g. `wheel`, or `windlass`), or an external tool that could not be run.",
            "allOf": [{ "$ref": "#/$defs/ResultDocument" }],
            "properties": {
                "command": { "not": { "enum": known } },
                "data": { "type": "null" },
            },
        }),
    );
    branches.push(json!({ "$ref": "#/$defs/OtherResult" }));
    defs.insert("ResultDocument".to_owned(), result_document(&error));
    defs.insert("EventDocument".to_owned(), event_document());
    for (key, mut value) in types {
        allow_added_keys(&mut value);
        defs.insert(key, value);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": SCHEMA,
        "description": "One line of Windlass `--json` output (JSON Lines on stdout). Keys may be added within `windlass/1`: readers ignore keys they do not know.",
        "oneOf": branches,
        "$defs": defs,
    })
}

/// The keys every result document has.
fn result_document(error: &Schema) -> Value {
    json!({
        "description": "The last line of every command: its result, or its error.",
        "type": "object",
        "required": ["schema", "type", "command", "ok", "exit_code", "data", "error", "warnings"],
        "properties": {
            "schema": { "const": SCHEMA },
            "type": { "const": "result" },
            "command": { "type": "string", "description": "The command, e.g. `wheel build`." },
            "ok": { "type": "boolean", "description": "`true` exactly when `exit_code` is 0." },
            "exit_code": {
                "type": "integer",
                "minimum": 0,
                "maximum": 255,
                "description": "The process exit code: 0 ok, 1 a check ran and failed, 2 usage or configuration error, 3 remote failure, 101 bug; more may come (`secrets exec` gives its child's).",
            },
            "data": { "description": "The command's own result, or `null`." },
            "error": { "anyOf": [{ "type": "null" }, error] },
            "warnings": { "type": "array", "items": { "type": "string" } },
        },
        "if": { "properties": { "ok": { "const": true } } },
        "then": { "properties": { "exit_code": { "const": 0 } } },
        "else": { "properties": { "exit_code": { "minimum": 1 } } },
    })
}

/// The keys every event document has.
fn event_document() -> Value {
    json!({
        "description": "A progress event, streamed before the result.",
        "type": "object",
        "required": ["schema", "type", "command", "event", "data"],
        "properties": {
            "schema": { "const": SCHEMA },
            "type": { "const": "event" },
            "command": { "type": "string" },
            "event": { "type": "string" },
            "data": {},
        },
    })
}

/// Drops `additionalProperties: false` (from `deny_unknown_fields` types,
/// which are strict when read as configuration): within `windlass/1`
/// documents may gain keys.
fn allow_added_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                map.remove("additionalProperties");
            }
            map.values_mut().for_each(allow_added_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(allow_added_keys),
        _ => {}
    }
}

/// `wheel publish` -> `WheelPublish`.
fn pascal_case(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}
