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
//!   (array of strings, outermost first) and `hint` (string or `null`).
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

use serde::Serialize;

/// The schema name and version of every document.
pub const SCHEMA: &str = "windlass/1";

/// The `error` object of a result document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

impl ErrorBody {
    /// The error of a command stopped by SIGINT or SIGTERM.
    pub fn interrupted() -> Self {
        Self {
            message: crate::render::INTERRUPTED.to_owned(),
            causes: Vec::new(),
            hint: None,
        }
    }
}

impl From<&crate::Report> for ErrorBody {
    fn from(report: &crate::Report) -> Self {
        Self {
            message: report.message.clone(),
            causes: report.causes.clone(),
            hint: report.hint.clone(),
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
