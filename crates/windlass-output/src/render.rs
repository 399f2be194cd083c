//! Human rendering of errors, warnings and status lines.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use windlass_redact::global;

use crate::ExitStatus;
use windlass_diagnostic::{Classifier, INTERRUPTED, SourceLocation};

const ERROR: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .bold();
const WARNING: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)))
    .bold();
const HINT: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)))
    .bold();
const STATUS: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)))
    .bold();

/// An error, redacted and classified, ready to render as text or JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The outermost message.
    pub message: String,
    /// The causes, outermost first (consecutive repeats removed).
    pub causes: Vec<String>,
    pub hint: Option<String>,
    pub status: ExitStatus,
    /// Where in a file the problem is, when an error of the chain knows
    /// ([`Diagnostic::location`](crate::Diagnostic::location)).
    pub location: Option<SourceLocation>,
}

impl Report {
    /// Redacts every message of the chain and classifies the error with
    /// `classifier` and this crate's own errors
    /// ([`GitHubError`](crate::github::GitHubError),
    /// [`LogError`](crate::LogError)).
    pub fn new(error: &anyhow::Error, classifier: &Classifier) -> Self {
        let mut messages = error
            .chain()
            .map(|e| global().redact(&e.to_string()).into_owned());
        let message = messages.next().unwrap_or_default();
        let mut causes: Vec<String> = Vec::new();
        for cause in messages {
            if causes.last().unwrap_or(&message) != &cause {
                causes.push(cause);
            }
        }
        let classification = classifier
            .clone()
            .with::<crate::github::GitHubError>()
            .with::<crate::logging::LogError>()
            .classify(error);
        Self {
            message,
            causes,
            hint: classification
                .hint
                .map(|h| global().redact(&h).into_owned()),
            status: classification.status,
            location: classification.location,
        }
    }

    /// The report of a command stopped by SIGINT or SIGTERM: the message
    /// `interrupted`, no cause, no hint.
    pub fn interrupted() -> Self {
        Self {
            message: INTERRUPTED.to_owned(),
            causes: Vec::new(),
            hint: None,
            status: ExitStatus::Interrupted,
            location: None,
        }
    }

    /// The error as the lines printed on stderr (an interrupted command's
    /// report is the one line `interrupted`). With `chain` (at `-v`) every
    /// cause gets its line; without, the error is [`Report::sentence`]:
    ///
    /// ```text
    /// error: <message>: <first>: <last cause>  error: <message>
    ///                                            caused by: <cause>
    /// hint: <hint>                               caused by: <cause>
    ///
    ///                                          hint: <hint>
    /// ```
    pub fn render(&self, color: bool, chain: bool) -> String {
        if self.status == ExitStatus::Interrupted {
            return render_interrupted(color);
        }
        let mut out = String::new();
        if chain {
            labelled(&mut out, "", "error", ERROR, &self.message, color);
            for cause in &self.causes {
                labelled(&mut out, "  ", "caused by", Style::new(), cause, color);
            }
        } else {
            labelled(&mut out, "", "error", ERROR, &self.sentence(), color);
        }
        if let Some(hint) = &self.hint {
            out.push('\n');
            labelled(&mut out, "", "hint", HINT, hint, color);
        }
        out
    }

    /// The error as one sentence: the message (what could not be done), the
    /// first cause (what went wrong) and the last (the root: the operating
    /// system's or the server's words): `cannot resolve X: cannot reach
    /// vault at URL: Connection refused (os error 111)`. The causes between
    /// (the transport's layers) are for `-v`.
    pub fn sentence(&self) -> String {
        let mut sentence = self.message.clone();
        let (Some(first), Some(last)) = (self.causes.first(), self.causes.last()) else {
            return sentence;
        };
        for part in [first, last] {
            if !sentence.ends_with(part.as_str()) {
                sentence.push_str(": ");
                sentence.push_str(part);
            }
        }
        sentence
    }

    /// The whole report as plain text on one logical message (for a GitHub
    /// annotation).
    pub(crate) fn plain(&self) -> String {
        let mut text = self.message.clone();
        for cause in &self.causes {
            let _ = write!(text, "\n  caused by: {cause}");
        }
        if let Some(hint) = &self.hint {
            let _ = write!(text, "\n\nhint: {hint}");
        }
        text
    }
}

/// The one line a command stopped by SIGINT or SIGTERM prints on stderr.
pub(crate) fn render_interrupted(color: bool) -> String {
    if color {
        format!("{ERROR}{INTERRUPTED}{ERROR:#}\n")
    } else {
        format!("{INTERRUPTED}\n")
    }
}

/// `warning: <message>`, redacted, with a final newline.
pub fn render_warning(message: &str, color: bool) -> String {
    let mut out = String::new();
    labelled(
        &mut out,
        "",
        "warning",
        WARNING,
        &global().redact(message),
        color,
    );
    out
}

/// A status line: the verb right-aligned in twelve columns, then the
/// message, cargo style (`   Uploading foo-1.0-py3-none-any.whl`).
pub fn render_status(verb: &str, message: &str, color: bool) -> String {
    let verb = global().redact(verb);
    let message = global().redact(message);
    if color {
        format!("{STATUS}{verb:>12}{STATUS:#} {message}\n")
    } else {
        format!("{verb:>12} {message}\n")
    }
}

/// `<indent><label>: <text>`, continuation lines aligned under the text.
fn labelled(out: &mut String, indent: &str, label: &str, style: Style, text: &str, color: bool) {
    let width = indent.len() + label.len() + 2;
    out.push_str(indent);
    if color {
        let _ = write!(out, "{style}{label}:{style:#}");
    } else {
        let _ = write!(out, "{label}:");
    }
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push(' ');
        } else {
            out.push('\n');
            if !line.is_empty() {
                out.extend(std::iter::repeat_n(' ', width));
            }
        }
        out.push_str(line);
    }
    out.push('\n');
}
