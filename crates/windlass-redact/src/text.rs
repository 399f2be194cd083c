//! Text from outside (archive member names, file names, metadata values)
//! made safe to print on a terminal or in a CI log.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character (C0, DEL, C1) and every Unicode
/// bidirectional control written as a Rust escape (`\n`, `\u{1b}`,
/// `\u{202e}`), so that a name can neither move the cursor, colour the
/// terminal, reorder what is shown, nor start a new log line (which GitHub
/// Actions would read as a `::workflow-command::`). Other text is borrowed
/// unchanged.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
